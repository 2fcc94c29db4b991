//! Compares the capture of a stdout flood with `writer | cat > file`, on the same machine.
//!
//! `cargo run -p supervisor --example capture_throughput -- DIR 'WRITER COMMAND'`, e.g.
//! `... -- /dev/shm/cap 'yes | head -c 1G'`. Prints both times, the sizes and the ratio
//! (raw time / captured time: 1.0 means as fast as `cat > file`).

use std::path::PathBuf;
use std::time::Instant;
use supervisor::{EventKind, ProcessSpec, RegisterOptions, Supervisor, SupervisorConfig};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("DIR"));
    let writer = args.next().unwrap_or_else(|| "yes | head -c 1G".to_string());
    std::fs::create_dir_all(&dir).expect("dir");

    let raw_file = dir.join("raw.log");
    let t = Instant::now();
    let times = dir.join("cat.times");
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("{writer} | {{ TIMEFORMAT='%U %S'; time cat > {}; }} 2> {}", raw_file.display(), times.display()))
        .status()
        .expect("raw run");
    let cat_cpu: f64 = std::fs::read_to_string(&times)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse::<f64>().ok())
        .sum();
    let raw = t.elapsed();
    assert!(status.success());
    let raw_size = std::fs::metadata(&raw_file).expect("raw file").len();
    std::fs::remove_file(&raw_file).expect("remove");

    let _ = std::fs::remove_dir_all(dir.join("logs"));
    let mut config = SupervisorConfig::new(dir.join("pids"));
    config.log.dir = Some(dir.join("logs"));
    let (handle, _join) = Supervisor::start(config);
    let mut events = handle.subscribe();
    let t = Instant::now();
    handle.register(ProcessSpec::new("flood", writer.as_str()), RegisterOptions::api()).await.expect("register");
    loop {
        let e = events.recv().await.expect("events");
        if e.name == "flood" && matches!(e.kind, EventKind::Exited { .. }) {
            break;
        }
    }
    let captured = t.elapsed();
    let log = dir.join("logs/flood.stdout.log");
    let size = std::fs::metadata(&log).expect("log").len();
    println!("raw `cat > file`: {raw_size} bytes in {raw:?} ({:.0} MB/s)", raw_size as f64 / raw.as_secs_f64() / 1e6);
    println!("captured:         {size} bytes in {captured:?} ({:.0} MB/s)", size as f64 / captured.as_secs_f64() / 1e6);
    println!("ratio (raw time / captured time): {:.2}", raw.as_secs_f64() / captured.as_secs_f64());
    let ours = capture_thread_cpu();
    println!(
        "CPU per GB: cat {:.3} s, capture thread {:.3} s (ratio {:.2})",
        cat_cpu / (raw_size as f64 / 1e9),
        ours / (size as f64 / 1e9),
        cat_cpu / ours * (size as f64 / raw_size as f64)
    );
    handle.shutdown().await;
}

/// User + system seconds of the `provisr-logs` thread, from `/proc/self/task/*/stat`.
fn capture_thread_cpu() -> f64 {
    let hz = 100.0;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == "provisr-logs" {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = [11, 12].iter().filter_map(|i| f.get(*i)?.parse::<f64>().ok()).sum();
            return ticks / hz;
        }
    }
    0.0
}
