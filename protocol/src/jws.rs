//! JWS compact serialization (RFC 7515) with ES256 only (RFC 7518 §3.4), written over p256 so
//! that signing can go through a [`Signer`] held by a platform key store.
//!
//! What a stock JOSE library produces is accepted: `header.payload.signature`, each part
//! base64url without padding, the signature raw `r ‖ s` (64 bytes). Refused before any
//! signature check: input over the caller's size limit, anything but three parts, non-canonical
//! base64url, `alg` other than `ES256` (so `none` and `HS256` too), any `crit` header, and a
//! `typ` other than the one the message requires.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::b64;
use crate::jwk::PublicJwk;
use crate::signer::{Signer, SignerError};

/// The only signature algorithm.
pub const ALG: &str = "ES256";
/// `typ` of a registration.
pub const TYP_REGISTER: &str = "assent-register+jws";
/// `typ` of a challenge.
pub const TYP_CHALLENGE: &str = "assent-challenge+jws";
/// `typ` of an answer.
pub const TYP_ANSWER: &str = "assent-answer+jws";
/// `typ` of a poll for pending challenges.
pub const TYP_POLL: &str = "assent-poll+jws";
/// `typ` of a push-token update.
pub const TYP_PUSH_TOKEN: &str = "assent-push-token+jws";

/// Why a string is not an acceptable JWS, or could not be made into one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Longer than the message's limit; refused before parsing.
    #[error("{len} bytes, over the limit of {max}")]
    TooLarge {
        /// Length of the input.
        len: usize,
        /// The limit for this message.
        max: usize,
    },
    /// Not three non-empty `.`-separated parts.
    #[error("not a JWS in compact serialization")]
    NotCompact,
    /// A part is not canonical base64url without padding.
    #[error("the {0} is not canonical base64url")]
    Base64(&'static str),
    /// The protected header is not the JSON this protocol expects.
    #[error("bad header: {0}")]
    Header(String),
    /// `alg` is not `ES256` (`none`, `HS256`, `RS256`, ... are all refused).
    #[error("unsupported alg {0:?}")]
    UnsupportedAlgorithm(String),
    /// The header has `crit`: no extension is understood, so none may be critical.
    #[error("critical header extensions are not supported")]
    CriticalHeader,
    /// `typ` is not the one this message requires (a challenge offered as an answer, ...).
    #[error("typ {found:?} where {expected:?} was expected")]
    WrongType {
        /// The required `typ`.
        expected: &'static str,
        /// What the header said.
        found: Option<String>,
    },
    /// The signature is not 64 bytes or does not verify with the expected key.
    #[error("bad signature")]
    BadSignature,
    /// The payload is not the JSON this message expects.
    #[error("bad payload: {0}")]
    Payload(String),
    /// The signer refused to sign.
    #[error(transparent)]
    Signer(#[from] SignerError),
}

/// The protected header. Members are written in this order; unknown members are ignored when
/// reading, as RFC 7515 §4 requires (except `crit`, which is refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always `ES256`.
    pub alg: String,
    /// The message type, e.g. `assent-answer+jws`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// The signer's key id (JWK thumbprint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The signer's public key (registration only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwk: Option<PublicJwk>,
    /// Present only to be refused.
    #[serde(default, skip_serializing)]
    crit: Option<serde_json::Value>,
}

impl Header {
    /// A header naming the signer by key id.
    pub fn with_kid(typ: &'static str, kid: &str) -> Self {
        Self {
            alg: ALG.into(),
            typ: Some(typ.into()),
            kid: Some(kid.into()),
            jwk: None,
            crit: None,
        }
    }

    /// A header carrying the signer's public key.
    pub fn with_jwk(typ: &'static str, jwk: PublicJwk) -> Self {
        Self {
            alg: ALG.into(),
            typ: Some(typ.into()),
            kid: None,
            jwk: Some(jwk),
            crit: None,
        }
    }
}

/// Signs `payload` (serialized as compact JSON) and returns the compact JWS.
pub fn sign(
    header: &Header,
    payload: &impl Serialize,
    signer: &dyn Signer,
) -> Result<String, JwsError> {
    let header = serde_json::to_vec(header).map_err(|e| JwsError::Header(e.to_string()))?;
    let payload = serde_json::to_vec(payload).map_err(|e| JwsError::Payload(e.to_string()))?;
    sign_bytes(&header, &payload, signer)
}

/// Signs exact header and payload bytes (used by tests that need hostile headers).
pub fn sign_bytes(header: &[u8], payload: &[u8], signer: &dyn Signer) -> Result<String, JwsError> {
    let mut jws = b64::encode(header);
    jws.push('.');
    jws.push_str(&b64::encode(payload));
    let signature = signer.sign(jws.as_bytes())?;
    jws.push('.');
    jws.push_str(&b64::encode(signature));
    Ok(jws)
}

/// A JWS whose form and header are acceptable and whose signature is not yet checked.
#[derive(Debug)]
pub struct Unverified<'a> {
    /// The protected header.
    pub header: Header,
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: [u8; 64],
}

/// A JWS whose signature verified; only now is its payload readable.
#[derive(Debug)]
pub struct Verified {
    /// The protected header.
    pub header: Header,
    payload: Vec<u8>,
}

/// Checks size, form, `alg`, `crit` and `typ`; the signature is checked by [`Unverified::verify`].
pub fn parse<'a>(
    jws: &'a str,
    max_len: usize,
    typ: &'static str,
) -> Result<Unverified<'a>, JwsError> {
    if jws.len() > max_len {
        return Err(JwsError::TooLarge {
            len: jws.len(),
            max: max_len,
        });
    }
    let mut parts = jws.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::NotCompact);
    };
    if header_b64.is_empty() || payload_b64.is_empty() || signature_b64.is_empty() {
        return Err(JwsError::NotCompact);
    }
    let header_bytes = b64::decode(header_b64).ok_or(JwsError::Base64("header"))?;
    let header: Header =
        serde_json::from_slice(&header_bytes).map_err(|e| JwsError::Header(e.to_string()))?;
    if header.alg != ALG {
        return Err(JwsError::UnsupportedAlgorithm(header.alg));
    }
    if header.crit.is_some() {
        return Err(JwsError::CriticalHeader);
    }
    if header.typ.as_deref() != Some(typ) {
        return Err(JwsError::WrongType {
            expected: typ,
            found: header.typ,
        });
    }
    let payload = b64::decode(payload_b64).ok_or(JwsError::Base64("payload"))?;
    let signature = b64::decode(signature_b64).ok_or(JwsError::Base64("signature"))?;
    let signature: [u8; 64] = signature.try_into().map_err(|_| JwsError::BadSignature)?;
    let signing_input = &jws[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Unverified {
        header,
        signing_input,
        payload,
        signature,
    })
}

impl Unverified<'_> {
    /// The payload, parsed *without* checking the signature: only for finding the record that
    /// holds the key to verify with (the challenge an answer names). Trust nothing else in it.
    pub fn payload_unverified<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        serde_json::from_slice(&self.payload).map_err(|e| JwsError::Payload(e.to_string()))
    }

    /// Verifies the ES256 signature with `key`.
    ///
    /// ring does the arithmetic: its P-256 verification is several times faster than p256's,
    /// which keeps a phone's open-and-answer under half a millisecond. Both accept exactly the
    /// 64-byte `r ‖ s` with `0 < r, s < n`; a unit test checks they agree.
    pub fn verify(self, key: &PublicJwk) -> Result<Verified, JwsError> {
        let public = key.to_sec1_uncompressed();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &public)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::BadSignature)?;
        Ok(Verified {
            header: self.header,
            payload: self.payload,
        })
    }
}

impl Verified {
    /// The payload, parsed as `T`.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        serde_json::from_slice(&self.payload).map_err(|e| JwsError::Payload(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::SoftwareSigner;

    fn signer() -> SoftwareSigner {
        SoftwareSigner::from_bytes(&[1; 32]).unwrap()
    }

    fn signed(header: &str) -> String {
        sign_bytes(header.as_bytes(), br#"{"v":1}"#, &signer()).unwrap()
    }

    const GOOD: &str = r#"{"alg":"ES256","typ":"assent-poll+jws","kid":"k"}"#;

    #[test]
    fn signs_and_verifies() {
        let jws = signed(GOOD);
        let verified = parse(&jws, 4096, TYP_POLL)
            .unwrap()
            .verify(&signer().public_key())
            .unwrap();
        assert_eq!(verified.header.kid.as_deref(), Some("k"));
        let payload: serde_json::Value = verified.payload().unwrap();
        assert_eq!(payload["v"], 1);
    }

    #[test]
    fn ring_and_p256_agree() {
        use p256::ecdsa::signature::Verifier as _;
        let key = signer().public_key();
        for i in 0u8..20 {
            let jws = sign_bytes(GOOD.as_bytes(), &[i; 5], &signer()).unwrap();
            let (input, sig) = jws.rsplit_once('.').unwrap();
            let mut sig: [u8; 64] = b64::decode_array(sig).unwrap();
            if i % 2 == 1 {
                sig[usize::from(i)] ^= 1;
            }
            let p256_ok = p256::ecdsa::Signature::from_slice(&sig)
                .is_ok_and(|s| key.verifying_key().verify(input.as_bytes(), &s).is_ok());
            let tampered = format!("{input}.{}", b64::encode(sig));
            let ours = parse(&tampered, 4096, TYP_POLL)
                .unwrap()
                .verify(&key)
                .is_ok();
            assert_eq!(ours, p256_ok, "case {i}");
            assert_eq!(ours, i % 2 == 0);
        }
        // High-S form of a valid signature: n - s. Both libraries accept it.
        let jws = signed(GOOD);
        let (input, sig) = jws.rsplit_once('.').unwrap();
        let sig = p256::ecdsa::Signature::from_slice(&b64::decode(sig).unwrap()).unwrap();
        let (r, s) = sig.split_scalars();
        let high = p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        let high_jws = format!("{input}.{}", b64::encode(high.to_bytes()));
        assert!(
            parse(&high_jws, 4096, TYP_POLL)
                .unwrap()
                .verify(&key)
                .is_ok()
        );
        assert!(key.verifying_key().verify(input.as_bytes(), &high).is_ok());
    }

    #[test]
    fn header_is_written_in_a_fixed_order() {
        let header = Header::with_kid(TYP_POLL, "k");
        assert_eq!(serde_json::to_string(&header).unwrap(), GOOD);
    }

    #[test]
    fn refuses_other_keys_and_tampering() {
        let jws = signed(GOOD);
        let other = SoftwareSigner::from_bytes(&[2; 32]).unwrap().public_key();
        assert_eq!(
            parse(&jws, 4096, TYP_POLL)
                .unwrap()
                .verify(&other)
                .unwrap_err(),
            JwsError::BadSignature
        );
        let tampered = jws.replacen(".eyJ2IjoxfQ.", ".eyJ2IjoyfQ.", 1);
        assert_ne!(tampered, jws);
        assert_eq!(
            parse(&tampered, 4096, TYP_POLL)
                .unwrap()
                .verify(&signer().public_key())
                .unwrap_err(),
            JwsError::BadSignature
        );
    }

    #[test]
    fn refuses_bad_forms() {
        let jws = signed(GOOD);
        assert!(matches!(
            parse(&jws, 10, TYP_POLL),
            Err(JwsError::TooLarge { .. })
        ));
        assert_eq!(
            parse("a.b", 4096, TYP_POLL).unwrap_err(),
            JwsError::NotCompact
        );
        assert_eq!(
            parse(&format!("{jws}.x"), 4096, TYP_POLL).unwrap_err(),
            JwsError::NotCompact
        );
        assert_eq!(
            parse("..", 4096, TYP_POLL).unwrap_err(),
            JwsError::NotCompact
        );
        assert_eq!(
            parse(&format!("{jws}="), 4096, TYP_POLL).unwrap_err(),
            JwsError::Base64("signature")
        );
        let (head, rest) = jws.split_once('.').unwrap();
        assert_eq!(
            parse(&format!("{head}=.{rest}"), 4096, TYP_POLL).unwrap_err(),
            JwsError::Base64("header")
        );
        let (input, _) = jws.rsplit_once('.').unwrap();
        let short = format!("{input}.{}", b64::encode([1u8; 63]));
        assert_eq!(
            parse(&short, 4096, TYP_POLL).unwrap_err(),
            JwsError::BadSignature
        );
    }

    #[test]
    fn refuses_other_algorithms_crit_and_types() {
        for alg in ["none", "HS256", "RS256", "ES384", "es256"] {
            let jws = signed(&format!(r#"{{"alg":"{alg}","typ":"assent-poll+jws"}}"#));
            assert_eq!(
                parse(&jws, 4096, TYP_POLL).unwrap_err(),
                JwsError::UnsupportedAlgorithm(alg.into())
            );
        }
        let jws = signed(r#"{"alg":"ES256","typ":"assent-poll+jws","crit":["exp"],"exp":1}"#);
        assert_eq!(
            parse(&jws, 4096, TYP_POLL).unwrap_err(),
            JwsError::CriticalHeader
        );
        let jws = signed(GOOD);
        assert!(matches!(
            parse(&jws, 4096, TYP_ANSWER),
            Err(JwsError::WrongType { .. })
        ));
        let jws = signed(r#"{"alg":"ES256"}"#);
        assert!(matches!(
            parse(&jws, 4096, TYP_POLL),
            Err(JwsError::WrongType { found: None, .. })
        ));
        let jws = signed(r#"{"alg":"ES256","alg":"ES256","typ":"assent-poll+jws"}"#);
        assert!(matches!(
            parse(&jws, 4096, TYP_POLL),
            Err(JwsError::Header(_))
        ));
    }
}
