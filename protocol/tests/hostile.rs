//! Hostile inputs: every message an attacker can craft or replay is refused, with the error
//! variant that names the attack. One test per attack, grouped by who is attacked.

#![allow(
    clippy::unwrap_used,
    reason = "in the helpers of a test as in the tests, an unwrap is an assertion"
)]

use assent_protocol::answer::{build_answer, verify_answer};
use assent_protocol::challenge::{build_challenge_with, open_challenge};
use assent_protocol::jws::{self, JwsError};
use assent_protocol::poll::{build_poll_with, verify_poll};
use assent_protocol::registration::{build_registration, verify_registration};
use assent_protocol::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::Value;

const NOW: u64 = 1_800_000_000;

struct World {
    portal: SoftwareSigner,
    device: SoftwareSigner,
    device_key: EncryptionKey,
}

fn world() -> World {
    World {
        portal: SoftwareSigner::from_bytes(&[9; 32]).unwrap(),
        device: SoftwareSigner::from_bytes(&[1; 32]).unwrap(),
        device_key: EncryptionKey::derive(&[2; 32]),
    }
}

fn device_id(w: &World) -> String {
    w.device.public_key().thumbprint()
}

fn content() -> ChallengeContent {
    ChallengeContent {
        purpose: Purpose::Login,
        context: LoginContext {
            user: "alice".into(),
            application: "Payroll".into(),
            ip: Some("203.0.113.7".into()),
            location: None,
            browser: None,
            os: None,
        },
        number_matching: Some(NumberMatching { digits: 2 }),
        user_verification: UserVerification::Required,
    }
}

fn challenge_jws(w: &World) -> String {
    build_challenge_with(
        &w.portal,
        &device_id(w),
        w.device_key.public_key(),
        &content(),
        NOW,
        [7; 16],
        &[8; 32],
    )
    .unwrap()
    .jws
}

fn open(w: &World, jws: &str, now: u64) -> Result<Challenge, ChallengeError> {
    open_challenge(
        jws,
        &w.portal.public_key(),
        &w.device_key,
        &device_id(w),
        now,
    )
}

fn answer_jws(w: &World, number: &str, now: u64) -> (Challenge, String) {
    let challenge = open(w, &challenge_jws(w), NOW).unwrap();
    let response = Response::Approve {
        number: Some(number.into()),
        user_verified: true,
    };
    let jws = build_answer(&w.device, &challenge, &response, now).unwrap();
    (challenge, jws)
}

fn pending(w: &World, challenge: &Challenge) -> PendingChallenge {
    PendingChallenge {
        id: challenge.id.clone(),
        device_id: device_id(w),
        device_signing_key: w.device.public_key(),
        challenge_hash: challenge.hash(),
        exp: challenge.exp,
        expected_number: Some("47".into()),
        user_verification: UserVerification::Required,
        answered: false,
    }
}

/// Decodes a JWS, lets `edit` change header and payload JSON, and signs it again with `signer`.
fn resign(jws: &str, signer: &dyn Signer, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
    let parts: Vec<&str> = jws.split('.').collect();
    let mut header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    let mut payload: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    edit(&mut header, &mut payload);
    jws::sign_bytes(
        &serde_json::to_vec(&header).unwrap(),
        &serde_json::to_vec(&payload).unwrap(),
        signer,
    )
    .unwrap()
}

// ---- the device, attacked through the relay or the push service ----

#[test]
fn forged_challenge_signature() {
    let w = world();
    let attacker = SoftwareSigner::from_bytes(&[66; 32]).unwrap();
    // Claims the portal's kid, signed by the attacker.
    let forged = resign(&challenge_jws(&w), &attacker, |_, p| {
        p["iat"] = (NOW + 1).into()
    });
    assert_eq!(open(&w, &forged, NOW), Err(ChallengeError::BadSignature));
}

#[test]
fn challenge_under_another_portal_key() {
    let w = world();
    let other_portal = SoftwareSigner::from_bytes(&[66; 32]).unwrap();
    let jws = build_challenge_with(
        &other_portal,
        &device_id(&w),
        w.device_key.public_key(),
        &content(),
        NOW,
        [7; 16],
        &[8; 32],
    )
    .unwrap()
    .jws;
    assert_eq!(open(&w, &jws, NOW), Err(ChallengeError::UnknownPortalKey));
}

#[test]
fn challenge_altered_in_transit() {
    let w = world();
    let jws = challenge_jws(&w);
    let (input, signature) = jws.rsplit_once('.').unwrap();
    let (header, payload) = input.split_once('.').unwrap();
    let mut bytes = B64.decode(payload).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 1;
    let altered = format!("{header}.{}.{signature}", B64.encode(bytes));
    assert_eq!(open(&w, &altered, NOW), Err(ChallengeError::BadSignature));
}

#[test]
fn challenge_expired_or_from_the_future() {
    let w = world();
    let jws = challenge_jws(&w);
    assert_eq!(
        open(&w, &jws, NOW + 91),
        Err(ChallengeError::Expired {
            exp: NOW + 60,
            now: NOW + 91
        })
    );
    assert_eq!(
        open(&w, &jws, NOW - 31),
        Err(ChallengeError::IssuedInFuture {
            iat: NOW,
            now: NOW - 31
        })
    );
}

#[test]
fn challenge_with_a_stretched_lifetime() {
    let w = world();
    let jws = resign(&challenge_jws(&w), &w.portal, |_, p| {
        p["exp"] = (NOW + 3600).into()
    });
    assert_eq!(open(&w, &jws, NOW), Err(ChallengeError::Invalid("exp")));
}

#[test]
fn challenge_for_another_device() {
    let w = world();
    let jws = challenge_jws(&w);
    let other = SoftwareSigner::from_bytes(&[5; 32])
        .unwrap()
        .public_key()
        .thumbprint();
    assert_eq!(
        open_challenge(&jws, &w.portal.public_key(), &w.device_key, &other, NOW),
        Err(ChallengeError::WrongDevice)
    );
}

#[test]
fn challenge_sealed_to_another_key() {
    let w = world();
    let other = EncryptionKey::derive(&[3; 32]);
    assert_eq!(
        open_challenge(
            &challenge_jws(&w),
            &w.portal.public_key(),
            &other,
            &device_id(&w),
            NOW
        ),
        Err(ChallengeError::Undecryptable)
    );
}

#[test]
fn tampered_ciphertext() {
    // Even the portal's own signature cannot make an altered ciphertext open.
    let w = world();
    let jws = resign(&challenge_jws(&w), &w.portal, |_, p| {
        let mut enc = B64.decode(p["enc"].as_str().unwrap()).unwrap();
        let i = enc.len() / 2;
        enc[i] ^= 0x80;
        p["enc"] = B64.encode(enc).into();
    });
    assert_eq!(open(&w, &jws, NOW), Err(ChallengeError::Undecryptable));
}

#[test]
fn swapped_aad_fields() {
    // A ciphertext moved under another id, device or time does not open: the aad binds them.
    let w = world();
    let original = challenge_jws(&w);
    let moved_id = resign(&original, &w.portal, |_, p| {
        p["id"] = B64.encode([6u8; 16]).into()
    });
    assert_eq!(open(&w, &moved_id, NOW), Err(ChallengeError::Undecryptable));
    let moved_time = resign(&original, &w.portal, |_, p| {
        p["iat"] = (NOW + 10).into();
        p["exp"] = (NOW + 70).into();
    });
    assert_eq!(
        open(&w, &moved_time, NOW),
        Err(ChallengeError::Undecryptable)
    );
}

#[test]
fn truncated_challenge() {
    let w = world();
    let jws = challenge_jws(&w);
    let (input, _) = jws.rsplit_once('.').unwrap();
    assert_eq!(
        open(&w, input, NOW),
        Err(ChallengeError::Malformed(JwsError::NotCompact))
    );
    let cut = &jws[..jws.len() - 20];
    assert!(matches!(
        open(&w, cut, NOW),
        Err(ChallengeError::BadSignature | ChallengeError::Malformed(JwsError::Base64(_)))
    ));
}

#[test]
fn oversized_challenge() {
    let w = world();
    let big = format!(
        "{}.{}.{}",
        "a".repeat(1000),
        "a".repeat(1990),
        "a".repeat(10)
    );
    assert_eq!(open(&w, &big, NOW), Err(ChallengeError::TooLarge));
}

#[test]
fn challenge_with_alg_none_or_hs256() {
    let w = world();
    for alg in ["none", "HS256"] {
        let jws = resign(&challenge_jws(&w), &w.portal, |h, _| h["alg"] = alg.into());
        assert_eq!(
            open(&w, &jws, NOW),
            Err(ChallengeError::Malformed(JwsError::UnsupportedAlgorithm(
                alg.into()
            )))
        );
        // And the unsigned form `header.payload.` too.
        let (input, _) = jws.rsplit_once('.').unwrap();
        assert_eq!(
            open(&w, &format!("{input}."), NOW),
            Err(ChallengeError::Malformed(JwsError::NotCompact))
        );
    }
}

#[test]
fn challenge_with_crit() {
    let w = world();
    let jws = resign(&challenge_jws(&w), &w.portal, |h, _| {
        h["crit"] = serde_json::json!(["b64"])
    });
    assert_eq!(
        open(&w, &jws, NOW),
        Err(ChallengeError::Malformed(JwsError::CriticalHeader))
    );
}

#[test]
fn challenge_with_non_canonical_base64() {
    let w = world();
    let jws = challenge_jws(&w);
    let (input, signature) = jws.rsplit_once('.').unwrap();
    let padded = format!("{input}.{signature}==");
    assert_eq!(
        open(&w, &padded, NOW),
        Err(ChallengeError::Malformed(JwsError::Base64("signature")))
    );
    let standard = jws.replace('-', "+").replace('_', "/");
    if standard != jws {
        assert!(matches!(
            open(&w, &standard, NOW),
            Err(ChallengeError::Malformed(JwsError::Base64(_)))
        ));
    }
}

#[test]
fn answer_offered_as_challenge() {
    let w = world();
    let (_, answer) = answer_jws(&w, "47", NOW);
    assert!(matches!(
        open(&w, &answer, NOW),
        Err(ChallengeError::Malformed(JwsError::WrongType { .. }))
    ));
}

// ---- the portal, attacked by a phisher, a thief or a replaced device ----

#[test]
fn forged_answer_signature() {
    let w = world();
    let (challenge, jws) = answer_jws(&w, "47", NOW);
    let attacker = SoftwareSigner::from_bytes(&[66; 32]).unwrap();
    let forged = resign(&jws, &attacker, |_, _| {});
    assert_eq!(
        verify_answer(&forged, &pending(&w, &challenge), NOW),
        Err(AnswerError::BadSignature)
    );
}

#[test]
fn replayed_answer() {
    let w = world();
    let (challenge, jws) = answer_jws(&w, "47", NOW);
    let mut state = pending(&w, &challenge);
    assert!(verify_answer(&jws, &state, NOW).is_ok());
    state.answered = true;
    assert_eq!(
        verify_answer(&jws, &state, NOW + 1),
        Err(AnswerError::AlreadyAnswered)
    );
}

#[test]
fn answer_replayed_for_another_challenge() {
    let w = world();
    let (_, jws) = answer_jws(&w, "47", NOW);
    let next = build_challenge_with(
        &w.portal,
        &device_id(&w),
        w.device_key.public_key(),
        &content(),
        NOW + 5,
        [8; 16],
        &[9; 32],
    )
    .unwrap();
    let next = open(&w, &next.jws, NOW + 5).unwrap();
    assert_eq!(
        verify_answer(&jws, &pending(&w, &next), NOW + 5),
        Err(AnswerError::WrongChallenge)
    );
}

#[test]
fn expired_answer() {
    let w = world();
    let (challenge, jws) = answer_jws(&w, "47", NOW + 61);
    assert_eq!(
        verify_answer(&jws, &pending(&w, &challenge), NOW + 61),
        Err(AnswerError::Expired {
            exp: NOW + 60,
            now: NOW + 61
        })
    );
}

#[test]
fn answer_from_the_future_or_past() {
    let w = world();
    let (challenge, jws) = answer_jws(&w, "47", NOW + 45);
    assert_eq!(
        verify_answer(&jws, &pending(&w, &challenge), NOW + 10),
        Err(AnswerError::ClockSkew {
            iat: NOW + 45,
            now: NOW + 10
        })
    );
}

#[test]
fn answer_from_a_replaced_device() {
    // The user enrolled a new phone; the old one still holds its key and answers.
    let w = world();
    let (challenge, jws) = answer_jws(&w, "47", NOW);
    let new_device = SoftwareSigner::from_bytes(&[4; 32]).unwrap();
    let state = PendingChallenge {
        device_id: new_device.public_key().thumbprint(),
        device_signing_key: new_device.public_key(),
        ..pending(&w, &challenge)
    };
    assert_eq!(
        verify_answer(&jws, &state, NOW),
        Err(AnswerError::WrongDevice)
    );
}

#[test]
fn answer_signed_by_another_device_claiming_the_id() {
    let w = world();
    let (challenge, jws) = answer_jws(&w, "47", NOW);
    let other = SoftwareSigner::from_bytes(&[4; 32]).unwrap();
    let resigned = resign(&jws, &other, |_, _| {});
    assert_eq!(
        verify_answer(&resigned, &pending(&w, &challenge), NOW),
        Err(AnswerError::BadSignature)
    );
    // Its own kid but the victim's device in the payload: still not the challenge's device.
    let own_kid = resign(&jws, &other, |h, _| {
        h["kid"] = other.public_key().thumbprint().into()
    });
    assert_eq!(
        verify_answer(&own_kid, &pending(&w, &challenge), NOW),
        Err(AnswerError::WrongDevice)
    );
}

#[test]
fn wrong_number() {
    let w = world();
    let (challenge, jws) = answer_jws(&w, "74", NOW);
    assert_eq!(
        verify_answer(&jws, &pending(&w, &challenge), NOW),
        Err(AnswerError::WrongNumber)
    );
}

#[test]
fn approval_without_number_or_user_verification() {
    let w = world();
    let (challenge, jws) = answer_jws(&w, "47", NOW);
    // Malformed approves are refused as malformed, not as a wrong number: they do not use the
    // challenge's single try up.
    let no_number = resign(&jws, &w.device, |_, p| {
        p.as_object_mut().unwrap().remove("number");
    });
    assert_eq!(
        verify_answer(&no_number, &pending(&w, &challenge), NOW),
        Err(AnswerError::Invalid("number"))
    );
    for odd in ["4", "470", "4a", " 47", ""] {
        let misshapen = resign(&jws, &w.device, |_, p| p["number"] = odd.into());
        assert_eq!(
            verify_answer(&misshapen, &pending(&w, &challenge), NOW),
            Err(AnswerError::Invalid("number")),
            "{odd:?}"
        );
    }
    let with_reason = resign(&jws, &w.device, |_, p| p["reason"] = "not_me".into());
    assert_eq!(
        verify_answer(&with_reason, &pending(&w, &challenge), NOW),
        Err(AnswerError::Invalid("reason"))
    );
    let no_uv = resign(&jws, &w.device, |_, p| p["user_verified"] = false.into());
    assert_eq!(
        verify_answer(&no_uv, &pending(&w, &challenge), NOW),
        Err(AnswerError::MissingUserVerification)
    );
}

#[test]
fn truncated_oversized_and_non_canonical_answers() {
    let w = world();
    let (challenge, jws) = answer_jws(&w, "47", NOW);
    let state = pending(&w, &challenge);
    let (input, signature) = jws.rsplit_once('.').unwrap();
    assert_eq!(
        verify_answer(input, &state, NOW),
        Err(AnswerError::Malformed(JwsError::NotCompact))
    );
    assert_eq!(
        verify_answer(&"a".repeat(4000), &state, NOW),
        Err(AnswerError::TooLarge)
    );
    assert_eq!(
        verify_answer(&format!("{input}.{signature}="), &state, NOW),
        Err(AnswerError::Malformed(JwsError::Base64("signature")))
    );
    // A DER-encoded signature (what a careless JOSE wrapper might emit) is not r ‖ s.
    let der = format!("{input}.{}", B64.encode([0x30u8; 71]));
    assert_eq!(
        verify_answer(&der, &state, NOW),
        Err(AnswerError::BadSignature)
    );
}

#[test]
fn answer_with_alg_none_or_hs256() {
    let w = world();
    let (challenge, jws) = answer_jws(&w, "47", NOW);
    for alg in ["none", "HS256"] {
        let bad = resign(&jws, &w.device, |h, _| h["alg"] = alg.into());
        assert_eq!(
            verify_answer(&bad, &pending(&w, &challenge), NOW),
            Err(AnswerError::Malformed(JwsError::UnsupportedAlgorithm(
                alg.into()
            )))
        );
    }
}

#[test]
fn challenge_offered_as_answer() {
    let w = world();
    let (challenge, _) = answer_jws(&w, "47", NOW);
    assert!(matches!(
        verify_answer(&challenge.jws, &pending(&w, &challenge), NOW),
        Err(AnswerError::Malformed(JwsError::WrongType { .. }))
    ));
}

#[test]
fn poll_replayed_late_forged_or_from_replaced_device() {
    let w = world();
    let jws = build_poll_with(&w.device, NOW, [5; 16]).unwrap();
    let key = w.device.public_key();
    let id = device_id(&w);
    assert_eq!(
        verify_poll(&jws, &id, &key, NOW + 31),
        Err(PollError::ClockSkew {
            iat: NOW,
            now: NOW + 31
        })
    );
    let attacker = SoftwareSigner::from_bytes(&[66; 32]).unwrap();
    assert_eq!(
        verify_poll(&resign(&jws, &attacker, |_, _| {}), &id, &key, NOW),
        Err(PollError::BadSignature)
    );
    let new_device = SoftwareSigner::from_bytes(&[4; 32]).unwrap();
    assert_eq!(
        verify_poll(
            &jws,
            &new_device.public_key().thumbprint(),
            &new_device.public_key(),
            NOW
        ),
        Err(PollError::WrongDevice)
    );
    assert_eq!(
        verify_poll(&"a".repeat(9000), &id, &key, NOW),
        Err(PollError::TooLarge)
    );
    // Within the window the portal sees the same nonce twice and refuses: the verifier hands it over.
    let first = verify_poll(&jws, &id, &key, NOW).unwrap();
    let again = verify_poll(&jws, &id, &key, NOW + 1).unwrap();
    assert_eq!(first.nonce, again.nonce);
}

#[test]
fn registration_attacks() {
    let w = world();
    let enrollment = PushEnrollment {
        portal_url: "https://portal.example.com".into(),
        token: EnrollmentToken::parse("AAECAwQFBgcICQoLDA0ODw").unwrap(),
        portal_key: w.portal.public_key(),
        expires_at: NOW + 600,
    };
    let push = PushConfig {
        transport: Transport::Direct,
        token: "stream-1".into(),
        environment: None,
        topic: None,
    };
    let jws = build_registration(
        &w.device,
        &enrollment,
        w.device_key.public_key(),
        Platform::Desktop,
        "laptop",
        Some(&push),
        NOW,
    )
    .unwrap();
    let kid = w.portal.public_key().thumbprint();
    let valid = |_: &str| TokenState::Valid {
        expires_at: NOW + 600,
    };
    // Someone swaps in their own encryption key without the device's signing key.
    let attacker = SoftwareSigner::from_bytes(&[66; 32]).unwrap();
    let swapped = resign(&jws, &attacker, |_, p| {
        p["encryption_key"] =
            serde_json::to_value(EncryptionKey::derive(&[6; 32]).public_key()).unwrap()
    });
    assert_eq!(
        verify_registration(&swapped, &kid, NOW, valid),
        Err(RegistrationError::BadSignature)
    );
    // A phisher relays the QR to their own portal: the pinned key does not match.
    let phisher = SoftwareSigner::from_bytes(&[67; 32])
        .unwrap()
        .public_key()
        .thumbprint();
    assert_eq!(
        verify_registration(&jws, &phisher, NOW, valid),
        Err(RegistrationError::WrongPortalKey)
    );
    // Replayed after use, or late.
    assert_eq!(
        verify_registration(&jws, &kid, NOW, |_| TokenState::Used),
        Err(RegistrationError::TokenUsed)
    );
    assert_eq!(
        verify_registration(&jws, &kid, NOW + 31, valid),
        Err(RegistrationError::ClockSkew {
            iat: NOW,
            now: NOW + 31
        })
    );
    // A private key in the header jwk is refused outright.
    let with_d = resign(&jws, &w.device, |h, _| h["jwk"]["d"] = "AAAA".into());
    assert!(matches!(
        verify_registration(&with_d, &kid, NOW, valid),
        Err(RegistrationError::Malformed(JwsError::Header(_)))
    ));
    // A device name the help desk would read backwards, or split over two lines (§2.5):
    // refused by the sender, and by the portal when a sender did not check.
    for hostile in [
        "laptop\u{202E}gnp.exe",
        "phone\u{2028}admin approved",
        "\u{2067}desk",
        "tab\there",
        "next\u{85}line",
    ] {
        let built = build_registration(
            &w.device,
            &enrollment,
            w.device_key.public_key(),
            Platform::Desktop,
            hostile,
            Some(&push),
            NOW,
        );
        assert_eq!(
            built,
            Err(RegistrationError::Invalid("name")),
            "{hostile:?}"
        );
        let renamed = resign(&jws, &w.device, |_, p| p["name"] = hostile.into());
        assert_eq!(
            verify_registration(&renamed, &kid, NOW, valid).map(|_| ()),
            Err(RegistrationError::Invalid("name")),
            "{hostile:?}"
        );
    }
}
