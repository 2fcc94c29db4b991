//! Registrations and wishes survive a daemon restart: what ran runs again exactly once,
//! what was stopped stays stopped — on SQLite (the default) and on PostgreSQL.

use crate::helpers::{expect_error, test_config, TestApp, TIMEOUT};
use backend::store::processes;
use reqwest::StatusCode;
use serde_json::json;
use server::config::Config;
use supervisor::Desired;
use testkit::{pid_alive, sleepers, wait_until, PgDatabase};

/// The stored wish of each instance of `base`.
async fn stored_wishes(store_url: &str, base: &str) -> Vec<(String, Desired)> {
    let db = backend::db::connect(store_url).await.expect("opening the store");
    let (stored, _) = processes::load_all(&db).await.expect("load_all");
    let _ = db.close().await;
    stored.into_iter().filter(|s| s.spec.name == base).flat_map(|s| s.instances).collect()
}

fn sqlite_url(app: &TestApp) -> String {
    format!("sqlite://{}?mode=rwc", app.data_dir.join("provisr.db").display())
}

async fn running_process_runs_again_exactly_once(config: Config) {
    let app = TestApp::spawn_with(config.clone()).await;
    let url = config.store.url.clone().unwrap_or_else(|| sqlite_url(&app));
    let marker = app.marker();
    app.register_sleep("keeper", &marker).await;
    let first = app.wait_running("keeper").await;

    let mut app = app;
    app.shutdown().await;
    assert!(!pid_alive(first), "a graceful shutdown stops the process");
    assert!(sleepers(&marker).is_empty());
    assert_eq!(stored_wishes(&url, "keeper").await, [("keeper".to_string(), Desired::Running)], "the wish stays");

    let app = app.restart().await;
    let second = app.wait_running("keeper").await;
    assert_ne!(second, first);
    assert!(pid_alive(second));
    let st = app.process("keeper").await;
    assert_eq!((st["origin"].as_str(), st["desired"].as_str()), (Some("api"), Some("running")));
    assert_eq!(sleepers(&marker), vec![second], "running again, exactly once");

    // And again: a second restart neither loses nor duplicates it.
    let app = app.restart().await;
    let third = app.wait_running("keeper").await;
    assert_eq!(sleepers(&marker), vec![third]);
}

async fn stopped_process_stays_stopped(config: Config) {
    let app = TestApp::spawn_with(config).await;
    let (idle, busy) = (app.marker(), app.marker());
    app.register_sleep("idle", &idle).await;
    app.register_sleep("busy", &busy).await;
    let res = app.register(&json!({ "name": "pair", "command": format!("sleep {busy}"), "instances": 2 })).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.register_sleep("dropped", &app.marker()).await;
    wait_until("three busy sleepers", TIMEOUT, || sleepers(&busy).len() == 3).await;
    app.wait_running("idle").await;

    assert_eq!(app.stop("name=idle").await.status(), StatusCode::OK);
    assert_eq!(app.stop("name=pair-2").await.status(), StatusCode::OK);
    assert_eq!(app.unregister("name=dropped").await.status(), StatusCode::OK);
    assert!(sleepers(&idle).is_empty());

    let app = app.restart().await;
    app.wait_running("busy").await;
    app.wait_running("pair-1").await;
    for name in ["idle", "pair-2"] {
        let st = app.process(name).await;
        assert_eq!((st["state"].as_str(), st["desired"].as_str()), (Some("stopped"), Some("stopped")), "{name}: {st}");
    }
    assert!(sleepers(&idle).is_empty(), "the stopped process was not started");
    assert_eq!(sleepers(&busy).len(), 2, "busy and pair-1 run, pair-2 does not");
    expect_error(app.status("name=dropped").await, StatusCode::NOT_FOUND).await;

    // Stopped, not forgotten: it starts on request.
    assert_eq!(app.start("name=idle").await.status(), StatusCode::OK);
    app.wait_running("idle").await;
    assert_eq!(sleepers(&idle).len(), 1);
}

#[tokio::test]
async fn sqlite_running_process_runs_again_exactly_once() {
    running_process_runs_again_exactly_once(test_config()).await;
}

#[tokio::test]
async fn sqlite_stopped_process_stays_stopped() {
    stopped_process_stays_stopped(test_config()).await;
}

fn pg_config(db: &PgDatabase) -> Config {
    let mut config = test_config();
    config.store.url = Some(db.url());
    config
}

#[tokio::test]
async fn postgres_running_process_runs_again_exactly_once() {
    let db = PgDatabase::create().await;
    running_process_runs_again_exactly_once(pg_config(&db)).await;
}

#[tokio::test]
async fn postgres_stopped_process_stays_stopped() {
    let db = PgDatabase::create().await;
    stopped_process_stays_stopped(pg_config(&db)).await;
}
