//! Registrations and wishes: what must be supervised again after a restart.

use crate::entity::{process, process_instance};
use crate::error::StoreError;
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use std::collections::BTreeMap;
use supervisor::{Desired, Origin, ProcessSpec};

/// A registration as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProcess {
    /// The spec.
    pub spec: ProcessSpec,
    /// Where it came from.
    pub origin: Origin,
    /// Its instances and the wish for each.
    pub instances: BTreeMap<String, Desired>,
}

/// A stored row that could not be read back (kept in the table, reported at start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// Spec name.
    pub name: String,
    /// Why.
    pub reason: String,
}

pub(crate) fn origin_str(o: Origin) -> &'static str {
    match o {
        Origin::Config => "config",
        Origin::ProgramsDir => "programs_dir",
        Origin::Api => "api",
    }
}

fn parse_origin(s: &str) -> Option<Origin> {
    match s {
        "config" => Some(Origin::Config),
        "programs_dir" => Some(Origin::ProgramsDir),
        "api" => Some(Origin::Api),
        _ => None,
    }
}

pub(crate) fn desired_str(d: Desired) -> &'static str {
    match d {
        Desired::Running => "running",
        Desired::Stopped => "stopped",
    }
}

/// Every registration with its instances, by name.
pub async fn load_all(db: &impl ConnectionTrait) -> Result<(Vec<StoredProcess>, Vec<Unreadable>), StoreError> {
    let rows = process::Entity::find().order_by_asc(process::Column::Name).all(db).await?;
    let instances = process_instance::Entity::find().order_by_asc(process_instance::Column::Name).all(db).await?;
    let mut by_process: BTreeMap<String, BTreeMap<String, Desired>> = BTreeMap::new();
    for i in instances {
        let desired = if i.desired == "stopped" { Desired::Stopped } else { Desired::Running };
        by_process.entry(i.process).or_default().insert(i.name, desired);
    }
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for row in rows {
        let origin = match parse_origin(&row.origin) {
            Some(o) => o,
            None => {
                bad.push(Unreadable { name: row.name, reason: format!("unknown origin {:?}", row.origin) });
                continue;
            }
        };
        match serde_json::from_str::<ProcessSpec>(&row.spec) {
            Ok(spec) => {
                ok.push(StoredProcess { spec, origin, instances: by_process.remove(&row.name).unwrap_or_default() })
            }
            Err(e) => bad.push(Unreadable { name: row.name, reason: format!("stored spec does not parse: {e}") }),
        }
    }
    Ok((ok, bad))
}

/// Inserts or replaces a registration.
pub async fn upsert(db: &impl ConnectionTrait, spec: &ProcessSpec, origin: Origin) -> Result<(), StoreError> {
    let now = Utc::now();
    let json = serde_json::to_string(spec).map_err(|e| StoreError::Internal(e.to_string()))?;
    let model = process::ActiveModel {
        name: Set(spec.name.clone()),
        origin: Set(origin_str(origin).to_string()),
        spec: Set(json),
        created_at: Set(now),
        updated_at: Set(now),
    };
    process::Entity::insert(model)
        .on_conflict(
            OnConflict::column(process::Column::Name)
                .update_columns([process::Column::Origin, process::Column::Spec, process::Column::UpdatedAt])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Removes a registration and its instances.
pub async fn delete(db: &impl ConnectionTrait, name: &str) -> Result<(), StoreError> {
    process_instance::Entity::delete_many().filter(process_instance::Column::Process.eq(name)).exec(db).await?;
    process::Entity::delete_by_id(name.to_string()).exec(db).await?;
    Ok(())
}

/// Inserts or updates the wish of each `(instance, spec, wish)`, in as few statements
/// as the backends' parameter limits allow.
pub async fn set_instances(db: &impl ConnectionTrait, rows: &[(&str, &str, Desired)]) -> Result<(), StoreError> {
    let now = Utc::now();
    for chunk in rows.chunks(500) {
        let models = chunk.iter().map(|(name, base, desired)| process_instance::ActiveModel {
            name: Set(name.to_string()),
            process: Set(base.to_string()),
            desired: Set(desired_str(*desired).to_string()),
            updated_at: Set(now),
        });
        process_instance::Entity::insert_many(models)
            .on_conflict(
                OnConflict::column(process_instance::Column::Name)
                    .update_columns([
                        process_instance::Column::Process,
                        process_instance::Column::Desired,
                        process_instance::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Inserts or updates one instance's wish.
pub async fn set_instance(
    db: &impl ConnectionTrait,
    name: &str,
    base: &str,
    desired: Desired,
) -> Result<(), StoreError> {
    set_instances(db, &[(name, base, desired)]).await
}

/// Sets the wish of the instances `names` (one statement per 500).
pub async fn set_desired(db: &impl ConnectionTrait, names: &[&str], desired: Desired) -> Result<(), StoreError> {
    let now = Utc::now();
    for chunk in names.chunks(500) {
        process_instance::Entity::update_many()
            .col_expr(process_instance::Column::Desired, sea_orm::sea_query::Expr::value(desired_str(desired)))
            .col_expr(process_instance::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
            .filter(process_instance::Column::Name.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Removes the instances `names` (one statement per 500).
pub async fn delete_instances(db: &impl ConnectionTrait, names: &[&str]) -> Result<(), StoreError> {
    for chunk in names.chunks(500) {
        process_instance::Entity::delete_many()
            .filter(process_instance::Column::Name.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}
