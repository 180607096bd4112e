//! The JD connector: a Wharf marketplace plugin for JD's open platform (JOS, 京东宙斯).
//!
//! - [`jos`]: settings, signed requests through the host, the answer envelopes and errors.
//! - [`mapping`]: `orderInfo` → canonical orders (pure; runs natively as well as in wasm).
//! - [`pull`]: `pull-orders` over `jingdong.pop.order.search`; `get-order`.
//! - [`push`]: stock and logistics.
//! - [`after_sales`]: refund applications (`jingdong.pop.afs.soa.refundapply.*`) and
//!   after-sales service orders (`jingdong.asc.query.*`): `pull-after-sales`,
//!   `get-after-sale`; answers to refund applications: `push-after-sale-actions`.
//! - [`decrypt`]: `decrypt-receivers` over `jingdong.jos.order.oaid.decrypt`, each logged back
//!   with `jingdong.security.orderinfo.log.upload`.
//!
//! This file only wires the exported interface to them.

pub mod after_sales;
pub mod decrypt;
pub mod jos;
pub mod mapping;
pub mod pull;
pub mod push;

use wharf_sdk::connector::Marketplace;
use wharf_sdk::gateway;
use wharf_sdk::types::{
    AfterSale, AfterSaleAction, AfterSalePage, ConnectorError, DecryptPurpose, DecryptResult, Descriptor, ItemResult,
    Logistics, Operation, Order, OrderPage, ReceiverRef, Role, StockUpdate, TimeWindow,
};

use crate::jos::{HostApi, Jos};

/// Hosts the operator grants: JOS's gateway.
pub const HTTP_HOSTS: &[&str] = &["api.jd.com"];

/// What the plugin implements; everything else answers `unsupported`.
pub const OPERATIONS: &[Operation] = &[
    Operation::PullOrders,
    Operation::GetOrder,
    Operation::PushStock,
    Operation::PushLogistics,
    Operation::PullAfterSales,
    Operation::GetAfterSale,
    Operation::PushAfterSaleActions,
    Operation::DecryptReceivers,
];

/// The plugin's self-description.
pub fn descriptor() -> Descriptor {
    wharf_sdk::descriptor!("jd", Role::Marketplace)
        .operations(OPERATIONS)
        .http_hosts(HTTP_HOSTS)
        .config_keys(gateway::config_keys::<Jos>())
        .batch_limit(Operation::DecryptReceivers, decrypt::MAX_PER_CALL)
        .build()
}

/// The exported connector.
pub struct Jd;

/// What an operation JOS is not wired for answers.
impl Marketplace for Jd {
    fn describe() -> Descriptor {
        descriptor()
    }

    fn pull_orders(window: TimeWindow, cursor: Option<String>) -> Result<OrderPage, ConnectorError> {
        HostApi::run(|api, shop_id| {
            let page_size = api.settings.page_size;
            pull::pull_orders(api, page_size, shop_id, &window, cursor.as_deref())
        })
    }

    fn get_order(order_id: String) -> Result<Order, ConnectorError> {
        HostApi::run(|api, shop_id| pull::get_order(api, &order_id, shop_id))
    }

    fn push_stock(updates: Vec<StockUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
        HostApi::run(|api, _| push::push_stock(api, updates))
    }

    fn push_logistics(updates: Vec<Logistics>) -> Result<Vec<ItemResult>, ConnectorError> {
        HostApi::run(|api, _| push::push_logistics(api, updates))
    }

    fn pull_after_sales(window: TimeWindow, cursor: Option<String>) -> Result<AfterSalePage, ConnectorError> {
        HostApi::run(|api, shop_id| {
            let page_size = api.settings.page_size;
            after_sales::pull_after_sales(api, page_size, shop_id, &window, cursor.as_deref())
        })
    }

    fn get_after_sale(after_sale_id: String) -> Result<AfterSale, ConnectorError> {
        HostApi::run(|api, shop_id| after_sales::get_after_sale(api, &after_sale_id, shop_id))
    }

    fn push_after_sale_actions(actions: Vec<AfterSaleAction>) -> Result<Vec<ItemResult>, ConnectorError> {
        HostApi::run(|api, _| after_sales::push_after_sale_actions(api, actions))
    }

    fn decrypt_receivers(
        purpose: DecryptPurpose,
        refs: Vec<ReceiverRef>,
    ) -> Result<Vec<DecryptResult>, ConnectorError> {
        HostApi::run(|api, _| decrypt::decrypt_receivers(api, purpose, refs))
    }
}

wharf_sdk::export_marketplace!(Jd);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_operations_name_themselves() {
        assert!(matches!(Jd::push_prices(vec![]), Err(ConnectorError::Unsupported(op)) if op == "push-prices"));
        assert!(matches!(Jd::push_listing(vec![]), Err(ConnectorError::Unsupported(op)) if op == "push-listing"));
        assert!(matches!(Jd::push_erp_status(vec![]), Err(ConnectorError::Unsupported(op)) if op == "push-erp-status"));
    }

    #[test]
    fn describes_itself() {
        let d = descriptor();
        assert_eq!((d.name.as_str(), d.platform.as_str(), d.wit_version.as_str()), ("jd", "jd", "0.4.0"));
        assert_eq!(d.role, Role::Marketplace);
        assert_eq!(d.http_hosts, ["api.jd.com"]);
        let key = |name: &str| d.config_keys.iter().find(|k| k.name == name).unwrap();
        assert_eq!(key("endpoint").default_value.as_deref(), Some("https://api.jd.com/routerjson"));
        assert!(key("app_key").required && !key("app_key").secret);
        assert_eq!(key("page_size").default_value.as_deref(), Some("50"));
        assert!(key("app_secret").secret && key("access_token").secret);
        assert_eq!(d.operations, OPERATIONS);
        assert_eq!(
            d.batch_limits,
            [wharf_sdk::types::BatchLimit { operation: Operation::DecryptReceivers, max_items: 20 }]
        );
    }
}
