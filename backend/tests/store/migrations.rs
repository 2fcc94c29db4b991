//! The schema: migrations apply on an empty database and again, idempotently.

use crate::helpers::{on_both_backends, TestDb};
use backend::entity::{
    api_client, cron_firing, cronjob, job, job_attempt, process, process_event, process_instance, session, setting,
    user,
};
use migrations::{Migrator, MigratorTrait};
use sea_orm::{EntityTrait, PaginatorTrait};

on_both_backends!(migrations_apply_twice_idempotently);

async fn migrations_apply_twice_idempotently(t: TestDb) {
    let all: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_string()).collect();
    assert!(!all.is_empty());
    let applied: Vec<String> = Migrator::get_applied_migrations(&t.db)
        .await
        .expect("listing applied migrations")
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    assert_eq!(applied, all, "the first connect applies every migration, in order");

    // Something to lose if the second run re-created a table.
    backend::store::settings::get_or_insert(&t.db, "marker", "kept").await.expect("insert a setting");

    // A second daemon start on the same database: connect migrates again.
    let again = backend::db::connect(&t.url).await.expect("the second connect (migrations again) succeeds");
    Migrator::up(&again, None).await.expect("a third run is a no-op too");
    assert!(Migrator::get_pending_migrations(&again).await.expect("pending").is_empty());
    let applied_again = Migrator::get_applied_migrations(&again).await.expect("applied").len();
    assert_eq!(applied_again, all.len(), "no migration is recorded twice");
    assert_eq!(
        backend::store::settings::get(&again, "marker").await.expect("read the setting"),
        Some("kept".to_string()),
        "data survives re-running the migrations"
    );

    // Every table exists and is queryable on this backend.
    assert_eq!(user::Entity::find().count(&again).await.expect("users"), 0);
    assert_eq!(session::Entity::find().count(&again).await.expect("sessions"), 0);
    assert_eq!(process::Entity::find().count(&again).await.expect("processes"), 0);
    assert_eq!(process_instance::Entity::find().count(&again).await.expect("instances"), 0);
    assert_eq!(process_event::Entity::find().count(&again).await.expect("events"), 0);
    assert_eq!(api_client::Entity::find().count(&again).await.expect("api_clients"), 0);
    assert_eq!(setting::Entity::find().count(&again).await.expect("settings"), 1);
    assert_eq!(job::Entity::find().count(&again).await.expect("jobs"), 0);
    assert_eq!(job_attempt::Entity::find().count(&again).await.expect("job attempts"), 0);
    assert_eq!(cronjob::Entity::find().count(&again).await.expect("cronjobs"), 0);
    assert_eq!(cron_firing::Entity::find().count(&again).await.expect("cron firings"), 0);
}
