//! CronJobs: list (with schedule and next runs), detail (spec, next fire times, run
//! history with each run's result), create, delete, suspend, resume, run now. Thin
//! adapters over `backend::ops::cronjobs`, which checks permissions.

use crate::error::AppError;
use crate::model::jobs::{CronJobInfo, FiringInfo, JobInfo};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// How many fire times the list shows per cronjob.
pub const LIST_NEXT: usize = 3;
/// How many fire times the detail page shows.
pub const DETAIL_NEXT: usize = 10;

/// One row of the CronJobs page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CronJobRow {
    /// The status.
    pub status: CronJobInfo,
    /// `schedule`.
    pub schedule: String,
    /// `time_zone` (UTC when unset).
    pub time_zone: Option<String>,
    /// `concurrency_policy`.
    pub concurrency_policy: String,
    /// The next fire times.
    pub next: Vec<DateTime<Utc>>,
}

/// What the cronjob detail page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CronJobDetailView {
    /// The row (status, schedule, next fire times).
    pub row: CronJobRow,
    /// The spec as JSON.
    pub spec: serde_json::Value,
    /// Its live jobs.
    pub jobs: Vec<JobInfo>,
}

#[cfg(feature = "ssr")]
fn row_of(d: &backend::ops::cronjobs::CronJobDetail) -> Result<CronJobRow, AppError> {
    use super::jobs::rewire;
    let policy: serde_json::Value = rewire(&d.spec.concurrency_policy)?;
    Ok(CronJobRow {
        status: rewire(&d.status)?,
        schedule: d.spec.schedule.clone(),
        time_zone: d.spec.time_zone.clone(),
        concurrency_policy: policy.as_str().unwrap_or_default().to_string(),
        next: d.next_fire_times.clone(),
    })
}

/// Every cronjob with its schedule and next fire times.
#[server(prefix = "/rpc", endpoint = "cronjobs/list")]
pub async fn list_cronjobs() -> Result<Vec<CronJobRow>, AppError> {
    use super::ssr::{principal, state};
    use backend::ops::cronjobs as ops;
    let (st, who) = (state()?, principal().await?);
    let mut rows = Vec::new();
    for c in ops::list(&st, &who).await? {
        match ops::get(&st, &who, &c.name, LIST_NEXT).await {
            Ok(d) => rows.push(row_of(&d)?),
            // Removed in between.
            Err(backend::OpError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(rows)
}

/// One cronjob: spec, status, next fire times, live jobs.
#[server(prefix = "/rpc", endpoint = "cronjobs/detail")]
pub async fn cronjob_detail(name: String) -> Result<CronJobDetailView, AppError> {
    use super::jobs::rewire;
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let d = backend::ops::cronjobs::get(&st, &who, &name, DETAIL_NEXT).await?;
    Ok(CronJobDetailView {
        row: row_of(&d)?,
        spec: rewire(&d.spec)?,
        jobs: d.jobs.iter().map(rewire).collect::<Result<_, _>>()?,
    })
}

/// The newest firings of a cronjob (created or skipped, and why), each with its job's
/// result and run time when it created one.
#[server(prefix = "/rpc", endpoint = "cronjobs/history")]
pub async fn cronjob_history(name: String, limit: Option<u64>) -> Result<Vec<FiringInfo>, AppError> {
    use super::ssr::{principal, state};
    use backend::store::jobs::{self as store, JobRef};
    let (st, who) = (state()?, principal().await?);
    let page = backend::ops::cronjobs::history(&st, &who, &name, None, limit.unwrap_or(50).clamp(1, 200)).await?;
    let mut out = Vec::with_capacity(page.items.len());
    for f in page.items {
        // Read permission was checked by `history` above.
        let job = match f.job_id {
            Some(id) => store::get(&st.db, JobRef::Id(id)).await.map_err(backend::OpError::from)?,
            None => None,
        };
        let (job_phase, job_duration) = match &job {
            Some(j) => (
                Some(j.status.phase.as_str().to_string()),
                j.status.start_time.zip(j.status.completion_time).map(|(s, e)| (e - s).num_seconds()),
            ),
            None => (None, None),
        };
        out.push(FiringInfo {
            id: f.id,
            scheduled_at: f.scheduled_at,
            fired_at: f.fired_at,
            manual: f.manual,
            outcome: f.outcome.as_str().to_string(),
            reason: f.reason,
            job_name: f.job_name,
            job_phase,
            job_duration,
        });
    }
    Ok(out)
}

/// The "Create cronjob" form (empty = the spec's default).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CronJobForm {
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `schedule`.
    #[serde(default)]
    pub schedule: String,
    /// `time_zone`.
    #[serde(default)]
    pub time_zone: String,
    /// `concurrency_policy`.
    #[serde(default)]
    pub concurrency_policy: String,
    /// `starting_deadline_seconds`.
    #[serde(default)]
    pub starting_deadline_seconds: String,
    /// `successful_jobs_history_limit`.
    #[serde(default)]
    pub successful_jobs_history_limit: String,
    /// `failed_jobs_history_limit`.
    #[serde(default)]
    pub failed_jobs_history_limit: String,
    /// `job_template.command`.
    #[serde(default)]
    pub command: String,
    /// `job_template.backoff_limit`.
    #[serde(default)]
    pub backoff_limit: String,
}

impl CronJobForm {
    /// The spec as JSON, or every problem by key (`job_template.*` for the template).
    pub fn to_json(&self) -> Result<serde_json::Value, Vec<(String, String)>> {
        use serde_json::{json, Map, Value};
        let mut obj = Map::new();
        let mut template = Map::new();
        let mut problems = Vec::new();
        let mut number = |key: &str, text: &str, into: &mut Map<String, Value>| {
            let text = text.trim();
            if text.is_empty() {
                return;
            }
            match text.parse::<u64>() {
                Ok(n) => {
                    into.insert(key.rsplit('.').next().unwrap_or(key).to_string(), json!(n));
                }
                Err(_) => problems.push((key.to_string(), format!("must be a whole number ≥ 0, not {text:?}"))),
            }
        };
        obj.insert("name".into(), json!(self.name.trim()));
        obj.insert("schedule".into(), json!(self.schedule.trim()));
        for (key, text) in [("time_zone", &self.time_zone), ("concurrency_policy", &self.concurrency_policy)] {
            if !text.trim().is_empty() {
                obj.insert(key.into(), json!(text.trim()));
            }
        }
        number("starting_deadline_seconds", &self.starting_deadline_seconds, &mut obj);
        number("successful_jobs_history_limit", &self.successful_jobs_history_limit, &mut obj);
        number("failed_jobs_history_limit", &self.failed_jobs_history_limit, &mut obj);
        template.insert("command".into(), json!(self.command.trim()));
        number("job_template.backoff_limit", &self.backoff_limit, &mut template);
        obj.insert("job_template".into(), Value::Object(template));
        if problems.is_empty() {
            Ok(Value::Object(obj))
        } else {
            Err(problems)
        }
    }
}

/// Creates a cronjob from the form; goes to its page.
#[server(prefix = "/rpc", endpoint = "cronjobs/create")]
pub async fn create_cronjob(cronjob: CronJobForm) -> Result<String, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let value = cronjob.to_json().map_err(AppError::Fields)?;
    let spec: supervisor::cron::CronJobSpec =
        serde_json::from_value(value).map_err(|e| AppError::Fields(vec![(String::new(), e.to_string())]))?;
    let problems = spec.validate();
    if !problems.is_empty() {
        return Err(AppError::Fields(problems.into_iter().map(|(k, m)| (k.to_string(), m)).collect()));
    }
    let name = spec.name.clone();
    backend::ops::cronjobs::create(&st, &who, spec).await?;
    leptos_axum::redirect(&format!("/cronjobs/{name}"));
    Ok(name)
}

/// Removes a cronjob (its jobs and history stay; a config-file cronjob is refused).
#[server(prefix = "/rpc", endpoint = "cronjobs/delete")]
pub async fn delete_cronjob(name: String) -> Result<(), AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    backend::ops::cronjobs::delete(&st, &who, &name).await?;
    leptos_axum::redirect("/cronjobs");
    Ok(())
}

/// Suspends scheduling.
#[server(prefix = "/rpc", endpoint = "cronjobs/suspend")]
pub async fn suspend_cronjob(name: String) -> Result<CronJobInfo, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    super::jobs::rewire(&backend::ops::cronjobs::suspend(&st, &who, &name).await?)
}

/// Resumes scheduling.
#[server(prefix = "/rpc", endpoint = "cronjobs/resume")]
pub async fn resume_cronjob(name: String) -> Result<CronJobInfo, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    super::jobs::rewire(&backend::ops::cronjobs::resume(&st, &who, &name).await?)
}

/// Runs it now (also for config-file and suspended cronjobs); returns the job's name.
#[server(prefix = "/rpc", endpoint = "cronjobs/trigger")]
pub async fn trigger_cronjob(name: String) -> Result<String, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    Ok(backend::ops::cronjobs::trigger(&st, &who, &name).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_to_spec_json() {
        let f = CronJobForm {
            name: "c".into(),
            schedule: "@every 1s".into(),
            concurrency_policy: "Forbid".into(),
            command: "true".into(),
            backoff_limit: "z".into(),
            ..CronJobForm::default()
        };
        let problems = f.to_json().expect_err("bad number");
        assert_eq!(problems[0].0, "job_template.backoff_limit");
        let v = CronJobForm { backoff_limit: "2".into(), ..f }.to_json().expect("valid");
        assert_eq!(
            v,
            serde_json::json!({"name":"c","schedule":"@every 1s","concurrency_policy":"Forbid",
                "job_template":{"command":"true","backoff_limit":2}})
        );
    }
}
