//! Jobs and cronjobs on the wire: the JSON shapes of `supervisor::jobs::JobStatus`,
//! `Attempt` and `supervisor::cron::CronJobStatus` (as the API and the live socket send
//! them), mirrored with serde only so they compile to WASM, and the views the Jobs and
//! CronJobs pages show. Unknown fields are ignored, so the engine may add some.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where a job comes from (`supervisor::jobs::JobOrigin`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum JobOrigin {
    /// Created through the API or the console.
    Api,
    /// Defined in the configuration: read-only here.
    Config,
    /// Created by a cronjob.
    CronJob {
        /// The cronjob.
        cronjob: String,
        /// The schedule time it was created for.
        scheduled: DateTime<Utc>,
        /// A manual run ("Run now").
        #[serde(default)]
        manual: bool,
    },
}

/// A Kubernetes-style condition of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCondition {
    /// `Complete`, `Failed` or `Suspended`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Whether it holds.
    pub status: bool,
    /// CamelCase reason (`BackoffLimitExceeded`, …).
    #[serde(default)]
    pub reason: String,
    /// For humans.
    #[serde(default)]
    pub message: String,
    /// When it last changed.
    pub last_transition_time: DateTime<Utc>,
}

/// A job's status (`supervisor::jobs::JobStatus`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInfo {
    /// Name.
    pub name: String,
    /// Where it comes from.
    pub origin: JobOrigin,
    /// `Pending` | `Running` | `Suspended` | `Succeeded` | `Failed`.
    pub phase: String,
    /// Attempts alive now.
    pub active: u32,
    /// Successful attempts.
    pub succeeded: u32,
    /// Counted failed attempts.
    pub failed: u32,
    /// `Indexed`: the indexes that succeeded (`"0,2-4"`).
    #[serde(default)]
    pub completed_indexes: String,
    /// The indexes that failed for good (per-index backoff).
    #[serde(default)]
    pub failed_indexes: Option<String>,
    /// When it started (was last resumed).
    pub start_time: Option<DateTime<Utc>>,
    /// When it finished.
    pub completion_time: Option<DateTime<Utc>>,
    /// Conditions in the order they were first set.
    #[serde(default)]
    pub conditions: Vec<JobCondition>,
}

impl JobInfo {
    /// Whether it has finished (`Succeeded` or `Failed`).
    pub fn finished(&self) -> bool {
        matches!(self.phase.as_str(), "Succeeded" | "Failed")
    }

    /// The reason of the newest condition that holds (`BackoffLimitExceeded`,
    /// `Completed`, `JobSuspended`, …).
    pub fn reason(&self) -> Option<&str> {
        self.conditions.iter().rev().find(|c| c.status && !c.reason.is_empty()).map(|c| c.reason.as_str())
    }

    /// Defined in the config file: no delete here.
    pub fn read_only(&self) -> bool {
        self.origin == JobOrigin::Config
    }

    /// How long it ran (until now while it runs).
    pub fn duration(&self, now: DateTime<Utc>) -> Option<i64> {
        let start = self.start_time?;
        Some((self.completion_time.unwrap_or(now) - start).num_seconds())
    }
}

/// One run of a job's command (`supervisor::jobs::Attempt`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptInfo {
    /// Completion index (`Indexed` mode).
    pub index: Option<u32>,
    /// 0 for the first attempt (of the index).
    pub attempt: u32,
    /// Its pid.
    pub pid: Option<u32>,
    /// Spawned at.
    pub started_at: DateTime<Utc>,
    /// Ended at.
    pub finished_at: Option<DateTime<Utc>>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Terminating signal.
    pub signal: Option<i32>,
    /// How it ended (`Succeeded`, `Failed`, `DeadlineExceeded`, …); `None` while it runs.
    pub reason: Option<String>,
    /// Details (spawn error, …).
    #[serde(default)]
    pub message: Option<String>,
}

impl AttemptInfo {
    /// `exit 1`, `signal 15`, or empty while running.
    pub fn outcome(&self) -> String {
        match (self.exit_code, self.signal) {
            (_, Some(s)) => format!("signal {s}"),
            (Some(c), None) => format!("exit {c}"),
            (None, None) => String::new(),
        }
    }
}

/// A cronjob's status (`supervisor::cron::CronJobStatus`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronJobInfo {
    /// Name.
    pub name: String,
    /// Scheduling suspended.
    pub suspended: bool,
    /// The schedule time of the last scheduled run.
    pub last_schedule_time: Option<DateTime<Utc>>,
    /// When a run last succeeded.
    pub last_successful_time: Option<DateTime<Utc>>,
    /// The next fire time (`None` while suspended).
    pub next_schedule_time: Option<DateTime<Utc>>,
    /// Its jobs not finished yet.
    #[serde(default)]
    pub active: Vec<String>,
    /// Defined in the configuration: no delete here.
    #[serde(default)]
    pub from_config: bool,
}

/// Why a config-file job or cronjob has no "Delete".
pub const JOB_READ_ONLY_REASON: &str = "Defined in the config file — read-only (edit the config file instead)";

/// State of one completion index of an `Indexed` job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexState {
    /// Not started yet.
    Pending,
    /// An attempt runs.
    Running,
    /// Failed once at least, to be retried.
    Retrying,
    /// Succeeded.
    Succeeded,
    /// Failed for good.
    Failed,
}

impl IndexState {
    /// Lower-case word (CSS class and label).
    pub fn word(self) -> &'static str {
        match self {
            IndexState::Pending => "pending",
            IndexState::Running => "running",
            IndexState::Retrying => "retrying",
            IndexState::Succeeded => "succeeded",
            IndexState::Failed => "failed",
        }
    }
}

/// Reads a compressed index list (`"0,2-4"`); malformed parts are skipped.
pub fn parse_indexes(s: &str) -> BTreeSet<u32> {
    let mut set = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    if a <= b && b - a <= 100_000 {
                        set.extend(a..=b);
                    }
                }
            }
            None => {
                if let Ok(i) = part.parse() {
                    set.insert(i);
                }
            }
        }
    }
    set
}

/// The state of each index `0..completions` of an `Indexed` job.
pub fn index_states(status: &JobInfo, attempts: &[AttemptInfo], completions: u32) -> Vec<IndexState> {
    let done = parse_indexes(&status.completed_indexes);
    let failed = parse_indexes(status.failed_indexes.as_deref().unwrap_or(""));
    (0..completions)
        .map(|i| {
            if done.contains(&i) {
                return IndexState::Succeeded;
            }
            if failed.contains(&i) {
                return IndexState::Failed;
            }
            let mine = attempts.iter().filter(|a| a.index == Some(i));
            let (mut running, mut tried) = (false, false);
            for a in mine {
                tried = true;
                running |= a.finished_at.is_none();
            }
            match (running, tried) {
                (true, _) => IndexState::Running,
                (false, true) if status.phase == "Failed" => IndexState::Failed,
                (false, true) => IndexState::Retrying,
                (false, false) => IndexState::Pending,
            }
        })
        .collect()
}

/// One firing of a cronjob as its detail page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiringInfo {
    /// Row id.
    pub id: i64,
    /// The schedule time (trigger time for a manual run).
    pub scheduled_at: DateTime<Utc>,
    /// When it was handled.
    pub fired_at: Option<DateTime<Utc>>,
    /// "Run now".
    pub manual: bool,
    /// `created` | `skipped`.
    pub outcome: String,
    /// Why it was skipped.
    pub reason: Option<String>,
    /// The job created.
    pub job_name: Option<String>,
    /// That job's phase, when known.
    pub job_phase: Option<String>,
    /// That job's run time in seconds, once it finished.
    pub job_duration: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(phase: &str, completed: &str, failed: Option<&str>) -> JobInfo {
        JobInfo {
            name: "j".into(),
            origin: JobOrigin::Api,
            phase: phase.into(),
            active: 0,
            succeeded: 0,
            failed: 0,
            completed_indexes: completed.into(),
            failed_indexes: failed.map(Into::into),
            start_time: None,
            completion_time: None,
            conditions: vec![],
        }
    }

    fn attempt(index: u32, running: bool) -> AttemptInfo {
        AttemptInfo {
            index: Some(index),
            attempt: 0,
            pid: Some(1),
            started_at: Utc::now(),
            finished_at: (!running).then(Utc::now),
            exit_code: (!running).then_some(1),
            signal: None,
            reason: (!running).then(|| "Failed".into()),
            message: None,
        }
    }

    #[test]
    fn reads_the_engine_json() {
        let v = json!({"name":"c-1","origin":{"source":"cron_job","cronjob":"c","scheduled":"2026-01-01T00:00:00Z","manual":true},
            "phase":"Failed","active":0,"succeeded":0,"failed":2,"completed_indexes":"","start_time":null,"completion_time":null,
            "conditions":[{"type":"Failed","status":true,"reason":"BackoffLimitExceeded","message":"m","last_transition_time":"2026-01-01T00:00:01Z"}]});
        let j: JobInfo = serde_json::from_value(v).expect("job");
        assert_eq!(j.reason(), Some("BackoffLimitExceeded"));
        assert!(matches!(j.origin, JobOrigin::CronJob { manual: true, .. }));
        let c: CronJobInfo = serde_json::from_value(json!({"name":"c","suspended":false,"last_schedule_time":null,
            "last_successful_time":null,"next_schedule_time":"2026-01-01T00:00:00Z","active":[],"from_config":true}))
        .expect("cron");
        assert!(c.from_config);
    }

    /// `(phase, completed indexes, failed indexes, attempts as (index, running), want)`.
    type GridCase<'a> = (&'a str, &'a str, Option<&'a str>, &'a [(u32, bool)], &'a [IndexState]);

    #[test]
    fn index_grid_states() {
        let cases: &[GridCase] = &[
            ("Running", "0", None, &[(1, true)], &[IndexState::Succeeded, IndexState::Running, IndexState::Pending]),
            ("Running", "", None, &[(0, false)], &[IndexState::Retrying, IndexState::Pending, IndexState::Pending]),
            ("Failed", "1", Some("2"), &[(0, false)], &[IndexState::Failed, IndexState::Succeeded, IndexState::Failed]),
            ("Succeeded", "0-2", None, &[], &[IndexState::Succeeded; 3]),
        ];
        for (phase, done, failed, attempts, want) in cases {
            let s = status(phase, done, *failed);
            let a: Vec<AttemptInfo> = attempts.iter().map(|(i, r)| attempt(*i, *r)).collect();
            assert_eq!(index_states(&s, &a, 3), *want, "{phase} {done} {failed:?}");
        }
        assert_eq!(parse_indexes("0,2-4, x,9-7"), [0, 2, 3, 4].into_iter().collect());
    }
}
