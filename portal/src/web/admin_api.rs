//! The help desk's JSON API under `/admin/api`: the console's actions for scripts. A caller is
//! either a script holding the shared admin token (only when the portal is started with one),
//! or a signed-in console session (its cookie, and for a `POST` its CSRF value in
//! `X-CSRF-Token`), whose role the portal enforces exactly as on the console's pages.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{client_ip, read_visit};
use crate::admin::{Action, Actor, Permission};
use crate::app::{Portal, PortalError};
use crate::db::{Accounts, Role, SessionState, UserStatus};

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": code, "message": message })),
    )
        .into_response()
}

/// Whether `given` is the configured token, compared by their hashes (constant time in what
/// matters: the comparison never looks at the token's own bytes).
fn token_matches(expected: &str, given: &str) -> bool {
    let a = ring::digest::digest(&ring::digest::SHA256, given.as_bytes());
    let b = ring::digest::digest(&ring::digest::SHA256, expected.as_bytes());
    a.as_ref() == b.as_ref() && !expected.is_empty()
}

/// The caller: the shared token's holder, or the console account of the session.
pub struct Caller(pub Actor);

impl axum::extract::FromRequestParts<Arc<Portal>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        portal: &Arc<Portal>,
    ) -> Result<Self, Response> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let ip = client_ip(portal, &parts.headers, peer);
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("").to_owned());
        if let Some(bearer) = bearer {
            let Some(expected) = &portal.settings().admin_token else {
                return Err(error(
                    StatusCode::UNAUTHORIZED,
                    "token_off",
                    "this portal has no shared admin token; sign in to the console",
                ));
            };
            let given = bearer.strip_prefix("Bearer ").unwrap_or("");
            return if token_matches(expected, given) {
                Ok(Self(Actor::token(&ip)))
            } else {
                Err(error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "missing or wrong admin token",
                ))
            };
        }
        let unauthorized = || {
            error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "sign in to the console, or send the admin token",
            )
        };
        let visited = read_visit(portal, &parts.headers)
            .await
            .map_err(|_| unauthorized())?;
        if visited.session.state != SessionState::SignedIn {
            return Err(unauthorized());
        }
        let Some(actor) = Actor::console(&visited.user, &ip) else {
            return Err(error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this account has no access to the console",
            ));
        };
        if parts.method != Method::GET {
            let csrf = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !visited.session.csrf_matches(csrf) {
                return Err(error(
                    StatusCode::FORBIDDEN,
                    "bad_csrf",
                    "a console session's POST carries its CSRF value in X-CSRF-Token",
                ));
            }
        }
        Ok(Self(actor))
    }
}

fn reply<T: serde::Serialize>(result: Result<T, PortalError>, ok: StatusCode) -> Response {
    match result {
        Ok(v) => (ok, axum::Json(v)).into_response(),
        Err(PortalError::NoSuchUser) => {
            error(StatusCode::NOT_FOUND, "no_such_user", "no such user")
        }
        Err(PortalError::UserExists) => error(
            StatusCode::CONFLICT,
            "user_exists",
            "a user with that name exists",
        ),
        Err(PortalError::Forbidden(why)) => error(StatusCode::FORBIDDEN, "forbidden", &why),
        Err(
            PortalError::BadPassword(why)
            | PortalError::BadUserName(why)
            | PortalError::Invalid(why),
        ) => error(StatusCode::BAD_REQUEST, "invalid", why),
        Err(e) => {
            tracing::error!(error = %e, "admin API failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
    }
}

/// Runs `work` for the caller on a blocking thread and answers its result as JSON.
async fn run<T, F>(portal: Arc<Portal>, ok: StatusCode, work: F) -> Response
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(&Portal) -> Result<T, PortalError> + Send + 'static,
{
    reply(portal.blocking(work).await, ok)
}

/// A JSON body, or none (the type's default); one that does not parse is a 400 saying why.
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| error(StatusCode::BAD_REQUEST, "invalid", &e.to_string()))
    }
}

/// `GET /admin/api/users`: every user (console accounts too, for administrators).
pub async fn users(State(portal): State<Arc<Portal>>, Caller(actor): Caller) -> Response {
    run(portal, StatusCode::OK, move |p| {
        actor.require(Permission::View)?;
        let all = p.list_users()?;
        let admins = actor.may(Permission::ManageAdmins);
        Ok(all
            .into_iter()
            .filter(|u| admins || u.role.is_none())
            .collect::<Vec<_>>())
    })
    .await
}

/// A search's query string.
#[derive(Deserialize, Default)]
pub struct Search {
    /// Part of the name.
    #[serde(default)]
    pub q: String,
    /// A [`UserStatus`] name.
    pub status: Option<String>,
    /// The page, from 1.
    pub page: Option<u64>,
}

impl Search {
    /// The status asked for; an unknown name is an error.
    pub fn status(&self) -> Result<Option<UserStatus>, PortalError> {
        match self.status.as_deref() {
            None | Some("") => Ok(None),
            Some(name) => UserStatus::parse(name)
                .map(Some)
                .ok_or(PortalError::Invalid("unknown status")),
        }
    }
}

/// `GET /admin/api/admins?q=&status=&page=`: console accounts (administrators only).
pub async fn admins(
    State(portal): State<Arc<Portal>>,
    Caller(actor): Caller,
    Query(search): Query<Search>,
) -> Response {
    run(portal, StatusCode::OK, move |p| {
        let status = search.status()?;
        p.find_users(
            &actor,
            Accounts::Admins,
            (&search.q, status),
            search.page.unwrap_or(1),
        )
    })
    .await
}

/// `GET /admin/api/dashboard`: the dashboard's counts.
pub async fn dashboard(State(portal): State<Arc<Portal>>, Caller(actor): Caller) -> Response {
    run(portal, StatusCode::OK, move |p| p.dashboard(&actor)).await
}

/// A new account.
#[derive(Deserialize, Default)]
pub struct NewAccount {
    username: String,
    password: String,
    role: Option<String>,
}

/// `POST /admin/api/users`: creates a user (help desk and administrators).
pub async fn create_user(
    State(portal): State<Arc<Portal>>,
    Caller(actor): Caller,
    JsonBody(account): JsonBody<NewAccount>,
) -> Response {
    run(portal, StatusCode::CREATED, move |p| {
        actor.require(Permission::ActOnUsers)?;
        let user = p.create_user(&account.username, &account.password)?;
        Ok(serde_json::json!({ "username": user.username }))
    })
    .await
}

/// Reads a role's name.
fn role(name: Option<&str>) -> Result<Role, PortalError> {
    let name = name.ok_or(PortalError::Invalid("a role is required"))?;
    Role::parse(name).ok_or(PortalError::Invalid(
        "the role is administrator, help_desk or read_only",
    ))
}

/// `POST /admin/api/admins`: creates a console account (administrators only).
pub async fn create_admin(
    State(portal): State<Arc<Portal>>,
    Caller(actor): Caller,
    JsonBody(account): JsonBody<NewAccount>,
) -> Response {
    run(portal, StatusCode::CREATED, move |p| {
        let role = role(account.role.as_deref())?;
        let user = p.create_admin(&actor, &account.username, &account.password, role)?;
        Ok(serde_json::json!({ "username": user.username, "role": role }))
    })
    .await
}

/// A role change.
#[derive(Deserialize, Default)]
pub struct RoleChange {
    role: Option<String>,
}

/// `POST /admin/api/admins/{name}/role` with `{"role": …}` (administrators only).
pub async fn set_role(
    State(portal): State<Arc<Portal>>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    JsonBody(change): JsonBody<RoleChange>,
) -> Response {
    run(portal, StatusCode::OK, move |p| {
        let role = role(change.role.as_deref())?;
        p.set_role(&actor, &name, role)?;
        Ok(serde_json::json!({ "username": name, "role": role }))
    })
    .await
}

/// `POST /admin/api/admins/require-mfa`: MFA for every console account (administrators only).
pub async fn require_mfa_for_admins(
    State(portal): State<Arc<Portal>>,
    Caller(actor): Caller,
) -> Response {
    run(portal, StatusCode::OK, move |p| {
        let changed = p.require_mfa_for_admins(&actor)?;
        Ok(serde_json::json!({ "changed": changed }))
    })
    .await
}

/// `GET /admin/api/users/{name}`: the user's state, device and latest events.
pub async fn user(
    State(portal): State<Arc<Portal>>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> Response {
    run(portal, StatusCode::OK, move |p| {
        p.user_detail(&actor, &name, None)
    })
    .await
}

/// `GET /admin/api/users/{name}/events`: the whole log, oldest first.
pub async fn events(
    State(portal): State<Arc<Portal>>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> Response {
    run(portal, StatusCode::OK, move |p| {
        p.user_events_for(&actor, &name)
    })
    .await
}

/// An action's options.
#[derive(Deserialize, Default)]
pub struct ActionOptions {
    /// How long a removal of the MFA requirement lasts.
    hours: Option<u64>,
}

/// `POST /admin/api/users/{name}/{action}`, with `{"hours": N}` for `remove-mfa`.
pub async fn action(
    State(portal): State<Arc<Portal>>,
    Caller(actor): Caller,
    Path((name, action)): Path<(String, String)>,
    JsonBody(options): JsonBody<ActionOptions>,
) -> Response {
    let Some(action) = Action::parse(&action) else {
        return error(StatusCode::NOT_FOUND, "unknown_action", "unknown action");
    };
    run(portal, StatusCode::OK, move |p| {
        p.admin_action(&name, action, &actor, options.hours)
    })
    .await
}
