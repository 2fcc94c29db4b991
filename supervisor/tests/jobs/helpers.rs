//! A jobs controller under test, and waits on its events.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use supervisor::cron::{CronChange, CronEvent};
use supervisor::jobs::{JobChange, JobEvent, JobOrigin, JobSpec, JobStatus, Jobs, JobsConfig, JobsHandle};
use supervisor::{Event, EventBus, EventKind};
use tokio::sync::{broadcast, mpsc};
use tokio::time::{timeout, Instant};

/// How long any wait in a test may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(15);

pub struct Harness {
    pub jobs: JobsHandle,
    pub bus: EventBus,
    /// Subscribed before the first command: sees every event.
    pub events: broadcast::Receiver<Arc<Event>>,
    pub sink: mpsc::UnboundedReceiver<Arc<Event>>,
    /// Every event taken from `events` so far, in order.
    pub seen: Vec<Arc<Event>>,
    pub dir: tempfile::TempDir,
}

pub fn start() -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let (tx, sink) = mpsc::unbounded_channel();
    let bus = EventBus::new(4096, Some(tx));
    let events = bus.subscribe();
    let (jobs, _join) =
        Jobs::start(bus.clone(), JobsConfig { log_dir: Some(dir.path().join("logs")), ..JobsConfig::default() });
    Harness { jobs, bus, events, sink, seen: Vec::new(), dir }
}

/// A job running `command` through the shell, with short retry delays.
pub fn job(name: &str, command: &str) -> JobSpec {
    let mut spec = JobSpec::new(name, command);
    spec.backoff_base = Duration::from_millis(50);
    spec.backoff_max = Duration::from_millis(400);
    spec.stop_timeout = Duration::from_millis(500);
    spec
}

impl Harness {
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    pub async fn create(&self, spec: JobSpec) -> JobStatus {
        self.jobs.create_job(spec, JobOrigin::Api).await.expect("create job")
    }

    /// The next event satisfying `pred`.
    pub async fn wait_for_event(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Arc<Event> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match timeout(deadline.saturating_duration_since(Instant::now()), self.events.recv()).await {
                Ok(Ok(event)) => {
                    self.seen.push(event.clone());
                    if pred(&event) {
                        return event;
                    }
                }
                Ok(Err(e)) => panic!("event stream: {e}"),
                Err(_) => panic!("timed out waiting for {what}; seen: {:#?}", self.seen),
            }
        }
    }

    /// The next event of job `name` satisfying `pred`.
    pub async fn wait_job(&mut self, name: &str, pred: impl Fn(&JobEvent) -> bool) -> JobEvent {
        let e = self.wait_for_event(name, |e| e.name == name && matches!(&e.kind, EventKind::Job(j) if pred(j))).await;
        match &e.kind {
            EventKind::Job(j) => (**j).clone(),
            _ => unreachable!(),
        }
    }

    /// Waits until job `name` has finished; its final status.
    pub async fn finished(&mut self, name: &str) -> JobStatus {
        let e = self.wait_job(name, |j| matches!(j.change, JobChange::Finished { .. })).await;
        e.job.expect("a finished job has a status")
    }

    /// The next event of cronjob `name` satisfying `pred`.
    pub async fn wait_cron(&mut self, name: &str, pred: impl Fn(&CronEvent) -> bool) -> CronEvent {
        let e = self.wait_for_event(name, |e| e.name == name && matches!(&e.kind, EventKind::Cron(c) if pred(c))).await;
        match &e.kind {
            EventKind::Cron(c) => (**c).clone(),
            _ => unreachable!(),
        }
    }

    /// The next `Fired` event of cronjob `name`.
    pub async fn fired(&mut self, name: &str) -> CronEvent {
        self.wait_cron(name, |c| matches!(c.change, CronChange::Fired { .. })).await
    }

    /// Job events of `name` seen so far.
    pub fn job_events(&self, name: &str) -> Vec<JobEvent> {
        self.seen
            .iter()
            .filter(|e| e.name == name)
            .filter_map(|e| match &e.kind {
                EventKind::Job(j) => Some((**j).clone()),
                _ => None,
            })
            .collect()
    }

    pub async fn shutdown(self) {
        timeout(TIMEOUT, self.jobs.shutdown()).await.expect("shutdown in time");
    }
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
