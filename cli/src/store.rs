//! Finding, opening, creating, locking and changing the vault file, and the backup every change
//! is followed by.

use std::fs::File;
use std::path::{Path, PathBuf};

use authenticator_core::Account;
use authenticator_core::seal::{KdfParams, Unlock, VaultKey};
use authenticator_core::vault::{AccountId, Vault, VaultError};

use crate::clock::Clock;
use crate::failure::{Context, Failure};
use crate::{os_keyring, passphrase, session};

/// The vault path: `--vault`, else ASSENT_VAULT (both handled by clap), else the platform's data
/// directory.
pub fn locate(explicit: Option<PathBuf>) -> Result<PathBuf, Failure> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let dir = dirs::data_dir().ok_or_else(|| {
        Failure::new("no data directory on this system: pass --vault or set ASSENT_VAULT")
    })?;
    Ok(dir.join("assent").join("vault.json"))
}

/// Opens the vault with the session in ASSENT_SESSION, else the passphrase.
pub fn open(path: &Path) -> Result<Vault, Failure> {
    if let Ok(token) = std::env::var(session::ENV)
        && !token.is_empty()
    {
        let key = session::vault_key(path, &token)?;
        return Ok(Vault::open(path, Unlock::Key(&key))?);
    }
    if !Vault::uses_passphrase(path)? {
        let key = os_keyring::load(path)?;
        return Ok(Vault::open(path, Unlock::Key(&key))?);
    }
    let pass = passphrase::ask("Vault passphrase: ", passphrase::VAULT_ENV)?;
    Ok(Vault::open(path, Unlock::Passphrase(pass.as_bytes()))?)
}

/// How a new vault is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// The OS keyring if it works, else a passphrase (a passphrase when ASSENT_PASSPHRASE is
    /// set, as scripts expect).
    Automatic,
    /// A random key kept in the OS keyring; fail if there is none.
    Keyring,
    /// A passphrase through Argon2id.
    Passphrase,
}

/// Creates a new, empty vault at `path`.
pub fn create(path: &Path, protection: Protection) -> Result<Vault, Failure> {
    if path.exists() {
        return Err(VaultError::AlreadyExists(path.to_path_buf()).into());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    }
    let scripted = std::env::var(passphrase::VAULT_ENV).is_ok();
    if protection == Protection::Keyring || (protection == Protection::Automatic && !scripted) {
        let key = VaultKey::generate()?;
        match os_keyring::store(path, &key) {
            Ok(()) => {
                let vault = Vault::create_with_key(path, key)?;
                eprintln!(
                    "Created {}; its key is in your OS keyring. Keep a backup: `assent export`.",
                    path.display()
                );
                return Ok(vault);
            }
            Err(why) if protection == Protection::Keyring => {
                return Err(Failure::new(format!(
                    "the OS keyring cannot be used: {why}"
                )));
            }
            Err(_) => {}
        }
    }
    eprintln!(
        "Creating a new vault at {}, protected by a passphrase",
        path.display()
    );
    let pass = passphrase::ask_new("vault", passphrase::VAULT_ENV)?;
    Ok(Vault::create_with_passphrase(
        path,
        pass.as_bytes(),
        KdfParams::recommended()?,
    )?)
}

/// `assent init`: creates the vault at `path`, under the write lock.
pub fn init(path: &Path, protection: Protection) -> Result<(), Failure> {
    let _lock = lock(path)?;
    create(path, protection).map(drop)
}

/// `assent passwd`: protects the vault with a new passphrase (a keyring vault moves to one), and
/// ends every session, which held the old key.
pub fn change_passphrase(path: &Path) -> Result<(), Failure> {
    let _lock = lock(path)?;
    let mut vault = open(path)?;
    let pass = passphrase::ask_new("vault", "ASSENT_NEW_PASSPHRASE")?;
    vault.change_passphrase(pass.as_bytes(), KdfParams::recommended()?)?;
    os_keyring::forget(path);
    session::end(path)?;
    eprintln!("Passphrase changed; sessions were ended.");
    Ok(())
}

/// Opens the vault, or creates it (asking for a new passphrase) when there is none yet.
pub fn open_or_create(path: &Path) -> Result<Vault, Failure> {
    if path.exists() {
        return open(path);
    }
    create(path, Protection::Automatic)
}

/// An exclusive lock on the vault for a read-modify-write, so two `assent` processes never
/// lose each other's changes. Released on drop.
pub struct WriteLock {
    _file: File,
}

/// Takes the write lock of the vault at `path` (waits for another writer to finish).
pub fn lock(path: &Path) -> Result<WriteLock, Failure> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .context(|| format!("opening {}", lock_path.display()))?;
    file.lock()
        .context(|| format!("locking {}", lock_path.display()))?;
    Ok(WriteLock { _file: file })
}

/// Adds `accounts` to the vault at `path` (created if missing) and reports what was added.
pub fn save_new(path: &Path, accounts: Vec<Account>, clock: &dyn Clock) -> Result<(), Failure> {
    if accounts.is_empty() {
        return Err(Failure::new("nothing to add: no account was found"));
    }
    let _lock = lock(path)?;
    let mut vault = open_or_create(path)?;
    let report = vault.add_all(accounts)?;
    vault.save()?;
    for id in &report.added {
        eprintln!("Added {}", display_name(&vault, id));
    }
    for (name, existing) in &report.duplicates {
        eprintln!(
            "Skipped {name}: already in the vault as {}",
            display_name(&vault, existing)
        );
    }
    eprintln!(
        "{} added, {} already present",
        report.added.len(),
        report.duplicates.len()
    );
    after_change(&vault, clock.now());
    Ok(())
}

/// How the account `id` is named in messages: its display name, or its id once it is gone.
pub fn display_name(vault: &Vault, id: &AccountId) -> String {
    vault
        .get(id)
        .map(|e| e.account.display_name())
        .unwrap_or_else(|| id.to_string())
}

/// After a saved change, still under the write lock: writes a version of the automatic backup if
/// backups are on and the accounts changed. A failure is one line of warning; the change stands
/// and the command still succeeds.
///
/// The CLI is a new process per command, so it has no "later" to debounce into: it flushes at
/// the end of each command that changed the vault, under the vault's write lock (two commands
/// never write versions at once). The core skips the write when the accounts did not change.
pub fn after_change(vault: &Vault, now: u64) {
    if let Some(warning) = warning_after_change(vault, now) {
        eprintln!("{warning}");
    }
}

/// [`after_change`] for the interactive screen, which shows the warning itself.
pub fn warning_after_change(vault: &Vault, now: u64) -> Option<String> {
    vault.flush_backup(now).err().map(|e| {
        format!("assent: warning: the automatic backup failed: {e} (see `assent backup status`)")
    })
}
