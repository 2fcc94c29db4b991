//! Fixtures for the integration tests: a supervisor in its own temp dir with a
//! subscriber and a durable sink, spec factories, waits on events and snapshots (with a
//! timeout, never a bare sleep), and `/proc` probes for real processes.

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use supervisor::{
    Ack, Event, EventKind, ProcessSpec, ProcessState, ProcessStatus, RegisterOptions, Selector, Snapshot, Supervisor,
    SupervisorConfig, SupervisorHandle,
};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};

/// How long any wait in a test may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A supervisor under test. Its temp dir holds `pids/` and `logs/`. Dropping it (a
/// failed test) SIGKILLs every process group it has a PID file for, so no test process
/// outlives a test; passing tests call [`TestSupervisor::shutdown`].
pub struct TestSupervisor {
    pub handle: SupervisorHandle,
    pub join: Option<JoinHandle<()>>,
    /// Subscribed before the first command: sees every event.
    pub events: broadcast::Receiver<Arc<Event>>,
    /// The durable sink.
    pub sink: mpsc::UnboundedReceiver<Arc<Event>>,
    /// Every event taken from `events` so far, in order.
    pub seen: Vec<Arc<Event>>,
    pub dir: Arc<tempfile::TempDir>,
}

/// A supervisor in a fresh temp dir.
pub fn spawn_supervisor() -> TestSupervisor {
    spawn_supervisor_in(Arc::new(tempfile::tempdir().expect("temp dir")))
}

/// A supervisor in `dir` (several supervisors may share one, one after the other,
/// as daemons do across a restart).
pub fn spawn_supervisor_in(dir: Arc<tempfile::TempDir>) -> TestSupervisor {
    spawn_supervisor_with(dir, Vec::new())
}

/// A supervisor in `dir` with a global environment.
pub fn spawn_supervisor_with(dir: Arc<tempfile::TempDir>, env: Vec<(String, String)>) -> TestSupervisor {
    let (tx, sink) = mpsc::unbounded_channel();
    let mut config = SupervisorConfig::new(dir.path().join("pids"));
    config.env = env;
    config.log.dir = Some(dir.path().join("logs"));
    config.sink = Some(tx);
    let (handle, join) = Supervisor::start(config);
    let events = handle.subscribe();
    TestSupervisor { handle, join: Some(join), events, sink, seen: Vec::new(), dir }
}

impl TestSupervisor {
    pub fn pid_dir(&self) -> PathBuf {
        self.dir.path().join("pids")
    }

    pub fn log_file(&self, instance: &str, stream: &str) -> PathBuf {
        self.dir.path().join("logs").join(format!("{instance}.{stream}.log"))
    }

    /// Registers and starts `spec`, expecting success.
    pub async fn register(&self, spec: ProcessSpec) -> Ack {
        self.handle.register(spec, RegisterOptions::api()).await.expect("register")
    }

    /// Registers and starts `spec`, and waits until its (single) instance is running.
    pub async fn run(&mut self, spec: ProcessSpec) -> u32 {
        let name = spec.name.clone();
        self.register(spec).await;
        let e = self
            .wait_for_event(|e| {
                e.name == name && matches!(e.kind, EventKind::Running { .. } | EventKind::Started { .. })
            })
            .await;
        let status = self.status(&name).await;
        status.state.pid().unwrap_or_else(|| panic!("{name} is not alive after {e:?}: {status:?}"))
    }

    pub async fn status(&self, name: &str) -> ProcessStatus {
        let mut all = self.handle.status(Selector::Name(name.into())).await.expect("status");
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    /// The next event from the subscription that satisfies `pred` (events before it
    /// are kept in `seen`).
    pub async fn wait_for_event(&mut self, pred: impl Fn(&Event) -> bool) -> Arc<Event> {
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
                Err(_) => panic!("timed out waiting for an event; seen: {:#?}", self.seen),
            }
        }
    }

    /// Waits until a snapshot satisfies `pred`, re-checking after every event.
    pub async fn wait_for(&self, pred: impl Fn(&Snapshot) -> bool) -> Snapshot {
        wait_for(&self.handle, pred).await
    }

    /// Waits until the instance `name` satisfies `pred`.
    pub async fn wait_for_status(&self, name: &str, pred: impl Fn(&ProcessStatus) -> bool) -> ProcessStatus {
        let snap = self.wait_for(|s| s.processes.iter().any(|p| p.name == name && pred(p))).await;
        snap.processes.into_iter().find(|p| p.name == name).expect("found")
    }

    /// Every event the sink has received so far.
    pub fn drain_sink(&mut self) -> Vec<Arc<Event>> {
        let mut out = Vec::new();
        while let Ok(e) = self.sink.try_recv() {
            out.push(e);
        }
        out
    }

    /// Stops everything and waits for the task to end.
    pub async fn shutdown(mut self) {
        timeout(TIMEOUT, self.handle.shutdown()).await.expect("shutdown in time");
        if let Some(join) = self.join.take() {
            timeout(TIMEOUT, join).await.expect("actor ends").expect("actor did not panic");
        }
    }
}

impl Drop for TestSupervisor {
    fn drop(&mut self) {
        if self.join.is_some() {
            kill_recorded_groups(&self.pid_dir());
        }
    }
}

/// SIGKILLs the process group of every (verified) PID file in `dir`.
pub fn kill_recorded_groups(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(text) = fs::read_to_string(entry.path()) else {
            continue;
        };
        let mut lines = text.lines();
        let (Some(Ok(pid)), Some(Ok(start))) =
            (lines.next().map(str::parse::<i32>), lines.next().map(str::parse::<u64>))
        else {
            continue;
        };
        if pid > 1 && proc_stat(pid as u32).is_some_and(|s| s.start_time == start) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Waits until a snapshot of `handle` satisfies `pred`, re-checking after every event.
pub async fn wait_for(handle: &SupervisorHandle, pred: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let mut rx = handle.subscribe();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let snap = handle.snapshot().await.expect("snapshot");
        if pred(&snap) {
            return snap;
        }
        match timeout(deadline.saturating_duration_since(Instant::now()), rx.recv()).await {
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("event stream: {e}"),
            Err(_) => panic!("timed out waiting for a snapshot condition; last: {snap:#?}"),
        }
    }
}

/// For conditions no event announces (a process disappearing from `/proc` after the
/// kernel delivers SIGKILL): re-checks every 10 ms until true, fails after [`TIMEOUT`].
pub async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// PID files are written (and removed) by a writer thread just after the spawn (or the
/// exit): waits until the file at `path` holds `text`, or is gone for `None`.
pub async fn pid_file_becomes(path: &Path, text: Option<&str>) {
    let what = format!("{} holds {text:?}", path.display());
    eventually(&what, || fs::read_to_string(path).ok().as_deref() == text).await;
}

/// Awaits `f`, failing the test after [`TIMEOUT`].
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    timeout(TIMEOUT, f).await.unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// A spec running `command` (shell syntax allowed), with a short stop timeout.
pub fn sh(name: &str, command: &str) -> ProcessSpec {
    let mut spec = ProcessSpec::new(name, command);
    spec.stop_timeout = Duration::from_secs(5);
    spec
}

/// The fields of `/proc/<pid>/stat` the tests look at.
#[derive(Debug)]
pub struct Stat {
    pub state: char,
    pub pgrp: i32,
    pub start_time: u64,
}

pub fn proc_stat(pid: u32) -> Option<Stat> {
    let line = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = line[line.rfind(')')? + 1..].split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|s| !matches!(s.state, 'Z' | 'X'))
}

/// Live (non-zombie) members of process group `pgid`.
pub fn live_group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| proc_stat(*pid).is_some_and(|s| s.pgrp == pgid as i32 && !matches!(s.state, 'Z' | 'X')))
        .collect()
}

/// Waits for the next event satisfying `pred` without any timeout: for tests on paused
/// tokio time, where a pending timeout would be advanced to at once.
pub async fn next_event_untimed(rx: &mut broadcast::Receiver<Arc<Event>>, pred: impl Fn(&Event) -> bool) -> Arc<Event> {
    loop {
        let e = rx.recv().await.expect("event stream");
        if pred(&e) {
            return e;
        }
    }
}

/// The kinds of the events about `name`, in order.
pub fn kinds_of<'a>(events: impl IntoIterator<Item = &'a Arc<Event>>, name: &str) -> Vec<&'static str> {
    events.into_iter().filter(|e| e.name == name).map(|e| e.kind.name()).collect()
}

/// The pid of a state, or a panic naming it.
pub fn pid_of(state: &ProcessState) -> u32 {
    state.pid().unwrap_or_else(|| panic!("no live process in {state:?}"))
}
