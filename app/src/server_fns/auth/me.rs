use crate::error::AppError;
use crate::model::Me;
use leptos::prelude::*;

/// The signed-in user.
#[server(prefix = "/rpc", endpoint = "me")]
pub async fn current_user() -> Result<Me, AppError> {
    use backend::auth::Permission;
    let p = super::super::ssr::principal().await?;
    Ok(Me {
        name: p.name.clone(),
        roles: p.roles.iter().map(|r| r.to_string()).collect(),
        can_operate: p.can(Permission::Operate),
        is_admin: p.can(Permission::Admin),
    })
}
