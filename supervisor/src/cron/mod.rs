//! CronJobs: jobs created on a schedule (Kubernetes `batch/v1` CronJob semantics).
//!
//! [`CronJobSpec`] is what the configuration and the API give; [`Schedule`] parses its
//! `schedule` and `time_zone` (see `schedule.rs` for the accepted forms and the DST
//! rules). The scheduling itself runs in the jobs controller (`crate::jobs`), which owns
//! the jobs a cronjob creates: one timer per cronjob, armed for the next fire time.

mod schedule;

pub use schedule::Schedule;

use crate::hooks::{HookPhase, Lifecycle};
use crate::jobs::{JobSpec, JobStatus};
use crate::spec::validate_name;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The specification of a cronjob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronJobSpec {
    /// Unique name among cronjobs, `[A-Za-z0-9._-]`.
    pub name: String,
    /// When to run: 5 or 6 cron fields, a descriptor (`@daily`…) or `@every 30s`.
    pub schedule: String,
    /// The IANA time zone the schedule is read in (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// What to do when a run is due while an earlier one is still active.
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,
    /// No scheduled run while suspended (a manual trigger still runs).
    #[serde(default)]
    pub suspend: bool,
    /// Finished successful jobs kept in the live job list (default 3).
    #[serde(default = "three")]
    pub successful_jobs_history_limit: u32,
    /// Finished failed jobs kept in the live job list (default 1).
    #[serde(default = "one")]
    pub failed_jobs_history_limit: u32,
    /// A run more than this many seconds late is skipped (missed); also bounds the
    /// catch-up of runs missed while the daemon was down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<u64>,
    /// The job each run creates, named `<cronjob>-<unix time of the schedule>`.
    pub job_template: JobSpec,
    /// CronJob-level hooks, applied to every job it creates: merged with the
    /// template's by [`merge_lifecycle`] when the job is created.
    #[serde(default, skip_serializing_if = "Lifecycle::is_empty")]
    pub lifecycle: Lifecycle,
}

fn three() -> u32 {
    3
}

fn one() -> u32 {
    1
}

/// What a due run does while an earlier run of the same cronjob is still active.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConcurrencyPolicy {
    /// Run anyway, side by side.
    #[default]
    Allow,
    /// Skip the new run.
    Forbid,
    /// Delete (kill) the active run(s), then start the new one.
    Replace,
}

impl CronJobSpec {
    /// A cronjob running `template` on `schedule`, defaults for everything else.
    pub fn new(name: impl Into<String>, schedule: impl Into<String>, template: JobSpec) -> Self {
        Self {
            name: name.into(),
            schedule: schedule.into(),
            time_zone: None,
            concurrency_policy: ConcurrencyPolicy::Allow,
            suspend: false,
            successful_jobs_history_limit: 3,
            failed_jobs_history_limit: 1,
            starting_deadline_seconds: None,
            job_template: template,
            lifecycle: Lifecycle::default(),
        }
    }

    /// The spec of a job this cronjob creates, named `name`: the template with the
    /// cronjob's hooks merged in ([`merge_lifecycle`]).
    pub fn job_spec(&self, name: impl Into<String>) -> JobSpec {
        let mut spec = self.job_template.clone();
        spec.name = name.into();
        spec.lifecycle = merge_lifecycle(&self.lifecycle, &self.job_template.lifecycle);
        spec
    }

    /// Every problem with this spec, as `(key, message)` pairs; empty when valid.
    /// Problems of the template are reported under `job_template` as `"<field>: <message>"`.
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut errs = Vec::new();
        if let Err(e) = validate_name(&self.name) {
            errs.push(("name", e));
        } else if self.name.len() > 100 {
            errs.push(("name", "a cronjob name is at most 100 characters (job names get a suffix)".into()));
        }
        if let Err(e) = Schedule::parse(&self.schedule, None) {
            errs.push(("schedule", e));
        }
        if let Some(tz) = &self.time_zone {
            if let Err(e) = Schedule::parse("@daily", Some(tz)) {
                errs.push(("time_zone", e));
            }
        }
        let mut template = self.job_template.clone();
        template.name = "template".into();
        for (key, message) in template.validate() {
            errs.push(("job_template", format!("{key}: {message}")));
        }
        errs.extend(self.lifecycle.validate());
        errs
    }
}

/// The hooks of a job a cronjob creates: per phase, the cronjob's hooks first, in their
/// order, then the template's hooks whose names the cronjob does not use in that phase,
/// in their order. A template hook with the name of a cronjob hook of the same phase is
/// replaced by it (CronJob-level hooks take precedence); phases are independent.
pub fn merge_lifecycle(cronjob: &Lifecycle, template: &Lifecycle) -> Lifecycle {
    let mut merged = Lifecycle::default();
    for phase in HookPhase::ALL {
        let own = cronjob.phase(phase);
        let hooks: Vec<_> = own
            .iter()
            .chain(template.phase(phase).iter().filter(|t| own.iter().all(|c| c.name != t.name)))
            .cloned()
            .collect();
        *match phase {
            HookPhase::PreStart => &mut merged.pre_start,
            HookPhase::PostStart => &mut merged.post_start,
            HookPhase::PreStop => &mut merged.pre_stop,
            HookPhase::PostStop => &mut merged.post_stop,
        } = hooks;
    }
    merged
}

/// The status of a cronjob. Every cron event carries it whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronJobStatus {
    /// The cronjob's name.
    pub name: String,
    /// Whether scheduling is suspended.
    pub suspended: bool,
    /// The schedule time of the last run created (manual runs excluded).
    pub last_schedule_time: Option<DateTime<Utc>>,
    /// When a run last completed successfully.
    pub last_successful_time: Option<DateTime<Utc>>,
    /// The next fire time (`None` while suspended).
    pub next_schedule_time: Option<DateTime<Utc>>,
    /// The jobs of this cronjob not finished yet.
    pub active: Vec<String>,
    /// Whether it comes from the configuration.
    pub from_config: bool,
}

/// A cronjob with its spec, for `GET /cronjobs/{name}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronJobView {
    /// The spec.
    pub spec: CronJobSpec,
    /// The status.
    pub status: CronJobStatus,
    /// The live (not yet removed) jobs it created, oldest first.
    pub jobs: Vec<JobStatus>,
}

/// Something happened to a cronjob: what, and its status after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronEvent {
    /// What happened.
    pub change: CronChange,
    /// The cronjob's status after the change (`None` once removed).
    pub cronjob: Option<CronJobStatus>,
}

/// What happened to a cronjob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CronChange {
    /// It was added.
    Added {
        /// The spec.
        spec: Box<CronJobSpec>,
    },
    /// It was removed (its jobs stay, each with its own TTL and history).
    Removed,
    /// Scheduling was suspended.
    Suspended,
    /// Scheduling was resumed.
    Resumed,
    /// A schedule time came (or a manual trigger): a job was created, or the run skipped.
    Fired {
        /// The schedule time (the trigger time for a manual run).
        scheduled: DateTime<Utc>,
        /// When it was handled.
        actual: DateTime<Utc>,
        /// A manual trigger rather than the schedule.
        manual: bool,
        /// What came of it.
        outcome: FireOutcome,
    },
    /// A job of the cronjob finished (it left `active`, joined the history).
    JobFinished {
        /// The job.
        job: String,
        /// Whether it succeeded.
        succeeded: bool,
    },
    /// An active job of the cronjob was removed before it finished (deleted, replaced).
    JobRemoved {
        /// The job.
        job: String,
    },
    /// On registration, more than 100 schedule times had been missed (Kubernetes'
    /// "too many missed start times" warning); the latest within the deadline still runs.
    TooManyMissed {
        /// How many were counted (counting stops at 101).
        missed: u64,
        /// The schedule time after which they were counted.
        since: DateTime<Utc>,
    },
}

/// What came of a fire time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum FireOutcome {
    /// A job was created.
    Created {
        /// Its name.
        job: String,
        /// Jobs deleted first (`Replace`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        replaced: Vec<String>,
    },
    /// No job was created.
    Skipped {
        /// Why (`Forbid`, the starting deadline, an invalid job).
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reference_readme_example() {
        let json = r#"{"name":"daily-backup","schedule":"0 2 * * *","concurrency_policy":"Forbid",
            "successful_jobs_history_limit":3,"failed_jobs_history_limit":1,
            "job_template":{"name":"backup-job","command":"bash /scripts/backup.sh","parallelism":1,
            "completions":1,"backoff_limit":2,"restart_policy":"OnFailure","active_deadline_seconds":7200}}"#;
        let spec: CronJobSpec = serde_json::from_str(json).expect("spec");
        assert_eq!(spec.concurrency_policy, ConcurrencyPolicy::Forbid);
        assert!(spec.validate().is_empty(), "{:?}", spec.validate());
        let no_name: CronJobSpec =
            serde_json::from_str(r#"{"name":"c","schedule":"@every 30s","job_template":{"command":"true"}}"#)
                .expect("a template without a name");
        assert_eq!(no_name.successful_jobs_history_limit, 3);
        assert!(no_name.validate().is_empty());
    }

    #[test]
    fn validate_lists_every_problem() {
        let mut spec = CronJobSpec::new("bad name", "* * *", JobSpec::new("", ""));
        spec.time_zone = Some("Nowhere/City".into());
        let problems = spec.validate();
        let keys: Vec<_> = problems.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["name", "schedule", "time_zone", "job_template"], "{problems:?}");
        spec.time_zone = None;
        let keys: Vec<_> = spec.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["name", "schedule", "job_template"]);
    }

    #[test]
    fn cronjob_hooks_come_first_and_replace_same_named_template_hooks() {
        use crate::hooks::{FailureMode, Hook};
        let h = |name: &str, cmd: &str| Hook::new(name, cmd);
        let names = |hooks: &[Hook]| hooks.iter().map(|h| format!("{}={}", h.name, h.command)).collect::<Vec<_>>();
        // (cronjob pre_start, template pre_start, merged pre_start)
        let table: [(Vec<Hook>, Vec<Hook>, Vec<&str>); 5] = [
            (vec![], vec![], vec![]),
            (vec![h("a", "c")], vec![], vec!["a=c"]),
            (vec![], vec![h("a", "t")], vec!["a=t"]),
            (
                vec![h("b", "c"), h("a", "c")],
                vec![h("x", "t"), h("a", "t"), h("y", "t")],
                vec!["b=c", "a=c", "x=t", "y=t"],
            ),
            (vec![h("a", "c")], vec![h("a", "t")], vec!["a=c"]),
        ];
        for (cron, template, want) in table {
            let c = Lifecycle { pre_start: cron.clone(), ..Lifecycle::default() };
            let t = Lifecycle { pre_start: template.clone(), ..Lifecycle::default() };
            let merged = merge_lifecycle(&c, &t);
            assert_eq!(names(&merged.pre_start), want, "{cron:?} + {template:?}");
            assert!(merged.post_stop.is_empty());
        }
        // Phases are independent: a name used in another phase does not replace.
        let mut retry = h("a", "t2");
        retry.failure_mode = FailureMode::Retry;
        let c = Lifecycle { pre_start: vec![h("a", "c")], post_stop: vec![h("m", "c")], ..Lifecycle::default() };
        let t = Lifecycle { post_stop: vec![retry.clone()], pre_stop: vec![h("m", "t")], ..Lifecycle::default() };
        let merged = merge_lifecycle(&c, &t);
        assert_eq!(names(&merged.pre_start), ["a=c"]);
        assert_eq!(merged.post_stop, [h("m", "c"), retry]);
        assert_eq!(names(&merged.pre_stop), ["m=t"]);
        // The created job's spec carries the merge.
        let mut spec = CronJobSpec::new("c", "@daily", JobSpec { lifecycle: t, ..JobSpec::new("", "true") });
        spec.lifecycle = c;
        assert_eq!(spec.job_spec("c-1").lifecycle, merged);
        assert_eq!(spec.job_spec("c-1").name, "c-1");
    }
}
