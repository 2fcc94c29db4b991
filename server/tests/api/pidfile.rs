//! `[server] pidfile`: written 0644 with the daemon's pid while it runs, removed on a clean exit.

use crate::helpers::{test_config, TestApp};
use testkit::mode_of;

#[tokio::test]
async fn the_pidfile_lives_as_long_as_the_daemon() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("provisr.pid");
    let mut config = test_config();
    config.server.pidfile = Some(path.clone());
    let mut app = TestApp::spawn_with(config).await;
    // The test daemon runs in this process.
    let text = std::fs::read_to_string(&path).expect("the pidfile exists");
    assert_eq!(text, format!("{}\n", std::process::id()));
    assert_eq!(mode_of(&path), 0o644);
    app.shutdown().await;
    assert!(!path.exists(), "removed on a clean exit");
}
