//! Installing what a fresh machine of our kind (Debian 12, root, only the package registries
//! reachable) lacks: the wasm target, Debian's Chromium, the end-to-end npm packages. Each step
//! checks first and does nothing when the thing is already there.
//!
//! Deliberately absent: Debian's `binaryen` (its wasm-opt 108 silently breaks hydration) and
//! `npx playwright install` (it downloads browsers, which fails here; we drive Debian's Chromium).

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context as _, Result};

use crate::{shell, Workspace};

/// The browser the Playwright config launches (`end2end/playwright.config.ts`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn ensure_wasm_target() -> Result<()> {
    let installed = shell::stdout(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if installed.lines().any(|line| line.trim() == "wasm32-unknown-unknown") {
        return Ok(());
    }
    shell::run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

/// `apt-get install`, running `apt-get update` first (once per xtask run).
#[derive(Default)]
pub struct Apt {
    updated: bool,
}

impl Apt {
    pub fn install(&mut self, packages: &[&str]) -> Result<()> {
        if !self.updated {
            shell::run(apt_get().arg("update"))?;
            self.updated = true;
        }
        shell::run(apt_get().args(["install", "-y"]).args(packages))
    }
}

fn apt_get() -> Command {
    let mut cmd = Command::new("apt-get");
    cmd.env("DEBIAN_FRONTEND", "noninteractive");
    cmd
}

pub fn ensure_chromium(apt: &mut Apt) -> Result<()> {
    if Path::new(CHROMIUM).is_file() {
        return Ok(());
    }
    println!("{CHROMIUM} is missing; installing Debian's chromium");
    apt.install(&["chromium"]).context("installing chromium (needs root and the Debian mirror)")?;
    if !Path::new(CHROMIUM).is_file() {
        anyhow::bail!("apt-get installed chromium but {CHROMIUM} is still missing");
    }
    Ok(())
}

/// `npm ci` in `end2end/` unless `node_modules` is at least as new as `package-lock.json`
/// (npm writes `node_modules/.package-lock.json` at the end of every install).
pub fn ensure_npm_packages(ws: &Workspace) -> Result<()> {
    let dir = ws.end2end_dir();
    let lock =
        mtime(&dir.join("package-lock.json")).context("end2end/package-lock.json is missing (it is committed)")?;
    let installed = mtime(&dir.join("node_modules").join(".package-lock.json"));
    if installed.is_ok_and(|installed| installed >= lock) {
        return Ok(());
    }
    shell::run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir))
}

fn mtime(path: &Path) -> Result<SystemTime> {
    Ok(fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.modified()?)
}
