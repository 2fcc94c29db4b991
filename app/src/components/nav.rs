//! The navigation bar: pages, the signed-in user, "Sign out".

use crate::live::Live;
use crate::server_fns::auth::{current_user, Logout};
use leptos::prelude::*;
use leptos_router::components::A;

/// The top navigation.
#[component]
pub fn Nav() -> impl IntoView {
    let who = Resource::new(|| (), |_| current_user());
    let logout = ServerAction::<Logout>::new();
    let live = expect_context::<Live>();
    view! {
        <header class="topbar">
            <span class="brand">"provisr"</span>
            <nav aria-label="Main">
                <A href="/">"Processes"</A>
            </nav>
            <span class="spacer"></span>
            <span
                class="live"
                class:on=move || live.connected.get()
                title=move || if live.connected.get() { "Live updates connected" } else { "Live updates disconnected" }
            ></span>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    who.await.ok().map(|m| view! { <span class="user">{m.name}</span> })
                })}
            </Suspense>
            <ActionForm action=logout attr:class="inline">
                <button type="submit" class="secondary">"Sign out"</button>
            </ActionForm>
        </header>
    }
}
