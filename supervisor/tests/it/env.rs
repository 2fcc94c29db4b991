//! Environment layering and the shell/direct-exec choice, seen by real processes.

use crate::helpers::*;
use std::fs;
use std::sync::Arc;
use supervisor::EventKind;

#[tokio::test]
async fn daemon_global_and_spec_env_are_layered_and_expanded() {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let global = vec![
        ("APP_BASE".to_string(), "/srv/app".to_string()),
        ("APP_DATA".to_string(), "${APP_BASE}/data".to_string()),
        ("APP_PATH".to_string(), "$PATH:/opt/bin".to_string()),
        ("OVERRIDDEN".to_string(), "global".to_string()),
    ];
    let mut sup = spawn_supervisor_with(dir, global);
    // Direct exec (no shell syntax): what the child sees is its environment, verbatim.
    let mut spec = sh("env", "env");
    spec.env.0.insert("LOG_DIR".into(), "$APP_DATA/log".into());
    spec.env.0.insert("OVERRIDDEN".into(), "spec:${OVERRIDDEN}".into());
    spec.env.0.insert("LITERAL".into(), "cost $$5".into());
    sup.register(spec).await;
    sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { code: Some(0), .. })).await;
    let out = fs::read_to_string(sup.log_file("env", "stdout")).expect("stdout");
    let vars: std::collections::BTreeMap<&str, &str> = out.lines().filter_map(|l| l.split_once('=')).collect();
    let path = std::env::var("PATH").expect("PATH");
    assert_eq!(vars.get("PATH"), Some(&path.as_str()), "the daemon's environment is inherited");
    assert_eq!(vars.get("APP_DATA"), Some(&"/srv/app/data"));
    assert_eq!(vars.get("APP_PATH").copied(), Some(format!("{path}:/opt/bin").as_str()));
    assert_eq!(vars.get("LOG_DIR"), Some(&"/srv/app/data/log"));
    assert_eq!(vars.get("OVERRIDDEN"), Some(&"spec:global"));
    assert_eq!(vars.get("LITERAL"), Some(&"cost $5"));
    sup.shutdown().await;
}

#[tokio::test]
async fn plain_commands_are_executed_directly_and_shell_syntax_through_sh() {
    let mut sup = spawn_supervisor();
    // Direct: the program is the process, no shell in between.
    let pid = sup.run(sh("direct", "sleep 300")).await;
    let cmdline = || fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    eventually("the child has executed sleep", || cmdline() == "sleep\x00300\x00").await;
    // An assignment prefix and a builtin need a shell.
    sup.register(sh("assign", "GREETING=hi printenv GREETING")).await;
    sup.wait_for_event(|e| e.name == "assign" && matches!(e.kind, EventKind::Exited { .. })).await;
    assert_eq!(fs::read_to_string(sup.log_file("assign", "stdout")).expect("stdout"), "hi\n");
    sup.register(sh("builtin", "exit 4")).await;
    let e = sup.wait_for_event(|e| e.name == "builtin" && matches!(e.kind, EventKind::Exited { .. })).await;
    assert!(matches!(e.kind, EventKind::Exited { code: Some(4), .. }), "{e:?}");
    sup.shutdown().await;
}
