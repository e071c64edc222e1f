//! An HTTP/2-over-TLS test server with a self-signed certificate for `localhost`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// A mock's HTTP answer.
pub type Reply = Response<Full<Bytes>>;
/// A mock's request handler; the `Notify` drops the connection when notified.
pub type Handler = Arc<
    dyn Fn(Request<Incoming>, Arc<Notify>) -> Pin<Box<dyn Future<Output = Reply> + Send>>
        + Send
        + Sync,
>;

/// A started server: its address and the PEM of the certificate the relay must trust.
pub struct TlsServer {
    /// Loopback address it listens on.
    pub addr: SocketAddr,
    /// PEM of its self-signed certificate: the root a client must trust to reach it.
    pub ca_pem: String,
    /// The accept loop; aborted when the server is dropped.
    pub task: tokio::task::JoinHandle<()>,
}

impl TlsServer {
    /// `localhost:PORT`, matching the certificate's name.
    pub fn authority(&self) -> String {
        format!("localhost:{}", self.addr.port())
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `handler` over HTTP/2 + TLS on a loopback port. The handler gets a `Notify` that, when
/// notified, drops the whole connection (to simulate a provider hanging up).
pub async fn serve(handler: Handler) -> TlsServer {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let ca_pem = key.cert.pem();
    let cert_der: CertificateDer<'static> = key.cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let handler = handler.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let kill = Arc::new(Notify::new());
                let k = kill.clone();
                let service = service_fn(move |req| {
                    let h = handler.clone();
                    let k = k.clone();
                    async move { Ok::<_, std::convert::Infallible>(h(req, k).await) }
                });
                let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .max_concurrent_streams(20_000)
                    // Windows large enough that 10,000 concurrent small requests are not
                    // chopped into tiny DATA frames, which h2 treats as a flood (GOAWAY).
                    .initial_connection_window_size(64 << 20)
                    .initial_stream_window_size(1 << 20)
                    .serve_connection(TokioIo::new(tls), service);
                tokio::select! {
                    _ = conn => {},
                    _ = kill.notified() => {},
                }
            });
        }
    });
    TlsServer { addr, ca_pem, task }
}

/// A JSON answer with the given status.
pub fn json_reply(status: u16, body: serde_json::Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// Decodes base64url without padding, as JOSE encodes.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

/// The system clock in Unix seconds.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
