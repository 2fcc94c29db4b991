//! CronJobs and their firings.
//!
//! `cronjobs` is the registration (like `processes`): one row per name, deleted with the
//! cronjob. `cron_firings` is history: one row per schedule slot that was considered (a job
//! was created, or the slot was skipped and why) and per manual trigger. Firings keep the
//! cronjob's name and the `cronjob_id` it had, with no foreign key, so they outlive the
//! cronjob, and a cronjob re-created under the same name (a new id) can be told apart.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cronjobs {
    Table,
    Id,
    Name,
    Origin,
    Spec,
    Suspended,
    LastScheduleTime,
    LastSuccessfulTime,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CronFirings {
    Table,
    Id,
    CronjobId,
    Cronjob,
    ScheduledAt,
    FiredAt,
    Manual,
    Outcome,
    Reason,
    JobId,
    JobName,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Cronjobs::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Cronjobs::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Cronjobs::Name).string_len(128).not_null().unique_key())
                    // `config` | `programs_dir` | `api`
                    .col(ColumnDef::new(Cronjobs::Origin).string_len(16).not_null())
                    .col(ColumnDef::new(Cronjobs::Spec).text().not_null())
                    .col(ColumnDef::new(Cronjobs::Suspended).boolean().not_null().default(false))
                    // The slot of the last job created by the schedule (Kubernetes'
                    // `lastScheduleTime`): where missed-run catch-up starts after a restart.
                    .col(ColumnDef::new(Cronjobs::LastScheduleTime).timestamp_with_time_zone())
                    .col(ColumnDef::new(Cronjobs::LastSuccessfulTime).timestamp_with_time_zone())
                    .col(ColumnDef::new(Cronjobs::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Cronjobs::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CronFirings::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(CronFirings::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(CronFirings::CronjobId).big_integer().not_null())
                    .col(ColumnDef::new(CronFirings::Cronjob).string_len(128).not_null())
                    // The slot (for a manual trigger: when it was asked for).
                    .col(ColumnDef::new(CronFirings::ScheduledAt).timestamp_with_time_zone().not_null())
                    // When the job was actually created; NULL when skipped.
                    .col(ColumnDef::new(CronFirings::FiredAt).timestamp_with_time_zone())
                    // A "run now" trigger rather than a schedule slot.
                    .col(ColumnDef::new(CronFirings::Manual).boolean().not_null().default(false))
                    // `created` | `skipped`
                    .col(ColumnDef::new(CronFirings::Outcome).string_len(16).not_null())
                    .col(ColumnDef::new(CronFirings::Reason).text())
                    .col(ColumnDef::new(CronFirings::JobId).big_integer())
                    .col(ColumnDef::new(CronFirings::JobName).string_len(128))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cron_firings_job")
                            .from(CronFirings::Table, CronFirings::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // A cronjob's firings, newest first (keyset paging on id).
        manager
            .create_index(
                Index::create()
                    .name("idx_cron_firings_cronjob_id")
                    .table(CronFirings::Table)
                    .col(CronFirings::Cronjob)
                    .col(CronFirings::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cron_firings_job_id")
                    .table(CronFirings::Table)
                    .col(CronFirings::JobId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CronFirings::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Cronjobs::Table).to_owned()).await
    }
}
