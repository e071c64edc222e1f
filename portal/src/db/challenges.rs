//! The challenges the portal sent, and what became of them.

use rusqlite::{OptionalExtension, params};

use assent_protocol::{Purpose, UserVerification};

use super::{Db, DbResult, named, stored_names, to_i64, to_u64};

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

stored_names!(ChallengeStatus {
    Pending => "pending",
    Approved => "approved",
    Denied => "denied",
    Failed => "failed",
    Expired => "expired",
    Cancelled => "cancelled",
});

/// A challenge the portal sent.
#[derive(Debug, Clone)]
pub struct ChallengeRow {
    /// The challenge id the device answers with.
    pub id: String,
    /// The user it asks.
    pub user_id: i64,
    /// To which device.
    pub device_id: String,
    /// The exact JWS sent (and returned by polls).
    pub jws: String,
    /// SHA-256 of the JWS, base64url.
    pub hash: String,
    /// Why the portal asks.
    pub purpose: Purpose,
    /// When it was issued (Unix seconds).
    pub iat: u64,
    /// Expires at (`iat + 60`).
    pub exp: u64,
    /// The number shown on the page, with number matching.
    pub number: Option<String>,
    /// Whether the device must verify its user before approving.
    pub user_verification: UserVerification,
    /// What became of it.
    pub status: ChallengeStatus,
    /// `not_me` / `cancelled` for a deny; the error for a failure.
    pub reason: Option<String>,
    /// The browser session waiting for it, if any.
    pub session: Option<String>,
    /// The relay's outcome for the push.
    pub delivery: Option<String>,
}

const CHALLENGE_COLUMNS: &str = "id, user_id, device_id, jws, hash, purpose, iat, exp, number, \
     user_verification, status, reason, session, delivery";

fn challenge_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ChallengeRow> {
    Ok(ChallengeRow {
        id: row.get(0)?,
        user_id: row.get(1)?,
        device_id: row.get(2)?,
        jws: row.get(3)?,
        hash: row.get(4)?,
        purpose: named(row, 5)?,
        iat: to_u64(row.get(6)?),
        exp: to_u64(row.get(7)?),
        number: row.get(8)?,
        user_verification: named(row, 9)?,
        status: row.get(10)?,
        reason: row.get(11)?,
        session: row.get(12)?,
        delivery: row.get(13)?,
    })
}

impl Db {
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
                c.purpose.as_str(),
                to_i64(c.iat),
                to_i64(c.exp),
                c.number,
                c.user_verification.as_str(),
                c.status,
                c.reason,
                c.session,
                c.delivery
            ],
        )?;
        Ok(())
    }

    /// A challenge by id.
    pub fn challenge(&self, id: &str) -> DbResult<Option<ChallengeRow>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE id = ?1"),
                [id],
                challenge_row,
            )
            .optional()?)
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
            params![id, status, reason],
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
        Ok(rows.collect::<Result<_, _>>()?)
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
}
