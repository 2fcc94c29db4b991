//! Helpers shared by provisr's integration tests — `backend`'s store tests and `server`'s API
//! and CLI tests — so that each test binary keeps only its own fixtures:
//!
//! - [`PgDatabase`]: a PostgreSQL database of its own for one test, dropped with it;
//! - [`wait_for`], [`wait_until`], [`wait_until_async`], [`eventually`]: poll a condition
//!   with a timeout instead of sleeping blindly;
//! - [`unique_marker`], [`pid_alive`], [`sleepers`], [`pids_with_marker`], [`Leftovers`], …:
//!   find (and clean up) the real processes a test starts, through `/proc`;
//! - [`http_client`], [`mode_of`]: small conveniences.
//!
//! A dev-dependency only: nothing here is part of provisr.

mod fs;
mod http;
mod pg;
mod procs;
mod wait;

pub use fs::mode_of;
pub use http::{http_client, HTTP_TIMEOUT};
pub use pg::{with_database, PgDatabase, PG_URL_VAR};
pub use procs::{
    cmdline, kill_now, pid_alive, pids_where, pids_with_any_marker, pids_with_argv, pids_with_marker, sleepers,
    unique_marker, Leftovers,
};
pub use wait::{eventually, wait_for, wait_until, wait_until_async, POLL_INTERVAL};
