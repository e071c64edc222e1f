//! Google Authenticator's migration decoder: the fuzz input is the protobuf payload itself,
//! wrapped in an `otpauth-migration://offline?data=` URI as the importer receives it.
#![no_main]

use authenticator_core::import;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let uri = format!("otpauth-migration://offline?data={}", encoded.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D"));
    let _ = import::import(uri.as_bytes(), None);
});
