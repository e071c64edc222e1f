//! base64url without padding (RFC 7515 §2), decoded strictly: no padding, no `+` or `/`, no
//! whitespace, and no stray bits in the last character, so every value has exactly one encoding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Encodes bytes as base64url without padding.
pub(crate) fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes canonical base64url without padding; `None` for anything else.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    // The engine refuses padding and non-zero trailing bits; check the round trip anyway so
    // the rule does not depend on an engine default.
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    (URL_SAFE_NO_PAD.encode(&bytes) == text).then_some(bytes)
}

/// Decodes canonical base64url into exactly `N` bytes.
pub(crate) fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    decode(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(encode([0xfb, 0xff]), "-_8");
        assert_eq!(decode("-_8"), Some(vec![0xfb, 0xff]));
    }

    #[test]
    fn refuses_non_canonical() {
        assert_eq!(decode("-_8="), None, "padding");
        assert_eq!(decode("+/8"), None, "standard alphabet");
        assert_eq!(decode("-_9"), None, "trailing bits set");
        assert_eq!(decode("-_ 8"), None, "whitespace");
        assert_eq!(decode("A"), None, "impossible length");
    }

    #[test]
    fn arrays_need_the_exact_length() {
        assert_eq!(decode_array::<2>("-_8"), Some([0xfb, 0xff]));
        assert_eq!(decode_array::<3>("-_8"), None);
    }
}
