//! User and API client management through `/auth/users` and `/auth/clients`, and the
//! `client_secret` login: creation, listing without secrets, changes that end tokens,
//! and the last active admin that cannot be removed — on SQLite and PostgreSQL.

use crate::helpers::{expect_error, test_config, TestApp, ADMIN, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use server::config::Config;
use testkit::PgDatabase;

async fn call(app: &TestApp, token: &str, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut req = app.http.request(method, app.api(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.expect("request")
}

async fn ok_json(res: reqwest::Response, status: StatusCode) -> Value {
    let got = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn client_login(app: &TestApp, client_id: &str, secret: &str) -> reqwest::Response {
    app.http
        .post(app.api("/auth/login"))
        .json(&json!({ "method": "client_secret", "client_id": client_id, "client_secret": secret }))
        .send()
        .await
        .expect("POST /auth/login")
}

async fn token_of(res: reqwest::Response) -> String {
    let body = ok_json(res, StatusCode::OK).await;
    body["token"]["value"].as_str().expect("a token").to_string()
}

fn pg_config(db: &PgDatabase) -> Config {
    let mut config = test_config();
    config.store.url = Some(db.url());
    config
}

async fn users_lifecycle(config: Config) {
    let app = TestApp::spawn_with(config).await;
    let admin = app.token.clone();

    // Create: 201, the user without any password material.
    let created = ok_json(
        call(
            &app,
            &admin,
            Method::POST,
            "/auth/users",
            Some(json!({ "username": "olga", "password": "olga-password", "email": "olga@example.com", "roles": ["operator"] })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_i64().expect("an id");
    assert_eq!(created["username"], "olga");
    assert_eq!(created["roles"], json!(["operator"]));
    assert_eq!(created["active"], true);
    let listed = call(&app, &admin, Method::GET, "/auth/users", None).await.text().await.expect("list");
    assert!(listed.contains("olga") && !listed.contains("argon2") && !listed.contains("password"), "{listed}");
    let by_name = ok_json(call(&app, &admin, Method::GET, "/auth/users/olga", None).await, StatusCode::OK).await;
    assert_eq!(by_name["id"], id);

    // Duplicates and bad input.
    let dup = json!({ "username": "olga", "password": "another-password", "roles": "viewer" });
    expect_error(call(&app, &admin, Method::POST, "/auth/users", Some(dup)).await, StatusCode::CONFLICT).await;
    let bad = json!({ "username": "bad name", "password": "short", "email": "nope", "roles": [] });
    let msg =
        expect_error(call(&app, &admin, Method::POST, "/auth/users", Some(bad)).await, StatusCode::BAD_REQUEST).await;
    for key in ["username", "password", "email", "roles"] {
        assert!(msg.contains(key), "every problem is named ({key}): {msg}");
    }
    let msg = expect_error(
        call(
            &app,
            &admin,
            Method::POST,
            "/auth/users",
            Some(json!({ "username": "x", "password": "long-enough", "roles": ["root"] })),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(msg.contains("root"), "{msg}");
    expect_error(call(&app, &admin, Method::GET, "/auth/users/999999", None).await, StatusCode::NOT_FOUND).await;

    // Her token works until her roles change; an e-mail change keeps it.
    let olga = token_of(app.login("olga", "olga-password").await).await;
    assert_eq!(call(&app, &olga, Method::GET, "/status?wildcard=*", None).await.status(), StatusCode::OK);
    let changed = ok_json(
        call(&app, &admin, Method::PUT, &format!("/auth/users/{id}"), Some(json!({ "email": null }))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["email"], Value::Null);
    assert_eq!(call(&app, &olga, Method::GET, "/status?wildcard=*", None).await.status(), StatusCode::OK);
    let changed = ok_json(
        call(&app, &admin, Method::PUT, &format!("/auth/users/{id}"), Some(json!({ "roles": ["viewer"] }))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["roles"], json!(["viewer"]));
    expect_error(call(&app, &olga, Method::GET, "/status?wildcard=*", None).await, StatusCode::UNAUTHORIZED).await;

    // She may change her own password (and only that); the old one stops working.
    let olga = token_of(app.login("olga", "olga-password").await).await;
    expect_error(
        call(&app, &olga, Method::PUT, &format!("/auth/users/{id}"), Some(json!({ "roles": ["admin"] }))).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_error(
        call(&app, &olga, Method::PUT, "/auth/users/admin", Some(json!({ "password": "hijacked-password" }))).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    ok_json(
        call(&app, &olga, Method::PUT, "/auth/users/olga", Some(json!({ "password": "new-olga-password" }))).await,
        StatusCode::OK,
    )
    .await;
    expect_error(app.login("olga", "olga-password").await, StatusCode::UNAUTHORIZED).await;
    let olga = token_of(app.login("olga", "new-olga-password").await).await;

    // Deactivated: her token and her password stop working; reactivated: the password works again.
    ok_json(
        call(&app, &admin, Method::PUT, &format!("/auth/users/{id}"), Some(json!({ "active": false }))).await,
        StatusCode::OK,
    )
    .await;
    expect_error(call(&app, &olga, Method::GET, "/status?wildcard=*", None).await, StatusCode::UNAUTHORIZED).await;
    expect_error(app.login("olga", "new-olga-password").await, StatusCode::UNAUTHORIZED).await;

    // The last active admin can be neither deleted, deactivated nor demoted.
    let (admin_row, _) =
        (ok_json(call(&app, &admin, Method::GET, "/auth/users/admin", None).await, StatusCode::OK).await, ());
    let admin_id = admin_row["id"].as_i64().expect("admin id");
    let path = format!("/auth/users/{admin_id}");
    for body in [json!({ "active": false }), json!({ "roles": ["operator"] })] {
        let msg = expect_error(call(&app, &admin, Method::PUT, &path, Some(body)).await, StatusCode::CONFLICT).await;
        assert!(msg.contains("last active admin"), "{msg}");
    }
    let msg = expect_error(call(&app, &admin, Method::DELETE, &path, None).await, StatusCode::CONFLICT).await;
    assert!(msg.contains("last active admin"), "{msg}");
    // An inactive admin does not count.
    ok_json(
        call(&app, &admin, Method::PUT, &format!("/auth/users/{id}"), Some(json!({ "roles": ["admin"] }))).await,
        StatusCode::OK,
    )
    .await;
    expect_error(call(&app, &admin, Method::DELETE, &path, None).await, StatusCode::CONFLICT).await;
    // With a second active admin, the first may go.
    ok_json(
        call(&app, &admin, Method::PUT, &format!("/auth/users/{id}"), Some(json!({ "active": true }))).await,
        StatusCode::OK,
    )
    .await;
    let olga = token_of(app.login("olga", "new-olga-password").await).await;
    ok_json(call(&app, &olga, Method::DELETE, &path, None).await, StatusCode::OK).await;
    expect_error(call(&app, &admin, Method::GET, "/auth/users", None).await, StatusCode::UNAUTHORIZED).await;
    expect_error(app.login(ADMIN, PASSWORD).await, StatusCode::UNAUTHORIZED).await;
    let msg =
        expect_error(call(&app, &olga, Method::DELETE, "/auth/users/olga", None).await, StatusCode::CONFLICT).await;
    assert!(msg.contains("last active admin"), "{msg}");
}

async fn clients_lifecycle(config: Config) {
    let app = TestApp::spawn_with(config).await;
    let admin = app.token.clone();
    app.register_sleep("svc", &app.marker()).await;
    app.wait_running("svc").await;

    // Create: 201 with client_id and client_secret; the secret is never shown again.
    let created = ok_json(
        call(&app, &admin, Method::POST, "/auth/clients", Some(json!({ "name": "CI Client", "scopes": "operator" })))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_i64().expect("an id");
    let client_id = created["client_id"].as_str().expect("client_id").to_string();
    let secret = created["client_secret"].as_str().expect("client_secret").to_string();
    assert!(secret.len() >= 32, "a long secret: {secret}");
    assert_eq!(created["scopes"], json!(["operator"]));
    for path in ["/auth/clients".to_string(), format!("/auth/clients/{id}"), format!("/auth/clients/{client_id}")] {
        let text = call(&app, &admin, Method::GET, &path, None).await.text().await.expect("body");
        assert!(text.contains(&client_id) && !text.contains(&secret) && !text.contains("argon2"), "{path}: {text}");
    }
    let bad = json!({ "name": "", "scopes": [] });
    let msg =
        expect_error(call(&app, &admin, Method::POST, "/auth/clients", Some(bad)).await, StatusCode::BAD_REQUEST).await;
    assert!(msg.contains("name") && msg.contains("scopes"), "{msg}");

    // Login with the secret: a JWT like the basic method's, acting with the client's scopes.
    expect_error(client_login(&app, &client_id, "wrong-secret").await, StatusCode::UNAUTHORIZED).await;
    expect_error(client_login(&app, "pc_unknown", &secret).await, StatusCode::UNAUTHORIZED).await;
    let body = ok_json(client_login(&app, &client_id, &secret).await, StatusCode::OK).await;
    assert_eq!(body["token"]["type"], "Bearer");
    assert_eq!(body["client_id"], client_id.as_str());
    let token = body["token"]["value"].as_str().expect("token").to_string();
    assert_eq!(call(&app, &token, Method::POST, "/stop?name=svc", None).await.status(), StatusCode::OK);
    assert_eq!(app.process("svc").await["state"], "stopped");
    expect_error(call(&app, &token, Method::GET, "/auth/users", None).await, StatusCode::FORBIDDEN).await;

    // A rename keeps the token; deactivation ends it and refuses the login.
    ok_json(
        call(&app, &admin, Method::PUT, &format!("/auth/clients/{id}"), Some(json!({ "name": "CI" }))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(call(&app, &token, Method::GET, "/status?name=svc", None).await.status(), StatusCode::OK);
    ok_json(
        call(&app, &admin, Method::PUT, &format!("/auth/clients/{id}"), Some(json!({ "active": false }))).await,
        StatusCode::OK,
    )
    .await;
    expect_error(call(&app, &token, Method::GET, "/status?name=svc", None).await, StatusCode::UNAUTHORIZED).await;
    expect_error(client_login(&app, &client_id, &secret).await, StatusCode::UNAUTHORIZED).await;

    // Reactivated: a new token; a change of scopes ends it, and the new scopes apply.
    ok_json(
        call(&app, &admin, Method::PUT, &format!("/auth/clients/{id}"), Some(json!({ "active": true }))).await,
        StatusCode::OK,
    )
    .await;
    let token = token_of(client_login(&app, &client_id, &secret).await).await;
    ok_json(
        call(&app, &admin, Method::PUT, &format!("/auth/clients/{id}"), Some(json!({ "scopes": ["viewer"] }))).await,
        StatusCode::OK,
    )
    .await;
    expect_error(call(&app, &token, Method::GET, "/status?name=svc", None).await, StatusCode::UNAUTHORIZED).await;
    let token = token_of(client_login(&app, &client_id, &secret).await).await;
    expect_error(call(&app, &token, Method::POST, "/start?name=svc", None).await, StatusCode::FORBIDDEN).await;

    // A regenerated secret replaces the old one and ends the old tokens.
    let renewed = ok_json(
        call(&app, &admin, Method::PUT, &format!("/auth/clients/{id}"), Some(json!({ "regenerate_secret": true })))
            .await,
        StatusCode::OK,
    )
    .await;
    let new_secret = renewed["client_secret"].as_str().expect("a new secret").to_string();
    assert_ne!(new_secret, secret);
    expect_error(client_login(&app, &client_id, &secret).await, StatusCode::UNAUTHORIZED).await;
    expect_error(call(&app, &token, Method::GET, "/status?name=svc", None).await, StatusCode::UNAUTHORIZED).await;
    let token = token_of(client_login(&app, &client_id, &new_secret).await).await;

    // Deleted: gone, its token refused.
    ok_json(call(&app, &admin, Method::DELETE, &format!("/auth/clients/{client_id}"), None).await, StatusCode::OK)
        .await;
    expect_error(call(&app, &token, Method::GET, "/status?name=svc", None).await, StatusCode::UNAUTHORIZED).await;
    expect_error(call(&app, &admin, Method::GET, &format!("/auth/clients/{id}"), None).await, StatusCode::NOT_FOUND)
        .await;
    expect_error(client_login(&app, &client_id, &new_secret).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn sqlite_users_lifecycle() {
    users_lifecycle(test_config()).await;
}

#[tokio::test]
async fn postgres_users_lifecycle() {
    let db = PgDatabase::create().await;
    users_lifecycle(pg_config(&db)).await;
}

#[tokio::test]
async fn sqlite_clients_lifecycle() {
    clients_lifecycle(test_config()).await;
}

#[tokio::test]
async fn postgres_clients_lifecycle() {
    let db = PgDatabase::create().await;
    clients_lifecycle(pg_config(&db)).await;
}
