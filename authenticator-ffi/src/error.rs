//! The one public error of the bindings, mapped from the core's rich errors in this one place.
//! Each variant is an action the app takes; the message is for the user (and readable from
//! Kotlin and Swift: `e.message`).

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
    /// The vault file cannot be read or written (disk full, damaged): tell the user; restore a
    /// backup if it is damaged. Nothing was overwritten.
    #[error("{0}")]
    Storage(String),
}

impl From<UriError> for AssentError {
    fn from(e: UriError) -> Self {
        Self::InvalidInput(format!("Not a valid account: {e}"))
    }
}

impl From<ImportError> for AssentError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::PasswordRequired { .. } => Self::PasswordRequired(e.to_string()),
            ImportError::WrongPassword { .. } => Self::WrongPassword(e.to_string()),
            other => Self::InvalidInput(other.to_string()),
        }
    }
}

impl From<SealError> for AssentError {
    fn from(e: SealError) -> Self {
        match e {
            SealError::WrongKeyOrTampered | SealError::WrongKeyKind(_) => {
                Self::WrongPassword(e.to_string())
            }
            other => Self::Storage(other.to_string()),
        }
    }
}

impl From<VaultError> for AssentError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Seal(seal) => seal.into(),
            VaultError::Duplicate(_) => Self::InvalidInput(e.to_string()),
            VaultError::UnknownAccount(_) => Self::InvalidInput(e.to_string()),
            other => Self::Storage(other.to_string()),
        }
    }
}

impl From<PushError> for AssentError {
    fn from(e: PushError) -> Self {
        match e {
            PushError::Uri(uri) => uri.into(),
            PushError::Vault(vault) => vault.into(),
            PushError::AlreadyAnswered | PushError::Expired | PushError::UnknownChallenge => {
                Self::RequestClosed(e.to_string())
            }
            PushError::PlatformSignerMissing => Self::PlatformKey(e.to_string()),
            other => Self::InvalidInput(other.to_string()),
        }
    }
}

/// Errors a foreign implementation (Kotlin, Swift) of a callback trait returns.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum KeystoreError {
    /// The key is not available (locked device, deleted key, user cancelled biometrics).
    #[error("{0}")]
    Unavailable(String),
}

impl From<uniffi::UnexpectedUniFFICallbackError> for KeystoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Unavailable(e.reason)
    }
}
