//! 抖店's cases of the rules every plugin follows (canonical-model.md, "Rules every plugin
//! follows"): shop orders written from platforms.md ("Douyin shop (抖店)") and the official
//! SDK's field comments it quotes, not from [`super::render`], and the canonical facts each
//! rule names.

use serde_json::{Value, json};

use crate::harness::{RuleCase, rule_case_at, rule_case_window};

/// Parent order ids of the cases: 19 digits like 抖店's, far from the shop's.
const FIRST_CASE_ID: u64 = 6_930_000_000_000_000_000;
/// 抖店 ciphertexts as platforms.md shows them: `##<b64>*<b64>#1##` for names and addresses,
/// `$$<b64>*<b64>$1$$` for phones.
const NAME_CIPHERTEXT: &str = "##UlVMRU5BTUU=*Y2lwaGVyMQ==#1##";
const TEL_CIPHERTEXT: &str = "$$UlVMRVRFTA==*Y2lwaGVyMg==$1$$";
const DETAIL_CIPHERTEXT: &str = "##UlVMRUFERFI=*Y2lwaGVyMw==#1##";
/// 抖店's own masked values (`mask_post_receiver`, `mask_post_tel`).
const MASKED_NAME: &str = "张*";
const MASKED_TEL: &str = "138****5678";
/// The street detail of `mask_post_addr`.
const MASKED_DETAIL: &str = "文三路****";

/// A region as 抖店 writes one in `post_addr`.
fn region(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name})
}

/// One `sku_order_list` entry; amounts in fen: `origin_amount` the unit price (商品现价),
/// `sum_amount` = `origin_amount × item_num`, `pay_amount` what was paid for the line.
fn sku_order(id: u64, code: &str, item_num: i64, origin_amount: i64, pay_amount: i64) -> Value {
    json!({
        "order_id": id.to_string(),
        "product_id": "3556789012345670001",
        "product_name": format!("规则用例商品 {code}"),
        "out_product_id": "RULE-SPU",
        "sku_id": "1768000000000001",
        "out_sku_id": code,
        "code": code,
        "spec": [{"name": "规格", "value": "标准"}],
        "item_num": item_num,
        "origin_amount": origin_amount,
        "sum_amount": origin_amount * item_num,
        "pay_amount": pay_amount,
        "after_sale_info": {"refund_status": 0},
    })
}

/// One shop order with status codes `(order_status, main_status)`, updated at `at` (UTC ms):
/// one line of 2 × 59.95 yuan, 6.33 off, 10.00 post; receiver encrypted and masked as 抖店
/// sends it.
fn shop_order(id: u64, (order_status, main_status): (u32, u32), at: i64) -> Value {
    let secs = at / 1000;
    let paid = order_status != 1;
    json!({
        "order_id": id.to_string(),
        "order_level": 2,
        "order_status": order_status,
        "order_status_desc": "",
        "main_status": main_status,
        "main_status_desc": "",
        "create_time": secs - 3600,
        "update_time": secs,
        "pay_time": if paid { secs - 3500 } else { 0 },
        "order_amount": 12357,
        "pay_amount": 12357,
        "post_amount": 1000,
        "promotion_amount": 633,
        "doudian_open_id": "1@#UlVMRUJVWUVS",
        "encrypt_post_receiver": NAME_CIPHERTEXT,
        "encrypt_post_tel": TEL_CIPHERTEXT,
        "post_addr": {
            "province": region("33", "浙江省"),
            "city": region("3301", "杭州市"),
            "town": region("330106", "西湖区"),
            "street": region("", ""),
            "detail": "",
            "encrypt_detail": DETAIL_CIPHERTEXT,
        },
        "mask_post_receiver": MASKED_NAME,
        "mask_post_tel": MASKED_TEL,
        "mask_post_addr": {
            "province": region("33", "浙江省"),
            "city": region("3301", "杭州市"),
            "town": region("330106", "西湖区"),
            "street": region("", ""),
            "detail": MASKED_DETAIL,
        },
        "buyer_words": "",
        "seller_words": "",
        "sku_order_list": [sku_order(id + 1, "RULE-SKU-1", 2, 5995, 11357)],
    })
}

pub fn cases(now_ms: i64) -> Vec<RuleCase> {
    let at = rule_case_at(now_ms);
    let window = rule_case_window(at);
    // Parent ids step by 10 so their lines' ids (parent + 1, + 2) stay unique.
    let mut next_id = FIRST_CASE_ID;
    let mut id = || {
        next_id += 10;
        next_id
    };
    let mut cases = Vec::new();

    // Status (platforms.md, 抖店 `order_status`: 1 awaiting payment, 105 paid, 2 preparing,
    // 101 partly shipped, 3 shipped, 4 cancelled, 5 completed; `main_status` 21/22/39 refunded
    // before shipping / after shipping / after receipt; the rules' Status: ended before
    // shipping is cancelled, after shipping without completing is closed).
    for (codes, status, what) in [
        ((1, 1), "unpaid", "1 is unpaid"),
        ((105, 105), "paid", "105 is paid"),
        ((2, 2), "paid", "2 is paid"),
        ((101, 101), "partially_shipped", "101 is partially_shipped"),
        ((3, 3), "shipped", "3 is shipped"),
        ((4, 4), "cancelled", "4 is cancelled"),
        ((5, 5), "completed", "5 is completed"),
        ((4, 21), "cancelled", "refunded before shipping (main 21) is cancelled"),
        ((4, 22), "closed", "refunded after shipping (main 22) is closed"),
        ((4, 39), "closed", "refunded after receipt (main 39) is closed"),
        ((1, 103), "unpaid", "partly paid (main 103) is unpaid"),
    ] {
        let id = id();
        cases.push(RuleCase::new(
            "status",
            format!("Douyin order_status {what}"),
            window,
            vec![shop_order(id, codes, at)],
            vec![json!({"order_id": id.to_string(), "status": status})],
        ));
    }

    // platform_status: `order_status` as sent (the rule's own example, `"105"`).
    let sent = id();
    cases.push(RuleCase::new(
        "platform_status",
        "Douyin order_status as sent",
        window,
        vec![shop_order(sent, (105, 105), at)],
        vec![json!({"order_id": sent.to_string(), "platform_status": "105"})],
    ));
    // Where `main_status` decides too (21: refunded in full before shipping), both, as sent.
    let both = id();
    cases.push(RuleCase::new(
        "platform_status",
        "Douyin order_status and main_status joined",
        window,
        vec![shop_order(both, (4, 21), at)],
        vec![json!({"order_id": both.to_string(), "platform_status": "order_status=4;main_status=21"})],
    ));

    // Receiver privacy (platforms.md, 抖店 shop order: `encrypt_post_*` ciphertexts beside
    // `mask_post_*`): display fields show the masks, privacy_ref every ciphertext, labelled.
    let private = id();
    cases.push(
        RuleCase::new(
            "receiver privacy",
            "Douyin ciphertexts only in privacy_ref",
            window,
            vec![shop_order(private, (2, 2), at)],
            vec![json!({
                "order_id": private.to_string(),
                "receiver": {
                    "name": MASKED_NAME,
                    "phone": MASKED_TEL,
                    "address": MASKED_DETAIL,
                    "province": "浙江省",
                    "masked": true,
                    "privacy_ref": {"name": NAME_CIPHERTEXT, "phone": TEL_CIPHERTEXT, "address": DETAIL_CIPHERTEXT},
                },
            })],
        )
        .never_showing([NAME_CIPHERTEXT, TEL_CIPHERTEXT, DETAIL_CIPHERTEXT]),
    );

    // Line money (platforms.md, 抖店 line money: `origin_amount` the unit price, `sum_amount`
    // = origin × item_num, `pay_amount` paid for the line): 2 × 59.95 paid 113.57 → unit
    // 5995, discount 633; a gift at 0.
    let money = id();
    let mut doc = shop_order(money, (2, 2), at);
    doc["sku_order_list"] =
        json!([sku_order(money + 1, "RULE-SKU-1", 2, 5995, 11357), sku_order(money + 2, "RULE-GIFT", 1, 0, 0)]);
    cases.push(RuleCase::new(
        "line money",
        "Douyin origin_amount is the unit price, a gift is 0",
        window,
        vec![doc],
        vec![json!({
            "order_id": money.to_string(),
            "lines": [
                {"line_id": (money + 1).to_string(),
                  "quantity": 2, "unit_price": 5995, "discount": 633, "line_total": 11357},
                {"line_id": (money + 2).to_string(), "quantity": 1, "unit_price": 0, "discount": 0, "line_total": 0},
            ],
        })],
    ));

    // One bad record (platforms.md, 抖店 line money: "a line whose figures disagree is one bad
    // record, not a failed page"): a page of five where one line's sum_amount is not
    // origin × item_num → the other four, and that order set aside by its own id.
    let ids: Vec<u64> = (0..5).map(|_| id()).collect();
    let bad = ids[2];
    let mut page = Vec::new();
    for (n, &id) in ids.iter().enumerate() {
        let mut doc = shop_order(id, (2, 2), at + n as i64 * 1000);
        if id == bad {
            doc["sku_order_list"][0]["sum_amount"] = json!(5995);
        }
        page.push(doc);
    }
    let others = ids.iter().filter(|&&id| id != bad).map(|id| json!({"order_id": id.to_string(), "status": "paid"}));
    cases.push(
        RuleCase::new("one bad record", "Douyin page with one inconsistent line", window, page, others.collect())
            .rejecting(bad.to_string(), "sum_amount")
            .hiding_in_excerpts([NAME_CIPHERTEXT, TEL_CIPHERTEXT, DETAIL_CIPHERTEXT]),
    );
    cases
}
