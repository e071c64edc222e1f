//! The schema, as versioned migrations (`rusqlite_migration`, which keeps the version in
//! SQLite's `user_version`). Each migration runs once, in order, in a transaction; a database is
//! brought to the latest version when it is opened. Never edit a migration that has shipped:
//! add the next one.
//!
//! A database made before migrations existed has `user_version` 0 and the tables of the first
//! migration already: it creates them only where they are missing, so it applies to both.

use rusqlite_migration::{M, Migrations};

/// Connection settings, applied each time the database is opened (they are not part of the
/// schema, and `journal_mode` cannot change inside a transaction).
pub(super) const PRAGMAS: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA cache_size = -16384;
PRAGMA mmap_size = 67108864;
PRAGMA temp_store = MEMORY;
";

/// Version 1: the tables as the portal first shipped them.
const V1_TABLES: &str = "
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

/// Version 2: why a browser session ended (`NULL` while it is live), so that the pages say what
/// ended a sign-in instead of guessing.
const V2_SESSION_ENDINGS: &str = "
ALTER TABLE sessions ADD COLUMN ended TEXT;
";

/// Version 3: a challenge's delivery is a state name (`delivered`, `unregistered`, `rejected`,
/// `failed`, `device_polls`) with the relay's reason beside it, where it was one sentence; and
/// the reason a TOTP sign-in gave for withdrawing the push it no longer needed is a name.
const V3_TYPED_DELIVERY: &str = "
ALTER TABLE challenges ADD COLUMN delivery_detail TEXT;
UPDATE challenges SET delivery = 'device_polls', delivery_detail = NULL
    WHERE delivery LIKE 'no push address%';
UPDATE challenges SET delivery_detail = substr(delivery, instr(delivery, ': ') + 2),
    delivery = substr(delivery, 1, instr(delivery, ': ') - 1)
    WHERE instr(delivery, ': ') > 0;
UPDATE challenges SET reason = 'totp_used' WHERE reason = 'signed in with TOTP';
";

/// Version 4: the help-desk console. Console accounts are users with a role (`NULL` for the
/// people who sign in to the portal's applications); a help-desk removal of the MFA
/// requirement lasts until `mfa_off_until`; a password change can be required at the next
/// sign-in; console sessions slide their expiry by `idle_seconds` on each visit; devices say
/// when they were last heard from; events name the admin who acted (`actor`).
const V4_CONSOLE: &str = "
ALTER TABLE users ADD COLUMN role TEXT;
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_off_until INTEGER;
ALTER TABLE sessions ADD COLUMN idle_seconds INTEGER;
ALTER TABLE devices ADD COLUMN last_seen INTEGER;
ALTER TABLE events ADD COLUMN actor TEXT;
CREATE INDEX IF NOT EXISTS users_by_role ON users(role, username);
";

/// Version 5: relying parties — servers (a PAM module, an application) that ask the portal to
/// verify a user by push or code. Their keys are stored hashed, beside the public key that signs
/// their requests when they sign them; a challenge records which one asked for it.
const V5_RELYING_PARTIES: &str = "
CREATE TABLE IF NOT EXISTS rp_clients (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL,
    mode TEXT NOT NULL,
    request_key TEXT,
    created_at INTEGER NOT NULL
);
ALTER TABLE challenges ADD COLUMN client TEXT;
CREATE INDEX IF NOT EXISTS challenges_by_client ON challenges(client, iat);
";

/// Version 6: the per-user push limit counts a user's recent challenges by purpose; with the
/// purpose in the index the count reads the index alone, not each challenge's row.
const V6_PUSH_COUNT_INDEX: &str = "
CREATE INDEX IF NOT EXISTS challenges_by_user_purpose ON challenges(user_id, iat, purpose);
DROP INDEX IF EXISTS challenges_by_user;
";

/// Every migration, oldest first.
pub(super) fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1_TABLES),
        M::up(V2_SESSION_ENDINGS),
        M::up(V3_TYPED_DELIVERY),
        M::up(V4_CONSOLE),
        M::up(V5_RELYING_PARTIES),
        M::up(V6_PUSH_COUNT_INDEX),
    ])
}

/// The PostgreSQL schema, as versioned migrations kept in `schema_migrations`. PostgreSQL
/// support started at SQLite's version 5, so its first migration is that schema whole, in
/// PostgreSQL's types: `BIGINT` for SQLite's integers (booleans stay 0/1 integers, so queries
/// read the same on both), `BYTEA` for blobs, identity columns for SQLite's integer keys, and a
/// `rowid` sequence where queries order by SQLite's `rowid`. Later schema changes are added to
/// both lists.
const POSTGRES_V1: &str = "
CREATE TABLE users (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    mfa_required BIGINT NOT NULL DEFAULT 1,
    suspended BIGINT NOT NULL DEFAULT 0,
    failed_totp BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    totp_secret BYTEA,
    totp_last_step BIGINT,
    device_id TEXT,
    created_at BIGINT NOT NULL,
    role TEXT,
    must_change_password BIGINT NOT NULL DEFAULT 0,
    mfa_off_until BIGINT
);
CREATE INDEX users_by_role ON users(role, username);
CREATE TABLE enrollments (
    token TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    totp_secret BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX enrollments_by_user ON enrollments(user_id);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    enrollment TEXT NOT NULL,
    signing_key TEXT NOT NULL,
    encryption_key TEXT NOT NULL,
    platform TEXT NOT NULL,
    name TEXT NOT NULL,
    push TEXT,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT
);
CREATE INDEX devices_by_user ON devices(user_id);
CREATE TABLE challenges (
    id TEXT PRIMARY KEY,
    rowid BIGSERIAL NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    jws TEXT NOT NULL,
    hash TEXT NOT NULL,
    purpose TEXT NOT NULL,
    iat BIGINT NOT NULL,
    exp BIGINT NOT NULL,
    number TEXT,
    user_verification TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    session TEXT,
    delivery TEXT,
    delivery_detail TEXT,
    client TEXT
);
CREATE INDEX challenges_by_device ON challenges(device_id, status, exp);
CREATE INDEX challenges_by_user ON challenges(user_id, iat);
CREATE INDEX challenges_by_status ON challenges(status, exp);
CREATE INDEX challenges_by_client ON challenges(client, iat);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    csrf TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    challenge TEXT,
    enrollment TEXT,
    step_up_at BIGINT,
    ended TEXT,
    idle_seconds BIGINT
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE TABLE nonces (
    device_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE TABLE events (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    ip TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    actor TEXT
);
CREATE INDEX events_by_user ON events(user_id, id);
CREATE TABLE password_failures (
    rowid BIGSERIAL PRIMARY KEY,
    ip TEXT NOT NULL,
    name TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX password_failures_by_ip ON password_failures(ip, at);
CREATE INDEX password_failures_by_name ON password_failures(name, at);
CREATE INDEX password_failures_by_time ON password_failures(at);
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE rp_clients (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL,
    mode TEXT NOT NULL,
    request_key TEXT,
    created_at BIGINT NOT NULL
);
";

/// SQLite's version 6, on PostgreSQL.
const POSTGRES_V2: &str = V6_PUSH_COUNT_INDEX;

/// Every PostgreSQL migration, oldest first.
const POSTGRES_MIGRATIONS: &[&str] = &[POSTGRES_V1, POSTGRES_V2];

/// Brings a PostgreSQL database up to date: each missing migration in its own transaction,
/// under a transaction-scoped advisory lock so that portals starting together take turns. A
/// database from a newer portal is refused.
pub(super) fn migrate_postgres(conn: &mut super::sql::PgConn<'_>) -> super::DbResult<()> {
    conn.batch("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
        .or_else(|e| {
            // Two portals creating the table at once: one loses the race on the catalog.
            conn.batch("SELECT 1 FROM schema_migrations LIMIT 1")
                .map_err(|_| e)
        })?;
    for (index, migration) in POSTGRES_MIGRATIONS.iter().enumerate() {
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        conn.batch("BEGIN")?;
        let applied = (|| {
            let c: &mut dyn super::sql::Conn = conn;
            c.execute("SELECT pg_advisory_xact_lock(?1)", [MIGRATION_LOCK])?;
            let done = c
                .query_opt(
                    "SELECT version FROM schema_migrations WHERE version = ?1",
                    [version],
                    |_| Ok(()),
                )?
                .is_some();
            if !done {
                c.execute(
                    "INSERT INTO schema_migrations (version) VALUES (?1)",
                    [version],
                )?;
            }
            Ok(done)
        })();
        let result = applied.and_then(|done| {
            if !done {
                conn.batch(migration)?;
            }
            conn.batch("COMMIT")
        });
        if let Err(e) = result {
            let _ = conn.batch("ROLLBACK");
            return Err(e);
        }
    }
    let c: &mut dyn super::sql::Conn = conn;
    let newest: Option<i64> = c.query_row(
        "SELECT max(version) FROM schema_migrations",
        [0i64; 0],
        |r| r.get(0),
    )?;
    let known = i64::try_from(POSTGRES_MIGRATIONS.len()).unwrap_or(i64::MAX);
    if newest.unwrap_or(0) > known {
        return Err(super::DbError::Schema(format!(
            "the database's schema is version {}, newer than this portal's {known}",
            newest.unwrap_or(0)
        )));
    }
    Ok(())
}

/// The advisory lock the PostgreSQL migrations take ("assent" in ASCII).
const MIGRATION_LOCK: i64 = 0x61_73_73_65_6e_74;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migrations_are_valid() {
        assert!(migrations().validate().is_ok());
    }
}
