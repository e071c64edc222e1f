//! The HTTP surface: the router for pages, the device endpoints (docs/protocol.md §11), the
//! help-desk JSON API, and (tests only) the clock control.

use std::net::SocketAddr;
use std::sync::Arc;

use assent_protocol::{ErrorCode, ErrorResponse};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::app::Portal;
use crate::app::devices::{self, Refusal};
use crate::web::{self, admin_api, rp_api};

/// Largest request body (docs/protocol.md §8).
pub const MAX_BODY: usize = 8192;

/// Longest a request may take, reading its body included.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Longest a relying party's request may take: a 60-second long poll and some margin.
pub const LONG_POLL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(75);

/// The whole portal.
pub fn router(portal: Arc<Portal>) -> Router {
    use web::{console, enroll, login, push, reset};
    let pages = Router::new()
        .route("/", get(login::home))
        .route(
            "/password",
            get(login::new_password_form).post(login::new_password),
        )
        .route("/admin", get(console::home))
        .route("/admin/login", post(console::login))
        .route("/admin/logout", post(console::logout))
        .route("/admin/users", get(console::users))
        .route("/admin/users/{name}", get(console::user))
        .route(
            "/admin/users/{name}/{action}",
            get(console::confirm_action).post(console::act),
        )
        .route(
            "/admin/admins",
            get(console::admins).post(console::create_admin),
        )
        .route(
            "/admin/admins/require-mfa",
            get(console::confirm_require_mfa).post(console::require_mfa),
        )
        .route("/admin/admins/{name}/role", post(console::set_role))
        .route(
            "/admin/clients",
            get(console::clients).post(console::create_client),
        )
        .route(
            "/admin/clients/{name}/delete",
            get(console::confirm_delete_client).post(console::delete_client),
        )
        .route("/login", get(login::login_form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/login/push", get(push::push_wait))
        .route("/login/push/status", get(push::push_status))
        .route("/login/push/send", post(push::push_send))
        .route("/login/totp", get(login::totp_form).post(login::totp))
        .route("/enroll", get(enroll::enroll_page))
        .route("/enroll/status", get(enroll::enroll_status))
        .route("/enroll/totp", post(enroll::enroll_totp))
        .route("/enroll/{file}", get(enroll::enroll_qr))
        .route("/protected", get(push::protected))
        .route("/reset", get(reset::reset_form).post(reset::reset_start))
        .route(
            "/reset/new",
            get(reset::reset_new_form).post(reset::reset_new),
        )
        .route("/static/{file}", get(web::assets::script))
        .route_layer(axum::middleware::from_fn_with_state(
            portal.clone(),
            web::same_origin,
        ))
        .layer(axum::middleware::from_fn(web::security_headers));
    let mut router = pages
        .route(
            "/assent/v1/register",
            device_route(devices::register, created),
        )
        .route("/assent/v1/answers", device_route(devices::answer, json))
        .route("/assent/v1/pending", device_route(devices::pending, json))
        .route(
            "/assent/v1/push-token",
            device_route(devices::push_token, no_content),
        )
        .route(
            "/admin/api/users",
            get(admin_api::users).post(admin_api::create_user),
        )
        .route("/admin/api/users/{name}", get(admin_api::user))
        .route("/admin/api/users/{name}/events", get(admin_api::events))
        .route("/admin/api/users/{name}/{action}", post(admin_api::action))
        .route("/admin/api/dashboard", get(admin_api::dashboard))
        .route(
            "/admin/api/admins",
            get(admin_api::admins).post(admin_api::create_admin),
        )
        .route(
            "/admin/api/admins/require-mfa",
            post(admin_api::require_mfa_for_admins),
        )
        .route("/admin/api/admins/{name}/role", post(admin_api::set_role))
        .route("/healthz", get(|| async { "ok" }));
    if portal.settings().test_clock {
        router = router.route("/test/clock", post(test_clock));
    }
    // The relying parties' long polls wait up to 60 s for an answer: their bound is longer.
    let relying = Router::new()
        .route("/rp/v1/verifications", post(rp_api::start))
        .route(
            "/rp/v1/verifications/{id}",
            get(rp_api::poll).delete(rp_api::withdraw),
        )
        .route("/rp/v1/codes", post(rp_api::code))
        .route("/rp/v1/openapi.json", get(rp_api::openapi))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            LONG_POLL_TIMEOUT,
        ));
    router
        .layer(DefaultBodyLimit::max(MAX_BODY))
        // A request that takes longer than this (a stuck database, a client trickling its
        // body) is answered 408 and its work dropped, instead of holding a connection forever.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .merge(relying)
        .with_state(portal)
}

fn refusal(r: Refusal) -> Response {
    let status = StatusCode::from_u16(r.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    tracing::info!(code = ?r.code, message = %r.message, "device request refused");
    let mut response = (status, axum::Json(ErrorResponse::new(r.code, r.message))).into_response();
    if r.code == ErrorCode::RateLimited {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

/// Reads a device request body: `application/jose`, at most [`MAX_BODY`] bytes, ASCII.
fn jose_body(headers: &HeaderMap, body: &Bytes) -> Result<String, Refusal> {
    if body.len() > MAX_BODY {
        return Err(Refusal {
            code: ErrorCode::TooLarge,
            message: "body over 8192 bytes".into(),
        });
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with(assent_protocol_content_type()) {
        return Err(Refusal {
            code: ErrorCode::Malformed,
            message: "Content-Type must be application/jose".into(),
        });
    }
    String::from_utf8(body.to_vec())
        .ok()
        .filter(|s| s.is_ascii())
        .map(|s| s.trim().to_owned())
        .ok_or(Refusal {
            code: ErrorCode::Malformed,
            message: "the body is not a compact JWS".into(),
        })
}

fn assent_protocol_content_type() -> &'static str {
    "application/jose"
}

/// Runs a device endpoint through [`Portal::quick`] (storage and signature checks), mapping the
/// body-size limit's rejection to `too_large`.
async fn device_call<T: Send + 'static>(
    portal: Arc<Portal>,
    headers: HeaderMap,
    peer: Option<SocketAddr>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    f: DeviceFn<T>,
) -> Result<T, Response> {
    let ip = web::client_ip(&portal, &headers, peer);
    let body = body.map_err(|e| {
        refusal(Refusal {
            code: if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ErrorCode::TooLarge
            } else {
                ErrorCode::Malformed
            },
            message: e.body_text(),
        })
    })?;
    let jws = jose_body(&headers, &body).map_err(refusal)?;
    portal
        .quick(move |p| Ok(f(p, &jws, &ip)))
        .await
        .map_err(|e| refusal(e.into()))?
        .map_err(refusal)
}

/// A device endpoint's logic: the JWS body and the client's address in, a result out.
type DeviceFn<T> = fn(&Portal, &str, &str) -> Result<T, Refusal>;

/// A device endpoint: the body checks and a blocking call of `f`, whose success `ok` renders.
fn device_route<T: Send + 'static>(
    f: DeviceFn<T>,
    ok: fn(T) -> Response,
) -> MethodRouter<Arc<Portal>> {
    post(
        move |State(portal): State<Arc<Portal>>,
              peer: Option<Extension<ConnectInfo<SocketAddr>>>,
              headers: HeaderMap,
              body: Result<Bytes, axum::extract::rejection::BytesRejection>| async move {
            let peer = peer.map(|Extension(ConnectInfo(addr))| addr);
            match device_call(portal, headers, peer, body, f).await {
                Ok(v) => ok(v),
                Err(r) => r,
            }
        },
    )
}

fn created(v: serde_json::Value) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

fn json(v: serde_json::Value) -> Response {
    axum::Json(v).into_response()
}

fn no_content((): ()) -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[derive(serde::Deserialize)]
struct Advance {
    advance: i64,
}

/// Tests only (`--test-clock`): moves the portal's clock (back when `advance` is negative).
async fn test_clock(
    State(portal): State<Arc<Portal>>,
    axum::Json(advance): axum::Json<Advance>,
) -> Response {
    if let Some(clock) = portal.test_clock() {
        clock.advance(advance.advance);
        axum::Json(serde_json::json!({ "now": portal.now() })).into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}
