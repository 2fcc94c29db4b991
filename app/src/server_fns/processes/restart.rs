use crate::error::AppError;
use leptos::prelude::*;

/// Restarts one process instance (stop, then start).
#[server(prefix = "/rpc", endpoint = "processes/restart")]
pub async fn restart_process(name: String) -> Result<(), AppError> {
    use super::super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let ack = backend::ops::processes::restart(&st, &who, supervisor::Selector::Name(name)).await?;
    match ack.failed.first() {
        Some((name, why)) => Err(AppError::Invalid(format!("{name} could not be restarted: {why}"))),
        None => Ok(()),
    }
}
