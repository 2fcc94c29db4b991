//! Jobs: run a command to completion, Kubernetes `batch/v1` Job semantics.
//!
//! [`Jobs::start`] spawns the jobs controller, its own actor task (separate from the
//! process supervisor), which also runs the cronjob scheduler (`crate::cron`): a
//! cronjob creates jobs, waits for them to finish and prunes their history, all in
//! the same task, so nothing needs a lock. It publishes on the [`EventBus`] shared with
//! the process supervisor ([`crate::SupervisorHandle::bus`]), so processes, jobs and
//! cronjobs form one numbered stream of events.
//!
//! * Attempts are real processes started with the process runner of `process/`
//!   (own process group, pidfd exit watch, group sweep on exit, stop signal then
//!   SIGKILL after `stop_timeout` when killed). No PID file: re-adopting a job's
//!   attempts after a daemon restart comes with persistence.
//! * Decisions are pure functions in [`policy`] (what follows an exit, the retry
//!   delay, whether the job is done, which indexes to start), tested as tables.
//! * Timers (retry delays, the active deadline, the TTL, kill grace periods, cron fire
//!   times) are entries of one `DelayQueue`; nothing polls. A cronjob's timer is armed
//!   for its next fire time.
//! * Every change is a [`JobEvent`] / [`crate::cron::CronEvent`] carrying the full status
//!   after it, and each attempt's record ([`Attempt`]: index, attempt number, pid, start,
//!   end, exit code or signal, reason).

mod controller;
mod handle;
pub mod policy;
pub mod spec;
pub mod status;

pub use controller::{Jobs, JobsConfig};
pub use handle::{CronOptions, JobsHandle, JobsSnapshot, RestoredJob};
pub use spec::{
    CompletionMode, ExitCodeOperator, ExitCodesRule, FailureAction, FailurePolicy, FailurePolicyRule, JobSpec,
    RestartPolicy, Work,
};
pub use status::{
    compress_indexes, parse_indexes, Attempt, AttemptReason, ConditionType, FailReason, JobCondition, JobOrigin,
    JobPhase, JobStatus,
};

#[allow(unused_imports)] // for the module docs
use crate::event::EventBus;
use crate::hooks::{HookPhase, HookResult, RunMode};
use serde::{Deserialize, Serialize};

/// Something happened to a job: what, and its status after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    /// What happened.
    pub change: JobChange,
    /// The job's status after the change (`None` once removed).
    pub job: Option<JobStatus>,
}

/// What happened to a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
// `Created` carries the whole spec; job events travel boxed (`EventKind::Job`).
#[allow(clippy::large_enum_variant)]
pub enum JobChange {
    /// It was created.
    Created {
        /// The spec.
        spec: JobSpec,
    },
    /// An attempt was spawned.
    AttemptStarted {
        /// Its record.
        attempt: Attempt,
    },
    /// An attempt ended (or could not be spawned); `attempt.reason` says how.
    AttemptEnded {
        /// Its record.
        attempt: Attempt,
    },
    /// An attempt's process group was sent the stop signal.
    Killing {
        /// The attempt's index.
        index: Option<u32>,
        /// Its pid.
        pid: u32,
        /// The signal's name.
        signal: String,
        /// Why.
        reason: AttemptReason,
    },
    /// The grace period passed: SIGKILL was sent to the attempt's process group.
    Killed {
        /// The attempt's index.
        index: Option<u32>,
        /// Its pid.
        pid: u32,
    },
    /// A lifecycle hook of an attempt was started.
    HookStarted {
        /// The attempt's index.
        index: Option<u32>,
        /// The attempt's number.
        attempt: u32,
        /// The phase.
        phase: HookPhase,
        /// The hook's name.
        hook: String,
        /// Blocking or async.
        run_mode: RunMode,
    },
    /// A lifecycle hook of an attempt ended.
    HookFinished {
        /// The attempt's index.
        index: Option<u32>,
        /// The attempt's number.
        attempt: u32,
        /// The phase.
        phase: HookPhase,
        /// The hook's name.
        hook: String,
        /// Blocking or async.
        run_mode: RunMode,
        /// How the (last) run ended.
        result: HookResult,
        /// How long it ran (both runs, for a retried hook).
        #[serde(with = "crate::duration")]
        duration: std::time::Duration,
        /// 1, or 2 when retried.
        attempts: u32,
        /// The end of its output (at most [`crate::hooks::OUTPUT_TAIL`] bytes).
        output: String,
    },
    /// The job was suspended (its attempts are being killed).
    Suspended,
    /// The job was resumed.
    Resumed,
    /// The job finished: `Complete` or `Failed` with a reason.
    Finished {
        /// The condition set.
        condition: JobCondition,
    },
    /// The job left the live list.
    Removed {
        /// Why.
        reason: RemoveReason,
    },
}

/// Why a job left the live list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoveReason {
    /// Deleted through the API.
    Deleted,
    /// `ttl_seconds_after_finished` passed.
    Ttl,
    /// Beyond its cronjob's successful/failed jobs history limit.
    HistoryLimit,
    /// Replaced by a newer run of its cronjob (`concurrency_policy = "Replace"`).
    Replaced,
}

/// Where an attempt's `stream` (`"stdout"` or `"stderr"`) is written, under the
/// controller's [`JobsConfig::log_dir`]: `<log_dir>/<job>/<job>[-<index>]-<attempt>.<stream>.log`.
pub fn attempt_log_path(
    log_dir: &std::path::Path,
    job: &str,
    index: Option<u32>,
    attempt: u32,
    stream: &str,
) -> std::path::PathBuf {
    let stem = match index {
        Some(i) => format!("{job}-{i}-{attempt}"),
        None => format!("{job}-{attempt}"),
    };
    log_dir.join(job).join(format!("{stem}.{stream}.log"))
}

/// After a daemon died without stopping its jobs (a crash, `kill -9`), an attempt it
/// recorded as running may still run, unmanaged. If the process `pid` is alive, leads its
/// own process group (attempts are spawned into one) and started within two seconds of
/// `started_at` (so it is that attempt, not a process that got the pid later), its whole
/// group is sent SIGKILL. Returns whether it was. Attempts are not re-adopted: a job
/// whose attempts were lost is closed as failed (`DaemonRestart`) by the caller.
pub fn kill_orphaned_attempt(pid: u32, started_at: chrono::DateTime<chrono::Utc>) -> bool {
    let Ok(stat) = crate::process::proc_stat(pid) else { return false };
    let leader = i64::from(stat.pgrp) == i64::from(pid);
    let same =
        crate::process::started_at(stat.start_time).is_some_and(|t| (t - started_at).num_milliseconds().abs() <= 2000);
    if !leader || !same || stat.state == 'Z' {
        return false;
    }
    match crate::process::signal_group(pid, nix::sys::signal::Signal::SIGKILL) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(pid, "killing an orphaned job attempt: {e}");
            false
        }
    }
}

/// A job with its spec and every attempt, for `GET /jobs/{name}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    /// The spec.
    pub spec: JobSpec,
    /// The status.
    pub status: JobStatus,
    /// Every attempt, in start order.
    pub attempts: Vec<Attempt>,
}
