//! The Douyin connector: a Wharf marketplace plugin for the 抖店 (Douyin shop) open API.
//!
//! - [`openapi`]: settings, signed requests through the host, both answer envelopes, and the
//!   table of 抖店 error codes.
//! - [`mapping`]: shop orders → canonical orders (pure; runs natively as well as in wasm).
//! - [`pull`]: `pull-orders` over `order.searchList` (the SDK's window walk), `get-order`.
//! - [`push`]: stock (`sku.syncStock`, idempotent) and logistics (`order.logisticsAdd`).
//! - [`after_sales`]: `pull-after-sales` (`afterSale.List`, the SDK's window walk),
//!   `get-after-sale` (`afterSale.Detail`), answers (`afterSale.operate`).
//! - [`decrypt`]: `decrypt-receivers` over `order.batchDecrypt`.
//! - [`invoices`]: `push-invoices` over `order.invoiceUpload` (the file's URL).
//!
//! This file only wires the exported interface to them.

pub mod after_sales;
pub mod decrypt;
pub mod invoices;
pub mod mapping;
pub mod openapi;
pub mod pull;
pub mod push;

use wharf_sdk::connector::Marketplace;
use wharf_sdk::gateway;
use wharf_sdk::paging;
use wharf_sdk::types::{
    AfterSale, AfterSaleAction, AfterSalePage, ConnectorError, DecryptPurpose, DecryptResult, Descriptor,
    InvoiceUpload, ItemResult, Logistics, Operation, Order, OrderPage, ReceiverRef, Role, StockUpdate, TimeWindow,
};

use crate::openapi::{HostApi, OpenApi};

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
    Operation::PushInvoices,
];

/// The plugin's self-description: its [`OPERATIONS`], 抖店's open API host for the operator to
/// grant, its settings, and how many receivers one decrypt takes (one `order.batchDecrypt`).
pub fn descriptor() -> Descriptor {
    wharf_sdk::descriptor!(mapping::PLATFORM, Role::Marketplace)
        .operations(OPERATIONS)
        .http_hosts(&[openapi::HOST])
        .config_keys(gateway::config_keys::<OpenApi>())
        .batch_limit(Operation::DecryptReceivers, decrypt::MAX_RECEIVERS_PER_CALL)
        .build()
}

/// The exported connector; the operations it does not list answer `unsupported`.
pub struct Douyin;

wharf_sdk::export_marketplace!(Douyin);

impl Marketplace for Douyin {
    fn describe() -> Descriptor {
        descriptor()
    }

    fn pull_orders(window: TimeWindow, cursor: Option<String>) -> Result<OrderPage, ConnectorError> {
        HostApi::run(|api, shop_id| {
            let page_size = api.settings.page_size;
            paging::pull(&pull::PAGING, &mut pull::SearchList { api, shop_id }, page_size, &window, cursor.as_deref())
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

    fn push_invoices(invoices: Vec<InvoiceUpload>) -> Result<Vec<ItemResult>, ConnectorError> {
        HostApi::run(|api, _| invoices::push_invoices(api, invoices))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::marketplace::Guest;

    #[test]
    fn descriptor_matches_the_douyin_contract() {
        // (name, secret, required, default) of every setting, in the gateway kit's order.
        let settings = [
            ("endpoint", false, false, Some("https://openapi-fxg.jinritemai.com")),
            ("app_key", false, true, None),
            ("sign_method", false, false, Some("hmac-sha256")),
            ("page_size", false, false, Some("50")),
            ("app_secret", true, true, None),
            ("access_token", true, true, None),
        ];
        let d = descriptor();
        let keys: Vec<(&str, bool, bool, Option<&str>)> =
            d.config_keys.iter().map(|k| (k.name.as_str(), k.secret, k.required, k.default_value.as_deref())).collect();
        assert_eq!(keys, settings);
        assert_eq!(
            (d.name.as_str(), d.platform.as_str(), d.role, d.wit_version.as_str(), d.http_hosts.as_slice()),
            ("douyin", "douyin", Role::Marketplace, "0.4.0", &["openapi-fxg.jinritemai.com".to_owned()][..])
        );
        assert_eq!(d.operations, OPERATIONS);
        assert_eq!(
            d.batch_limits,
            [wharf_sdk::types::BatchLimit { operation: Operation::DecryptReceivers, max_items: 16 }]
        );
        // Operations not listed answer `unsupported` with their own name.
        for (listed, result) in [
            (Operation::PushPrices, <Douyin as Guest>::push_prices(vec![]).err()),
            (Operation::PushErpStatus, <Douyin as Guest>::push_erp_status(vec![]).err()),
        ] {
            assert!(!d.operations.contains(&listed));
            assert_eq!(result, Some(ConnectorError::unsupported(listed)));
        }
    }
}
