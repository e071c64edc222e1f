//! A minimal portal for the binding tests (Kotlin on the JVM, Python): the protocol crate's
//! portal side behind a line protocol on stdin/stdout, one JSON object per line.
//!
//! Commands: `{"cmd":"qr"}` → `{"qr"}`; `{"cmd":"register","body"}` → `{"response"}` (the
//! registration response carrying the activation); `{"cmd":"challenge","digits":2|null}` →
//! `{"payload","number"}`; `{"cmd":"verify","body"}` → `{"ok":true,"decision"}` or
//! `{"error"}`. Time is the real clock.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test tool")]

use std::io::{BufRead, Write};

use assent_protocol::answer::verify_answer;
use assent_protocol::challenge::build_challenge;
use assent_protocol::registration::verify_registration;
use assent_protocol::{
    ChallengeContent, EnrollmentToken, LoginContext, NumberMatching, PendingChallenge, Purpose,
    PushEnrollment, Registration, Signer, SoftwareSigner, TokenState, UserVerification,
};
use authenticator_core::{Account, Algorithm, OtpParams, SecretBytes, uri};
use serde_json::{Value, json};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn main() {
    let mut rng = assent_protocol::system_rng();
    let portal = SoftwareSigner::generate(&mut rng);
    let token = EnrollmentToken::generate(&mut rng);
    let mut device: Option<Registration> = None;
    let mut pending: Option<PendingChallenge> = None;
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let request: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let reply = match request["cmd"].as_str().unwrap() {
            "qr" => {
                let account = Account {
                    issuer: "Acme".into(),
                    name: "alice@acme.test".into(),
                    otp: OtpParams::totp(Algorithm::Sha1, 6, 30).unwrap(),
                    secret: SecretBytes::new(b"12345678901234567890".to_vec()),
                };
                let enrollment = PushEnrollment {
                    portal_url: "https://portal.acme.test".into(),
                    token: token.clone(),
                    portal_key: portal.public_key(),
                    expires_at: now() + 600,
                };
                let params = enrollment.to_params();
                let extra: Vec<(&str, &str)> =
                    params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                json!({ "qr": uri::to_uri_with(&account, &extra).as_str() })
            }
            "register" => {
                let expected = token.expose().to_owned();
                match verify_registration(
                    request["body"].as_str().unwrap(),
                    &portal.public_key().thumbprint(),
                    now(),
                    |t| {
                        if t == expected {
                            TokenState::Valid {
                                expires_at: now() + 600,
                            }
                        } else {
                            TokenState::Unknown
                        }
                    },
                ) {
                    Ok(registration) => {
                        let (jws, p) =
                            challenge(&portal, &registration, Purpose::Activate, None, &mut rng);
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
                let registration = device.as_ref().unwrap();
                let (jws, p) = challenge(&portal, registration, Purpose::Login, digits, &mut rng);
                let number = p.expected_number.clone();
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

fn challenge(
    portal: &SoftwareSigner,
    device: &Registration,
    purpose: Purpose,
    digits: Option<u8>,
    rng: &mut impl rand_core::CryptoRng,
) -> (String, PendingChallenge) {
    let content = ChallengeContent {
        purpose,
        context: LoginContext {
            user: "alice@acme.test".into(),
            application: "Acme Mail".into(),
            ip: Some("203.0.113.7".into()),
            location: Some("Lyon, FR".into()),
            browser: Some("Firefox".into()),
            os: Some("Linux".into()),
        },
        number_matching: digits.map(|digits| NumberMatching { digits }),
        user_verification: UserVerification::Preferred,
    };
    let built = build_challenge(
        portal,
        &device.device_id,
        &device.encryption_key,
        &content,
        now(),
        rng,
    )
    .unwrap();
    let number = digits.map(|d| NumberMatching { digits: d }.generate(rng));
    let pending = PendingChallenge {
        id: built.id.clone(),
        device_id: device.device_id.clone(),
        device_signing_key: device.signing_key.clone(),
        challenge_hash: built.hash(),
        exp: built.exp,
        expected_number: number,
        user_verification: UserVerification::Preferred,
        answered: false,
    };
    (built.jws, pending)
}
