//! The canonical JSON a Taobao trade must map to: the ground truth the Taobao plugin is
//! compared with (the mapping contract lives in the plugin's docs).

use serde_json::{Value, json};

use super::SimTrade;
use crate::harness::{rfc3339, strip_nulls};

fn ts(ms: i64) -> Value {
    json!(rfc3339(ms))
}

fn opt<T: serde::Serialize>(v: Option<T>) -> Value {
    v.map(|v| json!(v)).unwrap_or(Value::Null)
}

/// The canonical JSON `t` must map to for shop `shop_id` (the Taobao mapping contract).
pub fn canonical_order(t: &SimTrade, shop_id: &str) -> Value {
    let mut order = json!({
        "platform": "taobao",
        "shop_id": shop_id,
        "order_id": t.tid_string(),
        "status": t.canonical_status(),
        "platform_status": t.status.as_str(),
        "refund_status": t.canonical_refund_status(),
        "created_at": ts(t.created_ms),
        "paid_at": opt(t.pay_time_ms.map(rfc3339)),
        "updated_at": ts(t.modified_ms),
        "currency": "CNY",
        "goods_total": t.total_fee,
        "shipping_fee": t.post_fee,
        "discount_total": t.discount_total(),
        "paid_total": t.payment,
        "buyer_id": t.buyer_open_uid,
        "buyer_nick": t.buyer_nick,
        "buyer_message": opt(t.buyer_message.clone()),
        "seller_memo": opt(t.seller_memo.clone()),
        "receiver": t.receiver.as_ref().map(|r| {
            let fields = [Some(&r.name), r.mobile.as_ref(), r.phone.as_ref(), Some(&r.state), Some(&r.city),
                Some(&r.district), r.town.as_ref(), Some(&r.address), r.zip.as_ref()];
            let masked = t.oaid.is_some() || fields.into_iter().flatten().any(|v| v.contains('*'));
            json!({
                "name": r.name,
                "phone": opt(r.canonical_phone()),
                "province": r.state,
                "city": r.city,
                "district": r.district,
                "town": opt(r.town.clone()),
                "address": r.address,
                "postcode": opt(r.zip.clone()),
                "masked": masked,
                "privacy_ref": opt(t.oaid.clone()),
            })
        }).unwrap_or(Value::Null),
        "invoice": t.invoice.as_ref().map(|i| json!({"kind": i.canonical_kind(), "title": i.name})).unwrap_or(Value::Null),
        "lines": t.orders.iter().map(|o| json!({
            "line_id": o.oid_string(),
            "product_id": o.num_iid.to_string(),
            "sku_id": opt(o.sku_id.map(|s| s.to_string())),
            "outer_product_id": opt(o.outer_iid.clone()),
            "outer_sku_id": opt(o.outer_sku_id.clone()),
            "title": o.title,
            "sku_properties": opt(o.sku_properties_name.clone()),
            "quantity": o.num,
            "unit_price": o.price,
            "discount": o.canonical_discount(),
            "line_total": o.line_total(),
            "refund_status": o.canonical_refund_status(),
        })).collect::<Vec<_>>(),
    });
    strip_nulls(&mut order);
    order
}
