//! Integration tests of the jobs and cron controller with real processes.
//!
//! Each test starts its own controller on its own event bus in a temp dir and waits
//! on events with a timeout; nothing sleeps to let time pass.

mod cron;
mod helpers;
mod hooks;
mod jobs;
mod restore;
mod timers;
