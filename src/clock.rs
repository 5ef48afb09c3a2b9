//! The clock every timestamp comes from: the system's, plus an offset that only tests move.
//!
//! Queue timeouts, SLA targets and the analytics' waits are minutes and hours long. A test that
//! wants to see what happens ten minutes after a handoff [advances](Clock::advance) the server's
//! clock instead of waiting, or of rewriting stored times behind the server's back: the store,
//! the watchdog and the offline offers all read this clock, so they agree on what "now" is.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A shared clock; clones read (and advance) the same time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    /// Stands still between advances (tests that work durations out to the millisecond).
    frozen: bool,
}

impl Clock {
    /// A clock that shows the system's time now and then moves only when advanced.
    pub fn frozen() -> Clock {
        Clock {
            offset_ms: Arc::new(AtomicI64::new(system_ms())),
            frozen: true,
        }
    }

    /// Now, in milliseconds since the Unix epoch (UTC): how every timestamp is stored.
    pub fn now_ms(&self) -> i64 {
        let offset = self.offset_ms.load(Ordering::Relaxed);
        if self.frozen {
            offset
        } else {
            system_ms().saturating_add(offset)
        }
    }

    /// Now, as a timestamp (business hours, time zones).
    pub fn now(&self) -> jiff::Timestamp {
        // Milliseconds since the epoch are in jiff's range for the next quarter of a million
        // years; the fallback is never taken.
        jiff::Timestamp::from_millisecond(self.now_ms()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Moves this clock (and every clone of it) forward: tests' way to let time pass.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// The system's time in milliseconds since the Unix epoch (0 before it: a broken clock).
pub fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_advance() {
        let clock = Clock::default();
        let other = clock.clone();
        let before = clock.now_ms();
        other.advance(Duration::from_secs(600));
        let after = clock.now_ms();
        assert!(after - before >= 600_000, "{before} -> {after}");
        assert!(after - before < 660_000, "{before} -> {after}");
    }

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let clock = Clock::frozen();
        let start = clock.now_ms();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now_ms(), start);
        clock.advance(Duration::from_secs(30));
        assert_eq!(clock.now_ms(), start + 30_000);
    }
}
