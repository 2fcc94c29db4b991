//! `cargo xtask link-order [N]`: regenerate `server/link-order.txt`, the functions the linker
//! places first in the release binary's code (`server/build.rs` passes it to lld).
//!
//! Why: the kernel maps a binary's code in large folios (on this machine kind about 1 MiB per
//! fault), so one function run in a page-cache folio makes the whole folio resident. With the
//! functions the daemon runs spread over 22 MB of code, nearly all of it was resident; laid out
//! together they take about 4 MB.
//!
//! How: build the release binary with its symbols kept (`PROVISR_KEEP_SYMBOLS=1`, same profile,
//! so the same symbol names), run it under callgrind through what a daemon does — start-up,
//! register 100 then N instances (default 200; the functions that run do not depend on N), status,
//! a kill and its restart, stop / start / restart, unregister, a group, a log flood with rotation
//! and hooks, a crash loop into `fatal`, a cronjob and a job, metrics, history, the OpenAPI
//! document, shutdown — and list every function of the binary that ran, hottest first. A second
//! run opens the console's pages; the functions only they ran follow the daemon's, so a daemon
//! nobody browses does not have the console's code resident, and one that is browsed has it in
//! few folios. Then rebuild the stripped binary with the new order. Callgrind counts
//! instructions, so the list does not depend on the machine's load.
//!
//! The list names symbols with their hashes; after code changes some names no longer exist, and
//! the linker skips them (the layout degrades gracefully until the list is regenerated).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use crate::{build, e2e, shell, Workspace};

pub fn run(ws: &Workspace, args: &[String]) -> Result<()> {
    let instances: usize = match args {
        [] => 200,
        [n] => n.parse().with_context(|| format!("`{n}` is not a number of instances"))?,
        _ => bail!("usage: cargo xtask link-order [INSTANCES]"),
    };
    if !shell::on_path("valgrind") {
        bail!("valgrind is not installed (Debian: apt-get install valgrind)");
    }
    build::run_with_env(ws, &build::Options { release: true, site_only: false }, &[("PROVISR_KEEP_SYMBOLS", "1")])?;
    let binary = ws.server_binary(true);
    let dir = ws.target.join("link-order");
    let _ = fs::remove_dir_all(&dir);
    // The daemon's own work first, then what only the console's pages add: a daemon nobody
    // browses keeps the console's code out of its resident folios.
    let daemon = profile(&binary, &dir.join("daemon"), |api| workload(api, instances))?;
    let console = profile(&binary, &dir.join("console"), console_workload)?;
    let seen: HashSet<&String> = daemon.iter().collect();
    let console_only: Vec<&String> = console.iter().filter(|name| !seen.contains(name)).collect();
    println!("{} functions ran for the daemon's work, {} more for the console", daemon.len(), console_only.len());
    let functions: Vec<&String> = daemon.iter().chain(console_only).collect();
    let list = ws.root.join("server").join("link-order.txt");
    let text: String = functions.iter().map(|name| format!("{name}\n")).collect();
    fs::write(&list, text).with_context(|| format!("writing {}", list.display()))?;
    println!("wrote {} functions to {}", functions.len(), list.display());
    // The binary left behind is the stripped one, laid out by the new list.
    build::run(ws, &build::Options { release: true, site_only: false })
}

/// Runs the daemon under callgrind in `dir` through `work`, then lists the functions that ran.
fn profile(binary: &Path, dir: &Path, work: impl FnOnce(&Api) -> Result<()>) -> Result<Vec<String>> {
    for sub in ["run", "programs", "logs"] {
        fs::create_dir_all(dir.join(sub)).with_context(|| format!("creating {}", dir.join(sub).display()))?;
    }
    let daemon = Daemon::start(binary, dir)?;
    let outcome = work(&daemon.api);
    let stopped = daemon.stop();
    outcome?;
    stopped?;
    let functions = ran(binary, dir)?;
    if functions.len() < 1000 {
        bail!("only {} functions of the binary ran; is callgrind's output complete?", functions.len());
    }
    Ok(functions)
}

/// The daemon under callgrind, on plain HTTP with auth off (the workload is about code paths).
struct Daemon {
    child: Child,
    api: Api,
}

impl Daemon {
    fn start(binary: &Path, dir: &Path) -> Result<Self> {
        let port = e2e::free_port()?;
        let path = |name: &str| e2e::toml_string(&dir.join(name).to_string_lossy());
        let (run, programs, logs) = (path("run"), path("programs"), path("logs"));
        let db_url = e2e::toml_string(&format!("sqlite://{}?mode=rwc", dir.join("provisr.db").display()));
        let config = dir.join("provisr.toml");
        fs::write(
            &config,
            format!(
                r#"pid_dir = {run}
programs_directory = {programs}

[log]
dir = {logs}

[server]
listen = "127.0.0.1:{port}"
base_path = "/api"

[server.tls]
enabled = false

[store]
url = {db_url}

[auth]
enabled = false

[metrics]
enabled = true

[[processes]]
type = "process"
spec = {{ name = "member-a", args = ["sleep", "3600"] }}

[[processes]]
type = "process"
spec = {{ name = "member-b", command = "sleep 3600 && true", depends_on = ["member-a"] }}

[[groups]]
name = "pair"
members = ["member-a", "member-b"]
"#
            ),
        )?;
        let log = fs::File::create(dir.join("daemon.log"))?;
        let mut cmd = Command::new("valgrind");
        cmd.args(["--tool=callgrind", "--max-threads=5000", "--demangle=no", "--compress-strings=no"])
            .args(["--compress-pos=no", "--dump-instr=no"])
            .arg(format!("--callgrind-out-file={}", dir.join("callgrind.out.%p").display()))
            .arg(binary)
            .args(["serve", "--config"])
            .arg(&config)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        println!("$ {}", shell::describe(&cmd));
        let child = cmd.spawn().context("could not start valgrind")?;
        let daemon = Self { child, api: Api { port } };
        let up = daemon.api.wait("the daemon to answer", Duration::from_secs(300), |api| {
            Ok(api.request("GET", "/api/status", None).is_ok_and(|(status, _)| status == 200))
        });
        if let Err(e) = up {
            let _ = daemon.stop();
            return Err(e.context(format!("see {}", dir.join("daemon.log").display())));
        }
        Ok(daemon)
    }

    /// SIGTERM (a graceful shutdown is part of the workload), then wait for callgrind to write.
    fn stop(mut self) -> Result<()> {
        shell::run(Command::new("kill").args(["-TERM", &self.child.id().to_string()]))?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the daemon under callgrind exited with {status}");
        }
        Ok(())
    }
}

/// A plain HTTP/1.0 client: one request per connection, the body read to the close.
struct Api {
    port: u16,
}

impl Api {
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Vec<u8>)> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(600)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").context("no end of headers")?;
        let head = String::from_utf8_lossy(&response[..head_end]);
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).context("no status code")?;
        Ok((status, response[head_end + 4..].to_vec()))
    }

    /// A request to the API (or `/metrics`) that must succeed (2xx).
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Vec<u8>> {
        let path = if path.starts_with("/metrics") { path.to_owned() } else { format!("/api{path}") };
        let (status, body) = self.request(method, &path, body.as_ref())?;
        if !(200..300).contains(&status) {
            bail!("{method} {path}: HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(body)
    }

    /// Requests without a body, in order, each of which must succeed.
    fn calls(&self, requests: &[(&str, &str)]) -> Result<()> {
        requests.iter().try_for_each(|(method, path)| self.call(method, path, None).map(drop))
    }

    fn processes(&self, base: &str) -> Result<Vec<Value>> {
        let body = self.call("GET", &format!("/status?base={base}"), None)?;
        match serde_json::from_slice(&body)? {
            Value::Array(list) => Ok(list),
            other => bail!("unexpected status payload: {other}"),
        }
    }

    fn count_in(&self, base: &str, states: &[&str]) -> Result<usize> {
        Ok(self.processes(base)?.iter().filter(|p| states.iter().any(|s| p["state"] == *s)).count())
    }

    /// Polls `ready` until it holds, for at most `limit`.
    fn wait(&self, what: &str, limit: Duration, mut ready: impl FnMut(&Self) -> Result<bool>) -> Result<()> {
        let start = Instant::now();
        while !ready(self)? {
            if start.elapsed() > limit {
                bail!("timed out after {limit:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }
}

fn workload(api: &Api, instances: usize) -> Result<()> {
    let long = Duration::from_secs(900);
    let step = |what: &str| println!("link-order workload: {what}");
    step("register and start 100, stop and unregister them");
    let fleet = |name: &str, n: usize| json!({"name": name, "args": ["sleep", "3600"], "instances": n, "auto_restart": true, "restart_interval": "0s"});
    api.call("POST", "/register", Some(fleet("warmup", 100)))?;
    api.wait("100 running", long, |api| Ok(api.count_in("warmup", &["running"])? == 100))?;
    api.call("POST", "/stop?base=warmup&wait=120s", None)?;
    api.call("POST", "/unregister?base=warmup", None)?;

    step(&format!("register {instances}, status, metrics, history"));
    api.call("POST", "/register", Some(fleet("fleet", instances)))?;
    api.wait("the fleet running", long, |api| Ok(api.count_in("fleet", &["running"])? == instances))?;
    api.calls(&[
        ("GET", "/status"),
        ("GET", "/status"),
        ("GET", "/status?wildcard=fleet-1*"),
        ("GET", "/metrics"),
        ("GET", "/history?limit=50"),
        ("GET", "/processes/fleet-1/spec"),
    ])?;

    step("kill -9 five instances; each is restarted");
    for i in 1..=5 {
        let name = format!("fleet-{i}");
        let pid_of = |api: &Api| -> Result<Option<i64>> {
            let list = api.processes("fleet")?;
            Ok(list
                .iter()
                .find(|p| p["name"] == name.as_str() && p["state"] == "running")
                .and_then(|p| p["pid"].as_i64()))
        };
        let pid = pid_of(api)?.context("a running instance")?;
        shell::run(Command::new("kill").args(["-KILL", &pid.to_string()]))?;
        api.wait("the replacement", long, |api| Ok(pid_of(api)?.is_some_and(|new| new != pid)))?;
    }

    step("stop, start, restart, stop and unregister the fleet");
    api.calls(&[
        ("POST", "/stop?base=fleet&wait=120s"),
        ("POST", "/start?base=fleet&wait=120s"),
        ("POST", "/restart?name=fleet-2&wait=60s"),
        ("POST", "/stop?base=fleet&wait=120s"),
        ("POST", "/unregister?base=fleet"),
    ])?;

    step("a group");
    api.calls(&[
        ("GET", "/groups"),
        ("GET", "/group/status?name=pair"),
        ("POST", "/group/stop?name=pair&wait=60s"),
        ("POST", "/group/start?name=pair&wait=60s"),
    ])?;

    step("a log flood with rotation, compression and hooks");
    api.call(
        "POST",
        "/register",
        Some(json!({
            "name": "flood",
            "command": "head -c 50000000 /dev/zero | tr '\\0' x | fold -w 100; echo done >&2",
            "log": {"max_size_mb": 10, "max_backups": 2, "compress": true},
            "lifecycle": {
                "pre_start": [{"name": "hello", "command": "echo pre"}],
                "post_stop": [{"name": "bye", "command": "echo post", "run_mode": "async"}],
            },
        })),
    )?;
    api.wait("the flood to end", long, |api| Ok(api.count_in("flood", &["exited", "stopped"])? == 1))?;
    api.calls(&[
        ("GET", "/processes/flood/logs?limit=100"),
        ("GET", "/processes/flood/logs?since=0&limit=10"),
        ("POST", "/unregister?name=flood"),
    ])?;

    step("a crash loop into fatal");
    api.call(
        "POST",
        "/register",
        Some(json!({"name": "crash", "command": "exit 3", "auto_restart": true, "restart_interval": "0s"})),
    )?;
    api.wait("fatal", long, |api| Ok(api.count_in("crash", &["fatal"])? == 1))?;
    api.call("POST", "/unregister?name=crash", None)?;

    step("a cronjob and a job");
    api.call(
        "POST",
        "/cronjobs",
        Some(json!({"name": "tick", "schedule": "*/1 * * * * *", "job_template": {"name": "tick", "args": ["true"]}})),
    )?;
    api.call("POST", "/jobs", Some(json!({"name": "once", "args": ["sh", "-c", "echo job"]})))?;
    api.wait("three cron runs", long, |api| {
        let body = api.call("GET", "/cronjobs/tick/history", None)?;
        let history: Value = serde_json::from_slice(&body)?;
        Ok(history["items"].as_array().is_some_and(|runs| runs.len() >= 3))
    })?;
    api.calls(&[("GET", "/cronjobs"), ("GET", "/jobs")])?;
    api.wait("the job to finish", long, |api| {
        let job: Value = serde_json::from_slice(&api.call("GET", "/jobs/once", None)?)?;
        Ok(job.to_string().contains("Complete"))
    })?;
    api.calls(&[
        ("GET", "/jobs/once/logs"),
        ("POST", "/cronjobs/tick/suspend"),
        ("GET", "/metrics"),
        ("GET", "/history?limit=200"),
        ("GET", "/openapi.json"),
    ])?;
    step("shutdown");
    Ok(())
}

/// Opens each page of the console (server-side rendering) and its assets, with a process, a
/// job and a cronjob to show.
fn console_workload(api: &Api) -> Result<()> {
    println!("link-order workload: the console's pages");
    api.call("POST", "/register", Some(json!({"name": "web", "args": ["sleep", "3600"], "instances": 2})))?;
    api.call(
        "POST",
        "/cronjobs",
        Some(json!({"name": "tick", "schedule": "0 0 * * * *", "job_template": {"name": "tick", "args": ["true"]}})),
    )?;
    api.call("POST", "/jobs", Some(json!({"name": "once", "args": ["true"]})))?;
    api.wait("the process running", Duration::from_secs(300), |api| Ok(api.count_in("web", &["running"])? == 2))?;
    let pages = [
        "/",
        "/processes/web-1",
        "/processes/web-1/edit",
        "/processes/web-1/unregister",
        "/register",
        "/history",
        "/users",
        "/clients",
        "/settings",
        "/jobs",
        "/jobs/once",
        "/jobs/once/delete",
        "/cronjobs",
        "/cronjobs/tick",
        "/cronjobs/tick/delete",
        "/groups",
        "/login",
        "/pkg/provisr.js",
        "/pkg/provisr.css",
    ];
    for page in pages {
        let (status, _) = api.request("GET", page, None)?;
        if status >= 500 || (page == "/" && status != 200) {
            bail!("GET {page}: HTTP {status}");
        }
    }
    Ok(())
}

/// The binary's functions that ran, from callgrind's outputs in `dir`, hottest (most
/// instructions of their own) first. Callgrind marks recursion depths with `'N`; those are the
/// same function.
fn ran(binary: &Path, dir: &Path) -> Result<Vec<String>> {
    let binary = binary.canonicalize()?;
    let outputs: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("callgrind.out.")))
        .collect();
    if outputs.is_empty() {
        bail!("callgrind wrote no output in {}", dir.display());
    }
    let mut cost: HashMap<String, u64> = HashMap::new();
    let mut is_binary: HashMap<String, bool> = HashMap::new();
    for output in outputs {
        let text = fs::read_to_string(&output).with_context(|| format!("reading {}", output.display()))?;
        let mut object_is_binary = false;
        let mut current: Option<String> = None;
        let mut after_call = false;
        for line in text.lines() {
            if let Some(object) = line.strip_prefix("ob=") {
                let object = object.trim();
                object_is_binary = *is_binary
                    .entry(object.to_owned())
                    .or_insert_with(|| Path::new(object).canonicalize().is_ok_and(|path| path == binary));
            } else if let Some(function) = line.strip_prefix("fn=") {
                after_call = false;
                current = object_is_binary.then(|| {
                    let name = function.trim();
                    let name = name
                        .rsplit_once('\'')
                        .filter(|(_, depth)| depth.parse::<u32>().is_ok())
                        .map_or(name, |(n, _)| n);
                    cost.entry(name.to_owned()).or_default();
                    name.to_owned()
                });
            } else if line.starts_with("calls=") {
                // The next cost line is the inclusive cost of a call, not the caller's own.
                after_call = true;
            } else if line.starts_with(|c: char| c.is_ascii_digit() || "+-*".contains(c)) {
                if std::mem::take(&mut after_call) {
                    continue;
                }
                if let (Some(function), Some(instructions)) = (&current, line.split_whitespace().nth(1)) {
                    *cost.entry(function.clone()).or_default() += instructions.parse::<u64>().unwrap_or(0);
                }
            }
        }
    }
    let mut functions: Vec<(String, u64)> = cost.into_iter().collect();
    functions.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut seen = HashSet::new();
    Ok(functions.into_iter().map(|(name, _)| name).filter(|name| seen.insert(name.clone())).collect())
}

#[cfg(test)]
mod tests {
    use super::ran;
    use std::fs;

    #[test]
    fn ran_lists_the_binarys_functions_by_their_own_cost_and_merges_recursion_depths() {
        let dir = std::env::temp_dir().join(format!("link-order-test-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("a temporary directory");
        // Any existing file stands for the binary; callgrind names objects by path.
        let binary = std::env::current_exe().expect("the test binary's path");
        let other = dir.join("libother.so");
        fs::write(&other, b"").expect("writing a stand-in library");
        let text = format!(
            "events: Ir\n\
             ob={bin}\nfl=a.rs\nfn=small\n1 5\ncob={bin}\ncfn=big\ncalls=1 0\n1 1000\n\
             fn=big\n1 300\n\
             fn=rec'2\n1 400\n\
             ob={other}\nfn=foreign\n1 9999\n\
             ob={bin}\nfn=rec\n+1 50\n",
            bin = binary.display(),
            other = other.display()
        );
        fs::write(dir.join("callgrind.out.1"), text).expect("writing the profile");
        fs::write(dir.join("unrelated.txt"), "fn=nope\n1 1\n").expect("writing another file");
        let functions = ran(&binary, &dir).expect("the profile is read");
        fs::remove_dir_all(&dir).expect("removing the temporary directory");
        // rec: 400 + 50 (both depths); big: 300; small: 5, not 1005 (the call's inclusive cost
        // is big's). `foreign` is another object's.
        assert_eq!(functions, ["rec", "big", "small"]);
    }
}
