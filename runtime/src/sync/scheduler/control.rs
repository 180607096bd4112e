//! The scheduler's handle for the HTTP API and tests: tenants started, changed and stopped
//! while the host runs, one change at a time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::watch;
use tracing::warn;

use super::loops::Ctx;
use super::progress::Progress;
use super::setup::{Route, TenantRun, intake, tenant_run};
use super::{Options, SetupError};
use crate::capability::stored::Stored;
use crate::cluster::Cluster;
use crate::config::{Module, Tenant};
use crate::registry::Registry;
use crate::store::Store;
use crate::sync::feed;
use crate::sync::intake::Intake;

/// A loop as a lease runs it.
type BoxedLoop = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Where a running tenant was declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The configuration file: changed by editing the file and restarting.
    Config,
    /// The HTTP API: kept in the store.
    Api,
}

/// A running tenant: its setup and its loops.
pub(super) struct Running {
    pub(super) run: Arc<TenantRun>,
    pub(super) origin: Origin,
    pub(super) stop: watch::Sender<bool>,
    pub(super) tasks: tokio::task::JoinSet<()>,
}

pub(super) struct Shared {
    pub(super) store: Store,
    pub(super) registry: Registry,
    pub(super) options: Options,
    pub(super) progress: Progress,
    pub(super) tenants: Mutex<BTreeMap<String, Running>>,
    /// Set once [`Scheduler::run`](super::Scheduler::run) started: tenants applied from then on start at once.
    pub(super) started: std::sync::atomic::AtomicBool,
    /// This node among the others on the same database (on sled, the only one).
    pub(super) cluster: Cluster,
    /// One tenant change at a time, so two changes of one tenant cannot interleave their loops.
    pub(super) changes: tokio::sync::Mutex<()>,
}

/// The scheduler's handle for everything outside the loops (the HTTP API, tests): updates
/// into a tenant's intake, and tenants added, changed and removed while it runs. Cheap to
/// clone.
#[derive(Clone)]
pub struct Control {
    pub(super) shared: Arc<Shared>,
}

impl Control {
    /// `tenant`'s intake, with its shops as they run now; `None` for a tenant not running.
    pub fn intake(&self, tenant: &str) -> Option<Intake> {
        let run = self.lock().get(tenant)?.run.clone();
        Some(intake(&run, &self.shared.store, &self.shared.registry))
    }

    /// The version of its plugin serving `tenant`'s shop `shop_id` now, and the shop as it
    /// runs (config, secrets, grants): what a call made outside the loops needs.
    pub fn shop(&self, tenant: &str, shop_id: &str) -> Option<(crate::Plugin, crate::Shop)> {
        let run = self.lock().get(tenant)?.run.clone();
        let shop = run.shops.iter().find(|s| s.shop.shop_id == shop_id)?;
        let plugin = self.shared.registry.plugin(&shop.plugin, tenant)?;
        Some((plugin, shop.shop.clone()))
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

    /// The tenant `id` as it should run: from the config file (`config_tenants`), else from
    /// its stored document.
    pub fn desired(&self, config_tenants: &BTreeMap<String, Tenant>, id: &str) -> Option<Tenant> {
        if let Some(t) = config_tenants.get(id) {
            return Some(t.clone());
        }
        let doc = self.shared.store.tenants().get(id).ok()??;
        crate::config::tenant_document::tenant(&doc, &self.shared.registry.names()).ok()
    }

    /// Runs `tenant` as given: a new tenant starts, a running one is stopped (its loops finish
    /// the step they are in) and started again with its new setup.
    pub async fn apply(&self, tenant: &Tenant, origin: Origin) -> Result<(), SetupError> {
        let stored: Arc<dyn Stored> = Arc::new(self.shared.store.clone());
        let run = Arc::new(tenant_run(tenant, &self.shared.registry, Some(stored))?);
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

    pub(super) async fn stop_tenant(&self, tenant: &str) -> bool {
        let Some(mut old) = self.lock().remove(tenant) else { return false };
        let _ = old.stop.send(true);
        while let Some(joined) = old.tasks.join_next().await {
            if let Err(e) = joined {
                warn!(tenant, error = %e, "a loop ended abnormally");
            }
        }
        self.shared.store.wakeups().forget(tenant);
        true
    }

    /// Starts `running`'s loops, each piece of work under its lease (see [`crate::cluster`]):
    /// a shop's two loops together, the tenant's deliveries, and each ERP pull. On sled every
    /// lease is this node's at once.
    pub(super) fn spawn(&self, running: &mut Running) {
        let tenant = running.run.clone();
        let base = Ctx {
            tenant: tenant.clone(),
            store: self.shared.store.clone(),
            registry: self.shared.registry.clone(),
            options: self.shared.options.clone(),
            progress: self.shared.progress.clone(),
            stop: running.stop.subscribe(),
        };
        let cluster = &self.shared.cluster;
        // Loops that call plugins run on the sandbox's threads (no hand-off per call); the
        // deliveries stay here, so pulling shops cannot queue them behind their work.
        let here = tokio::runtime::Handle::current();
        let mut leased =
            |lease: String, on: &tokio::runtime::Handle, start: Box<dyn Fn(Ctx) -> BoxedLoop + Send + Sync>| {
                let (cluster, ctx, stop) = (cluster.clone(), base.clone(), running.stop.subscribe());
                let work = async move { cluster.run_leased(lease, stop, || start(ctx.clone())).await };
                // The caller's subscriber goes with it, so a loop's logs land where the caller's do.
                running.tasks.spawn_on(tracing::instrument::WithSubscriber::with_current_subscriber(work), on);
            };
        let orders_every = tenant.schedule.get(Module::Orders).every();
        let after_sales_every = tenant.schedule.get(Module::AfterSales).every();
        for (index, shop) in tenant.shops.iter().enumerate() {
            leased(
                format!("shop/{}/{}", tenant.id, shop.shop.shop_id),
                crate::sandbox::runtime(),
                Box::new(move |c: Ctx| {
                    let (outbound, after) = (c.clone(), c.clone());
                    Box::pin(async move {
                        let orders = async {
                            if let Some(every) = orders_every {
                                c.orders_loop(index, every).await;
                            }
                        };
                        let after_sales = async {
                            if let Some(every) = after_sales_every {
                                after.after_sales_loop(index, every).await;
                            }
                        };
                        tokio::join!(orders, after_sales, outbound.outbound_loop(index));
                    })
                }),
            );
        }
        if !matches!(tenant.route, Route::Pull) {
            leased(format!("erp/{}/deliveries", tenant.id), &here, Box::new(|c: Ctx| Box::pin(c.delivery_loop())));
        }
        if let Route::Plugin { .. } = &tenant.route {
            for (module, operation) in feed::feeds() {
                if let Some(every) = tenant.schedule.get(module).every() {
                    // Leases are keyed by stored names, as everything in the database is.
                    leased(
                        format!("erp/{}/pull/{}", tenant.id, module.stored()),
                        crate::sandbox::runtime(),
                        Box::new(move |c: Ctx| Box::pin(c.feed_loop(module, operation, every))),
                    );
                }
            }
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.shared.tenants.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;
    use crate::Sandbox;
    use crate::config::Config;
    use crate::limits::Limits;
    use crate::sync::scheduler::Scheduler;

    fn control() -> Control {
        let registry = Registry::fixed(Sandbox::new(Limits::default(), None).unwrap(), &HashMap::new());
        Scheduler::with_registry(registry, Store::temporary().unwrap(), Options::default()).control()
    }

    fn tenant(id: &str) -> Tenant {
        // A shop switched off: the tenant runs without any plugin loaded.
        let text = format!(
            "[[tenants.{id}.shops]]\nid = \"s\"\nplatform = \"taobao\"\nplugin = \"taobao\"\nenabled = false\n[tenants.{id}.pull]\n"
        );
        let config = Config::from_toml_str(&text, Path::new("/srv/wharf"), &["taobao"], &|_| None).unwrap();
        config.tenants().next().expect("one tenant").clone()
    }

    #[tokio::test]
    async fn tenants_come_and_go_with_where_they_were_declared() {
        let control = control();
        control.apply(&tenant("a"), Origin::Config).await.unwrap();
        control.apply(&tenant("b"), Origin::Api).await.unwrap();
        assert_eq!(control.tenants(), [("a".to_owned(), Origin::Config), ("b".to_owned(), Origin::Api)]);
        assert!(control.intake("b").is_some());
        assert!(control.usage("b").is_some_and(|(in_flight, _)| in_flight == 0));

        control.apply(&tenant("b"), Origin::Config).await.unwrap();
        assert_eq!(control.origin("b"), Some(Origin::Config), "applied again, not twice");
        assert_eq!(control.tenants().len(), 2);

        assert!(control.remove("b").await);
        assert!(!control.remove("b").await, "already gone");
        assert!(control.intake("b").is_none());
        assert_eq!(control.tenants(), [("a".to_owned(), Origin::Config)]);
    }

    #[tokio::test]
    async fn a_tenant_that_cannot_be_set_up_leaves_the_running_one_as_it_was() {
        let control = control();
        control.apply(&tenant("a"), Origin::Api).await.unwrap();
        let text = "[[tenants.a.shops]]\nid = \"s\"\nplatform = \"taobao\"\nplugin = \"taobao\"\n[tenants.a.pull]\n";
        let config = Config::from_toml_str(text, Path::new("/srv/wharf"), &["taobao"], &|_| None).unwrap();
        let broken = config.tenants().next().unwrap().clone();
        assert!(matches!(control.apply(&broken, Origin::Api).await, Err(SetupError::MissingPlugin { .. })));
        assert_eq!(control.tenants(), [("a".to_owned(), Origin::Api)], "still running as before");
    }
}
