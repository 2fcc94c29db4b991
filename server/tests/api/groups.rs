//! `[[groups]]` through the API: state (running / degraded / stopped) from the real
//! processes, start in priority order, stop in the reverse order.

use crate::helpers::{expect_error, test_config, TestApp, TIMEOUT};
use reqwest::StatusCode;
use serde_json::Value;
use server::config::{GroupConfig, ProcessEntry};
use supervisor::{Origin, ProcessSpec};
use testkit::{sleepers, unique_marker, wait_until};

/// `db` (priority 1, two instances) and `web` (priority 10) in the group `stack`, and
/// `solo` outside it; all from the config file.
fn stack_config(db: &str, web: &str, solo: &str) -> server::config::Config {
    let mut config = test_config();
    let mut db_spec = ProcessSpec::new("db", format!("sleep {db}"));
    db_spec.priority = 1;
    db_spec.instances = 2;
    let mut web_spec = ProcessSpec::new("web", format!("sleep {web}"));
    web_spec.priority = 10;
    // Config order differs from priority order on purpose.
    for spec in [web_spec, db_spec, ProcessSpec::new("solo", format!("sleep {solo}"))] {
        config.processes.push(ProcessEntry { spec, origin: Origin::Config, file: "/etc/provisr/config.toml".into() });
    }
    config.groups.push(GroupConfig { name: "stack".into(), members: vec!["web".into(), "db".into()] });
    config
}

async fn json(res: reqwest::Response) -> Value {
    let status = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).expect("JSON")
}

/// The names of the history rows of `kind`, oldest first.
async fn history_order(app: &TestApp, kind: &str) -> Vec<String> {
    let page = json(app.get("/history?limit=1000").await).await;
    let mut names: Vec<String> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["name"].as_str().expect("name").to_string())
        .collect();
    names.reverse();
    names
}

#[tokio::test]
async fn group_status_start_and_stop_follow_the_processes() {
    let (db, web, solo) = (unique_marker(), unique_marker(), unique_marker());
    let app = TestApp::spawn_with(stack_config(&db, &web, &solo)).await;
    for m in [&db, &web, &solo] {
        app.track(m);
    }
    for name in ["db-1", "db-2", "web", "solo"] {
        app.wait_running(name).await;
    }

    let groups = json(app.get("/groups").await).await;
    assert_eq!(groups.as_array().map(Vec::len), Some(1), "{groups}");
    let g = &groups[0];
    assert_eq!((g["name"].as_str(), g["state"].as_str()), (Some("stack"), Some("running")), "{g}");
    let members: Vec<&str> =
        g["members"].as_array().expect("members").iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(members, ["web", "db"], "config order");
    assert_eq!(g["members"][1]["instances"].as_array().map(Vec::len), Some(2));
    assert_eq!(g["members"][1]["instances"][0]["name"], "db-1");

    // One instance down: degraded, and so is its member.
    assert_eq!(app.stop("name=db-2").await.status(), StatusCode::OK);
    let g = json(app.get("/group/status?name=stack").await).await;
    assert_eq!(g["state"], "degraded", "{g}");
    assert_eq!(
        (g["members"][0]["state"].as_str(), g["members"][1]["state"].as_str()),
        (Some("running"), Some("degraded"))
    );

    // Stop: every member stopped (in reverse priority order), the others untouched.
    let body = json(app.post("/group/stop?name=stack", None).await).await;
    assert_eq!(body["stopped"], true, "{body}");
    assert!(sleepers(&db).is_empty() && sleepers(&web).is_empty(), "the group's processes are gone");
    assert_eq!(sleepers(&solo).len(), 1, "a process outside the group keeps running");
    assert_eq!(json(app.get("/group/status?name=stack").await).await["state"], "stopped");
    let stopping = history_order(&app, "stopping").await;
    let pos = |n: &str| stopping.iter().rposition(|s| s == n).unwrap_or_else(|| panic!("{n} in {stopping:?}"));
    assert!(pos("web") < pos("db-1"), "web (priority 10) stops before db (priority 1): {stopping:?}");

    // Start: db (priority 1) first, then web.
    let body = json(app.post("/group/start?name=stack", None).await).await;
    assert_eq!(body["names"].as_array().map(Vec::len), Some(3), "{body}");
    wait_until("the group to run", TIMEOUT, || sleepers(&db).len() == 2 && sleepers(&web).len() == 1).await;
    let started = history_order(&app, "started").await;
    let last = |n: &str| started.iter().rposition(|s| s == n).unwrap_or_else(|| panic!("{n} in {started:?}"));
    assert!(last("db-1") < last("web") && last("db-2") < last("web"), "db starts before web: {started:?}");
    for name in ["db-1", "db-2", "web"] {
        app.wait_running(name).await;
    }
    assert_eq!(json(app.get("/group/status?name=stack").await).await["state"], "running");
}

#[tokio::test]
async fn group_requests_are_checked() {
    let (db, web, solo) = (unique_marker(), unique_marker(), unique_marker());
    let app = TestApp::spawn_with(stack_config(&db, &web, &solo)).await;
    for m in [&db, &web, &solo] {
        app.track(m);
    }
    expect_error(app.get("/group/status?name=nope").await, StatusCode::NOT_FOUND).await;
    expect_error(app.post("/group/start?name=nope", None).await, StatusCode::NOT_FOUND).await;
    expect_error(app.get("/group/status").await, StatusCode::BAD_REQUEST).await;
    expect_error(app.post("/group/stop?name=a%20b", None).await, StatusCode::BAD_REQUEST).await;
    expect_error(app.post("/group/stop?name=stack&wait=soon", None).await, StatusCode::BAD_REQUEST).await;
    expect_error(app.get("/group/start?name=stack").await, StatusCode::METHOD_NOT_ALLOWED).await;
}
