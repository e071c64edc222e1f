//! Password reset by push: the request form, the push, and the new password once the device
//! approved.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::{
    PageResult, Visit, clear_cookie, client, to_login, too_many_requests, user_agent, with_session,
};
use crate::app::sessions::{Pushed, ResetStart};
use crate::app::{Portal, PortalError};
use crate::db::SessionState;
use crate::html::{csrf_field, escape, page};

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
    let started = portal
        .start_reset(form.username, client, user_agent(&headers))
        .await?;
    Ok(match started {
        ResetStart::Throttled { retry_after } => too_many_requests(
            retry_after,
            "Too many sign-in attempts came from your address.",
        ),
        ResetStart::NotSent => page(
            "Reset your password",
            "<h1>Check your device</h1><p>If this account has an enrolled device, a request was sent to it. \
             Accounts without a device must ask the help desk.</p>",
        )
        .into_response(),
        ResetStart::Started(started, pushed) => {
            let response = match pushed {
                Pushed::Sent => axum::response::Redirect::to("/login/push").into_response(),
                Pushed::Limited { retry_after } => too_many_requests(
                    retry_after,
                    "Too many sign-in requests were sent to your device.",
                ),
            };
            with_session(&portal, response, &started)?
        }
    })
}

fn start_again() -> Response {
    to_login("Start the password reset again.")
}

/// `GET /reset/new`: the new-password form, after the device approved.
pub async fn reset_new_form(visit: Visit) -> PageResult {
    if visit.session.state != SessionState::Reset {
        return Ok(start_again());
    }
    Ok(page(
        "Choose a new password",
        &format!(
            "<h1>Choose a new password</h1><form method=\"post\" action=\"/reset/new\">{csrf}\
             <label for=\"password\">New password (12 to 64 characters, without your user name)</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"12\" maxlength=\"64\" required>\
             <button>Set password</button></form>",
            csrf = csrf_field(&visit.session.csrf)
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

super::posted!(NewPasswordForm);

/// `POST /reset/new`: sets the password; the user signs in again with it.
pub async fn reset_new(
    State(portal): State<Arc<Portal>>,
    visit: Visit<NewPasswordForm>,
) -> PageResult {
    if visit.session.state != SessionState::Reset {
        return Ok(start_again());
    }
    let password = zeroize::Zeroizing::new(visit.form.password);
    match portal
        .finish_reset(visit.session, visit.user, password)
        .await
    {
        Ok(()) => Ok((
            [(header::SET_COOKIE, clear_cookie(&portal)?)],
            to_login("Password changed. Sign in with the new password."),
        )
            .into_response()),
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
