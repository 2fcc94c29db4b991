//! CronJob operations: create, get (with the next fire times and live jobs), list, delete,
//! suspend, resume, trigger, history. Cronjobs defined in the config file are read-only
//! through the API (409 on create-over and delete) but may be suspended, resumed and
//! triggered, as configured processes may be stopped and started.

use super::jobs::persisted;
use super::OpError;
use crate::auth::{Permission, Principal};
use crate::state::AppState;
use crate::store::cronjobs::{self, FiringQuery, StoredFiring};
use crate::store::Page;
use chrono::{DateTime, Utc};
use serde::Serialize;
use supervisor::cron::{CronJobSpec, CronJobStatus};
use supervisor::jobs::{CronOptions, JobStatus};

/// The most fire times `get` computes.
pub const MAX_NEXT: usize = 100;

/// A cronjob as `GET /cronjobs/{name}` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct CronJobDetail {
    /// The spec.
    pub spec: CronJobSpec,
    /// The status.
    pub status: CronJobStatus,
    /// Its live jobs, oldest first.
    pub jobs: Vec<JobStatus>,
    /// The next fire times (while suspended: what the schedule would give).
    pub next_fire_times: Vec<DateTime<Utc>>,
}

fn cron_error(e: supervisor::Error) -> OpError {
    match e {
        supervisor::Error::NotFound(name) => OpError::NotFound(format!("no cronjob named {name:?}")),
        supervisor::Error::AlreadyExists(name) => OpError::Conflict(format!("cronjob {name:?} already exists")),
        other => other.into(),
    }
}

/// Adds a cronjob through the API; answers once it is persisted. 409 if one of that name
/// exists (configured ones included), 400 with the key for an invalid schedule or time zone.
pub async fn create(st: &AppState, who: &Principal, spec: CronJobSpec) -> Result<CronJobStatus, OpError> {
    who.require(Permission::Operate)?;
    let status = st.jobs.add_cronjob(spec, CronOptions::default()).await.map_err(cron_error)?;
    persisted(st).await?;
    Ok(status)
}

/// A cronjob with its spec, live jobs and next `next` fire times (at most [`MAX_NEXT`]).
pub async fn get(st: &AppState, who: &Principal, name: &str, next: usize) -> Result<CronJobDetail, OpError> {
    who.require(Permission::Read)?;
    let view = st.jobs.get_cronjob(name).await.map_err(cron_error)?;
    let next_fire_times = st.jobs.next_fire_times(name, next.min(MAX_NEXT)).await.map_err(cron_error)?;
    Ok(CronJobDetail { spec: view.spec, status: view.status, jobs: view.jobs, next_fire_times })
}

/// Every cronjob, by name.
pub async fn list(st: &AppState, who: &Principal) -> Result<Vec<CronJobStatus>, OpError> {
    who.require(Permission::Read)?;
    st.jobs.list_cronjobs().await.map_err(cron_error)
}

async fn writable(st: &AppState, name: &str) -> Result<(), OpError> {
    let view = st.jobs.get_cronjob(name).await.map_err(cron_error)?;
    if view.status.from_config {
        return Err(OpError::Conflict(format!(
            "cronjob {name:?} is defined in the config file and is read-only through the API; edit the config file instead"
        )));
    }
    Ok(())
}

/// Removes a cronjob (its jobs stay, each with its TTL; its history stays).
pub async fn delete(st: &AppState, who: &Principal, name: &str) -> Result<(), OpError> {
    who.require(Permission::Operate)?;
    writable(st, name).await?;
    let seq = st.jobs.delete_cronjob(name).await.map_err(cron_error)?;
    st.recorder.wait_persisted(seq).await?;
    Ok(())
}

/// Suspends scheduling.
pub async fn suspend(st: &AppState, who: &Principal, name: &str) -> Result<CronJobStatus, OpError> {
    who.require(Permission::Operate)?;
    let status = st.jobs.suspend_cronjob(name).await.map_err(cron_error)?;
    persisted(st).await?;
    Ok(status)
}

/// Resumes scheduling.
pub async fn resume(st: &AppState, who: &Principal, name: &str) -> Result<CronJobStatus, OpError> {
    who.require(Permission::Operate)?;
    let status = st.jobs.resume_cronjob(name).await.map_err(cron_error)?;
    persisted(st).await?;
    Ok(status)
}

/// Runs it now; returns the created job's name.
pub async fn trigger(st: &AppState, who: &Principal, name: &str) -> Result<String, OpError> {
    who.require(Permission::Operate)?;
    let job = st.jobs.trigger_cronjob(name).await.map_err(cron_error)?;
    persisted(st).await?;
    Ok(job)
}

/// Its firings (created or skipped, with the reason), newest first, paged. A deleted
/// cronjob's history still answers; a name never seen is 404.
pub async fn history(
    st: &AppState,
    who: &Principal,
    name: &str,
    before: Option<i64>,
    limit: u64,
) -> Result<Page<StoredFiring>, OpError> {
    who.require(Permission::Read)?;
    persisted(st).await?;
    let page = cronjobs::firings(&st.db, &FiringQuery { cronjob: Some(name), before, limit }).await?;
    if page.items.is_empty() && before.is_none() && st.jobs.get_cronjob(name).await.is_err() {
        return Err(OpError::NotFound(format!("no cronjob named {name:?}")));
    }
    Ok(page)
}
