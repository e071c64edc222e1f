//! `pam_assent`: a PAM module that asks the Assent portal to verify a Linux login — a push to
//! the user's phone (showing the number to type when the portal's client uses number
//! matching), or a TOTP code typed at the prompt — through the portal's relying-party API
//! (docs/portal.md, "Relying parties"). docs/device-logins.md says how to install it.
//!
//! The decision is [`authenticate`], written against two small traits — [`Talk`] (the PAM
//! conversation) and [`Api`] (the portal) — so that it is tested without PAM or a network; the
//! PAM glue ([`module`]) and the HTTP client ([`http`]) are thin. Only a verified approval or
//! code returns `PAM_SUCCESS`; with `fail_mode = "open"`, so does a portal that cannot be
//! reached before anything was asked (never a denial). Nothing panics into the calling process,
//! and the client key is never logged.

pub mod config;
pub mod http;
pub mod module;

use std::time::{Duration, Instant};

pub use config::{Config, ConfigError, FailMode};

/// The PAM conversation, as the decision needs it.
pub trait Talk {
    /// Shows a line to the user.
    fn info(&mut self, text: &str);
    /// Shows an error line to the user.
    fn error(&mut self, text: &str);
    /// Asks for a line (echoed); `None` when the user cancelled (Ctrl-C) or the conversation
    /// failed.
    fn prompt(&mut self, text: &str) -> Option<zeroize::Zeroizing<String>>;
}

/// What the portal answered (the relying-party API's `Answer`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Answer {
    /// `pending`, `approved`, `denied`, `not_me`, `expired`, `no_device`, `locked`,
    /// `mfa_not_required`, `rate_limited`, `withdrawn`, `code_required`.
    pub status: String,
    /// The verification's id.
    #[serde(default)]
    pub id: Option<String>,
    /// The number to show, with number matching.
    #[serde(default)]
    pub number: Option<String>,
    /// Seconds before a rate limit lifts.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Whether the user may type a code instead.
    #[serde(default)]
    pub code: bool,
    /// The portal's words.
    #[serde(default)]
    pub detail: Option<String>,
}

/// Why a call to the portal gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No connection, a timeout, a 5xx: the portal cannot be reached.
    Unreachable(String),
    /// The portal refused the request (a wrong key, an unknown user): its message.
    Refused(String),
}

/// The portal's relying-party API.
pub trait Api {
    /// `POST /rp/v1/verifications`.
    fn start(&self, user: &str, application: &str, ip: Option<&str>) -> Result<Answer, ApiError>;
    /// `GET /rp/v1/verifications/{id}?wait=N`.
    fn poll(&self, id: &str, wait: u64) -> Result<Answer, ApiError>;
    /// `DELETE /rp/v1/verifications/{id}`.
    fn withdraw(&self, id: &str) -> Result<Answer, ApiError>;
    /// `POST /rp/v1/codes`.
    fn code(
        &self,
        user: &str,
        code: &str,
        ip: Option<&str>,
        verification: Option<&str>,
    ) -> Result<Answer, ApiError>;
}

/// What the module returns to PAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Verified (or fail-open, or MFA not required by the portal's policy): `PAM_SUCCESS`.
    Allow(&'static str),
    /// Refused, with what the user is told: `PAM_AUTH_ERR`.
    Deny(String),
    /// The module does not apply to this user: `PAM_IGNORE`.
    Ignore,
}

/// Codes a user may type in one login before the attempt ends (the portal's lockout counts
/// them too).
pub const MAX_CODES: u32 = 3;

/// The login being verified.
#[derive(Debug, Clone)]
pub struct Login<'a> {
    /// The user name.
    pub user: &'a str,
    /// The PAM service (`sshd`, `sudo`).
    pub service: &'a str,
    /// The remote host, when the service knows it.
    pub rhost: Option<&'a str>,
    /// This machine's name.
    pub hostname: &'a str,
}

impl Login<'_> {
    /// What the phone shows: the configured application, or `sshd on build-01`.
    fn application(&self, config: &Config) -> String {
        config.application.clone().unwrap_or_else(|| {
            let what = match self.service {
                "sshd" => "ssh",
                other => other,
            };
            format!("{what} to {}", self.hostname)
        })
    }
}

/// Decides one login: the push (or code), as docs/device-logins.md describes.
pub fn authenticate(
    config: &Config,
    login: &Login<'_>,
    talk: &mut dyn Talk,
    api: &dyn Api,
) -> Decision {
    if !config.applies_to(login.user) {
        return Decision::Ignore;
    }
    let application = login.application(config);
    let started = match api.start(login.user, &application, login.rhost) {
        Ok(answer) => answer,
        Err(ApiError::Unreachable(why)) => {
            return match config.fail_mode {
                FailMode::Open => {
                    talk.error(
                        "The sign-in approval service cannot be reached: allowed without it.",
                    );
                    Decision::Allow("fail open: the portal cannot be reached")
                }
                FailMode::Closed => Decision::Deny(format!(
                    "The sign-in approval service cannot be reached ({why})."
                )),
            };
        }
        Err(ApiError::Refused(why)) => return Decision::Deny(format!("Sign-in refused: {why}.")),
    };
    match started.status.as_str() {
        "pending" => {}
        "mfa_not_required" => {
            return Decision::Allow("the portal does not require MFA for this user");
        }
        "no_device" | "code_required" if started.code => return codes_only(login, talk, api),
        _ => return Decision::Deny(settled_message(&started)),
    }
    let Some(id) = started.id.clone() else {
        return Decision::Deny("The portal's answer had no verification id.".into());
    };
    talk.info(&match &started.number {
        Some(n) => format!("Approve the sign-in on your phone — number {n}"),
        None => "Approve the sign-in on your phone.".to_owned(),
    });
    let deadline = Instant::now() + Duration::from_secs(config.timeout_seconds);
    let prompt = if started.code {
        "Type a code, or press Enter to wait for your phone: "
    } else {
        "Press Enter to wait for your phone (Ctrl-C cancels): "
    };
    let mut codes = 0;
    loop {
        let Some(typed) = talk.prompt(prompt) else {
            let _ = api.withdraw(&id);
            return Decision::Deny("Cancelled.".into());
        };
        let typed = typed.trim();
        if typed.is_empty() {
            return wait(api, &id, deadline);
        }
        codes += 1;
        match api.code(login.user, typed, login.rhost, Some(&id)) {
            Ok(a) if a.status == "approved" => return Decision::Allow("a right code"),
            Ok(a) if a.status == "denied" && codes < MAX_CODES => {
                talk.error(&format!("Wrong code. {}", a.detail.unwrap_or_default()));
            }
            Ok(a) => {
                let _ = api.withdraw(&id);
                return Decision::Deny(settled_message(&a));
            }
            Err(e) => {
                let _ = api.withdraw(&id);
                return Decision::Deny(api_message(&e));
            }
        }
        if Instant::now() >= deadline {
            let _ = api.withdraw(&id);
            return Decision::Deny("Timed out.".into());
        }
    }
}

/// A user without a push device who has TOTP: codes only.
fn codes_only(login: &Login<'_>, talk: &mut dyn Talk, api: &dyn Api) -> Decision {
    for attempt in 1..=MAX_CODES {
        let Some(typed) = talk.prompt("Code from your authenticator app: ") else {
            return Decision::Deny("Cancelled.".into());
        };
        match api.code(login.user, typed.trim(), login.rhost, None) {
            Ok(a) if a.status == "approved" => return Decision::Allow("a right code"),
            Ok(a) if a.status == "denied" && attempt < MAX_CODES => {
                talk.error(&format!("Wrong code. {}", a.detail.unwrap_or_default()));
            }
            Ok(a) => return Decision::Deny(settled_message(&a)),
            Err(e) => return Decision::Deny(api_message(&e)),
        }
    }
    Decision::Deny("Too many wrong codes.".into())
}

/// Waits for the answer until `deadline`, withdrawing the push if it comes to that.
fn wait(api: &dyn Api, id: &str, deadline: Instant) -> Decision {
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).as_secs();
        if left == 0 {
            let _ = api.withdraw(id);
            return Decision::Deny("Timed out waiting for the approval.".into());
        }
        match api.poll(id, left.min(60)) {
            Ok(a) if a.status == "pending" => continue,
            Ok(a) if a.status == "approved" => return Decision::Allow("approved on the phone"),
            Ok(a) => return Decision::Deny(settled_message(&a)),
            Err(e) => return Decision::Deny(api_message(&e)),
        }
    }
}

/// What the user is told of an answer that is not an approval.
fn settled_message(a: &Answer) -> String {
    match a.status.as_str() {
        "denied" => match &a.detail {
            Some(d) => format!("Denied: {d}."),
            None => "Denied.".into(),
        },
        "not_me" => {
            "Denied on your phone: reported as not you. Your help desk can see this request.".into()
        }
        "expired" => "The request expired: no answer in 60 seconds.".into(),
        "no_device" => "No device is set up for approvals: contact your help desk.".into(),
        "locked" => {
            "The account is locked after too many wrong codes: try later or contact your help desk."
                .into()
        }
        "rate_limited" => format!(
            "Too many sign-in requests: try again in {} seconds.",
            a.retry_after.unwrap_or(60)
        ),
        "withdrawn" => "The request was withdrawn.".into(),
        other => format!("Refused ({other})."),
    }
}

fn api_message(e: &ApiError) -> String {
    match e {
        ApiError::Unreachable(why) => {
            format!("The sign-in approval service cannot be reached ({why}).")
        }
        ApiError::Refused(why) => format!("Sign-in refused: {why}."),
    }
}

#[cfg(test)]
mod tests;
