//! Tenants' optional request signatures: `Assent-Signature: t=<unix seconds>,sig=<base64url
//! ES256 (r||s) over "<t>." followed by the body>`, made with a P-256 key whose public half the
//! tenant's settings hold. The skew, the header, the key's forms and the check are here, once.

use serde::{Deserialize, Deserializer};

/// Header carrying a tenant's optional request signature.
pub const SIGNATURE_HEADER: &str = "assent-signature";
/// How far a signed request's time may be from the relay's.
pub const SIGNATURE_SKEW_SECONDS: u64 = 60;

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The tenant signs its requests and this one has no `Assent-Signature`.
    #[error("this tenant's requests must carry an Assent-Signature header")]
    Missing,
    /// The header is malformed or the signature does not verify.
    #[error("Assent-Signature does not verify")]
    Invalid,
    /// The signed time is more than a minute from the relay's.
    #[error("Assent-Signature time is more than 60 seconds from the relay's clock")]
    Stale,
    /// This copy of the relay already accepted this signature (within its 60 s).
    #[error("this signed request was already received; sign every request anew")]
    Replayed,
    /// So many signed requests arrived within two minutes that this copy cannot remember
    /// another; refusing keeps replays out (only beyond the tenants' own rate limits).
    #[error("too many recent signed requests to remember another; retry in a second")]
    TooManySigned,
}

impl SignatureError {
    /// The stable code returned in the error body.
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "signature_required",
            Self::Invalid => "bad_signature",
            Self::Stale => "stale_signature",
            Self::Replayed => "replayed_signature",
            Self::TooManySigned => "overloaded",
        }
    }
}

/// A request signature that verified and is within the skew: its time and raw `r || s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The signed Unix time.
    pub t: u64,
    /// The ES256 signature, `r || s`.
    pub signature: [u8; 64],
}

/// A tenant's request-signing public key (P-256), parsed once, when the settings are read.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestKey {
    /// The uncompressed point, `04 || x || y`.
    point: Vec<u8>,
}

impl std::fmt::Debug for RequestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestKey(P-256)")
    }
}

impl RequestKey {
    /// Reads a P-256 public key given as PEM `PUBLIC KEY` (SPKI) or as the base64url
    /// uncompressed point.
    pub fn parse(text: &str) -> Option<Self> {
        let point = if text.contains("-----BEGIN PUBLIC KEY-----") {
            let der = crate::jwt::pem_to_der(text, "PUBLIC KEY").ok()?;
            // SPKI for P-256: a fixed 26-byte prefix, then the 65-byte point.
            (der.len() == 91).then(|| der[26..].to_vec())?
        } else {
            base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                text.trim(),
            )
            .ok()?
        };
        (point.len() == 65 && point[0] == 4).then_some(Self { point })
    }

    /// Checks `header` (the `Assent-Signature` value) over `body` at `now`.
    pub fn verify(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: u64,
    ) -> Result<VerifiedSignature, SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let mut t = None;
        let mut sig = None;
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => t = v.parse::<u64>().ok(),
                Some(("sig", v)) => sig = Some(v),
                _ => {}
            }
        }
        let (t, sig) = t.zip(sig).ok_or(SignatureError::Invalid)?;
        let sig = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig)
            .map_err(|_| SignatureError::Invalid)?;
        let mut message = format!("{t}.").into_bytes();
        message.extend_from_slice(body);
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            &self.point,
        )
        .verify(&message, &sig)
        .map_err(|_| SignatureError::Invalid)?;
        if t.abs_diff(now) > SIGNATURE_SKEW_SECONDS {
            return Err(SignatureError::Stale);
        }
        let signature = sig.try_into().map_err(|_| SignatureError::Invalid)?;
        Ok(VerifiedSignature { t, signature })
    }
}

impl<'de> Deserialize<'de> for RequestKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(
                "request_public_key is not a P-256 public key (a PEM PUBLIC KEY, or the base64url uncompressed point)",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_in_both_forms_and_nothing_else() {
        let point = [4u8; 65];
        let b64 = crate::jwt::b64url(&point);
        assert!(RequestKey::parse(&b64).is_some());
        assert!(RequestKey::parse(&crate::jwt::b64url(&[4u8; 64])).is_none());
        assert!(RequestKey::parse(&crate::jwt::b64url(&[2u8; 65])).is_none());
        assert!(RequestKey::parse("not a key").is_none());
        assert_eq!(
            format!("{:?}", RequestKey::parse(&b64).unwrap()),
            "RequestKey(P-256)"
        );
    }
}
