//! The recorder: persists the supervisor's events — registrations, wishes and process
//! history — through the store, in order, in batched transactions.
//!
//! It reads the supervisor's durable sink (an unbounded channel that never drops an
//! event), so a burst of events is never lost; whatever arrived while a transaction was
//! running goes into the next one. After each commit it publishes the last persisted
//! sequence number, and an API handler that must not answer before its change is
//! durable awaits [`RecorderHandle::wait_persisted`] with the [`supervisor::Ack`]'s seq.
//! A failed transaction is retried (with backoff) with the same batch: history is never
//! silently skipped.
//!
//! Job and cronjob events (from the jobs controller, on the same bus) are mapped onto
//! `store::jobs` and `store::cronjobs` in the same transactions (see `recorder/jobs.rs`).

pub mod jobs;

use crate::entity::process_event;
use crate::error::StoreError;
use crate::store::{events, processes};
use sea_orm::{DatabaseConnection, TransactionTrait};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use supervisor::{Desired, Event, EventKind, Origin, ProcessSpec};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Lets callers wait until an event has been persisted.
#[derive(Clone, Debug)]
pub struct RecorderHandle {
    persisted: watch::Receiver<u64>,
}

/// The recorder stopped before reaching the sequence number.
#[derive(Debug, thiserror::Error)]
#[error("the recorder has stopped")]
pub struct RecorderStopped;

impl RecorderHandle {
    /// Returns once every event up to `seq` is committed.
    pub async fn wait_persisted(&self, seq: u64) -> Result<(), RecorderStopped> {
        let mut rx = self.persisted.clone();
        rx.wait_for(|&p| p >= seq).await.map(|_| ()).map_err(|_| RecorderStopped)
    }

    /// The last persisted sequence number.
    pub fn persisted(&self) -> u64 {
        *self.persisted.borrow()
    }
}

/// Starts the recorder on `events` (the supervisor's durable sink). It ends when the
/// channel closes (the supervisor has stopped) and everything in it is persisted.
pub fn spawn(
    db: DatabaseConnection,
    events: mpsc::UnboundedReceiver<Arc<Event>>,
    run_id: String,
) -> (RecorderHandle, JoinHandle<()>) {
    spawn_with(db, events, run_id, RecorderOptions::default())
}

/// What else the recorder needs to know.
#[derive(Clone, Debug, Default)]
pub struct RecorderOptions {
    /// Where the jobs controller writes attempt logs (`JobsConfig::log_dir`): the end of
    /// an attempt's output is kept with the attempt.
    pub job_log_dir: Option<PathBuf>,
}

/// [`spawn`] with options.
pub fn spawn_with(
    db: DatabaseConnection,
    mut events: mpsc::UnboundedReceiver<Arc<Event>>,
    run_id: String,
    options: RecorderOptions,
) -> (RecorderHandle, JoinHandle<()>) {
    let (tx, rx) = watch::channel(0u64);
    let task = tokio::spawn(async move {
        let mut batch: Vec<Arc<Event>> = Vec::new();
        while let Some(first) = events.recv().await {
            batch.push(first);
            while batch.len() < 4096 {
                match events.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            let last = batch.last().map_or(0, |e| e.seq);
            let excerpts = excerpts(options.job_log_dir.as_deref(), &batch);
            let mut delay = Duration::from_millis(50);
            loop {
                match persist(&db, &run_id, &batch, &excerpts).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::error!(error = %e, events = batch.len(), "could not persist events; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(5));
                    }
                }
            }
            batch.clear();
            let _ = tx.send(last);
        }
    });
    (RecorderHandle { persisted: rx }, task)
}

/// One store operation, in event order; consecutive instance upserts, wishes and removals
/// are merged (stopping or removing a thousand instances is one statement, not a thousand).
enum Op<'a> {
    UpsertProcess(&'a ProcessSpec, Origin),
    DeleteProcess(&'a str),
    UpsertInstances(Vec<(&'a str, &'a str, Desired)>),
    DeleteInstances(Vec<&'a str>),
    SetDesired(Vec<&'a str>, Desired),
    Job(&'a Event, &'a supervisor::jobs::JobEvent),
    Cron(&'a Event, &'a supervisor::cron::CronEvent),
}

/// The log excerpt of every attempt that ended in the batch, by sequence number.
fn excerpts(dir: Option<&std::path::Path>, batch: &[Arc<Event>]) -> std::collections::HashMap<u64, String> {
    let mut out = std::collections::HashMap::new();
    for e in batch {
        if let EventKind::Job(j) = &e.kind {
            if let supervisor::jobs::JobChange::AttemptEnded { attempt } = &j.change {
                if let Some(x) = jobs::excerpt(dir, &e.name, attempt) {
                    out.insert(e.seq, x);
                }
            }
        }
    }
    out
}

fn plan<'a>(batch: &'a [Arc<Event>], run_id: &str) -> (Vec<Op<'a>>, Vec<process_event::ActiveModel>) {
    let mut ops: Vec<Op<'a>> = Vec::new();
    let mut history = Vec::new();
    for e in batch {
        if events::is_history(&e.kind) {
            history.push(events::row(run_id, e));
        }
        let op = match &e.kind {
            EventKind::Registered { spec, origin } | EventKind::Updated { spec, origin } => {
                Op::UpsertProcess(spec, *origin)
            }
            EventKind::Unregistered => Op::DeleteProcess(&e.name),
            EventKind::InstanceAdded { base } => {
                let desired = e.status.as_ref().map_or(Desired::Stopped, |s| s.desired);
                if let Some(Op::UpsertInstances(v)) = ops.last_mut() {
                    v.push((&e.name, base, desired));
                    continue;
                }
                Op::UpsertInstances(vec![(&e.name, base, desired)])
            }
            EventKind::InstanceRemoved { .. } => {
                if let Some(Op::DeleteInstances(v)) = ops.last_mut() {
                    v.push(&e.name);
                    continue;
                }
                Op::DeleteInstances(vec![&e.name])
            }
            EventKind::DesiredChanged { desired } => {
                if let Some(Op::SetDesired(v, last)) = ops.last_mut() {
                    if last == desired {
                        v.push(&e.name);
                        continue;
                    }
                }
                Op::SetDesired(vec![&e.name], *desired)
            }
            EventKind::Job(j) => Op::Job(e, j),
            EventKind::Cron(c) => Op::Cron(e, c),
            _ => continue,
        };
        ops.push(op);
    }
    (ops, history)
}

async fn persist(
    db: &DatabaseConnection,
    run_id: &str,
    batch: &[Arc<Event>],
    excerpts: &std::collections::HashMap<u64, String>,
) -> Result<(), StoreError> {
    let (ops, history) = plan(batch, run_id);
    let txn = db.begin().await?;
    for op in ops {
        match op {
            Op::UpsertProcess(spec, origin) => processes::upsert(&txn, spec, origin).await?,
            Op::DeleteProcess(name) => processes::delete(&txn, name).await?,
            Op::UpsertInstances(list) => processes::set_instances(&txn, &list).await?,
            Op::DeleteInstances(names) => processes::delete_instances(&txn, &names).await?,
            Op::SetDesired(names, desired) => processes::set_desired(&txn, &names, desired).await?,
            Op::Job(e, j) => jobs::job_event(&txn, &e.name, e.at, j, &excerpts.get(&e.seq).cloned()).await?,
            Op::Cron(e, c) => jobs::cron_event(&txn, &e.name, e.at, c).await?,
        }
    }
    // Large batches are split so one statement stays within the backends' parameter limits.
    let mut history = history;
    while !history.is_empty() {
        let rest = history.split_off(history.len().min(500));
        events::insert_many(&txn, history).await?;
        history = rest;
    }
    txn.commit().await?;
    Ok(())
}
