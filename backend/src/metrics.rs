//! Prometheus metrics of the supervised processes.
//!
//! [`Metrics::spawn`] follows the supervisor's event broadcast and keeps the counters and
//! the state gauge up to date as events happen (subscribe first, then a snapshot, then every
//! later event; after a lag, a fresh snapshot). CPU and memory are sampled from `/proc` at
//! scrape time, for the pids of the current snapshot, by [`Metrics::render`].
//!
//! | series | labels | meaning |
//! |---|---|---|
//! | `provisr_process_starts_total` | `name` | processes spawned (on request and automatic restarts) |
//! | `provisr_process_restarts_total` | `name` | automatic restarts (every one) |
//! | `provisr_process_stops_total` | `name` | processes that ended, whether asked to or not |
//! | `provisr_process_exit_codes_total` | `name`, `code` | ends by exit code |
//! | `provisr_process_exit_signals_total` | `name`, `signal` | ends by signal (number) |
//! | `provisr_process_state` | `name`, `state` | 1 for the instance's current state, 0 for the others |
//! | `provisr_process_cpu_percent` | `name` | CPU use since the previous scrape (first scrape: since the process started) |
//! | `provisr_process_rss_bytes` | `name` | resident memory |
//! | `provisr_build_info` | `version` | always 1 |
//! | `provisr_uptime_seconds` | | since the daemon started |
//! | `provisr_metrics_resyncs_total` | | snapshots taken after the event stream lagged |
//!
//! Counters count what this daemon saw: they start at zero with each daemon, and events
//! missed during a lag (the state is resynchronised, counts cannot be) are not counted.

use prometheus::{Encoder, Gauge, GaugeVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use supervisor::{Event, EventKind, Snapshot, SupervisorHandle};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::JoinHandle;

/// Every state name, so that each instance has one series per state (0 or 1).
const STATES: [&str; 7] = ["stopped", "starting", "running", "backoff", "stopping", "exited", "fatal"];

/// Clock ticks per second of `/proc/<pid>/stat` times: `USER_HZ`, 100 on every Linux
/// architecture we run on (the kernel reports in these units whatever its internal HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// The registry and its series.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    starts: IntCounterVec,
    restarts: IntCounterVec,
    stops: IntCounterVec,
    exit_codes: IntCounterVec,
    exit_signals: IntCounterVec,
    state: IntGaugeVec,
    cpu: GaugeVec,
    rss: IntGaugeVec,
    uptime: Gauge,
    resyncs: IntCounter,
    started: Instant,
    /// Set once the follower has subscribed and applied its first snapshot.
    following: std::sync::atomic::AtomicBool,
    /// The CPU time of each pid at the previous scrape.
    cpu_samples: Mutex<HashMap<u32, (u64, Instant)>>,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric definition");
    registry.register(Box::new(c.clone())).expect("a metric name registered once");
    c
}

impl Metrics {
    /// A registry with every series defined (and none yet observed).
    pub fn new() -> Arc<Metrics> {
        let registry = Registry::new();
        let starts = counter(&registry, "provisr_process_starts_total", "Processes spawned.", &["name"]);
        let restarts =
            counter(&registry, "provisr_process_restarts_total", "Automatic restarts of a process.", &["name"]);
        let stops = counter(&registry, "provisr_process_stops_total", "Processes that ended.", &["name"]);
        let exit_codes =
            counter(&registry, "provisr_process_exit_codes_total", "Process ends by exit code.", &["name", "code"]);
        let exit_signals = counter(
            &registry,
            "provisr_process_exit_signals_total",
            "Process ends by terminating signal.",
            &["name", "signal"],
        );
        let state = IntGaugeVec::new(
            Opts::new("provisr_process_state", "1 for the current state of each instance."),
            &["name", "state"],
        )
        .expect("a valid metric definition");
        let cpu = GaugeVec::new(Opts::new("provisr_process_cpu_percent", "CPU use in percent of one core."), &["name"])
            .expect("a valid metric definition");
        let rss = IntGaugeVec::new(Opts::new("provisr_process_rss_bytes", "Resident memory in bytes."), &["name"])
            .expect("a valid metric definition");
        let uptime = Gauge::new("provisr_uptime_seconds", "Seconds since the daemon started.")
            .expect("a valid metric definition");
        let resyncs =
            IntCounter::new("provisr_metrics_resyncs_total", "Snapshots taken because the event stream lagged.")
                .expect("a valid metric definition");
        let build_info = IntGaugeVec::new(Opts::new("provisr_build_info", "The daemon's version."), &["version"])
            .expect("a valid metric definition");
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        for c in [
            Box::new(state.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(cpu.clone()),
            Box::new(rss.clone()),
            Box::new(uptime.clone()),
            Box::new(resyncs.clone()),
            Box::new(build_info),
        ] {
            registry.register(c).expect("a metric name registered once");
        }
        Arc::new(Metrics {
            registry,
            starts,
            restarts,
            stops,
            exit_codes,
            exit_signals,
            state,
            cpu,
            rss,
            uptime,
            resyncs,
            started: Instant::now(),
            following: std::sync::atomic::AtomicBool::new(false),
            cpu_samples: Mutex::new(HashMap::new()),
        })
    }

    /// Follows the supervisor's events until `stop` completes or the supervisor ends. It
    /// subscribes before returning, so every event emitted after this call is counted: spawn
    /// it before the processes are restored and boot starts count too.
    pub fn spawn(
        self: &Arc<Self>,
        sup: SupervisorHandle,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        let metrics = Arc::clone(self);
        let rx = sup.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                () = metrics.follow(sup, rx) => {}
                () = stop => {}
            }
        })
    }

    /// Counters count every event received; the state gauge starts from a snapshot and
    /// then takes only the events after it (an event at or below the snapshot's seq is
    /// already reflected in it, and applying it now would bring back an older state).
    async fn follow(&self, sup: SupervisorHandle, mut rx: broadcast::Receiver<Arc<Event>>) {
        let Ok(snap) = sup.snapshot().await else {
            return;
        };
        self.resync(&snap);
        self.following.store(true, std::sync::atomic::Ordering::Release);
        let mut seq = snap.seq;
        loop {
            match rx.recv().await {
                Ok(e) => {
                    self.count(&e);
                    if e.seq > seq {
                        seq = e.seq;
                        self.follow_state(&e);
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "metrics fell behind the event stream; resynchronising from a snapshot");
                    self.resyncs.inc();
                    let Ok(snap) = sup.snapshot().await else {
                        return;
                    };
                    self.resync(&snap);
                    seq = snap.seq;
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// True once [`Metrics::spawn`]'s task has subscribed and applied its first snapshot:
    /// from then on no event is missed (or, after a lag, the state is resynchronised).
    pub fn is_following(&self) -> bool {
        self.following.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Updates every series for one event (its counters and the state gauge).
    pub fn apply(&self, e: &Event) {
        self.count(e);
        self.follow_state(e);
    }

    /// The counters an event moves.
    fn count(&self, e: &Event) {
        let name = e.name.as_str();
        match &e.kind {
            EventKind::Started { attempt, .. } => {
                self.starts.with_label_values(&[name]).inc();
                if *attempt > 0 {
                    self.restarts.with_label_values(&[name]).inc();
                }
            }
            EventKind::Exited { code, signal, .. } => {
                self.stops.with_label_values(&[name]).inc();
                if let Some(code) = code {
                    self.exit_codes.with_label_values(&[name, &code.to_string()]).inc();
                }
                if let Some(signal) = signal {
                    self.exit_signals.with_label_values(&[name, &signal.to_string()]).inc();
                }
            }
            _ => {}
        }
    }

    /// The state gauge after an event.
    fn follow_state(&self, e: &Event) {
        if let EventKind::InstanceRemoved { .. } = e.kind {
            for s in STATES {
                let _ = self.state.remove_label_values(&[e.name.as_str(), s]);
            }
        }
        if let Some(status) = &e.status {
            self.set_state(&status.name, status.state.name());
        }
    }

    /// Replaces the state gauge with the snapshot's (counters keep their values).
    pub fn resync(&self, snap: &Snapshot) {
        self.state.reset();
        for p in &snap.processes {
            self.set_state(&p.name, p.state.name());
        }
    }

    fn set_state(&self, name: &str, current: &str) {
        for s in STATES {
            self.state.with_label_values(&[name, s]).set(i64::from(s == current));
        }
    }

    /// The Prometheus text exposition, CPU and memory sampled now for the live pids of `snap`.
    pub fn render(&self, snap: &Snapshot) -> String {
        self.uptime.set(self.started.elapsed().as_secs_f64());
        self.cpu.reset();
        self.rss.reset();
        let now = Instant::now();
        let mut samples = self.cpu_samples.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = HashMap::new();
        for p in &snap.processes {
            let Some(pid) = p.state.pid() else {
                continue;
            };
            let Some(usage) = sample(pid) else {
                continue;
            };
            let percent = match samples.get(&pid) {
                Some((ticks, at)) if usage.cpu_ticks >= *ticks => {
                    let wall = now.duration_since(*at).as_secs_f64();
                    if wall > 0.0 {
                        (usage.cpu_ticks - ticks) as f64 / TICKS_PER_SECOND / wall * 100.0
                    } else {
                        0.0
                    }
                }
                _ => usage.lifetime_cpu_percent,
            };
            self.cpu.with_label_values(&[&p.name]).set(percent);
            self.rss.with_label_values(&[&p.name]).set(i64::try_from(usage.rss_bytes).unwrap_or(i64::MAX));
            seen.insert(pid, (usage.cpu_ticks, now));
        }
        *samples = seen;
        drop(samples);
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding into memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What `/proc` says about one process.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    /// User + system CPU time, in clock ticks (1/100 s).
    pub cpu_ticks: u64,
    /// CPU time over the process's lifetime, in percent of one core.
    pub lifetime_cpu_percent: f64,
    /// Resident memory.
    pub rss_bytes: u64,
}

/// Reads `/proc/<pid>/stat`, `/proc/<pid>/status` and `/proc/uptime`; `None` when the
/// process is gone. (The `engine` branch has a sampler of its own in the supervisor; the
/// two should become one when merged.)
pub fn sample(pid: u32) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain anything.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    // Field numbers of proc(5), minus 3: field 3 (state) is fields[0].
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let start_ticks: u64 = fields.get(19)?.parse().ok()?;
    let cpu_ticks = utime + stime;
    let boot_uptime: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    let age = boot_uptime - start_ticks as f64 / TICKS_PER_SECOND;
    let lifetime_cpu_percent = if age > 0.0 { cpu_ticks as f64 / TICKS_PER_SECOND / age * 100.0 } else { 0.0 };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some(Usage { cpu_ticks, lifetime_cpu_percent, rss_bytes: rss_kib * 1024 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_this_process() {
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(x, 1);
        let usage = sample(std::process::id()).expect("this process exists");
        assert!(usage.rss_bytes > 1024 * 1024, "{usage:?}");
        assert!(usage.lifetime_cpu_percent >= 0.0, "{usage:?}");
        assert_eq!(sample(u32::MAX), None);
    }

    fn line_value(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }

    /// With a one-event broadcast buffer a burst makes the follower lag: it must take a
    /// snapshot and end up with the true state of every instance.
    #[tokio::test]
    async fn a_lagging_follower_resynchronises_from_a_snapshot() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = supervisor::SupervisorConfig::new(dir.path());
        config.event_capacity = 1;
        let (sup, task) = supervisor::Supervisor::start(config);
        let metrics = Metrics::new();
        let stop = tokio_util_free_stop();
        let follower = metrics.spawn(sup.clone(), stop.1);
        while !metrics.is_following() {
            tokio::task::yield_now().await;
        }

        let marker = testkit::unique_marker();
        let mut spec = supervisor::ProcessSpec::new("burst", format!("sleep {marker}"));
        spec.instances = 5;
        sup.register(spec, supervisor::RegisterOptions::api()).await.expect("register");
        testkit::wait_until_async("every instance to show as running", std::time::Duration::from_secs(10), || {
            let metrics = metrics.clone();
            let sup = sup.clone();
            async move {
                let Ok(snap) = sup.snapshot().await else { return false };
                let text = metrics.render(&snap);
                (1..=5).all(|i| {
                    line_value(&text, &format!("provisr_process_state{{name=\"burst-{i}\",state=\"running\"}}"))
                        == Some(1.0)
                })
            }
        })
        .await;
        let snap = sup.snapshot().await.expect("snapshot");
        let text = metrics.render(&snap);
        assert!(line_value(&text, "provisr_metrics_resyncs_total").is_some_and(|v| v >= 1.0), "{text}");

        sup.shutdown().await;
        let _ = task.await;
        let _ = stop.0.send(());
        let _ = follower.await;
    }

    /// A stop signal for [`Metrics::spawn`] without tokio-util.
    fn tokio_util_free_stop() -> (tokio::sync::oneshot::Sender<()>, impl Future<Output = ()> + Send + 'static) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        (tx, async move {
            let _ = rx.await;
        })
    }
}
