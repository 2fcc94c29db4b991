//! `GET /history`: persisted process events, filtered and paged — on SQLite and PostgreSQL.

use crate::helpers::{expect_error, test_config, TestApp};
use reqwest::StatusCode;
use serde_json::Value;
use server::config::Config;
use testkit::PgDatabase;

async fn page(app: &TestApp, query: &str) -> Value {
    let res = app.get(&format!("/history?{query}")).await;
    let status = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).expect("JSON")
}

fn kinds(page: &Value) -> Vec<String> {
    page["events"].as_array().expect("events").iter().map(|e| e["kind"].as_str().expect("kind").to_string()).collect()
}

async fn history_is_filtered_and_paged(config: Config) {
    let app = TestApp::spawn_with(config).await;
    let marker = app.marker();
    app.register_sleep("svc", &marker).await;
    let pid = app.wait_running("svc").await;
    app.register_sleep("other", &app.marker()).await;
    assert_eq!(app.stop("name=svc").await.status(), StatusCode::OK);
    assert_eq!(app.start("name=svc").await.status(), StatusCode::OK);
    app.wait_running("svc").await;

    // Newest first; the stop shows its signal, the first start its pid.
    let all = page(&app, "name=svc").await;
    assert_eq!(kinds(&all), ["started", "exited", "stopping", "started", "registered"], "{all}");
    let events = all["events"].as_array().expect("events");
    assert!(events.windows(2).all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()), "newest first");
    assert_eq!(events[3]["pid"].as_u64(), Some(u64::from(pid)));
    assert_eq!(events[1]["signal"].as_i64(), Some(15), "{}", events[1]);
    assert_eq!(events[1]["detail"]["requested"], true);
    assert_eq!(all["next_before"], Value::Null, "one page holds everything");
    assert!(kinds(&page(&app, "name=other").await).contains(&"registered".to_string()));

    // Paging: two at a time, following next_before, gives the same rows.
    let mut paged = Vec::new();
    let mut query = "name=svc&limit=2".to_string();
    loop {
        let p = page(&app, &query).await;
        paged.extend(kinds(&p));
        match p["next_before"].as_i64() {
            Some(before) => query = format!("name=svc&limit=2&before={before}"),
            None => break,
        }
    }
    assert_eq!(paged, kinds(&all));

    // Kinds: only those asked for.
    assert_eq!(kinds(&page(&app, "name=svc&kind=started,exited").await), ["started", "exited", "started"]);

    // Since: an instant in the future has nothing; an age covers everything.
    assert!(kinds(&page(&app, "since=2999-01-01T00:00:00Z").await).is_empty());
    assert_eq!(kinds(&page(&app, "name=svc&since=1h").await), kinds(&all));

    for bad in ["limit=0", "limit=5000", "since=yesterday", "name=a%20b", "before=x", "kind=Drop%20table"] {
        expect_error(app.get(&format!("/history?{bad}")).await, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn sqlite_history_is_filtered_and_paged() {
    history_is_filtered_and_paged(test_config()).await;
}

#[tokio::test]
async fn postgres_history_is_filtered_and_paged() {
    let db = PgDatabase::create().await;
    let mut config = test_config();
    config.store.url = Some(db.url());
    history_is_filtered_and_paged(config).await;
}
