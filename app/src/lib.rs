//! # provisr console
//!
//! The Leptos application: pages and components, the wire types shared with the server
//! (`model`), and the server functions (`server_fns`), which are thin adapters over the
//! `backend` crate. Built twice: with `ssr` into the server (rendering, server
//! functions), with `hydrate` into the WASM bundle (interactivity, live updates).

#![recursion_limit = "256"]

pub mod ansi;
pub mod components;
pub mod error;
pub mod live;
pub mod model;
pub mod pages;
pub mod server_fns;
pub mod spec_form;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};
use live::Live;

/// Server-side settings the console needs in the page (provided as context by the server).
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    /// Where the JSON API (and the live socket) is mounted, e.g. `/api`.
    pub api_base: String,
    /// What the Settings page shows (admins only).
    pub settings: model::ServerSettings,
}

/// The HTML document around the application (rendered on the server only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let api_base = use_context::<ConsoleConfig>().map_or_else(|| "/api".to_string(), |c| c.api_base);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="provisr-api-base" content=api_base />
                <link rel="icon" href="/favicon.ico" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: routes and the live state.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    Live::provide();
    // Runs only in the browser, once hydrated: tests and styles can rely on it.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "");
        }
    });
    view! {
        <Stylesheet id="provisr" href="/pkg/provisr.css" />
        <Title formatter=|t: String| if t.is_empty() { "provisr".to_string() } else { format!("{t} · provisr") } />
        <Router>
            <Routes fallback=|| view! { <main class="page"><h1>"Not found"</h1><a href="/">"Back to Processes"</a></main> }>
                <Route path=path!("/") view=pages::processes::ProcessesPage ssr=SsrMode::Async />
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async />
                <Route path=path!("/register") view=pages::register::RegisterPage ssr=SsrMode::Async />
                <Route path=path!("/processes/:name") view=pages::process_detail::ProcessDetailPage ssr=SsrMode::Async />
                <Route path=path!("/processes/:name/edit") view=pages::process_edit::EditPage ssr=SsrMode::Async />
                <Route path=path!("/processes/:name/unregister") view=pages::process_edit::UnregisterPage ssr=SsrMode::Async />
                <Route path=path!("/history") view=pages::history::HistoryPage ssr=SsrMode::Async />
                <Route path=path!("/users") view=pages::users::UsersPage ssr=SsrMode::Async />
                <Route path=path!("/clients") view=pages::clients::ClientsPage ssr=SsrMode::Async />
                <Route path=path!("/settings") view=pages::settings::SettingsPage ssr=SsrMode::Async />
                <Route path=path!("/jobs") view=pages::jobs::JobsPage ssr=SsrMode::Async />
                <Route path=path!("/jobs/:name") view=pages::jobs_detail::JobDetailPage ssr=SsrMode::Async />
                <Route path=path!("/jobs/:name/delete") view=pages::jobs::DeleteJobPage ssr=SsrMode::Async />
                <Route path=path!("/cronjobs") view=pages::cronjobs::CronJobsPage ssr=SsrMode::Async />
                <Route path=path!("/cronjobs/:name") view=pages::cronjobs_detail::CronJobDetailPage ssr=SsrMode::Async />
                <Route path=path!("/cronjobs/:name/delete") view=pages::cronjobs::DeleteCronJobPage ssr=SsrMode::Async />
                <Route path=path!("/groups") view=pages::groups::GroupsPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
