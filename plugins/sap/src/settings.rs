//! The tenant's settings: where SAP is, how orders are headed, priced and shipped.
//!
//! Everything an SAP sales order needs that a marketplace order does not carry (sales area,
//! order type, sold-to party, units, pricing condition types) is tenant configuration, read
//! and checked here once per call. Errors name the key as `config.<key>`.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use serde_json::Value;
use wharf_sdk::config;
use wharf_sdk::time::SHANGHAI_OFFSET_MINUTES;
use wharf_sdk::types::ConnectorError;

use crate::key::Prefixes;

/// Config keys.
pub const ENDPOINT: &str = "endpoint";
pub const SAP_CLIENT: &str = "sap_client";
pub const MODE: &str = "mode";
pub const IDOC_ENDPOINT: &str = "idoc_endpoint";
pub const IDOC_SENDER_PORT: &str = "idoc_sender_port";
pub const IDOC_SENDER_PARTNER_TYPE: &str = "idoc_sender_partner_type";
pub const IDOC_SENDER_PARTNER: &str = "idoc_sender_partner";
pub const IDOC_RECEIVER_PORT: &str = "idoc_receiver_port";
pub const IDOC_RECEIVER_PARTNER_TYPE: &str = "idoc_receiver_partner_type";
pub const IDOC_RECEIVER_PARTNER: &str = "idoc_receiver_partner";
pub const SALES_ORG: &str = "sales_org";
pub const DISTRIBUTION_CHANNEL: &str = "distribution_channel";
pub const DIVISION: &str = "division";
pub const ORDER_TYPE: &str = "order_type";
pub const SOLD_TO: &str = "sold_to";
pub const SOLD_TO_BY_SHOP: &str = "sold_to_by_shop";
pub const PO_PREFIX_BY_SHOP: &str = "po_prefix_by_shop";
pub const UNIT_TABLE: &str = "unit_table";
pub const PRICE_CONDITION_TYPE: &str = "price_condition_type";
pub const DISCOUNT_CONDITION_TYPE: &str = "discount_condition_type";
pub const SHIPPING_FEE_MODE: &str = "shipping_fee_mode";
pub const SHIPPING_CONDITION_TYPE: &str = "shipping_condition_type";
pub const SHIPPING_MATERIAL: &str = "shipping_material";
pub const PLANT: &str = "plant";
pub const PAGE_SIZE: &str = "page_size";
pub const UTC_OFFSET_MINUTES: &str = "utc_offset_minutes";
pub const TRACKING_FIELD: &str = "tracking_field";
pub const CARRIER_FIELD: &str = "carrier_field";
pub const PRICE_CONDITION_DEFAULT: &str = "price_condition_default";
pub const PRICE_CONDITION_RETAIL: &str = "price_condition_retail";
pub const PRICE_CONDITION_REGION: &str = "price_condition_region";
pub const PRICE_CONDITION_CUSTOMER_GROUP: &str = "price_condition_customer_group";
pub const PRICE_REGION_FIELD: &str = "price_region_field";
pub const RETURN_TYPE: &str = "return_type";
pub const CREDIT_MEMO_REQUEST_TYPE: &str = "credit_memo_request_type";
pub const REFUND_CONDITION_TYPE: &str = "refund_condition_type";
pub const ORDER_REASON_BY_KIND: &str = "order_reason_by_kind";

/// Secrets: the communication user's name and password, sent as HTTP Basic auth.
pub const SAP_USER: &str = "sap_user";
pub const SAP_PASSWORD: &str = "sap_password";

/// What an S/4HANA base URL looks like, for error messages.
pub const EXAMPLE_ENDPOINT: &str = "https://my-s4.example.com";
/// `SalesOrderType` unless configured: `OR`, the standard order as the OData APIs name it
/// (internally `TA`).
pub const DEFAULT_ORDER_TYPE: &str = "OR";
/// The customer return type of S/4HANA's advanced returns management (`CBAR`).
pub const DEFAULT_RETURN_TYPE: &str = "CBAR";
/// The standard credit memo request type (`CR`).
pub const DEFAULT_CREDIT_MEMO_REQUEST_TYPE: &str = "CR";
/// The unit when the unit table names none: each.
pub const DEFAULT_UNIT: &str = "EA";
/// The unit table's fallback key.
pub const UNIT_TABLE_DEFAULT_KEY: &str = "default";
/// The price condition: `PR00`, the classic manual-capable price. S/4HANA's newer pricing
/// procedures use `PPR0`; set `price_condition_type` to that, or to "" to let SAP price.
pub const DEFAULT_PRICE_CONDITION_TYPE: &str = "PR00";
/// The discount condition: `RB00`, an absolute amount per item in the standard procedure.
pub const DEFAULT_DISCOUNT_CONDITION_TYPE: &str = "RB00";
/// The shipping fee condition: `ZFRE`, a customer-defined freight condition (the Z namespace
/// is the customer's; standard freight types such as `HD00` are weight-based).
pub const DEFAULT_SHIPPING_CONDITION_TYPE: &str = "ZFRE";
/// Rows per OData page unless configured. SAP Gateway sets no fixed cap on `$top`; 100 rows
/// of a stock list or of deliveries with items stays far below the host's response cap.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Bounds of `page_size`: at least one row; 1000 keeps a page of deliveries with expanded
/// items within a few MB.
pub const PAGE_SIZE_RANGE: RangeInclusive<u32> = 1..=1_000;
/// Offsets the world uses: UTC−12:00 to UTC+14:00.
pub const UTC_OFFSET_RANGE: RangeInclusive<i32> = -12 * 60..=14 * 60;
/// IDoc partner type unless configured: `LS`, a logical system.
pub const DEFAULT_PARTNER_TYPE: &str = "LS";

/// Where the delivery header keeps the tracking number and the carrier.
///
/// UNSURE: S/4HANA has no dedicated header fields for a parcel tracking number or an express
/// carrier. `BillOfLading` (LIKP-BOLNR) is where most implementations put the carrier's
/// waybill number, and `MeansOfTransport` (LIKP-TRAID) is the free "means of transport ID"
/// commonly used for the carrier; tenants that keep them elsewhere name other header fields
/// in `tracking_field` / `carrier_field`. This is the one place the defaults live.
pub const DEFAULT_TRACKING_FIELD: &str = "BillOfLading";
pub const DEFAULT_CARRIER_FIELD: &str = "MeansOfTransport";

/// The condition type of the marketplace's default price unless configured: `PR00`, the
/// standard sales price (`PPR0` in S/4HANA's newer pricing procedures).
pub const DEFAULT_PRICE_CONDITION_DEFAULT: &str = "PR00";
/// The validity field (`A_SlsPrcgCndnRecdValidity`) naming a region-group price's group.
///
/// UNSURE: SAP has no "group of provinces" key. `Region` (the customer's region, KNA1-REGIO)
/// is the closest standard condition field; tenants that model region groups in another key
/// field (a customer group such as `AdditionalCustomerGroup1`, a `SalesDistrict`) name it in
/// `price_region_field`. This is the one place the default lives.
pub const DEFAULT_PRICE_REGION_FIELD: &str = "Region";

/// The pricing condition types `pull-prices` reads, one per canonical price kind; a kind
/// without a type is not pulled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceConditions {
    pub default: String,
    pub suggested_retail: Option<String>,
    pub region_group: Option<String>,
    pub customer_group: Option<String>,
    /// The validity field holding a region-group price's group.
    pub region_field: String,
}

/// How orders reach SAP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `API_SALES_ORDER_SRV` deep insert (idempotent by `PurchaseOrderByCustomer`).
    Odata,
    /// ORDERS05 IDoc XML posted to `idoc_endpoint` (IDoc-over-HTTP or PI/PO).
    Idoc,
}

impl Mode {
    pub const TABLE: &'static [(&'static str, Mode)] = &[("odata", Mode::Odata), ("idoc", Mode::Idoc)];
}

/// Where the shipping fee goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShippingFee {
    /// A header pricing condition of this type.
    Condition(String),
    /// A service item of this material, priced with the price condition.
    Material(String),
}

/// The IDoc control record's partners (EDI_DC40).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdocSettings {
    pub endpoint: String,
    pub sender_port: Option<String>,
    pub sender_partner_type: String,
    pub sender_partner: String,
    pub receiver_port: Option<String>,
    pub receiver_partner_type: String,
    pub receiver_partner: Option<String>,
}

/// The sales area and document type every order gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub sales_org: String,
    pub distribution_channel: String,
    pub division: String,
    pub order_type: String,
}

/// Sales units per merchant SKU code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitTable {
    pub by_sku: BTreeMap<String, String>,
    pub default: String,
}

impl UnitTable {
    pub fn unit(&self, outer_sku_id: &str) -> &str {
        self.by_sku.get(outer_sku_id).map_or(self.default.as_str(), String::as_str)
    }
}

/// Condition types for item prices; `None` lets SAP determine the price itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    pub price_condition_type: Option<String>,
    pub discount_condition_type: String,
}

/// How after-sales become SAP documents ([`crate::after_sale`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterSales {
    /// `CustomerReturnType`.
    pub return_type: String,
    /// `CreditMemoRequestType`.
    pub credit_memo_request_type: String,
    /// A manual fixed-amount item condition carrying each item's share of the refund; `None`
    /// lets SAP price the items from the referenced sales order (copy control).
    pub refund_condition_type: Option<String>,
    /// `SDDocumentReason` per after-sale kind (`refund_after_shipping`…); none when absent.
    pub order_reason_by_kind: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Scheme and authority of the S/4HANA host, without a trailing `/`.
    pub endpoint: String,
    pub sap_client: Option<String>,
    pub mode: Mode,
    pub idoc: Option<IdocSettings>,
    pub header: Header,
    pub sold_to: Option<String>,
    pub sold_to_by_shop: BTreeMap<String, String>,
    /// Each shop's prefix of the idempotency key (see [`crate::key`]).
    pub po_prefixes: Prefixes,
    pub units: UnitTable,
    pub pricing: Pricing,
    pub shipping: ShippingFee,
    pub plant: Option<String>,
    pub page_size: u32,
    /// The SAP system's time zone, minutes east of UTC (dates and times without a zone).
    pub utc_offset_minutes: i32,
    pub tracking_field: String,
    pub carrier_field: String,
    pub prices: PriceConditions,
    pub after_sales: AfterSales,
}

impl Settings {
    /// Reads and checks the settings through `get` (the host's `config::get`, or a map in
    /// tests). Absent or empty values take the documented defaults.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConnectorError> {
        let text = |key: &str| get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let required = |key: &str| config::required(key, text(key));

        let endpoint = wharf_sdk::settings::endpoint(Some(&required(ENDPOINT)?), EXAMPLE_ENDPOINT)?;
        let sap_client = match text(SAP_CLIENT) {
            Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()) => Some(c),
            Some(c) => {
                return Err(invalid(SAP_CLIENT, format!("expected a three-digit SAP client like \"100\", got {c:?}")));
            }
            None => None,
        };
        let mode = match text(MODE) {
            None => Mode::Odata,
            Some(m) => wharf_sdk::status::lookup(Mode::TABLE, &m, &config::field(MODE))?,
        };
        let idoc = match mode {
            Mode::Odata => None,
            Mode::Idoc => Some(IdocSettings {
                endpoint: url(IDOC_ENDPOINT, &required(IDOC_ENDPOINT)?)?,
                sender_port: text(IDOC_SENDER_PORT),
                sender_partner_type: text(IDOC_SENDER_PARTNER_TYPE).unwrap_or_else(|| DEFAULT_PARTNER_TYPE.to_owned()),
                sender_partner: required(IDOC_SENDER_PARTNER)?,
                receiver_port: text(IDOC_RECEIVER_PORT),
                receiver_partner_type: text(IDOC_RECEIVER_PARTNER_TYPE)
                    .unwrap_or_else(|| DEFAULT_PARTNER_TYPE.to_owned()),
                receiver_partner: text(IDOC_RECEIVER_PARTNER),
            }),
        };
        let header = Header {
            sales_org: required(SALES_ORG)?,
            distribution_channel: required(DISTRIBUTION_CHANNEL)?,
            division: required(DIVISION)?,
            order_type: text(ORDER_TYPE).unwrap_or_else(|| DEFAULT_ORDER_TYPE.to_owned()),
        };
        let sold_to_by_shop = string_map(SOLD_TO_BY_SHOP, text(SOLD_TO_BY_SHOP))?;
        let po_prefixes = Prefixes::new(prefix_map(text(PO_PREFIX_BY_SHOP))?)?;
        let mut by_sku = string_map(UNIT_TABLE, text(UNIT_TABLE))?;
        let default_unit = by_sku.remove(UNIT_TABLE_DEFAULT_KEY).unwrap_or_else(|| DEFAULT_UNIT.to_owned());
        let pricing = Pricing {
            // Present but empty means "no price conditions": `get` tells absent from empty.
            price_condition_type: match get(PRICE_CONDITION_TYPE) {
                None => Some(DEFAULT_PRICE_CONDITION_TYPE.to_owned()),
                Some(v) if v.trim().is_empty() => None,
                Some(v) => Some(v.trim().to_owned()),
            },
            discount_condition_type: text(DISCOUNT_CONDITION_TYPE)
                .unwrap_or_else(|| DEFAULT_DISCOUNT_CONDITION_TYPE.to_owned()),
        };
        let shipping = match text(SHIPPING_FEE_MODE).as_deref() {
            None | Some("condition") => ShippingFee::Condition(
                text(SHIPPING_CONDITION_TYPE).unwrap_or_else(|| DEFAULT_SHIPPING_CONDITION_TYPE.to_owned()),
            ),
            Some("material") => ShippingFee::Material(required(SHIPPING_MATERIAL)?),
            Some(other) => {
                return Err(invalid(
                    SHIPPING_FEE_MODE,
                    format!("expected one of \"condition\", \"material\", got {other:?}"),
                ));
            }
        };
        let page_size = config::u32_in(PAGE_SIZE, text(PAGE_SIZE).as_deref(), DEFAULT_PAGE_SIZE, PAGE_SIZE_RANGE)?;
        let utc_offset_minutes = match text(UTC_OFFSET_MINUTES) {
            None => SHANGHAI_OFFSET_MINUTES,
            Some(t) => match t.parse::<i32>() {
                Ok(n) if UTC_OFFSET_RANGE.contains(&n) => n,
                _ => {
                    return Err(invalid(
                        UTC_OFFSET_MINUTES,
                        format!(
                            "expected minutes east of UTC in {}..={} (480 for China), got {t:?}",
                            UTC_OFFSET_RANGE.start(),
                            UTC_OFFSET_RANGE.end()
                        ),
                    ));
                }
            },
        };
        let tracking_field = property_name(TRACKING_FIELD, text(TRACKING_FIELD), DEFAULT_TRACKING_FIELD)?;
        let carrier_field = property_name(CARRIER_FIELD, text(CARRIER_FIELD), DEFAULT_CARRIER_FIELD)?;
        let prices = PriceConditions {
            default: text(PRICE_CONDITION_DEFAULT).unwrap_or_else(|| DEFAULT_PRICE_CONDITION_DEFAULT.to_owned()),
            suggested_retail: text(PRICE_CONDITION_RETAIL),
            region_group: text(PRICE_CONDITION_REGION),
            customer_group: text(PRICE_CONDITION_CUSTOMER_GROUP),
            region_field: property_name(PRICE_REGION_FIELD, text(PRICE_REGION_FIELD), DEFAULT_PRICE_REGION_FIELD)?,
        };
        let order_reason_by_kind = string_map(ORDER_REASON_BY_KIND, text(ORDER_REASON_BY_KIND))?;
        if let Some((kind, reason)) = order_reason_by_kind.iter().find(|(_, r)| r.chars().count() > 3) {
            return Err(invalid(
                ORDER_REASON_BY_KIND,
                format!(
                    "expected order reasons of at most 3 characters (SDDocumentReason), got {reason:?} for {kind:?}"
                ),
            ));
        }
        let after_sales = AfterSales {
            return_type: text(RETURN_TYPE).unwrap_or_else(|| DEFAULT_RETURN_TYPE.to_owned()),
            credit_memo_request_type: text(CREDIT_MEMO_REQUEST_TYPE)
                .unwrap_or_else(|| DEFAULT_CREDIT_MEMO_REQUEST_TYPE.to_owned()),
            refund_condition_type: text(REFUND_CONDITION_TYPE),
            order_reason_by_kind,
        };
        Ok(Self {
            endpoint,
            sap_client,
            mode,
            idoc,
            header,
            sold_to: text(SOLD_TO),
            sold_to_by_shop,
            po_prefixes,
            units: UnitTable { by_sku, default: default_unit },
            pricing,
            shipping,
            plant: text(PLANT),
            page_size,
            utc_offset_minutes,
            tracking_field,
            carrier_field,
            prices,
            after_sales,
        })
    }

    /// The host's settings.
    pub fn from_host() -> Result<Self, ConnectorError> {
        let settings = Self::from_lookup(config::get)?;
        config::require_secret(SAP_USER)?;
        config::require_secret(SAP_PASSWORD)?;
        Ok(settings)
    }

    /// The sold-to party of an order: the order's own ERP customer, else the shop's, else the
    /// tenant's default.
    pub fn sold_to<'a>(&'a self, erp_customer_code: Option<&'a str>, shop_id: &str) -> Option<&'a str> {
        erp_customer_code
            .filter(|c| !c.trim().is_empty())
            .or_else(|| self.sold_to_by_shop.get(shop_id).map(String::as_str))
            .or(self.sold_to.as_deref())
    }
}

fn invalid(key: &str, reason: impl Into<String>) -> ConnectorError {
    ConnectorError::invalid_input(config::field(key), reason)
}

/// An http(s) URL (a query is allowed: IDoc receivers often take `?sap-client=100`),
/// without a trailing `/`.
fn url(key: &str, value: &str) -> Result<String, ConnectorError> {
    if !(value.starts_with("https://") || value.starts_with("http://")) {
        return Err(invalid(
            key,
            format!("expected an http(s) URL like \"{EXAMPLE_ENDPOINT}/sap/bc/idoc_xml\", got {value:?}"),
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// A JSON object of strings (`{"shop-1": "C0001"}`); absent is empty.
fn string_map(key: &str, value: Option<String>) -> Result<BTreeMap<String, String>, ConnectorError> {
    let Some(text) = value else {
        return Ok(BTreeMap::new());
    };
    let expected = "expected a JSON object of strings like {\"key\": \"value\"}";
    let parsed: Value =
        serde_json::from_str(&text).map_err(|e| invalid(key, format!("{expected}, got {text:?}: {e}")))?;
    let Value::Object(map) = parsed else {
        return Err(invalid(key, format!("{expected}, got {text:?}")));
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) if !s.trim().is_empty() => Ok((k, s.trim().to_owned())),
            other => {
                Err(invalid(key, format!("{expected}, got {} for {k:?}", wharf_sdk::json::describe(Some(&other)))))
            }
        })
        .collect()
}

/// `po_prefix_by_shop`: a JSON object of strings, where `""` is a value (the shop whose keys
/// are bare order ids); absent is empty. The prefixes themselves are checked by [`Prefixes`].
fn prefix_map(value: Option<String>) -> Result<BTreeMap<String, String>, ConnectorError> {
    let Some(text) = value else {
        return Ok(BTreeMap::new());
    };
    let expected = "expected a JSON object like {\"taobao:tb-1\": \"TB1\"} (\"<platform>:<shop_id>\" \
                    -> prefix)";
    let parsed: Value = serde_json::from_str(&text)
        .map_err(|e| invalid(PO_PREFIX_BY_SHOP, format!("{expected}, got {text:?}: {e}")))?;
    let Value::Object(map) = parsed else {
        return Err(invalid(PO_PREFIX_BY_SHOP, format!("{expected}, got {text:?}")));
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s.trim().to_owned())),
            other => Err(invalid(
                PO_PREFIX_BY_SHOP,
                format!("{expected}, got {} for {k:?}", wharf_sdk::json::describe(Some(&other))),
            )),
        })
        .collect()
}

/// An OData property name (it goes into `$select`): letters, digits and `_`.
fn property_name(key: &str, value: Option<String>, default: &str) -> Result<String, ConnectorError> {
    let Some(name) = value else {
        return Ok(default.to_owned());
    };
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(invalid(key, format!("expected an OData property name like {default:?}, got {name:?}")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use wharf_sdk::types::FieldError;

    pub use wharf_sdk::testing::lookup;

    pub const BASE: &[(&str, &str)] = &[
        ("endpoint", "https://my-s4.example.com/"),
        ("sales_org", "1000"),
        ("distribution_channel", "10"),
        ("division", "00"),
        ("sold_to", "C0001"),
    ];

    pub fn settings(extra: &[(&str, &str)]) -> Settings {
        let pairs: Vec<(&str, &str)> = BASE.iter().chain(extra).copied().collect();
        Settings::from_lookup(lookup(&pairs)).unwrap()
    }

    fn error(extra: &[(&str, &str)]) -> FieldError {
        let pairs: Vec<(&str, &str)> = BASE.iter().chain(extra).copied().collect();
        match Settings::from_lookup(lookup(&pairs)) {
            Err(ConnectorError::InvalidInput(f)) => f,
            other => panic!("{extra:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let s = settings(&[]);
        assert_eq!(s.endpoint, "https://my-s4.example.com");
        assert_eq!((s.mode, s.sap_client.as_deref(), s.idoc.as_ref()), (Mode::Odata, None, None));
        assert_eq!(s.header.order_type, "OR");
        assert_eq!(s.units.unit("FG-1"), "EA");
        assert_eq!(s.pricing.price_condition_type.as_deref(), Some("PR00"));
        assert_eq!(s.pricing.discount_condition_type, "RB00");
        assert_eq!(s.shipping, ShippingFee::Condition("ZFRE".into()));
        assert_eq!((s.page_size, s.utc_offset_minutes), (100, 480));
        assert_eq!((s.tracking_field.as_str(), s.carrier_field.as_str()), ("BillOfLading", "MeansOfTransport"));
        assert_eq!(
            s.prices,
            PriceConditions {
                default: "PR00".into(),
                suggested_retail: None,
                region_group: None,
                customer_group: None,
                region_field: "Region".into(),
            }
        );
    }

    #[test]
    fn tables_and_modes() {
        let s = settings(&[
            ("sap_client", "100"),
            ("sold_to_by_shop", r#"{"s1": "C0100"}"#),
            ("po_prefix_by_shop", r#"{"ecshop:s1": "EC1", "taobao:old": ""}"#),
            ("unit_table", r#"{"FG-2": "KAR", "default": "PC"}"#),
            ("shipping_fee_mode", "material"),
            ("shipping_material", "SHIP-FEE"),
            ("price_condition_type", ""),
            ("mode", "idoc"),
            ("idoc_endpoint", "https://pi.example.com/idoc"),
            ("idoc_sender_partner", "WHARF"),
        ]);
        assert_eq!(s.sap_client.as_deref(), Some("100"));
        assert_eq!(s.sold_to(None, "s1"), Some("C0100"));
        assert_eq!(s.sold_to(None, "s2"), Some("C0001"));
        assert_eq!(s.sold_to(Some("C0900"), "s1"), Some("C0900"));
        assert_eq!(
            (s.po_prefixes.of("ecshop", "s1"), s.po_prefixes.of("taobao", "old"), s.po_prefixes.of("taobao", "s1"),),
            ("EC1".into(), String::new(), crate::key::default_prefix("taobao", "s1"))
        );
        assert_eq!((s.units.unit("FG-2"), s.units.unit("FG-3")), ("KAR", "PC"));
        assert_eq!(s.shipping, ShippingFee::Material("SHIP-FEE".into()));
        assert_eq!(s.pricing.price_condition_type, None);
        let idoc = s.idoc.unwrap();
        assert_eq!((idoc.sender_partner_type.as_str(), idoc.sender_partner.as_str()), ("LS", "WHARF"));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (extra, field) in [
            (vec![("endpoint", "my-s4")], "config.endpoint"),
            (vec![("sap_client", "1000")], "config.sap_client"),
            (vec![("mode", "rfc")], "config.mode"),
            (vec![("mode", "idoc")], "config.idoc_endpoint"),
            (vec![("mode", "idoc"), ("idoc_endpoint", "https://x")], "config.idoc_sender_partner"),
            (vec![("sold_to_by_shop", "[1]")], "config.sold_to_by_shop"),
            (vec![("unit_table", r#"{"a": 1}"#)], "config.unit_table"),
            (vec![("po_prefix_by_shop", r#"{"taobao:a": 1}"#)], "config.po_prefix_by_shop"),
            (vec![("po_prefix_by_shop", r#"{"taobao:a": "A-B"}"#)], "config.po_prefix_by_shop"),
            (vec![("shipping_fee_mode", "free")], "config.shipping_fee_mode"),
            (vec![("shipping_fee_mode", "material")], "config.shipping_material"),
            (vec![("page_size", "0")], "config.page_size"),
            (vec![("utc_offset_minutes", "900")], "config.utc_offset_minutes"),
            (vec![("tracking_field", "Bill Of Lading")], "config.tracking_field"),
            (vec![("price_region_field", "to_X/Region")], "config.price_region_field"),
        ] {
            assert_eq!(error(&extra).field, field, "{extra:?}");
        }
        match Settings::from_lookup(lookup(&[("endpoint", "https://x")])) {
            Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, "config.sales_org"),
            other => panic!("{other:?}"),
        }
    }
}
