//! `GET /metrics`: every series moves when its event happens; where it is served and who
//! may read it.

use crate::helpers::{expect_error, test_config, TestApp, TIMEOUT};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;
use testkit::wait_for;

/// One sample: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("name and value");
            let value: f64 = value.parse().expect("a number");
            let (name, labels) = match series.split_once('{') {
                None => (series.to_string(), BTreeMap::new()),
                Some((name, rest)) => {
                    let labels = rest
                        .trim_end_matches('}')
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once('=').expect("label=value");
                            (k.to_string(), v.trim_matches('"').to_string())
                        })
                        .collect();
                    (name.to_string(), labels)
                }
            };
            (name, labels, value)
        })
        .collect()
}

/// The value of `name` with exactly these labels.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples.iter().find(|(n, l, _)| n == name && *l == want).map(|(_, _, v)| *v)
}

async fn scrape(app: &TestApp) -> Vec<Sample> {
    let res = app.http.get(format!("{}/metrics", app.url)).bearer_auth(&app.token).send().await.expect("GET /metrics");
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    parse(&res.text().await.expect("body"))
}

/// Scrapes until `check` holds.
async fn scrape_until(app: &TestApp, what: &str, check: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    wait_for(what, TIMEOUT, || async {
        let s = scrape(app).await;
        check(&s).then_some(s)
    })
    .await
}

fn metrics_config() -> server::config::Config {
    let mut config = test_config();
    config.metrics.enabled = true;
    config
}

#[tokio::test]
async fn every_series_follows_its_events() {
    let app = TestApp::spawn_with(metrics_config()).await;
    let marker = app.marker();
    app.register_sleep("svc", &marker).await;
    app.wait_running("svc").await;

    let s = scrape_until(&app, "svc running", |s| {
        value(s, "provisr_process_state", &[("name", "svc"), ("state", "running")]) == Some(1.0)
    })
    .await;
    assert_eq!(value(&s, "provisr_process_starts_total", &[("name", "svc")]), Some(1.0));
    assert_eq!(value(&s, "provisr_process_state", &[("name", "svc"), ("state", "stopped")]), Some(0.0));
    let rss = value(&s, "provisr_process_rss_bytes", &[("name", "svc")]).expect("rss of a live process");
    assert!(rss > 0.0, "rss {rss}");
    let cpu = value(&s, "provisr_process_cpu_percent", &[("name", "svc")]).expect("cpu of a live process");
    assert!((0.0..=100.0).contains(&cpu), "an idle sleep uses little CPU: {cpu}");
    assert_eq!(value(&s, "provisr_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), Some(1.0));
    assert!(value(&s, "provisr_uptime_seconds", &[]).is_some_and(|u| u > 0.0));

    // A crash followed by automatic restarts: restarts, exit codes and exits move; none
    // of these ends was asked for, so no stop is counted.
    let spec =
        json!({ "name": "crashy", "command": "sleep 0.2; exit 3", "auto_restart": true, "restart_interval": "100ms" });
    assert_eq!(app.register(&spec).await.status(), StatusCode::OK);
    let s = scrape_until(&app, "crashy to restart twice", |s| {
        value(s, "provisr_process_restarts_total", &[("name", "crashy")]).is_some_and(|v| v >= 2.0)
    })
    .await;
    let restarts = value(&s, "provisr_process_restarts_total", &[("name", "crashy")]).expect("restarts");
    let starts = value(&s, "provisr_process_starts_total", &[("name", "crashy")]).expect("starts");
    let codes = value(&s, "provisr_process_exit_codes_total", &[("code", "3"), ("name", "crashy")]).expect("code 3");
    let exits = value(&s, "provisr_process_exits_total", &[("name", "crashy"), ("reason", "exited_nonzero")])
        .expect("unasked exits");
    assert_eq!(starts, restarts + 1.0, "every start but the first is an automatic restart");
    assert!(codes >= restarts && exits == codes, "codes {codes}, exits {exits}, restarts {restarts}");
    assert_eq!(value(&s, "provisr_process_stops_total", &[("name", "crashy")]), None, "no stop was asked for");
    assert_eq!(app.unregister("name=crashy").await.status(), StatusCode::OK);
    let s = scrape(&app).await;
    assert_eq!(value(&s, "provisr_process_state", &[("name", "crashy"), ("state", "running")]), None, "removed");
    assert_eq!(value(&s, "provisr_process_state", &[("name", "crashy"), ("state", "stopped")]), None, "removed");
    assert!(
        value(&s, "provisr_process_starts_total", &[("name", "crashy")]).is_some(),
        "counters of a removed instance stay for a while, so that a scrape sees how it ended"
    );

    // A requested stop: the signal is counted and the state gauge follows.
    assert_eq!(app.stop("name=svc").await.status(), StatusCode::OK);
    let s = scrape_until(&app, "svc stopped", |s| {
        value(s, "provisr_process_state", &[("name", "svc"), ("state", "stopped")]) == Some(1.0)
    })
    .await;
    assert_eq!(value(&s, "provisr_process_state", &[("name", "svc"), ("state", "running")]), Some(0.0));
    assert_eq!(value(&s, "provisr_process_stops_total", &[("name", "svc")]), Some(1.0));
    assert_eq!(value(&s, "provisr_process_exits_total", &[("name", "svc"), ("reason", "requested")]), Some(1.0));
    assert_eq!(value(&s, "provisr_process_exit_signals_total", &[("name", "svc"), ("signal", "15")]), Some(1.0));
    assert_eq!(value(&s, "provisr_process_rss_bytes", &[("name", "svc")]), None, "no process, no sample");
    assert_eq!(app.start("name=svc").await.status(), StatusCode::OK);
    let s = scrape_until(&app, "svc running again", |s| {
        value(s, "provisr_process_state", &[("name", "svc"), ("state", "running")]) == Some(1.0)
    })
    .await;
    assert_eq!(value(&s, "provisr_process_starts_total", &[("name", "svc")]), Some(2.0));
    assert_eq!(
        value(&s, "provisr_process_restarts_total", &[("name", "svc")]),
        None,
        "a start on request is no restart"
    );
}

#[tokio::test]
async fn starts_at_boot_are_counted() {
    let marker = testkit::unique_marker();
    let mut config = metrics_config();
    config.processes.push(server::config::ProcessEntry {
        spec: supervisor::ProcessSpec::new("booted", format!("sleep {marker}")),
        origin: supervisor::Origin::Config,
        file: "/etc/provisr/config.toml".into(),
    });
    let app = TestApp::spawn_with(config).await;
    app.track(&marker);
    app.wait_running("booted").await;
    let s = scrape(&app).await;
    assert_eq!(value(&s, "provisr_process_starts_total", &[("name", "booted")]), Some(1.0));
    assert_eq!(value(&s, "provisr_process_state", &[("name", "booted"), ("state", "running")]), Some(1.0));
}

#[tokio::test]
async fn on_the_main_listener_metrics_need_credentials() {
    let app = TestApp::spawn_with(metrics_config()).await;
    let url = format!("{}/metrics", app.url);
    expect_error(app.http.get(&url).send().await.expect("GET"), StatusCode::UNAUTHORIZED).await;
    let res =
        app.http.get(&url).basic_auth(crate::helpers::ADMIN, Some(crate::helpers::PASSWORD)).send().await.expect("GET");
    assert_eq!(res.status(), StatusCode::OK, "HTTP Basic, as Prometheus' basic_auth sends it");
}

#[tokio::test]
async fn a_separate_listener_serves_metrics_without_credentials() {
    let mut config = metrics_config();
    config.metrics.listen = Some("127.0.0.1:0".into());
    let app = TestApp::spawn_with(config).await;
    let base = app.metrics_url.clone().expect("a metrics listener");
    let res = app.http.get(format!("{base}/metrics")).send().await.expect("GET");
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("body");
    assert!(text.contains("provisr_build_info"), "{text}");
    expect_error(app.http.get(format!("{base}/api/status")).send().await.expect("GET"), StatusCode::NOT_FOUND).await;
    // Not on the main listener then.
    let res = app.http.get(format!("{}/metrics", app.url)).bearer_auth(&app.token).send().await.expect("GET");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn disabled_metrics_are_not_served() {
    let app = TestApp::spawn().await;
    let res = app.http.get(format!("{}/metrics", app.url)).bearer_auth(&app.token).send().await.expect("GET");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// The sum of every sample of `name` whose labels include these.
fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, v)| v)
        .sum()
}

#[tokio::test]
async fn job_series_follow_their_events() {
    use crate::jobs::{create_job, delete, wait_job};
    let app = TestApp::spawn_with(metrics_config()).await;
    let own = |name: &'static str| [("cronjob", ""), ("job_name", name)];

    // A job that succeeds: two attempts, one run, one duration.
    create_job(&app, json!({ "name": "ok", "command": "echo hi", "completions": 2 })).await;
    wait_job(&app, "ok", "succeeded", |v| v["status"]["phase"] == "Succeeded").await;
    let s = scrape_until(&app, "the run of ok", |s| {
        value(
            s,
            "provisr_job_runs_total",
            &[("cronjob", ""), ("job_name", "ok"), ("reason", "Completed"), ("result", "succeeded")],
        ) == Some(1.0)
    })
    .await;
    assert_eq!(value(&s, "provisr_job_attempts_started_total", &own("ok")), Some(2.0));
    assert_eq!(
        value(&s, "provisr_job_attempts_ended_total", &[("cronjob", ""), ("job_name", "ok"), ("reason", "Succeeded")]),
        Some(2.0)
    );
    let d = [("cronjob", ""), ("job_name", "ok"), ("result", "succeeded")];
    assert_eq!(value(&s, "provisr_job_duration_seconds_count", &d), Some(1.0));
    let seconds = value(&s, "provisr_job_duration_seconds_sum", &d).expect("a duration");
    assert!((0.0..10.0).contains(&seconds), "{seconds}");
    assert_eq!(value(&s, "provisr_job_active_attempts", &own("ok")), Some(0.0));
    assert_eq!(
        value(&s, "provisr_job_live", &[("cronjob", ""), ("job_name", "ok"), ("phase", "Succeeded")]),
        Some(1.0)
    );
    assert_eq!(value(&s, "provisr_job_live", &[("cronjob", ""), ("job_name", "ok"), ("phase", "Running")]), Some(0.0));

    // A job that fails: the reason of its Failed condition.
    create_job(&app, json!({ "name": "bad", "command": "exit 2", "backoff_limit": 0 })).await;
    let s = scrape_until(&app, "the failure of bad", |s| {
        value(
            s,
            "provisr_job_runs_total",
            &[("cronjob", ""), ("job_name", "bad"), ("reason", "BackoffLimitExceeded"), ("result", "failed")],
        ) == Some(1.0)
    })
    .await;
    assert_eq!(
        value(&s, "provisr_job_attempts_ended_total", &[("cronjob", ""), ("job_name", "bad"), ("reason", "Failed")]),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "provisr_job_duration_seconds_count", &[("cronjob", ""), ("job_name", "bad"), ("result", "failed")]),
        Some(1.0)
    );

    // A running job: active attempts; deleting it ends them and drops its gauges.
    let marker = app.marker();
    create_job(
        &app,
        json!({ "name": "slow", "command": format!("sleep {marker}"), "parallelism": 2, "completions": 2 }),
    )
    .await;
    let s = scrape_until(&app, "two attempts of slow alive", |s| {
        value(s, "provisr_job_active_attempts", &own("slow")) == Some(2.0)
    })
    .await;
    assert_eq!(
        value(&s, "provisr_job_live", &[("cronjob", ""), ("job_name", "slow"), ("phase", "Running")]),
        Some(1.0)
    );
    assert_eq!(delete(&app, "/jobs/slow").await.status(), StatusCode::OK);
    let s = scrape_until(&app, "the gauges of slow to go", |s| {
        value(s, "provisr_job_active_attempts", &own("slow")).is_none()
    })
    .await;
    assert_eq!(sum(&s, "provisr_job_live", &own("slow")), 0.0, "no live job, no phase series");
    assert_eq!(
        value(&s, "provisr_job_attempts_ended_total", &[("cronjob", ""), ("job_name", "slow"), ("reason", "Deleted")]),
        Some(2.0),
        "the counters of a removed job stay for a while"
    );
    assert_eq!(
        value(&s, "provisr_job_runs_total", &[("cronjob", ""), ("job_name", "slow")]),
        None,
        "it never finished"
    );
}

#[tokio::test]
async fn cronjob_series_follow_their_events() {
    use crate::jobs::{delete, post};
    let app = TestApp::spawn_with(metrics_config()).await;
    let marker = app.marker();
    let spec = json!({ "name": "tick", "schedule": "@every 1s", "concurrency_policy": "Forbid",
        "job_template": { "command": format!("sleep {marker}") } });
    assert_eq!(post(&app, "/cronjobs", Some(spec)).await.status(), StatusCode::CREATED);
    let c = [("cronjob", "tick")];

    // The first fire time creates a job; the next ones are skipped (Forbid) while it runs.
    let s = scrape_until(&app, "a run created and one skipped", |s| {
        value(s, "provisr_cronjob_runs_total", &[("cronjob", "tick"), ("outcome", "created"), ("reason", "Scheduled")])
            == Some(1.0)
            && value(
                s,
                "provisr_cronjob_runs_total",
                &[("cronjob", "tick"), ("outcome", "skipped"), ("reason", "ConcurrencyForbid")],
            )
            .is_some_and(|v| v >= 1.0)
    })
    .await;
    let now = chrono::Utc::now().timestamp() as f64;
    let last = value(&s, "provisr_cronjob_last_schedule_time_seconds", &c).expect("a last schedule time");
    let next = value(&s, "provisr_cronjob_next_schedule_time_seconds", &c).expect("a next schedule time");
    assert!(now - last < 10.0 && next > last && next - now <= 2.0, "last {last}, next {next}, now {now}");
    assert_eq!(value(&s, "provisr_cronjob_suspended", &c), Some(0.0));
    assert_eq!(value(&s, "provisr_cronjob_active_jobs", &c), Some(1.0));
    assert_eq!(value(&s, "provisr_cronjob_last_successful_time_seconds", &c), None, "nothing succeeded yet");
    // Job series of a cronjob's jobs are labelled by the cronjob, not by `tick-<unix time>`.
    let key = [("cronjob", "tick"), ("job_name", "tick")];
    assert_eq!(value(&s, "provisr_job_active_attempts", &key), Some(1.0));
    assert_eq!(value(&s, "provisr_job_attempts_started_total", &key), Some(1.0));
    assert!(
        !s.iter().any(|(_, l, _)| l.get("job_name").is_some_and(|j| j.starts_with("tick-"))),
        "no series per generated job name"
    );

    // A manual run (Forbid does not apply): a second job, summed under the same labels.
    assert_eq!(post(&app, "/cronjobs/tick/trigger", None).await.status(), StatusCode::OK);
    let s = scrape_until(&app, "the manual run", |s| {
        value(s, "provisr_cronjob_runs_total", &[("cronjob", "tick"), ("outcome", "created"), ("reason", "Manual")])
            == Some(1.0)
            && value(s, "provisr_job_active_attempts", &key) == Some(2.0)
    })
    .await;
    assert_eq!(value(&s, "provisr_cronjob_active_jobs", &c), Some(2.0));
    assert_eq!(
        value(&s, "provisr_job_live", &[("cronjob", "tick"), ("job_name", "tick"), ("phase", "Running")]),
        Some(2.0)
    );

    // Suspend: no next time; resume: back.
    assert_eq!(post(&app, "/cronjobs/tick/suspend", None).await.status(), StatusCode::OK);
    let s = scrape_until(&app, "tick suspended", |s| value(s, "provisr_cronjob_suspended", &c) == Some(1.0)).await;
    assert_eq!(value(&s, "provisr_cronjob_next_schedule_time_seconds", &c), None);
    assert_eq!(post(&app, "/cronjobs/tick/resume", None).await.status(), StatusCode::OK);
    scrape_until(&app, "tick resumed", |s| {
        value(s, "provisr_cronjob_suspended", &c) == Some(0.0)
            && value(s, "provisr_cronjob_next_schedule_time_seconds", &c).is_some()
    })
    .await;

    // Deleted: its gauges go (its jobs stay, and so do their series).
    assert_eq!(delete(&app, "/cronjobs/tick").await.status(), StatusCode::OK);
    let s =
        scrape_until(&app, "the gauges of tick to go", |s| value(s, "provisr_cronjob_suspended", &c).is_none()).await;
    for name in [
        "provisr_cronjob_active_jobs",
        "provisr_cronjob_next_schedule_time_seconds",
        "provisr_cronjob_last_schedule_time_seconds",
    ] {
        assert_eq!(value(&s, name, &c), None, "{name}");
    }
    assert_eq!(value(&s, "provisr_job_active_attempts", &key), Some(2.0), "its jobs still run");
}

/// Every family has its HELP and TYPE lines, before its samples, with the right type.
#[tokio::test]
async fn every_family_has_help_and_type() {
    let app = TestApp::spawn_with(metrics_config()).await;
    crate::jobs::create_job(&app, json!({ "name": "once", "command": "true" })).await;
    let marker = app.marker();
    app.register_sleep("svc", &marker).await;
    app.wait_running("svc").await;
    scrape_until(&app, "the job's run", |s| sum(s, "provisr_job_runs_total", &[("job_name", "once")]) == 1.0).await;
    let res = app.http.get(format!("{}/metrics", app.url)).bearer_auth(&app.token).send().await.expect("GET /metrics");
    assert_eq!(
        res.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = res.text().await.expect("body");
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("a name and a text");
            assert!(!help.trim().is_empty(), "{line}");
            helped.insert(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("a name and a type");
            assert!(helped.contains(name), "HELP before TYPE: {line}");
            types.insert(name.to_string(), kind.to_string());
        } else if !line.is_empty() {
            let series = line.split(['{', ' ']).next().expect("a name");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    series.strip_suffix(suffix).filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
                })
                .unwrap_or(series);
            let kind = types.get(family).unwrap_or_else(|| panic!("{series} has no TYPE line before it"));
            if family.ends_with("_total") {
                assert_eq!(kind, "counter", "{family}");
            }
        }
    }
    assert_eq!(types.get("provisr_job_duration_seconds").map(String::as_str), Some("histogram"));
    assert_eq!(types.get("provisr_process_state").map(String::as_str), Some("gauge"));
    for family in ["provisr_process_starts_total", "provisr_job_attempts_started_total", "provisr_process_cpu_percent"]
    {
        assert!(types.contains_key(family), "{family} missing");
    }
}
