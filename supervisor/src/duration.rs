//! Durations on the wire: `"2s"`, `"1m30s"`, `"250ms"` (humantime) or, for
//! compatibility with upstream provisr (Go `time.Duration`), integer nanoseconds.

use serde::{de, Deserializer, Serializer};
use std::fmt;
use std::time::Duration;

/// Parses a duration string such as `"30s"`, `"5m"` or `"1h30m"`; a bare
/// integer is read as nanoseconds (Go's `time.Duration`).
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(ns) = t.parse::<u64>() {
        return Ok(Duration::from_nanos(ns));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("invalid duration {s:?}: {e} (use e.g. \"30s\", \"5m\", \"250ms\")"))
}

/// Formats a duration the way [`parse`] reads it back (`"1m 30s"` → `"1m30s"`).
pub fn format(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    humantime::format_duration(d).to_string().replace(' ', "")
}

struct Visitor;

impl de::Visitor<'_> for Visitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration string like \"30s\" or an integer number of nanoseconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_nanos(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_nanos)
            .map_err(|_| E::custom(format!("duration must not be negative, got {v}")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        if v.is_finite() && v >= 0.0 && v.fract() == 0.0 {
            Ok(Duration::from_nanos(v as u64))
        } else {
            Err(E::custom(format!("invalid duration {v}: use a string like \"30s\" or integer nanoseconds")))
        }
    }
}

/// `#[serde(with = "supervisor::duration")]` for a `Duration` field.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

/// See [`serialize`].
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(Visitor)
}

/// `#[serde(with = "supervisor::duration::option")]` for an `Option<Duration>` field.
pub mod option {
    use super::*;

    /// Serializes `None` as `null`.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format(*d)),
            None => s.serialize_none(),
        }
    }

    /// Reads `null`/absent as `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        struct Opt;
        impl<'de> de::Visitor<'de> for Opt {
            type Value = Option<Duration>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                super::deserialize(d).map(Some)
            }
        }
        d.deserialize_option(Opt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strings_and_nanoseconds() {
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1500000000"), Ok(Duration::from_millis(1500)));
        assert!(parse("soon").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for d in [Duration::ZERO, Duration::from_millis(250), Duration::from_secs(90), Duration::from_secs(3600)] {
            assert_eq!(parse(&format(d)), Ok(d), "{}", format(d));
        }
    }
}
