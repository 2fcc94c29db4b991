//! The processes table: one row per instance, live.

use crate::live::Live;
use crate::model::{format_uptime, ProcessInfo};
use crate::server_fns::processes::{StartProcess, StopProcess};
use leptos::prelude::*;

/// The table of processes. Rows come from the live socket once it has delivered a
/// snapshot, and from `initial` (what the server rendered) until then.
#[component]
pub fn ProcessTable(initial: Vec<ProcessInfo>) -> impl IntoView {
    let live = expect_context::<Live>();
    let start = ServerAction::<StartProcess>::new();
    let stop = ServerAction::<StopProcess>::new();
    let rows = Memo::new(move |_| match live.processes.get() {
        Some(table) => table.into_values().collect::<Vec<_>>(),
        None => initial.clone(),
    });
    let error = move || {
        let from = |r: Option<Result<(), crate::error::AppError>>| r.and_then(Result::err).map(|e| e.to_string());
        from(start.value().get()).or_else(|| from(stop.value().get()))
    };
    view! {
        {move || error().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        <table class="processes">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"PID"</th>
                    <th scope="col">"Uptime"</th>
                    <th scope="col">"Restarts"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                <For
                    each=move || rows.get()
                    key=|p| (p.name.clone(), p.state.clone(), p.pid, p.restarts, p.started_at)
                    children=move |p| view! { <ProcessRow p start stop /> }
                />
            </tbody>
        </table>
        <Show when=move || rows.with(Vec::is_empty)>
            <p class="empty">"No processes yet. Register one with the API or the CLI."</p>
        </Show>
    }
}

#[component]
fn ProcessRow(p: ProcessInfo, start: ServerAction<StartProcess>, stop: ServerAction<StopProcess>) -> impl IntoView {
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
    let (name_start, name_stop) = (p.name.clone(), p.name.clone());
    view! {
        <tr data-name=p.name.clone()>
            <td class="name">{p.name.clone()}</td>
            <td>
                <span class=format!("state state-{}", p.state)>{p.state.clone()}</span>
                {detail.map(|d| view! { <span class="detail">{d}</span> })}
            </td>
            <td class="num">{p.pid.map(|pid| pid.to_string()).unwrap_or_default()}</td>
            <td class="num">{uptime}</td>
            <td class="num">{p.restarts}</td>
            <td class="actions">
                <ActionForm action=start attr:class="inline">
                    <input type="hidden" name="name" value=name_start />
                    <button type="submit" disabled=alive>"Start"</button>
                </ActionForm>
                <ActionForm action=stop attr:class="inline">
                    <input type="hidden" name="name" value=name_stop />
                    <button type="submit" disabled=!stoppable>"Stop"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
