//! Keeping a node in step with the others on a shared store: tenants made, changed or removed
//! over another node's API, and plugin versions admitted, activated, rolled back, pinned or
//! granted there, are read back every [`FOLLOW_EVERY`] and applied here.
//!
//! Which node runs a tenant's shops the leases decide ([`crate::cluster`]); every node runs
//! every tenant's setup, so each can take any shop over and answer the API for any tenant.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tracing::{info, warn};

use super::{Control, Origin};
use crate::config::{Tenant, tenant_document};

/// How often a node reads back what other nodes changed: a change made over one node's API
/// serves on the others this long after, at most.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(2);

impl Control {
    /// Until `stop`, applies here what other nodes changed in the shared store (see the
    /// module's documentation). `config_tenants` are the file's, which the store never
    /// overrides. Does nothing on a store no other node shares.
    pub async fn follow(&self, config_tenants: BTreeMap<String, Tenant>, mut stop: watch::Receiver<bool>) {
        let store = self.store().clone();
        if !store.is_shared() {
            return;
        }
        // What this node runs of the API's tenants, as documents.
        let mut applied: HashMap<String, Value> = store.tenants().all().unwrap_or_default().into_iter().collect();
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(FOLLOW_EVERY) => {}
            }
            if *stop.borrow() {
                return;
            }
            let desired = |id: &str| self.desired(&config_tenants, id);
            match self.registry().refresh().await {
                Ok(regranted) => {
                    for name in regranted {
                        if let Err(e) = self.reapply_using(&name, &desired).await {
                            warn!(plugin = %name, error = %e, "tenants using a plugin regranted on another node did not start again");
                        }
                    }
                }
                Err(e) => warn!(error = %e, "reading back the plugins other nodes changed failed"),
            }
            let docs = match store.tenants().all() {
                Ok(docs) => docs,
                Err(e) => {
                    warn!(error = %e, "reading back the tenants other nodes changed failed");
                    continue;
                }
            };
            let seen: Vec<String> = docs.iter().map(|(id, _)| id.clone()).collect();
            for (id, doc) in docs {
                if config_tenants.contains_key(&id) || applied.get(&id) == Some(&doc) {
                    continue;
                }
                match tenant_document::tenant(&doc, &self.registry().names()) {
                    Ok(tenant) => match self.apply(&tenant, Origin::Api).await {
                        Ok(()) => info!(tenant = %id, "tenant made or changed on another node; running it here too"),
                        Err(e) => warn!(tenant = %id, error = %e, "a tenant changed on another node cannot run here"),
                    },
                    Err(e) => warn!(tenant = %id, error = %e, "a tenant changed on another node cannot run here"),
                }
                applied.insert(id, doc);
            }
            let gone: Vec<String> = applied.keys().filter(|id| !seen.contains(id)).cloned().collect();
            for id in gone {
                applied.remove(&id);
                if self.origin(&id) == Some(Origin::Api) && self.remove(&id).await {
                    info!(tenant = %id, "tenant removed on another node; stopped here too");
                }
            }
        }
    }
}
