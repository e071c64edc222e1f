//! Registration: the device's first message to the portal, `POST {url}/assent/v1/register`.
//! A JWS whose header carries the device's signing key (`jwk`) and whose payload carries the
//! enrollment token, both device public keys and how to reach the device by push. The signature
//! proves possession of the signing key; the activation challenge that follows proves the
//! encryption key.

use serde::{Deserialize, Serialize};

use crate::enrollment::PushEnrollment;
use crate::jwk::PublicJwk;
use crate::jws::{self, Header, JwsError, TYP_REGISTER};
use crate::signer::Signer;
use crate::{VERSION, is_display_text, not_from_future, within_skew};

/// Largest registration accepted, in bytes.
pub const MAX_REGISTRATION_LEN: usize = 8192;
/// Longest device name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Longest push token, in bytes (APNs tokens are 64–200 hex digits, FCM tokens about 160).
pub const MAX_PUSH_TOKEN_LEN: usize = 4096;
/// Longest APNs topic (bundle id), in bytes.
pub const MAX_TOPIC_LEN: usize = 255;

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// Longer than [`MAX_REGISTRATION_LEN`].
    #[error("registration too large")]
    TooLarge,
    /// Not a well-formed registration JWS or payload.
    #[error("malformed registration: {0}")]
    Malformed(JwsError),
    /// The signature does not verify with the key in the header.
    #[error("bad signature")]
    BadSignature,
    /// `v` is not a version this portal speaks.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u32),
    /// The header has no `jwk`, or it differs from the payload's `signing_key`.
    #[error("the header key is not the payload's signing key")]
    KeyMismatch,
    /// The signing and encryption keys are the same key; the protocol needs two.
    #[error("the signing and encryption keys must differ")]
    SameKey,
    /// `portal_key` is not this portal's key id: the device pinned another portal's key.
    #[error("the device pinned another portal key")]
    WrongPortalKey,
    /// `iat` is further than the clock skew allowance from now.
    #[error("iat {iat} is too far from now ({now})")]
    ClockSkew {
        /// The message's `iat`.
        iat: u64,
        /// The verifier's clock.
        now: u64,
    },
    /// A field has a value outside the protocol's rules (named).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// The portal does not know the enrollment token.
    #[error("unknown enrollment token")]
    UnknownToken,
    /// The enrollment token was already used.
    #[error("enrollment token already used")]
    TokenUsed,
    /// The enrollment token expired (the portal's clock, no grace).
    #[error("enrollment token expired")]
    TokenExpired,
    /// The device's signer refused (when building).
    #[error(transparent)]
    Signer(#[from] crate::signer::SignerError),
}

impl From<JwsError> for RegistrationError {
    fn from(error: JwsError) -> Self {
        match error {
            JwsError::TooLarge { .. } => Self::TooLarge,
            JwsError::BadSignature => Self::BadSignature,
            JwsError::Signer(e) => Self::Signer(e),
            other => Self::Malformed(other),
        }
    }
}

/// What kind of device this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// An iPhone or iPad.
    Ios,
    /// An Android phone.
    Android,
    /// The `assent` CLI or another desktop app.
    Desktop,
}

/// How the relay reaches the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Apple Push Notification service.
    Apns,
    /// Firebase Cloud Messaging.
    Fcm,
    /// A stream the device keeps open to the relay (desktop).
    Direct,
}

/// Which APNs gateway issued the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApnsEnvironment {
    /// `api.push.apple.com`.
    Production,
    /// `api.sandbox.push.apple.com` (development builds).
    Sandbox,
}

/// The device's push address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushConfig {
    /// The push service.
    pub transport: Transport,
    /// The APNs device token, FCM registration token or direct-stream id.
    pub token: String,
    /// APNs only, required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<ApnsEnvironment>,
    /// APNs only, optional: the app's bundle id when the relay serves several apps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

impl PushConfig {
    /// Checks the rules of the push object; `Err` names the offending field.
    pub fn check(&self) -> Result<(), &'static str> {
        let printable = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
        };
        if !printable(&self.token, MAX_PUSH_TOKEN_LEN) {
            return Err("push.token");
        }
        let apns = self.transport == Transport::Apns;
        if apns != self.environment.is_some() {
            return Err("push.environment");
        }
        match &self.topic {
            Some(topic) if !apns || !printable(topic, MAX_TOPIC_LEN) => Err("push.topic"),
            _ => Ok(()),
        }
    }
}

/// The registration payload, members in wire order.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Payload {
    v: u32,
    token: String,
    iat: u64,
    portal_key: String,
    signing_key: PublicJwk,
    encryption_key: PublicJwk,
    platform: Platform,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    push: Option<PushConfig>,
}

/// A verified registration: the device the portal should activate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The device id: the signing key's thumbprint.
    pub device_id: String,
    /// The device's signing key.
    pub signing_key: PublicJwk,
    /// The device's encryption key, to which the activation challenge is sealed.
    pub encryption_key: PublicJwk,
    /// The device's platform.
    pub platform: Platform,
    /// The name the user gave the device.
    pub name: String,
    /// The device's push address; `None` for a device that only polls (§4.1).
    pub push: Option<PushConfig>,
    /// When the device says it registered.
    pub iat: u64,
}

/// What the portal knows about an enrollment token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// No such token.
    Unknown,
    /// Already used by a registration.
    Used,
    /// Issued and unused; refused after `expires_at`.
    Valid {
        /// Unix seconds.
        expires_at: u64,
    },
}

/// The device side: builds the registration JWS.
pub fn build_registration(
    signer: &dyn Signer,
    enrollment: &PushEnrollment,
    encryption_key: &PublicJwk,
    platform: Platform,
    name: &str,
    push: Option<&PushConfig>,
    now: u64,
) -> Result<String, RegistrationError> {
    if !is_display_text(name, MAX_NAME_LEN) {
        return Err(RegistrationError::Invalid("name"));
    }
    if let Some(push) = push {
        push.check().map_err(RegistrationError::Invalid)?;
    }
    let signing_key = signer.public_key();
    let payload = Payload {
        v: VERSION,
        token: enrollment.token.expose().to_owned(),
        iat: now,
        portal_key: enrollment.portal_key_id(),
        signing_key: signing_key.clone(),
        encryption_key: encryption_key.clone(),
        platform,
        name: name.to_owned(),
        push: push.cloned(),
    };
    let header = Header::with_jwk(TYP_REGISTER, signing_key);
    Ok(jws::sign(&header, &payload, signer)?)
}

/// The portal side: verifies a registration. `portal_key_id` is the portal's own key id;
/// `token_state` looks the enrollment token up. On success the portal marks the token used,
/// stores the device as *pending* and sends it an activation challenge; the device replaces
/// the user's previous one only when it approves that challenge.
pub fn verify_registration(
    jws: &str,
    portal_key_id: &str,
    now: u64,
    token_state: impl FnOnce(&str) -> TokenState,
) -> Result<Registration, RegistrationError> {
    let unverified = jws::parse(jws, MAX_REGISTRATION_LEN, TYP_REGISTER)?;
    let header_key = unverified
        .header
        .jwk
        .clone()
        .ok_or(RegistrationError::KeyMismatch)?;
    let verified = unverified.verify(&header_key)?;
    let payload: Payload = verified.payload()?;
    if payload.v != VERSION {
        return Err(RegistrationError::UnsupportedVersion(payload.v));
    }
    if payload.signing_key != header_key {
        return Err(RegistrationError::KeyMismatch);
    }
    if payload.encryption_key == payload.signing_key {
        return Err(RegistrationError::SameKey);
    }
    if payload.portal_key != portal_key_id {
        return Err(RegistrationError::WrongPortalKey);
    }
    if !within_skew(payload.iat, now) || !not_from_future(payload.iat, now) {
        return Err(RegistrationError::ClockSkew {
            iat: payload.iat,
            now,
        });
    }
    if !is_display_text(&payload.name, MAX_NAME_LEN) {
        return Err(RegistrationError::Invalid("name"));
    }
    if let Some(push) = &payload.push {
        push.check().map_err(RegistrationError::Invalid)?;
    }
    if crate::enrollment::EnrollmentToken::parse(&payload.token).is_none() {
        return Err(RegistrationError::Invalid("token"));
    }
    match token_state(&payload.token) {
        TokenState::Unknown => return Err(RegistrationError::UnknownToken),
        TokenState::Used => return Err(RegistrationError::TokenUsed),
        TokenState::Valid { expires_at } if now > expires_at => {
            return Err(RegistrationError::TokenExpired);
        }
        TokenState::Valid { .. } => {}
    }
    Ok(Registration {
        device_id: payload.signing_key.thumbprint(),
        signing_key: payload.signing_key,
        encryption_key: payload.encryption_key,
        platform: payload.platform,
        name: payload.name,
        push: payload.push,
        iat: payload.iat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encryption::EncryptionKey;
    use crate::enrollment::EnrollmentToken;
    use crate::signer::SoftwareSigner;

    const NOW: u64 = 1_800_000_000;
    const TOKEN: &str = "AAECAwQFBgcICQoLDA0ODw";

    fn portal() -> SoftwareSigner {
        SoftwareSigner::from_bytes(&[9; 32]).unwrap()
    }

    fn device() -> SoftwareSigner {
        SoftwareSigner::from_bytes(&[1; 32]).unwrap()
    }

    fn enrollment() -> PushEnrollment {
        PushEnrollment {
            portal_url: "https://portal.example.com".into(),
            token: EnrollmentToken::parse(TOKEN).unwrap(),
            portal_key: portal().public_key(),
            expires_at: NOW + 600,
        }
    }

    fn apns() -> PushConfig {
        PushConfig {
            transport: Transport::Apns,
            token: "a".repeat(64),
            environment: Some(ApnsEnvironment::Production),
            topic: None,
        }
    }

    fn registration(now: u64) -> String {
        let enc = EncryptionKey::derive(&[2; 32]);
        build_registration(
            &device(),
            &enrollment(),
            enc.public_key(),
            Platform::Ios,
            "Alice's iPhone",
            Some(&apns()),
            now,
        )
        .unwrap()
    }

    fn valid(_: &str) -> TokenState {
        TokenState::Valid {
            expires_at: NOW + 600,
        }
    }

    fn verify(jws: &str, now: u64) -> Result<Registration, RegistrationError> {
        verify_registration(jws, &portal().public_key().thumbprint(), now, valid)
    }

    #[test]
    fn round_trips() {
        let registration = verify(&registration(NOW), NOW).unwrap();
        assert_eq!(registration.device_id, device().public_key().thumbprint());
        assert_eq!(registration.name, "Alice's iPhone");
        assert_eq!(registration.platform, Platform::Ios);
    }

    #[test]
    fn checks_time_portal_key_and_token() {
        assert!(verify(&registration(NOW - 30), NOW).is_ok());
        assert!(matches!(
            verify(&registration(NOW - 31), NOW),
            Err(RegistrationError::ClockSkew { .. })
        ));
        assert!(matches!(
            verify(&registration(NOW + 31), NOW),
            Err(RegistrationError::ClockSkew { .. })
        ));
        let other = SoftwareSigner::from_bytes(&[8; 32])
            .unwrap()
            .public_key()
            .thumbprint();
        assert_eq!(
            verify_registration(&registration(NOW), &other, NOW, valid),
            Err(RegistrationError::WrongPortalKey)
        );
        let key = portal().public_key().thumbprint();
        assert_eq!(
            verify_registration(&registration(NOW), &key, NOW, |_| TokenState::Unknown),
            Err(RegistrationError::UnknownToken)
        );
        assert_eq!(
            verify_registration(&registration(NOW), &key, NOW, |_| TokenState::Used),
            Err(RegistrationError::TokenUsed)
        );
        assert_eq!(
            verify_registration(&registration(NOW), &key, NOW, |_| TokenState::Valid {
                expires_at: NOW - 1
            }),
            Err(RegistrationError::TokenExpired)
        );
        let mut seen = String::new();
        let _ = verify_registration(&registration(NOW), &key, NOW, |t| {
            seen = t.to_owned();
            TokenState::Used
        });
        assert_eq!(seen, TOKEN);
    }

    #[test]
    fn refuses_header_key_mismatch_and_same_keys() {
        // Signed by the header key, but the payload names another signing key.
        let enc = EncryptionKey::derive(&[2; 32]);
        let jws = registration(NOW);
        let payload: serde_json::Value = {
            let part = jws.split('.').nth(1).unwrap();
            serde_json::from_slice(&crate::b64::decode(part).unwrap()).unwrap()
        };
        let mut forged = payload.clone();
        forged["signing_key"] =
            serde_json::to_value(SoftwareSigner::from_bytes(&[5; 32]).unwrap().public_key())
                .unwrap();
        let header = Header::with_jwk(TYP_REGISTER, device().public_key());
        let jws = crate::jws::sign(&header, &forged, &device()).unwrap();
        assert_eq!(verify(&jws, NOW), Err(RegistrationError::KeyMismatch));

        let mut same = payload;
        same["encryption_key"] = serde_json::to_value(device().public_key()).unwrap();
        let jws = crate::jws::sign(&header, &same, &device()).unwrap();
        assert_eq!(verify(&jws, NOW), Err(RegistrationError::SameKey));
        let _ = enc;

        // A kid instead of a jwk: no key to check the signature with.
        let header = Header::with_kid(TYP_REGISTER, "x");
        let jws = crate::jws::sign(&header, &serde_json::json!({}), &device()).unwrap();
        assert_eq!(verify(&jws, NOW), Err(RegistrationError::KeyMismatch));
    }

    #[test]
    fn checks_fields() {
        let enc = EncryptionKey::derive(&[2; 32]);
        let build = |name: &str, push: &PushConfig| {
            build_registration(
                &device(),
                &enrollment(),
                enc.public_key(),
                Platform::Ios,
                name,
                Some(push),
                NOW,
            )
        };
        assert_eq!(build("", &apns()), Err(RegistrationError::Invalid("name")));
        assert_eq!(
            build(&"x".repeat(65), &apns()),
            Err(RegistrationError::Invalid("name"))
        );
        assert_eq!(
            build("a\nb", &apns()),
            Err(RegistrationError::Invalid("name"))
        );
        let mut push = apns();
        push.environment = None;
        assert_eq!(
            build("x", &push),
            Err(RegistrationError::Invalid("push.environment"))
        );
        let fcm = PushConfig {
            transport: Transport::Fcm,
            token: "t".into(),
            environment: Some(ApnsEnvironment::Sandbox),
            topic: None,
        };
        assert_eq!(
            build("x", &fcm),
            Err(RegistrationError::Invalid("push.environment"))
        );
        let fcm = PushConfig {
            environment: None,
            topic: Some("com.example".into()),
            ..fcm
        };
        assert_eq!(
            build("x", &fcm),
            Err(RegistrationError::Invalid("push.topic"))
        );
        let fcm = PushConfig {
            topic: None,
            token: "has space".into(),
            ..fcm
        };
        assert_eq!(
            build("x", &fcm),
            Err(RegistrationError::Invalid("push.token"))
        );
    }

    #[test]
    fn a_device_that_only_polls_registers_without_push() {
        let enc = EncryptionKey::derive(&[2; 32]);
        let jws = build_registration(
            &device(),
            &enrollment(),
            enc.public_key(),
            Platform::Desktop,
            "terminal",
            None,
            NOW,
        )
        .unwrap();
        let payload = jws.split('.').nth(1).unwrap();
        let payload: serde_json::Value =
            serde_json::from_slice(&crate::b64::decode(payload).unwrap()).unwrap();
        assert!(payload.get("push").is_none(), "{payload}");
        assert_eq!(verify(&jws, NOW).unwrap().push, None);
    }

    #[test]
    fn refuses_other_versions_and_sizes() {
        let header = Header::with_jwk(TYP_REGISTER, device().public_key());
        let jws = registration(NOW);
        let part = jws.split('.').nth(1).unwrap();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&crate::b64::decode(part).unwrap()).unwrap();
        payload["v"] = 2.into();
        let jws = crate::jws::sign(&header, &payload, &device()).unwrap();
        assert_eq!(
            verify(&jws, NOW),
            Err(RegistrationError::UnsupportedVersion(2))
        );
        assert_eq!(
            verify(&"a".repeat(MAX_REGISTRATION_LEN + 1), NOW),
            Err(RegistrationError::TooLarge)
        );
    }
}
