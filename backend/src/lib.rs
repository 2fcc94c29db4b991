//! # provisr backend
//!
//! The server-side state shared by the console (Leptos server functions) and the JSON
//! API: the store (SeaORM entities and queries), authentication and roles, the event
//! recorder, and the operations both front ends call. It depends on the supervisor and
//! the migrations, never on leptos or on axum routing, so a permission or a query
//! exists exactly once.

pub mod auth;
pub mod db;
pub mod entity;
pub mod error;
pub mod metrics;
pub mod ops;
pub mod recorder;
pub mod state;
pub mod store;

pub use error::StoreError;
pub use ops::OpError;
pub use state::AppState;
