//! # provisr supervisor: the engine
//!
//! Starts, watches, restarts and stops programs. It knows nothing of HTTP, HTML or
//! databases: the server feeds it parsed [`ProcessSpec`]s and persists what it reports.
//!
//! ## Theory of operation
//!
//! * **One task owns all runtime state** (the actor, `actor.rs`). [`Supervisor::start`]
//!   spawns it and returns a [`SupervisorHandle`]: a cheap `Clone` whose every method is a
//!   message with an awaited reply, so commands are applied one at a time, in the order
//!   they arrive. There is no lock around state to leak or to hold across an `.await`.
//! * **Every state change is an [`Event`]** with a sequence number one above the previous
//!   one. Events go to a broadcast channel for live subscribers (the console, WebSocket
//!   clients) and, when configured, to a durable sink that never drops one (the recorder
//!   that persists history). [`SupervisorHandle::snapshot`] returns the state at a sequence
//!   number, so a client that subscribes first and snapshots second misses nothing.
//! * **Nothing polls.** A process's exit is observed when it happens (tokio's child
//!   reaper, which uses a pidfd on Linux; a pidfd for re-adopted processes), timers are
//!   tokio timers in one delay queue, and the actor sleeps when nothing happens.
//! * **OS-level code lives in `process/`**: spawning into a new process group, signalling
//!   the whole group, PID files with the process start time, pidfds.
//! * **Decisions are pure** (`policy.rs`): what follows an exit is a function of the spec,
//!   the wish and the facts of the exit, tested as a table; the actor applies it.
//! * **Nothing a program started outlives it**: when a process exits, the rest of its
//!   process group is sent SIGKILL before the process is reaped (so its group id cannot
//!   have been recycled), and a stop escalates from the stop signal to SIGKILL after
//!   `stop_timeout`.
//! * **Dropping the last handle** ends the actor without touching running processes;
//!   [`SupervisorHandle::shutdown`] stops them first (all but `detached` ones, which the
//!   next supervisor re-adopts through their PID files).
//!
//! ## What a spec controls
//!
//! * **Command** (`process.rs`): `args` is executed as given; a `command` string runs
//!   through `/bin/sh -c` when it is shell syntax (quotes, `|&;<>()$`…, a leading
//!   `NAME=value`, a builtin such as `exit` or `cd`), else it is split on whitespace and
//!   executed directly.
//! * **Environment** ([`mod@env`]): the daemon's environment, then the global `env`
//!   ([`SupervisorConfig::env`]), then the spec's `env`, each value `${VAR}`-expanded
//!   against what is defined before it.
//! * **Restarts** (`policy.rs`): `restart_policy` (`always` | `on-failure` | `never`; the
//!   upstream `auto_restart = true` means `always` when no policy is given) with
//!   `expected_exit_codes`; exponential backoff from `restart_interval` to
//!   `restart_backoff_max` with jitter; more than `retry_count` unexpected exits within
//!   `retry_window` make the instance `fatal` with a reason. The decision is part of the
//!   [`EventKind::Exited`] event.
//! * **Order** ([`order`]): dependencies (`depends_on`) first, then lower `priority`, then
//!   name; a dependent waits (`waiting { on }`) until every instance of its dependencies
//!   is `running`. Unknown dependencies and cycles are rejected naming them. Batch stops
//!   and shutdown go in reverse order, a dependency only once its dependents have exited.
//! * **Hooks** ([`hooks`]): `lifecycle.pre_start / post_start / pre_stop / post_stop`, run
//!   as tasks that report back to the actor, never awaited in it.
//! * **Updates**: [`SupervisorHandle::update`] replaces a spec, restarting only what changed.
//! * **Resources** ([`resources`]): CPU % and RSS of each process group, read from `/proc`
//!   on demand by [`SupervisorHandle::resources`].
//!
//! ## Jobs and cronjobs
//!
//! Kubernetes-style [`jobs`] and [`cron`]jobs run in a second actor task, the jobs
//! controller, which reuses the process runner of `process/` for its attempts. Both
//! actors publish on one [`EventBus`], so all events share one sequence:
//!
//! ```no_run
//! # async fn demo() {
//! use supervisor::jobs::{Jobs, JobsConfig, JobOrigin, JobSpec};
//! use supervisor::{Supervisor, SupervisorConfig};
//! let (processes, _) = Supervisor::start(SupervisorConfig::new("/run/provisr"));
//! let (jobs, _) = Jobs::start(processes.bus(), JobsConfig::default());
//! jobs.create_job(JobSpec::new("hello", "echo hello"), JobOrigin::Api).await.expect("valid job");
//! # }
//! ```

#![warn(missing_docs)]

mod actor;
pub mod cron;
pub mod duration;
pub mod env;
pub mod error;
pub mod event;
pub mod handle;
pub mod hooks;
pub mod jobs;
pub mod logs;
pub mod order;
mod policy;
mod process;
pub mod resources;
pub mod spec;
pub mod state;

pub use actor::{Supervisor, SupervisorConfig};
pub use error::{Error, Result};
pub use event::{Decision, Event, EventBus, EventKind};
pub use handle::{Ack, RegisterOptions, Snapshot, StopTicket, SupervisorHandle};
pub use hooks::{FailureMode, Hook, HookOutcome, HookPhase, HookResult, Lifecycle, RunMode};
pub use jobs::{Jobs, JobsConfig, JobsHandle};
pub use logs::{LogChunk, LogConfig, LogLine, LogRegistry, LogSpec, Stream};
pub use resources::ResourceSample;
pub use spec::{Env, ProcessSpec, RestartPolicy, StopSignal};
pub use state::{Desired, Origin, ProcessState, ProcessStatus, Selector};
