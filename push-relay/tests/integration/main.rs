//! Integration tests: the relay in-process against mock APNs and FCM over HTTP/2 + TLS.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod api;
mod apns;
mod direct;
mod fcm;
mod fleet;
mod mocks;
mod request_props;
