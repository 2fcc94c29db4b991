//! The router's state: the backend's handles plus what only the web layer needs.

use app::ConsoleConfig;
use axum::extract::FromRef;
use backend::metrics::Metrics;
use backend::AppState;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// State of every route. Handles, not locks.
#[derive(Clone, Debug, FromRef)]
pub struct ServerState {
    /// Store, supervisor, auth, recorder.
    pub app: AppState,
    /// Leptos rendering options.
    pub leptos_options: LeptosOptions,
    /// What the console page needs to know (API base path).
    pub console: ConsoleConfig,
    /// Cancelled when the daemon shuts down (ends long-lived connections).
    pub shutdown: CancellationToken,
    /// The Prometheus series, when `[metrics]` is enabled.
    pub metrics: Option<Arc<Metrics>>,
}
