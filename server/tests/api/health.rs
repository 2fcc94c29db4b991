//! The public endpoints: health probe, auth status, and the JSON answers for unknown routes.

use crate::helpers::{expect_error, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn health_probe_needs_no_credentials() {
    let app = TestApp::spawn().await;
    let res = app.health().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.expect("JSON"), json!({ "ok": true }));

    let res = app.auth_status().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.expect("JSON")["enabled"], json!(true));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = TestApp::spawn().await;
    let res = app.http.get(app.api("/no-such-route")).bearer_auth(&app.token).send().await.expect("GET");
    expect_error(res, StatusCode::NOT_FOUND).await;
    let res = app.http.get(app.api("/register")).bearer_auth(&app.token).send().await.expect("GET /register");
    expect_error(res, StatusCode::METHOD_NOT_ALLOWED).await;
}

#[tokio::test]
async fn the_api_follows_the_configured_base_path() {
    let mut config = crate::helpers::test_config();
    config.server.base_path = "/v1".into();
    let app = TestApp::spawn_with(config).await;
    let res = app.http.get(format!("{}/v1/status", app.url)).send().await.expect("GET");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.expect("JSON"), json!({ "ok": true }));
    let res =
        app.http.get(format!("{}/v1/status?wildcard=*", app.url)).bearer_auth(&app.token).send().await.expect("GET");
    assert_eq!(res.status(), StatusCode::OK);
    expect_error(
        app.http.get(format!("{}/v1/status?name=x", app.url)).send().await.expect("GET"),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let res = app.http.get(format!("{}/api/status", app.url)).send().await.expect("GET");
    assert_ne!(res.status(), StatusCode::OK, "nothing is served under the default path");
}
