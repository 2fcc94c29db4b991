//! Long timers (Kubernetes' default 10 s backoff doubling, deadlines, TTLs in minutes)
//! under paused tokio time: the clock jumps to the next timer whenever the runtime is
//! idle, so these run in milliseconds. Receives here have no timeout (a timeout timer
//! would be jumped to as well).

use crate::helpers::*;
use std::time::Duration;
use supervisor::jobs::{ConditionType, JobChange, JobEvent, JobOrigin, JobSpec, RemoveReason};
use supervisor::EventKind;
use tokio::time::Instant;

/// The next job event of `name`, and the (paused) time it was received.
async fn next(h: &mut Harness, name: &str) -> (JobEvent, Instant) {
    loop {
        let e = h.events.recv().await.expect("event stream");
        if let (true, EventKind::Job(j)) = (e.name == name, &e.kind) {
            return ((**j).clone(), Instant::now());
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_default_backoff_is_10s_doubling() {
    let mut h = start();
    let mut spec = JobSpec::new("k8s", "sh -c 'exit 1'");
    spec.backoff_limit = 3;
    h.jobs.create_job(spec, JobOrigin::Api).await.expect("create");
    let mut ended_at = None;
    let mut gaps = Vec::new();
    loop {
        let (e, at) = next(&mut h, "k8s").await;
        match e.change {
            JobChange::AttemptEnded { .. } => ended_at = Some(at),
            JobChange::AttemptStarted { .. } => {
                if let Some(t) = ended_at.take() {
                    gaps.push(at - t);
                }
            }
            JobChange::Finished { condition } => {
                assert_eq!(condition.reason, "BackoffLimitExceeded");
                break;
            }
            _ => {}
        }
    }
    let want = [10, 20, 40].map(Duration::from_secs);
    assert_eq!(gaps.len(), 3, "{gaps:?}");
    for (gap, want) in gaps.iter().zip(want) {
        assert!(*gap >= want && *gap < want + Duration::from_millis(100), "gap {gap:?}, want {want:?}");
    }
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn deadline_and_ttl_fire_at_their_time() {
    let mut h = start();
    let mut spec = JobSpec::new("timed", "sleep 600");
    spec.active_deadline_seconds = Some(120);
    spec.ttl_seconds_after_finished = Some(300);
    spec.stop_timeout = Duration::from_secs(1);
    let t0 = Instant::now();
    h.jobs.create_job(spec, JobOrigin::Api).await.expect("create");
    let finished_at = loop {
        let (e, at) = next(&mut h, "timed").await;
        if let JobChange::Killing { .. } = e.change {
            let elapsed = at - t0;
            assert!(elapsed >= Duration::from_secs(120) && elapsed < Duration::from_secs(121), "{elapsed:?}");
        }
        if let JobChange::Finished { condition } = e.change {
            assert_eq!((condition.type_, condition.reason.as_str()), (ConditionType::Failed, "DeadlineExceeded"));
            break at;
        }
    };
    let removed_at = loop {
        let (e, at) = next(&mut h, "timed").await;
        if let JobChange::Removed { reason } = e.change {
            assert_eq!(reason, RemoveReason::Ttl);
            break at;
        }
    };
    let ttl = removed_at - finished_at;
    assert!(ttl >= Duration::from_secs(300) && ttl < Duration::from_secs(301), "{ttl:?}");
    h.shutdown().await;
}
