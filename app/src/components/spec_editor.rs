//! The fields of the "Register process" and edit forms, labelled like the spec keys,
//! with each server-side problem shown at its field. The form element itself (and so
//! the server function it posts to) belongs to the page.

use crate::error::AppError;
use crate::spec_form::{HookForm, SpecForm, FAILURE_MODES, HOOK_PHASES, RUN_MODES};
use leptos::prelude::*;

/// The spec keys with a field of their own (everything else is shown at the top).
const FIELD_KEYS: [&str; 12] = [
    "name",
    "command",
    "args",
    "work_dir",
    "instances",
    "priority",
    "auto_restart",
    "restart_interval",
    "start_duration",
    "stop_signal",
    "stop_timeout",
    "env",
];
const HOOK_FIELDS: [&str; 6] = ["phase", "name", "command", "failure_mode", "run_mode", "timeout"];

/// The spec fields, posted as `spec[<key>]` (and `spec[hooks][<i>][<key>]`).
#[component]
pub fn SpecFields(
    /// What the fields start with.
    initial: SpecForm,
    /// The last error of the form's action.
    error: Signal<Option<AppError>>,
    /// Editing: the name cannot change.
    #[prop(optional)]
    editing: bool,
) -> impl IntoView {
    let f = initial;
    // One empty row more than the spec has, so a hook can be added without JavaScript.
    let hook_rows = RwSignal::new(f.hooks.len() + 1);
    let hooks = f.hooks.clone();
    let general = move || {
        error.get().and_then(|e| {
            let rows = hook_rows.get();
            let mut known: Vec<String> = FIELD_KEYS.iter().map(|k| k.to_string()).collect();
            known.extend((0..rows).flat_map(|i| HOOK_FIELDS.iter().map(move |k| format!("hooks[{i}].{k}"))));
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            e.general(&known)
        })
    };
    view! {
        {move || general().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        <div class="grid">
            <Field key="name" label="Name" error>
                <input
                    id="f-name"
                    type="text"
                    name="spec[name]"
                    value=f.name.clone()
                    required
                    readonly=editing
                    autocomplete="off"
                    pattern="[A-Za-z0-9._-]+"
                />
            </Field>
            <Field key="command" label="Command" error wide=true>
                <input id="f-command" type="text" name="spec[command]" value=f.command.clone() required autocomplete="off" />
            </Field>
            <Field key="work_dir" label="Work dir" error>
                <input id="f-work_dir" type="text" name="spec[work_dir]" value=f.work_dir.clone() placeholder="/srv/app" />
            </Field>
            <Field key="instances" label="Instances" error>
                <input id="f-instances" type="number" min="1" name="spec[instances]" value=f.instances.clone() placeholder="1" />
            </Field>
            <Field key="priority" label="Priority" error>
                <input id="f-priority" type="number" name="spec[priority]" value=f.priority.clone() placeholder="0" />
            </Field>
            <div class="field check">
                <label>
                    <input type="checkbox" name="spec[auto_restart]" value="on" checked=f.auto_restart.is_some() />
                    " Auto restart"
                </label>
            </div>
            <Field key="restart_interval" label="Restart interval" error>
                <input id="f-restart_interval" type="text" name="spec[restart_interval]" value=f.restart_interval.clone() placeholder="1s" />
            </Field>
            <Field key="start_duration" label="Start duration" error>
                <input id="f-start_duration" type="text" name="spec[start_duration]" value=f.start_duration.clone() placeholder="0s" />
            </Field>
            <Field key="stop_signal" label="Stop signal" error>
                <input id="f-stop_signal" type="text" name="spec[stop_signal]" value=f.stop_signal.clone() placeholder="TERM" />
            </Field>
            <Field key="stop_timeout" label="Stop timeout" error>
                <input id="f-stop_timeout" type="text" name="spec[stop_timeout]" value=f.stop_timeout.clone() placeholder="10s" />
            </Field>
            <Field key="env" label="Env" error wide=true>
                <textarea id="f-env" name="spec[env]" rows="3" placeholder="KEY=VALUE, one per line">{f.env.clone()}</textarea>
            </Field>
        </div>
        <section class="hooks-editor" aria-labelledby="hooks-heading">
            <h2 id="hooks-heading">"Hooks"</h2>
            <For
                each=move || 0..hook_rows.get()
                key=|i| *i
                children=move |i| {
                    let h = hooks.get(i).cloned().unwrap_or_default();
                    view! { <HookFields i h error /> }
                }
            />
            <button type="button" class="secondary" on:click=move |_| hook_rows.update(|n| *n += 1)>"Add hook"</button>
        </section>
    }
}

#[component]
fn HookFields(i: usize, h: HookForm, error: Signal<Option<AppError>>) -> impl IntoView {
    let name = move |k: &str| format!("spec[hooks][{i}][{k}]");
    let key = move |k: &str| format!("hooks[{i}].{k}");
    let phases = options(HOOK_PHASES.to_vec(), &h.phase);
    let failures = options(FAILURE_MODES.iter().map(|m| (*m, *m)).collect(), &h.failure_mode);
    let runs = options(RUN_MODES.iter().map(|m| (*m, *m)).collect(), &h.run_mode);
    let id = move |k: &str| format!("h{i}-{k}");
    view! {
        <fieldset class="hook grid">
            <legend>{format!("Hook {}", i + 1)}</legend>
            <Field key=key("phase") label="Phase" error>
                <select id=id("phase") name=name("phase")>{phases}</select>
            </Field>
            <Field key=key("name") label="Hook name" error>
                <input id=id("name") type="text" name=name("name") value=h.name.clone() autocomplete="off" />
            </Field>
            <Field key=key("command") label="Hook command" error wide=true>
                <input id=id("command") type="text" name=name("command") value=h.command.clone() autocomplete="off" />
            </Field>
            <Field key=key("failure_mode") label="Failure mode" error>
                <select id=id("failure_mode") name=name("failure_mode")>{failures}</select>
            </Field>
            <Field key=key("run_mode") label="Run mode" error>
                <select id=id("run_mode") name=name("run_mode")>{runs}</select>
            </Field>
            <Field key=key("timeout") label="Timeout" error>
                <input id=id("timeout") type="text" name=name("timeout") value=h.timeout.clone() placeholder="30s" />
            </Field>
        </fieldset>
    }
}

/// `<option>`s of `(value, text)`, with `current` selected.
fn options(list: Vec<(&'static str, &'static str)>, current: &str) -> AnyView {
    list.into_iter()
        .map(|(value, text)| view! { <option value=value selected=current == value>{text}</option> })
        .collect_view()
        .into_any()
}

/// A labelled field with its error message (if the last answer had one for `key`).
/// The control inside must carry the id `f-<key>` (`h<i>-<key>` in hooks), which the
/// label points at.
#[component]
fn Field(
    #[prop(into)] key: String,
    label: &'static str,
    error: Signal<Option<AppError>>,
    #[prop(optional)] wide: bool,
    children: Children,
) -> impl IntoView {
    let for_id = match key.split_once("].") {
        Some((head, field)) => format!("h{}-{field}", head.trim_start_matches("hooks[")),
        None => format!("f-{key}"),
    };
    let err_id = format!("{for_id}-error");
    let k = key.clone();
    let message = Memo::new(move |_| error.get().and_then(|e| e.field(&k)));
    view! {
        <div class="field" class:wide=wide class:invalid=move || message.with(Option::is_some)>
            <label for=for_id>{label}</label>
            {children()}
            {move || message.get().map(|m| view! { <p class="field-error" id=err_id.clone()>{m}</p> })}
        </div>
    }
}
