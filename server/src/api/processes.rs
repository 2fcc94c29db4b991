//! `/register`, `/update`, `/start`, `/stop`, `/restart`, `/unregister`, `/status`,
//! `/processes/{name}/spec`.

use super::{ApiJson, ApiQuery};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;
use app::model::ProcessInfo;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::Json;
use backend::ops::processes as ops;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use supervisor::{ProcessSpec, Selector};

/// `?name=` | `?base=` | `?wildcard=`, and `?wait=` for stop/unregister.
#[derive(Debug, Default, Deserialize)]
pub struct SelectorQuery {
    name: Option<String>,
    base: Option<String>,
    wildcard: Option<String>,
    wait: Option<String>,
}

impl SelectorQuery {
    /// The selector, `None` when none is given; 400 when more than one is, or a name is invalid.
    fn selector(&self) -> ApiResult<Option<Selector>> {
        let given = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
        let picked: Vec<Selector> = [
            given(&self.name).map(Selector::Name),
            given(&self.base).map(Selector::Base),
            given(&self.wildcard).map(Selector::Wildcard),
        ]
        .into_iter()
        .flatten()
        .collect();
        match picked.as_slice() {
            [] => Ok(None),
            [one] => {
                match one {
                    Selector::Name(n) | Selector::Base(n) => supervisor::spec::validate_name(n)
                        .map_err(|e| ApiError::bad_request(format!("invalid selector: {e}")))?,
                    Selector::Wildcard(w) => {
                        if w.is_empty()
                            || !w.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '*' | '?'))
                        {
                            return Err(ApiError::bad_request(
                                "invalid wildcard: allowed are A-Z a-z 0-9 . _ - and the wildcards * ?",
                            ));
                        }
                    }
                    Selector::All => {}
                }
                Ok(Some(one.clone()))
            }
            _ => Err(ApiError::bad_request("give exactly one of name, base or wildcard")),
        }
    }

    /// The selector; 400 when none is given.
    fn required(&self) -> ApiResult<Selector> {
        self.selector()?
            .ok_or_else(|| ApiError::bad_request("one of the query parameters name, base or wildcard is required"))
    }

    /// `?wait=` as a duration; `None` when absent (wait until done).
    fn wait(&self) -> ApiResult<Option<Duration>> {
        match self.wait.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(w) => {
                supervisor::duration::parse(w).map(Some).map_err(|e| ApiError::bad_request(format!("wait: {e}")))
            }
        }
    }
}

/// A 400 naming every instance that could not be started, and why.
pub(super) fn start_failures(ack: &supervisor::Ack) -> Option<ApiError> {
    (!ack.failed.is_empty()).then(|| {
        let reasons = ack.failed.iter().map(|(n, why)| format!("{n}: {why}")).collect::<Vec<_>>().join("; ");
        ApiError::bad_request(format!("could not start: {reasons}"))
    })
}

fn infos(list: &[supervisor::ProcessStatus]) -> Vec<ProcessInfo> {
    list.iter().map(ProcessInfo::from).collect()
}

/// `GET /status`: no selector → health (`{"ok":true}`, no credentials needed); `name` →
/// one object; `base`/`wildcard` → array sorted by name.
pub async fn status(
    State(st): State<ServerState>,
    ApiQuery(q): ApiQuery<SelectorQuery>,
    mut parts: Parts,
) -> ApiResult<Response> {
    let Some(selector) = q.selector()? else {
        return Ok(Json(json!({ "ok": true })).into_response());
    };
    let Caller(who) = Caller::from_request_parts(&mut parts, &st).await?;
    let single = matches!(selector, Selector::Name(_));
    let list = ops::status(&st.app, &who, selector).await?;
    Ok(if single {
        Json(list.first().map(ProcessInfo::from)).into_response()
    } else {
        Json(infos(&list)).into_response()
    })
}

/// `POST /register` with a spec: registers and starts its instances. A spec that cannot
/// start is refused (400, with the reason) and leaves nothing registered.
pub async fn register(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiJson(spec): ApiJson<ProcessSpec>,
) -> ApiResult<Response> {
    register_and_start(&st, &who, spec).await
}

async fn register_and_start(
    st: &ServerState,
    who: &backend::auth::Principal,
    spec: ProcessSpec,
) -> ApiResult<Response> {
    let base = spec.name.clone();
    let ack = ops::register(&st.app, who, spec).await?;
    if let Some(refusal) = start_failures(&ack) {
        // Leave nothing behind that would be retried after a restart.
        if let Err(e) = ops::unregister(&st.app, who, Selector::Base(base), Some(Duration::from_secs(30))).await {
            tracing::warn!(error = %e, "could not roll back a registration that failed to start");
        }
        return Err(refusal);
    }
    Ok(Json(json!({ "ok": true, "names": ack.names })).into_response())
}

/// `POST /update` with a spec: replaces the spec registered under its name and restarts
/// the instances with it, each keeping its wish. 404 for an unknown name, 409 for a process
/// of the main config file, 400 (old spec kept) when the new one is invalid or cannot start.
pub async fn update(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiJson(spec): ApiJson<ProcessSpec>,
) -> ApiResult<Response> {
    let ack = backend::ops::processes::update(&st.app, &who, spec).await?;
    Ok(Json(json!({ "ok": true, "names": ack.names })).into_response())
}

/// `GET /processes/{name}/spec`: the spec as registered (`name` may be an instance name).
pub async fn spec(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<ProcessSpec>> {
    supervisor::spec::validate_name(&name).map_err(|e| ApiError::bad_request(format!("invalid name: {e}")))?;
    let (spec, _) = ops::spec(&st.app, &who, &name).await?;
    Ok(Json(spec))
}

/// `POST /start?name=|base=|wildcard=`. For upstream compatibility a JSON spec in the body
/// (and no selector) registers the spec if needed and starts it.
pub async fn start(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<SelectorQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    let selector = match q.selector()? {
        Some(s) => s,
        None if !body.iter().all(u8::is_ascii_whitespace) => {
            let spec: ProcessSpec = serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?;
            match st.app.supervisor.spec(spec.name.clone()).await {
                Err(supervisor::Error::NotFound(_)) => return register_and_start(&st, &who, spec).await,
                _ => Selector::Base(spec.name),
            }
        }
        None => return Err(ApiError::bad_request("one of the query parameters name, base or wildcard is required")),
    };
    let ack = ops::start(&st.app, &who, selector).await?;
    if let Some(refusal) = start_failures(&ack) {
        return Err(refusal);
    }
    Ok(Json(json!({ "ok": true, "names": ack.names })).into_response())
}

/// `POST /stop?name=|base=|wildcard=[&wait=30s]`: answers once stopped (or `wait` passed).
pub async fn stop(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<SelectorQuery>,
) -> ApiResult<Response> {
    let (ack, stopped) = ops::stop(&st.app, &who, q.required()?, q.wait()?).await?;
    Ok(Json(json!({ "ok": true, "names": ack.names, "stopped": stopped })).into_response())
}

/// `POST /restart?name=|base=|wildcard=`.
pub async fn restart(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<SelectorQuery>,
) -> ApiResult<Response> {
    let ack = ops::restart(&st.app, &who, q.required()?).await?;
    Ok(Json(json!({ "ok": true, "names": ack.names })).into_response())
}

/// `POST /unregister?name=|base=|wildcard=[&wait=]`: stops and removes. 409 for
/// processes defined in the main config file.
pub async fn unregister(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<SelectorQuery>,
) -> ApiResult<Response> {
    let (ack, done) = ops::unregister(&st.app, &who, q.required()?, q.wait()?).await?;
    Ok(Json(json!({ "ok": true, "names": ack.names, "removed": done })).into_response())
}
