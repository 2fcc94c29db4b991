//! `/processes/:name/edit` and `/processes/:name/unregister` (the confirmation page
//! used without JavaScript; the hydrated Processes page uses a dialog instead).

use crate::components::page::Page;
use crate::components::process_table::UnregisterConfirm;
use crate::components::spec_editor::SpecFields;
use crate::model::READ_ONLY_REASON;
use crate::server_fns::processes::{process_detail, UnregisterProcess, UpdateProcess};
use crate::spec_form::SpecForm;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

fn param_name() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.with(|p| p.get("name").unwrap_or_default()))
}

/// Edits an API-registered process, pre-filled with its current spec.
#[component]
pub fn EditPage() -> impl IntoView {
    let name = param_name();
    view! {
        <Page title="Edit process".to_string()>
            <EditForm name=name.get_untracked() />
        </Page>
    }
}

#[component]
fn EditForm(name: String) -> impl IntoView {
    let detail = Resource::new(move || name.clone(), process_detail);
    let action = ServerAction::<UpdateProcess>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                    Ok(d) if d.read_only => {
                        view! {
                            <p role="alert" class="error">{format!("{}: {READ_ONLY_REASON}.", d.base)}</p>
                        }
                            .into_any()
                    }
                    Ok(d) => {
                        let back = format!("/processes/{}", d.base);
                        view! {
                            <ActionForm action attr:class="card spec-form" attr:aria-label="Edit process">
                                <input type="hidden" name="original" value=d.base.clone() />
                                <SpecFields initial=SpecForm::from_json(&d.spec) error editing=true />
                                <div class="form-actions">
                                    <button type="submit" disabled=move || action.pending().get()>"Save"</button>
                                    <a class="button secondary" href=back>"Cancel"</a>
                                </div>
                            </ActionForm>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// Asks for confirmation before unregistering (works without JavaScript).
#[component]
pub fn UnregisterPage() -> impl IntoView {
    let name = param_name();
    view! {
        <Page title="Unregister process".to_string()>
            <UnregisterContent name=name.get_untracked() />
        </Page>
    }
}

#[component]
fn UnregisterContent(name: String) -> impl IntoView {
    let action = ServerAction::<UnregisterProcess>::new();
    let error = move || action.value().get().and_then(Result::err).map(|e| e.to_string());
    view! {
        {move || error().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        <div class="card confirm">
            <UnregisterConfirm name action cancel=view! { <a class="button secondary" href="/">"Cancel"</a> }.into_any() />
        </div>
    }
}
