//! CronJobs with real time and real processes: fire times, job names, concurrency
//! policies, history limits, suspend/resume/trigger, missed runs.

use crate::helpers::*;
use chrono::{Timelike, Utc};
use supervisor::cron::{ConcurrencyPolicy, CronChange, CronJobSpec, FireOutcome};
use supervisor::jobs::{CronOptions, JobChange, JobOrigin, JobPhase, JobSpec, RemoveReason};
use supervisor::Error;

fn cronjob(name: &str, schedule: &str, command: &str) -> CronJobSpec {
    let mut template = job("", command);
    template.name = String::new();
    CronJobSpec::new(name, schedule, template)
}

fn fired(e: &supervisor::cron::CronEvent) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>, bool, FireOutcome) {
    match &e.change {
        CronChange::Fired { scheduled, actual, manual, outcome } => (*scheduled, *actual, *manual, outcome.clone()),
        other => panic!("not a firing: {other:?}"),
    }
}

#[tokio::test]
async fn a_six_field_schedule_fires_on_the_second_and_names_jobs_after_the_schedule_time() {
    let mut h = start();
    let mut spec = cronjob("tick", "* * * * * *", "true");
    spec.successful_jobs_history_limit = 1;
    let status = h.jobs.add_cronjob(spec, CronOptions::default()).await.expect("add");
    let next = status.next_schedule_time.expect("armed");
    assert_eq!(next.nanosecond(), 0, "a whole second");
    let mut jobs = Vec::new();
    for _ in 0..2 {
        let (scheduled, actual, manual, outcome) = fired(&h.fired("tick").await);
        assert!(!manual);
        assert_eq!(scheduled.nanosecond(), 0);
        let late = actual - scheduled;
        assert!(late >= chrono::Duration::zero() && late < chrono::Duration::milliseconds(200), "late by {late}");
        let FireOutcome::Created { job, replaced } = outcome else { panic!("skipped") };
        assert_eq!(job, format!("tick-{}", scheduled.timestamp()));
        assert!(replaced.is_empty());
        jobs.push(job);
    }
    // The first job finished long before the third firing; with a history limit of 1
    // the older of two successful jobs leaves the live list.
    let first = jobs[0].clone();
    let removed = h.wait_job(&first, |j| matches!(j.change, JobChange::Removed { .. })).await;
    assert_eq!(removed.change, JobChange::Removed { reason: RemoveReason::HistoryLimit });
    let view = h.jobs.get_cronjob("tick").await.expect("get");
    assert!(view.status.last_successful_time.is_some());
    assert!(view.jobs.iter().all(|j| j.name != first));
    let origin = &view.jobs[0].origin;
    assert!(matches!(origin, JobOrigin::CronJob { cronjob, manual: false, .. } if cronjob == "tick"), "{origin:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn forbid_skips_a_run_while_the_previous_one_is_active() {
    let mut h = start();
    let mut spec = cronjob("exclusive", "@every 1s", "sleep 2.5");
    spec.concurrency_policy = ConcurrencyPolicy::Forbid;
    h.jobs.add_cronjob(spec, CronOptions::default()).await.expect("add");
    let (_, _, _, first) = fired(&h.fired("exclusive").await);
    let FireOutcome::Created { job, .. } = first else { panic!("first run skipped") };
    let (_, _, _, second) = fired(&h.fired("exclusive").await);
    match second {
        FireOutcome::Skipped { reason } => assert!(reason.contains("Forbid") && reason.contains(&job), "{reason}"),
        other => panic!("second run not skipped: {other:?}"),
    }
    h.shutdown().await;
}

#[tokio::test]
async fn replace_kills_the_active_run_and_starts_the_new_one() {
    let mut h = start();
    let mut spec = cronjob("replacer", "@every 1s", "sleep 30");
    spec.concurrency_policy = ConcurrencyPolicy::Replace;
    h.jobs.add_cronjob(spec, CronOptions::default()).await.expect("add");
    let FireOutcome::Created { job: first, .. } = fired(&h.fired("replacer").await).3 else { panic!("skipped") };
    let FireOutcome::Created { job: second, replaced } = fired(&h.fired("replacer").await).3 else { panic!("skipped") };
    assert_eq!(replaced, std::slice::from_ref(&first));
    let removed = h.wait_job(&first, |j| matches!(j.change, JobChange::Removed { .. })).await;
    assert_eq!(removed.change, JobChange::Removed { reason: RemoveReason::Replaced });
    let view = h.jobs.get_job(&second).await.expect("the new run");
    assert_eq!(view.status.phase, JobPhase::Running);
    h.jobs.suspend_cronjob("replacer").await.expect("suspend");
    h.shutdown().await;
}

#[tokio::test]
async fn suspend_stops_scheduling_trigger_runs_now_and_next_fire_times_are_listed() {
    let mut h = start();
    let mut spec = cronjob("nightly", "30 2 * * *", "true");
    spec.time_zone = Some("Europe/Berlin".into());
    h.jobs.add_cronjob(spec, CronOptions::default()).await.expect("add");
    let times = h.jobs.next_fire_times("nightly", 5).await.expect("next");
    assert_eq!(times.len(), 5);
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().expect("tz");
    for t in &times {
        let local = t.with_timezone(&berlin);
        assert_eq!((local.hour(), local.minute()), (2, 30), "{t}");
    }
    let status = h.jobs.suspend_cronjob("nightly").await.expect("suspend");
    assert!(status.suspended && status.next_schedule_time.is_none());
    let job = h.jobs.trigger_cronjob("nightly").await.expect("trigger");
    assert!(job.starts_with("nightly-manual-"), "{job}");
    let (_, _, manual, _) = fired(&h.fired("nightly").await);
    assert!(manual);
    assert_eq!(h.finished(&job).await.phase, JobPhase::Succeeded);
    let status = h.jobs.resume_cronjob("nightly").await.expect("resume");
    assert_eq!(status.next_schedule_time, Some(times[0]));
    assert!(status.last_schedule_time.is_none(), "a manual run is not a schedule time");
    h.shutdown().await;
}

#[tokio::test]
async fn the_most_recent_missed_run_runs_on_registration_within_the_deadline() {
    let mut h = start();
    let now = Utc::now();
    // Every 10 minutes, last run 35 minutes ago: three missed, the latest runs now.
    let last = now - chrono::Duration::minutes(35);
    h.jobs
        .add_cronjob(
            cronjob("catchup", "*/10 * * * *", "true"),
            CronOptions { last_schedule_time: Some(last), ..Default::default() },
        )
        .await
        .expect("add");
    let (scheduled, _, _, outcome) = fired(&h.fired("catchup").await);
    assert!(scheduled > last && scheduled <= now && scheduled.minute() % 10 == 0, "{scheduled}");
    assert!(scheduled > now - chrono::Duration::minutes(10), "the most recent one: {scheduled}");
    assert!(matches!(outcome, FireOutcome::Created { .. }), "{outcome:?}");
    let status = h.jobs.get_cronjob("catchup").await.expect("get").status;
    assert_eq!(status.last_schedule_time, Some(scheduled));
    assert!(status.next_schedule_time.expect("next") > now);

    // With a starting deadline it has missed, it is skipped and said so.
    let mut spec = cronjob("strict", "*/10 * * * *", "true");
    spec.starting_deadline_seconds = Some(1);
    let last = Utc::now() - chrono::Duration::minutes(25);
    h.jobs.add_cronjob(spec, CronOptions { last_schedule_time: Some(last), ..Default::default() }).await.expect("add");
    let (scheduled, actual, _, outcome) = fired(&h.fired("strict").await);
    if actual - scheduled > chrono::Duration::seconds(1) {
        let FireOutcome::Skipped { reason } = outcome else { panic!("ran past its deadline") };
        assert!(reason.contains("starting deadline"), "{reason}");
    }

    // Over 100 missed runs: a warning event, and still the latest runs.
    let last = Utc::now() - chrono::Duration::seconds(300);
    h.jobs
        .add_cronjob(
            cronjob("busy", "* * * * * *", "true"),
            CronOptions { last_schedule_time: Some(last), ..Default::default() },
        )
        .await
        .expect("add");
    let warning = h.wait_cron("busy", |c| matches!(c.change, CronChange::TooManyMissed { .. })).await;
    assert!(matches!(warning.change, CronChange::TooManyMissed { missed: 101, .. }), "{warning:?}");
    h.jobs.delete_cronjob("busy").await.expect("delete");

    // With a starting deadline, only the times within it count toward the warning.
    let mut spec = cronjob("window", "* * * * * *", "true");
    spec.starting_deadline_seconds = Some(10);
    let last = Utc::now() - chrono::Duration::seconds(300);
    h.jobs.add_cronjob(spec, CronOptions { last_schedule_time: Some(last), ..Default::default() }).await.expect("add");
    let (_, _, _, outcome) = fired(&h.fired("window").await);
    assert!(matches!(outcome, FireOutcome::Created { .. }), "the latest is within the deadline: {outcome:?}");
    let warned = h.seen.iter().any(|e| {
        e.name == "window"
            && matches!(&e.kind, supervisor::EventKind::Cron(c) if matches!(c.change, CronChange::TooManyMissed { .. }))
    });
    assert!(!warned, "about 10 missed times within the deadline: no warning");
    h.jobs.delete_cronjob("window").await.expect("delete");
    h.shutdown().await;
}

#[tokio::test]
async fn bad_cronjobs_are_refused() {
    let h = start();
    let mut spec = cronjob("bad", "61 * * * *", "true");
    spec.time_zone = Some("Mars/Base".into());
    spec.job_template = JobSpec { parallelism: 0, ..spec.job_template };
    let Err(Error::InvalidSpec(problems)) = h.jobs.add_cronjob(spec, CronOptions::default()).await else {
        panic!("accepted")
    };
    let keys: Vec<_> = problems.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["schedule", "time_zone", "job_template"], "{problems:?}");
    h.jobs.add_cronjob(cronjob("ok", "@hourly", "true"), CronOptions::default()).await.expect("add");
    let dup = h.jobs.add_cronjob(cronjob("ok", "@hourly", "true"), CronOptions::default()).await;
    assert!(matches!(dup, Err(Error::AlreadyExists(_))));
    assert!(matches!(h.jobs.trigger_cronjob("nope").await, Err(Error::NotFound(_))));
    h.shutdown().await;
}
