//! Firebase Cloud Messaging HTTP v1, authenticated with an OAuth2 access token obtained from a
//! service account's RS256 JWT grant.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Request;
use hyper::header::HeaderValue;
use serde::Deserialize;

use crate::clock::Clock;
use crate::jwt::Rs256Signer;
use crate::provider::{BoxFuture, Provider, ProviderError};
use crate::request::Push;
use crate::settings::FcmSettings;
use crate::upstream::{Upstream, UpstreamError, retry_after};

/// The OAuth scope FCM sends need.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Access tokens are replaced this many seconds before they expire.
const EXPIRY_MARGIN: u64 = 300;

/// The fields the relay reads from a service-account JSON file.
#[derive(Deserialize)]
pub struct ServiceAccount {
    /// Firebase project id.
    pub project_id: String,
    /// Id of the key (the JWT `kid`).
    pub private_key_id: String,
    /// PKCS#8 PEM RSA key.
    pub private_key: String,
    /// The account's e-mail (the JWT `iss`).
    pub client_email: String,
    /// Where the assertion is exchanged for an access token.
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

/// Splits `https://host[:port]/path` into (`host:port`, `/path`).
pub fn split_https_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("https://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:443")
    };
    Some((authority, path.to_owned()))
}

/// Pushes to FCM for one Firebase project.
pub struct Fcm {
    project_id: String,
    client_email: String,
    key_id: String,
    signer: Rs256Signer,
    token_uri: String,
    token_path: String,
    token_upstream: Upstream,
    upstream: Upstream,
    clock: Arc<dyn Clock>,
    /// The access token, the Unix time it must be replaced at and its generation; refreshed
    /// under this lock so concurrent pushes wait for one exchange instead of each starting one.
    token: tokio::sync::Mutex<Option<AccessToken>>,
    /// Generations handed out so far: a refusal drops the cached token only if it is still the
    /// one refused, so a burst of 401s on one token leads to one new exchange.
    generations: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Fcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fcm")
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl Fcm {
    /// Builds the provider from its settings and service-account file.
    pub fn new(
        settings: &FcmSettings,
        tls: Arc<rustls::ClientConfig>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let text = std::fs::read_to_string(&settings.service_account_file).map_err(|e| {
            format!(
                "fcm {}: cannot read service_account_file: {e}",
                settings.name
            )
        })?;
        let account: ServiceAccount = serde_json::from_str(&text)
            .map_err(|e| format!("fcm {}: service account: {:?}", settings.name, e.classify()))?;
        Self::from_account(settings, account, tls, clock)
    }

    fn from_account(
        settings: &FcmSettings,
        account: ServiceAccount,
        tls: Arc<rustls::ClientConfig>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let signer = Rs256Signer::from_pem(&account.private_key)
            .map_err(|e| format!("fcm {}: {e}", settings.name))?;
        let token_uri = settings.token_uri.clone().unwrap_or(account.token_uri);
        let (token_authority, token_path) = split_https_url(&token_uri)
            .ok_or_else(|| format!("fcm {}: token_uri must be https", settings.name))?;
        let ping = Duration::from_secs(settings.ping_interval_seconds.max(1));
        let authority = settings
            .host
            .clone()
            .unwrap_or_else(|| "fcm.googleapis.com:443".to_owned());
        Ok(Self {
            project_id: account.project_id,
            client_email: account.client_email,
            key_id: account.private_key_id,
            signer,
            token_uri,
            token_path,
            token_upstream: Upstream::new(&token_authority, tls.clone(), 1, ping)?,
            upstream: Upstream::new(&authority, tls, settings.connections, ping)?,
            clock,
            token: tokio::sync::Mutex::new(None),
            generations: std::sync::atomic::AtomicU64::new(0),
        })
    }

    async fn access_token(&self) -> Result<AccessToken, ProviderError> {
        let mut cached = self.token.lock().await;
        let now = self.clock.unix_seconds();
        if let Some(token) = cached.as_ref()
            && now < token.refresh_at
        {
            return Ok(token.clone());
        }
        let assertion = self
            .signer
            .sign(
                &serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": self.key_id}),
                &serde_json::json!({
                    "iss": self.client_email,
                    "scope": SCOPE,
                    "aud": self.token_uri,
                    "iat": now,
                    "exp": now + 3600,
                }),
            )
            .map_err(|e| ProviderError::Failed(format!("OAuthAssertion: {e}")))?;
        let form = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        );
        let req = Request::post(format!(
            "https://{}{}",
            self.token_upstream.authority(),
            self.token_path
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(form))
        .map_err(|e| ProviderError::Failed(format!("request: {e}")))?;
        let resp = self
            .token_upstream
            .send(req)
            .await
            .map_err(upstream_error)?;
        let status = resp.status().as_u16();
        if status != 200 {
            let reason = format!("OAuthHTTP{status}");
            return Err(if status == 429 || status >= 500 {
                ProviderError::Transient {
                    reason,
                    retry_after: retry_after(resp.headers()),
                }
            } else {
                ProviderError::Failed(reason)
            });
        }
        let token: TokenResponse = serde_json::from_slice(resp.body())
            .map_err(|_| ProviderError::Failed("OAuthBadResponse".into()))?;
        let mut value = HeaderValue::try_from(format!("Bearer {}", token.access_token))
            .map_err(|_| ProviderError::Failed("OAuthBadResponse".into()))?;
        value.set_sensitive(true);
        let refresh_at = now + token.expires_in.saturating_sub(EXPIRY_MARGIN).max(1);
        let fresh = AccessToken {
            value,
            refresh_at,
            generation: self
                .generations
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Forgets the cached access token after FCM refused generation `generation`, unless a
    /// newer one already replaced it.
    async fn invalidate(&self, generation: u64) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.generation == generation) {
            *cached = None;
        }
    }

    async fn send(&self, push: &Push) -> Result<Option<String>, ProviderError> {
        let token = self.access_token().await?;
        let ttl = push
            .expires_at
            .saturating_sub(self.clock.unix_seconds())
            .max(1);
        let mut android = serde_json::json!({"priority": "HIGH", "ttl": format!("{ttl}s")});
        if let Some(c) = &push.collapse_id {
            android["collapse_key"] = serde_json::Value::String(c.clone());
        }
        let body = serde_json::json!({"message": {
            "token": push.device_token,
            "data": {crate::apns::PAYLOAD_KEY: push.payload},
            "android": android,
        }});
        let req = Request::post(format!(
            "https://{}/v1/projects/{}/messages:send",
            self.upstream.authority(),
            self.project_id
        ))
        .header("authorization", token.value)
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .map_err(|e| ProviderError::Failed(format!("request: {e}")))?;
        let resp = self.upstream.send(req).await.map_err(upstream_error)?;
        let status = resp.status().as_u16();
        if status == 200 {
            let name = serde_json::from_slice::<serde_json::Value>(resp.body())
                .ok()
                .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_owned));
            return Ok(name);
        }
        let err = map_error(status, resp.body(), retry_after(resp.headers()));
        if let ProviderError::Credential(_) = err {
            // The retry that follows gets a new token; concurrent refusals share it.
            self.invalidate(token.generation).await;
        }
        Err(err)
    }
}

/// A cached OAuth access token.
#[derive(Clone)]
struct AccessToken {
    /// `Bearer …`, marked sensitive (never indexed by HPACK, never printed).
    value: HeaderValue,
    /// When to fetch the next one (Unix seconds).
    refresh_at: u64,
    /// Which exchange produced it.
    generation: u64,
}

fn upstream_error(e: UpstreamError) -> ProviderError {
    match e {
        UpstreamError::Connect(_) => ProviderError::transient("ConnectFailed"),
        UpstreamError::Lost(_) => ProviderError::transient("ConnectionLost"),
    }
}

/// Maps an FCM error answer: the `errorCode` of the `FcmError` detail when present, else the
/// canonical `status`, else the HTTP status.
pub fn map_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> ProviderError {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let err = &v["error"];
    let code = err["details"]
        .as_array()
        .and_then(|d| d.iter().find_map(|x| x["errorCode"].as_str()))
        .or_else(|| err["status"].as_str())
        .map_or_else(|| format!("HTTP{status}"), str::to_owned);
    match (status, code.as_str()) {
        (_, "UNREGISTERED") | (404, _) => ProviderError::Unregistered(code),
        // A 401 about the APNs or web-push credential uploaded to Firebase, not the OAuth
        // token: a new token would not help.
        (_, "THIRD_PARTY_AUTH_ERROR") => ProviderError::Rejected(code),
        (401, _) | (_, "UNAUTHENTICATED") => ProviderError::Credential(code),
        (_, "INVALID_ARGUMENT" | "SENDER_ID_MISMATCH") | (400, _) => ProviderError::Rejected(code),
        (429 | 500 | 503, _) | (_, "QUOTA_EXCEEDED" | "UNAVAILABLE" | "INTERNAL") => {
            ProviderError::Transient {
                reason: code,
                retry_after,
            }
        }
        (s, _) if s >= 500 => ProviderError::Transient {
            reason: code,
            retry_after,
        },
        _ => ProviderError::Failed(code),
    }
}

impl Provider for Fcm {
    fn name(&self) -> &'static str {
        "fcm"
    }

    fn attempt<'a>(
        &'a self,
        push: &'a Push,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
        Box::pin(self.send(push))
    }

    fn warm_up(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {
            self.upstream.warm_up().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Outcome;

    fn err(status: u16, code: &str) -> Vec<u8> {
        serde_json::json!({"error": {"code": status, "status": "X", "message": "m",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn maps_googles_errors() {
        assert_eq!(
            map_error(404, &err(404, "UNREGISTERED"), None).outcome(),
            Outcome::Unregistered
        );
        assert_eq!(map_error(404, b"", None).outcome(), Outcome::Unregistered);
        assert_eq!(
            map_error(400, &err(400, "INVALID_ARGUMENT"), None).outcome(),
            Outcome::Rejected
        );
        assert!(matches!(
            map_error(401, b"{}", None),
            ProviderError::Credential(_)
        ));
        let unauthenticated = br#"{"error":{"code":401,"status":"UNAUTHENTICATED","message":"m"}}"#;
        assert_eq!(
            map_error(401, unauthenticated, None),
            ProviderError::Credential("UNAUTHENTICATED".into())
        );
        // The APNs credential uploaded to Firebase is refused: not the OAuth token, no retry.
        assert_eq!(
            map_error(401, &err(401, "THIRD_PARTY_AUTH_ERROR"), None),
            ProviderError::Rejected("THIRD_PARTY_AUTH_ERROR".into())
        );
        for s in [429, 500, 503] {
            let e = map_error(s, b"", Some(Duration::from_secs(3)));
            assert_eq!(
                e,
                ProviderError::Transient {
                    reason: format!("HTTP{s}"),
                    retry_after: Some(Duration::from_secs(3))
                }
            );
        }
        assert_eq!(
            map_error(403, &err(403, "SENDER_ID_MISMATCH"), None).outcome(),
            Outcome::Rejected
        );
    }

    #[tokio::test]
    async fn a_late_refusal_keeps_the_newer_access_token() {
        let account: ServiceAccount =
            serde_json::from_str(push_mocks::fcm::SERVICE_ACCOUNT).unwrap();
        let settings = FcmSettings {
            name: "t".into(),
            service_account_file: "unused".into(),
            host: Some("localhost:9".into()),
            token_uri: Some("https://localhost:9/token".into()),
            connections: 1,
            ping_interval_seconds: 60,
        };
        let tls = crate::upstream::tls_config(None).unwrap();
        let clock = Arc::new(crate::clock::SystemClock);
        let fcm = Fcm::from_account(&settings, account, tls, clock).unwrap();
        let token = |generation| AccessToken {
            value: HeaderValue::from_static("Bearer x"),
            refresh_at: u64::MAX,
            generation,
        };
        *fcm.token.lock().await = Some(token(1));
        // A push that carried generation 0 is refused after generation 1 replaced it.
        fcm.invalidate(0).await;
        assert_eq!(
            fcm.token.lock().await.as_ref().map(|t| t.generation),
            Some(1)
        );
        fcm.invalidate(1).await;
        assert!(
            fcm.token.lock().await.is_none(),
            "the refused token is dropped"
        );
    }

    #[test]
    fn splits_token_uris() {
        assert_eq!(
            split_https_url("https://oauth2.googleapis.com/token"),
            Some(("oauth2.googleapis.com:443".into(), "/token".into()))
        );
        assert_eq!(
            split_https_url("https://localhost:9/t"),
            Some(("localhost:9".into(), "/t".into()))
        );
        assert_eq!(split_https_url("http://x/"), None);
    }
}
