//! Authentication of the API: every protected route refuses anonymous and bad
//! credentials; Bearer and Basic both work; login reveals nothing about users.

use crate::helpers::{expect_error, TestApp, ADMIN, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Every protected route, with a request that would succeed with credentials.
fn protected_routes() -> Vec<(Method, &'static str)> {
    vec![
        (Method::GET, "/status?name=svc"),
        (Method::GET, "/status?base=svc"),
        (Method::GET, "/status?wildcard=*"),
        (Method::POST, "/register"),
        (Method::POST, "/start?name=svc"),
        (Method::POST, "/stop?name=svc"),
        (Method::POST, "/restart?name=svc"),
        (Method::POST, "/unregister?name=svc"),
        (Method::GET, "/ws"),
    ]
}

fn spec_body() -> Value {
    json!({ "name": "other", "command": "sleep 5" })
}

#[tokio::test]
async fn protected_routes_refuse_missing_and_bad_credentials() {
    let app = TestApp::spawn().await;
    app.register_sleep("svc", &app.marker()).await;
    let pid = app.wait_running("svc").await;

    let bad_credentials: Vec<(&str, Option<String>)> = vec![
        ("no credentials", None),
        ("garbage bearer token", Some("Bearer not-a-jwt".into())),
        ("tampered bearer token", Some(format!("Bearer {}x", app.token))),
        ("malformed basic", Some("Basic !!!".into())),
        ("unknown scheme", Some("Digest abc".into())),
    ];
    // A Basic check costs an argon2 verification: two routes are enough for those.
    let hashed: Vec<(&str, Option<String>)> = vec![
        ("wrong basic password", Some(basic(ADMIN, "wrong-password"))),
        ("unknown basic user", Some(basic("nobody", PASSWORD))),
    ];
    let mut messages = std::collections::BTreeSet::new();
    for (method, path) in protected_routes() {
        let extra = if matches!(path, "/register" | "/status?name=svc") { hashed.as_slice() } else { &[] };
        for (case, auth) in bad_credentials.iter().chain(extra) {
            let mut req = app.http.request(method.clone(), app.api(path));
            if method == Method::POST && path == "/register" {
                req = req.json(&spec_body());
            }
            if let Some(value) = auth {
                req = req.header(reqwest::header::AUTHORIZATION, value);
            }
            let res = req.send().await.expect("request");
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path} ({case})");
            let challenge = res
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            messages.insert(expect_error(res, StatusCode::UNAUTHORIZED).await);
            assert!(
                challenge.contains("Bearer") && challenge.contains("Basic"),
                "{method} {path} ({case}): {challenge:?}"
            );
        }
    }
    assert_eq!(messages.len(), 1, "one message for every kind of bad credential: {messages:?}");
    // Nothing was done by the refused requests.
    let st = app.process("svc").await;
    assert_eq!((st["state"].as_str(), st["pid"].as_u64()), (Some("running"), Some(u64::from(pid))));
    expect_error(app.status("name=other").await, StatusCode::NOT_FOUND).await;
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

#[tokio::test]
async fn bearer_and_basic_both_work() {
    let app = TestApp::spawn().await;
    let marker = app.marker();

    let res = app
        .http
        .post(app.api("/register"))
        .header(reqwest::header::AUTHORIZATION, basic(ADMIN, PASSWORD))
        .json(&json!({ "name": "via-basic", "command": format!("sleep {marker}") }))
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), StatusCode::OK, "Basic");
    let res = app
        .http
        .get(app.api("/status?name=via-basic"))
        .header(reqwest::header::AUTHORIZATION, format!("bearer {}", app.token))
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), StatusCode::OK, "Bearer (scheme names are case-insensitive)");
    assert_eq!(res.json::<Value>().await.expect("JSON")["name"], "via-basic");
}

#[tokio::test]
async fn login_failures_are_indistinguishable() {
    let app = TestApp::spawn().await;
    let wrong_password = app.login(ADMIN, "not-the-password").await;
    let unknown_user = app.login("no-such-user", "not-the-password").await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_user.status(), StatusCode::UNAUTHORIZED);
    let a = wrong_password.text().await.expect("body");
    let b = unknown_user.text().await.expect("body");
    assert_eq!(a, b, "the same body whether or not the user exists");
    let body: Value = serde_json::from_str(&a).expect("JSON");
    assert!(body["error"].is_string());

    let res = app
        .http
        .post(app.api("/auth/login"))
        .json(&json!({ "method": "basic", "username": ADMIN }))
        .send()
        .await
        .expect("POST");
    expect_error(res, StatusCode::BAD_REQUEST).await;
    let res = app
        .http
        .post(app.api("/auth/login"))
        .json(&json!({ "method": "telepathy", "username": ADMIN, "password": PASSWORD }))
        .send()
        .await
        .expect("POST");
    expect_error(res, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn login_then_use_the_token() {
    let app = TestApp::spawn().await;
    let res = app.login(ADMIN, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(body["success"], true);
    assert_eq!(body["username"], ADMIN);
    assert_eq!(body["token"]["type"], "Bearer");
    let expires = body["token"]["expires_at"].as_str().expect("expires_at");
    let expires = chrono::DateTime::parse_from_rfc3339(expires).expect("an RFC 3339 time");
    assert!(expires > chrono::Utc::now(), "the token is valid now");
    let token = body["token"]["value"].as_str().expect("token value").to_string();

    let marker = app.marker();
    let res = app
        .http
        .post(app.api("/register"))
        .bearer_auth(&token)
        .json(&json!({ "name": "mine", "command": format!("sleep {marker}") }))
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.http.get(app.api("/status?name=mine")).bearer_auth(&token).send().await.expect("GET");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.expect("JSON")["name"], "mine");
}

#[tokio::test]
async fn with_auth_disabled_no_credentials_are_needed() {
    let mut config = crate::helpers::test_config();
    config.auth.enabled = false;
    config.auth.admin.password = None;
    let app = TestApp::spawn_with(config).await;
    let marker = app.marker();

    let res = app
        .http
        .post(app.api("/register"))
        .json(&json!({ "name": "open", "command": format!("sleep {marker}") }))
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.http.get(app.api("/status?name=open")).send().await.expect("GET");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.auth_status().await.json::<Value>().await.expect("JSON")["enabled"], false);
    expect_error(app.login(ADMIN, PASSWORD).await, StatusCode::NOT_FOUND).await;

    let res = app.page("/", None).await;
    assert_eq!(res.status(), StatusCode::OK, "the console needs no sign-in");
    assert!(res.text().await.expect("HTML").contains("open"));
    let mut ws = app.ws(&[]).await.expect("the socket opens without credentials");
    assert_eq!(crate::helpers::next_json(&mut ws, std::time::Duration::from_secs(5)).await["type"], "snapshot");
}

#[tokio::test]
async fn tokens_expire() {
    let mut config = crate::helpers::test_config();
    config.auth.jwt.expires_in = std::time::Duration::from_secs(2);
    let app = TestApp::spawn_with(config).await;
    let res = app.login(ADMIN, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("JSON");
    let token = body["token"]["value"].as_str().expect("token").to_string();
    let expires = chrono::DateTime::parse_from_rfc3339(body["token"]["expires_at"].as_str().expect("expires_at"))
        .expect("RFC 3339");
    let left = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
    assert!((0..=2000).contains(&left), "expires_at follows [auth.jwt] expires_in: {left} ms left");

    let use_token = || {
        let req = app.http.get(app.api("/status?wildcard=*")).bearer_auth(&token);
        async move { req.send().await.expect("GET").status() }
    };
    assert_eq!(use_token().await, StatusCode::OK, "valid at first");
    testkit::wait_until_async("the token to expire", std::time::Duration::from_secs(6), || async {
        use_token().await == StatusCode::UNAUTHORIZED
    })
    .await;
}
