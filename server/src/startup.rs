//! Daemon startup as a library: [`Application::build`] opens the store, restores the
//! registrations, starts the supervisor and binds the listener; `run_until_stopped`
//! serves until a shutdown signal, then stops every process before returning.
//! Tests build an `Application` on port 0 with a temporary data directory.

use crate::config::Config;
use crate::state::ServerState;
use crate::{api, console, tls};
use anyhow::{bail, Context};
use app::ConsoleConfig;
use axum::http::{header, HeaderValue};
use axum::Router;
use backend::auth::{AdminBootstrap, Auth, AuthSettings};
use backend::store::sessions::DbSessionStore;
use backend::AppState;
use leptos::config::LeptosOptions;
use nix::fcntl::{Flock, FlockArg};
use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use supervisor::{Jobs, JobsConfig, Origin, ProcessSpec, Supervisor, SupervisorConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// Everything `build` needs.
#[derive(Debug)]
pub struct Settings {
    /// The parsed configuration (defaults when no file was given).
    pub config: Config,
    /// The data directory (database, TLS material, PID files, logs).
    pub data_dir: PathBuf,
}

/// A built daemon, bound and ready to serve.
pub struct Application {
    state: ServerState,
    listener: std::net::TcpListener,
    addr: SocketAddr,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    router: Router,
    supervisor_task: JoinHandle<()>,
    jobs_task: JoinHandle<()>,
    recorder_task: JoinHandle<()>,
    initial_admin_password: Option<String>,
    /// `[metrics] listen`: its own listener and router.
    metrics_server: Option<(std::net::TcpListener, SocketAddr, Router)>,
    /// `[server] pidfile`, removed when the application is dropped.
    _pidfile: Option<PidFile>,
    /// Held while the daemon runs: one daemon per data directory.
    _lock: Flock<std::fs::File>,
}

impl Application {
    /// Opens the store (running migrations), creates the first admin if needed,
    /// starts the supervisor and restores every registration, and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let Settings { config, data_dir } = settings;
        create_private_dir(&data_dir)?;
        let data_dir = data_dir.canonicalize().with_context(|| format!("data directory {}", data_dir.display()))?;
        let lock = lock_data_dir(&data_dir)?;

        let url = config
            .store
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("provisr.db").display()));
        tracing::info!(store = %backend::db::describe(&url), "opening the store");
        let db = backend::db::connect(&url).await.with_context(|| format!("store {}", backend::db::describe(&url)))?;

        let auth = Auth::new(
            &db,
            AuthSettings {
                enabled: config.auth.enabled,
                jwt_secret: config.auth.jwt.secret.as_ref().map(|s| s.expose().to_string()),
                token_lifetime: config.auth.jwt.expires_in,
            },
        )
        .await
        .context("setting up authentication")?;
        let initial_admin_password = if config.auth.enabled {
            let boot = AdminBootstrap {
                auto_create: config.auth.admin.auto_create,
                username: config.auth.admin.username.clone(),
                password: config.auth.admin.password.as_ref().map(|s| s.expose().to_string()),
                email: config.auth.admin.email.clone(),
            };
            let generated = auth.ensure_admin(&db, &boot).await.context("creating the initial admin")?;
            if let Some(pw) = &generated {
                write_private_file(&data_dir.join("initial-admin-password"), &format!("{pw}\n"))?;
            }
            generated
        } else {
            tracing::warn!(
                "authentication is disabled ([auth] enabled = false): anyone who can reach the server controls it"
            );
            None
        };

        // Everything that can fail for reasons outside our control (certificate, port) comes
        // before any process is started, so a daemon that cannot start leaves nothing behind.
        let tls_enabled = config.server.tls.enabled;
        let mut tls_shown = (None, None);
        let tls_config = if tls_enabled {
            let material = tls::prepare(&config.server.tls, &data_dir.join("tls")).context("preparing TLS")?;
            tls_shown = (
                Some(material.cert_path.as_ref().map_or_else(|| "generated".to_string(), |p| p.display().to_string())),
                tls::expires_at(&material),
            );
            Some(tls::rustls_config(&material, config.server.tls.min_version).await.context("loading TLS")?)
        } else {
            None
        };

        let listener = bind(&config.server.listen_addrs())?;
        let addr = listener.local_addr()?;
        let metrics_listener = match &config.metrics.listen {
            Some(listen) if config.metrics.enabled => {
                let l = bind(&config.metrics.listen_addrs()).with_context(|| format!("[metrics] listen {listen}"))?;
                let a = l.local_addr()?;
                Some((l, a))
            }
            _ => None,
        };
        let pidfile = config.server.pidfile.as_deref().map(PidFile::write).transpose()?;

        let pid_dir = config.pid_dir.clone().unwrap_or_else(|| data_dir.join("run"));
        let log_dir = config.log.dir.clone().unwrap_or_else(|| data_dir.join("logs"));
        for dir in [&pid_dir, &log_dir] {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // Job attempts log to their own directory: `<job>-<attempt>.stdout.log` must not meet
        // a process instance's `<instance>.stdout.log`.
        let job_log_dir = log_dir.join("jobs");
        std::fs::create_dir_all(&job_log_dir).with_context(|| format!("creating {}", job_log_dir.display()))?;
        let (sink, events) = tokio::sync::mpsc::unbounded_channel();
        let mut sup_config = SupervisorConfig::new(pid_dir);
        sup_config.log = supervisor::LogConfig { dir: Some(log_dir), ..config.log.clone() };
        let sup_log = sup_config.log.clone();
        sup_config.sink = Some(sink);
        sup_config.env = config.global_env.clone();
        let (supervisor, supervisor_task) = Supervisor::start(sup_config);
        let (jobs, jobs_task) = Jobs::start(
            supervisor.bus(),
            JobsConfig { log_dir: Some(job_log_dir.clone()), env: config.global_env.clone() },
        );
        let run_id = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"), std::process::id());
        let options = backend::recorder::RecorderOptions { job_log_dir: Some(job_log_dir.clone()) };
        let (recorder, recorder_task) = backend::recorder::spawn_with(db.clone(), events, run_id, options);

        // Before the restore, so that the boot's starts are counted.
        let shutdown = CancellationToken::new();
        let metrics = config.metrics.enabled.then(backend::metrics::Metrics::new);
        if let Some(m) = &metrics {
            m.spawn(supervisor.clone(), jobs.clone(), shutdown.clone().cancelled_owned());
        }

        let entries: Vec<(ProcessSpec, Origin)> = config.processes.iter().map(|e| (e.spec.clone(), e.origin)).collect();
        let restored = match backend::ops::processes::restore(&db, &supervisor, &entries).await {
            Ok(()) => backend::ops::jobs::restore(
                &db,
                &jobs,
                &config.jobs_specs(),
                &config.cronjob_specs(),
                Some(&job_log_dir),
            )
            .await
            .map_err(|e| anyhow::Error::from(e).context("restoring jobs and cronjobs")),
            Err(e) => Err(anyhow::Error::from(e).context("restoring processes")),
        };
        match restored {
            Ok(report) => tracing::info!(?report, "jobs and cronjobs restored"),
            Err(e) => {
                // Leave nothing running behind a daemon that does not start.
                shutdown.cancel();
                jobs.shutdown().await;
                supervisor.shutdown().await;
                return Err(e);
            }
        }

        let groups = groups(&config);
        let metrics_server = match (metrics_listener, &metrics) {
            (Some((l, a)), Some(m)) => Some((l, a, crate::metrics::standalone(m.clone(), supervisor.clone()))),
            _ => None,
        };
        let app_state = AppState {
            db: db.clone(),
            supervisor,
            jobs,
            auth: Arc::new(auth),
            job_log_dir: Some(job_log_dir),
            recorder,
            groups: Arc::new(backend::ops::groups::Groups::new(groups)),
        };
        let state = ServerState {
            app: app_state,
            leptos_options: LeptosOptions::builder().output_name("provisr").site_pkg_dir("pkg").build(),
            console: ConsoleConfig {
                api_base: config.server.base_path.clone(),
                settings: console_settings(&config, &url, tls_shown, &sup_log),
            },
            shutdown,
            metrics: metrics.clone(),
        };
        crate::reload::spawn(state.app.clone(), config.clone(), state.shutdown.clone());
        if !console::bundle_present() {
            tracing::warn!("the console bundle (pkg/provisr.wasm) is not embedded: build with `cargo xtask build`");
        }

        let sessions = DbSessionStore::new(db);
        tokio::spawn(sessions.clone().sweep_expired(Duration::from_secs(3600)));
        let session_layer = SessionManagerLayer::new(sessions)
            .with_name("provisr_session")
            .with_secure(tls_enabled)
            .with_http_only(true)
            .with_same_site(SameSite::Strict)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(time::Duration::hours(12)));

        let mut router = Router::new();
        if metrics.is_some() && metrics_server.is_none() {
            router = router.route("/metrics", axum::routing::get(crate::metrics::on_main));
        }
        let mut router = router
            .nest(&config.server.base_path, api::router())
            .merge(console::router(&state))
            .fallback(console::static_or_not_found)
            .layer(axum::middleware::from_fn_with_state(state.clone(), console::require_sign_in))
            .layer(session_layer)
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            ));
        if tls_enabled {
            router = router.layer(SetResponseHeaderLayer::if_not_present(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            ));
        }
        let router = router.layer(tower_http::trace::TraceLayer::new_for_http()).with_state(state.clone());

        Ok(Self {
            state,
            listener,
            addr,
            tls: tls_config,
            router,
            supervisor_task,
            jobs_task,
            recorder_task,
            initial_admin_password,
            metrics_server,
            _pidfile: pidfile,
            _lock: lock,
        })
    }

    /// The address of the separate `[metrics] listen` listener, when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|(_, addr, _)| *addr)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:<port>` (or `http://`), for clients on this machine.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let host = if self.addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { self.addr.ip().to_string() };
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        format!("{scheme}://{host}:{}", self.addr.port())
    }

    /// The state every route sees.
    pub fn state(&self) -> &ServerState {
        &self.state
    }

    /// The initial admin password, when this start generated one.
    pub fn initial_admin_password(&self) -> Option<&str> {
        self.initial_admin_password.as_deref()
    }

    /// Serves until `shutdown` completes, then stops accepting requests, stops every
    /// managed process (wishes are kept for the next start), and waits until the
    /// history is persisted.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Self {
            state,
            listener,
            tls,
            router,
            supervisor_task,
            jobs_task,
            recorder_task,
            metrics_server,
            _pidfile,
            _lock,
            ..
        } = self;
        let handle = axum_server::Handle::new();
        let metrics_handle = axum_server::Handle::new();
        if let Some((listener, addr, router)) = metrics_server {
            let handle = metrics_handle.clone();
            tracing::info!(%addr, "serving /metrics");
            tokio::spawn(async move {
                let served = match axum_server::from_tcp(listener) {
                    Ok(server) => server.handle(handle).serve(router.into_make_service()).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = served {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            });
        }
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let server = {
            let handle = handle.clone();
            tokio::spawn(async move {
                match tls {
                    Some(cfg) => axum_server::from_tcp_rustls(listener, cfg)?.handle(handle).serve(service).await,
                    None => axum_server::from_tcp(listener)?.handle(handle).serve(service).await,
                }
            })
        };
        tokio::pin!(server);
        let result = tokio::select! {
            res = &mut server => Some(res),
            () = shutdown => None,
        };
        tracing::info!("shutting down: stopping every managed process");
        state.shutdown.cancel();
        handle.graceful_shutdown(Some(Duration::from_secs(5)));
        metrics_handle.graceful_shutdown(Some(Duration::from_secs(1)));
        // Jobs and processes stop side by side; their last events (attempts killed,
        // processes stopped) reach the recorder before the sink is closed.
        tokio::join!(state.app.jobs.shutdown(), state.app.supervisor.shutdown());
        let _ = tokio::join!(jobs_task, supervisor_task);
        state.app.supervisor.bus().close_sink();
        if tokio::time::timeout(Duration::from_secs(30), recorder_task).await.is_err() {
            tracing::error!("the recorder did not finish within 30 s; some history may be missing");
        }
        let served = match result {
            Some(res) => res,
            None => server.await,
        };
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::Error::from(e).context("serving HTTP")),
            Err(e) => Err(anyhow::Error::from(e).context("the HTTP server task failed")),
        }
    }
}

/// The daemon's PID file (`[server] pidfile`): written 0644 at start, removed when dropped
/// (a clean exit; after a crash the next daemon overwrites it).
#[derive(Debug)]
struct PidFile(PathBuf);

impl PidFile {
    fn write(path: &Path) -> anyhow::Result<PidFile> {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let tmp = path.with_extension("pid.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .with_context(|| format!("writing the pidfile {}", tmp.display()))?;
        // The umask may have narrowed the mode: others (init scripts, monitors) read this file.
        f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        writeln!(f, "{}", std::process::id())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing the pidfile {}", path.display()))?;
        Ok(PidFile(path.to_path_buf()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Only our own: a daemon started after us may have replaced it.
        let ours = std::fs::read_to_string(&self.0).is_ok_and(|s| s.trim() == std::process::id().to_string());
        if ours {
            if let Err(e) = std::fs::remove_file(&self.0) {
                tracing::warn!(path = %self.0.display(), error = %e, "could not remove the pidfile");
            }
        }
    }
}

fn bind(addrs: &[SocketAddr]) -> anyhow::Result<std::net::TcpListener> {
    let mut last = None;
    for addr in addrs {
        let socket = if addr.is_ipv6() { tokio::net::TcpSocket::new_v6() } else { tokio::net::TcpSocket::new_v4() };
        let attempt = socket.and_then(|s| {
            s.set_reuseaddr(true)?;
            s.bind(*addr)?;
            s.listen(1024)
        });
        match attempt {
            Ok(l) => return Ok(l.into_std()?),
            Err(e) => {
                tracing::debug!(%addr, error = %e, "could not bind");
                last = Some((*addr, e));
            }
        }
    }
    match last {
        Some((addr, e)) => Err(anyhow::Error::from(e).context(format!("cannot listen on {addr}"))),
        None => bail!("no address to listen on"),
    }
}

/// Takes `<data>/provisr.lock` so that a second daemon on the same data directory
/// refuses to start instead of starting every process a second time.
fn lock_data_dir(dir: &Path) -> anyhow::Result<Flock<std::fs::File>> {
    let path = dir.join("provisr.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        anyhow::anyhow!(
            "another provisr is already running with the data directory {} ({}: {errno})",
            dir.display(),
            path.display()
        )
    })
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))
}

/// Writes `content` to a file readable by its owner only (created 0600, never wider).
fn write_private_file(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// What the console's Settings page shows: the effective settings, no secret (the store
/// URL is reduced to its scheme and location).
fn console_settings(
    config: &Config,
    store_url: &str,
    (tls_certificate, tls_expires): (Option<String>, Option<chrono::DateTime<chrono::Utc>>),
    log: &supervisor::LogConfig,
) -> app::model::ServerSettings {
    let (store, store_location) = app::model::describe_store_url(store_url);
    let mut rotation = Vec::new();
    if log.max_size_mb > 0 {
        rotation.push(format!("at {} MiB", log.max_size_mb));
    }
    if log.max_age_days > 0 {
        rotation.push(format!("after {} days", log.max_age_days));
    }
    if log.max_backups > 0 {
        rotation.push(format!("keep {} backups", log.max_backups));
    }
    if log.compress {
        rotation.push("compressed".to_string());
    }
    app::model::ServerSettings {
        listen: config.server.listen.clone(),
        base_path: config.server.base_path.clone(),
        tls: config.server.tls.enabled,
        tls_certificate,
        tls_expires,
        auth: config.auth.enabled,
        store,
        store_location,
        log_dir: log.dir.as_ref().map(|d| d.display().to_string()),
        log_rotation: if rotation.is_empty() { "never".to_string() } else { rotation.join(", ") },
        metrics: config.metrics.enabled,
        metrics_listen: config.metrics.listen.clone(),
    }
}

/// The `[[groups]]` of `config`, as the API and the console serve them.
pub(crate) fn groups(config: &Config) -> Vec<backend::ops::groups::Group> {
    config
        .groups
        .iter()
        .map(|g| backend::ops::groups::Group { name: g.name.clone(), members: g.members.clone() })
        .collect()
}
