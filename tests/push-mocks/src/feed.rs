//! The feed of accepted notifications a test (or a simulated device) reads as they arrive.

use std::sync::Mutex;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// A notification a mock accepted and answered 200 to: what a device would receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The device token it was addressed to.
    pub token: String,
    /// The opaque challenge string the relay carried, exactly as the tenant sent it.
    pub payload: String,
    /// What the app on the device is handed: the APNs payload (iOS's `userInfo`), or the FCM
    /// message's `data` (Android's `RemoteMessage.data`).
    pub received: serde_json::Value,
}

/// Subscribers to a mock's deliveries; each gets every delivery made after it subscribed.
#[derive(Default)]
pub(crate) struct Feed {
    subscribers: Mutex<Vec<UnboundedSender<Delivered>>>,
}

impl Feed {
    pub(crate) fn subscribe(&self) -> UnboundedReceiver<Delivered> {
        let (tx, rx) = unbounded_channel();
        self.subscribers.lock().unwrap().push(tx);
        rx
    }

    /// Hands `delivered` to every live subscriber and forgets those that dropped their receiver.
    pub(crate) fn publish(&self, delivered: &Delivered) {
        self.subscribers
            .lock()
            .unwrap()
            .retain(|tx| tx.send(delivered.clone()).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_subscriber_gets_later_deliveries_and_dropped_ones_are_forgotten() {
        let feed = Feed::default();
        let d = |t: &str| Delivered {
            token: t.into(),
            payload: "p.q.r".into(),
            received: serde_json::Value::Null,
        };
        feed.publish(&d("before"));
        let mut a = feed.subscribe();
        let b = feed.subscribe();
        drop(b);
        feed.publish(&d("after"));
        assert_eq!(a.try_recv().unwrap(), d("after"));
        assert!(a.try_recv().is_err());
        assert_eq!(feed.subscribers.lock().unwrap().len(), 1);
    }
}
