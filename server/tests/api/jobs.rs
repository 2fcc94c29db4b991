//! Jobs through the API, with real processes and a real store: completions and
//! parallelism, indexed completion, the backoff limit, the active deadline, the TTL,
//! deletion, suspension, and what the history keeps — on SQLite and on PostgreSQL.

use crate::helpers::{expect_error, test_config, TestApp, TIMEOUT};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use server::config::Config;
use testkit::{sleepers, wait_for, wait_until, PgDatabase};

// ----- helpers shared with cronjobs.rs -----

/// `GET <api><path>` as the admin.
pub async fn get(app: &TestApp, path: &str) -> Response {
    app.http.get(app.api(path)).bearer_auth(&app.token).send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// `GET <api><path>` as the admin, asserting 200; the JSON body.
pub async fn get_ok(app: &TestApp, path: &str) -> Value {
    let res = get(app, path).await;
    let status = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
    serde_json::from_str(&text).expect("JSON")
}

/// `POST <api><path>` with an optional JSON body, as the admin.
pub async fn post(app: &TestApp, path: &str, body: Option<Value>) -> Response {
    let mut req = app.http.post(app.api(path)).bearer_auth(&app.token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// `DELETE <api><path>` as the admin.
pub async fn delete(app: &TestApp, path: &str) -> Response {
    app.http.delete(app.api(path)).bearer_auth(&app.token).send().await.unwrap_or_else(|e| panic!("DELETE {path}: {e}"))
}

/// Creates a job (asserts 201); its status.
pub async fn create_job(app: &TestApp, spec: Value) -> Value {
    let res = post(app, "/jobs", Some(spec)).await;
    let status = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(status, StatusCode::CREATED, "POST /jobs: {text}");
    serde_json::from_str(&text).expect("JSON")
}

/// Polls `GET /jobs/{name}` until `pred` holds on the view; returns it.
pub async fn wait_job(app: &TestApp, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_for(&format!("job {name} to be {what}"), TIMEOUT, || async {
        let res = get(app, &format!("/jobs/{name}")).await;
        if res.status() != StatusCode::OK {
            return None;
        }
        let v: Value = res.json().await.ok()?;
        pred(&v).then_some(v)
    })
    .await
}

/// The phase of a job view.
pub fn phase(v: &Value) -> &str {
    v["status"]["phase"].as_str().unwrap_or_default()
}

/// The reason of the job's `Failed` (or `Complete`) condition.
pub fn condition_reason<'a>(v: &'a Value, kind: &str) -> Option<&'a str> {
    v["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)?["reason"].as_str()
}

/// Its recorded attempts (from the store).
pub async fn stored_attempts(app: &TestApp, name: &str) -> Vec<Value> {
    get_ok(app, &format!("/jobs/{name}/attempts")).await.as_array().cloned().unwrap_or_default()
}

fn finished(v: &Value) -> bool {
    matches!(phase(v), "Succeeded" | "Failed")
}

// ----- scenarios -----

async fn completions_and_parallelism(config: Config) {
    let app = TestApp::spawn_with(config).await;
    let created = create_job(
        &app,
        json!({ "name": "work", "command": "echo done-$JOB_NAME", "parallelism": 2, "completions": 4 }),
    )
    .await;
    assert_eq!(created["name"], "work");
    let v = wait_job(&app, "work", "finished", finished).await;
    assert_eq!(phase(&v), "Succeeded", "{v}");
    assert_eq!(v["status"]["succeeded"], 4);
    assert_eq!(condition_reason(&v, "Complete"), Some("Completed"));
    assert_eq!(v["attempts"].as_array().map(Vec::len), Some(4));

    // The store has every attempt, succeeded, with the end of its output.
    let attempts = stored_attempts(&app, "work").await;
    assert_eq!(attempts.len(), 4, "{attempts:?}");
    for a in &attempts {
        assert_eq!(a["state"], "succeeded", "{a}");
        assert_eq!(a["reason"], "Succeeded");
        assert_eq!(a["exit_code"], 0);
        assert!(a["log_excerpt"].as_str().is_some_and(|l| l.contains("done-work")), "{a}");
    }
    let history = get_ok(&app, "/jobs/work/history").await;
    let rows = history["items"].as_array().expect("items");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"]["phase"], "Succeeded");
    assert_eq!(rows[0]["status"]["succeeded"], 4);
    assert_eq!(rows[0]["origin"], "api");

    // The job log endpoint serves an attempt's output.
    let logs = get_ok(&app, "/jobs/work/logs").await;
    assert_eq!(logs["lines"], json!(["done-work"]));

    // Listed, and a duplicate name is a conflict while it is live.
    let list = get_ok(&app, "/jobs").await;
    assert!(list.as_array().expect("a list").iter().any(|j| j["name"] == "work"));
    let msg = expect_error(
        post(&app, "/jobs", Some(json!({ "name": "work", "command": "true" }))).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(msg.contains("already exists"), "{msg}");
}

/// The test configuration on a PostgreSQL database.
pub fn pg_config(db: &PgDatabase) -> Config {
    let mut config = test_config();
    config.store.url = Some(db.url());
    config
}

/// The store URL of an app started with `config`.
pub fn store_url(app: &TestApp, config: &Config) -> String {
    config
        .store
        .url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", app.data_dir.join("provisr.db").display()))
}

/// Runs each `async fn scenario(Config)` on SQLite and on PostgreSQL, as the tests
/// `scenario::sqlite` and `scenario::postgres`.
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test]
                async fn sqlite() {
                    super::$scenario(crate::helpers::test_config()).await;
                }

                #[tokio::test]
                async fn postgres() {
                    let db = testkit::PgDatabase::create().await;
                    super::$scenario(crate::jobs::pg_config(&db)).await;
                }
            }
        )+
    };
}
pub(crate) use on_both_backends;

on_both_backends!(
    completions_and_parallelism,
    parallel_attempts_run_at_the_same_time,
    indexed_jobs_complete_each_index_once,
    the_backoff_limit_fails_the_job,
    the_active_deadline_kills_running_attempts,
    the_ttl_removes_a_finished_job_from_the_live_list_only,
    suspend_and_resume_a_job,
    unknown_duplicate_and_invalid_jobs_are_refused,
    configured_jobs_run_once_and_are_read_only,
    attempts_left_running_by_a_crashed_daemon_are_killed_and_closed,
);

async fn parallel_attempts_run_at_the_same_time(config: Config) {
    let app = TestApp::spawn_with(config).await;
    let marker = app.marker();
    create_job(
        &app,
        json!({ "name": "wide", "command": format!("sleep {marker}"), "parallelism": 3, "completions": 3 }),
    )
    .await;
    wait_until("three attempts running at once", TIMEOUT, || sleepers(&marker).len() == 3).await;
    let v = get_ok(&app, "/jobs/wide").await;
    assert_eq!(v["status"]["active"], 3, "{v}");
    assert_eq!(phase(&v), "Running");
    // Deleting kills them: the answer comes once they are gone.
    assert_eq!(delete(&app, "/jobs/wide").await.status(), StatusCode::OK);
    assert!(sleepers(&marker).is_empty(), "delete answers once its attempts are killed");
    expect_error(get(&app, "/jobs/wide").await, StatusCode::NOT_FOUND).await;
    let history = get_ok(&app, "/jobs/wide/history").await;
    let row = &history["items"][0];
    assert_eq!(row["removed"]["reason"], "deleted", "{row}");
    let attempts = stored_attempts(&app, "wide").await;
    assert_eq!(attempts.len(), 3);
    assert!(attempts.iter().all(|a| a["state"] == "failed" && a["reason"] == "Deleted"), "{attempts:?}");
}

async fn indexed_jobs_complete_each_index_once(config: Config) {
    let app = TestApp::spawn_with(config).await;
    create_job(
        &app,
        json!({
            "name": "idx", "command": "echo index=$JOB_COMPLETION_INDEX; test $JOB_COMPLETION_INDEX -ne 1 || test -e /nonexistent-$JOB_NAME",
            "completion_mode": "Indexed", "completions": 3, "parallelism": 3,
            "backoff_limit_per_index": 0, "backoff_base": "50ms"
        }),
    )
    .await;
    let v = wait_job(&app, "idx", "finished", finished).await;
    // Index 1 fails for good (no retry per index); 0 and 2 succeed.
    assert_eq!(phase(&v), "Failed", "{v}");
    assert_eq!(v["status"]["completed_indexes"], "0,2");
    assert_eq!(v["status"]["failed_indexes"], "1");
    assert_eq!(condition_reason(&v, "Failed"), Some("FailedIndexes"));
    let logs = get_ok(&app, "/jobs/idx/logs?index=2").await;
    assert_eq!(logs["lines"], json!(["index=2"]));
    let attempts = stored_attempts(&app, "idx").await;
    let indexes: Vec<i64> = attempts.iter().filter_map(|a| a["completion_index"].as_i64()).collect();
    assert_eq!(indexes, [0, 1, 2]);
}

async fn the_backoff_limit_fails_the_job(config: Config) {
    let app = TestApp::spawn_with(config).await;
    create_job(
        &app,
        json!({ "name": "flaky", "command": "sh -c 'exit 3'", "backoff_limit": 2, "backoff_base": "50ms" }),
    )
    .await;
    let v = wait_job(&app, "flaky", "finished", finished).await;
    assert_eq!(phase(&v), "Failed");
    assert_eq!(condition_reason(&v, "Failed"), Some("BackoffLimitExceeded"));
    assert_eq!(v["status"]["failed"], 3, "backoff_limit = 2 tolerates two failures: {v}");
    let attempts = stored_attempts(&app, "flaky").await;
    let numbers: Vec<i64> = attempts.iter().filter_map(|a| a["attempt"].as_i64()).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert!(attempts.iter().all(|a| a["exit_code"] == 3 && a["state"] == "failed"), "{attempts:?}");
    let stored = &get_ok(&app, "/jobs/flaky/history").await["items"][0];
    assert_eq!(stored["status"]["phase"], "Failed");
    let reasons: Vec<&str> = stored["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .filter_map(|c| c["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"BackoffLimitExceeded"), "{stored}");
}

async fn the_active_deadline_kills_running_attempts(config: Config) {
    let app = TestApp::spawn_with(config).await;
    let marker = app.marker();
    create_job(
        &app,
        json!({ "name": "slow", "command": format!("sleep {marker}"), "parallelism": 2, "completions": 2,
                "active_deadline_seconds": 1, "stop_timeout": "2s" }),
    )
    .await;
    wait_until("both attempts running", TIMEOUT, || sleepers(&marker).len() == 2).await;
    let v = wait_job(&app, "slow", "finished", finished).await;
    assert_eq!(phase(&v), "Failed");
    assert_eq!(condition_reason(&v, "Failed"), Some("DeadlineExceeded"));
    assert!(sleepers(&marker).is_empty(), "the deadline killed the attempts");
    let attempts = stored_attempts(&app, "slow").await;
    assert_eq!(attempts.len(), 2);
    assert!(attempts.iter().all(|a| a["reason"] == "DeadlineExceeded" && a["signal"] == 15), "{attempts:?}");
}

async fn the_ttl_removes_a_finished_job_from_the_live_list_only(config: Config) {
    let app = TestApp::spawn_with(config).await;
    create_job(&app, json!({ "name": "brief", "command": "echo first", "ttl_seconds_after_finished": 1 })).await;
    wait_for("the TTL to remove the job", TIMEOUT, || async {
        (get(&app, "/jobs/brief").await.status() == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    let list = get_ok(&app, "/jobs").await;
    assert!(!list.as_array().expect("list").iter().any(|j| j["name"] == "brief"));
    let history = get_ok(&app, "/jobs/brief/history").await;
    let row = &history["items"][0];
    assert_eq!(row["status"]["phase"], "Succeeded", "{row}");
    assert_eq!(row["removed"]["reason"], "ttl");
    // The name is free again: a new job under it gets a new history row.
    create_job(&app, json!({ "name": "brief", "command": "echo second" })).await;
    wait_job(&app, "brief", "finished", finished).await;
    let logs = get_ok(&app, "/jobs/brief/logs").await;
    assert_eq!(logs["lines"], json!(["second"]), "the new job's log holds only its own output");
    let history = get_ok(&app, "/jobs/brief/history").await;
    assert_eq!(history["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(history["items"][0]["removed"], Value::Null, "the newest is live");
}

async fn suspend_and_resume_a_job(config: Config) {
    let app = TestApp::spawn_with(config).await;
    let marker = app.marker();
    create_job(&app, json!({ "name": "pausable", "command": format!("sleep {marker}"), "stop_timeout": "2s" })).await;
    wait_until("the attempt running", TIMEOUT, || sleepers(&marker).len() == 1).await;
    let res = post(&app, "/jobs/pausable/suspend", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v = wait_job(&app, "pausable", "suspended without attempts", |v| {
        phase(v) == "Suspended" && v["status"]["active"] == 0
    })
    .await;
    assert_eq!(v["status"]["failed"], 0, "a suspension is no failure");
    assert!(sleepers(&marker).is_empty());
    let res = post(&app, "/jobs/pausable/resume", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    wait_until("a new attempt running", TIMEOUT, || sleepers(&marker).len() == 1).await;
    wait_job(&app, "pausable", "running", |v| phase(v) == "Running").await;
    assert_eq!(delete(&app, "/jobs/pausable").await.status(), StatusCode::OK);
}

async fn unknown_duplicate_and_invalid_jobs_are_refused(config: Config) {
    let app = TestApp::spawn_with(config).await;
    for path in ["/jobs/nope", "/jobs/nope/history", "/jobs/nope/attempts", "/jobs/nope/logs"] {
        let msg = expect_error(get(&app, path).await, StatusCode::NOT_FOUND).await;
        assert!(msg.contains("no job named \"nope\""), "{path}: {msg}");
    }
    for path in ["/jobs/nope/suspend", "/jobs/nope/resume"] {
        let msg = expect_error(post(&app, path, None).await, StatusCode::NOT_FOUND).await;
        assert!(msg.contains("no job named \"nope\""), "{path}: {msg}");
    }
    expect_error(delete(&app, "/jobs/nope").await, StatusCode::NOT_FOUND).await;

    let msg = expect_error(
        post(&app, "/jobs", Some(json!({ "name": "bad name", "command": "", "parallelism": 0 }))).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    for key in ["name", "command", "parallelism"] {
        assert!(msg.contains(&format!("{key}:")), "{key} in {msg}");
    }
    let msg = expect_error(
        post(&app, "/jobs", Some(json!({ "name": "j", "command": "true", "colour": 1 }))).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(msg.contains("colour"), "{msg}");

    // POST /jobs/{name}: the name comes from the path; a different one in the body is refused.
    let res = post(&app, "/jobs/named", Some(json!({ "command": "true" }))).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let msg = expect_error(
        post(&app, "/jobs/named2", Some(json!({ "name": "other", "command": "true" }))).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(msg.contains("path"), "{msg}");
    wait_job(&app, "named", "finished", finished).await;
}

/// A job in the config file runs when the daemon starts, is read-only through the API, and
/// does not run again after a restart while it is still live (as applying a Kubernetes Job
/// manifest again does not re-run it).
async fn configured_jobs_run_once_and_are_read_only(mut config: Config) {
    let spec = serde_json::from_value(json!({ "name": "setup", "command": "echo configured" })).expect("spec");
    config.jobs.push(server::config::JobEntry { spec, file: "provisr.toml".into() });
    let app = TestApp::spawn_with(config).await;
    let v = wait_job(&app, "setup", "succeeded", |v| phase(v) == "Succeeded").await;
    assert_eq!(v["status"]["origin"]["source"], "config", "{v}");
    let msg = expect_error(delete(&app, "/jobs/setup").await, StatusCode::CONFLICT).await;
    assert!(msg.contains("config"), "{msg}");

    let app = app.restart().await;
    let v = get_ok(&app, "/jobs/setup").await;
    assert_eq!(phase(&v), "Succeeded");
    let history = get_ok(&app, "/jobs/setup/history").await;
    assert_eq!(history["items"].as_array().map(Vec::len), Some(1), "not run again: {history}");
    assert_eq!(stored_attempts(&app, "setup").await.len(), 1);
}

/// After a crash the daemon never stopped its attempts: the next one kills what still runs
/// of them (the recorded pid and start time must match) and closes the job as failed.
async fn attempts_left_running_by_a_crashed_daemon_are_killed_and_closed(config: Config) {
    use backend::store::jobs::{self as store, JobOrigin, JobPhase, JobRef, NewAttempt, NewJob};
    use std::os::unix::process::CommandExt;
    let mut app = TestApp::spawn_with(config.clone()).await;
    let url = store_url(&app, &config);
    app.shutdown().await;
    // What a crashed daemon leaves: a running attempt in its own process group, recorded.
    // (Tracked once the new daemon runs: the old one's end checks for leftovers.)
    let marker = testkit::unique_marker();
    let mut orphan =
        std::process::Command::new("sleep").arg(&marker).process_group(0).spawn().expect("spawning the orphan");
    let started_at = chrono::Utc::now();
    let db = backend::db::connect(&url).await.expect("store");
    let mut status = store::JobStatus::pending();
    (status.phase, status.active, status.start_time) = (JobPhase::Running, 1, Some(started_at));
    let spec = json!({ "name": "orphan", "command": format!("sleep {marker}") });
    let new = NewJob {
        uid: store::new_uid(),
        name: "orphan".into(),
        origin: JobOrigin::Api,
        cronjob: None,
        spec,
        status,
        created_at: started_at,
    };
    store::upsert(&db, &new).await.expect("job row");
    let attempt = NewAttempt { completion_index: None, attempt: 1, pid: Some(i64::from(orphan.id())), started_at };
    store::insert_attempt(&db, JobRef::Live("orphan"), &attempt).await.expect("attempt row");
    let _ = db.close().await;

    let app = app.restart().await;
    app.track(&marker);
    let exit =
        wait_for("the orphan to be killed", TIMEOUT, || std::future::ready(orphan.try_wait().ok().flatten())).await;
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&exit), Some(9), "killed by the new daemon");
    let v = get_ok(&app, "/jobs/orphan").await;
    assert_eq!(phase(&v), "Failed", "{v}");
    assert_eq!(condition_reason(&v, "Failed"), Some("DaemonRestart"));
    let attempts = stored_attempts(&app, "orphan").await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (attempts[0]["state"].as_str(), attempts[0]["reason"].as_str()),
        (Some("failed"), Some("DaemonRestart"))
    );
    assert_eq!(v["attempts"][0]["reason"], "DaemonRestart");
}
