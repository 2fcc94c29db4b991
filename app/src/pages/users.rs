//! `/users` — console users (admin only): the list and "Create user".

use crate::components::page::Page;
use crate::server_fns::users::{list_users, CreateUser};
use leptos::prelude::*;

/// The Users page.
#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <Page title="Users".to_string() admin=true>
            <UsersContent />
        </Page>
    }
}

#[component]
fn UsersContent() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let users = Resource::new(move || create.version().get(), |_| list_users());
    let error = Signal::derive(move || create.value().get().and_then(Result::err));
    let field = move |k: &'static str| {
        move || error.get().and_then(|e| e.field(k)).map(|m| view! { <p class="field-error">{m}</p> })
    };
    let general = move || error.get().and_then(|e| e.general(&["username", "password", "email", "roles"]));
    view! {
        {move || match create.value().get() {
            Some(Ok(name)) => Some(view! { <p role="status" class="ok">{format!("User {name} created.")}</p> }),
            _ => None,
        }}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(list) => view! {
                        <table class="plain">
                            <thead><tr><th scope="col">"Username"</th><th scope="col">"Email"</th><th scope="col">"Roles"</th><th scope="col">"Active"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|u| view! {
                                    <tr>
                                        <td class="name">{u.username}</td>
                                        <td>{u.email.unwrap_or_default()}</td>
                                        <td>{u.roles.join(", ")}</td>
                                        <td>{if u.active { "yes" } else { "no" }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
        <h2>"Create user"</h2>
        <ActionForm action=create attr:class="card narrow" attr:aria-label="Create user">
            {move || general().map(|e| view! { <p role="alert" class="error">{e}</p> })}
            <div class="field"><label for="u-username">"Username"</label><input id="u-username" type="text" name="username" required autocomplete="off" />{field("username")}</div>
            <div class="field"><label for="u-password">"Password"</label><input id="u-password" type="password" name="password" required autocomplete="new-password" />{field("password")}</div>
            <div class="field"><label for="u-email">"Email"</label><input id="u-email" type="email" name="email" autocomplete="off" />{field("email")}</div>
            <div class="field">
                <label for="u-roles">"Roles"</label>
                <input id="u-roles" type="text" name="roles" placeholder="admin, operator, viewer" value="viewer" required />
                {field("roles")}
            </div>
            <button type="submit" disabled=move || create.pending().get()>"Create user"</button>
        </ActionForm>
    }
}
