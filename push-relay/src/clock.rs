//! Wall-clock time, injected so token lifetimes and rate limits are testable without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn unix_millis(&self) -> u64;

    /// Whole seconds since the Unix epoch.
    fn unix_seconds(&self) -> u64 {
        self.unix_millis() / 1000
    }
}

/// The operating system's clock, used in production.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    millis: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `unix_millis`.
    pub fn new(unix_millis: u64) -> Self {
        Self {
            millis: AtomicU64::new(unix_millis),
        }
    }

    /// A clock standing at the system's current time.
    pub fn at_system_time() -> Self {
        Self::new(SystemClock.unix_millis())
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance_seconds(&self, seconds: u64) {
        self.millis.fetch_add(seconds * 1000, Ordering::SeqCst);
    }

    /// Puts the clock at `unix_millis`.
    pub fn set_millis(&self, unix_millis: u64) {
        self.millis.store(unix_millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn unix_millis(&self) -> u64 {
        self.millis.load(Ordering::SeqCst)
    }
}
