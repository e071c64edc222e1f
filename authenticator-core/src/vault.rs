//! The vault: the user's accounts, encrypted at rest and written crash-safely.
//!
//! On disk it is a sealed file (see [`crate::seal`] and docs/vault.md) of kind `assent-vault`
//! whose plaintext is `{"accounts":[{"id":..., "account":{...}}, ...]}`. A vault only exists in
//! memory after its file was opened with the right key, so a wrong key or a damaged file can
//! never lead to the file being overwritten.

use std::io;
use std::path::{Path, PathBuf};

use assent_protocol::Challenge;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::account::Account;
use crate::atomic;
use crate::autobackup;
use crate::push::{Inbox, PushAccount, PushError};
use crate::seal::{self, KdfParams, SealError, Unlock, VaultKey};

const FORMAT: &str = "assent-vault";

/// A stable identifier of an account within one vault (16 hex digits, random).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccountId(String);

impl AccountId {
    fn generate() -> Result<Self, VaultError> {
        let mut bytes = [0u8; 8];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| VaultError::Seal(SealError::Random))?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for AccountId {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

/// An account as the vault holds it: with its identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Stable identifier.
    pub id: AccountId,
    /// The account.
    pub account: Account,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    accounts: Vec<Entry>,
    /// Push enrollments (absent in vaults written before push existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    push: Vec<PushAccount>,
    /// Automatic backup settings (absent when they are off, and in vaults written before them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auto_backup: Option<autobackup::Settings>,
}

/// Why a vault operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No vault at the path: create one first.
    #[error("no vault at {0}")]
    NotFound(PathBuf),
    /// `create` on a path that already holds a file; nothing was written.
    #[error("a file already exists at {0}; it was left untouched")]
    AlreadyExists(PathBuf),
    /// Reading or writing the file failed (permissions, disk full...); the old file is intact.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system error.
        source: io::Error,
    },
    /// Opening or sealing the file failed (wrong key, damaged file, newer format).
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The account is already in the vault (same secret and code parameters).
    #[error("{0} is already in the vault")]
    Duplicate(String),
    /// No account with that identifier.
    #[error("no account with id {0}")]
    UnknownAccount(AccountId),
}

/// What adding several accounts did.
#[derive(Debug, Default)]
pub struct AddReport {
    /// Identifiers of the accounts added, in order.
    pub added: Vec<AccountId>,
    /// Accounts skipped because the vault already had them: (the account's display name, the
    /// existing account's id).
    pub duplicates: Vec<(String, AccountId)>,
}

/// An open vault: the accounts in memory and what is needed to write them back.
pub struct Vault {
    path: PathBuf,
    key: VaultKey,
    kdf: Option<KdfParams>,
    entries: Vec<Entry>,
    pub(crate) push: Vec<PushAccount>,
    pub(crate) inbox: Inbox,
    pub(crate) auto_backup: Option<autobackup::Settings>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("accounts", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Creates an empty vault under a platform-supplied key and writes it. Refuses to replace an
    /// existing file.
    pub fn create_with_key(path: &Path, key: VaultKey) -> Result<Self, VaultError> {
        Self::create(path, key, None)
    }

    /// Creates an empty vault protected by a passphrase (Argon2id with `kdf`, normally
    /// [`KdfParams::recommended`]) and writes it.
    pub fn create_with_passphrase(
        path: &Path,
        passphrase: &[u8],
        kdf: KdfParams,
    ) -> Result<Self, VaultError> {
        let key = kdf.derive(passphrase)?;
        Self::create(path, key, Some(kdf))
    }

    fn create(path: &Path, key: VaultKey, kdf: Option<KdfParams>) -> Result<Self, VaultError> {
        if path.exists() {
            return Err(VaultError::AlreadyExists(path.to_path_buf()));
        }
        let vault = Self {
            path: path.to_path_buf(),
            key,
            kdf,
            entries: Vec::new(),
            push: Vec::new(),
            inbox: Inbox::default(),
            auto_backup: None,
        };
        vault.save()?;
        Ok(vault)
    }

    /// Opens the vault at `path`.
    pub fn open(path: &Path, unlock: Unlock<'_>) -> Result<Self, VaultError> {
        let bytes = read_file(path)?;
        Self::from_bytes(path, &bytes, unlock)
    }

    /// Opens vault bytes without touching the file system (for platforms that store the bytes
    /// themselves, and for fuzzing); [`Vault::save`] will write to `path`.
    pub fn from_bytes(
        path: impl Into<PathBuf>,
        bytes: &[u8],
        unlock: Unlock<'_>,
    ) -> Result<Self, VaultError> {
        let opened = seal::open(FORMAT, bytes, unlock)?;
        let payload: Payload = serde_json::from_slice(&opened.plaintext)
            .map_err(|e| SealError::BadPayload(e.to_string()))?;
        Ok(Self {
            path: path.into(),
            key: opened.key,
            kdf: opened.kdf,
            entries: payload.accounts,
            push: payload.push,
            inbox: Inbox::default(),
            auto_backup: payload.auto_backup,
        })
    }

    /// Opens a push challenge straight from the vault file at `path`, writing nothing and keeping
    /// nothing: for a notification service extension, which has a few megabytes and seconds and
    /// must not race the app's writes. Only the push enrollments are read from the payload (the
    /// accounts are skipped unparsed). Answering needs the app (it writes the vault): see
    /// docs/architecture.md.
    pub fn peek_challenge(
        path: &Path,
        key: &VaultKey,
        jws: &str,
        now: u64,
    ) -> Result<(Challenge, String), PushError> {
        /// The payload without its accounts.
        #[derive(Deserialize)]
        struct PushOnly {
            #[serde(default)]
            push: Vec<PushAccount>,
        }
        let bytes = read_file(path)?;
        let opened = seal::open(FORMAT, &bytes, Unlock::Key(key)).map_err(VaultError::from)?;
        let payload: PushOnly = serde_json::from_slice(&opened.plaintext)
            .map_err(|e| VaultError::from(SealError::BadPayload(e.to_string())))?;
        let challenge = crate::push::open_among(&payload.push, jws, now)?;
        let label = payload
            .push
            .iter()
            .find(|p| p.device_id == challenge.device_id)
            .map(|p| p.label.clone())
            .unwrap_or_default();
        Ok((challenge, label))
    }

    /// Whether the vault at `path` needs a passphrase (true) or a platform key (false), read
    /// from its envelope without decrypting.
    pub fn uses_passphrase(path: &Path) -> Result<bool, VaultError> {
        let bytes = read_file(path)?;
        Ok(seal::uses_passphrase(FORMAT, &bytes)?)
    }

    /// True when `bytes` look like a vault file (without decrypting).
    pub fn is_vault(bytes: &[u8]) -> bool {
        seal::is_sealed(FORMAT, bytes)
    }

    /// Writes the vault back crash-safely (see [`atomic::write`]) with a fresh nonce.
    pub fn save(&self) -> Result<(), VaultError> {
        let sealed = self.to_bytes()?;
        atomic::write(&self.path, &sealed).map_err(|source| VaultError::Io {
            action: "writing",
            path: self.path.clone(),
            source,
        })
    }

    /// The sealed bytes of the vault as it is in memory.
    pub fn to_bytes(&self) -> Result<Vec<u8>, VaultError> {
        let plaintext = to_json_zeroizing(&Payload {
            accounts: self.entries.clone(),
            push: self.push.clone(),
            auto_backup: self.auto_backup.clone(),
        })?;
        Ok(seal::seal(
            FORMAT,
            &self.key,
            self.kdf.as_ref(),
            &plaintext,
        )?)
    }

    /// Where the vault lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key that opens this vault: what a desktop session caches so later commands skip the
    /// passphrase. Handle it like the passphrase itself.
    pub fn key(&self) -> &VaultKey {
        &self.key
    }

    /// Protects the vault with a new passphrase (new salt, new key) and saves it.
    pub fn change_passphrase(
        &mut self,
        passphrase: &[u8],
        kdf: KdfParams,
    ) -> Result<(), VaultError> {
        self.key = kdf.derive(passphrase)?;
        self.kdf = Some(kdf);
        self.save()
    }

    /// The accounts, in the user's order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry with `id`.
    pub fn get(&self, id: &AccountId) -> Option<&Entry> {
        self.entries.iter().find(|e| &e.id == id)
    }

    /// Entries whose issuer or name contains `query` (case-insensitive), in order.
    pub fn search(&self, query: &str) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| e.account.matches(query))
            .collect()
    }

    /// Adds an account at the end (in memory; call [`Vault::save`]). Refuses one the vault
    /// already has.
    pub fn add(&mut self, account: Account) -> Result<AccountId, VaultError> {
        if let Some(existing) = self
            .entries
            .iter()
            .find(|e| e.account.same_codes_as(&account))
        {
            return Err(VaultError::Duplicate(format!(
                "{} (as {})",
                account.display_name(),
                existing.account.display_name()
            )));
        }
        let id = AccountId::generate()?;
        self.entries.push(Entry {
            id: id.clone(),
            account,
        });
        Ok(id)
    }

    /// Replaces the account `id` (its secret and parameters, kept under its id and in its
    /// place), for an enrollment that brings the same account's new secret.
    pub(crate) fn replace_account(
        &mut self,
        id: &AccountId,
        account: Account,
    ) -> Result<(), VaultError> {
        let entry = self
            .entries
            .iter_mut()
            .find(|e| &e.id == id)
            .ok_or_else(|| VaultError::UnknownAccount(id.clone()))?;
        entry.account = account;
        Ok(())
    }

    /// Adds every account that is not already in the vault and reports the others.
    pub fn add_all(&mut self, accounts: Vec<Account>) -> Result<AddReport, VaultError> {
        let mut report = AddReport::default();
        for account in accounts {
            match self
                .entries
                .iter()
                .find(|e| e.account.same_codes_as(&account))
            {
                Some(existing) => report
                    .duplicates
                    .push((account.display_name(), existing.id.clone())),
                None => report.added.push(self.add(account)?),
            }
        }
        Ok(report)
    }

    /// Changes the issuer and/or the name of an account.
    pub fn rename(
        &mut self,
        id: &AccountId,
        issuer: Option<String>,
        name: Option<String>,
    ) -> Result<(), VaultError> {
        let entry = self.entry_mut(id)?;
        if let Some(issuer) = issuer {
            entry.account.issuer = issuer;
        }
        if let Some(name) = name {
            entry.account.name = name;
        }
        Ok(())
    }

    /// Sets the HOTP counter of an account (after a code was used).
    pub fn set_counter(&mut self, id: &AccountId, counter: u64) -> Result<(), VaultError> {
        let entry = self.entry_mut(id)?;
        entry.account.otp = entry.account.otp.with_counter(counter);
        Ok(())
    }

    /// Removes an account and returns it.
    pub fn remove(&mut self, id: &AccountId) -> Result<Account, VaultError> {
        let index = self.index_of(id)?;
        Ok(self.entries.remove(index).account)
    }

    /// Moves an account to `position` (0 = first; past the end = last).
    pub fn move_to(&mut self, id: &AccountId, position: usize) -> Result<(), VaultError> {
        let index = self.index_of(id)?;
        let entry = self.entries.remove(index);
        let position = position.min(self.entries.len());
        self.entries.insert(position, entry);
        Ok(())
    }

    fn index_of(&self, id: &AccountId) -> Result<usize, VaultError> {
        self.entries
            .iter()
            .position(|e| &e.id == id)
            .ok_or_else(|| VaultError::UnknownAccount(id.clone()))
    }

    fn entry_mut(&mut self, id: &AccountId) -> Result<&mut Entry, VaultError> {
        let index = self.index_of(id)?;
        Ok(&mut self.entries[index])
    }
}

fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    std::fs::read(path).map(Zeroizing::new).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            VaultError::NotFound(path.to_path_buf())
        } else {
            VaultError::Io {
                action: "reading",
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// Serializes to JSON in a buffer that is wiped, including the copies a growing `Vec` would
/// otherwise leave behind in freed memory.
pub(crate) fn to_json_zeroizing<T: Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let mut writer = ZeroizingWriter(Zeroizing::new(Vec::with_capacity(4096)));
    serde_json::to_writer(&mut writer, value).map_err(|e| SealError::BadPayload(e.to_string()))?;
    Ok(writer.0)
}

struct ZeroizingWriter(Zeroizing<Vec<u8>>);

impl io::Write for ZeroizingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.len() + buf.len() > self.0.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity((self.0.len() + buf.len()) * 2));
            bigger.extend_from_slice(&self.0);
            self.0 = bigger; // the old buffer is zeroized as it drops
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri;

    fn account(uri: &str) -> Account {
        uri::parse(uri).unwrap()
    }

    const A: &str = "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP";
    const B: &str = "otpauth://totp/AWS:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    const C: &str = "otpauth://hotp/Bank:carol?secret=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U&counter=3";

    #[test]
    fn create_open_edit_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault");
        let key = VaultKey::from_bytes([1u8; 32]);
        let mut vault = Vault::create_with_key(&path, key.clone()).unwrap();
        let a = vault.add(account(A)).unwrap();
        let b = vault.add(account(B)).unwrap();
        let c = vault.add(account(C)).unwrap();
        vault.rename(&b, Some("Amazon".into()), None).unwrap();
        vault.move_to(&c, 0).unwrap();
        vault.set_counter(&c, 4).unwrap();
        vault.remove(&a).unwrap();
        vault.save().unwrap();

        let reopened = Vault::open(&path, Unlock::Key(&key)).unwrap();
        let names: Vec<_> = reopened
            .entries()
            .iter()
            .map(|e| e.account.display_name())
            .collect();
        assert_eq!(names, ["Bank (carol)", "Amazon (bob)"]);
        assert_eq!(reopened.entries()[0].account.otp.counter(), 4);
        assert_eq!(reopened.entries()[0].id, c);
        assert_eq!(reopened.search("AMA").len(), 1);
        assert!(matches!(
            vault.remove(&a),
            Err(VaultError::UnknownAccount(_))
        ));
    }

    #[test]
    fn duplicates_are_reported_not_added() {
        let dir = tempfile::tempdir().unwrap();
        let mut vault =
            Vault::create_with_key(&dir.path().join("v"), VaultKey::from_bytes([2; 32])).unwrap();
        vault.add(account(A)).unwrap();
        assert!(matches!(
            vault.add(account(A)),
            Err(VaultError::Duplicate(_))
        ));
        let report = vault
            .add_all(vec![account(A), account(B), account(B)])
            .unwrap();
        assert_eq!(report.added.len(), 1);
        assert_eq!(report.duplicates.len(), 2);
        assert_eq!(vault.entries().len(), 2);
    }

    #[test]
    fn wrong_key_or_damage_never_overwrites_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        let mut vault = Vault::create_with_key(&path, VaultKey::from_bytes([3; 32])).unwrap();
        vault.add(account(A)).unwrap();
        vault.save().unwrap();
        let before = std::fs::read(&path).unwrap();
        let wrong = VaultKey::from_bytes([4; 32]);
        assert!(matches!(
            Vault::open(&path, Unlock::Key(&wrong)),
            Err(VaultError::Seal(SealError::WrongKeyOrTampered))
        ));
        assert!(matches!(
            Vault::create_with_key(&path, wrong),
            Err(VaultError::AlreadyExists(_))
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        std::fs::write(&path, &before[..before.len() / 2]).unwrap();
        let err = Vault::open(&path, Unlock::Key(&VaultKey::from_bytes([3; 32]))).unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
        assert!(matches!(
            Vault::open(
                &dir.path().join("missing"),
                Unlock::Key(&VaultKey::from_bytes([3; 32]))
            ),
            Err(VaultError::NotFound(_))
        ));
    }

    #[test]
    fn the_file_never_contains_a_secret_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        let mut vault = Vault::create_with_key(&path, VaultKey::from_bytes([5; 32])).unwrap();
        vault.add(account(A)).unwrap();
        vault.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("JBSWY3DPEHPK3PXP"));
        assert!(!text.contains("GitHub"));
        assert!(!format!("{vault:?}").contains("JBSWY3DP"));
    }

    #[test]
    fn passphrase_vault_opens_with_passphrase_and_with_the_derived_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        let kdf = KdfParams::with_cost(KdfParams::MIN_MEMORY_KIB, 2).unwrap();
        let mut vault = Vault::create_with_passphrase(&path, b"pass", kdf).unwrap();
        vault.add(account(A)).unwrap();
        vault.save().unwrap();
        let key = vault.key().clone();
        assert_eq!(
            Vault::open(&path, Unlock::Passphrase(b"pass"))
                .unwrap()
                .entries()
                .len(),
            1
        );
        assert_eq!(
            Vault::open(&path, Unlock::Key(&key))
                .unwrap()
                .entries()
                .len(),
            1
        );
        assert!(Vault::open(&path, Unlock::Passphrase(b"Pass")).is_err());
        vault
            .change_passphrase(
                b"new",
                KdfParams::with_cost(KdfParams::MIN_MEMORY_KIB, 2).unwrap(),
            )
            .unwrap();
        assert!(Vault::open(&path, Unlock::Passphrase(b"pass")).is_err());
        assert!(Vault::open(&path, Unlock::Key(&key)).is_err());
        assert_eq!(
            Vault::open(&path, Unlock::Passphrase(b"new"))
                .unwrap()
                .entries()
                .len(),
            1
        );
    }
}
