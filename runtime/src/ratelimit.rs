//! Request rates: one limit, many keys (a shop's platform host and API; a tenant's calls).
//!
//! The bucket itself is `governor`'s GCRA: one timestamp per key, exact to the nanosecond, no
//! floating-point refill arithmetic of our own. What is Wharf's is the waiting policy: a short
//! wait is slept through, a long one is handed back so the caller backs off instead of holding
//! a sandbox slot while it sleeps.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Gcra};

use crate::limits::DEFAULT_SHOP_REQUESTS_PER_SECOND;

/// `per_second` requests a second per key, with a burst of as many.
pub struct RateLimiter {
    per_second: NonZeroU32,
    buckets: Gcra<String, DefaultKeyedStateStore<String>, DefaultClock>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("per_second", &self.per_second).finish_non_exhaustive()
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(DEFAULT_SHOP_REQUESTS_PER_SECOND)
    }
}

impl RateLimiter {
    /// `per_second` requests per second per key (at least one), with a burst of the same size.
    pub fn new(per_second: u32) -> Self {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        RateLimiter { per_second, buckets: Gcra::keyed(Quota::per_second(per_second)) }
    }

    /// Takes a token for `key`, or says how long until one is free.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        self.buckets
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.buckets.clock().now()))
    }

    /// Takes a token for `key`, sleeping for it when it is free within `max_wait`; a longer
    /// wait is returned for the caller to back off with.
    pub async fn acquire(&self, key: &str, max_wait: Duration) -> Result<(), Duration> {
        loop {
            match self.take(key) {
                Ok(()) => return Ok(()),
                Err(wait) if wait <= max_wait => tokio::time::sleep(wait).await,
                Err(wait) => return Err(wait),
            }
        }
    }

    /// Takes a token for `key`, however long that takes.
    pub async fn wait(&self, key: &str) {
        // No wait is longer than the longest: this never hands one back.
        let _ = self.acquire(key, Duration::MAX).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_rate_then_a_wait_of_one_interval_per_key() {
        let limiter = RateLimiter::new(2);
        assert!(limiter.take("h").is_ok());
        assert!(limiter.take("h").is_ok());
        let wait = limiter.take("h").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500), "{wait:?}");
        assert!(limiter.take("other").is_ok(), "each key has its own bucket");
    }

    #[test]
    fn a_rate_of_zero_is_one_a_second_not_a_stall() {
        let limiter = RateLimiter::new(0);
        assert!(limiter.take("h").is_ok());
        assert!(limiter.take("h").unwrap_err() <= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_short_wait_is_slept_through_and_a_long_one_handed_back() {
        let limiter = RateLimiter::new(20);
        for _ in 0..20 {
            limiter.take("h").unwrap();
        }
        let started = std::time::Instant::now();
        limiter.acquire("h", Duration::from_secs(1)).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(30), "it waited for the next token");

        let slow = RateLimiter::new(1);
        slow.take("h").unwrap();
        let back_off = slow.acquire("h", Duration::from_millis(10)).await.unwrap_err();
        assert!(back_off > Duration::from_millis(900), "{back_off:?}");
    }
}
