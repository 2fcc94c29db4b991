//! Integration tests of the daemon through its HTTP surface: the JSON API, the live
//! WebSocket, the console's sign-in, TLS, and persistence across restarts. Each test runs
//! its own `Application` (see `helpers.rs`) with real processes and a real database.

mod helpers;

mod auth;
mod console;
mod cronjobs;
mod health;
mod jobs;
mod persistence;
mod processes;
mod roles;
mod tls;
mod validation;
mod ws;
