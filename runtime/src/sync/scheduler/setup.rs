//! A tenant's configuration turned into what its loops run: its shops with their grants,
//! secrets and quota, and its ERP route.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::ERP_SHOP;
use crate::Shop;
use crate::capability::credentials::Secrets;
use crate::capability::grants::HostGrants;
use crate::capability::stored::Stored;
use crate::config::{CarrierTable, ErpRoute, Tenant};
use crate::erp::webhook;
use crate::model::{ErpStatusCode, Role};
use crate::quota::TenantQuota;
use crate::ratelimit::RateLimiter;
use crate::registry::Registry;
use crate::store::Store;
use crate::sync::intake::{Intake, Target};

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

pub(super) struct ShopRun {
    pub(super) platform: String,
    /// The plugin's name: the version is looked up in the registry for every round, so a new
    /// active version serves from the next round on without restarting anything.
    pub(super) plugin: String,
    pub(super) shop: Shop,
}

pub(super) enum Route {
    Plugin { name: String, erp: Shop },
    Webhook(webhook::Webhook),
    Pull,
}

impl Route {
    /// The name the outbox owes deliveries to on this route (the ERP plugin's, or the
    /// webhook's); `None` when the ERP pulls.
    pub(super) fn name(&self) -> Option<&str> {
        match self {
            Route::Plugin { name, .. } => Some(name),
            Route::Webhook(_) => Some(webhook::ROUTE),
            Route::Pull => None,
        }
    }
}

pub(super) struct TenantRun {
    pub(super) id: String,
    pub(super) shops: Vec<ShopRun>,
    pub(super) route: Route,
    pub(super) schedule: crate::config::Schedule,
    pub(super) carriers: CarrierTable,
    pub(super) quota: Arc<TenantQuota>,
}

/// The tenant's intake, with what each shop's serving plugin version can do.
pub(super) fn intake(run: &TenantRun, store: &Store, registry: &Registry) -> Intake {
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

/// The plugin config a marketplace shop runs with: the operator's, plus the tenant's ERP
/// status table as `erp_status.<code>` keys (`note` or `move:<status>`), which is how a
/// plugin learns which ERP statuses move the platform order (see `wharf_sdk::status`).
pub(super) fn shop_config(tenant: &Tenant, config: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = config.clone();
    for code in ErpStatusCode::ALL {
        out.entry(format!("erp_status.{}", code.name())).or_insert_with(|| tenant.erp_status.action(code).to_string());
    }
    out
}

/// A shop as its loops call it: its grants are the hosts the operator granted the plugin name,
/// plus the shop's own `grants` (where its endpoint is, `127.0.0.1:8080` say). A URL in its
/// config grants nothing: config is what the plugin reads, not what it may reach.
pub(super) fn shop(
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

/// `stored` is what the tenant's marketplace plugins may ask the host stores
/// ([`crate::capability::stored`]): the host's store; `None` in tests that set up no store.
pub(super) fn tenant_run(
    tenant: &Tenant,
    registry: &Registry,
    stored: Option<Arc<dyn Stored>>,
) -> Result<TenantRun, SetupError> {
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
        let mut shop = shop(&tenant.id, &s.id, grants, shop_config(tenant, &s.config), s.secrets.expose_all(), &quota);
        if let Some(stored) = &stored {
            shop = shop.with_stored(stored.clone());
        }
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
                    .with_previous_secrets(previous)
                    .with_batch(w.batch),
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
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;
    use crate::Sandbox;
    use crate::config::Config;
    use crate::limits::Limits;

    fn tenant(text: &str) -> Tenant {
        let config = Config::from_toml_str(text, Path::new("/srv/wharf"), &["taobao"], &|_| None).unwrap();
        config.tenants().next().expect("one tenant").clone()
    }

    fn empty_registry() -> Registry {
        Registry::fixed(Sandbox::new(Limits::default(), None).unwrap(), &HashMap::new())
    }

    #[test]
    fn a_shop_reads_the_tenants_erp_status_table_unless_its_operator_set_a_code() {
        let tenant =
            tenant("[[tenants.a.shops]]\nid = \"s\"\nplatform = \"taobao\"\nplugin = \"taobao\"\n[tenants.a.pull]\n");
        let first = ErpStatusCode::ALL[0];
        let own = BTreeMap::from([
            ("endpoint".to_owned(), "https://gw".to_owned()),
            (format!("erp_status.{}", first.name()), "operator's".to_owned()),
        ]);
        let config = shop_config(&tenant, &own);
        assert_eq!(config["endpoint"], "https://gw");
        assert_eq!(config[&format!("erp_status.{}", first.name())], "operator's");
        for code in &ErpStatusCode::ALL[1..] {
            assert_eq!(config[&format!("erp_status.{}", code.name())], tenant.erp_status.action(*code).to_string());
        }
        assert_eq!(config.len(), 1 + ErpStatusCode::ALL.len());
    }

    #[test]
    fn a_tenant_whose_plugin_is_not_serving_is_refused_by_name() {
        let tenant =
            tenant("[[tenants.a.shops]]\nid = \"s\"\nplatform = \"taobao\"\nplugin = \"taobao\"\n[tenants.a.pull]\n");
        let Err(error) = tenant_run(&tenant, &empty_registry(), None) else { panic!("set up without its plugin") };
        assert!(matches!(&error, SetupError::MissingPlugin { tenant, plugin } if tenant == "a" && plugin == "taobao"));
        assert!(error.to_string().contains("awaiting_grant"), "{error}");
    }

    #[test]
    fn a_disabled_shop_needs_no_plugin_and_runs_no_loop() {
        let text = "[[tenants.a.shops]]\nid = \"s\"\nplatform = \"taobao\"\nplugin = \"taobao\"\nenabled = false\n[tenants.a.pull]\n";
        let run = tenant_run(&tenant(text), &empty_registry(), None).unwrap();
        assert!(run.shops.is_empty());
        assert!(matches!(run.route, Route::Pull));
    }
}
