//! Register, start, exit, selectors, instances, validation, spawn failures.

use crate::helpers::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;
use supervisor::{Decision, Desired, Error, EventKind, Origin, ProcessState, RegisterOptions, Selector};

#[tokio::test]
async fn register_and_start_runs_a_live_process_with_a_pid_file() {
    let mut sup = spawn_supervisor();
    let ack = sup.register(sh("sleeper", "sleep 300")).await;
    assert_eq!(ack.names, ["sleeper"]);
    assert!(ack.failed.is_empty());

    let status = sup.status("sleeper").await;
    let ProcessState::Running { pid, .. } = status.state else { panic!("not running: {status:?}") };
    assert_eq!(status.desired, Desired::Running);
    assert_eq!(status.origin, Origin::Api);
    assert!(status.started_at.is_some());
    assert!(alive(pid), "/proc/{pid} exists");
    let stat = proc_stat(pid).expect("stat");
    assert_eq!(stat.pgrp, pid as i32, "the process leads its own group");

    let pid_file = sup.pid_dir().join("sleeper.pid");
    pid_file_becomes(&pid_file, Some(&format!("{pid}\n{}\n", stat.start_time))).await;

    let events = &sup.drain_sink();
    assert_eq!(kinds_of(events, "sleeper"), ["registered", "instance_added", "started"]);
    assert_eq!(ack.seq, events.last().expect("events").seq, "the ack carries the last event's seq");

    let ticket = sup.handle.stop(Selector::Name("sleeper".into())).await.expect("stop");
    within("stop", ticket.wait()).await;
    let status = sup.status("sleeper").await;
    assert_eq!(status.state, ProcessState::Stopped);
    assert_eq!(status.desired, Desired::Stopped);
    pid_file_becomes(&pid_file, None).await;
    eventually("the process is gone", || !alive(pid)).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn an_exit_code_is_observed() {
    let mut sup = spawn_supervisor();
    sup.register(sh("three", "sh -c 'exit 3'")).await;
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    let EventKind::Exited { code, signal, requested, decision, .. } = &e.kind else { unreachable!() };
    assert_eq!((*code, *signal, *requested), (Some(3), None, false));
    assert_eq!(*decision, Decision::NoRestart);
    let status = e.status.as_ref().expect("status");
    assert!(matches!(status.state, ProcessState::Exited { code: Some(3), signal: None, .. }), "{status:?}");
    assert_eq!(status.last_exit_code, Some(3));
    assert!(status.stopped_at.is_some());
    assert_eq!(sup.status("three").await.state.name(), "exited");
    pid_file_becomes(&sup.pid_dir().join("three.pid"), None).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn a_kill_by_signal_is_reported() {
    let mut sup = spawn_supervisor();
    let pid = sup.run(sh("victim", "sleep 300")).await;
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("kill");
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    let EventKind::Exited { pid: exited, code, signal, requested, .. } = &e.kind else { unreachable!() };
    assert_eq!((*exited, *code, *signal, *requested), (pid, None, Some(9), false));
    let status = sup.status("victim").await;
    assert!(matches!(status.state, ProcessState::Exited { code: None, signal: Some(9), .. }), "{status:?}");
    assert_eq!(status.last_exit_signal, Some(9));
    sup.shutdown().await;
}

#[tokio::test]
async fn instances_are_named_and_selected() {
    let sup = spawn_supervisor();
    let mut web = sh("web", "sleep 300");
    web.instances = 3;
    let ack = sup.register(web).await;
    assert_eq!(ack.names, ["web-1", "web-2", "web-3"]);
    sup.register(sh("worker", "sleep 300")).await;

    let names = |v: Vec<supervisor::ProcessStatus>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
    let h = &sup.handle;
    assert_eq!(names(h.status(Selector::Base("web".into())).await.expect("base")), ["web-1", "web-2", "web-3"]);
    assert_eq!(names(h.status(Selector::Wildcard("*-?".into())).await.expect("glob")), ["web-1", "web-2", "web-3"]);
    assert_eq!(names(h.status(Selector::Wildcard("w*r".into())).await.expect("glob")), ["worker"]);
    assert_eq!(names(h.status(Selector::Name("web-2".into())).await.expect("name")), ["web-2"]);
    assert_eq!(names(h.status(Selector::All).await.expect("all")), ["web-1", "web-2", "web-3", "worker"]);
    assert_eq!(h.status(Selector::Name("web".into())).await, Err(Error::NotFound("web".into())));
    assert_eq!(h.status(Selector::Wildcard("nope*".into())).await, Ok(Vec::new()));
    assert_eq!(h.status(Selector::Base("nope".into())).await, Ok(Vec::new()));

    // Stop one instance by name: only it stops.
    let ticket = h.stop(Selector::Name("web-2".into())).await.expect("stop");
    assert_eq!(ticket.ack.names, ["web-2"]);
    within("stop web-2", ticket.wait()).await;
    let all = h.status(Selector::All).await.expect("all");
    let states: Vec<_> = all.iter().map(|s| (s.name.as_str(), s.state.name())).collect();
    assert_eq!(states, [("web-1", "running"), ("web-2", "stopped"), ("web-3", "running"), ("worker", "running")]);

    // Start by wildcard, stop by base.
    let ack = h.start(Selector::Wildcard("web-*".into())).await.expect("start");
    assert_eq!(ack.names, ["web-1", "web-2", "web-3"]);
    assert!(sup.status("web-2").await.state.is_alive());
    let ticket = h.stop(Selector::Base("web".into())).await.expect("stop");
    within("stop web", ticket.wait()).await;
    assert!(h
        .status(Selector::Base("web".into()))
        .await
        .expect("base")
        .iter()
        .all(|s| s.state == ProcessState::Stopped));

    // Nothing matches: NotFound for every command.
    assert_eq!(h.start(Selector::Name("nope".into())).await.map(|_| ()), Err(Error::NotFound("nope".into())));
    assert!(matches!(h.stop(Selector::Wildcard("x*".into())).await, Err(Error::NotFound(_))));
    assert!(matches!(h.unregister(Selector::Base("nope".into())).await, Err(Error::NotFound(_))));

    // The spec by its name or any instance name.
    let (spec, origin) = h.spec("web-3").await.expect("spec by instance");
    assert_eq!((spec.name.as_str(), spec.instances, origin), ("web", 3, Origin::Api));
    assert_eq!(h.spec("web").await.expect("spec by name").0, spec);
    assert_eq!(h.spec("web-4").await, Err(Error::NotFound("web-4".into())));
    sup.shutdown().await;
}

#[tokio::test]
async fn start_duration_goes_from_starting_to_running() {
    let mut sup = spawn_supervisor();
    let mut spec = sh("slow", "sleep 300");
    spec.start_duration = Duration::from_millis(150);
    sup.register(spec).await;
    let started = sup.wait_for_event(|e| matches!(e.kind, EventKind::Started { .. })).await;
    let status = started.status.as_ref().expect("status");
    assert!(matches!(status.state, ProcessState::Starting { .. }), "{status:?}");
    assert!(!status.running());
    let running = sup.wait_for_event(|e| matches!(e.kind, EventKind::Running { .. })).await;
    assert!((running.at - started.at) >= chrono::Duration::milliseconds(150));
    let state = &running.status.as_ref().expect("status").state;
    assert_eq!(pid_of(state), pid_of(&status.state), "same process");
    assert!(matches!(state, ProcessState::Running { since, .. } if Some(*since) == status.started_at));
    sup.shutdown().await;
}

#[tokio::test]
async fn an_early_exit_never_reaches_running() {
    let mut sup = spawn_supervisor();
    let mut spec = sh("flaky", "sh -c 'exit 1'");
    spec.start_duration = Duration::from_secs(5);
    sup.register(spec).await;
    sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    assert_eq!(kinds_of(&sup.seen, "flaky"), ["registered", "instance_added", "started", "exited"]);
    sup.shutdown().await;
}

#[tokio::test]
async fn output_env_and_work_dir_reach_the_process() {
    let mut sup = spawn_supervisor();
    let work = tempfile::tempdir().expect("work dir");
    let mut spec = sh("echo", "echo \"$GREETING from $(pwd)\"; echo oops >&2");
    spec.env.0.insert("GREETING".into(), "hello".into());
    spec.work_dir = Some(work.path().to_path_buf());
    sup.register(spec).await;
    sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { code: Some(0), .. })).await;
    let out = fs::read_to_string(sup.log_file("echo", "stdout")).expect("stdout log");
    assert_eq!(out, format!("hello from {}\n", work.path().display()));
    assert_eq!(fs::read_to_string(sup.log_file("echo", "stderr")).expect("stderr log"), "oops\n");

    // Logs are appended across runs.
    sup.handle.start(Selector::Name("echo".into())).await.expect("start again");
    sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    assert_eq!(fs::read_to_string(sup.log_file("echo", "stderr")).expect("stderr log"), "oops\noops\n");
    sup.shutdown().await;
}

#[tokio::test]
async fn invalid_specs_list_every_problem() {
    let sup = spawn_supervisor();
    let mut spec = sh("bad/name", "no-such-program-provisr --now");
    spec.instances = 0;
    spec.work_dir = Some("relative/dir".into());
    let Err(Error::InvalidSpec(problems)) = sup.handle.register(spec, RegisterOptions::api()).await else {
        panic!("expected InvalidSpec")
    };
    let keys: Vec<_> = problems.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["name", "instances", "work_dir", "command"], "{problems:?}");
    assert!(problems[3].1.contains("no-such-program-provisr"), "{problems:?}");

    let mut spec = sh("argv", "");
    spec.command = None;
    spec.args = vec!["/no/such/binary".into(), "x".into()];
    let err = sup.handle.register(spec, RegisterOptions::api()).await.expect_err("missing program");
    assert!(matches!(&err, Error::InvalidSpec(p) if p.len() == 1 && p[0].0 == "command"), "{err:?}");

    // Restoring instances the spec does not have.
    let mut opts = RegisterOptions::api();
    opts.instances = Some([("other".to_string(), Desired::Running)].into());
    let err = sup.handle.register(sh("one", "sleep 300"), opts).await.expect_err("unknown instance");
    assert!(matches!(&err, Error::InvalidSpec(p) if p[0].0 == "instances"), "{err:?}");

    assert!(sup.handle.snapshot().await.expect("snapshot").processes.is_empty(), "nothing registered");
    assert_eq!(sup.handle.snapshot().await.expect("snapshot").seq, 0, "no event");
    sup.shutdown().await;
}

#[tokio::test]
async fn duplicates_are_rejected() {
    let sup = spawn_supervisor();
    let mut web = sh("web", "sleep 300");
    web.instances = 2;
    sup.handle.register(web.clone(), RegisterOptions { start: false, ..RegisterOptions::api() }).await.expect("first");
    let again = sup.handle.register(web, RegisterOptions::api()).await;
    assert_eq!(again, Err(Error::AlreadyExists("web".into())));
    let clash = sup.handle.register(sh("web-2", "sleep 300"), RegisterOptions::api()).await;
    assert_eq!(clash, Err(Error::AlreadyExists("web-2".into())), "spec and instance names share one namespace");
    let mut w = sh("w", "sleep 300");
    w.name = "web".into();
    w.instances = 1;
    assert!(matches!(sup.handle.register(w, RegisterOptions::api()).await, Err(Error::AlreadyExists(_))));
    let statuses = sup.handle.status(Selector::All).await.expect("status");
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|s| s.state == ProcessState::Stopped && s.desired == Desired::Stopped));
    sup.shutdown().await;
}

#[tokio::test]
async fn a_spawn_failure_is_fatal_and_reported() {
    let mut sup = spawn_supervisor();

    // The work_dir disappears between registration and start.
    let work = tempfile::tempdir().expect("work dir");
    let mut spec = sh("gone", "sleep 300");
    spec.work_dir = Some(work.path().to_path_buf());
    sup.handle.register(spec, RegisterOptions { start: false, ..RegisterOptions::api() }).await.expect("register");
    drop(work);
    let ack = sup.handle.start(Selector::Name("gone".into())).await.expect("start");
    assert_eq!(ack.failed.len(), 1, "{ack:?}");
    assert_eq!(ack.failed[0].0, "gone");
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::SpawnFailed { .. })).await;
    let EventKind::SpawnFailed { decision: Decision::GiveUp { reason }, .. } = &e.kind else { panic!("{e:?}") };
    assert!(matches!(&sup.status("gone").await.state, ProcessState::Fatal { reason: r } if r == reason));

    // A program that cannot be executed is refused at registration...
    let script = sup.dir.path().join("not-executable.sh");
    fs::write(&script, "#!/bin/sh\nexit 0\n").expect("script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).expect("chmod");
    let refused = sup.handle.register(sh("noexec", script.to_str().expect("utf-8")), RegisterOptions::api()).await;
    assert!(
        matches!(&refused, Err(supervisor::Error::InvalidSpec(p)) if p[0].1.contains("not executable")),
        "{refused:?}"
    );
    // ...and one that loses its permission after registration fails to spawn.
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    sup.handle
        .register(
            sh("noexec", script.to_str().expect("utf-8")),
            RegisterOptions { start: false, ..RegisterOptions::api() },
        )
        .await
        .expect("register");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).expect("chmod");
    let ack = sup.handle.start(Selector::Name("noexec".into())).await.expect("start");
    assert_eq!(ack.failed.len(), 1, "{ack:?}");
    assert!(ack.failed[0].1.to_lowercase().contains("permission denied"), "{ack:?}");
    let status = sup.status("noexec").await;
    assert!(matches!(status.state, ProcessState::Fatal { .. }), "{status:?}");
    assert_eq!(status.desired, Desired::Running, "the wish stays: a later start may succeed");

    // Fixing the cause and starting again works.
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    let ack = sup.handle.start(Selector::Name("noexec".into())).await.expect("start");
    assert!(ack.failed.is_empty(), "{ack:?}");
    sup.wait_for_event(|e| e.name == "noexec" && matches!(e.kind, EventKind::Exited { code: Some(0), .. })).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_everything_and_keeps_wishes() {
    let mut sup = spawn_supervisor();
    let a = sup.run(sh("a", "sleep 300")).await;
    let ready = sup.dir.path().join("ready");
    let mut stubborn = sh("b", &format!("trap '' TERM; touch {}; sleep 300", ready.display()));
    stubborn.stop_timeout = Duration::from_millis(200);
    let b = sup.run(stubborn).await;
    eventually("the trap is set", || ready.exists()).await;
    sup.handle
        .register(sh("idle", "sleep 300"), RegisterOptions { start: false, ..RegisterOptions::api() })
        .await
        .expect("idle");
    let before = sup.handle.status(Selector::All).await.expect("status");
    let wishes: Vec<_> = before.iter().map(|s| (s.name.as_str(), s.desired)).collect();
    assert_eq!(wishes, [("a", Desired::Running), ("b", Desired::Running), ("idle", Desired::Stopped)]);
    let seq_before = sup.handle.snapshot().await.expect("snapshot").seq;

    let handle = sup.handle.clone();
    let mut sink = std::mem::replace(&mut sup.sink, tokio::sync::mpsc::unbounded_channel().1);
    sup.shutdown().await;
    assert!(!alive(a) && !alive(b), "every process has exited when shutdown returns");
    assert_eq!(handle.status(Selector::All).await, Err(Error::ShutDown));
    assert!(matches!(handle.start(Selector::All).await, Err(Error::ShutDown)));

    let mut after = Vec::new();
    while let Ok(e) = sink.try_recv() {
        if e.seq > seq_before {
            after.push(e);
        }
    }
    assert!(after.iter().all(|e| !matches!(e.kind, EventKind::DesiredChanged { .. })), "wishes are kept: {after:#?}");
    assert_eq!(kinds_of(&after, "b"), ["stopping", "killed", "exited"], "stop signal, timeout, SIGKILL");
    assert_eq!(kinds_of(&after, "a"), ["stopping", "exited"]);
    assert!(kinds_of(&after, "idle").is_empty());
    for name in ["a", "b"] {
        let exit = after.iter().find(|e| e.name == name && e.kind.name() == "exited").expect("exited");
        let EventKind::Exited { requested, decision, .. } = &exit.kind else { unreachable!() };
        assert!(requested);
        assert_eq!(*decision, Decision::Stop);
        assert_eq!(exit.status.as_ref().expect("status").desired, Desired::Running);
    }
}

#[tokio::test]
async fn dropping_every_handle_leaves_processes_running() {
    let dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut sup = spawn_supervisor_in(dir.clone());
    let pid = sup.run(sh("survivor", "sleep 300")).await;
    let join = sup.join.take().expect("join");
    drop(sup);
    within("the actor ends when its handles are gone", join).await.expect("no panic");
    assert!(alive(pid), "the process was left running");

    // The next supervisor takes it over, and its shutdown stops it.
    let next = spawn_supervisor_in(dir);
    let opts = RegisterOptions { adopt: true, ..RegisterOptions::api() };
    next.handle.register(sh("survivor", "sleep 300"), opts).await.expect("register");
    assert_eq!(next.status("survivor").await.state.pid(), Some(pid));
    next.shutdown().await;
    eventually("the survivor is stopped", || !alive(pid)).await;
}

/// A hundred instances are spawned side by side (more than one thread): every one runs
/// its own process, leads its group, has its own PID file, and is started once.
#[tokio::test]
async fn many_instances_are_spawned_each_with_its_own_pid_file() {
    let mut sup = spawn_supervisor();
    let mut spec = sh("many", "sleep 300");
    spec.instances = 100;
    let ack = sup.register(spec).await;
    assert!(ack.failed.is_empty(), "{:?}", ack.failed);
    assert_eq!(ack.names.len(), 100);

    let mut pids = std::collections::HashSet::new();
    for i in 1..=100 {
        let name = format!("many-{i}");
        let status = sup.status(&name).await;
        let ProcessState::Running { pid, .. } = status.state else { panic!("{name} not running: {status:?}") };
        let stat = proc_stat(pid).expect("stat");
        assert_eq!(stat.pgrp, pid as i32, "{name} leads its own group");
        pid_file_becomes(&sup.pid_dir().join(format!("{name}.pid")), Some(&format!("{pid}\n{}\n", stat.start_time)))
            .await;
        assert!(pids.insert(pid), "{name} has a process of its own");
    }
    let events = sup.drain_sink();
    for i in 1..=100 {
        let started = events
            .iter()
            .filter(|e| e.name == format!("many-{i}") && matches!(e.kind, EventKind::Started { .. }))
            .count();
        assert_eq!(started, 1, "many-{i} started once");
    }

    let ticket = sup.handle.stop(Selector::Base("many".into())).await.expect("stop");
    within("stop", ticket.wait()).await;
    eventually("every process is gone", || pids.iter().all(|pid| !alive(*pid))).await;
    let pid_files = || {
        let entries = fs::read_dir(sup.pid_dir()).expect("pid dir").flatten();
        entries.filter(|e| e.file_name().to_string_lossy().ends_with(".pid")).count()
    };
    eventually("every PID file is removed", || pid_files() == 0).await;
    sup.shutdown().await;
}
