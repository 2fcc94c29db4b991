//! Jobs and attempts: round trips, the live list versus the history, live-name conflicts,
//! paging, and closing what was in flight after a restart.

use crate::helpers::{on_both_backends, TestDb};
use backend::entity::{job, job_attempt};
use backend::store::jobs::{
    self, AttemptEnd, AttemptRef, AttemptState, Closed, HistoryQuery, InFlight, JobCondition, JobOrigin, JobPhase,
    JobRef, JobStatus, NewAttempt, NewJob, Removal, RemovalReason, StoredJob, LOG_EXCERPT_MAX_BYTES,
};
use backend::StoreError;
use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set, TransactionTrait};
use serde_json::json;

on_both_backends!(
    job_round_trip_and_status_updates,
    duplicate_live_name_is_a_conflict,
    concurrent_creates_of_one_name_yield_one_job_and_conflicts,
    history_survives_removal_from_the_live_list,
    history_pages_newest_first,
    attempts_round_trip,
    close_in_flight_never_leaves_a_running_attempt,
);

/// A fixed instant with nanoseconds, so that the store's microsecond rounding shows.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).single().expect("a valid date") + Duration::nanoseconds(123_456_789)
}

fn new_job(name: &str, uid: &str) -> NewJob {
    NewJob {
        uid: uid.into(),
        name: name.into(),
        origin: JobOrigin::Api,
        cronjob: None,
        spec: json!({"name": name, "command": "sh -c 'exit 0'", "completions": 3, "parallelism": 2}),
        status: JobStatus::pending(),
        created_at: t0(),
    }
}

async fn create(t: &TestDb, name: &str, uid: &str) -> StoredJob {
    jobs::upsert(&t.db, &new_job(name, uid)).await.expect("upsert a job")
}

fn running_status(at: DateTime<Utc>) -> JobStatus {
    JobStatus {
        phase: JobPhase::Running,
        active: 2,
        succeeded: 1,
        failed: 0,
        completed_indexes: "0".into(),
        failed_indexes: String::new(),
        conditions: Vec::new(),
        start_time: Some(at),
        completion_time: None,
    }
}

fn live_names(list: &[StoredJob]) -> Vec<&str> {
    list.iter().map(|j| j.name.as_str()).collect()
}

async fn job_round_trip_and_status_updates(t: TestDb) {
    let mut new = new_job("backup", "uid-backup");
    new.origin = JobOrigin::Cronjob;
    new.cronjob = Some("nightly".into());
    let stored = jobs::upsert(&t.db, &new).await.expect("upsert");
    assert_eq!(stored.uid, "uid-backup");
    assert_eq!(stored.name, "backup");
    assert_eq!(stored.origin, JobOrigin::Cronjob);
    assert_eq!(stored.cronjob.as_deref(), Some("nightly"));
    assert_eq!(stored.spec, new.spec, "the spec JSON round-trips");
    assert_eq!(stored.status, JobStatus::pending());
    assert_eq!(stored.created_at, t0().trunc_subsecs(6), "timestamps are kept to the microsecond");
    assert_eq!(stored.removed, None);

    for r in [JobRef::Id(stored.id), JobRef::Uid("uid-backup"), JobRef::Live("backup")] {
        assert_eq!(jobs::get(&t.db, r).await.expect("get"), Some(stored.clone()), "{r:?} finds the job");
    }
    assert_eq!(jobs::get(&t.db, JobRef::Live("nope")).await.expect("get"), None);

    let finished_at = t0() + Duration::seconds(42);
    let status = JobStatus {
        phase: JobPhase::Failed,
        active: 0,
        succeeded: 2,
        failed: 7,
        completed_indexes: "0,2-4".into(),
        failed_indexes: "1".into(),
        conditions: vec![
            JobCondition {
                kind: "Suspended".into(),
                status: false,
                reason: Some("JobResumed".into()),
                message: None,
                last_transition_time: t0() + Duration::seconds(1),
            },
            JobCondition {
                kind: "Failed".into(),
                status: true,
                reason: Some("BackoffLimitExceeded".into()),
                message: Some("Job has reached the specified backoff limit".into()),
                last_transition_time: finished_at,
            },
        ],
        start_time: Some(t0()),
        completion_time: Some(finished_at),
    };
    jobs::update_status(&t.db, JobRef::Live("backup"), &status).await.expect("update_status");
    let read = jobs::get(&t.db, JobRef::Id(stored.id)).await.expect("get").expect("still there");
    assert_eq!(read.status.phase, JobPhase::Failed);
    assert_eq!((read.status.active, read.status.succeeded, read.status.failed), (0, 2, 7));
    assert_eq!(read.status.completed_indexes, "0,2-4");
    assert_eq!(read.status.failed_indexes, "1");
    assert_eq!(read.status.conditions, status.conditions, "conditions round-trip through JSON");
    assert_eq!(read.status.start_time, Some(t0().trunc_subsecs(6)));
    assert_eq!(read.status.completion_time, Some(finished_at.trunc_subsecs(6)));

    let spec = json!({"name": "backup", "command": "true", "suspend": true});
    jobs::set_spec(&t.db, JobRef::Uid("uid-backup"), &spec).await.expect("set_spec");
    assert_eq!(jobs::get(&t.db, JobRef::Id(stored.id)).await.expect("get").expect("there").spec, spec);

    let missing = jobs::update_status(&t.db, JobRef::Live("nope"), &status).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "unknown job: {missing:?}");
    let missing = jobs::set_spec(&t.db, JobRef::Id(999_999), &spec).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "unknown job: {missing:?}");

    // Recording the same creation again (same uid) replaces, it does not add or conflict.
    let again = jobs::upsert(&t.db, &new).await.expect("the same uid again is not a conflict");
    assert_eq!(again.id, stored.id);
    assert_eq!(again.status, JobStatus::pending(), "the status is replaced");
    assert_eq!(again.spec, new.spec);
    assert_eq!(job::Entity::find().count(&t.db).await.expect("count"), 1);

    let long = "x".repeat(jobs::NAME_MAX_BYTES + 1);
    let too_long = jobs::upsert(&t.db, &new_job(&long, "uid-long")).await;
    assert!(matches!(too_long, Err(StoreError::Invalid(_))), "a name longer than its column: {too_long:?}");
}

async fn duplicate_live_name_is_a_conflict(t: TestDb) {
    let first = create(&t, "migrate", "uid-1").await;
    let dup = jobs::upsert(&t.db, &new_job("migrate", "uid-2")).await;
    match dup {
        Err(StoreError::Conflict(msg)) => assert!(msg.contains("migrate"), "the message names the job: {msg}"),
        other => panic!("a second live job with the same name must be a conflict, got {other:?}"),
    }
    assert_eq!(job::Entity::find().count(&t.db).await.expect("count"), 1, "nothing was written");

    // The database itself refuses a second live row with the name (the index decides races).
    let now = Utc::now();
    let raw = |uid: &str, deleted_at: Option<DateTime<Utc>>| job::ActiveModel {
        uid: Set(uid.into()),
        name: Set("migrate".into()),
        origin: Set("api".into()),
        cronjob: Set(None),
        spec: Set("{}".into()),
        phase: Set("Pending".into()),
        active: Set(0),
        succeeded: Set(0),
        failed: Set(0),
        completed_indexes: Set(String::new()),
        failed_indexes: Set(String::new()),
        conditions: Set("[]".into()),
        start_time: Set(None),
        completion_time: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(deleted_at),
        removed_reason: Set(deleted_at.map(|_| "deleted".to_string())),
        ..Default::default()
    };
    let err = raw("uid-raw", None).insert(&t.db).await.expect_err("the partial unique index refuses it");
    assert!(
        matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))),
        "a unique violation: {err:?}"
    );
    raw("uid-removed", Some(now)).insert(&t.db).await.expect("a removed row may share the name");

    // Once the live job is removed, the name is free again.
    assert!(jobs::remove(&t.db, JobRef::Live("migrate"), RemovalReason::Deleted, now).await.expect("remove"));
    let second = create(&t, "migrate", "uid-2").await;
    assert_ne!(second.id, first.id, "a new incarnation is a new row");
    assert_eq!(live_names(&jobs::list_live(&t.db).await.expect("list_live")), ["migrate"]);
    assert_eq!(
        jobs::get(&t.db, JobRef::Live("migrate")).await.expect("get").map(|j| j.uid),
        Some("uid-2".to_string()),
        "the live name points at the new incarnation"
    );
    let third = jobs::upsert(&t.db, &new_job("migrate", "uid-3")).await;
    assert!(matches!(third, Err(StoreError::Conflict(_))), "still one live job per name: {third:?}");
    // Recording the removed incarnation again (a replayed creation) is no conflict and
    // does not bring it back.
    let replay = jobs::upsert(&t.db, &new_job("migrate", "uid-1")).await.expect("replaying a removed job");
    assert_eq!(replay.id, first.id);
    assert!(replay.removed.is_some(), "it stays removed");

    // Inside a caller's transaction the conflict is reported without breaking the transaction.
    let txn = t.db.begin().await.expect("begin");
    let in_txn = jobs::upsert(&txn, &new_job("migrate", "uid-4")).await;
    assert!(matches!(in_txn, Err(StoreError::Conflict(_))), "{in_txn:?}");
    create_in(&txn, "other", "uid-5").await;
    txn.commit().await.expect("the transaction can still commit");
    assert_eq!(live_names(&jobs::list_live(&t.db).await.expect("list_live")), ["migrate", "other"]);
}

async fn concurrent_creates_of_one_name_yield_one_job_and_conflicts(t: TestDb) {
    // Sixteen creations of the same name race (pool connections, no transaction): whatever
    // the interleaving, one wins and every other one is a conflict, never a database error.
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let db = t.db.clone();
            tokio::spawn(async move { jobs::upsert(&db, &new_job("race", &format!("uid-race-{i}"))).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.expect("the task ran") {
            Ok(_) => won += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("a lost race must be a conflict, got {other:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(job::Entity::find().count(&t.db).await.expect("count"), 1);
}

async fn create_in(db: &impl sea_orm::ConnectionTrait, name: &str, uid: &str) -> StoredJob {
    jobs::upsert(db, &new_job(name, uid)).await.expect("upsert a job")
}

async fn history_survives_removal_from_the_live_list(t: TestDb) {
    let a = create(&t, "a", "uid-a").await;
    let b = create(&t, "b", "uid-b").await;
    let c = create(&t, "c", "uid-c").await;
    jobs::insert_attempt(
        &t.db,
        JobRef::Id(a.id),
        &NewAttempt { completion_index: None, attempt: 1, pid: Some(4242), started_at: t0() },
    )
    .await
    .expect("an attempt of a");
    assert_eq!(live_names(&jobs::list_live(&t.db).await.expect("list_live")), ["a", "b", "c"]);

    let ttl_at = t0() + Duration::minutes(5);
    assert!(jobs::remove(&t.db, JobRef::Uid("uid-a"), RemovalReason::Ttl, ttl_at).await.expect("ttl"));
    assert!(jobs::remove(&t.db, JobRef::Live("c"), RemovalReason::HistoryLimit, ttl_at).await.expect("limit"));
    assert!(
        !jobs::remove(&t.db, JobRef::Id(a.id), RemovalReason::Deleted, Utc::now()).await.expect("again"),
        "removing twice reports nothing removed"
    );
    assert!(!jobs::remove(&t.db, JobRef::Live("zzz"), RemovalReason::Deleted, Utc::now()).await.expect("unknown"));

    assert_eq!(live_names(&jobs::list_live(&t.db).await.expect("list_live")), ["b"], "removed jobs leave the list");
    let all = jobs::history(&t.db, &HistoryQuery { limit: 10, ..Default::default() }).await.expect("history");
    assert_eq!(all.items.iter().map(|j| j.id).collect::<Vec<_>>(), [c.id, b.id, a.id], "newest first");
    assert_eq!(all.next_before, None);
    let removed: Vec<Option<Removal>> = all.items.iter().map(|j| j.removed).collect();
    let ttl_at = ttl_at.trunc_subsecs(6);
    assert_eq!(
        removed,
        [
            Some(Removal { at: ttl_at, reason: RemovalReason::HistoryLimit }),
            None,
            Some(Removal { at: ttl_at, reason: RemovalReason::Ttl }),
        ],
        "the first removal's reason and time are kept"
    );
    let kept = jobs::attempts(&t.db, JobRef::Id(a.id)).await.expect("attempts of a removed job");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].pid, Some(4242));
    assert_eq!(jobs::get(&t.db, JobRef::Live("a")).await.expect("get"), None, "no live job named a");
    assert!(jobs::get(&t.db, JobRef::Uid("uid-a")).await.expect("get").is_some(), "but its row is there");

    // The name is reused; history by name shows both incarnations, newest first.
    let a2 = create(&t, "a", "uid-a2").await;
    let by_name = jobs::history(&t.db, &HistoryQuery { name: Some("a"), limit: 10, ..Default::default() })
        .await
        .expect("by name");
    assert_eq!(
        by_name.items.iter().map(|j| (j.id, j.removed.is_some())).collect::<Vec<_>>(),
        [(a2.id, false), (a.id, true)]
    );
    // A late status update of the removed incarnation (by id) does not touch the new one.
    jobs::update_status(&t.db, JobRef::Id(a.id), &running_status(t0())).await.expect("update the removed row");
    assert_eq!(jobs::get(&t.db, JobRef::Live("a")).await.expect("get").expect("live a").status, JobStatus::pending());
}

async fn history_pages_newest_first(t: TestDb) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut new = new_job(&format!("run-{i}"), &format!("uid-{i}"));
        if i % 2 == 0 {
            new.origin = JobOrigin::Cronjob;
            new.cronjob = Some("nightly".into());
        }
        ids.push(jobs::upsert(&t.db, &new).await.expect("upsert").id);
        if i < 3 {
            jobs::remove(&t.db, JobRef::Id(ids[i]), RemovalReason::Ttl, t0()).await.expect("remove");
        }
    }
    ids.reverse();

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut before = None;
    loop {
        let page =
            jobs::history(&t.db, &HistoryQuery { before, limit: 3, ..Default::default() }).await.expect("a page");
        pages += 1;
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|j| j.id));
        match page.next_before {
            Some(next) => {
                assert_eq!(Some(next), page.items.last().map(|j| j.id), "the cursor is the last row shown");
                before = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(seen, ids, "every job once, newest first, removed ones included");
    assert_eq!(pages, 3, "7 rows in pages of 3");

    let exact = jobs::history(&t.db, &HistoryQuery { limit: 7, ..Default::default() }).await.expect("one page");
    assert_eq!(exact.items.len(), 7);
    assert_eq!(exact.next_before, None, "no empty page after an exactly full one");

    let nightly = jobs::history(&t.db, &HistoryQuery { cronjob: Some("nightly"), limit: 10, ..Default::default() })
        .await
        .expect("by cronjob");
    assert_eq!(live_names(&nightly.items), ["run-6", "run-4", "run-2", "run-0"]);

    for limit in [0, backend::store::MAX_PAGE + 1] {
        let bad = jobs::history(&t.db, &HistoryQuery { limit, ..Default::default() }).await;
        assert!(matches!(bad, Err(StoreError::Invalid(_))), "limit {limit}: {bad:?}");
    }
}

fn ended(state: AttemptState, secs: i64, code: Option<i32>, signal: Option<i32>, reason: &str) -> AttemptEnd {
    AttemptEnd {
        state,
        finished_at: t0() + Duration::seconds(secs),
        exit_code: code,
        signal,
        reason: Some(reason.into()),
        log_excerpt: None,
    }
}

async fn attempts_round_trip(t: TestDb) {
    let job = create(&t, "indexed", "uid-indexed").await;
    let start = |index: i32, attempt: i32, pid: i64| NewAttempt {
        completion_index: Some(index),
        attempt,
        pid: Some(pid),
        started_at: t0() + Duration::seconds(i64::from(attempt)),
    };
    // Recorded out of order on purpose.
    let i1a1 = jobs::insert_attempt(&t.db, JobRef::Live("indexed"), &start(1, 1, 300)).await.expect("1/1");
    let i0a1 = jobs::insert_attempt(&t.db, JobRef::Live("indexed"), &start(0, 1, 100)).await.expect("0/1");
    let i0a2 = jobs::insert_attempt(&t.db, JobRef::Uid("uid-indexed"), &start(0, 2, 200)).await.expect("0/2");

    let failed = AttemptRef::Of { job: JobRef::Live("indexed"), completion_index: Some(0), attempt: 1 };
    assert!(jobs::finish_attempt(&t.db, failed, &ended(AttemptState::Failed, 5, Some(3), None, "Failed"))
        .await
        .expect("finish 0/1"));
    // A log longer than the bound, with multi-byte characters around the cut.
    let log = format!("{}{}END", "é".repeat(LOG_EXCERPT_MAX_BYTES), "line\n".repeat(10));
    let mut ok = ended(AttemptState::Succeeded, 9, Some(0), None, "Completed");
    ok.log_excerpt = Some(log.clone());
    assert!(jobs::finish_attempt(&t.db, AttemptRef::Id(i0a2), &ok).await.expect("finish 0/2"));
    assert!(
        !jobs::finish_attempt(&t.db, AttemptRef::Id(i0a2), &ended(AttemptState::Failed, 10, None, Some(9), "Killed"))
            .await
            .expect("a second end"),
        "the first end recorded wins"
    );

    let list = jobs::attempts(&t.db, JobRef::Id(job.id)).await.expect("attempts");
    let keys: Vec<(Option<i32>, i32, i64)> = list.iter().map(|a| (a.completion_index, a.attempt, a.id)).collect();
    assert_eq!(keys, [(Some(0), 1, i0a1), (Some(0), 2, i0a2), (Some(1), 1, i1a1)], "by index, then attempt");
    let (a01, a02, a11) = (&list[0], &list[1], &list[2]);
    assert_eq!(a01.state, AttemptState::Failed);
    assert_eq!((a01.exit_code, a01.signal, a01.reason.as_deref()), (Some(3), None, Some("Failed")));
    assert_eq!(a01.finished_at, Some((t0() + Duration::seconds(5)).trunc_subsecs(6)));
    assert_eq!(a02.state, AttemptState::Succeeded);
    assert_eq!(a02.reason.as_deref(), Some("Completed"), "the second end did not overwrite the first");
    let excerpt = a02.log_excerpt.as_deref().expect("an excerpt");
    assert!(excerpt.len() <= LOG_EXCERPT_MAX_BYTES, "bounded: {} bytes", excerpt.len());
    assert!(excerpt.len() > LOG_EXCERPT_MAX_BYTES - 4, "as much as fits is kept");
    assert!(log.ends_with(excerpt) && excerpt.ends_with("line\nEND"), "the end of the output is kept");
    assert_eq!(a11.state, AttemptState::Running);
    assert_eq!((a11.pid, a11.finished_at, a11.reason.as_deref()), (Some(300), None, None));

    // A non-indexed attempt is addressed with no completion index.
    let plain = create(&t, "plain", "uid-plain").await;
    let p1 = NewAttempt { completion_index: None, attempt: 1, pid: None, started_at: t0() };
    jobs::insert_attempt(&t.db, JobRef::Id(plain.id), &p1).await.expect("a spawn that failed has no pid");
    let of_plain = AttemptRef::Of { job: JobRef::Live("plain"), completion_index: None, attempt: 1 };
    assert!(jobs::finish_attempt(&t.db, of_plain, &ended(AttemptState::Failed, 1, None, None, "SpawnFailed"))
        .await
        .expect("finish"));
    assert_eq!(jobs::attempts(&t.db, JobRef::Id(plain.id)).await.expect("attempts")[0].state, AttemptState::Failed);

    // Bad input.
    let running_end =
        jobs::finish_attempt(&t.db, AttemptRef::Id(i1a1), &ended(AttemptState::Running, 1, None, None, "x")).await;
    assert!(matches!(running_end, Err(StoreError::Invalid(_))), "{running_end:?}");
    let long_reason = "R".repeat(jobs::REASON_MAX_BYTES + 1);
    let too_long =
        jobs::finish_attempt(&t.db, AttemptRef::Id(i1a1), &ended(AttemptState::Failed, 1, None, None, &long_reason))
            .await;
    assert!(matches!(too_long, Err(StoreError::Invalid(_))), "{too_long:?}");
    let unknown = jobs::insert_attempt(&t.db, JobRef::Live("nope"), &p1).await;
    assert!(matches!(unknown, Err(StoreError::NotFound(_))), "{unknown:?}");
    let unknown = jobs::attempts(&t.db, JobRef::Uid("nope")).await;
    assert!(matches!(unknown, Err(StoreError::NotFound(_))), "{unknown:?}");
    assert_eq!(
        jobs::running_attempts(&t.db).await.expect("running").iter().map(|r| r.attempt.id).collect::<Vec<_>>(),
        [i1a1],
        "bad input changed nothing"
    );
}

async fn close_in_flight_never_leaves_a_running_attempt(t: TestDb) {
    let attempt =
        |n: i32, pid: i64| NewAttempt { completion_index: None, attempt: n, pid: Some(pid), started_at: t0() };
    let mut ids = std::collections::BTreeMap::new();
    // name, phase, running attempts (pids)
    let cases: [(&str, JobPhase, &[i64]); 7] = [
        ("adopted", JobPhase::Running, &[11, 12]),
        ("lost", JobPhase::Running, &[21]),
        ("pending", JobPhase::Pending, &[]),
        ("resumed", JobPhase::Running, &[41]),
        ("suspended", JobPhase::Suspended, &[]),
        ("done", JobPhase::Succeeded, &[]),
        ("deleted", JobPhase::Running, &[71]),
    ];
    for (name, phase, pids) in cases {
        let job = create(&t, name, &format!("uid-{name}")).await;
        let mut status = running_status(t0());
        status.phase = phase;
        status.failed = 1;
        jobs::update_status(&t.db, JobRef::Id(job.id), &status).await.expect("status");
        for (n, pid) in pids.iter().enumerate() {
            jobs::insert_attempt(&t.db, JobRef::Id(job.id), &attempt(n as i32 + 1, *pid)).await.expect("attempt");
        }
        ids.insert(name, job.id);
    }
    // A finished attempt of `done` must stay as it is.
    let done_attempt = jobs::insert_attempt(&t.db, JobRef::Id(ids["done"]), &attempt(1, 51)).await.expect("attempt");
    jobs::finish_attempt(
        &t.db,
        AttemptRef::Id(done_attempt),
        &ended(AttemptState::Succeeded, 3, Some(0), None, "Completed"),
    )
    .await
    .expect("finish");
    jobs::remove(&t.db, JobRef::Live("deleted"), RemovalReason::Deleted, t0()).await.expect("remove");

    let running = jobs::running_attempts(&t.db).await.expect("running_attempts");
    let running_pids: Vec<(i64, &str)> =
        running.iter().map(|r| (r.attempt.pid.expect("a pid"), r.job_name.as_str())).collect();
    assert_eq!(
        running_pids,
        [(11, "adopted"), (12, "adopted"), (21, "lost"), (41, "resumed"), (71, "deleted")],
        "what was in flight, with its job"
    );
    assert!(running.iter().all(|r| r.job_uid == format!("uid-{}", r.job_name)));
    let adopted_attempt = running[0].attempt.id;

    let restart = t0() + Duration::hours(1);
    // Inside a caller's transaction (the recorder's case): nested, committed with it.
    let txn = t.db.begin().await.expect("begin");
    let closed = jobs::close_in_flight(
        &txn,
        &InFlight {
            reason: "DaemonRestart",
            at: restart,
            adopted_attempts: &[adopted_attempt],
            resumed_jobs: &[ids["resumed"]],
        },
    )
    .await
    .expect("close_in_flight");
    txn.commit().await.expect("commit");
    let expect_attempts: Vec<i64> = running.iter().skip(1).map(|r| r.attempt.id).collect();
    assert_eq!(
        closed,
        Closed { attempts: expect_attempts.clone(), jobs: vec![ids["lost"], ids["pending"], ids["deleted"]] },
        "every non-adopted attempt; every in-flight job neither resumed nor holding an adopted attempt"
    );

    // Only the adopted attempt is still running; no attempt anywhere is left running otherwise.
    let still: Vec<i64> = jobs::running_attempts(&t.db).await.expect("running").iter().map(|r| r.attempt.id).collect();
    assert_eq!(still, [adopted_attempt]);
    let closed_rows = job_attempt::Entity::find()
        .filter(job_attempt::Column::Id.is_in(expect_attempts.clone()))
        .all(&t.db)
        .await
        .expect("closed rows");
    for a in &closed_rows {
        assert_eq!(a.state, "failed");
        assert_eq!(a.reason.as_deref(), Some("DaemonRestart"));
        assert_eq!(a.finished_at, Some(restart.trunc_subsecs(6)));
    }
    let done = jobs::attempts(&t.db, JobRef::Id(ids["done"])).await.expect("done attempts");
    assert_eq!((done[0].state, done[0].reason.as_deref()), (AttemptState::Succeeded, Some("Completed")));

    let get = |name: &'static str| {
        let db = t.db.clone();
        let id = ids[name];
        async move { jobs::get(&db, JobRef::Id(id)).await.expect("get").expect("the job row") }
    };
    for name in ["lost", "pending", "deleted"] {
        let j = get(name).await;
        assert_eq!(j.status.phase, JobPhase::Failed, "{name}");
        assert_eq!(j.status.active, 0, "{name}");
        assert_eq!(j.status.completion_time, Some(restart.trunc_subsecs(6)), "{name}");
        let last = j.status.conditions.last().expect("a condition");
        assert_eq!((last.kind.as_str(), last.status, last.reason.as_deref()), ("Failed", true, Some("DaemonRestart")));
    }
    assert_eq!(get("lost").await.status.failed, 2, "its lost attempt counts as a failure");
    assert_eq!(get("pending").await.status.failed, 1, "no attempt was lost");
    assert!(get("deleted").await.removed.is_some(), "a removed job stays removed");
    for (name, phase) in [
        ("adopted", JobPhase::Running),
        ("resumed", JobPhase::Running),
        ("suspended", JobPhase::Suspended),
        ("done", JobPhase::Succeeded),
    ] {
        let j = get(name).await;
        assert_eq!(j.status.phase, phase, "{name} is untouched");
        assert_eq!((j.status.active, j.status.failed, j.status.completion_time), (2, 1, None), "{name} is untouched");
    }
    let resumed = jobs::attempts(&t.db, JobRef::Id(ids["resumed"])).await.expect("attempts");
    assert_eq!(resumed[0].state, AttemptState::Failed, "a resumed job's lost attempt is closed all the same");

    // A second restart where nothing could be adopted closes the rest; a third closes nothing.
    let closed = jobs::close_in_flight(
        &t.db,
        &InFlight { reason: "DaemonRestart", at: restart, adopted_attempts: &[], resumed_jobs: &[] },
    )
    .await
    .expect("again");
    assert_eq!(closed, Closed { attempts: vec![adopted_attempt], jobs: vec![ids["adopted"], ids["resumed"]] });
    assert!(jobs::running_attempts(&t.db).await.expect("running").is_empty(), "nothing is left running");
    let running_jobs = job::Entity::find()
        .filter(job::Column::Phase.is_in(["Pending", "Running"]))
        .count(&t.db)
        .await
        .expect("count running jobs");
    assert_eq!(running_jobs, 0, "no job is left running or pending");
    let nothing = jobs::close_in_flight(
        &t.db,
        &InFlight { reason: "DaemonRestart", at: restart, adopted_attempts: &[], resumed_jobs: &[] },
    )
    .await
    .expect("a third time");
    assert_eq!(nothing, Closed::default());
}
