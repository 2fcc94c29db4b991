//! The live WebSocket: snapshot first, then ordered events; credentials required.

use crate::helpers::{next_json, TestApp, ADMIN, PASSWORD};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use supervisor::{ProcessSpec, RegisterOptions, Selector, Supervisor, SupervisorConfig};
use tokio_tungstenite::tungstenite;

/// The `provisr_session=…` pair set by a successful console sign-in.
async fn console_session(app: &TestApp) -> String {
    let res = app.console_login(ADMIN, PASSWORD).await;
    crate::helpers::session_cookie(res.headers(), "provisr_session").expect("a session cookie").0
}

#[tokio::test]
async fn snapshot_then_ordered_events() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    app.register_sleep("live", &marker).await;
    let pid = app.wait_running("live").await;

    let mut ws = app.ws(&[("authorization", &app.bearer())]).await.expect("the socket opens with a bearer token");
    let snapshot = next_json(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(snapshot["type"], "snapshot");
    let seq = snapshot["seq"].as_u64().expect("seq");
    assert!(seq >= 3, "registered, instance_added, started happened before: {snapshot}");
    let processes = snapshot["processes"].as_array().expect("processes");
    assert_eq!(processes.len(), 1);
    assert_eq!(processes[0]["name"], "live");
    assert_eq!(processes[0]["state"], "running");
    assert_eq!(processes[0]["pid"], pid);

    let stop = {
        let (http, url, token) = (app.http.clone(), app.api("/stop?name=live"), app.token.clone());
        tokio::spawn(async move { http.post(url).bearer_auth(token).send().await.map(|r| r.status()) })
    };
    // Every event of the stop arrives within a second of the request, in order.
    let mut events = Vec::new();
    while events.last().is_none_or(|e: &Value| e["kind"] != "exited") {
        let e = next_json(&mut ws, Duration::from_secs(1)).await;
        assert_eq!(e["type"], "event", "{e}");
        events.push(e);
    }
    assert_eq!(stop.await.expect("stop task").expect("POST /stop"), StatusCode::OK);

    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    let expected: Vec<u64> = (seq + 1..=seq + events.len() as u64).collect();
    assert_eq!(seqs, expected, "events follow the snapshot's seq, one by one");
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().expect("kind")).collect();
    assert_eq!(kinds, ["desired_changed", "stopping", "exited"]);
    assert!(events.iter().all(|e| e["name"] == "live"));

    assert_eq!(events[0]["detail"]["desired"], "stopped");
    assert_eq!(events[0]["process"]["desired"], "stopped");
    assert_eq!(events[1]["process"]["state"], "stopping");
    assert_eq!(events[1]["detail"]["pid"], pid);
    assert_eq!(events[1]["detail"]["signal"], "SIGTERM");
    let exited = &events[2];
    assert_eq!(exited["process"]["state"], "stopped");
    assert_eq!(exited["process"]["pid"], Value::Null);
    assert_eq!(exited["detail"]["pid"], pid);
    assert_eq!(exited["detail"]["requested"], true);
    assert_eq!(exited["detail"]["signal"], 15);
    assert!(exited["at"].is_string());
}

#[tokio::test]
async fn refused_without_credentials() {
    let app = TestApp::spawn().await;
    for headers in [vec![], vec![("authorization", "Bearer garbage")], vec![("cookie", "provisr_session=forged")]] {
        match app.ws(&headers).await {
            Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 401, "{headers:?}"),
            Err(e) => panic!("{headers:?}: expected a 401, got {e}"),
            Ok(_) => panic!("{headers:?}: the socket opened without credentials"),
        }
    }
}

#[tokio::test]
async fn basic_and_session_cookie_are_accepted() {
    let app = TestApp::spawn().await;
    use base64::Engine;
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{ADMIN}:{PASSWORD}")));
    let mut ws = app.ws(&[("authorization", &basic)]).await.expect("Basic opens the socket");
    assert_eq!(next_json(&mut ws, Duration::from_secs(5)).await["type"], "snapshot");

    let cookie = console_session(&app).await;
    let mut ws = app.ws(&[("cookie", &cookie)]).await.expect("the console session opens the socket");
    let snapshot = next_json(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["processes"], serde_json::json!([]));

    // And it is live: a registration shows up as events.
    app.register_sleep("seen", &app.marker()).await;
    let first = next_json(&mut ws, Duration::from_secs(1)).await;
    assert_eq!((first["type"].as_str(), first["kind"].as_str()), (Some("event"), Some("registered")));
    assert_eq!(first["seq"].as_u64(), snapshot["seq"].as_u64().map(|s| s + 1));
}

/// `ws::forward` without a socket: a channel as the sink.
#[tokio::test]
async fn forward_sends_snapshot_then_events_to_any_sink() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sup, task) = Supervisor::start(SupervisorConfig::new(dir.path()));
    let mut spec = ProcessSpec::new("quick", "true");
    spec.instances = 2;
    sup.register(spec, RegisterOptions::api()).await.expect("register");

    let (tx, mut rx) = futures::channel::mpsc::channel::<String>(64);
    let forwarding = tokio::spawn({
        let sup = sup.clone();
        async move { server::ws::forward(tx, &sup, None).await }
    });
    let snapshot = recv(&mut rx).await;
    assert_eq!(snapshot["type"], "snapshot");
    let mut seq = snapshot["seq"].as_u64().expect("seq");
    assert_eq!(snapshot["processes"].as_array().map(Vec::len), Some(2));

    // Whatever happened after the snapshot follows it without a gap.
    let ticket = sup.unregister(Selector::Base("quick".into())).await.expect("unregister");
    ticket.wait().await;
    loop {
        let e = recv(&mut rx).await;
        assert_eq!(e["type"], "event");
        assert_eq!(e["seq"].as_u64(), Some(seq + 1), "{e}");
        seq += 1;
        if e["kind"] == "unregistered" {
            assert_eq!(e["process"], Value::Null);
            break;
        }
    }

    // A closed sink ends forwarding with an error instead of hanging.
    drop(rx);
    sup.register(ProcessSpec::new("again", "true"), RegisterOptions::api()).await.expect("register");
    let res = tokio::time::timeout(Duration::from_secs(5), forwarding).await.expect("forward ends").expect("task");
    assert!(res.is_err(), "forward reports the closed sink");
    sup.shutdown().await;
    task.await.expect("supervisor task");
}

async fn recv(rx: &mut futures::channel::mpsc::Receiver<String>) -> Value {
    let text = tokio::time::timeout(Duration::from_secs(5), rx.next()).await.expect("a message in time").expect("open");
    serde_json::from_str(&text).expect("JSON")
}

/// A client too slow for the broadcast buffer gets a fresh snapshot and stays connected.
#[tokio::test]
async fn a_lagging_client_gets_a_fresh_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = SupervisorConfig::new(dir.path());
    config.event_capacity = 4;
    let (sup, task) = Supervisor::start(config);
    // One slot: forwarding blocks as soon as the client stops reading.
    let (tx, mut rx) = futures::channel::mpsc::channel::<String>(0);
    let forwarding = tokio::spawn({
        let sup = sup.clone();
        async move { server::ws::forward(tx, &sup, None).await }
    });
    let first = recv(&mut rx).await;
    assert_eq!(first["type"], "snapshot");
    let mut seq = first["seq"].as_u64().expect("seq");

    // Far more events than the buffer holds, while the client reads nothing.
    let mut spec = ProcessSpec::new("many", "true");
    spec.instances = 8;
    sup.register(spec, RegisterOptions::api()).await.expect("register");
    testkit::wait_until_async("all eight to exit", crate::helpers::TIMEOUT, || async {
        let list = sup.status(Selector::Base("many".into())).await.expect("status");
        list.len() == 8 && list.iter().all(|p| p.state.name() == "exited")
    })
    .await;

    // What the client reads: events in order, and, where it fell behind, a snapshot that
    // covers the missed events; in the end a snapshot of the final state.
    let mut resyncs = 0;
    let resync = loop {
        let msg = recv(&mut rx).await;
        let msg_seq = msg["seq"].as_u64().expect("seq");
        match msg["type"].as_str() {
            Some("event") => assert_eq!(msg_seq, seq + 1, "events are in order: {msg}"),
            Some("snapshot") => {
                assert!(msg_seq > seq + 1, "a resync snapshot follows missed events ({seq} → {msg_seq})");
                resyncs += 1;
            }
            other => panic!("unexpected message type {other:?}"),
        }
        seq = msg_seq;
        let done = msg["type"] == "snapshot"
            && msg["processes"].as_array().is_some_and(|p| p.len() == 8 && p.iter().all(|p| p["state"] == "exited"));
        if done {
            break msg;
        }
    };
    assert!(resyncs >= 1);
    let resync_seq = seq;
    assert!(resync["processes"].as_array().is_some_and(|p| p.iter().all(|p| p["exit_code"] == 0)), "{resync}");
    assert!(!forwarding.is_finished(), "the client was not dropped");

    // And it goes on from the new snapshot.
    sup.unregister(Selector::Name("many-1".into())).await.expect("unregister").wait().await;
    let next = recv(&mut rx).await;
    assert_eq!((next["type"].as_str(), next["seq"].as_u64()), (Some("event"), Some(resync_seq + 1)));
    assert_eq!(next["name"], "many-1");

    drop(rx);
    sup.shutdown().await;
    task.await.expect("supervisor task");
    let _ = tokio::time::timeout(Duration::from_secs(5), forwarding).await.expect("forward ends");
}

#[tokio::test]
async fn shutdown_closes_open_sockets() {
    let mut app = TestApp::spawn().await;
    app.register_sleep("held", &app.marker()).await;
    let pid = app.wait_running("held").await;
    let mut ws = app.ws(&[("authorization", &app.bearer())]).await.expect("open");
    assert_eq!(next_json(&mut ws, Duration::from_secs(5)).await["type"], "snapshot");

    tokio::time::timeout(Duration::from_secs(15), app.shutdown())
        .await
        .expect("an open socket does not hold up the shutdown");
    assert!(!testkit::pid_alive(pid), "the shutdown stopped the process");
    // The socket ends (close frame, end of stream or error), it does not hang.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(tungstenite::Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the socket was closed by the shutdown");
}

/// The snapshot lists the live jobs and cronjobs too; job and cron events follow it.
#[tokio::test]
async fn the_snapshot_includes_jobs_and_cronjobs_and_their_events_follow() {
    use crate::jobs::{create_job, phase, post, wait_job};
    use serde_json::json;
    let app = TestApp::spawn().await;
    create_job(&app, json!({ "name": "before", "command": "true" })).await;
    wait_job(&app, "before", "succeeded", |v| phase(v) == "Succeeded").await;
    let cron = json!({ "name": "later", "schedule": "0 0 1 1 *", "job_template": { "command": "true" } });
    assert_eq!(post(&app, "/cronjobs", Some(cron)).await.status(), StatusCode::CREATED);

    let mut ws = app.ws(&[("authorization", &app.bearer())]).await.expect("the socket opens");
    let snapshot = next_json(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["jobs"][0]["name"], "before", "{snapshot}");
    assert_eq!(snapshot["jobs"][0]["phase"], "Succeeded");
    assert_eq!(snapshot["cronjobs"][0]["name"], "later");
    let mut seq = snapshot["seq"].as_u64().expect("seq");

    // A trigger: the cron's firing and the new job's changes arrive in order, each with
    // the full status after it.
    assert_eq!(post(&app, "/cronjobs/later/trigger", None).await.status(), StatusCode::OK);
    let mut kinds = Vec::new();
    loop {
        let e = next_json(&mut ws, Duration::from_secs(5)).await;
        assert_eq!(e["type"], "event", "{e}");
        let s = e["seq"].as_u64().expect("seq");
        assert!(s > seq, "events after the snapshot, in order: {e}");
        seq = s;
        let change = e["detail"]["change"]["type"].as_str().unwrap_or_default().to_string();
        kinds.push(format!("{}:{change}", e["kind"].as_str().unwrap_or_default()));
        if e["kind"] == "job" && change == "finished" {
            assert_eq!(e["detail"]["job"]["phase"], "Succeeded", "{e}");
            break;
        }
    }
    for want in ["job:created", "cron:fired", "job:attempt_started", "job:attempt_ended", "job:finished"] {
        assert!(kinds.iter().any(|k| k == want), "{want} in {kinds:?}");
    }
}
