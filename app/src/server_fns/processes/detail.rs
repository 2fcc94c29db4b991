use crate::error::AppError;
use crate::model::ProcessInfo;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the detail and edit pages show of a process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetailView {
    /// The spec's name (`base` of its instances).
    pub base: String,
    /// The spec as JSON (the keys of the config file and `POST /api/register`).
    pub spec: serde_json::Value,
    /// `config` | `programs_dir` | `api`.
    pub origin: String,
    /// Defined in the config file: no edit, no unregister here.
    pub read_only: bool,
    /// Its instances now.
    pub instances: Vec<ProcessInfo>,
}

/// The spec and instances of the process `name` (an instance or a spec name).
#[server(prefix = "/rpc", endpoint = "processes/detail")]
pub async fn process_detail(name: String) -> Result<DetailView, AppError> {
    use super::super::ssr::{principal, state};
    use backend::ops::processes as ops;
    use supervisor::{Origin, Selector};
    let (st, who) = (state()?, principal().await?);
    let mut found = ops::status(&st, &who, Selector::Name(name.clone())).await.unwrap_or_default();
    if found.is_empty() {
        found = ops::status(&st, &who, Selector::Base(name.clone())).await?;
    }
    let base =
        found.first().map(|p| p.base.clone()).ok_or_else(|| AppError::NotFound(format!("No process {name:?}.")))?;
    // Read permission was checked by `status` above.
    let (spec, origin) = st.supervisor.spec(base.clone()).await.map_err(backend::OpError::from)?;
    let spec = serde_json::to_value(&spec).map_err(|e| {
        tracing::error!(error = %e, "spec does not serialise");
        AppError::Internal
    })?;
    let origin_name = match origin {
        Origin::Config => "config",
        Origin::ProgramsDir => "programs_dir",
        Origin::Api => "api",
    };
    let instances = ops::status(&st, &who, Selector::Base(base.clone())).await?;
    let mut instances: Vec<ProcessInfo> = instances.iter().map(ProcessInfo::from).collect();
    super::fill_resources(&st, &mut instances, Selector::Base(base.clone())).await;
    Ok(DetailView { base, spec, origin: origin_name.to_string(), read_only: origin == Origin::Config, instances })
}
