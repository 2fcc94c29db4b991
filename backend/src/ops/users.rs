//! Users and API clients as the console manages them (admin only).
//!
//! NOTE (console helper): minimal versions written for the console's Users and API
//! clients pages while the `authcli` helper builds the full user/client management;
//! the lead reconciles them. Users go through `store::users`; API clients have no
//! store yet in this tree, so their operations answer that they are not available.

use super::OpError;
use crate::auth::{Permission, Principal, Role};
use crate::error::StoreError;
use crate::state::AppState;
use crate::store::users::{self, NewUser, User};

/// Every user, by id.
pub async fn list_users(st: &AppState, who: &Principal) -> Result<Vec<User>, OpError> {
    who.require(Permission::Admin)?;
    Ok(users::list(&st.db).await?)
}

/// Creates a user. `roles` is a comma-separated list (`"operator,viewer"`).
/// Problems are reported by field: `username`, `password`, `email`, `roles`.
pub async fn create_user(
    st: &AppState,
    who: &Principal,
    username: &str,
    password: &str,
    email: Option<&str>,
    roles: &str,
) -> Result<User, OpError> {
    who.require(Permission::Admin)?;
    let mut errs = Vec::new();
    if let Err(m) = users::validate_username(username) {
        errs.push(("username".to_string(), m));
    }
    if let Err(m) = crate::auth::password::check_policy(password) {
        errs.push(("password".to_string(), m));
    }
    if email.is_some_and(|e| !e.contains('@')) {
        errs.push(("email".to_string(), "not an e-mail address".to_string()));
    }
    let roles = match Role::parse_list(roles) {
        Ok(r) if r.is_empty() => {
            errs.push(("roles".to_string(), "at least one role is required (admin, operator, viewer)".to_string()));
            r
        }
        Ok(r) => r,
        Err(m) => {
            errs.push(("roles".to_string(), m));
            Vec::new()
        }
    };
    if !errs.is_empty() {
        return Err(OpError::Invalid(errs));
    }
    let new = NewUser {
        username: username.to_string(),
        password: password.to_string(),
        email: email.map(str::to_string),
        roles,
    };
    match users::create(&st.db, new).await {
        Ok(u) => Ok(u),
        Err(StoreError::Conflict(m)) => Err(OpError::Conflict(m)),
        Err(StoreError::Invalid(m)) => Err(OpError::invalid("", m)),
        Err(e) => Err(e.into()),
    }
}

/// An API client without its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSummary {
    /// The id it authenticates with.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<Role>,
}

/// Every API client. Not available in this tree yet (no client store): an empty list.
pub async fn list_clients(_st: &AppState, who: &Principal) -> Result<Vec<ClientSummary>, OpError> {
    who.require(Permission::Admin)?;
    Ok(Vec::new())
}

/// Creates an API client and returns it with its secret (shown once). Not available in
/// this tree yet (no client store).
pub async fn create_client(
    _st: &AppState,
    who: &Principal,
    name: &str,
    scopes: &str,
) -> Result<(ClientSummary, String), OpError> {
    who.require(Permission::Admin)?;
    let mut errs = Vec::new();
    if name.trim().is_empty() {
        errs.push(("name".to_string(), "a name is required".to_string()));
    }
    match Role::parse_list(scopes) {
        Ok(s) if s.is_empty() => errs.push(("scopes".to_string(), "at least one scope is required".to_string())),
        Ok(_) => {}
        Err(m) => errs.push(("scopes".to_string(), m)),
    }
    if !errs.is_empty() {
        return Err(OpError::Invalid(errs));
    }
    Err(OpError::Conflict("API clients cannot be created yet: client storage is not part of this build".to_string()))
}
