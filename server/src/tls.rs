//! Certificates for HTTPS: finding, generating and loading them, and the rustls server
//! configuration built from them.
//!
//! [`prepare`] picks the certificate the way upstream provisr does, first match wins:
//!
//! 1. `cert_file` + `key_file`: explicit files, which must exist and parse.
//! 2. `tls.crt` + `tls.key` in `dir` (default `<data dir>/tls`): used as they are.
//! 3. `auto_generate`: a self-signed ECDSA P-256 certificate is generated with rcgen and
//!    written to that directory, so the next start reuses it (and browsers that were told to
//!    trust it keep trusting it).
//! 4. Otherwise an error that lists these options.
//!
//! A certificate this module generated carries the organisation name [`GENERATED_ORG`]; when
//! such a certificate has expired or expires within [`RENEW_BEFORE`], it is replaced by a new
//! one (certificates from anyone else are never overwritten, only warned about). Changing
//! `[server.tls.auto_gen]` does not replace a certificate that is still valid: delete
//! `tls.crt` and `tls.key` to have it regenerated.
//!
//! The private key is written with mode 0600 from the moment the file exists (it is created
//! with that mode, then renamed into place) and never logged. [`rustls_config`] builds the
//! rustls configuration itself, rather than through `RustlsConfig::from_pem`, so that
//! `min_version` is honoured.

use crate::config::{AutoGenConfig, TlsConfig, TlsVersion};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The certificate's file name in a TLS directory (as upstream names it).
pub const CERT_FILE_NAME: &str = "tls.crt";
/// The private key's file name in a TLS directory.
pub const KEY_FILE_NAME: &str = "tls.key";
/// The subject organisation of generated certificates; how a generated certificate is told
/// apart from one an operator put in the directory.
pub const GENERATED_ORG: &str = "provisr self-signed";
/// A generated certificate this close to its end is replaced at startup.
pub const RENEW_BEFORE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

const CERT_MODE: u32 = 0o644;
const KEY_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// A certificate chain and its private key, in PEM, ready for [`rustls_config`].
pub struct TlsMaterial {
    /// The certificate chain, leaf first (PEM).
    pub cert_pem: Vec<u8>,
    /// The private key (PEM). Never printed: `Debug` redacts it.
    pub key_pem: Vec<u8>,
    /// Where the certificate was read from or written to.
    pub cert_path: Option<PathBuf>,
    /// Where the key was read from or written to.
    pub key_path: Option<PathBuf>,
    /// True when this call generated the certificate (and wrote both files).
    pub generated: bool,
}

impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("cert_pem", &format_args!("<{} bytes>", self.cert_pem.len()))
            .field("key_pem", &format_args!("[redacted]"))
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("generated", &self.generated)
            .finish()
    }
}

/// Why no usable certificate could be prepared. Every variant names the file or directory
/// concerned; none contains key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file (or in-memory PEM) holds no usable certificate or key.
    #[error("{what}: {reason}")]
    Invalid {
        /// The file, or "the certificate"/"the private key" for in-memory PEM.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Only one of `cert_file` and `key_file` is set.
    #[error("[server.tls] cert_file and key_file must be set together: {missing} is not set")]
    HalfPair {
        /// The one that is missing.
        missing: &'static str,
    },
    /// The TLS directory holds one of `tls.crt` and `tls.key` but not the other.
    #[error(
        "{} exists but {} does not: put both files there, or remove {} to have a self-signed certificate generated",
        present.display(),
        missing.display(),
        present.display()
    )]
    Incomplete {
        /// The file that exists.
        present: PathBuf,
        /// The file that does not.
        missing: PathBuf,
    },
    /// Nothing to serve HTTPS with, and generating is off.
    #[error(
        "no TLS certificate: set [server.tls] cert_file and key_file, or put {CERT_FILE_NAME} and {KEY_FILE_NAME} in {}, \
         or set [server.tls] auto_generate = true to have a self-signed certificate generated there \
         (or enabled = false to serve plain HTTP)",
        dir.display()
    )]
    NoCertificate {
        /// The directory that was searched.
        dir: PathBuf,
    },
    /// rcgen failed to generate a certificate.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A directory or file could not be created or written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// rustls refused the certificate and key (they do not match, unsupported key type…).
    #[error("cannot use {what}: {source}")]
    Rejected {
        /// The certificate and key files.
        what: String,
        /// Why.
        source: rustls::Error,
    },
}

/// Finds, loads or generates the server certificate; see the module documentation for the
/// order. `default_dir` is the TLS directory used when `cfg.dir` is unset (`<data dir>/tls`).
pub fn prepare(cfg: &TlsConfig, default_dir: &Path) -> Result<TlsMaterial, TlsError> {
    match (&cfg.cert_file, &cfg.key_file) {
        (Some(cert), Some(key)) => {
            let material = load_pair(cert, key)?;
            warn_if_expiring(&material);
            return Ok(material);
        }
        (Some(_), None) => return Err(TlsError::HalfPair { missing: "key_file" }),
        (None, Some(_)) => return Err(TlsError::HalfPair { missing: "cert_file" }),
        (None, None) => {}
    }

    let dir = cfg.dir.as_deref().unwrap_or(default_dir);
    let cert_path = dir.join(CERT_FILE_NAME);
    let key_path = dir.join(KEY_FILE_NAME);
    match (exists(&cert_path)?, exists(&key_path)?) {
        (true, true) => {
            let material = load_pair(&cert_path, &key_path)?;
            let info = first_cert_der(&material.cert_pem).and_then(|der| cert_info(&der));
            let renew =
                info.as_ref().is_some_and(|i| i.generated_by_provisr && expires_within(i.not_after, RENEW_BEFORE));
            if cfg.auto_generate && renew {
                tracing::info!(
                    cert = %cert_path.display(),
                    "the self-signed certificate has expired or expires within 7 days: generating a new one"
                );
                return generate_into(dir, &cfg.auto_gen);
            }
            warn_if_expiring(&material);
            Ok(material)
        }
        (true, false) => Err(TlsError::Incomplete { present: cert_path, missing: key_path }),
        (false, true) => Err(TlsError::Incomplete { present: key_path, missing: cert_path }),
        (false, false) if cfg.auto_generate => generate_into(dir, &cfg.auto_gen),
        (false, false) => Err(TlsError::NoCertificate { dir: dir.to_path_buf() }),
    }
}

/// The rustls configuration for `m` accepting `min` and newer, wrapped for axum-server.
pub async fn rustls_config(
    m: &TlsMaterial,
    min: TlsVersion,
) -> Result<axum_server::tls_rustls::RustlsConfig, TlsError> {
    let config = server_config(m, min)?;
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config)))
}

/// The rustls server configuration: the certificate and key of `m`, protocol versions from
/// `min` up, ALPN `h2` then `http/1.1`. Uses the aws-lc-rs provider explicitly (as
/// axum-server does), so it does not depend on a process-wide default provider being
/// installed; both aws-lc-rs and ring are compiled into rustls here.
pub fn server_config(m: &TlsMaterial, min: TlsVersion) -> Result<rustls::ServerConfig, TlsError> {
    let cert_what = describe(m.cert_path.as_deref(), "the certificate");
    let key_what = describe(m.key_path.as_deref(), "the private key");
    let certs = parse_certs(&m.cert_pem).map_err(|reason| TlsError::Invalid { what: cert_what.clone(), reason })?;
    let key = parse_key(&m.key_pem).map_err(|reason| TlsError::Invalid { what: key_what.clone(), reason })?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = match min {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let rejected = |source| TlsError::Rejected { what: format!("certificate {cert_what} with key {key_what}"), source };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(rejected)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(rejected)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn describe(path: Option<&Path>, fallback: &str) -> String {
    path.map_or_else(|| fallback.to_string(), |p| p.display().to_string())
}

fn exists(path: &Path) -> Result<bool, TlsError> {
    path.try_exists().map_err(|source| TlsError::Read { path: path.to_path_buf(), source })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source })
}

/// Reads a certificate and key, checks that both parse and belong together.
fn load_pair(cert_path: &Path, key_path: &Path) -> Result<TlsMaterial, TlsError> {
    let material = TlsMaterial {
        cert_pem: read(cert_path)?,
        key_pem: read(key_path)?,
        cert_path: Some(cert_path.to_path_buf()),
        key_path: Some(key_path.to_path_buf()),
        generated: false,
    };
    // Building a configuration parses both and checks that the key matches the certificate,
    // so a wrong pair is reported now, naming the files, not at the first handshake.
    server_config(&material, TlsVersion::Tls12)?;
    warn_if_key_readable(key_path);
    Ok(material)
}

fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block found: expected a PEM certificate".to_string());
    }
    Ok(certs)
}

fn parse_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            "no private key found: expected a PEM key (PKCS#8, PKCS#1 or SEC1)".to_string()
        }
        other => format!("not a PEM private key: {other}"),
    })
}

fn first_cert_der(pem: &[u8]) -> Option<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem).next()?.ok()
}

/// A private key others can read is worth a warning, not a refusal: the operator may have
/// reasons (a group-readable key shared with a sidecar), but usually it is a mistake.
fn warn_if_key_readable(key_path: &Path) {
    if let Ok(meta) = fs::metadata(key_path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                key = %key_path.display(),
                mode = format_args!("{mode:04o}"),
                "the TLS private key is readable by other users; chmod 600 it"
            );
        }
    }
}

/// When the (first) certificate of `m` expires, if it can be read.
pub fn expires_at(m: &TlsMaterial) -> Option<chrono::DateTime<chrono::Utc>> {
    first_cert_der(&m.cert_pem).and_then(|der| cert_info(&der)).map(|i| i.not_after)
}

fn warn_if_expiring(m: &TlsMaterial) {
    let Some(info) = first_cert_der(&m.cert_pem).and_then(|der| cert_info(&der)) else {
        return;
    };
    let cert = describe(m.cert_path.as_deref(), "the certificate");
    if expires_within(info.not_after, Duration::ZERO) {
        tracing::warn!(%cert, not_after = %info.not_after, "the TLS certificate has expired");
    } else if expires_within(info.not_after, RENEW_BEFORE) {
        tracing::warn!(%cert, not_after = %info.not_after, "the TLS certificate expires within 7 days");
    }
}

fn expires_within(not_after: chrono::DateTime<chrono::Utc>, margin: Duration) -> bool {
    let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
    not_after <= chrono::Utc::now() + margin
}

/// Generates a certificate and writes it into `dir`, replacing what is there.
fn generate_into(dir: &Path, auto_gen: &AutoGenConfig) -> Result<TlsMaterial, TlsError> {
    let now = SystemTime::now();
    // Five minutes of slack for clients whose clock is a little behind.
    let not_before = now.checked_sub(Duration::from_secs(300)).unwrap_or(now);
    let days = u64::from(auto_gen.valid_days.max(1));
    let not_after = now + Duration::from_secs(days * 24 * 60 * 60);
    let (cert_pem, key_pem) = generate(auto_gen, not_before, not_after)?;

    let cert_path = dir.join(CERT_FILE_NAME);
    let key_path = dir.join(KEY_FILE_NAME);
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|source| TlsError::Write { path: dir.to_path_buf(), source })?;
    // Both files are complete on disk before either is renamed into place, so a failure
    // leaves the previous pair (or nothing) rather than a certificate without its key.
    let cert_tmp = write_temp(dir, CERT_FILE_NAME, cert_pem.as_bytes(), CERT_MODE)?;
    let key_tmp = match write_temp(dir, KEY_FILE_NAME, key_pem.as_bytes(), KEY_MODE) {
        Ok(tmp) => tmp,
        Err(e) => {
            let _ = fs::remove_file(&cert_tmp);
            return Err(e);
        }
    };
    rename(&key_tmp, &key_path)?;
    rename(&cert_tmp, &cert_path)?;
    if let Ok(d) = fs::File::open(dir) {
        // Make the renames durable; a failure here only risks redoing the generation.
        let _ = d.sync_all();
    }

    tracing::info!(
        cert = %cert_path.display(),
        key = %key_path.display(),
        common_name = %auto_gen.common_name,
        dns_names = ?auto_gen.dns_names,
        ip_addresses = ?auto_gen.ip_addresses,
        valid_days = days,
        "generated a self-signed TLS certificate"
    );
    Ok(TlsMaterial {
        cert_pem: cert_pem.into_bytes(),
        key_pem: key_pem.into_bytes(),
        cert_path: Some(cert_path),
        key_path: Some(key_path),
        generated: true,
    })
}

/// Writes `.<name>.tmp` in `dir`, created with `mode` (so a key is never readable by others,
/// not even between create and chmod) and flushed to disk. Returns its path.
fn write_temp(dir: &Path, name: &str, contents: &[u8], mode: u32) -> Result<PathBuf, TlsError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let failed = |source| TlsError::Write { path: tmp.clone(), source };
    // A leftover from an interrupted run; `create_new` below refuses to reuse it (or to
    // follow a symlink planted in its place).
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(e)),
    }
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        // The umask may have taken bits away from `mode`; set exactly what is meant.
        file.set_permissions(Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(failed(e));
    }
    Ok(tmp)
}

fn rename(from: &Path, to: &Path) -> Result<(), TlsError> {
    fs::rename(from, to).map_err(|source| TlsError::Write { path: to.to_path_buf(), source })
}

/// A self-signed ECDSA P-256 certificate and its key, both PEM. DNS names that are IP
/// addresses become IP SANs.
fn generate(
    auto_gen: &AutoGenConfig,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<(String, String), TlsError> {
    use rcgen::{
        CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose, SanType,
        SerialNumber,
    };

    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, auto_gen.common_name.as_str());
    dn.push(DnType::OrganizationName, GENERATED_ORG);
    params.distinguished_name = dn;

    let mut ips: Vec<IpAddr> = Vec::new();
    for name in &auto_gen.dns_names {
        match name.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => params.subject_alt_names.push(SanType::DnsName(name.as_str().try_into()?)),
        }
    }
    ips.extend(auto_gen.ip_addresses.iter().copied());
    ips.dedup();
    for ip in ips {
        if !params.subject_alt_names.contains(&SanType::IpAddress(ip)) {
            params.subject_alt_names.push(SanType::IpAddress(ip));
        }
    }

    // A random serial: browsers reject two different certificates with the same issuer and
    // serial, which a fixed serial would produce on every regeneration.
    let mut serial: [u8; 16] = rand::random();
    serial[0] &= 0x7f; // a positive INTEGER
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    // rcgen takes `time::OffsetDateTime`: count from its epoch so that the `time` crate need
    // not be a direct dependency.
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + Duration::from_secs(unix_secs(not_before));
    params.not_after = epoch + Duration::from_secs(unix_secs(not_after));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];

    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Seconds since the Unix epoch (0 before it).
fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// What the renewal decision needs from a certificate.
struct CertInfo {
    not_after: chrono::DateTime<chrono::Utc>,
    /// Self-issued, with [`GENERATED_ORG`] in its subject.
    generated_by_provisr: bool,
}

/// Reads a DER certificate's expiry and whether provisr generated it.
fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = chrono::DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)?;
    let subject = cert.subject();
    let generated_by_provisr = cert.issuer() == subject
        && subject.iter_organization().any(|o| o.as_str().is_ok_and(|org| org == GENERATED_ORG));
    Some(CertInfo { not_after, generated_by_provisr })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConnection};

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    fn generated_in(dir: &Path) -> TlsMaterial {
        prepare(&TlsConfig::default(), dir).expect("generate")
    }

    fn client(m: &TlsMaterial, versions: &[&'static rustls::SupportedProtocolVersion]) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(first_cert_der(&m.cert_pem).expect("a certificate")).expect("trust the generated certificate");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Arc::new(
            ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(versions)
                .expect("versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    /// Runs a TLS handshake in memory; the client verifies the certificate for `name`.
    fn handshake(server: rustls::ServerConfig, client: Arc<ClientConfig>, name: &str) -> Result<(), rustls::Error> {
        let mut s = ServerConnection::new(Arc::new(server))?;
        let name = ServerName::try_from(name.to_string()).expect("server name");
        let mut c = ClientConnection::new(client, name)?;
        for _ in 0..50 {
            let mut buf = Vec::new();
            c.write_tls(&mut buf).expect("client write");
            let mut rd = &buf[..];
            while !rd.is_empty() {
                s.read_tls(&mut rd).expect("server read");
                s.process_new_packets()?;
            }
            buf.clear();
            s.write_tls(&mut buf).expect("server write");
            let mut rd = &buf[..];
            while !rd.is_empty() {
                c.read_tls(&mut rd).expect("client read");
                c.process_new_packets()?;
            }
            if !c.is_handshaking() && !s.is_handshaking() {
                return Ok(());
            }
        }
        panic!("the handshake did not finish");
    }

    #[test]
    fn generation_writes_both_files_with_the_right_modes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data/tls");
        let m = generated_in(&dir);
        assert!(m.generated);
        assert_eq!(m.cert_path.as_deref(), Some(dir.join("tls.crt").as_path()));
        assert_eq!(m.key_path.as_deref(), Some(dir.join("tls.key").as_path()));
        assert_eq!(mode(&dir.join("tls.key")), 0o600);
        assert_eq!(mode(&dir.join("tls.crt")), 0o644);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(fs::read(dir.join("tls.crt")).expect("cert"), m.cert_pem);
        assert_eq!(fs::read(dir.join("tls.key")).expect("key"), m.key_pem);
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(&dir).expect("dir").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");

        let info = cert_info(&first_cert_der(&m.cert_pem).expect("der")).expect("parse the certificate");
        assert!(info.generated_by_provisr);
        let days = (info.not_after - chrono::Utc::now()).num_days();
        assert!((364..=365).contains(&days), "valid for {days} days");
    }

    #[test]
    fn the_generated_certificate_is_valid_for_localhost_and_loopback_ips() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let m = generated_in(tmp.path());
        let all = rustls::ALL_VERSIONS;
        for name in ["localhost", "127.0.0.1", "::1"] {
            let server = server_config(&m, TlsVersion::Tls12).expect("server config");
            handshake(server, client(&m, all), name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let server = server_config(&m, TlsVersion::Tls12).expect("server config");
        let err = handshake(server, client(&m, all), "example.com").expect_err("not a SAN");
        assert!(err.to_string().contains("certificate"), "{err}");
    }

    #[test]
    fn dns_names_that_are_ips_become_ip_sans() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut cfg = TlsConfig::default();
        cfg.auto_gen.dns_names = vec!["provisr.local".into(), "10.1.2.3".into()];
        cfg.auto_gen.ip_addresses = Vec::new();
        let m = prepare(&cfg, tmp.path()).expect("generate");
        for name in ["provisr.local", "10.1.2.3"] {
            let server = server_config(&m, TlsVersion::Tls12).expect("server config");
            handshake(server, client(&m, rustls::ALL_VERSIONS), name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        if let Ok(out) = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
            .arg(tmp.path().join("tls.crt"))
            .output()
        {
            let text = String::from_utf8_lossy(&out.stdout);
            if out.status.success() {
                assert!(text.contains("DNS:provisr.local") && text.contains("IP Address:10.1.2.3"), "{text}");
                assert!(!text.contains("DNS:10.1.2.3"), "{text}");
            }
        }
    }

    #[test]
    fn a_second_prepare_reuses_the_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let first = generated_in(tmp.path());
        let second = generated_in(tmp.path());
        assert!(!second.generated);
        assert_eq!(first.cert_pem, second.cert_pem);
        assert_eq!(first.key_pem, second.key_pem);
    }

    #[test]
    fn explicit_files_come_first() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let generated = generated_in(&tmp.path().join("elsewhere"));
        let cert = tmp.path().join("server.pem");
        let key = tmp.path().join("server-key.pem");
        fs::write(&cert, &generated.cert_pem).expect("write cert");
        fs::write(&key, &generated.key_pem).expect("write key");

        let cfg = TlsConfig {
            cert_file: Some(cert.clone()),
            key_file: Some(key.clone()),
            dir: Some(tmp.path().join("unused")),
            ..TlsConfig::default()
        };
        let m = prepare(&cfg, tmp.path()).expect("explicit files");
        assert!(!m.generated);
        assert_eq!(m.cert_path, Some(cert));
        assert_eq!(m.key_path, Some(key));
        assert_eq!(m.cert_pem, generated.cert_pem);
        assert!(!tmp.path().join("unused").exists(), "nothing generated");
    }

    #[test]
    fn missing_or_broken_files_are_named() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing = tmp.path().join("missing.crt");
        let cfg = TlsConfig {
            cert_file: Some(missing.clone()),
            key_file: Some(tmp.path().join("missing.key")),
            ..TlsConfig::default()
        };
        let err = prepare(&cfg, tmp.path()).expect_err("missing");
        assert!(matches!(err, TlsError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains(&missing.display().to_string()), "{err}");

        let not_pem = tmp.path().join("not.pem");
        fs::write(&not_pem, "hello").expect("write");
        let good = generated_in(&tmp.path().join("good"));
        let cfg =
            TlsConfig { cert_file: Some(not_pem.clone()), key_file: good.key_path.clone(), ..TlsConfig::default() };
        let err = prepare(&cfg, tmp.path()).expect_err("not a certificate");
        assert!(err.to_string().starts_with(&not_pem.display().to_string()), "{err}");

        // A key that does not belong to the certificate.
        let other = generated_in(&tmp.path().join("other"));
        let cfg =
            TlsConfig { cert_file: good.cert_path.clone(), key_file: other.key_path.clone(), ..TlsConfig::default() };
        let err = prepare(&cfg, tmp.path()).expect_err("mismatch");
        assert!(matches!(err, TlsError::Rejected { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("good/tls.crt") && text.contains("other/tls.key"), "{text}");
    }

    #[test]
    fn a_directory_without_certificates() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cfg = TlsConfig { auto_generate: false, ..TlsConfig::default() };
        let err = prepare(&cfg, tmp.path()).expect_err("nothing to use");
        let text = err.to_string();
        for option in ["cert_file", "tls.crt", "auto_generate", "enabled = false"] {
            assert!(text.contains(option), "{text}");
        }

        // Files put there by hand are used even without auto_generate.
        let made = generated_in(&tmp.path().join("made"));
        fs::write(tmp.path().join("tls.crt"), &made.cert_pem).expect("write");
        let err = prepare(&cfg, tmp.path()).expect_err("only the certificate");
        assert!(matches!(err, TlsError::Incomplete { .. }), "{err:?}");
        fs::write(tmp.path().join("tls.key"), &made.key_pem).expect("write");
        let m = prepare(&cfg, tmp.path()).expect("both files");
        assert_eq!(m.cert_pem, made.cert_pem);
    }

    #[test]
    fn an_expiring_generated_certificate_is_replaced_and_a_foreign_one_is_not() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let now = SystemTime::now();
        let day = Duration::from_secs(86_400);
        let (cert, key) = generate(&AutoGenConfig::default(), now - 30 * day, now + 3 * day).expect("generate");
        fs::write(tmp.path().join("tls.crt"), &cert).expect("write");
        fs::write(tmp.path().join("tls.key"), &key).expect("write");
        let m = generated_in(tmp.path());
        assert!(m.generated, "expires in 3 days: replaced");
        assert_ne!(m.cert_pem, cert.as_bytes());
        assert_eq!(mode(&tmp.path().join("tls.key")), 0o600);

        // An expired certificate without provisr's mark is the operator's: kept.
        let foreign = tempfile::tempdir().expect("tempdir");
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let expired = params.self_signed(&key_pair).expect("self-signed").pem();
        fs::write(foreign.path().join("tls.crt"), &expired).expect("write");
        fs::write(foreign.path().join("tls.key"), key_pair.serialize_pem()).expect("write");
        let info = cert_info(&first_cert_der(expired.as_bytes()).expect("der")).expect("parse");
        assert!(!info.generated_by_provisr);
        assert_eq!(info.not_after, chrono::DateTime::parse_from_rfc3339("2021-01-01T00:00:00Z").expect("date"));
        let m = generated_in(foreign.path());
        assert!(!m.generated);
        assert_eq!(m.cert_pem, expired.as_bytes());
    }

    #[test]
    fn min_version_1_3_refuses_a_tls_1_2_client() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let m = generated_in(tmp.path());
        let tls12_only = client(&m, &[&rustls::version::TLS12]);

        let server = server_config(&m, TlsVersion::Tls13).expect("server config");
        handshake(server, tls12_only.clone(), "localhost").expect_err("TLS 1.2 refused");
        let server = server_config(&m, TlsVersion::Tls13).expect("server config");
        handshake(server, client(&m, &[&rustls::version::TLS13]), "localhost").expect("TLS 1.3 accepted");
        let server = server_config(&m, TlsVersion::Tls12).expect("server config");
        handshake(server, tls12_only, "localhost").expect("TLS 1.2 accepted when allowed");
    }

    #[tokio::test]
    async fn rustls_config_offers_h2_and_http_1_1() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let m = generated_in(tmp.path());
        let config = rustls_config(&m, TlsVersion::Tls13).await.expect("rustls config");
        assert_eq!(config.get_inner().alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let m = generated_in(tmp.path());
        let debug = format!("{m:?}");
        assert!(debug.contains("[redacted]"), "{debug}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        let err = TlsError::Invalid { what: "x".into(), reason: "y".into() };
        assert_eq!(err.to_string(), "x: y");
    }

    #[test]
    fn malformed_certificates_are_not_read() {
        assert!(cert_info(b"\x30\x03\x02\x01\x00").is_none());
        assert!(cert_info(b"").is_none());
    }
}
