//! Live state in the browser: a WebSocket to `GET <api>/ws` delivers a snapshot and then
//! ordered events; [`Live`] holds the result in signals that the pages render from.
//!
//! Before the first snapshot arrives (on the server, and while hydrating) `processes`
//! is `None` and pages render the list their server function returned, so the server's
//! HTML and the hydrated view agree.

use crate::model::jobs::{CronJobInfo, JobInfo};
use crate::model::{ProcessInfo, WsMessage};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use std::collections::BTreeMap;

/// The live process table and connection state.
#[derive(Clone, Copy, Debug)]
pub struct Live {
    /// Every instance by name, once the first snapshot has arrived.
    pub processes: RwSignal<Option<BTreeMap<String, ProcessInfo>>>,
    /// The sequence number the table reflects.
    pub seq: RwSignal<u64>,
    /// Whether the WebSocket is open.
    pub connected: RwSignal<bool>,
    /// The clock uptime is computed against (ticks every second in the browser).
    pub now: RwSignal<DateTime<Utc>>,
    /// The last event applied: `(seq, name, kind)`. Pages that show persisted history
    /// refetch when an event about their process arrives.
    pub last_event: RwSignal<Option<(u64, String, String)>>,
    /// Every live job by name, once the first snapshot has arrived.
    pub jobs: RwSignal<Option<BTreeMap<String, JobInfo>>>,
    /// Every cronjob by name, once the first snapshot has arrived.
    pub cronjobs: RwSignal<Option<BTreeMap<String, CronJobInfo>>>,
    started: RwSignal<bool>,
}

impl Live {
    /// Creates the live state and provides it as context.
    pub fn provide() -> Self {
        let live = Self {
            processes: RwSignal::new(None),
            seq: RwSignal::new(0),
            connected: RwSignal::new(false),
            now: RwSignal::new(Utc::now()),
            last_event: RwSignal::new(None),
            jobs: RwSignal::new(None),
            cronjobs: RwSignal::new(None),
            started: RwSignal::new(false),
        };
        provide_context(live);
        live
    }

    /// Applies one message from the socket.
    pub fn apply(&self, msg: WsMessage) {
        let event = match &msg {
            WsMessage::Event { seq, name, kind, .. } => Some((*seq, name.clone(), kind.clone())),
            WsMessage::Snapshot { .. } => None,
        };
        let batch = JobsChange::of(&msg);
        let mut seq = self.seq.get_untracked();
        let mut changed = false;
        self.processes.update(|table| {
            let t = table.get_or_insert_with(BTreeMap::new);
            changed = apply(t, &mut seq, msg);
        });
        if changed {
            if let Some(batch) = batch {
                self.jobs.update(|t| batch.apply_jobs(t.get_or_insert_with(BTreeMap::new)));
                self.cronjobs.update(|t| batch.apply_cronjobs(t.get_or_insert_with(BTreeMap::new)));
            }
            self.seq.set(seq);
            if event.is_some() {
                self.last_event.set(event);
            }
        }
    }

    /// Opens the WebSocket (once) and keeps it open, reconnecting with backoff.
    /// Does nothing on the server.
    pub fn connect(&self) {
        if self.started.get_untracked() {
            return;
        }
        self.started.set(true);
        #[cfg(feature = "hydrate")]
        browser::start(*self);
    }
}

/// Applies `msg` to `table` at `seq`; returns whether anything changed. Events at or
/// below the current sequence number are already reflected and are ignored.
pub fn apply(table: &mut BTreeMap<String, ProcessInfo>, seq: &mut u64, msg: WsMessage) -> bool {
    match msg {
        WsMessage::Snapshot { seq: s, processes, .. } => {
            *table = processes.into_iter().map(|p| (p.name.clone(), p)).collect();
            *seq = s;
            true
        }
        WsMessage::Event { seq: s, name, kind, process, .. } => {
            if s <= *seq {
                return false;
            }
            *seq = s;
            match process {
                Some(p) => {
                    table.insert(p.name.clone(), *p);
                }
                None if kind == "instance_removed" => {
                    table.remove(&name);
                }
                None => {}
            }
            true
        }
    }
}

/// What a message changes in the job and cronjob tables.
#[derive(Clone, Debug, PartialEq)]
pub enum JobsChange {
    /// A snapshot: the whole tables.
    Snapshot(Vec<JobInfo>, Vec<CronJobInfo>),
    /// A job event: its status after it (`None`: it left the live list).
    Job(String, Option<JobInfo>),
    /// A cronjob event: its status after it (`None`: it was removed).
    Cron(String, Option<CronJobInfo>),
}

impl JobsChange {
    /// The change `msg` carries, if any (process events carry none).
    pub fn of(msg: &WsMessage) -> Option<Self> {
        fn typed<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Option<T> {
            serde_json::from_value(v.clone()).ok()
        }
        match msg {
            WsMessage::Snapshot { jobs, cronjobs, .. } => Some(Self::Snapshot(
                jobs.iter().filter_map(typed).collect(),
                cronjobs.iter().filter_map(typed).collect(),
            )),
            WsMessage::Event { name, kind, detail, .. } if kind == "job" => {
                Some(Self::Job(name.clone(), detail.get("job").and_then(typed)))
            }
            WsMessage::Event { name, kind, detail, .. } if kind == "cron" => {
                Some(Self::Cron(name.clone(), detail.get("cronjob").and_then(typed)))
            }
            WsMessage::Event { .. } => None,
        }
    }

    /// Applies it to the job table.
    pub fn apply_jobs(&self, table: &mut BTreeMap<String, JobInfo>) {
        match self {
            Self::Snapshot(jobs, _) => *table = jobs.iter().map(|j| (j.name.clone(), j.clone())).collect(),
            Self::Job(name, None) => {
                table.remove(name);
            }
            Self::Job(name, Some(j)) => {
                table.insert(name.clone(), j.clone());
            }
            Self::Cron(..) => {}
        }
    }

    /// Applies it to the cronjob table.
    pub fn apply_cronjobs(&self, table: &mut BTreeMap<String, CronJobInfo>) {
        match self {
            Self::Snapshot(_, crons) => *table = crons.iter().map(|c| (c.name.clone(), c.clone())).collect(),
            Self::Cron(name, None) => {
                table.remove(name);
            }
            Self::Cron(name, Some(c)) => {
                table.insert(name.clone(), c.clone());
            }
            Self::Job(..) => {}
        }
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::Live;
    use crate::model::WsMessage;
    use leptos::prelude::*;
    use std::time::Duration;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    pub(super) fn start(live: Live) {
        // The uptime clock.
        if let Ok(handle) = set_interval_with_handle(move || live.now.set(chrono::Utc::now()), Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
        open(live, 0);
    }

    fn url() -> Option<String> {
        let doc = document();
        let base = doc
            .query_selector("meta[name=provisr-api-base]")
            .ok()
            .flatten()
            .and_then(|m| m.get_attribute("content"))
            .unwrap_or_else(|| "/api".to_string());
        let loc = window().location();
        let proto = if loc.protocol().ok()? == "https:" { "wss:" } else { "ws:" };
        Some(format!("{proto}//{}{base}/ws", loc.host().ok()?))
    }

    fn open(live: Live, attempt: u32) {
        let Some(url) = url() else { return };
        let Ok(ws) = WebSocket::new(&url) else {
            retry(live, attempt);
            return;
        };
        let onopen = Closure::<dyn FnMut()>::new(move || live.connected.set(true));
        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        onopen.forget();
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(text) = e.data().as_string() {
                match serde_json::from_str::<WsMessage>(&text) {
                    Ok(msg) => live.apply(msg),
                    Err(err) => leptos::logging::warn!("bad message on the live socket: {err}"),
                }
            }
        });
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        onmessage.forget();
        let opened_at = live.seq.get_untracked();
        let onclose = Closure::<dyn FnMut(CloseEvent)>::new(move |_e: CloseEvent| {
            live.connected.set(false);
            // A connection that delivered something resets the backoff.
            let next = if live.seq.get_untracked() > opened_at { 0 } else { attempt + 1 };
            retry(live, next);
        });
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        onclose.forget();
    }

    fn retry(live: Live, attempt: u32) {
        let delay = Duration::from_millis((250u64 << attempt.min(6)).min(10_000));
        set_timeout(move || open(live, attempt), delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, state: &str) -> ProcessInfo {
        ProcessInfo {
            name: name.into(),
            base: name.into(),
            state: state.into(),
            running: state == "running",
            pid: None,
            started_at: None,
            stopped_at: None,
            restarts: 0,
            desired: "running".into(),
            origin: "api".into(),
            provisioned: false,
            exit_code: None,
            exit_signal: None,
            reason: None,
            retry_at: None,
            cpu_percent: None,
            memory_bytes: None,
        }
    }

    fn ev(seq: u64, name: &str, kind: &str, process: Option<ProcessInfo>) -> WsMessage {
        WsMessage::Event {
            seq,
            at: Utc::now(),
            name: name.into(),
            kind: kind.into(),
            process: process.map(Box::new),
            detail: serde_json::Value::Null,
        }
    }

    #[test]
    fn snapshot_then_events_in_order() {
        let mut t = BTreeMap::new();
        let mut seq = 0;
        assert!(apply(
            &mut t,
            &mut seq,
            WsMessage::Snapshot { seq: 5, processes: vec![p("a", "running")], jobs: vec![], cronjobs: vec![] }
        ));
        assert!(!apply(&mut t, &mut seq, ev(5, "a", "exited", Some(p("a", "exited")))), "already reflected");
        assert_eq!(t["a"].state, "running");
        assert!(apply(&mut t, &mut seq, ev(6, "a", "exited", Some(p("a", "exited")))));
        assert_eq!(t["a"].state, "exited");
        assert!(apply(&mut t, &mut seq, ev(7, "b", "instance_added", Some(p("b", "stopped")))));
        assert!(apply(&mut t, &mut seq, ev(8, "a", "instance_removed", None)));
        assert_eq!(t.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(seq, 8);
    }

    #[test]
    fn job_and_cron_events_update_their_tables() {
        use serde_json::json;
        let job = |phase: &str| {
            json!({"name":"j","origin":{"source":"api"},"phase":phase,"active":0,"succeeded":0,"failed":0,
                "completed_indexes":"","start_time":null,"completion_time":null,"conditions":[]})
        };
        let cron = json!({"name":"c","suspended":true,"last_schedule_time":null,"last_successful_time":null,
            "next_schedule_time":null,"active":[],"from_config":false});
        let snap = WsMessage::Snapshot { seq: 1, processes: vec![], jobs: vec![job("Running")], cronjobs: vec![cron] };
        let (mut jobs, mut crons) = (BTreeMap::new(), BTreeMap::new());
        let mut apply_all = |msg: &WsMessage| {
            let c = JobsChange::of(msg).expect("a jobs change");
            c.apply_jobs(&mut jobs);
            c.apply_cronjobs(&mut crons);
        };
        apply_all(&snap);
        let event = |kind: &str, name: &str, detail: serde_json::Value| WsMessage::Event {
            seq: 2,
            at: Utc::now(),
            name: name.into(),
            kind: kind.into(),
            process: None,
            detail,
        };
        let finished = event("job", "j", json!({"change":{"type":"finished"},"job":job("Succeeded")}));
        let removed = event("cron", "c", json!({"change":{"type":"removed"},"cronjob":null}));
        assert_eq!(JobsChange::of(&event("exited", "p", json!({}))), None);
        apply_all(&finished);
        apply_all(&removed);
        assert_eq!(jobs["j"].phase, "Succeeded");
        assert!(crons.is_empty());
    }
}
