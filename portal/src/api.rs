//! The HTTP surface: the router for pages, the device endpoints (docs/protocol.md §11), the
//! help-desk JSON API, and (tests only) the clock control.

use std::net::SocketAddr;
use std::sync::Arc;

use assent_protocol::{ErrorCode, ErrorResponse};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::admin::Action;
use crate::app::devices::{self, Refusal};
use crate::app::{Portal, PortalError};
use crate::web;

/// Largest request body (docs/protocol.md §8).
pub const MAX_BODY: usize = 8192;

/// Longest a request may take, reading its body included.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The whole portal.
pub fn router(portal: Arc<Portal>) -> Router {
    use web::{enroll, login, push, reset};
    let pages = Router::new()
        .route("/", get(login::home))
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
        .route("/admin/api/users", get(admin_users).post(admin_create))
        .route("/admin/api/users/{name}/events", get(admin_events))
        .route("/admin/api/users/{name}/{action}", post(admin_action))
        .route("/healthz", get(|| async { "ok" }));
    if portal.settings().test_clock {
        router = router.route("/test/clock", post(test_clock));
    }
    router
        .layer(DefaultBodyLimit::max(MAX_BODY))
        // A request that takes longer than this (a stuck database, a client trickling its
        // body) is answered 408 and its work dropped, instead of holding a connection forever.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
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

/// Runs a device endpoint on a blocking thread (SQLite and signature checks), mapping the
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
        .blocking(move |p| Ok(f(p, &jws, &ip)))
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

// ---- help-desk API

fn admin_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": code, "message": message })),
    )
        .into_response()
}

fn authorize(portal: &Portal, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(expected) = &portal.settings().admin_token else {
        return Err(Box::new(admin_error(
            StatusCode::NOT_FOUND,
            "disabled",
            "the admin API is off",
        )));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let a = ring::digest::digest(&ring::digest::SHA256, given.as_bytes());
    let b = ring::digest::digest(&ring::digest::SHA256, expected.as_bytes());
    if a.as_ref() == b.as_ref() && !expected.is_empty() {
        Ok(())
    } else {
        Err(Box::new(admin_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong admin token",
        )))
    }
}

fn admin_result<T: serde::Serialize>(result: Result<T, PortalError>) -> Response {
    match result {
        Ok(v) => axum::Json(v).into_response(),
        Err(PortalError::NoSuchUser) => {
            admin_error(StatusCode::NOT_FOUND, "no_such_user", "no such user")
        }
        Err(PortalError::UserExists) => admin_error(
            StatusCode::CONFLICT,
            "user_exists",
            "a user with that name exists",
        ),
        Err(PortalError::BadPassword(why) | PortalError::BadUserName(why)) => {
            admin_error(StatusCode::BAD_REQUEST, "invalid", why)
        }
        Err(e) => {
            tracing::error!(error = %e, "admin API failed");
            admin_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
    }
}

async fn admin_users(State(portal): State<Arc<Portal>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&portal, &headers) {
        return *r;
    }
    admin_result(portal.blocking(|p| p.list_users()).await)
}

#[derive(serde::Deserialize)]
struct NewUser {
    username: String,
    password: String,
}

async fn admin_create(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    axum::Json(user): axum::Json<NewUser>,
) -> Response {
    if let Err(r) = authorize(&portal, &headers) {
        return *r;
    }
    let result = portal
        .blocking(move |p| {
            p.create_user(&user.username, &user.password)
                .map(|u| serde_json::json!({ "username": u.username }))
        })
        .await;
    match result {
        Ok(v) => (StatusCode::CREATED, axum::Json(v)).into_response(),
        Err(e) => admin_result::<()>(Err(e)),
    }
}

async fn admin_events(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if let Err(r) = authorize(&portal, &headers) {
        return *r;
    }
    admin_result(portal.blocking(move |p| p.user_events(&name)).await)
}

async fn admin_action(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    if let Err(r) = authorize(&portal, &headers) {
        return *r;
    }
    let Some(action) = Action::parse(&action) else {
        return admin_error(StatusCode::NOT_FOUND, "unknown_action", "unknown action");
    };
    admin_result(
        portal
            .blocking(move |p| p.admin_action(&name, action, "admin-api"))
            .await,
    )
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
