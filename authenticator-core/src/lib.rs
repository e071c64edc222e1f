//! The Assent device: everything an authenticator does that is not drawing a screen.
//!
//! - [`otp`]: HOTP, TOTP and Steam codes, computed for a time the caller passes in;
//! - [`uri`]: `otpauth://` URIs, parsed and produced;
//! - [`Account`]: one account; [`vault`]: the encrypted, crash-safe store of accounts;
//! - [`import`] and [`backup`]: bringing accounts in from other apps and taking them out;
//! - [`autobackup`]: a new encrypted backup version in a chosen folder after every change;
//! - [`icons`]: the brand icon or letter avatar an account shows.
//!
//! Nothing in this crate reads the clock: every function that depends on time takes it as
//! an argument, so every rule is testable without sleeping.

#![forbid(unsafe_code)]

pub mod account;
pub mod atomic;
pub mod autobackup;
pub mod backup;
pub mod icons;
pub mod import;
pub mod otp;
pub mod push;
pub mod seal;
pub mod secret;
pub mod uri;
pub mod vault;

pub use account::Account;
pub use otp::{Algorithm, Code, OtpKind, OtpParams};
pub use seal::{KdfParams, Unlock, VaultKey};
pub use secret::SecretBytes;
pub use vault::{AccountId, Entry, Vault, VaultError};
