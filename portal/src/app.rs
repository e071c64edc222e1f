//! The portal's behaviour, independent of HTTP: passwords, enrollment, challenges, TOTP with
//! lockout, the device endpoints' checks and the help-desk actions. The web and API layers only
//! translate requests into these calls.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm as ArgonAlgorithm, Argon2, Params, Version};
use assent_protocol::challenge::build_challenge;
use assent_protocol::{
    ChallengeContent, EnrollmentToken, LoginContext, NumberMatching, Purpose, PushEnrollment,
    Signer, SoftwareSigner,
};
use authenticator_core::{Account, Algorithm, OtpParams, SecretBytes, uri};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::alerts::{Alert, AlertKind};
use crate::clock::Clock;
use crate::db::{ChallengeRow, ChallengeStatus, Db, DbError, Enrollment, TotpAttempt, User};
use crate::relay::{Delivery, PushSender};
use crate::settings::Settings;

/// The key wrong passwords are counted under for a user name: its hash, so that names typed by
/// mistake (or passwords typed into the name field) are not kept.
fn password_name(username: &str) -> String {
    sha256_hex(username.trim().as_bytes())
}

/// Argon2id cost for passwords: OWASP's recommended m = 19 MiB, t = 2, p = 1. Slow on purpose
/// (about 25 ms here); never lowered for benchmarks or tests.
pub const PASSWORD_M_KIB: u32 = 19 * 1024;
/// Argon2id passes.
pub const PASSWORD_T: u32 = 2;

/// TOTP codes accepted one step either side of now (clock drift), each step once.
const TOTP_WINDOW: u64 = 1;
/// TOTP parameters in the enrollment QR: what every authenticator supports.
const TOTP_DIGITS: u32 = 6;
const TOTP_PERIOD: u64 = 30;

/// The shared portal.
pub struct Portal {
    /// Users, devices, challenges, sessions and the event log.
    pub db: Db,
    /// The settings the portal was started with.
    pub settings: Settings,
    /// Where the portal reads the time (a test clock moves it).
    pub clock: Arc<dyn Clock>,
    /// Hands challenges to the relay (or to nothing, when no relay is set).
    pub relay: Arc<dyn PushSender>,
    /// Set only with `--test-clock`: the clock `POST /test/clock` moves.
    pub test_clock: Option<Arc<crate::clock::SystemClock>>,
    /// Set with `--alert-webhook`: where the help desk's alerts go.
    pub alerts: Option<Arc<crate::alerts::Alerts>>,
    key: SoftwareSigner,
    key_id: String,
    dummy_hash: String,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// Why a portal operation failed, for the pages and the admin API.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The database failed; the page answers 500 and the error is logged.
    #[error(transparent)]
    Db(#[from] DbError),
    /// No user by that name.
    #[error("no such user")]
    NoSuchUser,
    /// The name is taken.
    #[error("a user with that name exists")]
    UserExists,
    /// The user has no push device.
    #[error("no push device is enrolled")]
    NoDevice,
    /// Too many pushes recently (MFA bombing protection).
    #[error("too many sign-in requests; try again in {retry_after} s")]
    PushLimited {
        /// Seconds until the next push is allowed.
        retry_after: u64,
    },
    /// Building the challenge failed (context too long, ...).
    #[error("cannot build the challenge: {0}")]
    Challenge(String),
    /// A password rule.
    #[error("{0}")]
    BadPassword(&'static str),
    /// The user-name rule.
    #[error("{0}")]
    BadUserName(&'static str),
    /// Argon2id could not hash (its parameters or salt were refused).
    #[error("password hashing failed")]
    Hashing,
    /// A task moved off the async runtime (Argon2id, SQLite) panicked or was cancelled.
    #[error("a background task failed")]
    TaskFailed,
    /// A response header could not be built from its value.
    #[error("cannot build the {0} header")]
    Header(&'static str),
}

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

/// Who is asking, for the challenge's context and the event log.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The client's IP address (from `X-Forwarded-For` with `--trust-proxy`).
    pub ip: String,
    /// Browser, from the User-Agent.
    pub browser: Option<String>,
    /// Operating system, from the User-Agent.
    pub os: Option<String>,
}

impl Client {
    /// Reads the browser and OS names from a User-Agent string (a rough guess, for display).
    pub fn new(ip: String, user_agent: &str) -> Self {
        let browser = [
            ("Edg/", "Edge"),
            ("OPR/", "Opera"),
            ("Firefox/", "Firefox"),
            ("Chromium/", "Chromium"),
            ("HeadlessChrome/", "Chrome"),
            ("Chrome/", "Chrome"),
            ("Version/", "Safari"),
            ("curl/", "curl"),
        ]
        .iter()
        .find_map(|(marker, name)| {
            let start = user_agent.find(marker)? + marker.len();
            let major: String = user_agent[start..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            Some(if major.is_empty() {
                (*name).to_owned()
            } else {
                format!("{name} {major}")
            })
        });
        let os = [
            ("iPhone", "iOS"),
            ("iPad", "iPadOS"),
            ("Android", "Android"),
            ("Windows", "Windows"),
            ("Mac OS X", "macOS"),
            ("CrOS", "ChromeOS"),
            ("Linux", "Linux"),
        ]
        .iter()
        .find(|(marker, _)| user_agent.contains(marker))
        .map(|(_, name)| (*name).to_owned());
        Self { ip, browser, os }
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand_core::Rng::fill_bytes(&mut assent_protocol::system_rng(), &mut bytes);
    bytes
}

/// A random base64url string of `N` bytes.
pub fn random_token<const N: usize>() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// SHA-256 hex (session ids are stored hashed).
pub fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// Checks the password rules (length only: NIST SP 800-63B).
pub fn check_password_rules(password: &str) -> Result<(), PortalError> {
    if password.chars().count() < 8 {
        return Err(PortalError::BadPassword(
            "the password must be at least 8 characters",
        ));
    }
    if password.len() > 1024 {
        return Err(PortalError::BadPassword("the password is too long"));
    }
    Ok(())
}

/// The portal's TOTP parameters (SHA1, 6 digits, 30 s: what every authenticator app takes).
/// `OtpParams::totp` refuses only impossible parameters, which these constants are not; a test
/// keeps it so.
fn totp_params() -> OtpParams {
    match OtpParams::totp(Algorithm::Sha1, TOTP_DIGITS, TOTP_PERIOD as u32) {
        Ok(params) => params,
        Err(e) => unreachable!("the portal's TOTP constants are refused: {e}"),
    }
}

impl Portal {
    /// Opens the portal: loads (or creates on first start) its signing key from the database.
    pub fn new(
        settings: Settings,
        db: Db,
        clock: Arc<dyn Clock>,
        relay: Arc<dyn PushSender>,
    ) -> Result<Self, PortalError> {
        let key = match db.setting("portal_signing_key")? {
            Some(bytes) => {
                let array: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| DbError::Corrupt("portal key"))?;
                SoftwareSigner::from_bytes(&array).ok_or(DbError::Corrupt("portal key"))?
            }
            None => {
                let key = SoftwareSigner::generate(&mut assent_protocol::system_rng());
                db.set_setting("portal_signing_key", key.to_bytes().as_slice())?;
                key
            }
        };
        let key_id = key.public_key().thumbprint();
        let dummy_hash = hash_password("not a real password")?;
        Ok(Self {
            db,
            settings,
            clock,
            relay,
            test_clock: None,
            alerts: None,
            key,
            key_id,
            dummy_hash,
        })
    }

    /// Now, by the portal's clock.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The portal key's id (what devices pin).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The portal's signing key.
    pub fn signer(&self) -> &SoftwareSigner {
        &self.key
    }

    // ---- users and passwords

    /// Creates a user.
    pub fn create_user(&self, username: &str, password: &str) -> Result<User, PortalError> {
        let username = username.trim();
        if username.is_empty()
            || username.len() > 64
            || username
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(PortalError::BadUserName(
                "a user name is 1 to 64 characters without spaces",
            ));
        }
        check_password_rules(password)?;
        let hash = hash_password(password)?;
        let id = self
            .db
            .create_user(username, &hash, self.now())?
            .ok_or(PortalError::UserExists)?;
        self.db
            .log(id, self.now(), "admin", "user_created", "ok", "")?;
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
        check_password_rules(password)?;
        let hash = hash_password(password)?;
        self.db.set_password(user.id, &hash)?;
        Ok(())
    }

    /// A user by name.
    pub fn user(&self, username: &str) -> Result<User, PortalError> {
        self.db
            .user_by_name(username)?
            .ok_or(PortalError::NoSuchUser)
    }

    // ---- enrollment

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
            self.db.log(
                user.id,
                self.now(),
                ip,
                "enrolled",
                "ok",
                "TOTP only (third-party app)",
            )?;
        }
        Ok(done)
    }

    // ---- alerts

    /// Posts an alert about `user` to the webhook, when one is set (in the background).
    pub fn alert(&self, user: &User, kind: AlertKind, ip: &str, detail: &str) {
        if let Some(alerts) = &self.alerts {
            alerts.send(Alert {
                alert: kind,
                portal: self.settings.issuer.clone(),
                user: user.username.clone(),
                at: self.now(),
                ip: ip.to_owned(),
                detail: detail.to_owned(),
            });
        }
    }

    // ---- TOTP

    /// Checks a TOTP code, counting failures towards the lockout. The decision is taken in one
    /// database transaction (see [`crate::db::Db::totp_attempt`]), never from `user`'s copy of
    /// the lock, so a burst of concurrent codes gets no more than the allowed attempts.
    pub fn check_totp(
        &self,
        user: &User,
        code: &str,
        client: &Client,
    ) -> Result<TotpOutcome, PortalError> {
        let now = self.now();
        let max = self.settings.totp_max_attempts.max(1);
        let lock_seconds = self.settings.lockout_minutes * 60;
        let attempt = self
            .db
            .totp_attempt(user.id, now, (max, lock_seconds), |secret| {
                matching_step(secret, code, now)
            })?;
        match attempt {
            TotpAttempt::Locked { .. } => {
                self.db.log(
                    user.id,
                    now,
                    &client.ip,
                    "totp",
                    "locked",
                    "attempt while locked",
                )?;
                Ok(TotpOutcome::Locked)
            }
            TotpAttempt::NotEnrolled => Ok(TotpOutcome::NotEnrolled),
            TotpAttempt::Accepted => {
                self.db.log(user.id, now, &client.ip, "totp", "ok", "")?;
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
                self.db
                    .log(user.id, now, &client.ip, "totp", "locked", &detail)?;
                self.alert(user, AlertKind::LockedOut, &client.ip, &detail);
                Ok(TotpOutcome::Locked)
            }
            TotpAttempt::Wrong { count, .. } => {
                self.db
                    .log(user.id, now, &client.ip, "totp", "failed", "wrong code")?;
                Ok(TotpOutcome::Rejected {
                    remaining: max.saturating_sub(count),
                })
            }
        }
    }

    // ---- challenges

    /// Creates a challenge for the user's device and sends it through the relay (in the
    /// background: the browser learns the outcome by polling the status). Enforces the push
    /// rate limit. Returns the stored challenge, whose `number` the page shows.
    pub fn send_challenge(
        self: &Arc<Self>,
        user: &User,
        purpose: Purpose,
        client: &Client,
        session: Option<&str>,
    ) -> Result<ChallengeRow, PortalError> {
        let now = self.now();
        let device_id = user.device_id.as_deref().ok_or(PortalError::NoDevice)?;
        let device = self.db.device(device_id)?.ok_or(PortalError::NoDevice)?;
        let since = now.saturating_sub(self.settings.push_window_seconds);
        if self.db.pushes_since(user.id, since)? >= self.settings.push_limit {
            let first = self.db.first_push_since(user.id, since)?.unwrap_or(now);
            let retry_after = (first + self.settings.push_window_seconds)
                .saturating_sub(now)
                .max(1);
            self.db.log(
                user.id,
                now,
                &client.ip,
                purpose_kind(purpose),
                "rate_limited",
                "",
            )?;
            return Err(PortalError::PushLimited { retry_after });
        }
        let digits = self.settings.number_digits;
        let number_matching = (digits >= 2).then_some(NumberMatching {
            digits: digits.min(3),
        });
        let user_verification = self.settings.user_verification;
        let content = ChallengeContent {
            purpose,
            context: LoginContext {
                user: user.username.clone(),
                application: self.settings.application.clone(),
                ip: Some(client.ip.clone()).filter(|ip| !ip.is_empty()),
                location: None,
                browser: client.browser.clone(),
                os: client.os.clone(),
            },
            number_matching,
            user_verification,
        };
        let row = self.store_challenge(
            user.id,
            &device.id,
            &device.encryption_key,
            &content,
            session,
        )?;
        self.db.log(
            user.id,
            now,
            &client.ip,
            purpose_kind(purpose),
            "sent",
            &format!("to {}", device.name),
        )?;
        match device.push.clone() {
            Some(push) => {
                let portal = self.clone();
                let (id, jws, exp, user_id) = (row.id.clone(), row.jws.clone(), row.exp, user.id);
                let device_id = device.id.clone();
                tokio::spawn(async move {
                    let delivery = portal.relay.send(&push, &jws, exp, &id).await;
                    portal.record_delivery(user_id, &device_id, &id, &delivery);
                });
            }
            None => {
                self.db
                    .set_delivery(&row.id, "no push address: the device polls")?;
            }
        }
        Ok(row)
    }

    /// Builds, signs and stores a challenge.
    pub fn store_challenge(
        &self,
        user_id: i64,
        device_id: &str,
        encryption_key: &assent_protocol::PublicJwk,
        content: &ChallengeContent,
        session: Option<&str>,
    ) -> Result<ChallengeRow, PortalError> {
        let mut rng = assent_protocol::system_rng();
        let built = build_challenge(
            &self.key,
            device_id,
            encryption_key,
            content,
            self.now(),
            &mut rng,
        )
        .map_err(|e| PortalError::Challenge(e.to_string()))?;
        let number = content.number_matching.map(|n| n.generate(&mut rng));
        let row = ChallengeRow {
            id: built.id.clone(),
            user_id,
            device_id: device_id.to_owned(),
            hash: built.hash(),
            jws: built.jws,
            purpose: content.purpose,
            iat: built.iat,
            exp: built.exp,
            number,
            user_verification: content.user_verification,
            status: ChallengeStatus::Pending,
            reason: None,
            session: session.map(str::to_owned),
            delivery: None,
        };
        self.db.insert_challenge(&row)?;
        Ok(row)
    }

    fn record_delivery(&self, user_id: i64, device_id: &str, challenge: &str, delivery: &Delivery) {
        let now = self.now();
        let result = (|| -> Result<(), DbError> {
            self.db.set_delivery(challenge, &delivery.describe())?;
            match delivery {
                Delivery::Delivered => {}
                Delivery::Unregistered(reason) => {
                    self.db.set_push(device_id, None)?;
                    self.db.log(
                        user_id,
                        now,
                        "relay",
                        "push_token",
                        "dropped",
                        &format!(
                            "the relay reported the token dead ({reason}); the device must poll"
                        ),
                    )?;
                }
                other => {
                    self.db.log(
                        user_id,
                        now,
                        "relay",
                        "push_delivery",
                        "failed",
                        &other.describe(),
                    )?;
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot record a delivery");
        }
        tracing::info!(challenge = %challenge, outcome = %delivery.describe(), "push sent");
    }

    /// A challenge's current state: one whose time is up reads as expired even before the
    /// periodic expiry (see [`crate::serve`]) has marked it, so a status poll never writes.
    pub fn challenge_status(&self, id: &str) -> Result<Option<ChallengeRow>, PortalError> {
        let now = self.now();
        Ok(self.db.challenge(id)?.map(|mut c| {
            if c.status == ChallengeStatus::Pending && c.exp < now {
                c.status = ChallengeStatus::Expired;
            }
            c
        }))
    }

    /// Marks challenges past their 60 seconds as expired and logs them: once a second from
    /// [`crate::serve`], and before the help desk reads an event log.
    pub fn expire_due(&self) -> Result<(), PortalError> {
        let now = self.now();
        for c in self.db.expire_challenges(now)? {
            if c.purpose != Purpose::Activate {
                self.db.log(
                    c.user_id,
                    now,
                    "portal",
                    &format!("push_{}", c.purpose.as_str()),
                    "expired",
                    "no answer in 60 s",
                )?;
            }
        }
        Ok(())
    }
}

/// The event kind for a purpose's pushes.
pub fn purpose_kind(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Login => "push_login",
        Purpose::StepUp => "push_step_up",
        Purpose::PasswordReset => "push_password_reset",
        Purpose::Activate => "push_activate",
    }
}

/// The time step whose code equals `code`, within one step of `now`.
fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<u64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_guesses() {
        let c = Client::new(
            "203.0.113.7".into(),
            "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
        );
        assert_eq!(c.browser.as_deref(), Some("Firefox 140"));
        assert_eq!(c.os.as_deref(), Some("Linux"));
        let c = Client::new(
            "::1".into(),
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        );
        assert_eq!(c.browser.as_deref(), Some("Safari 17"));
        assert_eq!(c.os.as_deref(), Some("macOS"));
    }

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
