//! Connecting to the store (SQLite by default, PostgreSQL for production) and
//! bringing its schema up to date.

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use std::time::Duration;

/// Connects to `url` (`sqlite://…` or `postgres://…`) and applies every pending migration.
///
/// SQLite connections use WAL (readers never block the writer), `synchronous = NORMAL`
/// (a committed transaction survives a crash of the daemon), a busy timeout instead of
/// immediate `SQLITE_BUSY` errors, and enforced foreign keys.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false).connect_timeout(Duration::from_secs(10)).acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        opts.max_connections(8).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    } else {
        opts.max_connections(16);
    }
    let db = Database::connect(opts).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// A short description of the store for logs, without credentials.
pub fn describe(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let without_query = host_and_path.split('?').next().unwrap_or(host_and_path);
            format!("{scheme}://{without_query}")
        }
        None => "(unparseable store url)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn describe_hides_credentials() {
        assert_eq!(describe("postgres://u:secret@db:5432/provisr?sslmode=disable"), "postgres://db:5432/provisr");
        assert_eq!(describe("sqlite:///var/lib/provisr.db?mode=rwc"), "sqlite:///var/lib/provisr.db");
    }
}
