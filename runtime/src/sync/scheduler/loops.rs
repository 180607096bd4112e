//! The loops: orders and after-sales in and updates out per shop, deliveries per tenant, one pull per ERP
//! module. Each waits on its own faults only and looks at the stop signal between steps.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use super::progress::{AuthFailure, Progress};
use super::setup::{Route, TenantRun, intake};
use super::{AUTH_BACKOFF_CAP, DRAIN_LIMIT, Options};
use crate::Plugin;
use crate::erp::{plugin as erp_plugin, webhook};
use crate::error::{CallError, Failure};
use crate::model::{ConnectorError, Module, Operation, Timestamp};
use crate::registry::Registry;
pub(super) use crate::retry::sleep_or_stop;
use crate::retry::{Backoff, Verdict};
use crate::store::Store;
use crate::sync::after_sales::{self, AfterSaleStream};
use crate::sync::feed::{self, Feed};
use crate::sync::orders::{OrderStream, SyncError};
use crate::sync::outbound::Outbound;
use crate::sync::window::{self, Walk};

/// What one loop needs.
#[derive(Clone)]
pub(super) struct Ctx {
    pub(super) tenant: Arc<TenantRun>,
    pub(super) store: Store,
    pub(super) registry: Registry,
    pub(super) options: Options,
    pub(super) progress: Progress,
    pub(super) stop: watch::Receiver<bool>,
}

impl Ctx {
    /// The version of plugin `name` serving this tenant now.
    pub(super) fn plugin(&self, name: &str) -> Option<Plugin> {
        let plugin = self.registry.plugin(name, &self.tenant.id);
        if plugin.is_none() {
            warn!(tenant = %self.tenant.id, plugin = name, "no version of the plugin serves this tenant");
        }
        plugin
    }

    pub(super) fn note_error(&self, shop: &str, error: &str) {
        self.progress.with(&self.tenant.id, shop, |c| c.last_error = Some(error.to_owned()));
    }

    /// The wait after the platform refused a shop's credentials `failures` times in a row:
    /// the schedule's interval, doubling with each refusal, up to [`AUTH_BACKOFF_CAP`].
    pub(super) fn auth_backoff(every: Duration, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        every.max(Duration::from_secs(1)).saturating_mul(1u32 << doublings).min(AUTH_BACKOFF_CAP)
    }

    /// The wait after `failures` failures in a row of a loop that never gives up (pulls
    /// have nothing to dead-letter: the next round reads the same window again).
    pub(super) fn loop_backoff(&self, failures: u32, seed: u64) -> Duration {
        let unbounded = Backoff { max_attempts: u32::MAX, ..self.options.backoff };
        unbounded.delay(failures, seed).unwrap_or(unbounded.max_delay)
    }

    /// The wait before a pull loop tries again after its call failed with `e`: a throttle's
    /// own wait; a retriable failure backs off (counted in `failures`, at most the interval);
    /// a permanent one waits the interval.
    fn wait_after_failed_pull(&self, e: &CallError, every: Duration, failures: &mut u32, seed: u64) -> Duration {
        match Verdict::of_call(e) {
            Verdict::Throttled(d, _) => d,
            Verdict::Retry(_) => {
                *failures += 1;
                self.loop_backoff(*failures, seed).min(every.max(self.options.backoff.base))
            }
            Verdict::Permanent(_) => every,
        }
    }

    pub(super) async fn orders_loop(mut self, index: usize, every: Duration) {
        let run = &self.tenant.shops[index];
        let route = self.tenant.route.name();
        let (tenant, shop) = (self.tenant.id.clone(), run.shop.shop_id.clone());
        self.progress.with(&tenant, &shop, |_| {});
        let mut failures = 0u32;
        let mut refused = 0u32;
        loop {
            let mut wait = every;
            let plugin = self.plugin(&run.plugin);
            if let Some(plugin) = plugin
                .as_ref()
                .filter(|_| self.store.switches().module_on(&tenant, &shop, Module::Orders).unwrap_or(true))
            {
                let stop = self.stop.clone();
                let stopping = move || *stop.borrow();
                let mut stream = OrderStream::new(plugin, &run.shop, &self.store, route);
                stream.settle = self.options.settle;
                stream.stopping = &stopping;
                match stream.round(Timestamp::now()).await {
                    Ok(round) => {
                        failures = 0;
                        if refused > 0 {
                            info!(tenant = %tenant, shop = %shop, "the platform takes the shop's credentials again; pulling resumes");
                        }
                        refused = 0;
                        self.progress.with(&tenant, &shop, |c| {
                            c.pulled += round.new + round.changed;
                            c.auth = None;
                        });
                        if !round.caught_up {
                            wait = Duration::ZERO; // more pages wait in this window
                        }
                    }
                    Err(SyncError::Call(e)) if matches!(e.cause, Failure::Plugin(ConnectorError::Auth { .. })) => {
                        let Failure::Plugin(ConnectorError::Auth { message }) = &e.cause else {
                            unreachable!("matched above")
                        };
                        refused += 1;
                        wait = Self::auth_backoff(every, refused);
                        let now = Timestamp::now();
                        let next_try = Timestamp(now.0.saturating_add(wait.as_millis() as i64));
                        tracing::error!(
                            tenant = %tenant, shop = %shop, platform_message = %message, refused, retry_in_s = wait.as_secs(),
                            "the platform refused the shop's credentials; nothing is pulled until they are fixed \
                             (wharf shop update {tenant} {shop} --file …; the shop tries again at once)"
                        );
                        self.note_error(&shop, &e.to_string());
                        let message = message.clone();
                        self.progress.with(&tenant, &shop, |c| {
                            let since = c.auth.as_ref().map_or(now, |a| a.since);
                            c.auth = Some(AuthFailure { message, since, next_try });
                        });
                    }
                    Err(SyncError::Call(e)) => {
                        warn!(tenant = %tenant, shop = %shop, error = %e, "pulling orders failed");
                        self.note_error(&shop, &e.to_string());
                        wait = self.wait_after_failed_pull(&e, every, &mut failures, index as u64);
                    }
                    Err(SyncError::Store(e)) => {
                        warn!(tenant = %tenant, shop = %shop, error = %e, "storing orders failed");
                        self.note_error(&shop, &e.to_string());
                    }
                }
            }
            if sleep_or_stop(&mut self.stop, wait).await {
                return;
            }
        }
    }

    /// A shop's after-sales, for a plugin that pulls them: every round walks the window like
    /// orders. A plugin without them, or the module switched off, leaves the loop idle (it
    /// looks again each interval: a version that adds them is picked up).
    pub(super) async fn after_sales_loop(mut self, index: usize, every: Duration) {
        let run = &self.tenant.shops[index];
        let (tenant, shop) = (self.tenant.id.clone(), run.shop.shop_id.clone());
        let mut failures = 0u32;
        loop {
            let mut wait = every;
            let plugin = self.plugin(&run.plugin).filter(AfterSaleStream::supported);
            if let Some(plugin) = plugin
                .as_ref()
                .filter(|_| self.store.switches().module_on(&tenant, &shop, Module::AfterSales).unwrap_or(true))
            {
                let stop = self.stop.clone();
                let stopping = move || *stop.borrow();
                // Owed to the webhook, or to an ERP plugin that takes after-sales (SAP's returns
                // and credit memo requests); an ERP that pulls reads them by query.
                let order_route = self.tenant.route.name();
                let route = match &self.tenant.route {
                    Route::Plugin { name, .. } => self
                        .plugin(name)
                        .filter(|erp| erp.descriptor().operations.contains(&Operation::PushAfterSales))
                        .and(order_route),
                    Route::Webhook(_) | Route::Pull => order_route,
                };
                let stream = AfterSaleStream {
                    plugin,
                    shop: &run.shop,
                    store: &self.store,
                    route,
                    orders: Some(OrderStream::new(plugin, &run.shop, &self.store, order_route)),
                    walk: Walk {
                        shop: &run.shop,
                        store: &self.store,
                        stream: after_sales::STREAM,
                        overlap: window::DEFAULT_OVERLAP,
                        settle: self.options.settle,
                        first_lookback: window::DEFAULT_FIRST_LOOKBACK,
                        stopping: &stopping,
                    },
                };
                match stream.round(Timestamp::now()).await {
                    Ok(round) => {
                        failures = 0;
                        if !round.caught_up {
                            wait = Duration::ZERO;
                        }
                    }
                    Err(SyncError::Call(e)) => {
                        warn!(tenant = %tenant, shop = %shop, error = %e, "pulling after-sales failed");
                        self.note_error(&shop, &e.to_string());
                        wait = self.wait_after_failed_pull(&e, every, &mut failures, index as u64);
                    }
                    Err(SyncError::Store(e)) => {
                        warn!(tenant = %tenant, shop = %shop, error = %e, "storing after-sales failed");
                        self.note_error(&shop, &e.to_string());
                    }
                }
            }
            if sleep_or_stop(&mut self.stop, wait).await {
                return;
            }
        }
    }

    pub(super) async fn outbound_loop(mut self, index: usize) {
        let run = &self.tenant.shops[index];
        let (tenant, shop) = (self.tenant.id.clone(), run.shop.shop_id.clone());
        self.progress.with(&tenant, &shop, |_| {});
        let woken = self.store.wakeups().shop(&tenant, &shop);
        let mut idle = Idle::default();
        loop {
            let Some(plugin) = self.plugin(&run.plugin) else {
                if sleep_or_stop(&mut self.stop, self.options.tick).await {
                    return;
                }
                continue;
            };
            let stop = self.stop.clone();
            let stopping = move || *stop.borrow();
            let outbound = Outbound {
                stopping: &stopping,
                plugin: &plugin,
                shop: &run.shop,
                platform: &run.platform,
                store: &self.store,
                carriers: &self.tenant.carriers,
                backoff: &self.options.backoff,
            };
            let mut wait = self.options.tick;
            match outbound.round(Timestamp::now()).await {
                Ok(round) => {
                    self.progress.with(&tenant, &shop, |c| c.pushed += round.confirmed);
                    let moved = round.confirmed + round.retried + round.dead_lettered + round.already_shipped;
                    wait = idle.after(moved > 0, self.options.tick);
                    if let Some(d) = round.throttled {
                        info!(tenant = %tenant, shop = %shop, wait_ms = d.as_millis() as u64, "platform throttled pushes; waiting");
                        wait = d;
                    }
                }
                Err(e) => {
                    warn!(tenant = %tenant, shop = %shop, error = %e, "pushing updates failed");
                    self.note_error(&shop, &e.to_string());
                }
            }
            if woken_or_stop(&mut self.stop, wait, &woken).await {
                return;
            }
        }
    }

    pub(super) async fn delivery_loop(mut self) {
        let tenant = self.tenant.id.clone();
        let stop = self.stop.clone();
        let stopping = move || *stop.borrow();
        let woken = self.store.wakeups().deliveries(&tenant);
        let mut idle = Idle::default();
        loop {
            let now = Timestamp::now();
            // An ERP plugin's drain is one batch at a time, so the delivered count moves with
            // every `push-orders` call: a drain of DRAIN_LIMIT deliveries is 25 calls of SAP's
            // deep inserts (a minute or more) during which the ERP's own count rises alone.
            let limit = match &self.tenant.route {
                Route::Plugin { .. } => erp_plugin::BATCH,
                _ => DRAIN_LIMIT,
            };
            let report = match &self.tenant.route {
                Route::Plugin { name, erp } => match self.plugin(name) {
                    Some(plugin) => {
                        let backoff = &self.options.backoff;
                        erp_plugin::drain(&self.store, name, &plugin, erp, backoff, now, limit, &stopping).await
                    }
                    None => Ok(Default::default()),
                },
                Route::Webhook(hook) => {
                    let backoff = &self.options.backoff;
                    webhook::drain_tenant(&self.store, &tenant, hook, backoff, now, DRAIN_LIMIT, &stopping).await
                }
                Route::Pull => return,
            };
            let mut wait = self.options.tick;
            match report {
                Ok(report) => {
                    let handled =
                        report.delivered + report.retried + report.dead_lettered + report.superseded + report.not_taken;
                    wait = idle.after(handled > 0, self.options.tick);
                    if handled >= limit {
                        wait = Duration::ZERO; // more are due: no pause between full drains
                    }
                    for (shop, n) in report.delivered_by_shop {
                        self.progress.with(&tenant, &shop, |c| c.delivered += n);
                    }
                    self.progress.deliveries.record(&report.failures);
                }
                Err(e) => warn!(tenant = %tenant, error = %e, "delivering orders failed"),
            }
            if woken_or_stop(&mut self.stop, wait, &woken).await {
                return;
            }
        }
    }

    pub(super) async fn feed_loop(mut self, module: Module, operation: crate::model::Operation, every: Duration) {
        let Route::Plugin { name, erp } = &self.tenant.route else { return };
        let tenant = self.tenant.id.clone();
        let mut failures = 0u32;
        loop {
            // The serving version may not pull this module (yet): look again next round.
            let Some(plugin) = self.plugin(name).filter(|p| p.descriptor().operations.contains(&operation)) else {
                if sleep_or_stop(&mut self.stop, every).await {
                    return;
                }
                continue;
            };
            let intake = intake(&self.tenant, &self.store, &self.registry);
            let stop = self.stop.clone();
            let stopping = move || *stop.borrow();
            let feed = Feed {
                plugin: &plugin,
                erp,
                store: &self.store,
                intake: &intake,
                module,
                overlap: feed::DEFAULT_OVERLAP,
                first_lookback: feed::DEFAULT_FIRST_LOOKBACK,
                stopping: &stopping,
            };
            let mut wait = every;
            match feed.round(Timestamp::now()).await {
                Ok(round) => {
                    failures = 0;
                    for r in &round.rejected {
                        warn!(tenant = %tenant, %module, index = r.index, reason = %r.reason, "ERP record refused");
                    }
                    if !round.caught_up {
                        wait = Duration::ZERO;
                    }
                }
                Err(SyncError::Call(e)) => {
                    warn!(tenant = %tenant, %module, error = %e, "pulling from the ERP failed");
                    wait = self.wait_after_failed_pull(&e, every, &mut failures, 0);
                }
                Err(SyncError::Store(e)) => warn!(tenant = %tenant, %module, error = %e, "queuing ERP updates failed"),
            }
            if sleep_or_stop(&mut self.stop, wait).await {
                return;
            }
        }
    }
}

/// How long a loop that looks for due work pauses: the tick after a round that moved
/// something, then twice as long after each round that found nothing, up to
/// [`super::IDLE_BACKSTOP`].
#[derive(Default)]
struct Idle {
    rounds: u32,
}

impl Idle {
    fn after(&mut self, moved: bool, tick: Duration) -> Duration {
        self.rounds = if moved { 0 } else { self.rounds.saturating_add(1) };
        let factor = 1u32 << self.rounds.min(16);
        tick.saturating_mul(factor).min(super::IDLE_BACKSTOP.max(tick))
    }
}

/// Sleeps `wait` unless the store signals new due work (see [`crate::store::wakeups`]) or the
/// loop is stopped first; `true` when stopped.
async fn woken_or_stop(
    stop: &mut tokio::sync::watch::Receiver<bool>,
    wait: Duration,
    woken: &tokio::sync::Notify,
) -> bool {
    tokio::select! {
        stopped = sleep_or_stop(stop, wait) => stopped,
        _ = woken.notified() => *stop.borrow(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_credentials_wait_longer_each_time_up_to_the_cap() {
        let every = Duration::from_secs(30);
        let waits: Vec<u64> = (1..=8).map(|n| Ctx::auth_backoff(every, n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(
            Ctx::auth_backoff(Duration::from_secs(1), 1),
            Duration::from_secs(1),
            "never faster than the schedule"
        );
        assert_eq!(Ctx::auth_backoff(every, u32::MAX), AUTH_BACKOFF_CAP, "no overflow");
    }

    #[test]
    fn an_idle_loop_looks_half_as_often_each_round_up_to_the_backstop_and_at_once_after_work() {
        let (tick, mut idle) = (Duration::from_millis(200), Idle::default());
        let waits: Vec<u128> = (0..6).map(|_| idle.after(false, tick).as_millis()).collect();
        assert_eq!(waits, [400, 800, 1_600, 2_000, 2_000, 2_000]);
        assert_eq!(idle.after(true, tick), tick, "work: back to the tick");
        let mut slow = Idle::default();
        assert_eq!(slow.after(false, Duration::from_secs(5)), Duration::from_secs(5), "never faster than the tick");
        for _ in 0..100 {
            idle.after(false, tick); // no overflow
        }
    }

    #[tokio::test]
    async fn a_signal_ends_an_idle_wait_and_one_sent_before_it_is_not_lost() {
        let (_tx, mut rx) = watch::channel(false);
        let woken = tokio::sync::Notify::new();
        woken.notify_one(); // queued while the loop was busy
        let started = tokio::time::Instant::now();
        assert!(!woken_or_stop(&mut rx, Duration::from_secs(3600), &woken).await);
        assert!(started.elapsed() < Duration::from_secs(60), "woken, not the hour");
    }

    #[tokio::test]
    async fn a_stop_cuts_a_wait_short_and_a_stopped_loop_does_not_wait_at_all() {
        let (tx, mut rx) = watch::channel(false);
        assert!(!sleep_or_stop(&mut rx, Duration::from_millis(20)).await, "the wait ran out");
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            tx.send(true).unwrap();
            tx
        });
        let started = tokio::time::Instant::now();
        assert!(sleep_or_stop(&mut rx, Duration::from_secs(3600)).await);
        assert!(started.elapsed() < Duration::from_secs(60), "woken by the stop, not the hour");
        let _tx = stopper.await.unwrap();
        let again = tokio::time::Instant::now();
        assert!(sleep_or_stop(&mut rx, Duration::from_secs(3600)).await);
        assert!(again.elapsed() < Duration::from_secs(60));
    }
}
