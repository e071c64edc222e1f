//! The one public error of the bindings, mapped from the core's rich errors in this one place.
//! Each variant is an action the app takes; the message is a sentence for the user (capital
//! first letter, full stop, no debug output and no secret), readable from Kotlin and Swift as
//! `e.message`.

use authenticator_core::autobackup::AutoBackupError;
use authenticator_core::import::ImportError;
use authenticator_core::push::PushError;
use authenticator_core::seal::SealError;
use authenticator_core::uri::UriError;
use authenticator_core::vault::VaultError;

/// What went wrong, by what the app should do about it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum AssentError {
    /// The input (URI, QR, export file, push payload) is not usable: show the message and let
    /// the user scan or choose again.
    #[error("{0}")]
    InvalidInput(String),
    /// An encrypted import needs its password: ask for it and call again with it.
    #[error("{0}")]
    PasswordRequired(String),
    /// The password, passphrase or key is wrong: ask again (vault key: the Keychain/Keystore
    /// entry no longer matches the vault; restore a backup).
    #[error("{0}")]
    WrongPassword(String),
    /// A push request cannot be answered any more (expired, already answered, unknown): dismiss
    /// the notification.
    #[error("{0}")]
    RequestClosed(String),
    /// The platform keystore or signer failed: retry, or re-enroll if the key is gone.
    #[error("{0}")]
    PlatformKey(String),
    /// The vault file cannot be read or written (disk full, damaged), or a key kept in it is
    /// damaged: tell the user; restore a backup if it is damaged. Nothing was overwritten.
    #[error("{0}")]
    Storage(String),
    /// The portal answered something the protocol does not allow (a broken registration
    /// response): nothing changed; let the user try again later and report it if it persists.
    #[error("{0}")]
    PortalReply(String),
    /// The change needs the user's explicit confirmation first (deleting an account that also
    /// approves sign-ins): show the message, and call again with the confirmation.
    #[error("{0}")]
    NeedsConfirmation(String),
}

/// A core error's text as a sentence: first letter capital, a full stop at the end.
pub(crate) fn sentence(text: impl std::fmt::Display) -> String {
    let text = text.to_string();
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return "Something went wrong.".into(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

impl From<UriError> for AssentError {
    fn from(e: UriError) -> Self {
        Self::InvalidInput(sentence(format_args!("Not a valid account: {e}")))
    }
}

impl From<ImportError> for AssentError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::PasswordRequired { .. } => Self::PasswordRequired(sentence(e)),
            ImportError::WrongPassword { .. } => Self::WrongPassword(sentence(e)),
            other => Self::InvalidInput(sentence(other)),
        }
    }
}

impl From<SealError> for AssentError {
    fn from(e: SealError) -> Self {
        match e {
            SealError::WrongKeyOrTampered | SealError::WrongKeyKind(_) => {
                Self::WrongPassword(sentence(e))
            }
            other => Self::Storage(sentence(other)),
        }
    }
}

impl From<VaultError> for AssentError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Seal(seal) => seal.into(),
            VaultError::Duplicate(_) | VaultError::UnknownAccount(_) => {
                Self::InvalidInput(sentence(e))
            }
            VaultError::Io { .. } => Self::Storage(sentence(format_args!(
                "The vault could not be saved or read ({e})"
            ))),
            other => Self::Storage(sentence(other)),
        }
    }
}

impl From<PushError> for AssentError {
    fn from(e: PushError) -> Self {
        match e {
            PushError::Uri(uri) => uri.into(),
            PushError::Vault(vault) => vault.into(),
            PushError::AlreadyAnswered
            | PushError::Expired
            | PushError::UnknownChallenge
            | PushError::NotOpened => Self::RequestClosed(sentence(e)),
            PushError::PlatformKey(_) | PushError::PlatformSignerMissing => {
                Self::PlatformKey(sentence(e))
            }
            PushError::CorruptKey(_) => Self::Storage(sentence(e)),
            PushError::AlsoPushEnrollment(_) => Self::NeedsConfirmation(sentence(e)),
            PushError::PortalReply(_) => Self::PortalReply(sentence(e)),
            PushError::NoPushEnrollment
            | PushError::Enrollment(_)
            | PushError::InvalidField(_)
            | PushError::NotARequest
            | PushError::Challenge(_)
            | PushError::UnknownPushAccount(_) => Self::InvalidInput(sentence(e)),
        }
    }
}

impl From<AutoBackupError> for AssentError {
    fn from(e: AutoBackupError) -> Self {
        match e {
            AutoBackupError::Seal(seal) => seal.into(),
            AutoBackupError::KeepZero
            | AutoBackupError::BadFolderPath(_)
            | AutoBackupError::EmptyPassphrase => Self::InvalidInput(sentence(e)),
            AutoBackupError::FolderMissing(_)
            | AutoBackupError::FolderUnwritable { .. }
            | AutoBackupError::StatusNotSaved { .. }
            | AutoBackupError::StatusUnreadable { .. } => Self::Storage(sentence(e)),
        }
    }
}

/// Errors a foreign implementation (Kotlin, Swift) of a callback trait returns. Not a flat
/// error: uniffi can only carry flat errors out of Rust, and this one comes in from the app.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum KeystoreError {
    /// The key is not available (locked device, deleted key, user cancelled biometrics); the
    /// message is the platform's, shown to the user as the reason.
    #[error("{reason}")]
    Unavailable {
        /// Why, in the platform's words (`reason`, since Kotlin exceptions own `message`).
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for KeystoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Unavailable { reason: e.reason }
    }
}
