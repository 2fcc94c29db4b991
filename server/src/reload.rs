//! Hot reload of the configuration: on SIGHUP, and when the config file or a file of
//! the programs directory changes, the configuration is loaded again and, if it is
//! valid, the running programs are reconciled with it
//! ([`backend::ops::reload::reconcile`]: only what changed is touched) and the groups are
//! replaced.
//!
//! An invalid configuration changes nothing: every problem is logged with its file and
//! key, and the daemon keeps running what it ran. The programs (`type = "process"`
//! entries of `[[processes]]` and of the programs directory) and `[[groups]]` are
//! reloaded; the other sections (`[server]`, `[store]`, `[auth]`, `pid_dir`, `[log]`,
//! `env`, `[metrics]`, jobs and cronjobs) take effect at the next start, and a reload that
//! changes them says so in the log.
//!
//! File changes are debounced: editors write a file in several steps (truncate, write,
//! rename), so a reload waits until the files have been quiet for [`QUIET`].

use crate::config::{Config, ConfigErrors};
use backend::AppState;
use futures::StreamExt;
use inotify::{EventMask, EventStream, Inotify, WatchDescriptor, WatchMask};
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long the watched files must be quiet before a change triggers a reload.
pub const QUIET: Duration = Duration::from_millis(300);

/// Why a reload happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    Signal,
    FileChange,
}

/// Starts watching; ends when `cancel` fires. `initial` is the configuration the daemon
/// started with (to tell which non-reloadable sections changed).
pub fn spawn(app: AppState, initial: Config, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
    // Installed before returning, so a SIGHUP that arrives once the daemon is up never
    // meets the default action (which would end the daemon).
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    tokio::spawn(async move {
        let mut hup = match hup {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot install the SIGHUP handler: {e}");
                return;
            }
        };
        let Some(path) = initial.source.clone() else {
            // No config file: nothing to reload (SIGHUP is ignored).
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = hup.recv() => tracing::info!("SIGHUP: no configuration file to reload"),
                }
            }
        };
        let mut watch = match FileWatch::new(&path, initial.programs_directory.as_deref()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!("not watching the configuration files ({e}); reload with SIGHUP");
                None
            }
        };
        let mut current = initial;
        loop {
            let trigger = tokio::select! {
                () = cancel.cancelled() => return,
                _ = hup.recv() => Trigger::Signal,
                () = FileWatch::changed(&mut watch) => {
                    // Debounce: wait until the files have been quiet for QUIET.
                    loop {
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            more = tokio::time::timeout(QUIET, FileWatch::changed(&mut watch)) => match more {
                                Ok(()) => continue,
                                Err(_) => break,
                            },
                        }
                    }
                    Trigger::FileChange
                }
            };
            if let Some(next) = reload(&app, &path, &current, trigger).await {
                current = next;
            }
        }
    })
}

/// Loads and applies the configuration; returns it when it was valid.
async fn reload(app: &AppState, path: &Path, current: &Config, trigger: Trigger) -> Option<Config> {
    tracing::info!(file = %path.display(), ?trigger, "reloading the configuration");
    let loaded = {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || Config::load(&path)).await
    };
    let config = match loaded {
        Ok(Ok(c)) => c,
        Ok(Err(ConfigErrors(errors))) => {
            tracing::error!(
                problems = errors.len(),
                "the new configuration is invalid; nothing was changed, the daemon keeps running what it ran"
            );
            for e in &errors {
                tracing::error!("  {e}");
            }
            return None;
        }
        Err(e) => {
            tracing::error!("loading the configuration failed: {e}");
            return None;
        }
    };
    for section in restart_only_changes(current, &config) {
        tracing::warn!(section, "changed in the configuration; this takes effect at the next start of the daemon");
    }
    let entries: Vec<_> = config.processes.iter().map(|e| (e.spec.clone(), e.origin)).collect();
    match backend::ops::reload::reconcile(app, &entries).await {
        Ok(report) => {
            tracing::info!(
                added = ?report.added,
                updated = ?report.updated,
                removed = ?report.removed,
                unchanged = report.unchanged.len(),
                "configuration reloaded"
            );
            for (name, why) in &report.failed {
                tracing::error!(process = %name, reason = %why, "could not apply the new configuration");
            }
        }
        Err(e) => tracing::error!("applying the configuration failed: {e}"),
    }
    if app.groups.replace(crate::startup::groups(&config)) {
        tracing::info!(groups = config.groups.len(), "groups reloaded");
    }
    Some(config)
}

/// The sections that differ between `old` and `new` but are only read at start.
fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if old.pid_dir != new.pid_dir {
        changed.push("pid_dir");
    }
    if old.programs_directory != new.programs_directory {
        changed.push("programs_directory");
    }
    if old.server != new.server {
        changed.push("server");
    }
    if old.store != new.store {
        changed.push("store");
    }
    if old.auth != new.auth {
        changed.push("auth");
    }
    if old.log != new.log {
        changed.push("log");
    }
    if old.jobs != new.jobs || old.cronjobs != new.cronjobs {
        changed.push("jobs and cronjobs");
    }
    if old.metrics != new.metrics {
        changed.push("metrics");
    }
    if old.global_env != new.global_env {
        changed.push("env / env_files");
    }
    changed
}

/// Watches the config file's directory (editors replace files by renaming, so the file
/// itself cannot be watched) and the programs directory.
///
/// Only completed changes are asked for: a file closed after writing, renamed in or out,
/// created or deleted. Writes to files that stay open (SQLite's database and WAL, logs)
/// are not, so a daemon whose database sits next to its config file is not woken by
/// every write it makes.
struct FileWatch {
    events: EventStream<Vec<u8>>,
    config_dir: WatchDescriptor,
    config_file: OsString,
    programs_dir: Option<WatchDescriptor>,
}

impl FileWatch {
    const MASK: WatchMask = WatchMask::CLOSE_WRITE
        .union(WatchMask::MOVED_TO)
        .union(WatchMask::MOVED_FROM)
        .union(WatchMask::CREATE)
        .union(WatchMask::DELETE)
        .union(WatchMask::ONLYDIR);

    fn new(config: &Path, programs: Option<&Path>) -> std::io::Result<Self> {
        let config_file = config.file_name().map(OsString::from).unwrap_or_default();
        let config_dir = config.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let inotify = Inotify::init()?;
        let mut watches = inotify.watches();
        let config_dir = watches.add(config_dir, Self::MASK)?;
        let programs_dir = match programs {
            Some(dir) if dir.is_dir() => Some(watches.add(dir, Self::MASK)?),
            _ => None,
        };
        let events = inotify.into_event_stream(vec![0; 4096])?;
        Ok(FileWatch { events, config_dir, config_file, programs_dir })
    }

    /// Waits for the next change of the config file or of a file in the programs
    /// directory; never returns without a watch (or once reading the events failed).
    async fn changed(watch: &mut Option<FileWatch>) {
        let Some(w) = watch else { return std::future::pending().await };
        while let Some(event) = w.events.next().await {
            let event = match event {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!("reading file-change events failed ({e}); reload with SIGHUP");
                    break;
                }
            };
            // A lost event may have been a relevant one.
            let relevant = event.mask.contains(EventMask::Q_OVERFLOW)
                || (event.wd == w.config_dir && event.name.as_deref() == Some(w.config_file.as_os_str()))
                || w.programs_dir.as_ref().is_some_and(|d| event.wd == *d && event.name.is_some());
            if relevant {
                return;
            }
        }
        *watch = None;
        std::future::pending().await
    }
}
