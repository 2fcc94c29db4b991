//! CronJobs and firings: registration round trips, firings paged newest first, the
//! schedule time used for catch-up, and history kept after a deletion.

use crate::helpers::{on_both_backends, TestDb};
use backend::store::cronjobs::{self, FiringOutcome, FiringQuery, NewCronJob, NewFiring, StoredFiring};
use backend::store::jobs::{self, JobOrigin, JobStatus, NewJob};
use backend::StoreError;
use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use serde_json::json;

on_both_backends!(
    cronjob_upsert_get_list_delete,
    firings_page_newest_first,
    last_schedule_time_moves_with_scheduled_creations_only,
    deleting_a_cronjob_keeps_its_firings,
    prune_keeps_the_newest_firings_of_one_cronjob,
);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).single().expect("a valid date") + Duration::nanoseconds(987_654_321)
}

fn new_cron(name: &str) -> NewCronJob {
    NewCronJob {
        name: name.into(),
        origin: JobOrigin::Api,
        spec: json!({"name": name, "schedule": "*/5 * * * *", "time_zone": "Europe/Paris",
                     "job_template": {"command": "echo hi"}}),
        suspended: false,
    }
}

fn created(cron: &str, minute: i64, manual: bool, job: Option<&str>) -> NewFiring {
    let at = t0() + Duration::minutes(minute);
    NewFiring {
        cronjob: cron.into(),
        scheduled_at: at,
        fired_at: Some(at + Duration::milliseconds(3)),
        manual,
        outcome: FiringOutcome::Created,
        reason: manual.then(|| "trigger".to_string()),
        job_uid: job.map(|j| format!("uid-{j}")),
        job_name: job.map(str::to_string),
    }
}

fn skipped(cron: &str, minute: i64, reason: &str) -> NewFiring {
    NewFiring {
        cronjob: cron.into(),
        scheduled_at: t0() + Duration::minutes(minute),
        fired_at: None,
        manual: false,
        outcome: FiringOutcome::Skipped,
        reason: Some(reason.into()),
        job_uid: None,
        job_name: None,
    }
}

async fn cronjob_upsert_get_list_delete(t: TestDb) {
    assert!(cronjobs::list(&t.db).await.expect("list").is_empty());
    let first = cronjobs::upsert(&t.db, &new_cron("report")).await.expect("upsert");
    assert_eq!(first.name, "report");
    assert_eq!(first.origin, JobOrigin::Api);
    assert_eq!(first.spec, new_cron("report").spec, "the spec JSON round-trips");
    assert!(!first.suspended);
    assert_eq!((first.last_schedule_time, first.last_successful_time), (None, None));
    assert_eq!(cronjobs::get(&t.db, "report").await.expect("get"), Some(first.clone()));

    let mut cfg = new_cron("a-config");
    cfg.origin = JobOrigin::Config;
    cronjobs::upsert(&t.db, &cfg).await.expect("upsert a-config");
    let names: Vec<String> = cronjobs::list(&t.db).await.expect("list").into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["a-config", "report"], "by name");

    cronjobs::record_firing(&t.db, &created("report", 5, false, None)).await.expect("a firing");
    cronjobs::set_last_successful(&t.db, "report", t0() + Duration::minutes(6)).await.expect("success");
    let mut changed = new_cron("report");
    changed.spec = json!({"name": "report", "schedule": "@hourly"});
    changed.suspended = true;
    let updated = cronjobs::upsert(&t.db, &changed).await.expect("upsert again");
    assert_eq!(updated.id, first.id, "same row");
    assert_eq!(updated.created_at, first.created_at);
    assert_eq!(updated.spec, changed.spec);
    assert!(updated.suspended);
    assert_eq!(updated.last_schedule_time, Some((t0() + Duration::minutes(5)).trunc_subsecs(6)), "kept");
    assert_eq!(updated.last_successful_time, Some((t0() + Duration::minutes(6)).trunc_subsecs(6)), "kept");

    cronjobs::set_suspended(&t.db, "report", false).await.expect("resume");
    assert!(!cronjobs::get(&t.db, "report").await.expect("get").expect("there").suspended);
    cronjobs::set_suspended(&t.db, "report", true).await.expect("suspend");
    assert!(cronjobs::get(&t.db, "report").await.expect("get").expect("there").suspended);

    let unknown = cronjobs::set_suspended(&t.db, "nope", true).await;
    assert!(matches!(unknown, Err(StoreError::NotFound(_))), "{unknown:?}");
    let unknown = cronjobs::set_last_successful(&t.db, "nope", t0()).await;
    assert!(matches!(unknown, Err(StoreError::NotFound(_))), "{unknown:?}");
    let mut bad = new_cron("bad");
    bad.origin = JobOrigin::Cronjob;
    assert!(matches!(cronjobs::upsert(&t.db, &bad).await, Err(StoreError::Invalid(_))));
    let long = new_cron(&"n".repeat(jobs::NAME_MAX_BYTES + 1));
    assert!(matches!(cronjobs::upsert(&t.db, &long).await, Err(StoreError::Invalid(_))));

    assert!(cronjobs::delete(&t.db, "report").await.expect("delete"));
    assert!(!cronjobs::delete(&t.db, "report").await.expect("delete twice"), "already gone");
    assert_eq!(cronjobs::get(&t.db, "report").await.expect("get"), None);
    let names: Vec<String> = cronjobs::list(&t.db).await.expect("list").into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["a-config"]);
}

async fn firings_page_newest_first(t: TestDb) {
    cronjobs::upsert(&t.db, &new_cron("every5")).await.expect("every5");
    cronjobs::upsert(&t.db, &new_cron("other")).await.expect("other");
    let mut mine = Vec::new();
    for i in 0..8 {
        let f = match i % 3 {
            0 => created("every5", i * 5, false, None),
            1 => skipped("every5", i * 5, "Forbid: previous job still running"),
            _ => created("every5", i * 5, true, None),
        };
        mine.push(cronjobs::record_firing(&t.db, &f).await.expect("record"));
        cronjobs::record_firing(&t.db, &skipped("other", i, "suspended")).await.expect("record other");
    }
    mine.reverse();

    let mut seen: Vec<StoredFiring> = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let page =
            cronjobs::firings(&t.db, &FiringQuery { cronjob: Some("every5"), before, limit: 3 }).await.expect("a page");
        pages += 1;
        seen.extend(page.items);
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!(pages, 3, "8 firings in pages of 3");
    assert_eq!(seen.iter().map(|f| f.id).collect::<Vec<_>>(), mine, "newest first, each once, only this cronjob's");
    let newest = &seen[0];
    assert_eq!(newest.cronjob, "every5");
    assert_eq!(newest.outcome, FiringOutcome::Skipped, "the 8th firing (i = 7) was skipped");
    assert_eq!(newest.scheduled_at, (t0() + Duration::minutes(35)).trunc_subsecs(6));
    assert_eq!(newest.fired_at, None);
    assert_eq!(newest.reason.as_deref(), Some("Forbid: previous job still running"));
    let scheduled = &seen[1];
    assert_eq!((scheduled.outcome, scheduled.manual), (FiringOutcome::Created, false), "i = 6");
    assert_eq!(scheduled.scheduled_at, (t0() + Duration::minutes(30)).trunc_subsecs(6));
    assert_eq!(scheduled.fired_at, Some((t0() + Duration::minutes(30) + Duration::milliseconds(3)).trunc_subsecs(6)));
    let manual = seen.iter().find(|f| f.manual).expect("a trigger");
    assert_eq!(manual.reason.as_deref(), Some("trigger"));

    let all = cronjobs::firings(&t.db, &FiringQuery { cronjob: None, before: None, limit: 100 }).await.expect("all");
    assert_eq!(all.items.len(), 16);
    assert!(all.items.windows(2).all(|w| w[0].id > w[1].id), "newest first across cronjobs");
    assert_eq!(all.next_before, None);

    let bad = cronjobs::firings(&t.db, &FiringQuery { cronjob: None, before: None, limit: 0 }).await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    let mut no_fire = created("every5", 99, false, None);
    no_fire.fired_at = None;
    assert!(matches!(cronjobs::record_firing(&t.db, &no_fire).await, Err(StoreError::Invalid(_))));
}

async fn last_schedule_time_moves_with_scheduled_creations_only(t: TestDb) {
    cronjobs::upsert(&t.db, &new_cron("tick")).await.expect("upsert");
    let last = || async { cronjobs::last_schedule_time(&t.db, "tick").await.expect("last_schedule_time") };
    let at = |minute: i64| Some((t0() + Duration::minutes(minute)).trunc_subsecs(6));
    assert_eq!(last().await, None, "nothing scheduled yet: catch-up starts at created_at");

    cronjobs::record_firing(&t.db, &created("tick", 10, false, None)).await.expect("slot 10");
    assert_eq!(last().await, at(10));
    cronjobs::record_firing(&t.db, &skipped("tick", 15, "Forbid: previous job still running")).await.expect("15");
    assert_eq!(last().await, at(10), "a skipped slot does not move it (Kubernetes)");
    cronjobs::record_firing(&t.db, &created("tick", 17, true, None)).await.expect("trigger");
    assert_eq!(last().await, at(10), "a manual trigger does not move it");
    cronjobs::record_firing(&t.db, &created("tick", 20, false, None)).await.expect("slot 20");
    assert_eq!(last().await, at(20));
    cronjobs::record_firing(&t.db, &created("tick", 5, false, None)).await.expect("a late catch-up of slot 5");
    assert_eq!(last().await, at(20), "never moves backwards");
    assert_eq!(cronjobs::get(&t.db, "tick").await.expect("get").expect("tick").last_schedule_time, at(20));

    cronjobs::set_last_successful(&t.db, "tick", t0() + Duration::minutes(21)).await.expect("success 21");
    cronjobs::set_last_successful(&t.db, "tick", t0() + Duration::minutes(11)).await.expect("an older success");
    assert_eq!(cronjobs::get(&t.db, "tick").await.expect("get").expect("tick").last_successful_time, at(21));

    let unknown = cronjobs::last_schedule_time(&t.db, "nope").await;
    assert!(matches!(unknown, Err(StoreError::NotFound(_))), "{unknown:?}");
}

async fn deleting_a_cronjob_keeps_its_firings(t: TestDb) {
    let first = cronjobs::upsert(&t.db, &new_cron("nightly")).await.expect("upsert");
    // The job is recorded before its firing: the firing links to its row.
    let job = jobs::upsert(
        &t.db,
        &NewJob {
            uid: "uid-nightly-1".into(),
            name: "nightly-1".into(),
            origin: JobOrigin::Cronjob,
            cronjob: Some("nightly".into()),
            spec: json!({"command": "true"}),
            status: JobStatus::pending(),
            created_at: t0(),
        },
    )
    .await
    .expect("the job");
    cronjobs::record_firing(&t.db, &created("nightly", 0, false, Some("nightly-1"))).await.expect("created");
    // A firing whose job row is not recorded keeps the name only.
    cronjobs::record_firing(&t.db, &created("nightly", 5, false, Some("nightly-2"))).await.expect("created");
    cronjobs::record_firing(&t.db, &skipped("nightly", 10, "missed: beyond starting_deadline_seconds"))
        .await
        .expect("skipped");

    assert!(cronjobs::delete(&t.db, "nightly").await.expect("delete"));
    let kept = cronjobs::firings(&t.db, &FiringQuery { cronjob: Some("nightly"), before: None, limit: 10 })
        .await
        .expect("firings after the deletion");
    assert_eq!(kept.items.len(), 3, "the history stays");
    assert!(kept.items.iter().all(|f| f.cronjob_id == first.id));
    let links: Vec<(Option<i64>, Option<&str>)> =
        kept.items.iter().map(|f| (f.job_id, f.job_name.as_deref())).collect();
    assert_eq!(links, [(None, None), (None, Some("nightly-2")), (Some(job.id), Some("nightly-1"))]);
    assert!(jobs::get(&t.db, jobs::JobRef::Live("nightly-1")).await.expect("get").is_some(), "jobs are not touched");

    let unknown = cronjobs::record_firing(&t.db, &created("nightly", 15, false, None)).await;
    assert!(matches!(unknown, Err(StoreError::NotFound(_))), "a deleted cronjob cannot fire: {unknown:?}");

    // Re-created under the same name: a new id, no schedule time carried over.
    let second = cronjobs::upsert(&t.db, &new_cron("nightly")).await.expect("re-create");
    assert_ne!(second.id, first.id, "ids are never reused");
    assert_eq!(second.last_schedule_time, None);
    cronjobs::record_firing(&t.db, &created("nightly", 20, false, None)).await.expect("fires again");
    let all = cronjobs::firings(&t.db, &FiringQuery { cronjob: Some("nightly"), before: None, limit: 10 })
        .await
        .expect("firings");
    let ids: Vec<i64> = all.items.iter().map(|f| f.cronjob_id).collect();
    assert_eq!(ids, [second.id, first.id, first.id, first.id], "both incarnations, told apart by cronjob_id");
}

async fn prune_keeps_the_newest_firings_of_one_cronjob(t: TestDb) {
    cronjobs::upsert(&t.db, &new_cron("often")).await.expect("often");
    cronjobs::upsert(&t.db, &new_cron("other")).await.expect("other");
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(cronjobs::record_firing(&t.db, &created("often", i, false, None)).await.expect("often"));
        cronjobs::record_firing(&t.db, &skipped("other", i, "suspended")).await.expect("other");
    }
    let list = |name: &'static str| {
        let db = t.db.clone();
        async move {
            let q = FiringQuery { cronjob: Some(name), before: None, limit: 100 };
            cronjobs::firings(&db, &q).await.expect("firings").items.into_iter().map(|f| f.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(cronjobs::prune_firings(&t.db, "often", 10).await.expect("prune"), 0, "fewer than kept");
    assert_eq!(cronjobs::prune_firings(&t.db, "often", 2).await.expect("prune"), 4);
    assert_eq!(list("often").await, [ids[5], ids[4]], "the two newest stay");
    assert_eq!(list("other").await.len(), 6, "other cronjobs are untouched");
    assert_eq!(cronjobs::prune_firings(&t.db, "often", 2).await.expect("again"), 0);
    assert_eq!(cronjobs::prune_firings(&t.db, "often", 0).await.expect("all"), 2);
    assert!(list("often").await.is_empty());
    assert_eq!(
        cronjobs::last_schedule_time(&t.db, "often").await.expect("last"),
        Some((t0() + Duration::minutes(5)).trunc_subsecs(6)),
        "pruning history does not move the schedule time"
    );
}
