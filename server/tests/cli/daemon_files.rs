//! `[server] pidfile` and `logfile` of the real binary: the pid written 0644 while it runs
//! and removed on SIGTERM; the daemon's own log appended to the file instead of stderr.

use crate::helpers::{Site, PASSWORD, TIMEOUT};
use nix::sys::signal::Signal;
use testkit::mode_of;

#[tokio::test]
async fn pidfile_and_logfile() {
    let site = Site::new("");
    let port = site.port;
    // Relative to the config file, like every path in it.
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npidfile = \"run/provisr.pid\"\nlogfile = \"logs/provisr.log\"\n\n\
         [server.tls]\nenabled = false\n\n[auth.admin]\npassword = \"{PASSWORD}\"\n"
    );
    for dir in ["run", "logs"] {
        std::fs::create_dir_all(site.dir.path().join(dir)).expect("mkdir");
    }
    std::fs::write(site.config(), config).expect("writing the config");
    let (pidfile, logfile) = (site.dir.path().join("run/provisr.pid"), site.dir.path().join("logs/provisr.log"));

    let mut daemon = site.serve();
    daemon.wait_ready(&testkit::http_client(), &site.url()).await;
    assert_eq!(std::fs::read_to_string(&pidfile).expect("the pidfile"), format!("{}\n", daemon.pid()));
    assert_eq!(mode_of(&pidfile), 0o644);
    let log = std::fs::read_to_string(&logfile).expect("the log file");
    assert!(log.contains("opening the store"), "{log}");
    assert!(!log.contains("\u{1b}["), "no colour codes in a file: {log}");
    assert!(!daemon.stderr().contains("opening the store"), "the log goes to the file, not stderr");

    daemon.signal(Signal::SIGTERM);
    let status = daemon.wait_exit(TIMEOUT).await;
    assert_eq!(status.code(), Some(0), "stderr:\n{}", daemon.stderr());
    assert!(!pidfile.exists(), "the pidfile is removed on a clean exit");
    let log = std::fs::read_to_string(&logfile).expect("the log file");
    assert!(log.contains("shutting down"), "{log}");
}
