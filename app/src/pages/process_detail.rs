//! `/processes/:name` — one process: its instances and controls, spec, timeline,
//! log tail, CPU/memory chart and hooks.

use crate::components::log_tail::LogTail;
use crate::components::page::{use_me, Page};
use crate::components::resource_chart::ResourceChart;
use crate::components::resources::Resources;
use crate::components::timeline::Timeline;
use crate::live::Live;
use crate::model::{describe_hook_run, HistoryEvent, ProcessInfo, ResourceUse, READ_ONLY_REASON};
use crate::server_fns::processes::{
    process_detail, process_history, DetailView, RestartProcess, StartProcess, StopProcess,
};
use crate::spec_form::{hooks_of, HOOK_PHASES};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde_json::Value;

/// The detail page.
#[component]
pub fn ProcessDetailPage() -> impl IntoView {
    let params = use_params_map();
    let name = params.with_untracked(|p| p.get("name").unwrap_or_default());
    view! {
        <Page title=name.clone()>
            <DetailContent name=name.clone() />
        </Page>
    }
}

#[component]
fn DetailContent(name: String) -> impl IntoView {
    let live = expect_context::<Live>();
    let n = name.clone();
    let detail = Resource::new(move || n.clone(), process_detail);
    // Refetch the history when an event about this process arrives on the live socket.
    let n = name.clone();
    let bump = Memo::new(move |_| {
        live.last_event
            .with(|e| e.as_ref().filter(|(_, en, _)| *en == n || en.starts_with(&format!("{n}-"))).map(|(s, _, _)| *s))
    });
    let n = name.clone();
    let history = Resource::new(
        move || (n.clone(), bump.get()),
        |(n, _)| async move {
            // The page's name may be a spec with several instances: take `name-*` too.
            let exact = process_history(Some(n.clone()), None, None, Some(100)).await?;
            if exact.events.is_empty() {
                process_history(None, Some(format!("{n}-")), None, Some(100)).await
            } else {
                Ok(exact)
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <Detail d history /> }.into_any(),
                    Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Detail(
    d: DetailView,
    history: Resource<Result<crate::model::HistoryPage, crate::error::AppError>>,
) -> impl IntoView {
    let me = use_me();
    let live = expect_context::<Live>();
    let initial = d.instances.clone();
    let base = d.base.clone();
    let instances = Memo::new(move |_| match live.processes.get() {
        Some(t) => t.into_values().filter(|p| p.base == base).collect::<Vec<_>>(),
        None => initial.clone(),
    });
    // The instance whose CPU, memory and log are shown: the first, or the one picked.
    let names: Vec<String> = d.instances.iter().map(|p| p.name.clone()).collect();
    let shown = RwSignal::new(names.first().cloned().unwrap_or_else(|| d.base.clone()));
    let picker = (names.len() > 1).then(|| {
        view! {
            <label class="instance-picker">
                "CPU, memory and log of "
                <select on:change=move |ev| shown.set(event_target_value(&ev))>
                    {names.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                </select>
            </label>
        }
    });
    // CPU/memory: polled while the page is visible, seeded with the server's sample.
    let res = Resources::provide(Some(d.base.clone()));
    res.record(
        chrono::Utc::now(),
        d.instances
            .iter()
            .filter_map(|p| {
                Some(ResourceUse { name: p.name.clone(), cpu_percent: p.cpu_percent?, memory_bytes: p.memory_bytes? })
            })
            .collect(),
    );
    let hooks = hooks_of(&d.spec);
    let spec_rows = spec_rows(&d.spec);
    let edit = (me.can_operate).then(|| {
        if d.read_only {
            view! { <p class="readonly">{READ_ONLY_REASON}</p> }.into_any()
        } else {
            view! {
                <a class="button secondary" href=format!("/processes/{}/edit", d.base)>"Edit"</a>
                <a class="button danger" href=format!("/processes/{}/unregister", d.base)>"Unregister"</a>
            }
            .into_any()
        }
    });
    view! {
        <p class="muted">{format!("Spec {} · defined by {}", d.base, origin_words(&d.origin))}</p>
        <section aria-labelledby="inst-h">
            <h2 id="inst-h">"Instances"</h2>
            <InstanceList instances can_operate=me.can_operate />
            <div class="toolbar">{edit}{picker}</div>
        </section>
        <div class="two-col">
            <section aria-labelledby="spec-h">
                <h2 id="spec-h">"Spec"</h2>
                <dl class="spec">
                    {spec_rows.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
                </dl>
            </section>
            <section aria-labelledby="res-h">
                <h2 id="res-h">"CPU and memory"</h2>
                {move || view! { <ResourceChart name=shown.get() /> }}
            </section>
        </div>
        <section aria-labelledby="tl-h">
            <h2 id="tl-h">"Timeline"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Ok(page) => view! { <Timeline events=page.events show_name=true /> }.into_any(),
                        Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section aria-labelledby="log-h">
            <h2 id="log-h">"Logs"</h2>
            {move || view! { <LogTail name=shown.get() /> }}
        </section>
        <section aria-labelledby="hooks-h">
            <h2 id="hooks-h">"Hooks"</h2>
            {if hooks.is_empty() {
                view! { <p class="empty">"No hooks configured."</p> }.into_any()
            } else {
                view! {
                    <table class="plain">
                        <thead>
                            <tr>
                                <th scope="col">"Phase"</th>
                                <th scope="col">"Hook name"</th>
                                <th scope="col">"Hook command"</th>
                                <th scope="col">"Failure mode"</th>
                                <th scope="col">"Run mode"</th>
                                <th scope="col">"Timeout"</th>
                                <th scope="col">"Last run"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {hooks
                                .into_iter()
                                .map(|h| {
                                    let phase = HOOK_PHASES.iter().find(|(p, _)| *p == h.phase).map_or(h.phase.clone(), |(_, l)| l.to_string());
                                    let hook_name = h.name.clone();
                                    view! {
                                        <tr>
                                            <td>{phase}</td>
                                            <td>{h.name}</td>
                                            <td class="mono">{h.command}</td>
                                            <td>{or_default(h.failure_mode, "fail")}</td>
                                            <td>{or_default(h.run_mode, "blocking")}</td>
                                            <td>{or_default(h.timeout, "30s")}</td>
                                            <td>
                                                <Transition fallback=|| "…">
                                                    {
                                                        let hook_name = hook_name.clone();
                                                        move || {
                                                            let hook_name = hook_name.clone();
                                                            Suspend::new(async move {
                                                                let events = history.await.map(|p| p.events).unwrap_or_default();
                                                                hook_run_view(last_hook_run(&events, &hook_name))
                                                            })
                                                        }
                                                    }
                                                </Transition>
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any()
            }}
        </section>
    }
}

/// The instances with state and (for operators) Start/Stop/Restart.
#[component]
fn InstanceList(instances: Memo<Vec<ProcessInfo>>, can_operate: bool) -> impl IntoView {
    let start = ServerAction::<StartProcess>::new();
    let stop = ServerAction::<StopProcess>::new();
    let restart = ServerAction::<RestartProcess>::new();
    let error = move || {
        fn err<T>(r: Option<Result<T, crate::error::AppError>>) -> Option<String> {
            r.and_then(Result::err).map(|e| e.to_string())
        }
        err(start.value().get()).or_else(|| err(stop.value().get())).or_else(|| err(restart.value().get()))
    };
    view! {
        {move || error().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        <table class="processes">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"PID"</th>
                    <th scope="col">"Restarts"</th>
                    {can_operate.then(|| view! { <th scope="col">"Actions"</th> })}
                </tr>
            </thead>
            <tbody>
                <For
                    each=move || instances.get()
                    key=|p| (p.name.clone(), p.state.clone(), p.pid, p.restarts)
                    children=move |p| {
                        let alive = matches!(p.state.as_str(), "running" | "starting" | "stopping");
                        let stoppable = !matches!(p.state.as_str(), "stopped" | "exited" | "fatal");
                        let (n_start, n_stop, n_restart) = (p.name.clone(), p.name.clone(), p.name.clone());
                        view! {
                            <tr>
                                <td class="name">{p.name.clone()}</td>
                                <td><span class=format!("state state-{}", p.state)>{p.state.clone()}</span></td>
                                <td class="num">{p.pid.map(|x| x.to_string()).unwrap_or_default()}</td>
                                <td class="num">{p.restarts}</td>
                                {can_operate.then(|| view! {
                                    <td class="actions">
                                        <ActionForm action=start attr:class="inline">
                                            <input type="hidden" name="name" value=n_start.clone() />
                                            <button type="submit" disabled=alive>"Start"</button>
                                        </ActionForm>
                                        <ActionForm action=stop attr:class="inline">
                                            <input type="hidden" name="name" value=n_stop.clone() />
                                            <button type="submit" disabled=!stoppable>"Stop"</button>
                                        </ActionForm>
                                        <ActionForm action=restart attr:class="inline">
                                            <input type="hidden" name="name" value=n_restart.clone() />
                                            <button type="submit">"Restart"</button>
                                        </ActionForm>
                                    </td>
                                })}
                            </tr>
                        }
                    }
                />
            </tbody>
        </table>
    }
}

fn or_default(v: String, default: &str) -> String {
    if v.is_empty() {
        default.to_string()
    } else {
        v
    }
}

fn origin_words(origin: &str) -> &'static str {
    match origin {
        "config" => "the config file",
        "programs_dir" => "the programs directory",
        _ => "the API",
    }
}

/// The spec's keys and values as text (hooks are shown in their own section).
fn spec_rows(spec: &Value) -> Vec<(String, String)> {
    let Some(obj) = spec.as_object() else { return Vec::new() };
    obj.iter()
        .filter(|(k, _)| k.as_str() != "lifecycle")
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Object(m) if k == "env" => m
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("\n"),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

/// The newest run of the hook `name` among the history events (`hook_finished`, with
/// the hook's name in `detail.hook`).
fn last_hook_run(events: &[HistoryEvent], name: &str) -> Option<HistoryEvent> {
    events
        .iter()
        .find(|e| e.kind == "hook_finished" && e.detail.get("hook").and_then(Value::as_str) == Some(name))
        .cloned()
}

/// A hook run: when, how it ended (result, exit code, duration) and its output excerpt.
fn hook_run_view(run: Option<HistoryEvent>) -> AnyView {
    let Some(e) = run else { return view! { <span class="muted">"never run"</span> }.into_any() };
    let ok = e.detail.get("result").and_then(|r| r.get("status")).and_then(Value::as_str) == Some("succeeded");
    let output = e.detail.get("output").and_then(Value::as_str).filter(|o| !o.trim().is_empty()).map(|o| {
        view! {
            <details>
                <summary>"Output"</summary>
                <pre class="log hook-output">{o.to_string()}</pre>
            </details>
        }
    });
    view! {
        <div class=if ok { "hook-run ok" } else { "hook-run bad" } data-instance=e.name.clone()>
            <time datetime=e.at.to_rfc3339()>{e.at.format("%H:%M:%S").to_string()}</time>
            " · "
            <span class="what">{describe_hook_run(&e.detail)}</span>
            {output}
        </div>
    }
    .into_any()
}
