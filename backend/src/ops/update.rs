//! `update`: replace the spec of a registered process, keeping each instance's wish.
//!
//! Interim version for the `platform` branch: the `engine` branch adds
//! `SupervisorHandle::update` and `backend::ops::processes::update`; once both are merged,
//! the API route should call that instead and this module can go. It works over the
//! existing handle: unregister (waiting for the stop), then register the new spec in
//! restore mode with the old wishes, and roll back to the old spec when the new one
//! cannot start.

use super::OpError;
use crate::auth::{Permission, Principal};
use crate::state::AppState;
use std::collections::BTreeMap;
use supervisor::{Ack, Desired, Origin, ProcessSpec, RegisterOptions, Selector};

/// Replaces the spec registered under `spec.name` and restarts its instances with it.
/// Instances that exist in both keep their wish; new ones (a higher `instances`) are wanted
/// running unless every old instance was wanted stopped. 404 for an unknown name, 409 for a
/// process of the main config file (read-only here), 400 when the new spec is invalid or
/// cannot start (the old spec is then restored).
pub async fn update(st: &AppState, who: &Principal, spec: ProcessSpec) -> Result<Ack, OpError> {
    who.require(Permission::Operate)?;
    let problems = spec.validate();
    if !problems.is_empty() {
        return Err(OpError::Invalid(problems.into_iter().map(|(k, m)| (k.to_string(), m)).collect()));
    }
    let sup = &st.supervisor;
    let name = spec.name.clone();
    let (old, origin) = match sup.spec(name.clone()).await {
        Ok((old, origin)) if old.name == name => (old, origin),
        Ok(_) | Err(supervisor::Error::NotFound(_)) => {
            return Err(OpError::NotFound(format!("no process named {name:?} is registered")))
        }
        Err(e) => return Err(e.into()),
    };
    if origin == Origin::Config {
        return Err(OpError::Conflict(format!(
            "process {name:?} is defined in the main config file and cannot be changed through the API; edit the config file instead"
        )));
    }
    let current = sup.status(Selector::Base(name.clone())).await?;
    let old_wishes: BTreeMap<String, Desired> = current.iter().map(|p| (p.name.clone(), p.desired)).collect();
    let fresh = if old_wishes.values().all(|d| *d == Desired::Stopped) && !old_wishes.is_empty() {
        Desired::Stopped
    } else {
        Desired::Running
    };
    let wishes: BTreeMap<String, Desired> =
        spec.instance_names().into_iter().map(|n| (n.clone(), old_wishes.get(&n).copied().unwrap_or(fresh))).collect();
    for n in wishes.keys().filter(|n| !old_wishes.contains_key(*n)) {
        if let Ok(other) = sup.status(Selector::Name(n.clone())).await {
            if let Some(p) = other.first() {
                return Err(OpError::Conflict(format!(
                    "instance name {n:?} is taken by an instance of process {:?}",
                    p.base
                )));
            }
        }
    }

    sup.unregister(Selector::Base(name.clone())).await?.wait().await;
    let opts = |instances| RegisterOptions { origin, instances: Some(instances), start: true, adopt: false };
    let refusal = match sup.register(spec, opts(wishes)).await {
        Ok(ack) if ack.failed.is_empty() => {
            st.recorder.wait_persisted(ack.seq).await?;
            return Ok(ack);
        }
        Ok(ack) => {
            sup.unregister(Selector::Base(name.clone())).await?.wait().await;
            OpError::Invalid(
                ack.failed.into_iter().map(|(n, why)| (String::new(), format!("could not start {n}: {why}"))).collect(),
            )
        }
        Err(e) => e.into(),
    };
    match sup.register(old, opts(old_wishes)).await {
        Ok(ack) => st.recorder.wait_persisted(ack.seq).await?,
        Err(e) => tracing::error!(process = %name, error = %e, "could not restore the old spec after a failed update"),
    }
    Err(refusal)
}
