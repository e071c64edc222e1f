//! The answer: device → portal, `POST {url}/assent/v1/answers`. A JWS signed by the device key
//! (`kid` = device id) that names the exact challenge by the SHA-256 of its JWS string and says
//! approve or deny.

use serde::{Deserialize, Serialize};

use crate::challenge::{Challenge, UserVerification};
use crate::jwk::PublicJwk;
use crate::jws::{self, Header, JwsError, TYP_ANSWER};
use crate::signer::Signer;
use crate::{VERSION, b64, within_skew};

/// Largest answer accepted, in bytes.
pub const MAX_ANSWER_LEN: usize = 2048;

/// Why an answer was refused (by the portal) or could not be built (by the device).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// Over [`MAX_ANSWER_LEN`]; refused before parsing.
    #[error("answer too large")]
    TooLarge,
    /// Not a well-formed answer JWS or payload.
    #[error("malformed answer: {0}")]
    Malformed(JwsError),
    /// The signature does not verify with the registered device's key.
    #[error("bad signature")]
    BadSignature,
    /// `v` is not a version this portal speaks.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u32),
    /// Signed by a device other than the challenge's (e.g. a device since replaced).
    #[error("answer from another device")]
    WrongDevice,
    /// Names another challenge, or another JWS under the same id.
    #[error("answer to another challenge")]
    WrongChallenge,
    /// After the challenge's `exp` by the portal's clock (no grace).
    #[error("challenge expired at {exp} (now {now})")]
    Expired {
        /// The challenge's `exp`.
        exp: u64,
        /// The portal's clock.
        now: u64,
    },
    /// The challenge already has an answer.
    #[error("challenge already answered")]
    AlreadyAnswered,
    /// Approved with a number other than the one shown on the login page.
    #[error("wrong number")]
    WrongNumber,
    /// Approved without user verification although the challenge required it.
    #[error("user verification required")]
    MissingUserVerification,
    /// `iat` is further than the clock skew allowance from now.
    #[error("iat {iat} is too far from now ({now})")]
    ClockSkew {
        /// The answer's `iat`.
        iat: u64,
        /// The portal's clock.
        now: u64,
    },
    /// A field breaks the protocol's rules (named).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// The device's signer refused (user cancelled, key invalidated).
    #[error(transparent)]
    Signer(#[from] crate::signer::SignerError),
}

impl From<JwsError> for AnswerError {
    fn from(error: JwsError) -> Self {
        match error {
            JwsError::TooLarge { .. } => Self::TooLarge,
            JwsError::BadSignature => Self::BadSignature,
            JwsError::Signer(e) => Self::Signer(e),
            other => Self::Malformed(other),
        }
    }
}

/// Approve or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The user approves.
    Approve,
    /// The user refuses.
    Deny,
}

/// Why the user denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// "This wasn't me": the portal should alert and may lock the account.
    NotMe,
    /// The user just declined.
    Cancelled,
}

/// What the user decided, as the device builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Approve, with the typed number when the challenge uses number matching.
    Approve {
        /// The digits the user typed.
        number: Option<String>,
        /// Whether the device verified the user (biometrics or passcode) just now.
        user_verified: bool,
    },
    /// Deny.
    Deny {
        /// Why.
        reason: Option<DenyReason>,
        /// Whether the device verified the user.
        user_verified: bool,
    },
}

/// The signed payload, members in wire order.
#[derive(Serialize, Deserialize)]
struct Payload {
    v: u32,
    challenge: String,
    challenge_hash: String,
    device: String,
    iat: u64,
    decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    number: Option<String>,
    user_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<DenyReason>,
}

/// The device side: signs the user's response to an opened challenge. Refuses an approve that
/// the portal would refuse for its form (missing or malformed number, missing user
/// verification); whether the number is right only the portal knows.
pub fn build_answer(
    signer: &dyn Signer,
    challenge: &Challenge,
    response: &Response,
    now: u64,
) -> Result<String, AnswerError> {
    let (decision, number, user_verified, reason) = match response {
        Response::Approve {
            number,
            user_verified,
        } => {
            match (challenge.content.number_matching, number) {
                (Some(n), Some(number)) if is_number(number, n.digits) => {}
                (None, None) => {}
                _ => return Err(AnswerError::Invalid("number")),
            }
            if challenge.content.user_verification == UserVerification::Required && !user_verified {
                return Err(AnswerError::MissingUserVerification);
            }
            (Decision::Approve, number.clone(), *user_verified, None)
        }
        Response::Deny {
            reason,
            user_verified,
        } => (Decision::Deny, None, *user_verified, *reason),
    };
    let payload = Payload {
        v: VERSION,
        challenge: challenge.id.clone(),
        challenge_hash: challenge.hash(),
        device: challenge.device_id.clone(),
        iat: now,
        decision,
        number,
        user_verified,
        reason,
    };
    let header = Header::with_kid(TYP_ANSWER, &challenge.device_id);
    Ok(jws::sign(&header, &payload, signer)?)
}

fn is_number(number: &str, digits: u8) -> bool {
    number.len() == usize::from(digits) && number.bytes().all(|b| b.is_ascii_digit())
}

/// What the portal stored about a challenge it sent, to check the answer against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChallenge {
    /// The challenge id.
    pub id: String,
    /// The device it was sent to; for a login, the user's *current* device.
    pub device_id: String,
    /// That device's signing key.
    pub device_signing_key: PublicJwk,
    /// [`crate::challenge::challenge_hash`] of the JWS sent.
    pub challenge_hash: String,
    /// The challenge's `exp`.
    pub exp: u64,
    /// The number shown on the login page, when number matching is on.
    pub expected_number: Option<String>,
    /// The challenge's user verification policy.
    pub user_verification: UserVerification,
    /// Whether an answer was already accepted (or refused for a wrong number).
    pub answered: bool,
}

/// A verified answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The challenge id.
    pub challenge: String,
    /// The answering device.
    pub device_id: String,
    /// When the device answered (its clock).
    pub iat: u64,
    /// Approve or deny.
    pub decision: Decision,
    /// Whether the device verified the user.
    pub user_verified: bool,
    /// Why the user denied, if said.
    pub reason: Option<DenyReason>,
}

/// Which device signed an answer and which challenge it names, read *without* verifying, so
/// the portal can look up the [`PendingChallenge`]. Trust nothing else from it.
pub fn peek_answer(jws: &str) -> Result<(String, String), AnswerError> {
    let unverified = jws::parse(jws, MAX_ANSWER_LEN, TYP_ANSWER)?;
    let kid = unverified
        .header
        .kid
        .clone()
        .ok_or(AnswerError::Invalid("kid"))?;
    let payload: Payload = unverified.payload_unverified()?;
    Ok((kid, payload.challenge))
}

/// The portal side: verifies an answer against the pending challenge. Checks, in order: size,
/// form, that `kid` is the challenge's device, the signature, version, that the answer names
/// this exact challenge, that it is the first answer, that `now <= exp`, the answer's `iat`,
/// then user verification and the number for an approve.
///
/// After [`AnswerError::WrongNumber`] the portal must mark the challenge answered (failed), so
/// a device gets one try, not a hundred. Only a well-formed approve can be a wrong number: an
/// approve without the number, with a number of the wrong form, or carrying a `reason`, and a
/// deny carrying a number, are [`AnswerError::Invalid`] (`malformed`) and leave the challenge
/// pending.
pub fn verify_answer(
    jws: &str,
    pending: &PendingChallenge,
    now: u64,
) -> Result<Answer, AnswerError> {
    let unverified = jws::parse(jws, MAX_ANSWER_LEN, TYP_ANSWER)?;
    if unverified.header.kid.as_deref() != Some(pending.device_id.as_str()) {
        return Err(AnswerError::WrongDevice);
    }
    let verified = unverified.verify(&pending.device_signing_key)?;
    let payload: Payload = verified.payload()?;
    if payload.v != VERSION {
        return Err(AnswerError::UnsupportedVersion(payload.v));
    }
    if payload.device != pending.device_id {
        return Err(AnswerError::WrongDevice);
    }
    if payload.challenge != pending.id || payload.challenge_hash != pending.challenge_hash {
        return Err(AnswerError::WrongChallenge);
    }
    if pending.answered {
        return Err(AnswerError::AlreadyAnswered);
    }
    if now > pending.exp {
        return Err(AnswerError::Expired {
            exp: pending.exp,
            now,
        });
    }
    if !within_skew(payload.iat, now) {
        return Err(AnswerError::ClockSkew {
            iat: payload.iat,
            now,
        });
    }
    match payload.decision {
        Decision::Approve => {
            if payload.reason.is_some() {
                return Err(AnswerError::Invalid("reason"));
            }
            if pending.user_verification == UserVerification::Required && !payload.user_verified {
                return Err(AnswerError::MissingUserVerification);
            }
            match (&pending.expected_number, &payload.number) {
                // Only a well-formed number can be wrong (and use the challenge up); one of
                // another length, or not digits, is a malformed answer, like a missing one.
                (Some(expected), Some(number)) => {
                    let digits = u8::try_from(expected.len()).unwrap_or(0);
                    if !is_number(number, digits) {
                        return Err(AnswerError::Invalid("number"));
                    }
                    if !constant_time_eq(expected.as_bytes(), number.as_bytes()) {
                        return Err(AnswerError::WrongNumber);
                    }
                }
                (Some(_), None) => return Err(AnswerError::Invalid("number")),
                (None, Some(_)) => return Err(AnswerError::Invalid("number")),
                (None, None) => {}
            }
        }
        Decision::Deny => {
            if payload.number.is_some() {
                return Err(AnswerError::Invalid("number"));
            }
        }
    }
    Ok(Answer {
        challenge: payload.challenge,
        device_id: payload.device,
        iat: payload.iat,
        decision: payload.decision,
        user_verified: payload.user_verified,
        reason: payload.reason,
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a challenge hash's form (for the portal's storage).
pub fn is_challenge_hash(text: &str) -> bool {
    b64::decode_array::<32>(text).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::{
        ChallengeContent, LoginContext, NumberMatching, Purpose, build_challenge_with,
        open_challenge,
    };
    use crate::encryption::EncryptionKey;
    use crate::signer::SoftwareSigner;

    const NOW: u64 = 1_800_000_000;

    fn portal() -> SoftwareSigner {
        SoftwareSigner::from_bytes(&[9; 32]).unwrap()
    }
    fn device() -> SoftwareSigner {
        SoftwareSigner::from_bytes(&[1; 32]).unwrap()
    }

    fn challenge(uv: UserVerification, digits: Option<u8>) -> Challenge {
        let content = ChallengeContent {
            purpose: Purpose::Login,
            context: LoginContext {
                user: "alice".into(),
                application: "Payroll".into(),
                ip: None,
                location: None,
                browser: None,
                os: None,
            },
            number_matching: digits.map(|digits| NumberMatching { digits }),
            user_verification: uv,
        };
        let key = EncryptionKey::derive(&[2; 32]);
        let id = device().public_key().thumbprint();
        let built = build_challenge_with(
            &portal(),
            &id,
            key.public_key(),
            &content,
            NOW,
            [7; 16],
            &[8; 32],
        )
        .unwrap();
        open_challenge(&built.jws, &portal().public_key(), &key, &id, NOW).unwrap()
    }

    fn pending(c: &Challenge, number: Option<&str>) -> PendingChallenge {
        PendingChallenge {
            id: c.id.clone(),
            device_id: c.device_id.clone(),
            device_signing_key: device().public_key(),
            challenge_hash: c.hash(),
            exp: c.exp,
            expected_number: number.map(str::to_owned),
            user_verification: c.content.user_verification,
            answered: false,
        }
    }

    fn approve(number: Option<&str>, uv: bool) -> Response {
        Response::Approve {
            number: number.map(str::to_owned),
            user_verified: uv,
        }
    }

    #[test]
    fn approve_with_number() {
        let c = challenge(UserVerification::Required, Some(2));
        let jws = build_answer(&device(), &c, &approve(Some("47"), true), NOW + 5).unwrap();
        let answer = verify_answer(&jws, &pending(&c, Some("47")), NOW + 5).unwrap();
        assert_eq!(answer.decision, Decision::Approve);
        assert!(answer.user_verified);
        assert_eq!(
            peek_answer(&jws).unwrap(),
            (c.device_id.clone(), c.id.clone())
        );
        assert_eq!(
            verify_answer(&jws, &pending(&c, Some("48")), NOW + 5),
            Err(AnswerError::WrongNumber)
        );
    }

    #[test]
    fn deny() {
        let c = challenge(UserVerification::Required, Some(2));
        let deny = Response::Deny {
            reason: Some(DenyReason::NotMe),
            user_verified: false,
        };
        let jws = build_answer(&device(), &c, &deny, NOW).unwrap();
        let answer = verify_answer(&jws, &pending(&c, Some("47")), NOW).unwrap();
        assert_eq!(answer.decision, Decision::Deny);
        assert_eq!(answer.reason, Some(DenyReason::NotMe));
    }

    #[test]
    fn device_refuses_badly_formed_approvals() {
        let c = challenge(UserVerification::Required, Some(2));
        for number in [None, Some("4"), Some("470"), Some("4a")] {
            assert_eq!(
                build_answer(&device(), &c, &approve(number, true), NOW),
                Err(AnswerError::Invalid("number"))
            );
        }
        assert_eq!(
            build_answer(&device(), &c, &approve(Some("47"), false), NOW),
            Err(AnswerError::MissingUserVerification)
        );
        let c = challenge(UserVerification::Preferred, None);
        assert_eq!(
            build_answer(&device(), &c, &approve(Some("47"), true), NOW),
            Err(AnswerError::Invalid("number"))
        );
        assert!(build_answer(&device(), &c, &approve(None, false), NOW).is_ok());
    }

    #[test]
    fn portal_rules() {
        let c = challenge(UserVerification::Preferred, None);
        let p = pending(&c, None);
        let last_second = build_answer(&device(), &c, &approve(None, false), NOW + 60).unwrap();
        assert!(verify_answer(&last_second, &p, NOW + 60).is_ok());
        assert_eq!(
            verify_answer(&last_second, &p, NOW + 61),
            Err(AnswerError::Expired {
                exp: NOW + 60,
                now: NOW + 61
            })
        );
        let jws = build_answer(&device(), &c, &approve(None, false), NOW).unwrap();
        assert_eq!(
            verify_answer(
                &jws,
                &PendingChallenge {
                    answered: true,
                    ..p.clone()
                },
                NOW
            ),
            Err(AnswerError::AlreadyAnswered)
        );
        assert_eq!(
            verify_answer(
                &jws,
                &PendingChallenge {
                    user_verification: UserVerification::Required,
                    ..p.clone()
                },
                NOW
            ),
            Err(AnswerError::MissingUserVerification)
        );
        assert_eq!(
            verify_answer(
                &jws,
                &PendingChallenge {
                    expected_number: Some("12".into()),
                    ..p.clone()
                },
                NOW
            ),
            // No number where one is expected: malformed, the challenge stays pending.
            Err(AnswerError::Invalid("number"))
        );
        assert_eq!(
            verify_answer(
                &jws,
                &PendingChallenge {
                    id: "x".into(),
                    ..p.clone()
                },
                NOW
            ),
            Err(AnswerError::WrongChallenge)
        );
        assert_eq!(
            verify_answer(
                &jws,
                &PendingChallenge {
                    challenge_hash: "x".into(),
                    ..p.clone()
                },
                NOW
            ),
            Err(AnswerError::WrongChallenge)
        );
        assert_eq!(
            verify_answer(
                &jws,
                &PendingChallenge {
                    device_id: "other".into(),
                    ..p.clone()
                },
                NOW
            ),
            Err(AnswerError::WrongDevice)
        );
        let other = SoftwareSigner::from_bytes(&[3; 32]).unwrap().public_key();
        assert_eq!(
            verify_answer(
                &jws,
                &PendingChallenge {
                    device_signing_key: other,
                    ..p.clone()
                },
                NOW
            ),
            Err(AnswerError::BadSignature)
        );
        let late = build_answer(&device(), &c, &approve(None, false), NOW - 31).unwrap();
        assert_eq!(
            verify_answer(&late, &p, NOW),
            Err(AnswerError::ClockSkew {
                iat: NOW - 31,
                now: NOW
            })
        );
        assert_eq!(
            verify_answer(&"x".repeat(MAX_ANSWER_LEN + 1), &p, NOW),
            Err(AnswerError::TooLarge)
        );
    }

    #[test]
    fn hash_form() {
        let c = challenge(UserVerification::Preferred, None);
        assert!(is_challenge_hash(&c.hash()));
        assert!(!is_challenge_hash("abc"));
    }
}
