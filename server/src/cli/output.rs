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

fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

/// An RFC 3339 time as `2026-01-02 03:04:05Z` (UTC, to the second); `-` when missing.
pub fn time(v: &Value) -> String {
    match parse_time(v) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        None => "-".into(),
    }
}

/// A number of seconds for people: `0.25s`, `3.1s`, `1m5s`, `2h3m`, `1d2h`.
pub fn span(secs: f64) -> String {
    if secs < 10.0 {
        let s = format!("{secs:.2}");
        return format!("{}s", s.trim_end_matches('0').trim_end_matches('.'));
    }
    let secs = secs.round() as i64;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

/// How long from `start` to `end` (to `now` while `end` is missing): `-` without a start.
pub fn elapsed(start: &Value, end: &Value, now: DateTime<Utc>) -> String {
    let Some(start) = parse_time(start) else { return "-".into() };
    let end = parse_time(end).unwrap_or(now);
    span((end - start).num_milliseconds().max(0) as f64 / 1000.0)
}

/// A time relative to `now`: `in 5s` or `5s ago`; `-` when missing.
pub fn relative(v: &Value, now: DateTime<Utc>) -> String {
    let Some(t) = parse_time(v) else { return "-".into() };
    let ms = (t - now).num_milliseconds();
    let s = span(ms.unsigned_abs() as f64 / 1000.0);
    if ms >= 0 {
        format!("in {s}")
    } else {
        format!("{s} ago")
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

    #[test]
    fn times_and_spans() {
        let now = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").expect("time").with_timezone(&Utc);
        let spans = [(0.0, "0s"), (0.25, "0.25s"), (3.1, "3.1s"), (12.4, "12s"), (65.0, "1m5s"), (7380.0, "2h3m")];
        for (secs, want) in spans {
            assert_eq!(span(secs), want, "{secs}");
        }
        assert_eq!(time(&json!("2026-01-02T03:04:05.123+00:00")), "2026-01-02 03:04:05Z");
        assert_eq!(time(&Value::Null), "-");
        assert_eq!(relative(&json!("2026-01-02T03:04:10Z"), now), "in 5s");
        assert_eq!(relative(&json!("2026-01-02T03:03:05Z"), now), "1m0s ago");
        assert_eq!(elapsed(&json!("2026-01-02T03:04:00Z"), &json!("2026-01-02T03:04:01.5Z"), now), "1.5s");
        assert_eq!(elapsed(&json!("2026-01-02T03:04:00Z"), &Value::Null, now), "5s");
        assert_eq!(elapsed(&Value::Null, &Value::Null, now), "-");
    }
}
