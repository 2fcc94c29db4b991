//! `cronjobs`: one row per registered cronjob.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cronjobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    /// `config` | `programs_dir` | `api`
    pub origin: String,
    /// The spec as JSON.
    pub spec: String,
    pub suspended: bool,
    pub last_schedule_time: Option<DateTimeUtc>,
    pub last_successful_time: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
