//! `/jobs/:name` — one job: status (live), Suspend / Resume / Delete, the grid of
//! completion indexes (`Indexed` mode), the attempts and each attempt's log.
//!
//! The log shown is chosen by the query (`?index=&attempt=&stream=`), so the links
//! work without JavaScript.

use crate::components::page::{use_me, Page};
use crate::live::Live;
use crate::model::jobs::{index_states, AttemptInfo, JobInfo};
use crate::pages::jobs::{fmt_secs, fmt_time, origin_text, phase_badge, JobButtons, JobControls};
use crate::server_fns::jobs::{completions_text, job_detail, job_log, JobDetailView};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde_json::Value;

/// The job detail page.
#[component]
pub fn JobDetailPage() -> impl IntoView {
    let name = use_params_map().with_untracked(|p| p.get("name").unwrap_or_default());
    view! {
        <Page title=name.clone()>
            <JobDetailContent name=name.clone() />
        </Page>
    }
}

#[component]
fn JobDetailContent(name: String) -> impl IntoView {
    let live = expect_context::<Live>();
    // Refetch (attempts, status) when an event about this job arrives.
    let n = name.clone();
    let bump = Memo::new(move |_| {
        live.last_event.with(|e| e.as_ref().filter(|(_, en, kind)| *en == n && kind == "job").map(|(s, _, _)| *s))
    });
    let n = name.clone();
    let detail = Resource::new(move || (n.clone(), bump.get()), |(n, _)| job_detail(n));
    let controls = JobControls::new();
    let name_for_log = name.clone();
    view! {
        {move || controls.error().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <JobDetailBody d controls /> }.into_any(),
                    Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
        <AttemptLog name=name_for_log bump />
    }
}

#[component]
fn JobDetailBody(d: JobDetailView, controls: JobControls) -> impl IntoView {
    let me = use_me();
    let live = expect_context::<Live>();
    let initial = d.status.clone();
    let name = d.status.name.clone();
    // The live status when the socket has one (it may be newer than the fetch).
    let status = Memo::new(move |_| {
        live.jobs.with(|t| t.as_ref().and_then(|t| t.get(&name).cloned())).unwrap_or_else(|| initial.clone())
    });
    let indexed = d.spec.get("completion_mode").and_then(Value::as_str) == Some("Indexed");
    let completions = d.spec.get("completions").and_then(Value::as_u64).unwrap_or(1) as u32;
    let attempts = d.attempts.clone();
    let grid = indexed.then(|| {
        let attempts = attempts.clone();
        view! {
            <section aria-labelledby="idx-h">
                <h2 id="idx-h">"Completion indexes"</h2>
                <ol class="index-grid" aria-label="Completion indexes">
                    {move || {
                        index_states(&status.get(), &attempts, completions)
                            .into_iter()
                            .enumerate()
                            .map(|(i, s)| {
                                view! {
                                    <li class=format!("index index-{}", s.word()) title=format!("Index {i}: {}", s.word())>
                                        <span class="n">{i}</span>
                                        <span class="visually-hidden">{format!(": {}", s.word())}</span>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ol>
            </section>
        }
    });
    let spec_rows = spec_rows(&d.spec);
    let completions_text = completions_text(&d.spec);
    view! {
        <section aria-labelledby="status-h">
            <h2 id="status-h">"Status"</h2>
            {move || {
                let s = status.get();
                let buttons = me.can_operate.then(|| view! { <div class="toolbar"><JobButtons j=s.clone() controls /></div> });
                view! {
                    <dl class="spec status" aria-label="Status">
                        <dt>"Phase"</dt><dd>{phase_badge(&s.phase)}</dd>
                        <dt>"Reason"</dt><dd>{s.reason().unwrap_or("–").to_string()}</dd>
                        <dt>"Active"</dt><dd>{s.active}</dd>
                        <dt>"Succeeded"</dt><dd>{s.succeeded}</dd>
                        <dt>"Failed"</dt><dd>{s.failed}</dd>
                        <dt>"Completions"</dt><dd>{completions_text.clone()}</dd>
                        {(!s.completed_indexes.is_empty()).then(|| view! { <dt>"Completed indexes"</dt><dd>{s.completed_indexes.clone()}</dd> })}
                        {s.failed_indexes.clone().filter(|f| !f.is_empty()).map(|f| view! { <dt>"Failed indexes"</dt><dd>{f}</dd> })}
                        <dt>"Started"</dt><dd>{fmt_time(s.start_time)}</dd>
                        <dt>"Completed"</dt><dd>{fmt_time(s.completion_time)}</dd>
                        <dt>"Duration"</dt><dd>{fmt_secs(s.start_time.map(|_| s.duration(live.now.get_untracked()).unwrap_or(0)))}</dd>
                        <dt>"Created by"</dt><dd>{origin_text(&s)}</dd>
                    </dl>
                    <ConditionList s=s.clone() />
                    {buttons}
                }
            }}
        </section>
        {grid}
        <section aria-labelledby="att-h">
            <h2 id="att-h">"Attempts"</h2>
            <AttemptTable attempts=d.attempts.clone() />
        </section>
        <section aria-labelledby="spec-h">
            <h2 id="spec-h">"Spec"</h2>
            <dl class="spec">{spec_rows.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}</dl>
        </section>
    }
}

#[component]
fn ConditionList(s: JobInfo) -> impl IntoView {
    (!s.conditions.is_empty()).then(|| {
        view! {
            <table class="plain" aria-label="Conditions">
                <thead><tr><th scope="col">"Condition"</th><th scope="col">"Status"</th><th scope="col">"Reason"</th><th scope="col">"Message"</th><th scope="col">"Since"</th></tr></thead>
                <tbody>
                    {s.conditions.into_iter().map(|c| view! {
                        <tr>
                            <td>{c.type_}</td>
                            <td>{if c.status { "True" } else { "False" }}</td>
                            <td>{c.reason}</td>
                            <td>{c.message}</td>
                            <td>{fmt_time(Some(c.last_transition_time))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
    })
}

#[component]
fn AttemptTable(attempts: Vec<AttemptInfo>) -> impl IntoView {
    if attempts.is_empty() {
        return view! { <p class="empty">"No attempt has started yet."</p> }.into_any();
    }
    view! {
        <table class="plain attempts">
            <thead>
                <tr>
                    <th scope="col">"Index"</th>
                    <th scope="col">"Attempt"</th>
                    <th scope="col">"PID"</th>
                    <th scope="col">"Started"</th>
                    <th scope="col">"Ended"</th>
                    <th scope="col">"Exit"</th>
                    <th scope="col">"Reason"</th>
                    <th scope="col">"Log"</th>
                </tr>
            </thead>
            <tbody>
                {attempts
                    .into_iter()
                    .map(|a| {
                        let mut q = format!("?attempt={}", a.attempt);
                        if let Some(i) = a.index {
                            q = format!("{q}&index={i}");
                        }
                        let reason = match (&a.reason, &a.message) {
                            (Some(r), Some(m)) => format!("{r}: {m}"),
                            (Some(r), None) => r.clone(),
                            (None, _) => "running".to_string(),
                        };
                        view! {
                            <tr>
                                <td class="num">{a.index.map(|i| i.to_string()).unwrap_or_else(|| "–".into())}</td>
                                <td class="num">{a.attempt}</td>
                                <td class="num">{a.pid.map(|p| p.to_string()).unwrap_or_default()}</td>
                                <td>{fmt_time(Some(a.started_at))}</td>
                                <td>{fmt_time(a.finished_at)}</td>
                                <td>{a.outcome()}</td>
                                <td>{reason}</td>
                                <td>
                                    <a href=format!("{q}&stream=stdout#log-h")>"stdout"</a>
                                    " "
                                    <a href=format!("{q}&stream=stderr#log-h")>"stderr"</a>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The log of the attempt the query names (default: the latest attempt's stdout).
#[component]
fn AttemptLog(name: String, bump: Memo<Option<u64>>) -> impl IntoView {
    let query = use_query_map();
    let params = move || {
        query.with(|q| {
            (
                q.get("index").and_then(|v| v.parse::<u32>().ok()),
                q.get("attempt").and_then(|v| v.parse::<u32>().ok()),
                q.get("stream").filter(|s| s == "stderr").unwrap_or_else(|| "stdout".to_string()),
            )
        })
    };
    let log = Resource::new(
        move || (name.clone(), params(), bump.get()),
        |(n, (index, attempt, stream), _)| job_log(n, index, attempt, Some(stream)),
    );
    let title = move || {
        let (index, attempt, stream) = params();
        let which = match (index, attempt) {
            (None, None) => "latest attempt".to_string(),
            (Some(i), Some(a)) => format!("index {i}, attempt {a}"),
            (None, Some(a)) => format!("attempt {a}"),
            (Some(i), None) => format!("index {i}"),
        };
        format!("Log ({which}, {stream})")
    };
    view! {
        <section aria-labelledby="log-h">
            <h2 id="log-h">{title}</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match log.await {
                        Ok(text) if text.is_empty() => view! { <p class="empty">"The log is empty."</p> }.into_any(),
                        Ok(text) => view! { <pre class="log job-log" aria-label="Attempt log">{text}</pre> }.into_any(),
                        Err(e) => view! { <p class="empty">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The spec's keys and values as text.
pub fn spec_rows(spec: &Value) -> Vec<(String, String)> {
    let Some(obj) = spec.as_object() else { return Vec::new() };
    obj.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}
