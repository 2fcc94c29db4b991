//! `/jobs`, `/jobs/{name}`, `/jobs/{name}/{suspend,resume,history,attempts,logs}`.

use super::{ApiJson, ApiQuery};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use backend::ops::jobs as ops;
use serde::Deserialize;
use serde_json::{json, Value};
use supervisor::jobs::JobSpec;

/// `?before=&limit=` of a paged history.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    before: Option<i64>,
    limit: Option<u64>,
}

impl PageQuery {
    /// The page size: 50 by default, 1 to 1000.
    pub fn limit(&self) -> ApiResult<u64> {
        match self.limit.unwrap_or(50) {
            n @ 1..=1000 => Ok(n),
            n => Err(ApiError::bad_request(format!("limit must be between 1 and 1000, not {n}"))),
        }
    }

    /// The `before` cursor.
    pub fn before(&self) -> Option<i64> {
        self.before
    }
}

/// A spec from a body, with the name from the path when the route has one: the body's
/// name, if given, must agree.
pub fn named_spec(body: Value, path_name: Option<&str>) -> ApiResult<Value> {
    let mut body = body;
    let Some(name) = path_name else { return Ok(body) };
    let obj = body.as_object_mut().ok_or_else(|| ApiError::bad_request("invalid request body: expected an object"))?;
    match obj.get("name").and_then(Value::as_str) {
        Some(given) if given != name => {
            return Err(ApiError::bad_request(format!("name: the body names {given:?} but the path names {name:?}")))
        }
        _ => {
            obj.insert("name".into(), Value::String(name.to_string()));
        }
    }
    Ok(body)
}

/// A job or cronjob spec from a request body (the name from the path, if given).
pub(super) fn parse_spec<T: serde::de::DeserializeOwned>(body: Value, path_name: Option<&str>) -> ApiResult<T> {
    serde_json::from_value(named_spec(body, path_name)?)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

/// `GET /jobs`: every live job's status, by name.
pub async fn list(State(st): State<ServerState>, Caller(who): Caller) -> ApiResult<Response> {
    Ok(Json(ops::list(&st.app, &who).await?).into_response())
}

/// `POST /jobs` with a job spec: creates and starts it (201 with its status); 409 when a
/// live job has the name.
pub async fn create(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let spec: JobSpec = parse_spec(body, None)?;
    Ok((StatusCode::CREATED, Json(ops::create(&st.app, &who, spec).await?)).into_response())
}

/// `POST /jobs/{name}`: as `POST /jobs`, the name from the path.
pub async fn create_named(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let spec: JobSpec = parse_spec(body, Some(&name))?;
    Ok((StatusCode::CREATED, Json(ops::create(&st.app, &who, spec).await?)).into_response())
}

/// `GET /jobs/{name}`: spec, status and attempts.
pub async fn get(State(st): State<ServerState>, Caller(who): Caller, Path(name): Path<String>) -> ApiResult<Response> {
    Ok(Json(ops::get(&st.app, &who, &name).await?).into_response())
}

/// `DELETE /jobs/{name}`: kills its attempts and removes it from the live list (its history
/// stays). 409 for a job defined in the config file.
pub async fn delete(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    ops::delete(&st.app, &who, &name).await?;
    Ok(Json(json!({ "ok": true })).into_response())
}

/// `POST /jobs/{name}/suspend`.
pub async fn suspend(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(ops::suspend(&st.app, &who, &name).await?).into_response())
}

/// `POST /jobs/{name}/resume`.
pub async fn resume(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(ops::resume(&st.app, &who, &name).await?).into_response())
}

/// `GET /jobs/{name}/history?before=&limit=`: every recorded job of the name (live and
/// removed, with why and when it was removed), newest first.
pub async fn history(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Response> {
    Ok(Json(ops::history(&st.app, &who, &name, q.before(), q.limit()?).await?).into_response())
}

/// `GET /jobs/{name}/attempts`: the recorded attempts with their log excerpts.
pub async fn attempts(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(ops::attempts(&st.app, &who, &name).await?).into_response())
}

/// `?index=&attempt=&stream=&tail=` of `GET /jobs/{name}/logs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    index: Option<u32>,
    attempt: Option<u32>,
    stream: Option<String>,
    tail: Option<u64>,
}

/// `GET /jobs/{name}/logs`: the end of an attempt's output (default: the latest attempt's
/// stdout), as `{"lines": […]}`.
pub async fn logs(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> ApiResult<Response> {
    let query = ops::LogQuery { index: q.index, attempt: q.attempt, stream: q.stream, tail: q.tail };
    let text = ops::logs(&st.app, &who, &name, &query).await?;
    let lines: Vec<&str> = text.lines().collect();
    Ok(Json(json!({ "name": name, "lines": lines })).into_response())
}
