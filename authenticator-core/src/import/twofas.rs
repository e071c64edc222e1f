//! 2FAS Authenticator backups (`.2fas`): a JSON object with `schemaVersion` (1 to 4 so far) and
//! `services`, one per account:
//!
//! ```text
//! {"name": "GitHub", "secret": "BASE32", "otp": {"account": "alice", "issuer": "GitHub",
//!  "digits": 6, "period": 30, "algorithm": "SHA1", "tokenType": "TOTP", "counter": 0}, ...}
//! ```
//!
//! Schema 1 has no digits, period or algorithm (all accounts are default TOTP), schema 2 adds
//! them, schema 3 adds `tokenType` (TOTP, HOTP, STEAM) and `counter`, and schema 4 adds the
//! original `link`. Encrypted, `services` is empty and `servicesEncrypted` holds
//! `base64(ciphertext ‖ tag):base64(salt):base64(iv)`: AES-256-GCM under
//! PBKDF2-HMAC-SHA256(password, salt, 10 000 iterations) of the JSON array of services.
//! `reference` holds a known text encrypted the same way, which tells a wrong password from a
//! damaged file.

use std::num::NonZeroU32;

use serde_json::Value;
use zeroize::Zeroizing;

use super::json::{self, Document};
use super::{Entry, Format, Found, ImportError, base32_secret, base64_decode, entry_label, gcm};
use crate::otp::{Algorithm, DEFAULT_DIGITS, DEFAULT_PERIOD, OtpKind};

/// The newest schema known.
const SCHEMA_VERSION: i64 = 4;
/// The PBKDF2 iteration count 2FAS uses.
const PBKDF2_ITERATIONS: NonZeroU32 = match NonZeroU32::new(10_000) {
    Some(iterations) => iterations,
    None => panic!("the iteration count is not zero"),
};

/// Reads a 2FAS backup into `found`.
pub(super) fn read(
    document: &Document,
    password: Option<&str>,
    found: &mut Found,
) -> Result<Format, ImportError> {
    let encrypted = document.get("servicesEncrypted");
    let format = if encrypted.is_some() {
        Format::TwoFasEncrypted
    } else {
        Format::TwoFasPlain
    };
    let malformed = |reason: String| ImportError::Malformed { format, reason };
    // Schema 1 files from old app versions may lack the field.
    let version = match document.get("schemaVersion") {
        None => 1,
        Some(version) => version
            .as_i64()
            .ok_or_else(|| malformed("`schemaVersion` is not a whole number".into()))?,
    };
    if !(1..=SCHEMA_VERSION).contains(&version) {
        return Err(ImportError::UnsupportedVersion { format, version });
    }

    match encrypted {
        Some(sealed) => {
            let password = password.ok_or(ImportError::PasswordRequired { format })?;
            let sealed = sealed
                .as_str()
                .ok_or_else(|| malformed("`servicesEncrypted` is not text".into()))?;
            let reference = document.get("reference").and_then(Value::as_str);
            let services = decrypt(sealed, reference, password)?;
            let services = services
                .value()
                .as_array()
                .ok_or_else(|| malformed("the decrypted services are not a list".into()))?;
            read_services(services, found);
        }
        None => {
            let services = json::list(document.value(), "services")
                .map_err(malformed)?
                .ok_or_else(|| malformed("`services` is missing".into()))?;
            read_services(services, found);
        }
    }
    Ok(format)
}

/// One `base64(ciphertext ‖ tag):base64(salt):base64(iv)` value.
struct Sealed {
    ciphertext_and_tag: Zeroizing<Vec<u8>>,
    salt: Zeroizing<Vec<u8>>,
    iv: Zeroizing<Vec<u8>>,
}

impl Sealed {
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let sealed = Self {
            ciphertext_and_tag: base64_decode(parts.next()?)?,
            salt: base64_decode(parts.next()?)?,
            iv: base64_decode(parts.next()?)?,
        };
        (sealed.ciphertext_and_tag.len() >= gcm::TAG_LEN).then_some(sealed)
    }

    fn open(self, key: &[u8]) -> Result<Zeroizing<Vec<u8>>, gcm::OpenError> {
        gcm::open(key, &self.iv, self.ciphertext_and_tag)
    }
}

fn decrypt(sealed: &str, reference: Option<&str>, password: &str) -> Result<Document, ImportError> {
    let format = Format::TwoFasEncrypted;
    let malformed = |reason: &str| ImportError::Malformed {
        format,
        reason: reason.to_owned(),
    };
    let sealed = Sealed::parse(sealed)
        .ok_or_else(|| malformed("`servicesEncrypted` is not three base64 parts"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        PBKDF2_ITERATIONS,
        &sealed.salt,
        password.as_bytes(),
        key.as_mut_slice(),
    );

    // 2FAS encrypts the reference with the same salt, so the same key opens it.
    let password_checked = match reference.and_then(Sealed::parse) {
        Some(reference) => match reference.open(key.as_slice()) {
            Ok(_) => true,
            Err(gcm::OpenError::Rejected) => return Err(ImportError::WrongPassword { format }),
            Err(gcm::OpenError::BadParameters) => false,
        },
        None => false,
    };
    let plain = match sealed.open(key.as_slice()) {
        Ok(plain) => plain,
        Err(gcm::OpenError::BadParameters) => return Err(malformed("the IV is not 12 bytes")),
        Err(gcm::OpenError::Rejected) if password_checked => {
            return Err(malformed("the services do not match their key"));
        }
        Err(gcm::OpenError::Rejected) => return Err(ImportError::WrongPassword { format }),
    };
    json::parse(&plain).map_err(|reason| ImportError::Malformed {
        format,
        reason: format!("the decrypted services: {reason}"),
    })
}

fn read_services(services: &[Value], found: &mut Found) {
    for (number, service) in services.iter().enumerate() {
        let (issuer, name) = issuer_and_name(service);
        match entry(service, issuer.clone(), name.clone()).and_then(Entry::into_account) {
            Ok(account) => found.accounts.push(account),
            Err(reason) => found.skip(
                entry_label(&issuer, &name, || format!("service {}", number + 1)),
                reason,
            ),
        }
    }
}

/// The issuer is the service's name as the user sees it in 2FAS, or else the issuer of the URI
/// it was added from (as Aegis reads it).
fn issuer_and_name(service: &Value) -> (String, String) {
    let otp = json::field(service, "otp");
    let text_of = |object: Option<&Value>, key| {
        object
            .and_then(|object| json::text(object, key).ok().flatten())
            .unwrap_or("")
            .to_owned()
    };
    let mut issuer = text_of(Some(service), "name");
    if issuer.trim().is_empty() {
        issuer = text_of(otp, "issuer");
    }
    (issuer, text_of(otp, "account"))
}

fn entry(service: &Value, issuer: String, name: String) -> Result<Entry, String> {
    if !service.is_object() {
        return Err("the service is not an object".into());
    }
    let secret = json::text(service, "secret")?.ok_or("the secret is missing")?;
    let otp = json::field(service, "otp").ok_or("`otp` is missing")?;
    let kind = match json::text(otp, "tokenType")? {
        None | Some("TOTP") => OtpKind::Totp,
        Some("HOTP") => OtpKind::Hotp,
        Some("STEAM") => OtpKind::Steam,
        Some(other) => {
            return Err(format!(
                "unknown token type {:?}",
                super::shorten(other, 16)
            ));
        }
    };
    let algorithm = match json::text(otp, "algorithm")? {
        None => Algorithm::Sha1,
        Some(name) => Algorithm::parse(name)
            .ok_or_else(|| format!("{} codes are not supported", super::shorten(name, 16)))?,
    };
    let counter = match kind {
        OtpKind::Hotp => json::whole_number(otp, "counter")?.unwrap_or(0),
        OtpKind::Totp | OtpKind::Steam => 0,
    };
    Ok(Entry {
        issuer,
        name,
        kind,
        algorithm,
        digits: json::small_number(otp, "digits")?.unwrap_or(u32::from(DEFAULT_DIGITS)),
        period: json::small_number(otp, "period")?.unwrap_or(DEFAULT_PERIOD),
        counter,
        secret: base32_secret(secret)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(text: &str, password: Option<&str>) -> Result<(Format, Found), ImportError> {
        let mut found = Found::default();
        let document = json::parse(text.as_bytes()).unwrap();
        read(&document, password, &mut found).map(|format| (format, found))
    }

    #[test]
    fn reads_every_schema_with_its_defaults() {
        let (format, found) = import(
            r#"{"services":[
                {"name":"Old","secret":"JBSWY3DPEHPK3PXP","otp":{"account":"a","issuer":"OldIssuer"}},
                {"name":"","secret":"JBSWY3DPEHPK3PXP","otp":{"account":"b","issuer":"FromUri","digits":8,"period":60,"algorithm":"SHA512"}},
                {"name":"H","secret":"JBSWY3DPEHPK3PXP","otp":{"account":"c","digits":7,"algorithm":"SHA256","counter":12,"tokenType":"HOTP"}},
                {"name":"S","secret":"JBSWY3DPEHPK3PXP","otp":{"account":"d","digits":5,"period":30,"tokenType":"STEAM"}},
                {"name":"Y","secret":"JBSWY3DPEHPK3PXP","otp":{"account":"e","tokenType":"YANDEX"}}
            ],"schemaVersion":4}"#,
            None,
        )
        .unwrap();
        assert_eq!(format, Format::TwoFasPlain);
        let summary: Vec<String> = found
            .accounts
            .iter()
            .map(|a| {
                format!(
                    "{}/{}/{}/{}/{}/{}/{}",
                    a.issuer,
                    a.name,
                    a.otp.kind().as_str(),
                    a.otp.algorithm(),
                    a.otp.digits(),
                    a.otp.period(),
                    a.otp.counter()
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                "Old/a/totp/SHA1/6/30/0",
                "FromUri/b/totp/SHA512/8/60/0",
                "H/c/hotp/SHA256/7/30/12",
                "S/d/steam/SHA1/5/30/0",
            ]
        );
        assert_eq!(found.skipped.len(), 1);
        assert_eq!(
            found.skipped[0].to_string(),
            "Y (e): unknown token type \"YANDEX\""
        );
    }

    #[test]
    fn refuses_newer_schemas_and_asks_for_passwords() {
        assert_eq!(
            import(r#"{"services":[],"schemaVersion":5}"#, None).err(),
            Some(ImportError::UnsupportedVersion {
                format: Format::TwoFasPlain,
                version: 5
            })
        );
        assert_eq!(
            import(
                r#"{"services":[],"schemaVersion":4,"servicesEncrypted":"a:b:c"}"#,
                None
            )
            .err(),
            Some(ImportError::PasswordRequired {
                format: Format::TwoFasEncrypted
            })
        );
        assert!(matches!(
            import(
                r#"{"services":[],"servicesEncrypted":"only-one-part"}"#,
                Some("x")
            ),
            Err(ImportError::Malformed { .. })
        ));
    }
}
