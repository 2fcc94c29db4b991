//! The "Register process" / edit form as data: what the browser posts ([`SpecForm`],
//! every field a string, as typed) and its translation to and from the spec's JSON
//! (the same keys as the config file and `POST /api/register`).
//!
//! Pure and target-independent, so it is tested here and used on both sides: the
//! server turns a posted form into a `supervisor::ProcessSpec`, and the edit form is
//! pre-filled from the spec's JSON. Problems are reported per spec key (`instances`,
//! `env`, `hooks[1].command`, …), which is how the form places each message.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The hook phases, in the order they run, as `(spec key, label)`.
pub const HOOK_PHASES: [(&str, &str); 4] =
    [("pre_start", "Pre-start"), ("post_start", "Post-start"), ("pre_stop", "Pre-stop"), ("post_stop", "Post-stop")];
/// Hook failure modes (the first is the default).
pub const FAILURE_MODES: [&str; 3] = ["fail", "ignore", "retry"];
/// Hook run modes (the first is the default).
pub const RUN_MODES: [&str; 2] = ["blocking", "async"];

/// The process form as posted. Field names are the spec keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecForm {
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `command` (a shell string).
    #[serde(default)]
    pub command: String,
    /// `work_dir` (absolute; empty: the daemon's).
    #[serde(default)]
    pub work_dir: String,
    /// `instances` (empty: 1).
    #[serde(default)]
    pub instances: String,
    /// `priority` (empty: 0).
    #[serde(default)]
    pub priority: String,
    /// `auto_restart`: present (any value) when the checkbox is ticked.
    #[serde(default)]
    pub auto_restart: Option<String>,
    /// `restart_interval` (a duration; empty: default).
    #[serde(default)]
    pub restart_interval: String,
    /// `start_duration`.
    #[serde(default)]
    pub start_duration: String,
    /// `stop_signal` (`TERM`, `SIGINT`, `9`, …).
    #[serde(default)]
    pub stop_signal: String,
    /// `stop_timeout`.
    #[serde(default)]
    pub stop_timeout: String,
    /// `env`: one `KEY=VALUE` per line.
    #[serde(default)]
    pub env: String,
    /// Lifecycle hooks; rows with neither a name nor a command are ignored.
    #[serde(default)]
    pub hooks: Vec<HookForm>,
}

/// One row of the hook editor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookForm {
    /// `pre_start` | `post_start` | `pre_stop` | `post_stop`.
    #[serde(default)]
    pub phase: String,
    /// Hook name.
    #[serde(default)]
    pub name: String,
    /// Hook command.
    #[serde(default)]
    pub command: String,
    /// `fail` | `ignore` | `retry`.
    #[serde(default)]
    pub failure_mode: String,
    /// `blocking` | `async`.
    #[serde(default)]
    pub run_mode: String,
    /// A duration (empty: the default).
    #[serde(default)]
    pub timeout: String,
}

impl HookForm {
    fn is_blank(&self) -> bool {
        self.name.trim().is_empty() && self.command.trim().is_empty()
    }
}

/// The spec keys the form edits (everything else passes through an edit unchanged).
pub const MANAGED_KEYS: [&str; 13] = [
    "name",
    "command",
    "args",
    "work_dir",
    "instances",
    "priority",
    "auto_restart",
    "restart_interval",
    "start_duration",
    "stop_signal",
    "stop_timeout",
    "env",
    "lifecycle",
];

/// `(key, message)` problems of a form.
pub type Problems = Vec<(String, String)>;

impl SpecForm {
    /// The spec as JSON, or every problem found. Durations and the stop signal are
    /// passed through as text: the server checks them (see `check_value`) together with
    /// the rest of the spec.
    pub fn to_json(&self) -> Result<Value, Problems> {
        let mut errs: Problems = Vec::new();
        let mut spec = Map::new();
        spec.insert("name".into(), json!(self.name.trim()));
        if !self.command.trim().is_empty() {
            spec.insert("command".into(), json!(self.command.trim()));
        }
        if !self.work_dir.trim().is_empty() {
            spec.insert("work_dir".into(), json!(self.work_dir.trim()));
        }
        match int::<u32>(&self.instances, "a whole number of at least 1") {
            Ok(Some(n)) => {
                spec.insert("instances".into(), json!(n));
            }
            Ok(None) => {}
            Err(m) => errs.push(("instances".into(), m)),
        }
        match int::<i32>(&self.priority, "a whole number") {
            Ok(Some(n)) => {
                spec.insert("priority".into(), json!(n));
            }
            Ok(None) => {}
            Err(m) => errs.push(("priority".into(), m)),
        }
        spec.insert("auto_restart".into(), json!(self.auto_restart.is_some()));
        for (key, value) in [
            ("restart_interval", &self.restart_interval),
            ("start_duration", &self.start_duration),
            ("stop_signal", &self.stop_signal),
            ("stop_timeout", &self.stop_timeout),
        ] {
            if !value.trim().is_empty() {
                spec.insert(key.into(), json!(value.trim()));
            }
        }
        match parse_env(&self.env) {
            Ok(env) if env.is_empty() => {}
            Ok(env) => {
                spec.insert("env".into(), Value::Object(env));
            }
            Err(m) => errs.extend(m.into_iter().map(|m| ("env".to_string(), m))),
        }
        let mut lifecycle = Map::new();
        for (i, h) in self.hooks.iter().enumerate().filter(|(_, h)| !h.is_blank()) {
            let key = |field: &str| format!("hooks[{i}].{field}");
            if !HOOK_PHASES.iter().any(|(p, _)| *p == h.phase) {
                errs.push((key("phase"), format!("choose one of {}", phase_list())));
                continue;
            }
            if h.name.trim().is_empty() {
                errs.push((key("name"), "a hook needs a name".into()));
            }
            if h.command.trim().is_empty() {
                errs.push((key("command"), "a hook needs a command".into()));
            }
            let mut hook = Map::new();
            hook.insert("name".into(), json!(h.name.trim()));
            hook.insert("command".into(), json!(h.command.trim()));
            for (field, value, allowed) in
                [("failure_mode", &h.failure_mode, &FAILURE_MODES[..]), ("run_mode", &h.run_mode, &RUN_MODES[..])]
            {
                let v = value.trim();
                if v.is_empty() {
                    continue;
                }
                if allowed.contains(&v) {
                    hook.insert(field.into(), json!(v));
                } else {
                    errs.push((key(field), format!("choose one of {}", allowed.join(", "))));
                }
            }
            if !h.timeout.trim().is_empty() {
                hook.insert("timeout".into(), json!(h.timeout.trim()));
            }
            if let Some(list) =
                lifecycle.entry(h.phase.clone()).or_insert_with(|| Value::Array(Vec::new())).as_array_mut()
            {
                list.push(Value::Object(hook));
            }
        }
        if !lifecycle.is_empty() {
            spec.insert("lifecycle".into(), Value::Object(lifecycle));
        }
        if errs.is_empty() {
            Ok(Value::Object(spec))
        } else {
            Err(errs)
        }
    }

    /// The spec an edit produces: the form's fields replace what they cover in
    /// `current`, and every key the form does not show (`pid_file`, and whatever the
    /// engine adds later) is kept. A program given as `args` stays `args` when its
    /// command line was not changed.
    pub fn merge_into(&self, current: &Value) -> Result<Value, Problems> {
        let mut form = self.to_json()?;
        let mut out = current.as_object().cloned().unwrap_or_default();
        for key in MANAGED_KEYS {
            out.remove(key);
        }
        let args = current.get("args").and_then(Value::as_array).filter(|a| !a.is_empty());
        if let (Some(args), Some(obj)) = (args, form.as_object_mut()) {
            let joined = args.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ");
            if obj.get("command").and_then(Value::as_str) == Some(joined.as_str()) {
                obj.remove("command");
                obj.insert("args".into(), Value::Array(args.clone()));
            }
        }
        if let Value::Object(fields) = form {
            out.extend(fields);
        }
        Ok(Value::Object(out))
    }

    /// The form pre-filled from a spec's JSON (as `GET /api/processes/{name}/spec` or
    /// the supervisor serialise it).
    pub fn from_json(spec: &Value) -> Self {
        let text = |key: &str| match spec.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let env = match spec.get("env") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect::<Vec<_>>()
                .join("\n"),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"),
            _ => String::new(),
        };
        let command = match (spec.get("command").and_then(Value::as_str), spec.get("args").and_then(Value::as_array)) {
            (Some(c), _) => c.to_string(),
            (None, Some(args)) => args.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
            _ => String::new(),
        };
        let hooks = hooks_of(spec);
        Self {
            name: text("name"),
            command,
            work_dir: text("work_dir"),
            instances: text("instances"),
            priority: text("priority"),
            auto_restart: spec.get("auto_restart").and_then(Value::as_bool).unwrap_or(false).then(|| "on".to_string()),
            restart_interval: text("restart_interval"),
            start_duration: text("start_duration"),
            stop_signal: text("stop_signal"),
            stop_timeout: text("stop_timeout"),
            env,
            hooks,
        }
    }
}

/// The hooks of a spec's JSON (`lifecycle.<phase>[]`), in phase order.
pub fn hooks_of(spec: &Value) -> Vec<HookForm> {
    let Some(lifecycle) = spec.get("lifecycle") else { return Vec::new() };
    let mut out = Vec::new();
    for (phase, _) in HOOK_PHASES {
        for h in lifecycle.get(phase).and_then(Value::as_array).into_iter().flatten() {
            let s = |k: &str| h.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            out.push(HookForm {
                phase: phase.to_string(),
                name: s("name"),
                command: s("command"),
                failure_mode: s("failure_mode"),
                run_mode: s("run_mode"),
                timeout: match h.get("timeout") {
                    Some(Value::String(t)) => t.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => String::new(),
                },
            });
        }
    }
    out
}

fn phase_list() -> String {
    HOOK_PHASES.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", ")
}

fn int<T: std::str::FromStr>(s: &str, what: &str) -> Result<Option<T>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse().map(Some).map_err(|_| format!("{t:?} is not {what}"))
}

/// `KEY=VALUE` lines (blank lines and `#` comments skipped) into a map.
fn parse_env(text: &str) -> Result<Map<String, Value>, Vec<String>> {
    let mut map = Map::new();
    let mut errs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                map.insert(k.trim().to_string(), json!(v));
            }
            _ => errs.push(format!("line {}: expected KEY=VALUE, got {line:?}", n + 1)),
        }
    }
    if errs.is_empty() {
        Ok(map)
    } else {
        Err(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> SpecForm {
        SpecForm { name: "web".into(), command: "sleep 5".into(), ..Default::default() }
    }

    #[test]
    fn minimal_form_gives_minimal_spec() {
        let v = form().to_json().expect("valid");
        assert_eq!(v, json!({"name": "web", "command": "sleep 5", "auto_restart": false}));
    }

    #[test]
    fn every_field_and_hooks() {
        let f = SpecForm {
            work_dir: "/tmp".into(),
            instances: "2".into(),
            priority: "-1".into(),
            auto_restart: Some("on".into()),
            restart_interval: "2s".into(),
            start_duration: "1s".into(),
            stop_signal: "INT".into(),
            stop_timeout: "5s".into(),
            env: "A=1\n# comment\n\nB=x=y\n".into(),
            hooks: vec![
                HookForm {
                    phase: "pre_start".into(),
                    name: "check".into(),
                    command: "true".into(),
                    ..Default::default()
                },
                HookForm::default(),
                HookForm {
                    phase: "post_stop".into(),
                    name: "clean".into(),
                    command: "rm -f /tmp/x".into(),
                    failure_mode: "ignore".into(),
                    run_mode: "async".into(),
                    timeout: "3s".into(),
                },
            ],
            ..form()
        };
        let v = f.to_json().expect("valid");
        assert_eq!(v["instances"], 2);
        assert_eq!(v["priority"], -1);
        assert_eq!(v["auto_restart"], true);
        assert_eq!(v["env"], json!({"A": "1", "B": "x=y"}));
        assert_eq!(v["lifecycle"]["pre_start"], json!([{"name": "check", "command": "true"}]));
        assert_eq!(v["lifecycle"]["post_stop"][0]["run_mode"], "async");
        // And back: the edit form shows what was registered.
        let back = SpecForm::from_json(&v);
        assert_eq!(back.env, "A=1\nB=x=y");
        assert_eq!(back.hooks.len(), 2);
        assert_eq!(back.hooks[1].timeout, "3s");
        assert_eq!(back.auto_restart.as_deref(), Some("on"));
        assert_eq!(back.instances, "2");
    }

    #[test]
    fn an_edit_keeps_what_the_form_does_not_show() {
        let current = json!({
            "name": "web", "args": ["sleep", "5"], "pid_file": "/run/web.pid", "work_dir": "/tmp",
            "env": {"A": "1"}, "retry_count": 3
        });
        let mut f = SpecForm::from_json(&current);
        assert_eq!(f.command, "sleep 5");
        f.work_dir.clear(); // cleared in the form: gone from the spec
        let v = f.merge_into(&current).expect("valid");
        assert_eq!(v["args"], json!(["sleep", "5"]), "unchanged args stay args");
        assert!(v.get("command").is_none());
        assert!(v.get("work_dir").is_none());
        assert_eq!(v["pid_file"], "/run/web.pid");
        assert_eq!(v["retry_count"], 3);
        assert_eq!(v["env"], json!({"A": "1"}));

        f.command = "sleep 6".into();
        let v = f.merge_into(&current).expect("valid");
        assert_eq!(v["command"], "sleep 6");
        assert!(v.get("args").is_none(), "a changed command line replaces args");
    }

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let f = SpecForm {
            instances: "two".into(),
            priority: "1.5".into(),
            env: "A=1\nnot a pair".into(),
            hooks: vec![
                HookForm { phase: "pre_start".into(), name: "x".into(), ..Default::default() },
                HookForm { phase: "sometime".into(), name: "y".into(), command: "true".into(), ..Default::default() },
                HookForm {
                    phase: "pre_stop".into(),
                    name: "z".into(),
                    command: "true".into(),
                    failure_mode: "explode".into(),
                    ..Default::default()
                },
            ],
            ..form()
        };
        let errs = f.to_json().expect_err("invalid");
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["instances", "priority", "env", "hooks[0].command", "hooks[1].phase", "hooks[2].failure_mode"]
        );
        assert!(errs[2].1.contains("line 2"), "{errs:?}");
    }
}
