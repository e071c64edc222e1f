//! The router in-process (`oneshot`): request limits, content types, admin authorization and
//! the test-clock switch. The flows themselves are covered end to end in tests/e2e.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use portal::clock::SystemClock;
use portal::db::Db;
use portal::relay::NoRelay;
use portal::settings::Settings;
use portal::{Portal, api};
use tower::ServiceExt as _;

fn portal(settings: Settings) -> Arc<Portal> {
    Arc::new(
        Portal::new(
            settings,
            Db::in_memory().unwrap(),
            Arc::new(SystemClock::default()),
            Arc::new(NoRelay),
        )
        .unwrap(),
    )
}

async fn call(portal: &Arc<Portal>, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = api::router(portal.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

fn jose(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/jose")
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn device_endpoints_refuse_oversized_and_mistyped_bodies() {
    let p = portal(Settings::defaults().unwrap());
    for path in [
        "/assent/v1/register",
        "/assent/v1/answers",
        "/assent/v1/pending",
        "/assent/v1/push-token",
    ] {
        let (status, body) = call(&p, jose(path, "a".repeat(8193))).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")),
            "{path}"
        );
        let (status, body) = call(&p, jose(path, "not.a.jws")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("malformed")),
            "{path}"
        );
        let request = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let (status, body) = call(&p, request).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("malformed")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn admin_api_needs_the_token_and_is_off_without_one() {
    let off = portal(Settings::defaults().unwrap());
    let (status, body) = call(
        &off,
        Request::get("/admin/api/users")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("disabled"))
    );

    let on = portal(Settings {
        admin_token: Some("s3cret-admin-token".into()),
        ..Settings::defaults().unwrap()
    });
    for token in [
        "",
        "Bearer wrong",
        "s3cret-admin-token",
        "Bearer s3cret-admin-tokenX",
    ] {
        let request = Request::get("/admin/api/users")
            .header("authorization", token)
            .body(Body::empty())
            .unwrap();
        let (status, _) = call(&on, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
    }
    let create = Request::post("/admin/api/users")
        .header("authorization", "Bearer s3cret-admin-token")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"username":"alice","password":"short"}"#))
        .unwrap();
    let (status, body) = call(&on, create).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid"))
    );
    let create = Request::post("/admin/api/users")
        .header("authorization", "Bearer s3cret-admin-token")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"username":"alice","password":"long enough password"}"#,
        ))
        .unwrap();
    assert_eq!(call(&on, create).await.0, StatusCode::CREATED);
    let list = Request::get("/admin/api/users")
        .header("authorization", "Bearer s3cret-admin-token")
        .body(Body::empty())
        .unwrap();
    let (status, users) = call(&on, list).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users[0]["username"], "alice");
    assert_eq!(users[0]["mfa_required"], true);
    let unknown = Request::post("/admin/api/users/alice/explode")
        .header("authorization", "Bearer s3cret-admin-token")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&on, unknown).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_test_clock_exists_only_when_asked_for() {
    let request = || {
        Request::post("/test/clock")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"advance":60}"#))
            .unwrap()
    };
    let normal = portal(Settings::defaults().unwrap());
    assert_eq!(call(&normal, request()).await.0, StatusCode::NOT_FOUND);
    let mut settings = Settings {
        test_clock: true,
        ..Settings::defaults().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let opened = portal::open(Settings {
        db: dir.path().join("p.db"),
        ..settings.clone()
    })
    .unwrap();
    let before = opened.now();
    let (status, body) = call(&opened, request()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["now"].as_u64().unwrap() >= before + 60);
    settings.listen = "0.0.0.0:8000".parse().unwrap();
    settings.db = dir.path().join("refused.db");
    assert!(portal::open(settings).is_err(), "never on a public address");
    assert!(
        !dir.path().join("refused.db").exists(),
        "a refused start creates nothing"
    );
}

/// A browser-style form post from `ip`, with extra headers.
fn form_post(path: &str, body: &str, ip: [u8; 4], headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder =
        Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Body::from(body.to_owned())).unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            ip, 40000,
        ))));
    request
}

/// Status, `Retry-After` and the page's text.
async fn page(portal: &Arc<Portal>, request: Request<Body>) -> (StatusCode, Option<u64>, String) {
    let response = api::router(portal.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        retry_after,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn form_posts_from_another_site_are_refused() {
    let p = portal(Settings::defaults().unwrap());
    p.create_user("alice", "correct horse battery").unwrap();
    let ip = [127, 0, 0, 1];
    let good = "username=alice&password=correct+horse+battery";
    let bad = "username=alice&password=wrong+password";
    for headers in [
        &[("origin", "https://evil.example")][..],
        &[("origin", "null")],
        &[("origin", "http://127.0.0.1:8000.evil.example")],
        &[
            ("origin", "http://127.0.0.1:8000"),
            ("sec-fetch-site", "cross-site"),
        ],
        &[("sec-fetch-site", "cross-site")],
    ] {
        let (status, _, text) = page(&p, form_post("/login", good, ip, headers)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(text.contains("id=\"cross-site\""), "{headers:?}");
        let (status, _, _) = page(&p, form_post("/logout", "", ip, headers)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
    }
    assert!(
        p.user_events("alice")
            .unwrap()
            .iter()
            .all(|e| e.kind != "login_password"),
        "a refused post never reaches the password check"
    );
    // The portal's own origin, the host a proxy serves it under, and no browser headers at all.
    for headers in [
        &[
            ("origin", "http://127.0.0.1:8000"),
            ("sec-fetch-site", "same-origin"),
        ][..],
        &[
            ("origin", "https://login.example.com"),
            ("host", "login.example.com"),
        ],
        &[],
    ] {
        let (status, _, _) = page(&p, form_post("/login", bad, ip, headers)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
    }
    let (status, _, _) = page(
        &p,
        form_post("/login", good, ip, &[("origin", "http://127.0.0.1:8000")]),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "on to enrollment");
}

#[tokio::test]
async fn wrong_passwords_are_throttled_per_user_name_and_per_address() {
    let clock = Arc::new(SystemClock::default());
    let p = Arc::new(
        Portal::new(
            Settings {
                password_user_limit: 3,
                password_ip_limit: 5,
                password_window_seconds: 900,
                ..Settings::defaults().unwrap()
            },
            Db::in_memory().unwrap(),
            clock.clone(),
            Arc::new(NoRelay),
        )
        .unwrap(),
    );
    for name in ["alice", "bob", "carol"] {
        p.create_user(name, "correct horse battery").unwrap();
    }
    let (a, b, c) = ([10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 3]);
    let right = "correct horse battery";
    let (wrong, throttled, in_) = (
        StatusCode::UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::SEE_OTHER,
    );

    // Three wrong passwords for alice: then even the right one waits, from any address.
    let guess = "guess one";
    sign_ins(&p, &[("alice", guess, a, wrong); 3]).await;
    let (status, retry_after, text) = page(&p, sign_in("alice", right, b)).await;
    assert_eq!(status, throttled);
    assert!(
        (890..=900).contains(&retry_after.unwrap()),
        "{retry_after:?}"
    );
    assert!(text.contains("Too many wrong passwords"));
    let events = p.user_events("alice").unwrap();
    assert!(
        events.iter().any(|e| e.outcome == "refused"
            && e.detail == "too many wrong passwords"
            && e.ip == "10.0.0.2"),
        "{events:?}"
    );

    sign_ins(
        &p,
        &[
            // Other names from that address until it has had five wrong passwords.
            ("bob", guess, a, wrong),
            ("nobody", guess, a, wrong),
            ("carol", right, a, throttled),
            ("carol", right, c, in_),
            // The right password clears a name's count (not the address's).
            ("bob", guess, c, wrong),
            ("bob", right, c, in_),
            ("bob", guess, c, wrong),
            ("bob", guess, c, wrong),
            ("bob", right, c, in_),
        ],
    )
    .await;

    // The help desk's unlock lifts a name's throttle; time lifts an address's.
    p.admin_action("alice", portal::admin::Action::Unlock, "test")
        .unwrap();
    sign_ins(
        &p,
        &[("alice", right, b, in_), ("alice", right, a, throttled)],
    )
    .await;
    clock.advance(901);
    sign_ins(&p, &[("alice", right, a, in_)]).await;
}

/// A sign-in form post.
fn sign_in(name: &str, password: &str, ip: [u8; 4]) -> Request<Body> {
    let body = format!("username={name}&password={}", password.replace(' ', "+"));
    form_post("/login", &body, ip, &[])
}

/// Signs in with each (name, password, address) in turn, checking each status.
async fn sign_ins(p: &Arc<Portal>, steps: &[(&str, &str, [u8; 4], StatusCode)]) {
    for (i, &(name, password, ip, expected)) in steps.iter().enumerate() {
        let (status, _, _) = page(p, sign_in(name, password, ip)).await;
        assert_eq!(status, expected, "step {i}: {name} from {ip:?}");
    }
}

#[tokio::test]
async fn concurrent_guesses_cannot_pass_the_throttle_together() {
    let p = portal(Settings {
        password_user_limit: 3,
        ..Settings::defaults().unwrap()
    });
    p.create_user("alice", "correct horse battery").unwrap();
    // All ten are in flight at once: each is counted before its Argon2id starts.
    let guesses = (0..10).map(|i| {
        page(
            &p,
            sign_in("alice", &format!("guess number {i}"), [10, 0, 0, 9]),
        )
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(guesses)
        .await
        .into_iter()
        .map(|(status, _, _)| status)
        .collect();
    let checked = statuses
        .iter()
        .filter(|&&s| s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|&&s| s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, throttled), (3, 7), "{statuses:?}");
}

#[tokio::test]
async fn password_reset_requests_spend_the_address_budget() {
    let p = portal(Settings {
        password_ip_limit: 4,
        ..Settings::defaults().unwrap()
    });
    p.create_user("alice", "correct horse battery").unwrap();
    // A reset request sends a push without any password: each one costs its address.
    let reset = |name: &str, ip: [u8; 4]| form_post("/reset", &format!("username={name}"), ip, &[]);
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    for name in ["alice", "bob", "carol", "dave"] {
        assert_eq!(page(&p, reset(name, a)).await.0, StatusCode::OK, "{name}");
    }
    let (status, retry_after, text) = page(&p, reset("erin", a)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after.is_some_and(|s| s > 800), "{retry_after:?}");
    assert!(text.contains("from your address"), "{text}");
    sign_ins(
        &p,
        &[
            (
                "alice",
                "correct horse battery",
                a,
                StatusCode::TOO_MANY_REQUESTS,
            ),
            ("alice", "correct horse battery", b, StatusCode::SEE_OTHER),
        ],
    )
    .await;
    assert_eq!(page(&p, reset("alice", b)).await.0, StatusCode::OK);
}
