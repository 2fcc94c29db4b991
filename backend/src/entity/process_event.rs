//! `process_events`: process history.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "process_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run_id: String,
    pub seq: i64,
    pub at: DateTimeUtc,
    pub name: String,
    pub kind: String,
    pub pid: Option<i64>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// The whole event as JSON (decision, uptime, …).
    pub detail: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
