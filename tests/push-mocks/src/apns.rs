//! A mock APNs: HTTP/2 over TLS, checking the provider token's ES256 signature against the team's
//! public key and its age, Apple's 20-minute rule for token updates on a connection, the required
//! headers and the payload size, then answering as scripted:
//! one-shot replies with [`MockApns::script`], dead tokens with [`MockApns::unregister`]. Each
//! accepted notification is also handed to [`MockApns::deliveries`] receivers.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Response};
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};

use crate::PAYLOAD_KEY;
use crate::feed::{Delivered, Feed};
use crate::tls::{self, Handler, TlsServer, b64url_decode, json_reply, now_unix};

/// The team id the provider token must name (`iss`).
pub const TEAM_ID: &str = "TEAM123456";
/// The key id the provider token must name (`kid`).
pub const KEY_ID: &str = "KEY7654321";
/// The only topic (bundle id) the mock accepts.
pub const TOPIC: &str = "org.assent.app";

/// What the mock answers to the next accepted request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with an `apns-id`.
    Ok,
    /// An error status and Apple `reason`, with an optional `Retry-After` in seconds.
    Error(u16, &'static str, Option<u64>),
    /// Never answers within `Duration` (then 200).
    Hang(Duration),
    /// Drops the TCP connection.
    Drop,
}

/// A request the mock accepted, for assertions.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The token in the request path.
    pub device_token: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The provider token (without `bearer `).
    pub jwt: String,
    /// The provider token's `iat`.
    pub iat: u64,
    /// The JSON payload.
    pub body: Bytes,
}

/// The mock's state, shared with its connection tasks.
pub struct State {
    public_key: Vec<u8>,
    script: Mutex<VecDeque<Reply>>,
    /// Tokens answered 410 `Unregistered`, with the Unix milliseconds Apple reports.
    unregistered: Mutex<HashMap<String, u64>>,
    /// Provider tokens answered 403 `ExpiredProviderToken` whatever their age.
    expired_jwts: Mutex<std::collections::HashSet<String>>,
    feed: Feed,
    /// Requests that passed the checks, in arrival order (while `record` is on); those refused
    /// as a too early token update are among them.
    pub seen: Mutex<Vec<Seen>>,
    /// Requests answered 200.
    pub accepted: AtomicUsize,
    /// Requests refused by the checks (bad token, headers or payload).
    pub refused: AtomicUsize,
    /// Delay before every successful answer (for the load tool's in-flight test).
    pub hold: Mutex<Duration>,
    /// Provider tokens whose signature verified, with their `iat`: like APNs, the mock checks a
    /// token's signature once rather than on every push (which cost the load tool more CPU than
    /// the relay spent per push); its age is still checked on every push.
    verified: Mutex<HashMap<String, u64>>,
    /// Whether to keep `seen` (off under load).
    pub record: std::sync::atomic::AtomicBool,
    /// The provider token each open connection uses, by connection.
    connection_tokens: Mutex<HashMap<usize, ConnectionToken>>,
}

/// The token a connection took, and the connection (to tell it from a later one at the same
/// address).
struct ConnectionToken {
    connection: std::sync::Weak<tokio::sync::Notify>,
    jwt: String,
    iat: u64,
}

/// Apple refuses a connection's new provider token when its token changed less than 20 minutes
/// before (`429 TooManyProviderTokenUpdates`).
pub const MIN_TOKEN_UPDATE_INTERVAL: u64 = 20 * 60;

/// A running mock APNs; stops when dropped.
pub struct MockApns {
    /// The TLS server: point the relay's `host` at `server.authority()`, trust `server.ca_pem`.
    pub server: TlsServer,
    /// The team's .p8 key (PKCS#8 PEM) the relay signs with.
    pub key_pem: String,
    /// What it saw and its knobs.
    pub state: Arc<State>,
}

impl MockApns {
    /// Starts the mock on a loopback port with a fresh team key.
    pub async fn start() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let b64 =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pkcs8.as_ref());
        let key_pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
        let state = Arc::new(State {
            public_key: pair.public_key().as_ref().to_vec(),
            script: Mutex::new(VecDeque::new()),
            unregistered: Mutex::new(HashMap::new()),
            expired_jwts: Mutex::new(std::collections::HashSet::new()),
            feed: Feed::default(),
            seen: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            hold: Mutex::new(Duration::ZERO),
            verified: Mutex::new(HashMap::new()),
            record: std::sync::atomic::AtomicBool::new(true),
            connection_tokens: Mutex::new(HashMap::new()),
        });
        let s = state.clone();
        let handler: Handler = Arc::new(move |req, kill| {
            let s = s.clone();
            Box::pin(async move { s.handle(req, kill).await })
        });
        let server = tls::serve(handler).await;
        Self {
            server,
            key_pem,
            state,
        }
    }

    /// Queues answers for the next requests that pass the checks (then 200 again).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    /// Every request that passed the checks so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// From now on, answers every valid push to `token` as Apple answers for an uninstalled app:
    /// 410 `{"reason":"Unregistered","timestamp":<ms>}`. Scripted replies are kept for others.
    pub fn unregister(&self, token: &str) {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        self.state
            .unregistered
            .lock()
            .unwrap()
            .insert(token.to_owned(), u64::try_from(ms).unwrap());
    }

    /// From now on, answers every push bearing a provider token seen so far with 403
    /// `ExpiredProviderToken`, as Apple does when it declares the token in use expired; a newly
    /// signed token is accepted.
    pub fn expire_seen_provider_tokens(&self) {
        let seen: Vec<String> = self.seen().into_iter().map(|s| s.jwt).collect();
        self.state.expired_jwts.lock().unwrap().extend(seen);
    }

    /// A receiver of every notification accepted (answered 200) from now on, as it arrives: the
    /// device token and the opaque challenge under [`PAYLOAD_KEY`]. Each call is a new receiver.
    pub fn deliveries(&self) -> tokio::sync::mpsc::UnboundedReceiver<Delivered> {
        self.state.feed.subscribe()
    }
}

fn apns_error(status: u16, reason: &str) -> tls::Reply {
    json_reply(status, serde_json::json!({"reason": reason}))
}

impl State {
    /// Apple's rule for token updates: a connection takes the first valid token it is sent; a
    /// different token is refused unless 20 minutes passed since the connection's token changed.
    /// Time is measured by the tokens' `iat` (the relay's clock), so tests move it without
    /// sleeping; Apple measures it by its own.
    fn check_token_update(
        &self,
        connection: &Arc<tokio::sync::Notify>,
        jwt: &str,
        iat: u64,
    ) -> Result<(), tls::Reply> {
        let key = Arc::as_ptr(connection) as usize;
        let mut tokens = self.connection_tokens.lock().unwrap();
        tokens.retain(|_, t| t.connection.strong_count() > 0);
        let same_connection = tokens.get(&key).is_some_and(|t| {
            t.connection
                .upgrade()
                .is_some_and(|c| Arc::ptr_eq(&c, connection))
        });
        if same_connection && let Some(t) = tokens.get(&key) {
            if t.jwt == jwt {
                return Ok(());
            }
            if iat.saturating_sub(t.iat) < MIN_TOKEN_UPDATE_INTERVAL {
                return Err(apns_error(429, "TooManyProviderTokenUpdates"));
            }
        }
        tokens.insert(
            key,
            ConnectionToken {
                connection: Arc::downgrade(connection),
                jwt: jwt.to_owned(),
                iat,
            },
        );
        Ok(())
    }

    /// Checks the provider token as APNs does; returns (jwt, iat) or the refusal.
    fn check_jwt(&self, headers: &HeaderMap) -> Result<(String, u64), tls::Reply> {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| apns_error(403, "MissingProviderToken"))?;
        let jwt = auth
            .strip_prefix("bearer ")
            .ok_or_else(|| apns_error(403, "InvalidProviderToken"))?;
        let bad = || apns_error(403, "InvalidProviderToken");
        let cached = self.verified.lock().unwrap().get(jwt).copied();
        let iat = match cached {
            Some(iat) => iat,
            None => {
                let iat = self.verify_jwt(jwt)?;
                let mut verified = self.verified.lock().unwrap();
                if verified.len() >= 64 {
                    verified.clear();
                }
                verified.insert(jwt.to_owned(), iat);
                iat
            }
        };
        let now = now_unix();
        if iat > now + 5 {
            return Err(bad()); // issued in the future
        }
        if now - iat > 3600 {
            return Err(apns_error(403, "ExpiredProviderToken"));
        }
        Ok((jwt.to_owned(), iat))
    }

    /// Checks a provider token's header, claims and ES256 signature; returns its `iat`.
    fn verify_jwt(&self, jwt: &str) -> Result<u64, tls::Reply> {
        let parts: Vec<&str> = jwt.split('.').collect();
        let bad = || apns_error(403, "InvalidProviderToken");
        if parts.len() != 3 {
            return Err(bad());
        }
        let header: serde_json::Value =
            serde_json::from_slice(&b64url_decode(parts[0]).ok_or_else(bad)?).map_err(|_| bad())?;
        let claims: serde_json::Value =
            serde_json::from_slice(&b64url_decode(parts[1]).ok_or_else(bad)?).map_err(|_| bad())?;
        let sig = b64url_decode(parts[2]).ok_or_else(bad)?;
        if header["alg"] != "ES256" || header["kid"] != KEY_ID || claims["iss"] != TEAM_ID {
            return Err(bad());
        }
        let input = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.public_key)
            .verify(input.as_bytes(), &sig)
            .map_err(|_| bad())?;
        claims["iat"].as_u64().ok_or_else(bad)
    }

    fn check_request(
        &self,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Delivered, tls::Reply> {
        let token = path
            .strip_prefix("/3/device/")
            .ok_or_else(|| apns_error(404, "BadPath"))?;
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(apns_error(400, "BadDeviceToken"));
        }
        let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        match h("apns-topic") {
            None => return Err(apns_error(400, "MissingTopic")),
            Some(t) if t != TOPIC => return Err(apns_error(400, "TopicDisallowed")),
            _ => {}
        }
        if h("apns-push-type") != Some("alert") {
            return Err(apns_error(400, "InvalidPushType"));
        }
        if !matches!(h("apns-priority"), Some("10" | "5")) {
            return Err(apns_error(400, "BadPriority"));
        }
        if h("apns-expiration")
            .and_then(|e| e.parse::<u64>().ok())
            .is_none()
        {
            return Err(apns_error(400, "BadExpirationDate"));
        }
        if h("apns-collapse-id").is_some_and(|c| c.len() > 64) {
            return Err(apns_error(400, "BadCollapseId"));
        }
        let id_ok = h("apns-id").is_some_and(|id| {
            let groups: Vec<usize> = id.split('-').map(str::len).collect();
            groups == [8, 4, 4, 4, 12] && id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
        });
        if !id_ok {
            return Err(apns_error(400, "BadMessageId"));
        }
        if body.len() > 4096 {
            return Err(apns_error(413, "PayloadTooLarge"));
        }
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| apns_error(400, "PayloadEmpty"))?;
        if v["aps"]["mutable-content"] != 1
            || v["aps"]["category"].as_str().is_none()
            || v["aps"]["alert"].is_null()
        {
            return Err(apns_error(400, "BadPayload"));
        }
        // Not one of Apple's checks: the relay must always carry a challenge, so its absence is
        // a relay bug worth failing on.
        let payload = v[PAYLOAD_KEY]
            .as_str()
            .ok_or_else(|| apns_error(400, "BadPayload"))?;
        Ok(Delivered {
            token: token.to_owned(),
            payload: payload.to_owned(),
            received: v.clone(),
        })
    }

    async fn handle(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
        kill: Arc<tokio::sync::Notify>,
    ) -> tls::Reply {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if parts.method != hyper::Method::POST {
            return apns_error(405, "MethodNotAllowed");
        }
        let (jwt, iat) = match self.check_jwt(&parts.headers) {
            Ok(x) => x,
            Err(r) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return r;
            }
        };
        let delivered = match self.check_request(parts.uri.path(), &parts.headers, &body) {
            Ok(d) => d,
            Err(r) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return r;
            }
        };
        let update = self.check_token_update(&kill, &jwt, iat);
        let expired = self.expired_jwts.lock().unwrap().contains(&jwt);
        if self.record.load(Ordering::Relaxed) {
            self.seen.lock().unwrap().push(Seen {
                device_token: delivered.token.clone(),
                headers: parts.headers.clone(),
                jwt,
                iat,
                body,
            });
        }
        if let Err(refused) = update {
            return refused;
        }
        if expired {
            return apns_error(403, "ExpiredProviderToken");
        }
        let dead_since = self
            .unregistered
            .lock()
            .unwrap()
            .get(&delivered.token)
            .copied();
        if let Some(ms) = dead_since {
            return json_reply(
                410,
                serde_json::json!({"reason": "Unregistered", "timestamp": ms}),
            );
        }
        let next = self.script.lock().unwrap().pop_front();
        match next {
            None | Some(Reply::Ok) => {}
            Some(Reply::Error(status, reason, retry_after)) => {
                let mut r = apns_error(status, reason);
                if let Some(s) = retry_after {
                    r.headers_mut().insert("retry-after", s.into());
                }
                return r;
            }
            Some(Reply::Hang(d)) => tokio::time::sleep(d).await,
            Some(Reply::Drop) => {
                kill.notify_one();
                std::future::pending::<()>().await;
            }
        }
        let hold = *self.hold.lock().unwrap();
        if !hold.is_zero() {
            tokio::time::sleep(hold).await;
        }
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.feed.publish(&delivered);
        let id = parts.headers.get("apns-id").cloned().unwrap_or_else(|| {
            hyper::header::HeaderValue::from_static("00000000-0000-0000-0000-000000000000")
        });
        Response::builder()
            .status(200)
            .header("apns-id", id)
            .body(Full::new(Bytes::new()))
            .unwrap()
    }
}
