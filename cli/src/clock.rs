//! Where the CLI reads the time: once per step, at the edge, so that everything below takes the
//! time as an argument and is tested without sleeping.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time, handed from `main` to the commands that need it.
///
/// Commands that do I/O take `&dyn Clock` and read it when they call the core (a poll or an
/// answer is signed with the time it leaves, even after a slow portal); the logic below them
/// takes `now: u64`.
pub trait Clock {
    /// Unix seconds.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        // A clock set before 1970 reads as 0.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}
