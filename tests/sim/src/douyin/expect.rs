//! What the Douyin plugin must make of an order: its canonical JSON, computed from the shop
//! (not by reading the wire back), so a wrong mapping cannot agree with itself.
//!
//! The Douyin mapping contract, as the simulator holds the plugin to it:
//! - `order_id` = the parent id; `platform_status` = `order_status` as decimal text, or both
//!   codes (`order_status=4;main_status=21`) when `main_status` differs from it.
//! - status from the stage: unpaid, paid, partially_shipped, shipped, completed, cancelled;
//!   an order refunded in full before shipping (`main_status` 21) is `cancelled`, after
//!   shipping or receipt (22/39) `closed`.
//! - `goods_total` = Σ price × quantity, `shipping_fee`, `paid_total`, and
//!   `discount_total` = goods + shipping − paid.
//! - buyer: `buyer_id` = `doudian_open_id`, no nick; `buyer_message` = `buyer_words`,
//!   `seller_memo` = `seller_words` (empty → absent); no invoice.
//! - receiver: the masked values (`district` = 抖店's `town`, `town` = its `street`), no
//!   postcode, `masked` true, `privacy_ref` = the three ciphertexts, labelled, as JSON text
//!   `{"address":…,"name":…,"phone":…}`; never a ciphertext in a display field.
//! - lines: `line_id` = the child id, `outer_sku_id` = `out_sku_id`, `sku_properties` =
//!   `name:value` pairs joined by `;`; the line's money from the shop's own figures (the unit
//!   price before discounts, the line's discount, what was paid for it), which 抖店 sends as
//!   `origin_amount` (unit price), `sum_amount` (× quantity) and `pay_amount`.

use serde_json::{Value, json};

use super::render::{cipher, full_refund_status, mask_detail, mask_name, mask_tel, order_id, sku_order_id, statuses};
use crate::harness::{rfc3339, strip_nulls};
use crate::shop::{Line, Order, Refund, Shop, Stage};

fn refund_word(refund: Refund) -> &'static str {
    match refund {
        Refund::None => "none",
        Refund::Requested => "requested",
        Refund::Refunded => "refunded",
    }
}

fn status_word(order: &Order) -> &'static str {
    match full_refund_status(order) {
        Some(21) => return "cancelled",
        Some(_) => return "closed",
        None => {}
    }
    match order.stage {
        Stage::Unpaid => "unpaid",
        Stage::Paid => "paid",
        Stage::PartlyShipped => "partially_shipped",
        Stage::Shipped => "shipped",
        Stage::Completed => "completed",
        Stage::Cancelled => "cancelled",
    }
}

/// Whole seconds, as 抖店 says times.
fn seconds(ms: i64) -> i64 {
    ms / 1000 * 1000
}

/// The receiver: what 抖店 shows (masked) and the ciphertexts that name the real one.
fn receiver(order: &Order) -> Value {
    let r = &order.receiver;
    // Keys sorted, as the plugin writes them.
    let ciphertexts =
        json!({"address": cipher(&r.address, '#'), "name": cipher(&r.name, '#'), "phone": cipher(&r.phone, '$')});
    json!({
        "masked": true,
        "privacy_ref": ciphertexts.to_string(),
        "name": mask_name(&r.name), "phone": mask_tel(&r.phone), "address": mask_detail(&r.address),
        "province": r.province, "city": r.city, "district": r.district, "town": r.town,
    })
}

/// One line: 抖店's ids, the merchant codes, and the amounts of the line.
fn line(shop: &Shop, l: &Line) -> Value {
    let sku = &shop.skus[l.sku];
    let product = &shop.products[sku.product];
    json!({
        "line_id": sku_order_id(l.line_no),
        "quantity": l.quantity,
        "unit_price": l.unit_price,
        "discount": l.discount,
        "line_total": l.line_total(),
        "refund_status": refund_word(l.refund),
        "product_id": product.product_no.to_string(),
        "outer_product_id": product.outer_product_id,
        "title": product.title,
        "sku_id": sku.sku_no.to_string(),
        "outer_sku_id": sku.outer_sku_id,
        "sku_properties": sku.spec,
    })
}

/// `order_status` as sent, or both codes when `main_status` says more.
fn platform_status(order: &Order) -> String {
    match statuses(order) {
        (status, main) if status == main => status.to_string(),
        (status, main) => format!("order_status={status};main_status={main}"),
    }
}

/// The canonical JSON of `order` as the plugin must produce it for shop `shop_id`.
pub fn expected_order(shop: &Shop, order: &Order, shop_id: &str) -> Value {
    let mut v = json!({
        "order_id": order_id(order.order_no),
        "platform": "douyin",
        "shop_id": shop_id,
        "platform_status": platform_status(order),
        "status": status_word(order),
        "refund_status": refund_word(order.refund()),
        "currency": "CNY",
        "paid_total": order.paid_total(),
        "goods_total": order.goods_total(),
        "discount_total": order.discount_total(),
        "shipping_fee": order.shipping_fee,
        "updated_at": rfc3339(seconds(order.updated_ms)),
        "created_at": rfc3339(seconds(order.created_ms)),
        "paid_at": order.paid_ms.map(|t| rfc3339(seconds(t))),
        "seller_memo": order.seller_memo,
        "buyer_message": order.buyer_message,
        "buyer_id": order.buyer_id,
        "receiver": receiver(order),
        "lines": order.lines.iter().map(|l| line(shop, l)).collect::<Vec<_>>(),
    });
    strip_nulls(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::ShopParams;

    #[test]
    fn expectations_balance_and_omit_what_douyin_lacks() {
        let shop = Shop::generate(&ShopParams {
            seed: 9,
            orders: 200,
            now_ms: 1_794_326_400_000,
            modified_span_ms: 86_400_000,
            first_order_no: super::super::FIRST_ORDER_NO,
        });
        let mut statuses = std::collections::BTreeSet::new();
        for o in &shop.orders {
            let v = expected_order(&shop, o, "s1");
            let n = |k: &str| v[k].as_i64().unwrap();
            assert_eq!(n("goods_total") + n("shipping_fee") - n("discount_total"), n("paid_total"));
            assert!(v.get("buyer_nick").is_none() && v.get("invoice").is_none());
            assert!(v["receiver"].get("postcode").is_none());
            let reference: Value = serde_json::from_str(v["receiver"]["privacy_ref"].as_str().unwrap()).unwrap();
            assert_eq!(reference.as_object().unwrap().len(), 3);
            statuses.insert(v["status"].as_str().unwrap().to_owned());
        }
        assert!(statuses.len() >= 6, "{statuses:?}");
    }
}
