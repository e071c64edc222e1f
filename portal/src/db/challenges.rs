//! The challenges the portal sent, and what became of them.

use rusqlite::{OptionalExtension, params};

use assent_protocol::{Purpose, UserVerification};

use super::events::{self, LogLine};
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

/// Why a challenge was denied, failed or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeReason {
    /// Denied: the user says the request was not theirs.
    NotMe,
    /// Denied: the user cancelled it on the device.
    Cancelled,
    /// Failed: the number typed on the device was wrong.
    WrongNumber,
    /// Withdrawn: the browser asked for a new push ("send again").
    Superseded,
    /// Withdrawn: the user signed in with a TOTP code instead.
    TotpUsed,
}

stored_names!(ChallengeReason {
    NotMe => "not_me",
    Cancelled => "cancelled",
    WrongNumber => "wrong_number",
    Superseded => "superseded",
    TotpUsed => "totp_used",
});

/// What the relay made of a challenge's push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Handed to APNs or FCM, or written to the device's stream.
    Delivered,
    /// The push token is dead; the device was told to poll (its token dropped).
    Unregistered,
    /// The provider refused this push.
    Rejected,
    /// Not delivered after the relay's retries, or the relay could not be reached.
    Failed,
    /// No push address: nothing was sent, the device finds the challenge by polling.
    DevicePolls,
}

stored_names!(DeliveryState {
    Delivered => "delivered",
    Unregistered => "unregistered",
    Rejected => "rejected",
    Failed => "failed",
    DevicePolls => "device_polls",
});

impl DeliveryState {
    /// Whether the device did not get the push (so the waiting page says so).
    pub fn missed(self) -> bool {
        matches!(self, Self::Unregistered | Self::Rejected | Self::Failed)
    }
}

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
    /// Why it was denied, failed or withdrawn, when the portal knows.
    pub reason: Option<ChallengeReason>,
    /// The browser session waiting for it, if any.
    pub session: Option<String>,
    /// The relay's outcome for the push (none yet while it is on its way).
    pub delivery: Option<DeliveryState>,
    /// The relay's or provider's reason, beside a delivery that did not happen.
    pub delivery_detail: Option<String>,
}

const CHALLENGE_COLUMNS: &str = "id, user_id, device_id, jws, hash, purpose, iat, exp, number, \
     user_verification, status, reason, session, delivery, delivery_detail";

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
        delivery_detail: row.get(14)?,
    })
}

/// A challenge by id, on a connection the caller holds.
pub(super) fn challenge_on(
    conn: &rusqlite::Connection,
    id: &str,
) -> DbResult<Option<ChallengeRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE id = ?1"
        ))?
        .query_row([id], challenge_row)
        .optional()?)
}

impl Db {
    // ---- challenges

    /// Stores a sent challenge with its event, and points the browser session waiting for it
    /// (if any) at it: one transaction.
    pub fn insert_challenge(&self, c: &ChallengeRow, line: &LogLine<'_>) -> DbResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.prepare_cached(&format!(
            "INSERT INTO challenges ({CHALLENGE_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ))?
        .execute(params![
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
            c.delivery,
            c.delivery_detail
        ])?;
        if let Some(session) = &c.session {
            tx.prepare_cached("UPDATE sessions SET challenge = ?2 WHERE id = ?1")?
                .execute(params![session, c.id])?;
        }
        events::insert(&tx, line)?;
        tx.commit()?;
        Ok(())
    }

    /// A challenge by id.
    pub fn challenge(&self, id: &str) -> DbResult<Option<ChallengeRow>> {
        challenge_on(&self.conn(), id)
    }

    /// Settles a pending challenge and writes its event (when given), in one transaction;
    /// `false`, with nothing written, if it was no longer pending (a racing answer).
    pub fn settle_challenge(
        &self,
        id: &str,
        status: ChallengeStatus,
        reason: Option<ChallengeReason>,
        line: Option<&LogLine<'_>>,
    ) -> DbResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let updated = tx
            .prepare_cached(
                "UPDATE challenges SET status = ?2, reason = ?3 WHERE id = ?1 AND status = 'pending'",
            )?
            .execute(params![id, status, reason])?;
        if updated != 1 {
            return Ok(false);
        }
        if let Some(line) = line {
            events::insert(&tx, line)?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Records the relay's outcome for a challenge's push, with its reason.
    pub fn set_delivery(
        &self,
        id: &str,
        delivery: DeliveryState,
        detail: Option<&str>,
    ) -> DbResult<()> {
        self.conn()
            .prepare_cached(
                "UPDATE challenges SET delivery = ?2, delivery_detail = ?3 WHERE id = ?1",
            )?
            .execute(params![id, delivery, detail])?;
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
