//! The browser side: sign-in with password then push or TOTP, the enrollment QR, the waiting
//! page with the number to type, step-up on a protected page, and password reset by push.
//!
//! Handlers only translate HTTP: they read the request (the session through [`Visit`]), call
//! the portal ([`crate::app`]), and render its answer. Sessions are a random cookie whose
//! SHA-256 is stored; every form carries the session's CSRF value, which [`Visit`] checks.
//! Pages poll small JSON endpoints (`/login/push/status`, `/enroll/status`) to update live;
//! their scripts are static files ([`assets`]), so the pages' Content-Security-Policy allows
//! no inline script.
//!
//! - [`login`]: home, sign-in, TOTP, sign-out;
//! - [`push`]: the waiting page, its status, "send again", and step-up;
//! - [`enroll`]: the enrollment QR and its completion;
//! - [`reset`]: password reset by push.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;

use crate::app::sessions::Visited;
use crate::app::{Client, Portal, PortalError};
use crate::db::{ChallengeRow, Session, SessionEnd, User};
use crate::html::page;

pub mod admin_api;
pub mod assets;
pub mod console;
pub mod enroll;
pub mod login;
pub mod push;
pub mod reset;
pub mod rp_api;

const COOKIE: &str = "assent_session";

/// The request's client address: the peer, or with `--trust-proxy` the first
/// `X-Forwarded-For` entry.
pub fn client_ip(portal: &Portal, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    let forwarded = portal
        .settings()
        .trust_proxy
        .then(|| headers.get("x-forwarded-for")?.to_str().ok())
        .flatten()
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
    forwarded.unwrap_or_else(|| peer.map(|p| p.ip().to_string()).unwrap_or_default())
}

/// The request's client: address and User-Agent.
pub fn client(portal: &Portal, headers: &HeaderMap, peer: SocketAddr) -> Client {
    Client::new(client_ip(portal, headers, Some(peer)), &user_agent(headers))
}

fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Refuses a form post that the browser says came from another site: login CSRF (the sign-in
/// form has no session to carry a CSRF value yet), and a second line behind the CSRF values of
/// the later forms. Browsers send `Origin` on every POST and `Sec-Fetch-Site` on every request;
/// a request with neither (curl, scripts) passes, as it cannot carry a victim's cookies.
pub async fn same_origin(
    axum::extract::State(portal): axum::extract::State<Arc<Portal>>,
    request: Request,
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
    let public = portal.settings().public_url();
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

/// The pages' security headers: scripts only from the portal's own files (no inline script
/// runs, so markup injected into a page could not act), no framing, forms only to the portal.
pub async fn security_headers(request: Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
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

/// The `Set-Cookie` header for `value` living `max_age` seconds (`""`, 0: delete it).
fn set_cookie(portal: &Portal, value: &str, max_age: u64) -> Result<HeaderValue, PortalError> {
    let secure = if portal.settings().https() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .map_err(|_| PortalError::Header("Set-Cookie"))
}

/// The `Set-Cookie` header that deletes the session cookie.
fn clear_cookie(portal: &Portal) -> Result<HeaderValue, PortalError> {
    set_cookie(portal, "", 0)
}

/// Adds a `Set-Cookie` header for a session just started.
fn with_session(
    portal: &Portal,
    mut response: Response,
    started: &crate::app::sessions::Started,
) -> Result<Response, PortalError> {
    let cookie = set_cookie(portal, &started.cookie, started.max_age)?;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// A page error: logged, shown generically.
pub struct PageError(PortalError);

impl From<PortalError> for PageError {
    fn from(e: PortalError) -> Self {
        Self(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let refused = |status: StatusCode, id: &str, title: &str, text: &str| {
            let body = format!(
                "<h1>{title}</h1><p class=\"error\" id=\"{id}\" role=\"alert\">{}</p>\
                 <p><a href=\"/admin\">Back to the console</a></p>",
                crate::html::escape(text)
            );
            (status, page(title, &body)).into_response()
        };
        match &self.0 {
            PortalError::SessionGone => return to_login("Your session ended; sign in again."),
            PortalError::Forbidden(why) => {
                let text = format!("Your role does not allow this: {why}.");
                return refused(StatusCode::FORBIDDEN, "forbidden", "Not allowed", &text);
            }
            PortalError::NoSuchUser => {
                return refused(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "No such user",
                    "No such user.",
                );
            }
            PortalError::Invalid(why) => {
                return refused(StatusCode::BAD_REQUEST, "invalid", "Not possible", why);
            }
            _ => {}
        }
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

/// What a page handler returns.
pub type PageResult = Result<Response, PageError>;

/// A redirect to the sign-in page showing `message`.
fn to_login(message: &str) -> Response {
    Redirect::to(&login_url(message)).into_response()
}

/// The sign-in page's URL showing `message`.
fn login_url(message: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("message", message)
        .finish();
    format!("/login?{query}")
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

/// A form a session posts: it carries the session's CSRF value.
pub trait Posted: DeserializeOwned + Send + 'static {
    /// The form's CSRF value.
    fn csrf(&self) -> &str;
}

/// Makes forms [`Posted`] by their `csrf` field.
macro_rules! posted {
    ($($form:ty),+ $(,)?) => {
        $(impl $crate::web::Posted for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(crate) use posted;

/// A form carrying only the CSRF value.
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

posted!(CsrfForm);

/// The live session of a request and its user, read once on a blocking thread; for a form
/// post, the form too, its CSRF value checked against the session's. Pages take it instead of
/// each reading the cookie, the session, the user and the CSRF value themselves.
pub struct Visit<F = ()> {
    /// The session.
    pub session: Session,
    /// Its user.
    pub user: User,
    /// The challenge the session waits for, as it stands now.
    pub challenge: Option<ChallengeRow>,
    /// The posted form (`()` for a GET).
    pub form: F,
}

impl<F> Visit<F> {
    /// The session, user and challenge, for the portal.
    pub fn visited(self) -> Visited {
        Visited {
            session: self.session,
            user: self.user,
            challenge: self.challenge,
        }
    }
}

/// Why a request has no session to act for.
pub enum NoVisit {
    /// No live session: `ended` says why the portal ended it; `None` when it expired or the
    /// request had no cookie (`cookie`).
    Gone {
        /// Whether the request carried a session cookie at all.
        cookie: bool,
        /// Why the portal ended it, if it did.
        ended: Option<SessionEnd>,
    },
    /// The form's CSRF value is not the session's.
    BadForm,
    /// The form could not be read.
    Unreadable(Response),
    /// Storage failed.
    Failed(PageError),
}

impl NoVisit {
    /// The true reason, for the sign-in page (`None`: nothing to say, there was no session).
    pub fn message(&self) -> Option<&'static str> {
        match self {
            Self::Gone {
                ended: Some(why), ..
            } => Some(why.message()),
            Self::Gone { cookie: true, .. } => Some("Your session expired; sign in again."),
            Self::Gone { cookie: false, .. } => None,
            Self::BadForm | Self::Unreadable(_) | Self::Failed(_) => None,
        }
    }
}

impl IntoResponse for NoVisit {
    fn into_response(self) -> Response {
        match self {
            Self::Gone { .. } => match self.message() {
                Some(message) => to_login(message),
                None => Redirect::to("/login").into_response(),
            },
            Self::BadForm => (StatusCode::FORBIDDEN, "bad form").into_response(),
            Self::Unreadable(response) => response,
            Self::Failed(e) => e.into_response(),
        }
    }
}

pub(crate) async fn read_visit(
    portal: &Arc<Portal>,
    headers: &HeaderMap,
) -> Result<Visited, NoVisit> {
    let Some(cookie) = cookie_value(headers) else {
        return Err(NoVisit::Gone {
            cookie: false,
            ended: None,
        });
    };
    match portal.quick(move |p| p.visit(&cookie)).await {
        Ok(Ok(visit)) => Ok(visit),
        Ok(Err(ended)) => Err(NoVisit::Gone {
            cookie: true,
            ended,
        }),
        Err(e) => Err(NoVisit::Failed(e.into())),
    }
}

impl FromRequestParts<Arc<Portal>> for Visit {
    type Rejection = NoVisit;

    async fn from_request_parts(
        parts: &mut Parts,
        portal: &Arc<Portal>,
    ) -> Result<Self, Self::Rejection> {
        let Visited {
            session,
            user,
            challenge,
        } = read_visit(portal, &parts.headers).await?;
        Ok(Self {
            session,
            user,
            challenge,
            form: (),
        })
    }
}

impl<F: Posted> FromRequest<Arc<Portal>> for Visit<F> {
    type Rejection = NoVisit;

    async fn from_request(request: Request, portal: &Arc<Portal>) -> Result<Self, Self::Rejection> {
        let Visited {
            session,
            user,
            challenge,
        } = read_visit(portal, request.headers()).await?;
        let axum::Form(form) = axum::Form::<F>::from_request(request, portal)
            .await
            .map_err(|e| NoVisit::Unreadable(e.into_response()))?;
        if !session.csrf_matches(form.csrf()) {
            return Err(NoVisit::BadForm);
        }
        Ok(Self {
            session,
            user,
            challenge,
            form,
        })
    }
}
