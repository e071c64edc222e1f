//! The portal's registration verifier: never panic on arbitrary input; the token lookup is
//! reached only for well-formed, correctly signed registrations.
#![no_main]

use assent_protocol::registration::{TokenState, verify_registration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let _ = verify_registration(
        &raw,
        "OEurnbzOGbRad4qOD9lNK8VYMQGvg5cmLnVKeydAqL4",
        1_800_000_000,
        |_| TokenState::Valid {
            expires_at: 1_800_000_600,
        },
    );
});
