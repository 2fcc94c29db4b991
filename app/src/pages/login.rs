//! `/login`

use crate::server_fns::auth::Login;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The sign-in page. The form posts to the `login` server function; without the WASM
/// it is a plain form post and a failure comes back as `?error=invalid`.
#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let query = use_query_map();
    let error = move || match action.value().get() {
        Some(Err(e)) => Some(e.to_string()),
        Some(Ok(())) => None,
        None => {
            query.with(|q| q.get("error").is_some()).then(|| crate::error::AppError::InvalidCredentials.to_string())
        }
    };
    view! {
        <Title text="Sign in" />
        <main class="login">
            <h1>"provisr"</h1>
            <ActionForm action=action attr:class="card">
                <label>
                    "Username"
                    <input type="text" name="username" autocomplete="username" required autofocus />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required />
                </label>
                {move || error().map(|e| view! { <p role="alert" class="error">{e}</p> })}
                <button type="submit" disabled=move || action.pending().get()>"Sign in"</button>
            </ActionForm>
        </main>
    }
}
