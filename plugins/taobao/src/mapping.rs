//! Taobao trades → canonical orders. Pure: no host calls, so the very same code runs natively
//! (tests, benchmarks) and inside the wasm plugin.
//!
//! The field-by-field rules are the Taobao mapping contract in the project notes; the status
//! tables below are the single place to correct them. Where the canonical model and its rules
//! (`wit/canonical-model.md`) decide:
//! - `PAID_FORBID_CONSIGN` (paid, shipping forbidden for now) is `held`, never `paid`;
//!   `TRADE_CLOSED` is `cancelled` when nothing shipped (no `consign_time`) and `closed` when
//!   goods had left; `TRADE_CLOSED_BY_TAOBAO` (unpaid and closed) is `cancelled`.
//!   `platform_status` is the `status` as sent.
//! - No amount but `adjust_fee` (a manual price change either way) may be negative; `num` is
//!   at least 1; a trade without sub-orders is refused, and so is one whose figures break
//!   Taobao's identity `payment = total_fee + post_fee − discount_fee + adjust_fee`, or whose
//!   `total_fee` is not its sub-orders' `price × num` added up.
//! - Lines: `unit_price` = `price` (one unit, before discounts), `line_total` =
//!   `divide_order_fee` (the line's payment after the order's discounts are shared out) else
//!   `payment`, `discount` = `price × num − line_total`. It is negative only where the seller
//!   raised the line's price by hand (its `adjust_fee` > 0, a real Taobao state that is kept
//!   faithfully rather than refused: DOUBTFUL against the rule "discount ≥ 0", which has no
//!   other way to carry a surcharge); a payment above `price × num` that no `adjust_fee`
//!   explains is refused.
//! - The receiver is Taobao's masked values; `privacy_ref` = `oaid`.

use serde_json::Value;
use wharf_sdk::json::{self, Node};
use wharf_sdk::mask;
use wharf_sdk::types::{ConnectorError, Invoice, InvoiceKind, Order, OrderLine, OrderStatus, Receiver, RefundStatus};

use crate::top;

/// The method that returns one trade with its sub-orders.
pub const FULLINFO_METHOD: &str = "taobao.trade.fullinfo.get";

/// What `taobao.trade.fullinfo.get` is asked for: every trade and sub-order field the mapping
/// reads (sub-order fields as `orders.<field>`).
pub const TRADE_FIELDS: &str = "tid,status,type,buyer_nick,buyer_open_uid,oaid,\
payment,post_fee,total_fee,discount_fee,adjust_fee,\
receiver_name,receiver_mobile,receiver_phone,receiver_state,receiver_city,receiver_district,\
receiver_town,receiver_address,receiver_zip,\
created,modified,pay_time,consign_time,end_time,\
seller_memo,buyer_message,shipping_type,invoice_kind,invoice_name,invoice_type,\
orders.oid,orders.num_iid,orders.sku_id,orders.outer_iid,orders.outer_sku_id,orders.num,\
orders.price,orders.title,orders.payment,orders.total_fee,orders.divide_order_fee,\
orders.discount_fee,orders.adjust_fee,orders.status,orders.refund_status,orders.sku_properties_name";

pub const PLATFORM: &str = "taobao";
/// Taobao trades are in yuan.
pub const CURRENCY: &str = "CNY";

/// Trade `status` → canonical status.
const TRADE_STATUSES: &[(&str, OrderStatus)] = &[
    ("TRADE_NO_CREATE_PAY", OrderStatus::Unpaid),
    ("WAIT_BUYER_PAY", OrderStatus::Unpaid),
    ("PAY_PENDING", OrderStatus::Unpaid),
    ("WAIT_PRE_AUTH_CONFIRM", OrderStatus::Unpaid),
    ("WAIT_SELLER_SEND_GOODS", OrderStatus::Paid),
    ("PAID_FORBID_CONSIGN", OrderStatus::Held),
    ("SELLER_CONSIGNED_PART", OrderStatus::PartiallyShipped),
    ("WAIT_BUYER_CONFIRM_GOODS", OrderStatus::Shipped),
    ("TRADE_BUYER_SIGNED", OrderStatus::Shipped),
    ("TRADE_FINISHED", OrderStatus::Completed),
    // Closed after goods left; without a `consign_time` it is cancelled ([`closed_status`]).
    ("TRADE_CLOSED", OrderStatus::Closed),
    ("TRADE_CLOSED_BY_TAOBAO", OrderStatus::Cancelled),
];

/// Sub-order `refund_status` → canonical refund status. Absent also means `none`; a refund
/// the seller refused or that was closed leaves nothing pending.
const REFUND_STATUSES: &[(&str, RefundStatus)] = &[
    ("NO_REFUND", RefundStatus::None),
    ("CLOSED", RefundStatus::None),
    ("SELLER_REFUSE_BUYER", RefundStatus::None),
    ("WAIT_SELLER_AGREE", RefundStatus::Requested),
    ("WAIT_BUYER_RETURN_GOODS", RefundStatus::Requested),
    ("WAIT_SELLER_CONFIRM_GOODS", RefundStatus::Requested),
    ("SUCCESS", RefundStatus::Refunded),
];

/// `invoice_kind` → canonical kind. UNSURE (platforms.md): TOP documents the codes loosely;
/// this reading is the contract's, kept here alone so it is easy to correct.
const INVOICE_KINDS: &[(&str, InvoiceKind)] =
    &[("1", InvoiceKind::Electronic), ("2", InvoiceKind::Paper), ("3", InvoiceKind::VatSpecial)];

/// Trade fields that make up the receiver; none present means no receiver. Masked in the
/// excerpt of a rejected trade.
pub const RECEIVER_FIELDS: &[&str] = &[
    "receiver_name",
    "receiver_mobile",
    "receiver_phone",
    "receiver_state",
    "receiver_city",
    "receiver_district",
    "receiver_town",
    "receiver_address",
    "receiver_zip",
    "oaid",
];

/// The canonical status of a trade status, if it is one Taobao documents.
pub fn order_status(status: &str) -> Option<OrderStatus> {
    lookup(TRADE_STATUSES, status)
}

/// `TRADE_CLOSED` ended the trade before anything shipped (unpaid timeout, cancelled, fully
/// refunded before shipping: `cancelled`) unless goods had left (`consign_time`: `closed`).
pub fn closed_status(status: OrderStatus, platform_status: &str, consigned: bool) -> OrderStatus {
    match (platform_status, consigned) {
        ("TRADE_CLOSED", false) => OrderStatus::Cancelled,
        _ => status,
    }
}

/// The canonical refund status of a sub-order's `refund_status` (absent = none).
pub fn line_refund_status(refund_status: Option<&str>) -> Option<RefundStatus> {
    match refund_status {
        None => Some(RefundStatus::None),
        Some(s) => lookup(REFUND_STATUSES, s),
    }
}

/// Any line requested → requested; else any refunded → refunded; else none.
pub fn order_refund_status(lines: &[OrderLine]) -> RefundStatus {
    if lines.iter().any(|l| l.refund_status == RefundStatus::Requested) {
        RefundStatus::Requested
    } else if lines.iter().any(|l| l.refund_status == RefundStatus::Refunded) {
        RefundStatus::Refunded
    } else {
        RefundStatus::None
    }
}

/// The canonical kind of an `invoice_kind` code.
pub fn invoice_kind(code: &str) -> Option<InvoiceKind> {
    lookup(INVOICE_KINDS, code)
}

fn lookup<T: Copy>(table: &[(&str, T)], key: &str) -> Option<T> {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn expected_one_of<T>(table: &[(&str, T)]) -> String {
    let names: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
    format!("one of {}", names.join(", "))
}

/// A whole `taobao.trade.fullinfo.get` answer body → the order (or the error it carries).
pub fn map_fullinfo_response(body: &[u8], shop_id: &str) -> Result<Order, ConnectorError> {
    let inner = top::parse_envelope(FULLINFO_METHOD, body)?;
    map_fullinfo(&inner, shop_id)
}

/// The inside of `trade_fullinfo_get_response` → the order.
pub fn map_fullinfo(response: &Value, shop_id: &str) -> Result<Order, ConnectorError> {
    let root = Node::root(response, top::response_key(FULLINFO_METHOD));
    let trade = root.required("trade")?;
    map_trade(trade.value(), shop_id)
}

/// One trade object (with `orders.order[]`) → the canonical order. Error paths start at
/// `trade` (`trade.orders.order[2].price`).
pub fn map_trade(trade: &Value, shop_id: &str) -> Result<Order, ConnectorError> {
    let t = Node::root(trade, "trade");
    if !trade.is_object() {
        return Err(t.error(format!("expected a trade object, got {}", json::describe(Some(trade)))).into());
    }

    let order_id = t.id("tid")?;
    let platform_status = t.str("status")?;
    let status = order_status(&platform_status).ok_or_else(|| {
        t.error_at(
            "status",
            format!("expected a Taobao trade status ({}), got {platform_status:?}", expected_one_of(TRADE_STATUSES)),
        )
    })?;

    let consigned = t.opt_shanghai_time("consign_time")?.is_some();
    let status = closed_status(status, &platform_status, consigned);

    let goods_total = t.amount("total_fee")?;
    let shipping_fee = t.amount("post_fee")?;
    let paid_total = t.amount("payment")?;
    let discount_fee = t.amount("discount_fee")?;
    // The contract: a trade without adjust_fee had no manual price change.
    let adjust_fee = t.opt_money("adjust_fee")?.unwrap_or(0);
    let discount_total = discount_fee.checked_sub(adjust_fee).ok_or_else(|| {
        t.error_at("adjust_fee", "expected discount_fee - adjust_fee to fit 64-bit fen, got an overflow")
    })?;
    // Taobao's own identity: payment = total_fee + post_fee − discount_fee + adjust_fee. A trade
    // whose figures disagree cannot be trusted in any of them.
    let expected_paid = goods_total.checked_add(shipping_fee).and_then(|sum| sum.checked_sub(discount_total));
    if expected_paid != Some(paid_total) {
        return Err(t
            .error_at(
                "payment",
                format!(
                    "expected total_fee + post_fee − discount_fee + adjust_fee ({goods_total} + {shipping_fee} − \
                     {discount_fee} + {adjust_fee} fen), got {paid_total} fen"
                ),
            )
            .into());
    }

    let lines = t.object("orders")?.nonempty_array("order")?.iter().map(map_line).collect::<Result<Vec<_>, _>>()?;
    // TOP's `total_fee` is the goods' price: each sub-order's price × num, added up.
    let gross = lines
        .iter()
        .try_fold(0_i64, |sum, l| l.unit_price.checked_mul(i64::from(l.quantity)).and_then(|g| sum.checked_add(g)));
    if gross != Some(goods_total) {
        return Err(t
            .error_at(
                "total_fee",
                format!(
                    "expected the sub-orders' price × num added up ({}), got {goods_total} fen",
                    gross.map_or_else(|| "beyond 64-bit fen".to_owned(), |g| format!("{g} fen"))
                ),
            )
            .into());
    }

    Ok(Order {
        platform: PLATFORM.to_owned(),
        shop_id: shop_id.to_owned(),
        order_id,
        status,
        platform_status,
        refund_status: order_refund_status(&lines),
        created_at: t.shanghai_time("created")?,
        paid_at: t.opt_shanghai_time("pay_time")?,
        updated_at: t.shanghai_time("modified")?,
        currency: CURRENCY.to_owned(),
        goods_total,
        shipping_fee,
        discount_total,
        paid_total,
        buyer_id: t.opt_str("buyer_open_uid")?,
        buyer_nick: t.opt_str("buyer_nick")?,
        buyer_message: t.opt_str("buyer_message")?,
        seller_memo: t.opt_str("seller_memo")?,
        receiver: map_receiver(&t)?,
        invoice: map_invoice(&t)?,
        erp_customer_code: None,
        lines,
    })
}

/// One `orders.order[i]` → an order line.
fn map_line(o: &Node<'_>) -> Result<OrderLine, ConnectorError> {
    let quantity = o.quantity("num")?;
    let unit_price = o.amount("price")?;
    let (line_total, paid_key) = match o.opt_amount("divide_order_fee")? {
        Some(fee) => (fee, "divide_order_fee"),
        None => (o.amount("payment")?, "payment"),
    };
    let gross = unit_price
        .checked_mul(i64::from(quantity))
        .ok_or_else(|| o.error_at("price", "expected price × num to fit 64-bit fen, got an overflow"))?;
    // A manual price raise (`adjust_fee` > 0) may take the payment above price × num.
    let raised = o.opt_money("adjust_fee")?.unwrap_or(0).max(0);
    if line_total > gross.saturating_add(raised) {
        return Err(o
            .error_at(
                paid_key,
                format!(
                    "expected at most price × num ({unit_price} × {quantity} = {gross} fen) plus the line's \
                     adjust_fee ({raised} fen), got {line_total} fen"
                ),
            )
            .into());
    }
    let discount = gross - line_total;

    let raw_refund = o.opt_str("refund_status")?;
    let refund_status = line_refund_status(raw_refund.as_deref()).ok_or_else(|| {
        o.error_at(
            "refund_status",
            format!(
                "expected a Taobao refund status ({}), got {:?}",
                expected_one_of(REFUND_STATUSES),
                raw_refund.as_deref().unwrap_or_default()
            ),
        )
    })?;

    Ok(OrderLine {
        line_id: o.id("oid")?,
        product_id: o.opt_id("num_iid")?,
        sku_id: o.opt_id("sku_id")?,
        outer_product_id: o.opt_id("outer_iid")?,
        outer_sku_id: o.opt_id("outer_sku_id")?,
        title: o.str("title")?,
        sku_properties: o.opt_str("sku_properties_name")?,
        quantity,
        unit_price,
        discount,
        line_total,
        batch_no: None,
        refund_status,
    })
}

/// The receiver, or `None` when the trade carries no receiver field at all.
fn map_receiver(t: &Node<'_>) -> Result<Option<Receiver>, ConnectorError> {
    if !RECEIVER_FIELDS.iter().any(|f| t.has(f)) {
        return Ok(None);
    }
    let mut receiver = Receiver {
        name: t.opt_str("receiver_name")?,
        phone: match t.opt_str("receiver_mobile")? {
            Some(mobile) => Some(mobile),
            None => t.opt_str("receiver_phone")?,
        },
        province: t.opt_str("receiver_state")?,
        city: t.opt_str("receiver_city")?,
        district: t.opt_str("receiver_district")?,
        town: t.opt_str("receiver_town")?,
        address: t.opt_str("receiver_address")?,
        postcode: t.opt_str("receiver_zip")?,
        masked: false,
        privacy_ref: t.opt_str("oaid")?,
    };
    receiver.masked = receiver.privacy_ref.is_some() || mask::receiver_looks_masked(&receiver);
    Ok(Some(receiver))
}

/// The invoice, present when the trade names an invoice title.
fn map_invoice(t: &Node<'_>) -> Result<Option<Invoice>, ConnectorError> {
    let Some(title) = t.opt_str("invoice_name")? else {
        return Ok(None);
    };
    let expected = || format!("expected an invoice kind code ({})", expected_one_of(INVOICE_KINDS));
    let code = t.opt_id("invoice_kind")?.ok_or_else(|| {
        t.error_at("invoice_kind", format!("{}, got {}", expected(), json::describe(t.value().get("invoice_kind"))))
    })?;
    let kind =
        invoice_kind(&code).ok_or_else(|| t.error_at("invoice_kind", format!("{}, got {code:?}", expected())))?;
    Ok(Some(Invoice { kind, title: Some(title), tax_id: None, bank: None, account: None, address: None, phone: None }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wharf_sdk::types::FieldError;

    /// A realistic fullinfo answer: tid and oid beyond 2^53 as JSON numbers, Chinese text,
    /// a masked receiver with an OAID, an invoice, two lines (one refunding).
    const FULLINFO: &str = r#"{
      "trade_fullinfo_get_response": {
        "trade": {
          "tid": 3912345678901234567,
          "status": "WAIT_SELLER_SEND_GOODS",
          "type": "fixed",
          "buyer_nick": "t**3",
          "buyer_open_uid": "AAHk5d-EAAeGwJedwSHpg8bT",
          "oaid": "1sQYQhWQ3ZIDwCibHmE7xqg",
          "payment": "200.07",
          "post_fee": "10.00",
          "total_fee": "199.90",
          "discount_fee": "10.33",
          "adjust_fee": "0.50",
          "receiver_name": "张*",
          "receiver_mobile": "138****5678",
          "receiver_state": "浙江省",
          "receiver_city": "杭州市",
          "receiver_district": "西湖区",
          "receiver_town": "文新街道",
          "receiver_address": "文三路**号",
          "receiver_zip": "310000",
          "created": "2026-11-11 00:00:05",
          "pay_time": "2026-11-11 00:01:00",
          "modified": "2026-11-11 00:02:00",
          "buyer_message": "请尽快发货",
          "seller_memo": "",
          "shipping_type": "express",
          "invoice_kind": "1",
          "invoice_name": "杭州某某科技有限公司",
          "invoice_type": "",
          "orders": {
            "order": [
              {
                "oid": 3912345678901234568,
                "num_iid": 612345678901,
                "sku_id": "4567890123456",
                "outer_iid": "FG-001",
                "outer_sku_id": "FG-001-RED-XL",
                "title": "纯棉T恤 夏季新款",
                "sku_properties_name": "颜色:红;尺码:XL",
                "num": 2,
                "price": "59.95",
                "payment": "112.00",
                "divide_order_fee": "113.57",
                "total_fee": "119.90",
                "discount_fee": "0.00",
                "status": "WAIT_SELLER_SEND_GOODS",
                "refund_status": "NO_REFUND"
              },
              {
                "oid": "3912345678901234569",
                "num_iid": 612345678902,
                "title": "帆布袋",
                "num": 1,
                "price": "80.00",
                "payment": "76.50",
                "status": "WAIT_SELLER_SEND_GOODS",
                "refund_status": "WAIT_SELLER_AGREE"
              }
            ]
          }
        }
      }
    }"#;

    fn fixture() -> Value {
        serde_json::from_str(FULLINFO).unwrap()
    }

    fn trade_with(edit: impl FnOnce(&mut Value)) -> Value {
        let mut v = fixture()["trade_fullinfo_get_response"]["trade"].take();
        edit(&mut v);
        v
    }

    fn field_error(result: Result<Order, ConnectorError>) -> FieldError {
        match result {
            Err(ConnectorError::InvalidInput(f)) => f,
            other => panic!("expected invalid_input, got {other:?}"),
        }
    }

    #[test]
    fn maps_a_full_trade() {
        let order = map_fullinfo_response(FULLINFO.as_bytes(), "shop-1").unwrap();
        assert_eq!(order.platform, "taobao");
        assert_eq!(order.shop_id, "shop-1");
        assert_eq!(order.order_id, "3912345678901234567");
        assert_eq!(order.status, OrderStatus::Paid);
        assert_eq!(order.platform_status, "WAIT_SELLER_SEND_GOODS");
        assert_eq!(order.refund_status, RefundStatus::Requested);
        assert_eq!(order.created_at, 1_794_326_405_000);
        assert_eq!(order.paid_at, Some(1_794_326_460_000));
        assert_eq!(order.updated_at, 1_794_326_520_000);
        assert_eq!(order.currency, "CNY");
        assert_eq!(order.goods_total, 19_990);
        assert_eq!(order.shipping_fee, 1_000);
        assert_eq!(order.paid_total, 20_007);
        assert_eq!(order.discount_total, 1_033 - 50);
        assert_eq!(order.buyer_id.as_deref(), Some("AAHk5d-EAAeGwJedwSHpg8bT"));
        assert_eq!(order.buyer_nick.as_deref(), Some("t**3"));
        assert_eq!(order.buyer_message.as_deref(), Some("请尽快发货"));
        assert_eq!(order.seller_memo, None);
        assert_eq!(order.erp_customer_code, None);

        let receiver = order.receiver.unwrap();
        assert_eq!(receiver.name.as_deref(), Some("张*"));
        assert_eq!(receiver.phone.as_deref(), Some("138****5678"));
        assert_eq!(receiver.province.as_deref(), Some("浙江省"));
        assert_eq!(receiver.city.as_deref(), Some("杭州市"));
        assert_eq!(receiver.district.as_deref(), Some("西湖区"));
        assert_eq!(receiver.town.as_deref(), Some("文新街道"));
        assert_eq!(receiver.address.as_deref(), Some("文三路**号"));
        assert_eq!(receiver.postcode.as_deref(), Some("310000"));
        assert!(receiver.masked);
        assert_eq!(receiver.privacy_ref.as_deref(), Some("1sQYQhWQ3ZIDwCibHmE7xqg"));

        let invoice = order.invoice.unwrap();
        assert_eq!(invoice.kind, InvoiceKind::Electronic);
        assert_eq!(invoice.title.as_deref(), Some("杭州某某科技有限公司"));
        assert_eq!(invoice.tax_id, None);

        assert_eq!(order.lines.len(), 2);
        let first = &order.lines[0];
        assert_eq!(first.line_id, "3912345678901234568");
        assert_eq!(first.product_id.as_deref(), Some("612345678901"));
        assert_eq!(first.sku_id.as_deref(), Some("4567890123456"));
        assert_eq!(first.outer_product_id.as_deref(), Some("FG-001"));
        assert_eq!(first.outer_sku_id.as_deref(), Some("FG-001-RED-XL"));
        assert_eq!(first.title, "纯棉T恤 夏季新款");
        assert_eq!(first.sku_properties.as_deref(), Some("颜色:红;尺码:XL"));
        assert_eq!(first.quantity, 2);
        assert_eq!(first.unit_price, 5_995);
        assert_eq!(first.line_total, 11_357, "divide_order_fee wins over payment");
        assert_eq!(first.discount, 11_990 - 11_357);
        assert_eq!(first.batch_no, None);
        assert_eq!(first.refund_status, RefundStatus::None);
        let second = &order.lines[1];
        assert_eq!(second.line_id, "3912345678901234569");
        assert_eq!(second.sku_id, None);
        assert_eq!(second.line_total, 7_650, "payment when there is no divide_order_fee");
        assert_eq!(second.discount, 350);
        assert_eq!(second.refund_status, RefundStatus::Requested);
    }

    #[test]
    fn every_trade_status() {
        for (raw, expected) in TRADE_STATUSES {
            let trade = trade_with(|t| {
                t["status"] = json!(raw);
                t["consign_time"] = json!("2026-11-11 10:00:00");
            });
            let order = map_trade(&trade, "s").unwrap();
            assert_eq!(order.status, *expected, "{raw}");
            assert_eq!(order.platform_status, *raw);
        }
        // Paid, shipping forbidden: held, never paid.
        let trade = trade_with(|t| t["status"] = json!("PAID_FORBID_CONSIGN"));
        assert_eq!(map_trade(&trade, "s").unwrap().status, OrderStatus::Held);
        // Closed before anything shipped: cancelled; after goods left: closed.
        let closed = |consign_time: Value| {
            let trade = trade_with(|t| {
                t["status"] = json!("TRADE_CLOSED");
                t["consign_time"] = consign_time;
            });
            map_trade(&trade, "s").unwrap()
        };
        assert_eq!(closed(json!(null)).status, OrderStatus::Cancelled);
        assert_eq!(closed(json!("")).status, OrderStatus::Cancelled);
        let o = closed(json!("2026-11-11 10:00:00"));
        assert_eq!((o.status, o.platform_status.as_str()), (OrderStatus::Closed, "TRADE_CLOSED"));
        let trade = trade_with(|t| t["status"] = json!("TRADE_CLOSED_BY_TAOBAO"));
        assert_eq!(map_trade(&trade, "s").unwrap().status, OrderStatus::Cancelled);
        let trade = trade_with(|t| t["status"] = json!("TRADE_SOMETHING_NEW"));
        let err = field_error(map_trade(&trade, "s"));
        assert_eq!(err.field, "trade.status");
        assert!(err.reason.contains("WAIT_BUYER_PAY") && err.reason.contains("TRADE_SOMETHING_NEW"), "{}", err.reason);
    }

    #[test]
    fn refund_statuses_roll_up() {
        let with_refunds = |a: Option<&str>, b: Option<&str>| {
            trade_with(|t| {
                let lines = t["orders"]["order"].as_array_mut().unwrap();
                for (line, status) in lines.iter_mut().zip([a, b]) {
                    match status {
                        Some(s) => line["refund_status"] = json!(s),
                        None => {
                            line.as_object_mut().unwrap().remove("refund_status");
                        }
                    }
                }
            })
        };
        let cases = [
            (None, Some("CLOSED"), RefundStatus::None),
            (Some("SELLER_REFUSE_BUYER"), Some("NO_REFUND"), RefundStatus::None),
            (Some("SUCCESS"), None, RefundStatus::Refunded),
            (Some("SUCCESS"), Some("WAIT_BUYER_RETURN_GOODS"), RefundStatus::Requested),
            (Some("WAIT_SELLER_CONFIRM_GOODS"), Some("SUCCESS"), RefundStatus::Requested),
        ];
        for (a, b, expected) in cases {
            let order = map_trade(&with_refunds(a, b), "s").unwrap();
            assert_eq!(order.refund_status, expected, "{a:?} {b:?}");
        }
        let err = field_error(map_trade(&with_refunds(None, Some("REFUNDING")), "s"));
        assert_eq!(err.field, "trade.orders.order[1].refund_status");
        assert!(err.reason.contains("REFUNDING"));
    }

    #[test]
    fn phone_falls_back_and_masking_is_detected() {
        let trade = trade_with(|t| {
            let o = t.as_object_mut().unwrap();
            o.remove("receiver_mobile");
            o.remove("oaid");
            o.insert("receiver_phone".into(), json!("0571-88888888"));
            o.insert("receiver_name".into(), json!("张三"));
            o.insert("receiver_address".into(), json!("文三路100号"));
        });
        let receiver = map_trade(&trade, "s").unwrap().receiver.unwrap();
        assert_eq!(receiver.phone.as_deref(), Some("0571-88888888"));
        assert!(!receiver.masked);
        assert_eq!(receiver.privacy_ref, None);

        let trade = trade_with(|t| {
            t.as_object_mut().unwrap().remove("oaid");
        });
        assert!(map_trade(&trade, "s").unwrap().receiver.unwrap().masked, "'*' in values");
    }

    #[test]
    fn no_receiver_fields_means_no_receiver() {
        let trade = trade_with(|t| {
            t.as_object_mut().unwrap().retain(|k, _| !RECEIVER_FIELDS.contains(&k.as_str()));
        });
        assert_eq!(map_trade(&trade, "s").unwrap().receiver, None);
    }

    #[test]
    fn invoices() {
        for (code, kind) in INVOICE_KINDS {
            let trade = trade_with(|t| t["invoice_kind"] = json!(code));
            assert_eq!(map_trade(&trade, "s").unwrap().invoice.unwrap().kind, *kind);
        }
        let trade = trade_with(|t| t["invoice_kind"] = json!(2));
        assert_eq!(map_trade(&trade, "s").unwrap().invoice.unwrap().kind, InvoiceKind::Paper);
        let trade = trade_with(|t| {
            t.as_object_mut().unwrap().remove("invoice_name");
        });
        assert_eq!(map_trade(&trade, "s").unwrap().invoice, None);
        let trade = trade_with(|t| t["invoice_kind"] = json!("9"));
        assert_eq!(field_error(map_trade(&trade, "s")).field, "trade.invoice_kind");
        let trade = trade_with(|t| {
            t.as_object_mut().unwrap().remove("invoice_kind");
        });
        assert_eq!(field_error(map_trade(&trade, "s")).field, "trade.invoice_kind");
    }

    #[test]
    fn a_price_raised_by_hand_is_kept() {
        let trade = trade_with(|t| {
            t["orders"]["order"][1]["payment"] = json!("85.00");
            t["orders"]["order"][1]["adjust_fee"] = json!("5.00");
        });
        let line = &map_trade(&trade, "s").unwrap().lines[1];
        assert_eq!((line.unit_price, line.discount, line.line_total), (8_000, -500, 8_500));
    }

    #[test]
    fn optional_amounts_and_times() {
        let trade = trade_with(|t| {
            let o = t.as_object_mut().unwrap();
            o.remove("adjust_fee");
            o.remove("pay_time");
            // Without the 0.50 raise the buyer paid 0.50 less.
            o.insert("payment".into(), json!("199.57"));
        });
        let order = map_trade(&trade, "s").unwrap();
        assert_eq!(order.discount_total, 1_033);
        assert_eq!(order.paid_at, None);
    }

    #[test]
    fn bad_fields_name_their_path() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Edit, &str, &str)> = vec![
            (Box::new(|t| t["payment"] = json!("abc")), "trade.payment", "\"abc\""),
            (Box::new(|t| t["payment"] = json!("1.234")), "trade.payment", "decimals"),
            (
                Box::new(|t| {
                    t.as_object_mut().unwrap().remove("payment");
                }),
                "trade.payment",
                "absent",
            ),
            (Box::new(|t| t["tid"] = json!(1.5)), "trade.tid", "integer id"),
            (Box::new(|t| t["created"] = json!("2026-11-11T00:00:05")), "trade.created", "yyyy-MM-dd HH:mm:ss"),
            (Box::new(|t| t["orders"]["order"][1]["price"] = json!([])), "trade.orders.order[1].price", "array"),
            (Box::new(|t| t["orders"]["order"][0]["num"] = json!(-1)), "trade.orders.order[0].num", "non-negative"),
            (
                Box::new(|t| {
                    t["orders"]["order"][0].as_object_mut().unwrap().remove("oid");
                }),
                "trade.orders.order[0].oid",
                "absent",
            ),
            (Box::new(|t| t["orders"] = json!({"order": {}})), "trade.orders.order", "expected an array"),
            (
                Box::new(|t| {
                    t.as_object_mut().unwrap().remove("orders");
                }),
                "trade.orders",
                "absent",
            ),
            (Box::new(|t| t["buyer_nick"] = json!(7)), "trade.buyer_nick", "expected a string"),
            (Box::new(|t| t["payment"] = json!("-797.49")), "trade.payment", "at least 0"),
            (Box::new(|t| t["payment"] = json!("1e5")), "trade.payment", "'e'"),
            (Box::new(|t| t["payment"] = json!(1e5)), "trade.payment", "JSON float"),
            (Box::new(|t| t["orders"]["order"][0]["num"] = json!(0)), "trade.orders.order[0].num", "at least 1"),
            (
                Box::new(|t| t["orders"]["order"][0]["price"] = json!("-59.95")),
                "trade.orders.order[0].price",
                "at least 0",
            ),
            (
                Box::new(|t| t["orders"]["order"][0]["divide_order_fee"] = json!("120.00")),
                "trade.orders.order[0].divide_order_fee",
                "at most price × num",
            ),
            (
                Box::new(|t| t["orders"]["order"][1]["payment"] = json!("80.01")),
                "trade.orders.order[1].payment",
                "at most price × num",
            ),
            (
                Box::new(|t| {
                    t["orders"]["order"][1]["payment"] = json!("80.02");
                    t["orders"]["order"][1]["adjust_fee"] = json!("0.01");
                }),
                "trade.orders.order[1].payment",
                "at most price × num",
            ),
            (Box::new(|t| t["orders"] = json!({"order": []})), "trade.orders.order", "at least one"),
            (Box::new(|t| t["orders"] = json!("abc")), "trade.orders", "expected an object"),
            (
                Box::new(|t| t["total_fee"] = json!("0.00")),
                "trade.payment",
                "total_fee + post_fee − discount_fee + adjust_fee",
            ),
            (
                Box::new(|t| {
                    t["orders"]["order"][1]["price"] = json!("80.01");
                    t["orders"]["order"][1]["payment"] = json!("76.51");
                }),
                "trade.total_fee",
                "price × num added up",
            ),
            (
                Box::new(|t| {
                    t.as_object_mut().unwrap().remove("adjust_fee");
                }),
                "trade.payment",
                "got 20007 fen",
            ),
        ];
        for (edit, field, reason_part) in cases {
            let err = field_error(map_trade(&trade_with(edit), "s"));
            assert_eq!(err.field, field);
            assert!(err.reason.contains(reason_part), "{field}: {}", err.reason);
        }
        let err = field_error(map_trade(&json!([1]), "s"));
        assert_eq!(err.field, "trade");
    }

    #[test]
    fn envelope_errors_pass_through() {
        let err = map_fullinfo_response(br#"{"error_response":{"code":27,"msg":"Invalid session"}}"#, "s");
        assert!(matches!(err, Err(ConnectorError::Auth(_))));
        let err = field_error(map_fullinfo_response(br#"{"trade_fullinfo_get_response":{}}"#, "s"));
        assert_eq!(err.field, "trade_fullinfo_get_response.trade");
    }

    #[test]
    fn simulator_invariants_hold_for_the_fixture() {
        // payment = total_fee + post_fee - discount_fee + adjust_fee
        let order = map_fullinfo_response(FULLINFO.as_bytes(), "s").unwrap();
        assert_eq!(order.paid_total, order.goods_total + order.shipping_fee - order.discount_total);
    }
}
