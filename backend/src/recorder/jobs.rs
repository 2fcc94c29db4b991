//! How job and cronjob events become rows (`store::jobs`, `store::cronjobs`).
//!
//! The engine is the truth for which jobs are live; the store follows it by name (a live
//! name is unique on both sides). Nothing here may fail with `Conflict` or `NotFound` inside
//! the recorder's retry loop (a retry would fail the same way forever), so:
//!
//! * a created job gets a fresh store uid; a stale live row of the same name (one the
//!   engine no longer knows, e.g. left by a daemon that died) is marked removed first;
//! * a row that is missing where the engine says it should be (which would be a bug) is
//!   logged and skipped, never retried.

use crate::error::StoreError;
use crate::store::cronjobs::{self, FiringOutcome, NewCronJob, NewFiring};
use crate::store::jobs::{
    self as store, AttemptEnd, AttemptRef, AttemptState, JobRef, NewAttempt, NewJob, RemovalReason,
};
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use supervisor::cron::{CronChange, CronEvent, FireOutcome};
use supervisor::jobs::{Attempt, AttemptReason, JobChange, JobEvent, JobOrigin, JobStatus, RemoveReason};

/// How many firings of one cronjob are kept (older ones are pruned as new ones come).
pub const FIRINGS_KEPT: u64 = 1000;

/// A log excerpt read before the transaction (file reads stay out of it).
pub(crate) type Excerpt = Option<String>;

/// The store's form of an engine job status.
pub fn store_status(s: &JobStatus) -> store::JobStatus {
    let phase = match s.phase {
        supervisor::jobs::JobPhase::Pending => store::JobPhase::Pending,
        supervisor::jobs::JobPhase::Running => store::JobPhase::Running,
        supervisor::jobs::JobPhase::Suspended => store::JobPhase::Suspended,
        supervisor::jobs::JobPhase::Succeeded => store::JobPhase::Succeeded,
        supervisor::jobs::JobPhase::Failed => store::JobPhase::Failed,
    };
    let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    store::JobStatus {
        phase,
        active: count(s.active),
        succeeded: count(s.succeeded),
        failed: count(s.failed),
        completed_indexes: s.completed_indexes.clone(),
        failed_indexes: s.failed_indexes.clone().unwrap_or_default(),
        conditions: s
            .conditions
            .iter()
            .map(|c| store::JobCondition {
                kind: format!("{:?}", c.type_),
                status: c.status,
                reason: Some(c.reason.clone()),
                message: Some(c.message.clone()),
                last_transition_time: c.last_transition_time,
            })
            .collect(),
        start_time: s.start_time,
        completion_time: s.completion_time,
    }
}

/// The store's name of an attempt's end (`Succeeded`, `DeadlineExceeded`, …).
pub fn reason_name(r: AttemptReason) -> String {
    format!("{r:?}")
}

/// The engine's reason back from its stored name.
pub fn parse_reason(s: &str) -> Option<AttemptReason> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

/// The end of a file, at most `max` bytes, lossily decoded; `None` when absent or empty.
pub fn tail(path: &Path, max: u64) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    if len == 0 {
        return None;
    }
    f.seek(SeekFrom::Start(len.saturating_sub(max))).ok()?;
    let mut buf = Vec::with_capacity(usize::try_from(len.min(max)).unwrap_or(0));
    f.take(max).read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The last bytes of an attempt's stdout and stderr (8 KiB each), if any; for an attempt
/// that could not be spawned, why.
pub(crate) fn excerpt(log_dir: Option<&Path>, job: &str, attempt: &Attempt) -> Excerpt {
    if attempt.pid.is_none() {
        return attempt.message.clone();
    }
    let dir = log_dir?;
    let path = |stream| supervisor::jobs::attempt_log_path(dir, job, attempt.index, attempt.attempt, stream);
    let half = (store::LOG_EXCERPT_MAX_BYTES / 2 - 64) as u64;
    let out = tail(&path("stdout"), half);
    let err = tail(&path("stderr"), half);
    match (out, err) {
        (None, None) => None,
        (Some(o), None) => Some(o),
        (None, Some(e)) => Some(format!("--- stderr ---\n{e}")),
        (Some(o), Some(e)) => Some(format!("{o}\n--- stderr ---\n{e}")),
    }
}

/// Logs a `NotFound` and carries on; any other error is returned (and retried).
fn skip_missing<T>(what: &str, r: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound(m)) => {
            tracing::warn!(what, error = %m, "the recorder found no row to update; skipped");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Records one job event.
pub(crate) async fn job_event(
    db: &impl ConnectionTrait,
    name: &str,
    at: DateTime<Utc>,
    e: &JobEvent,
    excerpt: &Excerpt,
) -> Result<(), StoreError> {
    let live = JobRef::Live(name);
    match &e.change {
        JobChange::Created { spec } => {
            let Some(status) = &e.job else { return Ok(()) };
            // The engine has just made this name live: any live row of it is stale.
            store::remove(db, live, RemovalReason::Deleted, at).await?;
            let (origin, cronjob) = match &status.origin {
                JobOrigin::Api => (store::JobOrigin::Api, None),
                JobOrigin::Config => (store::JobOrigin::Config, None),
                JobOrigin::CronJob { cronjob, .. } => (store::JobOrigin::Cronjob, Some(cronjob.clone())),
            };
            let spec = serde_json::to_value(spec).map_err(|e| StoreError::Internal(e.to_string()))?;
            let new = NewJob {
                uid: store::new_uid(),
                name: name.to_string(),
                origin,
                cronjob,
                spec,
                status: store_status(status),
                created_at: at,
            };
            store::upsert(db, &new).await?;
            return Ok(());
        }
        JobChange::AttemptStarted { attempt } => {
            skip_missing("attempt start", store::insert_attempt(db, live, &new_attempt(attempt)).await)?;
        }
        JobChange::AttemptEnded { attempt } => {
            if attempt.pid.is_none() {
                // Spawning failed: there was no start to record.
                skip_missing("attempt start", store::insert_attempt(db, live, &new_attempt(attempt)).await)?;
            }
            let reason = attempt.reason.unwrap_or(AttemptReason::Failed);
            let end = AttemptEnd {
                state: if reason == AttemptReason::Succeeded { AttemptState::Succeeded } else { AttemptState::Failed },
                finished_at: attempt.finished_at.unwrap_or(at),
                exit_code: attempt.exit_code,
                signal: attempt.signal,
                reason: Some(reason_name(reason)),
                log_excerpt: excerpt.clone(),
            };
            let which = AttemptRef::Of {
                job: live,
                completion_index: attempt.index.map(|i| i32::try_from(i).unwrap_or(i32::MAX)),
                attempt: i32::try_from(attempt.attempt).unwrap_or(i32::MAX).saturating_add(1),
            };
            skip_missing("attempt end", store::finish_attempt(db, which, &end).await)?;
        }
        JobChange::Removed { reason } => {
            let reason = match reason {
                RemoveReason::Ttl => RemovalReason::Ttl,
                RemoveReason::HistoryLimit => RemovalReason::HistoryLimit,
                RemoveReason::Deleted | RemoveReason::Replaced => RemovalReason::Deleted,
            };
            store::remove(db, live, reason, at).await?;
            return Ok(());
        }
        // Hook runs are visible in the event stream; the row keeps the status only.
        JobChange::HookStarted { .. } | JobChange::HookFinished { .. } => {}
        JobChange::Killing { .. }
        | JobChange::Killed { .. }
        | JobChange::Suspended
        | JobChange::Resumed
        | JobChange::Finished { .. } => {}
    }
    if let Some(status) = &e.job {
        skip_missing("job status", store::update_status(db, live, &store_status(status)).await)?;
    }
    Ok(())
}

fn new_attempt(a: &Attempt) -> NewAttempt {
    NewAttempt {
        completion_index: a.index.map(|i| i32::try_from(i).unwrap_or(i32::MAX)),
        attempt: i32::try_from(a.attempt).unwrap_or(i32::MAX).saturating_add(1),
        pid: a.pid.map(i64::from),
        started_at: a.started_at,
    }
}

/// Records one cronjob event.
pub(crate) async fn cron_event(
    db: &impl ConnectionTrait,
    name: &str,
    at: DateTime<Utc>,
    e: &CronEvent,
) -> Result<(), StoreError> {
    match &e.change {
        CronChange::Added { spec } => {
            let from_config = e.cronjob.as_ref().is_some_and(|c| c.from_config);
            let new = NewCronJob {
                name: name.to_string(),
                origin: if from_config { store::JobOrigin::Config } else { store::JobOrigin::Api },
                spec: serde_json::to_value(spec).map_err(|e| StoreError::Internal(e.to_string()))?,
                suspended: spec.suspend,
            };
            cronjobs::upsert(db, &new).await?;
        }
        CronChange::Removed => {
            cronjobs::delete(db, name).await?;
        }
        CronChange::Suspended | CronChange::Resumed => {
            let suspended = matches!(e.change, CronChange::Suspended);
            skip_missing("cronjob suspension", cronjobs::set_suspended(db, name, suspended).await)?;
        }
        CronChange::Fired { scheduled, actual, manual, outcome } => {
            let (outcome, reason, job_name) = match outcome {
                FireOutcome::Created { job, replaced } => {
                    let reason = match (manual, replaced.is_empty()) {
                        (true, _) => Some("trigger".to_string()),
                        (false, false) => Some(format!("Replace: replaced {}", replaced.join(", "))),
                        (false, true) => None,
                    };
                    (FiringOutcome::Created, reason, Some(job.clone()))
                }
                FireOutcome::Skipped { reason } => (FiringOutcome::Skipped, Some(reason.clone()), None),
            };
            let job_uid = match &job_name {
                Some(j) => store::get(db, JobRef::Live(j)).await?.map(|row| row.uid),
                None => None,
            };
            let firing = NewFiring {
                cronjob: name.to_string(),
                scheduled_at: *scheduled,
                fired_at: (outcome == FiringOutcome::Created).then_some(*actual),
                manual: *manual,
                outcome,
                reason,
                job_uid,
                job_name,
            };
            if skip_missing("cron firing", cronjobs::record_firing(db, &firing).await)?.is_some() {
                cronjobs::prune_firings(db, name, FIRINGS_KEPT).await?;
            }
        }
        CronChange::JobFinished { succeeded: true, .. } => {
            let when = e.cronjob.as_ref().and_then(|c| c.last_successful_time).unwrap_or(at);
            skip_missing("cronjob last success", cronjobs::set_last_successful(db, name, when).await)?;
        }
        CronChange::TooManyMissed { missed, since } => {
            tracing::warn!(cronjob = name, missed, %since, "too many missed start times");
        }
        CronChange::JobFinished { .. } | CronChange::JobRemoved { .. } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_their_stored_names() {
        for r in [AttemptReason::Succeeded, AttemptReason::DeadlineExceeded, AttemptReason::Shutdown] {
            assert_eq!(parse_reason(&reason_name(r)), Some(r));
        }
        assert_eq!(parse_reason("NoSuchReason"), None);
    }

    #[test]
    fn attempt_logs_live_in_their_job_s_directory() {
        let p = |i, n| supervisor::jobs::attempt_log_path(Path::new("/l"), "j", i, n, "stdout");
        assert_eq!(p(None, 0), Path::new("/l/j/j-0.stdout.log"));
        assert_eq!(p(Some(3), 1), Path::new("/l/j/j-3-1.stdout.log"));
    }
}
