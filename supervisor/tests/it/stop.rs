//! Stopping: the whole process group, SIGKILL after the timeout, stop during backoff,
//! start while stopping, unregister.

use crate::helpers::*;
use std::time::{Duration, Instant};
use supervisor::{Decision, Desired, Error, EventKind, ProcessState, RegisterOptions, Selector};

#[tokio::test]
async fn stop_kills_the_whole_process_group() {
    let mut sup = spawn_supervisor();
    let pid = sup.run(sh("family", "sleep 300 & sleep 300")).await;
    eventually("the shell has two children", || live_group_members(pid).len() >= 2).await;

    let ticket = sup.handle.stop(Selector::Base("family".into())).await.expect("stop");
    within("the ticket resolves", ticket.wait()).await;
    let status = sup.status("family").await;
    assert_eq!(status.state, ProcessState::Stopped);
    eventually("no live member of the group remains", || live_group_members(pid).is_empty()).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn members_are_swept_when_the_leader_exits_by_itself() {
    let mut sup = spawn_supervisor();
    // The shell exits at once, leaving a background sleep in its group.
    sup.register(sh("orphaner", "sleep 300 & exit 0")).await;
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    let EventKind::Exited { pid, code, .. } = e.kind else { unreachable!() };
    assert_eq!(code, Some(0));
    eventually("the background sleep is gone", || live_group_members(pid).is_empty()).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn a_process_ignoring_the_stop_signal_is_killed_after_the_timeout() {
    let mut sup = spawn_supervisor();
    let ready = sup.dir.path().join("ready");
    let mut spec = sh("stubborn", &format!("trap '' TERM; touch {}; sleep 300", ready.display()));
    spec.stop_timeout = Duration::from_millis(300);
    let pid = sup.run(spec).await;
    eventually("the trap is set", || ready.exists()).await;

    let asked = Instant::now();
    let ticket = sup.handle.stop(Selector::Name("stubborn".into())).await.expect("stop");
    within("the ticket resolves", ticket.wait()).await;
    assert!(asked.elapsed() >= Duration::from_millis(300), "not before the timeout");

    let events = sup.drain_sink();
    assert_eq!(
        kinds_of(&events, "stubborn"),
        ["registered", "instance_added", "started", "desired_changed", "stopping", "killed", "exited"]
    );
    let stopping = events.iter().find(|e| e.kind.name() == "stopping").expect("stopping");
    assert_eq!(stopping.kind, EventKind::Stopping { pid, signal: "SIGTERM".into() });
    assert!(
        matches!(stopping.status.as_ref().expect("status").state, ProcessState::Stopping { pid: p, .. } if p == pid)
    );
    let killed = events.iter().find(|e| e.kind.name() == "killed").expect("killed");
    assert_eq!(killed.kind, EventKind::Killed { pid });
    assert!(killed.at - stopping.at >= chrono::Duration::milliseconds(300));
    let exited = events.last().expect("exited");
    let EventKind::Exited { signal, requested, decision, .. } = &exited.kind else { panic!("{exited:?}") };
    assert_eq!((*signal, *requested, decision), (Some(9), true, &Decision::Stop));
    eventually("no live member of the group remains", || live_group_members(pid).is_empty()).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn the_configured_stop_signal_is_sent() {
    let mut sup = spawn_supervisor();
    let ready = sup.dir.path().join("ready");
    let mut spec = sh("int", &format!("trap 'exit 42' INT; touch {}; while :; do sleep 1; done", ready.display()));
    spec.stop_signal = supervisor::StopSignal::parse("INT").expect("signal");
    sup.run(spec).await;
    eventually("the trap is set", || ready.exists()).await;
    let ticket = sup.handle.stop(Selector::Name("int".into())).await.expect("stop");
    within("stop", ticket.wait()).await;
    let exited = sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    assert!(matches!(exited.kind, EventKind::Exited { code: Some(42), .. }), "{exited:?}");
    let stopping = sup.seen.iter().find(|e| e.kind.name() == "stopping").expect("stopping");
    assert!(matches!(&stopping.kind, EventKind::Stopping { signal, .. } if signal == "SIGINT"), "{stopping:?}");
    sup.shutdown().await;
}

#[tokio::test]
async fn stop_during_backoff_leaves_it_stopped() {
    let mut sup = spawn_supervisor();
    let mut spec = sh("crashy", "sh -c 'exit 1'");
    spec.auto_restart = true;
    spec.restart_interval = Duration::from_millis(300);
    sup.register(spec).await;
    let exited = sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    assert!(matches!(exited.status.as_ref().expect("status").state, ProcessState::Backoff { attempt: 1, .. }));

    let ticket = sup.handle.stop(Selector::Name("crashy".into())).await.expect("stop");
    // Stopped at once, before anything waits for the ticket.
    let status = sup.status("crashy").await;
    within("stop", ticket.wait()).await;
    assert_eq!((status.state.clone(), status.desired), (ProcessState::Stopped, Desired::Stopped));
    let last = sup.wait_for_event(|e| e.name == "crashy" && matches!(e.kind, EventKind::DesiredChanged { .. })).await;
    assert_eq!(last.status.as_ref().expect("status").state, ProcessState::Stopped);

    // Let more than the restart interval pass (measured by a process of its own) and
    // check that no restart happened.
    sup.register(sh("clock", "sleep 0.6")).await;
    sup.wait_for_event(|e| e.name == "clock" && matches!(e.kind, EventKind::Exited { .. })).await;
    let after_stop: Vec<_> = sup.seen.iter().skip_while(|e| e.seq <= last.seq).filter(|e| e.name == "crashy").collect();
    assert!(after_stop.is_empty(), "no restart after the stop: {after_stop:#?}");
    assert_eq!(sup.status("crashy").await.state, ProcessState::Stopped);
    sup.shutdown().await;
}

#[tokio::test]
async fn start_while_stopping_starts_again_once_stopped() {
    let mut sup = spawn_supervisor();
    let ready = sup.dir.path().join("ready");
    let mut spec = sh("phoenix", &format!("trap '' TERM; touch {}; sleep 300", ready.display()));
    spec.stop_timeout = Duration::from_millis(200);
    let first = sup.run(spec).await;
    eventually("the trap is set", || ready.exists()).await;
    let ticket = sup.handle.stop(Selector::Name("phoenix".into())).await.expect("stop");
    assert!(matches!(sup.status("phoenix").await.state, ProcessState::Stopping { .. }));
    let ack = sup.handle.start(Selector::Name("phoenix".into())).await.expect("start");
    assert!(ack.failed.is_empty());
    within("the stop completes", ticket.wait()).await;
    let status = sup.wait_for_status("phoenix", |s| s.running()).await;
    assert_ne!(status.state.pid(), Some(first));
    assert_eq!(status.desired, Desired::Running);
    sup.shutdown().await;
}

#[tokio::test]
async fn restart_replaces_the_process() {
    let mut sup = spawn_supervisor();
    let first = sup.run(sh("r", "sleep 300")).await;
    let ack = within("restart", sup.handle.restart(Selector::Name("r".into()))).await.expect("restart");
    assert!(ack.failed.is_empty());
    let status = sup.status("r").await;
    assert!(status.running());
    assert_ne!(status.state.pid(), Some(first));
    assert!(!alive(first));
    sup.shutdown().await;
}

#[tokio::test]
async fn unregister_stops_then_removes() {
    let mut sup = spawn_supervisor();
    let mut web = sh("web", "sleep 300");
    web.instances = 2;
    sup.register(web).await;
    sup.wait_for(|s| s.processes.iter().filter(|p| p.running()).count() == 2).await;
    let pid2 = sup.status("web-2").await.state.pid().expect("pid");

    // One instance: the spec stays.
    let ticket = sup.handle.unregister(Selector::Name("web-2".into())).await.expect("unregister");
    within("web-2 removed", ticket.wait()).await;
    assert_eq!(sup.handle.status(Selector::Name("web-2".into())).await, Err(Error::NotFound("web-2".into())));
    assert!(sup.handle.spec("web").await.is_ok());
    pid_file_becomes(&sup.pid_dir().join("web-2.pid"), None).await;
    eventually("web-2 is gone", || !alive(pid2)).await;

    // The last one: the spec goes too, even when nobody waits for the ticket.
    let pid1 = sup.status("web-1").await.state.pid().expect("pid");
    drop(sup.handle.unregister(Selector::Base("web".into())).await.expect("unregister"));
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Unregistered)).await;
    assert_eq!(e.name, "web");
    assert_eq!(e.status, None);
    assert_eq!(sup.handle.spec("web").await, Err(Error::NotFound("web".into())));
    assert!(sup.handle.snapshot().await.expect("snapshot").processes.is_empty());
    assert!(!alive(pid1));
    let kinds = kinds_of(&sup.seen, "web-1");
    assert_eq!(&kinds[kinds.len() - 4..], ["desired_changed", "stopping", "exited", "instance_removed"]);

    // A stopped spec is removed at once; the name can be registered again.
    sup.handle
        .register(sh("web", "sleep 300"), RegisterOptions { start: false, ..RegisterOptions::api() })
        .await
        .expect("again");
    let ticket = sup.handle.unregister(Selector::Name("web".into())).await.expect("unregister");
    assert!(
        sup.handle.snapshot().await.expect("snapshot").processes.is_empty(),
        "removed before the ticket is awaited"
    );
    within("nothing to wait for", ticket.wait()).await;
    sup.shutdown().await;
}
