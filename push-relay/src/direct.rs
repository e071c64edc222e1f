//! Direct delivery: a device without APNs/FCM (the `assent` CLI, a desktop) keeps a Server-Sent
//! Events stream open with a token it registered; a push for that token is written to the stream
//! at once.
//!
//! A stream lives in the copy of the relay the device connected to. Alone, a copy delivers only
//! to its own streams. In a fleet (a `[nats]` section, see [`crate::fleet`]) each stream is also
//! announced on NATS under its token's hash, and a push for a token with no stream here is
//! forwarded to the copy holding it, whose outcome it returns; a token streaming nowhere is
//! `NotConnected` either way.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::fleet::{Announcement, Answer, Fleet};
use crate::provider::{BoxFuture, Provider, ProviderError};
use crate::request::Push;

/// The reason of a push to a token with no open stream. A desktop that is offline now is not a
/// dead token: it reconnects and polls. `unregistered` would make the portal forget its push
/// address for good.
pub const NOT_CONNECTED: &str = "NotConnected";

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

/// The JSON of a push on a stream, which is also what one copy forwards to another: the
/// opaque payload, its expiry and collapse id, never the token (the subject names the stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamPush<'a> {
    /// The end-to-end encrypted challenge, as the tenant sent it.
    #[serde(borrow)]
    pub payload: Cow<'a, str>,
    /// Unix seconds after which the push is worthless.
    pub expires_at: u64,
    /// Lets a later push replace an undelivered earlier one.
    #[serde(borrow)]
    pub collapse_id: Option<Cow<'a, str>>,
}

impl<'a> StreamPush<'a> {
    /// The stream's view of `push`.
    pub fn of(push: &'a Push) -> Self {
        Self {
            payload: Cow::Borrowed(&push.payload),
            expires_at: push.expires_at,
            collapse_id: push.collapse_id.as_deref().map(Cow::Borrowed),
        }
    }

    fn event(&self) -> Option<Event> {
        serde_json::to_string(self).ok().map(Into::into)
    }
}

/// What came of writing to one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// Queued for the device.
    Queued,
    /// No stream for the token here, or it just closed.
    NoStream,
    /// The stream's queue is full.
    Backlogged,
}

struct Stream {
    id: u64,
    tx: mpsc::Sender<Event>,
    /// Its presence on NATS, in a fleet; dropping it ends the announcement.
    _announcement: Option<Announcement>,
}

/// The open streams, by token.
#[derive(Default)]
pub struct DirectHub {
    streams: Mutex<HashMap<String, Stream>>,
    next_id: std::sync::atomic::AtomicU64,
    /// The fleet this copy belongs to, set once at start when `[nats]` is configured.
    fleet: OnceLock<Arc<Fleet>>,
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
    /// Fires once the fleet has been told of the stream (absent when alone).
    announced: Option<oneshot::Receiver<()>>,
    /// Pushes for this device.
    pub rx: mpsc::Receiver<Event>,
}

impl Subscription {
    /// Waits, at most `limit`, until the stream's announcement has been sent to NATS, so that a
    /// push arriving at another copy afterwards finds it; returns at once for a lone copy.
    pub async fn announced(&mut self, limit: Duration) {
        if let Some(rx) = self.announced.take() {
            let _ = tokio::time::timeout(limit, rx).await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let removed = {
            let mut streams = self.hub.streams.lock().unwrap_or_else(|p| p.into_inner());
            if streams.get(&self.token).is_some_and(|s| s.id == self.id) {
                streams.remove(&self.token)
            } else {
                None
            }
        };
        drop(removed);
    }
}

impl DirectHub {
    /// Makes this hub's streams part of `fleet`: each stream opened from now on is announced
    /// on it, and pushes for streams not here are forwarded. Only the first call counts.
    pub fn join(&self, fleet: Arc<Fleet>) {
        let _ = self.fleet.set(fleet);
    }

    /// Opens a stream for `token`, replacing an older stream with the same token. In a fleet
    /// the stream is announced (must run inside the Tokio runtime).
    pub fn subscribe(self: &Arc<Self>, token: &str, queue: usize) -> Subscription {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (announcement, announced) = match self.fleet.get() {
            Some(fleet) => {
                let (a, ready) = fleet.announce(self, token, id);
                (Some(a), Some(ready))
            }
            None => (None, None),
        };
        let replaced = self
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                token.to_owned(),
                Stream {
                    id,
                    tx,
                    _announcement: announcement,
                },
            );
        drop(replaced);
        Subscription {
            hub: self.clone(),
            token: token.to_owned(),
            id,
            announced,
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

    /// Ends every stream (at shutdown), and with them their announcements.
    pub fn close_all(&self) {
        let all = std::mem::take(&mut *self.streams.lock().unwrap_or_else(|p| p.into_inner()));
        drop(all);
    }

    /// Writes a push another copy forwarded to the stream `id` of `token`; `None` when a newer
    /// stream replaced that one (its own announcement answers).
    pub fn deliver_forwarded(&self, token: &str, id: u64, request: &[u8]) -> Option<Answer> {
        let Ok(push) = serde_json::from_slice::<StreamPush<'_>>(request) else {
            return Some(Answer::Malformed);
        };
        let tx = {
            let streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            match streams.get(token) {
                Some(s) if s.id == id => s.tx.clone(),
                Some(_) => return None,
                None => return Some(Answer::NotConnected),
            }
        };
        let Some(event) = push.event() else {
            return Some(Answer::Malformed);
        };
        Some(match write(&tx, event) {
            Written::Queued => Answer::Delivered,
            Written::NoStream => Answer::NotConnected,
            Written::Backlogged => Answer::StreamBacklogged,
        })
    }

    fn send(&self, push: &Push) -> Result<Written, ProviderError> {
        let tx = {
            let streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            match streams.get(&push.device_token) {
                Some(s) => s.tx.clone(),
                None => return Ok(Written::NoStream),
            }
        };
        let event = StreamPush::of(push)
            .event()
            .ok_or_else(|| ProviderError::Failed("EncodingFailed".into()))?;
        Ok(write(&tx, event))
    }
}

fn write(tx: &mpsc::Sender<Event>, event: Event) -> Written {
    match tx.try_send(event) {
        Ok(()) => Written::Queued,
        Err(mpsc::error::TrySendError::Full(_)) => Written::Backlogged,
        Err(mpsc::error::TrySendError::Closed(_)) => Written::NoStream,
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
        Box::pin(async move {
            match self.hub.send(push)? {
                Written::Queued => Ok(None),
                Written::Backlogged => Err(ProviderError::Failed("StreamBacklogged".into())),
                Written::NoStream => match self.hub.fleet.get() {
                    Some(fleet) => fleet.forward(push).await,
                    None => Err(ProviderError::Failed(NOT_CONNECTED.into())),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(token: &str) -> Push {
        Push {
            platform: crate::request::Platform::Direct,
            device_token: token.to_owned(),
            payload: "UEFZTE9BRA".to_owned(),
            expires_at: 1_800_000_030,
            collapse_id: Some("login".to_owned()),
        }
    }

    #[test]
    fn a_forwarded_push_is_written_as_a_local_one_and_answered() {
        let hub = Arc::new(DirectHub::default());
        let token = new_token();
        let mut sub = hub.subscribe(&token, 1);
        let p = push(&token);
        let wire = serde_json::to_vec(&StreamPush::of(&p)).unwrap();
        // The token never travels: the subject names the stream.
        assert!(!String::from_utf8_lossy(&wire).contains(&token));
        assert_eq!(
            hub.deliver_forwarded(&token, sub.id, &wire),
            Some(Answer::Delivered)
        );
        let forwarded = sub.rx.try_recv().unwrap();
        assert_eq!(hub.send(&p), Ok(Written::Queued));
        assert_eq!(
            sub.rx.try_recv().unwrap(),
            forwarded,
            "same event either way"
        );
        // A full queue, a stream that went, and bytes that are no push.
        assert_eq!(hub.send(&p), Ok(Written::Queued));
        assert_eq!(
            hub.deliver_forwarded(&token, sub.id, &wire),
            Some(Answer::StreamBacklogged)
        );
        assert_eq!(
            hub.deliver_forwarded(&new_token(), 0, &wire),
            Some(Answer::NotConnected)
        );
        for junk in [
            &b"{}"[..],
            b"\"delivered\"",
            b"{\"payload\":\"x\",\"expires_at\":1,\"collapse_id\":null,\"device_token\":\"t\"}",
        ] {
            assert_eq!(
                hub.deliver_forwarded(&token, sub.id, junk),
                Some(Answer::Malformed)
            );
        }
    }

    #[test]
    fn a_replaced_stream_leaves_the_answer_to_its_successor() {
        let hub = Arc::new(DirectHub::default());
        let token = new_token();
        let old = hub.subscribe(&token, 4);
        let mut new = hub.subscribe(&token, 4);
        let wire = serde_json::to_vec(&StreamPush::of(&push(&token))).unwrap();
        assert_eq!(hub.deliver_forwarded(&token, old.id, &wire), None);
        assert_eq!(
            hub.deliver_forwarded(&token, new.id, &wire),
            Some(Answer::Delivered)
        );
        assert!(new.rx.try_recv().is_ok());
        // The old stream ending does not take the new one with it.
        drop(old);
        assert_eq!(hub.len(), 1);
        drop(new);
        assert!(hub.is_empty());
    }
}
