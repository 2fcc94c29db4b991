//! Integration tests of the supervisor with real processes.
//!
//! Each test starts its own supervisor in a temp dir (see `helpers`) and ends with a
//! shutdown, so no process outlives it. Waits are on events or snapshots with a
//! timeout; nothing sleeps to let time pass.

mod adopt;
mod deps;
mod env;
mod events;
mod helpers;
mod hooks;
mod lifecycle;
mod logs;
mod policy;
mod restart;
mod stop;
mod update;
