//! The jobs controller task: owns every job, attempt, cronjob and their timers.
//!
//! Like the process actor it waits on three sources and handles one message at a time:
//! commands from [`JobsHandle`]s, attempt exits (a [`JoinSet`] of exit watches) and
//! timers (one [`DelayQueue`]). Jobs and cronjobs carry a `uid` unique across the task,
//! and every timer and exit names the uid (and slot) it was made for, so a message about
//! a job that was deleted and re-created under the same name is recognised and ignored.

use super::handle::{Command, CronOptions, JobsHandle, JobsSnapshot, RestoredJob};
use super::policy::{self, AfterExit, Counts, Progress};
use super::spec::JobSpec;
use super::status::{
    compress_indexes, Attempt, AttemptReason, ConditionType, FailReason, JobCondition, JobOrigin, JobPhase, JobStatus,
};
use super::{JobChange, JobEvent, JobView, RemoveReason};
use crate::cron::{
    ConcurrencyPolicy, CronChange, CronEvent, CronJobSpec, CronJobStatus, CronJobView, FireOutcome, Schedule,
};
use crate::error::{Error, Result};
use crate::event::{EventBus, EventKind};
use crate::hooks::{self, HookContext, HookMsg, HookPhase};
use crate::process::{self, Exit};
use crate::spec::ProcessSpec;
use chrono::{DateTime, Utc};
use nix::sys::signal::Signal;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::time::delay_queue::{DelayQueue, Key};

/// The longest delay a timer is armed for (the delay queue cannot hold more).
const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 3600);

/// How long a removed job's log directory is kept (the recorder reads the end of each
/// attempt's output for the history well before).
const LOG_GRACE: Duration = Duration::from_secs(60);

/// More missed schedule times than this raise [`CronChange::TooManyMissed`].
const MISSED_WARNING: u64 = 100;

/// How the jobs controller is set up.
#[derive(Clone, Debug, Default)]
pub struct JobsConfig {
    /// If set, each attempt's stdout and stderr are written to
    /// `<log_dir>/<job>/<job>[-<index>]-<attempt>.stdout.log` and `.stderr.log` (see
    /// [`super::attempt_log_path`]). A job's directory is emptied when a new job of the
    /// name is created, so it only ever holds the current job's attempts, and deleted a
    /// minute after the job left the live list (the history keeps the end of each
    /// attempt's output).
    pub log_dir: Option<PathBuf>,
    /// The global environment (as [`crate::SupervisorConfig::env`]): laid over the
    /// daemon's environment, under each job's `env`.
    pub env: Vec<(String, String)>,
}

/// The jobs controller: [`Jobs::start`] is its only entry point.
#[derive(Debug)]
pub struct Jobs;

impl Jobs {
    /// Spawns the jobs and cron controller on the current tokio runtime, publishing on
    /// `bus` (share the process supervisor's: [`crate::SupervisorHandle::bus`]). It runs
    /// until [`JobsHandle::shutdown`] or until every handle is dropped.
    pub fn start(bus: EventBus, config: JobsConfig) -> (JobsHandle, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (hook_tx, hook_rx) = mpsc::unbounded_channel();
        let controller = Controller {
            hook_tx,
            chains: 0,
            bus: bus.clone(),
            // Attempts name their own directory (`<log_dir>/<job>/`, see `attempt_spec`).
            logs: crate::logs::LogRegistry::new(crate::logs::LogConfig::default()),
            log_dir: config.log_dir,
            env: crate::env::base(std::env::vars(), &config.env),
            seq: 0,
            uid: 0,
            jobs: BTreeMap::new(),
            crons: BTreeMap::new(),
            timers: DelayQueue::new(),
            watchers: JoinSet::new(),
            shutdown: None,
        };
        let join = tokio::spawn(controller.run(rx, hook_rx));
        (JobsHandle { tx, bus }, join)
    }
}

/// One live job.
struct Job {
    uid: u64,
    spec: JobSpec,
    status: JobStatus,
    /// Attempts alive (running, being killed, waiting to restart in place), by slot id.
    slots: BTreeMap<u64, Slot>,
    progress: Progress,
    /// Counted failures of the job, and of each index.
    counted_failures: u32,
    index_failures: BTreeMap<u32, u32>,
    /// How many attempts each index (`None`: the job, `NonIndexed`) has had.
    attempt_counts: BTreeMap<Option<u32>, u32>,
    /// No new attempt before this (the retry delay after a failure, `NonIndexed`).
    not_before: Option<Instant>,
    /// Per index: no new attempt of it before this.
    index_not_before: BTreeMap<u32, Instant>,
    /// The outcome decided, while the remaining attempts are being killed.
    finishing: Option<std::result::Result<(), FailReason>>,
    attempts: Vec<Attempt>,
    deadline: Option<Key>,
    reconcile: Option<(Key, Instant)>,
    /// Delete callers, answered once the job is removed.
    deleting: Vec<oneshot::Sender<Result<u64>>>,
    remove_reason: Option<RemoveReason>,
    /// `post_stop` hook phases still running (the job finishes, or goes, once none is).
    post_stop: usize,
}

impl Job {
    fn finished(&self) -> bool {
        self.status.phase.is_finished()
    }

    /// Brings the derived status fields up to date.
    fn refresh(&mut self) {
        let s = &mut self.status;
        s.active = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        s.succeeded = self.progress.succeeded;
        s.completed_indexes = compress_indexes(&self.progress.completed);
        if self.spec.backoff_limit_per_index.is_some() {
            s.failed_indexes = Some(compress_indexes(&self.progress.failed_indexes));
        }
        self.progress.active = s.active;
        if !s.phase.is_finished() {
            s.phase = if self.spec.suspend {
                JobPhase::Suspended
            } else if self.attempts.is_empty() {
                JobPhase::Pending
            } else {
                JobPhase::Running
            };
        }
    }

    fn set_condition(&mut self, type_: ConditionType, status: bool, reason: &str, message: String) {
        let now = Utc::now();
        match self.status.conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(c) => {
                if c.status != status {
                    c.last_transition_time = now;
                }
                (c.status, c.reason, c.message) = (status, reason.to_string(), message);
            }
            None => self.status.conditions.push(JobCondition {
                type_,
                status,
                reason: reason.to_string(),
                message,
                last_transition_time: now,
            }),
        }
    }
}

/// One attempt alive.
struct Slot {
    index: Option<u32>,
    /// Position of its current attempt in `Job::attempts`.
    attempt: usize,
    pid: Option<u32>,
    state: SlotState,
    timer: Option<Key>,
    /// Set when the controller kills it: the attempt ends with this reason, uncounted.
    kill: Option<AttemptReason>,
    /// The blocking hook phase (`pre_start`, `pre_stop`) the slot waits for, by chain id.
    chain: Option<u64>,
    /// A `post_start` hook failed: the attempt is killed and ends as a counted failure
    /// with this message.
    hook_failure: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    /// Its `pre_start` hooks run; it is spawned once they succeeded.
    PreStart,
    Running,
    /// Its `pre_stop` hooks run; the stop signal follows.
    PreStop,
    /// The stop signal was sent; SIGKILL follows after the grace period.
    Killing,
    /// `OnFailure`: waiting for the retry delay to restart in place.
    Restarting,
}

/// One cronjob.
struct Cron {
    uid: u64,
    spec: CronJobSpec,
    schedule: Schedule,
    status: CronJobStatus,
    fire: Option<Key>,
    /// Its finished jobs still in the live list, oldest first, with their success.
    history: VecDeque<(String, bool)>,
}

#[derive(Debug)]
enum Timer {
    /// Start the attempts that are due (a retry delay has passed).
    Reconcile { job: String, uid: u64 },
    /// `active_deadline_seconds` has passed.
    Deadline { job: String, uid: u64 },
    /// `ttl_seconds_after_finished` has passed.
    Ttl { job: String, uid: u64 },
    /// A killed attempt's grace period has passed: SIGKILL.
    Kill { job: String, uid: u64, slot: u64 },
    /// `OnFailure`: restart the slot in place.
    Restart { job: String, uid: u64, slot: u64 },
    /// A removed job's logs have been kept long enough: delete them, unless a new job of
    /// the name exists (whose logs they are by now).
    PurgeLogs { job: String },
    /// A cronjob's schedule time.
    Fire { cron: String, uid: u64, scheduled: DateTime<Utc> },
}

/// A report of a hook phase run for an attempt (see [`hooks::run_phase`]).
#[derive(Debug)]
struct JobHookMsg {
    job: String,
    uid: u64,
    slot: u64,
    index: Option<u32>,
    attempt: u32,
    msg: HookMsg,
}

/// What an exit watch reports.
#[derive(Debug)]
struct SlotExit {
    job: String,
    uid: u64,
    slot: u64,
    exit: Exit,
}

struct Controller {
    bus: EventBus,
    /// Where hook phases report (the receiver is in [`Controller::run`]).
    hook_tx: mpsc::UnboundedSender<JobHookMsg>,
    /// The last hook chain id handed out.
    chains: u64,
    /// Captures each attempt's output (a ring, and the files of [`super::attempt_log_path`]).
    logs: std::sync::Arc<crate::logs::LogRegistry>,
    /// Where each job's attempt logs go (`<log_dir>/<job>/`).
    log_dir: Option<PathBuf>,
    /// The daemon's environment with the global one laid over it.
    env: crate::env::EnvMap,
    /// The sequence number of the last event this controller published.
    seq: u64,
    /// The last uid handed out (jobs, cronjobs and slots share it).
    uid: u64,
    jobs: BTreeMap<String, Job>,
    crons: BTreeMap<String, Cron>,
    timers: DelayQueue<Timer>,
    watchers: JoinSet<SlotExit>,
    shutdown: Option<Vec<oneshot::Sender<()>>>,
}

impl Controller {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut hook_rx: mpsc::UnboundedReceiver<JobHookMsg>,
    ) {
        let mut handles_gone = false;
        loop {
            tokio::select! {
                biased;
                Some(joined) = self.watchers.join_next(), if !self.watchers.is_empty() => match joined {
                    Ok(exited) => self.on_exit(exited),
                    Err(e) => tracing::error!("a job exit watcher failed: {e}"),
                },
                Some(expired) = std::future::poll_fn(|cx| self.timers.poll_expired(cx)), if !self.timers.is_empty() => {
                    self.on_timer(expired.into_inner());
                }
                Some(msg) = hook_rx.recv() => self.on_hook(msg),
                command = commands.recv(), if !handles_gone => match command {
                    Some(command) => self.on_command(command),
                    None => handles_gone = true,
                },
                else => break,
            }
            if self.shutdown_complete() || (handles_gone && self.shutdown.is_none()) {
                break;
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::CreateJob { spec, origin, reply } => {
                let _ = reply.send(self.refuse_during_shutdown().and_then(|()| self.create_job(*spec, origin)));
            }
            Command::RestoreJob { job, reply } => {
                let _ = reply.send(self.refuse_during_shutdown().and_then(|()| self.restore_job(*job)));
            }
            Command::GetJob { name, reply } => {
                let _ = reply.send(self.job(&name).map(|j| JobView {
                    spec: j.spec.clone(),
                    status: j.status.clone(),
                    attempts: j.attempts.clone(),
                }));
            }
            Command::ListJobs { reply } => {
                let _ = reply.send(self.jobs.values().map(|j| j.status.clone()).collect());
            }
            Command::DeleteJob { name, reply } => self.delete_job(&name, reply),
            Command::SuspendJob { name, reply } => {
                let _ = reply.send(self.suspend_job(&name));
            }
            Command::ResumeJob { name, reply } => {
                let _ = reply.send(self.refuse_during_shutdown().and_then(|()| self.resume_job(&name)));
            }
            Command::AddCron { spec, opts, reply } => {
                let _ = reply.send(self.refuse_during_shutdown().and_then(|()| self.add_cron(*spec, opts)));
            }
            Command::GetCron { name, reply } => {
                let _ = reply.send(self.cron(&name).map(|c| CronJobView {
                    spec: c.spec.clone(),
                    status: c.status.clone(),
                    jobs: self.jobs.values().filter(|j| owned_by(j, &name)).map(|j| j.status.clone()).collect(),
                }));
            }
            Command::ListCron { reply } => {
                let _ = reply.send(self.crons.values().map(|c| c.status.clone()).collect());
            }
            Command::DeleteCron { name, reply } => {
                let _ = reply.send(self.delete_cron(&name));
            }
            Command::SuspendCron { name, reply } => {
                let _ = reply.send(self.suspend_cron(&name));
            }
            Command::ResumeCron { name, reply } => {
                let _ = reply.send(self.refuse_during_shutdown().and_then(|()| self.resume_cron(&name)));
            }
            Command::Trigger { name, reply } => {
                let result = self.refuse_during_shutdown().and_then(|()| {
                    self.cron(&name)?;
                    match self.fire(&name, Utc::now(), true) {
                        FireOutcome::Created { job, .. } => Ok(job),
                        FireOutcome::Skipped { reason } => {
                            Err(Error::InvalidSpec(vec![("job_template".into(), reason)]))
                        }
                    }
                });
                let _ = reply.send(result);
            }
            Command::NextFireTimes { name, n, reply } => {
                let _ = reply.send(self.cron(&name).map(|c| next_fire_times(c, n)));
            }
            Command::Snapshot { reply } => {
                let _ = reply.send(JobsSnapshot {
                    seq: self.seq,
                    jobs: self.jobs.values().map(|j| j.status.clone()).collect(),
                    cronjobs: self.crons.values().map(|c| c.status.clone()).collect(),
                });
            }
            Command::Shutdown { reply } => self.begin_shutdown(reply),
        }
    }

    // ----- jobs: commands -----

    fn create_job(&mut self, spec: JobSpec, origin: JobOrigin) -> Result<JobStatus> {
        let mut problems = spec.validate();
        if !problems.iter().any(|(key, _)| matches!(*key, "command" | "args")) {
            let attempt = attempt_spec(&spec, &spec.name, None);
            if let Err(e) = process::check_program(&attempt, &crate::env::apply_map(&self.env, &attempt.env.0)) {
                problems.push(("command", e));
            }
        }
        if !problems.is_empty() {
            return Err(Error::InvalidSpec(problems.into_iter().map(|(k, m)| (k.to_string(), m)).collect()));
        }
        if self.jobs.contains_key(&spec.name) {
            return Err(Error::AlreadyExists(spec.name));
        }
        let name = spec.name.clone();
        if let Some(dir) = &self.log_dir {
            // A job of this name that was removed may have left its attempts' logs (their
            // ends are in the history): start afresh rather than append to them.
            remove_logs(&dir.join(&name));
        }
        let mut job = Job {
            uid: self.next_uid(),
            status: JobStatus {
                name: name.clone(),
                origin,
                phase: JobPhase::Pending,
                active: 0,
                succeeded: 0,
                failed: 0,
                completed_indexes: String::new(),
                failed_indexes: None,
                start_time: None,
                completion_time: None,
                conditions: Vec::new(),
            },
            spec,
            slots: BTreeMap::new(),
            progress: Progress::default(),
            counted_failures: 0,
            index_failures: BTreeMap::new(),
            attempt_counts: BTreeMap::new(),
            not_before: None,
            index_not_before: BTreeMap::new(),
            finishing: None,
            attempts: Vec::new(),
            deadline: None,
            reconcile: None,
            deleting: Vec::new(),
            remove_reason: None,
            post_stop: 0,
        };
        if job.spec.suspend {
            job.set_condition(ConditionType::Suspended, true, "JobSuspended", "created suspended".into());
        }
        let spec = job.spec.clone();
        self.jobs.insert(name.clone(), job);
        self.emit_job(&name, JobChange::Created { spec });
        if !self.job_mut(&name).spec.suspend {
            self.begin_running(&name);
        }
        Ok(self.job_mut(&name).status.clone())
    }

    fn restore_job(&mut self, restored: RestoredJob) -> Result<JobStatus> {
        let RestoredJob { mut spec, status, attempts } = restored;
        let phase = status.phase;
        if !matches!(phase, JobPhase::Succeeded | JobPhase::Failed | JobPhase::Suspended) {
            return Err(Error::InvalidSpec(vec![(
                "phase".into(),
                format!("only a finished or suspended job can be restored, not a {phase:?} one"),
            )]));
        }
        if status.name != spec.name {
            return Err(Error::InvalidSpec(vec![("name".into(), "the status is of another job".into())]));
        }
        if self.jobs.contains_key(&spec.name) {
            return Err(Error::AlreadyExists(spec.name));
        }
        spec.suspend = phase == JobPhase::Suspended;
        let parse = |s: &str| super::status::parse_indexes(s).unwrap_or_default();
        let progress = Progress {
            succeeded: status.succeeded,
            completed: parse(&status.completed_indexes),
            failed_indexes: status.failed_indexes.as_deref().map(parse).unwrap_or_default(),
            active: 0,
        };
        let mut attempt_counts: BTreeMap<Option<u32>, u32> = BTreeMap::new();
        let mut index_failures: BTreeMap<u32, u32> = BTreeMap::new();
        for a in &attempts {
            let n = attempt_counts.entry(a.index).or_insert(0);
            *n = (*n).max(a.attempt + 1);
            let counted = matches!(
                a.reason,
                Some(
                    AttemptReason::Failed
                        | AttemptReason::SpawnFailed
                        | AttemptReason::HookFailed
                        | AttemptReason::IndexFailed
                        | AttemptReason::FailedJob
                )
            );
            if let (true, Some(i)) = (counted, a.index) {
                *index_failures.entry(i).or_insert(0) += 1;
            }
        }
        let name = spec.name.clone();
        let (ttl, completion) = (spec.ttl_seconds_after_finished, status.completion_time);
        let cron = match &status.origin {
            JobOrigin::CronJob { cronjob, .. } => Some(cronjob.clone()),
            _ => None,
        };
        let job = Job {
            uid: self.next_uid(),
            counted_failures: status.failed,
            status,
            spec,
            slots: BTreeMap::new(),
            progress,
            index_failures,
            attempt_counts,
            not_before: None,
            index_not_before: BTreeMap::new(),
            finishing: None,
            attempts,
            deadline: None,
            reconcile: None,
            deleting: Vec::new(),
            remove_reason: None,
            post_stop: 0,
        };
        let uid = job.uid;
        self.jobs.insert(name.clone(), job);
        if phase.is_finished() {
            if let Some(secs) = ttl {
                let due = completion.map(|t| t + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX)));
                let delay = due.map_or(Duration::ZERO, |due| (due - Utc::now()).to_std().unwrap_or_default());
                self.timers.insert(Timer::Ttl { job: name.clone(), uid }, delay.min(MAX_DELAY));
            }
        }
        if let Some(cron) = cron.and_then(|c| self.crons.get_mut(&c)) {
            if phase.is_finished() {
                cron.history.push_back((name.clone(), phase == JobPhase::Succeeded));
            } else if !cron.status.active.contains(&name) {
                cron.status.active.push(name.clone());
            }
        }
        Ok(self.job_mut(&name).status.clone())
    }

    fn delete_job(&mut self, name: &str, reply: oneshot::Sender<Result<u64>>) {
        if !self.jobs.contains_key(name) {
            let _ = reply.send(Err(Error::NotFound(name.to_string())));
            return;
        }
        self.job_mut(name).deleting.push(reply);
        self.remove_when_stopped(name, RemoveReason::Deleted);
    }

    /// Kills every attempt of a job and removes it once none is left.
    fn remove_when_stopped(&mut self, name: &str, reason: RemoveReason) {
        let job = self.job_mut(name);
        job.remove_reason.get_or_insert(reason);
        self.cancel_job_timers(name);
        self.kill_all(name, AttemptReason::Deleted);
        self.after_slot_change(name);
    }

    fn suspend_job(&mut self, name: &str) -> Result<JobStatus> {
        let job = self.jobs.get_mut(name).ok_or_else(|| Error::NotFound(name.to_string()))?;
        if job.finished() || job.spec.suspend || job.finishing.is_some() || job.remove_reason.is_some() {
            return Ok(job.status.clone());
        }
        job.spec.suspend = true;
        job.set_condition(ConditionType::Suspended, true, "JobSuspended", "suspended".into());
        self.cancel_job_timers(name);
        self.emit_job(name, JobChange::Suspended);
        self.kill_all(name, AttemptReason::Suspended);
        self.after_slot_change(name);
        Ok(self.job_mut(name).status.clone())
    }

    fn resume_job(&mut self, name: &str) -> Result<JobStatus> {
        let job = self.jobs.get_mut(name).ok_or_else(|| Error::NotFound(name.to_string()))?;
        if !job.spec.suspend || job.finished() {
            return Ok(job.status.clone());
        }
        job.spec.suspend = false;
        job.set_condition(ConditionType::Suspended, false, "JobResumed", "resumed".into());
        self.emit_job(name, JobChange::Resumed);
        self.begin_running(name);
        Ok(self.job_mut(name).status.clone())
    }

    // ----- jobs: running -----

    /// Starts (or resumes) a job: start time now, the active deadline armed, attempts started.
    fn begin_running(&mut self, name: &str) {
        let uid = self.job_mut(name).uid;
        let deadline = self.job_mut(name).spec.active_deadline_seconds;
        self.job_mut(name).status.start_time = Some(Utc::now());
        if let Some(secs) = deadline {
            let key = self.timers.insert(Timer::Deadline { job: name.to_string(), uid }, secs_delay(secs));
            self.job_mut(name).deadline = Some(key);
        }
        self.reconcile(name);
    }

    /// Starts the attempts that are due, and arms a timer for the next retry delay.
    fn reconcile(&mut self, name: &str) {
        let now = Instant::now();
        let Some(job) = self.jobs.get_mut(name) else {
            return;
        };
        if job.finished() || job.finishing.is_some() || job.remove_reason.is_some() || job.spec.suspend {
            return;
        }
        if self.shutdown.is_some() {
            return;
        }
        job.refresh();
        if let Some(t) = job.not_before.filter(|t| *t > now) {
            self.arm_reconcile(name, t);
            return;
        }
        job.not_before = None;
        job.index_not_before.retain(|_, t| *t > now);
        let waiting: BTreeSet<u32> = job.index_not_before.keys().copied().collect();
        let busy: BTreeSet<u32> = job.slots.values().filter_map(|s| s.index).collect();
        let starts = policy::to_start(job.spec.work(), job.spec.parallelism, &job.progress, &busy, &waiting);
        let next_retry = job.index_not_before.values().min().copied();
        for index in starts {
            let slot = self.next_uid();
            self.spawn_attempt(name, slot, index);
            // A failed spawn may have ended the job or set a retry delay.
            let Some(job) = self.jobs.get(name) else { return };
            if job.finishing.is_some() || job.finished() || job.not_before.is_some() {
                break;
            }
        }
        if let Some(t) = next_retry {
            self.arm_reconcile(name, t);
        }
    }

    fn arm_reconcile(&mut self, name: &str, at: Instant) {
        let job = self.jobs.get_mut(name).expect("arm_reconcile: the job exists");
        if let Some((key, when)) = job.reconcile {
            if when <= at {
                return;
            }
            self.timers.try_remove(&key);
        }
        let key = self.timers.insert_at(Timer::Reconcile { job: name.to_string(), uid: job.uid }, at);
        job.reconcile = Some((key, at));
    }

    /// Starts an attempt in `slot` (a new slot, or one restarting in place): its
    /// `pre_start` hooks first, if any (the spawn follows when they are done), else the spawn.
    fn spawn_attempt(&mut self, name: &str, slot_id: u64, index: Option<u32>) {
        let job = self.jobs.get_mut(name).expect("spawn_attempt: the job exists");
        let count = job.attempt_counts.entry(index).or_insert(0);
        let attempt_no = *count;
        *count += 1;
        job.attempts.push(Attempt {
            index,
            attempt: attempt_no,
            pid: None,
            started_at: Utc::now(),
            finished_at: None,
            exit_code: None,
            signal: None,
            reason: None,
            message: None,
        });
        let position = job.attempts.len() - 1;
        let pre_start = !job.spec.lifecycle.pre_start.is_empty();
        let state = if pre_start { SlotState::PreStart } else { SlotState::Running };
        let slot = job.slots.entry(slot_id).or_insert(Slot {
            index,
            attempt: position,
            pid: None,
            state,
            timer: None,
            kill: None,
            chain: None,
            hook_failure: None,
        });
        (slot.attempt, slot.pid, slot.state, slot.chain, slot.hook_failure) = (position, None, state, None, None);
        if pre_start {
            let chain = self.run_hooks(name, slot_id, index, attempt_no, HookPhase::PreStart);
            self.job_mut(name).slots.get_mut(&slot_id).expect("the slot exists").chain = Some(chain);
        } else {
            self.launch(name, slot_id);
        }
    }

    /// Spawns the process of the slot's attempt; then its `post_start` hooks, if any.
    fn launch(&mut self, name: &str, slot_id: u64) {
        let log_dir = self.log_dir.as_ref().map(|d| d.join(name));
        let job = self.jobs.get_mut(name).expect("launch: the job exists");
        let slot = job.slots.get_mut(&slot_id).expect("launch: the slot exists");
        let (index, position) = (slot.index, slot.attempt);
        let attempt_no = job.attempts[position].attempt;
        let instance = attempt_instance(name, index, attempt_no);
        let mut attempt = attempt_spec(&job.spec, &instance, index);
        attempt.log = log_dir.map(|dir| Box::new(crate::logs::LogSpec { dir: Some(dir), ..Default::default() }));
        let env = crate::env::apply_map(&self.env, &attempt.env.0);
        let spawned = process::spawn(&attempt, &instance, Some(&env), &self.logs);
        let pid = spawned.as_ref().ok().map(|s| s.pid);
        (slot.pid, slot.state) = (pid, SlotState::Running);
        let record = &mut job.attempts[position];
        (record.pid, record.started_at) = (pid, Utc::now());
        match spawned {
            Ok(spawned) => {
                let (job_name, uid) = (name.to_string(), job.uid);
                let post_start = !job.spec.lifecycle.post_start.is_empty();
                self.watchers.spawn(async move {
                    let exit = spawned.watch.wait().await;
                    SlotExit { job: job_name, uid, slot: slot_id, exit }
                });
                let attempt = self.job_mut(name).attempts[position].clone();
                self.emit_job(name, JobChange::AttemptStarted { attempt });
                if post_start {
                    self.run_hooks(name, slot_id, index, attempt_no, HookPhase::PostStart);
                }
            }
            Err(error) => {
                tracing::warn!(job = name, "spawning an attempt: {error}");
                self.end_attempt(name, slot_id, Exit::default(), Some(error));
            }
        }
    }

    /// Starts the hooks of `phase` for an attempt as a task reporting to
    /// [`Self::on_hook`]; returns the chain id its `PhaseDone` will carry.
    fn run_hooks(&mut self, name: &str, slot: u64, index: Option<u32>, attempt: u32, phase: HookPhase) -> u64 {
        let job = self.jobs.get(name).expect("run_hooks: the job exists");
        let instance = attempt_instance(name, index, attempt);
        let spec = attempt_spec(&job.spec, &instance, index);
        let hooks = job.spec.lifecycle.phase(phase).to_vec();
        let ctx = Arc::new(HookContext {
            process_name: instance,
            env: crate::env::apply_map(&self.env, &spec.env.0),
            work_dir: spec.work_dir.clone(),
        });
        let uid = job.uid;
        self.chains += 1;
        let chain = self.chains;
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(hooks::run_phase(hooks, phase, ctx, chain, tx));
        let (out, job) = (self.hook_tx.clone(), name.to_string());
        // Ends when the phase and its async hooks are done (every sender is gone).
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                let report = JobHookMsg { job: job.clone(), uid, slot, index, attempt, msg };
                if out.send(report).is_err() {
                    break;
                }
            }
        });
        chain
    }

    fn on_hook(&mut self, report: JobHookMsg) {
        let JobHookMsg { job: name, uid, slot: slot_id, index, attempt, msg } = report;
        if self.jobs.get(&name).is_none_or(|j| j.uid != uid) {
            return;
        }
        let (chain, phase, failure) = match msg {
            HookMsg::Started { phase, hook, run_mode, .. } => {
                self.emit_job(&name, JobChange::HookStarted { index, attempt, phase, hook, run_mode });
                return;
            }
            HookMsg::Finished { phase, hook, run_mode, outcome, .. } => {
                if !outcome.succeeded() {
                    tracing::warn!(job = name, attempt, hook, %phase, "hook {}", outcome.result);
                }
                let change = JobChange::HookFinished {
                    index,
                    attempt,
                    phase,
                    hook,
                    run_mode,
                    result: outcome.result,
                    duration: outcome.duration,
                    attempts: outcome.attempts,
                    output: outcome.output,
                };
                self.emit_job(&name, change);
                return;
            }
            HookMsg::PhaseDone { chain, phase, failure, .. } => (chain, phase, failure),
        };
        let job = self.job_mut(&name);
        if phase == HookPhase::PostStop {
            job.post_stop = job.post_stop.saturating_sub(1);
            self.after_slot_change(&name);
            return;
        }
        let current = job.slots.get(&slot_id).filter(|s| job.attempts[s.attempt].attempt == attempt);
        let Some(slot) = current.map(|s| (s.state, s.chain)) else { return };
        match (phase, slot) {
            (HookPhase::PreStart, (SlotState::PreStart, Some(c))) if c == chain => {
                let slot = self.job_mut(&name).slots.get_mut(&slot_id).expect("checked");
                slot.chain = None;
                match failure {
                    Some(why) => {
                        slot.hook_failure = Some(why);
                        self.end_attempt(&name, slot_id, Exit::default(), None);
                    }
                    None => self.launch(&name, slot_id),
                }
            }
            (HookPhase::PostStart, (SlotState::Running, _)) => {
                let slot = self.job_mut(&name).slots.get_mut(&slot_id).expect("checked");
                if let (Some(why), None) = (failure, slot.kill) {
                    slot.hook_failure = Some(why);
                    self.kill_slot(&name, slot_id, AttemptReason::HookFailed);
                }
            }
            (HookPhase::PreStop, (SlotState::PreStop, Some(c))) if c == chain => {
                self.job_mut(&name).slots.get_mut(&slot_id).expect("checked").chain = None;
                self.signal_slot(&name, slot_id);
            }
            _ => {}
        }
    }

    fn on_exit(&mut self, exited: SlotExit) {
        let SlotExit { job, uid, slot, exit } = exited;
        let known = self.jobs.get(&job).is_some_and(|j| j.uid == uid && j.slots.contains_key(&slot));
        if known {
            self.end_attempt(&job, slot, exit, None);
        }
    }

    /// Records how an attempt ended and applies what follows (see [`policy::after_exit`]).
    fn end_attempt(&mut self, name: &str, slot_id: u64, exit: Exit, spawn_error: Option<String>) {
        let job = self.jobs.get_mut(name).expect("end_attempt: the job exists");
        let slot = job.slots.get_mut(&slot_id).expect("end_attempt: the slot exists");
        if let Some(key) = slot.timer.take() {
            self.timers.try_remove(&key);
        }
        let (index, position, kill) = (slot.index, slot.attempt, slot.kill);
        let hook_failure = slot.hook_failure.take();
        let spawn_failed = spawn_error.is_some();
        let hook_failed = hook_failure.is_some();
        let spawned = job.attempts[position].pid.is_some();
        {
            let attempt = &mut job.attempts[position];
            attempt.finished_at = Some(Utc::now());
            attempt.exit_code = exit.code;
            attempt.signal = exit.signal;
            attempt.message = spawn_error.or(hook_failure);
        }
        if spawned && !job.spec.lifecycle.post_stop.is_empty() {
            job.post_stop += 1;
            let attempt_no = job.attempts[position].attempt;
            self.run_hooks(name, slot_id, index, attempt_no, HookPhase::PostStop);
        }
        let job = self.jobs.get_mut(name).expect("end_attempt: the job exists");
        if let Some(reason) = kill {
            job.slots.remove(&slot_id);
            job.attempts[position].reason = Some(reason);
            let attempt = job.attempts[position].clone();
            self.emit_job(name, JobChange::AttemptEnded { attempt });
            self.after_slot_change(name);
            return;
        }
        let counts = Counts {
            failed: job.counted_failures,
            index_failures: index.and_then(|i| job.index_failures.get(&i).copied()).unwrap_or(0),
            failed_indexes: u32::try_from(job.progress.failed_indexes.len()).unwrap_or(u32::MAX),
        };
        // A hook failure is decided like a spawn failure: no exit code, counted.
        let decision = if hook_failed {
            policy::after_exit(&job.spec, None, None, counts)
        } else {
            policy::after_exit(&job.spec, exit.code, exit.signal, counts)
        };
        let count_failure = |job: &mut Job| {
            job.counted_failures += 1;
            job.status.failed += 1;
            if let Some(i) = index {
                *job.index_failures.entry(i).or_insert(0) += 1;
            }
        };
        let mut fail_job = None;
        let reason = match decision {
            AfterExit::Succeeded => {
                job.progress.succeeded += 1;
                if let Some(i) = index {
                    job.progress.completed.insert(i);
                }
                job.slots.remove(&slot_id);
                AttemptReason::Succeeded
            }
            AfterExit::Retry { after, counted } => {
                if counted {
                    count_failure(job);
                }
                job.attempts[position].message.get_or_insert_with(String::new);
                let note = format!("retry in {}", crate::duration::format(after));
                let message = job.attempts[position].message.as_mut().expect("set above");
                *message = if message.is_empty() { note } else { format!("{message}; {note}") };
                if policy::restarts_in_place(&job.spec) {
                    let key = self.timers.insert(
                        Timer::Restart { job: name.to_string(), uid: job.uid, slot: slot_id },
                        after.min(MAX_DELAY),
                    );
                    let slot = job.slots.get_mut(&slot_id).expect("the slot exists");
                    (slot.state, slot.timer, slot.pid) = (SlotState::Restarting, Some(key), None);
                } else {
                    job.slots.remove(&slot_id);
                    let at = Instant::now() + after.min(MAX_DELAY);
                    match index {
                        Some(i) => {
                            job.index_not_before.insert(i, at);
                        }
                        None => job.not_before = Some(at),
                    }
                }
                match (spawn_failed, hook_failed, counted) {
                    (true, _, _) => AttemptReason::SpawnFailed,
                    (false, true, _) => AttemptReason::HookFailed,
                    (false, false, true) => AttemptReason::Failed,
                    (false, false, false) => AttemptReason::Ignored,
                }
            }
            AfterExit::IndexFailed => {
                count_failure(job);
                if let Some(i) = index {
                    job.progress.failed_indexes.insert(i);
                }
                job.slots.remove(&slot_id);
                AttemptReason::IndexFailed
            }
            AfterExit::FailJob(why) => {
                count_failure(job);
                job.slots.remove(&slot_id);
                fail_job = Some(why);
                if why == FailReason::PodFailurePolicy {
                    AttemptReason::FailedJob
                } else if hook_failed {
                    AttemptReason::HookFailed
                } else {
                    AttemptReason::Failed
                }
            }
        };
        if let (Some(FailReason::FailedIndexes), Some(i)) = (fail_job, index) {
            job.progress.failed_indexes.insert(i);
        }
        job.attempts[position].reason = Some(reason);
        let attempt = job.attempts[position].clone();
        self.emit_job(name, JobChange::AttemptEnded { attempt });
        if let Some(why) = fail_job {
            self.begin_finish(name, Err(why));
            return;
        }
        let job = self.job_mut(name);
        job.refresh();
        if let Some(outcome) = policy::finished(job.spec.work(), &job.progress) {
            self.begin_finish(name, outcome);
        } else {
            self.reconcile(name);
        }
    }

    /// Decides the job's outcome: the remaining attempts are killed, and the job
    /// finishes once none is left.
    fn begin_finish(&mut self, name: &str, outcome: std::result::Result<(), FailReason>) {
        let job = self.job_mut(name);
        if job.finishing.is_some() || job.finished() {
            return;
        }
        job.finishing = Some(outcome);
        self.cancel_job_timers(name);
        let reason = match outcome {
            Err(FailReason::DeadlineExceeded) => AttemptReason::DeadlineExceeded,
            _ => AttemptReason::JobFailed,
        };
        self.kill_all(name, reason);
        self.after_slot_change(name);
    }

    /// Kills every attempt of a job: the running ones get the stop signal (SIGKILL after
    /// the grace period), the ones waiting to restart are dropped.
    fn kill_all(&mut self, name: &str, reason: AttemptReason) {
        let job = self.job_mut(name);
        let ids: Vec<u64> = job.slots.keys().copied().collect();
        for id in ids {
            self.kill_slot(name, id, reason);
        }
    }

    /// Kills one attempt: a running one gets its `pre_stop` hooks (if any), then the
    /// stop signal; one still in its `pre_start` hooks ends at once (unspawned; the hooks
    /// run on, the spawn does not follow). `reason` is the attempt's end reason, except
    /// `HookFailed` (a failed `post_start` hook), which ends as a counted failure.
    fn kill_slot(&mut self, name: &str, slot_id: u64, reason: AttemptReason) {
        let job = self.jobs.get_mut(name).expect("kill_slot: the job exists");
        let pre_stop = !job.spec.lifecycle.pre_stop.is_empty();
        let slot = job.slots.get_mut(&slot_id).expect("kill_slot: the slot exists");
        if reason != AttemptReason::HookFailed {
            slot.kill.get_or_insert(reason);
        }
        match (slot.state, slot.pid) {
            (SlotState::Running, Some(_)) if pre_stop => {
                slot.state = SlotState::PreStop;
                let (index, attempt) = (slot.index, job.attempts[slot.attempt].attempt);
                let chain = self.run_hooks(name, slot_id, index, attempt, HookPhase::PreStop);
                self.job_mut(name).slots.get_mut(&slot_id).expect("the slot exists").chain = Some(chain);
            }
            (SlotState::Running, Some(_)) => self.signal_slot(name, slot_id),
            (SlotState::PreStart, _) => {
                let slot = job.slots.remove(&slot_id).expect("the slot exists");
                let attempt = &mut job.attempts[slot.attempt];
                (attempt.finished_at, attempt.reason) = (Some(Utc::now()), slot.kill);
                let attempt = attempt.clone();
                self.emit_job(name, JobChange::AttemptEnded { attempt });
            }
            (SlotState::Restarting, _) => {
                if let Some(key) = slot.timer.take() {
                    self.timers.try_remove(&key);
                }
                job.slots.remove(&slot_id);
            }
            _ => {}
        }
    }

    /// Sends a running attempt the stop signal and arms the SIGKILL after the grace period.
    fn signal_slot(&mut self, name: &str, slot_id: u64) {
        let job = self.jobs.get_mut(name).expect("signal_slot: the job exists");
        let (signal, grace, uid) = (job.spec.stop_signal.0, job.spec.stop_timeout, job.uid);
        let Some(slot) = job.slots.get_mut(&slot_id) else { return };
        let Some(pid) = slot.pid else { return };
        if let Err(e) = process::signal_group(pid, signal) {
            tracing::warn!(job = name, pid, "sending {signal}: {e}");
        }
        let key = self.timers.insert(Timer::Kill { job: name.to_string(), uid, slot: slot_id }, grace.min(MAX_DELAY));
        slot.state = SlotState::Killing;
        slot.timer = Some(key);
        let index = slot.index;
        let reason = slot.kill.unwrap_or(AttemptReason::HookFailed);
        self.emit_job(name, JobChange::Killing { index, pid, signal: signal.as_str().to_string(), reason });
    }

    /// After an attempt went away: a job being removed goes once its last attempt has;
    /// a job whose outcome is decided finishes.
    fn after_slot_change(&mut self, name: &str) {
        let job = self.job_mut(name);
        job.refresh();
        if !job.slots.is_empty() || job.post_stop > 0 {
            return;
        }
        if let Some(reason) = job.remove_reason {
            self.remove_job(name, reason);
            return;
        }
        if let Some(outcome) = job.finishing.take() {
            self.finish(name, outcome);
        }
    }

    fn finish(&mut self, name: &str, outcome: std::result::Result<(), FailReason>) {
        let job = self.job_mut(name);
        let now = Utc::now();
        job.status.completion_time = Some(now);
        let condition = match outcome {
            Ok(()) => {
                job.status.phase = JobPhase::Succeeded;
                job.set_condition(
                    ConditionType::Complete,
                    true,
                    "Completed",
                    "reached the expected completions".into(),
                );
                ConditionType::Complete
            }
            Err(why) => {
                job.status.phase = JobPhase::Failed;
                let message = match why {
                    FailReason::BackoffLimitExceeded => {
                        format!("more than backoff_limit = {} failures", job.spec.backoff_limit)
                    }
                    FailReason::DeadlineExceeded => format!(
                        "active_deadline_seconds = {} passed",
                        job.spec.active_deadline_seconds.unwrap_or_default()
                    ),
                    FailReason::FailedIndexes => {
                        format!("failed indexes: {}", compress_indexes(&job.progress.failed_indexes))
                    }
                    FailReason::PodFailurePolicy => "a FailJob failure_policy rule matched".into(),
                };
                job.set_condition(ConditionType::Failed, true, fail_reason_name(why), message);
                ConditionType::Failed
            }
        };
        let condition =
            job.status.conditions.iter().find(|c| c.type_ == condition).cloned().expect("the condition was just set");
        let (uid, ttl) = (job.uid, job.spec.ttl_seconds_after_finished);
        let cron = match &job.status.origin {
            JobOrigin::CronJob { cronjob, .. } => Some(cronjob.clone()),
            _ => None,
        };
        self.emit_job(name, JobChange::Finished { condition });
        if let Some(secs) = ttl {
            self.timers.insert(Timer::Ttl { job: name.to_string(), uid }, secs_delay(secs));
        }
        if let Some(cron) = cron {
            self.cron_job_finished(&cron, name, outcome.is_ok(), now);
        }
    }

    fn remove_job(&mut self, name: &str, reason: RemoveReason) {
        self.cancel_job_timers(name);
        let Some(job) = self.jobs.remove(name) else {
            return;
        };
        // Their captured output goes with the job (the log files stay).
        for a in &job.attempts {
            self.logs.forget(&attempt_instance(name, a.index, a.attempt));
        }
        if self.log_dir.is_some() {
            self.timers.insert(Timer::PurgeLogs { job: name.to_string() }, LOG_GRACE);
        }
        self.seq = self.bus.publish(
            name,
            EventKind::Job(Box::new(JobEvent { change: JobChange::Removed { reason }, job: None })),
            None,
        );
        for reply in job.deleting {
            let _ = reply.send(Ok(self.seq));
        }
        if let JobOrigin::CronJob { cronjob, .. } = &job.status.origin {
            if let Some(cron) = self.crons.get_mut(cronjob) {
                cron.history.retain(|(j, _)| j != name);
                if cron.status.active.iter().any(|j| j == name) {
                    cron.status.active.retain(|j| j != name);
                    self.emit_cron(cronjob, CronChange::JobRemoved { job: name.to_string() });
                }
            }
        }
    }

    fn cancel_job_timers(&mut self, name: &str) {
        let job = self.jobs.get_mut(name).expect("cancel_job_timers: the job exists");
        if let Some(key) = job.deadline.take() {
            self.timers.try_remove(&key);
        }
        if let Some((key, _)) = job.reconcile.take() {
            self.timers.try_remove(&key);
        }
    }

    fn on_timer(&mut self, timer: Timer) {
        let live = |jobs: &BTreeMap<String, Job>, name: &str, uid: u64| jobs.get(name).is_some_and(|j| j.uid == uid);
        match timer {
            Timer::Reconcile { job, uid } if live(&self.jobs, &job, uid) => {
                self.job_mut(&job).reconcile = None;
                self.reconcile(&job);
            }
            Timer::Deadline { job, uid } if live(&self.jobs, &job, uid) => {
                self.job_mut(&job).deadline = None;
                self.begin_finish(&job, Err(FailReason::DeadlineExceeded));
            }
            Timer::Ttl { job, uid } if live(&self.jobs, &job, uid) => self.remove_job(&job, RemoveReason::Ttl),
            Timer::PurgeLogs { job } if !self.jobs.contains_key(&job) => {
                if let Some(dir) = &self.log_dir {
                    remove_logs(&dir.join(&job));
                }
            }
            Timer::Kill { job, uid, slot } if live(&self.jobs, &job, uid) => {
                let Some(s) = self.job_mut(&job).slots.get_mut(&slot) else { return };
                s.timer = None;
                if let (SlotState::Killing, Some(pid)) = (s.state, s.pid) {
                    let index = s.index;
                    if let Err(e) = process::signal_group(pid, Signal::SIGKILL) {
                        tracing::warn!(job, pid, "sending SIGKILL: {e}");
                    }
                    self.emit_job(&job, JobChange::Killed { index, pid });
                }
            }
            Timer::Restart { job, uid, slot } if live(&self.jobs, &job, uid) => {
                let shutting_down = self.shutdown.is_some();
                let Some(s) = self.job_mut(&job).slots.get_mut(&slot) else { return };
                s.timer = None;
                if s.state == SlotState::Restarting && !shutting_down {
                    let index = s.index;
                    self.spawn_attempt(&job, slot, index);
                }
            }
            Timer::Fire { cron, uid, scheduled } if self.crons.get(&cron).is_some_and(|c| c.uid == uid) => {
                self.crons.get_mut(&cron).expect("checked").fire = None;
                self.fire(&cron, scheduled, false);
            }
            _ => {}
        }
    }

    // ----- cronjobs -----

    fn add_cron(&mut self, spec: CronJobSpec, opts: CronOptions) -> Result<CronJobStatus> {
        let problems = spec.validate();
        if !problems.is_empty() {
            return Err(Error::InvalidSpec(problems.into_iter().map(|(k, m)| (k.to_string(), m)).collect()));
        }
        if self.crons.contains_key(&spec.name) {
            return Err(Error::AlreadyExists(spec.name));
        }
        let schedule = Schedule::parse(&spec.schedule, spec.time_zone.as_deref())
            .map_err(|e| Error::InvalidSpec(vec![("schedule".into(), e)]))?;
        let name = spec.name.clone();
        let cron = Cron {
            uid: self.next_uid(),
            status: CronJobStatus {
                name: name.clone(),
                suspended: spec.suspend,
                last_schedule_time: opts.last_schedule_time,
                last_successful_time: None,
                next_schedule_time: None,
                active: Vec::new(),
                from_config: opts.from_config,
            },
            spec: spec.clone(),
            schedule,
            fire: None,
            history: VecDeque::new(),
        };
        self.crons.insert(name.clone(), cron);
        self.emit_cron(&name, CronChange::Added { spec: Box::new(spec) });
        if !self.crons[&name].spec.suspend {
            self.arm_cron(&name, opts.last_schedule_time);
        }
        Ok(self.crons[&name].status.clone())
    }

    /// Arms the cronjob's timer for its next schedule time after `since` (its last
    /// schedule time; `None`: now). Schedule times missed since then are counted (a
    /// warning beyond 100) and the most recent one fires at once: it runs if it is within
    /// the starting deadline (Kubernetes' catch-up).
    fn arm_cron(&mut self, name: &str, since: Option<DateTime<Utc>>) {
        let now = Utc::now();
        let cron = self.crons.get_mut(name).expect("arm_cron: the cronjob exists");
        if let Some(key) = cron.fire.take() {
            self.timers.try_remove(&key);
        }
        let mut at = None;
        if let Some(last) = since {
            // As in Kubernetes, only the times within the starting deadline are counted
            // for the warning; the latest missed time fires in any case, and is skipped
            // with its reason when it is past the deadline.
            let window = cron.spec.starting_deadline_seconds.and_then(|d| {
                let d = chrono::Duration::from_std(secs_delay(d)).ok()?;
                now.checked_sub_signed(d)
            });
            let count_from = window.map_or(last, |w| w.max(last));
            let (missed, _) = cron.schedule.missed(count_from, now, MISSED_WARNING + 1);
            at = cron.schedule.missed(last, now, 0).1;
            if missed > MISSED_WARNING {
                self.emit_cron(name, CronChange::TooManyMissed { missed, since: count_from });
            }
        }
        let cron = self.crons.get_mut(name).expect("arm_cron: the cronjob exists");
        let Some(scheduled) = at.or_else(|| cron.schedule.next_after(since.unwrap_or(now))) else {
            cron.status.next_schedule_time = None;
            return;
        };
        let delay = (scheduled - now).to_std().unwrap_or_default().min(MAX_DELAY);
        let key = self.timers.insert(Timer::Fire { cron: name.to_string(), uid: cron.uid, scheduled }, delay);
        cron.fire = Some(key);
        cron.status.next_schedule_time = Some(scheduled);
    }

    /// A schedule time came (or a manual trigger): create the job, or skip and say why.
    fn fire(&mut self, name: &str, scheduled: DateTime<Utc>, manual: bool) -> FireOutcome {
        let actual = Utc::now();
        let cron = self.crons.get(name).expect("fire: the cronjob exists");
        let late = (actual - scheduled).to_std().unwrap_or_default();
        let active = cron.status.active.clone();
        let outcome = match (manual, cron.spec.starting_deadline_seconds, cron.spec.concurrency_policy) {
            (false, Some(deadline), _) if late > Duration::from_secs(deadline) => FireOutcome::Skipped {
                reason: format!(
                    "missed its starting deadline of {deadline}s by {}",
                    crate::duration::format(late - Duration::from_secs(deadline))
                ),
            },
            (false, _, ConcurrencyPolicy::Forbid) if !active.is_empty() => FireOutcome::Skipped {
                reason: format!("concurrency_policy Forbid: {} still active", active.join(", ")),
            },
            (_, _, concurrency) => {
                let replaced = if !manual && concurrency == ConcurrencyPolicy::Replace { active } else { Vec::new() };
                for job in &replaced {
                    if self.jobs.contains_key(job) {
                        self.remove_when_stopped(job, RemoveReason::Replaced);
                    }
                }
                self.create_cron_job(name, scheduled, manual, replaced)
            }
        };
        let cron = self.crons.get_mut(name).expect("fire: the cronjob exists");
        if let FireOutcome::Created { job, .. } = &outcome {
            if !manual {
                cron.status.last_schedule_time = Some(scheduled);
            }
            if self.jobs.get(job).is_some_and(|j| !j.finished()) {
                cron.status.active.push(job.clone());
            }
        }
        if !manual {
            cron.status.next_schedule_time = None;
            if !cron.spec.suspend && self.shutdown.is_none() {
                self.arm_cron(name, Some(scheduled));
            }
        }
        self.emit_cron(name, CronChange::Fired { scheduled, actual, manual, outcome: outcome.clone() });
        outcome
    }

    fn create_cron_job(
        &mut self,
        name: &str,
        scheduled: DateTime<Utc>,
        manual: bool,
        replaced: Vec<String>,
    ) -> FireOutcome {
        let cron = &self.crons[name];
        let base = if manual {
            format!("{name}-manual-{}", scheduled.timestamp())
        } else {
            format!("{name}-{}", scheduled.timestamp())
        };
        let mut job_name = base.clone();
        let mut n = 2;
        while self.jobs.contains_key(&job_name) {
            job_name = format!("{base}-{n}");
            n += 1;
        }
        let spec = cron.spec.job_spec(job_name.clone());
        let origin = JobOrigin::CronJob { cronjob: name.to_string(), scheduled, manual };
        match self.create_job(spec, origin) {
            Ok(_) => FireOutcome::Created { job: job_name, replaced },
            Err(e) => FireOutcome::Skipped { reason: format!("cannot create the job: {e}") },
        }
    }

    /// A job of the cronjob finished: it leaves `active`, joins the history, and the
    /// oldest finished jobs beyond the history limits leave the live list.
    fn cron_job_finished(&mut self, cron_name: &str, job: &str, succeeded: bool, at: DateTime<Utc>) {
        let Some(cron) = self.crons.get_mut(cron_name) else {
            return;
        };
        cron.status.active.retain(|j| j != job);
        if succeeded {
            cron.status.last_successful_time = Some(at);
        }
        cron.history.push_back((job.to_string(), succeeded));
        let mut prune = Vec::new();
        for (ok, limit) in
            [(true, cron.spec.successful_jobs_history_limit), (false, cron.spec.failed_jobs_history_limit)]
        {
            let mut kept: Vec<&String> = cron.history.iter().filter(|(_, s)| *s == ok).map(|(j, _)| j).collect();
            while kept.len() > limit as usize {
                prune.push(kept.remove(0).clone());
            }
        }
        cron.history.retain(|(j, _)| !prune.contains(j));
        self.emit_cron(cron_name, CronChange::JobFinished { job: job.to_string(), succeeded });
        for old in prune {
            if self.jobs.get(&old).is_some_and(|j| j.finished()) {
                self.remove_job(&old, RemoveReason::HistoryLimit);
            }
        }
    }

    fn delete_cron(&mut self, name: &str) -> Result<u64> {
        let cron = self.crons.remove(name).ok_or_else(|| Error::NotFound(name.to_string()))?;
        if let Some(key) = cron.fire {
            self.timers.try_remove(&key);
        }
        self.seq = self.bus.publish(
            name,
            EventKind::Cron(Box::new(CronEvent { change: CronChange::Removed, cronjob: None })),
            None,
        );
        Ok(self.seq)
    }

    fn suspend_cron(&mut self, name: &str) -> Result<CronJobStatus> {
        let cron = self.crons.get_mut(name).ok_or_else(|| Error::NotFound(name.to_string()))?;
        if !cron.spec.suspend {
            cron.spec.suspend = true;
            cron.status.suspended = true;
            cron.status.next_schedule_time = None;
            if let Some(key) = cron.fire.take() {
                self.timers.try_remove(&key);
            }
            self.emit_cron(name, CronChange::Suspended);
        }
        Ok(self.crons[name].status.clone())
    }

    fn resume_cron(&mut self, name: &str) -> Result<CronJobStatus> {
        let cron = self.crons.get_mut(name).ok_or_else(|| Error::NotFound(name.to_string()))?;
        if cron.spec.suspend {
            cron.spec.suspend = false;
            cron.status.suspended = false;
            let last = cron.status.last_schedule_time;
            self.arm_cron(name, last);
            self.emit_cron(name, CronChange::Resumed);
        }
        Ok(self.crons[name].status.clone())
    }

    // ----- shutdown -----

    fn begin_shutdown(&mut self, reply: oneshot::Sender<()>) {
        self.shutdown.get_or_insert_with(Vec::new).push(reply);
        let crons: Vec<String> = self.crons.keys().cloned().collect();
        for name in crons {
            if let Some(key) = self.crons.get_mut(&name).and_then(|c| c.fire.take()) {
                self.timers.try_remove(&key);
            }
        }
        let jobs: Vec<String> = self.jobs.keys().cloned().collect();
        for name in jobs {
            self.cancel_job_timers(&name);
            self.kill_all(&name, AttemptReason::Shutdown);
            self.job_mut(&name).refresh();
        }
    }

    fn shutdown_complete(&mut self) -> bool {
        if self.shutdown.is_none() || self.jobs.values().any(|j| !j.slots.is_empty() || j.post_stop > 0) {
            return false;
        }
        for reply in self.shutdown.take().into_iter().flatten() {
            let _ = reply.send(());
        }
        true
    }

    fn refuse_during_shutdown(&self) -> Result<()> {
        if self.shutdown.is_some() {
            Err(Error::ShutDown)
        } else {
            Ok(())
        }
    }

    // ----- plumbing -----

    fn emit_job(&mut self, name: &str, change: JobChange) {
        let job = self.jobs.get_mut(name).map(|j| {
            j.refresh();
            j.status.clone()
        });
        self.seq = self.bus.publish(name, EventKind::Job(Box::new(JobEvent { change, job })), None);
    }

    fn emit_cron(&mut self, name: &str, change: CronChange) {
        let cronjob = self.crons.get(name).map(|c| c.status.clone());
        self.seq = self.bus.publish(name, EventKind::Cron(Box::new(CronEvent { change, cronjob })), None);
    }

    fn job(&self, name: &str) -> Result<&Job> {
        self.jobs.get(name).ok_or_else(|| Error::NotFound(name.to_string()))
    }

    fn cron(&self, name: &str) -> Result<&Cron> {
        self.crons.get(name).ok_or_else(|| Error::NotFound(name.to_string()))
    }

    fn job_mut(&mut self, name: &str) -> &mut Job {
        self.jobs.get_mut(name).expect("the job exists: names come from the job map")
    }

    fn next_uid(&mut self) -> u64 {
        self.uid += 1;
        self.uid
    }
}

/// The process spec of one attempt: the job's command, with `JOB_NAME` and, for an
/// index, `JOB_COMPLETION_INDEX` added to the environment.
fn attempt_spec(spec: &JobSpec, instance: &str, index: Option<u32>) -> ProcessSpec {
    let mut p = ProcessSpec::new(instance, "");
    p.command = spec.command.clone();
    p.args = spec.args.clone();
    p.work_dir = spec.work_dir.clone();
    p.env = spec.env.clone();
    p.env.0.insert("JOB_NAME".into(), spec.name.clone());
    if let Some(i) = index {
        p.env.0.insert("JOB_COMPLETION_INDEX".into(), i.to_string());
    }
    p.stop_signal = spec.stop_signal;
    p.stop_timeout = spec.stop_timeout;
    p
}

/// The name an attempt runs under (its log files are named after it):
/// `<job>-<attempt>`, or `<job>-<index>-<attempt>` in `Indexed` mode.
fn attempt_instance(job: &str, index: Option<u32>, attempt: u32) -> String {
    match index {
        Some(i) => format!("{job}-{i}-{attempt}"),
        None => format!("{job}-{attempt}"),
    }
}

/// Deletes a job's log directory (a missing one is fine).
fn remove_logs(dir: &std::path::Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(dir = %dir.display(), "removing a job's logs: {e}"),
    }
}

fn owned_by(job: &Job, cron: &str) -> bool {
    matches!(&job.status.origin, JobOrigin::CronJob { cronjob, .. } if cronjob == cron)
}

fn next_fire_times(cron: &Cron, n: usize) -> Vec<DateTime<Utc>> {
    match cron.status.next_schedule_time {
        Some(next) if n > 0 => std::iter::once(next).chain(cron.schedule.upcoming(next, n - 1)).collect(),
        _ => cron.schedule.upcoming(Utc::now(), n),
    }
}

fn secs_delay(secs: u64) -> Duration {
    Duration::from_secs(secs).min(MAX_DELAY)
}

fn fail_reason_name(why: FailReason) -> &'static str {
    match why {
        FailReason::BackoffLimitExceeded => "BackoffLimitExceeded",
        FailReason::DeadlineExceeded => "DeadlineExceeded",
        FailReason::FailedIndexes => "FailedIndexes",
        FailReason::PodFailurePolicy => "PodFailurePolicy",
    }
}
