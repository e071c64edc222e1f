//! The portal's behaviour, independent of HTTP: passwords, enrollment, challenges, TOTP with
//! lockout, browser sessions and their transitions, the device endpoints' checks and the
//! help-desk actions. The web and API layers only translate requests into these calls.
//!
//! The database is private to this module: [`Portal`]'s fields are, so only the code under
//! `app/` reads or writes storage, and every rule (who may sign in, what a sign-in may do next,
//! what each change logs) lives here once.
//!
//! - [`sessions`]: the sign-in's states and the only code that moves a session between them;
//! - [`passwords`], [`totp`], [`enrollment`], [`challenges`]: the factors;
//! - [`devices`]: the device endpoints (docs/protocol.md §11); [`admin`]: the help desk's;
//! - [`client`], [`tokens`]: who is asking, and random values and hashes.

use std::sync::Arc;

use assent_protocol::{RingSigner, Signer, SoftwareSigner};

use crate::alerts::{Alert, AlertKind, Alerts};
use crate::clock::{Clock, SystemClock};
use crate::db::{Db, DbError, EventKind, LogLine, Outcome, User};
use crate::relay::PushSender;
use crate::settings::Settings;

pub mod admin;
pub mod challenges;
pub mod client;
pub mod devices;
pub mod enrollment;
pub mod passwords;
pub mod relying;
pub mod sessions;
pub mod tokens;
pub mod totp;

pub use client::Client;
pub use passwords::{PASSWORD_M_KIB, PASSWORD_T, check_password_rules, hash_password};
pub use tokens::{random_token, sha256_hex};
pub use totp::TotpOutcome;

/// The shared portal.
pub struct Portal {
    db: Db,
    settings: Settings,
    clock: Arc<dyn Clock>,
    relay: Arc<dyn PushSender>,
    test_clock: Option<Arc<SystemClock>>,
    alerts: Option<Arc<Alerts>>,
    /// The portal's key, signing through *ring* (the challenges are signed on every push).
    key: RingSigner,
    key_id: String,
    dummy_hash: String,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// Why a portal operation failed, for the pages and the admin API.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The database failed; the page answers 500 and the error is logged.
    #[error(transparent)]
    Db(#[from] DbError),
    /// No user by that name.
    #[error("no such user")]
    NoSuchUser,
    /// The name is taken.
    #[error("a user with that name exists")]
    UserExists,
    /// The user has no push device.
    #[error("no push device is enrolled")]
    NoDevice,
    /// Too many pushes recently (MFA bombing protection).
    #[error("too many sign-in requests; try again in {retry_after} s")]
    PushLimited {
        /// Seconds until the next push is allowed.
        retry_after: u64,
    },
    /// Building the challenge failed (context too long, ...).
    #[error("cannot build the challenge: {0}")]
    Challenge(String),
    /// A password rule.
    #[error("{0}")]
    BadPassword(&'static str),
    /// The user-name rule.
    #[error("{0}")]
    BadUserName(&'static str),
    /// Argon2id could not hash (its parameters or salt were refused).
    #[error("password hashing failed")]
    Hashing,
    /// A task moved off the async runtime (Argon2id, SQLite) panicked or was cancelled.
    #[error("a background task failed")]
    TaskFailed,
    /// The browser session ended while its request was handled (signed out elsewhere, reset,
    /// suspended): nothing was sent for it.
    #[error("the session ended")]
    SessionGone,
    /// A session was asked to move where its states do not lead (a bug, never user input).
    #[error("a session cannot go from {from:?} to {to:?}")]
    Transition {
        /// Where it is.
        from: crate::db::SessionState,
        /// Where it was asked to go.
        to: crate::db::SessionState,
    },
    /// The actor's role does not allow this (403).
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// A help-desk request out of bounds (400).
    #[error("{0}")]
    Invalid(&'static str),
    /// A response header could not be built from its value.
    #[error("cannot build the {0} header")]
    Header(&'static str),
}

/// What the portal is built from besides its settings and database: where it reads the time,
/// how it reaches devices, and the optional test clock and alert webhook.
pub struct Parts {
    /// Where the portal reads the time.
    pub clock: Arc<dyn Clock>,
    /// Hands challenges to the relay (or to nothing, when no relay is set).
    pub relay: Arc<dyn PushSender>,
    /// Set only with `--test-clock`: the clock `POST /test/clock` moves.
    pub test_clock: Option<Arc<SystemClock>>,
    /// Set with `--alert-webhook`: where the help desk's alerts go.
    pub alerts: Option<Arc<Alerts>>,
}

impl Portal {
    /// Opens the portal: loads (or creates on first start) its signing key from the database.
    pub fn new(
        settings: Settings,
        db: Db,
        clock: Arc<dyn Clock>,
        relay: Arc<dyn PushSender>,
    ) -> Result<Self, PortalError> {
        Self::with_parts(
            settings,
            db,
            Parts {
                clock,
                relay,
                test_clock: None,
                alerts: None,
            },
        )
    }

    /// [`Portal::new`], with a test clock or an alert webhook.
    pub fn with_parts(settings: Settings, db: Db, parts: Parts) -> Result<Self, PortalError> {
        // Two portals starting at once on a new database keep the key stored first.
        let bytes = match db.setting("portal_signing_key")? {
            Some(bytes) => bytes,
            None => {
                let key = SoftwareSigner::generate(&mut assent_protocol::system_rng());
                db.set_setting("portal_signing_key", key.to_bytes().as_slice())?
            }
        };
        let bytes = zeroize::Zeroizing::new(bytes);
        let array: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| DbError::Corrupt("portal key"))?;
        let key = SoftwareSigner::from_bytes(&array).ok_or(DbError::Corrupt("portal key"))?;
        let key = RingSigner::new(&key).ok_or(DbError::Corrupt("portal key"))?;
        let key_id = key.public_key().thumbprint();
        let dummy_hash = hash_password("not a real password")?;
        Ok(Self {
            db,
            settings,
            clock: parts.clock,
            relay: parts.relay,
            test_clock: parts.test_clock,
            alerts: parts.alerts,
            key,
            key_id,
            dummy_hash,
        })
    }

    /// Runs `work` on a blocking thread (SQLite, P-256, Argon2id), so that no request holds a
    /// runtime thread while it waits for the database lock or computes.
    pub async fn blocking<T, F>(self: &Arc<Self>, work: F) -> Result<T, PortalError>
    where
        T: Send + 'static,
        F: FnOnce(&Portal) -> Result<T, PortalError> + Send + 'static,
    {
        let portal = self.clone();
        tokio::task::spawn_blocking(move || work(&portal))
            .await
            .map_err(|_| PortalError::TaskFailed)?
    }

    /// Runs `work`, a short call (storage and P-256, never Argon2id), where it costs least: on
    /// this thread when the database is SQLite, whose calls are in-process and take tens of
    /// microseconds (the hop to a blocking thread and back cost about a fifth of the portal's
    /// CPU per approval, docs/performance.md), and on a blocking thread like [`Self::blocking`]
    /// when it is PostgreSQL, whose calls wait on the network.
    pub async fn quick<T, F>(self: &Arc<Self>, work: F) -> Result<T, PortalError>
    where
        T: Send + 'static,
        F: FnOnce(&Portal) -> Result<T, PortalError> + Send + 'static,
    {
        match self.db.dialect() {
            crate::db::Dialect::Sqlite => work(self),
            crate::db::Dialect::Postgres => self.blocking(work).await,
        }
    }

    /// Now, by the portal's clock.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The settings the portal was started with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The clock `POST /test/clock` moves; set only with `--test-clock`.
    pub fn test_clock(&self) -> Option<&SystemClock> {
        self.test_clock.as_deref()
    }

    /// Whether the help desk is alerted (a webhook is set), so pages can say so.
    pub fn alerts_help_desk(&self) -> bool {
        self.alerts.is_some()
    }

    /// The portal key's id (what devices pin).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The portal's signing key.
    pub fn signer(&self) -> &dyn Signer {
        &self.key
    }

    /// A user by name.
    pub fn user(&self, username: &str) -> Result<User, PortalError> {
        self.db
            .user_by_name(username)?
            .ok_or(PortalError::NoSuchUser)
    }

    /// An event about `user_id` now, by the portal's clock.
    fn line<'a>(
        &self,
        user_id: i64,
        ip: &'a str,
        kind: EventKind,
        outcome: Outcome,
        detail: &'a str,
    ) -> LogLine<'a> {
        LogLine {
            user_id,
            at: self.now(),
            ip,
            kind,
            outcome,
            detail,
            actor: None,
        }
    }

    /// Writes an event about `user_id` now.
    fn log(
        &self,
        user_id: i64,
        ip: &str,
        kind: EventKind,
        outcome: Outcome,
        detail: &str,
    ) -> Result<(), DbError> {
        self.db.log(&self.line(user_id, ip, kind, outcome, detail))
    }

    /// Posts an alert about `user` to the webhook, when one is set (in the background).
    pub fn alert(&self, user: &User, kind: AlertKind, ip: &str, detail: &str) {
        if let Some(alerts) = &self.alerts {
            alerts.send(Alert {
                alert: kind,
                portal: self.settings.issuer.clone(),
                user: user.username.clone(),
                at: self.now(),
                ip: ip.to_owned(),
                detail: detail.to_owned(),
            });
        }
    }
}
