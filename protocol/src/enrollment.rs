//! The push part of the enrollment QR. The QR holds one standard `otpauth://totp/...` URI (so
//! any authenticator app gets the TOTP account) with these extra parameters, which other apps
//! ignore:
//!
//! | parameter      | value                                                                |
//! |----------------|----------------------------------------------------------------------|
//! | `assent`       | protocol version, `1`                                                |
//! | `assent_url`   | the portal's base URL: `https://`, or `http://` on loopback only     |
//! | `assent_token` | one-time enrollment token: 128 random bits, base64url (22 chars)     |
//! | `assent_key`   | the portal's ES256 key: SEC1 compressed point, base64url (44 chars)  |
//! | `assent_exp`   | unix seconds after which the token is refused                        |
//!
//! authenticator-core splits and joins the URI; this module reads and writes the parameters.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::jwk::PublicJwk;
use crate::{CLOCK_SKEW, VERSION, b64};

/// Longest `assent_url` accepted.
pub const MAX_URL_LEN: usize = 512;

/// Why the QR's push parameters are not a usable enrollment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrollmentError {
    /// `assent` is not a version this build speaks; the app should ask the user to update.
    #[error("unsupported push protocol version {0:?}")]
    UnsupportedVersion(String),
    /// A required parameter is missing.
    #[error("missing parameter {0}")]
    Missing(&'static str),
    /// A parameter appears twice: the QR is ambiguous, so it is refused.
    #[error("parameter {0} appears more than once")]
    Duplicate(&'static str),
    /// `assent_url` is not https (or http on loopback), has user info, a query or a fragment,
    /// or is too long.
    #[error("assent_url is not an acceptable portal URL")]
    BadUrl,
    /// `assent_token` is not 22 characters of canonical base64url (128 bits).
    #[error("assent_token is not a 128-bit base64url token")]
    BadToken,
    /// `assent_key` is not a compressed P-256 point in base64url.
    #[error("assent_key is not a P-256 public key")]
    BadKey,
    /// `assent_exp` is not a whole number of seconds.
    #[error("assent_exp is not a unix time")]
    BadExpiry,
    /// The enrollment expired (more than the clock skew allowance ago); the user needs a new QR.
    #[error("the enrollment expired at {0}")]
    Expired(u64),
}

/// The one-time enrollment token. A bearer secret until it is used: wiped on drop, redacted
/// in Debug.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct EnrollmentToken(String);

impl EnrollmentToken {
    /// A fresh 128-bit token.
    pub fn generate(rng: &mut impl rand_core::CryptoRng) -> Self {
        Self(crate::random_id(rng))
    }

    /// Checks a token's form: 22 characters of canonical base64url, 16 bytes.
    pub fn parse(text: &str) -> Option<Self> {
        b64::decode_array::<16>(text)?;
        Some(Self(text.to_owned()))
    }

    /// The token text, for the registration and the portal's lookup.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for EnrollmentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrollmentToken(<redacted>)")
    }
}

/// What a device needs to register for push with a portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEnrollment {
    /// The portal's base URL, without a trailing `/`. Endpoints are `{url}/assent/v1/...`.
    pub portal_url: String,
    /// The one-time token that authorizes the registration.
    pub token: EnrollmentToken,
    /// The portal's signing key: the device pins it and trusts no other.
    pub portal_key: PublicJwk,
    /// Unix seconds after which the portal refuses the token.
    pub expires_at: u64,
}

const PARAMS: [&str; 5] = [
    "assent",
    "assent_url",
    "assent_token",
    "assent_key",
    "assent_exp",
];

impl PushEnrollment {
    /// Reads the push parameters from a parsed otpauth URI's extra parameters. `Ok(None)` when
    /// there is no `assent` parameter (a plain TOTP QR). Unknown `assent_*` parameters are
    /// ignored, so a later minor revision can add some.
    pub fn from_params(
        params: &[(String, String)],
        now: u64,
    ) -> Result<Option<Self>, EnrollmentError> {
        let mut found: [Option<&str>; 5] = [None; 5];
        for (name, value) in params {
            if let Some(i) = PARAMS.iter().position(|p| p == name) {
                if found[i].is_some() {
                    return Err(EnrollmentError::Duplicate(PARAMS[i]));
                }
                found[i] = Some(value);
            }
        }
        let [version, url, token, key, exp] = found;
        let Some(version) = version else {
            return Ok(None);
        };
        if version != VERSION.to_string() {
            return Err(EnrollmentError::UnsupportedVersion(version.to_owned()));
        }
        let url = url.ok_or(EnrollmentError::Missing("assent_url"))?;
        let token = token.ok_or(EnrollmentError::Missing("assent_token"))?;
        let key = key.ok_or(EnrollmentError::Missing("assent_key"))?;
        let exp = exp.ok_or(EnrollmentError::Missing("assent_exp"))?;

        let portal_url = check_url(url).ok_or(EnrollmentError::BadUrl)?;
        let token = EnrollmentToken::parse(token).ok_or(EnrollmentError::BadToken)?;
        let key = b64::decode_array::<33>(key).ok_or(EnrollmentError::BadKey)?;
        if key[0] != 2 && key[0] != 3 {
            return Err(EnrollmentError::BadKey);
        }
        let portal_key = PublicJwk::from_sec1(&key).map_err(|_| EnrollmentError::BadKey)?;
        let expires_at = parse_seconds(exp).ok_or(EnrollmentError::BadExpiry)?;
        if now > expires_at.saturating_add(CLOCK_SKEW) {
            return Err(EnrollmentError::Expired(expires_at));
        }
        Ok(Some(Self {
            portal_url,
            token,
            portal_key,
            expires_at,
        }))
    }

    /// The parameters to append to the otpauth URI, in this order.
    pub fn to_params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("assent", VERSION.to_string()),
            ("assent_url", self.portal_url.clone()),
            ("assent_token", self.token.expose().to_owned()),
            (
                "assent_key",
                b64::encode(self.portal_key.to_sec1_compressed()),
            ),
            ("assent_exp", self.expires_at.to_string()),
        ]
    }

    /// The pinned portal key's id (its RFC 7638 thumbprint), as the registration names it.
    pub fn portal_key_id(&self) -> String {
        self.portal_key.thumbprint()
    }

    /// The URL of a device endpoint, e.g. `endpoint("register")`.
    pub fn endpoint(&self, name: &str) -> String {
        format!("{}/assent/v1/{name}", self.portal_url)
    }
}

/// A decimal number of seconds without sign, spaces or leading zeros.
pub(crate) fn parse_seconds(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// Accepts `https://host[:port][/path]`, or `http://` when the host is loopback, and returns
/// it without a trailing `/`. No user info, query or fragment; the host is a DNS name, an IPv4
/// address or a bracketed IPv6 address.
fn check_url(url: &str) -> Option<String> {
    if url.len() > MAX_URL_LEN {
        return None;
    }
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority.ends_with(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    if let Some(port) = port {
        let port: u16 = parse_seconds(port)?.try_into().ok()?;
        if port == 0 {
            return None;
        }
    }
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    let path_ok = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~/%!$&'()*+,;=:@".contains(&b));
    (host_ok && path_ok && (https || loopback)).then(|| url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::{Signer as _, SoftwareSigner};

    const NOW: u64 = 1_800_000_000;

    fn enrollment() -> PushEnrollment {
        PushEnrollment {
            portal_url: "https://portal.example.com".into(),
            token: EnrollmentToken::parse("AAECAwQFBgcICQoLDA0ODw").unwrap(),
            portal_key: SoftwareSigner::from_bytes(&[9; 32]).unwrap().public_key(),
            expires_at: NOW + 600,
        }
    }

    fn params(enrollment: &PushEnrollment) -> Vec<(String, String)> {
        enrollment
            .to_params()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    fn with(name: &str, value: &str) -> Vec<(String, String)> {
        params(&enrollment())
            .into_iter()
            .map(|(k, v)| {
                if k == name {
                    (k, value.to_owned())
                } else {
                    (k, v)
                }
            })
            .collect()
    }

    #[test]
    fn round_trips() {
        let e = enrollment();
        let p = params(&e);
        assert_eq!(p[3].1.len(), 44);
        assert_eq!(
            PushEnrollment::from_params(&p, NOW).unwrap(),
            Some(e.clone())
        );
        assert_eq!(
            e.endpoint("register"),
            "https://portal.example.com/assent/v1/register"
        );
    }

    #[test]
    fn plain_totp_has_no_enrollment() {
        let p = vec![("issuer".to_owned(), "Example".to_owned())];
        assert_eq!(PushEnrollment::from_params(&p, NOW).unwrap(), None);
    }

    #[test]
    fn checks_version_and_presence() {
        assert_eq!(
            PushEnrollment::from_params(&with("assent", "2"), NOW),
            Err(EnrollmentError::UnsupportedVersion("2".into()))
        );
        let mut p = params(&enrollment());
        p.retain(|(k, _)| k != "assent_key");
        assert_eq!(
            PushEnrollment::from_params(&p, NOW),
            Err(EnrollmentError::Missing("assent_key"))
        );
        let mut p = params(&enrollment());
        p.push(("assent_url".into(), "https://evil.example".into()));
        assert_eq!(
            PushEnrollment::from_params(&p, NOW),
            Err(EnrollmentError::Duplicate("assent_url"))
        );
    }

    #[test]
    fn checks_the_url() {
        for good in [
            "https://portal.example.com",
            "https://portal.example.com:8443/idp/",
            "http://127.0.0.1:8080",
            "http://localhost:3000",
            "http://[::1]:3000",
            "https://[2001:db8::1]",
        ] {
            assert!(
                PushEnrollment::from_params(&with("assent_url", good), NOW).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "http://portal.example.com",
            "ftp://portal.example.com",
            "https://user@portal.example.com",
            "https://portal.example.com?x=1",
            "https://portal.example.com/#frag",
            "https://",
            "https://portal..example.com",
            "https://portal.example.com:0",
            "https://portal.example.com:99999",
            "http://127.0.0.2",
            "https://portal example.com",
        ] {
            assert_eq!(
                PushEnrollment::from_params(&with("assent_url", bad), NOW),
                Err(EnrollmentError::BadUrl),
                "{bad}"
            );
        }
        let long = format!("https://a.example/{}", "x".repeat(MAX_URL_LEN));
        assert_eq!(
            PushEnrollment::from_params(&with("assent_url", &long), NOW),
            Err(EnrollmentError::BadUrl)
        );
        let trailing =
            PushEnrollment::from_params(&with("assent_url", "https://a.example/idp/"), NOW);
        assert_eq!(
            trailing.unwrap().unwrap().portal_url,
            "https://a.example/idp"
        );
    }

    #[test]
    fn checks_token_key_and_expiry() {
        for bad in [
            "",
            "AAECAwQFBgcICQoLDA0OD",
            "AAECAwQFBgcICQoLDA0ODx",
            "AAECAwQFBgcICQoLDA0ODw=",
            "AAECAwQFBgcICQoLDA0ODwAA",
        ] {
            assert_eq!(
                PushEnrollment::from_params(&with("assent_token", bad), NOW),
                Err(EnrollmentError::BadToken),
                "{bad}"
            );
        }
        let uncompressed = b64::encode(enrollment().portal_key.to_sec1_uncompressed());
        let mut not_on_curve = enrollment().portal_key.to_sec1_compressed();
        not_on_curve[1..].fill(0xff);
        for bad in [uncompressed, b64::encode(not_on_curve), "AA".into()] {
            assert_eq!(
                PushEnrollment::from_params(&with("assent_key", &bad), NOW),
                Err(EnrollmentError::BadKey)
            );
        }
        for bad in ["", "-1", "01", "1e9", " 5", "18446744073709551616"] {
            assert_eq!(
                PushEnrollment::from_params(&with("assent_exp", bad), NOW),
                Err(EnrollmentError::BadExpiry),
                "{bad}"
            );
        }
        let exp = NOW + 600;
        assert!(PushEnrollment::from_params(&params(&enrollment()), exp + CLOCK_SKEW).is_ok());
        assert_eq!(
            PushEnrollment::from_params(&params(&enrollment()), exp + CLOCK_SKEW + 1),
            Err(EnrollmentError::Expired(exp))
        );
    }

    #[test]
    fn token_is_redacted() {
        assert_eq!(
            format!("{:?}", enrollment().token),
            "EnrollmentToken(<redacted>)"
        );
    }
}
