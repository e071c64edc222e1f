//! Google Authenticator's "Transfer accounts" export: `otpauth-migration://offline?data=…`, where
//! `data` is base64 of a protobuf `MigrationPayload`. A large export is split over several QR
//! codes (a batch); each decodes on its own and says which part of which batch it is.

use prost::Message;
use zeroize::{Zeroize, Zeroizing};

use super::{Entry, Skipped, base64_decode, entry_label};
use crate::account::Account;
use crate::otp::{Algorithm, DEFAULT_PERIOD, OtpKind};
use crate::secret::SecretBytes;

/// The scheme and host every export URI starts with.
pub(super) const PREFIX: &str = "otpauth-migration://";

/// Longest export URI accepted. One QR code holds at most about 3 KB, so real ones are shorter.
const MAX_URI_LEN: usize = 64 * 1024;

/// Most QR codes one export is split over; a larger claimed count is malformed.
const MAX_PARTS: u32 = 1000;

/// The accounts of one export URI and where it sits in its batch.
pub(super) struct Part {
    /// `None` for an export that fits in one QR code.
    pub(super) position: Option<Position>,
    pub(super) accounts: Vec<Account>,
    pub(super) skipped: Vec<Skipped>,
}

/// Which QR code of a multi-code export a part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Position {
    pub(super) batch_id: i32,
    /// From 0.
    pub(super) index: u32,
    pub(super) parts: u32,
}

/// `MigrationPayload` from Google Authenticator's `migration.proto`. Enums are read as plain
/// integers so that an unknown value skips one entry instead of failing the payload.
#[derive(Clone, PartialEq, Message)]
struct MigrationPayload {
    #[prost(message, repeated, tag = "1")]
    otp_parameters: Vec<OtpParameters>,
    #[prost(int32, tag = "2")]
    version: i32,
    #[prost(int32, tag = "3")]
    batch_size: i32,
    #[prost(int32, tag = "4")]
    batch_index: i32,
    #[prost(int32, tag = "5")]
    batch_id: i32,
}

#[derive(Clone, PartialEq, Message)]
struct OtpParameters {
    #[prost(bytes = "vec", tag = "1")]
    secret: Vec<u8>,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(string, tag = "3")]
    issuer: String,
    /// 0 unspecified, 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5.
    #[prost(int32, tag = "4")]
    algorithm: i32,
    /// 0 unspecified, 1 six, 2 eight.
    #[prost(int32, tag = "5")]
    digits: i32,
    /// 0 unspecified, 1 HOTP, 2 TOTP.
    #[prost(int32, tag = "6")]
    r#type: i32,
    #[prost(int64, tag = "7")]
    counter: i64,
}

impl Drop for OtpParameters {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

/// True when `text` is an export URI (by its scheme, in any case).
pub(super) fn is_migration_uri(text: &str) -> bool {
    text.get(..PREFIX.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(PREFIX))
}

/// Decodes one export URI. The error is a reason for the user, without any secret.
pub(super) fn parse(uri: &str) -> Result<Part, String> {
    let uri = uri.trim();
    if uri.len() > MAX_URI_LEN {
        return Err(format!(
            "the export URI is {} bytes long; at most {MAX_URI_LEN} are accepted",
            uri.len()
        ));
    }
    let rest = uri
        .get(PREFIX.len()..)
        .filter(|_| is_migration_uri(uri))
        .ok_or("not an otpauth-migration URI")?;
    let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !host.trim_end_matches('/').eq_ignore_ascii_case("offline") {
        return Err("an export URI must start with otpauth-migration://offline".into());
    }
    // The decoded parameter and its cleaned copy both hold the secrets, base64-encoded.
    let mut data = Zeroizing::new(
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "data")
            .map(|(_, value)| value.into_owned())
            .ok_or("the export URI has no data")?,
    );
    // A `+` left unescaped in the URI arrives as a space; URL-safe base64 is accepted too.
    data = Zeroizing::new(
        data.chars()
            .map(|c| match c {
                ' ' | '-' => '+',
                '_' => '/',
                other => other,
            })
            .collect(),
    );
    let bytes = base64_decode(&data).ok_or("the export data is not base64")?;
    let mut payload = MigrationPayload::decode(bytes.as_slice())
        .map_err(|_| "the export data is not a Google Authenticator payload")?;
    let position = position(&payload)?;

    let mut accounts = Vec::new();
    let mut skipped = Vec::new();
    for (number, parameters) in payload.otp_parameters.iter_mut().enumerate() {
        let (issuer, name) = issuer_and_name(&parameters.issuer, &parameters.name);
        let label = entry_label(&issuer, &name, || format!("account {}", number + 1));
        match entry(parameters, issuer, name).and_then(Entry::into_account) {
            Ok(account) => accounts.push(account),
            Err(reason) => skipped.push(Skipped { label, reason }),
        }
    }
    Ok(Part {
        position,
        accounts,
        skipped,
    })
}

fn position(payload: &MigrationPayload) -> Result<Option<Position>, String> {
    let parts = u32::try_from(payload.batch_size).unwrap_or(0);
    let index = u32::try_from(payload.batch_index).ok();
    if parts <= 1 {
        return Ok(None);
    }
    match index {
        Some(index) if index < parts && parts <= MAX_PARTS => Ok(Some(Position {
            batch_id: payload.batch_id,
            index,
            parts,
        })),
        _ => Err(format!(
            "it claims to be part {} of {}",
            i64::from(payload.batch_index) + 1,
            payload.batch_size
        )),
    }
}

/// Google Authenticator may keep the label's issuer prefix in `name` ("Example:alice"): drop
/// it when it repeats the issuer, and use it as the issuer when there is none.
fn issuer_and_name(issuer: &str, name: &str) -> (String, String) {
    let issuer = issuer.trim();
    let name = name.trim();
    if !issuer.is_empty() {
        let stripped = name
            .strip_prefix(issuer)
            .and_then(|rest| rest.strip_prefix(':'));
        return match stripped {
            Some(rest) => (issuer.to_owned(), rest.trim_start().to_owned()),
            None => (issuer.to_owned(), name.to_owned()),
        };
    }
    match name.split_once(':') {
        Some((prefix, rest)) => (prefix.trim().to_owned(), rest.trim().to_owned()),
        None => (String::new(), name.to_owned()),
    }
}

fn entry(parameters: &mut OtpParameters, issuer: String, name: String) -> Result<Entry, String> {
    let algorithm = match parameters.algorithm {
        0 | 1 => Algorithm::Sha1,
        2 => Algorithm::Sha256,
        3 => Algorithm::Sha512,
        4 => return Err("MD5 codes are not supported".into()),
        other => return Err(format!("unknown algorithm {other}")),
    };
    let digits = match parameters.digits {
        0 | 1 => 6,
        2 => 8,
        other => return Err(format!("unknown digit count {other}")),
    };
    let (kind, counter) = match parameters.r#type {
        // Google leaves the type unspecified for some TOTP accounts; Aegis reads them as TOTP.
        0 | 2 => (OtpKind::Totp, 0),
        1 => (
            OtpKind::Hotp,
            u64::try_from(parameters.counter).map_err(|_| "the counter is negative")?,
        ),
        other => return Err(format!("unknown OTP type {other}")),
    };
    Ok(Entry {
        issuer,
        name,
        kind,
        algorithm,
        digits,
        // The export has no period: Google Authenticator only makes 30-second codes.
        period: DEFAULT_PERIOD,
        counter,
        secret: SecretBytes::new(std::mem::take(&mut parameters.secret)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn uri_of(payload: &MigrationPayload) -> String {
        let data = base64::engine::general_purpose::STANDARD.encode(payload.encode_to_vec());
        let encoded: String = form_urlencoded::byte_serialize(data.as_bytes()).collect();
        format!("otpauth-migration://offline?data={encoded}")
    }

    fn parameters(
        name: &str,
        issuer: &str,
        algorithm: i32,
        digits: i32,
        kind: i32,
    ) -> OtpParameters {
        OtpParameters {
            secret: b"12345678901234567890".to_vec(),
            name: name.into(),
            issuer: issuer.into(),
            algorithm,
            digits,
            r#type: kind,
            counter: 0,
        }
    }

    #[test]
    fn decodes_accounts_and_skips_unusable_ones() {
        let mut hotp = parameters("bob", "", 3, 2, 1);
        hotp.counter = 9;
        let payload = MigrationPayload {
            otp_parameters: vec![
                parameters("Example:alice", "Example", 1, 1, 2),
                hotp,
                parameters("md5", "X", 4, 1, 2),
                parameters("unspecified", "", 0, 0, 0),
            ],
            version: 1,
            batch_size: 1,
            batch_index: 0,
            batch_id: 42,
        };
        let part = parse(&uri_of(&payload)).unwrap();
        assert_eq!(part.position, None);
        let [alice, bob, unspecified] = part.accounts.as_slice() else {
            panic!("{:?}", part.accounts);
        };
        assert_eq!(
            (alice.issuer.as_str(), alice.name.as_str()),
            ("Example", "alice")
        );
        assert_eq!(bob.otp.kind(), OtpKind::Hotp);
        assert_eq!(bob.otp.counter(), 9);
        assert_eq!(bob.otp.algorithm(), Algorithm::Sha512);
        assert_eq!(bob.otp.digits(), 8);
        assert_eq!(unspecified.otp.kind(), OtpKind::Totp);
        assert_eq!(unspecified.secret.expose(), b"12345678901234567890");
        assert_eq!(
            part.skipped,
            [Skipped {
                label: "X (md5)".into(),
                reason: "MD5 codes are not supported".into()
            }]
        );
    }

    #[test]
    fn splits_issuer_prefixes() {
        let split = |issuer, name| issuer_and_name(issuer, name);
        assert_eq!(
            split("Example", "Example:al"),
            ("Example".into(), "al".into())
        );
        assert_eq!(
            split("Example", "Other:al"),
            ("Example".into(), "Other:al".into())
        );
        assert_eq!(split("", "Example: al"), ("Example".into(), "al".into()));
        assert_eq!(split("", "al"), (String::new(), "al".into()));
    }

    #[test]
    fn reads_batch_positions_and_refuses_impossible_ones() {
        let mut payload = MigrationPayload {
            otp_parameters: vec![parameters("a", "b", 1, 1, 2)],
            version: 1,
            batch_size: 3,
            batch_index: 2,
            batch_id: -5,
        };
        let part = parse(&uri_of(&payload)).unwrap();
        assert_eq!(
            part.position,
            Some(Position {
                batch_id: -5,
                index: 2,
                parts: 3
            })
        );
        payload.batch_index = 3;
        assert_eq!(
            parse(&uri_of(&payload)).err().unwrap(),
            "it claims to be part 4 of 3"
        );
        payload.batch_index = -1;
        assert!(parse(&uri_of(&payload)).is_err());
        payload.batch_size = i32::MAX;
        payload.batch_index = 0;
        assert!(parse(&uri_of(&payload)).is_err());
    }

    #[test]
    fn accepts_unpadded_unescaped_and_url_safe_base64() {
        let payload = MigrationPayload {
            otp_parameters: vec![parameters("a", "b", 1, 1, 2)],
            ..Default::default()
        };
        let bytes = payload.encode_to_vec();
        for engine in [
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
        ] {
            let uri = format!("OTPAUTH-MIGRATION://offline?data={}", engine.encode(&bytes));
            assert_eq!(parse(&uri).unwrap().accounts.len(), 1, "{uri}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_export() {
        for (uri, want) in [
            ("otpauth://totp/x", "not an otpauth-migration URI"),
            (
                "otpauth-migration://online?data=AA",
                "an export URI must start with otpauth-migration://offline",
            ),
            (
                "otpauth-migration://offline?x=1",
                "the export URI has no data",
            ),
            (
                "otpauth-migration://offline?data=*!",
                "the export data is not base64",
            ),
            // Field 1 as a varint instead of a message.
            (
                "otpauth-migration://offline?data=CAE=",
                "the export data is not a Google Authenticator payload",
            ),
        ] {
            assert_eq!(parse(uri).err().as_deref(), Some(want), "{uri}");
        }
    }
}
