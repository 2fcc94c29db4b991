//! Parsing and evaluating `schedule` + `time_zone`.
//!
//! Accepted schedules:
//! * 5 fields `min hour day-of-month month day-of-week` (standard cron: day-of-week
//!   `0`–`7`, `0` and `7` Sunday, names `SUN`…`SAT`);
//! * 6 fields, with seconds first;
//! * descriptors `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`;
//! * `@every <duration>` (`30s`, `5m`, `1h30m`): every so long after the previous
//!   schedule time (the first one a duration after registration), regardless of time zone.
//!
//! As in Vixie cron and Kubernetes, when both day-of-month and day-of-week are
//! restricted (neither is `*`), a day matches if *either* does.
//!
//! The fields are read in `time_zone` (IANA name, default UTC). Across DST
//! transitions a schedule is a set of local wall-clock times, each firing at most once:
//! * **spring forward**: a local time that does not exist that day is **skipped**
//!   (as in Kubernetes / robfig/cron: "jobs scheduled during the leap-ahead will not run");
//! * **fall back**: a local time that occurs twice fires at its **first** occurrence only.
//!
//! The `cron` crate does the calendar work; it numbers days of the week 1–7 from
//! Sunday, so the day-of-week field is translated.

use chrono::{DateTime, LocalResult, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

/// A parsed schedule in its time zone.
#[derive(Clone, Debug)]
pub struct Schedule {
    kind: Kind,
    tz: Tz,
}

#[derive(Clone, Debug)]
enum Kind {
    /// The fire times are the union of these (two when day-of-month and day-of-week
    /// are both restricted: one each).
    Cron(Vec<cron::Schedule>),
    Every(Duration),
}

impl Schedule {
    /// Parses `schedule` in `time_zone` (`None`: UTC). The error is for the operator.
    pub fn parse(schedule: &str, time_zone: Option<&str>) -> Result<Self, String> {
        let tz = match time_zone.map(str::trim).filter(|t| !t.is_empty()) {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name)
                .map_err(|_| format!("unknown time zone {name:?} (use an IANA name like \"Europe/Berlin\")"))?,
        };
        let s = schedule.trim();
        if let Some(every) = s.strip_prefix("@every") {
            let d = crate::duration::parse(every.trim()).map_err(|e| format!("invalid schedule {s:?}: {e}"))?;
            if d < Duration::from_secs(1) {
                return Err(format!("invalid schedule {s:?}: @every must be at least 1s"));
            }
            return Ok(Self { kind: Kind::Every(d), tz });
        }
        let fields: Vec<&str> = match s {
            "@yearly" | "@annually" => vec!["0", "0", "0", "1", "1", "*"],
            "@monthly" => vec!["0", "0", "0", "1", "*", "*"],
            "@weekly" => vec!["0", "0", "0", "*", "*", "0"],
            "@daily" | "@midnight" => vec!["0", "0", "0", "*", "*", "*"],
            "@hourly" => vec!["0", "0", "*", "*", "*", "*"],
            _ if s.starts_with('@') => return Err(format!("unknown schedule descriptor {s:?}")),
            _ => {
                let f: Vec<&str> = s.split_whitespace().collect();
                match f.len() {
                    5 => std::iter::once("0").chain(f).collect(),
                    6 => f,
                    n => {
                        return Err(format!(
                            "invalid schedule {s:?}: {n} fields; use 5 (min hour dom month dow), \
                             6 (sec min hour dom month dow), @hourly/@daily/… or @every <duration>"
                        ))
                    }
                }
            }
        };
        let dow = translate_dow(fields[5]).map_err(|e| format!("invalid schedule {s:?}: {e}"))?;
        let (dom_any, dow_any) = (is_any(fields[3]), is_any(fields[5]));
        let variants: Vec<[String; 2]> = if !dom_any && !dow_any {
            vec![[fields[3].to_string(), "*".into()], ["*".into(), dow]]
        } else {
            vec![[fields[3].to_string(), dow]]
        };
        let exprs = variants
            .into_iter()
            .map(|[dom, dow]| {
                let expr = format!("{} {} {} {dom} {} {dow}", fields[0], fields[1], fields[2], fields[4]);
                cron::Schedule::from_str(&expr).map_err(|e| format!("invalid schedule {s:?}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { kind: Kind::Cron(exprs), tz })
    }

    /// The time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// For `@every`: the interval.
    pub fn every(&self) -> Option<Duration> {
        match self.kind {
            Kind::Every(d) => Some(d),
            Kind::Cron(_) => None,
        }
    }

    /// The first fire time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Every(d) => t.checked_add_signed(chrono::Duration::from_std(*d).ok()?),
            Kind::Cron(exprs) => {
                let local = t.with_timezone(&self.tz);
                exprs
                    .iter()
                    .filter_map(|e| e.after(&local).find(|c| self.first_occurrence(c)))
                    .map(|c| c.with_timezone(&Utc))
                    .min()
            }
        }
    }

    /// The next `n` fire times after `t`.
    pub fn upcoming(&self, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut at = t;
        while out.len() < n {
            match self.next_after(at) {
                Some(next) => {
                    out.push(next);
                    at = next;
                }
                None => break,
            }
        }
        out
    }

    /// The schedule times in `(after, now]`: how many there are (counting stops at
    /// `limit`) and the latest one. For `@every`, the times are `after + k × interval`.
    pub fn missed(&self, after: DateTime<Utc>, now: DateTime<Utc>, limit: u64) -> (u64, Option<DateTime<Utc>>) {
        if now <= after {
            return (0, None);
        }
        match &self.kind {
            Kind::Every(d) => {
                let step = d.as_millis().max(1);
                let span = (now - after).to_std().unwrap_or_default().as_millis();
                let k = span / step;
                let latest = (k > 0)
                    .then(|| {
                        let ms = i64::try_from(k * step).ok()?;
                        after.checked_add_signed(chrono::Duration::milliseconds(ms))
                    })
                    .flatten();
                (u64::try_from(k).unwrap_or(u64::MAX).min(limit), latest)
            }
            Kind::Cron(exprs) => {
                let mut count = 0;
                let mut at = after;
                while count < limit {
                    match self.next_after(at) {
                        Some(t) if t <= now => {
                            count += 1;
                            at = t;
                        }
                        _ => break,
                    }
                }
                // The latest: walk back from just after `now`. The walk starts at the whole
                // second of its start, which can be after `now` (`now` = …:59.9995): such a
                // time is passed over, not taken as "none".
                let local = (now + chrono::Duration::milliseconds(1)).with_timezone(&self.tz);
                let latest = exprs
                    .iter()
                    .filter_map(|e| {
                        e.after(&local).rev().find(|c| c.with_timezone(&Utc) <= now && self.first_occurrence(c))
                    })
                    .map(|c| c.with_timezone(&Utc))
                    .filter(|t| *t > after)
                    .max();
                (count, latest)
            }
        }
    }

    /// False for the second occurrence of a local time repeated by a fall-back transition.
    fn first_occurrence(&self, t: &DateTime<Tz>) -> bool {
        match self.tz.from_local_datetime(&t.naive_local()) {
            LocalResult::Ambiguous(first, _) => first == *t,
            _ => true,
        }
    }
}

fn is_any(field: &str) -> bool {
    matches!(field, "*" | "?")
}

/// Translates a standard day-of-week field (0–7, 0 and 7 Sunday, names) into the
/// `cron` crate's numbering (1–7 from Sunday), as an explicit list.
fn translate_dow(field: &str) -> Result<String, String> {
    if is_any(field) {
        return Ok(field.to_string());
    }
    let day = |s: &str| -> Result<u32, String> {
        const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
        let upper = s.to_ascii_uppercase();
        if let Some(i) = NAMES.iter().position(|n| upper.starts_with(n) && upper.len() >= 3) {
            return Ok(i as u32);
        }
        match s.parse::<u32>() {
            Ok(n) if n <= 7 => Ok(n),
            _ => Err(format!("invalid day of week {s:?} (use 0-7 or SUN-SAT)")),
        }
    };
    let mut days = BTreeSet::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().ok().filter(|s| *s > 0).ok_or(format!("invalid step in {item:?}"))?;
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = match range {
            "*" | "?" => (0, 6),
            _ => match range.split_once('-') {
                Some((a, b)) => (day(a)?, day(b)?),
                None if step > 1 => (day(range)?, 6),
                None => (day(range)?, day(range)?),
            },
        };
        if lo > hi {
            return Err(format!("invalid day-of-week range {range:?}"));
        }
        days.extend((lo..=hi).step_by(step as usize).map(|d| d % 7));
    }
    Ok(days.iter().map(|d| (d + 1).to_string()).collect::<Vec<_>>().join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("rfc3339").with_timezone(&Utc)
    }

    fn next(schedule: &str, tz: Option<&str>, after: &str, n: usize) -> Vec<String> {
        let s = Schedule::parse(schedule, tz).unwrap_or_else(|e| panic!("{schedule}: {e}"));
        s.upcoming(utc(after), n).iter().map(|t| t.to_rfc3339()).collect()
    }

    #[test]
    fn day_of_week_translation() {
        let table = [
            ("0", "1"),
            ("7", "1"),
            ("1-5", "2,3,4,5,6"),
            ("SAT,SUN", "1,7"),
            ("*/2", "1,3,5,7"),
            ("1-5/2", "2,4,6"),
            ("mon-fri", "2,3,4,5,6"),
            ("5-7", "1,6,7"),
        ];
        for (field, want) in table {
            assert_eq!(translate_dow(field).as_deref(), Ok(want), "{field}");
        }
        assert!(translate_dow("8").is_err());
        assert!(translate_dow("5-1").is_err());
    }

    #[test]
    fn schedule_forms() {
        let after = "2026-03-04T10:07:30+00:00"; // a Wednesday
        let table: &[(&str, &[&str])] = &[
            ("*/15 * * * *", &["2026-03-04T10:15:00+00:00", "2026-03-04T10:30:00+00:00"]),
            ("*/20 * * * * *", &["2026-03-04T10:07:40+00:00", "2026-03-04T10:08:00+00:00"]),
            ("0 9 * * 1-5", &["2026-03-05T09:00:00+00:00", "2026-03-06T09:00:00+00:00", "2026-03-09T09:00:00+00:00"]),
            ("0 0 * * 0", &["2026-03-08T00:00:00+00:00"]),
            ("0 0 * * 7", &["2026-03-08T00:00:00+00:00"]),
            ("@hourly", &["2026-03-04T11:00:00+00:00"]),
            ("@daily", &["2026-03-05T00:00:00+00:00"]),
            ("@midnight", &["2026-03-05T00:00:00+00:00"]),
            ("@weekly", &["2026-03-08T00:00:00+00:00"]),
            ("@monthly", &["2026-04-01T00:00:00+00:00"]),
            ("@yearly", &["2027-01-01T00:00:00+00:00"]),
            ("@annually", &["2027-01-01T00:00:00+00:00"]),
            ("@every 30s", &["2026-03-04T10:08:00+00:00", "2026-03-04T10:08:30+00:00"]),
            ("@every 1h30m", &["2026-03-04T11:37:30+00:00"]),
            // Day of month OR day of week when both are restricted: the 13th, or a Friday.
            ("0 0 13 * 5", &["2026-03-06T00:00:00+00:00", "2026-03-13T00:00:00+00:00", "2026-03-20T00:00:00+00:00"]),
        ];
        for (schedule, want) in table {
            assert_eq!(next(schedule, None, after, want.len()), *want, "{schedule}");
        }
    }

    #[test]
    fn bad_schedules_and_zones_are_explained() {
        for bad in [
            "",
            "* * * *",
            "* * * * * * * *",
            "61 * * * *",
            "@often",
            "@every",
            "@every 0s",
            "@every soon",
            "0 0 * * 9",
        ] {
            let e = Schedule::parse(bad, None).expect_err(bad);
            assert!(e.contains("schedule") || e.contains("descriptor"), "{bad}: {e}");
        }
        let e = Schedule::parse("@daily", Some("Mars/Olympus")).expect_err("zone");
        assert!(e.contains("Mars/Olympus"), "{e}");
    }

    #[test]
    fn time_zones_shift_the_fields() {
        // 09:00 in Tokyo (UTC+9) is 00:00 UTC.
        assert_eq!(next("0 9 * * *", Some("Asia/Tokyo"), "2026-03-04T10:00:00Z", 1), ["2026-03-05T00:00:00+00:00"]);
        // Berlin is UTC+1 in winter, UTC+2 in summer.
        assert_eq!(next("0 2 * * *", Some("Europe/Berlin"), "2026-01-10T12:00:00Z", 1), ["2026-01-11T01:00:00+00:00"]);
        assert_eq!(next("0 2 * * *", Some("Europe/Berlin"), "2026-07-10T12:00:00Z", 1), ["2026-07-11T00:00:00+00:00"]);
    }

    #[test]
    fn spring_forward_skips_the_missing_local_time() {
        // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
        assert_eq!(
            next("30 2 * * *", Some("Europe/Berlin"), "2026-03-27T12:00:00Z", 3),
            ["2026-03-28T01:30:00+00:00", "2026-03-30T00:30:00+00:00", "2026-03-31T00:30:00+00:00"],
        );
        // Hourly at :30 around the jump: 01:30 CET, then 03:30 CEST.
        assert_eq!(
            next("30 * * * *", Some("Europe/Berlin"), "2026-03-29T00:00:00Z", 2),
            ["2026-03-29T00:30:00+00:00", "2026-03-29T01:30:00+00:00"],
        );
    }

    #[test]
    fn fall_back_fires_a_repeated_local_time_once() {
        // Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice
        // (00:30 and 01:30 UTC). It fires at the first one only.
        assert_eq!(
            next("30 2 * * *", Some("Europe/Berlin"), "2026-10-24T12:00:00Z", 3),
            ["2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00", "2026-10-27T01:30:00+00:00"],
        );
        // Every 30 minutes: the repeated hour is not run twice.
        assert_eq!(
            next("*/30 * * * *", Some("Europe/Berlin"), "2026-10-24T23:45:00Z", 5),
            [
                "2026-10-25T00:00:00+00:00", // 02:00 CEST
                "2026-10-25T00:30:00+00:00", // 02:30 CEST
                "2026-10-25T02:00:00+00:00", // 03:00 CET (02:00 and 02:30 CET were run already)
                "2026-10-25T02:30:00+00:00",
                "2026-10-25T03:00:00+00:00",
            ],
        );
        // @every ignores wall clocks: exactly every hour in UTC.
        assert_eq!(
            next("@every 1h", Some("Europe/Berlin"), "2026-10-25T00:00:00Z", 2),
            ["2026-10-25T01:00:00+00:00", "2026-10-25T02:00:00+00:00"],
        );
    }

    #[test]
    fn missed_runs_are_counted_and_the_latest_found() {
        let s = Schedule::parse("*/10 * * * *", None).expect("schedule");
        let (count, latest) = s.missed(utc("2026-03-04T10:00:00Z"), utc("2026-03-04T10:35:00Z"), 100);
        assert_eq!((count, latest), (3, Some(utc("2026-03-04T10:30:00Z"))));
        assert_eq!(s.missed(utc("2026-03-04T10:00:00Z"), utc("2026-03-04T10:05:00Z"), 100), (0, None));
        let (count, latest) = s.missed(utc("2026-03-01T00:00:00Z"), utc("2026-03-04T10:35:00Z"), 101);
        assert_eq!((count, latest), (101, Some(utc("2026-03-04T10:30:00Z"))), "counting stops at the limit");
        // `now` just before a whole second: the walk back starts after it.
        let secondly = Schedule::parse("* * * * * *", None).expect("schedule");
        let now = utc("2026-03-04T10:04:59.9995Z");
        assert_eq!(secondly.missed(utc("2026-03-04T10:00:00Z"), now, 0), (0, Some(utc("2026-03-04T10:04:59Z"))));
        let now = utc("2026-03-04T10:05:00Z");
        assert_eq!(secondly.missed(utc("2026-03-04T10:00:00Z"), now, 0), (0, Some(now)), "`now` itself counts");
        let every = Schedule::parse("@every 30s", None).expect("schedule");
        let (count, latest) = every.missed(utc("2026-03-04T10:00:00Z"), utc("2026-03-04T10:01:45Z"), 100);
        assert_eq!((count, latest), (3, Some(utc("2026-03-04T10:01:30Z"))));
    }
}
