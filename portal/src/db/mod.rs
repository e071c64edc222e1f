//! The portal's state: users, enrollments, devices, challenges, sessions, nonces and the
//! per-user event log, in SQLite (one file, the default) or PostgreSQL (a server that several
//! portals share), chosen by the database URL. The queries are written once against
//! [`sql::Conn`]; see that module for what differs between the engines and how transactions stay
//! serial on both.
//!
//! SQLite: one connection behind a mutex (SQLite serializes writers anyway); every query is
//! short, and the slow work (Argon2id) happens outside the lock. WAL with `synchronous =
//! NORMAL`: a commit is durable once the WAL is synced at checkpoint, so a power cut can lose the
//! last moments' events and challenges (never corrupt the file) — a 60-second challenge lost
//! that way is simply sent again. A 16 MiB page cache and a 64 MiB memory map keep reads out of
//! system calls.
//!
//! PostgreSQL: a pool of connections; single statements run on their own (each is atomic),
//! transactions run `SERIALIZABLE` and are retried when the server aborts one for a conflict.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

mod challenges;
mod clients;
mod devices;
mod events;
mod schema;
mod sessions;
pub mod sql;
mod throttle;
mod users;

pub use challenges::{ChallengeReason, ChallengeRow, ChallengeStatus, DeliveryState, Inserted};
pub use clients::{ClientMode, RpClient};
pub use devices::{Activation, Device, DeviceRecord, DeviceState, Enrollment};
pub use events::{Event, EventKind, LogLine, Outcome};
pub use sessions::{Session, SessionEnd, SessionState};
pub use sql::Dialect;
pub(crate) use sql::{Conn, Row, params};
pub use users::{Accounts, Counts, Role, TotpAttempt, User, UserQuery, UserStatus};

/// What PostgreSQL said (its message and SQLSTATE), or what failed on the way to it: the
/// driver's own text for a server error is only "db error".
fn postgres_detail(e: &tokio_postgres::Error) -> String {
    match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    }
}

/// A storage failure; the HTTP layer answers 500 and logs it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite refused or failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused or failed.
    #[error("database: {}", postgres_detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had (the server is down, the pool is exhausted).
    #[error("database pool: {0}")]
    Pool(String),
    /// A query that must return a row returned none.
    #[error("database: no row")]
    NoRow,
    /// A column did not hold what the code reads from it.
    #[error("database: column {0}: {1}")]
    Column(usize, String),
    /// The schema is not one this portal can use (a database from a newer portal).
    #[error("database schema: {0}")]
    Schema(String),
    /// The database URL is neither `sqlite:PATH` (or a path) nor `postgres://...`.
    #[error("database URL: {0}")]
    Url(String),
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

/// Gives a state enum its stored names: `as_str`, and [`sql::ToSql`]/[`sql::FromSql`], so rows map
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

        impl $crate::db::sql::ToSql for $ty {
            fn to_value(&self) -> $crate::db::sql::Value {
                $crate::db::sql::Value::Text(self.as_str().to_owned())
            }
        }

        impl $crate::db::sql::FromSql for $ty {
            fn from_value(value: &$crate::db::sql::Value) -> Result<Self, String> {
                match <String as $crate::db::sql::FromSql>::from_value(value)?.as_str() {
                    $($name => Ok(Self::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($ty))),
                }
            }
        }
    };
}
pub(crate) use stored_names;

/// A column holding one of the protocol's names (`Purpose`, `UserVerification`): a name this
/// code does not know is an error, never a default.
pub(crate) fn named<T>(row: &Row, index: usize) -> DbResult<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text: String = row.get(index)?;
    text.parse()
        .map_err(|e: T::Err| DbError::Column(index, e.to_string()))
}

/// Where the portal keeps its state, from `--db`: `sqlite:PATH`, a bare path (SQLite), or
/// `postgres://` / `postgresql://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server (the URL, password and all: never logged).
    Postgres(String),
}

impl Location {
    /// Reads `--db`.
    pub fn parse(text: &str) -> Result<Self, DbError> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_owned()));
        }
        let path = text.strip_prefix("sqlite:").unwrap_or(text);
        if path.is_empty() || path.contains("://") {
            return Err(DbError::Url(
                "expected sqlite:PATH, a file path, or postgres://...".into(),
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// What to show in messages: the file, or the server without its password.
    pub fn display(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => match url.parse::<tokio_postgres::Config>() {
                Ok(config) => {
                    let hosts: Vec<String> = config
                        .get_hosts()
                        .iter()
                        .map(|h| match h {
                            tokio_postgres::config::Host::Tcp(h) => h.clone(),
                            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                        })
                        .collect();
                    format!(
                        "postgres://{}/{}",
                        hosts.join(","),
                        config.get_dbname().unwrap_or("")
                    )
                }
                Err(_) => "postgres://(unreadable URL)".into(),
            },
        }
    }
}

/// Creates an empty schema with a random name on the PostgreSQL server at `url`, and returns
/// the URL that uses it (its `search_path`): a database of its own for a test, without the cost
/// of `CREATE DATABASE`.
pub fn fresh_postgres(url: &str) -> DbResult<String> {
    let schema = format!("t_{}", hex::encode(crate::app::tokens::random_bytes::<8>()));
    let pg = sql::Postgres::connect(url, 1)?;
    pg.conn()?.batch(&format!("CREATE SCHEMA {schema}"))?;
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{separator}options=-csearch_path%3D{schema}"))
}

enum Backend {
    Sqlite(Mutex<Connection>),
    Postgres(sql::Postgres),
}

/// Most connections one portal holds to PostgreSQL.
const POSTGRES_POOL: usize = 16;

/// How often a PostgreSQL transaction aborted for a conflict is run again before the error is
/// returned.
const RETRIES: u32 = 20;

/// The portal's database (see the module docs).
pub struct Db {
    backend: Backend,
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
    /// Opens (creating if needed) the SQLite database at `path`.
    pub fn open(path: &Path) -> DbResult<Self> {
        Self::init(Connection::open(path)?)
    }

    /// Opens the database at `location`, bringing its schema up to date.
    pub fn open_at(location: &Location) -> DbResult<Self> {
        match location {
            Location::Sqlite(path) => Self::open(path),
            Location::Postgres(url) => Self::postgres(url),
        }
    }

    /// Connects to PostgreSQL at `url` and brings the schema up to date (several portals may
    /// start at once: the migrations take a lock).
    pub fn postgres(url: &str) -> DbResult<Self> {
        let pg = sql::Postgres::connect(url, POSTGRES_POOL)?;
        schema::migrate_postgres(&mut pg.conn()?)?;
        Ok(Self {
            backend: Backend::Postgres(pg),
        })
    }

    /// A private database for a test: in memory, or, when `ASSENT_TEST_POSTGRES` holds a
    /// PostgreSQL URL, a schema of its own on that server ([`fresh_postgres`]), so that the same
    /// tests run on both engines.
    pub fn for_tests() -> DbResult<Self> {
        match std::env::var("ASSENT_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => Self::postgres(&fresh_postgres(&url)?),
            _ => Self::in_memory(),
        }
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
            backend: Backend::Sqlite(Mutex::new(conn)),
        })
    }

    /// The engine behind this database.
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    fn sqlite(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
        conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `work` on a connection: statements that are each atomic, but not one transaction
    /// (on SQLite they still run under the one connection's lock).
    pub(crate) fn with<T>(
        &self,
        mut work: impl FnMut(&mut dyn Conn) -> DbResult<T>,
    ) -> DbResult<T> {
        match &self.backend {
            Backend::Sqlite(conn) => work(&mut sql::SqliteConn(&Self::sqlite(conn))),
            Backend::Postgres(pg) => {
                let mut conn = pg.conn()?;
                let mut tries = 0;
                loop {
                    match work(&mut conn) {
                        Err(e) if sql::retryable(&e) && tries < RETRIES => tries += 1,
                        other => return other,
                    }
                }
            }
        }
    }

    /// Runs `work` as one transaction, committed if it returns `Ok` and rolled back otherwise.
    /// Transactions are serial: SQLite's `BEGIN IMMEDIATE`, PostgreSQL's `SERIALIZABLE` (run
    /// again, from the start, when the server aborts it for a conflict), so `work` must not
    /// have effects outside the database.
    pub(crate) fn tx<T>(&self, work: impl FnMut(&mut dyn Conn) -> DbResult<T>) -> DbResult<T> {
        self.transaction("BEGIN ISOLATION LEVEL SERIALIZABLE", work)
    }

    /// Runs `work` as one transaction that is all or nothing but not serial on PostgreSQL
    /// (`READ COMMITTED`; on SQLite it is [`Db::tx`]): for work whose rule is a single
    /// statement's own condition (`UPDATE … WHERE status = 'pending'`, `WHERE used = 0`, a
    /// unique key), which PostgreSQL settles by row locks, and whose other statements only
    /// write. Serializable transactions on the small tables (a few dozen devices or sessions,
    /// read by a whole-table scan) conflict with every concurrent writer of the table and would
    /// be retried over and over; these do not need it. Count-then-write rules (the throttles,
    /// TOTP attempts) and read-then-write ones (activating a device) stay on [`Db::tx`].
    pub(crate) fn atomic<T>(&self, work: impl FnMut(&mut dyn Conn) -> DbResult<T>) -> DbResult<T> {
        self.transaction("BEGIN ISOLATION LEVEL READ COMMITTED", work)
    }

    /// [`Db::tx`] and [`Db::atomic`]: `begin` is PostgreSQL's opening statement.
    fn transaction<T>(
        &self,
        begin: &str,
        mut work: impl FnMut(&mut dyn Conn) -> DbResult<T>,
    ) -> DbResult<T> {
        match &self.backend {
            Backend::Sqlite(conn) => {
                let guard = Self::sqlite(conn);
                guard.execute_batch("BEGIN IMMEDIATE")?;
                match work(&mut sql::SqliteConn(&guard)) {
                    Ok(value) => match guard.execute_batch("COMMIT") {
                        Ok(()) => Ok(value),
                        Err(e) => {
                            let _ = guard.execute_batch("ROLLBACK");
                            Err(e.into())
                        }
                    },
                    Err(e) => {
                        let _ = guard.execute_batch("ROLLBACK");
                        Err(e)
                    }
                }
            }
            Backend::Postgres(pg) => {
                let mut conn = pg.conn()?;
                let mut tries = 0;
                loop {
                    conn.batch(begin)?;
                    let result = work(&mut conn).and_then(|value| {
                        conn.batch("COMMIT")?;
                        Ok(value)
                    });
                    match result {
                        Ok(value) => return Ok(value),
                        Err(e) => {
                            let _ = conn.batch("ROLLBACK");
                            if !(sql::retryable(&e) && tries < RETRIES) {
                                return Err(e);
                            }
                            tries += 1;
                            // Let the transaction that won finish before trying again.
                            std::thread::sleep(std::time::Duration::from_micros(
                                200 * u64::from(tries),
                            ));
                        }
                    }
                }
            }
        }
    }

    /// A stored setting (the portal's signing key).
    pub fn setting(&self, name: &str) -> DbResult<Option<Vec<u8>>> {
        self.with(|c| {
            c.query_opt("SELECT value FROM settings WHERE name = ?1", [name], |r| {
                r.get(0)
            })
        })
    }

    /// Stores a setting, unless one of that name exists (two portals starting at once on a
    /// new database keep one key); returns the setting now stored.
    pub fn set_setting(&self, name: &str, value: &[u8]) -> DbResult<Vec<u8>> {
        self.tx(|c| {
            c.execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
                params![name, value],
            )?;
            c.query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
                r.get(0)
            })
        })
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
