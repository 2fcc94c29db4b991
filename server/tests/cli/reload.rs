//! Hot reload: SIGHUP and file changes reconcile the running programs with the config,
//! touching only what changed; an invalid config changes nothing.

use crate::helpers::{Site, PASSWORD, TIMEOUT};
use nix::sys::signal::Signal;
use testkit::{pid_alive, sleepers, unique_marker, wait_for, wait_until, Leftovers};

/// A `[[processes]]` entry running `sleep <marker>`.
fn program(name: &str, marker: &str, priority: i32) -> String {
    format!(
        "[[processes]]\ntype = \"process\"\n[processes.spec]\nname = \"{name}\"\ncommand = \"sleep {marker}\"\npriority = {priority}\n"
    )
}

/// The site's config with `extra` instead of its previous programs.
fn rewrite(site: &Site, extra: &str) {
    let port = site.port;
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[server.tls]\nenabled = false\n\n\
         [auth.admin]\npassword = \"{PASSWORD}\"\n\n{extra}\n"
    );
    // Write a new file and rename it over the old one, as editors do.
    let tmp = site.dir.path().join(".provisr.toml.tmp");
    std::fs::write(&tmp, config).expect("writing the config");
    std::fs::rename(&tmp, site.config()).expect("replacing the config");
}

#[tokio::test]
async fn sighup_adds_removes_and_restarts_only_what_changed() {
    let (keep, gone, edit, edited, new) =
        (unique_marker(), unique_marker(), unique_marker(), unique_marker(), unique_marker());
    let _cleanup = Leftovers(vec![keep.clone(), gone.clone(), edit.clone(), edited.clone(), new.clone()]);
    let site = Site::new(&[program("keep", &keep, 0), program("gone", &gone, 0), program("edit", &edit, 0)].concat());
    let (mut daemon, api) = site.start().await;
    let keep_pid = api.wait_running("keep").await;
    let gone_pid = api.wait_running("gone").await;
    let edit_pid = api.wait_running("edit").await;

    rewrite(&site, &[program("keep", &keep, 0), program("edit", &edited, 0), program("new", &new, 0)].concat());
    daemon.signal(Signal::SIGHUP);

    let new_pid = api.wait_running("new").await;
    assert_eq!(sleepers(&new), vec![new_pid]);
    wait_until("the removed program to stop", TIMEOUT, || !pid_alive(gone_pid)).await;
    wait_for("the removed program to be unregistered", TIMEOUT, || async {
        api.status("gone").await.is_none().then_some(())
    })
    .await;
    let edited_pid = wait_for("the edited program to run its new command", TIMEOUT, || async {
        let pids = sleepers(&edited);
        (pids.len() == 1).then(|| pids[0])
    })
    .await;
    assert_eq!(api.wait_running("edit").await, edited_pid);
    wait_until("the old command of the edited program to stop", TIMEOUT, || !pid_alive(edit_pid)).await;
    assert!(sleepers(&edit).is_empty());
    assert_eq!(api.wait_running("keep").await, keep_pid, "an unchanged program keeps running untouched");
    assert!(pid_alive(keep_pid));

    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).await.code(), Some(0), "stderr:\n{}", daemon.stderr());
}

#[tokio::test]
async fn an_edited_config_file_is_applied_without_a_signal() {
    let (first, second) = (unique_marker(), unique_marker());
    let _cleanup = Leftovers(vec![first.clone(), second.clone()]);
    let site = Site::new(&program("one", &first, 0));
    let (mut daemon, api) = site.start().await;
    let one = api.wait_running("one").await;

    rewrite(&site, &[program("one", &first, 0), program("two", &second, 0)].concat());
    let two = api.wait_running("two").await;
    assert_eq!(sleepers(&second), vec![two]);
    assert_eq!(api.wait_running("one").await, one, "unchanged");

    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).await.code(), Some(0), "stderr:\n{}", daemon.stderr());
}

#[tokio::test]
async fn an_invalid_config_is_reported_and_changes_nothing() {
    let marker = unique_marker();
    let _cleanup = Leftovers(vec![marker.clone()]);
    let site = Site::new(&program("stays", &marker, 0));
    let (mut daemon, api) = site.start().await;
    let pid = api.wait_running("stays").await;

    rewrite(&site, "[[processes]]\ntype = \"process\"\n[processes.spec]\nname = \"bad name!\"\ncolour = \"red\"\n");
    daemon.signal(Signal::SIGHUP);
    wait_until("the reload to report the invalid config", TIMEOUT, || {
        let err = daemon.stderr();
        err.contains("the new configuration is invalid") && err.contains("processes[0].spec.colour")
    })
    .await;
    assert_eq!(api.wait_running("stays").await, pid, "nothing changed");
    assert!(pid_alive(pid));

    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).await.code(), Some(0), "stderr:\n{}", daemon.stderr());
}

#[tokio::test]
async fn program_files_are_applied_as_they_are_added_edited_in_place_and_removed() {
    let (first, second) = (unique_marker(), unique_marker());
    let _cleanup = Leftovers(vec![first.clone(), second.clone()]);
    let site = Site::new("");
    let config = std::fs::read_to_string(site.config()).expect("reading the config");
    std::fs::write(site.config(), format!("programs_directory = \"programs\"\n{config}")).expect("writing the config");
    let programs = site.dir.path().join("programs");
    std::fs::create_dir(&programs).expect("creating the programs directory");
    let (mut daemon, api) = site.start().await;

    let file = programs.join("worker.toml");
    let entry = |marker: &str| format!("type = \"process\"\n[spec]\nname = \"worker\"\ncommand = \"sleep {marker}\"\n");
    std::fs::write(&file, entry(&first)).expect("adding a program file");
    let pid = api.wait_running("worker").await;
    assert_eq!(sleepers(&first), vec![pid]);

    // Written in place (truncated and rewritten), not replaced by a rename.
    std::fs::write(&file, entry(&second)).expect("editing the program file");
    let edited = wait_for("the edited program to run its new command", TIMEOUT, || async {
        let pids = sleepers(&second);
        (pids.len() == 1).then(|| pids[0])
    })
    .await;
    wait_until("the old command to stop", TIMEOUT, || !pid_alive(pid)).await;
    assert_eq!(api.wait_running("worker").await, edited);

    std::fs::remove_file(&file).expect("removing the program file");
    wait_for("the removed program to be unregistered", TIMEOUT, || async {
        api.status("worker").await.is_none().then_some(())
    })
    .await;
    wait_until("its process to stop", TIMEOUT, || !pid_alive(edited)).await;

    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).await.code(), Some(0), "stderr:\n{}", daemon.stderr());
}

/// The groups as `GET /api/groups` lists them: (name, member names).
async fn groups(api: &crate::helpers::Api) -> Vec<(String, Vec<String>)> {
    let list = api.get_json("/groups").await;
    let names = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    list.as_array()
        .expect("a list of groups")
        .iter()
        .map(|g| {
            (names(&g["name"]), g["members"].as_array().expect("members").iter().map(|m| names(&m["name"])).collect())
        })
        .collect()
}

#[tokio::test]
async fn groups_are_reloaded_with_the_programs() {
    let (a, b) = (unique_marker(), unique_marker());
    let _cleanup = Leftovers(vec![a.clone(), b.clone()]);
    let group = |name: &str, members: &str| format!("[[groups]]\nname = \"{name}\"\nmembers = [{members}]\n");
    let site = Site::new(&[program("a", &a, 0), group("pair", "\"a\"")].concat());
    let (mut daemon, api) = site.start().await;
    api.wait_running("a").await;
    assert_eq!(groups(&api).await, [("pair".to_string(), vec!["a".to_string()])]);

    rewrite(
        &site,
        &[program("a", &a, 0), program("b", &b, 1), group("pair", "\"a\", \"b\""), group("solo", "\"b\"")].concat(),
    );
    daemon.signal(Signal::SIGHUP);
    wait_for("the new groups", TIMEOUT, || async {
        let now = groups(&api).await;
        (now.len() == 2).then_some(now)
    })
    .await;
    assert_eq!(
        groups(&api).await,
        [("pair".to_string(), vec!["a".to_string(), "b".to_string()]), ("solo".to_string(), vec!["b".to_string()])]
    );
    // The new group is usable at once: stopping it stops its member only.
    let b_pid = api.wait_running("b").await;
    let a_pid = api.wait_running("a").await;
    let res = api.post_json("/group/stop?name=solo", &serde_json::json!({})).await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    wait_until("the member of the stopped group to exit", TIMEOUT, || !pid_alive(b_pid)).await;
    assert!(pid_alive(a_pid));

    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(TIMEOUT).await.code(), Some(0), "stderr:\n{}", daemon.stderr());
}
