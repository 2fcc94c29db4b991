//! The JSON API, mounted under `[server] base_path` (default `/api`). Routes, selectors
//! and response shapes follow upstream provisr so its scripts keep working; every
//! handler is a thin adapter over `backend::ops`.

mod auth;
mod cronjobs;
mod groups;
mod history;
mod jobs;
mod logs;
pub mod openapi;
mod processes;

use crate::error::ApiError;
use crate::state::ServerState;
use axum::extract::{FromRequest, FromRequestParts};
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;

/// The API's routes (relative to the base path).
pub fn router() -> Router<ServerState> {
    routes().router
}

/// Every route of the API as `(method, path)`, as registered: what `/openapi.json` must
/// describe (a test holds them to it).
pub fn route_list() -> Vec<(Method, &'static str)> {
    routes().list
}

fn routes() -> Routes {
    Routes::default()
        .get("/status", processes::status)
        .post("/register", processes::register)
        .post("/update", processes::update)
        .post("/start", processes::start)
        .post("/stop", processes::stop)
        .post("/restart", processes::restart)
        .post("/unregister", processes::unregister)
        .get("/processes/{name}/spec", processes::spec)
        .get("/processes/{name}/logs", logs::tail)
        .get("/processes/{name}/logs/ws", logs::follow)
        .get("/history", history::list)
        .get("/jobs", jobs::list)
        .post("/jobs", jobs::create)
        .get("/jobs/{name}", jobs::get)
        .post("/jobs/{name}", jobs::create_named)
        .add(Method::DELETE, "/jobs/{name}", jobs::delete)
        .post("/jobs/{name}/suspend", jobs::suspend)
        .post("/jobs/{name}/resume", jobs::resume)
        .get("/jobs/{name}/history", jobs::history)
        .get("/jobs/{name}/attempts", jobs::attempts)
        .get("/jobs/{name}/logs", jobs::logs)
        .get("/cronjobs", cronjobs::list)
        .post("/cronjobs", cronjobs::create)
        .get("/cronjobs/{name}", cronjobs::get)
        .post("/cronjobs/{name}", cronjobs::create_named)
        .add(Method::DELETE, "/cronjobs/{name}", cronjobs::delete)
        .post("/cronjobs/{name}/suspend", cronjobs::suspend)
        .post("/cronjobs/{name}/resume", cronjobs::resume)
        .post("/cronjobs/{name}/trigger", cronjobs::trigger)
        .get("/cronjobs/{name}/history", cronjobs::history)
        .get("/groups", groups::list)
        .get("/group/status", groups::status)
        .post("/group/start", groups::start)
        .post("/group/stop", groups::stop)
        .get("/auth/status", auth::status)
        .post("/auth/login", auth::login)
        .get("/auth/users", auth::list_users)
        .post("/auth/users", auth::create_user)
        .get("/auth/users/{id}", auth::get_user)
        .add(Method::PUT, "/auth/users/{id}", auth::update_user)
        .add(Method::DELETE, "/auth/users/{id}", auth::delete_user)
        .get("/auth/clients", auth::list_clients)
        .post("/auth/clients", auth::create_client)
        .get("/auth/clients/{id}", auth::get_client)
        .add(Method::PUT, "/auth/clients/{id}", auth::update_client)
        .add(Method::DELETE, "/auth/clients/{id}", auth::delete_client)
        .get("/ws", crate::ws::handler)
        .get("/openapi.json", openapi::document)
        .finish()
}

/// A router that remembers what it routes.
struct Routes {
    router: Router<ServerState>,
    list: Vec<(Method, &'static str)>,
}

impl Default for Routes {
    fn default() -> Self {
        Self { router: Router::new(), list: Vec::new() }
    }
}

impl Routes {
    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, ServerState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
        self.router = self.router.route(path, on(filter, handler));
        self.list.push((method, path));
        self
    }

    fn get<H: Handler<T, ServerState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::GET, path, handler)
    }

    fn post<H: Handler<T, ServerState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::POST, path, handler)
    }

    fn finish(mut self) -> Self {
        self.router = self
            .router
            .fallback(|| async { ApiError::not_found("no such API route") })
            .method_not_allowed_fallback(|| async {
                ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this route")
            });
        self
    }
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
