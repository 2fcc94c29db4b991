//! `GET /processes/{name}/logs` (recent output as JSON) and `GET /processes/{name}/logs/ws`
//! (a live tail over a WebSocket).
//!
//! Both take `?since=<offset>&limit=<n>&stream=stdout|stderr`. Offsets are byte positions in
//! the instance's output (both streams together, in capture order); a page's `next_offset`
//! is the `since` of the next one. Without `since`, the last `limit` lines (default 100, at
//! most 10000). The answer: `{"lines": [{"offset", "stream", "text", "at"}], "next_offset",
//! "first_offset"}` (`first_offset`: the oldest offset still held; a `since` below it has
//! missed output).
//!
//! The WebSocket sends the same object with `"type": "lines"`: first the recent lines
//! (possibly none), then each batch of new ones as it is captured. It closes when the
//! process is unregistered or the daemon shuts down.

use super::ApiQuery;
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use backend::auth::Permission;
use futures::{Sink, SinkExt, StreamExt};
use serde::Deserialize;
use supervisor::logs::{LogFollower, MAX_LIMIT};
use supervisor::{LogChunk, Stream};
use tokio_util::sync::CancellationToken;

/// Lines returned when `limit` is not given.
const DEFAULT_LIMIT: usize = 100;

/// The query of both routes (strings, so that a bad value gets a clear message).
#[derive(Debug, Default, Deserialize)]
pub struct LogsQuery {
    since: Option<String>,
    limit: Option<String>,
    stream: Option<String>,
}

/// A checked [`LogsQuery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Params {
    since: Option<u64>,
    limit: usize,
    stream: Option<Stream>,
}

impl LogsQuery {
    /// Every problem at once, as one 400.
    fn params(&self) -> ApiResult<Params> {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let mut problems = Vec::new();
        let since = given(&self.since).and_then(|s| {
            s.parse::<u64>()
                .map_err(|_| problems.push(format!("since: {s:?} is not an offset (a non-negative integer)")))
                .ok()
        });
        let limit = match given(&self.limit) {
            None => DEFAULT_LIMIT,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    problems.push(format!("limit: {s:?} is not a number from 1 to {MAX_LIMIT}"));
                    DEFAULT_LIMIT
                }
            },
        };
        let stream = match given(&self.stream).as_deref() {
            None | Some("all") => None,
            Some(s) => Stream::parse(s).or_else(|| {
                problems.push(format!("stream: {s:?} is not stdout, stderr or all"));
                None
            }),
        };
        if problems.is_empty() {
            Ok(Params { since, limit, stream })
        } else {
            Err(ApiError::bad_request(problems.join("; ")))
        }
    }
}

fn check_name(name: &str) -> ApiResult<()> {
    supervisor::spec::validate_name(name).map_err(|e| ApiError::bad_request(format!("invalid process name: {e}")))
}

fn supervisor_error(e: supervisor::Error) -> ApiError {
    match e {
        supervisor::Error::NotFound(name) => ApiError::not_found(format!("no process instance named {name:?}")),
        supervisor::Error::ShutDown => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the daemon is shutting down"),
        other => ApiError::internal(other),
    }
}

/// `GET /processes/{name}/logs?since&limit&stream`.
pub async fn tail(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> ApiResult<Json<LogChunk>> {
    who.require(Permission::Read)?;
    check_name(&name)?;
    let p = q.params()?;
    let chunk = st.app.supervisor.logs(&name, p.stream, p.since, p.limit).await.map_err(supervisor_error)?;
    Ok(Json(chunk))
}

/// `GET /processes/{name}/logs/ws?since&limit&stream`: checks everything (credentials,
/// name, parameters) before upgrading, so a bad request is a JSON error, not a socket.
pub async fn follow(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<LogsQuery>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    who.require(Permission::Read)?;
    check_name(&name)?;
    let p = q.params()?;
    let follower = st.app.supervisor.follow_logs(&name, p.stream, p.since, p.limit).await.map_err(supervisor_error)?;
    let shutdown = st.shutdown.clone();
    Ok(upgrade.on_upgrade(move |socket| serve(socket, follower, shutdown)))
}

async fn serve(socket: WebSocket, follower: LogFollower, shutdown: CancellationToken) {
    let (tx, mut rx) = socket.split();
    let mut sink = Box::pin(tx.with(|text: String| async move { Ok::<_, axum::Error>(Message::Text(text.into())) }));
    let closed = CancellationToken::new();
    let reader = {
        let closed = closed.clone();
        // Reads (and discards) client frames so pings are answered and a close is noticed.
        tokio::spawn(async move {
            while let Some(Ok(msg)) = rx.next().await {
                if matches!(msg, Message::Close(_)) {
                    break;
                }
            }
            closed.cancel();
        })
    };
    tokio::select! {
        res = forward(&mut sink, follower) => {
            if let Err(e) = res {
                tracing::debug!(error = %e, "log tail socket ended");
            }
            let _ = sink.close().await;
        }
        _ = closed.cancelled() => {}
        _ = shutdown.cancelled() => {}
    }
    reader.abort();
}

/// Sends every batch of `follower` to `sink` as `{"type":"lines", …}` until the instance is
/// gone (`Ok`) or the client is (`Err`).
pub async fn forward<S>(sink: &mut S, mut follower: LogFollower) -> Result<(), String>
where
    S: Sink<String> + Unpin,
    S::Error: std::fmt::Display,
{
    while let Some(chunk) = follower.next().await {
        let mut msg = serde_json::to_value(&chunk).map_err(|e| e.to_string())?;
        msg["type"] = "lines".into();
        sink.send(msg.to_string()).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(since: Option<&str>, limit: Option<&str>, stream: Option<&str>) -> LogsQuery {
        LogsQuery { since: since.map(Into::into), limit: limit.map(Into::into), stream: stream.map(Into::into) }
    }

    #[test]
    fn parameters() {
        let ok = |query: LogsQuery| query.params().expect("valid");
        assert_eq!(ok(q(None, None, None)), Params { since: None, limit: DEFAULT_LIMIT, stream: None });
        assert_eq!(
            ok(q(Some("12"), Some("5"), Some("stderr"))),
            Params { since: Some(12), limit: 5, stream: Some(Stream::Stderr) }
        );
        assert_eq!(ok(q(Some(""), Some(""), Some("all"))), Params { since: None, limit: DEFAULT_LIMIT, stream: None });
        for bad in [
            q(Some("-1"), None, None),
            q(Some("x"), None, None),
            q(None, Some("0"), None),
            q(None, Some("10001"), None),
            q(None, Some("ten"), None),
            q(None, None, Some("stdin")),
        ] {
            assert!(bad.params().is_err(), "{bad:?}");
        }
        let e = q(Some("x"), Some("0"), Some("stdin")).params().expect_err("three problems");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }
}
