//! A daemon started with signals ignored (under `nohup`, or as a background job of a shell
//! without job control) starts its processes and their hooks with every signal at its
//! default disposition and none blocked: an ignored disposition would otherwise pass to
//! them through `exec`, and a program could not be stopped by its `stop_signal`.

use crate::helpers::{Site, TIMEOUT};
use nix::sys::signal::Signal;
use reqwest::StatusCode;
use serde_json::json;
use testkit::{wait_for, wait_until};

#[tokio::test]
async fn processes_start_with_default_signal_dispositions_whatever_the_daemon_ignores() {
    let site = Site::new("");
    let (mut daemon, api) = site.ready(site.serve_ignoring("HUP INT QUIT USR1")).await;
    let dir = site.dir.path();

    // The masks as the kernel reports them for a program the daemon started, and for a
    // hook it ran (hooks are spawned the same way).
    let (masks, hook_masks) = (dir.join("masks"), dir.join("hook-masks"));
    let grep = |file: &std::path::Path| format!("grep -E '^Sig(Blk|Ign)' /proc/self/status > {}", file.display());
    api.register(json!({
        "name": "masks",
        "command": grep(&masks),
        "lifecycle": { "pre_start": [{ "name": "masks", "command": grep(&hook_masks) }] },
    }))
    .await;
    for file in [&masks, &hook_masks] {
        let written = wait_for("the masks to be written", TIMEOUT, || {
            std::future::ready(std::fs::read_to_string(file).ok().filter(|m| m.lines().count() == 2))
        })
        .await;
        let mask = |name: &str| {
            let line = written.lines().find_map(|l| l.strip_prefix(name)).expect("the mask");
            u64::from_str_radix(line.trim(), 16).expect("a hexadecimal mask")
        };
        assert_eq!(mask("SigBlk:"), 0, "nothing blocked in {}: {written}", file.display());
        // Signals 32 and 33 are glibc's own (thread cancellation, set*id): its posix_spawn
        // leaves them ignored, and every glibc program sets them up again at start.
        assert_eq!(mask("SigIgn:") & !(0b11 << 31), 0, "nothing ignored in {}: {written}", file.display());
    }

    // What an operator sees: a shell cannot trap a signal it started with ignored, so
    // without the reset this process would be killed at the stop timeout instead.
    let (ready, trapped) = (dir.join("ready"), dir.join("trapped"));
    api.register(json!({
        "name": "graceful",
        "command": format!(
            "trap 'touch {}; exit 0' INT; touch {}; while :; do sleep 0.1; done",
            trapped.display(),
            ready.display()
        ),
        "stop_signal": "SIGINT",
        "stop_timeout": "60s",
    }))
    .await;
    wait_until("the trap to be set", TIMEOUT, || ready.exists()).await;
    assert_eq!(api.stop("graceful").await, StatusCode::OK);
    wait_until("the stop to finish", TIMEOUT, || trapped.exists()).await;

    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).await.code(), Some(0), "stderr:\n{}", daemon.stderr());
}
