//! The per-user event log.

use rusqlite::params;

use super::{Db, DbResult, to_i64, to_u64};

/// One line of a user's event log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    /// When it happened (Unix seconds, the portal's clock).
    pub at: u64,
    /// The client's address, or `admin` / `cli`.
    pub ip: String,
    /// What happened (`login_password`, `push_login`, `totp`, `mfa_reset`, ...).
    pub kind: String,
    /// How it ended (`ok`, `failed`, `approved`, `denied`, `suspicious`, ...).
    pub outcome: String,
    /// More, for people.
    pub detail: String,
}

impl Db {
    // ---- events

    /// Appends to a user's event log.
    pub fn log(
        &self,
        user_id: i64,
        now: u64,
        ip: &str,
        kind: &str,
        outcome: &str,
        detail: &str,
    ) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO events (user_id, at, ip, kind, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![user_id, to_i64(now), ip, kind, outcome, detail],
        )?;
        Ok(())
    }

    /// A user's events, oldest first.
    pub fn events(&self, user_id: i64) -> DbResult<Vec<Event>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT at, ip, kind, outcome, detail FROM events WHERE user_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([user_id], |r| {
            Ok(Event {
                at: to_u64(r.get(0)?),
                ip: r.get(1)?,
                kind: r.get(2)?,
                outcome: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
