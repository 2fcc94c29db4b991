//! `/` — the Processes page.

use crate::components::nav::Nav;
use crate::components::process_table::ProcessTable;
use crate::live::Live;
use crate::server_fns::processes::list_processes;
use leptos::prelude::*;
use leptos_meta::Title;

/// Every process, live.
#[component]
pub fn ProcessesPage() -> impl IntoView {
    let live = expect_context::<Live>();
    let initial = Resource::new(|| (), |_| list_processes());
    // Effects run only in the browser: this opens the live socket after hydration.
    Effect::new(move |_| live.connect());
    view! {
        <Title text="Processes" />
        <Nav />
        <main class="page">
            <h1>"Processes"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match initial.await {
                        Ok((_, list)) => view! { <ProcessTable initial=list /> }.into_any(),
                        Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}
