//! JD's cases of the rules every plugin follows (canonical-model.md, "Rules every plugin
//! follows"): `orderInfo` documents written from platforms.md ("JD JOS"), not from
//! [`super::render`], and the canonical facts each rule names.

use serde_json::{Value, json};

use crate::harness::{RuleCase, rule_case_at, rule_case_window};
use crate::taobao::gmt8;

/// Ids of the cases' orders: beyond 2^53 like the shop's, and far from them.
const FIRST_CASE_ID: u64 = 9_200_000_000_000_000;
/// JD TDE ciphertexts as platforms.md frames them (`~…~1~~`; the shape is UNSURE there).
const NAME_CIPHERTEXT: &str = "~AgAAAAIBwWwAbmFtZS1jaXBoZXI=~1~~";
const ADDRESS_CIPHERTEXT: &str = "~AgAAAAIBwWwAYWRkcmVzcy1jaXBoZXI=~1~~";
/// JD's phone mask (platforms.md: `136*******5`).
const MASKED_MOBILE: &str = "136*******5";

/// One `orderInfo` in state `state`, modified at `at` (UTC ms): one line of 2 × 50.00 yuan,
/// 8.00 freight, paid in full; a consignee with an encrypted name and address and a masked
/// phone, as JOS sends it.
fn order_info(id: u64, state: &str, at: i64) -> Value {
    json!({
        "orderId": id,
        "venderId": "10086001",
        "orderType": "22",
        "payType": "4-在线支付",
        "orderState": state,
        "orderStateRemark": "",
        "orderTotalPrice": "100.00",
        "orderSellerPrice": "100.00",
        "sellerDiscount": "0.00",
        "freightPrice": "8.00",
        "orderPayment": "108.00",
        "balanceUsed": "0.00",
        "orderStartTime": gmt8(at - 3_600_000),
        "paymentConfirmTime": gmt8(at - 3_500_000),
        "modified": gmt8(at),
        "orderRemark": "",
        "venderRemark": "",
        "pin": "j***n",
        "consigneeInfo": {
            "fullname": NAME_CIPHERTEXT,
            "fullAddress": ADDRESS_CIPHERTEXT,
            "mobile": MASKED_MOBILE,
            "telephone": "",
            "province": "广东省", "provinceId": "19",
            "city": "深圳市", "cityId": "1607",
            "county": "南山区", "countyId": "3155",
            "town": "", "townId": "",
        },
        "itemInfoList": [item("10000100001", "RULE-SKU-1", "50.00", "2")],
        "invoiceEasyInfo": {"invoiceType": "0", "invoiceTitle": "", "invoiceCode": ""},
    })
}

/// One `itemInfoList` entry: `jdPrice` is one unit's price, `itemTotal` the quantity (a
/// string), per platforms.md.
fn item(sku_id: &str, outer_sku_id: &str, jd_price: &str, item_total: &str) -> Value {
    json!({
        "skuId": sku_id,
        "outerSkuId": outer_sku_id,
        "wareId": "3500000001",
        "productNo": "RULE-SPU",
        "skuName": format!("规则用例商品 {outer_sku_id}"),
        "jdPrice": jd_price,
        "itemTotal": item_total,
        "giftPoint": "0",
    })
}

pub fn cases(now_ms: i64) -> Vec<RuleCase> {
    let at = rule_case_at(now_ms);
    let window = rule_case_window(at);
    let mut next_id = FIRST_CASE_ID;
    let mut id = || {
        next_id += 1;
        next_id
    };
    let mut cases = Vec::new();

    // Status (platforms.md, JD JOS, `orderState`; the rules' Status): PAUSE, POP_ORDER_PAUSE
    // and LOCKED are paid orders JD forbids shipping for now → held, never paid;
    // TRADE_CANCELED ended before shipping → cancelled.
    for (state, status) in [
        ("WAIT_SELLER_STOCK_OUT", "paid"),
        ("WAIT_SELLER_DELIVERY", "paid"),
        ("PAUSE", "held"),
        ("POP_ORDER_PAUSE", "held"),
        ("LOCKED", "held"),
        ("WAIT_GOODS_RECEIVE_CONFIRM", "shipped"),
        ("FINISHED_L", "completed"),
        ("TRADE_CANCELED", "cancelled"),
    ] {
        let id = id();
        cases.push(RuleCase::new(
            "status",
            format!("JD {state} is {status}"),
            window,
            vec![order_info(id, state, at)],
            vec![json!({"order_id": id.to_string(), "status": status})],
        ));
    }

    // platform_status: JD's `orderState` as sent.
    let pause = id();
    cases.push(RuleCase::new(
        "platform_status",
        "JD orderState as sent",
        window,
        vec![order_info(pause, "POP_ORDER_PAUSE", at)],
        vec![json!({"order_id": pause.to_string(), "platform_status": "POP_ORDER_PAUSE"})],
    ));

    // Receiver privacy (platforms.md, JD JOS, `consigneeInfo`: names and addresses may arrive
    // encrypted, phones masked): the ciphertexts go to privacy_ref, labelled; the name and
    // address show nothing; the masked phone shows.
    let private = id();
    cases.push(
        RuleCase::new(
            "receiver privacy",
            "JD ciphertexts only in privacy_ref",
            window,
            vec![order_info(private, "WAIT_SELLER_STOCK_OUT", at)],
            vec![json!({
                "order_id": private.to_string(),
                "receiver": {
                    "name": null,
                    "address": null,
                    "phone": MASKED_MOBILE,
                    "province": "广东省",
                    "masked": true,
                    "privacy_ref": {"name": NAME_CIPHERTEXT, "address": ADDRESS_CIPHERTEXT},
                },
            })],
        )
        .never_showing([NAME_CIPHERTEXT, ADDRESS_CIPHERTEXT]),
    );

    // Line money (platforms.md, JD JOS, `itemInfoList`: `jdPrice` per unit, `itemTotal` the
    // quantity; `sellerDiscount` the order's discount): 3 × 59.90 and a gift at 0.00, 10.00
    // off the order, 8.00 freight → the discount falls on the priced line, the gift is 0.
    let money = id();
    let mut doc = order_info(money, "WAIT_SELLER_STOCK_OUT", at);
    doc["itemInfoList"] =
        json!([item("10000100002", "RULE-SKU-2", "59.90", "3"), item("10000100003", "RULE-GIFT", "0.00", "1")]);
    doc["orderTotalPrice"] = json!("179.70");
    doc["sellerDiscount"] = json!("10.00");
    doc["orderSellerPrice"] = json!("169.70");
    doc["orderPayment"] = json!("177.70");
    cases.push(RuleCase::new(
        "line money",
        "JD jdPrice is the unit price, a gift is 0",
        window,
        vec![doc],
        vec![json!({
            "order_id": money.to_string(),
            "lines": [
                {"outer_sku_id": "RULE-SKU-2",
                  "quantity": 3, "unit_price": 5990, "discount": 1000, "line_total": 16970},
                {"outer_sku_id": "RULE-GIFT", "quantity": 1, "unit_price": 0, "discount": 0, "line_total": 0},
            ],
        })],
    ));

    // One bad record: a page of three where the middle order's quantity is not a number.
    let (first, bad, last) = (id(), id(), id());
    let mut broken = order_info(bad, "WAIT_SELLER_STOCK_OUT", at + 1000);
    broken["itemInfoList"][0]["itemTotal"] = json!("两");
    cases.push(
        RuleCase::new(
            "one bad record",
            "JD page with one unreadable order",
            window,
            vec![order_info(first, "WAIT_SELLER_STOCK_OUT", at), broken, order_info(last, "PAUSE", at + 2000)],
            vec![
                json!({"order_id": first.to_string(), "status": "paid"}),
                json!({"order_id": last.to_string(), "status": "held"}),
            ],
        )
        .rejecting(bad.to_string(), "itemTotal")
        .hiding_in_excerpts([NAME_CIPHERTEXT, ADDRESS_CIPHERTEXT]),
    );
    cases
}
