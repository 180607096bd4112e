//! The canonical model, in the host's own types.
//!
//! Every WIT version converts to and from these (see `sandbox::contract`), so the store, the API
//! and the CLI never depend on one contract version. The serde form is the JSON form of
//! `wit/canonical-model.md`: snake_case names, money as integer minor units, instants as
//! RFC 3339 UTC strings, absent fields omitted.

pub mod after_sales;
pub mod modules;

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

pub use after_sales::{
    AfterSale, AfterSaleAction, AfterSaleDecision, AfterSaleKind, AfterSaleLine, AfterSaleStatus, DecryptPurpose,
    InvoiceFileType, InvoiceUpload, PlainReceiver, ReceiverRef, ReturnWaybill,
};
pub use modules::{Interval, Module};

/// Minor units of the record's currency (fen for CNY). An alias, so the schema derive cannot
/// see it: money fields say `#[schema(value_type = i64)]`.
pub type Money = i64;

/// An instant in UTC, held as Unix milliseconds; RFC 3339 in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn now() -> Self {
        Timestamp(chrono::Utc::now().timestamp_millis())
    }

    /// Parses RFC 3339 (any offset; stored as UTC).
    pub fn parse_rfc3339(s: &str) -> Result<Self, String> {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Timestamp(t.timestamp_millis()))
            .map_err(|e| format!("expected an RFC 3339 instant like 2026-11-11T00:00:05Z, got {s:?}: {e}"))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match chrono::DateTime::from_timestamp_millis(self.0) {
            Some(t) if self.0 % 1000 == 0 => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%SZ")),
            Some(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ")),
            None => write!(f, "{}ms", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// RFC 3339 text, as it serializes (the Rust type is milliseconds).
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .examples(["2026-11-11T00:00:05Z"])
            .into()
    }
}

impl ToSchema for Timestamp {}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Unpaid,
    /// Paid, awaiting shipment: may be shipped.
    Paid,
    /// Paid, but the platform forbids shipping for now (a frozen or locked order). Never
    /// shippable while held; contract 0.2 and later.
    Held,
    PartiallyShipped,
    Shipped,
    Completed,
    Cancelled,
    Closed,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Unpaid,
        OrderStatus::Paid,
        OrderStatus::Held,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
        OrderStatus::Closed,
    ];

    /// The snake_case name the JSON form and config files use.
    pub const fn name(self) -> &'static str {
        match self {
            OrderStatus::Unpaid => "unpaid",
            OrderStatus::Paid => "paid",
            OrderStatus::Held => "held",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Closed => "closed",
        }
    }

    pub fn from_name(name: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    None,
    Requested,
    Refunded,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Receiver {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    pub masked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_ref: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    Paper,
    Electronic,
    VatSpecial,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Invoice {
    pub kind: InvoiceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub line_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer_product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer_sku_id: Option<String>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_properties: Option<String>,
    pub quantity: u32,
    #[schema(value_type = i64)]
    pub unit_price: Money,
    #[schema(value_type = i64)]
    pub discount: Money,
    #[schema(value_type = i64)]
    pub line_total: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_no: Option<String>,
    pub refund_status: RefundStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub platform: String,
    pub shop_id: String,
    pub order_id: String,
    pub status: OrderStatus,
    pub platform_status: String,
    pub refund_status: RefundStatus,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    pub currency: String,
    #[schema(value_type = i64)]
    pub goods_total: Money,
    #[schema(value_type = i64)]
    pub shipping_fee: Money,
    #[schema(value_type = i64)]
    pub discount_total: Money,
    #[schema(value_type = i64)]
    pub paid_total: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_nick: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_memo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<Receiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<Invoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp_customer_code: Option<String>,
    pub lines: Vec<OrderLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub erp_product_id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_no: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[schema(value_type = i64)]
    pub default_price: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub suggested_retail_price: Option<Money>,
    #[serde(default)]
    pub stock: u32,
    #[serde(default)]
    pub list_when_in_stock: bool,
}

/// `{"kind": "region_group", "group_id": "…"}`; the group ids are the platform's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PriceKind {
    Default,
    SuggestedRetail,
    RegionGroup { group_id: String },
    CustomerGroup { group_id: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "PriceForm")]
pub struct Price {
    #[serde(flatten)]
    pub kind: PriceKind,
    #[schema(value_type = i64)]
    pub amount: Money,
}

/// A [`Price`] as it is read: its fields side by side, so that an unknown one is refused like in
/// every other record (serde cannot refuse unknown fields through a flattened enum).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceForm {
    kind: String,
    #[serde(default)]
    group_id: Option<String>,
    amount: Money,
}

impl TryFrom<PriceForm> for Price {
    type Error = String;

    fn try_from(form: PriceForm) -> Result<Price, String> {
        let kind = match (form.kind.as_str(), form.group_id) {
            ("default", None) => PriceKind::Default,
            ("suggested_retail", None) => PriceKind::SuggestedRetail,
            ("region_group", Some(group_id)) => PriceKind::RegionGroup { group_id },
            ("customer_group", Some(group_id)) => PriceKind::CustomerGroup { group_id },
            ("region_group" | "customer_group", None) => {
                return Err(format!("missing field `group_id`: a {} price names its group", form.kind));
            }
            ("default" | "suggested_retail", Some(_)) => {
                return Err(format!(
                    "unknown field `group_id` in a {} price: only region_group and customer_group prices name a group",
                    form.kind
                ));
            }
            (other, _) => {
                return Err(format!(
                    "unknown price kind `{other}`, expected one of `default`, `suggested_retail`, `region_group`, \
                     `customer_group`"
                ));
            }
        };
        Ok(Price { kind, amount: form.amount })
    }
}

fn cny() -> String {
    "CNY".to_owned()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceUpdate {
    pub outer_sku_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_id: Option<String>,
    #[serde(default = "cny")]
    pub currency: String,
    pub prices: Vec<Price>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lot {
    pub batch_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produced_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<String>,
    pub quantity: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LotSync {
    pub outer_sku_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_id: Option<String>,
    pub lots: Vec<Lot>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer_sku_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    pub listed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockUpdate {
    pub outer_sku_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_id: Option<String>,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    #[serde(default)]
    pub version: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerMapping {
    pub erp_customer_code: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_customer_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Logistics {
    pub order_id: String,
    pub carrier_code: String,
    pub tracking_no: String,
    pub shipped_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentLine {
    pub outer_sku_id: String,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_no: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produced_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentDetail {
    pub order_id: String,
    pub lines: Vec<ShipmentLine>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErpStatusCode {
    Accepted,
    Picking,
    Packed,
    OutOfStock,
    Shipped,
    Signed,
    Cancelled,
}

impl ErpStatusCode {
    pub const ALL: [ErpStatusCode; 7] = [
        ErpStatusCode::Accepted,
        ErpStatusCode::Picking,
        ErpStatusCode::Packed,
        ErpStatusCode::OutOfStock,
        ErpStatusCode::Shipped,
        ErpStatusCode::Signed,
        ErpStatusCode::Cancelled,
    ];

    /// The snake_case name the JSON form and config files use.
    pub const fn name(self) -> &'static str {
        match self {
            ErpStatusCode::Accepted => "accepted",
            ErpStatusCode::Picking => "picking",
            ErpStatusCode::Packed => "packed",
            ErpStatusCode::OutOfStock => "out_of_stock",
            ErpStatusCode::Shipped => "shipped",
            ErpStatusCode::Signed => "signed",
            ErpStatusCode::Cancelled => "cancelled",
        }
    }

    pub fn from_name(name: &str) -> Option<ErpStatusCode> {
        ErpStatusCode::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for ErpStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErpStatus {
    pub order_id: String,
    pub erp_status: ErpStatusCode,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a plugin returns when an operation fails; the host decides retries from the kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectorError {
    #[error("authentication failed: {message}")]
    Auth { message: String },
    #[error("rate limited, retry after {retry_after_ms} ms: {message}")]
    RateLimited { retry_after_ms: u64, message: String },
    #[error("invalid input at `{field}`: {reason}")]
    InvalidInput { field: String, reason: String },
    #[error("not found: {message}")]
    NotFound { message: String },
    #[error("operation `{operation}` is not supported")]
    Unsupported { operation: String },
    #[error("platform error {code}: {message}")]
    Platform { code: String, message: String },
    #[error("transient failure (retry is safe): {reason}")]
    Transient { reason: String },
}

impl ConnectorError {
    /// The kind's name, as its JSON `kind` spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorError::Auth { .. } => "auth",
            ConnectorError::RateLimited { .. } => "rate_limited",
            ConnectorError::InvalidInput { .. } => "invalid_input",
            ConnectorError::NotFound { .. } => "not_found",
            ConnectorError::Unsupported { .. } => "unsupported",
            ConnectorError::Platform { .. } => "platform",
            ConnectorError::Transient { .. } => "transient",
        }
    }
}

/// `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub from: Timestamp,
    pub to: Timestamp,
}

/// A record a plugin could not map, reported beside the good ones of its page (contract 0.2):
/// the host sets it aside in quarantine and the page, its window and its shop go on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// The record's own id on the platform.
    pub id: String,
    /// A path inside the platform's record.
    pub field: String,
    /// What was expected, and what came.
    pub reason: String,
    /// The platform's record as it came, receiver data masked by the plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    #[serde(default)]
    pub rejected: Vec<Rejected>,
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_ref: Option<String>,
}

/// The outcome of one pushed item, in JSON `{"ok": {...}}` or `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemResult {
    Ok(PushAck),
    Error(ConnectorError),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum OrderPushOutcome {
    Created { erp_ref: String },
    AlreadyExists { erp_ref: String },
    Failed { error: ConnectorError },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPushResult {
    pub order_id: String,
    #[serde(flatten)]
    pub outcome: OrderPushOutcome,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One page of an ERP pull.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub rejected: Vec<Rejected>,
    pub next_cursor: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Marketplace,
    Erp,
}

/// Every operation of the contract; the CLI and the logs use the kebab-case WIT names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Describe,
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
    PushOrders,
    PullStock,
    PullPrices,
    PullLots,
    PullProducts,
    PullCustomers,
    PullLogistics,
    PullShipments,
    PullErpStatus,
    PullAfterSales,
    GetAfterSale,
    PushAfterSaleActions,
    DecryptReceivers,
    PushInvoices,
    PushAfterSales,
    PullInvoices,
}

impl Operation {
    pub const ALL: [Operation; 28] = [
        Operation::Describe,
        Operation::PullOrders,
        Operation::GetOrder,
        Operation::PushStock,
        Operation::PushPrices,
        Operation::PushLots,
        Operation::PushListing,
        Operation::PushProducts,
        Operation::PushCustomers,
        Operation::PushLogistics,
        Operation::PushShipments,
        Operation::PushErpStatus,
        Operation::PushOrders,
        Operation::PullStock,
        Operation::PullPrices,
        Operation::PullLots,
        Operation::PullProducts,
        Operation::PullCustomers,
        Operation::PullLogistics,
        Operation::PullShipments,
        Operation::PullErpStatus,
        Operation::PullAfterSales,
        Operation::GetAfterSale,
        Operation::PushAfterSaleActions,
        Operation::DecryptReceivers,
        Operation::PushInvoices,
        Operation::PushAfterSales,
        Operation::PullInvoices,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::Describe => "describe",
            Operation::PullOrders => "pull-orders",
            Operation::GetOrder => "get-order",
            Operation::PushStock => "push-stock",
            Operation::PushPrices => "push-prices",
            Operation::PushLots => "push-lots",
            Operation::PushListing => "push-listing",
            Operation::PushProducts => "push-products",
            Operation::PushCustomers => "push-customers",
            Operation::PushLogistics => "push-logistics",
            Operation::PushShipments => "push-shipments",
            Operation::PushErpStatus => "push-erp-status",
            Operation::PushOrders => "push-orders",
            Operation::PullStock => "pull-stock",
            Operation::PullPrices => "pull-prices",
            Operation::PullLots => "pull-lots",
            Operation::PullProducts => "pull-products",
            Operation::PullCustomers => "pull-customers",
            Operation::PullLogistics => "pull-logistics",
            Operation::PullShipments => "pull-shipments",
            Operation::PullErpStatus => "pull-erp-status",
            Operation::PullAfterSales => "pull-after-sales",
            Operation::GetAfterSale => "get-after-sale",
            Operation::PushAfterSaleActions => "push-after-sale-actions",
            Operation::DecryptReceivers => "decrypt-receivers",
            Operation::PushInvoices => "push-invoices",
            Operation::PushAfterSales => "push-after-sales",
            Operation::PullInvoices => "pull-invoices",
        }
    }

    pub fn parse(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The world an operation belongs to (`describe` belongs to both).
    pub fn role(self) -> Option<Role> {
        use Operation::*;
        match self {
            Describe => None,
            PullOrders | GetOrder | PushStock | PushPrices | PushLots | PushListing | PushProducts | PushCustomers
            | PushLogistics | PushShipments | PushErpStatus | PullAfterSales | GetAfterSale | PushAfterSaleActions
            | DecryptReceivers | PushInvoices => Some(Role::Marketplace),
            _ => Some(Role::Erp),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConfigKey {
    pub name: String,
    pub description: String,
    pub secret: bool,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
}

/// What a plugin says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Descriptor {
    pub name: String,
    pub version: String,
    pub platform: String,
    pub role: Role,
    pub wit_version: String,
    pub operations: Vec<Operation>,
    pub http_hosts: Vec<String>,
    pub config_keys: Vec<ConfigKey>,
    /// The most items one call of an operation takes (contract 0.3.0); the host splits larger
    /// batches. Empty for older plugins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch_limits: Vec<BatchLimit>,
}

impl Descriptor {
    /// The most items one call of `operation` takes, if the plugin says.
    pub fn batch_limit(&self, operation: Operation) -> Option<usize> {
        self.batch_limits.iter().find(|l| l.operation == operation).map(|l| l.max_items as usize)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchLimit {
    pub operation: Operation,
    pub max_items: u32,
}

/// The language a tenant's staff read: its spreadsheet templates' headers (imports read a
/// header in either), and later its pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Language {
    /// The Chinese header (`商家编码`): what a Chinese merchant's staff read.
    #[default]
    Chinese,
    /// The canonical field name (`outer_sku_id`): what the API and an ERP integrator read.
    English,
}

impl Language {
    /// `zh` or `en`: what [`Language::parse`] reads back.
    pub fn code(self) -> &'static str {
        match self {
            Language::Chinese => "zh",
            Language::English => "en",
        }
    }

    /// `zh` or `en` (also `zh-CN`).
    pub fn parse(code: &str) -> Option<Language> {
        match code {
            "zh" | "zh-CN" => Some(Language::Chinese),
            "en" => Some(Language::English),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = Timestamp::parse_rfc3339("2026-11-11T08:00:05+08:00").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2026-11-11T00:00:05Z\"");
        assert_eq!(Timestamp(1_500).to_string(), "1970-01-01T00:00:01.500Z");
        assert!(Timestamp::parse_rfc3339("2026-11-11 00:00:05").is_err());
    }

    #[test]
    fn json_names_are_the_canonical_snake_case() {
        let p = Price { kind: PriceKind::RegionGroup { group_id: "south".into() }, amount: 19990 };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"kind": "region_group", "group_id": "south", "amount": 19990})
        );
        let e = ConnectorError::RateLimited { retry_after_ms: 12000, message: "ban".into() };
        assert_eq!(serde_json::to_value(&e).unwrap()["kind"], "rate_limited");
        assert_eq!(serde_json::to_value(OrderStatus::PartiallyShipped).unwrap(), "partially_shipped");
        assert_eq!(Operation::parse("push-erp-status"), Some(Operation::PushErpStatus));
    }

    /// Records an ERP sends are read strictly: a misspelt field is refused naming it and the
    /// fields there are, never dropped (a `quantiy` would otherwise queue stock 0 or fail far
    /// from its cause). Every kind of price reads back what it writes.
    #[test]
    fn update_records_refuse_unknown_fields() {
        use serde_json::json;
        let e = serde_json::from_value::<StockUpdate>(json!({"outer_sku_id": "A", "quantity": 1, "quantiy": 2}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `quantiy`") && e.contains("`quantity`"), "{e}");
        let e = serde_json::from_value::<ShipmentDetail>(
            json!({"order_id": "1", "lines": [{"outer_sku_id": "A", "quantity": 1, "lot": "L1"}]}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown field `lot`") && e.contains("`batch_no`"), "{e}");

        for price in [
            Price { kind: PriceKind::Default, amount: 1 },
            Price { kind: PriceKind::SuggestedRetail, amount: 2 },
            Price { kind: PriceKind::RegionGroup { group_id: "south".into() }, amount: 3 },
            Price { kind: PriceKind::CustomerGroup { group_id: "vip".into() }, amount: 4 },
        ] {
            let back: Price = serde_json::from_value(serde_json::to_value(&price).unwrap()).unwrap();
            assert_eq!(back, price);
        }
        for (bad, says) in [
            (json!({"kind": "default", "amount": 1, "currency": "CNY"}), "unknown field `currency`"),
            (json!({"kind": "default", "group_id": "g", "amount": 1}), "unknown field `group_id`"),
            (json!({"kind": "region_group", "amount": 1}), "missing field `group_id`"),
            (json!({"kind": "wholesale", "amount": 1}), "unknown price kind `wholesale`"),
        ] {
            let e = serde_json::from_value::<Price>(bad.clone()).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
