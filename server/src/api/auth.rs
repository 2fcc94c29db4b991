//! `/auth/status`, `/auth/login` (basic and client_secret), `/auth/users[/{id}]` and
//! `/auth/clients[/{id}]` (admins only; see `backend::ops::{users, clients}`).

use super::ApiJson;
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::ServerState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use backend::auth::{PrincipalKind, Role};
use backend::ops::{clients as client_ops, users as user_ops};
use backend::store::clients::ClientUpdate;
use backend::store::users::{NewUser, UserUpdate};
use serde::{Deserialize, Deserializer};
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
            let (Some(id), Some(secret)) = (req.client_id.as_deref(), req.client_secret.as_deref()) else {
                return Err(ApiError::bad_request("method client_secret needs client_id and client_secret"));
            };
            st.app.auth.login_client(&st.app.db, id, secret).await?
        }
        other => {
            return Err(ApiError::bad_request(format!("unknown method {other:?}: use \"basic\" or \"client_secret\"")))
        }
    };
    let token = st.app.auth.issue_token(&principal)?;
    Ok(Json(match principal.kind {
        PrincipalKind::Client => json!({
            "success": true,
            "client_id": req.client_id,
            "name": principal.name,
            "roles": principal.roles,
            "scopes": principal.roles,
            "token": token,
        }),
        _ => json!({
            "success": true,
            "user_id": principal.id.to_string(),
            "username": principal.name,
            "roles": principal.roles,
            "token": token,
        }),
    }))
}

/// Roles or scopes as a JSON array (`["admin"]`) or a comma-separated string (`"admin,viewer"`).
fn roles<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Role>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    let names = match Either::deserialize(d)? {
        Either::List(l) => l.join(","),
        Either::Text(t) => t,
    };
    Role::parse_list(&names).map_err(serde::de::Error::custom)
}

fn some_roles<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Role>>, D::Error> {
    roles(d).map(Some)
}

/// `Some(None)` for an explicit `null`, to tell "remove" from "leave as it is".
fn explicit_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(|v| Some(v.filter(|s| !s.is_empty())))
}

/// The body of `POST /auth/users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    username: String,
    password: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(deserialize_with = "roles")]
    roles: Vec<Role>,
}

/// The body of `PUT /auth/users/{id}`: any of these.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeUser {
    #[serde(default)]
    password: Option<String>,
    #[serde(default, deserialize_with = "explicit_null")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "some_roles")]
    roles: Option<Vec<Role>>,
    #[serde(default)]
    active: Option<bool>,
}

/// `GET /auth/users` (admin): every user, never a password hash.
pub async fn list_users(State(st): State<ServerState>, Caller(who): Caller) -> ApiResult<Response> {
    Ok(Json(user_ops::list(&st.app, &who).await?).into_response())
}

/// `POST /auth/users` (admin) → 201 with the user.
pub async fn create_user(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiJson(req): ApiJson<CreateUser>,
) -> ApiResult<Response> {
    let new = NewUser { username: req.username, password: req.password, email: req.email, roles: req.roles };
    Ok((StatusCode::CREATED, Json(user_ops::create(&st.app, &who, new).await?)).into_response())
}

/// `GET /auth/users/{id}` (admin); `{id}` is the numeric id or the user name.
pub async fn get_user(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    who.require(backend::auth::Permission::Admin)?;
    let id = user_ops::resolve(&st.app, &key).await?;
    Ok(Json(user_ops::get(&st.app, &who, id).await?).into_response())
}

/// `PUT /auth/users/{id}` (admin; a user may change their own password) with any of
/// `password`, `email`, `roles`, `active`. 409 when it would leave no active admin.
pub async fn update_user(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<ChangeUser>,
) -> ApiResult<Response> {
    let is_self = who.kind == PrincipalKind::User && (key == who.id.to_string() || key == who.name);
    if !is_self {
        who.require(backend::auth::Permission::Admin)?;
    }
    let id = user_ops::resolve(&st.app, &key).await?;
    let change = UserUpdate { password: req.password, email: req.email, roles: req.roles, active: req.active };
    Ok(Json(user_ops::update(&st.app, &who, id, change).await?).into_response())
}

/// `DELETE /auth/users/{id}` (admin). 409 for the last active admin.
pub async fn delete_user(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    who.require(backend::auth::Permission::Admin)?;
    let id = user_ops::resolve(&st.app, &key).await?;
    let gone = user_ops::delete(&st.app, &who, id).await?;
    Ok(Json(json!({ "ok": true, "id": gone.id, "username": gone.username })).into_response())
}

/// The body of `POST /auth/clients`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    name: String,
    #[serde(deserialize_with = "roles")]
    scopes: Vec<Role>,
}

/// The body of `PUT /auth/clients/{id}`: any of these.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeClient {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "some_roles")]
    scopes: Option<Vec<Role>>,
    #[serde(default)]
    active: Option<bool>,
    /// `true`: replace the secret; the new one is in this answer only.
    #[serde(default)]
    regenerate_secret: bool,
}

/// A client and, when one was just made, its secret.
fn client_json(c: &backend::store::clients::Client, secret: Option<&backend::store::clients::Secret>) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or_else(|_| json!({}));
    if let (Some(s), Some(obj)) = (secret, v.as_object_mut()) {
        obj.insert("client_secret".into(), Value::String(s.0.clone()));
    }
    v
}

/// `GET /auth/clients` (admin): every client, never a secret.
pub async fn list_clients(State(st): State<ServerState>, Caller(who): Caller) -> ApiResult<Response> {
    Ok(Json(client_ops::list(&st.app, &who).await?).into_response())
}

/// `POST /auth/clients {name, scopes}` (admin) → 201 with `client_id` and `client_secret`
/// (the secret only in this answer).
pub async fn create_client(
    State(st): State<ServerState>,
    Caller(who): Caller,
    ApiJson(req): ApiJson<CreateClient>,
) -> ApiResult<Response> {
    let (client, secret) = client_ops::create(&st.app, &who, &req.name, &req.scopes).await?;
    Ok((StatusCode::CREATED, Json(client_json(&client, Some(&secret)))).into_response())
}

/// `GET /auth/clients/{id}` (admin); `{id}` is the numeric id or the `client_id`.
pub async fn get_client(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    who.require(backend::auth::Permission::Admin)?;
    let id = client_ops::resolve(&st.app, &key).await?;
    Ok(Json(client_ops::get(&st.app, &who, id).await?).into_response())
}

/// `PUT /auth/clients/{id}` (admin) with any of `name`, `scopes`, `active`,
/// `regenerate_secret`.
pub async fn update_client(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<ChangeClient>,
) -> ApiResult<Response> {
    who.require(backend::auth::Permission::Admin)?;
    let id = client_ops::resolve(&st.app, &key).await?;
    let change = ClientUpdate {
        name: req.name,
        scopes: req.scopes,
        active: req.active,
        regenerate_secret: req.regenerate_secret,
    };
    let (client, secret) = client_ops::update(&st.app, &who, id, change).await?;
    Ok(Json(client_json(&client, secret.as_ref())).into_response())
}

/// `DELETE /auth/clients/{id}` (admin).
pub async fn delete_client(
    State(st): State<ServerState>,
    Caller(who): Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    who.require(backend::auth::Permission::Admin)?;
    let id = client_ops::resolve(&st.app, &key).await?;
    let gone = client_ops::delete(&st.app, &who, id).await?;
    Ok(Json(json!({ "ok": true, "id": gone.id, "client_id": gone.client_id })).into_response())
}
