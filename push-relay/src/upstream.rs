//! HTTP/2-over-TLS connections to APNs and FCM: a fixed set of connections per credential and
//! environment, opened once and kept open, health-checked with HTTP/2 PING, reopened on failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http2::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// Largest response body read from a provider.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Why a request to a provider did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// TCP or TLS connection failed.
    #[error("connect: {0}")]
    Connect(String),
    /// The connection broke while the request was in flight.
    #[error("connection lost: {0}")]
    Lost(String),
}

/// Builds the TLS configuration: Mozilla's roots plus, for sandboxes and tests, extra PEM roots.
pub fn tls_config(extra_ca_pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_ca_pem {
        let mut rest = pem;
        let mut added = 0;
        while let Some(i) = rest.find("-----BEGIN CERTIFICATE-----") {
            let block = &rest[i..];
            let der = crate::jwt::pem_to_der(block, "CERTIFICATE").map_err(|e| e.to_string())?;
            roots.add(der.into()).map_err(|e| e.to_string())?;
            added += 1;
            rest = &block["-----BEGIN CERTIFICATE-----".len()..];
        }
        if added == 0 {
            return Err("extra_ca_file holds no certificate".into());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// A small pool of HTTP/2 connections to one `host:port`.
pub struct Upstream {
    authority: String,
    server_name: ServerName<'static>,
    tls: tokio_rustls::TlsConnector,
    ping: Duration,
    slots: Vec<Mutex<Option<SendRequest<Full<Bytes>>>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("authority", &self.authority)
            .finish()
    }
}

impl Upstream {
    /// A pool of `connections` connections to `authority` (`host:port`), none opened yet.
    pub fn new(
        authority: &str,
        tls: Arc<rustls::ClientConfig>,
        connections: usize,
        ping: Duration,
    ) -> Result<Self, String> {
        let host = authority
            .rsplit_once(':')
            .map(|(h, _)| h)
            .ok_or_else(|| format!("{authority} is not host:port"))?;
        let server_name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
            .map_err(|e| format!("{host}: {e}"))?;
        Ok(Self {
            authority: authority.to_owned(),
            server_name,
            tls: tokio_rustls::TlsConnector::from(tls),
            ping,
            slots: (0..connections.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        })
    }

    /// The `host:port` this pool talks to.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Opens every connection that is not open; errors are left for the first request to see.
    pub async fn warm_up(&self) {
        for slot in &self.slots {
            let mut guard = slot.lock().await;
            if guard.as_ref().is_none_or(|s| s.is_closed())
                && let Ok(Ok(s)) =
                    tokio::time::timeout(Duration::from_secs(10), self.connect()).await
            {
                *guard = Some(s);
            }
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, UpstreamError> {
        let tcp = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .tls
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(self.ping)
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true)
            .handshake(TokioIo::new(tls))
            .await
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        let authority = self.authority.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%authority, error = %e, "upstream connection closed");
            }
        });
        Ok(sender)
    }

    async fn sender(&self) -> Result<SendRequest<Full<Bytes>>, UpstreamError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut guard = self.slots[i].lock().await;
        if let Some(s) = guard.as_ref()
            && !s.is_closed()
        {
            return Ok(s.clone());
        }
        // Boxed: the TCP + TLS + HTTP/2 handshake future is about 5 KB, and inline it would make
        // every push's future that large (measured 6 KB per push in flight) for a path taken
        // once per connection.
        let s = Box::pin(self.connect()).await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// Sends `req` and reads the whole (bounded) response.
    pub async fn send(&self, req: Request<Full<Bytes>>) -> Result<Response<Bytes>, UpstreamError> {
        let mut sender = self.sender().await?;
        sender
            .ready()
            .await
            .map_err(|e| UpstreamError::Lost(format!("{e:?}")))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| UpstreamError::Lost(format!("{e:?}")))?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| UpstreamError::Lost(e.to_string()))?
            .to_bytes();
        Ok(Response::from_parts(parts, body))
    }
}

/// Parses a `Retry-After` given in seconds (the form APNs and Google use).
pub fn retry_after(headers: &hyper::HeaderMap) -> Option<Duration> {
    headers
        .get(hyper::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}
