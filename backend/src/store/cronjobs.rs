//! CronJobs and their firings.
//!
//! A cronjob row is its registration, like a process's: written on create or update
//! ([`upsert`]), read back at start ([`list`]), deleted with the cronjob ([`delete`]). Its
//! firings are history: one row per schedule slot the engine decided about (a job was
//! created, or the slot was skipped and why) and per manual trigger ([`record_firing`]).
//!
//! **Deleting a cronjob keeps its firings** (and the jobs it created, which the engine
//! removes from the live list separately): they keep the cronjob's name and the row id it
//! had, so `GET /cronjobs/{name}/history` still answers after a deletion, and the firings of
//! a cronjob re-created under the same name are told apart by [`StoredFiring::cronjob_id`].
//!
//! `last_schedule_time` follows Kubernetes' `status.lastScheduleTime`: the slot of the last
//! job created *by the schedule* (skipped slots and manual triggers do not move it). After
//! a restart the engine counts missed slots from it (or from `created_at` when it is unset).

use crate::entity::{cron_firing, cronjob, job};
use crate::error::StoreError;
use crate::store::jobs::{JobOrigin, NAME_MAX_BYTES};
use crate::store::{check_len, check_limit, page, ts, Page};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};

/// A cronjob to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCronJob {
    /// Unique name; at most [`NAME_MAX_BYTES`].
    pub name: String,
    /// Where it was defined (not [`JobOrigin::Cronjob`]).
    pub origin: JobOrigin,
    /// The spec, as the engine serialises it.
    pub spec: serde_json::Value,
    /// Whether it is suspended. Written on every upsert: a caller that restores a cronjob
    /// whose suspension was changed at run time passes the stored value.
    pub suspended: bool,
}

/// A cronjob as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCronJob {
    /// Row id (a cronjob re-created under the same name gets a new one).
    pub id: i64,
    /// Name.
    pub name: String,
    /// Where it was defined.
    pub origin: JobOrigin,
    /// The spec.
    pub spec: serde_json::Value,
    /// Whether it is suspended.
    pub suspended: bool,
    /// The slot of the last job the schedule created.
    pub last_schedule_time: Option<DateTime<Utc>>,
    /// When a job it created last succeeded.
    pub last_successful_time: Option<DateTime<Utc>>,
    /// When it was first recorded.
    pub created_at: DateTime<Utc>,
    /// When its row last changed.
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<cronjob::Model> for StoredCronJob {
    type Error = StoreError;

    fn try_from(m: cronjob::Model) -> Result<Self, StoreError> {
        let bad = |what: String| StoreError::Internal(format!("cronjob row {} ({:?}): {what}", m.id, m.name));
        let origin = JobOrigin::parse(&m.origin).ok_or_else(|| bad(format!("unknown origin {:?}", m.origin)))?;
        let spec = serde_json::from_str(&m.spec).map_err(|e| bad(format!("stored spec does not parse: {e}")))?;
        Ok(StoredCronJob {
            id: m.id,
            name: m.name,
            origin,
            spec,
            suspended: m.suspended,
            last_schedule_time: m.last_schedule_time,
            last_successful_time: m.last_successful_time,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

fn not_found(name: &str) -> StoreError {
    StoreError::NotFound(format!("cronjob {name:?} not found"))
}

/// Inserts a cronjob or replaces its origin, spec and suspension; keeps its id, creation
/// time and schedule times.
pub async fn upsert(db: &impl ConnectionTrait, new: &NewCronJob) -> Result<StoredCronJob, StoreError> {
    check_len("cronjob name", &new.name, NAME_MAX_BYTES)?;
    if new.name.is_empty() {
        return Err(StoreError::Invalid("a cronjob needs a name".into()));
    }
    if new.origin == JobOrigin::Cronjob {
        return Err(StoreError::Invalid("a cronjob cannot be created by a cronjob".into()));
    }
    let spec = serde_json::to_string(&new.spec).map_err(|e| StoreError::Internal(e.to_string()))?;
    let now = ts(Utc::now());
    let model = cronjob::ActiveModel {
        name: Set(new.name.clone()),
        origin: Set(new.origin.as_str().to_string()),
        spec: Set(spec),
        suspended: Set(new.suspended),
        last_schedule_time: Set(None),
        last_successful_time: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    use cronjob::Column as C;
    cronjob::Entity::insert(model)
        .on_conflict(
            OnConflict::column(C::Name).update_columns([C::Origin, C::Spec, C::Suspended, C::UpdatedAt]).to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    get(db, &new.name).await?.ok_or_else(|| StoreError::Internal("the upserted cronjob vanished".into()))
}

/// One cronjob.
pub async fn get(db: &impl ConnectionTrait, name: &str) -> Result<Option<StoredCronJob>, StoreError> {
    cronjob::Entity::find()
        .filter(cronjob::Column::Name.eq(name))
        .one(db)
        .await?
        .map(StoredCronJob::try_from)
        .transpose()
}

/// Every cronjob, by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<StoredCronJob>, StoreError> {
    cronjob::Entity::find()
        .order_by_asc(cronjob::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(StoredCronJob::try_from)
        .collect()
}

/// Deletes a cronjob's registration; its firings stay (see the module documentation).
/// Returns whether it existed.
pub async fn delete(db: &impl ConnectionTrait, name: &str) -> Result<bool, StoreError> {
    let res = cronjob::Entity::delete_many().filter(cronjob::Column::Name.eq(name)).exec(db).await?;
    Ok(res.rows_affected > 0)
}

/// Suspends or resumes. [`StoreError::NotFound`] for an unknown name.
pub async fn set_suspended(db: &impl ConnectionTrait, name: &str, suspended: bool) -> Result<(), StoreError> {
    let res = cronjob::Entity::update_many()
        .col_expr(cronjob::Column::Suspended, Expr::value(suspended))
        .col_expr(cronjob::Column::UpdatedAt, Expr::value(ts(Utc::now())))
        .filter(cronjob::Column::Name.eq(name))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(not_found(name));
    }
    Ok(())
}

/// Records that a job the cronjob created succeeded at `at` (kept if a later one is
/// already recorded). [`StoreError::NotFound`] for an unknown name.
pub async fn set_last_successful(db: &impl ConnectionTrait, name: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    let row = cronjob::Entity::find().filter(cronjob::Column::Name.eq(name)).one(db).await?;
    let row = row.ok_or_else(|| not_found(name))?;
    let at = ts(at);
    if row.last_successful_time.is_some_and(|t| t >= at) {
        return Ok(());
    }
    cronjob::Entity::update_many()
        .col_expr(cronjob::Column::LastSuccessfulTime, Expr::value(Some(at)))
        .filter(cronjob::Column::Id.eq(row.id))
        .exec(db)
        .await?;
    Ok(())
}

/// The slot of the last job the schedule created, for missed-run catch-up after a restart.
/// [`StoreError::NotFound`] for an unknown name.
pub async fn last_schedule_time(db: &impl ConnectionTrait, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    cronjob::Entity::find()
        .select_only()
        .column(cronjob::Column::LastScheduleTime)
        .filter(cronjob::Column::Name.eq(name))
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db)
        .await?
        .ok_or_else(|| not_found(name))
}

/// What became of a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FiringOutcome {
    /// A job was created.
    Created,
    /// No job was created (the reason says why).
    Skipped,
}

impl FiringOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FiringOutcome::Created => "created",
            FiringOutcome::Skipped => "skipped",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "created" => FiringOutcome::Created,
            "skipped" => FiringOutcome::Skipped,
            _ => return None,
        })
    }
}

/// A firing to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFiring {
    /// The cronjob's name (it must be registered).
    pub cronjob: String,
    /// The slot; for a manual trigger, when it was asked for.
    pub scheduled_at: DateTime<Utc>,
    /// When the job was created (`None` when skipped).
    pub fired_at: Option<DateTime<Utc>>,
    /// A "run now" trigger rather than a schedule slot.
    pub manual: bool,
    /// Created or skipped.
    pub outcome: FiringOutcome,
    /// Why (`Forbid: previous job still running`, `missed: beyond starting_deadline_seconds`,
    /// `suspended`, `trigger`, `Replace: replaced job …`, …).
    pub reason: Option<String>,
    /// The uid of the job created, to link the firing to the job's row.
    pub job_uid: Option<String>,
    /// The name of the job created.
    pub job_name: Option<String>,
}

/// A firing as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFiring {
    /// Row id (increasing in recording order).
    pub id: i64,
    /// The cronjob's row id at the time.
    pub cronjob_id: i64,
    /// The cronjob's name.
    pub cronjob: String,
    /// The slot.
    pub scheduled_at: DateTime<Utc>,
    /// When the job was created.
    pub fired_at: Option<DateTime<Utc>>,
    /// A manual trigger.
    pub manual: bool,
    /// Created or skipped.
    pub outcome: FiringOutcome,
    /// Why.
    pub reason: Option<String>,
    /// The created job's row id (see [`crate::store::jobs::JobRef::Id`]).
    pub job_id: Option<i64>,
    /// The created job's name.
    pub job_name: Option<String>,
}

impl TryFrom<cron_firing::Model> for StoredFiring {
    type Error = StoreError;

    fn try_from(m: cron_firing::Model) -> Result<Self, StoreError> {
        let outcome = FiringOutcome::parse(&m.outcome)
            .ok_or_else(|| StoreError::Internal(format!("firing row {}: unknown outcome {:?}", m.id, m.outcome)))?;
        Ok(StoredFiring {
            id: m.id,
            cronjob_id: m.cronjob_id,
            cronjob: m.cronjob,
            scheduled_at: m.scheduled_at,
            fired_at: m.fired_at,
            manual: m.manual,
            outcome,
            reason: m.reason,
            job_id: m.job_id,
            job_name: m.job_name,
        })
    }
}

/// Records a firing and, for a job created by the schedule (not manual), moves the
/// cronjob's `last_schedule_time` forward to the slot. The job's row is found by
/// `job_uid`; a firing recorded before its job keeps `job_name` but no `job_id`.
/// [`StoreError::NotFound`] when the cronjob is not registered. Returns the row id.
pub async fn record_firing(db: &impl ConnectionTrait, new: &NewFiring) -> Result<i64, StoreError> {
    if let Some(n) = &new.job_name {
        check_len("job name", n, NAME_MAX_BYTES)?;
    }
    if new.outcome == FiringOutcome::Created && new.fired_at.is_none() {
        return Err(StoreError::Invalid("a firing that created a job needs fired_at".into()));
    }
    let cron = cronjob::Entity::find().filter(cronjob::Column::Name.eq(&new.cronjob)).one(db).await?;
    let cron = cron.ok_or_else(|| not_found(&new.cronjob))?;
    let job_id = match &new.job_uid {
        Some(uid) => {
            job::Entity::find()
                .select_only()
                .column(job::Column::Id)
                .filter(job::Column::Uid.eq(uid.as_str()))
                .into_tuple::<i64>()
                .one(db)
                .await?
        }
        None => None,
    };
    let scheduled_at = ts(new.scheduled_at);
    let row = cron_firing::ActiveModel {
        cronjob_id: Set(cron.id),
        cronjob: Set(cron.name.clone()),
        scheduled_at: Set(scheduled_at),
        fired_at: Set(new.fired_at.map(ts)),
        manual: Set(new.manual),
        outcome: Set(new.outcome.as_str().to_string()),
        reason: Set(new.reason.clone()),
        job_id: Set(job_id),
        job_name: Set(new.job_name.clone()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let advances = new.outcome == FiringOutcome::Created && !new.manual;
    if advances && cron.last_schedule_time.is_none_or(|t| t < scheduled_at) {
        cronjob::Entity::update_many()
            .col_expr(cronjob::Column::LastScheduleTime, Expr::value(Some(scheduled_at)))
            .filter(cronjob::Column::Id.eq(cron.id))
            .exec(db)
            .await?;
    }
    Ok(row.id)
}

/// Which firings to list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FiringQuery<'a> {
    /// Only this cronjob's (every incarnation under the name).
    pub cronjob: Option<&'a str>,
    /// Only firings older than this row id (the previous page's `next_before`).
    pub before: Option<i64>,
    /// Page size, 1 to [`crate::store::MAX_PAGE`].
    pub limit: u64,
}

/// Firings, newest recorded first.
pub async fn firings(db: &impl ConnectionTrait, q: &FiringQuery<'_>) -> Result<Page<StoredFiring>, StoreError> {
    check_limit(q.limit)?;
    let mut find = cron_firing::Entity::find().order_by_desc(cron_firing::Column::Id).limit(q.limit + 1);
    if let Some(name) = q.cronjob {
        find = find.filter(cron_firing::Column::Cronjob.eq(name));
    }
    if let Some(before) = q.before {
        find = find.filter(cron_firing::Column::Id.lt(before));
    }
    let rows = find.all(db).await?.into_iter().map(StoredFiring::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(page(rows, q.limit, |f| f.id))
}

/// Keeps only the newest `keep` firings recorded under a cronjob's name and deletes the
/// older ones (a frequent schedule would otherwise grow the table without bound). Returns
/// how many were deleted.
pub async fn prune_firings(db: &impl ConnectionTrait, cronjob: &str, keep: u64) -> Result<u64, StoreError> {
    // The newest firing that does not fit: it and everything older go.
    let first_out = cron_firing::Entity::find()
        .select_only()
        .column(cron_firing::Column::Id)
        .filter(cron_firing::Column::Cronjob.eq(cronjob))
        .order_by_desc(cron_firing::Column::Id)
        .offset(keep)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    let Some(first_out) = first_out else { return Ok(0) };
    let res = cron_firing::Entity::delete_many()
        .filter(cron_firing::Column::Cronjob.eq(cronjob))
        .filter(cron_firing::Column::Id.lte(first_out))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
