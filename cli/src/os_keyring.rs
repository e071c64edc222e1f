//! The vault key in the operating system's keyring (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows): the desktop counterpart of the phones' Keychain/Keystore.
//! A vault created this way opens without a passphrase whenever the user's keyring is unlocked.

use std::path::Path;

use authenticator_core::seal::VaultKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use crate::failure::Failure;

const SERVICE: &str = "assent";

/// Set to `0` to never use the OS keyring for new vaults.
pub const ENV: &str = "ASSENT_KEYRING";

fn entry(vault_path: &Path) -> Result<keyring::Entry, String> {
    let absolute = std::path::absolute(vault_path).map_err(|e| e.to_string())?;
    keyring::Entry::new(SERVICE, &absolute.to_string_lossy()).map_err(|e| e.to_string())
}

/// Stores the key of the vault at `vault_path`; the error says why the keyring is unusable.
pub fn store(vault_path: &Path, key: &VaultKey) -> Result<(), String> {
    if std::env::var(ENV).is_ok_and(|v| v == "0") {
        return Err(format!("{ENV}=0"));
    }
    let encoded = Zeroizing::new(B64.encode(key.expose()));
    entry(vault_path)?
        .set_password(&encoded)
        .map_err(|e| e.to_string())
}

/// The key of the vault at `vault_path`.
pub fn load(vault_path: &Path) -> Result<VaultKey, Failure> {
    let unusable = |why: String| {
        Failure::new(format!(
            "this vault's key is kept in the OS keyring, which cannot be read ({why}): unlock your keyring or restore a backup"
        ))
    };
    let encoded = Zeroizing::new(
        entry(vault_path)
            .map_err(unusable)?
            .get_password()
            .map_err(|e| unusable(e.to_string()))?,
    );
    let bytes = Zeroizing::new(
        B64.decode(encoded.as_bytes())
            .map_err(|e| unusable(e.to_string()))?,
    );
    VaultKey::from_slice(&bytes).ok_or_else(|| unusable("the stored key is not 32 bytes".into()))
}

/// Removes the vault's key from the keyring (after the vault moved to a passphrase).
pub fn forget(vault_path: &Path) {
    if let Ok(entry) = entry(vault_path) {
        let _ = entry.delete_credential();
    }
}
