//! Property tests of the request parser: it never panics, accepts every well-formed request
//! (base64url or compact JWS payloads), refuses payloads outside that alphabet, and never echoes
//! input in its errors.

use proptest::prelude::*;
use push_relay::request::{MAX_PAYLOAD_CHARS, Platform, Push};

const NOW: u64 = 1_800_000_000;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Push::parse(&bytes, NOW);
    }

    #[test]
    fn arbitrary_json_values_never_panic_nor_echo(
        platform in "[a-z]{0,8}",
        token in "\\PC{0,80}",
        payload in "\\PC{0,80}",
        expires in any::<u64>(),
        collapse in proptest::option::of("\\PC{0,80}"),
    ) {
        let body = serde_json::json!({"platform": platform, "device_token": token, "payload": payload,
            "expires_at": expires, "collapse_id": collapse}).to_string();
        if let Err(e) = Push::parse(body.as_bytes(), NOW) {
            let msg = e.to_string();
            if token.len() > 3 { prop_assert!(!msg.contains(&token)); }
            if payload.len() > 3 { prop_assert!(!msg.contains(&payload)); }
        }
    }

    #[test]
    fn well_formed_requests_are_accepted(
        platform in prop_oneof![Just("apns"), Just("fcm"), Just("direct")],
        token_bytes in proptest::collection::vec(any::<u8>(), 16..64),
        payload_bytes in proptest::collection::vec(any::<u8>(), 1..(MAX_PAYLOAD_CHARS * 3 / 4)),
        ahead in 1u64..=60,
        collapse in proptest::option::of("[ -~]{1,64}"),
    ) {
        let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
        let token = match platform {
            "apns" => token_bytes.iter().map(|b| format!("{b:02x}")).collect(),
            _ => b64(&token_bytes),
        };
        let payload = b64(&payload_bytes);
        let body = serde_json::json!({"platform": platform, "device_token": token, "payload": payload,
            "expires_at": NOW + ahead, "collapse_id": collapse}).to_string();
        let push = Push::parse(body.as_bytes(), NOW).unwrap();
        prop_assert_eq!(push.device_token, token);
        prop_assert_eq!(push.payload, payload);
        prop_assert_eq!(push.expires_at, NOW + ahead);
        prop_assert_eq!(push.collapse_id, collapse);
        prop_assert!(matches!(push.platform, Platform::Apns | Platform::Fcm | Platform::Direct));
    }

    #[test]
    fn compact_jws_payloads_are_carried_unchanged(
        segments in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..600), 3..=5),
    ) {
        let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
        let jws = segments.iter().map(|s| b64(s)).collect::<Vec<_>>().join(".");
        let body = serde_json::json!({"platform": "direct", "device_token": push_relay::direct::new_token(),
            "payload": jws, "expires_at": NOW + 30}).to_string();
        match Push::parse(body.as_bytes(), NOW) {
            Ok(push) => prop_assert_eq!(push.payload, jws),
            Err(e) => {
                prop_assert!(jws.len() > MAX_PAYLOAD_CHARS);
                prop_assert_eq!(e.code(), "payload_too_large");
            }
        }
    }

    #[test]
    fn payloads_outside_the_alphabet_are_refused(
        prefix in "[A-Za-z0-9_.-]{0,40}",
        bad in "[^A-Za-z0-9_.-]",
        suffix in "[A-Za-z0-9_.-]{0,40}",
    ) {
        let payload = format!("{prefix}{bad}{suffix}");
        let body = serde_json::json!({"platform": "direct", "device_token": push_relay::direct::new_token(),
            "payload": payload, "expires_at": NOW + 30}).to_string();
        prop_assert_eq!(Push::parse(body.as_bytes(), NOW).unwrap_err().code(), "invalid_payload");
    }
}
