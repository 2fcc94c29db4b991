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

    // A crash followed by automatic restarts: restarts, exit codes and stops move.
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
    let stops = value(&s, "provisr_process_stops_total", &[("name", "crashy")]).expect("stops");
    assert_eq!(starts, restarts + 1.0, "every start but the first is an automatic restart");
    assert!(codes >= restarts && stops >= codes, "codes {codes}, stops {stops}, restarts {restarts}");
    assert_eq!(app.unregister("name=crashy").await.status(), StatusCode::OK);
    let s = scrape(&app).await;
    assert_eq!(value(&s, "provisr_process_state", &[("name", "crashy"), ("state", "running")]), None, "removed");

    // A requested stop: the signal is counted and the state gauge follows.
    assert_eq!(app.stop("name=svc").await.status(), StatusCode::OK);
    let s = scrape_until(&app, "svc stopped", |s| {
        value(s, "provisr_process_state", &[("name", "svc"), ("state", "stopped")]) == Some(1.0)
    })
    .await;
    assert_eq!(value(&s, "provisr_process_state", &[("name", "svc"), ("state", "running")]), Some(0.0));
    assert_eq!(value(&s, "provisr_process_stops_total", &[("name", "svc")]), Some(1.0));
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
