//! Sending a challenge through the push relay (`POST /v1/push`, push-relay/openapi.json). The
//! relay answers synchronously with the outcome; `unregistered` tells the portal to forget the
//! device's push token, after which the device is reached only by its polls.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use assent_protocol::{PushConfig, Transport};
use assent_relay_api::{ErrorReply, Outcome, Platform, PushReply, PushRequest};

/// What the relay said about one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Handed to APNs/FCM or written to the device's stream.
    Delivered,
    /// The token is dead: forget it.
    Unregistered(String),
    /// The provider refused this push (its reason).
    Rejected(String),
    /// Not delivered after the relay's retries, or the relay could not be reached.
    Failed(String),
}

impl Delivery {
    /// A short form for the database and logs.
    pub fn describe(&self) -> String {
        match self {
            Self::Delivered => "delivered".into(),
            Self::Unregistered(r) => format!("unregistered: {r}"),
            Self::Rejected(r) => format!("rejected: {r}"),
            Self::Failed(r) => format!("failed: {r}"),
        }
    }
}

/// A boxed future, for the object-safe trait below.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends pushes; the HTTP client below, or a test double.
pub trait PushSender: Send + Sync {
    /// Sends `payload` (the challenge JWS) to `push`, valid until `expires_at`.
    fn send<'a>(
        &'a self,
        push: &'a PushConfig,
        payload: &'a str,
        expires_at: u64,
        collapse_id: &'a str,
    ) -> BoxFuture<'a, Delivery>;
}

/// The header carrying a request signature (push-relay/openapi.json).
pub const SIGNATURE_HEADER: &str = "assent-signature";

/// Signs push requests for a relay tenant that requires it: `Assent-Signature: t=<unix
/// seconds>,sig=<base64url ES256 r||s over "<t>." and the body>`. The relay refuses a signature
/// it (or, in a fleet, any copy) has accepted before, so each request is signed anew.
pub struct RequestSigner {
    key: ring::signature::EcdsaKeyPair,
}

impl std::fmt::Debug for RequestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestSigner(P-256)")
    }
}

/// Why a relay signing key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigningKeyError {
    /// No `-----BEGIN PRIVATE KEY-----` block, or its base64 is broken.
    #[error("not a PEM PRIVATE KEY (PKCS#8)")]
    NotPem,
    /// The block is not a P-256 key *ring* accepts (PKCS#8 v1 with its public key).
    #[error("not a P-256 private key: {0}")]
    NotP256(String),
}

impl RequestSigner {
    /// Reads a PKCS#8 PEM `PRIVATE KEY` holding a P-256 key.
    pub fn from_pem(text: &str) -> Result<Self, SigningKeyError> {
        let body = text
            .split("-----BEGIN PRIVATE KEY-----")
            .nth(1)
            .and_then(|rest| rest.split("-----END PRIVATE KEY-----").next())
            .ok_or(SigningKeyError::NotPem)?;
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let der = zeroize::Zeroizing::new(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64)
                .map_err(|_| SigningKeyError::NotPem)?,
        );
        Self::from_pkcs8(&der)
    }

    /// A signer from PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, SigningKeyError> {
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| SigningKeyError::NotP256(e.to_string()))?;
        Ok(Self { key })
    }

    /// The public key as the relay's `request_public_key` takes it: the base64url uncompressed
    /// point.
    pub fn public_key(&self) -> String {
        use ring::signature::KeyPair as _;
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            self.key.public_key().as_ref(),
        )
    }

    /// The header value for `body` sent at Unix time `t`.
    pub fn sign(&self, body: &[u8], t: u64) -> String {
        let mut message = format!("{t}.").into_bytes();
        message.extend_from_slice(body);
        // Signing fails only when the system's randomness does; the relay then refuses the
        // request as unsigned, which the push's outcome reports.
        let sig = self
            .key
            .sign(&ring::rand::SystemRandom::new(), &message)
            .map(|s| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s))
            .unwrap_or_default();
        format!("t={t},sig={sig}")
    }
}

/// The relay's HTTP API.
#[derive(Debug, Clone)]
pub struct RelayClient {
    http: reqwest::Client,
    url: String,
    api_key: String,
    signer: Option<std::sync::Arc<RequestSigner>>,
}

impl RelayClient {
    /// A client for the relay at `url` (no trailing slash needed) with the tenant's API key,
    /// signing each request when `signer` is given.
    ///
    /// HTTP/2: concurrent pushes share one connection, which costs the relay about 5 KB per push
    /// in flight instead of about 23 KB for a connection each (docs/relay-operations.md). Over
    /// TLS it is negotiated by ALPN; on a cleartext URL (a relay on the same host or network)
    /// the client speaks it from the first byte, which the relay accepts.
    pub fn new(
        url: &str,
        api_key: &str,
        signer: Option<RequestSigner>,
    ) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(70))
            .connect_timeout(Duration::from_secs(5));
        if url.starts_with("http://") {
            builder = builder.http2_prior_knowledge();
        }
        let http = builder.build()?;
        Ok(Self {
            http,
            url: format!("{}/v1/push", url.trim_end_matches('/')),
            api_key: api_key.to_owned(),
            signer: signer.map(std::sync::Arc::new),
        })
    }
}

impl PushSender for RelayClient {
    fn send<'a>(
        &'a self,
        push: &'a PushConfig,
        payload: &'a str,
        expires_at: u64,
        collapse_id: &'a str,
    ) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            let body = PushRequest {
                platform: match push.transport {
                    Transport::Apns => Platform::Apns,
                    Transport::Fcm => Platform::Fcm,
                    Transport::Direct => Platform::Direct,
                },
                device_token: push.token.clone(),
                payload: payload.to_owned(),
                expires_at,
                collapse_id: Some(collapse_id.to_owned()),
            };
            let Ok(body) = serde_json::to_vec(&body) else {
                return Delivery::Failed("cannot encode the push request".into());
            };
            let mut request = self
                .http
                .post(&self.url)
                .bearer_auth(&self.api_key)
                .header(reqwest::header::CONTENT_TYPE, "application/json");
            if let Some(signer) = &self.signer {
                // The relay's clock, not the portal's (which tests may move), judges the time.
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                request = request.header(SIGNATURE_HEADER, signer.sign(&body, t));
            }
            let response = match request.body(body).send().await {
                Ok(r) => r,
                Err(e) => return Delivery::Failed(format!("relay unreachable: {e}")),
            };
            let status = response.status();
            let Ok(bytes) = response.bytes().await else {
                return Delivery::Failed(format!("relay answered {status} with no body"));
            };
            // A push that was tried answers its outcome (whatever the status); one refused
            // before that, an error.
            if let Ok(reply) = serde_json::from_slice::<PushReply>(&bytes) {
                let reason = reply.reason.unwrap_or_default();
                return match reply.outcome {
                    Outcome::Delivered => Delivery::Delivered,
                    Outcome::Unregistered => Delivery::Unregistered(reason),
                    Outcome::Rejected => Delivery::Rejected(reason),
                    Outcome::Failed => Delivery::Failed(reason),
                };
            }
            match serde_json::from_slice::<ErrorReply>(&bytes) {
                Ok(e) => Delivery::Failed(format!("relay {}: {}", status.as_u16(), e.error)),
                Err(_) => Delivery::Failed(format!("relay answered {status}")),
            }
        })
    }
}

/// No relay configured: every device is reached by polling only.
#[derive(Debug, Clone, Copy)]
pub struct NoRelay;

impl PushSender for NoRelay {
    fn send<'a>(
        &'a self,
        _push: &'a PushConfig,
        _payload: &'a str,
        _expires_at: u64,
        _collapse_id: &'a str,
    ) -> BoxFuture<'a, Delivery> {
        Box::pin(async { Delivery::Failed("no relay configured".into()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(der: &[u8]) -> String {
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn a_signature_verifies_over_the_time_and_the_body_with_the_public_key() {
        let rng = ring::rand::SystemRandom::new();
        let der = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .unwrap_or_else(|_| unreachable!("system randomness"));
        let signer = RequestSigner::from_pem(&pem(der.as_ref())).expect("a P-256 key");
        let point = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            signer.public_key(),
        )
        .expect("base64url");
        assert_eq!((point.len(), point[0]), (65, 4));
        let header = signer.sign(b"{\"a\":1}", 1_764_064_000);
        let (t, sig) = header.split_once(",sig=").expect("t=..,sig=..");
        assert_eq!(t, "t=1764064000");
        let sig =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            &point,
        );
        assert!(key.verify(b"1764064000.{\"a\":1}", &sig).is_ok());
        assert!(key.verify(b"1764064001.{\"a\":1}", &sig).is_err());
        // Two signatures of the same request differ (ECDSA's nonce): each is new to the relay.
        assert_ne!(header, signer.sign(b"{\"a\":1}", 1_764_064_000));
        assert_eq!(format!("{signer:?}"), "RequestSigner(P-256)");
    }

    #[test]
    fn anything_but_a_p256_pkcs8_pem_is_refused() {
        assert_eq!(
            RequestSigner::from_pem("no pem here").unwrap_err(),
            SigningKeyError::NotPem
        );
        assert_eq!(
            RequestSigner::from_pem("-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----")
                .unwrap_err(),
            SigningKeyError::NotPem
        );
        let ed = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .unwrap_or_else(|_| unreachable!("system randomness"));
        assert!(matches!(
            RequestSigner::from_pem(&pem(ed.as_ref())),
            Err(SigningKeyError::NotP256(_))
        ));
    }
}
