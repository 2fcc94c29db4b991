//! Fixtures: a fresh, migrated database per test, on SQLite or PostgreSQL (a
//! [`testkit::PgDatabase`]), and the `on_both_backends!` macro that runs one scenario on each.

use sea_orm::DatabaseConnection;
use tempfile::TempDir;
use testkit::PgDatabase;

/// A migrated, empty database that is removed when dropped.
pub struct TestDb {
    /// A connection to it (migrations applied).
    pub db: DatabaseConnection,
    /// Its URL, to connect again.
    pub url: String,
    /// Keeps the SQLite file or the PostgreSQL database alive; removes it on drop.
    _guard: Guard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] TempDir),
    Postgres(#[allow(dead_code)] PgDatabase),
}

impl TestDb {
    /// A new SQLite file in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("provisr.db").display());
        let db = backend::db::connect(&url).await.expect("connecting to SQLite");
        TestDb { db, url, _guard: Guard::Sqlite(dir) }
    }

    /// A new database on the test PostgreSQL server; fails when `PROVISR_TEST_DATABASE_URL`
    /// is unset.
    pub async fn postgres() -> TestDb {
        let pg = PgDatabase::create().await;
        let url = pg.url();
        let db = backend::db::connect(&url).await.expect("connecting to the new PostgreSQL database");
        TestDb { db, url, _guard: Guard::Postgres(pg) }
    }
}

/// Runs `async fn $scenario(TestDb)` once on SQLite and once on PostgreSQL, as the tests
/// `$scenario::sqlite` and `$scenario::postgres`.
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$scenario($crate::helpers::TestDb::sqlite().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$scenario($crate::helpers::TestDb::postgres().await).await;
                }
            }
        )+
    };
}
pub(crate) use on_both_backends;
