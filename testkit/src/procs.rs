//! The real processes a test starts, found through `/proc` (Linux). A test gives its
//! processes a [`unique_marker`] — `sleep <marker>` — finds them by it ([`sleepers`],
//! [`pids_with_marker`]) and kills whatever is left when it ends ([`Leftovers`]).

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A number no other test (or earlier run) uses, like `30123456789`: as the argument of
/// `sleep` it makes a test's processes identifiable in `/proc`, and sleeps for centuries.
pub fn unique_marker() -> String {
    format!("30{:09}", rand::random::<u32>() % 1_000_000_000)
}

/// True while `pid` is a live process (a zombie counts as gone).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// The argv of `pid` (lossily UTF-8), or `None` when it cannot be read (the process is gone).
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect())
}

/// The live processes whose argv satisfies `matches`.
pub fn pids_where(mut matches: impl FnMut(&[String]) -> bool) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| cmdline(*pid).is_some_and(|args| matches(&args)) && pid_alive(*pid))
        .collect()
}

/// The live processes whose argv is exactly `argv`.
pub fn pids_with_argv(argv: &[&str]) -> Vec<u32> {
    pids_where(|args| args == argv)
}

/// The live `sleep <marker>` processes.
pub fn sleepers(marker: &str) -> Vec<u32> {
    pids_with_argv(&["sleep", marker])
}

/// The live processes with `marker` anywhere in their command line.
pub fn pids_with_marker(marker: &str) -> Vec<u32> {
    pids_with_any_marker(&[marker])
}

/// The live processes with one of `markers` anywhere in their command line.
pub fn pids_with_any_marker<S: AsRef<str>>(markers: &[S]) -> Vec<u32> {
    pids_where(|args| args.iter().any(|a| markers.iter().any(|m| a.contains(m.as_ref()))))
}

/// Sends SIGKILL to `pid`, ignoring errors (it may be gone already).
pub fn kill_now(pid: u32) {
    let Ok(raw) = i32::try_from(pid) else {
        return;
    };
    let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
}

/// Kills (SIGKILL), when dropped, every live process whose command line contains one of
/// the markers: a failing test leaves nothing running.
pub struct Leftovers(pub Vec<String>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for pid in pids_with_any_marker(&self.0) {
            kill_now(pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn markers_are_distinct_numbers() {
        let (a, b) = (unique_marker(), unique_marker());
        assert_ne!(a, b);
        assert!(a.len() == 11 && a.bytes().all(|c| c.is_ascii_digit()), "{a}");
    }

    #[tokio::test]
    async fn a_sleeper_is_found_by_its_marker_until_it_is_killed() {
        let marker = unique_marker();
        let mut child = Command::new("sleep").arg(&marker).spawn().expect("spawning sleep");
        let pid = child.id();
        assert!(pid_alive(pid));
        // Until the child has exec'd, /proc shows the parent's (or an empty) command line.
        let expected = Some(vec!["sleep".to_string(), marker.clone()]);
        assert!(
            crate::eventually(std::time::Duration::from_secs(10), || cmdline(pid) == expected).await,
            "sleep never exec'd"
        );
        assert_eq!(sleepers(&marker), vec![pid]);
        assert_eq!(pids_with_marker(&marker[2..]), vec![pid], "a part of an argument is enough");
        assert!(pids_with_argv(&["sleep"]).iter().all(|p| *p != pid), "the whole argv must match");

        drop(Leftovers(vec![marker.clone()]));
        child.wait().expect("reaping sleep");
        assert!(!pid_alive(pid));
        assert!(sleepers(&marker).is_empty());
    }
}
