//! The persisted process history (`GET /history`).

use super::OpError;
use crate::auth::{Permission, Principal};
use crate::state::AppState;
use crate::store::events::{self, HistoryEntry, HistoryFilter};

/// The most rows one page may hold.
pub const MAX_LIMIT: u64 = 1000;
/// Rows per page when the caller does not say.
pub const DEFAULT_LIMIT: u64 = 100;

/// One page of history, newest first.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HistoryPage {
    /// The rows.
    pub events: Vec<HistoryEntry>,
    /// The `before` cursor of the next (older) page; `None` when this page is the last.
    pub next_before: Option<i64>,
}

/// The history rows matching `filter` (its `limit` capped at [`MAX_LIMIT`], 0 meaning the
/// default), newest first, with the cursor of the next page.
pub async fn list(st: &AppState, who: &Principal, mut filter: HistoryFilter) -> Result<HistoryPage, OpError> {
    who.require(Permission::Read)?;
    if filter.limit == 0 {
        filter.limit = DEFAULT_LIMIT;
    }
    if filter.limit > MAX_LIMIT {
        return Err(OpError::invalid("limit", format!("must be at most {MAX_LIMIT}")));
    }
    let events = events::query(&st.db, &filter).await?;
    let next_before = (events.len() as u64 == filter.limit).then(|| events.last().map(|e| e.id)).flatten();
    Ok(HistoryPage { events, next_before })
}
