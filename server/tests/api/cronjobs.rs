//! CronJobs through the API, with real time and a real store: `@every` and 6-field
//! schedules, time zones, history limits, suspend / resume / trigger, `Forbid`, configured
//! cronjobs, and persistence across a restart (in-flight runs closed, a missed slot caught
//! up) — on SQLite and on PostgreSQL.

use crate::helpers::{expect_error, TestApp, TIMEOUT};
use crate::jobs::{
    condition_reason, create_job, delete, get, get_ok, on_both_backends, phase, post, store_url, wait_job,
};
use chrono::{DateTime, Duration as ChronoDuration, Timelike, Utc};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use server::config::{Config, CronJobEntry};
use testkit::{sleepers, wait_for, wait_until};

/// Creates a cronjob (asserts 201); its status.
async fn create_cron(app: &TestApp, spec: Value) -> Value {
    let res = post(app, "/cronjobs", Some(spec)).await;
    let status = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(status, StatusCode::CREATED, "POST /cronjobs: {text}");
    serde_json::from_str(&text).expect("JSON")
}

/// Its firings, newest first (asserts 200).
async fn firings(app: &TestApp, name: &str) -> Vec<Value> {
    get_ok(app, &format!("/cronjobs/{name}/history?limit=100")).await["items"].as_array().cloned().unwrap_or_default()
}

/// Waits until the cronjob's history holds a firing matching `pred`; returns it.
async fn wait_firing(app: &TestApp, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_for(&format!("a firing of {name}: {what}"), TIMEOUT, || async {
        firings(app, name).await.into_iter().find(|f| pred(f))
    })
    .await
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("a time: {v}"))
}

async fn every_second_fires_and_is_recorded(config: Config) {
    let app = TestApp::spawn_with(config).await;
    create_cron(&app, json!({ "name": "tick", "schedule": "@every 1s", "job_template": { "command": "echo tock" } }))
        .await;
    let first = wait_firing(&app, "tick", "created", |f| f["outcome"] == "created").await;
    let job = first["job_name"].as_str().expect("a job name").to_string();
    assert!(job.starts_with("tick-"), "{job}");
    assert_eq!(first["manual"], false);
    let late = at(&first["fired_at"]) - at(&first["scheduled_at"]);
    assert!(late < ChronoDuration::seconds(1), "fired {late} after its slot");
    assert!(first["job_id"].as_i64().is_some(), "the firing links to the job's row: {first}");

    // The job it created runs and is recorded with its cronjob.
    let history = wait_for("the created job to finish in the store", TIMEOUT, || async {
        let h = get_ok(&app, &format!("/jobs/{job}/history")).await;
        (h["items"][0]["status"]["phase"] == "Succeeded").then_some(h)
    })
    .await;
    assert_eq!(history["items"][0]["cronjob"], "tick");
    assert_eq!(history["items"][0]["origin"], "cronjob");

    // GET shows the next fire times, one second apart, and the status.
    let v = get_ok(&app, "/cronjobs/tick?next=3").await;
    let next: Vec<DateTime<Utc>> = v["next_fire_times"].as_array().expect("times").iter().map(at).collect();
    assert_eq!(next.len(), 3);
    assert!(next.windows(2).all(|w| w[1] - w[0] == ChronoDuration::seconds(1)), "{next:?}");
    assert!(v["status"]["last_schedule_time"].is_string(), "{v}");
    assert_eq!(v["spec"]["schedule"], "@every 1s");

    // Deleting it keeps its history; a second delete is 404.
    assert_eq!(delete(&app, "/cronjobs/tick").await.status(), StatusCode::OK);
    expect_error(get(&app, "/cronjobs/tick").await, StatusCode::NOT_FOUND).await;
    assert!(!firings(&app, "tick").await.is_empty(), "the history outlives the cronjob");
    expect_error(delete(&app, "/cronjobs/tick").await, StatusCode::NOT_FOUND).await;
}

on_both_backends!(
    every_second_fires_and_is_recorded,
    six_field_schedules_and_time_zones,
    history_limits_remove_old_jobs_from_the_live_list,
    suspend_resume_and_trigger,
    forbid_skips_an_overlapping_run_and_records_why,
    configured_cronjobs_are_read_only_but_can_be_triggered,
    restart_closes_in_flight_runs_and_catches_up,
);

async fn six_field_schedules_and_time_zones(config: Config) {
    let app = TestApp::spawn_with(config.clone()).await;
    create_cron(
        &app,
        json!({ "name": "secs", "schedule": "*/1 * * * * *", "time_zone": "Asia/Kolkata",
                "job_template": { "command": "true" } }),
    )
    .await;
    let f = wait_firing(&app, "secs", "created", |f| f["outcome"] == "created").await;
    assert_eq!(at(&f["scheduled_at"]).nanosecond(), 0, "a 6-field slot is a whole second");

    // A schedule in a time zone: "at 09:30 in Kolkata" is 04:00 UTC (UTC+5:30, no DST).
    create_cron(
        &app,
        json!({ "name": "morning", "schedule": "30 9 * * *", "time_zone": "Asia/Kolkata", "suspend": true,
                "job_template": { "command": "true" } }),
    )
    .await;
    let v = get_ok(&app, "/cronjobs/morning?next=2").await;
    for t in v["next_fire_times"].as_array().expect("times").iter().map(at) {
        assert_eq!((t.hour(), t.minute()), (4, 0), "{t}");
    }

    let msg = expect_error(
        post(
            &app,
            "/cronjobs",
            Some(json!({ "name": "tz", "schedule": "@daily", "time_zone": "Mars/Olympus",
                                               "job_template": { "command": "true" } })),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(msg.contains("time_zone"), "{msg}");
    let msg = expect_error(
        post(
            &app,
            "/cronjobs",
            Some(json!({ "name": "sched", "schedule": "61 * * * *",
                                               "job_template": { "command": "true" } })),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(msg.contains("schedule"), "{msg}");
    let msg = expect_error(
        post(
            &app,
            "/cronjobs",
            Some(json!({ "name": "secs", "schedule": "@daily", "job_template": { "command": "true" } })),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(msg.contains("already exists"), "{msg}");
    for path in ["/cronjobs/nope", "/cronjobs/nope/history"] {
        let msg = expect_error(get(&app, path).await, StatusCode::NOT_FOUND).await;
        assert!(msg.contains("no cronjob named \"nope\""), "{msg}");
    }
    for verb in ["suspend", "resume", "trigger"] {
        expect_error(post(&app, &format!("/cronjobs/nope/{verb}"), None).await, StatusCode::NOT_FOUND).await;
    }
}

async fn history_limits_remove_old_jobs_from_the_live_list(config: Config) {
    let app = TestApp::spawn_with(config.clone()).await;
    create_cron(
        &app,
        json!({ "name": "keep1", "schedule": "@every 1s", "successful_jobs_history_limit": 1,
                "job_template": { "command": "true" } }),
    )
    .await;
    wait_for("three jobs of keep1 recorded", TIMEOUT, || async {
        let created = firings(&app, "keep1").await.into_iter().filter(|f| f["outcome"] == "created").count();
        (created >= 3).then_some(())
    })
    .await;
    assert_eq!(post(&app, "/cronjobs/keep1/suspend", None).await.status(), StatusCode::OK);
    // The history pages newest first, without overlap.
    let first = get_ok(&app, "/cronjobs/keep1/history?limit=2").await;
    let before = first["next_before"].as_i64().expect("more than one page");
    let second = get_ok(&app, &format!("/cronjobs/keep1/history?limit=2&before={before}")).await;
    let ids =
        |p: &Value| p["items"].as_array().expect("items").iter().filter_map(|f| f["id"].as_i64()).collect::<Vec<_>>();
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!(a.len(), 2);
    assert!(a.windows(2).all(|w| w[0] > w[1]) && b.iter().all(|id| *id < a[1]), "{a:?} then {b:?}");
    expect_error(get(&app, "/cronjobs/keep1/history?limit=0").await, StatusCode::BAD_REQUEST).await;
    // Once the last run has finished, exactly one finished job is live; the older ones
    // left the live list for the history limit but stay in the history.
    let v = wait_for("one finished job live", TIMEOUT, || async {
        let v = get_ok(&app, "/cronjobs/keep1").await;
        let jobs = v["jobs"].as_array().cloned().unwrap_or_default();
        (jobs.len() == 1 && jobs[0]["phase"] == "Succeeded").then_some(v)
    })
    .await;
    let live = v["jobs"][0]["name"].as_str().expect("name").to_string();
    let store = backend::db::connect(&store_url(&app, &config)).await.expect("store");
    let page = backend::store::jobs::history(
        &store,
        &backend::store::jobs::HistoryQuery { name: None, cronjob: Some("keep1"), before: None, limit: 100 },
    )
    .await
    .expect("history");
    assert!(page.items.len() >= 3, "{:?}", page.items);
    for j in &page.items {
        if j.name == live {
            assert!(j.removed.is_none());
        } else {
            assert_eq!(
                j.removed.map(|r| r.reason),
                Some(backend::store::jobs::RemovalReason::HistoryLimit),
                "{}",
                j.name
            );
        }
    }
}

async fn suspend_resume_and_trigger(config: Config) {
    let app = TestApp::spawn_with(config.clone()).await;
    create_cron(
        &app,
        json!({ "name": "manual", "schedule": "0 0 1 1 *", "job_template": { "command": "echo by hand" } }),
    )
    .await;
    let v: Value = post(&app, "/cronjobs/manual/suspend", None).await.json().await.expect("status");
    assert_eq!((v["suspended"].as_bool(), v["next_schedule_time"].is_null()), (Some(true), true), "{v}");
    assert_eq!(get_ok(&app, "/cronjobs").await[0]["suspended"], true);

    // Triggering runs it now, suspended or not.
    let res = post(&app, "/cronjobs/manual/trigger", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("JSON");
    let job = body["job"].as_str().expect("the created job").to_string();
    assert!(job.starts_with("manual-manual-"), "{job}");
    let v = wait_job(&app, &job, "succeeded", |v| phase(v) == "Succeeded").await;
    assert_eq!(v["status"]["origin"]["cronjob"], "manual");
    let f = wait_firing(&app, "manual", "the trigger", |f| f["manual"] == true).await;
    assert_eq!((f["outcome"].as_str(), f["job_name"].as_str()), (Some("created"), Some(job.as_str())));

    let v: Value = post(&app, "/cronjobs/manual/resume", None).await.json().await.expect("status");
    assert_eq!(v["suspended"], false);
    assert!(v["next_schedule_time"].is_string(), "{v}");
    let stored = wait_for("last success recorded", TIMEOUT, || async {
        let store = backend::db::connect(&store_url(&app, &config)).await.ok()?;
        let c = backend::store::cronjobs::get(&store, "manual").await.ok()??;
        c.last_successful_time.is_some().then_some(c)
    })
    .await;
    assert!(!stored.suspended);
    assert_eq!(stored.last_schedule_time, None, "a trigger does not move the last schedule time");
}

async fn forbid_skips_an_overlapping_run_and_records_why(config: Config) {
    let app = TestApp::spawn_with(config.clone()).await;
    let marker = app.marker();
    create_cron(
        &app,
        json!({ "name": "single", "schedule": "@every 1s", "concurrency_policy": "Forbid",
                "job_template": { "command": format!("sleep {marker}"), "stop_timeout": "2s" } }),
    )
    .await;
    let skipped = wait_firing(&app, "single", "skipped", |f| f["outcome"] == "skipped").await;
    assert!(skipped["reason"].as_str().is_some_and(|r| r.contains("Forbid")), "{skipped}");
    assert_eq!(skipped["fired_at"], Value::Null);
    assert_eq!(sleepers(&marker).len(), 1, "one run at a time");
    // Deleting the cronjob leaves its job; deleting the job kills it.
    assert_eq!(delete(&app, "/cronjobs/single").await.status(), StatusCode::OK);
    let created = firings(&app, "single").await.into_iter().find(|f| f["outcome"] == "created").expect("a run");
    let job = created["job_name"].as_str().expect("job");
    assert_eq!(delete(&app, &format!("/jobs/{job}")).await.status(), StatusCode::OK);
    assert!(sleepers(&marker).is_empty());
}

fn config_with_cronjob(mut config: Config, schedule: &str, command: &str) -> Config {
    let spec = serde_json::from_value(json!({
        "name": "configured", "schedule": schedule, "job_template": { "command": command }
    }))
    .expect("a cronjob spec");
    config.cronjobs.push(CronJobEntry { spec, file: "provisr.toml".into() });
    config
}

async fn configured_cronjobs_are_read_only_but_can_be_triggered(config: Config) {
    let app = TestApp::spawn_with(config_with_cronjob(config, "0 0 1 1 *", "true")).await;
    let v = get_ok(&app, "/cronjobs/configured").await;
    assert_eq!(v["status"]["from_config"], true);
    let msg = expect_error(delete(&app, "/cronjobs/configured").await, StatusCode::CONFLICT).await;
    assert!(msg.contains("config"), "{msg}");
    expect_error(
        post(
            &app,
            "/cronjobs",
            Some(json!({ "name": "configured", "schedule": "@daily", "job_template": { "command": "true" } })),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    let res = post(&app, "/cronjobs/configured/trigger", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let job = res.json::<Value>().await.expect("JSON")["job"].as_str().expect("job").to_string();
    wait_job(&app, &job, "succeeded", |v| phase(v) == "Succeeded").await;
}

/// Sets a cronjob's stored `last_schedule_time`, as if its last run had been then.
async fn set_last_schedule_time(url: &str, name: &str, t: DateTime<Utc>) {
    use backend::entity::cronjob;
    let db = backend::db::connect(url).await.expect("store");
    cronjob::Entity::update_many()
        .col_expr(cronjob::Column::LastScheduleTime, Expr::value(Some(t)))
        .filter(cronjob::Column::Name.eq(name))
        .exec(&db)
        .await
        .expect("update");
    let _ = db.close().await;
}

async fn restart_closes_in_flight_runs_and_catches_up(config: Config) {
    let app = TestApp::spawn_with(config.clone()).await;
    let url = store_url(&app, &config);
    let marker = app.marker();
    create_job(&app, json!({ "name": "long", "command": format!("sleep {marker}"), "stop_timeout": "2s" })).await;
    create_job(&app, json!({ "name": "done", "command": "echo finished" })).await;
    wait_job(&app, "done", "succeeded", |v| phase(v) == "Succeeded").await;
    create_job(&app, json!({ "name": "gone", "command": "echo bye" })).await;
    wait_job(&app, "gone", "succeeded", |v| phase(v) == "Succeeded").await;
    assert_eq!(delete(&app, "/jobs/gone").await.status(), StatusCode::OK);
    let logs = app.data_dir.join("logs").join("jobs");
    assert!(logs.join("gone").is_dir(), "a removed job's logs are kept a while");
    wait_until("the long job running", TIMEOUT, || sleepers(&marker).len() == 1).await;
    // Hourly, at minute 0; and a twin whose missed slot is past its starting deadline.
    create_cron(&app, json!({ "name": "hourly", "schedule": "0 * * * *", "job_template": { "command": "true" } }))
        .await;
    create_cron(
        &app,
        json!({ "name": "strict", "schedule": "0 * * * *", "starting_deadline_seconds": 1,
                "job_template": { "command": "true" } }),
    )
    .await;

    let mut app = app;
    app.shutdown().await;
    assert!(sleepers(&marker).is_empty(), "shutdown killed the attempt");
    // While the daemon was down, a slot passed: the last run was two hours ago.
    let now = Utc::now();
    let top = now.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).expect("hour");
    for name in ["hourly", "strict"] {
        set_last_schedule_time(&url, name, top - ChronoDuration::hours(2)).await;
    }

    let app = app.restart().await;
    assert!(!logs.join("gone").exists(), "the logs of jobs that are gone are swept at start");
    assert!(logs.join("done").is_dir(), "a live job keeps its logs");
    // The run in flight is closed, not re-run: Failed with DaemonRestart, visible.
    let v = get_ok(&app, "/jobs/long").await;
    assert_eq!(phase(&v), "Failed", "{v}");
    assert_eq!(condition_reason(&v, "Failed"), Some("DaemonRestart"));
    assert!(sleepers(&marker).is_empty(), "not started again");
    let attempts = crate::jobs::stored_attempts(&app, "long").await;
    assert!(attempts.iter().all(|a| a["state"] == "failed"), "{attempts:?}");
    // The finished job is still there, with its attempts.
    let v = get_ok(&app, "/jobs/done").await;
    assert_eq!(phase(&v), "Succeeded");
    assert_eq!(v["attempts"].as_array().map(Vec::len), Some(1));
    // Both cronjobs are back; the most recent missed slot ran at once where the deadline allows.
    let caught = wait_firing(&app, "hourly", "the missed slot", |f| f["outcome"] == "created").await;
    assert_eq!(at(&caught["scheduled_at"]), top, "{caught}");
    let skipped = wait_firing(&app, "strict", "the missed slot", |f| f["outcome"] == "skipped").await;
    assert_eq!(at(&skipped["scheduled_at"]), top);
    assert!(skipped["reason"].as_str().is_some_and(|r| r.contains("deadline")), "{skipped}");
    let v = get_ok(&app, "/cronjobs/hourly").await;
    assert_eq!(at(&v["status"]["last_schedule_time"]), top);
    // A job deleted after the restart is removed like any other.
    assert_eq!(delete(&app, "/jobs/long").await.status(), StatusCode::OK);
    expect_error(get(&app, "/jobs/long").await, StatusCode::NOT_FOUND).await;
}
