//! `GET /openapi.json`: public, OpenAPI 3, and describing every route the router serves.

use crate::helpers::{test_config, TestApp};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn the_document_is_public_and_describes_every_route() {
    let mut config = test_config();
    config.server.base_path = "/v1/api".into();
    let app = TestApp::spawn_with(config).await;
    let res = app.http.get(format!("{}/v1/api/openapi.json", app.url)).send().await.expect("GET");
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.expect("JSON");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    assert_eq!(doc["servers"][0]["url"], "/v1/api");
    let routes = server::api::route_list();
    assert!(routes.len() >= 17, "{routes:?}");
    for (method, path) in routes {
        let op = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
        assert!(op["summary"].is_string(), "{method} {path} is not described");
    }
    // Planned routes of DESIGN.md are described too.
    for path in ["/jobs", "/cronjobs/{name}/trigger", "/auth/clients", "/processes/{name}/logs"] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}
