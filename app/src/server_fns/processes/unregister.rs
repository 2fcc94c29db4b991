use crate::error::AppError;
use leptos::prelude::*;

/// Stops and removes every instance of the spec `name` (a config-file process is
/// refused: it is read-only here). Goes back to the Processes page.
#[server(prefix = "/rpc", endpoint = "processes/unregister")]
pub async fn unregister_process(name: String) -> Result<(), AppError> {
    use super::super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    backend::ops::processes::unregister(&st, &who, supervisor::Selector::Base(name), None).await?;
    leptos_axum::redirect("/");
    Ok(())
}
