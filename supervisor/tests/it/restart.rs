//! Automatic restarts: backoff, attempts, the decision in the exit event.

use crate::helpers::*;
use std::time::Duration;
use supervisor::{Decision, Desired, EventKind, ProcessState, Selector};

#[tokio::test]
async fn an_exiting_process_is_restarted_with_attempts_counted() {
    let mut sup = spawn_supervisor();
    let mut spec = sh("crashy", "sh -c 'exit 7'");
    spec.auto_restart = true;
    spec.restart_interval = Duration::from_millis(50);
    sup.register(spec).await;
    sup.wait_for_event(|e| matches!(e.kind, EventKind::Started { attempt: 2, .. })).await;

    let exits: Vec<_> = sup.seen.iter().filter(|e| e.kind.name() == "exited").collect();
    assert_eq!(exits.len(), 2);
    for (i, e) in exits.iter().enumerate() {
        let attempt = i as u32 + 1;
        let EventKind::Exited { code, requested, decision, .. } = &e.kind else { unreachable!() };
        assert_eq!((*code, *requested), (Some(7), false));
        // Exponential backoff from 50ms, less up to 10% jitter.
        let Decision::Restart { after, attempt: a } = decision else { panic!("{decision:?}") };
        let full = Duration::from_millis(50) * 2u32.pow(i as u32);
        assert_eq!(*a, attempt);
        assert!(*after <= full && *after >= full.mul_f64(0.9), "{after:?} for {full:?}");
        let status = e.status.as_ref().expect("status");
        let ProcessState::Backoff { attempt: a, until } = status.state else { panic!("{status:?}") };
        assert_eq!(a, attempt);
        assert!(until >= e.at);
        assert_eq!(status.restarts, attempt - 1, "restarts counts restarts done, not due");
        assert_eq!(status.last_exit_code, Some(7));
    }
    let starts: Vec<_> = sup
        .seen
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Started { attempt, .. } => Some(attempt),
            _ => None,
        })
        .collect();
    assert_eq!(starts, [0, 1, 2]);
    // The restart waited for the interval (less jitter).
    let exit1 = exits[0];
    let start1 = sup.seen.iter().find(|e| matches!(e.kind, EventKind::Started { attempt: 1, .. })).expect("restart 1");
    assert!(start1.at - exit1.at >= chrono::Duration::milliseconds(45));
    assert_eq!(start1.status.as_ref().expect("status").restarts, 1);

    // An explicit start resets the count.
    let ticket = sup.handle.stop(Selector::Name("crashy".into())).await.expect("stop");
    within("stop", ticket.wait()).await;
    let stopped = sup.status("crashy").await;
    assert_eq!((stopped.state.clone(), stopped.desired), (ProcessState::Stopped, Desired::Stopped));
    sup.handle.start(Selector::Name("crashy".into())).await.expect("start");
    let status = sup.status("crashy").await;
    assert_eq!(status.restarts, 0);
    assert_eq!(status.desired, Desired::Running);
    let seq = sup.handle.snapshot().await.expect("snapshot").seq;
    let started = sup.wait_for_event(|e| e.seq <= seq && matches!(e.kind, EventKind::Started { attempt: 0, .. })).await;
    assert_eq!(started.status.as_ref().expect("status").restarts, 0);
    sup.shutdown().await;
}

#[tokio::test]
async fn without_auto_restart_it_stays_exited() {
    let mut sup = spawn_supervisor();
    let mut spec = sh("once", "sh -c 'exit 1'");
    spec.restart_interval = Duration::from_millis(10);
    sup.register(spec).await;
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    assert!(matches!(e.kind, EventKind::Exited { decision: Decision::NoRestart, code: Some(1), .. }));

    // Let the restart interval pass many times over (measured by a process of its own).
    sup.register(sh("clock", "sleep 0.3")).await;
    sup.wait_for_event(|e| e.name == "clock" && matches!(e.kind, EventKind::Exited { .. })).await;
    assert_eq!(kinds_of(&sup.seen, "once"), ["registered", "instance_added", "started", "exited"]);
    let status = sup.status("once").await;
    assert!(matches!(status.state, ProcessState::Exited { code: Some(1), .. }), "{status:?}");
    assert_eq!((status.desired, status.restarts), (Desired::Running, 0));
    sup.shutdown().await;
}

#[tokio::test]
async fn a_restarted_process_is_a_new_process_with_a_new_pid_file() {
    let mut sup = spawn_supervisor();
    let mut spec = sh("blinker", "sleep 300");
    spec.auto_restart = true;
    spec.restart_interval = Duration::ZERO;
    let first = sup.run(spec).await;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first as i32), nix::sys::signal::Signal::SIGKILL).expect("kill");
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Started { attempt: 1, .. })).await;
    let EventKind::Started { pid: second, .. } = e.kind else { unreachable!() };
    assert_ne!(first, second);
    assert!(alive(second));
    let pid_file = sup.pid_dir().join("blinker.pid");
    let says = |pid: u32| std::fs::read_to_string(&pid_file).is_ok_and(|t| t.starts_with(&format!("{pid}\n")));
    eventually("the PID file names the new process", || says(second)).await;
    sup.shutdown().await;
}
