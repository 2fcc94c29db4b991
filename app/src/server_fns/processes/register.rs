use crate::error::AppError;
use crate::spec_form::SpecForm;
use leptos::prelude::*;

/// Registers a process from the form and starts it; goes to its detail page.
/// Problems come back per field ([`AppError::Fields`], keyed by spec key).
#[server(prefix = "/rpc", endpoint = "processes/register")]
pub async fn register_process(spec: SpecForm) -> Result<String, AppError> {
    use super::super::ssr::{principal, spec_from_form, state};
    let (st, who) = (state()?, principal().await?);
    let spec = spec_from_form(&spec, None)?;
    let name = spec.name.clone();
    let ack = backend::ops::processes::register(&st, &who, spec).await?;
    if let Some((n, why)) = ack.failed.first() {
        // Registered, but it did not start: show it where the operator can see why.
        tracing::info!(process = %n, reason = %why, "registered from the console but not started");
    }
    leptos_axum::redirect(&format!("/processes/{name}"));
    Ok(name)
}

/// Replaces the spec of the API-registered process `original` with the form's (the
/// supervisor restarts only what changed: see `SupervisorHandle::update`); goes to its
/// detail page. Config-file processes are refused.
#[server(prefix = "/rpc", endpoint = "processes/update")]
pub async fn update_process(original: String, spec: SpecForm) -> Result<String, AppError> {
    use super::super::ssr::{principal, spec_from_form, state};
    use backend::ops::processes as ops;
    use supervisor::{Origin, Selector};
    let (st, who) = (state()?, principal().await?);
    if spec.name.trim() != original {
        return Err(AppError::Fields(vec![("name".into(), "the name cannot change when editing".into())]));
    }
    // Read permission is checked here; changing it needs Operate (checked by the ops below).
    let current = ops::status(&st, &who, Selector::Base(original.clone())).await?;
    match current.first() {
        None => return Err(AppError::NotFound(format!("No process {original:?}."))),
        Some(p) if p.origin == Origin::Config => {
            return Err(AppError::Conflict(crate::model::READ_ONLY_REASON.to_string()));
        }
        Some(_) => {}
    }
    let (old, _) = st.supervisor.spec(original.clone()).await.map_err(backend::OpError::from)?;
    let old = serde_json::to_value(&old).map_err(|e| {
        tracing::error!(error = %e, "spec does not serialise");
        AppError::Internal
    })?;
    let spec = spec_from_form(&spec, Some(&old))?;
    let problems = spec.validate();
    if !problems.is_empty() {
        return Err(AppError::Fields(problems.into_iter().map(|(k, m)| (k.to_string(), m)).collect()));
    }
    let name = spec.name.clone();
    ops::update(&st, &who, spec).await?;
    leptos_axum::redirect(&format!("/processes/{name}"));
    Ok(name)
}
