//! Configuration: the main config file (TOML, YAML or JSON, chosen by its extension) and the
//! programs directory, read at the edge of the program into a typed, validated [`Config`].
//! Nothing below the server reads files or the environment for settings; the supervisor gets
//! the already-parsed [`ProcessSpec`]s of [`Config::processes`].
//!
//! ## How a file becomes a `Config`
//!
//! 1. **One tree for every format.** The text is parsed into a `serde_json::Value`, whatever
//!    its format, so the checks after this step are written once. A syntax error stops here
//!    (there is no tree to check) and is reported with the line and column the parser gives.
//! 2. **Each section on its own.** Every top-level key, and every `[[processes]]` entry, is
//!    deserialized separately into a private `Raw*` mirror of the file, so a bad section does
//!    not hide the others. Unknown keys are collected with `serde_ignored` instead of
//!    `deny_unknown_fields`, which would stop at the first one. A type error is located with
//!    `serde_path_to_error`; the offending key is then removed from the tree and the section
//!    deserialized again, so one bad value does not hide the next. The same loop lists every
//!    unknown key of a [`ProcessSpec`], whose `deny_unknown_fields` reports them one at a time.
//! 3. **Defaults, paths, meaning.** Raw values get their defaults; relative paths are resolved
//!    against the directory of the config file (so `provisr serve --config /etc/provisr/x.toml`
//!    behaves the same from any working directory); semantic checks run (listen address, base
//!    path, TLS pairs, store URL, [`ProcessSpec::validate`], duplicate names…).
//! 4. **Every problem at once.** Everything found in steps 1–3 is returned together as
//!    [`ConfigErrors`], each with its file and key (`processes[1].spec.command`); a `Config` is
//!    returned only when there is none.

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;
use supervisor::cron::CronJobSpec;
use supervisor::jobs::JobSpec;
use supervisor::{Origin, ProcessSpec};

/// `[server] listen` when the config does not set it: every interface, port 8443.
pub const DEFAULT_LISTEN: &str = ":8443";
/// `[server] base_path` when the config does not set it.
pub const DEFAULT_BASE_PATH: &str = "/api";
/// `[auth.jwt] expires_in` when the config does not set it.
pub const DEFAULT_JWT_EXPIRES_IN: Duration = Duration::from_secs(24 * 60 * 60);
/// The shortest accepted `[auth.jwt] secret`: HS256 wants at least 256 bits of key.
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// The longest accepted `[server.tls.auto_gen] valid_days` (ten years).
pub const MAX_VALID_DAYS: u32 = 3650;

/// The file formats a config or program file may use, chosen by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.toml`
    Toml,
    /// `.yaml` or `.yml`
    Yaml,
    /// `.json`
    Json,
}

impl Format {
    /// The format a file's extension names (case-insensitive), or `None` for any other file.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "toml" => Some(Format::Toml),
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// The daemon's whole configuration, defaults applied and relative paths resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file it came from; `None` for [`Config::default`].
    pub source: Option<PathBuf>,
    /// Where PID files go (`<pid_dir>/<instance>.pid`); `None`: the caller's default.
    pub pid_dir: Option<PathBuf>,
    /// A directory of program files, one `{type, spec}` entry each.
    pub programs_directory: Option<PathBuf>,
    /// The global environment of every process: `env_files` in order (each file's lines in
    /// order), then `env`; a later definition replaces the value of an earlier one in place.
    /// `${VAR}` in values is already expanded (see [`Config`]'s module docs).
    pub global_env: Vec<(String, String)>,
    /// `[log]`
    pub log: LogConfig,
    /// `[server]`
    pub server: ServerConfig,
    /// `[store]`, with the upstream `[auth] database_*` keys folded in.
    pub store: StoreConfig,
    /// `[auth]`
    pub auth: AuthConfig,
    /// `[metrics]`
    pub metrics: MetricsConfig,
    /// `[[processes]]` in file order, then the programs directory's files by file name.
    pub processes: Vec<ProcessEntry>,
    /// `[[groups]]` in file order; every member names a process of `processes`.
    pub groups: Vec<GroupConfig>,
    /// `type = "job"` entries (same order).
    pub jobs: Vec<JobEntry>,
    /// `type = "cronjob"` entries (same order).
    pub cronjobs: Vec<CronJobEntry>,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Serve `GET /metrics`. Default `false`, or `true` when `listen` is set.
    pub enabled: bool,
    /// A separate plain-HTTP listener for `/metrics` (no authentication: scrapers cannot
    /// sign in; bind it to a private interface). `None`: `/metrics` is served at the root of
    /// the main listener, behind the API's authentication when `[auth]` is enabled.
    pub listen: Option<String>,
}

impl MetricsConfig {
    /// The socket addresses of `listen`, in the order to try them (see
    /// [`ServerConfig::listen_addrs`]); empty when `listen` is not set.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        match &self.listen {
            Some(listen) => listen_addrs(listen),
            None => Vec::new(),
        }
    }
}

/// `[[groups]]`: processes started, stopped and watched together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// The group's name, `[A-Za-z0-9._-]`.
    pub name: String,
    /// Process (spec) names, as written; duplicates removed.
    pub members: Vec<String>,
}

/// `[log]`: the supervisor's global capture settings (`dir`, `max_size_mb`, `max_backups`,
/// `max_age_days`, `compress`). `dir: None` means the caller's default (`<data>/logs`).
pub use supervisor::LogConfig;

/// `[server]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// As written (validated): `":8443"`, `"127.0.0.1:8443"`, `"[::1]:8443"`, `"localhost:8443"`.
    pub listen: String,
    /// Where the JSON API is mounted: starts with `/`, no trailing slash (`"/api"`).
    pub base_path: String,
    /// `[server.tls]`
    pub tls: TlsConfig,
    /// Where the daemon writes its pid (mode 0644) while it runs; removed on a clean exit.
    pub pidfile: Option<PathBuf>,
    /// Where the daemon's own log goes (appended); `None`: stderr.
    pub logfile: Option<PathBuf>,
}

impl ServerConfig {
    /// The socket addresses `listen` stands for, in the order to try binding them; the
    /// caller binds the first that works.
    ///
    /// `":PORT"` (Go style: every interface) gives `[::]:PORT` then `0.0.0.0:PORT`: the IPv6
    /// wildcard also accepts IPv4 on a dual-stack host, and the IPv4 one is the fallback where
    /// IPv6 is off. `localhost:PORT` gives the loopback addresses without asking a resolver.
    /// Any other host name is resolved now (a blocking lookup); an unresolvable name, or a
    /// `listen` that does not parse, gives an empty list.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        listen_addrs(&self.listen)
    }
}

/// See [`ServerConfig::listen_addrs`].
fn listen_addrs(listen: &str) -> Vec<SocketAddr> {
    match parse_listen(listen) {
        Ok(Listen::AnyInterface(port)) => vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        ],
        Ok(Listen::Addr(addr)) => vec![addr],
        Ok(Listen::Host(host, port)) if host.eq_ignore_ascii_case("localhost") => vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        ],
        Ok(Listen::Host(host, port)) => {
            (host.as_str(), port).to_socket_addrs().map(|addrs| addrs.collect()).unwrap_or_default()
        }
        Err(_) => Vec::new(),
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.to_string(),
            base_path: DEFAULT_BASE_PATH.to_string(),
            tls: TlsConfig::default(),
            pidfile: None,
            logfile: None,
        }
    }
}

/// `[server.tls]`; how these are turned into a certificate is `crate::tls::prepare`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// Serve HTTPS (default); `false` serves plain HTTP.
    pub enabled: bool,
    /// An explicit certificate chain (PEM); always set together with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// The private key (PEM) for `cert_file`.
    pub key_file: Option<PathBuf>,
    /// A directory holding `tls.crt` and `tls.key`; `None`: `<data dir>/tls`.
    pub dir: Option<PathBuf>,
    /// Generate a self-signed certificate into the directory when it has none (default).
    pub auto_generate: bool,
    /// What a generated certificate contains.
    pub auto_gen: AutoGenConfig,
    /// The oldest TLS version accepted (default 1.2).
    pub min_version: TlsVersion,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            cert_file: None,
            key_file: None,
            dir: None,
            auto_generate: true,
            auto_gen: AutoGenConfig::default(),
            min_version: TlsVersion::default(),
        }
    }
}

/// `[server.tls.auto_gen]`: the contents of a generated self-signed certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoGenConfig {
    /// Subject common name (default `"localhost"`).
    pub common_name: String,
    /// DNS subject alternative names (default `["localhost"]`). Entries of the file that
    /// parse as IP addresses were moved to `ip_addresses`, as upstream's example lists
    /// `"127.0.0.1"` among its DNS names.
    pub dns_names: Vec<String>,
    /// IP subject alternative names (default `127.0.0.1` and `::1`).
    pub ip_addresses: Vec<IpAddr>,
    /// Validity from the moment of generation, 1–3650 days (default 365).
    pub valid_days: u32,
}

impl Default for AutoGenConfig {
    fn default() -> Self {
        Self {
            common_name: "localhost".to_string(),
            dns_names: vec!["localhost".to_string()],
            ip_addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)],
            valid_days: 365,
        }
    }
}

/// The oldest TLS protocol version the server accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3 (default: older clients, such as some CI tools, still need 1.2).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl TlsVersion {
    /// Reads `"1.2"`, `"1.3"`, and the spellings `"TLS1.2"`, `"tlsv1.3"`.
    pub fn parse(s: &str) -> Result<TlsVersion, String> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_prefix("tls").unwrap_or(&t);
        let t = t.strip_prefix('v').unwrap_or(t).trim();
        match t {
            "1.2" => Ok(TlsVersion::Tls12),
            "1.3" => Ok(TlsVersion::Tls13),
            _ => Err(format!("unsupported TLS version {s:?}: use \"1.2\" or \"1.3\"")),
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        })
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = TlsVersion;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"1.2\" or \"1.3\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TlsVersion, E> {
                TlsVersion::parse(v).map_err(E::custom)
            }
            // `min_version = 1.3` without quotes is a TOML/YAML float: accept it too.
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TlsVersion, E> {
                TlsVersion::parse(&v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// `[store]`: where registrations, history and users are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreConfig {
    /// `sqlite://…` or `postgres://…`; `None`: SQLite in the data directory. A relative
    /// SQLite path has been resolved against the config file's directory.
    pub url: Option<String>,
}

/// `[auth]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// Require authentication (default); `false` opens the API and console to anyone.
    pub enabled: bool,
    /// `[auth.jwt]`
    pub jwt: JwtConfig,
    /// `[auth.admin]`
    pub admin: AdminConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { enabled: true, jwt: JwtConfig::default(), admin: AdminConfig::default() }
    }
}

/// `[auth.jwt]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtConfig {
    /// The HMAC signing key (at least 32 bytes); `None`: the caller generates one.
    pub secret: Option<Secret>,
    /// How long an issued token is valid (default 24h).
    pub expires_in: Duration,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self { secret: None, expires_in: DEFAULT_JWT_EXPIRES_IN }
    }
}

/// `[auth.admin]`: the first administrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminConfig {
    /// Create the admin user when no user exists (default).
    pub auto_create: bool,
    /// Its user name (default `"admin"`).
    pub username: String,
    /// Its password; `None`: generated and shown once.
    pub password: Option<Secret>,
    /// Its e-mail address.
    pub email: Option<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self { auto_create: true, username: "admin".to_string(), password: None, email: None }
    }
}

/// A secret string (password, signing key) that keeps out of logs: its `Debug` prints
/// `[redacted]`, it has no `Display`, and a wrongly typed value in a config file is reported
/// without echoing it. Read it with [`Secret::expose`] where it is really needed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        // serde's default messages quote the value ("invalid type: integer `1234`"); for a
        // secret, say what was expected and nothing about what was found.
        fn not_shown<E: de::Error>() -> E {
            E::custom("expected a string (the value is not shown: it is a secret)")
        }
        impl de::Visitor<'_> for V {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
                Ok(Secret(v))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(not_shown())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(not_shown())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(not_shown())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(not_shown())
            }
        }
        d.deserialize_any(V)
    }
}

/// One program definition and where it was found.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessEntry {
    /// The program.
    pub spec: ProcessSpec,
    /// [`Origin::Config`] for `[[processes]]`, [`Origin::ProgramsDir`] for a program file.
    pub origin: Origin,
    /// The file that defines it.
    pub file: PathBuf,
}

/// One job definition (`type = "job"`) and where it was found.
#[derive(Clone, Debug, PartialEq)]
pub struct JobEntry {
    /// The job.
    pub spec: JobSpec,
    /// The file that defines it.
    pub file: PathBuf,
}

/// One cronjob definition (`type = "cronjob"`) and where it was found.
#[derive(Clone, Debug, PartialEq)]
pub struct CronJobEntry {
    /// The cronjob.
    pub spec: CronJobSpec,
    /// The file that defines it.
    pub file: PathBuf,
}

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the problem is in.
    pub file: PathBuf,
    /// The key, as a path: `"server.tls.min_version"`, `"processes[1].spec.command"`; empty
    /// when the problem concerns the whole file (it cannot be read or parsed).
    pub key: String,
    /// What is wrong, and where helpful how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found while loading a configuration (never empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    fn one(file: &Path, key: &str, message: impl Into<String>) -> ConfigErrors {
        ConfigErrors(vec![ConfigError { file: file.to_path_buf(), key: key.to_string(), message: message.into() }])
    }
}

/// One line per problem.
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Default for Config {
    /// What `provisr serve` without a config file runs with.
    fn default() -> Self {
        Config {
            source: None,
            pid_dir: None,
            programs_directory: None,
            global_env: Vec::new(),
            log: LogConfig::default(),
            server: ServerConfig::default(),
            store: StoreConfig::default(),
            auth: AuthConfig::default(),
            metrics: MetricsConfig::default(),
            processes: Vec::new(),
            groups: Vec::new(),
            jobs: Vec::new(),
            cronjobs: Vec::new(),
        }
    }
}

impl Config {
    /// The configured jobs' specs.
    pub fn jobs_specs(&self) -> Vec<JobSpec> {
        self.jobs.iter().map(|j| j.spec.clone()).collect()
    }

    /// The configured cronjobs' specs.
    pub fn cronjob_specs(&self) -> Vec<CronJobSpec> {
        self.cronjobs.iter().map(|c| c.spec.clone()).collect()
    }

    /// Reads, parses and validates a config file (and its programs directory), reporting
    /// every problem at once. The format is chosen by the extension.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let format = Format::from_path(path).ok_or_else(|| {
            ConfigErrors::one(path, "", "unsupported file extension: use .toml, .yaml, .yml or .json")
        })?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors::one(path, "", format!("cannot read the file: {e}")))?;
        Config::from_str(&text, format, path)
    }

    /// Parses and validates config text as if read from `source`: `source` names the file in
    /// errors, and its directory is where relative paths start.
    pub fn from_str(text: &str, format: Format, source: &Path) -> Result<Config, ConfigErrors> {
        let root = parse_tree(text, format).map_err(|msg| ConfigErrors::one(source, "", msg))?;
        let mut loader = Loader::new(source);
        let config = loader.config(root);
        if loader.errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(loader.into_sorted_errors()))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Step 1: text to tree.

/// Parses any of the formats into one tree; the error is a message with line and column.
fn parse_tree(text: &str, format: Format) -> Result<Value, String> {
    let tree = match format {
        Format::Toml => toml::from_str::<Value>(text).map_err(|e| match e.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                format!("syntax error at line {line}, column {column}: {}", e.message())
            }
            None => format!("syntax error: {}", e.message()),
        })?,
        Format::Yaml => serde_yaml::from_str::<Value>(text).map_err(|e| format!("syntax error: {e}"))?,
        Format::Json => serde_json::from_str::<Value>(text).map_err(|e| format!("syntax error: {e}"))?,
    };
    // An empty YAML document is `null`: the same as an empty file in the other formats.
    Ok(if tree.is_null() { Value::Object(Map::new()) } else { tree })
}

/// The 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

// ---------------------------------------------------------------------------------------------
// Step 2: tree to raw sections, every problem collected.

/// One step of a key path inside the tree.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Renders `prefix` + `segs` as `a.b[2].c`.
fn render_key(prefix: &str, segs: &[Seg]) -> String {
    let mut out = prefix.to_string();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn ignored_segs(path: &serde_ignored::Path) -> Vec<Seg> {
    let mut segs = Vec::new();
    let mut cur = path;
    loop {
        match cur {
            serde_ignored::Path::Root => break,
            serde_ignored::Path::Seq { parent, index } => {
                segs.push(Seg::Index(*index));
                cur = parent;
            }
            serde_ignored::Path::Map { parent, key } => {
                segs.push(Seg::Key(key.clone()));
                cur = parent;
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => cur = parent,
        }
    }
    segs.reverse();
    segs
}

/// The error's path, or `None` when a step of it is unknown (then it cannot be removed).
fn error_segs(path: &serde_path_to_error::Path) -> Option<Vec<Seg>> {
    path.iter()
        .map(|seg| match seg {
            serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
            serde_path_to_error::Segment::Map { key } | serde_path_to_error::Segment::Enum { variant: key } => {
                Some(Seg::Key(key.clone()))
            }
            serde_path_to_error::Segment::Unknown => None,
        })
        .collect()
}

/// Removes the node at `segs`; false when there is none (or `segs` is the root).
fn remove_at(tree: &mut Value, segs: &[Seg]) -> bool {
    let Some((last, parents)) = segs.split_last() else {
        return false;
    };
    let mut cur = tree;
    for seg in parents {
        let next = match (seg, cur) {
            (Seg::Key(k), Value::Object(m)) => m.get_mut(k),
            (Seg::Index(i), Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    match (last, cur) {
        (Seg::Key(k), Value::Object(m)) => m.remove(k).is_some(),
        (Seg::Index(i), Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
            true
        }
        _ => false,
    }
}

/// Maps a path in the pruned tree back to the original tree: removing element `k` of a list
/// shifted the later elements down by one. `removals` are in the order they were made, each
/// in the coordinates of the tree it was removed from.
fn original_path(mut segs: Vec<Seg>, removals: &[Vec<Seg>]) -> Vec<Seg> {
    for removal in removals.iter().rev() {
        let Some((Seg::Index(k), parent)) = removal.split_last() else {
            continue;
        };
        if segs.len() > parent.len() && segs.starts_with(parent) {
            if let Seg::Index(j) = &mut segs[parent.len()] {
                if *j >= *k {
                    *j += 1;
                }
            }
        }
    }
    segs
}

/// A problem at a path relative to the subtree being deserialized.
type Problem = (Vec<Seg>, String);

/// Deserializes `tree` into `T`, collecting every unknown key and every type error instead of
/// stopping at the first. Returns the value when one could be built (once the bad keys were
/// taken out, so further semantic checks can still run on the rest) and all problems, with
/// paths into the tree as given.
fn deserialize_all<T: DeserializeOwned>(mut tree: Value) -> (Option<T>, Vec<Problem>) {
    let mut problems: Vec<Problem> = Vec::new();
    let mut reported: BTreeSet<Vec<Seg>> = BTreeSet::new();
    // What was taken out, in pruned-tree coordinates, in order.
    let mut removals: Vec<Vec<Seg>> = Vec::new();
    let mut report = |problems: &mut Vec<Problem>, segs: Vec<Seg>, message: String| {
        if reported.insert(segs.clone()) {
            problems.push((segs, message));
        }
    };
    // Each round removes one node, so this ends; the bound is only a guard.
    for _ in 0..1000 {
        let mut ignored = Vec::new();
        let result: Result<T, _> = {
            let mut note = |path: serde_ignored::Path| ignored.push(ignored_segs(&path));
            serde_path_to_error::deserialize(serde_ignored::Deserializer::new(&tree, &mut note))
        };
        for segs in ignored {
            report(&mut problems, original_path(segs, &removals), "unknown key".to_string());
        }
        let err = match result {
            Ok(value) => return (Some(value), problems),
            Err(err) => err,
        };
        let message = err.inner().to_string();
        let Some(mut segs) = error_segs(err.path()) else {
            report(&mut problems, Vec::new(), tidy_message(&message));
            return (None, problems);
        };
        if let Some(field) = quoted_after(&message, "missing field `") {
            segs.push(Seg::Key(field.to_string()));
            // A key removed for a bad value is now "missing": it was already reported.
            report(&mut problems, original_path(segs, &removals), "is required".to_string());
            return (None, problems);
        }
        let text = if message.starts_with("unknown field `") {
            // From `deny_unknown_fields` (ProcessSpec): the path already ends with the key.
            match message.split_once(", ") {
                Some((_, expected)) => format!("unknown key ({expected})"),
                None => "unknown key".to_string(),
            }
        } else {
            tidy_message(&message)
        };
        report(&mut problems, original_path(segs.clone(), &removals), text);
        if !remove_at(&mut tree, &segs) {
            return (None, problems);
        }
        removals.push(segs);
    }
    (None, problems)
}

/// The text between `start` and the next backtick.
fn quoted_after<'a>(message: &'a str, start: &str) -> Option<&'a str> {
    message.strip_prefix(start)?.split('`').next()
}

/// Serde names the Rust type in "expected struct ProcessSpec": say what the file needs.
fn tidy_message(message: &str) -> String {
    match message.find("expected struct ") {
        Some(at) => format!("{}expected a map", &message[..at]),
        None => message.to_string(),
    }
}

/// How a value is called in messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[derive(Default, Deserialize)]
#[serde(default, expecting = "a map")]
struct RawLog {
    dir: Option<PathBuf>,
    max_size_mb: Option<u64>,
    max_backups: Option<u32>,
    max_age_days: Option<u32>,
    compress: Option<bool>,
}

#[derive(Default, Deserialize)]
#[serde(default, expecting = "a map")]
struct RawServer {
    /// Upstream's switch for the HTTP server: accepted when true (the API is how provisr is
    /// driven, so it is always on).
    enabled: Option<bool>,
    listen: Option<String>,
    base_path: Option<String>,
    tls: RawTls,
    pidfile: Option<PathBuf>,
    logfile: Option<PathBuf>,
}

#[derive(Default, Deserialize)]
#[serde(default, expecting = "a map")]
struct RawMetrics {
    enabled: Option<bool>,
    listen: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a map with `name` and `members`")]
struct RawGroup {
    name: String,
    members: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(default, expecting = "a map")]
struct RawTls {
    enabled: Option<bool>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    dir: Option<PathBuf>,
    auto_generate: Option<bool>,
    auto_gen: RawAutoGen,
    min_version: Option<TlsVersion>,
}

#[derive(Default, Deserialize)]
#[serde(default, expecting = "a map")]
struct RawAutoGen {
    common_name: Option<String>,
    dns_names: Option<Vec<String>>,
    /// Strings, parsed by the loader so that an error can show the bad entry.
    ip_addresses: Option<Vec<String>>,
    valid_days: Option<u32>,
}

#[derive(Default, Deserialize)]
#[serde(default, expecting = "a map")]
struct RawStore {
    url: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default, expecting = "a map")]
struct RawAuth {
    enabled: Option<bool>,
    database_path: Option<String>,
    database_type: Option<String>,
    jwt: RawJwt,
    admin: RawAdmin,
}

#[derive(Default, Deserialize)]
#[serde(default, expecting = "a map")]
struct RawJwt {
    secret: Option<Secret>,
    #[serde(with = "supervisor::duration::option")]
    expires_in: Option<Duration>,
}

#[derive(Default, Deserialize)]
#[serde(default, expecting = "a map")]
struct RawAdmin {
    auto_create: Option<bool>,
    username: Option<String>,
    password: Option<Secret>,
    email: Option<String>,
}

/// The top-level keys, in the order of the documentation (and of error reports).
const SECTIONS: [&str; 11] = [
    "pid_dir",
    "programs_directory",
    "env",
    "env_files",
    "log",
    "server",
    "store",
    "auth",
    "metrics",
    "processes",
    "groups",
];

/// The file's top level, each section deserialized on its own.
#[derive(Default)]
struct RawConfig {
    pid_dir: Option<PathBuf>,
    programs_directory: Option<PathBuf>,
    env: Option<Value>,
    env_files: Option<Vec<PathBuf>>,
    log: RawLog,
    server: RawServer,
    store: RawStore,
    auth: RawAuth,
    metrics: RawMetrics,
    processes: Option<Value>,
    groups: Option<Value>,
}

/// A process found in a file, with the key prefix its problems are reported under.
struct Found {
    entry: ProcessEntry,
    /// `"processes[2].spec"` in the main file, `"spec"` in a program file.
    spec_key: String,
}

/// Collects problems while turning a tree into a [`Config`].
struct Loader {
    /// The main config file, as given (for messages).
    file: PathBuf,
    /// Its directory, absolute: where relative paths start.
    base_dir: PathBuf,
    errors: Vec<ConfigError>,
    /// Jobs and cronjobs found so far, with the key prefix of their spec.
    jobs: Vec<(JobEntry, String)>,
    cronjobs: Vec<(CronJobEntry, String)>,
}

impl Loader {
    fn new(source: &Path) -> Loader {
        let absolute = std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf());
        let base_dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
        Loader { file: source.to_path_buf(), base_dir, errors: Vec::new(), jobs: Vec::new(), cronjobs: Vec::new() }
    }

    fn error(&mut self, file: &Path, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError { file: file.to_path_buf(), key: key.into(), message: message.into() });
    }

    /// Deserializes one subtree, recording its problems under `prefix`.
    fn parse<T: DeserializeOwned>(&mut self, file: &Path, prefix: &str, tree: Value) -> Option<T> {
        let (value, problems) = deserialize_all::<T>(tree);
        for (segs, message) in problems {
            self.error(file, render_key(prefix, &segs), message);
        }
        value
    }

    fn config(&mut self, root: Value) -> Config {
        let file = self.file.clone();
        let raw = self.raw_config(root);
        let pid_dir = raw.pid_dir.and_then(|p| self.path(&file, "pid_dir", p));
        let programs_directory = raw.programs_directory.and_then(|p| self.path(&file, "programs_directory", p));
        let log = self.log(raw.log);
        let server = self.server(raw.server);
        let store = self.store(raw.store, &raw.auth);
        let auth = self.auth(raw.auth);
        let global_env = self.global_env(raw.env_files.unwrap_or_default(), raw.env, &|k| std::env::var(k).ok());
        let metrics = self.metrics(raw.metrics);

        let mut found = raw.processes.map(|v| self.processes(v)).unwrap_or_default();
        if let Some(dir) = &programs_directory {
            found.extend(self.programs_directory(dir));
        }
        self.check_unique_names(&found);
        let groups = raw.groups.map(|v| self.groups(v, &found)).unwrap_or_default();
        self.check_unique_job_names();

        Config {
            source: Some(file),
            pid_dir,
            programs_directory,
            global_env,
            log,
            server,
            store,
            auth,
            metrics,
            processes: found.into_iter().map(|f| f.entry).collect(),
            groups,
            jobs: std::mem::take(&mut self.jobs).into_iter().map(|(e, _)| e).collect(),
            cronjobs: std::mem::take(&mut self.cronjobs).into_iter().map(|(e, _)| e).collect(),
        }
    }

    fn raw_config(&mut self, root: Value) -> RawConfig {
        let file = self.file.clone();
        let mut raw = RawConfig::default();
        let mut top = match root {
            Value::Object(map) => map,
            other => {
                let found = kind(&other);
                self.error(&file, "", format!("expected a map of settings, found {found}"));
                return raw;
            }
        };
        for key in top.keys().filter(|k| !SECTIONS.contains(&k.as_str())) {
            self.error(&file, key.as_str(), "unknown key");
        }
        for key in SECTIONS {
            // `key: ~` in YAML or `"key": null` in JSON means "not set".
            let Some(value) = top.remove(key).filter(|v| !v.is_null()) else {
                continue;
            };
            match key {
                "pid_dir" => raw.pid_dir = self.parse(&file, key, value),
                "programs_directory" => raw.programs_directory = self.parse(&file, key, value),
                "env" => raw.env = Some(value),
                "env_files" => raw.env_files = self.parse(&file, key, value),
                "metrics" => raw.metrics = self.parse(&file, key, value).unwrap_or_default(),
                "groups" => raw.groups = Some(value),
                "log" => raw.log = self.parse(&file, key, value).unwrap_or_default(),
                "server" => raw.server = self.parse(&file, key, value).unwrap_or_default(),
                "store" => raw.store = self.parse(&file, key, value).unwrap_or_default(),
                "auth" => raw.auth = self.parse(&file, key, value).unwrap_or_default(),
                "processes" => raw.processes = Some(value),
                _ => unreachable!("every entry of SECTIONS has an arm"),
            }
        }
        raw
    }

    /// The errors grouped as a reader meets them: the main file, then the program files in
    /// order; within a file whole-file problems, unknown top-level keys, then each section in
    /// [`SECTIONS`] order (the tree's maps are sorted by key, not in file order).
    fn into_sorted_errors(self) -> Vec<ConfigError> {
        let mut files: Vec<PathBuf> = vec![self.file.clone()];
        for e in &self.errors {
            if !files.contains(&e.file) {
                files.push(e.file.clone());
            }
        }
        let mut errors = self.errors;
        errors.sort_by_key(|e| {
            let file_rank = files.iter().position(|f| *f == e.file).unwrap_or(usize::MAX);
            let head = e.key.split(['.', '[']).next().unwrap_or_default();
            let section_rank =
                if e.key.is_empty() { 0 } else { SECTIONS.iter().position(|s| *s == head).map_or(1, |i| i + 2) };
            (file_rank, section_rank)
        });
        errors
    }

    /// A path from the file, resolved against the config file's directory.
    fn path(&mut self, file: &Path, key: &str, path: PathBuf) -> Option<PathBuf> {
        if path.as_os_str().is_empty() {
            self.error(file, key, "must not be empty");
            return None;
        }
        Some(resolve(&self.base_dir, &path))
    }

    fn log(&mut self, raw: RawLog) -> LogConfig {
        let file = self.file.clone();
        let defaults = LogConfig::default();
        let log = LogConfig {
            dir: raw.dir.and_then(|p| self.path(&file, "log.dir", p)),
            max_size_mb: raw.max_size_mb.unwrap_or(defaults.max_size_mb),
            max_backups: raw.max_backups.unwrap_or(defaults.max_backups),
            max_age_days: raw.max_age_days.unwrap_or(defaults.max_age_days),
            compress: raw.compress.unwrap_or(defaults.compress),
        };
        for (key, message) in log.validate() {
            self.error(&file, format!("log.{key}"), message);
        }
        log
    }

    fn server(&mut self, raw: RawServer) -> ServerConfig {
        let file = self.file.clone();
        if raw.enabled == Some(false) {
            self.error(
                &file,
                "server.enabled",
                "provisr is driven through its HTTP API and cannot run without it: remove the key or set it to true",
            );
        }
        let listen = raw.listen.map(|s| s.trim().to_string()).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        if let Err(message) = parse_listen(&listen) {
            self.error(&file, "server.listen", message);
        }
        let base_path = match raw.base_path {
            None => DEFAULT_BASE_PATH.to_string(),
            Some(p) => normalize_base_path(&p).unwrap_or_else(|message| {
                self.error(&file, "server.base_path", message);
                DEFAULT_BASE_PATH.to_string()
            }),
        };
        let tls = self.tls(raw.tls);
        let pidfile = raw.pidfile.and_then(|p| self.path(&file, "server.pidfile", p));
        let logfile = raw.logfile.and_then(|p| self.path(&file, "server.logfile", p));
        for (key, path) in [("server.pidfile", &pidfile), ("server.logfile", &logfile)] {
            if let Some(dir) = path.as_ref().and_then(|p| p.parent()) {
                if !dir.is_dir() {
                    self.error(&file, key, format!("the directory {} does not exist", dir.display()));
                }
            }
        }
        ServerConfig { listen, base_path, tls, pidfile, logfile }
    }

    fn tls(&mut self, raw: RawTls) -> TlsConfig {
        let file = self.file.clone();
        let defaults = TlsConfig::default();
        match (&raw.cert_file, &raw.key_file) {
            (Some(_), None) => {
                self.error(&file, "server.tls.key_file", "is required when cert_file is set (set both or neither)")
            }
            (None, Some(_)) => {
                self.error(&file, "server.tls.cert_file", "is required when key_file is set (set both or neither)")
            }
            _ => {}
        }
        let enabled = raw.enabled.unwrap_or(defaults.enabled);
        let auto_generate = raw.auto_generate.unwrap_or(defaults.auto_generate);
        let auto_gen = self.auto_gen(raw.auto_gen, enabled && auto_generate);
        TlsConfig {
            enabled,
            cert_file: raw.cert_file.and_then(|p| self.path(&file, "server.tls.cert_file", p)),
            key_file: raw.key_file.and_then(|p| self.path(&file, "server.tls.key_file", p)),
            dir: raw.dir.and_then(|p| self.path(&file, "server.tls.dir", p)),
            auto_generate,
            auto_gen,
            min_version: raw.min_version.unwrap_or(defaults.min_version),
        }
    }

    fn auto_gen(&mut self, raw: RawAutoGen, used: bool) -> AutoGenConfig {
        let file = self.file.clone();
        let defaults = AutoGenConfig::default();
        let common_name = raw.common_name.unwrap_or(defaults.common_name);
        if common_name.trim().is_empty() {
            self.error(&file, "server.tls.auto_gen.common_name", "must not be empty");
        }
        let mut ip_addresses = Vec::new();
        match raw.ip_addresses {
            None => ip_addresses = defaults.ip_addresses,
            Some(entries) => {
                for (i, entry) in entries.iter().enumerate() {
                    match entry.trim().parse::<IpAddr>() {
                        Ok(ip) if !ip_addresses.contains(&ip) => ip_addresses.push(ip),
                        Ok(_) => {}
                        Err(_) => self.error(
                            &file,
                            format!("server.tls.auto_gen.ip_addresses[{i}]"),
                            format!("{entry:?} is not an IP address"),
                        ),
                    }
                }
            }
        }
        let mut dns_names = Vec::new();
        for (i, name) in raw.dns_names.unwrap_or(defaults.dns_names).into_iter().enumerate() {
            if let Ok(ip) = name.trim().parse::<IpAddr>() {
                if !ip_addresses.contains(&ip) {
                    ip_addresses.push(ip);
                }
            } else if let Err(message) = check_dns_name(&name) {
                self.error(&file, format!("server.tls.auto_gen.dns_names[{i}]"), message);
            } else {
                dns_names.push(name.trim().to_ascii_lowercase());
            }
        }
        let valid_days = raw.valid_days.unwrap_or(defaults.valid_days);
        if !(1..=MAX_VALID_DAYS).contains(&valid_days) {
            self.error(
                &file,
                "server.tls.auto_gen.valid_days",
                format!("must be between 1 and {MAX_VALID_DAYS}, got {valid_days}"),
            );
        }
        if used && dns_names.is_empty() && ip_addresses.is_empty() {
            self.error(
                &file,
                "server.tls.auto_gen",
                "dns_names and ip_addresses are both empty: a generated certificate would be valid for no host",
            );
        }
        AutoGenConfig { common_name, dns_names, ip_addresses, valid_days }
    }

    /// `[store] url`, or the URL built from upstream's `[auth] database_path`/`database_type`.
    fn store(&mut self, raw: RawStore, auth: &RawAuth) -> StoreConfig {
        let file = self.file.clone();
        if let Some(url) = raw.url {
            return match store_url(&url, &self.base_dir) {
                Ok(url) => StoreConfig { url: Some(url) },
                Err(message) => {
                    self.error(&file, "store.url", message);
                    StoreConfig::default()
                }
            };
        }
        let kind = auth.database_type.as_deref().map(|t| t.trim().to_ascii_lowercase());
        let kind = match kind.as_deref() {
            None | Some("sqlite") | Some("sqlite3") => "sqlite",
            Some("postgres") | Some("postgresql") => "postgres",
            Some(other) => {
                self.error(
                    &file,
                    "auth.database_type",
                    format!("unknown database type {other:?}: use \"sqlite\" or \"postgres\""),
                );
                return StoreConfig::default();
            }
        };
        let Some(path) = auth.database_path.as_deref().map(str::trim) else {
            return StoreConfig::default();
        };
        if path.is_empty() {
            self.error(&file, "auth.database_path", "must not be empty");
            return StoreConfig::default();
        }
        let url = if kind == "postgres" {
            if !is_postgres_url(path) {
                self.error(
                    &file,
                    "auth.database_path",
                    "with database_type = \"postgres\" this must be a postgres:// URL",
                );
                return StoreConfig::default();
            }
            path.to_string()
        } else {
            format!("sqlite://{}?mode=rwc", resolve(&self.base_dir, Path::new(path)).display())
        };
        StoreConfig { url: Some(url) }
    }

    fn auth(&mut self, raw: RawAuth) -> AuthConfig {
        let file = self.file.clone();
        if let Some(secret) = &raw.jwt.secret {
            let len = secret.expose().len();
            if len < MIN_JWT_SECRET_BYTES {
                self.error(
                    &file,
                    "auth.jwt.secret",
                    format!("must be at least {MIN_JWT_SECRET_BYTES} bytes long, got {len}"),
                );
            }
        }
        let expires_in = raw.jwt.expires_in.unwrap_or(DEFAULT_JWT_EXPIRES_IN);
        if expires_in.is_zero() {
            self.error(&file, "auth.jwt.expires_in", "must be longer than zero");
        }
        let defaults = AdminConfig::default();
        let username = raw.admin.username.map(|u| u.trim().to_string()).unwrap_or(defaults.username);
        if username.is_empty() {
            self.error(&file, "auth.admin.username", "must not be empty");
        } else if username.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.error(&file, "auth.admin.username", "must not contain spaces or control characters");
        }
        if raw.admin.password.as_ref().is_some_and(|p| p.expose().is_empty()) {
            self.error(&file, "auth.admin.password", "must not be empty (leave it out to have one generated)");
        }
        let email = raw.admin.email.map(|e| e.trim().to_string());
        if let Some(email) = &email {
            if !email.contains('@') || email.chars().any(char::is_whitespace) {
                self.error(&file, "auth.admin.email", format!("{email:?} is not an e-mail address"));
            }
        }
        AuthConfig {
            enabled: raw.enabled.unwrap_or(true),
            jwt: JwtConfig { secret: raw.jwt.secret, expires_in },
            admin: AdminConfig {
                auto_create: raw.admin.auto_create.unwrap_or(defaults.auto_create),
                username,
                password: raw.admin.password,
                email,
            },
        }
    }

    /// `env_files` (in order, each file's lines in order), then `env`, into one ordered list;
    /// `${VAR}` is expanded from the entries before it, then from the daemon's environment
    /// (`lookup`); an unknown variable expands to nothing, as in a shell.
    fn global_env(
        &mut self,
        env_files: Vec<PathBuf>,
        env: Option<Value>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<(String, String)> {
        let file = self.file.clone();
        let mut out: Vec<(String, String)> = Vec::new();
        for (i, path) in env_files.into_iter().enumerate() {
            let key = format!("env_files[{i}]");
            let Some(path) = self.path(&file, &key, path) else {
                continue;
            };
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.error(&file, key, format!("the file {} does not exist", path.display()));
                    continue;
                }
                Err(e) => {
                    self.error(&file, key, format!("cannot read {}: {e}", path.display()));
                    continue;
                }
            };
            for (line, entry) in parse_dotenv(&text) {
                let result = entry.and_then(|(name, value, expand)| {
                    let value = if expand { expand_vars(&value, &out, lookup)? } else { value };
                    Ok((name, value))
                });
                match result {
                    Ok((name, value)) => set_env(&mut out, name, value),
                    Err(message) => {
                        self.error(&file, key.clone(), format!("{} line {line}: {message}", path.display()))
                    }
                }
            }
        }
        let entries: Vec<(String, EnvEntry)> = match env {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let entry = match item {
                        Value::String(s) => match s.split_once('=') {
                            Some((k, v)) => Ok((k.trim().to_string(), v.to_string())),
                            None => Err(format!("{s:?} is not KEY=VALUE")),
                        },
                        other => Err(format!("expected a \"KEY=VALUE\" string, found {}", kind(&other))),
                    };
                    (format!("env[{i}]"), entry)
                })
                .collect(),
            Some(Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| {
                    let value = match v {
                        Value::String(s) => Ok(s),
                        Value::Number(n) => Ok(n.to_string()),
                        Value::Bool(b) => Ok(b.to_string()),
                        other => Err(format!("expected a string, found {}", kind(&other))),
                    };
                    (format!("env.{k}"), value.map(|v| (k, v)))
                })
                .collect(),
            Some(other) => {
                let found = kind(&other);
                self.error(&file, "env", format!("expected a list of \"KEY=VALUE\" strings or a map, found {found}"));
                Vec::new()
            }
        };
        for (key, entry) in entries {
            let result = entry.and_then(|(name, value)| {
                check_env_name(&name)?;
                Ok((name.clone(), expand_vars(&value, &out, lookup)?))
            });
            match result {
                Ok((name, value)) => set_env(&mut out, name, value),
                Err(message) => self.error(&file, key, message),
            }
        }
        out
    }

    fn metrics(&mut self, raw: RawMetrics) -> MetricsConfig {
        let file = self.file.clone();
        let listen = raw.listen.map(|s| s.trim().to_string());
        if let Some(listen) = &listen {
            if let Err(message) = parse_listen(listen) {
                self.error(&file, "metrics.listen", message);
            }
            if raw.enabled == Some(false) {
                self.error(&file, "metrics.listen", "is set but metrics are disabled (enabled = false): remove one");
            }
        }
        MetricsConfig { enabled: raw.enabled.unwrap_or(listen.is_some()), listen }
    }

    /// `[[groups]]`: names unique and valid, every member a known process.
    fn groups(&mut self, tree: Value, found: &[Found]) -> Vec<GroupConfig> {
        let file = self.file.clone();
        let Value::Array(items) = tree else {
            let found = kind(&tree);
            self.error(&file, "groups", format!("expected a list of {{name, members}} entries, found {found}"));
            return Vec::new();
        };
        let known: BTreeSet<&str> = found.iter().map(|f| f.entry.spec.name.as_str()).collect();
        let mut groups: Vec<GroupConfig> = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let prefix = format!("groups[{i}]");
            let Some(raw) = self.parse::<RawGroup>(&file, &prefix, item) else {
                continue;
            };
            let name = raw.name.trim().to_string();
            if let Err(message) = supervisor::spec::validate_name(&name) {
                self.error(&file, format!("{prefix}.name"), message);
            } else if let Some(first) = groups.iter().position(|g| g.name == name) {
                self.error(
                    &file,
                    format!("{prefix}.name"),
                    format!("duplicate group name {name:?} (first at groups[{first}])"),
                );
            }
            if raw.members.is_empty() {
                self.error(&file, format!("{prefix}.members"), "must name at least one process");
            }
            let mut members: Vec<String> = Vec::new();
            for (j, member) in raw.members.into_iter().enumerate() {
                let member = member.trim().to_string();
                if !known.contains(member.as_str()) {
                    self.error(
                        &file,
                        format!("{prefix}.members[{j}]"),
                        format!("no process named {member:?} in [[processes]] or the programs directory"),
                    );
                } else if !members.contains(&member) {
                    members.push(member);
                }
            }
            groups.push(GroupConfig { name, members });
        }
        groups
    }

    /// `[[processes]]` of the main file.
    fn processes(&mut self, tree: Value) -> Vec<Found> {
        let file = self.file.clone();
        let Value::Array(items) = tree else {
            let found = kind(&tree);
            self.error(&file, "processes", format!("expected a list of {{type, spec}} entries, found {found}"));
            return Vec::new();
        };
        let mut found = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let prefix = format!("processes[{i}]");
            if let Some(spec) = self.entry(&file, &prefix, item) {
                found.push(Found {
                    entry: ProcessEntry { spec, origin: Origin::Config, file: file.clone() },
                    spec_key: render_key(&prefix, &[Seg::Key("spec".into())]),
                });
            }
        }
        found
    }

    /// One `{type, spec}` entry; the spec when it could be read (even with problems, so the
    /// duplicate checks still see it).
    fn entry(&mut self, file: &Path, prefix: &str, tree: Value) -> Option<ProcessSpec> {
        let key = |k: &str| render_key(prefix, &[Seg::Key(k.to_string())]);
        let Value::Object(mut map) = tree else {
            let found = kind(&tree);
            self.error(file, prefix, format!("expected a map with `type` and `spec`, found {found}"));
            return None;
        };
        let spec = map.remove("spec");
        const TYPES: &str = "\"process\", \"job\" or \"cronjob\"";
        let kind_ok = match map.remove("type") {
            None => {
                self.error(file, key("type"), format!("is required ({TYPES})"));
                false
            }
            Some(Value::String(t)) => match t.as_str() {
                "process" => true,
                "job" | "cronjob" => {
                    for unknown in map.keys() {
                        self.error(file, key(unknown), "unknown key");
                    }
                    let Some(spec) = spec else {
                        self.error(file, key("spec"), "is required");
                        return None;
                    };
                    self.job_entry(file, &key("spec"), t == "job", spec);
                    return None;
                }
                other => {
                    self.error(file, key("type"), format!("unknown type {other:?}: expected {TYPES}"));
                    false
                }
            },
            Some(other) => {
                let found = kind(&other);
                self.error(file, key("type"), format!("expected a string ({TYPES}), found {found}"));
                false
            }
        };
        for unknown in map.keys() {
            self.error(file, key(unknown), "unknown key");
        }
        let Some(spec) = spec else {
            self.error(file, key("spec"), "is required");
            return None;
        };
        let spec_key = key("spec");
        let spec: ProcessSpec = self.parse(file, &spec_key, spec)?;
        for (field, message) in spec.validate() {
            self.error(file, render_key(&spec_key, &[Seg::Key(field.to_string())]), message);
        }
        kind_ok.then_some(spec)
    }

    /// A `type = "job"` or `"cronjob"` entry's spec, checked with the engine's validation.
    fn job_entry(&mut self, file: &Path, spec_key: &str, is_job: bool, spec: Value) {
        let problems = if is_job {
            let Some(spec) = self.parse::<JobSpec>(file, spec_key, spec) else { return };
            let problems = spec.validate();
            self.jobs.push((JobEntry { spec, file: file.to_path_buf() }, spec_key.to_string()));
            problems
        } else {
            let Some(spec) = self.parse::<CronJobSpec>(file, spec_key, spec) else { return };
            let problems = spec.validate();
            self.cronjobs.push((CronJobEntry { spec, file: file.to_path_buf() }, spec_key.to_string()));
            problems
        };
        for (field, message) in problems {
            self.error(file, render_key(spec_key, &[Seg::Key(field.to_string())]), message);
        }
    }

    /// Job names are unique among jobs, cronjob names among cronjobs.
    fn check_unique_job_names(&mut self) {
        let mut problems = Vec::new();
        let mut seen: HashMap<&str, (&Path, &str)> = HashMap::new();
        for (e, key) in &self.jobs {
            if let Some((f, k)) = seen.insert(&e.spec.name, (&e.file, key)) {
                let message = format!("duplicate job name {:?} (first defined at {}: {k})", e.spec.name, f.display());
                problems.push((e.file.clone(), render_key(key, &[Seg::Key("name".into())]), message));
            }
        }
        let mut seen: HashMap<&str, (&Path, &str)> = HashMap::new();
        for (e, key) in &self.cronjobs {
            if let Some((f, k)) = seen.insert(&e.spec.name, (&e.file, key)) {
                let message =
                    format!("duplicate cronjob name {:?} (first defined at {}: {k})", e.spec.name, f.display());
                problems.push((e.file.clone(), render_key(key, &[Seg::Key("name".into())]), message));
            }
        }
        for (file, key, message) in problems {
            self.error(&file, key, message);
        }
    }

    /// Every `*.toml`, `*.yaml`, `*.yml` and `*.json` file of the programs directory, by file
    /// name. Other files, and hidden files (editor droppings), are ignored.
    fn programs_directory(&mut self, dir: &Path) -> Vec<Found> {
        let file = self.file.clone();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                let message = if e.kind() == std::io::ErrorKind::NotFound {
                    format!("directory {} does not exist", dir.display())
                } else {
                    format!("cannot read directory {}: {e}", dir.display())
                };
                self.error(&file, "programs_directory", message);
                return Vec::new();
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .filter(|p| Format::from_path(p).is_some())
            .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
            .collect();
        paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));

        let mut found = Vec::new();
        for path in paths {
            let format = Format::from_path(&path).expect("filtered on a known extension above");
            let tree = match std::fs::read_to_string(&path) {
                Ok(text) => parse_tree(&text, format),
                Err(e) => Err(format!("cannot read the file: {e}")),
            };
            let tree = match tree {
                Ok(tree) => tree,
                Err(message) => {
                    self.error(&path, "", message);
                    continue;
                }
            };
            if let Some(spec) = self.entry(&path, "", tree) {
                found.push(Found {
                    entry: ProcessEntry { spec, origin: Origin::ProgramsDir, file: path },
                    spec_key: "spec".to_string(),
                });
            }
        }
        found
    }

    /// Names and instance names must be unique across every source: the supervisor and the
    /// API address instances by name.
    fn check_unique_names(&mut self, found: &[Found]) {
        // name -> (file, key) of its first definition
        let mut names: HashMap<&str, (&Path, &str)> = HashMap::new();
        // instance name -> (process name, file, key)
        let mut instances: HashMap<String, (&str, &Path, &str)> = HashMap::new();
        for f in found {
            let spec = &f.entry.spec;
            let file = f.entry.file.as_path();
            let name_key = render_key(&f.spec_key, &[Seg::Key("name".into())]);
            if let Some((first_file, first_key)) = names.get(spec.name.as_str()) {
                let message = format!(
                    "duplicate process name {:?} (first defined at {}: {first_key})",
                    spec.name,
                    first_file.display()
                );
                self.error(file, name_key, message);
                continue;
            }
            names.insert(&spec.name, (file, &f.spec_key));
            for instance in spec.instance_names() {
                if let Some((owner, other_file, other_key)) = instances.get(&instance) {
                    let message = format!(
                        "instance name {instance:?} collides with an instance of process {owner:?} ({}: {other_key})",
                        other_file.display()
                    );
                    self.error(file, name_key.clone(), message);
                    break;
                }
                instances.insert(instance, (&spec.name, file, &f.spec_key));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Step 3 helpers: values and their meaning.

/// `path` itself when absolute, else under `base`; `.` steps are dropped (`./tls` → `<base>/tls`).
fn resolve(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    joined.components().filter(|c| !matches!(c, Component::CurDir)).collect()
}

/// What a `listen` string stands for.
#[derive(Debug, PartialEq, Eq)]
enum Listen {
    /// `":PORT"`
    AnyInterface(u16),
    /// `"127.0.0.1:PORT"`, `"[::1]:PORT"`
    Addr(SocketAddr),
    /// `"localhost:PORT"`, `"myhost.example:PORT"`
    Host(String, u16),
}

fn parse_listen(s: &str) -> Result<Listen, String> {
    const FORMS: &str = "use \":PORT\", \"HOST:PORT\" or \"[IPv6]:PORT\", e.g. \":8443\" or \"127.0.0.1:8443\"";
    let s = s.trim();
    let port = |p: &str| {
        p.parse::<u16>().map_err(|_| format!("invalid port {p:?} in {s:?}: must be a number from 0 to 65535"))
    };
    if let Some(p) = s.strip_prefix(':') {
        return port(p).map(Listen::AnyInterface);
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(Listen::Addr(addr));
    }
    let Some((host, p)) = s.rsplit_once(':') else {
        return Err(format!("invalid listen address {s:?}: no port; {FORMS}"));
    };
    if host.contains(':') || host.starts_with('[') {
        return Err(format!("invalid listen address {s:?}: write IPv6 addresses in brackets; {FORMS}"));
    }
    let port = port(p)?;
    check_dns_name(host).map_err(|e| format!("invalid host in listen address {s:?}: {e}; {FORMS}"))?;
    Ok(Listen::Host(host.to_string(), port))
}

/// A host name: dot-separated labels of letters, digits and `-` (a leading `*.` is allowed
/// for certificate names); at most 253 characters.
fn check_dns_name(name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("must not be empty".to_string());
    }
    if name.len() > 253 {
        return Err(format!("{name:?} is longer than 253 characters"));
    }
    let labels = name.strip_prefix("*.").unwrap_or(name);
    let ok = labels.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a valid host name"))
    }
}

/// `"/api/"` → `"/api"`, `"//a//b"` → `"/a/b"`; must start with `/` and must not be the root,
/// where the console is served.
fn normalize_base_path(raw: &str) -> Result<String, String> {
    let p = raw.trim();
    if !p.starts_with('/') {
        return Err(format!("must start with \"/\", e.g. \"/api\"; got {raw:?}"));
    }
    let segments: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    if segments.is_empty() {
        return Err("must not be \"/\": the console is served at the root; use e.g. \"/api\"".to_string());
    }
    for seg in &segments {
        if *seg == "." || *seg == ".." {
            return Err(format!("must not contain {seg:?} segments; got {raw:?}"));
        }
        if let Some(c) = seg.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'))) {
            return Err(format!("invalid character {c:?} in {raw:?}: allowed are A-Z a-z 0-9 - _ . ~ and /"));
        }
    }
    Ok(format!("/{}", segments.join("/")))
}

/// Sets `name` in the ordered environment: in place when it is there already.
fn set_env(env: &mut Vec<(String, String)>, name: String, value: String) {
    match env.iter_mut().find(|(k, _)| *k == name) {
        Some(slot) => slot.1 = value,
        None => env.push((name, value)),
    }
}

/// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn check_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("invalid variable name {name:?}: use letters, digits and _, not starting with a digit"))
    }
}

/// Replaces every `${NAME}` in `value`: from `env` (the entries defined so far), else from
/// `lookup` (the daemon's environment), else with nothing. `$$` is a literal `$`; any other
/// `$` is kept as it is.
fn expand_vars(
    value: &str,
    env: &[(String, String)],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let Some(close) = tail.find('}') else {
                return Err(format!("unclosed \"${{\" in {value:?}"));
            };
            let name = &tail[..close];
            check_env_name(name).map_err(|e| format!("in {value:?}: {e}"))?;
            match env.iter().rev().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                None => out.push_str(&lookup(name).unwrap_or_default()),
            }
            rest = &tail[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// One `env` entry of the config: `(name, value)` or what is wrong with it.
type EnvEntry = Result<(String, String), String>;

/// One entry of a dotenv file: `(name, value, expand)`; single-quoted values are literal.
type DotenvEntry = Result<(String, String, bool), String>;

/// The entries of a dotenv file with their 1-based line numbers: `KEY=VALUE` lines, an
/// optional `export ` prefix, `#` comments, blank lines, and values unquoted (trimmed; a
/// ` #` starts a comment), `'single-quoted'` (literal) or `"double-quoted"` (escapes
/// `\n`, `\t`, `\"`, `\\`).
fn parse_dotenv(text: &str) -> Vec<(usize, DotenvEntry)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let entry = match line.split_once('=') {
            None => Err(format!("{line:?} is not KEY=VALUE")),
            Some((name, value)) => {
                let name = name.trim();
                check_env_name(name).and_then(|()| dotenv_value(value.trim()).map(|(v, e)| (name.to_string(), v, e)))
            }
        };
        out.push((i + 1, entry));
    }
    out
}

fn dotenv_value(v: &str) -> Result<(String, bool), String> {
    if let Some(inner) = v.strip_prefix('\'') {
        let end = inner.find('\'').ok_or("unterminated single quote")?;
        return Ok((inner[..end].to_string(), false));
    }
    if let Some(inner) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Ok((out, true)),
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        return Err("unterminated double quote".to_string());
    }
    let v = match v.find(" #") {
        Some(at) => v[..at].trim_end(),
        None => v,
    };
    Ok((v.to_string(), true))
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Checks a `[store] url` and resolves the path of a relative `sqlite://` URL against the
/// config file's directory. Messages never repeat the URL: it may hold a password.
fn store_url(url: &str, base: &Path) -> Result<String, String> {
    let url = url.trim();
    if is_postgres_url(url) {
        if url.split_once("://").is_some_and(|(_, rest)| rest.is_empty()) {
            return Err("the postgres URL names no server".to_string());
        }
        return Ok(url.to_string());
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        let what = if scheme.is_empty() {
            "is not a URL".to_string()
        } else {
            format!("has the unsupported scheme {scheme:?}")
        };
        return Err(format!("{what}: use sqlite://PATH or postgres://USER@HOST/DB"));
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err("the sqlite URL names no database file".to_string());
    }
    if path == ":memory:" {
        return Ok(url.to_string());
    }
    let path = resolve(base, Path::new(path));
    Ok(match query {
        Some(q) => format!("sqlite://{}?{q}", path.display()),
        None => format!("sqlite://{}", path.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config")
    }

    /// Loads text as a TOML file at a made-up absolute path.
    fn toml(text: &str) -> Result<Config, ConfigErrors> {
        Config::from_str(text, Format::Toml, Path::new("/etc/provisr/config.toml"))
    }

    fn keys(errs: &ConfigErrors) -> Vec<&str> {
        errs.0.iter().map(|e| e.key.as_str()).collect()
    }

    fn message_for<'a>(errs: &'a ConfigErrors, key: &str) -> &'a str {
        errs.0
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.message.as_str())
            .unwrap_or_else(|| panic!("no error for {key}: {errs}"))
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.source, None);
        assert_eq!(c.server.listen, ":8443");
        assert_eq!(c.server.base_path, "/api");
        assert!(c.server.tls.enabled);
        assert!(c.server.tls.auto_generate);
        assert_eq!(c.server.tls.auto_gen.common_name, "localhost");
        assert_eq!(c.server.tls.auto_gen.dns_names, ["localhost"]);
        assert_eq!(
            c.server.tls.auto_gen.ip_addresses,
            ["127.0.0.1".parse::<IpAddr>().expect("ip"), "::1".parse().expect("ip")]
        );
        assert_eq!(c.server.tls.auto_gen.valid_days, 365);
        assert_eq!(c.server.tls.min_version, TlsVersion::Tls12);
        assert_eq!(c.store.url, None);
        assert!(c.auth.enabled);
        assert_eq!(c.auth.jwt.expires_in, Duration::from_secs(86_400));
        assert!(c.auth.admin.auto_create);
        assert_eq!(c.auth.admin.username, "admin");
        assert!(c.processes.is_empty());

        // An empty file means the defaults, in every format.
        for (text, format) in [("", Format::Toml), ("", Format::Yaml), ("{}", Format::Json)] {
            let loaded = Config::from_str(text, format, Path::new("/x/c")).expect("empty config");
            assert_eq!(Config { source: None, ..loaded }, c, "{format:?}");
        }
    }

    #[test]
    fn each_format_loads_the_same_config() {
        let dir = fixtures();
        let load = |name: &str| Config::load(&dir.join(name)).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        let t = load("full.toml");
        let y = load("full.yaml");
        let j = load("full.json");

        assert_eq!(t.pid_dir, Some(dir.join("run")));
        assert_eq!(
            t.log,
            LogConfig {
                dir: Some(dir.join("logs")),
                max_size_mb: 50,
                max_backups: 4,
                max_age_days: 14,
                compress: true
            }
        );
        assert_eq!(t.server.listen, "127.0.0.1:9443");
        assert_eq!(t.server.base_path, "/api/v1");
        assert_eq!(t.server.tls.min_version, TlsVersion::Tls13);
        assert_eq!(t.server.tls.auto_gen.dns_names, ["localhost", "provisr.local"]);
        assert_eq!(t.server.tls.auto_gen.ip_addresses, ["127.0.0.1".parse::<IpAddr>().expect("ip")]);
        assert_eq!(t.auth.jwt.expires_in, Duration::from_secs(3600));
        assert_eq!(t.auth.admin.password.as_ref().map(Secret::expose), Some("change-me"));
        assert_eq!(t.processes.len(), 2);
        assert_eq!(t.processes[0].spec.name, "web");
        assert_eq!(t.processes[0].origin, Origin::Config);
        assert_eq!(t.processes[1].spec.instances, 2);
        assert_eq!(t.processes[1].spec.stop_timeout, Duration::from_secs(5));
        let env: Vec<(&str, &str)> = t.global_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(env, [("APP_HOME", "/srv/app"), ("DATA", "/srv/app/data"), ("MODE", "test")]);
        assert_eq!(t.server.pidfile, Some(dir.join("provisr.pid")));
        assert_eq!(t.server.logfile, Some(dir.join("provisr.log")));
        assert_eq!(t.metrics, MetricsConfig { enabled: true, listen: Some("127.0.0.1:9090".into()) });
        assert_eq!(t.groups, [GroupConfig { name: "all".into(), members: vec!["web".into(), "worker".into()] }]);

        let same_but_source = |c: &Config| Config {
            source: None,
            processes: c.processes.iter().map(|p| ProcessEntry { file: PathBuf::new(), ..p.clone() }).collect(),
            ..c.clone()
        };
        assert_eq!(same_but_source(&t), same_but_source(&y), "toml vs yaml");
        assert_eq!(same_but_source(&t), same_but_source(&j), "toml vs json");
    }

    #[test]
    fn every_error_at_once() {
        let path = fixtures().join("errors.toml");
        let errs = Config::load(&path).expect_err("errors.toml is invalid");
        let text = errs.to_string();
        for key in [
            "colour",
            "env[0]",
            "env_files[0]",
            "log.max_size",
            "log.max_size_mb",
            "log.max_backups",
            "server.listen",
            "server.base_path",
            "server.tls.key_file",
            "server.tls.min_version",
            "server.tls.auto_gen.valid_days",
            "store.url",
            "auth.jwt.secret",
            "auth.jwt.expires_in",
            "processes[0].spec.command",
            "processes[0].spec.colour",
            "processes[0].spec.size",
            "processes[0].spec.instances",
            "processes[1].spec.parallelism",
            "processes[2].spec.name",
            "metrics.listen",
            "groups[0].members[1]",
        ] {
            assert!(keys(&errs).contains(&key), "missing {key} in:\n{text}");
        }
        for e in &errs.0 {
            assert_eq!(e.file, path);
            assert!(e.to_string().starts_with(&format!("{}: {}: ", path.display(), e.key)), "{e}");
        }
        assert_eq!(text.lines().count(), errs.0.len(), "one line per problem:\n{text}");
        assert!(message_for(&errs, "processes[1].spec.parallelism").contains("at least 1"), "{text}");
        assert!(message_for(&errs, "processes[2].spec.name").contains("duplicate"), "{text}");
        // The secret is measured, never shown.
        assert!(!text.contains("too-short"), "{text}");
    }

    #[test]
    fn unknown_keys_are_named_with_their_full_path() {
        let errs = toml(
            r#"
            typo = 1
            [server]
            lisen = ":1"
            [server.tls.auto_gen]
            dns = ["x"]
            [auth.admin]
            name = "root"
            [[processes]]
            type = "process"
            extra = true
            [processes.spec]
            name = "a"
            command = "true"
            colour = "red"
            shape = "round"
            "#,
        )
        .expect_err("unknown keys");
        let mut got = keys(&errs);
        got.sort();
        assert_eq!(
            got,
            [
                "auth.admin.name",
                "processes[0].extra",
                "processes[0].spec.colour",
                "processes[0].spec.shape",
                "server.lisen",
                "server.tls.auto_gen.dns",
                "typo",
            ],
            "{errs}"
        );
        assert!(errs.0.iter().all(|e| e.message.starts_with("unknown key")), "{errs}");
    }

    #[test]
    fn every_type_error_in_a_section_is_reported() {
        let errs = toml(
            r#"
            [server]
            listen = 8443
            base_path = true
            [server.tls]
            enabled = "yes"
            "#,
        )
        .expect_err("type errors");
        let mut got = keys(&errs);
        got.sort();
        assert_eq!(got, ["server.base_path", "server.listen", "server.tls.enabled"], "{errs}");
        assert!(message_for(&errs, "server.listen").contains("invalid type"), "{errs}");
    }

    #[test]
    fn a_missing_required_spec_key_is_reported_once() {
        let errs = toml("[[processes]]\ntype = \"process\"\nspec = { command = \"true\" }\n").expect_err("no name");
        assert_eq!(keys(&errs), ["processes[0].spec.name"]);
        assert_eq!(errs.0[0].message, "is required");
        let errs =
            toml("[[processes]]\ntype = \"process\"\nspec = { name = 5, command = \"true\" }\n").expect_err("bad name");
        assert_eq!(keys(&errs), ["processes[0].spec.name"], "{errs}");
        assert!(errs.0[0].message.contains("invalid type"), "{errs}");
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let errs = toml("[server]\nlisten = \n").expect_err("toml syntax");
        assert_eq!(errs.0.len(), 1);
        assert_eq!(errs.0[0].key, "");
        assert!(errs.0[0].message.contains("line 2, column 10"), "{errs}");
        assert!(errs.to_string().starts_with("/etc/provisr/config.toml: syntax error"), "{errs}");

        let errs = Config::from_str("server:\n  listen: [\n", Format::Yaml, Path::new("c.yaml")).expect_err("yaml");
        assert!(errs.0[0].message.contains("line 3"), "{errs}");
        let errs = Config::from_str("{\"server\": {,}}", Format::Json, Path::new("c.json")).expect_err("json");
        assert!(errs.0[0].message.contains("line 1 column"), "{errs}");
    }

    #[test]
    fn load_names_the_file() {
        let missing = fixtures().join("nope.toml");
        let errs = Config::load(&missing).expect_err("missing file");
        assert!(errs.to_string().starts_with(&missing.display().to_string()), "{errs}");
        let errs = Config::load(Path::new("config.ini")).expect_err("extension");
        assert!(errs.0[0].message.contains("extension"), "{errs}");
    }

    #[test]
    fn relative_paths_start_at_the_config_file() {
        let c = toml(
            r#"
            pid_dir = "run"
            programs_directory = "/abs/programs-not-read"
            [log]
            dir = "./logs"
            [server.tls]
            cert_file = "tls/cert.pem"
            key_file = "/etc/ssl/key.pem"
            dir = "../shared/tls"
            [auth]
            database_path = "data/auth.db"
            "#,
        );
        // The programs directory does not exist: that is the only error.
        let errs = c.expect_err("missing programs dir");
        assert_eq!(keys(&errs), ["programs_directory"]);
        assert!(errs.0[0].message.contains("does not exist"), "{errs}");

        let c = toml(
            r#"
            pid_dir = "run"
            [log]
            dir = "./logs"
            [server.tls]
            cert_file = "tls/cert.pem"
            key_file = "/etc/ssl/key.pem"
            dir = "../shared/tls"
            [auth]
            database_path = "data/auth.db"
            "#,
        )
        .expect("valid");
        assert_eq!(c.pid_dir, Some(PathBuf::from("/etc/provisr/run")));
        assert_eq!(c.log.dir, Some(PathBuf::from("/etc/provisr/logs")));
        assert_eq!(c.server.tls.cert_file, Some(PathBuf::from("/etc/provisr/tls/cert.pem")));
        assert_eq!(c.server.tls.key_file, Some(PathBuf::from("/etc/ssl/key.pem")));
        assert_eq!(c.server.tls.dir, Some(PathBuf::from("/etc/provisr/../shared/tls")));
        assert_eq!(c.store.url.as_deref(), Some("sqlite:///etc/provisr/data/auth.db?mode=rwc"));

        // A relative source path is made absolute first.
        let c = Config::from_str("pid_dir = \"run\"", Format::Toml, Path::new("conf/c.toml")).expect("valid");
        let cwd = std::env::current_dir().expect("cwd");
        assert_eq!(c.pid_dir, Some(cwd.join("conf/run")));
        assert_eq!(c.source, Some(PathBuf::from("conf/c.toml")));
    }

    #[test]
    fn store_url_and_upstream_database_keys() {
        let url = |text: &str| toml(text).map(|c| c.store.url);
        assert_eq!(
            url("[store]\nurl = \"postgres://u:p@db/provisr\"").expect("pg"),
            Some("postgres://u:p@db/provisr".into())
        );
        assert_eq!(url("[store]\nurl = \"postgresql://db/x\"").expect("pg"), Some("postgresql://db/x".into()));
        assert_eq!(
            url("[store]\nurl = \"sqlite:///var/lib/p.db\"").expect("abs"),
            Some("sqlite:///var/lib/p.db".into())
        );
        assert_eq!(
            url("[store]\nurl = \"sqlite://p.db?mode=rwc\"").expect("rel"),
            Some("sqlite:///etc/provisr/p.db?mode=rwc".into())
        );
        assert_eq!(url("[store]\nurl = \"sqlite::memory:\"").expect("mem"), Some("sqlite::memory:".into()));
        // [store] url overrides the upstream keys.
        assert_eq!(
            url("[store]\nurl = \"postgres://db/a\"\n[auth]\ndatabase_path = \"x.db\"").expect("override"),
            Some("postgres://db/a".into())
        );
        assert_eq!(
            url("[auth]\ndatabase_type = \"postgres\"\ndatabase_path = \"postgres://db/b\"").expect("upstream pg"),
            Some("postgres://db/b".into())
        );

        let errs = url("[store]\nurl = \"mysql://root:hunter2@db/x\"").expect_err("mysql");
        assert_eq!(keys(&errs), ["store.url"]);
        assert!(errs.0[0].message.contains("\"mysql\""), "{errs}");
        assert!(!errs.to_string().contains("hunter2"), "the URL's password leaked: {errs}");
        let errs = url("[auth]\ndatabase_type = \"oracle\"").expect_err("oracle");
        assert_eq!(keys(&errs), ["auth.database_type"]);
        let errs = url("[auth]\ndatabase_type = \"postgres\"\ndatabase_path = \"db.sqlite\"").expect_err("pg path");
        assert_eq!(keys(&errs), ["auth.database_path"]);
    }

    #[test]
    fn programs_directory_is_loaded_in_file_name_order() {
        let path = fixtures().join("with_programs.toml");
        let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let programs = fixtures().join("programs");
        assert_eq!(c.programs_directory, Some(programs.clone()));
        let got: Vec<(&str, Origin, PathBuf)> =
            c.processes.iter().map(|p| (p.spec.name.as_str(), p.origin, p.file.clone())).collect();
        assert_eq!(
            got,
            [
                ("main", Origin::Config, path.clone()),
                ("web", Origin::ProgramsDir, programs.join("10-web.toml")),
                ("worker", Origin::ProgramsDir, programs.join("20-worker.yaml")),
                ("api", Origin::ProgramsDir, programs.join("30-api.json")),
            ]
        );
        assert_eq!(c.processes[2].spec.instances, 3);
        // Program files may hold a job or a cronjob too.
        assert_eq!(c.cronjobs.len(), 1);
        assert_eq!(
            (c.cronjobs[0].spec.name.as_str(), &c.cronjobs[0].file),
            ("report", &programs.join("40-report.yaml"))
        );
        assert_eq!(c.cronjobs[0].spec.time_zone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(c.jobs.len(), 1);
        assert_eq!((c.jobs[0].spec.name.as_str(), c.jobs[0].spec.completions), ("migrate", Some(2)));
    }

    #[test]
    fn programs_directory_problems_name_the_program_file() {
        let bad = fixtures().join("bad_programs");
        let text = format!("programs_directory = {:?}\n", bad.display().to_string());
        let errs = toml(&text).expect_err("bad programs");
        let got: Vec<(String, &str)> = errs
            .0
            .iter()
            .map(|e| (e.file.file_name().expect("name").to_string_lossy().into_owned(), e.key.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("a-cron.toml".to_string(), "spec.job_template"),
                ("b-broken.json".to_string(), ""),
                ("c-typo.yaml".to_string(), "spec.commnd"),
                ("c-typo.yaml".to_string(), "spec.command"),
                ("d-dup.toml".to_string(), "spec.name"),
            ],
            "{errs}"
        );
        assert!(errs.0[1].message.starts_with("syntax error"), "{errs}");
        assert!(errs.0[4].message.contains("c-typo.yaml"), "{errs}");
    }

    #[test]
    fn duplicate_names_and_instance_names() {
        let errs = toml(
            r#"
            [[processes]]
            type = "process"
            spec = { name = "web", command = "true", instances = 2 }
            [[processes]]
            type = "process"
            spec = { name = "web-2", command = "true" }
            [[processes]]
            type = "process"
            spec = { name = "web", command = "true" }
            "#,
        )
        .expect_err("duplicates");
        assert_eq!(keys(&errs), ["processes[1].spec.name", "processes[2].spec.name"], "{errs}");
        assert!(errs.0[0].message.contains("instance name \"web-2\""), "{errs}");
        assert!(errs.0[1].message.contains("duplicate process name \"web\""), "{errs}");
    }

    #[test]
    fn process_types() {
        let entry =
            |t: &str| toml(&format!("[[processes]]\ntype = {t:?}\nspec = {{ name = \"a\", command = \"true\" }}\n"));
        assert!(entry("process").is_ok());
        let c = entry("job").expect("a job entry");
        assert_eq!((c.processes.len(), c.jobs.len()), (0, 1));
        assert_eq!(c.jobs[0].spec.name, "a");
        let c = toml(
            "[[processes]]\ntype = \"cronjob\"\n[processes.spec]\nname = \"c\"\nschedule = \"*/5 * * * * *\"\ntime_zone = \"Europe/Berlin\"\n[processes.spec.job_template]\ncommand = \"true\"\n",
        )
        .expect("a cronjob entry");
        assert_eq!(c.cronjobs.len(), 1);
        assert_eq!(c.cronjobs[0].spec.time_zone.as_deref(), Some("Europe/Berlin"));
        let errs = entry("daemon").expect_err("unknown type");
        assert!(errs.0[0].message.contains("unknown type \"daemon\""), "{errs}");
        let errs = toml("[[processes]]\nspec = { name = \"a\", command = \"true\" }\n").expect_err("no type");
        assert_eq!(keys(&errs), ["processes[0].type"]);
        let errs = toml("processes = [1]").expect_err("not a map");
        assert_eq!(keys(&errs), ["processes[0]"]);
    }

    #[test]
    fn job_and_cronjob_problems_are_reported_with_their_keys() {
        let errs = toml(
            r#"
[[processes]]
type = "cronjob"
[processes.spec]
name = "c"
schedule = "61 * * * *"
time_zone = "Mars/Olympus"
concurrency_policy = "Sometimes"
[processes.spec.job_template]
command = "true"

[[processes]]
type = "job"
spec = { name = "j", command = "true", completion_mode = "Indexed" }

[[processes]]
type = "job"
spec = { name = "j", command = "true" }

[[processes]]
type = "cronjob"
extra = 1
spec = { name = "d", schedule = "@every 1s", job_template = { command = "true", colour = "red" } }
"#,
        )
        .expect_err("invalid jobs");
        assert_eq!(
            keys(&errs),
            [
                "processes[0].spec.concurrency_policy",
                "processes[0].spec.schedule",
                "processes[0].spec.time_zone",
                "processes[1].spec.completions",
                "processes[3].extra",
                "processes[3].spec.job_template.colour",
                "processes[2].spec.name",
            ],
            "{errs}"
        );
        assert!(message_for(&errs, "processes[2].spec.name").contains("duplicate job name"), "{errs}");
        // Alone, the schedule and the time zone are reported, each under its key.
        let errs = toml(
            "[[processes]]\ntype = \"cronjob\"\nspec = { name = \"c\", schedule = \"61 * * * *\", time_zone = \"Mars/Olympus\", job_template = { command = \"true\" } }\n",
        )
        .expect_err("bad schedule");
        assert_eq!(keys(&errs), ["processes[0].spec.schedule", "processes[0].spec.time_zone"], "{errs}");
        // A job and a cronjob may share a name with a process: they are different kinds.
        let c = toml(
            "[[processes]]\ntype = \"process\"\nspec = { name = \"x\", command = \"true\" }\n[[processes]]\ntype = \"job\"\nspec = { name = \"x\", command = \"true\" }\n",
        )
        .expect("a process and a job named alike");
        assert_eq!((c.processes.len(), c.jobs.len()), (1, 1));
    }

    #[test]
    fn durations_as_strings_and_nanoseconds() {
        let c = Config::from_str(
            r#"
            auth: { jwt: { expires_in: "90m" } }
            processes:
              - type: process
                spec: { name: a, command: "true", stop_timeout: "1m30s", restart_interval: 250000000 }
            "#,
            Format::Yaml,
            Path::new("/c.yaml"),
        )
        .expect("valid");
        assert_eq!(c.auth.jwt.expires_in, Duration::from_secs(90 * 60));
        assert_eq!(c.processes[0].spec.stop_timeout, Duration::from_secs(90));
        assert_eq!(c.processes[0].spec.restart_interval, Duration::from_millis(250));

        let c = toml("[auth.jwt]\nexpires_in = 3600000000000").expect("nanoseconds");
        assert_eq!(c.auth.jwt.expires_in, Duration::from_secs(3600));

        let errs = toml("[auth.jwt]\nexpires_in = \"soon\"").expect_err("bad duration");
        assert_eq!(keys(&errs), ["auth.jwt.expires_in"]);
        assert!(errs.0[0].message.contains("invalid duration"), "{errs}");
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let secret = "s3cret-s3cret-s3cret-s3cret-s3cret!";
        let c = toml(&format!("[auth.jwt]\nsecret = {secret:?}\n[auth.admin]\npassword = \"hunter2-admin\"\n"))
            .expect("valid");
        assert_eq!(c.auth.jwt.secret.as_ref().map(Secret::expose), Some(secret));
        let debug = format!("{c:?} {c:#?}");
        assert!(!debug.contains(secret), "{debug}");
        assert!(!debug.contains("hunter2-admin"), "{debug}");
        assert!(debug.contains("[redacted]"));

        // A wrongly typed secret is not echoed either.
        let errs = toml("[auth.jwt]\nsecret = 123456789012345678").expect_err("not a string");
        assert!(!errs.to_string().contains("123456789012345678"), "{errs}");
    }

    #[test]
    fn listen_parsing() {
        let server = |listen: &str| ServerConfig { listen: listen.to_string(), ..ServerConfig::default() };
        let addr = |s: &str| s.parse::<SocketAddr>().expect("addr");

        assert_eq!(server(":8443").listen_addrs(), [addr("[::]:8443"), addr("0.0.0.0:8443")]);
        assert_eq!(server("127.0.0.1:0").listen_addrs(), [addr("127.0.0.1:0")]);
        assert_eq!(server("[::1]:9000").listen_addrs(), [addr("[::1]:9000")]);
        assert_eq!(server("localhost:8443").listen_addrs(), [addr("127.0.0.1:8443"), addr("[::1]:8443")]);

        for ok in [":8443", "127.0.0.1:0", "[::1]:9000", "localhost:8443", "0.0.0.0:80", "my-host.example:443"] {
            assert!(toml(&format!("[server]\nlisten = {ok:?}")).is_ok(), "{ok}");
        }
        for bad in ["garbage", "", ":", ":99999", "localhost:", "::1:9000", "host name:80", "1.2.3.4:http"] {
            let errs = toml(&format!("[server]\nlisten = {bad:?}")).expect_err(bad);
            assert_eq!(keys(&errs), ["server.listen"], "{bad}: {errs}");
        }
        assert!(server("garbage").listen_addrs().is_empty());
    }

    #[test]
    fn base_path_is_normalised() {
        let base = |p: &str| toml(&format!("[server]\nbase_path = {p:?}")).map(|c| c.server.base_path);
        assert_eq!(base("/api").expect("ok"), "/api");
        assert_eq!(base("/api/").expect("ok"), "/api");
        assert_eq!(base(" //provisr//api/ ").expect("ok"), "/provisr/api");
        for bad in ["api", "/", "", "/a b", "/../x", "/{x}"] {
            let errs = base(bad).expect_err(bad);
            assert_eq!(keys(&errs), ["server.base_path"], "{bad}");
        }
    }

    #[test]
    fn tls_settings() {
        let c = toml(
            r#"
            [server.tls]
            min_version = "1.3"
            [server.tls.auto_gen]
            dns_names = ["localhost", "127.0.0.1", "Provisr.Local", "::1"]
            ip_addresses = ["10.0.0.1"]
            "#,
        )
        .expect("valid");
        let g = &c.server.tls.auto_gen;
        assert_eq!(g.dns_names, ["localhost", "provisr.local"]);
        let ips: Vec<String> = g.ip_addresses.iter().map(ToString::to_string).collect();
        assert_eq!(ips, ["10.0.0.1", "127.0.0.1", "::1"]);
        assert_eq!(c.server.tls.min_version, TlsVersion::Tls13);
        assert_eq!(toml("[server.tls]\nmin_version = 1.3").expect("float").server.tls.min_version, TlsVersion::Tls13);
        assert_eq!(
            toml("[server.tls]\nmin_version = \"TLS1.2\"").expect("prefix").server.tls.min_version,
            TlsVersion::Tls12
        );

        let errs = toml(
            r#"
            [server.tls]
            key_file = "k.pem"
            min_version = "1.1"
            [server.tls.auto_gen]
            dns_names = ["bad name"]
            ip_addresses = ["127.0.0.1", "not-an-ip"]
            valid_days = 0
            "#,
        )
        .expect_err("bad tls");
        let mut got = keys(&errs);
        got.sort();
        assert_eq!(
            got,
            [
                "server.tls.auto_gen.dns_names[0]",
                "server.tls.auto_gen.ip_addresses[1]",
                "server.tls.auto_gen.valid_days",
                "server.tls.cert_file",
                "server.tls.min_version",
            ],
            "{errs}"
        );
        assert!(toml("[server.tls.auto_gen]\nvalid_days = 3651").is_err());
        assert!(toml("[server.tls.auto_gen]\nvalid_days = 3650").is_ok());
    }

    #[test]
    fn auth_settings() {
        let c = toml(
            "[auth]\nenabled = false\n[auth.admin]\nauto_create = false\nusername = \"root\"\nemail = \"root@example.com\"\n",
        )
        .expect("valid");
        assert!(!c.auth.enabled);
        assert!(!c.auth.admin.auto_create);
        assert_eq!(c.auth.admin.username, "root");
        assert_eq!(c.auth.admin.email.as_deref(), Some("root@example.com"));

        let errs = toml("[auth.jwt]\nsecret = \"short\"\nexpires_in = \"0s\"\n[auth.admin]\nusername = \"\"\npassword = \"\"\nemail = \"nope\"")
            .expect_err("bad auth");
        assert_eq!(
            keys(&errs),
            [
                "auth.jwt.secret",
                "auth.jwt.expires_in",
                "auth.admin.username",
                "auth.admin.password",
                "auth.admin.email"
            ],
            "{errs}"
        );
    }

    /// Writes `files` into a fresh directory and loads `config.toml` from it.
    fn load_in_dir(config: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Config, ConfigErrors>) {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).expect("write config");
        let loaded = Config::load(&path);
        (dir, loaded)
    }

    #[test]
    fn global_env_from_files_and_env_in_order_with_expansion() {
        let home = std::env::var("HOME").unwrap_or_default();
        let (_dir, c) = load_in_dir(
            r#"
            env_files = ["base.env", "conf/extra.env"]
            env = ["APP_DIR=${BASE}/app", "GREETING=hi $$USER", "FROM_DAEMON=${HOME}", "BASE=/srv"]
            "#,
            &[
                ("base.env", "# comment\nBASE=/opt\nexport QUOTED=\"a b\\tc\"\nLITERAL='${BASE}'\nTRAIL=x # note\n\n"),
                ("conf/extra.env", "LOG=${BASE}/log\nMISSING=[${PROVISR_SURELY_UNSET_VAR}]\n"),
            ],
        );
        let c = c.unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(&str, &str)> = c.global_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            [
                // A later definition replaces the value in place.
                ("BASE", "/srv"),
                ("QUOTED", "a b\tc"),
                ("LITERAL", "${BASE}"),
                ("TRAIL", "x"),
                ("LOG", "/opt/log"),
                ("MISSING", "[]"),
                ("APP_DIR", "/opt/app"),
                ("GREETING", "hi $USER"),
                ("FROM_DAEMON", home.as_str()),
            ]
        );

        // A table works too (in key order).
        let c = toml("[env]\nB = \"${A}x\"\nA = 1\n").expect("table");
        assert_eq!(c.global_env, [("A".to_string(), "1".to_string()), ("B".to_string(), "1x".to_string())]);
    }

    #[test]
    fn global_env_problems_name_the_file_and_key() {
        let (dir, c) = load_in_dir(
            r#"
            env_files = ["nope.env", "bad.env"]
            env = ["NOEQUALS", "1BAD=x", "OPEN=${X", 5]
            "#,
            &[("bad.env", "OK=1\nthis line is wrong\nQ=\"open\n")],
        );
        let errs = c.expect_err("bad env");
        assert_eq!(
            keys(&errs),
            ["env[0]", "env[1]", "env[2]", "env[3]", "env_files[0]", "env_files[1]", "env_files[1]"],
            "{errs}"
        );
        let config = dir.path().join("config.toml");
        assert!(errs.0.iter().all(|e| e.file == config), "{errs}");
        assert!(message_for(&errs, "env_files[0]").contains("nope.env does not exist"), "{errs}");
        assert!(errs.0[5].message.contains("bad.env line 2"), "{errs}");
        assert!(errs.0[6].message.contains("line 3: unterminated double quote"), "{errs}");
        assert!(message_for(&errs, "env[2]").contains("unclosed"), "{errs}");
        let errs = toml("env = \"A=1\"").expect_err("a string");
        assert_eq!(keys(&errs), ["env"]);
    }

    #[test]
    fn metrics_settings() {
        let c = toml("").expect("defaults");
        assert_eq!(c.metrics, MetricsConfig { enabled: false, listen: None });
        let c = toml("[metrics]\nenabled = true").expect("enabled");
        assert_eq!(c.metrics, MetricsConfig { enabled: true, listen: None });
        let c = toml("[metrics]\nlisten = \"127.0.0.1:9090\"").expect("listen");
        assert_eq!(c.metrics, MetricsConfig { enabled: true, listen: Some("127.0.0.1:9090".into()) });
        assert_eq!(c.metrics.listen_addrs(), ["127.0.0.1:9090".parse::<SocketAddr>().expect("addr")]);
        let errs = toml("[metrics]\nenabled = false\nlisten = \"nowhere\"\npath = \"/m\"").expect_err("bad metrics");
        assert_eq!(keys(&errs), ["metrics.path", "metrics.listen", "metrics.listen"], "{errs}");
    }

    #[test]
    fn groups_name_known_processes() {
        let procs = "[[processes]]\ntype = \"process\"\nspec = { name = \"web\", command = \"true\" }\n\
                     [[processes]]\ntype = \"process\"\nspec = { name = \"api\", command = \"true\" }\n";
        let c = toml(&format!("{procs}[[groups]]\nname = \"stack\"\nmembers = [\"web\", \"api\", \"web\"]\n"))
            .expect("valid");
        assert_eq!(c.groups, [GroupConfig { name: "stack".into(), members: vec!["web".into(), "api".into()] }]);

        let errs = toml(&format!(
            "{procs}[[groups]]\nname = \"stack\"\nmembers = [\"web\", \"db\"]\n\
             [[groups]]\nname = \"stack\"\nmembers = [\"api\"]\n\
             [[groups]]\nname = \"bad name\"\nmembers = []\ncolour = 1\n\
             [[groups]]\nmembers = [\"web\"]\n"
        ))
        .expect_err("bad groups");
        assert_eq!(
            keys(&errs),
            [
                "groups[0].members[1]",
                "groups[1].name",
                "groups[2].colour",
                "groups[2].name",
                "groups[2].members",
                "groups[3].name"
            ],
            "{errs}"
        );
        assert!(message_for(&errs, "groups[0].members[1]").contains("no process named \"db\""), "{errs}");
        assert!(message_for(&errs, "groups[1].name").contains("duplicate group name"), "{errs}");
    }

    #[test]
    fn upstream_server_enabled_is_accepted_when_true() {
        assert!(toml("[server]\nenabled = true").is_ok());
        let errs = toml("[server]\nenabled = false").expect_err("no server");
        assert_eq!(keys(&errs), ["server.enabled"]);
    }

    #[test]
    fn server_pidfile_and_logfile() {
        let (dir, c) =
            load_in_dir("[server]\npidfile = \"run/provisr.pid\"\nlogfile = \"provisr.log\"\n", &[("run/.keep", "")]);
        let c = c.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.server.pidfile, Some(dir.path().join("run/provisr.pid")));
        assert_eq!(c.server.logfile, Some(dir.path().join("provisr.log")));
        let errs = toml("[server]\npidfile = \"/nonexistent-dir/p.pid\"\nlogfile = \"\"").expect_err("bad");
        assert_eq!(keys(&errs), ["server.logfile", "server.pidfile"], "{errs}");
    }

    #[test]
    fn expansion_and_dotenv_tables() {
        let env = vec![("A".to_string(), "1".to_string())];
        let lookup = |k: &str| (k == "D").then(|| "daemon".to_string());
        for (input, want) in [
            ("plain", Ok("plain")),
            ("${A}-${D}-${U}", Ok("1-daemon-")),
            ("$A $$ ${A}$", Ok("$A $ 1$")),
            ("${A", Err("unclosed")),
            ("${1A}", Err("invalid variable name")),
        ] {
            match (expand_vars(input, &env, &lookup), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{input}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{input}: {got}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
        let parsed: Vec<(usize, DotenvEntry)> = parse_dotenv("A=1\n\n#c\nexport B = 'x y' \nC=\"q\\\"\"\nD\n");
        assert_eq!(
            parsed,
            [
                (1, Ok(("A".into(), "1".into(), true))),
                (4, Ok(("B".into(), "x y".into(), false))),
                (5, Ok(("C".into(), "q\"".into(), true))),
                (6, Err("\"D\" is not KEY=VALUE".into())),
            ]
        );
    }

    #[test]
    fn spec_validation_is_prefixed() {
        let errs = toml(
            "[[processes]]\ntype = \"process\"\nspec = { name = \"a b\", args = [\"x\"], command = \"y\", work_dir = \"rel\" }\n",
        )
        .expect_err("invalid spec");
        assert_eq!(
            keys(&errs),
            ["processes[0].spec.name", "processes[0].spec.args", "processes[0].spec.work_dir"],
            "{errs}"
        );
    }
}
