//! Two portal processes on one database, as behind a load balancer: a sign-in started on one
//! finishes on the other, and the TOTP lockout holds with the guesses spread over both. Then the
//! whole fleet: two relays joined over NATS in front of the two portals, a desktop streaming from
//! one relay while pushes arrive at the other, a replayed request refused by the other copy, and
//! NATS killed and restarted mid-test. With `ASSENT_TEST_POSTGRES` set (scripts/test.sh sets it
//! for its second run) the database is PostgreSQL, which is how a fleet runs; without it, both
//! processes share one SQLite file, which SQLite's locking makes just as strict on one machine.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use std::time::Duration;

use assent_e2e::fleet::{DirectStream, Fleet, Recorder};
use assent_e2e::{Browser, Device, PASSWORD, PortalProcess, Stack, apns_push, fcm_push, next_push};
use assent_protocol::PushConfig;

/// Enrolls `user` (password, then the QR's text) through `browser`.
async fn enrolled(browser: &Browser, user: &str) -> Device {
    enrolled_with(browser, user, apns_push(), "Fleet phone").await
}

/// Enrolls `user` through `browser` with the push address `push`.
async fn enrolled_with(browser: &Browser, user: &str, push: PushConfig, name: &str) -> Device {
    let page = browser.login(user, PASSWORD).await;
    assert_eq!(page.path, "/enroll", "{}", page.body);
    let qr = page.element("enrollment-uri").unwrap();
    Device::enroll(&qr, push, name).await.unwrap()
}

/// Signs `user` in with the password on the browser's portal; the number to type.
async fn sign_in(browser: &Browser, user: &str) -> String {
    let page = browser.login(user, PASSWORD).await;
    assert_eq!(page.path, "/login/push", "{}", page.body);
    page.element("number").unwrap()
}

/// Approves the pushed `payload` with `number`, sending the answer to `to` although the
/// challenge names `from` (the device's requests may land on either copy), and checks that
/// `browser`, its next request landing on `to`, sees the sign-in approved. Returns the browser
/// at `to`.
async fn approve(
    device: &mut Device,
    payload: &str,
    number: String,
    (from, to): (&PortalProcess, &PortalProcess),
    browser: &Browser,
) -> Browser {
    let challenge = device.open(payload);
    let response = assent_protocol::Response::Approve {
        number: Some(number),
        user_verified: true,
    };
    let request = device.answer_request(&challenge, &response);
    let url = request.url.replace(&from.url, &to.url);
    let reply = device.send_body(&url, &request.body).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "approved");
    let at_to = browser.at(&to.url);
    assert_eq!(at_to.settled_status().await["status"], "approved");
    at_to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_started_on_one_portal_finishes_on_the_other() {
    let stack = Stack::start(&[]).await;
    let other = stack.another_portal();
    stack.add_user("alice").await;
    let mut device = enrolled(&stack.browser(), "alice").await;
    let mut feed = stack.apns.deliveries();

    // The password on portal A; the push it sends is answered to portal B; the browser's next
    // requests land on B.
    let on_a = stack.browser();
    let page = on_a.login("alice", PASSWORD).await;
    assert_eq!(page.path, "/login/push", "{}", page.body);
    let number = page.element("number").unwrap();
    let challenge = device.open(&next_push(&mut feed, &device.push.token).await);
    let response = assent_protocol::Response::Approve {
        number: Some(number),
        user_verified: true,
    };
    let request = device.answer_request(&challenge, &response);
    let to_b = request.url.replace(&stack.portal.url, &other.url);
    assert_ne!(to_b, request.url, "the answer goes to the other copy");
    let reply = device.send_body(&to_b, &request.body).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "approved");

    let on_b = on_a.at(&other.url);
    let status = on_b.settled_status().await;
    assert_eq!(status["status"], "approved", "{status}");
    assert!(on_b.get("/").await.body.contains("Signed in as alice"));
    assert!(on_a.get("/").await.body.contains("Signed in as alice"));

    // The same answer replayed to A is refused: answer-once is the database's.
    let replay = device.send_body(&request.url, &request.body).await;
    assert_ne!(replay.status, 200, "{:?}", replay.body);
    // Signing out on A ends the session on B too.
    let form = on_a.get("/").await;
    on_a.post("/logout", &[("csrf", &form.csrf())]).await;
    assert!(!on_b.get("/").await.body.contains("Signed in as alice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_totp_lockout_holds_across_two_portals() {
    let stack = Stack::start(&[]).await;
    let other = stack.another_portal();
    stack.add_user("grace").await;
    let device = enrolled(&stack.browser(), "grace").await;

    // Four sign-ins past the password step (the push limit allows no more), two on each
    // portal, then forty wrong codes at
    // once, alternating between the portals.
    let mut forms = Vec::new();
    for i in 0..4 {
        let base = if i % 2 == 0 {
            &stack.portal.url
        } else {
            &other.url
        };
        let browser = Browser::new(base);
        let page = browser.login("grace", PASSWORD).await;
        assert_eq!(page.path, "/login/push", "{}", page.body);
        let form = browser.get("/login/totp").await;
        forms.push((browser, form.csrf()));
    }
    let right = device.totp();
    let start = Arc::new(tokio::sync::Barrier::new(40));
    let guesses: Vec<_> = (0..40)
        .map(|i| {
            let (browser, csrf) = forms[i % forms.len()].clone();
            let browser = if i % 2 == 0 {
                browser.at(&stack.portal.url)
            } else {
                browser.at(&other.url)
            };
            let mut code = format!("{:06}", 100_000 + i);
            if code == right {
                code = format!("{:06}", 200_000 + i);
            }
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                browser
                    .post("/login/totp", &[("csrf", &csrf), ("code", &code)])
                    .await
            })
        })
        .collect();
    let mut pages = Vec::new();
    for guess in guesses {
        pages.push(guess.await.unwrap());
    }
    assert!(
        pages.iter().all(|p| !p.body.contains("Signed in as")),
        "no wrong code signs in"
    );
    let (status, events) = stack.admin("users/grace/events", false).await;
    assert_eq!(status, 200);
    // The log lines are written after each attempt's transaction, so their order may differ
    // from the order the database settled the attempts in; their number and kinds may not.
    let mut checked: Vec<_> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "totp" && e["detail"] != "attempt while locked")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    checked.sort_unstable();
    assert_eq!(
        checked,
        ["failed", "failed", "failed", "failed", "locked"],
        "at most five codes are looked at, the fifth locks: {events}"
    );

    // Locked on both copies: the right code is refused, and so is a new sign-in.
    for (browser, csrf) in &forms {
        let page = browser
            .post("/login/totp", &[("csrf", csrf), ("code", &right)])
            .await;
        assert!(!page.body.contains("Signed in as"), "{}", page.body);
    }
    for base in [&stack.portal.url, &other.url] {
        let page = Browser::new(base).login("grace", PASSWORD).await;
        assert_eq!(page.status, 403, "{}", page.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_of_two_relays_over_nats_in_front_of_two_portals() {
    let mut fleet = Fleet::start(&[]).await;
    let (a, b) = (fleet.relay_a.base_url(), fleet.relay_b.base_url());
    fleet.add_user("dora").await;
    fleet.add_user("erin").await;
    fleet.add_user("finn").await;
    // Dora's desktop streams from relay B; Erin's phone is reached through APNs, Finn's
    // through FCM.
    let mut stream = DirectStream::open(&b).await;
    let mut desktop = enrolled_with(
        &fleet.browser(),
        "dora",
        stream.push_config(),
        "Dora's desktop",
    )
    .await;
    let mut phone = enrolled_with(&fleet.browser(), "erin", apns_push(), "Erin's phone").await;
    let mut apns = fleet.apns.deliveries();
    let mut android = enrolled_with(&fleet.browser(), "finn", fcm_push(), "Finn's phone").await;
    let mut fcm = fleet.fcm.deliveries();

    // Portal 1 pushes through relay A, which holds no stream for the token: it forwards the
    // push over NATS to B, which writes it to the desktop's stream. The answer goes to portal 2,
    // where the browser's next request lands.
    let browser = fleet.browser();
    let number = sign_in(&browser, "dora").await;
    let payload = stream.next().await;
    let on_2 = approve(
        &mut desktop,
        &payload,
        number,
        (&fleet.portal_1, &fleet.portal_2),
        &browser,
    )
    .await;
    assert!(on_2.get("/").await.body.contains("Signed in as dora"));
    let text = fleet.metrics(&a).await;
    assert!(
        text.contains(r#"push_relay_forwarded_total{outcome="delivered"} 1"#),
        "{text}"
    );
    let text = fleet.metrics(&b).await;
    assert!(
        text.contains(r#"push_relay_forwarded_answered_total{answer="delivered"} 1"#),
        "{text}"
    );

    // The signed request portal 1 sent relay A, replayed byte for byte: refused by the other
    // copy (the shared memory) and by A itself.
    let sent = fleet.recorder.seen();
    let pushed = sent
        .iter()
        .rev()
        .find(|r| r.path == "/v1/push" && r.status == 200)
        .expect("portal 1 pushed through relay A");
    assert!(
        pushed.headers.iter().any(|(k, _)| k == "assent-signature"),
        "the portal signs its relay requests"
    );
    for relay in [&b, &a] {
        let (status, body) = Recorder::replay(pushed, relay).await;
        assert_eq!(status, 401, "{relay}: {body}");
        assert_eq!(body["error"], "replayed_signature", "{relay}: {body}");
    }
    assert!(
        stream.quiet_for(Duration::from_millis(300)).await,
        "no replay reached the desktop"
    );
    // Unsigned, the same body is refused too: the tenant requires signatures.
    let mut unsigned = pushed.clone();
    unsigned.headers.retain(|(k, _)| k != "assent-signature");
    let (status, body) = Recorder::replay(&unsigned, &b).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("signature_required")),
        "{body}"
    );

    // NATS dies. Both copies say so and keep serving: APNs pushes through A, FCM pushes through
    // B, and each copy's own streams.
    fleet.nats.kill();
    for relay in [&a, &b] {
        fleet.until_readyz(relay, |t| t.contains("degraded")).await;
        let text = fleet.metrics(relay).await;
        assert!(text.contains("push_relay_nats_connected 0"), "{text}");
    }
    let browser = fleet.browser();
    let number = sign_in(&browser, "erin").await;
    let payload = next_push(&mut apns, &phone.push.token).await;
    approve(
        &mut phone,
        &payload,
        number,
        (&fleet.portal_1, &fleet.portal_1),
        &browser,
    )
    .await;
    let on_2 = Browser::new(&fleet.portal_2.url);
    let number = sign_in(&on_2, "finn").await;
    let payload = next_push(&mut fcm, &android.push.token).await;
    approve(
        &mut android,
        &payload,
        number,
        (&fleet.portal_1, &fleet.portal_2),
        &on_2,
    )
    .await;

    let on_2 = Browser::new(&fleet.portal_2.url);
    let number = sign_in(&on_2, "dora").await;
    let payload = stream.next().await;
    approve(
        &mut desktop,
        &payload,
        number,
        (&fleet.portal_1, &fleet.portal_2),
        &on_2,
    )
    .await;

    // A push that needs forwarding cannot be delivered meanwhile; the waiting page says so.
    let browser = fleet.browser();
    sign_in(&browser, "dora").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        let status = browser.push_status().await;
        if status.get("delivery").is_some() || std::time::Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status["status"], "pending", "{status}");
    assert_eq!(status["undelivered"], true, "{status}");
    assert!(stream.quiet_for(Duration::from_millis(300)).await);

    // NATS is back: both copies reconnect, B's stream is announced again, and a push through A
    // reaches the desktop once more.
    fleet.nats.restart().await;
    for relay in [&a, &b] {
        fleet.until_fully_ready(relay).await;
    }
    let browser = fleet.browser();
    let number = sign_in(&browser, "dora").await;
    let payload = stream.next().await;
    approve(
        &mut desktop,
        &payload,
        number,
        (&fleet.portal_1, &fleet.portal_2),
        &browser,
    )
    .await;
    let text = fleet.metrics(&a).await;
    assert!(
        text.contains(r#"push_relay_forwarded_total{outcome="delivered"} 2"#),
        "{text}"
    );
    assert!(text.contains("push_relay_nats_connected 1"), "{text}");
}
