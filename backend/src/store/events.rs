//! Process history rows.

use crate::entity::process_event;
use crate::error::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use supervisor::{Event, EventKind};

/// One history row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Row id (increasing).
    pub id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Instance name.
    pub name: String,
    /// Event kind (`started`, `exited`, …).
    pub kind: String,
    /// Process id, when there was one.
    pub pid: Option<i64>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Terminating signal.
    pub signal: Option<i32>,
    /// The whole event.
    pub detail: serde_json::Value,
}

/// Whether an event belongs in the history (process lifecycle, not bookkeeping).
pub fn is_history(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Started { .. }
            | EventKind::Adopted { .. }
            | EventKind::SpawnFailed { .. }
            | EventKind::Stopping { .. }
            | EventKind::Killed { .. }
            | EventKind::Exited { .. }
            | EventKind::Registered { .. }
            | EventKind::Updated { .. }
            | EventKind::Unregistered
            | EventKind::HookFinished { .. }
            | EventKind::HooksFinished { failure: Some(_), .. }
    )
}

/// The row for an event.
pub fn row(run_id: &str, e: &Event) -> process_event::ActiveModel {
    let (pid, exit_code, signal) = match &e.kind {
        EventKind::Started { pid, .. }
        | EventKind::Adopted { pid }
        | EventKind::Stopping { pid, .. }
        | EventKind::Killed { pid }
        | EventKind::Running { pid } => (Some(i64::from(*pid)), None, None),
        EventKind::Exited { pid, code, signal, .. } => (Some(i64::from(*pid)), *code, *signal),
        _ => (None, None, None),
    };
    // The event without its status snapshot, which is large and reconstructible: written
    // straight to text (not through a `Value` that would build the status to drop it).
    #[derive(Serialize)]
    struct Detail<'a> {
        seq: u64,
        at: DateTime<Utc>,
        name: &'a str,
        #[serde(flatten)]
        kind: &'a EventKind,
    }
    let detail = Detail { seq: e.seq, at: e.at, name: &e.name, kind: &e.kind };
    let detail = serde_json::to_string(&detail).unwrap_or_else(|_| "null".to_string());
    process_event::ActiveModel {
        run_id: Set(run_id.to_string()),
        seq: Set(e.seq as i64),
        at: Set(e.at),
        name: Set(e.name.clone()),
        kind: Set(e.kind.name().to_string()),
        pid: Set(pid),
        exit_code: Set(exit_code),
        signal: Set(signal),
        detail: Set(detail),
        ..Default::default()
    }
}

/// Inserts rows in one statement.
pub async fn insert_many(db: &impl ConnectionTrait, rows: Vec<process_event::ActiveModel>) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    process_event::Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// Which history rows [`query`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Only rows about this instance (or spec, for registrations).
    pub name: Option<String>,
    /// Only rows of these kinds (`started`, `exited`, …); empty: every kind.
    pub kinds: Vec<String>,
    /// Only rows at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only rows older than this row id (the paging cursor: the last id of the previous page).
    pub before: Option<i64>,
    /// At most this many rows.
    pub limit: u64,
}

/// The rows matching `filter`, newest first (by id, which follows the order of events).
pub async fn query(db: &impl ConnectionTrait, filter: &HistoryFilter) -> Result<Vec<HistoryEntry>, StoreError> {
    let mut q = process_event::Entity::find().order_by_desc(process_event::Column::Id).limit(filter.limit);
    if let Some(n) = &filter.name {
        q = q.filter(process_event::Column::Name.eq(n.as_str()));
    }
    if !filter.kinds.is_empty() {
        q = q.filter(process_event::Column::Kind.is_in(filter.kinds.iter().map(String::as_str)));
    }
    if let Some(since) = filter.since {
        q = q.filter(process_event::Column::At.gte(since));
    }
    if let Some(before) = filter.before {
        q = q.filter(process_event::Column::Id.lt(before));
    }
    Ok(q.all(db).await?.into_iter().map(entry).collect())
}

fn entry(m: process_event::Model) -> HistoryEntry {
    HistoryEntry {
        id: m.id,
        at: m.at,
        name: m.name,
        kind: m.kind,
        pid: m.pid,
        exit_code: m.exit_code,
        signal: m.signal,
        detail: serde_json::from_str(&m.detail).unwrap_or(serde_json::Value::Null),
    }
}

/// The newest `limit` entries, newest first, optionally for one instance.
pub async fn list(db: &impl ConnectionTrait, name: Option<&str>, limit: u64) -> Result<Vec<HistoryEntry>, StoreError> {
    list_before(db, name.map(NameFilter::Exact), None, limit).await
}

/// Which names [`list_before`] returns.
#[derive(Clone, Copy, Debug)]
pub enum NameFilter<'a> {
    /// Exactly this instance (or spec) name.
    Exact(&'a str),
    /// Names starting with this (`web` matches `web`, `web-1`, `webhook`).
    Prefix(&'a str),
}

/// Like [`list`], but only entries older than the row id `before` (paging backwards).
pub async fn list_before(
    db: &impl ConnectionTrait,
    name: Option<NameFilter<'_>>,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let mut q = process_event::Entity::find().order_by_desc(process_event::Column::Id).limit(limit);
    match name {
        Some(NameFilter::Exact(n)) => q = q.filter(process_event::Column::Name.eq(n)),
        Some(NameFilter::Prefix(p)) => q = q.filter(process_event::Column::Name.starts_with(p)),
        None => {}
    }
    if let Some(id) = before {
        q = q.filter(process_event::Column::Id.lt(id));
    }
    Ok(q.all(db).await?.into_iter().map(entry).collect())
}
