//! Enrollment tokens and registered devices.

use super::{Conn, Db, DbError, DbResult, Row, params, stored_names, to_i64, to_u64};
use assent_protocol::{PublicJwk, PushConfig};

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

stored_names!(DeviceState {
    Pending => "pending",
    Active => "active",
    Retired => "retired",
});

/// A registered device.
#[derive(Debug, Clone)]
pub struct Device {
    /// The device id (signing key thumbprint).
    pub id: String,
    /// The user it approves for.
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
    /// Pending until activated, active, or retired.
    pub state: DeviceState,
}

/// A device as the console shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceRecord {
    /// `ios`, `android` or `desktop`.
    pub platform: String,
    /// The name the user gave it.
    pub name: String,
    /// When it registered (Unix seconds).
    pub enrolled_at: u64,
    /// When a request it signed last reached the portal.
    pub last_seen: Option<u64>,
}

/// Records that `device_id` was heard from at `now`.
pub(super) fn seen(conn: &mut dyn Conn, device_id: &str, now: u64) -> DbResult<()> {
    conn.execute(
        "UPDATE devices SET last_seen = ?2 WHERE id = ?1",
        params![device_id, to_i64(now)],
    )?;
    Ok(())
}

/// An enrollment token issued to a user.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The token (bearer secret until used).
    pub token: String,
    /// The user the token was issued to.
    pub user_id: i64,
    /// The TOTP secret in the same QR; it becomes the user's when the enrollment completes.
    pub totp_secret: Vec<u8>,
    /// The token is refused after this.
    pub expires_at: u64,
    /// A registration used it.
    pub used: bool,
}

const DEVICE_COLUMNS: &str =
    "id, user_id, enrollment, signing_key, encryption_key, platform, name, push, state";

/// A column holding JSON (a key, a push address): one that does not parse is an error.
fn json<T: serde::de::DeserializeOwned>(row: &Row, index: usize) -> DbResult<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| DbError::Column(index, e.to_string()))
}

fn device_row(row: &Row) -> DbResult<Device> {
    let push: Option<String> = row.get(7)?;
    Ok(Device {
        id: row.get(0)?,
        user_id: row.get(1)?,
        enrollment: row.get(2)?,
        signing_key: json(row, 3)?,
        encryption_key: json(row, 4)?,
        platform: row.get(5)?,
        name: row.get(6)?,
        push: match push {
            Some(_) => Some(json(row, 7)?),
            None => None,
        },
        state: row.get(8)?,
    })
}

/// What activating a device did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activation {
    /// The device is the user's now; `replaced` is the device it retired, if any.
    Activated {
        /// The user's previous device.
        replaced: Option<String>,
    },
    /// The device was not pending (retired meanwhile, by a reset or a newer device): nothing
    /// changed.
    NotPending,
}

/// Retires the user's devices other than `keep` (all with `""`), pending ones included, and
/// cancels their pending challenges: from then on they get `unknown_device`.
pub(super) fn retire_devices(tx: &mut dyn Conn, user_id: i64, keep: &str) -> DbResult<()> {
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

/// A key as stored: its JWK JSON. Encoding a JWK of strings cannot fail.
fn jwk_json(jwk: &PublicJwk) -> DbResult<String> {
    serde_json::to_string(jwk).map_err(|_| DbError::Corrupt("device key to store"))
}

/// A push address as stored: its JSON.
fn push_json(push: &PushConfig) -> DbResult<String> {
    serde_json::to_string(push).map_err(|_| DbError::Corrupt("push address to store"))
}

impl Db {
    // ---- enrollments and devices

    /// Stores a new enrollment token.
    pub fn create_enrollment(&self, enrollment: &Enrollment) -> DbResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO enrollments (token, user_id, totp_secret, expires_at, used)
                 VALUES (?1, ?2, ?3, ?4, 0)",
                params![
                    enrollment.token,
                    enrollment.user_id,
                    enrollment.totp_secret,
                    to_i64(enrollment.expires_at)
                ],
            )
        })?;
        Ok(())
    }

    /// An enrollment by token.
    pub fn enrollment(&self, token: &str) -> DbResult<Option<Enrollment>> {
        self.with(|c| {
            c.query_opt(
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
        })
    }

    /// Marks the token used and stores the registering device as pending; `false` when the
    /// token was used meanwhile (two registrations racing).
    pub fn register_device(&self, device: &Device, now: u64) -> DbResult<bool> {
        self.atomic(|tx| {
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
                    jwk_json(&device.signing_key)?,
                    jwk_json(&device.encryption_key)?,
                    device.platform,
                    device.name,
                    device.push.as_ref().map(push_json).transpose()?,
                    to_i64(now),
                ],
            )?;
            Ok(true)
        })
    }

    /// A device by id.
    pub fn device(&self, id: &str) -> DbResult<Option<Device>> {
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"),
                [id],
                device_row,
            )
        })
    }

    /// The device that registered with the enrollment `token`, if it still waits for its
    /// activation (a registration sent again, after its response was lost).
    pub fn pending_device_of(&self, token: &str) -> DbResult<Option<Device>> {
        self.with(|c| {
            c.query_opt(
                &format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices WHERE enrollment = ?1 AND state = 'pending'"
                ),
                [token],
                device_row,
            )
        })
    }

    /// Makes a pending device the user's single device: the previous one is retired and its
    /// pending challenges cancelled, and the enrollment's TOTP secret becomes the user's.
    /// Returns the retired device's id.
    pub fn activate_device(&self, device_id: &str) -> DbResult<Activation> {
        self.tx(|tx| {
            // Read in the same transaction as the change: a device a help-desk reset retired
            // since its answer was checked is not made the user's again.
            let pending: Option<(i64, String)> = tx.query_opt(
                "SELECT user_id, enrollment FROM devices WHERE id = ?1 AND state = 'pending'",
                [device_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let Some((user_id, enrollment)) = pending else {
                return Ok(Activation::NotPending);
            };
            let previous: Option<String> = tx.query_row(
                "SELECT device_id FROM users WHERE id = ?1",
                [user_id],
                |r| r.get(0),
            )?;
            retire_devices(tx, user_id, device_id)?;
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
            Ok(Activation::Activated {
                replaced: previous.filter(|p| p != device_id),
            })
        })
    }

    /// Completes an enrollment by TOTP alone (a third-party app scanned the QR): the secret
    /// becomes the user's, the enrollment is used, and any push device is retired.
    pub fn activate_totp_only(&self, token: &str, user_id: i64, step: u64) -> DbResult<bool> {
        self.tx(|tx| {
            let used = tx.execute(
                "UPDATE enrollments SET used = 1 WHERE token = ?1 AND user_id = ?2 AND used = 0",
                params![token, user_id],
            )?;
            if used != 1 {
                return Ok(false);
            }
            retire_devices(tx, user_id, "")?;
            tx.execute(
                "UPDATE users SET device_id = NULL,
                 totp_secret = (SELECT totp_secret FROM enrollments WHERE token = ?2),
                 totp_last_step = ?3, failed_totp = 0
             WHERE id = ?1",
                params![user_id, token, to_i64(step)],
            )?;
            Ok(true)
        })
    }

    /// A device as the console shows it: platform, name, when it enrolled and when it was last
    /// heard from (a poll, a push address, an answer).
    pub fn device_record(&self, id: &str) -> DbResult<Option<DeviceRecord>> {
        self.with(|c| {
            c.query_opt(
                "SELECT platform, name, created_at, last_seen FROM devices WHERE id = ?1",
                [id],
                |r| {
                    Ok(DeviceRecord {
                        platform: r.get(0)?,
                        name: r.get(1)?,
                        enrolled_at: to_u64(r.get(2)?),
                        last_seen: r.get::<Option<i64>>(3)?.map(to_u64),
                    })
                },
            )
        })
    }

    /// Sets or clears (`None`: the relay reported it dead) a device's push address.
    pub fn set_push(&self, device_id: &str, push: Option<&PushConfig>) -> DbResult<()> {
        let push = push.map(push_json).transpose()?;
        self.with(|c| {
            c.execute(
                "UPDATE devices SET push = ?2 WHERE id = ?1",
                params![device_id, push],
            )
        })?;
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
        self.atomic(|tx| {
            tx.execute("DELETE FROM nonces WHERE expires_at < ?1", [to_i64(now)])?;
            let inserted = tx.execute(
                "INSERT INTO nonces (device_id, nonce, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                params![device_id, nonce, to_i64(expires_at)],
            )?;
            if inserted == 1 {
                seen(tx, device_id, now)?;
            }
            Ok(inserted == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use assent_protocol::Purpose;

    use super::*;
    use crate::db::ChallengeStatus;
    use crate::db::fixtures::{self, challenge, device, line, push, user_with_device};
    use crate::db::{EventKind, Outcome};

    /// An enrollment reads back as stored, unused; an unknown token is `None`.
    #[test]
    fn an_enrollment_reads_back() {
        let db = Db::for_tests().unwrap();
        let id = db.create_user("alice", "hash", 1).unwrap().unwrap();
        fixtures::enrollment(&db, id, "tok", b"seed");
        let e = db.enrollment("tok").unwrap().unwrap();
        assert_eq!((e.token.as_str(), e.user_id), ("tok", id));
        assert_eq!(
            (e.totp_secret.as_slice(), e.expires_at),
            (&b"seed"[..], 10_000)
        );
        assert!(!e.used);
        assert!(db.enrollment("other").unwrap().is_none());
    }

    /// Registering uses the token and stores the device as pending, its keys and push address
    /// as sent; the user has no device until the activation.
    #[test]
    fn register_device_stores_a_pending_device() {
        let db = Db::for_tests().unwrap();
        let id = db.create_user("alice", "hash", 1).unwrap().unwrap();
        fixtures::enrollment(&db, id, "tok", b"seed");
        let sent = device("d1", id, "tok");
        assert!(db.register_device(&sent, 5).unwrap());
        assert!(db.enrollment("tok").unwrap().unwrap().used);
        let stored = db.device("d1").unwrap().unwrap();
        assert_eq!((stored.user_id, stored.enrollment.as_str()), (id, "tok"));
        assert_eq!(stored.signing_key, sent.signing_key);
        assert_eq!(stored.encryption_key, sent.encryption_key);
        assert_eq!(
            (stored.platform.as_str(), stored.name.as_str()),
            ("android", "d1's phone")
        );
        assert_eq!(stored.push, Some(push("token-1")));
        assert_eq!(stored.state, DeviceState::Pending);
        assert_eq!(db.user(id).unwrap().unwrap().device_id, None);
        assert!(db.device("d2").unwrap().is_none());
    }

    /// A token registers one device: a second registration with it (or with an unknown token)
    /// is `false` and stores nothing.
    #[test]
    fn register_device_refuses_a_used_token() {
        let db = Db::for_tests().unwrap();
        let id = db.create_user("alice", "hash", 1).unwrap().unwrap();
        fixtures::enrollment(&db, id, "tok", b"seed");
        assert!(db.register_device(&device("d1", id, "tok"), 5).unwrap());
        assert!(!db.register_device(&device("d2", id, "tok"), 6).unwrap());
        assert!(!db.register_device(&device("d3", id, "nope"), 6).unwrap());
        assert!(db.device("d2").unwrap().is_none());
        assert!(db.device("d3").unwrap().is_none());
    }

    /// The first activation makes the device active and the user's, with the enrollment's TOTP
    /// secret; there was no previous device.
    #[test]
    fn activate_device_makes_it_the_users_device() {
        let db = Db::for_tests().unwrap();
        let id = db.create_user("alice", "hash", 1).unwrap().unwrap();
        fixtures::enrollment(&db, id, "tok", b"seed");
        assert!(db.register_device(&device("d1", id, "tok"), 5).unwrap());
        assert_eq!(
            db.activate_device("d1").unwrap(),
            Activation::Activated { replaced: None }
        );
        assert_eq!(db.device("d1").unwrap().unwrap().state, DeviceState::Active);
        let user = db.user(id).unwrap().unwrap();
        assert_eq!(user.device_id.as_deref(), Some("d1"));
        assert_eq!(user.totp_secret.as_deref(), Some(&b"seed"[..]));
        // An active device is not activated again.
        assert_eq!(db.activate_device("d1").unwrap(), Activation::NotPending);
    }

    /// A device a help-desk reset retired after its answer was checked is not made the user's:
    /// the state is read in the activation's own transaction.
    #[test]
    fn a_device_retired_before_its_activation_stays_retired() {
        let db = Db::for_tests().unwrap();
        let id = db.create_user("alice", "hash", 1).unwrap().unwrap();
        fixtures::enrollment(&db, id, "tok", b"seed");
        assert!(db.register_device(&device("d1", id, "tok"), 5).unwrap());
        db.reset_mfa(id).unwrap();
        assert_eq!(db.activate_device("d1").unwrap(), Activation::NotPending);
        assert_eq!(
            db.device("d1").unwrap().unwrap().state,
            DeviceState::Retired
        );
        let user = db.user(id).unwrap().unwrap();
        assert_eq!((user.device_id, user.totp_secret), (None, None));
        assert_eq!(
            db.activate_device("nobody").unwrap(),
            Activation::NotPending
        );
    }

    /// A newer device returns the previous one's id, which is retired with its pending pushes
    /// cancelled; the new enrollment's secret replaces the old, and the TOTP count restarts.
    #[test]
    fn activate_device_retires_the_previous_one() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        let old_push = challenge("c1", id, "d1", Purpose::Login, 100, None);
        let sent = line(id, EventKind::PushLogin, Outcome::Sent, "");
        db.insert_challenge(&old_push, &sent).unwrap();
        db.totp_attempt(id, 100, (5, 60), |_| None).unwrap();
        fixtures::enrollment(&db, id, "tok2", b"new seed");
        assert!(db.register_device(&device("d2", id, "tok2"), 5).unwrap());

        assert_eq!(
            db.activate_device("d2").unwrap(),
            Activation::Activated {
                replaced: Some("d1".into())
            }
        );
        assert_eq!(
            db.device("d1").unwrap().unwrap().state,
            DeviceState::Retired
        );
        assert_eq!(db.device("d2").unwrap().unwrap().state, DeviceState::Active);
        assert_eq!(
            db.challenge("c1").unwrap().unwrap().status,
            ChallengeStatus::Cancelled
        );
        let user = db.user(id).unwrap().unwrap();
        assert_eq!(user.device_id.as_deref(), Some("d2"));
        assert_eq!(user.totp_secret.as_deref(), Some(&b"new seed"[..]));
        assert_eq!((user.failed_totp, user.totp_last_step), (0, None));
    }

    /// TOTP alone: the secret becomes the user's with the step that proved it, the push device
    /// is retired, and the token works once and only for its user.
    #[test]
    fn activate_totp_only_retires_the_push_device() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        let other = db.create_user("bob", "hash", 1).unwrap().unwrap();
        fixtures::enrollment(&db, id, "tok2", b"app seed");
        assert!(!db.activate_totp_only("tok2", other, 55).unwrap());
        assert!(db.activate_totp_only("tok2", id, 55).unwrap());
        let user = db.user(id).unwrap().unwrap();
        assert_eq!(user.device_id, None);
        assert_eq!(user.totp_secret.as_deref(), Some(&b"app seed"[..]));
        assert_eq!(user.totp_last_step, Some(55));
        assert!(user.enrolled());
        assert_eq!(
            db.device("d1").unwrap().unwrap().state,
            DeviceState::Retired
        );
        assert!(db.enrollment("tok2").unwrap().unwrap().used);
        assert!(!db.activate_totp_only("tok2", id, 56).unwrap());
        assert_eq!(db.user(id).unwrap().unwrap().totp_last_step, Some(55));
    }

    /// A push address can be dropped (the device then polls) and set again.
    #[test]
    fn set_push_clears_and_replaces_the_address() {
        let db = Db::for_tests().unwrap();
        user_with_device(&db, "alice", "d1");
        db.set_push("d1", None).unwrap();
        assert_eq!(db.device("d1").unwrap().unwrap().push, None);
        db.set_push("d1", Some(&push("token-2"))).unwrap();
        assert_eq!(
            db.device("d1").unwrap().unwrap().push,
            Some(push("token-2"))
        );
    }

    /// A nonce is accepted once per device until it expires; after that it is forgotten.
    #[test]
    fn remember_nonce_refuses_a_nonce_seen_before() {
        let db = Db::for_tests().unwrap();
        assert!(db.remember_nonce("d1", "n", 100, 160).unwrap());
        assert!(!db.remember_nonce("d1", "n", 120, 180).unwrap());
        assert!(!db.remember_nonce("d1", "n", 160, 220).unwrap());
        assert!(db.remember_nonce("d2", "n", 120, 180).unwrap());
        assert!(db.remember_nonce("d1", "m", 120, 180).unwrap());
        assert!(db.remember_nonce("d1", "n", 161, 221).unwrap());
    }

    /// A device is seen when a poll's nonce is new and when it answers, not when a replayed
    /// nonce is refused or the portal settles a challenge itself.
    #[test]
    fn a_device_is_seen_by_its_polls_and_answers() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        let seen = |db: &Db| db.device_record("d1").unwrap().unwrap().last_seen;
        assert_eq!(seen(&db), None);
        assert!(db.remember_nonce("d1", "n", 100, 160).unwrap());
        assert_eq!(seen(&db), Some(100));
        assert!(!db.remember_nonce("d1", "n", 120, 180).unwrap());
        assert_eq!(seen(&db), Some(100), "a replay is not a visit");
        fixtures::login_push(&db, "c1", id, "d1", 130, None);
        fixtures::login_push(&db, "c2", id, "d1", 130, None);
        assert!(
            db.settle_challenge("c1", ChallengeStatus::Cancelled, None, None)
                .unwrap()
        );
        assert_eq!(seen(&db), Some(100), "the portal's withdrawal");
        assert!(
            db.answer_challenge("c2", ChallengeStatus::Approved, None, None, ("d1", 140))
                .unwrap()
        );
        assert_eq!(seen(&db), Some(140));
        let record = db.device_record("d1").unwrap().unwrap();
        assert_eq!(
            (record.enrolled_at, record.platform.as_str()),
            (2, "android")
        );
    }
}
