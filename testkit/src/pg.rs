//! A PostgreSQL database of its own for each test, on the server of [`PG_URL_VAR`].

use sea_orm::{ConnectionTrait, Database};
use std::time::Duration;

/// The variable naming the PostgreSQL server the tests may create databases on:
/// `postgres://USER:PASSWORD@HOST:PORT/DB` for a role with `CREATEDB`. `cargo xtask test`
/// starts PostgreSQL and sets it.
pub const PG_URL_VAR: &str = "PROVISR_TEST_DATABASE_URL";

/// A database created for one test on the server of [`PG_URL_VAR`], dropped (best-effort,
/// `WITH (FORCE)`) when this value is dropped. Declare it before whatever uses it (a daemon,
/// a connection), so that those stop first.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    /// Creates `provisr_t_<random>`, empty (no migrations). Panics with instructions when
    /// [`PG_URL_VAR`] is unset: PostgreSQL tests fail, they never skip silently.
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
            .unwrap_or_else(|e| panic!("connecting to {PG_URL_VAR} ({}): {e}", without_credentials(&admin_url)));
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = admin.close().await;
        PgDatabase { admin_url, name }
    }

    /// The URL of the created database (the server's URL with the database replaced).
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
                let admin = Database::connect(&url).await.ok()?;
                // FORCE ends our own leftover connections, but fails while an autovacuum
                // worker (another role) is in the database: then retry, and finally drop
                // without FORCE, which waits for autovacuum.
                let mut done = false;
                for (attempt, force) in [(0, " WITH (FORCE)"), (1, " WITH (FORCE)"), (2, "")] {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(200)).await;
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

/// `url` (`postgres://u:p@h:5432/db?x=y`) with the database replaced by `name`; the
/// credentials and the query are kept.
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

/// `url` without its credentials and query, fit for a panic message.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(an unparseable URL)".to_string();
    };
    let after_credentials = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{}", after_credentials.split('?').next().unwrap_or(after_credentials))
}

#[cfg(test)]
mod tests {
    use super::{with_database, without_credentials};

    #[test]
    fn database_urls_are_rewritten() {
        assert_eq!(with_database("postgres://u:p@127.0.0.1:5432/provisr_test", "x"), "postgres://u:p@127.0.0.1:5432/x");
        assert_eq!(with_database("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }

    #[test]
    fn credentials_are_left_out_of_messages() {
        assert_eq!(without_credentials("postgres://u:s?cr@t@h:5432/db?sslmode=disable"), "postgres://h:5432/db");
        assert_eq!(without_credentials("postgres://h/db"), "postgres://h/db");
        assert_eq!(without_credentials("h/db"), "(an unparseable URL)");
    }
}
