//! Apple Push Notification service: token-based auth over HTTP/2.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::Request;
use hyper::header::{HeaderName, HeaderValue};
use serde::Deserialize;

use crate::clock::Clock;
use crate::jwt::{Es256Signer, KeyError};
use crate::provider::{BoxFuture, Provider, ProviderError};
use crate::request::Push;
use crate::settings::ApnsSettings;
use crate::upstream::{ConnectionHandle, Upstream, retry_after};

/// The notification category the app registers with Approve/Deny actions.
pub const CATEGORY: &str = "ASSENT_CHALLENGE";
/// The custom key carrying the opaque challenge.
pub const PAYLOAD_KEY: &str = "assent";
/// Apple's limit on a notification payload.
pub const MAX_APNS_PAYLOAD: usize = 4096;
const APNS_TOPIC: HeaderName = HeaderName::from_static("apns-topic");
const APNS_PUSH_TYPE: HeaderName = HeaderName::from_static("apns-push-type");
const APNS_PRIORITY: HeaderName = HeaderName::from_static("apns-priority");
const APNS_EXPIRATION: HeaderName = HeaderName::from_static("apns-expiration");
const APNS_ID: HeaderName = HeaderName::from_static("apns-id");
const APNS_COLLAPSE_ID: HeaderName = HeaderName::from_static("apns-collapse-id");
/// Apple refuses provider tokens older than an hour, and a new token on a connection whose token
/// changed less than 20 minutes ago (`429 TooManyProviderTokenUpdates`).
const MIN_TOKEN_AGE: Duration = Duration::from_secs(20 * 60);
const MAX_TOKEN_AGE: Duration = Duration::from_secs(59 * 60);

/// A provider token, signed once and reused until it is `refresh_after` old or APNs refuses it.
///
/// Ages are measured on the monotonic clock: a wall-clock step (NTP, a restored VM) neither
/// makes a token look new nor makes it look expired, so the relay never re-signs early, which
/// APNs would refuse with `TooManyProviderTokenUpdates` for 20 minutes.
pub struct ProviderToken {
    signer: Es256Signer,
    key_id: String,
    team_id: String,
    refresh_after: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<TokenState>,
    /// The generation of the newest token APNs accepted, read without the lock: every
    /// delivered push reports its token, and all but the first for each token change nothing.
    accepted_generation: AtomicU64,
}

/// The token in use, the newest one APNs accepted, and how many have been signed. A refusal
/// changes the state only if it is about the token still in use, so a burst of refusals of one
/// token acts once.
#[derive(Default)]
struct TokenState {
    current: Option<Cached>,
    accepted: Option<Cached>,
    signed: u64,
}

#[derive(Clone)]
struct Cached {
    generation: u64,
    iat: u64,
    /// When it was signed, on the monotonic clock.
    signed_at: Duration,
    header: HeaderValue,
}

/// A provider token as sent: the `authorization` header value and which signing it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    /// `bearer <jwt>`, marked sensitive.
    pub header: HeaderValue,
    /// Counts signings; pass it back to [`ProviderToken::refused`] and the like.
    pub generation: u64,
}

/// What to do after APNs refused a token update on a connection (`TooManyProviderTokenUpdates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateRefused {
    /// Go on with the token APNs accepted before (it is in use again).
    WentBack,
    /// There is no accepted token to go back to: send the new token on a fresh connection,
    /// whose first token APNs takes.
    FreshConnection,
}

impl std::fmt::Debug for ProviderToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderToken")
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl ProviderToken {
    /// A token source for the key `pem`; `refresh_minutes` is clamped to 20..=59.
    pub fn new(
        pem: &str,
        key_id: &str,
        team_id: &str,
        refresh_minutes: u64,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, KeyError> {
        Ok(Self {
            signer: Es256Signer::from_pem(pem)?,
            key_id: key_id.to_owned(),
            team_id: team_id.to_owned(),
            refresh_after: Duration::from_secs(refresh_minutes.saturating_mul(60))
                .clamp(MIN_TOKEN_AGE, MAX_TOKEN_AGE),
            clock,
            state: Mutex::new(TokenState::default()),
            accepted_generation: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TokenState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The token to send: the one in use, or a new one when it is due for refresh (or was
    /// refused).
    pub fn bearer(&self) -> Result<Bearer, KeyError> {
        let now = self.clock.monotonic();
        let mut state = self.lock();
        if let Some(c) = state.current.as_ref()
            && now.saturating_sub(c.signed_at) < self.refresh_after
        {
            return Ok(Bearer {
                header: c.header.clone(),
                generation: c.generation,
            });
        }
        let iat = self.clock.unix_seconds();
        let jwt = self.signer.sign(
            &serde_json::json!({"alg": "ES256", "kid": self.key_id}),
            &serde_json::json!({"iss": self.team_id, "iat": iat}),
        )?;
        let mut value =
            HeaderValue::try_from(format!("bearer {jwt}")).map_err(|_| KeyError::Sign)?;
        value.set_sensitive(true);
        state.signed += 1;
        let generation = state.signed;
        state.current = Some(Cached {
            generation,
            iat,
            signed_at: now,
            header: value.clone(),
        });
        Ok(Bearer {
            header: value,
            generation,
        })
    }

    /// Issue time (`iat`) of the token in use, if any.
    pub fn issued_at(&self) -> Option<u64> {
        self.lock().current.as_ref().map(|c| c.iat)
    }

    /// APNs delivered a push carrying token `generation`: it is the token to go back to.
    pub fn accepted(&self, generation: u64) {
        if self.accepted_generation.load(Ordering::Acquire) >= generation {
            return;
        }
        let mut state = self.lock();
        if state
            .accepted
            .as_ref()
            .is_some_and(|a| a.generation >= generation)
        {
            return;
        }
        if let Some(current) = state
            .current
            .as_ref()
            .filter(|c| c.generation == generation)
        {
            state.accepted = Some(current.clone());
            self.accepted_generation
                .store(generation, Ordering::Release);
        }
    }

    /// APNs called token `generation` expired or invalid: it is never sent again, and the next
    /// push signs a new one unless a newer one has replaced it already. Returns whether the
    /// token in use was dropped.
    pub fn refused(&self, generation: u64) -> bool {
        let mut state = self.lock();
        if state
            .accepted
            .as_ref()
            .is_some_and(|a| a.generation == generation)
        {
            state.accepted = None;
        }
        if state
            .current
            .as_ref()
            .is_some_and(|c| c.generation == generation)
        {
            state.current = None;
            true
        } else {
            false
        }
    }

    /// APNs refused token `generation` as an update on a connection whose token changed less
    /// than 20 minutes ago. Goes back to the token APNs accepted before, if it is still young
    /// enough; else the new token stays, to be sent on a fresh connection.
    pub fn update_refused(&self, generation: u64) -> UpdateRefused {
        let now = self.clock.monotonic();
        let mut state = self.lock();
        let accepted = state.accepted.clone().filter(|a| {
            a.generation != generation && now.saturating_sub(a.signed_at) < MAX_TOKEN_AGE
        });
        match accepted {
            Some(accepted) => {
                if state
                    .current
                    .as_ref()
                    .is_none_or(|c| c.generation == generation)
                {
                    state.current = Some(accepted);
                }
                UpdateRefused::WentBack
            }
            None => UpdateRefused::FreshConnection,
        }
    }
}

/// Pushes to APNs for one key, team, topic and environment.
#[derive(Debug)]
pub struct Apns {
    token: ProviderToken,
    topic: HeaderValue,
    upstream: Upstream,
}

impl Apns {
    /// Builds the provider; the connections open on [`Provider::warm_up`] or the first push.
    pub fn new(
        settings: &ApnsSettings,
        tls: Arc<rustls::ClientConfig>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let pem = std::fs::read_to_string(&settings.key_file)
            .map_err(|e| format!("apns {}: cannot read key_file: {e}", settings.name))?;
        let token = ProviderToken::new(
            &pem,
            &settings.key_id,
            &settings.team_id,
            settings.token_refresh_minutes,
            clock,
        )
        .map_err(|e| format!("apns {}: {e}", settings.name))?;
        let authority = settings
            .host
            .clone()
            .unwrap_or_else(|| settings.environment.authority().to_owned());
        let upstream = Upstream::new(
            &authority,
            tls,
            settings.connections,
            Duration::from_secs(settings.ping_interval_seconds.max(1)),
        )?;
        let topic = HeaderValue::try_from(settings.topic.as_str())
            .map_err(|_| format!("apns {}: bad topic", settings.name))?;
        Ok(Self {
            token,
            topic,
            upstream,
        })
    }

    /// The provider token source (exposed for tests of its refresh).
    pub fn provider_token(&self) -> &ProviderToken {
        &self.token
    }

    async fn send(&self, push: &Push) -> Result<Option<String>, ProviderError> {
        let body = payload(push);
        if body.len() > MAX_APNS_PAYLOAD {
            return Err(ProviderError::Rejected("PayloadTooLarge".into()));
        }
        let bearer = self
            .token
            .bearer()
            .map_err(|e| ProviderError::Failed(format!("ProviderToken: {e}")))?;
        let apns_id = new_apns_id();
        let uri = hyper::Uri::builder()
            .scheme("https")
            .authority(self.upstream.authority())
            .path_and_query(format!("/3/device/{}", push.device_token))
            .build()
            .map_err(|e| ProviderError::Failed(format!("request: {e}")))?;
        let mut req = Request::new(Bytes::from(body));
        *req.method_mut() = hyper::Method::POST;
        *req.uri_mut() = uri;
        // Names and constant values are static: no parsing or copying per push.
        let h = req.headers_mut();
        h.reserve(8);
        h.insert(hyper::header::AUTHORIZATION, bearer.header.clone());
        h.insert(APNS_TOPIC, self.topic.clone());
        h.insert(APNS_PUSH_TYPE, HeaderValue::from_static("alert"));
        h.insert(APNS_PRIORITY, HeaderValue::from_static("10"));
        h.insert(APNS_EXPIRATION, HeaderValue::from(push.expires_at));
        h.insert(
            APNS_ID,
            HeaderValue::from_str(&apns_id).map_err(|_| ProviderError::Failed("apns-id".into()))?,
        );
        h.insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(c) = &push.collapse_id {
            let c = HeaderValue::from_str(c)
                .map_err(|_| ProviderError::Failed("request: apns-collapse-id".into()))?;
            h.insert(APNS_COLLAPSE_ID, c);
        }
        let resp = self.upstream.send(req).await.map_err(|e| match e {
            crate::upstream::UpstreamError::Connect(_) => ProviderError::transient("ConnectFailed"),
            crate::upstream::UpstreamError::Lost(_) => ProviderError::transient("ConnectionLost"),
        })?;
        let status = resp.status().as_u16();
        if status == 200 {
            self.token.accepted(bearer.generation);
            let id = resp
                .headers()
                .get("apns-id")
                .and_then(|v| v.to_str().ok())
                .map_or(apns_id, str::to_owned);
            return Ok(Some(id));
        }
        let reason = serde_json::from_slice::<ApnsError>(resp.body())
            .map(|e| e.reason)
            .unwrap_or_else(|_| format!("HTTP{status}"));
        if status == 429 && reason == "TooManyProviderTokenUpdates" {
            // Never retried with the refused token on this connection: back to the token APNs
            // took before, or on to a fresh connection.
            if self.token.update_refused(bearer.generation) == UpdateRefused::FreshConnection
                && let Some(connection) = resp.extensions().get::<ConnectionHandle>()
            {
                connection.retire();
            }
            return Err(ProviderError::transient(reason));
        }
        let err = map_error(status, reason, retry_after(resp.headers()));
        if let ProviderError::Credential(_) = err {
            // Dropped here, where the refused token is known; `deliver` then retries once.
            self.token.refused(bearer.generation);
        }
        Err(err)
    }
}

#[derive(Deserialize)]
struct ApnsError {
    reason: String,
}

/// Maps an APNs error answer to what the relay does, per Apple's documented reasons.
pub fn map_error(status: u16, reason: String, retry_after: Option<Duration>) -> ProviderError {
    match (status, reason.as_str()) {
        (400, "BadDeviceToken") | (410, _) => ProviderError::Unregistered(reason),
        (403, "ExpiredProviderToken" | "InvalidProviderToken") => ProviderError::Credential(reason),
        (400 | 413, _) => ProviderError::Rejected(reason),
        (429 | 500 | 503, _) => ProviderError::Transient {
            reason,
            retry_after,
        },
        (s, _) if s >= 500 => ProviderError::Transient {
            reason,
            retry_after,
        },
        _ => ProviderError::Failed(reason),
    }
}

/// The notification's JSON: a generic, localised alert (the app's notification service
/// extension replaces it after decrypting), `mutable-content` so that extension runs, the
/// category with Approve/Deny actions, and the opaque challenge.
///
/// Everything but the challenge is constant, so it is written as one prefix (what `serde_json`
/// prints for the same object; a test keeps them equal) and the challenge is appended as a JSON
/// string, into a buffer of the exact size: building a `serde_json::Value` cost a dozen
/// allocations per push and left up to half the buffer unused while the push was in flight.
pub fn payload(push: &Push) -> Vec<u8> {
    const PREFIX: &str = concat!(
        r#"{"aps":{"alert":{"loc-key":"ASSENT_CHALLENGE_BODY","title-loc-key":"ASSENT_CHALLENGE_TITLE"},"#,
        r#""category":"ASSENT_CHALLENGE","mutable-content":1,"sound":"default"},"assent":"#
    );
    // `Push::parse` allows only base64url and `.` in the payload, which need no escaping; the
    // escaping writer below is kept for any other caller.
    let mut out = Vec::with_capacity(PREFIX.len() + push.payload.len() + 3);
    out.extend_from_slice(PREFIX.as_bytes());
    if serde_json::to_writer(&mut out, &push.payload).is_err() {
        return Vec::new();
    }
    out.push(b'}');
    out
}

/// A fresh `apns-id`: a version-4-shaped UUID, unique per push. A random base drawn once per
/// process plus a counter: drawing 16 random bytes per push was a `getrandom` system call per
/// push, and the id needs to be unique, not unpredictable (Apple echoes it; it names nothing).
fn new_apns_id() -> String {
    static BASE: std::sync::OnceLock<[u8; 16]> = std::sync::OnceLock::new();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let base = BASE.get_or_init(|| {
        let mut b = [0u8; 16];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
        b
    });
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut b = *base;
    // The counter goes into the low 62 bits, which the variant bits below leave alone.
    let low = u64::from_be_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
    b[8..].copy_from_slice(&low.wrapping_add(n).to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut id = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            id.push('-');
        }
        id.push(char::from(HEX[usize::from(x >> 4)]));
        id.push(char::from(HEX[usize::from(x & 0x0f)]));
    }
    id
}

impl Provider for Apns {
    fn name(&self) -> &'static str {
        "apns"
    }

    fn attempt<'a>(
        &'a self,
        push: &'a Push,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
        Box::pin(self.send(push))
    }

    fn warm_up(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.upstream.warm_up())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn pem() -> String {
        let rng = ring::rand::SystemRandom::new();
        let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .unwrap();
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, doc.as_ref());
        format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
    }

    #[test]
    fn provider_token_is_reused_then_refreshed_within_20_to_60_minutes() {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let t = ProviderToken::new(&pem(), "KEY123", "TEAM456", 40, clock.clone()).unwrap();
        let first = t.bearer().unwrap();
        clock.advance_seconds(19 * 60);
        assert_eq!(t.bearer().unwrap(), first, "reused before 20 minutes");
        clock.advance_seconds(20 * 60);
        assert_eq!(t.bearer().unwrap(), first, "reused at 39 minutes");
        clock.advance_seconds(60);
        let second = t.bearer().unwrap();
        assert_ne!(second, first, "refreshed at 40 minutes");
        assert_eq!(t.issued_at(), Some(1_800_000_000 + 40 * 60));
        // Out-of-range settings are clamped: never refreshed sooner than 20 or later than 59 minutes.
        let fast = ProviderToken::new(&pem(), "K", "T", 1, clock.clone()).unwrap();
        let a = fast.bearer().unwrap();
        clock.advance_seconds(19 * 60);
        assert_eq!(fast.bearer().unwrap(), a);
        let slow = ProviderToken::new(&pem(), "K", "T", 600, clock.clone()).unwrap();
        let b = slow.bearer().unwrap();
        clock.advance_seconds(59 * 60);
        assert_ne!(slow.bearer().unwrap(), b);
    }

    #[test]
    fn a_refusal_forces_a_new_token() {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let t = ProviderToken::new(&pem(), "K", "T", 40, clock).unwrap();
        let a = t.bearer().unwrap();
        assert!(t.refused(a.generation));
        let b = t.bearer().unwrap();
        assert_ne!(b.header, a.header);
        assert_eq!(b.generation, a.generation + 1);
    }

    #[test]
    fn a_late_refusal_of_a_replaced_token_keeps_the_new_one() {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let t = ProviderToken::new(&pem(), "K", "T", 40, clock).unwrap();
        let old = t.bearer().unwrap();
        assert!(t.refused(old.generation), "the first refusal drops it");
        let new = t.bearer().unwrap();
        // Other pushes that carried the old token are refused too, a moment later.
        for _ in 0..5 {
            assert!(!t.refused(old.generation));
        }
        assert_eq!(t.bearer().unwrap(), new, "re-signed once");
    }

    #[test]
    fn token_age_is_monotonic_across_wall_clock_steps() {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let t = ProviderToken::new(&pem(), "K", "T", 40, clock.clone()).unwrap();
        let first = t.bearer().unwrap();
        // NTP steps the clock back a few seconds: the token is not made new again.
        clock.set_millis(1_800_000_000_000 - 5_000);
        assert_eq!(t.bearer().unwrap(), first);
        // Or forward by an hour: no time passed, the token is not due.
        clock.set_millis(1_800_000_000_000 + 3_600_000);
        assert_eq!(t.bearer().unwrap(), first);
        clock.advance_seconds(40 * 60);
        assert_ne!(
            t.bearer().unwrap(),
            first,
            "due after 40 minutes that passed"
        );
    }

    #[test]
    fn a_refused_update_goes_back_to_the_accepted_token_or_asks_for_a_fresh_connection() {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let t = ProviderToken::new(&pem(), "K", "T", 40, clock.clone()).unwrap();
        let a = t.bearer().unwrap();
        t.accepted(a.generation);
        // The relay signed a new token early (say, it was told to): APNs refuses the update.
        t.lock().current = None;
        let b = t.bearer().unwrap();
        assert_ne!(a, b);
        assert_eq!(t.update_refused(b.generation), UpdateRefused::WentBack);
        assert_eq!(t.bearer().unwrap(), a, "the accepted token is in use again");

        // A token APNs called expired is never gone back to.
        assert!(t.refused(a.generation));
        let c = t.bearer().unwrap();
        assert_eq!(
            t.update_refused(c.generation),
            UpdateRefused::FreshConnection
        );
        assert_eq!(t.bearer().unwrap(), c, "kept, for a fresh connection");

        // Nor is one past Apple's hour.
        t.accepted(c.generation);
        clock.advance_seconds(59 * 60);
        let d = t.bearer().unwrap();
        assert_eq!(
            t.update_refused(d.generation),
            UpdateRefused::FreshConnection
        );
    }

    #[test]
    fn maps_apples_reasons() {
        use crate::provider::Outcome::*;
        let cases = [
            (400, "BadDeviceToken", Unregistered),
            (410, "Unregistered", Unregistered),
            (410, "ExpiredToken", Unregistered),
            (400, "BadCollapseId", Rejected),
            (400, "DeviceTokenNotForTopic", Rejected),
            (413, "PayloadTooLarge", Rejected),
            (403, "BadCertificate", Failed),
            (404, "BadPath", Failed),
        ];
        for (s, r, o) in cases {
            assert_eq!(map_error(s, r.into(), None).outcome(), o, "{s} {r}");
        }
        assert!(matches!(
            map_error(403, "ExpiredProviderToken".into(), None),
            ProviderError::Credential(_)
        ));
        assert!(matches!(
            map_error(403, "InvalidProviderToken".into(), None),
            ProviderError::Credential(_)
        ));
        for s in [429, 500, 503] {
            assert!(matches!(
                map_error(s, "x".into(), None),
                ProviderError::Transient { .. }
            ));
        }
    }

    #[test]
    fn payload_is_what_serde_json_prints_for_the_same_object() {
        for challenge in ["eyJhbGciOi.x_y-z", "needs \"escaping\" \\ \u{1}"] {
            let push = Push {
                platform: crate::request::Platform::Apns,
                device_token: "00".repeat(32),
                payload: challenge.into(),
                expires_at: 1,
                collapse_id: None,
            };
            let expected = serde_json::to_vec(&serde_json::json!({
                "aps": {
                    "alert": {"title-loc-key": "ASSENT_CHALLENGE_TITLE", "loc-key": "ASSENT_CHALLENGE_BODY"},
                    "mutable-content": 1,
                    "category": CATEGORY,
                    "sound": "default",
                },
                PAYLOAD_KEY: push.payload,
            }))
            .unwrap();
            assert_eq!(
                String::from_utf8(payload(&push)).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }

    #[test]
    fn payload_has_mutable_content_category_and_the_opaque_challenge() {
        let push = Push {
            platform: crate::request::Platform::Apns,
            device_token: "00".repeat(32),
            payload: "A".repeat(crate::request::MAX_PAYLOAD_CHARS),
            expires_at: 1,
            collapse_id: None,
        };
        let body = payload(&push);
        assert!(body.len() <= MAX_APNS_PAYLOAD, "{}", body.len());
        assert_eq!(body.len(), body.capacity(), "no slack kept while in flight");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["aps"]["mutable-content"], 1);
        assert_eq!(v["aps"]["category"], CATEGORY);
        assert_eq!(v[PAYLOAD_KEY], push.payload);
    }

    #[test]
    fn apns_ids_are_distinct_v4_shaped_uuids() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_apns_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            let groups: Vec<usize> = id.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
            assert_eq!(&id[14..15], "4", "version 4: {id}");
            assert!(
                matches!(&id[19..20], "8" | "9" | "A" | "B"),
                "variant: {id}"
            );
            assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn a_push_in_flight_does_not_carry_the_connect_future() {
        // Every push in flight holds its attempt future; the TCP + TLS + HTTP/2 handshake future
        // (about 5 KB) is boxed so that it is paid only when a connection opens.
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let apns = Apns {
            token: ProviderToken::new(&pem(), "K", "T", 40, clock).unwrap(),
            topic: HeaderValue::from_static("org.assent.app"),
            upstream: Upstream::new(
                "localhost:1",
                crate::upstream::tls_config(None).unwrap(),
                1,
                Duration::from_secs(1),
            )
            .unwrap(),
        };
        let push = Push {
            platform: crate::request::Platform::Apns,
            device_token: "00".repeat(32),
            payload: "A".into(),
            expires_at: 1,
            collapse_id: None,
        };
        let attempt = apns.attempt(&push);
        let size = std::mem::size_of_val(&*attempt);
        assert!(size <= 1536, "{size} bytes");
    }
}
