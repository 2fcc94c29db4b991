//! `/groups` — every `[[groups]]` entry: its state (running / degraded / stopped), its
//! members and their instances (live), and "Start" / "Stop" for operators. The buttons
//! are forms, so they work before the WASM has loaded.

use crate::components::page::{use_me, Page};
use crate::live::Live;
use crate::model::{group_state, GroupInfo, GroupMember, ProcessInfo};
use crate::server_fns::groups::{list_groups, StartGroup, StopGroup};
use leptos::prelude::*;

/// The Groups page.
#[component]
pub fn GroupsPage() -> impl IntoView {
    view! {
        <Page title="Groups".to_string()>
            <GroupsContent />
        </Page>
    }
}

#[component]
fn GroupsContent() -> impl IntoView {
    let me = use_me();
    let groups = Resource::new(|| (), |_| list_groups());
    let start = ServerAction::<StartGroup>::new();
    let stop = ServerAction::<StopGroup>::new();
    let error = move || {
        fn err<T>(r: Option<Result<T, crate::error::AppError>>) -> Option<String> {
            r.and_then(Result::err).map(|e| e.to_string())
        }
        err(start.value().get()).or_else(|| err(stop.value().get()))
    };
    view! {
        {move || error().map(|e| view! { <p role="alert" class="error">{e}</p> })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match groups.await {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="empty">"No groups are configured ([[groups]] in the config file)."</p> }.into_any()
                    }
                    Ok(list) => list
                        .into_iter()
                        .map(|g| view! { <GroupCard g can_operate=me.can_operate start stop /> })
                        .collect_view()
                        .into_any(),
                    Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The members of `g` with their instances from the live table (once it has arrived).
fn live_members(g: &GroupInfo, table: Option<&std::collections::BTreeMap<String, ProcessInfo>>) -> Vec<GroupMember> {
    let Some(table) = table else { return g.members.clone() };
    g.members
        .iter()
        .map(|m| {
            let instances: Vec<ProcessInfo> = table.values().filter(|p| p.base == m.name).cloned().collect();
            GroupMember {
                name: m.name.clone(),
                state: group_state(&instances).to_string(),
                registered: !instances.is_empty(),
                instances,
            }
        })
        .collect()
}

#[component]
fn GroupCard(
    g: GroupInfo,
    can_operate: bool,
    start: ServerAction<StartGroup>,
    stop: ServerAction<StopGroup>,
) -> impl IntoView {
    let live = expect_context::<Live>();
    let name = g.name.clone();
    let heading_id = format!("group-{}", g.name);
    let members = Memo::new(move |_| live.processes.with(|t| live_members(&g, t.as_ref())));
    let state = Memo::new(move |_| members.with(|ms| group_state(ms.iter().flat_map(|m| &m.instances)).to_string()));
    let controls = can_operate.then(|| {
        let (n1, n2) = (name.clone(), name.clone());
        view! {
            <div class="toolbar">
                <ActionForm action=start attr:class="inline">
                    <input type="hidden" name="name" value=n1 />
                    <button type="submit" disabled=move || start.pending().get()>"Start"</button>
                </ActionForm>
                <ActionForm action=stop attr:class="inline">
                    <input type="hidden" name="name" value=n2 />
                    <button type="submit" class="secondary" disabled=move || stop.pending().get()>"Stop"</button>
                </ActionForm>
            </div>
        }
    });
    view! {
        <section class="card group" aria-labelledby=heading_id.clone() data-group=name.clone()>
            <h2 id=heading_id.clone()>
                {name.clone()} " "
                <span class=move || format!("state state-{}", state.get())>{move || state.get()}</span>
            </h2>
            {controls}
            <table class="plain">
                <thead>
                    <tr>
                        <th scope="col">"Member"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Instances"</th>
                    </tr>
                </thead>
                <tbody>
                    <For
                        each=move || members.get()
                        key=|m| (m.name.clone(), m.state.clone(), m.instances.iter().map(|p| p.state.clone()).collect::<Vec<_>>())
                        children=|m| {
                            let state = if m.registered { m.state.clone() } else { "not registered".to_string() };
                            view! {
                                <tr data-member=m.name.clone()>
                                    <td class="name"><a href=format!("/processes/{}", m.name)>{m.name.clone()}</a></td>
                                    <td><span class=format!("state state-{}", m.state)>{state}</span></td>
                                    <td>
                                        {m
                                            .instances
                                            .into_iter()
                                            .map(|p| view! {
                                                <span class="instance">
                                                    {p.name.clone()} ": "
                                                    <span class=format!("state state-{}", p.state)>{p.state.clone()}</span>
                                                </span>
                                                " "
                                            })
                                            .collect_view()}
                                    </td>
                                </tr>
                            }
                        }
                    />
                </tbody>
            </table>
        </section>
    }
}
