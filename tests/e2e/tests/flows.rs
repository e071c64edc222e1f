//! The product's flows end to end: the real portal and relay processes, mock APNs and FCM, and
//! devices built on authenticator-core. Time moves with the portal's test clock, never a sleep.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use assent_e2e::alerts::{AlertSink, WEBHOOK_SECRET};
use assent_e2e::{Browser, Device, PASSWORD, Stack, apns_push, decode_qr, fcm_push, next_push};
use assent_protocol::{DenyReason, Response};

/// A stack whose portal posts its alerts, signed, to a fresh [`AlertSink`].
async fn stack_with_alerts() -> (Stack, AlertSink) {
    let sink = AlertSink::start().await;
    let stack = Stack::start(&[
        "--alert-webhook",
        &sink.url,
        "--alert-webhook-secret",
        WEBHOOK_SECRET,
    ])
    .await;
    (stack, sink)
}

/// Checks that `alert` is a signed alert of `kind` about `user`.
fn assert_alert(alert: &assent_e2e::alerts::Received, kind: &str, user: &str) {
    assert!(alert.signed, "a valid signature: {alert:?}");
    assert_eq!(alert.body["alert"], kind, "{alert:?}");
    assert_eq!(alert.body["user"], user, "{alert:?}");
    assert_eq!(alert.body["portal"], "Assent Demo", "{alert:?}");
    assert!(alert.body["at"].as_u64().unwrap() > 1_700_000_000);
}

/// Signs `user` in for the first time, enrolls a device from the QR *image* on the page and
/// checks the page noticed. Returns the device and the signed-in browser.
async fn enroll(stack: &Stack, user: &str, push: assent_protocol::PushConfig) -> (Device, Browser) {
    let browser = stack.browser();
    let page = browser.login(user, PASSWORD).await;
    assert_eq!(
        page.path, "/enroll",
        "a user without MFA is sent to enrollment"
    );
    let text = page
        .element("enrollment-uri")
        .expect("the QR's text is on the page");
    let png = browser.bytes("/enroll/qr.png").await;
    let qr = decode_qr(&png);
    assert_eq!(qr, text, "the image and the text carry the same enrollment");
    assert!(qr.starts_with("otpauth://totp/") && qr.contains("assent=1"));
    let svg = browser.get("/enroll/qr.svg").await;
    assert!(svg.body.starts_with("<?xml") || svg.body.contains("<svg"));
    let status = browser.get("/enroll/status").await;
    assert!(status.body.contains("\"enrolled\":false"));
    let device = Device::enroll(&qr, push, "Test phone").await.unwrap();
    let status = browser.get("/enroll/status").await;
    assert!(status.body.contains("\"enrolled\":true"), "{}", status.body);
    let home = browser.get("/").await;
    assert!(
        home.body.contains("Signed in as"),
        "enrollment signs the session in"
    );
    (device, browser)
}

/// Signs in with the password; the portal pushes a login challenge. Returns the browser and
/// the number shown on the waiting page.
async fn login_push(stack: &Stack, user: &str) -> (Browser, Option<String>) {
    let browser = stack.browser();
    let page = browser.login(user, PASSWORD).await;
    assert_eq!(
        page.path, "/login/push",
        "an enrolled user gets a push: {}",
        page.body
    );
    (browser, page.element("number"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_push_login_approved_with_the_right_number() {
    let stack = Stack::start(&[]).await;
    stack.add_user("alice").await;
    let (mut device, _) = enroll(&stack, "alice", apns_push()).await;
    let mut feed = stack.apns.deliveries();

    let (browser, number) = login_push(&stack, "alice").await;
    let number = number.expect("number matching is on by default");
    assert_eq!(number.len(), 2);
    let payload = next_push(&mut feed, &device.push.token).await;
    let challenge = device.open(&payload);
    assert_eq!(challenge.content.context.user, "alice");
    assert_eq!(
        challenge.content.context.browser.as_deref(),
        Some("Firefox 140")
    );
    assert_eq!(challenge.content.context.ip.as_deref(), Some("127.0.0.1"));
    let reply = device.approve(&challenge, Some(&number)).await;
    assert_eq!(
        (reply.status, reply.body["status"].as_str()),
        (200, Some("approved"))
    );

    let status = browser.settled_status().await;
    assert_eq!(status["status"], "approved");
    assert_eq!(status["redirect"], "/");
    assert!(browser.get("/").await.body.contains("Signed in as alice"));
    let events = stack.events("alice").await;
    assert!(
        events.contains(&"push_login/approved".to_owned()),
        "{events:?}"
    );
    assert!(events.contains(&"session/signed_in".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_deny_and_deny_not_me() {
    let (stack, alerts) = stack_with_alerts().await;
    stack.add_user("bob").await;
    let (mut device, _) = enroll(&stack, "bob", fcm_push()).await;
    let mut feed = stack.fcm.deliveries();

    let (browser, _) = login_push(&stack, "bob").await;
    let challenge = device.open(&next_push(&mut feed, &device.push.token).await);
    let deny = Response::Deny {
        reason: Some(DenyReason::Cancelled),
        user_verified: false,
    };
    let reply = device.answer(&challenge, &deny).await;
    assert_eq!(reply.body["status"], "denied");
    let status = browser.settled_status().await;
    assert_eq!(status["status"], "denied");
    assert!(
        browser.get("/").await.path.starts_with("/login"),
        "no session after a deny"
    );

    let (browser, _) = login_push(&stack, "bob").await;
    let challenge = device.open(&next_push(&mut feed, &device.push.token).await);
    let not_me = Response::Deny {
        reason: Some(DenyReason::NotMe),
        user_verified: false,
    };
    assert_eq!(
        device.answer(&challenge, &not_me).await.body["status"],
        "denied"
    );
    let status = browser.settled_status().await;
    assert!(status["message"].as_str().unwrap().contains("not you"));
    // The help desk hears of it by another channel, with the address the sign-in came from;
    // the plain deny before it raised nothing.
    let alert = alerts.next().await;
    assert_alert(&alert, "not_me", "bob");
    assert_eq!(alert.body["ip"], "127.0.0.1");
    assert!(
        alert.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("a login request denied"),
        "{alert:?}"
    );
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("help desk has been notified")
    );
    let events = stack.events("bob").await;
    assert!(
        events.contains(&"push_login/denied".to_owned()),
        "{events:?}"
    );
    assert!(
        events.contains(&"push_login/suspicious".to_owned()),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_after_60_seconds_by_the_portal_clock() {
    let stack = Stack::start(&[]).await;
    stack.add_user("carol").await;
    let (mut device, _) = enroll(&stack, "carol", apns_push()).await;
    let mut feed = stack.apns.deliveries();
    let (browser, number) = login_push(&stack, "carol").await;
    let challenge = device.open(&next_push(&mut feed, &device.push.token).await);

    stack.advance_clock(59).await;
    assert_eq!(browser.push_status().await["status"], "pending");
    stack.advance_clock(2).await;
    let status = browser.push_status().await;
    assert_eq!(status["status"], "expired");
    // The device, whose clock is 61 s behind the portal's, still shows it (30 s grace); the
    // portal refuses the late answer with no grace.
    let reply = device.approve(&challenge, number.as_deref()).await;
    assert_eq!((reply.status, reply.error()), (410, Some("expired")));
    // Relative to the moved portal clock, this device is now 61 s slow: its polls are refused
    // until its clock is right.
    assert_eq!(device.poll().await.error(), Some("clock_skew"));
    assert!(
        stack
            .events("carol")
            .await
            .contains(&"push_login/expired".to_owned())
    );

    // "Send again" makes a fresh challenge.
    let page = browser.get("/login/push").await;
    let page = browser
        .post("/login/push/send", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(page.path, "/login/push");
    assert_eq!(browser.push_status().await["status"], "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_number_uses_up_the_challenge_and_replays_are_refused() {
    let stack = Stack::start(&[]).await;
    stack.add_user("dave").await;
    let (mut device, _) = enroll(&stack, "dave", apns_push()).await;
    let mut feed = stack.apns.deliveries();

    let (browser, number) = login_push(&stack, "dave").await;
    let number = number.unwrap();
    let challenge = device.open(&next_push(&mut feed, &device.push.token).await);
    let mut twin = device.twin();
    let wrong = if number == "00" { "01" } else { "00" };
    let reply = device.approve(&challenge, Some(wrong)).await;
    assert_eq!((reply.status, reply.error()), (403, Some("wrong_number")));
    assert_eq!(browser.settled_status().await["status"], "failed");

    // A second answer (even with the right number, from a device that forgot it answered)
    // is refused: one try.
    let reply = twin.approve(&challenge, Some(&number)).await;
    assert_eq!(
        (reply.status, reply.error()),
        (409, Some("already_answered"))
    );

    // Replaying an accepted answer byte for byte.
    let (browser, number) = login_push(&stack, "dave").await;
    let challenge = device.open(&next_push(&mut feed, &device.push.token).await);
    let request = device.answer_request(
        &challenge,
        &Response::Approve {
            number: number.clone(),
            user_verified: true,
        },
    );
    assert_eq!(device.send(&request).await.status, 200);
    let replay = device.send(&request).await;
    assert_eq!(
        (replay.status, replay.error()),
        (409, Some("already_answered"))
    );
    assert_eq!(browser.settled_status().await["status"], "approved");

    // Replaying a poll.
    let poll = device.poll_request();
    assert_eq!(device.send(&poll).await.status, 200);
    let replay = device.send(&poll).await;
    assert_eq!((replay.status, replay.error()), (409, Some("replay")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_enrollment_cuts_off_the_old_device() {
    let (stack, alerts) = stack_with_alerts().await;
    stack.add_user("erin").await;
    let (old, browser) = enroll(&stack, "erin", apns_push()).await;
    let mut feed = stack.apns.deliveries();

    // A login is waiting on the old device when the user enrolls a new one.
    let (_waiting, stale_number) = login_push(&stack, "erin").await;
    let stale = old.open(&next_push(&mut feed, &old.push.token).await);

    let page = browser.get("/enroll").await;
    assert!(page.body.contains("replaces your current one"));
    let qr = decode_qr(&browser.bytes("/enroll/qr.png").await);
    let mut new = Device::enroll(&qr, fcm_push(), "New phone").await.unwrap();

    let mut old = old;
    let reply = old.approve(&stale, stale_number.as_deref()).await;
    assert_eq!((reply.status, reply.error()), (401, Some("unknown_device")));
    let reply = old.poll().await;
    assert_eq!((reply.status, reply.error()), (401, Some("unknown_device")));

    let mut fcm_feed = stack.fcm.deliveries();
    let (browser, number) = login_push(&stack, "erin").await;
    let challenge = new.open(&next_push(&mut fcm_feed, &new.push.token).await);
    assert_eq!(new.approve(&challenge, number.as_deref()).await.status, 200);
    assert_eq!(browser.settled_status().await["status"], "approved");
    let events = stack.events("erin").await;
    assert!(
        events.contains(&"device_replaced/ok".to_owned()),
        "{events:?}"
    );
    let alert = alerts.next().await;
    assert_alert(&alert, "device_replaced", "erin");
    assert!(
        alert.body["detail"]
            .as_str()
            .unwrap()
            .contains("retired for New phone"),
        "{alert:?}"
    );
    assert!(
        alerts.pending().await.is_empty(),
        "the first enrollment raised nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reset_then_re_enroll_at_next_login() {
    let stack = Stack::start(&[]).await;
    stack.add_user("frank").await;
    let (device, signed_in) = enroll(&stack, "frank", apns_push()).await;
    let (waiting, _) = login_push(&stack, "frank").await;
    assert_eq!(
        device.poll().await.body["challenges"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let (status, user) = stack.admin("users/frank/reset-mfa", true).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            user["push_enrolled"].as_bool(),
            user["totp_enrolled"].as_bool()
        ),
        (Some(false), Some(false))
    );
    let reply = device.poll().await;
    assert_eq!((reply.status, reply.error()), (401, Some("unknown_device")));
    // The sign-in under way ends, and says why (nothing was denied).
    let status = waiting.push_status().await;
    assert_eq!(status["status"], "signed_out", "{status}");
    let message = status["message"].as_str().unwrap();
    assert!(message.contains("help desk reset"), "{message}");
    assert!(!message.contains("denied"), "{message}");
    // So does the session signed in through the phone that the reset retired.
    let home = signed_in.get("/").await;
    assert!(home.path.starts_with("/login"), "{}", home.path);
    assert!(!home.body.contains("Signed in as"));

    let page = stack.browser().login("frank", PASSWORD).await;
    assert_eq!(page.path, "/enroll", "after a reset the user enrolls again");
    assert!(
        stack
            .events("frank")
            .await
            .contains(&"admin/reset-mfa".to_owned())
    );

    let (status, users) = stack.admin("users", false).await;
    assert_eq!(status, 200);
    assert_eq!(users[0]["username"], "frank");
    let (status, _) = stack.admin("users/nobody/unlock", true).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_lockout_after_five_wrong_codes_and_unlock() {
    let (stack, alerts) = stack_with_alerts().await;
    stack.add_user("grace").await;
    let (device, _) = enroll(&stack, "grace", apns_push()).await;

    // A sign-in waiting for the phone elsewhere, which the lockout will end.
    let (elsewhere, _) = login_push(&stack, "grace").await;
    let browser = stack.browser();
    browser.login("grace", PASSWORD).await;
    let right = device.totp();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for attempt in 1..=4 {
        let page = browser.totp(wrong).await;
        assert_eq!(page.status, 401, "attempt {attempt}");
        let left = match 5 - attempt {
            1 => "1 attempt left".to_owned(),
            n => format!("{n} attempts left"),
        };
        assert!(
            page.body.contains(&left),
            "attempt {attempt}: {}",
            page.body
        );
    }
    let page = browser
        .post("/login/totp", &[("csrf", "x"), ("code", wrong)])
        .await;
    assert_eq!(page.status, 403, "a bad form is refused before counting");
    let form = browser.get("/login/totp").await;
    let page = browser
        .post("/login/totp", &[("csrf", &form.csrf()), ("code", wrong)])
        .await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("locked"));
    // The lockout ended the other sign-ins under way and withdrew their requests: the phone
    // no longer lists them.
    let status = elsewhere.push_status().await;
    assert_eq!(status["status"], "signed_out", "{status}");
    assert!(
        status["message"].as_str().unwrap().contains("locked"),
        "{status}"
    );
    let pending = device.poll().await;
    assert_eq!(
        pending.body["challenges"].as_array().map(Vec::len),
        Some(0),
        "{:?}",
        pending.body
    );

    // Locked: even the password is refused now, and the right code would not help.
    let page = stack.browser().login("grace", PASSWORD).await;
    assert_eq!(page.status, 403);
    let listing = stack.portal.cli(&["admin", "list"]);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("grace") && l.contains("yes")),
        "{listing}"
    );

    stack.portal.cli(&["admin", "unlock", "grace"]);
    let browser = stack.browser();
    browser.login("grace", PASSWORD).await;
    let page = browser.totp(&device.totp()).await;
    assert!(page.body.contains("Signed in as grace"), "{}", page.body);
    let events = stack.events("grace").await;
    assert!(events.contains(&"totp/locked".to_owned()), "{events:?}");
    assert!(events.contains(&"admin/unlock".to_owned()));
    let alert = alerts.next().await;
    assert_alert(&alert, "locked_out", "grace");
    assert!(
        alert.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("5 wrong codes"),
        "{alert:?}"
    );
    assert!(alerts.pending().await.is_empty(), "one alert per lockout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_410_drops_the_token_and_the_device_pulls() {
    let stack = Stack::start(&[]).await;
    stack.add_user("heidi").await;
    let (mut device, _) = enroll(&stack, "heidi", apns_push()).await;
    stack.apns.unregister(&device.push.token);

    let (browser, number) = login_push(&stack, "heidi").await;
    // The relay reports `unregistered`; the portal forgets the token.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let status = browser.push_status().await;
        if status["delivery"]
            .as_str()
            .is_some_and(|d| d.starts_with("unregistered"))
        {
            // The waiting page stops saying it is waiting: the phone did not get the request,
            // and the page offers to send it again.
            assert_eq!(status["status"], "pending");
            assert_eq!(status["undelivered"], true, "{status}");
            let message = status["message"].as_str().unwrap();
            assert!(message.contains("did not get the request"), "{message}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no delivery outcome: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        stack
            .events("heidi")
            .await
            .contains(&"push_token/dropped".to_owned())
    );

    // The device finds the challenge by polling and answers it.
    let reply = device.poll().await;
    let pending = reply.body["challenges"].as_array().unwrap();
    assert_eq!(pending.len(), 1);
    let challenge = device.open(pending[0].as_str().unwrap());
    assert_eq!(
        device.approve(&challenge, number.as_deref()).await.status,
        200
    );
    assert_eq!(browser.settled_status().await["status"], "approved");

    // The next login does not try the dead token.
    let seen = stack.apns.seen().len();
    let (browser, _) = login_push(&stack, "heidi").await;
    let status = browser.push_status().await;
    assert!(
        status["delivery"].as_str().unwrap().contains("polls"),
        "{status}"
    );
    assert_eq!(stack.apns.seen().len(), seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_up_deny_signs_out_and_password_reset_by_push() {
    let stack = Stack::start(&[]).await;
    stack.add_user("ivan").await;
    let (mut device, browser) = enroll(&stack, "ivan", apns_push()).await;
    let mut feed = stack.apns.deliveries();

    // Step-up approved.
    let page = browser.get("/protected").await;
    assert_eq!(page.path, "/login/push");
    let number = page.element("number");
    let challenge = device.open(&next_push(&mut feed, &device.push.token).await);
    assert_eq!(challenge.content.purpose, assent_protocol::Purpose::StepUp);
    assert_eq!(
        device.approve(&challenge, number.as_deref()).await.status,
        200
    );
    assert_eq!(browser.settled_status().await["redirect"], "/protected");
    assert!(
        browser
            .get("/protected")
            .await
            .body
            .contains("id=\"protected\"")
    );

    // A new session asks again; denied on the device: that session ends.
    let (other, number) = login_push(&stack, "ivan").await;
    let challenge = device.open(&next_push(&mut feed, &device.push.token).await);
    assert_eq!(
        device.approve(&challenge, number.as_deref()).await.status,
        200
    );
    assert_eq!(other.settled_status().await["status"], "approved");
    let page = other.get("/protected").await;
    assert_eq!(page.path, "/login/push");
    let challenge = device.open(&next_push(&mut feed, &device.push.token).await);
    let deny = Response::Deny {
        reason: None,
        user_verified: false,
    };
    device.answer(&challenge, &deny).await;
    assert_eq!(other.settled_status().await["status"], "signed_out");
    assert!(other.get("/").await.path.starts_with("/login"));
    assert!(
        browser.get("/").await.body.contains("Signed in as ivan"),
        "other sessions stay"
    );

    // Password reset approved by push.
    let reset = stack.browser();
    let page = reset.post("/reset", &[("username", "ivan")]).await;
    assert_eq!(page.path, "/login/push");
    let number = page.element("number");
    let challenge = device.open(&next_push(&mut feed, &device.push.token).await);
    assert_eq!(
        challenge.content.purpose,
        assent_protocol::Purpose::PasswordReset
    );
    assert_eq!(
        device.approve(&challenge, number.as_deref()).await.status,
        200
    );
    assert_eq!(reset.settled_status().await["redirect"], "/reset/new");
    let form = reset.get("/reset/new").await;
    let page = reset
        .post(
            "/reset/new",
            &[("csrf", &form.csrf()), ("password", "a brand new password")],
        )
        .await;
    assert!(page.body.contains("Password changed"));
    let page = stack.browser().login("ivan", "a brand new password").await;
    assert_eq!(page.path, "/login/push");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_per_user_are_rate_limited() {
    let stack = Stack::start(&["--push-limit", "3"]).await;
    stack.add_user("judy").await;
    let (_device, _) = enroll(&stack, "judy", apns_push()).await;
    let (browser, _) = login_push(&stack, "judy").await;
    for _ in 0..2 {
        let page = browser.get("/login/push").await;
        let page = browser
            .post("/login/push/send", &[("csrf", &page.csrf())])
            .await;
        assert_eq!(page.status, 200);
    }
    let page = browser.get("/login/push").await;
    let page = browser
        .post("/login/push/send", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(page.status, 429);
    assert!(page.body.contains("rate-limited"));
    assert!(
        stack
            .events("judy")
            .await
            .contains(&"push_login/rate_limited".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_restore_and_lifting_mfa_from_the_help_desk() {
    let stack = Stack::start(&[]).await;
    stack.add_user("kim").await;
    let (_device, signed_in) = enroll(&stack, "kim", apns_push()).await;

    let (status, user) = stack.admin("users/kim/suspend", true).await;
    assert_eq!((status, user["suspended"].as_bool()), (200, Some(true)));
    assert!(
        signed_in.get("/").await.path.starts_with("/login"),
        "suspending ends the user's sessions"
    );
    let page = stack.browser().login("kim", PASSWORD).await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("suspended"));

    stack.portal.cli(&["admin", "restore", "kim"]);
    assert_eq!(
        login_push(&stack, "kim").await.0.push_status().await["status"],
        "pending"
    );

    // MFA lifted for a while: the password alone signs in; required again: push again.
    let (_, user) = stack.admin("users/kim/remove-mfa", true).await;
    assert_eq!(user["mfa_required"], false);
    let page = stack.browser().login("kim", PASSWORD).await;
    assert!(page.body.contains("Signed in as kim"), "{}", page.body);
    stack.admin("users/kim/require-mfa", true).await;
    let page = stack.browser().login("kim", PASSWORD).await;
    assert_eq!(page.path, "/login/push");

    let listing = stack.portal.cli(&["admin", "events", "kim"]);
    for kind in ["suspend", "restore", "remove-mfa", "require-mfa"] {
        assert!(listing.contains(kind), "{kind} missing from\n{listing}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_desk_actions_are_alerted() {
    let (stack, alerts) = stack_with_alerts().await;
    stack.add_user("ivan").await;
    let (status, _) = stack.admin("users/ivan/suspend", true).await;
    assert_eq!(status, 200);
    let alert = alerts.next().await;
    assert_alert(&alert, "admin_action", "ivan");
    assert_eq!(alert.body["detail"], "suspend by admin-token", "{alert:?}");
    assert_eq!(
        alert.body["ip"], "127.0.0.1",
        "the script's address: {alert:?}"
    );
    let (status, _) = stack.admin("users/ivan/restore", true).await;
    assert_eq!(status, 200);
    assert_eq!(alerts.next().await.body["detail"], "restore by admin-token");
}
