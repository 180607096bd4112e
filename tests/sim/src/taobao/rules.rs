//! Taobao's cases of the rules every plugin follows (canonical-model.md, "Rules every plugin
//! follows"): trades written from platforms.md ("Taobao Open Platform (TOP)"), not from the
//! generator, and the canonical facts each rule names.

use serde_json::{Value, json};

use super::wire::gmt8;
use crate::harness::{RuleCase, rule_case_at, rule_case_window};

/// Trade ids of the cases: beyond 2^53 as TOP's are (written as JSON numbers, as TOP does), and
/// far from the generated shop's.
const FIRST_CASE_TID: u64 = 9_300_000_000_000_000;
/// What TOP sends for the receiver: masked values and the `oaid` that names the real one.
const OAID: &str = "1sQYQhWQ3ZIDwCibHmE7xqgRULE";
const MASKED_NAME: &str = "张*";
const MASKED_MOBILE: &str = "138****5678";
const MASKED_ADDRESS: &str = "文三路***号";

/// One sub-order (`orders.order[]`): `price` is one unit's price, `num` the quantity,
/// `divide_order_fee` the line's payment after the order's discounts are shared out (yuan
/// strings, per platforms.md).
fn sub_order(oid: u64, outer_sku_id: &str, price: &str, num: u32, paid: &str, total_fee: &str) -> Value {
    json!({
        "oid": oid,
        "num_iid": 600_000_000_001u64,
        "sku_id": "4000000000001",
        "outer_iid": "RULE-SPU",
        "outer_sku_id": outer_sku_id,
        "num": num,
        "price": price,
        "title": format!("规则用例商品 {outer_sku_id}"),
        "total_fee": total_fee,
        "payment": paid,
        "divide_order_fee": paid,
        "discount_fee": "0.00",
        "adjust_fee": "0.00",
        "status": "WAIT_SELLER_SEND_GOODS",
        "refund_status": "NO_REFUND",
        "sku_properties_name": "颜色分类:红色",
    })
}

/// One trade in `status`, modified at `at` (UTC ms): one sub-order of 2 × 50.00 yuan, 8.00
/// post, paid in full; the receiver masked with its `oaid`, as TOP sends it.
fn trade(tid: u64, status: &str, at: i64) -> Value {
    let paid = !matches!(status, "WAIT_BUYER_PAY" | "TRADE_NO_CREATE_PAY" | "TRADE_CLOSED_BY_TAOBAO");
    let mut t = json!({
        "tid": tid,
        "status": status,
        "type": "fixed",
        "buyer_nick": "t**a",
        "buyer_open_uid": "AAHRULEBUYER",
        "oaid": OAID,
        "payment": "108.00",
        "post_fee": "8.00",
        "total_fee": "100.00",
        "discount_fee": "0.00",
        "adjust_fee": "0.00",
        "receiver_name": MASKED_NAME,
        "receiver_mobile": MASKED_MOBILE,
        "receiver_phone": "",
        "receiver_state": "浙江省",
        "receiver_city": "杭州市",
        "receiver_district": "西湖区",
        "receiver_town": "",
        "receiver_address": MASKED_ADDRESS,
        "receiver_zip": "310000",
        "created": gmt8(at - 3_600_000),
        "modified": gmt8(at),
        "seller_memo": "",
        "buyer_message": "",
        "shipping_type": "express",
        "orders": {"order": [sub_order(tid + 1, "RULE-SKU-1", "50.00", 2, "100.00", "100.00")]},
    });
    if paid {
        t["pay_time"] = json!(gmt8(at - 3_500_000));
    }
    t
}

pub fn cases(now_ms: i64) -> Vec<RuleCase> {
    let at = rule_case_at(now_ms);
    let window = rule_case_window(at);
    // Trade ids step by 10 so their sub-orders' ids (tid + 1, + 2) stay unique.
    let mut next = FIRST_CASE_TID;
    let mut tid = || {
        next += 10;
        next
    };
    let mut cases = Vec::new();

    // Status (platforms.md, TOP trade status; the rules' Status): PAID_FORBID_CONSIGN is paid
    // but may not ship → held; TRADE_CLOSED ended before shipping (no consign_time) is
    // cancelled, after shipping (consign_time) closed; TRADE_CLOSED_BY_TAOBAO cancelled.
    for (status, consigned, canonical, what) in [
        ("WAIT_BUYER_PAY", false, "unpaid", "WAIT_BUYER_PAY is unpaid"),
        ("WAIT_SELLER_SEND_GOODS", false, "paid", "WAIT_SELLER_SEND_GOODS is paid"),
        ("PAID_FORBID_CONSIGN", false, "held", "PAID_FORBID_CONSIGN is held"),
        ("SELLER_CONSIGNED_PART", true, "partially_shipped", "SELLER_CONSIGNED_PART is partially_shipped"),
        ("WAIT_BUYER_CONFIRM_GOODS", true, "shipped", "WAIT_BUYER_CONFIRM_GOODS is shipped"),
        ("TRADE_FINISHED", true, "completed", "TRADE_FINISHED is completed"),
        ("TRADE_CLOSED", false, "cancelled", "TRADE_CLOSED without consign_time is cancelled"),
        ("TRADE_CLOSED", true, "closed", "TRADE_CLOSED with consign_time is closed"),
        ("TRADE_CLOSED_BY_TAOBAO", false, "cancelled", "TRADE_CLOSED_BY_TAOBAO is cancelled"),
    ] {
        let tid = tid();
        let mut doc = trade(tid, status, at);
        if consigned {
            doc["consign_time"] = json!(gmt8(at - 1_800_000));
        }
        cases.push(RuleCase::new(
            "status",
            format!("Taobao {what}"),
            window,
            vec![doc],
            vec![json!({"order_id": tid.to_string(), "status": canonical})],
        ));
    }

    // platform_status: the trade's `status` as sent.
    let sent = tid();
    cases.push(RuleCase::new(
        "platform_status",
        "Taobao status as sent",
        window,
        vec![trade(sent, "PAID_FORBID_CONSIGN", at)],
        vec![json!({"order_id": sent.to_string(), "platform_status": "PAID_FORBID_CONSIGN"})],
    ));

    // Receiver privacy (platforms.md, TOP privacy: receivers come masked; `oaid` identifies the
    // real receiver): the masks show, privacy_ref is the oaid.
    let private = tid();
    cases.push(RuleCase::new(
        "receiver privacy",
        "Taobao masked receiver, oaid in privacy_ref",
        window,
        vec![trade(private, "WAIT_SELLER_SEND_GOODS", at)],
        vec![json!({
            "order_id": private.to_string(),
            "receiver": {
                "name": MASKED_NAME,
                "phone": MASKED_MOBILE,
                "address": MASKED_ADDRESS,
                "masked": true,
                "privacy_ref": OAID,
            },
        })],
    ));

    // Line money (platforms.md, TOP sub-order: `price` one unit, `num`, `divide_order_fee`
    // the line's share of the payment): 3 × 59.90 with 10.00 of the order's discount shared
    // onto it, and a gift at 0.00.
    let money = tid();
    let mut doc = trade(money, "WAIT_SELLER_SEND_GOODS", at);
    doc["orders"] = json!({"order": [
        sub_order(money + 1, "RULE-SKU-2", "59.90", 3, "169.70", "179.70"),
        sub_order(money + 2, "RULE-GIFT", "0.00", 1, "0.00", "0.00"),
    ]});
    doc["total_fee"] = json!("179.70");
    doc["discount_fee"] = json!("10.00");
    doc["payment"] = json!("177.70");
    cases.push(RuleCase::new(
        "line money",
        "Taobao price is the unit price, a gift is 0",
        window,
        vec![doc],
        vec![json!({
            "order_id": money.to_string(),
            "lines": [
                {"line_id": (money + 1).to_string(),
                  "quantity": 3, "unit_price": 5990, "discount": 1000, "line_total": 16970},
                {"line_id": (money + 2).to_string(), "quantity": 1, "unit_price": 0, "discount": 0, "line_total": 0},
            ],
        })],
    ));

    // One bad record: three trades, the middle one's sub-order price unreadable.
    let (first, bad, last) = (tid(), tid(), tid());
    let mut broken = trade(bad, "WAIT_SELLER_SEND_GOODS", at + 1000);
    broken["orders"]["order"][0]["price"] = json!("50.0.0");
    cases.push(
        RuleCase::new(
            "one bad record",
            "Taobao page with one unreadable trade",
            window,
            vec![trade(first, "WAIT_SELLER_SEND_GOODS", at), broken, trade(last, "PAID_FORBID_CONSIGN", at + 2000)],
            vec![
                json!({"order_id": first.to_string(), "status": "paid"}),
                json!({"order_id": last.to_string(), "status": "held"}),
            ],
        )
        .rejecting(bad.to_string(), "price"),
    );
    cases
}
