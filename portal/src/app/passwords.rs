//! Passwords: Argon2id hashes, the length rules, the check that costs the same for unknown
//! names, and the wrong-password throttles counted before the check.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm as ArgonAlgorithm, Argon2, Params, Version};

use super::tokens::{random_bytes, sha256_hex};
use super::{Portal, PortalError};
use crate::db::{EventKind, Outcome, User};

/// Argon2id cost for passwords: OWASP's recommended m = 19 MiB, t = 2, p = 1. Slow on purpose
/// (about 25 ms here); never lowered for benchmarks or tests.
pub const PASSWORD_M_KIB: u32 = 19 * 1024;
/// Argon2id passes.
pub const PASSWORD_T: u32 = 2;

/// The key wrong passwords are counted under for a user name: its hash, so that names typed by
/// mistake (or passwords typed into the name field) are not kept.
fn password_name(username: &str) -> String {
    sha256_hex(username.trim().as_bytes())
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(PASSWORD_M_KIB, PASSWORD_T, 1, None).unwrap_or_default();
    Argon2::new(ArgonAlgorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (Argon2id, PHC string).
pub fn hash_password(password: &str) -> Result<String, PortalError> {
    let salt_bytes = random_bytes::<16>();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| PortalError::Hashing)?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PortalError::Hashing)
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Shortest password allowed, in characters (the product documents' policy).
pub const PASSWORD_MIN_CHARS: usize = 12;
/// Longest password allowed, in characters.
pub const PASSWORD_MAX_CHARS: usize = 64;

/// Checks the password policy for `username`'s new password: 12 to 64 characters, and not
/// containing the user name (case-insensitive). Length is the rule that counts (NIST SP
/// 800-63B); composition rules are not added. Applied wherever a password is set: a new user,
/// a reset, `portal user passwd`.
pub fn check_password_rules(username: &str, password: &str) -> Result<(), PortalError> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(PortalError::BadPassword(
            "the password must be at least 12 characters",
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(PortalError::BadPassword(
            "the password must be at most 64 characters",
        ));
    }
    let name = username.trim().to_lowercase();
    if !name.is_empty() && password.to_lowercase().contains(&name) {
        return Err(PortalError::BadPassword(
            "the password must not contain the user name",
        ));
    }
    Ok(())
}

impl Portal {
    /// Creates a user.
    pub fn create_user(&self, username: &str, password: &str) -> Result<User, PortalError> {
        self.create_account(username, password, None, "admin")
    }

    /// Creates a user, or a console account with `role`; the creation is logged from `ip`.
    pub(super) fn create_account(
        &self,
        username: &str,
        password: &str,
        role: Option<crate::db::Role>,
        ip: &str,
    ) -> Result<User, PortalError> {
        let username = username.trim();
        if username.is_empty()
            || username.len() > 64
            || username
                .chars()
                .any(|c| c.is_whitespace() || assent_protocol::refused_in_display_text(c))
        {
            return Err(PortalError::BadUserName(
                "a user name is 1 to 64 bytes without spaces, controls or bidirectional marks",
            ));
        }
        check_password_rules(username, password)?;
        let hash = hash_password(password)?;
        let id = match role {
            None => self.db.create_user(username, &hash, self.now())?,
            Some(role) => self.db.create_admin(username, &hash, role, self.now())?,
        }
        .ok_or(PortalError::UserExists)?;
        let detail = role.map_or("", |_| "console account");
        self.log(id, ip, EventKind::UserCreated, Outcome::Ok, detail)?;
        self.db.user(id)?.ok_or(PortalError::NoSuchUser)
    }

    /// Checks a password; the same work is done for unknown users, so timing does not tell
    /// which names exist. Runs Argon2id: call from a blocking thread.
    pub fn check_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, PortalError> {
        let user = self.db.user_by_name(username.trim())?;
        let hash = user.as_ref().map_or(&self.dummy_hash, |u| &u.password_hash);
        let ok = verify_password(hash, password);
        Ok(user.filter(|_| ok))
    }

    /// Counts a sign-in attempt against the wrong-password throttles before the password is
    /// checked (so a flood costs no Argon2id, and concurrent guesses cannot pass the limits
    /// together). `Ok` with the attempt, to hand to [`Portal::password_ok`] if the password is
    /// right; `Err` with the seconds until `ip` or `username` may try again. Without a user
    /// name (a password-reset request, which sends a push without any password) only the
    /// address's budget counts.
    pub fn password_attempt(
        &self,
        ip: &str,
        username: Option<&str>,
    ) -> Result<Result<i64, u64>, PortalError> {
        let now = self.now();
        let window = self.settings.password_window_seconds;
        let limits = (
            self.settings.password_ip_limit,
            username.map_or(u32::MAX, |_| self.settings.password_user_limit),
        );
        let attempt = self.db.password_attempt(
            ip,
            &username.map(password_name).unwrap_or_default(),
            now,
            now.saturating_sub(window),
            limits,
        )?;
        Ok(attempt.map_err(|oldest| (oldest + window).saturating_sub(now).max(1)))
    }

    /// The password was right: the attempt and the name's wrong passwords are forgotten (those
    /// counted against client addresses stay). `None` for the help desk's unlock.
    pub fn password_ok(&self, attempt: Option<i64>, username: &str) -> Result<(), PortalError> {
        self.db
            .clear_password_failures(&password_name(username), attempt)?;
        Ok(())
    }

    /// Sets a new password (reset, admin).
    pub fn set_password(&self, user: &User, password: &str) -> Result<(), PortalError> {
        check_password_rules(&user.username, password)?;
        let hash = hash_password(password)?;
        self.db.set_password(user.id, &hash)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_policy_refuses_each_bad_case_with_its_reason() {
        let refused = |name: &str, password: &str| match check_password_rules(name, password) {
            Err(PortalError::BadPassword(why)) => why,
            other => panic!("{password:?} for {name:?}: {other:?}"),
        };
        assert_eq!(
            refused("alice", "elevenchars"),
            "the password must be at least 12 characters"
        );
        assert_eq!(
            refused("alice", &"x".repeat(65)),
            "the password must be at most 64 characters"
        );
        assert_eq!(
            refused("alice", "my name is ALICE, ok?"),
            "the password must not contain the user name"
        );
        assert!(check_password_rules("alice", "correct horse battery").is_ok());
        // Characters, not bytes: twelve accented letters pass, 64 emoji too.
        assert!(check_password_rules("bob", "éééééééééééé").is_ok());
        assert!(check_password_rules("bob", &"🔑".repeat(64)).is_ok());
    }
}
