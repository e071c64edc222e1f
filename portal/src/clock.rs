//! The portal's clock, injected so that tests can move time (a challenge's 60 seconds, a
//! lockout timer) without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};

/// Where the portal reads the time.
pub trait Clock: Send + Sync {
    /// Unix seconds.
    fn now(&self) -> u64;
}

/// The system clock, plus an offset that only a portal started with `--test-clock` lets tests
/// move forward (`POST /test/clock`).
#[derive(Debug, Default)]
pub struct SystemClock {
    offset: AtomicU64,
}

impl SystemClock {
    /// Moves this clock `seconds` forward.
    pub fn advance(&self, seconds: u64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        real + self.offset.load(Ordering::SeqCst)
    }
}
