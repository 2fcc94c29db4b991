//! Wire and view types shared by the server, the JSON API and the browser (serde only,
//! so they compile to WASM). Conversions from the supervisor's types live here under
//! the `ssr` feature.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One process instance as the API and the console show it. Field names follow
/// upstream provisr's status object (`name`, `running`, `pid`, `started_at`, `state`,
/// `restarts`, `provisioned`), so its scripts keep working.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// Instance name.
    pub name: String,
    /// The spec it belongs to.
    pub base: String,
    /// `starting` | `running` | `backoff` | `stopping` | `exited` | `fatal` | `stopped`.
    pub state: String,
    /// True in the `running` state.
    pub running: bool,
    /// Live process id.
    pub pid: Option<u32>,
    /// When the current (or last) process was spawned.
    pub started_at: Option<DateTime<Utc>>,
    /// When the last process exited.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Automatic restarts since the last explicit start.
    pub restarts: u32,
    /// What the operator asked for last: `running` | `stopped`.
    pub desired: String,
    /// `config` | `programs_dir` | `api`.
    pub origin: String,
    /// Defined in the main config file (read-only through the API).
    pub provisioned: bool,
    /// Exit code of the last exit.
    pub exit_code: Option<i32>,
    /// Signal of the last exit.
    pub exit_signal: Option<i32>,
    /// Why it is `fatal`.
    pub reason: Option<String>,
    /// When a restart is due (`backoff`).
    pub retry_at: Option<DateTime<Utc>>,
}

/// A message on the live WebSocket (`GET /api/ws`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WsMessage {
    /// The whole state at `seq`; sent first, and again after the client lagged.
    Snapshot {
        /// Sequence number the snapshot reflects.
        seq: u64,
        /// Every instance, by name.
        processes: Vec<ProcessInfo>,
        /// Every live job's status (`supervisor::jobs::JobStatus` as JSON), by name.
        #[serde(default)]
        jobs: Vec<serde_json::Value>,
        /// Every cronjob's status (`supervisor::cron::CronJobStatus` as JSON), by name.
        #[serde(default)]
        cronjobs: Vec<serde_json::Value>,
    },
    /// One change, in order (`seq` is one more than the previous message's).
    Event {
        /// Sequence number.
        seq: u64,
        /// When it happened.
        at: DateTime<Utc>,
        /// Instance (or spec) name.
        name: String,
        /// Event kind: `started`, `exited`, `stopping`, …
        kind: String,
        /// The instance after the change; `None` when it no longer exists.
        process: Option<Box<ProcessInfo>>,
        /// The event's own fields (pid, code, signal, decision, …).
        detail: serde_json::Value,
    },
}

/// The signed-in user, as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// User name.
    pub name: String,
    /// Role names.
    pub roles: Vec<String>,
    /// May start/stop/register.
    pub can_operate: bool,
}

#[cfg(feature = "ssr")]
mod convert {
    use super::*;
    use supervisor::{Desired, Origin, ProcessState, ProcessStatus};

    impl From<&ProcessStatus> for ProcessInfo {
        fn from(s: &ProcessStatus) -> Self {
            let (reason, retry_at) = match &s.state {
                ProcessState::Fatal { reason } => (Some(reason.clone()), None),
                ProcessState::Backoff { until, .. } => (None, Some(*until)),
                _ => (None, None),
            };
            Self {
                name: s.name.clone(),
                base: s.base.clone(),
                state: s.state.name().to_string(),
                running: s.running(),
                pid: s.state.pid(),
                started_at: s.started_at,
                stopped_at: s.stopped_at,
                restarts: s.restarts,
                desired: match s.desired {
                    Desired::Running => "running",
                    Desired::Stopped => "stopped",
                }
                .to_string(),
                origin: match s.origin {
                    Origin::Config => "config",
                    Origin::ProgramsDir => "programs_dir",
                    Origin::Api => "api",
                }
                .to_string(),
                provisioned: s.origin == Origin::Config,
                exit_code: s.last_exit_code,
                exit_signal: s.last_exit_signal,
                reason,
                retry_at,
            }
        }
    }

    impl From<&supervisor::Event> for WsMessage {
        fn from(e: &supervisor::Event) -> Self {
            let mut detail = serde_json::to_value(&e.kind).unwrap_or(serde_json::Value::Null);
            if let Some(obj) = detail.as_object_mut() {
                obj.remove("kind");
            }
            WsMessage::Event {
                seq: e.seq,
                at: e.at,
                name: e.name.clone(),
                kind: e.kind.name().to_string(),
                process: e.status.as_ref().map(|s| Box::new(ProcessInfo::from(s))),
                detail,
            }
        }
    }
}

/// Formats a duration in seconds as `3d 4h`, `2h 5m`, `4m 10s` or `12s`.
pub fn format_uptime(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_formats() {
        assert_eq!(format_uptime(-3), "0s");
        assert_eq!(format_uptime(12), "12s");
        assert_eq!(format_uptime(250), "4m 10s");
        assert_eq!(format_uptime(7500), "2h 5m");
        assert_eq!(format_uptime(3 * 86_400 + 4 * 3600), "3d 4h");
    }

    #[test]
    fn ws_message_shape() {
        let m = WsMessage::Snapshot { seq: 4, processes: vec![], jobs: vec![], cronjobs: vec![] };
        let v = serde_json::to_value(&m).expect("json");
        assert_eq!(v["type"], "snapshot");
        assert_eq!(v["seq"], 4);
    }
}
