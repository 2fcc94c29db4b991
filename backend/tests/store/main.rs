//! Store integration tests: every scenario runs against a fresh SQLite file and a fresh
//! PostgreSQL database (`PROVISR_TEST_DATABASE_URL`, set by `cargo xtask test`).

mod helpers;

mod clients;
mod cronjobs;
mod history;
mod job_recorder;
mod jobs;
mod migrations;
mod processes;
mod recorder;
mod sessions;
mod users;
