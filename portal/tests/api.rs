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
    assert!(portal::open(settings).is_err(), "never on a public address");
}
