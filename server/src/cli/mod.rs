//! The command line (clap). One subcommand per verb: `serve` runs the daemon; the others
//! are clients of a daemon's JSON API ([`remote`]), signed in with the session that
//! `login` saves ([`session`]).

pub mod follow;
pub mod jobs;
pub mod output;
pub mod prompt;
pub mod remote;
pub mod session;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// provisr: a process supervisor with Kubernetes-style jobs, a JSON API and a live console.
#[derive(Debug, Parser)]
#[command(name = "provisr", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: supervise the configured processes and serve the console and API.
    Serve(ServeArgs),
    /// Sign in to a daemon and save the session in ~/.provisr/session.json.
    Login(LoginArgs),
    /// Forget the saved session.
    Logout,
    /// Register a process (from flags or a file) and start it.
    Register(RegisterArgs),
    /// Register the process, job or cronjob of a `{type, spec}` file (TOML, YAML or JSON).
    RegisterFile(RegisterFileArgs),
    /// Stop and remove processes registered through the API.
    Unregister(StopArgs),
    /// Start processes.
    Start(SelectArgs),
    /// Stop processes.
    Stop(StopArgs),
    /// Restart processes.
    Restart(SelectArgs),
    /// Show the state of processes (all when no selector is given).
    Status(StatusArgs),
    /// Start the members of a group.
    GroupStart(GroupArgs),
    /// Stop the members of a group.
    GroupStop(GroupArgs),
    /// Show the state of a group's members.
    GroupStatus(GroupArgs),
    /// Show a process's captured output (`--follow` streams it live).
    Logs(LogsArgs),
    /// Jobs: run a command to completion, Kubernetes-style (create, list, wait, …).
    #[command(subcommand)]
    Job(JobCommand),
    /// CronJobs: create jobs on a schedule (create, list, trigger, history, …).
    #[command(subcommand)]
    Cronjob(CronJobCommand),
    /// Manage users and API clients (admins).
    Auth(AuthArgs),
}

/// An error that ends the CLI with a chosen exit code (`job wait`: 1 when the job failed,
/// 2 on a timeout); every other error exits 1.
#[derive(Debug)]
pub struct Exit {
    /// The process exit code.
    pub code: u8,
    /// What is printed on stderr.
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// The exit code for an error a command returned: an [`Exit`]'s own, else 1.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    e.downcast_ref::<Exit>().map_or(1, |x| x.code)
}

/// `provisr serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML, YAML or JSON, by extension).
    #[arg(long, short = 'c', value_name = "FILE", conflicts_with = "config_file")]
    pub config: Option<PathBuf>,
    /// Configuration file, given positionally (same as --config).
    #[arg(value_name = "CONFIG")]
    pub config_file: Option<PathBuf>,
    /// Where the database, TLS certificate, PID files and logs live.
    #[arg(long, value_name = "DIR", env = "PROVISR_DATA_DIR", default_value = "provisr-data")]
    pub data_dir: PathBuf,
}

impl ServeArgs {
    /// The config file, however it was given.
    pub fn config_path(&self) -> Option<&PathBuf> {
        self.config.as_ref().or(self.config_file.as_ref())
    }
}

/// How a read command prints its answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table (or a short sentence) for people.
    #[default]
    Table,
    /// The server's JSON, pretty-printed, for scripts.
    Json,
}

/// Where the daemon is and how to talk to it (every remote command).
#[derive(Debug, Args, Clone)]
pub struct RemoteArgs {
    /// The daemon's API URL (e.g. `https://host:8443/api`); default: the saved session's,
    /// else `https://127.0.0.1:8443/api`.
    #[arg(long, value_name = "URL", env = "PROVISR_API_URL")]
    pub api_url: Option<String>,
    /// Accept any TLS certificate (e.g. the daemon's self-signed default). Also
    /// `PROVISR_INSECURE=1`; `login --insecure` remembers it in the session.
    #[arg(long, env = "PROVISR_INSECURE")]
    pub insecure: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// `provisr login`
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// `basic` (user name and password) or `client_secret` (API client credentials).
    #[arg(long, value_enum, default_value_t = LoginMethod::Basic)]
    pub method: LoginMethod,
    /// User name (method basic); asked for when missing.
    #[arg(long, short = 'u')]
    pub username: Option<String>,
    /// Password (method basic); asked for without echo when missing.
    #[arg(long, short = 'p', env = "PROVISR_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Client id (method client_secret).
    #[arg(long)]
    pub client_id: Option<String>,
    /// Client secret (method client_secret); asked for without echo when missing.
    #[arg(long, env = "PROVISR_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// The daemon's API URL (same as --api-url, which it overrides).
    #[arg(long, value_name = "URL")]
    pub server_url: Option<String>,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Login methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum LoginMethod {
    /// User name and password.
    Basic,
    /// API client id and secret.
    ClientSecret,
}

/// `--name` | `--base` | `--wildcard`
#[derive(Debug, Args, Clone, Default)]
pub struct Selector {
    /// One instance (or a spec with one instance) by exact name.
    #[arg(long)]
    pub name: Option<String>,
    /// Every instance of a spec (`web` → `web-1 … web-N`).
    #[arg(long)]
    pub base: Option<String>,
    /// Names matching a pattern with `*` and `?`.
    #[arg(long)]
    pub wildcard: Option<String>,
}

/// Commands on processes chosen by a selector.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Which processes.
    #[command(flatten)]
    pub selector: Selector,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `stop` and `unregister`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Which processes.
    #[command(flatten)]
    pub selector: Selector,
    /// Wait at most this long for them to stop (`10s`); default: until they have.
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `status`
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Which processes (default: all).
    #[command(flatten)]
    pub selector: Selector,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `register`
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Process name (`[A-Za-z0-9._-]`).
    #[arg(long, required_unless_present = "file")]
    pub name: Option<String>,
    /// The command line (run through `/bin/sh -c` when it contains shell syntax).
    #[arg(long, required_unless_present = "file")]
    pub command: Option<String>,
    /// Working directory (absolute).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Number of instances (`name-1 … name-N`).
    #[arg(long)]
    pub instances: Option<u32>,
    /// Restart the process when it exits.
    #[arg(long)]
    pub auto_restart: bool,
    /// Delay before a restart (`2s`).
    #[arg(long, value_name = "DURATION")]
    pub restart_interval: Option<String>,
    /// A process that dies sooner than this failed to start (`1s`).
    #[arg(long, value_name = "DURATION")]
    pub start_duration: Option<String>,
    /// Signal sent on stop (`SIGTERM`, `SIGINT`, …).
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Time between the stop signal and SIGKILL (`10s`).
    #[arg(long, value_name = "DURATION")]
    pub stop_timeout: Option<String>,
    /// Start order: lower first.
    #[arg(long, allow_negative_numbers = true)]
    pub priority: Option<i32>,
    /// Environment variable `KEY=VALUE` (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// PID file path.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Register from a `{type, spec}` file instead (as `register-file`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "command"])]
    pub file: Option<PathBuf>,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `register-file`
#[derive(Debug, Args)]
pub struct RegisterFileArgs {
    /// A `{type, spec}` file (TOML, YAML or JSON, by extension); a list of them, or a bare
    /// process spec, also works.
    #[arg(value_name = "FILE", required_unless_present = "file")]
    pub path: Option<PathBuf>,
    /// The same, as a flag (upstream's form).
    #[arg(long, value_name = "FILE", conflicts_with = "path")]
    pub file: Option<PathBuf>,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `group-start` / `group-stop` / `group-status`
#[derive(Debug, Args)]
pub struct GroupArgs {
    /// The group's name.
    #[arg(long, visible_alias = "name", value_name = "NAME")]
    pub group: String,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `logs`
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The process (instance) name.
    pub name: String,
    /// Only lines after this offset.
    #[arg(long)]
    pub since: Option<u64>,
    /// At most this many lines.
    #[arg(long, short = 'n')]
    pub limit: Option<u64>,
    /// Only this stream: stdout or stderr (default: both).
    #[arg(long)]
    pub stream: Option<String>,
    /// Keep streaming new lines (over the WebSocket) until interrupted.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `job …`
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Create a job (from flags or a file) and start it.
    Create(Box<JobCreateArgs>),
    /// List the live jobs.
    List(ListArgs),
    /// Show a job: spec, status, conditions and attempts.
    Get(NameArgs),
    /// Kill a job's attempts and remove it (its history stays).
    Delete(NameArgs),
    /// Suspend a job (its running attempts are killed, uncounted).
    Suspend(NameArgs),
    /// Resume a suspended job.
    Resume(NameArgs),
    /// Show the output of one of a job's attempts (default: the latest one's stdout).
    Logs(JobLogsArgs),
    /// Wait for a job to finish, showing its progress: exit 0 when it succeeded, 1 when it
    /// failed, 2 on a timeout.
    Wait(JobWaitArgs),
    /// Every recorded job of a name (live and removed), newest first.
    History(HistoryArgs),
}

/// `cronjob …`
#[derive(Debug, Subcommand)]
pub enum CronJobCommand {
    /// Create a cronjob (from flags or a file).
    Create(Box<CronJobCreateArgs>),
    /// List the cronjobs.
    List(ListArgs),
    /// Show a cronjob: spec, status, next fire times and live jobs.
    Get(CronJobGetArgs),
    /// Delete a cronjob (its jobs and history stay).
    Delete(NameArgs),
    /// Stop scheduling new runs.
    Suspend(NameArgs),
    /// Resume scheduling.
    Resume(NameArgs),
    /// Run it now, whatever its schedule or suspension.
    Trigger(TriggerArgs),
    /// Its firings: scheduled and actual time, job created or skipped and why.
    History(HistoryArgs),
}

/// Commands on one job or cronjob by name.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The job's or cronjob's name.
    pub name: String,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// What a job runs and how (`job create`, and the job template of `cronjob create`).
#[derive(Debug, Args, Clone, Default)]
pub struct JobTemplateArgs {
    /// The command line (run through `/bin/sh -c` when it contains shell syntax).
    #[arg(long, conflicts_with = "args")]
    pub command: Option<String>,
    /// The argv to execute directly, one `--arg` per word (or everything after `--`).
    #[arg(long = "arg", visible_alias = "args", value_name = "WORD", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// The argv after `--` (the same as `--arg` per word).
    #[arg(last = true, value_name = "ARGV", conflicts_with = "command")]
    pub argv: Vec<String>,
    /// Working directory (absolute, or relative to the current one).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Environment variable `KEY=VALUE` (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Attempts running at the same time (default 1).
    #[arg(long)]
    pub parallelism: Option<u32>,
    /// Successful attempts needed (unset with parallelism > 1: work-queue mode).
    #[arg(long)]
    pub completions: Option<u32>,
    /// `NonIndexed` (default) or `Indexed` (each index 0..completions succeeds once).
    #[arg(long, value_enum, ignore_case = true)]
    pub completion_mode: Option<CompletionModeArg>,
    /// `Never` (default: a new attempt replaces a failed one) or `OnFailure` (restart in place).
    #[arg(long, value_enum, ignore_case = true)]
    pub restart_policy: Option<RestartPolicyArg>,
    /// Failures tolerated before the job fails (default 6).
    #[arg(long)]
    pub backoff_limit: Option<u32>,
    /// Delay before the first retry, doubling with each failure (default `10s`).
    #[arg(long, value_name = "DURATION")]
    pub backoff_base: Option<String>,
    /// The longest retry delay (default `6m`).
    #[arg(long, value_name = "DURATION")]
    pub backoff_max: Option<String>,
    /// The job fails (DeadlineExceeded) this many seconds after it started.
    #[arg(long, value_name = "SECONDS")]
    pub active_deadline_seconds: Option<u64>,
    /// A finished job leaves the live list this many seconds after it finished.
    #[arg(long, value_name = "SECONDS")]
    pub ttl_seconds_after_finished: Option<u64>,
}

/// `--completion-mode`
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompletionModeArg {
    /// Any `completions` successes complete the job.
    #[value(name = "NonIndexed", alias = "non-indexed")]
    NonIndexed,
    /// Each index `0..completions` must succeed once.
    #[value(name = "Indexed")]
    Indexed,
}

/// `--restart-policy`
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RestartPolicyArg {
    /// A new attempt replaces a failed one.
    #[value(name = "Never")]
    Never,
    /// The failed attempt restarts in place.
    #[value(name = "OnFailure", alias = "on-failure")]
    OnFailure,
}

/// `--concurrency-policy`
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConcurrencyPolicyArg {
    /// Runs may overlap.
    #[value(name = "Allow")]
    Allow,
    /// A run due while the previous one is still active is skipped.
    #[value(name = "Forbid")]
    Forbid,
    /// A run due while the previous one is still active replaces it.
    #[value(name = "Replace")]
    Replace,
}

/// `job create`
#[derive(Debug, Args)]
pub struct JobCreateArgs {
    /// Job name (`[A-Za-z0-9._-]`).
    #[arg(long, required_unless_present = "file")]
    pub name: Option<String>,
    /// What to run and how.
    #[command(flatten)]
    pub template: JobTemplateArgs,
    /// Create it suspended: nothing runs until `job resume`.
    #[arg(long)]
    pub suspend: bool,
    /// Create from a file instead: a job spec, or a `{type = "job", spec}` entry (TOML, YAML
    /// or JSON, by extension).
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with = "name")]
    pub file: Option<PathBuf>,
    /// Then wait for it to finish, as `job wait` (and exit as it does).
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long (`5m`).
    #[arg(long, value_name = "DURATION", requires = "wait")]
    pub timeout: Option<String>,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `job logs`
#[derive(Debug, Args)]
pub struct JobLogsArgs {
    /// The job's name.
    pub name: String,
    /// The completion index (Indexed jobs); default: the latest attempt's.
    #[arg(long)]
    pub index: Option<u32>,
    /// The attempt number (0 for the first); default: the latest of the index.
    #[arg(long)]
    pub attempt: Option<u32>,
    /// `stdout` (default) or `stderr`.
    #[arg(long)]
    pub stream: Option<String>,
    /// At most this many bytes from the end (default 64 KiB).
    #[arg(long, value_name = "BYTES")]
    pub tail: Option<u64>,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `job wait`
#[derive(Debug, Args)]
pub struct JobWaitArgs {
    /// The job's name.
    pub name: String,
    /// Give up after this long (`30s`, `5m`): exit 2. Default: wait as long as it takes.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `job history` / `cronjob history`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The job's or cronjob's name.
    pub name: String,
    /// At most this many entries (1 to 1000, default 50).
    #[arg(long, short = 'n')]
    pub limit: Option<u64>,
    /// Only entries older than this cursor (the `next_before` of the previous page).
    #[arg(long)]
    pub before: Option<i64>,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `cronjob create`
#[derive(Debug, Args)]
pub struct CronJobCreateArgs {
    /// CronJob name (`[A-Za-z0-9._-]`); its jobs are named `<name>-<unix time>`.
    #[arg(long, required_unless_present = "file")]
    pub name: Option<String>,
    /// When: 5 fields, 6 (seconds first), `@hourly`/`@daily`/…, or `@every 30s`.
    #[arg(long, required_unless_present = "file")]
    pub schedule: Option<String>,
    /// IANA time zone of the schedule (default UTC).
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    /// `Allow` (default), `Forbid` or `Replace` overlapping runs.
    #[arg(long, value_enum, ignore_case = true)]
    pub concurrency_policy: Option<ConcurrencyPolicyArg>,
    /// A run later than this many seconds after its slot is skipped.
    #[arg(long, value_name = "SECONDS")]
    pub starting_deadline_seconds: Option<u64>,
    /// Finished successful jobs kept live (default 3).
    #[arg(long)]
    pub successful_jobs_history_limit: Option<u32>,
    /// Finished failed jobs kept live (default 1).
    #[arg(long)]
    pub failed_jobs_history_limit: Option<u32>,
    /// Create it suspended: nothing is scheduled until `cronjob resume`.
    #[arg(long)]
    pub suspend: bool,
    /// The job template: what each run executes and how.
    #[command(flatten)]
    pub template: JobTemplateArgs,
    /// Create from a file instead: a cronjob spec, or a `{type = "cronjob", spec}` entry.
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with_all = ["name", "schedule"])]
    pub file: Option<PathBuf>,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `cronjob get`
#[derive(Debug, Args)]
pub struct CronJobGetArgs {
    /// The cronjob's name.
    pub name: String,
    /// How many next fire times to show (default 5, at most 100).
    #[arg(long, value_name = "N")]
    pub next: Option<usize>,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `cronjob trigger`
#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The cronjob's name.
    pub name: String,
    /// Then wait for the created job to finish, as `job wait` (and exit as it does).
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long.
    #[arg(long, value_name = "DURATION", requires = "wait")]
    pub timeout: Option<String>,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `auth …`
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// What to manage.
    #[command(subcommand)]
    pub command: AuthCommand,
}

/// `auth user …` | `auth client …`
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// API clients.
    #[command(subcommand)]
    Client(ClientCommand),
}

/// `auth user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create(UserCreateArgs),
    /// List users.
    List(ListArgs),
    /// Delete a user.
    Delete(UserRefArgs),
    /// Set a user's password (yours, or anyone's as an admin).
    Password(UserPasswordArgs),
}

/// `auth client …`
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create an API client; its secret is shown once.
    Create(ClientCreateArgs),
    /// List API clients.
    List(ListArgs),
    /// Delete an API client.
    Delete(ClientRefArgs),
}

/// `auth user create`
#[derive(Debug, Args)]
pub struct UserCreateArgs {
    /// User name.
    #[arg(long, short = 'u')]
    pub username: String,
    /// Password; asked for without echo when missing.
    #[arg(long, short = 'p')]
    pub password: Option<String>,
    /// E-mail address.
    #[arg(long)]
    pub email: Option<String>,
    /// Roles, comma-separated: admin, operator, viewer.
    #[arg(long, default_value = "viewer")]
    pub roles: String,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `auth user delete`
#[derive(Debug, Args)]
pub struct UserRefArgs {
    /// User name (or numeric id).
    #[arg(long, short = 'u', visible_alias = "id")]
    pub username: String,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `auth user password`
#[derive(Debug, Args)]
pub struct UserPasswordArgs {
    /// User name (or numeric id).
    #[arg(long, short = 'u', visible_alias = "id")]
    pub username: String,
    /// The new password; asked for without echo when missing.
    #[arg(long, short = 'p')]
    pub password: Option<String>,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `auth client create`
#[derive(Debug, Args)]
pub struct ClientCreateArgs {
    /// A name for people.
    #[arg(long)]
    pub name: String,
    /// Scopes, comma-separated: admin, operator, viewer.
    #[arg(long, default_value = "viewer")]
    pub scopes: String,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `auth client delete`
#[derive(Debug, Args)]
pub struct ClientRefArgs {
    /// The client id (`pc_…`) or numeric id.
    #[arg(long, visible_alias = "id")]
    pub client_id: String,
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `auth user list` / `auth client list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Where and how.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn job_flags_parse() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["provisr"], args].concat());
        let Command::Job(JobCommand::Create(a)) = parse(&[
            "job",
            "create",
            "--name",
            "j",
            "--completion-mode",
            "indexed",
            "--completions",
            "2",
            "--",
            "ls",
            "-l",
        ])
        .expect("parses")
        .command
        else {
            panic!("job create")
        };
        assert_eq!(a.template.argv, ["ls", "-l"]);
        assert_eq!(a.template.completion_mode, Some(CompletionModeArg::Indexed));
        let Command::Job(JobCommand::Create(a)) =
            parse(&["job", "create", "--name", "j", "--arg", "echo", "--arg", "-n"]).expect("parses").command
        else {
            panic!("job create")
        };
        assert_eq!(a.template.args, ["echo", "-n"]);
        for bad in [
            &["job", "create", "--name", "j", "--command", "x", "--", "ls"][..],
            &["job", "create", "--name", "j", "--file", "f.toml"],
            &["job", "create", "--command", "x"],
            &["job", "create", "--name", "j", "--command", "x", "--timeout", "1s"],
            &["job", "create", "--name", "j", "--restart-policy", "Sometimes", "--command", "x"],
            &["cronjob", "create", "--name", "c", "--command", "x"],
            &["job", "wait"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
