//! Assent protocol v1: the messages that pass between a device, a portal and the push relay, and
//! the cryptography that protects them. docs/protocol.md is the specification; this crate is its
//! reference implementation.
//!
//! - [`enrollment`]: the push part of the enrollment QR (extra otpauth parameters);
//! - [`registration`]: the device's signed registration, checked by the portal;
//! - [`challenge`]: the portal's signed, end-to-end encrypted push challenge;
//! - [`answer`]: the device's signed approve or deny, checked by the portal;
//! - [`poll`]: signed requests for pending challenges and push-token updates;
//! - [`error_response`]: the portal's JSON error bodies and their HTTP statuses;
//! - [`jws`], [`jwk`], [`signer`], [`encryption`]: the JOSE and HPKE building blocks.
//!
//! Sans I/O: nothing here reads the clock or the network. Every check takes `now` (unix
//! seconds) as an argument and every random value comes from a caller's RNG, or is passed
//! explicitly to a `*_with` function so worked examples are reproducible.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod answer;
pub mod challenge;
pub mod encryption;
pub mod enrollment;
pub mod error_response;
pub mod jwk;
pub mod jws;
pub mod names;
pub mod poll;
pub mod registration;
pub mod signer;

mod b64;

pub use answer::{Answer, AnswerError, Decision, DenyReason, PendingChallenge, Response};
pub use challenge::{
    BuiltChallenge, Challenge, ChallengeContent, ChallengeError, LoginContext, NumberMatching,
    Purpose, UserVerification,
};
pub use encryption::EncryptionKey;
pub use enrollment::{EnrollmentError, EnrollmentToken, PushEnrollment};
pub use error_response::{ErrorCode, ErrorResponse};
pub use jwk::{JwkError, PublicJwk};
pub use jws::JwsError;
pub use names::UnknownName;
pub use poll::{Pending, Poll, PollError, PushTokenUpdate};
pub use registration::{
    ApnsEnvironment, Platform, PushConfig, Registration, RegistrationError, TokenState, Transport,
};
pub use signer::{RingSigner, Signer, SignerError, SoftwareSigner};

/// The protocol version this crate speaks: the `v` member of every message, `assent=` in the QR.
pub const VERSION: u32 = 1;

/// How far a peer's clock may differ from ours, in seconds. A message whose `iat` is more than
/// this far in the future is refused, and the device still opens a challenge up to this long
/// after its `exp` (the portal, whose clock is authoritative, allows no such grace).
pub const CLOCK_SKEW: u64 = 30;

/// A challenge's lifetime in seconds: `exp` is always `iat + CHALLENGE_LIFETIME`.
pub const CHALLENGE_LIFETIME: u64 = 60;

/// The operating system's random number generator, for callers without one of their own.
/// Panics if the operating system cannot supply randomness, as every RNG of this kind does.
pub fn system_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// A 128-bit random value, base64url: challenge ids, enrollment tokens and poll nonces.
pub(crate) fn random_id(rng: &mut impl rand_core::CryptoRng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    b64::encode(bytes)
}

/// True when `iat` is not further in the future than [`CLOCK_SKEW`] allows.
pub(crate) fn not_from_future(iat: u64, now: u64) -> bool {
    iat <= now.saturating_add(CLOCK_SKEW)
}

/// True when `iat` is within [`CLOCK_SKEW`] of `now`, either way.
pub(crate) fn within_skew(iat: u64, now: u64) -> bool {
    iat.abs_diff(now) <= CLOCK_SKEW
}

/// Whether `c` is refused in display text (docs/protocol.md §2.5): the C0 and C1 controls and
/// DEL, the Unicode bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F,
/// U+061C), and the line and paragraph separators (U+2028, U+2029). Each of them can make a
/// device name the help desk reads, or a sign-in context the user reads, show something other
/// than what it says: an override can make text read backwards, a separator can start a line
/// that looks like the portal's own.
pub fn refused_in_display_text(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// True when `s` is display text (docs/protocol.md §2.5): non-empty, at most `max` bytes, and
/// without a character [`refused_in_display_text`] refuses. For text shown to a user or an
/// administrator, or written to a log.
pub fn is_display_text(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && !s.chars().any(refused_in_display_text)
}
