//! Test doubles shared by the integration tests and the `relay-load` example: the mock APNs and
//! FCM servers of the `push-mocks` crate (under their former module names) and helpers to run the
//! relay in-process.
#![allow(
    dead_code,
    unused_imports,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::result_large_err,
    clippy::field_reassign_with_default
)]

pub mod client;
pub mod relay;

pub use push_mocks::{apns as mock_apns, fcm as mock_fcm, nats, tls};
