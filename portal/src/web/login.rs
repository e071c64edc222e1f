//! Home, sign-in with a password, the TOTP step, and sign-out.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect};
use serde::Deserialize;

use super::{
    CsrfForm, NoVisit, PageResult, Visit, clear_cookie, client, to_login, too_many_requests,
    user_agent, with_session,
};
use crate::app::Portal;
use crate::app::sessions::{Login, Next, Pushed};
use crate::app::totp::TotpOutcome;
use crate::db::{Session, SessionState};
use crate::html::{csrf_field, escape, notice, page};

const LOCKED: &str =
    "This account is locked after too many wrong codes. Try later or contact your help desk.";

/// `GET /`: the signed-in home page (a console account's is the console).
pub async fn home(visit: Result<Visit, NoVisit>) -> PageResult {
    let Ok(Visit { session, user, .. }) = visit else {
        return Ok(Redirect::to("/login").into_response());
    };
    match session.state {
        SessionState::SignedIn if user.role.is_some() => {
            return Ok(Redirect::to("/admin").into_response());
        }
        SessionState::SignedIn => {}
        SessionState::NewPassword => return Ok(Redirect::to("/password").into_response()),
        _ => return Ok(Redirect::to("/login").into_response()),
    }
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
        csrf = csrf_field(&session.csrf),
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
    sign_in_page(SignIn::Portal, error, message)
}

/// Which sign-in form: the portal's, or the help-desk console's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// `/login`, for everyone.
    Portal,
    /// `/admin`, for console accounts.
    Console,
}

/// The sign-in form of `which`, with an error or a message.
pub fn sign_in_page(which: SignIn, error: Option<&str>, message: Option<&str>) -> Html<String> {
    let (title, heading, action, extra) = match which {
        SignIn::Portal => (
            "Sign in",
            "Sign in",
            "/login",
            "<p><a href=\"/reset\">Forgot your password?</a></p>",
        ),
        SignIn::Console => (
            "Help-desk console",
            "Help-desk console",
            "/admin/login",
            "<p class=\"muted\">For console accounts. Sign-in asks for your second factor.</p>",
        ),
    };
    page(
        title,
        &format!(
            "<h1>{heading}</h1>{notice}\
             <form method=\"post\" action=\"{action}\" id=\"sign-in-form\">\
             <label for=\"username\">User name</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
             <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <button id=\"sign-in\">Sign in</button></form>{extra}",
            notice = notice(error, message),
        ),
    )
}

/// `GET /login`.
pub async fn login_form(Query(q): Query<LoginQuery>) -> Html<String> {
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
    sign_in(portal, peer, headers, form, SignIn::Portal).await
}

/// The password step of `which` sign-in; the second factor's pages are the same for both.
pub async fn sign_in(
    portal: Arc<Portal>,
    peer: SocketAddr,
    headers: HeaderMap,
    form: LoginForm,
    which: SignIn,
) -> PageResult {
    let client = client(&portal, &headers, peer);
    let password = zeroize::Zeroizing::new(form.password);
    let agent = user_agent(&headers);
    let login = portal
        .login(
            form.username,
            password,
            (client, agent),
            which == SignIn::Console,
        )
        .await?;
    let refused = |status: StatusCode, error: &str| {
        (status, sign_in_page(which, Some(error), None)).into_response()
    };
    let (started, next) = match login {
        Login::Throttled { retry_after } => {
            return Ok(too_many_requests(
                retry_after,
                "Too many wrong passwords were tried.",
            ));
        }
        Login::WrongPassword => {
            return Ok(refused(
                StatusCode::UNAUTHORIZED,
                "Wrong user name or password.",
            ));
        }
        Login::Suspended => {
            return Ok(refused(
                StatusCode::FORBIDDEN,
                "This account is suspended. Contact your help desk.",
            ));
        }
        Login::LockedOut => return Ok(refused(StatusCode::FORBIDDEN, LOCKED)),
        Login::NotConsole => {
            return Ok(refused(
                StatusCode::FORBIDDEN,
                "This account has no access to the help-desk console.",
            ));
        }
        Login::Started(started, next) => (started, next),
    };
    let response = match next {
        Next::Home => Redirect::to("/").into_response(),
        Next::Push(Pushed::Sent) => Redirect::to("/login/push").into_response(),
        Next::Push(Pushed::Limited { retry_after }) => too_many_requests(
            retry_after,
            "Too many sign-in requests were sent to your device.",
        ),
        Next::Totp => Redirect::to("/login/totp").into_response(),
        Next::Enroll => Redirect::to("/enroll").into_response(),
    };
    Ok(with_session(&portal, response, &started)?)
}

/// `POST /logout`.
pub async fn logout(
    State(portal): State<Arc<Portal>>,
    visit: Result<Visit<CsrfForm>, NoVisit>,
) -> PageResult {
    if let Ok(visit) = visit {
        let session = visit.session;
        portal.blocking(move |p| p.sign_out(&session)).await?;
    }
    Ok((
        [(header::SET_COOKIE, clear_cookie(&portal)?)],
        to_login("Signed out."),
    )
        .into_response())
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
pub async fn totp_form(visit: Visit) -> PageResult {
    if visit.session.state != SessionState::Password {
        return Ok(to_login("Sign in first."));
    }
    Ok(totp_page(&visit.session, None).into_response())
}

/// A form with a TOTP code.
#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    pub(super) code: String,
}

super::posted!(CodeForm);

/// `POST /login/totp`: five wrong codes lock the account.
pub async fn totp(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    visit: Visit<CodeForm>,
) -> PageResult {
    let client = client(&portal, &headers, peer);
    let Visit {
        mut session,
        user,
        form,
        ..
    } = visit;
    if session.state != SessionState::Password {
        return Ok(to_login("Sign in first."));
    }
    let (session, outcome) = portal
        .blocking(move |p| {
            let outcome = p.totp_sign_in(&mut session, &user, &form.code, &client)?;
            Ok((session, outcome))
        })
        .await?;
    Ok(match outcome {
        TotpOutcome::Accepted => Redirect::to("/").into_response(),
        TotpOutcome::Rejected { remaining } => (
            StatusCode::UNAUTHORIZED,
            totp_page(
                &session,
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
            .into_response(),
        TotpOutcome::Locked => (
            StatusCode::FORBIDDEN,
            [(header::SET_COOKIE, clear_cookie(&portal)?)],
            login_page(Some(LOCKED), None),
        )
            .into_response(),
        TotpOutcome::NotEnrolled => Redirect::to("/enroll").into_response(),
    })
}

fn new_password_page(s: &Session, error: Option<&str>) -> Html<String> {
    page(
        "Choose a new password",
        &format!(
            "<h1>Choose a new password</h1>\
             <p>Your help desk asks you to choose a new password before you go on.</p>{notice}\
             <form method=\"post\" action=\"/password\">{csrf}\
             <label for=\"new-password\">New password</label>\
             <input id=\"new-password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>\
             <label for=\"new-password-again\">The same again</label>\
             <input id=\"new-password-again\" name=\"again\" type=\"password\" autocomplete=\"new-password\" required>\
             <p class=\"muted\">12 to 64 characters, not containing your user name.</p>\
             <button id=\"change-password\">Change password</button></form>",
            notice = notice(error, None),
            csrf = csrf_field(&s.csrf),
        ),
    )
}

/// `GET /password`: the new password the help desk required, before the session signs in.
pub async fn new_password_form(visit: Visit) -> PageResult {
    if visit.session.state != SessionState::NewPassword {
        return Ok(Redirect::to("/").into_response());
    }
    Ok(new_password_page(&visit.session, None).into_response())
}

/// The new-password form.
#[derive(Deserialize)]
pub struct NewPasswordForm {
    csrf: String,
    password: String,
    again: String,
}

super::posted!(NewPasswordForm);

/// `POST /password`: the policy and the old password refuse with their reason; a good one
/// signs the session in.
pub async fn new_password(
    State(portal): State<Arc<Portal>>,
    visit: Visit<NewPasswordForm>,
) -> PageResult {
    let Visit {
        session,
        user,
        form,
        ..
    } = visit;
    if session.state != SessionState::NewPassword {
        return Ok(Redirect::to("/").into_response());
    }
    let shown = session.clone();
    let password = zeroize::Zeroizing::new(form.password);
    let again = zeroize::Zeroizing::new(form.again);
    Ok(
        match portal
            .change_password(session, user, password, again)
            .await?
        {
            Ok(()) => Redirect::to("/").into_response(),
            Err(why) => (
                StatusCode::BAD_REQUEST,
                new_password_page(&shown, Some(why)),
            )
                .into_response(),
        },
    )
}
