//! HTTP/2-over-TLS connections to APNs and FCM: a fixed set of connections per credential and
//! environment, opened once and kept open, health-checked with HTTP/2 PING, reopened on failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use h2::client::SendRequest;
use hyper::{Request, Response};
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

/// One open HTTP/2 connection: its request handle and whether its task has ended.
#[derive(Clone)]
struct Conn {
    sender: SendRequest<Bytes>,
    closed: Arc<AtomicBool>,
}

impl Conn {
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the connection unusable after a connection-level error, so the next push on this
    /// slot opens a new one instead of failing again on this one.
    fn lost(&self, e: &h2::Error) -> UpstreamError {
        if !e.is_reset() {
            self.closed.store(true, Ordering::Release);
        }
        UpstreamError::Lost(e.to_string())
    }
}

/// The connection a response came on, in the response's extensions: a provider that learns the
/// connection is no use any more (APNs refusing a token update on it) retires it, and the pool
/// opens a new one in its slot for the next request.
#[derive(Clone, Debug)]
pub struct ConnectionHandle(Arc<AtomicBool>);

impl ConnectionHandle {
    /// Stops new requests from using the connection; those in flight finish on it.
    pub fn retire(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A small pool of HTTP/2 connections to one `host:port`.
///
/// It drives the `h2` crate directly rather than through hyper's client: hyper spawns two tasks
/// per request (one to send the body, one to await the answer), about 5 KB and two task
/// switches per push in flight; here a push's own future sends its request and reads the answer.
pub struct Upstream {
    authority: String,
    server_name: ServerName<'static>,
    tls: tokio_rustls::TlsConnector,
    ping: Duration,
    ping_timeout: Duration,
    slots: Vec<Mutex<Option<Conn>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("authority", &self.authority)
            .finish()
    }
}

/// How long a PING may go unanswered before the connection is dropped and reopened.
const PING_TIMEOUT: Duration = Duration::from_secs(20);

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
            ping_timeout: PING_TIMEOUT,
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
            if guard.as_ref().is_none_or(Conn::is_closed)
                && let Ok(Ok(s)) =
                    tokio::time::timeout(Duration::from_secs(10), self.connect()).await
            {
                *guard = Some(s);
            }
        }
    }

    async fn connect(&self) -> Result<Conn, UpstreamError> {
        let tcp = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .tls
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        // h2's defaults suit APNs and FCM: a 64 KB receive window is plenty for answers of a
        // few dozen bytes, and what the relay sends (bodies of at most 4 KB) is limited by the
        // provider's windows, not ours.
        let (sender, mut conn) = h2::client::Builder::new()
            .enable_push(false)
            // As hyper's client limited it: answers carry a handful of short headers.
            .max_header_list_size(16 << 10)
            .handshake::<_, Bytes>(tls)
            .await
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        let closed = Arc::new(AtomicBool::new(false));
        let mut ping_pong = conn.ping_pong();
        let (authority, flag) = (self.authority.clone(), closed.clone());
        let (interval, ping_timeout) = (self.ping, self.ping_timeout);
        tokio::spawn(async move {
            // Health check: a PING every `interval`, idle or not; one unanswered for 20 s drops
            // the connection (every push on it fails over to a new one).
            let pinger = async {
                let Some(pp) = ping_pong.as_mut() else {
                    return std::future::pending().await;
                };
                loop {
                    tokio::time::sleep(interval).await;
                    match tokio::time::timeout(ping_timeout, pp.ping(h2::Ping::opaque())).await {
                        Ok(Ok(_)) => {}
                        _ => return,
                    }
                }
            };
            tokio::select! {
                r = &mut conn => {
                    if let Err(e) = r {
                        tracing::debug!(%authority, error = %e, "upstream connection closed");
                    }
                }
                () = pinger => tracing::debug!(%authority, "upstream connection missed a PING"),
            }
            flag.store(true, Ordering::Release);
            // Dropping `conn` fails the streams still open on it.
        });
        Ok(Conn { sender, closed })
    }

    async fn conn(&self) -> Result<Conn, UpstreamError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut guard = self.slots[i].lock().await;
        if let Some(c) = guard.as_ref()
            && !c.is_closed()
        {
            return Ok(c.clone());
        }
        // Boxed: the TCP + TLS + HTTP/2 handshake future is several KB, and inline it would
        // make every push's future that large (measured 6 KB per push in flight) for a path
        // taken once per connection.
        let c = Box::pin(self.connect()).await?;
        *guard = Some(c.clone());
        Ok(c)
    }

    /// Sends `req` and reads the whole (bounded) response.
    pub async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        let conn = self.conn().await?;
        // Waits while the connection has as many streams open as the provider allows.
        let mut sender = conn
            .sender
            .clone()
            .ready()
            .await
            .map_err(|e| conn.lost(&e))?;
        let (parts, body) = req.into_parts();
        let (answer, mut stream) = sender
            .send_request(Request::from_parts(parts, ()), body.is_empty())
            .map_err(|e| conn.lost(&e))?;
        if !body.is_empty() {
            // Buffered by h2 until the provider's flow-control window lets it out.
            stream.send_data(body, true).map_err(|e| conn.lost(&e))?;
        }
        let resp = answer.await.map_err(|e| conn.lost(&e))?;
        let (parts, mut recv) = resp.into_parts();
        let mut body = BytesMut::new();
        while let Some(chunk) = recv.data().await {
            let chunk = chunk.map_err(|e| conn.lost(&e))?;
            let _ = recv.flow_control().release_capacity(chunk.len());
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(UpstreamError::Lost("response too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let mut resp = Response::from_parts(parts, body.freeze());
        resp.extensions_mut()
            .insert(ConnectionHandle(conn.closed.clone()));
        Ok(resp)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// An HTTP/2 + TLS server that answers the first request on each connection, then stops
    /// reading it (so PINGs go unanswered); counts connections.
    async fn stalling_server() -> (String, String, Arc<AtomicUsize>) {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let ca = key.cert.pem();
        let cert = key.cert.der().clone();
        let der = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()),
        );
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], der)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::Relaxed);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let tls = acceptor.accept(tcp).await.unwrap();
                    let mut conn = h2::server::handshake(tls).await.unwrap();
                    if let Some(Ok((_req, mut respond))) = conn.accept().await {
                        let resp = hyper::Response::builder().status(200).body(()).unwrap();
                        respond.send_response(resp, true).unwrap();
                        // One more poll flushes the answer; then the connection is held, unread.
                        let _ =
                            tokio::time::timeout(Duration::from_millis(50), conn.accept()).await;
                    }
                    std::future::pending::<()>().await;
                    drop(conn);
                });
            }
        });
        (format!("localhost:{port}"), ca, accepted)
    }

    fn request(authority: &str) -> Request<Bytes> {
        let mut req = Request::new(Bytes::from_static(b"{}"));
        *req.method_mut() = hyper::Method::POST;
        *req.uri_mut() = format!("https://{authority}/x").parse().unwrap();
        req
    }

    #[tokio::test]
    async fn a_connection_that_stops_answering_pings_is_replaced() {
        let (authority, ca, accepted) = stalling_server().await;
        let tls = tls_config(Some(&ca)).unwrap();
        let mut up = Upstream::new(&authority, tls, 1, Duration::from_millis(100)).unwrap();
        up.ping_timeout = Duration::from_millis(300);
        let first = up.send(request(&authority)).await.unwrap();
        assert_eq!(first.status(), 200);
        assert_eq!(accepted.load(Ordering::Relaxed), 1);
        // The next PING goes unanswered: within interval + timeout the connection is dropped.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let second = up.send(request(&authority)).await.unwrap();
        assert_eq!(second.status(), 200);
        assert_eq!(
            accepted.load(Ordering::Relaxed),
            2,
            "a new connection was opened"
        );
    }
}
