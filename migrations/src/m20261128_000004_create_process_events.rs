//! Process history: every start, exit (with code or signal and the restart decision),
//! stop, kill and adoption, across daemon runs. `run_id` identifies the daemon run,
//! `seq` orders events within it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProcessEvents {
    Table,
    Id,
    RunId,
    Seq,
    At,
    Name,
    Kind,
    Pid,
    ExitCode,
    Signal,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProcessEvents::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ProcessEvents::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(ProcessEvents::RunId).string_len(40).not_null())
                    .col(ColumnDef::new(ProcessEvents::Seq).big_integer().not_null())
                    .col(ColumnDef::new(ProcessEvents::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ProcessEvents::Name).string_len(140).not_null())
                    .col(ColumnDef::new(ProcessEvents::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(ProcessEvents::Pid).big_integer())
                    .col(ColumnDef::new(ProcessEvents::ExitCode).integer())
                    .col(ColumnDef::new(ProcessEvents::Signal).integer())
                    .col(ColumnDef::new(ProcessEvents::Detail).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_process_events_name_at")
                    .table(ProcessEvents::Table)
                    .col(ProcessEvents::Name)
                    .col(ProcessEvents::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ProcessEvents::Table).to_owned()).await
    }
}
