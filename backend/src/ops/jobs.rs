//! Job operations: create, get, list, delete, suspend, resume, history, attempts, logs;
//! and [`restore`], which puts jobs and cronjobs back after a daemon restart.

use super::OpError;
use crate::auth::{Permission, Principal};
use crate::recorder::jobs::{parse_reason, tail};
use crate::state::AppState;
use crate::store::cronjobs;
use crate::store::jobs::{self as store, HistoryQuery, InFlight, JobRef, RemovalReason, StoredAttempt, StoredJob};
use crate::store::Page;
use chrono::Utc;
use sea_orm::DatabaseConnection;
use std::collections::BTreeSet;
use supervisor::cron::CronJobSpec;
use supervisor::jobs::{
    Attempt, ConditionType, CronOptions, JobCondition, JobOrigin, JobPhase, JobSpec, JobStatus, JobView, JobsHandle,
    RestoredJob,
};

/// The reason written on runs a restart closed (attempts and the jobs' `Failed` condition).
pub const DAEMON_RESTART: &str = "DaemonRestart";

/// The largest log tail served (bytes).
pub const MAX_LOG_TAIL: u64 = 1024 * 1024;

/// Maps an engine error about a job to the answer (`NotFound` and `AlreadyExists` name jobs).
pub(crate) fn job_error(e: supervisor::Error) -> OpError {
    match e {
        supervisor::Error::NotFound(name) => OpError::NotFound(format!("no job named {name:?}")),
        supervisor::Error::AlreadyExists(name) => OpError::Conflict(format!("job {name:?} already exists")),
        other => other.into(),
    }
}

/// Returns once every event published so far (by any actor) is committed: a job command
/// has published its events when its reply arrives, so this covers them.
pub(crate) async fn persisted(st: &AppState) -> Result<(), OpError> {
    st.recorder.wait_persisted(st.supervisor.bus().seq()).await?;
    Ok(())
}

/// Creates a job through the API and starts it; answers once its creation is persisted.
pub async fn create(st: &AppState, who: &Principal, spec: JobSpec) -> Result<JobStatus, OpError> {
    who.require(Permission::Operate)?;
    let status = st.jobs.create_job(spec, JobOrigin::Api).await.map_err(job_error)?;
    persisted(st).await?;
    Ok(status)
}

/// A live job with its spec and attempts.
pub async fn get(st: &AppState, who: &Principal, name: &str) -> Result<JobView, OpError> {
    who.require(Permission::Read)?;
    st.jobs.get_job(name).await.map_err(job_error)
}

/// Every live job, by name.
pub async fn list(st: &AppState, who: &Principal) -> Result<Vec<JobStatus>, OpError> {
    who.require(Permission::Read)?;
    st.jobs.list_jobs().await.map_err(job_error)
}

/// Kills the job's attempts and takes it off the live list (its history stays); answers
/// once the removal is persisted. Jobs defined in the main config file are read-only (409).
pub async fn delete(st: &AppState, who: &Principal, name: &str) -> Result<(), OpError> {
    who.require(Permission::Operate)?;
    let view = st.jobs.get_job(name).await.map_err(job_error)?;
    if view.status.origin == JobOrigin::Config {
        return Err(OpError::Conflict(format!(
            "job {name:?} is defined in the config file and cannot be deleted through the API; edit the config file instead"
        )));
    }
    let seq = st.jobs.delete_job(name).await.map_err(job_error)?;
    st.recorder.wait_persisted(seq).await?;
    Ok(())
}

/// Suspends a job (its running attempts are killed, uncounted).
pub async fn suspend(st: &AppState, who: &Principal, name: &str) -> Result<JobStatus, OpError> {
    who.require(Permission::Operate)?;
    let status = st.jobs.suspend_job(name).await.map_err(job_error)?;
    persisted(st).await?;
    Ok(status)
}

/// Resumes a suspended job.
pub async fn resume(st: &AppState, who: &Principal, name: &str) -> Result<JobStatus, OpError> {
    who.require(Permission::Operate)?;
    let status = st.jobs.resume_job(name).await.map_err(job_error)?;
    persisted(st).await?;
    Ok(status)
}

/// Every recorded incarnation of a job name (live or removed), newest first, paged. Like
/// every read of the store here, it first waits until every event published before the
/// request is persisted, so the history agrees with the live state the caller has seen.
pub async fn history(
    st: &AppState,
    who: &Principal,
    name: &str,
    before: Option<i64>,
    limit: u64,
) -> Result<Page<StoredJob>, OpError> {
    who.require(Permission::Read)?;
    persisted(st).await?;
    let page = store::history(&st.db, &HistoryQuery { name: Some(name), cronjob: None, before, limit }).await?;
    if page.items.is_empty() && before.is_none() {
        return Err(OpError::NotFound(format!("no job named {name:?} was ever recorded")));
    }
    Ok(page)
}

/// The recorded attempts (with their log excerpts) of a job: the live one, or else the
/// newest recorded job of the name.
pub async fn attempts(st: &AppState, who: &Principal, name: &str) -> Result<Vec<StoredAttempt>, OpError> {
    who.require(Permission::Read)?;
    persisted(st).await?;
    let id = match store::get(&st.db, JobRef::Live(name)).await? {
        Some(job) => job.id,
        None => {
            let page =
                store::history(&st.db, &HistoryQuery { name: Some(name), cronjob: None, before: None, limit: 1 })
                    .await?;
            page.items.first().map(|j| j.id).ok_or_else(|| OpError::NotFound(format!("no job named {name:?}")))?
        }
    };
    Ok(store::attempts(&st.db, JobRef::Id(id)).await?)
}

/// Which attempt's log to read.
#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    /// Completion index (`Indexed` jobs); default: the index of the latest attempt.
    pub index: Option<u32>,
    /// Attempt number (0 for the first); default: the latest of the index.
    pub attempt: Option<u32>,
    /// `stdout` (default) or `stderr`.
    pub stream: Option<String>,
    /// At most this many bytes from the end (default 64 KiB, at most [`MAX_LOG_TAIL`]).
    pub tail: Option<u64>,
}

/// The end of one attempt's log file of a live job.
pub async fn logs(st: &AppState, who: &Principal, name: &str, q: &LogQuery) -> Result<String, OpError> {
    who.require(Permission::Read)?;
    let stream = q.stream.as_deref().unwrap_or("stdout");
    if !matches!(stream, "stdout" | "stderr") {
        return Err(OpError::invalid("stream", "must be stdout or stderr"));
    }
    let view = st.jobs.get_job(name).await.map_err(job_error)?;
    let chosen = view
        .attempts
        .iter()
        .rev()
        .find(|a| q.index.is_none_or(|i| a.index == Some(i)) && q.attempt.is_none_or(|n| a.attempt == n))
        .ok_or_else(|| OpError::NotFound(format!("job {name:?} has no such attempt")))?;
    let Some(dir) = &st.job_log_dir else {
        return Ok(String::new());
    };
    let path = supervisor::jobs::attempt_log_path(dir, name, chosen.index, chosen.attempt, stream);
    let max = q.tail.unwrap_or(64 * 1024).clamp(1, MAX_LOG_TAIL);
    tokio::task::spawn_blocking(move || tail(&path, max).unwrap_or_default())
        .await
        .map_err(|e| OpError::Store(crate::StoreError::Internal(e.to_string())))
}

/// What [`restore`] did, for the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Attempts and jobs that were in flight and were closed (`DaemonRestart`).
    pub closed_attempts: usize,
    /// Jobs closed as failed.
    pub closed_jobs: usize,
    /// Attempts a crashed daemon left running that were killed.
    pub killed_orphans: usize,
    /// Live jobs put back (finished or suspended).
    pub jobs: usize,
    /// Cronjobs added (configured and API-created).
    pub cronjobs: usize,
}

/// After a (re)start: kills what a crashed daemon left running of its attempts (see
/// [`supervisor::jobs::kill_orphaned_attempt`]), closes the runs that were in flight when the previous daemon stopped
/// (attempts and jobs `Failed` with reason `DaemonRestart`: their processes died with
/// it, or were killed at its shutdown), puts the live jobs back on the live list
/// (finished ones until their TTL, suspended ones until resumed), adds the configured
/// cronjobs and the API-created ones from the store with their `last_schedule_time` (so
/// the most recent missed run is caught up within `starting_deadline_seconds`), and
/// creates the configured jobs that are not live already. Log directories of jobs that are
/// not live are deleted.
pub async fn restore(
    db: &DatabaseConnection,
    jobs: &JobsHandle,
    config_jobs: &[JobSpec],
    config_cronjobs: &[CronJobSpec],
    job_log_dir: Option<&std::path::Path>,
) -> Result<Restored, OpError> {
    let now = Utc::now();
    let mut report = Restored::default();
    // A daemon that died without stopping its jobs left their attempts running, unmanaged.
    for running in store::running_attempts(db).await? {
        let a = &running.attempt;
        let pid = a.pid.and_then(|p| u32::try_from(p).ok());
        if pid.is_some_and(|pid| supervisor::jobs::kill_orphaned_attempt(pid, a.started_at)) {
            tracing::warn!(job = %running.job_name, pid = a.pid, "killed an attempt left running by the previous daemon");
            report.killed_orphans += 1;
        }
    }
    let closed = store::close_in_flight(
        db,
        &InFlight { reason: DAEMON_RESTART, at: now, adopted_attempts: &[], resumed_jobs: &[] },
    )
    .await?;
    (report.closed_attempts, report.closed_jobs) = (closed.attempts.len(), closed.jobs.len());
    if !closed.jobs.is_empty() || !closed.attempts.is_empty() {
        tracing::warn!(
            jobs = closed.jobs.len(),
            attempts = closed.attempts.len(),
            "runs in flight when the daemon stopped were closed as failed ({DAEMON_RESTART})"
        );
    }

    // Cronjobs first, so that restored jobs join their cronjob's history.
    let configured: BTreeSet<&str> = config_cronjobs.iter().map(|c| c.name.as_str()).collect();
    let stored = cronjobs::list(db).await?;
    for spec in config_cronjobs {
        let last = stored.iter().find(|s| s.name == spec.name).map(|s| s.last_schedule_time.unwrap_or(s.created_at));
        let opts = CronOptions { from_config: true, last_schedule_time: last };
        jobs.add_cronjob(spec.clone(), opts)
            .await
            .map_err(|e| OpError::Invalid(vec![(format!("cronjobs.{}", spec.name), e.to_string())]))?;
        report.cronjobs += 1;
    }
    for s in stored {
        if configured.contains(s.name.as_str()) {
            continue;
        }
        if s.origin != store::JobOrigin::Api {
            tracing::info!(cronjob = %s.name, "no longer in the configuration: removed");
            cronjobs::delete(db, &s.name).await?;
            continue;
        }
        let mut spec: CronJobSpec = match serde_json::from_value(s.spec.clone()) {
            Ok(spec) => spec,
            Err(e) => {
                tracing::error!(cronjob = %s.name, error = %e, "a stored cronjob cannot be read; it is left in the store");
                continue;
            }
        };
        spec.suspend = s.suspended;
        let opts =
            CronOptions { from_config: false, last_schedule_time: Some(s.last_schedule_time.unwrap_or(s.created_at)) };
        match jobs.add_cronjob(spec, opts).await {
            Ok(_) => report.cronjobs += 1,
            Err(e) => tracing::error!(cronjob = %s.name, error = %e, "a stored cronjob could not be restored"),
        }
    }

    let configured_jobs: BTreeSet<&str> = config_jobs.iter().map(|j| j.name.as_str()).collect();
    let mut live_names = BTreeSet::new();
    for row in store::list_live(db).await? {
        if matches!(row.origin, store::JobOrigin::Config | store::JobOrigin::ProgramsDir)
            && !configured_jobs.contains(row.name.as_str())
        {
            store::remove(db, JobRef::Id(row.id), RemovalReason::Deleted, now).await?;
            continue;
        }
        let name = row.name.clone();
        match restored_job(db, row).await {
            Ok(job) => match jobs.restore_job(job).await {
                Ok(_) => {
                    report.jobs += 1;
                    live_names.insert(name);
                }
                Err(e) => tracing::error!(job = %name, error = %e, "a stored job could not be restored"),
            },
            Err(e) => tracing::error!(job = %name, error = %e, "a stored job cannot be read; it stays in the history"),
        }
    }
    for spec in config_jobs {
        if live_names.contains(&spec.name) {
            continue;
        }
        jobs.create_job(spec.clone(), JobOrigin::Config)
            .await
            .map_err(|e| OpError::Invalid(vec![(format!("jobs.{}", spec.name), e.to_string())]))?;
    }
    if let Some(dir) = job_log_dir {
        // The previous daemon's removed jobs may have left their log directories.
        let live: BTreeSet<String> = jobs.list_jobs().await.map_err(job_error)?.into_iter().map(|j| j.name).collect();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_dir() && !live.contains(&name) {
                    if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                        tracing::warn!(dir = %entry.path().display(), "removing the logs of a job that is gone: {e}");
                    }
                }
            }
        }
    }
    Ok(report)
}

/// A stored live job in the engine's terms.
async fn restored_job(db: &DatabaseConnection, row: StoredJob) -> Result<RestoredJob, OpError> {
    let spec: JobSpec = serde_json::from_value(row.spec.clone())
        .map_err(|e| OpError::Store(crate::StoreError::Internal(format!("stored spec: {e}"))))?;
    let attempts = store::attempts(db, JobRef::Id(row.id)).await?;
    let s = &row.status;
    let phase = match s.phase {
        store::JobPhase::Pending => JobPhase::Pending,
        store::JobPhase::Running => JobPhase::Running,
        store::JobPhase::Suspended => JobPhase::Suspended,
        store::JobPhase::Succeeded => JobPhase::Succeeded,
        store::JobPhase::Failed => JobPhase::Failed,
    };
    let origin = match row.origin {
        store::JobOrigin::Api => JobOrigin::Api,
        store::JobOrigin::Config | store::JobOrigin::ProgramsDir => JobOrigin::Config,
        store::JobOrigin::Cronjob => JobOrigin::CronJob {
            cronjob: row.cronjob.clone().unwrap_or_default(),
            scheduled: row.created_at,
            manual: row.name.contains("-manual-"),
        },
    };
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    let conditions = s
        .conditions
        .iter()
        .filter_map(|c| {
            let type_ = match c.kind.as_str() {
                "Complete" => ConditionType::Complete,
                "Failed" => ConditionType::Failed,
                "Suspended" => ConditionType::Suspended,
                _ => return None,
            };
            Some(JobCondition {
                type_,
                status: c.status,
                reason: c.reason.clone().unwrap_or_default(),
                message: c.message.clone().unwrap_or_default(),
                last_transition_time: c.last_transition_time,
            })
        })
        .collect();
    let status = JobStatus {
        name: row.name.clone(),
        origin,
        phase,
        active: 0,
        succeeded: count(s.succeeded),
        failed: count(s.failed),
        completed_indexes: s.completed_indexes.clone(),
        failed_indexes: (!s.failed_indexes.is_empty() || spec.backoff_limit_per_index.is_some())
            .then(|| s.failed_indexes.clone()),
        start_time: s.start_time,
        completion_time: s.completion_time,
        conditions,
    };
    let attempts = attempts
        .into_iter()
        .map(|a| {
            let reason = a.reason.as_deref().and_then(parse_reason);
            let reason = match (a.reason.as_deref(), reason) {
                (_, Some(r)) => Some(r),
                (Some(DAEMON_RESTART), None) => Some(supervisor::jobs::AttemptReason::DaemonRestart),
                (_, None) => a.finished_at.map(|_| supervisor::jobs::AttemptReason::Failed),
            };
            Attempt {
                index: a.completion_index.and_then(|i| u32::try_from(i).ok()),
                attempt: u32::try_from(a.attempt.saturating_sub(1)).unwrap_or(0),
                pid: a.pid.and_then(|p| u32::try_from(p).ok()),
                started_at: a.started_at,
                finished_at: a.finished_at,
                exit_code: a.exit_code,
                signal: a.signal,
                reason,
                message: None,
            }
        })
        .collect();
    Ok(RestoredJob { spec, status, attempts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::jobs::reason_name;

    #[test]
    fn the_restart_reason_is_an_engine_reason_name() {
        assert_eq!(reason_name(supervisor::jobs::AttemptReason::DaemonRestart), DAEMON_RESTART);
    }
}
