//! The SAP connector: a Wharf ERP plugin for SAP S/4HANA.
//!
//! Orders and after-sales go in; stock, lots, prices, shipments, logistics and order statuses come out:
//! - [`settings`]: the tenant's SAP host, sales area, customer and unit mapping, pricing.
//! - [`transport`]: the HTTP seam (host inside the sandbox, a script in tests) and Basic auth
//!   through a host-filled placeholder.
//! - [`odata`]: OData v2 URLs, envelopes, errors, the CSRF handshake, value formats.
//! - [`key`]: the idempotency key, `PurchaseOrderByCustomer` = a per-shop prefix + the
//!   order id.
//! - [`order`]: a canonical order checked and put in SAP's terms.
//! - [`sales_order`]: `push-orders` as idempotent `API_SALES_ORDER_SRV` deep inserts.
//! - [`after_sale`]: `push-after-sales` as idempotent customer returns
//!   (`API_CUSTOMER_RETURN_SRV`) or credit memo requests (`API_CREDIT_MEMO_REQUEST_SRV`),
//!   referring to the order's sales order; created once the merchant agreed.
//! - [`idoc`]: `push-orders` as ORDERS05 IDocs over HTTP (`mode = idoc`).
//! - [`keyset`]: reading OData lists page by page (key-set cursors, groups kept whole).
//! - [`stock`]: `pull-stock` from `API_MATERIAL_STOCK_SRV`.
//! - [`lots`]: `pull-lots` from `API_BATCH_SRV` batch master data and batch stock.
//! - [`prices`]: `pull-prices` from `API_SLSPRICINGCONDITIONRECORD_SRV` condition records.
//! - [`flow`]: the sales orders changed in a window and the deliveries their document flow
//!   names, read by key (SAP's metadata lets no delivery property be filtered on).
//! - [`delivery`]: `pull-shipments` and `pull-logistics` from `API_OUTBOUND_DELIVERY_SRV`.
//! - [`erp_status`]: `pull-erp-status` from sales order and delivery statuses.
//!
//! This file only describes the plugin and wires the exported interface to them.

pub mod after_sale;
pub mod delivery;
pub mod erp_status;
pub mod flow;
pub mod idoc;
pub mod key;
pub mod keyset;
pub mod lots;
pub mod odata;
pub mod order;
pub mod prices;
pub mod sales_order;
pub mod settings;
pub mod stock;
pub mod transport;

use wharf_sdk::connector::Erp;
use wharf_sdk::time;
use wharf_sdk::types::{
    AfterSale, ConfigKey, ConnectorError, Descriptor, ErpStatusPage, LogisticsPage, LotPage, Operation, Order,
    OrderPushResult, PricePage, PullRequest, Role, ShipmentPage, StockPage,
};

use crate::settings::{Mode, Settings};
use crate::transport::HostTransport;

/// What the plugin implements; everything else answers `unsupported`.
pub const OPERATIONS: &[Operation] = &[
    Operation::PushOrders,
    Operation::PullStock,
    Operation::PullLots,
    Operation::PullPrices,
    Operation::PullShipments,
    Operation::PullLogistics,
    Operation::PullErpStatus,
    Operation::PushAfterSales,
];

/// The plugin's self-description. It declares no hosts: every tenant's SAP system is its own,
/// and the operator grants the hosts of `endpoint` and `idoc_endpoint`.
pub fn descriptor() -> Descriptor {
    use settings::*;
    let page_size = DEFAULT_PAGE_SIZE.to_string();
    let offset = wharf_sdk::time::SHANGHAI_OFFSET_MINUTES.to_string();
    let optional = ConfigKey::optional;
    wharf_sdk::descriptor!("sap", Role::Erp)
        .operations(OPERATIONS)
        .config_keys([
            ConfigKey::required(ENDPOINT, "Base URL of the S/4HANA host, e.g. https://my-s4.example.com"),
            optional(SAP_CLIENT, "SAP client (sap-client query parameter), e.g. 100"),
            ConfigKey::with_default(
                MODE,
                "How orders are sent: odata (API_SALES_ORDER_SRV) or idoc (ORDERS05 XML)",
                "odata",
            ),
            optional(
                IDOC_ENDPOINT,
                "URL the ORDERS05 IDoc XML is posted to (mode idoc), e.g. https://my-s4.example.com/sap/bc/idoc_xml?sap-client=100",
            ),
            optional(IDOC_SENDER_PORT, "EDI_DC40 SNDPOR"),
            ConfigKey::with_default(IDOC_SENDER_PARTNER_TYPE, "EDI_DC40 SNDPRT", DEFAULT_PARTNER_TYPE),
            optional(IDOC_SENDER_PARTNER, "EDI_DC40 SNDPRN: our partner number in SAP's partner profile (mode idoc)"),
            optional(IDOC_RECEIVER_PORT, "EDI_DC40 RCVPOR"),
            ConfigKey::with_default(IDOC_RECEIVER_PARTNER_TYPE, "EDI_DC40 RCVPRT", DEFAULT_PARTNER_TYPE),
            optional(IDOC_RECEIVER_PARTNER, "EDI_DC40 RCVPRN: SAP's logical system"),
            ConfigKey::required(SALES_ORG, "Sales organisation of every order, e.g. 1000"),
            ConfigKey::required(DISTRIBUTION_CHANNEL, "Distribution channel, e.g. 10"),
            ConfigKey::required(DIVISION, "Division, e.g. 00"),
            ConfigKey::with_default(ORDER_TYPE, "Sales document type", DEFAULT_ORDER_TYPE),
            optional(SOLD_TO, "Default sold-to customer (an order's erp_customer_code and sold_to_by_shop win)"),
            optional(SOLD_TO_BY_SHOP, "JSON object shop id -> sold-to customer"),
            optional(
                PO_PREFIX_BY_SHOP,
                "JSON object \"<platform>:<shop_id>\" -> prefix of the shop's PurchaseOrderByCustomer \
                 (<prefix>-<order id>; 1-10 letters and digits, or \"\" for one shop keyed by bare order \
                 ids); a shop not listed gets a derived prefix (platform letters + 8 hex digits). Set \
                 before the shop's first order reaches SAP, never change",
            ),
            optional(UNIT_TABLE, "JSON object outer_sku_id (or \"default\") -> sales unit; EA otherwise"),
            ConfigKey::with_default(
                PRICE_CONDITION_TYPE,
                "Condition type of the unit price (empty: let SAP price the items)",
                DEFAULT_PRICE_CONDITION_TYPE,
            ),
            ConfigKey::with_default(
                DISCOUNT_CONDITION_TYPE,
                "Absolute discount condition type",
                DEFAULT_DISCOUNT_CONDITION_TYPE,
            ),
            ConfigKey::with_default(
                SHIPPING_FEE_MODE,
                "Shipping fee as a header condition or a service item: condition or material",
                "condition",
            ),
            ConfigKey::with_default(
                SHIPPING_CONDITION_TYPE,
                "Header condition type of the shipping fee",
                DEFAULT_SHIPPING_CONDITION_TYPE,
            ),
            optional(SHIPPING_MATERIAL, "Service material of the shipping fee item (shipping_fee_mode material)"),
            optional(PLANT, "Plant whose stock is published (all plants summed otherwise)"),
            ConfigKey::with_default(PAGE_SIZE, "Rows per OData page (1-1000)", &page_size),
            ConfigKey::with_default(UTC_OFFSET_MINUTES, "The SAP system's time zone, minutes east of UTC", &offset),
            ConfigKey::with_default(
                TRACKING_FIELD,
                "Delivery header field holding the tracking number",
                DEFAULT_TRACKING_FIELD,
            ),
            ConfigKey::with_default(CARRIER_FIELD, "Delivery header field holding the carrier", DEFAULT_CARRIER_FIELD),
            ConfigKey::with_default(
                PRICE_CONDITION_DEFAULT,
                "Condition type of the default price (pull-prices)",
                DEFAULT_PRICE_CONDITION_DEFAULT,
            ),
            optional(
                PRICE_CONDITION_RETAIL,
                "Condition type of the suggested retail price, e.g. ZSRP (not pulled when empty)",
            ),
            optional(PRICE_CONDITION_REGION, "Condition type of region-group prices (not pulled when empty)"),
            optional(
                PRICE_CONDITION_CUSTOMER_GROUP,
                "Condition type of customer-group prices, grouped by CustomerPriceGroup (not pulled when empty)",
            ),
            ConfigKey::with_default(
                PRICE_REGION_FIELD,
                "Condition validity field holding a region-group price's group",
                DEFAULT_PRICE_REGION_FIELD,
            ),
            ConfigKey::with_default(
                RETURN_TYPE,
                "Customer return type of after-sales where goods come back (API_CUSTOMER_RETURN_SRV)",
                DEFAULT_RETURN_TYPE,
            ),
            ConfigKey::with_default(
                CREDIT_MEMO_REQUEST_TYPE,
                "Credit memo request type of money-only refunds (API_CREDIT_MEMO_REQUEST_SRV)",
                DEFAULT_CREDIT_MEMO_REQUEST_TYPE,
            ),
            optional(
                REFUND_CONDITION_TYPE,
                "Manual fixed-amount item condition carrying each item's share of an after-sale's refund \
                 (empty: SAP prices returns and credit memo requests from the referenced sales order)",
            ),
            optional(
                ORDER_REASON_BY_KIND,
                "JSON object after-sale kind (return_and_refund, refund_after_shipping, ...) -> order reason \
                 (SDDocumentReason) of its return or credit memo request",
            ),
            ConfigKey::secret(SAP_USER, "Communication user (HTTP Basic auth)"),
            ConfigKey::secret(SAP_PASSWORD, "Communication user's password"),
        ])
        .build()
}

/// The exported connector.
pub struct Sap;

impl Erp for Sap {
    fn describe() -> Descriptor {
        descriptor()
    }

    fn push_orders(orders: Vec<Order>) -> Result<Vec<OrderPushResult>, ConnectorError> {
        let settings = Settings::from_host()?;
        match settings.mode {
            Mode::Odata => sales_order::push_orders(&mut HostTransport, &settings, orders),
            Mode::Idoc => idoc::push_orders(&mut HostTransport, &settings, orders, time::now_ms()),
        }
    }

    fn push_after_sales(after_sales: Vec<AfterSale>) -> Result<Vec<OrderPushResult>, ConnectorError> {
        after_sale::push_after_sales(&mut HostTransport, &Settings::from_host()?, after_sales)
    }

    fn pull_stock(request: PullRequest) -> Result<StockPage, ConnectorError> {
        stock::pull_stock(&mut HostTransport, &Settings::from_host()?, &request, time::now_ms())
    }

    fn pull_logistics(request: PullRequest) -> Result<LogisticsPage, ConnectorError> {
        delivery::pull_logistics(&mut HostTransport, &Settings::from_host()?, &request)
    }

    fn pull_lots(request: PullRequest) -> Result<LotPage, ConnectorError> {
        lots::pull_lots(&mut HostTransport, &Settings::from_host()?, &request)
    }

    fn pull_prices(request: PullRequest) -> Result<PricePage, ConnectorError> {
        prices::pull_prices(&mut HostTransport, &Settings::from_host()?, &request, time::now_ms())
    }

    fn pull_shipments(request: PullRequest) -> Result<ShipmentPage, ConnectorError> {
        delivery::pull_shipments(&mut HostTransport, &Settings::from_host()?, &request)
    }

    fn pull_erp_status(request: PullRequest) -> Result<ErpStatusPage, ConnectorError> {
        erp_status::pull_erp_status(&mut HostTransport, &Settings::from_host()?, &request)
    }
}

wharf_sdk::export_erp!(Sap);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_itself() {
        let d = descriptor();
        assert_eq!((d.name.as_str(), d.platform.as_str(), d.wit_version.as_str()), ("sap", "sap", "0.4.0"));
        assert_eq!(d.role, Role::Erp);
        assert!(d.http_hosts.is_empty());
        let key = |name: &str| d.config_keys.iter().find(|k| k.name == name).unwrap_or_else(|| panic!("{name}"));
        assert!(key("endpoint").required && key("sales_org").required);
        assert_eq!(key("mode").default_value.as_deref(), Some("odata"));
        assert_eq!(key("order_type").default_value.as_deref(), Some("OR"));
        assert!(key("sap_user").secret && key("sap_password").secret);
        assert!(!key("plant").required && key("plant").default_value.is_none());
        let mut names: Vec<&str> = d.config_keys.iter().map(|k| k.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), d.config_keys.len(), "no key twice");
        assert_eq!(d.operations, OPERATIONS);
    }

    #[test]
    fn unsupported_operations_name_themselves() {
        let request = || PullRequest { window: None, cursor: None };
        assert!(matches!(Sap::pull_products(request()), Err(ConnectorError::Unsupported(op)) if op == "pull-products"));
        assert!(
            matches!(Sap::pull_customers(request()), Err(ConnectorError::Unsupported(op)) if op == "pull-customers")
        );
    }
}
