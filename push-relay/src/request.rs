//! Parsing of a tenant's push request: raw bytes in, a checked [`Push`] out ("parse, don't
//! validate"); every later stage can trust its fields.

use assent_relay_api::PushRequest;

/// Furthest a push may expire in the future, in seconds: a login challenge lives 60 s.
pub const MAX_EXPIRY_SECONDS: u64 = 60;
/// Longest opaque payload, in characters (base64url, or a compact JWS). With the `aps`
/// dictionary around it this keeps an APNs payload under Apple's 4096 bytes and an FCM data
/// message under its 4 KB.
pub const MAX_PAYLOAD_CHARS: usize = 3_800;
/// Longest collapse id (Apple's limit for `apns-collapse-id`).
pub const MAX_COLLAPSE_ID_BYTES: usize = 64;
/// Longest device token of any platform (FCM registration tokens are the longest, ~160-200).
pub const MAX_DEVICE_TOKEN_CHARS: usize = 4_096;

pub use assent_relay_api::Platform;

/// A checked push request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// Where it goes.
    pub platform: Platform,
    /// The device's token on that platform.
    pub device_token: String,
    /// The opaque, end-to-end encrypted challenge, as the tenant sent it (base64url, or a compact
    /// JWS: base64url segments joined by `.`).
    pub payload: String,
    /// Unix seconds after which the push is worthless.
    pub expires_at: u64,
    /// Lets a later push replace an undelivered earlier one.
    pub collapse_id: Option<String>,
}

/// Why a request was refused before any delivery was tried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body is not a JSON object of the documented shape.
    #[error("body is not a valid push request: {0}")]
    InvalidJson(String),
    /// The device token is empty, too long or has characters the platform never uses.
    #[error("device_token is not a valid {0} token")]
    InvalidDeviceToken(&'static str),
    /// The payload is empty or has a character outside base64url and `.`.
    #[error("payload must be non-empty and only A-Z a-z 0-9 - _ . (base64url or compact JWS)")]
    InvalidPayload,
    /// The payload is longer than [`MAX_PAYLOAD_CHARS`].
    #[error("payload is longer than {MAX_PAYLOAD_CHARS} characters")]
    PayloadTooLarge,
    /// `expires_at` is not in the future.
    #[error("expires_at is not in the future")]
    Expired,
    /// `expires_at` is more than [`MAX_EXPIRY_SECONDS`] ahead.
    #[error("expires_at is more than {MAX_EXPIRY_SECONDS} seconds ahead")]
    ExpiryTooFar,
    /// The collapse id is empty, too long or not printable ASCII.
    #[error("collapse_id must be 1 to {MAX_COLLAPSE_ID_BYTES} printable ASCII characters")]
    InvalidCollapseId,
}

impl RequestError {
    /// The stable machine-readable code returned in the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidDeviceToken(_) => "invalid_device_token",
            Self::InvalidPayload => "invalid_payload",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Expired => "expired",
            Self::ExpiryTooFar => "expiry_too_far",
            Self::InvalidCollapseId => "invalid_collapse_id",
        }
    }
}

/// The fields of a push request, as the API documents them.
const FIELDS: &str = "platform, device_token, payload, expires_at, collapse_id";

/// Says what is wrong with a body that did not parse, naming the field and what it allows,
/// never quoting a value (serde's own messages may quote input). Only the error path pays for
/// reading the body a second time.
fn explain(body: &[u8], error: &serde_json::Error) -> RequestError {
    let at = || format!("at line {} column {}", error.line(), error.column());
    let fields = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(fields)) => fields,
        Ok(_) => {
            return RequestError::InvalidJson(format!(
                "the body must be a JSON object with the fields {FIELDS}"
            ));
        }
        Err(_) => return RequestError::InvalidJson(format!("the body is not JSON ({})", at())),
    };
    let reason = |field: &str, expected: &str| {
        RequestError::InvalidJson(format!("{field} must be {expected}"))
    };
    for (field, expected) in [
        ("platform", "one of \"apns\", \"fcm\", \"direct\""),
        ("device_token", "a string"),
        ("payload", "a string"),
        ("expires_at", "a whole number of Unix seconds"),
    ] {
        match fields.get(field) {
            None => return RequestError::InvalidJson(format!("the field {field} is missing")),
            Some(value) => {
                let fine = match field {
                    "platform" => value
                        .as_str()
                        .is_some_and(|p| ["apns", "fcm", "direct"].contains(&p)),
                    "expires_at" => value.as_u64().is_some(),
                    _ => value.is_string(),
                };
                if !fine {
                    return reason(field, expected);
                }
            }
        }
    }
    if fields
        .get("collapse_id")
        .is_some_and(|c| !c.is_string() && !c.is_null())
    {
        return reason("collapse_id", "a string");
    }
    let known: Vec<&str> = FIELDS.split(", ").collect();
    if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
        let named = unknown.len() <= 32
            && unknown
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return RequestError::InvalidJson(if named {
            format!("unknown field {unknown}: the fields are {FIELDS}")
        } else {
            format!("an unknown field: the fields are {FIELDS}")
        });
    }
    RequestError::InvalidJson(format!("the body is not a valid push request ({})", at()))
}

impl Push {
    /// Parses and checks a request body, `now` being the current Unix time in seconds.
    pub fn parse(body: &[u8], now: u64) -> Result<Self, RequestError> {
        let wire: PushRequest = serde_json::from_slice(body).map_err(|e| explain(body, &e))?;
        check_device_token(wire.platform, &wire.device_token)?;
        if wire.payload.len() > MAX_PAYLOAD_CHARS {
            return Err(RequestError::PayloadTooLarge);
        }
        // The relay never reads the payload, so it checks only the alphabet: base64url, and `.`
        // because the portal sends its challenge as a compact JWS (docs/protocol.md §5).
        if wire.payload.is_empty()
            || !wire
                .payload
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(RequestError::InvalidPayload);
        }
        if wire.expires_at <= now {
            return Err(RequestError::Expired);
        }
        if wire.expires_at - now > MAX_EXPIRY_SECONDS {
            return Err(RequestError::ExpiryTooFar);
        }
        if let Some(c) = &wire.collapse_id
            && (c.is_empty()
                || c.len() > MAX_COLLAPSE_ID_BYTES
                || !c.bytes().all(|b| (0x20..0x7f).contains(&b)))
        {
            return Err(RequestError::InvalidCollapseId);
        }
        Ok(Self {
            platform: wire.platform,
            device_token: wire.device_token,
            payload: wire.payload,
            expires_at: wire.expires_at,
            collapse_id: wire.collapse_id,
        })
    }
}

fn check_device_token(platform: Platform, token: &str) -> Result<(), RequestError> {
    let ok = match platform {
        // 32 bytes today; Apple warns the length may grow, so accept any even-length hex.
        Platform::Apns => {
            (16..=400).contains(&token.len())
                && token.len().is_multiple_of(2)
                && token.bytes().all(|b| b.is_ascii_hexdigit())
        }
        Platform::Fcm => {
            (1..=MAX_DEVICE_TOKEN_CHARS).contains(&token.len())
                && token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
        }
        Platform::Direct => crate::direct::is_valid_token(token),
    };
    if ok {
        Ok(())
    } else {
        Err(RequestError::InvalidDeviceToken(platform.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn body(platform: &str, token: &str, payload: &str, expires: u64) -> Vec<u8> {
        serde_json::json!({"platform": platform, "device_token": token, "payload": payload, "expires_at": expires})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn accepts_a_good_request() {
        let token = "ab".repeat(32);
        let push = Push::parse(&body("apns", &token, "AAEC", NOW + 60), NOW).unwrap();
        assert_eq!(push.platform, Platform::Apns);
        assert_eq!(push.expires_at, NOW + 60);
    }

    #[test]
    fn accepts_a_compact_jws_payload_unchanged() {
        let token = "ab".repeat(32);
        let jws = "eyJhbGciOiJFUzI1NiJ9.eyJjIjoiQUFFQyJ9.MEUCIQDx-_0";
        let push = Push::parse(&body("fcm", &token, jws, NOW + 60), NOW).unwrap();
        assert_eq!(push.payload, jws);
        // Padding and the standard alphabet are still refused: they are neither base64url nor JWS.
        for bad in ["AA+/", "AA==", "a b", "a.b\n"] {
            assert_eq!(
                Push::parse(&body("fcm", &token, bad, NOW + 60), NOW)
                    .unwrap_err()
                    .code(),
                "invalid_payload",
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_each_bad_field() {
        let token = "ab".repeat(32);
        let cases = [
            (body("apns", "zz", "AAEC", NOW + 30), "invalid_device_token"),
            (body("apns", &token, "", NOW + 30), "invalid_payload"),
            (body("apns", &token, "AA+/", NOW + 30), "invalid_payload"),
            (
                body("apns", &token, &"A".repeat(MAX_PAYLOAD_CHARS + 1), NOW + 30),
                "payload_too_large",
            ),
            (body("apns", &token, "AAEC", NOW), "expired"),
            (body("apns", &token, "AAEC", NOW + 61), "expiry_too_far"),
            (body("pigeon", &token, "AAEC", NOW + 30), "invalid_json"),
            (b"{".to_vec(), "invalid_json"),
        ];
        for (b, code) in cases {
            assert_eq!(Push::parse(&b, NOW).unwrap_err().code(), code);
        }
        let long = serde_json::json!({"platform": "fcm", "device_token": "t", "payload": "AA", "expires_at": NOW + 5, "collapse_id": "x".repeat(65)});
        assert_eq!(
            Push::parse(long.to_string().as_bytes(), NOW)
                .unwrap_err()
                .code(),
            "invalid_collapse_id"
        );
    }

    #[test]
    fn input_errors_name_the_field_and_what_it_allows() {
        let token = "ab".repeat(32);
        let ok = serde_json::json!({"platform": "apns", "device_token": token, "payload": "AA", "expires_at": NOW + 5});
        let with = |field: &str, value: serde_json::Value| {
            let mut v = ok.clone();
            v[field] = value;
            v.to_string()
        };
        let without = |field: &str| {
            let mut v = ok.clone();
            v.as_object_mut().unwrap().remove(field);
            v.to_string()
        };
        let cases = [
            (without("platform"), "the field platform is missing"),
            (without("expires_at"), "the field expires_at is missing"),
            (
                with("platform", "pigeon".into()),
                r#"platform must be one of "apns", "fcm", "direct""#,
            ),
            (
                with("expires_at", "soon".into()),
                "expires_at must be a whole number of Unix seconds",
            ),
            (with("payload", 1.into()), "payload must be a string"),
            (
                with("collapse_id", 1.into()),
                "collapse_id must be a string",
            ),
            (
                with("priority", "high".into()),
                "unknown field priority: the fields are platform, device_token, payload, expires_at, collapse_id",
            ),
            (
                "[1]".to_owned(),
                "the body must be a JSON object with the fields",
            ),
            ("{".to_owned(), "the body is not JSON (at line 1 column 1)"),
        ];
        for (body, want) in cases {
            let err = Push::parse(body.as_bytes(), NOW).unwrap_err();
            assert_eq!(err.code(), "invalid_json");
            assert!(err.to_string().contains(want), "{body}: {err}");
        }
    }

    #[test]
    fn json_errors_do_not_echo_the_input() {
        let secret = "SECRET-PAYLOAD-123";
        let b = format!(r#"{{"platform":"apns","device_token":"{secret}","payload":1}}"#);
        let err = Push::parse(b.as_bytes(), NOW).unwrap_err().to_string();
        assert!(!err.contains(secret), "{err}");
    }
}
