//! Browser sessions: the states of a sign-in, and the only code that moves a session from one
//! to the next. Every change of state is saved with the event that records it, in one
//! transaction.
//!
//! ```text
//! password accepted (Password) ─┬─ awaiting push ── approved ─────────┐
//!                               ├─ awaiting TOTP ── right code ───────┼─► signed in (SignedIn)
//!                               └─ enrolling ── device or app code ──┘      │ step-up approved:
//!                                                                            ▼ fresh for a while
//!          └─ (the help desk required a new password) ─► NewPassword ── new password ──┘
//! reset asked (ResetPending) ── approved ──► Reset ── new password ──► ended
//!
//! any state ──► ended: signed out, step-up denied, MFA reset, suspended, locked out, password
//!               changed (each with its own message, [`SessionEnd`]); or expired by its time.
//! ```
//!
//! Who may sign in at all (suspended, locked, MFA not required) is decided here too, by
//! [`Portal::login`], from the database's copy of the user.

use std::sync::Arc;

use assent_protocol::Purpose;
use zeroize::Zeroizing;

use super::client::Client;
use super::tokens::{random_token, sha256_hex};
use super::totp::TotpOutcome;
use super::{Portal, PortalError};
use crate::db::{
    ChallengeReason, ChallengeRow, ChallengeStatus, Device, EventKind, Outcome, Session,
    SessionEnd, SessionState, User,
};

/// How long a session that is not signed in yet may take (second factor, enrollment, reset).
const SIGN_IN_SECONDS: u64 = 15 * 60;

/// How long a signed-in console session lives after its last visit.
pub const CONSOLE_IDLE_SECONDS: u64 = 15 * 60;

/// A session just started: its row, and the cookie value (a secret) with its lifetime.
#[derive(Debug)]
pub struct Started {
    /// The stored session (its id is the cookie value's hash).
    pub session: Session,
    /// The value for the cookie; only its hash is stored.
    pub cookie: Zeroizing<String>,
    /// Seconds the cookie lives: as long as a signed-in session may, whatever the step it
    /// starts at (the server's expiry is what ends it; a cookie that died with the sign-in step
    /// would sign the browser out 15 minutes after a sign-in meant to last hours).
    pub max_age: u64,
}

/// How a session was signed in (the event's detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedInBy {
    /// The password alone: the help desk removed the MFA requirement.
    PasswordOnly,
    /// A push approved on the device.
    Push,
    /// A TOTP code.
    Totp,
    /// The enrolled device's activation.
    Enrollment,
    /// A third-party app's first code, at enrollment.
    TotpEnrollment,
}

impl SignedInBy {
    fn detail(self) -> &'static str {
        match self {
            Self::PasswordOnly => "MFA not required (admin)",
            Self::Push => "push approved",
            Self::Totp => "TOTP",
            Self::Enrollment => "enrollment completed",
            Self::TotpEnrollment => "enrollment completed with a code from another app",
        }
    }
}

/// Whether a push went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Sent; the session waits for it.
    Sent,
    /// Not sent: too many recently (MFA bombing protection).
    Limited {
        /// Seconds until the next push is allowed.
        retry_after: u64,
    },
}

/// What a sign-in with a password came to.
#[derive(Debug)]
pub enum Login {
    /// Too many wrong passwords from this address or for this name; nothing was checked.
    Throttled {
        /// Seconds until the next attempt is counted.
        retry_after: u64,
    },
    /// Wrong user name or password.
    WrongPassword,
    /// The help desk suspended the user.
    Suspended,
    /// Too many wrong codes locked the account.
    LockedOut,
    /// The console's sign-in, by an account without a console role.
    NotConsole,
    /// A session started, and what it does next.
    Started(Box<Started>, Next),
}

/// What a session does after its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing: signed in (MFA not required).
    Home,
    /// Wait for the push (or learn that none went out).
    Push(Pushed),
    /// Type a TOTP code (no push device).
    Totp,
    /// Enroll a device (no second factor yet).
    Enroll,
}

/// Where an approved push takes the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The home page: signed in.
    Home,
    /// The page that asked for a step-up.
    Protected,
    /// The new-password form.
    NewPassword,
}

/// The push a session waits for, and where its approval leads (already applied).
#[derive(Debug)]
pub struct PushProgress {
    /// The challenge, as it stands (none when no push went out).
    pub challenge: Option<ChallengeRow>,
    /// Set once it is approved: the session has moved on, the browser follows.
    pub next: Option<Destination>,
}

/// What "send again" did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendAgain {
    /// A new push (the old one withdrawn), or none over the limit.
    Pushed(Pushed),
    /// The reset was approved already: nothing to send, the form is next.
    ResetReady,
    /// Past the second factor: nothing to send, the new password is next.
    PasswordDue,
}

/// What a protected page needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUp {
    /// An approval young enough: show the page.
    Fresh,
    /// No push device: nothing to ask, show the page.
    NoDevice,
    /// A step-up push is on its way already.
    Waiting,
    /// A step-up push was asked for.
    Pushed(Pushed),
}

/// What a password-reset request came to. The page says the same for [`ResetStart::NotSent`]
/// as for a sent push, so it does not tell which accounts exist.
#[derive(Debug)]
pub enum ResetStart {
    /// Too many attempts from this address.
    Throttled {
        /// Seconds until the next attempt is counted.
        retry_after: u64,
    },
    /// No such user, no device, or suspended: nothing sent.
    NotSent,
    /// A session started and its push asked for.
    Started(Box<Started>, Pushed),
}

/// A live session as a request finds it: the session, its user, and the push it waits for
/// (as it stands now).
#[derive(Debug)]
pub struct Visited {
    /// The session.
    pub session: Session,
    /// Its user.
    pub user: User,
    /// The challenge the session waits for, if any.
    pub challenge: Option<ChallengeRow>,
}

/// Whether a session may move from `from` to `to`; every other change is a bug.
fn allowed(from: SessionState, to: SessionState) -> bool {
    matches!(
        (from, to),
        (SessionState::Password, SessionState::SignedIn)
            | (SessionState::Password, SessionState::NewPassword)
            | (SessionState::NewPassword, SessionState::SignedIn)
            | (SessionState::ResetPending, SessionState::Reset)
    )
}

/// Whether the session may see the enrollment QR: a signed-in one (re-enrollment), or one past
/// its password whose user has no second factor yet.
pub fn may_enroll(session: &Session, user: &User) -> bool {
    match session.state {
        SessionState::SignedIn => true,
        SessionState::Password => !user.enrolled(),
        SessionState::ResetPending | SessionState::Reset | SessionState::NewPassword => false,
    }
}

/// Whether the waiting page may offer a TOTP code instead of the push.
pub fn may_use_code(session: &Session, user: &User) -> bool {
    session.state == SessionState::Password && user.totp_secret.is_some()
}

/// What a password that was right leads to, before any push is sent.
enum Checked {
    Done(Login),
    Push(Box<(Started, User)>),
}

impl Portal {
    /// The live session whose cookie holds `cookie`, with its user; for one that is gone, why
    /// the portal ended it (`None`: it expired, or never was).
    pub fn visit(&self, cookie: &str) -> Result<Result<Visited, Option<SessionEnd>>, PortalError> {
        Ok(self
            .db
            .visit(
                &sha256_hex(cookie.as_bytes()),
                self.now(),
                self.settings.session_seconds,
            )?
            .map(|(session, user, challenge)| Visited {
                session,
                user,
                challenge: challenge.map(|c| self.as_of_now(c)),
            }))
    }

    /// Starts a session for `user` in `state`.
    fn begin(
        &self,
        user: &User,
        state: SessionState,
        client: &Client,
        agent: &str,
    ) -> Result<Started, PortalError> {
        let cookie = Zeroizing::new(random_token::<32>());
        let now = self.now();
        let max_age = self.settings.session_seconds;
        let lifetime = match state {
            SessionState::SignedIn => self.settings.session_seconds,
            _ => SIGN_IN_SECONDS,
        };
        let session = Session {
            id: sha256_hex(cookie.as_bytes()),
            user_id: user.id,
            state,
            csrf: random_token::<16>(),
            ip: client.ip.clone(),
            user_agent: agent.chars().take(256).collect(),
            expires_at: now + lifetime,
            challenge: None,
            enrollment: None,
            step_up_at: None,
            idle_seconds: user.role.map(|_| CONSOLE_IDLE_SECONDS),
        };
        self.db.create_session(&session, now)?;
        Ok(Started {
            session,
            cookie,
            max_age,
        })
    }

    /// Moves `session` to `to`, saved with `event` (kind, outcome, detail, from `ip`) in one
    /// transaction. Signed in, it lives its full time (a console session its idle time).
    fn advance(
        &self,
        session: &mut Session,
        to: SessionState,
        event: Option<(&str, EventKind, Outcome, &str)>,
    ) -> Result<(), PortalError> {
        if !allowed(session.state, to) {
            return Err(PortalError::Transition {
                from: session.state,
                to,
            });
        }
        session.state = to;
        match to {
            SessionState::SignedIn => {
                let lifetime = session
                    .idle_seconds
                    .unwrap_or(self.settings.session_seconds);
                session.expires_at = self.now() + lifetime;
            }
            SessionState::NewPassword => session.expires_at = self.now() + SIGN_IN_SECONDS,
            _ => {}
        }
        let line = event.map(|(ip, kind, outcome, detail)| {
            self.line(session.user_id, ip, kind, outcome, detail)
        });
        self.db.update_session(session, line.as_ref())?;
        Ok(())
    }

    /// Signs `session` in (from its password step), logged as signed in `by` from `ip`; when
    /// the help desk required a new password, the session goes on to choose one instead.
    fn sign_in(&self, session: &mut Session, by: SignedInBy, ip: &str) -> Result<(), PortalError> {
        let must_change = self
            .db
            .user(session.user_id)?
            .is_some_and(|u| u.must_change_password);
        if must_change {
            let detail = format!("{}; a new password is required first", by.detail());
            let event = (
                ip,
                EventKind::PasswordChanged,
                Outcome::Pending,
                detail.as_str(),
            );
            return self.advance(session, SessionState::NewPassword, Some(event));
        }
        let event = (ip, EventKind::Session, Outcome::SignedIn, by.detail());
        self.advance(session, SessionState::SignedIn, Some(event))
    }

    /// The new password a session at [`SessionState::NewPassword`] chose (typed twice): the
    /// policy applies, and it must not be the old one. Set, it signs the session in.
    pub async fn change_password(
        self: &Arc<Self>,
        mut session: Session,
        user: User,
        password: Zeroizing<String>,
        again: Zeroizing<String>,
    ) -> Result<Result<(), &'static str>, PortalError> {
        if session.state != SessionState::NewPassword {
            return Err(PortalError::Transition {
                from: session.state,
                to: SessionState::SignedIn,
            });
        }
        if *password != *again {
            return Ok(Err("The two passwords are not the same."));
        }
        self.blocking(move |p| {
            if p.check_password(&user.username, &password)?.is_some() {
                return Ok(Err("Choose a password other than your current one."));
            }
            match p.set_password(&user, &password) {
                Err(PortalError::BadPassword(why)) => return Ok(Err(why)),
                other => other?,
            }
            let ip = session.ip.clone();
            let event = (
                ip.as_str(),
                EventKind::Session,
                Outcome::SignedIn,
                "a new password chosen, as the help desk required",
            );
            p.advance(&mut session, SessionState::SignedIn, Some(event))?;
            Ok(Ok(()))
        })
        .await
    }

    /// A sign-in with a password: the throttles, the password (Argon2id, on a blocking thread),
    /// the rules for who may go on, then the session and its second factor: a push to the
    /// enrolled device, a TOTP code, or enrollment.
    /// `console`: the help-desk console's sign-in, which only console accounts may use.
    pub async fn login(
        self: &Arc<Self>,
        username: String,
        password: Zeroizing<String>,
        (client, agent): (Client, String),
        console: bool,
    ) -> Result<Login, PortalError> {
        let push_client = client.clone();
        let checked = self
            .blocking(move |p| p.check_login(&username, &password, &client, &agent, console))
            .await?;
        match checked {
            Checked::Done(login) => Ok(login),
            Checked::Push(begun) => {
                let (mut started, user) = *begun;
                let pushed = self
                    .request_push(&mut started.session, &user, Purpose::Login, &push_client)
                    .await?;
                Ok(Login::Started(Box::new(started), Next::Push(pushed)))
            }
        }
    }

    /// The blocking part of [`Portal::login`].
    fn check_login(
        &self,
        username: &str,
        password: &str,
        client: &Client,
        agent: &str,
        console: bool,
    ) -> Result<Checked, PortalError> {
        let ip = client.ip.as_str();
        let refused = |outcome: Outcome, detail: &str| -> Result<(), PortalError> {
            if let Some(known) = self.db.user_by_name(username.trim())? {
                self.log(known.id, ip, EventKind::LoginPassword, outcome, detail)?;
            }
            Ok(())
        };
        let attempt = match self.password_attempt(ip, Some(username))? {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                refused(Outcome::Refused, "too many wrong passwords")?;
                return Ok(Checked::Done(Login::Throttled { retry_after }));
            }
        };
        let Some(user) = self.check_password(username, password)? else {
            refused(Outcome::Failed, "wrong password")?;
            return Ok(Checked::Done(Login::WrongPassword));
        };
        self.password_ok(Some(attempt), &user.username)?;
        let password_step = |outcome: Outcome, detail: &str| {
            self.log(user.id, ip, EventKind::LoginPassword, outcome, detail)
        };
        if user.suspended {
            password_step(Outcome::Refused, "suspended")?;
            return Ok(Checked::Done(Login::Suspended));
        }
        if console && user.role.is_none() {
            password_step(Outcome::Refused, "not a console account")?;
            return Ok(Checked::Done(Login::NotConsole));
        }
        let mfa_needed = user.mfa_needed(self.now());
        if mfa_needed && user.locked(self.now()) {
            password_step(Outcome::Refused, "locked out")?;
            return Ok(Checked::Done(Login::LockedOut));
        }
        password_step(Outcome::Ok, "")?;
        if !mfa_needed {
            let mut started = self.begin(&user, SessionState::Password, client, agent)?;
            self.sign_in(&mut started.session, SignedInBy::PasswordOnly, ip)?;
            return Ok(Checked::Done(Login::Started(Box::new(started), Next::Home)));
        }
        let started = self.begin(&user, SessionState::Password, client, agent)?;
        let next = if user.device_id.is_some() {
            return Ok(Checked::Push(Box::new((started, user))));
        } else if user.totp_secret.is_some() {
            Next::Totp
        } else {
            Next::Enroll
        };
        Ok(Checked::Done(Login::Started(Box::new(started), next)))
    }

    /// Sends a push for `purpose` that `session` then waits for.
    async fn request_push(
        self: &Arc<Self>,
        session: &mut Session,
        user: &User,
        purpose: Purpose,
        client: &Client,
    ) -> Result<Pushed, PortalError> {
        match self
            .send_challenge(user, purpose, client, Some(session))
            .await
        {
            Ok(challenge) => {
                session.challenge = Some(challenge.id);
                Ok(Pushed::Sent)
            }
            Err(PortalError::PushLimited { retry_after }) => Ok(Pushed::Limited { retry_after }),
            Err(e) => Err(e),
        }
    }

    /// The push `session` waits for (`challenge`, as [`Portal::visit`] read it); once it is
    /// approved, the session moves on (the first poll after the approval moves it; every later
    /// one answers the same). Only that move reaches the database.
    pub async fn push_progress(
        self: &Arc<Self>,
        session: Session,
        challenge: Option<ChallengeRow>,
    ) -> Result<PushProgress, PortalError> {
        match challenge {
            Some(c) if c.status == ChallengeStatus::Approved => {
                self.quick(move |p| p.follow_approval(session, c)).await
            }
            challenge => Ok(PushProgress {
                challenge,
                next: None,
            }),
        }
    }

    /// Moves `session` on after its push was approved.
    fn follow_approval(
        &self,
        mut session: Session,
        challenge: ChallengeRow,
    ) -> Result<PushProgress, PortalError> {
        let next = match (challenge.purpose, session.state) {
            (Purpose::Login, SessionState::Password) => {
                let ip = session.ip.clone();
                self.sign_in(&mut session, SignedInBy::Push, &ip)?;
                Destination::Home
            }
            (Purpose::StepUp, SessionState::SignedIn) => {
                if session.step_up_at.is_none_or(|t| t < challenge.iat) {
                    session.step_up_at = Some(self.now());
                    self.db.update_session(&session, None)?;
                }
                Destination::Protected
            }
            (Purpose::PasswordReset, SessionState::ResetPending) => {
                self.advance(&mut session, SessionState::Reset, None)?;
                Destination::NewPassword
            }
            (Purpose::PasswordReset, SessionState::Reset) => Destination::NewPassword,
            _ => Destination::Home,
        };
        Ok(PushProgress {
            challenge: Some(challenge),
            next: Some(next),
        })
    }

    /// "Send again": a new push for the session's step (within the push limit), which
    /// withdraws the one it waited for.
    pub async fn send_again(
        self: &Arc<Self>,
        mut session: Session,
        user: User,
        client: Client,
    ) -> Result<SendAgain, PortalError> {
        let purpose = match session.state {
            SessionState::Password => Purpose::Login,
            SessionState::SignedIn => Purpose::StepUp,
            SessionState::ResetPending => Purpose::PasswordReset,
            SessionState::Reset => return Ok(SendAgain::ResetReady),
            SessionState::NewPassword => return Ok(SendAgain::PasswordDue),
        };
        let pushed = self
            .request_push(&mut session, &user, purpose, &client)
            .await?;
        Ok(SendAgain::Pushed(pushed))
    }

    /// A TOTP code for a session at its second factor. A right one signs the session in and
    /// withdraws the push it was waiting for; the lock ends the session.
    pub fn totp_sign_in(
        &self,
        session: &mut Session,
        user: &User,
        code: &str,
        client: &Client,
    ) -> Result<TotpOutcome, PortalError> {
        let outcome = self.check_totp(user, code, client)?;
        match outcome {
            TotpOutcome::Accepted => {
                if let Some(old) = session.challenge.take() {
                    self.db.settle_challenge(
                        &old,
                        ChallengeStatus::Cancelled,
                        Some(ChallengeReason::TotpUsed),
                        None,
                    )?;
                }
                self.sign_in(session, SignedInBy::Totp, &client.ip)?;
            }
            // Ended by the lock already (with the user's other sign-ins under way).
            TotpOutcome::Locked => self.db.end_session(&session.id, SessionEnd::LockedOut)?,
            TotpOutcome::Rejected { .. } | TotpOutcome::NotEnrolled => {}
        }
        Ok(outcome)
    }

    /// The session's live enrollment URI, creating an enrollment when it has none, or its one
    /// was used or is about to expire.
    pub fn session_enrollment(
        &self,
        session: &mut Session,
        user: &User,
    ) -> Result<Zeroizing<String>, PortalError> {
        if let Some(token) = &session.enrollment
            && let Some(e) = self.db.enrollment(token)?
            && !e.used
            && e.expires_at > self.now() + 30
        {
            return self.enrollment_uri(user, &e);
        }
        let (e, uri) = self.start_enrollment(user)?;
        session.enrollment = Some(e.token);
        self.db.update_session(session, None)?;
        Ok(uri)
    }

    /// The device the session's enrollment registered, once it did; a session at its password
    /// step is signed in by it.
    pub fn enrollment_done(
        &self,
        session: &mut Session,
        user: &User,
    ) -> Result<Option<Device>, PortalError> {
        let device = match (&session.enrollment, &user.device_id) {
            (Some(token), Some(device_id)) => self
                .db
                .device(device_id)?
                .filter(|d| &d.enrollment == token),
            _ => None,
        };
        if device.is_some() && session.state == SessionState::Password {
            let ip = session.ip.clone();
            self.sign_in(session, SignedInBy::Enrollment, &ip)?;
        }
        Ok(device)
    }

    /// Completes the session's enrollment with a third-party app's code; a session at its
    /// password step is signed in by it. `false` when the code did not match.
    pub fn enroll_with_code(
        &self,
        session: &mut Session,
        user: &User,
        code: &str,
    ) -> Result<bool, PortalError> {
        let token = session.enrollment.clone().unwrap_or_default();
        let ip = session.ip.clone();
        if !self.confirm_totp_enrollment(user, &token, code, &ip)? {
            return Ok(false);
        }
        if session.state == SessionState::Password {
            self.sign_in(session, SignedInBy::TotpEnrollment, &ip)?;
        }
        Ok(true)
    }

    /// A protected page: shown when the last step-up approval is young enough (or there is no
    /// device to ask); otherwise a step-up push is sent, unless one is on its way.
    pub async fn step_up(
        self: &Arc<Self>,
        visited: Visited,
        client: Client,
    ) -> Result<StepUp, PortalError> {
        let Visited {
            mut session,
            user,
            challenge,
        } = visited;
        if user.device_id.is_none() {
            return Ok(StepUp::NoDevice);
        }
        let now = self.now();
        if session
            .step_up_at
            .is_some_and(|t| now < t + self.settings.step_up_seconds)
        {
            return Ok(StepUp::Fresh);
        }
        if challenge
            .is_some_and(|c| c.status == ChallengeStatus::Pending && c.purpose == Purpose::StepUp)
        {
            return Ok(StepUp::Waiting);
        }
        let pushed = self
            .request_push(&mut session, &user, Purpose::StepUp, &client)
            .await?;
        Ok(StepUp::Pushed(pushed))
    }

    /// A password-reset request: a push to the user's enrolled device, which a new session
    /// waits for. Counted against the address's sign-in budget.
    pub async fn start_reset(
        self: &Arc<Self>,
        username: String,
        client: Client,
        agent: String,
    ) -> Result<ResetStart, PortalError> {
        let push_client = client.clone();
        let begun = self
            .blocking(move |p| {
                if let Err(retry_after) = p.password_attempt(&client.ip, None)? {
                    return Ok(Err(ResetStart::Throttled { retry_after }));
                }
                let user =
                    p.db.user_by_name(username.trim())?
                        .filter(|u| u.device_id.is_some() && !u.suspended);
                let Some(user) = user else {
                    return Ok(Err(ResetStart::NotSent));
                };
                let started = p.begin(&user, SessionState::ResetPending, &client, &agent)?;
                Ok(Ok((started, user)))
            })
            .await?;
        let (mut started, user) = match begun {
            Ok(begun) => begun,
            Err(refused) => return Ok(refused),
        };
        let pushed = self
            .request_push(
                &mut started.session,
                &user,
                Purpose::PasswordReset,
                &push_client,
            )
            .await?;
        Ok(ResetStart::Started(Box::new(started), pushed))
    }

    /// Sets the new password of a reset the device approved, and ends the session: the user
    /// signs in again with the new password. A password the rules refuse changes nothing.
    pub async fn finish_reset(
        self: &Arc<Self>,
        session: Session,
        user: User,
        password: Zeroizing<String>,
    ) -> Result<(), PortalError> {
        if session.state != SessionState::Reset {
            return Err(PortalError::Transition {
                from: session.state,
                to: SessionState::Reset,
            });
        }
        self.blocking(move |p| {
            p.set_password(&user, &password)?;
            p.db.end_session(&session.id, SessionEnd::PasswordChanged)?;
            p.log(
                user.id,
                &session.ip,
                EventKind::PasswordReset,
                Outcome::Ok,
                "approved by push",
            )?;
            Ok(())
        })
        .await
    }

    /// Ends the session `id` for `why` (withdrawing the push it waits for), logged from `ip`.
    pub(super) fn end_session(
        &self,
        id: &str,
        why: SessionEnd,
        user_id: i64,
        ip: &str,
    ) -> Result<(), PortalError> {
        self.db.end_session(id, why)?;
        self.log(
            user_id,
            ip,
            EventKind::Session,
            Outcome::Ended,
            why.detail(),
        )?;
        Ok(())
    }

    /// Signs the session out.
    pub fn sign_out(&self, session: &Session) -> Result<(), PortalError> {
        Ok(self.db.end_session(&session.id, SessionEnd::SignedOut)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sign_in_steps_are_transitions() {
        use SessionState::*;
        let all = [Password, SignedIn, ResetPending, Reset, NewPassword];
        let moves: Vec<_> = all
            .iter()
            .flat_map(|&from| all.iter().map(move |&to| (from, to)))
            .filter(|&(from, to)| allowed(from, to))
            .collect();
        assert_eq!(
            moves,
            [
                (Password, SignedIn),
                (Password, NewPassword),
                (ResetPending, Reset),
                (NewPassword, SignedIn),
            ]
        );
    }
}
