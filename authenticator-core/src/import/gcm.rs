//! AES-256-GCM decryption, as both Aegis and 2FAS use it (96-bit nonce, 128-bit tag after the
//! ciphertext, no associated data).

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

/// Length of the authentication tag that follows the ciphertext.
pub(super) const TAG_LEN: usize = 16;

/// Why a ciphertext could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum OpenError {
    /// The key is not 32 bytes or the nonce not 12: the file is malformed.
    BadParameters,
    /// The tag does not match: wrong key, or damaged data.
    Rejected,
}

/// Decrypts `ciphertext_and_tag` (the ciphertext followed by its 16-byte tag). The buffer is
/// decrypted in place and returned without the tag; it is wiped when dropped.
pub(super) fn open(
    key: &[u8],
    nonce: &[u8],
    mut ciphertext_and_tag: Zeroizing<Vec<u8>>,
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    if nonce.len() != NONCE_LEN {
        return Err(OpenError::BadParameters);
    }
    let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| OpenError::BadParameters)?;
    let key = LessSafeKey::new(key);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::BadParameters)?;
    let plain_len = key
        .open_in_place(nonce, Aad::empty(), &mut ciphertext_and_tag)
        .map_err(|_| OpenError::Rejected)?
        .len();
    ciphertext_and_tag.truncate(plain_len);
    Ok(ciphertext_and_tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(key: &[u8], nonce: &[u8; 12], plain: &[u8]) -> Vec<u8> {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).unwrap());
        let mut buffer = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::empty(),
            &mut buffer,
        )
        .unwrap();
        buffer
    }

    #[test]
    fn opens_what_was_sealed_and_rejects_tampering() {
        let key = [7u8; 32];
        let nonce = [1u8; 12];
        let sealed = seal(&key, &nonce, b"hello");
        assert_eq!(sealed.len(), 5 + TAG_LEN);
        let opened = open(&key, &nonce, Zeroizing::new(sealed.clone())).unwrap();
        assert_eq!(opened.as_slice(), b"hello");

        let mut tampered = sealed.clone();
        tampered[0] ^= 1;
        assert_eq!(
            open(&key, &nonce, Zeroizing::new(tampered)),
            Err(OpenError::Rejected)
        );
        assert_eq!(
            open(&[8u8; 32], &nonce, Zeroizing::new(sealed.clone())),
            Err(OpenError::Rejected)
        );
        assert_eq!(
            open(&key, &nonce, Zeroizing::new(vec![0; 3])),
            Err(OpenError::Rejected)
        );
        assert_eq!(
            open(&key[..16], &nonce, Zeroizing::new(sealed.clone())),
            Err(OpenError::BadParameters)
        );
        assert_eq!(
            open(&key, &nonce[..8], Zeroizing::new(sealed)),
            Err(OpenError::BadParameters)
        );
    }
}
