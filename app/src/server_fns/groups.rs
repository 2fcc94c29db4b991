//! Groups (`[[groups]]` of the config): list with state, start, stop — over
//! `backend::ops::groups`, the same functions the JSON API calls.

use crate::error::AppError;
use crate::model::GroupInfo;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn group_info(g: backend::ops::groups::GroupStatus) -> GroupInfo {
    use crate::model::{GroupMember, ProcessInfo};
    use backend::ops::groups::GroupState;
    let word = |s: GroupState| match s {
        GroupState::Running => "running",
        GroupState::Degraded => "degraded",
        GroupState::Stopped => "stopped",
    };
    GroupInfo {
        name: g.name,
        state: word(g.state).to_string(),
        members: g
            .members
            .into_iter()
            .map(|m| GroupMember {
                name: m.name,
                state: word(m.state).to_string(),
                registered: m.registered,
                instances: m.instances.iter().map(ProcessInfo::from).collect(),
            })
            .collect(),
    }
}

/// Every configured group with its members and their instances, in config order.
#[server(prefix = "/rpc", endpoint = "groups/list")]
pub async fn list_groups() -> Result<Vec<GroupInfo>, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    Ok(backend::ops::groups::list(&st, &who).await?.into_iter().map(group_info).collect())
}

/// Starts every member of the group `name` in priority order.
#[server(prefix = "/rpc", endpoint = "groups/start")]
pub async fn start_group(name: String) -> Result<(), AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let ack = backend::ops::groups::start(&st, &who, &name).await?;
    match ack.failed.first() {
        Some((n, why)) => Err(AppError::Invalid(format!("{n} could not be started: {why}"))),
        None => Ok(()),
    }
}

/// Stops every member of the group `name` in reverse priority order and waits until
/// they have stopped.
#[server(prefix = "/rpc", endpoint = "groups/stop")]
pub async fn stop_group(name: String) -> Result<(), AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    backend::ops::groups::stop(&st, &who, &name, None).await?;
    Ok(())
}
