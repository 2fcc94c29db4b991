//! Who is calling the JSON API: `Authorization: Bearer <jwt>`, HTTP Basic, or the
//! console's session cookie (the browser cannot set headers on a WebSocket).

use crate::error::ApiError;
use crate::state::ServerState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use backend::auth::{AuthError, Principal};
use base64::Engine;
use tower_sessions::Session;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller(pub Principal);

impl FromRequestParts<ServerState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ServerState) -> Result<Self, ApiError> {
        let st = &state.app;
        if !st.auth.enabled() {
            return Ok(Caller(Principal::anonymous()));
        }
        if let Some(value) = parts.headers.get(AUTHORIZATION) {
            let value = value.to_str().map_err(|_| ApiError::unauthorized())?;
            let (scheme, rest) = value.split_once(' ').ok_or_else(ApiError::unauthorized)?;
            let principal = if scheme.eq_ignore_ascii_case("bearer") {
                st.auth.from_bearer(&st.db, rest.trim()).await?
            } else if scheme.eq_ignore_ascii_case("basic") {
                let (user, pass) = decode_basic(rest.trim()).ok_or_else(ApiError::unauthorized)?;
                st.auth.login_password(&st.db, &user, &pass).await?
            } else {
                return Err(AuthError::Invalid.into());
            };
            return Ok(Caller(principal));
        }
        if let Some(session) = parts.extensions.get::<Session>() {
            if let Ok(Some(p)) = app::server_fns::ssr::principal_of_session(st, session).await {
                return Ok(Caller(p));
            }
        }
        Err(AuthError::Missing.into())
    }
}

/// `base64(user:password)` → `(user, password)`.
fn decode_basic(b64: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::decode_basic;

    #[test]
    fn basic_header() {
        assert_eq!(
            decode_basic("YWRtaW46czNjcjN0OndpdGg6Y29sb25z"),
            Some(("admin".into(), "s3cr3t:with:colons".into()))
        );
        assert_eq!(decode_basic("not base64!"), None);
        assert_eq!(decode_basic("bm9jb2xvbg=="), None);
    }
}
