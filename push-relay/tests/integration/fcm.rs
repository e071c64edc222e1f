//! FCM HTTP v1: OAuth token exchange and caching, message shape, error mapping and retries.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use push_relay::clock::ManualClock;

use crate::support::mock_fcm::{MockFcm, Reply};
use crate::support::relay::{FCM_TOKEN, PAYLOAD, TestRelay, now, push_body};

#[tokio::test]
async fn delivers_a_high_priority_data_message_with_one_cached_token() {
    let fcm = MockFcm::start().await;
    let relay = TestRelay::with(None, Some(&fcm)).await;
    let a = relay
        .push_body(push_body(
            "fcm",
            FCM_TOKEN,
            PAYLOAD,
            now() + 40,
            Some("login-7"),
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        a.json()["provider_id"]
            .as_str()
            .unwrap()
            .starts_with("projects/assent-test/messages/")
    );
    for _ in 0..3 {
        assert_eq!(
            relay.push("fcm", FCM_TOKEN).await.json()["outcome"],
            "delivered"
        );
    }
    assert_eq!(
        fcm.state.token_requests.load(Ordering::Relaxed),
        1,
        "token cached"
    );
    let seen = fcm.state.seen.lock().unwrap().clone();
    let m = &seen[0]["message"];
    assert_eq!(m["token"], FCM_TOKEN);
    assert_eq!(m["data"]["assent"], PAYLOAD);
    assert_eq!(m["android"]["priority"], "HIGH");
    assert_eq!(m["android"]["collapse_key"], "login-7");
    let ttl: u64 = m["android"]["ttl"]
        .as_str()
        .unwrap()
        .trim_end_matches('s')
        .parse()
        .unwrap();
    assert!((38..=40).contains(&ttl), "{ttl}");
}

async fn outcome_for(replies: Vec<Reply>) -> (crate::support::client::Answer, MockFcm) {
    let fcm = MockFcm::start().await;
    fcm.script(replies);
    let relay = TestRelay::with(None, Some(&fcm)).await;
    let a = relay.push("fcm", FCM_TOKEN).await;
    (a, fcm)
}

#[tokio::test]
async fn unregistered_and_404_are_unregistered() {
    for (status, code) in [
        (404, "UNREGISTERED"),
        (400, "UNREGISTERED"),
        (404, "NOT_FOUND"),
    ] {
        let (a, _) = outcome_for(vec![Reply::Error(status, code, None)]).await;
        assert_eq!(a.status, 410, "{status} {code}");
        assert_eq!(a.json()["outcome"], "unregistered");
    }
}

#[tokio::test]
async fn invalid_argument_is_rejected() {
    let (a, fcm) = outcome_for(vec![Reply::Error(400, "INVALID_ARGUMENT", None)]).await;
    assert_eq!(a.status, 422);
    assert_eq!(a.json()["reason"], "INVALID_ARGUMENT");
    assert_eq!(fcm.state.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn quota_and_server_errors_are_retried_honouring_retry_after() {
    let started = Instant::now();
    let (a, fcm) = outcome_for(vec![
        Reply::Error(429, "QUOTA_EXCEEDED", Some(1)),
        Reply::Error(503, "UNAVAILABLE", None),
        Reply::Error(500, "INTERNAL", None),
    ])
    .await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(fcm.state.seen.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn retry_after_beyond_the_expiry_fails_at_once() {
    let fcm = MockFcm::start().await;
    fcm.script([Reply::Error(429, "QUOTA_EXCEEDED", Some(120))]);
    let relay = TestRelay::with(None, Some(&fcm)).await;
    let started = Instant::now();
    let a = relay
        .push_body(push_body("fcm", FCM_TOKEN, PAYLOAD, now() + 10, None))
        .await;
    assert_eq!(a.json()["outcome"], "failed");
    assert_eq!(a.json()["reason"], "QUOTA_EXCEEDED");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_revoked_access_token_is_replaced_and_the_push_retried() {
    let fcm = MockFcm::start().await;
    let relay = TestRelay::with(None, Some(&fcm)).await;
    assert_eq!(
        relay.push("fcm", FCM_TOKEN).await.json()["outcome"],
        "delivered"
    );
    fcm.revoke_tokens();
    let a = relay.push("fcm", FCM_TOKEN).await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    assert_eq!(fcm.state.token_requests.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn a_burst_of_refusals_of_one_access_token_fetches_one_new_token() {
    let fcm = MockFcm::start().await;
    let relay = Arc::new(TestRelay::with(None, Some(&fcm)).await);
    assert_eq!(
        relay.push("fcm", FCM_TOKEN).await.json()["outcome"],
        "delivered"
    );
    // Google calls the token in use invalid while many pushes carry it at once.
    fcm.revoke_tokens();
    let pushes: Vec<_> = (0..16)
        .map(|_| {
            let relay = relay.clone();
            tokio::spawn(async move { relay.push("fcm", FCM_TOKEN).await })
        })
        .collect();
    for p in pushes {
        let a = p.await.unwrap();
        assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    }
    assert_eq!(
        fcm.state.token_requests.load(Ordering::Relaxed),
        2,
        "the first token and one replacement"
    );
}

#[tokio::test]
async fn access_token_is_refreshed_near_its_expiry_without_sleeping() {
    let fcm = MockFcm::start().await;
    *fcm.state.expires_in.lock().unwrap() = 400; // refreshed 300 s early: after 100 s
    let start = now() - 200;
    let clock = Arc::new(ManualClock::new(start * 1000));
    let dir = tempfile::tempdir().unwrap();
    let s = TestRelay::settings(None, Some(&fcm), &dir);
    let relay = TestRelay::start(s, dir, clock.clone()).await;
    let send = |t: u64| push_body("fcm", FCM_TOKEN, PAYLOAD, t + 30, None);
    assert_eq!(
        relay.push_body(send(start)).await.json()["outcome"],
        "delivered"
    );
    clock.advance_seconds(90);
    assert_eq!(
        relay.push_body(send(start + 90)).await.json()["outcome"],
        "delivered"
    );
    assert_eq!(fcm.state.token_requests.load(Ordering::Relaxed), 1);
    clock.advance_seconds(20);
    assert_eq!(
        relay.push_body(send(start + 110)).await.json()["outcome"],
        "delivered"
    );
    assert_eq!(fcm.state.token_requests.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn timeouts_and_dropped_connections_are_retried() {
    let (a, fcm) = outcome_for(vec![Reply::Hang(Duration::from_secs(5)), Reply::Drop]).await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    assert_eq!(fcm.state.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_bad_assertion_is_refused_by_the_mock() {
    // Point the relay at a token URI the assertion's `aud` will not match.
    let fcm = MockFcm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestRelay::settings(None, Some(&fcm), &dir);
    s.fcm[0].token_uri = Some(format!("https://{}/token?x", fcm.server.authority()));
    let relay = TestRelay::start(s, dir, Arc::new(push_relay::clock::SystemClock)).await;
    let a = relay.push("fcm", FCM_TOKEN).await;
    assert_eq!(a.json()["outcome"], "failed");
    assert_eq!(a.json()["reason"], "OAuthHTTP400");
}
