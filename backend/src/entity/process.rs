//! `processes`: one row per registered spec.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "processes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// `config` | `programs_dir` | `api`
    pub origin: String,
    /// The spec as JSON.
    pub spec: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::process_instance::Entity")]
    Instances,
}

impl Related<super::process_instance::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Instances.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
