//! Registrations: one row per process spec (where it comes from and the spec itself),
//! one row per instance with the operator's wish (running / stopped), so that
//! registrations and wishes survive daemon restarts and crashes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Processes {
    Table,
    Name,
    Origin,
    Spec,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProcessInstances {
    Table,
    Name,
    Process,
    Desired,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Processes::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Processes::Name).string_len(128).not_null().primary_key())
                    .col(ColumnDef::new(Processes::Origin).string_len(16).not_null())
                    .col(ColumnDef::new(Processes::Spec).text().not_null())
                    .col(ColumnDef::new(Processes::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Processes::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProcessInstances::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ProcessInstances::Name).string_len(140).not_null().primary_key())
                    .col(ColumnDef::new(ProcessInstances::Process).string_len(128).not_null())
                    .col(ColumnDef::new(ProcessInstances::Desired).string_len(16).not_null())
                    .col(ColumnDef::new(ProcessInstances::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_process_instances_process")
                            .from(ProcessInstances::Table, ProcessInstances::Process)
                            .to(Processes::Table, Processes::Name)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_process_instances_process")
                    .table(ProcessInstances::Table)
                    .col(ProcessInstances::Process)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ProcessInstances::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Processes::Table).to_owned()).await
    }
}
