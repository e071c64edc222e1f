//! Two portal processes on one database, as behind a load balancer: a sign-in started on one
//! finishes on the other, and the TOTP lockout holds with the guesses spread over both. With
//! `ASSENT_TEST_POSTGRES` set (scripts/test.sh sets it for its second run) the database is
//! PostgreSQL, which is how a fleet runs; without it, both processes share one SQLite file,
//! which SQLite's locking makes just as strict on one machine.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use assent_e2e::{Browser, Device, PASSWORD, Stack, apns_push, next_push};

/// Enrolls `user` (password, then the QR's text) through `browser`.
async fn enrolled(browser: &Browser, user: &str) -> Device {
    let page = browser.login(user, PASSWORD).await;
    assert_eq!(page.path, "/enroll", "{}", page.body);
    let qr = page.element("enrollment-uri").unwrap();
    Device::enroll(&qr, apns_push(), "Fleet phone")
        .await
        .unwrap()
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
