//! The QR's push parameters: never panic, and what is accepted round-trips.
#![no_main]

use assent_protocol::PushEnrollment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Lines of `name=value`, as authenticator-core hands over an otpauth URI's extra parameters.
    let params: Vec<(String, String)> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if let Ok(Some(enrollment)) = PushEnrollment::from_params(&params, 1_800_000_000) {
        let again: Vec<(String, String)> = enrollment
            .to_params()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let reparsed =
            PushEnrollment::from_params(&again, 1_800_000_000).expect("produced params parse");
        assert_eq!(
            reparsed,
            Some(enrollment),
            "round trip changed the enrollment"
        );
    }
});
