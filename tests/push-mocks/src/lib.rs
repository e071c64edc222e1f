//! Mock APNs and FCM servers for tests: HTTP/2 over TLS on loopback, checking what Apple and
//! Google check (provider-token and OAuth signatures, headers, message shape, sizes) and answering
//! as a test scripts them.
//!
//! The relay's own integration tests drive an in-process relay against them; end-to-end tests
//! (portal + relay + device) start the `push-relay` binary as a separate process pointed at them:
//!
//! ```no_run
//! # async fn example(relay_binary: &std::path::Path) {
//! let apns = push_mocks::MockApns::start().await;
//! let fcm = push_mocks::MockFcm::start().await;
//! let dir = std::env::temp_dir().join("relay-under-test");
//! std::fs::create_dir_all(&dir).unwrap();
//! let listen = push_mocks::free_loopback_addr();
//! let toml = push_mocks::relay_config_toml(&apns, &fcm, &dir, &listen.to_string(), "portal", "api-key");
//! std::fs::write(dir.join("relay.toml"), toml).unwrap();
//! let _relay = push_mocks::RelayProcess::start(relay_binary, &dir.join("relay.toml"), listen).await;
//! let mut delivered = apns.deliveries();
//! // ... the portal pushes through http://{listen}; then:
//! let push = delivered.recv().await.unwrap();
//! assert!(!push.payload.is_empty());
//! # }
//! ```
//!
//! A broken mock should stop the test at once, so this crate panics on its own setup failures.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test doubles: a mock that cannot start should fail the test loudly"
)]
#![allow(
    clippy::result_large_err,
    reason = "the checks return the HTTP answer the mock gives; size does not matter in a test"
)]

pub mod apns;
pub mod fcm;
mod feed;
pub mod nats;
mod relay_config;
mod relay_process;
pub mod tls;

pub use apns::MockApns;
pub use fcm::MockFcm;
pub use feed::Delivered;
pub use relay_config::{APNS_NAME, FCM_NAME, fleet_relay_config_toml, relay_config_toml};
pub use relay_process::{RelayProcess, free_loopback_addr};

/// The key under which the relay puts the opaque challenge, in the APNs payload and in the FCM
/// `message.data` (the relay's `push_relay::apns::PAYLOAD_KEY`; a relay test checks they agree).
pub const PAYLOAD_KEY: &str = "assent";
