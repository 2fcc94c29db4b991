//! `/cronjobs/:name` — one cronjob: status (live), controls, the next fire times, its
//! live jobs and the run history (firings: scheduled and actual time, created or
//! skipped and why, the job's result and run time).

use crate::components::page::{use_me, Page};
use crate::live::Live;
use crate::model::jobs::{FiringInfo, JOB_READ_ONLY_REASON};
use crate::pages::cronjobs::{CronButtons, CronControls};
use crate::pages::jobs::{fmt_secs, fmt_time, phase_badge};
use crate::pages::jobs_detail::spec_rows;
use crate::server_fns::cronjobs::{cronjob_detail, cronjob_history, CronJobDetailView};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The cronjob detail page.
#[component]
pub fn CronJobDetailPage() -> impl IntoView {
    let name = use_params_map().with_untracked(|p| p.get("name").unwrap_or_default());
    view! {
        <Page title=name.clone()>
            <CronDetailContent name=name.clone() />
        </Page>
    }
}

#[component]
fn CronDetailContent(name: String) -> impl IntoView {
    let live = expect_context::<Live>();
    let n = name.clone();
    // Cronjob events refetch the detail; those and its jobs' events refetch the history.
    let cron_bump = Memo::new(move |_| {
        live.last_event.with(|e| e.as_ref().filter(|(_, en, k)| *en == n && k == "cron").map(|(s, _, _)| *s))
    });
    let n = name.clone();
    let prefix = format!("{name}-");
    let any_bump = Memo::new(move |_| {
        live.last_event.with(|e| {
            e.as_ref()
                .filter(|(_, en, k)| (k == "cron" && *en == n) || (k == "job" && en.starts_with(&prefix)))
                .map(|(s, _, _)| *s)
        })
    });
    let n = name.clone();
    let detail = Resource::new(move || (n.clone(), cron_bump.get()), |(n, _)| cronjob_detail(n));
    let n = name.clone();
    let history = Resource::new(move || (n.clone(), any_bump.get()), |(n, _)| cronjob_history(n, Some(50)));
    let controls = CronControls::new();
    view! {
        {move || controls.error().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        {move || controls.triggered().map(|j| view! {
            <p role="status" class="notice">"Started job " <a href=format!("/jobs/{j}")>{j.clone()}</a></p>
        })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <CronDetailBody d controls /> }.into_any(),
                    Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
        <section aria-labelledby="runs-h">
            <h2 id="runs-h">"Run history"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Ok(list) => view! { <FiringTable list /> }.into_any(),
                        Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn CronDetailBody(d: CronJobDetailView, controls: CronControls) -> impl IntoView {
    let me = use_me();
    let live = expect_context::<Live>();
    let name = d.row.status.name.clone();
    let initial = d.row.status.clone();
    let status = Memo::new(move |_| {
        live.cronjobs.with(|t| t.as_ref().and_then(|t| t.get(&name).cloned())).unwrap_or_else(|| initial.clone())
    });
    let row = d.row.clone();
    let next = d.row.next.clone();
    let jobs = d.jobs.clone();
    view! {
        <section aria-labelledby="status-h">
            <h2 id="status-h">"Status"</h2>
            {move || {
                let s = status.get();
                let buttons = me.can_operate.then(|| view! { <div class="toolbar"><CronButtons s=s.clone() controls /></div> });
                view! {
                    <dl class="spec status" aria-label="Status">
                        <dt>"Schedule"</dt><dd class="mono">{row.schedule.clone()}</dd>
                        <dt>"Time zone"</dt><dd>{row.time_zone.clone().unwrap_or_else(|| "UTC".to_string())}</dd>
                        <dt>"Concurrency policy"</dt><dd>{row.concurrency_policy.clone()}</dd>
                        <dt>"Suspended"</dt><dd>{if s.suspended { "yes" } else { "no" }}</dd>
                        <dt>"Next run"</dt><dd>{fmt_time(s.next_schedule_time)}</dd>
                        <dt>"Last schedule"</dt><dd>{fmt_time(s.last_schedule_time)}</dd>
                        <dt>"Last success"</dt><dd>{fmt_time(s.last_successful_time)}</dd>
                        <dt>"Active jobs"</dt><dd>{if s.active.is_empty() { "none".to_string() } else { s.active.join(", ") }}</dd>
                        <dt>"Defined by"</dt><dd>{if s.from_config { "the config file" } else { "the API" }}</dd>
                    </dl>
                    {s.from_config.then(|| view! { <p class="readonly">{JOB_READ_ONLY_REASON}</p> })}
                    {buttons}
                }
            }}
        </section>
        <div class="two-col">
            <section aria-labelledby="next-h">
                <h2 id="next-h">"Next fire times"</h2>
                {if next.is_empty() {
                    view! { <p class="empty">"None."</p> }.into_any()
                } else {
                    view! { <ol class="times" aria-label="Next fire times">{next.into_iter().map(|t| view! { <li>{fmt_time(Some(t))}</li> }).collect_view()}</ol> }.into_any()
                }}
            </section>
            <section aria-labelledby="jobs-h">
                <h2 id="jobs-h">"Jobs"</h2>
                {if jobs.is_empty() {
                    view! { <p class="empty">"No live jobs."</p> }.into_any()
                } else {
                    view! {
                        <ul class="times">
                            {jobs.into_iter().map(|j| view! { <li><a href=format!("/jobs/{}", j.name)>{j.name.clone()}</a> " " {phase_badge(&j.phase)}</li> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
        </div>
        <section aria-labelledby="spec-h">
            <h2 id="spec-h">"Spec"</h2>
            <dl class="spec">{spec_rows(&d.spec).into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}</dl>
        </section>
    }
}

#[component]
fn FiringTable(list: Vec<FiringInfo>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="empty">"No runs yet."</p> }.into_any();
    }
    view! {
        <table class="plain firings" aria-label="Run history">
            <thead>
                <tr>
                    <th scope="col">"Scheduled"</th>
                    <th scope="col">"Actual"</th>
                    <th scope="col">"Outcome"</th>
                    <th scope="col">"Job"</th>
                    <th scope="col">"Result"</th>
                    <th scope="col">"Duration"</th>
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|f| {
                        let outcome = match (&f.reason, f.manual) {
                            (_, true) => format!("{} (run now)", f.outcome),
                            (Some(r), false) => format!("{}: {r}", f.outcome),
                            (None, false) => f.outcome.clone(),
                        };
                        let job = f.job_name.clone().map(|j| view! { <a href=format!("/jobs/{j}")>{j.clone()}</a> });
                        view! {
                            <tr>
                                <td>{fmt_time(Some(f.scheduled_at))}</td>
                                <td>{fmt_time(f.fired_at)}</td>
                                <td>{outcome}</td>
                                <td>{job}</td>
                                <td>{f.job_phase.as_deref().map(phase_badge)}</td>
                                <td>{fmt_secs(f.job_duration)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
