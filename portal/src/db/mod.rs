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
mod devices;
mod events;
mod schema;
mod sessions;
mod throttle;
mod users;

pub use challenges::{ChallengeReason, ChallengeRow, ChallengeStatus, DeliveryState};
pub use devices::{Device, DeviceState, Enrollment};
pub use events::{Event, EventKind, LogLine, Outcome};
pub use sessions::{Session, SessionEnd, SessionState};
pub use users::{TotpAttempt, User};

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
