//! `/settings` (admin only). A skeleton: the signed-in admin and where settings come
//! from; editable settings plug in here.

use crate::components::page::{use_me, Page};
use leptos::prelude::*;

/// The Settings page.
#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Page title="Settings".to_string() admin=true>
            <SettingsContent />
        </Page>
    }
}

#[component]
fn SettingsContent() -> impl IntoView {
    let me = use_me();
    view! {
        <dl class="spec">
            <dt>"Signed in as"</dt><dd>{me.name}</dd>
            <dt>"Roles"</dt><dd>{me.roles.join(", ")}</dd>
        </dl>
        <p class="empty">"Server settings are read from the config file; nothing is editable here yet."</p>
    }
}
