//! The browser side: sign-in with password then push or TOTP, the enrollment QR, the waiting
//! page with the number to type, step-up on a protected page, and password reset by push.
//!
//! Sessions are a random cookie whose SHA-256 is stored; every form carries the session's CSRF
//! value. Pages poll small JSON endpoints (`/login/push/status`, `/enroll/status`) to update live.

use std::net::SocketAddr;
use std::sync::Arc;

use assent_protocol::Purpose;
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::{Client, Portal, PortalError, TotpOutcome, random_token, sha256_hex};
use crate::db::{ChallengeStatus, Session, SessionEnd, SessionState, User};
use crate::html::{csrf_field, escape, notice, page};

const COOKIE: &str = "assent_session";

/// The request's client address: the peer, or with `--trust-proxy` the first
/// `X-Forwarded-For` entry.
pub fn client_ip(portal: &Portal, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    let forwarded = portal
        .settings
        .trust_proxy
        .then(|| headers.get("x-forwarded-for")?.to_str().ok())
        .flatten()
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
    forwarded.unwrap_or_else(|| peer.map(|p| p.ip().to_string()).unwrap_or_default())
}

/// Refuses a form post that the browser says came from another site: login CSRF (the sign-in
/// form has no session to carry a CSRF value yet), and a second line behind the CSRF values of
/// the later forms. Browsers send `Origin` on every POST and `Sec-Fetch-Site` on every request;
/// a request with neither (curl, scripts) passes, as it cannot carry a victim's cookies.
pub async fn same_origin(
    State(portal): State<Arc<Portal>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site");
    let foreign = headers
        .get(header::ORIGIN)
        .is_some_and(|origin| !own_origin(&portal, headers, origin));
    if cross_site || foreign {
        tracing::info!(path = %request.uri().path(), "cross-site form post refused");
        return (
            StatusCode::FORBIDDEN,
            page(
                "Request refused",
                "<h1>Request refused</h1><p class=\"error\" id=\"cross-site\">This form was \
                 sent from another site. Open the portal directly and try again.</p>",
            ),
        )
            .into_response();
    }
    next.run(request).await
}

/// Whether `origin` is this portal: its public URL's origin, or the host the browser asked for
/// (a proxy may serve it under another name).
fn own_origin(portal: &Portal, headers: &HeaderMap, origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let public = portal.settings.public_url();
    let public_origin = match public.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or("")),
        None => public.clone(),
    };
    if origin.eq_ignore_ascii_case(&public_origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin.split_once("://"), host) {
        (Some(("http" | "https", authority)), Some(host)) => authority.eq_ignore_ascii_case(host),
        _ => false,
    }
}

/// The request's client: address and User-Agent.
pub fn client(portal: &Portal, headers: &HeaderMap, peer: SocketAddr) -> Client {
    Client::new(client_ip(portal, headers, Some(peer)), &user_agent(headers))
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then(|| value.to_owned())
        })
}

/// The live session of this request, if any.
pub fn session(portal: &Portal, headers: &HeaderMap) -> Result<Option<Session>, PortalError> {
    let Some(value) = cookie_value(headers) else {
        return Ok(None);
    };
    Ok(portal
        .db
        .session(&sha256_hex(value.as_bytes()), portal.now())?)
}

fn set_cookie(portal: &Portal, value: &str, max_age: u64) -> Result<HeaderValue, PortalError> {
    let secure = if portal.settings.https() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .map_err(|_| PortalError::Header("Set-Cookie"))
}

/// Starts a session; returns it and the `Set-Cookie` header.
fn new_session(
    portal: &Portal,
    user: &User,
    state: SessionState,
    client: &Client,
    agent: &str,
) -> Result<(Session, HeaderValue), PortalError> {
    let value = random_token::<32>();
    let now = portal.now();
    let lifetime = match state {
        SessionState::SignedIn => portal.settings.session_seconds,
        _ => 15 * 60,
    };
    let session = Session {
        id: sha256_hex(value.as_bytes()),
        user_id: user.id,
        state,
        csrf: random_token::<16>(),
        ip: client.ip.clone(),
        user_agent: agent.chars().take(256).collect(),
        expires_at: now + lifetime,
        challenge: None,
        enrollment: None,
        step_up_at: None,
    };
    portal.db.create_session(&session, now)?;
    Ok((session, set_cookie(portal, &value, lifetime)?))
}

/// A page error: logged, shown generically.
pub struct PageError(PortalError);

impl From<PortalError> for PageError {
    fn from(e: PortalError) -> Self {
        Self(e)
    }
}

impl From<crate::db::DbError> for PageError {
    fn from(e: crate::db::DbError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "page failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            page(
                "Error",
                "<h1>Something went wrong</h1><p>Please try again.</p>",
            ),
        )
            .into_response()
    }
}

type PageResult = Result<Response, PageError>;

fn signed_in(portal: &Portal, headers: &HeaderMap) -> Result<Option<(Session, User)>, PortalError> {
    let Some(s) = session(portal, headers)? else {
        return Ok(None);
    };
    if s.state != SessionState::SignedIn {
        return Ok(None);
    }
    let Some(user) = portal.db.user(s.user_id)? else {
        return Ok(None);
    };
    if user.suspended {
        return Ok(None);
    }
    Ok(Some((s, user)))
}

fn to_login(message: &str) -> Response {
    Redirect::to(&login_url(message)).into_response()
}

/// The sign-in page showing `message`.
fn login_url(message: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("message", message)
        .finish();
    format!("/login?{query}")
}

/// What to tell a browser whose session is gone: why it ended, when the portal ended it (a
/// deny, a reset, a suspension, a lockout), else that it expired.
fn session_gone(portal: &Portal, headers: &HeaderMap) -> Result<&'static str, PortalError> {
    let ending = match cookie_value(headers) {
        Some(value) => portal
            .db
            .session_ending(&sha256_hex(value.as_bytes()), portal.now())?,
        None => None,
    };
    Ok(ending.map_or("Your session ended; sign in again.", SessionEnd::message))
}

/// Sends a push for `purpose` and points the browser at the waiting page; over the per-user
/// limit, a 429 page saying when to try again.
fn push_and_wait(
    portal: &Arc<Portal>,
    s: &mut Session,
    user: &User,
    purpose: assent_protocol::Purpose,
    client: &Client,
) -> PageResult {
    match portal.send_challenge(user, purpose, client, Some(&s.id)) {
        Ok(c) => {
            s.challenge = Some(c.id);
            portal.db.update_session(s)?;
            Ok(Redirect::to("/login/push").into_response())
        }
        Err(PortalError::PushLimited { retry_after }) => Ok(too_many_requests(
            retry_after,
            "Too many sign-in requests were sent to your device.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// A 429 page with `Retry-After`.
fn too_many_requests(retry_after: u64, what: &str) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, retry_after.to_string())],
        page(
            "Too many requests",
            &format!(
                "<h1>Too many requests</h1><p class=\"error\" id=\"rate-limited\">{what} \
                 Try again in {retry_after} seconds.</p><p><a href=\"/\">Back</a></p>"
            ),
        ),
    )
        .into_response()
}

/// Adds a `Set-Cookie` header to a response.
fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// `GET /`: the signed-in home page.
pub async fn home(State(portal): State<Arc<Portal>>, headers: HeaderMap) -> PageResult {
    let Some((s, user)) = signed_in(&portal, &headers)? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let mfa = if user.device_id.is_some() {
        "push and TOTP"
    } else if user.totp_secret.is_some() {
        "TOTP"
    } else {
        "none"
    };
    let body = format!(
        "<h1 id=\"welcome\">Signed in as {name}</h1>\
         <p>Second factor: {mfa}.</p>\
         <ul><li><a href=\"/protected\">Protected page</a> (asks for a fresh approval)</li>\
         <li><a href=\"/enroll\">Enroll a new device</a> (replaces the current one)</li></ul>\
         <form method=\"post\" action=\"/logout\">{csrf}<button>Sign out</button></form>",
        name = escape(&user.username),
        csrf = csrf_field(&s.csrf),
    );
    Ok(page("Home", &body).into_response())
}

/// Query of the login page.
#[derive(Deserialize, Default)]
pub struct LoginQuery {
    message: Option<String>,
    error: Option<String>,
}

fn login_page(error: Option<&str>, message: Option<&str>) -> Html<String> {
    page(
        "Sign in",
        &format!(
            "<h1>Sign in</h1>{notice}\
             <form method=\"post\" action=\"/login\">\
             <label for=\"username\">User name</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
             <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <button id=\"sign-in\">Sign in</button></form>\
             <p><a href=\"/reset\">Forgot your password?</a></p>",
            notice = notice(error, message),
        ),
    )
}

/// `GET /login`.
pub async fn login_form(axum::extract::Query(q): axum::extract::Query<LoginQuery>) -> Html<String> {
    login_page(q.error.as_deref(), q.message.as_deref())
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

/// `POST /login`: the password, then push (when a device is enrolled), TOTP, or enrollment.
pub async fn login(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let client = client(&portal, &headers, peer);
    let agent = user_agent(&headers);
    let attempt = match portal.password_attempt(&client.ip, Some(&form.username))? {
        Ok(attempt) => attempt,
        Err(retry_after) => {
            if let Some(known) = portal.db.user_by_name(form.username.trim())? {
                portal.db.log(
                    known.id,
                    portal.now(),
                    &client.ip,
                    "login_password",
                    "refused",
                    "too many wrong passwords",
                )?;
            }
            return Ok(too_many_requests(
                retry_after,
                "Too many wrong passwords were tried.",
            ));
        }
    };
    let checker = portal.clone();
    let username = form.username.clone();
    let password = zeroize::Zeroizing::new(form.password);
    let user = tokio::task::spawn_blocking(move || checker.check_password(&username, &password))
        .await
        .map_err(|_| PortalError::TaskFailed)??;
    let now = portal.now();
    if let Some(user) = &user {
        portal.password_ok(Some(attempt), &user.username)?;
    }
    let Some(user) = user else {
        if let Some(known) = portal.db.user_by_name(form.username.trim())? {
            portal.db.log(
                known.id,
                now,
                &client.ip,
                "login_password",
                "failed",
                "wrong password",
            )?;
        }
        return Ok((
            StatusCode::UNAUTHORIZED,
            login_page(Some("Wrong user name or password."), None),
        )
            .into_response());
    };
    if user.suspended {
        portal.db.log(
            user.id,
            now,
            &client.ip,
            "login_password",
            "refused",
            "suspended",
        )?;
        return Ok((
            StatusCode::FORBIDDEN,
            login_page(
                Some("This account is suspended. Contact your help desk."),
                None,
            ),
        )
            .into_response());
    }
    if user.mfa_required && user.locked(now) {
        portal.db.log(
            user.id,
            now,
            &client.ip,
            "login_password",
            "refused",
            "locked out",
        )?;
        return Ok((
            StatusCode::FORBIDDEN,
            login_page(
                Some("This account is locked after too many wrong codes. Try later or contact your help desk."),
                None,
            ),
        )
            .into_response());
    }
    portal
        .db
        .log(user.id, now, &client.ip, "login_password", "ok", "")?;
    if !user.mfa_required {
        let (_, cookie) = new_session(&portal, &user, SessionState::SignedIn, &client, &agent)?;
        portal.db.log(
            user.id,
            now,
            &client.ip,
            "session",
            "signed_in",
            "MFA not required (admin)",
        )?;
        return Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response());
    }
    let (mut s, cookie) = new_session(&portal, &user, SessionState::Password, &client, &agent)?;
    let response = if user.device_id.is_some() {
        push_and_wait(
            &portal,
            &mut s,
            &user,
            assent_protocol::Purpose::Login,
            &client,
        )?
    } else if user.totp_secret.is_some() {
        Redirect::to("/login/totp").into_response()
    } else {
        Redirect::to("/enroll").into_response()
    };
    Ok(with_cookie(response, cookie))
}

/// `POST /logout`.
pub async fn logout(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    if let Some(s) = session(&portal, &headers)?
        && s.csrf_matches(&form.csrf)
    {
        portal.db.end_session(&s.id, SessionEnd::SignedOut)?;
    }
    Ok((
        [(header::SET_COOKIE, set_cookie(&portal, "", 0)?)],
        to_login("Signed out."),
    )
        .into_response())
}

/// A form carrying only the CSRF value.
#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

fn waiting_page(
    title: &str,
    lead: &str,
    s: &Session,
    number: Option<&str>,
    allow_totp: bool,
) -> Html<String> {
    let number_html = match number {
        Some(n) => format!(
            "<p>Type this number in the Assent app:</p><p class=\"number\" id=\"number\">{}</p>",
            escape(n)
        ),
        None => "<p>Approve the request in the Assent app.</p>".to_owned(),
    };
    let totp = if allow_totp {
        "<p><a href=\"/login/totp\" id=\"use-code\">Use a code from the app instead</a></p>"
    } else {
        ""
    };
    page(
        title,
        &format!(
            "<h1>{title}</h1><p>{lead}</p>{number_html}\
             <p id=\"status\" role=\"status\" data-status=\"pending\">Waiting for your approval…</p>\
             <p class=\"muted\" id=\"countdown\"></p>\
             <form method=\"post\" action=\"/login/push/send\" id=\"send-again\" hidden>{csrf}<button>Send again</button></form>\
             {totp}\
             <script>\
             const status=document.getElementById('status');const again=document.getElementById('send-again');\
             const countdown=document.getElementById('countdown');\
             async function poll(){{\
               let s;try{{const r=await fetch('/login/push/status',{{cache:'no-store'}});s=await r.json();}}catch(e){{setTimeout(poll,1000);return;}}\
               status.textContent=s.message;status.dataset.status=s.status;\
               if(s.expires_in!==undefined&&s.status==='pending'){{countdown.textContent='Expires in '+s.expires_in+' s';}}else{{countdown.textContent='';}}\
               if(s.redirect){{setTimeout(()=>location.href=s.redirect,600);return;}}\
               if(s.status==='pending'){{again.hidden=!s.undelivered;setTimeout(poll,500);}}else{{again.hidden=false;}}\
             }}\
             poll();\
             </script>",
            title = escape(title),
            lead = escape(lead),
            csrf = csrf_field(&s.csrf),
        ),
    )
}

/// `GET /login/push`: the waiting page with the number to type.
pub async fn push_wait(State(portal): State<Arc<Portal>>, headers: HeaderMap) -> PageResult {
    let Some(s) = session(&portal, &headers)? else {
        return Ok(to_login(session_gone(&portal, &headers)?));
    };
    let challenge = match &s.challenge {
        Some(id) => portal.challenge_status(id)?,
        None => None,
    };
    let user = portal.db.user(s.user_id)?;
    let allow_totp =
        s.state == SessionState::Password && user.is_some_and(|u| u.totp_secret.is_some());
    let (title, lead) = match challenge.as_ref().map(|c| c.purpose) {
        Some(Purpose::StepUp) => ("Confirm it's you", "This page needs a fresh approval."),
        Some(Purpose::PasswordReset) => (
            "Approve the password reset",
            "We sent a request to your device.",
        ),
        _ => ("Approve the sign-in", "We sent a request to your device."),
    };
    Ok(waiting_page(
        title,
        lead,
        &s,
        challenge.as_ref().and_then(|c| c.number.as_deref()),
        allow_totp,
    )
    .into_response())
}

/// `GET /login/push/status`: JSON for the waiting page; on approval, advances the session.
pub async fn push_status(State(portal): State<Arc<Portal>>, headers: HeaderMap) -> PageResult {
    let json = |v: serde_json::Value| {
        ([(header::CACHE_CONTROL, "no-store")], axum::Json(v)).into_response()
    };
    let Some(mut s) = session(&portal, &headers)? else {
        let message = session_gone(&portal, &headers)?;
        return Ok(json(serde_json::json!({
            "status": "signed_out",
            "message": message,
            "redirect": login_url(message),
        })));
    };
    let Some(challenge) = (match &s.challenge {
        Some(id) => portal.challenge_status(id)?,
        None => None,
    }) else {
        return Ok(json(serde_json::json!({
            "status": "none",
            "message": "No request is waiting. Too many requests recently? Wait, then send again.",
        })));
    };
    let now = portal.now();
    let mut body = serde_json::json!({ "status": challenge.status.as_str() });
    let (message, redirect): (String, Option<&str>) = match challenge.status {
        ChallengeStatus::Pending => match challenge.delivery.as_deref() {
            // The relay could not hand it to the device (not connected, token dead, refused):
            // the device only sees it if the app is opened, so say so and offer the other ways.
            Some(d)
                if d.starts_with("failed")
                    || d.starts_with("unregistered")
                    || d.starts_with("rejected") =>
            {
                body["undelivered"] = true.into();
                (
                    "Your device did not get the request. Open the Assent app on it to see the request, use a code instead, or send it again.".into(),
                    None,
                )
            }
            _ => ("Waiting for your approval…".into(), None),
        },
        ChallengeStatus::Approved => {
            // Idempotent: every poll after the approval answers the same, and only the first
            // one changes the session.
            let redirect = match (challenge.purpose, s.state) {
                (Purpose::Login, SessionState::Password) => {
                    s.state = SessionState::SignedIn;
                    s.expires_at = now + portal.settings.session_seconds;
                    portal.db.update_session(&s)?;
                    portal.db.log(
                        s.user_id,
                        now,
                        &s.ip,
                        "session",
                        "signed_in",
                        "push approved",
                    )?;
                    "/"
                }
                (Purpose::StepUp, SessionState::SignedIn) => {
                    if s.step_up_at.is_none_or(|t| t < challenge.iat) {
                        s.step_up_at = Some(now);
                        portal.db.update_session(&s)?;
                    }
                    "/protected"
                }
                (Purpose::PasswordReset, SessionState::ResetPending) => {
                    s.state = SessionState::Reset;
                    portal.db.update_session(&s)?;
                    "/reset/new"
                }
                (Purpose::PasswordReset, SessionState::Reset) => "/reset/new",
                _ => "/",
            };
            ("Approved.".into(), Some(redirect))
        }
        ChallengeStatus::Denied => {
            let message = if challenge.reason.as_deref() != Some("not_me") {
                "Denied on your device."
            } else if portal.alerts.is_some() {
                "Denied on your device and reported as not you. Your help desk has been notified."
            } else {
                "Denied on your device and reported as not you. It is recorded for your help desk."
            };
            (message.into(), None)
        }
        ChallengeStatus::Failed => (
            "The number typed on the device was wrong. Send a new request.".into(),
            None,
        ),
        ChallengeStatus::Expired => ("The request expired after 60 seconds.".into(), None),
        ChallengeStatus::Cancelled => ("The request was withdrawn.".into(), None),
    };
    body["message"] = message.into();
    if challenge.status == ChallengeStatus::Pending {
        body["expires_in"] = challenge.exp.saturating_sub(now).into();
    }
    if let Some(r) = redirect {
        body["redirect"] = r.into();
    }
    if let Some(delivery) = &challenge.delivery {
        body["delivery"] = delivery.as_str().into();
    }
    Ok(json(body))
}

/// `POST /login/push/send`: "send again" (rate limited per user).
pub async fn push_send(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    let client = client(&portal, &headers, peer);
    let Some(mut s) = session(&portal, &headers)? else {
        return Ok(to_login(session_gone(&portal, &headers)?));
    };
    if !s.csrf_matches(&form.csrf) {
        return Ok((StatusCode::FORBIDDEN, "bad form").into_response());
    }
    let Some(user) = portal.db.user(s.user_id)? else {
        return Ok(to_login("Sign in again."));
    };
    let purpose = match s.state {
        SessionState::Password => assent_protocol::Purpose::Login,
        SessionState::SignedIn => assent_protocol::Purpose::StepUp,
        SessionState::ResetPending => assent_protocol::Purpose::PasswordReset,
        SessionState::Reset => return Ok(Redirect::to("/reset/new").into_response()),
    };
    if let Some(old) = &s.challenge {
        portal
            .db
            .settle_challenge(old, ChallengeStatus::Cancelled, Some("superseded"))?;
    }
    push_and_wait(&portal, &mut s, &user, purpose, &client)
}

fn totp_page(s: &Session, error: Option<&str>) -> Html<String> {
    page(
        "Enter a code",
        &format!(
            "<h1>Enter the code from your authenticator</h1>{notice}\
             <form method=\"post\" action=\"/login/totp\">{csrf}\
             <label for=\"code\">6-digit code</label>\
             <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\" required>\
             <button id=\"verify\">Verify</button></form>",
            notice = notice(error, None),
            csrf = csrf_field(&s.csrf),
        ),
    )
}

/// `GET /login/totp`.
pub async fn totp_form(State(portal): State<Arc<Portal>>, headers: HeaderMap) -> PageResult {
    match session(&portal, &headers)? {
        Some(s) if s.state == SessionState::Password => Ok(totp_page(&s, None).into_response()),
        _ => Ok(to_login("Sign in first.")),
    }
}

/// The TOTP form.
#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

/// `POST /login/totp`: five wrong codes lock the account.
pub async fn totp(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let client = client(&portal, &headers, peer);
    let Some(mut s) = session(&portal, &headers)?.filter(|s| s.state == SessionState::Password)
    else {
        return Ok(to_login("Sign in first."));
    };
    if !s.csrf_matches(&form.csrf) {
        return Ok((StatusCode::FORBIDDEN, "bad form").into_response());
    }
    let Some(user) = portal.db.user(s.user_id)? else {
        return Ok(to_login("Sign in again."));
    };
    match portal.check_totp(&user, &form.code, &client)? {
        TotpOutcome::Accepted => {
            if let Some(old) = &s.challenge {
                portal.db.settle_challenge(
                    old,
                    ChallengeStatus::Cancelled,
                    Some("signed in with TOTP"),
                )?;
            }
            s.state = SessionState::SignedIn;
            s.challenge = None;
            s.expires_at = portal.now() + portal.settings.session_seconds;
            portal.db.update_session(&s)?;
            portal.db.log(
                user.id,
                portal.now(),
                &client.ip,
                "session",
                "signed_in",
                "TOTP",
            )?;
            Ok(Redirect::to("/").into_response())
        }
        TotpOutcome::Rejected { remaining } => Ok((
            StatusCode::UNAUTHORIZED,
            totp_page(
                &s,
                Some(&format!(
                    "Wrong code. {remaining} {} left before the account is locked.",
                    if remaining == 1 {
                        "attempt"
                    } else {
                        "attempts"
                    }
                )),
            ),
        )
            .into_response()),
        TotpOutcome::Locked => {
            // Ended by the lock already (with the user's other sign-ins under way).
            portal.db.end_session(&s.id, SessionEnd::LockedOut)?;
            Ok((
                StatusCode::FORBIDDEN,
                [(header::SET_COOKIE, set_cookie(&portal, "", 0)?)],
                login_page(
                    Some("This account is locked after too many wrong codes. Try later or contact your help desk."),
                    None,
                ),
            )
                .into_response())
        }
        TotpOutcome::NotEnrolled => Ok(Redirect::to("/enroll").into_response()),
    }
}

/// The session allowed to see the enrollment QR: a fully signed-in one (re-enrollment), or a
/// password-only one for a user with no second factor yet.
fn enrolling(portal: &Portal, headers: &HeaderMap) -> Result<Option<(Session, User)>, PortalError> {
    let Some(s) = session(portal, headers)? else {
        return Ok(None);
    };
    let Some(user) = portal.db.user(s.user_id)? else {
        return Ok(None);
    };
    let allowed = match s.state {
        SessionState::SignedIn => true,
        SessionState::Password => !user.enrolled(),
        _ => false,
    };
    Ok(allowed.then_some((s, user)))
}

/// The session's live enrollment, creating one when missing, used or expired.
fn current_enrollment(
    portal: &Portal,
    s: &mut Session,
    user: &User,
) -> Result<(String, zeroize::Zeroizing<String>), PortalError> {
    if let Some(token) = &s.enrollment
        && let Some(e) = portal.db.enrollment(token)?
        && !e.used
        && e.expires_at > portal.now() + 30
    {
        let uri = portal.enrollment_uri(user, &e)?;
        return Ok((e.token, uri));
    }
    let (e, uri) = portal.start_enrollment(user)?;
    s.enrollment = Some(e.token.clone());
    portal.db.update_session(s)?;
    Ok((e.token, uri))
}

/// `GET /enroll`: the one QR (push + TOTP), the same data as text, and a code field for
/// third-party apps; the page notices when the device registered.
pub async fn enroll_page(State(portal): State<Arc<Portal>>, headers: HeaderMap) -> PageResult {
    let Some((mut s, user)) = enrolling(&portal, &headers)? else {
        return Ok(to_login("Sign in to enroll a device."));
    };
    let (_, uri) = current_enrollment(&portal, &mut s, &user)?;
    let replacing = if user.enrolled() {
        "<p class=\"muted\">Enrolling a new device replaces your current one.</p>"
    } else {
        ""
    };
    let body = format!(
        "<h1>Set up your authenticator</h1>{replacing}\
         <p>Scan this code with the Assent app: it sets up sign-in approvals and codes in one step. \
         Other authenticator apps get the codes.</p>\
         <p><img id=\"qr\" src=\"/enroll/qr.png\" alt=\"Enrollment QR code\" width=\"320\" height=\"320\"></p>\
         <p><a href=\"/enroll/qr.svg\">QR as SVG</a></p>\
         <details><summary>Can't scan? Copy this instead</summary><pre id=\"enrollment-uri\">{uri}</pre></details>\
         <p id=\"enroll-status\" role=\"status\" data-status=\"waiting\">Waiting for your device…</p>\
         <h2>Using another authenticator app?</h2>\
         <form method=\"post\" action=\"/enroll/totp\">{csrf}\
         <label for=\"code\">Enter the 6-digit code it shows</label>\
         <input id=\"code\" name=\"code\" inputmode=\"numeric\" pattern=\"[0-9]{{6}}\" required>\
         <button>Confirm</button></form>\
         <script>\
         async function poll(){{\
           try{{const r=await fetch('/enroll/status',{{cache:'no-store'}});const s=await r.json();\
             if(s.enrolled){{const e=document.getElementById('enroll-status');e.textContent='Device registered: '+s.device+'.';e.dataset.status='enrolled';setTimeout(()=>location.href='/',800);return;}}}}catch(e){{}}\
           setTimeout(poll,1000);}}\
         poll();\
         </script>",
        uri = escape(&uri),
        csrf = csrf_field(&s.csrf),
    );
    Ok(([(header::CACHE_CONTROL, "no-store")], page("Enroll", &body)).into_response())
}

/// `GET /enroll/qr.png` and `/enroll/qr.svg`.
pub async fn enroll_qr(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> PageResult {
    let Some((mut s, user)) = enrolling(&portal, &headers)? else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let (_, uri) = current_enrollment(&portal, &mut s, &user)?;
    let (content_type, bytes) = match file.as_str() {
        "qr.png" => ("image/png", crate::qr::png(&uri)),
        "qr.svg" => (
            "image/svg+xml",
            crate::qr::svg(&uri).map(String::into_bytes),
        ),
        _ => return Ok(StatusCode::NOT_FOUND.into_response()),
    };
    let Some(bytes) = bytes else {
        return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /enroll/status`: whether the session's enrollment completed; signs the session in
/// when it did.
pub async fn enroll_status(State(portal): State<Arc<Portal>>, headers: HeaderMap) -> PageResult {
    let Some(mut s) = session(&portal, &headers)? else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let Some(user) = portal.db.user(s.user_id)? else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let device = match (&s.enrollment, &user.device_id) {
        (Some(token), Some(device_id)) => portal
            .db
            .device(device_id)?
            .filter(|d| &d.enrollment == token),
        _ => None,
    };
    let Some(device) = device else {
        return Ok(axum::Json(serde_json::json!({ "enrolled": false })).into_response());
    };
    if s.state == SessionState::Password {
        s.state = SessionState::SignedIn;
        s.expires_at = portal.now() + portal.settings.session_seconds;
        portal.db.update_session(&s)?;
        portal.db.log(
            user.id,
            portal.now(),
            &s.ip,
            "session",
            "signed_in",
            "enrollment completed",
        )?;
    }
    Ok(axum::Json(serde_json::json!({
        "enrolled": true,
        "device": format!("{} ({})", device.name, device.platform),
    }))
    .into_response())
}

/// `POST /enroll/totp`: completes the enrollment with a third-party app's code.
pub async fn enroll_totp(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let Some((mut s, user)) = enrolling(&portal, &headers)? else {
        return Ok(to_login("Sign in to enroll a device."));
    };
    if !s.csrf_matches(&form.csrf) {
        return Ok((StatusCode::FORBIDDEN, "bad form").into_response());
    }
    let token = s.enrollment.clone().unwrap_or_default();
    if !portal.confirm_totp_enrollment(&user, &token, &form.code, &s.ip)? {
        return Ok((
            StatusCode::UNAUTHORIZED,
            page(
                "Enroll",
                "<h1>That code did not match</h1><p><a href=\"/enroll\">Try again</a></p>",
            ),
        )
            .into_response());
    }
    s.state = SessionState::SignedIn;
    s.expires_at = portal.now() + portal.settings.session_seconds;
    portal.db.update_session(&s)?;
    Ok(Redirect::to("/").into_response())
}

/// `GET /protected`: needs an approval younger than the step-up lifetime; otherwise sends a
/// step-up push. A deny on the device ends the session.
pub async fn protected(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> PageResult {
    let client = client(&portal, &headers, peer);
    let Some((mut s, user)) = signed_in(&portal, &headers)? else {
        return Ok(to_login("Sign in first."));
    };
    let now = portal.now();
    let fresh = s
        .step_up_at
        .is_some_and(|t| now < t + portal.settings.step_up_seconds);
    if fresh || user.device_id.is_none() {
        let note = if user.device_id.is_none() {
            "<p class=\"muted\">No push device is enrolled, so no step-up was asked.</p>"
        } else {
            ""
        };
        return Ok(page(
            "Protected",
            &format!(
                "<h1 id=\"protected\">Protected page</h1>{note}<p>You confirmed it's you. \
                 <a href=\"/\">Home</a></p>"
            ),
        )
        .into_response());
    }
    if let Some(id) = &s.challenge
        && let Some(c) = portal.challenge_status(id)?
        && c.status == ChallengeStatus::Pending
        && c.purpose == Purpose::StepUp
    {
        return Ok(Redirect::to("/login/push").into_response());
    }
    push_and_wait(
        &portal,
        &mut s,
        &user,
        assent_protocol::Purpose::StepUp,
        &client,
    )
}

/// The reset request form.
#[derive(Deserialize)]
pub struct ResetForm {
    username: String,
}

/// `GET /reset`.
pub async fn reset_form() -> Html<String> {
    page(
        "Reset your password",
        "<h1>Reset your password</h1>\
         <p>We will send a request to your enrolled device; approve it to choose a new password.</p>\
         <form method=\"post\" action=\"/reset\">\
         <label for=\"username\">User name</label><input id=\"username\" name=\"username\" required>\
         <button>Send request</button></form>",
    )
}

/// `POST /reset`: sends a password-reset push to the user's device.
pub async fn reset_start(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<ResetForm>,
) -> PageResult {
    let client = client(&portal, &headers, peer);
    let agent = user_agent(&headers);
    if let Err(retry_after) = portal.password_attempt(&client.ip, None)? {
        return Ok(too_many_requests(
            retry_after,
            "Too many sign-in attempts came from your address.",
        ));
    }
    let user = portal
        .db
        .user_by_name(form.username.trim())?
        .filter(|u| u.device_id.is_some() && !u.suspended);
    let Some(user) = user else {
        return Ok(page(
            "Reset your password",
            "<h1>Check your device</h1><p>If this account has an enrolled device, a request was sent to it. \
             Accounts without a device must ask the help desk.</p>",
        )
        .into_response());
    };
    let (mut s, cookie) = new_session(&portal, &user, SessionState::ResetPending, &client, &agent)?;
    let response = push_and_wait(
        &portal,
        &mut s,
        &user,
        assent_protocol::Purpose::PasswordReset,
        &client,
    )?;
    Ok(with_cookie(response, cookie))
}

/// `GET /reset/new`: the new-password form, after the device approved.
pub async fn reset_new_form(State(portal): State<Arc<Portal>>, headers: HeaderMap) -> PageResult {
    let Some(s) = session(&portal, &headers)?.filter(|s| s.state == SessionState::Reset) else {
        return Ok(to_login("Start the password reset again."));
    };
    Ok(page(
        "Choose a new password",
        &format!(
            "<h1>Choose a new password</h1><form method=\"post\" action=\"/reset/new\">{csrf}\
             <label for=\"password\">New password (at least 8 characters)</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" required>\
             <button>Set password</button></form>",
            csrf = csrf_field(&s.csrf)
        ),
    )
    .into_response())
}

/// The new-password form.
#[derive(Deserialize)]
pub struct NewPasswordForm {
    csrf: String,
    password: String,
}

/// `POST /reset/new`: sets the password; the user signs in again with it.
pub async fn reset_new(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Form(form): Form<NewPasswordForm>,
) -> PageResult {
    let Some(s) = session(&portal, &headers)?.filter(|s| s.state == SessionState::Reset) else {
        return Ok(to_login("Start the password reset again."));
    };
    if !s.csrf_matches(&form.csrf) {
        return Ok((StatusCode::FORBIDDEN, "bad form").into_response());
    }
    let Some(user) = portal.db.user(s.user_id)? else {
        return Ok(to_login("Start the password reset again."));
    };
    let setter = portal.clone();
    let password = zeroize::Zeroizing::new(form.password);
    let result = tokio::task::spawn_blocking(move || setter.set_password(&user, &password))
        .await
        .map_err(|_| PortalError::TaskFailed)?;
    match result {
        Ok(()) => {
            portal.db.end_session(&s.id, SessionEnd::PasswordChanged)?;
            portal.db.log(
                s.user_id,
                portal.now(),
                &s.ip,
                "password_reset",
                "ok",
                "approved by push",
            )?;
            Ok((
                [(header::SET_COOKIE, set_cookie(&portal, "", 0)?)],
                to_login("Password changed. Sign in with the new password."),
            )
                .into_response())
        }
        Err(PortalError::BadPassword(why)) => Ok((
            StatusCode::BAD_REQUEST,
            page(
                "Choose a new password",
                &format!(
                    "<p class=\"error\">{}</p><p><a href=\"/reset/new\">Try again</a></p>",
                    escape(why)
                ),
            ),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}
