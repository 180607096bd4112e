//! Validation at the boundary: what a plugin's records must satisfy before the host keeps
//! them, beyond what their types say.
//!
//! WIT types let a plugin send any `s64` as an instant or an amount and any string as an id.
//! The host stores, indexes, prints and forwards these values, so a value the rest of the host
//! cannot handle is stopped here, where the reply is lifted into the model, never later: an
//! instant in year 10000 was once stored in a form the host's own reader refused (every listing
//! of the tenant failed from then on), a NUL in an order id failed the store's key on every
//! round, and amounts down to `i64::MIN` overflowed the sums made of them.
//!
//! Each failure is a [`RecordError`] naming the record, its id and the field. What happens
//! to it depends on the contract: from 0.2 a bad record becomes a `rejected` entry of its page
//! (it goes to quarantine and the page goes on); 0.1.0 has no such entry, so the call fails.

use std::collections::HashMap;

use crate::model::*;

/// Earliest instant accepted: the Unix epoch. No platform order, shipment or status predates
/// it, and a negative instant is the mark of an unset or mis-scaled field.
pub const MIN_INSTANT_MS: i64 = 0;
/// Latest instant accepted: 9999-12-31T23:59:59.999Z. RFC 3339 (the JSON form of every instant,
/// and what the store writes and reads back) has four-digit years only.
pub const MAX_INSTANT_MS: i64 = 253_402_300_799_999;
/// Largest amount of money accepted, in minor units: 10^15 fen is ten trillion yuan, far
/// beyond any order, line or price, and below 2^53, so the amount survives ERPs that read JSON
/// numbers as doubles; sums of thousands of such amounts cannot overflow an `i64` either.
pub const MAX_MONEY: Money = 1_000_000_000_000_000;
/// Longest id accepted, in bytes. Platform ids are at most about 40 characters (Taobao and JD
/// order ids are 19–20 digits, tracking numbers up to about 30, merchant SKU codes up to 64 on
/// Taobao); 256 leaves room for composite ids while keeping store keys and logs small.
pub const MAX_ID_BYTES: usize = 256;

/// A record the host refuses: which, and which field, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{record} {id:?}: field `{field}`: {problem}")]
pub struct RecordError {
    /// The kind of record (`order`, `stock update`, …).
    pub record: &'static str,
    /// Its id, made printable (see [`printable_id`]).
    pub id: String,
    /// The path of the field inside the record (`lines[2].unit_price`).
    pub field: String,
    /// What was expected, and what came.
    pub problem: String,
}

impl RecordError {
    /// The same refusal as a `rejected` entry of a page (contract 0.2).
    pub fn rejected(&self) -> Rejected {
        Rejected { id: self.id.clone(), field: self.field.clone(), reason: self.problem.clone(), excerpt: None }
    }
}

/// `id` with every control character (NUL, newline, ESC, …) written as `\u{…}` and cut to
/// [`MAX_ID_BYTES`] on a character boundary: safe as a store key, a log field and a path part.
pub fn printable_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len().min(MAX_ID_BYTES));
    for c in id.chars() {
        let piece = if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() };
        if out.len() + piece.len() > MAX_ID_BYTES {
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// Longest text kept from a plugin's error message or a rejected record's field or reason;
/// errors and rejections end up in the host's log and the API's answers.
pub const MAX_TEXT_BYTES: usize = 2 << 10;

/// `e` with every text the plugin wrote made printable (control characters escaped) and cut
/// to [`MAX_TEXT_BYTES`]: a plugin's error is logged by the host, and must not forge lines.
pub fn printable_error(e: ConnectorError) -> ConnectorError {
    let p = |s: String| crate::capability::log::printable(&s, MAX_TEXT_BYTES);
    match e {
        ConnectorError::Auth { message } => ConnectorError::Auth { message: p(message) },
        ConnectorError::RateLimited { retry_after_ms, message } => {
            ConnectorError::RateLimited { retry_after_ms, message: p(message) }
        }
        ConnectorError::InvalidInput { field, reason } => {
            ConnectorError::InvalidInput { field: p(field), reason: p(reason) }
        }
        ConnectorError::NotFound { message } => ConnectorError::NotFound { message: p(message) },
        ConnectorError::Unsupported { operation } => ConnectorError::Unsupported { operation: p(operation) },
        ConnectorError::Platform { code, message } => ConnectorError::Platform { code: p(code), message: p(message) },
        ConnectorError::Transient { reason } => ConnectorError::Transient { reason: p(reason) },
    }
}

/// Checks fields of one record; the first problem found wins.
struct Fields {
    problems: Option<(String, String)>,
}

impl Fields {
    fn new() -> Self {
        Fields { problems: None }
    }

    fn fail(&mut self, field: impl Into<String>, problem: String) {
        if self.problems.is_none() {
            self.problems = Some((field.into(), problem));
        }
    }

    fn id(&mut self, field: &str, value: &str) {
        if value.len() > MAX_ID_BYTES {
            self.fail(field, format!("expected an id of at most {MAX_ID_BYTES} bytes, got {} bytes", value.len()));
        } else if let Some(c) = value.chars().find(|c| c.is_control()) {
            self.fail(
                field,
                format!(
                    "expected an id without control characters, got {} in {:?}",
                    c.escape_unicode(),
                    printable_id(value)
                ),
            );
        }
    }

    fn opt_id(&mut self, field: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.id(field, v);
        }
    }

    fn instant(&mut self, field: &str, value: Timestamp) {
        if !(MIN_INSTANT_MS..=MAX_INSTANT_MS).contains(&value.0) {
            self.fail(
                field,
                format!("expected an instant from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z, got {} ms since the epoch", value.0),
            );
        }
    }

    /// An amount that is never negative (prices, totals, fees, line discounts).
    fn money(&mut self, field: &str, value: Money) {
        if !(0..=MAX_MONEY).contains(&value) {
            self.fail(field, format!("expected an amount from 0 to {MAX_MONEY} minor units, got {value}"));
        }
    }

    /// An amount that may be negative: a discount is below zero when the seller raised the
    /// price (Taobao's `adjust_fee`, apportioned to the lines too). The model's rule says a line
    /// discount is ≥ 0, but the Taobao plugin maps a raise this way and refusing such orders
    /// would quarantine real ones; only the bounds are enforced here.
    fn signed_money(&mut self, field: &str, value: Money) {
        if !(-MAX_MONEY..=MAX_MONEY).contains(&value) {
            self.fail(field, format!("expected an amount from -{MAX_MONEY} to {MAX_MONEY} minor units, got {value}"));
        }
    }

    fn done(self, record: &'static str, id: &str) -> Result<(), RecordError> {
        match self.problems {
            None => Ok(()),
            Some((field, problem)) => Err(RecordError { record, id: printable_id(id), field, problem }),
        }
    }
}

/// A record kind the boundary checks.
pub trait Checked {
    /// Its name in messages.
    const RECORD: &'static str;
    /// Its own id (the key quarantine keeps it under).
    fn id(&self) -> &str;
    /// Whether two records of one page may share an id (stock per warehouse may).
    const UNIQUE_IN_PAGE: bool;
    fn check(&self) -> Result<(), RecordError>;
}

impl Checked for Order {
    const RECORD: &'static str = "order";
    const UNIQUE_IN_PAGE: bool = true;

    fn id(&self) -> &str {
        &self.order_id
    }

    /// Ids, instants and money in range, and the figures adding up as the canonical model says:
    /// each line's `line_total = unit_price × quantity − discount`, and the order's
    /// `paid_total = goods_total + shipping_fee − discount_total`.
    fn check(&self) -> Result<(), RecordError> {
        let mut f = Fields::new();
        f.id("order_id", &self.order_id);
        f.id("shop_id", &self.shop_id);
        f.id("platform", &self.platform);
        f.opt_id("buyer_id", &self.buyer_id);
        f.opt_id("erp_customer_code", &self.erp_customer_code);
        f.instant("created_at", self.created_at);
        if let Some(paid_at) = self.paid_at {
            f.instant("paid_at", paid_at);
        }
        f.instant("updated_at", self.updated_at);
        f.money("goods_total", self.goods_total);
        f.money("shipping_fee", self.shipping_fee);
        f.signed_money("discount_total", self.discount_total);
        f.money("paid_total", self.paid_total);
        let mut line_ids = HashMap::new();
        for (i, l) in self.lines.iter().enumerate() {
            let at = |field: &str| format!("lines[{i}].{field}");
            f.id(&at("line_id"), &l.line_id);
            if l.line_id.is_empty() {
                f.fail(at("line_id"), "expected the platform's sub-order id, got an empty string".into());
            }
            if let Some(first) = line_ids.insert(l.line_id.as_str(), i) {
                f.fail(
                    at("line_id"),
                    format!("expected line ids unique in the order, got the id of lines[{first}] again"),
                );
            }
            f.opt_id(&at("product_id"), &l.product_id);
            f.opt_id(&at("sku_id"), &l.sku_id);
            f.opt_id(&at("outer_product_id"), &l.outer_product_id);
            f.opt_id(&at("outer_sku_id"), &l.outer_sku_id);
            f.opt_id(&at("batch_no"), &l.batch_no);
            f.money(&at("unit_price"), l.unit_price);
            f.signed_money(&at("discount"), l.discount);
            f.money(&at("line_total"), l.line_total);
            let expected = l.unit_price.checked_mul(i64::from(l.quantity)).and_then(|v| v.checked_sub(l.discount));
            if f.problems.is_none() && expected != Some(l.line_total) {
                f.fail(
                    at("line_total"),
                    format!(
                        "expected unit_price × quantity − discount = {} × {} − {} = {}, got {}",
                        l.unit_price,
                        l.quantity,
                        l.discount,
                        expected.map_or("(overflow)".to_owned(), |v| v.to_string()),
                        l.line_total
                    ),
                );
            }
        }
        // Checked: the amounts may be anything when a bound above already failed.
        let expected = self.goods_total.checked_add(self.shipping_fee).and_then(|v| v.checked_sub(self.discount_total));
        if f.problems.is_none() && expected != Some(self.paid_total) {
            let expected = expected.map_or("(overflow)".to_owned(), |v| v.to_string());
            f.fail(
                "paid_total",
                format!(
                    "expected goods_total + shipping_fee − discount_total = {} + {} − {} = {expected}, got {}",
                    self.goods_total, self.shipping_fee, self.discount_total, self.paid_total
                ),
            );
        }
        f.done(Self::RECORD, &self.order_id)
    }
}

impl Checked for StockUpdate {
    const RECORD: &'static str = "stock update";
    const UNIQUE_IN_PAGE: bool = false;

    fn id(&self) -> &str {
        &self.outer_sku_id
    }

    fn check(&self) -> Result<(), RecordError> {
        let mut f = Fields::new();
        f.id("outer_sku_id", &self.outer_sku_id);
        f.opt_id("product_id", &self.product_id);
        f.opt_id("sku_id", &self.sku_id);
        f.opt_id("warehouse", &self.warehouse);
        f.done(Self::RECORD, &self.outer_sku_id)
    }
}

impl Checked for PriceUpdate {
    const RECORD: &'static str = "price update";
    const UNIQUE_IN_PAGE: bool = false;

    fn id(&self) -> &str {
        &self.outer_sku_id
    }

    fn check(&self) -> Result<(), RecordError> {
        let mut f = Fields::new();
        f.id("outer_sku_id", &self.outer_sku_id);
        f.opt_id("product_id", &self.product_id);
        f.opt_id("sku_id", &self.sku_id);
        for (i, p) in self.prices.iter().enumerate() {
            f.money(&format!("prices[{i}].amount"), p.amount);
            if let PriceKind::RegionGroup { group_id } | PriceKind::CustomerGroup { group_id } = &p.kind {
                f.id(&format!("prices[{i}].group_id"), group_id);
            }
        }
        f.done(Self::RECORD, &self.outer_sku_id)
    }
}

impl Checked for LotSync {
    const RECORD: &'static str = "lot sync";
    const UNIQUE_IN_PAGE: bool = false;

    fn id(&self) -> &str {
        &self.outer_sku_id
    }

    fn check(&self) -> Result<(), RecordError> {
        let mut f = Fields::new();
        f.id("outer_sku_id", &self.outer_sku_id);
        f.opt_id("product_id", &self.product_id);
        f.opt_id("sku_id", &self.sku_id);
        for (i, l) in self.lots.iter().enumerate() {
            f.id(&format!("lots[{i}].batch_no"), &l.batch_no);
        }
        f.done(Self::RECORD, &self.outer_sku_id)
    }
}

impl Checked for Product {
    const RECORD: &'static str = "product";
    const UNIQUE_IN_PAGE: bool = true;

    fn id(&self) -> &str {
        &self.erp_product_id
    }

    fn check(&self) -> Result<(), RecordError> {
        let mut f = Fields::new();
        f.id("erp_product_id", &self.erp_product_id);
        f.opt_id("barcode", &self.barcode);
        f.opt_id("base_product_id", &self.base_product_id);
        f.money("default_price", self.default_price);
        if let Some(p) = self.suggested_retail_price {
            f.money("suggested_retail_price", p);
        }
        f.done(Self::RECORD, &self.erp_product_id)
    }
}

impl Checked for CustomerMapping {
    const RECORD: &'static str = "customer";
    const UNIQUE_IN_PAGE: bool = true;

    fn id(&self) -> &str {
        &self.erp_customer_code
    }

    fn check(&self) -> Result<(), RecordError> {
        let mut f = Fields::new();
        f.id("erp_customer_code", &self.erp_customer_code);
        f.opt_id("credit_code", &self.credit_code);
        f.opt_id("platform_customer_id", &self.platform_customer_id);
        f.done(Self::RECORD, &self.erp_customer_code)
    }
}

impl Checked for Logistics {
    const RECORD: &'static str = "logistics";
    const UNIQUE_IN_PAGE: bool = false;

    fn id(&self) -> &str {
        &self.order_id
    }

    fn check(&self) -> Result<(), RecordError> {
        let mut f = Fields::new();
        f.id("order_id", &self.order_id);
        f.id("carrier_code", &self.carrier_code);
        f.id("tracking_no", &self.tracking_no);
        f.instant("shipped_at", self.shipped_at);
        f.done(Self::RECORD, &self.order_id)
    }
}

impl Checked for ShipmentDetail {
    const RECORD: &'static str = "shipment";
    const UNIQUE_IN_PAGE: bool = false;

    fn id(&self) -> &str {
        &self.order_id
    }

    fn check(&self) -> Result<(), RecordError> {
        let mut f = Fields::new();
        f.id("order_id", &self.order_id);
        for (i, l) in self.lines.iter().enumerate() {
            f.id(&format!("lines[{i}].outer_sku_id"), &l.outer_sku_id);
            f.opt_id(&format!("lines[{i}].batch_no"), &l.batch_no);
        }
        f.done(Self::RECORD, &self.order_id)
    }
}

impl Checked for ErpStatus {
    const RECORD: &'static str = "ERP status";
    const UNIQUE_IN_PAGE: bool = false;

    fn id(&self) -> &str {
        &self.order_id
    }

    fn check(&self) -> Result<(), RecordError> {
        let mut f = Fields::new();
        f.id("order_id", &self.order_id);
        f.instant("at", self.at);
        f.done(Self::RECORD, &self.order_id)
    }
}

/// Checks every record of a page. With `rejects` (contract 0.2 and later) a bad record leaves
/// `items` for `rejected`; without, the first bad record is the error. Records sharing an id
/// where ids are unique are all refused: which of them is the platform's truth is unknown.
/// The plugin's own `rejected` entries are made safe to key and log by (see [`printable_id`]).
impl Checked for AfterSale {
    const RECORD: &'static str = "after-sale";
    const UNIQUE_IN_PAGE: bool = true;

    fn id(&self) -> &str {
        &self.after_sale_id
    }

    /// Ids and instants in range, money not negative, lines named once each, and a currency.
    fn check(&self) -> Result<(), RecordError> {
        let mut f = Fields::new();
        f.id("after_sale_id", &self.after_sale_id);
        f.id("order_id", &self.order_id);
        f.id("shop_id", &self.shop_id);
        f.id("platform", &self.platform);
        for (field, value) in [("after_sale_id", &self.after_sale_id), ("order_id", &self.order_id)] {
            if value.is_empty() {
                f.fail(field, "expected the platform's id, got an empty string".into());
            }
        }
        f.instant("created_at", self.created_at);
        f.instant("updated_at", self.updated_at);
        f.money("refund_amount", self.refund_amount);
        f.money("shipping_refund", self.shipping_refund);
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            f.fail("currency", format!("expected an ISO 4217 code like CNY, got {:?}", self.currency));
        }
        let mut line_ids = HashMap::new();
        for (i, l) in self.lines.iter().enumerate() {
            let at = |field: &str| format!("lines[{i}].{field}");
            f.id(&at("line_id"), &l.line_id);
            if l.line_id.is_empty() {
                f.fail(at("line_id"), "expected the order line's id, got an empty string".into());
            }
            if let Some(first) = line_ids.insert(l.line_id.as_str(), i) {
                f.fail(at("line_id"), format!("expected each line once, got the id of lines[{first}] again"));
            }
            f.opt_id(&at("outer_sku_id"), &l.outer_sku_id);
            if l.quantity == Some(0) {
                f.fail(at("quantity"), "expected at least 1 unit, or none when the platform does not say".into());
            }
        }
        if let Some(w) = &self.return_waybill {
            f.id("return_waybill.tracking_no", &w.tracking_no);
            if w.tracking_no.is_empty() || w.carrier.is_empty() {
                f.fail("return_waybill", "expected a carrier and a tracking number, or no waybill".into());
            }
        }
        f.done(Self::RECORD, &self.after_sale_id)
    }
}

pub fn page<T: Checked>(items: &mut Vec<T>, rejected: &mut Vec<Rejected>, rejects: bool) -> Result<(), RecordError> {
    for r in rejected.iter_mut() {
        r.id = printable_id(&r.id);
        r.field = crate::capability::log::printable(&r.field, MAX_TEXT_BYTES);
        r.reason = crate::capability::log::printable(&r.reason, MAX_TEXT_BYTES);
    }
    let mut count: HashMap<&str, usize> = HashMap::new();
    if T::UNIQUE_IN_PAGE {
        for item in items.iter() {
            *count.entry(item.id()).or_default() += 1;
        }
    }
    let mut verdicts = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let verdict = item.check().and_then(|()| match count.get(item.id()) {
            Some(&n) if n > 1 => Err(RecordError {
                record: T::RECORD,
                id: printable_id(item.id()),
                field: id_field::<T>(),
                problem: format!("expected ids unique in a page, got {n} records with this id"),
            }),
            _ => Ok(()),
        });
        match verdict {
            Ok(()) => verdicts.push(true),
            Err(e) if rejects => {
                rejected.push(e.rejected());
                verdicts.push(false);
            }
            Err(e) => return Err(RecordError { field: format!("[{i}].{}", e.field), ..e }),
        }
    }
    let mut keep = verdicts.into_iter();
    items.retain(|_| keep.next().unwrap_or(false));
    Ok(())
}

/// The name of the id field of `T`, for the duplicate-id message.
fn id_field<T: Checked>() -> String {
    match T::RECORD {
        "order" => "order_id",
        "after-sale" => "after_sale_id",
        "product" => "erp_product_id",
        "customer" => "erp_customer_code",
        _ => "id",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str) -> Order {
        serde_json::from_value(serde_json::json!({
            "platform": "taobao", "shop_id": "s1", "order_id": id, "status": "paid",
            "platform_status": "X", "refund_status": "none", "created_at": "2026-11-11T00:00:00Z",
            "updated_at": "2026-11-11T00:00:05Z", "currency": "CNY", "goods_total": 300,
            "shipping_fee": 10, "discount_total": 50, "paid_total": 260,
            "lines": [{"line_id": "1", "title": "t", "quantity": 3, "unit_price": 100, "discount": 50,
                       "line_total": 250, "refund_status": "none"}]
        }))
        .unwrap()
    }

    fn field_of(o: &Order) -> String {
        o.check().unwrap_err().field
    }

    #[test]
    fn a_sane_order_passes() {
        order("1").check().unwrap();
    }

    #[test]
    fn instants_outside_1970_to_9999_are_refused_naming_the_field() {
        let mut o = order("1");
        o.updated_at = Timestamp(MAX_INSTANT_MS + 1); // year 10000
        let e = o.check().unwrap_err();
        assert_eq!((e.record, e.field.as_str()), ("order", "updated_at"));
        assert!(e.to_string().contains("9999-12-31"), "{e}");
        let mut o = order("1");
        o.paid_at = Some(Timestamp(-1));
        assert_eq!(field_of(&o), "paid_at");
        let mut o = order("1");
        o.updated_at = Timestamp(MAX_INSTANT_MS);
        o.check().unwrap();
    }

    #[test]
    fn money_must_be_in_bounds_and_add_up() {
        let mut o = order("1");
        o.shipping_fee = i64::MIN;
        assert_eq!(field_of(&o), "shipping_fee");
        let mut o = order("1");
        o.discount_total = i64::MIN;
        assert_eq!(field_of(&o), "discount_total");
        // A price raised by the seller is a negative discount, and adds up.
        let mut o = order("1");
        (o.discount_total, o.paid_total) = (-40, 350);
        o.check().unwrap();
        let mut o = order("1");
        o.lines[0].unit_price = MAX_MONEY + 1;
        assert_eq!(field_of(&o), "lines[0].unit_price");
        let mut o = order("1");
        o.lines[0].line_total = 251;
        assert_eq!(field_of(&o), "lines[0].line_total");
        let mut o = order("1");
        o.paid_total = 261;
        assert_eq!(field_of(&o), "paid_total");
        let mut o = order("1");
        o.lines[0].quantity = u32::MAX;
        o.lines[0].unit_price = MAX_MONEY;
        assert!(o.check().unwrap_err().problem.contains("overflow"));
    }

    #[test]
    fn ids_without_control_characters_and_within_the_cap() {
        let e = order("12\u{0}34").check().unwrap_err();
        assert_eq!(e.field, "order_id");
        assert_eq!(e.id, "12\\u{0}34", "the id in the error is printable");
        assert_eq!(field_of(&order(&"9".repeat(4 << 20))), "order_id");
        assert!(order(&"9".repeat(4 << 20)).check().unwrap_err().id.len() <= MAX_ID_BYTES);
        let mut o = order("1");
        o.lines[0].outer_sku_id = Some("a\nb".into());
        assert_eq!(field_of(&o), "lines[0].outer_sku_id");
        assert_eq!(printable_id("a\u{1b}[31mb"), "a\\u{1b}[31mb");
    }

    #[test]
    fn under_0_2_bad_records_become_rejected_and_the_page_goes_on() {
        let mut bad = order("2");
        bad.updated_at = Timestamp(MAX_INSTANT_MS + 1);
        let mut items = vec![order("1"), bad, order("3"), order("3"), order("4\u{0}")];
        let mut rejected =
            vec![Rejected { id: "x\u{0}y".into(), field: "f".into(), reason: "r\nFORGED".into(), excerpt: None }];
        page(&mut items, &mut rejected, true).unwrap();
        assert_eq!(items.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>(), ["1"]);
        assert_eq!(rejected[0].reason, "r\\nFORGED", "a plugin's reason cannot forge a log line");
        let ids: Vec<(&str, &str)> = rejected.iter().map(|r| (r.id.as_str(), r.field.as_str())).collect();
        assert_eq!(
            ids,
            [("x\\u{0}y", "f"), ("2", "updated_at"), ("3", "order_id"), ("3", "order_id"), ("4\\u{0}", "order_id")]
        );
    }

    #[test]
    fn under_0_1_the_first_bad_record_fails_the_call() {
        let mut items = vec![order("1"), order("1")];
        let e = page(&mut items, &mut Vec::new(), false).unwrap_err();
        assert_eq!(e.field, "[0].order_id");
        assert!(e.problem.contains("unique"), "{e}");
    }

    #[test]
    fn plugin_errors_are_made_printable() {
        let e = printable_error(ConnectorError::Platform {
            code: "c\n".into(),
            message: format!("m\u{1b}[2J{}", "x".repeat(10_000)),
        });
        let ConnectorError::Platform { code, message } = e else { panic!() };
        assert_eq!(code, "c\\n");
        assert!(message.starts_with("m\\u{1b}[2J") && message.len() < MAX_TEXT_BYTES + 40, "{message}");
    }

    #[test]
    fn erp_records_are_checked_too() {
        let mut items = vec![Product {
            erp_product_id: "P1".into(),
            title: "t".into(),
            barcode: None,
            approval_no: None,
            spec: None,
            manufacturer: None,
            base_product_id: None,
            category: None,
            default_price: -1,
            suggested_retail_price: None,
            stock: 0,
            list_when_in_stock: false,
        }];
        let mut rejected = Vec::new();
        page(&mut items, &mut rejected, true).unwrap();
        assert!(items.is_empty());
        assert_eq!(rejected[0].field, "default_price");
        let status =
            ErpStatus { order_id: "1".into(), erp_status: ErpStatusCode::Shipped, at: Timestamp(-5), note: None };
        assert_eq!(status.check().unwrap_err().field, "at");
    }
}
