//! Signed device requests that carry no decision: the poll for pending challenges
//! (`POST {url}/assent/v1/pending`), used when a notification was missed and by desktop devices,
//! and the push-token update (`POST {url}/assent/v1/push-token`). Both are JWS signed by the
//! device key with a fresh nonce; the portal keeps the nonces it saw within the skew window to
//! refuse replays.

use serde::{Deserialize, Serialize};

use crate::jwk::PublicJwk;
use crate::jws::{self, Header, JwsError, TYP_POLL, TYP_PUSH_TOKEN};
use crate::registration::PushConfig;
use crate::signer::Signer;
use crate::{VERSION, b64, within_skew};

/// Largest poll or push-token update accepted, in bytes.
pub const MAX_POLL_LEN: usize = 8192;
/// Most challenges returned by one poll.
pub const MAX_PENDING: usize = 16;

/// Why a poll or push-token update was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollError {
    /// Over [`MAX_POLL_LEN`]; refused before parsing.
    #[error("request too large")]
    TooLarge,
    /// Not a well-formed request JWS or payload.
    #[error("malformed request: {0}")]
    Malformed(JwsError),
    /// The signature does not verify with the registered device's key.
    #[error("bad signature")]
    BadSignature,
    /// `v` is not a version this portal speaks.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u32),
    /// Signed by a device other than the registered one (e.g. a device since replaced).
    #[error("request from another device")]
    WrongDevice,
    /// `iat` is further than the clock skew allowance from now; outside the replay window.
    #[error("iat {iat} is too far from now ({now})")]
    ClockSkew {
        /// The request's `iat`.
        iat: u64,
        /// The portal's clock.
        now: u64,
    },
    /// A field breaks the protocol's rules (named).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// The device's signer refused.
    #[error(transparent)]
    Signer(#[from] crate::signer::SignerError),
}

impl From<JwsError> for PollError {
    fn from(error: JwsError) -> Self {
        match error {
            JwsError::TooLarge { .. } => Self::TooLarge,
            JwsError::BadSignature => Self::BadSignature,
            JwsError::Signer(e) => Self::Signer(e),
            other => Self::Malformed(other),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u32,
    device: String,
    iat: u64,
    nonce: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    push: Option<PushConfig>,
}

/// A verified poll. The portal refuses it as a replay if it saw `nonce` from this device
/// within the last 2 × [`crate::CLOCK_SKEW`] seconds, and otherwise remembers it that long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poll {
    /// The polling device.
    pub device_id: String,
    /// When the device signed (its clock).
    pub iat: u64,
    /// The request's nonce: 128 bits, base64url.
    pub nonce: String,
}

/// A verified push-token update; the same replay rule as [`Poll`] applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTokenUpdate {
    /// The poll fields.
    pub poll: Poll,
    /// The device's new push address.
    pub push: PushConfig,
}

/// The portal's answer to a poll: the device's unanswered, unexpired challenges, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Challenge JWS strings, each exactly as it would be pushed.
    pub challenges: Vec<String>,
}

/// The device side: a poll with a random nonce.
pub fn build_poll(
    signer: &dyn Signer,
    now: u64,
    rng: &mut impl rand_core::CryptoRng,
) -> Result<String, PollError> {
    let mut nonce = [0u8; 16];
    rng.fill_bytes(&mut nonce);
    build_poll_with(signer, now, nonce)
}

/// [`build_poll`] with the nonce given (examples and tests). Never reuse a nonce.
pub fn build_poll_with(
    signer: &dyn Signer,
    now: u64,
    nonce: [u8; 16],
) -> Result<String, PollError> {
    sign(signer, TYP_POLL, now, nonce, None)
}

/// The device side: a push-token update with a random nonce.
pub fn build_push_token_update(
    signer: &dyn Signer,
    push: &PushConfig,
    now: u64,
    rng: &mut impl rand_core::CryptoRng,
) -> Result<String, PollError> {
    let mut nonce = [0u8; 16];
    rng.fill_bytes(&mut nonce);
    build_push_token_update_with(signer, push, now, nonce)
}

/// [`build_push_token_update`] with the nonce given.
pub fn build_push_token_update_with(
    signer: &dyn Signer,
    push: &PushConfig,
    now: u64,
    nonce: [u8; 16],
) -> Result<String, PollError> {
    push.check().map_err(PollError::Invalid)?;
    sign(signer, TYP_PUSH_TOKEN, now, nonce, Some(push.clone()))
}

fn sign(
    signer: &dyn Signer,
    typ: &'static str,
    now: u64,
    nonce: [u8; 16],
    push: Option<PushConfig>,
) -> Result<String, PollError> {
    let device = signer.public_key().thumbprint();
    let payload = Payload {
        v: VERSION,
        device: device.clone(),
        iat: now,
        nonce: b64::encode(nonce),
        push,
    };
    Ok(jws::sign(
        &Header::with_kid(typ, &device),
        &payload,
        signer,
    )?)
}

/// The device id (`kid`) of a poll or push-token update, read *without* verifying, so the
/// portal can look the device up.
pub fn peek_device(jws: &str) -> Result<String, PollError> {
    let typ = if jws::parse(jws, MAX_POLL_LEN, TYP_POLL).is_ok() {
        TYP_POLL
    } else {
        TYP_PUSH_TOKEN
    };
    let unverified = jws::parse(jws, MAX_POLL_LEN, typ)?;
    unverified.header.kid.ok_or(PollError::Invalid("kid"))
}

/// The portal side: verifies a poll from the registered device `device_id` with key
/// `device_signing_key`.
pub fn verify_poll(
    jws: &str,
    device_id: &str,
    device_signing_key: &PublicJwk,
    now: u64,
) -> Result<Poll, PollError> {
    let payload = verify(jws, TYP_POLL, device_id, device_signing_key, now)?;
    if payload.push.is_some() {
        return Err(PollError::Invalid("push"));
    }
    Ok(Poll {
        device_id: payload.device,
        iat: payload.iat,
        nonce: payload.nonce,
    })
}

/// The portal side: verifies a push-token update.
pub fn verify_push_token_update(
    jws: &str,
    device_id: &str,
    device_signing_key: &PublicJwk,
    now: u64,
) -> Result<PushTokenUpdate, PollError> {
    let payload = verify(jws, TYP_PUSH_TOKEN, device_id, device_signing_key, now)?;
    let push = payload.push.ok_or(PollError::Invalid("push"))?;
    push.check().map_err(PollError::Invalid)?;
    Ok(PushTokenUpdate {
        poll: Poll {
            device_id: payload.device,
            iat: payload.iat,
            nonce: payload.nonce,
        },
        push,
    })
}

fn verify(
    jws: &str,
    typ: &'static str,
    device_id: &str,
    key: &PublicJwk,
    now: u64,
) -> Result<Payload, PollError> {
    let unverified = jws::parse(jws, MAX_POLL_LEN, typ)?;
    if unverified.header.kid.as_deref() != Some(device_id) {
        return Err(PollError::WrongDevice);
    }
    let payload: Payload = unverified.verify(key)?.payload()?;
    if payload.v != VERSION {
        return Err(PollError::UnsupportedVersion(payload.v));
    }
    if payload.device != device_id {
        return Err(PollError::WrongDevice);
    }
    if !within_skew(payload.iat, now) {
        return Err(PollError::ClockSkew {
            iat: payload.iat,
            now,
        });
    }
    if b64::decode_array::<16>(&payload.nonce).is_none() {
        return Err(PollError::Invalid("nonce"));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registration::Transport;
    use crate::signer::SoftwareSigner;

    const NOW: u64 = 1_800_000_000;

    fn device() -> SoftwareSigner {
        SoftwareSigner::from_bytes(&[1; 32]).unwrap()
    }

    fn id() -> String {
        device().public_key().thumbprint()
    }

    #[test]
    fn poll_round_trips() {
        let jws = build_poll_with(&device(), NOW, [5; 16]).unwrap();
        let poll = verify_poll(&jws, &id(), &device().public_key(), NOW + 30).unwrap();
        assert_eq!(poll.nonce, b64::encode([5; 16]));
        assert_eq!(poll.iat, NOW);
        assert_eq!(peek_device(&jws).unwrap(), id());
        let random = build_poll(&device(), NOW, &mut crate::system_rng()).unwrap();
        assert_ne!(
            verify_poll(&random, &id(), &device().public_key(), NOW)
                .unwrap()
                .nonce,
            poll.nonce
        );
    }

    #[test]
    fn poll_rules() {
        let jws = build_poll_with(&device(), NOW, [5; 16]).unwrap();
        let key = device().public_key();
        assert_eq!(
            verify_poll(&jws, &id(), &key, NOW + 31),
            Err(PollError::ClockSkew {
                iat: NOW,
                now: NOW + 31
            })
        );
        assert_eq!(
            verify_poll(&jws, &id(), &key, NOW - 31),
            Err(PollError::ClockSkew {
                iat: NOW,
                now: NOW - 31
            })
        );
        assert_eq!(
            verify_poll(&jws, "other", &key, NOW),
            Err(PollError::WrongDevice)
        );
        let other = SoftwareSigner::from_bytes(&[3; 32]).unwrap().public_key();
        assert_eq!(
            verify_poll(&jws, &id(), &other, NOW),
            Err(PollError::BadSignature)
        );
        assert!(matches!(
            verify_push_token_update(&jws, &id(), &key, NOW),
            Err(PollError::Malformed(JwsError::WrongType { .. }))
        ));
    }

    #[test]
    fn push_token_update_round_trips() {
        let push = PushConfig {
            transport: Transport::Fcm,
            token: "fcm-token".into(),
            environment: None,
            topic: None,
        };
        let jws = build_push_token_update_with(&device(), &push, NOW, [6; 16]).unwrap();
        assert_eq!(peek_device(&jws).unwrap(), id());
        let update = verify_push_token_update(&jws, &id(), &device().public_key(), NOW).unwrap();
        assert_eq!(update.push, push);
        let bad = PushConfig {
            token: String::new(),
            ..push
        };
        assert_eq!(
            build_push_token_update_with(&device(), &bad, NOW, [6; 16]),
            Err(PollError::Invalid("push.token"))
        );
    }

    #[test]
    fn pending_wire_form() {
        let pending = Pending {
            challenges: vec!["a.b.c".into()],
        };
        assert_eq!(
            serde_json::to_string(&pending).unwrap(),
            r#"{"challenges":["a.b.c"]}"#
        );
    }
}
