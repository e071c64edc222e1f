//! Finding, opening, creating and locking the vault file.

use std::fs::File;
use std::path::{Path, PathBuf};

use authenticator_core::seal::{KdfParams, Unlock};
use authenticator_core::vault::{Vault, VaultError};

use crate::failure::{Context, Failure};
use crate::{passphrase, session};

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
    if !path.exists() {
        return Err(VaultError::NotFound(path.to_path_buf()).into());
    }
    let pass = passphrase::ask("Vault passphrase: ", passphrase::VAULT_ENV)?;
    Ok(Vault::open(path, Unlock::Passphrase(pass.as_bytes()))?)
}

/// Opens the vault, or creates it (asking for a new passphrase) when there is none yet.
pub fn open_or_create(path: &Path) -> Result<Vault, Failure> {
    if path.exists() {
        return open(path);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    }
    eprintln!("Creating a new vault at {}", path.display());
    let pass = passphrase::ask_new("vault", passphrase::VAULT_ENV)?;
    Ok(Vault::create_with_passphrase(
        path,
        pass.as_bytes(),
        KdfParams::recommended()?,
    )?)
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
