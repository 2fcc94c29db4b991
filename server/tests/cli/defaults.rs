//! `provisr serve` with no configuration: HTTPS on :8443, a self-signed certificate and a
//! generated admin password, all in `./provisr-data`.

use crate::helpers::{Api, Daemon, TIMEOUT};
use nix::sys::signal::Signal;
use testkit::{http_client, mode_of};

/// Fails, with the reason, when something already listens on the default port.
fn assert_port_8443_is_free() {
    for addr in ["0.0.0.0:8443", "[::]:8443"] {
        if let Err(e) = std::net::TcpListener::bind(addr) {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                panic!("port 8443 is in use ({addr}): this test runs provisr with its defaults, which listen on :8443; free the port and run it again");
            }
        }
    }
}

#[tokio::test]
async fn serve_without_a_config_uses_https_on_8443_and_a_generated_password() {
    assert_port_8443_is_free();
    let cwd = tempfile::tempdir().expect("tempdir");
    let mut daemon = Daemon::start(cwd.path(), &["serve"]);
    let url = "https://127.0.0.1:8443";
    daemon.wait_ready(&http_client(), url).await;

    let data = cwd.path().join("provisr-data");
    assert!(data.is_dir(), "the data directory is ./provisr-data");
    assert_eq!(mode_of(&data), 0o700);
    assert!(data.join("provisr.db").is_file(), "SQLite in the data directory");
    assert_eq!(mode_of(&data.join("tls").join("tls.key")), 0o600);
    assert!(data.join("tls").join("tls.crt").is_file());

    let file = data.join("initial-admin-password");
    assert_eq!(mode_of(&file), 0o600, "the password file is private");
    let password = std::fs::read_to_string(&file).expect("password file").trim().to_string();
    assert!(password.len() >= 16, "a strong random password: {password:?}");
    let stderr = daemon.stderr();
    assert!(stderr.contains(&password), "the password is printed once on stderr:\n{stderr}");
    assert!(stderr.contains(url) || stderr.contains("https://"), "the console URL is printed:\n{stderr}");

    let api = Api::login(url, &password).await;
    let res = api.http.get(format!("{url}/api/status?wildcard=*")).bearer_auth(&api.token).send().await.expect("GET");
    assert_eq!(res.status(), reqwest::StatusCode::OK, "the token works");

    // SIGINT (Ctrl-C) is a clean exit like SIGTERM.
    daemon.signal(Signal::SIGINT);
    let status = daemon.wait_exit(TIMEOUT).await;
    assert_eq!(status.code(), Some(0), "SIGINT is a clean exit; stderr:\n{}", daemon.stderr());
}
