//! Every state change is an [`Event`] with a sequence number that increases by one per event.
//!
//! Subscribers get them from [`crate::SupervisorHandle::subscribe`] (a broadcast: a slow
//! subscriber lags and must resynchronise from a snapshot) and the durable sink given to
//! [`crate::Supervisor::start`] gets every one of them, in order, without loss.
//!
//! Several actors publish (the process supervisor, the jobs and cron controller): they
//! share one [`EventBus`], which hands out the sequence numbers and sends each event to
//! the sink and the broadcast under one lock, so both see one sequence in order.
//! Every event carries the full status of what it is about after the change (a process
//! in [`Event::status`], a job or cronjob inside [`EventKind::Job`] / [`EventKind::Cron`]),
//! so applying an event twice is harmless: a combined snapshot of several actors can take
//! the lowest of their sequence numbers and replay every later event.

use crate::cron::CronEvent;
use crate::hooks::{HookPhase, HookResult, RunMode};
use crate::jobs::JobEvent;
use crate::spec::ProcessSpec;
use crate::state::{Desired, Origin, ProcessStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// Numbers events and publishes them: to the durable sink (every event, in order, never
/// dropped) and to the broadcast of live subscribers (which may lag). A cheap `Clone`:
/// every actor that publishes holds one.
#[derive(Clone, Debug)]
pub struct EventBus {
    inner: Arc<Mutex<BusInner>>,
    broadcast: broadcast::Sender<Arc<Event>>,
}

#[derive(Debug)]
struct BusInner {
    /// The sequence number of the last event.
    seq: u64,
    sink: Option<mpsc::UnboundedSender<Arc<Event>>>,
}

impl EventBus {
    /// A bus whose broadcast holds `capacity` events and that sends every event to `sink`.
    pub fn new(capacity: usize, sink: Option<mpsc::UnboundedSender<Arc<Event>>>) -> Self {
        let (broadcast, _) = broadcast::channel(capacity.max(1));
        Self { inner: Arc::new(Mutex::new(BusInner { seq: 0, sink })), broadcast }
    }

    /// Numbers an event and publishes it: sink first (durable, in order), then broadcast.
    /// Returns its sequence number. The sequence number is taken and the event sent under
    /// one lock, so the sink and subscribers receive events in sequence order.
    pub fn publish(&self, name: &str, kind: EventKind, status: Option<ProcessStatus>) -> u64 {
        // The lock guards plain data: a panic while it was held left nothing half-done.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.seq += 1;
        let seq = inner.seq;
        let event = Arc::new(Event { seq, at: Utc::now(), name: name.to_string(), kind, status });
        if let Some(sink) = &inner.sink {
            if sink.send(event.clone()).is_err() {
                tracing::error!("the event sink is closed; events are no longer recorded");
                inner.sink = None;
            }
        }
        // No subscriber is not an error.
        let _ = self.broadcast.send(event);
        seq
    }

    /// The sequence number of the last event published (by any actor).
    pub fn seq(&self) -> u64 {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).seq
    }

    /// A live stream of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.broadcast.subscribe()
    }

    /// Closes the durable sink: its reader (the recorder) sees the channel end once it
    /// has read every event published so far. Call it after every actor publishing on the
    /// bus has shut down; later events still reach live subscribers, not the sink. (Every
    /// handle holds a clone of the bus, so the sink would otherwise stay open as long as
    /// any handle lives.)
    pub fn close_sink(&self) {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).sink = None;
    }
}

/// One state change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Sequence number: the first event is 1, each next one is one more.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The instance (or, for registrations, the spec) it is about.
    pub name: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// The instance's status after the change (`None` once it is unregistered,
    /// and for spec-level events).
    pub status: Option<ProcessStatus>,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A spec was registered (`name` is the spec name); its instances follow as
    /// [`EventKind::InstanceAdded`].
    Registered {
        /// The spec as registered.
        spec: ProcessSpec,
        /// Where it comes from.
        origin: Origin,
    },
    /// A spec and all its instances were removed (`name` is the spec name).
    Unregistered,
    /// A spec was replaced (`name` is the spec name). Instances added or removed by a
    /// new `instances` count follow as [`EventKind::InstanceAdded`] / removals; running
    /// instances whose process changed are stopped and started again.
    Updated {
        /// The new spec.
        spec: ProcessSpec,
        /// Where it comes from (unchanged).
        origin: Origin,
    },
    /// An instance exists now (stopped until started).
    InstanceAdded {
        /// The spec it belongs to.
        base: String,
    },
    /// An instance was removed.
    InstanceRemoved {
        /// The spec it belonged to.
        base: String,
    },
    /// The operator's wish changed (start or stop requested).
    DesiredChanged {
        /// The new wish.
        desired: Desired,
    },
    /// A start waits for dependencies to be running.
    Waiting {
        /// The dependencies (spec names) not running yet.
        on: Vec<String>,
    },
    /// The hooks of a phase began (for `pre_start`: the instance is now `pre_start`;
    /// for `pre_stop`: it is `stopping`, the signal follows the hooks).
    HooksStarted {
        /// The phase.
        phase: HookPhase,
    },
    /// The blocking hooks of a phase have ended (async ones may still run).
    HooksFinished {
        /// The phase.
        phase: HookPhase,
        /// Why the phase failed, when it did (a `pre_start` failure aborts the start:
        /// the instance is `fatal`; a `post_start` failure stops the process).
        failure: Option<String>,
    },
    /// One hook was started.
    HookStarted {
        /// Its phase.
        phase: HookPhase,
        /// Its name.
        hook: String,
        /// Blocking or async.
        run_mode: RunMode,
    },
    /// One hook ended.
    HookFinished {
        /// Its phase.
        phase: HookPhase,
        /// Its name.
        hook: String,
        /// Blocking or async.
        run_mode: RunMode,
        /// How the (last) run ended.
        result: HookResult,
        /// How long it ran (both runs, for a retried hook).
        #[serde(with = "crate::duration")]
        duration: Duration,
        /// 1, or 2 when retried.
        attempts: u32,
        /// The last 4 KiB of its stdout and stderr.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        output: String,
    },
    /// A process was spawned.
    Started {
        /// Its pid.
        pid: u32,
        /// 0 for a start on request, n for the n-th automatic restart.
        attempt: u32,
    },
    /// A process that survived a daemon restart was taken over (PID file + start time matched).
    Adopted {
        /// Its pid.
        pid: u32,
    },
    /// The process has been up for `start_duration`.
    Running {
        /// Its pid.
        pid: u32,
    },
    /// Spawning failed (missing program, bad work_dir…).
    SpawnFailed {
        /// The OS error.
        error: String,
        /// What the supervisor does about it.
        decision: Decision,
    },
    /// The stop signal was sent to the process group.
    Stopping {
        /// The pid being stopped.
        pid: u32,
        /// The signal's name.
        signal: String,
    },
    /// The stop timeout expired; SIGKILL was sent to the process group.
    Killed {
        /// The pid.
        pid: u32,
    },
    /// A process ended.
    Exited {
        /// Its pid.
        pid: u32,
        /// Exit code, if it exited normally and the code is known.
        code: Option<i32>,
        /// Signal number, if it was killed by a signal.
        signal: Option<i32>,
        /// How long it ran.
        #[serde(with = "crate::duration")]
        uptime: Duration,
        /// True when the exit was asked for (stop, shutdown, unregister, update).
        requested: bool,
        /// True when it exited (unasked) before `start_duration`: it failed to start.
        #[serde(default)]
        failed_start: bool,
        /// What the supervisor does about it ("why did it die, and what next").
        decision: Decision,
    },
    /// Something happened to a job (`name` is the job's name); see [`JobEvent`].
    Job(Box<JobEvent>),
    /// Something happened to a cronjob (`name` is the cronjob's name); see [`CronEvent`].
    Cron(Box<CronEvent>),
}

impl EventKind {
    /// The kind's name as serialised (`"started"`, `"exited"`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Registered { .. } => "registered",
            Self::Unregistered => "unregistered",
            Self::Updated { .. } => "updated",
            Self::Waiting { .. } => "waiting",
            Self::HooksStarted { .. } => "hooks_started",
            Self::HooksFinished { .. } => "hooks_finished",
            Self::HookStarted { .. } => "hook_started",
            Self::HookFinished { .. } => "hook_finished",
            Self::InstanceAdded { .. } => "instance_added",
            Self::InstanceRemoved { .. } => "instance_removed",
            Self::DesiredChanged { .. } => "desired_changed",
            Self::Started { .. } => "started",
            Self::Adopted { .. } => "adopted",
            Self::Running { .. } => "running",
            Self::SpawnFailed { .. } => "spawn_failed",
            Self::Stopping { .. } => "stopping",
            Self::Killed { .. } => "killed",
            Self::Exited { .. } => "exited",
            Self::Job(_) => "job",
            Self::Cron(_) => "cron",
        }
    }
}

/// The supervisor's decision after a process ended or failed to spawn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Decision {
    /// Restart after a delay.
    Restart {
        /// The delay.
        #[serde(with = "crate::duration")]
        after: Duration,
        /// Which automatic restart this will be.
        attempt: u32,
    },
    /// Leave it stopped: the stop was requested.
    Stop,
    /// Leave it exited: the restart policy does not restart this exit (or the wish
    /// is stopped).
    NoRestart,
    /// Give up (fatal), with the reason.
    GiveUp {
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_kinds_round_trip_flattened() {
        let kinds = [
            EventKind::Waiting { on: vec!["db".into()] },
            EventKind::HooksStarted { phase: HookPhase::PreStop },
            EventKind::HooksFinished {
                phase: HookPhase::PreStart,
                failure: Some("pre_start hook \"x\" timed out".into()),
            },
            EventKind::HookStarted { phase: HookPhase::PostStart, hook: "warm".into(), run_mode: RunMode::Async },
            EventKind::HookFinished {
                phase: HookPhase::PostStop,
                hook: "cleanup".into(),
                run_mode: RunMode::Blocking,
                result: HookResult::Failed { code: 2 },
                duration: Duration::from_millis(1500),
                attempts: 2,
                output: "no space left\n".into(),
            },
            EventKind::Updated { spec: ProcessSpec::new("web", "true"), origin: Origin::Api },
        ];
        for kind in kinds {
            let e = Event { seq: 7, at: DateTime::<Utc>::UNIX_EPOCH, name: "web".into(), kind, status: None };
            let v = serde_json::to_value(&e).expect("json");
            assert_eq!(v["kind"], e.kind.name(), "{v}");
            assert_eq!(v["name"], "web", "{v}");
            let back: Event = serde_json::from_value(v.clone()).expect("round trip");
            assert_eq!(back, e, "{v}");
        }
    }
}
