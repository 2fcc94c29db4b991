//! Prometheus metrics of the supervised processes, jobs and cronjobs.
//!
//! [`Metrics::spawn`] follows the event bus shared by the process supervisor and the jobs
//! controller and keeps the counters and gauges up to date as events happen (subscribe
//! first, then a snapshot of both actors, then every later event; after a lag, fresh
//! snapshots). CPU and memory come from [`SupervisorHandle::resources`] at scrape time.
//!
//! | series | labels | meaning |
//! |---|---|---|
//! | `provisr_process_starts_total` | `name` | processes spawned (on request and automatic restarts) |
//! | `provisr_process_restarts_total` | `name` | automatic restarts (every one) |
//! | `provisr_process_stops_total` | `name` | processes that ended because a stop was asked for (stop, restart, update, unregister, shutdown) |
//! | `provisr_process_exits_total` | `name`, `reason` | every end: `requested`, `failed_start` (before `start_duration`), `exited_zero`, `exited_nonzero`, `signaled` |
//! | `provisr_process_exit_codes_total` | `name`, `code` | ends by exit code |
//! | `provisr_process_exit_signals_total` | `name`, `signal` | ends by signal (number) |
//! | `provisr_process_state` | `name`, `state` | 1 for the instance's current state, 0 for the others |
//! | `provisr_process_cpu_percent` | `name` | CPU use of the process group since its previous sample (first: since it started) |
//! | `provisr_process_rss_bytes` | `name` | resident memory of the process group |
//! | `provisr_job_runs_total` | `job_name`, `cronjob`, `result`, `reason` | finished jobs: `result` `succeeded` (`reason` `Completed`) or `failed` (`BackoffLimitExceeded`, `DeadlineExceeded`, `FailedIndexes`, `PodFailurePolicy`) |
//! | `provisr_job_duration_seconds` | `job_name`, `cronjob`, `result` | histogram of start → completion of finished jobs |
//! | `provisr_job_attempts_started_total` | `job_name`, `cronjob` | attempts spawned |
//! | `provisr_job_attempts_ended_total` | `job_name`, `cronjob`, `reason` | attempts ended, by reason (`Succeeded`, `Failed`, `SpawnFailed`, `DeadlineExceeded`, …; a spawn failure ends an attempt that never started) |
//! | `provisr_job_active_attempts` | `job_name`, `cronjob` | attempts alive now |
//! | `provisr_job_live` | `job_name`, `cronjob`, `phase` | live jobs by phase (`Pending`, `Running`, `Suspended`, `Succeeded`, `Failed`) |
//! | `provisr_cronjob_runs_total` | `cronjob`, `outcome`, `reason` | fire times: `created` (`Scheduled`, `Manual`) or `skipped` (`ConcurrencyForbid`, `MissedStartingDeadline`, `JobCreateFailed`) |
//! | `provisr_cronjob_last_schedule_time_seconds` | `cronjob` | unix time of the last scheduled run created (absent before the first) |
//! | `provisr_cronjob_last_successful_time_seconds` | `cronjob` | unix time a run last succeeded (absent before the first) |
//! | `provisr_cronjob_next_schedule_time_seconds` | `cronjob` | unix time of the next fire time (absent while suspended) |
//! | `provisr_cronjob_suspended` | `cronjob` | 1 while scheduling is suspended |
//! | `provisr_cronjob_active_jobs` | `cronjob` | its jobs not finished yet |
//! | `provisr_build_info` | `version` | always 1 |
//! | `provisr_uptime_seconds` | | since the daemon started |
//! | `provisr_metrics_resyncs_total` | | snapshots taken after the event stream lagged |
//!
//! **Job labels.** A cronjob creates jobs named `<cronjob>-<unix time>`: labelling by that
//! name would add series without bound. So every `provisr_job_*` series of a job created
//! by a cronjob has `job_name` = `cronjob` = the cronjob's name (its runs add up there);
//! a job of its own has `job_name` = its name and `cronjob=""`. (The label is `job_name`,
//! as in kube-state-metrics, because Prometheus gives every scraped series a `job` label
//! of its own and would rename ours to `exported_job`.)
//!
//! **Removed things.** Gauges of a removed process instance, job or cronjob go at once.
//! Its counters and histograms stay for [`RETENTION`] (so that a scrape sees how it ended,
//! even for a job whose TTL is 0) and are then dropped, unless it came back meanwhile: series
//! of deleted things do not pile up.
//!
//! Counters count what this daemon saw: they start at zero with each daemon, and events
//! missed during a lag (the gauges are resynchronised, counts cannot be) are not counted.

mod process;

use process::{ProcessFamilies, Sample};
use prometheus::core::{Collector, MetricVec, MetricVecBuilder};
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use supervisor::cron::{CronChange, CronEvent, CronJobStatus, FireOutcome};
use supervisor::jobs::{JobChange, JobEvent, JobOrigin, JobPhase, JobStatus, JobsHandle, JobsSnapshot};
use supervisor::{Event, EventKind, Selector, Snapshot, SupervisorHandle};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::JoinHandle;

/// Every state name, so that each instance has one series per state (0 or 1).
const STATES: [&str; 7] = ["stopped", "starting", "running", "backoff", "stopping", "exited", "fatal"];

/// Every job phase, in [`phase_index`] order.
const PHASES: [&str; 5] = ["Pending", "Running", "Suspended", "Succeeded", "Failed"];

/// How long the counters of a removed instance, job or cronjob stay.
pub const RETENTION: Duration = Duration::from_secs(300);

/// Upper bounds of the job duration buckets, in seconds (100 ms to a day).
const DURATION_BUCKETS: [f64; 16] =
    [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data: a panic while it was held left nothing half-done.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A family whose series belong to an owner (the values of its first `owner` labels): it
/// remembers the label sets used per owner, so that all of an owner's series can go.
struct Owned<V> {
    vec: V,
    owner: usize,
    seen: Mutex<HashMap<Vec<String>, HashSet<Vec<String>>>>,
}

impl<V> std::fmt::Debug for Owned<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Owned").field("owner", &self.owner).finish_non_exhaustive()
    }
}

impl<B: MetricVecBuilder + 'static> Owned<MetricVec<B>> {
    fn new(registry: &Registry, vec: MetricVec<B>, owner: usize) -> Self {
        registry.register(Box::new(vec.clone())).expect("a metric name registered once");
        Self { vec, owner, seen: Mutex::new(HashMap::new()) }
    }

    fn get(&self, labels: &[&str]) -> B::M {
        let all: Vec<String> = labels.iter().map(|s| (*s).to_string()).collect();
        lock(&self.seen).entry(all[..self.owner].to_vec()).or_default().insert(all);
        self.vec.with_label_values(labels)
    }

    fn forget(&self, owner: &[String]) {
        let Some(sets) = lock(&self.seen).remove(owner) else { return };
        for labels in sets {
            let _ = self.vec.remove_label_values(&labels.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}

/// The labels of a job's series: `(job_name, cronjob)` (see the module docs).
type JobKey = (String, String);

fn job_key(status: &JobStatus) -> JobKey {
    match &status.origin {
        JobOrigin::CronJob { cronjob, .. } => (cronjob.clone(), cronjob.clone()),
        _ => (status.name.clone(), String::new()),
    }
}

fn phase_index(phase: JobPhase) -> usize {
    match phase {
        JobPhase::Pending => 0,
        JobPhase::Running => 1,
        JobPhase::Suspended => 2,
        JobPhase::Succeeded => 3,
        JobPhase::Failed => 4,
    }
}

/// Whose counters a retirement drops.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Owner {
    Process(String),
    Job(JobKey),
    Cron(String),
}

/// What a live job adds to its key's gauges.
#[derive(Clone, Debug)]
struct LiveJob {
    key: JobKey,
    phase: usize,
    active: i64,
}

/// The sums behind a key's gauges.
#[derive(Clone, Debug, Default)]
struct Agg {
    jobs: i64,
    active: i64,
    phases: [i64; 5],
}

/// What the follower knows of the live world, to keep gauges right and retire counters.
#[derive(Debug, Default)]
struct Tracked {
    processes: HashSet<String>,
    jobs: HashMap<String, LiveJob>,
    keys: HashMap<JobKey, Agg>,
    crons: HashSet<String>,
    /// Owners gone, with the time their counters go.
    retired: HashMap<Owner, Instant>,
}

/// The registry and its series.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    processes: Arc<ProcessFamilies>,
    job_runs: Owned<IntCounterVec>,
    job_duration: Owned<HistogramVec>,
    attempts_started: Owned<IntCounterVec>,
    attempts_ended: Owned<IntCounterVec>,
    active_attempts: IntGaugeVec,
    live_jobs: IntGaugeVec,
    cron_runs: Owned<IntCounterVec>,
    cron_last_schedule: GaugeVec,
    cron_last_success: GaugeVec,
    cron_next_schedule: GaugeVec,
    cron_suspended: IntGaugeVec,
    cron_active: IntGaugeVec,
    uptime: Gauge,
    resyncs: IntCounter,
    started: Instant,
    retention: Duration,
    tracked: Mutex<Tracked>,
    /// Set once the follower has subscribed and applied its first snapshots.
    following: std::sync::atomic::AtomicBool,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str], owner: usize) -> Owned<IntCounterVec> {
    Owned::new(registry, IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric definition"), owner)
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("a valid metric definition");
    registry.register(Box::new(g.clone())).expect("a metric name registered once");
    g
}

fn int_gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric definition");
    registry.register(Box::new(g.clone())).expect("a metric name registered once");
    g
}

/// The process families, registered while [`Metrics`] keeps updating them.
struct SharedProcesses(Arc<ProcessFamilies>);

impl Collector for SharedProcesses {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.0.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.0.collect()
    }
}

/// The `reason` of `provisr_process_exits_total` (one of `process::EXIT_REASONS`).
fn exit_reason(code: Option<i32>, signal: Option<i32>, requested: bool, failed_start: bool) -> &'static str {
    match (requested, failed_start, code, signal) {
        (true, ..) => "requested",
        (false, true, ..) => "failed_start",
        (false, false, _, Some(_)) => "signaled",
        (false, false, Some(0), None) => "exited_zero",
        (false, false, _, None) => "exited_nonzero",
    }
}

/// The `(outcome, reason)` of `provisr_cronjob_runs_total`: a short reason, never the
/// free text of the event (which names jobs and durations).
fn fire_labels(outcome: &FireOutcome, manual: bool) -> (&'static str, &'static str) {
    match outcome {
        FireOutcome::Created { .. } if manual => ("created", "Manual"),
        FireOutcome::Created { .. } => ("created", "Scheduled"),
        FireOutcome::Skipped { reason } if reason.starts_with("concurrency_policy Forbid") => {
            ("skipped", "ConcurrencyForbid")
        }
        FireOutcome::Skipped { reason } if reason.starts_with("missed its starting deadline") => {
            ("skipped", "MissedStartingDeadline")
        }
        FireOutcome::Skipped { reason } if reason.starts_with("cannot create the job") => {
            ("skipped", "JobCreateFailed")
        }
        FireOutcome::Skipped { .. } => ("skipped", "Other"),
    }
}

/// A serde unit variant's name (`AttemptReason::SpawnFailed` → `"SpawnFailed"`).
fn variant_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "Unknown".into(),
    }
}

impl Metrics {
    /// A registry with every series defined (and none yet observed).
    pub fn new() -> Arc<Metrics> {
        Self::with_retention(RETENTION)
    }

    /// As [`Metrics::new`], keeping the counters of removed things for `retention`.
    pub fn with_retention(retention: Duration) -> Arc<Metrics> {
        let r = Registry::new();
        let job = ["job_name", "cronjob"];
        let job_reason = ["job_name", "cronjob", "reason"];
        let job_duration = HistogramVec::new(
            HistogramOpts::new(
                "provisr_job_duration_seconds",
                "Seconds from a job's start to its completion, for finished jobs.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["job_name", "cronjob", "result"],
        )
        .expect("a valid metric definition");
        let metrics = Metrics {
            processes: Arc::new(ProcessFamilies::new()),
            job_runs: counter(
                &r,
                "provisr_job_runs_total",
                "Finished jobs by result and reason.",
                &["job_name", "cronjob", "result", "reason"],
                2,
            ),
            job_duration: Owned::new(&r, job_duration, 2),
            attempts_started: counter(&r, "provisr_job_attempts_started_total", "Job attempts spawned.", &job, 2),
            attempts_ended: counter(
                &r,
                "provisr_job_attempts_ended_total",
                "Job attempts ended, by reason.",
                &job_reason,
                2,
            ),
            active_attempts: int_gauge(&r, "provisr_job_active_attempts", "Job attempts alive now.", &job),
            live_jobs: int_gauge(&r, "provisr_job_live", "Live jobs by phase.", &["job_name", "cronjob", "phase"]),
            cron_runs: counter(
                &r,
                "provisr_cronjob_runs_total",
                "Cronjob fire times: a job created, or the run skipped (and why).",
                &["cronjob", "outcome", "reason"],
                1,
            ),
            cron_last_schedule: gauge(
                &r,
                "provisr_cronjob_last_schedule_time_seconds",
                "Unix time of the schedule time of the cronjob's last scheduled run.",
                &["cronjob"],
            ),
            cron_last_success: gauge(
                &r,
                "provisr_cronjob_last_successful_time_seconds",
                "Unix time a run of the cronjob last succeeded.",
                &["cronjob"],
            ),
            cron_next_schedule: gauge(
                &r,
                "provisr_cronjob_next_schedule_time_seconds",
                "Unix time of the cronjob's next fire time (absent while suspended).",
                &["cronjob"],
            ),
            cron_suspended: int_gauge(
                &r,
                "provisr_cronjob_suspended",
                "1 while the cronjob is suspended.",
                &["cronjob"],
            ),
            cron_active: int_gauge(
                &r,
                "provisr_cronjob_active_jobs",
                "Jobs of the cronjob not finished yet.",
                &["cronjob"],
            ),
            uptime: Gauge::new("provisr_uptime_seconds", "Seconds since the daemon started.")
                .expect("a valid metric definition"),
            resyncs: IntCounter::new(
                "provisr_metrics_resyncs_total",
                "Snapshots taken because the event stream lagged.",
            )
            .expect("a valid metric definition"),
            registry: r,
            started: Instant::now(),
            retention,
            tracked: Mutex::new(Tracked::default()),
            following: std::sync::atomic::AtomicBool::new(false),
        };
        let build_info = IntGaugeVec::new(Opts::new("provisr_build_info", "The daemon's version."), &["version"])
            .expect("a valid metric definition");
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        for c in [
            Box::new(SharedProcesses(Arc::clone(&metrics.processes))) as Box<dyn Collector>,
            Box::new(metrics.uptime.clone()),
            Box::new(metrics.resyncs.clone()),
            Box::new(build_info),
        ] {
            metrics.registry.register(c).expect("a metric name registered once");
        }
        Arc::new(metrics)
    }

    /// Follows the bus of the supervisor and the jobs controller until `stop` completes or
    /// the bus closes. It subscribes before returning, so every event emitted after this
    /// call is counted: spawn it before processes and jobs are restored, and boot starts
    /// count too.
    pub fn spawn(
        self: &Arc<Self>,
        sup: SupervisorHandle,
        jobs: JobsHandle,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        let metrics = Arc::clone(self);
        let rx = sup.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                () = metrics.follow(sup, jobs, rx) => {}
                () = stop => {}
            }
        })
    }

    /// Counters count every event received; the gauges start from the snapshots and then
    /// take only the events after them (an event at or below a snapshot's seq is already
    /// reflected in it, and applying it now would bring back an older state). The two
    /// actors' snapshots have sequence numbers of their own.
    async fn follow(&self, sup: SupervisorHandle, jobs: JobsHandle, mut rx: broadcast::Receiver<Arc<Event>>) {
        let Some((mut proc_seq, mut jobs_seq)) = self.snapshot(&sup, &jobs).await else { return };
        self.following.store(true, std::sync::atomic::Ordering::Release);
        loop {
            match rx.recv().await {
                Ok(e) => {
                    self.count(&e);
                    let seq = match e.kind {
                        EventKind::Job(_) | EventKind::Cron(_) => &mut jobs_seq,
                        _ => &mut proc_seq,
                    };
                    if e.seq > *seq {
                        *seq = e.seq;
                        self.follow_state(&e);
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "metrics fell behind the event stream; resynchronising from snapshots");
                    self.resyncs.inc();
                    let Some(seqs) = self.snapshot(&sup, &jobs).await else { return };
                    (proc_seq, jobs_seq) = seqs;
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    async fn snapshot(&self, sup: &SupervisorHandle, jobs: &JobsHandle) -> Option<(u64, u64)> {
        let procs = sup.snapshot().await.ok()?;
        let js = jobs.snapshot().await.ok()?;
        self.resync(&procs, &js);
        Some((procs.seq, js.seq))
    }

    /// True once [`Metrics::spawn`]'s task has subscribed and applied its first snapshots:
    /// from then on no event is missed (or, after a lag, the gauges are resynchronised).
    pub fn is_following(&self) -> bool {
        self.following.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The counters an event moves.
    fn count(&self, e: &Event) {
        let name = e.name.as_str();
        match &e.kind {
            EventKind::Started { attempt, .. } => self.processes.started(name, *attempt > 0),
            EventKind::Exited { code, signal, requested, failed_start, .. } => {
                let reason = exit_reason(*code, *signal, *requested, *failed_start);
                self.processes.ended(name, reason, *requested, *code, *signal);
            }
            EventKind::Job(job) => self.count_job(job),
            EventKind::Cron(cron) => {
                if let CronChange::Fired { manual, outcome, .. } = &cron.change {
                    let (outcome, reason) = fire_labels(outcome, *manual);
                    self.cron_runs.get(&[name, outcome, reason]).inc();
                }
            }
            _ => {}
        }
    }

    fn count_job(&self, e: &JobEvent) {
        // Every change counted here is about a live job: the event carries its status.
        let Some(status) = &e.job else { return };
        let (job_name, cronjob) = job_key(status);
        let key = [job_name.as_str(), cronjob.as_str()];
        match &e.change {
            JobChange::AttemptStarted { .. } => self.attempts_started.get(&key).inc(),
            JobChange::AttemptEnded { attempt } => {
                let reason = attempt.reason.as_ref().map_or_else(|| "Unknown".into(), variant_name);
                self.attempts_ended.get(&[key[0], key[1], &reason]).inc();
            }
            JobChange::Finished { condition } => {
                let result = if status.phase == JobPhase::Succeeded { "succeeded" } else { "failed" };
                self.job_runs.get(&[key[0], key[1], result, &condition.reason]).inc();
                if let (Some(start), Some(end)) = (status.start_time, status.completion_time) {
                    let seconds = (end - start).to_std().unwrap_or_default().as_secs_f64();
                    self.job_duration.get(&[key[0], key[1], result]).observe(seconds);
                }
            }
            _ => {}
        }
    }

    /// The gauges after an event.
    fn follow_state(&self, e: &Event) {
        let mut t = lock(&self.tracked);
        match &e.kind {
            EventKind::InstanceRemoved { .. } => {
                self.processes.remove_state(&e.name);
                t.processes.remove(&e.name);
                self.retire(&mut t, Owner::Process(e.name.clone()));
            }
            EventKind::Job(job) => match &job.job {
                Some(status) => self.set_job(&mut t, status),
                None => self.drop_job(&mut t, &e.name),
            },
            EventKind::Cron(cron) => self.follow_cron(&mut t, &e.name, cron),
            _ => {}
        }
        if let Some(status) = &e.status {
            self.set_state(&status.name, status.state.name());
            t.retired.remove(&Owner::Process(status.name.clone()));
            t.processes.insert(status.name.clone());
        }
    }

    fn follow_cron(&self, t: &mut Tracked, name: &str, e: &CronEvent) {
        match &e.cronjob {
            Some(status) => self.set_cron(t, status),
            None => {
                self.drop_cron_gauges(name);
                t.crons.remove(name);
                self.retire(t, Owner::Cron(name.to_string()));
                let key = (name.to_string(), name.to_string());
                if !t.keys.contains_key(&key) {
                    self.retire(t, Owner::Job(key));
                }
            }
        }
    }

    /// Replaces the gauges with the snapshots' (counters keep their values); what is no
    /// longer there is retired.
    fn resync(&self, procs: &Snapshot, jobs: &JobsSnapshot) {
        let mut t = lock(&self.tracked);
        self.processes.clear_states();
        let live: HashSet<String> = procs.processes.iter().map(|p| p.name.clone()).collect();
        for gone in t.processes.difference(&live).cloned().collect::<Vec<_>>() {
            self.retire(&mut t, Owner::Process(gone));
        }
        for p in &procs.processes {
            self.set_state(&p.name, p.state.name());
            t.retired.remove(&Owner::Process(p.name.clone()));
        }
        t.processes = live;

        self.active_attempts.reset();
        self.live_jobs.reset();
        let old_keys: Vec<JobKey> = t.keys.keys().cloned().collect();
        t.jobs.clear();
        t.keys.clear();
        for c in [&self.cron_last_schedule, &self.cron_last_success, &self.cron_next_schedule] {
            c.reset();
        }
        self.cron_suspended.reset();
        self.cron_active.reset();
        let old_crons: Vec<String> = t.crons.drain().collect();
        for c in &jobs.cronjobs {
            self.set_cron(&mut t, c);
        }
        for j in &jobs.jobs {
            self.set_job(&mut t, j);
        }
        for c in old_crons {
            if !t.crons.contains(&c) {
                self.retire(&mut t, Owner::Cron(c));
            }
        }
        for key in old_keys {
            if !self.key_live(&t, &key) {
                self.retire(&mut t, Owner::Job(key));
            }
        }
    }

    fn set_state(&self, name: &str, current: &str) {
        self.processes.set_state(name, current);
    }

    /// A job's status after an event: its key's sums and gauges.
    fn set_job(&self, t: &mut Tracked, status: &JobStatus) {
        let key = job_key(status);
        let new = LiveJob { key: key.clone(), phase: phase_index(status.phase), active: i64::from(status.active) };
        if let Some(old) = t.jobs.insert(status.name.clone(), new.clone()) {
            self.add(t, &old, -1);
        }
        self.add(t, &new, 1);
        t.retired.remove(&Owner::Job(key));
    }

    /// A job left the live list.
    fn drop_job(&self, t: &mut Tracked, name: &str) {
        let Some(old) = t.jobs.remove(name) else { return };
        self.add(t, &old, -1);
        if !self.key_live(t, &old.key) {
            self.retire(t, Owner::Job(old.key));
        }
    }

    /// Adds (`sign` 1) or takes away (-1) a job's share of its key's gauges.
    fn add(&self, t: &mut Tracked, job: &LiveJob, sign: i64) {
        let agg = t.keys.entry(job.key.clone()).or_default();
        agg.jobs += sign;
        agg.active += sign * job.active;
        agg.phases[job.phase] += sign;
        let (name, cron) = (job.key.0.as_str(), job.key.1.as_str());
        if agg.jobs <= 0 {
            t.keys.remove(&job.key);
            let _ = self.active_attempts.remove_label_values(&[name, cron]);
            for p in PHASES {
                let _ = self.live_jobs.remove_label_values(&[name, cron, p]);
            }
            return;
        }
        self.active_attempts.with_label_values(&[name, cron]).set(agg.active);
        for (i, p) in PHASES.iter().enumerate() {
            self.live_jobs.with_label_values(&[name, cron, p]).set(agg.phases[i]);
        }
    }

    /// A job key has live jobs, or is that of a live cronjob.
    fn key_live(&self, t: &Tracked, key: &JobKey) -> bool {
        t.keys.contains_key(key) || (!key.1.is_empty() && t.crons.contains(&key.1))
    }

    fn set_cron(&self, t: &mut Tracked, c: &CronJobStatus) {
        let name = c.name.as_str();
        let time = |g: &GaugeVec, at: Option<chrono::DateTime<chrono::Utc>>| match at {
            Some(at) => g.with_label_values(&[name]).set(at.timestamp_millis() as f64 / 1000.0),
            None => {
                let _ = g.remove_label_values(&[name]);
            }
        };
        time(&self.cron_last_schedule, c.last_schedule_time);
        time(&self.cron_last_success, c.last_successful_time);
        time(&self.cron_next_schedule, c.next_schedule_time);
        self.cron_suspended.with_label_values(&[name]).set(i64::from(c.suspended));
        self.cron_active.with_label_values(&[name]).set(i64::try_from(c.active.len()).unwrap_or(i64::MAX));
        t.crons.insert(c.name.clone());
        t.retired.remove(&Owner::Cron(c.name.clone()));
        t.retired.remove(&Owner::Job((c.name.clone(), c.name.clone())));
    }

    fn drop_cron_gauges(&self, name: &str) {
        for g in [&self.cron_last_schedule, &self.cron_last_success, &self.cron_next_schedule] {
            let _ = g.remove_label_values(&[name]);
        }
        let _ = self.cron_suspended.remove_label_values(&[name]);
        let _ = self.cron_active.remove_label_values(&[name]);
    }

    fn retire(&self, t: &mut Tracked, owner: Owner) {
        t.retired.entry(owner).or_insert_with(|| Instant::now() + self.retention);
    }

    /// Drops the counters of owners retired long enough ago.
    fn sweep(&self) {
        let now = Instant::now();
        let mut t = lock(&self.tracked);
        let due: Vec<Owner> = t.retired.iter().filter(|(_, at)| **at <= now).map(|(o, _)| o.clone()).collect();
        for owner in due {
            t.retired.remove(&owner);
            match owner {
                Owner::Process(name) => self.processes.forget(&name),
                Owner::Job((job_name, cronjob)) => {
                    let o = [job_name, cronjob];
                    for c in [&self.job_runs, &self.attempts_started, &self.attempts_ended] {
                        c.forget(&o);
                    }
                    self.job_duration.forget(&o);
                }
                Owner::Cron(name) => self.cron_runs.forget(&[name]),
            }
        }
    }

    /// The Prometheus text exposition, with CPU and memory of every live instance sampled
    /// now ([`SupervisorHandle::resources`]).
    pub async fn render(&self, sup: &SupervisorHandle) -> supervisor::Result<String> {
        let samples = sup.resources(Selector::All).await?;
        self.uptime.set(self.started.elapsed().as_secs_f64());
        self.processes.set_samples(
            samples
                .into_iter()
                .map(|s| Sample { name: s.name, cpu_percent: s.cpu_percent, rss_bytes: s.rss_bytes })
                .collect(),
        );
        self.sweep();
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding into memory");
        Ok(String::from_utf8(out).expect("the text format is UTF-8"))
    }
}

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor::jobs::{Jobs, JobsConfig};

    #[test]
    fn exit_reasons() {
        let table = [
            ((Some(0), None, true, false), "requested"),
            ((None, Some(15), true, false), "requested"),
            ((Some(1), None, false, true), "failed_start"),
            ((None, Some(9), false, false), "signaled"),
            ((Some(0), None, false, false), "exited_zero"),
            ((Some(3), None, false, false), "exited_nonzero"),
        ];
        for ((code, signal, requested, failed_start), want) in table {
            assert_eq!(exit_reason(code, signal, requested, failed_start), want, "{code:?} {signal:?} {requested}");
        }
    }

    #[test]
    fn fire_reasons_are_short() {
        let created = FireOutcome::Created { job: "c-1".into(), replaced: vec![] };
        let skipped = |r: &str| FireOutcome::Skipped { reason: r.into() };
        let table = [
            (created.clone(), false, ("created", "Scheduled")),
            (created, true, ("created", "Manual")),
            (skipped("concurrency_policy Forbid: c-1 still active"), false, ("skipped", "ConcurrencyForbid")),
            (skipped("missed its starting deadline of 5s by 1s"), false, ("skipped", "MissedStartingDeadline")),
            (skipped("cannot create the job: invalid"), false, ("skipped", "JobCreateFailed")),
            (skipped("something new"), false, ("skipped", "Other")),
        ];
        for (outcome, manual, want) in table {
            assert_eq!(fire_labels(&outcome, manual), want, "{outcome:?}");
        }
    }

    fn line_value(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }

    struct World {
        sup: SupervisorHandle,
        jobs: JobsHandle,
        metrics: Arc<Metrics>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        tasks: Vec<JoinHandle<()>>,
        _dir: tempfile::TempDir,
    }

    async fn world(event_capacity: usize, retention: Duration) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = supervisor::SupervisorConfig::new(dir.path());
        config.event_capacity = event_capacity;
        let (sup, sup_task) = supervisor::Supervisor::start(config);
        let (jobs, jobs_task) = Jobs::start(sup.bus(), JobsConfig { log_dir: None, env: Vec::new() });
        let metrics = Metrics::with_retention(retention);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let follower = metrics.spawn(sup.clone(), jobs.clone(), async move {
            let _ = rx.await;
        });
        while !metrics.is_following() {
            tokio::task::yield_now().await;
        }
        let tasks = vec![
            tokio::spawn(async move {
                let _ = sup_task.await;
            }),
            tokio::spawn(async move {
                let _ = jobs_task.await;
            }),
            follower,
        ];
        World { sup, jobs, metrics, stop: Some(tx), tasks, _dir: dir }
    }

    impl World {
        async fn text(&self) -> String {
            self.metrics.render(&self.sup).await.expect("render")
        }

        async fn end(mut self) {
            self.jobs.shutdown().await;
            self.sup.shutdown().await;
            let _ = self.stop.take().map(|s| s.send(()));
            for t in self.tasks.drain(..) {
                let _ = t.await;
            }
        }
    }

    /// With a one-event broadcast buffer a burst makes the follower lag: it must take
    /// snapshots and end up with the true state of every instance and job.
    #[tokio::test]
    async fn a_lagging_follower_resynchronises_from_snapshots() {
        let w = world(1, RETENTION).await;
        let marker = testkit::unique_marker();
        let mut spec = supervisor::ProcessSpec::new("burst", format!("sleep {marker}"));
        spec.instances = 5;
        w.sup.register(spec, supervisor::RegisterOptions::api()).await.expect("register");
        let mut job = supervisor::jobs::JobSpec::new("lagjob", format!("sleep {marker}"));
        job.parallelism = 3;
        job.completions = Some(3);
        w.jobs.create_job(job, JobOrigin::Api).await.expect("job");
        testkit::wait_until_async("every instance and attempt to show", Duration::from_secs(10), || async {
            let text = w.text().await;
            (1..=5).all(|i| {
                line_value(&text, &format!("provisr_process_state{{name=\"burst-{i}\",state=\"running\"}}"))
                    == Some(1.0)
            }) && line_value(&text, "provisr_job_active_attempts{cronjob=\"\",job_name=\"lagjob\"}") == Some(3.0)
        })
        .await;
        let text = w.text().await;
        assert!(line_value(&text, "provisr_metrics_resyncs_total").is_some_and(|v| v >= 1.0), "{text}");
        w.end().await;
    }

    /// Gauges of a removed instance and job go at once; their counters when the retention
    /// (zero here) has passed, at the next scrape.
    #[tokio::test]
    async fn removed_things_leave_no_series() {
        let w = world(1024, Duration::ZERO).await;
        let spec = supervisor::ProcessSpec::new("brief", "exit 0");
        w.sup.register(spec, supervisor::RegisterOptions::api()).await.expect("register");
        w.jobs.create_job(supervisor::jobs::JobSpec::new("once", "true"), JobOrigin::Api).await.expect("job");
        testkit::wait_until_async("the start and the run to be counted", Duration::from_secs(10), || async {
            let text = w.text().await;
            line_value(&text, "provisr_process_starts_total{name=\"brief\"}") == Some(1.0)
                && text.contains("provisr_job_runs_total{cronjob=\"\",job_name=\"once\"")
        })
        .await;
        w.sup.unregister(Selector::Base("brief".into())).await.expect("unregister");
        w.jobs.delete_job("once").await.expect("delete");
        testkit::wait_until_async("every series of brief and once to go", Duration::from_secs(10), || async {
            let text = w.text().await;
            !text.contains("name=\"brief\"") && !text.contains("job_name=\"once\"")
        })
        .await;
        w.end().await;
    }
}
