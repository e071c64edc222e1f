//! Accounts into and out of the vault: `add` (a URI or a QR image), `import` (the exports of
//! other apps, backups, URI lists) and `export`.

use std::io::Write;
use std::path::{Path, PathBuf};

use authenticator_core::import::{self, ImportError, Imported};
use authenticator_core::seal::KdfParams;
use authenticator_core::{backup, uri};

use crate::args::ExportFormat;
use crate::clock::Clock;
use crate::failure::{Context, Failure};
use crate::{passphrase, store};

/// `assent add`: the account of an otpauth URI (or of any importable text), or of a QR image.
pub fn add(
    path: &Path,
    uri_text: Option<String>,
    qr: Option<PathBuf>,
    clock: &dyn Clock,
) -> Result<(), Failure> {
    let accounts = match (uri_text, qr) {
        (Some(text), _)
            if text
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("otpauth://") =>
        {
            vec![uri::parse(&text)?]
        }
        (Some(text), _) => read_import(&[text.as_bytes()])?.accounts,
        (None, Some(image)) => {
            let bytes = std::fs::read(&image).context(|| format!("reading {}", image.display()))?;
            let imported = import::import(&bytes, None)?;
            report_skipped(&imported);
            imported.accounts
        }
        (None, None) => return Err(Failure::new("give an otpauth URI or --qr <image>")),
    };
    store::save_new(path, accounts, clock)
}

/// `assent import`: the accounts of every source, each a file or a URI.
pub fn import(path: &Path, sources: &[String], clock: &dyn Clock) -> Result<(), Failure> {
    let mut inputs = Vec::with_capacity(sources.len());
    for source in sources {
        let looks_like_uri = source.contains("://") && !Path::new(source).exists();
        inputs.push(zeroize::Zeroizing::new(if looks_like_uri {
            source.as_bytes().to_vec()
        } else {
            std::fs::read(source).context(|| format!("reading {source}"))?
        }));
    }
    let inputs: Vec<&[u8]> = inputs.iter().map(|input| input.as_slice()).collect();
    let imported = read_import(&inputs)?;
    store::save_new(path, imported.accounts, clock)
}

/// Imports one or more inputs (all the QR codes of a split Google export, say) of any supported
/// format, asking for the password when one is encrypted.
fn read_import(inputs: &[&[u8]]) -> Result<Imported, Failure> {
    let imported = match import::import_many(inputs, None) {
        Err(ImportError::PasswordRequired { format }) => {
            let pass = passphrase::ask(
                &format!("Password of the {format}: "),
                passphrase::IMPORT_ENV,
            )?;
            import::import_many(inputs, Some(pass.as_str()))?
        }
        other => other?,
    };
    report_skipped(&imported);
    Ok(imported)
}

fn report_skipped(imported: &Imported) {
    for skipped in &imported.skipped {
        eprintln!("Could not import {}: {}", skipped.label, skipped.reason);
    }
    for missing in &imported.missing_parts {
        eprintln!("{missing}");
    }
}

/// `assent export`: every account, as URIs in clear or an encrypted backup, to `output` or
/// standard output.
pub fn export(path: &Path, format: ExportFormat, output: Option<&Path>) -> Result<(), Failure> {
    let vault = store::open(path)?;
    let accounts = vault.entries().iter().map(|e| &e.account);
    let bytes: zeroize::Zeroizing<Vec<u8>> = match format {
        ExportFormat::Uris => {
            eprintln!("Warning: these URIs hold every secret in clear; keep them safe.");
            zeroize::Zeroizing::new(backup::uri_list(accounts).as_bytes().to_vec())
        }
        ExportFormat::Backup => {
            let pass = passphrase::ask_new("backup", passphrase::BACKUP_ENV)?;
            zeroize::Zeroizing::new(backup::seal_backup(
                accounts,
                pass.as_bytes(),
                KdfParams::recommended()?,
            )?)
        }
    };
    match output {
        Some(file) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            options
                .open(file)
                .and_then(|mut f| f.write_all(&bytes))
                .context(|| format!("writing {}", file.display()))?;
            eprintln!(
                "Exported {} accounts to {}",
                vault.entries().len(),
                file.display()
            );
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}
