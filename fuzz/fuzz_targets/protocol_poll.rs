//! The portal's poll and push-token verifiers: never panic on arbitrary input, and accept no
//! mutation of a valid poll.
#![no_main]

use std::sync::LazyLock;

use assent_protocol::poll::{build_poll_with, peek_device, verify_poll, verify_push_token_update};
use assent_protocol::{PublicJwk, Signer as _, SoftwareSigner};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_800_000_000;

/// Made once: a signature for every input would slow the fuzzer down.
static FIXTURE: LazyLock<(PublicJwk, String, String)> = LazyLock::new(|| {
    let device = SoftwareSigner::from_bytes(&[0x22; 32]).expect("valid scalar");
    let valid = build_poll_with(&device, NOW, [5; 16]).expect("builds");
    (device.public_key(), device.public_key().thumbprint(), valid)
});

fuzz_target!(|data: &[u8]| {
    let (key, id, valid) = &*FIXTURE;
    let raw = String::from_utf8_lossy(data);
    let _ = peek_device(&raw);
    let _ = verify_poll(&raw, id, key, NOW);
    let _ = verify_push_token_update(&raw, id, key, NOW);
    if let Some((&offset, rest)) = data.split_first() {
        let mut mutated = valid.clone().into_bytes();
        let start = usize::from(offset) * mutated.len() / 256;
        for (byte, x) in mutated[start..].iter_mut().zip(rest) {
            *byte ^= x;
        }
        if let Ok(text) = String::from_utf8(mutated) {
            if verify_poll(&text, id, key, NOW).is_ok() {
                assert_eq!(&text, valid, "a mutated poll was accepted");
            }
        }
    }
});
