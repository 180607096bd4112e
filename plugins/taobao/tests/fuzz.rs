//! The Taobao mapping under mutated `taobao.trade.fullinfo.get` answers: a typed error naming
//! the field, or a faithful mapping, never a silent change (see `wharf_sdk::fuzz`).

use wharf_plugin_taobao::mapping::{self, RECEIVER_FIELDS};
use wharf_sdk::fuzz::{self, Field, Role::*, Rules, Spec, field};
use wharf_sdk::reject;
use wharf_sdk::types::Order;

/// A realistic answer: tid and oid beyond 2^53 as JSON numbers, Chinese text, a masked receiver
/// with an OAID, an invoice, two lines (one refunding, one without `divide_order_fee`).
const ANSWER: &[u8] = include_bytes!("fixtures/trade_fullinfo_get.json");

const RECEIVER: &[&str] = &["receiver", "receiver.*"];

/// What each trade key means and where it maps (platforms.md, the mapping's module docs).
const FIELDS: &[Field] = &[
    field("tid", Id, &["order_id"]),
    field("status", Code, &["status", "platform_status"]),
    field("buyer_nick", Text, &["buyer_nick"]),
    field("buyer_open_uid", Text, &["buyer_id"]),
    field("oaid", Text, RECEIVER),
    // Money: the trade's figures must add up (payment = total_fee + post_fee − discount_fee +
    // adjust_fee), so an error about any of them may name the payment.
    Field { pattern: "payment", role: Amount, maps_to: &["paid_total"], also_named: &[] },
    Field { pattern: "post_fee", role: Amount, maps_to: &["shipping_fee"], also_named: &["payment"] },
    Field { pattern: "total_fee", role: Amount, maps_to: &["goods_total"], also_named: &["payment"] },
    Field { pattern: "discount_fee", role: Amount, maps_to: &["discount_total"], also_named: &["payment"] },
    Field { pattern: "adjust_fee", role: SignedAmount, maps_to: &["discount_total"], also_named: &["payment"] },
    field("receiver_name", Text, RECEIVER),
    field("receiver_mobile", Text, RECEIVER),
    field("receiver_phone", Text, RECEIVER),
    field("receiver_state", Text, RECEIVER),
    field("receiver_city", Text, RECEIVER),
    field("receiver_district", Text, RECEIVER),
    field("receiver_town", Text, RECEIVER),
    field("receiver_address", Text, RECEIVER),
    field("receiver_zip", Text, RECEIVER),
    field("created", Time, &["created_at"]),
    field("pay_time", Time, &["paid_at"]),
    field("modified", Time, &["updated_at"]),
    field("consign_time", Time, &["status"]),
    field("buyer_message", Text, &["buyer_message"]),
    field("seller_memo", Text, &["seller_memo"]),
    field("invoice_kind", Code, &["invoice.kind"]),
    field("invoice_name", Text, &["invoice", "invoice.*"]),
    field("orders", Lines, &[]),
    field("orders.order", Lines, &[]),
    field("orders.order[]", Lines, &[]),
    field("orders.order[].oid", Id, &["lines[].line_id"]),
    field("orders.order[].num_iid", Id, &["lines[].product_id"]),
    field("orders.order[].sku_id", Id, &["lines[].sku_id"]),
    field("orders.order[].outer_iid", Id, &["lines[].outer_product_id"]),
    field("orders.order[].outer_sku_id", Id, &["lines[].outer_sku_id"]),
    field("orders.order[].title", Text, &["lines[].title"]),
    field("orders.order[].sku_properties_name", Text, &["lines[].sku_properties"]),
    // A line's figures: price × num − discount = what the line paid, and the lines add up to
    // the payment; a check across them may name any of them.
    Field {
        pattern: "orders.order[].num",
        role: Quantity,
        maps_to: &["lines[].quantity", "lines[].discount"],
        also_named: &["price", "payment", "divide_order_fee", "total_fee"],
    },
    Field {
        pattern: "orders.order[].price",
        role: Amount,
        maps_to: &["lines[].unit_price", "lines[].discount"],
        also_named: &["num", "payment", "divide_order_fee", "total_fee"],
    },
    Field {
        pattern: "orders.order[].payment",
        role: Amount,
        maps_to: &["lines[].line_total", "lines[].discount"],
        also_named: &["divide_order_fee", "orders"],
    },
    Field {
        pattern: "orders.order[].divide_order_fee",
        role: Amount,
        maps_to: &["lines[].line_total", "lines[].discount"],
        also_named: &["payment", "orders"],
    },
    Field {
        pattern: "orders.order[].adjust_fee",
        role: SignedAmount,
        maps_to: &[],
        also_named: &["payment", "divide_order_fee"],
    },
    field("orders.order[].refund_status", Code, &["lines[].refund_status", "refund_status"]),
];

const SPEC: Spec = Spec {
    record: "trade_fullinfo_get_response.trade",
    fields: FIELDS,
    envelope: &[field("trade_fullinfo_get_response", Envelope, &[])],
    // Lines are not held to add up to the payment: a sub-order without `divide_order_fee` has
    // only its own `payment`, which leaves trade-level discounts unshared.
    rules: Rules { surcharges: true, lines_add_up: false, goods_add_up: true },
};

/// What `pull-orders` does with one fetched trade: mapped, or rejected by its tid.
fn map(body: &[u8]) -> fuzz::Outcome<Order> {
    let mapped = mapping::map_fullinfo_response(body, "shop-1");
    let raw: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    Ok(vec![reject::settle("3912345678901234567", raw.as_ref(), mapped, RECEIVER_FIELDS)?])
}

#[test]
fn mutated_answers_map_faithfully_or_fail_by_name() {
    fuzz::check(&SPEC, ANSWER, fuzz::SEED, fuzz::BUDGET, map).assert_clean("taobao");
}
