//! Integration tests of the daemon through its HTTP surface: the JSON API, the live
//! WebSocket, the console's sign-in, TLS, and persistence across restarts. Each test runs
//! its own `Application` (see `helpers.rs`) with real processes and a real database.

mod helpers;

mod accounts;
mod auth;
mod console;
mod cronjobs;
mod groups;
mod health;
mod history;
mod jobs;
mod logs;
mod metrics;
mod openapi;
mod persistence;
mod pidfile;
mod processes;
mod roles;
mod tls;
mod update;
mod validation;
mod ws;
