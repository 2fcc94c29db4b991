//! The `provisr` binary as a library: CLI, configuration, daemon startup, the HTTP
//! surface (JSON API, WebSocket, console) and TLS. `main.rs` only parses arguments and
//! calls [`run`]; tests drive [`startup::Application`] directly.

pub mod api;
pub mod caller;
pub mod cli;
pub mod config;
pub mod console;
pub mod error;
pub mod metrics;
pub mod reload;
pub mod startup;
pub mod state;
pub mod tls;
pub mod ws;

use cli::{Cli, Command, ServeArgs};
use config::Config;
use startup::{Application, Settings};

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        remote => cli::remote::run(remote).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = match args.config_path() {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(errors) => {
                eprintln!("provisr: the configuration has {} problem(s):", errors.0.len());
                for e in &errors.0 {
                    eprintln!("  {e}");
                }
                std::process::exit(2);
            }
        },
        None => Config::default(),
    };
    init_tracing(config.server.logfile.as_deref())?;
    // Before anything is started or bound: a SIGTERM from now on is a graceful stop.
    let shutdown = shutdown_signal();
    let app = Application::build(Settings { config, data_dir: args.data_dir.clone() }).await?;
    if let Some(pw) = app.initial_admin_password() {
        let file = args.data_dir.join("initial-admin-password");
        eprintln!();
        eprintln!("provisr: created the admin user \"admin\" with the password: {pw}");
        eprintln!("provisr: it is shown once and saved in {} (mode 0600); change it after signing in.", file.display());
        eprintln!();
    }
    eprintln!("provisr: console on {}/  (API under {})", app.url(), app.state().console.api_base);
    app.run_until_stopped(shutdown).await
}

/// The log filter: `PROVISR_LOG` (an `EnvFilter` directive), else info without the noise
/// of the database and session layers.
fn log_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_env("PROVISR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_sessions=warn"))
}

/// Sends the daemon's own log to stderr, or appended to `logfile` (`[server] logfile`,
/// created 0640, without colours). Does nothing when a subscriber is installed already.
pub fn init_tracing(logfile: Option<&std::path::Path>) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::os::unix::fs::OpenOptionsExt;
    let builder = tracing_subscriber::fmt().with_env_filter(log_filter());
    let installed = match logfile {
        None => builder.with_writer(std::io::stderr).try_init(),
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(path)
                .with_context(|| format!("opening the log file {}", path.display()))?;
            builder.with_ansi(false).with_writer(std::sync::Mutex::new(file)).try_init()
        }
    };
    if installed.is_err() {
        tracing::debug!("a log subscriber was installed already");
    }
    Ok(())
}

/// Completes on SIGTERM or SIGINT. The handlers are installed when this is *called*, not
/// when the future is first polled: call it before the daemon starts answering, so a SIGTERM
/// that arrives as soon as it is up is a graceful stop and never the default action (which
/// would end the daemon without stopping what it runs).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing the SIGINT handler");
    async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    }
}
