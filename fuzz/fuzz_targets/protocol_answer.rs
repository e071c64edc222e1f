//! The portal's answer verifier: never panic on arbitrary input, and accept no mutation of a
//! valid answer.
#![no_main]

use std::sync::LazyLock;

use assent_protocol::answer::{build_answer, peek_answer, verify_answer};
use assent_protocol::challenge::{build_challenge_with, open_challenge};
use assent_protocol::*;
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_800_000_000;

/// Made once: signing and HPKE for every input would slow the fuzzer a hundredfold.
static FIXTURE: LazyLock<(PendingChallenge, String)> = LazyLock::new(|| {
    let portal = SoftwareSigner::from_bytes(&[0x11; 32]).expect("valid scalar");
    let device = SoftwareSigner::from_bytes(&[0x22; 32]).expect("valid scalar");
    let key = EncryptionKey::derive(&[0x33; 32]);
    let device_id = device.public_key().thumbprint();
    let content = ChallengeContent {
        purpose: Purpose::Login,
        context: LoginContext {
            user: "alice".into(),
            application: "Payroll".into(),
            ip: None,
            location: None,
            browser: None,
            os: None,
        },
        number_matching: Some(NumberMatching { digits: 2 }),
        user_verification: UserVerification::Required,
    };
    let built = build_challenge_with(
        &portal,
        &device_id,
        key.public_key(),
        &content,
        NOW,
        [7; 16],
        &[8; 32],
    )
    .expect("builds");
    let challenge =
        open_challenge(&built.jws, &portal.public_key(), &key, &device_id, NOW).expect("opens");
    let approve = Response::Approve {
        number: Some("47".into()),
        user_verified: true,
    };
    let valid = build_answer(&device, &challenge, &approve, NOW).expect("answers");
    let pending = PendingChallenge {
        id: built.id.clone(),
        device_id,
        device_signing_key: device.public_key(),
        challenge_hash: built.hash(),
        exp: built.exp,
        expected_number: Some("47".into()),
        user_verification: UserVerification::Required,
        answered: false,
    };
    (pending, valid)
});

fuzz_target!(|data: &[u8]| {
    let (pending, valid) = &*FIXTURE;
    let raw = String::from_utf8_lossy(data);
    let _ = verify_answer(&raw, pending, NOW);
    let _ = peek_answer(&raw);
    if let Some((&offset, rest)) = data.split_first() {
        let mut mutated = valid.clone().into_bytes();
        let start = usize::from(offset) * mutated.len() / 256;
        for (byte, x) in mutated[start..].iter_mut().zip(rest) {
            *byte ^= x;
        }
        if let Ok(text) = String::from_utf8(mutated) {
            if verify_answer(&text, pending, NOW).is_ok() {
                assert_eq!(&text, valid, "a mutated answer was accepted");
            }
        }
    }
});
