//! The CLI as a client of a real daemon: `login` saves a private session that the remote
//! commands use, for that server only; errors exit non-zero with the server's message;
//! `--output json` parses; users and API clients are managed from the command line.

use crate::helpers::{cli, provisr, Site, PASSWORD, TIMEOUT};
use serde_json::Value;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use testkit::{unique_marker, wait_for, Leftovers};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[tokio::test]
async fn login_status_register_stop_logout_against_a_daemon() {
    let marker = unique_marker();
    let _cleanup = Leftovers(vec![marker.clone()]);
    let site = Site::new("");
    let mut daemon = site.serve();
    daemon.wait_ready(&testkit::http_client(), &site.url()).await;
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let api = format!("{}/api", site.url());

    // Not logged in: a clear refusal.
    let r = cli(h, &["status", "--api-url", &api], None).await.fails("status without a session");
    assert!(r.stderr.contains("401") && r.stderr.contains("provisr login"), "{}", r.stderr);

    // A wrong password: non-zero, the server's message, no session saved.
    let r = cli(h, &["login", "--server-url", &api, "--username", "admin", "--password", "wrong-password"], None)
        .await
        .fails("login with a wrong password");
    assert!(r.stderr.contains("invalid or missing credentials"), "{}", r.stderr);
    assert!(!h.join(".provisr/session.json").exists());

    // The password from stdin (no terminal: read as a line), the URL without /api.
    let r = cli(h, &["login", "--server-url", &site.url(), "--username", "admin"], Some(&format!("{PASSWORD}\n")))
        .await
        .ok("login");
    assert!(r.stdout.contains("Logged in to") && r.stdout.contains("admin"), "{}", r.stdout);
    let file = h.join(".provisr/session.json");
    assert_eq!(mode(&h.join(".provisr")), 0o700, "the session directory is private");
    assert_eq!(mode(&file), 0o600, "the session file is private");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("session")).expect("JSON session");
    assert_eq!(saved["server_url"], api.as_str());
    assert!(saved["token"].as_str().is_some_and(|t| t.split('.').count() == 3), "a JWT: {saved}");
    assert!(saved["expires_at"].is_string());

    // The session is used without --api-url; an empty table first.
    let r = cli(h, &["status"], None).await.ok("status");
    assert!(r.stdout.contains("no processes"), "{}", r.stdout);
    let command = format!("sleep {marker}");
    let r = cli(h, &["register", "--name", "cli-web", "--command", &command, "--instances", "2"], None)
        .await
        .ok("register");
    assert!(r.stdout.contains("cli-web-1") && r.stdout.contains("cli-web-2"), "{}", r.stdout);
    let both = wait_for("both instances to run", TIMEOUT, || async {
        let r = cli(h, &["status", "--base", "cli-web", "--output", "json"], None).await;
        let v = (r.code == Some(0)).then(|| r.json())?;
        let list = v.as_array()?.clone();
        (list.len() == 2 && list.iter().all(|p| p["state"] == "running")).then_some(list)
    })
    .await;
    assert!(both.iter().all(|p| p["pid"].as_u64().is_some()));
    let r = cli(h, &["status"], None).await.ok("status table");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("NAME") && lines[0].contains("STATE") && lines[0].contains("PID"), "{}", r.stdout);
    assert!(lines.iter().any(|l| l.starts_with("cli-web-1") && l.contains("running")), "{}", r.stdout);
    let one = cli(h, &["status", "--name", "cli-web-1", "-o", "json"], None).await.ok("status --name").json();
    assert_eq!(one["name"], "cli-web-1");

    let r = cli(h, &["stop", "--base", "cli-web"], None).await.ok("stop");
    assert!(r.stdout.starts_with("stopped: "), "{}", r.stdout);
    let v = cli(h, &["status", "--wildcard", "cli-web-*", "--output", "json"], None).await.ok("status").json();
    assert!(v.as_array().is_some_and(|l| l.len() == 2 && l.iter().all(|p| p["state"] == "stopped")), "{v}");
    cli(h, &["start", "--name", "cli-web-2"], None).await.ok("start");
    cli(h, &["restart", "--name", "cli-web-2"], None).await.ok("restart");

    // Server errors: non-zero exit and the server's {"error"}.
    let r = cli(h, &["start", "--name", "nope"], None).await.fails("start of an unknown process");
    assert!(r.stderr.contains("404") && r.stderr.contains("no process"), "{}", r.stderr);
    let r = cli(h, &["register", "--name", "bad name", "--command", "true"], None).await.fails("a bad name");
    assert!(r.stderr.contains("400") && r.stderr.contains("name"), "{}", r.stderr);

    // Another server: refused, and the session is never sent there.
    let other = "http://127.0.0.1:9/api";
    let r = cli(h, &["status", "--api-url", other], None).await.fails("another server");
    assert!(r.stderr.contains("saved session is for") && r.stderr.contains(&api), "{}", r.stderr);
    let r = cli(h, &["login", "--server-url", other, "-u", "admin", "-p", PASSWORD], None).await.fails("switch");
    assert!(r.stderr.contains("already logged in") && r.stderr.contains("logout"), "{}", r.stderr);

    cli(h, &["unregister", "--base", "cli-web"], None).await.ok("unregister");
    let v = cli(h, &["status", "-o", "json"], None).await.ok("status").json();
    assert_eq!(v, Value::Array(vec![]), "nothing left");

    let r = cli(h, &["logout"], None).await.ok("logout");
    assert!(r.stdout.contains("Logged out of"), "{}", r.stdout);
    assert!(!file.exists(), "logout removes the session");
    cli(h, &["status", "--api-url", &api], None).await.fails("status after logout");
    let r = cli(h, &["logout"], None).await.ok("a second logout");
    assert!(r.stdout.contains("Not logged in"), "{}", r.stdout);
}

#[tokio::test]
async fn users_and_clients_from_the_command_line() {
    let site = Site::new("");
    let mut daemon = site.serve();
    daemon.wait_ready(&testkit::http_client(), &site.url()).await;
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let api = format!("{}/api", site.url());
    cli(h, &["login", "--api-url", &api, "-u", "admin", "-p", PASSWORD], None).await.ok("login");

    let created = cli(
        h,
        &["auth", "user", "create", "--username", "olga", "--roles", "operator", "--output", "json"],
        Some("olga-password\n"),
    )
    .await
    .ok("user create")
    .json();
    assert_eq!(created["username"], "olga");
    assert!(created.get("password_hash").is_none());
    let r = cli(h, &["auth", "user", "list"], None).await.ok("user list");
    assert!(r.stdout.lines().any(|l| l.contains("olga") && l.contains("operator")), "{}", r.stdout);
    let users = cli(h, &["auth", "user", "list", "-o", "json"], None).await.ok("user list").json();
    assert_eq!(users.as_array().map(Vec::len), Some(2));

    let client =
        cli(h, &["auth", "client", "create", "--name", "CI Client", "--scopes", "operator", "-o", "json"], None)
            .await
            .ok("client create")
            .json();
    let (id, secret) = (client["client_id"].as_str().expect("id"), client["client_secret"].as_str().expect("secret"));
    let r = cli(h, &["auth", "client", "list"], None).await.ok("client list");
    assert!(r.stdout.contains(id) && !r.stdout.contains(secret), "{}", r.stdout);
    let r = cli(h, &["auth", "user", "delete", "--username", "admin"], None).await.fails("deleting the last admin");
    assert!(r.stderr.contains("409") && r.stderr.contains("last active admin"), "{}", r.stderr);
    cli(h, &["logout"], None).await.ok("logout");

    // The API client signs in with its secret and acts with its scopes.
    cli(
        h,
        &["login", "--server-url", &api, "--method", "client_secret", "--client-id", id, "--client-secret", secret],
        None,
    )
    .await
    .ok("client login");
    cli(h, &["status", "-o", "json"], None).await.ok("status as the client");
    let r = cli(h, &["auth", "user", "list"], None).await.fails("an operator client listing users");
    assert!(r.stderr.contains("403"), "{}", r.stderr);
    cli(h, &["logout"], None).await.ok("logout");

    // olga changes her own password; the admin removes the client and olga.
    cli(h, &["login", "--server-url", &api, "-u", "olga", "-p", "olga-password"], None).await.ok("olga login");
    cli(h, &["auth", "user", "password", "--username", "olga"], Some("olga-new-password\n")).await.ok("password");
    let r = cli(h, &["status"], None).await.fails("the old session after a password change");
    assert!(r.stderr.contains("401") && r.stderr.contains("login"), "{}", r.stderr);
    cli(h, &["logout"], None).await.ok("logout");
    cli(h, &["login", "--server-url", &api, "-u", "olga", "-p", "olga-new-password"], None).await.ok("new password");
    cli(h, &["logout"], None).await.ok("logout");
    cli(h, &["login", "--server-url", &api, "-u", "admin", "-p", PASSWORD], None).await.ok("admin login");
    cli(h, &["auth", "client", "delete", "--client-id", id], None).await.ok("client delete");
    cli(h, &["auth", "user", "delete", "--username", "olga"], None).await.ok("user delete");
    let users = cli(h, &["auth", "user", "list", "-o", "json"], None).await.ok("user list").json();
    assert_eq!(users.as_array().map(Vec::len), Some(1));
    let clients = cli(h, &["auth", "client", "list", "-o", "json"], None).await.ok("client list").json();
    assert_eq!(clients, Value::Array(vec![]));
}

/// A stand-in for the daemon's log routes (`GET /processes/{name}/logs` and its WebSocket,
/// in the shape of `server/src/api/logs.rs`): it echoes the query, then streams two
/// batches and closes.
async fn log_stub() -> (String, tokio::task::JoinHandle<()>) {
    use axum::extract::ws::{Message, WebSocketUpgrade};
    use axum::extract::{Path, RawQuery};
    use axum::routing::get;
    use serde_json::json;
    let page = |name: String, q: Option<String>| {
        json!({ "lines": [
            { "offset": 0, "stream": "stdout", "text": format!("hello from {name}"), "at": "2026-01-01T00:00:00Z" },
            { "offset": 17, "stream": "stderr", "text": format!("query {}", q.unwrap_or_default()), "at": "2026-01-01T00:00:01Z" },
        ], "next_offset": 40, "first_offset": 0 })
    };
    let app = axum::Router::new()
        .route(
            "/api/processes/{name}/logs",
            get(move |Path(name): Path<String>, RawQuery(q): RawQuery| async move { axum::Json(page(name, q)) }),
        )
        .route(
            "/api/processes/{name}/logs/ws",
            get(move |Path(name): Path<String>, RawQuery(q): RawQuery, ws: WebSocketUpgrade| async move {
                ws.on_upgrade(move |mut socket| async move {
                    let mut first = page(name, q);
                    first["type"] = "lines".into();
                    let _ = socket.send(Message::Text(first.to_string().into())).await;
                    let more = json!({ "type": "lines", "lines": [
                        { "offset": 40, "stream": "stdout", "text": "live line", "at": "2026-01-01T00:00:02Z" }
                    ], "next_offset": 50, "first_offset": 0 });
                    let _ = socket.send(Message::Text(more.to_string().into())).await;
                    let _ = socket.send(Message::Close(None)).await;
                })
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/api", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[tokio::test]
async fn logs_pages_and_follows_the_live_tail() {
    let (url, task) = log_stub().await;
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let r = cli(h, &["logs", "web-1", "--api-url", &url, "--since", "5", "--limit", "2"], None).await.ok("logs");
    assert_eq!(r.stdout, "[stdout] hello from web-1\n[stderr] query since=5&limit=2\n");
    let v = cli(h, &["logs", "web-1", "--api-url", &url, "-o", "json"], None).await.ok("logs json").json();
    assert_eq!(v["next_offset"], 40);
    let r = cli(h, &["logs", "web-1", "--api-url", &url, "--follow", "--stream", "stdout"], None).await.ok("follow");
    assert_eq!(r.stdout, "[stdout] hello from web-1\n[stderr] query stream=stdout\n[stdout] live line\n");
    task.abort();
}

#[tokio::test]
async fn the_self_signed_default_needs_insecure_once_at_login() {
    let dir = tempfile::tempdir().expect("site");
    let port = crate::helpers::free_port();
    let config = dir.path().join("provisr.toml");
    std::fs::write(
        &config,
        format!("[server]\nlisten = \"127.0.0.1:{port}\"\n\n[auth.admin]\npassword = \"{PASSWORD}\"\n"),
    )
    .expect("config");
    let mut daemon = crate::helpers::Daemon::serve(dir.path(), &config, &dir.path().join("data"));
    let url = format!("https://127.0.0.1:{port}");
    daemon.wait_ready(&testkit::http_client(), &url).await;
    let home = tempfile::tempdir().expect("home");
    let h = home.path();

    let r = cli(h, &["login", "--server-url", &url, "-u", "admin", "-p", PASSWORD], None).await.fails("untrusted");
    assert!(r.stderr.contains("certificate") && r.stderr.contains("--insecure"), "{}", r.stderr);
    assert!(!h.join(".provisr/session.json").exists());

    cli(h, &["login", "--server-url", &url, "-u", "admin", "-p", PASSWORD, "--insecure"], None).await.ok("login");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(h.join(".provisr/session.json")).expect("session"))
            .expect("JSON");
    assert_eq!(saved["insecure"], true, "the choice is remembered for this server");
    assert_eq!(saved["server_url"], format!("{url}/api"));
    let v = cli(h, &["status", "-o", "json"], None).await.ok("status over TLS").json();
    assert_eq!(v, Value::Array(vec![]));
}

#[tokio::test]
async fn an_expired_or_broken_session_is_explained() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    std::fs::create_dir(h.join(".provisr")).expect("dir");
    let expired = serde_json::json!({
        "server_url": "http://127.0.0.1:9/api", "token": "x.y.z", "expires_at": "2020-01-01T00:00:00Z",
        "principal": "admin", "method": "basic", "insecure": false, "created_at": "2020-01-01T00:00:00Z",
    });
    std::fs::write(h.join(".provisr/session.json"), expired.to_string()).expect("session");
    let r = cli(h, &["status"], None).await.fails("an expired session");
    assert!(r.stderr.contains("expired") && r.stderr.contains("provisr login"), "{}", r.stderr);
    assert!(!h.join(".provisr/session.json").exists(), "an expired session is cleaned up");
    std::fs::write(h.join(".provisr/session.json"), "{not json").expect("session");
    let r = cli(h, &["status"], None).await.fails("a broken session");
    assert!(r.stderr.contains("not a provisr session") && r.stderr.contains("logout"), "{}", r.stderr);
    cli(h, &["logout"], None).await.ok("logout clears a broken session");
    assert!(!h.join(".provisr/session.json").exists());
}

/// `login` on a terminal (a pseudo-terminal from util-linux `script`): the password is
/// asked for after the prompt appears, typed, and never echoed; the login succeeds with it.
#[tokio::test]
async fn the_password_prompt_does_not_echo_on_a_terminal() {
    use std::io::Read as _;
    let site = Site::new("");
    let mut daemon = site.serve();
    daemon.wait_ready(&testkit::http_client(), &site.url()).await;
    let home = tempfile::tempdir().expect("home");
    let command = format!("{} login --server-url {} --username admin", provisr(), site.url());
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("HOME", home.path())
        .env_remove("PROVISR_PASSWORD")
        .env_remove("PROVISR_API_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs the CLI on a pseudo-terminal");
    let mut out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !String::from_utf8_lossy(&seen).contains("Password: ") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => panic!("no password prompt; output: {}", String::from_utf8_lossy(&seen)),
        }
    }
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(format!("{PASSWORD}\n").as_bytes()).expect("typing the password");
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    drop(stdin);
    while let Ok(chunk) = rx.recv_timeout(std::time::Duration::from_secs(2)) {
        seen.extend(chunk);
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(status.success(), "login on a terminal: {text}");
    assert!(text.contains("Logged in to"), "{text}");
    assert!(!text.contains(PASSWORD), "the password was echoed: {text}");
    assert!(home.path().join(".provisr/session.json").exists());
}
