//! Browser sessions.

use super::challenges::{self, ChallengeRow};
use super::events::{self, LogLine};
use super::users::{self, User};
use super::{Conn, Db, DbResult, Dialect, Row, params, stored_names, to_i64, to_u64};

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
    /// Past the second factor, but the help desk required a new password first.
    NewPassword,
}

stored_names!(SessionState {
    Password => "password",
    SignedIn => "signed_in",
    ResetPending => "reset_pending",
    Reset => "reset",
    NewPassword => "new_password",
});

/// Why a session ended before its time: each has its own message for the pages, and ending a
/// session withdraws the request it was waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The user signed out.
    SignedOut,
    /// A step-up request was denied on the device.
    StepUpDenied,
    /// The help desk reset the user's MFA: every session signed in with the removed factors,
    /// and every sign-in under way, ends.
    MfaReset,
    /// The help desk suspended the user.
    Suspended,
    /// Too many wrong TOTP codes locked the account.
    LockedOut,
    /// The password was changed through a reset.
    PasswordChanged,
}

stored_names!(SessionEnd {
    SignedOut => "signed_out",
    StepUpDenied => "step_up_denied",
    MfaReset => "mfa_reset",
    Suspended => "suspended",
    LockedOut => "locked_out",
    PasswordChanged => "password_changed",
});

impl SessionEnd {
    /// What the event log says.
    pub fn detail(self) -> &'static str {
        match self {
            Self::SignedOut => "signed out",
            Self::StepUpDenied => "step-up denied on the device",
            Self::MfaReset => "the help desk reset MFA",
            Self::Suspended => "the help desk suspended the user",
            Self::LockedOut => "too many wrong codes",
            Self::PasswordChanged => "password changed by a reset",
        }
    }

    /// What the pages tell the user whose session this was.
    pub fn message(self) -> &'static str {
        match self {
            Self::SignedOut => "You signed out.",
            Self::StepUpDenied => "Your session ended: the request was denied on your device.",
            Self::MfaReset => {
                "Your session ended: your help desk reset your sign-in methods. Sign in again to set up your device."
            }
            Self::Suspended => {
                "Your session ended: your account is suspended. Contact your help desk."
            }
            Self::LockedOut => {
                "Too many wrong codes: the account is locked for now. Try again later, or ask your help desk to unlock it."
            }
            Self::PasswordChanged => "Your password was changed. Sign in with the new one.",
        }
    }
}

/// Ends the live sessions of `user_id` (only those not yet signed in, with `waiting_only`) and
/// withdraws the requests they were waiting for, so that devices' pending lists and polls stop
/// showing them.
pub(super) fn end_user_sessions(
    tx: &mut dyn Conn,
    user_id: i64,
    why: SessionEnd,
    waiting_only: bool,
) -> DbResult<()> {
    let which = if waiting_only {
        "user_id = ?1 AND ended IS NULL AND state != 'signed_in'"
    } else {
        "user_id = ?1 AND ended IS NULL"
    };
    tx.execute(
        &format!(
            "UPDATE challenges SET status = 'cancelled'
             WHERE status = 'pending' AND session IN (SELECT id FROM sessions WHERE {which})"
        ),
        [user_id],
    )?;
    tx.execute(
        &format!("UPDATE sessions SET ended = ?2 WHERE {which}"),
        params![user_id, why],
    )?;
    Ok(())
}

/// A browser session. The cookie holds a random value; only its hash is stored here.
#[derive(Debug, Clone)]
pub struct Session {
    /// SHA-256 of the cookie value, hex.
    pub id: String,
    /// The user signing in (or signed in).
    pub user_id: i64,
    /// How far the sign-in has come.
    pub state: SessionState,
    /// The anti-CSRF value every form carries.
    pub csrf: String,
    /// The client's address at sign-in.
    pub ip: String,
    /// The client's User-Agent at sign-in.
    pub user_agent: String,
    /// When it expires (Unix seconds); extended once it is signed in.
    pub expires_at: u64,
    /// The challenge this session waits for.
    pub challenge: Option<String>,
    /// The enrollment shown to this session.
    pub enrollment: Option<String>,
    /// When a step-up was last approved.
    pub step_up_at: Option<u64>,
    /// A console session: once signed in, it lives this long after each visit (idle timeout).
    pub idle_seconds: Option<u64>,
}

impl Session {
    /// Whether a form's anti-CSRF value is this session's, compared in constant time so the
    /// comparison tells an attacker nothing about how much of a guess was right.
    pub fn csrf_matches(&self, value: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        bool::from(self.csrf.as_bytes().ct_eq(value.as_bytes()))
    }
}

const SESSION_COLUMNS: &str = "id, user_id, state, csrf, ip, user_agent, expires_at, challenge, \
     enrollment, step_up_at, idle_seconds";

fn session_row(row: &Row) -> DbResult<Session> {
    Ok(Session {
        id: row.get(0)?,
        user_id: row.get(1)?,
        state: row.get(2)?,
        csrf: row.get(3)?,
        ip: row.get(4)?,
        user_agent: row.get(5)?,
        expires_at: to_u64(row.get(6)?),
        challenge: row.get(7)?,
        enrollment: row.get(8)?,
        step_up_at: row.get::<Option<i64>>(9)?.map(to_u64),
        idle_seconds: row.get::<Option<i64>>(10)?.map(to_u64),
    })
}

impl Db {
    // ---- sessions

    /// Stores a new session.
    pub fn create_session(&self, s: &Session, now: u64) -> DbResult<()> {
        self.with(|c| {
            c.execute(
            "INSERT INTO sessions (id, user_id, state, csrf, ip, user_agent, expires_at, challenge,
                 enrollment, step_up_at, created_at, idle_seconds)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                s.id,
                s.user_id,
                s.state,
                s.csrf,
                s.ip,
                s.user_agent,
                to_i64(s.expires_at),
                s.challenge,
                s.enrollment,
                s.step_up_at.map(to_i64),
                to_i64(now),
                s.idle_seconds.map(to_i64),
            ],
        )
        })?;
        Ok(())
    }

    /// A live session by its hashed id.
    pub fn session(&self, id: &str, now: u64) -> DbResult<Option<Session>> {
        self.with(|c| {
            c.query_opt(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions
                     WHERE id = ?1 AND expires_at > ?2 AND ended IS NULL"
                ),
                params![id, to_i64(now)],
                session_row,
            )
        })
    }

    /// Why the session `id` ended, if it ended before its time and has not expired since.
    pub fn session_ending(&self, id: &str, now: u64) -> DbResult<Option<SessionEnd>> {
        self.with(|c| {
            c.query_opt(
                "SELECT ended FROM sessions WHERE id = ?1 AND expires_at > ?2 AND ended IS NOT NULL",
                params![id, to_i64(now)],
                |r| r.get(0),
            )
        })
    }

    /// The live session `id`, its user and the challenge it waits for, read under one lock
    /// (every page asks for the first two, the push pages for the third); for a session that
    /// is gone, why it ended if the portal ended it. A signed-in console session is extended by
    /// its idle time (never past `longest` seconds after it started).
    #[allow(
        clippy::type_complexity,
        reason = "read once, taken apart at once by the caller"
    )]
    pub fn visit(
        &self,
        id: &str,
        now: u64,
        longest: u64,
    ) -> DbResult<Result<(Session, User, Option<ChallengeRow>), Option<SessionEnd>>> {
        self.with(|conn| {
            let mut session = conn.query_opt(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions
                     WHERE id = ?1 AND expires_at > ?2 AND ended IS NULL"
                ),
                params![id, to_i64(now)],
                session_row,
            )?;
            if let Some(s) = &mut session
                && s.state == SessionState::SignedIn
                && s.idle_seconds.is_some()
            {
                let least = match conn.dialect() {
                    Dialect::Sqlite => "min",
                    Dialect::Postgres => "least",
                };
                s.expires_at = conn
                    .query_row(
                        &format!(
                            "UPDATE sessions SET expires_at = {least}(?2 + idle_seconds, created_at + ?3)
                             WHERE id = ?1 RETURNING expires_at"
                        ),
                        params![id, to_i64(now), to_i64(longest)],
                        |r| r.get::<i64>(0),
                    )
                    .map(to_u64)?;
            }
            if let Some(session) = session
                && let Some(user) = users::user_on(conn, session.user_id)?
            {
                let challenge = match &session.challenge {
                    Some(id) => challenges::challenge_on(conn, id)?,
                    None => None,
                };
                return Ok(Ok((session, user, challenge)));
            }
            let ending = conn.query_opt(
                "SELECT ended FROM sessions WHERE id = ?1 AND expires_at > ?2 AND ended IS NOT NULL",
                params![id, to_i64(now)],
                |r| r.get(0),
            )?;
            Ok(Err(ending))
        })
    }

    /// Updates a session's progress, and writes the event that records it (when given) in the
    /// same transaction.
    pub fn update_session(&self, s: &Session, line: Option<&LogLine<'_>>) -> DbResult<()> {
        self.atomic(|tx| {
            tx.execute(
                "UPDATE sessions SET state = ?2, expires_at = ?3, challenge = ?4, enrollment = ?5,
                     step_up_at = ?6
                 WHERE id = ?1",
                params![
                    s.id,
                    s.state,
                    to_i64(s.expires_at),
                    s.challenge,
                    s.enrollment,
                    s.step_up_at.map(to_i64)
                ],
            )?;
            if let Some(line) = line {
                events::insert(tx, line)?;
            }
            Ok(())
        })
    }

    /// Ends a session for `why` and withdraws the request it was waiting for. The row stays
    /// until it would have expired, so the pages can say what ended it.
    pub fn end_session(&self, id: &str, why: SessionEnd) -> DbResult<()> {
        self.atomic(|tx| {
            tx.execute(
                "UPDATE challenges SET status = 'cancelled' WHERE session = ?1 AND status = 'pending'",
                [id],
            )?;
            tx.execute(
                "UPDATE sessions SET ended = ?2 WHERE id = ?1 AND ended IS NULL",
                params![id, why],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::fixtures::{line, login_push, session, user_with_device};
    use crate::db::{ChallengeStatus, EventKind, Outcome};

    /// A user with device `d1` and a session `s1` waiting at the password step until 200.
    fn waiting() -> (Db, i64) {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        db.create_session(&session("s1", id, SessionState::Password, 200), 1)
            .unwrap();
        (db, id)
    }

    /// A session reads back as stored while live; from its expiry on, it is gone.
    #[test]
    fn session_reads_back_only_while_live() {
        let (db, id) = waiting();
        let s = db.session("s1", 100).unwrap().unwrap();
        assert_eq!(
            (s.id.as_str(), s.user_id, s.state),
            ("s1", id, SessionState::Password)
        );
        assert_eq!((s.csrf.as_str(), s.ip.as_str()), ("csrf-s1", "192.0.2.1"));
        assert_eq!((s.user_agent.as_str(), s.expires_at), ("test", 200));
        assert!(s.csrf_matches("csrf-s1") && !s.csrf_matches("csrf-s2"));
        assert_eq!(
            (s.challenge, s.enrollment, s.step_up_at),
            (None, None, None)
        );
        assert!(db.session("s1", 199).unwrap().is_some());
        assert!(db.session("s1", 200).unwrap().is_none());
        assert!(db.session("s2", 100).unwrap().is_none());
    }

    /// An ended session is gone, and says why until it would have expired; the first reason
    /// stays.
    #[test]
    fn an_ended_session_says_why() {
        let (db, _) = waiting();
        assert_eq!(db.session_ending("s1", 100).unwrap(), None);
        db.end_session("s1", SessionEnd::SignedOut).unwrap();
        assert!(db.session("s1", 100).unwrap().is_none());
        assert_eq!(
            db.session_ending("s1", 100).unwrap(),
            Some(SessionEnd::SignedOut)
        );
        db.end_session("s1", SessionEnd::StepUpDenied).unwrap();
        assert_eq!(
            db.session_ending("s1", 100).unwrap(),
            Some(SessionEnd::SignedOut)
        );
        assert_eq!(db.session_ending("s1", 200).unwrap(), None);
        assert_eq!(db.session_ending("s2", 100).unwrap(), None);
    }

    /// A visit reads the live session, its user and the challenge it waits for.
    #[test]
    fn visit_reads_session_user_and_challenge() {
        let (db, id) = waiting();
        let Ok((s, user, none)) = db.visit("s1", 100, 28_800).unwrap() else {
            panic!("the session is live");
        };
        assert_eq!(
            (s.id.as_str(), user.id, user.username.as_str()),
            ("s1", id, "alice")
        );
        assert!(none.is_none());
        login_push(&db, "c1", id, "d1", 100, Some("s1"));
        let Ok((s, _, challenge)) = db.visit("s1", 100, 28_800).unwrap() else {
            panic!("the session is live");
        };
        assert_eq!(s.challenge.as_deref(), Some("c1"));
        assert_eq!(challenge.unwrap().id, "c1");
    }

    /// A visit to an ended session says why; to an unknown or expired one, nothing.
    #[test]
    fn visit_of_a_gone_session_says_why_if_it_was_ended() {
        let (db, id) = waiting();
        db.create_session(&session("s2", id, SessionState::SignedIn, 200), 1)
            .unwrap();
        db.end_session("s2", SessionEnd::PasswordChanged).unwrap();
        assert!(matches!(
            db.visit("s2", 100, 28_800).unwrap(),
            Err(Some(SessionEnd::PasswordChanged))
        ));
        assert!(matches!(db.visit("s2", 200, 28_800).unwrap(), Err(None)));
        assert!(matches!(db.visit("s1", 200, 28_800).unwrap(), Err(None)));
        assert!(matches!(db.visit("nope", 100, 28_800).unwrap(), Err(None)));
    }

    /// A signed-in console session lives its idle time past each visit, never past its longest
    /// life; one not signed in yet, and a user's session, are not extended.
    #[test]
    fn a_console_session_slides_its_expiry_on_each_visit() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "root", "d1");
        let mut console = session("c1", id, SessionState::SignedIn, 900);
        console.idle_seconds = Some(900);
        db.create_session(&console, 0).unwrap();
        let mut waiting = session("c2", id, SessionState::Password, 900);
        waiting.idle_seconds = Some(900);
        db.create_session(&waiting, 0).unwrap();
        db.create_session(&session("u1", id, SessionState::SignedIn, 900), 0)
            .unwrap();
        let expiry = |id: &str, now: u64| match db.visit(id, now, 2000).unwrap() {
            Ok((s, _, _)) => Some(s.expires_at),
            Err(_) => None,
        };
        assert_eq!(expiry("c1", 800), Some(1700));
        assert_eq!(expiry("c1", 1600), Some(2000), "capped at its longest life");
        assert_eq!(expiry("c1", 2000), None);
        assert_eq!(expiry("c2", 800), Some(900), "not signed in: not extended");
        assert_eq!(
            expiry("u1", 800),
            Some(900),
            "a user's session: not extended"
        );
        assert_eq!(expiry("u1", 900), None);
    }

    /// An update stores the progress and, when given, its event; without one, no event.
    #[test]
    fn update_session_stores_progress_and_its_event() {
        let (db, id) = waiting();
        let mut s = db.session("s1", 100).unwrap().unwrap();
        s.state = SessionState::SignedIn;
        s.expires_at = 900;
        s.enrollment = Some("tok".to_owned());
        s.step_up_at = Some(150);
        let signed_in = line(id, EventKind::Session, Outcome::SignedIn, "push");
        db.update_session(&s, Some(&signed_in)).unwrap();
        let stored = db.session("s1", 500).unwrap().unwrap();
        assert_eq!(
            (stored.state, stored.expires_at),
            (SessionState::SignedIn, 900)
        );
        assert_eq!(stored.enrollment.as_deref(), Some("tok"));
        assert_eq!(stored.step_up_at, Some(150));
        let events = db.events(id).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            (events[0].kind, events[0].outcome),
            (EventKind::Session, Outcome::SignedIn)
        );
        assert_eq!(events[0].detail, "push");

        s.step_up_at = None;
        db.update_session(&s, None).unwrap();
        assert_eq!(db.session("s1", 500).unwrap().unwrap().step_up_at, None);
        assert_eq!(db.events(id).unwrap().len(), 1);
    }

    /// Ending a session withdraws the pending push it waits for, and no other session's.
    #[test]
    fn end_session_cancels_the_push_it_waits_for() {
        let (db, id) = waiting();
        db.create_session(&session("s2", id, SessionState::Password, 200), 1)
            .unwrap();
        login_push(&db, "c1", id, "d1", 100, Some("s1"));
        login_push(&db, "c2", id, "d1", 100, Some("s2"));
        db.end_session("s1", SessionEnd::SignedOut).unwrap();
        assert_eq!(
            db.challenge("c1").unwrap().unwrap().status,
            ChallengeStatus::Cancelled
        );
        assert_eq!(
            db.challenge("c2").unwrap().unwrap().status,
            ChallengeStatus::Pending
        );
        assert!(db.session("s2", 100).unwrap().is_some());
    }
}
