//! [`JobsHandle`]: the cheap, cloneable handle to the jobs controller. Every method is a
//! message to the controller task with an awaited reply.

use super::{Attempt, JobOrigin, JobSpec, JobStatus, JobView};
use crate::cron::{CronJobSpec, CronJobStatus, CronJobView};
use crate::error::{Error, Result};
use crate::event::{Event, EventBus};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

/// How to add a cronjob.
#[derive(Clone, Debug, Default)]
pub struct CronOptions {
    /// It comes from the configuration.
    pub from_config: bool,
    /// The schedule time of its last run, restored from the database: the runs missed
    /// since then are counted (a warning event beyond 100) and the most recent one
    /// runs now if it is within `starting_deadline_seconds` (Kubernetes' behaviour).
    pub last_schedule_time: Option<DateTime<Utc>>,
}

/// A job read back from the database after a daemon restart, to put back on the live
/// list without running anything: a finished job (its TTL counts from its recorded
/// completion time) or a suspended one (it carries on where it stopped once resumed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoredJob {
    /// The spec.
    pub spec: JobSpec,
    /// The recorded status: phase `Succeeded`, `Failed` or `Suspended`.
    pub status: JobStatus,
    /// The recorded attempts, none of them running.
    pub attempts: Vec<Attempt>,
}

/// Every live job and cronjob at one sequence number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobsSnapshot {
    /// Every job and cronjob event up to and including this one is reflected (events
    /// of other actors may have lower or higher numbers: see [`crate::event`]).
    pub seq: u64,
    /// Every live job, by name.
    pub jobs: Vec<JobStatus>,
    /// Every cronjob, by name.
    pub cronjobs: Vec<CronJobStatus>,
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T>>;

/// A message to the controller.
#[derive(Debug)]
pub(crate) enum Command {
    CreateJob { spec: Box<JobSpec>, origin: JobOrigin, reply: Reply<JobStatus> },
    RestoreJob { job: Box<RestoredJob>, reply: Reply<JobStatus> },
    GetJob { name: String, reply: Reply<JobView> },
    ListJobs { reply: oneshot::Sender<Vec<JobStatus>> },
    DeleteJob { name: String, reply: Reply<u64> },
    SuspendJob { name: String, reply: Reply<JobStatus> },
    ResumeJob { name: String, reply: Reply<JobStatus> },
    AddCron { spec: Box<CronJobSpec>, opts: CronOptions, reply: Reply<CronJobStatus> },
    GetCron { name: String, reply: Reply<CronJobView> },
    ListCron { reply: oneshot::Sender<Vec<CronJobStatus>> },
    DeleteCron { name: String, reply: Reply<u64> },
    SuspendCron { name: String, reply: Reply<CronJobStatus> },
    ResumeCron { name: String, reply: Reply<CronJobStatus> },
    Trigger { name: String, reply: Reply<String> },
    NextFireTimes { name: String, n: usize, reply: Reply<Vec<DateTime<Utc>>> },
    Snapshot { reply: oneshot::Sender<JobsSnapshot> },
    Shutdown { reply: oneshot::Sender<()> },
}

/// A cheap, cloneable handle to the jobs controller.
#[derive(Clone, Debug)]
pub struct JobsHandle {
    pub(crate) tx: mpsc::UnboundedSender<Command>,
    pub(crate) bus: EventBus,
}

impl JobsHandle {
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| Error::ShutDown)?;
        rx.await.map_err(|_| Error::ShutDown)?
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| Error::ShutDown)?;
        rx.await.map_err(|_| Error::ShutDown)
    }

    /// Creates a job and starts its first attempts (unless `spec.suspend`).
    /// [`Error::InvalidSpec`] with every problem, [`Error::AlreadyExists`] for a live job
    /// of that name.
    pub async fn create_job(&self, spec: JobSpec, origin: JobOrigin) -> Result<JobStatus> {
        self.call(|reply| Command::CreateJob { spec: Box::new(spec), origin, reply }).await
    }

    /// Puts a job recorded by an earlier daemon back on the live list, without running
    /// anything and without an event (it is already recorded). Finished jobs get their
    /// TTL timer (from their completion time) and join their cronjob's history (add the
    /// cronjob first); suspended ones wait to be resumed. [`Error::InvalidSpec`] for
    /// another phase, [`Error::AlreadyExists`] for a live job of that name.
    pub async fn restore_job(&self, job: RestoredJob) -> Result<JobStatus> {
        self.call(|reply| Command::RestoreJob { job: Box::new(job), reply }).await
    }

    /// A live job with its spec and attempts.
    pub async fn get_job(&self, name: impl Into<String>) -> Result<JobView> {
        let name = name.into();
        self.call(|reply| Command::GetJob { name, reply }).await
    }

    /// Every live job, by name.
    pub async fn list_jobs(&self) -> Result<Vec<JobStatus>> {
        self.ask(|reply| Command::ListJobs { reply }).await
    }

    /// Kills the job's running attempts (stop signal, SIGKILL after `stop_timeout`) and
    /// removes it from the live list. Returns once it is removed, with the sequence
    /// number of the `Removed` event.
    pub async fn delete_job(&self, name: impl Into<String>) -> Result<u64> {
        let name = name.into();
        self.call(|reply| Command::DeleteJob { name, reply }).await
    }

    /// Suspends a job: its running attempts are killed (not counted as failures) and
    /// none starts until it is resumed. A finished or suspended job is left as it is.
    pub async fn suspend_job(&self, name: impl Into<String>) -> Result<JobStatus> {
        let name = name.into();
        self.call(|reply| Command::SuspendJob { name, reply }).await
    }

    /// Resumes a suspended job (its active deadline counts from now).
    pub async fn resume_job(&self, name: impl Into<String>) -> Result<JobStatus> {
        let name = name.into();
        self.call(|reply| Command::ResumeJob { name, reply }).await
    }

    /// Adds a cronjob and arms its timer (see [`CronOptions`] for missed runs).
    pub async fn add_cronjob(&self, spec: CronJobSpec, opts: CronOptions) -> Result<CronJobStatus> {
        self.call(|reply| Command::AddCron { spec: Box::new(spec), opts, reply }).await
    }

    /// A cronjob with its spec and its live jobs.
    pub async fn get_cronjob(&self, name: impl Into<String>) -> Result<CronJobView> {
        let name = name.into();
        self.call(|reply| Command::GetCron { name, reply }).await
    }

    /// Every cronjob, by name.
    pub async fn list_cronjobs(&self) -> Result<Vec<CronJobStatus>> {
        self.ask(|reply| Command::ListCron { reply }).await
    }

    /// Removes a cronjob; the jobs it created stay (each with its TTL). Returns the
    /// sequence number of the `Removed` event.
    pub async fn delete_cronjob(&self, name: impl Into<String>) -> Result<u64> {
        let name = name.into();
        self.call(|reply| Command::DeleteCron { name, reply }).await
    }

    /// Suspends scheduling (running jobs go on).
    pub async fn suspend_cronjob(&self, name: impl Into<String>) -> Result<CronJobStatus> {
        let name = name.into();
        self.call(|reply| Command::SuspendCron { name, reply }).await
    }

    /// Resumes scheduling. As in Kubernetes, the most recent schedule time missed since
    /// the last run runs at once if it is within `starting_deadline_seconds` (or, without
    /// a deadline, in any case).
    pub async fn resume_cronjob(&self, name: impl Into<String>) -> Result<CronJobStatus> {
        let name = name.into();
        self.call(|reply| Command::ResumeCron { name, reply }).await
    }

    /// Runs the cronjob now ("Run now"), whatever its schedule, suspension or
    /// concurrency policy; returns the created job's name (`<cronjob>-manual-<unix time>`).
    pub async fn trigger_cronjob(&self, name: impl Into<String>) -> Result<String> {
        let name = name.into();
        self.call(|reply| Command::Trigger { name, reply }).await
    }

    /// The cronjob's next `n` fire times.
    pub async fn next_fire_times(&self, name: impl Into<String>, n: usize) -> Result<Vec<DateTime<Utc>>> {
        let name = name.into();
        self.call(|reply| Command::NextFireTimes { name, n, reply }).await
    }

    /// Every live job and cronjob. Subscribe first, then snapshot, then apply the job
    /// and cron events whose `seq` is greater than the snapshot's.
    pub async fn snapshot(&self) -> Result<JobsSnapshot> {
        self.ask(|reply| Command::Snapshot { reply }).await
    }

    /// A live stream of all events of the shared bus (processes, jobs, cronjobs).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.bus.subscribe()
    }

    /// Stops scheduling, kills every running attempt, waits until all have exited, and
    /// ends the controller task.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown { reply }).is_ok() {
            let _ = rx.await;
        }
    }
}
