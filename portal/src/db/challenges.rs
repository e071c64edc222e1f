//! The challenges the portal sent, and what became of them.

use assent_protocol::{Purpose, UserVerification};

use super::events::{self, LogLine};
use super::{Conn, Db, DbResult, Dialect, Row, named, params, stored_names, to_i64, to_u64};

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
    /// Withdrawn: the relying party that asked gave up (its user pressed Ctrl-C).
    Withdrawn,
}

stored_names!(ChallengeReason {
    NotMe => "not_me",
    Cancelled => "cancelled",
    WrongNumber => "wrong_number",
    Superseded => "superseded",
    TotpUsed => "totp_used",
    Withdrawn => "withdrawn",
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
    /// The relying party that asked for it, if one did (not a browser session).
    pub client: Option<String>,
}

const CHALLENGE_COLUMNS: &str = "id, user_id, device_id, jws, hash, purpose, iat, exp, number, \
     user_verification, status, reason, session, delivery, delivery_detail, client";

fn challenge_row(row: &Row) -> DbResult<ChallengeRow> {
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
        client: row.get(15)?,
    })
}

/// A challenge by id, on a connection the caller holds.
pub(super) fn challenge_on(conn: &mut dyn Conn, id: &str) -> DbResult<Option<ChallengeRow>> {
    conn.query_opt(
        &format!("SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE id = ?1"),
        [id],
        challenge_row,
    )
}

/// What [`Db::insert_challenge_within`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored, with its event.
    Stored,
    /// Nothing stored: the session waiting for it has ended.
    SessionEnded,
    /// Nothing stored: the user's push limit is reached.
    Limited,
}

impl Db {
    // ---- challenges

    /// Stores a sent challenge with its event, and points the browser session waiting for it
    /// (if any) at it: one transaction. `false`, with nothing stored, when that session has
    /// ended meanwhile.
    pub fn insert_challenge(&self, c: &ChallengeRow, line: &LogLine<'_>) -> DbResult<bool> {
        Ok(self.insert_challenge_within(c, line, None)? == Inserted::Stored)
    }

    /// [`Db::insert_challenge`] under the per-user push limit: nothing is stored, and
    /// [`Inserted::Limited`] returned, when the user was already sent `limit` pushes (not
    /// activations) since `since`. The count and the insert are one transaction holding the
    /// user's row, so pushes sent at once, from one portal or several, cannot pass the limit
    /// together.
    pub fn insert_challenge_within(
        &self,
        c: &ChallengeRow,
        line: &LogLine<'_>,
        limit: Option<(u64, u32)>,
    ) -> DbResult<Inserted> {
        self.atomic(|tx| {
            if let Some((since, limit)) = limit {
                if tx.dialect() == Dialect::Postgres {
                    // SQLite's BEGIN IMMEDIATE already runs one writer at a time.
                    tx.query_opt(
                        "SELECT id FROM users WHERE id = ?1 FOR UPDATE",
                        [c.user_id],
                        |r| r.get::<i64>(0),
                    )?;
                }
                let sent: u32 = tx.query_row(
                    "SELECT COUNT(*) FROM challenges WHERE user_id = ?1 AND iat >= ?2 AND purpose != 'activate'",
                    params![c.user_id, to_i64(since)],
                    |r| r.get(0),
                )?;
                if sent >= limit {
                    return Ok(Inserted::Limited);
                }
            }
            if let Some(session) = &c.session {
                let waiting = tx.execute(
                    "UPDATE sessions SET challenge = ?2 WHERE id = ?1 AND ended IS NULL",
                    params![session, c.id],
                )?;
                if waiting == 0 {
                    // The session ended since the page read it: no push for nobody to wait
                    // for (and nothing written).
                    return Ok(Inserted::SessionEnded);
                }
            }
            tx.execute(
                &format!(
                    "INSERT INTO challenges ({CHALLENGE_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
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
                    c.delivery,
                    c.delivery_detail,
                    c.client
                ],
            )?;
            events::insert(tx, line)?;
            Ok(Inserted::Stored)
        })
    }

    /// A challenge by id.
    pub fn challenge(&self, id: &str) -> DbResult<Option<ChallengeRow>> {
        self.with(|c| challenge_on(c, id))
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
        self.settle(id, status, reason, line, None)
    }

    /// [`Db::settle_challenge`] for the device's own answer: the device is recorded as seen
    /// at `now` in the same transaction.
    pub fn answer_challenge(
        &self,
        id: &str,
        status: ChallengeStatus,
        reason: Option<ChallengeReason>,
        line: Option<&LogLine<'_>>,
        (device_id, now): (&str, u64),
    ) -> DbResult<bool> {
        self.settle(id, status, reason, line, Some((device_id, now)))
    }

    fn settle(
        &self,
        id: &str,
        status: ChallengeStatus,
        reason: Option<ChallengeReason>,
        line: Option<&LogLine<'_>>,
        seen: Option<(&str, u64)>,
    ) -> DbResult<bool> {
        self.atomic(|tx| {
            let updated = tx.execute(
                "UPDATE challenges SET status = ?2, reason = ?3 WHERE id = ?1 AND status = 'pending'",
                params![id, status, reason],
            )?;
            if updated != 1 {
                return Ok(false);
            }
            if let Some(line) = line {
                events::insert(tx, line)?;
            }
            if let Some((device_id, now)) = seen {
                super::devices::seen(tx, device_id, now)?;
            }
            Ok(true)
        })
    }

    /// Records the relay's outcome for a challenge's push, with its reason.
    pub fn set_delivery(
        &self,
        id: &str,
        delivery: DeliveryState,
        detail: Option<&str>,
    ) -> DbResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE challenges SET delivery = ?2, delivery_detail = ?3 WHERE id = ?1",
                params![id, delivery, detail],
            )
        })?;
        Ok(())
    }

    /// Marks every pending challenge past its `exp` as expired; returns them (for the event log).
    pub fn expire_challenges(&self, now: u64) -> DbResult<Vec<ChallengeRow>> {
        self.with(|c| {
            c.query_map(
                &format!(
                    "UPDATE challenges SET status = 'expired' WHERE status = 'pending' AND exp < ?1
                     RETURNING {CHALLENGE_COLUMNS}"
                ),
                [to_i64(now)],
                challenge_row,
            )
        })
    }

    /// The device's unanswered, unexpired challenges, oldest first, at most `limit`.
    pub fn pending_for_device(
        &self,
        device_id: &str,
        now: u64,
        limit: usize,
    ) -> DbResult<Vec<String>> {
        self.with(|c| {
            c.query_map(
                "SELECT jws FROM challenges
                 WHERE device_id = ?1 AND status = 'pending' AND exp >= ?2 AND purpose != 'activate'
                 ORDER BY iat, rowid LIMIT ?3",
                params![device_id, to_i64(now), i64::try_from(limit).unwrap_or(16)],
                |r| r.get(0),
            )
        })
    }

    /// The pending, unexpired activation challenge of `device_id`, newest first.
    pub fn pending_activation(&self, device_id: &str, now: u64) -> DbResult<Option<String>> {
        self.with(|c| {
            c.query_opt(
                "SELECT jws FROM challenges
                 WHERE device_id = ?1 AND purpose = 'activate' AND status = 'pending' AND exp >= ?2
                 ORDER BY iat DESC, rowid DESC LIMIT 1",
                params![device_id, to_i64(now)],
                |r| r.get(0),
            )
        })
    }

    /// How many pushes (not activations) the user was sent since `since`.
    pub fn pushes_since(&self, user_id: i64, since: u64) -> DbResult<u32> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM challenges WHERE user_id = ?1 AND iat >= ?2 AND purpose != 'activate'",
                params![user_id, to_i64(since)],
                |r| r.get(0),
            )
        })
    }

    /// The earliest push since `since` (to say when the rate limit lifts).
    pub fn first_push_since(&self, user_id: i64, since: u64) -> DbResult<Option<u64>> {
        Ok(self
            .with(|c| {
                c.query_row(
                    "SELECT MIN(iat) FROM challenges WHERE user_id = ?1 AND iat >= ?2 AND purpose != 'activate'",
                    params![user_id, to_i64(since)],
                    |r| r.get::<Option<i64>>(0),
                )
            })?
            .map(to_u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::fixtures::{challenge, line, login_push, session, user_with_device};
    use crate::db::{EventKind, Outcome, SessionState};

    /// Stores `c` with a "sent" event.
    fn insert(db: &Db, c: &ChallengeRow) {
        let sent = line(c.user_id, EventKind::push(c.purpose), Outcome::Sent, "sent");
        db.insert_challenge(c, &sent).unwrap();
    }

    fn status(db: &Db, id: &str) -> ChallengeStatus {
        db.challenge(id).unwrap().unwrap().status
    }

    /// One call stores the row as given, writes its event, and points the waiting session at it.
    #[test]
    fn insert_challenge_stores_the_row_its_event_and_the_sessions_pointer() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        db.create_session(&session("s1", id, SessionState::Password, 500), 1)
            .unwrap();
        let sent = login_push(&db, "c1", id, "d1", 100, Some("s1"));

        let stored = db.challenge("c1").unwrap().unwrap();
        assert_eq!((stored.user_id, stored.device_id.as_str()), (id, "d1"));
        assert_eq!(
            (stored.jws.as_str(), stored.hash.as_str()),
            ("jws-c1", "hash-c1")
        );
        assert_eq!(
            (stored.purpose, stored.iat, stored.exp),
            (Purpose::Login, 100, 160)
        );
        assert_eq!(stored.number.as_deref(), Some("42"));
        assert_eq!(stored.user_verification, sent.user_verification);
        assert_eq!(
            (stored.status, stored.reason),
            (ChallengeStatus::Pending, None)
        );
        assert_eq!(stored.session.as_deref(), Some("s1"));
        assert_eq!((stored.delivery, stored.delivery_detail), (None, None));

        let events = db.events(id).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            (events[0].kind, events[0].outcome),
            (EventKind::PushLogin, Outcome::Sent)
        );
        let s1 = db.session("s1", 100).unwrap().unwrap();
        assert_eq!(s1.challenge.as_deref(), Some("c1"));
        assert!(db.challenge("c2").unwrap().is_none());
    }

    /// When the event cannot be written (here: no such user), neither the row nor the
    /// session's pointer is kept.
    #[test]
    fn insert_challenge_is_one_transaction() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        db.create_session(&session("s1", id, SessionState::Password, 500), 1)
            .unwrap();
        let c = challenge("c1", id, "d1", Purpose::Login, 100, Some("s1"));
        let orphan = line(id + 100, EventKind::PushLogin, Outcome::Sent, "");
        assert!(db.insert_challenge(&c, &orphan).is_err());
        assert!(db.challenge("c1").unwrap().is_none());
        assert_eq!(db.session("s1", 100).unwrap().unwrap().challenge, None);
        assert!(db.events(id).unwrap().is_empty());
    }

    /// Twelve pushes for one user at once, under a limit of five: five are stored, whichever
    /// connection (or portal) each comes from.
    #[test]
    fn pushes_sent_at_once_do_not_pass_the_limit_together() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        let outcomes: Vec<Inserted> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..12)
                .map(|i| {
                    let db = &db;
                    scope.spawn(move || {
                        let c = challenge(&format!("c{i}"), id, "d1", Purpose::Login, 100, None);
                        let sent = line(id, EventKind::PushLogin, Outcome::Sent, "");
                        db.insert_challenge_within(&c, &sent, Some((50, 5)))
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let stored = outcomes.iter().filter(|o| **o == Inserted::Stored).count();
        assert_eq!(stored, 5, "{outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Inserted::Stored | Inserted::Limited))
        );
        assert_eq!(db.pushes_since(id, 50).unwrap(), 5);
        assert_eq!(
            db.events(id).unwrap().len(),
            5,
            "no event for a refused push"
        );
        // Outside the window the limit no longer counts them.
        let late = challenge("late", id, "d1", Purpose::Login, 400, None);
        let sent = line(id, EventKind::PushLogin, Outcome::Sent, "");
        assert_eq!(
            db.insert_challenge_within(&late, &sent, Some((101, 5)))
                .unwrap(),
            Inserted::Stored
        );
    }

    /// A session that ended after the page read it gets no push: nothing is stored.
    #[test]
    fn insert_challenge_refuses_an_ended_session() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        db.create_session(&session("s1", id, SessionState::SignedIn, 500), 1)
            .unwrap();
        db.end_session("s1", crate::db::SessionEnd::SignedOut)
            .unwrap();
        let c = challenge("c1", id, "d1", Purpose::StepUp, 100, Some("s1"));
        let sent = line(id, EventKind::PushStepUp, Outcome::Sent, "");
        assert!(!db.insert_challenge(&c, &sent).unwrap());
        assert!(db.challenge("c1").unwrap().is_none());
        assert!(db.events(id).unwrap().is_empty());
        assert!(db.pending_for_device("d1", 100, 16).unwrap().is_empty());
    }

    /// Only a pending challenge settles: a second answer is `false` and writes no event.
    #[test]
    fn settle_challenge_settles_a_pending_one_once() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        login_push(&db, "c1", id, "d1", 100, None);
        let denied = line(id, EventKind::PushLogin, Outcome::Suspicious, "not me");
        let reason = Some(ChallengeReason::NotMe);
        assert!(
            db.settle_challenge("c1", ChallengeStatus::Denied, reason, Some(&denied))
                .unwrap()
        );
        let settled = db.challenge("c1").unwrap().unwrap();
        assert_eq!(
            (settled.status, settled.reason),
            (ChallengeStatus::Denied, reason)
        );
        assert_eq!(db.events(id).unwrap().len(), 2);

        let approved = line(id, EventKind::PushLogin, Outcome::Approved, "");
        assert!(
            !db.settle_challenge("c1", ChallengeStatus::Approved, None, Some(&approved))
                .unwrap()
        );
        assert_eq!(status(&db, "c1"), ChallengeStatus::Denied);
        let events = db.events(id).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].outcome, Outcome::Suspicious);
        assert!(
            !db.settle_challenge("nope", ChallengeStatus::Approved, None, None)
                .unwrap()
        );
    }

    /// The relay's outcome is stored with its reason, and replaced by a later one.
    #[test]
    fn set_delivery_stores_the_state_and_detail() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        login_push(&db, "c1", id, "d1", 100, None);
        db.set_delivery("c1", DeliveryState::Rejected, Some("BadDeviceToken"))
            .unwrap();
        let c = db.challenge("c1").unwrap().unwrap();
        assert_eq!(c.delivery, Some(DeliveryState::Rejected));
        assert_eq!(c.delivery_detail.as_deref(), Some("BadDeviceToken"));
        db.set_delivery("c1", DeliveryState::Delivered, None)
            .unwrap();
        let c = db.challenge("c1").unwrap().unwrap();
        assert_eq!(
            (c.delivery, c.delivery_detail),
            (Some(DeliveryState::Delivered), None)
        );
    }

    /// Expiry takes only pending challenges strictly past their `exp`, and returns them.
    #[test]
    fn expire_challenges_takes_only_pending_ones_past_exp() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        login_push(&db, "old", id, "d1", 100, None);
        login_push(&db, "answered", id, "d1", 100, None);
        login_push(&db, "new", id, "d1", 150, None);
        db.settle_challenge("answered", ChallengeStatus::Approved, None, None)
            .unwrap();

        assert!(db.expire_challenges(160).unwrap().is_empty());
        let expired = db.expire_challenges(161).unwrap();
        let ids: Vec<_> = expired.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["old"]);
        assert_eq!(expired[0].status, ChallengeStatus::Expired);
        assert_eq!(status(&db, "old"), ChallengeStatus::Expired);
        assert_eq!(status(&db, "answered"), ChallengeStatus::Approved);
        assert_eq!(status(&db, "new"), ChallengeStatus::Pending);
        assert!(db.expire_challenges(161).unwrap().is_empty());
    }

    /// A device's poll lists its pending, unexpired pushes oldest first, up to the limit:
    /// not activations, not expired or settled ones, not another device's.
    #[test]
    fn pending_for_device_lists_only_unanswered_pushes() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        let bob = user_with_device(&db, "bob", "d2");
        login_push(&db, "second", id, "d1", 101, None);
        login_push(&db, "first", id, "d1", 100, None);
        login_push(&db, "stale", id, "d1", 30, None);
        login_push(&db, "settled", id, "d1", 100, None);
        db.settle_challenge("settled", ChallengeStatus::Denied, None, None)
            .unwrap();
        insert(
            &db,
            &challenge("act", id, "d1", Purpose::Activate, 100, None),
        );
        login_push(&db, "bobs", bob, "d2", 100, None);

        let pending = db.pending_for_device("d1", 100, 16).unwrap();
        assert_eq!(pending, ["jws-first", "jws-second"]);
        assert_eq!(db.pending_for_device("d1", 100, 1).unwrap(), ["jws-first"]);
        assert_eq!(
            db.pending_for_device("d1", 161, 16).unwrap(),
            ["jws-second"]
        );
        assert_eq!(db.pending_for_device("d2", 100, 16).unwrap(), ["jws-bobs"]);
    }

    /// The push rate limit counts every push issued since `since` (whatever became of it), not
    /// activations nor other users' pushes, and names the earliest.
    #[test]
    fn pushes_since_counts_the_users_pushes() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        let bob = user_with_device(&db, "bob", "d2");
        login_push(&db, "before", id, "d1", 90, None);
        login_push(&db, "a", id, "d1", 100, None);
        insert(&db, &challenge("b", id, "d1", Purpose::StepUp, 110, None));
        insert(
            &db,
            &challenge("act", id, "d1", Purpose::Activate, 105, None),
        );
        db.settle_challenge("a", ChallengeStatus::Approved, None, None)
            .unwrap();
        login_push(&db, "bobs", bob, "d2", 95, None);

        assert_eq!(db.pushes_since(id, 100).unwrap(), 2);
        assert_eq!(db.first_push_since(id, 100).unwrap(), Some(100));
        assert_eq!(db.pushes_since(id, 0).unwrap(), 3);
        assert_eq!(db.first_push_since(id, 0).unwrap(), Some(90));
        assert_eq!(db.pushes_since(id, 111).unwrap(), 0);
        assert_eq!(db.first_push_since(id, 111).unwrap(), None);
        assert_eq!(db.first_push_since(bob, 0).unwrap(), Some(95));
    }
}
