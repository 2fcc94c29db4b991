//! API client management (admins only): list, show, create (the secret is returned
//! once), change, delete.

use super::{store_op, OpError};
use crate::auth::{Permission, Principal, Role};
use crate::state::AppState;
use crate::store::clients::{self, Client, ClientUpdate, Secret};

/// Every client, by id.
pub async fn list(st: &AppState, who: &Principal) -> Result<Vec<Client>, OpError> {
    who.require(Permission::Admin)?;
    clients::list(&st.db).await.map_err(store_op)
}

/// The row id of the client named by `key`: a numeric id, else a `client_id`.
pub async fn resolve(st: &AppState, key: &str) -> Result<i64, OpError> {
    if let Ok(id) = key.parse::<i64>() {
        return Ok(id);
    }
    match clients::find_by_client_id(&st.db, key).await.map_err(store_op)? {
        Some((c, _)) => Ok(c.id),
        None => Err(OpError::NotFound(format!("no API client {key:?}"))),
    }
}

/// One client.
pub async fn get(st: &AppState, who: &Principal, id: i64) -> Result<Client, OpError> {
    who.require(Permission::Admin)?;
    clients::get(&st.db, id)
        .await
        .map_err(store_op)?
        .ok_or_else(|| OpError::NotFound(format!("no API client with id {id}")))
}

/// Creates a client; the secret is in this answer only.
pub async fn create(st: &AppState, who: &Principal, name: &str, scopes: &[Role]) -> Result<(Client, Secret), OpError> {
    who.require(Permission::Admin)?;
    let mut problems = Vec::new();
    if let Err(e) = clients::validate_name(name) {
        problems.push(("name".to_string(), e));
    }
    if scopes.is_empty() {
        problems.push(("scopes".to_string(), "at least one scope is required (admin, operator or viewer)".to_string()));
    }
    if !problems.is_empty() {
        return Err(OpError::Invalid(problems));
    }
    clients::create(&st.db, name, scopes).await.map_err(store_op)
}

/// Changes a client; new scopes, a new secret or deactivation end its tokens.
pub async fn update(
    st: &AppState,
    who: &Principal,
    id: i64,
    change: ClientUpdate,
) -> Result<(Client, Option<Secret>), OpError> {
    who.require(Permission::Admin)?;
    clients::update(&st.db, id, change).await.map_err(store_op)
}

/// Deletes a client.
pub async fn delete(st: &AppState, who: &Principal, id: i64) -> Result<Client, OpError> {
    who.require(Permission::Admin)?;
    clients::delete(&st.db, id).await.map_err(store_op)
}
