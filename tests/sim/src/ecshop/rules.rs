//! ECShop's cases of the rules every plugin follows (canonical-model.md, "Rules every plugin
//! follows"): rows of ECShop's own tables written from platforms.md ("ECShop (2.7.x, PHP +
//! MySQL)"), not from [`super::model`], and the canonical facts each rule names. The bridge
//! reads them as it reads any order; the plugin maps what the bridge hands out.

use serde_json::{Value, json};

use super::php::Statement;
use crate::harness::{RuleCase, rule_case_at, rule_case_window};

/// `ecs_order_info.order_id`s of the cases (mediumint), far above the shop's.
const FIRST_CASE_ORDER: i64 = 900_000;

/// An INSERT of `row` (column → value) into `table`; columns must be plain identifiers.
pub fn insert(table: &str, row: &Value) -> Result<Statement, String> {
    let Some(map) = row.as_object() else { return Err(format!("a row of {table} must be an object, got {row}")) };
    if let Some(bad) = map.keys().find(|k| k.is_empty() || !k.chars().all(|c| c.is_ascii_lowercase() || c == '_')) {
        return Err(format!("{table}: {bad:?} is not a column name"));
    }
    let columns: Vec<&str> = map.keys().map(String::as_str).collect();
    let marks = vec!["?"; columns.len()].join(", ");
    Ok(Statement::once(
        format!("INSERT INTO {table} ({}) VALUES ({marks})", columns.join(", ")),
        map.values().cloned().collect(),
    ))
}

/// ECShop's order number for `order_id` (`get_order_sn()`: the date, then digits).
fn order_sn(order_id: i64) -> String {
    format!("20261111{order_id:07}")
}

/// One `ecs_order_goods` row: `goods_price` is what one unit sold for, `market_price` the
/// list price shown crossed out, `goods_number` the quantity; `is_gift` marks a gift.
fn goods(rec_id: i64, order_id: i64, goods_sn: &str, goods_price: &str, goods_number: i64, is_gift: i64) -> Value {
    json!({
        "rec_id": rec_id,
        "order_id": order_id,
        "goods_id": 9001,
        "goods_name": format!("规则用例商品 {goods_sn}"),
        "goods_sn": goods_sn,
        "product_id": 0,
        "goods_number": goods_number,
        "market_price": "79.00",
        "goods_price": goods_price,
        "goods_attr": "",
        "send_number": 0,
        "is_real": 1,
        "is_gift": is_gift,
    })
}

/// One order with status codes `(order_status, shipping_status, pay_status)`, changed at `at`
/// (UTC ms): one line of 2 × 50.00 yuan, 8.00 shipping, paid in full when pay_status is 2.
fn order(order_id: i64, (os, ss, ps): (i64, i64, i64), at: i64) -> Value {
    let secs = at / 1000;
    let paid = ps == 2;
    let info = json!({
        "order_id": order_id,
        "order_sn": order_sn(order_id),
        "user_id": 0,
        "order_status": os,
        "shipping_status": ss,
        "pay_status": ps,
        "consignee": "王小明",
        "country": 1,
        "address": "文三路 90 号",
        "zipcode": "310000",
        "mobile": "13800138000",
        "shipping_name": "顺丰速运",
        "pay_name": "支付宝",
        "goods_amount": "100.00",
        "shipping_fee": "8.00",
        "money_paid": if paid { "108.00" } else { "0.00" },
        "order_amount": if paid { "0.00" } else { "108.00" },
        "add_time": secs - 3600,
        "confirm_time": if os == 0 { 0 } else { secs },
        "pay_time": if paid { secs - 60 } else { 0 },
        "shipping_time": if matches!(ss, 1 | 2 | 4) { secs - 30 } else { 0 },
    });
    json!({
        "order_info": info,
        "order_goods": [goods(order_id * 10 + 1, order_id, "RULE-SKU-1", "50.00", 2, 0)],
        // ECShop's admin logs every status change; the last is the order's change time.
        "order_action": [{
            "order_id": order_id,
            "action_user": "admin",
            "order_status": os,
            "shipping_status": ss,
            "pay_status": ps,
            "action_note": "规则用例",
            "log_time": secs,
        }],
    })
}

pub fn cases(now_ms: i64) -> Vec<RuleCase> {
    let at = rule_case_at(now_ms);
    let window = rule_case_window(at);
    let mut next = FIRST_CASE_ORDER;
    let mut id = || {
        next += 1;
        next
    };
    let mut cases = Vec::new();

    // Status (platforms.md, ECShop: order_status 0 unconfirmed, 1 confirmed, 2 cancelled,
    // 3 invalid, 4 returned; shipping_status 0 unshipped, 1 shipped, 2 received, 3 preparing,
    // 4 partly shipped; pay_status 0 unpaid, 2 paid; the rules' Status: cancelled and invalid
    // ended before shipping, returned ended after goods left → closed).
    for (codes, status, what) in [
        ((0, 0, 0), "unpaid", "unconfirmed unpaid is unpaid"),
        ((1, 0, 2), "paid", "confirmed paid unshipped is paid"),
        ((1, 3, 2), "paid", "paid and preparing is paid"),
        ((1, 4, 2), "partially_shipped", "partly shipped is partially_shipped"),
        ((1, 1, 2), "shipped", "shipped is shipped"),
        ((1, 2, 2), "completed", "received is completed"),
        ((2, 0, 0), "cancelled", "cancelled is cancelled"),
        ((3, 0, 0), "cancelled", "invalid is cancelled"),
        ((4, 0, 0), "closed", "returned is closed"),
    ] {
        let id = id();
        cases.push(RuleCase::new(
            "status",
            format!("ECShop {what}"),
            window,
            vec![order(id, codes, at)],
            vec![json!({"order_id": order_sn(id), "status": status})],
        ));
    }

    // platform_status: the status comes from three columns, so all three, as sent.
    let sent = id();
    cases.push(RuleCase::new(
        "platform_status",
        "ECShop three status fields joined",
        window,
        vec![order(sent, (1, 0, 2), at)],
        vec![json!({"order_id": order_sn(sent), "platform_status": "order_status=1;shipping_status=0;pay_status=2"})],
    ));

    // Receiver privacy: ECShop keeps the receiver in plaintext (platforms.md, `ecs_order_info`
    // consignee, address, mobile): shown as it is, nothing masked, no privacy_ref.
    let plain = id();
    cases.push(RuleCase::new(
        "receiver privacy",
        "ECShop plaintext receiver is not masked",
        window,
        vec![order(plain, (1, 0, 2), at)],
        vec![json!({
            "order_id": order_sn(plain),
            "receiver": {"name": "王小明", "phone": "13800138000", "masked": false, "privacy_ref": null},
        })],
    ));

    // Line money (platforms.md, `ecs_order_goods`: `goods_price` per unit, `goods_number`,
    // `market_price` only the list price; `is_gift`; `ecs_order_info.discount` a whole-order
    // discount): 3 × 59.90 with 10.00 off the order, a gift at 0.00.
    let money = id();
    let mut doc = order(money, (1, 0, 2), at);
    doc["order_goods"] = json!([
        goods(money * 10 + 1, money, "RULE-SKU-2", "59.90", 3, 0),
        goods(money * 10 + 2, money, "RULE-GIFT", "0.00", 1, 1)
    ]);
    doc["order_info"]["goods_amount"] = json!("179.70");
    doc["order_info"]["discount"] = json!("10.00");
    doc["order_info"]["money_paid"] = json!("177.70");
    cases.push(RuleCase::new(
        "line money",
        "ECShop goods_price is the unit price, a gift is 0",
        window,
        vec![doc],
        vec![json!({
            "order_id": order_sn(money),
            "lines": [
                {"line_id": (money * 10 + 1).to_string(),
                  "quantity": 3, "unit_price": 5990, "discount": 1000, "line_total": 16970},
                {"line_id": (money * 10 + 2).to_string(),
                  "quantity": 1, "unit_price": 0, "discount": 0, "line_total": 0},
            ],
        })],
    ));

    // One bad record: three orders, the middle one with a line of no units.
    let (first, bad, last) = (id(), id(), id());
    let mut broken = order(bad, (1, 0, 2), at + 1000);
    broken["order_goods"][0]["goods_number"] = json!(0);
    cases.push(
        RuleCase::new(
            "one bad record",
            "ECShop page with one unreadable order",
            window,
            vec![order(first, (1, 0, 2), at), broken, order(last, (1, 1, 2), at + 2000)],
            vec![
                json!({"order_id": order_sn(first), "status": "paid"}),
                json!({"order_id": order_sn(last), "status": "shipped"}),
            ],
        )
        .rejecting(order_sn(bad), "goods_number")
        .hiding_in_excerpts(["王小明", "13800138000", "文三路 90 号"]),
    );
    cases
}
