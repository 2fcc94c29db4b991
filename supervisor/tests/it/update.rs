//! Replacing a spec: instance count changes, restarts only when the process changed;
//! detached processes across a daemon restart; resource samples.

use crate::helpers::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use supervisor::{Desired, Error, EventKind, RegisterOptions, Selector};

async fn pids(sup: &TestSupervisor) -> BTreeMap<String, u32> {
    let snap = sup.handle.snapshot().await.expect("snapshot");
    snap.processes.iter().filter_map(|p| p.state.pid().map(|pid| (p.name.clone(), pid))).collect()
}

#[tokio::test]
async fn instance_changes_touch_only_the_instances_that_change() {
    let sup = spawn_supervisor();
    let mut spec = sh("web", "sleep 300");
    spec.instances = 2;
    sup.register(spec.clone()).await;
    sup.wait_for(|s| s.processes.iter().filter(|p| p.running()).count() == 2).await;
    let before = pids(&sup).await;

    spec.instances = 3;
    let ack = sup.handle.update(spec.clone()).await.expect("grow");
    assert_eq!(ack.names, ["web-3"]);
    sup.wait_for(|s| s.processes.iter().filter(|p| p.running()).count() == 3).await;
    let grown = pids(&sup).await;
    assert_eq!(grown["web-1"], before["web-1"]);
    assert_eq!(grown["web-2"], before["web-2"]);

    spec.instances = 2;
    let ack = sup.handle.update(spec.clone()).await.expect("shrink");
    assert_eq!(ack.names, ["web-3"]);
    sup.wait_for(|s| s.processes.len() == 2).await;
    eventually("web-3 is gone", || !alive(grown["web-3"])).await;
    assert_eq!(pids(&sup).await, before);
    assert_eq!(sup.handle.spec("web").await.expect("spec").0.instances, 2);

    // The same spec again changes nothing.
    let seq = sup.handle.snapshot().await.expect("snapshot").seq;
    let ack = sup.handle.update(spec.clone()).await.expect("same");
    assert!(ack.names.is_empty());
    assert_eq!(ack.seq, seq);
    sup.shutdown().await;
}

#[tokio::test]
async fn a_changed_command_restarts_and_a_changed_policy_does_not() {
    let mut sup = spawn_supervisor();
    let mut spec = sh("app", "sleep 300");
    let first = sup.run(spec.clone()).await;

    spec.auto_restart = true;
    spec.priority = 3;
    let ack = sup.handle.update(spec.clone()).await.expect("policy");
    assert!(ack.names.is_empty(), "{ack:?}");
    assert_eq!(sup.status("app").await.state.pid(), Some(first));

    spec.command = Some("sleep 301".into());
    let ack = sup.handle.update(spec.clone()).await.expect("command");
    assert_eq!(ack.names, ["app"]);
    let e = sup.wait_for_event(|e| e.name == "app" && matches!(e.kind, EventKind::Started { .. })).await;
    let EventKind::Started { pid: second, .. } = e.kind else { unreachable!() };
    assert_ne!(first, second);
    let cmdline = || std::fs::read_to_string(format!("/proc/{second}/cmdline")).unwrap_or_default();
    eventually("the new command runs", || cmdline() == "sleep\x00301\x00").await;
    let status = sup.status("app").await;
    assert_eq!((status.desired, status.state.pid()), (Desired::Running, Some(second)));
    assert!(sup.seen.iter().any(|e| matches!(&e.kind, EventKind::Updated { spec: s, .. } if s == &spec)));

    assert!(matches!(sup.handle.update(sh("nope", "true")).await, Err(Error::NotFound(_))));
    let mut bad = spec.clone();
    bad.command = None;
    assert!(matches!(sup.handle.update(bad).await, Err(Error::InvalidSpec(_))));
    sup.shutdown().await;
}

#[tokio::test]
async fn a_detached_process_survives_shutdown_and_is_adopted_next_time() {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut detached = sh("keeper", "sleep 300");
    detached.detached = true;
    let mut first = spawn_supervisor_in(dir.clone());
    let kept = first.run(detached.clone()).await;
    let stopped = first.run(sh("plain", "sleep 300")).await;
    first.shutdown().await;
    eventually("the plain process is stopped", || !alive(stopped)).await;
    assert!(alive(kept), "a detached process outlives the daemon");

    let mut second = spawn_supervisor_in(dir);
    let opts = RegisterOptions {
        adopt: true,
        instances: Some(BTreeMap::from([("keeper".to_string(), Desired::Running)])),
        ..RegisterOptions::api()
    };
    second.handle.register(detached, opts).await.expect("register");
    assert_eq!(second.status("keeper").await.state.pid(), Some(kept));
    assert!(second.drain_sink().iter().any(|e| e.kind == EventKind::Adopted { pid: kept }));
    let ticket = second.handle.stop(Selector::Name("keeper".into())).await.expect("stop");
    within("stop", ticket.wait()).await;
    eventually("stopped on request", || !alive(kept)).await;
    second.shutdown().await;
}

#[tokio::test]
async fn resources_cover_the_whole_process_group() {
    let mut sup = spawn_supervisor();
    let pid = sup.run(sh("pair", "sleep 300 & sleep 300")).await;
    eventually("both children exist", || live_group_members(pid).len() == 3).await;
    let samples = sup.handle.resources(Selector::Name("pair".into())).await.expect("resources");
    assert_eq!(samples.len(), 1);
    let s = &samples[0];
    assert_eq!((s.name.as_str(), s.pid, s.processes), ("pair", pid, 3));
    assert!(s.rss_bytes > 0 && s.cpu_percent >= 0.0, "{s:?}");
    let ticket = sup.handle.stop(Selector::All).await.expect("stop");
    within("stop", ticket.wait()).await;
    assert!(sup.handle.resources(Selector::All).await.expect("resources").is_empty());
    sup.shutdown().await;
}

#[tokio::test]
async fn an_explicit_pid_file_with_instances_gives_one_file_each() {
    let sup = spawn_supervisor();
    let run = sup.dir.path().join("run");
    let mut spec = sh("multi", "sleep 300");
    spec.instances = 2;
    spec.pid_file = Some(run.join("multi.pid"));
    sup.register(spec).await;
    let snap = sup.wait_for(|s| s.processes.iter().filter(|p| p.running()).count() == 2).await;
    for p in &snap.processes {
        let pid = p.state.pid().expect("pid");
        let text = format!("{pid}\n{}\n", proc_stat(pid).expect("stat").start_time);
        pid_file_becomes(&run.join(format!("{}.pid", p.name)), Some(&text)).await;
    }
    assert!(!run.join("multi.pid").exists(), "no shared file");
    sup.shutdown().await;
}
