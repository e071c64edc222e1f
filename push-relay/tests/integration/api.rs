//! The tenant API: authentication, limits, errors, health, metrics, OpenAPI and shutdown.

use std::sync::Arc;
use std::time::Duration;

use push_relay::clock::SystemClock;

use crate::support::client::{self, request};
use crate::support::mock_apns::{MockApns, Reply};
use crate::support::relay::{API_KEY, APNS_TOKEN, FCM_TOKEN, PAYLOAD, TestRelay, now, push_body};

#[tokio::test]
async fn refuses_missing_and_wrong_api_keys_with_json_errors() {
    let relay = TestRelay::with(None, None).await;
    let body = push_body(
        "direct",
        &push_relay::direct::new_token(),
        PAYLOAD,
        now() + 30,
        None,
    );
    let a = request(relay.addr, "POST", "/v1/push", None, body.clone()).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json()["error"], "unauthorized");
    assert!(a.json()["message"].is_string());
    let a = request(relay.addr, "POST", "/v1/push", Some("not-the-key"), body).await;
    assert_eq!(a.status, 401);
}

#[tokio::test]
async fn refuses_bad_requests_with_their_codes() {
    let relay = TestRelay::with(None, None).await;
    let cases = [
        (
            push_body("apns", "xyz", PAYLOAD, now() + 30, None),
            400,
            "invalid_device_token",
        ),
        (
            push_body(
                "direct",
                &push_relay::direct::new_token(),
                PAYLOAD,
                now() + 300,
                None,
            ),
            400,
            "expiry_too_far",
        ),
        (
            push_body(
                "direct",
                &push_relay::direct::new_token(),
                PAYLOAD,
                now() - 1,
                None,
            ),
            400,
            "expired",
        ),
        (
            push_body(
                "direct",
                &push_relay::direct::new_token(),
                "%%%",
                now() + 30,
                None,
            ),
            400,
            "invalid_payload",
        ),
        (b"not json".to_vec(), 400, "invalid_json"),
        (
            push_body("apns", APNS_TOKEN, PAYLOAD, now() + 30, None),
            400,
            "platform_not_configured",
        ),
        (
            push_body("fcm", FCM_TOKEN, PAYLOAD, now() + 30, None),
            400,
            "platform_not_configured",
        ),
        (vec![b' '; 20_000], 413, "body_too_large"),
    ];
    for (body, status, code) in cases {
        let a = relay.push_body(body).await;
        assert_eq!(
            (a.status, a.json()["error"].as_str().unwrap_or("")),
            (status, code),
            "{}",
            a.text
        );
    }
    let a = client::get(relay.addr, "/nowhere").await;
    assert_eq!(
        (a.status, a.json()["error"].as_str().unwrap()),
        (404, "not_found")
    );
}

#[tokio::test]
async fn rate_limits_each_tenant_with_429_and_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestRelay::settings(None, None, &dir);
    s.tenants[0].rate_per_second = 0.5;
    s.tenants[0].burst = 2;
    let relay = TestRelay::start(s, dir, Arc::new(SystemClock)).await;
    let token = push_relay::direct::new_token();
    for _ in 0..2 {
        assert_eq!(relay.push("direct", &token).await.status, 502);
    }
    let a = relay.push("direct", &token).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.json()["error"], "rate_limited");
    assert_eq!(a.headers["retry-after"], "2");
}

#[tokio::test]
async fn sheds_beyond_max_in_flight_with_503() {
    let apns = MockApns::start().await;
    apns.script(vec![Reply::Hang(Duration::from_millis(2000)); 2]);
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestRelay::settings(Some(&apns), None, &dir);
    s.max_in_flight = 2;
    s.max_in_flight_per_tenant = Some(2); // this one tenant may fill the relay
    s.attempt_timeout_ms = 5_000;
    let relay = Arc::new(TestRelay::start(s, dir, Arc::new(SystemClock)).await);
    let mut held = Vec::new();
    for _ in 0..2 {
        let r = relay.clone();
        held.push(tokio::spawn(async move {
            r.push("apns", APNS_TOKEN).await.status
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let m = client::get(relay.addr, "/metrics").await.text;
    assert!(m.contains("push_relay_in_flight 2"), "{m}");
    let a = relay.push("apns", APNS_TOKEN).await;
    assert_eq!(a.status, 503);
    assert_eq!(a.json()["error"], "overloaded");
    assert!(a.headers.contains_key("retry-after"));
    for h in held {
        assert_eq!(h.await.unwrap(), 200);
    }
    assert_eq!(relay.push("apns", APNS_TOKEN).await.status, 200, "recovers");
}

#[tokio::test]
async fn one_tenant_cannot_take_more_than_its_share_of_the_pushes_in_flight() {
    const OTHER_KEY: &str = "tenant-key-other-0123456789abcdef";
    let apns = MockApns::start().await;
    apns.script(vec![Reply::Hang(Duration::from_millis(2000)); 2]);
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestRelay::settings(Some(&apns), None, &dir);
    s.max_in_flight = 4; // each tenant may have 2 in flight by default
    s.attempt_timeout_ms = 5_000;
    let mut other = s.tenants[0].clone();
    other.id = "other".into();
    other.api_key_sha256 = push_relay::tenant::sha256_hex(OTHER_KEY.as_bytes());
    s.tenants.push(other);
    let relay = Arc::new(TestRelay::start(s, dir, Arc::new(SystemClock)).await);
    let mut held = Vec::new();
    for _ in 0..2 {
        let r = relay.clone();
        held.push(tokio::spawn(async move {
            r.push("apns", APNS_TOKEN).await.status
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let a = relay.push("apns", APNS_TOKEN).await;
    assert_eq!(
        (a.status, a.json()["error"].as_str()),
        (429, Some("tenant_overloaded")),
        "{}",
        a.text
    );
    assert_eq!(a.headers["retry-after"], "1");
    // The relay still has room, and another tenant gets it.
    let body = push_body("apns", APNS_TOKEN, PAYLOAD, now() + 30, None);
    let b = request(relay.addr, "POST", "/v1/push", Some(OTHER_KEY), body).await;
    assert_eq!(b.json()["outcome"], "delivered", "{}", b.text);
    let m = client::get(relay.addr, "/metrics").await.text;
    assert!(
        m.contains(r#"push_relay_shed_total{reason="tenant_overloaded"} 1"#),
        "{m}"
    );
    for h in held {
        assert_eq!(h.await.unwrap(), 200);
    }
    assert_eq!(relay.push("apns", APNS_TOKEN).await.status, 200, "recovers");
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let relay = TestRelay::with(None, None).await;
    assert_eq!(client::get(relay.addr, "/healthz").await.status, 200);
    assert_eq!(client::get(relay.addr, "/readyz").await.status, 200);
    relay.push("direct", &push_relay::direct::new_token()).await;
    let m = client::get(relay.addr, "/metrics").await;
    assert_eq!(m.status, 200);
    for name in [
        r#"push_relay_requests_total{tenant="acme",platform="direct"} 1"#,
        r#"push_relay_outcomes_total{provider="direct",outcome="failed",reason="NotConnected"} 1"#,
        "push_relay_push_duration_seconds_bucket",
        "push_relay_in_flight 0",
    ] {
        assert!(m.text.contains(name), "{name} missing from\n{}", m.text);
    }
    let doc = client::get(relay.addr, "/openapi.json").await.json();
    assert_eq!(doc["openapi"].as_str().unwrap().get(..2), Some("3."));
    for (method, path) in push_relay::api::ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "OpenAPI lacks {method} {path}"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        push_relay::api::ROUTES.len(),
        "OpenAPI documents a route the relay lacks"
    );
}

#[tokio::test]
async fn shutdown_finishes_in_flight_pushes_then_stops() {
    let apns = MockApns::start().await;
    apns.script([Reply::Hang(Duration::from_millis(1500))]);
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestRelay::settings(Some(&apns), None, &dir);
    s.attempt_timeout_ms = 5_000;
    let mut relay = TestRelay::start(s, dir, Arc::new(SystemClock)).await;
    let addr = relay.addr;
    let in_flight = tokio::spawn(async move {
        request(
            addr,
            "POST",
            "/v1/push",
            Some(API_KEY),
            push_body("apns", APNS_TOKEN, PAYLOAD, now() + 30, None),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    relay.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(relay.relay.is_draining());
    let a = in_flight.await.unwrap();
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    let done = tokio::time::timeout(Duration::from_secs(3), &mut relay.task).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "server stopped");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn a_signing_tenant_must_sign_its_requests() {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let rng = ring::rand::SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestRelay::settings(None, None, &dir);
    s.tenants[0].request_public_key = push_relay::signature::RequestKey::parse(
        &push_relay::jwt::b64url(pair.public_key().as_ref()),
    );
    let relay = TestRelay::start(s, dir, Arc::new(SystemClock)).await;
    let body = push_body(
        "direct",
        &push_relay::direct::new_token(),
        PAYLOAD,
        now() + 30,
        None,
    );
    let a = relay.push_body(body.clone()).await;
    assert_eq!(
        (a.status, a.json()["error"].as_str().unwrap()),
        (401, "signature_required")
    );

    let header = signature_header(&pair, &body);
    let signed = |header: String, body: Vec<u8>| {
        let addr = relay.addr;
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            let req = hyper::Request::post("/v1/push")
                .header("host", "relay")
                .header("authorization", format!("Bearer {API_KEY}"))
                .header("assent-signature", header)
                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                .unwrap();
            sender.send_request(req).await.unwrap().status().as_u16()
        }
    };
    assert_eq!(
        signed(header.clone(), body.clone()).await,
        502,
        "verified, then no stream"
    );
    let mut tampered = body.clone();
    tampered.push(b' ');
    assert_eq!(signed(header, tampered).await, 401);
}

/// The `Assent-Signature` of `body` signed now with `pair`: `t=<now>,sig=<ES256 of "<t>." ‖ body>`.
pub(crate) fn signature_header(pair: &ring::signature::EcdsaKeyPair, body: &[u8]) -> String {
    let t = now();
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    let rng = ring::rand::SystemRandom::new();
    let sig = push_relay::jwt::b64url(pair.sign(&rng, &message).unwrap().as_ref());
    format!("t={t},sig={sig}")
}

/// POSTs `body` to `/v1/push` with an `Assent-Signature`; returns the status and error code.
pub(crate) async fn signed_push(
    addr: std::net::SocketAddr,
    signature: &str,
    body: Vec<u8>,
) -> (u16, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::post("/v1/push")
        .header("host", "relay")
        .header("authorization", format!("Bearer {API_KEY}"))
        .header("assent-signature", signature)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    (status, json["error"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn a_signed_request_is_refused_when_replayed_to_the_same_copy() {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let rng = ring::rand::SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap();
    let start = || async {
        let dir = tempfile::tempdir().unwrap();
        let mut s = TestRelay::settings(None, None, &dir);
        s.tenants[0].request_public_key = push_relay::signature::RequestKey::parse(
            &push_relay::jwt::b64url(pair.public_key().as_ref()),
        );
        TestRelay::start(s, dir, Arc::new(SystemClock)).await
    };
    let (relay, other_copy) = (start().await, start().await);
    let body = push_body(
        "direct",
        &push_relay::direct::new_token(),
        PAYLOAD,
        now() + 30,
        None,
    );
    let sign = || signature_header(&pair, &body);
    let header = sign();
    // 502: verified, then no stream is open for the token (failed, NotConnected).
    assert_eq!(
        signed_push(relay.addr, &header, body.clone()).await,
        (502, String::new())
    );
    assert_eq!(
        signed_push(relay.addr, &header, body.clone()).await,
        (401, "replayed_signature".into())
    );
    // The tenant itself can send the same body again: a new signature is a new request.
    assert_eq!(signed_push(relay.addr, &sign(), body.clone()).await.0, 502);
    // The residual risk: another copy has not seen it and accepts it within the 60 s.
    assert_eq!(signed_push(other_copy.addr, &header, body).await.0, 502);
}

#[tokio::test]
async fn a_compact_jws_payload_reaches_apns_and_fcm_unchanged() {
    let apns = MockApns::start().await;
    let fcm = crate::support::mock_fcm::MockFcm::start().await;
    let relay = TestRelay::with(Some(&apns), Some(&fcm)).await;
    // The shape the portal sends (docs/protocol.md §5): header.claims.signature.
    let jws = "eyJhbGciOiJFUzI1NiIsImtpZCI6InBvcnRhbCJ9.eyJpZCI6ImMtMSJ9.c2lnbmF0dXJlLWJ5dGVz-_";
    for (platform, token) in [("apns", APNS_TOKEN), ("fcm", FCM_TOKEN)] {
        let a = relay
            .push_body(push_body(platform, token, jws, now() + 30, None))
            .await;
        assert_eq!(a.json()["outcome"], "delivered", "{platform}: {}", a.text);
    }
    let apns_body: serde_json::Value = serde_json::from_slice(&apns.seen()[0].body).unwrap();
    assert_eq!(apns_body["assent"], jws);
    let fcm_seen = fcm.state.seen.lock().unwrap().clone();
    assert_eq!(fcm_seen[0]["message"]["data"]["assent"], jws);
}
