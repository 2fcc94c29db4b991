//! Invalid requests: every one is refused with the right status and a JSON `{"error"}`,
//! and leaves nothing registered.

use crate::helpers::{expect_error, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn invalid_specs_are_400_and_register_nothing() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("unknown field", json!({ "name": "bad", "command": "sleep 5", "colour": "red" }), "colour"),
        ("bad duration", json!({ "name": "bad", "command": "sleep 5", "stop_timeout": "soon" }), "stop_timeout"),
        ("relative work_dir", json!({ "name": "bad", "command": "sleep 5", "work_dir": "relative/dir" }), "work_dir"),
        ("missing command", json!({ "name": "bad" }), "command"),
        (
            "missing program",
            json!({ "name": "bad", "command": "/nonexistent/provisr-test-program --flag" }),
            "nonexistent",
        ),
        ("invalid name", json!({ "name": "bad/name", "command": "sleep 5" }), "name"),
        ("zero instances", json!({ "name": "bad", "command": "sleep 5", "instances": 0 }), "instances"),
        ("command and args", json!({ "name": "bad", "command": "sleep 5", "args": ["sleep", "5"] }), "args"),
        ("env entry without =", json!({ "name": "bad", "command": "sleep 5", "env": ["NOPE"] }), "NOPE"),
    ];
    for (case, spec, mentions) in cases {
        let message = expect_error(app.register(&spec).await, StatusCode::BAD_REQUEST).await;
        assert!(message.contains(mentions), "{case}: the message names {mentions:?}: {message}");
    }
    let everything: Value = app.status("wildcard=*").await.json().await.expect("JSON");
    assert_eq!(everything, json!([]), "nothing stays registered");
    expect_error(app.status("name=bad").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn accepted_spelling_variants() {
    // Durations as strings and as integer nanoseconds; env as a map and as a list.
    let app = TestApp::spawn().await;
    for (name, spec) in [
        ("ns", json!({ "name": "ns", "command": "sleep 30", "stop_timeout": 2_000_000_000u64, "env": { "A": "1" } })),
        ("str", json!({ "name": "str", "command": "sleep 30", "stop_timeout": "2s", "env": ["A=1"] })),
        ("argv", json!({ "name": "argv", "args": ["sleep", "30"], "work_dir": "/" })),
    ] {
        let res = app.register(&spec).await;
        let status = res.status();
        assert_eq!(status, StatusCode::OK, "{name}: {}", res.text().await.unwrap_or_default());
        app.wait_running(name).await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused() {
    let app = TestApp::spawn().await;
    let spec = r#"{"name":"x","command":"sleep 5"}"#;
    let res = app
        .http
        .post(app.api("/register"))
        .bearer_auth(&app.token)
        .header(reqwest::header::CONTENT_TYPE, "text/plain")
        .body(spec)
        .send()
        .await
        .expect("POST");
    expect_error(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let res = app.http.post(app.api("/register")).bearer_auth(&app.token).body(spec).send().await.expect("POST");
    expect_error(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    let res = app
        .http
        .post(app.api("/register"))
        .bearer_auth(&app.token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(r#"{"name": "x", "command": "#)
        .send()
        .await
        .expect("POST");
    expect_error(res, StatusCode::BAD_REQUEST).await;
    expect_error(app.status("name=x").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn invalid_query_values_are_400() {
    let app = TestApp::spawn().await;
    app.register_sleep("q", &app.marker()).await;
    expect_error(app.stop("name=q&wait=soon").await, StatusCode::BAD_REQUEST).await;
    expect_error(app.stop("").await, StatusCode::BAD_REQUEST).await;
    expect_error(app.start("wildcard=a%2Fb").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.process("q").await["state"], "running", "refused requests changed nothing");
}

#[tokio::test]
async fn a_spec_that_cannot_start_is_rolled_back_for_good() {
    // The program exists, so the spec is valid, but it is not executable: the spawn fails.
    let app = TestApp::spawn().await;
    let message = expect_error(
        app.register(&json!({ "name": "noexec", "command": "/etc/hostname" })).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("noexec"), "the message names the instance: {message}");
    expect_error(app.status("name=noexec").await, StatusCode::NOT_FOUND).await;

    // Not even in the store: a restart does not bring it back, and the name is free.
    let app = app.restart().await;
    expect_error(app.status("name=noexec").await, StatusCode::NOT_FOUND).await;
    let everything: Value = app.status("wildcard=*").await.json().await.expect("JSON");
    assert_eq!(everything, json!([]));
    app.register_sleep("noexec", &app.marker()).await;
    app.wait_running("noexec").await;
}
