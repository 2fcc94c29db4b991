//! provisr's database schema as SeaORM migrations, one file per migration.
//!
//! The same migrations run on SQLite (the default, embedded) and PostgreSQL; the
//! server applies every pending one at start (`Migrator::up(&db, None)`).

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_users;
mod m20261128_000002_create_sessions;
mod m20261128_000003_create_processes;
mod m20261128_000004_create_process_events;
mod m20261128_000005_create_settings;
mod m20261128_000006_create_api_clients;
mod m20261128_000010_create_jobs;
mod m20261128_000011_create_cronjobs;

/// Applies provisr's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_users::Migration),
            Box::new(m20261128_000002_create_sessions::Migration),
            Box::new(m20261128_000003_create_processes::Migration),
            Box::new(m20261128_000004_create_process_events::Migration),
            Box::new(m20261128_000005_create_settings::Migration),
            Box::new(m20261128_000006_create_api_clients::Migration),
            Box::new(m20261128_000010_create_jobs::Migration),
            Box::new(m20261128_000011_create_cronjobs::Migration),
        ]
    }
}
