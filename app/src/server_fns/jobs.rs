//! Jobs: list, detail (spec, status, attempts), an attempt's log, create, delete,
//! suspend, resume. Thin adapters over `backend::ops::jobs`, which checks permissions.

use crate::error::AppError;
use crate::model::jobs::{AttemptInfo, JobInfo};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the job detail page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobDetailView {
    /// The spec as JSON (the keys of the config file and `POST /api/jobs`).
    pub spec: serde_json::Value,
    /// The status.
    pub status: JobInfo,
    /// Every attempt, in start order.
    pub attempts: Vec<AttemptInfo>,
}

/// Converts between two serde shapes of the same JSON (engine type → wire type).
#[cfg(feature = "ssr")]
pub(crate) fn rewire<T: Serialize, U: serde::de::DeserializeOwned>(v: &T) -> Result<U, AppError> {
    serde_json::to_value(v).and_then(serde_json::from_value).map_err(|e| {
        tracing::error!(error = %e, "a job or cronjob does not convert to its wire type");
        AppError::Internal
    })
}

/// What the Jobs page lists: every live job, and how many completions each needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobList {
    /// Every live job, by name.
    pub jobs: Vec<JobInfo>,
    /// Job name → completions needed (`3`, or `work queue`).
    pub completions: std::collections::BTreeMap<String, String>,
}

/// The completions a spec needs, in words (see `JobSpec::completions`).
pub fn completions_text(spec: &serde_json::Value) -> String {
    let indexed = spec.get("completion_mode").and_then(serde_json::Value::as_str) == Some("Indexed");
    match spec.get("completions").and_then(serde_json::Value::as_u64) {
        Some(n) => n.to_string(),
        None if !indexed && spec.get("parallelism").and_then(serde_json::Value::as_u64).unwrap_or(1) > 1 => {
            "work queue".to_string()
        }
        None => "1".to_string(),
    }
}

/// Every live job, by name, with the completions each needs.
#[server(prefix = "/rpc", endpoint = "jobs/list")]
pub async fn list_jobs() -> Result<JobList, AppError> {
    use super::ssr::{principal, state};
    use backend::ops::jobs as ops;
    let (st, who) = (state()?, principal().await?);
    let mut list = JobList::default();
    for j in ops::list(&st, &who).await? {
        match ops::get(&st, &who, &j.name).await {
            Ok(view) => {
                list.completions.insert(j.name.clone(), completions_text(&rewire(&view.spec)?));
            }
            // Removed in between: listed without.
            Err(backend::OpError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        list.jobs.push(rewire(&j)?);
    }
    Ok(list)
}

/// One live job with its spec and attempts.
#[server(prefix = "/rpc", endpoint = "jobs/detail")]
pub async fn job_detail(name: String) -> Result<JobDetailView, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let view = backend::ops::jobs::get(&st, &who, &name).await?;
    Ok(JobDetailView {
        spec: rewire(&view.spec)?,
        status: rewire(&view.status)?,
        attempts: view.attempts.iter().map(rewire).collect::<Result<_, _>>()?,
    })
}

/// The end of one attempt's log (`stream`: `stdout` or `stderr`; default the latest
/// attempt's stdout).
#[server(prefix = "/rpc", endpoint = "jobs/log")]
pub async fn job_log(
    name: String,
    index: Option<u32>,
    attempt: Option<u32>,
    stream: Option<String>,
) -> Result<String, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let q = backend::ops::jobs::LogQuery { index, attempt, stream, tail: Some(64 * 1024) };
    Ok(backend::ops::jobs::logs(&st, &who, &name, &q).await?)
}

/// The "Create job" form: every field as typed (empty = the spec's default).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobForm {
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `command`.
    #[serde(default)]
    pub command: String,
    /// `parallelism`.
    #[serde(default)]
    pub parallelism: String,
    /// `completions`.
    #[serde(default)]
    pub completions: String,
    /// `completion_mode`.
    #[serde(default)]
    pub completion_mode: String,
    /// `restart_policy`.
    #[serde(default)]
    pub restart_policy: String,
    /// `backoff_limit`.
    #[serde(default)]
    pub backoff_limit: String,
    /// `backoff_base` (a duration, e.g. `1s`).
    #[serde(default)]
    pub backoff_base: String,
    /// `active_deadline_seconds`.
    #[serde(default)]
    pub active_deadline_seconds: String,
    /// `ttl_seconds_after_finished`.
    #[serde(default)]
    pub ttl_seconds_after_finished: String,
}

impl JobForm {
    /// The spec as JSON, or every problem by spec key (numbers that are not numbers).
    /// What the numbers mean is the engine's check.
    pub fn to_json(&self) -> Result<serde_json::Value, Vec<(String, String)>> {
        use serde_json::{json, Map, Value};
        let mut obj = Map::new();
        let mut problems = Vec::new();
        obj.insert("name".into(), json!(self.name.trim()));
        obj.insert("command".into(), json!(self.command.trim()));
        let numbers = [
            ("parallelism", &self.parallelism),
            ("completions", &self.completions),
            ("backoff_limit", &self.backoff_limit),
            ("active_deadline_seconds", &self.active_deadline_seconds),
            ("ttl_seconds_after_finished", &self.ttl_seconds_after_finished),
        ];
        for (key, text) in numbers {
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match text.parse::<u64>() {
                Ok(n) => {
                    obj.insert(key.into(), json!(n));
                }
                Err(_) => problems.push((key.to_string(), format!("must be a whole number ≥ 0, not {text:?}"))),
            }
        }
        for (key, text) in [
            ("completion_mode", &self.completion_mode),
            ("restart_policy", &self.restart_policy),
            ("backoff_base", &self.backoff_base),
        ] {
            if !text.trim().is_empty() {
                obj.insert(key.into(), Value::String(text.trim().to_string()));
            }
        }
        if problems.is_empty() {
            Ok(Value::Object(obj))
        } else {
            Err(problems)
        }
    }
}

/// Parses a job spec from JSON into the engine's type, or every problem by key: the
/// form's, serde's, then the spec's own validation.
#[cfg(feature = "ssr")]
pub(crate) fn job_spec(value: serde_json::Value) -> Result<supervisor::jobs::JobSpec, AppError> {
    let spec: supervisor::jobs::JobSpec =
        serde_json::from_value(value).map_err(|e| AppError::Fields(vec![(String::new(), e.to_string())]))?;
    let problems = spec.validate();
    if !problems.is_empty() {
        return Err(AppError::Fields(problems.into_iter().map(|(k, m)| (k.to_string(), m)).collect()));
    }
    Ok(spec)
}

/// Creates a job from the form and starts it; goes to its page.
#[server(prefix = "/rpc", endpoint = "jobs/create")]
pub async fn create_job(job: JobForm) -> Result<String, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    let spec = job_spec(job.to_json().map_err(AppError::Fields)?)?;
    let name = spec.name.clone();
    backend::ops::jobs::create(&st, &who, spec).await?;
    leptos_axum::redirect(&format!("/jobs/{name}"));
    Ok(name)
}

/// Kills a job's attempts and removes it (a config-file job is refused); back to Jobs.
#[server(prefix = "/rpc", endpoint = "jobs/delete")]
pub async fn delete_job(name: String) -> Result<(), AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    backend::ops::jobs::delete(&st, &who, &name).await?;
    leptos_axum::redirect("/jobs");
    Ok(())
}

/// Suspends a job (running attempts are killed, uncounted).
#[server(prefix = "/rpc", endpoint = "jobs/suspend")]
pub async fn suspend_job(name: String) -> Result<JobInfo, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    rewire(&backend::ops::jobs::suspend(&st, &who, &name).await?)
}

/// Resumes a suspended job.
#[server(prefix = "/rpc", endpoint = "jobs/resume")]
pub async fn resume_job(name: String) -> Result<JobInfo, AppError> {
    use super::ssr::{principal, state};
    let (st, who) = (state()?, principal().await?);
    rewire(&backend::ops::jobs::resume(&st, &who, &name).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_in_words() {
        use serde_json::json;
        let cases = [
            (json!({}), "1"),
            (json!({"completions": 5}), "5"),
            (json!({"parallelism": 3}), "work queue"),
            (json!({"parallelism": 3, "completion_mode": "Indexed", "completions": 4}), "4"),
        ];
        for (spec, want) in cases {
            assert_eq!(completions_text(&spec), want, "{spec}");
        }
    }

    #[test]
    fn form_to_spec_json() {
        let f = JobForm {
            name: " j ".into(),
            command: "true".into(),
            parallelism: "2".into(),
            completions: "".into(),
            completion_mode: "Indexed".into(),
            backoff_limit: "x".into(),
            active_deadline_seconds: "-1".into(),
            ..JobForm::default()
        };
        let problems = f.to_json().expect_err("bad numbers");
        let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["backoff_limit", "active_deadline_seconds"]);
        let ok = JobForm { backoff_limit: "0".into(), active_deadline_seconds: "".into(), ..f };
        let v = ok.to_json().expect("valid");
        assert_eq!(
            v,
            serde_json::json!({"name":"j","command":"true","parallelism":2,"backoff_limit":0,"completion_mode":"Indexed"})
        );
    }
}
