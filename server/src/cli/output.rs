//! Printing answers: aligned tables for people, pretty JSON for scripts.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Formats rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A JSON value as pretty text.
pub fn json(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// A field as table text: strings bare, `null`/missing as `-`, arrays comma-joined.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(cell).collect();
            if parts.is_empty() {
                "-".into()
            } else {
                parts.join(",")
            }
        }
        other => other.to_string(),
    }
}

/// `1d2h`, `3h4m`, `5m6s`, `7s`: how long ago `since` was, for the uptime column.
pub fn age(since: &Value, now: DateTime<Utc>) -> String {
    let Some(t) = since.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()) else {
        return "-".into();
    };
    let secs = (now - t.with_timezone(&Utc)).num_seconds().max(0);
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

/// The process table of `status`: one row per instance.
pub fn processes(list: &[Value], now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            let running = p["state"] == "running";
            let exit = match (&p["exit_code"], &p["exit_signal"]) {
                (Value::Number(c), _) => format!("code {c}"),
                (_, Value::Number(s)) => format!("signal {s}"),
                _ => "-".into(),
            };
            vec![
                cell(&p["name"]),
                cell(&p["state"]),
                if running { cell(&p["pid"]) } else { "-".into() },
                if running { age(&p["started_at"], now) } else { "-".into() },
                cell(&p["restarts"]),
                cell(&p["desired"]),
                cell(&p["origin"]),
                if running { "-".into() } else { p["reason"].as_str().map(str::to_string).unwrap_or(exit) },
            ]
        })
        .collect();
    table(&["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "DESIRED", "ORIGIN", "LAST EXIT"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_columns() {
        let t = table(&["NAME", "STATE"], &[vec!["web-1".into(), "running".into()], vec!["a".into(), "-".into()]]);
        assert_eq!(t, "NAME   STATE\nweb-1  running\na      -");
    }

    #[test]
    fn ages_and_cells() {
        let now = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").expect("time").with_timezone(&Utc);
        let table = [
            ("2026-01-02T03:04:00Z", "5s"),
            ("2026-01-02T03:00:00Z", "4m5s"),
            ("2026-01-02T01:00:00Z", "2h4m"),
            ("2025-12-30T03:04:05Z", "3d0h"),
        ];
        for (since, want) in table {
            assert_eq!(age(&json!(since), now), want, "{since}");
        }
        assert_eq!(age(&Value::Null, now), "-");
        assert_eq!(cell(&json!(["admin", "viewer"])), "admin,viewer");
        assert_eq!(cell(&json!(null)), "-");
        assert_eq!(cell(&json!(3)), "3");
    }
}
