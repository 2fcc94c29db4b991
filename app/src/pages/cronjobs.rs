//! `/cronjobs` — every cronjob with its schedule, time zone, next runs and last run,
//! live; Suspend / Resume / "Run now" / Delete; "Create cronjob".
//! `/cronjobs/:name/delete` — the delete confirmation.
//!
//! Config-file cronjobs are read-only (no Delete, with the reason) but may be
//! suspended, resumed and run now. Every control works before the WASM has loaded.

use crate::components::page::{use_me, Page};
use crate::error::AppError;
use crate::live::Live;
use crate::model::jobs::{CronJobInfo, JOB_READ_ONLY_REASON};
use crate::pages::jobs::{action_error, first_error, fmt_time, FormField};
use crate::server_fns::cronjobs::{
    list_cronjobs, CreateCronjob, CronJobRow, DeleteCronjob, ResumeCronjob, SuspendCronjob, TriggerCronjob,
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The CronJobs page.
#[component]
pub fn CronJobsPage() -> impl IntoView {
    view! {
        <Page title="CronJobs".to_string()>
            <CronJobsContent />
        </Page>
    }
}

/// Suspend / Resume / Run now, shared by rows (one error line serves them all).
#[derive(Clone, Copy)]
pub struct CronControls {
    suspend: ServerAction<SuspendCronjob>,
    resume: ServerAction<ResumeCronjob>,
    trigger: ServerAction<TriggerCronjob>,
}

impl CronControls {
    /// New actions.
    pub fn new() -> Self {
        Self { suspend: ServerAction::new(), resume: ServerAction::new(), trigger: ServerAction::new() }
    }

    /// The last failure.
    pub fn error(&self) -> Option<String> {
        first_error([
            action_error(self.suspend.value().get()),
            action_error(self.resume.value().get()),
            action_error(self.trigger.value().get()),
        ])
    }

    /// The job the last "Run now" created.
    pub fn triggered(&self) -> Option<String> {
        self.trigger.value().get().and_then(Result::ok)
    }
}

impl Default for CronControls {
    fn default() -> Self {
        Self::new()
    }
}

#[component]
fn CronJobsContent() -> impl IntoView {
    let me = use_me();
    let live = expect_context::<Live>();
    // The list carries what the live status does not (schedule, time zone, next runs):
    // refetch it when a cronjob is added or removed.
    let names = Memo::new(move |_| live.cronjobs.with(|t| t.as_ref().map(|t| t.keys().cloned().collect::<Vec<_>>())));
    let list = Resource::new(move || names.get(), |_| list_cronjobs());
    let controls = CronControls::new();
    view! {
        {move || controls.error().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        {move || controls.triggered().map(|j| view! {
            <p role="status" class="notice">"Started job " <a href=format!("/jobs/{j}")>{j.clone()}</a></p>
        })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(rows) => view! { <CronTable rows controls can_operate=me.can_operate /> }.into_any(),
                    Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
        {me.can_operate.then(|| view! { <CreateCronJobForm /> })}
    }
}

#[component]
fn CronTable(rows: Vec<CronJobRow>, controls: CronControls, can_operate: bool) -> impl IntoView {
    let live = expect_context::<Live>();
    let rows = Memo::new(move |_| {
        rows.iter()
            .map(|r| {
                let mut r = r.clone();
                if let Some(s) = live.cronjobs.with(|t| t.as_ref().and_then(|t| t.get(&r.status.name).cloned())) {
                    r.status = s;
                }
                r
            })
            .collect::<Vec<_>>()
    });
    view! {
        <table class="processes cronjobs">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Schedule"</th>
                    <th scope="col">"Time zone"</th>
                    <th scope="col">"Suspended"</th>
                    <th scope="col">"Next runs"</th>
                    <th scope="col">"Last schedule"</th>
                    <th scope="col">"Last success"</th>
                    <th scope="col">"Active"</th>
                    {can_operate.then(|| view! { <th scope="col">"Actions"</th> })}
                </tr>
            </thead>
            <tbody>
                <For
                    each=move || rows.get()
                    key=|r| format!("{:?}", r.status)
                    children=move |r| view! { <CronRow r controls can_operate /> }
                />
            </tbody>
        </table>
        <Show when=move || rows.with(Vec::is_empty)>
            <p class="empty">"No cronjobs yet."</p>
        </Show>
    }
}

/// The next fire times to show: the live next one, then the fetched ones after it.
pub fn next_runs(r: &CronJobRow, n: usize) -> Vec<chrono::DateTime<chrono::Utc>> {
    match r.status.next_schedule_time {
        None => Vec::new(),
        Some(first) => std::iter::once(first).chain(r.next.iter().copied().filter(|t| *t > first)).take(n).collect(),
    }
}

#[component]
fn CronRow(r: CronJobRow, controls: CronControls, can_operate: bool) -> impl IntoView {
    let s = r.status.clone();
    let next = next_runs(&r, 3);
    let actions = can_operate.then(|| view! { <td class="actions"><CronButtons s=s.clone() controls /></td> });
    view! {
        <tr data-name=s.name.clone()>
            <td class="name"><a href=format!("/cronjobs/{}", s.name)>{s.name.clone()}</a></td>
            <td class="mono">{r.schedule.clone()}</td>
            <td>{r.time_zone.clone().unwrap_or_else(|| "UTC".to_string())}</td>
            <td>{if s.suspended { view! { <span class="state phase-suspended">"suspended"</span> }.into_any() } else { "no".into_any() }}</td>
            <td>
                {if next.is_empty() {
                    "–".into_any()
                } else {
                    view! { <ul class="times">{next.into_iter().map(|t| view! { <li>{fmt_time(Some(t))}</li> }).collect_view()}</ul> }.into_any()
                }}
            </td>
            <td>{fmt_time(s.last_schedule_time)}</td>
            <td>{fmt_time(s.last_successful_time)}</td>
            <td class="num">{s.active.len()}</td>
            {actions}
        </tr>
    }
}

/// Suspend or Resume, Run now, and Delete (a link to the confirmation; config-file
/// cronjobs are read-only and say so).
#[component]
pub fn CronButtons(s: CronJobInfo, controls: CronControls) -> impl IntoView {
    let name = s.name.clone();
    let (hidden0, hidden1, hidden2) = (name.clone(), name.clone(), name.clone());
    let toggle = if s.suspended {
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
                <button type="submit" class="secondary">"Suspend"</button>
            </ActionForm>
        }
        .into_any()
    };
    let delete = if s.from_config {
        let id = format!("ro-{name}");
        view! {
            <button type="button" disabled aria-describedby=id.clone()>"Delete"</button>
            <span class="detail readonly" id=id>{JOB_READ_ONLY_REASON}</span>
        }
        .into_any()
    } else {
        view! { <a class="button danger" href=format!("/cronjobs/{name}/delete")>"Delete"</a> }.into_any()
    };
    view! {
        {toggle}
        <ActionForm action=controls.trigger attr:class="inline">
            <input type="hidden" name="name" value=hidden2 />
            <button type="submit" class="secondary">"Run now"</button>
        </ActionForm>
        {delete}
    }
}

#[component]
fn CreateCronJobForm() -> impl IntoView {
    let action = ServerAction::<CreateCronjob>::new();
    let error: Signal<Option<AppError>> = Signal::derive(move || action.value().get().and_then(Result::err));
    const KEYS: [&str; 8] = [
        "name",
        "schedule",
        "time_zone",
        "concurrency_policy",
        "starting_deadline_seconds",
        "successful_jobs_history_limit",
        "failed_jobs_history_limit",
        "command",
    ];
    let general = move || error.get().and_then(|e| e.general(&KEYS));
    view! {
        <section aria-labelledby="create-cron-h">
            <h2 id="create-cron-h">"Create cronjob"</h2>
            <ActionForm action attr:class="card spec-form" attr:aria-label="Create cronjob">
                {move || general().map(|e| view! { <p role="alert" class="error">{e}</p> })}
                <div class="grid">
                    <FormField key="name" label="Name" error>
                        <input id="f-name" type="text" name="cronjob[name]" required autocomplete="off" pattern="[A-Za-z0-9._-]+" />
                    </FormField>
                    <FormField key="schedule" label="Schedule" error>
                        <input id="f-schedule" type="text" name="cronjob[schedule]" required autocomplete="off" placeholder="*/5 * * * * or @every 30s" />
                    </FormField>
                    <FormField key="time_zone" label="Time zone" error>
                        <input id="f-time_zone" type="text" name="cronjob[time_zone]" placeholder="UTC" />
                    </FormField>
                    <FormField key="concurrency_policy" label="Concurrency policy" error>
                        <select id="f-concurrency_policy" name="cronjob[concurrency_policy]">
                            <option value="Allow" selected>"Allow"</option>
                            <option value="Forbid">"Forbid"</option>
                            <option value="Replace">"Replace"</option>
                        </select>
                    </FormField>
                    <FormField key="command" label="Command" error>
                        <input id="f-command" type="text" name="cronjob[command]" required autocomplete="off" />
                    </FormField>
                    <FormField key="starting_deadline_seconds" label="Starting deadline seconds" error>
                        <input id="f-starting_deadline_seconds" type="number" min="0" name="cronjob[starting_deadline_seconds]" />
                    </FormField>
                    <FormField key="successful_jobs_history_limit" label="Successful jobs history limit" error>
                        <input id="f-successful_jobs_history_limit" type="number" min="0" name="cronjob[successful_jobs_history_limit]" placeholder="3" />
                    </FormField>
                    <FormField key="failed_jobs_history_limit" label="Failed jobs history limit" error>
                        <input id="f-failed_jobs_history_limit" type="number" min="0" name="cronjob[failed_jobs_history_limit]" placeholder="1" />
                    </FormField>
                </div>
                <div class="form-actions">
                    <button type="submit" disabled=move || action.pending().get()>"Create cronjob"</button>
                </div>
            </ActionForm>
        </section>
    }
}

/// `/cronjobs/:name/delete`: asks before deleting (works without JavaScript).
#[component]
pub fn DeleteCronJobPage() -> impl IntoView {
    let name = use_params_map().with_untracked(|p| p.get("name").unwrap_or_default());
    view! {
        <Page title="Delete cronjob".to_string()>
            <DeleteCronConfirm name=name.clone() />
        </Page>
    }
}

#[component]
fn DeleteCronConfirm(name: String) -> impl IntoView {
    let hidden3 = name.clone();
    let action = ServerAction::<DeleteCronjob>::new();
    let error = move || action.value().get().and_then(Result::err).map(|e| e.to_string());
    view! {
        {move || error().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        <div class="card confirm">
            <p>"Delete cronjob " <strong>{name.clone()}</strong> "? No more runs are scheduled; its jobs and history stay."</p>
            <ActionForm action attr:class="inline">
                <input type="hidden" name="name" value=hidden3 />
                <button type="submit" class="danger" disabled=move || action.pending().get()>"Delete"</button>
            </ActionForm>
            " "
            <a class="button secondary" href=format!("/cronjobs/{name}")>"Cancel"</a>
        </div>
    }
}
