//! `GET /history`: the persisted process events, newest first, in pages.

use super::ApiQuery;
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;
use axum::extract::State;
use axum::Json;
use backend::ops::history::{self as ops, HistoryPage};
use backend::store::events::HistoryFilter;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// `?name=&kind=&since=&before=&limit=`.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    /// One instance (or spec, for registrations).
    name: Option<String>,
    /// Comma-separated event kinds (`started,exited`).
    kind: Option<String>,
    /// An RFC 3339 instant, or a duration meaning "that long ago" (`1h`).
    since: Option<String>,
    /// The `next_before` of the previous page.
    before: Option<i64>,
    /// Rows per page (default 100, at most 1000).
    limit: Option<u64>,
}

fn since(raw: &str, now: DateTime<Utc>) -> ApiResult<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    let ago = supervisor::duration::parse(raw).map_err(|_| {
        ApiError::bad_request(format!("since: {raw:?} is neither an RFC 3339 time nor a duration like \"1h\""))
    })?;
    let ago = chrono::Duration::from_std(ago).map_err(|_| ApiError::bad_request("since: the duration is too long"))?;
    Ok(now - ago)
}

/// `GET /history`: `{"events": [{id, at, name, kind, pid, exit_code, signal, detail}…],
/// "next_before": id|null}`, newest first. Pass `next_before` as `before` for the next page.
pub async fn list(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<HistoryPage>> {
    let name = q.name.filter(|n| !n.is_empty());
    if let Some(n) = &name {
        supervisor::spec::validate_name(n).map_err(|e| ApiError::bad_request(format!("invalid name: {e}")))?;
    }
    let since = q.since.as_deref().filter(|s| !s.is_empty()).map(|s| since(s, Utc::now())).transpose()?;
    if q.limit == Some(0) {
        return Err(ApiError::bad_request("limit: must be at least 1"));
    }
    let kinds: Vec<String> =
        q.kind.as_deref().unwrap_or("").split(',').map(str::trim).filter(|k| !k.is_empty()).map(String::from).collect();
    if let Some(bad) = kinds.iter().find(|k| !k.chars().all(|c| c.is_ascii_lowercase() || c == '_')) {
        return Err(ApiError::bad_request(format!("kind: {bad:?} is not an event kind (e.g. started, exited)")));
    }
    let filter = HistoryFilter { name, kinds, since, before: q.before, limit: q.limit.unwrap_or(0) };
    Ok(Json(ops::list(&st.app, &who, filter).await?))
}

#[cfg(test)]
mod tests {
    use super::since;
    use chrono::{TimeZone, Utc};

    #[test]
    fn since_is_an_instant_or_an_age() {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 12, 0, 0).single().expect("time");
        assert_eq!(since("2026-01-01T00:00:00Z", now).expect("rfc3339"), now - chrono::Duration::hours(36));
        assert_eq!(since("90m", now).expect("duration"), now - chrono::Duration::minutes(90));
        assert!(since("yesterday", now).is_err());
    }
}
