//! `GET /openapi.json`: the JSON API described as OpenAPI 3.0, written by hand with
//! `serde_json` so the document says exactly what the handlers do (upstream-compatible
//! shapes that a derive would not produce). Tests check that every route of
//! [`super::route_list`] is described and nothing else is, and (in `tests/api/openapi.rs`)
//! that real answers of the routes match the schemas described here.

use crate::state::ServerState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

/// `GET /openapi.json` (public: it holds no data).
pub async fn document(State(st): State<ServerState>) -> Json<Value> {
    Json(build(&st.console.api_base))
}

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn query(name: &str, description: &str, required: bool, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": required, "description": description, "schema": schema })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn selector_params() -> Vec<Value> {
    vec![
        query("name", "One instance by its exact name.", false, schema("Name")),
        query("base", "Every instance of one spec (`web` → `web`, `web-1`, …).", false, schema("Name")),
        query("wildcard", "A glob over instance names (`*`, `?`).", false, json!({ "type": "string" })),
    ]
}

fn wait_param() -> Value {
    query("wait", "Answer at the latest after this long (a duration); default: once done.", false, schema("Duration"))
}

fn log_params() -> Vec<Value> {
    vec![
        query(
            "since",
            "Byte offset to read from (a page's `next_offset`).",
            false,
            json!({ "type": "integer", "minimum": 0 }),
        ),
        query(
            "limit",
            "At most this many lines (default 100, at most 10000).",
            false,
            json!({ "type": "integer", "minimum": 1, "maximum": 10000 }),
        ),
        query("stream", "Only this stream.", false, json!({ "type": "string", "enum": ["stdout", "stderr"] })),
    ]
}

fn page_params() -> Vec<Value> {
    vec![
        query(
            "before",
            "Only rows older than this id: the `next_before` of the previous page.",
            false,
            json!({ "type": "integer" }),
        ),
        query(
            "limit",
            "Rows per page, 1–1000 (default 50).",
            false,
            json!({ "type": "integer", "minimum": 1, "maximum": 1000 }),
        ),
    ]
}

fn json_body(s: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": s } } })
}

fn reply(description: &str, s: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": s } } })
}

/// The error answers of an operation, by status code.
fn errors(codes: &[u16]) -> Vec<(String, Value)> {
    codes
        .iter()
        .map(|code| {
            let why = match code {
                400 => "Invalid input (every problem listed).",
                401 => "No or bad credentials.",
                403 => "The caller's role lacks the permission.",
                404 => "No such name.",
                409 => "Conflict: exists already, or defined in the main config file (read-only here).",
                503 => "The daemon is shutting down.",
                _ => "Error.",
            };
            (code.to_string(), reply(why, schema("Error")))
        })
        .collect()
}

struct Op {
    tag: &'static str,
    summary: &'static str,
    params: Vec<Value>,
    body: Option<Value>,
    ok: (u16, Value),
    errors: &'static [u16],
    public: bool,
}

impl Op {
    fn new(tag: &'static str, summary: &'static str, ok: Value) -> Op {
        Op { tag, summary, params: Vec::new(), body: None, ok: (200, ok), errors: &[401, 403], public: false }
    }
    fn params(mut self, p: Vec<Value>) -> Op {
        self.params = p;
        self
    }
    fn body(mut self, s: Value) -> Op {
        self.body = Some(json_body(s));
        self
    }
    fn errors(mut self, e: &'static [u16]) -> Op {
        self.errors = e;
        self
    }
    fn created(mut self) -> Op {
        self.ok.0 = 201;
        self
    }
    /// A WebSocket route: success is the upgrade (101); `s` describes its messages.
    fn switching(mut self) -> Op {
        self.ok.0 = 101;
        self
    }
    fn public(mut self) -> Op {
        self.public = true;
        self
    }
    fn to_json(&self) -> Value {
        let mut responses = Map::new();
        let success = if self.ok.0 == 101 {
            "Switched to the WebSocket protocol; each message is a JSON text frame of this shape."
        } else {
            "Success."
        };
        responses.insert(self.ok.0.to_string(), reply(success, self.ok.1.clone()));
        for (code, r) in errors(self.errors) {
            responses.insert(code, r);
        }
        let mut op = json!({ "tags": [self.tag], "summary": self.summary, "responses": responses });
        if !self.params.is_empty() {
            op["parameters"] = Value::Array(self.params.clone());
        }
        if let Some(b) = &self.body {
            op["requestBody"] = b.clone();
        }
        if self.public {
            op["security"] = json!([]);
        }
        op
    }
}

fn ok_names() -> Value {
    json!({ "type": "object", "required": ["ok"], "properties": {
        "ok": { "type": "boolean", "enum": [true] },
        "names": { "type": "array", "items": { "type": "string" }, "description": "The instances it applied to." }
    }})
}

fn ok_stopped(what: &str) -> Value {
    let mut v = ok_names();
    v["properties"][what] =
        json!({ "type": "boolean", "description": "False when `wait` passed before everything had ended." });
    v
}

fn ok() -> Value {
    json!({ "type": "object", "properties": { "ok": { "type": "boolean", "enum": [true] } } })
}

fn array(s: Value) -> Value {
    json!({ "type": "array", "items": s })
}

fn generic(description: &str) -> Value {
    json!({ "type": "object", "description": description, "additionalProperties": true })
}

/// Every described operation: `(path, method, operation)`.
fn operations() -> Vec<(&'static str, &'static str, Op)> {
    let name_path = || vec![path_param("name", "A process, job or cronjob name.")];
    let id_path = || vec![path_param("id", "The id.")];
    vec![
        ("/status", "get", Op::new("processes", "Health without a selector (`{\"ok\":true}`, no credentials); with `name` one status object, with `base`/`wildcard` a sorted array.", json!({ "oneOf": [ok(), schema("ProcessStatus"), array(schema("ProcessStatus"))] })).params(selector_params()).errors(&[400, 401, 403, 404]).public()),
        ("/register", "post", Op::new("processes", "Register a spec and start its instances. A spec that cannot start is refused and nothing stays registered.", ok_names()).body(schema("ProcessSpec")).errors(&[400, 401, 403, 409])),
        ("/update", "post", Op::new("processes", "Replace the spec registered under the body's name and restart its instances with it (each keeps its wish; instance-count changes add or remove instances). The old spec stays when the new one cannot start.", ok_names()).body(schema("ProcessSpec")).errors(&[400, 401, 403, 404, 409])),
        ("/start", "post", Op::new("processes", "Start the selected instances. Without a selector, a spec in the body is registered if needed and started (upstream compatibility).", ok_names()).params(selector_params()).errors(&[400, 401, 403, 404])),
        ("/stop", "post", Op::new("processes", "Stop the selected instances; answers once they have stopped (or `wait` passed).", ok_stopped("stopped")).params([selector_params(), vec![wait_param()]].concat()).errors(&[400, 401, 403, 404])),
        ("/restart", "post", Op::new("processes", "Stop, then start the selected instances.", ok_names()).params(selector_params()).errors(&[400, 401, 403, 404])),
        ("/unregister", "post", Op::new("processes", "Stop and remove the selected instances (not those of the main config file: 409).", ok_stopped("removed")).params([selector_params(), vec![wait_param()]].concat()).errors(&[400, 401, 403, 404, 409])),
        ("/processes/{name}/spec", "get", Op::new("processes", "The spec registered under a spec or instance name.", schema("ProcessSpec")).params(name_path()).errors(&[400, 401, 403, 404])),
        ("/processes/{name}/logs", "get", Op::new("processes", "Captured output of an instance: from byte offset `since`, or without it the last `limit` lines (default 100, at most 10000).", schema("LogChunk")).params([name_path(), log_params()].concat()).errors(&[400, 401, 403, 404])),
        ("/processes/{name}/logs/ws", "get", Op::new("processes", "WebSocket (upgrade) live tail: `{\"type\":\"lines\", lines, next_offset, first_offset}` messages, the recent lines first, then each new batch; closes when the instance is unregistered. Bad parameters are a JSON error before the upgrade.", schema("LogChunk")).params([name_path(), log_params()].concat()).errors(&[400, 401, 403, 404]).switching()),
        ("/history", "get", Op::new("history", "Persisted process events, newest first, in pages.", schema("HistoryPage")).params(vec![
            query("name", "Only events of this instance (or spec, for registrations).", false, schema("Name")),
            query("kind", "Only events of these kinds, comma-separated (`started,exited`).", false, json!({ "type": "string" })),
            query("since", "Only events at or after this RFC 3339 time, or this long ago (a duration such as `1h`).", false, json!({ "type": "string" })),
            query("before", "Only events older than this id: the `next_before` of the previous page.", false, json!({ "type": "integer" })),
            query("limit", "Events per page, 1–1000 (default 100).", false, json!({ "type": "integer", "minimum": 1, "maximum": 1000 })),
        ]).errors(&[400, 401, 403])),
        ("/groups", "get", Op::new("groups", "Every configured group with its state and members.", array(schema("Group")))),
        ("/group/status", "get", Op::new("groups", "One group: `running` (every member instance runs), `degraded` (some), `stopped` (none).", schema("Group")).params(vec![query("name", "The group.", true, schema("Name"))]).errors(&[400, 401, 403, 404])),
        ("/group/start", "post", Op::new("groups", "Start the members in priority order (lower first).", ok_names()).params(vec![query("name", "The group.", true, schema("Name"))]).errors(&[400, 401, 403, 404])),
        ("/group/stop", "post", Op::new("groups", "Stop the members in reverse priority order, each stopped before the next.", ok_stopped("stopped")).params(vec![query("name", "The group.", true, schema("Name")), wait_param()]).errors(&[400, 401, 403, 404])),
        ("/jobs", "get", Op::new("jobs", "Every live job's status, by name.", array(schema("JobStatus")))),
        ("/jobs", "post", Op::new("jobs", "Create a job and start its first attempts (unless `suspend`).", schema("JobStatus")).body(schema("JobSpec")).created().errors(&[400, 401, 403, 409])),
        ("/jobs/{name}", "get", Op::new("jobs", "A live job: spec, status and every attempt.", schema("JobView")).params(name_path()).errors(&[401, 403, 404])),
        ("/jobs/{name}", "post", Op::new("jobs", "As `POST /jobs`, the name from the path (a name in the body must agree).", schema("JobStatus")).params(name_path()).body(schema("JobSpec")).created().errors(&[400, 401, 403, 409])),
        ("/jobs/{name}", "delete", Op::new("jobs", "Kill the job's attempts and remove it from the live list (its history stays). 409 for a job of the config file.", ok()).params(name_path()).errors(&[401, 403, 404, 409])),
        ("/jobs/{name}/suspend", "post", Op::new("jobs", "Suspend: running attempts are killed (not counted as failures), none starts until resumed.", schema("JobStatus")).params(name_path()).errors(&[401, 403, 404])),
        ("/jobs/{name}/resume", "post", Op::new("jobs", "Resume a suspended job (its active deadline counts from now).", schema("JobStatus")).params(name_path()).errors(&[401, 403, 404])),
        ("/jobs/{name}/history", "get", Op::new("jobs", "Every recorded job of this name (live and removed), newest first, in pages.", schema("JobHistoryPage")).params([name_path(), page_params()].concat()).errors(&[400, 401, 403, 404])),
        ("/jobs/{name}/attempts", "get", Op::new("jobs", "The recorded attempts of the live job (else the newest recorded one), with log excerpts.", array(schema("StoredAttempt"))).params(name_path()).errors(&[401, 403, 404])),
        ("/jobs/{name}/logs", "get", Op::new("jobs", "The end of one attempt's output (default: the latest attempt's stdout).", schema("JobLogs")).params([name_path(), vec![
            query("index", "The completion index (Indexed jobs).", false, json!({ "type": "integer", "minimum": 0 })),
            query("attempt", "The attempt number (default: the latest).", false, json!({ "type": "integer", "minimum": 0 })),
            query("stream", "`stdout` (default) or `stderr`.", false, json!({ "type": "string", "enum": ["stdout", "stderr"] })),
            query("tail", "At most this many lines from the end.", false, json!({ "type": "integer", "minimum": 1 })),
        ]].concat()).errors(&[400, 401, 403, 404])),
        ("/cronjobs", "get", Op::new("cronjobs", "Every cronjob's status, by name.", array(schema("CronJobStatus")))),
        ("/cronjobs", "post", Op::new("cronjobs", "Create a cronjob (400 for an invalid schedule or time zone).", schema("CronJobStatus")).body(schema("CronJobSpec")).created().errors(&[400, 401, 403, 409])),
        ("/cronjobs/{name}", "get", Op::new("cronjobs", "A cronjob: spec, status, its live jobs and the next fire times.", schema("CronJobDetail")).params([name_path(), vec![query("next", "How many next fire times (default 5, at most 100).", false, json!({ "type": "integer", "minimum": 0, "maximum": 100 }))]].concat()).errors(&[400, 401, 403, 404])),
        ("/cronjobs/{name}", "post", Op::new("cronjobs", "As `POST /cronjobs`, the name from the path (a name in the body must agree).", schema("CronJobStatus")).params(name_path()).body(schema("CronJobSpec")).created().errors(&[400, 401, 403, 409])),
        ("/cronjobs/{name}", "delete", Op::new("cronjobs", "Delete a cronjob (the jobs it created stay). 409 for a cronjob of the config file.", ok()).params(name_path()).errors(&[401, 403, 404, 409])),
        ("/cronjobs/{name}/history", "get", Op::new("cronjobs", "Its firings (scheduled and actual time, job created or skipped and why), newest first, in pages; kept after the cronjob is deleted.", schema("FiringPage")).params([name_path(), page_params()].concat()).errors(&[400, 401, 403, 404])),
        ("/cronjobs/{name}/suspend", "post", Op::new("cronjobs", "Suspend scheduling (running jobs go on).", schema("CronJobStatus")).params(name_path()).errors(&[401, 403, 404])),
        ("/cronjobs/{name}/resume", "post", Op::new("cronjobs", "Resume scheduling (the latest missed time runs if within the starting deadline).", schema("CronJobStatus")).params(name_path()).errors(&[401, 403, 404])),
        ("/cronjobs/{name}/trigger", "post", Op::new("cronjobs", "Run now, whatever the schedule, suspension or concurrency policy (also for cronjobs of the config file).", json!({ "type": "object", "required": ["ok", "job"], "properties": { "ok": { "type": "boolean", "enum": [true] }, "job": { "type": "string", "description": "The created job (`<cronjob>-manual-<unix time>`)." } } })).params(name_path()).errors(&[401, 403, 404])),
        ("/auth/status", "get", Op::new("auth", "Whether authentication is on (public).", json!({ "type": "object", "properties": { "enabled": { "type": "boolean" }, "needs_setup": { "type": "boolean" } } })).errors(&[]).public()),
        ("/auth/login", "post", Op::new("auth", "Exchange a password or client credentials for a JWT (public).", schema("LoginResponse")).body(schema("LoginRequest")).errors(&[400, 401]).public()),
        ("/auth/users", "get", Op::new("auth", "Every user (admin).", array(schema("User")))),
        ("/auth/users", "post", Op::new("auth", "Create a user (admin).", schema("User")).body(json!({ "type": "object", "required": ["username", "password", "roles"], "additionalProperties": false, "properties": {
            "username": { "type": "string" }, "password": { "type": "string" }, "email": { "type": "string", "nullable": true },
            "roles": array(schema("Role"))
        } })).created().errors(&[400, 401, 403, 409])),
        ("/auth/users/{id}", "get", Op::new("auth", "One user (admin).", schema("User")).params(id_path()).errors(&[400, 401, 403, 404])),
        ("/auth/users/{id}", "put", Op::new("auth", "Change a user's password, email, roles or active flag (admin); the changed user.", schema("User")).params(id_path()).body(json!({ "type": "object", "additionalProperties": false, "properties": {
            "password": { "type": "string" }, "email": { "type": "string", "nullable": true }, "roles": array(schema("Role")), "active": { "type": "boolean" }
        } })).errors(&[400, 401, 403, 404, 409])),
        ("/auth/users/{id}", "delete", Op::new("auth", "Delete a user (admin; not the last active admin: 409).", json!({ "type": "object", "required": ["ok", "id", "username"], "properties": { "ok": { "type": "boolean" }, "id": { "type": "integer" }, "username": { "type": "string" } } })).params(id_path()).errors(&[400, 401, 403, 404, 409])),
        ("/auth/clients", "get", Op::new("auth", "Every API client, never a secret (admin).", array(schema("Client")))),
        ("/auth/clients", "post", Op::new("auth", "Create an API client; `client_secret` is in this answer only (admin).", schema("ClientWithSecret")).body(json!({ "type": "object", "required": ["name", "scopes"], "additionalProperties": false, "properties": {
            "name": { "type": "string" }, "scopes": array(schema("Role"))
        } })).created().errors(&[400, 401, 403, 409])),
        ("/auth/clients/{id}", "get", Op::new("auth", "One API client (admin).", schema("Client")).params(id_path()).errors(&[400, 401, 403, 404])),
        ("/auth/clients/{id}", "put", Op::new("auth", "Change an API client (admin); with `regenerate_secret` the answer has the new `client_secret`.", schema("ClientWithSecret")).params(id_path()).body(json!({ "type": "object", "additionalProperties": false, "properties": {
            "name": { "type": "string" }, "scopes": array(schema("Role")), "active": { "type": "boolean" }, "regenerate_secret": { "type": "boolean", "default": false }
        } })).errors(&[400, 401, 403, 404, 409])),
        ("/auth/clients/{id}", "delete", Op::new("auth", "Delete an API client (admin).", json!({ "type": "object", "required": ["ok", "id", "client_id"], "properties": { "ok": { "type": "boolean" }, "id": { "type": "integer" }, "client_id": { "type": "string" } } })).params(id_path()).errors(&[400, 401, 403, 404])),
        ("/ws", "get", Op::new("live", "WebSocket (upgrade): `{\"type\":\"snapshot\",\"seq\",\"processes\"}` first, then `{\"type\":\"event\",\"seq\",…}` in order; a fresh snapshot after a lag.", generic("WebSocket messages.")).errors(&[401, 403]).switching()),
        ("/openapi.json", "get", Op::new("meta", "This document (public).", generic("OpenAPI 3.0.")).errors(&[]).public()),
    ]
}

/// The spec as `POST /register` and `/update` take it (fields of the engine and logs
/// branches included).
fn process_spec() -> Value {
    let env = json!({ "oneOf": [
        { "type": "object", "additionalProperties": { "type": "string" } },
        { "type": "array", "items": { "type": "string", "pattern": "^[^=]+=.*$" } }
    ], "description": "A map, or a list of `KEY=VALUE` strings." });
    json!({ "type": "object", "required": ["name"], "additionalProperties": false,
        "description": "`command` or `args` is required (not both). Unknown keys are refused.",
        "properties": {
            "name": schema("Name"),
            "command": { "type": "string", "description": "A shell string (run by /bin/sh -c when it has shell syntax)." },
            "args": { "type": "array", "items": { "type": "string" }, "description": "argv, executed directly." },
            "work_dir": { "type": "string", "description": "Absolute path of an existing directory." },
            "env": env,
            "instances": { "type": "integer", "minimum": 1, "default": 1 },
            "priority": { "type": "integer", "default": 0, "description": "Lower starts first." },
            "auto_restart": { "type": "boolean", "default": false },
            "restart_interval": { "allOf": [schema("Duration")], "default": "1s" },
            "start_duration": { "allOf": [schema("Duration")], "default": "0s" },
            "stop_signal": { "type": "string", "default": "SIGTERM" },
            "stop_timeout": { "allOf": [schema("Duration")], "default": "10s" },
            "pid_file": { "type": "string", "description": "Absolute path; one file per instance (`x-1.pid`…)." },
            "depends_on": { "type": "array", "items": schema("Name"), "description": "Specs that must be running first; cycles are refused." },
            "restart_policy": { "type": "string", "enum": ["always", "on-failure", "never"], "description": "Takes precedence over auto_restart." },
            "expected_exit_codes": { "type": "array", "items": { "type": "integer" }, "default": [0] },
            "restart_backoff_max": { "allOf": [schema("Duration")], "default": "60s" },
            "retry_count": { "type": "integer", "minimum": 0, "default": 5, "description": "Restarts allowed within retry_window before the instance is fatal." },
            "retry_window": { "allOf": [schema("Duration")], "default": "60s" },
            "detached": { "type": "boolean", "default": false, "description": "Left running at daemon shutdown, re-adopted by the next daemon." },
            "lifecycle": { "type": "object", "additionalProperties": false, "properties": {
                "pre_start": array(schema("Hook")), "post_start": array(schema("Hook")),
                "pre_stop": array(schema("Hook")), "post_stop": array(schema("Hook"))
            } },
            "log": { "type": "object", "description": "Output capture; each key overrides the global [log].", "properties": {
                "dir": { "type": "string" }, "stdout": { "type": "string" }, "stderr": { "type": "string" },
                "max_size_mb": { "type": "integer" }, "max_backups": { "type": "integer" },
                "max_age_days": { "type": "integer" }, "compress": { "type": "boolean" }
            } }
        } })
}

/// A job spec as `POST /jobs` and a cronjob's `job_template` take it (Kubernetes
/// `batch/v1` Job fields in snake_case). A template's `name` is set by its cronjob.
fn job_spec() -> Value {
    json!({ "type": "object", "description": "`command` or `args` is required.", "properties": {
        "name": schema("Name"),
        "command": { "type": "string" }, "args": { "type": "array", "items": { "type": "string" } },
        "work_dir": { "type": "string" },
        "env": { "oneOf": [{ "type": "object", "additionalProperties": { "type": "string" } }, { "type": "array", "items": { "type": "string" } }] },
        "parallelism": { "type": "integer", "minimum": 1, "default": 1 },
        "completions": { "type": "integer", "minimum": 1, "description": "Unset with parallelism > 1: work-queue mode." },
        "completion_mode": { "type": "string", "enum": ["NonIndexed", "Indexed"], "default": "NonIndexed" },
        "restart_policy": { "type": "string", "enum": ["Never", "OnFailure"], "default": "Never" },
        "backoff_limit": { "type": "integer", "minimum": 0, "default": 6 },
        "backoff_base": { "allOf": [schema("Duration")], "default": "10s", "description": "The first retry delay; it doubles per failure." },
        "backoff_max": { "allOf": [schema("Duration")], "default": "6m", "description": "The retry delay's cap." },
        "backoff_limit_per_index": { "type": "integer", "minimum": 0 },
        "max_failed_indexes": { "type": "integer", "minimum": 0 },
        "failure_policy": { "type": "object", "description": "`rules`: `{action: FailJob|Ignore|Count|FailIndex, on_exit_codes: {operator: In|NotIn, values}}`." },
        "active_deadline_seconds": { "type": "integer", "minimum": 1 },
        "ttl_seconds_after_finished": { "type": "integer", "minimum": 0 },
        "suspend": { "type": "boolean", "default": false },
        "stop_signal": { "type": "string", "default": "SIGTERM" },
        "stop_timeout": schema("Duration"),
        "lifecycle": { "type": "object", "description": "Hooks run per attempt, as for processes." }
    } })
}

/// A lifecycle hook.
fn hook() -> Value {
    json!({ "type": "object", "required": ["name", "command"], "properties": {
        "name": { "type": "string" },
        "command": { "type": "string" },
        "failure_mode": { "type": "string", "enum": ["fail", "ignore", "retry"], "default": "fail" },
        "run_mode": { "type": "string", "enum": ["blocking", "async"], "default": "blocking" },
        "timeout": { "allOf": [schema("Duration")], "default": "30s" }
    } })
}

fn components() -> Value {
    let duration = json!({ "oneOf": [
        { "type": "string", "example": "30s", "description": "humantime: `250ms`, `30s`, `1m30s`, `2h`." },
        { "type": "integer", "minimum": 0, "description": "Nanoseconds (Go `time.Duration`, upstream compatibility)." }
    ]});
    let opt_string = json!({ "type": "string", "nullable": true });
    let opt_int = json!({ "type": "integer", "nullable": true });
    let time = json!({ "type": "string", "format": "date-time", "nullable": true });
    json!({
        "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" },
            "basic": { "type": "http", "scheme": "basic" }
        },
        "schemas": {
            "Name": { "type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$" },
            "Duration": duration,
            "Error": { "type": "object", "required": ["error"], "additionalProperties": false,
                "properties": { "error": { "type": "string" } } },
            "ProcessSpec": process_spec(),
            "Hook": hook(),
            "ProcessStatus": { "type": "object", "properties": {
                "name": { "type": "string" }, "base": { "type": "string" },
                "state": { "type": "string", "enum": ["stopped", "starting", "running", "backoff", "stopping", "exited", "fatal"] },
                "running": { "type": "boolean" }, "pid": opt_int.clone(),
                "started_at": time.clone(), "stopped_at": time.clone(),
                "restarts": { "type": "integer" },
                "desired": { "type": "string", "enum": ["running", "stopped"] },
                "origin": { "type": "string", "enum": ["config", "programs_dir", "api"] },
                "provisioned": { "type": "boolean", "description": "Defined in the main config file (read-only)." },
                "exit_code": opt_int.clone(), "exit_signal": opt_int.clone(),
                "reason": opt_string.clone(), "retry_at": time.clone()
            } },
            "Group": { "type": "object", "properties": {
                "name": { "type": "string" },
                "state": { "type": "string", "enum": ["running", "degraded", "stopped"] },
                "members": array(json!({ "type": "object", "properties": {
                    "name": { "type": "string" },
                    "state": { "type": "string", "enum": ["running", "degraded", "stopped"] },
                    "registered": { "type": "boolean" },
                    "instances": array(schema("ProcessStatus"))
                } }))
            } },
            "HistoryEntry": { "type": "object", "properties": {
                "id": { "type": "integer" }, "at": { "type": "string", "format": "date-time" },
                "name": { "type": "string" },
                "kind": { "type": "string", "description": "registered, unregistered, started, adopted, spawn_failed, stopping, killed, exited, …" },
                "pid": opt_int.clone(), "exit_code": opt_int.clone(), "signal": opt_int,
                "detail": { "type": "object", "description": "The whole event (decision, uptime, …)." }
            } },
            "HistoryPage": { "type": "object", "properties": {
                "events": array(schema("HistoryEntry")),
                "next_before": { "type": "integer", "nullable": true, "description": "Pass as `before` for the next page; null on the last page." }
            } },
            "LoginRequest": { "type": "object", "required": ["method"], "properties": {
                "method": { "type": "string", "enum": ["basic", "client_secret"] },
                "username": { "type": "string" }, "password": { "type": "string" },
                "client_id": { "type": "string" }, "client_secret": { "type": "string" }
            } },
            "LoginResponse": { "type": "object", "properties": {
                "success": { "type": "boolean" }, "user_id": { "type": "string" }, "username": { "type": "string" },
                "roles": array(json!({ "type": "string" })),
                "token": { "type": "object", "properties": {
                    "type": { "type": "string", "enum": ["Bearer"] }, "value": { "type": "string" },
                    "expires_at": { "type": "string", "format": "date-time" }
                } }
            } }
        }
    })
}

/// The schemas of jobs, cronjobs, logs, users and clients (one `json!` each: the macro's
/// recursion limit does not allow them in one).
fn more_schemas(schemas: &mut Map<String, Value>) {
    let opt_string = json!({ "type": "string", "nullable": true });
    let opt_int = json!({ "type": "integer", "nullable": true });
    let time = json!({ "type": "string", "format": "date-time", "nullable": true });
    schemas.insert(
        "LogLine".into(),
        json!({ "type": "object", "required": ["offset", "stream", "text", "at"], "properties": {
                "offset": { "type": "integer" }, "stream": { "type": "string", "enum": ["stdout", "stderr"] },
                "text": { "type": "string" }, "at": { "type": "string", "format": "date-time" }
            } }),
    );
    schemas.insert("LogChunk".into(), json!({ "type": "object", "required": ["lines", "next_offset", "first_offset"], "properties": {
                "lines": array(schema("LogLine")),
                "next_offset": { "type": "integer", "description": "The `since` of the next page." },
                "first_offset": { "type": "integer", "description": "The oldest offset still held; a `since` below it missed output." },
                "type": { "type": "string", "enum": ["lines"], "description": "WebSocket messages only." }
            } }));
    schemas.insert("JobSpec".into(), job_spec());
    schemas.insert("JobCondition".into(), json!({ "type": "object", "required": ["type", "status", "reason", "message", "last_transition_time"], "properties": {
                "type": { "type": "string", "enum": ["Complete", "Failed", "Suspended"] }, "status": { "type": "boolean" },
                "reason": { "type": "string", "description": "Completed, BackoffLimitExceeded, DeadlineExceeded, FailedIndexes, PodFailurePolicy, JobSuspended, …" },
                "message": { "type": "string" }, "last_transition_time": { "type": "string", "format": "date-time" }
            } }));
    schemas.insert("JobStatus".into(), json!({ "type": "object", "required": ["name", "origin", "phase", "active", "succeeded", "failed", "completed_indexes", "start_time", "completion_time", "conditions"], "properties": {
                "name": { "type": "string" },
                "origin": { "type": "object", "required": ["source"], "properties": {
                    "source": { "type": "string", "enum": ["api", "config", "cron_job"] },
                    "cronjob": { "type": "string" }, "scheduled": { "type": "string", "format": "date-time" }, "manual": { "type": "boolean" }
                } },
                "phase": { "type": "string", "enum": ["Pending", "Running", "Suspended", "Succeeded", "Failed"] },
                "active": { "type": "integer" }, "succeeded": { "type": "integer" }, "failed": { "type": "integer" },
                "completed_indexes": { "type": "string", "example": "0,2-4" },
                "failed_indexes": { "type": "string" },
                "start_time": time.clone(), "completion_time": time.clone(),
                "conditions": array(schema("JobCondition"))
            } }));
    schemas.insert("Attempt".into(), json!({ "type": "object", "required": ["index", "attempt", "pid", "started_at", "finished_at", "exit_code", "signal", "reason"], "properties": {
                "index": opt_int.clone(), "attempt": { "type": "integer" }, "pid": opt_int.clone(),
                "started_at": { "type": "string", "format": "date-time" }, "finished_at": time.clone(),
                "exit_code": opt_int.clone(), "signal": opt_int.clone(),
                "reason": { "type": "string", "nullable": true, "enum": ["Succeeded", "Failed", "Ignored", "IndexFailed", "FailedJob", "SpawnFailed", "DeadlineExceeded", "Suspended", "Deleted", "JobFailed", "Shutdown", "DaemonRestart", null] },
                "message": { "type": "string" }
            } }));
    schemas.insert(
        "JobView".into(),
        json!({ "type": "object", "required": ["spec", "status", "attempts"], "properties": {
                "spec": schema("JobSpec"), "status": schema("JobStatus"), "attempts": array(schema("Attempt"))
            } }),
    );
    schemas.insert("StoredJob".into(), json!({ "type": "object", "required": ["id", "uid", "name", "origin", "cronjob", "spec", "status", "created_at", "updated_at", "removed"], "properties": {
                "id": { "type": "integer" }, "uid": { "type": "string" }, "name": { "type": "string" },
                "origin": { "type": "string", "enum": ["api", "config", "cronjob"] }, "cronjob": opt_string.clone(),
                "spec": schema("JobSpec"), "status": schema("StoredJobStatus"),
                "created_at": { "type": "string", "format": "date-time" }, "updated_at": { "type": "string", "format": "date-time" },
                "removed": { "type": "object", "nullable": true, "properties": { "at": { "type": "string", "format": "date-time" }, "reason": { "type": "string" } } }
            } }));
    schemas.insert("StoredJobStatus".into(), json!({ "type": "object", "description": "A JobStatus as recorded (without `name` and `origin`, which are on the row).",
        "required": ["phase", "active", "succeeded", "failed", "completed_indexes", "start_time", "completion_time", "conditions"], "properties": {
        "phase": { "type": "string", "enum": ["Pending", "Running", "Suspended", "Succeeded", "Failed"] },
        "active": { "type": "integer" }, "succeeded": { "type": "integer" }, "failed": { "type": "integer" },
        "completed_indexes": { "type": "string" }, "failed_indexes": { "type": "string" },
        "start_time": time.clone(), "completion_time": time.clone(),
        "conditions": array(schema("JobCondition"))
    } }));
    schemas.insert(
        "JobHistoryPage".into(),
        json!({ "type": "object", "required": ["items", "next_before"], "properties": {
                "items": array(schema("StoredJob")), "next_before": opt_int.clone()
            } }),
    );
    schemas.insert("StoredAttempt".into(), json!({ "type": "object", "required": ["id", "job_id", "completion_index", "attempt", "pid", "state", "started_at", "finished_at", "exit_code", "signal", "reason", "log_excerpt"], "properties": {
                "id": { "type": "integer" }, "job_id": { "type": "integer" }, "completion_index": opt_int.clone(),
                "attempt": { "type": "integer" }, "pid": opt_int.clone(),
                "state": { "type": "string", "enum": ["running", "succeeded", "failed"] },
                "started_at": { "type": "string", "format": "date-time" }, "finished_at": time.clone(),
                "exit_code": opt_int.clone(), "signal": opt_int.clone(), "reason": opt_string.clone(),
                "log_excerpt": { "type": "string", "nullable": true, "description": "The end of its stdout and stderr." }
            } }));
    schemas.insert(
        "JobLogs".into(),
        json!({ "type": "object", "required": ["name", "lines"], "properties": {
                "name": { "type": "string" }, "lines": array(json!({ "type": "string" }))
            } }),
    );
    schemas.insert("CronJobSpec".into(), json!({ "type": "object", "required": ["name", "schedule", "job_template"], "additionalProperties": false, "properties": {
                "name": schema("Name"),
                "schedule": { "type": "string", "description": "5 or 6 (with seconds) cron fields, `@hourly`/`@daily`/…, or `@every 30s`." },
                "time_zone": { "type": "string", "description": "IANA name; default UTC." },
                "concurrency_policy": { "type": "string", "enum": ["Allow", "Forbid", "Replace"], "default": "Allow" },
                "suspend": { "type": "boolean", "default": false },
                "successful_jobs_history_limit": { "type": "integer", "default": 3 },
                "failed_jobs_history_limit": { "type": "integer", "default": 1 },
                "starting_deadline_seconds": { "type": "integer", "minimum": 0 },
                "job_template": schema("JobSpec")
            } }));
    schemas.insert("CronJobStatus".into(), json!({ "type": "object", "required": ["name", "suspended", "last_schedule_time", "last_successful_time", "next_schedule_time", "active", "from_config"], "properties": {
                "name": { "type": "string" }, "suspended": { "type": "boolean" },
                "last_schedule_time": time.clone(), "last_successful_time": time.clone(), "next_schedule_time": time.clone(),
                "active": array(json!({ "type": "string" })), "from_config": { "type": "boolean" }
            } }));
    schemas.insert(
        "CronJobDetail".into(),
        json!({ "type": "object", "required": ["spec", "status", "jobs", "next_fire_times"], "properties": {
                "spec": schema("CronJobSpec"), "status": schema("CronJobStatus"), "jobs": array(schema("JobStatus")),
                "next_fire_times": array(json!({ "type": "string", "format": "date-time" }))
            } }),
    );
    schemas.insert("Firing".into(), json!({ "type": "object", "required": ["id", "cronjob", "scheduled_at", "fired_at", "manual", "outcome", "reason", "job_id", "job_name"], "properties": {
                "id": { "type": "integer" }, "cronjob_id": { "type": "integer" }, "cronjob": { "type": "string" },
                "scheduled_at": { "type": "string", "format": "date-time" }, "fired_at": time.clone(),
                "manual": { "type": "boolean" }, "outcome": { "type": "string", "enum": ["created", "skipped"] },
                "reason": opt_string.clone(), "job_id": opt_int.clone(), "job_name": opt_string.clone()
            } }));
    schemas.insert(
        "FiringPage".into(),
        json!({ "type": "object", "required": ["items", "next_before"], "properties": {
                "items": array(schema("Firing")), "next_before": opt_int.clone()
            } }),
    );
    schemas.insert("Role".into(), json!({ "type": "string", "enum": ["admin", "operator", "viewer"] }));
    schemas.insert("User".into(), json!({ "type": "object", "required": ["id", "username", "email", "roles", "active", "created_at", "updated_at"], "properties": {
                "id": { "type": "integer" }, "username": { "type": "string" }, "email": opt_string.clone(),
                "roles": array(schema("Role")), "active": { "type": "boolean" }, "token_version": { "type": "integer" },
                "created_at": { "type": "string", "format": "date-time" }, "updated_at": { "type": "string", "format": "date-time" }
            } }));
    schemas.insert("Client".into(), json!({ "type": "object", "required": ["id", "client_id", "name", "scopes", "active", "created_at", "updated_at"], "properties": {
                "id": { "type": "integer" }, "client_id": { "type": "string" }, "name": { "type": "string" },
                "scopes": array(schema("Role")), "active": { "type": "boolean" }, "token_version": { "type": "integer" },
                "created_at": { "type": "string", "format": "date-time" }, "updated_at": { "type": "string", "format": "date-time" }
            } }));
    schemas.insert(
        "ClientWithSecret".into(),
        json!({ "allOf": [schema("Client"), { "type": "object", "properties": {
                "client_secret": { "type": "string", "description": "Shown once: on creation and when regenerated." }
            } }] }),
    );
}

/// The whole document for an API mounted at `base_path`.
pub fn build(base_path: &str) -> Value {
    let mut components = components();
    if let Some(schemas) = components["schemas"].as_object_mut() {
        more_schemas(schemas);
    }
    let mut paths = Map::new();
    for (path, method, op) in operations() {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method] = op.to_json();
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "provisr",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Process supervisor API. Errors are `{\"error\": \"…\"}`; durations are strings (`\"30s\"`) or integer nanoseconds. `GET /metrics` (Prometheus text) is served at the server root, outside this base path."
        },
        "servers": [{ "url": base_path }],
        "security": [{ "bearer": [] }, { "basic": [] }],
        "paths": paths,
        "components": components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routed_path_and_method_is_described() {
        let doc = build("/api");
        for (method, path) in super::super::route_list() {
            let m = method.as_str().to_ascii_lowercase();
            let op = &doc["paths"][path][&m];
            assert!(op.is_object(), "{method} {path} is not in /openapi.json");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
        }
    }

    #[test]
    fn nothing_unrouted_is_described() {
        let doc = build("/api");
        let routed: Vec<(String, String)> = super::super::route_list()
            .into_iter()
            .map(|(m, p)| (m.as_str().to_ascii_lowercase(), p.to_string()))
            .collect();
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for method in ops.as_object().expect("operations").keys() {
                assert!(
                    routed.contains(&(method.clone(), path.clone())),
                    "{method} {path} is described but not routed"
                );
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = build("/api");
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "dangling $ref {name}");
        }
    }
}
