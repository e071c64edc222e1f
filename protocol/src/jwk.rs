//! P-256 public keys as JSON Web Keys (RFC 7517/7518) and their RFC 7638 thumbprints, which
//! serve as the device id and the portal key id.

use p256::ecdsa::VerifyingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::b64;

/// Why a JWK or a SEC1 key is not a usable P-256 public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    /// `kty` is not `EC` or `crv` is not `P-256`.
    #[error("not a P-256 key (kty {kty:?}, crv {crv:?})")]
    UnsupportedKey {
        /// The key's `kty`.
        kty: String,
        /// The key's `crv`.
        crv: String,
    },
    /// `x` or `y` is not canonical base64url of 32 bytes.
    #[error("a coordinate is not 32 bytes of canonical base64url")]
    BadCoordinate,
    /// The coordinates or SEC1 bytes do not name a point on P-256.
    #[error("not a point on P-256")]
    NotOnCurve,
    /// The JWK carries a private key (`d`): never accepted where a public key is expected.
    #[error("the JWK holds a private key")]
    PrivateKey,
}

/// A validated P-256 public key. Serialized as `{"kty":"EC","crv":"P-256","x":...,"y":...}`;
/// other members (`kid`, `use`, `alg`) are ignored when reading, and `d` is refused.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicJwk {
    key: VerifyingKey,
}

impl PublicJwk {
    /// Wraps a verifying key.
    pub fn from_verifying_key(key: VerifyingKey) -> Self {
        Self { key }
    }

    /// Reads a SEC1 point, compressed (33 bytes) or uncompressed (65 bytes).
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, JwkError> {
        if bytes.len() != 33 && bytes.len() != 65 {
            return Err(JwkError::NotOnCurve);
        }
        let key = VerifyingKey::from_sec1_bytes(bytes).map_err(|_| JwkError::NotOnCurve)?;
        Ok(Self { key })
    }

    /// Reads the affine coordinates.
    pub fn from_coordinates(x: &[u8; 32], y: &[u8; 32]) -> Result<Self, JwkError> {
        let mut sec1 = [0u8; 65];
        sec1[0] = 4;
        sec1[1..33].copy_from_slice(x);
        sec1[33..].copy_from_slice(y);
        Self::from_sec1(&sec1)
    }

    /// The key for verifying ES256 signatures.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The SEC1 uncompressed point (65 bytes: `04 ‖ x ‖ y`), as HPKE's DHKEM(P-256) serializes it.
    pub fn to_sec1_uncompressed(&self) -> Vec<u8> {
        self.key.to_sec1_point(false).as_bytes().to_vec()
    }

    /// The SEC1 compressed point (33 bytes), as the enrollment QR carries it.
    pub fn to_sec1_compressed(&self) -> Vec<u8> {
        self.key.to_sec1_point(true).as_bytes().to_vec()
    }

    /// `x` and `y`, base64url.
    fn coordinates(&self) -> (String, String) {
        let sec1 = self.to_sec1_uncompressed();
        (b64::encode(&sec1[1..33]), b64::encode(&sec1[33..65]))
    }

    /// The RFC 7638 thumbprint: base64url(SHA-256 of the JWK's required members in
    /// lexicographic order, no whitespace). A device's id and a portal's key id.
    pub fn thumbprint(&self) -> String {
        let (x, y) = self.coordinates();
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        b64::encode(Sha256::digest(canonical.as_bytes()))
    }
}

impl std::fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicJwk({})", self.thumbprint())
    }
}

/// The JWK members as they appear on the wire.
#[derive(Serialize, Deserialize)]
struct RawJwk {
    kty: String,
    crv: String,
    x: String,
    y: String,
    #[serde(default, skip_serializing)]
    d: Option<serde_json::Value>,
}

impl TryFrom<RawJwk> for PublicJwk {
    type Error = JwkError;

    fn try_from(raw: RawJwk) -> Result<Self, JwkError> {
        if raw.d.is_some() {
            return Err(JwkError::PrivateKey);
        }
        if raw.kty != "EC" || raw.crv != "P-256" {
            return Err(JwkError::UnsupportedKey {
                kty: raw.kty,
                crv: raw.crv,
            });
        }
        let x = b64::decode_array::<32>(&raw.x).ok_or(JwkError::BadCoordinate)?;
        let y = b64::decode_array::<32>(&raw.y).ok_or(JwkError::BadCoordinate)?;
        Self::from_coordinates(&x, &y)
    }
}

impl Serialize for PublicJwk {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (x, y) = self.coordinates();
        RawJwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x,
            y,
            d: None,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PublicJwk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawJwk::deserialize(deserializer)?;
        PublicJwk::try_from(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7515 appendix A.3's ES256 key.
    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    fn rfc_key() -> PublicJwk {
        let json = format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}"}}"#);
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn reads_and_writes_a_jwk() {
        let key = rfc_key();
        let written = serde_json::to_string(&key).unwrap();
        assert_eq!(
            written,
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}"}}"#)
        );
    }

    #[test]
    fn thumbprint_is_rfc_7638() {
        // Independently computed: SHA-256 over {"crv":"P-256","kty":"EC","x":X,"y":Y}.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{X}","y":"{Y}"}}"#);
        let expected = b64::encode(Sha256::digest(canonical.as_bytes()));
        assert_eq!(rfc_key().thumbprint(), expected);
        assert_eq!(expected.len(), 43);
    }

    #[test]
    fn compressed_and_uncompressed_agree() {
        let key = rfc_key();
        let compressed = key.to_sec1_compressed();
        assert_eq!(compressed.len(), 33);
        assert_eq!(PublicJwk::from_sec1(&compressed).unwrap(), key);
        assert_eq!(key.to_sec1_uncompressed().len(), 65);
    }

    #[test]
    fn refuses_bad_keys() {
        let bad = |json: &str| {
            serde_json::from_str::<PublicJwk>(json)
                .unwrap_err()
                .to_string()
        };
        assert!(
            bad(&format!(
                r#"{{"kty":"EC","crv":"P-384","x":"{X}","y":"{Y}"}}"#
            ))
            .contains("P-256")
        );
        assert!(
            bad(&format!(
                r#"{{"kty":"RSA","crv":"P-256","x":"{X}","y":"{Y}"}}"#
            ))
            .contains("P-256")
        );
        assert!(
            bad(&format!(
                r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{X}"}}"#
            ))
            .contains("point")
        );
        assert!(
            bad(&format!(
                r#"{{"kty":"EC","crv":"P-256","x":"{X}=","y":"{Y}"}}"#
            ))
            .contains("coordinate")
        );
        assert!(
            bad(&format!(
                r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","d":"AA"}}"#
            ))
            .contains("private")
        );
        assert_eq!(PublicJwk::from_sec1(&[4; 64]), Err(JwkError::NotOnCurve));
    }
}
