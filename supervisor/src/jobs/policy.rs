//! Pure decisions about jobs, tested as tables: what follows an attempt's exit, the
//! retry delay, whether the job is done, and how many attempts to start.

use super::spec::{FailureAction, JobSpec, RestartPolicy, Work};
use super::status::FailReason;
use std::collections::BTreeSet;
use std::time::Duration;

/// Kubernetes' retry delay: `base` after the first failure, doubling with each further
/// one, never more than `max`. `failures` counts the failure just seen (so ≥ 1).
pub fn backoff_delay(base: Duration, max: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(31);
    base.checked_mul(1u32 << doublings).unwrap_or(max).min(max)
}

/// The exit code failure-policy rules see: the code, or 128 + the signal number for an
/// attempt killed by a signal; `None` when unknown (a failed spawn).
pub fn effective_exit_code(code: Option<i32>, signal: Option<i32>) -> Option<i32> {
    code.or(signal.map(|s| 128 + s))
}

/// The counters a decision depends on, as they were before the exit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Counted failures of the job.
    pub failed: u32,
    /// Counted failures of the attempt's index (`Indexed` mode).
    pub index_failures: u32,
    /// Indexes failed for good.
    pub failed_indexes: u32,
}

/// What follows an attempt's exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterExit {
    /// It succeeded.
    Succeeded,
    /// Run the work again after `after`: in the same slot (`OnFailure`) or as a new
    /// attempt (`Never`). `counted`: the failure counts toward the backoff limit(s).
    Retry {
        /// The delay.
        after: Duration,
        /// Whether the failure is counted.
        counted: bool,
    },
    /// The index failed for good (counted); the other indexes go on.
    IndexFailed,
    /// The job fails (the failure is counted).
    FailJob(FailReason),
}

/// Decides what follows an exit (`code` 0 is a success; anything else a failure).
pub fn after_exit(spec: &JobSpec, code: Option<i32>, signal: Option<i32>, counts: Counts) -> AfterExit {
    if code == Some(0) {
        return AfterExit::Succeeded;
    }
    let effective = effective_exit_code(code, signal);
    let action = spec
        .failure_policy
        .iter()
        .flat_map(|p| &p.rules)
        .find(|rule| effective.is_some_and(|c| rule.exit_codes.matches(c)))
        .map_or(FailureAction::Count, |rule| rule.action);
    let index_failed = || match spec.max_failed_indexes {
        Some(max) if counts.failed_indexes + 1 > max => AfterExit::FailJob(FailReason::FailedIndexes),
        _ => AfterExit::IndexFailed,
    };
    match action {
        FailureAction::FailJob => AfterExit::FailJob(FailReason::PodFailurePolicy),
        FailureAction::FailIndex => index_failed(),
        FailureAction::Ignore => AfterExit::Retry { after: spec.backoff_base, counted: false },
        FailureAction::Count => match spec.backoff_limit_per_index {
            Some(limit) if counts.index_failures + 1 > limit => index_failed(),
            Some(_) => AfterExit::Retry {
                after: backoff_delay(spec.backoff_base, spec.backoff_max, counts.index_failures + 1),
                counted: true,
            },
            None if counts.failed + 1 > spec.backoff_limit => AfterExit::FailJob(FailReason::BackoffLimitExceeded),
            None => AfterExit::Retry {
                after: backoff_delay(spec.backoff_base, spec.backoff_max, counts.failed + 1),
                counted: true,
            },
        },
    }
}

/// Whether a retry runs in the same slot.
pub fn restarts_in_place(spec: &JobSpec) -> bool {
    spec.restart_policy == RestartPolicy::OnFailure
}

/// Progress a job has made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Successful attempts.
    pub succeeded: u32,
    /// `Indexed`: indexes that succeeded.
    pub completed: BTreeSet<u32>,
    /// `Indexed`: indexes failed for good.
    pub failed_indexes: BTreeSet<u32>,
    /// Attempts alive (running, being killed, restarting in place).
    pub active: u32,
}

/// How a job ends, once its work is done: `None` while it is not.
pub fn finished(work: Work, p: &Progress) -> Option<Result<(), FailReason>> {
    match work {
        Work::Completions(n) => (p.succeeded >= n).then_some(Ok(())),
        Work::WorkQueue => (p.succeeded > 0 && p.active == 0).then_some(Ok(())),
        Work::Indexed(n) => {
            let settled = p.completed.len() + p.failed_indexes.len();
            (settled >= n as usize && p.active == 0).then_some(if p.failed_indexes.is_empty() {
                Ok(())
            } else {
                Err(FailReason::FailedIndexes)
            })
        }
    }
}

/// What new attempts to start now: `Some(index)` per attempt in `Indexed` mode (lowest
/// pending indexes first), `None` per attempt otherwise. `busy` holds the indexes with an
/// attempt alive; `waiting` those whose retry delay has not passed.
pub fn to_start(
    work: Work,
    parallelism: u32,
    p: &Progress,
    busy: &BTreeSet<u32>,
    waiting: &BTreeSet<u32>,
) -> Vec<Option<u32>> {
    let free = parallelism.saturating_sub(p.active);
    match work {
        Work::Completions(n) => {
            let remaining = n.saturating_sub(p.succeeded).saturating_sub(p.active);
            vec![None; free.min(remaining) as usize]
        }
        Work::WorkQueue if p.succeeded > 0 => Vec::new(),
        Work::WorkQueue => vec![None; free as usize],
        Work::Indexed(n) => (0..n)
            .filter(|i| {
                !p.completed.contains(i) && !p.failed_indexes.contains(i) && !busy.contains(i) && !waiting.contains(i)
            })
            .take(free as usize)
            .map(Some)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::{CompletionMode, ExitCodeOperator, ExitCodesRule, FailurePolicy, FailurePolicyRule};
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn backoff_doubles_from_base_to_cap() {
        let table = [(1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 320), (7, 360), (50, 360)];
        for (failures, want) in table {
            assert_eq!(backoff_delay(S(10), S(360), failures), S(want), "after {failures} failures");
        }
        assert_eq!(backoff_delay(Duration::from_millis(100), S(1), 3), Duration::from_millis(400));
        assert_eq!(backoff_delay(Duration::from_millis(100), S(1), 0), Duration::from_millis(100));
    }

    fn rule(action: FailureAction, operator: ExitCodeOperator, values: &[i32]) -> FailurePolicyRule {
        FailurePolicyRule { action, exit_codes: ExitCodesRule { operator, values: values.to_vec() } }
    }

    type Row<'a> = (&'a str, &'a JobSpec, Option<i32>, Option<i32>, Counts, AfterExit);

    #[test]
    fn after_exit_table() {
        use AfterExit::*;
        use ExitCodeOperator::*;
        let plain = JobSpec::new("j", "true");
        let mut limit_two = plain.clone();
        limit_two.backoff_limit = 2;
        let mut per_index = plain.clone();
        per_index.completion_mode = CompletionMode::Indexed;
        per_index.completions = Some(3);
        per_index.backoff_limit_per_index = Some(1);
        per_index.backoff_limit = 0;
        let mut max_failed = per_index.clone();
        max_failed.max_failed_indexes = Some(1);
        let mut policy = plain.clone();
        policy.failure_policy = Some(FailurePolicy {
            rules: vec![
                rule(FailureAction::FailJob, In, &[42]),
                rule(FailureAction::Ignore, In, &[137, 3]),
                rule(FailureAction::Count, NotIn, &[5]),
            ],
        });
        let c = |failed, index_failures, failed_indexes| Counts { failed, index_failures, failed_indexes };
        let retry = |secs, counted| Retry { after: S(secs), counted };
        let table: Vec<Row> = vec![
            ("success", &plain, Some(0), None, c(5, 0, 0), Succeeded),
            ("first failure", &plain, Some(1), None, c(0, 0, 0), retry(10, true)),
            ("third failure", &plain, Some(1), None, c(2, 0, 0), retry(40, true)),
            ("limit 6: 7th fails", &plain, Some(1), None, c(6, 0, 0), FailJob(FailReason::BackoffLimitExceeded)),
            ("limit 2: 2nd retries", &limit_two, Some(1), None, c(1, 0, 0), retry(20, true)),
            ("limit 2: 3rd fails", &limit_two, None, Some(9), c(2, 0, 0), FailJob(FailReason::BackoffLimitExceeded)),
            ("spawn failure counts", &plain, None, None, c(0, 0, 0), retry(10, true)),
            ("per index: 1st retries", &per_index, Some(1), None, c(9, 0, 0), retry(10, true)),
            ("per index: 2nd fails the index", &per_index, Some(1), None, c(9, 1, 0), IndexFailed),
            ("max failed indexes 1: 1st ok", &max_failed, Some(1), None, c(0, 1, 0), IndexFailed),
            (
                "max failed indexes 1: 2nd fails",
                &max_failed,
                Some(1),
                None,
                c(0, 1, 1),
                FailJob(FailReason::FailedIndexes),
            ),
            ("FailJob rule", &policy, Some(42), None, c(0, 0, 0), FailJob(FailReason::PodFailurePolicy)),
            ("Ignore rule on a signal (128+9)", &policy, None, Some(9), c(6, 0, 0), retry(10, false)),
            ("Ignore rule on a code", &policy, Some(3), None, c(6, 0, 0), retry(10, false)),
            ("Count rule", &policy, Some(4), None, c(0, 0, 0), retry(10, true)),
            ("no rule matches: counted", &policy, Some(5), None, c(6, 0, 0), FailJob(FailReason::BackoffLimitExceeded)),
        ];
        for (what, spec, code, signal, counts, want) in table {
            assert_eq!(after_exit(spec, code, signal, counts), want, "{what}");
        }
    }

    fn progress(succeeded: u32, completed: &[u32], failed: &[u32], active: u32) -> Progress {
        Progress {
            succeeded,
            completed: completed.iter().copied().collect(),
            failed_indexes: failed.iter().copied().collect(),
            active,
        }
    }

    #[test]
    fn finished_table() {
        let table = [
            (Work::Completions(3), progress(2, &[], &[], 1), None),
            (Work::Completions(3), progress(3, &[], &[], 0), Some(Ok(()))),
            (Work::WorkQueue, progress(0, &[], &[], 2), None),
            (Work::WorkQueue, progress(1, &[], &[], 1), None),
            (Work::WorkQueue, progress(1, &[], &[], 0), Some(Ok(()))),
            (Work::Indexed(3), progress(2, &[0, 2], &[], 1), None),
            (Work::Indexed(3), progress(3, &[0, 1, 2], &[], 0), Some(Ok(()))),
            (Work::Indexed(3), progress(2, &[0, 2], &[1], 0), Some(Err(FailReason::FailedIndexes))),
            (Work::Indexed(3), progress(1, &[0], &[1], 1), None),
        ];
        for (work, p, want) in table {
            assert_eq!(finished(work, &p), want, "{work:?} {p:?}");
        }
    }

    type StartRow = (Work, u32, Progress, BTreeSet<u32>, BTreeSet<u32>, Vec<Option<u32>>);

    #[test]
    fn to_start_table() {
        let set = |v: &[u32]| v.iter().copied().collect::<BTreeSet<u32>>();
        let table: Vec<StartRow> = vec![
            (Work::Completions(1), 1, progress(0, &[], &[], 0), set(&[]), set(&[]), vec![None]),
            (Work::Completions(5), 3, progress(0, &[], &[], 0), set(&[]), set(&[]), vec![None; 3]),
            (Work::Completions(5), 3, progress(3, &[], &[], 1), set(&[]), set(&[]), vec![None]),
            (Work::Completions(5), 3, progress(4, &[], &[], 1), set(&[]), set(&[]), vec![]),
            (Work::WorkQueue, 3, progress(0, &[], &[], 1), set(&[]), set(&[]), vec![None; 2]),
            (Work::WorkQueue, 3, progress(1, &[], &[], 1), set(&[]), set(&[]), vec![]),
            (Work::Indexed(5), 2, progress(0, &[], &[], 0), set(&[]), set(&[]), vec![Some(0), Some(1)]),
            (Work::Indexed(5), 3, progress(1, &[0], &[2], 1), set(&[1]), set(&[]), vec![Some(3), Some(4)]),
            (Work::Indexed(5), 3, progress(1, &[0], &[], 1), set(&[1]), set(&[2]), vec![Some(3), Some(4)]),
            (Work::Indexed(2), 2, progress(2, &[0, 1], &[], 0), set(&[]), set(&[]), vec![]),
        ];
        for (work, parallelism, p, busy, waiting, want) in table {
            assert_eq!(to_start(work, parallelism, &p, &busy, &waiting), want, "{work:?} ×{parallelism} {p:?}");
        }
    }
}
