//! Restart policies, backoff, the retry window and `fatal`, with real processes; the
//! timings on paused tokio time.

use crate::helpers::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::Duration;
use supervisor::{Decision, EventKind, ProcessState, RestartPolicy, Selector};

fn decision_of(e: &supervisor::Event) -> Decision {
    match &e.kind {
        EventKind::Exited { decision, .. } => decision.clone(),
        other => panic!("not an exit: {other:?}"),
    }
}

#[tokio::test]
async fn on_failure_restarts_only_unexpected_exit_codes() {
    let mut sup = spawn_supervisor();
    let spec = |name: &str, code: i32, expected: Vec<i32>| {
        let mut s = sh(name, &format!("exit {code}"));
        s.restart_policy = Some(RestartPolicy::OnFailure);
        s.expected_exit_codes = expected;
        s.restart_interval = Duration::from_secs(3600);
        s.restart_backoff_max = Duration::from_secs(3600);
        s
    };
    // (name, exit code, expected codes, restarted)
    let table = [("clean", 0, vec![0], false), ("bad", 3, vec![0], true), ("known", 3, vec![0, 3], false)];
    for (name, code, expected, restarted) in table {
        sup.register(spec(name, code, expected)).await;
        let e = sup.wait_for_event(|e| e.name == name && matches!(e.kind, EventKind::Exited { .. })).await;
        assert_eq!(matches!(decision_of(&e), Decision::Restart { .. }), restarted, "{name}: {e:?}");
        let state = &e.status.as_ref().expect("status").state;
        assert_eq!(state.name(), if restarted { "backoff" } else { "exited" }, "{name}");
    }
    sup.shutdown().await;
}

#[tokio::test]
async fn a_restart_loop_without_delay_is_bounded_by_retry_count() {
    let mut sup = spawn_supervisor();
    let mut spec = sh("loop", "exit 1");
    spec.auto_restart = true;
    spec.restart_interval = Duration::ZERO;
    spec.retry_count = 3;
    sup.register(spec).await;
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { decision: Decision::GiveUp { .. }, .. })).await;
    let reason = "exited 4 times within 1m: last exit code 1";
    assert_eq!(decision_of(&e), Decision::GiveUp { reason: reason.into() });
    let status = sup.status("loop").await;
    assert_eq!(status.state, ProcessState::Fatal { reason: reason.into() });
    let starts: Vec<u32> = sup
        .seen
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Started { attempt, .. } => Some(attempt),
            _ => None,
        })
        .collect();
    assert_eq!(starts, [0, 1, 2, 3], "three restarts, then fatal");
    // A start on request tries again from scratch.
    sup.handle.start(Selector::Name("loop".into())).await.expect("start");
    let again = sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    assert!(matches!(decision_of(&again), Decision::Restart { attempt: 1, .. }), "{again:?}");
    sup.shutdown().await;
}

#[tokio::test]
async fn an_exit_before_start_duration_is_a_failed_start() {
    let mut sup = spawn_supervisor();
    let mut spec = sh("early", "exit 2");
    spec.start_duration = Duration::from_secs(30);
    sup.register(spec).await;
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    assert!(matches!(e.kind, EventKind::Exited { failed_start: true, code: Some(2), .. }), "{e:?}");
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_up_to_its_cap_then_gives_up() {
    let sup = spawn_supervisor();
    let mut rx = sup.handle.subscribe();
    let mut spec = sh("crash", "exit 1");
    spec.auto_restart = true;
    spec.restart_interval = Duration::from_secs(10);
    spec.restart_backoff_max = Duration::from_secs(40);
    spec.retry_count = 4;
    spec.retry_window = Duration::from_secs(3600);
    sup.register(spec).await;
    let mut delays = Vec::new();
    for attempt in 1..=4u32 {
        let exit = next_event_untimed(&mut rx, |e| matches!(e.kind, EventKind::Exited { .. })).await;
        let Decision::Restart { after, attempt: a } = decision_of(&exit) else { panic!("{exit:?}") };
        assert_eq!(a, attempt);
        let exited_at = tokio::time::Instant::now();
        next_event_untimed(&mut rx, |e| matches!(e.kind, EventKind::Started { attempt: n, .. } if n == attempt)).await;
        let waited = exited_at.elapsed();
        assert!(waited >= after && waited < after + Duration::from_millis(100), "{waited:?} for {after:?}");
        delays.push(after);
    }
    // Each delay is the doubled base (capped at 40s) less at most 10% jitter.
    for (after, full) in delays.iter().zip([10u64, 20, 40, 40]) {
        let full = Duration::from_secs(full);
        assert!(*after <= full && *after >= full.mul_f64(0.9), "{delays:?}");
    }
    let last = next_event_untimed(&mut rx, |e| matches!(e.kind, EventKind::Exited { .. })).await;
    assert_eq!(decision_of(&last), Decision::GiveUp { reason: "exited 5 times within 1h: last exit code 1".into() });
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_process_that_crashes_rarely_is_always_restarted() {
    let sup = spawn_supervisor();
    let mut rx = sup.handle.subscribe();
    let mut spec = sh("rare", "sleep 300");
    spec.auto_restart = true;
    spec.restart_interval = Duration::ZERO;
    spec.retry_count = 1;
    spec.retry_window = Duration::from_secs(60);
    sup.register(spec).await;
    let crash = |pid: u32| kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("kill");
    let pid_of_start = |e: &supervisor::Event| match e.kind {
        EventKind::Started { pid, .. } => pid,
        _ => unreachable!(),
    };
    let mut pid = sup.status("rare").await.state.pid().expect("running");
    // Crash once an hour, many times: each crash is alone in its window.
    for attempt in 1..=5u32 {
        tokio::time::advance(Duration::from_secs(3600)).await;
        crash(pid);
        let e = next_event_untimed(&mut rx, |e| matches!(e.kind, EventKind::Exited { .. })).await;
        assert!(
            matches!(decision_of(&e), Decision::Restart { after: Duration::ZERO, attempt: a } if a == attempt),
            "{e:?}"
        );
        pid = pid_of_start(&*next_event_untimed(&mut rx, |e| matches!(e.kind, EventKind::Started { .. })).await);
    }
    // Two crashes within a minute exceed retry_count 1.
    crash(pid);
    let e = next_event_untimed(&mut rx, |e| matches!(e.kind, EventKind::Exited { .. })).await;
    assert!(
        matches!(decision_of(&e), Decision::GiveUp { ref reason } if reason == "exited 2 times within 1m: last killed by signal 9"),
        "{e:?}"
    );
    sup.shutdown().await;
}
