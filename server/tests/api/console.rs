//! The console's sign-in without JavaScript: redirects, the session cookie and its flags,
//! and the Processes page rendered on the server.

use crate::helpers::{location, session_cookie, TestApp, ADMIN, PASSWORD};
use reqwest::StatusCode;

const COOKIE: &str = "provisr_session";

#[tokio::test]
async fn pages_redirect_to_login_without_a_session() {
    let app = TestApp::spawn().await;
    let res = app.page("/", None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res).as_deref(), Some("/login"));
    let res = app.page("/", Some(&format!("{COOKIE}=forged-session-id"))).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a made-up session is no session");
    assert_eq!(location(&res).as_deref(), Some("/login"));

    // Every console page, also one whose path has a dot in it (a process name).
    for page in ["/history", "/users", "/processes/web.api", "/processes/web.api/edit"] {
        let res = app.page(page, None).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(location(&res).as_deref(), Some("/login"), "{page}");
    }

    let res = app.page("/login", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("HTML");
    for needle in ["Username", "Password", "Sign in", r#"name="username""#, r#"name="password""#, "/rpc/login"] {
        assert!(html.contains(needle), "the sign-in page has {needle:?}");
    }
}

#[tokio::test]
async fn wrong_password_redirects_back_without_a_session() {
    let app = TestApp::spawn().await;
    for (user, password) in [(ADMIN, "wrong-password"), ("nobody", PASSWORD)] {
        let res = app.console_login(user, password).await;
        assert!(res.status().is_redirection(), "{user}: status {}", res.status());
        assert_eq!(location(&res).as_deref(), Some("/login?error=invalid"), "{user}");
        assert_eq!(session_cookie(res.headers(), COOKIE), None, "{user}: a failed sign-in sets no session cookie");
    }
    let res = app.page("/login?error=invalid", None).await;
    let html = res.text().await.expect("HTML");
    assert!(html.contains(r#"role="alert""#), "the sign-in page shows the error");
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_shows_processes() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    app.register_sleep("console-one", &marker).await;
    app.register_sleep("console-two", &marker).await;
    app.wait_running("console-one").await;

    let res = app.console_login(ADMIN, PASSWORD).await;
    assert!(res.status().is_redirection(), "status {}", res.status());
    assert_eq!(location(&res).as_deref(), Some("/"));
    let (pair, attrs) = session_cookie(res.headers(), COOKIE).expect("a session cookie");
    assert!(attrs.iter().any(|a| a == "httponly"), "{attrs:?}");
    assert!(attrs.iter().any(|a| a == "samesite=strict"), "{attrs:?}");
    assert!(!attrs.iter().any(|a| a == "secure"), "plain HTTP: a Secure cookie would never come back: {attrs:?}");
    assert!(attrs.iter().any(|a| a == "path=/"), "{attrs:?}");

    let res = app.page("/", Some(&pair)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("HTML");
    assert!(html.contains("console-one") && html.contains("console-two"), "the Processes page lists both: {html}");
    assert!(html.contains("Processes"));

    // Signed in, the sign-in page sends you on.
    let res = app.page("/login", Some(&pair)).await;
    assert!(res.status().is_redirection());
    assert_eq!(location(&res).as_deref(), Some("/"));
}

/// A server function called as the hydrated console calls it (fetch, form-encoded).
async fn rpc(app: &TestApp, endpoint: &str, form: &[(&str, &str)], cookie: Option<&str>) -> (StatusCode, String) {
    let mut req = app.http.post(format!("{}/rpc/{endpoint}", app.url)).form(form);
    if let Some(c) = cookie {
        req = req.header(reqwest::header::COOKIE, c);
    }
    let res = req.send().await.expect("POST /rpc");
    let status = res.status();
    (status, res.text().await.expect("body"))
}

#[tokio::test]
async fn server_functions_need_a_session() {
    let app = TestApp::spawn().await;
    let marker = app.marker();
    app.register_sleep("guarded", &marker).await;
    let pid = app.wait_running("guarded").await;

    for cookie in [None, Some(format!("{COOKIE}=forged"))] {
        let (status, body) = rpc(&app, "processes/stop", &[("name", "guarded")], cookie.as_deref()).await;
        assert_ne!(status, StatusCode::OK, "{cookie:?}: {body}");
        assert!(body.contains("Unauthenticated"), "{cookie:?}: {body}");
        let (status, body) = rpc(&app, "processes/list", &[], cookie.as_deref()).await;
        assert_ne!(status, StatusCode::OK, "{cookie:?}: {body}");
        assert!(!body.contains("guarded"), "{cookie:?}: nothing is listed: {body}");
    }
    assert_eq!(app.process("guarded").await["pid"], pid, "the anonymous stop did nothing");

    let res = app.console_login(ADMIN, PASSWORD).await;
    let (cookie, _) = session_cookie(res.headers(), COOKIE).expect("a session cookie");
    let (status, body) = rpc(&app, "processes/list", &[], Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("guarded"), "{body}");
    let (status, body) = rpc(&app, "processes/stop", &[("name", "guarded")], Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.process("guarded").await["state"], "stopped");
    assert!(!testkit::pid_alive(pid));
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let res = app.console_login(ADMIN, PASSWORD).await;
    let (cookie, _) = session_cookie(res.headers(), COOKIE).expect("a session cookie");
    assert_eq!(app.page("/", Some(&cookie)).await.status(), StatusCode::OK);

    let (status, body) = rpc(&app, "logout", &[], Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let res = app.page("/", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the old cookie no longer signs in");
    assert_eq!(location(&res).as_deref(), Some("/login"));
    match app.ws(&[("cookie", &cookie)]).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 401),
        other => panic!("the socket must refuse a signed-out session: {:?}", other.map(|_| ())),
    }
}
