//! Lifecycle hooks: commands run before and after a process starts and stops.
//!
//! A spec's `lifecycle` has four lists, one per [`HookPhase`]: `pre_start`,
//! `post_start`, `pre_stop`, `post_stop`. The hooks of a phase run in order:
//!
//! * a **blocking** hook is waited for; if it fails (non-zero exit, signal, timeout,
//!   cannot be spawned) its [`FailureMode`] decides: `fail` ends the phase with a failure,
//!   `ignore` goes on, `retry` runs it once more and fails if it fails again;
//! * an **async** hook is started and the phase goes on at once; it runs to completion
//!   or to its own timeout and is not killed when the phase (or the process) ends; its
//!   failure is recorded but never fails the phase.
//!
//! What a failed phase means is up to the caller (for processes, see `actor.rs`): a
//! failed `pre_start` aborts the start, a failed `post_start` stops the process, stop
//! hooks never prevent a stop.
//!
//! Each hook runs as its own process group (so its `timeout` kills everything it
//! started), with the process's environment plus `PROVISR_PROCESS_NAME`,
//! `PROVISR_HOOK_NAME` and `PROVISR_HOOK_PHASE`, in the process's `work_dir`. Its
//! command follows the same rule as a process `command`: `/bin/sh -c` when it contains
//! shell syntax, else split on whitespace. It is spawned as a process is, every signal
//! at its default disposition (see `process/unix.rs`). stdin is `/dev/null`; stdout and
//! stderr share a pipe whose last 4 KiB are reported with the hook's end (in the
//! `hook_finished` event), so a failing hook says why.
//!
//! [`run`] is the runner, usable by anything with hooks (jobs too).

use crate::env::EnvMap;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The hooks of a spec, by phase.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// Before the process is spawned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_start: Vec<Hook>,
    /// After the process was spawned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<Hook>,
    /// Before the stop signal is sent (explicit stops and shutdown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<Hook>,
    /// After the process has exited: after a stop, and after an exit of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_stop: Vec<Hook>,
}

impl Lifecycle {
    /// True when there is no hook at all.
    pub fn is_empty(&self) -> bool {
        self.pre_start.is_empty() && self.post_start.is_empty() && self.pre_stop.is_empty() && self.post_stop.is_empty()
    }

    /// The hooks of one phase.
    pub fn phase(&self, phase: HookPhase) -> &[Hook] {
        match phase {
            HookPhase::PreStart => &self.pre_start,
            HookPhase::PostStart => &self.post_start,
            HookPhase::PreStop => &self.pre_stop,
            HookPhase::PostStop => &self.post_stop,
        }
    }

    /// Every problem, as `("lifecycle", message)`; the message names phase and hook.
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut errs = Vec::new();
        for phase in HookPhase::ALL {
            let mut seen = std::collections::BTreeSet::new();
            for (i, hook) in self.phase(phase).iter().enumerate() {
                let at = format!("{phase}[{i}]");
                if hook.name.trim().is_empty() {
                    errs.push(("lifecycle", format!("{at}: name is required")));
                } else if !seen.insert(hook.name.as_str()) {
                    errs.push(("lifecycle", format!("{at}: hook name {:?} is used twice in {phase}", hook.name)));
                }
                if hook.command.trim().is_empty() {
                    errs.push(("lifecycle", format!("{at} ({:?}): command is required", hook.name)));
                }
                if hook.timeout.is_zero() {
                    errs.push(("lifecycle", format!("{at} ({:?}): timeout must be longer than 0s", hook.name)));
                }
            }
        }
        errs
    }
}

/// One hook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// Name, unique within its phase (required).
    pub name: String,
    /// The command (required); shell syntax runs through `/bin/sh -c`.
    pub command: String,
    /// What a failure means (default `fail`).
    #[serde(default)]
    pub failure_mode: FailureMode,
    /// Wait for it or not (default `blocking`).
    #[serde(default)]
    pub run_mode: RunMode,
    /// Killed (with its whole process group) after this long (default 30s).
    #[serde(default = "default_timeout", with = "crate::duration")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

impl Hook {
    /// A blocking, fail-mode hook with the default timeout.
    pub fn new(name: impl Into<String>, command: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            command: command.into(),
            failure_mode: FailureMode::default(),
            run_mode: RunMode::default(),
            timeout: default_timeout(),
        }
    }
}

/// What a hook's failure means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// The phase fails (default).
    #[default]
    Fail,
    /// Go on as if it had succeeded.
    Ignore,
    /// Run it once more; the phase fails if the second run fails too.
    Retry,
}

/// Whether the phase waits for the hook.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Wait for it (default).
    #[default]
    Blocking,
    /// Start it and go on; it runs to completion or its timeout.
    Async,
}

/// When a hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookPhase {
    /// Before the spawn.
    PreStart,
    /// After the spawn.
    PostStart,
    /// Before the stop signal.
    PreStop,
    /// After the exit.
    PostStop,
}

impl HookPhase {
    /// The four phases in lifecycle order.
    pub const ALL: [HookPhase; 4] = [Self::PreStart, Self::PostStart, Self::PreStop, Self::PostStop];

    /// `pre_start`, `post_start`, `pre_stop`, `post_stop`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreStart => "pre_start",
            Self::PostStart => "post_start",
            Self::PreStop => "pre_stop",
            Self::PostStop => "post_stop",
        }
    }
}

impl fmt::Display for HookPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a hook needs to know about the process it belongs to.
#[derive(Clone, Debug, Default)]
pub struct HookContext {
    /// The instance name (`PROVISR_PROCESS_NAME`).
    pub process_name: String,
    /// The process's environment (the `PROVISR_*` variables are added to it).
    pub env: EnvMap,
    /// The process's working directory.
    pub work_dir: Option<PathBuf>,
}

/// How one run of a hook ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum HookResult {
    /// Exit code 0.
    Succeeded,
    /// Another exit code.
    Failed {
        /// The exit code.
        code: i32,
    },
    /// Killed by a signal (not by us).
    Killed {
        /// The signal number.
        signal: i32,
    },
    /// Ran longer than its timeout; its process group was killed.
    TimedOut,
    /// Could not be started.
    SpawnFailed {
        /// The OS error.
        error: String,
    },
}

impl fmt::Display for HookResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Succeeded => f.write_str("succeeded"),
            Self::Failed { code } => write!(f, "exited with code {code}"),
            Self::Killed { signal } => write!(f, "was killed by signal {signal}"),
            Self::TimedOut => f.write_str("timed out"),
            Self::SpawnFailed { error } => write!(f, "could not be started: {error}"),
        }
    }
}

/// The result of [`run`]: the last run's result, how long all runs took, how many.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookOutcome {
    /// The result of the last run.
    pub result: HookResult,
    /// Time from the first start to the last end.
    pub duration: Duration,
    /// 1, or 2 when a `retry` hook was run again.
    pub attempts: u32,
    /// The last run's stdout and stderr (interleaved, as written), at most its last
    /// [`OUTPUT_TAIL`] bytes, invalid UTF-8 replaced.
    pub output: String,
}

impl HookOutcome {
    /// True when the (last) run succeeded.
    pub fn succeeded(&self) -> bool {
        self.result == HookResult::Succeeded
    }
}

/// Runs `hook` to its end (with one retry in `retry` mode) and reports how it went.
/// Used for blocking and async hooks alike: for an async hook, spawn this.
pub async fn run(hook: &Hook, phase: HookPhase, ctx: &HookContext) -> HookOutcome {
    let started = Instant::now();
    let mut outcome = run_once(hook, phase, ctx).await;
    if !outcome.succeeded() && hook.failure_mode == FailureMode::Retry {
        tracing::info!(process = ctx.process_name, hook = hook.name, %phase, "hook {}; retrying once", outcome.result);
        outcome = run_once(hook, phase, ctx).await;
        outcome.attempts = 2;
    }
    outcome.duration = started.elapsed();
    outcome
}

/// How much of a hook's output is kept: the last 4 KiB.
pub const OUTPUT_TAIL: usize = 4096;

/// Runs `hook` once, as its own process group, killing the group at its timeout.
/// stdout and stderr go to one pipe, whose last [`OUTPUT_TAIL`] bytes are the outcome's
/// `output`.
pub async fn run_once(hook: &Hook, phase: HookPhase, ctx: &HookContext) -> HookOutcome {
    let started = Instant::now();
    let (result, output) = execute(hook, phase, ctx).await;
    HookOutcome { result, duration: started.elapsed(), attempts: 1, output }
}

async fn execute(hook: &Hook, phase: HookPhase, ctx: &HookContext) -> (HookResult, String) {
    let argv = crate::process::argv_of(&hook.command);
    let Some(program) = argv.first() else {
        return (HookResult::SpawnFailed { error: "empty command".into() }, String::new());
    };
    let (reader, writer) = match std::io::pipe() {
        Ok(pipe) => pipe,
        Err(e) => return (HookResult::SpawnFailed { error: format!("cannot create a pipe: {e}") }, String::new()),
    };
    // Looked up here on the hook's PATH (posix_spawnp would search the daemon's).
    let path_var = ctx.env.get("PATH").map(std::ffi::OsStr::new);
    let resolved =
        crate::process::find_program(program, ctx.work_dir.as_deref(), path_var).ok().filter(|p| p.is_absolute());
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let provisr = [
        ("PROVISR_PROCESS_NAME", ctx.process_name.as_str()),
        ("PROVISR_HOOK_NAME", hook.name.as_str()),
        ("PROVISR_HOOK_PHASE", phase.as_str()),
    ];
    let env =
        ctx.env.iter().filter(|(k, _)| !provisr.iter().any(|(p, _)| p == k)).map(|(k, v)| (k.as_str(), v.as_str()));
    // Spawned as a process is (every signal at its default disposition: a daemon started
    // under nohup must not pass an ignored SIGHUP on to its hooks).
    let spawned = crate::process::spawn_program(
        resolved.as_deref().unwrap_or(std::path::Path::new(program)),
        &argv,
        env.chain(provisr),
        ctx.work_dir.as_deref(),
        writer.as_fd(),
    );
    // Our copy of the write end must go, or the reader never sees end-of-file.
    drop(writer);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return (HookResult::SpawnFailed { error: format!("cannot execute {program:?}: {e}") }, String::new())
        }
    };
    let tail = Arc::new(std::sync::Mutex::new(Vec::new()));
    let reading = read_tail(reader, tail.clone());
    let status = match tokio::time::timeout(hook.timeout, child.wait()).await {
        Ok(status) => Some(status),
        Err(_) => {
            // Not reaped yet (the wait is cancel-safe), so its pid (the group id) is still ours.
            if let Err(e) = crate::process::signal_group(child.pid(), nix::sys::signal::Signal::SIGKILL) {
                tracing::warn!(hook = hook.name, pid = child.pid(), "killing a timed-out hook: {e}");
            }
            let _ = child.wait().await;
            None
        }
    };
    // Output written just before the exit may still be in the pipe. A program the hook
    // left running in the background keeps the pipe open: do not wait for it long (the
    // reader goes on draining, so it never gets SIGPIPE).
    if let Some(reading) = reading {
        let _ = tokio::time::timeout(Duration::from_millis(200), reading).await;
    }
    let output = String::from_utf8_lossy(&tail.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    let result = match status {
        None => HookResult::TimedOut,
        Some(Ok(exit)) => match (exit.code, exit.signal) {
            (Some(0), _) => HookResult::Succeeded,
            (Some(code), _) => HookResult::Failed { code },
            (None, Some(signal)) => HookResult::Killed { signal },
            (None, None) => HookResult::Failed { code: -1 },
        },
        Some(Err(e)) => HookResult::SpawnFailed { error: format!("waiting for the hook: {e}") },
    };
    (result, output)
}

/// Reads `reader` to its end in a task, keeping the last [`OUTPUT_TAIL`] bytes in
/// `tail`. The task's handle resolves at end-of-file.
fn read_tail(reader: std::io::PipeReader, tail: Arc<std::sync::Mutex<Vec<u8>>>) -> Option<tokio::task::JoinHandle<()>> {
    use tokio::io::AsyncReadExt;
    let fd = std::os::fd::OwnedFd::from(reader);
    let mut rx = match tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
        Ok(rx) => rx,
        Err(e) => {
            tracing::warn!("cannot read a hook's output: {e}");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        loop {
            match rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                    t.extend_from_slice(&buf[..n]);
                    if t.len() > OUTPUT_TAIL {
                        let cut = t.len() - OUTPUT_TAIL;
                        t.drain(..cut);
                    }
                }
            }
        }
    }))
}

/// A report from a running phase to the actor (through one channel, so in order).
#[derive(Debug)]
pub(crate) enum HookMsg {
    /// A hook was started.
    Started { instance: String, phase: HookPhase, hook: String, run_mode: RunMode },
    /// A hook ended.
    Finished { instance: String, phase: HookPhase, hook: String, run_mode: RunMode, outcome: HookOutcome },
    /// Every blocking hook of the phase has ended (async ones may still run).
    /// `failure` says why the phase failed, if it did.
    PhaseDone { instance: String, chain: u64, phase: HookPhase, failure: Option<String> },
}

/// Runs the hooks of a phase in order (see the module docs) and reports each step on `tx`,
/// ending with [`HookMsg::PhaseDone`].
pub(crate) async fn run_phase(
    hooks: Vec<Hook>,
    phase: HookPhase,
    ctx: Arc<HookContext>,
    chain: u64,
    tx: mpsc::UnboundedSender<HookMsg>,
) {
    let instance = ctx.process_name.clone();
    let mut failure = None;
    for hook in hooks {
        let _ = tx.send(HookMsg::Started {
            instance: instance.clone(),
            phase,
            hook: hook.name.clone(),
            run_mode: hook.run_mode,
        });
        let finished = |outcome: HookOutcome, hook: &Hook| HookMsg::Finished {
            instance: ctx.process_name.clone(),
            phase,
            hook: hook.name.clone(),
            run_mode: hook.run_mode,
            outcome,
        };
        if hook.run_mode == RunMode::Async {
            let (ctx, tx) = (ctx.clone(), tx.clone());
            tokio::spawn(async move {
                let outcome = run(&hook, phase, &ctx).await;
                let _ = tx.send(HookMsg::Finished {
                    instance: ctx.process_name.clone(),
                    phase,
                    hook: hook.name.clone(),
                    run_mode: hook.run_mode,
                    outcome,
                });
            });
            continue;
        }
        let outcome = run(&hook, phase, &ctx).await;
        let failed = !outcome.succeeded() && hook.failure_mode != FailureMode::Ignore;
        if failed {
            failure = Some(format!("{phase} hook {:?} {}", hook.name, outcome.result));
        }
        let _ = tx.send(finished(outcome, &hook));
        if failed {
            break;
        }
    }
    let _ = tx.send(HookMsg::PhaseDone { instance, chain, phase, failure });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> HookContext {
        HookContext {
            process_name: "web".into(),
            env: [("PATH".to_string(), "/bin:/usr/bin".to_string())].into_iter().collect(),
            work_dir: None,
        }
    }

    #[test]
    fn hooks_deserialise_with_defaults() {
        let l: Lifecycle = serde_json::from_str(
            r#"{"pre_start":[{"name":"a","command":"true"}],
                "post_stop":[{"name":"b","command":"true","failure_mode":"retry","run_mode":"async","timeout":"5s"}]}"#,
        )
        .expect("lifecycle");
        assert_eq!(l.pre_start, [Hook::new("a", "true")]);
        let b = &l.post_stop[0];
        assert_eq!(
            (b.failure_mode, b.run_mode, b.timeout),
            (FailureMode::Retry, RunMode::Async, Duration::from_secs(5))
        );
        assert!(
            serde_json::from_str::<Lifecycle>(r#"{"pre_start":[{"name":"a","command":"x","when":"now"}]}"#).is_err()
        );
        assert!(serde_json::from_str::<Lifecycle>(r#"{"on_start":[]}"#).is_err());
    }

    #[test]
    fn validation_names_phase_and_hook() {
        let l = Lifecycle {
            pre_stop: vec![Hook::new("", "true"), Hook::new("x", " "), Hook::new("x", "true")],
            ..Lifecycle::default()
        };
        let msgs: Vec<String> = l.validate().into_iter().map(|(k, m)| format!("{k}: {m}")).collect();
        assert_eq!(
            msgs,
            [
                "lifecycle: pre_stop[0]: name is required",
                "lifecycle: pre_stop[1] (\"x\"): command is required",
                "lifecycle: pre_stop[2]: hook name \"x\" is used twice in pre_stop",
            ]
        );
    }

    #[tokio::test]
    async fn results_of_one_run() {
        let c = ctx();
        let table = [
            ("true", HookResult::Succeeded),
            ("exit 3", HookResult::Failed { code: 3 }),
            ("kill -9 $$", HookResult::Killed { signal: 9 }),
            (
                "test \"$PROVISR_PROCESS_NAME/$PROVISR_HOOK_NAME/$PROVISR_HOOK_PHASE\" = web/h/pre_stop",
                HookResult::Succeeded,
            ),
        ];
        for (command, want) in table {
            assert_eq!(run_once(&Hook::new("h", command), HookPhase::PreStop, &c).await.result, want, "{command}");
        }
        let r = run_once(&Hook::new("h", "/no/such/hook"), HookPhase::PreStop, &c).await.result;
        assert!(matches!(r, HookResult::SpawnFailed { .. }), "{r:?}");
    }

    #[tokio::test]
    async fn output_is_kept_interleaved_and_truncated_to_its_tail() {
        let c = ctx();
        let o = run_once(&Hook::new("h", "echo out; echo err >&2; echo out2; exit 1"), HookPhase::PreStart, &c).await;
        assert_eq!((o.result, o.output.as_str()), (HookResult::Failed { code: 1 }, "out\nerr\nout2\n"));
        let o =
            run_once(&Hook::new("h", "head -c 10000 /dev/zero | tr '\\0' a; echo END"), HookPhase::PreStart, &c).await;
        assert_eq!(o.output.len(), OUTPUT_TAIL);
        assert!(o.output.ends_with("aaaEND\n"), "{:?}", &o.output[OUTPUT_TAIL - 10..]);
        // A background program holding the pipe does not hold the hook's end.
        let o = run_once(&Hook::new("h", "echo started; sleep 3 &"), HookPhase::PostStart, &c).await;
        assert!(o.duration < Duration::from_secs(2), "{:?}", o.duration);
        assert_eq!((o.result, o.output.as_str()), (HookResult::Succeeded, "started\n"));
    }

    #[tokio::test]
    async fn retry_runs_twice_and_ignore_once() {
        let dir = tempfile::tempdir().expect("dir");
        let count = dir.path().join("count");
        let cmd = format!("echo x >> {}; exit 1", count.display());
        let mut h = Hook::new("h", cmd);
        h.failure_mode = FailureMode::Retry;
        let o = run(&h, HookPhase::PreStart, &ctx()).await;
        assert_eq!((o.result.clone(), o.attempts), (HookResult::Failed { code: 1 }, 2));
        assert_eq!(std::fs::read_to_string(&count).expect("count").lines().count(), 2);
        h.failure_mode = FailureMode::Ignore;
        assert_eq!(run(&h, HookPhase::PreStart, &ctx()).await.attempts, 1);
    }
}
