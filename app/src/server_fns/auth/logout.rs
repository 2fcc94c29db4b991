use crate::error::AppError;
use leptos::prelude::*;

/// Ends the console session and returns to the sign-in page.
#[server(prefix = "/rpc", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    let session = super::super::ssr::session().await?;
    session.flush().await.map_err(|_| AppError::Internal)?;
    leptos_axum::redirect("/login");
    Ok(())
}
