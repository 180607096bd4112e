//! The 抖店 mapping under mutated `order.searchList` answers: a typed error naming the field,
//! or a faithful mapping, never a silent change (see `wharf_sdk::fuzz`).

use wharf_plugin_douyin::{openapi, pull};
use wharf_sdk::api::Scripted;
use wharf_sdk::fuzz::{self, Field, Role::*, Rules, Spec, field};
use wharf_sdk::paging::Listing;
use wharf_sdk::types::Order;

/// A realistic page (platforms.md): 19-digit ids as strings and numbers, ciphertexts and masks,
/// a paid order of two lines (one refunded) with a discount and shipping, and an unpaid
/// deposit order (`main_status` 103, `pay_time` 0).
const ANSWER: &[u8] = include_bytes!("fixtures/order_search_list.json");

const RECEIVER: &[&str] = &["receiver", "receiver.*"];
/// The order's figures decide its discount.
const TOTALS: &[&str] = &["pay_amount", "post_amount", "sku_order_list"];

macro_rules! region {
    ($addr:literal) => {
        [
            field($addr, Object, RECEIVER),
            field(concat!($addr, ".province"), Object, RECEIVER),
            field(concat!($addr, ".province.name"), Text, RECEIVER),
            field(concat!($addr, ".city"), Object, RECEIVER),
            field(concat!($addr, ".city.name"), Text, RECEIVER),
            field(concat!($addr, ".town"), Object, RECEIVER),
            field(concat!($addr, ".town.name"), Text, RECEIVER),
            field(concat!($addr, ".street"), Object, RECEIVER),
            field(concat!($addr, ".street.name"), Text, RECEIVER),
            field(concat!($addr, ".detail"), Text, RECEIVER),
            field(concat!($addr, ".encrypt_detail"), Text, RECEIVER),
        ]
    };
}

const POST_ADDR: [Field; 11] = region!("post_addr");
const MASK_POST_ADDR: [Field; 11] = region!("mask_post_addr");

/// What each shop order key means and where it maps (platforms.md, the mapping's module docs).
const ORDER: &[Field] = &[
    field("order_id", Id, &["order_id"]),
    field("order_status", Code, &["status", "platform_status"]),
    field("main_status", Code, &["status", "platform_status"]),
    field("create_time", Time, &["created_at"]),
    field("update_time", Time, &["updated_at"]),
    field("pay_time", Time, &["paid_at"]),
    Field { pattern: "pay_amount", role: Amount, maps_to: &["paid_total", "discount_total"], also_named: TOTALS },
    Field { pattern: "post_amount", role: Amount, maps_to: &["shipping_fee", "discount_total"], also_named: TOTALS },
    field("doudian_open_id", Id, &["buyer_id"]),
    field("encrypt_post_receiver", Text, RECEIVER),
    field("encrypt_post_tel", Text, RECEIVER),
    field("mask_post_receiver", Text, RECEIVER),
    field("mask_post_tel", Text, RECEIVER),
    field("buyer_words", Text, &["buyer_message"]),
    field("seller_words", Text, &["seller_memo"]),
    field("sku_order_list", Lines, &[]),
    field("sku_order_list[]", Lines, &[]),
    field("sku_order_list[].order_id", Id, &["lines[].line_id"]),
    field("sku_order_list[].product_id", Id, &["lines[].product_id"]),
    field("sku_order_list[].product_name", Text, &["lines[].title"]),
    field("sku_order_list[].out_product_id", Id, &["lines[].outer_product_id"]),
    field("sku_order_list[].sku_id", Id, &["lines[].sku_id"]),
    field("sku_order_list[].out_sku_id", Id, &["lines[].outer_sku_id"]),
    field("sku_order_list[].code", Id, &["lines[].outer_sku_id"]),
    field("sku_order_list[].spec", List, &["lines[].sku_properties"]),
    // A spec entry is a {name, value} object: anything else is refused.
    field("sku_order_list[].spec[]", Lines, &[]),
    field("sku_order_list[].spec[].name", Text, &["lines[].sku_properties"]),
    field("sku_order_list[].spec[].value", Text, &["lines[].sku_properties"]),
    Field {
        pattern: "sku_order_list[].item_num",
        role: Quantity,
        maps_to: &["lines[].quantity", "lines[].discount", "goods_total", "discount_total"],
        also_named: &["origin_amount", "sum_amount", "pay_amount", "sku_order_list"],
    },
    Field {
        pattern: "sku_order_list[].origin_amount",
        role: Amount,
        maps_to: &["lines[].unit_price", "lines[].discount", "goods_total", "discount_total"],
        also_named: &["item_num", "sum_amount", "pay_amount", "sku_order_list"],
    },
    Field {
        pattern: "sku_order_list[].sum_amount",
        role: Amount,
        maps_to: &[],
        also_named: &["origin_amount", "item_num"],
    },
    Field {
        pattern: "sku_order_list[].pay_amount",
        role: Amount,
        maps_to: &["lines[].line_total", "lines[].discount"],
        also_named: &["sku_order_list"],
    },
    field("sku_order_list[].after_sale_info", Object, &["lines[].refund_status", "refund_status"]),
    field("sku_order_list[].after_sale_info.refund_status", Code, &["lines[].refund_status", "refund_status"]),
];

const ENVELOPE: &[Field] = &[
    field("code", Envelope, &[]),
    // A success without `data` (or without its list) lists nothing: the plugin reads it as an
    // empty page, as 抖店 answers a window without orders.
    field("data", Rows, &[]),
    field("data.total", Envelope, &[]),
    field("data.shop_order_list", Rows, &[]),
];

fn fields() -> &'static [Field] {
    let all: Vec<Field> = ORDER.iter().chain(&POST_ADDR).chain(&MASK_POST_ADDR).copied().collect();
    Box::leak(all.into_boxed_slice())
}

fn spec() -> Spec {
    Spec {
        record: "data.shop_order_list[]",
        fields: fields(),
        envelope: ENVELOPE,
        rules: Rules { surcharges: false, lines_add_up: true, goods_add_up: true },
    }
}

/// One listing page as `pull-orders` reads it: each shop order mapped or rejected by its id.
fn map(body: &[u8]) -> fuzz::Outcome<Order> {
    let mut api = Scripted::answering(vec![openapi::parse_envelope(body)]);
    let mut listing = pull::SearchList { api: &mut api, shop_id: "shop-1" };
    Ok(listing.list(1_794_326_400_000, 1_794_412_799_999, 0, 50)?.rows)
}

#[test]
fn mutated_answers_map_faithfully_or_fail_by_name() {
    fuzz::check(&spec(), ANSWER, fuzz::SEED, fuzz::BUDGET, map).assert_clean("douyin");
}
