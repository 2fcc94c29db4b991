//! CPU and memory of supervised processes, read from `/proc` when asked (no timer).
//!
//! A sample covers a process's **whole process group**: every program the supervisor
//! spawns leads its own group, so the group is "everything it started" — for a command
//! run through `/bin/sh -c`, the shell *and* the program it runs. One call reads
//! `/proc/<pid>/stat` of every process on the machine once (a directory listing and one
//! small read each) and sums the members of the groups asked about, so sampling all
//! instances at once costs about the same as sampling one.
//!
//! * **RSS** is the sum of the members' resident set sizes (field 24, in pages).
//! * **CPU %** is the time the group spent on CPU (user + system, plus that of its reaped
//!   children: fields 14–17) since the previous sample of the same process, over the
//!   wall time in between; 100% is one core busy. The first sample of a process has no
//!   previous one and reports its average since it started. A group whose member exits
//!   unreaped by the group loses that member's time; such a drop counts as 0, never less.
//!
//! A [`Sampler`] keeps the previous reading of each process (keyed by pid and start
//! time, so a recycled pid starts afresh) and forgets those not sampled for 10 minutes.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How much a live instance uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceSample {
    /// Instance name.
    pub name: String,
    /// Its pid (the process group id).
    pub pid: u32,
    /// CPU use of its process group, in percent of one core.
    pub cpu_percent: f64,
    /// Resident memory of its process group, in bytes.
    pub rss_bytes: u64,
    /// Live processes in its group.
    pub processes: u32,
}

/// Previous readings, for CPU deltas. Cheap to share: one per supervisor handle.
#[derive(Debug, Default)]
pub struct Sampler {
    last: Mutex<HashMap<(u32, u64), Reading>>,
}

#[derive(Clone, Copy, Debug)]
struct Reading {
    ticks: u64,
    at: Instant,
}

/// What one `/proc/<pid>/stat` line tells us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    pub pgrp: u32,
    /// utime + stime + cutime + cstime, in clock ticks.
    pub ticks: u64,
    pub start_time: u64,
    pub rss_pages: u64,
    pub zombie: bool,
}

/// Parses a `stat` line (fields counted after the last `)`, since the command name may
/// contain anything).
pub(crate) fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3.
    let field = |n: usize| -> Option<u64> { f.get(n - 3)?.parse::<i64>().ok().map(|v| v.max(0) as u64) };
    Some(Stat {
        pgrp: u32::try_from(field(5)?).ok()?,
        ticks: field(14)? + field(15)? + field(16)? + field(17)?,
        start_time: field(22)?,
        rss_pages: field(24)?,
        zombie: matches!(f.first()?.chars().next()?, 'Z' | 'X'),
    })
}

impl Sampler {
    /// Samples each `(name, pid)`; a pid that no longer exists is left out.
    pub fn sample(&self, targets: &[(String, u32)]) -> Vec<ResourceSample> {
        if targets.is_empty() {
            return Vec::new();
        }
        let groups: BTreeSet<u32> = targets.iter().map(|(_, pid)| *pid).collect();
        let mut members: BTreeMap<u32, Vec<(u32, Stat)>> = BTreeMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                let Some(stat) =
                    std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().as_deref().and_then(parse_stat)
                else {
                    continue;
                };
                if groups.contains(&stat.pgrp) && !stat.zombie {
                    members.entry(stat.pgrp).or_default().push((pid, stat));
                }
            }
        }
        let now = Instant::now();
        let hz = rustix::param::clock_ticks_per_second().max(1) as f64;
        let page = rustix::param::page_size() as u64;
        let boot = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        let uptime = boot.tv_sec as f64 + boot.tv_nsec as f64 / 1e9;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(targets.len());
        for (name, pid) in targets {
            let Some(list) = members.get(pid) else {
                continue;
            };
            let Some((_, leader)) = list.iter().find(|(p, _)| p == pid) else {
                continue;
            };
            let ticks: u64 = list.iter().map(|(_, s)| s.ticks).sum();
            let rss_bytes = list.iter().map(|(_, s)| s.rss_pages).sum::<u64>() * page;
            let key = (*pid, leader.start_time);
            let cpu_percent = match last.get(&key) {
                Some(prev) => {
                    let wall = now.duration_since(prev.at).as_secs_f64();
                    if wall > 0.0 {
                        ticks.saturating_sub(prev.ticks) as f64 / hz / wall * 100.0
                    } else {
                        0.0
                    }
                }
                None => {
                    let age = uptime - leader.start_time as f64 / hz;
                    if age > 0.0 {
                        ticks as f64 / hz / age * 100.0
                    } else {
                        0.0
                    }
                }
            };
            last.insert(key, Reading { ticks, at: now });
            out.push(ResourceSample {
                name: name.clone(),
                pid: *pid,
                cpu_percent,
                rss_bytes,
                processes: u32::try_from(list.len()).unwrap_or(u32::MAX),
            });
        }
        last.retain(|_, r| now.duration_since(r.at) < Duration::from_secs(600));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 987654 1000 55 10";
        assert_eq!(
            parse_stat(line),
            Some(Stat { pgrp: 4242, ticks: 13, start_time: 987_654, rss_pages: 55, zombie: false })
        );
        assert_eq!(parse_stat("1 (x) Z 0"), None);
    }

    #[test]
    fn samples_a_busy_group() {
        // A child of our own that burns CPU, in its own group.
        let mut child = std::process::Command::new("/bin/sh");
        use std::os::unix::process::CommandExt;
        child.args(["-c", "while :; do :; done"]).process_group(0);
        let mut child = child.spawn().expect("spawn");
        let pid = child.id();
        let sampler = Sampler::default();
        let target = vec![("busy".to_string(), pid)];
        let first = sampler.sample(&target);
        assert_eq!(first.len(), 1);
        assert!(first[0].rss_bytes > 0, "{first:?}");
        assert_eq!(first[0].processes, 1);
        // Burn for a while, then sample again: close to one core.
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline {
            std::thread::yield_now();
        }
        let second = sampler.sample(&target);
        let _ = child.kill();
        let _ = child.wait();
        assert!(second[0].cpu_percent > 5.0, "{second:?}");
        assert!(second[0].cpu_percent < 150.0, "{second:?}");
        assert!(sampler.sample(&target).is_empty(), "a reaped process is left out");
    }
}
