//! The router in-process (`oneshot`): request limits, content types, admin authorization and
//! the test-clock switch. The flows themselves are covered end to end in tests/e2e.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use portal::clock::SystemClock;
use portal::db::{Db, EventKind, Outcome};
use portal::relay::NoRelay;
use portal::settings::Settings;
use portal::{Portal, api};
use tower::ServiceExt as _;

mod common;
use common::{enroll_totp, totp_code};

fn portal(settings: Settings) -> Arc<Portal> {
    Arc::new(
        Portal::new(
            settings,
            Db::for_tests().unwrap(),
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
async fn admin_api_needs_the_token_and_refuses_it_when_none_is_configured() {
    let off = portal(Settings::defaults().unwrap());
    let (status, body) = call(
        &off,
        Request::get("/admin/api/users")
            .header("authorization", "Bearer s3cret-admin-token")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_off"))
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
        db: portal::db::Location::Sqlite(dir.path().join("p.db")),
        ..settings.clone()
    })
    .unwrap();
    let before = opened.now();
    let (status, body) = call(&opened, request()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["now"].as_u64().unwrap() >= before + 60);
    settings.listen = "0.0.0.0:8000".parse().unwrap();
    settings.db = portal::db::Location::Sqlite(dir.path().join("refused.db"));
    assert!(portal::open(settings).is_err(), "never on a public address");
    assert!(
        !dir.path().join("refused.db").exists(),
        "a refused start creates nothing"
    );
}

#[test]
fn a_relay_signing_key_that_is_not_one_stops_the_start_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("relay-signing.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let settings = Settings {
        db: portal::db::Location::Sqlite(dir.path().join("p.db")),
        relay_url: Some("http://127.0.0.1:9".into()),
        relay_signing_key: Some(key.clone()),
        ..Settings::defaults().unwrap()
    };
    let err = portal::open(settings.clone()).unwrap_err();
    assert!(err.contains("not a P-256 private key"), "{err}");
    let err = portal::open(Settings {
        relay_signing_key: Some(dir.path().join("missing.pem")),
        ..settings
    })
    .unwrap_err();
    assert!(err.contains("missing.pem"), "{err}");
    assert!(
        !dir.path().join("p.db").exists(),
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
            .all(|e| e.kind != EventKind::LoginPassword),
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
            Db::for_tests().unwrap(),
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
        events.iter().any(|e| e.outcome == Outcome::Refused
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
    p.admin_action(
        "alice",
        portal::admin::Action::Unlock,
        &portal::admin::Actor::cli(),
        None,
    )
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

/// Signs alice in with her password from `ip` and returns the session's cookie and CSRF value,
/// read from the TOTP form the password leads to.
async fn password_session(p: &Arc<Portal>, ip: [u8; 4]) -> (String, String) {
    let response = api::router(p.clone())
        .oneshot(sign_in("alice", "correct horse battery", ip))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/login/totp");
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    // The cookie outlives the sign-in step: it must last as long as the session it becomes.
    let lifetime = Settings::defaults().unwrap().session_seconds;
    assert!(
        set_cookie.contains(&format!("Max-Age={lifetime}")),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let form = Request::get("/login/totp")
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    let (status, _, text) = page(p, form).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    (cookie, csrf)
}

/// Creates alice, enrolled with a third-party app (the password leads to the TOTP form; the
/// current step's code is used up); returns her TOTP secret.
fn totp_user(p: &Portal) -> Vec<u8> {
    p.create_user("alice", "correct horse battery").unwrap();
    enroll_totp(p, "alice")
}

/// How many TOTP codes alice's were actually checked: each wrong one is logged as `failed`,
/// or as the lockout it caused; attempts refused unread are logged as `attempt while locked`.
fn totp_codes_checked(p: &Portal) -> usize {
    p.user_events("alice")
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::Totp && e.detail != "attempt while locked")
        .count()
}

/// Posts a TOTP code in a session; returns where the portal sends the browser next, if anywhere
/// (`/` once signed in).
async fn totp_post(
    p: &Arc<Portal>,
    (cookie, csrf): &(String, String),
    code: &str,
    start: &tokio::sync::Barrier,
) -> Option<String> {
    let mut request = form_post(
        "/login/totp",
        &format!("csrf={csrf}&code={code}"),
        [10, 0, 2, 1],
        &[],
    );
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let router = api::router(p.clone());
    start.wait().await;
    let response = router.oneshot(request).await.unwrap();
    response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
}

// Worker threads, so that the requests really run at the same time: the handler has no await
// between reading the session and checking the code, and one thread would run each to its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_totp_codes_cannot_pass_the_lockout_together() {
    for sessions in [1, 40] {
        let p = portal(Settings::defaults().unwrap());
        let secret = totp_user(&p);
        let mut forms = Vec::new();
        for i in 0..sessions {
            forms.push(password_session(&p, [10, 0, 1, i as u8]).await);
        }
        // Forty wrong codes in flight at once, spread over the sessions.
        let start = Arc::new(tokio::sync::Barrier::new(40));
        let attempts = (0..40).map(|i| {
            let code = format!("{:06}", 100_000 + i);
            let form = forms[i % sessions].clone();
            let (p, start) = (p.clone(), start.clone());
            tokio::spawn(async move { totp_post(&p, &form, &code, &start).await })
        });
        let locations: Vec<Option<String>> = futures_util::future::join_all(attempts)
            .await
            .into_iter()
            .map(|joined| joined.unwrap())
            .collect();
        assert!(
            locations.iter().all(|l| l.as_deref() != Some("/")),
            "{sessions} session(s): {locations:?}"
        );
        assert_eq!(
            totp_codes_checked(&p),
            5,
            "{sessions} session(s): at most five codes are looked at"
        );
        assert!(
            p.user("alice").unwrap().locked(p.now()),
            "{sessions} session(s)"
        );

        // The right code, for a step not used yet, is refused while the account is locked,
        // from every session whose password step came before the lock.
        let right = totp_code(&secret, p.now() + 30);
        let alone = tokio::sync::Barrier::new(1);
        for form in &forms {
            assert_ne!(
                totp_post(&p, form, &right, &alone).await.as_deref(),
                Some("/"),
                "{sessions} session(s)"
            );
        }
        let events = p.user_events("alice").unwrap();
        assert!(
            !events.iter().any(|e| e.outcome == Outcome::SignedIn),
            "{sessions} session(s): nobody signed in"
        );
        // Later sign-ins are stopped at the password step.
        let (status, _, _) =
            page(&p, sign_in("alice", "correct horse battery", [10, 0, 3, 1])).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{sessions} session(s)");
    }
}

#[test]
fn the_lockout_is_read_from_the_database_not_from_the_callers_copy() {
    use portal::app::{Client, TotpOutcome};
    let clock = Arc::new(SystemClock::default());
    let settings = Settings::defaults().unwrap();
    let lockout = settings.lockout_minutes * 60;
    let p = Arc::new(
        Portal::new(
            settings,
            Db::for_tests().unwrap(),
            clock.clone(),
            Arc::new(NoRelay),
        )
        .unwrap(),
    );
    let secret = totp_user(&p);
    // What a handler holds while other requests run: the user as it was before any of them.
    let stale = p.user("alice").unwrap();
    let client = Client::new("10.0.0.2".into(), "");
    let outcomes: Vec<TotpOutcome> = (0..8)
        .map(|i| {
            p.check_totp(&stale, &format!("{:06}", 200_000 + i), &client)
                .unwrap()
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            TotpOutcome::Rejected { remaining: 4 },
            TotpOutcome::Rejected { remaining: 3 },
            TotpOutcome::Rejected { remaining: 2 },
            TotpOutcome::Rejected { remaining: 1 },
            TotpOutcome::Locked,
            TotpOutcome::Locked,
            TotpOutcome::Locked,
            TotpOutcome::Locked,
        ]
    );
    assert_eq!(totp_codes_checked(&p), 5);
    let right = totp_code(&secret, p.now() + 30);
    assert_eq!(
        p.check_totp(&stale, &right, &client).unwrap(),
        TotpOutcome::Locked,
        "a right code is refused while locked"
    );
    // Once the lock has run out, the count starts again and a right code works.
    clock.advance(i64::try_from(lockout).unwrap() + 1);
    let wrong = p.check_totp(&stale, "000000", &client).unwrap();
    assert_eq!(wrong, TotpOutcome::Rejected { remaining: 4 });
    let right = totp_code(&secret, p.now());
    assert_eq!(
        p.check_totp(&stale, &right, &client).unwrap(),
        TotpOutcome::Accepted
    );
}

/// A device of the tests: its keys, and its registration for `user`'s new enrollment.
struct TestDevice {
    signer: assent_protocol::SoftwareSigner,
    key: assent_protocol::EncryptionKey,
    registration: String,
}

impl TestDevice {
    fn id(&self) -> String {
        use assent_protocol::Signer as _;
        self.signer.public_key().thumbprint()
    }

    /// Registers (with keys from `seed`) for the enrollment `token` of `p`.
    fn register_for(p: &Portal, enrollment: &portal::db::Enrollment, seed: u8) -> Self {
        use assent_protocol::registration::build_registration;
        use assent_protocol::{
            EncryptionKey, EnrollmentToken, Platform, PushConfig, PushEnrollment, SoftwareSigner,
        };
        let signer = SoftwareSigner::from_bytes(&[seed; 32]).unwrap();
        let key = EncryptionKey::derive(&[seed + 1; 32]);
        let push = PushConfig {
            transport: assent_protocol::Transport::Direct,
            token: format!("stream-{seed}"),
            environment: None,
            topic: None,
        };
        let qr = PushEnrollment {
            portal_url: p.settings().public_url(),
            token: EnrollmentToken::parse(&enrollment.token).unwrap(),
            portal_key: p.signer().public_key(),
            expires_at: enrollment.expires_at,
        };
        let registration = build_registration(
            &signer,
            &qr,
            key.public_key(),
            Platform::Desktop,
            "test laptop",
            Some(&push),
            p.now(),
        )
        .unwrap();
        Self {
            signer,
            key,
            registration,
        }
    }

    /// Opens `challenge` and answers it with `response`.
    fn answer(
        &self,
        p: &Portal,
        challenge: &str,
        response: &assent_protocol::answer::Response,
    ) -> Result<serde_json::Value, portal::app::devices::Refusal> {
        let opened = assent_protocol::challenge::open_challenge(
            challenge,
            &p.signer().public_key(),
            &self.key,
            &self.id(),
            p.now(),
        )
        .unwrap();
        let answer =
            assent_protocol::answer::build_answer(&self.signer, &opened, response, p.now())
                .unwrap();
        portal::app::devices::answer(p, &answer, "192.0.2.9")
    }

    /// A signed poll.
    fn poll(&self, p: &Portal) -> String {
        assent_protocol::poll::build_poll(&self.signer, p.now(), &mut assent_protocol::system_rng())
            .unwrap()
    }
}

const APPROVE: assent_protocol::answer::Response = assent_protocol::answer::Response::Approve {
    number: None,
    user_verified: false,
};

/// A device that registers and then declines its own activation challenge stays pending: it
/// is not made the user's device, and the enrollment is not complete.
#[test]
fn a_declined_activation_does_not_enroll_the_device() {
    let p = portal(Settings::defaults().unwrap());
    let user = p.create_user("nina", "correct horse battery").unwrap();
    let (enrollment, _) = p.start_enrollment(&user).unwrap();
    let device = TestDevice::register_for(&p, &enrollment, 5);
    let registered = portal::app::devices::register(&p, &device.registration, "192.0.2.9").unwrap();
    let deny = assent_protocol::answer::Response::Deny {
        reason: None,
        user_verified: false,
    };
    let replied = device
        .answer(&p, registered["challenge"].as_str().unwrap(), &deny)
        .unwrap();
    assert_eq!(replied["status"], "denied");

    let nina = p.user("nina").unwrap();
    assert_eq!(
        nina.device_id, None,
        "the declining device is not the user's"
    );
    assert!(
        nina.totp_secret.is_none(),
        "the enrollment did not complete"
    );
    let events = p.user_events("nina").unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::Enrolled && e.outcome == Outcome::Refused),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| e.kind == EventKind::Enrolled && e.outcome == Outcome::Ok)
    );
}

/// A registration whose response was lost can be sent again: the same device gets its
/// activation challenge again, any other use of the spent token is refused, and once the
/// device is active the token is spent for it too.
#[test]
fn a_registration_sent_again_gets_its_activation_again() {
    use assent_protocol::ErrorCode;
    let p = portal(Settings::defaults().unwrap());
    let user = p.create_user("olga", "correct horse battery").unwrap();
    let (enrollment, _) = p.start_enrollment(&user).unwrap();
    let device = TestDevice::register_for(&p, &enrollment, 11);
    let first = portal::app::devices::register(&p, &device.registration, "192.0.2.9").unwrap();
    // The response is lost; the device sends the same registration again.
    let again = portal::app::devices::register(&p, &device.registration, "192.0.2.9").unwrap();
    assert_eq!(
        again, first,
        "the same answer: the same activation challenge"
    );
    // Another device with the same (spent) token is refused.
    let thief = TestDevice::register_for(&p, &enrollment, 21);
    let refused =
        portal::app::devices::register(&p, &thief.registration, "192.0.2.66").unwrap_err();
    assert_eq!(refused.code, ErrorCode::EnrollmentUsed);
    // The device activates; after that the token is spent for it as well.
    let challenge = again["challenge"].as_str().unwrap();
    assert_eq!(
        device.answer(&p, challenge, &APPROVE).unwrap()["status"],
        "approved"
    );
    assert_eq!(p.user("olga").unwrap().device_id, Some(device.id()));
    let late = portal::app::devices::register(&p, &device.registration, "192.0.2.9").unwrap_err();
    assert_eq!(late.code, ErrorCode::EnrollmentUsed);
}

/// A registered device that never got its activation fetches it by poll, within the
/// enrollment's lifetime; after that its polls are refused.
#[test]
fn a_pending_device_fetches_its_activation_by_poll() {
    use assent_protocol::ErrorCode;
    let clock = Arc::new(SystemClock::default());
    let p = Arc::new(
        Portal::new(
            Settings::defaults().unwrap(),
            Db::for_tests().unwrap(),
            clock.clone(),
            Arc::new(NoRelay),
        )
        .unwrap(),
    );
    let user = p.create_user("pia", "correct horse battery").unwrap();
    let (enrollment, _) = p.start_enrollment(&user).unwrap();
    let device = TestDevice::register_for(&p, &enrollment, 31);
    portal::app::devices::register(&p, &device.registration, "192.0.2.9").unwrap();
    // The 201 was lost, and the activation challenge's 60 s ran out meanwhile.
    clock.advance(90);
    let polled = portal::app::devices::pending(&p, &device.poll(&p), "192.0.2.9").unwrap();
    let challenges = polled["challenges"].as_array().unwrap();
    assert_eq!(challenges.len(), 1);
    let challenge = challenges[0].as_str().unwrap();
    assert_eq!(
        device.answer(&p, challenge, &APPROVE).unwrap()["status"],
        "approved"
    );
    assert_eq!(p.user("pia").unwrap().device_id, Some(device.id()));

    // Another device registered but never activated: past the enrollment's lifetime its polls
    // are refused (it cannot ask for activations forever).
    let (enrollment, _) = p.start_enrollment(&user).unwrap();
    let stray = TestDevice::register_for(&p, &enrollment, 41);
    portal::app::devices::register(&p, &stray.registration, "192.0.2.9").unwrap();
    clock.advance(i64::try_from(p.settings().enrollment_seconds).unwrap() + 1);
    let refused = portal::app::devices::pending(&p, &stray.poll(&p), "192.0.2.9").unwrap_err();
    assert_eq!(refused.code, ErrorCode::UnknownDevice);
}
