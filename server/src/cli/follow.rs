//! The daemon's WebSockets, with the session's bearer token, over TLS checked like the
//! HTTP client's (`--insecure` accepts any certificate): `provisr logs --follow` reads the
//! live log tail `GET /processes/{name}/logs/ws`; `provisr job wait` the events `GET /ws`.

use super::remote::{print_stream_message, Remote};
use anyhow::{anyhow, bail, Context as _};
use futures::{SinkExt as _, StreamExt as _};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::Value;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The byte stream under a WebSocket: TCP, or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A WebSocket to the daemon.
pub type Socket = WebSocketStream<Box<dyn Io>>;

/// Opens the WebSocket `<api url><path>` (an `http(s)` URL turned into `ws(s)`), with the
/// session's bearer token. A refused upgrade is an error with the server's `{"error"}`.
pub async fn connect(remote: &Remote, path: &str) -> anyhow::Result<Socket> {
    let http_url = reqwest::Url::parse(&format!("{}{path}", remote.url)).context("the WebSocket URL")?;
    let tls = http_url.scheme() == "https";
    let mut ws_url = http_url.clone();
    ws_url.set_scheme(if tls { "wss" } else { "ws" }).map_err(|_| anyhow!("cannot make a WebSocket URL"))?;
    let host = http_url.host_str().ok_or_else(|| anyhow!("no host in {http_url}"))?.to_string();
    let port = http_url.port_or_known_default().unwrap_or(if tls { 443 } else { 80 });
    let mut req = ws_url.as_str().into_client_request().context("the WebSocket request")?;
    if let Some(t) = remote.token() {
        req.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {t}"))?);
    }
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .with_context(|| format!("cannot reach {}: is the daemon running there?", remote.url))?;
    let stream: Box<dyn Io> = if tls {
        let connector = tokio_rustls::TlsConnector::from(client_config(remote.insecure())?);
        let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string()).context("the server name")?;
        Box::new(connector.connect(name, tcp).await.map_err(|e| {
            anyhow!(
                "TLS with {}: {e}; for the daemon's self-signed certificate pass --insecure (or PROVISR_INSECURE=1)",
                remote.url
            )
        })?)
    } else {
        Box::new(tcp)
    };
    let target = req.uri().to_string();
    let (ws, _) = tokio_tungstenite::client_async(req, stream).await.map_err(|e| match e {
        tokio_tungstenite::tungstenite::Error::Http(res) => {
            let body = res.body().as_ref().map(|b| String::from_utf8_lossy(b).to_string()).unwrap_or_default();
            let msg = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or(body);
            anyhow!("GET {target}: {}: {msg}", res.status())
        }
        other => anyhow!("GET {target}: {other}"),
    })?;
    Ok(ws)
}

/// The next JSON message of `ws`; `None` once the server closed it normally. A message
/// `{"error"}`, an abnormal close or a broken connection is an error naming `what`.
pub async fn next_json(ws: &mut Socket, what: &str) -> anyhow::Result<Option<Value>> {
    loop {
        match ws.next().await {
            None => return Ok(None),
            Some(Err(e)) => bail!("{what} broke: {e}"),
            Some(Ok(Message::Text(text))) => {
                let v = serde_json::from_str::<Value>(&text).unwrap_or_else(|_| Value::String(text.to_string()));
                if let Some(err) = v.get("error").and_then(Value::as_str) {
                    bail!("the server ended {what}: {err}");
                }
                return Ok(Some(v));
            }
            Some(Ok(Message::Ping(p))) => ws.send(Message::Pong(p)).await.context("answering a ping")?,
            Some(Ok(Message::Close(frame))) => {
                return match frame {
                    Some(f) if f.code != CloseCode::Normal && f.code != CloseCode::Away => {
                        bail!("the server closed {what}: {} {}", u16::from(f.code), f.reason)
                    }
                    _ => Ok(None),
                };
            }
            Some(Ok(_)) => {}
        }
    }
}

/// Streams the log lines of `<api url><path>` until the server closes it or the user
/// interrupts.
pub async fn follow(remote: &Remote, path: &str) -> anyhow::Result<()> {
    let mut ws = connect(remote, path).await?;
    loop {
        let msg = tokio::select! {
            m = next_json(&mut ws, "the log stream") => m?,
            _ = tokio::signal::ctrl_c() => {
                let _ = ws.close(None).await;
                return Ok(());
            }
        };
        match msg {
            None => return Ok(()),
            Some(Value::String(text)) => println!("{text}"),
            Some(v) => {
                print_stream_message(&v, remote.output());
            }
        }
    }
}

fn client_config(insecure: bool) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder =
        rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// `--insecure`: any certificate is accepted (signatures are still checked, so the
/// handshake itself is sound).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
