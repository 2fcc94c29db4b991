//! Hot reload of the configuration: on SIGHUP, and when the config file or a file of
//! the programs directory changes, the configuration is loaded again and, if it is
//! valid, the running programs are reconciled with it
//! ([`backend::ops::reload::reconcile`]: only what changed is touched).
//!
//! An invalid configuration changes nothing: every problem is logged with its file and
//! key, and the daemon keeps running what it ran. Only the programs (`type = "process"`
//! entries of `[[processes]]` and of the programs directory) are reloaded; the other
//! sections (`[server]`, `[store]`, `[auth]`, `pid_dir`, `[log]`, `env`, `[metrics]`,
//! `[[groups]]`, jobs and cronjobs) take effect at the next start, and a reload that
//! changes them says so in the log.
//!
//! File changes are debounced: editors write a file in several steps (truncate, write,
//! rename), so a reload waits until the files have been quiet for [`QUIET`].

use crate::config::{Config, ConfigErrors};
use backend::AppState;
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
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
        let (tx, mut rx) = mpsc::unbounded_channel::<()>();
        let _watcher = match watch(&path, initial.programs_directory.as_deref(), tx) {
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
                Some(()) = rx.recv() => {
                    // Debounce: wait until the files have been quiet for QUIET.
                    loop {
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            more = tokio::time::timeout(QUIET, rx.recv()) => match more {
                                Ok(Some(())) => continue,
                                _ => break,
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
    if old.groups != new.groups {
        changed.push("groups");
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
/// itself cannot be watched) and the programs directory; each relevant change sends a
/// unit on `tx`.
fn watch(config: &Path, programs: Option<&Path>, tx: mpsc::UnboundedSender<()>) -> notify::Result<impl Watcher> {
    let config_file: PathBuf = config.file_name().map(PathBuf::from).unwrap_or_default();
    let config_dir = config.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // Canonical paths, so the paths in events compare equal to them.
    let config_dir = config_dir.canonicalize()?;
    let programs_dir = programs.and_then(|p| p.canonicalize().ok());
    let programs_for_filter = programs_dir.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        let relevant = event.paths.iter().any(|p| {
            p.file_name().map(PathBuf::from).as_ref() == Some(&config_file)
                || programs_for_filter.as_deref().is_some_and(|d| p.parent() == Some(d))
        });
        if relevant {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(&config_dir, RecursiveMode::NonRecursive)?;
    if let Some(dir) = &programs_dir {
        if dir.is_dir() {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
    }
    Ok(watcher)
}
