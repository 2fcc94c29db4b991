//! `/history` — persisted process events, newest first, with paging and a name filter.
//! Works without JavaScript: the filter and "Older" are plain GET links/forms
//! (`?name=…&before=…`).

use crate::components::page::Page;
use crate::components::timeline::Timeline;
use crate::server_fns::processes::process_history;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Events per page.
const PER_PAGE: u64 = 50;

/// The History page.
#[component]
pub fn HistoryPage() -> impl IntoView {
    view! {
        <Page title="History".to_string()>
            <HistoryContent />
        </Page>
    }
}

#[component]
fn HistoryContent() -> impl IntoView {
    let query = use_query_map();
    let params = move || {
        query.with(|q| (q.get("name").filter(|n| !n.is_empty()), q.get("before").and_then(|b| b.parse::<i64>().ok())))
    };
    let page = Resource::new(params, |(name, before)| process_history(None, name, before, Some(PER_PAGE)));
    view! {
        <form method="get" action="/history" role="search" class="toolbar filter">
            <label for="history-name">"Filter"</label>
            <input id="history-name" type="search" name="name" placeholder="process name" value=move || params().0.unwrap_or_default() />
            <button type="submit" class="secondary">"Apply"</button>
        </form>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => {
                        let (name, before) = params();
                        let q = |b: Option<i64>| {
                            let mut parts = Vec::new();
                            if let Some(n) = &name {
                                parts.push(format!("name={}", urlencode(n)));
                            }
                            if let Some(b) = b {
                                parts.push(format!("before={b}"));
                            }
                            if parts.is_empty() { "/history".to_string() } else { format!("/history?{}", parts.join("&")) }
                        };
                        let newest = before.is_some().then(|| view! { <a href=q(None)>"Newest"</a> });
                        let older = p.next_before.map(|b| view! { <a href=q(Some(b))>"Older"</a> });
                        view! {
                            <Timeline events=p.events show_name=true />
                            <nav class="pager" aria-label="Pages">{newest} " " {older}</nav>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Percent-encodes a query value (names are `[A-Za-z0-9._-]`, but the filter is free text).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn urlencode() {
        assert_eq!(super::urlencode("web-1"), "web-1");
        assert_eq!(super::urlencode("a b&c"), "a%20b%26c");
    }
}
