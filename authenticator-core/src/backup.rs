//! Exports: a plain list of otpauth URIs, and an encrypted backup (passphrase -> Argon2id ->
//! AES-256-GCM, the sealed format of docs/vault.md with kind `assent-backup`) that `import`
//! reads back.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::account::Account;
use crate::seal::{self, KdfParams, SealError, Unlock, VaultKey};
use crate::uri;
use crate::vault::to_json_zeroizing;

const FORMAT: &str = "assent-backup";

#[derive(Serialize, Deserialize)]
struct Payload {
    accounts: Vec<Account>,
}

/// Every account as an otpauth URI, one per line: readable by any authenticator and by
/// `assent import`. It holds every secret in clear, so the buffer is wiped on drop.
pub fn uri_list<'a>(accounts: impl IntoIterator<Item = &'a Account>) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    for account in accounts {
        out.push_str(&uri::to_uri(account));
        out.push('\n');
    }
    out
}

/// An encrypted backup of `accounts` under `passphrase`.
pub fn seal_backup<'a>(
    accounts: impl IntoIterator<Item = &'a Account>,
    passphrase: &[u8],
    kdf: KdfParams,
) -> Result<Vec<u8>, SealError> {
    let plaintext = plaintext(accounts)?;
    let key = kdf.derive(passphrase)?;
    seal_plaintext(&plaintext, &key, &kdf)
}

/// The JSON payload of a backup of `accounts`, in a buffer wiped on drop.
pub(crate) fn plaintext<'a>(
    accounts: impl IntoIterator<Item = &'a Account>,
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let payload = Payload {
        accounts: accounts.into_iter().cloned().collect(),
    };
    to_json_zeroizing(&payload)
}

/// Seals a backup payload under a key already derived from the backup passphrase with `kdf`
/// (the automatic backups derive it once, not at every version).
pub(crate) fn seal_plaintext(
    plaintext: &[u8],
    key: &VaultKey,
    kdf: &KdfParams,
) -> Result<Vec<u8>, SealError> {
    seal::seal(FORMAT, key, Some(kdf), plaintext)
}

/// True when `bytes` look like an Assent encrypted backup.
pub fn is_backup(bytes: &[u8]) -> bool {
    seal::is_sealed(FORMAT, bytes)
}

/// Opens an encrypted backup.
pub fn open_backup(bytes: &[u8], passphrase: &[u8]) -> Result<Vec<Account>, SealError> {
    let opened = seal::open(FORMAT, bytes, Unlock::Passphrase(passphrase))?;
    let payload: Payload = serde_json::from_slice(&opened.plaintext)
        .map_err(|e| SealError::BadPayload(e.to_string()))?;
    Ok(payload.accounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_round_trips_and_needs_the_passphrase() {
        let accounts = vec![
            uri::parse("otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP").unwrap(),
            uri::parse("otpauth://hotp/X:y?secret=JBSWY3DPEHPK3PXP&counter=9&digits=8").unwrap(),
        ];
        let kdf = KdfParams::with_cost(KdfParams::MIN_MEMORY_KIB, 2).unwrap();
        let sealed = seal_backup(&accounts, b"backup pass", kdf).unwrap();
        assert!(is_backup(&sealed));
        assert!(!String::from_utf8_lossy(&sealed).contains("JBSWY3DP"));
        assert_eq!(open_backup(&sealed, b"backup pass").unwrap(), accounts);
        assert!(matches!(
            open_backup(&sealed, b"nope"),
            Err(SealError::WrongKeyOrTampered)
        ));
    }

    #[test]
    fn uri_list_reads_back() {
        let accounts = vec![
            uri::parse("otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP").unwrap(),
            uri::parse("otpauth://steam/Steam:bob?secret=JBSWY3DPEHPK3PXP").unwrap(),
        ];
        let list = uri_list(&accounts);
        let back: Vec<_> = list.lines().map(|l| uri::parse(l).unwrap()).collect();
        assert_eq!(back, accounts);
    }
}
