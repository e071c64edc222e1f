//! The importers against one golden fixture per format (`tests/fixtures/import`, written by
//! `make_fixtures.py`) and against hostile input: damaged, truncated, oversized or wrongly
//! unlocked files must each give their typed error, never a panic and never a secret.

#![allow(
    clippy::unwrap_used,
    reason = "in the helpers of a test as in the tests, an unwrap is an assertion"
)]

use std::io::Cursor;
use std::path::{Path, PathBuf};

use authenticator_core::import::{
    Format, ImportError, Imported, MAX_IMAGE_SIDE, MAX_INPUT_BYTES, import, import_many,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected(name: &str) -> Value {
    serde_json::from_slice(&fixture(&format!("{name}.expected.json"))).unwrap()
}

/// Every secret a fixture's accounts hold, base32: none may appear in an error or a reason.
fn fixture_secrets() -> Vec<String> {
    let mut secrets = vec!["JBSWY3DP".to_owned()];
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(data_name) = name.strip_suffix(".expected.json") {
            for account in expected(data_name)["accounts"].as_array().unwrap() {
                secrets.push(account["secret"].as_str().unwrap().to_owned());
            }
        }
    }
    secrets
}

fn assert_no_secret(text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret leaked into: {text}"
        );
    }
}

/// Imports `<dir>/<name>` for every `<name>.expected.json` in `dir` and compares the result;
/// returns the names checked.
fn check_expectations(dir: &Path) -> Vec<String> {
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter_map(|name| name.strip_suffix(".expected.json").map(str::to_owned))
        .collect();
    names.sort();
    for name in names {
        let want: Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{name}.expected.json"))).unwrap(),
        )
        .unwrap();
        let data = std::fs::read(dir.join(&name)).unwrap();
        let password = want["password"].as_str();
        match import(&data, password) {
            Ok(imported) => failures.extend(
                compare(&imported, &want)
                    .into_iter()
                    .map(|problem| format!("{name}: {problem}")),
            ),
            Err(e) => failures.push(format!("{name}: {e:?}")),
        }
        checked.push(name);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    checked
}

fn compare(imported: &Imported, want: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(format) = want["format"].as_str()
        && format!("{:?}", imported.format) != format
    {
        problems.push(format!("format {:?}, expected {format}", imported.format));
    }
    let accounts = serde_json::to_value(&imported.accounts).unwrap();
    if accounts != want["accounts"] {
        problems.push(format!(
            "accounts\n  got:      {accounts}\n  expected: {}",
            want["accounts"]
        ));
    }
    let skipped = want["skipped"].as_u64().unwrap_or(0) as usize;
    if imported.skipped.len() != skipped {
        problems.push(format!(
            "skipped {:?}, expected {skipped}",
            imported.skipped
        ));
    }
    let missing: Vec<Value> = imported
        .missing_parts
        .iter()
        .map(|m| serde_json::json!({"part": m.part, "parts": m.parts}))
        .collect();
    let want_missing = want["missing_parts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if missing != want_missing {
        problems.push(format!(
            "missing parts {missing:?}, expected {want_missing:?}"
        ));
    }
    problems
}

#[test]
fn every_golden_fixture_imports_as_expected() {
    let checked = check_expectations(&fixtures());
    assert_eq!(
        checked,
        [
            "2fas_encrypted.2fas",
            "2fas_plain.2fas",
            "aegis_encrypted.json",
            "aegis_plain.json",
            "google_migration.txt",
            "google_migration_qr.png",
            "otpauth_qr.png",
            "uris.txt",
        ]
    );
}

#[test]
fn skip_reasons_name_the_entry_but_never_its_secret() {
    let secrets = fixture_secrets();
    let mut reasons = Vec::new();
    for (name, password) in [
        ("aegis_plain.json", None),
        ("uris.txt", None),
        ("google_migration.txt", None),
    ] {
        let imported = import(&fixture(name), password).unwrap();
        for skipped in &imported.skipped {
            assert_no_secret(&skipped.to_string(), &secrets);
            reasons.push(skipped.to_string());
        }
    }
    assert_eq!(
        reasons,
        [
            "Yandex (eve): Yandex codes are not supported",
            "Old Bank (frank): mOTP codes are not supported",
            "line 8: type: unknown OTP type \"motp\" (expected totp, hotp or steam)",
            "line 9: secret: 40 bits is too short (at least 80 are required)",
            "Old Corp (mallory): MD5 codes are not supported",
        ]
    );
}

#[test]
fn google_export_parts_are_joined_and_missing_ones_named() {
    let text = String::from_utf8(fixture("google_migration.txt")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let [first, second] = lines.as_slice() else {
        panic!("{lines:?}")
    };

    let alone = import(first.as_bytes(), None).unwrap();
    assert_eq!(alone.format, Format::GoogleMigration);
    assert_eq!(alone.accounts.len(), 2);
    assert_eq!(alone.missing_parts.len(), 1);
    assert_eq!(
        alone.missing_parts[0].to_string(),
        "QR code 2 of 2 of the Google Authenticator export is missing: scan it too"
    );

    // Scanned one by one, in any order, a code scanned twice counting once.
    let together = import_many(
        &[second.as_bytes(), first.as_bytes(), second.as_bytes()],
        None,
    )
    .unwrap();
    assert_eq!(together.accounts.len(), 3);
    assert_eq!(together.skipped.len(), 1);
    assert!(together.missing_parts.is_empty());
    let names: Vec<&str> = together.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["carol", "alice@example.com", "bob@example.com"]);
}

#[test]
fn several_pictures_import_as_one() {
    let both = import_many(
        &[
            &fixture("otpauth_qr.png"),
            &fixture("google_migration_qr.png"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(both.format, Format::QrImage);
    assert_eq!(both.accounts.len(), 3);
}

#[test]
fn jpeg_photos_are_read_too() {
    let png = image::load_from_memory(&fixture("otpauth_qr.png")).unwrap();
    let mut jpeg = Vec::new();
    png.to_luma8()
        .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .unwrap();
    let from_jpeg = import(&jpeg, None).unwrap();
    let from_png = import(&fixture("otpauth_qr.png"), None).unwrap();
    assert_eq!(from_jpeg.format, Format::QrImage);
    assert_eq!(from_jpeg.accounts, from_png.accounts);
}

#[test]
fn a_single_uri_is_imported_and_its_error_is_typed() {
    let uri = b"otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
    let imported = import(uri, None).unwrap();
    assert_eq!(imported.format, Format::OtpauthUri);
    assert_eq!(imported.accounts[0].issuer, "Example");
    assert!(matches!(
        import(b"otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=12", None),
        Err(ImportError::InvalidUri(_))
    ));
}

// --- Hostile input ---------------------------------------------------------------------------

fn assert_err(result: Result<Imported, ImportError>, want: &ImportError) {
    match result {
        Err(e) => {
            assert_eq!(
                std::mem::discriminant(&e),
                std::mem::discriminant(want),
                "{e:?}, expected {want:?}"
            );
            assert_no_secret(&e.to_string(), &fixture_secrets());
        }
        Ok(imported) => panic!("imported {imported:?}, expected {want:?}"),
    }
}

fn malformed(format: Format) -> ImportError {
    ImportError::Malformed {
        format,
        reason: String::new(),
    }
}

fn malformed_format(result: Result<Imported, ImportError>) -> Option<Format> {
    match result {
        Err(ImportError::Malformed { format, .. }) => Some(format),
        _ => None,
    }
}

#[test]
fn encrypted_exports_ask_for_the_right_password() {
    for (name, format) in [
        ("aegis_encrypted.json", Format::AegisEncrypted),
        ("2fas_encrypted.2fas", Format::TwoFasEncrypted),
    ] {
        let data = fixture(name);
        assert_eq!(
            import(&data, None).err(),
            Some(ImportError::PasswordRequired { format })
        );
        assert_eq!(
            import(&data, Some("Test")).err(),
            Some(ImportError::WrongPassword { format })
        );
    }
}

/// Changes one character of the base64 ciphertext in `field`: the password still opens the key
/// (Aegis: the slot; 2FAS: the reference), so the file is damaged rather than locked.
fn tamper(data: &[u8], field: &str) -> Vec<u8> {
    let mut document: Value = serde_json::from_slice(data).unwrap();
    let sealed = document[field].as_str().unwrap().to_owned();
    let first = if sealed.starts_with('A') { "B" } else { "A" };
    document[field] = Value::String(format!("{first}{}", &sealed[1..]));
    serde_json::to_vec(&document).unwrap()
}

#[test]
fn damaged_ciphertext_is_malformed_not_a_wrong_password() {
    let aegis = tamper(&fixture("aegis_encrypted.json"), "db");
    assert_eq!(
        malformed_format(import(&aegis, Some("test"))),
        Some(Format::AegisEncrypted)
    );
    let twofas = tamper(&fixture("2fas_encrypted.2fas"), "servicesEncrypted");
    assert_eq!(
        malformed_format(import(&twofas, Some("test"))),
        Some(Format::TwoFasEncrypted)
    );
}

#[test]
fn truncated_files_fail_with_a_typed_error_and_never_panic() {
    for (name, format) in [
        ("aegis_plain.json", Some(Format::AegisPlain)),
        ("aegis_encrypted.json", Some(Format::AegisEncrypted)),
        ("2fas_plain.2fas", Some(Format::TwoFasPlain)),
        ("2fas_encrypted.2fas", Some(Format::TwoFasEncrypted)),
        ("google_migration.txt", None),
        ("uris.txt", None),
        ("google_migration_qr.png", None),
        ("otpauth_qr.png", None),
    ] {
        let data = fixture(name);
        let step = (data.len() / 97).max(1);
        for cut in (1..data.len()).step_by(step) {
            let result = import(&data[..cut], Some("test"));
            if let (Some(format), Err(e)) = (format, &result) {
                // Past its first bytes a JSON export is still recognized as the app's (encrypted
                // or not, once the keys that tell are in).
                if cut > 60 {
                    let family = |f: Format| format!("{f:?}").starts_with("Aegis");
                    let got = malformed_format(Err(e.clone()));
                    assert_eq!(
                        got.map(family),
                        Some(family(format)),
                        "{name} at {cut}: {e:?}"
                    );
                }
            }
            if let Err(e) = &result {
                assert_no_secret(&e.to_string(), &fixture_secrets());
            }
        }
    }
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let huge = vec![b'{'; MAX_INPUT_BYTES + 1];
    assert_eq!(
        import(&huge, None).err(),
        Some(ImportError::TooLarge {
            size: MAX_INPUT_BYTES + 1,
            limit: MAX_INPUT_BYTES
        })
    );
    let mut huge_uri = b"otpauth-migration://offline?data=".to_vec();
    huge_uri.resize(100_000, b'A');
    assert_err(import(&huge_uri, None), &malformed(Format::GoogleMigration));
}

fn migration_uri(payload: &[u8]) -> Vec<u8> {
    let data: String =
        form_urlencoded::byte_serialize(STANDARD.encode(payload).as_bytes()).collect();
    format!("otpauth-migration://offline?data={data}").into_bytes()
}

#[test]
fn garbage_migration_data_is_malformed() {
    for uri in [
        b"otpauth-migration://offline?data=%%%%".to_vec(),
        b"otpauth-migration://offline?data=not*base64".to_vec(),
        b"otpauth-migration://offline".to_vec(),
        // otp_parameters (field 1) as a varint instead of a message.
        migration_uri(&[0x08, 0x01]),
        // An OtpParameters whose secret (field 1) is a varint instead of bytes.
        migration_uri(&[0x0A, 0x02, 0x08, 0x05]),
        // A length running past the end.
        migration_uri(&[0x0A, 0x7F, 0x0A]),
        // batch_index 5 of batch_size 2.
        migration_uri(&[0x18, 0x02, 0x20, 0x05]),
    ] {
        assert_err(import(&uri, None), &malformed(Format::GoogleMigration));
    }
    // Among other lines, a bad export URI is skipped, not fatal.
    let mut text = b"otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP\n".to_vec();
    text.extend(migration_uri(&[0x08, 0x01]));
    let imported = import(&text, None).unwrap();
    assert_eq!((imported.accounts.len(), imported.skipped.len()), (1, 1));
    assert_eq!(imported.skipped[0].label, "line 2");
}

#[test]
fn garbage_in_encrypted_exports_is_malformed() {
    let mut aegis: Value = serde_json::from_slice(&fixture("aegis_encrypted.json")).unwrap();
    aegis["db"] = Value::String("!!! not base64 !!!".into());
    let aegis = serde_json::to_vec(&aegis).unwrap();
    assert_err(
        import(&aegis, Some("test")),
        &malformed(Format::AegisEncrypted),
    );

    let mut slot_types: Value = serde_json::from_slice(&fixture("aegis_encrypted.json")).unwrap();
    slot_types["header"]["slots"][0]["n"] = Value::from(1u64 << 40);
    let costly = serde_json::to_vec(&slot_types).unwrap();
    assert_err(
        import(&costly, Some("test")),
        &malformed(Format::AegisEncrypted),
    );

    let mut biometric_only: Value =
        serde_json::from_slice(&fixture("aegis_encrypted.json")).unwrap();
    biometric_only["header"]["slots"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    let biometric_only = serde_json::to_vec(&biometric_only).unwrap();
    assert_eq!(
        import(&biometric_only, Some("test")).err(),
        Some(ImportError::NoPasswordSlot)
    );

    let twofas = br#"{"services":[],"schemaVersion":4,"servicesEncrypted":"AAAA:####:AAAA"}"#;
    assert_err(
        import(twofas, Some("test")),
        &malformed(Format::TwoFasEncrypted),
    );
}

#[test]
fn newer_versions_are_refused_by_number() {
    let mut aegis: Value = serde_json::from_slice(&fixture("aegis_plain.json")).unwrap();
    aegis["db"]["version"] = Value::from(4);
    assert_eq!(
        import(&serde_json::to_vec(&aegis).unwrap(), None).err(),
        Some(ImportError::UnsupportedVersion {
            format: Format::AegisPlain,
            version: 4
        })
    );
    let mut twofas: Value = serde_json::from_slice(&fixture("2fas_plain.2fas")).unwrap();
    twofas["schemaVersion"] = Value::from(5);
    assert_eq!(
        import(&serde_json::to_vec(&twofas).unwrap(), None).err(),
        Some(ImportError::UnsupportedVersion {
            format: Format::TwoFasPlain,
            version: 5
        })
    );
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let blank = image::GrayImage::from_pixel(width, height, image::Luma([255]));
    let mut bytes = Vec::new();
    blank
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes
}

#[test]
fn pictures_without_a_qr_code_or_too_large_are_refused() {
    assert_eq!(
        import(&png(200, 120), None).err(),
        Some(ImportError::NoQrCode)
    );
    assert_eq!(
        import(&png(1, MAX_IMAGE_SIDE + 1), None).err(),
        Some(ImportError::ImageTooLarge {
            width: 1,
            height: MAX_IMAGE_SIDE + 1
        })
    );
    // A QR code that holds something other than an otpauth URI.
    let code = qrcode::QrCode::new(b"https://example.com").unwrap();
    let picture = code.render::<image::Luma<u8>>().build();
    let mut bytes = Vec::new();
    picture
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    assert!(matches!(
        import(&bytes, None),
        Err(ImportError::InvalidUri(_))
    ));
}

#[test]
fn what_is_no_known_format_says_so() {
    for data in [
        &b""[..],
        b"\x00\x01\x02\xff\xfe",
        b"hello world",
        b"{\"something\": \"else\"}",
        b"[1, 2, 3]",
        b"{not json at all",
        b"GIF89a....",
    ] {
        assert_eq!(
            import(data, None).err(),
            Some(ImportError::UnknownFormat),
            "{data:?}"
        );
    }
    assert_eq!(
        import_many(&[], None).err(),
        Some(ImportError::UnknownFormat)
    );
}

#[test]
fn every_error_message_tells_what_to_do() {
    let errors = [
        ImportError::UnknownFormat,
        ImportError::TooLarge { size: 1, limit: 0 },
        ImportError::ImageTooLarge {
            width: 9000,
            height: 10,
        },
        ImportError::PasswordRequired {
            format: Format::AegisEncrypted,
        },
        ImportError::WrongPassword {
            format: Format::TwoFasEncrypted,
        },
        ImportError::NoPasswordSlot,
        malformed(Format::GoogleMigration),
        ImportError::UnsupportedVersion {
            format: Format::TwoFasPlain,
            version: 9,
        },
        ImportError::NoQrCode,
    ];
    for error in errors {
        let message = error.to_string();
        assert!(message.contains(": "), "{message}");
    }
}

// --- Maintenance -----------------------------------------------------------------------------

/// Renders the QR code fixtures from `qr_sources.json` (written by `make_fixtures.py`):
/// `cargo test -p authenticator-core --test import -- --ignored regenerate_qr_pngs`.
#[test]
#[ignore = "rewrites fixture files"]
fn regenerate_qr_pngs() {
    let sources: Value = serde_json::from_slice(&fixture("qr_sources.json")).unwrap();
    for (name, content) in sources.as_object().unwrap() {
        let code = qrcode::QrCode::new(content.as_str().unwrap().as_bytes()).unwrap();
        let picture = code
            .render::<image::Luma<u8>>()
            .module_dimensions(4, 4)
            .build();
        let mut bytes = Vec::new();
        picture
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        std::fs::write(fixtures().join(name), bytes).unwrap();
    }
}

/// Checks exports made by other projects' test suites (for example Aegis'
/// `app/src/test/resources/.../importers`), kept outside this repository: put each file and a
/// `<name>.expected.json` in the format of ours in a directory, then
/// `ASSENT_IMPORT_REFERENCE_DIR=<dir> cargo test -p authenticator-core --test import -- --ignored`.
#[test]
#[ignore = "needs ASSENT_IMPORT_REFERENCE_DIR"]
fn reference_exports() {
    let dir = std::env::var_os("ASSENT_IMPORT_REFERENCE_DIR")
        .expect("set ASSENT_IMPORT_REFERENCE_DIR to a directory of exports and expectations");
    let checked = check_expectations(Path::new(&dir));
    assert!(
        !checked.is_empty(),
        "no <name>.expected.json in the directory"
    );
    eprintln!("checked {}: {}", checked.len(), checked.join(", "));
}
