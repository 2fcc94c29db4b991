//! The fixture: [`Daemon`] runs `provisr serve` as a child process, collects its stderr,
//! and on drop ends it (SIGTERM, then SIGKILL) so no test leaves a daemon behind
//! ([`testkit::Leftovers`] kills any process still carrying a test's marker); [`Site`] is
//! its configuration and data directory, [`Api`] a signed-in client.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::{http_client, wait_for, wait_until};

/// The admin password of the test configurations.
pub const PASSWORD: &str = "correct-horse-battery";
/// How long a test waits for a condition before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The binary under test.
pub fn provisr() -> &'static str {
    env!("CARGO_BIN_EXE_provisr")
}

/// A running `provisr` child process.
pub struct Daemon {
    child: Child,
    stderr: Arc<Mutex<String>>,
    exited: Option<ExitStatus>,
}

impl Daemon {
    /// Starts `provisr <args>` in `cwd`, with a clean environment for its settings.
    pub fn start(cwd: &Path, args: &[&str]) -> Daemon {
        Self::spawn(Command::new(provisr()).args(args), cwd)
    }

    /// Like [`Daemon::start`], but started with `signals` ignored, as `nohup` (HUP) or a
    /// shell without job control (INT and QUIT, for a background job) start a program.
    pub fn start_ignoring(cwd: &Path, signals: &str, args: &[&str]) -> Daemon {
        let script = format!("trap '' {signals}; exec \"$0\" \"$@\"");
        Self::spawn(Command::new("/bin/sh").arg("-c").arg(script).arg(provisr()).args(args), cwd)
    }

    fn spawn(command: &mut Command, cwd: &Path) -> Daemon {
        let mut child = command
            .current_dir(cwd)
            .env_remove("PROVISR_DATA_DIR")
            .env("PROVISR_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting provisr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().expect("stderr buffer");
                s.push_str(&line);
                s.push('\n');
            }
        });
        Daemon { child, stderr, exited: None }
    }

    /// `provisr serve --config <config> --data-dir <data>` in `cwd`.
    pub fn serve(cwd: &Path, config: &Path, data: &Path) -> Daemon {
        let (config, data) = (config.to_str().expect("utf-8 path"), data.to_str().expect("utf-8 path"));
        Self::start(cwd, &["serve", "--config", config, "--data-dir", data])
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// Sends `signal` to the daemon (only to it, not to its children's groups).
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid() as i32), signal).expect("signalling the daemon");
    }

    /// Its exit status, if it has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait");
        }
        self.exited
    }

    /// Waits (polling) for the daemon to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit within {timeout:?}; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until `GET <url>/api/status` answers `{"ok":true}`; fails early if the daemon
    /// exits.
    pub async fn wait_ready(&mut self, client: &reqwest::Client, url: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.try_exit() {
                panic!("the daemon exited ({status}) before it was ready; stderr:\n{}", self.stderr());
            }
            if let Ok(res) = client.get(format!("{url}/api/status")).send().await {
                if res.status() == StatusCode::OK && res.json::<Value>().await.ok() == Some(json!({ "ok": true })) {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "{url} not ready within {TIMEOUT:?}; stderr:\n{}", self.stderr());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.try_exit().is_some() {
            return;
        }
        // Gracefully first, so the processes it manages are stopped too.
        let _ = kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    l.local_addr().expect("local addr").port()
}

/// A temporary directory for one daemon, with a config file that serves plain HTTP on
/// `port` with the test admin password, plus `extra` TOML.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Site {
    pub fn new(extra: &str) -> Site {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let config = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[server.tls]\nenabled = false\n\n\
             [auth.admin]\npassword = \"{PASSWORD}\"\n\n{extra}\n"
        );
        std::fs::write(dir.path().join("provisr.toml"), config).expect("writing the config");
        Site { dir, port }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("provisr.toml")
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn serve(&self) -> Daemon {
        Daemon::serve(self.dir.path(), &self.config(), &self.data())
    }

    /// [`Site::serve`], once it answers, with an API client signed in as `admin`.
    pub async fn start(&self) -> (Daemon, Api) {
        self.ready(self.serve()).await
    }

    /// Waits until `daemon` answers on this site and signs in as `admin`.
    pub async fn ready(&self, mut daemon: Daemon) -> (Daemon, Api) {
        daemon.wait_ready(&http_client(), &self.url()).await;
        (daemon, Api::login(&self.url(), PASSWORD).await)
    }

    /// [`Site::serve`] with `signals` ignored (see [`Daemon::start_ignoring`]).
    pub fn serve_ignoring(&self, signals: &str) -> Daemon {
        let (config, data) = (self.config(), self.data());
        let (config, data) = (config.to_str().expect("utf-8 path"), data.to_str().expect("utf-8 path"));
        Daemon::start_ignoring(self.dir.path(), signals, &["serve", "--config", config, "--data-dir", data])
    }
}

/// An API client signed in as `admin`.
pub struct Api {
    pub http: reqwest::Client,
    pub url: String,
    pub token: String,
}

impl Api {
    /// Signs in with `POST /api/auth/login`.
    pub async fn login(url: &str, password: &str) -> Api {
        let http = http_client();
        let res = http
            .post(format!("{url}/api/auth/login"))
            .json(&json!({ "method": "basic", "username": "admin", "password": password }))
            .send()
            .await
            .expect("POST /api/auth/login");
        assert_eq!(res.status(), StatusCode::OK, "login");
        let body: Value = res.json().await.expect("JSON");
        let token = body["token"]["value"].as_str().expect("a token").to_string();
        Api { http, url: url.to_string(), token }
    }

    pub async fn register(&self, spec: Value) {
        let res = self
            .http
            .post(format!("{}/api/register", self.url))
            .bearer_auth(&self.token)
            .json(&spec)
            .send()
            .await
            .expect("POST /register");
        let status = res.status();
        assert_eq!(status, StatusCode::OK, "register: {}", res.text().await.unwrap_or_default());
    }

    pub async fn status(&self, name: &str) -> Option<Value> {
        let res =
            self.http.get(format!("{}/api/status?name={name}", self.url)).bearer_auth(&self.token).send().await.ok()?;
        (res.status() == StatusCode::OK).then_some(())?;
        res.json().await.ok()
    }

    /// `GET {url}/api{path}` (a path and query), which must answer 200 with JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let res = self.http.get(format!("{}/api{path}", self.url)).bearer_auth(&self.token).send().await;
        let res = res.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.json().await.unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"))
    }

    /// `POST {url}/api{path}` with `body`; the response.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        let res = self.http.post(format!("{}/api{path}", self.url)).bearer_auth(&self.token).json(body).send().await;
        res.unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub async fn stop(&self, name: &str) -> StatusCode {
        self.http
            .post(format!("{}/api/stop?name={name}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("POST /stop")
            .status()
    }

    /// Waits until `name` is running; returns its pid.
    pub async fn wait_running(&self, name: &str) -> u32 {
        wait_for(&format!("{name} to run"), TIMEOUT, || async {
            let v = self.status(name).await?;
            (v["state"] == "running").then(|| v["pid"].as_u64()).flatten().map(|p| p as u32)
        })
        .await
    }
}

/// The result of one CLI run.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit code 0.
    pub fn ok(self, what: &str) -> Run {
        assert_eq!(self.code, Some(0), "{what}: exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Asserts a non-zero exit code.
    pub fn fails(self, what: &str) -> Run {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "{what} must fail\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts exit code `code`.
    pub fn exits(self, code: i32, what: &str) -> Run {
        assert_eq!(self.code, Some(code), "{what}: exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// `provisr <args>` with `HOME=home` and no inherited provisr settings.
fn cli_command(home: &Path, args: &[String]) -> Command {
    let mut c = Command::new(provisr());
    c.args(args)
        .env("HOME", home)
        .env_remove("PROVISR_API_URL")
        .env_remove("PROVISR_INSECURE")
        .env_remove("PROVISR_PASSWORD")
        .env_remove("PROVISR_CLIENT_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs `provisr <args>` with `HOME=home`, no inherited provisr settings, and `stdin` fed in.
pub async fn cli(home: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let (home, args, stdin) =
        (home.to_path_buf(), args.iter().map(|s| s.to_string()).collect::<Vec<_>>(), stdin.map(str::to_string));
    tokio::task::spawn_blocking(move || {
        let mut child = cli_command(&home, &args).spawn().expect("running provisr");
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            pipe.write_all(s.as_bytes()).expect("writing stdin");
        }
        drop(pipe);
        let Output { status, stdout, stderr } = child.wait_with_output().expect("waiting for provisr");
        Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    })
    .await
    .expect("the CLI task")
}

/// A CLI command left running (`logs --follow`, `job wait`), its output collected as it
/// comes; on drop it is killed.
pub struct Running {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Starts `provisr <args>` with `HOME=home`.
    pub fn start(home: &Path, args: &[&str]) -> Running {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut child = cli_command(home, &args).stdin(Stdio::null()).spawn().expect("running provisr");
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let buf = Arc::new(Mutex::new(String::new()));
            let sink = buf.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut s = sink.lock().expect("output buffer");
                    s.push_str(&line);
                    s.push('\n');
                }
            });
            buf
        };
        let stdout = collect(Box::new(child.stdout.take().expect("stdout")));
        let stderr = collect(Box::new(child.stderr.take().expect("stderr")));
        Running { child, stdout, stderr }
    }

    /// Its stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("stdout buffer").clone()
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// Waits until its stdout contains `text`; fails the test (with what it printed) if
    /// it does not within [`TIMEOUT`] or exits first.
    pub async fn wait_output(&mut self, text: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.stdout().contains(text) {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.drained().await;
                assert!(
                    self.stdout().contains(text),
                    "exited ({status}) before printing {text:?}\nstdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} within {TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the reader threads have read the pipes to their end (after the exit).
    async fn drained(&self) {
        wait_until("the CLI's output to be read", TIMEOUT, || {
            Arc::strong_count(&self.stdout) == 1 && Arc::strong_count(&self.stderr) == 1
        })
        .await;
    }

    /// Sends `signal` to it.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("signalling the CLI");
    }

    /// Waits for it to exit; returns its exit code and all its output.
    pub async fn finish(mut self) -> Run {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the CLI did not exit\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        self.drained().await;
        Run { code: status.code(), stdout: self.stdout(), stderr: self.stderr() }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A fresh `HOME` whose saved session is the test admin's on `site`.
pub async fn signed_in(site: &Site) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("home");
    let api = format!("{}/api", site.url());
    cli(home.path(), &["login", "--server-url", &api, "-u", "admin", "-p", PASSWORD], None).await.ok("login");
    home
}
