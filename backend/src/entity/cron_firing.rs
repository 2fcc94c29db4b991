//! `cron_firings`: cronjob history, one row per slot considered or trigger.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cron_firings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The cronjob's id when it fired (no foreign key: kept after its deletion).
    pub cronjob_id: i64,
    pub cronjob: String,
    pub scheduled_at: DateTimeUtc,
    pub fired_at: Option<DateTimeUtc>,
    pub manual: bool,
    /// `created` | `skipped`
    pub outcome: String,
    pub reason: Option<String>,
    pub job_id: Option<i64>,
    pub job_name: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
