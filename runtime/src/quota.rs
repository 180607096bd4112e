//! What one tenant may use of the host at once: plugin calls per second, plugin calls in
//! flight, CPU time per second, memory per call. Every call of every shop of a tenant (and of
//! its ERP plugin) passes through the tenant's [`TenantQuota`] before it gets an instance, so a
//! tenant that floods the host waits on its own quota while the others' calls go straight
//! through.
//!
//! Calls and calls in flight are known before a call starts; CPU time only as it runs. So the
//! CPU budget is a bucket that calls draw on while they run (the sandbox charges every poll of
//! a call and the host work done for it off-thread, see `sandbox::cpu`): a tenant that has
//! spent more than its budget is in debt, and its next calls wait at admission, and its running
//! calls pause, until the bucket refills.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Quota;
use crate::ratelimit::RateLimiter;

/// The bucket key of plugin calls in the tenant's limiter.
const CALLS: &str = "plugin calls";

/// One tenant's quota, shared by all its shops. Cheap to share through an `Arc`.
#[derive(Debug)]
pub struct TenantQuota {
    quota: Quota,
    calls: RateLimiter,
    in_flight: Arc<Semaphore>,
    cpu: CpuBudget,
}

/// How much of its CPU budget a tenant may bank while idle: one second's worth. A call costs
/// what it costs (a page of a hundred orders maps in about 10 ms); a burst up to a second of
/// the budget goes through at once, anything longer is paced at the tenant's rate.
const CPU_BURST: Duration = Duration::from_secs(1);

/// The CPU time a tenant may use: a bucket filled at `cpu_millis_per_second` up to
/// [`CPU_BURST`] of it, drawn on by its calls as they run, and allowed to go negative (a call
/// is charged for what it used, which nobody knew in advance).
#[derive(Debug)]
struct CpuBudget {
    /// Seconds of CPU the tenant earns per second.
    rate: f64,
    state: Mutex<CpuBucket>,
}

#[derive(Debug)]
struct CpuBucket {
    /// Seconds of CPU left; below zero, the debt to pay off before the tenant runs again.
    balance: f64,
    at: Instant,
}

impl CpuBudget {
    fn new(millis_per_second: u32) -> Self {
        let rate = f64::from(millis_per_second.max(1)) / 1000.0;
        CpuBudget { rate, state: Mutex::new(CpuBucket { balance: rate * CPU_BURST.as_secs_f64(), at: Instant::now() }) }
    }

    /// The bucket as of now, refilled for the time since it was last looked at.
    fn refilled(&self) -> std::sync::MutexGuard<'_, CpuBucket> {
        let mut bucket = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let earned = now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.balance = (bucket.balance + earned).min(self.rate * CPU_BURST.as_secs_f64());
        bucket.at = now;
        bucket
    }

    fn charge(&self, used: Duration) {
        self.refilled().balance -= used.as_secs_f64();
    }

    /// How long until the debt is paid off; `None` when the tenant is not in debt.
    fn debt(&self) -> Option<Duration> {
        let balance = self.refilled().balance;
        (balance < 0.0).then(|| Duration::from_secs_f64(-balance / self.rate))
    }
}

/// Held for the length of one call: frees its place among the tenant's calls in flight.
#[derive(Debug)]
pub struct Admission {
    _permit: OwnedSemaphorePermit,
    /// How long the call waited on its tenant's quota, all of it.
    pub waited: Duration,
    /// The part of `waited` spent paying off the tenant's CPU debt.
    pub cpu_waited: Duration,
}

impl TenantQuota {
    pub fn new(quota: Quota) -> Self {
        TenantQuota {
            quota,
            calls: RateLimiter::new(quota.calls_per_second),
            in_flight: Arc::new(Semaphore::new(quota.concurrent_calls as usize)),
            cpu: CpuBudget::new(quota.cpu_millis_per_second),
        }
    }

    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Linear memory one call of this tenant may grow to.
    pub fn memory_bytes(&self) -> usize {
        (self.quota.memory_mib as usize) << 20
    }

    /// Waits until the tenant may start another call: a token of its calls per second, its CPU
    /// debt paid off, then a place among its calls in flight.
    pub async fn admit(&self) -> Admission {
        let started = Instant::now();
        self.calls.wait(CALLS).await;
        let mut cpu_waited = Duration::ZERO;
        while let Some(debt) = self.cpu.debt() {
            let asleep = Instant::now();
            tokio::time::sleep(debt).await;
            cpu_waited += asleep.elapsed();
        }
        let permit = self.in_flight.clone().acquire_owned().await.expect("the semaphore is never closed");
        Admission { _permit: permit, waited: started.elapsed(), cpu_waited }
    }

    /// Charges `used` CPU time of one of the tenant's calls to its budget.
    pub fn charge_cpu(&self, used: Duration) {
        self.cpu.charge(used);
    }

    /// How long the tenant's calls must hold off before using more CPU; `None` while the tenant
    /// is within its budget.
    pub fn cpu_debt(&self) -> Option<Duration> {
        self.cpu.debt()
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

    #[tokio::test]
    async fn a_tenant_over_its_cpu_budget_waits_and_others_do_not() {
        let quota = |cpu_millis_per_second| Quota { cpu_millis_per_second, ..Quota::default() };
        let busy = TenantQuota::new(quota(100));
        let idle = TenantQuota::new(quota(100));
        // A burst up to one second of the budget goes straight through.
        assert_eq!(busy.cpu_debt(), None);
        busy.charge_cpu(Duration::from_millis(60));
        assert_eq!(busy.cpu_debt(), None, "within the 100 ms banked");
        assert_eq!(busy.admit().await.cpu_waited, Duration::ZERO);
        // 300 ms used against 100 ms banked: 200 ms of debt at 100 ms/s is about two seconds.
        busy.charge_cpu(Duration::from_millis(240));
        let debt = busy.cpu_debt().expect("in debt");
        assert!(debt > Duration::from_millis(1_500) && debt <= Duration::from_secs(2), "{debt:?}");
        // Another tenant's budget is its own.
        assert_eq!(idle.cpu_debt(), None);
        assert_eq!(idle.admit().await.cpu_waited, Duration::ZERO);

        let small = TenantQuota::new(quota(1_000));
        small.charge_cpu(Duration::from_millis(1_050));
        let admitted = small.admit().await;
        assert!(admitted.cpu_waited >= Duration::from_millis(40), "waited {:?}", admitted.cpu_waited);
        assert!(admitted.waited >= admitted.cpu_waited);
        assert_eq!(small.cpu_debt(), None, "the debt is paid off once admitted");
    }

    #[test]
    fn the_cpu_bucket_banks_at_most_one_second_of_the_budget() {
        let q = TenantQuota::new(Quota { cpu_millis_per_second: 500, ..Quota::default() });
        std::thread::sleep(Duration::from_millis(20));
        // Idle time earns nothing past the burst: 500 ms banked, so 501 ms used is a debt.
        q.charge_cpu(Duration::from_millis(501));
        assert!(q.cpu_debt().is_some());
    }
}
