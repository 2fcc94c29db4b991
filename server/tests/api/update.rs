//! `POST /update` and `GET /processes/{name}/spec`: a spec replaced in place, wishes kept,
//! config-file processes read-only, bad specs refused with the old one still running.

use crate::helpers::{expect_error, test_config, TestApp, TIMEOUT};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::config::ProcessEntry;
use supervisor::{Origin, ProcessSpec};
use testkit::{pid_alive, sleepers, unique_marker, wait_until};

async fn spec_of(app: &TestApp, name: &str) -> Value {
    let res = app.get(&format!("/processes/{name}/spec")).await;
    assert_eq!(res.status(), StatusCode::OK, "spec of {name}");
    res.json().await.expect("a JSON spec")
}

#[tokio::test]
async fn update_replaces_the_spec_and_keeps_each_wish() {
    let app = TestApp::spawn().await;
    let (old, new) = (app.marker(), app.marker());
    let res = app.register(&json!({ "name": "w", "command": format!("sleep {old}"), "instances": 2 })).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.wait_running("w-1").await;
    assert_eq!(app.stop("name=w-2").await.status(), StatusCode::OK);

    // Durations as integer nanoseconds (upstream) or strings; three instances now.
    let spec = json!({ "name": "w", "command": format!("sleep {new}"), "instances": 3, "stop_timeout": 2_000_000_000u64, "restart_interval": "250ms" });
    let res = app.post("/update", Some(&spec)).await;
    let text = res.text().await.expect("body");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
    // The answer names what changed: w-1 restarted with the new command, w-3 added;
    // w-2 stays stopped, as wished.
    assert_eq!(body, json!({ "ok": true, "names": ["w-1", "w-3"] }), "{text}");

    wait_until("the old processes to go", TIMEOUT, || sleepers(&old).is_empty()).await;
    app.wait_running("w-1").await;
    app.wait_running("w-3").await;
    let w2 = app.process("w-2").await;
    assert_eq!((w2["state"].as_str(), w2["desired"].as_str()), (Some("stopped"), Some("stopped")), "the wish is kept");
    assert_eq!(sleepers(&new).len(), 2, "w-1 and the new w-3 run the new command");

    let got = spec_of(&app, "w").await;
    assert_eq!(got["command"], format!("sleep {new}"));
    assert_eq!(got["instances"], 3);
    assert_eq!(got["stop_timeout"], "2s", "durations come back as strings");
    assert_eq!(got["restart_interval"], "250ms");
    assert_eq!(spec_of(&app, "w-2").await, got, "an instance name gives its spec");

    // Durable: a restarted daemon runs the new spec.
    let app = app.restart().await;
    app.wait_running("w-3").await;
    assert_eq!(spec_of(&app, "w").await["command"], format!("sleep {new}"));
    assert_eq!(app.process("w-2").await["desired"], "stopped");
    assert!(sleepers(&old).is_empty());
}

#[tokio::test]
async fn update_refuses_bad_specs_and_keeps_the_old_one_running() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    app.register_sleep("svc", &marker).await;
    let pid = app.wait_running("svc").await;

    let cases: Vec<(Value, &str)> = vec![
        (json!({ "name": "svc" }), "command"),
        (json!({ "name": "svc", "command": "true", "work_dir": "/no/such/dir" }), "work_dir"),
        (json!({ "name": "svc", "command": "true", "work_dir": "relative" }), "absolute"),
        (json!({ "name": "svc", "command": "true", "colour": "red" }), "colour"),
        (json!({ "name": "svc", "command": "true", "stop_timeout": "soon" }), "duration"),
    ];
    for (spec, needle) in cases {
        let msg = expect_error(app.post("/update", Some(&spec)).await, StatusCode::BAD_REQUEST).await;
        assert!(msg.contains(needle), "{spec}: {msg}");
        assert!(pid_alive(pid), "{spec}: the old process still runs");
    }

    // A spec whose program cannot be executed: refused before anything is touched.
    let dir = tempfile::tempdir().expect("temp dir");
    let not_executable = dir.path().join("not-executable");
    std::fs::write(&not_executable, "#!/bin/sh\n").expect("write");
    let spec = json!({ "name": "svc", "args": [not_executable] });
    let msg = expect_error(app.post("/update", Some(&spec)).await, StatusCode::BAD_REQUEST).await;
    assert!(msg.contains("not-executable") && msg.contains("not executable"), "{msg}");
    assert_eq!(app.wait_running("svc").await, pid, "the old process was not touched");
    assert_eq!(sleepers(&marker), vec![pid]);
    assert_eq!(spec_of(&app, "svc").await["command"], format!("sleep {marker}"));

    let msg = expect_error(
        app.post("/update", Some(&json!({ "name": "ghost", "command": "true" }))).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(msg.contains("ghost"), "{msg}");
    expect_error(app.get("/processes/ghost/spec").await, StatusCode::NOT_FOUND).await;
    expect_error(app.get("/processes/a%20b/spec").await, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn config_file_processes_are_read_only_but_can_be_started_and_stopped() {
    let marker = unique_marker();
    let mut config = test_config();
    config.processes.push(ProcessEntry {
        spec: ProcessSpec::new("pinned", format!("sleep {marker}")),
        origin: Origin::Config,
        file: "/etc/provisr/config.toml".into(),
    });
    let app = TestApp::spawn_with(config).await;
    app.track(&marker);
    let pid = app.wait_running("pinned").await;

    let msg = expect_error(
        app.post("/update", Some(&json!({ "name": "pinned", "command": "sleep 1" }))).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(msg.contains("config"), "{msg}");
    assert!(pid_alive(pid));
    assert_eq!(spec_of(&app, "pinned").await["command"], format!("sleep {marker}"));

    assert_eq!(app.stop("name=pinned").await.status(), StatusCode::OK);
    assert!(!pid_alive(pid));
    assert_eq!(app.start("name=pinned").await.status(), StatusCode::OK);
    app.wait_running("pinned").await;
}
