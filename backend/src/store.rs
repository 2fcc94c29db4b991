//! Queries, one module per table, as plain async functions over a connection.

pub mod clients;
pub mod events;
pub mod processes;
pub mod sessions;
pub mod settings;
pub mod users;
