//! The portal's state in SQLite: users, enrollments, devices, challenges, sessions, nonces and
//! the per-user event log. One connection behind a mutex (SQLite serializes writers anyway);
//! every query is short, and the slow work (Argon2id) happens outside the lock.
//!
//! WAL with `synchronous = NORMAL`: a commit is durable once the WAL is synced at checkpoint, so
//! a power cut can lose the last moments' events and challenges (never corrupt the file) — a
//! 60-second challenge lost that way is simply sent again. A 16 MiB page cache and a 64 MiB
//! memory map keep reads out of system calls.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

mod challenges;
mod clients;
mod devices;
mod events;
mod schema;
mod sessions;
mod throttle;
mod users;

pub use challenges::{ChallengeReason, ChallengeRow, ChallengeStatus, DeliveryState};
pub use clients::{ClientMode, RpClient};
pub use devices::{Activation, Device, DeviceRecord, DeviceState, Enrollment};
pub use events::{Event, EventKind, LogLine, Outcome};
pub use sessions::{Session, SessionEnd, SessionState};
pub use users::{Accounts, Counts, Role, TotpAttempt, User, UserQuery, UserStatus};

/// A storage failure; the HTTP layer answers 500 and logs it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite refused or failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value no longer parses (a key, a push address).
    #[error("database: corrupt {0}")]
    Corrupt(&'static str),
    /// The schema could not be brought up to date (a database from a newer portal, or a
    /// migration that failed and was rolled back).
    #[error("database schema: {0}")]
    Migration(#[from] rusqlite_migration::Error),
}

/// Shorthand for results of this module.
pub type DbResult<T> = Result<T, DbError>;

/// Gives a state enum its stored names: `as_str`, and rusqlite's `ToSql`/`FromSql`, so rows map
/// to it directly and a name this code does not know is an error, never a default.
macro_rules! stored_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The stored (and JSON) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl rusqlite::types::ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        impl rusqlite::types::FromSql for $ty {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                match value.as_str()? {
                    $($name => Ok(Self::$variant),)+
                    other => Err(rusqlite::types::FromSqlError::Other(
                        format!("unknown {} {other:?}", stringify!($ty)).into(),
                    )),
                }
            }
        }
    };
}
pub(crate) use stored_names;

/// A column holding one of the protocol's names (`Purpose`, `UserVerification`): a name this
/// code does not know is an error, never a default.
pub(crate) fn named<T>(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(index)?;
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The portal's database: one SQLite connection behind a mutex (see the module docs).
pub struct Db {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db(..)")
    }
}

pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Db {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> DbResult<Self> {
        Self::init(Connection::open(path)?)
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> DbResult<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> DbResult<Self> {
        let mut conn = conn;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(schema::PRAGMAS)?;
        schema::migrations().to_latest(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A stored setting (the portal's signing key).
    pub fn setting(&self, name: &str) -> DbResult<Option<Vec<u8>>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Stores a setting.
    pub fn set_setting(&self, name: &str, value: &[u8]) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }
}

/// Rows the storage tests share: a user with an active device, a session, a challenge, an event.
#[cfg(test)]
pub(crate) mod fixtures {
    use assent_protocol::{PushConfig, Signer as _, Transport};

    use super::*;

    /// A push address.
    pub(crate) fn push(token: &str) -> PushConfig {
        PushConfig {
            transport: Transport::Fcm,
            token: token.to_owned(),
            environment: None,
            topic: None,
        }
    }

    /// An unused enrollment `token` for `user_id` whose TOTP secret is `secret`, stored.
    pub(crate) fn enrollment(db: &Db, user_id: i64, token: &str, secret: &[u8]) -> Enrollment {
        let enrollment = Enrollment {
            token: token.to_owned(),
            user_id,
            totp_secret: secret.to_vec(),
            expires_at: 10_000,
            used: false,
        };
        db.create_enrollment(&enrollment).unwrap();
        enrollment
    }

    /// A device `id` of `user_id` registering with the enrollment `token` (not stored).
    pub(crate) fn device(id: &str, user_id: i64, token: &str) -> Device {
        Device {
            id: id.to_owned(),
            user_id,
            enrollment: token.to_owned(),
            signing_key: assent_protocol::SoftwareSigner::from_bytes(&[7u8; 32])
                .unwrap()
                .public_key(),
            encryption_key: assent_protocol::EncryptionKey::derive(&[9u8; 32])
                .public_key()
                .clone(),
            platform: "android".to_owned(),
            name: format!("{id}'s phone"),
            push: Some(push("token-1")),
            state: DeviceState::Pending,
        }
    }

    /// A user `name` whose device `device_id` is registered and activated (push and TOTP, the
    /// secret `b"secret-<name>"`); returns the user's id.
    pub(crate) fn user_with_device(db: &Db, name: &str, device_id: &str) -> i64 {
        let user_id = db.create_user(name, "hash", 1).unwrap().unwrap();
        let token = format!("enroll-{device_id}");
        enrollment(db, user_id, &token, format!("secret-{name}").as_bytes());
        assert!(
            db.register_device(&device(device_id, user_id, &token), 2)
                .unwrap()
        );
        db.activate_device(device_id).unwrap();
        user_id
    }

    /// A session `id` of `user_id` in `state`, live until `expires_at`, waiting for nothing.
    pub(crate) fn session(id: &str, user_id: i64, state: SessionState, expires_at: u64) -> Session {
        Session {
            id: id.to_owned(),
            user_id,
            state,
            csrf: format!("csrf-{id}"),
            ip: "192.0.2.1".to_owned(),
            user_agent: "test".to_owned(),
            expires_at,
            challenge: None,
            enrollment: None,
            step_up_at: None,
            idle_seconds: None,
        }
    }

    /// A pending challenge `id` for `purpose` to `device_id`, issued at `iat` (60 s to answer),
    /// waited for by `session`.
    pub(crate) fn challenge(
        id: &str,
        user_id: i64,
        device_id: &str,
        purpose: assent_protocol::Purpose,
        iat: u64,
        session: Option<&str>,
    ) -> ChallengeRow {
        ChallengeRow {
            id: id.to_owned(),
            user_id,
            device_id: device_id.to_owned(),
            jws: format!("jws-{id}"),
            hash: format!("hash-{id}"),
            purpose,
            iat,
            exp: iat + 60,
            number: Some("42".to_owned()),
            user_verification: assent_protocol::UserVerification::Preferred,
            status: ChallengeStatus::Pending,
            reason: None,
            session: session.map(str::to_owned),
            delivery: None,
            delivery_detail: None,
            client: None,
        }
    }

    /// An event line for `user_id`.
    pub(crate) fn line(
        user_id: i64,
        kind: EventKind,
        outcome: Outcome,
        detail: &str,
    ) -> LogLine<'_> {
        LogLine {
            user_id,
            at: 100,
            ip: "192.0.2.1",
            kind,
            outcome,
            detail,
            actor: None,
        }
    }

    /// Stores a pending login challenge `id` to `device_id` issued at `iat`, with its event.
    pub(crate) fn login_push(
        db: &Db,
        id: &str,
        user_id: i64,
        device_id: &str,
        iat: u64,
        session: Option<&str>,
    ) -> ChallengeRow {
        let c = challenge(
            id,
            user_id,
            device_id,
            assent_protocol::Purpose::Login,
            iat,
            session,
        );
        db.insert_challenge(
            &c,
            &line(user_id, EventKind::PushLogin, Outcome::Sent, "sent"),
        )
        .unwrap();
        c
    }
}
