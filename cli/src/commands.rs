//! What each command does.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use authenticator_core::import::{self, ImportError, Imported};
use authenticator_core::seal::{KdfParams, Unlock};
use authenticator_core::vault::{AccountId, Vault};
use authenticator_core::{Account, OtpKind, backup, uri};
use serde::Serialize;

use crate::args::{Args, Command, ExportFormat};
use crate::failure::{Context, Failure};
use crate::{
    auto_backup, clipboard, interactive, os_keyring, passphrase, push, session, store, watch,
};

/// Runs the parsed command line.
pub fn run(args: Args) -> Result<(), Failure> {
    let command = match args.command {
        Some(Command::Code { uri, at }) => return code(&uri, at),
        Some(Command::ClipboardHold { seconds }) => return clipboard::hold(seconds),
        Some(Command::Demo) => return demo(),
        Some(command) => command,
        None => {
            let path = store::locate(args.vault.clone())?;
            if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
                let vault = store::open(&path)?;
                return interactive::run(vault);
            }
            Command::List {
                query: None,
                json: false,
                at: None,
            }
        }
    };
    let path = store::locate(args.vault)?;
    match command {
        Command::Init {
            keyring,
            passphrase,
        } => {
            let _lock = store::lock(&path)?;
            let protection = match (keyring, passphrase) {
                (true, _) => store::Protection::Keyring,
                (_, true) => store::Protection::Passphrase,
                _ => store::Protection::Automatic,
            };
            store::create(&path, protection).map(drop)
        }
        Command::Add { uri, qr } => add(&path, uri, qr),
        Command::Import { sources } => import_from(&path, &sources),
        Command::List { query, json, at } => list(&path, query.as_deref(), json, at),
        Command::Copy { query, print, at } => copy(&path, &query, print, at),
        Command::Rename {
            query,
            issuer,
            name,
        } => edit(&path, &query, |vault, id| {
            if issuer.is_none() && name.is_none() {
                return Err(Failure::new("say what to change: --issuer and/or --name"));
            }
            vault.rename(id, issuer.clone(), name.clone())?;
            Ok(format!("Renamed to {}", display(vault, id)))
        }),
        Command::Remove {
            query,
            yes,
            retire_push,
        } => edit(&path, &query, |vault, id| {
            let name = display(vault, id);
            if let Some(push) = vault.push_account_for(id)
                && !retire_push
            {
                return Err(Failure::new(format!(
                    "{name} also approves sign-ins for {} ({}): removing it stops that too; \
                     add --retire-push to remove both",
                    push.label, push.portal_url
                )));
            }
            if !yes
                && !confirm(&format!(
                    "Remove {name}? Its codes cannot be recovered. [y/N] "
                ))?
            {
                return Err(Failure::new("not removed"));
            }
            let retired = vault.delete_account(id, retire_push)?;
            if let Some(device_id) = retired {
                crate::relays::Relays::load(vault.path())?.set(&device_id, None)?;
                return Ok(format!(
                    "Removed {name} and its push enrollment (this device no longer answers its sign-ins)"
                ));
            }
            Ok(format!("Removed {name}"))
        }),
        Command::Move { query, position } => edit(&path, &query, |vault, id| {
            vault.move_to(id, position.saturating_sub(1))?;
            Ok(format!(
                "Moved {} to position {}",
                display(vault, id),
                position.max(1)
            ))
        }),
        Command::Export { format, output } => export(&path, format, output.as_deref()),
        Command::Enroll {
            uri,
            qr,
            name,
            relay,
        } => push::enroll(&path, uri, qr, name, relay),
        Command::Pending { json } => push::pending(&path, json),
        Command::Approve { id, number } => {
            push::respond(&path, &id, push::Decision::Approve { number })
        }
        Command::Deny { id, not_me } => push::respond(&path, &id, push::Decision::Deny { not_me }),
        Command::Watch { once } => watch::watch(&path, once),
        Command::Backup { action } => auto_backup::run(&path, action),
        Command::Unlock { raw } => unlock(&path, raw),
        Command::Lock => {
            let ended = session::end(&path)?;
            eprintln!(
                "{}",
                if ended {
                    "Locked."
                } else {
                    "No session was open."
                }
            );
            Ok(())
        }
        Command::Passwd => {
            let _lock = store::lock(&path)?;
            let mut vault = store::open(&path)?;
            let pass = passphrase::ask_new("vault", "ASSENT_NEW_PASSPHRASE")?;
            vault.change_passphrase(pass.as_bytes(), KdfParams::recommended()?)?;
            os_keyring::forget(&path);
            session::end(&path)?;
            eprintln!("Passphrase changed; sessions were ended.");
            Ok(())
        }
        Command::Code { .. } | Command::ClipboardHold { .. } | Command::Demo => Ok(()),
    }
}

/// The current Unix time in seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn code(text: &str, at: Option<u64>) -> Result<(), Failure> {
    let account = uri::parse(text)?;
    println!("{}", account.code(at.unwrap_or_else(now)).value);
    Ok(())
}

fn add(
    path: &Path,
    uri_text: Option<String>,
    qr: Option<std::path::PathBuf>,
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
    save_new(path, accounts)
}

fn import_from(path: &Path, sources: &[String]) -> Result<(), Failure> {
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
    save_new(path, imported.accounts)
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

/// Adds `accounts` to the vault at `path` (created if missing) and reports what was added.
pub fn save_new(path: &Path, accounts: Vec<Account>) -> Result<(), Failure> {
    if accounts.is_empty() {
        return Err(Failure::new("nothing to add: no account was found"));
    }
    let _lock = store::lock(path)?;
    let mut vault = store::open_or_create(path)?;
    let report = vault.add_all(accounts)?;
    vault.save()?;
    for id in &report.added {
        eprintln!("Added {}", display(&vault, id));
    }
    for (name, existing) in &report.duplicates {
        eprintln!(
            "Skipped {name}: already in the vault as {}",
            display(&vault, existing)
        );
    }
    eprintln!(
        "{} added, {} already present",
        report.added.len(),
        report.duplicates.len()
    );
    auto_backup::after_change(&vault);
    Ok(())
}

/// One account as `list --json` prints it.
#[derive(Serialize)]
pub struct Listed<'a> {
    id: &'a str,
    issuer: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    algorithm: &'static str,
    digits: u8,
    period: u32,
    counter: u64,
    code: String,
    remaining_seconds: Option<u32>,
    /// `brand:<slug>` or `letter:<L>` (docs/icons.md).
    icon: String,
    /// The push enrollment that came in the same QR, when this account also approves sign-ins.
    push_device_id: Option<&'a str>,
}

impl<'a> Listed<'a> {
    /// The listing of one entry of `vault` at time `at`.
    pub fn new(vault: &'a Vault, id: &'a AccountId, account: &'a Account, at: u64) -> Self {
        let code = account.code(at);
        Self {
            icon: account.icon().key(),
            push_device_id: vault.push_account_for(id).map(|p| p.device_id.as_str()),
            id: id.as_str(),
            issuer: &account.issuer,
            name: &account.name,
            kind: account.otp.kind().as_str(),
            algorithm: account.otp.algorithm().as_str(),
            digits: account.otp.digits(),
            period: account.otp.period(),
            counter: account.otp.counter(),
            code: code.value,
            remaining_seconds: code.remaining_seconds,
        }
    }
}

fn list(path: &Path, query: Option<&str>, json: bool, at: Option<u64>) -> Result<(), Failure> {
    let vault = store::open(path)?;
    let at = at.unwrap_or_else(now);
    let entries: Vec<_> = match query {
        Some(q) => vault.search(q),
        None => vault.entries().iter().collect(),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        let listed: Vec<_> = entries
            .iter()
            .map(|e| Listed::new(&vault, &e.id, &e.account, at))
            .collect();
        serde_json::to_writer_pretty(&mut out, &listed).map_err(|e| Failure::new(e.to_string()))?;
        writeln!(out)?;
    } else {
        if entries.is_empty() {
            eprintln!(
                "No accounts{}.",
                if query.is_some() {
                    " match"
                } else {
                    " yet: add one with `assent add <otpauth-uri>`"
                }
            );
        }
        for entry in entries {
            let code = entry.account.code(at);
            let left = match code.remaining_seconds {
                Some(s) => format!("{s:>3}s"),
                None => "   \u{21bb}".to_owned(),
            };
            writeln!(
                out,
                "{:<9} {left}  {}",
                code.grouped(),
                entry.account.display_name()
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

fn copy(path: &Path, query: &str, print: bool, at: Option<u64>) -> Result<(), Failure> {
    // HOTP codes advance the counter, so take the write lock before reading.
    let _lock = store::lock(path)?;
    let mut vault = store::open(path)?;
    let id = find_one(&vault, query)?;
    let Some(entry) = vault.get(&id) else {
        return Err(Failure::new("the account disappeared"));
    };
    let account = &entry.account;
    let code = account.code(at.unwrap_or_else(now));
    let name = account.display_name();
    let hotp_next = (account.otp.kind() == OtpKind::Hotp).then(|| account.otp.counter() + 1);
    if print {
        println!("{}", code.value);
    } else {
        clipboard::copy(&code.value, clipboard::clear_after())?;
        let left = code
            .remaining_seconds
            .map(|s| format!(", valid {s} s more"))
            .unwrap_or_default();
        eprintln!(
            "Copied the code of {name}{left}; the clipboard clears in {} s.",
            clipboard::clear_after().as_secs()
        );
    }
    if let Some(counter) = hotp_next {
        vault.set_counter(&id, counter)?;
        vault.save()?;
        auto_backup::after_change(&vault);
    }
    Ok(())
}

/// Opens the vault under the write lock, finds one account, applies `change`, saves.
fn edit(
    path: &Path,
    query: &str,
    change: impl FnOnce(&mut Vault, &AccountId) -> Result<String, Failure>,
) -> Result<(), Failure> {
    let _lock = store::lock(path)?;
    let mut vault = store::open(path)?;
    let id = find_one(&vault, query)?;
    let message = change(&mut vault, &id)?;
    vault.save()?;
    eprintln!("{message}");
    auto_backup::after_change(&vault);
    Ok(())
}

fn display(vault: &Vault, id: &AccountId) -> String {
    vault
        .get(id)
        .map(|e| e.account.display_name())
        .unwrap_or_else(|| id.to_string())
}

/// The one account `query` designates: its id, an exact issuer/name/label, or a unique substring.
pub fn find_one(vault: &Vault, query: &str) -> Result<AccountId, Failure> {
    if let Some(entry) = vault.get(&AccountId::from(query)) {
        return Ok(entry.id.clone());
    }
    let q = query.to_lowercase();
    let exact: Vec<_> = vault
        .entries()
        .iter()
        .filter(|e| {
            let a = &e.account;
            a.issuer.to_lowercase() == q
                || a.name.to_lowercase() == q
                || a.display_name().to_lowercase() == q
                || format!("{}:{}", a.issuer, a.name).to_lowercase() == q
        })
        .collect();
    let matches = if exact.len() == 1 {
        exact
    } else {
        vault.search(query)
    };
    match matches.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(Failure::new(format!("no account matches {query:?}"))),
        many => {
            let names: Vec<_> = many
                .iter()
                .take(10)
                .map(|e| format!("{} [{}]", e.account.display_name(), e.id))
                .collect();
            Err(Failure::new(format!(
                "{query:?} matches {} accounts: {}; use a longer query or the id",
                many.len(),
                names.join(", ")
            )))
        }
    }
}

fn confirm(question: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new("not on a terminal: pass --yes to confirm"));
    }
    eprint!("{question}");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

fn export(path: &Path, format: ExportFormat, output: Option<&Path>) -> Result<(), Failure> {
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

fn unlock(path: &Path, raw: bool) -> Result<(), Failure> {
    // A fresh unlock, whatever session the environment holds.
    let vault = if Vault::uses_passphrase(path)? {
        let pass = passphrase::ask("Vault passphrase: ", passphrase::VAULT_ENV)?;
        Vault::open(path, Unlock::Passphrase(pass.as_bytes()))?
    } else {
        Vault::open(path, Unlock::Key(&os_keyring::load(path)?))?
    };
    let token = session::start(path, vault.key())?;
    if raw {
        println!("{token}");
    } else {
        println!("Vault unlocked. To use this session in your shell:");
        println!("  export {}=\"{token}\"", session::ENV);
        println!("End it with `assent lock`.");
    }
    Ok(())
}

const DEMO_ACCOUNTS: &[&str] = &[
    "otpauth://totp/GitHub:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=GitHub",
    "otpauth://totp/AWS:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA&issuer=AWS&algorithm=SHA256&digits=8&period=60",
    "otpauth://steam/Steam:alice?secret=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U&issuer=Steam",
    "otpauth://hotp/Bank:alice?secret=KRUGS4ZANFZSAYJAONSWG4TFOQQQ&issuer=Bank&counter=0",
    "otpauth://totp/Caf%C3%A9%20%E2%98%95:alice?secret=ONSWG4TFORZWK2LSMVZQ&issuer=Caf%C3%A9%20%E2%98%95&algorithm=SHA512",
];

fn demo() -> Result<(), Failure> {
    let dir = std::env::temp_dir().join("assent-demo");
    std::fs::create_dir_all(&dir).context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("vault.json");
    let vault = if path.exists() {
        Vault::open(&path, Unlock::Passphrase(b"demo"))?
    } else {
        let mut vault = Vault::create_with_passphrase(&path, b"demo", KdfParams::recommended()?)?;
        for text in DEMO_ACCOUNTS {
            vault.add(uri::parse(text)?)?;
        }
        vault.save()?;
        vault
    };
    eprintln!("Demo vault: {} (passphrase \"demo\")", path.display());
    eprintln!(
        "Try it from another shell: ASSENT_VAULT={} ASSENT_PASSPHRASE=demo assent list",
        path.display()
    );
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        interactive::run(vault)
    } else {
        let at = now();
        for entry in vault.entries() {
            let code = entry.account.code(at);
            println!("{:<9} {}", code.grouped(), entry.account.display_name());
        }
        Ok(())
    }
}
