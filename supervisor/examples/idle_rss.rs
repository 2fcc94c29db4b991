//! Resident memory of the supervisor with N idle (`sleep`) processes, all captured.
//!
//! `cargo run -p supervisor --example idle_rss -- DIR [N]` prints VmRSS before and after.

use std::path::PathBuf;
use supervisor::{ProcessSpec, RegisterOptions, Selector, Supervisor, SupervisorConfig};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("DIR"));
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let mut config = SupervisorConfig::new(dir.join("pids"));
    config.log.dir = Some(dir.join("logs"));
    let (handle, _join) = Supervisor::start(config);
    let before = rss_kib();
    for i in 0..n {
        let spec = ProcessSpec::new(format!("idle{i}"), "sleep 1000");
        handle.register(spec, RegisterOptions::api()).await.expect("register");
    }
    let running = handle.status(Selector::All).await.expect("status").len();
    let after = rss_kib();
    println!(
        "{running} processes: RSS {before} KiB before, {after} KiB after ({} bytes each)",
        (after - before) * 1024 / n as u64
    );
    handle.shutdown().await;
}
