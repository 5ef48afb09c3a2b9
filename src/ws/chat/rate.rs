//! The per-connection frame rate limit: a token bucket.

use std::time::Instant;

/// Frames per second a connection may send on average: faster than anyone types, slower than a
/// script flooding the bot.
const RATE_PER_SECOND: f64 = 5.0;
/// Frames a connection may send at once (a widget resending its outbox after a reconnect).
const RATE_BURST: f64 = 10.0;

/// Frames dropped in a row after which the connection is closed (1008): a widget backs off after
/// its first `rate_limited`, so this many more is a script that does not listen.
pub(super) const FLOOD_CLOSE: u32 = 50;

/// Token bucket for one connection's frames; owned by its session, so no lock.
pub(super) struct RateLimit {
    tokens: f64,
    at: Instant,
    /// Frames refused since the last one allowed.
    pub(super) refused_in_a_row: u32,
}

impl RateLimit {
    /// A full bucket.
    pub(super) fn new() -> Self {
        RateLimit {
            tokens: RATE_BURST,
            at: Instant::now(),
            refused_in_a_row: 0,
        }
    }

    /// Whether one more frame may be handled now; takes a token if so.
    pub(super) fn allow(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * RATE_PER_SECOND;
        self.tokens = (self.tokens + refill).min(RATE_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
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
        // A few tokens may refill while the loop runs, never many.
        assert!((10..=11).contains(&allowed), "allowed {allowed}");
    }
}
