//! The shop in 抖店's words: a shop order (`shop_order_list[]`, `shop_order_detail`) with its
//! `sku_order_list[]`.
//!
//! - Ids: the parent `order_id` is the shop's 19-digit order number, as a JSON string; child
//!   ids are the shop's line numbers less 10^19 (19 digits too, unique: see
//!   [`sku_order_id`]). `product_id` is a string, `sku_id` a number, as 抖店 sends them.
//! - Amounts are integers in fen: `order_amount` = `pay_amount` = what the buyer pays
//!   (goods + shipping − discounts), `post_amount` shipping, `promotion_amount` the discount;
//!   per SKU, as the official SDK's field comments define them, `origin_amount` = 商品现价, the
//!   **unit** price, `sum_amount` = `origin_amount × item_num`, `pay_amount` = what the buyer
//!   paid for the line (`sum_amount` less the line's discount), `promotion_amount` the
//!   discount, `post_amount` 0.
//! - Times are Unix seconds; `pay_time` is 0 until paid.
//! - Statuses: see [`statuses`]; a line's refund is `after_sale_info.refund_status`.
//! - The receiver is three ciphertexts (`encrypt_post_receiver` and `post_addr.encrypt_detail`
//!   as `##…##`, `encrypt_post_tel` as `$$…$$`) plus masked display values
//!   (`mask_post_receiver`, `mask_post_tel`, `mask_post_addr` with a masked `detail`). The
//!   postcode is not part of 抖店's order; the buyer is only `doudian_open_id`.

use serde_json::{Value, json};

use crate::rng::SimRng;
use crate::shop::{Line, Order, Refund, Shop, Stage};

/// Carrier codes `order.logisticsAdd` accepts (抖店's logistics company codes, a common few).
pub const CARRIERS: &[&str] =
    &["zhongtong", "yuantong", "shentong", "yunda", "shunfeng", "jtexpress", "youzhengguonei", "jd"];

/// A child id is the shop's line number less this, so it has 19 digits like the parent's.
const CHILD_ID_OFFSET: u64 = 10_000_000_000_000_000_000;

/// Base64's alphabet, which 抖店's ciphertexts are written in.
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The 抖店 id of an order number.
pub fn order_id(order_no: u64) -> String {
    order_no.to_string()
}

/// The 抖店 id of a line: 19 digits for the shop's line numbers of 19-digit orders.
pub fn sku_order_id(line_no: u64) -> String {
    line_no.checked_sub(CHILD_ID_OFFSET).unwrap_or(line_no).to_string()
}

/// `(order_status, main_status)` of an order, and a line's `main_status`.
///
/// `order_status`: 1 awaiting payment, 105 paid, 2 preparing, 101 partly shipped, 3 shipped,
/// 4 cancelled, 5 completed. `main_status` is the same code except: 103 for some unpaid
/// orders (a deposit paid, the rest not), and 21 / 22 / 39 (refunded before shipping / after
/// shipping / after receipt) for an order whose every line was refunded, whose
/// `order_status` is then 4. A paid order is 105 or 2 by its number's parity.
pub fn statuses(order: &Order) -> (u32, u32) {
    if let Some(refunded) = full_refund_status(order) {
        return (4, refunded);
    }
    let code = status_code(order);
    let main = if order.stage == Stage::Unpaid && order.order_no.is_multiple_of(4) { 103 } else { code };
    (code, main)
}

/// 21, 22 or 39 when every line of a paid order was refunded.
pub fn full_refund_status(order: &Order) -> Option<u32> {
    if !order.lines.iter().all(|l| l.refund == Refund::Refunded) {
        return None;
    }
    refund_code(order.stage)
}

fn refund_code(stage: Stage) -> Option<u32> {
    match stage {
        Stage::Paid => Some(21),
        Stage::PartlyShipped | Stage::Shipped => Some(22),
        Stage::Completed => Some(39),
        Stage::Unpaid | Stage::Cancelled => None,
    }
}

fn status_code(order: &Order) -> u32 {
    match order.stage {
        Stage::Unpaid => 1,
        Stage::Paid if order.order_no.is_multiple_of(2) => 105,
        Stage::Paid => 2,
        Stage::PartlyShipped => 101,
        Stage::Shipped => 3,
        Stage::Completed => 5,
        Stage::Cancelled => 4,
    }
}

fn status_desc(code: u32) -> &'static str {
    match code {
        1 => "待支付",
        103 => "部分支付",
        105 => "已支付",
        2 => "备货中",
        101 => "部分发货",
        3 => "已发货",
        4 => "已取消",
        5 => "已完成",
        21 => "发货前退款完结",
        22 => "发货后退款完结",
        39 => "收货后退款完结",
        _ => "",
    }
}

/// `after_sale_info.refund_status` (UNSURE, with the plugin's table): 0 none, 1 awaiting
/// refund, 3 refunded.
pub fn refund_code_of(refund: Refund) -> u32 {
    match refund {
        Refund::None => 0,
        Refund::Requested => 1,
        Refund::Refunded => 3,
    }
}

/// A deterministic ciphertext of `plain` in 抖店's shape: `##<index>*<data>#1##` for names and
/// addresses (`mark` `#`), `$$<index>*<data>$1$$` for phones (`mark` `$`).
pub fn cipher(plain: &str, mark: char) -> String {
    // FNV-1a of the text seeds the letters, so the same text always encrypts alike.
    let seed = plain.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let mut rng = SimRng::new(seed);
    let index = rng.string_from(B64, 24);
    let data = rng.string_from(B64, 44);
    format!("{mark}{mark}{index}*{data}{mark}1{mark}{mark}")
}

/// `张三` → `张*`: the first character kept.
pub fn mask_name(name: &str) -> String {
    name.chars().enumerate().map(|(i, c)| if i == 0 { c } else { '*' }).collect()
}

/// `13812345678` → `138****5678`.
pub fn mask_tel(tel: &str) -> String {
    let chars: Vec<char> = tel.chars().collect();
    chars.iter().enumerate().map(|(i, c)| if i < 3 || i + 4 >= chars.len() { *c } else { '*' }).collect()
}

/// A street address with everything after its first four characters masked.
pub fn mask_detail(detail: &str) -> String {
    let head: String = detail.chars().take(4).collect();
    format!("{head}****")
}

/// A region's id: a stable number from its name (抖店 sends ids with the names).
fn region(name: Option<&str>) -> Value {
    let name = name.unwrap_or_default();
    let id = name.bytes().fold(7_u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))) % 1_000_000;
    json!({"id": if name.is_empty() { String::new() } else { id.to_string() }, "name": name})
}

/// `post_addr` / `mask_post_addr`: the regions and a detail (plain or masked).
fn address(order: &Order, detail: Value) -> Value {
    let r = &order.receiver;
    let mut addr = json!({
        "province": region(Some(&r.province)),
        "city": region(Some(&r.city)),
        "town": region(Some(&r.district)),
        "street": region(r.town.as_deref()),
    });
    if let Value::Object(extra) = detail {
        addr.as_object_mut().into_iter().for_each(|a| a.extend(extra.clone()));
    }
    addr
}

/// `name:value` pairs of a spec like `颜色:红;尺码:M`, as 抖店's `spec` list.
fn spec(text: &str) -> Value {
    Value::Array(
        text.split(';')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (name, value) = part.split_once(':').unwrap_or(("规格", part));
                json!({"name": name, "value": value})
            })
            .collect(),
    )
}

fn sku_order(shop: &Shop, order: &Order, line: &Line, order_main: u32) -> Value {
    let sku = &shop.skus[line.sku];
    let product = &shop.products[sku.product];
    let gross = line.unit_price * line.quantity;
    let main_status = match (line.refund, refund_code(order.stage)) {
        (Refund::Refunded, Some(code)) => code,
        _ => order_main,
    };
    json!({
        "order_id": sku_order_id(line.line_no),
        "parent_order_id": order_id(order.order_no),
        "order_level": 3,
        "product_id": product.product_no.to_string(),
        "product_name": product.title,
        "out_product_id": product.outer_product_id,
        "sku_id": sku.sku_no,
        "out_sku_id": sku.outer_sku_id,
        "code": sku.outer_sku_id,
        "spec": spec(&sku.spec),
        "item_num": line.quantity,
        "origin_amount": line.unit_price,
        "sum_amount": gross,
        "pay_amount": line.line_total(),
        "promotion_amount": line.discount,
        "post_amount": 0,
        "order_status": status_code(order),
        "main_status": main_status,
        "after_sale_info": {"refund_status": refund_code_of(line.refund)},
        "create_time": order.created_ms / 1000,
        "update_time": order.updated_ms / 1000,
    })
}

/// One shop order as `order.searchList` and `order.orderDetail` carry it.
pub fn shop_order(shop: &Shop, order: &Order) -> Value {
    let (order_status, main_status) = statuses(order);
    let r = &order.receiver;
    let logistics: Vec<Value> =
        order.shipment.iter().map(|(company, tracking)| json!({"company": company, "tracking_no": tracking})).collect();
    json!({
        "order_id": order_id(order.order_no),
        "order_level": 2,
        "order_status": order_status,
        "order_status_desc": status_desc(order_status),
        "main_status": main_status,
        "main_status_desc": status_desc(main_status),
        "create_time": order.created_ms / 1000,
        "update_time": order.updated_ms / 1000,
        "pay_time": order.paid_ms.map_or(0, |t| t / 1000),
        "order_amount": order.paid_total(),
        "pay_amount": order.paid_total(),
        "post_amount": order.shipping_fee,
        "promotion_amount": order.discount_total(),
        "doudian_open_id": order.buyer_id,
        "encrypt_post_receiver": cipher(&r.name, '#'),
        "encrypt_post_tel": cipher(&r.phone, '$'),
        "post_addr": address(order, json!({"detail": "", "encrypt_detail": cipher(&r.address, '#')})),
        "mask_post_receiver": mask_name(&r.name),
        "mask_post_tel": mask_tel(&r.phone),
        "mask_post_addr": address(order, json!({"detail": mask_detail(&r.address)})),
        "buyer_words": order.buyer_message.clone().unwrap_or_default(),
        "seller_words": order.seller_memo.clone().unwrap_or_default(),
        "logistics_info": logistics,
        "sku_order_list": order.lines.iter().map(|l| sku_order(shop, order, l, main_status)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::ShopParams;

    fn shop_of(orders: usize) -> Shop {
        Shop::generate(&ShopParams {
            seed: 5,
            orders,
            now_ms: 1_794_326_400_000,
            modified_span_ms: 86_400_000,
            first_order_no: super::super::FIRST_ORDER_NO,
        })
    }

    fn shop() -> Shop {
        shop_of(300)
    }

    #[test]
    fn ids_have_19_digits_and_children_are_unique() {
        let s = shop();
        let mut children = std::collections::HashSet::new();
        for o in &s.orders {
            assert_eq!(order_id(o.order_no).len(), 19);
            for l in &o.lines {
                let id = sku_order_id(l.line_no);
                assert_eq!(id.len(), 19, "{id}");
                assert!(children.insert(id));
            }
        }
    }

    #[test]
    fn amounts_are_fen_and_add_up() {
        let s = shop();
        for o in &s.orders {
            let v = shop_order(&s, o);
            let lines = v["sku_order_list"].as_array().unwrap();
            for l in lines {
                let n = |k: &str| l[k].as_i64().unwrap();
                assert_eq!(n("origin_amount") * n("item_num"), n("sum_amount"), "origin_amount is the unit price");
                assert_eq!(n("sum_amount") - n("promotion_amount"), n("pay_amount"));
            }
            let goods: i64 = lines.iter().map(|l| l["sum_amount"].as_i64().unwrap()).sum();
            let paid = v["pay_amount"].as_i64().unwrap();
            let post = v["post_amount"].as_i64().unwrap();
            let promotion = v["promotion_amount"].as_i64().unwrap();
            assert_eq!(goods + post - promotion, paid);
            assert!(v["order_id"].is_string() && v["sku_order_list"][0]["order_id"].is_string());
        }
    }

    #[test]
    fn every_status_code_appears() {
        // Full refunds (21/22/39) need a single-line order whose line was refunded: rare.
        let s = shop_of(3000);
        let mut seen = std::collections::BTreeSet::new();
        for o in &s.orders {
            let (a, b) = statuses(o);
            seen.insert(a);
            seen.insert(b);
        }
        for code in [1, 103, 105, 2, 101, 3, 4, 5, 21, 22, 39] {
            assert!(seen.contains(&code), "{code} missing from {seen:?}");
        }
    }

    #[test]
    fn receivers_are_ciphertexts_and_masks() {
        assert_eq!(cipher("张三", '#'), cipher("张三", '#'));
        let c = cipher("13812345678", '$');
        assert!(c.starts_with("$$") && c.ends_with("$1$$") && c.contains('*'), "{c}");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_tel("13812345678"), "138****5678");
        assert_eq!(mask_detail("科技园路12号3栋101室"), "科技园路****");
        assert_eq!(spec("颜色:红;尺码:M"), json!([{"name": "颜色", "value": "红"}, {"name": "尺码", "value": "M"}]));
    }
}
