//! `provisr`: see the library crate for everything.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = server::cli::Cli::parse();
    // `serve` sets up its log once the config has said where it goes ([server] logfile).
    if !matches!(cli.command, server::cli::Command::Serve(_)) {
        if let Err(e) = server::init_tracing(None) {
            eprintln!("provisr: {e:#}");
        }
    }
    match server::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("provisr: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
