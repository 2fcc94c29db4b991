//! Jobs and their attempts, kept as history.
//!
//! `jobs` has one row per job *incarnation*: a surrogate `id`, the engine's `uid`, and the
//! `name`, which is unique only among live jobs (`deleted_at IS NULL`, a partial unique
//! index), because a name is free again once its job has been deleted or removed by its TTL
//! or a cronjob's history limit; the removed row stays, with `deleted_at` and
//! `removed_reason`. `job_attempts` has one row per process started for a job (per slot
//! and retry), with its outcome and the tail of its log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Uid,
    Name,
    Origin,
    Cronjob,
    Spec,
    Phase,
    Active,
    Succeeded,
    Failed,
    CompletedIndexes,
    FailedIndexes,
    Conditions,
    StartTime,
    CompletionTime,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    RemovedReason,
}

#[derive(DeriveIden)]
enum JobAttempts {
    Table,
    Id,
    JobId,
    CompletionIndex,
    Attempt,
    Pid,
    State,
    StartedAt,
    FinishedAt,
    ExitCode,
    Signal,
    Reason,
    LogExcerpt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Jobs::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Jobs::Uid).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(Jobs::Name).string_len(128).not_null())
                    // `config` | `programs_dir` | `api` | `cronjob`
                    .col(ColumnDef::new(Jobs::Origin).string_len(16).not_null())
                    // The owning cronjob's name (no foreign key: the history outlives the cronjob).
                    .col(ColumnDef::new(Jobs::Cronjob).string_len(128))
                    .col(ColumnDef::new(Jobs::Spec).text().not_null())
                    .col(ColumnDef::new(Jobs::Phase).string_len(16).not_null())
                    .col(ColumnDef::new(Jobs::Active).integer().not_null().default(0))
                    .col(ColumnDef::new(Jobs::Succeeded).integer().not_null().default(0))
                    .col(ColumnDef::new(Jobs::Failed).integer().not_null().default(0))
                    // Interval lists as Kubernetes writes them: "0,2-4".
                    .col(ColumnDef::new(Jobs::CompletedIndexes).text().not_null().default(""))
                    .col(ColumnDef::new(Jobs::FailedIndexes).text().not_null().default(""))
                    // A JSON array of conditions.
                    .col(ColumnDef::new(Jobs::Conditions).text().not_null().default("[]"))
                    .col(ColumnDef::new(Jobs::StartTime).timestamp_with_time_zone())
                    .col(ColumnDef::new(Jobs::CompletionTime).timestamp_with_time_zone())
                    .col(ColumnDef::new(Jobs::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Jobs::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Jobs::DeletedAt).timestamp_with_time_zone())
                    // `ttl` | `deleted` | `history_limit`, set together with `deleted_at`.
                    .col(ColumnDef::new(Jobs::RemovedReason).string_len(16))
                    .to_owned(),
            )
            .await?;
        // At most one live job per name; removed ones keep their name for the history.
        // sea-query cannot express a partial index; this statement reads the same on SQLite
        // and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS idx_jobs_live_name ON jobs (name) WHERE deleted_at IS NULL",
            )
            .await?;
        // History by name and by owning cronjob, newest first (keyset paging on id).
        manager
            .create_index(
                Index::create().name("idx_jobs_name_id").table(Jobs::Table).col(Jobs::Name).col(Jobs::Id).to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_cronjob_id")
                    .table(Jobs::Table)
                    .col(Jobs::Cronjob)
                    .col(Jobs::Id)
                    .to_owned(),
            )
            .await?;
        // Jobs still in flight after a restart.
        manager
            .create_index(Index::create().name("idx_jobs_phase").table(Jobs::Table).col(Jobs::Phase).to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(JobAttempts::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(JobAttempts::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(JobAttempts::JobId).big_integer().not_null())
                    // The completion index in `Indexed` mode, NULL otherwise.
                    .col(ColumnDef::new(JobAttempts::CompletionIndex).integer())
                    // 1-based, counted per (job, completion index).
                    .col(ColumnDef::new(JobAttempts::Attempt).integer().not_null())
                    .col(ColumnDef::new(JobAttempts::Pid).big_integer())
                    // `running` | `succeeded` | `failed`
                    .col(ColumnDef::new(JobAttempts::State).string_len(16).not_null())
                    .col(ColumnDef::new(JobAttempts::StartedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(JobAttempts::FinishedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(JobAttempts::ExitCode).integer())
                    .col(ColumnDef::new(JobAttempts::Signal).integer())
                    // `Completed`, `Failed`, `DeadlineExceeded`, `BackoffLimitExceeded`, `Killed`, `DaemonRestart`, …
                    .col(ColumnDef::new(JobAttempts::Reason).string_len(64))
                    // The end of the attempt's output, bounded by the store.
                    .col(ColumnDef::new(JobAttempts::LogExcerpt).text())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_job_attempts_job")
                            .from(JobAttempts::Table, JobAttempts::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_job_attempts_job_index_attempt")
                    .table(JobAttempts::Table)
                    .col(JobAttempts::JobId)
                    .col(JobAttempts::CompletionIndex)
                    .col(JobAttempts::Attempt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_job_attempts_state")
                    .table(JobAttempts::Table)
                    .col(JobAttempts::State)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(JobAttempts::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Jobs::Table).to_owned()).await
    }
}
