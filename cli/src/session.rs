//! Desktop sessions, like Bitwarden CLI's BW_SESSION: `assent unlock` runs the slow passphrase
//! derivation once, stores the vault key sealed under a random session key in a file only the
//! user can read, and prints the session key. A later command with the token in ASSENT_SESSION
//! opens the file instead of asking. Neither half alone opens the vault; `assent lock` deletes
//! the file, which ends every copy of the token.

use std::fs;
use std::path::{Path, PathBuf};

use authenticator_core::seal::{self, Unlock, VaultKey};
use authenticator_core::vault::Vault;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::digest;

use crate::failure::{Context, Failure};
use crate::{os_keyring, passphrase};

/// The environment variable that carries the session token.
pub const ENV: &str = "ASSENT_SESSION";
const FORMAT: &str = "assent-session";

/// `assent unlock`: opens the vault once and prints a session token for it (only the token with
/// `raw`).
pub fn unlock(path: &Path, raw: bool) -> Result<(), Failure> {
    // A fresh unlock, whatever session the environment holds.
    let vault = if Vault::uses_passphrase(path)? {
        let pass = passphrase::ask("Vault passphrase: ", passphrase::VAULT_ENV)?;
        Vault::open(path, Unlock::Passphrase(pass.as_bytes()))?
    } else {
        Vault::open(path, Unlock::Key(&os_keyring::load(path)?))?
    };
    let token = start(path, vault.key())?;
    if raw {
        println!("{token}");
    } else {
        println!("Vault unlocked. To use this session in your shell:");
        println!("  export {ENV}=\"{token}\"");
        println!("End it with `assent lock`.");
    }
    Ok(())
}

/// `assent lock`: ends every session of the vault at `path`, and says whether there was one.
pub fn lock(path: &Path) -> Result<(), Failure> {
    let ended = end(path)?;
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

/// Starts a session for the vault at `vault_path`, opened with `vault_key`; returns the token.
pub fn start(vault_path: &Path, vault_key: &VaultKey) -> Result<String, Failure> {
    let session_key = VaultKey::generate()?;
    let sealed = seal::seal(FORMAT, &session_key, None, vault_key.expose())?;
    let path = file_for(vault_path)?;
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    write_private(&path, &sealed)?;
    Ok(B64.encode(session_key.expose()))
}

/// The vault key held by the session `token`, or why the session cannot be used.
pub fn vault_key(vault_path: &Path, token: &str) -> Result<VaultKey, Failure> {
    let expired = || {
        Failure::new(format!(
            "{ENV} is not a session of this vault (it was locked, or belongs to another vault): run `assent unlock` again or unset {ENV}"
        ))
    };
    let bytes = B64
        .decode(token.trim())
        .ok()
        .and_then(|b| VaultKey::from_slice(&b))
        .ok_or_else(expired)?;
    let sealed = fs::read(file_for(vault_path)?).map_err(|_| expired())?;
    let opened = seal::open(FORMAT, &sealed, Unlock::Key(&bytes)).map_err(|_| expired())?;
    VaultKey::from_slice(&opened.plaintext).ok_or_else(expired)
}

/// Ends the session of the vault at `vault_path`; true when there was one.
pub fn end(vault_path: &Path) -> Result<bool, Failure> {
    let path = file_for(vault_path)?;
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Failure::new(format!("removing {}: {e}", path.display()))),
    }
}

/// One session file per vault, named by a hash of the vault's absolute path, in the user's
/// runtime directory (a RAM disk on Linux, emptied at logout) when there is one.
fn file_for(vault_path: &Path) -> Result<PathBuf, Failure> {
    let absolute = std::path::absolute(vault_path)
        .context(|| format!("resolving {}", vault_path.display()))?;
    let digest = digest::digest(&digest::SHA256, absolute.as_os_str().as_encoded_bytes());
    let name = hex::encode(&digest.as_ref()[..12]);
    let base = dirs::runtime_dir()
        .or_else(dirs::cache_dir)
        .unwrap_or_else(std::env::temp_dir);
    Ok(base.join("assent").join(format!("session-{name}.json")))
}

fn create_private_dir(dir: &Path) -> Result<(), Failure> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .context(|| format!("creating {}", dir.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)
        .context(|| format!("writing {}", path.display()))
}
