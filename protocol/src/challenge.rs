//! The push challenge: portal → relay → device. A JWS signed by the portal key whose payload
//! carries the routing fields in the clear (`id`, `device`, `iat`, `exp`) and everything about
//! the login sealed with HPKE to the device's encryption key (`enc`). The relay carries the JWS
//! string opaquely as the push payload; the device accepts it only under the portal key it
//! pinned at enrollment.

use serde::{Deserialize, Serialize};

use crate::encryption::{self, EncryptionKey};
use crate::jwk::PublicJwk;
use crate::jws::{self, Header, JwsError, TYP_CHALLENGE};
use crate::signer::Signer;
use crate::{CHALLENGE_LIFETIME, CLOCK_SKEW, VERSION, b64, is_display_text, not_from_future};

/// Largest challenge JWS, in bytes: it must fit a 4 KB APNs payload with room to spare.
pub const MAX_CHALLENGE_LEN: usize = 3000;
/// HPKE `info` for challenges.
pub const HPKE_INFO: &[u8] = b"assent/v1/challenge";
/// Longest `context.user`, `context.application`, `context.location`, `context.browser`.
pub const MAX_CONTEXT_LEN: usize = 64;
/// Longest `context.ip` (the longest textual IPv6 address).
pub const MAX_IP_LEN: usize = 45;
/// Longest `context.os`.
pub const MAX_OS_LEN: usize = 32;
/// Allowed `number_matching.digits`.
pub const NUMBER_DIGITS: std::ops::RangeInclusive<u8> = 2..=3;

/// Why a challenge could not be built or was refused by the device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// Over [`MAX_CHALLENGE_LEN`] (refused before parsing; or the content was too big to build).
    #[error("challenge too large")]
    TooLarge,
    /// Not a well-formed challenge JWS or payload.
    #[error("malformed challenge: {0}")]
    Malformed(JwsError),
    /// `kid` is not the pinned portal key's id: signed by another key, so not trusted.
    #[error("signed by a key other than the pinned portal key")]
    UnknownPortalKey,
    /// The signature does not verify with the pinned portal key.
    #[error("bad signature")]
    BadSignature,
    /// `v` is not a version this device speaks.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u32),
    /// The challenge is addressed to another device.
    #[error("challenge for another device")]
    WrongDevice,
    /// `iat` is more than the clock skew allowance in the future.
    #[error("issued in the future ({iat}, now {now})")]
    IssuedInFuture {
        /// The challenge's `iat`.
        iat: u64,
        /// The device's clock.
        now: u64,
    },
    /// More than the clock skew allowance past `exp`.
    #[error("expired at {exp} (now {now})")]
    Expired {
        /// The challenge's `exp`.
        exp: u64,
        /// The device's clock.
        now: u64,
    },
    /// The encrypted part does not open with this device's key: altered, sealed to another
    /// key, or bound to other routing fields.
    #[error("the encrypted part does not open")]
    Undecryptable,
    /// The encrypted `id`, `iat` or `exp` differ from the signed ones.
    #[error("encrypted fields differ from the signed ones")]
    Mismatch,
    /// A field breaks the protocol's rules (named).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// The portal's signer refused (when building).
    #[error(transparent)]
    Signer(#[from] crate::signer::SignerError),
}

impl From<JwsError> for ChallengeError {
    fn from(error: JwsError) -> Self {
        match error {
            JwsError::TooLarge { .. } => Self::TooLarge,
            JwsError::BadSignature => Self::BadSignature,
            JwsError::Signer(e) => Self::Signer(e),
            other => Self::Malformed(other),
        }
    }
}

/// Why the portal asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Sign-in after a correct password.
    Login,
    /// Re-confirmation inside a session; a deny ends the session.
    StepUp,
    /// Approval of a password reset.
    PasswordReset,
    /// Proof that a newly registered device holds its encryption key; answered automatically.
    Activate,
}

/// What the device shows the user about the request. Every member is display text: at most
/// [`MAX_CONTEXT_LEN`] bytes ([`MAX_IP_LEN`] for `ip`, [`MAX_OS_LEN`] for `os`), no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginContext {
    /// The account signing in.
    pub user: String,
    /// The application asking.
    pub application: String,
    /// The client's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Rough location from the IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Browser name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// Operating system name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
}

impl LoginContext {
    fn check(&self) -> Result<(), ChallengeError> {
        let fields: [(&'static str, Option<&String>, usize); 6] = [
            ("context.user", Some(&self.user), MAX_CONTEXT_LEN),
            (
                "context.application",
                Some(&self.application),
                MAX_CONTEXT_LEN,
            ),
            ("context.ip", self.ip.as_ref(), MAX_IP_LEN),
            ("context.location", self.location.as_ref(), MAX_CONTEXT_LEN),
            ("context.browser", self.browser.as_ref(), MAX_CONTEXT_LEN),
            ("context.os", self.os.as_ref(), MAX_OS_LEN),
        ];
        for (name, value, max) in fields {
            if let Some(value) = value
                && !is_display_text(value, max)
            {
                return Err(ChallengeError::Invalid(name));
            }
        }
        Ok(())
    }
}

/// Typed number matching: the login page shows a number of `digits` digits, the user types it
/// on the device. The number itself never reaches the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberMatching {
    /// How many digits the user types.
    pub digits: u8,
}

impl NumberMatching {
    /// A uniformly random number of `self.digits` digits, leading zeros kept (e.g. `"07"`), for
    /// the portal to show on the login page.
    pub fn generate(&self, rng: &mut impl rand_core::CryptoRng) -> String {
        let digits = u32::from(
            self.digits
                .clamp(*NUMBER_DIGITS.start(), *NUMBER_DIGITS.end()),
        );
        let modulus = 10u32.pow(digits);
        let limit = u32::MAX - u32::MAX % modulus;
        loop {
            let value = rng.next_u32();
            if value < limit {
                return format!("{:0width$}", value % modulus, width = digits as usize);
            }
        }
    }
}

/// Whether the device must ask for Face ID, a fingerprint or the passcode before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserVerification {
    /// An approve without user verification is refused by the portal.
    Required,
    /// Ask when the device can.
    Preferred,
    /// Do not ask.
    Discouraged,
}

/// Everything the portal says about a request, sealed to the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeContent {
    /// Why the portal asks.
    pub purpose: Purpose,
    /// What to show.
    pub context: LoginContext,
    /// Typed number matching, when the portal uses it.
    pub number_matching: Option<NumberMatching>,
    /// The user verification policy.
    pub user_verification: UserVerification,
}

/// The signed payload, members in wire order.
#[derive(Serialize, Deserialize)]
struct Outer {
    v: u32,
    id: String,
    device: String,
    iat: u64,
    exp: u64,
    enc: String,
}

/// The HPKE plaintext, members in wire order.
#[derive(Serialize, Deserialize)]
struct Inner {
    id: String,
    purpose: Purpose,
    iat: u64,
    exp: u64,
    context: LoginContext,
    number_matching: Option<NumberMatching>,
    user_verification: UserVerification,
}

/// The HPKE aad: ASCII `id.device.iat.exp`, binding the ciphertext to the signed routing
/// fields so it cannot be moved under another id, device or time.
pub fn hpke_aad(id: &str, device: &str, iat: u64, exp: u64) -> String {
    format!("{id}.{device}.{iat}.{exp}")
}

/// base64url(SHA-256(challenge JWS string)): how an answer names the exact challenge.
pub fn challenge_hash(jws: &str) -> String {
    use sha2::Digest as _;
    b64::encode(sha2::Sha256::digest(jws.as_bytes()))
}

/// A challenge the portal built, with what it stores to check the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltChallenge {
    /// The challenge id.
    pub id: String,
    /// Issued at (unix seconds).
    pub iat: u64,
    /// Expires at: `iat + 60`.
    pub exp: u64,
    /// The compact JWS: the push payload and an element of the pending list.
    pub jws: String,
}

impl BuiltChallenge {
    /// [`challenge_hash`] of the JWS.
    pub fn hash(&self) -> String {
        challenge_hash(&self.jws)
    }
}

/// The portal side: builds a challenge for `device_id`, sealed to its encryption key, with a
/// random id (from `rng`) and a random ephemeral key (from the operating system, through
/// *ring*'s key agreement, which makes sealing several times cheaper than
/// [`build_challenge_with`]'s derivation; the result is the same HPKE).
pub fn build_challenge(
    portal: &dyn Signer,
    device_id: &str,
    device_encryption_key: &PublicJwk,
    content: &ChallengeContent,
    now: u64,
    rng: &mut impl rand_core::CryptoRng,
) -> Result<BuiltChallenge, ChallengeError> {
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    check_content(content)?;
    seal_challenge(
        portal,
        device_id,
        device_encryption_key,
        content,
        now,
        id,
        Ephemeral::Fresh,
    )
}

/// Where a challenge's HPKE ephemeral key comes from.
#[derive(Clone, Copy)]
enum Ephemeral<'a> {
    /// RFC 9180's DeriveKeyPair of this ikm: reproducible.
    Derived(&'a [u8; 32]),
    /// Random, from the operating system.
    Fresh,
}

/// The rules a challenge's content must follow before it is sealed.
fn check_content(content: &ChallengeContent) -> Result<(), ChallengeError> {
    content.context.check()?;
    if let Some(n) = content.number_matching
        && !NUMBER_DIGITS.contains(&n.digits)
    {
        return Err(ChallengeError::Invalid("number_matching.digits"));
    }
    Ok(())
}

/// [`build_challenge`] with the id and the HPKE ephemeral ikm given: for reproducible examples.
/// Never reuse an `ephemeral_ikm`.
pub fn build_challenge_with(
    portal: &dyn Signer,
    device_id: &str,
    device_encryption_key: &PublicJwk,
    content: &ChallengeContent,
    now: u64,
    id: [u8; 16],
    ephemeral_ikm: &[u8; 32],
) -> Result<BuiltChallenge, ChallengeError> {
    check_content(content)?;
    seal_challenge(
        portal,
        device_id,
        device_encryption_key,
        content,
        now,
        id,
        Ephemeral::Derived(ephemeral_ikm),
    )
}

/// Encrypts, signs and encodes a challenge whose content was checked (tests also seal content
/// that breaks the rules, to check that devices refuse it).
fn seal_challenge(
    portal: &dyn Signer,
    device_id: &str,
    device_encryption_key: &PublicJwk,
    content: &ChallengeContent,
    now: u64,
    id: [u8; 16],
    ephemeral: Ephemeral<'_>,
) -> Result<BuiltChallenge, ChallengeError> {
    let id = b64::encode(id);
    let iat = now;
    let exp = now + CHALLENGE_LIFETIME;
    let inner = Inner {
        id: id.clone(),
        purpose: content.purpose,
        iat,
        exp,
        context: content.context.clone(),
        number_matching: content.number_matching,
        user_verification: content.user_verification,
    };
    let plaintext = zeroize::Zeroizing::new(
        serde_json::to_vec(&inner).map_err(|e| JwsError::Payload(e.to_string()))?,
    );
    let aad = hpke_aad(&id, device_id, iat, exp);
    let sealed = match ephemeral {
        Ephemeral::Derived(ikm) => encryption::seal(
            device_encryption_key,
            HPKE_INFO,
            aad.as_bytes(),
            &plaintext,
            ikm,
        ),
        Ephemeral::Fresh => {
            encryption::seal_fresh(device_encryption_key, HPKE_INFO, aad.as_bytes(), &plaintext)
        }
    }
    .ok_or(ChallengeError::Invalid("device encryption key"))?;
    let outer = Outer {
        v: VERSION,
        id: id.clone(),
        device: device_id.to_owned(),
        iat,
        exp,
        enc: b64::encode(sealed),
    };
    let header = Header::with_kid(TYP_CHALLENGE, &portal.public_key().thumbprint());
    let jws = jws::sign(&header, &outer, portal)?;
    if jws.len() > MAX_CHALLENGE_LEN {
        return Err(ChallengeError::TooLarge);
    }
    Ok(BuiltChallenge { id, iat, exp, jws })
}

/// A challenge the device verified and opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The challenge id.
    pub id: String,
    /// This device's id.
    pub device_id: String,
    /// Issued at (portal clock).
    pub iat: u64,
    /// Expires at (portal clock); the portal refuses answers after it.
    pub exp: u64,
    /// What the portal asks and shows.
    pub content: ChallengeContent,
    /// The exact JWS, which the answer names by hash.
    pub jws: String,
}

impl Challenge {
    /// [`challenge_hash`] of the JWS.
    pub fn hash(&self) -> String {
        challenge_hash(&self.jws)
    }
}

/// The device side: verifies a challenge with the pinned portal key, checks that it is for
/// this device and current, opens it and checks the sealed fields.
///
/// Time rule: refused when `iat > now + 30` or `now > exp + 30` (30 s = [`CLOCK_SKEW`]). The
/// grace after `exp` only lets a device with a slow clock show the request; the portal refuses
/// answers after `exp` by its own clock.
pub fn open_challenge(
    jws: &str,
    pinned_portal_key: &PublicJwk,
    device_key: &EncryptionKey,
    device_id: &str,
    now: u64,
) -> Result<Challenge, ChallengeError> {
    let unverified = jws::parse(jws, MAX_CHALLENGE_LEN, TYP_CHALLENGE)?;
    if unverified.header.kid.as_deref() != Some(pinned_portal_key.thumbprint().as_str()) {
        return Err(ChallengeError::UnknownPortalKey);
    }
    let verified = unverified.verify(pinned_portal_key)?;
    let outer: Outer = verified.payload()?;
    if outer.v != VERSION {
        return Err(ChallengeError::UnsupportedVersion(outer.v));
    }
    if outer.device != device_id {
        return Err(ChallengeError::WrongDevice);
    }
    if outer.exp != outer.iat.saturating_add(CHALLENGE_LIFETIME) {
        return Err(ChallengeError::Invalid("exp"));
    }
    if !not_from_future(outer.iat, now) {
        return Err(ChallengeError::IssuedInFuture {
            iat: outer.iat,
            now,
        });
    }
    if now > outer.exp.saturating_add(CLOCK_SKEW) {
        return Err(ChallengeError::Expired {
            exp: outer.exp,
            now,
        });
    }
    if b64::decode_array::<16>(&outer.id).is_none() {
        return Err(ChallengeError::Invalid("id"));
    }
    let sealed = b64::decode(&outer.enc).ok_or(ChallengeError::Invalid("enc"))?;
    let aad = hpke_aad(&outer.id, &outer.device, outer.iat, outer.exp);
    let plaintext = device_key
        .open(HPKE_INFO, aad.as_bytes(), &sealed)
        .ok_or(ChallengeError::Undecryptable)?;
    let inner: Inner =
        serde_json::from_slice(&plaintext).map_err(|_| ChallengeError::Invalid("plaintext"))?;
    if inner.id != outer.id || inner.iat != outer.iat || inner.exp != outer.exp {
        return Err(ChallengeError::Mismatch);
    }
    inner.context.check()?;
    if let Some(n) = inner.number_matching
        && !NUMBER_DIGITS.contains(&n.digits)
    {
        return Err(ChallengeError::Invalid("number_matching.digits"));
    }
    Ok(Challenge {
        id: outer.id,
        device_id: outer.device,
        iat: outer.iat,
        exp: outer.exp,
        content: ChallengeContent {
            purpose: inner.purpose,
            context: inner.context,
            number_matching: inner.number_matching,
            user_verification: inner.user_verification,
        },
        jws: jws.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::SoftwareSigner;

    const NOW: u64 = 1_800_000_000;

    fn portal() -> SoftwareSigner {
        SoftwareSigner::from_bytes(&[9; 32]).unwrap()
    }

    fn device_key() -> EncryptionKey {
        EncryptionKey::derive(&[2; 32])
    }

    fn device_id() -> String {
        SoftwareSigner::from_bytes(&[1; 32])
            .unwrap()
            .public_key()
            .thumbprint()
    }

    fn content() -> ChallengeContent {
        ChallengeContent {
            purpose: Purpose::Login,
            context: LoginContext {
                user: "alice".into(),
                application: "Payroll".into(),
                ip: Some("203.0.113.7".into()),
                location: Some("Lyon, FR".into()),
                browser: Some("Firefox 140".into()),
                os: Some("Linux".into()),
            },
            number_matching: Some(NumberMatching { digits: 2 }),
            user_verification: UserVerification::Required,
        }
    }

    fn build(content: &ChallengeContent) -> Result<BuiltChallenge, ChallengeError> {
        build_challenge_with(
            &portal(),
            &device_id(),
            device_key().public_key(),
            content,
            NOW,
            [7; 16],
            &[8; 32],
        )
    }

    fn open(jws: &str, now: u64) -> Result<Challenge, ChallengeError> {
        open_challenge(
            jws,
            &portal().public_key(),
            &device_key(),
            &device_id(),
            now,
        )
    }

    #[test]
    fn round_trips() {
        let built = build(&content()).unwrap();
        let challenge = open(&built.jws, NOW).unwrap();
        assert_eq!(challenge.content, content());
        assert_eq!(challenge.id, built.id);
        assert_eq!(challenge.exp, NOW + 60);
        assert_eq!(challenge.hash(), built.hash());
        assert_eq!(
            built,
            build(&content()).unwrap(),
            "deterministic with fixed inputs"
        );
        let mut rng = crate::system_rng();
        let random = build_challenge(
            &portal(),
            &device_id(),
            device_key().public_key(),
            &content(),
            NOW,
            &mut rng,
        )
        .unwrap();
        assert_ne!(random.id, built.id);
        // Sealed with a random ephemeral key through ring, opened by the device's HPKE.
        assert_eq!(open(&random.jws, NOW).unwrap().content, content());
    }

    #[test]
    fn time_window() {
        let jws = build(&content()).unwrap().jws;
        assert!(open(&jws, NOW - CLOCK_SKEW).is_ok());
        assert_eq!(
            open(&jws, NOW - CLOCK_SKEW - 1),
            Err(ChallengeError::IssuedInFuture {
                iat: NOW,
                now: NOW - 31
            })
        );
        assert!(open(&jws, NOW + 60 + CLOCK_SKEW).is_ok());
        assert_eq!(
            open(&jws, NOW + 91),
            Err(ChallengeError::Expired {
                exp: NOW + 60,
                now: NOW + 91
            })
        );
    }

    #[test]
    fn worst_case_content_fits() {
        let long = |n: usize| "\"\\".repeat(n / 2);
        let mut c = content();
        c.context = LoginContext {
            user: long(64),
            application: long(64),
            ip: Some("f".repeat(45)),
            location: Some("é".repeat(32)),
            browser: Some(long(64)),
            os: Some(long(32)),
        };
        let jws = build(&c).unwrap().jws;
        assert!(jws.len() <= MAX_CHALLENGE_LEN, "{}", jws.len());
        assert_eq!(open(&jws, NOW).unwrap().content, c);
    }

    #[test]
    fn checks_context_and_digits() {
        let mut c = content();
        c.context.user = "x".repeat(65);
        assert_eq!(build(&c), Err(ChallengeError::Invalid("context.user")));
        let mut c = content();
        c.context.os = Some("a\u{7}".into());
        assert_eq!(build(&c), Err(ChallengeError::Invalid("context.os")));
        // Bidirectional controls and separators (§2.5), refused by the sender...
        for (hostile, field) in [
            ("Payroll\u{202E}lanigiro", "context.application"),
            ("Lyon\u{2028}Approve now", "context.location"),
            ("alice\u{2066}", "context.user"),
            ("Firefox\u{200F}", "context.browser"),
            ("Linux\u{85}", "context.os"),
        ] {
            let mut c = content();
            match field {
                "context.application" => c.context.application = hostile.into(),
                "context.location" => c.context.location = Some(hostile.into()),
                "context.user" => c.context.user = hostile.into(),
                "context.browser" => c.context.browser = Some(hostile.into()),
                _ => c.context.os = Some(hostile.into()),
            }
            assert_eq!(
                build(&c),
                Err(ChallengeError::Invalid(field)),
                "{hostile:?}"
            );
            // ... and by the device, when a sender did not check.
            let sealed = seal_challenge(
                &portal(),
                &device_id(),
                device_key().public_key(),
                &c,
                NOW,
                [1; 16],
                Ephemeral::Derived(&[2; 32]),
            )
            .unwrap();
            assert_eq!(
                open(&sealed.jws, NOW),
                Err(ChallengeError::Invalid(field)),
                "{hostile:?}"
            );
        }
        // Right-to-left scripts and emoji are display text.
        let mut c = content();
        c.context.application = "تطبيق الرواتب 💼".into();
        assert!(build(&c).is_ok());
        let mut c = content();
        c.context.application = String::new();
        assert_eq!(
            build(&c),
            Err(ChallengeError::Invalid("context.application"))
        );
        let mut c = content();
        c.number_matching = Some(NumberMatching { digits: 6 });
        assert_eq!(
            build(&c),
            Err(ChallengeError::Invalid("number_matching.digits"))
        );
    }

    #[test]
    fn wire_form() {
        let mut c = content();
        c.number_matching = None;
        c.context.ip = None;
        let jws = build(&c).unwrap().jws;
        let parts: Vec<&str> = jws.split('.').collect();
        let header = String::from_utf8(b64::decode(parts[0]).unwrap()).unwrap();
        assert_eq!(
            header,
            format!(
                r#"{{"alg":"ES256","typ":"assent-challenge+jws","kid":"{}"}}"#,
                portal().public_key().thumbprint()
            )
        );
        let outer: serde_json::Value =
            serde_json::from_slice(&b64::decode(parts[1]).unwrap()).unwrap();
        let keys: Vec<&String> = outer.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 6);
        let sealed = b64::decode(outer["enc"].as_str().unwrap()).unwrap();
        let aad = hpke_aad(outer["id"].as_str().unwrap(), &device_id(), NOW, NOW + 60);
        let plain = device_key()
            .open(HPKE_INFO, aad.as_bytes(), &sealed)
            .unwrap();
        let inner: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(inner["number_matching"], serde_json::Value::Null);
        assert!(inner["context"].get("ip").is_none());
    }

    /// A portal bug (or a signed-but-confused portal) sealing one challenge's fields under
    /// another's routing: the sealed id/iat/exp must equal the signed ones.
    #[test]
    fn sealed_fields_must_match_the_signed_ones() {
        let outer_id = b64::encode([7u8; 16]);
        let (iat, exp) = (NOW, NOW + 60);
        let inner = Inner {
            id: b64::encode([6u8; 16]),
            purpose: Purpose::Login,
            iat,
            exp,
            context: content().context,
            number_matching: None,
            user_verification: UserVerification::Preferred,
        };
        let aad = hpke_aad(&outer_id, &device_id(), iat, exp);
        let plaintext = serde_json::to_vec(&inner).unwrap();
        let sealed = encryption::seal(
            device_key().public_key(),
            HPKE_INFO,
            aad.as_bytes(),
            &plaintext,
            &[8; 32],
        )
        .unwrap();
        let outer = Outer {
            v: 1,
            id: outer_id,
            device: device_id(),
            iat,
            exp,
            enc: b64::encode(sealed),
        };
        let header = Header::with_kid(TYP_CHALLENGE, &portal().public_key().thumbprint());
        let jws = jws::sign(&header, &outer, &portal()).unwrap();
        assert_eq!(open(&jws, NOW), Err(ChallengeError::Mismatch));

        let garbage = encryption::seal(
            device_key().public_key(),
            HPKE_INFO,
            aad.as_bytes(),
            b"not json",
            &[8; 32],
        )
        .unwrap();
        let outer = Outer {
            enc: b64::encode(garbage),
            ..outer
        };
        let jws = jws::sign(&header, &outer, &portal()).unwrap();
        assert_eq!(open(&jws, NOW), Err(ChallengeError::Invalid("plaintext")));
    }

    #[test]
    fn refuses_other_versions() {
        let built = build(&content()).unwrap();
        let part = built.jws.split('.').nth(1).unwrap();
        let mut outer: serde_json::Value =
            serde_json::from_slice(&b64::decode(part).unwrap()).unwrap();
        outer["v"] = 2.into();
        let header = Header::with_kid(TYP_CHALLENGE, &portal().public_key().thumbprint());
        let jws = jws::sign(&header, &outer, &portal()).unwrap();
        assert_eq!(open(&jws, NOW), Err(ChallengeError::UnsupportedVersion(2)));
    }

    #[test]
    fn numbers_are_uniform_digits() {
        let mut rng = crate::system_rng();
        let n = NumberMatching { digits: 2 };
        for _ in 0..200 {
            let number = n.generate(&mut rng);
            assert_eq!(number.len(), 2);
            assert!(number.bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(NumberMatching { digits: 3 }.generate(&mut rng).len(), 3);
    }
}
