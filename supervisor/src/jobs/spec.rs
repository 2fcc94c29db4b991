//! What a job is: the serialisable [`JobSpec`] (Kubernetes `batch/v1` Job semantics,
//! snake_case field names as in the reference README).

use crate::hooks::Lifecycle;
use crate::spec::{validate_name, Env, StopSignal};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The specification of a job: run a command until enough runs succeeded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Unique name, `[A-Za-z0-9._-]` (in a cronjob's `job_template` it may be left
    /// out: created jobs are named `<cronjob>-<unix time of the schedule>`).
    #[serde(default)]
    pub name: String,
    /// A shell string (run through `/bin/sh -c` when it contains shell syntax).
    /// Exclusive with `args`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The argv to execute directly. Exclusive with `command`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Working directory (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_dir: Option<PathBuf>,
    /// Extra environment. Every attempt also gets `JOB_NAME` and, in `Indexed`
    /// mode, `JOB_COMPLETION_INDEX`.
    #[serde(default, skip_serializing_if = "Env::is_empty")]
    pub env: Env,
    /// How many attempts run at the same time at most (default 1).
    #[serde(default = "one")]
    pub parallelism: u32,
    /// How many successful attempts complete the job. Unset: 1, except with
    /// `parallelism > 1` in `NonIndexed` mode, which is work-queue mode (the job is
    /// done once any attempt succeeded and all have ended; no new attempt starts after
    /// the first success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completions: Option<u32>,
    /// `NonIndexed` (default) or `Indexed` (indexes `0..completions`, one success each).
    #[serde(default)]
    pub completion_mode: CompletionMode,
    /// `Never` (default: a failed attempt is replaced by a new one) or `OnFailure`
    /// (the same slot restarts in place). Either way every failure counts toward
    /// `backoff_limit`.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Failures (counted ones, see `failure_policy`) tolerated: the job fails once
    /// there are more (default 6). Not used when `backoff_limit_per_index` is set.
    #[serde(default = "default_backoff_limit")]
    pub backoff_limit: u32,
    /// Delay before the retry after the first failure (default 10s); it doubles with
    /// each further failure up to `backoff_max`.
    #[serde(default = "default_backoff_base", with = "crate::duration")]
    pub backoff_base: Duration,
    /// The longest retry delay (default 6m).
    #[serde(default = "default_backoff_max", with = "crate::duration")]
    pub backoff_max: Duration,
    /// `Indexed` only: failures tolerated per index; an index with more is failed,
    /// the others go on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit_per_index: Option<u32>,
    /// With `backoff_limit_per_index`: the job fails (reason `FailedIndexes`) as soon
    /// as more indexes than this have failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failed_indexes: Option<u32>,
    /// Rules on exit codes, checked in order, the first match deciding; a failure no
    /// rule matches is counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_policy: Option<FailurePolicy>,
    /// The job fails (reason `DeadlineExceeded`) this many seconds after it started
    /// (or was last resumed); running attempts are killed. Takes precedence over backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<u64>,
    /// A finished job leaves the live list this many seconds after it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<u64>,
    /// Created suspended: nothing runs until resumed.
    #[serde(default)]
    pub suspend: bool,
    /// Signal sent to an attempt's process group to kill it (deadline, suspend,
    /// delete, a failed job's other attempts); default `SIGTERM`.
    #[serde(default)]
    pub stop_signal: StopSignal,
    /// Grace period between `stop_signal` and SIGKILL (default 10s).
    #[serde(default = "default_stop_timeout", with = "crate::duration")]
    pub stop_timeout: Duration,
    /// Hooks run per attempt: `pre_start` before it is spawned (a failure fails the
    /// attempt unspawned, counted toward the backoff limit), `post_start` after the
    /// spawn (a failure kills the attempt, counted), `pre_stop` before it is killed
    /// (deadline, delete, suspend, replace, shutdown), `post_stop` after every spawned
    /// attempt ended (the job finishes once they are done). Hooks get the attempt's
    /// environment (`JOB_NAME`, `JOB_COMPLETION_INDEX`) and `PROVISR_PROCESS_NAME` (the
    /// attempt's name), `PROVISR_HOOK_NAME`, `PROVISR_HOOK_PHASE`.
    #[serde(default, skip_serializing_if = "Lifecycle::is_empty")]
    pub lifecycle: Lifecycle,
}

fn one() -> u32 {
    1
}

fn default_backoff_limit() -> u32 {
    6
}

fn default_backoff_base() -> Duration {
    Duration::from_secs(10)
}

fn default_backoff_max() -> Duration {
    Duration::from_secs(360)
}

fn default_stop_timeout() -> Duration {
    Duration::from_secs(10)
}

/// How completions are counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompletionMode {
    /// Any `completions` successes complete the job.
    #[default]
    NonIndexed,
    /// Each index `0..completions` must succeed once; attempts get `JOB_COMPLETION_INDEX`.
    Indexed,
}

/// What follows a failed attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartPolicy {
    /// A new attempt replaces the failed one (after the backoff delay).
    #[default]
    Never,
    /// The attempt restarts in place, in the same slot (after the backoff delay).
    OnFailure,
}

/// Kubernetes' `podFailurePolicy`, on exit codes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailurePolicy {
    /// Checked in order; the first that matches decides.
    pub rules: Vec<FailurePolicyRule>,
}

/// One failure-policy rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailurePolicyRule {
    /// What to do when it matches.
    pub action: FailureAction,
    /// Which exit codes match. An attempt killed by signal N has exit code 128 + N
    /// (as a shell or a container runtime reports it).
    pub exit_codes: ExitCodesRule,
}

/// What a matching rule does with a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureAction {
    /// Fail the whole job at once (reason `PodFailurePolicy`), killing the other attempts.
    FailJob,
    /// Fail the attempt's index (needs `backoff_limit_per_index`).
    FailIndex,
    /// Not counted toward any backoff limit; retried after `backoff_base`.
    Ignore,
    /// Counted, as if no rule matched.
    Count,
}

/// A set of exit codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitCodesRule {
    /// `In` or `NotIn` the values.
    pub operator: ExitCodeOperator,
    /// The exit codes.
    pub values: Vec<i32>,
}

/// How [`ExitCodesRule::values`] are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitCodeOperator {
    /// The exit code is one of the values.
    In,
    /// The exit code is none of the values (0 never matches: it is no failure).
    NotIn,
}

impl ExitCodesRule {
    /// Whether a failed attempt's exit code matches.
    pub fn matches(&self, code: i32) -> bool {
        match self.operator {
            ExitCodeOperator::In => self.values.contains(&code),
            ExitCodeOperator::NotIn => code != 0 && !self.values.contains(&code),
        }
    }
}

/// The job's work: how many successes, counted how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// `n` successes of any attempts.
    Completions(u32),
    /// Done once any attempt succeeded and all ended.
    WorkQueue,
    /// Indexes `0..n`, each to succeed once.
    Indexed(u32),
}

impl JobSpec {
    /// A job running `command` once, with defaults for everything else.
    pub fn new(name: impl Into<String>, command: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            command: Some(command.into()),
            args: Vec::new(),
            work_dir: None,
            env: Env::default(),
            parallelism: 1,
            completions: None,
            completion_mode: CompletionMode::NonIndexed,
            restart_policy: RestartPolicy::Never,
            backoff_limit: default_backoff_limit(),
            backoff_base: default_backoff_base(),
            backoff_max: default_backoff_max(),
            backoff_limit_per_index: None,
            max_failed_indexes: None,
            failure_policy: None,
            active_deadline_seconds: None,
            ttl_seconds_after_finished: None,
            suspend: false,
            stop_signal: StopSignal::default(),
            stop_timeout: default_stop_timeout(),
            lifecycle: Lifecycle::default(),
        }
    }

    /// What completes the job (see [`JobSpec::completions`]).
    pub fn work(&self) -> Work {
        match (self.completion_mode, self.completions) {
            (CompletionMode::Indexed, n) => Work::Indexed(n.unwrap_or(1)),
            (CompletionMode::NonIndexed, Some(n)) => Work::Completions(n),
            (CompletionMode::NonIndexed, None) if self.parallelism > 1 => Work::WorkQueue,
            (CompletionMode::NonIndexed, None) => Work::Completions(1),
        }
    }

    /// Every problem with this spec, as `(key, message)` pairs; empty when valid.
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut errs = Vec::new();
        if let Err(e) = validate_name(&self.name) {
            errs.push(("name", e));
        }
        let has_command = self.command.as_deref().is_some_and(|c| !c.trim().is_empty());
        match (has_command, self.args.is_empty()) {
            (false, true) => errs.push(("command", "a command or args is required".to_string())),
            (true, false) => errs.push(("args", "command and args are mutually exclusive".to_string())),
            _ => {}
        }
        if self.args.first().is_some_and(|a| a.is_empty()) {
            errs.push(("args", "args[0] must not be empty".to_string()));
        }
        if let Some(dir) = &self.work_dir {
            if !dir.is_absolute() {
                errs.push(("work_dir", format!("must be an absolute path, got {}", dir.display())));
            } else if !dir.is_dir() {
                errs.push(("work_dir", format!("{} is not a directory", dir.display())));
            }
        }
        for key in self.env.0.keys() {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                errs.push(("env", format!("invalid variable name {key:?}")));
            }
        }
        if self.parallelism == 0 {
            errs.push(("parallelism", "must be at least 1".to_string()));
        }
        if self.completions == Some(0) {
            errs.push(("completions", "must be at least 1".to_string()));
        }
        if self.completion_mode == CompletionMode::Indexed && self.completions.is_none() {
            errs.push(("completions", "is required with completion_mode = \"Indexed\"".to_string()));
        }
        if self.completions.is_some_and(|n| n > 100_000) {
            errs.push(("completions", "must be at most 100000".to_string()));
        }
        if self.backoff_base.is_zero() {
            errs.push(("backoff_base", "must be greater than 0".to_string()));
        }
        if self.backoff_max < self.backoff_base {
            errs.push(("backoff_max", "must not be less than backoff_base".to_string()));
        }
        let per_index = self.backoff_limit_per_index.is_some();
        if per_index && self.completion_mode != CompletionMode::Indexed {
            errs.push(("backoff_limit_per_index", "requires completion_mode = \"Indexed\"".to_string()));
        }
        if self.max_failed_indexes.is_some() && !per_index {
            errs.push(("max_failed_indexes", "requires backoff_limit_per_index".to_string()));
        }
        if let Some(policy) = &self.failure_policy {
            for (i, rule) in policy.rules.iter().enumerate() {
                if rule.exit_codes.values.is_empty() {
                    errs.push(("failure_policy", format!("rules[{i}].exit_codes.values must not be empty")));
                }
                if rule.exit_codes.operator == ExitCodeOperator::In && rule.exit_codes.values.contains(&0) {
                    errs.push(("failure_policy", format!("rules[{i}]: exit code 0 is a success, not a failure")));
                }
                if rule.action == FailureAction::FailIndex && !per_index {
                    errs.push(("failure_policy", format!("rules[{i}]: FailIndex requires backoff_limit_per_index")));
                }
            }
        }
        if self.active_deadline_seconds == Some(0) {
            errs.push(("active_deadline_seconds", "must be at least 1".to_string()));
        }
        errs.extend(self.lifecycle.validate());
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reference_readme_example() {
        let toml = r#"{"name":"data-processor","command":"python process_data.py","parallelism":3,
            "completions":10,"backoff_limit":5,"completion_mode":"NonIndexed","restart_policy":"OnFailure",
            "active_deadline_seconds":3600,"ttl_seconds_after_finished":300}"#;
        let spec: JobSpec = serde_json::from_str(toml).expect("spec");
        assert_eq!(spec.work(), Work::Completions(10));
        assert_eq!(spec.restart_policy, RestartPolicy::OnFailure);
        assert_eq!(spec.backoff_base, Duration::from_secs(10));
        assert!(spec.validate().is_empty(), "{:?}", spec.validate());
        let back: JobSpec = serde_json::from_value(serde_json::to_value(&spec).expect("json")).expect("round trip");
        assert_eq!(back, spec);
    }

    #[test]
    fn work_follows_kubernetes_defaults() {
        let table = [
            (CompletionMode::NonIndexed, 1, None, Work::Completions(1)),
            (CompletionMode::NonIndexed, 3, None, Work::WorkQueue),
            (CompletionMode::NonIndexed, 3, Some(5), Work::Completions(5)),
            (CompletionMode::Indexed, 2, Some(4), Work::Indexed(4)),
        ];
        for (mode, parallelism, completions, want) in table {
            let mut s = JobSpec::new("j", "true");
            (s.completion_mode, s.parallelism, s.completions) = (mode, parallelism, completions);
            assert_eq!(s.work(), want, "{mode:?} {parallelism} {completions:?}");
        }
    }

    #[test]
    fn validate_lists_every_problem() {
        let mut s = JobSpec::new("bad name", "");
        s.parallelism = 0;
        s.backoff_limit_per_index = Some(1);
        s.max_failed_indexes = Some(1);
        s.failure_policy = Some(FailurePolicy {
            rules: vec![FailurePolicyRule {
                action: FailureAction::Ignore,
                exit_codes: ExitCodesRule { operator: ExitCodeOperator::In, values: vec![0] },
            }],
        });
        let keys: Vec<_> = s.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["name", "command", "parallelism", "backoff_limit_per_index", "failure_policy"]);
        let mut s = JobSpec::new("j", "true");
        s.completion_mode = CompletionMode::Indexed;
        assert_eq!(s.validate().into_iter().map(|(k, _)| k).collect::<Vec<_>>(), ["completions"]);
        let mut s = JobSpec::new("j", "true");
        s.lifecycle.pre_start = vec![crate::hooks::Hook::new("h", "true"), crate::hooks::Hook::new("h", "")];
        let problems = s.validate();
        let keys: Vec<_> = problems.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["lifecycle", "lifecycle"], "{problems:?}");
        assert!(problems[1].1.contains("pre_start[1]"), "{problems:?}");
    }

    #[test]
    fn failure_policy_parses_and_matches() {
        let rule: FailurePolicyRule =
            serde_json::from_str(r#"{"action":"FailJob","exit_codes":{"operator":"NotIn","values":[1,2]}}"#)
                .expect("rule");
        assert!(rule.exit_codes.matches(3));
        assert!(!rule.exit_codes.matches(1));
        assert!(!rule.exit_codes.matches(0));
        assert!(serde_json::from_str::<FailurePolicyRule>(
            r#"{"action":"Explode","exit_codes":{"operator":"In","values":[1]}}"#
        )
        .is_err());
    }
}
