//! `cargo xtask build [--release] [--site-only]`: wasm → wasm-bindgen → site → server.
//!
//! Strictly sequential: the release server embeds `target/site` at compile time, so it must see
//! the site of this build, never a stale or half-written one.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};

use crate::{setup, shell, site, Workspace};

/// The output name the server and leptos's `HydrationScripts` expect (`/pkg/provisr.js`, …);
/// `.cargo/config.toml` sets the same value as `LEPTOS_OUTPUT_NAME`.
pub const OUTPUT_NAME: &str = "provisr";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

#[derive(Debug, Default)]
pub struct Options {
    pub release: bool,
    pub site_only: bool,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut options = Self::default();
        for arg in args {
            match arg.as_str() {
                "--release" => options.release = true,
                "--site-only" => options.site_only = true,
                other => bail!("unknown option `{other}` for `build`"),
            }
        }
        Ok(options)
    }
}

pub fn run(ws: &Workspace, options: &Options) -> Result<()> {
    run_with_env(ws, options, &[])
}

/// [`run`], with variables set for the server's build (its build script reads
/// `PROVISR_KEEP_SYMBOLS`).
pub fn run_with_env(ws: &Workspace, options: &Options, server_env: &[(&str, &str)]) -> Result<()> {
    setup::ensure_wasm_target()?;

    let wasm = step("wasm", || build_wasm(ws, options.release))?;
    let bindgen_dir = step("wasm-bindgen", || bindgen(ws, &wasm, options.release))?;
    step("site", || site::assemble(ws, &bindgen_dir, options.release))?;
    if !options.site_only {
        step("server", || build_server(ws, options.release, server_env))?;
        println!("built {}", ws.server_binary(options.release).display());
    }
    Ok(())
}

fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("--- build: {name}");
    let started = Instant::now();
    let value = f().with_context(|| format!("build step `{name}` failed"))?;
    println!("--- build: {name} done in {}", shell::human(started.elapsed()));
    Ok(value)
}

/// `cargo build -p frontend --lib` for wasm32; returns the path of `frontend.wasm`.
fn build_wasm(ws: &Workspace, release: bool) -> Result<PathBuf> {
    // `wasm-release` (opt-level z, lto, strip) stands in for wasm-opt, which must never run here:
    // Debian's binaryen 108 silently breaks the externref table (see TOOLCHAIN.md).
    let profile = if release { "wasm-release" } else { "dev" };
    shell::run(ws.cargo().args([
        "build",
        "--locked",
        "--package",
        "frontend",
        "--lib",
        "--target",
        WASM_TARGET,
        "--profile",
        profile,
    ]))?;
    let profile_dir = if release { "wasm-release" } else { "debug" };
    let wasm = ws.target.join(WASM_TARGET).join(profile_dir).join("frontend.wasm");
    if !wasm.is_file() {
        bail!("cargo reported success but {} is missing", wasm.display());
    }
    Ok(wasm)
}

/// Runs wasm-bindgen in-process (the `web` target) into a scratch directory that
/// [`site::assemble`] then copies from, so `target/site` never holds a half-written package.
fn bindgen(ws: &Workspace, wasm: &Path, release: bool) -> Result<PathBuf> {
    let out = ws.target.join("xtask").join("bindgen");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    println!("wasm-bindgen (library) --target web --out-name {OUTPUT_NAME} {} -> {}", wasm.display(), out.display());
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(wasm)
        .web(true)?
        .out_name(OUTPUT_NAME)
        .typescript(false)
        // The debug wasm with its DWARF is ~60 MB and takes ~25 s to process; browsers don't
        // need it to hydrate.
        .keep_debug(false)
        .generate(&out)?;
    if release {
        println!(
            "note: wasm-bindgen's `target_features ... missing` warning is expected: \
             `strip = true` drops that section, and wasm-bindgen then detects reference types \
             from the externref intrinsics (this is the verified setup; never add wasm-opt)"
        );
    }
    Ok(out)
}

fn build_server(ws: &Workspace, release: bool, env: &[(&str, &str)]) -> Result<()> {
    let mut cmd = ws.cargo();
    cmd.envs(env.iter().copied());
    cmd.args(["build", "--locked", "--package", "server", "--bin", "provisr"]);
    if release {
        cmd.arg("--release");
    }
    // Baked in at compile time by leptos_config; .cargo/config.toml sets it too, but this keeps
    // the binary right even when someone overrides the config.
    cmd.env("LEPTOS_OUTPUT_NAME", OUTPUT_NAME);
    shell::run(&mut cmd)
}
