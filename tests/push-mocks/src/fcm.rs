//! A mock FCM: an OAuth token endpoint that verifies the RS256 assertion with the service
//! account's public key, and the HTTP v1 send endpoint that checks the bearer token and message,
//! then answers as scripted: one-shot replies with [`MockFcm::script`], dead tokens with
//! [`MockFcm::unregister`]. Each accepted message is also handed to [`MockFcm::deliveries`]
//! receivers.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};

use crate::PAYLOAD_KEY;
use crate::feed::{Delivered, Feed};
use crate::tls::{self, Handler, TlsServer, b64url_decode, json_reply, now_unix};

/// The committed, test-only service account (its key is public: it signs nothing real). The
/// relay's `service_account_file` must hold this JSON.
pub const SERVICE_ACCOUNT: &str = include_str!("../fixtures/fcm-service-account.json");

/// What the mock answers to the next accepted send.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with a message name.
    Ok,
    /// HTTP status, FCM `errorCode` (or canonical status) and optional `Retry-After` seconds.
    Error(u16, &'static str, Option<u64>),
    /// Never answers within `Duration` (then 200).
    Hang(Duration),
    /// Drops the TCP connection.
    Drop,
}

/// The mock's state, shared with its connection tasks.
pub struct State {
    public_key: Vec<u8>,
    client_email: String,
    project_id: String,
    token_uri: Mutex<String>,
    /// Access tokens issued and not revoked.
    pub valid_tokens: Mutex<HashSet<String>>,
    /// Requests to the token endpoint, valid or not.
    pub token_requests: AtomicUsize,
    /// Sends answered 200.
    pub sends: AtomicUsize,
    /// `expires_in` of the next access tokens, in seconds.
    pub expires_in: Mutex<u64>,
    script: Mutex<VecDeque<Reply>>,
    /// Registration tokens answered 404 `UNREGISTERED`.
    unregistered: Mutex<HashSet<String>>,
    feed: Feed,
    /// Messages that passed the checks, in arrival order.
    pub seen: Mutex<Vec<serde_json::Value>>,
}

/// A running mock FCM (token endpoint and send endpoint on one server); stops when dropped.
pub struct MockFcm {
    /// The TLS server: point the relay's `host` at `server.authority()`, its `token_uri` at
    /// [`MockFcm::token_uri`], and trust `server.ca_pem`.
    pub server: TlsServer,
    /// What it saw and its knobs.
    pub state: Arc<State>,
}

impl MockFcm {
    /// Starts the mock on a loopback port, trusting [`SERVICE_ACCOUNT`]'s key.
    pub async fn start() -> Self {
        let account: serde_json::Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
        let der = pem_body(account["private_key"].as_str().unwrap());
        let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
        let state = Arc::new(State {
            public_key: pair.public().as_ref().to_vec(),
            client_email: account["client_email"].as_str().unwrap().to_owned(),
            project_id: account["project_id"].as_str().unwrap().to_owned(),
            token_uri: Mutex::new(String::new()),
            valid_tokens: Mutex::new(HashSet::new()),
            token_requests: AtomicUsize::new(0),
            sends: AtomicUsize::new(0),
            expires_in: Mutex::new(3599),
            script: Mutex::new(VecDeque::new()),
            unregistered: Mutex::new(HashSet::new()),
            feed: Feed::default(),
            seen: Mutex::new(Vec::new()),
        });
        let s = state.clone();
        let handler: Handler = Arc::new(move |req, kill| {
            let s = s.clone();
            Box::pin(async move { s.handle(req, kill).await })
        });
        let server = tls::serve(handler).await;
        *state.token_uri.lock().unwrap() = format!("https://{}/token", server.authority());
        Self { server, state }
    }

    /// The OAuth token endpoint (`https://localhost:PORT/token`): the relay's `token_uri`.
    pub fn token_uri(&self) -> String {
        self.state.token_uri.lock().unwrap().clone()
    }

    /// Queues answers for the next sends that pass the checks (then 200 again).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    /// Forgets every issued access token, as if they had expired.
    pub fn revoke_tokens(&self) {
        self.state.valid_tokens.lock().unwrap().clear();
    }

    /// Every message that passed the checks so far (the whole `{"message": ...}` body).
    pub fn seen(&self) -> Vec<serde_json::Value> {
        self.state.seen.lock().unwrap().clone()
    }

    /// From now on, answers every valid send to `token` as FCM answers for an app that is gone:
    /// 404 `NOT_FOUND` with `errorCode` `UNREGISTERED`. Scripted replies are kept for others.
    pub fn unregister(&self, token: &str) {
        self.state
            .unregistered
            .lock()
            .unwrap()
            .insert(token.to_owned());
    }

    /// A receiver of every message accepted (answered 200) from now on, as it arrives: the
    /// registration token and the opaque challenge in `message.data` under [`PAYLOAD_KEY`]. Each
    /// call is a new receiver.
    pub fn deliveries(&self) -> tokio::sync::mpsc::UnboundedReceiver<Delivered> {
        self.state.feed.subscribe()
    }
}

/// The DER inside a PEM block.
fn pem_body(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64.trim()).unwrap()
}

fn fcm_error(status: u16, code: &str) -> tls::Reply {
    let canonical = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    json_reply(
        status,
        serde_json::json!({"error": {"code": status, "message": "mock", "status": canonical,
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]}}),
    )
}

impl State {
    fn check_assertion(&self, form: &str) -> Result<(), &'static str> {
        let mut grant = None;
        let mut assertion = None;
        for pair in form.split('&') {
            match pair.split_once('=') {
                Some(("grant_type", v)) => grant = Some(v),
                Some(("assertion", v)) => assertion = Some(v),
                _ => {}
            }
        }
        if grant != Some("urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer") {
            return Err("unsupported_grant_type");
        }
        let jwt = assertion.ok_or("invalid_request")?;
        let parts: Vec<&str> = jwt.split('.').collect();
        if parts.len() != 3 {
            return Err("invalid_grant");
        }
        let header: serde_json::Value =
            serde_json::from_slice(&b64url_decode(parts[0]).ok_or("invalid_grant")?)
                .map_err(|_| "invalid_grant")?;
        let claims: serde_json::Value =
            serde_json::from_slice(&b64url_decode(parts[1]).ok_or("invalid_grant")?)
                .map_err(|_| "invalid_grant")?;
        let sig = b64url_decode(parts[2]).ok_or("invalid_grant")?;
        if header["alg"] != "RS256" {
            return Err("invalid_grant");
        }
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public_key)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .map_err(|_| "invalid_grant")?;
        let now = now_unix();
        let iat = claims["iat"].as_u64().ok_or("invalid_grant")?;
        let exp = claims["exp"].as_u64().ok_or("invalid_grant")?;
        if claims["iss"] != self.client_email.as_str()
            || claims["aud"] != self.token_uri.lock().unwrap().as_str()
            || !claims["scope"]
                .as_str()
                .unwrap_or("")
                .contains("firebase.messaging")
            || iat > now + 5
            || exp <= now
            || exp - iat > 3600
        {
            return Err("invalid_grant");
        }
        Ok(())
    }

    async fn handle(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
        kill: Arc<tokio::sync::Notify>,
    ) -> tls::Reply {
        let (parts, body) = req.into_parts();
        let body: Bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if parts.uri.path() == "/token" {
            self.token_requests.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = self.check_assertion(std::str::from_utf8(&body).unwrap_or("")) {
                return json_reply(400, serde_json::json!({"error": e}));
            }
            let n = self.token_requests.load(Ordering::Relaxed);
            let token = format!("ya29.mock-access-token-{n}");
            self.valid_tokens.lock().unwrap().insert(token.clone());
            let expires_in = *self.expires_in.lock().unwrap();
            return json_reply(
                200,
                serde_json::json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}),
            );
        }
        if parts.uri.path() != format!("/v1/projects/{}/messages:send", self.project_id) {
            return fcm_error(404, "NOT_FOUND_PATH");
        }
        let bearer = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !self.valid_tokens.lock().unwrap().contains(bearer) {
            // Google's answer to a bad or expired OAuth token: the canonical status only, no
            // FCM error code (THIRD_PARTY_AUTH_ERROR is about the APNs or web-push credential
            // uploaded to Firebase, not this token).
            return json_reply(
                401,
                serde_json::json!({"error": {"code": 401, "status": "UNAUTHENTICATED",
                    "message": "Request had invalid authentication credentials."}}),
            );
        }
        let msg: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return fcm_error(400, "INVALID_ARGUMENT"),
        };
        let m = &msg["message"];
        let ttl_ok = m["android"]["ttl"].as_str().is_some_and(|t| {
            t.strip_suffix('s')
                .is_some_and(|n| n.parse::<u64>().is_ok())
        });
        let (Some(token), Some(payload)) = (m["token"].as_str(), m["data"][PAYLOAD_KEY].as_str())
        else {
            return fcm_error(400, "INVALID_ARGUMENT");
        };
        if m["android"]["priority"] != "HIGH" || !ttl_ok {
            return fcm_error(400, "INVALID_ARGUMENT");
        }
        let delivered = Delivered {
            token: token.to_owned(),
            payload: payload.to_owned(),
            received: m["data"].clone(),
        };
        self.seen.lock().unwrap().push(msg.clone());
        if self.unregistered.lock().unwrap().contains(token) {
            return fcm_error(404, "UNREGISTERED");
        }
        let next = self.script.lock().unwrap().pop_front();
        match next {
            None | Some(Reply::Ok) => {}
            Some(Reply::Error(status, code, retry_after)) => {
                let mut r = fcm_error(status, code);
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
        let n = self.sends.fetch_add(1, Ordering::Relaxed);
        self.feed.publish(&delivered);
        json_reply(
            200,
            serde_json::json!({"name": format!("projects/{}/messages/{n}", self.project_id)}),
        )
    }
}
