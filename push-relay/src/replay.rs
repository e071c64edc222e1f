//! Refusal of replayed signed requests. A signing tenant's request verifies for 60 s either side
//! of its time `t`; this copy of the relay remembers each signature it accepted until `t + 60`,
//! when the signature turns stale anyway, and refuses it a second time.
//!
//! This set is this copy's. Alone, or in a fleet without NATS, a request replayed to another
//! copy behind the same load balancer within those 60 s still goes through; that is the residual
//! risk. In a fleet ([`crate::fleet`]) a signature this set accepts is then claimed in the
//! fleet's shared memory by its [`SignatureDigest`], and refused if another copy claimed it
//! first; this set is still asked first, as it costs nothing. During a NATS outage only this set
//! decides.
//!
//! ECDSA signatures are malleable: if `(r, s)` verifies, so does `(r, n - s)`. The set keys on
//! the signature with `s` folded to the lower of the two, so flipping it is a replay too.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Mutex;

use crate::settings::TenantSettings;
use crate::signature::SIGNATURE_SKEW_SECONDS;

/// Most signatures remembered at once (about 100 bytes each), whatever the rate limits allow.
pub const MAX_SEEN_SIGNATURES: usize = 1_000_000;

/// The order of the P-256 group, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Why a verified signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// This copy already accepted this signature, and it has not expired.
    Replayed,
    /// The set holds [`SeenSignatures::capacity`] live signatures; refusing keeps replays out.
    Full,
}

/// What a signature is remembered by: SHA-256 of the tenant and the signature with `s` folded
/// to its low form. Not secret (a signature is public once sent), and says nothing about the
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignatureDigest([u8; 32]);

impl SignatureDigest {
    /// Lower-case hex, as the fleet's bucket keys it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// The signatures this copy accepted and that are still within their 60 s.
#[derive(Debug)]
pub struct SeenSignatures {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    keys: HashSet<[u8; 32]>,
    /// (expiry, key), soonest first.
    expiries: BinaryHeap<Reverse<(u64, [u8; 32])>>,
}

impl SeenSignatures {
    /// A set holding at most `capacity` live signatures.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// A set large enough for everything the signing tenants' rate limits let through while a
    /// signature can live (two skew windows: `t` may be up to 60 s ahead, and is kept 60 s past),
    /// capped at [`MAX_SEEN_SIGNATURES`]. Within the limits it never fills.
    pub fn for_tenants(tenants: &[TenantSettings]) -> Self {
        let window = (2 * SIGNATURE_SKEW_SECONDS + 1) as f64;
        let needed: f64 = tenants
            .iter()
            .filter(|t| t.request_public_key.is_some())
            .map(|t| f64::from(t.burst) + (t.rate_per_second * window).ceil())
            .sum();
        Self::new((needed as usize).min(MAX_SEEN_SIGNATURES))
    }

    /// How many live signatures the set can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Records `signature` (raw `r || s`) of `tenant`, made at `t`, at Unix time `now`, and
    /// returns what it is remembered by; refuses it if already recorded and not expired. Call
    /// only once it verified and is not stale.
    pub fn remember(
        &self,
        tenant: &str,
        t: u64,
        signature: &[u8; 64],
        now: u64,
    ) -> Result<SignatureDigest, ReplayError> {
        let key = key(tenant, signature);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(Reverse((expiry, old))) = inner.expiries.peek().copied()
            && expiry < now
        {
            inner.expiries.pop();
            inner.keys.remove(&old);
        }
        if inner.keys.contains(&key) {
            return Err(ReplayError::Replayed);
        }
        if inner.keys.len() >= self.capacity {
            return Err(ReplayError::Full);
        }
        inner.keys.insert(key);
        inner
            .expiries
            .push(Reverse((t.saturating_add(SIGNATURE_SKEW_SECONDS), key)));
        Ok(SignatureDigest(key))
    }

    /// Live signatures held (expired ones are dropped on the next [`Self::remember`]).
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys
            .len()
    }

    /// Whether no signature is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// SHA-256 of the tenant and the signature with `s` folded to `min(s, n - s)`.
fn key(tenant: &str, signature: &[u8; 64]) -> [u8; 32] {
    let (r, s) = signature.split_at(32);
    let mut s_low = [0u8; 32];
    s_low.copy_from_slice(s);
    let flipped = order_minus(&s_low);
    if flipped < s_low {
        s_low = flipped;
    }
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(tenant.as_bytes());
    ctx.update(&[0]);
    ctx.update(r);
    ctx.update(&s_low);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// `n - s` for the P-256 order `n` (big-endian; a verified `s` is below `n`).
fn order_minus(s: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(P256_ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn sig(fill: u8) -> [u8; 64] {
        let mut s = [fill; 64];
        s[32] = 0x10; // keep s below n
        s
    }

    #[test]
    fn a_signature_is_refused_until_it_expires_at_t_plus_60() {
        let seen = SeenSignatures::new(10);
        let t = NOW - 10;
        assert!(seen.remember("acme", t, &sig(1), NOW).is_ok());
        assert_eq!(
            seen.remember("acme", t, &sig(1), NOW + 50),
            Err(ReplayError::Replayed)
        );
        // Another tenant's identical bytes, or another signature, are not replays.
        assert!(seen.remember("other", t, &sig(1), NOW).is_ok());
        assert!(seen.remember("acme", t, &sig(2), NOW).is_ok());
        // Past t + 60 the signature is stale (refused before it gets here) and is forgotten.
        assert!(seen.remember("acme", t, &sig(3), t + 61).is_ok());
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn a_full_set_refuses_rather_than_forgetting_live_signatures() {
        let seen = SeenSignatures::new(2);
        assert!(seen.remember("a", NOW, &sig(1), NOW).is_ok());
        assert!(seen.remember("a", NOW, &sig(2), NOW).is_ok());
        assert_eq!(
            seen.remember("a", NOW, &sig(3), NOW),
            Err(ReplayError::Full)
        );
        assert!(seen.remember("a", NOW, &sig(3), NOW + 61).is_ok());
    }

    #[test]
    fn a_flipped_s_is_the_same_signature() {
        use ring::signature::{
            ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
            UnparsedPublicKey,
        };
        let rng = ring::rand::SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap();
        let msg = b"1800000000.{}";
        let mut original = [0u8; 64];
        original.copy_from_slice(pair.sign(&rng, msg).unwrap().as_ref());
        let mut flipped = original;
        let s: [u8; 32] = original[32..].try_into().unwrap();
        flipped[32..].copy_from_slice(&order_minus(&s));
        assert_ne!(flipped, original);
        // The malleability is real: the verifier accepts both.
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref());
        assert!(key.verify(msg, &original).is_ok() && key.verify(msg, &flipped).is_ok());
        let seen = SeenSignatures::new(10);
        assert!(seen.remember("acme", NOW, &original, NOW).is_ok());
        assert_eq!(
            seen.remember("acme", NOW, &flipped, NOW),
            Err(ReplayError::Replayed)
        );
    }

    #[test]
    fn sized_from_the_signing_tenants_limits() {
        let tenant = |rate: f64, burst: u32, key: bool| TenantSettings {
            id: "t".into(),
            api_key_sha256: "0".repeat(64),
            rate_per_second: rate,
            burst,
            apns: None,
            fcm: None,
            direct: true,
            request_public_key: key
                .then(|| crate::signature::RequestKey::parse(&crate::jwt::b64url(&[4u8; 65])))
                .flatten(),
        };
        let seen = SeenSignatures::for_tenants(&[
            tenant(100.0, 200, true),
            tenant(1.0, 5, false),
            tenant(0.5, 1, true),
        ]);
        assert_eq!(seen.capacity(), 200 + 12_100 + 1 + 61);
        let huge = SeenSignatures::for_tenants(&[tenant(1e9, 1, true)]);
        assert_eq!(huge.capacity(), MAX_SEEN_SIGNATURES);
    }
}
