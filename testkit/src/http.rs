//! HTTP.

use std::time::Duration;

/// How long a request of [`http_client`] may take.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for the tests: it follows no redirects (tests check them), keeps no cookies,
/// accepts the daemon's self-signed certificate, and gives up on a request after
/// [`HTTP_TIMEOUT`].
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .timeout(HTTP_TIMEOUT)
        .build()
        .expect("building the HTTP client")
}
