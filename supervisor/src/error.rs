//! Errors returned by [`crate::SupervisorHandle`] commands.

use thiserror::Error;

/// A command could not be carried out. Each variant says what the caller should do.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The spec is invalid: `(key, message)` for every problem.
    #[error("invalid spec: {}", .0.iter().map(|(k, m)| format!("{k}: {m}")).collect::<Vec<_>>().join("; "))]
    InvalidSpec(Vec<(String, String)>),
    /// A spec or instance with this name already exists.
    #[error("{0:?} is already registered")]
    AlreadyExists(String),
    /// Nothing matched the selector / no such name.
    #[error("no process matches {0:?}")]
    NotFound(String),
    /// The supervisor has shut down.
    #[error("the supervisor is shut down")]
    ShutDown,
}

/// `Result` with [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
