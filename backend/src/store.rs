//! Queries, one module per table, as plain async functions over a connection.

pub mod clients;
pub mod cronjobs;
pub mod events;
pub mod jobs;
pub mod processes;
pub mod sessions;
pub mod settings;
pub mod users;

use crate::error::StoreError;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// One page of a newest-first listing, paged by row id (keyset paging: rows recorded
/// while a client pages never shift or repeat what it sees).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows, newest first.
    pub items: Vec<T>,
    /// Pass as `before` to get the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
}

/// The largest page a listing returns.
pub const MAX_PAGE: u64 = 1000;

/// Checks a page size.
pub(crate) fn check_limit(limit: u64) -> Result<(), StoreError> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(StoreError::Invalid(format!("limit must be between 1 and {MAX_PAGE}, not {limit}")));
    }
    Ok(())
}

/// Cuts `rows` (fetched with `limit + 1`) to a page.
pub(crate) fn page<T>(mut rows: Vec<T>, limit: u64, id: impl Fn(&T) -> i64) -> Page<T> {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_before = if more { rows.last().map(id) } else { None };
    Page { items: rows, next_before }
}

/// Timestamps are stored to the microsecond (PostgreSQL's precision), on both backends,
/// so that what is written is what is read back.
pub(crate) fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// Checks that a text fits its column (PostgreSQL enforces the length, SQLite does not,
/// so the store checks it for both).
pub(crate) fn check_len(what: &str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.len() > max {
        return Err(StoreError::Invalid(format!("{what} is longer than {max} bytes ({} bytes)", value.len())));
    }
    Ok(())
}

/// Whether a database error is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}
