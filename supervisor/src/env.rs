//! A process's environment: layers, each expanded against the ones before it.
//!
//! The layers, from bottom to top:
//!
//! 1. the daemon's own environment (read once, when the supervisor starts);
//! 2. the global `env` / `env_files` of the configuration, in the order given (the server
//!    resolves the files; [`crate::SupervisorConfig::env`] receives the pairs);
//! 3. the spec's `env`.
//!
//! A value may refer to variables as `${NAME}` or `$NAME`; a reference is replaced by the
//! value defined *before* it: by a lower layer, or, in the ordered global list, by an
//! earlier entry. So `PATH = "${PATH}:/opt/bin"` extends the daemon's `PATH`. The spec's
//! `env` is a map without an order, so its values see layers 1 and 2 only, not each
//! other. An undefined variable expands to the empty string (as in a shell), `$$` is a
//! literal `$`, and a `$` not followed by a name (or an unterminated `${`) stays as it is.
//! Nothing else of shell syntax is interpreted: no `${A:-default}`, no command substitution.

use std::collections::BTreeMap;

/// A resolved environment: every variable a child gets, by name.
pub type EnvMap = BTreeMap<String, String>;

/// Expands `${NAME}` and `$NAME` in `value` with `lookup`; see the module docs.
pub fn expand(value: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut i = 0;
    // Copy runs of text up to each `$` as slices, so multi-byte characters stay whole.
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        out.push_str(&value[copied..i]);
        let rest = &value[i + 1..];
        let (replacement, used) = if rest.starts_with('$') {
            (Some("$".to_string()), 1)
        } else if let Some(inner) = rest.strip_prefix('{') {
            match inner.find('}') {
                Some(end) if is_name(&inner[..end]) => (Some(lookup(&inner[..end]).unwrap_or_default()), end + 2),
                _ => (None, 0),
            }
        } else {
            let len = name_len(rest);
            if len > 0 {
                (Some(lookup(&rest[..len]).unwrap_or_default()), len)
            } else {
                (None, 0)
            }
        };
        match replacement {
            Some(r) => {
                out.push_str(&r);
                i += 1 + used;
            }
            None => {
                out.push('$');
                i += 1;
            }
        }
        copied = i;
    }
    out.push_str(&value[copied..]);
    out
}

/// Length of the variable name at the start of `s` (`[A-Za-z_][A-Za-z0-9_]*`).
fn name_len(s: &str) -> usize {
    let b = s.as_bytes();
    if b.first().is_none_or(|c| !(c.is_ascii_alphabetic() || *c == b'_')) {
        return 0;
    }
    b.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count()
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && name_len(s) == s.len()
}

/// Lays the ordered `layer` over `base`: each value expanded against `base` as it is
/// when the entry is reached (earlier entries of the layer included).
pub fn apply_ordered<'a>(base: &mut EnvMap, layer: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (key, value) in layer {
        let v = expand(value, |n| base.get(n).cloned());
        base.insert(key.to_string(), v);
    }
}

/// Lays the unordered `layer` over `base`: every value expanded against `base` as it
/// was before the layer.
pub fn apply_map(base: &EnvMap, layer: &BTreeMap<String, String>) -> EnvMap {
    let mut out = base.clone();
    for (key, value) in layer {
        out.insert(key.clone(), expand(value, |n| base.get(n).cloned()));
    }
    out
}

/// The base every process starts from: the daemon's environment with the global
/// layer applied.
pub fn base(daemon: impl IntoIterator<Item = (String, String)>, global: &[(String, String)]) -> EnvMap {
    let mut env: EnvMap = daemon.into_iter().collect();
    apply_ordered(&mut env, global.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> EnvMap {
        [("HOME", "/home/me"), ("PATH", "/bin:/usr/bin"), ("A_1", "x"), ("EMPTY", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn expansion() {
        let env = vars();
        // (value, expanded)
        let table = [
            ("plain", "plain"),
            ("${HOME}/x", "/home/me/x"),
            ("$HOME/x", "/home/me/x"),
            ("${PATH}:/opt/bin", "/bin:/usr/bin:/opt/bin"),
            ("$A_1$A_1", "xx"),
            ("$A_1-y", "x-y"),
            ("${A_1}_y", "x_y"),
            ("$A_1_y", ""),
            ("[$UNDEFINED]", "[]"),
            ("[${UNDEFINED}]", "[]"),
            ("[$EMPTY]", "[]"),
            ("cost: $$5", "cost: $5"),
            ("$", "$"),
            ("a$", "a$"),
            ("$1", "$1"),
            ("$ x", "$ x"),
            ("${unterminated", "${unterminated"),
            ("${bad name}", "${bad name}"),
            ("${}", "${}"),
            ("ünï$HOME©", "ünï/home/me©"),
        ];
        for (value, want) in table {
            assert_eq!(expand(value, |n| env.get(n).cloned()), want, "{value:?}");
        }
    }

    #[test]
    fn layers_see_what_is_below_them() {
        let daemon = vec![("PATH".to_string(), "/bin".to_string()), ("USER".to_string(), "me".to_string())];
        let global = vec![
            ("PATH".to_string(), "${PATH}:/opt/bin".to_string()),
            ("APP_HOME".to_string(), "/srv/$USER".to_string()),
            ("DATA".to_string(), "${APP_HOME}/data".to_string()),
            ("LATER".to_string(), "$NOT_YET".to_string()),
            ("NOT_YET".to_string(), "defined".to_string()),
        ];
        let env = base(daemon, &global);
        assert_eq!(env["PATH"], "/bin:/opt/bin");
        assert_eq!(env["APP_HOME"], "/srv/me");
        assert_eq!(env["DATA"], "/srv/me/data", "earlier entries of the ordered list are visible");
        assert_eq!(env["LATER"], "", "later entries are not");

        let spec: BTreeMap<String, String> = [("PATH", "$PATH:/app/bin"), ("LOG", "$DATA/log"), ("SIBLING", "$LOG")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let child = apply_map(&env, &spec);
        assert_eq!(child["PATH"], "/bin:/opt/bin:/app/bin");
        assert_eq!(child["LOG"], "/srv/me/data/log");
        assert_eq!(child["SIBLING"], "", "spec entries do not see each other");
        assert_eq!(child["USER"], "me", "the daemon's environment is inherited");
    }
}
