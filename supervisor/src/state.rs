//! What a program is doing: states that carry their data, and the status view of an instance.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The runtime state of one instance. Each state carries the data that only it has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProcessState {
    /// Not running, and not meant to run (never started, or stopped on request).
    Stopped,
    /// Wished running, but not spawned until the specs it depends on are running.
    Waiting {
        /// The dependencies (spec names) that are not running yet.
        on: Vec<String>,
    },
    /// Running its `pre_start` hooks; spawned when they succeed.
    PreStart {
        /// When the hooks began.
        since: DateTime<Utc>,
    },
    /// Spawned, but not yet up for `start_duration`.
    Starting {
        /// Process id of the new process.
        pid: u32,
        /// When it was spawned.
        since: DateTime<Utc>,
    },
    /// Up and running.
    Running {
        /// Process id (also the process group id).
        pid: u32,
        /// When it was spawned (or re-adopted: when it was originally spawned, if known).
        since: DateTime<Utc>,
    },
    /// Exited unexpectedly; a restart is scheduled.
    Backoff {
        /// The restart attempt that is due.
        attempt: u32,
        /// When it is due.
        until: DateTime<Utc>,
    },
    /// Asked to stop; waiting for the process group to exit.
    Stopping {
        /// Process id being stopped.
        pid: u32,
        /// When the stop signal was sent.
        since: DateTime<Utc>,
    },
    /// Exited by itself and will not be restarted.
    Exited {
        /// Exit code, when it exited normally (unknown for re-adopted processes).
        code: Option<i32>,
        /// Terminating signal number, when killed by a signal.
        signal: Option<i32>,
        /// When the exit was observed.
        at: DateTime<Utc>,
    },
    /// Could not be started and will not be retried until started again.
    Fatal {
        /// Why.
        reason: String,
    },
}

impl ProcessState {
    /// The state's name: `"running"`, `"stopped"`, …
    pub fn name(&self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::Waiting { .. } => "waiting",
            Self::PreStart { .. } => "pre_start",
            Self::Starting { .. } => "starting",
            Self::Running { .. } => "running",
            Self::Backoff { .. } => "backoff",
            Self::Stopping { .. } => "stopping",
            Self::Exited { .. } => "exited",
            Self::Fatal { .. } => "fatal",
        }
    }

    /// The live process id, if a process exists in this state.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Self::Starting { pid, .. } | Self::Running { pid, .. } | Self::Stopping { pid, .. } => Some(*pid),
            _ => None,
        }
    }

    /// True while a process exists (starting, running or stopping).
    pub fn is_alive(&self) -> bool {
        self.pid().is_some()
    }
}

/// Whether an instance should be running: what an operator asked for last.
/// Persisted so that a stopped process stays stopped across daemon restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Desired {
    /// Keep it running.
    Running,
    /// Keep it stopped.
    Stopped,
}

/// Where a registration comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The main config file's `[[processes]]`: read-only through the API.
    Config,
    /// A file in the programs directory.
    ProgramsDir,
    /// Registered at runtime through the API, CLI or console.
    Api,
}

/// The status of one instance: what `GET /status` and the console show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessStatus {
    /// Instance name (`web` or `web-2`).
    pub name: String,
    /// The spec name it belongs to (`web`).
    pub base: String,
    /// Current state, with its data (flattened: `"state": "running", "pid": …`).
    #[serde(flatten)]
    pub state: ProcessState,
    /// What the operator asked for last.
    pub desired: Desired,
    /// Where the registration comes from.
    pub origin: Origin,
    /// Automatic restarts since the last explicit start.
    pub restarts: u32,
    /// When the current (or last) process was spawned.
    pub started_at: Option<DateTime<Utc>>,
    /// When the last process exited.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Exit code of the last process that exited normally.
    pub last_exit_code: Option<i32>,
    /// Signal that ended the last process, if it was killed.
    pub last_exit_signal: Option<i32>,
}

impl ProcessStatus {
    /// True while the instance is running (upstream's `running` field).
    pub fn running(&self) -> bool {
        matches!(self.state, ProcessState::Running { .. })
    }
}

/// Which instances a command applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// One instance by its exact name.
    Name(String),
    /// Every instance of the spec with this name (`web` → `web`, `web-1`, `web-2`…).
    Base(String),
    /// A glob over instance names: `*` matches any run of characters, `?` one character.
    Wildcard(String),
    /// Every instance.
    All,
}

impl Selector {
    /// Does the instance `name` of spec `base` match?
    pub fn matches(&self, name: &str, base: &str) -> bool {
        match self {
            Self::Name(n) => n == name,
            Self::Base(b) => b == base,
            Self::Wildcard(p) => glob_match(p.as_bytes(), name.as_bytes()),
            Self::All => true,
        }
    }
}

/// Glob matching with `*` and `?`, iterative (no exponential backtracking).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star_p, mut star_t) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star_p = Some(p);
            star_t = t;
            p += 1;
        } else if let Some(sp) = star_p {
            p = sp + 1;
            star_t += 1;
            t = star_t;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        assert!(Selector::Name("web-1".into()).matches("web-1", "web"));
        assert!(!Selector::Name("web".into()).matches("web-1", "web"));
        assert!(Selector::Base("web".into()).matches("web-1", "web"));
        assert!(!Selector::Base("web".into()).matches("webhook", "webhook"));
        for (p, n, m) in [
            ("*", "anything", true),
            ("web-*", "web-1", true),
            ("web-*", "web", false),
            ("*hook", "webhook", true),
            ("w?b", "web", true),
            ("*e*", "web", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
        ] {
            assert_eq!(Selector::Wildcard(p.into()).matches(n, n), m, "{p} vs {n}");
        }
    }

    #[test]
    fn status_serialises_flat() {
        let s = ProcessStatus {
            name: "web".into(),
            base: "web".into(),
            state: ProcessState::Running { pid: 42, since: DateTime::<Utc>::UNIX_EPOCH },
            desired: Desired::Running,
            origin: Origin::Api,
            restarts: 0,
            started_at: None,
            stopped_at: None,
            last_exit_code: None,
            last_exit_signal: None,
        };
        let v = serde_json::to_value(&s).expect("json");
        assert_eq!(v["state"], "running");
        assert_eq!(v["pid"], 42);
        let back: ProcessStatus = serde_json::from_value(v).expect("round trip");
        assert_eq!(back, s);
    }
}
