//! Store integration tests: every scenario runs against a fresh SQLite file and a fresh
//! PostgreSQL database (`PROVISR_TEST_DATABASE_URL`, set by `cargo xtask test`).

mod helpers;

mod cronjobs;
mod job_recorder;
mod jobs;
mod clients;
mod history;
mod migrations;
mod processes;
mod recorder;
mod sessions;
mod users;
