//! The help desk: who acts ([`Actor`]) and what their role lets them do ([`Permission`]), the
//! actions on users ([`Action`]), and what the console shows (dashboard counts, searches, a
//! user's page). The console's pages, the JSON API (`/admin/api/...`) and the `portal admin ...`
//! subcommands all come here, so a role is enforced in one place for all of them, and every
//! action is written to the user's event log naming the admin who took it.

use serde::Serialize;

use super::{Portal, PortalError};
use crate::alerts::AlertKind;
use crate::db::{
    Accounts, Counts, DeviceRecord, Event, EventKind, LogLine, Outcome, Role, User, UserQuery,
    UserStatus,
};

/// Rows on a page of the console's lists and event log.
pub const PAGE_ROWS: u64 = 25;

/// How long a removal of the MFA requirement lasts unless the admin says otherwise (hours).
pub const DEFAULT_MFA_REMOVAL_HOURS: u64 = 24;

/// The longest removal of the MFA requirement (hours): it is for a lost phone, not for good.
pub const MAX_MFA_REMOVAL_HOURS: u64 = 7 * 24;

/// What an admin may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See the dashboard, users and their logs.
    View,
    /// The help-desk actions on users.
    ActOnUsers,
    /// Console accounts: create them, change their roles, act on them, require their MFA.
    ManageAdmins,
}

impl Permission {
    /// What it allows, for a refusal's message.
    fn what(self) -> &'static str {
        match self {
            Self::View => "view the console",
            Self::ActOnUsers => "act on users",
            Self::ManageAdmins => "manage console accounts",
        }
    }
}

impl Role {
    /// Whether this role has `permission`.
    pub fn may(self, permission: Permission) -> bool {
        match self {
            Self::Administrator => true,
            Self::HelpDesk => permission != Permission::ManageAdmins,
            Self::ReadOnly => permission == Permission::View,
        }
    }
}

/// Who takes a help-desk action, with what role, from where: an admin signed in to the console,
/// a script with the shared token, or `portal admin` on the server.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The admin's name (`admin-token`, `cli` for the others), written to the event log.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Their client address (`cli` on the server).
    pub ip: String,
}

impl Actor {
    /// `portal admin ...` on the server: whoever can run it owns the database anyway.
    pub fn cli() -> Self {
        Self {
            name: "cli".into(),
            role: Role::Administrator,
            ip: "cli".into(),
        }
    }

    /// A script holding the shared admin token (configured on the server).
    pub fn token(ip: &str) -> Self {
        Self {
            name: "admin-token".into(),
            role: Role::Administrator,
            ip: ip.into(),
        }
    }

    /// The console account `user`, from `ip`; `None` when it has no role.
    pub fn console(user: &User, ip: &str) -> Option<Self> {
        Some(Self {
            name: user.username.clone(),
            role: user.role?,
            ip: ip.into(),
        })
    }

    /// Whether the actor may act with `permission`.
    pub fn may(&self, permission: Permission) -> bool {
        self.role.may(permission)
    }

    /// Refuses what the actor's role does not allow.
    pub fn require(&self, permission: Permission) -> Result<(), PortalError> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(PortalError::Forbidden(format!(
                "the {} role cannot {}",
                self.role.label().to_lowercase(),
                permission.what()
            )))
        }
    }
}

/// One account as the help desk sees it.
#[derive(Debug, Clone, Serialize)]
pub struct UserSummary {
    /// The login name.
    pub username: String,
    /// A console account's role (`None`: a user of the portal's applications).
    pub role: Option<Role>,
    /// Whether MFA is required at login.
    pub mfa_required: bool,
    /// Until when the help desk removed the MFA requirement (unix seconds).
    pub mfa_off_until: Option<u64>,
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
    /// A new password is required at the next sign-in.
    pub must_change_password: bool,
    /// When the account was created (unix seconds).
    pub created_at: u64,
}

/// A help-desk action on one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Action {
    /// Clear the failed-attempt counters and any lockout.
    Unlock,
    /// Remove push and TOTP; the user enrolls again at the next login.
    ResetMfa,
    /// Let the user sign in with the password alone, for a while.
    RemoveMfa,
    /// Require MFA again.
    RequireMfa,
    /// Block sign-in and end the user's sessions.
    Suspend,
    /// Lift a suspension.
    Restore,
    /// Require a new password at the next sign-in.
    ForcePasswordChange,
}

impl Action {
    /// Every action, in the console's order.
    pub const ALL: [Action; 7] = [
        Self::Unlock,
        Self::ResetMfa,
        Self::RemoveMfa,
        Self::RequireMfa,
        Self::Suspend,
        Self::Restore,
        Self::ForcePasswordChange,
    ];

    /// The URL segment and event name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unlock => "unlock",
            Self::ResetMfa => "reset-mfa",
            Self::RemoveMfa => "remove-mfa",
            Self::RequireMfa => "require-mfa",
            Self::Suspend => "suspend",
            Self::Restore => "restore",
            Self::ForcePasswordChange => "force-password-change",
        }
    }

    /// The button's words.
    pub fn label(self) -> &'static str {
        match self {
            Self::Unlock => "Unlock",
            Self::ResetMfa => "Reset MFA",
            Self::RemoveMfa => "Remove MFA requirement",
            Self::RequireMfa => "Require MFA",
            Self::Suspend => "Suspend",
            Self::Restore => "Restore",
            Self::ForcePasswordChange => "Force password change",
        }
    }

    /// What confirming it does, in a sentence for the confirmation page.
    pub fn consequence(self) -> &'static str {
        match self {
            Self::Unlock => {
                "The wrong-code and wrong-password counters are cleared and any lockout ends now."
            }
            Self::ResetMfa => {
                "The push device is retired and the TOTP secret deleted; every session ends, and \
                 the next sign-in enrolls a device again."
            }
            Self::RemoveMfa => {
                "The password alone signs in until the time below, or until MFA is required \
                 again. Use this only after checking who is asking."
            }
            Self::RequireMfa => "The next sign-in needs the second factor again.",
            Self::Suspend => "No sign-in is possible, and every session ends now.",
            Self::Restore => "Sign-in is possible again.",
            Self::ForcePasswordChange => {
                "The next sign-in must choose a new password before it is signed in."
            }
        }
    }

    /// Whether it is a user's sensible next step, given the user's state (the console shows
    /// the others less prominently).
    pub fn applies(self, user: &UserSummary) -> bool {
        match self {
            Self::Unlock => user.locked || user.failed_totp > 0,
            Self::ResetMfa => user.push_enrolled || user.totp_enrolled,
            Self::RemoveMfa => user.mfa_required,
            Self::RequireMfa => !user.mfa_required,
            Self::Suspend => !user.suspended,
            Self::Restore => user.suspended,
            Self::ForcePasswordChange => !user.must_change_password,
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
            Self::ForcePasswordChange => Outcome::ForcePasswordChange,
        }
    }

    /// Reads a URL segment.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// A page of a console search.
#[derive(Debug, Clone, Serialize)]
pub struct UserPage {
    /// The accounts on this page.
    pub users: Vec<UserSummary>,
    /// How many match in all.
    pub total: u64,
    /// This page's number, from 1.
    pub page: u64,
}

impl UserPage {
    /// Whether a later page exists.
    pub fn has_next(&self) -> bool {
        self.page * PAGE_ROWS < self.total
    }
}

/// A user's page in the console: their state, device, and a page of their log, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct UserDetail {
    /// The account.
    pub user: UserSummary,
    /// The push device, if one is enrolled.
    pub device: Option<DeviceRecord>,
    /// Events, newest first.
    pub events: Vec<Event>,
    /// The id to ask for the next (older) page from, when there is one.
    pub older: Option<i64>,
}

impl Portal {
    /// The summary of `user` at `now`.
    fn summary(&self, user: &User, now: u64) -> Result<UserSummary, PortalError> {
        let device = match &user.device_id {
            Some(id) => self
                .db
                .device(id)?
                .map(|d| format!("{} ({})", d.name, d.platform)),
            None => None,
        };
        Ok(UserSummary {
            username: user.username.clone(),
            role: user.role,
            mfa_required: user.mfa_required,
            mfa_off_until: user.mfa_off_until.filter(|_| !user.mfa_required),
            push_enrolled: user.device_id.is_some(),
            totp_enrolled: user.totp_secret.is_some(),
            device,
            locked: user.locked(now),
            locked_until: user.locked_until.filter(|&t| t > now),
            failed_totp: user.failed_totp,
            suspended: user.suspended,
            must_change_password: user.must_change_password,
            created_at: user.created_at,
        })
    }

    /// Every account with its MFA, lockout and suspension state (`portal admin list`).
    pub fn list_users(&self) -> Result<Vec<UserSummary>, PortalError> {
        let now = self.now();
        self.db
            .users()?
            .iter()
            .map(|u| self.summary(u, now))
            .collect()
    }

    /// The account `username`, if `actor` may see it: console accounts only to those who
    /// manage them.
    fn account_for(
        &self,
        actor: &Actor,
        username: &str,
        permission: Permission,
    ) -> Result<User, PortalError> {
        actor.require(permission)?;
        let user = self.user(username)?;
        if user.role.is_some() {
            actor.require(Permission::ManageAdmins)?;
        }
        Ok(user)
    }

    /// Whether `actor` may act on the account `username` (for a confirmation page).
    pub fn may_act_on(&self, actor: &Actor, username: &str) -> Result<(), PortalError> {
        self.account_for(actor, username, Permission::ActOnUsers)
            .map(drop)
    }

    /// Applies a help-desk action for `actor`, logged with their name and address and alerted.
    /// `hours`: how long a removal of the MFA requirement lasts (default 24, at most 168).
    pub fn admin_action(
        &self,
        username: &str,
        action: Action,
        actor: &Actor,
        hours: Option<u64>,
    ) -> Result<UserSummary, PortalError> {
        let user = self.account_for(actor, username, Permission::ActOnUsers)?;
        if user.username == actor.name
            && matches!(
                action,
                Action::Suspend | Action::ResetMfa | Action::RemoveMfa
            )
        {
            return Err(PortalError::Invalid(
                "you cannot suspend yourself, reset your own MFA or remove its requirement",
            ));
        }
        let now = self.now();
        let mut detail = String::new();
        match action {
            Action::Unlock => {
                self.db.unlock(user.id)?;
                self.password_ok(None, &user.username)?;
            }
            Action::ResetMfa => self.db.reset_mfa(user.id)?,
            Action::RemoveMfa => {
                let hours = hours.unwrap_or(DEFAULT_MFA_REMOVAL_HOURS);
                if !(1..=MAX_MFA_REMOVAL_HOURS).contains(&hours) {
                    return Err(PortalError::Invalid(
                        "the MFA requirement is removed for 1 to 168 hours",
                    ));
                }
                let until = now + hours * 3600;
                self.db.set_mfa_required(user.id, Some(until))?;
                detail = format!("for {hours} h, until {}", crate::html::utc(until));
            }
            Action::RequireMfa => self.db.set_mfa_required(user.id, None)?,
            Action::Suspend => self.db.set_suspended(user.id, true)?,
            Action::Restore => self.db.set_suspended(user.id, false)?,
            Action::ForcePasswordChange => self.db.set_must_change_password(user.id, true)?,
        }
        self.log_admin(user.id, actor, action.outcome(), &detail)?;
        self.alert(
            &user,
            AlertKind::AdminAction,
            &actor.ip,
            &format!("{} by {}", action.name(), actor.name),
        );
        let user = self.user(username)?;
        self.summary(&user, now)
    }

    /// Writes an admin's action to `user_id`'s log.
    fn log_admin(
        &self,
        user_id: i64,
        actor: &Actor,
        outcome: Outcome,
        detail: &str,
    ) -> Result<(), PortalError> {
        self.db.log(&LogLine {
            actor: Some(&actor.name),
            ..self.line(user_id, &actor.ip, EventKind::Admin, outcome, detail)
        })?;
        Ok(())
    }

    /// A user's event log, oldest first (the API and `portal admin events`).
    pub fn user_events(&self, username: &str) -> Result<Vec<Event>, PortalError> {
        let user = self.user(username)?;
        self.expire_due()?;
        Ok(self.db.events(user.id)?)
    }

    /// [`Portal::user_events`], for `actor`.
    pub fn user_events_for(
        &self,
        actor: &Actor,
        username: &str,
    ) -> Result<Vec<Event>, PortalError> {
        self.account_for(actor, username, Permission::View)?;
        self.user_events(username)
    }

    /// The dashboard's counts.
    pub fn dashboard(&self, actor: &Actor) -> Result<Counts, PortalError> {
        actor.require(Permission::View)?;
        Ok(self.db.counts(self.now())?)
    }

    /// A page (from 1) of the accounts whose name contains `name`, in `status` if given.
    /// Console accounts are listed only to those who manage them.
    pub fn find_users(
        &self,
        actor: &Actor,
        accounts: Accounts,
        (name, status): (&str, Option<UserStatus>),
        page: u64,
    ) -> Result<UserPage, PortalError> {
        actor.require(match accounts {
            Accounts::Users => Permission::View,
            Accounts::Admins => Permission::ManageAdmins,
        })?;
        let page = page.max(1);
        let now = self.now();
        let query = UserQuery {
            accounts,
            name: name.trim(),
            status,
            offset: (page - 1) * PAGE_ROWS,
            limit: PAGE_ROWS,
        };
        let (users, total) = self.db.find_users(&query, now)?;
        let users = users
            .iter()
            .map(|u| self.summary(u, now))
            .collect::<Result<_, _>>()?;
        Ok(UserPage { users, total, page })
    }

    /// A user's page: state, device, and the log page before the event `before`.
    pub fn user_detail(
        &self,
        actor: &Actor,
        username: &str,
        before: Option<i64>,
    ) -> Result<UserDetail, PortalError> {
        let user = self.account_for(actor, username, Permission::View)?;
        let device = match &user.device_id {
            Some(id) => self.db.device_record(id)?,
            None => None,
        };
        let mut events = self.db.events_page(user.id, before, PAGE_ROWS + 1)?;
        let older = (events.len() as u64 > PAGE_ROWS).then(|| {
            events.truncate(PAGE_ROWS as usize);
            events.last().map_or(0, |e| e.id)
        });
        Ok(UserDetail {
            user: self.summary(&user, self.now())?,
            device,
            events,
            older,
        })
    }

    /// Creates a console account with `role`; MFA is required from its first sign-in, and a
    /// new password too when another admin chose this one.
    pub fn create_admin(
        &self,
        actor: &Actor,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<User, PortalError> {
        actor.require(Permission::ManageAdmins)?;
        let user = self.create_account(username, password, Some(role), &actor.ip)?;
        self.log_admin(user.id, actor, Outcome::SetRole, role.as_str())?;
        // A first password another admin chose is changed at the first sign-in (the server's
        // operator, `cli`, sets their own).
        if actor.name != Actor::cli().name {
            self.db.set_must_change_password(user.id, true)?;
        }
        self.user(username)
    }

    /// Changes a console account's role. An administrator cannot change their own (so the
    /// console always keeps one).
    pub fn set_role(&self, actor: &Actor, username: &str, role: Role) -> Result<(), PortalError> {
        let user = self.account_for(actor, username, Permission::ManageAdmins)?;
        if user.role.is_none() {
            return Err(PortalError::Invalid("only console accounts have roles"));
        }
        if user.username == actor.name {
            return Err(PortalError::Invalid("you cannot change your own role"));
        }
        self.db.set_role(user.id, role)?;
        self.log_admin(user.id, actor, Outcome::SetRole, role.as_str())?;
        self.alert(
            &user,
            AlertKind::AdminAction,
            &actor.ip,
            &format!("set-role {} by {}", role.as_str(), actor.name),
        );
        Ok(())
    }

    /// Requires MFA for every console account without it; returns how many changed.
    pub fn require_mfa_for_admins(&self, actor: &Actor) -> Result<usize, PortalError> {
        actor.require(Permission::ManageAdmins)?;
        let changed = self.db.require_mfa_for_admins()?;
        for &id in &changed {
            self.log_admin(id, actor, Outcome::RequireMfa, "every console account")?;
            if let Some(user) = self.db.user(id)? {
                let detail = format!("require-mfa (every console account) by {}", actor.name);
                self.alert(&user, AlertKind::AdminAction, &actor.ip, &detail);
            }
        }
        Ok(changed.len())
    }

    /// The relying parties (administrators only).
    pub fn clients_for(&self, actor: &Actor) -> Result<Vec<crate::db::RpClient>, PortalError> {
        actor.require(Permission::ManageAdmins)?;
        self.clients()
    }

    /// Registers a relying party for `actor` (administrators only); its key, shown once.
    pub fn create_client_for(
        &self,
        actor: &Actor,
        name: &str,
        mode: crate::db::ClientMode,
        request_key: Option<&str>,
    ) -> Result<(crate::db::RpClient, zeroize::Zeroizing<String>), PortalError> {
        actor.require(Permission::ManageAdmins)?;
        let created = self.create_client(name, mode, request_key)?;
        tracing::info!(client = %created.0.name, admin = %actor.name, ip = %actor.ip, "relying party registered");
        Ok(created)
    }

    /// Removes a relying party for `actor` (administrators only).
    pub fn delete_client_for(&self, actor: &Actor, name: &str) -> Result<(), PortalError> {
        actor.require(Permission::ManageAdmins)?;
        if !self.delete_client(name)? {
            return Err(PortalError::NoSuchUser);
        }
        tracing::info!(client = %name, admin = %actor.name, ip = %actor.ip, "relying party removed");
        Ok(())
    }

    /// Requires MFA again where a help-desk removal ran out (the periodic expiry runs this).
    pub(super) fn restore_due_mfa(&self) -> Result<(), PortalError> {
        for id in self.db.restore_due_mfa(self.now())? {
            self.log(
                id,
                "portal",
                EventKind::Admin,
                Outcome::RequireMfa,
                "the removal of the MFA requirement ran out",
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_has_exactly_its_permissions() {
        use Permission::*;
        let allowed = |role: Role| -> Vec<Permission> {
            [View, ActOnUsers, ManageAdmins]
                .into_iter()
                .filter(|&p| role.may(p))
                .collect()
        };
        assert_eq!(
            allowed(Role::Administrator),
            [View, ActOnUsers, ManageAdmins]
        );
        assert_eq!(allowed(Role::HelpDesk), [View, ActOnUsers]);
        assert_eq!(allowed(Role::ReadOnly), [View]);
    }

    #[test]
    fn action_names_read_back() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.name()), Some(action));
        }
        assert_eq!(Action::parse("delete-everything"), None);
    }
}
