//! Where plugin calls run, and what CPU time each one uses.
//!
//! Every call runs on the sandbox's own threads, not on the async workers of whoever called it
//! (the HTTP API, the sync loops, the CLI): instantiation, the wasm, lifting the reply (which
//! wasm cannot interrupt), checking it at the boundary and sizing it all happen there. So
//! `/healthz`, `/readyz` and the API are served by threads no plugin ever runs on, and the
//! operating system shares the cores between them.
//!
//! A call's CPU time is the time spent polling it on those threads, plus the host work done for
//! it on the blocking pool (filling secrets, signing, decoding, scrubbing), which [`metered`]
//! charges to the call whose poll sent it there. Both are charged to the call's tenant as they
//! happen ([`crate::quota::TenantQuota::charge_cpu`]); while the tenant is over its CPU budget,
//! its running calls pause between polls (wasm yields every epoch tick), so its burst takes
//! turns from its own calls, not from other tenants'.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::quota::TenantQuota;

/// Fewest threads the sandbox runs calls on, whatever the host's core count: with one, a reply
/// being lifted (which cannot yield) would stop every other tenant's call for its length.
const MIN_SANDBOX_THREADS: usize = 2;

/// The runtime plugin calls run on: one thread per core, at least [`MIN_SANDBOX_THREADS`].
/// Calls are CPU work between host HTTP requests, so more threads would only be time-sliced by
/// the operating system, and would inflate the CPU time measured as time in a poll; CPU is
/// shared between tenants by their CPU budgets, not by threads.
/// Built on first use and kept for the life of the process, whatever runtime its callers are
/// on (a `#[tokio::test]`'s current thread, the CLI's, `wharf serve`'s).
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores.max(MIN_SANDBOX_THREADS))
            .thread_name("wharf-sandbox")
            .on_thread_start(|| ON_SANDBOX_THREAD.set(true))
            .enable_all()
            .build()
            .expect("building the sandbox's runtime")
    })
}

/// Whether the caller already runs on one of the sandbox's threads (a sync loop spawned there,
/// see [`super::runtime`]): its calls are then polled where they are awaited, sparing the two
/// thread hand-offs (a wake-up of a parked sandbox thread, then of the caller's) that were
/// most of a small call's time (the plugin bench, BENCHMARKS.md).
pub(super) fn on_sandbox_thread() -> bool {
    ON_SANDBOX_THREAD.get()
}

/// CPU time one call used and time it paused over its tenant's budget, charged to the tenant
/// as it goes.
pub(super) struct Meter {
    used_nanos: AtomicU64,
    paused_nanos: AtomicU64,
    quota: Option<Arc<TenantQuota>>,
}

impl Meter {
    pub(super) fn new(quota: Option<Arc<TenantQuota>>) -> Arc<Meter> {
        Arc::new(Meter { used_nanos: AtomicU64::new(0), paused_nanos: AtomicU64::new(0), quota })
    }

    fn charge(&self, used: Duration) {
        self.used_nanos.fetch_add(nanos(used), Ordering::Relaxed);
        if let Some(quota) = &self.quota {
            quota.charge_cpu(used);
        }
    }

    pub(super) fn used(&self) -> Duration {
        Duration::from_nanos(self.used_nanos.load(Ordering::Relaxed))
    }

    pub(super) fn paused(&self) -> Duration {
        Duration::from_nanos(self.paused_nanos.load(Ordering::Relaxed))
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

thread_local! {
    /// Set on the sandbox runtime's threads when they start.
    static ON_SANDBOX_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The meter of the call being polled on this thread, for [`metered`].
    static CURRENT: RefCell<Option<Arc<Meter>>> = const { RefCell::new(None) };
}

/// Puts back the meter that was current before a poll, even if the poll panics.
struct Restore(Option<Arc<Meter>>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// `work`, charging the time it takes to the call being polled where it is made (it is sent to
/// the blocking pool, where no call is polled); `work` unchanged outside a call.
pub(crate) fn metered<T>(work: impl FnOnce() -> T) -> impl FnOnce() -> T {
    let meter = CURRENT.with(|c| c.borrow().clone());
    move || {
        let started = Instant::now();
        let out = work();
        if let Some(meter) = meter {
            meter.charge(started.elapsed());
        }
        out
    }
}

/// Bytes of host work (filling secrets in, signing, decoding, scrubbing) done on the sandbox
/// thread that asked for it rather than on the blocking pool. md5 and the scrubber's search
/// run at hundreds of MB/s, so 64 KiB (a signed TOP request, one trade's answer) takes well
/// under a millisecond, less than the epoch tick a wasm call runs between yields
/// ([`crate::limits::EPOCH_TICK`]), and less than the two thread hand-offs the blocking pool
/// would cost (they were most of a small call's time: the plugin bench, BENCHMARKS.md); more
/// (a whole page of orders, a flood of placeholders) goes to the blocking pool, so that no
/// plugin holds a sandbox thread for long outside wasm, where the epoch cannot interrupt it.
pub(crate) const INLINE_HOST_WORK_BYTES: usize = 64 << 10;

/// Runs host `work` on `bytes` of a call's data, charged to the call: where it was asked for
/// when small (see [`INLINE_HOST_WORK_BYTES`]), on the blocking pool otherwise.
pub(crate) async fn host_work<T: Send + 'static>(
    bytes: usize,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    if bytes <= INLINE_HOST_WORK_BYTES {
        // Inside the call's poll, so its time is already charged by `Metered`.
        return Ok(work());
    }
    tokio::task::spawn_blocking(metered(work)).await
}

/// A call's future, timed at every poll and paused while its tenant is over its CPU budget.
pub(super) struct Metered<F> {
    inner: Pin<Box<F>>,
    meter: Arc<Meter>,
    /// When the call gives up on its own (its deadline and grace): a pause ends then at the
    /// latest, since its deadline is only noticed when it is polled.
    ends: Instant,
    pause: Option<(Pin<Box<tokio::time::Sleep>>, Instant)>,
}

impl<F> Metered<F> {
    pub(super) fn new(inner: F, meter: Arc<Meter>, ends: Instant) -> Self {
        Metered { inner: Box::pin(inner), meter, ends, pause: None }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        if let Some((sleep, since)) = &mut this.pause {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.meter.paused_nanos.fetch_add(nanos(since.elapsed()), Ordering::Relaxed);
            this.pause = None;
        }
        let polled = {
            let _restore = Restore(CURRENT.with(|c| c.borrow_mut().replace(this.meter.clone())));
            let started = Instant::now();
            let polled = this.inner.as_mut().poll(cx);
            this.meter.charge(started.elapsed());
            polled
        };
        if polled.is_pending()
            && let Some(debt) = this.meter.quota.as_ref().and_then(|q| q.cpu_debt())
        {
            let now = Instant::now();
            let mut sleep = Box::pin(tokio::time::sleep_until((now + debt).min(this.ends).into()));
            // Registers the wake-up; a pause of zero is already over.
            if sleep.as_mut().poll(cx).is_pending() {
                this.pause = Some((sleep, now));
            }
        }
        polled
    }
}

/// A call polled where it is awaited (see [`on_sandbox_thread`]), with a panic in it caught as
/// a spawned call's is by its task: the call fails, the loop that made it goes on.
pub(super) struct CatchPanic<F>(pub(super) Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(polled) => polled.map(Ok),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                Poll::Ready(Err(format!("the call panicked: {message}")))
            }
        }
    }
}

/// A spawned call, cancelled when whoever awaits it gives up (a stopped sync loop, a
/// disconnected client), as the call was when it ran in the caller's own future.
pub(super) struct AbortOnDrop<T>(pub(super) tokio::task::JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Quota;

    #[tokio::test]
    async fn polls_and_offloaded_work_are_charged_to_the_call_and_its_tenant() {
        let quota = Arc::new(TenantQuota::new(Quota { cpu_millis_per_second: 20, ..Quota::default() }));
        let meter = Meter::new(Some(quota.clone()));
        let call = Metered::new(
            async {
                // Busy on the polling thread, then on the blocking pool.
                let started = Instant::now();
                while started.elapsed() < Duration::from_millis(30) {
                    std::hint::spin_loop();
                }
                let work = metered(|| std::thread::sleep(Duration::from_millis(20)));
                tokio::task::spawn_blocking(work).await.unwrap();
            },
            meter.clone(),
            Instant::now() + Duration::from_secs(60),
        );
        runtime().spawn(call).await.unwrap();
        assert!(meter.used() >= Duration::from_millis(50), "{:?}", meter.used());
        // 50 ms against 20 ms banked: in debt, so its calls wait; the call itself paused (the
        // 30 ms spin put it in debt while its offloaded work was still to come).
        assert!(quota.cpu_debt().is_some());
        assert!(meter.paused() > Duration::ZERO);

        let outside = metered(|| 7);
        assert_eq!(outside(), 7, "outside a call, work is only run");
    }

    #[tokio::test]
    async fn work_spawned_on_the_sandbox_knows_it_and_a_panic_polled_there_is_an_error() {
        assert!(!on_sandbox_thread(), "a test's own thread is not the sandbox's");
        let (there, caught) = runtime()
            .spawn(async {
                let panicking = CatchPanic(Box::pin(async { panic!("lifting went wrong") }));
                (on_sandbox_thread(), panicking.await)
            })
            .await
            .unwrap();
        assert!(there, "spawned on the sandbox's runtime");
        let caught: Result<(), String> = caught;
        assert_eq!(caught.unwrap_err(), "the call panicked: lifting went wrong");
        let fine = CatchPanic(Box::pin(async { 7 })).await;
        assert_eq!(fine, Ok(7));
    }

    #[tokio::test]
    async fn small_host_work_stays_on_the_calling_thread_and_large_work_leaves_it() {
        let here = std::thread::current().id();
        let small = host_work(INLINE_HOST_WORK_BYTES, || std::thread::current().id()).await.unwrap();
        assert_eq!(small, here, "no hop to the blocking pool for a small request");
        let large = host_work(INLINE_HOST_WORK_BYTES + 1, || std::thread::current().id()).await.unwrap();
        assert_ne!(large, here, "a flood's work goes to the blocking pool");
    }
}
