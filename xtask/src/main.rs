//! `cargo xtask <command>`: provisr's build and test automation.
//!
//! The console is a Leptos app: `frontend` compiles to WASM, wasm-bindgen (used as a library, so
//! there is no CLI to install or keep in step) turns it into `target/site/pkg/provisr.{js,wasm}`,
//! and the `server` crate embeds `target/site` with rust-embed at compile time. The steps must
//! therefore run in this order, which is the whole reason this crate exists: wasm, then site,
//! then server. Everything else is shelled out to cargo, npm, curl, apt-get and the PostgreSQL
//! tools, each command echoed before it runs.

mod build;
mod e2e;
mod link_order;
mod postgres;
mod serve;
mod setup;
mod shell;
mod site;
mod test;

use std::env;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{bail, Context as _, Result};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  build [--release] [--site-only]
                   build the WASM, assemble target/site (precompressed), then the server
                   (target/{debug,release}/provisr); --site-only stops before the server
  serve [ARGS...]  build --release, then run `target/release/provisr serve ARGS...`
                   (no ARGS: ./provisr-data, HTTPS on :8443, prints the initial admin password)
  test [--skip-e2e] [--only PHASE[,PHASE...]] [--skip PHASE[,PHASE...]]
                   everything CI runs, in order: setup, fmt, deps, clippy, tests, build, e2e
                   (setup installs/starts what is missing: wasm target, Chromium, npm packages,
                   PostgreSQL and its test database)
  link-order [INSTANCES]
                   regenerate server/link-order.txt (the functions the linker lays out first):
                   profile the release binary under callgrind (needs valgrind) through a daemon
                   workload, then rebuild it
  e2e [PLAYWRIGHT ARGS...]
                   only the end-to-end phase, against the already built target/release/provisr
";

fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn try_main() -> Result<()> {
    let mut args = env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    let ws = Workspace::locate()?;
    match command.as_deref() {
        Some("build") => build::run(&ws, &build::Options::parse(&rest)?),
        Some("serve") => serve::run(&ws, &rest),
        Some("test") => test::run(&ws, &test::Options::parse(&rest)?),
        Some("e2e") => e2e::run_standalone(&ws, &rest),
        Some("link-order") => link_order::run(&ws, &rest),
        None | Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// Where things are. The site always goes to `<root>/target/site`, because that is the path the
/// server's rust-embed attribute names, whatever `CARGO_TARGET_DIR` says; compiled artifacts go
/// to the cargo target directory.
pub struct Workspace {
    pub root: PathBuf,
    pub target: PathBuf,
}

impl Workspace {
    fn locate() -> Result<Self> {
        // `cargo run` passes the manifest dir at run time; the compile-time value is the fallback
        // for running the binary directly.
        let manifest_dir =
            env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
        let root = manifest_dir.parent().context("xtask must live one level below the workspace root")?.to_path_buf();
        let target = match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => env::current_dir()?.join(dir),
            None => root.join("target"),
        };
        Ok(Self { root, target })
    }

    /// A `cargo` command run from the workspace root (the same cargo that runs this xtask).
    pub fn cargo(&self) -> Command {
        let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.root);
        cmd
    }

    pub fn site_dir(&self) -> PathBuf {
        self.root.join("target").join("site")
    }

    pub fn end2end_dir(&self) -> PathBuf {
        self.root.join("end2end")
    }

    pub fn server_binary(&self, release: bool) -> PathBuf {
        self.target.join(if release { "release" } else { "debug" }).join("provisr")
    }
}
