//! The end-to-end phase: run the release binary the way an operator would (HTTPS with a
//! generated certificate, auth on, a fresh SQLite store, everything in a temporary directory),
//! wait until it answers, point Playwright (Debian's Chromium) at it, then stop it with SIGTERM
//! and report whether it shut down cleanly.

use std::fs::{self, File};
use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};

use crate::setup::{self, Apt};
use crate::{shell, Workspace};

const ADMIN_USER: &str = "admin";
/// A process defined in the config file (read-only in the console); the specs get its name.
const CONFIG_PROCESS: &str = "e2e-config";
/// A cronjob defined in the config file (read-only in the console, "Run now" works).
const CONFIG_CRONJOB: &str = "e2e-config-cron";
/// A group defined in the config file with two config-file members (for the Groups page).
const CONFIG_GROUP: &str = "e2e-group";
const GROUP_MEMBERS: [&str; 2] = ["e2e-group-a", "e2e-group-b"];
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
const LOG_TAIL_LINES: usize = 60;

/// `cargo xtask e2e [PLAYWRIGHT ARGS…]`: only this phase, against an already built binary.
pub fn run_standalone(ws: &Workspace, playwright_args: &[String]) -> Result<()> {
    setup::ensure_chromium(&mut Apt::default())?;
    setup::ensure_npm_packages(ws)?;
    run(ws, playwright_args)
}

pub fn run(ws: &Workspace, playwright_args: &[String]) -> Result<()> {
    let binary = ws.server_binary(true);
    if !binary.is_file() {
        bail!("{} does not exist; run `cargo xtask build --release` first", binary.display());
    }
    // Type errors in the specs would otherwise only show up as confusing runtime failures.
    shell::run(Command::new("npx").args(["--no", "--", "tsc", "--noEmit"]).current_dir(ws.end2end_dir()))?;

    let tmp = TempDir::new("provisr-e2e")?;
    let port = free_port()?;
    let password = random_password(24)?;
    let config = tmp.path().join("provisr.toml");
    fs::write(&config, render_config(tmp.path(), port, &password))
        .with_context(|| format!("writing {}", config.display()))?;
    println!("e2e: config {}, server on 127.0.0.1:{port}", config.display());

    let log = tmp.path().join("server.log");
    let mut server = Server::start(&binary, &config, &log, tmp.path())?;
    let outcome = server.wait_ready(port, &password).and_then(|()| playwright(ws, port, &password, playwright_args));
    let stopped = server.stop();

    match &stopped {
        Ok(Stopped::AfterSigterm(status)) if status.success() => {
            println!("e2e: server exited cleanly after SIGTERM ({status})")
        }
        Ok(Stopped::AfterSigterm(status)) => {
            println!("e2e: WARNING: server did not exit cleanly after SIGTERM ({status})")
        }
        Ok(Stopped::Killed) => {
            println!("e2e: WARNING: server ignored SIGTERM for {}s and was killed", STOP_TIMEOUT.as_secs())
        }
        Ok(Stopped::Before(status)) => println!("e2e: server had already exited ({status})"),
        Err(err) => println!("e2e: WARNING: stopping the server failed: {err:#}"),
    }
    if outcome.is_err() {
        print_tail(&log);
        // Keep the config, database, TLS files and log for a post-mortem.
        println!("e2e: keeping {} for inspection", tmp.keep().display());
    }
    outcome
}

fn playwright(ws: &Workspace, port: u16, password: &str, args: &[String]) -> Result<()> {
    shell::run(
        Command::new("npx")
            // `--no`: never download anything; the packages come from `npm ci`.
            .args(["--no", "--", "playwright", "test"])
            .args(args)
            .current_dir(ws.end2end_dir())
            .env("BASE_URL", format!("https://localhost:{port}"))
            .env("PROVISR_ADMIN_USER", ADMIN_USER)
            .env("PROVISR_ADMIN_PASSWORD", password)
            .env("PROVISR_CONFIG_PROCESS", CONFIG_PROCESS)
            .env("PROVISR_CONFIG_CRONJOB", CONFIG_CRONJOB)
            .env("PROVISR_CONFIG_GROUP", CONFIG_GROUP)
            .env("PROVISR_CONFIG_GROUP_MEMBERS", GROUP_MEMBERS.join(",")),
    )
}

fn render_config(dir: &Path, port: u16, password: &str) -> String {
    let path = |name: &str| toml_string(&dir.join(name).to_string_lossy());
    let db_url = toml_string(&format!("sqlite://{}?mode=rwc", dir.join("provisr.db").display()));
    format!(
        r#"pid_dir = {run}

[server]
listen = "127.0.0.1:{port}"

[server.tls]
enabled = true
dir = {tls}
auto_generate = true

[store]
url = {db_url}

[auth]
enabled = true

[auth.admin]
auto_create = true
username = "{ADMIN_USER}"
password = {password}

[[processes]]
type = "process"
[processes.spec]
name = "{CONFIG_PROCESS}"
command = "sleep 3600"

[[processes]]
type = "cronjob"
[processes.spec]
name = "{CONFIG_CRONJOB}"
schedule = "0 0 1 1 *"
[processes.spec.job_template]
command = "echo from-config"

[[processes]]
type = "process"
[processes.spec]
name = "{member_a}"
command = "sleep 3600"
priority = 1

[[processes]]
type = "process"
[processes.spec]
name = "{member_b}"
command = "sleep 3600"
priority = 2

[[groups]]
name = "{CONFIG_GROUP}"
members = ["{member_a}", "{member_b}"]
"#,
        member_a = GROUP_MEMBERS[0],
        member_b = GROUP_MEMBERS[1],
        run = path("run"),
        tls = path("tls"),
        password = toml_string(password),
    )
}

pub(crate) fn toml_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A port nobody listens on right now (the kernel's pick; the tiny race until the server binds
/// it is acceptable for a test harness).
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn random_password(len: usize) -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut urandom = File::open("/dev/urandom").context("opening /dev/urandom")?;
    let mut password = String::with_capacity(len);
    let mut byte = [0u8; 1];
    while password.len() < len {
        urandom.read_exact(&mut byte)?;
        // Rejection sampling keeps every character equally likely (248 = 4 × 62).
        if byte[0] < 248 {
            password.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
        }
    }
    Ok(password)
}

/// The server process. Dropping it stops the server, so no early return or panic in the xtask
/// leaves one running.
struct Server {
    child: Child,
    stopped: bool,
}

/// How [`Server::stop`] found or left the server.
enum Stopped {
    /// It had exited on its own before we sent anything.
    Before(ExitStatus),
    /// It exited within [`STOP_TIMEOUT`] of SIGTERM.
    AfterSigterm(ExitStatus),
    /// It was still running after [`STOP_TIMEOUT`] and got SIGKILL.
    Killed,
}

impl Server {
    fn start(binary: &Path, config: &Path, log: &Path, dir: &Path) -> Result<Self> {
        let log_file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(binary);
        cmd.arg("serve")
            .arg("--config")
            .arg(config)
            // Anything the server writes relative to its working directory stays in the temp dir.
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        println!("$ {}   (output: {})", shell::describe(&cmd), log.display());
        let child = cmd.spawn().with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self { child, stopped: false })
    }

    /// Waits until the port accepts TCP connections, then until `GET /api/status` answers 200.
    fn wait_ready(&mut self, port: u16, password: &str) -> Result<()> {
        let started = Instant::now();
        let deadline = started + READY_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        println!("e2e: waiting for {addr} to accept connections (up to {}s)", READY_TIMEOUT.as_secs());
        while TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
            self.check_alive()?;
            if Instant::now() > deadline {
                bail!("the server did not listen on {addr} within {}s", READY_TIMEOUT.as_secs());
            }
            thread::sleep(POLL_INTERVAL);
        }

        let url = format!("https://127.0.0.1:{port}/api/status");
        let mut curl = Command::new("curl");
        curl.args(["--insecure", "--silent", "--fail", "--max-time", "5"])
            .args(["--output", "/dev/null", "--user"])
            .arg(format!("{ADMIN_USER}:{password}"))
            .arg(&url)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        println!("$ curl --insecure --silent --fail --user {ADMIN_USER}:*** {url}   (polling for 200)");
        loop {
            if curl.status().context("running curl")?.success() {
                println!("e2e: server ready after {}", shell::human(started.elapsed()));
                return Ok(());
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                bail!("GET {url} did not answer 200 within {}s", READY_TIMEOUT.as_secs());
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the server exited during startup ({status})");
        }
        Ok(())
    }

    /// SIGTERM, then up to [`STOP_TIMEOUT`] for a graceful exit, then SIGKILL.
    fn stop(&mut self) -> Result<Stopped> {
        self.stopped = true;
        if let Some(status) = self.child.try_wait()? {
            return Ok(Stopped::Before(status));
        }
        let sigterm = shell::run(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        if let Err(err) = sigterm {
            println!("e2e: could not send SIGTERM ({err:#}); sending SIGKILL");
            self.child.kill()?;
            self.child.wait()?;
            return Ok(Stopped::Killed);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Stopped::AfterSigterm(status));
            }
            thread::sleep(POLL_INTERVAL);
        }
        println!("e2e: server still running after SIGTERM; sending SIGKILL");
        self.child.kill()?;
        self.child.wait()?;
        Ok(Stopped::Killed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.stopped {
            if let Err(err) = self.stop() {
                eprintln!("e2e: could not stop the server: {err:#}");
            }
        }
    }
}

fn print_tail(log: &Path) {
    let Ok(text) = fs::read_to_string(log) else {
        println!("e2e: no server log at {}", log.display());
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    println!("---- last {} lines of {} ----", lines.len() - start, log.display());
    for line in &lines[start..] {
        println!("{line}");
    }
    println!("---- end of server log ----");
}

/// A fresh directory under the system temp dir, removed on drop unless [`TempDir::keep`] is called.
struct TempDir {
    path: Option<PathBuf>,
}

impl TempDir {
    fn new(prefix: &str) -> Result<Self> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos();
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{nanos:09}", std::process::id()));
        fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path: Some(path) })
    }

    fn path(&self) -> &Path {
        self.path.as_deref().expect("path is only taken by keep()")
    }

    fn keep(mut self) -> PathBuf {
        self.path.take().expect("path is only taken by keep()")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = fs::remove_dir_all(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_the_contract_keys() {
        let config = render_config(Path::new("/tmp/x"), 4321, "pw\"1");
        for expected in [
            "pid_dir = \"/tmp/x/run\"",
            "listen = \"127.0.0.1:4321\"",
            "dir = \"/tmp/x/tls\"",
            "url = \"sqlite:///tmp/x/provisr.db?mode=rwc\"",
            "username = \"admin\"",
            "password = \"pw\\\"1\"",
            "name = \"e2e-config\"",
            "name = \"e2e-group\"",
            "members = [\"e2e-group-a\", \"e2e-group-b\"]",
        ] {
            assert!(config.contains(expected), "{expected} missing in\n{config}");
        }
    }

    #[test]
    fn passwords_are_alphanumeric_and_distinct() {
        let a = random_password(24).expect("urandom");
        let b = random_password(24).expect("urandom");
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
