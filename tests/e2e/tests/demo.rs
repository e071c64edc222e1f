//! The README's first command: `assent-demo` starts the portal and a relay, creates the demo
//! user and console account, and takes the portal's settings as `portal` does.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use assent_e2e::{Browser, bin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_starts_the_stack_with_the_demo_user_and_honours_portal_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Command::new(bin("assent-demo"))
        .args(["--dir", dir.path().to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--relay-listen", "127.0.0.1:0"])
        .args(["--issuer", "Demo Under Test"])
        .env("PORTAL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the demo printed its URLs").unwrap();
        if let Some(rest) = line.trim().strip_prefix("Portal") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let browser = Browser::new(&url);
    let page = browser.login("alice", "correct horse battery").await;
    assert_eq!(
        page.path, "/enroll",
        "the demo user exists and enrolls first"
    );
    let qr = page.element("enrollment-uri").unwrap();
    assert!(qr.contains("assent_token="), "{qr}");
    // A setting given on the command line reached the portal: the QR names the issuer.
    assert!(
        qr.contains("Demo%20Under%20Test") || qr.contains("Demo+Under+Test"),
        "{qr}"
    );
    let home = browser.get("/login").await;
    assert_eq!(home.status, 200);
    // The demo's console account signs in at /admin and, MFA required, enrolls first.
    let console = Browser::new(&url);
    let page = console
        .post(
            "/admin/login",
            &[
                ("username", "helpdesk"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(page.path, "/enroll", "{}", page.body);
    assert!(
        dir.path().join("portal.db").exists(),
        "the database is in the demo's folder"
    );
    demo.kill().unwrap();
    demo.wait().unwrap();

    let refused = Command::new(bin("assent-demo"))
        .args(["--relay-url", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
}
