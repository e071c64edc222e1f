//! A fleet on loopback: a NATS server, two `push-relay` copies joined through it, and two
//! `portal` processes on one database (PostgreSQL when `ASSENT_TEST_POSTGRES` names a server),
//! portal 1 pushing through relay A and portal 2 through relay B. The portals sign their relay
//! requests, and relay A is reached through a [`Recorder`], so a test can replay a request a
//! portal really sent. Desktop devices stream from a relay with [`DirectStream`].

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use push_mocks::nats::NatsServer;
use push_mocks::{MockApns, MockFcm, RelayProcess};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::{ADMIN_TOKEN, Browser, PortalProcess, RELAY_API_KEY, bin, database, init};

/// The fleet's name on NATS (its subjects and bucket).
pub const FLEET_NAME: &str = "e2e";

/// Everything, stopped on drop.
pub struct Fleet {
    pub apns: MockApns,
    pub fcm: MockFcm,
    pub nats: NatsServer,
    /// Relay A, which portal 1 reaches through [`Fleet::recorder`].
    pub relay_a: RelayProcess,
    /// Relay B, which portal 2 pushes through.
    pub relay_b: RelayProcess,
    /// What portal 1 sent relay A.
    pub recorder: Recorder,
    pub portal_1: PortalProcess,
    pub portal_2: PortalProcess,
    pub dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Fleet {
    /// Starts the fleet; `portal_args` go to both portals.
    pub async fn start(portal_args: &[&str]) -> Self {
        init();
        let dir = tempfile::tempdir().unwrap();
        let apns = MockApns::start().await;
        let fcm = MockFcm::start().await;
        let nats = NatsServer::start().await;

        // The portals' request-signing key; the relays' tenant requires its signatures.
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .unwrap();
        let key_file = dir.path().join("relay-signing.pem");
        std::fs::write(&key_file, pem("PRIVATE KEY", pkcs8.as_ref())).unwrap();
        let public = portal::relay::RequestSigner::from_pkcs8(pkcs8.as_ref())
            .unwrap()
            .public_key();

        let relay = |name: &str| {
            let addr = push_mocks::free_loopback_addr();
            let sub = dir.path().join(name);
            std::fs::create_dir_all(&sub).unwrap();
            let toml = push_mocks::fleet_relay_config_toml(
                &apns,
                &fcm,
                &sub,
                &addr.to_string(),
                "e2e-portal",
                RELAY_API_KEY,
                &public,
                &nats.url(),
                FLEET_NAME,
            );
            let config = sub.join("relay.toml");
            std::fs::write(&config, toml).unwrap();
            (config, addr)
        };
        let (config_a, addr_a) = relay("relay-a");
        let (config_b, addr_b) = relay("relay-b");
        let relay_a = RelayProcess::start(&bin("push-relay"), &config_a, addr_a).await;
        let relay_b = RelayProcess::start(&bin("push-relay"), &config_b, addr_b).await;
        let recorder = Recorder::start(&relay_a.base_url()).await;

        let db = database(&dir.path().join("portal.db"));
        let key = key_file.display().to_string();
        let portal = |relay_url: &str| {
            let mut args = vec![
                "--relay-url",
                relay_url,
                "--relay-api-key",
                RELAY_API_KEY,
                "--relay-signing-key",
                &key,
            ];
            args.extend_from_slice(portal_args);
            PortalProcess::start_at(&db, &args)
        };
        let portal_1 = portal(&recorder.url);
        let portal_2 = portal(&relay_b.base_url());
        let fleet = Self {
            apns,
            fcm,
            nats,
            relay_a,
            relay_b,
            recorder,
            portal_1,
            portal_2,
            dir,
            http: reqwest::Client::new(),
        };
        for relay in [fleet.relay_a.base_url(), fleet.relay_b.base_url()] {
            fleet.until_fully_ready(&relay).await;
        }
        fleet
    }

    /// `GET /readyz` on a relay: its status and text.
    pub async fn readyz(&self, relay: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{relay}/readyz"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Waits (20 s at most) until the relay is ready with nothing degraded.
    pub async fn until_fully_ready(&self, relay: &str) {
        self.until_readyz(relay, |text| !text.contains("degraded"))
            .await;
    }

    /// Waits (20 s at most) until the relay's `/readyz` answers 200 with a text `check` accepts.
    pub async fn until_readyz(&self, relay: &str, check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, text) = self.readyz(relay).await;
            if status == 200 && check(&text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{relay}/readyz stayed {status} {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A relay's `/metrics` text.
    pub async fn metrics(&self, relay: &str) -> String {
        self.http
            .get(format!("{relay}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Creates a user with [`crate::PASSWORD`] through portal 1's admin API.
    pub async fn add_user(&self, name: &str) {
        let r = self
            .http
            .post(format!("{}/admin/api/users", self.portal_1.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({ "username": name, "password": crate::PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    /// A browser on portal 1 (it can move to portal 2 with [`Browser::at`]).
    pub fn browser(&self) -> Browser {
        Browser::new(&self.portal_1.url)
    }
}

/// `-----BEGIN label-----`, base64 in lines of 64, `-----END label-----`.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap());
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// One request as the recorder received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST /v1/push`.
    pub path: String,
    /// Its headers, as sent.
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: Vec<u8>,
    /// What the relay answered.
    pub status: u16,
}

/// A recording proxy in front of a relay: forwards each request and keeps a copy of it. It
/// speaks HTTP/2 without TLS, as the portal does to a cleartext relay URL.
pub struct Recorder {
    /// `http://127.0.0.1:PORT`, for the portal's `--relay-url`.
    pub url: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    /// Starts the proxy in front of `upstream`.
    pub async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let http = reqwest::Client::new();
        let upstream = upstream.to_owned();
        let kept = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (http, upstream, kept) = (http.clone(), upstream.clone(), kept.clone());
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let (http, upstream, kept) = (http.clone(), upstream.clone(), kept.clone());
                    async move {
                        let path = request.uri().path().to_owned();
                        let method = request.method().clone();
                        let headers: Vec<(String, String)> = request
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                            .collect();
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let mut forward = http.request(method, format!("{upstream}{path}"));
                        for (k, v) in &headers {
                            forward = forward.header(k, v);
                        }
                        let reply = forward.body(body.clone()).send().await.unwrap();
                        let status = reply.status();
                        let answer = reply.bytes().await.unwrap();
                        kept.lock().unwrap().push(Recorded {
                            path,
                            headers,
                            body: body.to_vec(),
                            status: status.as_u16(),
                        });
                        let mut response = Response::new(Full::new(answer));
                        *response.status_mut() = status;
                        response.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
        Self { url, seen, task }
    }

    /// The requests forwarded so far.
    pub fn seen(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }

    /// Sends `request` again, byte for byte, to `relay`: its status and JSON answer.
    pub async fn replay(request: &Recorded, relay: &str) -> (u16, Value) {
        let mut replay = reqwest::Client::new().post(format!("{relay}{}", request.path));
        for (k, v) in &request.headers {
            replay = replay.header(k, v);
        }
        let r = replay.body(request.body.clone()).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A desktop device's direct-delivery stream from a relay (`GET /v1/direct/stream`, Server-Sent
/// Events), read in the background: each pushed payload (the challenge JWS) arrives on
/// [`DirectStream::next`].
pub struct DirectStream {
    /// The token the relay gave, which the device registers as its push address.
    pub token: String,
    rx: mpsc::UnboundedReceiver<String>,
    task: tokio::task::JoinHandle<()>,
}

impl DirectStream {
    /// Gets a token from `relay` and opens its stream; returns once the relay has answered the
    /// stream's request (from then on it is announced to the fleet).
    pub async fn open(relay: &str) -> Self {
        init();
        let http = reqwest::Client::new();
        let registered: Value = http
            .post(format!("{relay}/v1/direct/register"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = registered["token"].as_str().unwrap().to_owned();
        let mut response = http
            .get(format!("{relay}/v1/direct/stream"))
            .bearer_auth(&token)
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "the relay refused the stream");
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut text = String::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                text.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = text.find("\n\n") {
                    let event: String = text.drain(..end + 2).collect();
                    if let Some(payload) = push_payload(&event) {
                        let _ = tx.send(payload);
                    }
                }
            }
        });
        Self { token, rx, task }
    }

    /// The push address a device registers with this stream's token.
    pub fn push_config(&self) -> assent_protocol::PushConfig {
        assent_protocol::PushConfig {
            transport: assent_protocol::Transport::Direct,
            token: self.token.clone(),
            environment: None,
            topic: None,
        }
    }

    /// The next pushed payload (10 s at most).
    pub async fn next(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("no push arrived on the stream within 10 s")
            .expect("the stream ended")
    }

    /// Whether a push arrives within `wait`.
    pub async fn quiet_for(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.rx.recv()).await.is_err()
    }
}

impl Drop for DirectStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `payload` of an `event: push` (data `{payload, expires_at, collapse_id}`), if it is one.
fn push_payload(event: &str) -> Option<String> {
    let mut kind = "";
    let mut data = String::new();
    for line in event.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            kind = v.trim();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if kind != "push" {
        return None;
    }
    let data: Value = serde_json::from_str(&data).ok()?;
    data["payload"].as_str().map(str::to_owned)
}
