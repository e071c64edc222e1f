//! Secrets never reach the logs: API keys, device tokens, payloads, provider and OAuth tokens
//! and private keys are absent from everything logged, at every level, while pushes of each
//! outcome are made, a fleet's copies included; device tokens appear only as hashes.
//!
//! A binary of its own because it installs the global tracing subscriber.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use support::mock_apns::{MockApns, Reply};
use support::mock_fcm::MockFcm;
use support::relay::{API_KEY, APNS_TOKEN, FCM_TOKEN, PAYLOAD, TestRelay};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_and_tokens_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    // As `push_relay::init_tracing` installs it, at the most talkative level.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish()
        .with(push_relay::nats_trace_filter())
        .init();

    let apns = MockApns::start().await;
    apns.script([
        Reply::Error(400, "BadDeviceToken", None),
        Reply::Error(403, "ExpiredProviderToken", None),
        Reply::Drop,
    ]);
    let fcm = MockFcm::start().await;
    fcm.script([support::mock_fcm::Reply::Error(404, "UNREGISTERED", None)]);
    let relay = TestRelay::with(Some(&apns), Some(&fcm)).await;
    let direct = push_relay::direct::new_token();
    let outcomes = [
        relay.push("apns", APNS_TOKEN).await.json()["outcome"].clone(),
        relay.push("apns", APNS_TOKEN).await.json()["outcome"].clone(),
        relay.push("fcm", FCM_TOKEN).await.json()["outcome"].clone(),
        relay.push("fcm", FCM_TOKEN).await.json()["outcome"].clone(),
        relay.push("direct", &direct).await.json()["outcome"].clone(),
    ];
    assert_eq!(
        outcomes.map(|o| o.as_str().unwrap().to_owned()),
        [
            "unregistered",
            "delivered",
            "unregistered",
            "delivered",
            "failed"
        ]
    );
    let _ = support::client::request(
        relay.addr,
        "POST",
        "/v1/push",
        Some("wrong-key-but-secret"),
        b"{}".to_vec(),
    )
    .await;

    // Two copies of a fleet, NATS behind a token: a push forwarded to a stream on the other
    // copy, one for a token streaming nowhere, and the NATS server going away.
    const NATS_TOKEN: &str = "nats-token-SECRET-0123456789";
    let mut nats = support::nats::NatsServer::start_with_token(NATS_TOKEN).await;
    let fleet_copy = || async {
        let dir = tempfile::tempdir().unwrap();
        let mut s = TestRelay::settings(None, None, &dir);
        let mut n = push_relay::settings::NatsSettings::new(nats.url());
        n.token = Some(push_relay::settings::Secret::new(NATS_TOKEN));
        s.nats = Some(n);
        TestRelay::start(s, dir, Arc::new(push_relay::clock::SystemClock)).await
    };
    let (a, b) = (fleet_copy().await, fleet_copy().await);
    for copy in [&a, &b] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while support::client::get(copy.addr, "/readyz").await.text != "ready" {
            assert!(
                std::time::Instant::now() < deadline,
                "the copy joins the fleet"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let streamed = push_relay::direct::new_token();
    let mut stream = tokio::net::TcpStream::connect(b.addr).await.unwrap();
    stream
        .write_all(
            format!("GET /v1/direct/stream HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {streamed}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = [0u8; 256];
    let n = stream.read(&mut head).await.unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).contains("200 OK"));
    assert_eq!(
        a.push("direct", &streamed).await.json()["outcome"],
        "delivered"
    );
    assert_eq!(
        a.push("direct", &direct).await.json()["reason"],
        "NotConnected"
    );
    nats.kill();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !support::client::get(a.addr, "/readyz")
        .await
        .text
        .contains("degraded")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the copy sees NATS go"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        a.push("direct", &streamed).await.json()["reason"],
        "NotConnected"
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let jwt = apns.seen().last().unwrap().jwt.clone();
    let p8_body = apns.key_pem.lines().nth(1).unwrap().to_owned();
    let issued: Vec<String> = fcm
        .state
        .valid_tokens
        .lock()
        .unwrap()
        .iter()
        .cloned()
        .collect();
    let mut secrets = vec![
        API_KEY.to_owned(),
        "wrong-key-but-secret".to_owned(),
        APNS_TOKEN.to_owned(),
        FCM_TOKEN.to_owned(),
        direct.clone(),
        streamed.clone(),
        NATS_TOKEN.to_owned(),
        PAYLOAD.to_owned(),
        jwt.clone(),
        jwt[..40].to_owned(),
        p8_body[..32].to_owned(),
        "ya29.".to_owned(),
        "PRIVATE KEY".to_owned(),
    ];
    secrets.extend(issued);
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "log leaks {s}:\n{logs}");
    }
    let hashed = &push_relay::tenant::sha256_hex(APNS_TOKEN.as_bytes())[..16];
    assert!(
        logs.contains(hashed),
        "outcomes are logged with the hashed token:\n{logs}"
    );
    assert!(logs.contains("BadDeviceToken"));
    assert!(
        logs.contains("nats disconnected"),
        "the lost connection is logged:\n{logs}"
    );
}
