//! Errors of server functions, as the console shows them.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What went wrong, in words for the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Sign-in failed. The same text for an unknown user and a wrong password.
    #[error("Invalid username or password.")]
    InvalidCredentials,
    /// No (valid) session.
    #[error("Please sign in.")]
    Unauthenticated,
    /// The role lacks the permission.
    #[error("You do not have permission to do this.")]
    Forbidden,
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// Exists already, or read-only.
    #[error("{0}")]
    Conflict(String),
    /// Invalid input.
    #[error("{0}")]
    Invalid(String),
    /// Invalid input, per field: `(key, message)` with spec keys (`command`,
    /// `work_dir`, `hooks[0].timeout`, …) so forms can show each message at its field.
    #[error("{}", describe_fields(.0))]
    Fields(Vec<(String, String)>),
    /// The daemon is shutting down.
    #[error("The daemon is unavailable.")]
    Unavailable,
    /// Something failed on the server (details are in its log).
    #[error("Something went wrong on the server.")]
    Internal,
    /// The request itself failed (network, encoding).
    #[error("Request failed: {0}")]
    Transport(String),
}

/// `key: message; key: message` (a message with an empty key stands alone).
fn describe_fields(list: &[(String, String)]) -> String {
    list.iter().map(|(k, m)| if k.is_empty() { m.clone() } else { format!("{k}: {m}") }).collect::<Vec<_>>().join("; ")
}

impl AppError {
    /// The message for the form field `key`, when this error has one.
    pub fn field(&self, key: &str) -> Option<String> {
        match self {
            AppError::Fields(list) => {
                let found: Vec<&str> = list.iter().filter(|(k, _)| k == key).map(|(_, m)| m.as_str()).collect();
                (!found.is_empty()).then(|| found.join("; "))
            }
            _ => None,
        }
    }

    /// What a form shows at its top: everything not tied to one of `keys`.
    pub fn general(&self, keys: &[&str]) -> Option<String> {
        match self {
            AppError::Fields(list) => {
                let rest: Vec<(String, String)> =
                    list.iter().filter(|(k, _)| !keys.contains(&k.as_str())).cloned().collect();
                (!rest.is_empty()).then(|| describe_fields(&rest))
            }
            other => Some(other.to_string()),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<backend::OpError> for AppError {
    fn from(e: backend::OpError) -> Self {
        use backend::auth::AuthError;
        use backend::OpError;
        match e {
            OpError::Auth(AuthError::Forbidden(_)) => AppError::Forbidden,
            OpError::Auth(AuthError::Missing | AuthError::Invalid) => AppError::Unauthenticated,
            OpError::Invalid(list) => AppError::Fields(list),
            OpError::NotFound(m) => AppError::NotFound(m),
            OpError::Conflict(m) => AppError::Conflict(m),
            OpError::Unavailable => AppError::Unavailable,
            other => {
                tracing::error!(error = %other, "server function failed");
                AppError::Internal
            }
        }
    }
}
