//! Lifecycle hooks of job attempts and of cronjobs, with real processes: each hook
//! writes what it sees to a file, and the events say when it ran.

use crate::helpers::*;
use std::time::Duration;
use supervisor::cron::CronJobSpec;
use supervisor::hooks::{FailureMode, Hook, HookPhase, HookResult, RunMode};
use supervisor::jobs::{AttemptReason, CompletionMode, ConditionType, CronOptions, JobChange, JobEvent, JobPhase};

fn hook(name: &str, command: String, failure_mode: FailureMode, run_mode: RunMode) -> Hook {
    let mut h = Hook::new(name, command);
    (h.failure_mode, h.run_mode, h.timeout) = (failure_mode, run_mode, Duration::from_secs(10));
    h
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A short name for each event of interest, in order: `started`, `ended`, `killing`,
/// `finished`, `<phase>:<hook>` (a hook's end).
fn timeline(events: &[JobEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.change {
            JobChange::AttemptStarted { .. } => Some("started".to_string()),
            JobChange::AttemptEnded { .. } => Some("ended".to_string()),
            JobChange::Killing { .. } => Some("killing".to_string()),
            JobChange::Finished { .. } => Some("finished".to_string()),
            JobChange::HookFinished { phase, hook, .. } => Some(format!("{phase}:{hook}")),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_failing_pre_start_hook_fails_the_attempt_unspawned_and_counts_toward_the_backoff() {
    let mut h = start();
    let ran = h.path("ran");
    let mut spec = job("gated", &format!("echo ran >> {}", ran.display()));
    spec.backoff_limit = 2;
    spec.lifecycle.pre_start =
        vec![hook("check", "echo not ready; exit 3".into(), FailureMode::Fail, RunMode::Blocking)];
    h.create(spec).await;
    let status = h.finished("gated").await;
    assert_eq!((status.phase, status.failed, status.succeeded), (JobPhase::Failed, 3, 0));
    let failed = status.conditions.iter().find(|c| c.type_ == ConditionType::Failed).expect("Failed condition");
    assert_eq!(failed.reason, "BackoffLimitExceeded");
    assert!(!ran.exists(), "the command never ran");
    let attempts = h.jobs.get_job("gated").await.expect("get").attempts;
    assert_eq!(attempts.len(), 3);
    for a in &attempts {
        assert_eq!((a.pid, a.reason), (None, Some(AttemptReason::HookFailed)), "{a:?}");
        let message = a.message.as_deref().unwrap_or_default();
        assert!(message.starts_with("pre_start hook \"check\" exited with code 3"), "{message}");
    }
    let events = h.job_events("gated");
    let outputs: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.change {
            JobChange::HookFinished { phase, hook, result, output, attempts, .. } => {
                Some((*phase, hook.clone(), result.clone(), output.clone(), *attempts))
            }
            _ => None,
        })
        .collect();
    assert_eq!(outputs.len(), 3);
    for o in outputs {
        assert_eq!(o, (HookPhase::PreStart, "check".into(), HookResult::Failed { code: 3 }, "not ready\n".into(), 1));
    }
    assert!(!events.iter().any(|e| matches!(e.change, JobChange::AttemptStarted { .. })));
    h.shutdown().await;
}

#[tokio::test]
async fn ignore_goes_on_and_retry_runs_a_failing_pre_start_hook_once_more() {
    let mut h = start();
    let ran = h.path("ran");
    let flag = h.path("flag");
    let mut spec = job("tolerant", &format!("echo ran >> {}", ran.display()));
    spec.backoff_limit = 0;
    spec.lifecycle.pre_start = vec![
        hook("flaky", "exit 1".into(), FailureMode::Ignore, RunMode::Blocking),
        // Fails the first time, succeeds the second.
        hook(
            "second-time",
            format!("test -e {f} || {{ touch {f}; exit 1; }}", f = flag.display()),
            FailureMode::Retry,
            RunMode::Blocking,
        ),
    ];
    h.create(spec).await;
    let status = h.finished("tolerant").await;
    assert_eq!((status.phase, status.failed, status.succeeded), (JobPhase::Succeeded, 0, 1));
    assert_eq!(read(&ran), "ran\n");
    let ends: Vec<_> = h
        .job_events("tolerant")
        .into_iter()
        .filter_map(|e| match e.change {
            JobChange::HookFinished { hook, result, attempts, .. } => Some((hook, result, attempts)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ends,
        [("flaky".into(), HookResult::Failed { code: 1 }, 1), ("second-time".into(), HookResult::Succeeded, 2)]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn hooks_see_the_attempt_environment_and_the_job_finishes_after_post_stop() {
    let mut h = start();
    let seen = h.path("seen");
    let mut spec = job("indexed", "true");
    (spec.completion_mode, spec.completions, spec.parallelism) = (CompletionMode::Indexed, Some(2), 1);
    spec.env.0.insert("CUSTOM".into(), "yes".into());
    let line = format!(
        "echo \"$PROVISR_PROCESS_NAME $PROVISR_HOOK_NAME $PROVISR_HOOK_PHASE $JOB_NAME $JOB_COMPLETION_INDEX $CUSTOM\" >> {}",
        seen.display()
    );
    spec.lifecycle.pre_start = vec![hook("setup", line.clone(), FailureMode::Fail, RunMode::Blocking)];
    // Slower than the attempt: the job must wait for it.
    spec.lifecycle.post_stop =
        vec![hook("cleanup", format!("sleep 0.3; {line}"), FailureMode::Ignore, RunMode::Blocking)];
    h.create(spec).await;
    let status = h.finished("indexed").await;
    assert_eq!(status.phase, JobPhase::Succeeded);
    let mut lines: Vec<_> = read(&seen).lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "indexed-0-0 cleanup post_stop indexed 0 yes",
            "indexed-0-0 setup pre_start indexed 0 yes",
            "indexed-1-0 cleanup post_stop indexed 1 yes",
            "indexed-1-0 setup pre_start indexed 1 yes",
        ]
    );
    let events = h.job_events("indexed");
    let t = timeline(&events);
    assert_eq!(t.last().map(String::as_str), Some("finished"), "{t:?}");
    assert_eq!(t.iter().filter(|s| *s == "post_stop:cleanup").count(), 2, "{t:?}");
    // Each attempt: setup, started, ended, then its cleanup (which may overlap the next).
    let first_start = t.iter().position(|s| s == "started").expect("started");
    assert_eq!(t[first_start - 1], "pre_start:setup");
    h.shutdown().await;
}

#[tokio::test]
async fn a_deadline_kill_runs_pre_stop_before_the_signal_and_post_stop_after_the_end() {
    let mut h = start();
    let log = h.path("log");
    let pid = h.path("pid");
    let mut spec = job("bounded", &format!("echo $$ > {}; exec sleep 30", pid.display()));
    spec.active_deadline_seconds = Some(1);
    // pre_stop sees the attempt still running.
    spec.lifecycle.pre_stop = vec![hook(
        "drain",
        format!("kill -0 $(cat {}) && echo drain-while-running >> {}", pid.display(), log.display()),
        FailureMode::Ignore,
        RunMode::Blocking,
    )];
    spec.lifecycle.post_stop =
        vec![hook("after", format!("echo after >> {}", log.display()), FailureMode::Ignore, RunMode::Blocking)];
    h.create(spec).await;
    let status = h.finished("bounded").await;
    let failed = status.conditions.iter().find(|c| c.type_ == ConditionType::Failed).expect("Failed condition");
    assert_eq!(failed.reason, "DeadlineExceeded");
    assert_eq!(read(&log), "drain-while-running\nafter\n");
    let t = timeline(&h.job_events("bounded"));
    assert_eq!(t, ["started", "pre_stop:drain", "killing", "ended", "post_stop:after", "finished"]);
    let a = &h.jobs.get_job("bounded").await.expect("get").attempts[0];
    assert_eq!((a.reason, a.signal), (Some(AttemptReason::DeadlineExceeded), Some(15)));
    h.shutdown().await;
}

#[tokio::test]
async fn an_async_post_start_hook_outlives_its_attempt_and_a_failing_blocking_one_kills_it() {
    let mut h = start();
    let done = h.path("done");
    let mut spec = job("notify", "true");
    spec.lifecycle.post_start =
        vec![hook("announce", format!("sleep 0.5; echo done > {}", done.display()), FailureMode::Fail, RunMode::Async)];
    h.create(spec).await;
    let status = h.finished("notify").await;
    assert_eq!(status.phase, JobPhase::Succeeded, "an async hook never fails the attempt");
    let e =
        h.wait_job("notify", |j| matches!(j.change, JobChange::HookFinished { phase: HookPhase::PostStart, .. })).await;
    let JobChange::HookFinished { result, run_mode, .. } = e.change else { unreachable!() };
    assert_eq!((result, run_mode), (HookResult::Succeeded, RunMode::Async));
    assert_eq!(read(&done), "done\n", "it ran to its end after the attempt ended");

    // A blocking post_start hook in fail mode that fails: the attempt is killed, counted.
    let mut spec = job("unwarmed", "sleep 30");
    spec.backoff_limit = 0;
    spec.lifecycle.post_start = vec![hook("warm", "exit 4".into(), FailureMode::Fail, RunMode::Blocking)];
    h.create(spec).await;
    let status = h.finished("unwarmed").await;
    assert_eq!((status.phase, status.failed), (JobPhase::Failed, 1));
    let a = &h.jobs.get_job("unwarmed").await.expect("get").attempts[0];
    assert_eq!((a.reason, a.signal), (Some(AttemptReason::HookFailed), Some(15)), "{a:?}");
    assert!(a.message.as_deref().unwrap_or_default().contains("post_start hook \"warm\" exited with code 4"));
    h.shutdown().await;
}

#[tokio::test]
async fn cronjob_hooks_are_merged_over_the_templates_in_the_created_job() {
    let mut h = start();
    let order = h.path("order");
    let write = |name: &str, who: &str, phase_mode: FailureMode| {
        hook(name, format!("echo {name}-{who} >> {}", order.display()), phase_mode, RunMode::Blocking)
    };
    let mut template = job("", "true");
    template.lifecycle.pre_start =
        vec![write("shared", "template", FailureMode::Fail), write("disk", "template", FailureMode::Fail)];
    template.lifecycle.post_stop = vec![write("verify", "template", FailureMode::Retry)];
    let mut spec = CronJobSpec::new("backup", "@yearly", template);
    spec.lifecycle.pre_start =
        vec![write("maint", "cron", FailureMode::Fail), write("shared", "cron", FailureMode::Fail)];
    spec.lifecycle.post_stop = vec![write("metrics", "cron", FailureMode::Ignore)];
    h.jobs.add_cronjob(spec, CronOptions::default()).await.expect("add");
    let name = h.jobs.trigger_cronjob("backup").await.expect("trigger");
    let status = h.finished(&name).await;
    assert_eq!(status.phase, JobPhase::Succeeded);
    let job = h.jobs.get_job(&name).await.expect("get").spec;
    let names = |hooks: &[Hook]| hooks.iter().map(|h| h.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&job.lifecycle.pre_start), ["maint", "shared", "disk"]);
    assert_eq!(names(&job.lifecycle.post_stop), ["metrics", "verify"]);
    assert_eq!(
        read(&order),
        "maint-cron\nshared-cron\ndisk-template\nmetrics-cron\nverify-template\n",
        "they ran in the merged order, the cronjob's `shared` in place of the template's"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn deleting_a_job_during_a_pre_start_hook_ends_the_attempt_unspawned_at_once() {
    let mut h = start();
    let ran = h.path("ran");
    let mut spec = job("waiting", &format!("echo ran >> {}", ran.display()));
    spec.lifecycle.pre_start = vec![hook("slow", "sleep 5".into(), FailureMode::Fail, RunMode::Blocking)];
    h.create(spec).await;
    h.wait_job("waiting", |j| matches!(j.change, JobChange::HookStarted { phase: HookPhase::PreStart, .. })).await;
    let asked = std::time::Instant::now();
    h.jobs.delete_job("waiting").await.expect("delete");
    assert!(asked.elapsed() < Duration::from_secs(2), "not held by the hook: {:?}", asked.elapsed());
    let ended = h.wait_job("waiting", |j| matches!(j.change, JobChange::AttemptEnded { .. })).await;
    let JobChange::AttemptEnded { attempt } = ended.change else { unreachable!() };
    assert_eq!((attempt.pid, attempt.reason), (None, Some(AttemptReason::Deleted)));
    assert!(!ran.exists());
    h.shutdown().await;
}
