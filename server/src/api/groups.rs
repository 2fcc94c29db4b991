//! `/groups`, `/group/status`, `/group/start`, `/group/stop`: the `[[groups]]` of the config.

use super::processes::start_failures;
use super::ApiQuery;
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;
use app::model::ProcessInfo;
use axum::extract::State;
use axum::Json;
use backend::ops::groups::{self as ops, GroupStatus};
use serde::Deserialize;
use serde_json::{json, Value};

/// `?name=` (required) and, for stop, `?wait=`.
#[derive(Debug, Default, Deserialize)]
pub struct GroupQuery {
    name: Option<String>,
    wait: Option<String>,
}

impl GroupQuery {
    fn name(&self) -> ApiResult<&str> {
        let name = self
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::bad_request("the query parameter name (the group) is required"))?;
        supervisor::spec::validate_name(name).map_err(|e| ApiError::bad_request(format!("invalid group name: {e}")))?;
        Ok(name)
    }

    fn wait(&self) -> ApiResult<Option<std::time::Duration>> {
        self.wait
            .as_deref()
            .filter(|w| !w.is_empty())
            .map(|w| supervisor::duration::parse(w).map_err(|e| ApiError::bad_request(format!("wait: {e}"))))
            .transpose()
    }
}

/// A group as JSON: `{name, state, members: [{name, state, registered, instances: [status…]}]}`.
fn group_json(g: &GroupStatus) -> Value {
    let members: Vec<Value> = g
        .members
        .iter()
        .map(|m| {
            let instances: Vec<ProcessInfo> = m.instances.iter().map(ProcessInfo::from).collect();
            json!({ "name": m.name, "state": m.state, "registered": m.registered, "instances": instances })
        })
        .collect();
    json!({ "name": g.name, "state": g.state, "members": members })
}

/// `GET /groups`: every group with its state and members, in config order.
pub async fn list(State(st): State<ServerState>, Caller(who): Caller) -> ApiResult<Json<Value>> {
    let groups = ops::list(&st.app, &who).await?;
    Ok(Json(Value::Array(groups.iter().map(group_json).collect())))
}

/// `GET /group/status?name=`: one group: `running` when every instance of every member
/// runs, `degraded` when some do, `stopped` when none does.
pub async fn status(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<GroupQuery>,
) -> ApiResult<Json<Value>> {
    let g = ops::status(&st.app, &who, q.name()?).await?;
    Ok(Json(group_json(&g)))
}

/// `POST /group/start?name=`: starts the members in priority order.
pub async fn start(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<GroupQuery>,
) -> ApiResult<Json<Value>> {
    let ack = ops::start(&st.app, &who, q.name()?).await?;
    if let Some(refusal) = start_failures(&ack) {
        return Err(refusal);
    }
    Ok(Json(json!({ "ok": true, "names": ack.names })))
}

/// `POST /group/stop?name=[&wait=]`: stops the members in reverse priority order; answers
/// once all have stopped (or `wait` has passed: then `"stopped": false`).
pub async fn stop(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<GroupQuery>,
) -> ApiResult<Json<Value>> {
    let (ack, stopped) = ops::stop(&st.app, &who, q.name()?, q.wait()?).await?;
    Ok(Json(json!({ "ok": true, "names": ack.names, "stopped": stopped })))
}
