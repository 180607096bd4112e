//! The JD connector: a Wharf marketplace plugin for JD's open platform (JOS, 京东宙斯).
//!
//! - [`jos`]: settings, signed requests through the host, the answer envelopes and errors.
//! - [`mapping`]: `orderInfo` → canonical orders (pure; runs natively as well as in wasm).
//! - [`pull`]: `pull-orders` over `jingdong.pop.order.search`; `get-order`.
//! - [`push`]: stock and logistics.
//!
//! This file only wires the exported interface to them.

pub mod jos;
pub mod mapping;
pub mod pull;
pub mod push;

use wharf_sdk::config;
use wharf_sdk::connector::Marketplace;
use wharf_sdk::types::{
    ConfigKey, ConnectorError, Descriptor, ItemResult, Logistics, Operation, Order, OrderPage, Role, StockUpdate,
    TimeWindow,
};

use crate::jos::HostApi;

/// Hosts the operator grants: JOS's gateway.
pub const HTTP_HOSTS: &[&str] = &["api.jd.com"];

/// What the plugin implements; everything else answers `unsupported`.
pub const OPERATIONS: &[Operation] =
    &[Operation::PullOrders, Operation::GetOrder, Operation::PushStock, Operation::PushLogistics];

/// The plugin's self-description.
pub fn descriptor() -> Descriptor {
    let page_size = jos::DEFAULT_PAGE_SIZE.to_string();
    Descriptor {
        name: "jd".to_owned(),
        platform: "jd".to_owned(),
        role: Role::Marketplace,
        version: wharf_sdk::plugin_version!().to_owned(),
        wit_version: wharf_sdk::connector::WIT_VERSION.to_owned(),
        http_hosts: HTTP_HOSTS.iter().map(|h| (*h).to_owned()).collect(),
        operations: OPERATIONS.to_vec(),
        config_keys: vec![
            ConfigKey::with_default(jos::ENDPOINT_KEY, "JOS gateway URL", jos::DEFAULT_ENDPOINT),
            ConfigKey::required(jos::APP_KEY_KEY, "JOS app key"),
            ConfigKey::with_default(jos::PAGE_SIZE_KEY, "Orders per search page (1-100)", &page_size),
            ConfigKey::secret(jos::APP_SECRET, "JOS app secret (signs requests)"),
            ConfigKey::secret(jos::ACCESS_TOKEN, "The seller's JOS access token"),
        ],
    }
}

/// The exported connector.
pub struct Jd;

/// What an operation JOS is not wired for answers.
impl Marketplace for Jd {
    fn describe() -> Descriptor {
        descriptor()
    }

    fn pull_orders(window: TimeWindow, cursor: Option<String>) -> Result<OrderPage, ConnectorError> {
        let mut api = HostApi::from_host()?;
        let page_size = api.settings.page_size;
        pull::pull_orders(&mut api, page_size, &config::shop_id(), &window, cursor.as_deref())
    }

    fn get_order(order_id: String) -> Result<Order, ConnectorError> {
        pull::get_order(&mut HostApi::from_host()?, &order_id, &config::shop_id())
    }

    fn push_stock(updates: Vec<StockUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
        push::push_stock(&mut HostApi::from_host()?, updates)
    }

    fn push_logistics(updates: Vec<Logistics>) -> Result<Vec<ItemResult>, ConnectorError> {
        push::push_logistics(&mut HostApi::from_host()?, updates)
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
        assert_eq!((d.name.as_str(), d.platform.as_str(), d.wit_version.as_str()), ("jd", "jd", "0.2.0"));
        assert_eq!(d.role, Role::Marketplace);
        assert_eq!(d.http_hosts, ["api.jd.com"]);
        let key = |name: &str| d.config_keys.iter().find(|k| k.name == name).unwrap();
        assert_eq!(key("endpoint").default_value.as_deref(), Some("https://api.jd.com/routerjson"));
        assert!(key("app_key").required && !key("app_key").secret);
        assert_eq!(key("page_size").default_value.as_deref(), Some("50"));
        assert!(key("app_secret").secret && key("access_token").secret);
        assert_eq!(d.operations, OPERATIONS);
    }
}
