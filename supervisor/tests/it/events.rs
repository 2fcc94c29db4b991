//! The event stream: ordered, gap-free, the same on the broadcast and the sink, and
//! consistent with snapshots.

use crate::helpers::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use supervisor::{Event, EventKind, ProcessStatus, RegisterOptions, Selector, Snapshot};

/// A little of everything: instances, a crash loop, a stop, an unregister.
async fn scenario(sup: &mut TestSupervisor) {
    let mut web = sh("web", "sleep 300");
    web.instances = 2;
    sup.register(web).await;
    let mut crashy = sh("crashy", "sh -c 'exit 2'");
    crashy.auto_restart = true;
    crashy.restart_interval = Duration::from_millis(20);
    sup.register(crashy).await;
    sup.wait_for_event(|e| matches!(e.kind, EventKind::Started { attempt: 3, .. })).await;
    let ticket = sup.handle.stop(Selector::Name("crashy".into())).await.expect("stop");
    within("stop crashy", ticket.wait()).await;
    let ticket = sup.handle.stop(Selector::Name("web-1".into())).await.expect("stop");
    within("stop web-1", ticket.wait()).await;
    sup.handle
        .register(sh("idle", "sleep 300"), RegisterOptions { start: false, ..RegisterOptions::api() })
        .await
        .expect("idle");
    let ticket = sup.handle.unregister(Selector::Name("idle".into())).await.expect("unregister");
    within("unregister", ticket.wait()).await;
}

fn assert_gap_free(events: &[Arc<Event>]) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "event {i} of {events:#?}");
    }
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at), "timestamps in order");
}

#[tokio::test]
async fn sequence_numbers_are_gap_free_on_the_broadcast_and_the_sink() {
    let mut sup = spawn_supervisor();
    let late = sup.handle.subscribe();
    scenario(&mut sup).await;
    let snap = sup.handle.snapshot().await.expect("snapshot");

    let sunk = sup.drain_sink();
    assert_eq!(sunk.last().expect("events").seq, snap.seq, "the sink has every event up to the snapshot");
    assert_gap_free(&sunk);

    // The fixture's subscriber has consumed part of the stream; read the rest.
    let mut broadcast = sup.seen.clone();
    while broadcast.last().map(|e| e.seq) != Some(snap.seq) {
        sup.wait_for_event(|_| true).await;
        broadcast = sup.seen.clone();
    }
    assert_gap_free(&broadcast);
    assert_eq!(broadcast, sunk, "the broadcast and the sink carry the same events");

    // Another subscriber sees the same stream.
    let mut late = late;
    let mut other = Vec::new();
    while other.len() < sunk.len() {
        other.push(within("recv", late.recv()).await.expect("event"));
    }
    assert_eq!(other, sunk);

    // Spec-level events carry no status; instance events carry the instance's.
    for e in &sunk {
        match &e.kind {
            EventKind::Registered { spec, .. } => {
                assert!(e.status.is_none() && spec.name == e.name)
            }
            EventKind::Unregistered | EventKind::InstanceRemoved { .. } => {
                assert!(e.status.is_none())
            }
            _ => assert_eq!(e.status.as_ref().map(|s| s.name.as_str()), Some(e.name.as_str()), "{e:?}"),
        }
    }
    sup.shutdown().await;
}

/// Applies events to a map of statuses, as a WebSocket client would.
fn fold(mut state: BTreeMap<String, ProcessStatus>, e: &Event) -> BTreeMap<String, ProcessStatus> {
    match (&e.kind, &e.status) {
        (EventKind::InstanceRemoved { .. }, _) => {
            state.remove(&e.name);
        }
        (_, Some(status)) => {
            state.insert(e.name.clone(), status.clone());
        }
        _ => {}
    }
    state
}

#[tokio::test]
async fn a_snapshot_is_the_fold_of_the_events_before_it() {
    let mut sup = spawn_supervisor();
    let mut rx = sup.handle.subscribe();
    scenario(&mut sup).await;
    let snap: Snapshot = sup.handle.snapshot().await.expect("snapshot");

    let mut events = Vec::new();
    while events.last().map(|e: &Arc<Event>| e.seq) != Some(snap.seq) {
        events.push(within("recv", rx.recv()).await.expect("event"));
    }
    let folded = events.iter().fold(BTreeMap::new(), |s, e| fold(s, e));
    assert_eq!(folded.into_values().collect::<Vec<_>>(), snap.processes);
    let names: Vec<_> = snap.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["crashy", "web-1", "web-2"], "sorted by name");

    // A snapshot with no event since: same seq, and a later command's ack is above it.
    assert_eq!(sup.handle.snapshot().await.expect("snapshot").seq, snap.seq);
    let ack = sup.handle.start(Selector::Name("web-1".into())).await.expect("start");
    let next = within("recv", rx.recv()).await.expect("event");
    assert_eq!(next.seq, snap.seq + 1);
    assert_eq!(ack.seq, snap.seq + 2, "desired_changed then started");
    // A command that changes nothing acks the current seq.
    let ack = sup.handle.start(Selector::Name("web-2".into())).await.expect("start");
    assert_eq!(ack.seq, snap.seq + 2);
    sup.shutdown().await;
}

#[tokio::test]
async fn events_serialise_with_their_kind_and_status() {
    let mut sup = spawn_supervisor();
    sup.register(sh("json", "sh -c 'exit 5'")).await;
    let e = sup.wait_for_event(|e| matches!(e.kind, EventKind::Exited { .. })).await;
    let v = serde_json::to_value(&*e).expect("json");
    assert_eq!(v["kind"], "exited");
    assert_eq!(v["code"], 5);
    assert_eq!(v["decision"]["action"], "no_restart");
    assert_eq!(v["status"]["state"], "exited");
    let back: Event = serde_json::from_value(v).expect("round trip");
    assert_eq!(back, *e);
    sup.shutdown().await;
}
