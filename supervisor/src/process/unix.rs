//! System calls for spawning, signalling and watching processes (Linux).
//!
//! * **Spawn**: every program gets its own process group (`pgid == pid`), so one
//!   `killpg` reaches everything it started, and `kill_on_drop(false)`, so a daemon
//!   that crashes (or an actor whose handles are all dropped) leaves it running for
//!   the next daemon to re-adopt. stdin is `/dev/null`; stdout and stderr are pipes
//!   read by the log capture (`crate::logs`), which writes the log files and keeps the
//!   recent lines.
//! * **Exit watch**: one task per live process. It waits on a pidfd, which becomes
//!   readable when the process exits but does *not* reap it. While the leader is an
//!   unreaped zombie its pid, hence its group id, cannot be recycled, so the SIGKILL
//!   sweep of the rest of the group that follows cannot hit a stranger. Only then is the
//!   child reaped (`waitpid` on a zombie returns at once) and its status reported, once
//!   the capture has read its output to the end (bounded by `logs::DRAIN_GRACE`). The
//!   child is spawned with `posix_spawn` directly ([`posix_spawn`]), neither tokio's
//!   `Command` (its child would open and register a second pidfd of its own) nor the
//!   standard library's (it cannot reset the signal dispositions: see there). The system calls
//!   of a spawn ([`launch`]) run on the spawner thread (`spawner.rs`), whose descriptor
//!   table holds almost nothing: a child does not copy and close the daemon's.
//!   A re-adopted process is not our child (it was re-parented to init), so its exit is
//!   seen through the pidfd alone and its exit status is unknown.
//! * **PID files** hold `<pid>\n<start time>\n`. A pid alone is not an identity, pid +
//!   start time is: adoption opens a pidfd first and checks the start time second, so
//!   the pidfd is known to refer to the recorded process. A PID file is rewritten in
//!   place (one `pwrite` of a few bytes, then `ftruncate`): a reader sees the old or the
//!   new record, and only the first two lines count, so a daemon killed between the two
//!   calls leaves a file that still reads right. (A temporary file + rename would cost
//!   an inode allocation per spawn.) The spawn path does not write them itself: see
//!   `pidfiles.rs` for the journal and the writer thread that do.

use super::{Exit, PidRecord};
use crate::logs::{Drain, LogFiles, LogRegistry, DRAIN_GRACE};
use chrono::{DateTime, Utc};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use rustix::process::PidfdFlags;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A freshly spawned process.
#[derive(Debug)]
pub(crate) struct Spawned {
    /// Its pid, which is also its process group id.
    pub pid: u32,
    /// Resolves when it has exited; hand it to a task.
    pub watch: ExitWatch,
}

/// A process of a previous daemon, taken over.
#[derive(Debug)]
pub(crate) struct Adopted {
    /// Its pid, which is also its process group id.
    pub pid: u32,
    /// When it was started, from its start time and the boot time.
    pub since: Option<DateTime<Utc>>,
    /// Readable once it has exited: for its [`ExitWatch::Adopted`].
    pub pidfd: AsyncFd<OwnedFd>,
}

/// Why a PID file led to no adoption.
#[derive(Debug)]
pub(crate) enum NotAdopted {
    /// There is no PID file.
    NoPidFile,
    /// There was one, but its process is gone or is another one; the file was removed.
    Stale(String),
}

/// Waits for one process to exit; see the module docs for the order of events.
#[derive(Debug)]
pub(crate) enum ExitWatch {
    /// Our own child: reaped after the group sweep.
    Child {
        /// The pid.
        pid: u32,
        /// The child, to reap.
        child: Child,
        /// A pidfd to see the exit before reaping; `None` on kernels without pidfds.
        pidfd: Option<AsyncFd<OwnedFd>>,
        /// Completes when its output has been read to the end.
        output: Drain,
    },
    /// A re-adopted process: a pidfd, and its output if it could be taken over.
    Adopted {
        /// The pid.
        pid: u32,
        /// Readable once the process has exited.
        pidfd: AsyncFd<OwnedFd>,
        /// Completes when its output has been read to the end; `None`: not captured.
        output: Option<Drain>,
    },
}

impl ExitWatch {
    /// Resolves once the process has exited and the rest of its group was sent SIGKILL.
    pub(crate) async fn wait(self) -> Exit {
        match self {
            Self::Child { pid, child, pidfd: Some(pidfd), output } => {
                if let Err(e) = pidfd.readable().await {
                    tracing::warn!(pid, "waiting on pidfd: {e}");
                }
                sweep(pid);
                drop(pidfd);
                drained(pid, output).await;
                reap(child).await
            }
            Self::Child { pid, child, pidfd: None, output } => {
                let exit = reap(child).await;
                sweep(pid);
                drained(pid, output).await;
                exit
            }
            Self::Adopted { pid, pidfd, output } => {
                if let Err(e) = pidfd.readable().await {
                    tracing::warn!(pid, "waiting on pidfd: {e}");
                }
                sweep(pid);
                if let Some(output) = output {
                    drained(pid, output).await;
                }
                Exit::default()
            }
        }
    }
}

/// Waits for the last output of an exited process (the group was swept, so only a process
/// that left the group can still hold its pipes).
async fn drained(pid: u32, output: Drain) {
    if !output.wait(DRAIN_GRACE).await {
        tracing::debug!(pid, "output still open {DRAIN_GRACE:?} after the exit; reporting the exit anyway");
    }
}

/// Reaps `child`: at once when it is a zombie already (its pidfd said so), else on a
/// blocking thread (no pidfd on this kernel).
async fn reap(child: Child) -> Exit {
    match child.try_wait() {
        Ok(Some(exit)) => exit,
        Ok(None) => match tokio::task::spawn_blocking(move || child.wait()).await {
            Ok(Ok(exit)) => exit,
            Ok(Err(e)) => reap_failed(&e),
            Err(e) => reap_failed(&e),
        },
        Err(e) => reap_failed(&e),
    }
}

fn reap_failed(e: &dyn std::fmt::Display) -> Exit {
    tracing::warn!("reaping a child: {e}");
    Exit::default()
}

/// A child of this process, by pid, that nothing else reaps (dropping it neither kills
/// nor reaps it, as with `std::process::Child`).
#[derive(Debug)]
pub(crate) struct Child {
    pid: Pid,
}

impl Child {
    /// Its exit if it has exited (reaping it), `None` if it still runs.
    pub(crate) fn try_wait(&self) -> io::Result<Option<Exit>> {
        self.waitpid(Some(nix::sys::wait::WaitPidFlag::WNOHANG))
    }

    /// Waits for it to exit and reaps it.
    pub(crate) fn wait(&self) -> io::Result<Exit> {
        self.waitpid(None)?.ok_or_else(|| io::Error::other("waitpid returned without a status"))
    }

    fn waitpid(&self, flags: Option<nix::sys::wait::WaitPidFlag>) -> io::Result<Option<Exit>> {
        use nix::sys::wait::WaitStatus;
        loop {
            return match nix::sys::wait::waitpid(self.pid, flags) {
                Ok(WaitStatus::Exited(_, code)) => Ok(Some(Exit { code: Some(code), signal: None })),
                Ok(WaitStatus::Signaled(_, signal, _)) => Ok(Some(Exit { code: None, signal: Some(signal as i32) })),
                // Stopped or continued (not asked for) or still running.
                Ok(_) if flags.is_some() => Ok(None),
                Ok(_) => continue,
                Err(Errno::EINTR) => continue,
                Err(e) => Err(e.into()),
            };
        }
    }
}

/// SIGKILL to whatever is left of a process group whose leader has exited.
fn sweep(pgid: u32) {
    if let Err(e) = signal_group(pgid, Signal::SIGKILL) {
        tracing::warn!(pgid, "sweeping the process group: {e}");
    }
}

/// The daemon's own process group, asked once (nothing in the daemon changes it): a stop of
/// a thousand processes signals two thousand groups.
fn own_group() -> Pid {
    static GROUP: std::sync::OnceLock<Pid> = std::sync::OnceLock::new();
    *GROUP.get_or_init(nix::unistd::getpgrp)
}

/// Sends `signal` to the process group `pgid`. A group that no longer exists is not an
/// error. Refuses pgid 0 and 1 and the daemon's own group: `killpg` with those would
/// reach the daemon itself or every process it may signal.
pub(crate) fn signal_group(pgid: u32, signal: Signal) -> io::Result<()> {
    let raw = i32::try_from(pgid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    if raw <= 1 || Pid::from_raw(raw) == own_group() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("refusing to signal process group {pgid}")));
    }
    match nix::sys::signal::killpg(Pid::from_raw(raw), signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Spawns `spec` as `instance`, its output captured by `logs`. The error is a message
/// for the operator. `env` is the child's whole environment (see `env.rs`); `None`: the
/// daemon's own, inherited as it is (the common case, and the cheapest).
pub(crate) fn spawn(
    spec: &crate::spec::ProcessSpec,
    instance: &str,
    env: Option<&crate::env::EnvMap>,
    logs: &LogRegistry,
) -> Result<Spawned, String> {
    let files = LogFiles::resolve(spec, instance, logs.config());
    let started = start(spec, env, &files)?;
    watch(started, instance, &files, logs)
}

/// A process just spawned, before its exit and output are watched ([`watch`]).
#[derive(Debug)]
pub(crate) struct Started {
    pub(super) child: Child,
    /// Its pid, which is also its process group id.
    pub pid: u32,
    /// Its start time, for the PID file (`None` if `/proc` could not be read).
    pub start_time: Option<u64>,
    /// The read ends of its stdout and stderr pipes.
    pub(super) out_r: OwnedFd,
    pub(super) err_r: OwnedFd,
}

/// Spawns here and now: [`prepare`], then [`launch`].
pub(crate) fn start(
    spec: &crate::spec::ProcessSpec,
    env: Option<&crate::env::EnvMap>,
    files: &LogFiles,
) -> Result<Started, String> {
    launch(prepare(spec, env.cloned(), files)?)
}

/// Everything a spawn needs, owned, checked and resolved: what [`launch`] (possibly on
/// the spawner thread, see `spawner.rs`) turns into a process with system calls only.
#[derive(Debug)]
pub(crate) struct Launch {
    program: PathBuf,
    arg0: String,
    args: Vec<String>,
    env: Option<crate::env::EnvMap>,
    work_dir: Option<PathBuf>,
}

/// The checks and lookups of a spawn: argv, work_dir, log files, the program on the
/// child's PATH. The error is a message for the operator.
pub(crate) fn prepare(
    spec: &crate::spec::ProcessSpec,
    env: Option<crate::env::EnvMap>,
    files: &LogFiles,
) -> Result<Launch, String> {
    let mut argv = super::argv(spec).into_iter();
    let arg0 = argv.next().ok_or("empty command")?;
    if let Some(dir) = &spec.work_dir {
        if !dir.is_dir() {
            return Err(format!("work_dir {} is not a directory", dir.display()));
        }
    }
    LogRegistry::check_files(files)?;
    // The program is looked up here on the child's PATH (posix_spawnp would search the
    // daemon's). argv[0] stays as written.
    let path_var = match &env {
        Some(env) => env.get("PATH").map(OsString::from),
        None => std::env::var_os("PATH"),
    };
    let program = find_program(&arg0, spec.work_dir.as_deref(), path_var.as_deref())
        .ok()
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from(&arg0));
    Ok(Launch { program, arg0, args: argv.collect(), env, work_dir: spec.work_dir.clone() })
}

/// The system calls of a spawn (pipes, posix_spawn, the start time from `/proc`), and
/// nothing else: no logging and no descriptor but its own, so that it can run on the
/// spawner thread with its private descriptor table.
pub(crate) fn launch(launch: Launch) -> Result<Started, String> {
    let Launch { program, arg0, args, env, work_dir } = launch;
    let ([out_r, err_r], [out_w, err_w]) =
        LogRegistry::pipes().map_err(|e| format!("cannot create the output pipes: {e}"))?;
    let spawned = (|| {
        let argv = std::iter::once(arg0.as_str()).chain(args.iter().map(String::as_str));
        let own;
        let envp = match &env {
            Some(env) => {
                own = envp(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
                &own[..]
            }
            None => daemon_envp(),
        };
        spawn_argv(&program, argv, envp, work_dir.as_deref(), [out_w.as_fd(), err_w.as_fd()])
    })();
    // The child holds the pipes' write ends now: without closing ours the capture would
    // never see the end of the output.
    drop((out_w, err_w));
    let pid = spawned.map_err(|e| format!("cannot execute {arg0:?}: {e}"))?;
    // The child is not reaped until its watch task says so: /proc/<pid> and the pid
    // itself stay valid here even if it has already exited.
    let start_time = proc_stat(pid).map(|s| s.start_time).ok();
    let child = Child { pid: Pid::from_raw(pid.cast_signed()) };
    Ok(Started { child, pid, start_time, out_r, err_r })
}

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "contains a NUL byte"))
}

/// The daemon's own environment, as `posix_spawn` takes it: built at the first spawn that
/// inherits it, not at every one (nothing in the daemon changes its environment).
fn daemon_envp() -> &'static [CString] {
    static ENVP: std::sync::OnceLock<Vec<CString>> = std::sync::OnceLock::new();
    // An entry with a NUL byte cannot come from the OS.
    ENVP.get_or_init(|| std::env::vars_os().filter_map(|(k, v)| env_entry(k.as_bytes(), v.as_bytes()).ok()).collect())
}

fn env_entry(key: &[u8], value: &[u8]) -> io::Result<CString> {
    c_string(&[key, b"=", value].concat())
}

fn envp<'a>(env: impl IntoIterator<Item = (&'a str, &'a str)>) -> io::Result<Vec<CString>> {
    env.into_iter().map(|(k, v)| env_entry(k.as_bytes(), v.as_bytes())).collect()
}

/// [`posix_spawn`] with Rust strings and paths.
fn spawn_argv<'a>(
    program: &Path,
    argv: impl IntoIterator<Item = &'a str>,
    envp: &[CString],
    work_dir: Option<&Path>,
    output: [BorrowedFd<'_>; 2],
) -> io::Result<u32> {
    let argv = argv.into_iter().map(|a| c_string(a.as_bytes())).collect::<io::Result<Vec<_>>>()?;
    let dir = work_dir.map(|d| c_string(d.as_os_str().as_bytes())).transpose()?;
    posix_spawn(&c_string(program.as_os_str().as_bytes())?, &argv, envp, dir.as_deref(), output)
}

/// Spawns `program` (searched on the daemon's PATH if it has no `/`: [`prepare`] has
/// already resolved it on the child's) in a process group of its own, stdin on
/// `/dev/null`, stdout and stderr on `output`, in `work_dir`; returns its pid.
///
/// Why not the standard library's `Command`: a child inherits the signals its parent
/// ignores and blocks across `exec`. A daemon started by `nohup`, or as a background job
/// of a shell without job control, ignores SIGHUP, or SIGINT and SIGQUIT, and `Command`
/// resets only SIGPIPE; a program that then ignores its `stop_signal` is killed at the
/// stop timeout instead of stopping cleanly. Here every signal gets its default
/// disposition and none is blocked (`POSIX_SPAWN_SETSIGDEF` with the full set: glibc's
/// child visits every signal anyway, so this costs nothing).
#[allow(unsafe_code)]
fn posix_spawn(
    program: &CStr,
    argv: &[CString],
    envp: &[CString],
    work_dir: Option<&CStr>,
    output: [BorrowedFd<'_>; 2],
) -> io::Result<u32> {
    use nix::sys::signal::SigSet;
    use std::mem::MaybeUninit;

    fn check(ret: libc::c_int) -> io::Result<()> {
        if ret == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(ret))
        }
    }
    struct Attr(libc::posix_spawnattr_t);
    impl Drop for Attr {
        fn drop(&mut self) {
            // SAFETY: initialised by posix_spawnattr_init (the only way one is built).
            unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
        }
    }
    struct Actions(libc::posix_spawn_file_actions_t);
    impl Drop for Actions {
        fn drop(&mut self) {
            // SAFETY: initialised by posix_spawn_file_actions_init (the only way one is built).
            unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
        }
    }

    // A pipe on 0, 1 or 2 (a daemon started with a standard stream closed) would be
    // closed or clobbered by the other `dup2`s: move it above them first.
    let mut moved = Vec::new();
    let mut fds = [0; 2];
    for (fd, slot) in output.into_iter().zip(&mut fds) {
        *slot = if fd.as_raw_fd() > 2 {
            fd.as_raw_fd()
        } else {
            let high = rustix::io::fcntl_dupfd_cloexec(fd, 3)?;
            let raw = high.as_raw_fd();
            moved.push(high);
            raw
        };
    }

    let mut argv_p: Vec<*mut libc::c_char> = argv.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argv_p.push(std::ptr::null_mut());
    let mut envp_p: Vec<*mut libc::c_char> = envp.iter().map(|e| e.as_ptr().cast_mut()).collect();
    envp_p.push(std::ptr::null_mut());
    let mut pid: libc::pid_t = 0;
    // SAFETY: the attribute and file-action objects are initialised before use, used only
    // through the libc calls made for them, and destroyed once (their Drop). Every pointer
    // handed over stays valid for the call: the C strings are borrowed for the whole
    // function, and `argv_p` and `envp_p` are NULL-terminated arrays of pointers into
    // them. The descriptors are open (borrowed, or held in `moved`) until posix_spawn has
    // returned, and the child's dup2/open act on its own copy of the table.
    unsafe {
        let mut attr = MaybeUninit::uninit();
        check(libc::posix_spawnattr_init(attr.as_mut_ptr()))?;
        let mut attr = Attr(attr.assume_init());
        let flags = libc::POSIX_SPAWN_SETPGROUP | libc::POSIX_SPAWN_SETSIGDEF | libc::POSIX_SPAWN_SETSIGMASK;
        let flags = libc::c_short::try_from(flags).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        check(libc::posix_spawnattr_setflags(&mut attr.0, flags))?;
        check(libc::posix_spawnattr_setpgroup(&mut attr.0, 0))?;
        check(libc::posix_spawnattr_setsigdefault(&mut attr.0, SigSet::all().as_ref()))?;
        check(libc::posix_spawnattr_setsigmask(&mut attr.0, SigSet::empty().as_ref()))?;

        let mut actions = MaybeUninit::uninit();
        check(libc::posix_spawn_file_actions_init(actions.as_mut_ptr()))?;
        let mut actions = Actions(actions.assume_init());
        if let Some(dir) = work_dir {
            check(libc::posix_spawn_file_actions_addchdir_np(&mut actions.0, dir.as_ptr()))?;
        }
        check(libc::posix_spawn_file_actions_addopen(&mut actions.0, 0, c"/dev/null".as_ptr(), libc::O_RDONLY, 0))?;
        check(libc::posix_spawn_file_actions_adddup2(&mut actions.0, fds[0], 1))?;
        check(libc::posix_spawn_file_actions_adddup2(&mut actions.0, fds[1], 2))?;

        let spawn = if program.to_bytes().contains(&b'/') { libc::posix_spawn } else { libc::posix_spawnp };
        check(spawn(&mut pid, program.as_ptr(), &actions.0, &attr.0, argv_p.as_ptr(), envp_p.as_ptr()))?;
    }
    drop(moved);
    u32::try_from(pid).map_err(|_| io::Error::other(format!("posix_spawn returned pid {pid}")))
}

/// A program started by [`spawn_program`] (a hook): its own process group, waited for by
/// pid, not watched by the capture.
#[derive(Debug)]
pub(crate) struct Program {
    child: Child,
    /// Readable once it has exited; `None` on kernels without pidfds.
    pidfd: Option<AsyncFd<OwnedFd>>,
}

/// Spawns `program` (already resolved: one without a `/` is searched on the daemon's PATH)
/// as a process is spawned ([`posix_spawn`]: its own process group, every signal at its
/// default disposition, stdin `/dev/null`), with `argv` and exactly `env`, in `work_dir`,
/// stdout and stderr both on `output`.
pub(crate) fn spawn_program<'a>(
    program: &Path,
    argv: &[&str],
    env: impl IntoIterator<Item = (&'a str, &'a str)>,
    work_dir: Option<&Path>,
    output: BorrowedFd<'_>,
) -> io::Result<Program> {
    let pid = spawn_argv(program, argv.iter().copied(), &envp(env)?, work_dir, [output, output])?;
    let pidfd = open_pidfd(pid).inspect_err(|e| tracing::debug!(pid, "no pidfd for a hook ({e}); polling")).ok();
    Ok(Program { child: Child { pid: Pid::from_raw(pid.cast_signed()) }, pidfd })
}

impl Program {
    /// Its pid, which is also its process group id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.pid.as_raw().cast_unsigned()
    }

    /// Waits for it to exit and reaps it. Cancel-safe: dropped before it resolves, it has
    /// reaped nothing, so the pid (and group id) is still this program's to signal.
    pub(crate) async fn wait(&mut self) -> io::Result<Exit> {
        if let Some(pidfd) = &self.pidfd {
            drop(pidfd.readable().await?);
            return self.child.wait();
        }
        loop {
            if let Some(exit) = self.child.try_wait()? {
                return Ok(exit);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// Watches a [`Started`] process: its exit through a pidfd, its output through the capture.
pub(crate) fn watch(started: Started, instance: &str, files: &LogFiles, logs: &LogRegistry) -> Result<Spawned, String> {
    let Started { child, pid, out_r, err_r, .. } = started;
    let pidfd = match open_pidfd(pid) {
        Ok(fd) => Some(fd),
        Err(e) => {
            tracing::warn!(pid, "no pidfd ({e}); the group sweep on exit happens after reaping");
            None
        }
    };
    let output = logs.capture(instance, Some(out_r), Some(err_r), files).map_err(|e| {
        // Not started as far as the caller knows: leave nothing running.
        let _ = signal_group(pid, Signal::SIGKILL);
        format!("cannot capture the output: {e}")
    })?;
    Ok(Spawned { pid, watch: ExitWatch::Child { pid, child, pidfd, output } })
}

fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o755).create(dir)
}

fn open_pidfd(pid: u32) -> io::Result<AsyncFd<OwnedFd>> {
    let raw = i32::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let pid = rustix::process::Pid::from_raw(raw).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    register(rustix::process::pidfd_open(pid, PidfdFlags::NONBLOCK)?)
}

/// Hands a pidfd to tokio's reactor (readable = the process has exited).
#[allow(unsafe_code)]
fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: `register_with_interest` requires that the descriptor be open and stay the
    // same open file description for the life of the `AsyncFd`. An `OwnedFd` is an open
    // descriptor that nothing else may close, it is moved into the `AsyncFd` (so only
    // the `AsyncFd` closes it, when dropped), and its `as_raw_fd` always returns the
    // same number.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(|e| e.into_parts().1)
}

/// Read ends of the stdout and stderr pipes of re-adopted process `pid`, opened through
/// `/proc/<pid>/fd/1` and `2`: `None` for a stream that is no longer the pipe it was
/// spawned with. Its end of such a pipe is an anonymous pipe opened for reading and
/// writing (see `logs::pipe`); anything else there (a file, or a pipe of its own it put
/// there) is not ours to read.
pub(crate) fn adopted_output(pid: u32) -> [Option<OwnedFd>; 2] {
    use rustix::fs::{Mode, OFlags};
    [1, 2].map(|fd| {
        let link = fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
        if !link.as_os_str().as_bytes().starts_with(b"pipe:") {
            return None;
        }
        let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
        let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?.trim();
        let flags = u32::from_str_radix(flags, 8).ok()?;
        if flags & 0o3 != 0o2 {
            // Not O_RDWR: not the end provisr gave it.
            return None;
        }
        let read = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
        rustix::fs::open(format!("/proc/{pid}/fd/{fd}"), read, Mode::empty()).ok()
    })
}

/// Takes over the process recorded in `pid_file` if it is still the same process
/// (alive, not a zombie, same start time). A stale PID file is removed.
pub(crate) fn adopt(pid_file: &Path) -> Result<Adopted, NotAdopted> {
    let stale = |reason: String| {
        remove_pid_file(pid_file);
        NotAdopted::Stale(reason)
    };
    let record = match read_pid_file(pid_file) {
        Ok(Some(record)) => record,
        Ok(None) => return Err(NotAdopted::NoPidFile),
        Err(e) => return Err(stale(format!("unreadable PID file: {e}"))),
    };
    let pid = record.pid;
    if pid <= 1 || pid == std::process::id() {
        return Err(stale(format!("pid {pid} cannot be a supervised process")));
    }
    // Open the pidfd before checking the start time: if the check passes, the pidfd
    // refers to the recorded process and not to a later one with a recycled pid.
    let pidfd = match open_pidfd(pid) {
        Ok(fd) => fd,
        Err(e) => return Err(stale(format!("pid {pid} is not running ({e})"))),
    };
    match proc_stat(pid) {
        Ok(stat) if matches!(stat.state, 'Z' | 'X' | 'x') => Err(stale(format!("pid {pid} has exited"))),
        Ok(stat) if stat.start_time != record.start_time => Err(stale(format!(
            "pid {pid} is another process (start time {} instead of {})",
            stat.start_time, record.start_time
        ))),
        Ok(stat) => {
            if i64::from(stat.pgrp) != i64::from(pid) {
                tracing::warn!(
                    pid,
                    pgrp = stat.pgrp,
                    "adopted process left its process group; stopping it may not work"
                );
            }
            Ok(Adopted { pid, since: started_at(stat.start_time), pidfd })
        }
        Err(e) => Err(stale(format!("pid {pid} is not running ({e})"))),
    }
}

/// Writes `<pid>\n<start time>\n` in place (see the module docs), creating the file
/// (0644) and its directory (0755) if needed.
pub(crate) fn write_pid_file(path: &Path, record: PidRecord) -> io::Result<()> {
    let open = || OpenOptions::new().write(true).create(true).truncate(false).mode(0o644).open(path);
    let file = match open() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                create_dir(dir)?;
            }
            open()?
        }
        other => other?,
    };
    let text = format!("{}\n{}\n", record.pid, record.start_time);
    file.write_all_at(text.as_bytes(), 0)?;
    file.set_len(text.len() as u64)
}

/// Reads a PID file; `Ok(None)` when there is none.
pub(crate) fn read_pid_file(path: &Path) -> io::Result<Option<PidRecord>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut lines = text.lines().map(str::trim);
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {what}", path.display()));
    let pid = lines.next().and_then(|l| l.parse().ok()).ok_or_else(|| invalid("no pid"))?;
    let start_time = lines.next().and_then(|l| l.parse().ok()).ok_or_else(|| invalid("no start time"))?;
    Ok(Some(PidRecord { pid, start_time }))
}

/// Removes a PID file; a missing one is fine.
pub(crate) fn remove_pid_file(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("removing PID file {}: {e}", path.display()),
    }
}

/// The fields of `/proc/<pid>/stat` we use.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Field 3: `R`, `S`, `Z`…
    pub state: char,
    /// Field 5: the process group id.
    pub pgrp: i32,
    /// Field 22: start time in clock ticks after boot.
    pub start_time: u64,
}

pub(crate) fn proc_stat(pid: u32) -> io::Result<ProcStat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat"))?)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("unexpected /proc/{pid}/stat")))
}

/// Parses a `stat` line. The command name (field 2) is in parentheses and may itself
/// contain spaces and parentheses, so the fields are counted from the *last* `)`.
fn parse_stat(line: &str) -> Option<ProcStat> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `fields[0]` is field 3.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(5 - 3)?.parse().ok()?,
        start_time: fields.get(22 - 3)?.parse().ok()?,
    })
}

/// Wall-clock time of a start time in clock ticks after boot: now, less the time
/// elapsed on the boot-time clock since then (to the tick, unlike `/proc/stat`'s
/// whole-second `btime`).
pub(crate) fn started_at(ticks: u64) -> Option<DateTime<Utc>> {
    let hz = rustix::param::clock_ticks_per_second().max(1);
    let now = Utc::now();
    let uptime = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let uptime_ms = uptime.tv_sec.checked_mul(1000)?.checked_add(uptime.tv_nsec / 1_000_000)?;
    let started_ms = i64::try_from(ticks.checked_mul(1000)? / hz).ok()?;
    now.checked_sub_signed(chrono::Duration::milliseconds(uptime_ms.checked_sub(started_ms)?))
}

/// Finds the file `exec` would run for `program`; see [`super::check_program`].
pub(crate) fn find_program(
    program: &str,
    work_dir: Option<&Path>,
    path_var: Option<&OsStr>,
) -> Result<PathBuf, String> {
    if program.contains('/') {
        let p = Path::new(program);
        let full = match work_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        };
        return match fs::metadata(&full) {
            Err(_) => Err(format!("program {program:?} does not exist")),
            Ok(m) if !m.is_file() => Err(format!("program {program:?} is not a file")),
            Ok(m) if m.permissions().mode() & 0o111 == 0 => Err(format!("program {program:?} is not executable")),
            Ok(_) => Ok(full),
        };
    }
    let path_var = path_var.unwrap_or(OsStr::new("/bin:/usr/bin"));
    std::env::split_paths(path_var)
        .map(|dir| dir.join(program))
        .find(|candidate| fs::metadata(candidate).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
        .ok_or_else(|| format!("program {program:?} not found on PATH"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let line = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_stat(line), Some(ProcStat { state: 'S', pgrp: 4242, start_time: 987_654 }));
        assert_eq!(parse_stat("1 (x) S 0"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_stat_is_readable() {
        let me = proc_stat(std::process::id()).expect("own /proc stat");
        assert_eq!(me.pgrp, nix::unistd::getpgrp().as_raw());
        let since = started_at(me.start_time).expect("start time as a date");
        let age = Utc::now() - since;
        assert!(age >= chrono::Duration::seconds(-2) && age < chrono::Duration::hours(1), "{since}");
    }

    #[test]
    fn pid_files_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sub/dir/web.pid");
        assert_eq!(read_pid_file(&path).expect("missing is fine"), None);
        let record = PidRecord { pid: 1234, start_time: 5678 };
        write_pid_file(&path, record).expect("write");
        assert_eq!(fs::read_to_string(&path).expect("read"), "1234\n5678\n");
        assert_eq!(read_pid_file(&path).expect("read"), Some(record));
        let mode = fs::metadata(path.parent().expect("parent")).expect("dir").permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(fs::read_dir(path.parent().expect("parent")).expect("ls").count(), 1, "no temp file left");
        // Rewritten in place: a shorter record leaves nothing of the longer one.
        write_pid_file(&path, PidRecord { pid: 1_234_567, start_time: 89_012_345 }).expect("write");
        write_pid_file(&path, PidRecord { pid: 42, start_time: 7 }).expect("rewrite");
        assert_eq!(fs::read_to_string(&path).expect("read"), "42\n7\n");
        // A daemon killed between the write and the truncation: the first two lines count.
        fs::write(&path, "42\n7\n567\n89012345\n").expect("write");
        assert_eq!(read_pid_file(&path).expect("read"), Some(PidRecord { pid: 42, start_time: 7 }));
        fs::write(&path, "1234\n").expect("write");
        assert!(read_pid_file(&path).is_err(), "a pid without start time cannot be verified");
        remove_pid_file(&path);
        remove_pid_file(&path);
        assert!(!path.exists());
    }

    #[test]
    fn refuses_to_signal_itself() {
        let own = u32::try_from(nix::unistd::getpgrp().as_raw()).expect("pgid");
        assert!(signal_group(own, Signal::SIGTERM).is_err());
        assert!(signal_group(0, Signal::SIGTERM).is_err());
        assert!(signal_group(1, Signal::SIGTERM).is_err());
    }
}
