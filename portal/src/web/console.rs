//! The help-desk console at `/admin`: named console accounts sign in with a password and their
//! second factor (the same push, TOTP and enrollment pages as everyone), then see the
//! dashboard, search users, read a user's state, device and log, and act, each action behind a
//! confirmation page. Roles are enforced by the portal ([`crate::admin`]); these handlers only
//! translate. Pages are server-rendered, work at a phone's width, and carry no script.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::admin_api::Search;
use super::login::{LoginForm, SignIn, sign_in, sign_in_page};
use super::{NoVisit, PageResult, Posted, Visit, clear_cookie};
use crate::admin::{
    Action, Actor, DEFAULT_MFA_REMOVAL_HOURS, Permission, UserDetail, UserPage, UserSummary,
};
use crate::app::{Portal, PortalError};
use crate::db::{Accounts, ClientMode, Event, Role, SessionState, UserStatus};
use crate::html::{csrf_field, escape, notice, utc, wide_page};

/// A console request: a signed-in console session, its account as an [`Actor`], and for a
/// form post the form (its CSRF value checked).
pub struct Console<F = ()> {
    /// Who acts, with their role and address.
    pub actor: Actor,
    /// The session's CSRF value, for the page's forms.
    pub csrf: String,
    /// The posted form.
    pub form: F,
}

/// Why a request is not a console visit: no session (the sign-in form, saying why: `message`),
/// or a form that failed its checks.
pub struct NotConsole {
    message: Option<&'static str>,
    response: Box<Response>,
}

impl IntoResponse for NotConsole {
    fn into_response(self) -> Response {
        *self.response
    }
}

impl NotConsole {
    fn sign_in(message: Option<&'static str>) -> Self {
        Self {
            message,
            response: Box::new(to_console_sign_in(message)),
        }
    }
}

fn to_console_sign_in(message: Option<&str>) -> Response {
    let url = match message {
        Some(m) => format!(
            "/admin?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("message", m)
                .finish()
        ),
        None => "/admin".to_owned(),
    };
    Redirect::to(&url).into_response()
}

fn not_console(no: NoVisit) -> NotConsole {
    match no {
        NoVisit::Gone { .. } => NotConsole::sign_in(no.message()),
        other => NotConsole {
            message: None,
            response: Box::new(other.into_response()),
        },
    }
}

/// The console account of a visit (from `ip`), or the sign-in form.
fn console_of<F>(visit: Visit<F>, ip: String) -> Result<Console<F>, NotConsole> {
    if visit.session.state != SessionState::SignedIn {
        return Err(NotConsole::sign_in(Some("Sign in first.")));
    }
    match Actor::console(&visit.user, &ip) {
        Some(actor) => Ok(Console {
            actor,
            csrf: visit.session.csrf,
            form: visit.form,
        }),
        None => Err(NotConsole::sign_in(Some(
            "This account has no access to the help-desk console.",
        ))),
    }
}

/// The request's address, for the event log.
fn peer_ip(portal: &Portal, headers: &HeaderMap, extensions: &axum::http::Extensions) -> String {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    super::client_ip(portal, headers, peer)
}

impl FromRequestParts<Arc<Portal>> for Console {
    type Rejection = NotConsole;

    async fn from_request_parts(
        parts: &mut Parts,
        portal: &Arc<Portal>,
    ) -> Result<Self, Self::Rejection> {
        let ip = peer_ip(portal, &parts.headers, &parts.extensions);
        let visit = Visit::from_request_parts(parts, portal)
            .await
            .map_err(not_console)?;
        console_of(visit, ip)
    }
}

impl<F: Posted> FromRequest<Arc<Portal>> for Console<F> {
    type Rejection = NotConsole;

    async fn from_request(request: Request, portal: &Arc<Portal>) -> Result<Self, Self::Rejection> {
        let ip = peer_ip(portal, request.headers(), request.extensions());
        let visit = Visit::<F>::from_request(request, portal)
            .await
            .map_err(not_console)?;
        console_of(visit, ip)
    }
}

/// A console page: the navigation (what the role may open), who is signed in, and sign-out.
fn console_page(title: &str, console: &Console<impl Sized>, body: &str) -> Html<String> {
    let admins = if console.actor.may(Permission::ManageAdmins) {
        "<a href=\"/admin/admins\" id=\"nav-admins\">Admins</a>\
         <a href=\"/admin/clients\" id=\"nav-clients\">Clients</a>"
    } else {
        ""
    };
    wide_page(
        title,
        &format!(
            "<header class=\"bar\"><nav id=\"console-nav\">\
             <a href=\"/admin\" id=\"nav-dashboard\">Dashboard</a>\
             <a href=\"/admin/users\" id=\"nav-users\">Users</a>{admins}</nav>\
             <form method=\"post\" action=\"/admin/logout\" class=\"inline\">{csrf}\
             <span class=\"muted\" id=\"signed-in-as\">{name} · {role}</span> \
             <button id=\"sign-out\" class=\"link\">Sign out</button></form></header>{body}",
            csrf = csrf_field(&console.csrf),
            name = escape(&console.actor.name),
            role = console.actor.role.label(),
        ),
    )
}

/// The query of `/admin`.
#[derive(Deserialize, Default)]
pub struct Message {
    message: Option<String>,
    done: Option<String>,
}

/// `GET /admin`: the dashboard, or the console's sign-in form (saying why, when a session
/// ended or idled out).
pub async fn home(
    State(portal): State<Arc<Portal>>,
    Query(q): Query<Message>,
    console: Result<Console, NotConsole>,
) -> PageResult {
    let console = match console {
        Ok(c) => c,
        Err(not) => {
            let message = q.message.as_deref().or(not.message);
            return Ok((
                [(header::CACHE_CONTROL, "no-store")],
                sign_in_page(SignIn::Console, None, message),
            )
                .into_response());
        }
    };
    let actor = console.actor.clone();
    let counts = portal.blocking(move |p| p.dashboard(&actor)).await?;
    let card = |id: &str, count: u64, label: &str, href: &str| {
        let class = if count > 0 { "card alert" } else { "card" };
        format!(
            "<a class=\"{class}\" id=\"{id}\" href=\"{href}\"><span class=\"count\">{count}</span> \
             <span>{label}</span></a>"
        )
    };
    let mut cards = vec![
        card(
            "count-locked",
            counts.locked,
            "users locked out",
            "/admin/users?status=locked",
        ),
        card(
            "count-suspended",
            counts.suspended,
            "users suspended",
            "/admin/users?status=suspended",
        ),
        card(
            "count-mfa-removed",
            counts.mfa_removed,
            "users with the MFA requirement removed",
            "/admin/users?status=mfa_removed",
        ),
        card(
            "count-no-device",
            counts.no_device,
            "users without an enrolled device",
            "/admin/users?status=no_device",
        ),
    ];
    let mut bulk = String::new();
    if console.actor.may(Permission::ManageAdmins) {
        cards.push(card(
            "count-admins-without-mfa",
            counts.admins_without_mfa,
            "admins without MFA",
            "/admin/admins?status=mfa_removed",
        ));
        if counts.admins_without_mfa > 0 {
            bulk = "<p><a class=\"button\" id=\"require-mfa-admins\" \
                    href=\"/admin/admins/require-mfa\">Require MFA for every admin</a></p>"
                .to_owned();
        }
    }
    let body = format!(
        "<h1 id=\"dashboard\">Dashboard</h1>{notice}<div class=\"cards\">{cards}</div>{bulk}\
         <form method=\"get\" action=\"/admin/users\" class=\"search\" role=\"search\">\
         <label for=\"q\">Find a user</label><input id=\"q\" name=\"q\" autocomplete=\"off\">\
         <button>Search</button></form>",
        notice = notice(None, q.done.as_deref()),
        cards = cards.concat(),
    );
    Ok(console_page("Dashboard", &console, &body).into_response())
}

/// `POST /admin/login`: the console's password step (console accounts only); the second
/// factor follows on the same pages as everyone's.
pub async fn login(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    sign_in(portal, peer, headers, form, SignIn::Console).await
}

/// `POST /admin/logout`.
pub async fn logout(
    State(portal): State<Arc<Portal>>,
    visit: Result<Visit<super::CsrfForm>, NoVisit>,
) -> PageResult {
    if let Ok(visit) = visit {
        let session = visit.session;
        portal.blocking(move |p| p.sign_out(&session)).await?;
    }
    Ok((
        [(header::SET_COOKIE, clear_cookie(&portal)?)],
        to_console_sign_in(Some("Signed out.")),
    )
        .into_response())
}

/// A user's status badges.
fn badges(u: &UserSummary) -> String {
    let mut out = String::new();
    let mut badge = |class: &str, text: &str| {
        out.push_str(&format!("<span class=\"badge {class}\">{text}</span>"));
    };
    if u.locked {
        badge("locked", "Locked");
    }
    if u.suspended {
        badge("suspended", "Suspended");
    }
    if !u.mfa_required {
        badge("mfa-removed", "MFA removed");
    }
    if u.push_enrolled {
        badge("enrolled", "Push enrolled");
    } else if u.totp_enrolled {
        badge("enrolled", "TOTP only");
    } else {
        badge("not-enrolled", "Not enrolled");
    }
    if u.must_change_password {
        badge("password", "New password due");
    }
    if let Some(role) = u.role {
        badge("role", role.label());
    }
    out
}

/// The rows of a list of accounts.
fn user_rows(page: &UserPage) -> String {
    page.users
        .iter()
        .map(|u| {
            format!(
                "<tr data-user=\"{name}\"><td><a href=\"/admin/users/{path}\">{name}</a></td>\
                 <td>{badges}</td><td class=\"muted\">{device}</td></tr>",
                name = escape(&u.username),
                path = escape(&path_segment(&u.username)),
                badges = badges(u),
                device = escape(u.device.as_deref().unwrap_or("—")),
            )
        })
        .collect()
}

/// A user name as a URL path segment.
fn path_segment(name: &str) -> String {
    form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The paging links of a list.
fn paging(page: &UserPage, base: &str, search: &Search) -> String {
    let link = |n: u64, id: &str, text: &str| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !search.q.is_empty() {
            query.append_pair("q", &search.q);
        }
        if let Some(status) = &search.status {
            query.append_pair("status", status);
        }
        query.append_pair("page", &n.to_string());
        format!(
            "<a id=\"{id}\" href=\"{base}?{}\">{text}</a>",
            escape(&query.finish())
        )
    };
    let mut out = String::from("<p class=\"paging\">");
    if page.page > 1 {
        out.push_str(&link(page.page - 1, "prev-page", "← Previous"));
    }
    out.push_str(&format!(
        " <span class=\"muted\">page {} · {} in all</span> ",
        page.page, page.total
    ));
    if page.has_next() {
        out.push_str(&link(page.page + 1, "next-page", "Next →"));
    }
    out.push_str("</p>");
    out
}

/// The search form and the status filters of a list.
fn search_form(base: &str, search: &Search) -> String {
    let filters: String = UserStatus::ALL
        .into_iter()
        .map(|s| {
            let on = search.status.as_deref() == Some(s.as_str());
            format!(
                "<a class=\"filter{}\" href=\"{base}?status={name}\">{label}</a>",
                if on { " on" } else { "" },
                name = s.as_str(),
                label = status_label(s),
            )
        })
        .collect();
    format!(
        "<form method=\"get\" action=\"{base}\" class=\"search\" id=\"search\" role=\"search\">\
         <label for=\"q\">Name contains</label><input id=\"q\" name=\"q\" value=\"{q}\" autocomplete=\"off\">\
         <button id=\"search-button\">Search</button></form>\
         <p class=\"filters\"><a class=\"filter\" href=\"{base}\">All</a>{filters}</p>",
        q = escape(&search.q),
    )
}

fn status_label(s: UserStatus) -> &'static str {
    match s {
        UserStatus::Locked => "Locked",
        UserStatus::Suspended => "Suspended",
        UserStatus::MfaRemoved => "MFA removed",
        UserStatus::NoDevice => "No device",
    }
}

/// `GET /admin/users?q=&status=&page=`.
pub async fn users(
    State(portal): State<Arc<Portal>>,
    Query(search): Query<Search>,
    console: Console,
) -> PageResult {
    let actor = console.actor.clone();
    let status = search.status().map_err(super::PageError::from)?;
    let q = search.q.clone();
    let number = search.page.unwrap_or(1);
    let page = portal
        .blocking(move |p| p.find_users(&actor, Accounts::Users, (&q, status), number))
        .await?;
    let heading = match status {
        Some(s) => format!("Users: {}", status_label(s)),
        None => "Users".to_owned(),
    };
    let body = format!(
        "<h1 id=\"users-heading\">{heading}</h1>{search}\
         <table class=\"list\" id=\"users\"><thead><tr><th>User</th><th>Status</th><th>Device</th></tr></thead>\
         <tbody>{rows}</tbody></table>{empty}{paging}",
        search = search_form("/admin/users", &search),
        rows = user_rows(&page),
        empty = if page.users.is_empty() {
            "<p class=\"muted\" id=\"no-users\">No user matches.</p>"
        } else {
            ""
        },
        paging = paging(&page, "/admin/users", &search),
    );
    Ok(console_page("Users", &console, &body).into_response())
}

/// The query of a user's page.
#[derive(Deserialize, Default)]
pub struct Older {
    before: Option<i64>,
    done: Option<String>,
}

fn event_rows(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| {
            let who = match &e.actor {
                Some(admin) => format!("<strong>{}</strong>", escape(admin)),
                // The portal's own work, the relay's, and the server's operator.
                None if matches!(e.ip.as_str(), "portal" | "relay" | "cli" | "admin") => {
                    escape(&e.ip)
                }
                None => "the user".to_owned(),
            };
            format!(
                "<tr data-kind=\"{kind}\" data-outcome=\"{outcome}\"><td><time>{at}</time></td>\
                 <td>{who}</td><td><code>{kind}</code> {outcome}<br><span class=\"muted\">{detail}</span></td>\
                 <td class=\"muted\">{ip}</td></tr>",
                at = utc(e.at),
                kind = e.kind,
                outcome = e.outcome,
                detail = escape(&e.detail),
                ip = escape(&e.ip),
            )
        })
        .collect()
}

/// The action links the actor's role allows on `u` (none for a read-only role).
fn action_links(actor: &Actor, u: &UserSummary) -> String {
    let allowed = actor.may(Permission::ActOnUsers)
        && (u.role.is_none() || actor.may(Permission::ManageAdmins));
    if !allowed {
        return "<p class=\"muted\" id=\"no-actions\">Your role can view this user, not act.</p>"
            .to_owned();
    }
    let links: String = Action::ALL
        .into_iter()
        .map(|a| {
            let class = if a.applies(u) { "button" } else { "button quiet" };
            format!(
                "<a class=\"{class}\" id=\"action-{name}\" href=\"/admin/users/{user}/{name}\">{label}</a>",
                name = a.name(),
                user = escape(&path_segment(&u.username)),
                label = a.label(),
            )
        })
        .collect();
    format!("<div class=\"actions\" id=\"actions\">{links}</div>")
}

/// `GET /admin/users/{name}?before=`: state, device, actions, and the log, newest first.
pub async fn user(
    State(portal): State<Arc<Portal>>,
    Path(name): Path<String>,
    Query(q): Query<Older>,
    console: Console,
) -> PageResult {
    let actor = console.actor.clone();
    let before = q.before;
    let detail = portal
        .blocking(move |p| p.user_detail(&actor, &name, before))
        .await?;
    let UserDetail {
        user: u,
        device,
        events,
        older,
    } = &detail;
    let warning = match (u.mfa_required, u.mfa_off_until) {
        (false, Some(until)) => format!(
            "<p class=\"warning\" id=\"mfa-warning\" role=\"alert\">MFA is not required for this \
             user until {} (or until someone requires it again): the password alone signs in.</p>",
            utc(until)
        ),
        (false, None) => "<p class=\"warning\" id=\"mfa-warning\" role=\"alert\">MFA is not \
                          required for this user: the password alone signs in.</p>"
            .to_owned(),
        _ => String::new(),
    };
    let lock = match u.locked_until {
        Some(until) => format!("locked until {}", utc(until)),
        None if u.failed_totp > 0 => format!("{} wrong codes in a row", u.failed_totp),
        None => "not locked".to_owned(),
    };
    let device = match device {
        Some(d) => format!(
            "<dl id=\"device\"><dt>Device</dt><dd>{name}</dd><dt>Platform</dt><dd id=\"device-platform\">{platform}</dd>\
             <dt>Enrolled</dt><dd>{enrolled}</dd><dt>Last seen</dt><dd id=\"device-last-seen\">{seen}</dd></dl>",
            name = escape(&d.name),
            platform = escape(&d.platform),
            enrolled = utc(d.enrolled_at),
            seen = d.last_seen.map_or_else(|| "never".to_owned(), utc),
        ),
        None => "<p id=\"device\" class=\"muted\">No push device is enrolled.</p>".to_owned(),
    };
    let older = match older {
        Some(id) => format!(
            "<p class=\"paging\"><a id=\"older-events\" href=\"/admin/users/{}?before={id}\">Older events →</a></p>",
            escape(&path_segment(&u.username))
        ),
        None => String::new(),
    };
    let body = format!(
        "<h1 id=\"user-name\">{name}</h1><p>{badges}</p>{warning}{done}\
         <dl id=\"state\"><dt>MFA</dt><dd>{mfa}</dd><dt>Lockout</dt><dd id=\"lock-state\">{lock}</dd>\
         <dt>Sign-in</dt><dd>{suspended}</dd><dt>Created</dt><dd>{created}</dd></dl>\
         {device}<h2>Actions</h2>{actions}\
         <h2>Directory activity</h2><div class=\"scroll\"><table class=\"list\" id=\"events\">\
         <thead><tr><th>When</th><th>Who</th><th>What</th><th>From</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>{older}",
        name = escape(&u.username),
        badges = badges(u),
        done = notice(None, q.done.as_deref()),
        mfa = if u.mfa_required {
            "required"
        } else {
            "not required"
        },
        suspended = if u.suspended { "suspended" } else { "allowed" },
        created = utc(u.created_at),
        actions = action_links(&console.actor, u),
        rows = event_rows(events),
    );
    Ok(console_page(&u.username, &console, &body).into_response())
}

/// A confirmed action's form.
#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
    /// `yes` from the confirmation page; anything else does nothing.
    confirm: Option<String>,
    /// How long a removal of the MFA requirement lasts.
    hours: Option<u64>,
}

super::posted!(ActionForm);

fn parse_action(name: &str) -> Result<Action, PortalError> {
    Action::parse(name).ok_or(PortalError::Invalid("unknown action"))
}

/// The confirmation page of `action` on `name`.
fn confirm_page<F>(
    console: &Console<F>,
    name: &str,
    action: Action,
    error: Option<&str>,
) -> Html<String> {
    let hours = if action == Action::RemoveMfa {
        let options: String = [1u64, 8, 24, 72, 168]
            .into_iter()
            .map(|h| {
                let selected = if h == DEFAULT_MFA_REMOVAL_HOURS {
                    " selected"
                } else {
                    ""
                };
                let label = if h < 24 {
                    format!("{h} hour{}", if h == 1 { "" } else { "s" })
                } else {
                    format!("{} day{}", h / 24, if h == 24 { "" } else { "s" })
                };
                format!("<option value=\"{h}\"{selected}>{label}</option>")
            })
            .collect();
        format!(
            "<label for=\"hours\">For</label><select id=\"hours\" name=\"hours\">{options}</select>"
        )
    } else {
        String::new()
    };
    let path = escape(&path_segment(name));
    console_page(
        action.label(),
        console,
        &format!(
            "<h1 id=\"confirm-heading\">{label}: {user}?</h1>{notice}<p>{consequence}</p>\
             <form method=\"post\" action=\"/admin/users/{path}/{action}\" id=\"confirm-form\">{csrf}\
             <input type=\"hidden\" name=\"confirm\" value=\"yes\">{hours}\
             <button id=\"confirm\" class=\"danger\">{label}</button> \
             <a href=\"/admin/users/{path}\" id=\"cancel\">Cancel</a></form>",
            label = action.label(),
            user = escape(name),
            notice = notice(error, None),
            consequence = action.consequence(),
            action = action.name(),
            csrf = csrf_field(&console.csrf),
        ),
    )
}

/// `GET /admin/users/{name}/{action}`: the confirmation step (refused outright to a role that
/// may not take the action).
pub async fn confirm_action(
    State(portal): State<Arc<Portal>>,
    Path((name, action)): Path<(String, String)>,
    console: Console,
) -> PageResult {
    let action = parse_action(&action)?;
    let actor = console.actor.clone();
    let target = name.clone();
    portal
        .blocking(move |p| p.may_act_on(&actor, &target))
        .await?;
    Ok(confirm_page(&console, &name, action, None).into_response())
}

/// `POST /admin/users/{name}/{action}`: the action, only with the confirmation page's field.
pub async fn act(
    State(portal): State<Arc<Portal>>,
    Path((name, action)): Path<(String, String)>,
    console: Console<ActionForm>,
) -> PageResult {
    let action = parse_action(&action)?;
    if console.form.confirm.as_deref() != Some("yes") {
        let page = confirm_page(
            &console,
            &name,
            action,
            Some("Nothing was done: confirm the action on this page first."),
        );
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let actor = console.actor.clone();
    let hours = console.form.hours;
    let target = name.clone();
    portal
        .blocking(move |p| p.admin_action(&target, action, &actor, hours))
        .await?;
    let done = format!("{}: done.", action.label());
    Ok(Redirect::to(&format!(
        "/admin/users/{}?{}",
        path_segment(&name),
        form_urlencoded::Serializer::new(String::new())
            .append_pair("done", &done)
            .finish()
    ))
    .into_response())
}

/// `GET /admin/admins`: console accounts, their roles, and the form for a new one
/// (administrators only).
pub async fn admins(
    State(portal): State<Arc<Portal>>,
    Query(search): Query<Search>,
    Query(q): Query<Message>,
    console: Console,
) -> PageResult {
    let actor = console.actor.clone();
    let status = search.status().map_err(super::PageError::from)?;
    let query = search.q.clone();
    let number = search.page.unwrap_or(1);
    let page = portal
        .blocking(move |p| p.find_users(&actor, Accounts::Admins, (&query, status), number))
        .await?;
    let role_options = |selected: Option<Role>| -> String {
        Role::ALL
            .into_iter()
            .map(|r| {
                format!(
                    "<option value=\"{}\"{}>{}</option>",
                    r.as_str(),
                    if Some(r) == selected { " selected" } else { "" },
                    r.label()
                )
            })
            .collect()
    };
    let rows: String = page
        .users
        .iter()
        .map(|u| {
            let role = if u.username == console.actor.name {
                format!("{} (you)", u.role.map_or("", Role::label))
            } else {
                format!(
                    "<form method=\"post\" action=\"/admin/admins/{path}/role\" class=\"inline\">{csrf}\
                     <select name=\"role\" aria-label=\"Role of {name}\">{options}</select> <button>Change</button></form>",
                    path = escape(&path_segment(&u.username)),
                    name = escape(&u.username),
                    csrf = csrf_field(&console.csrf),
                    options = role_options(u.role),
                )
            };
            format!(
                "<tr data-admin=\"{name}\"><td><a href=\"/admin/users/{path}\">{name}</a></td>\
                 <td>{badges}</td><td>{role}</td></tr>",
                name = escape(&u.username),
                path = escape(&path_segment(&u.username)),
                badges = badges(u),
            )
        })
        .collect();
    let body = format!(
        "<h1 id=\"admins-heading\">Admins</h1>{done}\
         <p><a class=\"button\" href=\"/admin/admins/require-mfa\" id=\"require-mfa-admins\">Require MFA for every admin</a></p>\
         <div class=\"scroll\"><table class=\"list\" id=\"admins\"><thead><tr><th>Admin</th><th>Status</th><th>Role</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>{paging}\
         <h2>New admin</h2><form method=\"post\" action=\"/admin/admins\" id=\"create-admin\">{csrf}\
         <label for=\"new-username\">User name</label><input id=\"new-username\" name=\"username\" required autocomplete=\"off\">\
         <label for=\"new-password\">First password</label><input id=\"new-password\" name=\"password\" type=\"password\" required autocomplete=\"new-password\">\
         <label for=\"new-role\">Role</label><select id=\"new-role\" name=\"role\">{options}</select>\
         <p class=\"muted\">MFA is required: at the first sign-in the new admin enrolls a device and chooses a new password.</p>\
         <button id=\"create-admin-button\">Create admin</button></form>",
        done = notice(q.message.as_deref(), q.done.as_deref()),
        paging = paging(&page, "/admin/admins", &search),
        csrf = csrf_field(&console.csrf),
        options = role_options(Some(Role::HelpDesk)),
    );
    Ok(console_page("Admins", &console, &body).into_response())
}

/// The new-admin form.
#[derive(Deserialize)]
pub struct NewAdminForm {
    csrf: String,
    username: String,
    password: String,
    role: String,
}

super::posted!(NewAdminForm);

fn role_named(name: &str) -> Result<Role, PortalError> {
    Role::parse(name).ok_or(PortalError::Invalid("unknown role"))
}

/// Back to the admins page, saying `done` (or the refusal `error`).
fn to_admins(done: Result<String, &str>) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    match done {
        Ok(done) => query.append_pair("done", &done),
        Err(error) => query.append_pair("message", error),
    };
    Redirect::to(&format!("/admin/admins?{}", query.finish())).into_response()
}

/// `POST /admin/admins`: a new console account (administrators only).
pub async fn create_admin(
    State(portal): State<Arc<Portal>>,
    console: Console<NewAdminForm>,
) -> PageResult {
    let Console { actor, form, .. } = console;
    let role = role_named(&form.role)?;
    let password = zeroize::Zeroizing::new(form.password);
    let name = form.username.clone();
    let created = portal
        .blocking(
            move |p| match p.create_admin(&actor, &form.username, &password, role) {
                Ok(_) => Ok(Ok(())),
                Err(
                    PortalError::BadPassword(why)
                    | PortalError::BadUserName(why)
                    | PortalError::Invalid(why),
                ) => Ok(Err(why)),
                Err(PortalError::UserExists) => Ok(Err("an account with that name exists")),
                Err(e) => Err(e),
            },
        )
        .await?;
    Ok(to_admins(match created {
        Ok(()) => Ok(format!("Admin {name} created ({}).", role.label())),
        Err(why) => Err(why),
    }))
}

/// The role form.
#[derive(Deserialize)]
pub struct RoleForm {
    csrf: String,
    role: String,
}

super::posted!(RoleForm);

/// `POST /admin/admins/{name}/role` (administrators only).
pub async fn set_role(
    State(portal): State<Arc<Portal>>,
    Path(name): Path<String>,
    console: Console<RoleForm>,
) -> PageResult {
    let Console { actor, form, .. } = console;
    let role = role_named(&form.role)?;
    let target = name.clone();
    let changed = portal
        .blocking(move |p| match p.set_role(&actor, &target, role) {
            Ok(()) => Ok(Ok(())),
            Err(PortalError::Invalid(why)) => Ok(Err(why)),
            Err(e) => Err(e),
        })
        .await?;
    Ok(to_admins(match changed {
        Ok(()) => Ok(format!("{name} is now {}.", role.label())),
        Err(why) => Err(why),
    }))
}

/// The answer to a bulk or removal post without its confirmation page's field: nothing done,
/// and a link to that page.
fn not_confirmed<F>(console: &Console<F>, page: &str) -> Response {
    let body = format!(
        "<p class=\"error\" role=\"alert\">Nothing was done: confirm the action on \
         <a href=\"{}\">its page</a> first.</p>",
        escape(page)
    );
    (
        StatusCode::BAD_REQUEST,
        console_page("Not confirmed", console, &body),
    )
        .into_response()
}

/// `GET /admin/admins/require-mfa`: the bulk action's confirmation (administrators only).
pub async fn confirm_require_mfa(console: Console) -> PageResult {
    console.actor.require(Permission::ManageAdmins)?;
    Ok(console_page(
        "Require MFA for every admin",
        &console,
        &format!(
            "<h1 id=\"confirm-heading\">Require MFA for every admin?</h1>\
             <p>Every console account whose MFA requirement was removed needs its second factor \
             again at the next sign-in.</p>\
             <form method=\"post\" action=\"/admin/admins/require-mfa\" id=\"confirm-form\">{csrf}\
             <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
             <button id=\"confirm\" class=\"danger\">Require MFA</button> <a href=\"/admin\" id=\"cancel\">Cancel</a></form>",
            csrf = csrf_field(&console.csrf),
        ),
    )
    .into_response())
}

/// `POST /admin/admins/require-mfa`: only with the confirmation page's field.
pub async fn require_mfa(
    State(portal): State<Arc<Portal>>,
    console: Console<ActionForm>,
) -> PageResult {
    console.actor.require(Permission::ManageAdmins)?;
    if console.form.confirm.as_deref() != Some("yes") {
        return Ok(not_confirmed(&console, "/admin/admins/require-mfa"));
    }
    let actor = console.actor.clone();
    let changed = portal
        .blocking(move |p| p.require_mfa_for_admins(&actor))
        .await?;
    Ok(to_admins(Ok(format!(
        "MFA is required for every admin ({changed} changed)."
    ))))
}

/// `GET /admin/clients`: the relying parties (device logins, applications) and the form for a
/// new one (administrators only).
pub async fn clients(
    State(portal): State<Arc<Portal>>,
    Query(q): Query<Message>,
    console: Console,
) -> PageResult {
    let actor = console.actor.clone();
    let clients = portal.blocking(move |p| p.clients_for(&actor)).await?;
    let rows: String = clients
        .iter()
        .map(|c| {
            format!(
                "<tr data-client=\"{name}\"><td>{name}</td><td>{mode}</td><td>{signed}</td>\
                 <td>{created}</td><td><a href=\"/admin/clients/{name}/delete\" id=\"delete-{name}\">Remove</a></td></tr>",
                name = escape(&c.name),
                mode = c.mode.as_str(),
                signed = if c.request_key.is_some() { "signed requests" } else { "key only" },
                created = utc(c.created_at),
            )
        })
        .collect();
    let modes: String = ClientMode::ALL
        .into_iter()
        .map(|m| format!("<option value=\"{0}\">{0}</option>", m.as_str()))
        .collect();
    let body = format!(
        "<h1 id=\"clients-heading\">Relying parties</h1>{done}\
         <p class=\"muted\">Servers that ask for verifications: <code>pam_assent</code> on Linux \
         machines (docs/device-logins.md), or applications.</p>\
         <div class=\"scroll\"><table class=\"list\" id=\"clients\"><thead><tr><th>Name</th><th>Mode</th>\
         <th>Requests</th><th>Registered</th><th></th></tr></thead><tbody>{rows}</tbody></table></div>\
         <h2>New relying party</h2><form method=\"post\" action=\"/admin/clients\" id=\"create-client\">{csrf}\
         <label for=\"client-name\">Name</label><input id=\"client-name\" name=\"name\" required pattern=\"[A-Za-z0-9_-]{{1,64}}\">\
         <label for=\"client-mode\">Verifies by</label><select id=\"client-mode\" name=\"mode\">{modes}</select>\
         <label for=\"client-request-key\">Request-signing public key (optional, PEM)</label>\
         <textarea id=\"client-request-key\" name=\"request_key\" rows=\"4\" style=\"width:100%\"></textarea>\
         <button id=\"create-client-button\">Register</button></form>",
        done = notice(q.message.as_deref(), q.done.as_deref()),
        csrf = csrf_field(&console.csrf),
    );
    Ok(console_page("Relying parties", &console, &body).into_response())
}

/// The new-client form.
#[derive(Deserialize)]
pub struct NewClientForm {
    csrf: String,
    name: String,
    mode: String,
    #[serde(default)]
    request_key: String,
}

super::posted!(NewClientForm);

/// `POST /admin/clients`: registers it and shows its key, once.
pub async fn create_client(
    State(portal): State<Arc<Portal>>,
    console: Console<NewClientForm>,
) -> PageResult {
    let mode = ClientMode::parse(&console.form.mode).ok_or(PortalError::Invalid("unknown mode"))?;
    let actor = console.actor.clone();
    let name = console.form.name.clone();
    let public = Some(console.form.request_key.trim().to_owned()).filter(|k| !k.is_empty());
    let created = portal
        .blocking(
            move |p| match p.create_client_for(&actor, &name, mode, public.as_deref()) {
                Ok(created) => Ok(Ok(created)),
                Err(PortalError::Invalid(why)) => Ok(Err(why)),
                Err(e) => Err(e),
            },
        )
        .await?;
    let (client, key) = match created {
        Ok(created) => created,
        Err(why) => {
            return Ok(Redirect::to(&format!(
                "/admin/clients?{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("message", why)
                    .finish()
            ))
            .into_response());
        }
    };
    let body = format!(
        "<h1 id=\"client-created\">{name} registered</h1>\
         <p>Its key, shown this once (only its hash is kept). Put it in the machine's key file \
         (<code>/etc/assent/client.key</code>, mode 0600):</p><pre id=\"client-key\">{key}</pre>\
         <p><a href=\"/admin/clients\">Back to the relying parties</a></p>",
        name = escape(&client.name),
        key = escape(&key),
    );
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        console_page("Registered", &console, &body),
    )
        .into_response())
}

/// `GET /admin/clients/{name}/delete`: the removal's confirmation.
pub async fn confirm_delete_client(Path(name): Path<String>, console: Console) -> PageResult {
    console.actor.require(Permission::ManageAdmins)?;
    Ok(console_page(
        "Remove a relying party",
        &console,
        &format!(
            "<h1 id=\"confirm-heading\">Remove {name}?</h1><p>Its key stops working at once: \
             logins through it fail until it is registered again.</p>\
             <form method=\"post\" action=\"/admin/clients/{name}/delete\" id=\"confirm-form\">{csrf}\
             <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
             <button id=\"confirm\" class=\"danger\">Remove</button> <a href=\"/admin/clients\" id=\"cancel\">Cancel</a></form>",
            name = escape(&name),
            csrf = csrf_field(&console.csrf),
        ),
    )
    .into_response())
}

/// `POST /admin/clients/{name}/delete`: only with the confirmation page's field.
pub async fn delete_client(
    State(portal): State<Arc<Portal>>,
    Path(name): Path<String>,
    console: Console<ActionForm>,
) -> PageResult {
    console.actor.require(Permission::ManageAdmins)?;
    if console.form.confirm.as_deref() != Some("yes") {
        let page = format!("/admin/clients/{}/delete", path_segment(&name));
        return Ok(not_confirmed(&console, &page));
    }
    let actor = console.actor.clone();
    let target = name.clone();
    portal
        .blocking(move |p| p.delete_client_for(&actor, &target))
        .await?;
    Ok(Redirect::to(&format!(
        "/admin/clients?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("done", &format!("{name} removed."))
            .finish()
    ))
    .into_response())
}
