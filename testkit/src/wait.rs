//! Waits that poll a condition until it holds, with a timeout: tests never sleep blindly.
//! They run on a Tokio runtime.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often the waits check their condition.
pub const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Polls `check` every [`POLL_INTERVAL`] until it returns `Some`, and returns that value;
/// fails the test ("timed out after … waiting for `what`") once `timeout` has passed.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Polls the synchronous `check` until it is true; fails the test after `timeout`. For a
/// check that awaits, see [`wait_until_async`].
pub async fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    wait_for(what, timeout, || std::future::ready(check().then_some(()))).await
}

/// Polls the asynchronous `check` until it is true; fails the test after `timeout`.
pub async fn wait_until_async<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(what, timeout, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await
}

/// Polls `check` until it is true or `timeout` has passed, and returns whether it became
/// true: for assertions that report what they saw rather than just a timeout.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_for_returns_the_first_value() {
        let mut calls = 0;
        let got = wait_for("the third call", Duration::from_secs(5), || {
            calls += 1;
            std::future::ready((calls == 3).then_some(calls))
        })
        .await;
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn the_until_waits_return_once_true() {
        let mut n = 0;
        wait_until("n to reach 2", Duration::from_secs(5), || {
            n += 1;
            n == 2
        })
        .await;
        let mut m = 0;
        wait_until_async("m to reach 2", Duration::from_secs(5), || {
            m += 1;
            let done = m == 2;
            async move { done }
        })
        .await;
        assert_eq!((n, m), (2, 2));
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for the impossible")]
    async fn a_wait_fails_the_test_after_its_timeout() {
        wait_until("the impossible", Duration::from_millis(60), || false).await;
    }

    #[tokio::test]
    async fn eventually_reports_instead_of_failing() {
        assert!(!eventually(Duration::from_millis(60), || false).await);
        assert!(eventually(Duration::from_millis(60), || true).await);
    }
}
