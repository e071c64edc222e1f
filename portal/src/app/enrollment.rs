//! Enrollment: a one-time token and a fresh TOTP secret in one otpauth URI (the QR), which the
//! Assent app turns into push and TOTP, and any other app into TOTP alone.

use assent_protocol::{EnrollmentToken, PushEnrollment, Signer};
use authenticator_core::{Account, SecretBytes, uri};
use zeroize::Zeroizing;

use super::tokens::random_bytes;
use super::totp::{matching_step, totp_params};
use super::{Portal, PortalError};
use crate::db::{DbError, Enrollment, EventKind, Outcome, User};

impl Portal {
    /// A new enrollment for `user`: a one-time token and a fresh TOTP secret, valid for the
    /// configured time. Returns it with the QR's otpauth URI.
    pub fn start_enrollment(
        &self,
        user: &User,
    ) -> Result<(Enrollment, Zeroizing<String>), PortalError> {
        let now = self.now();
        let token = EnrollmentToken::generate(&mut assent_protocol::system_rng());
        let enrollment = Enrollment {
            token: token.expose().to_owned(),
            user_id: user.id,
            totp_secret: random_bytes::<20>().to_vec(),
            expires_at: now + self.settings.enrollment_seconds,
            used: false,
        };
        self.db.create_enrollment(&enrollment)?;
        let uri = self.enrollment_uri(user, &enrollment)?;
        Ok((enrollment, uri))
    }

    /// The otpauth URI of an enrollment: standard TOTP for any app, plus the push parameters.
    pub fn enrollment_uri(
        &self,
        user: &User,
        enrollment: &Enrollment,
    ) -> Result<Zeroizing<String>, PortalError> {
        let token = EnrollmentToken::parse(&enrollment.token)
            .ok_or(DbError::Corrupt("enrollment token"))?;
        let push = PushEnrollment {
            portal_url: self.settings.public_url(),
            token,
            portal_key: self.key.public_key(),
            expires_at: enrollment.expires_at,
        };
        let account = Account {
            issuer: self.settings.issuer.clone(),
            name: user.username.clone(),
            otp: totp_params(),
            secret: SecretBytes::new(enrollment.totp_secret.clone()),
            image: None,
        };
        let params = push.to_params();
        let extra: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(uri::to_uri_with(&account, &extra))
    }

    /// Completes an enrollment with a TOTP code from a third-party app (no push): the code must
    /// match the enrollment's secret.
    pub fn confirm_totp_enrollment(
        &self,
        user: &User,
        token: &str,
        code: &str,
        ip: &str,
    ) -> Result<bool, PortalError> {
        let Some(enrollment) = self.db.enrollment(token)? else {
            return Ok(false);
        };
        if enrollment.user_id != user.id || enrollment.used || self.now() > enrollment.expires_at {
            return Ok(false);
        }
        let Some(step) = matching_step(&enrollment.totp_secret, code, self.now()) else {
            return Ok(false);
        };
        let done = self.db.activate_totp_only(token, user.id, step)?;
        if done {
            self.log(
                user.id,
                ip,
                EventKind::Enrolled,
                Outcome::Ok,
                "TOTP only (third-party app)",
            )?;
        }
        Ok(done)
    }
}
