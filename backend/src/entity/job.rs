//! `jobs`: one row per job incarnation, live or removed (history).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub uid: String,
    /// Unique among live rows (`deleted_at IS NULL`).
    pub name: String,
    /// `config` | `programs_dir` | `api` | `cronjob`
    pub origin: String,
    /// The owning cronjob's name.
    pub cronjob: Option<String>,
    /// The spec as JSON.
    pub spec: String,
    /// `Pending` | `Running` | `Suspended` | `Succeeded` | `Failed`
    pub phase: String,
    pub active: i32,
    pub succeeded: i32,
    pub failed: i32,
    pub completed_indexes: String,
    pub failed_indexes: String,
    /// JSON array of conditions.
    pub conditions: String,
    pub start_time: Option<DateTimeUtc>,
    pub completion_time: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    /// `ttl` | `deleted` | `history_limit`
    pub removed_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::job_attempt::Entity")]
    Attempts,
}

impl Related<super::job_attempt::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Attempts.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
