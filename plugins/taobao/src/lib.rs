//! The Taobao connector: a Wharf marketplace plugin for the Taobao Open Platform (TOP).
//!
//! - [`top`]: settings, signed requests through the host, the answer envelopes and errors.
//! - [`mapping`]: trades → canonical orders (pure; runs natively as well as in wasm).
//! - [`pull`]: `pull-orders` chunking, halving, paging and cursors; `get-order`.
//! - [`push`]: stock, prices, listing and logistics.
//! - [`after_sales`]: refunds (`taobao.refunds.receive.get`, `taobao.refund.get`) and the
//!   merchant's answers (`taobao.rp.refund.review`, `taobao.rp.returngoods.agree` / `.refuse`).
//! - [`decrypt`]: `decrypt-receivers` over `taobao.top.oaid.decrypt`.
//! - [`invoices`]: `push-invoices` over `alibaba.einvoice.core.inv.upload`.
//!
//! This file only wires the exported interface to them.

pub mod after_sales;
pub mod decrypt;
pub mod invoices;
pub mod mapping;
pub mod pull;
pub mod push;
pub mod top;

use wharf_sdk::connector::Marketplace;
use wharf_sdk::gateway;
use wharf_sdk::types::{
    AfterSale, AfterSaleAction, AfterSalePage, ConnectorError, DecryptPurpose, DecryptResult, Descriptor,
    InvoiceUpload, ItemResult, ListingChange, Logistics, Operation, Order, OrderPage, PriceUpdate, ReceiverRef, Role,
    StockUpdate, TimeWindow,
};

use crate::top::{HostApi, Top};

/// Hosts the operator grants: production gateways and the sandbox.
pub const HTTP_HOSTS: &[&str] = &["eco.taobao.com", "gw.api.taobao.com", "gw.api.tbsandbox.com"];

/// What the plugin implements; everything else answers `unsupported`.
pub const OPERATIONS: &[Operation] = &[
    Operation::PullOrders,
    Operation::GetOrder,
    Operation::PushStock,
    Operation::PushPrices,
    Operation::PushListing,
    Operation::PushLogistics,
    Operation::PullAfterSales,
    Operation::GetAfterSale,
    Operation::PushAfterSaleActions,
    Operation::DecryptReceivers,
    Operation::PushInvoices,
];

/// The plugin's self-description.
pub fn descriptor() -> Descriptor {
    wharf_sdk::descriptor!("taobao", Role::Marketplace)
        .operations(OPERATIONS)
        .http_hosts(HTTP_HOSTS)
        .config_keys(gateway::config_keys::<Top>())
        .batch_limit(Operation::DecryptReceivers, decrypt::MAX_PER_CALL)
        .build()
}

/// The exported connector.
pub struct Taobao;

impl Marketplace for Taobao {
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

    fn push_prices(updates: Vec<PriceUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
        HostApi::run(|api, _| push::push_prices(api, updates))
    }

    fn push_listing(changes: Vec<ListingChange>) -> Result<Vec<ItemResult>, ConnectorError> {
        HostApi::run(|api, _| push::push_listing(api, changes))
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

    fn push_invoices(invoices: Vec<InvoiceUpload>) -> Result<Vec<ItemResult>, ConnectorError> {
        HostApi::run(|api, _| invoices::push_invoices(api, invoices))
    }
}

wharf_sdk::export_marketplace!(Taobao);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_itself() {
        let d = descriptor();
        assert_eq!((d.name.as_str(), d.platform.as_str(), d.wit_version.as_str()), ("taobao", "taobao", "0.4.0"));
        assert_eq!(d.role, Role::Marketplace);
        assert_eq!(d.http_hosts, ["eco.taobao.com", "gw.api.taobao.com", "gw.api.tbsandbox.com"]);
        let key = |name: &str| d.config_keys.iter().find(|k| k.name == name).unwrap();
        assert_eq!(key("endpoint").default_value.as_deref(), Some("https://eco.taobao.com/router/rest"));
        assert!(key("app_key").required && !key("app_key").secret);
        assert_eq!(key("sign_method").default_value.as_deref(), Some("md5"));
        assert_eq!(key("page_size").default_value.as_deref(), Some("50"));
        assert!(key("app_secret").secret && key("session").secret);
        assert_eq!(d.operations, OPERATIONS);
        assert_eq!(d.operations.len(), 11);
        assert_eq!(
            d.batch_limits,
            [wharf_sdk::types::BatchLimit { operation: Operation::DecryptReceivers, max_items: 20 }]
        );
    }

    #[test]
    fn unsupported_operations_name_themselves() {
        assert!(matches!(Taobao::push_lots(vec![]), Err(ConnectorError::Unsupported(op)) if op == "push-lots"));
        assert!(
            matches!(Taobao::push_erp_status(vec![]), Err(ConnectorError::Unsupported(op)) if op == "push-erp-status")
        );
    }
}
