//! `/clients` — API clients (admin only): the list and "Create client"; a new
//! client's secret is shown once.

use crate::components::page::Page;
use crate::server_fns::users::{list_clients, CreateClient};
use leptos::prelude::*;

/// The API clients page.
#[component]
pub fn ClientsPage() -> impl IntoView {
    view! {
        <Page title="API clients".to_string() admin=true>
            <ClientsContent />
        </Page>
    }
}

#[component]
fn ClientsContent() -> impl IntoView {
    let create = ServerAction::<CreateClient>::new();
    let clients = Resource::new(move || create.version().get(), |_| list_clients());
    let error = Signal::derive(move || create.value().get().and_then(Result::err));
    let field = move |k: &'static str| {
        move || error.get().and_then(|e| e.field(k)).map(|m| view! { <p class="field-error">{m}</p> })
    };
    let general = move || error.get().and_then(|e| e.general(&["name", "scopes"]));
    view! {
        {move || match create.value().get() {
            Some(Ok(c)) => Some(view! {
                <div role="status" class="ok secret">
                    <p>{format!("Client {} created. Copy the secret now: it is not shown again.", c.client.name)}</p>
                    <dl>
                        <dt>"Client ID"</dt><dd class="mono">{c.client.client_id}</dd>
                        <dt>"Client secret"</dt><dd class="mono">{c.client_secret}</dd>
                    </dl>
                </div>
            }),
            _ => None,
        }}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match clients.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No API clients yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="plain">
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Client ID"</th><th scope="col">"Scopes"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|c| view! {
                                    <tr><td>{c.name}</td><td class="mono">{c.client_id}</td><td>{c.scopes.join(", ")}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
        <h2>"Create client"</h2>
        <ActionForm action=create attr:class="card narrow" attr:aria-label="Create client">
            {move || general().map(|e| view! { <p role="alert" class="error">{e}</p> })}
            <div class="field"><label for="c-name">"Name"</label><input id="c-name" type="text" name="name" required autocomplete="off" />{field("name")}</div>
            <div class="field">
                <label for="c-scopes">"Scopes"</label>
                <input id="c-scopes" type="text" name="scopes" placeholder="admin, operator, viewer" value="viewer" required />
                {field("scopes")}
            </div>
            <button type="submit" disabled=move || create.pending().get()>"Create client"</button>
        </ActionForm>
    }
}
