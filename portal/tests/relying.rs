//! The relying-party API in-process: client keys, the policy decided before any push, codes
//! under the lockout, refusals, and the OpenAPI document kept in step with docs/portal.md. The
//! pushes themselves, approved and denied on a real device (the `assent` CLI), are
//! tests/pam/test_pam.py's.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use portal::admin::{Action, Actor};
use portal::clock::SystemClock;
use portal::db::{ClientMode, Db, EventKind};
use portal::relay::NoRelay;
use portal::settings::Settings;
use portal::{Portal, api};
use serde_json::{Value, json};
use tower::ServiceExt as _;

mod common;
use common::{enroll_totp, totp_code};

const PASSWORD: &str = "correct horse battery";

fn portal() -> Arc<Portal> {
    Arc::new(
        Portal::new(
            Settings::defaults().unwrap(),
            Db::for_tests().unwrap(),
            Arc::new(SystemClock::default()),
            Arc::new(NoRelay),
        )
        .unwrap(),
    )
}

async fn call(
    p: &Arc<Portal>,
    method: &str,
    path: &str,
    key: &str,
    body: Value,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        })
        .unwrap();
    let response = api::router(p.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_client_key_is_required_and_checked() {
    let p = portal();
    p.create_user("alice", PASSWORD).unwrap();
    let (_, key) = p
        .create_client("build-hosts", ClientMode::PushNumber, None)
        .unwrap();
    let start = json!({ "user": "alice" });
    let (name, _) = key.split_once('.').unwrap();
    for wrong in [
        "",
        "no-dot",
        &format!("{name}.wrong"),
        &format!("someone-else.{}", key.split_once('.').unwrap().1),
    ] {
        let (status, body) = call(&p, "POST", "/rp/v1/verifications", wrong, start.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong:?}: {body}");
    }
    let (status, body) = call(&p, "POST", "/rp/v1/verifications", &key, start).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("no_device"))
    );
    assert_eq!(body["code"], false, "no TOTP either");
    // A removed client's key stops working at once; the same name cannot be taken twice.
    assert!(
        p.create_client("build-hosts", ClientMode::Push, None)
            .is_err()
    );
    assert!(p.delete_client("build-hosts").unwrap());
    let (status, _) = call(
        &p,
        "POST",
        "/rp/v1/verifications",
        &key,
        json!({ "user": "alice" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn policy_answers_before_any_push_and_each_is_logged_naming_the_client() {
    let p = portal();
    let (_, key) = p.create_client("vpn", ClientMode::Push, None).unwrap();
    for name in ["sam", "tom", "una"] {
        p.create_user(name, PASSWORD).unwrap();
    }
    let cli = Actor::cli();
    p.admin_action("sam", Action::Suspend, &cli, None).unwrap();
    p.admin_action("tom", Action::RemoveMfa, &cli, Some(1))
        .unwrap();
    enroll_totp(&p, "una");
    for (user, status) in [
        ("sam", "denied"),
        ("tom", "mfa_not_required"),
        ("una", "no_device"),
    ] {
        let (code, body) = call(
            &p,
            "POST",
            "/rp/v1/verifications",
            &key,
            json!({ "user": user }),
        )
        .await;
        assert_eq!(
            (code, body["status"].as_str()),
            (StatusCode::OK, Some(status)),
            "{user}: {body}"
        );
        let events = p.user_events(user).unwrap();
        let last = events.last().unwrap();
        assert_eq!(last.kind, EventKind::PushLogin);
        assert!(
            last.detail.starts_with("verification for vpn: "),
            "{last:?}"
        );
    }
    let (_, body) = call(
        &p,
        "POST",
        "/rp/v1/verifications",
        &key,
        json!({ "user": "una" }),
    )
    .await;
    assert_eq!(body["code"], true, "una can type a code instead");
    let (status, body) = call(
        &p,
        "POST",
        "/rp/v1/verifications",
        &key,
        json!({ "user": "nobody" }),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // Bad input is refused with its reason, and nothing is sent.
    for bad in [
        json!({ "user": "una", "application": "ssh to \u{202e}10-dliub" }),
        json!({ "user": "una", "application": "x".repeat(101) }),
        json!({ "user": "una", "surprise": true }),
        json!({ "usr": "una" }),
    ] {
        let (status, body) = call(&p, "POST", "/rp/v1/verifications", &key, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _) = call(
        &p,
        "GET",
        "/rp/v1/verifications/not-a-real-id",
        &key,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn codes_are_checked_under_the_lockout() {
    let p = portal();
    let (_, key) = p
        .create_client("codes-only", ClientMode::Totp, None)
        .unwrap();
    p.create_user("una", PASSWORD).unwrap();
    let secret = enroll_totp(&p, "una");
    let (status, body) = call(
        &p,
        "POST",
        "/rp/v1/verifications",
        &key,
        json!({ "user": "una" }),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("code_required")),
        "a code-only client sends no push: {body}"
    );
    let next = totp_code(&secret, p.now() + 30);
    let wrong = format!("{:06}", (next.parse::<u32>().unwrap() + 1) % 1_000_000);
    let (status, body) = call(
        &p,
        "POST",
        "/rp/v1/codes",
        &key,
        json!({ "user": "una", "code": wrong }),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("denied"))
    );
    assert!(
        body["detail"].as_str().unwrap().contains("4 left"),
        "{body}"
    );
    let (_, body) = call(
        &p,
        "POST",
        "/rp/v1/codes",
        &key,
        json!({ "user": "una", "code": next }),
    )
    .await;
    assert_eq!(body["status"], "approved");
    let (_, body) = call(
        &p,
        "POST",
        "/rp/v1/codes",
        &key,
        json!({ "user": "una", "code": next }),
    )
    .await;
    assert_eq!(body["status"], "denied", "a code works once");
    for _ in 0..4 {
        call(
            &p,
            "POST",
            "/rp/v1/codes",
            &key,
            json!({ "user": "una", "code": wrong }),
        )
        .await;
    }
    let (_, body) = call(
        &p,
        "POST",
        "/rp/v1/codes",
        &key,
        json!({ "user": "una", "code": "000000" }),
    )
    .await;
    assert_eq!(body["status"], "locked", "{body}");
    let log = p.user_events("una").unwrap();
    assert!(
        log.iter()
            .any(|e| e.kind == EventKind::Totp && e.detail.contains("via codes-only"))
    );
}

/// Every operation of the OpenAPI document is served (answering 401 without a key, not 404 or
/// 405) and described in docs/portal.md, and docs/portal.md describes no other.
#[tokio::test]
async fn the_openapi_document_docs_and_router_agree() {
    let p = portal();
    let (status, served) = call(&p, "GET", "/rp/v1/openapi.json", "", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/portal.md")).unwrap();
    let section = docs
        .split("## Relying parties")
        .nth(1)
        .expect("the section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut documented: Vec<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|op| op.contains(" /rp/v1/"))
        .map(str::to_owned)
        .collect();
    documented.sort();
    let mut specified = Vec::new();
    for (path, item) in served["paths"].as_object().unwrap() {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| *m != "parameters")
        {
            let concrete = path.replace("{id}", "some-id");
            let op = format!("{} /rp/v1{path}", method.to_uppercase());
            specified.push(op.clone());
            let (status, _) = call(
                &p,
                &method.to_uppercase(),
                &format!("/rp/v1{concrete}"),
                "x.y",
                json!({}),
            )
            .await;
            let expected = if path == "/openapi.json" {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(status, expected, "{op}");
        }
    }
    specified.sort();
    assert_eq!(
        documented, specified,
        "docs/portal.md and the OpenAPI document"
    );
}

/// A signing client: every request carries a fresh ES256 signature over its method, path and
/// body; without it, with another request's, stale, or replayed, the key alone gets nothing.
#[tokio::test]
async fn a_signing_client_needs_a_fresh_signature_on_every_request() {
    use base64::Engine as _;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let p = portal();
    p.create_user("alice", PASSWORD).unwrap();
    assert!(
        p.create_client("bad-key", ClientMode::Push, Some("not a key"))
            .is_err()
    );
    let (client, key) = p
        .create_client(
            "signed",
            ClientMode::Push,
            Some(&b64(pair.public_key().as_ref())),
        )
        .unwrap();
    assert!(client.request_key.is_some());
    let body = json!({ "user": "alice" }).to_string();
    let sign = |t: u64, method: &str, path: &str, body: &str| {
        let message = portal::app::relying::signed_message(t, method, path, body.as_bytes());
        format!(
            "t={t},sig={}",
            b64(pair.sign(&rng, &message).unwrap().as_ref())
        )
    };
    let send = |signature: Option<String>, path: &'static str, body: String| {
        let p = p.clone();
        let key = key.clone();
        async move {
            let mut request = Request::post(path)
                .header("authorization", format!("Bearer {}", key.as_str()))
                .header("content-type", "application/json");
            if let Some(s) = signature {
                request = request.header("assent-signature", s);
            }
            let response = api::router(p)
                .oneshot(request.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let now = p.now();
    let (status, body_out) = send(None, "/rp/v1/verifications", body.clone()).await;
    assert_eq!(
        (status, body_out["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("signature_required"))
    );
    let good = sign(now, "POST", "/rp/v1/verifications", &body);
    let (status, answer) = send(Some(good.clone()), "/rp/v1/verifications", body.clone()).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (StatusCode::OK, Some("no_device")),
        "{answer}"
    );
    let (status, refused) = send(Some(good), "/rp/v1/verifications", body.clone()).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("replayed_signature"))
    );
    // Another request's signature (its path or body), and a stale one, do not verify.
    let other_path = sign(now, "POST", "/rp/v1/codes", &body);
    let (_, refused) = send(Some(other_path), "/rp/v1/verifications", body.clone()).await;
    assert_eq!(refused["error"], "bad_signature");
    let other_body = sign(now, "POST", "/rp/v1/verifications", "{\"user\":\"bob\"}");
    let (_, refused) = send(Some(other_body), "/rp/v1/verifications", body.clone()).await;
    assert_eq!(refused["error"], "bad_signature");
    let stale = sign(now - 61, "POST", "/rp/v1/verifications", &body);
    let (_, refused) = send(Some(stale), "/rp/v1/verifications", body.clone()).await;
    assert_eq!(refused["error"], "stale_signature");
    let (_, refused) = send(Some("t=1,sig=zz".into()), "/rp/v1/verifications", body).await;
    assert_eq!(refused["error"], "bad_signature");
}
