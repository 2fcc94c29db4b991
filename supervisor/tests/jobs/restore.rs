//! `JobsHandle::restore_job`: jobs recorded by an earlier daemon put back on the live list.

use crate::helpers::*;
use chrono::Utc;
use std::time::Duration;
use supervisor::jobs::{
    Attempt, AttemptReason, CompletionMode, JobChange, JobOrigin, JobPhase, JobStatus, RemoveReason, RestoredJob,
};
use supervisor::{Error, EventKind};

fn status(name: &str, phase: JobPhase) -> JobStatus {
    JobStatus {
        name: name.into(),
        origin: JobOrigin::Api,
        phase,
        active: 0,
        succeeded: 0,
        failed: 0,
        completed_indexes: String::new(),
        failed_indexes: None,
        start_time: Some(Utc::now()),
        completion_time: None,
        conditions: Vec::new(),
    }
}

fn attempt(index: Option<u32>, n: u32, reason: AttemptReason) -> Attempt {
    Attempt {
        index,
        attempt: n,
        pid: Some(1),
        started_at: Utc::now(),
        finished_at: Some(Utc::now()),
        exit_code: Some(i32::from(reason != AttemptReason::Succeeded)),
        signal: None,
        reason: Some(reason),
        message: None,
    }
}

/// A finished job's TTL counts from its recorded completion time, not from the restore.
#[tokio::test(start_paused = true)]
async fn a_restored_finished_job_leaves_at_the_end_of_its_ttl() {
    let mut h = start();
    let mut spec = job("old", "true");
    spec.ttl_seconds_after_finished = Some(300);
    let mut st = status("old", JobPhase::Succeeded);
    (st.succeeded, st.completion_time) = (1, Some(Utc::now() - chrono::Duration::seconds(250)));
    let t0 = tokio::time::Instant::now();
    let back = h
        .jobs
        .restore_job(RestoredJob { spec, status: st, attempts: vec![attempt(None, 0, AttemptReason::Succeeded)] })
        .await
        .expect("restored");
    assert_eq!(back.phase, JobPhase::Succeeded);
    let view = h.jobs.get_job("old").await.expect("live");
    assert_eq!(view.attempts.len(), 1);
    loop {
        let e = h.events.recv().await.expect("events");
        if let EventKind::Job(j) = &e.kind {
            assert_eq!(j.change, JobChange::Removed { reason: RemoveReason::Ttl });
            break;
        }
    }
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_secs(49) && waited <= Duration::from_secs(51), "{waited:?}");
    h.shutdown().await;
}

/// A suspended job carries on where it stopped: completed indexes are not run again and a
/// retried index keeps counting its attempts.
#[tokio::test]
async fn a_restored_suspended_job_resumes_where_it_stopped() {
    let mut h = start();
    let mut spec = job("half", "true");
    (spec.completion_mode, spec.completions, spec.parallelism) = (CompletionMode::Indexed, Some(3), 3);
    let mut st = status("half", JobPhase::Suspended);
    (st.succeeded, st.failed, st.completed_indexes) = (1, 1, "0".into());
    let attempts = vec![attempt(Some(0), 0, AttemptReason::Succeeded), attempt(Some(1), 0, AttemptReason::Failed)];
    h.jobs.restore_job(RestoredJob { spec, status: st, attempts }).await.expect("restored");
    assert!(h.job_events("half").is_empty(), "nothing ran, nothing was announced");
    assert_eq!(h.jobs.get_job("half").await.expect("live").status.phase, JobPhase::Suspended);

    h.jobs.resume_job("half").await.expect("resume");
    let done = h.finished("half").await;
    assert_eq!(done.phase, JobPhase::Succeeded, "{done:?}");
    assert_eq!(done.completed_indexes, "0-2");
    let view = h.jobs.get_job("half").await.expect("live");
    let new: Vec<(Option<u32>, u32)> = view.attempts[2..].iter().map(|a| (a.index, a.attempt)).collect();
    let mut sorted = new.clone();
    sorted.sort();
    assert_eq!(sorted, [(Some(1), 1), (Some(2), 0)], "index 0 is not run again; index 1 is its second attempt");
    h.shutdown().await;
}

#[tokio::test]
async fn only_finished_or_suspended_jobs_are_restored_once() {
    let h = start();
    let running = RestoredJob { spec: job("r", "true"), status: status("r", JobPhase::Running), attempts: vec![] };
    assert!(matches!(h.jobs.restore_job(running).await, Err(Error::InvalidSpec(_))));
    let done = RestoredJob { spec: job("d", "true"), status: status("d", JobPhase::Failed), attempts: vec![] };
    h.jobs.restore_job(done.clone()).await.expect("restored");
    assert_eq!(h.jobs.restore_job(done).await, Err(Error::AlreadyExists("d".into())));
    h.shutdown().await;
}

/// Waits (without a timeout: under paused time it would be jumped to) for `name` to finish.
async fn finished_paused(h: &mut Harness, name: &str) {
    loop {
        let e = h.events.recv().await.expect("events");
        if let (true, EventKind::Job(j)) = (e.name == name, &e.kind) {
            if matches!(j.change, JobChange::Finished { .. }) {
                return;
            }
        }
    }
}

/// A removed job's log directory is deleted a minute later, unless a new job of the name
/// writes there by then. (Paused time jumps ahead whenever the runtime waits on a real
/// process, so the job whose grace period is measured is removed after the last such wait.)
#[tokio::test(start_paused = true)]
async fn removed_jobs_logs_are_purged_after_a_grace_period() {
    let mut h = start();
    let logs = h.path("logs");
    let twice = logs.join("twice").join("twice-0.stdout.log");
    h.jobs.create_job(job("twice", "echo first"), JobOrigin::Api).await.expect("create");
    finished_paused(&mut h, "twice").await;
    // On paused time the drain grace before an exit is reported passes at once, so wait
    // (in real time) for the capture thread to have written the output.
    wait_for_content(&twice, "first\n");
    h.jobs.delete_job("twice").await.expect("delete");
    h.jobs.create_job(job("twice", "echo again"), JobOrigin::Api).await.expect("re-create");
    finished_paused(&mut h, "twice").await;
    wait_for_content(&twice, "again\n");
    h.jobs.create_job(job("once", "echo hi"), JobOrigin::Api).await.expect("create");
    finished_paused(&mut h, "once").await;
    wait_for_content(&logs.join("once").join("once-0.stdout.log"), "hi\n");
    h.jobs.delete_job("once").await.expect("delete");

    tokio::time::sleep(Duration::from_secs(59)).await;
    assert!(logs.join("once").is_dir(), "kept during the grace period");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!logs.join("once").exists(), "purged after the grace period");
    let log = std::fs::read_to_string(logs.join("twice").join("twice-0.stdout.log")).expect("the new job's log");
    assert_eq!(log, "again\n", "a new job of the name keeps its own logs (and only those)");
    h.shutdown().await;
}

/// Waits in real time (the capture thread is not on tokio's paused clock) until `path`
/// holds exactly `content`; fails after 10 s.
fn wait_for_content(path: &std::path::Path, content: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(path).ok().as_deref() != Some(content) {
        assert!(std::time::Instant::now() < deadline, "{} never held {content:?}", path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}
