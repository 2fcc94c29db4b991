//! depends_on and priority: start order, waiting for dependencies, cycles, stop order.

use crate::helpers::*;
use std::time::Duration;
use supervisor::{Error, EventKind, ProcessState, RegisterOptions, Selector};

fn stopped() -> RegisterOptions {
    RegisterOptions { start: false, ..RegisterOptions::api() }
}

#[tokio::test]
async fn a_dependent_waits_until_its_dependency_is_running() {
    let mut sup = spawn_supervisor();
    let mut db = sh("db", "sleep 300");
    db.start_duration = Duration::from_millis(300);
    let mut web = sh("web", "sleep 300");
    web.depends_on = vec!["db".into()];
    sup.register(db).await;
    sup.register(web).await;
    let status = sup.status("web").await;
    assert_eq!(status.state, ProcessState::Waiting { on: vec!["db".into()] });
    let started = sup.wait_for_event(|e| e.name == "web" && matches!(e.kind, EventKind::Started { .. })).await;
    let db_running = sup
        .seen
        .iter()
        .find(|e| e.name == "db" && matches!(e.kind, EventKind::Running { .. }))
        .expect("db ran first")
        .seq;
    assert!(db_running < started.seq);
    assert!(sup.seen.iter().any(|e| e.name == "web" && matches!(&e.kind, EventKind::Waiting { on } if on == &["db"])));
    sup.shutdown().await;
}

#[tokio::test]
async fn a_dependent_of_a_stopped_dependency_waits_for_it_to_be_started() {
    let mut sup = spawn_supervisor();
    sup.handle.register(sh("db", "sleep 300"), stopped()).await.expect("db");
    let mut web = sh("web", "sleep 300");
    web.depends_on = vec!["db".into()];
    sup.register(web).await;
    assert_eq!(sup.status("web").await.state, ProcessState::Waiting { on: vec!["db".into()] });
    sup.handle.start(Selector::Name("db".into())).await.expect("start db");
    sup.wait_for_event(|e| e.name == "web" && matches!(e.kind, EventKind::Started { .. })).await;
    // Stopping a waiting instance leaves it stopped.
    let ticket = sup.handle.stop(Selector::All).await.expect("stop");
    within("stop", ticket.wait()).await;
    assert_eq!(sup.status("web").await.state, ProcessState::Stopped);
    sup.shutdown().await;
}

#[tokio::test]
async fn start_and_stop_follow_dependencies_then_priority() {
    let mut sup = spawn_supervisor();
    let mut api = sh("api", "sleep 300");
    api.priority = -10;
    api.depends_on = vec!["db".into()];
    let mut db = sh("db", "sleep 300");
    db.priority = 5;
    let mut cache = sh("cache", "sleep 300");
    cache.priority = 1;
    let worker = sh("worker", "sleep 300");
    for spec in [db, cache, worker, api] {
        sup.handle.register(spec, stopped()).await.expect("register");
    }
    sup.handle.start(Selector::All).await.expect("start");
    let order = |sup: &TestSupervisor, pred: fn(&EventKind) -> bool| -> Vec<String> {
        sup.seen.iter().filter(|e| pred(&e.kind)).map(|e| e.name.clone()).collect()
    };
    sup.wait_for(|s| s.processes.iter().all(|p| p.running())).await;
    sup.wait_for_event(|e| e.name == "api" && matches!(e.kind, EventKind::Started { .. })).await;
    assert_eq!(order(&sup, |k| matches!(k, EventKind::Started { .. })), ["worker", "cache", "db", "api"]);
    let ticket = sup.handle.stop(Selector::All).await.expect("stop");
    within("stop", ticket.wait()).await;
    sup.wait_for(|s| s.processes.iter().all(|p| !p.state.is_alive())).await;
    sup.wait_for_event(|e| e.name == "db" && matches!(e.kind, EventKind::Exited { .. })).await;
    assert_eq!(order(&sup, |k| matches!(k, EventKind::Stopping { .. })), ["api", "cache", "worker", "db"]);
    // db, a dependency, was signalled only after its dependent had exited.
    let seq_of = |name: &str, kind: &str| {
        sup.seen.iter().rev().find(|e| e.name == name && e.kind.name() == kind).expect("event").seq
    };
    assert!(seq_of("api", "exited") < seq_of("db", "stopping"));
    sup.shutdown().await;
}

#[tokio::test]
async fn unknown_dependencies_and_cycles_are_rejected_by_name() {
    let sup = spawn_supervisor();
    let mut web = sh("web", "sleep 300");
    web.depends_on = vec!["db".into()];
    let Err(Error::InvalidSpec(p)) = sup.handle.register(web.clone(), stopped()).await else { panic!("unknown") };
    assert_eq!(p, [("depends_on".to_string(), "\"web\" depends on \"db\", which is not registered".to_string())]);

    sup.handle.register(sh("db", "sleep 300"), stopped()).await.expect("db");
    sup.handle.register(web, stopped()).await.expect("web");
    let mut db = sh("db", "sleep 300");
    db.depends_on = vec!["web".into()];
    let Err(Error::InvalidSpec(p)) = sup.handle.update(db).await else { panic!("cycle") };
    assert_eq!(p, [("depends_on".to_string(), "dependency cycle: db -> web -> db".to_string())]);

    let mut me = sh("me", "sleep 300");
    me.depends_on = vec!["me".into()];
    let Err(Error::InvalidSpec(p)) = sup.handle.register(me, stopped()).await else { panic!("self") };
    assert_eq!(p[0].0, "depends_on");

    // A dependency cannot go while its dependent stays; both together can.
    let err = sup.handle.unregister(Selector::Name("db".into())).await.expect_err("needed by web");
    assert!(err.to_string().contains("\"web\" depends on \"db\""), "{err}");
    within("unregister", sup.handle.unregister(Selector::All).await.expect("all").wait()).await;
    sup.shutdown().await;
}

#[tokio::test]
async fn a_long_chain_and_a_wide_fan_of_dependents_are_released_by_one_start() {
    let mut sup = spawn_supervisor();
    sup.handle.register(sh("root", "sleep 300"), stopped()).await.expect("root");
    // c1 → root, c2 → c1, …, c60 → c59; and f1…f60 → root.
    for i in 1..=60 {
        let mut chain = sh(&format!("c{i}"), "sleep 300");
        chain.depends_on = vec![if i == 1 { "root".to_string() } else { format!("c{}", i - 1) }];
        sup.register(chain).await;
        let mut fan = sh(&format!("f{i}"), "sleep 300");
        fan.depends_on = vec!["root".into()];
        sup.register(fan).await;
    }
    let snap = sup.handle.snapshot().await.expect("snapshot");
    assert_eq!(snap.processes.iter().filter(|p| p.state.name() == "waiting").count(), 120);
    sup.handle.start(Selector::Name("root".into())).await.expect("start root");
    sup.wait_for(|s| s.processes.iter().all(|p| p.running())).await;
    sup.wait_for_event(|e| e.name == "c60" && matches!(e.kind, EventKind::Started { .. })).await;
    let started: Vec<&str> = sup
        .seen
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Started { .. }))
        .map(|e| e.name.as_str())
        .filter(|n| n.starts_with('c'))
        .collect();
    let want: Vec<String> = (1..=60).map(|i| format!("c{i}")).collect();
    assert_eq!(started, want, "each link after the one it depends on");
    sup.shutdown().await;
}

#[tokio::test]
async fn a_dependency_stops_after_its_dependents_and_at_once_when_they_stay() {
    let sup = spawn_supervisor();
    sup.register(sh("db", "sleep 300")).await;
    let mut web = sh("web", "sleep 300");
    web.depends_on = vec!["db".into()];
    sup.register(web).await;
    sup.wait_for(|s| s.processes.iter().all(|p| p.running())).await;
    // Stopping only the dependency: the dependent keeps running, nothing holds the stop.
    let ticket = sup.handle.stop(Selector::Name("db".into())).await.expect("stop db");
    within("stop db", ticket.wait()).await;
    assert!(sup.status("web").await.running());
    sup.handle.start(Selector::Name("db".into())).await.expect("start db");
    // Shutdown: dependents first, each dependency once its dependents have exited.
    sup.wait_for(|s| s.processes.iter().all(|p| p.running())).await;
    let seq = sup.handle.snapshot().await.expect("snapshot").seq;
    let mut rx = sup.handle.subscribe();
    let handle = sup.handle.clone();
    let shutdown = tokio::spawn(async move { handle.shutdown().await });
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let e = within("shutdown events", rx.recv()).await.expect("event");
        if e.seq > seq && matches!(e.kind, EventKind::Stopping { .. } | EventKind::Exited { .. }) {
            seen.push(format!("{} {}", e.name, e.kind.name()));
        }
    }
    assert_eq!(seen, ["web stopping", "web exited", "db stopping", "db exited"]);
    within("shutdown", shutdown).await.expect("shutdown task");
    sup.shutdown().await;
}

#[tokio::test]
async fn dropping_a_dependency_by_update_releases_a_waiting_start() {
    let mut sup = spawn_supervisor();
    sup.handle.register(sh("db", "sleep 300"), stopped()).await.expect("db");
    let mut web = sh("web", "sleep 300");
    web.depends_on = vec!["db".into()];
    sup.register(web.clone()).await;
    assert_eq!(sup.status("web").await.state.name(), "waiting");
    web.depends_on.clear();
    sup.handle.update(web).await.expect("update");
    sup.wait_for_event(|e| e.name == "web" && matches!(e.kind, EventKind::Started { .. })).await;
    assert!(!sup.status("db").await.state.is_alive(), "the dependency was not started");
    sup.shutdown().await;
}
