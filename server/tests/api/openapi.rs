//! `GET /openapi.json`: public, OpenAPI 3, describing every route the router serves, and
//! saying what the handlers really answer (checked on real answers below).

use crate::helpers::{test_config, TestApp};
use crate::jobs::{create_job, delete, get, wait_job};
use reqwest::StatusCode;
use serde_json::{json, Value};

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
    assert!(routes.len() >= 45, "{routes:?}");
    for (method, path) in routes {
        let op = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
        assert!(op["summary"].is_string(), "{method} {path} is not described");
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
    }
}

/// Every problem of `value` against `schema` (a small subset of OpenAPI 3.0 schemas:
/// `$ref`, `allOf`, `oneOf`, `type`, `nullable`, `enum`, `required`, `properties`,
/// `additionalProperties: false`, `items`), with the path where it is.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return check(doc, &doc["components"]["schemas"][name], value, at, problems);
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            check(doc, s, value, at, problems);
        }
    }
    if let Some(any) = schema["oneOf"].as_array() {
        let fits = any.iter().any(|s| {
            let mut p = Vec::new();
            check(doc, s, value, at, &mut p);
            p.is_empty()
        });
        if !fits {
            problems.push(format!("{at}: fits none of oneOf: {value}"));
        }
    }
    if value.is_null() {
        if schema["type"].is_string() && schema["nullable"] != true {
            problems.push(format!("{at}: null, not nullable"));
        }
        return;
    }
    let fits = match schema["type"].as_str() {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some(other) => panic!("unknown type {other}"),
    };
    if !fits {
        problems.push(format!("{at}: {value} is not a {}", schema["type"]));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            problems.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(obj) = value.as_object() {
        for key in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !obj.contains_key(key) {
                problems.push(format!("{at}: required key {key:?} missing"));
            }
        }
        let props = schema["properties"].as_object();
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(doc, s, v, &format!("{at}.{k}"), problems),
                None if schema["additionalProperties"] == false => {
                    problems.push(format!("{at}: key {k:?} is not in the schema"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, v) in list.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"), problems);
        }
    }
}

/// Calls a route and holds its answer to the document's schema for that status.
async fn conforms(app: &TestApp, doc: &Value, method: &str, path: &str, route: &str, body: Option<Value>) -> Value {
    let url = app.api(path);
    let req = match method {
        "get" => app.http.get(&url),
        "post" => app.http.post(&url),
        "put" => app.http.put(&url),
        "delete" => app.http.delete(&url),
        _ => unreachable!(),
    };
    let req = req.bearer_auth(&app.token);
    let req = if let Some(b) = &body { req.json(b) } else { req };
    let res = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = res.status().as_u16().to_string();
    let value: Value = res.json().await.unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"));
    let op = &doc["paths"][route][method];
    let schema = &op["responses"][&status]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {route} answered {status}, which the document does not describe: {value}");
    let mut problems = Vec::new();
    check(doc, schema, &value, "$", &mut problems);
    assert!(problems.is_empty(), "{method} {path} ({status}) does not match its schema: {problems:#?}\n{value}");
    value
}

#[tokio::test]
async fn answers_match_the_documented_schemas() {
    let app = TestApp::spawn().await;
    let doc: Value = get(&app, "/openapi.json").await.json().await.expect("JSON");

    // Processes.
    let marker = app.marker();
    app.register_sleep("svc", &marker).await;
    app.wait_running("svc").await;
    conforms(&app, &doc, "get", "/status?name=svc", "/status", None).await;
    conforms(&app, &doc, "get", "/status?base=svc", "/status", None).await;
    conforms(&app, &doc, "get", "/processes/svc/spec", "/processes/{name}/spec", None).await;
    conforms(&app, &doc, "get", "/processes/svc/logs", "/processes/{name}/logs", None).await;
    conforms(&app, &doc, "get", "/processes/nope/logs", "/processes/{name}/logs", None).await;
    conforms(&app, &doc, "get", "/history?limit=5", "/history", None).await;

    // Jobs.
    create_job(&app, json!({ "name": "work", "command": "echo hi", "completions": 2 })).await;
    wait_job(&app, "work", "finished", |v| v["status"]["phase"] == "Succeeded").await;
    conforms(&app, &doc, "get", "/jobs", "/jobs", None).await;
    conforms(&app, &doc, "get", "/jobs/work", "/jobs/{name}", None).await;
    conforms(&app, &doc, "get", "/jobs/work/history", "/jobs/{name}/history", None).await;
    conforms(&app, &doc, "get", "/jobs/work/attempts", "/jobs/{name}/attempts", None).await;
    conforms(&app, &doc, "get", "/jobs/work/logs", "/jobs/{name}/logs", None).await;
    conforms(&app, &doc, "post", "/jobs", "/jobs", Some(json!({ "name": "work", "command": "true" }))).await;
    conforms(&app, &doc, "post", "/jobs/later", "/jobs/{name}", Some(json!({ "command": "true", "suspend": true })))
        .await;
    conforms(&app, &doc, "post", "/jobs/later/resume", "/jobs/{name}/resume", None).await;
    conforms(&app, &doc, "get", "/jobs/nope", "/jobs/{name}", None).await;
    conforms(&app, &doc, "post", "/jobs", "/jobs", Some(json!({ "name": "bad" }))).await;

    // Cronjobs.
    let spec = json!({ "name": "nightly", "schedule": "0 2 * * *", "job_template": { "command": "true" } });
    conforms(&app, &doc, "post", "/cronjobs", "/cronjobs", Some(spec.clone())).await;
    conforms(&app, &doc, "post", "/cronjobs", "/cronjobs", Some(spec)).await;
    conforms(&app, &doc, "get", "/cronjobs", "/cronjobs", None).await;
    conforms(&app, &doc, "get", "/cronjobs/nightly?next=2", "/cronjobs/{name}", None).await;
    conforms(&app, &doc, "post", "/cronjobs/nightly/suspend", "/cronjobs/{name}/suspend", None).await;
    conforms(&app, &doc, "post", "/cronjobs/nightly/resume", "/cronjobs/{name}/resume", None).await;
    let triggered = conforms(&app, &doc, "post", "/cronjobs/nightly/trigger", "/cronjobs/{name}/trigger", None).await;
    let job = triggered["job"].as_str().expect("the created job").to_string();
    wait_job(&app, &job, "finished", |v| v["status"]["phase"] == "Succeeded").await;
    conforms(&app, &doc, "get", "/cronjobs/nightly", "/cronjobs/{name}", None).await;
    conforms(&app, &doc, "get", "/cronjobs/nightly/history", "/cronjobs/{name}/history", None).await;
    conforms(&app, &doc, "delete", "/cronjobs/nightly", "/cronjobs/{name}", None).await;

    // Groups, users, clients.
    conforms(&app, &doc, "get", "/groups", "/groups", None).await;
    let user = json!({ "username": "ops", "password": "a-long-password-1", "roles": ["operator"] });
    let created = conforms(&app, &doc, "post", "/auth/users", "/auth/users", Some(user.clone())).await;
    conforms(&app, &doc, "post", "/auth/users", "/auth/users", Some(user)).await;
    let id = created["id"].as_i64().expect("an id");
    conforms(&app, &doc, "get", "/auth/users", "/auth/users", None).await;
    conforms(&app, &doc, "put", &format!("/auth/users/{id}"), "/auth/users/{id}", Some(json!({ "active": false })))
        .await;
    conforms(&app, &doc, "delete", &format!("/auth/users/{id}"), "/auth/users/{id}", None).await;
    let client = json!({ "name": "ci", "scopes": ["viewer"] });
    let created = conforms(&app, &doc, "post", "/auth/clients", "/auth/clients", Some(client.clone())).await;
    assert!(created["client_secret"].is_string(), "{created}");
    conforms(&app, &doc, "post", "/auth/clients", "/auth/clients", Some(client)).await;
    let id = created["id"].as_i64().expect("an id");
    conforms(&app, &doc, "get", "/auth/clients", "/auth/clients", None).await;
    conforms(&app, &doc, "get", &format!("/auth/clients/{id}"), "/auth/clients/{id}", None).await;
    conforms(&app, &doc, "delete", &format!("/auth/clients/{id}"), "/auth/clients/{id}", None).await;
    assert_eq!(delete(&app, "/jobs/work").await.status(), StatusCode::OK);
}
