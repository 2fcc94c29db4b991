//! Process operations: register, start, stop, unregister, status.

use super::OpError;
use crate::auth::{Permission, Principal};
use crate::state::AppState;
use crate::store::processes;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use supervisor::{Ack, Desired, Origin, ProcessSpec, ProcessStatus, RegisterOptions, Selector, SupervisorHandle};

/// Returns `ack` once every event up to its sequence number is committed.
async fn persisted(st: &AppState, ack: Ack) -> Result<Ack, OpError> {
    st.recorder.wait_persisted(ack.seq).await?;
    Ok(ack)
}

/// Registers an API-defined spec and starts its instances; returns once the
/// registration is persisted.
pub async fn register(st: &AppState, who: &Principal, spec: ProcessSpec) -> Result<Ack, OpError> {
    who.require(Permission::Operate)?;
    persisted(st, st.supervisor.register(spec, RegisterOptions::api()).await?).await
}

/// Replaces an API-registered spec (see [`SupervisorHandle::update`]: instances added or
/// removed, changed processes restarted); returns once the new spec is persisted.
/// Processes defined in the main config file are read-only here (edit the file).
pub async fn update(st: &AppState, who: &Principal, spec: ProcessSpec) -> Result<Ack, OpError> {
    who.require(Permission::Operate)?;
    let (_, origin) = st.supervisor.spec(spec.name.clone()).await?;
    if origin == Origin::Config {
        return Err(OpError::Conflict(format!(
            "process {:?} is defined in the main config file and cannot be changed through the API; edit the config file instead",
            spec.name
        )));
    }
    persisted(st, st.supervisor.update(spec).await?).await
}

/// Starts the matching instances; returns once the wish is persisted.
pub async fn start(st: &AppState, who: &Principal, selector: Selector) -> Result<Ack, OpError> {
    who.require(Permission::Operate)?;
    persisted(st, st.supervisor.start(selector).await?).await
}

/// Stops and starts the matching instances.
pub async fn restart(st: &AppState, who: &Principal, selector: Selector) -> Result<Ack, OpError> {
    who.require(Permission::Operate)?;
    persisted(st, st.supervisor.restart(selector).await?).await
}

/// Stops the matching instances. Waits until they have stopped, at most `wait`
/// (`None`: until done — the stop timeout and SIGKILL bound it). Returns once what
/// happened by then (the wish, and the exits if they came in time) is persisted, and
/// whether every instance had stopped within `wait`.
pub async fn stop(
    st: &AppState,
    who: &Principal,
    selector: Selector,
    wait: Option<Duration>,
) -> Result<(Ack, bool), OpError> {
    who.require(Permission::Operate)?;
    let ticket = st.supervisor.stop(selector).await?;
    finish(st, ticket, wait).await
}

/// Stops and removes the matching instances; config-file processes are read-only here.
pub async fn unregister(
    st: &AppState,
    who: &Principal,
    selector: Selector,
    wait: Option<Duration>,
) -> Result<(Ack, bool), OpError> {
    who.require(Permission::Operate)?;
    let matching = st.supervisor.status(selector.clone()).await?;
    if matching.is_empty() {
        return Err(OpError::NotFound(format!("no process matches {}", describe(&selector))));
    }
    if let Some(locked) = matching.iter().find(|p| p.origin == Origin::Config) {
        return Err(OpError::Conflict(format!(
            "process {:?} is defined in the main config file and cannot be removed through the API; edit the config file instead",
            locked.name
        )));
    }
    let ticket = st.supervisor.unregister(selector).await?;
    finish(st, ticket, wait).await
}

/// Waits for a stop (at most `wait`), then for its events to be persisted.
async fn finish(st: &AppState, ticket: supervisor::StopTicket, wait: Option<Duration>) -> Result<(Ack, bool), OpError> {
    let ack = ticket.ack.clone();
    let ended = ticket.wait_at_most(wait).await;
    st.recorder.wait_persisted(ended.unwrap_or(ack.seq)).await?;
    Ok((ack, ended.is_some()))
}

/// Status of the matching instances.
pub async fn status(st: &AppState, who: &Principal, selector: Selector) -> Result<Vec<ProcessStatus>, OpError> {
    who.require(Permission::Read)?;
    Ok(st.supervisor.status(selector).await?)
}

/// The spec registered under `name` (a spec name or one of its instance names) and where
/// it comes from.
pub async fn spec(st: &AppState, who: &Principal, name: &str) -> Result<(ProcessSpec, Origin), OpError> {
    who.require(Permission::Read)?;
    match st.supervisor.spec(name).await {
        Err(supervisor::Error::NotFound(_)) => Err(OpError::NotFound(format!("no process named {name:?}"))),
        other => Ok(other?),
    }
}

/// Every instance at the current sequence number.
pub async fn snapshot(st: &AppState, who: &Principal) -> Result<supervisor::Snapshot, OpError> {
    who.require(Permission::Read)?;
    Ok(st.supervisor.snapshot().await?)
}

/// A human description of a selector for messages.
pub fn describe(s: &Selector) -> String {
    match s {
        Selector::Name(n) => format!("name {n:?}"),
        Selector::Base(b) => format!("base {b:?}"),
        Selector::Wildcard(w) => format!("wildcard {w:?}"),
        Selector::All => "everything".to_string(),
    }
}

/// Each instance's wish, by instance name.
type Wishes = BTreeMap<String, Desired>;

/// Registers every process: the config file's and programs directory's (the files are
/// the truth for their specs; stored wishes are kept), then the API-registered ones
/// from the store, in priority order. Processes still running from a previous daemon
/// are adopted rather than started twice.
///
/// What the configuration no longer defines — a program removed from it, or instances
/// beyond a lowered `instances` count — is *retired*: whatever of it survived a crash is
/// adopted and stopped, then it is unregistered, so nothing keeps running unmanaged.
pub async fn restore(
    db: &sea_orm::DatabaseConnection,
    sup: &SupervisorHandle,
    entries: &[(ProcessSpec, Origin)],
) -> Result<(), OpError> {
    let (stored, unreadable) = processes::load_all(db).await?;
    for bad in &unreadable {
        tracing::error!(process = %bad.name, reason = %bad.reason, "a stored registration cannot be read; it is left in the store and not started");
    }
    let mut by_name: BTreeMap<String, processes::StoredProcess> =
        stored.into_iter().map(|s| (s.spec.name.clone(), s)).collect();
    let from_files: BTreeSet<&str> = entries.iter().map(|(spec, _)| spec.name.as_str()).collect();

    let mut plan: Vec<(ProcessSpec, Origin, Option<Wishes>)> = Vec::new();
    for (spec, origin) in entries {
        let names = spec.instance_names();
        let wishes = match by_name.remove(&spec.name) {
            None => None,
            Some(old) => {
                let wishes: Wishes = names
                    .iter()
                    .map(|n| (n.clone(), old.instances.get(n).copied().unwrap_or(Desired::Running)))
                    .collect();
                let gone: Wishes = old
                    .instances
                    .keys()
                    .filter(|n| !names.contains(n))
                    .map(|n| (n.clone(), Desired::Stopped))
                    .collect();
                if !gone.is_empty() {
                    retire(db, sup, old.spec, old.origin, gone, false).await?;
                }
                Some(wishes)
            }
        };
        plan.push((spec.clone(), *origin, wishes));
    }
    for (name, s) in by_name {
        match s.origin {
            Origin::Api if !from_files.contains(name.as_str()) => plan.push((s.spec, Origin::Api, Some(s.instances))),
            Origin::Api => {
                tracing::warn!(process = %name, "an API-registered process has the name of a configured one; the configured one wins")
            }
            _ => {
                tracing::info!(process = %name, "no longer in the configuration: stopping what is left of it and removing it");
                let all = s.instances.keys().map(|n| (n.clone(), Desired::Stopped)).collect();
                retire(db, sup, s.spec, s.origin, all, true).await?;
            }
        }
    }
    // Dependencies first, then lower priority; names break ties so boots are repeatable.
    // (A dependency problem is reported when the spec is registered.)
    plan.sort_by(|a, b| (a.0.priority, &a.0.name).cmp(&(b.0.priority, &b.0.name)));
    let mut specs: Vec<ProcessSpec> = plan.iter().map(|(s, _, _)| s.clone()).collect();
    if supervisor::order::sort_specs(&mut specs).is_ok() {
        let rank: BTreeMap<String, usize> = specs.into_iter().enumerate().map(|(i, s)| (s.name, i)).collect();
        plan.sort_by_key(|(s, _, _)| rank.get(&s.name).copied().unwrap_or(usize::MAX));
    }
    for (spec, origin, instances) in plan {
        let name = spec.name.clone();
        let opts = RegisterOptions { origin, instances, start: true, adopt: true };
        match sup.register(spec, opts).await {
            Ok(ack) => {
                for (n, why) in ack.failed {
                    tracing::error!(process = %n, reason = %why, "could not start");
                }
            }
            Err(e) => {
                if origin == Origin::Api {
                    tracing::error!(process = %name, error = %e, "a stored registration could not be restored");
                } else {
                    return Err(OpError::Invalid(vec![(format!("processes.{name}"), e.to_string())]));
                }
            }
        }
    }
    Ok(())
}

/// Stops whatever still runs of `instances` of a stored spec (adopting survivors of a
/// crash through their PID files) and unregisters them. The store follows through the
/// recorder (the events of this registration and removal); when the old spec cannot even
/// be registered again, its rows are deleted here. `whole`: the spec itself is gone,
/// not just some of its instances.
async fn retire(
    db: &sea_orm::DatabaseConnection,
    sup: &SupervisorHandle,
    spec: ProcessSpec,
    origin: Origin,
    instances: Wishes,
    whole: bool,
) -> Result<(), OpError> {
    let name = spec.name.clone();
    let names: Vec<String> = instances.keys().cloned().collect();
    let opts = RegisterOptions { origin, instances: Some(instances), start: false, adopt: true };
    match sup.register(spec, opts).await {
        Ok(_) => {
            sup.unregister(Selector::Base(name)).await?.wait().await;
        }
        Err(e) => {
            // E.g. its work_dir is gone: nothing of it can be checked, but it must not linger.
            tracing::warn!(process = %name, error = %e, "could not check for leftover processes of a retired spec");
            if whole {
                processes::delete(db, &name).await?;
            } else {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                processes::delete_instances(db, &names).await?;
            }
        }
    }
    Ok(())
}
