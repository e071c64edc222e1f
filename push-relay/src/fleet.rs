//! Copies of the relay run as a fleet over NATS (a `[nats]` section; without one, none of this
//! exists and a copy shares nothing).
//!
//! - **Direct streams announce themselves.** A copy holding a device's stream subscribes to
//!   `<name>.direct.<hex SHA-256 of the token>` ([`stream_subject`]); the token itself never
//!   leaves the copy. A direct push for a token with no stream here is sent as a NATS request on
//!   that subject ([`Fleet::forward`]); the copy holding the stream writes it exactly as a local
//!   push and answers with what came of it ([`Answer`]), which becomes this push's outcome.
//!   Nobody subscribed (NATS "no responders") is `NotConnected`, as for a lone copy; no answer
//!   within `forward_timeout_ms` is `failed` (`ForwardTimeout`), not retried: the other copy may
//!   have written the push, and a retry could show it twice.
//! - **Accepted signatures are remembered fleet-wide.** After this copy's own memory
//!   ([`crate::replay`]) accepts a signature, its digest is created as a key in the JetStream
//!   key-value bucket `<name>-signatures`, whose entries expire after the signature's whole life
//!   (121 s). Creating a key that exists fails, so a signature accepted by one copy is refused by
//!   every other ([`Fleet::claim_signature`]).
//!
//! When the NATS connection is down the copy degrades rather than stops: APNs, FCM and its own
//! streams work as before; pushes for streams it does not hold are `NotConnected`; signatures are
//! checked against its own memory only (counted in `replay_local_only_total`, the residual risk
//! being a replay to another copy during the outage); `/readyz` says so, still with 200. The
//! client reconnects by itself and re-sends every subscription, so open streams are reachable
//! again without reconnecting devices.
//!
//! What goes over NATS: subjects carrying token hashes, the pushes forwarded (the same
//! end-to-end encrypted payload, expiry and collapse id a stream receives), one-word answers,
//! and 32-byte signature digests. Nothing of it is logged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use async_nats::{Client, ConnectOptions, Event, RequestErrorKind};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};

use crate::direct::{DirectHub, NOT_CONNECTED, StreamPush};
use crate::metrics::FleetMetrics;
use crate::provider::ProviderError;
use crate::replay::SignatureDigest;
use crate::request::Push;
use crate::settings::{NatsSettings, NatsSettingsError};
use crate::signature::SIGNATURE_SKEW_SECONDS;
use crate::tenant::sha256_hex;

/// How long the signature bucket keeps a digest: a signature verifies while its `t` is within
/// the skew of the clock, so it is accepted at most `2 × skew` before it turns stale.
pub const SIGNATURE_TTL: Duration = Duration::from_secs(2 * SIGNATURE_SKEW_SECONDS + 1);

/// Interval of the client's PINGs: a server that vanished without closing the connection is
/// noticed after two missed ones.
const PING_INTERVAL: Duration = Duration::from_secs(10);

/// The longest a new stream's announcement waits for NATS to confirm it.
const ANNOUNCE_ECHO_WAIT: Duration = Duration::from_secs(1);

/// The longest wait for NATS to set up or check the signature bucket in the background.
const BUCKET_TIMEOUT: Duration = Duration::from_secs(5);

/// The subject a stream for `token` is announced on, in the fleet named `name`: only the
/// token's hash, which cannot be turned back into the token (at least 128 random bits).
pub fn stream_subject(name: &str, token: &str) -> String {
    format!("{name}.direct.{}", sha256_hex(token.as_bytes()))
}

/// The name of the fleet's signature bucket.
pub fn signature_bucket(name: &str) -> String {
    format!("{name}-signatures")
}

/// What the copy holding a stream answers to a forwarded push (one JSON string on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Written to the stream.
    Delivered,
    /// The stream closed in the meantime.
    NotConnected,
    /// The stream's queue is full.
    StreamBacklogged,
    /// The request was not a forwarded push (a peer of another version, or a stray publisher).
    Malformed,
}

impl Answer {
    /// The label of the answer in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::NotConnected => "not_connected",
            Self::StreamBacklogged => "stream_backlogged",
            Self::Malformed => "malformed",
        }
    }

    /// The answer as sent.
    fn to_bytes(self) -> Bytes {
        Bytes::from_static(match self {
            Self::Delivered => b"\"delivered\"",
            Self::NotConnected => b"\"not_connected\"",
            Self::StreamBacklogged => b"\"stream_backlogged\"",
            Self::Malformed => b"\"malformed\"",
        })
    }
}

/// What the fleet says about a signature this copy has just accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedClaim {
    /// No copy had accepted it.
    Accepted,
    /// Another copy accepted it first: a replay.
    Replayed,
    /// The shared memory could not be asked (the label says why); only this copy's memory
    /// decided.
    Unavailable(&'static str),
}

/// How the fleet connection is doing, for `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetHealth {
    /// Connected, with the signature bucket in place.
    Connected,
    /// Not connected to any NATS server (yet, or any more).
    Disconnected,
    /// Connected, but the signature bucket could not be set up (is JetStream enabled?).
    NoSignatureBucket,
}

impl FleetHealth {
    /// The `/readyz` body.
    pub fn readiness(self) -> &'static str {
        match self {
            Self::Connected => "ready",
            Self::Disconnected => "ready (degraded: nats disconnected)",
            Self::NoSignatureBucket => "ready (degraded: nats signature bucket unavailable)",
        }
    }
}

/// Why the fleet connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The `[nats]` section is unusable (normally refused when the settings are loaded).
    #[error(transparent)]
    Settings(#[from] NatsSettingsError),
    /// The NATS client refused its options.
    #[error("cannot set up the NATS client: {0}")]
    Client(String),
}

/// This copy's membership of the fleet: the NATS connection and what goes over it.
pub struct Fleet {
    client: Client,
    name: String,
    forward_timeout: Duration,
    replay_timeout: Duration,
    /// What the connection's events update.
    link: Arc<Link>,
    metrics: FleetMetrics,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Stops announcing a stream when dropped (the stream closed or was replaced).
#[derive(Debug)]
pub struct Announcement(tokio::task::AbortHandle);

impl Drop for Announcement {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Fleet {
    /// Starts connecting to the NATS servers of `settings` in the background and returns at
    /// once: a copy starts, and serves, while NATS is down, and keeps trying to reach it.
    /// Must run inside the Tokio runtime.
    pub async fn connect(
        settings: &NatsSettings,
        metrics: FleetMetrics,
    ) -> Result<Arc<Self>, FleetError> {
        let servers = settings.servers()?;
        let link = Arc::new(Link::default());
        let forward_timeout = Duration::from_millis(settings.forward_timeout_ms);
        let mut options = ConnectOptions::new()
            .name(format!("push-relay {}", settings.name))
            .retry_on_initial_connect()
            .ping_interval(PING_INTERVAL)
            .request_timeout(Some(forward_timeout))
            .event_callback({
                let (metrics, link) = (metrics.clone(), link.clone());
                move |event| {
                    link.on_event(&event, &metrics);
                    async {}
                }
            });
        if let Some(token) = &settings.token {
            options = options.token(token.expose().to_owned());
        }
        if let (Some(user), Some(password)) = (&settings.user, &settings.password) {
            options = options.user_and_password(user.clone(), password.expose().to_owned());
        }
        metrics.set_connected(false);
        let client = options
            .connect(servers)
            .await
            .map_err(|e| FleetError::Client(e.to_string()))?;
        let fleet = Arc::new(Self {
            client,
            name: settings.name.clone(),
            forward_timeout,
            replay_timeout: Duration::from_millis(settings.replay_timeout_ms),
            link,
            metrics,
        });
        tokio::spawn(keep_bucket(
            Arc::downgrade(&fleet),
            settings.signature_replicas,
        ));
        Ok(fleet)
    }

    /// Whether the NATS connection is up (as its last event said, which is also what
    /// `push_relay_nats_connected` shows).
    pub fn is_connected(&self) -> bool {
        self.link.up.load(Ordering::Acquire)
    }

    /// The state reported on `/readyz`.
    pub fn health(&self) -> FleetHealth {
        if !self.is_connected() {
            FleetHealth::Disconnected
        } else if self.bucket().is_none() {
            FleetHealth::NoSignatureBucket
        } else {
            FleetHealth::Connected
        }
    }

    /// Announces the stream `id` of `token` in `hub` until the returned value is dropped. The
    /// receiver fires once the server has the subscription (or after a second without an
    /// answer).
    pub fn announce(
        &self,
        hub: &Arc<DirectHub>,
        token: &str,
        id: u64,
    ) -> (Announcement, oneshot::Receiver<()>) {
        let (ready_tx, ready_rx) = oneshot::channel();
        let subject = stream_subject(&self.name, token);
        let token = token.to_owned();
        let hub = Arc::downgrade(hub);
        let client = self.client.clone();
        let metrics = self.metrics.clone();
        let task = tokio::spawn(async move {
            let mut sub = match client.subscribe(subject).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot announce a direct stream on NATS");
                    return;
                }
            };
            // The server handles a connection's messages in order: once a message published
            // after the subscription comes back, pushes from every copy find the stream. While
            // disconnected, the client sends the subscription on reconnecting.
            let _ = tokio::time::timeout(ANNOUNCE_ECHO_WAIT, echo(&client)).await;
            let _ = ready_tx.send(());
            while let Some(msg) = sub.next().await {
                let Some(reply) = msg.reply else { continue };
                let Some(hub) = hub.upgrade() else { break };
                // `None`: a newer stream for the token replaced this one, and answers itself.
                let Some(answer) = hub.deliver_forwarded(&token, id, &msg.payload) else {
                    continue;
                };
                metrics.answered(answer.as_str());
                if let Err(e) = client.publish(reply, answer.to_bytes()).await {
                    tracing::debug!(error = %e, "cannot answer a forwarded push");
                }
            }
        });
        (Announcement(task.abort_handle()), ready_rx)
    }

    /// Sends `push` to the copy holding its stream and returns that copy's outcome: `Ok` when
    /// written there, `NotConnected` when no copy holds it (or NATS is down), `StreamBacklogged`
    /// as a local stream would say, `ForwardTimeout` when the holder did not answer in time.
    pub async fn forward(&self, push: &Push) -> Result<Option<String>, ProviderError> {
        let (outcome, result) = self.forward_inner(push).await;
        self.metrics.forwarded(outcome);
        result
    }

    async fn forward_inner(
        &self,
        push: &Push,
    ) -> (&'static str, Result<Option<String>, ProviderError>) {
        let failed = |reason: &str| Err(ProviderError::Failed(reason.to_owned()));
        if !self.is_connected() {
            // Nobody can be asked: to the portal this is a device not connected here, as it is
            // for a lone copy.
            return ("nats_down", failed(NOT_CONNECTED));
        }
        let Ok(body) = serde_json::to_vec(&StreamPush::of(push)) else {
            return ("failed", failed("ForwardFailed"));
        };
        let request = async_nats::Request::new()
            .payload(Bytes::from(body))
            .timeout(Some(self.forward_timeout));
        let subject = stream_subject(&self.name, &push.device_token);
        match self.client.send_request(subject, request).await {
            Ok(msg) => match serde_json::from_slice::<Answer>(&msg.payload) {
                Ok(Answer::Delivered) => ("delivered", Ok(None)),
                Ok(Answer::NotConnected) => ("not_connected", failed(NOT_CONNECTED)),
                Ok(Answer::StreamBacklogged) => ("stream_backlogged", failed("StreamBacklogged")),
                Ok(Answer::Malformed) | Err(_) => ("failed", failed("ForwardFailed")),
            },
            Err(e) => match e.kind() {
                RequestErrorKind::NoResponders => ("no_stream", failed(NOT_CONNECTED)),
                RequestErrorKind::TimedOut => ("timeout", failed("ForwardTimeout")),
                _ => {
                    tracing::debug!(error = %e, "cannot forward a direct push");
                    ("failed", failed("ForwardFailed"))
                }
            },
        }
    }

    /// Records `digest`, a signature this copy's memory has just accepted, in the fleet's
    /// bucket; [`SharedClaim::Replayed`] if another copy recorded it first.
    pub async fn claim_signature(&self, digest: &SignatureDigest) -> SharedClaim {
        let claim = self.claim_inner(digest).await;
        if let SharedClaim::Unavailable(reason) = claim {
            self.metrics.local_replay_only(reason);
        }
        claim
    }

    async fn claim_inner(&self, digest: &SignatureDigest) -> SharedClaim {
        if !self.is_connected() {
            return SharedClaim::Unavailable("nats_down");
        }
        let Some(bucket) = self.bucket() else {
            return SharedClaim::Unavailable("no_bucket");
        };
        let create = bucket.create(digest.to_hex(), Bytes::from_static(b"1"));
        match tokio::time::timeout(self.replay_timeout, create).await {
            Ok(Ok(_)) => SharedClaim::Accepted,
            Ok(Err(e)) if e.kind() == kv::CreateErrorKind::AlreadyExists => SharedClaim::Replayed,
            Ok(Err(e)) => {
                // Typically the bucket vanished (a NATS server without persistence restarted):
                // have the keeper set it up again.
                tracing::debug!(error = %e, "cannot record a signature in the fleet's bucket");
                self.link.recheck.notify_one();
                SharedClaim::Unavailable("error")
            }
            Err(_) => SharedClaim::Unavailable("timeout"),
        }
    }

    fn bucket(&self) -> Option<kv::Store> {
        self.link
            .bucket
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The state the connection's events drive, shared with the client's event callback.
#[derive(Default)]
struct Link {
    /// Whether the last event was `Connected`.
    up: AtomicBool,
    /// The signature bucket, once set up on the current connection (a handle: names only).
    /// Cleared when the connection drops, as the server that comes back may not have it.
    bucket: RwLock<Option<kv::Store>>,
    /// Wakes the bucket keeper: after each (re)connect, and when a claim failed oddly.
    recheck: Notify,
}

impl Link {
    fn set_bucket(&self, store: Option<kv::Store>) {
        *self.bucket.write().unwrap_or_else(|p| p.into_inner()) = store;
    }

    fn on_event(&self, event: &Event, metrics: &FleetMetrics) {
        match event {
            Event::Connected => {
                self.up.store(true, Ordering::Release);
                metrics.set_connected(true);
                self.recheck.notify_one();
                tracing::info!("nats connected");
            }
            Event::Disconnected => {
                self.up.store(false, Ordering::Release);
                self.set_bucket(None);
                metrics.set_connected(false);
                metrics.disconnected();
                tracing::warn!(
                    "nats disconnected: no forwarding, replay memory local only; reconnecting"
                );
            }
            // Each failed reconnection attempt: the Disconnected warning said it all.
            Event::ClientError(e) => tracing::debug!(error = %e, "nats"),
            other => tracing::warn!(event = %other, "nats"),
        }
    }
}

/// Publishes to a fresh inbox of `client` and waits for the message to come back.
async fn echo(client: &Client) {
    let inbox = client.new_inbox();
    let Ok(mut sub) = client.subscribe(inbox.clone()).await else {
        return;
    };
    if client.publish(inbox, Bytes::new()).await.is_ok() {
        let _ = sub.next().await;
    }
}

/// Creates the signature bucket after each (re)connect (a NATS server that keeps no state loses
/// it on restart; creating an existing bucket with the same settings is a no-op), and again when
/// a claim reports trouble; retries with backoff while it fails. Ends with the fleet.
async fn keep_bucket(fleet: Weak<Fleet>, replicas: usize) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let link = {
            let Some(f) = fleet.upgrade() else { return };
            f.link.clone()
        };
        link.recheck.notified().await;
        drop(link);
        loop {
            let Some(f) = fleet.upgrade() else { return };
            if !f.is_connected() {
                // The next Connected event wakes the outer wait.
                break;
            }
            match tokio::time::timeout(BUCKET_TIMEOUT, ensure_bucket(&f, replicas)).await {
                Ok(Ok(store)) => {
                    f.link.set_bucket(Some(store));
                    backoff = Duration::from_secs(1);
                    break;
                }
                Ok(Err(e)) => tracing::warn!(
                    error = %e,
                    bucket = signature_bucket(&f.name),
                    "cannot set up the fleet's signature bucket (is JetStream enabled?); replay memory is local only"
                ),
                Err(_) => tracing::warn!(
                    bucket = signature_bucket(&f.name),
                    "setting up the fleet's signature bucket timed out; replay memory is local only"
                ),
            }
            drop(f);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
        // A burst of failed claims asks once.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn ensure_bucket(fleet: &Fleet, replicas: usize) -> Result<kv::Store, String> {
    let mut js = jetstream::new(fleet.client.clone());
    js.set_timeout(BUCKET_TIMEOUT);
    let bucket = signature_bucket(&fleet.name);
    // The stream a key-value bucket is, made directly: the client's `create_key_value` first
    // reads account details that servers before 2.10 do not send in the shape it expects.
    let config = jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        description: Some("push-relay: digests of accepted request signatures".to_owned()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age: SIGNATURE_TTL,
        // Worthless after two minutes: memory is enough, and faster.
        storage: jetstream::stream::StorageType::Memory,
        num_replicas: replicas,
        discard: jetstream::stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        ..Default::default()
    };
    let created = js.create_stream(config).await.map(drop);
    match js.get_key_value(bucket).await {
        Ok(store) => Ok(store),
        // A bucket created earlier with other settings (an operator's, an older copy's) is used
        // as it is; the creation error says more when there is none.
        Err(get) => Err(match created {
            Err(create) => create.to_string(),
            Ok(()) => get.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_subject_carries_the_token_hash_never_the_token() {
        let token = crate::direct::new_token();
        let subject = stream_subject("assent", &token);
        assert!(!subject.contains(&token), "{subject}");
        let hash = sha256_hex(token.as_bytes());
        assert_eq!(subject, format!("assent.direct.{hash}"));
        // A valid NATS subject: dot-separated tokens, no wildcards or whitespace.
        assert!(
            subject
                .split('.')
                .all(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric()))
        );
        // One stream, one subject; another token or fleet, another subject.
        assert_eq!(subject, stream_subject("assent", &token));
        assert_ne!(
            subject,
            stream_subject("assent", &crate::direct::new_token())
        );
        assert_ne!(subject, stream_subject("other", &token));
        assert_eq!(signature_bucket("assent"), "assent-signatures");
    }

    #[test]
    fn answers_round_trip_as_one_word() {
        for a in [
            Answer::Delivered,
            Answer::NotConnected,
            Answer::StreamBacklogged,
            Answer::Malformed,
        ] {
            let wire = a.to_bytes();
            assert_eq!(serde_json::from_slice::<Answer>(&wire).ok(), Some(a));
            assert_eq!(
                serde_json::to_vec(&a).ok().as_deref(),
                Some(wire.as_ref()),
                "{a:?}"
            );
        }
        assert!(serde_json::from_slice::<Answer>(b"\"ok\"").is_err());
    }

    #[test]
    fn the_bucket_outlives_every_signature_it_holds() {
        // Accepted with t up to skew ahead, and valid until t + skew.
        assert!(SIGNATURE_TTL.as_secs() > 2 * SIGNATURE_SKEW_SECONDS);
    }
}
