//! Tests of the real `provisr` executable: configuration errors, the defaults without a
//! config, shutdown on SIGTERM, the signal dispositions processes start with, re-adoption after a crash, and the CLI client (sessions,
//! processes, groups, logs, jobs and cronjobs) against a real daemon. Each daemon runs in its own
//! temporary directory on a free port (except the defaults test, which needs :8443).

mod helpers;

mod client;
mod config;
mod crash;
mod daemon_files;
mod defaults;
mod jobs;
mod live;
mod reload;
mod shutdown;
mod signals;
