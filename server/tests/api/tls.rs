//! HTTPS with the certificate generated on first start.

use crate::helpers::{session_cookie, test_config, TestApp, ADMIN, PASSWORD, TIMEOUT};
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::mode_of;

async fn spawn_tls() -> TestApp {
    let mut config = test_config();
    config.server.tls.enabled = true;
    TestApp::spawn_with(config).await
}

/// A client that trusts nothing but `cert_pem`, with `names` resolved to the daemon.
fn strict_client(app: &TestApp, cert_pem: &[u8], names: &[&str]) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(cert_pem).expect("the generated certificate is PEM");
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(cert)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT);
    for name in names {
        builder = builder.resolve(name, app.addr);
    }
    builder.build().expect("client")
}

#[tokio::test]
async fn https_with_the_generated_certificate() {
    let app = spawn_tls().await;
    assert!(app.url.starts_with("https://"), "{}", app.url);
    let res = app.health().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key(reqwest::header::STRICT_TRANSPORT_SECURITY), "HSTS over HTTPS");
    assert_eq!(res.json::<Value>().await.expect("JSON"), json!({ "ok": true }));

    let tls_dir = app.data_dir.join("tls");
    assert_eq!(mode_of(&tls_dir.join("tls.key")), 0o600, "the private key is readable by its owner only");
    let pem = std::fs::read(tls_dir.join("tls.crt")).expect("the certificate is written");

    // The certificate verifies for the names a local operator uses: its SANs include
    // localhost and 127.0.0.1 (a client trusting only it checks the name).
    let port = app.addr.port();
    let strict = strict_client(&app, &pem, &["localhost", "elsewhere.example"]);
    for url in [format!("https://localhost:{port}/api/status"), format!("https://127.0.0.1:{port}/api/status")] {
        let res = strict.get(&url).send().await.unwrap_or_else(|e| panic!("{url}: {e:?}"));
        assert_eq!(res.status(), StatusCode::OK, "{url}");
    }
    // … and only those: the check above is a real check.
    let other = strict.get(format!("https://elsewhere.example:{port}/api/status")).send().await;
    assert!(other.is_err(), "a name that is not in the certificate is refused");

    // Plain HTTP on the HTTPS port gets no API answer.
    let plain = app.http.get(format!("http://127.0.0.1:{port}/api/status")).send().await;
    assert!(plain.map(|r| r.status() != StatusCode::OK).unwrap_or(true));
}

#[tokio::test]
async fn the_session_cookie_is_secure_over_https() {
    let app = spawn_tls().await;
    let res = app.console_login(ADMIN, PASSWORD).await;
    assert!(res.status().is_redirection(), "status {}", res.status());
    let (pair, attrs) = session_cookie(res.headers(), "provisr_session").expect("a session cookie");
    for flag in ["secure", "httponly", "samesite=strict"] {
        assert!(attrs.iter().any(|a| a == flag), "{flag} in {attrs:?}");
    }
    let res = app.page("/", Some(&pair)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_certificate_is_kept_across_restarts() {
    let app = spawn_tls().await;
    let cert = app.data_dir.join("tls").join("tls.crt");
    let before = std::fs::read(&cert).expect("certificate");
    let app = app.restart().await;
    assert_eq!(std::fs::read(&cert).expect("certificate"), before, "not regenerated on every start");
    assert_eq!(app.health().await.status(), StatusCode::OK);
}
