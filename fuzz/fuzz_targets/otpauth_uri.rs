//! The otpauth URI parser must never panic, and what it accepts must round-trip.
#![no_main]

use authenticator_core::uri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(account) = uri::parse(text) {
        let produced = uri::to_uri(&account);
        let again = uri::parse(&produced).expect("a produced URI parses");
        assert_eq!(again, account, "round trip changed the account");
        let _ = account.code(1_700_000_000);
    }
});
