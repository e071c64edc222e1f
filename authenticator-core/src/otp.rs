//! One-time codes: HOTP (RFC 4226), TOTP (RFC 6238) and Steam Guard.
//!
//! Everything here is a pure function of the secret, the parameters and the time or counter the
//! caller passes in; nothing reads a clock.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::secret::SecretBytes;

/// The HMAC hash an account uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Algorithm {
    /// HMAC-SHA1, the default of RFC 4226 and of nearly every issuer.
    #[default]
    #[serde(rename = "SHA1")]
    Sha1,
    /// HMAC-SHA256.
    #[serde(rename = "SHA256")]
    Sha256,
    /// HMAC-SHA512.
    #[serde(rename = "SHA512")]
    Sha512,
}

impl Algorithm {
    /// The name used in otpauth URIs and exports (`SHA1`, `SHA256`, `SHA512`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// Parses a name case-insensitively, with or without a dash (`sha-256`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            "SHA512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn totp_rs(self) -> totp_rs::Algorithm {
        match self {
            Self::Sha1 => totp_rs::Algorithm::SHA1,
            Self::Sha256 => totp_rs::Algorithm::SHA256,
            Self::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of one-time password an account produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtpKind {
    /// Time-based (RFC 6238).
    Totp,
    /// Counter-based (RFC 4226).
    Hotp,
    /// Steam Guard: TOTP with SHA1, a 30 s period and five characters from Steam's alphabet.
    Steam,
}

impl OtpKind {
    /// The name used in otpauth URIs and in `list --json` (`totp`, `hotp`, `steam`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Hotp => "hotp",
            Self::Steam => "steam",
        }
    }
}

/// Digits allowed for TOTP and HOTP codes.
pub const DIGITS: std::ops::RangeInclusive<u8> = 6..=8;
/// Steam Guard codes always have five characters.
pub const STEAM_DIGITS: u8 = 5;
/// The period and digits every issuer assumes when a URI does not say.
pub const DEFAULT_PERIOD: u32 = 30;
/// Default number of digits.
pub const DEFAULT_DIGITS: u8 = 6;
/// The shortest secret accepted: 80 bits, the floor RFC 4226 allows in practice (it recommends
/// 160) and the shortest that real issuers hand out.
pub const MIN_SECRET_BYTES: usize = 10;

const STEAM_ALPHABET: &[u8; 26] = b"23456789BCDFGHJKMNPQRTVWXY";

/// The parameters of an account's codes, valid by construction: build them with [`OtpParams::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OtpParams {
    kind: OtpKind,
    algorithm: Algorithm,
    digits: u8,
    period: u32,
    counter: u64,
}

/// Why a set of OTP parameters cannot make codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// TOTP and HOTP codes have 6 to 8 digits; Steam codes have 5.
    #[error("digits must be 6 to 8 (5 for Steam), not {0}")]
    DigitsOutOfRange(u32),
    /// A TOTP period of zero seconds.
    #[error("period must be at least 1 second")]
    ZeroPeriod,
    /// Steam Guard codes are defined only for SHA1.
    #[error("Steam codes use SHA1, not {0}")]
    SteamAlgorithm(Algorithm),
}

impl OtpParams {
    /// Checks and builds parameters. `period` means nothing for HOTP and `counter` nothing for
    /// TOTP/Steam: they are set to 30 and 0 there.
    pub fn new(
        kind: OtpKind,
        algorithm: Algorithm,
        digits: u32,
        period: u32,
        counter: u64,
    ) -> Result<Self, ParamsError> {
        let digits_ok = match kind {
            OtpKind::Steam => digits == u32::from(STEAM_DIGITS),
            OtpKind::Totp | OtpKind::Hotp => {
                u8::try_from(digits).is_ok_and(|d| DIGITS.contains(&d))
            }
        };
        if !digits_ok {
            return Err(ParamsError::DigitsOutOfRange(digits));
        }
        if kind != OtpKind::Hotp && period == 0 {
            return Err(ParamsError::ZeroPeriod);
        }
        if kind == OtpKind::Steam && algorithm != Algorithm::Sha1 {
            return Err(ParamsError::SteamAlgorithm(algorithm));
        }
        Ok(Self {
            kind,
            algorithm,
            digits: digits as u8,
            // Values that mean nothing for the kind are normalised, so that equal accounts
            // compare equal however they were written.
            period: if kind == OtpKind::Hotp {
                DEFAULT_PERIOD
            } else {
                period
            },
            counter: if kind == OtpKind::Hotp { counter } else { 0 },
        })
    }

    /// TOTP with the given settings.
    pub fn totp(algorithm: Algorithm, digits: u32, period: u32) -> Result<Self, ParamsError> {
        Self::new(OtpKind::Totp, algorithm, digits, period, 0)
    }

    /// HOTP at `counter`.
    pub fn hotp(algorithm: Algorithm, digits: u32, counter: u64) -> Result<Self, ParamsError> {
        Self::new(OtpKind::Hotp, algorithm, digits, DEFAULT_PERIOD, counter)
    }

    /// Steam Guard (SHA1, 5 characters, 30 s).
    pub fn steam() -> Self {
        Self {
            kind: OtpKind::Steam,
            algorithm: Algorithm::Sha1,
            digits: STEAM_DIGITS,
            period: DEFAULT_PERIOD,
            counter: 0,
        }
    }

    /// The kind of code.
    pub fn kind(&self) -> OtpKind {
        self.kind
    }
    /// The HMAC hash.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    /// Code length (characters for Steam).
    pub fn digits(&self) -> u8 {
        self.digits
    }
    /// Seconds per TOTP step (30 for HOTP too, where it means nothing).
    pub fn period(&self) -> u32 {
        self.period
    }
    /// The HOTP counter of the next code (0 for time-based kinds).
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// The same parameters with another HOTP counter.
    pub fn with_counter(self, counter: u64) -> Self {
        Self { counter, ..self }
    }

    /// The code valid at `unix_seconds` (for HOTP: the code at the stored counter; the time is
    /// ignored and `remaining_seconds` is `None`).
    pub fn code(&self, secret: &SecretBytes, unix_seconds: u64) -> Code {
        match self.kind {
            OtpKind::Hotp => Code {
                value: decimal(self.truncated(secret, self.counter), self.digits),
                remaining_seconds: None,
            },
            OtpKind::Totp | OtpKind::Steam => {
                let period = u64::from(self.period);
                let step = unix_seconds / period;
                let truncated = self.truncated(secret, step);
                let value = if self.kind == OtpKind::Steam {
                    steam(truncated)
                } else {
                    decimal(truncated, self.digits)
                };
                Code {
                    value,
                    remaining_seconds: Some((period - unix_seconds % period) as u32),
                }
            }
        }
    }

    /// HMAC of the 8-byte big-endian moving factor, then RFC 4226 dynamic truncation to 31 bits.
    ///
    /// The HMAC comes from totp-rs (RustCrypto's hmac/sha1/sha2, which use SHA-NI where the CPU
    /// has it: about twice as fast as ring's portable SHA-1 here). A step of one second makes its
    /// `sign(t)` the HMAC of `t` itself, which serves HOTP counters and TOTP steps alike; its copy
    /// of the secret is wiped on drop.
    fn truncated(&self, secret: &SecretBytes, moving_factor: u64) -> u32 {
        let hmac = totp_rs::Builder::new()
            .with_algorithm(self.algorithm.totp_rs())
            .with_step_duration(1)
            .with_secret(secret.expose())
            .build_noncompliant();
        let tag = hmac.sign(moving_factor);
        let mac = tag.as_ref();
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        u32::from_be_bytes([
            mac[offset],
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]) & 0x7fff_ffff
    }
}

fn decimal(truncated: u32, digits: u8) -> String {
    let modulus = 10u32.pow(u32::from(digits));
    let mut out = [b'0'; 8];
    let mut value = truncated % modulus;
    let len = usize::from(digits);
    for slot in out[..len].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out[..len].iter().map(|&b| char::from(b)).collect()
}

fn steam(mut truncated: u32) -> String {
    let mut out = String::with_capacity(usize::from(STEAM_DIGITS));
    for _ in 0..STEAM_DIGITS {
        out.push(char::from(STEAM_ALPHABET[(truncated % 26) as usize]));
        truncated /= 26;
    }
    out
}

/// A code and how long it stays valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// The code as the user types it (digits, or Steam's letters).
    pub value: String,
    /// Seconds until the next code (1..=period); `None` for HOTP, whose code changes only when
    /// the counter advances.
    pub remaining_seconds: Option<u32>,
}

impl Code {
    /// The code split in two halves for reading aloud and display: `123 456`, `1234 5678`;
    /// shorter codes and Steam's letters as they are.
    pub fn grouped(&self) -> String {
        let code = &self.value;
        if code.len() < 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return code.clone();
        }
        let (a, b) = code.split_at(code.len() / 2);
        format!("{a} {b}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(bytes: &[u8]) -> SecretBytes {
        SecretBytes::new(bytes.to_vec())
    }

    #[test]
    fn rfc4226_appendix_d() {
        let key = secret(b"12345678901234567890");
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, want) in expected.iter().enumerate() {
            let params = OtpParams::hotp(Algorithm::Sha1, 6, counter as u64).unwrap();
            let code = params.code(&key, 0);
            assert_eq!(code.value, *want, "counter {counter}");
            assert_eq!(code.remaining_seconds, None);
        }
    }

    #[test]
    fn rfc6238_appendix_b() {
        let sha1 = secret(b"12345678901234567890");
        let sha256 = secret(b"12345678901234567890123456789012");
        let sha512 = secret(b"1234567890123456789012345678901234567890123456789012345678901234");
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (time, want1, want256, want512) in table {
            for (key, algorithm, want) in [
                (&sha1, Algorithm::Sha1, want1),
                (&sha256, Algorithm::Sha256, want256),
                (&sha512, Algorithm::Sha512, want512),
            ] {
                let params = OtpParams::totp(algorithm, 8, 30).unwrap();
                assert_eq!(params.code(key, time).value, want, "{algorithm} at {time}");
            }
        }
    }

    #[test]
    fn remaining_seconds_counts_down_to_one() {
        let params = OtpParams::totp(Algorithm::Sha1, 6, 30).unwrap();
        let key = secret(b"12345678901234567890");
        assert_eq!(params.code(&key, 60).remaining_seconds, Some(30));
        assert_eq!(params.code(&key, 61).remaining_seconds, Some(29));
        assert_eq!(params.code(&key, 89).remaining_seconds, Some(1));
        let one_second = OtpParams::totp(Algorithm::Sha1, 6, 1).unwrap();
        assert_eq!(one_second.code(&key, 12345).remaining_seconds, Some(1));
        assert_ne!(
            one_second.code(&key, 1).value,
            one_second.code(&key, 2).value
        );
    }

    #[test]
    fn steam_codes_match_known_vector() {
        // Aegis and 2FAS compute Steam codes as the 31-bit truncated HOTP value, base 26 in
        // Steam's alphabet, least significant character first.
        let params = OtpParams::steam();
        let key = secret(b"12345678901234567890");
        let code = params.code(&key, 59);
        assert_eq!(code.value.len(), 5);
        assert!(code.value.bytes().all(|b| STEAM_ALPHABET.contains(&b)));
        // Same moving factor as RFC 6238's first vector: truncated value 1094287082.
        let mut v = 1094287082u32;
        let mut want = String::new();
        for _ in 0..5 {
            want.push(char::from(STEAM_ALPHABET[(v % 26) as usize]));
            v /= 26;
        }
        assert_eq!(code.value, want);
    }

    #[test]
    fn refuses_impossible_parameters() {
        assert_eq!(
            OtpParams::totp(Algorithm::Sha1, 5, 30),
            Err(ParamsError::DigitsOutOfRange(5))
        );
        assert_eq!(
            OtpParams::totp(Algorithm::Sha1, 9, 30),
            Err(ParamsError::DigitsOutOfRange(9))
        );
        assert_eq!(
            OtpParams::totp(Algorithm::Sha1, 6, 0),
            Err(ParamsError::ZeroPeriod)
        );
        assert_eq!(
            OtpParams::new(OtpKind::Steam, Algorithm::Sha256, 5, 30, 0),
            Err(ParamsError::SteamAlgorithm(Algorithm::Sha256))
        );
        assert!(OtpParams::hotp(Algorithm::Sha512, 8, u64::MAX).is_ok());
    }

    #[test]
    fn algorithm_names_parse_leniently() {
        assert_eq!(Algorithm::parse("sha256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::parse("SHA-512"), Some(Algorithm::Sha512));
        assert_eq!(Algorithm::parse("MD5"), None);
    }

    #[test]
    fn codes_are_grouped_in_halves_for_reading() {
        let code = |value: &str| Code {
            value: value.into(),
            remaining_seconds: None,
        };
        assert_eq!(code("123456").grouped(), "123 456");
        assert_eq!(code("12345678").grouped(), "1234 5678");
        assert_eq!(code("1234567").grouped(), "123 4567");
        assert_eq!(code("12345").grouped(), "12345");
        assert_eq!(
            code("2B4QX").grouped(),
            "2B4QX",
            "Steam's letters stay whole"
        );
    }
}
