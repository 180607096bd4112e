//! What the benchmarks compute of their samples, defined once so that a p99 means the same in
//! every figure of BENCHMARKS.md.

use std::time::Duration;

/// The `p` quantile (0 to 1) of `sorted` samples by nearest rank: the sample at rank ⌈p·n⌉
/// (the median of 1, 2, 3 is 2; the p99 of 1,000 samples the 990th; `p = 1` the largest).
/// Zero when there are none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied().unwrap_or_default()
}

/// `d` in milliseconds, for printing.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let ms = |v: &[u64]| v.iter().map(|&m| Duration::from_millis(m)).collect::<Vec<_>>();
        assert_eq!(percentile(&ms(&[1, 2, 3]), 0.5), Duration::from_millis(2));
        assert_eq!(percentile(&ms(&[1, 2, 3, 4]), 0.5), Duration::from_millis(2));
        assert_eq!(percentile(&ms(&[1, 2, 3]), 1.0), Duration::from_millis(3));
        assert_eq!(percentile(&ms(&[1, 2, 3]), 0.0), Duration::from_millis(1));
        let thousand: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&ms(&thousand), 0.99), Duration::from_millis(990));
        assert_eq!(percentile(&[], 0.99), Duration::ZERO);
        assert_eq!(millis(Duration::from_micros(1500)), 1.5);
    }
}
