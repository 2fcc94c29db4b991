//! The recorder: a real supervisor's events become registrations, wishes and history rows,
//! in order, readable once `wait_persisted(seq)` returns.

use crate::helpers::{on_both_backends, TestDb};
use backend::recorder::RecorderHandle;
use backend::store::events::{self, HistoryEntry};
use backend::store::processes;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use supervisor::{
    Desired, Event, EventKind, Origin, ProcessSpec, RegisterOptions, Selector, Supervisor, SupervisorConfig,
    SupervisorHandle,
};
use tempfile::TempDir;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

on_both_backends!(
    recorder_persists_registration_wishes_and_history,
    recorder_keeps_a_burst_in_order,
    recorder_persists_an_update_and_its_instances,
    restore_registers_dependencies_before_their_dependents
);

const TIMEOUT: Duration = Duration::from_secs(10);

struct Rig {
    sup: SupervisorHandle,
    sup_task: JoinHandle<()>,
    recorder: RecorderHandle,
    recorder_task: JoinHandle<()>,
    events: broadcast::Receiver<Arc<Event>>,
    _dir: TempDir,
}

fn start(t: &TestDb) -> Rig {
    let dir = tempfile::tempdir().expect("pid dir");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut config = SupervisorConfig::new(dir.path().join("run"));
    config.sink = Some(tx);
    let (sup, sup_task) = Supervisor::start(config);
    let events = sup.subscribe();
    let (recorder, recorder_task) = backend::recorder::spawn(t.db.clone(), rx, "test-run".into());
    Rig { sup, sup_task, recorder, recorder_task, events, _dir: dir }
}

impl Rig {
    /// The next event on the broadcast that satisfies `pred`.
    async fn next_event(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Arc<Event> {
        tokio::time::timeout(TIMEOUT, async {
            loop {
                let e = self.events.recv().await.expect("the event stream is open");
                if pred(&e) {
                    return e;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {what} event within {TIMEOUT:?}"))
    }

    async fn persisted(&self, seq: u64) {
        tokio::time::timeout(TIMEOUT, self.recorder.wait_persisted(seq))
            .await
            .unwrap_or_else(|_| panic!("seq {seq} not persisted within {TIMEOUT:?}"))
            .expect("the recorder is running");
        assert!(self.recorder.persisted() >= seq);
    }

    async fn stop(self) {
        self.sup.shutdown().await;
        tokio::time::timeout(TIMEOUT, self.sup_task).await.expect("supervisor ends").expect("supervisor task");
        drop(self.sup);
        // The sink closes with the supervisor: the recorder drains it and ends.
        tokio::time::timeout(TIMEOUT, self.recorder_task).await.expect("recorder ends").expect("recorder task");
    }
}

fn history_kinds(rows: &[HistoryEntry]) -> Vec<&str> {
    rows.iter().map(|r| r.kind.as_str()).collect()
}

/// Every history row, oldest first.
async fn history(t: &TestDb, name: Option<&str>) -> Vec<HistoryEntry> {
    let mut rows = events::list(&t.db, name, 10_000).await.expect("list history");
    rows.reverse();
    rows
}

async fn recorder_persists_registration_wishes_and_history(t: TestDb) {
    let mut rig = start(&t);
    let mut spec = ProcessSpec::new("short", "");
    spec.command = None;
    spec.args = vec!["sh".into(), "-c".into(), "exit 3".into()];
    let ack = rig.sup.register(spec.clone(), RegisterOptions::api()).await.expect("register");
    assert!(ack.failed.is_empty(), "{:?}", ack.failed);

    // Once wait_persisted returns, the registration is readable: no polling.
    rig.persisted(ack.seq).await;
    let (stored, bad) = processes::load_all(&t.db).await.expect("load_all");
    assert!(bad.is_empty());
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].spec, spec);
    assert_eq!(stored[0].origin, Origin::Api);
    assert_eq!(stored[0].instances, BTreeMap::from([("short".to_string(), Desired::Running)]));

    let started = rig.next_event("started", |e| matches!(e.kind, EventKind::Started { .. })).await;
    let EventKind::Started { pid, .. } = started.kind else { unreachable!() };
    let exited = rig.next_event("exited", |e| matches!(e.kind, EventKind::Exited { .. })).await;
    rig.persisted(exited.seq).await;

    let rows = history(&t, Some("short")).await;
    assert_eq!(history_kinds(&rows), ["registered", "started", "exited"]);
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id && w[0].at <= w[1].at));
    assert_eq!(rows[1].pid, Some(i64::from(pid)));
    assert_eq!(rows[2].pid, Some(i64::from(pid)));
    assert_eq!(rows[2].exit_code, Some(3), "the exit code is recorded");
    assert_eq!(rows[2].signal, None);
    assert_eq!(rows[2].detail["decision"]["action"], "no_restart", "the detail keeps the event: {}", rows[2].detail);
    assert!(rows[2].detail.get("status").is_none(), "the bulky status is not stored");

    // A stop changes the wish; it is persisted with the ticket's seq.
    let ticket = rig.sup.stop(Selector::Name("short".into())).await.expect("stop");
    rig.persisted(ticket.ack.seq).await;
    let (stored, _) = processes::load_all(&t.db).await.expect("load_all");
    assert_eq!(stored[0].instances, BTreeMap::from([("short".to_string(), Desired::Stopped)]));

    // Unregistering deletes the registration and records it.
    rig.sup.unregister(Selector::Base("short".into())).await.expect("unregister").wait().await;
    let unregistered = rig.next_event("unregistered", |e| matches!(e.kind, EventKind::Unregistered)).await;
    rig.persisted(unregistered.seq).await;
    let (stored, _) = processes::load_all(&t.db).await.expect("load_all");
    assert!(stored.is_empty(), "the registration is gone: {stored:?}");
    assert_eq!(history_kinds(&history(&t, Some("short")).await), ["registered", "started", "exited", "unregistered"]);

    rig.stop().await;
}

async fn recorder_keeps_a_burst_in_order(t: TestDb) {
    let mut rig = start(&t);
    let mut spec = ProcessSpec::new("burst", "true");
    spec.instances = 4;
    rig.sup.register(spec, RegisterOptions::api()).await.expect("register");

    // Collect what the broadcast shows until all four instances have exited.
    let mut seen: Vec<Arc<Event>> = Vec::new();
    let mut exits = 0;
    while exits < 4 {
        let e = rig.next_event("any", |_| true).await;
        if matches!(e.kind, EventKind::Exited { .. }) {
            exits += 1;
        }
        seen.push(e);
    }
    assert!(seen.windows(2).all(|w| w[1].seq == w[0].seq + 1), "the broadcast is gap-free");
    let last = seen.last().expect("events").seq;
    rig.persisted(last).await;

    let rows = history(&t, None).await;
    let expected: Vec<(i64, String, String)> = seen
        .iter()
        .filter(|e| events::is_history(&e.kind))
        .map(|e| (e.seq as i64, e.name.clone(), e.kind.name().to_string()))
        .collect();
    assert_eq!(expected.len(), 1 + 4 + 4, "registered, then 4 started and 4 exited");
    let got: Vec<(i64, String, String)> = {
        use backend::entity::process_event;
        use sea_orm::{EntityTrait, QueryOrder};
        process_event::Entity::find()
            .order_by_asc(process_event::Column::Id)
            .all(&t.db)
            .await
            .expect("rows")
            .into_iter()
            .map(|m| (m.seq, m.name, m.kind))
            .collect()
    };
    assert_eq!(got, expected, "every history event is stored once, in event order");
    assert_eq!(rows.len(), expected.len());

    let (stored, _) = processes::load_all(&t.db).await.expect("load_all");
    assert_eq!(stored[0].instances.len(), 4);
    assert!(stored[0].instances.values().all(|d| *d == Desired::Running), "exiting does not change the wish");

    let recorder = rig.recorder.clone();
    rig.stop().await;
    assert!(recorder.persisted() >= last, "the recorder drained the sink before ending");
}

async fn recorder_persists_an_update_and_its_instances(t: TestDb) {
    let mut rig = start(&t);
    let mut spec = ProcessSpec::new("grow", "sleep 300");
    spec.instances = 2;
    rig.sup.register(spec.clone(), RegisterOptions::api()).await.expect("register");
    spec.instances = 3;
    spec.auto_restart = true;
    let ack = rig.sup.update(spec.clone()).await.expect("update");
    assert_eq!(ack.names, ["grow-3"]);
    rig.persisted(ack.seq).await;
    let (stored, _) = processes::load_all(&t.db).await.expect("load_all");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].spec, spec, "the new spec replaces the old one");
    let wishes: Vec<(&str, Desired)> = stored[0].instances.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    assert_eq!(wishes, [("grow-1", Desired::Running), ("grow-2", Desired::Running), ("grow-3", Desired::Running)]);
    assert!(history_kinds(&history(&t, Some("grow")).await).contains(&"updated"));

    spec.instances = 1;
    let ack = rig.sup.update(spec.clone()).await.expect("shrink");
    let seq =
        rig.next_event("removal of grow-3", |e| e.name == "grow-3" && e.kind.name() == "instance_removed").await.seq;
    rig.persisted(ack.seq.max(seq)).await;
    let ticket = rig.sup.stop(Selector::All).await.expect("stop");
    let seq = ticket.wait().await;
    rig.persisted(seq).await;
    let (stored, _) = processes::load_all(&t.db).await.expect("load_all");
    assert!(stored[0].instances.contains_key("grow"), "{:?}", stored[0].instances);
    assert!(!stored[0].instances.contains_key("grow-3"), "{:?}", stored[0].instances);
    rig.stop().await;
}

async fn restore_registers_dependencies_before_their_dependents(t: TestDb) {
    let mut rig = start(&t);
    // The dependent has the lower priority: priority alone would register it first.
    let mut web = ProcessSpec::new("web", "sleep 300");
    web.priority = -5;
    web.depends_on = vec!["db".into()];
    let mut db = ProcessSpec::new("db", "sleep 300");
    db.priority = 5;
    let entries = vec![(web, Origin::Config), (db, Origin::Config)];
    backend::ops::processes::restore(&t.db, &rig.sup, &entries).await.expect("restore");
    let first = rig.next_event("a registration", |e| e.kind.name() == "registered").await;
    assert_eq!(first.name, "db");
    let web_started = rig.next_event("web started", |e| e.name == "web" && e.kind.name() == "started").await;
    let status = rig.sup.status(Selector::All).await.expect("status");
    assert!(status.iter().all(|p| p.running()), "{status:?}");
    rig.persisted(web_started.seq).await;
    rig.stop().await;
}
