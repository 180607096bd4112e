//! When to try again: exponential backoff with jitter, and when to give up.

use std::time::Duration;

/// First retry after a second: long enough for a blip to pass, short enough that an order
/// reaches the ERP within seconds of it coming back.
pub const DEFAULT_BASE: Duration = Duration::from_secs(1);
/// Each retry waits twice as long as the one before.
pub const DEFAULT_FACTOR: u32 = 2;
/// No wait is longer than five minutes: an ERP back from an outage gets its backlog soon.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(5 * 60);
/// Waits vary by up to ±20% so deliveries that failed together do not retry together.
pub const DEFAULT_JITTER_PERCENT: u32 = 20;
/// Twelve attempts span about 20 minutes (1+2+…+256 s, then 5 min caps) before a delivery is
/// dead-lettered for an operator to look at and replay.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 12;

/// A retry policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub factor: u32,
    pub max_delay: Duration,
    pub jitter_percent: u32,
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: DEFAULT_BASE,
            factor: DEFAULT_FACTOR,
            max_delay: DEFAULT_MAX_DELAY,
            jitter_percent: DEFAULT_JITTER_PERCENT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempts + 1`, after `attempts` failures (≥ 1); `None` when
    /// the policy gives up. `seed` spreads the jitter (a delivery id, say) deterministically.
    pub fn delay(&self, attempts: u32, seed: u64) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let exp = attempts.saturating_sub(1).min(32);
        let raw = self.base.saturating_mul(self.factor.saturating_pow(exp)).min(self.max_delay);
        // splitmix64 of (seed, attempts): cheap, stateless, well spread.
        let mut z = seed ^ u64::from(attempts).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let span = u64::from(self.jitter_percent) * 2 + 1;
        let percent = 100 + (z % span) as i64 - i64::from(self.jitter_percent);
        Some(Duration::from_millis((raw.as_millis() as i64 * percent / 100).max(0) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_jitters_and_gives_up() {
        let b = Backoff::default();
        let d1 = b.delay(1, 7).unwrap().as_millis();
        assert!((800..=1200).contains(&d1), "{d1}");
        let d4 = b.delay(4, 7).unwrap().as_millis();
        assert!((6_400..=9_600).contains(&d4), "{d4}");
        let late = b.delay(11, 7).unwrap();
        assert!(late <= DEFAULT_MAX_DELAY * 6 / 5);
        assert_eq!(b.delay(DEFAULT_MAX_ATTEMPTS, 7), None);
        assert_eq!(b.delay(3, 1), b.delay(3, 1), "deterministic per seed");
        let spread: std::collections::BTreeSet<_> = (0..50).map(|s| b.delay(3, s)).collect();
        assert!(spread.len() > 10, "seeds spread the jitter");
    }
}
