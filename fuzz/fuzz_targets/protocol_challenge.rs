//! The device's challenge parser, fed arbitrary bytes and mutations of a valid challenge: never
//! panic, and never accept anything but the one valid challenge.
#![no_main]

use std::sync::LazyLock;

use assent_protocol::challenge::{build_challenge_with, open_challenge};
use assent_protocol::*;
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_800_000_000;

struct Fixture {
    portal: PublicJwk,
    key: EncryptionKey,
    device_id: String,
    content: ChallengeContent,
    valid: String,
}

/// Made once: signing and HPKE for every input would slow the fuzzer a hundredfold.
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
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
    let valid = build_challenge_with(
        &portal,
        &device_id,
        key.public_key(),
        &content,
        NOW,
        [7; 16],
        &[8; 32],
    )
    .expect("builds")
    .jws;
    Fixture {
        portal: portal.public_key(),
        key,
        device_id,
        content,
        valid,
    }
});

fuzz_target!(|data: &[u8]| {
    let f = &*FIXTURE;
    // The raw input, then the valid challenge with the input XORed over part of it.
    let raw = String::from_utf8_lossy(data);
    let _ = open_challenge(&raw, &f.portal, &f.key, &f.device_id, NOW);
    if let Some((&offset, rest)) = data.split_first() {
        let mut mutated = f.valid.clone().into_bytes();
        let start = usize::from(offset) * mutated.len() / 256;
        for (byte, x) in mutated[start..].iter_mut().zip(rest) {
            *byte ^= x;
        }
        if let Ok(text) = String::from_utf8(mutated) {
            if let Ok(challenge) = open_challenge(&text, &f.portal, &f.key, &f.device_id, NOW) {
                assert_eq!(text, f.valid, "a mutated challenge was accepted");
                assert_eq!(challenge.content, f.content);
            }
        }
    }
});
