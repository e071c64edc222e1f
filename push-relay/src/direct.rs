//! Direct delivery: a device without APNs/FCM (the `assent` CLI, a desktop) keeps a Server-Sent
//! Events stream open with a token it registered; a push for that token is written to the stream
//! at once.
//!
//! Streams live in one relay process. An operator running several copies routes a device's
//! stream and its tenants' direct pushes to the same copy (for example by hashing the token at
//! the load balancer), or runs direct delivery on one copy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::provider::{BoxFuture, Provider, ProviderError};
use crate::request::Push;

/// Shortest and longest accepted direct token (base64url characters).
const TOKEN_CHARS: std::ops::RangeInclusive<usize> = 22..=128;

/// Whether `token` has the shape of a direct token: 22 to 128 base64url characters, which
/// leaves room for at least 128 bits of randomness.
pub fn is_valid_token(token: &str) -> bool {
    TOKEN_CHARS.contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new random token: 32 bytes from the operating system, base64url.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    crate::jwt::b64url(&b)
}

/// One push as written to a stream (an SSE `data:` line).
pub type Event = Arc<str>;

struct Stream {
    id: u64,
    tx: mpsc::Sender<Event>,
}

/// The open streams, by token.
#[derive(Default)]
pub struct DirectHub {
    streams: Mutex<HashMap<String, Stream>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for DirectHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirectHub(..)")
    }
}

/// Removes its stream from the hub when the device disconnects.
pub struct Subscription {
    hub: Arc<DirectHub>,
    token: String,
    id: u64,
    /// Pushes for this device.
    pub rx: mpsc::Receiver<Event>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut streams = self.hub.streams.lock().unwrap_or_else(|p| p.into_inner());
        if streams.get(&self.token).is_some_and(|s| s.id == self.id) {
            streams.remove(&self.token);
        }
    }
}

impl DirectHub {
    /// Opens a stream for `token`, replacing an older stream with the same token.
    pub fn subscribe(self: &Arc<Self>, token: &str, queue: usize) -> Subscription {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.to_owned(), Stream { id, tx });
        Subscription {
            hub: self.clone(),
            token: token.to_owned(),
            id,
            rx,
        }
    }

    /// Number of open streams.
    pub fn len(&self) -> usize {
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends every stream (at shutdown).
    pub fn close_all(&self) {
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn send(&self, push: &Push) -> Result<Option<String>, ProviderError> {
        let tx = {
            let streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            match streams.get(&push.device_token) {
                Some(s) => s.tx.clone(),
                // A desktop that is offline now is not a dead token: it reconnects and polls.
                // `unregistered` would make the portal forget its push address for good.
                None => return Err(ProviderError::Failed("NotConnected".into())),
            }
        };
        let event = serde_json::json!({
            "payload": push.payload,
            "expires_at": push.expires_at,
            "collapse_id": push.collapse_id,
        })
        .to_string();
        match tx.try_send(event.into()) {
            Ok(()) => Ok(None),
            Err(mpsc::error::TrySendError::Full(_)) => {
                Err(ProviderError::Failed("StreamBacklogged".into()))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Err(ProviderError::Failed("NotConnected".into()))
            }
        }
    }
}

/// The direct provider.
#[derive(Debug, Clone)]
pub struct Direct {
    hub: Arc<DirectHub>,
}

impl Direct {
    /// A provider writing to `hub`'s streams.
    pub fn new(hub: Arc<DirectHub>) -> Self {
        Self { hub }
    }
}

impl Provider for Direct {
    fn name(&self) -> &'static str {
        "direct"
    }

    fn attempt<'a>(
        &'a self,
        push: &'a Push,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
        Box::pin(async move { self.hub.send(push) })
    }
}
