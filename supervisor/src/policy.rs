//! What to do when a process ends: pure decisions, no effects.
//!
//! The actor gathers the facts (the spec, the operator's wish, whether the stop was
//! asked for, how long the process ran, how many automatic restarts so far) and applies
//! the [`Decision`] these functions return: it sets timers, spawns and emits events.
//! Keeping the decision free of clocks, processes and channels is what lets it be tested
//! as a table, and lets retry limits and backoff curves grow here without touching the
//! actor.

use crate::event::Decision;
use crate::spec::ProcessSpec;
use crate::state::Desired;
use std::time::Duration;

/// The decision after a process of `spec` exited.
///
/// * a requested exit (stop, shutdown, unregister) → [`Decision::Stop`];
/// * wished running and `auto_restart` → [`Decision::Restart`] after `restart_interval`,
///   as attempt `restarts + 1`;
/// * otherwise → [`Decision::NoRestart`].
pub(crate) fn on_exit(spec: &ProcessSpec, desired: Desired, stop_requested: bool, restarts: u32) -> Decision {
    if stop_requested {
        Decision::Stop
    } else if desired == Desired::Running && spec.auto_restart {
        Decision::Restart { after: spec.restart_interval, attempt: restarts.saturating_add(1) }
    } else {
        Decision::NoRestart
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn spec(auto_restart: bool, restart_ms: u64) -> ProcessSpec {
        let mut s = ProcessSpec::new("web", "true");
        s.auto_restart = auto_restart;
        s.restart_interval = MS * restart_ms as u32;
        s
    }

    #[test]
    fn exit_decisions() {
        use Desired::{Running, Stopped};
        let restart = |after_ms: u32, attempt| Decision::Restart { after: MS * after_ms, attempt };
        // (auto_restart, interval ms, desired, stop requested, restarts so far) → decision
        let table = [
            (true, 100, Running, true, 0, Decision::Stop),
            (false, 100, Running, true, 0, Decision::Stop),
            (true, 100, Stopped, true, 3, Decision::Stop),
            (true, 100, Running, false, 0, restart(100, 1)),
            (true, 0, Running, false, 4, restart(0, 5)),
            (true, 100, Running, false, u32::MAX, restart(100, u32::MAX)),
            (true, 100, Stopped, false, 0, Decision::NoRestart),
            (false, 100, Running, false, 0, Decision::NoRestart),
            (false, 100, Stopped, false, 0, Decision::NoRestart),
        ];
        for (i, (auto, interval, desired, requested, restarts, want)) in table.into_iter().enumerate() {
            assert_eq!(on_exit(&spec(auto, interval), desired, requested, restarts), want, "row {i}");
        }
    }

    #[test]
    fn failed_starts() {
        let mut s = spec(true, 0);
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
}
