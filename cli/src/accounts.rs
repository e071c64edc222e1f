//! The commands on the vault's accounts and their codes: `code`, `list`, `copy`, `rename`,
//! `remove` and `move`, and how a query designates one account.

use std::io::{IsTerminal, Write};
use std::path::Path;

use authenticator_core::vault::{AccountId, Vault};
use authenticator_core::{Account, OtpKind, uri};
use serde::Serialize;

use crate::clipboard;
use crate::clock::Clock;
use crate::failure::Failure;
use crate::relays::Relays;
use crate::store::{self, display_name};

/// `assent code`: the code of an otpauth URI at `at` (default now), without a vault.
pub fn code(text: &str, at: Option<u64>, clock: &dyn Clock) -> Result<(), Failure> {
    let account = uri::parse(text)?;
    println!("{}", account.code(at.unwrap_or_else(|| clock.now())).value);
    Ok(())
}

/// One account as `list --json` prints it.
#[derive(Serialize)]
struct Listed<'a> {
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
    fn new(vault: &'a Vault, id: &'a AccountId, account: &'a Account, at: u64) -> Self {
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

/// `assent list`: the accounts (those matching `query`) with their codes at `at` (default now).
pub fn list(
    path: &Path,
    query: Option<&str>,
    json: bool,
    at: Option<u64>,
    clock: &dyn Clock,
) -> Result<(), Failure> {
    let vault = store::open(path)?;
    let at = at.unwrap_or_else(|| clock.now());
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

/// `assent copy`: one account's code at `at` (default now) to the clipboard, or printed.
pub fn copy(
    path: &Path,
    query: &str,
    print: bool,
    at: Option<u64>,
    clock: &dyn Clock,
) -> Result<(), Failure> {
    // HOTP codes advance the counter, so take the write lock before reading.
    let _lock = store::lock(path)?;
    let mut vault = store::open(path)?;
    let id = find_one(&vault, query)?;
    let Some(entry) = vault.get(&id) else {
        return Err(Failure::new("the account disappeared"));
    };
    let account = &entry.account;
    let code = account.code(at.unwrap_or_else(|| clock.now()));
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
        store::after_change(&vault, clock.now());
    }
    Ok(())
}

/// `assent rename`: a new issuer and/or name for one account.
pub fn rename(
    path: &Path,
    query: &str,
    issuer: Option<String>,
    name: Option<String>,
    clock: &dyn Clock,
) -> Result<(), Failure> {
    edit(path, query, clock, |vault, id| {
        if issuer.is_none() && name.is_none() {
            return Err(Failure::new("say what to change: --issuer and/or --name"));
        }
        vault.rename(id, issuer, name)?;
        Ok(format!("Renamed to {}", display_name(vault, id)))
    })
}

/// `assent remove`: deletes one account (asking first unless `yes`), and its push enrollment
/// with `retire_push`, which an account that also approves sign-ins requires.
pub fn remove(
    path: &Path,
    query: &str,
    yes: bool,
    retire_push: bool,
    clock: &dyn Clock,
) -> Result<(), Failure> {
    edit(path, query, clock, |vault, id| {
        let name = display_name(vault, id);
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
            Relays::load(vault.path())?.set(&device_id, None)?;
            return Ok(format!(
                "Removed {name} and its push enrollment (this device no longer answers its sign-ins)"
            ));
        }
        Ok(format!("Removed {name}"))
    })
}

/// `assent move`: puts one account at `position` (1 = first) in the list.
pub fn move_to(
    path: &Path,
    query: &str,
    position: usize,
    clock: &dyn Clock,
) -> Result<(), Failure> {
    edit(path, query, clock, |vault, id| {
        vault.move_to(id, position.saturating_sub(1))?;
        Ok(format!(
            "Moved {} to position {}",
            display_name(vault, id),
            position.max(1)
        ))
    })
}

/// Opens the vault under the write lock, finds one account, applies `change`, saves.
fn edit(
    path: &Path,
    query: &str,
    clock: &dyn Clock,
    change: impl FnOnce(&mut Vault, &AccountId) -> Result<String, Failure>,
) -> Result<(), Failure> {
    let _lock = store::lock(path)?;
    let mut vault = store::open(path)?;
    let id = find_one(&vault, query)?;
    let message = change(&mut vault, &id)?;
    vault.save()?;
    eprintln!("{message}");
    store::after_change(&vault, clock.now());
    Ok(())
}

/// The one account `query` designates: its id, an exact issuer/name/label, or a unique substring.
fn find_one(vault: &Vault, query: &str) -> Result<AccountId, Failure> {
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
