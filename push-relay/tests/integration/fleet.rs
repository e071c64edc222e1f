//! Copies of the relay as a fleet over a real `nats-server` with JetStream: direct pushes are
//! forwarded to the copy holding the stream, accepted signatures are refused by every copy, and
//! a copy that loses NATS keeps serving and comes back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use push_relay::clock::SystemClock;
use push_relay::direct::new_token;
use push_relay::settings::NatsSettings;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

use crate::api::{signature_header, signed_push};
use crate::direct::{open_stream, read_until};
use crate::support::client;
use crate::support::mock_apns::MockApns;
use crate::support::mock_fcm::MockFcm;
use crate::support::nats::NatsServer;
use crate::support::relay::{APNS_TOKEN, FCM_TOKEN, TestRelay, now, push_body};

/// Waits for anything NATS does in the background (connecting, reconnecting): generous, and
/// only ever a limit, never a measurement.
const SETTLE: Duration = Duration::from_secs(15);

/// A copy of the relay in the fleet of `nats`, with the given mocks and request key.
async fn copy(
    nats: &NatsServer,
    apns: Option<&MockApns>,
    fcm: Option<&MockFcm>,
    key: Option<&EcdsaKeyPair>,
) -> TestRelay {
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestRelay::settings(apns, fcm, &dir);
    s.nats = Some(NatsSettings::new(nats.url()));
    if let Some(k) = key {
        s.tenants[0].request_public_key = push_relay::signature::RequestKey::parse(
            &push_relay::jwt::b64url(k.public_key().as_ref()),
        );
    }
    TestRelay::start(s, dir, Arc::new(SystemClock)).await
}

async fn readyz(relay: &TestRelay) -> (u16, String) {
    let a = client::get(relay.addr, "/readyz").await;
    (a.status, a.text)
}

/// Polls `check` every 100 ms until it holds; fails the test after `limit`, saying `what`.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `relay` is connected with its signature bucket in place.
async fn until_ready(relay: &TestRelay) {
    eventually("the copy joins the fleet", SETTLE, || async {
        readyz(relay).await == (200, "ready".to_owned())
    })
    .await;
}

fn metrics(relay: &TestRelay) -> String {
    relay.relay.metrics.render()
}

/// A distinct base64url payload per phase, so a stream's text shows which push arrived.
fn direct_push(token: &str, payload: &str) -> Vec<u8> {
    push_body("direct", token, payload, now() + 30, None)
}

/// Opens a stream for a new token on `relay`; returns the token and the connection.
async fn stream_on(relay: &TestRelay) -> (String, tokio::net::TcpStream) {
    let token = new_token();
    let mut tcp = open_stream(relay.addr, &token).await;
    read_until(&mut tcp, "200 OK").await;
    (token, tcp)
}

#[tokio::test]
async fn a_push_to_one_copy_reaches_a_stream_on_another() {
    let nats = NatsServer::start().await;
    let (a, b) = (
        copy(&nats, None, None, None).await,
        copy(&nats, None, None, None).await,
    );
    until_ready(&a).await;
    until_ready(&b).await;
    let (token, mut stream) = stream_on(&b).await;
    // The response head went out once NATS had the stream's subscription: no waiting here.
    let answer = a
        .push_body(direct_push(&token, "Rk9SV0FSREVELVRPLUI"))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["outcome"], "delivered", "{}", answer.text);
    let text = read_until(&mut stream, "Rk9SV0FSREVELVRPLUI").await;
    assert!(text.contains("event: push"), "{text}");
    assert!(text.contains("\"expires_at\""), "{text}");
    assert!(
        metrics(&a).contains(r#"push_relay_forwarded_total{outcome="delivered"} 1"#),
        "{}",
        metrics(&a)
    );
    assert!(
        metrics(&b).contains(r#"push_relay_forwarded_answered_total{answer="delivered"} 1"#),
        "{}",
        metrics(&b)
    );
    // The copy holding the stream still delivers its own pushes directly.
    let local = b.push_body(direct_push(&token, "TE9DQUwtT04tQg")).await;
    assert_eq!(local.json()["outcome"], "delivered", "{}", local.text);
    read_until(&mut stream, "TE9DQUwtT04tQg").await;

    // Once the device hangs up, nobody holds the token: NotConnected, as for a lone copy.
    drop(stream);
    eventually("the closed stream is forgotten", SETTLE, || async {
        b.relay
            .metrics
            .render()
            .contains("push_relay_direct_streams 0")
    })
    .await;
    let gone = a.push_body(direct_push(&token, "R09ORQ")).await;
    assert_eq!(gone.status, 502, "{}", gone.text);
    assert_eq!(gone.json()["reason"], "NotConnected", "{}", gone.text);
}

#[tokio::test]
async fn a_token_streaming_nowhere_is_not_connected() {
    let nats = NatsServer::start().await;
    let (a, _b) = (
        copy(&nats, None, None, None).await,
        copy(&nats, None, None, None).await,
    );
    until_ready(&a).await;
    let answer = a.push_body(direct_push(&new_token(), "Tk9XSEVSRQ")).await;
    assert_eq!(answer.status, 502, "{}", answer.text);
    assert_eq!(answer.json()["outcome"], "failed");
    assert_eq!(answer.json()["reason"], "NotConnected");
    assert!(
        metrics(&a).contains(r#"push_relay_forwarded_total{outcome="no_stream"} 1"#),
        "{}",
        metrics(&a)
    );
}

#[tokio::test]
async fn a_signature_accepted_by_one_copy_is_refused_by_every_other() {
    let rng = ring::rand::SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap();
    let mut nats = NatsServer::start().await;
    let (a, b) = (
        copy(&nats, None, None, Some(&pair)).await,
        copy(&nats, None, None, Some(&pair)).await,
    );
    until_ready(&a).await;
    until_ready(&b).await;
    let body = direct_push(&new_token(), "U0lHTkVE");
    let sign = || signature_header(&pair, &body);
    let header = sign();
    // 502: verified and remembered, then no stream anywhere (NotConnected).
    assert_eq!(
        signed_push(a.addr, &header, body.clone()).await,
        (502, String::new())
    );
    assert_eq!(
        signed_push(b.addr, &header, body.clone()).await,
        (401, "replayed_signature".into())
    );
    assert_eq!(
        signed_push(a.addr, &header, body.clone()).await,
        (401, "replayed_signature".into())
    );
    // A new signature is a new request, on any copy.
    assert_eq!(signed_push(b.addr, &sign(), body.clone()).await.0, 502);

    // Without NATS each copy decides alone and says it did: the documented residual risk.
    nats.kill();
    eventually("the copy notices NATS is gone", SETTLE, || async {
        readyz(&a).await.1.contains("degraded")
    })
    .await;
    let outage = sign();
    assert_eq!(signed_push(a.addr, &outage, body.clone()).await.0, 502);
    assert_eq!(
        signed_push(a.addr, &outage, body.clone()).await,
        (401, "replayed_signature".into()),
        "a copy still refuses what it accepted itself"
    );
    assert!(
        metrics(&a).contains(r#"push_relay_replay_local_only_total{reason="nats_down"} 1"#),
        "{}",
        metrics(&a)
    );

    // Back with NATS (which kept no bucket: it is set up again), the fleet decides again.
    nats.restart().await;
    until_ready(&a).await;
    until_ready(&b).await;
    let after = sign();
    assert_eq!(signed_push(a.addr, &after, body.clone()).await.0, 502);
    assert_eq!(
        signed_push(b.addr, &after, body).await,
        (401, "replayed_signature".into())
    );
}

#[tokio::test]
async fn a_copy_that_loses_nats_keeps_serving_and_reconnects() {
    let apns = MockApns::start().await;
    let fcm = MockFcm::start().await;
    let mut nats = NatsServer::start().await;
    let a = copy(&nats, Some(&apns), Some(&fcm), None).await;
    let b = copy(&nats, None, None, None).await;
    until_ready(&a).await;
    until_ready(&b).await;
    let (own, mut own_stream) = stream_on(&a).await;
    let (remote, mut remote_stream) = stream_on(&b).await;
    let before = a.push_body(direct_push(&remote, "QkVGT1JF")).await;
    assert_eq!(before.json()["outcome"], "delivered", "{}", before.text);
    read_until(&mut remote_stream, "QkVGT1JF").await;
    assert!(metrics(&a).contains("push_relay_nats_connected 1"));

    nats.kill();
    eventually("/readyz reports the lost connection", SETTLE, || async {
        readyz(&a).await == (200, "ready (degraded: nats disconnected)".to_owned())
    })
    .await;
    let m = metrics(&a);
    assert!(m.contains("push_relay_nats_connected 0"), "{m}");
    assert!(m.contains("push_relay_nats_disconnects_total 1"), "{m}");
    // Everything that needs no other copy still works.
    let mine = a.push_body(direct_push(&own, "T1dOLVNUUkVBTQ")).await;
    assert_eq!(mine.json()["outcome"], "delivered", "{}", mine.text);
    read_until(&mut own_stream, "T1dOLVNUUkVBTQ").await;
    for (platform, token) in [("apns", APNS_TOKEN), ("fcm", FCM_TOKEN)] {
        let p = a.push(platform, token).await;
        assert_eq!(p.json()["outcome"], "delivered", "{platform}: {}", p.text);
    }
    // A stream on another copy cannot be reached: as if it were nowhere.
    let cut = a.push_body(direct_push(&remote, "Q1VU")).await;
    assert_eq!(cut.status, 502, "{}", cut.text);
    assert_eq!(cut.json()["reason"], "NotConnected", "{}", cut.text);
    assert!(
        metrics(&a).contains(r#"push_relay_forwarded_total{outcome="nats_down"} 1"#),
        "{}",
        metrics(&a)
    );

    // The same port again: both copies reconnect by themselves, and B's stream, opened before
    // the outage and never reopened, is announced again.
    nats.restart().await;
    eventually("a cross-copy push works again", SETTLE, || async {
        a.push_body(direct_push(&remote, "QUdBSU4")).await.json()["outcome"] == "delivered"
    })
    .await;
    read_until(&mut remote_stream, "QUdBSU4").await;
    until_ready(&a).await;
    assert!(metrics(&a).contains("push_relay_nats_connected 1"));
}

#[tokio::test]
async fn a_copy_starts_while_nats_is_down_and_joins_when_it_comes() {
    let mut nats = NatsServer::stopped();
    let a = copy(&nats, None, None, None).await;
    let b = copy(&nats, None, None, None).await;
    // Serving at once, degraded.
    assert_eq!(
        readyz(&a).await,
        (200, "ready (degraded: nats disconnected)".to_owned())
    );
    let (token, mut stream) = stream_on(&b).await;
    nats.restart().await;
    eventually(
        "the stream opened before NATS came is reachable",
        SETTLE,
        || async {
            a.push_body(direct_push(&token, "TEFURQ")).await.json()["outcome"] == "delivered"
        },
    )
    .await;
    read_until(&mut stream, "TEFURQ").await;
}

#[tokio::test]
async fn without_a_nats_section_nothing_changes() {
    let relay = TestRelay::with(None, None).await;
    assert!(relay.relay.fleet().is_none());
    assert_eq!(readyz(&relay).await, (200, "ready".to_owned()));
    let m = metrics(&relay);
    assert!(!m.contains("nats") && !m.contains("forwarded"), "{m}");
}
