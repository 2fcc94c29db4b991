//! What a program is: the serialisable specification given by config files and the API.
//!
//! A [`ProcessSpec`] describes one program; with `instances = N > 1` it yields the
//! instances `name-1 … name-N`, each supervised on its own. Specs are plain data:
//! they never read files or the environment (the server's config loader does that).

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::hooks::{FailureMode, Hook, HookPhase, Lifecycle, RunMode};

/// The specification of a supervised program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSpec {
    /// Unique name, `[A-Za-z0-9._-]`; instances are named `name-1 … name-N`.
    pub name: String,
    /// A shell string. Run through `/bin/sh -c` when it contains shell syntax,
    /// otherwise split on whitespace and executed directly. Exclusive with `args`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The argv to execute directly, without a shell. Exclusive with `command`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Working directory (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_dir: Option<PathBuf>,
    /// Extra environment, as a map or as a list of `KEY=VALUE` strings.
    #[serde(default, skip_serializing_if = "Env::is_empty")]
    pub env: Env,
    /// Number of instances (default 1).
    #[serde(default = "default_instances")]
    pub instances: u32,
    /// Start order: lower starts first (default 0). Dependencies come before it.
    #[serde(default)]
    pub priority: i32,
    /// Names of specs that must be `running` before an instance of this one is spawned.
    /// An unknown name or a cycle is rejected at registration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Restart the process when it exits without being asked to stop: the upstream
    /// switch, `true` meaning [`RestartPolicy::Always`]. `restart_policy`, when given,
    /// takes precedence (see [`ProcessSpec::effective_restart_policy`]).
    #[serde(default)]
    pub auto_restart: bool,
    /// When to restart after an exit that was not asked for: `always`, `on-failure`
    /// (an exit code not in `expected_exit_codes`, or a signal) or `never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// Exit codes that count as success for `on-failure` (default `[0]`).
    #[serde(default = "default_expected_exit_codes")]
    pub expected_exit_codes: Vec<i32>,
    /// Delay before the first automatic restart (default 1s); it doubles with each
    /// further failure within `retry_window`, up to `restart_backoff_max`, plus up to
    /// 10% jitter. `0s` restarts at once, every time.
    #[serde(default = "default_restart_interval", with = "crate::duration")]
    pub restart_interval: Duration,
    /// The longest restart delay (default 60s).
    #[serde(default = "default_restart_backoff_max", with = "crate::duration")]
    pub restart_backoff_max: Duration,
    /// Automatic restarts allowed within `retry_window`: the next unexpected exit in
    /// the window makes the instance `fatal`, no longer restarted (default 5; 0 gives
    /// up at the first unexpected exit).
    #[serde(default = "default_retry_count")]
    pub retry_count: u32,
    /// The window in which exits are counted for `retry_count` (default 60s): a process
    /// that crashes less often than `retry_count` times per window is always restarted.
    #[serde(default = "default_retry_window", with = "crate::duration")]
    pub retry_window: Duration,
    /// A process that exits sooner than this after its start has failed to
    /// start; until then it is `starting` (default 0: running at once).
    #[serde(default, with = "crate::duration")]
    pub start_duration: Duration,
    /// Signal sent to the process group to stop it (default `SIGTERM`).
    #[serde(default)]
    pub stop_signal: StopSignal,
    /// Time between the stop signal and SIGKILL to the process group (default 10s).
    #[serde(default = "default_stop_timeout", with = "crate::duration")]
    pub stop_timeout: Duration,
    /// PID file (absolute); default `<pid_dir>/<instance>.pid`. With several instances,
    /// one file each: `x.pid` → `x-1.pid`, `x-2.pid`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_file: Option<PathBuf>,
    /// Leave the process running when the daemon shuts down; the next daemon re-adopts it
    /// through its PID file.
    #[serde(default, skip_serializing_if = "is_false")]
    pub detached: bool,
    /// Commands run before and after start and stop.
    #[serde(default, skip_serializing_if = "Lifecycle::is_empty")]
    pub lifecycle: Lifecycle,
    /// Output capture settings; each one given overrides the global `[log]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<Box<crate::logs::LogSpec>>,
}

/// When a process that exited without being asked to is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// After every exit.
    Always,
    /// After an exit code not in `expected_exit_codes`, or a kill by a signal.
    OnFailure,
    /// Never.
    Never,
}

impl RestartPolicy {
    /// Parses `always`, `on-failure` (also `on_failure`, `OnFailure`) or `never`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "always" => Ok(Self::Always),
            "onfailure" => Ok(Self::OnFailure),
            "never" => Ok(Self::Never),
            _ => Err(format!("unknown restart policy {s:?}: use \"always\", \"on-failure\" or \"never\"")),
        }
    }
}

impl<'de> Deserialize<'de> for RestartPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(de::Error::custom)
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_expected_exit_codes() -> Vec<i32> {
    vec![0]
}

fn default_restart_backoff_max() -> Duration {
    Duration::from_secs(60)
}

fn default_retry_count() -> u32 {
    5
}

fn default_retry_window() -> Duration {
    Duration::from_secs(60)
}

fn default_instances() -> u32 {
    1
}

fn default_restart_interval() -> Duration {
    Duration::from_secs(1)
}

fn default_stop_timeout() -> Duration {
    Duration::from_secs(10)
}

impl ProcessSpec {
    /// A spec with defaults for everything but the name and the shell command.
    pub fn new(name: impl Into<String>, command: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            command: Some(command.into()),
            args: Vec::new(),
            work_dir: None,
            env: Env::default(),
            instances: 1,
            priority: 0,
            depends_on: Vec::new(),
            auto_restart: false,
            restart_policy: None,
            expected_exit_codes: default_expected_exit_codes(),
            restart_interval: default_restart_interval(),
            restart_backoff_max: default_restart_backoff_max(),
            retry_count: default_retry_count(),
            retry_window: default_retry_window(),
            start_duration: Duration::ZERO,
            stop_signal: StopSignal::default(),
            stop_timeout: default_stop_timeout(),
            pid_file: None,
            detached: false,
            lifecycle: Lifecycle::default(),
            log: None,
        }
    }

    /// The restart policy in force: `restart_policy` when given, else `always` when
    /// `auto_restart` is true and `never` when it is false.
    pub fn effective_restart_policy(&self) -> RestartPolicy {
        match (self.restart_policy, self.auto_restart) {
            (Some(p), _) => p,
            (None, true) => RestartPolicy::Always,
            (None, false) => RestartPolicy::Never,
        }
    }

    /// The instance names this spec yields: `name` or `name-1 … name-N`.
    pub fn instance_names(&self) -> Vec<String> {
        if self.instances <= 1 {
            vec![self.name.clone()]
        } else {
            (1..=self.instances).map(|i| format!("{}-{i}", self.name)).collect()
        }
    }

    /// Every problem with this spec, as `(key, message)` pairs; empty when valid.
    /// `key` is the spec field the problem is about (`"command"`, `"work_dir"`…).
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut errs = Vec::new();
        if let Err(e) = validate_name(&self.name) {
            errs.push(("name", e));
        }
        let has_command = self.command.as_deref().is_some_and(|c| !c.trim().is_empty());
        match (has_command, self.args.is_empty()) {
            (false, true) => errs.push(("command", "a command or args is required".to_string())),
            (true, false) => errs.push(("args", "command and args are mutually exclusive".to_string())),
            _ => {}
        }
        if self.args.first().is_some_and(|a| a.is_empty()) {
            errs.push(("args", "args[0] must not be empty".to_string()));
        }
        if self.instances == 0 {
            errs.push(("instances", "must be at least 1".to_string()));
        }
        if let Some(dir) = &self.work_dir {
            if !dir.is_absolute() {
                errs.push(("work_dir", format!("must be an absolute path, got {}", dir.display())));
            } else if !dir.is_dir() {
                errs.push(("work_dir", format!("{} is not a directory", dir.display())));
            }
        }
        if let Some(p) = &self.pid_file {
            if !p.is_absolute() {
                errs.push(("pid_file", format!("must be an absolute path, got {}", p.display())));
            }
        }
        if let Some(log) = &self.log {
            errs.extend(log.validate());
        }
        for key in self.env.0.keys() {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                errs.push(("env", format!("invalid variable name {key:?}")));
            }
        }
        for dep in &self.depends_on {
            if let Err(e) = validate_name(dep) {
                errs.push(("depends_on", e));
            } else if *dep == self.name {
                errs.push(("depends_on", format!("{:?} cannot depend on itself", self.name)));
            }
        }
        if let Some(code) = self.expected_exit_codes.iter().find(|c| !(0..=255).contains(*c)) {
            errs.push(("expected_exit_codes", format!("exit codes are 0 to 255, got {code}")));
        }
        if self.retry_window.is_zero() {
            errs.push(("retry_window", "must be longer than 0s".to_string()));
        }
        if self.restart_backoff_max < self.restart_interval {
            errs.push((
                "restart_backoff_max",
                format!(
                    "must not be shorter than restart_interval ({} < {})",
                    crate::duration::format(self.restart_backoff_max),
                    crate::duration::format(self.restart_interval)
                ),
            ));
        }
        errs.extend(self.lifecycle.validate());
        errs
    }
}

/// Checks a program name: 1–128 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is required".into());
    }
    if name.len() > 128 {
        return Err("name is longer than 128 characters".into());
    }
    if name == "." || name == ".." {
        return Err(format!("invalid name {name:?}"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!("invalid character {c:?} in name {name:?}: allowed are A-Z a-z 0-9 . _ -"));
    }
    Ok(())
}

/// Environment variables, written either as a map or as `["KEY=VALUE", …]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env(pub BTreeMap<String, String>);

impl Env {
    /// True when no variable is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Env {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Env {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Env;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of variables or a list of \"KEY=VALUE\" strings")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<Env, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = m.next_entry::<String, String>()? {
                    out.insert(k, v);
                }
                Ok(Env(out))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<Env, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(item) = s.next_element::<String>()? {
                    let (k, v) = item
                        .split_once('=')
                        .ok_or_else(|| de::Error::custom(format!("env entry {item:?} is not KEY=VALUE")))?;
                    out.insert(k.to_string(), v.to_string());
                }
                Ok(Env(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The signal that asks a process to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopSignal(pub nix::sys::signal::Signal);

impl Default for StopSignal {
    fn default() -> Self {
        Self(nix::sys::signal::Signal::SIGTERM)
    }
}

impl StopSignal {
    /// Parses `"SIGTERM"`, `"TERM"`, `"term"` or `"15"`.
    pub fn parse(s: &str) -> Result<Self, String> {
        use std::str::FromStr;
        let t = s.trim();
        if let Ok(n) = t.parse::<i32>() {
            return nix::sys::signal::Signal::try_from(n).map(Self).map_err(|_| format!("unknown signal number {n}"));
        }
        let upper = t.to_ascii_uppercase();
        let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
        nix::sys::signal::Signal::from_str(&name).map(Self).map_err(|_| format!("unknown signal {s:?}"))
    }
}

impl Serialize for StopSignal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for StopSignal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = StopSignal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a signal name like \"SIGTERM\" or a signal number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StopSignal, E> {
                StopSignal::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StopSignal, E> {
                StopSignal::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StopSignal, E> {
                StopSignal::parse(&v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_accepts_map_and_list() {
        let a: ProcessSpec = serde_json::from_str(r#"{"name":"a","command":"x","env":{"A":"1"}}"#).expect("map");
        let b: ProcessSpec = serde_json::from_str(r#"{"name":"a","command":"x","env":["A=1"]}"#).expect("list");
        assert_eq!(a.env, b.env);
        assert!(serde_json::from_str::<ProcessSpec>(r#"{"name":"a","command":"x","env":["A"]}"#).is_err());
    }

    #[test]
    fn durations_accept_strings_and_nanoseconds() {
        let s: ProcessSpec =
            serde_json::from_str(r#"{"name":"a","command":"x","stop_timeout":"2s","restart_interval":500000000}"#)
                .expect("spec");
        assert_eq!(s.stop_timeout, Duration::from_secs(2));
        assert_eq!(s.restart_interval, Duration::from_millis(500));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let e = serde_json::from_str::<ProcessSpec>(r#"{"name":"a","command":"x","colour":"red"}"#)
            .expect_err("unknown field");
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn validate_lists_every_problem() {
        let mut s = ProcessSpec::new("bad/name", "");
        s.work_dir = Some("relative".into());
        s.instances = 0;
        let keys: Vec<_> = s.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["name", "command", "instances", "work_dir"]);
    }

    #[test]
    fn new_fields_round_trip_and_have_defaults() {
        let s: ProcessSpec = serde_json::from_str(r#"{"name":"a","command":"x"}"#).expect("minimal");
        assert_eq!(s, ProcessSpec::new("a", "x"));
        assert_eq!(
            (s.retry_count, s.retry_window, s.restart_backoff_max),
            (5, Duration::from_secs(60), Duration::from_secs(60))
        );
        assert_eq!(s.expected_exit_codes, [0]);
        let json = r#"{"name":"a","command":"x","depends_on":["db"],"restart_policy":"on-failure",
            "expected_exit_codes":[0,3],"restart_backoff_max":"5m","retry_count":2,"retry_window":"10m",
            "detached":true,"lifecycle":{"pre_start":[{"name":"h","command":"true","timeout":"1s"}]}}"#;
        let s: ProcessSpec = serde_json::from_str(json).expect("full");
        assert_eq!(s.depends_on, ["db"]);
        assert_eq!(s.effective_restart_policy(), RestartPolicy::OnFailure);
        assert_eq!(s.lifecycle.pre_start[0].timeout, Duration::from_secs(1));
        let back: ProcessSpec = serde_json::from_value(serde_json::to_value(&s).expect("json")).expect("round trip");
        assert_eq!(back, s);
        assert_eq!(serde_json::to_value(&s).expect("json")["restart_policy"], "on-failure");
    }

    #[test]
    fn restart_policies_parse_upstream_spellings() {
        for (text, want) in [
            ("always", RestartPolicy::Always),
            ("Always", RestartPolicy::Always),
            ("on-failure", RestartPolicy::OnFailure),
            ("on_failure", RestartPolicy::OnFailure),
            ("OnFailure", RestartPolicy::OnFailure),
            ("never", RestartPolicy::Never),
            ("Never", RestartPolicy::Never),
        ] {
            assert_eq!(RestartPolicy::parse(text), Ok(want), "{text}");
        }
        let e = serde_json::from_str::<ProcessSpec>(r#"{"name":"a","command":"x","restart_policy":"sometimes"}"#)
            .expect_err("unknown policy");
        assert!(e.to_string().contains("sometimes"), "{e}");
        // The interplay with auto_restart: an explicit policy wins.
        let mut s = ProcessSpec::new("a", "x");
        assert_eq!(s.effective_restart_policy(), RestartPolicy::Never);
        s.auto_restart = true;
        assert_eq!(s.effective_restart_policy(), RestartPolicy::Always);
        s.restart_policy = Some(RestartPolicy::Never);
        assert_eq!(s.effective_restart_policy(), RestartPolicy::Never);
    }

    #[test]
    fn validate_checks_the_new_fields() {
        let mut s = ProcessSpec::new("web", "true");
        s.depends_on = vec!["web".into(), "bad name".into()];
        s.expected_exit_codes = vec![0, 300];
        s.retry_window = Duration::ZERO;
        s.restart_interval = Duration::from_secs(10);
        s.restart_backoff_max = Duration::from_secs(1);
        s.lifecycle.post_stop = vec![crate::hooks::Hook::new("h", "")];
        let keys: Vec<_> = s.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            ["depends_on", "depends_on", "expected_exit_codes", "retry_window", "restart_backoff_max", "lifecycle"]
        );
    }

    #[test]
    fn instance_names() {
        let mut s = ProcessSpec::new("web", "true");
        assert_eq!(s.instance_names(), ["web"]);
        s.instances = 3;
        assert_eq!(s.instance_names(), ["web-1", "web-2", "web-3"]);
    }

    #[test]
    fn stop_signal_names() {
        use nix::sys::signal::Signal;
        assert_eq!(StopSignal::parse("TERM"), Ok(StopSignal(Signal::SIGTERM)));
        assert_eq!(StopSignal::parse("sigint"), Ok(StopSignal(Signal::SIGINT)));
        assert_eq!(StopSignal::parse("9"), Ok(StopSignal(Signal::SIGKILL)));
        assert!(StopSignal::parse("SIGNOPE").is_err());
    }
}
