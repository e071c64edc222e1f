//! Secret bytes: zeroized on drop, never printed, decoded from base32 leniently.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Key material (an OTP shared secret, a vault key): wiped from memory when dropped and shown
/// as `<redacted>` by `Debug`, so it cannot reach a log or an error message by accident.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps bytes that are already in memory; the caller's vector is moved, not copied.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes, for the few places (HMAC, encryption) that must read them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Decodes base32 (RFC 4648) the way people paste it: any case, with or without `=`
    /// padding, with spaces and dashes between groups.
    pub fn from_base32(text: &str) -> Result<Self, Base32Error> {
        let mut clean = Zeroizing::new(String::with_capacity(text.len()));
        for c in text.chars() {
            match c {
                ' ' | '-' | '\t' => {}
                'a'..='z' => clean.push(c.to_ascii_uppercase()),
                'A'..='Z' | '2'..='7' => clean.push(c),
                '=' => {}
                other => return Err(Base32Error::InvalidCharacter(other)),
            }
        }
        if text.trim_end_matches([' ', '-', '\t', '=']).contains('=') {
            return Err(Base32Error::MisplacedPadding);
        }
        if clean.is_empty() {
            return Err(Base32Error::Empty);
        }
        // Lengths 1, 3 and 6 (mod 8) cannot be produced by any byte string.
        if matches!(clean.len() % 8, 1 | 3 | 6) {
            return Err(Base32Error::InvalidLength(clean.len()));
        }
        base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &clean)
            .map(Self)
            .ok_or(Base32Error::InvalidLength(clean.len()))
    }

    /// Encodes as unpadded upper-case base32, the form otpauth URIs use.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32::encode(
            base32::Alphabet::Rfc4648 { padding: false },
            &self.0,
        ))
    }
}

impl PartialEq for SecretBytes {
    /// Constant-time in the content, so comparing secrets leaks only their lengths.
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(other.0.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl Eq for SecretBytes {}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<redacted {} bytes>)", self.0.len())
    }
}

/// Why a base32 secret could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base32Error {
    /// Nothing but separators or padding.
    #[error("it is empty")]
    Empty,
    /// A character outside A–Z, 2–7 (the character is not secret on its own, so it is shown).
    #[error("it contains {0:?}, which is not a base32 character (A-Z, 2-7)")]
    InvalidCharacter(char),
    /// `=` padding somewhere other than the end.
    #[error("it has '=' padding before the end")]
    MisplacedPadding,
    /// A number of characters that no byte string encodes to.
    #[error("{0} base32 characters cannot encode whole bytes")]
    InvalidLength(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_lenient_forms_alike() {
        let canonical = SecretBytes::from_base32("JBSWY3DPEHPK3PXP").unwrap();
        for form in [
            "jbswy3dpehpk3pxp",
            "JBSW Y3DP EHPK 3PXP",
            "jbsw-y3dp-ehpk-3pxp",
            "JBSWY3DPEHPK3PXP======",
        ] {
            assert_eq!(SecretBytes::from_base32(form).unwrap(), canonical, "{form}");
        }
        assert_eq!(canonical.expose(), b"Hello!\xde\xad\xbe\xef");
        assert_eq!(canonical.to_base32().as_str(), "JBSWY3DPEHPK3PXP");
    }

    #[test]
    fn refuses_bad_base32() {
        assert_eq!(SecretBytes::from_base32(""), Err(Base32Error::Empty));
        assert_eq!(SecretBytes::from_base32(" - ="), Err(Base32Error::Empty));
        assert_eq!(
            SecretBytes::from_base32("JBSWY3DP1"),
            Err(Base32Error::InvalidCharacter('1'))
        );
        assert_eq!(
            SecretBytes::from_base32("JBS=WY3DP"),
            Err(Base32Error::MisplacedPadding)
        );
        assert_eq!(SecretBytes::from_base32("JBSWY3D").unwrap().len(), 4);
        assert_eq!(
            SecretBytes::from_base32("JBSWY3"),
            Err(Base32Error::InvalidLength(6))
        );
        assert_eq!(
            SecretBytes::from_base32("A"),
            Err(Base32Error::InvalidLength(1))
        );
    }

    #[test]
    fn debug_never_shows_the_bytes() {
        let s = SecretBytes::new(b"hunter2hunter2".to_vec());
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter"));
        assert!(shown.contains("redacted"));
    }
}
