use crate::error::AppError;
use crate::model::ProcessInfo;
use leptos::prelude::*;

/// Every process instance with the sequence number it reflects.
#[server(prefix = "/rpc", endpoint = "processes/list")]
pub async fn list_processes() -> Result<(u64, Vec<ProcessInfo>), AppError> {
    use super::super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let snap = backend::ops::processes::snapshot(&st, &who).await?;
    Ok((snap.seq, snap.processes.iter().map(ProcessInfo::from).collect()))
}
