//! 抖店 shop orders → canonical orders. Pure: no host calls, so the same code runs natively
//! (tests) and inside the wasm plugin.
//!
//! A shop order (`order.searchList`'s `shop_order_list[]`, `order.orderDetail`'s
//! `shop_order_detail`) carries its SKU lines in `sku_order_list[]`. Ids arrive as strings
//! or numbers and are kept as text; amounts are integers in fen; times Unix seconds.
//!
//! - `order_id` = the parent `order_id`; `platform_status` = `order_status` as sent (`"105"`),
//!   or, when `main_status` is present and says more (`103`, `21`…), both:
//!   `order_status=4;main_status=21`.
//! - `status` from `order_status` ([`ORDER_STATUSES`]); `main_status` 21 (refunded in full
//!   before shipping) makes it `cancelled`, 22 / 39 (after shipping / after receipt) `closed`
//!   ([`MAIN_STATUSES`]). Unknown codes in either are errors.
//! - Money (integers in fen, never negative): `goods_total` = Σ of the lines' `origin_amount ×
//!   item_num`; `shipping_fee` = `post_amount`; `paid_total` = `pay_amount`; `discount_total`
//!   = goods + shipping − paid, so goods + shipping − discount = paid always holds (what 抖店
//!   calls `promotion_amount` plus any other reduction). A payment above goods + shipping, or
//!   one that is not the lines' `pay_amount` plus `post_amount`, is refused (`pay_amount`).
//!   `order_amount` is not read: it equals `pay_amount` but for deposit pre-sales, where
//!   `pay_amount` is what was really paid.
//! - Times: `created_at` = `create_time`, `paid_at` = `pay_time` (0 or absent: none),
//!   `updated_at` = `update_time` (neither may be 0); negative seconds are refused.
//! - Buyer: `buyer_id` = `doudian_open_id`; 抖店 shows no nick; `buyer_message` =
//!   `buyer_words`, `seller_memo` = `seller_words`. No invoice in the order.
//! - Receiver: only what a person may see, the masked display values (`mask_post_receiver`,
//!   `mask_post_tel`, `mask_post_addr` with `province`, `city`, `town` → district, `street` →
//!   town, `detail` → address; `post_addr` where the mask lacks a region), never a ciphertext;
//!   no postcode; `privacy_ref` = the ciphertexts, labelled ([`PRIVACY_REF_FIELDS`], JSON text
//!   by [`wharf_sdk::privacy`]); `masked` when there is one or a value looks masked.
//! - Lines: `line_id` = the child `order_id`; `product_id`, `sku_id`; `outer_product_id` =
//!   `out_product_id`; `outer_sku_id` = `out_sku_id`, else the merchant `code`; `title` =
//!   `product_name`; `sku_properties` = `spec[]` as `name:value` joined by `;`; `quantity` =
//!   `item_num` (at least 1). Money as the official SDK's field comments say: `origin_amount`
//!   is 商品现价, the **unit** price, so `unit_price` = `origin_amount`; `sum_amount` =
//!   `origin_amount × item_num` (checked when sent); `line_total` = the line's `pay_amount`,
//!   what the buyer paid for it; `discount` = `sum_amount − pay_amount` (≥ 0). A line whose
//!   figures disagree is an error naming its field (`sku_order_list[1].sum_amount`): one
//!   rejected order, never a failed page.
//!   `refund_status` from `after_sale_info.refund_status` ([`REFUND_STATUSES`]).

use serde_json::Value;
use wharf_sdk::error::field_error;
use wharf_sdk::json::{self, Node};
use wharf_sdk::privacy::{self, Sealed};
use wharf_sdk::reject::{self, Mapped};
use wharf_sdk::status::{self, lookup};
use wharf_sdk::types::{ConnectorError, FieldError, Order, OrderLine, OrderStatus, Receiver, RefundStatus};

pub const PLATFORM: &str = "douyin";
/// 抖店 sells in yuan.
pub const CURRENCY: &str = "CNY";

/// `order_status` → canonical status (platforms.md).
pub const ORDER_STATUSES: &[(&str, OrderStatus)] = &[
    ("1", OrderStatus::Unpaid),
    ("105", OrderStatus::Paid),
    ("2", OrderStatus::Paid),
    ("101", OrderStatus::PartiallyShipped),
    ("3", OrderStatus::Shipped),
    ("4", OrderStatus::Cancelled),
    ("5", OrderStatus::Completed),
];

/// `main_status`: `Some` overrides the status of `order_status`; `None` leaves it. 103 (a
/// deposit paid, the rest not) is still unpaid, as `order_status` 1 says. A full refund before
/// shipping (21) ended the order before anything shipped: cancelled; after shipping (22) or
/// after receipt (39) it ended after goods left without completing: closed.
pub const MAIN_STATUSES: &[(&str, Option<OrderStatus>)] = &[
    ("1", None),
    ("103", None),
    ("105", None),
    ("2", None),
    ("101", None),
    ("3", None),
    ("4", None),
    ("5", None),
    ("21", Some(OrderStatus::Cancelled)),
    ("22", Some(OrderStatus::Closed)),
    ("39", Some(OrderStatus::Closed)),
];

/// A line's `after_sale_info.refund_status` → refund status. UNSURE (the codes as 抖店's
/// order docs list them: 0 none, 1 awaiting refund, 2 refunding, 3 refunded, 4 refund
/// failed), kept here alone so it is easy to correct. No `after_sale_info` means none.
pub const REFUND_STATUSES: &[(&str, RefundStatus)] = &[
    ("0", RefundStatus::None),
    ("1", RefundStatus::Requested),
    ("2", RefundStatus::Requested),
    ("3", RefundStatus::Refunded),
    ("4", RefundStatus::None),
];

/// What `privacy_ref` holds: these ciphertexts, each under its label, as JSON text
/// (`{"address":…,"name":…,"phone":…}`); together they are what 抖店's decrypt and waybill
/// APIs take. None of them is plaintext.
pub const PRIVACY_REF_FIELDS: [(&str, &[&str]); 3] = [
    ("name", &["encrypt_post_receiver"]),
    ("phone", &["encrypt_post_tel"]),
    ("address", &["post_addr", "encrypt_detail"]),
];

/// A time that has happened, as UTC ms: Unix seconds, never before 1970, and not 0 (抖店's
/// "not yet", which a creation or update time cannot be).
fn seconds(n: &Node<'_>, key: &str) -> Result<i64, FieldError> {
    opt_seconds(n, key)?.ok_or_else(|| {
        let got = json::describe(n.value().get(key));
        n.error_at(key, format!("expected Unix seconds of a time that happened, got {got}"))
    })
}

/// An optional time: absent, null, "" and 0 (抖店's "not yet") are none.
fn opt_seconds(n: &Node<'_>, key: &str) -> Result<Option<i64>, FieldError> {
    if !n.has(key) {
        n.get(key)?;
        return Ok(None);
    }
    match n.unix_seconds(key)? {
        0 => Ok(None),
        ms => Ok(Some(ms)),
    }
}

/// An amount in fen: a JSON integer or a string of digits, never negative, never a float.
fn fen(n: &Node<'_>, key: &str) -> Result<i64, FieldError> {
    n.fen(key).map_err(|e| field_error(e.field, format!("{} (抖店 amounts are integers in fen)", e.reason)))
}

fn overflow(n: &Node<'_>, key: &str, what: &str) -> FieldError {
    n.error_at(key, format!("expected {what} to fit 64-bit fen, got an overflow"))
}

/// A `{code}` status field as text, looked up in `table`.
fn status_of<T: Copy>(n: &Node<'_>, key: &str, table: &[(&str, T)]) -> Result<T, FieldError> {
    lookup(table, &n.id(key)?, &n.path_of(key))
}

/// One shop order → the canonical order. `path` names it in errors
/// (`data.shop_order_list[3]`).
/// The shop order keys that hold receiver data, masked in a rejected order's excerpt (the
/// `mask_*` keys are 抖店's own masked values and stay).
pub const RECEIVER_KEYS: &[&str] =
    &["encrypt_post_tel", "encrypt_post_receiver", "post_addr", "post_tel", "post_receiver"];

/// One listed shop order, mapped, or set aside with its `order_id` and a path inside the order
/// (an index into the page would change from one round to the next).
pub fn settle_shop_order(order: &Node<'_>, shop_id: &str) -> Result<Mapped<Order>, ConnectorError> {
    let id = reject::record_id(order, "order_id");
    reject::settle(&id, Some(order.value()), map_shop_order(order.value(), "", shop_id), RECEIVER_KEYS)
}

pub fn map_shop_order(order: &Value, path: &str, shop_id: &str) -> Result<Order, ConnectorError> {
    let o = Node::root(order, path);
    if !order.is_object() {
        return Err(o.error(format!("expected a shop order object, got {}", json::describe(Some(order)))).into());
    }
    let order_id = o.id("order_id")?;
    let order_status = o.id("order_status")?;
    let mut status = lookup(ORDER_STATUSES, &order_status, &o.path_of("order_status"))?;
    let mut platform_status = order_status.clone();
    if o.has("main_status") {
        if let Some(overridden) = status_of(&o, "main_status", MAIN_STATUSES)? {
            status = overridden;
        }
        let main_status = o.id("main_status")?;
        if main_status != order_status {
            platform_status = format!("order_status={order_status};main_status={main_status}");
        }
    }

    let lines = o.nonempty_array("sku_order_list")?.iter().map(map_line).collect::<Result<Vec<_>, _>>()?;
    // unit_price × quantity fits (checked in map_line); their sum may not.
    let goods_total = lines
        .iter()
        .try_fold(0_i64, |sum, l| sum.checked_add(l.unit_price * i64::from(l.quantity)))
        .ok_or_else(|| overflow(&o, "sku_order_list", "the sum of origin_amount × item_num"))?;
    let shipping_fee = fen(&o, "post_amount")?;
    let paid_total = fen(&o, "pay_amount")?;
    let charged = goods_total
        .checked_add(shipping_fee)
        .ok_or_else(|| overflow(&o, "pay_amount", "goods + post_amount − pay_amount"))?;
    // No discount is negative: the buyer cannot have paid more than goods and shipping.
    if paid_total > charged {
        return Err(o
            .error_at(
                "pay_amount",
                format!(
                    "expected at most the goods' origin_amount × item_num plus post_amount ({charged} fen), \
                     got {paid_total}"
                ),
            )
            .into());
    }
    let discount_total = charged - paid_total;
    // UNSURE (the official SDK's field comments, and the simulator): the order's payment is its
    // lines' payments plus shipping; an order whose figures disagree cannot be trusted in any.
    let lines_paid = lines
        .iter()
        .try_fold(shipping_fee, |sum, l| sum.checked_add(l.line_total))
        .ok_or_else(|| overflow(&o, "sku_order_list", "the sum of the lines' pay_amount"))?;
    if lines_paid != paid_total {
        return Err(o
            .error_at(
                "pay_amount",
                format!("expected the lines' pay_amount plus post_amount ({lines_paid} fen), got {paid_total}"),
            )
            .into());
    }

    Ok(Order {
        platform: PLATFORM.to_owned(),
        shop_id: shop_id.to_owned(),
        order_id,
        status,
        platform_status,
        refund_status: status::order_refund(lines.iter().map(|l| l.refund_status)),
        created_at: seconds(&o, "create_time")?,
        paid_at: opt_seconds(&o, "pay_time")?,
        updated_at: seconds(&o, "update_time")?,
        currency: CURRENCY.to_owned(),
        goods_total,
        shipping_fee,
        discount_total,
        paid_total,
        buyer_id: o.opt_id("doudian_open_id")?,
        buyer_nick: None,
        buyer_message: o.opt_str("buyer_words")?,
        seller_memo: o.opt_str("seller_words")?,
        receiver: map_receiver(&o)?,
        invoice: None,
        erp_customer_code: None,
        lines,
    })
}

/// `name:value` pairs of `spec[]` joined by `;`; none when there is no spec.
fn sku_properties(l: &Node<'_>) -> Result<Option<String>, FieldError> {
    let Some(spec) = l.opt_array("spec")? else {
        return Ok(None);
    };
    let mut pairs = Vec::new();
    for s in spec.elements()? {
        pairs.push(format!("{}:{}", s.str("name")?, s.str("value")?));
    }
    Ok((!pairs.is_empty()).then(|| pairs.join(";")))
}

/// One `sku_order_list[i]` → an order line. `origin_amount` is the unit price; `sum_amount`,
/// when sent, must be it × `item_num`; `pay_amount` (the line's payment) cannot exceed that.
fn map_line(l: &Node<'_>) -> Result<OrderLine, FieldError> {
    let quantity = l.quantity("item_num")?;
    let unit_price = fen(l, "origin_amount")?;
    let gross = unit_price
        .checked_mul(i64::from(quantity))
        .ok_or_else(|| overflow(l, "origin_amount", "origin_amount × item_num"))?;
    if let Some(sum) = fen_opt(l, "sum_amount")?
        && sum != gross
    {
        return Err(l.error_at(
            "sum_amount",
            format!("expected origin_amount × item_num = {unit_price} × {quantity} = {gross} fen, got {sum}"),
        ));
    }
    let line_total = fen(l, "pay_amount")?;
    if line_total > gross {
        return Err(l.error_at(
            "pay_amount",
            format!("expected at most sum_amount (origin_amount × item_num = {gross} fen), got {line_total}"),
        ));
    }
    let refund_status = match l.opt_object("after_sale_info")? {
        Some(after_sale) if after_sale.has("refund_status") => {
            status_of(&after_sale, "refund_status", REFUND_STATUSES)?
        }
        _ => RefundStatus::None,
    };
    Ok(OrderLine {
        line_id: l.id("order_id")?,
        product_id: l.opt_id("product_id")?,
        sku_id: l.opt_id("sku_id")?,
        outer_product_id: l.opt_id("out_product_id")?,
        outer_sku_id: match l.opt_id("out_sku_id")? {
            Some(id) => Some(id),
            None => l.opt_id("code")?,
        },
        title: l.str("product_name")?,
        sku_properties: sku_properties(l)?,
        quantity,
        unit_price,
        discount: gross - line_total,
        line_total,
        batch_no: None,
        refund_status,
    })
}

/// An optional amount in fen (see [`fen`]).
fn fen_opt(n: &Node<'_>, key: &str) -> Result<Option<i64>, FieldError> {
    n.opt_fen(key).map_err(|e| field_error(e.field, format!("{} (抖店 amounts are integers in fen)", e.reason)))
}

/// The text at `path` below `o` (objects along the way, which must be objects), if any.
fn text_at(o: &Node<'_>, path: &[&str]) -> Result<Option<String>, FieldError> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(None);
    };
    let mut node = o.clone();
    for key in parents {
        match node.opt_object(key)? {
            Some(child) => node = child,
            None => return Ok(None),
        }
    }
    node.opt_str(last)
}

/// A region's name from the masked address, else the plain one.
fn region(o: &Node<'_>, key: &str) -> Result<Option<String>, FieldError> {
    match text_at(o, &["mask_post_addr", key, "name"])? {
        Some(name) => Ok(Some(name)),
        None => text_at(o, &["post_addr", key, "name"]),
    }
}

/// The receiver, or none when the order carries neither display values nor ciphertexts.
fn map_receiver(o: &Node<'_>) -> Result<Option<Receiver>, FieldError> {
    let mut sealed = Sealed::new();
    for (label, path) in PRIVACY_REF_FIELDS {
        sealed.seal(label, text_at(o, path)?);
    }
    let address = match text_at(o, &["mask_post_addr", "detail"])? {
        Some(detail) => Some(detail),
        None => text_at(o, &["post_addr", "detail"])?,
    };
    let mut receiver = Receiver {
        name: sealed.shown("name", o.opt_str("mask_post_receiver")?),
        phone: sealed.shown("phone", o.opt_str("mask_post_tel")?),
        province: sealed.shown("province", region(o, "province")?),
        city: sealed.shown("city", region(o, "city")?),
        district: sealed.shown("district", region(o, "town")?),
        town: sealed.shown("town", region(o, "street")?),
        address: sealed.shown("address", address),
        postcode: None,
        masked: false,
        privacy_ref: None,
    };
    let shown = [
        &receiver.name,
        &receiver.phone,
        &receiver.province,
        &receiver.city,
        &receiver.district,
        &receiver.town,
        &receiver.address,
    ];
    if sealed.is_empty() && shown.iter().all(|v| v.is_none()) {
        return Ok(None);
    }
    privacy::settle(&mut receiver, &sealed);
    Ok(Some(receiver))
}

#[cfg(test)]
mod tests;
