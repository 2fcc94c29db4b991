//! Jobs and their attempts: what runs now and what ran before.
//!
//! A job row is written when the job is created ([`upsert`]), its status is overwritten as
//! it changes ([`update_status`]), and when the job leaves the live list (deleted, TTL
//! after it finished, or a cronjob's history limit) the row is *marked* removed
//! ([`remove`]) rather than deleted: the history ([`history`], [`attempts`]) keeps it and
//! its name is free for a new job. Each process started for a job is an attempt
//! ([`insert_attempt`], [`finish_attempt`]).
//!
//! The types here are the store's own vocabulary (plain data, no engine types), so that the
//! recorder maps the engine's job events onto them. Every function takes
//! `&impl ConnectionTrait`, so the recorder can run several in one transaction.
//!
//! After a daemon restart, [`running_attempts`] lists what was in flight; the caller
//! re-adopts what it can and [`close_in_flight`] closes the rest, so no attempt and no job
//! stays "running" forever.

use crate::entity::{job, job_attempt};
use crate::error::StoreError;
use crate::store::{check_len, check_limit, is_unique_violation, page, ts, Page};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The longest log excerpt kept per attempt; longer output keeps its end (where the
/// error usually is).
pub const LOG_EXCERPT_MAX_BYTES: usize = 16 * 1024;
/// The longest job (or cronjob) name.
pub const NAME_MAX_BYTES: usize = 128;
/// The longest uid.
pub const UID_MAX_BYTES: usize = 64;
/// The longest attempt reason.
pub const REASON_MAX_BYTES: usize = 64;

/// Where a job (or a cronjob) was defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOrigin {
    /// The configuration file.
    Config,
    /// A file in the programs directory.
    ProgramsDir,
    /// Created through the API, the CLI or the console.
    Api,
    /// Created by a cronjob (jobs only).
    Cronjob,
}

impl JobOrigin {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobOrigin::Config => "config",
            JobOrigin::ProgramsDir => "programs_dir",
            JobOrigin::Api => "api",
            JobOrigin::Cronjob => "cronjob",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "config" => JobOrigin::Config,
            "programs_dir" => JobOrigin::ProgramsDir,
            "api" => JobOrigin::Api,
            "cronjob" => JobOrigin::Cronjob,
            _ => return None,
        })
    }
}

/// A job's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobPhase {
    /// Created, nothing started yet.
    Pending,
    /// At least one slot started and the job has not finished.
    Running,
    /// Suspended: no slot runs until it is resumed.
    Suspended,
    /// Finished: every completion succeeded.
    Succeeded,
    /// Finished: failed (backoff limit, deadline, failed indexes, failure policy, restart).
    Failed,
}

impl JobPhase {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobPhase::Pending => "Pending",
            JobPhase::Running => "Running",
            JobPhase::Suspended => "Suspended",
            JobPhase::Succeeded => "Succeeded",
            JobPhase::Failed => "Failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Pending" => JobPhase::Pending,
            "Running" => JobPhase::Running,
            "Suspended" => JobPhase::Suspended,
            "Succeeded" => JobPhase::Succeeded,
            "Failed" => JobPhase::Failed,
            _ => return None,
        })
    }

    /// Whether the job has finished (its outcome is final).
    pub fn is_finished(self) -> bool {
        matches!(self, JobPhase::Succeeded | JobPhase::Failed)
    }
}

/// Why a job left the live list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// `ttl_seconds_after_finished` elapsed.
    Ttl,
    /// Deleted (API, CLI, console, its cronjob deleted, or gone from the configuration).
    Deleted,
    /// Pushed out by its cronjob's successful/failed jobs history limit.
    HistoryLimit,
}

impl RemovalReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RemovalReason::Ttl => "ttl",
            RemovalReason::Deleted => "deleted",
            RemovalReason::HistoryLimit => "history_limit",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ttl" => RemovalReason::Ttl,
            "deleted" => RemovalReason::Deleted,
            "history_limit" => RemovalReason::HistoryLimit,
            _ => return None,
        })
    }
}

/// A job condition, as Kubernetes reports them (`Complete`, `Failed`, `Suspended`, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCondition {
    /// `Complete` | `Failed` | `Suspended` | …
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the condition holds.
    pub status: bool,
    /// Machine-readable reason (`BackoffLimitExceeded`, `DeadlineExceeded`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the condition last changed.
    pub last_transition_time: DateTime<Utc>,
}

/// A job's status, written whole on every change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    /// Phase.
    pub phase: JobPhase,
    /// Slots running now.
    pub active: i32,
    /// Successful completions.
    pub succeeded: i32,
    /// Failed attempts.
    pub failed: i32,
    /// Completed indexes (`Indexed` mode), as intervals: `"0,2-4"`; empty when none.
    pub completed_indexes: String,
    /// Failed indexes (with `backoff_limit_per_index`), same format.
    pub failed_indexes: String,
    /// Conditions, oldest first.
    pub conditions: Vec<JobCondition>,
    /// When the job first started a slot.
    pub start_time: Option<DateTime<Utc>>,
    /// When it finished.
    pub completion_time: Option<DateTime<Utc>>,
}

impl JobStatus {
    /// The status of a job that has just been created.
    pub fn pending() -> Self {
        JobStatus {
            phase: JobPhase::Pending,
            active: 0,
            succeeded: 0,
            failed: 0,
            completed_indexes: String::new(),
            failed_indexes: String::new(),
            conditions: Vec::new(),
            start_time: None,
            completion_time: None,
        }
    }
}

/// A job to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    /// Identifies this job for ever (a later job with the same name has another uid);
    /// at most [`UID_MAX_BYTES`]. See [`new_uid`].
    pub uid: String,
    /// Name, unique among live jobs; at most [`NAME_MAX_BYTES`].
    pub name: String,
    /// Where it was defined.
    pub origin: JobOrigin,
    /// The cronjob that created it.
    pub cronjob: Option<String>,
    /// The spec, as the engine serialises it.
    pub spec: serde_json::Value,
    /// Its status when recorded.
    pub status: JobStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Why and when a job left the live list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: RemovalReason,
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredJob {
    /// Row id (increasing with creation).
    pub id: i64,
    /// The job's uid.
    pub uid: String,
    /// Name.
    pub name: String,
    /// Where it was defined.
    pub origin: JobOrigin,
    /// The cronjob that created it.
    pub cronjob: Option<String>,
    /// The spec.
    pub spec: serde_json::Value,
    /// The last recorded status.
    pub status: JobStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its row last changed.
    pub updated_at: DateTime<Utc>,
    /// Set once it has left the live list.
    pub removed: Option<Removal>,
}

impl TryFrom<job::Model> for StoredJob {
    type Error = StoreError;

    fn try_from(m: job::Model) -> Result<Self, StoreError> {
        let bad = |what: &str| StoreError::Internal(format!("job row {} ({:?}): {what}", m.id, m.name));
        let origin = JobOrigin::parse(&m.origin).ok_or_else(|| bad(&format!("unknown origin {:?}", m.origin)))?;
        let phase = JobPhase::parse(&m.phase).ok_or_else(|| bad(&format!("unknown phase {:?}", m.phase)))?;
        let spec = serde_json::from_str(&m.spec).map_err(|e| bad(&format!("stored spec does not parse: {e}")))?;
        let conditions =
            serde_json::from_str(&m.conditions).map_err(|e| bad(&format!("stored conditions do not parse: {e}")))?;
        let removed = match (m.deleted_at, m.removed_reason.as_deref()) {
            (None, _) => None,
            (Some(at), reason) => {
                let reason = reason
                    .and_then(RemovalReason::parse)
                    .ok_or_else(|| bad(&format!("unknown removal reason {:?}", m.removed_reason)))?;
                Some(Removal { at, reason })
            }
        };
        Ok(StoredJob {
            id: m.id,
            uid: m.uid,
            name: m.name,
            origin,
            cronjob: m.cronjob,
            spec,
            status: JobStatus {
                phase,
                active: m.active,
                succeeded: m.succeeded,
                failed: m.failed,
                completed_indexes: m.completed_indexes,
                failed_indexes: m.failed_indexes,
                conditions,
                start_time: m.start_time,
                completion_time: m.completion_time,
            },
            created_at: m.created_at,
            updated_at: m.updated_at,
            removed,
        })
    }
}

/// Which job a call is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobRef<'a> {
    /// By row id.
    Id(i64),
    /// By uid.
    Uid(&'a str),
    /// The live job with this name.
    Live(&'a str),
}

impl JobRef<'_> {
    fn condition(self) -> Condition {
        match self {
            JobRef::Id(id) => Condition::all().add(job::Column::Id.eq(id)),
            JobRef::Uid(uid) => Condition::all().add(job::Column::Uid.eq(uid)),
            JobRef::Live(name) => {
                Condition::all().add(job::Column::Name.eq(name)).add(job::Column::DeletedAt.is_null())
            }
        }
    }

    fn not_found(self) -> StoreError {
        StoreError::NotFound(match self {
            JobRef::Id(id) => format!("no job with id {id}"),
            JobRef::Uid(uid) => format!("no job with uid {uid:?}"),
            JobRef::Live(name) => format!("job {name:?} not found"),
        })
    }
}

/// A new random uid (32 hex digits), for callers whose jobs have none.
pub fn new_uid() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// At most [`LOG_EXCERPT_MAX_BYTES`] of `log`: its end, cut at a character boundary.
pub fn bound_excerpt(log: &str) -> &str {
    if log.len() <= LOG_EXCERPT_MAX_BYTES {
        return log;
    }
    let mut start = log.len() - LOG_EXCERPT_MAX_BYTES;
    while !log.is_char_boundary(start) {
        start += 1;
    }
    &log[start..]
}

fn to_json<T: Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(format!("encoding {what}: {e}")))
}

/// Records a job; when a row with the same uid exists, replaces its spec, origin, owner
/// and status (so recording the same creation twice is harmless); its name, creation time
/// and removal stay as first recorded.
///
/// [`StoreError::Conflict`] when another live job has the name (the API answers 409).
pub async fn upsert(db: &impl ConnectionTrait, new: &NewJob) -> Result<StoredJob, StoreError> {
    check_len("job name", &new.name, NAME_MAX_BYTES)?;
    check_len("job uid", &new.uid, UID_MAX_BYTES)?;
    if new.name.is_empty() || new.uid.is_empty() {
        return Err(StoreError::Invalid("a job needs a name and a uid".into()));
    }
    if let Some(c) = &new.cronjob {
        check_len("cronjob name", c, NAME_MAX_BYTES)?;
    }
    let conflict = || StoreError::Conflict(format!("job {:?} already exists", new.name));
    // Checked first so that the common case does not abort the caller's transaction
    // (PostgreSQL); the unique index still decides a race.
    let live = job::Entity::find().filter(JobRef::Live(&new.name).condition()).one(db).await?;
    if live.is_some_and(|live| live.uid != new.uid) {
        // Another live job has the name. Recording again a job that has been removed since
        // (a replayed creation) is no conflict: its row is updated, not made live.
        let removed_before = job::Entity::find()
            .filter(JobRef::Uid(&new.uid).condition())
            .one(db)
            .await?
            .is_some_and(|own| own.deleted_at.is_some());
        if !removed_before {
            return Err(conflict());
        }
    }
    let now = ts(Utc::now());
    let s = &new.status;
    let model = job::ActiveModel {
        uid: Set(new.uid.clone()),
        name: Set(new.name.clone()),
        origin: Set(new.origin.as_str().to_string()),
        cronjob: Set(new.cronjob.clone()),
        spec: Set(to_json("the job spec", &new.spec)?),
        phase: Set(s.phase.as_str().to_string()),
        active: Set(s.active),
        succeeded: Set(s.succeeded),
        failed: Set(s.failed),
        completed_indexes: Set(s.completed_indexes.clone()),
        failed_indexes: Set(s.failed_indexes.clone()),
        conditions: Set(to_json("the job conditions", &s.conditions)?),
        start_time: Set(s.start_time.map(ts)),
        completion_time: Set(s.completion_time.map(ts)),
        created_at: Set(ts(new.created_at)),
        updated_at: Set(now),
        deleted_at: Set(None),
        removed_reason: Set(None),
        ..Default::default()
    };
    use job::Column as C;
    let result = job::Entity::insert(model)
        .on_conflict(
            OnConflict::column(C::Uid)
                .update_columns([
                    C::Origin,
                    C::Cronjob,
                    C::Spec,
                    C::Phase,
                    C::Active,
                    C::Succeeded,
                    C::Failed,
                    C::CompletedIndexes,
                    C::FailedIndexes,
                    C::Conditions,
                    C::StartTime,
                    C::CompletionTime,
                    C::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await;
    match result {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(conflict()),
        Err(e) => return Err(e.into()),
    }
    get(db, JobRef::Uid(&new.uid)).await?.ok_or_else(|| StoreError::Internal("the upserted job vanished".into()))
}

/// Overwrites a job's status (live or removed). [`StoreError::NotFound`] when no row matches.
pub async fn update_status(db: &impl ConnectionTrait, job: JobRef<'_>, status: &JobStatus) -> Result<(), StoreError> {
    use job::Column as C;
    let res = job::Entity::update_many()
        .col_expr(C::Phase, Expr::value(status.phase.as_str()))
        .col_expr(C::Active, Expr::value(status.active))
        .col_expr(C::Succeeded, Expr::value(status.succeeded))
        .col_expr(C::Failed, Expr::value(status.failed))
        .col_expr(C::CompletedIndexes, Expr::value(status.completed_indexes.clone()))
        .col_expr(C::FailedIndexes, Expr::value(status.failed_indexes.clone()))
        .col_expr(C::Conditions, Expr::value(to_json("the job conditions", &status.conditions)?))
        .col_expr(C::StartTime, Expr::value(status.start_time.map(ts)))
        .col_expr(C::CompletionTime, Expr::value(status.completion_time.map(ts)))
        .col_expr(C::UpdatedAt, Expr::value(ts(Utc::now())))
        .filter(job.condition())
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(job.not_found());
    }
    Ok(())
}

/// Replaces a job's spec (e.g. `suspend` changed). [`StoreError::NotFound`] when no row matches.
pub async fn set_spec(db: &impl ConnectionTrait, job: JobRef<'_>, spec: &serde_json::Value) -> Result<(), StoreError> {
    let res = job::Entity::update_many()
        .col_expr(job::Column::Spec, Expr::value(to_json("the job spec", spec)?))
        .col_expr(job::Column::UpdatedAt, Expr::value(ts(Utc::now())))
        .filter(job.condition())
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(job.not_found());
    }
    Ok(())
}

/// Takes a job off the live list, keeping its row, status and attempts as history; its name
/// is free again. Returns whether a live job was removed (`false`: unknown or already removed).
pub async fn remove(
    db: &impl ConnectionTrait,
    job: JobRef<'_>,
    reason: RemovalReason,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = job::Entity::update_many()
        .col_expr(job::Column::DeletedAt, Expr::value(Some(ts(at))))
        .col_expr(job::Column::RemovedReason, Expr::value(Some(reason.as_str())))
        .col_expr(job::Column::UpdatedAt, Expr::value(ts(Utc::now())))
        .filter(job.condition())
        .filter(job::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// One job, live or removed.
pub async fn get(db: &impl ConnectionTrait, job: JobRef<'_>) -> Result<Option<StoredJob>, StoreError> {
    job::Entity::find().filter(job.condition()).one(db).await?.map(StoredJob::try_from).transpose()
}

/// The live jobs, by name.
pub async fn list_live(db: &impl ConnectionTrait) -> Result<Vec<StoredJob>, StoreError> {
    job::Entity::find()
        .filter(job::Column::DeletedAt.is_null())
        .order_by_asc(job::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(StoredJob::try_from)
        .collect()
}

/// Which part of the job history to list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryQuery<'a> {
    /// Only jobs with this name (every incarnation).
    pub name: Option<&'a str>,
    /// Only jobs created by this cronjob.
    pub cronjob: Option<&'a str>,
    /// Only jobs older than this row id (the previous page's `next_before`).
    pub before: Option<i64>,
    /// Page size, 1 to [`crate::store::MAX_PAGE`].
    pub limit: u64,
}

/// Jobs, live and removed, newest first.
pub async fn history(db: &impl ConnectionTrait, q: &HistoryQuery<'_>) -> Result<Page<StoredJob>, StoreError> {
    check_limit(q.limit)?;
    let mut find = job::Entity::find().order_by_desc(job::Column::Id).limit(q.limit + 1);
    if let Some(name) = q.name {
        find = find.filter(job::Column::Name.eq(name));
    }
    if let Some(cronjob) = q.cronjob {
        find = find.filter(job::Column::Cronjob.eq(cronjob));
    }
    if let Some(before) = q.before {
        find = find.filter(job::Column::Id.lt(before));
    }
    let rows = find.all(db).await?.into_iter().map(StoredJob::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(page(rows, q.limit, |j| j.id))
}

/// An attempt's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// Its process runs (or ran when the daemon stopped).
    Running,
    /// Exited successfully.
    Succeeded,
    /// Failed, was killed, or could not be re-adopted.
    Failed,
}

impl AttemptState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Running => "running",
            AttemptState::Succeeded => "succeeded",
            AttemptState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => AttemptState::Running,
            "succeeded" => AttemptState::Succeeded,
            "failed" => AttemptState::Failed,
            _ => return None,
        })
    }
}

/// An attempt that has started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttempt {
    /// Completion index (`Indexed` mode).
    pub completion_index: Option<i32>,
    /// Attempt number, 1-based, per (job, completion index).
    pub attempt: i32,
    /// Its process (none when spawning failed).
    pub pid: Option<i64>,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptEnd {
    /// `Succeeded` or `Failed` (not `Running`).
    pub state: AttemptState,
    /// When.
    pub finished_at: DateTime<Utc>,
    /// Exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Terminating signal, when killed by one.
    pub signal: Option<i32>,
    /// `Completed`, `Failed`, `DeadlineExceeded`, `BackoffLimitExceeded`, `Killed`, …;
    /// at most [`REASON_MAX_BYTES`].
    pub reason: Option<String>,
    /// The end of its output; cut to [`LOG_EXCERPT_MAX_BYTES`] by the store.
    pub log_excerpt: Option<String>,
}

/// An attempt as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAttempt {
    /// Row id.
    pub id: i64,
    /// The job's row id.
    pub job_id: i64,
    /// Completion index.
    pub completion_index: Option<i32>,
    /// Attempt number.
    pub attempt: i32,
    /// Process id.
    pub pid: Option<i64>,
    /// State.
    pub state: AttemptState,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Signal.
    pub signal: Option<i32>,
    /// Reason.
    pub reason: Option<String>,
    /// The end of its output.
    pub log_excerpt: Option<String>,
}

impl TryFrom<job_attempt::Model> for StoredAttempt {
    type Error = StoreError;

    fn try_from(m: job_attempt::Model) -> Result<Self, StoreError> {
        let state = AttemptState::parse(&m.state)
            .ok_or_else(|| StoreError::Internal(format!("attempt row {}: unknown state {:?}", m.id, m.state)))?;
        Ok(StoredAttempt {
            id: m.id,
            job_id: m.job_id,
            completion_index: m.completion_index,
            attempt: m.attempt,
            pid: m.pid,
            state,
            started_at: m.started_at,
            finished_at: m.finished_at,
            exit_code: m.exit_code,
            signal: m.signal,
            reason: m.reason,
            log_excerpt: m.log_excerpt,
        })
    }
}

async fn job_id(db: &impl ConnectionTrait, job: JobRef<'_>) -> Result<i64, StoreError> {
    if let JobRef::Id(id) = job {
        return Ok(id);
    }
    job::Entity::find()
        .select_only()
        .column(job::Column::Id)
        .filter(job.condition())
        .into_tuple::<i64>()
        .one(db)
        .await?
        .ok_or_else(|| job.not_found())
}

/// Records a started attempt (state `running`); returns its row id.
pub async fn insert_attempt(db: &impl ConnectionTrait, job: JobRef<'_>, new: &NewAttempt) -> Result<i64, StoreError> {
    let job_id = job_id(db, job).await?;
    let model = job_attempt::ActiveModel {
        job_id: Set(job_id),
        completion_index: Set(new.completion_index),
        attempt: Set(new.attempt),
        pid: Set(new.pid),
        state: Set(AttemptState::Running.as_str().to_string()),
        started_at: Set(ts(new.started_at)),
        ..Default::default()
    };
    match model.insert(db).await {
        Ok(m) => Ok(m.id),
        // The job row was removed between the look-up and the insert (foreign key).
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))) => {
            Err(job.not_found())
        }
        Err(e) => Err(e.into()),
    }
}

/// Which attempt: by row id, or by its job, completion index and number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptRef<'a> {
    /// By row id.
    Id(i64),
    /// By job, completion index and attempt number.
    Of {
        /// The job.
        job: JobRef<'a>,
        /// Completion index.
        completion_index: Option<i32>,
        /// Attempt number.
        attempt: i32,
    },
}

/// Closes a running attempt. Returns `false` when it was not running (already closed, e.g.
/// by [`close_in_flight`]): the first end recorded wins.
pub async fn finish_attempt(
    db: &impl ConnectionTrait,
    attempt: AttemptRef<'_>,
    end: &AttemptEnd,
) -> Result<bool, StoreError> {
    if end.state == AttemptState::Running {
        return Err(StoreError::Invalid("an attempt cannot end in state running".into()));
    }
    if let Some(r) = &end.reason {
        check_len("attempt reason", r, REASON_MAX_BYTES)?;
    }
    use job_attempt::Column as C;
    let mut update = job_attempt::Entity::update_many()
        .col_expr(C::State, Expr::value(end.state.as_str()))
        .col_expr(C::FinishedAt, Expr::value(Some(ts(end.finished_at))))
        .col_expr(C::ExitCode, Expr::value(end.exit_code))
        .col_expr(C::Signal, Expr::value(end.signal))
        .col_expr(C::Reason, Expr::value(end.reason.clone()))
        .col_expr(C::LogExcerpt, Expr::value(end.log_excerpt.as_deref().map(|l| bound_excerpt(l).to_string())))
        .filter(C::State.eq(AttemptState::Running.as_str()));
    match attempt {
        AttemptRef::Id(id) => update = update.filter(C::Id.eq(id)),
        AttemptRef::Of { job, completion_index, attempt } => {
            let job_id = job_id(db, job).await?;
            update = update.filter(C::JobId.eq(job_id)).filter(C::Attempt.eq(attempt)).filter(match completion_index {
                Some(i) => C::CompletionIndex.eq(i),
                None => C::CompletionIndex.is_null(),
            });
        }
    }
    Ok(update.exec(db).await?.rows_affected > 0)
}

/// A job's attempts, by completion index and attempt number.
pub async fn attempts(db: &impl ConnectionTrait, job: JobRef<'_>) -> Result<Vec<StoredAttempt>, StoreError> {
    let job_id = job_id(db, job).await?;
    job_attempt::Entity::find()
        .filter(job_attempt::Column::JobId.eq(job_id))
        .order_by_asc(job_attempt::Column::CompletionIndex)
        .order_by_asc(job_attempt::Column::Attempt)
        .order_by_asc(job_attempt::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(StoredAttempt::try_from)
        .collect()
}

/// A running attempt with its job's identity, for re-adoption after a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningAttempt {
    /// The attempt.
    pub attempt: StoredAttempt,
    /// Its job's uid.
    pub job_uid: String,
    /// Its job's name.
    pub job_name: String,
}

/// Every attempt still recorded as running, oldest first.
pub async fn running_attempts(db: &impl ConnectionTrait) -> Result<Vec<RunningAttempt>, StoreError> {
    let rows = job_attempt::Entity::find()
        .filter(job_attempt::Column::State.eq(AttemptState::Running.as_str()))
        .order_by_asc(job_attempt::Column::Id)
        .find_also_related(job::Entity)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(a, j)| {
            let j = j.ok_or_else(|| StoreError::Internal(format!("attempt row {} has no job", a.id)))?;
            Ok(RunningAttempt { attempt: a.try_into()?, job_uid: j.uid, job_name: j.name })
        })
        .collect()
}

/// What [`close_in_flight`] is told after a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlight<'a> {
    /// Recorded as the attempts' reason and the jobs' `Failed` condition reason
    /// (e.g. `DaemonRestart`); at most [`REASON_MAX_BYTES`].
    pub reason: &'a str,
    /// When (the restart).
    pub at: DateTime<Utc>,
    /// Attempts whose process was re-adopted: they stay running.
    pub adopted_attempts: &'a [i64],
    /// Jobs the engine carries on with (restored and resumed): their rows stay as they are
    /// (the engine writes their status); their non-adopted attempts are closed all the same.
    pub resumed_jobs: &'a [i64],
}

/// What [`close_in_flight`] closed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Closed {
    /// Attempt row ids, ascending.
    pub attempts: Vec<i64>,
    /// Job row ids, ascending.
    pub jobs: Vec<i64>,
}

/// After a restart, closes what was in flight and cannot carry on: every `running` attempt
/// not in `adopted_attempts` becomes `failed` (finished now, with the reason), and every
/// `Pending` or `Running` job (live or removed) that is not in `resumed_jobs` and has no
/// adopted attempt becomes `Failed`: no slot active, its closed attempts counted as
/// failures, completion time now, and a `Failed` condition with the reason. `Suspended`
/// jobs are left alone (nothing of theirs runs).
///
/// Runs in one transaction of its own (nested in the caller's, if any).
pub async fn close_in_flight<C>(db: &C, what: &InFlight<'_>) -> Result<Closed, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    check_len("reason", what.reason, REASON_MAX_BYTES)?;
    let at = ts(what.at);
    let adopted: BTreeSet<i64> = what.adopted_attempts.iter().copied().collect();
    let resumed: BTreeSet<i64> = what.resumed_jobs.iter().copied().collect();
    let txn = db.begin().await?;

    let running = job_attempt::Entity::find()
        .filter(job_attempt::Column::State.eq(AttemptState::Running.as_str()))
        .all(&txn)
        .await?;
    let mut kept_jobs: BTreeSet<i64> = resumed.clone();
    let mut closed_per_job: BTreeMap<i64, i32> = BTreeMap::new();
    let mut closed = Closed::default();
    for a in &running {
        if adopted.contains(&a.id) {
            kept_jobs.insert(a.job_id);
        } else {
            closed.attempts.push(a.id);
            *closed_per_job.entry(a.job_id).or_default() += 1;
        }
    }
    closed.attempts.sort_unstable();
    for chunk in closed.attempts.chunks(500) {
        use job_attempt::Column as C;
        job_attempt::Entity::update_many()
            .col_expr(C::State, Expr::value(AttemptState::Failed.as_str()))
            .col_expr(C::FinishedAt, Expr::value(Some(at)))
            .col_expr(C::Reason, Expr::value(Some(what.reason)))
            .filter(C::Id.is_in(chunk.iter().copied()))
            .filter(C::State.eq(AttemptState::Running.as_str()))
            .exec(&txn)
            .await?;
    }

    let in_flight = job::Entity::find()
        .filter(job::Column::Phase.is_in([JobPhase::Pending.as_str(), JobPhase::Running.as_str()]))
        .order_by_asc(job::Column::Id)
        .all(&txn)
        .await?;
    for j in in_flight {
        if kept_jobs.contains(&j.id) {
            continue;
        }
        let mut conditions: Vec<JobCondition> = match serde_json::from_str(&j.conditions) {
            Ok(c) => c,
            Err(e) => {
                // Closing the job matters more than its unreadable conditions.
                tracing::warn!(job = j.id, error = %e, "stored job conditions do not parse; replacing them");
                Vec::new()
            }
        };
        conditions.push(JobCondition {
            kind: "Failed".into(),
            status: true,
            reason: Some(what.reason.to_string()),
            message: Some("the daemon restarted and the job's processes could not be re-adopted".into()),
            last_transition_time: at,
        });
        let failed = j.failed + closed_per_job.get(&j.id).copied().unwrap_or(0);
        use job::Column as C;
        job::Entity::update_many()
            .col_expr(C::Phase, Expr::value(JobPhase::Failed.as_str()))
            .col_expr(C::Active, Expr::value(0))
            .col_expr(C::Failed, Expr::value(failed))
            .col_expr(C::Conditions, Expr::value(to_json("the job conditions", &conditions)?))
            .col_expr(C::CompletionTime, Expr::value(Some(at)))
            .col_expr(C::UpdatedAt, Expr::value(at))
            .filter(C::Id.eq(j.id))
            .exec(&txn)
            .await?;
        closed.jobs.push(j.id);
    }
    txn.commit().await?;
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use super::{bound_excerpt, new_uid, LOG_EXCERPT_MAX_BYTES};

    #[test]
    fn excerpts_keep_the_end_within_the_bound_at_a_char_boundary() {
        let max = LOG_EXCERPT_MAX_BYTES;
        let exact = "a".repeat(max);
        let over = format!("b{exact}");
        // "é" is 2 bytes: with an odd excess the cut falls inside one and moves forward.
        let multi = format!("{}z", "é".repeat(max / 2));
        let cases: [(&str, &str, usize); 5] = [
            ("empty", "", 0),
            ("short", "done\n", 5),
            ("exactly the bound", &exact, max),
            ("one byte over", &over, max),
            ("cut inside a character", &multi, max - 1),
        ];
        for (what, log, len) in cases {
            let e = bound_excerpt(log);
            assert_eq!(e.len(), len, "{what}");
            assert!(log.ends_with(e), "{what}: the end is kept");
        }
    }

    #[test]
    fn uids_are_32_hex_digits_and_differ() {
        let (a, b) = (new_uid(), new_uid());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
