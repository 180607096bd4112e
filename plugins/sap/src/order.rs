//! A canonical order checked and turned into what an SAP sales order needs, whichever way it
//! travels (OData deep insert or ORDERS05 IDoc).
//!
//! Decisions made here:
//! - The customer's purchase order number (`PurchaseOrderByCustomer`, VBKD-BSTKD, CHAR 35) is
//!   the key that makes pushes idempotent: the shop's prefix and the platform order id
//!   ([`crate::key`]). A key longer than 35 characters fails the order: cutting it could make
//!   two orders share one key.
//! - Only orders that are to be fulfilled go to SAP: `unpaid` (may never be paid),
//!   `cancelled` and `closed` fail with `invalid_input` on `status`.
//! - Prices, when a price condition type is configured, are the unit price (a price
//!   condition) and the line's discount (an absolute discount condition), so SAP's net value
//!   is what the buyer paid for the line to the fen. What the buyer paid beyond or below the
//!   lines and the shipping fee (an order-level discount the platform did not spread over
//!   lines) becomes a header discount condition, so the order's net value is `paid_total`.
//! - The requested delivery date is the day the order was paid (else created) in the SAP
//!   system's zone: marketplace orders are to ship at once.

use wharf_sdk::money;
use wharf_sdk::time;
use wharf_sdk::types::{ConnectorError, Order, OrderPushOutcome, OrderPushResult, OrderStatus, Receiver};

use crate::odata::Failure;
use crate::settings::{Settings, ShippingFee};

/// S/4HANA material numbers (MATNR) are CHAR 40.
pub const MAX_MATERIAL_CHARS: usize = 40;
/// SAP numbers items 10, 20, 30… (the default increment of the sales document types).
pub const ITEM_STEP: u32 = 10;
/// Sales document items are NUMC 6.
pub const MAX_ITEM_NUMBER: u32 = 999_999;

/// ISO 4217 minor-unit exponents of the currencies Wharf's platforms sell in. A currency not
/// listed fails the order rather than being guessed.
pub const CURRENCY_DECIMALS: &[(&str, u32)] = &[
    ("CNY", 2),
    ("HKD", 2),
    ("MOP", 2),
    ("TWD", 2),
    ("USD", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("SGD", 2),
    ("JPY", 0),
    ("KRW", 0),
];

/// Statuses of orders that are to be fulfilled.
const FULFILLABLE: &[OrderStatus] =
    &[OrderStatus::Paid, OrderStatus::PartiallyShipped, OrderStatus::Shipped, OrderStatus::Completed];

/// One item of the sales order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `000010`, `000020`…
    pub number: String,
    pub material: String,
    pub quantity: u32,
    pub unit: String,
    /// Minor units.
    pub unit_price: i64,
    pub discount: i64,
    pub line_total: i64,
    pub title: String,
}

/// Where the shipping fee goes, with its amount (minor units, non-zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shipping {
    Condition { condition_type: String, amount: i64 },
    Item(Item),
}

/// A checked order, in SAP's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// `PurchaseOrderByCustomer`: the idempotency key ([`crate::key`]).
    pub purchase_order: String,
    pub sold_to: String,
    pub currency: String,
    pub decimals: u32,
    /// `YYYY-MM-DD` in the SAP system's zone.
    pub document_date: String,
    pub requested_delivery_date: String,
    pub items: Vec<Item>,
    pub shipping: Option<Shipping>,
    /// `paid_total − shipping_fee − Σ line_total`: an order-level surcharge (> 0) or discount
    /// (< 0) the lines do not carry.
    pub order_adjustment: i64,
    pub receiver: Option<Receiver>,
}

impl Draft {
    /// Checks `order` and resolves what SAP needs from `settings`.
    pub fn from_order(order: &Order, settings: &Settings) -> Result<Self, ConnectorError> {
        let purchase_order = settings.po_prefixes.purchase_order(order)?;
        if !FULFILLABLE.contains(&order.status) {
            return Err(ConnectorError::invalid_input(
                "status",
                format!(
                    "expected an order to fulfil (paid, partially_shipped, shipped or completed), got {:?}",
                    order.status
                ),
            ));
        }
        let sold_to = settings.sold_to(order.erp_customer_code.as_deref(), &order.shop_id).ok_or_else(|| {
            ConnectorError::invalid_input(
                "erp_customer_code",
                format!(
                    "expected the order's ERP customer, or config sold_to_by_shop[{:?}] or config sold_to, got none",
                    order.shop_id
                ),
            )
        })?;
        let decimals = wharf_sdk::status::lookup(CURRENCY_DECIMALS, &order.currency, "currency")?;
        if order.lines.is_empty() {
            return Err(ConnectorError::invalid_input("lines", "expected at least one line, got none"));
        }
        let mut items = Vec::with_capacity(order.lines.len() + 1);
        for (i, line) in order.lines.iter().enumerate() {
            let material = material(&format!("lines[{i}].outer_sku_id"), line.outer_sku_id.as_deref())?;
            if line.quantity == 0 {
                return Err(ConnectorError::invalid_input(
                    format!("lines[{i}].quantity"),
                    "expected at least 1, got 0",
                ));
            }
            items.push(Item {
                number: item_number(i)?,
                unit: settings.units.unit(&material).to_owned(),
                material,
                quantity: line.quantity,
                unit_price: line.unit_price,
                discount: line.discount,
                line_total: line.line_total,
                title: line.title.clone(),
            });
        }
        let shipping = match (&settings.shipping, order.shipping_fee) {
            (_, 0) => None,
            (ShippingFee::Condition(condition_type), amount) => {
                Some(Shipping::Condition { condition_type: condition_type.clone(), amount })
            }
            (ShippingFee::Material(material), amount) => Some(Shipping::Item(Item {
                number: item_number(items.len())?,
                unit: settings.units.unit(material).to_owned(),
                material: material.clone(),
                quantity: 1,
                unit_price: amount,
                discount: 0,
                line_total: amount,
                title: "Shipping".to_owned(),
            })),
        };
        let lines_total: i64 = order.lines.iter().map(|l| l.line_total).sum();
        let offset = settings.utc_offset_minutes;
        Ok(Self {
            purchase_order,
            sold_to: sold_to.to_owned(),
            currency: order.currency.clone(),
            decimals,
            document_date: time::ms_to_calendar_date(order.created_at, offset),
            requested_delivery_date: time::ms_to_calendar_date(order.paid_at.unwrap_or(order.created_at), offset),
            items,
            shipping,
            order_adjustment: order.paid_total - order.shipping_fee - lines_total,
            receiver: order.receiver.clone(),
        })
    }

    /// An amount of this order's currency as SAP's decimal string.
    pub fn amount(&self, minor_units: i64) -> String {
        money::format_minor_units(minor_units, self.decimals)
    }

    /// The requested delivery date as `Edm.DateTime` (midnight UTC of the date).
    pub fn requested_delivery_odata(&self) -> Result<String, ConnectorError> {
        let ms = time::calendar_date_to_ms(&self.requested_delivery_date)
            .map_err(|e| ConnectorError::invalid_input("paid_at", e.to_string()))?;
        Ok(time::ms_to_odata(ms))
    }
}

/// Pushes `orders` one by one with `push`, one result each in order. A failure of one order
/// is that order's `failed`; a failure that concerns the whole call (no answer, refused
/// credentials, throttling) stops the batch and is the call's error: every later order would
/// fail the same way, and pushes are safe to repeat.
pub fn push_each(
    orders: Vec<Order>,
    push: impl FnMut(&Order) -> Result<OrderPushOutcome, Failure>,
) -> Result<Vec<OrderPushResult>, ConnectorError> {
    push_each_by(orders, |o| o.order_id.clone(), push)
}

/// [`push_each`] for any record (an after-sale), each result named by `id`.
pub fn push_each_by<R>(
    records: Vec<R>,
    id: impl Fn(&R) -> String,
    mut push: impl FnMut(&R) -> Result<OrderPushOutcome, Failure>,
) -> Result<Vec<OrderPushResult>, ConnectorError> {
    let mut results = Vec::with_capacity(records.len());
    for record in records {
        let outcome = match push(&record) {
            Ok(outcome) => outcome,
            Err(failure) if failure.whole_call => return Err(failure.error),
            Err(failure) => OrderPushOutcome::Failed(failure.error),
        };
        results.push(OrderPushResult { order_id: id(&record), outcome });
    }
    Ok(results)
}

/// `000010` for the first item.
pub(crate) fn item_number(index: usize) -> Result<String, ConnectorError> {
    u32::try_from(index + 1)
        .ok()
        .and_then(|n| n.checked_mul(ITEM_STEP))
        .filter(|n| *n <= MAX_ITEM_NUMBER)
        .map(|n| format!("{n:06}"))
        .ok_or_else(|| {
            ConnectorError::invalid_input(
                "lines",
                format!("expected at most {} lines, got more", MAX_ITEM_NUMBER / ITEM_STEP - 1),
            )
        })
}

fn material(field: &str, outer_sku_id: Option<&str>) -> Result<String, ConnectorError> {
    let Some(sku) = outer_sku_id.map(str::trim).filter(|s| !s.is_empty()) else {
        return Err(ConnectorError::invalid_input(
            field,
            "expected the merchant SKU code (it is the SAP material number), got none",
        ));
    };
    let chars = sku.chars().count();
    if chars > MAX_MATERIAL_CHARS {
        return Err(ConnectorError::invalid_input(
            field,
            format!("expected at most {MAX_MATERIAL_CHARS} characters (an SAP material number), got {chars}"),
        ));
    }
    Ok(sku.to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::settings::tests::settings;
    use wharf_sdk::types::{OrderLine, RefundStatus};

    /// 2025-05-30 08:00:00 UTC = 16:00 in Shanghai.
    pub const PAID_AT: i64 = 1_748_592_000_000;

    pub fn line(i: u32, sku: Option<&str>, quantity: u32, unit_price: i64, discount: i64) -> OrderLine {
        OrderLine {
            line_id: format!("L{i}"),
            product_id: None,
            sku_id: None,
            outer_product_id: None,
            outer_sku_id: sku.map(str::to_owned),
            title: format!("Item & <{i}>"),
            sku_properties: None,
            quantity,
            unit_price,
            discount,
            line_total: unit_price * i64::from(quantity) - discount,
            batch_no: None,
            refund_status: RefundStatus::None,
        }
    }

    pub fn order(id: &str, lines: Vec<OrderLine>, shipping_fee: i64, order_discount: i64) -> Order {
        let goods: i64 = lines.iter().map(|l| l.unit_price * i64::from(l.quantity)).sum();
        let line_discounts: i64 = lines.iter().map(|l| l.discount).sum();
        Order {
            platform: "taobao".into(),
            shop_id: "s1".into(),
            order_id: id.into(),
            status: OrderStatus::Paid,
            platform_status: "WAIT_SELLER_SEND_GOODS".into(),
            refund_status: RefundStatus::None,
            created_at: PAID_AT - 3_600_000 * 12,
            paid_at: Some(PAID_AT),
            updated_at: PAID_AT,
            currency: "CNY".into(),
            goods_total: goods,
            shipping_fee,
            discount_total: line_discounts + order_discount,
            paid_total: goods + shipping_fee - line_discounts - order_discount,
            buyer_id: None,
            buyer_nick: None,
            buyer_message: None,
            seller_memo: None,
            receiver: Some(Receiver {
                name: Some("张*".into()),
                phone: Some("138****0000".into()),
                province: Some("广东省".into()),
                city: Some("深圳市".into()),
                district: Some("南山区".into()),
                town: None,
                address: Some("科技园路**号".into()),
                postcode: Some("518000".into()),
                masked: true,
                privacy_ref: Some("oaid-1".into()),
            }),
            invoice: None,
            erp_customer_code: None,
            lines,
        }
    }

    /// Two lines (one discounted), shipping 8.00, and 0.50 of discount on the order alone.
    pub fn two_line_order() -> Order {
        order(
            "3012345678901",
            vec![line(1, Some("FG-001"), 2, 1_250, 100), line(2, Some("FG-002"), 1, 999, 0)],
            800,
            50,
        )
    }

    #[test]
    fn a_paid_order_becomes_a_draft() {
        let o = two_line_order();
        let d = Draft::from_order(&o, &settings(&[("unit_table", r#"{"FG-002":"KAR"}"#)])).unwrap();
        assert_eq!(
            (d.purchase_order.as_str(), d.sold_to.as_str(), d.decimals),
            ("TB83B130B5-3012345678901", "C0001", 2)
        );
        assert_eq!((d.document_date.as_str(), d.requested_delivery_date.as_str()), ("2025-05-30", "2025-05-30"));
        assert_eq!(d.items.len(), 2);
        assert_eq!(
            (d.items[0].number.as_str(), d.items[0].unit.as_str(), d.items[0].line_total),
            ("000010", "EA", 2_400)
        );
        assert_eq!((d.items[1].number.as_str(), d.items[1].unit.as_str()), ("000020", "KAR"));
        assert_eq!(d.shipping, Some(Shipping::Condition { condition_type: "ZFRE".into(), amount: 800 }));
        assert_eq!(d.order_adjustment, -50);
        assert_eq!(d.amount(-50), "-0.50");
        assert_eq!(d.requested_delivery_odata().unwrap(), "/Date(1748563200000)/");
    }

    #[test]
    fn shipping_as_a_service_item() {
        let o = order("1", vec![line(1, Some("FG-001"), 1, 100, 0)], 500, 0);
        let s = settings(&[("shipping_fee_mode", "material"), ("shipping_material", "FREIGHT")]);
        let d = Draft::from_order(&o, &s).unwrap();
        match d.shipping {
            Some(Shipping::Item(item)) => {
                assert_eq!(
                    (item.number.as_str(), item.material.as_str(), item.quantity, item.line_total),
                    ("000020", "FREIGHT", 1, 500)
                );
            }
            other => panic!("{other:?}"),
        }
        let free = order("2", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0);
        assert_eq!(Draft::from_order(&free, &s).unwrap().shipping, None);
    }

    #[test]
    fn sold_to_prefers_the_order_then_the_shop() {
        let mut o = order("1", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0);
        let s = settings(&[("sold_to_by_shop", r#"{"s1":"C0100"}"#)]);
        assert_eq!(Draft::from_order(&o, &s).unwrap().sold_to, "C0100");
        o.erp_customer_code = Some("C0900".into());
        assert_eq!(Draft::from_order(&o, &s).unwrap().sold_to, "C0900");
    }

    fn field_of(o: &Order, extra: &[(&str, &str)]) -> String {
        match Draft::from_order(o, &settings(extra)) {
            Err(ConnectorError::InvalidInput(f)) => f.field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_orders_name_the_field() {
        let good = || order("1", vec![line(1, Some("FG-001"), 1, 100, 0), line(2, Some("FG-002"), 1, 100, 0)], 0, 0);
        let mut o = good();
        o.lines[1].outer_sku_id = None;
        assert_eq!(field_of(&o, &[]), "lines[1].outer_sku_id");
        let mut o = good();
        o.lines[0].outer_sku_id = Some("X".repeat(41));
        assert_eq!(field_of(&o, &[]), "lines[0].outer_sku_id");
        let mut o = good();
        o.lines[0].quantity = 0;
        assert_eq!(field_of(&o, &[]), "lines[0].quantity");
        let mut o = good();
        o.order_id = "9".repeat(36);
        assert_eq!(field_of(&o, &[]), "order_id");
        let mut o = good();
        o.status = OrderStatus::Cancelled;
        assert_eq!(field_of(&o, &[]), "status");
        let mut o = good();
        o.currency = "XAU".into();
        assert_eq!(field_of(&o, &[]), "currency");
        let mut o = good();
        o.lines.clear();
        assert_eq!(field_of(&o, &[]), "lines");
        let pairs: Vec<(&str, &str)> =
            crate::settings::tests::BASE.iter().copied().filter(|(k, _)| *k != "sold_to").collect();
        let s = Settings::from_lookup(crate::settings::tests::lookup(&pairs)).unwrap();
        assert!(
            matches!(Draft::from_order(&good(), &s), Err(ConnectorError::InvalidInput(f)) if f.field == "erp_customer_code")
        );
    }
}
