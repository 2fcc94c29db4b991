//! `GET <api>/ws`: live state over a WebSocket.
//!
//! The connection subscribes to the supervisor's events *first*, then sends a snapshot
//! carrying its sequence number, then forwards every event above that number in order.
//! The snapshot combines the process supervisor's and the jobs controller's (they publish
//! on one bus): it carries the lower of their two sequence numbers, and the events after
//! it are all forwarded; each carries the full status of what it is about, so one that a
//! part of the snapshot already reflects is harmless to apply again.
//! A client too slow for the broadcast buffer is not dropped: it gets a fresh snapshot
//! and continues from there. The loop is generic over a sink of text frames so it can
//! be tested without a socket.

use crate::caller::Caller;
use crate::state::ServerState;
use app::model::{ProcessInfo, WsMessage};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use backend::auth::Permission;
use futures::{Sink, SinkExt, StreamExt};
use supervisor::{JobsHandle, SupervisorHandle};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

/// Upgrades to a WebSocket for callers allowed to read.
pub async fn handler(
    State(st): State<ServerState>,
    Caller(who): Caller,
    upgrade: WebSocketUpgrade,
) -> Result<Response, crate::error::ApiError> {
    who.require(Permission::Read)?;
    let supervisor = st.app.supervisor.clone();
    let jobs = st.app.jobs.clone();
    let shutdown = st.shutdown.clone();
    Ok(upgrade.on_upgrade(move |socket| serve(socket, supervisor, jobs, shutdown)))
}

async fn serve(socket: WebSocket, supervisor: SupervisorHandle, jobs: JobsHandle, shutdown: CancellationToken) {
    let (tx, mut rx) = socket.split();
    let sink = Box::pin(tx.with(|text: String| async move { Ok::<_, axum::Error>(Message::Text(text.into())) }));
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
        res = forward(sink, &supervisor, Some(&jobs)) => {
            if let Err(e) = res {
                tracing::debug!(error = %e, "live socket ended");
            }
        }
        _ = closed.cancelled() => {}
        _ = shutdown.cancelled() => {}
    }
    reader.abort();
}

/// Why forwarding stopped.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The client went away.
    #[error("client gone: {0}")]
    Sink(String),
    /// The supervisor stopped.
    #[error("supervisor stopped")]
    Supervisor,
}

/// Sends a snapshot, then every later event, to `sink`; resynchronises on lag. With
/// `jobs`, the snapshot also lists the live jobs and the cronjobs.
pub async fn forward<S>(
    mut sink: S,
    supervisor: &SupervisorHandle,
    jobs: Option<&JobsHandle>,
) -> Result<(), ForwardError>
where
    S: Sink<String> + Unpin,
    S::Error: std::fmt::Display,
{
    let mut events = supervisor.subscribe();
    let mut seq = send_snapshot(&mut sink, supervisor, jobs).await?;
    loop {
        match events.recv().await {
            Ok(e) => {
                if e.seq <= seq {
                    continue;
                }
                seq = e.seq;
                send(&mut sink, &WsMessage::from(e.as_ref())).await?;
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "live socket lagged; sending a fresh snapshot");
                seq = send_snapshot(&mut sink, supervisor, jobs).await?;
            }
            Err(RecvError::Closed) => return Err(ForwardError::Supervisor),
        }
    }
}

async fn send_snapshot<S>(
    sink: &mut S,
    supervisor: &SupervisorHandle,
    jobs: Option<&JobsHandle>,
) -> Result<u64, ForwardError>
where
    S: Sink<String> + Unpin,
    S::Error: std::fmt::Display,
{
    // Every event published before the snapshots are taken is reflected in them, whichever
    // actor published it: so is every event up to the lower of the two actors' own numbers.
    let before = supervisor.bus().seq();
    let snap = supervisor.snapshot().await.map_err(|_| ForwardError::Supervisor)?;
    let processes = snap.processes.iter().map(ProcessInfo::from).collect();
    let (seq, jobs, cronjobs) = match jobs {
        Some(jobs) => {
            let js = jobs.snapshot().await.map_err(|_| ForwardError::Supervisor)?;
            let jobs = js.jobs.iter().map(to_json).collect();
            (before.max(snap.seq.min(js.seq)), jobs, js.cronjobs.iter().map(to_json).collect())
        }
        None => (snap.seq, Vec::new(), Vec::new()),
    };
    send(sink, &WsMessage::Snapshot { seq, processes, jobs, cronjobs }).await?;
    Ok(seq)
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

async fn send<S>(sink: &mut S, msg: &WsMessage) -> Result<(), ForwardError>
where
    S: Sink<String> + Unpin,
    S::Error: std::fmt::Display,
{
    let text = serde_json::to_string(msg).map_err(|e| ForwardError::Sink(e.to_string()))?;
    sink.send(text).await.map_err(|e| ForwardError::Sink(e.to_string()))
}
