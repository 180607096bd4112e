//! Every tenant's loops on tokio, their progress, and a graceful stop.
//!
//! Per shop, two independent loops: orders in (on the tenant's schedule) and updates out
//! (queued updates, as soon as they are due). Per tenant, one loop delivers orders to the
//! ERP route and, with an ERP plugin, one loop per module pulls the ERP. Each loop waits on
//! its own faults only: a throttled shop slows itself, a down ERP piles up in the durable
//! outbox while pulling goes on, a down platform leaves the ERP side untouched.
//!
//! Stopping lets every loop finish the step it is in (no call is cut off halfway), then
//! flushes the store. A step is bounded whatever the backlog: the loops read due work from
//! the store's indexes a batch at a time and look at the stop signal between batches, so a
//! stop waits for at most the calls in flight.

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
use crate::error::Failure;
use crate::model::{ConnectorError, ErpStatusCode, Role, Timestamp};
use crate::quota::TenantQuota;
use crate::registry::Registry;
use crate::retry::{Backoff, Verdict};
use crate::store::{Store, StoreError};
use crate::sync::feed::{self, Feed};
use crate::sync::intake::{Intake, Target};
use crate::sync::orders::{OrderStream, SyncError};
use crate::sync::outbound::Outbound;
use crate::{Plugin, Sandbox, Shop};

/// How often the delivery and outbound loops look for due work. A fifth of a second keeps
/// "order stored" → "order at the ERP" well under a second without spinning.
pub const DEFAULT_TICK: Duration = Duration::from_millis(200);
/// Deliveries one tenant's drain takes before it yields (webhook route; an ERP plugin's is one
/// `push-orders` batch). Each tenant has its own loop reading its own range of the outbox,
/// so this bounds a step, not anyone else's share.
pub const DRAIN_LIMIT: usize = 500;
/// The shop id an ERP plugin's calls are made as (logs and rate limits).
pub const ERP_SHOP: &str = "erp";
/// The longest a shop whose credentials the platform refuses waits between tries. Retrying a
/// refused token every few seconds is what gets an app banned (Taobao and JD throttle, then
/// suspend, apps that keep calling with bad sessions); waiting long costs nothing, because
/// updating the shop's credentials restarts its loops and they try again at once.
pub const AUTH_BACKOFF_CAP: Duration = Duration::from_secs(15 * 60);

/// Why the scheduler could not be set up from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "tenants.{tenant}: plugin `{plugin}` is not serving (not loaded, or its version from the plugin folder waits for the \
         operator to grant the hosts it declares: see `awaiting_grant` in `wharf plugin list`)"
    )]
    MissingPlugin { tenant: String, plugin: String },
    #[error("tenants.{tenant}: plugin `{plugin}` is a {actual:?} plugin; {place} needs a {wanted:?} plugin")]
    WrongRole { tenant: String, plugin: String, place: String, actual: Role, wanted: Role },
    #[error("cannot set up the sandbox: {0}")]
    Sandbox(String),
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
    /// The plugin's name: the version is looked up in the registry for every round, so a new
    /// active version serves from the next round on without restarting anything.
    plugin: String,
    shop: Shop,
}

enum Route {
    Plugin { name: String, erp: Shop },
    Webhook(webhook::Webhook),
    Pull,
}

struct TenantRun {
    id: String,
    shops: Vec<ShopRun>,
    route: Route,
    schedule: crate::config::Schedule,
    carriers: CarrierTable,
    quota: Arc<TenantQuota>,
}

/// Where a running tenant was declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The configuration file: changed by editing the file and restarting.
    Config,
    /// The HTTP API: kept in the store.
    Api,
}

/// Whether a shop is working, as progress lines, `/metrics` and the API show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShopState {
    /// Pulling as scheduled (a transient failure or a throttle is still `ok`).
    #[default]
    Ok,
    /// The platform refused the shop's credentials: nothing is pulled until they are fixed.
    /// Tries again with a growing wait (up to [`AUTH_BACKOFF_CAP`]), and at once when the
    /// shop's credentials are updated.
    AuthFailed,
    /// The tenant stores as much as its quota allows (`quota.stored_mib`): new orders and
    /// updates are refused until what is owed drains, dead letters are discarded, or the quota
    /// is raised. Everything else goes on.
    OverQuota,
}

impl ShopState {
    pub fn name(self) -> &'static str {
        match self {
            ShopState::Ok => "ok",
            ShopState::AuthFailed => "auth_failed",
            ShopState::OverQuota => "over_quota",
        }
    }
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
    /// Records the plugin could not map, set aside with their reason.
    pub quarantined: usize,
    pub last_error: Option<String>,
    pub state: ShopState,
    /// With `auth_failed`: the platform's own words, when it began, and the next try.
    pub auth_error: Option<String>,
    pub auth_failed_since: Option<Timestamp>,
    pub next_try: Option<Timestamp>,
}

#[derive(Default)]
struct Counters {
    pulled: usize,
    delivered: usize,
    pushed: usize,
    last_error: Option<String>,
    auth: Option<AuthFailure>,
}

/// The platform refused a shop's credentials.
#[derive(Clone)]
struct AuthFailure {
    message: String,
    since: Timestamp,
    next_try: Timestamp,
}

/// Live figures, shared by the loops and whoever shows them.
#[derive(Clone, Default)]
pub struct Progress {
    inner: Arc<Mutex<BTreeMap<(String, String), Counters>>>,
    /// Failed deliveries to the ERP, per tenant and route, for `/metrics`.
    deliveries: Arc<crate::metrics::Deliveries>,
}

impl Progress {
    fn with(&self, tenant: &str, shop: &str, f: impl FnOnce(&mut Counters)) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry((tenant.to_owned(), shop.to_owned())).or_default());
    }

    fn forget(&self, tenant: &str) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).retain(|(t, _), _| t != tenant);
        self.deliveries.forget(tenant);
    }

    /// Failed deliveries to the ERP, per tenant and route.
    pub fn deliveries(&self) -> &Arc<crate::metrics::Deliveries> {
        &self.deliveries
    }

    /// Every shop's figures, with what is pending and dead-lettered read from `store`.
    pub fn snapshot(&self, store: &Store) -> Result<Vec<ShopProgress>, StoreError> {
        type Figures = (usize, usize, usize, Option<String>, Option<AuthFailure>);
        let counters: Vec<((String, String), Figures)> = {
            let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            map.iter()
                .map(|(k, c)| (k.clone(), (c.pulled, c.delivered, c.pushed, c.last_error.clone(), c.auth.clone())))
                .collect()
        };
        let mut deliveries: HashMap<String, HashMap<String, usize>> = HashMap::new();
        let mut over_quota: HashMap<String, bool> = HashMap::new();
        let mut out = Vec::new();
        let mut dead_by_tenant: HashMap<String, Vec<String>> = HashMap::new();
        for ((tenant, shop), (pulled, delivered, pushed, last_error, auth)) in counters {
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
            if !deliveries.contains_key(&tenant) {
                deliveries.insert(tenant.clone(), store.outbox().pending_by_shop(&tenant)?);
            }
            let owed = deliveries[&tenant].get(&shop).copied().unwrap_or(0);
            let over = *over_quota.entry(tenant.clone()).or_insert_with(|| store.usage().admit(&tenant).is_err());
            let state = match (&auth, over) {
                (Some(_), _) => ShopState::AuthFailed,
                (None, true) => ShopState::OverQuota,
                (None, false) => ShopState::Ok,
            };
            out.push(ShopProgress {
                pending: owed + store.pushes().pending_count(&tenant, &shop)?,
                dead_lettered: dead.iter().filter(|s| **s == shop).count(),
                quarantined: store.quarantine().list(&tenant, Some(&shop))?.len(),
                tenant,
                shop,
                pulled,
                delivered,
                pushed,
                last_error,
                state,
                auth_error: auth.as_ref().map(|a| a.message.clone()),
                auth_failed_since: auth.as_ref().map(|a| a.since),
                next_try: auth.map(|a| a.next_try),
            });
        }
        Ok(out)
    }
}

/// A running tenant: its setup and its loops.
struct Running {
    run: Arc<TenantRun>,
    origin: Origin,
    stop: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
}

struct Shared {
    store: Store,
    registry: Registry,
    options: Options,
    progress: Progress,
    tenants: Mutex<BTreeMap<String, Running>>,
    /// Set once [`Scheduler::run`] started: tenants applied from then on start at once.
    started: std::sync::atomic::AtomicBool,
    /// One tenant change at a time, so two changes of one tenant cannot interleave their loops.
    changes: tokio::sync::Mutex<()>,
}

/// The scheduler's handle for everything outside the loops (the HTTP API, tests): updates
/// into a tenant's intake, and tenants added, changed and removed while it runs. Cheap to
/// clone.
#[derive(Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

impl Control {
    /// `tenant`'s intake, with its shops as they run now; `None` for a tenant not running.
    pub fn intake(&self, tenant: &str) -> Option<Intake> {
        let run = self.lock().get(tenant)?.run.clone();
        Some(intake(&run, &self.shared.store, &self.shared.registry))
    }

    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    pub fn progress(&self) -> &Progress {
        &self.shared.progress
    }

    /// The running tenants and where each was declared.
    pub fn tenants(&self) -> Vec<(String, Origin)> {
        self.lock().iter().map(|(id, r)| (id.clone(), r.origin)).collect()
    }

    pub fn origin(&self, tenant: &str) -> Option<Origin> {
        self.lock().get(tenant).map(|r| r.origin)
    }

    /// The tenant's calls in flight now, and its quota.
    pub fn usage(&self, tenant: &str) -> Option<(usize, crate::config::Quota)> {
        self.lock().get(tenant).map(|r| (r.run.quota.in_flight(), r.run.quota.quota()))
    }

    /// Runs `tenant` as given: a new tenant starts, a running one is stopped (its loops finish
    /// the step they are in) and started again with its new setup.
    pub async fn apply(&self, tenant: &Tenant, origin: Origin) -> Result<(), SetupError> {
        let run = Arc::new(tenant_run(tenant, &self.shared.registry)?);
        let _one_at_a_time = self.shared.changes.lock().await;
        self.stop_tenant(&tenant.id).await;
        self.shared.store.usage().set_quota(&tenant.id, Some(tenant.quota.stored_bytes()));
        let (stop, _) = watch::channel(false);
        let mut running = Running { run, origin, stop, tasks: tokio::task::JoinSet::new() };
        if self.shared.started.load(std::sync::atomic::Ordering::SeqCst) {
            self.spawn(&mut running);
        }
        self.lock().insert(tenant.id.clone(), running);
        Ok(())
    }

    /// Stops `tenant`'s loops (each finishes its step) and forgets its figures; its stored
    /// data stays. `false` when it was not running.
    pub async fn remove(&self, tenant: &str) -> bool {
        let _one_at_a_time = self.shared.changes.lock().await;
        let was = self.stop_tenant(tenant).await;
        self.shared.progress.forget(tenant);
        self.shared.store.usage().set_quota(tenant, None);
        was
    }

    /// Applies again every tenant whose shops or ERP use plugin `name` (after its grants
    /// changed, say).
    pub async fn reapply_using(
        &self,
        name: &str,
        tenants: &(dyn Fn(&str) -> Option<Tenant> + Sync),
    ) -> Result<(), SetupError> {
        let using: Vec<(String, Origin)> = self
            .lock()
            .iter()
            .filter(|(_, r)| {
                r.run.shops.iter().any(|s| s.plugin == name)
                    || matches!(&r.run.route, Route::Plugin { name: n, .. } if n == name)
            })
            .map(|(id, r)| (id.clone(), r.origin))
            .collect();
        for (id, origin) in using {
            if let Some(tenant) = tenants(&id) {
                self.apply(&tenant, origin).await?;
            }
        }
        Ok(())
    }

    async fn stop_tenant(&self, tenant: &str) -> bool {
        let Some(mut old) = self.lock().remove(tenant) else { return false };
        let _ = old.stop.send(true);
        while let Some(joined) = old.tasks.join_next().await {
            if let Err(e) = joined {
                warn!(tenant, error = %e, "a loop ended abnormally");
            }
        }
        true
    }

    fn spawn(&self, running: &mut Running) {
        let tenant = &running.run;
        let ctx = |stop: &watch::Sender<bool>| Ctx {
            tenant: tenant.clone(),
            store: self.shared.store.clone(),
            registry: self.shared.registry.clone(),
            options: self.shared.options.clone(),
            progress: self.shared.progress.clone(),
            stop: stop.subscribe(),
        };
        for index in 0..tenant.shops.len() {
            if let Some(every) = tenant.schedule.get(Module::Orders).every() {
                let c = ctx(&running.stop);
                running.tasks.spawn(async move { c.orders_loop(index, every).await });
            }
            let c = ctx(&running.stop);
            running.tasks.spawn(async move { c.outbound_loop(index).await });
        }
        if !matches!(tenant.route, Route::Pull) {
            let c = ctx(&running.stop);
            running.tasks.spawn(async move { c.delivery_loop().await });
        }
        if let Route::Plugin { .. } = &tenant.route {
            for (module, operation) in feed::FEEDS {
                if let Some(every) = Module::from_name(module).and_then(|m| tenant.schedule.get(m).every()) {
                    let c = ctx(&running.stop);
                    running.tasks.spawn(async move { c.feed_loop(module, operation, every).await });
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.shared.tenants.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every tenant's loops.
pub struct Scheduler {
    control: Control,
}

impl Scheduler {
    /// Sets up every enabled shop of every tenant in `config` with the loaded `plugins` (by
    /// name), served as they are (no registry on disk). Nothing runs until [`Scheduler::run`].
    pub async fn new(
        config: &Config,
        plugins: &HashMap<String, Plugin>,
        store: Store,
        options: Options,
    ) -> Result<Self, SetupError> {
        let sandbox = match plugins.values().next() {
            Some(p) => p.sandbox().clone(),
            None => {
                Sandbox::new(crate::limits::Limits::default(), None).map_err(|e| SetupError::Sandbox(e.to_string()))?
            }
        };
        let scheduler = Scheduler::with_registry(Registry::fixed(sandbox, plugins), store, options);
        for tenant in config.tenants() {
            scheduler.control.apply(tenant, Origin::Config).await?;
        }
        Ok(scheduler)
    }

    /// A scheduler with no tenants yet, serving plugins from `registry`; add tenants with
    /// [`Control::apply`], before or after [`Scheduler::run`].
    pub fn with_registry(registry: Registry, store: Store, options: Options) -> Self {
        let shared = Shared {
            store,
            registry,
            options,
            progress: Progress::default(),
            tenants: Mutex::new(BTreeMap::new()),
            started: Default::default(),
            changes: Default::default(),
        };
        Scheduler { control: Control { shared: Arc::new(shared) } }
    }

    pub fn control(&self) -> Control {
        self.control.clone()
    }

    pub fn progress(&self) -> Progress {
        self.control.shared.progress.clone()
    }

    pub fn store(&self) -> &Store {
        &self.control.shared.store
    }

    /// Runs every loop until `stop` resolves, then lets each finish its step and flushes the
    /// store. A last flush that fails is logged, not returned: whatever was acknowledged was on
    /// disk before its answer, so the stop itself went well.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) -> Result<(), StoreError> {
        let control = self.control;
        let shared = control.shared.clone();
        {
            let _one_at_a_time = shared.changes.lock().await;
            shared.started.store(true, std::sync::atomic::Ordering::SeqCst);
            let mut tenants = control.lock();
            for running in tenants.values_mut() {
                control.spawn(running);
            }
        }
        let (tx, rx) = watch::channel(false);
        let mut progress_task = None;
        if let Some(every) = shared.options.progress_every {
            let (progress, store, mut stop) = (shared.progress.clone(), shared.store.clone(), rx.clone());
            progress_task = Some(tokio::spawn(async move {
                loop {
                    if sleep_or_stop(&mut stop, every).await {
                        break;
                    }
                    log_progress(&progress, &store);
                }
            }));
        }
        {
            let tenants = control.lock();
            info!(
                tenants = tenants.len(),
                shops = tenants.values().map(|t| t.run.shops.len()).sum::<usize>(),
                "serving"
            );
        }
        stop.await;
        info!("stopping: letting calls in flight finish");
        let _ = tx.send(true);
        let ids: Vec<String> = control.lock().keys().cloned().collect();
        {
            let _one_at_a_time = shared.changes.lock().await;
            shared.started.store(false, std::sync::atomic::Ordering::SeqCst);
            for id in ids {
                control.stop_tenant(&id).await;
            }
        }
        if let Some(task) = progress_task {
            let _ = task.await;
        }
        if let Some(why) = shared.store.unwritable() {
            // No last reads either: sled can spin on a read of a database whose writes failed.
            tracing::error!(
                error = %why,
                "stopped, but the last flush failed (the store cannot write): acknowledged writes were on disk already; the engine's progress since the last flush is redone at the next start"
            );
            return Ok(());
        }
        log_progress(&shared.progress, &shared.store);
        match shared.store.flush() {
            Ok(()) => info!("stopped; store flushed"),
            // Everything acknowledged was on disk already (each answer waited for it); what
            // the last flush held is the engine's own progress, which the next start redoes.
            Err(e) => tracing::error!(
                error = %e,
                "stopped, but the last flush failed: acknowledged writes were on disk already; the engine's progress since the last flush is redone at the next start"
            ),
        }
        Ok(())
    }
}

/// The tenant's intake, with what each shop's serving plugin version can do.
fn intake(run: &TenantRun, store: &Store, registry: &Registry) -> Intake {
    let shops: Vec<Target> = run
        .shops
        .iter()
        .map(|s| Target {
            shop_id: s.shop.shop_id.clone(),
            platform: s.platform.clone(),
            operations: registry
                .plugin(&s.plugin, &run.id)
                .map(|p| p.descriptor().operations.clone())
                .unwrap_or_default(),
        })
        .collect();
    Intake { store: store.clone(), tenant: run.id.clone(), shops: shops.into() }
}

fn log_progress(progress: &Progress, store: &Store) {
    match progress.snapshot(store) {
        Ok(shops) => {
            for p in shops {
                info!(
                    target: "wharf::progress",
                    tenant = %p.tenant, shop = %p.shop, state = p.state.name(), pulled = p.pulled, delivered = p.delivered,
                    pushed = p.pushed, pending = p.pending, dead_lettered = p.dead_lettered,
                    auth_error = p.auth_error.as_deref().unwrap_or(""),
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
    registry: Registry,
    options: Options,
    progress: Progress,
    stop: watch::Receiver<bool>,
}

impl Ctx {
    /// The version of plugin `name` serving this tenant now.
    fn plugin(&self, name: &str) -> Option<Plugin> {
        let plugin = self.registry.plugin(name, &self.tenant.id);
        if plugin.is_none() {
            warn!(tenant = %self.tenant.id, plugin = name, "no version of the plugin serves this tenant");
        }
        plugin
    }

    fn note_error(&self, shop: &str, error: &str) {
        self.progress.with(&self.tenant.id, shop, |c| c.last_error = Some(error.to_owned()));
    }

    /// The wait after the platform refused a shop's credentials `failures` times in a row:
    /// the schedule's interval, doubling with each refusal, up to [`AUTH_BACKOFF_CAP`].
    fn auth_backoff(every: Duration, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        every.max(Duration::from_secs(1)).saturating_mul(1u32 << doublings).min(AUTH_BACKOFF_CAP)
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
        let mut refused = 0u32;
        loop {
            let mut wait = every;
            let plugin = self.plugin(&run.plugin);
            if let Some(plugin) =
                plugin.as_ref().filter(|_| self.store.switches().module_on(&tenant, &shop, "orders").unwrap_or(true))
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
        let stop = self.stop.clone();
        let stopping = move || *stop.borrow();
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
            if sleep_or_stop(&mut self.stop, wait).await {
                return;
            }
        }
    }

    async fn feed_loop(mut self, module: &'static str, operation: crate::model::Operation, every: Duration) {
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
                operation,
                overlap: feed::DEFAULT_OVERLAP,
                first_lookback: feed::DEFAULT_FIRST_LOOKBACK,
                stopping: &stopping,
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

/// A shop as its loops call it: its grants are the hosts the operator granted the plugin name,
/// plus the shop's own `grants` (where its endpoint is, `127.0.0.1:8080` say). A URL in its
/// config grants nothing: config is what the plugin reads, not what it may reach.
fn shop(
    tenant: &str,
    id: &str,
    grants: Vec<String>,
    config: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    quota: &Arc<TenantQuota>,
) -> Shop {
    Shop::new(tenant, id)
        .with_config(config)
        .with_secrets(Secrets::new(secrets))
        .with_grants(HostGrants::new(grants))
        .with_rate_limiter(RateLimiter::default())
        .with_quota(quota.clone())
}

fn tenant_run(tenant: &Tenant, registry: &Registry) -> Result<TenantRun, SetupError> {
    let check = |name: &str, place: String, wanted: Role| -> Result<Vec<String>, SetupError> {
        let plugin = registry
            .plugin(name, &tenant.id)
            .ok_or_else(|| SetupError::MissingPlugin { tenant: tenant.id.clone(), plugin: name.to_owned() })?;
        let actual = plugin.descriptor().role;
        if actual != wanted {
            return Err(SetupError::WrongRole {
                tenant: tenant.id.clone(),
                plugin: name.to_owned(),
                place,
                actual,
                wanted,
            });
        }
        Ok(registry.grants(name))
    };
    let quota = Arc::new(TenantQuota::new(tenant.quota));
    let mut shops = Vec::new();
    for (i, s) in tenant.shops.iter().enumerate().filter(|(_, s)| s.enabled) {
        let mut grants = check(&s.plugin, format!("shops[{i}]"), Role::Marketplace)?;
        grants.extend(s.grants.iter().cloned());
        let shop = shop(&tenant.id, &s.id, grants, shop_config(tenant, &s.config), s.secrets.expose_all(), &quota);
        shops.push(ShopRun { platform: s.platform.clone(), plugin: s.plugin.clone(), shop });
    }
    let route = match &tenant.erp {
        ErpRoute::Plugin(p) => {
            let mut grants = check(&p.plugin, "erp".to_owned(), Role::Erp)?;
            grants.extend(p.grants.iter().cloned());
            let erp = shop(&tenant.id, ERP_SHOP, grants, p.config.clone(), p.secrets.expose_all(), &quota);
            Route::Plugin { name: p.plugin.clone(), erp }
        }
        ErpRoute::Webhook(w) => {
            let previous = w.previous.iter().map(|(_, s)| s.expose().as_bytes().to_vec());
            Route::Webhook(
                webhook::Webhook::new(w.url.as_str(), w.secret.expose().as_bytes().to_vec())
                    .with_previous_secrets(previous),
            )
        }
        ErpRoute::Pull => Route::Pull,
    };
    Ok(TenantRun {
        id: tenant.id.clone(),
        shops,
        route,
        schedule: tenant.schedule,
        carriers: tenant.carriers.clone(),
        quota,
    })
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
}
