//! The Douyin connector: a Wharf marketplace plugin for the 抖店 (Douyin shop) open API.
//!
//! - [`openapi`]: settings, signed requests through the host, both answer envelopes, and the
//!   table of 抖店 error codes.
//! - [`mapping`]: shop orders → canonical orders (pure; runs natively as well as in wasm).
//! - [`pull`]: `pull-orders` over `order.searchList` (the SDK's window walk), `get-order`.
//! - [`push`]: stock (`sku.syncStock`, idempotent) and logistics (`order.logisticsAdd`).
//!
//! This file only wires the exported interface to them.

pub mod mapping;
pub mod openapi;
pub mod pull;
pub mod push;

use wharf_sdk::config;
use wharf_sdk::connector::{self, Marketplace};
use wharf_sdk::paging;
use wharf_sdk::settings;
use wharf_sdk::types::{
    ConfigKey, ConnectorError, Descriptor, ItemResult, Logistics, Operation, Order, OrderPage, Role, StockUpdate,
    TimeWindow,
};

use crate::openapi::HostApi;

/// The plugin's self-description: the four operations it implements (everything else
/// answers `unsupported`), 抖店's open API host for the operator to grant, and its settings.
pub fn descriptor() -> Descriptor {
    let page_size = openapi::DEFAULT_PAGE_SIZE.to_string();
    Descriptor {
        operations: vec![Operation::PullOrders, Operation::GetOrder, Operation::PushStock, Operation::PushLogistics],
        http_hosts: vec![openapi::HOST.to_owned()],
        role: Role::Marketplace,
        name: mapping::PLATFORM.to_owned(),
        platform: mapping::PLATFORM.to_owned(),
        version: wharf_sdk::plugin_version!().to_owned(),
        wit_version: connector::WIT_VERSION.to_owned(),
        config_keys: vec![
            ConfigKey::required(settings::APP_KEY, "抖店 app key"),
            ConfigKey::secret(settings::APP_SECRET, "抖店 app secret (signs requests)"),
            ConfigKey::secret(openapi::ACCESS_TOKEN, "The shop's access token"),
            ConfigKey::with_default(settings::ENDPOINT, "抖店 open API base URL", openapi::DEFAULT_ENDPOINT),
            ConfigKey::with_default(settings::PAGE_SIZE, "Orders per listing page (1-100)", &page_size),
            ConfigKey::with_default(
                settings::SIGN_METHOD,
                "Signature method: hmac-sha256 or md5",
                openapi::sign_method_name(openapi::DEFAULT_SIGN_METHOD),
            ),
        ],
    }
}

/// Runs an operation with the host's API and the shop it works for.
fn with_host<T>(operation: impl FnOnce(&mut HostApi, &str) -> Result<T, ConnectorError>) -> Result<T, ConnectorError> {
    let mut api = HostApi::connect()?;
    operation(&mut api, &config::shop_id())
}

/// The exported connector; the operations it does not list answer `unsupported`.
pub struct Douyin;

wharf_sdk::export_marketplace!(Douyin);

impl Marketplace for Douyin {
    fn describe() -> Descriptor {
        descriptor()
    }

    fn pull_orders(window: TimeWindow, cursor: Option<String>) -> Result<OrderPage, ConnectorError> {
        with_host(|api, shop_id| {
            let page_size = api.settings.page_size;
            paging::pull(&pull::PAGING, &mut pull::SearchList { api, shop_id }, page_size, &window, cursor.as_deref())
        })
    }

    fn get_order(order_id: String) -> Result<Order, ConnectorError> {
        with_host(|api, shop_id| pull::get_order(api, &order_id, shop_id))
    }

    fn push_stock(updates: Vec<StockUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
        with_host(|api, _| push::push_stock(api, updates))
    }

    fn push_logistics(updates: Vec<Logistics>) -> Result<Vec<ItemResult>, ConnectorError> {
        with_host(|api, _| push::push_logistics(api, updates))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::marketplace::Guest;

    #[test]
    fn descriptor_matches_the_douyin_contract() {
        // (name, secret, required, default) of every setting, in order.
        let settings = [
            ("app_key", false, true, None),
            ("app_secret", true, true, None),
            ("access_token", true, true, None),
            ("endpoint", false, false, Some("https://openapi-fxg.jinritemai.com")),
            ("page_size", false, false, Some("50")),
            ("sign_method", false, false, Some("hmac-sha256")),
        ];
        let d = descriptor();
        let keys: Vec<(&str, bool, bool, Option<&str>)> =
            d.config_keys.iter().map(|k| (k.name.as_str(), k.secret, k.required, k.default_value.as_deref())).collect();
        assert_eq!(keys, settings);
        assert_eq!(
            (d.name.as_str(), d.platform.as_str(), d.role, d.wit_version.as_str(), d.http_hosts.as_slice()),
            ("douyin", "douyin", Role::Marketplace, "0.2.0", &["openapi-fxg.jinritemai.com".to_owned()][..])
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
