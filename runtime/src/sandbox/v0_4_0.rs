//! Contract `wharf:connector@0.4.0` (`wit/since_v0.4.0`), the latest: the `stored` import,
//! which tells a marketplace plugin which versions of the shop's orders the host already
//! stores. Every export and type is 0.3.0's (`since_v0_2_0!`, `since_v0_3_0!`).

use super::state::CallState;
use super::{Call, Outcome, Reply};
use crate::capability::{config, credentials as cred, http as host_http, log as host_log, stored as host_stored};
use crate::engine::Engine;
use crate::error::LoadError;
use crate::model as m;
use std::sync::Arc;
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

pub const CONTRACT: &str = "0.4.0";
const MARKETPLACE_EXPORT: &str = "wharf:connector/marketplace-connector@0.4.0";
const ERP_EXPORT: &str = "wharf:connector/erp-connector@0.4.0";

mod marketplace {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.4.0",
        world: "marketplace",
        imports: {
            // Both may do heavy or slow work: async, so it runs off the store's thread and the
            // deadline can cut it; trappable, so the deadline is checked when they return.
            "wharf:connector/http.send": async | trappable,
            "wharf:connector/credentials.sign": async | trappable,
            // Reads the store (on PostgreSQL a round trip): async, cut at the deadline;
            // trappable, since asking past the contract's limit is the plugin breaking it.
            "wharf:connector/stored.order-versions": async | trappable,
            // Not traced: wasmtime's tracing would log the message unscrubbed; the host logs it
            // itself, scrubbed.
            "wharf:connector/log.log": exact,
            default: tracing,
        },
        exports: { default: async },
    });
}

mod erp {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.4.0",
        world: "erp",
        exports: { default: async },
        with: {
            "wharf:connector/types": super::marketplace::wharf::connector::types,
            "wharf:connector/http": super::marketplace::wharf::connector::http,
            "wharf:connector/credentials": super::marketplace::wharf::connector::credentials,
            "wharf:connector/config": super::marketplace::wharf::connector::config,
            "wharf:connector/log": super::marketplace::wharf::connector::log,
        },
    });
}

use marketplace::wharf::connector::{
    config as w_config, credentials as w_cred, http as w_http, log as w_log, stored as w_stored, types as w,
};

super::contract::since_v0_2_0!($);
super::contract::since_v0_3_0!();
super::contract::contract!($;
    PullAfterSales, GetAfterSale, PushAfterSaleActions, DecryptReceivers, PushInvoices, PushAfterSales, PullInvoices,
);

impl w_stored::Host for CallState {
    async fn order_versions(&mut self, order_ids: Vec<String>) -> wasmtime::Result<Vec<Option<i64>>> {
        let asked = order_ids.len();
        if self.shop.stored.is_none() || asked > host_stored::MAX_IDS {
            // Nothing to read (a tool's shop), or refused: answered here, no thread hand-off.
            return host_stored::order_versions(&self.shop, &self.descriptor.platform, &order_ids)
                .map_err(|e| wasmtime::Error::msg(e.to_string()));
        }
        // The store may block (PostgreSQL): on the blocking pool, its time charged to the call
        // (a plugin asking in a loop spends its own tenant's CPU budget), cut at the deadline.
        let (shop, platform) = (self.shop.clone(), self.descriptor.platform.clone());
        let work = move || host_stored::order_versions(&shop, &platform, &order_ids);
        let read = tokio::task::spawn_blocking(super::cpu::metered(work));
        let read = tokio::time::timeout(self.time_left(), read).await;
        self.check_deadline()?;
        match read {
            Ok(Ok(Ok(versions))) => Ok(versions),
            // Not the plugin's fault, and "stores none" is always safe to answer: the plugin
            // fetches what it listed, as before 0.4.0, at the cost of platform calls.
            Ok(Ok(Err(unreadable))) => {
                tracing::warn!(
                    tenant = %self.shop.tenant, shop = %self.shop.shop_id, error = %unreadable,
                    "stored versions unreadable; the plugin fetches every order it lists"
                );
                Ok(vec![None; asked])
            }
            Ok(Err(join)) => Err(wasmtime::Error::msg(format!("reading the store failed in the host: {join}"))),
            Err(_) => Err(wasmtime::Error::new(super::state::DeadlineExceeded)),
        }
    }
}
