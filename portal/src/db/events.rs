//! The per-user event log: what happened, how it ended, for the help desk.

use super::{Conn, Db, DbResult, Row, params, stored_names, to_i64, to_u64};

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The password step of a sign-in.
    LoginPassword,
    /// A browser session: signed in, or ended.
    Session,
    /// A TOTP code typed at sign-in.
    Totp,
    /// A sign-in push.
    PushLogin,
    /// A step-up push.
    PushStepUp,
    /// A password-reset push.
    PushPasswordReset,
    /// A device's activation challenge.
    PushActivate,
    /// The relay's failure to deliver a push.
    PushDelivery,
    /// The device's push address.
    PushToken,
    /// A device registered and waits for its activation.
    DeviceRegistered,
    /// Push and TOTP (or TOTP alone) set up.
    Enrolled,
    /// A newer device retired the previous one.
    DeviceReplaced,
    /// A password set through a reset.
    PasswordReset,
    /// A new password chosen at sign-in, as the help desk required.
    PasswordChanged,
    /// The user was created.
    UserCreated,
    /// A help-desk action; the outcome says which.
    Admin,
}

stored_names!(EventKind {
    LoginPassword => "login_password",
    Session => "session",
    Totp => "totp",
    PushLogin => "push_login",
    PushStepUp => "push_step_up",
    PushPasswordReset => "push_password_reset",
    PushActivate => "push_activate",
    PushDelivery => "push_delivery",
    PushToken => "push_token",
    DeviceRegistered => "device_registered",
    Enrolled => "enrolled",
    DeviceReplaced => "device_replaced",
    PasswordReset => "password_reset",
    PasswordChanged => "password_changed",
    UserCreated => "user_created",
    Admin => "admin",
});

impl EventKind {
    /// The kind of a purpose's pushes.
    pub fn push(purpose: assent_protocol::Purpose) -> Self {
        use assent_protocol::Purpose;
        match purpose {
            Purpose::Login => Self::PushLogin,
            Purpose::StepUp => Self::PushStepUp,
            Purpose::PasswordReset => Self::PushPasswordReset,
            Purpose::Activate => Self::PushActivate,
        }
    }
}

/// How an event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done as asked.
    Ok,
    /// Refused before it was tried (throttled, suspended, locked).
    Refused,
    /// Tried and wrong (password, code, delivery).
    Failed,
    /// The account locked (by this attempt or before it).
    Locked,
    /// A session signed in.
    SignedIn,
    /// A session ended before its time.
    Ended,
    /// A push was sent.
    Sent,
    /// A push was not sent: too many recently.
    RateLimited,
    /// A push was approved.
    Approved,
    /// A push was denied.
    Denied,
    /// A push was denied as "not me".
    Suspicious,
    /// A push had no answer in time.
    Expired,
    /// A device is waiting for its activation.
    Pending,
    /// A push address was replaced.
    Updated,
    /// A push address was dropped (dead token).
    Dropped,
    /// Help desk: the lock lifted.
    Unlock,
    /// Help desk: the second factors removed.
    ResetMfa,
    /// Help desk: MFA no longer required.
    RemoveMfa,
    /// Help desk: MFA required again.
    RequireMfa,
    /// Help desk: suspended.
    Suspend,
    /// Help desk: suspension lifted.
    Restore,
    /// Help desk: a new password is required at the next sign-in.
    ForcePasswordChange,
    /// Administrator: a console account's role changed.
    SetRole,
}

stored_names!(Outcome {
    Ok => "ok",
    Refused => "refused",
    Failed => "failed",
    Locked => "locked",
    SignedIn => "signed_in",
    Ended => "ended",
    Sent => "sent",
    RateLimited => "rate_limited",
    Approved => "approved",
    Denied => "denied",
    Suspicious => "suspicious",
    Expired => "expired",
    Pending => "pending",
    Updated => "updated",
    Dropped => "dropped",
    Unlock => "unlock",
    ResetMfa => "reset-mfa",
    RemoveMfa => "remove-mfa",
    RequireMfa => "require-mfa",
    Suspend => "suspend",
    Restore => "restore",
    ForcePasswordChange => "force-password-change",
    SetRole => "set-role",
});

/// An event to write, with the change it records (in the same transaction).
#[derive(Debug, Clone)]
pub struct LogLine<'a> {
    /// Whose log.
    pub user_id: i64,
    /// When (Unix seconds, the portal's clock).
    pub at: u64,
    /// The client's address, or `admin`, `relay`, `portal`.
    pub ip: &'a str,
    /// What happened.
    pub kind: EventKind,
    /// How it ended.
    pub outcome: Outcome,
    /// More, for people.
    pub detail: &'a str,
    /// The admin who did it (`None`: the user, a device, the portal).
    pub actor: Option<&'a str>,
}

/// One line of a user's event log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    /// Its place in the log (later events have larger ids).
    pub id: i64,
    /// The admin who did it; `None` for the user's own actions, devices and the portal.
    pub actor: Option<String>,
    /// When it happened (Unix seconds, the portal's clock).
    pub at: u64,
    /// The client's address, or `admin` / `cli`.
    pub ip: String,
    /// What happened.
    pub kind: EventKind,
    /// How it ended.
    pub outcome: Outcome,
    /// More, for people.
    pub detail: String,
}

/// Writes `line` on `conn` (inside the caller's transaction, when it has one).
pub(super) fn insert(conn: &mut dyn Conn, line: &LogLine<'_>) -> DbResult<()> {
    conn.execute(
        "INSERT INTO events (user_id, at, ip, kind, outcome, detail, actor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            line.user_id,
            to_i64(line.at),
            line.ip,
            line.kind,
            line.outcome,
            line.detail,
            line.actor
        ],
    )?;
    Ok(())
}

impl Db {
    /// Appends to a user's event log.
    pub fn log(&self, line: &LogLine<'_>) -> DbResult<()> {
        self.with(|c| insert(c, line))
    }

    /// A user's events, oldest first.
    pub fn events(&self, user_id: i64) -> DbResult<Vec<Event>> {
        self.with(|c| {
            c.query_map(
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE user_id = ?1 ORDER BY id"),
                [user_id],
                event_row,
            )
        })
    }

    /// Up to `limit` of a user's events before the event `before` (all, with `None`), newest
    /// first: a page of the console's log.
    pub fn events_page(
        &self,
        user_id: i64,
        before: Option<i64>,
        limit: u64,
    ) -> DbResult<Vec<Event>> {
        self.with(|c| {
            c.query_map(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE user_id = ?1 AND id < ?2
                     ORDER BY id DESC LIMIT ?3"
                ),
                params![user_id, before.unwrap_or(i64::MAX), to_i64(limit)],
                event_row,
            )
        })
    }
}

const EVENT_COLUMNS: &str = "id, at, ip, kind, outcome, detail, actor";

fn event_row(r: &Row) -> DbResult<Event> {
    Ok(Event {
        id: r.get(0)?,
        at: to_u64(r.get(1)?),
        ip: r.get(2)?,
        kind: r.get(3)?,
        outcome: r.get(4)?,
        detail: r.get(5)?,
        actor: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_their_kind_and_outcome() {
        let db = Db::for_tests().unwrap();
        let id = db.create_user("alice", "hash", 1).unwrap().unwrap();
        db.log(&LogLine {
            user_id: id,
            at: 5,
            ip: "192.0.2.1",
            kind: EventKind::PushStepUp,
            outcome: Outcome::Suspicious,
            detail: "not me",
            actor: None,
        })
        .unwrap();
        let events = db.events(id).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventKind::PushStepUp);
        assert_eq!(events[0].outcome, Outcome::Suspicious);
        let json = serde_json::to_value(&events[0]).unwrap();
        assert_eq!(json["kind"], "push_step_up");
        assert_eq!(json["outcome"], "suspicious");
    }

    #[test]
    fn an_unknown_stored_kind_is_an_error() {
        let db = Db::for_tests().unwrap();
        let id = db.create_user("bob", "hash", 1).unwrap().unwrap();
        db.with(|c| {
            c.execute(
                "INSERT INTO events (user_id, at, ip, kind, outcome, detail) VALUES (?1, 1, '', 'teleport', 'ok', '')",
                [id],
            )
        })
        .unwrap();
        assert!(db.events(id).is_err());
    }
}
