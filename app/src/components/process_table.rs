//! The processes table: one row per instance, live, with a filter, per-row controls,
//! a selection with bulk actions, and the unregister confirmation.
//!
//! Every control is a form that works before the WASM has loaded: row buttons post to
//! their server function, row checkboxes belong to the bulk form (`form="bulk"`), and
//! "Unregister" is a link to a confirmation page that the hydrated page replaces with
//! an in-page dialog.

use crate::error::AppError;
use crate::live::Live;
use crate::model::{format_bytes, format_cpu, format_uptime, ProcessInfo, READ_ONLY_REASON};
use crate::server_fns::processes::{BulkAction, RestartProcess, StartProcess, StopProcess, UnregisterProcess};
use leptos::prelude::*;
use std::collections::BTreeSet;

/// Whether `p` matches the filter text (name, spec name or state; case-insensitive;
/// every whitespace-separated word must match).
pub fn matches_filter(p: &ProcessInfo, filter: &str) -> bool {
    filter.split_whitespace().all(|word| {
        let w = word.to_lowercase();
        p.name.to_lowercase().contains(&w) || p.base.to_lowercase().contains(&w) || p.state == w
    })
}

/// The actions of a table: shared by the rows so one error line serves them all.
#[derive(Clone, Copy)]
struct Actions {
    start: ServerAction<StartProcess>,
    stop: ServerAction<StopProcess>,
    restart: ServerAction<RestartProcess>,
    /// The spec whose unregistration is being confirmed in the dialog.
    confirm: RwSignal<Option<String>>,
    selected: RwSignal<BTreeSet<String>>,
    can_operate: bool,
}

/// The table of processes. Rows come from the live socket once it has delivered a
/// snapshot, and from `initial` (what the server rendered) until then.
#[component]
pub fn ProcessTable(
    /// The list the server rendered.
    initial: Vec<ProcessInfo>,
    /// The filter text.
    filter: RwSignal<String>,
    /// Show controls (start/stop/…): the user may operate.
    can_operate: bool,
) -> impl IntoView {
    let live = expect_context::<Live>();
    let actions = Actions {
        start: ServerAction::<StartProcess>::new(),
        stop: ServerAction::<StopProcess>::new(),
        restart: ServerAction::<RestartProcess>::new(),
        confirm: RwSignal::new(None),
        selected: RwSignal::new(BTreeSet::new()),
        can_operate,
    };
    let bulk = ServerAction::<BulkAction>::new();
    let unregister = ServerAction::<UnregisterProcess>::new();
    let all = Memo::new(move |_| match live.processes.get() {
        Some(table) => table.into_values().collect::<Vec<_>>(),
        None => initial.clone(),
    });
    let rows = Memo::new(move |_| {
        let f = filter.get();
        all.get().into_iter().filter(|p| matches_filter(p, &f)).collect::<Vec<_>>()
    });
    // After a bulk action the selection has done its job.
    Effect::new(move |_| {
        if let Some(Ok(_)) = bulk.value().get() {
            actions.selected.set(BTreeSet::new());
        }
    });
    let error = move || {
        fn err<T>(r: Option<Result<T, AppError>>) -> Option<String> {
            r.and_then(Result::err).map(|e| e.to_string())
        }
        err(actions.start.value().get())
            .or_else(|| err(actions.stop.value().get()))
            .or_else(|| err(actions.restart.value().get()))
            .or_else(|| err(bulk.value().get()))
            .or_else(|| err(unregister.value().get()))
    };
    view! {
        {move || error().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        <Show when=move || can_operate>
            <ActionForm action=bulk attr:id="bulk" attr:class="bulk" attr:aria-label="Selected processes">
                <span class="muted">
                    {move || match actions.selected.with(BTreeSet::len) {
                        0 => "Select rows for:".to_string(),
                        n => format!("{n} selected:"),
                    }}
                </span>
                <button type="submit" name="action" value="start" class="secondary">"Start selected"</button>
                <button type="submit" name="action" value="stop" class="secondary">"Stop selected"</button>
                <button type="submit" name="action" value="restart" class="secondary">"Restart selected"</button>
            </ActionForm>
        </Show>
        <table class="processes">
            <thead>
                <tr>
                    {can_operate.then(|| view! { <th scope="col"><span class="visually-hidden">"Select"</span></th> })}
                    <th scope="col">"Name"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"PID"</th>
                    <th scope="col">"Uptime"</th>
                    <th scope="col">"Restarts"</th>
                    <th scope="col">"CPU"</th>
                    <th scope="col">"Memory"</th>
                    {can_operate.then(|| view! { <th scope="col">"Actions"</th> })}
                </tr>
            </thead>
            <tbody>
                <For
                    each=move || rows.get()
                    key=|p| {
                        (
                            p.name.clone(),
                            p.state.clone(),
                            p.pid,
                            p.restarts,
                            p.started_at,
                            p.cpu_percent.map(f64::to_bits),
                            p.memory_bytes,
                        )
                    }
                    children=move |p| view! { <ProcessRow p actions /> }
                />
            </tbody>
        </table>
        <Show when=move || rows.with(Vec::is_empty)>
            <p class="empty">
                {move || {
                    if all.with(Vec::is_empty) {
                        "No processes yet."
                    } else {
                        "No process matches the filter."
                    }
                }}
            </p>
        </Show>
        {move || {
            actions
                .confirm
                .get()
                .map(|name| view! { <UnregisterDialog name action=unregister on_close=move || actions.confirm.set(None) /> })
        }}
    }
}

#[component]
fn ProcessRow(p: ProcessInfo, actions: Actions) -> impl IntoView {
    let live = expect_context::<Live>();
    let alive = matches!(p.state.as_str(), "running" | "starting" | "stopping");
    let stoppable = !matches!(p.state.as_str(), "stopped" | "exited" | "fatal");
    let since = p.started_at.filter(|_| alive);
    let uptime = move || since.map(|t| format_uptime((live.now.get() - t).num_seconds())).unwrap_or_default();
    let detail = match (&p.reason, p.exit_code, p.exit_signal) {
        (Some(r), _, _) => Some(r.clone()),
        (None, Some(c), _) if p.state == "exited" => Some(format!("exit code {c}")),
        (None, _, Some(s)) if p.state == "exited" => Some(format!("signal {s}")),
        _ => None,
    };
    let name = p.name.clone();
    // The page's poller has the newest sample; until its first round, what the server sent.
    let res = crate::components::resources::use_resources();
    let (n, first) = (p.name.clone(), p.cpu_percent.zip(p.memory_bytes));
    let cpu_mem = Memo::new(move |_| match res {
        Some(r) if alive => r.of(&n).or_else(|| r.latest.with(|l| l.is_empty()).then_some(first).flatten()),
        _ => first.filter(|_| alive),
    });
    let href = format!("/processes/{}", p.name);
    let select = actions.can_operate.then(|| {
        let (n1, n2) = (name.clone(), name.clone());
        view! {
            <td class="select">
                <input
                    type="checkbox"
                    form="bulk"
                    name=format!("selected[{name}]")
                    value="on"
                    aria-label=format!("Select {name}")
                    prop:checked=move || actions.selected.with(|s| s.contains(&n1))
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        actions.selected.update(|s| {
                            if on {
                                s.insert(n2.clone());
                            } else {
                                s.remove(&n2);
                            }
                        });
                    }
                />
            </td>
        }
    });
    let controls = actions.can_operate.then(|| view! { <RowControls p=p.clone() alive stoppable actions /> });
    view! {
        <tr data-name=p.name.clone()>
            {select}
            <td class="name"><a href=href>{p.name.clone()}</a></td>
            <td>
                <span class=format!("state state-{}", p.state)>{p.state.clone()}</span>
                {detail.map(|d| view! { <span class="detail">{d}</span> })}
            </td>
            <td class="num">{p.pid.map(|pid| pid.to_string()).unwrap_or_default()}</td>
            <td class="num">{uptime}</td>
            <td class="num">{p.restarts}</td>
            <td class="num cpu">{move || cpu_mem.get().map_or_else(|| "–".to_string(), |(c, _)| format_cpu(c))}</td>
            <td class="num mem">{move || cpu_mem.get().map_or_else(|| "–".to_string(), |(_, m)| format_bytes(m))}</td>
            {controls}
        </tr>
    }
}

#[component]
fn RowControls(p: ProcessInfo, alive: bool, stoppable: bool, actions: Actions) -> impl IntoView {
    let base = p.base.clone();
    let edit_href = format!("/processes/{base}/edit");
    let unregister_href = format!("/processes/{base}/unregister");
    let reason_id = format!("ro-{}", p.name);
    let (n_start, n_stop, n_restart) = (p.name.clone(), p.name.clone(), p.name.clone());
    let spec_controls = if p.provisioned {
        view! {
            <button type="button" disabled aria-describedby=reason_id.clone()>"Edit"</button>
            <button type="button" disabled aria-describedby=reason_id.clone()>"Unregister"</button>
            <span class="detail readonly" id=reason_id>{READ_ONLY_REASON}</span>
        }
        .into_any()
    } else {
        view! {
            <a class="button secondary" href=edit_href>"Edit"</a>
            <a
                class="button danger"
                href=unregister_href
                on:click=move |ev| {
                    ev.prevent_default();
                    actions.confirm.set(Some(base.clone()));
                }
            >
                "Unregister"
            </a>
        }
        .into_any()
    };
    view! {
        <td class="actions">
            <ActionForm action=actions.start attr:class="inline">
                <input type="hidden" name="name" value=n_start />
                <button type="submit" disabled=alive>"Start"</button>
            </ActionForm>
            <ActionForm action=actions.stop attr:class="inline">
                <input type="hidden" name="name" value=n_stop />
                <button type="submit" disabled=!stoppable>"Stop"</button>
            </ActionForm>
            <ActionForm action=actions.restart attr:class="inline">
                <input type="hidden" name="name" value=n_restart />
                <button type="submit">"Restart"</button>
            </ActionForm>
            {spec_controls}
        </td>
    }
}

/// The confirmation form for unregistering `name` (the dialog's and the no-JS
/// confirmation page's content).
#[component]
pub fn UnregisterConfirm(
    /// The spec to remove.
    name: String,
    /// The server action.
    action: ServerAction<UnregisterProcess>,
    /// What "Cancel" does: a link back (no JS) or closing the dialog.
    cancel: AnyView,
) -> impl IntoView {
    view! {
        <p id="unregister-question">
            "Unregister " <strong>{name.clone()}</strong> "? Its instances are stopped and it is removed."
        </p>
        <ActionForm action attr:class="inline">
            <input type="hidden" name="name" value=name />
            <button type="submit" class="danger" disabled=move || action.pending().get()>"Unregister"</button>
        </ActionForm>
        " "
        {cancel}
    }
}

#[component]
fn UnregisterDialog(
    name: String,
    action: ServerAction<UnregisterProcess>,
    on_close: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    // Close once the removal went through.
    let close = on_close.clone();
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            close();
        }
    });
    // Focus starts on "Cancel" (the safe choice); Escape closes the dialog.
    let cancel_ref = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(button) = cancel_ref.get() {
            let _ = button.focus();
        }
    });
    let close = on_close.clone();
    let cancel = view! {
        <button type="button" class="secondary" node_ref=cancel_ref on:click=move |_| close()>
            "Cancel"
        </button>
    }
    .into_any();
    view! {
        <div
            class="backdrop"
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    on_close();
                }
            }
        >
            <div role="dialog" aria-modal="true" aria-labelledby="unregister-title" aria-describedby="unregister-question" class="dialog card">
                <h2 id="unregister-title">"Unregister process"</h2>
                <UnregisterConfirm name action cancel />
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, base: &str, state: &str) -> ProcessInfo {
        ProcessInfo {
            name: name.into(),
            base: base.into(),
            state: state.into(),
            running: state == "running",
            pid: None,
            started_at: None,
            stopped_at: None,
            restarts: 0,
            desired: "running".into(),
            origin: "api".into(),
            provisioned: false,
            exit_code: None,
            exit_signal: None,
            reason: None,
            retry_at: None,
            cpu_percent: None,
            memory_bytes: None,
        }
    }

    #[test]
    fn filter_table() {
        let web = p("web-1", "web", "running");
        let cases = [
            ("", true),
            ("web", true),
            ("WEB-1", true),
            ("running", true),
            ("stopped", false),
            ("web running", true),
            ("web stopped", false),
            ("api", false),
        ];
        for (filter, want) in cases {
            assert_eq!(matches_filter(&web, filter), want, "{filter:?}");
        }
    }
}
