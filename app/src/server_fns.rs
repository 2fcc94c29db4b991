//! Server functions, one per file, grouped by resource. Each is a thin adapter: it
//! finds the caller's principal from the session and calls the same `backend::ops`
//! function the JSON API calls, so permissions are checked in one place.

pub mod auth;
pub mod cronjobs;
pub mod groups;
pub mod jobs;
pub mod processes;
pub mod resources;
pub mod settings;
pub mod users;

/// Server-side helpers for server functions.
#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::error::AppError;
    use backend::auth::Principal;
    use backend::AppState;
    use leptos::prelude::*;
    use tower_sessions::Session;

    /// Session key of the signed-in user's id.
    pub const SESSION_USER: &str = "uid";
    /// Session key of the user's version at sign-in.
    pub const SESSION_VERSION: &str = "ver";

    /// The shared state, provided to every request by the server.
    pub fn state() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from the Leptos context");
            AppError::Internal
        })
    }

    /// The request's session.
    pub async fn session() -> Result<Session, AppError> {
        leptos_axum::extract::<Session>().await.map_err(|e| {
            tracing::error!(error = %e, "no session layer");
            AppError::Internal
        })
    }

    /// Who is calling: the signed-in user (still active, unchanged since sign-in), or
    /// the anonymous admin when auth is disabled.
    pub async fn principal() -> Result<Principal, AppError> {
        let st = state()?;
        if !st.auth.enabled() {
            return Ok(Principal::anonymous());
        }
        let session = session().await?;
        principal_of_session(&st, &session).await?.ok_or(AppError::Unauthenticated)
    }

    /// The spec a process form describes, or every problem with it by spec key: the
    /// form's own checks, then durations and the stop signal, then the spec's shape.
    /// (Whether the spec is valid as a whole — work dir exists, … — is the supervisor's
    /// call when it is registered.)
    /// With `current` (an edit), keys the form does not show are kept from it.
    pub fn spec_from_form(
        form: &crate::spec_form::SpecForm,
        current: Option<&serde_json::Value>,
    ) -> Result<supervisor::ProcessSpec, AppError> {
        let value = match current {
            Some(cur) => form.merge_into(cur),
            None => form.to_json(),
        }
        .map_err(AppError::Fields)?;
        let mut problems = Vec::new();
        for key in ["restart_interval", "start_duration", "stop_timeout"] {
            if let Some(Err(m)) = value.get(key).and_then(|v| v.as_str()).map(supervisor::duration::parse) {
                problems.push((key.to_string(), m));
            }
        }
        if let Some(Err(m)) = value.get("stop_signal").and_then(|v| v.as_str()).map(supervisor::StopSignal::parse) {
            problems.push(("stop_signal".to_string(), m));
        }
        for (i, hook) in form.hooks.iter().enumerate() {
            if !hook.timeout.trim().is_empty() {
                if let Err(m) = supervisor::duration::parse(&hook.timeout) {
                    problems.push((format!("hooks[{i}].timeout"), m));
                }
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Fields(problems));
        }
        serde_json::from_value(value).map_err(|e| {
            let msg = e.to_string();
            // Hooks are passed as `lifecycle`; an engine without them says so here.
            let key = if msg.contains("lifecycle") { "hooks" } else { "" };
            AppError::Fields(vec![(key.to_string(), msg)])
        })
    }

    /// The principal a session stands for, if it is signed in and still valid.
    pub async fn principal_of_session(st: &AppState, session: &Session) -> Result<Option<Principal>, AppError> {
        let uid: Option<i64> = session.get(SESSION_USER).await.map_err(|_| AppError::Internal)?;
        let ver: Option<i64> = session.get(SESSION_VERSION).await.map_err(|_| AppError::Internal)?;
        let (Some(uid), Some(ver)) = (uid, ver) else { return Ok(None) };
        match st.auth.current_user(&st.db, uid, ver).await {
            Ok(p) => Ok(Some(p)),
            Err(backend::auth::AuthError::Invalid) => Ok(None),
            Err(e) => {
                tracing::error!(error = %e, "session check failed");
                Err(AppError::Internal)
            }
        }
    }
}
