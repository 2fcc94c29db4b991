//! The fixture of the API tests: [`TestApp`] runs a real [`Application`] (real SQLite file
//! in a temporary data directory, real processes) on `127.0.0.1:0`, on its own runtime
//! in its own thread, so that dropping it — also when a test panics — shuts the daemon
//! down gracefully and stops every process it started. One method per endpoint.

use anyhow::Context as _;
use futures::{SinkExt, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use server::config::{Config, Secret};
use server::startup::{Application, Settings};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use testkit::{http_client, kill_now, pids_with_any_marker, unique_marker, wait_for, POLL_INTERVAL};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The admin's name.
pub const ADMIN: &str = "admin";
/// The admin's password in every test configuration.
pub const PASSWORD: &str = "correct-horse-battery";
/// How long a test waits for a condition before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A live WebSocket client.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The configuration of most tests: plain HTTP on a free loopback port, auth on, a known
/// admin password.
pub fn test_config() -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.server.tls.enabled = false;
    config.auth.enabled = true;
    config.auth.admin.password = Some(Secret::new(PASSWORD));
    config
}

/// A running daemon and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT` (or `https://`).
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The data directory (database, PID files, TLS material).
    pub data_dir: PathBuf,
    /// A bearer token of the admin.
    pub token: String,
    /// `http://ADDR` of the separate `[metrics] listen` listener, when configured.
    pub metrics_url: Option<String>,
    /// A client that follows no redirects, keeps no cookies and accepts the self-signed
    /// certificate.
    pub http: reqwest::Client,
    config: Config,
    dir: Arc<TempDir>,
    server: Option<ServerThread>,
    /// Markers of the processes this test started: none may outlive the daemon.
    markers: Arc<Mutex<Vec<String>>>,
}

impl Drop for TestApp {
    /// Shuts the daemon down gracefully, then checks that every process it was given is
    /// gone — killing any that is left and failing the test, unless it already failed.
    fn drop(&mut self) {
        let mut problems = Vec::new();
        if let Some(mut server) = self.server.take() {
            if let Err(e) = server.stop_blocking() {
                problems.push(format!("the graceful shutdown failed: {e:#}"));
            }
        }
        let markers = self.markers.lock().map(|m| m.clone()).unwrap_or_default();
        // Members of a killed group may take a moment to leave /proc.
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut left = pids_with_any_marker(&markers);
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(POLL_INTERVAL);
            left = pids_with_any_marker(&markers);
        }
        for pid in &left {
            kill_now(*pid);
        }
        if !left.is_empty() {
            problems.push(format!("processes outlived the daemon's shutdown (killed now): {left:?}"));
        }
        if !problems.is_empty() {
            if std::thread::panicking() {
                eprintln!("also: {}", problems.join("; "));
            } else {
                panic!("{}", problems.join("; "));
            }
        }
    }
}

/// The daemon's thread: dropping the stop sender shuts the daemon down gracefully.
struct ServerThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: std::sync::mpsc::Receiver<anyhow::Result<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Asks for a graceful shutdown and waits (blocking) for it; every process stopped.
    fn stop_blocking(&mut self) -> anyhow::Result<()> {
        drop(self.stop.take());
        let res =
            self.done.recv_timeout(Duration::from_secs(60)).context("the daemon did not shut down within 60 s")?;
        if let Some(t) = self.thread.take() {
            t.join().map_err(|_| anyhow::anyhow!("the daemon thread panicked"))?;
        }
        res
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if self.thread.is_some() {
            if let Err(e) = self.stop_blocking() {
                eprintln!("warning: test daemon shutdown: {e:#}");
            }
        }
    }
}

struct Started {
    url: String,
    addr: SocketAddr,
    token: String,
    metrics_addr: Option<SocketAddr>,
}

/// Builds and serves an `Application` on a runtime of its own, in a thread of its own.
async fn launch(config: Config, data_dir: PathBuf) -> anyhow::Result<(Started, ServerThread)> {
    type Ready = anyhow::Result<(Started, tokio::sync::oneshot::Sender<()>)>;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Ready>();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new().name("provisr-test-daemon".into()).spawn(move || {
        let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready_tx.send(Err(e.into()));
                return;
            }
        };
        rt.block_on(async move {
            let auth = config.auth.enabled;
            let app = match Application::build(Settings { config, data_dir }).await {
                Ok(app) => app,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let token = if auth {
                match admin_token(&app).await {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                }
            } else {
                String::new()
            };
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let started = Started { url: app.url(), addr: app.local_addr(), token, metrics_addr: app.metrics_addr() };
            if ready_tx.send(Ok((started, stop_tx))).is_err() {
                return;
            }
            let res = app
                .run_until_stopped(async move {
                    let _ = stop_rx.await;
                })
                .await;
            let _ = done_tx.send(res);
        });
    })?;
    let mut server = ServerThread { stop: None, done: done_rx, thread: Some(thread) };
    let (started, stop) = ready_rx.await.context("the daemon thread ended before it was ready")??;
    server.stop = Some(stop);
    Ok((started, server))
}

/// A token for the admin, issued by the daemon's own auth service (no password hashing:
/// the API login is tested on its own).
async fn admin_token(app: &Application) -> anyhow::Result<String> {
    let st = &app.state().app;
    let (user, _) = backend::store::users::find_by_username(&st.db, ADMIN).await?.context("no admin user")?;
    let principal = st.auth.current_user(&st.db, user.id, user.token_version).await?;
    Ok(st.auth.issue_token(&principal)?.value)
}

impl TestApp {
    /// A daemon with [`test_config`] and a fresh data directory.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(test_config()).await
    }

    /// A daemon with `config` and a fresh data directory.
    pub async fn spawn_with(config: Config) -> TestApp {
        let dir = Arc::new(tempfile::tempdir().expect("creating a temporary data directory"));
        Self::spawn_in(config, dir, Arc::default()).await
    }

    async fn spawn_in(config: Config, dir: Arc<TempDir>, markers: Arc<Mutex<Vec<String>>>) -> TestApp {
        let data_dir = dir.path().join("data");
        let (started, server) =
            launch(config.clone(), data_dir.clone()).await.expect("the application builds and serves");
        TestApp {
            url: started.url,
            addr: started.addr,
            data_dir,
            token: started.token,
            metrics_url: started.metrics_addr.map(|a| format!("http://{a}")),
            http: http_client(),
            config,
            dir,
            server: Some(server),
            markers,
        }
    }

    /// A new marker for `sleep <marker>`, checked for leftovers when the app is dropped.
    pub fn marker(&self) -> String {
        let marker = unique_marker();
        self.track(&marker);
        marker
    }

    /// Checks for processes carrying `marker` when the app is dropped.
    pub fn track(&self, marker: &str) {
        if let Ok(mut m) = self.markers.lock() {
            m.push(marker.to_string());
        }
    }

    /// Shuts the daemon down gracefully (every process stopped, wishes kept) and waits.
    pub async fn shutdown(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        tokio::task::spawn_blocking(move || server.stop_blocking())
            .await
            .expect("the shutdown task")
            .expect("a graceful shutdown");
    }

    /// Shuts down, then starts a new daemon with the same configuration on the same data
    /// directory, as a daemon restart does.
    pub async fn restart(mut self) -> TestApp {
        self.shutdown().await;
        let (config, dir, markers) = (self.config.clone(), self.dir.clone(), self.markers.clone());
        drop(self);
        Self::spawn_in(config, dir, markers).await
    }

    /// `<url>/api<path>`.
    pub fn api(&self, path: &str) -> String {
        format!("{}/api{path}", self.url)
    }

    // ----- endpoints -----

    /// `GET /api/status` without a selector or credentials: the health probe.
    pub async fn health(&self) -> Response {
        self.http.get(self.api("/status")).send().await.expect("GET /api/status")
    }

    /// `GET /api/status?<query>` as the admin.
    pub async fn status(&self, query: &str) -> Response {
        self.http.get(self.api(&format!("/status?{query}"))).bearer_auth(&self.token).send().await.expect("GET /status")
    }

    /// `POST /api/register` with a JSON spec, as the admin.
    pub async fn register(&self, spec: &Value) -> Response {
        self.http.post(self.api("/register")).bearer_auth(&self.token).json(spec).send().await.expect("POST /register")
    }

    /// `POST /api/start?<query>` as the admin.
    pub async fn start(&self, query: &str) -> Response {
        self.post_selector("start", query).await
    }

    /// `POST /api/stop?<query>` as the admin.
    pub async fn stop(&self, query: &str) -> Response {
        self.post_selector("stop", query).await
    }

    /// `POST /api/restart?<query>` as the admin.
    pub async fn restart_process(&self, query: &str) -> Response {
        self.post_selector("restart", query).await
    }

    /// `POST /api/unregister?<query>` as the admin.
    pub async fn unregister(&self, query: &str) -> Response {
        self.post_selector("unregister", query).await
    }

    async fn post_selector(&self, verb: &str, query: &str) -> Response {
        self.http
            .post(self.api(&format!("/{verb}?{query}")))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /{verb}: {e}"))
    }

    /// `GET /api<path>` as the admin.
    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.api(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `POST /api<path>` as the admin, with a JSON body when given.
    pub async fn post(&self, path: &str, body: Option<&Value>) -> Response {
        let mut req = self.http.post(self.api(path)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// `POST /api/auth/login` with `{"method":"basic",…}`.
    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.http
            .post(self.api("/auth/login"))
            .json(&json!({ "method": "basic", "username": username, "password": password }))
            .send()
            .await
            .expect("POST /auth/login")
    }

    /// `GET /api/auth/status`.
    pub async fn auth_status(&self) -> Response {
        self.http.get(self.api("/auth/status")).send().await.expect("GET /auth/status")
    }

    /// The console's sign-in form as a browser without JavaScript posts it:
    /// `POST /rpc/login`, form-encoded, accepting HTML, from the sign-in page.
    pub async fn console_login(&self, username: &str, password: &str) -> Response {
        self.http
            .post(format!("{}/rpc/login", self.url))
            .header(reqwest::header::ACCEPT, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
            .header(reqwest::header::REFERER, format!("{}/login", self.url))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .expect("POST /rpc/login")
    }

    /// `GET <path>` of the console, with a `Cookie` header when given.
    pub async fn page(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(c) = cookie {
            req = req.header(reqwest::header::COOKIE, c);
        }
        req.send().await.expect("GET a console page")
    }

    /// Opens `GET /api/ws` with extra request headers.
    pub async fn ws(&self, headers: &[(&str, &str)]) -> Result<Ws, tungstenite::Error> {
        let url = self.api("/ws").replacen("http", "ws", 1);
        let mut req = url.into_client_request()?;
        for (k, v) in headers {
            req.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                tungstenite::http::HeaderValue::from_str(v).expect("header value"),
            );
        }
        tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
    }

    /// `Authorization: Bearer <admin token>`.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    // ----- conveniences -----

    /// The status object of one instance (asserts 200).
    pub async fn process(&self, name: &str) -> Value {
        let res = self.status(&format!("name={name}")).await;
        assert_eq!(res.status(), StatusCode::OK, "status of {name}");
        res.json().await.expect("a JSON status")
    }

    /// Polls the status of `name` until `pred` holds; returns that status.
    pub async fn wait_for_process(&self, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_for(&format!("{name} to be {what}"), TIMEOUT, || async {
            let res = self.status(&format!("name={name}")).await;
            if res.status() != StatusCode::OK {
                return None;
            }
            let v: Value = res.json().await.ok()?;
            pred(&v).then_some(v)
        })
        .await
    }

    /// Waits until `name` is running; returns its pid.
    pub async fn wait_running(&self, name: &str) -> u32 {
        let v = self.wait_for_process(name, "running", |v| v["state"] == "running").await;
        v["pid"].as_u64().expect("a running process has a pid") as u32
    }

    /// Registers `sleep <marker>` under `name` (asserts success).
    pub async fn register_sleep(&self, name: &str, marker: &str) {
        let res = self.register(&json!({ "name": name, "command": format!("sleep {marker}") })).await;
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::OK, "register {name}: {body}");
    }
}

/// Checks an error answer: `status`, a JSON content type, and a body that is exactly
/// `{"error": "<non-empty message>"}`. Returns the message.
pub async fn expect_error(res: Response, status: StatusCode) -> String {
    let got = res.status();
    let content_type = res.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = res.text().await.expect("the error body");
    assert_eq!(got, status, "status (body: {text})");
    assert!(content_type.starts_with("application/json"), "content type {content_type:?} of {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("error body is not JSON ({e}): {text}"));
    let obj = body.as_object().unwrap_or_else(|| panic!("error body is not an object: {text}"));
    assert_eq!(obj.len(), 1, "the error body has exactly one key: {text}");
    let message = obj.get("error").and_then(Value::as_str).unwrap_or_else(|| panic!("no \"error\" string: {text}"));
    assert!(!message.is_empty(), "an empty error message");
    message.to_string()
}

/// The next text message of a WebSocket as JSON, within `timeout`.
pub async fn next_json(ws: &mut Ws, timeout: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no WebSocket message within {timeout:?}"))
            .expect("the socket is open")
            .expect("a WebSocket frame");
        match msg {
            Message::Text(text) => return serde_json::from_str(&text).expect("a JSON message"),
            Message::Ping(p) => ws.send(Message::Pong(p)).await.expect("pong"),
            Message::Pong(_) | Message::Frame(_) => {}
            other => panic!("unexpected WebSocket message {other:?}"),
        }
    }
}

/// The `name=value` pair of a `Set-Cookie` header, and its attributes (lower-cased).
pub fn session_cookie(headers: &HeaderMap<HeaderValue>, name: &str) -> Option<(String, Vec<String>)> {
    headers.get_all(reqwest::header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|raw| {
        let mut parts = raw.split(';').map(str::trim);
        let pair = parts.next()?;
        let (n, _) = pair.split_once('=')?;
        (n == name).then(|| (pair.to_string(), parts.map(str::to_ascii_lowercase).collect()))
    })
}

/// The path part of a redirect's `Location` header.
pub fn location(res: &Response) -> Option<String> {
    res.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string)
}
