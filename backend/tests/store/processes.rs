//! Registrations and wishes: upsert, load, delete, with instances.

use crate::helpers::{on_both_backends, TestDb};
use backend::entity::{process, process_instance};
use backend::store::processes::{self, StoredProcess};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use std::collections::BTreeMap;
use std::time::Duration;
use supervisor::{Desired, Origin, ProcessSpec};

on_both_backends!(registrations_upsert_load_delete, unreadable_rows_are_reported_not_fatal);

fn web_spec() -> ProcessSpec {
    let mut spec = ProcessSpec::new("web", "sleep 60");
    spec.instances = 2;
    spec.priority = 5;
    spec.auto_restart = true;
    spec.stop_timeout = Duration::from_secs(3);
    spec.env.0.insert("PORT".into(), "8080".into());
    spec
}

fn wishes(list: &[(&str, Desired)]) -> BTreeMap<String, Desired> {
    list.iter().map(|(n, d)| (n.to_string(), *d)).collect()
}

async fn load(t: &TestDb) -> Vec<StoredProcess> {
    let (ok, bad) = processes::load_all(&t.db).await.expect("load_all");
    assert!(bad.is_empty(), "no unreadable rows: {bad:?}");
    ok
}

async fn registrations_upsert_load_delete(t: TestDb) {
    assert!(load(&t).await.is_empty());

    let spec = web_spec();
    processes::upsert(&t.db, &spec, Origin::Api).await.expect("upsert web");
    processes::set_instance(&t.db, "web-1", "web", Desired::Running).await.expect("web-1");
    processes::set_instance(&t.db, "web-2", "web", Desired::Stopped).await.expect("web-2");
    assert_eq!(
        load(&t).await,
        vec![StoredProcess {
            spec: spec.clone(),
            origin: Origin::Api,
            instances: wishes(&[("web-1", Desired::Running), ("web-2", Desired::Stopped)]),
        }],
        "the spec round-trips exactly, with each instance's wish"
    );

    processes::set_desired(&t.db, &["web-2"], Desired::Running).await.expect("set_desired");
    processes::set_desired(&t.db, &["no-such-instance"], Desired::Stopped)
        .await
        .expect("a missing instance is a no-op");
    processes::set_instance(&t.db, "web-1", "web", Desired::Stopped).await.expect("set_instance again updates");
    let loaded = load(&t).await;
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].instances, wishes(&[("web-1", Desired::Stopped), ("web-2", Desired::Running)]));

    // Upsert replaces the spec and origin, keeps the instances.
    let mut changed = spec.clone();
    changed.command = Some("sleep 120".into());
    processes::upsert(&t.db, &changed, Origin::Config).await.expect("upsert again");
    let loaded = load(&t).await;
    assert_eq!(loaded.len(), 1, "same name: replaced, not added");
    assert_eq!(loaded[0].spec, changed);
    assert_eq!(loaded[0].origin, Origin::Config);
    assert_eq!(loaded[0].instances.len(), 2);

    // A second registration; load_all sorts by name.
    let db_spec = ProcessSpec::new("a-db", "sleep 60");
    processes::upsert(&t.db, &db_spec, Origin::ProgramsDir).await.expect("upsert a-db");
    processes::set_instance(&t.db, "a-db", "a-db", Desired::Running).await.expect("a-db instance");
    let names: Vec<String> = load(&t).await.into_iter().map(|s| s.spec.name).collect();
    assert_eq!(names, ["a-db", "web"]);

    processes::delete_instances(&t.db, &["web-2", "no-such-instance"]).await.expect("delete_instances");
    let web = load(&t).await.into_iter().find(|s| s.spec.name == "web").expect("web still registered");
    assert_eq!(web.instances, wishes(&[("web-1", Desired::Stopped)]));

    processes::delete(&t.db, "web").await.expect("delete web");
    let left = load(&t).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].spec, db_spec);
    assert_eq!(left[0].origin, Origin::ProgramsDir);
    assert_eq!(left[0].instances, wishes(&[("a-db", Desired::Running)]));
    assert_eq!(
        process_instance::Entity::find().count(&t.db).await.expect("count instances"),
        1,
        "deleting a registration deletes its instance rows"
    );
    processes::delete(&t.db, "web").await.expect("deleting twice is harmless");
}

async fn unreadable_rows_are_reported_not_fatal(t: TestDb) {
    processes::upsert(&t.db, &ProcessSpec::new("good", "sleep 60"), Origin::Api).await.expect("good");
    let now = chrono::Utc::now();
    for (name, origin, spec) in
        [("bad-json", "api", "{not json"), ("bad-origin", "martian", "{\"name\":\"bad-origin\",\"command\":\"true\"}")]
    {
        process::ActiveModel {
            name: Set(name.into()),
            origin: Set(origin.into()),
            spec: Set(spec.into()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&t.db)
        .await
        .expect("insert a corrupt row");
    }
    let (ok, bad) = processes::load_all(&t.db).await.expect("load_all does not fail on a bad row");
    assert_eq!(ok.iter().map(|s| s.spec.name.as_str()).collect::<Vec<_>>(), ["good"]);
    let mut bad_names: Vec<&str> = bad.iter().map(|b| b.name.as_str()).collect();
    bad_names.sort();
    assert_eq!(bad_names, ["bad-json", "bad-origin"]);
    assert!(bad.iter().all(|b| !b.reason.is_empty()));
    assert_eq!(process::Entity::find().count(&t.db).await.expect("count"), 3, "bad rows are kept, not deleted");
}
