//! The two JSON Web Tokens the relay signs: the APNs provider token (ES256) and the Google OAuth
//! assertion (RS256). `ring` signs both, so no JWT crate is needed.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};

/// Why a key could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The text holds no PEM block with the expected label.
    #[error("no PEM block labelled {0}")]
    NoPem(&'static str),
    /// The PEM block is not valid base64.
    #[error("PEM block is not valid base64")]
    Base64,
    /// The key is not a PKCS#8 key of the expected kind.
    #[error("not a usable {0} PKCS#8 key")]
    Rejected(&'static str),
    /// Signing failed (should not happen with a loaded key).
    #[error("signing failed")]
    Sign,
}

/// Extracts the DER bytes of the first `-----BEGIN {label}-----` block of `pem`.
pub fn pem_to_der(pem: &str, label: &'static str) -> Result<Vec<u8>, KeyError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or(KeyError::NoPem(label))? + begin.len();
    let stop = pem[start..].find(&end).ok_or(KeyError::NoPem(label))? + start;
    let b64: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).map_err(|_| KeyError::Base64)
}

/// base64url without padding, as JOSE wants.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An ES256 signer made from an Apple .p8 key.
pub struct Es256Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for Es256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Es256Signer(..)")
    }
}

impl Es256Signer {
    /// Loads a PKCS#8 PEM P-256 key (the .p8 file Apple hands out).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_to_der(pem, "PRIVATE KEY")?;
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
            .map_err(|_| KeyError::Rejected("P-256"))?;
        Ok(Self { key, rng })
    }

    /// Signs `header.claims` (both JSON) into a compact JWS.
    pub fn sign(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<String, KeyError> {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig = self
            .key
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| KeyError::Sign)?;
        Ok(format!("{input}.{}", b64url(sig.as_ref())))
    }
}

/// An RS256 signer made from a Google service account's private key.
pub struct Rs256Signer {
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for Rs256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rs256Signer(..)")
    }
}

impl Rs256Signer {
    /// Loads a PKCS#8 PEM RSA key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_to_der(pem, "PRIVATE KEY")?;
        let key = RsaKeyPair::from_pkcs8(&der).map_err(|_| KeyError::Rejected("RSA"))?;
        Ok(Self {
            key,
            rng: SystemRandom::new(),
        })
    }

    /// Signs `header.claims` (both JSON) into a compact JWS.
    pub fn sign(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<String, KeyError> {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut sig = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, input.as_bytes(), &mut sig)
            .map_err(|_| KeyError::Sign)?;
        Ok(format!("{input}.{}", b64url(&sig)))
    }
}
