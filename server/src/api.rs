//! The JSON API, mounted under `[server] base_path` (default `/api`). Routes, selectors
//! and response shapes follow upstream provisr so its scripts keep working; every
//! handler is a thin adapter over `backend::ops`.

mod auth;
mod cronjobs;
mod jobs;
mod processes;

use crate::error::ApiError;
use crate::state::ServerState;
use axum::extract::{FromRequest, FromRequestParts};
use axum::routing::{get, post};
use axum::Router;

/// The API's routes (relative to the base path).
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/status", get(processes::status))
        .route("/register", post(processes::register))
        .route("/start", post(processes::start))
        .route("/stop", post(processes::stop))
        .route("/restart", post(processes::restart))
        .route("/unregister", post(processes::unregister))
        .route("/jobs", get(jobs::list).post(jobs::create))
        .route("/jobs/{name}", get(jobs::get).post(jobs::create_named).delete(jobs::delete))
        .route("/jobs/{name}/suspend", post(jobs::suspend))
        .route("/jobs/{name}/resume", post(jobs::resume))
        .route("/jobs/{name}/history", get(jobs::history))
        .route("/jobs/{name}/attempts", get(jobs::attempts))
        .route("/jobs/{name}/logs", get(jobs::logs))
        .route("/cronjobs", get(cronjobs::list).post(cronjobs::create))
        .route("/cronjobs/{name}", get(cronjobs::get).post(cronjobs::create_named).delete(cronjobs::delete))
        .route("/cronjobs/{name}/suspend", post(cronjobs::suspend))
        .route("/cronjobs/{name}/resume", post(cronjobs::resume))
        .route("/cronjobs/{name}/trigger", post(cronjobs::trigger))
        .route("/cronjobs/{name}/history", get(cronjobs::history))
        .route("/auth/status", get(auth::status))
        .route("/auth/login", post(auth::login))
        .route("/ws", get(crate::ws::handler))
        .fallback(|| async { ApiError::not_found("no such API route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this route")
        })
}

/// A JSON body whose rejection is a JSON error.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// A query string whose rejection is a JSON error.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for ApiJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}
