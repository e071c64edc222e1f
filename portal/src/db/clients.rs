//! Relying parties: the servers registered to ask for verifications (docs/portal.md), and the
//! counts their rate limits and the users' MFA-fatigue protection read.

use super::{Db, DbResult, Row, params, stored_names, to_i64, to_u64};

/// How a relying party verifies its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientMode {
    /// A push with number matching: the relying party shows the number (in the terminal).
    #[value(name = "push_number")]
    PushNumber,
    /// A push without a number.
    Push,
    /// TOTP codes only; no push is sent.
    Totp,
}

stored_names!(ClientMode {
    PushNumber => "push_number",
    Push => "push",
    Totp => "totp",
});

impl ClientMode {
    /// Every mode, the console's default first.
    pub const ALL: [ClientMode; 3] = [Self::PushNumber, Self::Push, Self::Totp];

    /// Reads a stored (and form) name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// A registered relying party.
#[derive(Debug, Clone)]
pub struct RpClient {
    /// Its row id.
    pub id: i64,
    /// Its name: the first part of its API key, and what the event log calls it.
    pub name: String,
    /// SHA-256 (hex) of its key's secret part.
    pub key_hash: String,
    /// How it verifies.
    pub mode: ClientMode,
    /// The P-256 public key (base64url uncompressed point) that signs its every request, when
    /// it signs them.
    pub request_key: Option<String>,
    /// When it was registered.
    pub created_at: u64,
}

fn client_row(r: &Row) -> DbResult<RpClient> {
    Ok(RpClient {
        id: r.get(0)?,
        name: r.get(1)?,
        key_hash: r.get(2)?,
        mode: r.get(3)?,
        request_key: r.get(4)?,
        created_at: to_u64(r.get(5)?),
    })
}

impl Db {
    /// Registers a relying party; `Ok(None)` when the name is taken.
    pub fn create_client(
        &self,
        name: &str,
        key_hash: &str,
        (mode, request_key): (ClientMode, Option<&str>),
        now: u64,
    ) -> DbResult<Option<i64>> {
        self.with(|conn| {
            conn.query_opt(
                "INSERT INTO rp_clients (name, key_hash, mode, request_key, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(name) DO NOTHING RETURNING id",
                params![name, key_hash, mode, request_key, to_i64(now)],
                |r| r.get(0),
            )
        })
    }

    /// A relying party by name.
    pub fn client(&self, name: &str) -> DbResult<Option<RpClient>> {
        self.with(|c| {
            c.query_opt(
                "SELECT id, name, key_hash, mode, request_key, created_at FROM rp_clients WHERE name = ?1",
                [name],
                client_row,
            )
        })
    }

    /// Every relying party, by name.
    pub fn clients(&self) -> DbResult<Vec<RpClient>> {
        self.with(|c| {
            c.query_map(
                "SELECT id, name, key_hash, mode, request_key, created_at FROM rp_clients ORDER BY name",
                params![],
                client_row,
            )
        })
    }

    /// Removes a relying party (its key stops working at once); `false` if there was none.
    pub fn delete_client(&self, name: &str) -> DbResult<bool> {
        self.with(|c| Ok(c.execute("DELETE FROM rp_clients WHERE name = ?1", [name])? == 1))
    }

    /// Pushes the relying party `name` asked for since `since`.
    pub fn client_pushes_since(&self, name: &str, since: u64) -> DbResult<u64> {
        let count: i64 = self.with(|c| {
            c.query_row(
                "SELECT count(*) FROM challenges WHERE client = ?1 AND iat >= ?2",
                params![name, to_i64(since)],
                |r| r.get(0),
            )
        })?;
        Ok(to_u64(count))
    }

    /// The user's sign-in pushes since `since` that nobody approved: denied, expired
    /// unanswered, or used up by a wrong number (MFA fatigue: someone keeps trying).
    pub fn unwelcome_pushes_since(&self, user_id: i64, since: u64) -> DbResult<u64> {
        let count: i64 = self.with(|c| {
            c.query_row(
                "SELECT count(*) FROM challenges WHERE user_id = ?1 AND iat >= ?2
                 AND purpose = 'login' AND status IN ('denied', 'expired', 'failed')",
                params![user_id, to_i64(since)],
                |r| r.get(0),
            )
        })?;
        Ok(to_u64(count))
    }
}
