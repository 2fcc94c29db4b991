//! `/` — the Processes page.

use crate::components::page::{use_me, Page};
use crate::components::process_table::ProcessTable;
use crate::server_fns::processes::list_processes;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Every process, live, with a filter and (for operators) the controls.
#[component]
pub fn ProcessesPage() -> impl IntoView {
    view! {
        <Page title="Processes".to_string()>
            <ProcessesContent />
        </Page>
    }
}

#[component]
fn ProcessesContent() -> impl IntoView {
    let me = use_me();
    crate::components::resources::Resources::provide(None);
    let initial = Resource::new(|| (), |_| list_processes());
    let query = use_query_map();
    // Without JS the filter is a GET form (`?q=`); with JS it filters as you type.
    let filter = RwSignal::new(query.with_untracked(|q| q.get("q").unwrap_or_default()));
    view! {
        <div class="toolbar">
            <form method="get" action="/" role="search" class="filter" on:submit=|ev| ev.prevent_default()>
                <label for="filter">"Filter"</label>
                <input
                    id="filter"
                    type="search"
                    name="q"
                    placeholder="name or state"
                    value=filter.get_untracked()
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
            </form>
            <span class="spacer"></span>
            {me.can_operate.then(|| view! { <a class="button" href="/register">"Register process"</a> })}
        </div>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match initial.await {
                    Ok((_, list)) => view! { <ProcessTable initial=list filter can_operate=me.can_operate /> }.into_any(),
                    Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
