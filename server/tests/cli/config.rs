//! A configuration with problems: exit code 2, every problem listed with its file and key,
//! and nothing started.

use crate::helpers::{Daemon, TIMEOUT};

#[tokio::test]
async fn every_problem_is_listed_and_the_exit_code_is_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("broken.toml");
    std::fs::write(
        &config,
        r#"colour = "blue"

[server]
base_path = "api"

[auth.jwt]
secret = "too-short"

[[processes]]
type = "process"
[processes.spec]
name = "web"
"#,
    )
    .expect("write config");
    let data = dir.path().join("data");
    let mut daemon = Daemon::serve(dir.path(), &config, &data);
    let status = daemon.wait_exit(TIMEOUT).await;
    let stderr = daemon.stderr();
    assert_eq!(status.code(), Some(2), "exit code; stderr:\n{stderr}");
    let file = config.display().to_string();
    for key in ["colour", "server.base_path", "auth.jwt.secret", "processes[0].spec.command"] {
        let prefix = format!("{file}: {key}: ");
        assert!(stderr.lines().any(|l| l.trim_start().starts_with(&prefix)), "a line {prefix:?}…; stderr:\n{stderr}");
    }
    assert!(!data.exists(), "nothing was created for a configuration that does not load");
}

#[tokio::test]
async fn a_syntax_error_names_the_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("syntax.yaml");
    std::fs::write(&config, "server:\n  listen: [unclosed\n").expect("write config");
    let mut daemon = Daemon::start(dir.path(), &["serve", config.to_str().expect("utf-8"), "--data-dir", "data"]);
    let status = daemon.wait_exit(TIMEOUT).await;
    let stderr = daemon.stderr();
    assert_eq!(status.code(), Some(2), "exit code; stderr:\n{stderr}");
    assert!(stderr.contains(&format!("{}: ", config.display())), "the file is named; stderr:\n{stderr}");
    assert!(stderr.contains("line"), "the position is given; stderr:\n{stderr}");
}
