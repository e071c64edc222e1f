//! Time, injected so token lifetimes and rate limits are testable without sleeping: the wall
//! clock (what goes into tokens and expiries) and a monotonic one (how old something is, which a
//! wall-clock step from NTP or a restored VM must not change).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of wall-clock and monotonic time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn unix_millis(&self) -> u64;

    /// Time since an arbitrary fixed point, never going back and not moved by wall-clock
    /// steps: for ages and intervals.
    fn monotonic(&self) -> Duration;

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

    fn monotonic(&self) -> Duration {
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }
}

/// A clock that only moves when told to; for tests. [`ManualClock::advance_seconds`] moves both
/// clocks, [`ManualClock::set_millis`] steps the wall clock alone (as NTP does).
#[derive(Debug, Default)]
pub struct ManualClock {
    millis: AtomicU64,
    monotonic_millis: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `unix_millis`.
    pub fn new(unix_millis: u64) -> Self {
        Self {
            millis: AtomicU64::new(unix_millis),
            monotonic_millis: AtomicU64::new(0),
        }
    }

    /// A clock standing at the system's current time.
    pub fn at_system_time() -> Self {
        Self::new(SystemClock.unix_millis())
    }

    /// Lets `seconds` pass: both clocks move forward.
    pub fn advance_seconds(&self, seconds: u64) {
        self.millis.fetch_add(seconds * 1000, Ordering::SeqCst);
        self.monotonic_millis
            .fetch_add(seconds * 1000, Ordering::SeqCst);
    }

    /// Steps the wall clock to `unix_millis`, backwards or forwards; no time passes.
    pub fn set_millis(&self, unix_millis: u64) {
        self.millis.store(unix_millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn unix_millis(&self) -> u64 {
        self.millis.load(Ordering::SeqCst)
    }

    fn monotonic(&self) -> Duration {
        Duration::from_millis(self.monotonic_millis.load(Ordering::SeqCst))
    }
}
