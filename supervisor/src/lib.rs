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
//!   [`SupervisorHandle::shutdown`] stops them first.

#![warn(missing_docs)]

mod actor;
pub mod duration;
pub mod error;
pub mod event;
pub mod handle;
pub mod logs;
mod policy;
mod process;
pub mod spec;
pub mod state;

pub use actor::{Supervisor, SupervisorConfig};
pub use error::{Error, Result};
pub use event::{Decision, Event, EventKind};
pub use handle::{Ack, RegisterOptions, Snapshot, StopTicket, SupervisorHandle};
pub use logs::{LogChunk, LogConfig, LogLine, LogRegistry, LogSpec, Stream};
pub use spec::{Env, ProcessSpec, StopSignal};
pub use state::{Desired, Origin, ProcessState, ProcessStatus, Selector};
