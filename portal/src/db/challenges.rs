//! The challenges the portal sent, and what became of them.

use rusqlite::{OptionalExtension, params};

use super::{Db, DbError, DbResult, to_i64, to_u64};

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
}
