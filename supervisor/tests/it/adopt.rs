//! Re-adoption after a crash: PID file + start time, pidfd exit watching, stale files.

use crate::helpers::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::sync::Arc;
use supervisor::{Desired, EventKind, ProcessState, RegisterOptions, Selector};

fn adopt_opts() -> RegisterOptions {
    RegisterOptions { adopt: true, ..RegisterOptions::api() }
}

/// Starts `spec` under a supervisor in `dir`, then "kills -9" that supervisor: its task is
/// aborted and its handle dropped, no shutdown. Returns the pid left running.
async fn crash_with(
    dir: Arc<tempfile::TempDir>,
    spec: supervisor::ProcessSpec,
) -> (u32, chrono::DateTime<chrono::Utc>) {
    let mut first = spawn_supervisor_in(dir);
    let pid = first.run(spec.clone()).await;
    let since = first.status(&spec.name).await.started_at.expect("started_at");
    let join = first.join.take().expect("join");
    join.abort();
    assert!(within("abort", join).await.expect_err("aborted").is_cancelled());
    drop(first);
    assert!(alive(pid), "a crashed supervisor leaves its processes running");
    (pid, since)
}

#[tokio::test]
async fn a_survivor_is_adopted_instead_of_spawned_again() {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let (pid, since) = crash_with(dir.clone(), sh("survivor", "sleep 300")).await;

    let mut sup = spawn_supervisor_in(dir);
    let mut opts = adopt_opts();
    opts.instances = Some(BTreeMap::from([("survivor".to_string(), Desired::Running)]));
    let ack = sup.handle.register(sh("survivor", "sleep 300"), opts).await.expect("register");
    assert!(ack.failed.is_empty());
    let events = sup.drain_sink();
    assert_eq!(kinds_of(&events, "survivor"), ["registered", "instance_added", "adopted"]);
    assert_eq!(events.last().expect("adopted").kind, EventKind::Adopted { pid });
    assert_eq!(ack.seq, events.last().expect("adopted").seq);

    let status = sup.status("survivor").await;
    let ProcessState::Running { pid: running, since: adopted_since } = status.state else { panic!("{status:?}") };
    assert_eq!(running, pid, "the same process");
    let drift = (adopted_since - since).num_milliseconds().abs();
    assert!(drift < 1500, "since comes from the process start time ({adopted_since} vs {since})");
    assert_eq!(live_group_members(pid), [pid], "no second copy");

    // Its exit is observed through the pidfd; the status is unknown.
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("kill");
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    let EventKind::Exited { pid: exited, code, signal, requested, .. } = e.kind else { unreachable!() };
    assert_eq!((exited, code, signal, requested), (pid, None, None, false));
    assert!(matches!(sup.status("survivor").await.state, ProcessState::Exited { code: None, signal: None, .. }));
    pid_file_becomes(&sup.pid_dir().join("survivor.pid"), None).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn an_adopted_process_is_stopped_like_any_other() {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let (pid, _) = crash_with(dir.clone(), sh("family", "sleep 300 & sleep 300")).await;
    eventually("the shell has two children", || live_group_members(pid).len() >= 2).await;

    let sup = spawn_supervisor_in(dir);
    sup.handle.register(sh("family", "sleep 300 & sleep 300"), adopt_opts()).await.expect("register");
    assert_eq!(sup.status("family").await.state.pid(), Some(pid));
    let ticket = sup.handle.stop(Selector::Name("family".into())).await.expect("stop");
    within("stop", ticket.wait()).await;
    assert_eq!(sup.status("family").await.state, ProcessState::Stopped);
    eventually("no live member of the group remains", || live_group_members(pid).is_empty()).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn a_survivor_whose_wish_is_stopped_is_stopped() {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let (pid, _) = crash_with(dir.clone(), sh("unwanted", "sleep 300")).await;

    let mut sup = spawn_supervisor_in(dir);
    let mut opts = adopt_opts();
    opts.instances = Some(BTreeMap::from([("unwanted".to_string(), Desired::Stopped)]));
    sup.handle.register(sh("unwanted", "sleep 300"), opts).await.expect("register");
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    assert!(matches!(e.kind, EventKind::Exited { requested: true, .. }), "{e:?}");
    assert_eq!(kinds_of(&sup.seen, "unwanted"), ["registered", "instance_added", "adopted", "stopping", "exited"]);
    let status = sup.status("unwanted").await;
    assert_eq!((status.state, status.desired), (ProcessState::Stopped, Desired::Stopped));
    eventually("the survivor is gone", || !alive(pid)).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn a_pid_file_of_a_dead_process_is_stale() {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut dead = std::process::Command::new("true").spawn().expect("spawn true");
    let dead_pid = dead.id();
    dead.wait().expect("reap");
    fs::create_dir_all(dir.path().join("pids")).expect("pid dir");
    fs::write(dir.path().join("pids/svc.pid"), format!("{dead_pid}\n12345\n")).expect("PID file");

    let mut sup = spawn_supervisor_in(dir);
    sup.handle.register(sh("svc", "sleep 300"), adopt_opts()).await.expect("register");
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Started { .. } | EventKind::Adopted { .. })).await;
    let EventKind::Started { pid, .. } = e.kind else { panic!("not spawned: {e:?}") };
    assert_ne!(pid, dead_pid);
    let says_new =
        || fs::read_to_string(sup.pid_dir().join("svc.pid")).is_ok_and(|t| t.starts_with(&format!("{pid}\n")));
    eventually("the PID file is rewritten for the new process", says_new).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn a_pid_file_whose_start_time_differs_is_stale() {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    // A live process that is not ours (a recycled pid, as far as the PID file can tell).
    let mut decoy = std::process::Command::new("sleep").arg("300").process_group(0).spawn().expect("decoy");
    let decoy_pid = decoy.id();
    let real_start = proc_stat(decoy_pid).expect("stat").start_time;
    fs::create_dir_all(dir.path().join("pids")).expect("pid dir");
    fs::write(dir.path().join("pids/svc.pid"), format!("{decoy_pid}\n{}\n", real_start + 1)).expect("PID file");

    let mut sup = spawn_supervisor_in(dir);
    sup.handle.register(sh("svc", "sleep 300"), adopt_opts()).await.expect("register");
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Started { .. } | EventKind::Adopted { .. })).await;
    let EventKind::Started { pid, .. } = e.kind else { panic!("adopted a stranger: {e:?}") };
    assert_ne!(pid, decoy_pid);
    sup.shutdown().await;
    assert!(alive(decoy_pid), "the stranger was left alone, even by the shutdown");
    decoy.kill().expect("kill decoy");
    decoy.wait().expect("reap decoy");
}
