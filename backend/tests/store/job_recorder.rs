//! The recorder with the jobs controller: job and cron events become job, attempt and
//! firing rows; a stale live row of a name the engine re-creates never blocks the recorder.

use crate::helpers::{on_both_backends, TestDb};
use backend::store::cronjobs::{self, FiringOutcome, FiringQuery};
use backend::store::jobs::{self as store, AttemptState, HistoryQuery, JobOrigin, JobRef, NewJob, RemovalReason};
use std::time::Duration;
use supervisor::cron::CronJobSpec;
use supervisor::jobs::{CronOptions, JobOrigin as EngineOrigin, JobPhase, JobSpec, Jobs, JobsConfig};
use supervisor::EventBus;

on_both_backends!(job_and_cron_events_become_rows, a_stale_live_row_does_not_block_a_new_job);

const TIMEOUT: Duration = Duration::from_secs(15);

struct Rig {
    bus: EventBus,
    jobs: supervisor::JobsHandle,
    recorder: backend::recorder::RecorderHandle,
    _dir: tempfile::TempDir,
}

fn start(t: &TestDb) -> Rig {
    let dir = tempfile::tempdir().expect("dir");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let bus = EventBus::new(4096, Some(tx));
    let log_dir = dir.path().join("logs");
    let (jobs, _) = Jobs::start(bus.clone(), JobsConfig { log_dir: Some(log_dir.clone()), ..JobsConfig::default() });
    let options = backend::recorder::RecorderOptions { job_log_dir: Some(log_dir) };
    let (recorder, _) = backend::recorder::spawn_with(t.db.clone(), rx, "test".into(), options);
    Rig { bus, jobs, recorder, _dir: dir }
}

impl Rig {
    async fn persisted(&self) {
        tokio::time::timeout(TIMEOUT, self.recorder.wait_persisted(self.bus.seq()))
            .await
            .expect("persisted in time")
            .expect("recorder running");
    }

    async fn wait_finished(&self, name: &str) {
        testkit::wait_until_async(&format!("{name} to finish"), TIMEOUT, || async {
            self.jobs.get_job(name).await.is_ok_and(|v| v.status.phase.is_finished())
        })
        .await;
    }
}

async fn job_and_cron_events_become_rows(t: TestDb) {
    let rig = start(&t);
    let mut spec = JobSpec::new("twice", "sh -c 'echo out; echo err >&2; exit 2'");
    (spec.backoff_limit, spec.backoff_base) = (1, Duration::from_millis(20));
    rig.jobs.create_job(spec, EngineOrigin::Api).await.expect("create");
    rig.wait_finished("twice").await;
    rig.persisted().await;
    let row = store::get(&t.db, JobRef::Live("twice")).await.expect("get").expect("row");
    assert_eq!((row.origin, row.status.phase, row.status.failed), (JobOrigin::Api, store::JobPhase::Failed, 2));
    let attempts = store::attempts(&t.db, JobRef::Id(row.id)).await.expect("attempts");
    assert_eq!(attempts.len(), 2);
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!((a.attempt, a.state, a.exit_code), (i as i32 + 1, AttemptState::Failed, Some(2)));
        let log = a.log_excerpt.as_deref().expect("an excerpt");
        assert!(log.contains("out") && log.contains("--- stderr ---\nerr"), "{log}");
    }
    // An attempt that cannot be spawned (its work_dir went away) has a row too.
    let work = tempfile::tempdir().expect("work dir");
    let work_path = work.path().to_path_buf();
    let mut spec = JobSpec::new("ghost", "true");
    (spec.work_dir, spec.suspend, spec.backoff_limit) = (Some(work.path().to_path_buf()), true, 0);
    rig.jobs.create_job(spec, EngineOrigin::Api).await.expect("create suspended");
    drop(work);
    rig.jobs.resume_job("ghost").await.expect("resume");
    rig.wait_finished("ghost").await;
    rig.persisted().await;
    let attempts = store::attempts(&t.db, JobRef::Live("ghost")).await.expect("attempts");
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!((attempts[0].state, attempts[0].pid), (AttemptState::Failed, None));
    let why = attempts[0].log_excerpt.as_deref().unwrap_or_default();
    assert!(why.contains(&work_path.display().to_string()), "the spawn error is kept: {why:?}");

    let cron = CronJobSpec::new("every", "@every 1s", JobSpec::new("", "true"));
    rig.jobs.add_cronjob(cron, CronOptions::default()).await.expect("cron");
    testkit::wait_until_async("a firing recorded", TIMEOUT, || async {
        rig.persisted().await;
        let page = cronjobs::firings(&t.db, &FiringQuery { cronjob: Some("every"), before: None, limit: 10 })
            .await
            .expect("firings");
        page.items.iter().any(|f| f.outcome == FiringOutcome::Created && f.job_id.is_some())
    })
    .await;
    let stored = cronjobs::get(&t.db, "every").await.expect("get").expect("row");
    assert!(stored.last_schedule_time.is_some());
    rig.jobs.delete_cronjob("every").await.expect("delete");
    rig.persisted().await;
    assert!(cronjobs::get(&t.db, "every").await.expect("get").is_none());
    let jobs = store::history(&t.db, &HistoryQuery { name: None, cronjob: Some("every"), before: None, limit: 10 })
        .await
        .expect("history");
    assert!(!jobs.items.is_empty());
    rig.jobs.shutdown().await;
}

async fn a_stale_live_row_does_not_block_a_new_job(t: TestDb) {
    // A live row left by an earlier daemon that the engine does not know.
    let old = NewJob {
        uid: store::new_uid(),
        name: "again".into(),
        origin: JobOrigin::Api,
        cronjob: None,
        spec: serde_json::json!({ "name": "again", "command": "true" }),
        status: store::JobStatus::pending(),
        created_at: chrono::Utc::now(),
    };
    let old = store::upsert(&t.db, &old).await.expect("old row");
    let rig = start(&t);
    rig.jobs.create_job(JobSpec::new("again", "true"), EngineOrigin::Api).await.expect("create");
    rig.wait_finished("again").await;
    rig.persisted().await;
    let live = store::get(&t.db, JobRef::Live("again")).await.expect("get").expect("live row");
    assert_ne!(live.id, old.id);
    assert_eq!(live.status.phase, store::JobPhase::Succeeded);
    let old = store::get(&t.db, JobRef::Id(old.id)).await.expect("get").expect("old row");
    assert_eq!(old.removed.map(|r| r.reason), Some(RemovalReason::Deleted));
    assert_eq!(rig.jobs.get_job("again").await.expect("live").status.phase, JobPhase::Succeeded);
    rig.jobs.shutdown().await;
}
