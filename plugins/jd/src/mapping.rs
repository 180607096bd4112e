//! JOS `orderInfo` → canonical orders. Pure: no host calls, so the same code runs natively
//! (tests) and inside the wasm plugin.
//!
//! Field by field:
//! - `order_id` = `orderId` (a string or a bare JSON number beyond 2^53, read exactly),
//!   `platform_status` = `orderState`, status and order refund from [`ORDER_STATES`];
//! - money (yuan strings → fen, none negative): `goods_total` = `orderTotalPrice`, `shipping_fee` =
//!   `freightPrice`, `paid_total` = `orderPayment` + `balanceUsed` (JD: payable = goods −
//!   discounts − balance + freight, so the balance part was paid too; absent = none used),
//!   `discount_total` = goods + shipping − paid: every discount, the seller's
//!   (`sellerDiscount`) and JD's own coupons alike, so goods + shipping − discount = paid
//!   always holds (a payment above goods + shipping is refused: no discount is negative);
//! - times (GMT+8 → UTC): `created_at` = `orderStartTime`, `paid_at` = `paymentConfirmTime`
//!   (JD's "never" times, [`UNSET_TIMES`], and absence are none), `updated_at` = `modified`;
//! - `buyer_id` = `open_id_buyer`, `buyer_nick` = `pin`, `buyer_message` = `orderRemark`,
//!   `seller_memo` = `venderRemark`;
//! - receiver from `consigneeInfo` (an object, or an error naming it), only what a person may
//!   see: `name` = `fullname` and `address` = `fullAddress` unless they are ciphertexts (then
//!   nothing), `phone` = `mobile` else `telephone` (masked), `province`, `city`, `district` =
//!   `county`, `town`; no postcode. `privacy_ref` = every ciphertext and the
//!   [`PRIVACY_REF_FIELD`], labelled, as JSON text (`{"address":…,"name":…,"oaid":…}`, by
//!   [`wharf_sdk::privacy`]); `masked` when there is one or a value looks masked;
//! - invoice from `invoiceEasyInfo` ([`INVOICE_KINDS`]): `title` = `invoiceTitle`, `tax_id` =
//!   `invoiceCode`;
//! - lines from `itemInfoList`: JOS gives no sub-order ids, so `line_id` = `<orderId>-<n>`
//!   (n from 1, in JD's order); `product_id` = `wareId`, `sku_id` = `skuId`,
//!   `outer_product_id` = `productNo`, `outer_sku_id` = `outerSkuId`, `title` = `skuName`,
//!   `quantity` = `itemTotal` (a string, at least 1), `unit_price` = `jdPrice` (one unit,
//!   before discounts). An order without items is refused. JOS gives no per-line
//!   payment either, so the order's discount is spread over the lines by `jdPrice` ×
//!   `itemTotal` ([`wharf_sdk::apportion`]); `line_total` = gross − that share. The items'
//!   `jdPrice × itemTotal` must add up to `orderTotalPrice` (an order whose goods disagree is
//!   refused, naming `orderTotalPrice`). Lines carry no refund (JOS reports refunds elsewhere).

use wharf_sdk::json::Node;
use wharf_sdk::privacy::{self, Sealed};
use wharf_sdk::reject::{self, Mapped};
use wharf_sdk::status;
use wharf_sdk::types::{ConnectorError, Invoice, InvoiceKind, Order, OrderLine, OrderStatus, Receiver, RefundStatus};

use wharf_sdk::apportion::apportion;

pub const PLATFORM: &str = "jd";
/// JD POP orders are in yuan.
pub const CURRENCY: &str = "CNY";

/// The `orderInfo` fields searches and gets ask for (`optional_fields`): what the mapping
/// reads.
pub const ORDER_FIELDS: &str = "orderId,orderState,orderTotalPrice,freightPrice,orderPayment,balanceUsed,\
orderStartTime,paymentConfirmTime,modified,orderRemark,venderRemark,pin,open_id_buyer,\
consigneeInfo,itemInfoList,invoiceEasyInfo";

/// `orderState` → canonical status and the order's refund status: the one table to correct.
pub const ORDER_STATES: &[(&str, (OrderStatus, RefundStatus))] = &[
    ("WAIT_SELLER_STOCK_OUT", (OrderStatus::Paid, RefundStatus::None)),
    // UNSURE: cross-border orders waiting for domestic shipment.
    ("WAIT_SELLER_DELIVERY", (OrderStatus::Paid, RefundStatus::None)),
    // UNSURE: local-service (LOC) orders waiting for their code; paid, nothing shipped.
    ("WAIT_SEND_CODE", (OrderStatus::Paid, RefundStatus::None)),
    // Paused orders (LOC `PAUSE`, POP `POP_ORDER_PAUSE`) are paid and must not be shipped
    // while paused: held, never paid.
    ("PAUSE", (OrderStatus::Held, RefundStatus::None)),
    ("POP_ORDER_PAUSE", (OrderStatus::Held, RefundStatus::None)),
    // JD locks a paid order while the buyer asks to cancel it or for a refund (UNSURE: the
    // refund reading): held, so no warehouse ships it.
    ("LOCKED", (OrderStatus::Held, RefundStatus::Requested)),
    ("WAIT_GOODS_RECEIVE_CONFIRM", (OrderStatus::Shipped, RefundStatus::None)),
    ("FINISHED_L", (OrderStatus::Completed, RefundStatus::None)),
    ("TRADE_CANCELED", (OrderStatus::Cancelled, RefundStatus::None)),
];

/// `invoiceEasyInfo.invoiceType` → canonical kind; `"0"` is no invoice. UNSURE: JOS's codes
/// as integrators read them (1 普通, 2 增值税专用, 3 电子).
pub const INVOICE_KINDS: &[(&str, Option<InvoiceKind>)] = &[
    ("0", None),
    ("1", Some(InvoiceKind::Paper)),
    ("2", Some(InvoiceKind::VatSpecial)),
    ("3", Some(InvoiceKind::Electronic)),
];

/// The `consigneeInfo` field that names the real receiver, kept in `privacy_ref` under its own
/// name beside the ciphertexts. UNSURE: an OAID-like token (one per receiver) as TOP has, which
/// `jingdong.jos.order.oaid.decrypt` takes.
pub const PRIVACY_REF_FIELD: &str = "oaid";

/// What JD writes for a time that has not happened.
pub const UNSET_TIMES: &[&str] = &["0001-01-01 00:00:00", "1970-01-01 00:00:00"];

/// The `orderInfo` keys that hold receiver data, masked in a rejected order's excerpt.
pub const RECEIVER_KEYS: &[&str] = &["consigneeInfo", "fullname", "fullAddress", "mobile", "telephone"];

/// One listed `orderInfo`, mapped, or set aside with its `orderId` and a path inside the order
/// (an index into the page would change from one round to the next).
pub fn settle_order(info: &Node<'_>, shop_id: &str) -> Result<Mapped<Order>, ConnectorError> {
    let id = reject::record_id(info, "orderId");
    let mapped = map_order(&Node::root(info.value(), ""), shop_id);
    reject::settle(&id, Some(info.value()), mapped, RECEIVER_KEYS)
}

/// One `orderInfo` (at `info`'s path, which error fields start from) → the canonical order.
pub fn map_order(info: &Node<'_>, shop_id: &str) -> Result<Order, ConnectorError> {
    if !info.value().is_object() {
        return Err(info
            .error(format!("expected an orderInfo object, got {}", wharf_sdk::json::describe(Some(info.value()))))
            .into());
    }
    let order_id = info.id("orderId")?;
    let platform_status = info.str("orderState")?;
    let (status, refund_status) = status::lookup(ORDER_STATES, &platform_status, &info.path_of("orderState"))?;

    let goods_total = info.amount("orderTotalPrice")?;
    let shipping_fee = info.amount("freightPrice")?;
    let payment = info.amount("orderPayment")?;
    let balance = info.opt_amount("balanceUsed")?.unwrap_or(0);
    let overflow = |key: &str| info.error_at(key, "expected amounts whose sums fit 64-bit fen, got an overflow");
    let paid_total = payment.checked_add(balance).ok_or_else(|| overflow("balanceUsed"))?;
    let discount_total = goods_total
        .checked_add(shipping_fee)
        .and_then(|g| g.checked_sub(paid_total))
        .ok_or_else(|| overflow("orderPayment"))?;
    if discount_total < 0 {
        return Err(info
            .error_at(
                "orderPayment",
                format!(
                    "expected orderPayment + balanceUsed at most orderTotalPrice + freightPrice ({} fen), got {paid_total} fen",
                    goods_total + shipping_fee
                ),
            )
            .into());
    }

    Ok(Order {
        lines: map_lines(info, &order_id, goods_total, discount_total)?,
        order_id,
        platform: PLATFORM.to_owned(),
        currency: CURRENCY.to_owned(),
        shop_id: shop_id.to_owned(),
        platform_status,
        status,
        refund_status,
        created_at: info.shanghai_time("orderStartTime")?,
        updated_at: info.shanghai_time("modified")?,
        paid_at: happened_at(info, "paymentConfirmTime")?,
        buyer_nick: info.opt_str("pin")?,
        buyer_id: info.opt_str("open_id_buyer")?,
        seller_memo: info.opt_str("venderRemark")?,
        buyer_message: info.opt_str("orderRemark")?,
        invoice: info.opt_object("invoiceEasyInfo")?.map(|i| map_invoice(&i)).transpose()?.flatten(),
        goods_total,
        shipping_fee,
        discount_total,
        paid_total,
        receiver: info.opt_object("consigneeInfo")?.map(|c| map_receiver(&c)).transpose()?,
        erp_customer_code: None,
    })
}

/// An optional time that JD writes as one of [`UNSET_TIMES`] when it has not happened.
fn happened_at(info: &Node<'_>, key: &str) -> Result<Option<i64>, ConnectorError> {
    match info.raw(key).and_then(|v| v.as_str()) {
        Some(t) if UNSET_TIMES.contains(&t) => Ok(None),
        _ => Ok(info.opt_shanghai_time(key)?),
    }
}

/// `itemInfoList` → lines, with the order's discount spread over them.
fn map_lines(
    info: &Node<'_>,
    order_id: &str,
    goods_total: i64,
    discount_total: i64,
) -> Result<Vec<OrderLine>, ConnectorError> {
    let items = info.nonempty_array("itemInfoList")?;
    // (quantity, unit price, gross) of each item; the gross is what the discount is spread by.
    let mut amounts = Vec::with_capacity(items.len());
    for item in &items {
        let quantity = item.quantity("itemTotal")?;
        let unit_price = item.amount("jdPrice")?;
        let gross =
            unit_price.checked_mul(i64::from(quantity)).and_then(|g| u64::try_from(g).ok()).ok_or_else(|| {
                item.error_at(
                    "jdPrice",
                    format!(
                        "expected a non-negative price whose total fits 64-bit fen, got {unit_price} fen × {quantity}"
                    ),
                )
            })?;
        amounts.push((quantity, unit_price, gross));
    }
    let weights: Vec<u64> = amounts.iter().map(|&(_, _, gross)| gross).collect();
    // Shares never exceed their line's gross while the discount does not exceed the goods.
    let goods: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    // `orderTotalPrice` is the goods' price: the items must add up to it, or the lines and the
    // order's totals would disagree (and the discount spread over them would be wrong).
    if u128::try_from(goods_total).ok() != Some(goods) {
        return Err(info
            .error_at(
                "orderTotalPrice",
                format!(
                    "expected the items' jdPrice × itemTotal ({goods} fen) to add up to orderTotalPrice, \
                     got {goods_total} fen"
                ),
            )
            .into());
    }
    if u128::try_from(discount_total).unwrap_or(0) > goods {
        return Err(info
            .error_at(
                "orderPayment",
                format!(
                    "expected a discount (goods + freight − paid = {discount_total} fen) at most the items' jdPrice × itemTotal ({goods} fen)"
                ),
            )
            .into());
    }
    let shares = apportion(discount_total, &weights);
    let mut lines = Vec::with_capacity(items.len());
    for (n, ((item, (quantity, unit_price, gross)), discount)) in items.iter().zip(amounts).zip(shares).enumerate() {
        lines.push(OrderLine {
            line_id: format!("{order_id}-{}", n + 1),
            title: item.str("skuName")?,
            quantity,
            unit_price,
            discount,
            // The gross came from an i64, so it fits one.
            line_total: gross as i64 - discount,
            product_id: item.opt_id("wareId")?,
            sku_id: item.opt_id("skuId")?,
            outer_product_id: item.opt_str("productNo")?,
            outer_sku_id: item.opt_str("outerSkuId")?,
            sku_properties: None,
            batch_no: None,
            refund_status: RefundStatus::None,
        });
    }
    Ok(lines)
}

/// `consigneeInfo` → the receiver: what a person may see, and the ciphertexts in
/// `privacy_ref`.
fn map_receiver(c: &Node<'_>) -> Result<Receiver, ConnectorError> {
    let text = |key: &str| c.opt_str(key);
    let mut sealed = Sealed::new();
    sealed.seal(PRIVACY_REF_FIELD, text(PRIVACY_REF_FIELD)?);
    // The mobile number when there is one, else the landline.
    let phone = text("mobile")?.map_or_else(|| text("telephone"), |m| Ok(Some(m)))?;
    let mut r = Receiver {
        name: sealed.shown("name", text("fullname")?),
        phone: sealed.shown("phone", phone),
        province: sealed.shown("province", text("province")?),
        city: sealed.shown("city", text("city")?),
        district: sealed.shown("district", text("county")?),
        town: sealed.shown("town", text("town")?),
        address: sealed.shown("address", text("fullAddress")?),
        postcode: None,
        masked: false,
        privacy_ref: None,
    };
    privacy::settle(&mut r, &sealed);
    Ok(r)
}

/// `invoiceEasyInfo` → the invoice, or none for type `"0"` (or no type).
fn map_invoice(i: &Node<'_>) -> Result<Option<Invoice>, ConnectorError> {
    let Some(kind) = i.opt_id("invoiceType")? else {
        return Ok(None);
    };
    let Some(kind) = status::lookup(INVOICE_KINDS, &kind, &i.path_of("invoiceType"))? else {
        return Ok(None);
    };
    let (title, tax_id) = (i.opt_str("invoiceTitle")?, i.opt_str("invoiceCode")?);
    Ok(Some(Invoice { kind, title, tax_id, bank: None, account: None, address: None, phone: None }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A realistic `orderInfo`: an id beyond 2^53 as a bare number, a ciphertext consignee,
    /// balance payment, a VAT invoice, two lines sharing a discount.
    pub(crate) fn info() -> Value {
        serde_json::from_str(
            r#"{
              "orderId": 9007199254740993,
              "orderState": "WAIT_SELLER_STOCK_OUT",
              "orderTotalPrice": "300.00", "freightPrice": "10.00", "sellerDiscount": "20.01",
              "orderPayment": "200.00", "balanceUsed": "89.99",
              "orderStartTime": "2026-11-11 00:00:05", "paymentConfirmTime": "2026-11-11 00:01:00",
              "modified": "2026-11-11 00:02:00",
              "orderRemark": "请尽快发货", "venderRemark": "",
              "pin": "张***", "open_id_buyer": "buyer-000042",
              "consigneeInfo": {"fullname": "~a1b2~", "fullAddress": "~c3d4~", "mobile": "136*******5", "telephone": "",
                                "province": "广东省", "city": "深圳市", "county": "南山区", "town": "", "oaid": "OAID1"},
              "itemInfoList": [
                {"skuId": "10000104729", "outerSkuId": "SKU-0001-1", "wareId": "3500000000", "productNo": "SPU-0001",
                 "skuName": "T恤 颜色:红", "jdPrice": "100.00", "itemTotal": "2"},
                {"skuId": "10000209458", "outerSkuId": "", "wareId": "3500007919", "skuName": "杯子", "jdPrice": "50.00", "itemTotal": "2"}
              ],
              "invoiceEasyInfo": {"invoiceType": "2", "invoiceTitle": "某某有限公司", "invoiceCode": "91440300MA5F000001"}
            }"#,
        )
        .unwrap()
    }

    fn map(v: &Value) -> Result<Order, ConnectorError> {
        map_order(&Node::root(v, "orderInfo"), "s1")
    }

    #[test]
    fn maps_a_whole_order() {
        let o = map(&info()).unwrap();
        assert_eq!((o.platform.as_str(), o.shop_id.as_str(), o.order_id.as_str()), ("jd", "s1", "9007199254740993"));
        assert_eq!((o.status, o.refund_status), (OrderStatus::Paid, RefundStatus::None));
        assert_eq!(o.platform_status, "WAIT_SELLER_STOCK_OUT");
        assert_eq!((o.goods_total, o.shipping_fee, o.paid_total, o.discount_total), (30_000, 1_000, 28_999, 2_001));
        assert_eq!(o.goods_total + o.shipping_fee - o.discount_total, o.paid_total);
        assert_eq!(
            (o.created_at, o.paid_at, o.updated_at),
            (1_794_326_405_000, Some(1_794_326_460_000), 1_794_326_520_000)
        );
        assert_eq!(o.buyer_id.as_deref(), Some("buyer-000042"));
        assert_eq!(o.buyer_nick.as_deref(), Some("张***"));
        assert_eq!(o.buyer_message.as_deref(), Some("请尽快发货"));
        assert_eq!(o.seller_memo, None);
        let r = o.receiver.unwrap();
        // Ciphertexts are never shown: the name and address are withheld.
        assert_eq!((r.name.as_deref(), r.address.as_deref(), r.phone.as_deref()), (None, None, Some("136*******5")));
        assert_eq!(
            (r.province.as_deref(), r.district.as_deref(), r.town, r.postcode),
            (Some("广东省"), Some("南山区"), None, None)
        );
        assert!(r.masked);
        let reference: Value = serde_json::from_str(r.privacy_ref.as_deref().unwrap()).unwrap();
        assert_eq!(reference, json!({"name": "~a1b2~", "address": "~c3d4~", "oaid": "OAID1"}));
        let i = o.invoice.unwrap();
        assert_eq!(
            (i.kind, i.title.as_deref(), i.tax_id.as_deref()),
            (InvoiceKind::VatSpecial, Some("某某有限公司"), Some("91440300MA5F000001"))
        );

        let [a, b] = o.lines.as_slice() else { panic!("{:?}", o.lines) };
        assert_eq!((a.line_id.as_str(), b.line_id.as_str()), ("9007199254740993-1", "9007199254740993-2"));
        assert_eq!((a.product_id.as_deref(), a.sku_id.as_deref()), (Some("3500000000"), Some("10000104729")));
        assert_eq!(
            (a.outer_product_id.as_deref(), a.outer_sku_id.as_deref(), b.outer_sku_id.as_deref()),
            (Some("SPU-0001"), Some("SKU-0001-1"), None)
        );
        assert_eq!((a.quantity, a.unit_price, a.title.as_str()), (2, 10_000, "T恤 颜色:红"));
        // 2001 fen over 20000 : 10000 → 1334 (remainder 0.0…) and 667.
        assert_eq!((a.discount, b.discount), (1_334, 667));
        assert_eq!(a.line_total + b.line_total, o.goods_total - o.discount_total);
        assert_eq!(a.refund_status, RefundStatus::None);
    }

    #[test]
    fn states_unset_times_and_no_invoice() {
        let mut v = info();
        v["orderState"] = json!("LOCKED");
        v["paymentConfirmTime"] = json!("0001-01-01 00:00:00");
        v["invoiceEasyInfo"] = json!({"invoiceType": "0", "invoiceTitle": ""});
        v["orderId"] = json!("123");
        let o = map(&v).unwrap();
        assert_eq!(
            (o.status, o.refund_status, o.paid_at, o.invoice),
            (OrderStatus::Held, RefundStatus::Requested, None, None)
        );
        for paused in ["PAUSE", "POP_ORDER_PAUSE"] {
            v["orderState"] = json!(paused);
            let o = map(&v).unwrap();
            assert_eq!((o.status, o.platform_status.as_str()), (OrderStatus::Held, paused));
        }
        assert_eq!(o.order_id, "123");
        v["orderState"] = json!("TRADE_CANCELED");
        v.as_object_mut().unwrap().remove("paymentConfirmTime");
        v.as_object_mut().unwrap().remove("consigneeInfo");
        v.as_object_mut().unwrap().remove("balanceUsed");
        let o = map(&v).unwrap();
        assert_eq!((o.status, o.paid_at, o.receiver, o.paid_total), (OrderStatus::Cancelled, None, None, 20_000));
    }

    #[test]
    fn bad_fields_are_named() {
        for (edit, field) in [
            (json!({"orderPayment": "12.3.4"}), "orderInfo.orderPayment"),
            (json!({"orderState": "NEW_STATE"}), "orderInfo.orderState"),
            (json!({"orderId": 1.5}), "orderInfo.orderId"),
            (json!({"modified": "yesterday"}), "orderInfo.modified"),
            (json!({"invoiceEasyInfo": {"invoiceType": "9"}}), "orderInfo.invoiceEasyInfo.invoiceType"),
            // A wrongly typed object is an error, never "absent".
            (json!({"consigneeInfo": "abc"}), "orderInfo.consigneeInfo"),
            (json!({"invoiceEasyInfo": 12345}), "orderInfo.invoiceEasyInfo"),
            // What the model allows none of.
            (json!({"orderPayment": "-797.49"}), "orderInfo.orderPayment"),
            (json!({"orderPayment": "1e5"}), "orderInfo.orderPayment"),
            (json!({"orderPayment": 1e5}), "orderInfo.orderPayment"),
            (json!({"orderPayment": "400.00"}), "orderInfo.orderPayment"),
            (json!({"freightPrice": "-1.00"}), "orderInfo.freightPrice"),
            (json!({"itemInfoList": []}), "orderInfo.itemInfoList"),
            (json!({"itemInfoList": "x"}), "orderInfo.itemInfoList"),
            // Goods that do not add up to the order's goods price.
            (json!({"orderTotalPrice": "299.99"}), "orderInfo.orderTotalPrice"),
        ] {
            let mut v = info();
            for (k, val) in edit.as_object().unwrap() {
                v[k] = val.clone();
            }
            match map(&v) {
                Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, field, "{}", f.reason),
                other => panic!("{edit}: {other:?}"),
            }
        }
        for (key, bad) in [
            ("itemTotal", json!("two")),
            ("itemTotal", json!("0")),
            ("itemTotal", json!(-1)),
            ("jdPrice", json!("-50.00")),
        ] {
            let mut v = info();
            v["itemInfoList"][1][key] = bad.clone();
            match map(&v) {
                Err(ConnectorError::InvalidInput(f)) => {
                    assert_eq!(f.field, format!("orderInfo.itemInfoList[1].{key}"), "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        match map(&json!("x")) {
            Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, "orderInfo"),
            other => panic!("{other:?}"),
        }
    }
}
