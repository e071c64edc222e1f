//! TOTP: the portal's parameters, the code check with its one-step window, and the lockout,
//! decided in one database transaction so that concurrent codes cannot pass it together.

use authenticator_core::{Algorithm, OtpParams, SecretBytes};
use subtle::ConstantTimeEq as _;

use super::client::Client;
use super::{Portal, PortalError};
use crate::alerts::AlertKind;
use crate::db::{EventKind, Outcome, TotpAttempt, User};

/// TOTP codes accepted one step either side of now (clock drift), each step once.
const TOTP_WINDOW: u64 = 1;
/// TOTP parameters in the enrollment QR: what every authenticator supports.
pub(crate) const TOTP_DIGITS: u32 = 6;
const TOTP_PERIOD: u64 = 30;

/// The outcome of a TOTP attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpOutcome {
    /// A right code for a step not used before: the session signs in.
    Accepted,
    /// Wrong (or already used) code; `remaining` attempts before lockout.
    Rejected {
        /// Wrong codes the user may still type before the account locks.
        remaining: u32,
    },
    /// The account is locked (now, or by this attempt).
    Locked,
    /// The user has no TOTP secret.
    NotEnrolled,
}

/// The portal's TOTP parameters (SHA1, 6 digits, 30 s: what every authenticator app takes).
/// `OtpParams::totp` refuses only impossible parameters, which these constants are not; a test
/// keeps it so.
pub(crate) fn totp_params() -> OtpParams {
    match OtpParams::totp(Algorithm::Sha1, TOTP_DIGITS, TOTP_PERIOD as u32) {
        Ok(params) => params,
        Err(e) => unreachable!("the portal's TOTP constants are refused: {e}"),
    }
}

/// The time step whose code equals `code`, within one step of `now`.
pub(crate) fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != TOTP_DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let params = totp_params();
    let secret = SecretBytes::new(secret.to_vec());
    let step = now / TOTP_PERIOD;
    (step.saturating_sub(TOTP_WINDOW)..=step + TOTP_WINDOW).find(|s| {
        let expected = params.code(&secret, s * TOTP_PERIOD);
        bool::from(expected.value.as_bytes().ct_eq(code.as_bytes()))
    })
}

impl Portal {
    /// Checks a TOTP code, counting failures towards the lockout. The decision is taken in one
    /// database transaction (see [`crate::db::Db::totp_attempt`]), never from `user`'s copy of
    /// the lock, so a burst of concurrent codes gets no more than the allowed attempts.
    pub fn check_totp(
        &self,
        user: &User,
        code: &str,
        client: &Client,
    ) -> Result<TotpOutcome, PortalError> {
        self.check_totp_via(user, code, client, None)
    }

    /// [`Portal::check_totp`] for the relying party `via` (named in the events), under the same
    /// lockout.
    pub fn check_totp_via(
        &self,
        user: &User,
        code: &str,
        client: &Client,
        via: Option<&str>,
    ) -> Result<TotpOutcome, PortalError> {
        let now = self.now();
        let named = |detail: &str| match via {
            Some(rp) if detail.is_empty() => format!("via {rp}"),
            Some(rp) => format!("{detail} (via {rp})"),
            None => detail.to_owned(),
        };
        let max = self.settings.totp_max_attempts.max(1);
        let lock_seconds = self.settings.lockout_minutes * 60;
        let attempt = self
            .db
            .totp_attempt(user.id, now, (max, lock_seconds), |secret| {
                matching_step(secret, code, now)
            })?;
        let ip = client.ip.as_str();
        match attempt {
            TotpAttempt::Locked { .. } => {
                self.log(
                    user.id,
                    ip,
                    EventKind::Totp,
                    Outcome::Locked,
                    &named("attempt while locked"),
                )?;
                Ok(TotpOutcome::Locked)
            }
            TotpAttempt::NotEnrolled => Ok(TotpOutcome::NotEnrolled),
            TotpAttempt::Accepted => {
                self.log(user.id, ip, EventKind::Totp, Outcome::Ok, &named(""))?;
                Ok(TotpOutcome::Accepted)
            }
            TotpAttempt::Wrong {
                count,
                locked_until: Some(_),
            } => {
                let detail = format!(
                    "{count} wrong codes; locked for {} min",
                    self.settings.lockout_minutes
                );
                self.log(
                    user.id,
                    ip,
                    EventKind::Totp,
                    Outcome::Locked,
                    &named(&detail),
                )?;
                self.alert(user, AlertKind::LockedOut, ip, &detail);
                Ok(TotpOutcome::Locked)
            }
            TotpAttempt::Wrong { count, .. } => {
                let detail = named("wrong code");
                self.log(user.id, ip, EventKind::Totp, Outcome::Failed, &detail)?;
                Ok(TotpOutcome::Rejected {
                    remaining: max.saturating_sub(count),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_step_window() {
        let secret = b"12345678901234567890";
        let params = totp_params();
        let now = 1_800_000_000;
        let code = params
            .code(&SecretBytes::new(secret.to_vec()), now - 30)
            .value;
        assert_eq!(matching_step(secret, &code, now), Some(now / 30 - 1));
        let old = params
            .code(&SecretBytes::new(secret.to_vec()), now - 90)
            .value;
        assert_eq!(matching_step(secret, &old, now), None);
        assert_eq!(matching_step(secret, "12345", now), None);
        assert_eq!(matching_step(secret, "abcdef", now), None);
    }
}
