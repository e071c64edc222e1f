//! APNs: headers, provider token, and every error mapping and retry path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use push_relay::clock::ManualClock;

use crate::support::mock_apns::{MockApns, Reply};
use crate::support::relay::{APNS_TOKEN, PAYLOAD, TestRelay, now, push_body};

#[tokio::test]
async fn delivers_with_required_headers_payload_and_a_reused_provider_token() {
    let apns = MockApns::start().await;
    let relay = TestRelay::with(Some(&apns), None).await;
    let expires = now() + 45;
    let a = relay
        .push_body(push_body(
            "apns",
            APNS_TOKEN,
            PAYLOAD,
            expires,
            Some("login-42"),
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let j = a.json();
    assert_eq!(j["outcome"], "delivered");
    for _ in 0..3 {
        assert_eq!(
            relay.push("apns", APNS_TOKEN).await.json()["outcome"],
            "delivered"
        );
    }
    let seen = apns.seen();
    assert_eq!(seen.len(), 4);
    let first = &seen[0];
    assert_eq!(first.device_token, APNS_TOKEN);
    let h = |n: &str| first.headers.get(n).unwrap().to_str().unwrap().to_owned();
    assert_eq!(h("apns-topic"), crate::support::mock_apns::TOPIC);
    assert_eq!(h("apns-push-type"), "alert");
    assert_eq!(h("apns-priority"), "10");
    assert_eq!(h("apns-expiration"), expires.to_string());
    assert_eq!(h("apns-collapse-id"), "login-42");
    assert_eq!(j["provider_id"], h("apns-id"));
    let body: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(body["aps"]["mutable-content"], 1);
    assert_eq!(body["aps"]["category"], "ASSENT_CHALLENGE");
    assert_eq!(body["assent"], PAYLOAD);
    assert!(seen[1].headers.get("apns-collapse-id").is_none());
    // One token for all four pushes: never signed per request.
    assert!(seen.iter().all(|s| s.jwt == first.jwt));
}

#[tokio::test]
async fn largest_payload_fits_apples_4kb() {
    let apns = MockApns::start().await;
    let relay = TestRelay::with(Some(&apns), None).await;
    let payload = "A".repeat(push_relay::request::MAX_PAYLOAD_CHARS);
    let a = relay
        .push_body(push_body("apns", APNS_TOKEN, &payload, now() + 30, None))
        .await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    assert!(apns.seen()[0].body.len() <= 4096);
}

async fn outcome_for(replies: Vec<Reply>) -> (crate::support::client::Answer, MockApns) {
    let apns = MockApns::start().await;
    apns.script(replies);
    let relay = TestRelay::with(Some(&apns), None).await;
    let a = relay.push("apns", APNS_TOKEN).await;
    (a, apns)
}

#[tokio::test]
async fn bad_device_token_and_410_are_unregistered() {
    for (status, reason) in [
        (400, "BadDeviceToken"),
        (410, "Unregistered"),
        (410, "ExpiredToken"),
    ] {
        let (a, apns) = outcome_for(vec![Reply::Error(status, reason, None)]).await;
        assert_eq!(a.status, 410);
        assert_eq!(a.json()["outcome"], "unregistered");
        assert_eq!(a.json()["reason"], reason);
        assert_eq!(apns.seen().len(), 1, "not retried");
    }
}

#[tokio::test]
async fn payload_too_large_and_other_400s_are_rejected_without_retry() {
    for (status, reason) in [
        (413, "PayloadTooLarge"),
        (400, "DeviceTokenNotForTopic"),
        (400, "BadCollapseId"),
    ] {
        let (a, apns) = outcome_for(vec![Reply::Error(status, reason, None)]).await;
        assert_eq!(a.status, 422);
        assert_eq!(a.json()["outcome"], "rejected");
        assert_eq!(a.json()["reason"], reason);
        assert_eq!(apns.seen().len(), 1);
    }
}

#[tokio::test]
async fn expired_provider_token_is_refreshed_and_retried_once() {
    let (a, apns) = outcome_for(vec![Reply::Error(403, "ExpiredProviderToken", None)]).await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    let seen = apns.seen();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0].jwt, seen[1].jwt, "a new token was signed");

    let (a, apns) = outcome_for(vec![
        Reply::Error(403, "InvalidProviderToken", None),
        Reply::Error(403, "InvalidProviderToken", None),
    ])
    .await;
    assert_eq!(a.status, 502);
    assert_eq!(a.json()["outcome"], "failed");
    assert_eq!(a.json()["reason"], "InvalidProviderToken");
    assert_eq!(apns.seen().len(), 2, "only one retry");
}

#[tokio::test]
async fn a_burst_of_expired_provider_token_answers_re_signs_once() {
    let apns = MockApns::start().await;
    let relay = Arc::new(TestRelay::with(Some(&apns), None).await);
    assert_eq!(
        relay.push("apns", APNS_TOKEN).await.json()["outcome"],
        "delivered"
    );
    // Apple calls the token in use expired while many pushes carry it at once.
    apns.expire_seen_provider_tokens();
    let pushes: Vec<_> = (0..16)
        .map(|_| {
            let relay = relay.clone();
            tokio::spawn(async move { relay.push("apns", APNS_TOKEN).await })
        })
        .collect();
    for p in pushes {
        let a = p.await.unwrap();
        assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    }
    let seen = apns.seen();
    let jwts: std::collections::HashSet<&str> = seen.iter().map(|s| s.jwt.as_str()).collect();
    assert_eq!(jwts.len(), 2, "the expired token and one re-signed token");
    assert!(
        seen.len() > 16,
        "the first push and all sixteen reached the mock"
    );
}

async fn relay_with_clock(apns: &MockApns, clock: Arc<ManualClock>) -> TestRelay {
    let dir = tempfile::tempdir().unwrap();
    let s = TestRelay::settings(Some(apns), None, &dir);
    TestRelay::start(s, dir, clock).await
}

/// A relay with one APNs connection, so that every push goes over the same connection until
/// the relay replaces it.
async fn relay_on_one_connection(apns: &MockApns, clock: Arc<ManualClock>) -> TestRelay {
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestRelay::settings(Some(apns), None, &dir);
    s.apns[0].connections = 1;
    TestRelay::start(s, dir, clock).await
}

#[tokio::test]
async fn a_spurious_expired_token_answer_does_not_lock_apns_delivery_out() {
    // APNs calls a young token expired once. The relay signs a new one, which the connection
    // refuses as an update within 20 minutes (429 TooManyProviderTokenUpdates); the relay must
    // not retry that refused token on that connection, and every later push must get through.
    let apns = MockApns::start().await;
    let relay = relay_on_one_connection(&apns, Arc::new(ManualClock::at_system_time())).await;
    assert_eq!(
        relay.push("apns", APNS_TOKEN).await.json()["outcome"],
        "delivered"
    );
    apns.script([Reply::Error(403, "ExpiredProviderToken", None)]);
    let a = relay.push("apns", APNS_TOKEN).await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    for _ in 0..5 {
        let a = relay.push("apns", APNS_TOKEN).await;
        assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    }
    let seen = apns.seen();
    let (first, new) = (&seen[0].jwt, &seen[2].jwt);
    assert_eq!(&seen[1].jwt, first, "the spurious refusal");
    assert_ne!(new, first, "a new token was signed once");
    // The new token was refused once on the old connection, then sent on a fresh one only.
    assert_eq!(seen.len(), 4 + 5, "{} requests", seen.len());
    assert!(seen[3..].iter().all(|s| &s.jwt == new));
}

#[tokio::test]
async fn the_wall_clock_stepping_back_does_not_re_sign_the_token() {
    let apns = MockApns::start().await;
    let clock = Arc::new(ManualClock::at_system_time());
    let relay = relay_on_one_connection(&apns, clock.clone()).await;
    assert_eq!(
        relay.push("apns", APNS_TOKEN).await.json()["outcome"],
        "delivered"
    );
    // NTP steps the clock back a few seconds, then forward past where it was.
    clock.set_millis((now() - 5) * 1000);
    let a = relay.push("apns", APNS_TOKEN).await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    clock.set_millis((now() + 10) * 1000);
    let a = relay.push("apns", APNS_TOKEN).await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    let seen = apns.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter().all(|s| s.jwt == seen[0].jwt),
        "one token throughout"
    );
}

#[tokio::test]
async fn the_mock_enforces_apples_20_minute_rule_per_connection() {
    // The other side of the rule: a token signed 25 minutes after the connection's (a refusal
    // forced it) is taken at once, on the same connection.
    let apns = MockApns::start().await;
    let start = now() - 1800;
    let clock = Arc::new(ManualClock::new(start * 1000));
    let relay = relay_on_one_connection(&apns, clock.clone()).await;
    let at = |t: u64| push_body("apns", APNS_TOKEN, PAYLOAD, t + 30, None);
    assert_eq!(
        relay.push_body(at(start)).await.json()["outcome"],
        "delivered"
    );
    clock.advance_seconds(25 * 60);
    apns.script([Reply::Error(403, "ExpiredProviderToken", None)]);
    let a = relay.push_body(at(start + 25 * 60)).await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    let seen = apns.seen();
    assert_eq!(
        seen.len(),
        3,
        "25 minutes later the new token is taken at once"
    );
    assert_ne!(seen[2].jwt, seen[0].jwt);
}

#[tokio::test]
async fn mock_refuses_stale_and_future_dated_tokens() {
    // A relay whose clock is two hours slow signs tokens APNs calls expired.
    let apns = MockApns::start().await;
    let clock = Arc::new(ManualClock::at_system_time());
    clock.set_millis((now() - 7200) * 1000);
    let relay = relay_with_clock(&apns, clock.clone()).await;
    let a = relay
        .push_body(push_body(
            "apns",
            APNS_TOKEN,
            PAYLOAD,
            now() - 7200 + 30,
            None,
        ))
        .await;
    assert_eq!(a.json()["reason"], "ExpiredProviderToken", "{}", a.text);
    assert_eq!(
        apns.state
            .refused
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );

    // Ten minutes fast: the token is issued in the future.
    let apns = MockApns::start().await;
    let clock = Arc::new(ManualClock::new((now() + 600) * 1000));
    let relay = relay_with_clock(&apns, clock).await;
    let a = relay
        .push_body(push_body(
            "apns",
            APNS_TOKEN,
            PAYLOAD,
            now() + 600 + 30,
            None,
        ))
        .await;
    assert_eq!(a.json()["reason"], "InvalidProviderToken", "{}", a.text);
}

#[tokio::test]
async fn provider_token_is_refreshed_after_the_configured_age_without_sleeping() {
    let apns = MockApns::start().await;
    let start = now() - 3000;
    let clock = Arc::new(ManualClock::new(start * 1000));
    let relay = relay_with_clock(&apns, clock.clone()).await;
    let send = |t: u64| push_body("apns", APNS_TOKEN, PAYLOAD, t + 30, None);
    assert_eq!(
        relay.push_body(send(start)).await.json()["outcome"],
        "delivered"
    );
    clock.advance_seconds(39 * 60);
    assert_eq!(
        relay.push_body(send(start + 39 * 60)).await.json()["outcome"],
        "delivered"
    );
    clock.advance_seconds(60);
    assert_eq!(
        relay.push_body(send(start + 40 * 60)).await.json()["outcome"],
        "delivered"
    );
    let seen = apns.seen();
    assert_eq!(seen[0].jwt, seen[1].jwt, "reused at 39 minutes");
    assert_ne!(seen[1].jwt, seen[2].jwt, "refreshed at 40 minutes");
    assert_eq!(seen[2].iat, start + 40 * 60);
}

#[tokio::test]
async fn transient_errors_are_retried_until_delivered() {
    let (a, apns) = outcome_for(vec![
        Reply::Error(429, "TooManyRequests", None),
        Reply::Error(500, "InternalServerError", None),
        Reply::Error(503, "ServiceUnavailable", None),
    ])
    .await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    assert_eq!(apns.seen().len(), 4);
}

#[tokio::test]
async fn persistent_503_fails_after_max_attempts() {
    let (a, apns) = outcome_for(vec![Reply::Error(503, "ServiceUnavailable", None); 10]).await;
    assert_eq!(a.status, 502);
    assert_eq!(a.json()["outcome"], "failed");
    assert_eq!(a.json()["reason"], "ServiceUnavailable");
    assert_eq!(apns.seen().len(), 5);
}

#[tokio::test]
async fn retry_after_beyond_the_expiry_fails_at_once() {
    let apns = MockApns::start().await;
    apns.script([Reply::Error(429, "TooManyRequests", Some(60))]);
    let relay = TestRelay::with(Some(&apns), None).await;
    let started = Instant::now();
    let a = relay
        .push_body(push_body("apns", APNS_TOKEN, PAYLOAD, now() + 5, None))
        .await;
    assert_eq!(a.json()["outcome"], "failed");
    assert_eq!(a.json()["reason"], "TooManyRequests");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(apns.seen().len(), 1);
}

#[tokio::test]
async fn retry_after_within_the_expiry_is_honoured() {
    let apns = MockApns::start().await;
    apns.script([Reply::Error(503, "ServiceUnavailable", Some(1))]);
    let relay = TestRelay::with(Some(&apns), None).await;
    let started = Instant::now();
    let a = relay.push("apns", APNS_TOKEN).await;
    assert_eq!(a.json()["outcome"], "delivered");
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_timed_out_attempt_is_retried() {
    let (a, apns) = outcome_for(vec![Reply::Hang(Duration::from_secs(5))]).await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    assert_eq!(apns.seen().len(), 2);
}

#[tokio::test]
async fn a_dropped_connection_is_reopened_and_retried() {
    let (a, apns) = outcome_for(vec![Reply::Drop]).await;
    assert_eq!(a.json()["outcome"], "delivered", "{}", a.text);
    assert_eq!(apns.seen().len(), 2);
}

#[tokio::test]
async fn retries_stop_at_the_push_expiry() {
    let apns = MockApns::start().await;
    apns.script(vec![Reply::Hang(Duration::from_secs(30)); 10]);
    let relay = TestRelay::with(Some(&apns), None).await;
    let started = Instant::now();
    let a = relay
        .push_body(push_body("apns", APNS_TOKEN, PAYLOAD, now() + 2, None))
        .await;
    assert_eq!(a.json()["outcome"], "failed");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retries_are_counted_in_metrics() {
    let apns = MockApns::start().await;
    apns.script([Reply::Error(500, "InternalServerError", None)]);
    let relay = TestRelay::with(Some(&apns), None).await;
    relay.push("apns", APNS_TOKEN).await;
    let m = crate::support::client::get(relay.addr, "/metrics")
        .await
        .text;
    assert!(
        m.contains(r#"push_relay_retries_total{provider="apns",reason="InternalServerError"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"push_relay_outcomes_total{provider="apns",outcome="delivered",reason=""} 1"#),
        "{m}"
    );
}
