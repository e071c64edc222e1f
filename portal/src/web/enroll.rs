//! The enrollment page: one QR for push and TOTP, the same data as text, a code field for
//! third-party apps, and the poll that notices when the device registered.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::login::CodeForm;
use super::{NoVisit, PageResult, Visit, to_login};
use crate::app::Portal;
use crate::app::sessions::may_enroll;
use crate::html::{csrf_field, escape, page};

/// The sign-in page for a session that may not enroll.
fn not_enrolling() -> Response {
    to_login("Sign in to enroll a device.")
}

/// `GET /enroll`: the one QR (push + TOTP), the same data as text, and a code field for
/// third-party apps; the page notices when the device registered.
pub async fn enroll_page(State(portal): State<Arc<Portal>>, visit: Visit) -> PageResult {
    let Visit {
        mut session, user, ..
    } = visit;
    if !may_enroll(&session, &user) {
        return Ok(not_enrolling());
    }
    let enrolled = user.enrolled();
    let (session, uri) = portal
        .blocking(move |p| {
            let uri = p.session_enrollment(&mut session, &user)?;
            Ok((session, uri))
        })
        .await?;
    let replacing = if enrolled {
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
         <script src=\"/static/enroll.js\" defer></script>",
        uri = escape(&uri),
        csrf = csrf_field(&session.csrf),
    );
    Ok(([(header::CACHE_CONTROL, "no-store")], page("Enroll", &body)).into_response())
}

/// `GET /enroll/qr.png` and `/enroll/qr.svg`.
pub async fn enroll_qr(
    State(portal): State<Arc<Portal>>,
    Path(file): Path<String>,
    visit: Result<Visit, NoVisit>,
) -> PageResult {
    let Ok(Visit {
        mut session, user, ..
    }) = visit
    else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    if !may_enroll(&session, &user) {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    }
    let content_type = match file.as_str() {
        "qr.png" => "image/png",
        "qr.svg" => "image/svg+xml",
        _ => return Ok(StatusCode::NOT_FOUND.into_response()),
    };
    let bytes = portal
        .blocking(move |p| {
            let uri = p.session_enrollment(&mut session, &user)?;
            Ok(match file.as_str() {
                "qr.png" => crate::qr::png(&uri),
                _ => crate::qr::svg(&uri).map(String::into_bytes),
            })
        })
        .await?;
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
pub async fn enroll_status(
    State(portal): State<Arc<Portal>>,
    visit: Result<Visit, NoVisit>,
) -> PageResult {
    let Ok(Visit {
        mut session, user, ..
    }) = visit
    else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let device = portal
        .blocking(move |p| p.enrollment_done(&mut session, &user))
        .await?;
    Ok(match device {
        Some(device) => axum::Json(json!({
            "enrolled": true,
            "device": format!("{} ({})", device.name, device.platform),
        })),
        None => axum::Json(json!({ "enrolled": false })),
    }
    .into_response())
}

/// `POST /enroll/totp`: completes the enrollment with a third-party app's code.
pub async fn enroll_totp(State(portal): State<Arc<Portal>>, visit: Visit<CodeForm>) -> PageResult {
    let Visit {
        mut session,
        user,
        form,
        ..
    } = visit;
    if !may_enroll(&session, &user) {
        return Ok(not_enrolling());
    }
    let done = portal
        .blocking(move |p| p.enroll_with_code(&mut session, &user, &form.code))
        .await?;
    if !done {
        return Ok((
            StatusCode::UNAUTHORIZED,
            page(
                "Enroll",
                "<h1>That code did not match</h1><p><a href=\"/enroll\">Try again</a></p>",
            ),
        )
            .into_response());
    }
    Ok(axum::response::Redirect::to("/").into_response())
}
