//! Groups (`[[groups]]` of the config): members started in priority order, stopped in the
//! reverse order, and watched together. A group is a view over the supervisor handle: it
//! owns no process and keeps no state of its own. A reload of the configuration replaces
//! the groups ([`Groups::replace`]); an operation under way keeps the groups it started with.

use super::OpError;
use crate::auth::{Permission, Principal};
use crate::state::AppState;
use serde::Serialize;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use supervisor::{Ack, ProcessStatus, Selector};
use tokio::time::Instant;

/// A configured group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// Process (spec) names, in the order of the config.
    pub members: Vec<String>,
}

/// The configured groups, replaced as a whole when the configuration is reloaded.
#[derive(Debug, Default)]
pub struct Groups(RwLock<Arc<Vec<Group>>>);

impl Groups {
    /// The groups of the configuration the daemon started with.
    pub fn new(groups: Vec<Group>) -> Self {
        Groups(RwLock::new(Arc::new(groups)))
    }

    /// The groups as they are now.
    pub fn current(&self) -> Arc<Vec<Group>> {
        // The lock guards one pointer: a panic while it was held left nothing half-done.
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Replaces the groups (a reload); returns whether they changed.
    pub fn replace(&self, groups: Vec<Group>) -> bool {
        let mut current = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if **current == groups {
            return false;
        }
        *current = Arc::new(groups);
        true
    }
}

/// How much of a group (or of one member) runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    /// Every instance runs.
    Running,
    /// Some instances run, others do not.
    Degraded,
    /// No instance runs (or there is none).
    Stopped,
}

impl GroupState {
    /// The state of a set of instances: all running, some, or none.
    pub fn of<'a>(instances: impl IntoIterator<Item = &'a ProcessStatus>) -> GroupState {
        let (mut total, mut running) = (0usize, 0usize);
        for p in instances {
            total += 1;
            running += usize::from(p.running());
        }
        match running {
            0 => GroupState::Stopped,
            r if r == total => GroupState::Running,
            _ => GroupState::Degraded,
        }
    }
}

/// One member of a group and its instances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    /// The process (spec) name.
    pub name: String,
    /// How much of it runs.
    pub state: GroupState,
    /// False when the process is no longer registered (a programs-directory process removed
    /// through the API); it then has no instances.
    pub registered: bool,
    /// Its instances, sorted by name.
    pub instances: Vec<ProcessStatus>,
}

/// A group, its state and its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupStatus {
    /// The group's name.
    pub name: String,
    /// Running when every instance of every member runs, stopped when none does.
    pub state: GroupState,
    /// The members, in the order of the config.
    pub members: Vec<MemberStatus>,
}

fn find(st: &AppState, name: &str) -> Result<Group, OpError> {
    let groups = st.groups.current();
    groups.iter().find(|g| g.name == name).cloned().ok_or_else(|| OpError::NotFound(format!("no group named {name:?}")))
}

async fn member_status(st: &AppState, member: &str) -> Result<MemberStatus, OpError> {
    let instances = st.supervisor.status(Selector::Base(member.to_string())).await?;
    Ok(MemberStatus {
        name: member.to_string(),
        state: GroupState::of(&instances),
        registered: !instances.is_empty(),
        instances,
    })
}

async fn group_status(st: &AppState, group: &Group) -> Result<GroupStatus, OpError> {
    let mut members = Vec::with_capacity(group.members.len());
    for m in &group.members {
        members.push(member_status(st, m).await?);
    }
    let state = GroupState::of(members.iter().flat_map(|m| &m.instances));
    Ok(GroupStatus { name: group.name.clone(), state, members })
}

/// Every group with its state, in the order of the config.
pub async fn list(st: &AppState, who: &Principal) -> Result<Vec<GroupStatus>, OpError> {
    who.require(Permission::Read)?;
    let groups = st.groups.current();
    let mut out = Vec::with_capacity(groups.len());
    for g in groups.iter() {
        out.push(group_status(st, g).await?);
    }
    Ok(out)
}

/// One group's state and members.
pub async fn status(st: &AppState, who: &Principal, name: &str) -> Result<GroupStatus, OpError> {
    who.require(Permission::Read)?;
    group_status(st, &find(st, name)?).await
}

/// The registered members in start order: lower `priority` first, ties in config order.
/// Members that are no longer registered are left out.
async fn start_order(st: &AppState, group: &Group) -> Result<Vec<String>, OpError> {
    let mut members = Vec::new();
    for (i, m) in group.members.iter().enumerate() {
        match st.supervisor.spec(m.clone()).await {
            Ok((spec, _)) => members.push((spec.priority, i, m.clone())),
            Err(supervisor::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    members.sort();
    Ok(members.into_iter().map(|(_, _, m)| m).collect())
}

fn merge(total: &mut Ack, ack: Ack) {
    total.seq = total.seq.max(ack.seq);
    total.names.extend(ack.names);
    total.failed.extend(ack.failed);
}

/// Starts every member, one after the other in priority order; returns once the wishes
/// are persisted. Instances that could not be started are in [`Ack::failed`].
pub async fn start(st: &AppState, who: &Principal, name: &str) -> Result<Ack, OpError> {
    who.require(Permission::Operate)?;
    let group = find(st, name)?;
    let mut total = Ack::default();
    for member in start_order(st, &group).await? {
        merge(&mut total, st.supervisor.start(Selector::Base(member)).await?);
    }
    st.recorder.wait_persisted(total.seq).await?;
    Ok(total)
}

/// Stops every member in the reverse of the start order, each one stopped before the next
/// is asked to stop, waiting at most `wait` in all (`None`: until done). Returns once what
/// happened is persisted, and whether everything had stopped within `wait`.
pub async fn stop(st: &AppState, who: &Principal, name: &str, wait: Option<Duration>) -> Result<(Ack, bool), OpError> {
    who.require(Permission::Operate)?;
    let group = find(st, name)?;
    let deadline = wait.map(|w| Instant::now() + w);
    let mut total = Ack::default();
    let mut all_stopped = true;
    for member in start_order(st, &group).await?.into_iter().rev() {
        let ticket = st.supervisor.stop(Selector::Base(member)).await?;
        let ack = ticket.ack.clone();
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match ticket.wait_at_most(left).await {
            Some(seq) => total.seq = total.seq.max(seq),
            None => all_stopped = false,
        }
        merge(&mut total, ack);
    }
    st.recorder.wait_persisted(total.seq).await?;
    Ok((total, all_stopped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor::{Desired, Origin, ProcessState};

    fn instance(state: ProcessState) -> ProcessStatus {
        ProcessStatus {
            name: "x".into(),
            base: "x".into(),
            state,
            desired: Desired::Running,
            origin: Origin::Config,
            restarts: 0,
            started_at: None,
            stopped_at: None,
            last_exit_code: None,
            last_exit_signal: None,
        }
    }

    #[test]
    fn state_of_a_set_of_instances() {
        let running = || instance(ProcessState::Running { pid: 1, since: chrono::Utc::now() });
        let starting = || instance(ProcessState::Starting { pid: 1, since: chrono::Utc::now() });
        let stopped = || instance(ProcessState::Stopped);
        let fatal = || instance(ProcessState::Fatal { reason: "x".into() });
        for (set, want) in [
            (vec![], GroupState::Stopped),
            (vec![running()], GroupState::Running),
            (vec![running(), running()], GroupState::Running),
            (vec![running(), stopped()], GroupState::Degraded),
            (vec![starting(), running()], GroupState::Degraded),
            (vec![stopped(), fatal()], GroupState::Stopped),
            (vec![starting()], GroupState::Stopped),
        ] {
            assert_eq!(GroupState::of(&set), want, "{set:?}");
        }
    }
}
