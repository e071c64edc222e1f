//! A database made by the portal before it had migrations is brought up to date when opened,
//! with its data kept; and a database from a newer portal is refused, not damaged.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use portal::db::{ChallengeReason, Db, DeliveryState, SessionState};

/// The schema exactly as the portal created it before migrations (`user_version` 0).
const BEFORE_MIGRATIONS: &str = include_str!("fixtures/schema-before-migrations.sql");

fn old_database(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(BEFORE_MIGRATIONS).unwrap();
    // Rows as that code wrote them.
    conn.execute_batch(
        "INSERT INTO users (id, username, password_hash, mfa_required, suspended, failed_totp,
             created_at)
         VALUES (1, 'alice', '$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA', 1, 0, 2, 1796000000);
         INSERT INTO sessions (id, user_id, state, csrf, ip, user_agent, created_at, expires_at)
         VALUES ('s1', 1, 'signed_in', 'csrf', '127.0.0.1', 'Firefox', 1796000000, 1796003600);
         INSERT INTO events (user_id, at, ip, kind, outcome, detail)
         VALUES (1, 1796000000, '127.0.0.1', 'login_password', 'ok', 'password accepted');
         INSERT INTO challenges (id, user_id, device_id, jws, hash, purpose, iat, exp,
             user_verification, status, reason, session, delivery)
         VALUES ('c1', 1, 'd1', 'jws', 'hash', 'login', 1796000000, 1796000060, 'preferred',
                 'pending', NULL, 's1', 'failed: NotConnected'),
                ('c2', 1, 'd1', 'jws', 'hash', 'login', 1796000000, 1796000060, 'preferred',
                 'cancelled', 'signed in with TOTP', 's1', 'no push address: the device polls'),
                ('c3', 1, 'd1', 'jws', 'hash', 'step_up', 1796000000, 1796000060, 'preferred',
                 'approved', NULL, 's1', 'delivered');",
    )
    .unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 0);
}

#[test]
fn a_database_from_before_migrations_is_upgraded_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portal.db");
    old_database(&path);

    let db = Db::open(&path).unwrap();
    let alice = db.user_by_name("alice").unwrap().expect("the user is kept");
    assert_eq!(alice.failed_totp, 2);
    let session = db
        .session("s1", 1_796_000_100)
        .unwrap()
        .expect("the session is kept");
    assert_eq!(session.state, SessionState::SignedIn);
    assert_eq!(db.events(alice.id).unwrap().len(), 1);
    // Version 3: the delivery sentence became a state and its reason; the TOTP sign-in's
    // withdrawal reason a name.
    let failed = db.challenge("c1").unwrap().expect("the challenge is kept");
    assert_eq!(failed.delivery, Some(DeliveryState::Failed));
    assert_eq!(failed.delivery_detail.as_deref(), Some("NotConnected"));
    let polled = db.challenge("c2").unwrap().unwrap();
    assert_eq!(polled.delivery, Some(DeliveryState::DevicePolls));
    assert_eq!(polled.delivery_detail, None);
    assert_eq!(polled.reason, Some(ChallengeReason::TotpUsed));
    let delivered = db.challenge("c3").unwrap().unwrap();
    assert_eq!(delivered.delivery, Some(DeliveryState::Delivered));
    assert_eq!(delivered.delivery_detail, None);
    drop(db);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 6, "every migration applied");
    let ended: Option<String> = conn
        .query_row("SELECT ended FROM sessions WHERE id = 's1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(ended, None, "a live session stays live");
    drop(conn);

    // Opening again changes nothing; the users from before are users (no console role), MFA
    // required, no password change due.
    let db = Db::open(&path).unwrap();
    let alice = db.user_by_name("alice").unwrap().unwrap();
    assert_eq!(alice.role, None);
    assert!(alice.mfa_required && alice.mfa_off_until.is_none() && !alice.must_change_password);
}

#[test]
fn a_database_from_a_newer_portal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portal.db");
    drop(Db::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let err = Db::open(&path).unwrap_err().to_string();
    assert!(err.contains("schema"), "{err}");
}
