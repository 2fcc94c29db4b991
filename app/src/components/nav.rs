//! The navigation bar: pages, the signed-in user, "Sign out".

use crate::error::AppError;
use crate::live::Live;
use crate::model::Me;
use crate::server_fns::auth::Logout;
use leptos::prelude::*;
use leptos_router::components::A;

/// The pages of the console as `(path, link text, admin only)`, in menu order.
pub const PAGES: [(&str, &str, bool); 8] = [
    ("/", "Processes", false),
    ("/jobs", "Jobs", false),
    ("/cronjobs", "CronJobs", false),
    ("/groups", "Groups", false),
    ("/history", "History", false),
    ("/users", "Users", true),
    ("/clients", "API clients", true),
    ("/settings", "Settings", true),
];

/// The top navigation. Admin-only pages are listed for admins only (and refused
/// server-side for everyone else).
#[component]
pub fn Nav(me: Resource<Result<Me, AppError>>) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let live = expect_context::<Live>();
    view! {
        <header class="topbar">
            <span class="brand">"provisr"</span>
            <Suspense fallback=|| view! { <nav aria-label="Main"><A href="/">"Processes"</A></nav> }>
                {move || Suspend::new(async move {
                    let admin = me.await.map(|m| m.is_admin).unwrap_or(false);
                    view! {
                        <nav aria-label="Main">
                            {PAGES
                                .iter()
                                .filter(|(_, _, only_admin)| admin || !only_admin)
                                .map(|(href, text, _)| view! { <A href=*href exact={*href == "/"}>{*text}</A> })
                                .collect_view()}
                        </nav>
                    }
                })}
            </Suspense>
            <span class="spacer"></span>
            <span
                class="live"
                class:on=move || live.connected.get()
                title=move || if live.connected.get() { "Live updates connected" } else { "Live updates disconnected" }
            ></span>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    me.await.ok().map(|m| view! { <span class="user">{m.name}</span> })
                })}
            </Suspense>
            <ActionForm action=logout attr:class="inline">
                <button type="submit" class="secondary">"Sign out"</button>
            </ActionForm>
        </header>
    }
}
