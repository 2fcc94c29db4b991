//! The cheap, cloneable handle through which everything talks to the supervisor task.
//!
//! Every method sends one `Command` to the actor and awaits its reply on a oneshot
//! channel; the actor is the only owner of runtime state.

use crate::error::{Error, Result};
use crate::event::{Event, EventBus};
use crate::logs::{LogChunk, LogFiles, LogFollower, LogRegistry, Stream};
use crate::spec::ProcessSpec;
use crate::state::{Desired, Origin, ProcessStatus, Selector};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

/// How to register a spec.
#[derive(Clone, Debug)]
pub struct RegisterOptions {
    /// Where the spec comes from.
    pub origin: Origin,
    /// Restore mode (daemon start): exactly these instances with these wishes.
    /// `None` (a new registration) creates every instance with [`Desired::Running`]
    /// when `start` is true, else [`Desired::Stopped`].
    pub instances: Option<BTreeMap<String, Desired>>,
    /// Start the instances whose wish is `Running` right away.
    pub start: bool,
    /// Take over a still-running process recorded in the instance's PID file
    /// (same pid and same process start time) instead of spawning a second copy.
    pub adopt: bool,
}

impl RegisterOptions {
    /// A new registration from the API: start everything, nothing to adopt.
    pub fn api() -> Self {
        Self { origin: Origin::Api, instances: None, start: true, adopt: false }
    }
}

/// What a command did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ack {
    /// The sequence number of the last event the command caused (the current
    /// sequence number when it caused none). Persistence can wait for it.
    pub seq: u64,
    /// The instances it applied to, sorted.
    pub names: Vec<String>,
    /// Instances that could not be started, with the reason.
    pub failed: Vec<(String, String)>,
}

/// The whole current state at one sequence number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Every event up to and including this one is reflected.
    pub seq: u64,
    /// Every instance, sorted by name.
    pub processes: Vec<ProcessStatus>,
}

/// Resolves once every instance a stop applied to has stopped (or, for an
/// unregister, has been removed).
#[derive(Debug)]
pub struct StopTicket {
    /// What the stop did so far (signals sent).
    pub ack: Ack,
    /// One receiver per instance that was alive; each yields the sequence number
    /// current when that instance reached its end state.
    pub(crate) done: Vec<oneshot::Receiver<u64>>,
}

impl StopTicket {
    /// Waits until every instance has stopped (the stop timeout bounds this: SIGKILL
    /// follows it). Returns the sequence number by which every event of the stop —
    /// exits, removals — has been emitted, so a caller can wait for it to be persisted.
    pub async fn wait(self) -> u64 {
        let mut seq = self.ack.seq;
        for rx in self.done {
            if let Ok(s) = rx.await {
                seq = seq.max(s);
            }
        }
        seq
    }

    /// Waits like [`StopTicket::wait`], but at most `limit` (`None`: no limit).
    /// `None` when some instance had not stopped in time.
    pub async fn wait_at_most(self, limit: Option<std::time::Duration>) -> Option<u64> {
        match limit {
            None => Some(self.wait().await),
            Some(d) => tokio::time::timeout(d, self.wait()).await.ok(),
        }
    }
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T>>;

/// A message to the actor.
#[derive(Debug)]
pub(crate) enum Command {
    Register {
        // Boxed: a spec is ten times the size of any other command.
        spec: Box<ProcessSpec>,
        opts: RegisterOptions,
        reply: Reply<Ack>,
    },
    Update {
        spec: Box<ProcessSpec>,
        reply: Reply<Ack>,
    },
    Unregister {
        selector: Selector,
        reply: Reply<StopTicket>,
    },
    Start {
        selector: Selector,
        reply: Reply<Ack>,
    },
    Stop {
        selector: Selector,
        reply: Reply<StopTicket>,
    },
    Status {
        selector: Selector,
        reply: Reply<Vec<ProcessStatus>>,
    },
    Spec {
        name: String,
        reply: Reply<(ProcessSpec, Origin)>,
    },
    Snapshot {
        reply: oneshot::Sender<Snapshot>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// A cheap, cloneable handle to the supervisor task.
#[derive(Clone, Debug)]
pub struct SupervisorHandle {
    pub(crate) tx: mpsc::UnboundedSender<Command>,
    pub(crate) events: EventBus,
    /// CPU and memory sampling, shared by every clone (see [`SupervisorHandle::resources`]).
    pub(crate) sampler: Arc<crate::resources::Sampler>,
    pub(crate) logs: Arc<LogRegistry>,
}

impl SupervisorHandle {
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| Error::ShutDown)?;
        rx.await.map_err(|_| Error::ShutDown)?
    }

    /// Registers a spec (all its instances). Fails with [`Error::InvalidSpec`] or
    /// [`Error::AlreadyExists`] (for the spec name or any instance name).
    pub async fn register(&self, spec: ProcessSpec, opts: RegisterOptions) -> Result<Ack> {
        self.call(|reply| Command::Register { spec: Box::new(spec), opts, reply }).await
    }

    /// Replaces the spec registered under `spec.name` (keeping its origin):
    ///
    /// * instances the new `instances` count no longer names are stopped and removed;
    ///   new ones are added, wished running when any old instance was, and started;
    /// * when the process itself changed (command, args, work_dir, env, pid_file, … —
    ///   anything but the fields that only steer supervision: instances, priority,
    ///   depends_on, restart policy and timings, stop signal and timeout, hooks,
    ///   detached), the live instances are stopped and started again with the new spec;
    /// * an identical spec changes nothing (and emits no event).
    ///
    /// [`Ack::names`] lists the instances added, removed or restarted. Fails with
    /// [`Error::NotFound`], [`Error::InvalidSpec`] or [`Error::AlreadyExists`] (a new
    /// instance name taken by another spec). Whether the caller may change this spec
    /// (config-file processes are read-only through the API) is for the caller to decide.
    pub async fn update(&self, spec: ProcessSpec) -> Result<Ack> {
        self.call(|reply| Command::Update { spec: Box::new(spec), reply }).await
    }

    /// Stops and removes the matching instances; a spec goes when its last instance goes.
    /// [`Error::NotFound`] when nothing matches.
    pub async fn unregister(&self, selector: Selector) -> Result<StopTicket> {
        self.call(|reply| Command::Unregister { selector, reply }).await
    }

    /// Marks the matching instances as wanted running and starts those not alive.
    /// Returns once each is spawned (or failed to spawn: see [`Ack::failed`]).
    pub async fn start(&self, selector: Selector) -> Result<Ack> {
        self.call(|reply| Command::Start { selector, reply }).await
    }

    /// Marks the matching instances as wanted stopped and sends each process group
    /// its stop signal (SIGKILL after the stop timeout). The ticket resolves when all
    /// have stopped.
    pub async fn stop(&self, selector: Selector) -> Result<StopTicket> {
        self.call(|reply| Command::Stop { selector, reply }).await
    }

    /// Stops the matching instances, waits for them, then starts them again.
    pub async fn restart(&self, selector: Selector) -> Result<Ack> {
        self.stop(selector.clone()).await?.wait().await;
        self.start(selector).await
    }

    /// Status of the matching instances, sorted by name. [`Error::NotFound`] when a
    /// [`Selector::Name`] matches nothing; other selectors may return an empty list.
    pub async fn status(&self, selector: Selector) -> Result<Vec<ProcessStatus>> {
        self.call(|reply| Command::Status { selector, reply }).await
    }

    /// The spec registered under `name` (a spec name or one of its instance names).
    pub async fn spec(&self, name: impl Into<String>) -> Result<(ProcessSpec, Origin)> {
        let name = name.into();
        self.call(|reply| Command::Spec { name, reply }).await
    }

    /// Every instance at the current sequence number. Subscribe first, then take the
    /// snapshot, then apply the events whose `seq` is greater than the snapshot's.
    pub async fn snapshot(&self) -> Result<Snapshot> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Snapshot { reply }).map_err(|_| Error::ShutDown)?;
        rx.await.map_err(|_| Error::ShutDown)
    }

    /// CPU and memory of the matching live instances, sampled from `/proc` now (see
    /// [`crate::resources`]). The reading happens in the caller's task, not in the
    /// supervisor's. Instances without a live process are left out.
    pub async fn resources(&self, selector: Selector) -> Result<Vec<crate::resources::ResourceSample>> {
        let statuses = self.status(selector).await?;
        let targets: Vec<(String, u32)> =
            statuses.into_iter().filter_map(|s| s.state.pid().map(|pid| (s.name, pid))).collect();
        Ok(self.sampler.sample(&targets))
    }

    /// A live stream of events (a broadcast: a receiver that falls behind gets
    /// `RecvError::Lagged` and should take a fresh snapshot).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    /// The event bus this supervisor publishes on, to share with other actors
    /// (see [`crate::jobs::Jobs::start`]) so all events form one sequence.
    pub fn bus(&self) -> EventBus {
        self.events.clone()
    }

    /// Recent output of the instance `name` (both streams unless `stream` is given): up to
    /// `limit` lines from offset `since` on, or without `since` the last `limit` lines.
    /// [`Error::NotFound`] when there is no such instance.
    pub async fn logs(&self, name: &str, stream: Option<Stream>, since: Option<u64>, limit: usize) -> Result<LogChunk> {
        self.seed_logs(name).await?;
        Ok(self.logs.read(name, stream, since, limit))
    }

    /// Checks that `name` is an instance and fills its ring from its log files if it has
    /// captured nothing yet (see [`LogRegistry::seed`]).
    async fn seed_logs(&self, name: &str) -> Result<()> {
        self.status(Selector::Name(name.to_string())).await?;
        let (spec, _) = self.spec(name).await?;
        self.logs.seed(name, &LogFiles::resolve(&spec, name, self.logs.config()));
        Ok(())
    }

    /// Follows the output of the instance `name`: the recent lines (as [`Self::logs`]), then
    /// new ones as they come. [`Error::NotFound`] when there is no such instance.
    pub async fn follow_logs(
        &self,
        name: &str,
        stream: Option<Stream>,
        since: Option<u64>,
        limit: usize,
    ) -> Result<LogFollower> {
        self.seed_logs(name).await?;
        Ok(self.logs.follow(name, stream, since, limit))
    }

    /// The store of captured output, for reading without the actor and for capturing other
    /// children (job slots) with the same machinery.
    pub fn log_registry(&self) -> &Arc<LogRegistry> {
        &self.logs
    }

    /// Stops every process (wishes are kept, so they start again with the next
    /// daemon), waits until all have exited, and ends the supervisor task.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown { reply }).is_ok() {
            let _ = rx.await;
        }
    }
}
