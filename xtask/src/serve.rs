//! `cargo xtask serve [ARGS…]`: build the release binary, then become `provisr serve ARGS…`
//! (exec, so signals and the exit status are the server's own).

use std::os::unix::process::CommandExt as _;
use std::process::Command;

use anyhow::{Context as _, Result};

use crate::{build, shell, Workspace};

pub fn run(ws: &Workspace, args: &[String]) -> Result<()> {
    build::run(ws, &build::Options { release: true, site_only: false })?;
    let mut cmd = Command::new(ws.server_binary(true));
    cmd.arg("serve").args(args);
    println!("$ {}", shell::describe(&cmd));
    let err = cmd.exec();
    Err(err).with_context(|| format!("could not exec {}", ws.server_binary(true).display()))
}
