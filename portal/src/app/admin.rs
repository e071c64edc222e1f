//! Help-desk actions, shared by the JSON API (`/admin/api/...`, admin token) and the
//! `portal admin ...` subcommands. Every action is written to the user's event log.

use serde::Serialize;

use super::{Portal, PortalError};
use crate::alerts::AlertKind;
use crate::db::{Event, EventKind, Outcome};

/// One user as the help desk sees it.
#[derive(Debug, Clone, Serialize)]
pub struct UserSummary {
    /// The user's login name.
    pub username: String,
    /// Whether MFA is required at login.
    pub mfa_required: bool,
    /// Push device enrolled.
    pub push_enrolled: bool,
    /// TOTP enrolled.
    pub totp_enrolled: bool,
    /// The push device's name and platform.
    pub device: Option<String>,
    /// Locked out after too many wrong TOTP codes.
    pub locked: bool,
    /// Until when (unix seconds).
    pub locked_until: Option<u64>,
    /// Wrong TOTP codes since the last success or unlock.
    pub failed_totp: u32,
    /// Suspended: no sign-in at all.
    pub suspended: bool,
}

/// A help-desk action on one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Action {
    /// Clear the failed-attempt counter and any lockout.
    Unlock,
    /// Remove push and TOTP; the user enrolls again at the next login.
    ResetMfa,
    /// Let the user sign in with the password alone (until `require-mfa`).
    RemoveMfa,
    /// Require MFA again.
    RequireMfa,
    /// Block sign-in and end the user's sessions.
    Suspend,
    /// Lift a suspension.
    Restore,
}

impl Action {
    /// The URL segment and event name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unlock => "unlock",
            Self::ResetMfa => "reset-mfa",
            Self::RemoveMfa => "remove-mfa",
            Self::RequireMfa => "require-mfa",
            Self::Suspend => "suspend",
            Self::Restore => "restore",
        }
    }

    /// The event's outcome for this action.
    fn outcome(self) -> Outcome {
        match self {
            Self::Unlock => Outcome::Unlock,
            Self::ResetMfa => Outcome::ResetMfa,
            Self::RemoveMfa => Outcome::RemoveMfa,
            Self::RequireMfa => Outcome::RequireMfa,
            Self::Suspend => Outcome::Suspend,
            Self::Restore => Outcome::Restore,
        }
    }

    /// Reads a URL segment.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Unlock,
            Self::ResetMfa,
            Self::RemoveMfa,
            Self::RequireMfa,
            Self::Suspend,
            Self::Restore,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }
}

impl Portal {
    /// Every user with their MFA, lockout and suspension state.
    pub fn list_users(&self) -> Result<Vec<UserSummary>, PortalError> {
        let now = self.now();
        let mut out = Vec::new();
        for user in self.db.users()? {
            let device = match &user.device_id {
                Some(id) => self
                    .db
                    .device(id)?
                    .map(|d| format!("{} ({})", d.name, d.platform)),
                None => None,
            };
            out.push(UserSummary {
                username: user.username.clone(),
                mfa_required: user.mfa_required,
                push_enrolled: user.device_id.is_some(),
                totp_enrolled: user.totp_secret.is_some(),
                device,
                locked: user.locked(now),
                locked_until: user.locked_until.filter(|&t| t > now),
                failed_totp: user.failed_totp,
                suspended: user.suspended,
            });
        }
        Ok(out)
    }

    /// Applies a help-desk action; `actor` goes into the event log (`admin-api`, `cli`).
    pub fn admin_action(
        &self,
        username: &str,
        action: Action,
        actor: &str,
    ) -> Result<UserSummary, PortalError> {
        let user = self.user(username)?;
        match action {
            Action::Unlock => {
                self.db.unlock(user.id)?;
                self.password_ok(None, &user.username)?;
            }
            Action::ResetMfa => self.db.reset_mfa(user.id)?,
            Action::RemoveMfa => self.db.set_mfa_required(user.id, false)?,
            Action::RequireMfa => self.db.set_mfa_required(user.id, true)?,
            Action::Suspend => self.db.set_suspended(user.id, true)?,
            Action::Restore => self.db.set_suspended(user.id, false)?,
        }
        self.log(user.id, actor, EventKind::Admin, action.outcome(), "")?;
        self.alert(
            &user,
            AlertKind::AdminAction,
            actor,
            &format!("{} by {actor}", action.name()),
        );
        self.list_users()?
            .into_iter()
            .find(|u| u.username == user.username)
            .ok_or(PortalError::NoSuchUser)
    }

    /// A user's event log, oldest first.
    pub fn user_events(&self, username: &str) -> Result<Vec<Event>, PortalError> {
        let user = self.user(username)?;
        self.expire_due()?;
        Ok(self.db.events(user.id)?)
    }
}
