//! When to try again: exponential backoff with jitter, when to give up, and which failures
//! are worth another attempt at all (decided from the error's kind, never from its text).

use std::time::Duration;

use crate::error::{CallError, Failure};
use crate::model::ConnectorError;

/// What to do about a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Try again after a backoff; give up after the policy's attempts.
    Retry(String),
    /// The platform asked to slow down: wait this long (the whole shop, not only this call),
    /// without counting it against the attempts.
    Throttled(Duration, String),
    /// Another attempt would fail the same way: dead-letter it with the reason.
    Permanent(String),
}

impl Verdict {
    /// What a plugin's canonical error calls for. Expired credentials are retried: an
    /// operator renewing them should not have to replay everything that failed meanwhile.
    pub fn of_plugin_error(e: &ConnectorError) -> Verdict {
        match e {
            ConnectorError::Transient { .. } | ConnectorError::Auth { .. } => Verdict::Retry(e.to_string()),
            ConnectorError::RateLimited { retry_after_ms, .. } => {
                Verdict::Throttled(Duration::from_millis(*retry_after_ms).max(MIN_THROTTLE_WAIT), e.to_string())
            }
            ConnectorError::InvalidInput { .. }
            | ConnectorError::NotFound { .. }
            | ConnectorError::Unsupported { .. }
            | ConnectorError::Platform { .. } => Verdict::Permanent(e.to_string()),
        }
    }

    /// What a failed call calls for: the plugin's own error decides when there is one; a
    /// missed deadline or a busy host is worth another try; a plugin that traps, panics or
    /// breaks the contract will do so again until it is fixed (then the letter is replayed).
    pub fn of_call(e: &CallError) -> Verdict {
        match &e.cause {
            Failure::Plugin(p) => match Verdict::of_plugin_error(p) {
                Verdict::Retry(_) => Verdict::Retry(e.to_string()),
                Verdict::Throttled(d, _) => Verdict::Throttled(d, e.to_string()),
                Verdict::Permanent(_) => Verdict::Permanent(e.to_string()),
            },
            Failure::Deadline(_) | Failure::Host(_) => Verdict::Retry(e.to_string()),
            Failure::MemoryLimit { .. }
            | Failure::OutputTooLarge { .. }
            | Failure::Panic(_)
            | Failure::Trap(_)
            | Failure::Contract(_)
            | Failure::InvalidRecord(_) => Verdict::Permanent(e.to_string()),
        }
    }
}

/// A platform that says "retry after 0 ms" still gets a breath: 100 ms, so a misbehaving
/// throttle answer cannot turn a loop into a busy spin.
pub const MIN_THROTTLE_WAIT: Duration = Duration::from_millis(100);

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

/// Sleeps `d` unless stopped first; `true` when stopped. What every loop waits with between
/// its tries, so a stop never waits out a backoff.
pub async fn sleep_or_stop(stop: &mut tokio::sync::watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = stop.changed() => true,
        _ = tokio::time::sleep(d) => *stop.borrow(),
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
