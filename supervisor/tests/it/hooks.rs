//! Lifecycle hooks with real processes: order, environment, failure modes, timeouts,
//! async hooks, and that a blocking hook never blocks the supervisor.

use crate::helpers::*;
use std::fs;
use std::path::Path;
use std::time::Duration;
use supervisor::hooks::HookResult;
use supervisor::{EventKind, FailureMode, Hook, HookPhase, ProcessSpec, ProcessState, RunMode, Selector};

/// A hook that appends `<phase> <name> <PROVISR_*>` to `file`.
fn marker(name: &str, file: &Path) -> Hook {
    Hook::new(
        name,
        format!("echo \"$PROVISR_HOOK_PHASE $PROVISR_HOOK_NAME $PROVISR_PROCESS_NAME $APP\" >> {}", file.display()),
    )
}

fn hook_finished(e: &supervisor::Event, phase: HookPhase, name: &str) -> Option<HookResult> {
    match &e.kind {
        EventKind::HookFinished { phase: p, hook, result, .. } if *p == phase && hook == name => Some(result.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn the_four_phases_run_in_order_with_the_process_environment() {
    let mut sup = spawn_supervisor();
    let file = sup.dir.path().join("hooks.log");
    let mut spec = sh("web", "sleep 300");
    spec.env.0.insert("APP".into(), "demo".into());
    spec.lifecycle.pre_start = vec![marker("setup", &file)];
    spec.lifecycle.post_start = vec![marker("warm", &file)];
    spec.lifecycle.pre_stop = vec![marker("drain", &file)];
    spec.lifecycle.post_stop = vec![marker("cleanup", &file)];
    sup.register(spec).await;
    sup.wait_for_event(|e| hook_finished(e, HookPhase::PostStart, "warm").is_some()).await;
    let ticket = sup.handle.stop(Selector::Name("web".into())).await.expect("stop");
    within("stop", ticket.wait()).await;
    // The ticket resolves after the post_stop hooks.
    assert_eq!(
        fs::read_to_string(&file).expect("hook output"),
        "pre_start setup web demo\npost_start warm web demo\npre_stop drain web demo\npost_stop cleanup web demo\n"
    );
    sup.wait_for_event(|e| matches!(e.kind, EventKind::HooksFinished { phase: HookPhase::PostStop, .. })).await;
    let kinds: Vec<&str> = sup
        .seen
        .iter()
        .filter(|e| e.name == "web")
        .map(|e| e.kind.name())
        .filter(|k| !matches!(*k, "registered" | "instance_added" | "desired_changed"))
        .collect();
    assert_eq!(
        kinds,
        [
            "hooks_started",
            "hook_started",
            "hook_finished",
            "hooks_finished", // pre_start
            "started",
            "hooks_started",
            "hook_started",
            "hook_finished",
            "hooks_finished", // post_start
            "hooks_started",
            "hook_started",
            "hook_finished",
            "hooks_finished", // pre_stop
            "stopping",
            "exited",
            "hooks_started",
            "hook_started",
            "hook_finished",
            "hooks_finished", // post_stop
        ]
    );
    sup.shutdown().await;
}

#[tokio::test]
async fn a_failing_pre_start_hook_aborts_the_start_unless_ignored() {
    let mut sup = spawn_supervisor();
    let count = sup.dir.path().join("count");
    let failing = |mode: FailureMode| {
        let mut h = Hook::new("check", format!("echo x >> {}; exit 3", count.display()));
        h.failure_mode = mode;
        h
    };
    // (failure mode, runs of the hook, spawned)
    let table = [(FailureMode::Fail, 1, false), (FailureMode::Retry, 2, false), (FailureMode::Ignore, 1, true)];
    for (i, (mode, runs, spawned)) in table.into_iter().enumerate() {
        let name = format!("p{i}");
        let _ = fs::remove_file(&count);
        let mut spec = sh(&name, "sleep 300");
        spec.lifecycle.pre_start = vec![failing(mode)];
        sup.register(spec).await;
        let e = sup.wait_for_event(|e| e.name == name && matches!(e.kind, EventKind::HooksFinished { .. })).await;
        assert_eq!(fs::read_to_string(&count).expect("count").lines().count(), runs, "{mode:?}");
        let status = sup.status(&name).await;
        if spawned {
            assert!(status.state.is_alive(), "{mode:?}: {status:?}");
        } else {
            let reason = "pre_start hook \"check\" exited with code 3".to_string();
            assert_eq!(status.state, ProcessState::Fatal { reason: reason.clone() }, "{mode:?}");
            assert!(matches!(&e.kind, EventKind::HooksFinished { failure: Some(r), .. } if *r == reason));
            assert!(!sup.seen.iter().any(|e| e.name == name && e.kind.name() == "started"));
        }
    }
    sup.shutdown().await;
}

#[tokio::test]
async fn a_blocking_hook_does_not_block_the_supervisor() {
    let mut sup = spawn_supervisor();
    let gate = sup.dir.path().join("gate");
    let mut spec = sh("gated", "sleep 300");
    spec.lifecycle.pre_start =
        vec![Hook::new("wait-for-gate", format!("while [ ! -e {} ]; do sleep 0.02; done", gate.display()))];
    sup.register(spec).await;
    // The hook is running; the supervisor answers and runs other processes meanwhile.
    assert!(matches!(sup.status("gated").await.state, ProcessState::PreStart { .. }));
    sup.run(sh("other", "sleep 300")).await;
    assert!(matches!(sup.status("gated").await.state, ProcessState::PreStart { .. }));
    fs::write(&gate, "").expect("open the gate");
    sup.wait_for_event(|e| e.name == "gated" && matches!(e.kind, EventKind::Started { .. })).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn a_hook_timeout_kills_its_whole_process_group() {
    let mut sup = spawn_supervisor();
    let pgid_file = sup.dir.path().join("pgid");
    let mut hook = Hook::new("hang", format!("echo $$ > {}; sleep 300 & sleep 300", pgid_file.display()));
    hook.timeout = Duration::from_millis(300);
    hook.failure_mode = FailureMode::Ignore;
    let mut spec = sh("slow", "sleep 300");
    spec.lifecycle.pre_start = vec![hook];
    sup.register(spec).await;
    let e = sup.wait_for_event(|e| hook_finished(e, HookPhase::PreStart, "hang").is_some()).await;
    assert_eq!(hook_finished(&e, HookPhase::PreStart, "hang"), Some(HookResult::TimedOut));
    let pgid: u32 = fs::read_to_string(&pgid_file).expect("pgid").trim().parse().expect("number");
    eventually("the hook's group is gone", || live_group_members(pgid).is_empty()).await;
    // Ignored: the process starts anyway.
    sup.wait_for_event(|e| e.name == "slow" && matches!(e.kind, EventKind::Started { .. })).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn an_async_hook_outlives_its_caller_and_post_stop_runs_after_a_natural_exit() {
    let mut sup = spawn_supervisor();
    let gate = sup.dir.path().join("gate");
    let done = sup.dir.path().join("done");
    let mut notify = Hook::new(
        "notify",
        format!("while [ ! -e {} ]; do sleep 0.02; done; echo ok > {}", gate.display(), done.display()),
    );
    notify.run_mode = RunMode::Async;
    let mut spec = sh("brief", "exit 0");
    spec.lifecycle.post_start = vec![notify];
    spec.lifecycle.post_stop = vec![Hook::new("after", "true")];
    sup.register(spec).await;
    // The process exits by itself, its post_stop hook runs, the async hook is still going.
    sup.wait_for_event(|e| hook_finished(e, HookPhase::PostStop, "after").is_some()).await;
    assert!(!sup.seen.iter().any(|e| hook_finished(e, HookPhase::PostStart, "notify").is_some()));
    fs::write(&gate, "").expect("gate");
    let e = sup.wait_for_event(|e| hook_finished(e, HookPhase::PostStart, "notify").is_some()).await;
    assert_eq!(hook_finished(&e, HookPhase::PostStart, "notify"), Some(HookResult::Succeeded));
    assert_eq!(fs::read_to_string(&done).expect("done"), "ok\n");
    sup.shutdown().await;
}

#[tokio::test]
async fn a_failing_post_start_hook_stops_the_process() {
    let mut sup = spawn_supervisor();
    let mut spec: ProcessSpec = sh("checked", "sleep 300");
    spec.auto_restart = true;
    spec.lifecycle.post_start = vec![Hook::new("health", "echo unhealthy >&2; exit 1")];
    sup.register(spec).await;
    let e = sup.wait_for_event(|e| hook_finished(e, HookPhase::PostStart, "health").is_some()).await;
    assert!(matches!(&e.kind, EventKind::HookFinished { output, .. } if output == "unhealthy\n"), "{e:?}");
    let status = sup.wait_for_status("checked", |s| matches!(s.state, ProcessState::Fatal { .. })).await;
    assert_eq!(status.state, ProcessState::Fatal { reason: "post_start hook \"health\" exited with code 1".into() });
    assert!(sup.drain_sink().iter().any(|e| matches!(e.kind, EventKind::Stopping { .. })));
    sup.shutdown().await;
}

#[tokio::test]
async fn a_restart_waits_for_the_post_stop_hooks_of_the_exit_before_it() {
    let mut sup = spawn_supervisor();
    let gate = sup.dir.path().join("gate");
    let mut spec = sh("crashy", "exit 1");
    spec.auto_restart = true;
    spec.restart_interval = std::time::Duration::ZERO;
    spec.lifecycle.post_stop =
        vec![Hook::new("collect", format!("while [ ! -e {} ]; do sleep 0.02; done", gate.display()))];
    sup.register(spec).await;
    sup.wait_for_event(|e| matches!(e.kind, EventKind::HookStarted { phase: HookPhase::PostStop, .. })).await;
    // The restart is due at once, but the post_stop hook is still running.
    let status = sup.status("crashy").await;
    assert!(matches!(status.state, ProcessState::Backoff { attempt: 1, .. }), "{status:?}");
    let ticket_free = sup.handle.snapshot().await.expect("snapshot");
    assert_eq!(ticket_free.processes[0].restarts, 0);
    fs::write(&gate, "").expect("gate");
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Started { attempt: 1, .. })).await;
    let hooks_done = sup
        .seen
        .iter()
        .find(|e| matches!(e.kind, EventKind::HooksFinished { phase: HookPhase::PostStop, .. }))
        .expect("post_stop finished first");
    assert!(hooks_done.seq < e.seq);
    sup.shutdown().await;
}
