//! Where passphrases come from: an environment variable for scripts, else the terminal.

use zeroize::Zeroizing;

use crate::failure::Failure;

/// The vault passphrase for non-interactive use.
pub const VAULT_ENV: &str = "ASSENT_PASSPHRASE";
/// The passphrase of an encrypted file being imported.
pub const IMPORT_ENV: &str = "ASSENT_IMPORT_PASSWORD";
/// The passphrase of an encrypted backup being exported.
pub const BACKUP_ENV: &str = "ASSENT_BACKUP_PASSPHRASE";

/// Reads a passphrase from `env`, else asks on the terminal.
pub fn ask(prompt: &str, env: &str) -> Result<Zeroizing<String>, Failure> {
    if let Ok(value) = std::env::var(env) {
        return Ok(Zeroizing::new(value));
    }
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .map_err(|_| {
            Failure::new(format!(
                "a passphrase is needed: set {env} or run on a terminal"
            ))
        })
}

/// Reads a new passphrase from `env`, else asks twice on the terminal. Refuses an empty one.
pub fn ask_new(what: &str, env: &str) -> Result<Zeroizing<String>, Failure> {
    let first = if let Ok(value) = std::env::var(env) {
        Zeroizing::new(value)
    } else {
        let first = ask(&format!("New {what} passphrase: "), env)?;
        let again = ask(&format!("Repeat the {what} passphrase: "), env)?;
        if *first != *again {
            return Err(Failure::new("the passphrases differ; nothing was changed"));
        }
        first
    };
    if first.is_empty() {
        return Err(Failure::new(format!(
            "the {what} passphrase must not be empty"
        )));
    }
    Ok(first)
}
