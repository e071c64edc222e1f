//! The help-desk console and its API in-process (`oneshot`): console accounts signing in with
//! their second factor, every role's refusals on pages and API, confirmation steps, the idle
//! timeout, the forced password change and its policy, and the timed removal of MFA. The
//! browser walk with screenshots is tests/browser/console.mjs.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use portal::admin::{Action, Actor};
use portal::app::Parts;
use portal::clock::SystemClock;
use portal::db::{Db, EventKind, Outcome, Role};
use portal::relay::NoRelay;
use portal::settings::Settings;
use portal::{Portal, api};
use tower::ServiceExt as _;

mod common;
use common::{enroll_totp, totp_code};

const PASSWORD: &str = "correct horse battery";
const TOKEN: &str = "console-test-admin-token";

/// A portal whose clock the test moves, with the shared admin token set.
fn portal() -> (Arc<Portal>, Arc<SystemClock>) {
    portal_with(Settings {
        admin_token: Some(TOKEN.into()),
        ..Settings::defaults().unwrap()
    })
}

/// A portal with `settings` whose clock the test moves.
fn portal_with(settings: Settings) -> (Arc<Portal>, Arc<SystemClock>) {
    let clock = Arc::new(SystemClock::default());
    let parts = Parts {
        clock: clock.clone(),
        relay: Arc::new(NoRelay),
        test_clock: Some(clock.clone()),
        alerts: None,
    };
    let portal = Portal::with_parts(settings, Db::for_tests().unwrap(), parts).unwrap();
    (Arc::new(portal), clock)
}

/// A console account with `role`, enrolled with TOTP.
fn admin(p: &Portal, name: &str, role: Role) -> Vec<u8> {
    p.create_admin(&Actor::cli(), name, PASSWORD, role).unwrap();
    enroll_totp(p, name)
}

/// A response's status, `Location` and text.
struct Reply {
    status: StatusCode,
    location: Option<String>,
    set_cookie: Option<String>,
    text: String,
}

async fn send(p: &Arc<Portal>, mut request: Request<Body>) -> Reply {
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [10, 1, 2, 3],
            40000,
        ))));
    let response = api::router(p.clone()).oneshot(request).await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, location, set_cookie) =
        (response.status(), header("location"), header("set-cookie"));
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        location,
        set_cookie,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

/// An admin API call with a console session: its CSRF value in `X-CSRF-Token`.
fn api_post(path: &str, session: &Session, json: &str) -> Request<Body> {
    Request::post(path)
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header("content-type", "application/json")
        .body(Body::from(json.to_owned()))
        .unwrap()
}

fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned()
}

/// A signed-in browser session: cookie and CSRF value.
struct Session {
    cookie: String,
    csrf: String,
}

/// Signs `name` in at `path` (`/admin/login` or `/login`) with the password and, when the
/// portal asks, the TOTP code of `secret`; returns the session and where it ended up.
async fn sign_in(
    p: &Arc<Portal>,
    path: &str,
    name: &str,
    secret: Option<&[u8]>,
) -> (Session, String) {
    let form = format!("username={name}&password=correct+horse+battery");
    let reply = send(p, post(path, "", &form)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    let cookie = reply
        .set_cookie
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut next = reply.location.unwrap();
    if next == "/login/totp" {
        let form = send(p, get("/login/totp", &cookie)).await;
        let csrf = csrf_of(&form.text);
        // The step's code was used (at enrollment, or a sign-in before): the next step's.
        p.test_clock().unwrap().advance(30);
        let code = totp_code(secret.unwrap(), p.now());
        let reply = send(
            p,
            post("/login/totp", &cookie, &format!("csrf={csrf}&code={code}")),
        )
        .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
        next = reply.location.unwrap();
    }
    let page = send(p, get(&next, &cookie)).await;
    let next = page.location.clone().unwrap_or(next);
    let page = send(p, get(&next, &cookie)).await;
    let csrf = csrf_of(&page.text);
    (Session { cookie, csrf }, next)
}

/// Signs a console account in; the console's dashboard is where it lands.
async fn console(p: &Arc<Portal>, name: &str, secret: &[u8]) -> Session {
    let (session, landed) = sign_in(p, "/admin/login", name, Some(secret)).await;
    assert_eq!(landed, "/admin");
    let dashboard = send(p, get("/admin", &session.cookie)).await;
    assert!(
        dashboard.text.contains("id=\"dashboard\""),
        "{}",
        dashboard.text
    );
    session
}

/// Confirms `action` on `user` through the console's form.
async fn confirm(p: &Arc<Portal>, s: &Session, user: &str, action: &str, extra: &str) -> Reply {
    let form = format!("csrf={}&confirm=yes{extra}", s.csrf);
    send(
        p,
        post(&format!("/admin/users/{user}/{action}"), &s.cookie, &form),
    )
    .await
}

/// The admin events in `user`'s log, as `outcome by actor from ip`.
fn admin_events(p: &Portal, user: &str) -> Vec<String> {
    p.user_events(user)
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::Admin)
        .map(|e| {
            format!(
                "{} by {} from {}",
                e.outcome,
                e.actor.as_deref().unwrap_or("-"),
                e.ip
            )
        })
        .collect()
}

#[tokio::test]
async fn every_action_is_refused_to_the_roles_without_it_on_pages_and_api() {
    let (p, _) = portal();
    let root = admin(&p, "root", Role::Administrator);
    let desk = admin(&p, "desk", Role::HelpDesk);
    let viewer = admin(&p, "viewer", Role::ReadOnly);
    p.create_user("alice", PASSWORD).unwrap();
    let root = console(&p, "root", &root).await;
    let desk = console(&p, "desk", &desk).await;
    let viewer = console(&p, "viewer", &viewer).await;

    for action in Action::ALL {
        let name = action.name();
        // Read-only: no confirmation page, no action, by page or by API, on anyone.
        for target in ["alice", "desk"] {
            let path = format!("/admin/users/{target}/{name}");
            let page = send(&p, get(&path, &viewer.cookie)).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
            assert!(page.text.contains("id=\"forbidden\""));
            let done = confirm(&p, &viewer, target, name, "").await;
            assert_eq!(done.status, StatusCode::FORBIDDEN, "{path}");
            let path = format!("/admin/api/users/{target}/{name}");
            let api = send(&p, api_post(&path, &viewer, "")).await;
            assert_eq!(api.status, StatusCode::FORBIDDEN, "{path}: {}", api.text);
        }
        // Help desk: users yes, console accounts no.
        let path = format!("/admin/users/root/{name}");
        assert_eq!(
            send(&p, get(&path, &desk.cookie)).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            confirm(&p, &desk, "root", name, "").await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        let path = format!("/admin/api/users/root/{name}");
        assert_eq!(
            send(&p, api_post(&path, &desk, "")).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        let page = send(&p, get(&format!("/admin/users/alice/{name}"), &desk.cookie)).await;
        assert_eq!(page.status, StatusCode::OK, "{name}");
        assert!(page.text.contains("name=\"confirm\" value=\"yes\""));
        let done = confirm(&p, &desk, "alice", name, "").await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{name}: {}", done.text);
    }
    // Every action on alice is the help desk's, named and from its address; none is the
    // read-only account's, and none reached the administrator account.
    let events = admin_events(&p, "alice");
    assert_eq!(events.len(), Action::ALL.len(), "{events:?}");
    assert!(
        events.iter().all(|e| e.ends_with("by desk from 10.1.2.3")),
        "{events:?}"
    );
    assert_eq!(
        admin_events(&p, "root"),
        ["set-role by cli from cli"],
        "only its creation"
    );

    // Viewing is everyone's; managing console accounts is the administrator's alone.
    for page in ["/admin", "/admin/users", "/admin/users/alice"] {
        assert_eq!(
            send(&p, get(page, &viewer.cookie)).await.status,
            StatusCode::OK,
            "{page}"
        );
    }
    let user_page = send(&p, get("/admin/users/alice", &viewer.cookie)).await;
    assert!(user_page.text.contains("id=\"no-actions\""));
    assert!(!user_page.text.contains("id=\"action-"));
    for who in [&viewer, &desk] {
        for page in [
            "/admin/admins",
            "/admin/admins/require-mfa",
            "/admin/users/root",
        ] {
            assert_eq!(
                send(&p, get(page, &who.cookie)).await.status,
                StatusCode::FORBIDDEN,
                "{page}"
            );
        }
        let form = format!(
            "csrf={}&username=mallory&password=correct+horse+battery&role=administrator",
            who.csrf
        );
        let page = send(&p, post("/admin/admins", &who.cookie, &form)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        let form = format!("csrf={}&confirm=yes", who.csrf);
        let page = send(&p, post("/admin/admins/require-mfa", &who.cookie, &form)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        let form = format!("csrf={}&role=administrator", who.csrf);
        let page = send(&p, post("/admin/admins/desk/role", &who.cookie, &form)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        for (path, body) in [
            (
                "/admin/api/admins",
                r#"{"username":"mallory","password":"correct horse battery","role":"administrator"}"#,
            ),
            ("/admin/api/admins/require-mfa", ""),
            ("/admin/api/admins/desk/role", r#"{"role":"administrator"}"#),
        ] {
            let reply = send(&p, api_post(path, who, body)).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{path}: {}",
                reply.text
            );
        }
        let reply = send(&p, get("/admin/api/admins", &who.cookie)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
    }
    assert!(p.user("mallory").is_err(), "no refused call created anyone");
    assert_eq!(p.user("desk").unwrap().role, Some(Role::HelpDesk));
    // Creating users is the help desk's; the read-only role cannot.
    let new_user = r#"{"username":"bob","password":"correct horse battery"}"#;
    let reply = send(&p, api_post("/admin/api/users", &viewer, new_user)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = send(&p, api_post("/admin/api/users", &desk, new_user)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    // The administrator may do all of it.
    let reply = send(&p, get("/admin/admins", &root.cookie)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let form = format!(
        "csrf={}&username=newdesk&password=correct+horse+battery&role=help_desk",
        root.csrf
    );
    let reply = send(&p, post("/admin/admins", &root.cookie, &form)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let created = p.user("newdesk").unwrap();
    assert_eq!(created.role, Some(Role::HelpDesk));
    assert!(created.mfa_required, "MFA is on for a new admin");
    assert!(
        created.must_change_password,
        "the first password is the creator's: changed first"
    );
    assert!(
        !p.user("root").unwrap().must_change_password,
        "cli's own is not"
    );
    let form = format!("csrf={}&role=read_only", root.csrf);
    let reply = send(&p, post("/admin/admins/desk/role", &root.cookie, &form)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(p.user("desk").unwrap().role, Some(Role::ReadOnly));
    // The role is read at every request: the demoted help desk can act no more.
    let done = confirm(&p, &desk, "alice", "unlock", "").await;
    assert_eq!(done.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_confirmation_step_cannot_be_skipped_by_posting_directly() {
    let (p, _) = portal();
    let root = admin(&p, "root", Role::Administrator);
    p.create_user("alice", PASSWORD).unwrap();
    let root = console(&p, "root", &root).await;
    for action in Action::ALL {
        for form in [
            format!("csrf={}", root.csrf),
            format!("csrf={}&confirm=", root.csrf),
            format!("csrf={}&confirm=no", root.csrf),
        ] {
            let path = format!("/admin/users/alice/{}", action.name());
            let reply = send(&p, post(&path, &root.cookie, &form)).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path} {form}");
            assert!(reply.text.contains("Nothing was done"), "{}", reply.text);
        }
    }
    assert!(admin_events(&p, "alice").is_empty(), "nothing was done");
    let alice = p.user("alice").unwrap();
    assert!(!alice.suspended && alice.mfa_required && !alice.must_change_password);
    // Without the session's CSRF value nothing is done either.
    let form = "csrf=guess&confirm=yes";
    let reply = send(&p, post("/admin/users/alice/suspend", &root.cookie, form)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(!p.user("alice").unwrap().suspended);
    // The bulk action too.
    p.admin_action("root", Action::RemoveMfa, &Actor::cli(), Some(1))
        .unwrap();
    let form = format!("csrf={}", root.csrf);
    let reply = send(&p, post("/admin/admins/require-mfa", &root.cookie, &form)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(!p.user("root").unwrap().mfa_required);
    let form = format!("csrf={}&confirm=yes", root.csrf);
    let reply = send(&p, post("/admin/admins/require-mfa", &root.cookie, &form)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(p.user("root").unwrap().mfa_required);
    // An administrator cannot lock themselves out.
    for action in ["suspend", "reset-mfa", "remove-mfa"] {
        let reply = confirm(&p, &root, "root", action, "").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{action}");
        assert!(
            reply.text.contains("you cannot suspend yourself"),
            "{}",
            reply.text
        );
    }
    assert!(!p.user("root").unwrap().suspended);
    // Confirmed, it is done.
    let reply = confirm(&p, &root, "alice", "suspend", "").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(p.user("alice").unwrap().suspended);
}

#[tokio::test]
async fn a_console_session_ends_after_fifteen_idle_minutes() {
    let (p, clock) = portal();
    let root = admin(&p, "root", Role::Administrator);
    let root = console(&p, "root", &root).await;
    // Each visit within 15 minutes keeps it alive, past the first 15 minutes since sign-in.
    for _ in 0..3 {
        clock.advance(14 * 60);
        let page = send(&p, get("/admin", &root.cookie)).await;
        assert!(page.text.contains("id=\"dashboard\""), "still signed in");
    }
    clock.advance(15 * 60 + 1);
    let page = send(&p, get("/admin", &root.cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains("id=\"dashboard\""));
    assert!(page.text.contains("Your session expired"), "{}", page.text);
    let reply = send(&p, get("/admin/users", &root.cookie)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let api = send(&p, get("/admin/api/dashboard", &root.cookie)).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    // A user's session does not idle out: it lives its 8 hours.
    p.create_user("alice", PASSWORD).unwrap();
    p.admin_action("alice", Action::RemoveMfa, &Actor::cli(), Some(24))
        .unwrap();
    let (alice, landed) = sign_in(&p, "/login", "alice", None).await;
    assert_eq!(landed, "/");
    clock.advance(3 * 3600);
    let home = send(&p, get("/", &alice.cookie)).await;
    assert!(home.text.contains("Signed in as alice"));
}

#[tokio::test]
async fn a_console_session_ends_on_sign_out_and_on_suspension() {
    let (p, _) = portal();
    let root = admin(&p, "root", Role::Administrator);
    let desk = admin(&p, "desk", Role::HelpDesk);
    let root_session = console(&p, "root", &root).await;
    let desk_session = console(&p, "desk", &desk).await;
    let reply = send(
        &p,
        post(
            "/admin/logout",
            &desk_session.cookie,
            &format!("csrf={}", desk_session.csrf),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let page = send(&p, get("/admin", &desk_session.cookie)).await;
    assert!(!page.text.contains("id=\"dashboard\""));
    // The help desk signs in again, and the administrator suspends its account: the session
    // ends at once.
    let desk_session = console(&p, "desk", &desk).await;
    let reply = confirm(&p, &root_session, "desk", "suspend", "").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let page = send(&p, get("/admin", &desk_session.cookie)).await;
    assert!(!page.text.contains("id=\"dashboard\""));
    assert!(page.text.contains("suspended"), "{}", page.text);
    // A user signing in at the console's door is refused.
    p.create_user("alice", PASSWORD).unwrap();
    let form = "username=alice&password=correct+horse+battery";
    let reply = send(&p, post("/admin/login", "", form)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.text.contains("no access to the help-desk console"));
    assert!(reply.set_cookie.is_none(), "no session for it");
}

#[tokio::test]
async fn a_forced_password_change_applies_the_policy_then_signs_in() {
    let (p, _) = portal();
    let root = admin(&p, "root", Role::Administrator);
    p.create_user("alice", PASSWORD).unwrap();
    let secret = enroll_totp(&p, "alice");
    let root = console(&p, "root", &root).await;
    let reply = confirm(&p, &root, "alice", "force-password-change", "").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);

    // Password and TOTP are right, but the session is not signed in until a new password.
    let (alice, landed) = sign_in(&p, "/login", "alice", Some(&secret)).await;
    assert_eq!(landed, "/password");
    for page in ["/protected", "/enroll"] {
        let reply = send(&p, get(page, &alice.cookie)).await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "{page} is not reachable yet"
        );
    }
    let change = |new: &str, again: &str| {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &alice.csrf)
            .append_pair("password", new)
            .append_pair("again", again)
            .finish();
        post("/password", &alice.cookie, &form)
    };
    for (new, again, why) in [
        ("elevenchars", "elevenchars", "at least 12 characters"),
        (&"x".repeat(65), &"x".repeat(65), "at most 64 characters"),
        (
            "alice's new password",
            "alice's new password",
            "must not contain the user name",
        ),
        ("a new password here", "a new password herd", "not the same"),
        (PASSWORD, PASSWORD, "other than your current one"),
    ] {
        let reply = send(&p, change(new, again)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{new:?}");
        assert!(reply.text.contains(why), "{new:?}: {}", reply.text);
        assert!(p.user("alice").unwrap().must_change_password);
    }
    let reply = send(
        &p,
        change("a brand new passphrase", "a brand new passphrase"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let home = send(&p, get("/", &alice.cookie)).await;
    assert!(home.text.contains("Signed in as alice"), "{}", home.text);
    assert!(!p.user("alice").unwrap().must_change_password);
    assert!(
        p.check_password("alice", "a brand new passphrase")
            .unwrap()
            .is_some()
    );
    let events = admin_events(&p, "alice");
    assert_eq!(events, ["force-password-change by root from 10.1.2.3"]);
    let log = p.user_events("alice").unwrap();
    assert!(log.iter().any(|e| e.kind == EventKind::PasswordChanged));
    assert!(
        log.iter()
            .any(|e| e.outcome == Outcome::SignedIn && e.detail.contains("new password")),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_removed_mfa_requirement_comes_back_when_its_time_is_up() {
    let (p, clock) = portal();
    p.create_user("alice", PASSWORD).unwrap();
    let secret = enroll_totp(&p, "alice");
    // By the shared token, for one hour.
    let request = Request::post("/admin/api/users/alice/remove-mfa")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"hours":1}"#))
        .unwrap();
    let reply = send(&p, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let summary: serde_json::Value = serde_json::from_str(&reply.text).unwrap();
    assert_eq!(summary["mfa_required"], false);
    assert_eq!(summary["mfa_off_until"], p.now() + 3600);
    let (_, landed) = sign_in(&p, "/login", "alice", None).await;
    assert_eq!(landed, "/", "the password alone signs in");
    // A body that is not JSON is refused with the reason, and changes nothing.
    let request = Request::post("/admin/api/users/alice/require-mfa")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from("{hours: one}"))
        .unwrap();
    let reply = send(&p, request).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(reply.text.contains("\"invalid\""), "{}", reply.text);
    assert!(!p.user("alice").unwrap().mfa_required);
    // Out of bounds is refused.
    for hours in ["0", "169"] {
        let request = Request::post("/admin/api/users/alice/remove-mfa")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::from(format!("{{\"hours\":{hours}}}")))
            .unwrap();
        assert_eq!(send(&p, request).await.status, StatusCode::BAD_REQUEST);
    }
    // An hour later the second factor is due again, even before the sweep ran...
    clock.advance(3600);
    let (_, landed) = sign_in(&p, "/login", "alice", Some(&secret)).await;
    assert_eq!(landed, "/", "signed in with TOTP");
    let events = p.user_events("alice").unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::Totp && e.outcome == Outcome::Ok)
    );
    // ...and the sweep records it.
    p.expire_due().unwrap();
    let alice = p.user("alice").unwrap();
    assert!(alice.mfa_required && alice.mfa_off_until.is_none());
    assert!(
        p.user_events("alice")
            .unwrap()
            .iter()
            .any(|e| e.detail == "the removal of the MFA requirement ran out")
    );
}

#[tokio::test]
async fn the_dashboard_counts_and_the_user_list_searches_and_pages() {
    let (p, _) = portal();
    let root = admin(&p, "root", Role::Administrator);
    for i in 0..30 {
        p.create_user(&format!("user{i:02}"), PASSWORD).unwrap();
    }
    enroll_totp(&p, "user00");
    let cli = Actor::cli();
    p.admin_action("user01", Action::Suspend, &cli, None)
        .unwrap();
    p.admin_action("user02", Action::RemoveMfa, &cli, Some(8))
        .unwrap();
    p.admin_action("root", Action::RemoveMfa, &cli, Some(8))
        .unwrap();
    let root = console(&p, "root", &root).await;
    let dashboard = send(&p, get("/admin", &root.cookie)).await.text;
    for (id, count) in [
        ("count-locked", 0),
        ("count-suspended", 1),
        ("count-mfa-removed", 1),
        ("count-no-device", 30),
        ("count-admins-without-mfa", 1),
    ] {
        assert!(
            dashboard.contains(&format!("id=\"{id}\" href="))
                && dashboard
                    .split(&format!("id=\"{id}\""))
                    .nth(1)
                    .unwrap()
                    .contains(&format!("<span class=\"count\">{count}</span>")),
            "{id} = {count}: {dashboard}"
        );
    }
    let rows = |text: &str| text.matches("<tr data-user=").count();
    let first = send(&p, get("/admin/users", &root.cookie)).await.text;
    assert_eq!(rows(&first), 25);
    assert!(first.contains("id=\"next-page\"") && !first.contains("id=\"prev-page\""));
    assert!(
        !first.contains("data-user=\"root\""),
        "console accounts are listed apart"
    );
    let second = send(&p, get("/admin/users?page=2", &root.cookie))
        .await
        .text;
    assert_eq!(rows(&second), 5);
    assert!(second.contains("id=\"prev-page\"") && !second.contains("id=\"next-page\""));
    let found = send(&p, get("/admin/users?q=USER1", &root.cookie))
        .await
        .text;
    assert_eq!(rows(&found), 10, "user10 to user19, any case");
    let found = send(&p, get("/admin/users?q=%25", &root.cookie)).await.text;
    assert_eq!(rows(&found), 0, "a % is a character, not a wildcard");
    assert!(found.contains("id=\"no-users\""));
    let suspended = send(&p, get("/admin/users?status=suspended", &root.cookie))
        .await
        .text;
    assert_eq!(rows(&suspended), 1);
    assert!(suspended.contains("data-user=\"user01\"") && suspended.contains("badge suspended"));
    let removed = send(&p, get("/admin/users/user02", &root.cookie))
        .await
        .text;
    assert!(removed.contains("id=\"mfa-warning\""), "{removed}");
    let bad = send(&p, get("/admin/users?status=sleepy", &root.cookie)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let api = send(&p, get("/admin/api/dashboard", &root.cookie)).await;
    let counts: serde_json::Value = serde_json::from_str(&api.text).unwrap();
    assert_eq!(
        (counts["suspended"].as_u64(), counts["no_device"].as_u64()),
        (Some(1), Some(30))
    );
}

#[tokio::test]
async fn the_shared_token_works_only_when_configured() {
    let (p, _) = portal_with(Settings::defaults().unwrap());
    let request = Request::get("/admin/api/users")
        .header("authorization", "Bearer anything")
        .body(Body::empty())
        .unwrap();
    let reply = send(&p, request).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.text.contains("token_off"));
    let reply = send(
        &p,
        Request::get("/admin/api/users")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // A console session is enough; a POST needs its CSRF value too.
    let secret = admin(&p, "root", Role::Administrator);
    let root = console(&p, "root", &secret).await;
    let reply = send(&p, get("/admin/api/users", &root.cookie)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let request = Request::post("/admin/api/users")
        .header("cookie", &root.cookie)
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"username":"bob","password":"correct horse battery"}"#,
        ))
        .unwrap();
    let reply = send(&p, request).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.text.contains("bad_csrf"));
}

#[tokio::test]
async fn administrators_register_and_remove_relying_parties_in_the_console() {
    let (p, _) = portal();
    let root = admin(&p, "root", Role::Administrator);
    let desk = admin(&p, "desk", Role::HelpDesk);
    p.create_user("alice", PASSWORD).unwrap();
    let root = console(&p, "root", &root).await;
    let desk = console(&p, "desk", &desk).await;
    for page in ["/admin/clients", "/admin/clients/build-hosts/delete"] {
        assert_eq!(
            send(&p, get(page, &desk.cookie)).await.status,
            StatusCode::FORBIDDEN,
            "{page}"
        );
    }
    let form = |s: &Session| {
        format!(
            "csrf={}&name=build-hosts&mode=push_number&request_key=",
            s.csrf
        )
    };
    let refused = send(&p, post("/admin/clients", &desk.cookie, &form(&desk))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(p.clients().unwrap().is_empty());

    let created = send(&p, post("/admin/clients", &root.cookie, &form(&root))).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let key = created
        .text
        .split("<pre id=\"client-key\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap()
        .to_owned();
    assert!(key.starts_with("build-hosts."), "{key}");
    let list = send(&p, get("/admin/clients", &root.cookie)).await.text;
    assert!(
        list.contains("data-client=\"build-hosts\"") && !list.contains(&key),
        "the key is shown once"
    );
    let verify = |key: String| {
        let p = p.clone();
        async move {
            let request = Request::post("/rp/v1/verifications")
                .header("authorization", format!("Bearer {key}"))
                .body(Body::from(r#"{"user":"alice"}"#))
                .unwrap();
            send(&p, request).await.status
        }
    };
    assert_eq!(verify(key.clone()).await, StatusCode::OK, "the key works");
    // A bad request key is refused with its reason, and nothing is registered.
    let bad = format!(
        "csrf={}&name=other&mode=push&request_key=not+a+key",
        root.csrf
    );
    let reply = send(&p, post("/admin/clients", &root.cookie, &bad)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(reply.location.unwrap().contains("P-256"));
    assert_eq!(p.clients().unwrap().len(), 1);
    // Removal: only confirmed, and the key stops working at once.
    let path = "/admin/clients/build-hosts/delete";
    let unconfirmed = send(&p, post(path, &root.cookie, &format!("csrf={}", root.csrf))).await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    assert_eq!(verify(key.clone()).await, StatusCode::OK);
    let confirmed = send(
        &p,
        post(
            path,
            &root.cookie,
            &format!("csrf={}&confirm=yes", root.csrf),
        ),
    )
    .await;
    assert_eq!(confirmed.status, StatusCode::SEE_OTHER);
    assert_eq!(verify(key).await, StatusCode::UNAUTHORIZED);
}
