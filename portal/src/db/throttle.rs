//! The password throttle: wrong passwords counted per address and per user name.

use rusqlite::params;

use super::{Db, DbResult, to_i64, to_u64};

impl Db {
    // ---- wrong passwords

    /// Counts a password attempt from `ip` for the user-name hash `name` before the password is
    /// checked, so concurrent guesses cannot slip past the limits: unless `ip` already has
    /// `ip_limit`, or `name` `name_limit`, attempts after `since`. Returns the attempt's row
    /// (forgotten again if the password is right), or the time the oldest attempt that blocks
    /// leaves the window. Attempts at or before `since` are forgotten.
    pub fn password_attempt(
        &self,
        ip: &str,
        name: &str,
        now: u64,
        since: u64,
        (ip_limit, name_limit): (u32, u32),
    ) -> DbResult<Result<i64, u64>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM password_failures WHERE at <= ?1",
            [to_i64(since)],
        )?;
        let mut blocked = None;
        for (column, value, limit) in [("ip", ip, ip_limit), ("name", name, name_limit)] {
            let sql = format!(
                "SELECT COUNT(*), MIN(at) FROM password_failures WHERE {column} = ?1 AND at > ?2"
            );
            let (count, oldest): (u32, Option<i64>) =
                tx.query_row(&sql, params![value, to_i64(since)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            if count >= limit {
                let oldest = oldest.map_or(now, to_u64);
                blocked = Some(blocked.map_or(oldest, |b: u64| b.max(oldest)));
            }
        }
        if let Some(oldest) = blocked {
            return Ok(Err(oldest));
        }
        let row = tx.query_row(
            "INSERT INTO password_failures (ip, name, at) VALUES (?1, ?2, ?3) RETURNING rowid",
            params![ip, name, to_i64(now)],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(Ok(row))
    }

    /// Forgets the wrong passwords for the user-name hash `name`, and the attempt `row` if any
    /// (after the right password, or the help desk's unlock). Those counted against the client
    /// addresses stay.
    pub fn clear_password_failures(&self, name: &str, row: Option<i64>) -> DbResult<()> {
        let conn = self.conn();
        conn.execute("DELETE FROM password_failures WHERE rowid = ?1", [row])?;
        // Still counted for their addresses, no longer for the name.
        conn.execute(
            "UPDATE password_failures SET name = '' WHERE name = ?1",
            [name],
        )?;
        Ok(())
    }
}
