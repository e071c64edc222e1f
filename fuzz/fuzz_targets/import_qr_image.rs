//! The importers must refuse any input with a typed error, never panic. This target is seeded
//! with the qr_image fixtures (fuzz/seeds/import_qr_image), so mutations stay near that format.
#![no_main]

use authenticator_core::import;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Without a password, encrypted exports stop after their header is parsed; with one, a
    // fuzzer would spend its time in scrypt/PBKDF2 rather than in our parsers.
    let _ = import::import(data, None);
});
