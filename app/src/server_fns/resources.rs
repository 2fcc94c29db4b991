//! CPU and memory of live instances, sampled from `/proc` when this is called (the
//! supervisor runs no sampling timer). The console calls it every few seconds while a
//! page that shows resources is open and visible (see `components::resources`).

use crate::error::AppError;
use crate::model::ResourceUse;
use leptos::prelude::*;

/// CPU and memory of the live instances of the spec `base` (all instances without it).
/// CPU is the share since the previous call (for the first call: since the start).
#[server(prefix = "/rpc", endpoint = "processes/resources")]
pub async fn process_resources(base: Option<String>) -> Result<Vec<ResourceUse>, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    who.require(backend::auth::Permission::Read).map_err(backend::OpError::from)?;
    let selector = match base.filter(|b| !b.is_empty()) {
        Some(b) => supervisor::Selector::Base(b),
        None => supervisor::Selector::All,
    };
    let samples = st.supervisor.resources(selector).await.map_err(backend::OpError::from)?;
    Ok(samples
        .into_iter()
        .map(|s| ResourceUse { name: s.name, cpu_percent: s.cpu_percent, memory_bytes: s.rss_bytes })
        .collect())
}
