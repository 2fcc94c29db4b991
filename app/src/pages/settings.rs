//! `/settings` (admin only): the effective configuration that matters to an operator,
//! read-only. Secrets (the store URL's password, JWT secret, admin password) are never
//! shown: the server hands over a [`ServerSettings`] that holds none.

use crate::components::page::{use_me, Page};
use crate::model::ServerSettings;
use crate::server_fns::settings::get_settings;
use leptos::prelude::*;

/// The Settings page.
#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Page title="Settings".to_string() admin=true>
            <SettingsContent />
        </Page>
    }
}

fn on_off(b: bool) -> String {
    if b { "on" } else { "off" }.to_string()
}

/// The rows of the settings list, `(label, value)`.
pub fn settings_rows(s: &ServerSettings) -> Vec<(&'static str, String)> {
    let tls = if s.tls {
        let mut v = "on".to_string();
        if let Some(c) = &s.tls_certificate {
            v.push_str(&format!(" ({c})"));
        }
        v
    } else {
        "off".to_string()
    };
    let expiry = match (s.tls, s.tls_expires) {
        (false, _) => "–".to_string(),
        (true, None) => "unknown".to_string(),
        (true, Some(t)) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
    };
    let store = match &s.store_location {
        Some(l) => format!("{} ({l})", s.store),
        None => s.store.clone(),
    };
    let metrics = match (&s.metrics_listen, s.metrics) {
        (Some(l), true) => format!("on ({l})"),
        (_, m) => on_off(m),
    };
    vec![
        ("Listen address", s.listen.clone()),
        ("API base path", s.base_path.clone()),
        ("TLS", tls),
        ("Certificate expires", expiry),
        ("Authentication", on_off(s.auth)),
        ("Store", store),
        ("Log directory", s.log_dir.clone().unwrap_or_else(|| "none (memory only)".to_string())),
        ("Log rotation", s.log_rotation.clone()),
        ("Metrics", metrics),
    ]
}

#[component]
fn SettingsContent() -> impl IntoView {
    let me = use_me();
    let settings = Resource::new(|| (), |_| get_settings());
    view! {
        <p class="muted">{format!("Signed in as {} ({}).", me.name, me.roles.join(", "))}</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(s) => view! {
                        <dl class="spec settings">
                            {settings_rows(&s)
                                .into_iter()
                                .map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> })
                                .collect_view()}
                        </dl>
                        <p class="muted">"Read from the config file at startup; change it there and restart the daemon."</p>
                    }
                    .into_any(),
                    Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
