//! SIGTERM: every managed process is stopped — whole process groups — and the daemon exits 0.

use crate::helpers::{Site, TIMEOUT};
use nix::sys::signal::Signal;
use serde_json::json;
use std::time::Duration;
use testkit::{pids_with_marker, sleepers, unique_marker, wait_until, Leftovers};

#[tokio::test]
async fn sigterm_stops_every_process_group_and_exits_0() {
    let (api_marker, config_marker) = (unique_marker(), unique_marker());
    let _cleanup = Leftovers(vec![api_marker.clone(), config_marker.clone()]);
    let site = Site::new(&format!(
        "[[processes]]\ntype = \"process\"\n[processes.spec]\nname = \"from-config\"\ncommand = \"sleep {config_marker}\"\n"
    ));
    let (mut daemon, api) = site.start().await;

    // A shell that leaves a background child in its group, plus its foreground child.
    api.register(json!({ "name": "group", "command": format!("sleep {api_marker} & sleep {api_marker}") })).await;
    api.wait_running("group").await;
    api.wait_running("from-config").await;
    wait_until("both sleeps of the group", TIMEOUT, || sleepers(&api_marker).len() == 2).await;
    assert_eq!(sleepers(&config_marker).len(), 1);

    daemon.signal(Signal::SIGTERM);
    let status = daemon.wait_exit(TIMEOUT).await;
    assert_eq!(status.code(), Some(0), "stderr:\n{}", daemon.stderr());
    // Killed processes may need a moment to leave /proc; nothing may survive for good.
    for marker in [&api_marker, &config_marker] {
        wait_until(&format!("no process with {marker} left"), Duration::from_secs(3), || {
            pids_with_marker(marker).is_empty()
        })
        .await;
    }
}
