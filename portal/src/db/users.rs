//! Users: accounts, their second factors and the TOTP lockout.

use super::devices::retire_devices;
use super::sessions::{SessionEnd, end_user_sessions};
use super::sql::Value;
use super::{Conn, Db, DbResult, Row, params, stored_names, to_i64, to_u64};

/// A console account's role: what its holder may do in the help-desk console and its API.
/// People who only sign in to the portal's applications have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Everything, managing admins and requiring MFA for them included.
    Administrator,
    /// The help-desk actions on users, and viewing.
    #[value(name = "help_desk")]
    HelpDesk,
    /// Viewing only.
    #[value(name = "read_only")]
    ReadOnly,
}

stored_names!(Role {
    Administrator => "administrator",
    HelpDesk => "help_desk",
    ReadOnly => "read_only",
});

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 3] = [Self::Administrator, Self::HelpDesk, Self::ReadOnly];

    /// Reads a stored (and API) name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// What the console calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Administrator => "Administrator",
            Self::HelpDesk => "Help desk",
            Self::ReadOnly => "Read-only",
        }
    }
}

/// A user account.
#[derive(Debug, Clone)]
pub struct User {
    /// The user's row id, which other tables refer to.
    pub id: i64,
    /// The login name.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Whether a second factor is required at login (an admin may lift it for a while).
    pub mfa_required: bool,
    /// A suspended user cannot sign in at all.
    pub suspended: bool,
    /// Wrong TOTP codes since the last success or unlock.
    pub failed_totp: u32,
    /// Locked out of TOTP (and so of login) until this time.
    pub locked_until: Option<u64>,
    /// The active TOTP secret, set at enrollment.
    pub totp_secret: Option<Vec<u8>>,
    /// The last TOTP time step accepted (a code is good once).
    pub totp_last_step: Option<u64>,
    /// The user's single push device.
    pub device_id: Option<String>,
    /// A console account's role; `None` for the people who sign in to applications.
    pub role: Option<Role>,
    /// The next sign-in must choose a new password before it is signed in.
    pub must_change_password: bool,
    /// The help desk removed the MFA requirement until this time (it comes back by itself).
    pub mfa_off_until: Option<u64>,
    /// When the account was created (Unix seconds).
    pub created_at: u64,
}

impl User {
    /// Whether the user has any second factor.
    pub fn enrolled(&self) -> bool {
        self.device_id.is_some() || self.totp_secret.is_some()
    }

    /// Whether the lockout applies at `now`.
    pub fn locked(&self, now: u64) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// Whether a sign-in at `now` needs a second factor: always, unless the help desk removed
    /// the requirement and the removal has not run out.
    pub fn mfa_needed(&self, now: u64) -> bool {
        self.mfa_required || self.mfa_off_until.is_some_and(|until| now >= until)
    }
}

/// Which accounts a search of the console looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accounts {
    /// The people who sign in to applications (no role).
    Users,
    /// Console accounts.
    Admins,
}

/// A state the console filters accounts by (the dashboard's counts link to each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Locked out after too many wrong codes.
    Locked,
    /// Suspended by the help desk.
    Suspended,
    /// MFA requirement removed by the help desk.
    MfaRemoved,
    /// No push device enrolled.
    NoDevice,
}

stored_names!(UserStatus {
    Locked => "locked",
    Suspended => "suspended",
    MfaRemoved => "mfa_removed",
    NoDevice => "no_device",
});

impl UserStatus {
    /// Every status, in the dashboard's order.
    pub const ALL: [UserStatus; 4] = [
        Self::Locked,
        Self::Suspended,
        Self::MfaRemoved,
        Self::NoDevice,
    ];

    /// Reads a query-string value.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The SQL condition (the lock's takes now as its parameter).
    fn condition(self) -> &'static str {
        match self {
            Self::Locked => "locked_until > ?",
            Self::Suspended => "suspended = 1",
            Self::MfaRemoved => "mfa_required = 0",
            Self::NoDevice => "device_id IS NULL",
        }
    }
}

/// A console search: which accounts, a part of the name, a status, and the page.
#[derive(Debug, Clone)]
pub struct UserQuery<'a> {
    /// Users or console accounts.
    pub accounts: Accounts,
    /// Part of the user name (any case); empty for all.
    pub name: &'a str,
    /// Only accounts in this state.
    pub status: Option<UserStatus>,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u64,
}

/// The dashboard's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Users locked out now.
    pub locked: u64,
    /// Users suspended.
    pub suspended: u64,
    /// Users whose MFA requirement is removed.
    pub mfa_removed: u64,
    /// Users without a push device.
    pub no_device: u64,
    /// Console accounts whose MFA requirement is removed.
    pub admins_without_mfa: u64,
}

/// Escapes `%`, `_` and `\\` for a `LIKE … ESCAPE '\\'` pattern.
fn like_pattern(part: &str) -> String {
    let mut out = String::from("%");
    for c in part.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// What one TOTP attempt came to (see [`Db::totp_attempt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpAttempt {
    /// The account is locked until this time: the code was not looked at.
    Locked {
        /// When the lock ends (Unix seconds).
        until: u64,
    },
    /// The user has no TOTP secret (or no longer exists).
    NotEnrolled,
    /// A right code for a step not used before; the count of wrong codes is cleared.
    Accepted,
    /// A wrong or reused code, the `count`th in a row; `locked_until` is set when it reached
    /// the limit and locked the account.
    Wrong {
        /// Wrong codes in a row, this one included.
        count: u32,
        /// When the lock this attempt set ends, if it set one.
        locked_until: Option<u64>,
    },
}

const USER_COLUMNS: &str = "id, username, password_hash, mfa_required, suspended, failed_totp, \
     locked_until, totp_secret, totp_last_step, device_id, role, must_change_password, \
     mfa_off_until, created_at";

fn user_row(row: &Row) -> DbResult<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        password_hash: row.get(2)?,
        mfa_required: row.get(3)?,
        suspended: row.get(4)?,
        failed_totp: row.get(5)?,
        locked_until: row.get::<Option<i64>>(6)?.map(to_u64),
        totp_secret: row.get(7)?,
        totp_last_step: row.get::<Option<i64>>(8)?.map(to_u64),
        device_id: row.get(9)?,
        role: row.get(10)?,
        must_change_password: row.get(11)?,
        mfa_off_until: row.get::<Option<i64>>(12)?.map(to_u64),
        created_at: to_u64(row.get(13)?),
    })
}

/// A user by id, on a connection the caller holds.
pub(super) fn user_on(conn: &mut dyn Conn, id: i64) -> DbResult<Option<User>> {
    conn.query_opt(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
        [id],
        user_row,
    )
}

impl Db {
    // ---- users

    /// Creates a user; `Ok(None)` when the name is taken.
    pub fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        now: u64,
    ) -> DbResult<Option<i64>> {
        self.with(|c| {
            c.query_opt(
                "INSERT INTO users (username, password_hash, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(username) DO NOTHING RETURNING id",
                params![username, password_hash, to_i64(now)],
                |r| r.get(0),
            )
        })
    }

    /// A user by name.
    pub fn user_by_name(&self, username: &str) -> DbResult<Option<User>> {
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"),
                [username],
                user_row,
            )
        })
    }

    /// A user by id.
    pub fn user(&self, id: i64) -> DbResult<Option<User>> {
        self.with(|c| user_on(c, id))
    }

    /// Every user, by name.
    pub fn users(&self) -> DbResult<Vec<User>> {
        self.with(|c| {
            c.query_map(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"),
                params![],
                user_row,
            )
        })
    }

    /// Creates a console account with `role`, MFA required; `Ok(None)` when the name is taken.
    pub fn create_admin(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        now: u64,
    ) -> DbResult<Option<i64>> {
        self.with(|c| {
            c.query_opt(
                "INSERT INTO users (username, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(username) DO NOTHING RETURNING id",
                params![username, password_hash, role, to_i64(now)],
                |r| r.get(0),
            )
        })
    }

    /// Changes a console account's role.
    pub fn set_role(&self, user_id: i64, role: Role) -> DbResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE users SET role = ?2 WHERE id = ?1 AND role IS NOT NULL",
                params![user_id, role],
            )
        })?;
        Ok(())
    }

    /// One page of a console search, by name, and how many accounts match in all.
    pub fn find_users(&self, q: &UserQuery<'_>, now: u64) -> DbResult<(Vec<User>, u64)> {
        let mut conditions = vec![match q.accounts {
            Accounts::Users => "role IS NULL",
            Accounts::Admins => "role IS NOT NULL",
        }];
        let mut values: Vec<Value> = Vec::new();
        if !q.name.is_empty() {
            conditions.push("lower(username) LIKE ? ESCAPE '\\'");
            values.push(Value::Text(like_pattern(&q.name.to_lowercase())));
        }
        if let Some(status) = q.status {
            conditions.push(status.condition());
            if status == UserStatus::Locked {
                values.push(Value::Int(to_i64(now)));
            }
        }
        let filter = conditions.join(" AND ");
        self.with(|conn| {
            let mut values = values.clone();
            let total: i64 = conn.query_row(
                &format!("SELECT count(*) FROM users WHERE {filter}"),
                values.clone(),
                |r| r.get(0),
            )?;
            values.push(Value::Int(to_i64(q.limit)));
            values.push(Value::Int(to_i64(q.offset)));
            let users = conn.query_map(
            &format!(
                "SELECT {USER_COLUMNS} FROM users WHERE {filter} ORDER BY username LIMIT ? OFFSET ?"
            ),
            values,
            user_row,
        )?;
            Ok((users, to_u64(total)))
        })
    }

    /// The dashboard's counts at `now`.
    pub fn counts(&self, now: u64) -> DbResult<Counts> {
        self.with(|c| {
            c.query_row(
                "SELECT
                 count(*) FILTER (WHERE role IS NULL AND locked_until > ?1),
                 count(*) FILTER (WHERE role IS NULL AND suspended = 1),
                 count(*) FILTER (WHERE role IS NULL AND mfa_required = 0),
                 count(*) FILTER (WHERE role IS NULL AND device_id IS NULL),
                 count(*) FILTER (WHERE role IS NOT NULL AND mfa_required = 0)
             FROM users",
                [to_i64(now)],
                |r| {
                    Ok(Counts {
                        locked: to_u64(r.get(0)?),
                        suspended: to_u64(r.get(1)?),
                        mfa_removed: to_u64(r.get(2)?),
                        no_device: to_u64(r.get(3)?),
                        admins_without_mfa: to_u64(r.get(4)?),
                    })
                },
            )
        })
    }

    /// Replaces the password hash; a password change the help desk required is done by it.
    pub fn set_password(&self, user_id: i64, password_hash: &str) -> DbResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE users SET password_hash = ?2, must_change_password = 0 WHERE id = ?1",
                params![user_id, password_hash],
            )
        })?;
        Ok(())
    }

    /// Requires MFA again (`off_until` `None`), or removes the requirement until `off_until`.
    pub fn set_mfa_required(&self, user_id: i64, off_until: Option<u64>) -> DbResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE users SET mfa_required = ?2, mfa_off_until = ?3 WHERE id = ?1",
                params![user_id, off_until.is_none(), off_until.map(to_i64)],
            )
        })?;
        Ok(())
    }

    /// Requires MFA again wherever a removal has run out by `now`; returns those users.
    pub fn restore_due_mfa(&self, now: u64) -> DbResult<Vec<i64>> {
        self.with(|c| {
            c.query_map(
                "UPDATE users SET mfa_required = 1, mfa_off_until = NULL
                 WHERE mfa_required = 0 AND mfa_off_until <= ?1 RETURNING id",
                [to_i64(now)],
                |r| r.get(0),
            )
        })
    }

    /// Requires MFA for every console account without it; returns them.
    pub fn require_mfa_for_admins(&self) -> DbResult<Vec<i64>> {
        self.with(|c| {
            c.query_map(
                "UPDATE users SET mfa_required = 1, mfa_off_until = NULL
                 WHERE role IS NOT NULL AND mfa_required = 0 RETURNING id",
                params![],
                |r| r.get(0),
            )
        })
    }

    /// Requires (or no longer requires) a new password at the next sign-in.
    pub fn set_must_change_password(&self, user_id: i64, must: bool) -> DbResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE users SET must_change_password = ?2 WHERE id = ?1",
                params![user_id, must],
            )
        })?;
        Ok(())
    }

    /// Suspends or restores; suspending also ends the user's sessions.
    pub fn set_suspended(&self, user_id: i64, suspended: bool) -> DbResult<()> {
        self.tx(|tx| {
            tx.execute(
                "UPDATE users SET suspended = ?2 WHERE id = ?1",
                params![user_id, suspended],
            )?;
            if suspended {
                end_user_sessions(tx, user_id, SessionEnd::Suspended, false)?;
            }
            Ok(())
        })
    }

    /// Decides one TOTP attempt in a single immediate transaction, so concurrent attempts cannot
    /// race the lockout: the lock is read from the database, not from a copy the caller holds;
    /// the attempt is counted before `matching` looks at the code; a right code is refused while
    /// the account is locked. `matching` returns the time step whose code was typed, if any; a
    /// step at or before the last one accepted counts as wrong, so a code works once. Reaching
    /// `max` wrong codes in a row locks until `now + lock_seconds`; a lock that has run out
    /// starts the count again.
    pub fn totp_attempt(
        &self,
        user_id: i64,
        now: u64,
        (max, lock_seconds): (u32, u64),
        matching: impl Fn(&[u8]) -> Option<u64>,
    ) -> DbResult<TotpAttempt> {
        self.tx(|tx| {
            let Some((failed, locked_until, secret, last_step)) = tx.query_opt(
                "SELECT failed_totp, locked_until, totp_secret, totp_last_step FROM users
                 WHERE id = ?1",
                [user_id],
                |r| {
                    Ok((
                        r.get::<u32>(0)?,
                        r.get::<Option<i64>>(1)?.map(to_u64),
                        r.get::<Option<Vec<u8>>>(2)?,
                        r.get::<Option<i64>>(3)?.map(to_u64),
                    ))
                },
            )?
            else {
                return Ok(TotpAttempt::NotEnrolled);
            };
            if let Some(until) = locked_until.filter(|&until| now < until) {
                return Ok(TotpAttempt::Locked { until });
            }
            let Some(secret) = secret else {
                return Ok(TotpAttempt::NotEnrolled);
            };
            let secret = zeroize::Zeroizing::new(secret);
            // A lock that has run out leaves a fresh count behind it.
            let count = if locked_until.is_some() {
                1
            } else {
                failed + 1
            };
            let accepted =
                matching(&secret).filter(|&step| last_step.is_none_or(|last| step > last));
            let outcome = match accepted {
                Some(step) => {
                    tx.execute(
                        "UPDATE users SET totp_last_step = ?2, failed_totp = 0, locked_until = NULL
                     WHERE id = ?1",
                        params![user_id, to_i64(step)],
                    )?;
                    TotpAttempt::Accepted
                }
                None => {
                    let lock = (count >= max).then(|| now + lock_seconds);
                    tx.execute(
                        "UPDATE users SET failed_totp = ?2, locked_until = ?3 WHERE id = ?1",
                        params![user_id, count, lock.map(to_i64)],
                    )?;
                    if lock.is_some() {
                        // The lock ends every sign-in under way, and withdraws their push requests.
                        end_user_sessions(tx, user_id, SessionEnd::LockedOut, true)?;
                    }
                    TotpAttempt::Wrong {
                        count,
                        locked_until: lock,
                    }
                }
            };
            Ok(outcome)
        })
    }

    /// Clears the failure count and any lockout.
    pub fn unlock(&self, user_id: i64) -> DbResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE users SET failed_totp = 0, locked_until = NULL WHERE id = ?1",
                [user_id],
            )
        })?;
        Ok(())
    }

    /// Removes both factors: the device is retired, its pending challenges cancelled, the TOTP
    /// secret and unused enrollments dropped. The user enrolls again at the next login.
    pub fn reset_mfa(&self, user_id: i64) -> DbResult<()> {
        self.tx(|tx| {
            retire_devices(tx, user_id, "")?;
            tx.execute("DELETE FROM enrollments WHERE user_id = ?1", [user_id])?;
            tx.execute(
                "UPDATE users SET device_id = NULL, totp_secret = NULL, totp_last_step = NULL,
                 failed_totp = 0, locked_until = NULL
             WHERE id = ?1",
                [user_id],
            )?;
            // A reset usually means a lost phone: every session signed in with its factors ends,
            // not only the sign-ins under way.
            end_user_sessions(tx, user_id, SessionEnd::MfaReset, false)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::db::fixtures::{self, login_push, session, user_with_device};
    use crate::db::{ChallengeStatus, DeviceState, SessionState};

    const LIMITS: (u32, u64) = (3, 300);

    /// A user enrolled by TOTP alone, the secret `b"totp"`, its last step accepted 100.
    fn totp_user(db: &Db, name: &str) -> i64 {
        let id = db.create_user(name, "hash", 1).unwrap().unwrap();
        fixtures::enrollment(db, id, &format!("t-{name}"), b"totp");
        assert!(
            db.activate_totp_only(&format!("t-{name}"), id, 100)
                .unwrap()
        );
        id
    }

    /// Types a wrong code at `now`.
    fn wrong(db: &Db, id: i64, now: u64) -> TotpAttempt {
        db.totp_attempt(id, now, LIMITS, |_| None).unwrap()
    }

    /// A name is taken once: the second create is `Ok(None)` and leaves the first user as it was.
    #[test]
    fn create_user_refuses_a_taken_name() {
        let db = Db::for_tests().unwrap();
        let id = db.create_user("alice", "hash-1", 1).unwrap().unwrap();
        assert_eq!(db.create_user("alice", "hash-2", 2).unwrap(), None);
        assert_eq!(
            db.user_by_name("alice").unwrap().unwrap().password_hash,
            "hash-1"
        );
        assert_ne!(db.create_user("bob", "hash-2", 2).unwrap(), Some(id));
    }

    /// A new user reads back the same by name and by id, with MFA required and nothing else set.
    #[test]
    fn a_new_user_reads_back_by_name_and_id() {
        let db = Db::for_tests().unwrap();
        let id = db.create_user("alice", "phc", 1).unwrap().unwrap();
        let by_name = db.user_by_name("alice").unwrap().unwrap();
        let by_id = db.user(id).unwrap().unwrap();
        for user in [&by_name, &by_id] {
            assert_eq!(user.id, id);
            assert_eq!(user.username, "alice");
            assert_eq!(user.password_hash, "phc");
            assert!(user.mfa_required && !user.suspended && !user.enrolled());
            assert_eq!((user.failed_totp, user.locked_until), (0, None));
            assert_eq!((&user.totp_secret, user.totp_last_step), (&None, None));
            assert_eq!(user.device_id, None);
        }
        assert!(db.user_by_name("nobody").unwrap().is_none());
        assert!(db.user(id + 1).unwrap().is_none());
    }

    /// Suspending ends every session of the user (signed in or not), cancels the pushes they
    /// wait for, and leaves other users alone; restoring lifts only the flag.
    #[test]
    fn suspending_ends_the_users_sessions_and_their_pushes() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        let other = user_with_device(&db, "bob", "d2");
        db.create_session(&session("in", id, SessionState::SignedIn, 500), 1)
            .unwrap();
        db.create_session(&session("wait", id, SessionState::Password, 500), 1)
            .unwrap();
        db.create_session(&session("bob", other, SessionState::Password, 500), 1)
            .unwrap();
        login_push(&db, "c1", id, "d1", 100, Some("wait"));
        login_push(&db, "c2", other, "d2", 100, Some("bob"));

        db.set_suspended(id, true).unwrap();
        assert!(db.user(id).unwrap().unwrap().suspended);
        for s in ["in", "wait"] {
            assert!(db.session(s, 100).unwrap().is_none());
            assert_eq!(
                db.session_ending(s, 100).unwrap(),
                Some(SessionEnd::Suspended)
            );
        }
        assert_eq!(
            db.challenge("c1").unwrap().unwrap().status,
            ChallengeStatus::Cancelled
        );
        assert!(db.session("bob", 100).unwrap().is_some());
        assert_eq!(
            db.challenge("c2").unwrap().unwrap().status,
            ChallengeStatus::Pending
        );

        db.set_suspended(id, false).unwrap();
        assert!(!db.user(id).unwrap().unwrap().suspended);
        assert!(db.session("in", 100).unwrap().is_none());
    }

    /// Wrong codes count up; the `max`th locks until `now + lock_seconds`, which ends the
    /// sign-ins under way (and withdraws their pushes) but not the signed-in sessions.
    #[test]
    fn wrong_codes_count_and_lock_at_the_limit() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        db.create_session(&session("in", id, SessionState::SignedIn, 5000), 1)
            .unwrap();
        db.create_session(&session("wait", id, SessionState::Password, 5000), 1)
            .unwrap();
        login_push(&db, "c1", id, "d1", 1000, Some("wait"));

        for count in 1..=2 {
            let locked_until = None;
            assert_eq!(
                wrong(&db, id, 1000),
                TotpAttempt::Wrong {
                    count,
                    locked_until
                }
            );
            assert_eq!(db.user(id).unwrap().unwrap().failed_totp, count);
        }
        assert!(db.session("wait", 1000).unwrap().is_some());
        let locked_until = Some(1300);
        assert_eq!(
            wrong(&db, id, 1000),
            TotpAttempt::Wrong {
                count: 3,
                locked_until
            }
        );
        let user = db.user(id).unwrap().unwrap();
        assert_eq!((user.failed_totp, user.locked_until), (3, Some(1300)));
        assert!(user.locked(1299) && !user.locked(1300));
        assert_eq!(
            db.session_ending("wait", 1000).unwrap(),
            Some(SessionEnd::LockedOut)
        );
        assert_eq!(
            db.challenge("c1").unwrap().unwrap().status,
            ChallengeStatus::Cancelled
        );
        assert!(db.session("in", 1000).unwrap().is_some());
    }

    /// While locked, even a right code is refused and the code is not looked at.
    #[test]
    fn a_locked_account_refuses_without_checking_the_code() {
        let db = Db::for_tests().unwrap();
        let id = totp_user(&db, "alice");
        for _ in 0..3 {
            wrong(&db, id, 1000);
        }
        let called = Cell::new(false);
        let attempt = db
            .totp_attempt(id, 1299, LIMITS, |_| {
                called.set(true);
                Some(500)
            })
            .unwrap();
        assert_eq!(attempt, TotpAttempt::Locked { until: 1300 });
        assert!(!called.get());
        let user = db.user(id).unwrap().unwrap();
        assert_eq!((user.failed_totp, user.totp_last_step), (3, Some(100)));
    }

    /// The check sees the stored secret; a code of a step at or before the last one accepted
    /// counts as wrong; a later step is accepted, remembered, and clears the count.
    #[test]
    fn a_code_works_once() {
        let db = Db::for_tests().unwrap();
        let id = totp_user(&db, "alice");
        let reused = db
            .totp_attempt(id, 1000, LIMITS, |secret| {
                assert_eq!(secret, b"totp");
                Some(100)
            })
            .unwrap();
        let locked_until = None;
        assert_eq!(
            reused,
            TotpAttempt::Wrong {
                count: 1,
                locked_until
            }
        );
        let earlier = db.totp_attempt(id, 1000, LIMITS, |_| Some(99)).unwrap();
        assert_eq!(
            earlier,
            TotpAttempt::Wrong {
                count: 2,
                locked_until
            }
        );
        let fresh = db.totp_attempt(id, 1000, LIMITS, |_| Some(101)).unwrap();
        assert_eq!(fresh, TotpAttempt::Accepted);
        let user = db.user(id).unwrap().unwrap();
        assert_eq!((user.failed_totp, user.totp_last_step), (0, Some(101)));
        let again = db.totp_attempt(id, 1000, LIMITS, |_| Some(101)).unwrap();
        assert_eq!(
            again,
            TotpAttempt::Wrong {
                count: 1,
                locked_until
            }
        );
    }

    /// After a lock has run out, the next wrong code is the first of a new count (and lifts the
    /// stale lock), so one more wrong code does not lock again.
    #[test]
    fn a_lock_that_ran_out_starts_a_new_count() {
        let db = Db::for_tests().unwrap();
        let id = totp_user(&db, "alice");
        for _ in 0..3 {
            wrong(&db, id, 1000);
        }
        let locked_until = None;
        assert_eq!(
            wrong(&db, id, 1300),
            TotpAttempt::Wrong {
                count: 1,
                locked_until
            }
        );
        let user = db.user(id).unwrap().unwrap();
        assert_eq!((user.failed_totp, user.locked_until), (1, None));
        assert_eq!(
            wrong(&db, id, 1300),
            TotpAttempt::Wrong {
                count: 2,
                locked_until
            }
        );
    }

    /// No TOTP secret, or no such user: `NotEnrolled`, and the check is not called.
    #[test]
    fn totp_without_a_secret_is_not_enrolled() {
        let db = Db::for_tests().unwrap();
        let id = db.create_user("alice", "hash", 1).unwrap().unwrap();
        for user in [id, id + 1] {
            let attempt = db
                .totp_attempt(user, 1000, LIMITS, |_| panic!("no secret to check"))
                .unwrap();
            assert_eq!(attempt, TotpAttempt::NotEnrolled);
        }
        assert_eq!(db.user(id).unwrap().unwrap().failed_totp, 0);
    }

    /// Unlocking clears the count and the lock: a right code is accepted at once.
    #[test]
    fn unlock_clears_the_lock() {
        let db = Db::for_tests().unwrap();
        let id = totp_user(&db, "alice");
        for _ in 0..3 {
            wrong(&db, id, 1000);
        }
        db.unlock(id).unwrap();
        let user = db.user(id).unwrap().unwrap();
        assert_eq!((user.failed_totp, user.locked_until), (0, None));
        let attempt = db.totp_attempt(id, 1001, LIMITS, |_| Some(200)).unwrap();
        assert_eq!(attempt, TotpAttempt::Accepted);
    }

    /// Resetting MFA drops the TOTP secret, the device (retired, its pushes cancelled) and the
    /// enrollments, and ends every session of the user.
    #[test]
    fn reset_mfa_removes_both_factors_and_ends_sessions() {
        let db = Db::for_tests().unwrap();
        let id = user_with_device(&db, "alice", "d1");
        fixtures::enrollment(&db, id, "unused", b"other");
        db.create_session(&session("in", id, SessionState::SignedIn, 500), 1)
            .unwrap();
        login_push(&db, "c1", id, "d1", 100, None);
        assert!(db.user(id).unwrap().unwrap().enrolled());

        db.reset_mfa(id).unwrap();
        let user = db.user(id).unwrap().unwrap();
        assert!(!user.enrolled());
        assert_eq!((user.totp_secret, user.totp_last_step), (None, None));
        assert_eq!(
            db.device("d1").unwrap().unwrap().state,
            DeviceState::Retired
        );
        assert_eq!(
            db.challenge("c1").unwrap().unwrap().status,
            ChallengeStatus::Cancelled
        );
        assert!(db.enrollment("unused").unwrap().is_none());
        assert!(db.enrollment("enroll-d1").unwrap().is_none());
        assert!(db.session("in", 100).unwrap().is_none());
        assert_eq!(
            db.session_ending("in", 100).unwrap(),
            Some(SessionEnd::MfaReset)
        );
    }
}
