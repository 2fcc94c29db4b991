//! The effective server settings (admin only).

use crate::error::AppError;
use crate::model::ServerSettings;
use leptos::prelude::*;

/// What the server runs with: listen address, TLS, auth, store, logs, metrics.
/// The server provides it at startup (`ConsoleConfig::settings`); secrets are never in it.
#[server(prefix = "/rpc", endpoint = "settings")]
pub async fn get_settings() -> Result<ServerSettings, AppError> {
    use super::ssr::principal;
    let who = principal().await?;
    who.require(backend::auth::Permission::Admin).map_err(backend::OpError::from)?;
    Ok(use_context::<crate::ConsoleConfig>().map(|c| c.settings).unwrap_or_default())
}
