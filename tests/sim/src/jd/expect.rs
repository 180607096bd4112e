//! The canonical order the JD plugin must produce for a shop order, field by field, as the
//! JSON `wharf plugin call` prints (snake_case, RFC 3339 instants, absent fields omitted).
//!
//! Computed from the shop (ground truth) and the simulator's rendering rules, never by parsing
//! what the gateway wrote, so a wire bug shows up as a difference. The JD mapping it encodes
//! (the plugin's module docs say the same):
//! - status from `orderState`; paused (`PAUSE`, `POP_ORDER_PAUSE`) and `LOCKED` (a
//!   cancel/refund request, refund `requested`) orders are `held`: paid but not to be shipped;
//!   JOS carries no per-line refunds, so lines say `none`;
//! - goods = `orderTotalPrice`, shipping = `freightPrice`, paid = `orderPayment` +
//!   `balanceUsed`, discount = goods + shipping − paid, spread over lines by `jdPrice` ×
//!   `itemTotal` (largest remainder, ties to the first line: what the shop generated);
//! - line ids `<orderId>-<n>` (JOS has no sub-order ids), product = `wareId`, sku = `skuId`,
//!   outer product = `productNo`, title = `skuName`;
//! - receiver: only what a person may see (the masked phone and the regions; the name and
//!   address are ciphertexts, so withheld), `masked`, and `privacy_ref` = the ciphertexts and
//!   the oaid, labelled, as JSON text `{"address":…,"name":…,"oaid":…}`; invoice from
//!   `invoiceEasyInfo`.

use serde_json::{Value, json};

use super::render::{self, cipher, full_address, mask_mobile, oaid, order_state};
use crate::harness::{rfc3339, strip_nulls};
use crate::shop::{Order, Shop};

/// `orderState` → (canonical status, order refund status).
/// Only the states [`order_state`] renders; an order in any other is a bug the tests catch.
const STATUSES: &[(&str, &str, &str)] = &[
    ("WAIT_SELLER_STOCK_OUT", "paid", "none"),
    ("WAIT_SELLER_DELIVERY", "paid", "none"),
    ("POP_ORDER_PAUSE", "held", "none"),
    ("LOCKED", "held", "requested"),
    ("WAIT_GOODS_RECEIVE_CONFIRM", "shipped", "none"),
    ("FINISHED_L", "completed", "none"),
    ("TRADE_CANCELED", "cancelled", "none"),
];

/// `invoiceEasyInfo.invoiceType` → canonical kind.
const INVOICE_KINDS: &[(&str, &str)] = &[("1", "paper"), ("2", "vat_special"), ("3", "electronic")];

/// The canonical JSON of `o` for shop `shop_id`, or `None` when JOS does not show it.
pub fn expected_order(shop: &Shop, o: &Order, shop_id: &str) -> Option<Value> {
    let state = order_state(o)?;
    let (_, status, refund) = STATUSES.iter().find(|(s, _, _)| *s == state)?;
    let r = &o.receiver;
    let (invoice_type, title, tax_id) = render::invoice(o);
    let invoice = INVOICE_KINDS
        .iter()
        .find(|(t, _)| *t == invoice_type)
        .map(|(_, kind)| json!({"kind": kind, "title": title, "tax_id": tax_id}));
    let lines: Vec<Value> = o
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let sku = &shop.skus[l.sku];
            let product = &shop.products[sku.product];
            json!({
                "line_id": format!("{}-{}", o.order_no, i + 1),
                "product_id": product.product_no.to_string(),
                "sku_id": sku.sku_no.to_string(),
                "outer_product_id": product.outer_product_id,
                "outer_sku_id": sku.outer_sku_id,
                "title": render::sku_name(shop, l.sku),
                "quantity": l.quantity,
                "unit_price": l.unit_price,
                "discount": l.discount,
                "line_total": l.line_total(),
                "refund_status": "none",
            })
        })
        .collect();
    let mut order = json!({
        "platform": "jd",
        "shop_id": shop_id,
        "order_id": o.order_no.to_string(),
        "status": status,
        "platform_status": state,
        "refund_status": refund,
        "created_at": rfc3339(o.created_ms),
        "paid_at": o.paid_ms.map(rfc3339),
        "updated_at": rfc3339(o.updated_ms),
        "currency": "CNY",
        "goods_total": o.goods_total(),
        "shipping_fee": o.shipping_fee,
        "discount_total": o.discount_total(),
        "paid_total": o.paid_total(),
        "buyer_id": o.buyer_id,
        "buyer_nick": o.buyer_nick,
        "buyer_message": o.buyer_message,
        "seller_memo": o.seller_memo,
        "receiver": {
            "phone": mask_mobile(&r.phone),
            "province": r.province,
            "city": r.city,
            "district": r.district,
            "town": r.town,
            "masked": true,
            "privacy_ref": json!({"address": cipher(&full_address(o)), "name": cipher(&r.name), "oaid": oaid(o)}).to_string(),
        },
        "invoice": invoice,
        "lines": lines,
    });
    strip_nulls(&mut order);
    Some(order)
}
