//! The PostgreSQL the test phase runs against. On this machine kind it is installed (Debian's
//! `postgresql`, one cluster) but stopped, so we start the cluster `pg_lsclusters` reports, wait
//! until it accepts connections, and create the `provisr` role and `provisr_test` database if they
//! are missing. A PostgreSQL that cannot be started fails the run: the store tests must not be
//! skipped silently in CI.

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::setup::Apt;
use crate::shell;

/// The variable the store tests read (e.g. `postgres://provisr:provisr@127.0.0.1:5432/provisr_test`).
pub const URL_VAR: &str = "PROVISR_TEST_DATABASE_URL";
const ROLE: &str = "provisr";
const PASSWORD: &str = "provisr";
const DATABASE: &str = "provisr_test";
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts PostgreSQL and prepares the test database; returns its URL. When the variable is
/// already set (a developer's own server), it is used as is.
pub fn ensure_test_database(apt: &mut Apt) -> Result<String> {
    if let Ok(url) = std::env::var(URL_VAR) {
        println!("{URL_VAR} is set; using that database and leaving local clusters alone");
        return Ok(url);
    }
    if !shell::on_path("pg_lsclusters") {
        println!("PostgreSQL is not installed; installing Debian's postgresql");
        apt.install(&["postgresql"])?;
    }
    let cluster = pick_cluster(&shell::stdout(Command::new("pg_lsclusters").arg("--no-header"))?)?;
    if !cluster.online {
        shell::run(Command::new("pg_ctlcluster").args([&cluster.version, &cluster.name, "start"])).with_context(
            || format!("starting PostgreSQL cluster {} {} (its log: {})", cluster.version, cluster.name, cluster.log),
        )?;
    }
    wait_ready(&cluster)?;
    create_role_and_database(&cluster)?;

    let url = format!("postgres://{ROLE}:{PASSWORD}@127.0.0.1:{}/{DATABASE}", cluster.port);
    // Proves the URL itself works (TCP, password authentication, the grants), not just that the
    // server runs.
    shell::stdout(psql().args(["--dbname", &url, "--command", "SELECT 1"]))
        .with_context(|| format!("connecting to {url}"))?;
    println!("{URL_VAR}={url}");
    Ok(url)
}

#[derive(Debug, PartialEq)]
struct Cluster {
    version: String,
    name: String,
    port: u16,
    online: bool,
    log: String,
}

/// Picks from `pg_lsclusters --no-header` output (`Ver Cluster Port Status Owner Data Log`):
/// a running cluster if there is one, else the newest version.
fn pick_cluster(listing: &str) -> Result<Cluster> {
    let mut clusters = Vec::new();
    for line in listing.lines().filter(|line| !line.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [version, name, port, status, ..] = fields[..] else {
            bail!("unexpected pg_lsclusters line: {line}");
        };
        clusters.push(Cluster {
            version: version.to_owned(),
            name: name.to_owned(),
            port: port.parse().with_context(|| format!("port in pg_lsclusters line: {line}"))?,
            online: status.starts_with("online"),
            log: fields.get(6).copied().unwrap_or("?").to_owned(),
        });
    }
    let version_key =
        |c: &Cluster| -> Vec<u32> { c.version.split('.').map(|part| part.parse().unwrap_or(0)).collect() };
    clusters.sort_by_key(|c| (c.online, version_key(c)));
    clusters.pop().context("pg_lsclusters lists no cluster (create one with `pg_createcluster`)")
}

/// Polls `pg_isready` until the server accepts connections, for at most [`READY_TIMEOUT`].
fn wait_ready(cluster: &Cluster) -> Result<()> {
    let port = cluster.port.to_string();
    let mut cmd = Command::new("pg_isready");
    cmd.args(["--quiet", "--host", "127.0.0.1", "--port", &port]).stdout(Stdio::null()).stderr(Stdio::null());
    println!("$ {}   (polling, up to {}s)", shell::describe(&cmd), READY_TIMEOUT.as_secs());
    let started = Instant::now();
    loop {
        if cmd.status().context("running pg_isready")?.success() {
            println!(
                "PostgreSQL {} {} is ready on port {port} after {}",
                cluster.version,
                cluster.name,
                shell::human(started.elapsed())
            );
            return Ok(());
        }
        if started.elapsed() > READY_TIMEOUT {
            bail!(
                "PostgreSQL {} {} did not accept connections on 127.0.0.1:{port} within {}s \
                 (its log: {})",
                cluster.version,
                cluster.name,
                READY_TIMEOUT.as_secs(),
                cluster.log
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn create_role_and_database(cluster: &Cluster) -> Result<()> {
    let port = cluster.port.to_string();
    let as_postgres = |sql: &str| -> Result<String> {
        shell::stdout(
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA"])
                .args(["--port", &port, "--dbname", "postgres", "--command", sql])
                // The postgres user may not be allowed into the workspace directory.
                .current_dir("/"),
        )
    };
    as_postgres(&format!(
        "DO $$ BEGIN \
           IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{ROLE}') THEN \
             CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'; \
           ELSE \
             ALTER ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'; \
           END IF; \
         END $$"
    ))?;
    let exists = as_postgres(&format!("SELECT 1 FROM pg_catalog.pg_database WHERE datname = '{DATABASE}'"))?;
    if exists.trim() == "1" {
        as_postgres(&format!("ALTER DATABASE {DATABASE} OWNER TO {ROLE}"))?;
    } else {
        // CREATE DATABASE cannot run inside a DO block, hence the check above.
        as_postgres(&format!("CREATE DATABASE {DATABASE} OWNER {ROLE}"))?;
    }
    Ok(())
}

fn psql() -> Command {
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA"]);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_online_then_newest() {
        let listing = "\
13  main    5433 down   postgres /var/lib/postgresql/13/main /var/log/postgresql/postgresql-13-main.log
15  main    5432 down   postgres /var/lib/postgresql/15/main /var/log/postgresql/postgresql-15-main.log
";
        let picked = pick_cluster(listing).expect("a cluster");
        assert_eq!((picked.version.as_str(), picked.port, picked.online), ("15", 5432, false));
        assert_eq!(picked.log, "/var/log/postgresql/postgresql-15-main.log");

        let listing = listing.replace("5433 down", "5433 online");
        let picked = pick_cluster(&listing).expect("a cluster");
        assert_eq!((picked.version.as_str(), picked.port, picked.online), ("13", 5433, true));
    }

    #[test]
    fn no_cluster_is_an_error() {
        assert!(pick_cluster("").is_err());
    }
}
