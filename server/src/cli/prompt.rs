//! Asking for a password or secret without echoing it.

use anyhow::Context as _;
use std::io::{BufRead as _, IsTerminal as _, Write as _};

/// Prints `label` on stderr and reads one line from stdin. On a terminal, echo is
/// turned off while typing (and back on afterwards, also on error); from a pipe, the
/// line is read as it is.
pub fn secret(label: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let line = if stdin.is_terminal() {
        read_without_echo(&stdin, label)?
    } else {
        eprint!("{label}: ");
        std::io::stderr().flush().ok();
        read_line(&stdin)?
    };
    if line.is_empty() {
        anyhow::bail!("no {} given", label.to_lowercase());
    }
    Ok(line)
}

/// Prints `label` on stderr and reads one visible line from stdin.
pub fn line(label: &str) -> anyhow::Result<String> {
    eprint!("{label}: ");
    std::io::stderr().flush().ok();
    let line = read_line(&std::io::stdin())?;
    if line.is_empty() {
        anyhow::bail!("no {} given", label.to_lowercase());
    }
    Ok(line)
}

fn read_line(stdin: &std::io::Stdin) -> anyhow::Result<String> {
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("reading from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Turns echo off *before* showing the prompt, so nothing typed after the prompt appears
/// is ever echoed. ECHONL keeps the line end visible, so later output starts on a new line.
fn read_without_echo(stdin: &std::io::Stdin, label: &str) -> anyhow::Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let saved = tcgetattr(stdin).context("reading the terminal settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    tcsetattr(stdin, SetArg::TCSANOW, &quiet).context("turning off echo")?;
    eprint!("{label}: ");
    std::io::stderr().flush().ok();
    let res = read_line(stdin);
    tcsetattr(stdin, SetArg::TCSANOW, &saved).context("restoring the terminal")?;
    res
}
