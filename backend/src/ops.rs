//! Operations shared by the JSON API and the console's server functions: each checks
//! the caller's permission, acts through the supervisor handle or the store, and — for
//! changes that must survive a crash — returns only once the change is persisted.

pub mod clients;
pub mod cronjobs;
pub mod groups;
pub mod history;
pub mod jobs;
pub mod processes;
pub mod reload;
pub mod users;

use crate::auth::AuthError;
use crate::error::StoreError;
use thiserror::Error;

/// Why an operation failed; the API and the console map each variant to their answer.
#[derive(Debug, Error)]
pub enum OpError {
    /// Not authenticated or not allowed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The input is invalid: every problem, as `(key, message)`.
    #[error("{}", .0.iter().map(|(k, m)| if k.is_empty() { m.clone() } else { format!("{k}: {m}") }).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(String, String)>),
    /// Nothing by that name.
    #[error("{0}")]
    NotFound(String),
    /// It exists already, or it is defined in the config file and read-only here.
    #[error("{0}")]
    Conflict(String),
    /// The daemon is shutting down.
    #[error("the daemon is shutting down")]
    Unavailable,
    /// The store failed.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
}

impl OpError {
    /// An [`OpError::Invalid`] with one message.
    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![(key.to_string(), message.into())])
    }
}

/// A store error as the operation's answer: conflicts, unknown rows and bad input keep
/// their meaning (409, 404, 400); everything else is a store failure.
pub(crate) fn store_op(e: StoreError) -> OpError {
    match e {
        StoreError::Conflict(m) => OpError::Conflict(m),
        StoreError::NotFound(m) => OpError::NotFound(m),
        StoreError::Invalid(m) => OpError::invalid("", m),
        other => OpError::Store(other),
    }
}

impl From<supervisor::Error> for OpError {
    fn from(e: supervisor::Error) -> Self {
        match e {
            supervisor::Error::InvalidSpec(list) => OpError::Invalid(list),
            supervisor::Error::AlreadyExists(name) => {
                OpError::Conflict(format!("process {name:?} is already registered"))
            }
            supervisor::Error::NotFound(what) => OpError::NotFound(format!("no process matches {what:?}")),
            supervisor::Error::ShutDown => OpError::Unavailable,
        }
    }
}

impl From<crate::recorder::RecorderStopped> for OpError {
    fn from(_: crate::recorder::RecorderStopped) -> Self {
        OpError::Unavailable
    }
}
