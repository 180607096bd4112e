//! What one tenant may use of the host at once: plugin calls per second, plugin calls in
//! flight, memory per call. Every call of every shop of a tenant (and of its ERP plugin) passes
//! through the tenant's [`TenantQuota`] before it gets an instance, so a tenant that floods the
//! host waits on its own quota while the others' calls go straight through.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::capability::http::RateLimiter;
use crate::config::Quota;

/// The bucket key of plugin calls in the tenant's limiter.
const CALLS: &str = "plugin calls";

/// One tenant's quota, shared by all its shops. Cheap to share through an `Arc`.
#[derive(Debug)]
pub struct TenantQuota {
    quota: Quota,
    calls: RateLimiter,
    in_flight: Arc<Semaphore>,
}

/// Held for the length of one call: frees its place among the tenant's calls in flight.
#[derive(Debug)]
pub struct Admission {
    _permit: OwnedSemaphorePermit,
    /// How long the call waited on its tenant's quota.
    pub waited: Duration,
}

impl TenantQuota {
    pub fn new(quota: Quota) -> Self {
        TenantQuota {
            quota,
            calls: RateLimiter::new(quota.calls_per_second),
            in_flight: Arc::new(Semaphore::new(quota.concurrent_calls as usize)),
        }
    }

    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Linear memory one call of this tenant may grow to.
    pub fn memory_bytes(&self) -> usize {
        (self.quota.memory_mib as usize) << 20
    }

    /// Waits until the tenant may start another call: a token of its calls per second, then a
    /// place among its calls in flight.
    pub async fn admit(&self) -> Admission {
        let started = std::time::Instant::now();
        while let Err(wait) = self.calls.take(CALLS) {
            tokio::time::sleep(wait).await;
        }
        let permit = self.in_flight.clone().acquire_owned().await.expect("the semaphore is never closed");
        Admission { _permit: permit, waited: started.elapsed() }
    }

    /// Calls of this tenant running now.
    pub fn in_flight(&self) -> usize {
        self.quota.concurrent_calls as usize - self.in_flight.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_in_flight_and_per_second_are_capped() {
        let q = Arc::new(TenantQuota::new(Quota {
            calls_per_second: 1_000,
            concurrent_calls: 2,
            memory_mib: 16,
            ..Quota::default()
        }));
        let a = q.admit().await;
        let _b = q.admit().await;
        assert_eq!(q.in_flight(), 2);
        let waiting = tokio::spawn({
            let q = q.clone();
            async move { q.admit().await.waited }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a third call waits for a place");
        drop(a);
        assert!(waiting.await.unwrap() >= Duration::from_millis(40));
        assert_eq!(q.memory_bytes(), 16 << 20);

        let slow =
            TenantQuota::new(Quota { calls_per_second: 10, concurrent_calls: 100, memory_mib: 16, ..Quota::default() });
        let started = std::time::Instant::now();
        for _ in 0..15 {
            let _ = slow.admit().await;
        }
        // A burst of 10, then 5 more at 10/s.
        assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
    }
}
