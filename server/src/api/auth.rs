//! `/auth/status` and `/auth/login`.

use super::ApiJson;
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// `GET /auth/status` (public): whether the console must show a sign-in page.
pub async fn status(State(st): State<ServerState>) -> Json<Value> {
    Json(json!({ "enabled": st.app.auth.enabled(), "needs_setup": false }))
}

/// The body of `POST /auth/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    method: String,
    username: Option<String>,
    password: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST /auth/login` with `{"method":"basic","username","password"}` → a JWT.
/// A wrong password and an unknown user get the same 401.
pub async fn login(State(st): State<ServerState>, ApiJson(req): ApiJson<LoginRequest>) -> ApiResult<Json<Value>> {
    if !st.app.auth.enabled() {
        return Err(ApiError::not_found("authentication is disabled on this server"));
    }
    let principal = match req.method.as_str() {
        "basic" => {
            let (Some(u), Some(p)) = (req.username.as_deref(), req.password.as_deref()) else {
                return Err(ApiError::bad_request("method basic needs username and password"));
            };
            st.app.auth.login_password(&st.app.db, u, p).await?
        }
        "client_secret" => {
            let _ = (&req.client_id, &req.client_secret);
            return Err(ApiError::bad_request(
                "method client_secret is not available yet: API clients are not implemented",
            ));
        }
        other => return Err(ApiError::bad_request(format!("unknown method {other:?}: use \"basic\""))),
    };
    let token = st.app.auth.issue_token(&principal)?;
    Ok(Json(json!({
        "success": true,
        "user_id": principal.id.to_string(),
        "username": principal.name,
        "roles": principal.roles,
        "token": token,
    })))
}
