use crate::error::AppError;
use crate::model::HistoryPage;
use leptos::prelude::*;

/// The most events a page of history holds.
pub const HISTORY_PAGE_MAX: u64 = 200;

/// Persisted process events, newest first: of the instance `name` exactly, or of every
/// name starting with `prefix`, or all; older than the event id `before` (paging).
#[server(prefix = "/rpc", endpoint = "processes/history")]
pub async fn process_history(
    name: Option<String>,
    prefix: Option<String>,
    before: Option<i64>,
    limit: Option<u64>,
) -> Result<HistoryPage, AppError> {
    use super::super::ssr::{principal, state};
    use backend::auth::Permission;
    use backend::store::events::{self, NameFilter};
    let (st, who) = (state()?, principal().await?);
    who.require(Permission::Read).map_err(backend::OpError::from)?;
    let limit = limit.unwrap_or(50).clamp(1, HISTORY_PAGE_MAX);
    let filter =
        match (name.as_deref().filter(|n| !n.is_empty()), prefix.as_deref().map(str::trim).filter(|p| !p.is_empty())) {
            (Some(n), _) => Some(NameFilter::Exact(n)),
            (None, Some(p)) => Some(NameFilter::Prefix(p)),
            (None, None) => None,
        };
    // One more than asked tells whether an older page exists.
    let mut rows = events::list_before(&st.db, filter, before, limit + 1).await.map_err(backend::OpError::from)?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_before = if more { rows.last().map(|r| r.id) } else { None };
    Ok(HistoryPage {
        events: rows
            .into_iter()
            .map(|r| crate::model::HistoryEvent {
                id: r.id,
                at: r.at,
                name: r.name,
                kind: r.kind,
                pid: r.pid,
                exit_code: r.exit_code,
                signal: r.signal,
                detail: r.detail,
            })
            .collect(),
        next_before,
    })
}
