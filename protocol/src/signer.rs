//! Who makes ES256 signatures. On phones the device key lives in the Secure Enclave or the
//! Android Keystore and signs there, so signing goes through the [`Signer`] trait; the portal,
//! the CLI and tests use [`SoftwareSigner`].

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use zeroize::Zeroizing;

use crate::jwk::PublicJwk;

/// Why a signer could not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The platform refused: the user cancelled the biometric prompt, the key was invalidated
    /// (biometrics changed) or the keystore failed. The text is the platform's, for the log.
    #[error("the platform key store refused to sign: {0}")]
    Platform(String),
}

/// Something holding an ES256 (P-256) private key.
pub trait Signer {
    /// The public half, as sent in registrations and pinned by peers.
    fn public_key(&self) -> PublicJwk;

    /// Signs `signing_input` (the JWS signing input: ASCII `header.payload`) with ECDSA P-256
    /// over SHA-256 and returns `r ‖ s`, 32 bytes each, big-endian (RFC 7518 §3.4).
    fn sign(&self, signing_input: &[u8]) -> Result<[u8; 64], SignerError>;
}

/// A P-256 key held in memory. Signatures are deterministic (RFC 6979), which makes the worked
/// examples in docs/protocol.md reproducible. The key is wiped when dropped.
#[derive(Clone)]
pub struct SoftwareSigner {
    key: SigningKey,
}

impl SoftwareSigner {
    /// A fresh key from the given RNG.
    pub fn generate(rng: &mut impl rand_core::CryptoRng) -> Self {
        loop {
            // A random 32-byte string is a valid scalar with probability 1 - 2^-32.
            let mut bytes = Zeroizing::new([0u8; 32]);
            rng.fill_bytes(bytes.as_mut());
            if let Some(signer) = Self::from_bytes(&bytes) {
                return signer;
            }
        }
    }

    /// Loads a private scalar (32 bytes, big-endian); `None` if it is zero or not below the
    /// group order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let key = SigningKey::from_slice(bytes).ok()?;
        Some(Self { key })
    }

    /// The private scalar, for storing the key. Wiped when the returned value is dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&self.key.to_bytes());
        out
    }
}

impl Signer for SoftwareSigner {
    fn public_key(&self) -> PublicJwk {
        PublicJwk::from_verifying_key(*self.key.verifying_key())
    }

    fn sign(&self, signing_input: &[u8]) -> Result<[u8; 64], SignerError> {
        let signature: Signature = self.key.sign(signing_input);
        let mut out = [0u8; 64];
        out.copy_from_slice(&signature.to_bytes());
        Ok(out)
    }
}

/// A [`SoftwareSigner`]'s key signing through *ring*: the same key and the same ES256
/// signatures for every verifier, but with random nonces (not RFC 6979) and about five times
/// faster, for a server that signs every request it sends (the portal's challenges). Its
/// signatures are not reproducible; the worked examples use [`SoftwareSigner`].
pub struct RingSigner {
    key: ring::signature::EcdsaKeyPair,
    public: PublicJwk,
    rng: ring::rand::SystemRandom,
}

impl RingSigner {
    /// The key of `signer`, for *ring*. `None` only if *ring* refuses a key `p256` accepted,
    /// which would be a bug in one of them.
    pub fn new(signer: &SoftwareSigner) -> Option<Self> {
        let public = signer.public_key();
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            signer.to_bytes().as_slice(),
            &public.to_sec1_uncompressed(),
            &rng,
        )
        .ok()?;
        Some(Self { key, public, rng })
    }
}

impl Signer for RingSigner {
    fn public_key(&self) -> PublicJwk {
        self.public.clone()
    }

    fn sign(&self, signing_input: &[u8]) -> Result<[u8; 64], SignerError> {
        let signature = self
            .key
            .sign(&self.rng, signing_input)
            .map_err(|_| SignerError::Platform("ring could not sign".into()))?;
        let mut out = [0u8; 64];
        out.copy_from_slice(signature.as_ref());
        Ok(out)
    }
}

impl std::fmt::Debug for RingSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RingSigner(<redacted>, {})", self.public.thumbprint())
    }
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SoftwareSigner(<redacted>, {})",
            self.public_key().thumbprint()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;

    #[test]
    fn signs_deterministically_and_verifies() {
        let signer = SoftwareSigner::from_bytes(&[7; 32]).unwrap();
        let a = signer.sign(b"hello").unwrap();
        assert_eq!(a, signer.sign(b"hello").unwrap());
        let signature = Signature::from_slice(&a).unwrap();
        assert!(
            signer
                .public_key()
                .verifying_key()
                .verify(b"hello", &signature)
                .is_ok()
        );
    }

    #[test]
    fn the_ring_signer_signs_for_the_same_key() {
        let signer = SoftwareSigner::from_bytes(&[7; 32]).unwrap();
        let fast = RingSigner::new(&signer).unwrap();
        assert_eq!(fast.public_key(), signer.public_key());
        let a = fast.sign(b"hello").unwrap();
        let b = fast.sign(b"hello").unwrap();
        assert_ne!(a, b, "random nonces");
        for sig in [a, b] {
            let signature = Signature::from_slice(&sig).unwrap();
            let key = signer.public_key();
            assert!(key.verifying_key().verify(b"hello", &signature).is_ok());
            assert!(key.verifying_key().verify(b"hellO", &signature).is_err());
        }
        assert!(!format!("{fast:?}").contains("0707"));
    }

    #[test]
    fn refuses_invalid_scalars_and_redacts() {
        assert!(SoftwareSigner::from_bytes(&[0; 32]).is_none());
        assert!(SoftwareSigner::from_bytes(&[0xff; 32]).is_none());
        let signer = SoftwareSigner::from_bytes(&[7; 32]).unwrap();
        assert_eq!(*signer.to_bytes(), [7; 32]);
        assert!(!format!("{signer:?}").contains("0707"));
    }
}
