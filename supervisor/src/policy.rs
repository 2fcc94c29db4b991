//! What to do when a process ends: pure decisions, no effects.
//!
//! The actor gathers the facts (the spec, the operator's wish, whether the stop was
//! asked for, how the process ended and how long it ran, how many unexpected exits came
//! shortly before) and applies the [`Decision`] these functions return: it sets timers,
//! spawns and emits events. Keeping the decision free of clocks, processes, channels and
//! randomness (the jitter is an input) is what lets it be tested as a table.
//!
//! ## Restart policy
//!
//! * The policy in force is [`ProcessSpec::effective_restart_policy`]: `restart_policy`
//!   when given; otherwise `auto_restart = true` means `always` and `false` means `never`.
//! * `on-failure` restarts after an exit code not in `expected_exit_codes`, after a kill
//!   by a signal, and after an exit whose status is unknown (a re-adopted process).
//! * Every unexpected exit that the policy would restart counts as a *failure*. The
//!   actor counts failures within the last `retry_window`. The n-th failure in the
//!   window is restarted after `restart_interval × 2^(n-1)`, at most
//!   `restart_backoff_max`, less up to 10% jitter (so instances that crashed together
//!   do not restart in lockstep); once more than `retry_count` failures fall in the window,
//!   the instance gives up (`fatal`) with a reason that says so. A process that crashes
//!   less often than that is always restarted, and after a quiet window its backoff is
//!   back to `restart_interval`.
//! * A process that exits before `start_duration` has *failed to start*; it counts like
//!   any failure and the reason says so.

use crate::event::Decision;
use crate::spec::{ProcessSpec, RestartPolicy};
use crate::state::Desired;
use std::time::Duration;

/// The facts of one exit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExitFacts {
    /// The operator's wish at the time.
    pub desired: Desired,
    /// The exit was asked for (stop, shutdown, unregister, update).
    pub requested: bool,
    /// Exit code, when known.
    pub code: Option<i32>,
    /// Terminating signal, when killed.
    pub signal: Option<i32>,
    /// How long the process ran.
    pub uptime: Duration,
    /// Automatic restarts so far (since the last explicit start).
    pub restarts: u32,
    /// Failures within `retry_window` *before* this exit.
    pub recent_failures: u32,
    /// A number in `[0, 1]`: how much of the 10% jitter to take off the delay.
    pub jitter: f64,
}

/// The decision after a process of `spec` exited:
///
/// * a requested exit → [`Decision::Stop`];
/// * wished stopped, or the policy does not restart this exit → [`Decision::NoRestart`];
/// * more than `retry_count` failures within `retry_window` → [`Decision::GiveUp`];
/// * otherwise → [`Decision::Restart`] after the backoff, as attempt `restarts + 1`.
pub(crate) fn on_exit(spec: &ProcessSpec, f: &ExitFacts) -> Decision {
    if f.requested {
        return Decision::Stop;
    }
    if f.desired != Desired::Running || !restarts_after(spec, f.code, f.signal) {
        return Decision::NoRestart;
    }
    let failures = f.recent_failures.saturating_add(1);
    if failures > spec.retry_count {
        let mut reason = format!(
            "exited {failures} times within {}: last {}",
            crate::duration::format(spec.retry_window),
            describe_exit(f.code, f.signal)
        );
        if failed_start(spec, false, f.uptime) {
            reason.push_str(&format!(
                " after {}, before its start_duration of {} (failed to start)",
                crate::duration::format(round_ms(f.uptime)),
                crate::duration::format(spec.start_duration)
            ));
        }
        return Decision::GiveUp { reason };
    }
    Decision::Restart { after: backoff(spec, failures, f.jitter), attempt: f.restarts.saturating_add(1) }
}

/// Whether the spec's policy restarts after an exit with this status.
pub(crate) fn restarts_after(spec: &ProcessSpec, code: Option<i32>, signal: Option<i32>) -> bool {
    match spec.effective_restart_policy() {
        RestartPolicy::Always => true,
        RestartPolicy::Never => false,
        RestartPolicy::OnFailure => match (code, signal) {
            (_, Some(_)) => true,
            (Some(code), None) => !spec.expected_exit_codes.contains(&code),
            (None, None) => true,
        },
    }
}

/// The delay before the restart that follows the `failures`-th failure in the window.
pub(crate) fn backoff(spec: &ProcessSpec, failures: u32, jitter: f64) -> Duration {
    let base = spec.restart_interval;
    let exp = failures.saturating_sub(1).min(32);
    let full = base.checked_mul(1u32 << exp.min(31)).unwrap_or(Duration::MAX).min(spec.restart_backoff_max.max(base));
    full.saturating_sub(full.mul_f64(0.1 * jitter.clamp(0.0, 1.0)))
}

/// "exit code 1", "signal 9", "unknown exit status".
fn describe_exit(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (_, Some(s)) => format!("killed by signal {s}"),
        (Some(c), None) => format!("exit code {c}"),
        (None, None) => "exit status unknown (re-adopted process)".to_string(),
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis().min(u128::from(u64::MAX)) as u64)
}

/// The decision after a process could not be spawned: give up until started again.
/// (A missing program or work_dir does not fix itself by retrying.)
pub(crate) fn on_spawn_failure(error: &str) -> Decision {
    Decision::GiveUp { reason: format!("spawn failed: {error}") }
}

/// True when an exit that was not asked for came before `start_duration`: the process
/// failed to start rather than stopped running. (With `start_duration` 0 every start
/// succeeds at once.)
pub(crate) fn failed_start(spec: &ProcessSpec, stop_requested: bool, uptime: Duration) -> bool {
    !stop_requested && !spec.start_duration.is_zero() && uptime < spec.start_duration
}

/// Whether replacing spec `old` by `new` requires restarting the running processes:
/// true when anything differs but the fields that only steer supervision (instance
/// count, order, restart policy, timings, stop signal, hooks, `detached`), which take
/// effect without a restart. Fields this function does not know about count as
/// requiring a restart.
pub(crate) fn needs_restart(old: &ProcessSpec, new: &ProcessSpec) -> bool {
    let mut steered = new.clone();
    steered.instances = old.instances;
    steered.priority = old.priority;
    steered.depends_on = old.depends_on.clone();
    steered.auto_restart = old.auto_restart;
    steered.restart_policy = old.restart_policy;
    steered.expected_exit_codes = old.expected_exit_codes.clone();
    steered.restart_interval = old.restart_interval;
    steered.restart_backoff_max = old.restart_backoff_max;
    steered.retry_count = old.retry_count;
    steered.retry_window = old.retry_window;
    steered.start_duration = old.start_duration;
    steered.stop_signal = old.stop_signal;
    steered.stop_timeout = old.stop_timeout;
    steered.lifecycle = old.lifecycle.clone();
    steered.detached = old.detached;
    steered != *old
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn facts(desired: Desired, requested: bool, code: Option<i32>, signal: Option<i32>) -> ExitFacts {
        ExitFacts { desired, requested, code, signal, uptime: MS * 5000, restarts: 0, recent_failures: 0, jitter: 0.0 }
    }

    #[test]
    fn policies() {
        use RestartPolicy::{Always, Never, OnFailure};
        // (auto_restart, restart_policy, expected codes, code, signal) → restarts
        type Row = (bool, Option<RestartPolicy>, &'static [i32], Option<i32>, Option<i32>, bool);
        let table: &[Row] = &[
            (true, None, &[0], Some(0), None, true),
            (true, None, &[0], Some(1), None, true),
            (false, None, &[0], Some(1), None, false),
            (false, Some(Always), &[0], Some(0), None, true),
            (true, Some(Never), &[0], Some(1), None, false),
            (false, Some(OnFailure), &[0], Some(0), None, false),
            (false, Some(OnFailure), &[0], Some(1), None, true),
            (true, Some(OnFailure), &[0, 3], Some(3), None, false),
            (true, Some(OnFailure), &[0, 3], Some(2), None, true),
            (false, Some(OnFailure), &[0], None, Some(9), true),
            (false, Some(OnFailure), &[0], None, Some(15), true),
            (false, Some(OnFailure), &[0], None, None, true),
            (false, Some(OnFailure), &[], Some(0), None, true),
        ];
        for (i, (auto, policy, expected, code, signal, want)) in table.iter().enumerate() {
            let mut s = ProcessSpec::new("web", "true");
            s.auto_restart = *auto;
            s.restart_policy = *policy;
            s.expected_exit_codes = expected.to_vec();
            assert_eq!(restarts_after(&s, *code, *signal), *want, "row {i}");
        }
    }

    #[test]
    fn exit_decisions() {
        use Desired::{Running, Stopped};
        let mut s = ProcessSpec::new("web", "true");
        s.auto_restart = true;
        s.restart_interval = MS * 100;
        s.restart_backoff_max = MS * 1000;
        s.retry_count = 3;
        let restart = |after_ms: u32, attempt| Decision::Restart { after: MS * after_ms, attempt };
        // (desired, requested, code, restarts, recent failures, jitter) → decision
        let table = [
            (Running, true, Some(1), 0, 0, 0.0, Decision::Stop),
            (Stopped, true, Some(1), 3, 0, 0.0, Decision::Stop),
            (Stopped, false, Some(1), 0, 0, 0.0, Decision::NoRestart),
            (Running, false, Some(1), 0, 0, 0.0, restart(100, 1)),
            (Running, false, Some(1), 1, 1, 0.0, restart(200, 2)),
            (Running, false, Some(1), 2, 2, 0.0, restart(400, 3)),
            (Running, false, Some(1), 2, 2, 0.5, restart(380, 3)),
            (Running, false, Some(1), 2, 2, 1.0, restart(360, 3)),
            // The window has moved on: the backoff starts over, the attempts go on.
            (Running, false, Some(1), 40, 0, 0.0, restart(100, 41)),
            (Running, false, Some(1), u32::MAX, 0, 0.0, restart(100, u32::MAX)),
            (
                Running,
                false,
                Some(1),
                3,
                3,
                0.0,
                Decision::GiveUp { reason: "exited 4 times within 1m: last exit code 1".into() },
            ),
        ];
        for (i, (desired, requested, code, restarts, recent, jitter, want)) in table.into_iter().enumerate() {
            let f = ExitFacts { restarts, recent_failures: recent, jitter, ..facts(desired, requested, code, None) };
            assert_eq!(on_exit(&s, &f), want, "row {i}");
        }
        let killed = ExitFacts { recent_failures: 9, ..facts(Running, false, None, Some(9)) };
        assert_eq!(
            on_exit(&s, &killed),
            Decision::GiveUp { reason: "exited 10 times within 1m: last killed by signal 9".into() }
        );
        s.auto_restart = false;
        assert_eq!(on_exit(&s, &facts(Running, false, Some(1), None)), Decision::NoRestart);
    }

    #[test]
    fn give_up_says_when_the_start_failed() {
        let mut s = ProcessSpec::new("web", "true");
        s.auto_restart = true;
        s.retry_count = 0;
        s.start_duration = MS * 1000;
        let f = ExitFacts { uptime: MS * 120, ..facts(Desired::Running, false, Some(2), None) };
        assert_eq!(
            on_exit(&s, &f),
            Decision::GiveUp {
                reason: "exited 1 times within 1m: last exit code 2 after 120ms, before its start_duration of 1s (failed to start)"
                    .into()
            }
        );
    }

    #[test]
    fn backoff_curve() {
        let mut s = ProcessSpec::new("web", "true");
        s.restart_interval = MS * 250;
        s.restart_backoff_max = MS * 60_000;
        // failures → delay ms (no jitter)
        let table =
            [(1, 250), (2, 500), (3, 1000), (4, 2000), (8, 32_000), (9, 60_000), (30, 60_000), (u32::MAX, 60_000)];
        for (failures, want) in table {
            assert_eq!(backoff(&s, failures, 0.0), MS * want, "failure {failures}");
        }
        s.restart_interval = Duration::ZERO;
        assert_eq!(backoff(&s, 1, 0.5), Duration::ZERO);
        assert_eq!(backoff(&s, 20, 0.5), Duration::ZERO, "0s restarts at once, every time");
    }

    #[test]
    fn failed_starts() {
        let mut s = ProcessSpec::new("web", "true");
        // (start_duration ms, stop requested, uptime ms) → failed start
        let table = [
            (0, false, 0, false),
            (0, false, 5, false),
            (100, false, 99, true),
            (100, false, 100, false),
            (100, true, 10, false),
        ];
        for (i, (start_ms, requested, uptime_ms, want)) in table.into_iter().enumerate() {
            s.start_duration = MS * start_ms;
            assert_eq!(failed_start(&s, requested, MS * uptime_ms), want, "row {i}");
        }
    }

    #[test]
    fn spawn_failures_give_up() {
        assert_eq!(on_spawn_failure("no such file"), Decision::GiveUp { reason: "spawn failed: no such file".into() });
    }

    #[test]
    fn what_an_update_restarts() {
        let old = ProcessSpec::new("web", "sleep 1");
        let change = |f: fn(&mut ProcessSpec)| {
            let mut s = old.clone();
            f(&mut s);
            needs_restart(&old, &s)
        };
        assert!(!needs_restart(&old, &old.clone()));
        assert!(!change(|s| s.instances = 3));
        assert!(!change(|s| s.priority = 4));
        assert!(!change(|s| s.auto_restart = true));
        assert!(!change(|s| s.retry_count = 1));
        assert!(!change(|s| s.stop_timeout = Duration::from_secs(1)));
        assert!(!change(|s| s.lifecycle.post_stop.push(crate::hooks::Hook::new("h", "true"))));
        assert!(change(|s| s.command = Some("sleep 2".into())));
        assert!(change(|s| {
            s.env.0.insert("A".into(), "1".into());
        }));
        assert!(change(|s| s.work_dir = Some("/tmp".into())));
        assert!(change(|s| s.pid_file = Some("/tmp/x.pid".into())));
    }
}
