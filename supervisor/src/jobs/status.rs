//! What a job looks like from outside: [`JobStatus`] (Kubernetes' Job status), its
//! [`Attempt`]s, and the compressed index lists (`"0,2-4"`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where a job comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum JobOrigin {
    /// Created through the API (or CLI, console).
    Api,
    /// Defined in the configuration.
    Config,
    /// Created by a cronjob.
    CronJob {
        /// The cronjob's name.
        cronjob: String,
        /// The schedule time it was created for (the trigger time for a manual run).
        scheduled: DateTime<Utc>,
        /// True for a manual run ("trigger").
        #[serde(default)]
        manual: bool,
    },
}

/// A job's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobPhase {
    /// Created, no attempt started yet.
    Pending,
    /// Attempts are running or due.
    Running,
    /// Suspended: nothing runs until resumed.
    Suspended,
    /// Finished with the `Complete` condition.
    Succeeded,
    /// Finished with the `Failed` condition.
    Failed,
}

impl JobPhase {
    /// True for `Succeeded` and `Failed`.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// A condition's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionType {
    /// The job succeeded.
    Complete,
    /// The job failed; the reason says why.
    Failed,
    /// The job is (`status: true`) or was (`false`) suspended.
    Suspended,
}

/// Why a job failed (the `reason` of its `Failed` condition).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailReason {
    /// More failures than `backoff_limit`.
    BackoffLimitExceeded,
    /// `active_deadline_seconds` passed.
    DeadlineExceeded,
    /// An index failed (`backoff_limit_per_index`), or more than `max_failed_indexes` did.
    FailedIndexes,
    /// A `FailJob` failure-policy rule matched.
    PodFailurePolicy,
}

/// A Kubernetes-style condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCondition {
    /// `Complete`, `Failed` or `Suspended`.
    #[serde(rename = "type")]
    pub type_: ConditionType,
    /// Whether the condition holds.
    pub status: bool,
    /// A CamelCase reason (`BackoffLimitExceeded`, `Completed`, `JobSuspended`, …).
    pub reason: String,
    /// For humans.
    pub message: String,
    /// When the condition last changed.
    pub last_transition_time: DateTime<Utc>,
}

/// The status of a job, as in Kubernetes. Every job event carries it whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    /// The job's name.
    pub name: String,
    /// Where it comes from.
    pub origin: JobOrigin,
    /// The phase.
    pub phase: JobPhase,
    /// Attempts alive now (running, being killed, or restarting in place).
    pub active: u32,
    /// Successful attempts.
    pub succeeded: u32,
    /// Failed attempts (ignored failures and attempts killed by the controller excluded).
    pub failed: u32,
    /// `Indexed`: the indexes that succeeded, compressed (`"0,2-4"`).
    pub completed_indexes: String,
    /// `Indexed` with `backoff_limit_per_index`: the indexes that failed for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_indexes: Option<String>,
    /// When the job started (was last resumed).
    pub start_time: Option<DateTime<Utc>>,
    /// When the job finished.
    pub completion_time: Option<DateTime<Utc>>,
    /// Conditions, in the order they were first set.
    pub conditions: Vec<JobCondition>,
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptReason {
    /// Exit code 0.
    Succeeded,
    /// It failed; counted toward the backoff limit(s).
    Failed,
    /// It failed; a failure-policy `Ignore` rule matched, so it is not counted.
    Ignored,
    /// It failed and a `FailIndex` rule or the per-index limit failed its index.
    IndexFailed,
    /// It failed and a `FailJob` rule matched.
    FailedJob,
    /// Its program could not be executed.
    SpawnFailed,
    /// A `pre_start` hook failed (it was not spawned) or a `post_start` hook failed
    /// (it was killed); counted toward the backoff limit(s). The message names the hook.
    HookFailed,
    /// Killed: `active_deadline_seconds` passed.
    DeadlineExceeded,
    /// Killed: the job was suspended.
    Suspended,
    /// Killed: the job was deleted (or replaced by its cronjob).
    Deleted,
    /// Killed: the job failed because of another attempt.
    JobFailed,
    /// Killed: the daemon is shutting down.
    Shutdown,
    /// The daemon stopped (or died) while it ran and it could not be re-adopted: closed
    /// by the next daemon from the database.
    DaemonRestart,
}

/// One run of the job's command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The completion index (`Indexed` mode).
    pub index: Option<u32>,
    /// 0 for the first attempt of this index (of the job, in `NonIndexed` mode), n for the n-th retry.
    pub attempt: u32,
    /// The pid (none when spawning failed).
    pub pid: Option<u32>,
    /// When it was spawned.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// The exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal number, when a signal killed it.
    pub signal: Option<i32>,
    /// How it ended (`None` while it runs).
    pub reason: Option<AttemptReason>,
    /// Details: the spawn error, the delay before the retry, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A set of indexes as Kubernetes writes it: ascending, consecutive runs as `a-b`,
/// separated by commas: `{0, 2, 3, 4}` → `"0,2-4"`.
pub fn compress_indexes(set: &BTreeSet<u32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        out.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
    }
    out.join(",")
}

/// Reads [`compress_indexes`]' output back.
pub fn parse_indexes(s: &str) -> Result<BTreeSet<u32>, String> {
    let mut set = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("invalid index list {s:?} at {part:?}");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad());
                }
                set.extend(a..=b);
            }
            None => {
                set.insert(part.parse().map_err(|_| bad())?);
            }
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_compress_like_kubernetes() {
        let table: &[(&[u32], &str)] = &[
            (&[], ""),
            (&[0], "0"),
            (&[0, 1], "0-1"),
            (&[0, 2, 3, 4], "0,2-4"),
            (&[1, 3, 5], "1,3,5"),
            (&[0, 1, 2, 7, 9, 10], "0-2,7,9-10"),
        ];
        for (set, want) in table {
            let set: BTreeSet<u32> = set.iter().copied().collect();
            assert_eq!(compress_indexes(&set), *want);
            assert_eq!(parse_indexes(want), Ok(set));
        }
        assert!(parse_indexes("3-1").is_err());
        assert!(parse_indexes("x").is_err());
    }
}
