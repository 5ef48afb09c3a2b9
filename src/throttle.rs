//! Rate limits keyed by who asks (an account, a client address): GCRA buckets from `governor`,
//! so that one caller hammering an expensive endpoint (a password check, a model read) is told
//! to wait while everyone else is served.
//!
//! [`Throttles`] holds the server's limits; the web layer names the key (it knows the address),
//! the limit says whether to go on and, if not, for how long to wait.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Keys remembered before the ones whose buckets are full again are dropped: enough for every
/// caller of a busy minute, small enough that an attacker rotating addresses cannot grow it
/// without bound.
const FORGET_AFTER_KEYS: usize = 10_000;

/// One limit: `burst` requests at once per key, then one more every `every`.
pub struct Throttle {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").finish_non_exhaustive()
    }
}

impl Throttle {
    /// A limit of `burst` at once and one more every `every` (both at least one).
    pub fn new(burst: u32, every: Duration) -> Throttle {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        // `with_period` is None only for a zero period; a millisecond is the floor.
        let quota = Quota::with_period(every.max(Duration::from_millis(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Throttle {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from `key`'s bucket; `Err` with the wait until one would be allowed.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        if self.limiter.len() > FORGET_AFTER_KEYS {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// The server's rate limits.
#[derive(Debug)]
pub struct Throttles {
    /// Sign-in attempts per account (the email, lower-cased): 10 at once, then one every six
    /// seconds. A person mistyping tries a few times; a password guesser gets ten a minute.
    pub login_account: Throttle,
    /// Sign-in attempts per client address: 30 at once (a team behind one office address
    /// signing in at the start of a shift), then one every two seconds.
    pub login_address: Throttle,
    /// `/api/ask` requests per client address: 20 at once, then five a second. A site's
    /// search box is well inside it; a script reading the model in bulk is not.
    pub ask_address: Throttle,
}

impl Default for Throttles {
    fn default() -> Throttles {
        Throttles {
            login_account: Throttle::new(10, Duration::from_secs(6)),
            login_address: Throttle::new(30, Duration::from_secs(2)),
            ask_address: Throttle::new(20, Duration::from_millis(200)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_past_its_burst_waits_and_other_keys_do_not() {
        let throttle = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(throttle.check("eve").is_ok());
        }
        let wait = throttle.check("eve").expect_err("the fourth is refused");
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(
            throttle.check("ada").is_ok(),
            "another key has its own bucket"
        );
    }
}
