//! The CLI against the real routes it was first tested on stand-ins for: `logs --follow`
//! over `/processes/{name}/logs/ws`, `group-start|group-stop|group-status` over `/group/*`
//! with a `[[groups]]` config, and `register-file` posting `type = "job"` / `"cronjob"`
//! entries to `/jobs` and `/cronjobs`.

use crate::helpers::{cli, signed_in, Running, Site, TIMEOUT};
use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::{unique_marker, wait_for, Leftovers};

#[tokio::test]
async fn logs_follow_streams_lines_printed_after_it_started() {
    let marker = unique_marker();
    let _cleanup = Leftovers(vec![marker.clone()]);
    let site = Site::new("");
    let mut daemon = site.serve();
    daemon.wait_ready(&testkit::http_client(), &site.url()).await;
    let home = signed_in(&site).await;
    let h = home.path();
    let gate = h.join("gate");
    // Prints a line, waits for the gate, prints another (to stderr too), then sleeps.
    let command = format!(
        "echo before-{marker}; until [ -e {gate} ]; do sleep 0.05; done; echo after-{marker}; echo oops >&2; \
         exec sleep {marker}",
        gate = gate.display()
    );
    cli(h, &["register", "--name", "talker", "--command", &command], None).await.ok("register");
    wait_for("the first line", TIMEOUT, || async {
        let r = cli(h, &["logs", "talker"], None).await;
        r.stdout.contains("before-").then_some(())
    })
    .await;

    let mut follow = Running::start(h, &["logs", "talker", "--follow"]);
    follow.wait_output(&format!("[stdout] before-{marker}")).await;
    assert!(!follow.stdout().contains("after-"), "the gate is still shut: {}", follow.stdout());
    std::fs::write(&gate, "").expect("opening the gate");
    follow.wait_output(&format!("[stdout] after-{marker}")).await;
    follow.wait_output("[stderr] oops").await;
    // Interrupted, it closes the socket and exits 0.
    follow.signal(Signal::SIGINT);
    let r = follow.finish().await.ok("follow ends on ^C");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [format!("[stdout] before-{marker}"), format!("[stdout] after-{marker}"), "[stderr] oops".into()]
    );

    // Only one stream, and the JSON messages as the server sends them.
    let mut json = Running::start(h, &["logs", "talker", "--follow", "--stream", "stderr", "-o", "json"]);
    json.wait_output("oops").await;
    json.signal(Signal::SIGINT);
    let r = json.finish().await.ok("follow --output json");
    let first: Value = serde_json::from_str(r.stdout.lines().next().expect("a message")).expect("JSON");
    assert_eq!(first["type"], "lines");
    assert_eq!(first["lines"].as_array().map(Vec::len), Some(1), "{first}");
    assert_eq!(first["lines"][0]["stream"], "stderr");
    assert!(first["next_offset"].as_u64().is_some(), "{first}");

    // The stream ends when the process is unregistered.
    let mut follow = Running::start(h, &["logs", "talker", "--follow"]);
    follow.wait_output("[stderr] oops").await;
    cli(h, &["unregister", "--name", "talker"], None).await.ok("unregister");
    follow.finish().await.ok("the stream closed by the server");
    let r = cli(h, &["logs", "talker", "--follow"], None).await.fails("follow of an unknown process");
    assert!(r.stderr.contains("404") && r.stderr.contains("talker"), "{}", r.stderr);
    let r = cli(h, &["logs", "talker", "--follow", "--stream", "stdin"], None).await.fails("a bad stream");
    assert!(r.stderr.contains("400") && r.stderr.contains("stream"), "{}", r.stderr);
}

#[tokio::test]
async fn group_commands_drive_the_configured_groups() {
    let marker = unique_marker();
    let _cleanup = Leftovers(vec![marker.clone()]);
    let site = Site::new(&format!(
        "[[processes]]\ntype = \"process\"\nspec = {{ name = \"api\", command = \"sleep {marker}\", instances = 2 }}\n\n\
         [[processes]]\ntype = \"process\"\nspec = {{ name = \"db\", command = \"sleep {marker}\", priority = -1 }}\n\n\
         [[groups]]\nname = \"stack\"\nmembers = [\"api\", \"db\"]\n"
    ));
    let mut daemon = site.serve();
    daemon.wait_ready(&testkit::http_client(), &site.url()).await;
    let home = signed_in(&site).await;
    let h = home.path();

    let running = wait_for("the group to run", TIMEOUT, || async {
        let v = cli(h, &["group-status", "--group", "stack", "-o", "json"], None).await.ok("status").json();
        (v["state"] == "running").then_some(v)
    })
    .await;
    let members: Vec<&str> =
        running["members"].as_array().expect("members").iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(members, ["api", "db"]);
    let r = cli(h, &["group-status", "--group", "stack"], None).await.ok("status table");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "group stack: running", "{}", r.stdout);
    for name in ["api-1", "api-2", "db"] {
        assert!(lines.iter().any(|l| l.starts_with(name) && l.contains("running")), "{name}: {}", r.stdout);
    }

    let r = cli(h, &["group-stop", "--group", "stack"], None).await.ok("stop");
    assert!(r.stdout.starts_with("group stack stopped: "), "{}", r.stdout);
    // Stopped in reverse priority order: the api instances before db.
    let stopped: Vec<&str> = r.stdout.trim_start_matches("group stack stopped: ").trim().split(", ").collect();
    assert_eq!(stopped.last(), Some(&"db"), "{}", r.stdout);
    let v = cli(h, &["group-status", "--name", "stack", "-o", "json"], None).await.ok("status").json();
    assert_eq!(v["state"], "stopped", "group-stop answers once they have stopped: {v}");

    let r = cli(h, &["group-start", "--group", "stack"], None).await.ok("start");
    assert!(r.stdout.starts_with("group stack started: db"), "db first (priority -1): {}", r.stdout);
    wait_for("the group to run again", TIMEOUT, || async {
        let v = cli(h, &["group-status", "--group", "stack", "-o", "json"], None).await.ok("status").json();
        (v["state"] == "running").then_some(())
    })
    .await;

    let r = cli(h, &["group-status", "--group", "nope"], None).await.fails("an unknown group");
    assert!(r.stderr.contains("404") && r.stderr.contains("nope"), "{}", r.stderr);
    let r = cli(h, &["group-start", "--group", "bad name"], None).await.fails("an invalid group name");
    assert!(r.stderr.contains("400"), "{}", r.stderr);
}

#[tokio::test]
async fn register_file_creates_jobs_and_cronjobs() {
    let marker = unique_marker();
    let _cleanup = Leftovers(vec![marker.clone()]);
    let site = Site::new("");
    let mut daemon = site.serve();
    daemon.wait_ready(&testkit::http_client(), &site.url()).await;
    let home = signed_in(&site).await;
    let h = home.path();
    let dir = tempfile::tempdir().expect("files");

    let job = dir.path().join("job.toml");
    std::fs::write(&job, "type = \"job\"\n[spec]\nname = \"filed\"\ncommand = \"echo filed-job\"\ncompletions = 2\n")
        .expect("job file");
    let r = cli(h, &["register-file", job.to_str().expect("utf-8")], None).await.ok("register-file job");
    assert_eq!(r.stdout, "registered job: filed\n");
    cli(h, &["job", "wait", "filed"], None).await.ok("the filed job succeeds");
    let v = cli(h, &["job", "get", "filed", "-o", "json"], None).await.ok("get").json();
    assert_eq!(v["status"]["succeeded"], 2);
    assert_eq!(v["status"]["origin"]["source"], "api");

    let cron = dir.path().join("cron.yaml");
    std::fs::write(
        &cron,
        "type: cronjob\nspec:\n  name: filed-cron\n  schedule: \"@every 1h\"\n  job_template:\n    command: echo cron\n",
    )
    .expect("cronjob file");
    let r = cli(h, &["register-file", "--file", cron.to_str().expect("utf-8")], None).await.ok("register-file cron");
    assert_eq!(r.stdout, "registered cronjob: filed-cron\n");
    let v = cli(h, &["cronjob", "get", "filed-cron", "-o", "json"], None).await.ok("get").json();
    assert_eq!(v["spec"]["schedule"], "@every 1h");

    // A list of every kind in one JSON file; --output json gives the server's answers.
    let all = dir.path().join("all.json");
    let sleeper = format!("sleep {marker}");
    let entries = serde_json::json!([
        { "type": "process", "spec": { "name": "filed-proc", "command": sleeper } },
        { "type": "job", "spec": { "name": "filed-2", "args": ["true"] } },
        { "type": "cronjob", "spec": { "name": "filed-cron-2", "schedule": "0 * * * *", "job_template": { "command": "true" } } },
    ]);
    std::fs::write(&all, entries.to_string()).expect("list file");
    let answers =
        cli(h, &["register-file", all.to_str().expect("utf-8"), "-o", "json"], None).await.ok("a list").json();
    assert_eq!(answers.as_array().map(Vec::len), Some(3), "{answers}");
    assert_eq!(answers[1]["name"], "filed-2");
    assert_eq!(answers[2]["name"], "filed-cron-2");
    let jobs = cli(h, &["job", "list", "-o", "json"], None).await.ok("jobs").json();
    let names: Vec<&str> = jobs.as_array().expect("array").iter().filter_map(|j| j["name"].as_str()).collect();
    assert_eq!(names, ["filed", "filed-2"]);
    cli(h, &["status", "--name", "filed-proc", "-o", "json"], None).await.ok("the process is registered");

    // The same file again: the server's 409.
    let r = cli(h, &["register-file", job.to_str().expect("utf-8")], None).await.fails("a duplicate");
    assert!(r.stderr.contains("409") && r.stderr.contains("/jobs"), "{}", r.stderr);
    // A file that is not what `job create --file` wants.
    let r = cli(h, &["job", "create", "--file", cron.to_str().expect("utf-8")], None).await.fails("a cronjob file");
    assert!(r.stderr.contains("holds a cronjob"), "{}", r.stderr);
    cli(h, &["cronjob", "delete", "filed-cron"], None).await.ok("delete");
    let r = cli(h, &["cronjob", "create", "-f", cron.to_str().expect("utf-8")], None).await.ok("cronjob create -f");
    assert!(r.stdout.contains("created cronjob filed-cron"), "{}", r.stdout);
}
