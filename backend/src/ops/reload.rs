//! Hot reload: bring the running registrations in line with a freshly loaded
//! configuration, touching only what changed.
//!
//! The configuration (main file and programs directory) is the truth for the specs it
//! defines. Reconciling compares it with what the supervisor runs *from files*
//! ([`Origin::Config`] and [`Origin::ProgramsDir`]); API-registered processes are left
//! alone unless a file now defines the same name, in which case the file wins (as at
//! boot). Per program:
//!
//! * **new** in the files → registered and started;
//! * **gone** from the files → stopped (stop hooks, stop signal, timeout) and removed;
//! * **changed** spec → updated: the supervisor restarts its instances with the new
//!   spec and adds or removes instances when `instances` changed;
//! * **unchanged** → nothing at all: its processes keep running with the same pid.
//!
//! Removals go first (they may free names and resources), then additions and updates in
//! start order (priority, then name), the same order a boot uses.

use super::OpError;
use crate::state::AppState;
use std::collections::BTreeMap;
use supervisor::{Origin, ProcessSpec, RegisterOptions, Selector};

/// What a reload did, by spec name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Registered and started.
    pub added: Vec<String>,
    /// Restarted with a new spec.
    pub updated: Vec<String>,
    /// Stopped and removed.
    pub removed: Vec<String>,
    /// Left exactly as they were.
    pub unchanged: Vec<String>,
    /// Could not be applied, with the reason; the rest of the reload still happened.
    pub failed: Vec<(String, String)>,
}

/// Applies `entries` (every program the configuration now defines, with its origin).
/// Returns once every change is persisted.
pub async fn reconcile(st: &AppState, entries: &[(ProcessSpec, Origin)]) -> Result<ReloadReport, OpError> {
    let sup = &st.supervisor;
    let snapshot = sup.snapshot().await?;
    // The registered specs and their origins (one status per instance; keep one per base).
    let mut running: BTreeMap<String, Origin> = BTreeMap::new();
    for p in &snapshot.processes {
        running.entry(p.base.clone()).or_insert(p.origin);
    }
    let wanted: BTreeMap<&str, &(ProcessSpec, Origin)> = entries.iter().map(|e| (e.0.name.as_str(), e)).collect();
    let mut report = ReloadReport::default();
    let mut last_seq = snapshot.seq;

    // 1. Programs the files no longer define.
    for (name, origin) in &running {
        if *origin != Origin::Api && !wanted.contains_key(name.as_str()) {
            match sup.unregister(Selector::Base(name.clone())).await {
                Ok(ticket) => {
                    last_seq = last_seq.max(ticket.wait().await);
                    report.removed.push(name.clone());
                }
                Err(e) => report.failed.push((name.clone(), e.to_string())),
            }
        }
    }

    // 2. New and changed programs, in start order.
    let mut order: Vec<&(ProcessSpec, Origin)> = entries.iter().collect();
    order.sort_by(|a, b| (a.0.priority, &a.0.name).cmp(&(b.0.priority, &b.0.name)));
    for (spec, origin) in order {
        let name = spec.name.clone();
        match running.get(&name) {
            None => {
                match sup.register(spec.clone(), RegisterOptions { origin: *origin, ..RegisterOptions::api() }).await {
                    Ok(ack) => {
                        last_seq = last_seq.max(ack.seq);
                        report.failed.extend(ack.failed);
                        report.added.push(name);
                    }
                    Err(e) => report.failed.push((name, e.to_string())),
                }
            }
            Some(current_origin) => {
                let current = match sup.spec(&name).await {
                    Ok((current, _)) => current,
                    Err(e) => {
                        report.failed.push((name, e.to_string()));
                        continue;
                    }
                };
                if current == *spec && current_origin == origin {
                    report.unchanged.push(name);
                    continue;
                }
                if current_origin != origin {
                    // A file took over a name (from the API or from the other kind of
                    // file): replace the registration so its origin is right.
                    tracing::warn!(process = %name, from = ?current_origin, to = ?origin, "a configuration file now defines this process; it replaces the existing registration");
                    let replaced = async {
                        let seq = sup.unregister(Selector::Base(name.clone())).await?.wait().await;
                        let ack = sup
                            .register(spec.clone(), RegisterOptions { origin: *origin, ..RegisterOptions::api() })
                            .await?;
                        Ok::<_, supervisor::Error>(seq.max(ack.seq))
                    };
                    match replaced.await {
                        Ok(seq) => {
                            last_seq = last_seq.max(seq);
                            report.updated.push(name);
                        }
                        Err(e) => report.failed.push((name, e.to_string())),
                    }
                    continue;
                }
                match sup.update(spec.clone()).await {
                    Ok(ack) => {
                        last_seq = last_seq.max(ack.seq);
                        report.failed.extend(ack.failed);
                        report.updated.push(name);
                    }
                    Err(e) => report.failed.push((name, e.to_string())),
                }
            }
        }
    }
    st.recorder.wait_persisted(last_seq).await?;
    Ok(report)
}
