use crate::error::AppError;
use leptos::prelude::*;

/// Signs in with a user name and password and starts a console session.
///
/// Works as a plain form post too (before the WASM has loaded): success redirects to
/// the Processes page, failure back to the sign-in page with `?error=invalid`.
#[server(prefix = "/rpc", endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<(), AppError> {
    use super::super::ssr::{session, state, SESSION_USER, SESSION_VERSION};
    let st = state()?;
    let session = session().await?;
    match st.auth.login_password(&st.db, username.trim(), &password).await {
        Ok(p) => {
            // A new id on privilege change: a session id planted before sign-in is useless.
            session.cycle_id().await.map_err(|_| AppError::Internal)?;
            session.insert(SESSION_USER, p.id).await.map_err(|_| AppError::Internal)?;
            session.insert(SESSION_VERSION, p.version).await.map_err(|_| AppError::Internal)?;
            tracing::info!(user = %p.name, "console sign-in");
            leptos_axum::redirect("/");
            Ok(())
        }
        Err(backend::auth::AuthError::Invalid) => {
            tracing::info!(user = %username.trim(), "console sign-in refused");
            // A plain form post (no WASM yet) goes back to the form, which shows the error;
            // the hydrated form shows the returned error itself.
            let plain_form = use_context::<axum::http::request::Parts>().is_some_and(|p| {
                p.headers
                    .get(axum::http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("text/html"))
            });
            if plain_form {
                leptos_axum::redirect("/login?error=invalid");
            } else if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
                res.set_status(axum::http::StatusCode::UNAUTHORIZED);
            }
            Err(AppError::InvalidCredentials)
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed");
            Err(AppError::Internal)
        }
    }
}
