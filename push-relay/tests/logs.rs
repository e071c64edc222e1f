//! Secrets never reach the logs: API keys, device tokens, payloads, provider and OAuth tokens
//! and private keys are absent from everything logged, at every level, while pushes of each
//! outcome are made; device tokens appear only as hash prefixes.
//!
//! A binary of its own because it installs the global tracing subscriber.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

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
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
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
}
