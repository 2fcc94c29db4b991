//! `GET /metrics`: the Prometheus text format of [`backend::metrics`].
//!
//! Where it is served is `[metrics]`'s choice:
//! * `listen` set: on that address only, plain HTTP, **no authentication** — Prometheus
//!   scrapers cannot sign in, so this listener is meant for a private interface (or one
//!   guarded by the network); it serves nothing but `/metrics`.
//! * `enabled` without `listen`: at the root of the main listener (next to the console,
//!   outside the API base path), behind the API's authentication when `[auth]` is on: a
//!   scraper sends HTTP Basic (`basic_auth` in its scrape config) or a bearer token of any
//!   role (the `read` permission).
//! * neither: not served.

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use backend::auth::Permission;
use backend::metrics::{Metrics, CONTENT_TYPE};
use std::sync::Arc;
use supervisor::SupervisorHandle;

/// `GET /metrics` on the main listener: needs the `read` permission.
pub async fn on_main(State(st): State<ServerState>, Caller(who): Caller) -> ApiResult<Response> {
    who.require(Permission::Read)?;
    let metrics = st.metrics.as_ref().ok_or_else(|| ApiError::not_found("metrics are disabled"))?;
    render(metrics, &st.app.supervisor).await
}

async fn render(metrics: &Metrics, sup: &SupervisorHandle) -> ApiResult<Response> {
    let text = metrics
        .render(sup)
        .await
        .map_err(|_| ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "the daemon is shutting down"))?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}

/// The router of a separate `[metrics] listen` address: `/metrics` and nothing else.
pub fn standalone(metrics: Arc<Metrics>, sup: SupervisorHandle) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let (metrics, sup) = (metrics.clone(), sup.clone());
                async move { render(&metrics, &sup).await }
            }),
        )
        .fallback(|| async { ApiError::not_found("only /metrics is served here") })
}
