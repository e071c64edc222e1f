//! Aegis vault exports (`aegis-export-*.json`), as documented in Aegis' `docs/vault.md`:
//!
//! ```text
//! {"version": 1, "header": {"slots": null, "params": null}, "db": {"version": 3, "entries": [...]}}
//! ```
//!
//! Encrypted, `header.slots` lists key slots and `db` is base64 of AES-256-GCM ciphertext. A
//! password slot (type 1) holds the master key encrypted under scrypt(password, salt, N, r, p);
//! the master key decrypts `db` with `header.params`. Other slots (biometric, whose key never
//! leaves the phone that made it) are passed over.

use serde_json::Value;
use zeroize::Zeroizing;

use super::json::{self, Document};
use super::{Entry, Format, Found, ImportError, base32_secret, base64_decode, entry_label, gcm};
use crate::otp::{Algorithm, DEFAULT_DIGITS, DEFAULT_PERIOD, OtpKind};

/// The vault file version Aegis writes.
const FILE_VERSION: i64 = 1;
/// The newest content (`db`) version known; 1 and 2 are older layouts of the same entries.
const DB_VERSION: i64 = 3;
/// Slot type of a password slot.
const PASSWORD_SLOT: u64 = 1;
/// The most memory one scrypt derivation may take (128·r·N bytes). Aegis uses 32 MiB
/// (N = 2^15, r = 8); a file asking for more than this is refused rather than obeyed.
const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;
/// The most parallel scrypt lanes accepted (Aegis uses 1); each repeats the whole cost.
const MAX_SCRYPT_P: u32 = 4;

/// Reads an Aegis export into `found`.
pub(super) fn read(
    document: &Document,
    password: Option<&str>,
    found: &mut Found,
) -> Result<Format, ImportError> {
    let header = document.get("header");
    let encrypted = header.is_some_and(|header| {
        json::field(header, "slots").is_some() || json::field(header, "params").is_some()
    });
    let format = if encrypted {
        Format::AegisEncrypted
    } else {
        Format::AegisPlain
    };
    let malformed = |reason: String| ImportError::Malformed { format, reason };

    let version = document
        .get("version")
        .ok_or_else(|| malformed("`version` is missing".into()))?
        .as_i64()
        .ok_or_else(|| malformed("`version` is not a whole number".into()))?;
    if version != FILE_VERSION {
        return Err(ImportError::UnsupportedVersion { format, version });
    }
    let db = document
        .get("db")
        .ok_or_else(|| malformed("`db` is missing".into()))?;

    match (header, encrypted) {
        (Some(header), true) => {
            let password = password.ok_or(ImportError::PasswordRequired { format })?;
            let content = decrypt(header, db, password)?;
            read_content(content.value(), format, found)
        }
        _ => read_content(db, format, found),
    }
}

/// Unlocks the master key with the password and decrypts `db` into a document.
fn decrypt(header: &Value, db: &Value, password: &str) -> Result<Document, ImportError> {
    let format = Format::AegisEncrypted;
    let malformed = |reason: &str| ImportError::Malformed {
        format,
        reason: reason.to_owned(),
    };
    let slots = json::list(header, "slots")
        .map_err(|e| malformed(&format!("header: {e}")))?
        .ok_or_else(|| malformed("header: `slots` is missing"))?;
    let params =
        json::field(header, "params").ok_or_else(|| malformed("header: `params` is missing"))?;
    let (nonce, tag) =
        nonce_and_tag(params).map_err(|e| malformed(&format!("header params: {e}")))?;
    let db = db
        .as_str()
        .ok_or_else(|| malformed("`db` is not text, as it is in an encrypted export"))?;

    let master_key = unlock(slots, password)?;
    let mut sealed = base64_decode(db).ok_or_else(|| malformed("`db` is not base64"))?;
    sealed.extend_from_slice(&tag);
    // The slot already proved the password right, so a failure here is damage, not a typo.
    let plain = gcm::open(&master_key, &nonce, sealed)
        .map_err(|_| malformed("the content does not match its key"))?;
    json::parse(&plain).map_err(|reason| ImportError::Malformed {
        format,
        reason: format!("the decrypted content: {reason}"),
    })
}

/// Tries every password slot in turn; the master key is what the first one that opens holds.
fn unlock(slots: &[Value], password: &str) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let format = Format::AegisEncrypted;
    let mut password_slots = 0;
    for (number, slot) in slots.iter().enumerate() {
        let malformed = |reason: String| ImportError::Malformed {
            format,
            reason: format!("key slot {}: {reason}", number + 1),
        };
        if json::whole_number(slot, "type").map_err(malformed)? != Some(PASSWORD_SLOT) {
            continue;
        }
        password_slots += 1;
        let key = derive_slot_key(slot, password).map_err(malformed)?;
        let (nonce, tag) = json::field(slot, "key_params")
            .ok_or_else(|| "`key_params` is missing".to_owned())
            .and_then(nonce_and_tag)
            .map_err(malformed)?;
        let mut sealed = json::text(slot, "key")
            .and_then(|key| key.ok_or_else(|| "`key` is missing".to_owned()))
            .and_then(|key| hex(key).ok_or_else(|| "`key` is not hex".to_owned()))
            .map_err(malformed)?;
        sealed.extend_from_slice(&tag);
        match gcm::open(key.as_slice(), &nonce, sealed) {
            Ok(master_key) if master_key.len() == 32 => return Ok(master_key),
            Ok(_) => return Err(malformed("the master key is not 32 bytes".into())),
            Err(gcm::OpenError::Rejected) => {}
            Err(gcm::OpenError::BadParameters) => {
                return Err(malformed("its nonce is not 12 bytes".into()));
            }
        }
    }
    if password_slots == 0 {
        Err(ImportError::NoPasswordSlot)
    } else {
        Err(ImportError::WrongPassword { format })
    }
}

/// scrypt(password, salt, N, r, p) → 32 bytes, with the cost bounded before any work.
fn derive_slot_key(slot: &Value, password: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    let number =
        |key: &str| json::whole_number(slot, key)?.ok_or_else(|| format!("`{key}` is missing"));
    let (n, r, p) = (number("n")?, number("r")?, number("p")?);
    let salt = json::text(slot, "salt")?
        .and_then(hex)
        .ok_or("`salt` is missing or not hex")?;
    if !n.is_power_of_two() || n < 2 {
        return Err(format!("scrypt N={n} is not a power of two"));
    }
    let too_costly = || format!("scrypt N={n}, r={r}, p={p} asks for more work than Aegis uses");
    let r = u32::try_from(r).map_err(|_| too_costly())?;
    let p = u32::try_from(p).map_err(|_| too_costly())?;
    let memory = 128u64
        .checked_mul(u64::from(r))
        .and_then(|m| m.checked_mul(n))
        .ok_or_else(too_costly)?;
    if memory > MAX_SCRYPT_MEMORY || p > MAX_SCRYPT_P {
        return Err(too_costly());
    }
    // n is a power of two below 2^64, so its logarithm fits in a u8.
    let log_n = n.trailing_zeros() as u8;
    let params = scrypt::Params::new(log_n, r, p, 32)
        .map_err(|_| format!("scrypt N={n}, r={r}, p={p} are not valid parameters"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password.as_bytes(), &salt, &params, key.as_mut_slice())
        .map_err(|_| "scrypt refused the key length".to_owned())?;
    Ok(key)
}

fn nonce_and_tag(params: &Value) -> Result<(Vec<u8>, Vec<u8>), String> {
    let nonce = json::text(params, "nonce")?
        .and_then(hex)
        .ok_or("`nonce` is missing or not hex")?;
    let tag = json::text(params, "tag")?
        .and_then(hex)
        .filter(|tag| tag.len() == gcm::TAG_LEN)
        .ok_or("`tag` is missing or not 16 bytes of hex")?;
    Ok((nonce.to_vec(), tag.to_vec()))
}

fn hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let text = text.trim().as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks_exact(2)
        .map(|pair| match pair {
            [high, low] => Some(nibble(*high)? << 4 | nibble(*low)?),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()
        .map(Zeroizing::new)
}

/// Reads the vault content: `{"version": N, "entries": [...], ...}`.
fn read_content(content: &Value, format: Format, found: &mut Found) -> Result<Format, ImportError> {
    let malformed = |reason: String| ImportError::Malformed { format, reason };
    if !content.is_object() {
        return Err(malformed("`db` is not an object".into()));
    }
    let version = json::field(content, "version")
        .ok_or_else(|| malformed("`db.version` is missing".into()))?
        .as_i64()
        .ok_or_else(|| malformed("`db.version` is not a whole number".into()))?;
    if !(1..=DB_VERSION).contains(&version) {
        return Err(ImportError::UnsupportedVersion { format, version });
    }
    let entries = json::list(content, "entries")
        .map_err(|e| malformed(format!("db: {e}")))?
        .ok_or_else(|| malformed("`db.entries` is missing".into()))?;
    for (number, value) in entries.iter().enumerate() {
        let issuer = json::text(value, "issuer").ok().flatten().unwrap_or("");
        let name = json::text(value, "name").ok().flatten().unwrap_or("");
        match entry(value).and_then(Entry::into_account) {
            Ok(account) => found.accounts.push(account),
            Err(reason) => found.skip(
                entry_label(issuer, name, || format!("entry {}", number + 1)),
                reason,
            ),
        }
    }
    Ok(format)
}

fn entry(value: &Value) -> Result<Entry, String> {
    if !value.is_object() {
        return Err("the entry is not an object".into());
    }
    let kind = match json::text(value, "type")?.ok_or("`type` is missing")? {
        "totp" => OtpKind::Totp,
        "hotp" => OtpKind::Hotp,
        "steam" => OtpKind::Steam,
        "yandex" => return Err("Yandex codes are not supported".into()),
        "motp" => return Err("mOTP codes are not supported".into()),
        other => return Err(format!("unknown type {:?}", super::shorten(other, 16))),
    };
    let info = json::field(value, "info").ok_or("`info` is missing")?;
    let secret = json::text(info, "secret")?.ok_or("the secret is missing")?;
    let algorithm = match json::text(info, "algo")? {
        None => Algorithm::Sha1,
        Some(name) => Algorithm::parse(name)
            .ok_or_else(|| format!("{} codes are not supported", super::shorten(name, 16)))?,
    };
    let counter = match kind {
        OtpKind::Hotp => json::whole_number(info, "counter")?.ok_or("`counter` is missing")?,
        OtpKind::Totp | OtpKind::Steam => 0,
    };
    Ok(Entry {
        issuer: json::text(value, "issuer")?.unwrap_or_default().to_owned(),
        name: json::text(value, "name")?.unwrap_or_default().to_owned(),
        kind,
        algorithm,
        digits: json::small_number(info, "digits")?.unwrap_or(u32::from(DEFAULT_DIGITS)),
        period: json::small_number(info, "period")?.unwrap_or(DEFAULT_PERIOD),
        counter,
        secret: base32_secret(secret)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(text: &str) -> Result<Found, ImportError> {
        let mut found = Found::default();
        let document = json::parse(text.as_bytes()).unwrap();
        read(&document, None, &mut found).map(|_| found)
    }

    #[test]
    fn reads_entries_and_skips_unsupported_types() {
        let found = import(
            r#"{"version":1,"header":{"slots":null,"params":null},"db":{"version":2,"entries":[
                {"type":"totp","name":"a","issuer":"A","info":{"secret":"JBSWY3DPEHPK3PXP","algo":"SHA256","digits":8,"period":45}},
                {"type":"hotp","name":"b","issuer":"","info":{"secret":"JBSWY3DPEHPK3PXP","counter":3}},
                {"type":"hotp","name":"c","issuer":"C","info":{"secret":"JBSWY3DPEHPK3PXP"}},
                {"type":"yandex","name":"d","issuer":"D","info":{"secret":"JBSWY3DPEHPK3PXP","pin":"1234"}},
                {"type":"totp","name":"","issuer":"","info":{"secret":"JBSWY3DPEHPK3PXP","algo":"MD5"}},
                "nonsense"
            ]}}"#,
        )
        .unwrap();
        assert_eq!(found.accounts.len(), 2);
        assert_eq!(found.accounts[0].otp.period(), 45);
        assert_eq!(found.accounts[1].otp.counter(), 3);
        let skipped: Vec<String> = found.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            skipped,
            [
                "C (c): `counter` is missing",
                "D (d): Yandex codes are not supported",
                "entry 5: MD5 codes are not supported",
                "entry 6: the entry is not an object",
            ]
        );
    }

    #[test]
    fn refuses_other_versions_and_missing_parts() {
        let unsupported = import(r#"{"version":2,"header":{"slots":null,"params":null},"db":{}}"#);
        assert_eq!(
            unsupported.err(),
            Some(ImportError::UnsupportedVersion {
                format: Format::AegisPlain,
                version: 2
            })
        );
        let newer_db = import(r#"{"version":1,"header":{},"db":{"version":4,"entries":[]}}"#);
        assert!(matches!(
            newer_db,
            Err(ImportError::UnsupportedVersion { version: 4, .. })
        ));
        assert!(matches!(
            import(r#"{"version":1,"header":{"slots":null,"params":null}}"#),
            Err(ImportError::Malformed { .. })
        ));
    }

    #[test]
    fn encrypted_exports_need_a_password_and_a_password_slot() {
        let text = r#"{"version":1,"header":{"slots":[{"type":2,"uuid":"x","key":"00","key_params":{"nonce":"00","tag":"00"}}],"params":{"nonce":"000000000000000000000000","tag":"00000000000000000000000000000000"}},"db":"AAAA"}"#;
        assert_eq!(
            import(text).err(),
            Some(ImportError::PasswordRequired {
                format: Format::AegisEncrypted
            })
        );
        let document = json::parse(text.as_bytes()).unwrap();
        let result = read(&document, Some("test"), &mut Found::default());
        assert_eq!(result, Err(ImportError::NoPasswordSlot));
    }

    #[test]
    fn refuses_costly_scrypt_parameters_before_deriving() {
        for (n, r, p) in [(1u64 << 30, 8, 1), (32768, 8, 64), (1000, 8, 1), (0, 8, 1)] {
            let slot = serde_json::json!({"type":1,"n":n,"r":r,"p":p,"salt":"00"});
            let err = derive_slot_key(&slot, "pw").err().unwrap();
            assert!(err.starts_with("scrypt"), "{err}");
        }
    }

    #[test]
    fn hex_decodes_both_cases_and_refuses_odd_input() {
        assert_eq!(hex("0aFf").unwrap().as_slice(), [0x0a, 0xff]);
        assert!(hex("abc").is_none());
        assert!(hex("zz").is_none());
        assert_eq!(hex("").unwrap().len(), 0);
    }
}
