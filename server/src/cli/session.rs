//! The CLI session saved by `provisr login`: `~/.provisr/session.json` (`$HOME` is
//! honoured), the directory 0700 and the file 0600, holding the token, the API URL it
//! is valid for, and its expiry. A session is only ever sent to the URL it was made for.

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

/// The API URL used when none is given and no session is saved: the daemon's default.
pub const DEFAULT_API_URL: &str = "https://127.0.0.1:8443/api";

/// What `login` saves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The API URL (normalised, see [`normalize_url`]) the token is valid for.
    pub server_url: String,
    /// The bearer token.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// Who signed in: a user name or a client id.
    pub principal: String,
    /// `basic` or `client_secret`.
    pub method: String,
    /// Accept any TLS certificate for this server (asked for at login with `--insecure`).
    #[serde(default)]
    pub insecure: bool,
    /// When the session was saved.
    pub created_at: DateTime<Utc>,
}

impl Session {
    /// Has the token expired?
    pub fn expired(&self) -> bool {
        self.expires_at <= Utc::now()
    }
}

/// `~/.provisr`, from `$HOME`.
pub fn dir() -> anyhow::Result<PathBuf> {
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".provisr")),
        None => bail!("HOME is not set: cannot find ~/.provisr/session.json"),
    }
}

/// `~/.provisr/session.json`.
pub fn path() -> anyhow::Result<PathBuf> {
    Ok(dir()?.join("session.json"))
}

/// The saved session, if any.
pub fn load() -> anyhow::Result<Option<Session>> {
    let path = path()?;
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let session = serde_json::from_str(&text).with_context(|| {
        format!("{} is not a provisr session: run `provisr logout`, then log in again", path.display())
    })?;
    Ok(Some(session))
}

/// Saves `session`: the directory is created (or tightened) to 0700, the file written
/// 0600 to a temporary name and renamed over the old one.
pub fn save(session: &Session) -> anyhow::Result<PathBuf> {
    let dir = dir()?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {} to 0700", dir.display()))?;
    let path = dir.join("session.json");
    let tmp = dir.join(format!(".session.json.{}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    file.write_all(serde_json::to_string_pretty(session)?.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Removes the saved session; `false` when there was none.
pub fn remove() -> anyhow::Result<bool> {
    let path = path()?;
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// A URL as compared and stored: scheme and host lower-cased, no trailing `/`, and
/// `/api` appended when no path is given (`http://host:8080` → `http://host:8080/api`).
pub fn normalize_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim();
    let parsed =
        reqwest::Url::parse(url).with_context(|| format!("{url:?} is not a URL (e.g. https://host:8443/api)"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("{url:?}: the API URL must start with http:// or https://");
    }
    if parsed.host_str().is_none() {
        bail!("{url:?}: the API URL needs a host");
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        bail!("{url:?}: the API URL must not have a query or fragment");
    }
    let path = parsed.path().trim_end_matches('/');
    let path = if path.is_empty() { "/api" } else { path };
    let mut base = parsed.clone();
    base.set_path("");
    Ok(format!("{}{path}", base.as_str().trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::normalize_url;

    #[test]
    fn urls_are_normalised() {
        let table = [
            ("http://127.0.0.1:8080/api", "http://127.0.0.1:8080/api"),
            ("http://127.0.0.1:8080/api/", "http://127.0.0.1:8080/api"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api"),
            ("HTTPS://Example.COM:8443/", "https://example.com:8443/api"),
            ("https://example.com/provisr/api", "https://example.com/provisr/api"),
            ("https://example.com:443/api", "https://example.com/api"),
        ];
        for (given, want) in table {
            assert_eq!(normalize_url(given).expect(given), want, "{given}");
        }
        for bad in ["", "127.0.0.1:8080", "ftp://host/api", "http://host/api?x=1"] {
            assert!(normalize_url(bad).is_err(), "{bad:?} is refused");
        }
    }
}
