//! Every tenant's loops on tokio, their progress, and a graceful stop.
//!
//! Per shop, two independent loops: orders in (on the tenant's schedule) and updates out
//! (queued updates, as soon as they are due). Per tenant, one loop delivers orders to the
//! ERP route and, with an ERP plugin, one loop per module pulls the ERP. Each loop waits on
//! its own faults only: a throttled shop slows itself, a down ERP piles up in the durable
//! outbox while pulling goes on, a down platform leaves the ERP side untouched.
//!
//! Stopping lets every loop finish the step it is in (no call is cut off halfway), then
//! flushes the store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::capability::credentials::Secrets;
use crate::capability::http::{HostGrants, RateLimiter};
use crate::config::{CarrierTable, Config, ErpRoute, Module, Tenant};
use crate::erp::{plugin as erp_plugin, webhook};
use crate::model::{ErpStatusCode, Role, Timestamp};
use crate::retry::{Backoff, Verdict};
use crate::store::{Store, StoreError};
use crate::sync::feed::{self, Feed};
use crate::sync::intake::{Intake, Target};
use crate::sync::orders::{OrderStream, SyncError};
use crate::sync::outbound::Outbound;
use crate::{Plugin, Shop};

/// How often the delivery and outbound loops look for due work. A fifth of a second keeps
/// "order stored" → "order at the ERP" well under a second without spinning.
pub const DEFAULT_TICK: Duration = Duration::from_millis(200);
/// Deliveries one drain takes before it yields.
pub const DRAIN_LIMIT: usize = 500;
/// The shop id an ERP plugin's calls are made as (logs and rate limits).
pub const ERP_SHOP: &str = "erp";

/// Why the scheduler could not be set up from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("tenants.{tenant}: plugin `{plugin}` is not loaded")]
    MissingPlugin { tenant: String, plugin: String },
    #[error("tenants.{tenant}: plugin `{plugin}` is a {actual:?} plugin; {place} needs a {wanted:?} plugin")]
    WrongRole { tenant: String, plugin: String, place: String, actual: Role, wanted: Role },
}

/// Knobs of a run.
#[derive(Clone, Debug)]
pub struct Options {
    pub tick: Duration,
    pub backoff: Backoff,
    /// How often a progress line per shop is logged; `None`: never.
    pub progress_every: Option<Duration>,
    /// How far behind "now" order windows end (see [`crate::sync::orders::DEFAULT_SETTLE`]).
    pub settle: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tick: DEFAULT_TICK,
            backoff: Backoff::default(),
            progress_every: Some(Duration::from_secs(5)),
            settle: crate::sync::orders::DEFAULT_SETTLE,
        }
    }
}

struct ShopRun {
    platform: String,
    plugin: Plugin,
    shop: Shop,
}

enum Route {
    Plugin { name: String, plugin: Plugin, erp: Shop },
    Webhook(webhook::Webhook),
    Pull,
}

struct TenantRun {
    id: String,
    shops: Vec<ShopRun>,
    targets: Vec<Target>,
    route: Route,
    schedule: crate::config::Schedule,
    carriers: CarrierTable,
}

/// One shop's figures since start (pending and dead letters are read from the store).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ShopProgress {
    pub tenant: String,
    pub shop: String,
    /// Order versions stored (new and changed).
    pub pulled: usize,
    /// Order versions the ERP has.
    pub delivered: usize,
    /// Updates the platform confirmed.
    pub pushed: usize,
    /// Deliveries and updates still owed.
    pub pending: usize,
    pub dead_lettered: usize,
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Counters {
    pulled: usize,
    delivered: usize,
    pushed: usize,
    last_error: Option<String>,
}

/// Live figures, shared by the loops and whoever shows them.
#[derive(Clone, Default)]
pub struct Progress {
    inner: Arc<Mutex<BTreeMap<(String, String), Counters>>>,
}

impl Progress {
    fn with(&self, tenant: &str, shop: &str, f: impl FnOnce(&mut Counters)) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry((tenant.to_owned(), shop.to_owned())).or_default());
    }

    /// Every shop's figures, with what is pending and dead-lettered read from `store`.
    pub fn snapshot(&self, store: &Store) -> Result<Vec<ShopProgress>, StoreError> {
        let counters: Vec<((String, String), (usize, usize, usize, Option<String>))> = {
            let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            map.iter().map(|(k, c)| (k.clone(), (c.pulled, c.delivered, c.pushed, c.last_error.clone()))).collect()
        };
        let deliveries = store.outbox().pending()?;
        let mut out = Vec::new();
        let mut dead_by_tenant: HashMap<String, Vec<String>> = HashMap::new();
        for ((tenant, shop), (pulled, delivered, pushed, last_error)) in counters {
            let dead = dead_by_tenant.entry(tenant.clone()).or_insert_with(|| {
                let mut shops: Vec<String> = store
                    .outbox()
                    .dead_letters(&tenant)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| l.delivery.key.shop_id)
                    .collect();
                shops.extend(store.pushes().dead_letters(&tenant).unwrap_or_default().into_iter().map(|l| l.push.shop));
                shops
            });
            let owed = deliveries.iter().filter(|d| d.tenant == tenant && d.key.shop_id == shop).count();
            out.push(ShopProgress {
                pending: owed + store.pushes().pending_count(&tenant, &shop)?,
                dead_lettered: dead.iter().filter(|s| **s == shop).count(),
                tenant,
                shop,
                pulled,
                delivered,
                pushed,
                last_error,
            });
        }
        Ok(out)
    }
}

/// Submits updates and switch changes for any tenant the scheduler runs; cheap to clone.
#[derive(Clone)]
pub struct Submitter {
    store: Store,
    targets: Arc<BTreeMap<String, Vec<Target>>>,
}

impl Submitter {
    /// `tenant`'s intake; `None` for a tenant this scheduler does not run.
    pub fn intake(&self, tenant: &str) -> Option<Intake<'_>> {
        let (tenant, shops) = self.targets.get_key_value(tenant)?;
        Some(Intake { store: &self.store, tenant, shops })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Every tenant's loops.
pub struct Scheduler {
    store: Store,
    tenants: Vec<Arc<TenantRun>>,
    options: Options,
    progress: Progress,
}

impl Scheduler {
    /// Sets up every enabled shop of every tenant in `config` with the loaded `plugins` (by
    /// name). Nothing runs until [`Scheduler::run`].
    pub fn new(config: &Config, plugins: &HashMap<String, Plugin>, store: Store, options: Options) -> Result<Self, SetupError> {
        let mut tenants = Vec::new();
        for tenant in config.tenants() {
            tenants.push(Arc::new(tenant_run(tenant, plugins)?));
        }
        Ok(Scheduler { store, tenants, options, progress: Progress::default() })
    }

    /// The door for ERP → marketplace updates from outside the loops (the HTTP API, tests):
    /// usable while the scheduler runs.
    pub fn submitter(&self) -> Submitter {
        Submitter {
            store: self.store.clone(),
            targets: Arc::new(self.tenants.iter().map(|t| (t.id.clone(), t.targets.clone())).collect()),
        }
    }

    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs every loop until `stop` resolves, then lets each finish its step and flushes the
    /// store.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) -> Result<(), StoreError> {
        let (tx, rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        for tenant in &self.tenants {
            for index in 0..tenant.shops.len() {
                if let Some(every) = tenant.schedule.get(Module::Orders).every() {
                    let ctx = self.ctx(tenant, rx.clone());
                    tasks.spawn(async move { ctx.orders_loop(index, every).await });
                }
                let ctx = self.ctx(tenant, rx.clone());
                tasks.spawn(async move { ctx.outbound_loop(index).await });
            }
            if !matches!(tenant.route, Route::Pull) {
                let ctx = self.ctx(tenant, rx.clone());
                tasks.spawn(async move { ctx.delivery_loop().await });
            }
            if let Route::Plugin { plugin, .. } = &tenant.route {
                for (module, operation) in feed::FEEDS {
                    let declared = plugin.descriptor().operations.contains(&operation);
                    let every = Module::from_name(module).and_then(|m| tenant.schedule.get(m).every());
                    if let (true, Some(every)) = (declared, every) {
                        let ctx = self.ctx(tenant, rx.clone());
                        tasks.spawn(async move { ctx.feed_loop(module, operation, every).await });
                    }
                }
            }
        }
        if let Some(every) = self.options.progress_every {
            let (progress, store, mut stop) = (self.progress.clone(), self.store.clone(), rx.clone());
            tasks.spawn(async move {
                loop {
                    if sleep_or_stop(&mut stop, every).await {
                        break;
                    }
                    log_progress(&progress, &store);
                }
            });
        }
        info!(tenants = self.tenants.len(), shops = self.tenants.iter().map(|t| t.shops.len()).sum::<usize>(), "serving");
        stop.await;
        info!("stopping: letting calls in flight finish");
        let _ = tx.send(true);
        while let Some(joined) = tasks.join_next().await {
            if let Err(e) = joined {
                warn!(error = %e, "a loop ended abnormally");
            }
        }
        self.store.flush()?;
        log_progress(&self.progress, &self.store);
        info!("stopped; store flushed");
        Ok(())
    }

    fn ctx(&self, tenant: &Arc<TenantRun>, stop: watch::Receiver<bool>) -> Ctx {
        Ctx { tenant: tenant.clone(), store: self.store.clone(), options: self.options.clone(), progress: self.progress.clone(), stop }
    }
}

fn log_progress(progress: &Progress, store: &Store) {
    match progress.snapshot(store) {
        Ok(shops) => {
            for p in shops {
                info!(
                    target: "wharf::progress",
                    tenant = %p.tenant, shop = %p.shop, pulled = p.pulled, delivered = p.delivered, pushed = p.pushed,
                    pending = p.pending, dead_lettered = p.dead_lettered,
                    "progress"
                );
            }
        }
        Err(e) => warn!(error = %e, "cannot read progress from the store"),
    }
}

/// Sleeps `d` unless stopped first; `true` when stopped.
async fn sleep_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = stop.changed() => true,
        _ = tokio::time::sleep(d) => *stop.borrow(),
    }
}

/// What one loop needs.
struct Ctx {
    tenant: Arc<TenantRun>,
    store: Store,
    options: Options,
    progress: Progress,
    stop: watch::Receiver<bool>,
}

impl Ctx {
    fn note_error(&self, shop: &str, error: &str) {
        self.progress.with(&self.tenant.id, shop, |c| c.last_error = Some(error.to_owned()));
    }

    /// The wait after `failures` failures in a row of a loop that never gives up (pulls
    /// have nothing to dead-letter: the next round reads the same window again).
    fn loop_backoff(&self, failures: u32, seed: u64) -> Duration {
        let unbounded = Backoff { max_attempts: u32::MAX, ..self.options.backoff };
        unbounded.delay(failures, seed).unwrap_or(unbounded.max_delay)
    }

    async fn orders_loop(mut self, index: usize, every: Duration) {
        let run = &self.tenant.shops[index];
        let route = match &self.tenant.route {
            Route::Plugin { name, .. } => Some(name.as_str()),
            Route::Webhook(_) => Some(webhook::ROUTE),
            Route::Pull => None,
        };
        let (tenant, shop) = (self.tenant.id.clone(), run.shop.shop_id.clone());
        self.progress.with(&tenant, &shop, |_| {});
        let mut failures = 0u32;
        loop {
            let mut wait = every;
            if self.store.switches().module_on(&tenant, &shop, "orders").unwrap_or(true) {
                let mut stream = OrderStream::new(&run.plugin, &run.shop, &self.store, route);
                stream.settle = self.options.settle;
                match stream.round(Timestamp::now()).await {
                    Ok(round) => {
                        failures = 0;
                        self.progress.with(&tenant, &shop, |c| c.pulled += round.new + round.changed);
                        if !round.caught_up {
                            wait = Duration::ZERO; // more pages wait in this window
                        }
                    }
                    Err(SyncError::Call(e)) => {
                        warn!(tenant = %tenant, shop = %shop, error = %e, "pulling orders failed");
                        self.note_error(&shop, &e.to_string());
                        wait = match Verdict::of_call(&e) {
                            Verdict::Throttled(d, _) => d,
                            Verdict::Retry(_) => {
                                failures += 1;
                                self.loop_backoff(failures, index as u64).min(every.max(self.options.backoff.base))
                            }
                            Verdict::Permanent(_) => every,
                        };
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

    async fn outbound_loop(mut self, index: usize) {
        let run = &self.tenant.shops[index];
        let (tenant, shop) = (self.tenant.id.clone(), run.shop.shop_id.clone());
        self.progress.with(&tenant, &shop, |_| {});
        loop {
            let outbound = Outbound {
                plugin: &run.plugin,
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
            if sleep_or_stop(&mut self.stop, wait).await {
                return;
            }
        }
    }

    async fn delivery_loop(mut self) {
        let tenant = self.tenant.id.clone();
        loop {
            let now = Timestamp::now();
            let report = match &self.tenant.route {
                Route::Plugin { name, plugin, erp } => {
                    erp_plugin::drain(&self.store, name, plugin, erp, &self.options.backoff, now, DRAIN_LIMIT).await
                }
                Route::Webhook(hook) => {
                    let route_of = |t: &str| (t == tenant).then(|| hook.clone());
                    webhook::drain(&self.store, &route_of, &self.options.backoff, now, DRAIN_LIMIT).await
                }
                Route::Pull => return,
            };
            let mut wait = self.options.tick;
            match report {
                Ok(report) => {
                    let handled = report.delivered + report.retried + report.dead_lettered + report.superseded + report.not_taken;
                    if handled >= DRAIN_LIMIT {
                        wait = Duration::ZERO; // more are due: no pause between full drains
                    }
                    for (shop, n) in report.delivered_by_shop {
                        self.progress.with(&tenant, &shop, |c| c.delivered += n);
                    }
                }
                Err(e) => warn!(tenant = %tenant, error = %e, "delivering orders failed"),
            }
            if sleep_or_stop(&mut self.stop, wait).await {
                return;
            }
        }
    }

    async fn feed_loop(mut self, module: &'static str, operation: crate::model::Operation, every: Duration) {
        let Route::Plugin { plugin, erp, .. } = &self.tenant.route else { return };
        let tenant = self.tenant.id.clone();
        let mut failures = 0u32;
        loop {
            let intake = Intake { store: &self.store, tenant: &tenant, shops: &self.tenant.targets };
            let feed = Feed {
                plugin,
                erp,
                store: &self.store,
                intake: &intake,
                module,
                operation,
                overlap: feed::DEFAULT_OVERLAP,
                first_lookback: feed::DEFAULT_FIRST_LOOKBACK,
            };
            let mut wait = every;
            match feed.round(Timestamp::now()).await {
                Ok(round) => {
                    failures = 0;
                    for r in &round.rejected {
                        warn!(tenant = %tenant, module, index = r.index, reason = %r.reason, "ERP record refused");
                    }
                    if !round.caught_up {
                        wait = Duration::ZERO;
                    }
                }
                Err(SyncError::Call(e)) => {
                    warn!(tenant = %tenant, module, error = %e, "pulling from the ERP failed");
                    wait = match Verdict::of_call(&e) {
                        Verdict::Throttled(d, _) => d,
                        Verdict::Retry(_) => {
                            failures += 1;
                            self.loop_backoff(failures, 0).min(every.max(self.options.backoff.base))
                        }
                        Verdict::Permanent(_) => every,
                    };
                }
                Err(SyncError::Store(e)) => warn!(tenant = %tenant, module, error = %e, "queuing ERP updates failed"),
            }
            if sleep_or_stop(&mut self.stop, wait).await {
                return;
            }
        }
    }
}

/// The plugin config a marketplace shop runs with: the operator's, plus the tenant's ERP
/// status table as `erp_status.<code>` keys (`note` or `move:<status>`), which is how a
/// plugin learns which ERP statuses move the platform order (see `wharf_sdk::status`).
fn shop_config(tenant: &Tenant, config: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = config.clone();
    for code in ErpStatusCode::ALL {
        out.entry(format!("erp_status.{}", code.name())).or_insert_with(|| tenant.erp_status.action(code).to_string());
    }
    out
}

fn shop(tenant: &str, id: &str, plugin: &Plugin, config: BTreeMap<String, String>, secrets: BTreeMap<String, String>) -> Shop {
    let mut grants: Vec<String> = plugin.descriptor().http_hosts.clone();
    grants.extend(HostGrants::hosts_of_urls(config.values()));
    Shop::new(tenant, id)
        .with_config(config)
        .with_secrets(Secrets::new(secrets))
        .with_grants(HostGrants::new(grants))
        .with_rate_limiter(RateLimiter::default())
}

fn tenant_run(tenant: &Tenant, plugins: &HashMap<String, Plugin>) -> Result<TenantRun, SetupError> {
    let find = |name: &str, place: String, wanted: Role| -> Result<Plugin, SetupError> {
        let plugin = plugins
            .get(name)
            .ok_or_else(|| SetupError::MissingPlugin { tenant: tenant.id.clone(), plugin: name.to_owned() })?;
        let actual = plugin.descriptor().role;
        if actual != wanted {
            return Err(SetupError::WrongRole { tenant: tenant.id.clone(), plugin: name.to_owned(), place, actual, wanted });
        }
        Ok(plugin.clone())
    };
    let mut shops = Vec::new();
    for (i, s) in tenant.shops.iter().enumerate().filter(|(_, s)| s.enabled) {
        let plugin = find(&s.plugin, format!("shops[{i}]"), Role::Marketplace)?;
        let shop = shop(&tenant.id, &s.id, &plugin, shop_config(tenant, &s.config), s.secrets.expose_all());
        shops.push(ShopRun { platform: s.platform.clone(), plugin, shop });
    }
    let targets = shops
        .iter()
        .map(|s| Target {
            shop_id: s.shop.shop_id.clone(),
            platform: s.platform.clone(),
            operations: s.plugin.descriptor().operations.clone(),
        })
        .collect();
    let route = match &tenant.erp {
        ErpRoute::Plugin(p) => {
            let plugin = find(&p.plugin, "erp".to_owned(), Role::Erp)?;
            let erp = shop(&tenant.id, ERP_SHOP, &plugin, p.config.clone(), p.secrets.expose_all());
            Route::Plugin { name: p.plugin.clone(), plugin, erp }
        }
        ErpRoute::Webhook(w) => Route::Webhook(webhook::Webhook::new(w.url.as_str(), w.secret.expose().as_bytes().to_vec())),
        ErpRoute::Pull => Route::Pull,
    };
    Ok(TenantRun { id: tenant.id.clone(), shops, targets, route, schedule: tenant.schedule, carriers: tenant.carriers.clone() })
}
