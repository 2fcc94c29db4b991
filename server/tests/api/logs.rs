//! `GET /processes/{name}/logs` and the live tail `GET /processes/{name}/logs/ws`.

use crate::helpers::{expect_error, next_json, TestApp, Ws, TIMEOUT};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, http::HeaderValue};

async fn get_logs(app: &TestApp, name: &str, query: &str) -> reqwest::Response {
    app.http
        .get(app.api(&format!("/processes/{name}/logs{query}")))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("GET logs")
}

fn texts(v: &Value) -> Vec<(String, String)> {
    v["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| (l["stream"].as_str().expect("stream").to_string(), l["text"].as_str().expect("text").to_string()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(s, t)| (s.to_string(), t.to_string())).collect()
}

#[tokio::test]
async fn recent_lines_by_offset_stream_and_limit() {
    let app = TestApp::spawn().await;
    let script = "for i in 1 2 3; do echo out $i; echo err $i >&2; done";
    let res = app.register(&json!({ "name": "talker", "command": script })).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.wait_for_process("talker", "exited", |v| v["state"] == "exited").await;

    let res = get_logs(&app, "talker", "?since=0").await;
    assert_eq!(res.status(), StatusCode::OK);
    let all: Value = res.json().await.expect("json");
    // Each stream in order; how the two interleave depends on when each pipe was read.
    let of = |stream: &str| texts(&all).into_iter().filter(|(s, _)| s == stream).collect::<Vec<_>>();
    assert_eq!(of("stdout"), pairs(&[("stdout", "out 1"), ("stdout", "out 2"), ("stdout", "out 3")]));
    assert_eq!(of("stderr"), pairs(&[("stderr", "err 1"), ("stderr", "err 2"), ("stderr", "err 3")]));
    assert_eq!(all["next_offset"], 36);
    assert_eq!(all["first_offset"], 0);
    assert!(all["lines"][0]["at"].as_str().is_some_and(|s| s.ends_with('Z')), "{all}");
    let offsets: Vec<u64> =
        all["lines"].as_array().expect("lines").iter().map(|l| l["offset"].as_u64().expect("offset")).collect();
    assert_eq!(offsets, [0, 6, 12, 18, 24, 30], "every line is 6 bytes");

    let last: Value = get_logs(&app, "talker", "?limit=2&stream=stdout").await.json().await.expect("json");
    assert_eq!(texts(&last), pairs(&[("stdout", "out 2"), ("stdout", "out 3")]));
    let page: Value = get_logs(&app, "talker", "?since=12&limit=2").await.json().await.expect("json");
    assert_eq!(texts(&page), texts(&all)[2..4]);
    assert_eq!(page["next_offset"], 24);
    let rest: Value = get_logs(&app, "talker", "?since=24").await.json().await.expect("json");
    assert_eq!(texts(&rest), texts(&all)[4..]);
    assert_eq!(rest["next_offset"], 36);

    // The same lines are in the log files under <data>/logs.
    let out = std::fs::read_to_string(app.data_dir.join("logs/talker.stdout.log")).expect("stdout log");
    assert_eq!(out, "out 1\nout 2\nout 3\n");
}

#[tokio::test]
async fn bad_requests_unknown_names_and_missing_credentials() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    app.register_sleep("quiet", &marker).await;

    let res = get_logs(&app, "quiet", "").await;
    assert_eq!(res.status(), StatusCode::OK, "a process without output has no lines");
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["lines"], json!([]));

    expect_error(get_logs(&app, "nobody", "").await, StatusCode::NOT_FOUND).await;
    for query in ["?since=-1", "?since=x", "?limit=0", "?limit=100000", "?stream=stdin"] {
        let message = expect_error(get_logs(&app, "quiet", query).await, StatusCode::BAD_REQUEST).await;
        let key = query.trim_start_matches('?').split('=').next().expect("key");
        assert!(message.contains(key), "{query}: {message}");
    }
    let res = app.http.get(app.api("/processes/quiet/logs")).send().await.expect("GET");
    expect_error(res, StatusCode::UNAUTHORIZED).await;
    let res = app.http.get(app.api("/processes/quiet/logs/ws")).send().await.expect("GET");
    expect_error(res, StatusCode::UNAUTHORIZED).await;
}

async fn tail_socket(app: &TestApp, name: &str, query: &str) -> Result<Ws, tungstenite::Error> {
    let url = app.api(&format!("/processes/{name}/logs/ws{query}")).replacen("http", "ws", 1);
    let mut req = url.into_client_request()?;
    req.headers_mut().insert("authorization", HeaderValue::from_str(&app.bearer()).expect("header"));
    tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
}

#[tokio::test]
async fn the_tail_socket_sends_recent_lines_then_new_ones() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    let dir = tempfile::tempdir().expect("dir");
    let fifo = dir.path().join("go");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("fifo");
    let script = format!("echo one; echo two; read x < {}; echo three >&2; exec sleep {marker}", fifo.display());
    assert_eq!(app.register(&json!({ "name": "tailed", "command": script })).await.status(), StatusCode::OK);
    testkit::wait_until_async("the first lines are captured", TIMEOUT, || async {
        let v: Value = get_logs(&app, "tailed", "").await.json().await.unwrap_or_default();
        v["lines"].as_array().is_some_and(|l| l.len() == 2)
    })
    .await;

    let mut ws = tail_socket(&app, "tailed", "?limit=1").await.expect("the socket opens");
    let first = next_json(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(first["type"], "lines");
    assert_eq!(texts(&first), pairs(&[("stdout", "two")]));
    assert_eq!(first["next_offset"], 8);

    let writer = std::thread::spawn(move || std::fs::write(fifo, "go\n").expect("release the process"));
    let next = next_json(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(texts(&next), pairs(&[("stderr", "three")]));
    assert_eq!(next["lines"][0]["offset"], 8);
    writer.join().expect("writer");

    // Unregistering the process ends the stream.
    let res = app.unregister("name=tailed").await;
    assert_eq!(res.status(), StatusCode::OK);
    let end =
        tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut ws)).await.expect("closed in time");
    assert!(matches!(end, None | Some(Ok(tungstenite::Message::Close(_))) | Some(Err(_))), "{end:?}");

    // An unknown name is refused before the upgrade.
    assert!(tail_socket(&app, "nobody", "").await.is_err());
}

#[tokio::test]
async fn log_settings_of_a_spec_are_validated_with_their_keys() {
    let app = TestApp::spawn().await;
    let res = app
        .register(&json!({
            "name": "badlog",
            "command": "true",
            "log": { "dir": "relative/dir", "stdout": "out.log", "max_backups": 1000000 }
        }))
        .await;
    let message = expect_error(res, StatusCode::BAD_REQUEST).await;
    for key in ["log.dir", "log.stdout", "log.max_backups"] {
        assert!(message.contains(key), "{key} in {message}");
    }
    let res = app.register(&json!({ "name": "badlog", "command": "true", "log": { "colour": "red" } })).await;
    let message = expect_error(res, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("colour"), "{message}");

    // The benchmark's shape: the file is exactly <log.dir>/<instance>.stdout.log.
    let dir = tempfile::tempdir().expect("dir");
    let body = json!({
        "name": "bench", "args": ["/bin/sh", "-c", "echo hello"], "instances": 1,
        "auto_restart": false, "restart_interval": "0s", "log": { "dir": dir.path() }
    });
    assert_eq!(app.register(&body).await.status(), StatusCode::OK);
    app.wait_for_process("bench", "exited", |v| v["state"] == "exited").await;
    assert_eq!(std::fs::read_to_string(dir.path().join("bench.stdout.log")).expect("log"), "hello\n");
}
