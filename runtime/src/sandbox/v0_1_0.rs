//! Contract `wharf:connector@0.1.0` (`wit/since_v0.1.0`), frozen: plugins built against it
//! keep loading and running beside newer ones. What it lacks against the latest: the order
//! status `held` (a held order is not sent to a 0.1.0 ERP plugin; it is answered `unsupported`
//! and dead-lettered with that reason), and `rejected` records (a 0.1.0 plugin fails the call
//! where a 0.2.0 one would reject one record).

use super::state::CallState;
use super::{Call, Outcome, Reply};
use crate::capability::{config, credentials as cred, http as host_http, log as host_log};
use crate::engine::Engine;
use crate::error::LoadError;
use crate::model as m;
use std::sync::Arc;
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

pub const CONTRACT: &str = "0.1.0";
const MARKETPLACE_EXPORT: &str = "wharf:connector/marketplace-connector@0.1.0";
const ERP_EXPORT: &str = "wharf:connector/erp-connector@0.1.0";

mod marketplace {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
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
        path: "../wit/since_v0.1.0",
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

/// Every 0.1.0 status is one of the model's.
fn status_from(s: w::OrderStatus) -> m::OrderStatus {
    match s {
        w::OrderStatus::Unpaid => m::OrderStatus::Unpaid,
        w::OrderStatus::Paid => m::OrderStatus::Paid,
        w::OrderStatus::PartiallyShipped => m::OrderStatus::PartiallyShipped,
        w::OrderStatus::Shipped => m::OrderStatus::Shipped,
        w::OrderStatus::Completed => m::OrderStatus::Completed,
        w::OrderStatus::Cancelled => m::OrderStatus::Cancelled,
        w::OrderStatus::Closed => m::OrderStatus::Closed,
    }
}

/// `held` has no 0.1.0 form: reading it as `paid` would tell a warehouse to ship an order
/// the platform froze.
fn status_to(s: m::OrderStatus) -> Result<w::OrderStatus, m::ConnectorError> {
    Ok(match s {
        m::OrderStatus::Unpaid => w::OrderStatus::Unpaid,
        m::OrderStatus::Paid => w::OrderStatus::Paid,
        m::OrderStatus::Held => {
            return Err(m::ConnectorError::Unsupported {
                operation: "push-orders of a held order: contract 0.1.0 has no status `held`; \
                            upgrade the ERP plugin to contract 0.2.0"
                    .into(),
            });
        }
        m::OrderStatus::PartiallyShipped => w::OrderStatus::PartiallyShipped,
        m::OrderStatus::Shipped => w::OrderStatus::Shipped,
        m::OrderStatus::Completed => w::OrderStatus::Completed,
        m::OrderStatus::Cancelled => w::OrderStatus::Cancelled,
        m::OrderStatus::Closed => w::OrderStatus::Closed,
    })
}

fn order_page(p: w::OrderPage) -> Result<m::OrderPage, String> {
    let orders = p.orders.into_iter().map(order).collect::<Result<_, _>>()?;
    Ok(m::OrderPage { orders, rejected: Vec::new(), next_cursor: p.next_cursor })
}

/// An ERP page's items, rejected records and cursor.
trait ErpPage {
    type Item;
    fn parts(self) -> (Vec<Self::Item>, Vec<m::Rejected>, Option<String>);
}

macro_rules! erp_pages {
    ($($page:ident => $item:ident),* $(,)?) => {$(
        impl ErpPage for w::$page {
            type Item = w::$item;
            fn parts(self) -> (Vec<w::$item>, Vec<m::Rejected>, Option<String>) {
                (self.items, Vec::new(), self.next_cursor)
            }
        }
    )*};
}

erp_pages!(
    StockPage => StockUpdate, PricePage => PriceUpdate, LotPage => LotSync, ProductPage => Product,
    CustomerPage => CustomerMapping, LogisticsPage => Logistics, ShipmentPage => ShipmentDetail,
    ErpStatusPage => ErpStatus,
);

super::contract::contract!($;);
super::contract::no_newer_operations!();
