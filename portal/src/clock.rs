//! The portal's clock, injected so that tests can move time (a challenge's 60 seconds, a
//! lockout timer) without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

/// Where the portal reads the time.
pub trait Clock: Send + Sync {
    /// Unix seconds.
    fn now(&self) -> u64;
}

/// The system clock, plus an offset that only a portal started with `--test-clock` lets tests
/// move (`POST /test/clock`): forward to expire things, back to make a challenge that expires
/// seconds from now by every other clock.
#[derive(Debug, Default)]
pub struct SystemClock {
    offset: AtomicI64,
}

impl SystemClock {
    /// Moves this clock `seconds` forward (back when negative).
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        real.saturating_add_signed(self.offset.load(Ordering::SeqCst))
    }
}
