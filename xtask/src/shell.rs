//! Running external programs. Every command is echoed (`$ …`, with its directory and the
//! variables it sets; values of variables named like secrets are masked) before it runs, and a
//! failure names the command that failed.

use std::ffi::OsStr;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

/// Runs `cmd` with inherited stdio; fails unless it exits with status 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = describe(cmd);
    println!("$ {line}");
    let status = cmd.status().with_context(|| format!("could not start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` and returns its standard output; stderr passes through. Fails unless it exits 0.
pub fn stdout(cmd: &mut Command) -> Result<String> {
    let line = describe(cmd);
    println!("$ {line}");
    let output = cmd.stderr(Stdio::inherit()).output().with_context(|| format!("could not start `{line}`"))?;
    if !output.status.success() {
        bail!("`{line}` failed ({})", output.status);
    }
    String::from_utf8(output.stdout).with_context(|| format!("`{line}` printed non-UTF-8 output"))
}

/// Whether `program` can be found on `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// The command as a shell-like line, for the log.
pub fn describe(cmd: &Command) -> String {
    let mut parts = Vec::new();
    if let Some(dir) = cmd.get_current_dir() {
        if std::env::current_dir().ok().as_deref() != Some(dir) {
            parts.push(format!("(in {})", dir.display()));
        }
    }
    for (key, value) in cmd.get_envs() {
        let Some(value) = value else { continue };
        let key = key.to_string_lossy();
        let value = if is_secret(&key) { "***".to_owned() } else { quote(value) };
        parts.push(format!("{key}={value}"));
    }
    // `$CARGO` (the toolchain's cargo that runs this xtask) reads better as plain `cargo`.
    let program = cmd.get_program();
    if std::env::var_os("CARGO").is_some_and(|cargo| cargo == program) {
        parts.push("cargo".to_owned());
    } else {
        parts.push(quote(program));
    }
    parts.extend(cmd.get_args().map(quote));
    parts.join(" ")
}

fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    ["PASSWORD", "SECRET", "TOKEN"].iter().any(|word| key.contains(word))
}

fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `1.2s`, `3m 04.5s`.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let minutes = (secs / 60.0).floor();
        format!("{minutes:.0}m {:04.1}s", secs - minutes * 60.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_quotes_and_masks() {
        let mut cmd = Command::new("npx");
        cmd.args(["playwright", "test", "--grep", "sign in"])
            .env("BASE_URL", "https://localhost:1")
            .env("PROVISR_ADMIN_PASSWORD", "hunter2");
        assert_eq!(
            describe(&cmd),
            "BASE_URL=https://localhost:1 PROVISR_ADMIN_PASSWORD=*** npx playwright test --grep 'sign in'"
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(1234)), "1.2s");
        assert_eq!(human(Duration::from_millis(184_500)), "3m 04.5s");
    }
}
