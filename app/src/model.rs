//! Wire and view types shared by the server, the JSON API and the browser (serde only,
//! so they compile to WASM). Conversions from the supervisor's types live here under
//! the `ssr` feature.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod jobs;

/// One process instance as the API and the console show it. Field names follow
/// upstream provisr's status object (`name`, `running`, `pid`, `started_at`, `state`,
/// `restarts`, `provisioned`), so its scripts keep working.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// CPU use of the process group in percent of one core, when sampled. Seam for the
    /// resources sampler: `None` until the engine reports it (shown as "–").
    #[serde(default)]
    pub cpu_percent: Option<f64>,
    /// Resident memory of the process group in bytes, when sampled (see `cpu_percent`).
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

/// Why a config-file process has no edit/unregister controls.
pub const READ_ONLY_REASON: &str = "Defined in the config file — read-only";

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
    /// May manage users, API clients and settings.
    #[serde(default)]
    pub is_admin: bool,
}

/// One persisted history event (`backend::store::events::HistoryEntry` on the wire).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// Row id (increasing; the paging cursor).
    pub id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Instance (or spec) name.
    pub name: String,
    /// Event kind (`started`, `exited`, …).
    pub kind: String,
    /// Process id, when there was one.
    pub pid: Option<i64>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Terminating signal.
    pub signal: Option<i32>,
    /// The event's own fields (decision, attempt, error, …).
    pub detail: serde_json::Value,
}

/// A page of history, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// The events.
    pub events: Vec<HistoryEvent>,
    /// The id to pass as `before` for the next (older) page, when there is one.
    pub next_before: Option<i64>,
}

/// One captured log line (the shape of `GET /api/processes/{name}/logs` and of the
/// messages on `/api/processes/{name}/logs/ws`; unknown fields are ignored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// `stdout` | `stderr`.
    #[serde(default = "default_stream")]
    pub stream: String,
    /// The text, possibly with ANSI escape sequences.
    #[serde(alias = "line", alias = "text")]
    pub message: String,
    /// When it was captured.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

fn default_stream() -> String {
    "stdout".to_string()
}

/// One CPU/memory sample of a process (the chart's data points).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceSample {
    /// When it was taken.
    pub at: DateTime<Utc>,
    /// CPU in percent of one core.
    pub cpu_percent: f64,
    /// Resident memory in bytes.
    pub memory_bytes: u64,
}

/// A console user, as the Users page lists it (never the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Row id.
    pub id: i64,
    /// User name.
    pub username: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Whether the user can sign in.
    pub active: bool,
}

/// An API client, as the API clients page lists it (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The client id used to authenticate.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Scope names (`admin`, `operator`, `viewer`).
    pub scopes: Vec<String>,
}

/// A newly created API client with its secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedClient {
    /// The client.
    pub client: ClientInfo,
    /// The secret; not retrievable later.
    pub client_secret: String,
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
                cpu_percent: None,
                memory_bytes: None,
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

/// CPU and memory of one live instance, sampled when asked (see
/// `server_fns::resources::process_resources`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceUse {
    /// Instance name.
    pub name: String,
    /// CPU of its process group in percent of one core.
    pub cpu_percent: f64,
    /// Resident memory of its process group in bytes.
    pub memory_bytes: u64,
}

/// A `[[groups]]` entry with its members and their instances, as the Groups page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// The group's name.
    pub name: String,
    /// `running` | `degraded` | `stopped`.
    pub state: String,
    /// The members in the order of the config.
    pub members: Vec<GroupMember>,
}

/// One member (a process spec) of a group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupMember {
    /// The process (spec) name.
    pub name: String,
    /// `running` | `degraded` | `stopped`.
    pub state: String,
    /// False when the process is no longer registered.
    pub registered: bool,
    /// Its instances.
    pub instances: Vec<ProcessInfo>,
}

/// The state of a set of instances, as groups report it: `running` when all run,
/// `stopped` when none does (or there is none), else `degraded`.
pub fn group_state<'a>(instances: impl IntoIterator<Item = &'a ProcessInfo>) -> &'static str {
    let (mut total, mut running) = (0usize, 0usize);
    for p in instances {
        total += 1;
        running += usize::from(p.running);
    }
    match running {
        0 => "stopped",
        r if r == total => "running",
        _ => "degraded",
    }
}

/// The server settings an operator cares about (read-only; never a secret).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSettings {
    /// The address the server listens on.
    pub listen: String,
    /// Where the JSON API is mounted.
    pub base_path: String,
    /// HTTPS on.
    pub tls: bool,
    /// Where the certificate comes from (file path, or "generated").
    pub tls_certificate: Option<String>,
    /// When the certificate expires.
    pub tls_expires: Option<DateTime<Utc>>,
    /// Sign-in required.
    pub auth: bool,
    /// `sqlite` | `postgres` | … (the URL's scheme only).
    pub store: String,
    /// Where the store lives, without credentials (a SQLite file, or `host:port/db`).
    pub store_location: Option<String>,
    /// Log directory of processes (`None`: captured in memory only).
    pub log_dir: Option<String>,
    /// Rotation in words (`at 10 MiB, keep 5, 7 days, compressed`).
    pub log_rotation: String,
    /// `/metrics` on.
    pub metrics: bool,
    /// Where metrics are served when on a separate listener.
    pub metrics_listen: Option<String>,
}

/// The scheme and the credential-free location of a store URL: `("postgres",
/// Some("db.example:5432/provisr"))` for `postgres://user:secret@db.example:5432/provisr`.
/// The user, password and query are never returned.
pub fn describe_store_url(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.split(':').next().unwrap_or_default().to_string(), None);
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let rest = match rest.rsplit_once('@') {
        Some((_, host)) => host,
        None => rest,
    };
    let location = (!rest.is_empty()).then(|| rest.to_string());
    (scheme.to_string(), location)
}

/// How one hook run ended, in words, from a `hook_finished` event's detail
/// (`succeeded in 120ms`, `exited with code 3 after 2s (2 attempts)`).
pub fn describe_hook_run(d: &serde_json::Value) -> String {
    let result = d.get("result");
    let status = result.and_then(|r| r.get("status")).and_then(|v| v.as_str()).unwrap_or("?");
    let how = match status {
        "succeeded" => "succeeded".to_string(),
        "failed" => format!(
            "exited with code {}",
            result.and_then(|r| r.get("code")).and_then(|v| v.as_i64()).map_or("?".to_string(), |c| c.to_string())
        ),
        "killed" => format!(
            "killed by signal {}",
            result.and_then(|r| r.get("signal")).and_then(|v| v.as_i64()).map_or("?".to_string(), |c| c.to_string())
        ),
        "timed_out" => "timed out".to_string(),
        "spawn_failed" => format!(
            "could not be started: {}",
            result.and_then(|r| r.get("error")).and_then(|v| v.as_str()).unwrap_or("?")
        ),
        other => other.replace('_', " "),
    };
    let took = d.get("duration").and_then(|v| v.as_str()).map(|t| {
        let word = if status == "succeeded" { "in" } else { "after" };
        format!(" {word} {t}")
    });
    let attempts = match d.get("attempts").and_then(|v| v.as_u64()) {
        Some(n) if n > 1 => format!(" ({n} attempts)"),
        _ => String::new(),
    };
    format!("{how}{}{attempts}", took.unwrap_or_default())
}

/// Formats a byte count as `512 B`, `3.4 KiB`, `12.0 MiB`, `1.5 GiB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Formats a CPU share in percent (`0.4%`, `12%`).
pub fn format_cpu(percent: f64) -> String {
    if percent < 10.0 {
        format!("{percent:.1}%")
    } else {
        format!("{percent:.0}%")
    }
}

/// Describes a history event in words: what happened and, for exits and failed spawns,
/// the code or signal and what the supervisor decided.
pub fn describe_event(e: &HistoryEvent) -> String {
    let d = &e.detail;
    let decision = || -> Option<String> {
        let dec = d.get("decision")?;
        Some(match dec.get("action")?.as_str()? {
            "restart" => {
                let after = dec.get("after").and_then(|v| v.as_str()).unwrap_or("?");
                let attempt = dec.get("attempt").and_then(|v| v.as_u64()).unwrap_or(0);
                format!("restart #{attempt} in {after}")
            }
            "stop" => "stays stopped (requested)".to_string(),
            "no_restart" => "no restart (auto restart off)".to_string(),
            "give_up" => {
                format!("gave up: {}", dec.get("reason").and_then(|v| v.as_str()).unwrap_or("unknown reason"))
            }
            other => other.to_string(),
        })
    };
    let with_decision = |head: String| match decision() {
        Some(dec) => format!("{head} → {dec}"),
        None => head,
    };
    match e.kind.as_str() {
        "started" => {
            let attempt = d.get("attempt").and_then(|v| v.as_u64()).unwrap_or(0);
            let pid = e.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            if attempt == 0 {
                format!("started{pid}")
            } else {
                format!("restarted{pid}, attempt {attempt}")
            }
        }
        "exited" => {
            let how = match (e.exit_code, e.signal) {
                (_, Some(sig)) => format!("killed by signal {sig}"),
                (Some(code), None) => format!("exited with code {code}"),
                (None, None) => "exited".to_string(),
            };
            let uptime = d.get("uptime").and_then(|v| v.as_str()).map(|u| format!(" after {u}")).unwrap_or_default();
            let failed = if d.get("failed_start").and_then(|v| v.as_bool()) == Some(true) {
                " (failed start: exited before start_duration)"
            } else {
                ""
            };
            with_decision(format!("{how}{uptime}{failed}"))
        }
        "hook_finished" => {
            let phase = d.get("phase").and_then(|v| v.as_str()).unwrap_or("?");
            let hook = d.get("hook").and_then(|v| v.as_str()).unwrap_or("?");
            format!("{phase} hook {hook} {}", describe_hook_run(d))
        }
        "hooks_finished" => match d.get("failure").and_then(|v| v.as_str()) {
            Some(f) => format!("hooks failed: {f}"),
            None => "hooks finished".to_string(),
        },
        "spawn_failed" => {
            with_decision(format!("failed to start: {}", d.get("error").and_then(|v| v.as_str()).unwrap_or("?")))
        }
        "stopping" => {
            format!("stopping with {}", d.get("signal").and_then(|v| v.as_str()).unwrap_or("the stop signal"))
        }
        "killed" => "stop timeout expired: SIGKILL sent".to_string(),
        "adopted" => format!("adopted after a daemon restart (pid {})", e.pid.unwrap_or_default()),
        "registered" => "registered".to_string(),
        "unregistered" => "unregistered".to_string(),
        other => other.replace('_', " "),
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

    fn event(kind: &str, code: Option<i32>, signal: Option<i32>, detail: serde_json::Value) -> HistoryEvent {
        HistoryEvent {
            id: 1,
            at: Utc::now(),
            name: "web".into(),
            kind: kind.into(),
            pid: Some(42),
            exit_code: code,
            signal,
            detail,
        }
    }

    #[test]
    fn events_in_words() {
        use serde_json::json;
        let cases = [
            (event("started", None, None, json!({"attempt": 0})), "started (pid 42)"),
            (event("started", None, None, json!({"attempt": 2})), "restarted (pid 42), attempt 2"),
            (
                event(
                    "exited",
                    Some(1),
                    None,
                    json!({"uptime": "3s", "decision": {"action": "restart", "after": "1s", "attempt": 1}}),
                ),
                "exited with code 1 after 3s → restart #1 in 1s",
            ),
            (
                event("exited", None, Some(15), json!({"decision": {"action": "stop"}})),
                "killed by signal 15 → stays stopped (requested)",
            ),
            (
                event("exited", Some(0), None, json!({"decision": {"action": "no_restart"}})),
                "exited with code 0 → no restart (auto restart off)",
            ),
            (
                event(
                    "spawn_failed",
                    None,
                    None,
                    json!({"error": "No such file", "decision": {"action": "give_up", "reason": "too many"}}),
                ),
                "failed to start: No such file → gave up: too many",
            ),
            (
                event(
                    "exited",
                    Some(2),
                    None,
                    json!({"uptime": "100ms", "failed_start": true, "decision": {"action": "restart", "after": "2s", "attempt": 2}}),
                ),
                "exited with code 2 after 100ms (failed start: exited before start_duration) → restart #2 in 2s",
            ),
            (
                event(
                    "hook_finished",
                    None,
                    None,
                    json!({"phase": "pre_start", "hook": "warm", "result": {"status": "succeeded"}, "duration": "12ms", "attempts": 1}),
                ),
                "pre_start hook warm succeeded in 12ms",
            ),
            (
                event(
                    "hook_finished",
                    None,
                    None,
                    json!({"phase": "post_stop", "hook": "c", "result": {"status": "failed", "code": 3}, "duration": "2s", "attempts": 2}),
                ),
                "post_stop hook c exited with code 3 after 2s (2 attempts)",
            ),
            (
                event(
                    "hooks_finished",
                    None,
                    None,
                    json!({"phase": "pre_start", "failure": "pre_start hook \"x\" timed out"}),
                ),
                "hooks failed: pre_start hook \"x\" timed out",
            ),
            (event("stopping", None, None, json!({"signal": "SIGTERM"})), "stopping with SIGTERM"),
            (event("desired_changed", None, None, json!({})), "desired changed"),
        ];
        for (e, want) in cases {
            assert_eq!(describe_event(&e), want, "{e:?}");
        }
    }

    #[test]
    fn store_urls_without_credentials() {
        let cases = [
            (
                "postgres://provisr:secret@127.0.0.1:5432/provisr?sslmode=disable",
                "postgres",
                Some("127.0.0.1:5432/provisr"),
            ),
            ("sqlite:///var/lib/provisr/provisr.db?mode=rwc", "sqlite", Some("/var/lib/provisr/provisr.db")),
            ("postgres://db/x", "postgres", Some("db/x")),
            ("sqlite::memory:", "sqlite", None),
        ];
        for (url, scheme, location) in cases {
            let (s, l) = describe_store_url(url);
            assert_eq!((s.as_str(), l.as_deref()), (scheme, location), "{url}");
            assert!(!l.unwrap_or_default().contains("secret"));
        }
    }

    #[test]
    fn group_states() {
        let p = |running: bool| ProcessInfo {
            name: "x".into(),
            base: "x".into(),
            state: if running { "running" } else { "stopped" }.into(),
            running,
            pid: None,
            started_at: None,
            stopped_at: None,
            restarts: 0,
            desired: "running".into(),
            origin: "config".into(),
            provisioned: true,
            exit_code: None,
            exit_signal: None,
            reason: None,
            retry_at: None,
            cpu_percent: None,
            memory_bytes: None,
        };
        for (set, want) in [
            (vec![], "stopped"),
            (vec![p(true)], "running"),
            (vec![p(true), p(false)], "degraded"),
            (vec![p(false), p(false)], "stopped"),
        ] {
            assert_eq!(group_state(&set), want);
        }
    }

    #[test]
    fn sizes_and_cpu() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(3 * 1024 + 512), "3.5 KiB");
        assert_eq!(format_bytes(12 * 1024 * 1024), "12.0 MiB");
        assert_eq!(format_cpu(0.42), "0.4%");
        assert_eq!(format_cpu(57.6), "58%");
    }

    #[test]
    fn log_line_aliases() {
        let l: LogLine = serde_json::from_str(r#"{"line":"hi","stream":"stderr"}"#).expect("json");
        assert_eq!((l.stream.as_str(), l.message.as_str()), ("stderr", "hi"));
        let l: LogLine = serde_json::from_str(r#"{"message":"x"}"#).expect("json");
        assert_eq!(l.stream, "stdout");
    }

    #[test]
    fn ws_message_shape() {
        let m = WsMessage::Snapshot { seq: 4, processes: vec![], jobs: vec![], cronjobs: vec![] };
        let v = serde_json::to_value(&m).expect("json");
        assert_eq!(v["type"], "snapshot");
        assert_eq!(v["seq"], 4);
    }
}
