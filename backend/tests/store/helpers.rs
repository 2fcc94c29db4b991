//! Fixtures: a fresh database per test, on SQLite or PostgreSQL, and the `on_both_backends!`
//! macro that runs one scenario on each.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tempfile::TempDir;

/// The variable naming the PostgreSQL server the tests may create databases on.
pub const PG_URL_VAR: &str = "PROVISR_TEST_DATABASE_URL";

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

    /// A new database on the test PostgreSQL server.
    pub async fn postgres() -> TestDb {
        let pg = PgDatabase::create().await;
        let url = pg.url();
        let db = backend::db::connect(&url).await.expect("connecting to the new PostgreSQL database");
        TestDb { db, url, _guard: Guard::Postgres(pg) }
    }
}

/// A database created for one test on the server of `PROVISR_TEST_DATABASE_URL`, dropped
/// (best-effort, `WITH (FORCE)`) when this value is dropped.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    /// Creates `provisr_t_<random>`. Panics with instructions when the variable is unset:
    /// PostgreSQL tests never skip silently.
    pub async fn create() -> PgDatabase {
        let admin_url = std::env::var(PG_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{PG_URL_VAR} is not set: the PostgreSQL tests need a server. Run the tests with \
                 `cargo xtask test` (it starts PostgreSQL and sets the variable), or set \
                 {PG_URL_VAR}=postgres://USER:PASSWORD@HOST:PORT/DB for a role with CREATEDB"
            )
        });
        let name = format!("provisr_t_{:016x}", rand::random::<u64>());
        let admin = Database::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("connecting to {PG_URL_VAR} ({}): {e}", backend::db::describe(&admin_url)));
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = admin.close().await;
        PgDatabase { admin_url, name }
    }

    /// The URL of the created database.
    pub fn url(&self) -> String {
        with_database(&self.admin_url, &self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                use sea_orm::ConnectionTrait;
                let admin = sea_orm::Database::connect(&url).await.ok()?;
                // FORCE ends our own leftover connections, but fails while an autovacuum
                // worker (another role) is in the database: then retry, and finally drop
                // without FORCE, which waits for autovacuum.
                let mut done = false;
                for (attempt, force) in [(0, " WITH (FORCE)"), (1, " WITH (FORCE)"), (2, "")] {
                    if attempt > 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                    let sql = format!("DROP DATABASE IF EXISTS {name}{force}");
                    if admin.execute_unprepared(&sql).await.is_ok() {
                        done = true;
                        break;
                    }
                }
                let _ = admin.close().await;
                done.then_some(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: could not drop the test database {}", self.name);
        }
    }
}

/// `postgres://u:p@h:5432/db?x=y` with the database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
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

#[test]
fn database_urls_are_rewritten() {
    assert_eq!(with_database("postgres://u:p@127.0.0.1:5432/provisr_test", "x"), "postgres://u:p@127.0.0.1:5432/x");
    assert_eq!(with_database("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
