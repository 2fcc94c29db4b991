//! The per-process series, built when they are scraped.
//!
//! A Prometheus `*Vec` keeps one metric object per series, each with its label pairs as
//! owned strings: with a state gauge per state and up to six counters, that came to about
//! 9 KiB per process instance, the largest part of the daemon's memory per process. Here
//! an instance costs its name and a few integers, and the families are materialised only
//! while a scrape encodes them.

use super::STATES;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use std::collections::HashMap;
use std::sync::Mutex;

/// The `reason` label values of `provisr_process_exits_total`, in counting order.
pub(super) const EXIT_REASONS: [&str; 5] = ["requested", "failed_start", "signaled", "exited_zero", "exited_nonzero"];

/// What is kept of one instance.
#[derive(Debug, Default)]
struct Counts {
    starts: u64,
    restarts: u64,
    stops: u64,
    exits: [u64; EXIT_REASONS.len()],
    codes: Vec<(i32, u64)>,
    signals: Vec<(i32, u64)>,
    /// Index into [`STATES`] while the instance exists (its gauges are shown).
    state: Option<u8>,
}

impl Counts {
    fn is_empty(&self) -> bool {
        self.starts == 0 && self.exits.iter().all(|n| *n == 0) && self.state.is_none()
    }
}

/// One resource sample of an instance, present only during a scrape.
#[derive(Debug)]
pub(super) struct Sample {
    pub name: String,
    pub cpu_percent: f64,
    pub rss_bytes: u64,
}

/// Families: starts, restarts, stops, exits, exit codes, exit signals, state, CPU, RSS.
#[derive(Debug)]
pub(super) struct ProcessFamilies {
    descs: Vec<Desc>,
    by_name: Mutex<HashMap<String, Counts>>,
    samples: Mutex<Vec<Sample>>,
}

const FAMILIES: [(&str, &str, MetricType); 9] = [
    ("provisr_process_starts_total", "Processes spawned.", MetricType::COUNTER),
    ("provisr_process_restarts_total", "Automatic restarts of a process.", MetricType::COUNTER),
    ("provisr_process_stops_total", "Processes that ended because a stop was asked for.", MetricType::COUNTER),
    ("provisr_process_exits_total", "Process ends, by reason.", MetricType::COUNTER),
    ("provisr_process_exit_codes_total", "Process ends by exit code.", MetricType::COUNTER),
    ("provisr_process_exit_signals_total", "Process ends by terminating signal.", MetricType::COUNTER),
    ("provisr_process_state", "1 for the current state of each instance.", MetricType::GAUGE),
    ("provisr_process_cpu_percent", "CPU use of the process group in percent of one core.", MetricType::GAUGE),
    ("provisr_process_rss_bytes", "Resident memory of the process group in bytes.", MetricType::GAUGE),
];

/// The label names of each family, sorted (the exposition lists labels by name).
const LABELS: [&[&str]; 9] = [
    &["name"],
    &["name"],
    &["name"],
    &["name", "reason"],
    &["code", "name"],
    &["name", "signal"],
    &["name", "state"],
    &["name"],
    &["name"],
];

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    super::lock(m)
}

fn bump(list: &mut Vec<(i32, u64)>, key: i32) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => list.push((key, 1)),
    }
}

fn labels(names: &[&str], values: &[&str]) -> Vec<LabelPair> {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| {
            let mut pair = LabelPair::default();
            pair.set_name((*n).to_string());
            pair.set_value((*v).to_string());
            pair
        })
        .collect()
}

fn counter(names: &[&str], values: &[&str], value: u64) -> Metric {
    let mut c = Counter::default();
    c.set_value(value as f64);
    let mut m = Metric::from_label(labels(names, values));
    m.set_counter(c);
    m
}

fn gauge(names: &[&str], values: &[&str], value: f64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(value);
    let mut m = Metric::from_gauge(g);
    m.set_label(labels(names, values));
    m
}

impl ProcessFamilies {
    pub(super) fn new() -> Self {
        let descs = FAMILIES
            .iter()
            .zip(LABELS)
            .map(|((name, help, _), labels)| {
                Desc::new(
                    (*name).to_string(),
                    (*help).to_string(),
                    labels.iter().map(|l| (*l).to_string()).collect(),
                    HashMap::new(),
                )
                .expect("a valid metric definition")
            })
            .collect();
        Self { descs, by_name: Mutex::new(HashMap::new()), samples: Mutex::new(Vec::new()) }
    }

    fn with(&self, name: &str, f: impl FnOnce(&mut Counts)) {
        let mut map = lock(&self.by_name);
        match map.get_mut(name) {
            Some(counts) => f(counts),
            None => {
                let mut counts = Counts::default();
                f(&mut counts);
                map.insert(name.to_string(), counts);
            }
        }
    }

    /// A spawn (`restart`: an automatic one).
    pub(super) fn started(&self, name: &str, restart: bool) {
        self.with(name, |c| {
            c.starts += 1;
            c.restarts += u64::from(restart);
        });
    }

    /// An end: `reason` is one of [`EXIT_REASONS`].
    pub(super) fn ended(&self, name: &str, reason: &str, requested: bool, code: Option<i32>, signal: Option<i32>) {
        let index = EXIT_REASONS.iter().position(|r| *r == reason).expect("a known exit reason");
        self.with(name, |c| {
            c.stops += u64::from(requested);
            c.exits[index] += 1;
            if let Some(code) = code {
                bump(&mut c.codes, code);
            }
            if let Some(signal) = signal {
                bump(&mut c.signals, signal);
            }
        });
    }

    /// The instance's current state (one of [`STATES`]); an unknown name shows no gauges.
    pub(super) fn set_state(&self, name: &str, state: &str) {
        let index = STATES.iter().position(|s| *s == state).and_then(|i| u8::try_from(i).ok());
        self.with(name, |c| c.state = index);
    }

    /// The instance is gone: its state gauges go now (its counters when forgotten).
    pub(super) fn remove_state(&self, name: &str) {
        let mut map = lock(&self.by_name);
        if let Some(c) = map.get_mut(name) {
            c.state = None;
            if c.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Every state gauge goes (before a resynchronisation sets the live ones again).
    pub(super) fn clear_states(&self) {
        let mut map = lock(&self.by_name);
        map.values_mut().for_each(|c| c.state = None);
        map.retain(|_, c| !c.is_empty());
    }

    /// Every series of the instance goes.
    pub(super) fn forget(&self, name: &str) {
        lock(&self.by_name).remove(name);
    }

    /// The resource samples the next collection shows (and then drops).
    pub(super) fn set_samples(&self, samples: Vec<Sample>) {
        *lock(&self.samples) = samples;
    }
}

impl Collector for ProcessFamilies {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut series: [Vec<Metric>; 9] = Default::default();
        {
            let map = lock(&self.by_name);
            for (name, c) in map.iter() {
                let name = name.as_str();
                for (i, value) in [c.starts, c.restarts, c.stops].into_iter().enumerate() {
                    if value > 0 {
                        series[i].push(counter(LABELS[i], &[name], value));
                    }
                }
                for (reason, n) in EXIT_REASONS.iter().zip(c.exits) {
                    if n > 0 {
                        series[3].push(counter(LABELS[3], &[name, reason], n));
                    }
                }
                for (code, n) in &c.codes {
                    series[4].push(counter(LABELS[4], &[&code.to_string(), name], *n));
                }
                for (signal, n) in &c.signals {
                    series[5].push(counter(LABELS[5], &[name, &signal.to_string()], *n));
                }
                if let Some(current) = c.state {
                    for (i, state) in STATES.iter().enumerate() {
                        series[6].push(gauge(
                            LABELS[6],
                            &[name, state],
                            f64::from(u8::from(i == usize::from(current))),
                        ));
                    }
                }
            }
        }
        for s in std::mem::take(&mut *lock(&self.samples)) {
            series[7].push(gauge(LABELS[7], &[&s.name], s.cpu_percent));
            series[8].push(gauge(LABELS[8], &[&s.name], s.rss_bytes as f64));
        }
        FAMILIES
            .iter()
            .zip(series)
            .map(|((name, help, kind), metrics)| {
                let mut family = MetricFamily::default();
                family.set_name((*name).to_string());
                family.set_help((*help).to_string());
                family.set_field_type(*kind);
                family.set_metric(metrics);
                family
            })
            .collect()
    }
}
