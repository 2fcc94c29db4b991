//! Errors of store operations.

use thiserror::Error;

/// A store operation failed. Variants say what the caller should answer.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Something with this name already exists.
    #[error("{0}")]
    Conflict(String),
    /// No such row.
    #[error("{0}")]
    NotFound(String),
    /// The input is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// Something else failed (hashing, encoding).
    #[error("internal error: {0}")]
    Internal(String),
}
