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

/// The relay's HTTP API.
#[derive(Debug, Clone)]
pub struct RelayClient {
    http: reqwest::Client,
    url: String,
    api_key: String,
}

impl RelayClient {
    /// A client for the relay at `url` (no trailing slash needed) with the tenant's API key.
    ///
    /// HTTP/2: concurrent pushes share one connection, which costs the relay about 5 KB per push
    /// in flight instead of about 23 KB for a connection each (docs/relay-operations.md). Over
    /// TLS it is negotiated by ALPN; on a cleartext URL (a relay on the same host or network)
    /// the client speaks it from the first byte, which the relay accepts.
    pub fn new(url: &str, api_key: &str) -> Result<Self, reqwest::Error> {
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
            let response = match self
                .http
                .post(&self.url)
                .bearer_auth(&self.api_key)
                .json(&body)
                .send()
                .await
            {
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
