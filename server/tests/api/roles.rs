//! Permissions per route and role: viewers read, operators and admins also act, and a
//! user's tokens stop working when the user is deactivated or their roles change.

use crate::helpers::{expect_error, test_config, TestApp};
use backend::auth::Role;
use backend::store::users::{self, NewUser};
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::{json, Value};
use server::config::{GroupConfig, ProcessEntry};
use supervisor::{Origin, ProcessSpec};

/// Creates a user directly in the daemon's store (there is no user API yet) and returns
/// a bearer token obtained through `POST /auth/login`.
async fn user_with_token(app: &TestApp, name: &str, roles: Vec<Role>) -> (i64, String) {
    let db = backend::db::connect(&format!("sqlite://{}?mode=rwc", app.data_dir.join("provisr.db").display()))
        .await
        .expect("opening the daemon's store");
    let password = format!("{name}-password");
    let user = users::create(&db, NewUser { username: name.into(), password: password.clone(), email: None, roles })
        .await
        .expect("creating the user");
    let res = app.login(name, &password).await;
    assert_eq!(res.status(), StatusCode::OK, "login of {name}");
    let body: Value = res.json().await.expect("login JSON");
    (user.id, body["token"]["value"].as_str().expect("a token").to_string())
}

async fn call(app: &TestApp, token: &str, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut req = app.http.request(method, app.api(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.expect("request")
}

#[tokio::test]
async fn each_role_may_do_exactly_what_its_permissions_allow() {
    let pinned = testkit::unique_marker();
    let mut config = test_config();
    config.processes.push(ProcessEntry {
        spec: ProcessSpec::new("pinned", format!("sleep {pinned}")),
        origin: Origin::Config,
        file: "/etc/provisr/config.toml".into(),
    });
    config.groups.push(GroupConfig { name: "grp".into(), members: vec!["pinned".into()] });
    config.metrics.enabled = true;
    let app = TestApp::spawn_with(config).await;
    app.track(&pinned);
    app.wait_running("pinned").await;
    let marker = app.marker();
    app.register_sleep("svc", &marker).await;
    app.wait_running("svc").await;
    let (_, viewer) = user_with_token(&app, "vera", vec![Role::Viewer]).await;
    let (_, operator) = user_with_token(&app, "otto", vec![Role::Operator]).await;
    let job = json!({ "name": "j", "command": "true" });
    assert_eq!(call(&app, &app.token, Method::POST, "/jobs", Some(job)).await.status(), StatusCode::CREATED);
    let cron = json!({ "name": "c", "schedule": "0 0 1 1 *", "job_template": { "command": "true" } });
    assert_eq!(call(&app, &app.token, Method::POST, "/cronjobs", Some(cron)).await.status(), StatusCode::CREATED);

    // Reading: everyone.
    for token in [&viewer, &operator, &app.token] {
        for path in [
            "/status?name=svc",
            "/status?base=svc",
            "/status?wildcard=*",
            "/processes/svc/spec",
            "/history?limit=5",
            "/groups",
            "/group/status?name=grp",
            "/jobs",
            "/jobs/j",
            "/jobs/j/history",
            "/jobs/j/attempts",
            "/jobs/j/logs",
            "/cronjobs",
            "/cronjobs/c",
            "/cronjobs/c/history",
        ] {
            let res = call(&app, token, Method::GET, path, None).await;
            assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        }
        let res = app.http.get(format!("{}/metrics", app.url)).bearer_auth(token).send().await.expect("GET /metrics");
        assert_eq!(res.status(), StatusCode::OK, "every role may scrape /metrics");
        app.ws(&[("authorization", &format!("Bearer {token}"))]).await.expect("every role may watch the live socket");
    }

    // Acting: a viewer is refused with 403 (not 401: the credentials are fine) and nothing happens.
    let spec = json!({ "name": "viewer-made", "command": format!("sleep {}", app.marker()) });
    let writes: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::POST, "/register", Some(spec)),
        (Method::POST, "/update", Some(json!({ "name": "svc", "command": "sleep 1" }))),
        (Method::POST, "/group/stop?name=grp", None),
        (Method::POST, "/group/start?name=grp", None),
        (Method::POST, "/stop?name=svc", None),
        (Method::POST, "/start?name=svc", None),
        (Method::POST, "/restart?name=svc", None),
        (Method::POST, "/unregister?name=svc", None),
        (Method::POST, "/jobs", Some(json!({ "name": "viewer-job", "command": "true" }))),
        (Method::POST, "/jobs/viewer-job", Some(json!({ "command": "true" }))),
        (Method::DELETE, "/jobs/j", None),
        (Method::POST, "/jobs/j/suspend", None),
        (Method::POST, "/jobs/j/resume", None),
        (
            Method::POST,
            "/cronjobs",
            Some(json!({ "name": "viewer-cron", "schedule": "@daily", "job_template": { "command": "true" } })),
        ),
        (
            Method::POST,
            "/cronjobs/viewer-cron",
            Some(json!({ "schedule": "@daily", "job_template": { "command": "true" } })),
        ),
        (Method::DELETE, "/cronjobs/c", None),
        (Method::POST, "/cronjobs/c/suspend", None),
        (Method::POST, "/cronjobs/c/resume", None),
        (Method::POST, "/cronjobs/c/trigger", None),
    ];
    for (method, path, body) in &writes {
        let res = call(&app, &viewer, method.clone(), path, body.clone()).await;
        let msg = expect_error(res, StatusCode::FORBIDDEN).await;
        assert!(msg.contains("permission"), "{path}: {msg}");
    }
    assert_eq!(app.process("svc").await["state"], "running", "the viewer's requests changed nothing");
    assert_eq!(app.process("pinned").await["state"], "running", "the viewer's group stop changed nothing");
    assert_eq!(
        app.get("/processes/svc/spec").await.json::<Value>().await.expect("spec")["command"],
        format!("sleep {marker}")
    );
    expect_error(app.status("name=viewer-made").await, StatusCode::NOT_FOUND).await;
    expect_error(call(&app, &viewer, Method::GET, "/jobs/viewer-job", None).await, StatusCode::NOT_FOUND).await;
    expect_error(call(&app, &viewer, Method::GET, "/cronjobs/viewer-cron", None).await, StatusCode::NOT_FOUND).await;
    let c = call(&app, &viewer, Method::GET, "/cronjobs/c", None).await.json::<Value>().await.expect("JSON");
    assert_eq!(c["status"]["suspended"], false, "the viewer's requests changed nothing");

    // An operator may act on jobs and cronjobs.
    for (method, path, body, want) in [
        (Method::POST, "/jobs", Some(json!({ "name": "op-job", "command": "true" })), StatusCode::CREATED),
        (Method::POST, "/jobs/j/suspend", None, StatusCode::OK),
        (Method::POST, "/jobs/j/resume", None, StatusCode::OK),
        (Method::DELETE, "/jobs/j", None, StatusCode::OK),
        (Method::POST, "/cronjobs/c/suspend", None, StatusCode::OK),
        (Method::POST, "/cronjobs/c/resume", None, StatusCode::OK),
        (Method::POST, "/cronjobs/c/trigger", None, StatusCode::OK),
        (Method::DELETE, "/cronjobs/c", None, StatusCode::OK),
    ] {
        let res = call(&app, &operator, method, path, body).await;
        assert_eq!(res.status(), want, "operator {path}");
    }

    // An operator may act.
    let res = call(&app, &operator, Method::POST, "/group/stop?name=grp", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.process("pinned").await["state"], "stopped");
    let res = call(&app, &operator, Method::POST, "/group/start?name=grp", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.wait_running("pinned").await;
    let new_marker = app.marker();
    let update = json!({ "name": "svc", "command": format!("sleep {new_marker}") });
    let res = call(&app, &operator, Method::POST, "/update", Some(update)).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.wait_running("svc").await;
    let res = call(&app, &operator, Method::POST, "/stop?name=svc", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.process("svc").await["state"], "stopped");
    let res = call(&app, &operator, Method::POST, "/start?name=svc", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.wait_running("svc").await;
    let res = call(&app, &operator, Method::POST, "/unregister?name=svc", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    expect_error(app.status("name=svc").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn tokens_stop_working_when_the_user_is_deactivated_or_changed() {
    let app = TestApp::spawn().await;
    let (otto, token) = user_with_token(&app, "otto", vec![Role::Operator]).await;
    let (vera, vera_token) = user_with_token(&app, "vera", vec![Role::Viewer]).await;
    assert_eq!(call(&app, &token, Method::GET, "/status?wildcard=*", None).await.status(), StatusCode::OK);
    assert_eq!(call(&app, &vera_token, Method::GET, "/status?wildcard=*", None).await.status(), StatusCode::OK);

    let db = backend::db::connect(&format!("sqlite://{}?mode=rwc", app.data_dir.join("provisr.db").display()))
        .await
        .expect("opening the daemon's store");
    // Deactivated: its tokens are refused.
    let mut m = backend::entity::user::Entity::find_by_id(otto)
        .one(&db)
        .await
        .expect("query")
        .expect("otto")
        .into_active_model();
    m.active = Set(false);
    m.update(&db).await.expect("deactivating");
    expect_error(call(&app, &token, Method::GET, "/status?wildcard=*", None).await, StatusCode::UNAUTHORIZED).await;
    expect_error(app.login("otto", "otto-password").await, StatusCode::UNAUTHORIZED).await;

    // A new version (roles or password changed): older tokens are refused.
    let mut m = backend::entity::user::Entity::find_by_id(vera)
        .one(&db)
        .await
        .expect("query")
        .expect("vera")
        .into_active_model();
    m.token_version = Set(2);
    m.update(&db).await.expect("bumping the version");
    expect_error(call(&app, &vera_token, Method::GET, "/status?wildcard=*", None).await, StatusCode::UNAUTHORIZED)
        .await;
}

/// The user and client management routes, with a body that would succeed for an admin.
fn admin_routes(user_id: i64, client_id: i64) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/auth/users".into(), None),
        (
            Method::POST,
            "/auth/users".into(),
            Some(json!({ "username": "new", "password": "long-enough", "roles": ["viewer"] })),
        ),
        (Method::GET, format!("/auth/users/{user_id}"), None),
        (Method::PUT, format!("/auth/users/{user_id}"), Some(json!({ "email": "x@example.com" }))),
        (Method::DELETE, format!("/auth/users/{user_id}"), None),
        (Method::GET, "/auth/clients".into(), None),
        (Method::POST, "/auth/clients".into(), Some(json!({ "name": "ci", "scopes": ["viewer"] }))),
        (Method::GET, format!("/auth/clients/{client_id}"), None),
        (Method::PUT, format!("/auth/clients/{client_id}"), Some(json!({ "name": "renamed" }))),
        (Method::DELETE, format!("/auth/clients/{client_id}"), None),
    ]
}

#[tokio::test]
async fn only_admins_manage_users_and_clients() {
    let app = TestApp::spawn().await;
    let (_, viewer) = user_with_token(&app, "vera", vec![Role::Viewer]).await;
    let (otto, operator) = user_with_token(&app, "otto", vec![Role::Operator]).await;
    let res =
        call(&app, &app.token, Method::POST, "/auth/clients", Some(json!({ "name": "probe", "scopes": "viewer" })))
            .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let client: Value = res.json().await.expect("client JSON");
    let client_id = client["id"].as_i64().expect("an id");

    // Anonymous: 401 on every route; viewer and operator: 403, and nothing changes.
    for (method, path, body) in admin_routes(otto, client_id) {
        let mut req = app.http.request(method.clone(), app.api(&path));
        if let Some(b) = &body {
            req = req.json(b);
        }
        expect_error(req.send().await.expect("request"), StatusCode::UNAUTHORIZED).await;
        for token in [&viewer, &operator] {
            let msg =
                expect_error(call(&app, token, method.clone(), &path, body.clone()).await, StatusCode::FORBIDDEN).await;
            assert!(msg.contains("permission"), "{method} {path}: {msg}");
        }
    }
    let res = call(&app, &app.token, Method::GET, "/auth/users", None).await;
    let names: Vec<String> =
        res.json::<Vec<Value>>().await.expect("users").iter().map(|u| u["username"].to_string()).collect();
    assert_eq!(names, [r#""admin""#, r#""vera""#, r#""otto""#], "no user was created or deleted");
    let res = call(&app, &app.token, Method::GET, &format!("/auth/clients/{client_id}"), None).await;
    assert_eq!(res.json::<Value>().await.expect("client")["name"], "probe", "the client was not renamed");

    // The admin may do each of them (the deletions last).
    for (method, path, body) in admin_routes(otto, client_id) {
        let res = call(&app, &app.token, method.clone(), &path, body).await;
        assert!(
            res.status().is_success(),
            "{method} {path}: {} {}",
            res.status(),
            res.text().await.unwrap_or_default()
        );
    }
}
