//! The one error type of the command: a sentence for the user and an exit status.

use std::fmt;

use authenticator_core::autobackup::AutoBackupError;
use authenticator_core::import::ImportError;
use authenticator_core::push::PushError;
use authenticator_core::seal::SealError;
use authenticator_core::uri::UriError;
use authenticator_core::vault::VaultError;

/// A failed command: printed as `assent: <message>` on one line, never a backtrace.
#[derive(Debug)]
pub struct Failure {
    message: String,
}

impl Failure {
    /// A failure with a message for the user.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<VaultError> for Failure {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::NotFound(path) => Self::new(format!(
                "no vault at {}: add an account with `assent add <otpauth-uri>` to create one",
                path.display()
            )),
            other => Self::new(other.to_string()),
        }
    }
}

impl From<AutoBackupError> for Failure {
    fn from(e: AutoBackupError) -> Self {
        Self::new(e.to_string())
    }
}

impl From<SealError> for Failure {
    fn from(e: SealError) -> Self {
        Self::new(e.to_string())
    }
}

impl From<UriError> for Failure {
    fn from(e: UriError) -> Self {
        Self::new(format!("bad otpauth URI: {e}"))
    }
}

impl From<ImportError> for Failure {
    fn from(e: ImportError) -> Self {
        Self::new(format!("import failed: {e}"))
    }
}

impl From<PushError> for Failure {
    fn from(e: PushError) -> Self {
        Self::new(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::new(e.to_string())
    }
}

/// Adds what was being done to an I/O error.
pub trait Context<T> {
    /// Wraps the error as "`what`: error".
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Failure>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Failure> {
        self.map_err(|e| Failure::new(format!("{}: {e}", what())))
    }
}
