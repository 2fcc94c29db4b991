//! `/jobs` — every live job with its phase and counts, live; "Create job"; per-row
//! Suspend / Resume / Delete. `/jobs/:name/delete` — the delete confirmation.
//!
//! Every control is a form that works before the WASM has loaded; "Delete" is a link to
//! the confirmation page.

use crate::components::page::{use_me, Page};
use crate::error::AppError;
use crate::live::Live;
use crate::model::jobs::{JobInfo, JOB_READ_ONLY_REASON};
use crate::server_fns::jobs::{list_jobs, CreateJob, DeleteJob, ResumeJob, SuspendJob};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// `2026-11-28 16:20:45` (UTC: the server's and the browser's text agree).
pub fn fmt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "–".to_string())
}

/// `12s`, `4m 10s` (or `–`).
pub fn fmt_secs(s: Option<i64>) -> String {
    s.map(crate::model::format_uptime).unwrap_or_else(|| "–".to_string())
}

/// The first error among server action results, as text.
pub fn first_error<I: IntoIterator<Item = Option<AppError>>>(errors: I) -> Option<String> {
    errors.into_iter().flatten().map(|e| e.to_string()).next()
}

/// The error of an action's last result.
pub fn action_error<T>(r: Option<Result<T, AppError>>) -> Option<AppError> {
    r.and_then(Result::err)
}

/// A labelled form field; the control inside must have the id `f-<key>`. The server's
/// problem for `key` (a spec key) shows under it.
#[component]
pub fn FormField(
    /// The spec key.
    key: &'static str,
    /// The label.
    label: &'static str,
    /// The form action's last error.
    error: Signal<Option<AppError>>,
    /// The control.
    children: Children,
) -> impl IntoView {
    let message = Memo::new(move |_| error.get().and_then(|e| e.field(key)));
    view! {
        <div class="field" class:invalid=move || message.with(Option::is_some)>
            <label for=format!("f-{key}")>{label}</label>
            {children()}
            {move || message.get().map(|m| view! { <p class="field-error">{m}</p> })}
        </div>
    }
}

/// The phase as a badge.
pub fn phase_badge(phase: &str) -> impl IntoView {
    view! { <span class=format!("state phase-{}", phase.to_lowercase())>{phase.to_string()}</span> }
}

/// The Jobs page.
#[component]
pub fn JobsPage() -> impl IntoView {
    view! {
        <Page title="Jobs".to_string()>
            <JobsContent />
        </Page>
    }
}

#[component]
fn JobsContent() -> impl IntoView {
    let me = use_me();
    let live = expect_context::<Live>();
    // Rows follow the live socket once it has a snapshot; the list also says how many
    // completions each job needs, so it is refetched when a job comes or goes.
    let names = Memo::new(move |_| live.jobs.with(|t| t.as_ref().map(|t| t.keys().cloned().collect::<Vec<_>>())));
    let list = Resource::new(move || names.get(), |_| list_jobs());
    let controls = JobControls::new();
    view! {
        {move || controls.error().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(list) => {
                        view! { <JobTable initial=list.jobs completions=list.completions controls can_operate=me.can_operate /> }
                            .into_any()
                    }
                    Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
        {me.can_operate.then(|| view! { <CreateJobForm /> })}
    }
}

/// The Suspend / Resume actions shared by rows (one error line serves them all).
#[derive(Clone, Copy)]
pub struct JobControls {
    suspend: ServerAction<SuspendJob>,
    resume: ServerAction<ResumeJob>,
}

impl JobControls {
    /// New actions.
    pub fn new() -> Self {
        Self { suspend: ServerAction::new(), resume: ServerAction::new() }
    }

    /// The last failure.
    pub fn error(&self) -> Option<String> {
        first_error([action_error(self.suspend.value().get()), action_error(self.resume.value().get())])
    }
}

impl Default for JobControls {
    fn default() -> Self {
        Self::new()
    }
}

#[component]
fn JobTable(
    initial: Vec<JobInfo>,
    completions: std::collections::BTreeMap<String, String>,
    controls: JobControls,
    can_operate: bool,
) -> impl IntoView {
    let live = expect_context::<Live>();
    let rows = Memo::new(move |_| match live.jobs.get() {
        Some(t) => t.into_values().collect::<Vec<_>>(),
        None => initial.clone(),
    });
    view! {
        <table class="processes jobs">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Phase"</th>
                    <th scope="col">"Active"</th>
                    <th scope="col">"Succeeded"</th>
                    <th scope="col">"Failed"</th>
                    <th scope="col">"Completions"</th>
                    <th scope="col">"Started"</th>
                    <th scope="col">"Completed"</th>
                    <th scope="col">"Created by"</th>
                    {can_operate.then(|| view! { <th scope="col">"Actions"</th> })}
                </tr>
            </thead>
            <tbody>
                <For
                    each=move || rows.get()
                    key=|j| (j.name.clone(), j.phase.clone(), j.active, j.succeeded, j.failed, j.completion_time)
                    children=move |j| {
                        let needed = completions.get(&j.name).cloned().unwrap_or_else(|| "–".to_string());
                        view! { <JobRow j needed controls can_operate /> }
                    }
                />
            </tbody>
        </table>
        <Show when=move || rows.with(Vec::is_empty)>
            <p class="empty">"No jobs yet."</p>
        </Show>
    }
}

/// Where a job comes from, in words.
pub fn origin_text(j: &JobInfo) -> String {
    match &j.origin {
        crate::model::jobs::JobOrigin::Api => "API".to_string(),
        crate::model::jobs::JobOrigin::Config => "config file".to_string(),
        crate::model::jobs::JobOrigin::CronJob { cronjob, manual, .. } => {
            if *manual {
                format!("cronjob {cronjob} (run now)")
            } else {
                format!("cronjob {cronjob}")
            }
        }
    }
}

#[component]
fn JobRow(j: JobInfo, needed: String, controls: JobControls, can_operate: bool) -> impl IntoView {
    let href = format!("/jobs/{}", j.name);
    let reason = j.reason().map(str::to_string);
    let actions = can_operate.then(|| view! { <td class="actions"><JobButtons j=j.clone() controls /></td> });
    view! {
        <tr data-name=j.name.clone()>
            <td class="name"><a href=href>{j.name.clone()}</a></td>
            <td>{phase_badge(&j.phase)} {reason.map(|r| view! { <span class="detail">{r}</span> })}</td>
            <td class="num">{j.active}</td>
            <td class="num">{j.succeeded}</td>
            <td class="num">{j.failed}</td>
            <td class="num">{format!("{} / {needed}", j.succeeded)}</td>
            <td>{fmt_time(j.start_time)}</td>
            <td>{fmt_time(j.completion_time)}</td>
            <td>{origin_text(&j)}</td>
            {actions}
        </tr>
    }
}

/// Suspend or Resume, and Delete (a link to the confirmation; config-file jobs are
/// read-only and say so).
#[component]
pub fn JobButtons(j: JobInfo, controls: JobControls) -> impl IntoView {
    let name = j.name.clone();
    let (hidden0, hidden1) = (name.clone(), name.clone());
    let finished = j.finished();
    let toggle = if j.phase == "Suspended" {
        view! {
            <ActionForm action=controls.resume attr:class="inline">
                <input type="hidden" name="name" value=hidden0 />
                <button type="submit">"Resume"</button>
            </ActionForm>
        }
        .into_any()
    } else {
        view! {
            <ActionForm action=controls.suspend attr:class="inline">
                <input type="hidden" name="name" value=hidden1 />
                <button type="submit" class="secondary" disabled=finished>"Suspend"</button>
            </ActionForm>
        }
        .into_any()
    };
    let delete = if j.read_only() {
        let id = format!("ro-{name}");
        view! {
            <button type="button" disabled aria-describedby=id.clone()>"Delete"</button>
            <span class="detail readonly" id=id>{JOB_READ_ONLY_REASON}</span>
        }
        .into_any()
    } else {
        view! { <a class="button danger" href=format!("/jobs/{name}/delete")>"Delete"</a> }.into_any()
    };
    view! { {toggle} {delete} }
}

#[component]
fn CreateJobForm() -> impl IntoView {
    let action = ServerAction::<CreateJob>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    const KEYS: [&str; 10] = [
        "name",
        "command",
        "parallelism",
        "completions",
        "completion_mode",
        "restart_policy",
        "backoff_limit",
        "backoff_base",
        "active_deadline_seconds",
        "ttl_seconds_after_finished",
    ];
    let general = move || error.get().and_then(|e| e.general(&KEYS));
    view! {
        <section aria-labelledby="create-job-h">
            <h2 id="create-job-h">"Create job"</h2>
            <ActionForm action attr:class="card spec-form" attr:aria-label="Create job">
                {move || general().map(|e| view! { <p role="alert" class="error">{e}</p> })}
                <div class="grid">
                    <FormField key="name" label="Name" error>
                        <input id="f-name" type="text" name="job[name]" required autocomplete="off" pattern="[A-Za-z0-9._-]+" />
                    </FormField>
                    <FormField key="command" label="Command" error>
                        <input id="f-command" type="text" name="job[command]" required autocomplete="off" />
                    </FormField>
                    <FormField key="parallelism" label="Parallelism" error>
                        <input id="f-parallelism" type="number" min="1" name="job[parallelism]" placeholder="1" />
                    </FormField>
                    <FormField key="completions" label="Completions" error>
                        <input id="f-completions" type="number" min="1" name="job[completions]" placeholder="1" />
                    </FormField>
                    <FormField key="completion_mode" label="Completion mode" error>
                        <select id="f-completion_mode" name="job[completion_mode]">
                            <option value="NonIndexed" selected>"NonIndexed"</option>
                            <option value="Indexed">"Indexed"</option>
                        </select>
                    </FormField>
                    <FormField key="restart_policy" label="Restart policy" error>
                        <select id="f-restart_policy" name="job[restart_policy]">
                            <option value="Never" selected>"Never"</option>
                            <option value="OnFailure">"OnFailure"</option>
                        </select>
                    </FormField>
                    <FormField key="backoff_limit" label="Backoff limit" error>
                        <input id="f-backoff_limit" type="number" min="0" name="job[backoff_limit]" placeholder="6" />
                    </FormField>
                    <FormField key="backoff_base" label="Backoff base" error>
                        <input id="f-backoff_base" type="text" name="job[backoff_base]" placeholder="10s" />
                    </FormField>
                    <FormField key="active_deadline_seconds" label="Active deadline seconds" error>
                        <input id="f-active_deadline_seconds" type="number" min="1" name="job[active_deadline_seconds]" />
                    </FormField>
                    <FormField key="ttl_seconds_after_finished" label="TTL seconds after finished" error>
                        <input id="f-ttl_seconds_after_finished" type="number" min="0" name="job[ttl_seconds_after_finished]" />
                    </FormField>
                </div>
                <div class="form-actions">
                    <button type="submit" disabled=move || action.pending().get()>"Create job"</button>
                </div>
            </ActionForm>
        </section>
    }
}

/// `/jobs/:name/delete`: asks before deleting (works without JavaScript).
#[component]
pub fn DeleteJobPage() -> impl IntoView {
    let name = use_params_map().with_untracked(|p| p.get("name").unwrap_or_default());
    view! {
        <Page title="Delete job".to_string()>
            <DeleteJobConfirm name=name.clone() />
        </Page>
    }
}

#[component]
fn DeleteJobConfirm(name: String) -> impl IntoView {
    let hidden2 = name.clone();
    let action = ServerAction::<DeleteJob>::new();
    let error = move || action.value().get().and_then(Result::err).map(|e| e.to_string());
    view! {
        {move || error().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        <div class="card confirm">
            <p>"Delete job " <strong>{name.clone()}</strong> "? Its running attempts are killed; its history stays."</p>
            <ActionForm action attr:class="inline">
                <input type="hidden" name="name" value=hidden2 />
                <button type="submit" class="danger" disabled=move || action.pending().get()>"Delete"</button>
            </ActionForm>
            " "
            <a class="button secondary" href=format!("/jobs/{name}")>"Cancel"</a>
        </div>
    }
}
