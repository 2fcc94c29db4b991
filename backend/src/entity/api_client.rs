//! `api_clients`

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_clients")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The public identifier (`pc_…`), unique.
    #[sea_orm(unique)]
    pub client_id: String,
    pub name: String,
    pub secret_hash: String,
    /// Comma-separated role names.
    pub scopes: String,
    pub active: bool,
    pub token_version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
