//! The ECShop mapping under mutated `orders` answers of the bridge: a typed error naming the
//! field, or a faithful mapping, never a silent change (see `wharf_sdk::fuzz`).

use wharf_plugin_ecshop::{bridge, pull};
use wharf_sdk::api::Scripted;
use wharf_sdk::fuzz::{self, Field, Role::*, Rules, Spec, field};
use wharf_sdk::paging::Listing;
use wharf_sdk::types::Order;

/// A realistic listing as the bridge writes it (bridge/README.md, platforms.md): a paid order
/// with a product line and a plain goods line, fees and deductions over ECShop's columns; and a
/// cancelled cash-on-delivery guest order without a receiver.
const ANSWER: &[u8] = include_bytes!("fixtures/orders.json");

const RECEIVER: &[&str] = &["receiver", "receiver.*"];
const INVOICE: &[&str] = &["invoice", "invoice.*"];
/// ECShop's identity (goods + charges − deductions = paid) and the goods adding up to
/// `goods_amount` are checked across columns; an error may name any of them.
const TOTALS: &[&str] = &["goods_amount", "money_paid", "discount", "goods", "goods_price"];

const fn money(pattern: &'static str, maps_to: &'static [&'static str]) -> Field {
    Field { pattern, role: Amount, maps_to, also_named: TOTALS }
}

/// What each order key means and where it maps (the mapping's module docs).
const FIELDS: &[Field] = &[
    field("order_sn", Id, &["order_id"]),
    field("user_id", Id, &["buyer_id"]),
    field("order_status", Code, &["status", "platform_status", "refund_status", "lines[].refund_status"]),
    field("shipping_status", Code, &["status", "platform_status"]),
    field("pay_status", Code, &["status", "platform_status"]),
    field("add_time", Time, &["created_at"]),
    field("pay_time", Time, &["paid_at"]),
    field("updated_at", Time, &["updated_at"]),
    money("goods_amount", &["goods_total"]),
    money("shipping_fee", &["shipping_fee"]),
    money("insure_fee", &["shipping_fee"]),
    money("pay_fee", &["shipping_fee"]),
    money("pack_fee", &["shipping_fee"]),
    money("card_fee", &["shipping_fee"]),
    money("tax", &["shipping_fee"]),
    money("discount", &["discount_total", "lines[].discount", "lines[].line_total"]),
    money("bonus", &["discount_total", "lines[].discount", "lines[].line_total"]),
    money("integral_money", &["discount_total", "lines[].discount", "lines[].line_total"]),
    money("money_paid", &["paid_total"]),
    money("surplus", &["paid_total"]),
    money("order_amount", &["paid_total"]),
    field("consignee", Text, RECEIVER),
    field("address", Text, RECEIVER),
    field("zipcode", Text, RECEIVER),
    field("tel", Text, RECEIVER),
    field("mobile", Text, RECEIVER),
    field("province_name", Text, RECEIVER),
    field("city_name", Text, RECEIVER),
    field("district_name", Text, RECEIVER),
    field("postscript", Text, &["buyer_message"]),
    field("inv_payee", Text, INVOICE),
    // What the invoice is for: not a canonical field, but asking for one.
    field("inv_content", Presence, INVOICE),
    field("goods", Lines, &[]),
    field("goods[]", Lines, &[]),
    field("goods[].rec_id", Id, &["lines[].line_id"]),
    field("goods[].goods_id", Id, &["lines[].product_id"]),
    field("goods[].product_id", Id, &["lines[].sku_id", "lines[].outer_sku_id"]),
    Field {
        pattern: "goods[].goods_number",
        role: Quantity,
        maps_to: &["lines[].quantity", "lines[].discount", "lines[].line_total"],
        also_named: TOTALS,
    },
    money("goods[].goods_price", &["lines[].unit_price", "lines[].discount", "lines[].line_total"]),
    field("goods[].goods_name", Text, &["lines[].title"]),
    field("goods[].goods_sn", Text, &["lines[].outer_product_id", "lines[].outer_sku_id"]),
    field("goods[].goods_attr", Text, &["lines[].sku_properties"]),
    field("goods[].product_sn", Text, &["lines[].outer_sku_id"]),
];

const SPEC: Spec = Spec {
    record: "orders[]",
    fields: FIELDS,
    envelope: &[field("total", Envelope, &[]), field("orders", Rows, &[])],
    rules: Rules { surcharges: false, lines_add_up: true, goods_add_up: true },
};

/// One listing page as `pull-orders` reads it: each order mapped or rejected by its order_sn.
fn map(body: &[u8]) -> fuzz::Outcome<Order> {
    let mut api = Scripted::answering(vec![bridge::answer(pull::ORDERS, 200, &[], body)]);
    let mut listing = pull::Bridge { api: &mut api, shop_id: "shop-1" };
    Ok(listing.list(1_795_399_000_000, 1_795_486_399_999, 1, 50)?.rows)
}

#[test]
fn mutated_answers_map_faithfully_or_fail_by_name() {
    fuzz::check(&SPEC, ANSWER, fuzz::SEED, fuzz::BUDGET, map).assert_clean("ecshop");
}
