//! Enrollment tokens and registered devices.

use assent_protocol::{PublicJwk, PushConfig};
use rusqlite::{OptionalExtension, params};

use super::{Db, DbError, DbResult, stored_names, to_i64, to_u64};

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
fn json<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn device_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
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

/// Retires the user's devices other than `keep` (all with `""`), pending ones included, and
/// cancels their pending challenges: from then on they get `unknown_device`.
pub(super) fn retire_devices(
    tx: &rusqlite::Transaction<'_>,
    user_id: i64,
    keep: &str,
) -> DbResult<()> {
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
                jwk_json(&device.signing_key)?,
                jwk_json(&device.encryption_key)?,
                device.platform,
                device.name,
                device.push.as_ref().map(push_json).transpose()?,
                to_i64(now),
            ],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// A device by id.
    pub fn device(&self, id: &str) -> DbResult<Option<Device>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"),
                [id],
                device_row,
            )
            .optional()?)
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
            params![device_id, push.map(push_json).transpose()?],
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
}
