//! The shop in JOS's words: `orderInfo` objects, order states, ciphertexts and masks.
//!
//! Field names and shapes follow platforms.md ("JD JOS"). Where the shop has nothing JD would
//! show (an invoice, a balance payment, a paused order), the simulator derives it from the
//! order number, so the same order always looks the same and every branch of the JD mapping
//! is exercised.

use md5::{Digest, Md5};
use serde_json::{Value, json};

use super::OrderIds;
use crate::shop::{Order, Refund, Shop, Stage};
use crate::taobao::{gmt8, yuan};

/// Every `orderState` JOS documents (the `order_state` filter accepts only these), with the
/// `orderStateRemark` it comes with.
pub const ORDER_STATES: &[(&str, &str)] = &[
    ("WAIT_SELLER_STOCK_OUT", "等待出库"),
    ("WAIT_GOODS_RECEIVE_CONFIRM", "等待确认收货"),
    ("WAIT_SELLER_DELIVERY", "等待发货"),
    ("PAUSE", "暂停"),
    ("POP_ORDER_PAUSE", "POP暂停"),
    ("LOCKED", "已锁定"),
    ("FINISHED_L", "完成"),
    ("TRADE_CANCELED", "取消"),
    ("WAIT_SEND_CODE", "等待发码"),
];

/// The state of a paid order waiting to be shipped.
pub const WAIT_SELLER_STOCK_OUT: &str = "WAIT_SELLER_STOCK_OUT";
/// The states an order can be shipped from (`jingdong.pop.order.shipment`).
pub const SHIPPABLE: &[&str] = &[WAIT_SELLER_STOCK_OUT, "WAIT_SELLER_DELIVERY"];

/// JD carrier ids (`logiCoprId`) and names, from platforms.md (itself UNSURE about the ids).
pub const CARRIERS: &[(&str, &str)] = &[
    ("1499", "中通快递"),
    ("1327", "韵达快递"),
    ("470", "申通快递"),
    ("463", "圆通快递"),
    ("467", "顺丰快递"),
    ("465", "邮政EMS"),
    ("2087", "京东快递"),
];

/// What JD writes for a time that has not happened (`paymentConfirmTime` of an order never
/// paid, `orderEndTime` of an open one).
pub const UNSET_TIME: &str = "0001-01-01 00:00:00";

/// Province ids as JD numbers them (`provinceId`); other region ids are derived.
const PROVINCE_IDS: &[(&str, &str)] =
    &[("北京", "1"), ("浙江省", "15"), ("广东省", "19"), ("广西壮族自治区", "20"), ("四川省", "22")];

/// The order's `orderState`, or `None` while it awaits payment: JOS shows POP orders to the
/// seller once paid, and its `order_state` filter has no value for unpaid ones. Paid orders
/// with a refund requested are `LOCKED` (JD locks an order while the buyer asks to cancel);
/// one in five other paid orders is paused; the shop's partial shipments, which POP orders do
/// not have, show as `WAIT_SELLER_DELIVERY`.
pub fn order_state(o: &Order) -> Option<&'static str> {
    Some(match o.stage {
        Stage::Unpaid => return None,
        Stage::Paid if o.refund() == Refund::Requested => "LOCKED",
        Stage::Paid if o.order_no.is_multiple_of(5) => "POP_ORDER_PAUSE",
        Stage::Paid => WAIT_SELLER_STOCK_OUT,
        Stage::PartlyShipped => "WAIT_SELLER_DELIVERY",
        Stage::Shipped => "WAIT_GOODS_RECEIVE_CONFIRM",
        Stage::Completed => "FINISHED_L",
        Stage::Cancelled => "TRADE_CANCELED",
    })
}

/// The part of what the buyer paid that came from their JD balance (`balanceUsed`): a third
/// on every fourth order, none on the others. `orderPayment` is the rest.
pub fn balance_used(o: &Order) -> i64 {
    if o.order_no % 4 == 2 { o.paid_total() / 3 } else { 0 }
}

/// `invoiceEasyInfo` type codes and titles the simulator uses (the JD plugin's table reads
/// them): `(invoiceType, invoiceTitle, invoiceCode)`; `"0"` is no invoice.
pub fn invoice(o: &Order) -> (&'static str, Option<&'static str>, Option<&'static str>) {
    match o.order_no % 4 {
        0 => ("3", Some("个人"), None),
        1 => ("2", Some("深圳市某某医药有限公司"), Some("91440300MA5F000001")),
        _ => ("0", None, None),
    }
}

/// What a JD ciphertext looks like here: the same plaintext always gives the same text, and
/// nothing can decrypt it. Plaintext stays in the shop (ground truth) only.
pub fn cipher(plain: &str) -> String {
    let digest = Md5::new().chain_update("jd-tde:").chain_update(plain).finalize();
    let check = Md5::new().chain_update(digest).finalize();
    format!("~{}{}~", hex::encode(digest), hex::encode(&check[..6]))
}

/// JD's phone mask: the first three digits and the last one, `136*******5`.
pub fn mask_mobile(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 5 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..3].iter().collect();
    out.push_str(&"*".repeat(chars.len() - 4));
    out.push(chars[chars.len() - 1]);
    out
}

/// The receiver's full address as JD writes it (regions, town, street), before encryption.
pub fn full_address(o: &Order) -> String {
    let r = &o.receiver;
    format!("{}{}{}{}{}", r.province, r.city, r.district, r.town.as_deref().unwrap_or_default(), r.address)
}

/// The reference to the real receiver JD hands out instead of plaintext, `consigneeInfo.oaid`
/// (UNSURE: modelled on TOP's OAID; one per receiver, so equal receivers share it).
pub fn oaid(o: &Order) -> String {
    let r = &o.receiver;
    let digest = Md5::new()
        .chain_update("oaid:")
        .chain_update(&r.name)
        .chain_update(&r.phone)
        .chain_update(full_address(o))
        .finalize();
    hex::encode_upper(&digest[..12])
}

/// A region id: JD's for provinces, a stable made-up one for the rest.
fn region_id(name: &str) -> String {
    if let Some((_, id)) = PROVINCE_IDS.iter().find(|(n, _)| *n == name) {
        return (*id).to_owned();
    }
    let digest = Md5::digest(name.as_bytes());
    (u32::from(u16::from_be_bytes([digest[0], digest[1]])) + 1000).to_string()
}

/// The title JD shows for a SKU: the product title and the SKU's spec.
pub fn sku_name(shop: &Shop, sku: usize) -> String {
    let s = &shop.skus[sku];
    format!("{} {}", shop.products[s.product].title, s.spec)
}

fn time_or_unset(ms: Option<i64>) -> String {
    ms.map_or_else(|| UNSET_TIME.to_owned(), gmt8)
}

/// One `orderInfo`, every field JOS can return (the caller keeps the ones asked for).
pub fn order_info(shop: &Shop, o: &Order, ids: OrderIds) -> Value {
    let state = order_state(o).unwrap_or_default();
    let r = &o.receiver;
    let balance = balance_used(o);
    let (invoice_type, invoice_title, invoice_code) = invoice(o);
    let items: Vec<Value> = o
        .lines
        .iter()
        .map(|l| {
            let sku = &shop.skus[l.sku];
            let product = &shop.products[sku.product];
            json!({
                "skuId": sku.sku_no.to_string(),
                "outerSkuId": sku.outer_sku_id,
                "wareId": product.product_no.to_string(),
                "productNo": product.outer_product_id,
                "skuName": sku_name(shop, l.sku),
                "jdPrice": yuan(l.unit_price),
                "itemTotal": l.quantity.to_string(),
                "giftPoint": "0",
            })
        })
        .collect();
    let ended = matches!(o.stage, Stage::Completed | Stage::Cancelled).then_some(o.updated_ms);
    let (carrier, waybill) = o.shipment.clone().unwrap_or_default();
    json!({
        "orderId": match ids {
            OrderIds::Numbers => json!(o.order_no),
            OrderIds::Strings => json!(o.order_no.to_string()),
        },
        "venderId": "10086001",
        "orderType": "22",
        "payType": "4-在线支付",
        "orderState": state,
        "orderStateRemark": ORDER_STATES.iter().find(|(s, _)| *s == state).map(|(_, remark)| *remark).unwrap_or_default(),
        "orderTotalPrice": yuan(o.goods_total()),
        "orderSellerPrice": yuan(o.goods_total() - o.discount_total()),
        "sellerDiscount": yuan(o.discount_total()),
        "freightPrice": yuan(o.shipping_fee),
        "orderPayment": yuan(o.paid_total() - balance),
        "balanceUsed": yuan(balance),
        "orderStartTime": gmt8(o.created_ms),
        "paymentConfirmTime": time_or_unset(o.paid_ms),
        "orderEndTime": time_or_unset(ended),
        "modified": gmt8(o.updated_ms),
        "orderRemark": o.buyer_message.clone().unwrap_or_default(),
        "venderRemark": o.seller_memo.clone().unwrap_or_default(),
        "pin": o.buyer_nick,
        "open_id_buyer": o.buyer_id,
        "consigneeInfo": {
            "fullname": cipher(&r.name),
            "fullAddress": cipher(&full_address(o)),
            "mobile": mask_mobile(&r.phone),
            "telephone": mask_mobile(&r.phone),
            "province": r.province,
            "provinceId": region_id(&r.province),
            "city": r.city,
            "cityId": region_id(&r.city),
            "county": r.district,
            "countyId": region_id(&r.district),
            "town": r.town.clone().unwrap_or_default(),
            "townId": r.town.as_deref().map(region_id).unwrap_or_default(),
            "oaid": oaid(o),
        },
        "itemInfoList": items,
        "invoiceInfo": match invoice_type {
            "0" => "不需要开具发票".to_owned(),
            kind => format!("发票类型:{kind};发票抬头:{}", invoice_title.unwrap_or_default()),
        },
        "invoiceEasyInfo": {
            "invoiceType": invoice_type,
            "invoiceTitle": invoice_title.unwrap_or_default(),
            "invoiceCode": invoice_code.unwrap_or_default(),
        },
        "logisticsId": carrier,
        "waybill": waybill,
    })
}
