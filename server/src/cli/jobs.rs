//! `provisr job …` and `provisr cronjob …`: clients of `/jobs` and `/cronjobs`.
//! `job wait` follows the events WebSocket `GET /ws` (the snapshot's `jobs`, then the
//! `job` events, each carrying the job's whole status), and polls `GET /jobs/{name}` when
//! the socket cannot be opened.

use super::follow::{self, next_json};
use super::output::{cell, elapsed, relative, span, table, time};
use super::remote::{encode, items, read_entries, Remote};
use super::*;
use anyhow::{anyhow, bail, Context as _};
use chrono::Utc;
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::time::Duration;

/// Runs a `job` command.
pub async fn job(c: JobCommand) -> anyhow::Result<()> {
    match c {
        JobCommand::Create(a) => job_create(*a).await,
        JobCommand::List(a) => {
            let remote = Remote::connect(&a.remote)?;
            let v = remote.call(Method::GET, "/jobs", None).await?;
            remote.print(&v, || jobs_table(&items(&v)));
            Ok(())
        }
        JobCommand::Get(a) => {
            let remote = Remote::connect(&a.remote)?;
            let v = remote.call(Method::GET, &format!("/jobs/{}", encode(&a.name)), None).await?;
            remote.print(&v, || job_details(&v));
            Ok(())
        }
        JobCommand::Delete(a) => {
            let remote = Remote::connect(&a.remote)?;
            let v = remote.call(Method::DELETE, &format!("/jobs/{}", encode(&a.name)), None).await?;
            remote.print(&v, || format!("deleted job {}", a.name));
            Ok(())
        }
        JobCommand::Suspend(a) => job_act(a, "suspend", "suspended").await,
        JobCommand::Resume(a) => job_act(a, "resume", "resumed").await,
        JobCommand::Logs(a) => job_logs(a).await,
        JobCommand::Wait(a) => {
            let remote = Remote::connect(&a.remote)?;
            let timeout = parse_timeout(a.timeout.as_deref())?;
            wait(&remote, &a.name, timeout).await
        }
        JobCommand::History(a) => {
            let remote = Remote::connect(&a.remote)?;
            let v = remote.call(Method::GET, &history_path("jobs", &a), None).await?;
            remote.print(&v, || job_history_table(&v));
            Ok(())
        }
    }
}

/// Runs a `cronjob` command.
pub async fn cronjob(c: CronJobCommand) -> anyhow::Result<()> {
    match c {
        CronJobCommand::Create(a) => cronjob_create(*a).await,
        CronJobCommand::List(a) => cronjob_list(a).await,
        CronJobCommand::Get(a) => {
            let remote = Remote::connect(&a.remote)?;
            let q = a.next.map(|n| format!("?next={n}")).unwrap_or_default();
            let v = remote.call(Method::GET, &format!("/cronjobs/{}{q}", encode(&a.name)), None).await?;
            remote.print(&v, || cronjob_details(&v));
            Ok(())
        }
        CronJobCommand::Delete(a) => {
            let remote = Remote::connect(&a.remote)?;
            let v = remote.call(Method::DELETE, &format!("/cronjobs/{}", encode(&a.name)), None).await?;
            remote.print(&v, || format!("deleted cronjob {} (its jobs and history stay)", a.name));
            Ok(())
        }
        CronJobCommand::Suspend(a) => cronjob_act(a, "suspend", "suspended").await,
        CronJobCommand::Resume(a) => cronjob_act(a, "resume", "resumed").await,
        CronJobCommand::Trigger(a) => {
            let remote = Remote::connect(&a.remote)?;
            let timeout = parse_timeout(a.timeout.as_deref())?;
            let v = remote.call(Method::POST, &format!("/cronjobs/{}/trigger", encode(&a.name)), None).await?;
            let created = v["job"].as_str().ok_or_else(|| anyhow!("the server's answer names no job: {v}"))?;
            if a.wait {
                // With --output json, stdout is then only the final status of the job.
                if remote.output() == Output::Table {
                    println!("triggered cronjob {}: created job {created}", a.name);
                }
                return wait(&remote, created, timeout).await;
            }
            remote.print(&v, || format!("triggered cronjob {}: created job {created}", a.name));
            Ok(())
        }
        CronJobCommand::History(a) => {
            let remote = Remote::connect(&a.remote)?;
            let v = remote.call(Method::GET, &history_path("cronjobs", &a), None).await?;
            remote.print(&v, || firings_table(&v));
            Ok(())
        }
    }
}

// ----- specs from flags and files -----

fn parse_timeout(t: Option<&str>) -> anyhow::Result<Option<Duration>> {
    t.map(|t| {
        supervisor::duration::parse(t).map_err(|e| Exit { code: 2, message: format!("--timeout {t:?}: {e}") }.into())
    })
    .transpose()
}

/// The job spec keys given by flags (no name).
pub fn template_spec(t: &JobTemplateArgs) -> anyhow::Result<Map<String, Value>> {
    let mut spec = Map::new();
    let argv: Vec<&String> = t.args.iter().chain(&t.argv).collect();
    match (&t.command, argv.is_empty()) {
        (Some(c), true) => {
            spec.insert("command".into(), json!(c));
        }
        (None, false) => {
            spec.insert("args".into(), json!(argv));
        }
        (Some(_), false) => bail!("give either --command or the argv (--arg …, or after --), not both"),
        (None, true) => bail!("say what to run: --command 'CMD' or --arg WORD … (or the argv after --)"),
    }
    if let Some(d) = &t.work_dir {
        let d = if d.is_absolute() { d.clone() } else { std::env::current_dir()?.join(d) };
        spec.insert("work_dir".into(), json!(d));
    }
    if !t.env.is_empty() {
        let mut env = Map::new();
        for kv in &t.env {
            let (k, v) = kv.split_once('=').ok_or_else(|| anyhow!("--env {kv:?}: expected KEY=VALUE"))?;
            env.insert(k.to_string(), json!(v));
        }
        spec.insert("env".into(), Value::Object(env));
    }
    let numbers = [
        ("parallelism", t.parallelism.map(u64::from)),
        ("completions", t.completions.map(u64::from)),
        ("backoff_limit", t.backoff_limit.map(u64::from)),
        ("active_deadline_seconds", t.active_deadline_seconds),
        ("ttl_seconds_after_finished", t.ttl_seconds_after_finished),
    ];
    for (k, v) in numbers {
        if let Some(v) = v {
            spec.insert(k.into(), json!(v));
        }
    }
    if let Some(m) = t.completion_mode {
        spec.insert("completion_mode".into(), json!(enum_name(m)));
    }
    if let Some(p) = t.restart_policy {
        spec.insert("restart_policy".into(), json!(enum_name(p)));
    }
    for (k, v) in [("backoff_base", &t.backoff_base), ("backoff_max", &t.backoff_max)] {
        if let Some(v) = v {
            spec.insert(k.into(), json!(v));
        }
    }
    Ok(spec)
}

/// A value enum's name as the API spells it (`NonIndexed`, `OnFailure`, `Forbid`).
fn enum_name(v: impl ValueEnum) -> String {
    v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default()
}

/// The one spec of `kind` in a file: a bare spec, or a `{type, spec}` entry of that type.
fn spec_from_file(path: &Path, kind: &str) -> anyhow::Result<Value> {
    let mut entries = read_entries(path)?;
    if entries.len() != 1 {
        bail!("{}: holds {} entries; give one {kind} (or use `provisr register-file`)", path.display(), entries.len());
    }
    let (found, spec) = entries.remove(0);
    // A bare spec (no `type`) reads as a process; here it is the kind asked for.
    if found != kind && found != "process" {
        bail!("{}: holds a {found}, not a {kind} (use `provisr register-file` for any kind)", path.display());
    }
    Ok(spec)
}

async fn job_create(a: JobCreateArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&a.remote)?;
    let timeout = parse_timeout(a.timeout.as_deref())?;
    let spec = match &a.file {
        Some(path) => spec_from_file(path, "job")?,
        None => {
            let mut spec = template_spec(&a.template)?;
            spec.insert("name".into(), json!(a.name));
            if a.suspend {
                spec.insert("suspend".into(), json!(true));
            }
            Value::Object(spec)
        }
    };
    let v = remote.call(Method::POST, "/jobs", Some(&spec)).await?;
    let name = v["name"].as_str().map(str::to_string).unwrap_or_else(|| cell(&spec["name"]));
    if a.wait {
        // With --output json, stdout is then only the final status.
        if remote.output() == Output::Table {
            println!("created job {name} ({})", cell(&v["phase"]));
        }
        return wait(&remote, &name, timeout).await;
    }
    remote.print(&v, || format!("created job {name} ({})", cell(&v["phase"])));
    Ok(())
}

async fn cronjob_create(a: CronJobCreateArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&a.remote)?;
    let spec = match &a.file {
        Some(path) => spec_from_file(path, "cronjob")?,
        None => {
            let mut spec = Map::new();
            spec.insert("name".into(), json!(a.name));
            spec.insert("schedule".into(), json!(a.schedule));
            if let Some(tz) = &a.time_zone {
                spec.insert("time_zone".into(), json!(tz));
            }
            if let Some(p) = a.concurrency_policy {
                spec.insert("concurrency_policy".into(), json!(enum_name(p)));
            }
            let numbers = [
                ("starting_deadline_seconds", a.starting_deadline_seconds),
                ("successful_jobs_history_limit", a.successful_jobs_history_limit.map(u64::from)),
                ("failed_jobs_history_limit", a.failed_jobs_history_limit.map(u64::from)),
            ];
            for (k, v) in numbers {
                if let Some(v) = v {
                    spec.insert(k.into(), json!(v));
                }
            }
            if a.suspend {
                spec.insert("suspend".into(), json!(true));
            }
            spec.insert("job_template".into(), Value::Object(template_spec(&a.template)?));
            Value::Object(spec)
        }
    };
    let v = remote.call(Method::POST, "/cronjobs", Some(&spec)).await?;
    remote.print(&v, || {
        let next = match &v["next_schedule_time"] {
            Value::Null => "nothing scheduled (suspended)".to_string(),
            t => format!("next run {} ({})", time(t), relative(t, Utc::now())),
        };
        format!("created cronjob {}: {next}", cell(&v["name"]))
    });
    Ok(())
}

async fn job_act(a: NameArgs, verb: &str, done: &str) -> anyhow::Result<()> {
    let remote = Remote::connect(&a.remote)?;
    let v = remote.call(Method::POST, &format!("/jobs/{}/{verb}", encode(&a.name)), None).await?;
    remote.print(&v, || format!("{done} job {} ({})", a.name, cell(&v["phase"])));
    Ok(())
}

async fn cronjob_act(a: NameArgs, verb: &str, done: &str) -> anyhow::Result<()> {
    let remote = Remote::connect(&a.remote)?;
    let v = remote.call(Method::POST, &format!("/cronjobs/{}/{verb}", encode(&a.name)), None).await?;
    remote.print(&v, || match &v["next_schedule_time"] {
        Value::Null => format!("{done} cronjob {}", a.name),
        t => format!("{done} cronjob {}: next run {} ({})", a.name, time(t), relative(t, Utc::now())),
    });
    Ok(())
}

fn history_path(kind: &str, a: &HistoryArgs) -> String {
    let mut q = Vec::new();
    if let Some(l) = a.limit {
        q.push(format!("limit={l}"));
    }
    if let Some(b) = a.before {
        q.push(format!("before={b}"));
    }
    let q = if q.is_empty() { String::new() } else { format!("?{}", q.join("&")) };
    format!("/{kind}/{}/history{q}", encode(&a.name))
}

async fn job_logs(a: JobLogsArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&a.remote)?;
    let mut q = Vec::new();
    if let Some(i) = a.index {
        q.push(format!("index={i}"));
    }
    if let Some(n) = a.attempt {
        q.push(format!("attempt={n}"));
    }
    if let Some(s) = &a.stream {
        q.push(format!("stream={}", encode(s)));
    }
    if let Some(t) = a.tail {
        q.push(format!("tail={t}"));
    }
    let q = if q.is_empty() { String::new() } else { format!("?{}", q.join("&")) };
    let v = remote.call(Method::GET, &format!("/jobs/{}/logs{q}", encode(&a.name)), None).await?;
    remote.print(&v, || {
        v["lines"]
            .as_array()
            .map(|l| l.iter().map(|s| s.as_str().unwrap_or_default()).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    });
    Ok(())
}

// ----- tables -----

/// Where a job comes from: `api`, `config`, or `cronjob NAME` (`(manual)` for a trigger).
fn origin(o: &Value) -> String {
    match (o["source"].as_str(), o["cronjob"].as_str()) {
        (_, Some(c)) if o["manual"] == true => format!("cronjob {c} (manual)"),
        (_, Some(c)) => format!("cronjob {c}"),
        (Some(s), None) => s.to_string(),
        (None, None) => cell(o),
    }
}

/// The table of `job list`: one row per job status.
pub fn jobs_table(list: &[Value]) -> String {
    if list.is_empty() {
        return "no jobs".into();
    }
    let now = Utc::now();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|j| {
            vec![
                cell(&j["name"]),
                cell(&j["phase"]),
                cell(&j["active"]),
                cell(&j["succeeded"]),
                cell(&j["failed"]),
                time(&j["start_time"]),
                elapsed(&j["start_time"], &j["completion_time"], now),
                origin(&j["origin"]),
            ]
        })
        .collect();
    table(&["NAME", "PHASE", "ACTIVE", "SUCCEEDED", "FAILED", "STARTED", "DURATION", "ORIGIN"], &rows)
}

/// The reason (and message) of a finished job's `Failed` condition.
fn failure(status: &Value) -> Option<String> {
    let c = status["conditions"].as_array()?.iter().rev().find(|c| c["type"] == "Failed" && c["status"] == true)?;
    let reason = c["reason"].as_str().filter(|r| !r.is_empty()).unwrap_or("Failed");
    Some(match c["message"].as_str().filter(|m| !m.is_empty()) {
        Some(m) => format!("{reason}: {m}"),
        None => reason.to_string(),
    })
}

fn exit_text(a: &Value) -> String {
    match (&a["exit_code"], &a["signal"]) {
        (Value::Number(c), _) => format!("code {c}"),
        (_, Value::Number(s)) => format!("signal {s}"),
        _ => "-".into(),
    }
}

/// `job get`: the spec in short, the status, the conditions and the attempts.
fn job_details(v: &Value) -> String {
    let (spec, status) = (&v["spec"], &v["status"]);
    let now = Utc::now();
    let what = match (&spec["command"], spec["args"].as_array()) {
        (Value::String(c), _) => c.clone(),
        (_, Some(a)) => a.iter().map(cell).collect::<Vec<_>>().join(" "),
        _ => "-".into(),
    };
    let completions = match &spec["completions"] {
        Value::Null if spec["parallelism"].as_u64().unwrap_or(1) > 1 => "work queue".to_string(),
        Value::Null => "1".to_string(),
        n => n.to_string(),
    };
    let mut lines = vec![
        format!("Name:         {}", cell(&status["name"])),
        format!("Origin:       {}", origin(&status["origin"])),
        format!("Command:      {what}"),
        format!(
            "Work:         completions {completions} ({}), parallelism {}, restart {}, backoff limit {}",
            cell(&spec["completion_mode"]),
            cell(&spec["parallelism"]),
            cell(&spec["restart_policy"]),
            cell(&spec["backoff_limit"])
        ),
    ];
    if !spec["active_deadline_seconds"].is_null() || !spec["ttl_seconds_after_finished"].is_null() {
        lines.push(format!(
            "Limits:       active deadline {}s, TTL after finished {}s",
            cell(&spec["active_deadline_seconds"]),
            cell(&spec["ttl_seconds_after_finished"])
        ));
    }
    lines.push(format!(
        "Phase:        {} (active {}, succeeded {}, failed {})",
        cell(&status["phase"]),
        cell(&status["active"]),
        cell(&status["succeeded"]),
        cell(&status["failed"])
    ));
    if spec["completion_mode"] == "Indexed" {
        lines.push(format!(
            "Indexes:      completed {}, failed {}",
            cell(&status["completed_indexes"]),
            cell(&status["failed_indexes"])
        ));
    }
    lines.push(format!(
        "Started:      {}   Finished: {}   Duration: {}",
        time(&status["start_time"]),
        time(&status["completion_time"]),
        elapsed(&status["start_time"], &status["completion_time"], now)
    ));
    let conditions: Vec<Vec<String>> = items(&status["conditions"])
        .iter()
        .map(|c| {
            vec![
                cell(&c["type"]),
                cell(&c["status"]),
                cell(&c["reason"]),
                time(&c["last_transition_time"]),
                cell(&c["message"]),
            ]
        })
        .collect();
    if !conditions.is_empty() {
        lines.push(String::new());
        lines.push(table(&["CONDITION", "STATUS", "REASON", "SINCE", "MESSAGE"], &conditions));
    }
    let attempts: Vec<Vec<String>> = items(&v["attempts"])
        .iter()
        .map(|a| {
            vec![
                cell(&a["index"]),
                cell(&a["attempt"]),
                cell(&a["pid"]),
                time(&a["started_at"]),
                elapsed(&a["started_at"], &a["finished_at"], now),
                exit_text(a),
                if a["reason"].is_null() { "Running".into() } else { cell(&a["reason"]) },
                cell(&a["message"]),
            ]
        })
        .collect();
    lines.push(String::new());
    if attempts.is_empty() {
        lines.push("no attempts yet".into());
    } else {
        lines.push(table(&["INDEX", "ATTEMPT", "PID", "STARTED", "DURATION", "EXIT", "RESULT", "MESSAGE"], &attempts));
    }
    lines.join("\n")
}

fn job_history_table(v: &Value) -> String {
    let list = items(&v["items"]);
    if list.is_empty() {
        return "no recorded jobs".into();
    }
    let now = Utc::now();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|j| {
            let s = &j["status"];
            let removed = match &j["removed"] {
                Value::Null => "live".to_string(),
                r => format!("{} {}", cell(&r["reason"]), time(&r["at"])),
            };
            vec![
                cell(&j["id"]),
                time(&j["created_at"]),
                cell(&s["phase"]),
                cell(&s["succeeded"]),
                cell(&s["failed"]),
                elapsed(&s["start_time"], &s["completion_time"], now),
                failure(s).unwrap_or_else(|| "-".into()),
                removed,
            ]
        })
        .collect();
    let mut out = table(&["ID", "CREATED", "PHASE", "SUCCEEDED", "FAILED", "DURATION", "FAILURE", "REMOVED"], &rows);
    if let Some(b) = v["next_before"].as_i64() {
        out.push_str(&format!("\n(more: --before {b})"));
    }
    out
}

async fn cronjob_list(a: ListArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&a.remote)?;
    let v = remote.call(Method::GET, "/cronjobs", None).await?;
    if remote.output() == Output::Json {
        remote.print(&v, String::new);
        return Ok(());
    }
    let list = items(&v);
    if list.is_empty() {
        println!("no cronjobs");
        return Ok(());
    }
    // The list has the statuses; the schedules are in each cronjob's spec.
    let details = futures::future::join_all(list.iter().map(|c| {
        let path = format!("/cronjobs/{}?next=1", encode(c["name"].as_str().unwrap_or_default()));
        let remote = &remote;
        async move { remote.call(Method::GET, &path, None).await.ok() }
    }))
    .await;
    let now = Utc::now();
    let rows: Vec<Vec<String>> = list
        .iter()
        .zip(details)
        .map(|(c, d)| {
            let spec = d.as_ref().map(|d| d["spec"].clone()).unwrap_or(Value::Null);
            vec![
                cell(&c["name"]),
                cell(&spec["schedule"]),
                spec["time_zone"].as_str().unwrap_or("UTC").to_string(),
                cell(&spec["concurrency_policy"]),
                if c["suspended"] == true { "yes".into() } else { "no".into() },
                c["active"].as_array().map_or(0, Vec::len).to_string(),
                relative(&c["last_schedule_time"], now),
                relative(&c["next_schedule_time"], now),
                if c["from_config"] == true { "config".into() } else { "api".into() },
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &["NAME", "SCHEDULE", "TIME ZONE", "CONCURRENCY", "SUSPENDED", "ACTIVE", "LAST RUN", "NEXT RUN", "ORIGIN"],
            &rows
        )
    );
    Ok(())
}

/// `cronjob get`: the spec in short, the status, the next fire times and the live jobs.
fn cronjob_details(v: &Value) -> String {
    let (spec, status) = (&v["spec"], &v["status"]);
    let now = Utc::now();
    let t = &spec["job_template"];
    let what = match (&t["command"], t["args"].as_array()) {
        (Value::String(c), _) => c.clone(),
        (_, Some(a)) => a.iter().map(cell).collect::<Vec<_>>().join(" "),
        _ => "-".into(),
    };
    let mut lines = vec![
        format!("Name:         {}", cell(&spec["name"])),
        format!("Schedule:     {} ({})", cell(&spec["schedule"]), spec["time_zone"].as_str().unwrap_or("UTC")),
        format!("Command:      {what}"),
        format!(
            "Concurrency:  {}   Starting deadline: {}   Keep: {} succeeded, {} failed",
            cell(&spec["concurrency_policy"]),
            spec["starting_deadline_seconds"].as_u64().map_or("-".into(), |s| format!("{s}s")),
            cell(&spec["successful_jobs_history_limit"]),
            cell(&spec["failed_jobs_history_limit"])
        ),
        format!(
            "Origin:       {}   Suspended: {}",
            if status["from_config"] == true { "config" } else { "api" },
            if status["suspended"] == true { "yes" } else { "no" }
        ),
        format!(
            "Last run:     {}   Last success: {}",
            when(&status["last_schedule_time"], now),
            when(&status["last_successful_time"], now)
        ),
    ];
    let next: Vec<String> =
        items(&v["next_fire_times"]).iter().map(|t| format!("  {}  ({})", time(t), relative(t, now))).collect();
    lines.push(String::new());
    if next.is_empty() {
        lines.push("Next runs:    none".into());
    } else {
        let label = if status["suspended"] == true { "Next runs (once resumed):" } else { "Next runs:" };
        lines.push(label.into());
        lines.extend(next);
    }
    lines.push(String::new());
    lines.push(jobs_table(&items(&v["jobs"])));
    lines.join("\n")
}

/// A time with how far from now it is: `2026-01-02 03:04:05Z (5s ago)`; `-` when missing.
fn when(t: &Value, now: chrono::DateTime<Utc>) -> String {
    match t {
        Value::Null => "-".into(),
        t => format!("{} ({})", time(t), relative(t, now)),
    }
}

fn firings_table(v: &Value) -> String {
    let list = items(&v["items"]);
    if list.is_empty() {
        return "no runs yet".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|f| {
            let outcome = match (cell(&f["outcome"]), f["manual"] == true) {
                (o, true) => format!("{o} (manual)"),
                (o, false) => o,
            };
            let late = match (
                f["scheduled_at"].as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()),
                f["fired_at"].as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()),
            ) {
                (Some(s), Some(t)) => span((t - s).num_milliseconds().max(0) as f64 / 1000.0),
                _ => "-".into(),
            };
            vec![
                cell(&f["id"]),
                time(&f["scheduled_at"]),
                time(&f["fired_at"]),
                late,
                outcome,
                cell(&f["job_name"]),
                cell(&f["reason"]),
            ]
        })
        .collect();
    let mut out = table(&["ID", "SCHEDULED", "FIRED", "LATE", "OUTCOME", "JOB", "REASON"], &rows);
    if let Some(b) = v["next_before"].as_i64() {
        out.push_str(&format!("\n(more: --before {b})"));
    }
    out
}

// ----- wait -----

/// What `wait` has seen of the job so far.
#[derive(Default)]
struct Progress {
    /// The last status shown.
    last: Option<Value>,
    /// Whether progress goes to stderr (with `--output json`, stdout is the final status).
    quiet_stdout: bool,
}

impl Progress {
    /// Shows `status` if it changed what people see, with `note` (what the event was);
    /// returns whether the job has finished.
    fn update(&mut self, status: &Value, note: Option<String>) -> bool {
        let key = |s: &Value| {
            [&s["phase"], &s["active"], &s["succeeded"], &s["failed"], &s["completed_indexes"]].map(|v| v.clone())
        };
        let changed = self.last.as_ref().is_none_or(|l| key(l) != key(status));
        if changed || note.is_some() {
            let mut line = format!(
                "{}  job {}: {}  active {}  succeeded {}  failed {}",
                Utc::now().format("%H:%M:%S"),
                cell(&status["name"]),
                cell(&status["phase"]),
                cell(&status["active"]),
                cell(&status["succeeded"]),
                cell(&status["failed"]),
            );
            if let Some(n) = note {
                line.push_str(&format!("  ({n})"));
            }
            if self.quiet_stdout {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
        self.last = Some(status.clone());
        matches!(status["phase"].as_str(), Some("Succeeded" | "Failed"))
    }

    fn summary(&self) -> String {
        match &self.last {
            Some(s) => format!(
                "phase {}, active {}, succeeded {}, failed {}",
                cell(&s["phase"]),
                cell(&s["active"]),
                cell(&s["succeeded"]),
                cell(&s["failed"])
            ),
            None => "not seen yet".into(),
        }
    }
}

/// What an event says happened to an attempt, for the progress line.
fn attempt_note(change: &Value) -> Option<String> {
    let a = &change["attempt"];
    let which = match &a["index"] {
        Value::Number(i) => format!("attempt {} of index {i}", cell(&a["attempt"])),
        _ => format!("attempt {}", cell(&a["attempt"])),
    };
    match change["type"].as_str()? {
        "attempt_started" => Some(format!("{which} started, pid {}", cell(&a["pid"]))),
        "attempt_ended" => {
            let mut s = format!("{which} ended: {} {}", cell(&a["reason"]), exit_text(a));
            if let Some(m) = a["message"].as_str().filter(|m| !m.is_empty()) {
                s.push_str(&format!("; {m}"));
            }
            Some(s)
        }
        "suspended" => Some("suspended".into()),
        "resumed" => Some("resumed".into()),
        _ => None,
    }
}

/// A job that is not (or no longer) live: `Ok(Some(status))` when it is live after all
/// (created after the snapshot), `Ok(None)` … never; else its final status from the
/// history, or the server's error.
enum Gone {
    /// It is live: go on watching.
    Live(Value),
    /// It finished and left the live list: this was its last status.
    Finished(Value),
}

async fn gone(remote: &Remote, name: &str) -> anyhow::Result<Gone> {
    let live = remote.call(Method::GET, &format!("/jobs/{}", encode(name)), None).await;
    let err = match live {
        Ok(v) => return Ok(Gone::Live(v["status"].clone())),
        Err(e) => e,
    };
    let Ok(page) = remote.call(Method::GET, &format!("/jobs/{}/history?limit=1", encode(name)), None).await else {
        return Err(err);
    };
    let Some(last) = items(&page["items"]).into_iter().next() else { return Err(err) };
    let mut status = last["status"].clone();
    status["name"] = json!(name);
    if matches!(status["phase"].as_str(), Some("Succeeded" | "Failed")) {
        return Ok(Gone::Finished(status));
    }
    let why = match &last["removed"] {
        Value::Null => "it is gone".to_string(),
        r => format!("it was removed ({}) at {}", cell(&r["reason"]), time(&r["at"])),
    };
    Err(Exit { code: 1, message: format!("job {name} did not finish: {why} while {}", cell(&status["phase"])) }.into())
}

/// Follows the job until it finishes; returns its final status.
async fn watch(remote: &Remote, name: &str, progress: &mut Progress) -> anyhow::Result<Value> {
    let mut ws = match follow::connect(remote, "/ws").await {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("provisr: the event stream is not available ({e:#}); polling instead");
            return poll(remote, name, progress).await;
        }
    };
    loop {
        let Some(msg) = next_json(&mut ws, "the event stream").await? else {
            bail!("the daemon closed the event stream before job {name} finished (is it shutting down?)");
        };
        let (status, note) = match msg["type"].as_str() {
            Some("snapshot") => {
                let found = items(&msg["jobs"]).into_iter().find(|j| j["name"] == name);
                match found {
                    Some(j) => (j, None),
                    None => match gone(remote, name).await? {
                        Gone::Live(s) => (s, None),
                        Gone::Finished(s) => return Ok(s),
                    },
                }
            }
            Some("event") if msg["kind"] == "job" && msg["name"] == name => match &msg["detail"]["job"] {
                Value::Null => match gone(remote, name).await? {
                    Gone::Live(s) => (s, None),
                    Gone::Finished(s) => return Ok(s),
                },
                j => (j.clone(), attempt_note(&msg["detail"]["change"])),
            },
            _ => continue,
        };
        if progress.update(&status, note) {
            return Ok(status);
        }
    }
}

/// Polls `GET /jobs/{name}` until the job finishes.
async fn poll(remote: &Remote, name: &str, progress: &mut Progress) -> anyhow::Result<Value> {
    loop {
        let status = match remote.call(Method::GET, &format!("/jobs/{}", encode(name)), None).await {
            Ok(v) => v["status"].clone(),
            Err(_) => match gone(remote, name).await? {
                Gone::Live(s) => s,
                Gone::Finished(s) => return Ok(s),
            },
        };
        if progress.update(&status, None) {
            return Ok(status);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `job wait`: follows the job, showing its progress, until it finishes; `Ok` when it
/// succeeded, an [`Exit`] 1 with the reason when it failed, 2 when `timeout` passed first.
pub async fn wait(remote: &Remote, name: &str, timeout: Option<Duration>) -> anyhow::Result<()> {
    let mut progress = Progress { last: None, quiet_stdout: remote.output() == Output::Json };
    let outcome = match timeout {
        Some(t) => match tokio::time::timeout(t, watch(remote, name, &mut progress)).await {
            Ok(r) => r,
            Err(_) => {
                let message = format!(
                    "timed out after {} waiting for job {name} ({})",
                    supervisor::duration::format(t),
                    progress.summary()
                );
                return Err(Exit { code: 2, message }.into());
            }
        },
        None => watch(remote, name, &mut progress).await,
    };
    let status = outcome.with_context(|| format!("waiting for job {name}"))?;
    if remote.output() == Output::Json {
        println!("{}", super::output::json(&status));
    }
    let took = elapsed(&status["start_time"], &status["completion_time"], Utc::now());
    match status["phase"].as_str() {
        Some("Succeeded") => {
            if remote.output() == Output::Table {
                println!(
                    "job {name} succeeded ({} succeeded, {} failed, in {took})",
                    status["succeeded"], status["failed"]
                );
            }
            Ok(())
        }
        _ => {
            let why = failure(&status).unwrap_or_else(|| "no reason given".into());
            Err(Exit {
                code: 1,
                message: format!("job {name} failed: {why} ({} failed attempts, after {took})", status["failed"]),
            }
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(command: Option<&str>, args: &[&str], argv: &[&str]) -> JobTemplateArgs {
        JobTemplateArgs {
            command: command.map(Into::into),
            args: args.iter().map(|s| s.to_string()).collect(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn templates_from_flags() {
        let mut t = template(Some("echo hi"), &[], &[]);
        (t.parallelism, t.completions, t.backoff_limit) = (Some(2), Some(4), Some(0));
        (t.completion_mode, t.restart_policy) = (Some(CompletionModeArg::Indexed), Some(RestartPolicyArg::OnFailure));
        t.env = vec!["A=1".into(), "B=x=y".into()];
        t.backoff_base = Some("100ms".into());
        let spec = Value::Object(template_spec(&t).expect("valid"));
        assert_eq!(
            spec,
            json!({ "command": "echo hi", "parallelism": 2, "completions": 4, "backoff_limit": 0,
                    "completion_mode": "Indexed", "restart_policy": "OnFailure",
                    "env": { "A": "1", "B": "x=y" }, "backoff_base": "100ms" })
        );
        let argv = template_spec(&template(None, &["ls"], &["-l", "/"])).expect("argv");
        assert_eq!(argv["args"], json!(["ls", "-l", "/"]));
        assert!(template_spec(&template(None, &[], &[])).is_err(), "nothing to run");
        assert!(template_spec(&template(Some("x"), &["y"], &[])).is_err(), "both");
        let mut bad_env = template(Some("x"), &[], &[]);
        bad_env.env = vec!["NOEQUALS".into()];
        assert!(template_spec(&bad_env).is_err());
    }

    #[test]
    fn failure_reasons_and_origins() {
        let status = json!({ "conditions": [
            { "type": "Suspended", "status": false, "reason": "JobResumed", "message": "" },
            { "type": "Failed", "status": true, "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" },
        ] });
        assert_eq!(
            failure(&status).as_deref(),
            Some("BackoffLimitExceeded: Job has reached the specified backoff limit")
        );
        assert_eq!(failure(&json!({ "conditions": [] })), None);
        let table = [
            (json!({ "source": "api" }), "api"),
            (json!({ "source": "config" }), "config"),
            (json!({ "source": "cron_job", "cronjob": "nightly", "manual": false }), "cronjob nightly"),
            (json!({ "source": "cron_job", "cronjob": "nightly", "manual": true }), "cronjob nightly (manual)"),
        ];
        for (o, want) in table {
            assert_eq!(origin(&o), want, "{o}");
        }
    }

    #[test]
    fn progress_shows_changes_and_notes() {
        let mut p = Progress { last: None, quiet_stdout: true };
        let s = |phase: &str, active: u32, failed: u32| json!({ "name": "j", "phase": phase, "active": active, "succeeded": 0, "failed": failed });
        assert!(!p.update(&s("Running", 1, 0), None));
        assert!(!p.update(&s("Running", 0, 1), None));
        assert!(p.update(&s("Failed", 0, 2), None));
        assert_eq!(p.summary(), "phase Failed, active 0, succeeded 0, failed 2");
        let ended = json!({ "type": "attempt_ended", "attempt": {
            "index": null, "attempt": 1, "exit_code": 1, "signal": null, "reason": "Failed", "message": "retry in 100ms" } });
        assert_eq!(attempt_note(&ended).as_deref(), Some("attempt 1 ended: Failed code 1; retry in 100ms"));
        let started = json!({ "type": "attempt_started", "attempt": { "index": 2, "attempt": 0, "pid": 42 } });
        assert_eq!(attempt_note(&started).as_deref(), Some("attempt 0 of index 2 started, pid 42"));
        assert_eq!(attempt_note(&json!({ "type": "created" })), None);
    }
}
