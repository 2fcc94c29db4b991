use crate::error::AppError;
use leptos::prelude::*;

/// Starts one process instance.
#[server(prefix = "/rpc", endpoint = "processes/start")]
pub async fn start_process(name: String) -> Result<(), AppError> {
    use super::super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let ack = backend::ops::processes::start(&st, &who, supervisor::Selector::Name(name)).await?;
    match ack.failed.first() {
        Some((name, why)) => Err(AppError::Invalid(format!("{name} could not be started: {why}"))),
        None => Ok(()),
    }
}
