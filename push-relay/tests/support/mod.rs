//! Test doubles shared by the integration tests and the `relay-load` example: mock APNs and FCM
//! servers that check what Apple and Google check, and helpers to run the relay in-process.
#![allow(
    dead_code,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::result_large_err,
    clippy::field_reassign_with_default
)]

pub mod client;
pub mod mock_apns;
pub mod mock_fcm;
pub mod relay;
pub mod tls;
