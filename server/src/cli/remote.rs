//! The remote commands: a small client of the daemon's JSON API. The API URL comes from
//! `--api-url` / `PROVISR_API_URL`, else the saved session, else the daemon's default; the
//! token from the saved session, sent only to the URL it was made for. An error answer
//! (4xx/5xx) ends the command with a non-zero exit and the server's `{"error"}` message.

use super::output::{self, cell, table};
use super::session::{self, Session, DEFAULT_API_URL};
use super::*;
use anyhow::{anyhow, bail, Context as _};
use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// A client of one daemon.
pub struct Remote {
    http: reqwest::Client,
    /// The normalised API URL.
    pub url: String,
    token: Option<String>,
    output: Output,
    insecure: bool,
}

impl Remote {
    /// The client for `args`: see the module docs for where the URL and token come from.
    pub fn connect(args: &RemoteArgs) -> anyhow::Result<Remote> {
        let saved = session::load()?;
        let given = args.api_url.as_deref().filter(|u| !u.trim().is_empty()).map(session::normalize_url).transpose()?;
        let (url, token, insecure) = match (given, saved) {
            (Some(url), Some(s)) if url != s.server_url => bail!(
                "the saved session is for {}, not {url}: run `provisr logout`, then `provisr login --server-url {url}` \
                 (a session is never sent to another server)",
                s.server_url
            ),
            (_, Some(s)) => {
                if s.expired() {
                    let _ = session::remove();
                    bail!(
                        "the session for {} expired at {} (removed): run `provisr login` again",
                        s.server_url,
                        s.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
                    );
                }
                (s.server_url.clone(), Some(s.token.clone()), s.insecure)
            }
            (Some(url), None) => (url, None, false),
            (None, None) => (DEFAULT_API_URL.to_string(), None, false),
        };
        let insecure = insecure || args.insecure;
        Ok(Remote { http: http_client(insecure)?, url, token, output: args.output, insecure })
    }

    /// A client for `url` without a token (for `login`).
    pub fn anonymous(url: String, args: &RemoteArgs) -> anyhow::Result<Remote> {
        Ok(Remote { http: http_client(args.insecure)?, url, token: None, output: args.output, insecure: args.insecure })
    }

    /// Sends a request to `<url><path>`; returns the JSON answer of a 2xx, else the error.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let target = format!("{}{path}", self.url);
        let mut req = self.http.request(method.clone(), &target);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.map_err(|e| self.unreachable(e))?;
        let status = res.status();
        let text = res.text().await.with_context(|| format!("reading the answer of {method} {target}"))?;
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return Ok(parsed.unwrap_or(Value::String(text)));
        }
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| text.trim().chars().take(300).collect());
        let hint = match status {
            StatusCode::UNAUTHORIZED if self.token.is_some() => {
                " (the session was refused: it expired or was revoked; run `provisr login` again)"
            }
            StatusCode::UNAUTHORIZED => " (not logged in: run `provisr login` first)",
            _ => "",
        };
        bail!("{method} {target}: {status}: {message}{hint}")
    }

    fn unreachable(&self, e: reqwest::Error) -> anyhow::Error {
        let chain = format!("{:#}", anyhow::Error::from(e));
        let hint = if chain.contains("certificate") || chain.contains("UnknownIssuer") {
            "; the server's TLS certificate is not trusted: for the daemon's self-signed certificate pass --insecure \
             (or set PROVISR_INSECURE=1)"
        } else if chain.contains("onnect") {
            "; is the daemon running there? (set the URL with --api-url or PROVISR_API_URL)"
        } else {
            ""
        };
        anyhow!("cannot reach {}: {chain}{hint}", self.url)
    }

    /// The bearer token, if signed in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Whether TLS certificates are not checked.
    pub fn insecure(&self) -> bool {
        self.insecure
    }

    /// The output format.
    pub fn output(&self) -> Output {
        self.output
    }

    /// Prints `v` as JSON when asked to, else `human`.
    pub fn print(&self, v: &Value, human: impl FnOnce() -> String) {
        match self.output {
            Output::Json => println!("{}", output::json(v)),
            Output::Table => {
                let text = human();
                if !text.is_empty() {
                    println!("{text}");
                }
            }
        }
    }
}

fn http_client(insecure: bool) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(insecure)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("provisr-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

/// Runs a remote command.
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => unreachable!("serve is not a remote command"),
        Command::Login(args) => login(args).await,
        Command::Logout => logout(),
        Command::Register(args) => register(args).await,
        Command::RegisterFile(args) => {
            let path = args.path.or(args.file).ok_or_else(|| anyhow!("give the file to register"))?;
            register_file(&Remote::connect(&args.remote)?, &path).await
        }
        Command::Unregister(args) => stop_like("unregister", "unregistered", args).await,
        Command::Stop(args) => stop_like("stop", "stopped", args).await,
        Command::Start(args) => act("start", "started", args).await,
        Command::Restart(args) => act("restart", "restarted", args).await,
        Command::Status(args) => status(args).await,
        Command::GroupStart(args) => group_act("start", "started", args).await,
        Command::GroupStop(args) => group_act("stop", "stopped", args).await,
        Command::GroupStatus(args) => group_status(args).await,
        Command::Logs(args) => logs(args).await,
        Command::Job(c) => super::jobs::job(c).await,
        Command::Cronjob(c) => super::jobs::cronjob(c).await,
        Command::Auth(AuthArgs { command }) => match command {
            AuthCommand::User(c) => user(c).await,
            AuthCommand::Client(c) => client(c).await,
        },
    }
}

// ----- login / logout -----

async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let given = args.server_url.as_deref().or(args.remote.api_url.as_deref()).filter(|u| !u.trim().is_empty());
    let saved = session::load().unwrap_or(None);
    let url = match (given, &saved) {
        (Some(u), _) => session::normalize_url(u)?,
        (None, Some(s)) => s.server_url.clone(),
        (None, None) => DEFAULT_API_URL.to_string(),
    };
    if let Some(s) = &saved {
        if s.server_url != url && !s.expired() {
            bail!(
                "already logged in to {} (session in {}): run `provisr logout` first to switch to {url}",
                s.server_url,
                session::path()?.display()
            );
        }
    }
    let (body, who, method) = match args.method {
        LoginMethod::Basic => {
            let username = match args.username {
                Some(u) => u,
                None => prompt::line("Username")?,
            };
            let password = match args.password {
                Some(p) => p,
                None => prompt::secret("Password")?,
            };
            (json!({ "method": "basic", "username": username, "password": password }), username, "basic")
        }
        LoginMethod::ClientSecret => {
            let id = args.client_id.ok_or_else(|| anyhow!("--method client_secret needs --client-id"))?;
            let secret = match args.client_secret {
                Some(s) => s,
                None => prompt::secret("Client secret")?,
            };
            (json!({ "method": "client_secret", "client_id": id, "client_secret": secret }), id, "client_secret")
        }
    };
    let remote = Remote::anonymous(url.clone(), &args.remote)?;
    let answer = remote.call(Method::POST, "/auth/login", Some(&body)).await?;
    let token = answer["token"]["value"].as_str().ok_or_else(|| anyhow!("the server's answer has no token"))?;
    let expires_at = answer["token"]["expires_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| anyhow!("the server's answer has no token expiry"))?;
    let session = Session {
        server_url: url.clone(),
        token: token.to_string(),
        expires_at,
        principal: who.clone(),
        method: method.into(),
        insecure: remote.insecure,
        created_at: Utc::now(),
    };
    let path = session::save(&session)?;
    let roles = cell(&answer["roles"]);
    let shown = json!({
        "server_url": url,
        "principal": who,
        "roles": answer["roles"],
        "expires_at": session.expires_at,
        "session_file": path,
    });
    remote.print(&shown, || {
        format!(
            "Logged in to {url} as {who} ({roles}); session saved in {} until {}",
            path.display(),
            session.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
        )
    });
    Ok(())
}

fn logout() -> anyhow::Result<()> {
    let saved = session::load().ok().flatten();
    if session::remove()? {
        match saved {
            Some(s) => println!("Logged out of {} (removed {})", s.server_url, session::path()?.display()),
            None => println!("Removed {}", session::path()?.display()),
        }
    } else {
        println!("Not logged in (no {})", session::path()?.display());
    }
    Ok(())
}

// ----- processes -----

fn selector_query(sel: &Selector) -> anyhow::Result<Option<String>> {
    let given: Vec<(&str, &String)> = [("name", &sel.name), ("base", &sel.base), ("wildcard", &sel.wildcard)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
    match given.as_slice() {
        [] => Ok(None),
        [(k, v)] => Ok(Some(format!("{k}={}", encode(v)))),
        _ => bail!("give only one of --name, --base or --wildcard"),
    }
}

fn required_selector(sel: &Selector) -> anyhow::Result<String> {
    selector_query(sel)?.ok_or_else(|| anyhow!("say which processes: --name NAME, --base NAME or --wildcard 'PATTERN'"))
}

/// Percent-encodes a query value (or a path segment).
pub fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `names` of an answer, comma-separated.
pub fn names(v: &Value) -> String {
    match v["names"].as_array() {
        Some(list) if !list.is_empty() => list.iter().map(cell).collect::<Vec<_>>().join(", "),
        _ => "nothing".into(),
    }
}

async fn act(verb: &str, done: &str, args: SelectArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    let q = required_selector(&args.selector)?;
    let v = remote.call(Method::POST, &format!("/{verb}?{q}"), None).await?;
    remote.print(&v, || format!("{done}: {}", names(&v)));
    Ok(())
}

async fn stop_like(verb: &str, done: &str, args: StopArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    let mut q = required_selector(&args.selector)?;
    if let Some(w) = &args.wait {
        q.push_str(&format!("&wait={}", encode(w)));
    }
    let v = remote.call(Method::POST, &format!("/{verb}?{q}"), None).await?;
    remote.print(&v, || {
        let finished = v.get("stopped").or_else(|| v.get("removed")).and_then(Value::as_bool).unwrap_or(true);
        let tail = if finished { "" } else { " (still stopping when --wait ran out)" };
        format!("{done}: {}{tail}", names(&v))
    });
    Ok(())
}

async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    let q = selector_query(&args.selector)?.unwrap_or_else(|| "wildcard=*".to_string());
    let v = remote.call(Method::GET, &format!("/status?{q}"), None).await?;
    let list: Vec<Value> = match &v {
        Value::Array(a) => a.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    };
    remote.print(&v, || if list.is_empty() { "no processes".into() } else { output::processes(&list, Utc::now()) });
    Ok(())
}

fn spec_from_flags(a: &RegisterArgs) -> anyhow::Result<Value> {
    let mut spec = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        spec.insert(k.to_string(), v);
    };
    put("name", json!(a.name));
    put("command", json!(a.command));
    if let Some(d) = &a.work_dir {
        let d = if d.is_absolute() { d.clone() } else { std::env::current_dir()?.join(d) };
        put("work_dir", json!(d));
    }
    if let Some(n) = a.instances {
        put("instances", json!(n));
    }
    if a.auto_restart {
        put("auto_restart", json!(true));
    }
    for (k, v) in [
        ("restart_interval", &a.restart_interval),
        ("start_duration", &a.start_duration),
        ("stop_signal", &a.stop_signal),
        ("stop_timeout", &a.stop_timeout),
    ] {
        if let Some(v) = v {
            put(k, json!(v));
        }
    }
    if let Some(p) = a.priority {
        put("priority", json!(p));
    }
    if let Some(p) = &a.pid_file {
        put("pid_file", json!(p));
    }
    if !a.env.is_empty() {
        let mut env = serde_json::Map::new();
        for kv in &a.env {
            let (k, v) = kv.split_once('=').ok_or_else(|| anyhow!("--env {kv:?}: expected KEY=VALUE"))?;
            env.insert(k.to_string(), json!(v));
        }
        put("env", Value::Object(env));
    }
    Ok(Value::Object(spec))
}

async fn register(args: RegisterArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    if let Some(file) = &args.file {
        return register_file(&remote, file).await;
    }
    let spec = spec_from_flags(&args)?;
    let v = remote.call(Method::POST, "/register", Some(&spec)).await?;
    remote.print(&v, || format!("registered: {}", names(&v)));
    Ok(())
}

/// The entries of a `{type, spec}` file: one entry, a list of them, or a bare process spec.
pub fn read_entries(path: &Path) -> anyhow::Result<Vec<(String, Value)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let doc: Value = match ext.as_str() {
        "toml" => {
            let t: toml::Value = toml::from_str(&text).with_context(|| format!("{}: invalid TOML", path.display()))?;
            serde_json::to_value(t)?
        }
        "yaml" | "yml" => serde_yaml::from_str(&text).with_context(|| format!("{}: invalid YAML", path.display()))?,
        "json" => serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))?,
        other => bail!("{}: unknown extension {other:?} (use .toml, .yaml, .yml or .json)", path.display()),
    };
    let items = match doc {
        Value::Array(a) => a,
        Value::Object(ref o) if o.get("processes").is_some_and(Value::is_array) => {
            o["processes"].as_array().cloned().unwrap_or_default()
        }
        other => vec![other],
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let at = if i == 0 { path.display().to_string() } else { format!("{}[{i}]", path.display()) };
        match (item.get("type"), item.get("spec")) {
            (Some(Value::String(t)), Some(spec)) => {
                if !matches!(t.as_str(), "process" | "job" | "cronjob") {
                    bail!("{at}: type: {t:?} is not one of process, job, cronjob");
                }
                out.push((t.clone(), spec.clone()));
            }
            (None, None) if item.get("name").is_some() => out.push(("process".into(), item)),
            _ => bail!("{at}: expected {{type = \"process\" | \"job\" | \"cronjob\", spec = {{…}}}}"),
        }
    }
    Ok(out)
}

async fn register_file(remote: &Remote, path: &Path) -> anyhow::Result<()> {
    let mut answers = Vec::new();
    for (kind, spec) in read_entries(path)? {
        let route = match kind.as_str() {
            "job" => "/jobs",
            "cronjob" => "/cronjobs",
            _ => "/register",
        };
        let v = remote.call(Method::POST, route, Some(&spec)).await?;
        let label = match &v["names"] {
            Value::Array(_) => names(&v),
            _ => cell(&spec["name"]),
        };
        if remote.output == Output::Table {
            println!("registered {kind}: {label}");
        }
        answers.push(v);
    }
    if remote.output == Output::Json {
        println!("{}", output::json(&Value::Array(answers)));
    }
    Ok(())
}

// ----- groups -----

async fn group_act(verb: &str, done: &str, args: GroupArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    let v = remote.call(Method::POST, &format!("/group/{verb}?name={}", encode(&args.group)), None).await?;
    remote.print(&v, || match v["names"] {
        Value::Array(_) => format!("group {} {done}: {}", args.group, names(&v)),
        _ => format!("group {} {done}", args.group),
    });
    Ok(())
}

async fn group_status(args: GroupArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    let v = remote.call(Method::GET, &format!("/group/status?name={}", encode(&args.group)), None).await?;
    remote.print(&v, || {
        format!("group {}: {}\n{}", args.group, cell(&v["state"]), output::processes(&group_instances(&v), Utc::now()))
    });
    Ok(())
}

/// The instances of a group status (`{name, state, members: [{name, state, registered,
/// instances}]}`), one row per instance; a member without instances is a row of its own.
fn group_instances(v: &Value) -> Vec<Value> {
    let members = v["members"].as_array().cloned().unwrap_or_default();
    members
        .into_iter()
        .flat_map(|m| match m["instances"].as_array() {
            Some(list) if !list.is_empty() => list.clone(),
            _ => {
                let state = if m["registered"] == false { json!("not registered") } else { m["state"].clone() };
                vec![json!({ "name": m["name"], "state": state })]
            }
        })
        .collect()
}

// ----- logs -----

/// One captured line as text: `[stream] text`.
fn log_line(v: &Value) -> Option<String> {
    let text = ["text", "line", "message", "data"].iter().find_map(|k| v.get(*k).and_then(Value::as_str))?;
    Some(match v.get("stream").and_then(Value::as_str) {
        Some(s) => format!("[{s}] {text}"),
        None => text.to_string(),
    })
}

/// The items of a list answer (an array, or the array under `lines`/`entries`/`logs`).
pub fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Object(o) => ["lines", "entries", "logs"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_array))
            .cloned()
            .unwrap_or_default(),
        _ => vec![],
    }
}

async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let remote = Remote::connect(&args.remote)?;
    let name = encode(&args.name);
    let mut q = Vec::new();
    if let Some(s) = args.since {
        q.push(format!("since={s}"));
    }
    if let Some(l) = args.limit {
        q.push(format!("limit={l}"));
    }
    if let Some(s) = &args.stream {
        q.push(format!("stream={}", encode(s)));
    }
    let query = if q.is_empty() { String::new() } else { format!("?{}", q.join("&")) };
    if args.follow {
        return super::follow::follow(&remote, &format!("/processes/{name}/logs/ws{query}")).await;
    }
    let v = remote.call(Method::GET, &format!("/processes/{name}/logs{query}"), None).await?;
    remote.print(&v, || {
        items(&v).iter().map(|l| log_line(l).unwrap_or_else(|| l.to_string())).collect::<Vec<_>>().join("\n")
    });
    Ok(())
}

/// Prints one message of the live log stream; `false` when it is not a log line.
pub fn print_stream_message(v: &Value, output: Output) -> bool {
    if output == Output::Json {
        println!("{v}");
        return true;
    }
    let lines = match v.get("lines").and_then(Value::as_array) {
        Some(l) => l.clone(),
        None => vec![v.clone()],
    };
    let mut any = false;
    for l in &lines {
        if let Some(text) = log_line(l) {
            println!("{text}");
            any = true;
        }
    }
    any
}

// ----- users and clients -----

fn roles_list(s: &str) -> anyhow::Result<Vec<String>> {
    let roles = backend::auth::Role::parse_list(s).map_err(|e| anyhow!(e))?;
    if roles.is_empty() {
        bail!("give at least one of admin, operator, viewer");
    }
    Ok(roles.iter().map(|r| r.to_string()).collect())
}

async fn user(c: UserCommand) -> anyhow::Result<()> {
    match c {
        UserCommand::Create(a) => {
            let remote = Remote::connect(&a.remote)?;
            let roles = roles_list(&a.roles)?;
            let password = match a.password {
                Some(p) => p,
                None => prompt::secret(&format!("Password for {}", a.username))?,
            };
            let body = json!({ "username": a.username, "password": password, "email": a.email, "roles": roles });
            let v = remote.call(Method::POST, "/auth/users", Some(&body)).await?;
            remote.print(&v, || {
                format!("created user {} (id {}, roles {})", cell(&v["username"]), v["id"], cell(&v["roles"]))
            });
        }
        UserCommand::List(a) => {
            let remote = Remote::connect(&a.remote)?;
            let v = remote.call(Method::GET, "/auth/users", None).await?;
            remote.print(&v, || {
                let rows: Vec<Vec<String>> = items(&v)
                    .iter()
                    .map(|u| {
                        vec![
                            cell(&u["id"]),
                            cell(&u["username"]),
                            cell(&u["roles"]),
                            if u["active"] == true { "yes".into() } else { "no".into() },
                            cell(&u["email"]),
                            cell(&u["created_at"]),
                        ]
                    })
                    .collect();
                table(&["ID", "USERNAME", "ROLES", "ACTIVE", "EMAIL", "CREATED"], &rows)
            });
        }
        UserCommand::Delete(a) => {
            let remote = Remote::connect(&a.remote)?;
            let v = remote.call(Method::DELETE, &format!("/auth/users/{}", encode(&a.username)), None).await?;
            remote.print(&v, || format!("deleted user {}", cell(&v["username"])));
        }
        UserCommand::Password(a) => {
            let remote = Remote::connect(&a.remote)?;
            let password = match a.password {
                Some(p) => p,
                None => {
                    let first = prompt::secret(&format!("New password for {}", a.username))?;
                    if std::io::IsTerminal::is_terminal(&std::io::stdin()) && prompt::secret("Repeat it")? != first {
                        bail!("the passwords differ; nothing changed");
                    }
                    first
                }
            };
            let path = format!("/auth/users/{}", encode(&a.username));
            let v = remote.call(Method::PUT, &path, Some(&json!({ "password": password }))).await?;
            remote.print(&v, || {
                format!(
                    "changed the password of {}; their earlier tokens and sessions have ended",
                    cell(&v["username"])
                )
            });
        }
    }
    Ok(())
}

async fn client(c: ClientCommand) -> anyhow::Result<()> {
    match c {
        ClientCommand::Create(a) => {
            let remote = Remote::connect(&a.remote)?;
            let body = json!({ "name": a.name, "scopes": roles_list(&a.scopes)? });
            let v = remote.call(Method::POST, "/auth/clients", Some(&body)).await?;
            remote.print(&v, || {
                format!(
                    "created API client {:?} with scopes {}\n  client_id:     {}\n  client_secret: {}\n\
                     The secret is shown only now: store it safely. Log in with\n  \
                     provisr login --method client_secret --client-id {} --client-secret <secret>",
                    cell(&v["name"]),
                    cell(&v["scopes"]),
                    cell(&v["client_id"]),
                    cell(&v["client_secret"]),
                    cell(&v["client_id"]),
                )
            });
        }
        ClientCommand::List(a) => {
            let remote = Remote::connect(&a.remote)?;
            let v = remote.call(Method::GET, "/auth/clients", None).await?;
            remote.print(&v, || {
                let rows: Vec<Vec<String>> = items(&v)
                    .iter()
                    .map(|c| {
                        vec![
                            cell(&c["id"]),
                            cell(&c["client_id"]),
                            cell(&c["name"]),
                            cell(&c["scopes"]),
                            if c["active"] == true { "yes".into() } else { "no".into() },
                            cell(&c["created_at"]),
                        ]
                    })
                    .collect();
                table(&["ID", "CLIENT ID", "NAME", "SCOPES", "ACTIVE", "CREATED"], &rows)
            });
        }
        ClientCommand::Delete(a) => {
            let remote = Remote::connect(&a.remote)?;
            let v = remote.call(Method::DELETE, &format!("/auth/clients/{}", encode(&a.client_id)), None).await?;
            remote.print(&v, || format!("deleted API client {}", cell(&v["client_id"])));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_become_queries() {
        let s = |n: Option<&str>, b: Option<&str>, w: Option<&str>| Selector {
            name: n.map(Into::into),
            base: b.map(Into::into),
            wildcard: w.map(Into::into),
        };
        assert_eq!(selector_query(&s(Some("web-1"), None, None)).expect("one"), Some("name=web-1".into()));
        assert_eq!(selector_query(&s(None, None, Some("web-*"))).expect("one"), Some("wildcard=web-%2A".into()));
        assert_eq!(selector_query(&s(None, None, None)).expect("none"), None);
        assert!(selector_query(&s(Some("a"), Some("b"), None)).is_err());
    }

    #[test]
    fn group_rows() {
        let v = json!({ "name": "backend", "state": "degraded", "members": [
            { "name": "api", "state": "running", "registered": true, "instances": [
                { "name": "api-1", "state": "running" }, { "name": "api-2", "state": "stopped" } ] },
            { "name": "db", "state": "stopped", "registered": false, "instances": [] },
        ] });
        let rows: Vec<String> =
            group_instances(&v).iter().map(|r| format!("{}={}", cell(&r["name"]), cell(&r["state"]))).collect();
        assert_eq!(rows, ["api-1=running", "api-2=stopped", "db=not registered"]);
    }

    #[test]
    fn entries_of_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            ("a.toml", "type = \"process\"\n[spec]\nname = \"a\"\ncommand = \"sleep 1\"\n", vec!["process:a"]),
            ("b.yaml", "type: job\nspec:\n  name: b\n  command: \"true\"\n", vec!["job:b"]),
            (
                "c.json",
                r#"[{"type":"process","spec":{"name":"c1"}},{"type":"cronjob","spec":{"name":"c2"}}]"#,
                vec!["process:c1", "cronjob:c2"],
            ),
            ("d.json", r#"{"name":"d","command":"sleep 1"}"#, vec!["process:d"]),
        ];
        for (file, text, want) in cases {
            let path = dir.path().join(file);
            std::fs::write(&path, text).expect("write");
            let got: Vec<String> = read_entries(&path)
                .expect(file)
                .into_iter()
                .map(|(t, s)| format!("{t}:{}", s["name"].as_str().unwrap_or("?")))
                .collect();
            assert_eq!(got, want, "{file}");
        }
        let bad = dir.path().join("e.json");
        std::fs::write(&bad, r#"{"type":"daemon","spec":{}}"#).expect("write");
        assert!(read_entries(&bad).expect_err("bad type").to_string().contains("daemon"));
        let txt = dir.path().join("f.txt");
        std::fs::write(&txt, "x").expect("write");
        assert!(read_entries(&txt).is_err());
    }
}
