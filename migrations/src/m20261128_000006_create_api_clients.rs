//! API clients (OAuth2-style client credentials). The secret is stored argon2id-hashed;
//! `token_version` is bumped whenever a change must end the client's existing tokens
//! (scopes, secret, deactivation).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiClients {
    Table,
    Id,
    ClientId,
    Name,
    SecretHash,
    Scopes,
    Active,
    TokenVersion,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiClients::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ApiClients::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(ApiClients::ClientId).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(ApiClients::Name).string_len(128).not_null())
                    .col(ColumnDef::new(ApiClients::SecretHash).string().not_null())
                    .col(ColumnDef::new(ApiClients::Scopes).string().not_null())
                    .col(ColumnDef::new(ApiClients::Active).boolean().not_null().default(true))
                    .col(ColumnDef::new(ApiClients::TokenVersion).big_integer().not_null().default(1))
                    .col(ColumnDef::new(ApiClients::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ApiClients::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ApiClients::Table).to_owned()).await
    }
}
