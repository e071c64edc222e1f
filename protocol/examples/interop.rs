//! A line-oriented driver for the interop tests in tests/interop: reads one JSON command per
//! line on stdin, writes one JSON result per line on stdout. Private keys travel as base64url
//! scalars (32 bytes); this is a test tool, never a way to handle real keys.

use std::io::{BufRead, Write};

use assent_protocol::answer::{build_answer, verify_answer};
use assent_protocol::challenge::{build_challenge_with, open_challenge};
use assent_protocol::poll::{build_poll_with, verify_poll};
use assent_protocol::registration::{build_registration, verify_registration};
use assent_protocol::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

type Result<T> = std::result::Result<T, String>;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let result = serde_json::from_str::<Value>(&line)
            .map_err(|e| e.to_string())
            .and_then(|command| run(&command))
            .unwrap_or_else(|error| json!({ "error": error }));
        writeln!(stdout, "{result}")?;
        stdout.flush()?;
    }
    Ok(())
}

fn field<'a>(command: &'a Value, name: &str) -> Result<&'a Value> {
    command.get(name).ok_or_else(|| format!("missing {name}"))
}

fn text<'a>(command: &'a Value, name: &str) -> Result<&'a str> {
    field(command, name)?
        .as_str()
        .ok_or_else(|| format!("{name} is not a string"))
}

fn number(command: &Value, name: &str) -> Result<u64> {
    field(command, name)?
        .as_u64()
        .ok_or_else(|| format!("{name} is not a number"))
}

fn bytes<const N: usize>(command: &Value, name: &str) -> Result<[u8; N]> {
    let decoded = B64
        .decode(text(command, name)?)
        .map_err(|e| e.to_string())?;
    decoded
        .try_into()
        .map_err(|_| format!("{name} is not {N} bytes"))
}

fn parse<T: serde::de::DeserializeOwned>(command: &Value, name: &str) -> Result<T> {
    serde_json::from_value(field(command, name)?.clone()).map_err(|e| format!("{name}: {e}"))
}

fn signer(command: &Value, name: &str) -> Result<SoftwareSigner> {
    SoftwareSigner::from_bytes(&bytes(command, name)?)
        .ok_or_else(|| format!("{name} is not a scalar"))
}

fn encryption_key(command: &Value, name: &str) -> Result<EncryptionKey> {
    EncryptionKey::from_bytes(&bytes(command, name)?)
        .ok_or_else(|| format!("{name} is not a scalar"))
}

fn debug(error: impl std::fmt::Debug) -> String {
    format!("{error:?}")
}

fn run(command: &Value) -> Result<Value> {
    match text(command, "cmd")? {
        // Keys and ids.
        "public_key" => {
            let signer = signer(command, "key")?;
            Ok(json!({ "jwk": signer.public_key(), "kid": signer.public_key().thumbprint() }))
        }
        "encryption_public_key" => {
            let key = encryption_key(command, "key")?;
            Ok(json!({ "jwk": key.public_key(), "kid": key.public_key().thumbprint() }))
        }
        // Device side.
        "parse_enrollment" => {
            let params: Vec<(String, String)> = parse(command, "params")?;
            match PushEnrollment::from_params(&params, number(command, "now")?).map_err(debug)? {
                None => Ok(json!({ "enrollment": null })),
                Some(e) => Ok(json!({ "enrollment": {
                    "portal_url": e.portal_url,
                    "portal_key": e.portal_key,
                    "portal_key_id": e.portal_key_id(),
                    "expires_at": e.expires_at,
                }})),
            }
        }
        "register" => {
            let params: Vec<(String, String)> = parse(command, "params")?;
            let now = number(command, "now")?;
            let enrollment = PushEnrollment::from_params(&params, now)
                .map_err(debug)?
                .ok_or("not a push enrollment")?;
            let jws = build_registration(
                &signer(command, "signing_key")?,
                &enrollment,
                encryption_key(command, "encryption_key")?.public_key(),
                parse(command, "platform")?,
                text(command, "name")?,
                parse::<Option<PushConfig>>(command, "push")?.as_ref(),
                now,
            )
            .map_err(debug)?;
            Ok(json!({ "jws": jws }))
        }
        "open_challenge" => {
            let challenge = open(command)?;
            Ok(json!({
                "id": challenge.id,
                "iat": challenge.iat,
                "exp": challenge.exp,
                "content": challenge.content,
                "hash": challenge.hash(),
            }))
        }
        "answer" => {
            let challenge = open(command)?;
            let response = match text(command, "decision")? {
                "approve" => Response::Approve {
                    number: command
                        .get("number")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    user_verified: command
                        .get("user_verified")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                },
                _ => Response::Deny {
                    reason: Some(DenyReason::NotMe),
                    user_verified: false,
                },
            };
            let jws = build_answer(
                &signer(command, "signing_key")?,
                &challenge,
                &response,
                number(command, "now")?,
            )
            .map_err(debug)?;
            Ok(json!({ "jws": jws }))
        }
        "poll" => {
            let jws = build_poll_with(
                &signer(command, "signing_key")?,
                number(command, "now")?,
                bytes(command, "nonce")?,
            )
            .map_err(debug)?;
            Ok(json!({ "jws": jws }))
        }
        // Portal side.
        "enrollment_params" => {
            let enrollment = PushEnrollment {
                portal_url: text(command, "url")?.to_owned(),
                token: EnrollmentToken::parse(text(command, "token")?).ok_or("bad token")?,
                portal_key: signer(command, "portal_key")?.public_key(),
                expires_at: number(command, "exp")?,
            };
            Ok(json!({ "params": enrollment.to_params() }))
        }
        "verify_registration" => {
            let token = text(command, "token")?.to_owned();
            let expires_at = number(command, "token_expires_at")?;
            let r = verify_registration(
                text(command, "jws")?,
                text(command, "portal_key_id")?,
                number(command, "now")?,
                |t| {
                    if t == token {
                        TokenState::Valid { expires_at }
                    } else {
                        TokenState::Unknown
                    }
                },
            )
            .map_err(debug)?;
            Ok(json!({
                "device_id": r.device_id,
                "signing_key": r.signing_key,
                "encryption_key": r.encryption_key,
                "platform": r.platform,
                "name": r.name,
                "push": r.push,
            }))
        }
        "build_challenge" => {
            let built = build_challenge_with(
                &signer(command, "portal_key")?,
                text(command, "device_id")?,
                &parse::<PublicJwk>(command, "encryption_key")?,
                &parse::<ChallengeContent>(command, "content")?,
                number(command, "now")?,
                bytes(command, "id")?,
                &bytes(command, "ephemeral_ikm")?,
            )
            .map_err(debug)?;
            Ok(
                json!({ "jws": built.jws, "id": built.id, "iat": built.iat, "exp": built.exp, "hash": built.hash() }),
            )
        }
        "verify_answer" => {
            let pending = PendingChallenge {
                id: text(command, "id")?.to_owned(),
                device_id: text(command, "device_id")?.to_owned(),
                device_signing_key: parse(command, "device_signing_key")?,
                challenge_hash: text(command, "challenge_hash")?.to_owned(),
                exp: number(command, "exp")?,
                expected_number: command
                    .get("expected_number")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                user_verification: parse(command, "user_verification")?,
                answered: command
                    .get("answered")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            };
            let answer = verify_answer(text(command, "jws")?, &pending, number(command, "now")?)
                .map_err(debug)?;
            Ok(json!({
                "challenge": answer.challenge,
                "device_id": answer.device_id,
                "decision": answer.decision,
                "user_verified": answer.user_verified,
                "reason": answer.reason,
            }))
        }
        "verify_poll" => {
            let poll = verify_poll(
                text(command, "jws")?,
                text(command, "device_id")?,
                &parse(command, "device_signing_key")?,
                number(command, "now")?,
            )
            .map_err(debug)?;
            Ok(json!({ "device_id": poll.device_id, "iat": poll.iat, "nonce": poll.nonce }))
        }
        other => Err(format!("unknown command {other}")),
    }
}

fn open(command: &Value) -> Result<Challenge> {
    open_challenge(
        text(command, "jws")?,
        &parse::<PublicJwk>(command, "portal_key")?,
        &encryption_key(command, "encryption_key")?,
        text(command, "device_id")?,
        number(command, "now")?,
    )
    .map_err(debug)
}
