//! Browser sessions.

use rusqlite::{OptionalExtension, params};

use super::{Db, DbError, DbResult, to_i64, to_u64};

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
}
