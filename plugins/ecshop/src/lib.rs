//! The ECShop connector: a Wharf marketplace plugin for ECShop 2.7 shops.
//!
//! ECShop ships no order API, so this connector comes with its own: `bridge/wharf-bridge.php`,
//! a PHP script the merchant installs next to the shop (see `bridge/README.md`), which serves
//! orders from the shop's database and takes stock, price, listing and shipment writes.
//!
//! - [`bridge`]: settings, requests to the bridge through the host, what its answers mean.
//! - [`mapping`]: ECShop orders → canonical orders (pure; runs natively as well as in wasm).
//! - [`pull`]: `pull-orders` over the SDK's window walk; `get-order`.
//! - [`push`]: stock, prices, listing and logistics.
//! - [`after_sales`]: back orders (returns): `pull-after-sales`, `get-after-sale`; merchant
//!   answers are unsupported (ECShop has nothing that waits for one).
//! - [`catalog`]: lots on sale and new products.
//! - [`customers`]: ERP customers → shop users.
//! - [`fulfilment`]: shipments with their lots, and ERP order statuses (what each does is the
//!   tenant's `erp_status.<code>` setting, read by [`wharf_sdk::status::erp_action`]).
//!
//! This file only wires the exported interface to them; what it does not implement answers
//! `unsupported` by the SDK's [`Marketplace`] defaults.

pub mod after_sales;
pub mod bridge;
pub mod catalog;
pub mod customers;
pub mod fulfilment;
pub mod mapping;
pub mod pull;
pub mod push;

use wharf_sdk::config;
use wharf_sdk::connector::Marketplace;
use wharf_sdk::settings;
use wharf_sdk::status;
use wharf_sdk::types::{
    AfterSale, AfterSalePage, ConfigKey, ConnectorError, CustomerMapping, Descriptor, ErpStatus, ItemResult,
    ListingChange, Logistics, LotSync, Operation, Order, OrderPage, PriceUpdate, Product, Role, ShipmentDetail,
    StockUpdate, TimeWindow,
};

use crate::bridge::Settings;
use crate::pull::Bridge;

/// What the plugin implements; everything else answers `unsupported`.
pub const OPERATIONS: &[Operation] = {
    use Operation::{
        GetAfterSale, GetOrder, PullAfterSales, PullOrders, PushCustomers, PushErpStatus, PushListing, PushLogistics,
        PushLots, PushPrices, PushProducts, PushShipments, PushStock,
    };
    &[
        PullOrders,
        GetOrder,
        PushStock,
        PushPrices,
        PushLots,
        PushListing,
        PushProducts,
        PushCustomers,
        PushLogistics,
        PushShipments,
        PushErpStatus,
        PullAfterSales,
        GetAfterSale,
    ]
};

/// The plugin's self-description. It declares no hosts: every merchant's bridge lives on the
/// merchant's own site, which the operator grants per shop.
pub fn descriptor() -> Descriptor {
    let page_size = bridge::DEFAULT_PAGE_SIZE.to_string();
    wharf_sdk::descriptor!(mapping::PLATFORM, Role::Marketplace)
        .operations(OPERATIONS)
        .config_keys([
            ConfigKey::required(
                settings::ENDPOINT,
                "URL of wharf-bridge.php on the shop's site, e.g. https://shop.example.com/wharf-bridge.php",
            ),
            ConfigKey::with_default(settings::PAGE_SIZE, "Orders per bridge page (1-100)", &page_size),
            ConfigKey::secret(
                bridge::TOKEN_SECRET,
                "The bridge's token (X-Wharf-Token), as in its wharf-bridge.config.php",
            ),
        ])
        .config_keys(status::erp_status_config_keys())
        .build()
}

/// Runs `work` against the bridge the calling shop's config names.
fn with_bridge<T>(work: impl FnOnce(&mut Settings) -> Result<T, ConnectorError>) -> Result<T, ConnectorError> {
    work(&mut Settings::from_host()?)
}

/// The exported connector.
pub struct Ecshop;

impl Marketplace for Ecshop {
    fn describe() -> Descriptor {
        descriptor()
    }

    fn pull_orders(window: TimeWindow, cursor: Option<String>) -> Result<OrderPage, ConnectorError> {
        with_bridge(|bridge| {
            let page_size = bridge.page_size;
            Bridge { api: bridge, shop_id: &config::shop_id() }.pull(page_size, &window, cursor.as_deref())
        })
    }

    fn get_order(order_id: String) -> Result<Order, ConnectorError> {
        with_bridge(|bridge| pull::get_order(bridge, &order_id, &config::shop_id()))
    }

    fn push_stock(updates: Vec<StockUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
        with_bridge(|bridge| push::push_stock(bridge, updates))
    }

    fn push_prices(updates: Vec<PriceUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
        with_bridge(|bridge| push::push_prices(bridge, updates))
    }

    fn push_listing(changes: Vec<ListingChange>) -> Result<Vec<ItemResult>, ConnectorError> {
        with_bridge(|bridge| push::push_listing(bridge, changes))
    }

    fn push_logistics(updates: Vec<Logistics>) -> Result<Vec<ItemResult>, ConnectorError> {
        with_bridge(|bridge| push::push_logistics(bridge, updates))
    }

    fn push_lots(updates: Vec<LotSync>) -> Result<Vec<ItemResult>, ConnectorError> {
        with_bridge(|bridge| catalog::push_lots(bridge, updates))
    }

    fn push_products(products: Vec<Product>) -> Result<Vec<ItemResult>, ConnectorError> {
        with_bridge(|bridge| catalog::push_products(bridge, products))
    }

    fn push_customers(mappings: Vec<CustomerMapping>) -> Result<Vec<ItemResult>, ConnectorError> {
        with_bridge(|bridge| customers::push_customers(bridge, mappings))
    }

    fn push_shipments(details: Vec<ShipmentDetail>) -> Result<Vec<ItemResult>, ConnectorError> {
        with_bridge(|bridge| fulfilment::push_shipments(bridge, details))
    }

    fn push_erp_status(updates: Vec<ErpStatus>) -> Result<Vec<ItemResult>, ConnectorError> {
        with_bridge(|bridge| fulfilment::push_erp_status(bridge, updates, status::erp_action))
    }

    fn pull_after_sales(window: TimeWindow, cursor: Option<String>) -> Result<AfterSalePage, ConnectorError> {
        with_bridge(|bridge| {
            let page_size = bridge.page_size;
            after_sales::pull_after_sales(bridge, page_size, &config::shop_id(), &window, cursor.as_deref())
        })
    }

    fn get_after_sale(after_sale_id: String) -> Result<AfterSale, ConnectorError> {
        with_bridge(|bridge| after_sales::get_after_sale(bridge, &after_sale_id, &config::shop_id()))
    }
}

wharf_sdk::export_marketplace!(Ecshop);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_itself() {
        let d = descriptor();
        let who = (d.name.as_str(), d.platform.as_str(), d.role, d.wit_version.as_str(), d.http_hosts.len());
        // No hosts of its own: the operator grants each merchant's site.
        assert_eq!(who, ("ecshop", "ecshop", Role::Marketplace, "0.4.0", 0));
        assert_eq!(d.operations, OPERATIONS);
        let keys: Vec<(&str, bool, bool, Option<&str>)> =
            d.config_keys.iter().map(|k| (k.name.as_str(), k.required, k.secret, k.default_value.as_deref())).collect();
        assert_eq!(
            keys[..3],
            [
                ("endpoint", true, false, None),
                ("page_size", false, false, Some("50")),
                ("bridge_token", true, true, None)
            ]
        );
        // What each ERP status does, per tenant; a note unless configured.
        assert_eq!(keys.len(), 3 + 7);
        assert!(keys[3..].iter().all(|(name, required, secret, default)| {
            name.starts_with("erp_status.") && !required && !secret && *default == Some("note")
        }));
        // Every marketplace push of the contract, and after-sales read (not answered).
        assert_eq!(d.operations.len(), 13);
        assert!(!d.operations.contains(&Operation::PushAfterSaleActions));
    }
}
