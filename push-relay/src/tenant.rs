//! Tenants (portals): API-key authentication, request signatures (refused when replayed to the
//! same copy; to any copy of a fleet, see [`crate::fleet`]), per-tenant rate limits and per-tenant shares of the pushes in flight.
//!
//! Keys are stored as SHA-256 hashes. A key is random and long, so a fast hash suffices (a
//! password hash such as argon2 would cost milliseconds per request for no gain); the hash of
//! the presented key is compared with every tenant's in constant time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use prometheus_client::metrics::counter::Counter;

use subtle::ConstantTimeEq;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::clock::Clock;
use crate::replay::{ReplayError, SeenSignatures, SignatureDigest};
use crate::request::Platform;
use crate::settings::TenantSettings;
use crate::signature::{RequestKey, SignatureError, VerifiedSignature};

/// A portal allowed to send pushes.
#[derive(Debug)]
pub struct Tenant {
    /// Its configured id.
    pub id: String,
    key_hash: [u8; 32],
    /// Name of its `[[apns]]` credential.
    pub apns: Option<String>,
    /// Name of its `[[fcm]]` credential.
    pub fcm: Option<String>,
    /// Whether it may push to direct streams.
    pub direct: bool,
    request_key: Option<RequestKey>,
    bucket: Mutex<TokenBucket>,
    /// Its share of the relay's pushes in flight, shared by entries with the same id (a key
    /// being rotated).
    in_flight: Arc<Semaphore>,
    /// Its `requests` counters by platform, looked up once (see [`Tenant::count_request`]).
    requests: [OnceLock<Counter>; 3],
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up. Small enough to own (the
/// `governor` crate would add quanta, dashmap and more to the build for one `Mutex<f64>`), and
/// driven by an injected clock so tests need no sleeping.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last_millis: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: u32, now_millis: u64) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            tokens: burst,
            last_millis: now_millis,
        }
    }

    /// Takes one token, or says how many milliseconds until one is available.
    pub fn take(&mut self, now_millis: u64) -> Result<(), u64> {
        let elapsed = now_millis.saturating_sub(self.last_millis) as f64 / 1000.0;
        self.last_millis = self.last_millis.max(now_millis);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - self.tokens) / self.rate) * 1000.0).ceil() as u64)
        }
    }
}

impl Tenant {
    /// Counts a request accepted for delivery to `platform`.
    pub fn count_request(&self, metrics: &crate::metrics::Metrics, platform: Platform) {
        let i = match platform {
            Platform::Apns => 0,
            Platform::Fcm => 1,
            Platform::Direct => 2,
        };
        self.requests[i]
            .get_or_init(|| metrics.requests_counter(&self.id, platform.as_str()))
            .inc();
    }

    /// Takes one of this tenant's in-flight places for as long as the permit lives, or `None`
    /// when it already has its share of the relay in flight.
    pub fn start_push(&self) -> Option<SemaphorePermit<'_>> {
        self.in_flight.try_acquire().ok()
    }

    /// Checks the optional request signature (see [`RequestKey::verify`]); tenants without a
    /// key pass (`None`). Whether the signature was seen before is
    /// [`Tenants::check_signature`]'s business.
    pub fn verify_signature(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: u64,
    ) -> Result<Option<VerifiedSignature>, SignatureError> {
        match &self.request_key {
            Some(key) => key.verify(header, body, now).map(Some),
            None => Ok(None),
        }
    }
}

/// Hex-decodes a 64-digit SHA-256. The settings refuse any other value before the relay starts
/// (settings.rs); should one get here anyway, the tenant's hash is all zeros, which no API key
/// hashes to, so it fails closed: that tenant is refused, never another let in.
fn decode_hash(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    if hex::decode_to_slice(hex, &mut out).is_err() {
        tracing::error!("an api_key_sha256 is not 64 hex digits: that tenant is refused");
        return [0u8; 32];
    }
    out
}

/// Lower-case hex SHA-256 of `data`; also how tokens appear in logs (truncated).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, data))
}

/// All tenants.
pub struct Tenants {
    tenants: Vec<Arc<Tenant>>,
    seen: SeenSignatures,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants")
            .field("count", &self.tenants.len())
            .finish()
    }
}

impl Tenants {
    /// Builds the tenants from settings (already checked); each tenant id may have
    /// `in_flight_per_tenant` pushes in flight.
    pub fn new(
        settings: &[TenantSettings],
        in_flight_per_tenant: usize,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let now = clock.unix_millis();
        let mut shares: HashMap<&str, Arc<Semaphore>> = HashMap::new();
        let tenants = settings
            .iter()
            .map(|t| {
                let in_flight = shares
                    .entry(t.id.as_str())
                    .or_insert_with(|| Arc::new(Semaphore::new(in_flight_per_tenant)))
                    .clone();
                Arc::new(Tenant {
                    id: t.id.clone(),
                    key_hash: decode_hash(&t.api_key_sha256),
                    apns: t.apns.clone(),
                    fcm: t.fcm.clone(),
                    direct: t.direct,
                    request_key: t.request_public_key.clone(),
                    bucket: Mutex::new(TokenBucket::new(t.rate_per_second, t.burst, now)),
                    in_flight,
                    requests: Default::default(),
                })
            })
            .collect();
        Self {
            tenants,
            seen: SeenSignatures::for_tenants(settings),
            clock,
        }
    }

    /// Checks `tenant`'s optional request signature ([`Tenant::verify_signature`]) and refuses
    /// one this copy already accepted within its 60 s. Returns the accepted signature's digest,
    /// for a fleet to claim it too; `None` for a tenant that does not sign.
    pub fn check_signature(
        &self,
        tenant: &Tenant,
        header: Option<&str>,
        body: &[u8],
        now: u64,
    ) -> Result<Option<SignatureDigest>, SignatureError> {
        let Some(v) = tenant.verify_signature(header, body, now)? else {
            return Ok(None);
        };
        self.seen
            .remember(&tenant.id, v.t, &v.signature, now)
            .map(Some)
            .map_err(|e| match e {
                ReplayError::Replayed => SignatureError::Replayed,
                ReplayError::Full => SignatureError::TooManySigned,
            })
    }

    /// The tenant whose key is `api_key`. Every tenant's hash is compared, in constant time.
    pub fn authenticate(&self, api_key: &[u8]) -> Option<Arc<Tenant>> {
        let digest = ring::digest::digest(&ring::digest::SHA256, api_key);
        let mut found = None;
        for t in &self.tenants {
            if bool::from(t.key_hash.ct_eq(digest.as_ref())) {
                found = Some(t.clone());
            }
        }
        found
    }

    /// Takes one token from `tenant`'s bucket, or returns milliseconds to wait.
    pub fn admit(&self, tenant: &Tenant) -> Result<(), u64> {
        let now = self.clock.unix_millis();
        tenant
            .bucket
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

    #[test]
    fn signed_requests_verify_and_refuse_tampering_staleness_and_absence() {
        let rng = ring::rand::SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap();
        let point = crate::jwt::b64url(pair.public_key().as_ref());
        let settings = vec![TenantSettings {
            id: "signed".into(),
            api_key_sha256: sha256_hex(b"k"),
            rate_per_second: 1.0,
            burst: 1,
            apns: None,
            fcm: None,
            direct: true,
            request_public_key: Some(RequestKey::parse(&point).unwrap()),
        }];
        let tenants = Tenants::new(&settings, 10, Arc::new(ManualClock::new(0)));
        let t = tenants.authenticate(b"k").unwrap();
        let body = br#"{"platform":"direct"}"#;
        let sign = |time: u64, body: &[u8]| {
            let mut m = format!("{time}.").into_bytes();
            m.extend_from_slice(body);
            let sig = pair.sign(&rng, &m).unwrap();
            format!("t={time}, sig={}", crate::jwt::b64url(sig.as_ref()))
        };
        let now = 1_800_000_000;
        let good = sign(now - 5, body);
        assert!(matches!(
            t.verify_signature(Some(&good), body, now),
            Ok(Some(VerifiedSignature { t: signed_at, .. })) if signed_at == now - 5
        ));
        // Verifying does not remember; checking does, and refuses the same signature again.
        assert!(t.verify_signature(Some(&good), body, now).is_ok());
        assert!(matches!(
            tenants.check_signature(&t, Some(&good), body, now),
            Ok(Some(_))
        ));
        assert_eq!(
            tenants.check_signature(&t, Some(&good), body, now + 30),
            Err(SignatureError::Replayed)
        );
        let fresh = sign(now - 5, body);
        assert!(matches!(
            tenants.check_signature(&t, Some(&fresh), body, now),
            Ok(Some(_))
        ));
        assert_eq!(
            t.verify_signature(None, body, now),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            t.verify_signature(Some(&sign(now, body)), b"{}", now),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            t.verify_signature(Some(&sign(now - 120, body)), body, now),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            t.verify_signature(Some("t=1"), body, now),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn entries_of_one_tenant_share_its_in_flight_places() {
        let entry = |id: &str, key: &[u8]| TenantSettings {
            id: id.into(),
            api_key_sha256: sha256_hex(key),
            rate_per_second: 1.0,
            burst: 1,
            apns: None,
            fcm: None,
            direct: true,
            request_public_key: None,
        };
        let settings = vec![
            entry("acme", b"old"),
            entry("acme", b"new"),
            entry("other", b"o"),
        ];
        let tenants = Tenants::new(&settings, 2, Arc::new(ManualClock::new(0)));
        let (old, new) = (
            tenants.authenticate(b"old").unwrap(),
            tenants.authenticate(b"new").unwrap(),
        );
        let other = tenants.authenticate(b"o").unwrap();
        let a = old.start_push().unwrap();
        let _b = new.start_push().unwrap();
        assert!(old.start_push().is_none() && new.start_push().is_none());
        assert!(other.start_push().is_some(), "another tenant is unaffected");
        drop(a);
        assert!(
            new.start_push().is_some(),
            "a finished push frees its place"
        );
    }

    #[test]
    fn bucket_allows_burst_then_the_rate() {
        let mut b = TokenBucket::new(10.0, 3, 0);
        assert!(b.take(0).is_ok());
        assert!(b.take(0).is_ok());
        assert!(b.take(0).is_ok());
        assert_eq!(b.take(0), Err(100));
        assert!(b.take(100).is_ok());
        assert!(b.take(100).is_err());
        assert!(b.take(10_000).is_ok());
    }

    #[test]
    fn authenticates_by_hash_and_rate_limits() {
        let clock = Arc::new(ManualClock::new(0));
        let settings = vec![TenantSettings {
            id: "acme".into(),
            api_key_sha256: sha256_hex(b"k1"),
            rate_per_second: 1.0,
            burst: 1,
            apns: None,
            fcm: None,
            direct: true,
            request_public_key: None,
        }];
        let tenants = Tenants::new(&settings, 10, clock.clone());
        assert!(tenants.authenticate(b"k2").is_none());
        let t = tenants.authenticate(b"k1").unwrap();
        assert_eq!(t.id, "acme");
        assert!(tenants.admit(&t).is_ok());
        assert_eq!(tenants.admit(&t), Err(1000));
        clock.advance_seconds(1);
        assert!(tenants.admit(&t).is_ok());
    }
}
