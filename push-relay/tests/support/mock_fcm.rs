//! A mock FCM: an OAuth token endpoint that verifies the RS256 assertion with the service
//! account's public key, and the HTTP v1 send endpoint that checks the bearer token and message.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};

use super::tls::{self, Handler, TlsServer, b64url_decode, json_reply, now_unix};

/// The committed, test-only service account.
pub const SERVICE_ACCOUNT: &str = include_str!("../fixtures/fcm-service-account.json");

#[derive(Debug, Clone)]
pub enum Reply {
    Ok,
    /// HTTP status, FCM `errorCode` (or canonical status) and optional `Retry-After` seconds.
    Error(u16, &'static str, Option<u64>),
    Hang(Duration),
    Drop,
}

pub struct State {
    public_key: Vec<u8>,
    client_email: String,
    project_id: String,
    token_uri: Mutex<String>,
    pub valid_tokens: Mutex<HashSet<String>>,
    pub token_requests: AtomicUsize,
    pub sends: AtomicUsize,
    pub expires_in: Mutex<u64>,
    script: Mutex<VecDeque<Reply>>,
    pub seen: Mutex<Vec<serde_json::Value>>,
}

pub struct MockFcm {
    pub server: TlsServer,
    pub state: Arc<State>,
}

impl MockFcm {
    pub async fn start() -> Self {
        let account: serde_json::Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
        let der =
            push_relay::jwt::pem_to_der(account["private_key"].as_str().unwrap(), "PRIVATE KEY")
                .unwrap();
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

    pub fn token_uri(&self) -> String {
        self.state.token_uri.lock().unwrap().clone()
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    /// Forgets every issued access token, as if they had expired.
    pub fn revoke_tokens(&self) {
        self.state.valid_tokens.lock().unwrap().clear();
    }
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
            return fcm_error(401, "THIRD_PARTY_AUTH_ERROR");
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
        if m["token"].as_str().is_none()
            || m["data"]["assent"].as_str().is_none()
            || m["android"]["priority"] != "HIGH"
            || !ttl_ok
        {
            return fcm_error(400, "INVALID_ARGUMENT");
        }
        self.seen.lock().unwrap().push(msg.clone());
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
        json_reply(
            200,
            serde_json::json!({"name": format!("projects/{}/messages/{n}", self.project_id)}),
        )
    }
}
