//! A process's history as a timeline: starts, exits with code or signal, and what
//! the supervisor decided.

use crate::model::{describe_event, HistoryEvent};
use leptos::prelude::*;

/// The events, newest first.
#[component]
pub fn Timeline(
    /// The events to show.
    events: Vec<HistoryEvent>,
    /// Show the instance name on each entry (several instances, or all processes).
    #[prop(optional)]
    show_name: bool,
) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="empty">"No events recorded yet."</p> }.into_any();
    }
    view! {
        <ol class="timeline">
            {events
                .into_iter()
                .map(|e| {
                    let text = describe_event(&e);
                    let when = e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
                    let bad = matches!(e.kind.as_str(), "spawn_failed" | "killed")
                        || (e.kind == "exited" && (e.exit_code.is_some_and(|c| c != 0)));
                    view! {
                        <li class=format!("event kind-{}", e.kind) class:bad=bad data-kind=e.kind.clone()>
                            <time datetime=e.at.to_rfc3339()>{when}</time>
                            {show_name.then(|| view! { <a class="name" href=format!("/processes/{}", e.name)>{e.name.clone()}</a> })}
                            <span class="what">{text}</span>
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
    .into_any()
}
