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

use assent_protocol::{PublicJwk, PushConfig};
use rusqlite::{Connection, OptionalExtension, params};

/// A storage failure; the HTTP layer answers 500 and logs it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite refused or failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value no longer parses (a key, a push address).
    #[error("database: corrupt {0}")]
    Corrupt(&'static str),
}

/// Shorthand for results of this module.
pub type DbResult<T> = Result<T, DbError>;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA cache_size = -16384;
PRAGMA mmap_size = 67108864;
PRAGMA temp_store = MEMORY;
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    mfa_required INTEGER NOT NULL DEFAULT 1,
    suspended INTEGER NOT NULL DEFAULT 0,
    failed_totp INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    totp_secret BLOB,
    totp_last_step INTEGER,
    device_id TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS enrollments (
    token TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    totp_secret BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    enrollment TEXT NOT NULL,
    signing_key TEXT NOT NULL,
    encryption_key TEXT NOT NULL,
    platform TEXT NOT NULL,
    name TEXT NOT NULL,
    push TEXT,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS challenges (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    jws TEXT NOT NULL,
    hash TEXT NOT NULL,
    purpose TEXT NOT NULL,
    iat INTEGER NOT NULL,
    exp INTEGER NOT NULL,
    number TEXT,
    user_verification TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    session TEXT,
    delivery TEXT
);
CREATE INDEX IF NOT EXISTS challenges_by_device ON challenges(device_id, status, exp);
CREATE INDEX IF NOT EXISTS challenges_by_user ON challenges(user_id, iat);
CREATE INDEX IF NOT EXISTS challenges_by_status ON challenges(status, exp);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    csrf TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    challenge TEXT,
    enrollment TEXT,
    step_up_at INTEGER
);
CREATE TABLE IF NOT EXISTS nonces (
    device_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    ip TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_user ON events(user_id, id);
CREATE TABLE IF NOT EXISTS password_failures (
    ip TEXT NOT NULL,
    name TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS password_failures_by_ip ON password_failures(ip, at);
CREATE INDEX IF NOT EXISTS password_failures_by_name ON password_failures(name, at);
CREATE INDEX IF NOT EXISTS password_failures_by_time ON password_failures(at);
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
";

/// A user account.
#[derive(Debug, Clone)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// The login name.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Whether a second factor is required at login (an admin may lift it for a while).
    pub mfa_required: bool,
    /// A suspended user cannot sign in at all.
    pub suspended: bool,
    /// Wrong TOTP codes since the last success or unlock.
    pub failed_totp: u32,
    /// Locked out of TOTP (and so of login) until this time.
    pub locked_until: Option<u64>,
    /// The active TOTP secret, set at enrollment.
    pub totp_secret: Option<Vec<u8>>,
    /// The last TOTP time step accepted (a code is good once).
    pub totp_last_step: Option<u64>,
    /// The user's single push device.
    pub device_id: Option<String>,
}

impl User {
    /// Whether the user has any second factor.
    pub fn enrolled(&self) -> bool {
        self.device_id.is_some() || self.totp_secret.is_some()
    }

    /// Whether the lockout applies at `now`.
    pub fn locked(&self, now: u64) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }
}

/// A device's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// Registered, waiting for its activation answer.
    Pending,
    /// The user's device.
    Active,
    /// Replaced by a newer device or removed by an MFA reset.
    Retired,
}

impl DeviceState {
    fn parse(text: &str) -> DbResult<Self> {
        match text {
            "pending" => Ok(Self::Pending),
            "active" => Ok(Self::Active),
            "retired" => Ok(Self::Retired),
            _ => Err(DbError::Corrupt("device state")),
        }
    }
}

/// A registered device.
#[derive(Debug, Clone)]
pub struct Device {
    /// The device id (signing key thumbprint).
    pub id: String,
    /// Its user.
    pub user_id: i64,
    /// The enrollment token it registered with.
    pub enrollment: String,
    /// Verifies its answers and polls.
    pub signing_key: PublicJwk,
    /// Challenges are sealed to it.
    pub encryption_key: PublicJwk,
    /// `ios`, `android` or `desktop`.
    pub platform: String,
    /// The name the user gave it.
    pub name: String,
    /// Where the relay reaches it; `None` once the relay reported the token dead (the device
    /// then only polls, until it sends a new token).
    pub push: Option<PushConfig>,
    /// Lifecycle.
    pub state: DeviceState,
}

/// What became of a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeStatus {
    /// Waiting for an answer.
    Pending,
    /// Approved by the device.
    Approved,
    /// Denied by the device.
    Denied,
    /// Used up by a wrong number.
    Failed,
    /// No answer within 60 seconds.
    Expired,
    /// Withdrawn (device replaced, MFA reset, a newer push).
    Cancelled,
}

impl ChallengeStatus {
    /// The stored and JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> DbResult<Self> {
        Ok(match text {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            "failed" => Self::Failed,
            "expired" => Self::Expired,
            "cancelled" => Self::Cancelled,
            _ => return Err(DbError::Corrupt("challenge status")),
        })
    }
}

/// A challenge the portal sent.
#[derive(Debug, Clone)]
pub struct ChallengeRow {
    /// Challenge id.
    pub id: String,
    /// For whom.
    pub user_id: i64,
    /// To which device.
    pub device_id: String,
    /// The exact JWS sent (and returned by polls).
    pub jws: String,
    /// SHA-256 of the JWS, base64url.
    pub hash: String,
    /// `login`, `step_up`, `password_reset` or `activate`.
    pub purpose: String,
    /// Issued at.
    pub iat: u64,
    /// Expires at (`iat + 60`).
    pub exp: u64,
    /// The number shown on the page, with number matching.
    pub number: Option<String>,
    /// `required`, `preferred` or `discouraged`.
    pub user_verification: String,
    /// What became of it.
    pub status: ChallengeStatus,
    /// `not_me` / `cancelled` for a deny; the error for a failure.
    pub reason: Option<String>,
    /// The browser session waiting for it, if any.
    pub session: Option<String>,
    /// The relay's outcome for the push.
    pub delivery: Option<String>,
}

/// A browser session's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// The password was right; a second factor (or enrollment) is still due.
    Password,
    /// Fully signed in.
    SignedIn,
    /// A password reset waiting for the push approval.
    ResetPending,
    /// A password reset approved by push: the next step sets the new password.
    Reset,
}

impl SessionState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::SignedIn => "signed_in",
            Self::ResetPending => "reset_pending",
            Self::Reset => "reset",
        }
    }

    fn parse(text: &str) -> DbResult<Self> {
        Ok(match text {
            "password" => Self::Password,
            "signed_in" => Self::SignedIn,
            "reset_pending" => Self::ResetPending,
            "reset" => Self::Reset,
            _ => return Err(DbError::Corrupt("session state")),
        })
    }
}

/// A browser session. The cookie holds a random value; only its hash is stored here.
#[derive(Debug, Clone)]
pub struct Session {
    /// SHA-256 of the cookie value, hex.
    pub id: String,
    /// Whose.
    pub user_id: i64,
    /// Progress.
    pub state: SessionState,
    /// The anti-CSRF value every form carries.
    pub csrf: String,
    /// The client's address at sign-in.
    pub ip: String,
    /// The client's User-Agent at sign-in.
    pub user_agent: String,
    /// When it ends.
    pub expires_at: u64,
    /// The challenge this session waits for.
    pub challenge: Option<String>,
    /// The enrollment shown to this session.
    pub enrollment: Option<String>,
    /// When a step-up was last approved.
    pub step_up_at: Option<u64>,
}

impl Session {
    /// Whether a form's anti-CSRF value is this session's, compared in constant time so the
    /// comparison tells an attacker nothing about how much of a guess was right.
    pub fn csrf_matches(&self, value: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        bool::from(self.csrf.as_bytes().ct_eq(value.as_bytes()))
    }
}

/// An enrollment token issued to a user.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The token (bearer secret until used).
    pub token: String,
    /// For whom.
    pub user_id: i64,
    /// The TOTP secret in the same QR; it becomes the user's when the enrollment completes.
    pub totp_secret: Vec<u8>,
    /// The token is refused after this.
    pub expires_at: u64,
    /// A registration used it.
    pub used: bool,
}

/// One line of a user's event log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    /// Unix seconds.
    pub at: u64,
    /// The client's address, or `admin` / `cli`.
    pub ip: String,
    /// What happened (`login_password`, `push_login`, `totp`, `mfa_reset`, ...).
    pub kind: String,
    /// How it ended (`ok`, `failed`, `approved`, `denied`, `suspicious`, ...).
    pub outcome: String,
    /// More, for people.
    pub detail: String,
}

/// The database.
pub struct Db {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db(..)")
    }
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn jwk_json(jwk: &PublicJwk) -> String {
    serde_json::to_string(jwk).unwrap_or_default()
}

fn parse_jwk(text: &str) -> DbResult<PublicJwk> {
    serde_json::from_str(text).map_err(|_| DbError::Corrupt("device key"))
}

/// What one TOTP attempt came to (see [`Db::totp_attempt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpAttempt {
    /// The account is locked until this time: the code was not looked at.
    Locked {
        /// When the lock ends (Unix seconds).
        until: u64,
    },
    /// The user has no TOTP secret (or no longer exists).
    NotEnrolled,
    /// A right code for a step not used before; the count of wrong codes is cleared.
    Accepted,
    /// A wrong or reused code, the `count`th in a row; `locked_until` is set when it reached
    /// the limit and locked the account.
    Wrong {
        /// Wrong codes in a row, this one included.
        count: u32,
        /// When the lock this attempt set ends, if it set one.
        locked_until: Option<u64>,
    },
}

const USER_COLUMNS: &str = "id, username, password_hash, mfa_required, suspended, failed_totp, \
     locked_until, totp_secret, totp_last_step, device_id";

fn user_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        password_hash: row.get(2)?,
        mfa_required: row.get(3)?,
        suspended: row.get(4)?,
        failed_totp: row.get(5)?,
        locked_until: row.get::<_, Option<i64>>(6)?.map(to_u64),
        totp_secret: row.get(7)?,
        totp_last_step: row.get::<_, Option<i64>>(8)?.map(to_u64),
        device_id: row.get(9)?,
    })
}

const DEVICE_COLUMNS: &str =
    "id, user_id, enrollment, signing_key, encryption_key, platform, name, push, state";

type DeviceFields = (
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
);

fn device_fields(row: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceFields> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn device_from(fields: DeviceFields) -> DbResult<Device> {
    let (id, user_id, enrollment, signing, encryption, platform, name, push, state) = fields;
    Ok(Device {
        id,
        user_id,
        enrollment,
        signing_key: parse_jwk(&signing)?,
        encryption_key: parse_jwk(&encryption)?,
        platform,
        name,
        push: match push {
            Some(text) => {
                Some(serde_json::from_str(&text).map_err(|_| DbError::Corrupt("push address"))?)
            }
            None => None,
        },
        state: DeviceState::parse(&state)?,
    })
}

const CHALLENGE_COLUMNS: &str = "id, user_id, device_id, jws, hash, purpose, iat, exp, number, \
     user_verification, status, reason, session, delivery";

fn challenge_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(ChallengeRow, String)> {
    let status: String = row.get(10)?;
    Ok((
        ChallengeRow {
            id: row.get(0)?,
            user_id: row.get(1)?,
            device_id: row.get(2)?,
            jws: row.get(3)?,
            hash: row.get(4)?,
            purpose: row.get(5)?,
            iat: to_u64(row.get(6)?),
            exp: to_u64(row.get(7)?),
            number: row.get(8)?,
            user_verification: row.get(9)?,
            status: ChallengeStatus::Pending,
            reason: row.get(11)?,
            session: row.get(12)?,
            delivery: row.get(13)?,
        },
        status,
    ))
}

fn challenge_from((mut row, status): (ChallengeRow, String)) -> DbResult<ChallengeRow> {
    row.status = ChallengeStatus::parse(&status)?;
    Ok(row)
}

/// Retires the user's devices other than `keep` (all with `""`), pending ones included, and
/// cancels their pending challenges: from then on they get `unknown_device`.
fn retire_devices(tx: &rusqlite::Transaction<'_>, user_id: i64, keep: &str) -> DbResult<()> {
    tx.execute(
        "UPDATE devices SET state = 'retired' WHERE user_id = ?1 AND id != ?2 AND state != 'retired'",
        params![user_id, keep],
    )?;
    tx.execute(
        "UPDATE challenges SET status = 'cancelled'
         WHERE user_id = ?1 AND device_id != ?2 AND status = 'pending'",
        params![user_id, keep],
    )?;
    Ok(())
}

const SESSION_COLUMNS: &str =
    "id, user_id, state, csrf, ip, user_agent, expires_at, challenge, enrollment, step_up_at";

fn session_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Session, String)> {
    let state: String = row.get(2)?;
    Ok((
        Session {
            id: row.get(0)?,
            user_id: row.get(1)?,
            state: SessionState::Password,
            csrf: row.get(3)?,
            ip: row.get(4)?,
            user_agent: row.get(5)?,
            expires_at: to_u64(row.get(6)?),
            challenge: row.get(7)?,
            enrollment: row.get(8)?,
            step_up_at: row.get::<_, Option<i64>>(9)?.map(to_u64),
        },
        state,
    ))
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
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
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

    // ---- users

    /// Creates a user; `Ok(None)` when the name is taken.
    pub fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        now: u64,
    ) -> DbResult<Option<i64>> {
        let conn = self.conn();
        let inserted = conn.execute(
            "INSERT INTO users (username, password_hash, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(username) DO NOTHING",
            params![username, password_hash, to_i64(now)],
        )?;
        Ok((inserted == 1).then(|| conn.last_insert_rowid()))
    }

    /// A user by name.
    pub fn user_by_name(&self, username: &str) -> DbResult<Option<User>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"),
                [username],
                user_row,
            )
            .optional()?)
    }

    /// A user by id.
    pub fn user(&self, id: i64) -> DbResult<Option<User>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                [id],
                user_row,
            )
            .optional()?)
    }

    /// Every user, by name.
    pub fn users(&self) -> DbResult<Vec<User>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ))?;
        let rows = stmt.query_map([], user_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces the password hash.
    pub fn set_password(&self, user_id: i64, password_hash: &str) -> DbResult<()> {
        self.conn().execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![user_id, password_hash],
        )?;
        Ok(())
    }

    /// Sets whether MFA is required.
    pub fn set_mfa_required(&self, user_id: i64, required: bool) -> DbResult<()> {
        self.conn().execute(
            "UPDATE users SET mfa_required = ?2 WHERE id = ?1",
            params![user_id, required],
        )?;
        Ok(())
    }

    /// Suspends or restores; suspending also ends the user's sessions.
    pub fn set_suspended(&self, user_id: i64, suspended: bool) -> DbResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE users SET suspended = ?2 WHERE id = ?1",
            params![user_id, suspended],
        )?;
        if suspended {
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Decides one TOTP attempt in a single immediate transaction, so concurrent attempts cannot
    /// race the lockout: the lock is read from the database, not from a copy the caller holds;
    /// the attempt is counted before `matching` looks at the code; a right code is refused while
    /// the account is locked. `matching` returns the time step whose code was typed, if any; a
    /// step at or before the last one accepted counts as wrong, so a code works once. Reaching
    /// `max` wrong codes in a row locks until `now + lock_seconds`; a lock that has run out
    /// starts the count again.
    pub fn totp_attempt(
        &self,
        user_id: i64,
        now: u64,
        (max, lock_seconds): (u32, u64),
        matching: impl FnOnce(&[u8]) -> Option<u64>,
    ) -> DbResult<TotpAttempt> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let Some((failed, locked_until, secret, last_step)) = tx
            .query_row(
                "SELECT failed_totp, locked_until, totp_secret, totp_last_step FROM users
                 WHERE id = ?1",
                [user_id],
                |r| {
                    Ok((
                        r.get::<_, u32>(0)?,
                        r.get::<_, Option<i64>>(1)?.map(to_u64),
                        r.get::<_, Option<Vec<u8>>>(2)?,
                        r.get::<_, Option<i64>>(3)?.map(to_u64),
                    ))
                },
            )
            .optional()?
        else {
            return Ok(TotpAttempt::NotEnrolled);
        };
        if let Some(until) = locked_until.filter(|&until| now < until) {
            return Ok(TotpAttempt::Locked { until });
        }
        let Some(secret) = secret else {
            return Ok(TotpAttempt::NotEnrolled);
        };
        let secret = zeroize::Zeroizing::new(secret);
        // A lock that has run out leaves a fresh count behind it.
        let count = if locked_until.is_some() {
            1
        } else {
            failed + 1
        };
        let accepted = matching(&secret).filter(|&step| last_step.is_none_or(|last| step > last));
        let outcome = match accepted {
            Some(step) => {
                tx.execute(
                    "UPDATE users SET totp_last_step = ?2, failed_totp = 0, locked_until = NULL
                     WHERE id = ?1",
                    params![user_id, to_i64(step)],
                )?;
                TotpAttempt::Accepted
            }
            None => {
                let lock = (count >= max).then(|| now + lock_seconds);
                tx.execute(
                    "UPDATE users SET failed_totp = ?2, locked_until = ?3 WHERE id = ?1",
                    params![user_id, count, lock.map(to_i64)],
                )?;
                TotpAttempt::Wrong {
                    count,
                    locked_until: lock,
                }
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// Clears the failure count and any lockout.
    pub fn unlock(&self, user_id: i64) -> DbResult<()> {
        self.conn().execute(
            "UPDATE users SET failed_totp = 0, locked_until = NULL WHERE id = ?1",
            [user_id],
        )?;
        Ok(())
    }

    /// Removes both factors: the device is retired, its pending challenges cancelled, the TOTP
    /// secret and unused enrollments dropped. The user enrolls again at the next login.
    pub fn reset_mfa(&self, user_id: i64) -> DbResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        retire_devices(&tx, user_id, "")?;
        tx.execute("DELETE FROM enrollments WHERE user_id = ?1", [user_id])?;
        tx.execute(
            "UPDATE users SET device_id = NULL, totp_secret = NULL, totp_last_step = NULL,
                 failed_totp = 0, locked_until = NULL
             WHERE id = ?1",
            [user_id],
        )?;
        tx.execute(
            "DELETE FROM sessions WHERE user_id = ?1 AND state != 'signed_in'",
            [user_id],
        )?;
        tx.commit()?;
        Ok(())
    }

    // ---- enrollments and devices

    /// Stores a new enrollment token.
    pub fn create_enrollment(&self, enrollment: &Enrollment) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO enrollments (token, user_id, totp_secret, expires_at, used)
             VALUES (?1, ?2, ?3, ?4, 0)",
            params![
                enrollment.token,
                enrollment.user_id,
                enrollment.totp_secret,
                to_i64(enrollment.expires_at)
            ],
        )?;
        Ok(())
    }

    /// An enrollment by token.
    pub fn enrollment(&self, token: &str) -> DbResult<Option<Enrollment>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT token, user_id, totp_secret, expires_at, used FROM enrollments
                 WHERE token = ?1",
                [token],
                |r| {
                    Ok(Enrollment {
                        token: r.get(0)?,
                        user_id: r.get(1)?,
                        totp_secret: r.get(2)?,
                        expires_at: to_u64(r.get(3)?),
                        used: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Marks the token used and stores the registering device as pending; `false` when the
    /// token was used meanwhile (two registrations racing).
    pub fn register_device(&self, device: &Device, now: u64) -> DbResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let used = tx.execute(
            "UPDATE enrollments SET used = 1 WHERE token = ?1 AND used = 0",
            [&device.enrollment],
        )?;
        if used != 1 {
            return Ok(false);
        }
        tx.execute(
            &format!(
                "INSERT INTO devices ({DEVICE_COLUMNS}, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9)
                 ON CONFLICT(id) DO UPDATE SET user_id = excluded.user_id,
                     enrollment = excluded.enrollment, push = excluded.push,
                     name = excluded.name, state = 'pending'"
            ),
            params![
                device.id,
                device.user_id,
                device.enrollment,
                jwk_json(&device.signing_key),
                jwk_json(&device.encryption_key),
                device.platform,
                device.name,
                device
                    .push
                    .as_ref()
                    .map(|p| serde_json::to_string(p).unwrap_or_default()),
                to_i64(now),
            ],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// A device by id.
    pub fn device(&self, id: &str) -> DbResult<Option<Device>> {
        let fields = self
            .conn()
            .query_row(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"),
                [id],
                device_fields,
            )
            .optional()?;
        fields.map(device_from).transpose()
    }

    /// Makes a pending device the user's single device: the previous one is retired and its
    /// pending challenges cancelled, and the enrollment's TOTP secret becomes the user's.
    /// Returns the retired device's id.
    pub fn activate_device(&self, device_id: &str) -> DbResult<Option<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let (user_id, enrollment): (i64, String) = tx.query_row(
            "SELECT user_id, enrollment FROM devices WHERE id = ?1",
            [device_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let previous: Option<String> = tx.query_row(
            "SELECT device_id FROM users WHERE id = ?1",
            [user_id],
            |r| r.get(0),
        )?;
        retire_devices(&tx, user_id, device_id)?;
        tx.execute(
            "UPDATE devices SET state = 'active' WHERE id = ?1",
            [device_id],
        )?;
        tx.execute(
            "UPDATE users SET device_id = ?2,
                 totp_secret = (SELECT totp_secret FROM enrollments WHERE token = ?3),
                 totp_last_step = NULL, failed_totp = 0
             WHERE id = ?1",
            params![user_id, device_id, enrollment],
        )?;
        tx.commit()?;
        Ok(previous.filter(|p| p != device_id))
    }

    /// Completes an enrollment by TOTP alone (a third-party app scanned the QR): the secret
    /// becomes the user's, the enrollment is used, and any push device is retired.
    pub fn activate_totp_only(&self, token: &str, user_id: i64, step: u64) -> DbResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let used = tx.execute(
            "UPDATE enrollments SET used = 1 WHERE token = ?1 AND user_id = ?2 AND used = 0",
            params![token, user_id],
        )?;
        if used != 1 {
            return Ok(false);
        }
        retire_devices(&tx, user_id, "")?;
        tx.execute(
            "UPDATE users SET device_id = NULL,
                 totp_secret = (SELECT totp_secret FROM enrollments WHERE token = ?2),
                 totp_last_step = ?3, failed_totp = 0
             WHERE id = ?1",
            params![user_id, token, to_i64(step)],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Sets or clears (`None`: the relay reported it dead) a device's push address.
    pub fn set_push(&self, device_id: &str, push: Option<&PushConfig>) -> DbResult<()> {
        self.conn().execute(
            "UPDATE devices SET push = ?2 WHERE id = ?1",
            params![
                device_id,
                push.map(|p| serde_json::to_string(p).unwrap_or_default())
            ],
        )?;
        Ok(())
    }

    /// Remembers a poll or push-token nonce until `expires_at`; `false` if it was seen.
    pub fn remember_nonce(
        &self,
        device_id: &str,
        nonce: &str,
        now: u64,
        expires_at: u64,
    ) -> DbResult<bool> {
        let conn = self.conn();
        conn.execute("DELETE FROM nonces WHERE expires_at < ?1", [to_i64(now)])?;
        let inserted = conn.execute(
            "INSERT INTO nonces (device_id, nonce, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![device_id, nonce, to_i64(expires_at)],
        )?;
        Ok(inserted == 1)
    }

    // ---- challenges

    /// Stores a sent challenge.
    pub fn insert_challenge(&self, c: &ChallengeRow) -> DbResult<()> {
        self.conn().execute(
            &format!(
                "INSERT INTO challenges ({CHALLENGE_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            ),
            params![
                c.id,
                c.user_id,
                c.device_id,
                c.jws,
                c.hash,
                c.purpose,
                to_i64(c.iat),
                to_i64(c.exp),
                c.number,
                c.user_verification,
                c.status.as_str(),
                c.reason,
                c.session,
                c.delivery
            ],
        )?;
        Ok(())
    }

    /// A challenge by id.
    pub fn challenge(&self, id: &str) -> DbResult<Option<ChallengeRow>> {
        let row = self
            .conn()
            .query_row(
                &format!("SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE id = ?1"),
                [id],
                challenge_row,
            )
            .optional()?;
        row.map(challenge_from).transpose()
    }

    /// Settles a pending challenge; `false` if it was no longer pending (a racing answer).
    pub fn settle_challenge(
        &self,
        id: &str,
        status: ChallengeStatus,
        reason: Option<&str>,
    ) -> DbResult<bool> {
        let updated = self.conn().execute(
            "UPDATE challenges SET status = ?2, reason = ?3 WHERE id = ?1 AND status = 'pending'",
            params![id, status.as_str(), reason],
        )?;
        Ok(updated == 1)
    }

    /// Records the relay's outcome for a challenge's push.
    pub fn set_delivery(&self, id: &str, delivery: &str) -> DbResult<()> {
        self.conn().execute(
            "UPDATE challenges SET delivery = ?2 WHERE id = ?1",
            params![id, delivery],
        )?;
        Ok(())
    }

    /// Marks every pending challenge past its `exp` as expired; returns them (for the event log).
    pub fn expire_challenges(&self, now: u64) -> DbResult<Vec<ChallengeRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "UPDATE challenges SET status = 'expired' WHERE status = 'pending' AND exp < ?1
             RETURNING {CHALLENGE_COLUMNS}"
        ))?;
        let rows = stmt.query_map([to_i64(now)], challenge_row)?;
        let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
        rows.into_iter().map(challenge_from).collect()
    }

    /// The device's unanswered, unexpired challenges, oldest first, at most `limit`.
    pub fn pending_for_device(
        &self,
        device_id: &str,
        now: u64,
        limit: usize,
    ) -> DbResult<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT jws FROM challenges
             WHERE device_id = ?1 AND status = 'pending' AND exp >= ?2 AND purpose != 'activate'
             ORDER BY iat, rowid LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![device_id, to_i64(now), i64::try_from(limit).unwrap_or(16)],
            |r| r.get(0),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many pushes (not activations) the user was sent since `since`.
    pub fn pushes_since(&self, user_id: i64, since: u64) -> DbResult<u32> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM challenges WHERE user_id = ?1 AND iat >= ?2 AND purpose != 'activate'",
            params![user_id, to_i64(since)],
            |r| r.get(0),
        )?)
    }

    /// The earliest push since `since` (to say when the rate limit lifts).
    pub fn first_push_since(&self, user_id: i64, since: u64) -> DbResult<Option<u64>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT MIN(iat) FROM challenges WHERE user_id = ?1 AND iat >= ?2 AND purpose != 'activate'",
                params![user_id, to_i64(since)],
                |r| r.get::<_, Option<i64>>(0),
            )?
            .map(to_u64))
    }

    // ---- sessions

    /// Stores a new session.
    pub fn create_session(&self, s: &Session, now: u64) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO sessions (id, user_id, state, csrf, ip, user_agent, expires_at, challenge,
                 enrollment, step_up_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                s.id,
                s.user_id,
                s.state.as_str(),
                s.csrf,
                s.ip,
                s.user_agent,
                to_i64(s.expires_at),
                s.challenge,
                s.enrollment,
                s.step_up_at.map(to_i64),
                to_i64(now),
            ],
        )?;
        Ok(())
    }

    /// A live session by its hashed id.
    pub fn session(&self, id: &str, now: u64) -> DbResult<Option<Session>> {
        let row = self
            .conn()
            .query_row(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1 AND expires_at > ?2"
                ),
                params![id, to_i64(now)],
                session_row,
            )
            .optional()?;
        row.map(|(mut s, state)| {
            s.state = SessionState::parse(&state)?;
            Ok(s)
        })
        .transpose()
    }

    /// Updates a session's progress.
    pub fn update_session(&self, s: &Session) -> DbResult<()> {
        self.conn().execute(
            "UPDATE sessions SET state = ?2, expires_at = ?3, challenge = ?4, enrollment = ?5,
                 step_up_at = ?6
             WHERE id = ?1",
            params![
                s.id,
                s.state.as_str(),
                to_i64(s.expires_at),
                s.challenge,
                s.enrollment,
                s.step_up_at.map(to_i64)
            ],
        )?;
        Ok(())
    }

    /// Ends a session.
    pub fn delete_session(&self, id: &str) -> DbResult<()> {
        self.conn()
            .execute("DELETE FROM sessions WHERE id = ?1", [id])?;
        Ok(())
    }

    // ---- wrong passwords

    /// Counts a password attempt from `ip` for the user-name hash `name` before the password is
    /// checked, so concurrent guesses cannot slip past the limits: unless `ip` already has
    /// `ip_limit`, or `name` `name_limit`, attempts after `since`. Returns the attempt's row
    /// (forgotten again if the password is right), or the time the oldest attempt that blocks
    /// leaves the window. Attempts at or before `since` are forgotten.
    pub fn password_attempt(
        &self,
        ip: &str,
        name: &str,
        now: u64,
        since: u64,
        (ip_limit, name_limit): (u32, u32),
    ) -> DbResult<Result<i64, u64>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM password_failures WHERE at <= ?1",
            [to_i64(since)],
        )?;
        let mut blocked = None;
        for (column, value, limit) in [("ip", ip, ip_limit), ("name", name, name_limit)] {
            let sql = format!(
                "SELECT COUNT(*), MIN(at) FROM password_failures WHERE {column} = ?1 AND at > ?2"
            );
            let (count, oldest): (u32, Option<i64>) =
                tx.query_row(&sql, params![value, to_i64(since)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            if count >= limit {
                let oldest = oldest.map_or(now, to_u64);
                blocked = Some(blocked.map_or(oldest, |b: u64| b.max(oldest)));
            }
        }
        if let Some(oldest) = blocked {
            return Ok(Err(oldest));
        }
        let row = tx.query_row(
            "INSERT INTO password_failures (ip, name, at) VALUES (?1, ?2, ?3) RETURNING rowid",
            params![ip, name, to_i64(now)],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(Ok(row))
    }

    /// Forgets the wrong passwords for the user-name hash `name`, and the attempt `row` if any
    /// (after the right password, or the help desk's unlock). Those counted against the client
    /// addresses stay.
    pub fn clear_password_failures(&self, name: &str, row: Option<i64>) -> DbResult<()> {
        let conn = self.conn();
        conn.execute("DELETE FROM password_failures WHERE rowid = ?1", [row])?;
        // Still counted for their addresses, no longer for the name.
        conn.execute(
            "UPDATE password_failures SET name = '' WHERE name = ?1",
            [name],
        )?;
        Ok(())
    }

    // ---- events

    /// Appends to a user's event log.
    pub fn log(
        &self,
        user_id: i64,
        now: u64,
        ip: &str,
        kind: &str,
        outcome: &str,
        detail: &str,
    ) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO events (user_id, at, ip, kind, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![user_id, to_i64(now), ip, kind, outcome, detail],
        )?;
        Ok(())
    }

    /// A user's events, oldest first.
    pub fn events(&self, user_id: i64) -> DbResult<Vec<Event>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT at, ip, kind, outcome, detail FROM events WHERE user_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([user_id], |r| {
            Ok(Event {
                at: to_u64(r.get(0)?),
                ip: r.get(1)?,
                kind: r.get(2)?,
                outcome: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
