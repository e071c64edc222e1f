//! The password throttle: wrong passwords counted per address and per user name.

use super::{Db, DbResult, params, to_i64, to_u64};

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
        self.tx(|tx| {
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
            Ok(Ok(row))
        })
    }

    /// Forgets the wrong passwords for the user-name hash `name`, and the attempt `row` if any
    /// (after the right password, or the help desk's unlock). Those counted against the client
    /// addresses stay.
    pub fn clear_password_failures(&self, name: &str, row: Option<i64>) -> DbResult<()> {
        self.tx(|conn| {
            conn.execute("DELETE FROM password_failures WHERE rowid = ?1", [row])?;
            // Still counted for their addresses, no longer for the name.
            conn.execute(
                "UPDATE password_failures SET name = '' WHERE name = ?1",
                [name],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One attempt at `now` with a 60-second window.
    fn attempt(db: &Db, ip: &str, name: &str, now: u64, limits: (u32, u32)) -> Result<i64, u64> {
        db.password_attempt(ip, name, now, now - 60, limits)
            .unwrap()
    }

    /// An address gets `ip_limit` attempts in the window, whatever the names; then the time of
    /// its oldest attempt; other addresses are not affected; once that attempt leaves the
    /// window, one more is let through.
    #[test]
    fn an_address_is_limited_within_the_window() {
        let db = Db::for_tests().unwrap();
        for (i, now) in (100..103).enumerate() {
            assert!(attempt(&db, "ip-a", &format!("name-{i}"), now, (3, 10)).is_ok());
        }
        assert_eq!(attempt(&db, "ip-a", "name-9", 103, (3, 10)), Err(100));
        assert_eq!(attempt(&db, "ip-a", "name-9", 159, (3, 10)), Err(100));
        assert!(attempt(&db, "ip-b", "name-9", 159, (3, 10)).is_ok());
        // At 160 the attempt at 100 is 60 seconds old: out of the window.
        assert!(attempt(&db, "ip-a", "name-9", 160, (3, 10)).is_ok());
        assert_eq!(attempt(&db, "ip-a", "name-9", 160, (3, 10)), Err(101));
    }

    /// A name gets `name_limit` attempts in the window, from any addresses.
    #[test]
    fn a_name_is_limited_across_addresses() {
        let db = Db::for_tests().unwrap();
        assert!(attempt(&db, "ip-a", "alice", 100, (10, 2)).is_ok());
        assert!(attempt(&db, "ip-b", "alice", 105, (10, 2)).is_ok());
        assert_eq!(attempt(&db, "ip-c", "alice", 110, (10, 2)), Err(100));
        assert!(attempt(&db, "ip-c", "bob", 110, (10, 2)).is_ok());
    }

    /// Blocked by both limits, the answer is the later of the two oldest attempts (both must
    /// have left the window before an attempt is let through).
    #[test]
    fn blocked_twice_the_later_oldest_attempt_counts() {
        let db = Db::for_tests().unwrap();
        for (ip, name, now) in [("ip-a", "x", 100), ("ip-a", "y", 101)] {
            assert!(attempt(&db, ip, name, now, (2, 2)).is_ok());
        }
        for (ip, name, now) in [("ip-b", "z", 102), ("ip-c", "z", 103)] {
            assert!(attempt(&db, ip, name, now, (2, 2)).is_ok());
        }
        assert_eq!(attempt(&db, "ip-a", "z", 110, (2, 2)), Err(102));
    }

    /// Clearing forgets the attempt row and the name's count, but the other wrong passwords
    /// still count against their addresses.
    #[test]
    fn clearing_forgets_the_name_but_not_the_addresses() {
        let db = Db::for_tests().unwrap();
        assert!(attempt(&db, "ip-a", "alice", 100, (10, 2)).is_ok());
        let right = attempt(&db, "ip-b", "alice", 101, (10, 2)).unwrap();
        assert_eq!(attempt(&db, "ip-c", "alice", 102, (10, 2)), Err(100));
        db.clear_password_failures("alice", Some(right)).unwrap();
        // ip-b's right password is forgotten, ip-a's wrong one is not.
        assert!(attempt(&db, "ip-b", "bob", 103, (1, 10)).is_ok());
        assert_eq!(attempt(&db, "ip-a", "bob", 103, (1, 10)), Err(100));
        // The name starts again.
        assert!(attempt(&db, "ip-c", "alice", 104, (10, 2)).is_ok());
        assert!(attempt(&db, "ip-d", "alice", 105, (10, 2)).is_ok());
        assert_eq!(attempt(&db, "ip-e", "alice", 106, (10, 2)), Err(104));
    }
}
