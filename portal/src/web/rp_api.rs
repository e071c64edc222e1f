//! The relying-party API under `/rp/v1` (docs/portal.md, "Relying parties";
//! `portal/static/rp-openapi.json`, served at `/rp/v1/openapi.json`): a registered server asks
//! for a push verification of one of the portal's users, waits for it or polls it, withdraws
//! it, or checks a TOTP code. Every request carries the client's key as a bearer token.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::client_ip;
use crate::app::relying::{MAX_WAIT_SECONDS, RpAnswer, RpRequest, RpStatus, SIGNATURE_HEADER};
use crate::app::{Portal, PortalError};
use crate::db::RpClient;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../static/rp-openapi.json");

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": code, "message": message })),
    )
        .into_response()
}

/// The relying party of a request, by its key (and its signature, for a client that signs),
/// with the request's body.
pub struct Rp {
    /// The client.
    pub client: RpClient,
    /// The address the request came from (the relying party's server).
    pub ip: String,
    /// The body (what a signing client signed).
    pub body: Bytes,
}

impl axum::extract::FromRequest<Arc<Portal>> for Rp {
    type Rejection = Response;

    async fn from_request(request: Request, portal: &Arc<Portal>) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let ip = client_ip(portal, &parts.headers, peer);
        let body = axum::body::to_bytes(body, crate::api::MAX_BODY)
            .await
            .map_err(|_| {
                error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid",
                    "body over 8192 bytes",
                )
            })?;
        let signature = parts
            .headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let method = parts.method.as_str().to_owned();
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|k| zeroize::Zeroizing::new(k.trim().to_owned()));
        let unauthorized = || {
            error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong client key",
            )
        };
        let Some(key) = key else {
            return Err(unauthorized());
        };
        let signed = body.clone();
        let checked = portal
            .blocking(move |p| {
                let Some(client) = p.authenticate_client(&key)? else {
                    return Ok(Err(None));
                };
                match p.check_signature(&client, signature.as_deref(), (&method, &path, &signed)) {
                    Ok(()) => Ok(Ok(client)),
                    Err(refusal) => Ok(Err(Some(refusal))),
                }
            })
            .await;
        match checked {
            Ok(Ok(client)) => Ok(Self { client, ip, body }),
            Ok(Err(None)) => {
                tracing::info!(%ip, "relying-party request with a wrong key refused");
                Err(unauthorized())
            }
            Ok(Err(Some(refusal))) => {
                let (code, message) = refusal.describe();
                tracing::info!(%ip, code, "relying-party request signature refused");
                Err(error(StatusCode::UNAUTHORIZED, code, message))
            }
            Err(e) => Err(failure(e)),
        }
    }
}

fn failure(e: PortalError) -> Response {
    match e {
        PortalError::NoSuchUser => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such user or verification",
        ),
        PortalError::Invalid(why) => error(StatusCode::BAD_REQUEST, "invalid", why),
        e => {
            tracing::error!(error = %e, "relying-party API failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
    }
}

fn reply(result: Result<RpAnswer, PortalError>) -> Response {
    match result {
        Ok(answer) => {
            let status = match answer.status {
                RpStatus::Pending => StatusCode::ACCEPTED,
                RpStatus::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::OK,
            };
            let mut response = (status, axum::Json(&answer)).into_response();
            if let Some(retry) = answer.retry_after
                && let Ok(value) = header::HeaderValue::from_str(&retry.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Err(e) => failure(e),
    }
}

/// A JSON body.
fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(bytes)
        .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, "invalid", &e.to_string())))
}

/// A verification's request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    user: String,
    application: Option<String>,
    ip: Option<String>,
    /// Wait (up to 60 s) for the answer instead of returning at once.
    #[serde(default)]
    wait: bool,
}

/// `POST /rp/v1/verifications`: a push to the user's device (202 with its `id` and `number`,
/// or with `wait` the answer), or at once what policy decided (200).
pub async fn start(State(portal): State<Arc<Portal>>, rp: Rp) -> Response {
    let start: Start = match body(&rp.body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let request = RpRequest {
        user: start.user,
        application: start.application,
        ip: start.ip.or(Some(rp.ip)),
    };
    let answer = match portal.start_verification(rp.client.clone(), request).await {
        Ok(a) => a,
        Err(e) => return failure(e),
    };
    match (&answer.id, answer.status) {
        (Some(id), RpStatus::Pending) if start.wait => reply(
            portal
                .wait_verification(rp.client, id.clone(), MAX_WAIT_SECONDS)
                .await,
        ),
        _ => reply(Ok(answer)),
    }
}

/// The query of a poll.
#[derive(Deserialize, Default)]
pub struct Wait {
    /// Seconds to wait for the answer (0: answer at once; at most 60).
    #[serde(default)]
    wait: u64,
}

/// `GET /rp/v1/verifications/{id}?wait=N`: where it stands, waiting up to N seconds for it to
/// settle.
pub async fn poll(
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    Query(wait): Query<Wait>,
    rp: Rp,
) -> Response {
    reply(portal.wait_verification(rp.client, id, wait.wait).await)
}

/// `DELETE /rp/v1/verifications/{id}`: the relying party gives up (its user pressed Ctrl-C);
/// the phone stops showing it.
pub async fn withdraw(
    State(portal): State<Arc<Portal>>,
    Path(id): Path<String>,
    rp: Rp,
) -> Response {
    let client = rp.client;
    reply(
        portal
            .blocking(move |p| p.withdraw_verification(&client, &id))
            .await,
    )
}

/// A code's request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    user: String,
    code: String,
    ip: Option<String>,
    /// The push of the same sign-in, withdrawn when the code is right.
    verification: Option<String>,
}

/// `POST /rp/v1/codes`: a TOTP code, under the portal's lockout.
pub async fn code(State(portal): State<Arc<Portal>>, rp: Rp) -> Response {
    let code: Code = match body(&rp.body) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let client = rp.client;
    let request = RpRequest {
        user: code.user,
        application: None,
        ip: code.ip.or(Some(rp.ip)),
    };
    let secret = zeroize::Zeroizing::new(code.code);
    reply(
        portal
            .blocking(move |p| {
                p.verify_code(&client, &request, &secret, code.verification.as_deref())
            })
            .await,
    )
}

/// `GET /rp/v1/openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
