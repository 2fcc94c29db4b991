use crate::error::AppError;
use leptos::prelude::*;

/// Stops one process instance and waits until it has stopped.
#[server(prefix = "/rpc", endpoint = "processes/stop")]
pub async fn stop_process(name: String) -> Result<(), AppError> {
    use super::super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    backend::ops::processes::stop(&st, &who, supervisor::Selector::Name(name), None).await?;
    Ok(())
}
