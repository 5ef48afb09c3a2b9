//! The per-connection frame rate limit: a GCRA bucket from `governor` (the same limiter as the
//! server's keyed limits, `crate::throttle`), plus the count of frames refused in a row that
//! decides when a flood is closed.

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Frames per second a connection may send on average: faster than anyone types, slower than a
/// script flooding the bot.
const RATE_PER_SECOND: NonZeroU32 = NonZeroU32::new(5).expect("non-zero");
/// Frames a connection may send at once (a widget resending its outbox after a reconnect).
const RATE_BURST: NonZeroU32 = NonZeroU32::new(10).expect("non-zero");

/// Frames dropped in a row after which the connection is closed (1008): a widget backs off after
/// its first `rate_limited`, so this many more is a script that does not listen.
pub(super) const FLOOD_CLOSE: u32 = 50;

/// One connection's frame budget; owned by its session.
pub(super) struct RateLimit {
    limiter: DefaultDirectRateLimiter,
    /// Frames refused since the last one allowed.
    pub(super) refused_in_a_row: u32,
}

impl RateLimit {
    /// A full bucket.
    pub(super) fn new() -> Self {
        RateLimit {
            limiter: RateLimiter::direct(
                Quota::per_second(RATE_PER_SECOND).allow_burst(RATE_BURST),
            ),
            refused_in_a_row: 0,
        }
    }

    /// Whether one more frame may be handled now; takes it from the budget if so.
    pub(super) fn allow(&mut self) -> bool {
        if self.limiter.check().is_ok() {
            self.refused_in_a_row = 0;
            true
        } else {
            self.refused_in_a_row = self.refused_in_a_row.saturating_add(1);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_and_the_frame_after_it_is_not() {
        let mut rate = RateLimit::new();
        let allowed = (0..20).filter(|_| rate.allow()).count();
        // A frame may be earned back while the loop runs, never many.
        assert!((10..=11).contains(&allowed), "allowed {allowed}");
        assert!(rate.refused_in_a_row >= 9, "{}", rate.refused_in_a_row);
    }
}
