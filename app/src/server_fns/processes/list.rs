use crate::error::AppError;
use crate::model::ProcessInfo;
use leptos::prelude::*;

/// Every process instance with the sequence number it reflects.
#[server(prefix = "/rpc", endpoint = "processes/list")]
pub async fn list_processes() -> Result<(u64, Vec<ProcessInfo>), AppError> {
    use super::super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let snap = backend::ops::processes::snapshot(&st, &who).await?;
    let mut list: Vec<ProcessInfo> = snap.processes.iter().map(ProcessInfo::from).collect();
    fill_resources(&st, &mut list, supervisor::Selector::All).await;
    Ok((snap.seq, list))
}

/// Sets `cpu_percent` and `memory_bytes` of the live instances in `list` from a sample
/// taken now (left empty when sampling fails: the page still renders).
#[cfg(feature = "ssr")]
pub async fn fill_resources(st: &backend::AppState, list: &mut [ProcessInfo], selector: supervisor::Selector) {
    match st.supervisor.resources(selector).await {
        Ok(samples) => {
            for p in list.iter_mut() {
                if let Some(s) = samples.iter().find(|s| s.name == p.name) {
                    p.cpu_percent = Some(s.cpu_percent);
                    p.memory_bytes = Some(s.rss_bytes);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "sampling CPU and memory failed"),
    }
}
