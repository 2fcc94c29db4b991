//! The only place that talks to the operating system about processes.
//!
//! The actor decides *what* happens to a process; this module knows *how*: building the
//! argv from a spec, spawning into a new process group, signalling the whole group, the
//! PID file that lets a restarted daemon recognise its children, and watching a process
//! exit. Everything it hands back is a plain type ([`unix::Spawned`], [`Exit`], [`PidRecord`]),
//! so the rest of the crate never sees a file descriptor, an errno or `/proc`.
//!
//! The parts that decide without touching the OS (which argv, which PID file path)
//! are in this file and unit-tested here; the system calls are in `process/unix.rs`.
//! provisr supervises on Linux: pidfds and `/proc` are what make exit watching O(1)
//! and re-adoption safe, so the `unix` module assumes them.

use crate::spec::ProcessSpec;
use std::path::{Path, PathBuf};

mod pidfiles;
mod spawner;
mod unix;

pub(crate) use pidfiles::PidFiles;
pub(crate) use spawner::Spawner;
pub(crate) use unix::{
    adopt, adopted_output, find_program, launch, prepare, proc_stat, remove_pid_file, signal_group, spawn,
    spawn_program, started_at, watch, write_pid_file, ExitWatch, Launch, NotAdopted, Spawned, Started,
};

/// Characters that make a `command` string shell syntax rather than a plain argv.
const SHELL_CHARS: &[char] =
    &['|', '&', ';', '<', '>', '*', '?', '`', '$', '"', '\'', '(', ')', '{', '}', '[', ']', '~', '#', '\\', '\n', '\r'];

/// Shell builtins that have no program of their own to execute.
const SHELL_BUILTINS: &[&str] = &[
    ".", ":", "alias", "break", "cd", "continue", "eval", "exec", "exit", "export", "read", "readonly", "return",
    "set", "shift", "source", "times", "trap", "ulimit", "umask", "unalias", "unset", "wait",
];

/// How a process ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Exit {
    /// Exit code when it exited normally and we reaped it ourselves.
    pub code: Option<i32>,
    /// Terminating signal number when it was killed.
    pub signal: Option<i32>,
}

/// What a PID file records: the pid and the process's start time (clock ticks after
/// boot, field 22 of `/proc/<pid>/stat`). The pair identifies a process for good:
/// a recycled pid has another start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PidRecord {
    pub pid: u32,
    pub start_time: u64,
}

/// The argv a spec runs: `args` as given; a `command` with shell syntax through
/// `/bin/sh -c`; any other `command` split on whitespace and executed directly.
pub(crate) fn argv(spec: &ProcessSpec) -> Vec<String> {
    if !spec.args.is_empty() {
        return spec.args.clone();
    }
    argv_of(spec.command.as_deref().unwrap_or_default())
}

/// The argv of a command string: through `/bin/sh -c` when it is shell syntax (one of
/// `|&;<>()$`\*?[]{}#~"'`, a newline, a leading `NAME=value` assignment, or a shell
/// builtin such as `exit`, `cd`, `source`, `exec` as the first word), else split on
/// whitespace.
pub(crate) fn argv_of(command: &str) -> Vec<String> {
    if is_shell_syntax(command) {
        vec!["/bin/sh".into(), "-c".into(), command.into()]
    } else {
        command.split_whitespace().map(str::to_string).collect()
    }
}

fn is_shell_syntax(command: &str) -> bool {
    if command.contains(SHELL_CHARS) {
        return true;
    }
    let Some(first) = command.split_whitespace().next() else {
        return false;
    };
    // A shell builtin (`exit 3`, `source env.sh`, `cd /x && …`) exists only in a shell.
    if SHELL_BUILTINS.contains(&first) {
        return true;
    }
    // `VAR=value program`: an assignment only a shell understands.
    first.split_once('=').is_some_and(|(name, _)| {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The PID file of one instance: `<pid_dir>/<instance>.pid`, or the spec's `pid_file`.
/// A spec with several instances and a `pid_file` gets one file per instance, the
/// instance suffix inserted before the extension (`web.pid` → `web-2.pid`), since one
/// file cannot identify several processes.
pub(crate) fn pid_file(spec: &ProcessSpec, instance: &str, pid_dir: &Path) -> PathBuf {
    let Some(path) = &spec.pid_file else {
        return pid_dir.join(format!("{instance}.pid"));
    };
    let suffix = instance.strip_prefix(spec.name.as_str()).unwrap_or_default();
    if suffix.is_empty() {
        return path.clone();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}{suffix}"),
    };
    path.with_file_name(name)
}

/// Checks that the program a spec runs can be found, the way `exec` will look for it:
/// a name with a `/` is a path (relative to `work_dir` when set, since the child
/// changes directory before it executes); a bare name is searched on the child's `PATH`.
/// `env` is the child's resolved environment (its `PATH` is searched).
pub(crate) fn check_program(spec: &ProcessSpec, env: &crate::env::EnvMap) -> Result<(), String> {
    let argv = argv(spec);
    let Some(program) = argv.first() else {
        return Err("a command or args is required".into());
    };
    let path_var = env.get("PATH").map(std::ffi::OsStr::new);
    find_program(program, spec.work_dir.as_deref(), path_var).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(command: &str) -> ProcessSpec {
        ProcessSpec::new("web", command)
    }

    #[test]
    fn argv_chooses_direct_exec_or_shell() {
        let table: &[(&str, &[&str])] = &[
            ("sleep 300", &["sleep", "300"]),
            ("  sleep\t300  ", &["sleep", "300"]),
            ("exit 3; true", &["/bin/sh", "-c", "exit 3; true"]),
            ("sleep 300 & sleep 300", &["/bin/sh", "-c", "sleep 300 & sleep 300"]),
            ("echo $HOME", &["/bin/sh", "-c", "echo $HOME"]),
            ("ls ~", &["/bin/sh", "-c", "ls ~"]),
            ("sh -c 'exit 3'", &["/bin/sh", "-c", "sh -c 'exit 3'"]),
            ("a\nb", &["/bin/sh", "-c", "a\nb"]),
            ("cat < in > out", &["/bin/sh", "-c", "cat < in > out"]),
            ("cmd 2>&1", &["/bin/sh", "-c", "cmd 2>&1"]),
            ("run # comment", &["/bin/sh", "-c", "run # comment"]),
            ("echo a\\ b", &["/bin/sh", "-c", "echo a\\ b"]),
            ("FOO=1 run", &["/bin/sh", "-c", "FOO=1 run"]),
            ("_X=1 run", &["/bin/sh", "-c", "_X=1 run"]),
            ("run --opt=1", &["run", "--opt=1"]),
            ("1X=1 run", &["1X=1", "run"]),
            ("exit 3", &["/bin/sh", "-c", "exit 3"]),
            ("exec sleep 1", &["/bin/sh", "-c", "exec sleep 1"]),
            ("source env.sh", &["/bin/sh", "-c", "source env.sh"]),
            ("exitcode 3", &["exitcode", "3"]),
            ("ls *.txt", &["/bin/sh", "-c", "ls *.txt"]),
            ("echo {a,b}", &["/bin/sh", "-c", "echo {a,b}"]),
        ];
        for (command, want) in table {
            assert_eq!(argv(&spec(command)), *want, "{command:?}");
        }
        let mut s = ProcessSpec::new("web", "");
        s.command = None;
        s.args = vec!["/bin/echo".into(), "a b; c".into()];
        assert_eq!(argv(&s), ["/bin/echo", "a b; c"]);
    }

    #[test]
    fn pid_file_paths() {
        let dir = Path::new("/run/provisr");
        let mut s = spec("true");
        assert_eq!(pid_file(&s, "web", dir), Path::new("/run/provisr/web.pid"));
        s.pid_file = Some("/var/run/web.pid".into());
        assert_eq!(pid_file(&s, "web", dir), Path::new("/var/run/web.pid"));
        s.instances = 2;
        assert_eq!(pid_file(&s, "web-2", dir), Path::new("/var/run/web-2.pid"));
        s.pid_file = Some("/var/run/web".into());
        assert_eq!(pid_file(&s, "web-1", dir), Path::new("/var/run/web-1"));
    }

    #[test]
    fn programs_are_looked_up_like_exec_does() {
        let env: crate::env::EnvMap = std::env::vars().collect();
        let check_program = |s: &ProcessSpec| {
            let child = crate::env::apply_map(&env, &s.env.0);
            check_program(s, &child)
        };
        assert!(check_program(&spec("sh -c true")).is_ok());
        assert!(check_program(&spec("/bin/sh -c true")).is_ok());
        assert!(check_program(&spec("exit 3; true")).is_ok(), "shell commands run /bin/sh");
        let e = check_program(&spec("no-such-program-provisr --flag")).expect_err("missing");
        assert!(e.contains("no-such-program-provisr"), "{e}");
        assert!(check_program(&spec("/no/such/program")).is_err());
        let mut s = spec("./sh");
        assert!(check_program(&s).is_err(), "relative to the daemon's cwd, no ./sh");
        s.work_dir = Some("/bin".into());
        assert!(check_program(&s).is_ok(), "relative to work_dir");
        let mut s = spec("sh");
        s.env.0.insert("PATH".into(), "/nonexistent".into());
        assert!(check_program(&s).is_err(), "the child's PATH is searched");
    }
}
