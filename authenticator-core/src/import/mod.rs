//! Accounts brought in from other authenticators: Google Authenticator's export QR codes, Aegis
//! and 2FAS backups (plain or encrypted), text files of otpauth URIs and pictures of QR codes.
//!
//! [`import`] takes the bytes the user picked and tells the format from them; nothing here reads
//! a file or the clock. An entry the source had but that cannot become an account (a Yandex
//! token, an MD5 secret, a damaged line) is listed in [`Imported::skipped`] with the reason, and a
//! QR code missing from a Google Authenticator export split over several codes is listed in
//! [`Imported::missing_parts`]: nothing is dropped silently.
//!
//! Every input is hostile until parsed: sizes are bounded before any work, nothing indexes
//! out of bounds, and neither errors nor skip reasons ever quote a secret.

mod aegis;
mod gcm;
mod google;
mod json;
pub mod qr;
mod text;
mod twofas;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use zeroize::Zeroizing;

use crate::account::Account;
use crate::otp::{Algorithm, MIN_SECRET_BYTES, OtpKind, OtpParams, STEAM_DIGITS};
use crate::secret::SecretBytes;
use crate::uri::UriError;

/// The largest input accepted, in bytes. Real exports of a few hundred accounts are well under
/// 1 MiB; the bound keeps a hostile or mistaken file from costing memory and time.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;

/// The widest and tallest image searched for QR codes, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 8000;

/// What an import produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The accounts, in the order the source listed them.
    pub accounts: Vec<Account>,
    /// Entries the source had that cannot become accounts, with the reason for each.
    pub skipped: Vec<Skipped>,
    /// QR codes of a Google Authenticator export that were not among the inputs: their accounts
    /// are not in `accounts` until the user scans them too.
    pub missing_parts: Vec<MissingPart>,
    /// What the input was (the first input's format for [`import_many`]).
    pub format: Format,
}

/// An entry of the source that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// How the user finds the entry in the source: `Issuer (name)`, `line 4`, `QR code 2`.
    pub label: String,
    /// Why it was not imported; never contains the secret.
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.label, self.reason)
    }
}

/// One QR code of a Google Authenticator export ("Transfer accounts") that the input lacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingPart {
    /// The export's random identifier, shared by all its QR codes.
    pub batch_id: i32,
    /// Which code is missing, counting from 1 as Google Authenticator shows them.
    pub part: u32,
    /// How many codes the export has.
    pub parts: u32,
}

impl fmt::Display for MissingPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "QR code {} of {} of the Google Authenticator export is missing: scan it too",
            self.part, self.parts
        )
    }
}

/// The kinds of input [`import`] recognizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// A single `otpauth://` URI.
    OtpauthUri,
    /// Google Authenticator's `otpauth-migration://offline?data=…` export URIs.
    GoogleMigration,
    /// An unencrypted Aegis vault export (`.json`).
    AegisPlain,
    /// A password-encrypted Aegis vault export (`.json`).
    AegisEncrypted,
    /// An unencrypted 2FAS backup (`.2fas`).
    TwoFasPlain,
    /// A password-encrypted 2FAS backup (`.2fas`).
    TwoFasEncrypted,
    /// A text file of URIs, one a line.
    UriList,
    /// A PNG or JPEG picture of one or more QR codes.
    QrImage,
    /// An encrypted Assent backup (`assent export --format backup`).
    AssentBackup,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OtpauthUri => "otpauth URI",
            Self::GoogleMigration => "Google Authenticator export",
            Self::AegisPlain => "Aegis export",
            Self::AegisEncrypted => "encrypted Aegis export",
            Self::TwoFasPlain => "2FAS backup",
            Self::TwoFasEncrypted => "encrypted 2FAS backup",
            Self::UriList => "list of URIs",
            Self::QrImage => "QR code image",
            Self::AssentBackup => "Assent backup",
        })
    }
}

/// Why nothing could be imported. Each message tells the user what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The bytes are none of the formats in [`Format`].
    #[error(
        "this is not an export Assent can read: choose an Aegis or 2FAS backup, a Google \
         Authenticator export, a picture of a QR code, or a text file of otpauth:// URIs"
    )]
    UnknownFormat,
    /// The input is larger than [`MAX_INPUT_BYTES`].
    #[error(
        "the file is {size} bytes; at most {limit} can be imported: check that it is an export"
    )]
    TooLarge {
        /// The input's size in bytes.
        size: usize,
        /// The largest size accepted.
        limit: usize,
    },
    /// The image is wider or taller than [`MAX_IMAGE_SIDE`].
    #[error(
        "the image is {width}x{height} pixels; at most {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} are \
         read: crop it to the QR code"
    )]
    ImageTooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The export is encrypted and no password was given.
    #[error("this {format} needs its password: enter the password it was exported with")]
    PasswordRequired {
        /// The encrypted format.
        format: Format,
    },
    /// The password does not decrypt the export.
    #[error("the password does not open this {format}: check it and try again")]
    WrongPassword {
        /// The encrypted format.
        format: Format,
    },
    /// An Aegis export that only a biometric key (held by the phone that made it) can open.
    #[error(
        "this Aegis export can only be opened with the biometric key of the phone that made it: \
         export again from Aegis with a password"
    )]
    NoPasswordSlot,
    /// The input looks like the format but is damaged, truncated or inconsistent.
    #[error("this {format} is damaged or incomplete ({reason}): export it again")]
    Malformed {
        /// The format it claims to be.
        format: Format,
        /// What is wrong, without any secret.
        reason: String,
    },
    /// A version of the format newer than this code reads.
    #[error(
        "this {format} has version {version}, which this version of Assent cannot read: update \
         Assent"
    )]
    UnsupportedVersion {
        /// The format.
        format: Format,
        /// The version the input declares.
        version: i64,
    },
    /// The input is a single otpauth URI (typed, pasted or in a QR code) that cannot be used.
    #[error("the URI cannot be imported: {0}")]
    InvalidUri(#[from] UriError),
    /// The picture holds no QR code that could be read.
    #[error(
        "no readable QR code was found in the image: crop it to the code or take a sharper picture"
    )]
    NoQrCode,
}

/// Imports accounts from one input: an export file, a picture of a QR code, or pasted text.
///
/// `password` is used only by encrypted exports; without one they give
/// [`ImportError::PasswordRequired`], so a caller can ask for it and call again.
pub fn import(data: &[u8], password: Option<&str>) -> Result<Imported, ImportError> {
    import_many(&[data], password)
}

/// Imports several inputs as one: typically the pictures of all the QR codes of a Google
/// Authenticator export. Parts of the same export seen twice count once, and parts missing from
/// all inputs are listed in [`Imported::missing_parts`]. Fails on the first input that fails;
/// no inputs at all is [`ImportError::UnknownFormat`], as empty bytes are.
pub fn import_many(inputs: &[&[u8]], password: Option<&str>) -> Result<Imported, ImportError> {
    let mut found = Found::default();
    let mut format = None;
    for data in inputs {
        let this = import_into(data, password, &mut found)?;
        format.get_or_insert(this);
    }
    let format = format.ok_or(ImportError::UnknownFormat)?;
    Ok(found.finish(format))
}

fn import_into(
    data: &[u8],
    password: Option<&str>,
    found: &mut Found,
) -> Result<Format, ImportError> {
    if data.len() > MAX_INPUT_BYTES {
        return Err(ImportError::TooLarge {
            size: data.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    if qr::is_image(data) {
        let contents = qr::read(data)?;
        return text::read_qr_contents(&contents, found);
    }
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let text = std::str::from_utf8(data).map_err(|_| ImportError::UnknownFormat)?;
    if text.trim_start().starts_with('{') {
        read_json(text, password, found)
    } else {
        text::read_lines(text, found)
    }
}

/// Aegis and 2FAS exports are both JSON objects; their top-level keys tell them apart.
fn read_json(text: &str, password: Option<&str>, found: &mut Found) -> Result<Format, ImportError> {
    let document = match json::parse(text.as_bytes()) {
        Ok(document) => document,
        // A damaged file is still recognizable by its keys, and saying "damaged Aegis export"
        // helps more than "unknown format".
        Err(reason) => {
            let format = guess_json_format(text).ok_or(ImportError::UnknownFormat)?;
            return Err(ImportError::Malformed { format, reason });
        }
    };
    let has = |key: &str| document.get(key).is_some();
    if crate::backup::is_backup(text.as_bytes()) {
        read_assent_backup(text.as_bytes(), password, found)
    } else if has("db") || has("header") {
        aegis::read(&document, password, found)
    } else if has("services") || has("servicesEncrypted") || has("schemaVersion") {
        twofas::read(&document, password, found)
    } else {
        Err(ImportError::UnknownFormat)
    }
}

fn read_assent_backup(
    bytes: &[u8],
    password: Option<&str>,
    found: &mut Found,
) -> Result<Format, ImportError> {
    use crate::seal::SealError;
    let format = Format::AssentBackup;
    let password = password.ok_or(ImportError::PasswordRequired { format })?;
    let accounts = crate::backup::open_backup(bytes, password.as_bytes()).map_err(|e| match e {
        SealError::WrongKeyOrTampered => ImportError::WrongPassword { format },
        SealError::UnsupportedVersion { version, .. } => ImportError::UnsupportedVersion {
            format,
            version: i64::from(version),
        },
        other => ImportError::Malformed {
            format,
            reason: other.to_string(),
        },
    })?;
    found.accounts.extend(accounts);
    Ok(format)
}

fn guess_json_format(text: &str) -> Option<Format> {
    if text.contains("\"db\"") || text.contains("\"header\"") {
        let unencrypted = text.contains("\"slots\": null") || text.contains("\"slots\":null");
        Some(if text.contains("\"slots\"") && !unencrypted {
            Format::AegisEncrypted
        } else {
            Format::AegisPlain
        })
    } else if text.contains("\"servicesEncrypted\"") {
        Some(Format::TwoFasEncrypted)
    } else if text.contains("\"services\"") || text.contains("\"schemaVersion\"") {
        Some(Format::TwoFasPlain)
    } else {
        None
    }
}

/// Accounts, skipped entries and Google export parts gathered from one or more inputs.
#[derive(Default)]
struct Found {
    accounts: Vec<Account>,
    skipped: Vec<Skipped>,
    /// Google export batches by batch id: how many parts each has and which were seen.
    batches: BTreeMap<i32, Batch>,
}

#[derive(Default)]
struct Batch {
    parts: u32,
    seen: BTreeSet<u32>,
}

impl Found {
    fn skip(&mut self, label: impl Into<String>, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            label: label.into(),
            reason: reason.into(),
        });
    }

    /// Adds one part of a Google export, unless the same part was already added (the user
    /// scanned a code twice).
    fn add_migration_part(&mut self, part: google::Part) {
        if let Some(position) = part.position {
            let batch = self.batches.entry(position.batch_id).or_default();
            batch.parts = batch.parts.max(position.parts);
            if !batch.seen.insert(position.index) {
                return;
            }
        }
        self.accounts.extend(part.accounts);
        self.skipped.extend(part.skipped);
    }

    fn finish(self, format: Format) -> Imported {
        let missing_parts = self
            .batches
            .iter()
            .flat_map(|(&batch_id, batch)| {
                (0..batch.parts)
                    .filter(|index| !batch.seen.contains(index))
                    .map(move |index| MissingPart {
                        batch_id,
                        part: index + 1,
                        parts: batch.parts,
                    })
            })
            .collect();
        Imported {
            accounts: self.accounts,
            skipped: self.skipped,
            missing_parts,
            format,
        }
    }
}

/// One account as a source describes it, before it is checked.
struct Entry {
    issuer: String,
    name: String,
    kind: OtpKind,
    algorithm: Algorithm,
    digits: u32,
    period: u32,
    counter: u64,
    secret: SecretBytes,
}

impl Entry {
    /// Checks the entry by the same rules as an otpauth URI. Steam codes are always five
    /// characters from SHA1, whatever the source says, so those two fields are not checked.
    fn into_account(self) -> Result<Account, String> {
        if self.secret.is_empty() {
            return Err("the secret is empty".into());
        }
        if self.secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the secret has {} bits, fewer than the {} required",
                self.secret.len() * 8,
                MIN_SECRET_BYTES * 8
            ));
        }
        let (algorithm, digits) = match self.kind {
            OtpKind::Steam => (Algorithm::Sha1, u32::from(STEAM_DIGITS)),
            OtpKind::Totp | OtpKind::Hotp => (self.algorithm, self.digits),
        };
        let otp = OtpParams::new(self.kind, algorithm, digits, self.period, self.counter)
            .map_err(|e| e.to_string())?;
        Ok(Account {
            issuer: self.issuer,
            name: self.name,
            otp,
            secret: self.secret,
            image: None,
        })
    }
}

/// Decodes a base32 secret from an export, saying what is wrong without showing it.
fn base32_secret(text: &str) -> Result<SecretBytes, String> {
    SecretBytes::from_base32(text).map_err(|e| format!("the secret cannot be read: {e}"))
}

/// How a skipped entry is named: `Issuer (name)`, `Issuer`, `name`, or the fallback (`entry 3`).
fn entry_label(issuer: &str, name: &str, fallback: impl FnOnce() -> String) -> String {
    let label = match (issuer.trim().is_empty(), name.trim().is_empty()) {
        (false, false) => format!("{} ({})", issuer.trim(), name.trim()),
        (false, true) => issuer.trim().to_owned(),
        (true, false) => name.trim().to_owned(),
        (true, true) => return fallback(),
    };
    shorten(&label, 80)
}

/// At most `max` characters of `text`, for quoting untrusted values in messages.
fn shorten(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Decodes standard base64 as other apps write it: padded or not.
fn base64_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT.decode(text.trim()).ok().map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_parts_are_listed_once_per_absent_index() {
        let mut found = Found::default();
        for index in [0, 2, 2] {
            found.add_migration_part(google::Part {
                position: Some(google::Position {
                    batch_id: 7,
                    index,
                    parts: 4,
                }),
                accounts: Vec::new(),
                skipped: Vec::new(),
            });
        }
        let imported = found.finish(Format::GoogleMigration);
        let missing: Vec<u32> = imported.missing_parts.iter().map(|m| m.part).collect();
        assert_eq!(missing, [2, 4]);
        assert_eq!(
            imported.missing_parts[0].to_string(),
            "QR code 2 of 4 of the Google Authenticator export is missing: scan it too"
        );
    }

    #[test]
    fn entries_follow_the_uri_rules() {
        let entry = |kind, digits, secret: &[u8]| Entry {
            issuer: "I".into(),
            name: "n".into(),
            kind,
            algorithm: Algorithm::Sha256,
            digits,
            period: 30,
            counter: 0,
            secret: SecretBytes::new(secret.to_vec()),
        };
        let steam = entry(OtpKind::Steam, 6, b"0123456789")
            .into_account()
            .unwrap();
        assert_eq!(steam.otp, OtpParams::steam());
        assert!(
            entry(OtpKind::Totp, 9, b"0123456789")
                .into_account()
                .is_err()
        );
        let short = entry(OtpKind::Totp, 6, b"012345678")
            .into_account()
            .unwrap_err();
        assert!(short.contains("72 bits"), "{short}");
        assert_eq!(
            entry(OtpKind::Totp, 6, b"").into_account().unwrap_err(),
            "the secret is empty"
        );
    }

    #[test]
    fn labels_and_shortening() {
        assert_eq!(entry_label("GitHub", "al", || "x".into()), "GitHub (al)");
        assert_eq!(entry_label(" ", "", || "entry 3".into()), "entry 3");
        assert_eq!(shorten("ééé", 2), "éé…");
        assert_eq!(shorten("abc", 3), "abc");
    }

    #[test]
    fn base64_accepts_missing_padding() {
        assert_eq!(base64_decode("aGk=").unwrap().as_slice(), b"hi");
        assert_eq!(base64_decode("aGk").unwrap().as_slice(), b"hi");
        assert!(base64_decode("a*b").is_none());
    }

    #[test]
    fn formats_are_named_for_people() {
        let err = ImportError::PasswordRequired {
            format: Format::TwoFasEncrypted,
        };
        assert_eq!(
            err.to_string(),
            "this encrypted 2FAS backup needs its password: enter the password it was exported with"
        );
    }
}
