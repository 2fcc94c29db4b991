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
//! 4. **Hook reports**, from the tasks that run lifecycle hooks (`hooks.rs`): each hook
//!    started and finished, and the end of a phase's blocking hooks. A blocking hook is
//!    never awaited here: the instance waits in a state (`pre_start`, `stopping`…) and
//!    the phase's end arrives as a message, like an exit.
//!
//! Every state change goes through [`Actor::emit`], which publishes it on the shared
//! [`EventBus`] (also used by the jobs controller); the bus numbers it, sends it to the
//! durable sink (in order, unbounded, never dropped) and to the broadcast (which may
//! lag). Decisions about exits are made by [`crate::policy`] and start order by
//! [`crate::order`]; this file only applies them.
//!
//! ## A start, a stop, an exit
//!
//! * **Start** (`request_start`): a spec whose `depends_on` are not all `running` waits
//!   (`waiting { on }`) and is released when they are; then `pre_start` hooks run
//!   (`pre_start`), and a failure in `fail` mode makes it `fatal`; then the spawn, then
//!   `post_start` hooks in the background (a failure stops the process and makes it `fatal`).
//! * **Stop** (`stop_process`): `pre_stop` hooks (the instance is `stopping`), then the stop
//!   signal to the group and the stop timeout, then SIGKILL. Stop hooks never prevent a stop.
//! * **Exit** (`on_exit`): the decision, the `exited` event, then `post_stop` hooks (after
//!   requested and unrequested exits alike); only when they are done are stop tickets
//!   answered, an unregistered instance removed, and a restart timer armed (for the rest
//!   of the backoff that remains by then).

use crate::env::{self, EnvMap};
use crate::error::{Error, Result};
use crate::event::{Decision, Event, EventBus, EventKind};
use crate::handle::{Ack, Command, RegisterOptions, Snapshot, StopTicket, SupervisorHandle};
use crate::hooks::{self, HookContext, HookMsg, HookPhase};
use crate::logs::{LogConfig, LogFiles, LogRegistry};
use crate::order;
use crate::policy::{self, ExitFacts};
use crate::process::{self, Exit, NotAdopted, PidRecord};
use crate::spec::ProcessSpec;
use crate::state::{Desired, Origin, ProcessState, ProcessStatus, Selector};
use chrono::{DateTime, Utc};
use nix::sys::signal::Signal;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
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
    /// The global environment (config `env` and `env_files`, resolved by the server), in
    /// order: laid over the daemon's environment, under each spec's `env` (see `env.rs`).
    pub env: Vec<(String, String)>,
}

impl SupervisorConfig {
    /// PID files in `pid_dir`, output kept in memory only (no log files), broadcast
    /// capacity 4096, no sink, no global environment.
    pub fn new(pid_dir: impl Into<PathBuf>) -> Self {
        Self { pid_dir: pid_dir.into(), log: LogConfig::default(), event_capacity: 4096, sink: None, env: Vec::new() }
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
        let events = EventBus::new(config.event_capacity, config.sink);
        let (hook_tx, hook_rx) = mpsc::unbounded_channel();
        let seed = (Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64) ^ u64::from(std::process::id());
        let logs = LogRegistry::new(config.log);
        let actor = Actor {
            env: env::base(std::env::vars(), &config.env),
            env_inherited: config.env.is_empty(),
            hook_tx,
            chains: 0,
            rank: BTreeMap::new(),
            rank_dirty: false,
            releasing: false,
            depended: BTreeSet::new(),
            held: BTreeSet::new(),
            release_again: false,
            waiting: BTreeSet::new(),
            rng: seed | 1,
            pid_files: process::PidFiles::open(&config.pid_dir),
            spawner: process::Spawner::start()
                .inspect_err(|e| tracing::warn!("no spawner thread ({e}): spawning on the supervisor's thread"))
                .ok(),
            pid_dir: config.pid_dir,
            logs: Arc::clone(&logs),
            bus: events.clone(),
            seq: 0,
            generation: 0,
            specs: BTreeMap::new(),
            instances: BTreeMap::new(),
            timers: DelayQueue::new(),
            watchers: JoinSet::new(),
            shutdown: None,
        };
        let join = tokio::spawn(actor.run(rx, hook_rx));
        (SupervisorHandle { tx, events, sampler: Default::default(), logs }, join)
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
    /// When recent unexpected exits happened (those within `retry_window` count).
    failures: VecDeque<Instant>,
    /// The phase of hooks the instance waits for, with its chain id; reports of any
    /// other chain are stale for the state (their events are still emitted).
    chain: Option<(u64, HookPhase)>,
    /// The attempt a start that waits (for dependencies or pre_start hooks) will be.
    pending_attempt: u32,
    /// When a restart decided at the exit is due (armed once post_stop hooks are done).
    restart_due: Option<Instant>,
    /// The process is being stopped because a post_start hook failed: `fatal` with
    /// this reason once it has exited.
    fatal_after_stop: Option<String>,
    /// Its stop signal was sent ahead of the stop's bookkeeping ([`Actor::signal_first`]);
    /// [`Actor::signal_stop`] does the rest without sending it again.
    signalled: bool,
}

impl Instance {
    fn new(base: String, origin: Origin, desired: Desired, pid_file: PathBuf) -> Self {
        Self {
            base,
            origin,
            state: ProcessState::Stopped,
            desired,
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
            failures: VecDeque::new(),
            chain: None,
            pending_attempt: 0,
            restart_due: None,
            fatal_after_stop: None,
            signalled: false,
        }
    }
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
    /// The daemon's environment with the global `env` laid over it.
    env: EnvMap,
    /// No global `env`: `env` is the daemon's own, which a child may simply inherit.
    env_inherited: bool,
    /// Where hook tasks report (the receiver is in [`Actor::run`]).
    hook_tx: mpsc::UnboundedSender<HookMsg>,
    /// The last hook chain id handed out.
    chains: u64,
    /// Each spec's place in the start order.
    rank: BTreeMap<String, usize>,
    /// The specs changed since `rank` was computed (it is recomputed when next needed,
    /// so registering many specs in a row costs one sort, not one per spec).
    rank_dirty: bool,
    /// Specs that some other spec depends on (computed with `rank`).
    depended: BTreeSet<String>,
    /// Instances whose stop is held until their dependents being stopped have exited.
    held: BTreeSet<String>,
    /// [`Actor::release_waiting`] is running (a spawn it makes must not recurse into it).
    releasing: bool,
    /// Something became running while releasing: look at the waiting starts once more.
    release_again: bool,
    /// Instances in [`ProcessState::Waiting`].
    waiting: BTreeSet<String>,
    /// State of the jitter generator (xorshift).
    rng: u64,
    pid_dir: PathBuf,
    /// Writes and removes the PID files, off the spawn path.
    pid_files: process::PidFiles,
    /// Makes the system calls of spawning, with a descriptor table of its own.
    spawner: Option<process::Spawner>,
    logs: Arc<LogRegistry>,
    /// Shared with the jobs controller: numbers and publishes events.
    bus: EventBus,
    /// The sequence number of the last event this actor published.
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
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut hook_rx: mpsc::UnboundedReceiver<HookMsg>,
    ) {
        let mut handles_gone = false;
        loop {
            tokio::select! {
                biased;
                Some(joined) = self.watchers.join_next(), if !self.watchers.is_empty() => match joined {
                    Ok(exited) => self.on_exit(exited),
                    Err(e) => tracing::error!("an exit watcher failed: {e}"),
                },
                Some(msg) = hook_rx.recv() => self.on_hook(msg),
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
            Command::Update { spec, reply } => {
                let _ = reply.send(self.update(*spec));
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

    /// Every problem with `spec` as it would be registered (or replace the spec of the
    /// same name): the spec's own, its program, and its place among the other specs.
    fn problems(&self, spec: &ProcessSpec) -> Vec<(&'static str, String)> {
        let mut problems = spec.validate();
        if let Some(dir) = spec.work_dir.as_deref().filter(|d| d.is_absolute()) {
            if !dir.is_dir() {
                problems.push(("work_dir", format!("{} is not an existing directory", dir.display())));
            }
        }
        if !problems.iter().any(|(key, _)| matches!(*key, "command" | "args")) {
            let child_env;
            let env = if spec.env.is_empty() {
                &self.env
            } else {
                child_env = env::apply_map(&self.env, &spec.env.0);
                &child_env
            };
            if let Err(e) = process::check_program(spec, env) {
                problems.push(("command", e));
            }
        }
        if !problems.iter().any(|(key, _)| *key == "depends_on") {
            if let Some(dep) = spec.depends_on.iter().find(|d| !self.specs.contains_key(*d)) {
                let e = order::OrderError::UnknownDependency { spec: spec.name.clone(), dependency: dep.clone() };
                problems.push(("depends_on", e.to_string()));
            } else if !spec.depends_on.is_empty() && self.specs.contains_key(&spec.name) {
                // Only a spec that others may already depend on (an update) can close a
                // cycle; a new one cannot be a dependency yet.
                let others = self.specs.values().map(|r| &r.spec).filter(|s| s.name != spec.name);
                if let Err(e) = order::check(others.chain(std::iter::once(spec)).map(order::Node::from)) {
                    problems.push(("depends_on", e.to_string()));
                }
            }
        }
        problems
    }

    fn register(&mut self, spec: ProcessSpec, opts: RegisterOptions) -> Result<Ack> {
        self.refuse_during_shutdown()?;
        let mut problems = self.problems(&spec);
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
            return Err(invalid(problems));
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
        self.rank_dirty = true;
        for ((name, desired), pid_file) in wishes.iter().zip(pid_files) {
            self.instances.insert(name.clone(), Instance::new(base.clone(), origin, *desired, pid_file));
            self.emit_instance(name, EventKind::InstanceAdded { base: base.clone() });
        }

        let mut to_start = Vec::new();
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
                to_start.push(name.clone());
            }
        }
        let failed = self.request_starts(&to_start);
        let mut names: Vec<String> = wishes.into_iter().map(|(n, _)| n).collect();
        names.sort();
        Ok(Ack { seq: self.seq, names, failed })
    }

    /// Replaces a spec: instances no longer named are stopped and removed, new ones added
    /// (wished running when any old one was), and live processes whose command,
    /// environment… changed are stopped and started again with the new spec. Fields that
    /// only steer supervision take effect without a restart (`policy::needs_restart`).
    fn update(&mut self, spec: ProcessSpec) -> Result<Ack> {
        self.refuse_during_shutdown()?;
        let base = spec.name.clone();
        let Some(reg) = self.specs.get(&base) else {
            return Err(Error::NotFound(base));
        };
        if reg.spec == spec {
            return Ok(Ack { seq: self.seq, names: Vec::new(), failed: Vec::new() });
        }
        let problems = self.problems(&spec);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let (old, origin) = (reg.spec.clone(), reg.origin);
        let existing: Vec<String> =
            self.instances.iter().filter(|(_, i)| i.base == base && !i.removing).map(|(n, _)| n.clone()).collect();
        let wanted = spec.instance_names();
        let added: Vec<String> = wanted.iter().filter(|n| !existing.contains(n)).cloned().collect();
        let removed: Vec<String> = existing.iter().filter(|n| !wanted.contains(n)).cloned().collect();
        let kept: Vec<String> = existing.iter().filter(|n| wanted.contains(n)).cloned().collect();
        // (`web` going from 2 instances to 1 is named like its own spec: that is fine.)
        let taken = |n: &String| self.instances.contains_key(n) || (*n != base && self.specs.contains_key(n));
        if let Some(name) = added.iter().find(|n| taken(n)) {
            return Err(Error::AlreadyExists(name.clone()));
        }
        let desired = if existing.iter().any(|n| self.instances[n].desired == Desired::Running) {
            Desired::Running
        } else {
            Desired::Stopped
        };
        let restart = policy::needs_restart(&old, &spec);

        self.emit(&base, EventKind::Updated { spec: spec.clone(), origin }, None);
        let reg = self.specs.get_mut(&base).expect("checked above");
        reg.spec = spec;
        reg.instances += added.len();
        self.rank_dirty = true;

        let mut done = Vec::new();
        for name in removed.iter().rev() {
            self.instance_mut(name).removing = true;
            self.stop_instance(name, &mut done);
            if !self.instance_mut(name).state.is_alive() {
                self.remove_instance(name);
            }
        }
        let mut restarted = Vec::new();
        if restart {
            for name in &kept {
                let inst = self.instance_mut(name);
                if inst.state.is_alive() && inst.desired == Desired::Running {
                    self.stop_process(name);
                    self.instance_mut(name).start_after_stop = true;
                    restarted.push(name.clone());
                }
            }
        }
        let mut failed = Vec::new();
        for name in &added {
            let pid_file = {
                let spec = &self.specs[&base].spec;
                process::pid_file(spec, name, &self.pid_dir)
            };
            self.instances.insert(name.clone(), Instance::new(base.clone(), origin, desired, pid_file));
            self.emit_instance(name, EventKind::InstanceAdded { base: base.clone() });
            if desired == Desired::Running {
                if let Err(e) = self.request_start(name, 0) {
                    failed.push((name.clone(), e));
                }
            }
        }
        // Starts that waited for a dependency the new spec no longer has may go now.
        self.release_waiting();
        let names = sorted(added.into_iter().chain(removed).chain(restarted).collect());
        Ok(Ack { seq: self.seq, names, failed })
    }

    fn start(&mut self, selector: &Selector) -> Result<Ack> {
        self.refuse_during_shutdown()?;
        let names = self.select(selector)?;
        let mut failed = Vec::new();
        let mut to_start = Vec::new();
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
            self.held.remove(name);
            let inst = self.instance_mut(name);
            let post_stop_running = matches!(inst.chain, Some((_, HookPhase::PostStop)));
            match inst.state {
                ProcessState::Starting { .. }
                | ProcessState::Running { .. }
                | ProcessState::Waiting { .. }
                | ProcessState::PreStart { .. } => {}
                ProcessState::Stopping { .. } => inst.start_after_stop = true,
                _ if post_stop_running => {
                    inst.start_after_stop = true;
                    inst.restarts = 0;
                    inst.failures.clear();
                    inst.restart_due = None;
                }
                ProcessState::Stopped
                | ProcessState::Exited { .. }
                | ProcessState::Fatal { .. }
                | ProcessState::Backoff { .. } => {
                    inst.restarts = 0;
                    inst.failures.clear();
                    inst.restart_due = None;
                    self.cancel_timer(name);
                    to_start.push(name.clone());
                }
            }
        }
        failed.extend(self.request_starts(&to_start));
        Ok(Ack { seq: self.seq, names: sorted(names), failed })
    }

    fn stop(&mut self, selector: &Selector) -> Result<StopTicket> {
        self.refuse_during_shutdown()?;
        let names = self.select(selector)?;
        self.signal_first(names.iter().rev());
        let mut done = Vec::new();
        for name in names.iter().rev() {
            self.stop_instance(name, &mut done);
        }
        Ok(StopTicket { ack: Ack { seq: self.seq, names: sorted(names), failed: Vec::new() }, done })
    }

    fn unregister(&mut self, selector: &Selector) -> Result<StopTicket> {
        self.refuse_during_shutdown()?;
        let names = self.select(selector)?;
        // A spec that stays may not lose a dependency.
        self.reorder();
        if !self.depended.is_empty() {
            let going: BTreeSet<&str> = names.iter().map(String::as_str).collect();
            let mut left: BTreeMap<&str, usize> = BTreeMap::new();
            for (name, inst) in &self.instances {
                *left.entry(inst.base.as_str()).or_default() += usize::from(!going.contains(name.as_str()));
            }
            let gone = |spec: &str| left.get(spec).is_some_and(|n| *n == 0);
            for reg in self.specs.values().filter(|r| !gone(&r.spec.name)) {
                if let Some(dep) = reg.spec.depends_on.iter().find(|d| gone(d)) {
                    return Err(Error::InvalidSpec(vec![(
                        "depends_on".to_string(),
                        format!(
                            "{:?} depends on {dep:?}: unregister or update {:?} first",
                            reg.spec.name, reg.spec.name
                        ),
                    )]));
                }
            }
        }
        self.signal_first(names.iter().rev());
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

    /// Stops every process but `detached` ones, dependents first, without touching
    /// wishes; [`Self::shutdown_complete`] answers once the last one has exited and its
    /// stop hooks are done.
    fn begin_shutdown(&mut self, reply: oneshot::Sender<()>) {
        self.shutdown.get_or_insert_with(Vec::new).push(reply);
        let mut names = self.by_priority(|_, _| true);
        names.retain(|name| !self.detached(name));
        self.signal_first(names.iter().rev());
        for name in names.iter().rev() {
            let inst = self.instance_mut(name);
            inst.start_after_stop = false;
            match inst.state {
                ProcessState::Backoff { .. } => {
                    inst.restart_due = None;
                    self.cancel_timer(name);
                }
                ProcessState::Waiting { .. } => {
                    self.waiting.remove(name);
                }
                // The hooks run on; the spawn they would lead to does not happen.
                ProcessState::PreStart { .. } => inst.chain = None,
                ProcessState::Starting { .. } | ProcessState::Running { .. } => self.stop_or_hold(name),
                _ => {}
            }
        }
    }

    fn shutdown_complete(&mut self) -> bool {
        if self.shutdown.is_none() {
            return false;
        }
        // Waited for: live processes (but detached ones) and running stop hooks.
        let busy = |i: &Instance| {
            i.chain.is_some_and(|(_, phase)| phase != HookPhase::PostStart)
                || (i.state.is_alive() && !self.specs.get(&i.base).is_some_and(|r| r.spec.detached))
        };
        if self.instances.values().any(busy) {
            return false;
        }
        for reply in self.shutdown.take().into_iter().flatten() {
            let _ = reply.send(());
        }
        true
    }

    // ----- what happens to one instance -----

    /// The stop part shared by stop, unregister and update: wish stopped, a pending
    /// start (backoff, waiting, pre_start) cancelled, the process (if any) stopped, and a
    /// waiter for the ticket.
    fn stop_instance(&mut self, name: &str, done: &mut Vec<oneshot::Receiver<u64>>) {
        let inst = self.instance_mut(name);
        inst.start_after_stop = false;
        let wish_changed = inst.desired != Desired::Stopped;
        inst.desired = Desired::Stopped;
        let was_pending = matches!(
            inst.state,
            ProcessState::Backoff { .. } | ProcessState::Waiting { .. } | ProcessState::PreStart { .. }
        );
        if was_pending {
            if matches!(inst.state, ProcessState::PreStart { .. }) {
                inst.chain = None;
            }
            inst.state = ProcessState::Stopped;
            inst.restart_due = None;
            self.waiting.remove(name);
            self.cancel_timer(name);
        }
        if wish_changed || was_pending {
            self.emit_instance(name, EventKind::DesiredChanged { desired: Desired::Stopped });
        }
        let inst = self.instance_mut(name);
        let post_stop_running = matches!(inst.chain, Some((_, HookPhase::PostStop)));
        if inst.state.is_alive() || post_stop_running {
            self.stop_or_hold(name);
            let (tx, rx) = oneshot::channel();
            self.instance_mut(name).waiters.push(tx);
            done.push(rx);
        }
    }

    /// Stops a live process, dependents first: while an instance of a spec that depends
    /// on this one is alive and being stopped too (its wish is stopped, or the daemon is
    /// shutting down), this one's stop is held, and it is stopped once they have exited.
    /// A dependent that keeps running does not hold the stop of its dependency.
    fn stop_or_hold(&mut self, name: &str) {
        if self.holds_stop(name) {
            self.held.insert(name.to_string());
        } else {
            self.stop_process(name);
        }
    }

    /// True when a dependent of `name`'s spec is alive and being stopped.
    fn holds_stop(&mut self, name: &str) -> bool {
        self.reorder();
        let Some(base) = self.instances.get(name).map(|i| i.base.clone()) else {
            return false;
        };
        if !self.depended.contains(&base) {
            return false;
        }
        let shutting_down = self.shutdown.is_some();
        self.instances.values().any(|j| {
            let Some(reg) = self.specs.get(&j.base) else {
                return false;
            };
            reg.spec.depends_on.contains(&base)
                && (j.state.is_alive() || j.chain.is_some_and(|(_, p)| p == HookPhase::PostStop))
                && (j.desired == Desired::Stopped || (shutting_down && !reg.spec.detached))
        })
    }

    /// Stops the held instances whose dependents have exited meanwhile.
    fn release_held_stops(&mut self) {
        if self.held.is_empty() {
            return;
        }
        for name in self.held.clone() {
            let alive = self.instances.get(&name).is_some_and(|i| i.state.is_alive());
            if !alive {
                self.held.remove(&name);
            } else if !self.holds_stop(&name) {
                self.held.remove(&name);
                self.stop_process(&name);
            }
        }
    }

    /// Stops a live process: its pre_stop hooks first (if any), then [`Self::signal_stop`].
    /// A process already stopping is left to its timeout.
    fn stop_process(&mut self, name: &str) {
        let inst = self.instances.get_mut(name).expect("stop_process: instance exists");
        let pid = match inst.state {
            ProcessState::Starting { pid, .. } | ProcessState::Running { pid, .. } => pid,
            _ => return,
        };
        let spec = &self.specs.get(&inst.base).expect("an instance's spec is registered").spec;
        if spec.lifecycle.pre_stop.is_empty() {
            self.signal_stop(name);
            return;
        }
        inst.state = ProcessState::Stopping { pid, since: Utc::now() };
        inst.stop_requested = true;
        self.cancel_timer(name);
        self.run_hooks(name, HookPhase::PreStop);
    }

    /// Sends the stop signal to a live process's group and arms the stop timeout.
    fn signal_stop(&mut self, name: &str) {
        let inst = self.instances.get_mut(name).expect("signal_stop: instance exists");
        let spec = &self.specs.get(&inst.base).expect("an instance's spec is registered").spec;
        let (signal, timeout) = (spec.stop_signal.0, spec.stop_timeout);
        let pid = match inst.state {
            ProcessState::Starting { pid, .. }
            | ProcessState::Running { pid, .. }
            | ProcessState::Stopping { pid, .. } => pid,
            _ => return,
        };
        // ESRCH is no error: the process has exited and its exit is on the way.
        if !std::mem::take(&mut inst.signalled) {
            if let Err(e) = process::signal_group(pid, signal) {
                tracing::warn!(instance = name, pid, "sending {signal}: {e}");
            }
        }
        let since = match inst.state {
            ProcessState::Stopping { since, .. } => since,
            _ => Utc::now(),
        };
        inst.state = ProcessState::Stopping { pid, since };
        inst.stop_requested = true;
        self.set_timer(name, TimerKind::StopTimeout, timeout);
        self.emit_instance(name, EventKind::Stopping { pid, signal: signal.as_str().to_string() });
    }

    /// Sends the stop signal, in one tight loop, to each of `names` (in stop order) whose
    /// stop goes straight to the signal: running or starting, no `pre_stop` hooks, and no
    /// spec depends on its spec (a dependency's stop may be held for its dependents). The
    /// bookkeeping of each stop (wish, events, timeout) follows in [`Self::signal_stop`].
    /// A stop of many processes then has them all exiting while that bookkeeping is done,
    /// instead of signalling the last one only after the bookkeeping of all the others.
    fn signal_first<'a>(&mut self, names: impl Iterator<Item = &'a String>) {
        self.reorder();
        for name in names {
            let Some(inst) = self.instances.get_mut(name) else { continue };
            let pid = match inst.state {
                ProcessState::Starting { pid, .. } | ProcessState::Running { pid, .. } => pid,
                _ => continue,
            };
            let Some(reg) = self.specs.get(&inst.base) else { continue };
            if self.depended.contains(&inst.base) || !reg.spec.lifecycle.pre_stop.is_empty() {
                continue;
            }
            // On an error, `signal_stop` sends it again and reports the error.
            inst.signalled = process::signal_group(pid, reg.spec.stop_signal.0).is_ok();
        }
    }

    /// Starts an instance that is not alive: waits for its dependencies, runs its
    /// pre_start hooks, then spawns. `Err` only when the spawn itself failed at once.
    fn request_start(&mut self, name: &str, attempt: u32) -> std::result::Result<(), String> {
        if self.prepare_start(name, attempt) {
            self.spawn(name, attempt)
        } else {
            Ok(())
        }
    }

    /// Starts many instances at once: those ready to spawn are spawned together
    /// ([`Actor::spawn_all`]), the others wait for their dependencies or hooks as with
    /// [`Actor::request_start`]. Returns the instances that could not be spawned.
    fn request_starts(&mut self, names: &[String]) -> Vec<(String, String)> {
        let ready: Vec<String> = names.iter().filter(|name| self.prepare_start(name, 0)).cloned().collect();
        self.spawn_all(&ready, 0)
    }

    /// Everything before the spawn itself: waiting for dependencies, pre_start hooks. True
    /// when the instance is to be spawned now.
    fn prepare_start(&mut self, name: &str, attempt: u32) -> bool {
        let base = self.instance_mut(name).base.clone();
        let spec = &self.specs.get(&base).expect("an instance's spec is registered").spec;
        let on = self.unready_dependencies(spec);
        let has_pre_start = !spec.lifecycle.pre_start.is_empty();
        let inst = self.instance_mut(name);
        inst.pending_attempt = attempt;
        if !on.is_empty() {
            inst.state = ProcessState::Waiting { on: on.clone() };
            self.waiting.insert(name.to_string());
            self.emit_instance(name, EventKind::Waiting { on });
            return false;
        }
        self.waiting.remove(name);
        if has_pre_start {
            self.instance_mut(name).state = ProcessState::PreStart { since: Utc::now() };
            self.run_hooks(name, HookPhase::PreStart);
            return false;
        }
        true
    }

    /// The dependencies of `spec` that are not running (every instance `running`).
    fn unready_dependencies(&self, spec: &ProcessSpec) -> Vec<String> {
        spec.depends_on
            .iter()
            .filter(|dep| {
                let mut members = self.instances.values().filter(|i| &i.base == *dep).peekable();
                members.peek().is_none() || !members.all(|i| matches!(i.state, ProcessState::Running { .. }))
            })
            .cloned()
            .collect()
    }

    /// Goes on with the starts that waited for dependencies which are now running.
    /// Not recursive: a spawn made here that releases more starts is handled by the
    /// next round of the loop, so a long chain of dependents costs no stack.
    fn release_waiting(&mut self) {
        if self.waiting.is_empty() {
            return;
        }
        if self.releasing {
            self.release_again = true;
            return;
        }
        self.releasing = true;
        loop {
            self.release_again = false;
            let waiting = self.waiting.clone();
            // Which specs are ready, in one pass over the instances.
            let mut ready: BTreeMap<&str, bool> = BTreeMap::new();
            for inst in self.instances.values() {
                let r = ready.entry(inst.base.as_str()).or_insert(true);
                *r &= matches!(inst.state, ProcessState::Running { .. });
            }
            let released: Vec<String> = waiting
                .iter()
                .filter(|name| {
                    self.instances.get(*name).and_then(|i| self.specs.get(&i.base)).is_some_and(|r| {
                        r.spec.depends_on.iter().all(|d| ready.get(d.as_str()).copied().unwrap_or(false))
                    })
                })
                .cloned()
                .collect();
            let released: BTreeSet<String> = released.into_iter().collect();
            for name in self.by_priority(|n, _| released.contains(n)) {
                let Some(inst) = self.instances.get(&name) else {
                    continue;
                };
                if !matches!(inst.state, ProcessState::Waiting { .. }) {
                    continue;
                }
                let attempt = inst.pending_attempt;
                if let Err(e) = self.request_start(&name, attempt) {
                    tracing::warn!(instance = name, "starting after its dependencies: {e}");
                }
            }
            if !self.release_again {
                break;
            }
        }
        self.releasing = false;
    }

    /// Starts the hooks of `phase` for `name` as a task; the instance waits for
    /// [`HookMsg::PhaseDone`] with this chain id.
    fn run_hooks(&mut self, name: &str, phase: HookPhase) {
        let inst = self.instances.get(name).expect("run_hooks: instance exists");
        let spec = &self.specs.get(&inst.base).expect("an instance's spec is registered").spec;
        let hooks = spec.lifecycle.phase(phase).to_vec();
        let ctx = Arc::new(HookContext {
            process_name: name.to_string(),
            env: env::apply_map(&self.env, &spec.env.0),
            work_dir: spec.work_dir.clone(),
        });
        self.chains += 1;
        let chain = self.chains;
        self.instance_mut(name).chain = Some((chain, phase));
        tokio::spawn(hooks::run_phase(hooks, phase, ctx, chain, self.hook_tx.clone()));
        self.emit_instance(name, EventKind::HooksStarted { phase });
    }

    fn on_hook(&mut self, msg: HookMsg) {
        let (instance, chain, phase, failure) = match msg {
            HookMsg::Started { instance, phase, hook, run_mode } => {
                self.emit_instance(&instance, EventKind::HookStarted { phase, hook, run_mode });
                return;
            }
            HookMsg::Finished { instance, phase, hook, run_mode, outcome } => {
                if !outcome.succeeded() {
                    tracing::warn!(instance, hook, %phase, "hook {}", outcome.result);
                }
                let kind = EventKind::HookFinished {
                    phase,
                    hook,
                    run_mode,
                    result: outcome.result,
                    duration: outcome.duration,
                    attempts: outcome.attempts,
                    output: outcome.output,
                };
                self.emit_instance(&instance, kind);
                return;
            }
            HookMsg::PhaseDone { instance, chain, phase, failure } => (instance, chain, phase, failure),
        };
        let Some(inst) = self.instances.get_mut(&instance) else {
            return;
        };
        if inst.chain.map(|(c, _)| c) != Some(chain) {
            // A phase the instance no longer waits for (stopped meanwhile, or its process
            // exited): its end is history, not a transition.
            self.emit_instance(&instance, EventKind::HooksFinished { phase, failure });
            return;
        }
        inst.chain = None;
        match phase {
            HookPhase::PreStart => {
                if let Some(reason) = &failure {
                    inst.state = ProcessState::Fatal { reason: reason.clone() };
                    self.emit_instance(&instance, EventKind::HooksFinished { phase, failure });
                    return;
                }
                let go = inst.desired == Desired::Running && self.shutdown.is_none();
                if !go {
                    inst.state = ProcessState::Stopped;
                }
                let attempt = inst.pending_attempt;
                self.emit_instance(&instance, EventKind::HooksFinished { phase, failure });
                if go {
                    if let Err(e) = self.spawn(&instance, attempt) {
                        tracing::warn!(instance, "spawn after pre_start hooks: {e}");
                    }
                }
            }
            HookPhase::PostStart => {
                let stop = failure.clone().filter(|_| inst.state.is_alive() && !inst.stop_requested);
                self.emit_instance(&instance, EventKind::HooksFinished { phase, failure });
                if let Some(reason) = stop {
                    self.instance_mut(&instance).fatal_after_stop = Some(reason);
                    self.stop_process(&instance);
                }
            }
            HookPhase::PreStop => {
                self.emit_instance(&instance, EventKind::HooksFinished { phase, failure });
                self.signal_stop(&instance);
            }
            HookPhase::PostStop => {
                self.emit_instance(&instance, EventKind::HooksFinished { phase, failure });
                self.after_exit(&instance);
            }
        }
    }

    /// Spawns the instance's process (`attempt` 0 for a start on request). On failure
    /// the instance is `Fatal` and the error is returned for [`Ack::failed`].
    fn spawn(&mut self, name: &str, attempt: u32) -> std::result::Result<(), String> {
        match self.spawn_all(&[name.to_string()], attempt).pop() {
            Some((_, error)) => Err(error),
            None => Ok(()),
        }
    }

    /// Spawns the instances `names` (each ready to spawn) in order, then records their PID
    /// files (one journal write), watches and records each. The system calls happen on
    /// the spawner thread ([`process::Spawner`]), whose children do not inherit the
    /// daemon's descriptors; what a process keeps for its lifetime (exit watch, capture)
    /// is allocated here, on the actor's thread. Returns the instances that could not be
    /// spawned, with the reason.
    fn spawn_all(&mut self, names: &[String], attempt: u32) -> Vec<(String, String)> {
        let mut orders: Vec<SpawnOrder<'_>> = names.iter().map(|name| self.spawn_order(name)).collect();
        let prepared = orders.iter_mut().map(|o| process::prepare(o.spec, o.env.take(), &o.files)).collect();
        let started = self.launch(prepared);
        let records = orders
            .iter()
            .zip(&started)
            .filter_map(|(order, started)| order.pid_record(started.as_ref().ok()?))
            .collect();
        self.pid_files.write(records);
        let watched: Vec<_> = orders
            .into_iter()
            .zip(started)
            .map(|(order, started)| {
                let spawned = started.and_then(|s| process::watch(s, order.instance, &order.files, &self.logs));
                (order.pid_file, spawned)
            })
            .collect();
        let mut failed = Vec::new();
        for (name, (pid_file, spawned)) in names.iter().zip(watched) {
            if let Err(e) = self.spawned(name, attempt, pid_file, spawned) {
                failed.push((name.to_string(), e));
            }
        }
        failed
    }

    /// Launches what was prepared, in order: on the spawner thread, or on this one if it
    /// is not running. A spawn that failed to prepare keeps its error.
    fn launch(
        &self,
        prepared: Vec<std::result::Result<process::Launch, String>>,
    ) -> Vec<std::result::Result<process::Started, String>> {
        let here = |prepared: Vec<std::result::Result<process::Launch, String>>| {
            prepared.into_iter().map(|p| p.and_then(process::launch)).collect()
        };
        match &self.spawner {
            Some(spawner) => spawner.launch_all(prepared).unwrap_or_else(|prepared| {
                tracing::warn!("the spawner thread is gone: spawning on the supervisor's thread");
                here(prepared)
            }),
            None => here(prepared),
        }
    }

    /// What spawning `name` takes: the spec borrowed, the rest computed here, so that the
    /// spawn itself can run on another thread.
    fn spawn_order<'a>(&'a self, name: &'a str) -> SpawnOrder<'a> {
        let inst = self.instances.get(name).expect("spawn: instance exists");
        let spec = &self.specs.get(&inst.base).expect("an instance's spec is registered").spec;
        // Without a global or spec environment the child inherits the daemon's as it is.
        let env = (!self.env_inherited || !spec.env.is_empty()).then(|| env::apply_map(&self.env, &spec.env.0));
        SpawnOrder {
            spec,
            instance: name,
            env,
            files: LogFiles::resolve(spec, name, self.logs.config()),
            pid_file: process::pid_file(spec, name, &self.pid_dir),
        }
    }

    /// Records the outcome of spawning `name`: its state, the exit watch, the event.
    fn spawned(
        &mut self,
        name: &str,
        attempt: u32,
        pid_file: PathBuf,
        spawned: std::result::Result<process::Spawned, String>,
    ) -> std::result::Result<(), String> {
        let inst = self.instances.get(name).expect("spawn: instance exists");
        let spec = &self.specs.get(&inst.base).expect("an instance's spec is registered").spec;
        let start_duration = spec.start_duration;
        let has_post_start = !spec.lifecycle.post_start.is_empty();
        let spawned = match spawned {
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
        let generation = self.next_generation();
        let now = Utc::now();
        let inst = self.instance_mut(name);
        inst.pid_file = pid_file;
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
        inst.fatal_after_stop = None;
        inst.restart_due = None;
        self.watch(name, generation, pid, spawned.watch);
        if !start_duration.is_zero() {
            self.set_timer(name, TimerKind::StartDuration, start_duration);
        }
        self.emit_instance(name, EventKind::Started { pid, attempt });
        if has_post_start {
            self.run_hooks(name, HookPhase::PostStart);
        }
        if start_duration.is_zero() {
            self.release_waiting();
        }
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
        let output = match process::adopted_output(pid) {
            [None, None] => {
                tracing::info!(instance = name, pid, "re-adopted without its output: not captured");
                None
            }
            [stdout, stderr] => {
                let spec = &self.specs.get(&inst.base).expect("an instance's spec is registered").spec;
                let files = LogFiles::resolve(spec, name, self.logs.config());
                self.logs.seed_before_first_output(name, &files);
                self.logs
                    .capture(name, stdout, stderr, &files)
                    .inspect_err(|e| tracing::warn!(instance = name, pid, "re-adopted without its output: {e}"))
                    .ok()
            }
        };
        let watch = process::ExitWatch::Adopted { pid, pidfd: adopted.pidfd, output };
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
        self.watch(name, generation, pid, watch);
        self.emit_instance(name, EventKind::Adopted { pid });
        self.release_waiting();
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
        let jitter = self.jitter();
        let Some(inst) = self.instances.get_mut(&name) else {
            return;
        };
        if inst.generation != generation || !inst.state.is_alive() {
            tracing::debug!(instance = name, pid, "ignoring the exit of a replaced process");
            return;
        }
        let uptime = inst.started.take().map(|s| s.elapsed()).unwrap_or_default();
        let spec = &self.specs.get(&inst.base).expect("an instance's spec is registered").spec;
        let requested = inst.stop_requested;
        let now_instant = Instant::now();
        // Failures older than the window no longer count.
        while inst.failures.front().is_some_and(|t| now_instant.duration_since(*t) >= spec.retry_window) {
            inst.failures.pop_front();
        }
        let facts = ExitFacts {
            desired: inst.desired,
            requested,
            code: exit.code,
            signal: exit.signal,
            uptime,
            restarts: inst.restarts,
            recent_failures: u32::try_from(inst.failures.len()).unwrap_or(u32::MAX),
            jitter,
        };
        let decision = match inst.fatal_after_stop.take() {
            Some(reason) => Decision::GiveUp { reason },
            None => policy::on_exit(spec, &facts),
        };
        // A restart rewrites the PID file in place; otherwise it goes. (A daemon that dies
        // before the restart leaves a file naming a dead process, which adoption discards.)
        if !matches!(decision, Decision::Restart { .. }) {
            self.pid_files.remove(inst.pid_file.clone());
        }
        if matches!(decision, Decision::Restart { .. } | Decision::GiveUp { .. }) && !requested {
            inst.failures.push_back(now_instant);
        }
        let failed_start = policy::failed_start(spec, requested, uptime);
        if failed_start {
            tracing::warn!(
                instance = name,
                pid,
                "exited after {uptime:?}, before its start_duration of {:?}: failed to start",
                spec.start_duration
            );
        }
        let has_post_stop = !spec.lifecycle.post_stop.is_empty();
        let now = Utc::now();
        inst.stopped_at = Some(now);
        inst.last_exit_code = exit.code;
        inst.last_exit_signal = exit.signal;
        inst.stop_requested = false;
        inst.chain = None;
        inst.state = match &decision {
            Decision::Stop => ProcessState::Stopped,
            Decision::Restart { after, attempt } => ProcessState::Backoff { attempt: *attempt, until: at(now, *after) },
            Decision::NoRestart => ProcessState::Exited { code: exit.code, signal: exit.signal, at: now },
            Decision::GiveUp { reason } => ProcessState::Fatal { reason: reason.clone() },
        };
        inst.restart_due = match &decision {
            Decision::Restart { after, .. } => Some(now_instant + (*after).min(MAX_DELAY)),
            _ => None,
        };
        self.cancel_timer(&name);
        let kind =
            EventKind::Exited { pid, code: exit.code, signal: exit.signal, uptime, requested, failed_start, decision };
        self.emit_instance(&name, kind);
        if has_post_stop {
            self.run_hooks(&name, HookPhase::PostStop);
        } else {
            self.after_exit(&name);
        }
    }

    /// What follows an exit once its post_stop hooks (if any) are done: the removal of an
    /// unregistered instance, the stop tickets, a start asked for meanwhile, the restart timer.
    fn after_exit(&mut self, name: &str) {
        self.held.remove(name);
        self.release_held_stops();
        let shutting_down = self.shutdown.is_some();
        let seq = self.seq;
        let inst = self.instance_mut(name);
        if inst.removing {
            self.remove_instance(name);
            return;
        }
        for waiter in inst.waiters.drain(..) {
            let _ = waiter.send(seq);
        }
        if inst.start_after_stop && inst.desired == Desired::Running && !shutting_down {
            inst.restarts = 0;
            inst.restart_due = None;
            if let Err(e) = self.request_start(name, 0) {
                tracing::warn!(instance = name, "starting again after the stop: {e}");
            }
            return;
        }
        if let (ProcessState::Backoff { attempt, .. }, Some(due)) = (&inst.state, inst.restart_due.take()) {
            if shutting_down {
                return;
            }
            let after = due.saturating_duration_since(Instant::now());
            if !after.is_zero() {
                self.set_timer(name, TimerKind::RestartDue, after);
                return;
            }
            // Due already (`restart_interval = "0s"`, or post_stop hooks took longer than
            // the delay): restart now. A timer would add the timer wheel's millisecond
            // rounding to every crash-loop restart.
            let attempt = *attempt;
            self.restart(name, attempt);
        }
    }

    /// The automatic restart of an instance in backoff whose delay is over, unless it is
    /// no longer wished running or the daemon is shutting down.
    fn restart(&mut self, name: &str, attempt: u32) {
        let shutting_down = self.shutdown.is_some();
        let inst = self.instance_mut(name);
        if inst.desired != Desired::Running || shutting_down {
            return;
        }
        inst.restarts = attempt;
        if let Err(e) = self.request_start(name, attempt) {
            tracing::warn!(instance = name, attempt, "restart failed: {e}");
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
                self.release_waiting();
            }
            (TimerKind::StopTimeout, ProcessState::Stopping { pid, .. }) => {
                if let Err(e) = process::signal_group(pid, Signal::SIGKILL) {
                    tracing::warn!(instance = name, pid, "sending SIGKILL: {e}");
                }
                self.emit_instance(&name, EventKind::Killed { pid });
            }
            (TimerKind::RestartDue, ProcessState::Backoff { attempt, .. }) => self.restart(&name, attempt),
            _ => {}
        }
    }

    /// Removes an instance that is not alive; the spec goes with its last instance.
    fn remove_instance(&mut self, name: &str) {
        self.cancel_timer(name);
        self.waiting.remove(name);
        self.held.remove(name);
        let Some(inst) = self.instances.remove(name) else {
            return;
        };
        self.logs.forget(name);
        self.emit(name, EventKind::InstanceRemoved { base: inst.base.clone() }, None);
        if let Some(reg) = self.specs.get_mut(&inst.base) {
            reg.instances = reg.instances.saturating_sub(1);
            if reg.instances == 0 {
                self.specs.remove(&inst.base);
                self.rank_dirty = true;
                self.emit(&inst.base, EventKind::Unregistered, None);
            }
        }
        for waiter in inst.waiters {
            let _ = waiter.send(self.seq);
        }
    }

    // ----- plumbing -----

    /// Publishes an event through the shared [`EventBus`] (numbered, sink first, then
    /// broadcast): the one place this actor publishes.
    fn emit(&mut self, name: &str, kind: EventKind, status: Option<ProcessStatus>) {
        self.seq = self.bus.publish(name, kind, status);
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

    /// A number in `[0, 1)` for the restart jitter (xorshift64; not for secrets).
    fn jitter(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    fn detached(&self, name: &str) -> bool {
        self.instances.get(name).and_then(|i| self.specs.get(&i.base)).is_some_and(|r| r.spec.detached)
    }

    fn instance_mut(&mut self, name: &str) -> &mut Instance {
        self.instances.get_mut(name).expect("the instance exists: names come from the instance map")
    }

    /// Recomputes each spec's place in the start order if the specs changed.
    fn reorder(&mut self) {
        if !self.rank_dirty {
            return;
        }
        let order = order::start_order(self.specs.values().map(|r| order::Node::from(&r.spec)));
        self.rank = order.into_iter().enumerate().map(|(i, n)| (n, i)).collect();
        self.depended = self.specs.values().flat_map(|r| r.spec.depends_on.iter().cloned()).collect();
        self.rank_dirty = false;
    }

    /// The matching instance names, in start order (dependencies, priority, name).
    /// [`Error::NotFound`] when none matches.
    fn select(&mut self, selector: &Selector) -> Result<Vec<String>> {
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

    /// The instances that pass `filter`, in start order.
    fn by_priority(&mut self, filter: impl Fn(&str, &str) -> bool) -> Vec<String> {
        self.reorder();
        let mut found: Vec<(usize, &String)> = self
            .instances
            .iter()
            .filter(|(name, i)| filter(name, &i.base))
            .map(|(name, i)| (self.rank.get(&i.base).copied().unwrap_or(usize::MAX), name))
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

/// What spawning one instance takes, borrowed from the actor for the length of a spawn.
struct SpawnOrder<'a> {
    spec: &'a ProcessSpec,
    instance: &'a str,
    env: Option<EnvMap>,
    files: LogFiles,
    pid_file: PathBuf,
}

impl SpawnOrder<'_> {
    /// What its PID file is to say; `None` (warned) without a start time.
    fn pid_record(&self, started: &process::Started) -> Option<(PathBuf, PidRecord)> {
        let pid = started.pid;
        let Some(start_time) = started.start_time else {
            tracing::warn!(instance = self.instance, pid, "no start time: no PID file, so no re-adoption");
            return None;
        };
        Some((self.pid_file.clone(), PidRecord { pid, start_time }))
    }
}

fn invalid(problems: Vec<(&'static str, String)>) -> Error {
    Error::InvalidSpec(problems.into_iter().map(|(k, m)| (k.to_string(), m)).collect())
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// `now + after`, saturating.
fn at(now: DateTime<Utc>, after: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(after.min(MAX_DELAY)).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(now)
}
