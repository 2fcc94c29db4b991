//! `/cronjobs`, `/cronjobs/{name}`, `/cronjobs/{name}/{history,suspend,resume,trigger}`.

use super::jobs::{parse_spec, PageQuery};
use super::{ApiJson, ApiQuery};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use backend::ops::cronjobs as ops;
use serde::Deserialize;
use serde_json::{json, Value};
use supervisor::cron::CronJobSpec;

/// `GET /cronjobs`: every cronjob's status, by name.
pub async fn list(State(st): State<ServerState>, Caller(who): Caller) -> ApiResult<Response> {
    Ok(Json(ops::list(&st.app, &who).await?).into_response())
}

/// `POST /cronjobs` with a cronjob spec (201 with its status). 409 when the name is
/// taken, 400 naming the key for an invalid schedule or time zone.
pub async fn create(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let spec: CronJobSpec = parse_spec(body, None)?;
    Ok((StatusCode::CREATED, Json(ops::create(&st.app, &who, spec).await?)).into_response())
}

/// `POST /cronjobs/{name}`: as `POST /cronjobs`, the name from the path.
pub async fn create_named(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let spec: CronJobSpec = parse_spec(body, Some(&name))?;
    Ok((StatusCode::CREATED, Json(ops::create(&st.app, &who, spec).await?)).into_response())
}

/// `?next=N` of `GET /cronjobs/{name}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    next: Option<usize>,
}

/// `GET /cronjobs/{name}[?next=N]`: spec, status, live jobs and the next N (default 5,
/// at most 100) fire times.
pub async fn get(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<GetQuery>,
) -> ApiResult<Response> {
    let next = q.next.unwrap_or(5);
    if next > ops::MAX_NEXT {
        return Err(ApiError::bad_request(format!("next must be at most {}", ops::MAX_NEXT)));
    }
    Ok(Json(ops::get(&st.app, &who, &name, next).await?).into_response())
}

/// `DELETE /cronjobs/{name}`: 409 for a configured cronjob.
pub async fn delete(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    ops::delete(&st.app, &who, &name).await?;
    Ok(Json(json!({ "ok": true })).into_response())
}

/// `POST /cronjobs/{name}/suspend`.
pub async fn suspend(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(ops::suspend(&st.app, &who, &name).await?).into_response())
}

/// `POST /cronjobs/{name}/resume`.
pub async fn resume(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(ops::resume(&st.app, &who, &name).await?).into_response())
}

/// `POST /cronjobs/{name}/trigger`: runs it now, whatever its schedule or suspension;
/// answers `{"ok": true, "job": "<created job>"}`.
pub async fn trigger(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let job = ops::trigger(&st.app, &who, &name).await?;
    Ok(Json(json!({ "ok": true, "job": job })).into_response())
}

/// `GET /cronjobs/{name}/history?before=&limit=`: its firings (scheduled and actual
/// time, job created or skipped and why), newest first.
pub async fn history(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Response> {
    Ok(Json(ops::history(&st.app, &who, &name, q.before(), q.limit()?).await?).into_response())
}
