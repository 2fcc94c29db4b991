//! Output capture: every process's stdout and stderr, through pipes, into log files and a
//! ring of recent lines per instance.
//!
//! * **Pipes, one reader thread.** At spawn the child gets the write ends of two pipes;
//!   the daemon registers the read ends with one epoll set served by one thread
//!   (`reader.rs`). A process that writes nothing costs two map entries and two epoll
//!   registrations: no task, no buffer, no ring until its first byte arrives.
//! * **Files** (`file.rs`): `<dir>/<instance>.stdout.log` and `.stderr.log` (or the spec's
//!   explicit `stdout` / `stderr` paths), written in the chunks read from the pipe, rotated
//!   by size and age into timestamped backups, gzipped and pruned (count, age) by a
//!   housekeeping thread.
//! * **Ring** (`ring.rs`): the last [`RING_BYTES`] of each instance, both streams, each
//!   byte numbered by its offset in the instance's output; read with [`LogRegistry::read`],
//!   followed with [`LogRegistry::follow`]. An instance that has captured nothing yet in this
//!   daemon's life (after a restart, a re-adopted process) is read from the tails of its log
//!   files instead, once, at the first query ([`LogRegistry::seed`]).
//! * **Nothing lost at exit.** A capture returns a [`Drain`] that completes when both pipes
//!   reach end of file; the exit watcher awaits it (for at most [`DRAIN_GRACE`], in case
//!   a process left something behind that holds the pipe) before the exit is reported.
//!
//! * **Across a crash of the daemon.** The child's end of each pipe can read as well as
//!   write (see `pipe`), so a pipe outlives the daemon that reads it: the child's writes
//!   wait in it, and the daemon that re-adopts the process reads on from where the last
//!   one stopped.

mod file;
mod reader;
mod ring;

use crate::spec::ProcessSpec;
use chrono::{DateTime, Utc};
use reader::{DrainState, Pipe, Reader};
use ring::Ring;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Bytes of recent output kept per instance.
pub const RING_BYTES: usize = 256 << 10;

/// How long an exit waits for the rest of a process's output once it has exited.
pub const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// The most lines one read returns.
pub const MAX_LIMIT: usize = 10_000;

/// The global `[log]` settings; a spec's `log` overrides them key by key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Where `<instance>.stdout.log` and `.stderr.log` go; `None`: no files (the ring only).
    pub dir: Option<PathBuf>,
    /// Rotate a file before it grows past this many MiB (0: never).
    pub max_size_mb: u64,
    /// Keep at most this many rotated files per log (0: all).
    pub max_backups: u32,
    /// Rotate a file once it is older than this many days, and remove rotated files older
    /// than this (0: neither).
    pub max_age_days: u32,
    /// Gzip rotated files.
    pub compress: bool,
}

impl LogConfig {
    /// Every problem, as `(key, message)`; keys are relative to the `[log]` section.
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut errs = Vec::new();
        check_path(&mut errs, "dir", self.dir.as_deref());
        check_numbers(&mut errs, Some(self.max_size_mb), Some(self.max_backups), Some(self.max_age_days));
        errs
    }
}

/// A spec's `log` settings: each one given overrides the global `[log]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSpec {
    /// Directory for `<instance>.stdout.log` / `.stderr.log` (absolute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Explicit stdout file (absolute); with several instances, the instance suffix is
    /// inserted before the extension (`web.log` → `web-2.log`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout: Option<PathBuf>,
    /// Explicit stderr file (absolute), like `stdout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<PathBuf>,
    /// See [`LogConfig::max_size_mb`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size_mb: Option<u64>,
    /// See [`LogConfig::max_backups`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_backups: Option<u32>,
    /// See [`LogConfig::max_age_days`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
    /// See [`LogConfig::compress`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compress: Option<bool>,
}

impl LogSpec {
    /// Every problem, as `(key, message)` with keys under `log.`.
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut errs = Vec::new();
        check_path(&mut errs, "log.dir", self.dir.as_deref());
        check_path(&mut errs, "log.stdout", self.stdout.as_deref());
        check_path(&mut errs, "log.stderr", self.stderr.as_deref());
        let mut numbers = Vec::new();
        check_numbers(&mut numbers, self.max_size_mb, self.max_backups, self.max_age_days);
        errs.extend(numbers.into_iter().map(|(k, m)| {
            let key = match k {
                "max_size_mb" => "log.max_size_mb",
                "max_backups" => "log.max_backups",
                _ => "log.max_age_days",
            };
            (key, m)
        }));
        errs
    }
}

fn check_path(errs: &mut Vec<(&'static str, String)>, key: &'static str, path: Option<&Path>) {
    if let Some(p) = path {
        if !p.is_absolute() {
            errs.push((key, format!("must be an absolute path, got {}", p.display())));
        }
    }
}

fn check_numbers(
    errs: &mut Vec<(&'static str, String)>,
    max_size_mb: Option<u64>,
    max_backups: Option<u32>,
    max_age_days: Option<u32>,
) {
    if max_size_mb.is_some_and(|n| n > 1 << 20) {
        errs.push(("max_size_mb", "must be at most 1048576 (1 TiB)".to_string()));
    }
    if max_backups.is_some_and(|n| n > 100_000) {
        errs.push(("max_backups", "must be at most 100000".to_string()));
    }
    if max_age_days.is_some_and(|n| n > 36_500) {
        errs.push(("max_age_days", "must be at most 36500".to_string()));
    }
}

/// How a log file is rotated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// See [`LogConfig::max_size_mb`].
    pub max_size_mb: u64,
    /// See [`LogConfig::max_backups`].
    pub max_backups: u32,
    /// See [`LogConfig::max_age_days`].
    pub max_age_days: u32,
    /// See [`LogConfig::compress`].
    pub compress: bool,
    /// Rotate at this many bytes instead of `max_size_mb` MiB (tests; 0: use `max_size_mb`).
    pub max_bytes: u64,
}

impl Rotation {
    pub(crate) fn max_bytes(&self) -> u64 {
        if self.max_bytes > 0 {
            self.max_bytes
        } else {
            self.max_size_mb.saturating_mul(1 << 20)
        }
    }

    pub(crate) fn max_age(&self) -> Option<Duration> {
        (self.max_age_days > 0).then(|| Duration::from_secs(u64::from(self.max_age_days) * 86_400))
    }
}

/// Where one instance's output goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFiles {
    /// The stdout file; `None`: the ring only.
    pub stdout: Option<PathBuf>,
    /// The stderr file; `None`: the ring only.
    pub stderr: Option<PathBuf>,
    /// Rotation of both.
    pub rotation: Rotation,
}

impl LogFiles {
    /// The files of `instance` of `spec`: the spec's `log` settings over `global`.
    pub fn resolve(spec: &ProcessSpec, instance: &str, global: &LogConfig) -> Self {
        let local = spec.log.as_deref().cloned().unwrap_or_default();
        let dir = local.dir.as_ref().or(global.dir.as_ref());
        let suffix = instance.strip_prefix(spec.name.as_str()).unwrap_or_default();
        let file = |explicit: &Option<PathBuf>, stream: &str| match explicit {
            Some(p) => Some(with_suffix(p, suffix)),
            None => dir.map(|d| d.join(format!("{instance}.{stream}.log"))),
        };
        Self {
            stdout: file(&local.stdout, "stdout"),
            stderr: file(&local.stderr, "stderr"),
            rotation: Rotation {
                max_size_mb: local.max_size_mb.unwrap_or(global.max_size_mb),
                max_backups: local.max_backups.unwrap_or(global.max_backups),
                max_age_days: local.max_age_days.unwrap_or(global.max_age_days),
                compress: local.compress.unwrap_or(global.compress),
                max_bytes: 0,
            },
        }
    }
}

/// `web.log` + `-2` → `web-2.log` (no suffix: unchanged).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    if suffix.is_empty() {
        return path.to_path_buf();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}{suffix}"),
    };
    path.with_file_name(name)
}

/// Which output stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `"stdout"` or `"stderr"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }

    /// Parses `"stdout"` / `"stderr"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "stdout" => Some(Self::Stdout),
            "stderr" => Some(Self::Stderr),
            _ => None,
        }
    }
}

/// One line of output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The offset of its first byte in the instance's output (both streams, in capture order).
    pub offset: u64,
    /// The stream it was written to.
    pub stream: Stream,
    /// The line without its line end (invalid UTF-8 replaced).
    pub text: String,
    /// When it was read.
    pub at: DateTime<Utc>,
}

/// A page of lines.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogChunk {
    /// Oldest first.
    pub lines: Vec<LogLine>,
    /// Where to continue: `since` for the next read.
    pub next_offset: u64,
    /// The oldest offset still held; a `since` below it has missed output.
    pub first_offset: u64,
}

/// Completes when a capture's pipes have both reached end of file.
#[derive(Debug)]
pub struct Drain(oneshot::Receiver<()>);

impl Drain {
    /// Waits until the output is drained, or `grace` has passed (a process that exited may
    /// have left a child holding the pipe). True when drained.
    pub async fn wait(self, grace: Duration) -> bool {
        matches!(tokio::time::timeout(grace, self.0).await, Ok(Ok(())))
    }
}

/// Every instance's captured output. Shared (`Arc`) by the supervisor, its handles and
/// whoever else captures processes (jobs).
pub struct LogRegistry {
    config: LogConfig,
    cap: usize,
    rings: Mutex<HashMap<String, Arc<Mutex<Ring>>>>,
    reader: OnceLock<Result<Arc<Reader>, String>>,
}

impl std::fmt::Debug for LogRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogRegistry").field("config", &self.config).finish_non_exhaustive()
    }
}

impl LogRegistry {
    /// A registry with the global settings `config` and rings of [`RING_BYTES`].
    pub fn new(config: LogConfig) -> Arc<Self> {
        Self::with_ring_bytes(config, RING_BYTES)
    }

    /// A registry whose rings hold `cap` bytes each.
    pub fn with_ring_bytes(config: LogConfig, cap: usize) -> Arc<Self> {
        raise_fd_limit();
        Arc::new(Self { config, cap, rings: Mutex::new(HashMap::new()), reader: OnceLock::new() })
    }

    /// The global settings.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    fn ring(&self, name: &str) -> Arc<Mutex<Ring>> {
        let mut rings = self.rings.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(rings.entry(name.to_string()).or_insert_with(|| Arc::new(Mutex::new(Ring::new(self.cap)))))
    }

    /// Creates the two pipes of a child: `(read ends, write ends)` as
    /// `([stdout, stderr], [stdout, stderr])`. The read ends are non-blocking and
    /// close-on-exec; the write ends are for the child's descriptors 1 and 2.
    pub fn pipes() -> io::Result<([OwnedFd; 2], [OwnedFd; 2])> {
        let (r1, w1) = pipe()?;
        let (r2, w2) = pipe()?;
        Ok(([r1, r2], [w1, w2]))
    }

    /// Checks that `files` can be written (creating their directory and the files), for a
    /// spawn that should fail with the reason rather than run without its logs.
    pub fn check_files(files: &LogFiles) -> Result<(), String> {
        for path in [&files.stdout, &files.stderr].into_iter().flatten() {
            file::check(path)?;
        }
        Ok(())
    }

    /// Captures a child's output under `name`: `stdout` and `stderr` are the read ends of
    /// its pipes (see [`LogRegistry::pipes`]; `None` for a stream not captured). Output goes
    /// to `files` and to the ring of `name`; the [`Drain`] completes at end of file on both.
    pub fn capture(
        &self,
        name: &str,
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
        files: &LogFiles,
    ) -> io::Result<Drain> {
        let reader = match self.reader.get_or_init(|| Reader::start().map_err(|e| e.to_string())) {
            Ok(r) => Arc::clone(r),
            Err(e) => return Err(io::Error::other(format!("the log capture thread did not start: {e}"))),
        };
        let ring = self.ring(name);
        let streams: Vec<(Stream, OwnedFd, Option<&PathBuf>)> =
            [(Stream::Stdout, stdout, files.stdout.as_ref()), (Stream::Stderr, stderr, files.stderr.as_ref())]
                .into_iter()
                .filter_map(|(s, fd, path)| fd.map(|fd| (s, fd, path)))
                .collect();
        if streams.is_empty() {
            return Ok(Drain(rx_done()));
        }
        let (tx, rx) = oneshot::channel();
        let drain = DrainState::new(streams.len(), tx);
        for (stream, fd, path) in streams {
            // The thread must never block on one pipe (a caller may hand over a blocking one).
            rustix::io::ioctl_fionbio(&fd, true)?;
            reader.add(Pipe {
                fd,
                stream,
                ring: Arc::clone(&ring),
                file: path.map(|p| file::FileSink::new(p.clone(), files.rotation)),
                drain: Arc::clone(&drain),
                pending: Vec::new(),
                grown: false,
            })?;
        }
        Ok(Drain(rx))
    }

    /// Captures the piped stdout and stderr of a tokio child (spawned with
    /// `Stdio::piped()` for both) under `name`, like [`LogRegistry::capture`]. A stream that
    /// was not piped is not captured.
    pub fn capture_child(&self, name: &str, child: &mut tokio::process::Child, files: &LogFiles) -> io::Result<Drain> {
        let stdout = child.stdout.take().map(tokio::process::ChildStdout::into_owned_fd).transpose()?;
        let stderr = child.stderr.take().map(tokio::process::ChildStderr::into_owned_fd).transpose()?;
        self.capture(name, stdout, stderr, files)
    }

    /// Up to `limit` (at most [`MAX_LIMIT`]) recent lines of `name`, of one stream or both:
    /// from offset `since` on, oldest first, or without `since` the last `limit` lines.
    /// An instance that has written nothing has no lines.
    pub fn read(&self, name: &str, stream: Option<Stream>, since: Option<u64>, limit: usize) -> LogChunk {
        let ring = self.rings.lock().unwrap_or_else(|e| e.into_inner()).get(name).cloned();
        match ring {
            Some(ring) => ring.lock().unwrap_or_else(|e| e.into_inner()).read(stream, since, limit.min(MAX_LIMIT)),
            None => LogChunk::default(),
        }
    }

    /// Follows `name`: the first [`LogFollower::next`] returns what [`LogRegistry::read`]
    /// would (`since`, `limit`), later ones wait for new lines.
    pub fn follow(&self, name: &str, stream: Option<Stream>, since: Option<u64>, limit: usize) -> LogFollower {
        let ring = self.ring(name);
        let changed = ring.lock().unwrap_or_else(|e| e.into_inner()).watch();
        LogFollower { ring, changed, stream, cursor: since, limit: limit.clamp(1, MAX_LIMIT), first: true }
    }

    /// Before the first read of an instance that has captured nothing yet in this daemon's
    /// life (a daemon restart, a re-adopted or a quiet process), fills its ring with the
    /// tails of its log files (`cap / 2` of each, whole lines, stdout first), so that a
    /// reader sees the earlier output. Once per instance.
    pub fn seed(&self, name: &str, files: &LogFiles) {
        let ring = self.ring(name);
        let mut ring = ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.seeded || ring.end() > 0 {
            ring.seeded = true;
            return;
        }
        ring.seeded = true;
        ring.seed_from = None;
        fill_from_files(&mut ring, [files.stdout.as_deref(), files.stderr.as_deref()]);
    }

    /// For a re-adopted process, whose output may arrive before any query would seed its
    /// ring ([`LogRegistry::seed`]): seeds it from `files` just before its first captured
    /// output instead (on the reader thread), so that the earlier lines stay in the tail.
    /// Seeding at once would read the files of every adopted process, quiet ones included.
    pub fn seed_before_first_output(&self, name: &str, files: &LogFiles) {
        let ring = self.ring(name);
        let mut ring = ring.lock().unwrap_or_else(|e| e.into_inner());
        if !ring.seeded && ring.end() == 0 {
            ring.seed_from = Some([files.stdout.clone(), files.stderr.clone()]);
        }
    }

    /// Drops the ring of an instance that is gone (followers see the end of the stream).
    pub fn forget(&self, name: &str) {
        let ring = self.rings.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
        if let Some(ring) = ring {
            ring.lock().unwrap_or_else(|e| e.into_inner()).close();
        }
    }
}

/// Fills an empty `ring` with the tails of the log files `[stdout, stderr]` (half the
/// ring's size of each, whole lines, stdout first).
fn fill_from_files(ring: &mut Ring, files: [Option<&Path>; 2]) {
    let half = ring.cap() / 2;
    for (stream, path) in [Stream::Stdout, Stream::Stderr].into_iter().zip(files) {
        if let Some((data, at)) = path.and_then(|p| file::tail(p, half).ok()) {
            ring.push(stream, at, b"", &data);
        }
    }
}

/// Seeds `ring` if [`LogRegistry::seed_before_first_output`] asked for it and nothing came first.
fn seed_before_first_push(ring: &mut Ring) {
    if let Some([stdout, stderr]) = ring.seed_from.take() {
        if !ring.seeded && ring.end() == 0 {
            ring.seeded = true;
            fill_from_files(ring, [stdout.as_deref(), stderr.as_deref()]);
        }
    }
}

fn rx_done() -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    let _ = tx.send(());
    rx
}

/// One stream's pipe: the daemon's read end, non-blocking; the child's end, opened for
/// reading *and* writing, so that the pipe keeps a reader for as long as the child lives.
///
/// That is what lets a process outlive a crash of the daemon: with a write-only end its
/// next write after the crash would fail with EPIPE, and SIGPIPE kills most programs.
/// With it, the writes fill the pipe and then wait (as for a slow reader) until the next
/// daemon re-adopts the process and opens a read end of its own through `/proc`
/// (`process::adopted_output`), reading what was written meanwhile. The end of the output
/// is still seen: a pipe reads as ended when no descriptor can write to it, and the
/// child's is the last one that can.
///
/// The second open goes through `/proc/thread-self`, since the spawner thread has a
/// descriptor table of its own; where that fails, the child's end stays write-only.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    rustix::io::ioctl_fionbio(&r, true)?;
    let path = format!("/proc/thread-self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&w));
    use rustix::fs::{Mode, OFlags};
    let w = rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).unwrap_or(w);
    Ok((r, w))
}

/// Raises the soft limit of open descriptors to the hard limit: the daemon holds two pipes
/// and a pidfd per process, far more than the usual soft limit of 1024 allows.
fn raise_fd_limit() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current < limit.maximum {
            let raised = Rlimit { current: limit.maximum, maximum: limit.maximum };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                tracing::warn!("raising the open file limit to {:?}: {e}", limit.maximum);
            }
        }
    });
}

/// A live tail of one instance; see [`LogRegistry::follow`].
#[derive(Debug)]
pub struct LogFollower {
    ring: Arc<Mutex<Ring>>,
    changed: watch::Receiver<u64>,
    stream: Option<Stream>,
    cursor: Option<u64>,
    limit: usize,
    first: bool,
}

impl LogFollower {
    /// The next lines: at first the recent ones (possibly none), then each call waits for
    /// new output. `None` once the instance is gone.
    pub async fn next(&mut self) -> Option<LogChunk> {
        if std::mem::take(&mut self.first) {
            self.changed.borrow_and_update();
            return Some(self.take());
        }
        loop {
            let pending = self.cursor.is_some_and(|c| c < *self.changed.borrow());
            if !pending {
                self.changed.changed().await.ok()?;
            }
            let chunk = self.take();
            if !chunk.lines.is_empty() {
                return Some(chunk);
            }
        }
    }

    fn take(&mut self) -> LogChunk {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let chunk = ring.read(self.stream, self.cursor, self.limit);
        self.cursor = Some(chunk.next_offset);
        chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_settings_override_the_global_ones() {
        let global = LogConfig {
            dir: Some("/var/log/provisr".into()),
            max_size_mb: 10,
            max_backups: 3,
            max_age_days: 7,
            compress: true,
        };
        let mut spec = ProcessSpec::new("web", "true");
        let files = LogFiles::resolve(&spec, "web", &global);
        assert_eq!(files.stdout, Some(PathBuf::from("/var/log/provisr/web.stdout.log")));
        assert_eq!(files.stderr, Some(PathBuf::from("/var/log/provisr/web.stderr.log")));
        assert_eq!(files.rotation.max_bytes(), 10 << 20);
        assert!(files.rotation.compress);

        spec.instances = 2;
        spec.log = Some(Box::new(LogSpec {
            dir: Some("/srv/logs".into()),
            stdout: Some("/srv/out/web.log".into()),
            max_size_mb: Some(0),
            compress: Some(false),
            ..LogSpec::default()
        }));
        let files = LogFiles::resolve(&spec, "web-2", &global);
        assert_eq!(files.stdout, Some(PathBuf::from("/srv/out/web-2.log")));
        assert_eq!(files.stderr, Some(PathBuf::from("/srv/logs/web-2.stderr.log")));
        assert_eq!(files.rotation.max_bytes(), 0);
        assert_eq!(files.rotation.max_backups, 3);
        assert!(!files.rotation.compress);

        let none = LogFiles::resolve(&ProcessSpec::new("web", "true"), "web", &LogConfig::default());
        assert_eq!((none.stdout, none.stderr), (None, None));
    }

    #[test]
    fn validation_names_every_key() {
        let spec = LogSpec {
            dir: Some("rel".into()),
            stdout: Some("out.log".into()),
            stderr: Some("/ok.log".into()),
            max_size_mb: Some(u64::MAX),
            max_backups: Some(1_000_000),
            max_age_days: Some(100_000),
            compress: None,
        };
        let keys: Vec<_> = spec.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["log.dir", "log.stdout", "log.max_size_mb", "log.max_backups", "log.max_age_days"]);
        let global = LogConfig { dir: Some("rel".into()), max_size_mb: u64::MAX, ..LogConfig::default() };
        let keys: Vec<_> = global.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["dir", "max_size_mb"]);
        assert!(LogConfig::default().validate().is_empty());
    }

    #[test]
    fn spec_log_field_round_trips() {
        let json = r#"{"dir":"/abs/dir","max_size_mb":5,"compress":true}"#;
        let spec: LogSpec = serde_json::from_str(json).expect("log spec");
        assert_eq!(spec.dir, Some(PathBuf::from("/abs/dir")));
        assert_eq!(serde_json::to_string(&spec).expect("json"), json);
        assert!(serde_json::from_str::<LogSpec>(r#"{"size":1}"#).is_err(), "unknown keys are rejected");
    }
}
