//! Jobs with real processes: completions, parallelism, indexes, backoff, failure
//! policy, deadline, suspend/resume, delete, TTL.

use crate::helpers::*;
use std::time::Duration;
use supervisor::jobs::{
    AttemptReason, CompletionMode, ConditionType, ExitCodeOperator, ExitCodesRule, FailureAction, FailurePolicy,
    FailurePolicyRule, JobChange, JobOrigin, JobPhase, RemoveReason, RestartPolicy,
};
use supervisor::{Error, Event, EventKind};

#[tokio::test]
async fn a_job_runs_to_completion_with_job_name_in_its_environment() {
    let mut h = start();
    let out = h.path("out");
    let created = h.create(job("hello", &format!("echo $JOB_NAME > {}", out.display()))).await;
    assert!(matches!(created.phase, JobPhase::Pending | JobPhase::Running), "{created:?}");
    let status = h.finished("hello").await;
    assert_eq!(status.phase, JobPhase::Succeeded);
    assert_eq!((status.succeeded, status.failed, status.active), (1, 0, 0));
    assert!(status.completion_time >= status.start_time && status.start_time.is_some());
    assert_eq!(status.conditions.len(), 1);
    assert_eq!((status.conditions[0].type_, status.conditions[0].status), (ConditionType::Complete, true));
    assert_eq!(std::fs::read_to_string(&out).expect("output").trim(), "hello");
    let view = h.jobs.get_job("hello").await.expect("get");
    assert_eq!(view.attempts.len(), 1);
    let a = &view.attempts[0];
    assert_eq!((a.index, a.attempt, a.exit_code, a.reason), (None, 0, Some(0), Some(AttemptReason::Succeeded)));
    assert!(a.pid.is_some() && a.finished_at.is_some());
    h.shutdown().await;
}

#[tokio::test]
async fn completions_with_parallelism_never_run_more_than_parallelism_at_once() {
    let mut h = start();
    let mut spec = job("batch", "sleep 0.2");
    spec.completions = Some(5);
    spec.parallelism = 2;
    h.create(spec).await;
    let status = h.finished("batch").await;
    assert_eq!((status.phase, status.succeeded, status.failed), (JobPhase::Succeeded, 5, 0));
    let events = h.job_events("batch");
    let max_active = events.iter().filter_map(|e| e.job.as_ref()).map(|s| s.active).max();
    assert_eq!(max_active, Some(2), "two at a time");
    let starts = events.iter().filter(|e| matches!(e.change, JobChange::AttemptStarted { .. })).count();
    assert_eq!(starts, 5, "no attempt more than needed");
    h.shutdown().await;
}

#[tokio::test]
async fn work_queue_mode_is_done_when_one_succeeded_and_all_ended() {
    let mut h = start();
    let mut spec = job("queue", "sleep 0.1");
    spec.parallelism = 3;
    h.create(spec).await;
    let status = h.finished("queue").await;
    assert_eq!(status.phase, JobPhase::Succeeded);
    assert_eq!(status.succeeded, 3, "all three started at once and succeeded");
    let view = h.jobs.get_job("queue").await.expect("get");
    assert_eq!(view.attempts.len(), 3, "no attempt after the first success");
    h.shutdown().await;
}

#[tokio::test]
async fn indexed_jobs_get_their_index_and_a_retried_index_keeps_it() {
    let mut h = start();
    let dir = h.dir.path().display().to_string();
    let command = format!(
        "if [ $JOB_COMPLETION_INDEX = 1 ] && [ ! -e {dir}/retried ]; then touch {dir}/retried; exit 3; fi; \
         echo $JOB_NAME > {dir}/done-$JOB_COMPLETION_INDEX"
    );
    let mut spec = job("idx", &command);
    spec.completion_mode = CompletionMode::Indexed;
    spec.completions = Some(3);
    spec.parallelism = 3;
    h.create(spec).await;
    let status = h.finished("idx").await;
    assert_eq!(status.phase, JobPhase::Succeeded, "{status:?}");
    assert_eq!(status.completed_indexes, "0-2");
    assert_eq!((status.succeeded, status.failed), (3, 1));
    for i in 0..3 {
        assert_eq!(std::fs::read_to_string(h.path(&format!("done-{i}"))).expect("done file").trim(), "idx");
    }
    let view = h.jobs.get_job("idx").await.expect("get");
    let index1: Vec<_> = view.attempts.iter().filter(|a| a.index == Some(1)).collect();
    assert_eq!(index1.len(), 2, "{:?}", view.attempts);
    assert_eq!((index1[0].attempt, index1[0].exit_code, index1[0].reason), (0, Some(3), Some(AttemptReason::Failed)));
    assert_eq!((index1[1].attempt, index1[1].reason), (1, Some(AttemptReason::Succeeded)));
    h.shutdown().await;
}

#[tokio::test]
async fn the_backoff_limit_fails_the_job_after_growing_delays() {
    for policy in [RestartPolicy::Never, RestartPolicy::OnFailure] {
        let mut h = start();
        let mut spec = job("flaky", "sh -c 'exit 3'");
        spec.backoff_limit = 2;
        spec.backoff_base = Duration::from_millis(100);
        spec.restart_policy = policy;
        h.create(spec).await;
        let status = h.finished("flaky").await;
        assert_eq!(status.phase, JobPhase::Failed, "{policy:?}");
        assert_eq!(status.failed, 3, "{policy:?}: backoff_limit 2 = 3 failures");
        let failed = status.conditions.iter().find(|c| c.type_ == ConditionType::Failed).expect("Failed condition");
        assert_eq!(failed.reason, "BackoffLimitExceeded");
        let attempts = h.jobs.get_job("flaky").await.expect("get").attempts;
        assert_eq!(attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(), [0, 1, 2], "{policy:?}");
        // Retry delays: 100ms, then 200ms.
        for (i, min_ms) in [(1, 100), (2, 200)] {
            let gap = attempts[i].started_at - attempts[i - 1].finished_at.expect("ended");
            assert!(gap >= chrono::Duration::milliseconds(min_ms - 5), "{policy:?}: delay {i} was {gap}");
        }
        h.shutdown().await;
    }
}

#[tokio::test]
async fn failure_policy_rules_fail_the_job_or_ignore_the_failure() {
    let rule = |action, values: &[i32]| FailurePolicyRule {
        action,
        exit_codes: ExitCodesRule { operator: ExitCodeOperator::In, values: values.to_vec() },
    };
    let mut h = start();
    let mut spec = job("fatal", "sh -c 'exit 42'");
    spec.failure_policy = Some(FailurePolicy { rules: vec![rule(FailureAction::FailJob, &[42])] });
    h.create(spec).await;
    let status = h.finished("fatal").await;
    assert_eq!(status.failed, 1, "no retry");
    let failed = status.conditions.iter().find(|c| c.type_ == ConditionType::Failed).expect("Failed condition");
    assert_eq!(failed.reason, "PodFailurePolicy");

    let marker = h.path("once");
    let mut spec = job("ignored", &format!("if [ ! -e {m} ]; then touch {m}; exit 7; fi", m = marker.display()));
    spec.backoff_limit = 0;
    spec.failure_policy = Some(FailurePolicy { rules: vec![rule(FailureAction::Ignore, &[7])] });
    h.create(spec).await;
    let status = h.finished("ignored").await;
    assert_eq!((status.phase, status.failed, status.succeeded), (JobPhase::Succeeded, 0, 1), "{status:?}");
    let attempts = h.jobs.get_job("ignored").await.expect("get").attempts;
    assert_eq!(attempts[0].reason, Some(AttemptReason::Ignored));
    h.shutdown().await;
}

#[tokio::test]
async fn a_failing_index_fails_alone_under_backoff_limit_per_index() {
    let mut h = start();
    let mut spec = job("perindex", "[ $JOB_COMPLETION_INDEX != 1 ]");
    spec.completion_mode = CompletionMode::Indexed;
    spec.completions = Some(3);
    spec.parallelism = 1;
    spec.backoff_limit_per_index = Some(1);
    h.create(spec).await;
    let status = h.finished("perindex").await;
    assert_eq!(status.phase, JobPhase::Failed);
    assert_eq!(status.completed_indexes, "0,2", "the other indexes ran to completion");
    assert_eq!(status.failed_indexes.as_deref(), Some("1"));
    assert_eq!(status.failed, 2, "index 1: one retry, then failed");
    let failed = status.conditions.iter().find(|c| c.type_ == ConditionType::Failed).expect("Failed condition");
    assert_eq!(failed.reason, "FailedIndexes");
    h.shutdown().await;
}

#[tokio::test]
async fn the_active_deadline_kills_running_attempts_and_beats_the_backoff() {
    let mut h = start();
    let mut spec = job("slow", "sleep 30");
    spec.active_deadline_seconds = Some(1);
    spec.parallelism = 2;
    spec.completions = Some(2);
    h.create(spec).await;
    let status = h.finished("slow").await;
    assert_eq!((status.phase, status.active, status.failed), (JobPhase::Failed, 0, 0));
    let failed = status.conditions.iter().find(|c| c.type_ == ConditionType::Failed).expect("Failed condition");
    assert_eq!(failed.reason, "DeadlineExceeded");
    let attempts = h.jobs.get_job("slow").await.expect("get").attempts;
    assert_eq!(attempts.len(), 2);
    for a in &attempts {
        assert_eq!(a.reason, Some(AttemptReason::DeadlineExceeded));
        assert_eq!(a.signal, Some(15), "SIGTERM");
        assert!(!alive(a.pid.expect("pid")));
    }

    // A retry delay far beyond the deadline: the deadline wins.
    let mut spec = job("backoff", "sh -c 'exit 1'");
    spec.backoff_base = Duration::from_secs(60);
    spec.backoff_max = Duration::from_secs(60);
    spec.active_deadline_seconds = Some(1);
    let started = std::time::Instant::now();
    h.create(spec).await;
    let status = h.finished("backoff").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let failed = status.conditions.iter().find(|c| c.type_ == ConditionType::Failed).expect("Failed condition");
    assert_eq!(failed.reason, "DeadlineExceeded");
    h.shutdown().await;
}

#[tokio::test]
async fn a_stubborn_attempt_gets_sigkill_after_the_grace_period() {
    let mut h = start();
    let mut spec = job("stubborn", "trap '' TERM; sleep 30 & wait; sleep 30");
    spec.active_deadline_seconds = Some(1);
    spec.stop_timeout = Duration::from_millis(300);
    h.create(spec).await;
    h.wait_job("stubborn", |j| matches!(j.change, JobChange::Killed { .. })).await;
    let status = h.finished("stubborn").await;
    assert_eq!(status.phase, JobPhase::Failed);
    let attempt = &h.jobs.get_job("stubborn").await.expect("get").attempts[0];
    assert_eq!(attempt.signal, Some(9), "SIGKILL: {attempt:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn suspend_kills_attempts_without_counting_them_and_resume_starts_again() {
    let mut h = start();
    let mut spec = job("pausable", "sleep 30");
    spec.backoff_limit = 0;
    h.create(spec).await;
    h.wait_job("pausable", |j| matches!(j.change, JobChange::AttemptStarted { .. })).await;
    let status = h.jobs.suspend_job("pausable").await.expect("suspend");
    assert_eq!(status.phase, JobPhase::Suspended);
    let ended = h
        .wait_job("pausable", |j| matches!(&j.change, JobChange::AttemptEnded { attempt } if attempt.reason == Some(AttemptReason::Suspended)))
        .await;
    let after = ended.job.expect("status");
    assert_eq!((after.phase, after.active, after.failed), (JobPhase::Suspended, 0, 0));
    assert!(after.conditions.iter().any(|c| c.type_ == ConditionType::Suspended && c.status));

    let status = h.jobs.resume_job("pausable").await.expect("resume");
    assert_eq!(status.phase, JobPhase::Running);
    assert!(status.conditions.iter().any(|c| c.type_ == ConditionType::Suspended && !c.status));
    let started = h.wait_job("pausable", |j| matches!(j.change, JobChange::AttemptStarted { .. })).await;
    let JobChange::AttemptStarted { attempt } = started.change else { unreachable!() };
    assert_eq!(attempt.attempt, 1);
    let pid = attempt.pid.expect("pid");
    assert!(alive(pid));

    // Delete kills the running attempt and removes the job.
    h.jobs.delete_job("pausable").await.expect("delete");
    assert!(!alive(pid));
    assert!(matches!(h.jobs.get_job("pausable").await, Err(Error::NotFound(_))));
    let removed = h.wait_job("pausable", |j| matches!(j.change, JobChange::Removed { .. })).await;
    assert_eq!(removed.change, JobChange::Removed { reason: RemoveReason::Deleted });
    h.shutdown().await;
}

#[tokio::test]
async fn a_job_created_suspended_waits_for_resume() {
    let mut h = start();
    let mut spec = job("later", "true");
    spec.suspend = true;
    let status = h.create(spec).await;
    assert_eq!((status.phase, status.start_time), (JobPhase::Suspended, None));
    h.jobs.resume_job("later").await.expect("resume");
    assert_eq!(h.finished("later").await.phase, JobPhase::Succeeded);
    h.shutdown().await;
}

#[tokio::test]
async fn finished_jobs_leave_the_live_list_after_their_ttl() {
    let mut h = start();
    let mut spec = job("shortlived", "true");
    spec.ttl_seconds_after_finished = Some(1);
    h.create(spec).await;
    h.finished("shortlived").await;
    assert!(h.jobs.get_job("shortlived").await.is_ok(), "still there right after finishing");
    let removed = h.wait_job("shortlived", |j| matches!(j.change, JobChange::Removed { .. })).await;
    assert_eq!(removed.change, JobChange::Removed { reason: RemoveReason::Ttl });
    assert!(h.jobs.list_jobs().await.expect("list").is_empty());
    // The name is free again.
    h.create(job("shortlived", "true")).await;
    h.shutdown().await;
}

#[tokio::test]
async fn bad_jobs_are_refused_with_every_problem() {
    let h = start();
    let mut spec = job("bad name", "no-such-program-provisr");
    spec.parallelism = 0;
    let Err(Error::InvalidSpec(problems)) = h.jobs.create_job(spec, JobOrigin::Api).await else {
        panic!("invalid spec accepted")
    };
    let keys: Vec<_> = problems.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["name", "parallelism", "command"], "{problems:?}");
    h.create(job("dup", "sleep 5")).await;
    assert!(matches!(h.jobs.create_job(job("dup", "true"), JobOrigin::Api).await, Err(Error::AlreadyExists(_))));
    assert!(matches!(h.jobs.delete_job("nope").await, Err(Error::NotFound(_))));
    h.shutdown().await;
}

#[tokio::test]
async fn events_are_numbered_on_the_shared_bus_and_round_trip_as_json() {
    let mut h = start();
    // Another actor publishing on the same bus (as the process supervisor does).
    h.bus.publish("other", EventKind::Unregistered, None);
    h.create(job("numbered", "true")).await;
    h.finished("numbered").await;
    let snapshot = h.jobs.snapshot().await.expect("snapshot");
    let mut sunk = Vec::new();
    while let Ok(e) = h.sink.try_recv() {
        sunk.push(e);
    }
    assert!(sunk.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1), "gap-free on the sink");
    assert_eq!(snapshot.seq, sunk.last().expect("events").seq);
    assert_eq!(snapshot.jobs.len(), 1);
    for e in &sunk {
        let json = serde_json::to_value(&**e).expect("to json");
        let back: Event = serde_json::from_value(json.clone()).expect("from json");
        assert_eq!(&back, &**e, "{json}");
    }
    let json = serde_json::to_value(&*sunk[1]).expect("to json");
    assert_eq!(json["kind"], "job");
    assert_eq!(json["change"]["type"], "created");
    h.shutdown().await;
}

#[tokio::test]
async fn on_failure_restarts_an_index_in_place() {
    let mut h = start();
    let dir = h.dir.path().display().to_string();
    // Index 0 fails twice, then succeeds; index 1 succeeds at once.
    let command = format!(
        "n=$(cat {dir}/count-$JOB_COMPLETION_INDEX 2>/dev/null || echo 0); echo $((n + 1)) > {dir}/count-$JOB_COMPLETION_INDEX; \
         [ $JOB_COMPLETION_INDEX = 1 ] || [ $n -ge 2 ]"
    );
    let mut spec = job("inplace", &command);
    spec.completion_mode = CompletionMode::Indexed;
    spec.completions = Some(2);
    spec.parallelism = 2;
    spec.restart_policy = RestartPolicy::OnFailure;
    h.create(spec).await;
    let status = h.finished("inplace").await;
    assert_eq!((status.phase, status.succeeded, status.failed), (JobPhase::Succeeded, 2, 2), "{status:?}");
    assert_eq!(status.completed_indexes, "0-1");
    let attempts = h.jobs.get_job("inplace").await.expect("get").attempts;
    let index0: Vec<_> = attempts.iter().filter(|a| a.index == Some(0)).map(|a| (a.attempt, a.reason)).collect();
    assert_eq!(
        index0,
        [(0, Some(AttemptReason::Failed)), (1, Some(AttemptReason::Failed)), (2, Some(AttemptReason::Succeeded))]
    );
    // While index 0 restarted in place it stayed active: never more than two at once.
    assert!(h.job_events("inplace").iter().filter_map(|e| e.job.as_ref()).all(|s| s.active <= 2));
    h.shutdown().await;
}

#[tokio::test]
async fn shutdown_kills_running_attempts() {
    let mut h = start();
    let mut spec = job("endless", "sleep 30");
    spec.parallelism = 2;
    spec.completions = Some(2);
    h.create(spec).await;
    h.wait_job("endless", |j| j.job.as_ref().is_some_and(|s| s.active == 2)).await;
    let pids: Vec<u32> = h.jobs.get_job("endless").await.expect("get").attempts.iter().filter_map(|a| a.pid).collect();
    assert_eq!(pids.len(), 2);
    let jobs = h.jobs.clone();
    tokio::time::timeout(TIMEOUT, jobs.shutdown()).await.expect("shutdown in time");
    for pid in pids {
        assert!(!alive(pid), "{pid} outlived the shutdown");
    }
    let ended: Vec<_> = std::iter::from_fn(|| h.events.try_recv().ok())
        .filter_map(|e| match &e.kind {
            EventKind::Job(j) => match &j.change {
                JobChange::AttemptEnded { attempt } => Some(attempt.reason),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(ended, [Some(AttemptReason::Shutdown); 2]);
}
