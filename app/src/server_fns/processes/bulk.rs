use crate::error::AppError;
use leptos::prelude::*;
use std::collections::BTreeMap;

/// Starts, stops or restarts the selected instances (`action`: `start` | `stop` |
/// `restart`). The form posts one `selected[<name>]` checkbox per ticked row; the
/// action comes from the submit button pressed. Returns how many were acted on.
#[server(prefix = "/rpc", endpoint = "processes/bulk")]
pub async fn bulk_action(action: String, selected: Option<BTreeMap<String, String>>) -> Result<usize, AppError> {
    use super::super::ssr::{principal, state};
    use backend::ops::processes as ops;
    use supervisor::Selector;
    let (st, who) = (state()?, principal().await?);
    let names: Vec<String> = selected.unwrap_or_default().into_keys().collect();
    if names.is_empty() {
        return Err(AppError::Invalid("Select at least one process.".into()));
    }
    if !matches!(action.as_str(), "start" | "stop" | "restart") {
        return Err(AppError::Invalid(format!("unknown action {action:?}")));
    }
    let mut failed = Vec::new();
    for name in &names {
        let sel = Selector::Name(name.clone());
        let outcome = match action.as_str() {
            "start" => ops::start(&st, &who, sel).await.map(|a| a.failed),
            "restart" => ops::restart(&st, &who, sel).await.map(|a| a.failed),
            _ => ops::stop(&st, &who, sel, None).await.map(|_| Vec::new()),
        };
        match outcome {
            Ok(list) => failed.extend(list.into_iter().map(|(n, why)| format!("{n}: {why}"))),
            Err(backend::OpError::NotFound(m)) => failed.push(m),
            Err(e) => return Err(e.into()),
        }
    }
    if failed.is_empty() {
        Ok(names.len())
    } else {
        Err(AppError::Invalid(format!("Some processes could not be changed: {}", failed.join("; "))))
    }
}
