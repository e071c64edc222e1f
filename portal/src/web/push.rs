//! The waiting page with the number to type, its status poll, "send again", and step-up on a
//! protected page.

use std::net::SocketAddr;
use std::sync::Arc;

use assent_protocol::Purpose;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;

use super::{CsrfForm, NoVisit, PageResult, Visit, client, login_url, to_login, too_many_requests};
use crate::app::Portal;
use crate::app::sessions::{self, Destination, Pushed, SendAgain, StepUp};
use crate::db::{ChallengeReason, ChallengeStatus, Session};
use crate::html::{csrf_field, escape, page};

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
             <script src=\"/static/waiting.js\" defer></script>",
            title = escape(title),
            lead = escape(lead),
            csrf = csrf_field(&s.csrf),
        ),
    )
}

/// What to show for a push that was not sent: the limit page, or the waiting page.
fn after_push(pushed: Pushed) -> Response {
    match pushed {
        Pushed::Sent => Redirect::to("/login/push").into_response(),
        Pushed::Limited { retry_after } => too_many_requests(
            retry_after,
            "Too many sign-in requests were sent to your device.",
        ),
    }
}

/// `GET /login/push`: the waiting page with the number to type.
pub async fn push_wait(visit: Visit) -> PageResult {
    let Visit {
        session,
        user,
        challenge,
        ..
    } = visit;
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
        &session,
        challenge.as_ref().and_then(|c| c.number.as_deref()),
        sessions::may_use_code(&session, &user),
    )
    .into_response())
}

/// `GET /login/push/status`: JSON for the waiting page; on approval, the session moves on and
/// the page is told where to go.
pub async fn push_status(
    State(portal): State<Arc<Portal>>,
    visit: Result<Visit, NoVisit>,
) -> PageResult {
    let reply = |v: serde_json::Value| {
        ([(header::CACHE_CONTROL, "no-store")], axum::Json(v)).into_response()
    };
    let (session, challenge) = match visit {
        Ok(visit) => (visit.session, visit.challenge),
        Err(NoVisit::Failed(e)) => return Err(e),
        Err(gone) => {
            let message = gone
                .message()
                .unwrap_or("Your session ended; sign in again.");
            return Ok(reply(json!({
                "status": "signed_out",
                "message": message,
                "redirect": login_url(message),
            })));
        }
    };
    let progress = portal.push_progress(session, challenge).await?;
    let Some(challenge) = progress.challenge else {
        return Ok(reply(json!({
            "status": "none",
            "message": "No request is waiting. Too many requests recently? Wait, then send again.",
        })));
    };
    let mut body = json!({ "status": challenge.status.as_str() });
    let message = match challenge.status {
        // The relay could not hand it to the device (not connected, token dead, refused): the
        // device only sees it if the app is opened, so say so and offer the other ways.
        ChallengeStatus::Pending if challenge.delivery.is_some_and(|d| d.missed()) => {
            body["undelivered"] = true.into();
            "Your device did not get the request. Open the Assent app on it to see the request, use a code instead, or send it again."
        }
        ChallengeStatus::Pending => "Waiting for your approval…",
        ChallengeStatus::Approved => "Approved.",
        ChallengeStatus::Denied if challenge.reason != Some(ChallengeReason::NotMe) => {
            "Denied on your device."
        }
        ChallengeStatus::Denied if portal.alerts_help_desk() => {
            "Denied on your device and reported as not you. Your help desk has been notified."
        }
        ChallengeStatus::Denied => {
            "Denied on your device and reported as not you. It is recorded for your help desk."
        }
        ChallengeStatus::Failed => "The number typed on the device was wrong. Send a new request.",
        ChallengeStatus::Expired => "The request expired after 60 seconds.",
        ChallengeStatus::Cancelled => "The request was withdrawn.",
    };
    body["message"] = message.into();
    if challenge.status == ChallengeStatus::Pending {
        body["expires_in"] = challenge.exp.saturating_sub(portal.now()).into();
    }
    if let Some(next) = progress.next {
        body["redirect"] = match next {
            Destination::Home => "/",
            Destination::Protected => "/protected",
            Destination::NewPassword => "/reset/new",
        }
        .into();
    }
    if let Some(delivery) = challenge.delivery {
        body["delivery"] = delivery.as_str().into();
    }
    if let Some(detail) = challenge.delivery_detail {
        body["delivery_detail"] = detail.into();
    }
    Ok(reply(body))
}

/// `POST /login/push/send`: "send again" (rate limited per user).
pub async fn push_send(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    visit: Visit<CsrfForm>,
) -> PageResult {
    let client = client(&portal, &headers, peer);
    Ok(
        match portal.send_again(visit.session, visit.user, client).await? {
            SendAgain::Pushed(pushed) => after_push(pushed),
            SendAgain::ResetReady => Redirect::to("/reset/new").into_response(),
            SendAgain::PasswordDue => Redirect::to("/password").into_response(),
        },
    )
}

/// `GET /protected`: needs an approval younger than the step-up lifetime; otherwise sends a
/// step-up push. A deny on the device ends the session.
pub async fn protected(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    visit: Visit,
) -> PageResult {
    let client = client(&portal, &headers, peer);
    if visit.session.state != crate::db::SessionState::SignedIn {
        return Ok(to_login("Sign in first."));
    }
    let note = match portal.step_up(visit.visited(), client).await? {
        StepUp::Fresh => "",
        StepUp::NoDevice => {
            "<p class=\"muted\">No push device is enrolled, so no step-up was asked.</p>"
        }
        StepUp::Waiting => return Ok(Redirect::to("/login/push").into_response()),
        StepUp::Pushed(pushed) => return Ok(after_push(pushed)),
    };
    Ok(page(
        "Protected",
        &format!(
            "<h1 id=\"protected\">Protected page</h1>{note}<p>You confirmed it's you. \
             <a href=\"/\">Home</a></p>"
        ),
    )
    .into_response())
}
