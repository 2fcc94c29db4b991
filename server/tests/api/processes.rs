//! Process lifecycle through the API: register, stop, start, restart, unregister, status
//! selectors — checked against the real processes in `/proc`.

use crate::helpers::{expect_error, test_config, TestApp, TIMEOUT};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::config::ProcessEntry;
use supervisor::{Origin, ProcessSpec};
use testkit::{pid_alive, sleepers, unique_marker, wait_until};

#[tokio::test]
async fn register_starts_a_live_process() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    let res = app.register(&json!({ "name": "sleeper", "command": format!("sleep {marker}") })).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(body, json!({ "ok": true, "names": ["sleeper"] }));

    let pid = app.wait_running("sleeper").await;
    assert!(pid_alive(pid), "/proc/{pid} exists");
    assert_eq!(sleepers(&marker), vec![pid], "exactly one process, the reported one");

    let st = app.process("sleeper").await;
    assert_eq!(st["name"], "sleeper");
    assert_eq!(st["base"], "sleeper");
    assert_eq!(st["running"], true);
    assert_eq!(st["desired"], "running");
    assert_eq!(st["origin"], "api");
    assert_eq!(st["provisioned"], false);
    assert_eq!(st["restarts"], 0);
    assert!(st["started_at"].is_string(), "{st}");
    for key in ["stopped_at", "exit_code", "exit_signal", "reason", "retry_at"] {
        assert!(st.get(key).is_some(), "the status object has {key}: {st}");
    }
}

#[tokio::test]
async fn stop_then_start_again_gives_a_new_process() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    app.register_sleep("svc", &marker).await;
    let first = app.wait_running("svc").await;

    let res = app.stop("name=svc").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(body["ok"], true);
    assert_eq!(body["stopped"], true, "stop answers once the process has stopped");
    assert!(!pid_alive(first), "pid {first} is gone once stop has answered");
    let st = app.process("svc").await;
    assert_eq!(st["state"], "stopped");
    assert_eq!(st["running"], false);
    assert_eq!(st["pid"], Value::Null);
    assert_eq!(st["desired"], "stopped");
    assert!(sleepers(&marker).is_empty());

    let res = app.start("name=svc").await;
    assert_eq!(res.status(), StatusCode::OK);
    let second = app.wait_running("svc").await;
    assert_ne!(second, first, "a new process");
    assert!(pid_alive(second));
    assert_eq!(sleepers(&marker), vec![second]);
    assert_eq!(app.process("svc").await["desired"], "running");
}

#[tokio::test]
async fn restart_replaces_the_process() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    app.register_sleep("svc", &marker).await;
    let before = app.wait_running("svc").await;

    let res = app.restart_process("name=svc").await;
    assert_eq!(res.status(), StatusCode::OK);
    let after = app.wait_running("svc").await;
    assert_ne!(after, before);
    assert!(!pid_alive(before), "the old process is gone");
    assert!(pid_alive(after));
    assert_eq!(sleepers(&marker), vec![after], "one process after a restart");

    expect_error(app.restart_process("name=nope").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn status_selectors() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    let res = app.register(&json!({ "name": "web", "command": format!("sleep {marker}"), "instances": 3 })).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.expect("JSON")["names"], json!(["web-1", "web-2", "web-3"]));
    app.register_sleep("worker", &marker).await;
    for name in ["web-1", "web-2", "web-3", "worker"] {
        app.wait_running(name).await;
    }
    wait_until("four sleepers", TIMEOUT, || sleepers(&marker).len() == 4).await;

    let names = |v: &Value| -> Vec<String> {
        v.as_array().expect("an array").iter().map(|p| p["name"].as_str().expect("name").to_string()).collect()
    };
    let one = app.process("web-2").await;
    assert!(one.is_object());
    assert_eq!((one["name"].as_str(), one["base"].as_str()), (Some("web-2"), Some("web")));

    let base: Value = app.status("base=web").await.json().await.expect("JSON");
    assert_eq!(names(&base), ["web-1", "web-2", "web-3"], "base: the spec's instances, sorted");
    assert!(base.as_array().expect("array").iter().all(|p| p["state"] == "running" && p["pid"].is_u64()));
    let all: Value = app.status("wildcard=*").await.json().await.expect("JSON");
    assert_eq!(names(&all), ["web-1", "web-2", "web-3", "worker"]);
    let some: Value = app.status("wildcard=w*-?").await.json().await.expect("JSON");
    assert_eq!(names(&some), ["web-1", "web-2", "web-3"]);
    let none: Value = app.status("wildcard=zzz*").await.json().await.expect("JSON");
    assert_eq!(none, json!([]));

    expect_error(app.status("name=web-1&base=web").await, StatusCode::BAD_REQUEST).await;
    expect_error(app.status("base=web&wildcard=*").await, StatusCode::BAD_REQUEST).await;
    expect_error(app.status("name=web").await, StatusCode::NOT_FOUND).await;
    expect_error(app.status("name=nope").await, StatusCode::NOT_FOUND).await;
    expect_error(app.status("name=bad/name").await, StatusCode::BAD_REQUEST).await;

    // Selectors act on what they select: stop one base, the others keep running.
    let res = app.stop("base=web").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.expect("JSON")["names"], json!(["web-1", "web-2", "web-3"]));
    let base: Value = app.status("base=web").await.json().await.expect("JSON");
    assert!(base.as_array().expect("array").iter().all(|p| p["state"] == "stopped"), "{base}");
    assert_eq!(app.process("worker").await["state"], "running");
    assert_eq!(sleepers(&marker).len(), 1);
}

#[tokio::test]
async fn unregister_stops_and_forgets() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    app.register_sleep("gone", &marker).await;
    let pid = app.wait_running("gone").await;

    let res = app.unregister("name=gone").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(body["removed"], true);
    assert!(!pid_alive(pid), "unregister stopped the process");
    assert!(sleepers(&marker).is_empty());
    expect_error(app.status("name=gone").await, StatusCode::NOT_FOUND).await;
    expect_error(app.unregister("name=gone").await, StatusCode::NOT_FOUND).await;
    expect_error(app.stop("name=gone").await, StatusCode::NOT_FOUND).await;
    expect_error(app.start("name=gone").await, StatusCode::NOT_FOUND).await;
    expect_error(app.unregister("").await, StatusCode::BAD_REQUEST).await;

    // The name is free again.
    app.register_sleep("gone", &marker).await;
    app.wait_running("gone").await;
}

#[tokio::test]
async fn config_file_processes_cannot_be_unregistered() {
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
    let st = app.process("pinned").await;
    assert_eq!((st["origin"].as_str(), st["provisioned"].as_bool()), (Some("config"), Some(true)));

    let message = expect_error(app.unregister("name=pinned").await, StatusCode::CONFLICT).await;
    assert!(message.contains("config"), "{message}");
    assert!(pid_alive(pid), "a refused unregister leaves the process alone");
    assert_eq!(app.process("pinned").await["pid"], pid);
}

#[tokio::test]
async fn duplicate_register_conflicts() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    app.register_sleep("dup", &marker).await;
    let pid = app.wait_running("dup").await;

    let message = expect_error(
        app.register(&json!({ "name": "dup", "command": format!("sleep {marker}") })).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("dup"), "{message}");
    assert_eq!(app.process("dup").await["pid"], pid, "the first registration is untouched");
    assert_eq!(sleepers(&marker), vec![pid], "no second process");
}

#[tokio::test]
async fn stop_escalates_to_sigkill_after_the_stop_timeout() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    // The shell and its child ignore SIGTERM (an ignored signal stays ignored across exec).
    let spec = json!({
        "name": "stubborn",
        "command": format!("trap '' TERM; sleep {marker}"),
        "stop_timeout": "300ms",
    });
    assert_eq!(app.register(&spec).await.status(), StatusCode::OK);
    let pid = app.wait_running("stubborn").await;
    wait_until("the stubborn sleep", TIMEOUT, || sleepers(&marker).len() == 1).await;

    let res = app.stop("name=stubborn&wait=50ms").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(body["stopped"], false, "SIGTERM is ignored: not stopped within 50 ms");
    assert!(pid_alive(pid));

    let st = app.wait_for_process("stubborn", "stopped", |v| v["state"] == "stopped").await;
    assert_eq!(st["exit_signal"], 9, "ended by SIGKILL: {st}");
    assert!(!pid_alive(pid));
    wait_until("the whole group killed", TIMEOUT, || sleepers(&marker).is_empty()).await;
}

#[tokio::test]
async fn instance_names_share_the_namespace_of_specs() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    let res = app.register(&json!({ "name": "api", "command": format!("sleep {marker}"), "instances": 2 })).await;
    assert_eq!(res.status(), StatusCode::OK);
    let message = expect_error(
        app.register(&json!({ "name": "api-2", "command": format!("sleep {marker}") })).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("api-2"), "{message}");
    let base: Value = app.status("base=api").await.json().await.expect("JSON");
    assert_eq!(base.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn env_work_dir_and_output_reach_the_process() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    let dir = tempfile::tempdir().expect("work dir");
    let script = format!("echo \"$GREETING from $(pwd)\"; echo oops >&2; exec sleep {marker}");
    let spec =
        json!({ "name": "env", "args": ["sh", "-c", script], "env": ["GREETING=hello"], "work_dir": dir.path() });
    assert_eq!(app.register(&spec).await.status(), StatusCode::OK);
    app.wait_running("env").await;

    let logs = app.data_dir.join("logs");
    let expected = format!("hello from {}\n", dir.path().display());
    let read = |file: &str| std::fs::read_to_string(logs.join(file)).unwrap_or_default();
    wait_until("the output in the log", TIMEOUT, || read("env.stdout.log") == expected).await;
    assert_eq!(read("env.stderr.log"), "oops\n", "stderr has a log of its own");
}

#[tokio::test]
async fn start_with_a_spec_body_registers_it_like_upstream() {
    let app = TestApp::spawn().await;
    let spec = json!({ "name": "compat", "command": format!("sleep {}", app.marker()) });
    let start = || app.http.post(app.api("/start")).bearer_auth(&app.token).json(&spec).send();
    let res = start().await.expect("POST /start");
    assert_eq!(res.status(), StatusCode::OK);
    let pid = app.wait_running("compat").await;
    assert_eq!(app.process("compat").await["origin"], "api");

    let res = start().await.expect("POST /start again");
    assert_eq!(res.status(), StatusCode::OK, "starting a running process is fine");
    assert_eq!(app.process("compat").await["pid"], pid, "and does not replace it");
}

#[tokio::test]
async fn a_process_that_cannot_start_again_is_fatal_with_a_reason() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("work dir");
    let spec = json!({ "name": "homeless", "command": format!("sleep {}", app.marker()), "work_dir": dir.path() });
    assert_eq!(app.register(&spec).await.status(), StatusCode::OK);
    app.wait_running("homeless").await;
    assert_eq!(app.stop("name=homeless").await.status(), StatusCode::OK);

    drop(dir); // the work_dir disappears
    let message = expect_error(app.start("name=homeless").await, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("homeless"), "{message}");
    let st = app.process("homeless").await;
    assert_eq!(st["state"], "fatal", "{st}");
    assert!(st["reason"].as_str().is_some_and(|r| r.contains("work_dir")), "the reason is shown: {st}");
    assert_eq!(st["pid"], Value::Null);
}
