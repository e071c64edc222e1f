//! The shared mocks as the end-to-end tests use them: the feed of delivered challenges, dead
//! tokens, and the relay binary run as a separate process from a configuration they write.

use std::time::Duration;

use push_mocks::{Delivered, MockApns, MockFcm, RelayProcess};

use crate::support::client;
use crate::support::relay::{APNS_TOKEN, FCM_TOKEN, PAYLOAD, TestRelay, now, push_body};

const JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpZCI6ImMtNDIifQ.c2lnbmF0dXJl";
const OTHER_APNS_TOKEN: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Delivered>) -> Delivered {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no delivery within 10 s")
        .expect("feed closed")
}

#[test]
fn the_mocks_read_the_payload_where_the_relay_puts_it() {
    assert_eq!(push_mocks::PAYLOAD_KEY, push_relay::apns::PAYLOAD_KEY);
}

#[tokio::test]
async fn deliveries_carry_each_accepted_challenge_and_only_those() {
    let apns = MockApns::start().await;
    let fcm = MockFcm::start().await;
    let relay = TestRelay::with(Some(&apns), Some(&fcm)).await;
    let mut from_apns = apns.deliveries();
    let mut from_fcm = fcm.deliveries();
    apns.script([push_mocks::apns::Reply::Error(400, "BadCollapseId", None)]);
    let refused = relay
        .push_body(push_body("apns", APNS_TOKEN, PAYLOAD, now() + 30, None))
        .await;
    assert_eq!(refused.json()["outcome"], "rejected", "{}", refused.text);
    for (platform, token) in [("apns", APNS_TOKEN), ("fcm", FCM_TOKEN)] {
        let a = relay
            .push_body(push_body(platform, token, JWS, now() + 30, None))
            .await;
        assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    }
    // The refused push never reached the feed: the first delivery is the JWS, handed to the app
    // as APNs's payload and FCM's data.
    let (apns_got, fcm_got) = (next(&mut from_apns).await, next(&mut from_fcm).await);
    assert_eq!(
        (apns_got.token.as_str(), apns_got.payload.as_str()),
        (APNS_TOKEN, JWS)
    );
    assert_eq!(apns_got.received["assent"], JWS);
    assert_eq!(apns_got.received["aps"]["category"], "ASSENT_CHALLENGE");
    assert_eq!(
        (fcm_got.token.as_str(), fcm_got.payload.as_str()),
        (FCM_TOKEN, JWS)
    );
    assert_eq!(fcm_got.received, serde_json::json!({ "assent": JWS }));
    assert!(from_apns.try_recv().is_err() && from_fcm.try_recv().is_err());
}

#[tokio::test]
async fn an_unregistered_token_stays_dead_while_others_are_delivered() {
    let apns = MockApns::start().await;
    let fcm = MockFcm::start().await;
    let relay = TestRelay::with(Some(&apns), Some(&fcm)).await;
    apns.unregister(APNS_TOKEN);
    fcm.unregister(FCM_TOKEN);
    let mut from_apns = apns.deliveries();
    for _ in 0..2 {
        for (platform, token) in [("apns", APNS_TOKEN), ("fcm", FCM_TOKEN)] {
            let a = relay.push(platform, token).await;
            assert_eq!(
                a.json()["outcome"],
                "unregistered",
                "{platform}: {}",
                a.text
            );
        }
    }
    let a = relay.push("apns", OTHER_APNS_TOKEN).await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    assert_eq!(next(&mut from_apns).await.token, OTHER_APNS_TOKEN);
    assert_eq!(
        fcm.seen().len(),
        2,
        "the mock saw both FCM pushes and refused them"
    );
}

#[tokio::test]
async fn the_relay_binary_runs_from_the_mocks_configuration_and_delivers_to_both() {
    let apns = MockApns::start().await;
    let fcm = MockFcm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let listen = push_mocks::free_loopback_addr();
    let api_key = "e2e-portal-key-0123456789abcdef";
    let toml = push_mocks::relay_config_toml(
        &apns,
        &fcm,
        dir.path(),
        &listen.to_string(),
        "portal",
        api_key,
    );
    let config = dir.path().join("relay.toml");
    std::fs::write(&config, toml).unwrap();
    let relay = RelayProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_push-relay")),
        &config,
        listen,
    )
    .await;
    let mut from_apns = apns.deliveries();
    let mut from_fcm = fcm.deliveries();
    for (platform, token) in [("apns", APNS_TOKEN), ("fcm", FCM_TOKEN)] {
        let body = push_body(platform, token, JWS, now() + 30, None);
        let a = client::request(relay.addr(), "POST", "/v1/push", Some(api_key), body).await;
        assert_eq!(a.status, 200, "{platform}: {}", a.text);
        assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    }
    assert_eq!(next(&mut from_apns).await.payload, JWS);
    let via_fcm = next(&mut from_fcm).await;
    assert_eq!(
        (via_fcm.token.as_str(), via_fcm.payload.as_str()),
        (FCM_TOKEN, JWS)
    );

    // Dropping the guard kills the process: its port stops answering.
    let pid = relay.id();
    drop(relay);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/status"))
                .is_ok_and(|s| s.contains("State:\tZ")),
        "relay process {pid} still running"
    );
    assert!(tokio::net::TcpStream::connect(listen).await.is_err());
}
