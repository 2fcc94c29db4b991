//! Crash consistency: after `kill -9` of the daemon its children keep running, and the next
//! daemon re-adopts them (same pid, no second copy) and can stop them.

use crate::helpers::{Site, TIMEOUT};
use nix::sys::signal::Signal;
use reqwest::StatusCode;
use serde_json::json;
use std::os::unix::process::ExitStatusExt;
use testkit::{eventually, pid_alive, sleepers, unique_marker, wait_for, wait_until, Leftovers};

#[tokio::test]
async fn a_new_daemon_readopts_the_children_of_a_killed_one() {
    let marker = unique_marker();
    let _cleanup = Leftovers(vec![marker.clone()]);
    let site = Site::new("");

    let (mut first, api) = site.start().await;
    api.register(json!({ "name": "survivor", "command": format!("sleep {marker}") })).await;
    let pid = api.wait_running("survivor").await;

    first.signal(Signal::SIGKILL);
    let status = first.wait_exit(TIMEOUT).await;
    assert_eq!(status.signal(), Some(9));
    assert!(pid_alive(pid), "the child outlives a crashed daemon");
    assert_eq!(sleepers(&marker), vec![pid]);

    let (mut second, api) = site.start().await;
    let st = api.status("survivor").await.expect("the registration was restored");
    assert_eq!(st["state"], "running", "{st}");
    assert_eq!(st["pid"], pid, "re-adopted: the same process, not a new one");
    assert_eq!(sleepers(&marker), vec![pid], "exactly one copy");

    assert_eq!(api.stop("survivor").await, StatusCode::OK);
    wait_until("the adopted process to be gone", TIMEOUT, || !pid_alive(pid)).await;
    assert!(sleepers(&marker).is_empty());
    let st = api.status("survivor").await.expect("status");
    assert_eq!(st["state"], "stopped");

    second.signal(Signal::SIGTERM);
    assert_eq!(second.wait_exit(TIMEOUT).await.code(), Some(0), "stderr:\n{}", second.stderr());
}

/// `kill -9` as soon as the register call has answered: the PID files are written just
/// after the spawn, off its path, so some may not exist yet; the journal appended before
/// the answer covers them. Every instance is re-adopted and none runs twice.
#[tokio::test]
async fn a_daemon_killed_right_after_spawning_many_readopts_every_one() {
    const N: usize = 400;
    let marker = unique_marker();
    let _cleanup = Leftovers(vec![marker.clone()]);
    let site = Site::new("");

    let (mut first, api) = site.start().await;
    api.register(json!({ "name": "fleet", "command": format!("sleep {marker}"), "instances": N })).await;
    first.signal(Signal::SIGKILL);
    assert_eq!(first.wait_exit(TIMEOUT).await.signal(), Some(9));
    let mut before = sleepers(&marker);
    before.sort_unstable();
    assert_eq!(before.len(), N, "every instance outlives the daemon");

    let (mut second, api) = site.start().await;
    let mut adopted = Vec::new();
    for i in 1..=N {
        let st = api.status(&format!("fleet-{i}")).await.expect("the registration was restored");
        assert_eq!(st["state"], "running", "{st}");
        adopted.push(st["pid"].as_u64().expect("a pid") as u32);
    }
    adopted.sort_unstable();
    assert_eq!(adopted, before, "re-adopted: the same processes");
    let mut now = sleepers(&marker);
    now.sort_unstable();
    assert_eq!(now, before, "no second copy");

    second.signal(Signal::SIGTERM);
    assert_eq!(second.wait_exit(TIMEOUT).await.code(), Some(0), "stderr:\n{}", second.stderr());
    wait_until("every process to be stopped", TIMEOUT, || sleepers(&marker).is_empty()).await;
}

#[tokio::test]
async fn after_a_crash_live_children_are_readopted_and_dead_ones_started_again() {
    let (marker, pinned_marker) = (unique_marker(), unique_marker());
    let _cleanup = Leftovers(vec![marker.clone(), pinned_marker.clone()]);
    let site = Site::new(&format!(
        "[[processes]]\ntype = \"process\"\n[processes.spec]\nname = \"pinned\"\ncommand = \"sleep {pinned_marker}\"\n"
    ));

    let (mut first, api) = site.start().await;
    api.register(json!({ "name": "pool", "command": format!("sleep {marker}"), "instances": 2 })).await;
    let (one, two) = (api.wait_running("pool-1").await, api.wait_running("pool-2").await);
    let pinned = api.wait_running("pinned").await;
    let one_since = api.status("pool-1").await.expect("status")["started_at"].clone();

    first.signal(Signal::SIGKILL);
    first.wait_exit(TIMEOUT).await;
    // pool-2's process dies while no daemon watches it.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(two as i32), Signal::SIGKILL).expect("kill pool-2");
    wait_until("pool-2's process to die", TIMEOUT, || !pid_alive(two)).await;
    assert!(pid_alive(one) && pid_alive(pinned));

    let (mut second, api) = site.start().await;
    let st = api.status("pool-1").await.expect("pool-1");
    assert_eq!((st["state"].as_str(), st["pid"].as_u64()), (Some("running"), Some(u64::from(one))), "re-adopted: {st}");
    let since = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().expect("started_at")).expect("RFC 3339")
    };
    let drift = (since(&st["started_at"]) - since(&one_since)).num_milliseconds().abs();
    assert!(drift < 1000, "an adopted process keeps its start time ({drift} ms apart)");
    let st = api.status("pinned").await.expect("pinned");
    assert_eq!(st["pid"], pinned, "config-file processes are re-adopted too: {st}");
    let new_two = api.wait_running("pool-2").await;
    assert_ne!(new_two, two, "the dead one was started again");
    let mut alive = sleepers(&marker);
    alive.sort();
    let mut expected = vec![one, new_two];
    expected.sort();
    assert_eq!(alive, expected, "one process per instance, no duplicates");
    assert_eq!(sleepers(&pinned_marker), vec![pinned]);

    // The new daemon owns them: its shutdown stops adopted and new ones alike.
    second.signal(Signal::SIGTERM);
    assert_eq!(second.wait_exit(TIMEOUT).await.code(), Some(0), "stderr:\n{}", second.stderr());
    for m in [&marker, &pinned_marker] {
        wait_until(&format!("no {m} left"), std::time::Duration::from_secs(3), || sleepers(m).is_empty()).await;
    }
}

/// Programs removed from the configuration while the daemon was down (after a crash), and
/// instances that no longer exist because `instances` changed, must not run on unmanaged:
/// the next daemon has no registration for them, so nobody can see or stop them through
/// the API, and a changed instance count means duplicates.
#[tokio::test]
async fn after_a_crash_processes_the_config_no_longer_defines_are_stopped() {
    let (kept, removed, shrunk) = (unique_marker(), unique_marker(), unique_marker());
    let _cleanup = Leftovers(vec![kept.clone(), removed.clone(), shrunk.clone()]);
    let program = |name: &str, marker: &str, instances: u32| {
        format!(
            "[[processes]]\ntype = \"process\"\n[processes.spec]\nname = \"{name}\"\n\
             command = \"sleep {marker}\"\ninstances = {instances}\n"
        )
    };
    let site = Site::new(
        &[program("kept", &kept, 1), program("removed", &removed, 1), program("shrunk", &shrunk, 2)].join("\n"),
    );
    let (mut first, api) = site.start().await;
    let kept_pid = api.wait_running("kept").await;
    let removed_pid = api.wait_running("removed").await;
    api.wait_running("shrunk-1").await;
    api.wait_running("shrunk-2").await;
    first.signal(Signal::SIGKILL);
    first.wait_exit(TIMEOUT).await;
    assert!(pid_alive(removed_pid));
    assert_eq!(sleepers(&shrunk).len(), 2);

    // While the daemon is down, the operator deletes one program and scales another down.
    let config = std::fs::read_to_string(site.config()).expect("config");
    let edited = config
        .replace(&program("removed", &removed, 1), "")
        .replace(&program("shrunk", &shrunk, 2), &program("shrunk", &shrunk, 1));
    assert_ne!(config, edited);
    std::fs::write(site.config(), edited).expect("rewrite config");
    let (mut second, api) = site.start().await;
    assert_eq!(api.status("kept").await.expect("kept")["pid"], kept_pid);
    assert!(api.status("removed").await.is_none(), "no longer registered");
    let shrunk_pid = api.wait_running("shrunk").await;

    let grace = std::time::Duration::from_secs(5);
    let cleaned_up = eventually(grace, || !pid_alive(removed_pid) && sleepers(&shrunk) == [shrunk_pid]).await;
    assert!(
        cleaned_up,
        "left running unmanaged: removed program {removed_pid} alive = {}; shrunk processes {:?} \
         (registered: {shrunk_pid})",
        pid_alive(removed_pid),
        sleepers(&shrunk)
    );
    second.signal(Signal::SIGTERM);
    assert_eq!(second.wait_exit(TIMEOUT).await.code(), Some(0));
}

/// A second `provisr serve` on the same configuration and data directory (started by
/// mistake while one runs) must fail without touching the processes: here it cannot bind
/// the port, and it must not leave a copy of a program running behind it.
#[tokio::test]
async fn a_second_daemon_on_the_same_data_dir_starts_no_processes() {
    let marker = unique_marker();
    let _cleanup = Leftovers(vec![marker.clone()]);
    let site = Site::new("");
    // Kept running to the end: it holds the port.
    let (_first, api) = site.start().await;
    api.register(json!({ "name": "oom-victim", "command": format!("sleep {marker}") })).await;
    let pid = api.wait_running("oom-victim").await;
    // The process dies (say, the OOM killer): it is "exited", its wish still "running".
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL).expect("kill");
    wait_for("oom-victim to be exited", TIMEOUT, || async {
        api.status("oom-victim").await.filter(|v| v["state"] == "exited")
    })
    .await;

    let mut second = site.serve();
    let status = second.wait_exit(TIMEOUT).await;
    assert_ne!(status.code(), Some(0), "the port is taken: the second daemon fails");
    let orphans = sleepers(&marker);
    assert!(
        orphans.is_empty(),
        "the failed second daemon left copies running: {orphans:?}; its stderr:\n{}",
        second.stderr()
    );
    let st = api.status("oom-victim").await.expect("the first daemon still answers");
    assert_eq!(st["state"], "exited");
}

/// After `kill -9`, a job's attempt outlives the daemon; the next daemon kills it (its pid
/// and start time match the recorded attempt) and shows the job `Failed` with the reason
/// `DaemonRestart`, not running and not run again.
#[tokio::test]
async fn after_a_crash_a_running_job_is_killed_and_closed_with_a_reason() {
    let marker = unique_marker();
    let _cleanup = Leftovers(vec![marker.clone()]);
    let site = Site::new("");
    let (mut first, api) = site.start().await;
    let res = api.post_json("/jobs", &json!({ "name": "batch", "command": format!("sleep {marker}") })).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    wait_until("the attempt running", TIMEOUT, || sleepers(&marker).len() == 1).await;
    let pid = sleepers(&marker)[0];

    first.signal(Signal::SIGKILL);
    first.wait_exit(TIMEOUT).await;
    assert!(pid_alive(pid), "the attempt outlives a crashed daemon");

    let (mut second, api) = site.start().await;
    wait_until("the orphaned attempt to be killed", TIMEOUT, || !pid_alive(pid)).await;
    let job = api.get_json("/jobs/batch").await;
    assert_eq!(job["status"]["phase"], "Failed", "{job}");
    let reasons: Vec<&str> = job["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .filter_map(|c| c["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"DaemonRestart"), "{job}");
    assert_eq!(job["attempts"][0]["reason"], "DaemonRestart", "{job}");
    assert!(sleepers(&marker).is_empty(), "not run again: the job is finished");

    second.signal(Signal::SIGTERM);
    assert_eq!(second.wait_exit(TIMEOUT).await.code(), Some(0), "stderr:\n{}", second.stderr());
}

/// A process that writes while no daemon runs is not killed by SIGPIPE: its end of each pipe
/// can read too, so the pipe keeps a reader and the writes wait in it. The daemon that
/// re-adopts the process reads on, and its log file holds every line once, in order.
#[tokio::test]
async fn a_readopted_process_keeps_writing_and_its_output_is_captured() {
    output_is_captured_across(Leave::Killed).await;
}

/// The same for a `detached` process across a graceful restart: the daemon leaves it
/// running at shutdown, and the next one re-adopts it and captures on.
#[tokio::test]
async fn a_detached_process_keeps_writing_across_a_restart_and_its_output_is_captured() {
    output_is_captured_across(Leave::Detached).await;
}

/// How the first daemon goes away while its process runs on.
#[derive(Clone, Copy, PartialEq)]
enum Leave {
    /// kill -9.
    Killed,
    /// SIGTERM, the process being `detached`.
    Detached,
}

async fn output_is_captured_across(leave: Leave) {
    let marker = unique_marker();
    let _cleanup = Leftovers(vec![marker.clone()]);
    let site = Site::new("");
    let count = site.dir.path().join("count");
    let log = site.data().join("logs/chatty.stdout.log");
    let written = || std::fs::read_to_string(&count).ok().and_then(|c| c.trim().parse::<u32>().ok());

    let (mut first, api) = site.start().await;
    let script = format!(
        "i=0; while :; do i=$((i+1)); echo line $i; echo $i > {}; sleep 0.01; done # {marker}",
        count.display()
    );
    api.register(json!({ "name": "chatty", "command": script, "detached": leave == Leave::Detached })).await;
    let pid = api.wait_running("chatty").await;
    wait_until("the first lines", TIMEOUT, || written().is_some_and(|n| n >= 3)).await;

    match leave {
        Leave::Killed => {
            first.signal(Signal::SIGKILL);
            assert_eq!(first.wait_exit(TIMEOUT).await.signal(), Some(9));
        }
        Leave::Detached => {
            first.signal(Signal::SIGTERM);
            assert_eq!(first.wait_exit(TIMEOUT).await.code(), Some(0), "stderr:\n{}", first.stderr());
        }
    }
    // The shell truncates the file before it writes the number: read until there is one.
    let count_now = || wait_for("a count", TIMEOUT, move || std::future::ready(written()));
    let at_crash = count_now().await;
    wait_until("lines written with no daemon running", TIMEOUT, || written().is_some_and(|n| n >= at_crash + 20)).await;
    assert!(pid_alive(pid), "still running: no SIGPIPE");

    let (mut second, api) = site.start().await;
    let st = api.status("chatty").await.expect("status");
    assert_eq!((st["state"].as_str(), st["pid"].as_u64()), (Some("running"), Some(u64::from(pid))), "{st}");
    let target = count_now().await + 10;
    wait_until("lines written after the re-adoption in the log file", TIMEOUT, || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains(&format!("line {target}\n")))
    })
    .await;
    // The tail holds the lines of before the crash too (the ring was seeded from the file
    // before the first line captured after the re-adoption).
    let tail = api.get_json("/processes/chatty/logs?since=0&limit=10000").await;
    let texts: Vec<&str> = tail["lines"].as_array().expect("lines").iter().filter_map(|l| l["text"].as_str()).collect();
    assert!(texts.len() as u32 >= target, "{} lines in the tail", texts.len());
    for (i, text) in texts.iter().enumerate() {
        assert_eq!(*text, format!("line {}", i + 1), "the tail: every line once and in order");
    }
    assert_eq!(api.stop("chatty").await, StatusCode::OK);
    wait_until("the process to be gone", TIMEOUT, || !pid_alive(pid)).await;

    let text = std::fs::read_to_string(&log).expect("the log file");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() as u32 >= target, "{} lines", lines.len());
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(*line, format!("line {}", i + 1), "every line once and in order");
    }

    second.signal(Signal::SIGTERM);
    assert_eq!(second.wait_exit(TIMEOUT).await.code(), Some(0), "stderr:\n{}", second.stderr());
}
