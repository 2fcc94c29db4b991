//! `/register` — the "Register process" form.

use crate::components::page::Page;
use crate::components::spec_editor::SpecFields;
use crate::server_fns::processes::RegisterProcess;
use crate::spec_form::SpecForm;
use leptos::prelude::*;

/// Registers a process through the `register_process` server function; success goes
/// to the new process's page, problems show at their fields.
#[component]
pub fn RegisterPage() -> impl IntoView {
    view! {
        <Page title="Register process".to_string()>
            <RegisterForm />
        </Page>
    }
}

#[component]
fn RegisterForm() -> impl IntoView {
    let action = ServerAction::<RegisterProcess>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    view! {
        <ActionForm action attr:class="card spec-form" attr:aria-label="Register process">
            <SpecFields initial=SpecForm { instances: "1".into(), ..SpecForm::default() } error />
            <div class="form-actions">
                <button type="submit" disabled=move || action.pending().get()>"Register"</button>
                <a class="button secondary" href="/">"Cancel"</a>
            </div>
        </ActionForm>
    }
}
