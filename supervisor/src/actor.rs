//! The supervisor task: the one owner of every spec, instance and timer.
//!
//! [`Supervisor::start`] spawns [`Actor::run`], which waits on three sources at once
//! and handles one message at a time, to completion, before it looks at the next:
//!
//! 1. **Commands** from [`SupervisorHandle`]s, each answered on its own oneshot.
//! 2. **Exits**, from a [`JoinSet`] holding one small task per live process, which
//!    resolves when the process has exited (see `process/unix.rs`: pidfd, group sweep,
//!    reap). The set is owned here, so when the actor ends the tasks are aborted and
//!    the processes are left alone, as a crashed daemon would leave them.
//! 3. **Timers**, all of them in one [`DelayQueue`]: `start_duration` reached, stop
//!    timeout expired, restart due. An instance has at most one timer at a time, and
//!    its key is kept so the timer can be cancelled when the state moves on.
//!
//! An idle process costs its exit task and nothing else: no polling, no per-process
//! timer loop. Every exit and timer carries the *generation* of the process it was
//! made for (a counter bumped on every spawn or adoption, unique across the actor), so
//! a message about a process that has since been replaced is recognised and ignored.
//!
//! Every state change goes through [`Actor::emit`], which numbers it, sends it to the
//! durable sink (in order, unbounded, never dropped) and to the broadcast (which may
//! lag). Decisions about exits are made by [`crate::policy`]; this file only applies
//! them.

use crate::error::{Error, Result};
use crate::event::{Decision, Event, EventKind};
use crate::handle::{Ack, Command, RegisterOptions, Snapshot, StopTicket, SupervisorHandle};
use crate::logs::{LogConfig, LogRegistry};
use crate::policy;
use crate::process::{self, Exit, NotAdopted, PidRecord};
use crate::spec::ProcessSpec;
use crate::state::{Desired, Origin, ProcessState, ProcessStatus, Selector};
use chrono::{DateTime, Utc};
use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::time::delay_queue::{DelayQueue, Key};

/// The longest delay a timer is armed for. Longer durations in a spec (a stop timeout
/// of "10y") are clamped: the delay queue cannot hold them, and nobody waits that long.
const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 3600);

/// How the supervisor is set up.
#[derive(Clone, Debug)]
pub struct SupervisorConfig {
    /// Where PID files go: `<pid_dir>/<instance>.pid`, unless the spec sets `pid_file`.
    pub pid_dir: PathBuf,
    /// Output capture: the global `[log]` settings (`dir: None` keeps output in the
    /// in-memory ring only). See [`crate::logs`].
    pub log: LogConfig,
    /// Capacity of the broadcast channel of events (a subscriber that falls further
    /// behind lags and must take a fresh snapshot).
    pub event_capacity: usize,
    /// The durable sink: receives every event, in order, without loss.
    pub sink: Option<mpsc::UnboundedSender<Arc<Event>>>,
}

impl SupervisorConfig {
    /// PID files in `pid_dir`, output kept in memory only (no log files), broadcast capacity 4096, no sink.
    pub fn new(pid_dir: impl Into<PathBuf>) -> Self {
        Self { pid_dir: pid_dir.into(), log: LogConfig::default(), event_capacity: 4096, sink: None }
    }
}

/// The supervisor: [`Supervisor::start`] is its only entry point.
#[derive(Debug)]
pub struct Supervisor;

impl Supervisor {
    /// Spawns the supervisor task on the current tokio runtime. It runs until
    /// [`SupervisorHandle::shutdown`] (processes stopped first) or until every handle
    /// is dropped (processes left running, to be re-adopted by the next supervisor).
    pub fn start(config: SupervisorConfig) -> (SupervisorHandle, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let logs = LogRegistry::new(config.log);
        let actor = Actor {
            pid_dir: config.pid_dir,
            logs: Arc::clone(&logs),
            sink: config.sink,
            events: events.clone(),
            seq: 0,
            generation: 0,
            specs: BTreeMap::new(),
            instances: BTreeMap::new(),
            timers: DelayQueue::new(),
            watchers: JoinSet::new(),
            shutdown: None,
        };
        let join = tokio::spawn(actor.run(rx));
        (SupervisorHandle { tx, events, logs }, join)
    }
}

/// A registered spec.
struct Registration {
    spec: ProcessSpec,
    origin: Origin,
    /// How many of its instances still exist; the spec goes with the last one.
    instances: usize,
}

/// One instance: its state plus the bookkeeping the actor needs to drive it.
struct Instance {
    base: String,
    origin: Origin,
    state: ProcessState,
    desired: Desired,
    restarts: u32,
    started_at: Option<DateTime<Utc>>,
    stopped_at: Option<DateTime<Utc>>,
    last_exit_code: Option<i32>,
    last_exit_signal: Option<i32>,
    pid_file: PathBuf,
    /// Generation of the current (or last) process.
    generation: u64,
    /// When the current process started, for its uptime.
    started: Option<Instant>,
    /// The one pending timer, if any.
    timer: Option<Key>,
    /// The current process was asked to stop (stop, shutdown, unregister).
    stop_requested: bool,
    /// A start arrived while stopping: start again once stopped.
    start_after_stop: bool,
    /// Unregistering: remove once stopped.
    removing: bool,
    /// Stop tickets waiting for this instance to stop (or to be removed).
    waiters: Vec<oneshot::Sender<u64>>,
}

impl Instance {
    fn status(&self, name: &str) -> ProcessStatus {
        ProcessStatus {
            name: name.to_string(),
            base: self.base.clone(),
            state: self.state.clone(),
            desired: self.desired,
            origin: self.origin,
            restarts: self.restarts,
            started_at: self.started_at,
            stopped_at: self.stopped_at,
            last_exit_code: self.last_exit_code,
            last_exit_signal: self.last_exit_signal,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum TimerKind {
    /// `start_duration` has passed: `Starting` → `Running`.
    StartDuration,
    /// The stop timeout has passed: SIGKILL.
    StopTimeout,
    /// The backoff is over: restart.
    RestartDue,
}

#[derive(Debug)]
struct Timer {
    name: String,
    generation: u64,
    kind: TimerKind,
}

/// What an exit task reports.
#[derive(Debug)]
struct Exited {
    name: String,
    generation: u64,
    pid: u32,
    exit: Exit,
}

struct Actor {
    pid_dir: PathBuf,
    logs: Arc<LogRegistry>,
    sink: Option<mpsc::UnboundedSender<Arc<Event>>>,
    events: broadcast::Sender<Arc<Event>>,
    /// The sequence number of the last event.
    seq: u64,
    /// The last generation handed out.
    generation: u64,
    specs: BTreeMap<String, Registration>,
    instances: BTreeMap<String, Instance>,
    timers: DelayQueue<Timer>,
    watchers: JoinSet<Exited>,
    /// Set once a shutdown began: the callers to answer when every process is gone.
    shutdown: Option<Vec<oneshot::Sender<()>>>,
}

impl Actor {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut handles_gone = false;
        loop {
            tokio::select! {
                biased;
                Some(joined) = self.watchers.join_next(), if !self.watchers.is_empty() => match joined {
                    Ok(exited) => self.on_exit(exited),
                    Err(e) => tracing::error!("an exit watcher failed: {e}"),
                },
                Some(expired) = std::future::poll_fn(|cx| self.timers.poll_expired(cx)), if !self.timers.is_empty() => {
                    let key = expired.key();
                    self.on_timer(key, expired.into_inner());
                }
                command = commands.recv(), if !handles_gone => match command {
                    Some(command) => self.on_command(command),
                    None => handles_gone = true,
                },
                else => break,
            }
            if self.shutdown_complete() {
                break;
            }
            // Every handle is gone and no shutdown is under way: leave the processes
            // running (the next supervisor re-adopts them) and end.
            if handles_gone && self.shutdown.is_none() {
                break;
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Register { spec, opts, reply } => {
                let _ = reply.send(self.register(*spec, opts));
            }
            Command::Unregister { selector, reply } => {
                let _ = reply.send(self.unregister(&selector));
            }
            Command::Start { selector, reply } => {
                let _ = reply.send(self.start(&selector));
            }
            Command::Stop { selector, reply } => {
                let _ = reply.send(self.stop(&selector));
            }
            Command::Status { selector, reply } => {
                let _ = reply.send(self.status(&selector));
            }
            Command::Spec { name, reply } => {
                let _ = reply.send(self.spec(&name));
            }
            Command::Snapshot { reply } => {
                let processes = self.instances.iter().map(|(name, i)| i.status(name)).collect();
                let _ = reply.send(Snapshot { seq: self.seq, processes });
            }
            Command::Shutdown { reply } => self.begin_shutdown(reply),
        }
    }

    // ----- commands -----

    fn register(&mut self, spec: ProcessSpec, opts: RegisterOptions) -> Result<Ack> {
        self.refuse_during_shutdown()?;
        let mut problems = spec.validate();
        if !problems.iter().any(|(key, _)| matches!(*key, "command" | "args")) {
            if let Err(e) = process::check_program(&spec) {
                problems.push(("command", e));
            }
        }
        let all = spec.instance_names();
        let wishes: Vec<(String, Desired)> = match &opts.instances {
            None => {
                let desired = if opts.start { Desired::Running } else { Desired::Stopped };
                all.iter().map(|name| (name.clone(), desired)).collect()
            }
            Some(map) => {
                if map.is_empty() {
                    problems.push(("instances", "no instance to restore".to_string()));
                }
                for name in map.keys().filter(|n| !all.contains(n)) {
                    problems.push(("instances", format!("{name:?} is not an instance of {:?}", spec.name)));
                }
                all.iter().filter_map(|name| map.get(name).map(|d| (name.clone(), *d))).collect()
            }
        };
        if !problems.is_empty() {
            return Err(Error::InvalidSpec(problems.into_iter().map(|(k, m)| (k.to_string(), m)).collect()));
        }
        // Spec names and instance names share one namespace: `spec("web-1")` and
        // `Selector::Name("web-1")` must each mean one thing.
        let taken = |name: &String| self.specs.contains_key(name) || self.instances.contains_key(name);
        if let Some(name) = std::iter::once(&spec.name).chain(wishes.iter().map(|(n, _)| n)).find(|n| taken(n)) {
            return Err(Error::AlreadyExists(name.clone()));
        }

        let origin = opts.origin;
        let base = spec.name.clone();
        let pid_files: Vec<PathBuf> =
            wishes.iter().map(|(name, _)| process::pid_file(&spec, name, &self.pid_dir)).collect();
        self.emit(&base, EventKind::Registered { spec: spec.clone(), origin }, None);
        self.specs.insert(base.clone(), Registration { spec, origin, instances: wishes.len() });
        for ((name, desired), pid_file) in wishes.iter().zip(pid_files) {
            let instance = Instance {
                base: base.clone(),
                origin,
                state: ProcessState::Stopped,
                desired: *desired,
                restarts: 0,
                started_at: None,
                stopped_at: None,
                last_exit_code: None,
                last_exit_signal: None,
                pid_file,
                generation: 0,
                started: None,
                timer: None,
                stop_requested: false,
                start_after_stop: false,
                removing: false,
                waiters: Vec::new(),
            };
            self.instances.insert(name.clone(), instance);
            self.emit_instance(name, EventKind::InstanceAdded { base: base.clone() });
        }

        let mut failed = Vec::new();
        for (name, desired) in &wishes {
            if opts.adopt && self.adopt(name) {
                // A process recorded as running while its wish is "stopped" (the
                // previous daemon died while stopping it) is taken over to be stopped.
                if *desired == Desired::Stopped {
                    self.stop_process(name);
                }
                continue;
            }
            if opts.start && *desired == Desired::Running {
                if let Err(e) = self.spawn(name, 0) {
                    failed.push((name.clone(), e));
                }
            }
        }
        let mut names: Vec<String> = wishes.into_iter().map(|(n, _)| n).collect();
        names.sort();
        Ok(Ack { seq: self.seq, names, failed })
    }

    fn start(&mut self, selector: &Selector) -> Result<Ack> {
        self.refuse_during_shutdown()?;
        let names = self.select(selector)?;
        let mut failed = Vec::new();
        for name in &names {
            let inst = self.instance_mut(name);
            if inst.removing {
                failed.push((name.clone(), "is being unregistered".to_string()));
                continue;
            }
            if inst.desired != Desired::Running {
                inst.desired = Desired::Running;
                self.emit_instance(name, EventKind::DesiredChanged { desired: Desired::Running });
            }
            let inst = self.instance_mut(name);
            match inst.state {
                ProcessState::Starting { .. } | ProcessState::Running { .. } => {}
                ProcessState::Stopping { .. } => inst.start_after_stop = true,
                ProcessState::Stopped
                | ProcessState::Exited { .. }
                | ProcessState::Fatal { .. }
                | ProcessState::Backoff { .. } => {
                    inst.restarts = 0;
                    self.cancel_timer(name);
                    if let Err(e) = self.spawn(name, 0) {
                        failed.push((name.clone(), e));
                    }
                }
            }
        }
        Ok(Ack { seq: self.seq, names: sorted(names), failed })
    }

    fn stop(&mut self, selector: &Selector) -> Result<StopTicket> {
        self.refuse_during_shutdown()?;
        let names = self.select(selector)?;
        let mut done = Vec::new();
        for name in names.iter().rev() {
            self.stop_instance(name, &mut done);
        }
        Ok(StopTicket { ack: Ack { seq: self.seq, names: sorted(names), failed: Vec::new() }, done })
    }

    fn unregister(&mut self, selector: &Selector) -> Result<StopTicket> {
        self.refuse_during_shutdown()?;
        let names = self.select(selector)?;
        let mut done = Vec::new();
        for name in names.iter().rev() {
            self.instance_mut(name).removing = true;
            self.stop_instance(name, &mut done);
            if !self.instance_mut(name).state.is_alive() {
                self.remove_instance(name);
            }
        }
        Ok(StopTicket { ack: Ack { seq: self.seq, names: sorted(names), failed: Vec::new() }, done })
    }

    fn status(&self, selector: &Selector) -> Result<Vec<ProcessStatus>> {
        let found: Vec<ProcessStatus> = self
            .instances
            .iter()
            .filter(|(name, i)| selector.matches(name, &i.base))
            .map(|(name, i)| i.status(name))
            .collect();
        match selector {
            Selector::Name(name) if found.is_empty() => Err(Error::NotFound(name.clone())),
            _ => Ok(found),
        }
    }

    fn spec(&self, name: &str) -> Result<(ProcessSpec, Origin)> {
        let base = match self.instances.get(name) {
            _ if self.specs.contains_key(name) => name,
            Some(inst) => inst.base.as_str(),
            None => return Err(Error::NotFound(name.to_string())),
        };
        let reg = self.specs.get(base).ok_or_else(|| Error::NotFound(name.to_string()))?;
        Ok((reg.spec.clone(), reg.origin))
    }

    /// Stops every process without touching wishes; [`Self::shutdown_complete`]
    /// answers once the last one has exited.
    fn begin_shutdown(&mut self, reply: oneshot::Sender<()>) {
        self.shutdown.get_or_insert_with(Vec::new).push(reply);
        for name in self.by_priority(|_, _| true).iter().rev() {
            let inst = self.instance_mut(name);
            inst.start_after_stop = false;
            match inst.state {
                ProcessState::Backoff { .. } => self.cancel_timer(name),
                ProcessState::Starting { .. } | ProcessState::Running { .. } => self.stop_process(name),
                _ => {}
            }
        }
    }

    fn shutdown_complete(&mut self) -> bool {
        if self.shutdown.is_none() || self.instances.values().any(|i| i.state.is_alive()) {
            return false;
        }
        for reply in self.shutdown.take().into_iter().flatten() {
            let _ = reply.send(());
        }
        true
    }

    // ----- what happens to one instance -----

    /// The stop part shared by stop and unregister: wish stopped, a pending restart
    /// cancelled, the process (if any) signalled, and a waiter for the ticket.
    fn stop_instance(&mut self, name: &str, done: &mut Vec<oneshot::Receiver<u64>>) {
        let inst = self.instance_mut(name);
        inst.start_after_stop = false;
        let wish_changed = inst.desired != Desired::Stopped;
        inst.desired = Desired::Stopped;
        let was_backoff = matches!(inst.state, ProcessState::Backoff { .. });
        if was_backoff {
            inst.state = ProcessState::Stopped;
            self.cancel_timer(name);
        }
        if wish_changed || was_backoff {
            self.emit_instance(name, EventKind::DesiredChanged { desired: Desired::Stopped });
        }
        if self.instance_mut(name).state.is_alive() {
            self.stop_process(name);
            let (tx, rx) = oneshot::channel();
            self.instance_mut(name).waiters.push(tx);
            done.push(rx);
        }
    }

    /// Sends the stop signal to a live process's group and arms the stop timeout.
    /// A process already stopping is left to its timeout.
    fn stop_process(&mut self, name: &str) {
        let inst = self.instances.get_mut(name).expect("stop_process: instance exists");
        let spec = &self.specs.get(&inst.base).expect("an instance's spec is registered").spec;
        let (signal, timeout) = (spec.stop_signal.0, spec.stop_timeout);
        let pid = match inst.state {
            ProcessState::Starting { pid, .. } | ProcessState::Running { pid, .. } => pid,
            _ => return,
        };
        // ESRCH is no error: the process has exited and its exit is on the way.
        if let Err(e) = process::signal_group(pid, signal) {
            tracing::warn!(instance = name, pid, "sending {signal}: {e}");
        }
        inst.state = ProcessState::Stopping { pid, since: Utc::now() };
        inst.stop_requested = true;
        self.set_timer(name, TimerKind::StopTimeout, timeout);
        self.emit_instance(name, EventKind::Stopping { pid, signal: signal.as_str().to_string() });
    }

    /// Spawns the instance's process (`attempt` 0 for a start on request). On failure
    /// the instance is `Fatal` and the error is returned for [`Ack::failed`].
    fn spawn(&mut self, name: &str, attempt: u32) -> std::result::Result<(), String> {
        let inst = self.instances.get(name).expect("spawn: instance exists");
        let spec = &self.specs.get(&inst.base).expect("an instance's spec is registered").spec;
        let start_duration = spec.start_duration;
        let spawned = match process::spawn(spec, name, &self.logs) {
            Ok(spawned) => spawned,
            Err(error) => {
                let decision = policy::on_spawn_failure(&error);
                let reason = match &decision {
                    Decision::GiveUp { reason } => reason.clone(),
                    _ => error.clone(),
                };
                self.instance_mut(name).state = ProcessState::Fatal { reason };
                self.emit_instance(name, EventKind::SpawnFailed { error: error.clone(), decision });
                return Err(error);
            }
        };
        let pid = spawned.pid;
        match spawned.start_time {
            Some(start_time) => {
                if let Err(e) = process::write_pid_file(&inst.pid_file, PidRecord { pid, start_time }) {
                    tracing::warn!(instance = name, pid, "writing PID file {}: {e}", inst.pid_file.display());
                }
            }
            None => tracing::warn!(instance = name, pid, "no start time: no PID file, so no re-adoption"),
        }
        let generation = self.next_generation();
        let now = Utc::now();
        let inst = self.instance_mut(name);
        inst.generation = generation;
        inst.state = if start_duration.is_zero() {
            ProcessState::Running { pid, since: now }
        } else {
            ProcessState::Starting { pid, since: now }
        };
        inst.started_at = Some(now);
        inst.started = Some(Instant::now());
        inst.stop_requested = false;
        inst.start_after_stop = false;
        self.watch(name, generation, pid, spawned.watch);
        if !start_duration.is_zero() {
            self.set_timer(name, TimerKind::StartDuration, start_duration);
        }
        self.emit_instance(name, EventKind::Started { pid, attempt });
        Ok(())
    }

    /// Takes over the process in the instance's PID file if it is still the one that
    /// was recorded. True when adopted.
    fn adopt(&mut self, name: &str) -> bool {
        let inst = self.instances.get(name).expect("adopt: instance exists");
        let adopted = match process::adopt(&inst.pid_file) {
            Ok(adopted) => adopted,
            Err(NotAdopted::NoPidFile) => return false,
            Err(NotAdopted::Stale(reason)) => {
                tracing::info!(instance = name, "not re-adopting: {reason}");
                return false;
            }
        };
        let pid = adopted.pid;
        let now = Utc::now();
        let since = adopted.since.filter(|s| *s <= now).unwrap_or(now);
        let age = (now - since).to_std().unwrap_or_default();
        let generation = self.next_generation();
        let inst = self.instance_mut(name);
        inst.generation = generation;
        inst.state = ProcessState::Running { pid, since };
        inst.started_at = Some(since);
        inst.started = Some(Instant::now().checked_sub(age).unwrap_or_else(Instant::now));
        inst.stop_requested = false;
        self.watch(name, generation, pid, adopted.watch);
        self.emit_instance(name, EventKind::Adopted { pid });
        true
    }

    fn watch(&mut self, name: &str, generation: u64, pid: u32, watch: process::ExitWatch) {
        let name = name.to_string();
        self.watchers.spawn(async move {
            let exit = watch.wait().await;
            Exited { name, generation, pid, exit }
        });
    }

    fn on_exit(&mut self, exited: Exited) {
        let Exited { name, generation, pid, exit } = exited;
        let Some(inst) = self.instances.get_mut(&name) else {
            return;
        };
        if inst.generation != generation || !inst.state.is_alive() {
            tracing::debug!(instance = name, pid, "ignoring the exit of a replaced process");
            return;
        }
        process::remove_pid_file(&inst.pid_file);
        let uptime = inst.started.take().map(|s| s.elapsed()).unwrap_or_default();
        let spec = &self.specs.get(&inst.base).expect("an instance's spec is registered").spec;
        let requested = inst.stop_requested;
        let decision = policy::on_exit(spec, inst.desired, requested, inst.restarts);
        if policy::failed_start(spec, requested, uptime) {
            tracing::warn!(
                instance = name,
                pid,
                "exited after {uptime:?}, before its start_duration of {:?}: failed to start",
                spec.start_duration
            );
        }
        let now = Utc::now();
        inst.stopped_at = Some(now);
        inst.last_exit_code = exit.code;
        inst.last_exit_signal = exit.signal;
        inst.stop_requested = false;
        inst.state = match &decision {
            Decision::Stop => ProcessState::Stopped,
            Decision::Restart { after, attempt } => ProcessState::Backoff { attempt: *attempt, until: at(now, *after) },
            Decision::NoRestart => ProcessState::Exited { code: exit.code, signal: exit.signal, at: now },
            Decision::GiveUp { reason } => ProcessState::Fatal { reason: reason.clone() },
        };
        self.cancel_timer(&name);
        if let Decision::Restart { after, .. } = &decision {
            self.set_timer(&name, TimerKind::RestartDue, *after);
        }
        let kind = EventKind::Exited { pid, code: exit.code, signal: exit.signal, uptime, requested, decision };
        self.emit_instance(&name, kind);

        let shutting_down = self.shutdown.is_some();
        let seq = self.seq;
        let inst = self.instance_mut(&name);
        if inst.removing {
            self.remove_instance(&name);
            return;
        }
        for waiter in inst.waiters.drain(..) {
            let _ = waiter.send(seq);
        }
        if inst.start_after_stop && inst.desired == Desired::Running && !shutting_down {
            inst.restarts = 0;
            if let Err(e) = self.spawn(&name, 0) {
                tracing::warn!(instance = name, "starting again after the stop: {e}");
            }
        }
    }

    fn on_timer(&mut self, key: Key, timer: Timer) {
        let Some(inst) = self.instances.get_mut(&timer.name) else {
            return;
        };
        if inst.timer != Some(key) {
            return;
        }
        inst.timer = None;
        if inst.generation != timer.generation {
            return;
        }
        let name = timer.name;
        match (timer.kind, inst.state.clone()) {
            (TimerKind::StartDuration, ProcessState::Starting { pid, since }) => {
                inst.state = ProcessState::Running { pid, since };
                self.emit_instance(&name, EventKind::Running { pid });
            }
            (TimerKind::StopTimeout, ProcessState::Stopping { pid, .. }) => {
                if let Err(e) = process::signal_group(pid, Signal::SIGKILL) {
                    tracing::warn!(instance = name, pid, "sending SIGKILL: {e}");
                }
                self.emit_instance(&name, EventKind::Killed { pid });
            }
            (TimerKind::RestartDue, ProcessState::Backoff { attempt, .. })
                if inst.desired == Desired::Running && self.shutdown.is_none() =>
            {
                inst.restarts = attempt;
                if let Err(e) = self.spawn(&name, attempt) {
                    tracing::warn!(instance = name, attempt, "restart failed: {e}");
                }
            }
            _ => {}
        }
    }

    /// Removes an instance that is not alive; the spec goes with its last instance.
    fn remove_instance(&mut self, name: &str) {
        self.cancel_timer(name);
        let Some(inst) = self.instances.remove(name) else {
            return;
        };
        self.logs.forget(name);
        self.emit(name, EventKind::InstanceRemoved { base: inst.base.clone() }, None);
        if let Some(reg) = self.specs.get_mut(&inst.base) {
            reg.instances = reg.instances.saturating_sub(1);
            if reg.instances == 0 {
                self.specs.remove(&inst.base);
                self.emit(&inst.base, EventKind::Unregistered, None);
            }
        }
        for waiter in inst.waiters {
            let _ = waiter.send(self.seq);
        }
    }

    // ----- plumbing -----

    /// Numbers an event and publishes it: sink first (durable, in order), then broadcast.
    fn emit(&mut self, name: &str, kind: EventKind, status: Option<ProcessStatus>) {
        self.seq += 1;
        let event = Arc::new(Event { seq: self.seq, at: Utc::now(), name: name.to_string(), kind, status });
        if let Some(sink) = &self.sink {
            if sink.send(event.clone()).is_err() {
                tracing::error!("the event sink is closed; events are no longer recorded");
                self.sink = None;
            }
        }
        // No subscriber is not an error.
        let _ = self.events.send(event);
    }

    /// Emits an event about an instance, with its status after the change.
    fn emit_instance(&mut self, name: &str, kind: EventKind) {
        let status = self.instances.get(name).map(|i| i.status(name));
        self.emit(name, kind, status);
    }

    fn set_timer(&mut self, name: &str, kind: TimerKind, after: Duration) {
        self.cancel_timer(name);
        let generation = self.instances.get(name).map_or(0, |i| i.generation);
        let key = self.timers.insert(Timer { name: name.to_string(), generation, kind }, after.min(MAX_DELAY));
        self.instance_mut(name).timer = Some(key);
    }

    fn cancel_timer(&mut self, name: &str) {
        if let Some(key) = self.instances.get_mut(name).and_then(|i| i.timer.take()) {
            self.timers.try_remove(&key);
        }
    }

    fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    fn instance_mut(&mut self, name: &str) -> &mut Instance {
        self.instances.get_mut(name).expect("the instance exists: names come from the instance map")
    }

    /// The matching instance names, by start order (priority, then name).
    /// [`Error::NotFound`] when none matches.
    fn select(&self, selector: &Selector) -> Result<Vec<String>> {
        let names = self.by_priority(|name, base| selector.matches(name, base));
        if names.is_empty() {
            let what = match selector {
                Selector::Name(s) | Selector::Base(s) | Selector::Wildcard(s) => s.clone(),
                Selector::All => "*".to_string(),
            };
            return Err(Error::NotFound(what));
        }
        Ok(names)
    }

    fn by_priority(&self, filter: impl Fn(&str, &str) -> bool) -> Vec<String> {
        let mut found: Vec<(i32, &String)> = self
            .instances
            .iter()
            .filter(|(name, i)| filter(name, &i.base))
            .map(|(name, i)| (self.specs.get(&i.base).map_or(0, |r| r.spec.priority), name))
            .collect();
        found.sort();
        found.into_iter().map(|(_, name)| name.clone()).collect()
    }

    fn refuse_during_shutdown(&self) -> Result<()> {
        if self.shutdown.is_some() {
            Err(Error::ShutDown)
        } else {
            Ok(())
        }
    }
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// `now + after`, saturating.
fn at(now: DateTime<Utc>, after: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(after.min(MAX_DELAY)).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(now)
}
