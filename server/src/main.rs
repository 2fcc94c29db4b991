//! `provisr`: see the library crate for everything.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = server::cli::Cli::parse();
    // `serve` sets up its log once the config has said where it goes ([server] logfile).
    if !matches!(cli.command, server::cli::Command::Serve(_)) {
        default_sigpipe();
        if let Err(e) = server::init_tracing(None) {
            eprintln!("provisr: {e:#}");
        }
    }
    match server::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("provisr: {e:#}");
            std::process::ExitCode::from(server::cli::exit_code(&e))
        }
    }
}

/// A client's output piped into `head` ends the client quietly, as other command-line tools
/// do, instead of panicking on the broken pipe (Rust ignores SIGPIPE by default).
#[allow(unsafe_code)]
fn default_sigpipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: SIG_DFL installs no handler code, and the disposition is process-wide state
    // that sigaction(2) sets atomically; nothing in the client relies on SIGPIPE ignored.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}
