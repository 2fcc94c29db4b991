//! `GET /openapi.json`: the JSON API described as OpenAPI 3.0, written by hand with
//! `serde_json` so the document says exactly what the handlers do (upstream-compatible
//! shapes that a derive would not produce). A test checks that every route of
//! [`super::route_list`] is described; routes planned in DESIGN.md but served by other
//! parts of the tree (logs, jobs, cronjobs, users, clients) are described too, so that
//! clients can be written against one document.

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
    fn public(mut self) -> Op {
        self.public = true;
        self
    }
    fn to_json(&self) -> Value {
        let mut responses = Map::new();
        responses.insert(self.ok.0.to_string(), reply("Success.", self.ok.1.clone()));
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
        ("/processes/{name}/logs", "get", Op::new("processes", "Captured output of an instance from an offset.", generic("`{lines: [...], next: offset}`")).params([name_path(), vec![query("since", "Offset to read from.", false, json!({ "type": "integer" })), query("limit", "At most this many lines.", false, json!({ "type": "integer" }))]].concat()).errors(&[400, 401, 403, 404])),
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
        ("/jobs", "get", Op::new("jobs", "Every job with its state.", array(generic("A job and its runs.")))),
        ("/jobs", "post", Op::new("jobs", "Create (and run) a job.", generic("The created job.")).body(generic("A job spec (name, command, parallelism, completions, backoff_limit, …).")).created().errors(&[400, 401, 403, 409])),
        ("/jobs/{name}", "get", Op::new("jobs", "One job and its runs.", generic("A job.")).params(name_path()).errors(&[401, 403, 404])),
        ("/jobs/{name}", "post", Op::new("jobs", "Run a job again.", ok()).params(name_path()).errors(&[401, 403, 404])),
        ("/jobs/{name}", "delete", Op::new("jobs", "Delete a job (its running slots are stopped).", ok()).params(name_path()).errors(&[401, 403, 404, 409])),
        ("/cronjobs", "get", Op::new("cronjobs", "Every cronjob with its next run.", array(generic("A cronjob.")))),
        ("/cronjobs", "post", Op::new("cronjobs", "Create a cronjob.", generic("The created cronjob.")).body(generic("A cronjob spec (name, schedule, time_zone, job_template, …).")).created().errors(&[400, 401, 403, 409])),
        ("/cronjobs/{name}", "get", Op::new("cronjobs", "One cronjob.", generic("A cronjob.")).params(name_path()).errors(&[401, 403, 404])),
        ("/cronjobs/{name}", "post", Op::new("cronjobs", "Replace a cronjob.", ok()).params(name_path()).errors(&[400, 401, 403, 404, 409])),
        ("/cronjobs/{name}", "delete", Op::new("cronjobs", "Delete a cronjob.", ok()).params(name_path()).errors(&[401, 403, 404, 409])),
        ("/cronjobs/{name}/history", "get", Op::new("cronjobs", "Runs of a cronjob, newest first.", array(generic("A run."))).params(name_path()).errors(&[401, 403, 404])),
        ("/cronjobs/{name}/suspend", "post", Op::new("cronjobs", "Suspend scheduling.", ok()).params(name_path()).errors(&[401, 403, 404])),
        ("/cronjobs/{name}/resume", "post", Op::new("cronjobs", "Resume scheduling.", ok()).params(name_path()).errors(&[401, 403, 404])),
        ("/cronjobs/{name}/trigger", "post", Op::new("cronjobs", "Run now, outside the schedule.", ok()).params(name_path()).errors(&[401, 403, 404])),
        ("/auth/status", "get", Op::new("auth", "Whether authentication is on (public).", json!({ "type": "object", "properties": { "enabled": { "type": "boolean" }, "needs_setup": { "type": "boolean" } } })).errors(&[]).public()),
        ("/auth/login", "post", Op::new("auth", "Exchange a password or client credentials for a JWT (public).", schema("LoginResponse")).body(schema("LoginRequest")).errors(&[400, 401]).public()),
        ("/auth/users", "get", Op::new("auth", "Every user (admin).", array(generic("A user: id, username, email, roles, active.")))),
        ("/auth/users", "post", Op::new("auth", "Create a user (admin).", generic("The created user.")).body(generic("`{username, password, email?, roles}`")).created().errors(&[400, 401, 403, 409])),
        ("/auth/users/{id}", "get", Op::new("auth", "One user (admin).", generic("A user.")).params(id_path()).errors(&[401, 403, 404])),
        ("/auth/users/{id}", "put", Op::new("auth", "Change a user's password, email, roles or active flag (admin).", ok()).params(id_path()).body(generic("Any of `password`, `email`, `roles`, `active`.")).errors(&[400, 401, 403, 404])),
        ("/auth/users/{id}", "delete", Op::new("auth", "Delete a user (admin).", ok()).params(id_path()).errors(&[401, 403, 404])),
        ("/auth/clients", "get", Op::new("auth", "Every API client (admin).", array(generic("A client: id, name, client_id, scopes, active.")))),
        ("/auth/clients", "post", Op::new("auth", "Create an API client; the secret is shown in this answer only (admin).", generic("`{client_id, client_secret, …}`")).body(generic("`{name, scopes}`")).created().errors(&[400, 401, 403, 409])),
        ("/auth/clients/{id}", "get", Op::new("auth", "One API client (admin).", generic("A client.")).params(id_path()).errors(&[401, 403, 404])),
        ("/auth/clients/{id}", "put", Op::new("auth", "Change an API client (admin).", ok()).params(id_path()).body(generic("Any of `name`, `scopes`, `active`.")).errors(&[400, 401, 403, 404])),
        ("/auth/clients/{id}", "delete", Op::new("auth", "Delete an API client (admin).", ok()).params(id_path()).errors(&[401, 403, 404])),
        ("/ws", "get", Op::new("live", "WebSocket (upgrade): `{\"type\":\"snapshot\",\"seq\",\"processes\"}` first, then `{\"type\":\"event\",\"seq\",…}` in order; a fresh snapshot after a lag.", generic("WebSocket messages.")).errors(&[401, 403])),
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

/// The whole document for an API mounted at `base_path`.
pub fn build(base_path: &str) -> Value {
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
        "components": components(),
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
