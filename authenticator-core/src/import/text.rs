//! URIs as text: a pasted `otpauth://` URI, a file of them one a line (blank lines and `#`
//! comments ignored), Google export URIs, and the contents of QR codes.
//!
//! One bad line among many is skipped with its line number, not a failure of the whole import;
//! a single URI that cannot be used is an error, since there is nothing else to import.

use super::{Format, Found, ImportError, google};
use crate::uri;

const OTPAUTH: &str = "otpauth://";

/// Reads text as URIs. Text in which no line is an `otpauth://` or `otpauth-migration://` URI
/// is not this format at all.
pub(super) fn read_lines(text: &str, found: &mut Found) -> Result<Format, ImportError> {
    let items: Vec<(String, &str)> = text
        .lines()
        .enumerate()
        .map(|(index, line)| (format!("line {}", index + 1), line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .collect();
    if !items.iter().any(|(_, line)| is_uri(line)) {
        return Err(ImportError::UnknownFormat);
    }
    let format = match items.as_slice() {
        [(_, only)] if !google::is_migration_uri(only) => Format::OtpauthUri,
        _ if items.iter().all(|(_, line)| google::is_migration_uri(line)) => {
            Format::GoogleMigration
        }
        _ => Format::UriList,
    };
    read_uris(&items, found)?;
    Ok(format)
}

/// Reads the texts of the QR codes found in one image.
pub(super) fn read_qr_contents(
    contents: &[String],
    found: &mut Found,
) -> Result<Format, ImportError> {
    let items: Vec<(String, &str)> = contents
        .iter()
        .enumerate()
        .map(|(index, content)| (format!("QR code {}", index + 1), content.trim()))
        .collect();
    read_uris(&items, found)?;
    Ok(Format::QrImage)
}

fn is_uri(text: &str) -> bool {
    google::is_migration_uri(text)
        || text
            .get(..OTPAUTH.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(OTPAUTH))
}

/// Imports each labelled URI. With a single URI its error is the import's error.
fn read_uris(items: &[(String, &str)], found: &mut Found) -> Result<(), ImportError> {
    let single = items.len() == 1;
    for (label, text) in items {
        if google::is_migration_uri(text) {
            match google::parse(text) {
                Ok(part) => found.add_migration_part(part),
                Err(reason) if single => {
                    return Err(ImportError::Malformed {
                        format: Format::GoogleMigration,
                        reason,
                    });
                }
                Err(reason) => found.skip(label.as_str(), reason),
            }
        } else {
            match uri::parse(text) {
                Ok(account) => found.accounts.push(account),
                Err(error) if single => return Err(ImportError::InvalidUri(error)),
                Err(error) => found.skip(label.as_str(), error.to_string()),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::UriError;

    fn read(text: &str) -> Result<(Format, Found), ImportError> {
        let mut found = Found::default();
        read_lines(text, &mut found).map(|format| (format, found))
    }

    #[test]
    fn skips_bad_lines_by_number_and_ignores_comments() {
        let text = "# my accounts\r\n\
                    otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP\r\n\
                    \r\n\
                    otpauth://motp/B:b?secret=JBSWY3DPEHPK3PXP\n\
                    https://example.com\n\
                    otpauth://hotp/C:c?secret=JBSWY3DPEHPK3PXP&counter=3\n";
        let (format, found) = read(text).unwrap();
        assert_eq!(format, Format::UriList);
        assert_eq!(found.accounts.len(), 2);
        let skipped: Vec<String> = found.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            skipped,
            [
                "line 4: type: unknown OTP type \"motp\" (expected totp, hotp or steam)",
                "line 5: not an otpauth URI (it must start with otpauth://)",
            ]
        );
    }

    #[test]
    fn a_single_uri_is_its_own_format_and_its_error_is_the_imports() {
        let (format, found) = read("  otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP \n").unwrap();
        assert_eq!(format, Format::OtpauthUri);
        assert_eq!(found.accounts.len(), 1);
        assert_eq!(
            read("otpauth://totp/A:a?secret=JBSWY3DP").err(),
            Some(ImportError::InvalidUri(UriError::SecretTooShort {
                bits: 40
            }))
        );
        assert!(matches!(
            read("otpauth-migration://offline?data=!!"),
            Err(ImportError::Malformed {
                format: Format::GoogleMigration,
                ..
            })
        ));
    }

    #[test]
    fn text_without_uris_is_not_this_format() {
        for text in ["", "\n\n# only a comment\n", "hello\nworld", "{}"] {
            assert_eq!(
                read(text).err(),
                Some(ImportError::UnknownFormat),
                "{text:?}"
            );
        }
    }
}
