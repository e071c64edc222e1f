//! The bindings of authenticator-core for the apps: a thin, documented surface exported with
//! uniffi to Kotlin, Swift and Python. It only wraps: every rule lives in the core.
//!
//! - [`Store`]: the vault (accounts, codes, imports, exports) and the device's push side;
//! - foreign traits the app implements: [`VaultKeyProvider`] (the vault key from the Keychain or
//!   the Android Keystore), [`DeviceKeystore`] (signing in the Secure Enclave / Keystore), and
//!   [`Clock`] (replaceable in tests);
//! - [`AssentError`]: one error type whose variants are the actions an app takes.
//!
//! Network requests are not sent here: push operations return a [`PortalRequest`] for the app
//! to send off the main thread (docs/architecture.md says why). Every method is synchronous and
//! short (no network, no KDF), so apps may call it from any thread; the store serializes access.
//! A panic never crosses the boundary: uniffi turns one into an exception, and this crate has
//! no `unwrap` on anything input-dependent.

#![forbid(unsafe_code)]

mod error;
mod refusal;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use assent_protocol::signer::SignerError;
use assent_protocol::{
    ApnsEnvironment, Challenge, DenyReason, Platform, Purpose, PushConfig, Response, Transport,
    UserVerification,
};
use authenticator_core::push::{DeviceInfo, KeyChoice, PlatformSigner};
use authenticator_core::seal::{KdfParams, Unlock, VaultKey};
use authenticator_core::vault::{AccountId, Vault};
use authenticator_core::{OtpKind, autobackup, backup, icons, import, uri};

pub use error::{AssentError, KeystoreError};
pub use refusal::{PortalRefusal, portal_refusal};

uniffi::setup_scaffolding!();

/// Supplies the vault's 256-bit key. On iOS: a random key kept in the Keychain
/// (kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly); on Android: a random key wrapped by a
/// Keystore AES key. Create it on first call and return the same bytes afterwards.
#[uniffi::export(with_foreign)]
pub trait VaultKeyProvider: Send + Sync {
    /// The 32 key bytes.
    fn vault_key(&self) -> Result<Vec<u8>, KeystoreError>;
}

/// Signing in the platform's hardware keystore (Secure Enclave, Android Keystore/StrongBox).
#[uniffi::export(with_foreign)]
pub trait DeviceKeystore: Send + Sync {
    /// Creates a P-256 signing key under `alias`; returns its public key as a SEC1 point
    /// (65 bytes uncompressed, as both platforms export it, or 33 compressed).
    fn create_key(&self, alias: String) -> Result<Vec<u8>, KeystoreError>;
    /// Signs `message` with ECDSA P-256 / SHA-256 (the platform hashes); returns the signature
    /// as DER (what SecKeyCreateSignature and java.security.Signature produce) or as raw r‖s.
    fn sign(&self, alias: String, message: Vec<u8>) -> Result<Vec<u8>, KeystoreError>;
}

/// The time, in Unix seconds. The default reads the system clock; tests replace it.
#[uniffi::export(with_foreign)]
pub trait Clock: Send + Sync {
    /// Now, in whole seconds since 1970-01-01 UTC.
    fn now_unix_seconds(&self) -> u64;
}

struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_seconds(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// One account with its current code.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AccountView {
    /// Stable id within the vault.
    pub id: String,
    /// Its place in the user's order (0 = first), also in search results: the index of its
    /// code in [`CodeSheet`].
    pub position: u32,
    /// The service.
    pub issuer: String,
    /// The user's name at the service.
    pub name: String,
    /// `totp`, `hotp` or `steam`.
    pub kind: String,
    /// `SHA1`, `SHA256` or `SHA512`.
    pub algorithm: String,
    /// Code length.
    pub digits: u8,
    /// Seconds per code (TOTP/Steam).
    pub period: u32,
    /// HOTP counter of the next code.
    pub counter: u64,
    /// The code now (HOTP: at the counter).
    pub code: String,
    /// Seconds the code stays valid; `None` for HOTP.
    pub remaining_seconds: Option<u32>,
    /// What to draw beside it.
    pub icon: AccountIcon,
    /// `brand:<slug>` or `letter:<L>`: a stable key for caching the drawn icon.
    pub icon_key: String,
    /// The device id of the push enrollment that came in the same QR, when this account also
    /// approves sign-ins: show it as one account, and warn before deleting it (see
    /// [`Store::delete`]).
    pub push_device_id: Option<String>,
}

/// Every account's code now: what a list refreshes every second, far lighter than
/// [`Store::accounts`] (which gives everything else, once).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CodeSheet {
    /// The accounts' revision the codes belong to, as [`Store::revision`]: when it is not the
    /// one the list's rows were read at, read [`Store::accounts`] again.
    pub revision: u64,
    /// Every account's code now, in the user's order (the `position` of [`AccountView`]), one
    /// per line, grouped for reading (`123 456`; copy it without the space). One string, so
    /// that 1,000 codes cost one string to lift in the app rather than 1,000.
    pub codes: String,
    /// Seconds each code stays valid, in the same order; 0 for HOTP (no countdown).
    pub remaining_seconds: Vec<u32>,
}

/// An account's icon: a bundled brand icon (docs/icons.md says how each app turns the SVGs
/// into assets), or a letter avatar the app draws.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum AccountIcon {
    /// A brand from the bundled set.
    Brand {
        /// The Simple Icons slug (`github`).
        slug: String,
        /// The brand's name (`GitHub`).
        title: String,
        /// The asset name in the apps (`brand_github`).
        asset: String,
        /// The brand colour, `#RRGGBB`.
        color: String,
    },
    /// A letter (or digit, or `?`) on a colour chosen from the issuer, white on top.
    Letter {
        /// The character to draw.
        letter: String,
        /// The background colour, `#RRGGBB`.
        color: String,
    },
}

impl From<icons::Icon> for AccountIcon {
    fn from(icon: icons::Icon) -> Self {
        match icon {
            icons::Icon::Brand(brand) => Self::Brand {
                slug: brand.slug.to_owned(),
                title: brand.title.to_owned(),
                asset: brand.asset_name(),
                color: brand.color.hex(),
            },
            icons::Icon::Letter { letter, color } => Self::Letter {
                letter: letter.to_string(),
                color: color.hex(),
            },
        }
    }
}

/// Where automatic backups stand.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BackupStatusView {
    /// The folder versions are written to.
    pub folder: String,
    /// How many versions are kept.
    pub keep: u32,
    /// When the last version was written (Unix seconds).
    pub last_success_at: Option<u64>,
    /// The last version written.
    pub last_success_file: Option<String>,
    /// When the last backup failed, if one failed since the last success.
    pub last_failure_at: Option<u64>,
    /// Why, as a sentence for the user.
    pub last_failure: Option<String>,
    /// True when the folder is missing or unreachable: offer to choose it again.
    pub folder_missing: bool,
    /// True when the vault holds changes no version has yet.
    pub pending: bool,
}

impl From<autobackup::BackupStatus> for BackupStatusView {
    fn from(status: autobackup::BackupStatus) -> Self {
        let failure = status.last_failure.as_ref();
        Self {
            folder: status.folder.display().to_string(),
            keep: status.keep,
            last_success_at: status.last_success.as_ref().map(|w| w.at),
            last_success_file: status
                .last_success
                .as_ref()
                .map(|w| w.file.display().to_string()),
            last_failure_at: failure.map(|f| f.at),
            last_failure: failure.map(|f| error::sentence(&f.message)),
            folder_missing: failure
                .is_some_and(|f| f.kind == autobackup::FailureKind::FolderMissing),
            pending: status.pending,
        }
    }
}

/// One version in a backup folder; restore it with [`Store::import_data`] and the backup
/// passphrase.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BackupVersionView {
    /// The file.
    pub path: String,
    /// When it was written (Unix seconds).
    pub time: u64,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportReport {
    /// How many accounts were added.
    pub added: u32,
    /// Accounts the vault already had.
    pub duplicates: Vec<String>,
    /// Entries that could not be imported, with the reason.
    pub skipped: Vec<String>,
    /// QR codes of a split Google export that are still to be scanned.
    pub missing_parts: Vec<String>,
}

/// An HTTP request for the portal: send it (off the main thread) and pass the response on.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PortalRequest {
    /// `POST`.
    pub method: String,
    /// The endpoint.
    pub url: String,
    /// `application/jose`.
    pub content_type: String,
    /// The body.
    pub body: String,
}

impl From<authenticator_core::push::PortalRequest> for PortalRequest {
    fn from(r: authenticator_core::push::PortalRequest) -> Self {
        Self {
            method: r.method.to_owned(),
            url: r.url,
            content_type: r.content_type.to_owned(),
            body: r.body,
        }
    }
}

/// The platform the app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DevicePlatform {
    /// iPhone / iPad.
    Ios,
    /// Android.
    Android,
    /// A desktop (direct delivery).
    Desktop,
}

/// Where pushes reach this device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum PushAddress {
    /// Apple Push Notification service.
    Apns {
        /// The device token, hex.
        token: String,
        /// True for development builds (APNs sandbox).
        sandbox: bool,
        /// The app's bundle id, if the portal's relay serves several apps.
        topic: Option<String>,
    },
    /// Firebase Cloud Messaging.
    Fcm {
        /// The registration token.
        token: String,
    },
    /// The relay's direct stream (desktops).
    Direct {
        /// The token registered with the relay.
        token: String,
    },
}

impl From<PushAddress> for PushConfig {
    fn from(address: PushAddress) -> Self {
        match address {
            PushAddress::Apns {
                token,
                sandbox,
                topic,
            } => PushConfig {
                transport: Transport::Apns,
                token,
                environment: Some(if sandbox {
                    ApnsEnvironment::Sandbox
                } else {
                    ApnsEnvironment::Production
                }),
                topic,
            },
            PushAddress::Fcm { token } => PushConfig {
                transport: Transport::Fcm,
                token,
                environment: None,
                topic: None,
            },
            PushAddress::Direct { token } => PushConfig {
                transport: Transport::Direct,
                token,
                environment: None,
                topic: None,
            },
        }
    }
}

/// The result of [`Store::enroll`].
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrollment {
    /// The TOTP account from the same QR.
    pub account_id: String,
    /// This device's id at the portal.
    pub device_id: String,
    /// The registration to send; pass its response body to [`Store::activate`].
    pub request: PortalRequest,
}

/// A push enrollment of this device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PushAccountView {
    /// This device's id at the portal.
    pub device_id: String,
    /// The portal.
    pub portal_url: String,
    /// Who it is for.
    pub label: String,
    /// True once the portal activated it.
    pub active: bool,
}

/// Why the portal asks: the protocol's enum, exported as it is so that Swift `switch` and Kotlin
/// `when` over it are exhaustive.
#[uniffi::remote(Enum)]
pub enum Purpose {
    /// Sign-in after a correct password.
    Login,
    /// Re-confirmation inside a session; a deny ends the session.
    StepUp,
    /// Approval of a password reset.
    PasswordReset,
    /// A new device's activation (answered by `activate`, never shown).
    Activate,
}

/// Whether to ask for Face ID, a fingerprint or the passcode before answering.
#[uniffi::remote(Enum)]
pub enum UserVerification {
    /// Always ask: the portal refuses an approve without it.
    Required,
    /// Ask when the device can.
    Preferred,
    /// Do not ask.
    Discouraged,
}

/// A challenge to show the user.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChallengeView {
    /// The challenge id, for [`Store::answer`].
    pub id: String,
    /// The push enrollment it came for (`Issuer (name)`).
    pub account: String,
    /// Why the portal asks.
    pub purpose: Purpose,
    /// The user signing in.
    pub user: String,
    /// The application.
    pub application: String,
    /// The IP address of the sign-in.
    pub ip: Option<String>,
    /// Rough location.
    pub location: Option<String>,
    /// Browser.
    pub browser: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// How many digits the user must type from the sign-in page (number matching), if any.
    pub number_digits: Option<u8>,
    /// Whether to ask for Face ID / fingerprint / passcode before answering.
    pub user_verification: UserVerification,
    /// When it expires (portal clock, Unix seconds).
    pub expires_at: u64,
}

/// The user's decision.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UserAnswer {
    /// Approve, with the typed number when asked.
    Approve {
        /// The digits typed.
        number: Option<String>,
        /// Whether biometrics/passcode were checked just now.
        user_verified: bool,
    },
    /// Deny.
    Deny {
        /// "This wasn't me": reported to the portal as suspicious, unlike a plain cancel.
        not_me: bool,
        /// Whether biometrics/passcode were checked just now.
        user_verified: bool,
    },
}

/// The vault and the device's push side. One per vault file.
#[derive(uniffi::Object)]
pub struct Store {
    vault: Mutex<Vault>,
    clock: Arc<dyn Clock>,
    keystore: Option<Arc<dyn DeviceKeystore>>,
    /// Moves on with every change to the accounts (see [`CodeSheet`]).
    revision: AtomicU64,
}

/// The app's keystore as the core's signer: only the error type changes.
struct Keystore<'a>(&'a dyn DeviceKeystore);

impl PlatformSigner for Keystore<'_> {
    fn create_key(&self, alias: &str) -> Result<Vec<u8>, SignerError> {
        self.0
            .create_key(alias.to_owned())
            .map_err(|e| SignerError::Platform(e.to_string()))
    }

    fn sign(&self, alias: &str, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.0
            .sign(alias.to_owned(), message.to_vec())
            .map_err(|e| SignerError::Platform(e.to_string()))
    }
}

/// The vault key from the app's provider.
fn vault_key(provider: &dyn VaultKeyProvider) -> Result<VaultKey, AssentError> {
    let bytes = provider
        .vault_key()
        .map_err(|e| AssentError::PlatformKey(e.to_string()))?;
    VaultKey::from_slice(&bytes).ok_or_else(|| {
        AssentError::PlatformKey("The vault key from the key store must be 32 bytes.".into())
    })
}

/// The label of the push enrollment a challenge came for.
fn enrollment_label(vault: &Vault, challenge: &Challenge) -> String {
    vault
        .push_accounts()
        .iter()
        .find(|p| p.device_id == challenge.device_id)
        .map(|p| p.label.clone())
        .unwrap_or_default()
}

fn challenge_view(challenge: &Challenge, account: String) -> ChallengeView {
    let content = &challenge.content;
    ChallengeView {
        id: challenge.id.clone(),
        account,
        purpose: content.purpose,
        user: content.context.user.clone(),
        application: content.context.application.clone(),
        ip: content.context.ip.clone(),
        location: content.context.location.clone(),
        browser: content.context.browser.clone(),
        os: content.context.os.clone(),
        number_digits: content.number_matching.map(|n| n.digits),
        user_verification: content.user_verification,
        expires_at: challenge.exp,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>, AssentError> {
    mutex.lock().map_err(|_| {
        AssentError::Storage(
            "An earlier call failed while holding the vault; open the vault again.".into(),
        )
    })
}

fn view(vault: &Vault, position: usize, now: u64) -> AccountView {
    let entry = &vault.entries()[position];
    let (id, account) = (&entry.id, &entry.account);
    let code = account.code(now);
    let icon = account.icon();
    AccountView {
        id: id.to_string(),
        position: u32::try_from(position).unwrap_or(u32::MAX),
        issuer: account.issuer.clone(),
        name: account.name.clone(),
        kind: account.otp.kind().as_str().to_owned(),
        algorithm: account.otp.algorithm().as_str().to_owned(),
        digits: account.otp.digits(),
        period: account.otp.period(),
        counter: account.otp.counter(),
        code: code.value,
        remaining_seconds: code.remaining_seconds,
        icon_key: icon.key(),
        icon: icon.into(),
        push_device_id: vault.push_account_for(id).map(|p| p.device_id.clone()),
    }
}

impl Store {
    /// Saves the vault after a change to its accounts, moves the revision on, then lets the
    /// automatic backup follow (debounced). A failed backup never fails the change: it is in
    /// [`Store::backup_status`].
    fn save_changed(&self, vault: &Vault, now: u64) -> Result<(), AssentError> {
        // Moved on even when the save fails: the vault in memory changed.
        self.revision.fetch_add(1, Ordering::Relaxed);
        vault.save()?;
        let _ = vault.backup_after_change(now);
        Ok(())
    }
}

#[uniffi::export]
impl Store {
    /// Opens the vault at `path` with the platform's key, creating an empty vault there if
    /// there is none. `keystore` enables hardware-held device keys for push enrollments;
    /// `clock` replaces the system clock (tests).
    #[uniffi::constructor]
    pub fn open(
        path: String,
        key: Arc<dyn VaultKeyProvider>,
        keystore: Option<Arc<dyn DeviceKeystore>>,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Arc<Self>, AssentError> {
        let key = vault_key(key.as_ref())?;
        let path = PathBuf::from(path);
        let vault = if path.exists() {
            Vault::open(&path, Unlock::Key(&key))?
        } else {
            Vault::create_with_key(&path, key)?
        };
        Ok(Arc::new(Self {
            vault: Mutex::new(vault),
            clock: clock.unwrap_or_else(|| Arc::new(SystemClock)),
            keystore,
            revision: AtomicU64::new(0),
        }))
    }

    /// Every account with its code now, in the user's order.
    pub fn accounts(&self) -> Result<Vec<AccountView>, AssentError> {
        let now = self.clock.now_unix_seconds();
        let vault = lock(&self.vault)?;
        Ok((0..vault.entries().len())
            .map(|position| view(&vault, position, now))
            .collect())
    }

    /// The accounts' revision: it moves on with every change to them (added, renamed, moved,
    /// deleted, an HOTP code used, an enrollment). Read it before [`Store::accounts`] and keep
    /// it with the rows.
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::Relaxed)
    }

    /// Every account's code now, in the user's order: the once-a-second refresh of a list whose
    /// rows came from [`Store::accounts`]. 1,000 codes cross the boundary as one string and one
    /// array; when `revision` is not the rows' revision, read the accounts again.
    pub fn code_sheet(&self) -> Result<CodeSheet, AssentError> {
        let now = self.clock.now_unix_seconds();
        let vault = lock(&self.vault)?;
        let entries = vault.entries();
        let mut codes = String::with_capacity(entries.len() * 10);
        let mut remaining_seconds = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let code = entry.account.code(now);
            if i > 0 {
                codes.push('\n');
            }
            codes.push_str(&code.grouped());
            remaining_seconds.push(code.remaining_seconds.unwrap_or(0));
        }
        Ok(CodeSheet {
            revision: self.revision(),
            codes,
            remaining_seconds,
        })
    }

    /// Accounts whose issuer or name contains `query`.
    pub fn search(&self, query: String) -> Result<Vec<AccountView>, AssentError> {
        let now = self.clock.now_unix_seconds();
        let vault = lock(&self.vault)?;
        Ok(vault
            .entries()
            .iter()
            .enumerate()
            .filter(|(_, e)| e.account.matches(&query))
            .map(|(position, _)| view(&vault, position, now))
            .collect())
    }

    /// Adds the account of an otpauth URI (a scanned QR); returns its id.
    pub fn add_uri(&self, uri: String) -> Result<String, AssentError> {
        let account = uri::parse(&uri)?;
        let mut vault = lock(&self.vault)?;
        let id = vault.add(account)?;
        self.save_changed(&vault, self.clock.now_unix_seconds())?;
        Ok(id.to_string())
    }

    /// Renames an account; `None` keeps a part as it is.
    pub fn rename(
        &self,
        id: String,
        issuer: Option<String>,
        name: Option<String>,
    ) -> Result<(), AssentError> {
        let mut vault = lock(&self.vault)?;
        vault.rename(&AccountId::from(id.as_str()), issuer, name)?;
        self.save_changed(&vault, self.clock.now_unix_seconds())
    }

    /// Deletes an account. One that also approves sign-ins (`push_device_id` is set) is deleted
    /// only with `retire_push` (else [`AssentError::NeedsConfirmation`], nothing changed): ask
    /// the user, since this device then stops answering for that portal too.
    pub fn delete(&self, id: String, retire_push: bool) -> Result<(), AssentError> {
        let mut vault = lock(&self.vault)?;
        vault.delete_account(&AccountId::from(id.as_str()), retire_push)?;
        self.save_changed(&vault, self.clock.now_unix_seconds())
    }

    /// Moves an account to `position` (0 = first).
    pub fn move_to(&self, id: String, position: u32) -> Result<(), AssentError> {
        let mut vault = lock(&self.vault)?;
        vault.move_to(&AccountId::from(id.as_str()), position as usize)?;
        self.save_changed(&vault, self.clock.now_unix_seconds())
    }

    /// Uses an HOTP account's code: returns it and advances the counter.
    pub fn use_hotp_code(&self, id: String) -> Result<String, AssentError> {
        let id = AccountId::from(id.as_str());
        let mut vault = lock(&self.vault)?;
        let entry = vault
            .get(&id)
            .ok_or_else(|| AssentError::InvalidInput(format!("No account with id {id}.")))?;
        if entry.account.otp.kind() != OtpKind::Hotp {
            return Err(AssentError::InvalidInput(
                "This is not an HOTP (counter-based) account.".into(),
            ));
        }
        let code = entry.account.code(0).value;
        let next = entry.account.otp.counter().saturating_add(1);
        vault.set_counter(&id, next)?;
        self.save_changed(&vault, self.clock.now_unix_seconds())?;
        Ok(code)
    }

    /// Imports an export file, a QR picture or pasted URIs. Encrypted exports need `password`
    /// ([`AssentError::PasswordRequired`] says so).
    pub fn import_data(
        &self,
        data: Vec<u8>,
        password: Option<String>,
    ) -> Result<ImportReport, AssentError> {
        let imported = import::import(&data, password.as_deref())?;
        let mut vault = lock(&self.vault)?;
        let report = vault.add_all(imported.accounts)?;
        self.save_changed(&vault, self.clock.now_unix_seconds())?;
        Ok(ImportReport {
            added: u32::try_from(report.added.len()).unwrap_or(u32::MAX),
            duplicates: report
                .duplicates
                .into_iter()
                .map(|(name, _)| name)
                .collect(),
            skipped: imported.skipped.iter().map(ToString::to_string).collect(),
            missing_parts: imported
                .missing_parts
                .iter()
                .map(ToString::to_string)
                .collect(),
        })
    }

    /// Every account as an otpauth URI, one per line (secrets in clear: warn the user).
    pub fn export_uris(&self) -> Result<String, AssentError> {
        let vault = lock(&self.vault)?;
        Ok(backup::uri_list(vault.entries().iter().map(|e| &e.account)).to_string())
    }

    /// An encrypted backup under `passphrase` (Argon2id, slow on purpose: call off the main
    /// thread).
    pub fn export_backup(&self, passphrase: String) -> Result<Vec<u8>, AssentError> {
        let vault = lock(&self.vault)?;
        Ok(backup::seal_backup(
            vault.entries().iter().map(|e| &e.account),
            passphrase.as_bytes(),
            KdfParams::recommended()?,
        )?)
    }

    /// Turns automatic encrypted backups on: after every change a new version goes into
    /// `folder` (an absolute path the app can write; on iOS a folder the user picked, on
    /// Android a path under an app-writable location), the last `keep` are kept, each sealed
    /// under `passphrase` (never the vault key). Derives the key with Argon2id once: slow on
    /// purpose, call off the main thread. Writes the first version before returning.
    pub fn enable_auto_backup(
        &self,
        folder: String,
        keep: u32,
        passphrase: String,
    ) -> Result<BackupStatusView, AssentError> {
        let passphrase = zeroize::Zeroizing::new(passphrase);
        let mut vault = lock(&self.vault)?;
        vault.enable_auto_backup(Path::new(&folder), keep, passphrase.as_bytes())?;
        vault.flush_backup(self.clock.now_unix_seconds())?;
        vault.save()?;
        backup_status(&vault)?
            .ok_or_else(|| AssentError::Storage("Automatic backups could not be turned on.".into()))
    }

    /// Turns automatic backups off; the versions already written stay.
    pub fn disable_auto_backup(&self) -> Result<(), AssentError> {
        let mut vault = lock(&self.vault)?;
        if vault.disable_auto_backup() {
            vault.save()?;
        }
        Ok(())
    }

    /// Where automatic backups stand (`None` when they are off): the last success or failure
    /// to show in the settings screen.
    pub fn backup_status(&self) -> Result<Option<BackupStatusView>, AssentError> {
        backup_status(&*lock(&self.vault)?)
    }

    /// Writes a backup of changes the debounce held back (call when the app goes to the
    /// background or starts); returns the status afterwards.
    pub fn flush_backup(&self) -> Result<Option<BackupStatusView>, AssentError> {
        let vault = lock(&self.vault)?;
        let _ = vault.flush_backup(self.clock.now_unix_seconds());
        backup_status(&vault)
    }

    /// The push enrollments of this device.
    pub fn push_accounts(&self) -> Result<Vec<PushAccountView>, AssentError> {
        let vault = lock(&self.vault)?;
        Ok(vault
            .push_accounts()
            .iter()
            .map(|p| PushAccountView {
                device_id: p.device_id.clone(),
                portal_url: p.portal_url.clone(),
                label: p.label.clone(),
                active: p.state == authenticator_core::push::PushState::Active,
            })
            .collect())
    }

    /// Enrolls from the portal's one QR: adds the TOTP account, creates the device keys (in the
    /// platform keystore when `hardware_key` and a keystore was given) and returns the
    /// registration request.
    pub fn enroll(
        &self,
        qr: String,
        platform: DevicePlatform,
        device_name: String,
        push: PushAddress,
        hardware_key: bool,
    ) -> Result<Enrollment, AssentError> {
        let keystore = self.keystore.as_deref().map(Keystore);
        let key = match (&keystore, hardware_key) {
            (Some(keystore), true) => KeyChoice::Platform(keystore),
            (None, true) => {
                return Err(AssentError::PlatformKey(
                    "A hardware key was asked for but no keystore was given.".into(),
                ));
            }
            (_, false) => KeyChoice::Software,
        };
        let device = DeviceInfo {
            platform: match platform {
                DevicePlatform::Ios => Platform::Ios,
                DevicePlatform::Android => Platform::Android,
                DevicePlatform::Desktop => Platform::Desktop,
            },
            name: device_name,
            push: Some(push.into()),
        };
        let now = self.clock.now_unix_seconds();
        let mut vault = lock(&self.vault)?;
        let enrolled = vault.enroll(&qr, device, key, now, &mut assent_protocol::system_rng())?;
        self.save_changed(&vault, now)?;
        Ok(Enrollment {
            account_id: enrolled.account_id.to_string(),
            device_id: enrolled.device_id,
            request: enrolled.request.into(),
        })
    }

    /// Passes the portal's registration response; returns the activation answer to send.
    pub fn activate(
        &self,
        device_id: String,
        response_body: String,
    ) -> Result<PortalRequest, AssentError> {
        let keystore = self.keystore.as_deref().map(Keystore);
        let signer = keystore.as_ref().map(|k| k as &dyn PlatformSigner);
        let now = self.clock.now_unix_seconds();
        let mut vault = lock(&self.vault)?;
        let request = vault.activate(&device_id, &response_body, now, signer)?;
        vault.save()?;
        Ok(request.into())
    }

    /// Opens a challenge received by push (the notification's payload) or by polling, and
    /// returns what to show; it stays open for [`Store::answer`]. Nothing is answered yet.
    pub fn open_challenge(&self, payload: String) -> Result<ChallengeView, AssentError> {
        let now = self.clock.now_unix_seconds();
        let mut vault = lock(&self.vault)?;
        let challenge = vault.receive(payload.trim(), now)?.challenge;
        Ok(challenge_view(
            &challenge,
            enrollment_label(&vault, &challenge),
        ))
    }

    /// Answers an opened challenge; returns the signed answer to send. The vault remembers it
    /// before returning, so the same challenge is never answered twice.
    pub fn answer(
        &self,
        challenge_id: String,
        answer: UserAnswer,
    ) -> Result<PortalRequest, AssentError> {
        let response = match answer {
            UserAnswer::Approve {
                number,
                user_verified,
            } => Response::Approve {
                number,
                user_verified,
            },
            UserAnswer::Deny {
                not_me,
                user_verified,
            } => Response::Deny {
                reason: Some(if not_me {
                    DenyReason::NotMe
                } else {
                    DenyReason::Cancelled
                }),
                user_verified,
            },
        };
        let keystore = self.keystore.as_deref().map(Keystore);
        let signer = keystore.as_ref().map(|k| k as &dyn PlatformSigner);
        let now = self.clock.now_unix_seconds();
        let mut vault = lock(&self.vault)?;
        let request = vault.answer_opened(&challenge_id, &response, now, signer)?;
        vault.save()?;
        Ok(request.into())
    }

    /// Takes the body of the portal's answer to [`Store::poll_request`] and opens every
    /// challenge in it (each stays open for [`Store::answer`]); returns those to show, oldest
    /// first. Ones answered here or expired are left out, and so are ones that cannot be
    /// trusted; a body that is not a poll answer is [`AssentError::PortalReply`].
    pub fn open_pending(&self, response_body: String) -> Result<Vec<ChallengeView>, AssentError> {
        let now = self.clock.now_unix_seconds();
        let mut vault = lock(&self.vault)?;
        let polled = vault.receive_pending(&response_body, now)?;
        Ok(polled
            .challenges
            .iter()
            .map(|challenge| challenge_view(challenge, enrollment_label(&vault, challenge)))
            .collect())
    }

    /// A signed request for this device's pending challenges; pass the portal's answer to
    /// [`Store::open_pending`].
    pub fn poll_request(&self, device_id: String) -> Result<PortalRequest, AssentError> {
        let keystore = self.keystore.as_deref().map(Keystore);
        let signer = keystore.as_ref().map(|k| k as &dyn PlatformSigner);
        let now = self.clock.now_unix_seconds();
        let vault = lock(&self.vault)?;
        Ok(vault
            .poll_request(&device_id, now, signer, &mut assent_protocol::system_rng())?
            .into())
    }

    /// The platform gave a new push token: returns the signed update to send.
    pub fn update_push_address(
        &self,
        device_id: String,
        push: PushAddress,
    ) -> Result<PortalRequest, AssentError> {
        let keystore = self.keystore.as_deref().map(Keystore);
        let signer = keystore.as_ref().map(|k| k as &dyn PlatformSigner);
        let now = self.clock.now_unix_seconds();
        let mut vault = lock(&self.vault)?;
        let request = vault.push_token_update(
            &device_id,
            push.into(),
            now,
            signer,
            &mut assent_protocol::system_rng(),
        )?;
        vault.save()?;
        Ok(request.into())
    }
}

/// Opens a push challenge for display without opening a [`Store`]: reads only the push
/// enrollments of the vault at `path`, writes nothing and keeps nothing. For the iOS
/// notification service extension (a few MB and seconds); the answer is given by the app, which
/// opens the challenge again with [`Store::open_challenge`].
#[uniffi::export]
pub fn peek_challenge(
    path: String,
    key: Arc<dyn VaultKeyProvider>,
    payload: String,
    clock: Option<Arc<dyn Clock>>,
) -> Result<ChallengeView, AssentError> {
    let key = vault_key(key.as_ref())?;
    let now = clock.map_or_else(|| SystemClock.now_unix_seconds(), |c| c.now_unix_seconds());
    let (challenge, account) = Vault::peek_challenge(Path::new(&path), &key, payload.trim(), now)?;
    Ok(challenge_view(&challenge, account))
}

fn backup_status(vault: &Vault) -> Result<Option<BackupStatusView>, AssentError> {
    Ok(vault.backup_status()?.map(Into::into))
}

/// The backup versions in `folder`, newest first, to offer for restoring (open one with
/// [`Store::import_data`] and the backup passphrase).
#[uniffi::export]
pub fn backup_versions(folder: String) -> Result<Vec<BackupVersionView>, AssentError> {
    Ok(autobackup::versions(Path::new(&folder))?
        .into_iter()
        .map(|v| BackupVersionView {
            path: v.file.display().to_string(),
            time: v.time,
        })
        .collect())
}

/// The texts of the QR codes in one camera frame (most frames hold none): `luma` is its
/// luminance plane, one byte a pixel, `row_stride` bytes a row. Pass the text found to
/// [`Store::add_uri`] or [`Store::enroll`]. For the Android scanner (CameraX's Y plane).
#[uniffi::export]
pub fn read_qr_frame(
    width: u32,
    height: u32,
    row_stride: u32,
    luma: Vec<u8>,
) -> Result<Vec<String>, AssentError> {
    Ok(import::qr::read_frame(width, height, row_stride, &luma)?)
}

/// The code of an otpauth URI at `unix_seconds`, without a vault (HOTP: at its counter).
#[uniffi::export]
pub fn code_for_uri(uri: String, unix_seconds: u64) -> Result<String, AssentError> {
    Ok(uri::parse(&uri)?.code(unix_seconds).value)
}
