//! User management: list, show, create, change, delete. Admins only — except that a
//! user may change their own password. The last active admin cannot be deleted,
//! deactivated or lose the admin role.

use super::{store_op, OpError};
use crate::auth::{Permission, Principal, PrincipalKind};
use crate::state::AppState;
use crate::store::users::{self, NewUser, User, UserUpdate};

/// Every user, by id.
pub async fn list(st: &AppState, who: &Principal) -> Result<Vec<User>, OpError> {
    who.require(Permission::Admin)?;
    users::list(&st.db).await.map_err(store_op)
}

/// The row id of the user named by `key`: a numeric id, else a user name.
pub async fn resolve(st: &AppState, key: &str) -> Result<i64, OpError> {
    if let Ok(id) = key.parse::<i64>() {
        return Ok(id);
    }
    match users::find_by_username(&st.db, key).await.map_err(store_op)? {
        Some((u, _)) => Ok(u.id),
        None => Err(OpError::NotFound(format!("no user {key:?}"))),
    }
}

/// One user.
pub async fn get(st: &AppState, who: &Principal, id: i64) -> Result<User, OpError> {
    who.require(Permission::Admin)?;
    users::get(&st.db, id).await.map_err(store_op)?.ok_or_else(|| OpError::NotFound(format!("no user with id {id}")))
}

/// Creates a user.
pub async fn create(st: &AppState, who: &Principal, new: NewUser) -> Result<User, OpError> {
    who.require(Permission::Admin)?;
    let mut problems = Vec::new();
    if let Err(e) = users::validate_username(&new.username) {
        problems.push(("username".to_string(), e));
    }
    if let Err(e) = crate::auth::password::check_policy(&new.password) {
        problems.push(("password".to_string(), e));
    }
    if new.roles.is_empty() {
        problems.push(("roles".to_string(), "at least one role is required (admin, operator or viewer)".to_string()));
    }
    if let Some(email) = &new.email {
        if let Err(e) = users::validate_email(email) {
            problems.push(("email".to_string(), e));
        }
    }
    if !problems.is_empty() {
        return Err(OpError::Invalid(problems));
    }
    users::create(&st.db, new).await.map_err(store_op)
}

/// Changes a user (see [`users::update`]: a new password, roles or `active` end the
/// user's existing tokens and sessions).
pub async fn update(st: &AppState, who: &Principal, id: i64, change: UserUpdate) -> Result<User, OpError> {
    let own_password_only = who.kind == PrincipalKind::User
        && who.id == id
        && change.password.is_some()
        && change.email.is_none()
        && change.roles.is_none()
        && change.active.is_none();
    if !own_password_only {
        who.require(Permission::Admin)?;
    }
    let problems = change.problems();
    if !problems.is_empty() {
        return Err(OpError::Invalid(problems));
    }
    users::update(&st.db, id, change).await.map_err(store_op)
}

/// Deletes a user.
pub async fn delete(st: &AppState, who: &Principal, id: i64) -> Result<User, OpError> {
    who.require(Permission::Admin)?;
    users::delete(&st.db, id).await.map_err(store_op)
}
