//! The command line (clap). One subcommand per verb; `serve` runs the daemon.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// provisr: a process supervisor with Kubernetes-style jobs, a JSON API and a live console.
#[derive(Debug, Parser)]
#[command(name = "provisr", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: supervise the configured processes and serve the console and API.
    Serve(ServeArgs),
}

/// `provisr serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML, YAML or JSON, by extension).
    #[arg(long, short = 'c', value_name = "FILE", conflicts_with = "config_file")]
    pub config: Option<PathBuf>,
    /// Configuration file, given positionally (same as --config).
    #[arg(value_name = "CONFIG")]
    pub config_file: Option<PathBuf>,
    /// Where the database, TLS certificate, PID files and logs live.
    #[arg(long, value_name = "DIR", env = "PROVISR_DATA_DIR", default_value = "provisr-data")]
    pub data_dir: PathBuf,
}

impl ServeArgs {
    /// The config file, however it was given.
    pub fn config_path(&self) -> Option<&PathBuf> {
        self.config.as_ref().or(self.config_file.as_ref())
    }
}
