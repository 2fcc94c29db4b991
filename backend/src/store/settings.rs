//! Daemon-wide key/value settings.

use crate::entity::setting;
use crate::error::StoreError;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};

/// The value stored under `key`.
pub async fn get(db: &impl ConnectionTrait, key: &str) -> Result<Option<String>, StoreError> {
    Ok(setting::Entity::find_by_id(key.to_string()).one(db).await?.map(|m| m.value))
}

/// Stores `value` under `key` unless a value is already there; returns the value that
/// is stored afterwards (so concurrent first starts agree on one value).
pub async fn get_or_insert(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<String, StoreError> {
    setting::Entity::insert(setting::ActiveModel { key: Set(key.to_string()), value: Set(value.to_string()) })
        .on_conflict(OnConflict::column(setting::Column::Key).do_nothing().to_owned())
        .do_nothing()
        .exec(db)
        .await?;
    get(db, key).await?.ok_or_else(|| StoreError::Internal(format!("setting {key} vanished")))
}
