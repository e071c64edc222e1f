//! A minimal portal for the binding tests (Kotlin on the JVM, Python): the protocol crate's
//! portal side behind a line protocol on stdin/stdout, one JSON object per line.
//!
//! Commands: `{"cmd":"qr"}` → `{"qr"}`; `{"cmd":"register","body"}` → `{"response"}` (the
//! registration response carrying the activation); `{"cmd":"challenge","digits":2|null,
//! "purpose":"login"|"step_up"|"password_reset"|"activate"}` (purpose optional, login by default)
//! → `{"payload","number"}`; `{"cmd":"verify","body"}` → `{"ok":true,"decision"}` or
//! `{"error"}`. Time is the real clock.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test tool")]

use std::io::{BufRead, Write};

use assent_protocol::answer::verify_answer;
use assent_protocol::{NumberMatching, PendingChallenge, Purpose, Registration};
use assent_test_portal::TestPortal;
use serde_json::{Value, json};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn main() {
    let mut rng = assent_protocol::system_rng();
    let portal = TestPortal::new();
    let mut device: Option<Registration> = None;
    let mut pending: Option<PendingChallenge> = None;
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let request: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let reply = match request["cmd"].as_str().unwrap() {
            "qr" => json!({ "qr": portal.qr(now()) }),
            "register" => {
                match portal.verify_registration(request["body"].as_str().unwrap(), now()) {
                    Ok(registration) => {
                        let (jws, p) =
                            portal.challenge(&registration, Purpose::Activate, None, None, now());
                        pending = Some(p);
                        let body = json!({ "device_id": registration.device_id, "challenge": jws });
                        device = Some(registration);
                        json!({ "response": body.to_string() })
                    }
                    Err(e) => json!({ "error": e.to_string() }),
                }
            }
            "challenge" => {
                let digits = request["digits"].as_u64().map(|d| d as u8);
                let number = digits.map(|d| NumberMatching { digits: d }.generate(&mut rng));
                let registration = device.as_ref().unwrap();
                let purpose: Purpose = request["purpose"]
                    .as_str()
                    .unwrap_or("login")
                    .parse()
                    .unwrap();
                let (jws, p) =
                    portal.challenge(registration, purpose, digits, number.clone(), now());
                pending = Some(p);
                json!({ "payload": jws, "number": number })
            }
            "verify" => {
                let p = pending.as_mut().unwrap();
                match verify_answer(request["body"].as_str().unwrap(), p, now()) {
                    Ok(answer) => {
                        p.answered = true;
                        json!({ "ok": true, "decision": format!("{:?}", answer.decision) })
                    }
                    Err(e) => json!({ "error": e.to_string() }),
                }
            }
            other => json!({ "error": format!("unknown command {other}") }),
        };
        let mut out = stdout.lock();
        writeln!(out, "{reply}").unwrap();
        out.flush().unwrap();
    }
}
