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
//!
//! - [`setup`]: a tenant's configuration turned into what its loops run;
//! - [`control`]: tenants started, changed and stopped while the host runs;
//! - [`follow`]: on a shared store, what other nodes changed (tenants, plugins) applied here too;
//! - [`loops`]: the loops themselves, one per shop and direction, one per ERP module;
//! - [`progress`]: the live figures the loops keep, as `/metrics`, the API and log lines show them.

mod control;
mod follow;
mod loops;
mod progress;
mod setup;

pub use control::{Control, Origin};
pub use follow::FOLLOW_EVERY;
pub use progress::{Progress, ShopProgress, ShopState};
pub use setup::SetupError;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tracing::info;

use crate::config::Config;
use crate::registry::Registry;
use crate::retry::Backoff;
use crate::store::{Store, StoreError};
use crate::{Plugin, Sandbox};
use control::Shared;
use loops::sleep_or_stop;
use progress::log_progress;

/// How often the delivery and outbound loops look for due work. A fifth of a second keeps
/// "order stored" → "order at the ERP" well under a second without spinning.
pub const DEFAULT_TICK: Duration = Duration::from_millis(200);
/// The longest an outbound or delivery loop that found nothing to do sleeps before it looks
/// again. Work queued through this node's store wakes it at once ([`crate::store::wakeups`]);
/// this backstop bounds what cannot: a retry coming due, an update queued by another node on
/// a shared database. An idle loop's pause doubles from the tick up to it, so ten thousand idle
/// shops look ten times less often than every tick (the `tenants` bench), and a retry or
/// another node's update waits at most two seconds more than it would have.
pub const IDLE_BACKSTOP: Duration = Duration::from_secs(2);
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
            cluster: crate::cluster::Cluster::of(&store),
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
                node = shared.cluster.node(),
                shared_store = shared.cluster.is_shared(),
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
