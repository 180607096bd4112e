//! Contract `wharf:connector@0.3.0` (`wit/since_v0.3.0`), the latest: after-sales and the
//! merchant's answers, receivers decrypted for waybills, invoices; batch limits in the
//! descriptor. Everything 0.2.0 had converts as it did (`since_v0_2_0!`).

use super::state::CallState;
use super::{Call, Outcome, Reply};
use crate::capability::{config, credentials as cred, http as host_http, log as host_log};
use crate::engine::Engine;
use crate::error::LoadError;
use crate::model as m;
use std::sync::Arc;
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

pub const CONTRACT: &str = "0.3.0";
const MARKETPLACE_EXPORT: &str = "wharf:connector/marketplace-connector@0.3.0";
const ERP_EXPORT: &str = "wharf:connector/erp-connector@0.3.0";

mod marketplace {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.3.0",
        world: "marketplace",
        imports: {
            // Both may do heavy or slow work: async, so it runs off the store's thread and the
            // deadline can cut it; trappable, so the deadline is checked when they return.
            "wharf:connector/http.send": async | trappable,
            "wharf:connector/credentials.sign": async | trappable,
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
        path: "../wit/since_v0.3.0",
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
    config as w_config, credentials as w_cred, http as w_http, log as w_log, types as w,
};

super::contract::since_v0_2_0!($);
super::contract::since_v0_3_0!();
super::contract::contract!($;
    PullAfterSales, GetAfterSale, PushAfterSaleActions, DecryptReceivers, PushInvoices, PushAfterSales, PullInvoices,
);
