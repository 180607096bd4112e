//! The JD mapping under mutated `jingdong.pop.order.search` answers: a typed error naming the
//! field, or a faithful mapping, never a silent change (see `wharf_sdk::fuzz`).

use wharf_plugin_jd::{jos, pull};
use wharf_sdk::fuzz::{self, Field, Role::*, Rules, Spec, field};
use wharf_sdk::types::Order;

/// A realistic search page (platforms.md): an id beyond 2^53 as a bare number, a ciphertext
/// consignee, balance payment, a VAT invoice, two lines sharing a discount; and a plain
/// finished order with JD's "never" payment time.
const ANSWER: &[u8] = include_bytes!("fixtures/pop_order_search.json");

const RECEIVER: &[&str] = &["receiver", "receiver.*"];
/// Cross-checks name the payment (paid above goods + freight) or the price (goods that do not
/// add up to `orderTotalPrice`).
const TOTALS: &[&str] = &["orderPayment", "orderTotalPrice", "itemInfoList"];

/// What each `orderInfo` key means and where it maps (platforms.md, the mapping's module docs).
const FIELDS: &[Field] = &[
    field("orderId", Id, &["order_id", "lines[].line_id"]),
    field("orderState", Code, &["status", "platform_status", "refund_status"]),
    Field {
        pattern: "orderTotalPrice",
        role: Amount,
        maps_to: &["goods_total", "discount_total", "lines[].discount", "lines[].line_total"],
        also_named: TOTALS,
    },
    Field {
        pattern: "freightPrice",
        role: Amount,
        maps_to: &["shipping_fee", "discount_total", "lines[].discount", "lines[].line_total"],
        also_named: TOTALS,
    },
    Field {
        pattern: "orderPayment",
        role: Amount,
        maps_to: &["paid_total", "discount_total", "lines[].discount", "lines[].line_total"],
        also_named: TOTALS,
    },
    Field {
        pattern: "balanceUsed",
        role: Amount,
        maps_to: &["paid_total", "discount_total", "lines[].discount", "lines[].line_total"],
        also_named: TOTALS,
    },
    field("orderStartTime", Time, &["created_at"]),
    field("paymentConfirmTime", Time, &["paid_at"]),
    field("modified", Time, &["updated_at"]),
    field("orderRemark", Text, &["buyer_message"]),
    field("venderRemark", Text, &["seller_memo"]),
    field("pin", Text, &["buyer_nick"]),
    field("open_id_buyer", Text, &["buyer_id"]),
    field("consigneeInfo", Object, RECEIVER),
    field("consigneeInfo.fullname", Text, RECEIVER),
    field("consigneeInfo.fullAddress", Text, RECEIVER),
    field("consigneeInfo.mobile", Text, RECEIVER),
    field("consigneeInfo.telephone", Text, RECEIVER),
    field("consigneeInfo.province", Text, RECEIVER),
    field("consigneeInfo.city", Text, RECEIVER),
    field("consigneeInfo.county", Text, RECEIVER),
    field("consigneeInfo.town", Text, RECEIVER),
    field("consigneeInfo.oaid", Text, RECEIVER),
    field("invoiceEasyInfo", Object, &["invoice", "invoice.*"]),
    field("invoiceEasyInfo.invoiceType", Code, &["invoice", "invoice.*"]),
    field("invoiceEasyInfo.invoiceTitle", Text, &["invoice.title"]),
    field("invoiceEasyInfo.invoiceCode", Text, &["invoice.tax_id"]),
    field("itemInfoList", Lines, &[]),
    field("itemInfoList[]", Lines, &[]),
    field("itemInfoList[].skuId", Id, &["lines[].sku_id"]),
    field("itemInfoList[].outerSkuId", Text, &["lines[].outer_sku_id"]),
    field("itemInfoList[].wareId", Id, &["lines[].product_id"]),
    field("itemInfoList[].productNo", Text, &["lines[].outer_product_id"]),
    field("itemInfoList[].skuName", Text, &["lines[].title"]),
    Field {
        pattern: "itemInfoList[].jdPrice",
        role: Amount,
        maps_to: &["lines[].unit_price", "lines[].discount", "lines[].line_total"],
        also_named: TOTALS,
    },
    Field {
        pattern: "itemInfoList[].itemTotal",
        role: Quantity,
        maps_to: &["lines[].quantity", "lines[].discount", "lines[].line_total"],
        also_named: TOTALS,
    },
];

const RESULT: &str = "jingdong_pop_order_search_responce.searchorderinfo_result";

const SPEC: Spec = Spec {
    record: "jingdong_pop_order_search_responce.searchorderinfo_result.orderInfoList[]",
    fields: FIELDS,
    envelope: &[
        field("jingdong_pop_order_search_responce", Envelope, &[]),
        field(RESULT, Envelope, &[]),
        field("jingdong_pop_order_search_responce.searchorderinfo_result.apiResult", Envelope, &[]),
        field("jingdong_pop_order_search_responce.searchorderinfo_result.apiResult.success", Envelope, &[]),
        field("jingdong_pop_order_search_responce.searchorderinfo_result.orderTotal", Envelope, &[]),
        field("jingdong_pop_order_search_responce.searchorderinfo_result.orderInfoList", Rows, &[]),
    ],
    rules: Rules { surcharges: false, lines_add_up: true, goods_add_up: true },
};

/// One search page as `pull-orders` reads it: each order mapped or rejected by its id.
fn map(body: &[u8]) -> fuzz::Outcome<Order> {
    let answer = jos::parse_answer(pull::SEARCH_METHOD, body)?;
    Ok(pull::parse_search(&answer, 1, 50, "shop-1")?.rows)
}

#[test]
fn mutated_answers_map_faithfully_or_fail_by_name() {
    fuzz::check(&SPEC, ANSWER, fuzz::SEED, fuzz::BUDGET, map).assert_clean("jd");
}
