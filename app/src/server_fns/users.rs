//! Users and API clients (admin only; refused server-side for everyone else).
//! Thin adapters over `backend::ops::users`.

use crate::error::AppError;
use crate::model::{ClientInfo, CreatedClient, UserInfo};
use leptos::prelude::*;

/// Every console user.
#[server(prefix = "/rpc", endpoint = "users/list")]
pub async fn list_users() -> Result<Vec<UserInfo>, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let list = backend::ops::users::list(&st, &who).await?;
    Ok(list
        .into_iter()
        .map(|u| UserInfo {
            id: u.id,
            username: u.username,
            email: u.email,
            roles: u.roles.iter().map(|r| r.to_string()).collect(),
            active: u.active,
        })
        .collect())
}

/// Creates a user (`roles`: comma-separated, or several `roles` checkboxes joined).
#[server(prefix = "/rpc", endpoint = "users/create")]
pub async fn create_user(
    username: String,
    password: String,
    email: Option<String>,
    roles: Option<String>,
) -> Result<String, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let email = email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let roles = backend::auth::Role::parse_list(roles.as_deref().unwrap_or_default())
        .map_err(|m| AppError::Fields(vec![("roles".into(), m)]))?;
    let new = backend::store::users::NewUser {
        username: username.trim().to_string(),
        password,
        email: email.map(str::to_string),
        roles,
    };
    let u = backend::ops::users::create(&st, &who, new).await?;
    Ok(u.username)
}

/// Every API client (never their secrets).
#[server(prefix = "/rpc", endpoint = "clients/list")]
pub async fn list_clients() -> Result<Vec<ClientInfo>, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let list = backend::ops::clients::list(&st, &who).await?;
    Ok(list
        .into_iter()
        .map(|c| ClientInfo {
            client_id: c.client_id,
            name: c.name,
            scopes: c.scopes.iter().map(|r| r.to_string()).collect(),
        })
        .collect())
}

/// Creates an API client; the answer carries its secret, which is shown once.
#[server(prefix = "/rpc", endpoint = "clients/create")]
pub async fn create_client(name: String, scopes: Option<String>) -> Result<CreatedClient, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let scopes = backend::auth::Role::parse_list(scopes.as_deref().unwrap_or_default())
        .map_err(|m| AppError::Fields(vec![("scopes".into(), m)]))?;
    let (c, secret) = backend::ops::clients::create(&st, &who, name.trim(), &scopes).await?;
    Ok(CreatedClient {
        client: ClientInfo {
            client_id: c.client_id,
            name: c.name,
            scopes: c.scopes.iter().map(|r| r.to_string()).collect(),
        },
        client_secret: secret.0,
    })
}
