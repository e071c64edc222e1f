//! The HTTP API: routes, handlers and the one error type they return.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::Stream;
use serde_json::json;
use tokio::time::Instant;

use crate::Relay;
use crate::fleet::SharedClaim;
use crate::provider::{Delivery, deliver};
use crate::request::{Platform, Push};
use crate::signature::SignatureError;
use crate::tenant::sha256_hex;

/// The OpenAPI document, kept in the repository beside the code.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The longest a new stream waits for its announcement to reach NATS before its response head
/// goes out anyway (NATS down: the client announces it on reconnecting).
const ANNOUNCE_WAIT: Duration = Duration::from_secs(1);

/// Every route, as (method, path); the OpenAPI test checks the document lists each.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/push"),
    ("post", "/v1/direct/register"),
    ("get", "/v1/direct/stream"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

/// An error answer: `{"error": code, "message": ...}` with a status. Internal details are
/// logged where they happen, never put here.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            axum::Json(assent_relay_api::ErrorReply {
                error: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// The relay's router.
pub fn router(relay: Arc<Relay>) -> Router {
    Router::new()
        .route("/v1/push", post(push))
        .route("/v1/direct/register", post(direct_register))
        .route("/v1/direct/stream", get(direct_stream))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .with_state(relay)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Decrements the in-flight gauge and frees the relay's and the tenant's places however the
/// request ends (including a client hanging up).
struct InFlight<'a> {
    relay: &'a Relay,
    _permit: tokio::sync::SemaphorePermit<'a>,
    _tenant_permit: tokio::sync::SemaphorePermit<'a>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.relay.metrics.in_flight().dec();
    }
}

async fn push(
    State(relay): State<Arc<Relay>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    if relay.is_draining() {
        relay.metrics.shed("shutting_down");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "relay is shutting down",
        )
        .retry_after(1));
    }
    let tenant = {
        let key = bearer(&headers).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing bearer API key",
            )
        })?;
        relay.tenants.authenticate(key.as_bytes())
    }
    .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "unknown API key"))?;
    let signature: Option<String> = headers
        .get(crate::signature::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Header values and the body are slices of the connection's read buffer: holding them for
    // the whole delivery would pin those buffers, kilobytes per push in flight.
    drop(headers);
    if let Err(wait_ms) = relay.tenants.admit(&tenant) {
        relay.metrics.shed("rate_limited");
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "tenant rate limit exceeded",
        )
        .retry_after(wait_ms.div_ceil(1000)));
    }
    let Ok(permit) = relay.in_flight.try_acquire() else {
        relay.metrics.shed("overloaded");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many pushes in flight",
        )
        .retry_after(1));
    };
    // After the relay's own limit, so a full relay says so (503) whoever asks.
    let Some(tenant_permit) = tenant.start_push() else {
        relay.metrics.shed("tenant_overloaded");
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "tenant_overloaded",
            "this tenant has its share of the relay's pushes in flight",
        )
        .retry_after(1));
    };
    relay.metrics.in_flight().inc();
    let _in_flight = InFlight {
        relay: &relay,
        _permit: permit,
        _tenant_permit: tenant_permit,
    };
    let bytes: Bytes = axum::body::to_bytes(body, relay.max_body_bytes)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request body is larger than {} bytes", relay.max_body_bytes),
            )
        })?;
    let now_ms = relay.clock.unix_millis();
    relay
        .check_signature(&tenant, signature.as_deref(), &bytes, now_ms / 1000)
        .await
        .map_err(|e| match e {
            SignatureError::TooManySigned => {
                relay.metrics.shed("replay_set_full");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string())
                    .retry_after(1)
            }
            _ => ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string()),
        })?;
    let push = Push::parse(&bytes, now_ms / 1000)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.code(), e.to_string()))?;
    drop(bytes);
    let provider = relay.provider_for(&tenant, push.platform).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "platform_not_configured",
            format!(
                "platform {} is not configured for this tenant",
                push.platform.as_str()
            ),
        )
    })?;
    tenant.count_request(&relay.metrics, push.platform);
    let deadline = started + Duration::from_millis((push.expires_at * 1000).saturating_sub(now_ms));
    let delivery: Delivery = deliver(
        provider.as_ref(),
        &push,
        deadline,
        &relay.retry,
        &relay.metrics,
    )
    .await;
    let took = started.elapsed();
    relay.metrics.outcome(
        provider.name(),
        delivery.outcome.as_str(),
        delivery.reason.as_deref(),
        took,
    );
    let delivered = delivery.outcome == crate::provider::Outcome::Delivered;
    let log = if delivered {
        tracing::enabled!(tracing::Level::DEBUG)
    } else {
        tracing::enabled!(tracing::Level::INFO)
    };
    if log {
        let token_hash = sha256_hex(push.device_token.as_bytes());
        let token = &token_hash[..16];
        let (tenant, platform, ms) = (&tenant.id, push.platform.as_str(), took.as_millis() as u64);
        let outcome = delivery.outcome.as_str();
        let reason = delivery.reason.as_deref().unwrap_or("");
        if delivered {
            tracing::debug!(tenant, platform, token, outcome, ms, "push");
        } else {
            tracing::info!(tenant, platform, token, outcome, reason, ms, "push");
        }
    }
    Ok((
        crate::provider::status(delivery.outcome),
        axum::Json(delivery),
    )
        .into_response())
}

async fn direct_register(State(relay): State<Arc<Relay>>) -> Result<Response, ApiError> {
    if !relay.direct_settings.enabled {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "direct_disabled",
            "direct delivery is disabled",
        ));
    }
    Ok(axum::Json(json!({"token": crate::direct::new_token()})).into_response())
}

async fn direct_stream(
    State(relay): State<Arc<Relay>>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    if !relay.direct_settings.enabled {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "direct_disabled",
            "direct delivery is disabled",
        ));
    }
    if relay.is_draining() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "relay is shutting down",
        )
        .retry_after(1));
    }
    let token = bearer(&headers)
        .filter(|t| crate::direct::is_valid_token(t))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or malformed direct token",
            )
        })?;
    if relay.hub.len() >= relay.direct_settings.max_streams {
        relay.metrics.shed("too_many_streams");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            "too many direct streams open",
        )
        .retry_after(30));
    }
    let mut sub = relay.hub.subscribe(token, relay.direct_settings.queue);
    // In a fleet, the response head goes out once other copies can find the stream.
    sub.announced(ANNOUNCE_WAIT).await;
    tracing::debug!(
        token = &sha256_hex(token.as_bytes())[..16],
        "direct stream opened"
    );
    relay.metrics.direct_streams().inc();
    let guard = StreamGauge(relay.clone());
    let drain = relay.drain_rx.clone();
    let stream = futures_util::stream::unfold(
        (sub, drain, guard),
        |(mut sub, mut drain, guard)| async move {
            if *drain.borrow() {
                return None;
            }
            tokio::select! {
                ev = sub.rx.recv() => ev.map(|ev| (Ok(Event::default().event("push").data(&*ev)), (sub, drain, guard))),
                _ = drain.changed() => None,
            }
        },
    );
    Ok(
        Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(
            relay.direct_settings.keepalive_seconds.max(1),
        ))),
    )
}

struct StreamGauge(Arc<Relay>);

impl Drop for StreamGauge {
    fn drop(&mut self) {
        self.0.metrics.direct_streams().dec();
    }
}

/// `503 draining` once shutdown began, else 200: `ready`, or in a fleet whose NATS connection
/// is down `ready (degraded: ...)`. A copy without NATS still serves APNs, FCM and its own
/// streams, so a load balancer should keep sending to it; the body and
/// `push_relay_nats_connected` tell the operator.
async fn readyz(State(relay): State<Arc<Relay>>) -> Response {
    if relay.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response();
    }
    let body = relay.fleet().map_or("ready", |f| f.health().readiness());
    (StatusCode::OK, body).into_response()
}

async fn metrics(State(relay): State<Arc<Relay>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        relay.metrics.render(),
    )
        .into_response()
}

impl Relay {
    /// Checks the tenant's optional signature against this copy's memory of accepted ones, then,
    /// in a fleet, against the fleet's; a fleet that cannot be asked leaves the decision to this
    /// copy (counted, see [`crate::fleet`]).
    async fn check_signature(
        &self,
        tenant: &crate::tenant::Tenant,
        header: Option<&str>,
        body: &[u8],
        now: u64,
    ) -> Result<(), SignatureError> {
        let accepted = self.tenants.check_signature(tenant, header, body, now)?;
        if let (Some(digest), Some(fleet)) = (accepted, self.fleet())
            && fleet.claim_signature(&digest).await == SharedClaim::Replayed
        {
            return Err(SignatureError::Replayed);
        }
        Ok(())
    }

    fn provider_for(
        &self,
        tenant: &crate::tenant::Tenant,
        platform: Platform,
    ) -> Option<Arc<dyn crate::provider::Provider>> {
        match platform {
            Platform::Apns => tenant.apns.as_ref().and_then(|n| self.apns.get(n)).cloned(),
            Platform::Fcm => tenant.fcm.as_ref().and_then(|n| self.fcm.get(n)).cloned(),
            Platform::Direct => {
                (tenant.direct && self.direct_settings.enabled).then(|| self.direct.clone())
            }
        }
    }
}
