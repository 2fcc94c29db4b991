//! `provisr job …` and `provisr cronjob …` against a real daemon: `job wait` follows a job
//! to its outcome (exit 0 succeeded, 1 failed with the reason, 2 timed out), cronjobs fire
//! and show their history, suspend/resume/trigger act, errors carry the server's message,
//! and `--output json` parses.

use crate::helpers::{cli, signed_in, Running, Site, TIMEOUT};
use serde_json::Value;
use testkit::{unique_marker, wait_for, Leftovers};

#[tokio::test]
async fn jobs_run_wait_and_report_their_outcome() {
    let marker = unique_marker();
    let _cleanup = Leftovers(vec![marker.clone()]);
    let site = Site::new("");
    let mut daemon = site.serve();
    daemon.wait_ready(&testkit::http_client(), &site.url()).await;
    let home = signed_in(&site).await;
    let h = home.path();

    // A job that succeeds: `wait` exits 0.
    let r = cli(h, &["job", "create", "--name", "ok", "--command", "echo hello-from-ok"], None).await.ok("create");
    assert!(r.stdout.starts_with("created job ok"), "{}", r.stdout);
    let r = cli(h, &["job", "wait", "ok"], None).await.ok("wait for a job that succeeds");
    assert!(r.stdout.contains("job ok succeeded"), "{}", r.stdout);
    let r = cli(h, &["job", "logs", "ok"], None).await.ok("logs");
    assert_eq!(r.stdout, "hello-from-ok\n");

    // A job that exhausts its backoff limit: `wait` exits 1 with the reason.
    let r = cli(
        h,
        &[
            "job",
            "create",
            "--name",
            "bad",
            "--command",
            "echo boom >&2; exit 3",
            "--backoff-limit",
            "1",
            "--backoff-base",
            "100ms",
        ],
        None,
    )
    .await
    .ok("create a failing job");
    assert!(r.stdout.contains("created job bad"), "{}", r.stdout);
    let r = cli(h, &["job", "wait", "bad"], None).await.exits(1, "wait for a job that fails");
    assert!(r.stderr.contains("job bad failed") && r.stderr.contains("BackoffLimitExceeded"), "{}", r.stderr);
    let view = cli(h, &["job", "get", "bad", "-o", "json"], None).await.ok("get").json();
    assert_eq!(view["status"]["phase"], "Failed");
    assert_eq!(view["status"]["failed"], 2, "the first try and one retry");
    assert_eq!(view["attempts"].as_array().map(Vec::len), Some(2));
    assert!(view["attempts"].as_array().is_some_and(|a| a.iter().all(|a| a["exit_code"] == 3)), "{view}");
    let r = cli(h, &["job", "get", "bad"], None).await.ok("get table");
    assert!(r.stdout.contains("BackoffLimitExceeded") && r.stdout.contains("code 3"), "{}", r.stdout);
    let r = cli(h, &["job", "logs", "bad", "--stream", "stderr", "--attempt", "0"], None).await.ok("stderr logs");
    assert_eq!(r.stdout, "boom\n");
    let r = cli(h, &["job", "logs", "bad", "--attempt", "7"], None).await.fails("no such attempt");
    assert!(r.stderr.contains("404") && r.stderr.contains("no such attempt"), "{}", r.stderr);

    // --wait on create, an Indexed job with parallelism.
    let r = cli(
        h,
        &[
            "job",
            "create",
            "--name",
            "idx",
            "--completion-mode",
            "indexed",
            "--completions",
            "3",
            "--parallelism",
            "2",
            "--wait",
            "--output",
            "json",
            "--",
            "sh",
            "-c",
            "echo index $JOB_COMPLETION_INDEX",
        ],
        None,
    )
    .await
    .ok("create --wait");
    // stdout: only the final status.
    let status = r.json();
    assert_eq!(status["phase"], "Succeeded");
    assert_eq!(status["completed_indexes"], "0-2");
    assert!(r.stderr.contains("job idx: "), "progress goes to stderr with --output json: {}", r.stderr);
    let r = cli(h, &["job", "logs", "idx", "--index", "2"], None).await.ok("logs of an index");
    assert_eq!(r.stdout, "index 2\n");

    // `wait` follows a running job and shows its progress as it changes.
    let gate = home.path().join("gate");
    let command = format!("until [ -e {} ]; do sleep 0.05; done; echo {marker}", gate.display());
    cli(h, &["job", "create", "--name", "gated", "--command", &command], None).await.ok("create gated");
    let mut waiting = Running::start(h, &["job", "wait", "gated"]);
    waiting.wait_output("job gated: Running  active 1").await;
    std::fs::write(&gate, "").expect("opening the gate");
    let r = waiting.finish().await.ok("wait for the gated job");
    assert!(r.stdout.contains("job gated: Succeeded") && r.stdout.contains("job gated succeeded"), "{}", r.stdout);

    // A timeout exits 2, saying where the job was.
    let long = format!("sleep {marker}");
    cli(h, &["job", "create", "--name", "long", "--command", &long], None).await.ok("create long");
    let r = cli(h, &["job", "wait", "long", "--timeout", "300ms"], None).await.exits(2, "wait with a timeout");
    assert!(r.stderr.contains("timed out after 300ms") && r.stderr.contains("phase Running"), "{}", r.stderr);
    let r = cli(h, &["job", "wait", "long", "--timeout", "soon"], None).await.exits(2, "a bad timeout");
    assert!(r.stderr.contains("--timeout"), "{}", r.stderr);

    // Suspend and resume; list; delete.
    let s = cli(h, &["job", "suspend", "long", "-o", "json"], None).await.ok("suspend").json();
    assert_eq!(s["phase"], "Suspended");
    let r = cli(h, &["job", "resume", "long"], None).await.ok("resume");
    assert!(r.stdout.contains("resumed job long"), "{}", r.stdout);
    let list = cli(h, &["job", "list", "-o", "json"], None).await.ok("list").json();
    let names: Vec<&str> = list.as_array().expect("an array").iter().filter_map(|j| j["name"].as_str()).collect();
    assert_eq!(names, ["bad", "gated", "idx", "long", "ok"]);
    let r = cli(h, &["job", "list"], None).await.ok("list table");
    assert!(r.stdout.lines().next().is_some_and(|l| l.starts_with("NAME") && l.contains("PHASE")), "{}", r.stdout);
    assert!(r.stdout.lines().any(|l| l.starts_with("bad ") && l.contains("Failed")), "{}", r.stdout);
    cli(h, &["job", "delete", "long"], None).await.ok("delete");
    let r = cli(h, &["job", "wait", "long"], None).await.fails("wait for a deleted job");
    assert!(r.stderr.contains("long"), "{}", r.stderr);
    let history = cli(h, &["job", "history", "long", "-o", "json"], None).await.ok("history").json();
    assert_eq!(history["items"][0]["removed"]["reason"], "deleted", "{history}");

    // A job its TTL has already taken off the live list: `wait` reads its outcome from the history.
    for (name, command, code) in [("gone-ok", "true", 0), ("gone-bad", "exit 1", 1)] {
        let args = ["job", "create", "--name", name, "--command", command, "--backoff-limit", "0"];
        cli(h, &[&args[..], &["--ttl-seconds-after-finished", "0"]].concat(), None).await.ok("create");
        wait_for("the TTL to remove it", TIMEOUT, || async {
            let r = cli(h, &["job", "get", name], None).await;
            r.stderr.contains("404").then_some(())
        })
        .await;
        let r = cli(h, &["job", "wait", name], None).await.exits(code, "wait for a removed job");
        assert!(
            r.stdout.contains("succeeded") || r.stderr.contains("BackoffLimitExceeded"),
            "{}{}",
            r.stdout,
            r.stderr
        );
    }

    // Errors: the server's message and a non-zero exit.
    let r = cli(h, &["job", "create", "--name", "ok", "--command", "true"], None).await.fails("a duplicate");
    assert!(r.stderr.contains("409") && r.stderr.contains("already exists"), "{}", r.stderr);
    let r = cli(h, &["job", "get", "nope"], None).await.fails("an unknown job");
    assert!(r.stderr.contains("404") && r.stderr.contains("no job named"), "{}", r.stderr);
    let r = cli(h, &["job", "wait", "nope"], None).await.exits(1, "wait for an unknown job");
    assert!(r.stderr.contains("404"), "{}", r.stderr);
    let r = cli(h, &["job", "create", "--name", "p", "--command", "true", "--parallelism", "0"], None)
        .await
        .fails("an invalid spec");
    assert!(r.stderr.contains("400") && r.stderr.contains("parallelism"), "{}", r.stderr);
    let r = cli(h, &["job", "create", "--name", "x"], None).await.exits(1, "nothing to run");
    assert!(r.stderr.contains("--command"), "{}", r.stderr);
    cli(h, &["job", "create", "--completion-mode", "Sideways", "--name", "x", "--command", "true"], None)
        .await
        .exits(2, "a usage error");
}

#[tokio::test]
async fn cronjobs_fire_and_are_managed_from_the_command_line() {
    let marker = unique_marker();
    let _cleanup = Leftovers(vec![marker.clone()]);
    let site = Site::new("");
    let mut daemon = site.serve();
    daemon.wait_ready(&testkit::http_client(), &site.url()).await;
    let home = signed_in(&site).await;
    let h = home.path();

    let r = cli(h, &["cronjob", "create", "--name", "tick", "--schedule", "@every 1s", "--command", "echo tick"], None)
        .await
        .ok("create");
    assert!(r.stdout.contains("created cronjob tick: next run"), "{}", r.stdout);
    let runs = wait_for("two runs in the history", TIMEOUT, || async {
        let v = cli(h, &["cronjob", "history", "tick", "-o", "json"], None).await.ok("history").json();
        let items = v["items"].as_array()?.clone();
        (items.len() >= 2).then_some(items)
    })
    .await;
    assert!(runs.iter().all(|f| f["outcome"] == "created" && f["job_name"].as_str().is_some()), "{runs:?}");
    let r = cli(h, &["cronjob", "history", "tick", "--limit", "1"], None).await.ok("history table");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].contains("SCHEDULED") && lines[0].contains("OUTCOME"), "{}", r.stdout);
    assert!(lines[1].contains("created") && lines[1].contains("tick-"), "{}", r.stdout);
    assert!(lines.last().is_some_and(|l| l.contains("--before")), "a next page: {}", r.stdout);

    // get: next fire times.
    let v = cli(h, &["cronjob", "get", "tick", "-o", "json"], None).await.ok("get").json();
    assert_eq!(v["next_fire_times"].as_array().map(Vec::len), Some(5), "{v}");
    let v = cli(h, &["cronjob", "get", "tick", "--next", "2", "-o", "json"], None).await.ok("get --next").json();
    assert_eq!(v["next_fire_times"].as_array().map(Vec::len), Some(2), "{v}");
    let r = cli(h, &["cronjob", "get", "tick"], None).await.ok("get table");
    assert!(r.stdout.contains("@every 1s") && r.stdout.contains("Next runs:"), "{}", r.stdout);

    // suspend, trigger, resume.
    let s = cli(h, &["cronjob", "suspend", "tick", "-o", "json"], None).await.ok("suspend").json();
    assert_eq!(s["suspended"], true);
    assert_eq!(s["next_schedule_time"], Value::Null);
    let t = cli(h, &["cronjob", "trigger", "tick", "-o", "json"], None).await.ok("trigger").json();
    let job = t["job"].as_str().expect("the created job").to_string();
    assert!(job.starts_with("tick-manual-"), "{job}");
    cli(h, &["job", "wait", &job], None).await.ok("the triggered run succeeds");
    let r = cli(h, &["cronjob", "trigger", "tick", "--wait"], None).await.ok("trigger --wait");
    assert!(r.stdout.contains("triggered cronjob tick: created job tick-manual-"), "{}", r.stdout);
    assert!(r.stdout.contains("succeeded"), "{}", r.stdout);
    let r = cli(h, &["cronjob", "history", "tick", "--limit", "2"], None).await.ok("history");
    assert!(r.stdout.contains("created (manual)"), "{}", r.stdout);
    let s = cli(h, &["cronjob", "resume", "tick", "-o", "json"], None).await.ok("resume").json();
    assert_eq!(s["suspended"], false);
    assert!(s["next_schedule_time"].is_string());

    // A second one with the other flags; the list shows both.
    let sleeper = format!("sleep {marker}");
    cli(
        h,
        &[
            "cronjob",
            "create",
            "--name",
            "nightly",
            "--schedule",
            "0 3 * * *",
            "--time-zone",
            "Europe/Berlin",
            "--concurrency-policy",
            "forbid",
            "--starting-deadline-seconds",
            "60",
            "--suspend",
            "--command",
            &sleeper,
        ],
        None,
    )
    .await
    .ok("create with every flag");
    let v = cli(h, &["cronjob", "get", "nightly", "-o", "json"], None).await.ok("get").json();
    assert_eq!(v["spec"]["time_zone"], "Europe/Berlin");
    assert_eq!(v["spec"]["concurrency_policy"], "Forbid");
    assert_eq!(v["spec"]["starting_deadline_seconds"], 60);
    assert_eq!(v["spec"]["job_template"]["command"], sleeper.as_str());
    assert_eq!(v["status"]["suspended"], true);
    let list = cli(h, &["cronjob", "list", "-o", "json"], None).await.ok("list").json();
    let names: Vec<&str> = list.as_array().expect("an array").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["nightly", "tick"]);
    let r = cli(h, &["cronjob", "list"], None).await.ok("list table");
    let nightly = |l: &str| l.starts_with("nightly") && l.contains("0 3 * * *") && l.contains("Europe/Berlin");
    assert!(r.stdout.lines().any(nightly), "{}", r.stdout);
    assert!(r.stdout.lines().any(|l| l.starts_with("tick") && l.contains("@every 1s")), "{}", r.stdout);

    // Errors.
    let r = cli(h, &["cronjob", "create", "--name", "x", "--schedule", "every tuesday", "--command", "true"], None)
        .await
        .fails("an invalid schedule");
    assert!(r.stderr.contains("400") && r.stderr.contains("schedule"), "{}", r.stderr);
    let r = cli(h, &["cronjob", "create", "--name", "tick", "--schedule", "@hourly", "--command", "true"], None)
        .await
        .fails("a duplicate");
    assert!(r.stderr.contains("409"), "{}", r.stderr);
    let r = cli(h, &["cronjob", "history", "never"], None).await.fails("an unknown cronjob");
    assert!(r.stderr.contains("404") && r.stderr.contains("no cronjob named"), "{}", r.stderr);

    cli(h, &["cronjob", "delete", "tick"], None).await.ok("delete");
    cli(h, &["cronjob", "delete", "nightly"], None).await.ok("delete");
    let r = cli(h, &["cronjob", "list"], None).await.ok("list");
    assert_eq!(r.stdout, "no cronjobs\n");
    let v = cli(h, &["cronjob", "history", "tick", "-o", "json"], None).await.ok("history after delete").json();
    assert!(v["items"].as_array().is_some_and(|i| i.len() >= 4), "the history stays: {v}");
}
