//! ECShop orders, as the bridge hands them out, → canonical orders (pure; runs natively too).
//!
//! **Ids.** `order_id` is ECShop's `order_sn`: the unique order number buyers, the admin and
//! payment providers see (`2026112412345`), stable across database moves, whereas
//! `ecs_order_info.order_id` is an auto-increment of one database. Lines are `rec_id`;
//! `product_id` is the goods (`goods_id`); `sku_id` the product (货品, one attribute
//! combination: `ecs_products.product_id`) when the line has one. The merchant's codes:
//! `outer_product_id` is the goods' `goods_sn`, `outer_sku_id` the product's `product_sn`
//! when the line has a product, else the `goods_sn` (a goods without products is its own
//! SKU). ECShop's product codes are what its admin calls 货号 per combination, so these are the
//! codes stock pushes address.
//!
//! **Status.** ECShop keeps three columns; the first rule that matches wins:
//!
//! | order_status | shipping_status | pay_status | canonical |
//! |---|---|---|---|
//! | 2 cancelled | any | any | cancelled |
//! | 3 invalid | any | any | cancelled |
//! | 4 returned | any | any | closed, refund refunded (every line) |
//! | 0, 1, 5, 6 | 2 received | any | completed |
//! | 0, 1, 5, 6 | 1 shipped | any | shipped (cash on delivery ships unpaid) |
//! | 0, 1, 5, 6 | 4 partly shipped; 6 partly shipped (UNSURE) | any | partially_shipped |
//! | 0, 1, 5, 6 | 0 unshipped, 3 preparing; 5 shipping in progress (UNSURE) | 2 paid | paid |
//! | 0, 1, 5, 6 | 0, 3, 5 | 0 unpaid, 1 paying (UNSURE) | unpaid |
//!
//! (order_status 0 unconfirmed, 1 confirmed, 5 split, 6 partly split.) Cancelled and invalid
//! orders ended before anything shipped (`cancelled`); a returned one ended after its goods
//! left without completing (`closed`), as the canonical model's rules say. ECShop 2.7.3 defines
//! shipping_status 5 (`SS_SHIPPED_ING`, a delivery note made but not sent) and 6
//! (`OS_SHIPPED_PART`, a second "partly shipped"); where they fall is UNSURE. Any other code
//! is `invalid_input` naming the column. `platform_status` keeps all three:
//! `order_status=1;shipping_status=0;pay_status=2`. ECShop 2.7 has no refund requests, so
//! refunds are `refunded` (returned orders) or `none`.
//!
//! **Money.** ECShop's own identity (admin/order.php) is goods_amount + shipping_fee +
//! insure_fee + pay_fee + pack_fee + card_fee + tax − discount − bonus − integral_money =
//! money_paid + surplus + order_amount. So: `goods_total` = goods_amount; `shipping_fee` =
//! every charge on top of the goods (shipping, insurance, payment fee, packing, card, tax);
//! `discount_total` = discount + bonus (coupons) + integral_money (points spent as money);
//! `paid_total` = money_paid + surplus (the buyer's stored balance) + order_amount (still due:
//! an unpaid order's paid_total is what the buyer is to pay, as on the other platforms). Then
//! goods + shipping − discount = paid holds exactly whenever ECShop's does. ECShop discounts
//! whole orders; lines get shares of `discount_total` in proportion to their goods value
//! (largest remainder, [`wharf_sdk::apportion`]), so the lines add up to the order. No amount
//! may be negative, `goods_number` is at least 1, an order has at least one goods line, its
//! discounts may not exceed its goods, its goods lines add up to `goods_amount` and its columns
//! keep ECShop's identity: anything else is refused, naming the field (the identity is blamed
//! on `money_paid`, the goods on `goods_amount`). Ids are never negative.
//!
//! **The rest.** Times are Unix seconds (the bridge converts ECShop's storage). `paid_at` is
//! `pay_time` when set. The receiver is plaintext in ECShop (`masked` false): consignee, mobile
//! else tel, region names, address, zipcode; no town. `buyer_id` is `user_id` (0 is a guest:
//! none); ECShop has no buyer nick in the order. `buyer_message` is `postscript`. An invoice is
//! there when `inv_payee` or `inv_content` is: kind paper (ECShop 2.7 issues paper invoices;
//! `inv_type` holds the shop's own labels: UNSURE), title `inv_payee`. `goods_attr`
//! (`颜色:红[10] \n尺码:XL \n`) becomes `sku_properties` `颜色:红;尺码:XL`.

use wharf_sdk::apportion::apportion;
use wharf_sdk::json::Node;
use wharf_sdk::reject::{self, Mapped};
use wharf_sdk::status;
use wharf_sdk::time;
use wharf_sdk::types::{
    ConnectorError, FieldError, Invoice, InvoiceKind, Order, OrderLine, OrderStatus, Receiver, RefundStatus,
};

pub const PLATFORM: &str = "ecshop";
/// ECShop prices in yuan only.
pub const CURRENCY: &str = "CNY";

/// `ecs_order_info.order_status`, reduced to what decides the canonical status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    Open,
    Cancelled,
    Invalid,
    Returned,
}

const ORDER_STATUSES: &[(&str, Lifecycle)] = &[
    ("0", Lifecycle::Open),
    ("1", Lifecycle::Open),
    ("2", Lifecycle::Cancelled),
    ("3", Lifecycle::Invalid),
    ("4", Lifecycle::Returned),
    ("5", Lifecycle::Open),
    ("6", Lifecycle::Open),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shipping {
    Waiting,
    Partly,
    Sent,
    Received,
}

const SHIPPING_STATUSES: &[(&str, Shipping)] = &[
    ("0", Shipping::Waiting),
    ("1", Shipping::Sent),
    ("2", Shipping::Received),
    ("3", Shipping::Waiting),
    ("4", Shipping::Partly),
    ("5", Shipping::Waiting),
    ("6", Shipping::Partly),
];

const PAY_STATUSES: &[(&str, bool)] = &[("0", false), ("1", false), ("2", true)];

/// The canonical status and refund status of the three codes (the table in the module docs).
fn status_of(order: &Node) -> Result<(OrderStatus, RefundStatus, String), FieldError> {
    let code = |key: &str| -> Result<String, FieldError> { Ok(order.i64(key)?.to_string()) };
    let (o, s, p) = (code("order_status")?, code("shipping_status")?, code("pay_status")?);
    let lifecycle = status::lookup(ORDER_STATUSES, &o, &order.path_of("order_status"))?;
    let shipping = status::lookup(SHIPPING_STATUSES, &s, &order.path_of("shipping_status"))?;
    let paid = status::lookup(PAY_STATUSES, &p, &order.path_of("pay_status"))?;
    let (canonical, refund) = match (lifecycle, shipping, paid) {
        (Lifecycle::Cancelled, _, _) => (OrderStatus::Cancelled, RefundStatus::None),
        (Lifecycle::Invalid, _, _) => (OrderStatus::Cancelled, RefundStatus::None),
        (Lifecycle::Returned, _, _) => (OrderStatus::Closed, RefundStatus::Refunded),
        (Lifecycle::Open, Shipping::Received, _) => (OrderStatus::Completed, RefundStatus::None),
        (Lifecycle::Open, Shipping::Sent, _) => (OrderStatus::Shipped, RefundStatus::None),
        (Lifecycle::Open, Shipping::Partly, _) => (OrderStatus::PartiallyShipped, RefundStatus::None),
        (Lifecycle::Open, Shipping::Waiting, true) => (OrderStatus::Paid, RefundStatus::None),
        (Lifecycle::Open, Shipping::Waiting, false) => (OrderStatus::Unpaid, RefundStatus::None),
    };
    Ok((canonical, refund, format!("order_status={o};shipping_status={s};pay_status={p}")))
}

/// The status codes an order is moved to so that it maps back to a canonical status (an ERP
/// status that moves the order): the table above read backwards. `None` keeps the column as
/// it is: a move to `shipped` leaves `pay_status` alone (cash on delivery ships unpaid), one to
/// `cancelled` or `closed` (order_status 4, returned: closed after goods left) leaves shipping
/// and payment as they were (ECShop's admin refunds separately). Open orders get order_status
/// 1 (confirmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusMove {
    pub order_status: u8,
    pub shipping_status: Option<u8>,
    pub pay_status: Option<u8>,
}

/// See [`StatusMove`]; `status_of(codes_for(s))` is `s` again (tested for every status).
/// `None` for `held`: ECShop has no state that freezes a paid order.
pub fn codes_for(status: OrderStatus) -> Option<StatusMove> {
    let (order_status, shipping_status, pay_status) = match status {
        OrderStatus::Held => return None,
        OrderStatus::Unpaid => (1, Some(0), Some(0)),
        OrderStatus::Paid => (1, Some(0), Some(2)),
        OrderStatus::PartiallyShipped => (1, Some(4), None),
        OrderStatus::Shipped => (1, Some(1), None),
        OrderStatus::Completed => (1, Some(2), None),
        OrderStatus::Cancelled => (2, None, None),
        OrderStatus::Closed => (4, None, None),
    };
    Some(StatusMove { order_status, shipping_status, pay_status })
}

/// A Unix-seconds column as UTC ms; `None` for ECShop's 0 ("not yet").
fn instant(order: &Node, key: &str) -> Result<Option<i64>, FieldError> {
    match order.i64(key)? {
        0 => Ok(None),
        seconds if seconds < 0 => Err(order.error_at(key, format!("expected Unix seconds, got {seconds}"))),
        seconds => time::unix_seconds_to_ms(seconds).map(Some).map_err(|e| order.error_at(key, e.to_string())),
    }
}

fn required_instant(order: &Node, key: &str, what: &str) -> Result<i64, FieldError> {
    instant(order, key)?.ok_or_else(|| order.error_at(key, format!("expected {what} in Unix seconds, got 0")))
}

/// The sum of several yuan columns, in fen.
fn money_sum(order: &Node, keys: &[&str]) -> Result<i64, FieldError> {
    keys.iter().try_fold(0_i64, |sum, key| {
        sum.checked_add(order.amount(key)?)
            .ok_or_else(|| order.error_at(key, "expected amounts whose sum fits 64-bit fen, got an overflow"))
    })
}

/// `颜色:红[10] \n尺码:XL \n` (ECShop's `get_goods_attr_info()` text) → `颜色:红;尺码:XL`: one
/// attribute a line, a trailing `[price]` dropped.
pub fn sku_properties(goods_attr: &str) -> Option<String> {
    let attributes: Vec<&str> = goods_attr
        .lines()
        .map(str::trim)
        .map(|line| match (line.ends_with(']'), line.rfind('[')) {
            (true, Some(open)) => line[..open].trim_end(),
            _ => line,
        })
        .filter(|line| !line.is_empty())
        .collect();
    (!attributes.is_empty()).then(|| attributes.join(";"))
}

/// A positive id column as a string; 0 (ECShop's "none") is `None`. ECShop's ids are unsigned
/// auto-increments: a negative one is corrupt, and refused rather than read as "none".
fn nonzero_id(node: &Node, key: &str) -> Result<Option<String>, FieldError> {
    match node.i64(key)? {
        0 => Ok(None),
        id if id < 0 => Err(node.error_at(key, format!("expected an id of at least 0 (0 is none), got {id}"))),
        id => Ok(Some(id.to_string())),
    }
}

/// ECShop's plaintext receiver; `None` for orders without one (virtual goods).
fn receiver(order: &Node) -> Result<Option<Receiver>, FieldError> {
    let text = |key: &str| order.opt_str(key);
    // A mobile number first, the landline when the buyer gave only that.
    let phone = [text("mobile")?, text("tel")?].into_iter().flatten().next();
    let (name, address, postcode) = (text("consignee")?, text("address")?, text("zipcode")?);
    let (province, city, district) = (text("province_name")?, text("city_name")?, text("district_name")?);
    let any = [&name, &phone, &province, &city, &district, &address, &postcode].iter().any(|v| v.is_some());
    Ok(any.then_some(Receiver {
        name,
        phone,
        province,
        city,
        district,
        town: None,
        address,
        postcode,
        masked: false,
        privacy_ref: None,
    }))
}

fn invoice(order: &Node) -> Result<Option<Invoice>, FieldError> {
    let (payee, content) = (order.opt_str("inv_payee")?, order.opt_str("inv_content")?);
    if payee.is_none() && content.is_none() {
        return Ok(None);
    }
    Ok(Some(Invoice {
        kind: InvoiceKind::Paper,
        title: payee,
        tax_id: None,
        bank: None,
        account: None,
        address: None,
        phone: None,
    }))
}

/// A line before the order's discount is shared out: everything but `discount`/`line_total`.
fn line(goods: &Node, refund: RefundStatus) -> Result<OrderLine, FieldError> {
    let goods_sn = goods.opt_str("goods_sn")?;
    let product_sn = match nonzero_id(goods, "product_id")? {
        Some(_) => goods.opt_str("product_sn")?,
        None => None,
    };
    let quantity = goods.quantity("goods_number")?;
    let unit_price = goods.amount("goods_price")?;
    let gross = unit_price.checked_mul(i64::from(quantity)).ok_or_else(|| {
        goods.error_at("goods_price", "expected goods_price × goods_number to fit 64-bit fen, got an overflow")
    })?;
    Ok(OrderLine {
        line_id: goods.id("rec_id")?,
        product_id: nonzero_id(goods, "goods_id")?,
        sku_id: nonzero_id(goods, "product_id")?,
        outer_sku_id: product_sn.or_else(|| goods_sn.clone()),
        outer_product_id: goods_sn,
        title: goods.str("goods_name")?,
        sku_properties: goods.opt_str("goods_attr")?.as_deref().and_then(sku_properties),
        quantity,
        unit_price,
        discount: 0,
        line_total: gross,
        batch_no: None,
        refund_status: refund,
    })
}

/// The order keys that hold receiver data, masked in a rejected order's excerpt.
pub const RECEIVER_KEYS: &[&str] =
    &["consignee", "address", "tel", "mobile", "email", "zipcode", "best_time", "sign_building"];

/// One listed order, mapped, or set aside with its `order_sn` and a path inside the order
/// (an index into the page would change from one round to the next).
pub fn settle_order(order: &Node, shop_id: &str) -> Result<Mapped<Order>, ConnectorError> {
    let id = reject::record_id(order, "order_sn");
    reject::settle(&id, Some(order.value()), map_order(&Node::root(order.value(), ""), shop_id), RECEIVER_KEYS)
}

/// One order object of the bridge (`orders[i]` of a listing, `order` of a lookup).
pub fn map_order(order: &Node, shop_id: &str) -> Result<Order, ConnectorError> {
    let (status, refund, platform_status) = status_of(order)?;
    let goods_total = order.amount("goods_amount")?;
    let shipping_fee = money_sum(order, &["shipping_fee", "insure_fee", "pay_fee", "pack_fee", "card_fee", "tax"])?;
    let discount_total = money_sum(order, &["discount", "bonus", "integral_money"])?;
    let paid_total = money_sum(order, &["money_paid", "surplus", "order_amount"])?;

    let mut lines =
        order.nonempty_array("goods")?.iter().map(|goods| line(goods, refund)).collect::<Result<Vec<_>, _>>()?;
    // ECShop's identity: goods + charges − deductions = what was paid, with the balance, and is
    // still due. A row whose columns disagree cannot be trusted in any of them.
    let expected_paid = goods_total.checked_add(shipping_fee).and_then(|sum| sum.checked_sub(discount_total));
    if expected_paid != Some(paid_total) {
        return Err(order
            .error_at(
                "money_paid",
                format!(
                    "expected money_paid + surplus + order_amount ({paid_total} fen) to be goods_amount + \
                     shipping_fee + insure_fee + pay_fee + pack_fee + card_fee + tax − discount − bonus − \
                     integral_money ({goods_total} + {shipping_fee} − {discount_total} fen)"
                ),
            )
            .into());
    }
    let weights: Vec<u64> = lines.iter().map(|l| u64::try_from(l.line_total).unwrap_or(0)).collect();
    // A share never exceeds its line while the discount does not exceed the goods.
    let goods: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    // `goods_amount` is the goods' price: the lines must add up to it.
    if u128::try_from(goods_total).ok() != Some(goods) {
        return Err(order
            .error_at(
                "goods_amount",
                format!("expected the goods' goods_price × goods_number ({goods} fen), got {goods_total} fen"),
            )
            .into());
    }
    if u128::try_from(discount_total).unwrap_or(0) > goods {
        return Err(order
            .error_at(
                "discount",
                format!(
                    "expected discount + bonus + integral_money ({discount_total} fen) at most the goods' goods_price × goods_number ({goods} fen)"
                ),
            )
            .into());
    }
    for (line, share) in lines.iter_mut().zip(apportion(discount_total, &weights)) {
        line.discount = share;
        line.line_total -= share;
    }

    Ok(Order {
        platform: PLATFORM.to_owned(),
        shop_id: shop_id.to_owned(),
        order_id: order.id("order_sn")?,
        status,
        platform_status,
        refund_status: status::order_refund(lines.iter().map(|l| l.refund_status)),
        created_at: required_instant(order, "add_time", "the time the order was placed")?,
        paid_at: instant(order, "pay_time")?,
        updated_at: required_instant(order, "updated_at", "the order's change time")?,
        currency: CURRENCY.to_owned(),
        goods_total,
        shipping_fee,
        discount_total,
        paid_total,
        buyer_id: nonzero_id(order, "user_id")?,
        buyer_nick: None,
        buyer_message: order.opt_str("postscript")?,
        seller_memo: None,
        receiver: receiver(order)?,
        invoice: invoice(order)?,
        erp_customer_code: None,
        lines,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// An order as the bridge writes it: a product line with an attribute price, a plain
    /// goods line, fees and deductions over ECShop's columns.
    pub(crate) fn order_json() -> Value {
        serde_json::from_str(ORDER).expect("the fixture is JSON")
    }

    const ORDER: &str = r#"{
        "order_id": 1234, "order_sn": "2026112401234", "user_id": 42,
        "order_status": 1, "shipping_status": 0, "pay_status": 2,
        "country": 1, "province": 6, "city": 77, "district": 705,
        "add_time": 1795400000, "confirm_time": 1795400030, "pay_time": 1795400100, "shipping_time": 0,
        "goods_amount": "199.90", "shipping_fee": "8.00", "insure_fee": "1.00", "pay_fee": "0.00",
        "pack_fee": "0.00", "card_fee": "0.00", "tax": "0.50",
        "discount": "10.00", "bonus": "5.00", "integral_money": "0.33",
        "surplus": "10.00", "money_paid": "184.07", "order_amount": "0.00",
        "consignee": "张三", "address": "科技园路1号", "zipcode": "518000", "tel": "0755-88888888", "mobile": "13800138000",
        "postscript": "请尽快发货", "shipping_name": "申通快递", "pay_name": "支付宝",
        "inv_type": "普通发票", "inv_payee": "深圳市某某科技有限公司", "inv_content": "办公用品", "invoice_no": "",
        "province_name": "广东", "city_name": "深圳", "district_name": "南山区",
        "updated_at": 1795400200,
        "goods": [
            {"rec_id": 9001, "goods_id": 101, "product_id": 7, "goods_number": 2, "send_number": 0, "is_real": 1,
             "parent_id": 0, "is_gift": 0, "goods_price": "59.95", "market_price": "71.94",
             "goods_name": "纯棉T恤", "goods_sn": "SPU-0001", "goods_attr": "颜色:红[10] \n尺码:XL \n",
             "extension_code": "", "product_sn": "SKU-0001-1"},
            {"rec_id": 9002, "goods_id": 102, "product_id": 0, "goods_number": 1, "send_number": 0, "is_real": 1,
             "parent_id": 0, "is_gift": 0, "goods_price": "80.00", "market_price": "96.00",
             "goods_name": "帆布袋", "goods_sn": "SKU-0002-1", "goods_attr": "",
             "extension_code": "", "product_sn": null}
        ]
    }"#;

    fn map(value: &Value) -> Result<Order, ConnectorError> {
        map_order(&Node::root(value, "order"), "shop-1")
    }

    fn field_error(result: Result<Order, ConnectorError>) -> FieldError {
        match result {
            Err(ConnectorError::InvalidInput(f)) => f,
            other => panic!("expected invalid_input, got {other:?}"),
        }
    }

    fn with(edit: impl FnOnce(&mut Value)) -> Value {
        let mut v = order_json();
        edit(&mut v);
        v
    }

    #[test]
    fn maps_a_full_order() {
        let order = map(&order_json()).unwrap();
        assert_eq!(
            (order.platform.as_str(), order.shop_id.as_str(), order.order_id.as_str()),
            ("ecshop", "shop-1", "2026112401234")
        );
        assert_eq!(order.status, OrderStatus::Paid);
        assert_eq!(order.platform_status, "order_status=1;shipping_status=0;pay_status=2");
        assert_eq!(order.refund_status, RefundStatus::None);
        assert_eq!(order.created_at, 1_795_400_000_000);
        assert_eq!(order.paid_at, Some(1_795_400_100_000));
        assert_eq!(order.updated_at, 1_795_400_200_000);
        assert_eq!(order.currency, "CNY");
        assert_eq!(order.goods_total, 19_990);
        assert_eq!(order.shipping_fee, 800 + 100 + 50);
        assert_eq!(order.discount_total, 1_000 + 500 + 33);
        assert_eq!(order.paid_total, 18_407 + 1_000);
        assert_eq!(
            order.goods_total + order.shipping_fee - order.discount_total,
            order.paid_total,
            "ECShop's identity carries over"
        );
        assert_eq!(order.buyer_id.as_deref(), Some("42"));
        assert_eq!((order.buyer_nick.as_deref(), order.seller_memo.as_deref()), (None, None));
        assert_eq!(order.buyer_message.as_deref(), Some("请尽快发货"));

        let r = order.receiver.unwrap();
        assert_eq!((r.name.as_deref(), r.phone.as_deref()), (Some("张三"), Some("13800138000")));
        assert_eq!(
            (r.province.as_deref(), r.city.as_deref(), r.district.as_deref()),
            (Some("广东"), Some("深圳"), Some("南山区"))
        );
        assert_eq!(
            (r.town.as_deref(), r.address.as_deref(), r.postcode.as_deref()),
            (None, Some("科技园路1号"), Some("518000"))
        );
        assert!(!r.masked && r.privacy_ref.is_none());

        let invoice = order.invoice.unwrap();
        assert_eq!((invoice.kind, invoice.title.as_deref()), (InvoiceKind::Paper, Some("深圳市某某科技有限公司")));

        let [first, second] = order.lines.as_slice() else { panic!("two lines") };
        assert_eq!(first.line_id, "9001");
        assert_eq!((first.product_id.as_deref(), first.sku_id.as_deref()), (Some("101"), Some("7")));
        assert_eq!(
            (first.outer_product_id.as_deref(), first.outer_sku_id.as_deref()),
            (Some("SPU-0001"), Some("SKU-0001-1"))
        );
        assert_eq!(first.title, "纯棉T恤");
        assert_eq!(first.sku_properties.as_deref(), Some("颜色:红;尺码:XL"));
        assert_eq!((first.quantity, first.unit_price), (2, 5_995));
        assert_eq!((second.product_id.as_deref(), second.sku_id.as_deref()), (Some("102"), None));
        assert_eq!(
            (second.outer_product_id.as_deref(), second.outer_sku_id.as_deref()),
            (Some("SKU-0002-1"), Some("SKU-0002-1"))
        );
        assert_eq!(second.sku_properties, None);
        // 1533 fen over 11990 : 8000 → 919.49 : 613.51 → 919 : 614 (the larger remainder).
        assert_eq!((first.discount, second.discount), (919, 614));
        assert_eq!((first.line_total, second.line_total), (11_990 - 919, 8_000 - 614));
        assert_eq!(order.lines.iter().map(|l| l.line_total).sum::<i64>(), order.goods_total - order.discount_total);
        assert!(order.lines.iter().all(|l| l.refund_status == RefundStatus::None && l.batch_no.is_none()));
    }

    #[test]
    fn every_status_row() {
        use OrderStatus::*;
        let cases = [
            ((2, 1, 2), Cancelled, RefundStatus::None),
            ((3, 0, 0), Cancelled, RefundStatus::None),
            ((4, 0, 0), Closed, RefundStatus::Refunded),
            ((5, 2, 2), Completed, RefundStatus::None),
            ((1, 1, 0), Shipped, RefundStatus::None),
            ((6, 4, 2), PartiallyShipped, RefundStatus::None),
            ((1, 6, 2), PartiallyShipped, RefundStatus::None),
            ((0, 3, 2), Paid, RefundStatus::None),
            ((1, 5, 2), Paid, RefundStatus::None),
            ((1, 0, 1), Unpaid, RefundStatus::None),
            ((0, 0, 0), Unpaid, RefundStatus::None),
        ];
        for ((o, s, p), status, refund) in cases {
            let order = map(&with(|v| {
                v["order_status"] = json!(o);
                v["shipping_status"] = json!(s);
                v["pay_status"] = json!(p);
            }))
            .unwrap();
            assert_eq!((order.status, order.refund_status), (status, refund), "{o} {s} {p}");
            assert!(order.lines.iter().all(|l| l.refund_status == refund));
            assert_eq!(order.platform_status, format!("order_status={o};shipping_status={s};pay_status={p}"));
        }
        for (key, bad) in [("order_status", 7), ("shipping_status", 9), ("pay_status", 3)] {
            let err = field_error(map(&with(|v| v[key] = json!(bad))));
            assert_eq!(err.field, format!("order.{key}"));
            assert!(err.reason.contains(&format!("got \"{bad}\"")), "{}", err.reason);
        }
    }

    #[test]
    fn fallbacks_and_absences() {
        let order = map(&with(|v| {
            v["mobile"] = json!("");
            v["user_id"] = json!(0);
            v["pay_time"] = json!(0);
            v["inv_payee"] = json!("");
            v["inv_content"] = json!("");
            v["postscript"] = json!("");
            v["province_name"] = Value::Null;
        }))
        .unwrap();
        let r = order.receiver.as_ref().unwrap();
        assert_eq!(r.phone.as_deref(), Some("0755-88888888"));
        assert_eq!(r.province, None);
        assert_eq!((order.buyer_id, order.paid_at, order.invoice, order.buyer_message), (None, None, None, None));

        let personal = map(&with(|v| v["inv_payee"] = json!(""))).unwrap().invoice.unwrap();
        assert_eq!(personal.title, None, "an invoice without a title is still an invoice");

        let virtual_goods = map(&with(|v| {
            for key in ["consignee", "address", "zipcode", "tel", "mobile"] {
                v[key] = json!("");
            }
            for key in ["province_name", "city_name", "district_name"] {
                v[key] = Value::Null;
            }
        }))
        .unwrap();
        assert_eq!(virtual_goods.receiver, None);
    }

    #[test]
    fn a_gift_line_takes_no_share_of_the_discount() {
        let order = map(&with(|v| {
            v["goods"][1]["goods_price"] = json!("0.00");
            v["goods"][1]["is_gift"] = json!(1);
            v["goods_amount"] = json!("119.90");
            v["money_paid"] = json!("104.07");
        }))
        .unwrap();
        assert_eq!((order.lines[0].discount, order.lines[1].discount), (1_533, 0));
    }

    #[test]
    fn sku_property_texts() {
        assert_eq!(sku_properties("颜色:红[10] \n尺码:XL \n").as_deref(), Some("颜色:红;尺码:XL"));
        assert_eq!(sku_properties("颜色:红 \r\n尺码:XL[-2.5]\r\n").as_deref(), Some("颜色:红;尺码:XL"));
        assert_eq!(sku_properties("规格:[套装]").as_deref(), Some("规格:"));
        assert_eq!(sku_properties(" \n "), None);
        assert_eq!(sku_properties("").as_deref(), None);
    }

    #[test]
    fn bad_fields_name_their_path() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Edit, &str, &str)> = vec![
            (Box::new(|v| v["goods_amount"] = json!("abc")), "order.goods_amount", "\"abc\""),
            (Box::new(|v| v["tax"] = json!("0.001")), "order.tax", "decimals"),
            (Box::new(|v| v["order_status"] = json!("x")), "order.order_status", "integer"),
            (Box::new(|v| v["add_time"] = json!(0)), "order.add_time", "placed"),
            (Box::new(|v| v["updated_at"] = json!(-5)), "order.updated_at", "Unix seconds"),
            (Box::new(|v| v["order_sn"] = json!("")), "order.order_sn", "id"),
            (Box::new(|v| v["goods"][1]["goods_price"] = json!([])), "order.goods[1].goods_price", "array"),
            (Box::new(|v| v["goods"][0]["goods_number"] = json!(-1)), "order.goods[0].goods_number", "non-negative"),
            (Box::new(|v| v["goods"] = json!({})), "order.goods", "expected an array"),
            (Box::new(|v| v.as_object_mut().unwrap().retain(|k, _| k != "goods")), "order.goods", "absent"),
            (Box::new(|v| v["consignee"] = json!(7)), "order.consignee", "expected a string"),
            (Box::new(|v| v["money_paid"] = json!("-184.07")), "order.money_paid", "at least 0"),
            (Box::new(|v| v["money_paid"] = json!("1e5")), "order.money_paid", "'e'"),
            (Box::new(|v| v["goods"][0]["goods_number"] = json!(0)), "order.goods[0].goods_number", "at least 1"),
            (Box::new(|v| v["goods"] = json!([])), "order.goods", "at least one"),
            (
                // Deductions beyond the goods (paid for by a large shipping fee).
                Box::new(|v| {
                    v["bonus"] = json!("500.00");
                    v["shipping_fee"] = json!("400.00");
                    v["money_paid"] = json!("81.07");
                }),
                "order.discount",
                "at most",
            ),
            (Box::new(|v| v["bonus"] = json!("6.00")), "order.money_paid", "goods_amount + shipping_fee"),
            (Box::new(|v| v["goods_amount"] = json!("200.00")), "order.money_paid", "goods_amount + shipping_fee"),
            (
                Box::new(|v| {
                    v["goods"][1]["goods_price"] = json!("80.10");
                }),
                "order.goods_amount",
                "goods_price × goods_number",
            ),
            (Box::new(|v| v["goods"][0]["goods_id"] = json!(-101)), "order.goods[0].goods_id", "at least 0"),
        ];
        for (edit, field, reason) in cases {
            let err = field_error(map(&with(edit)));
            assert_eq!(err.field, field);
            assert!(err.reason.contains(reason), "{field}: {}", err.reason);
        }
    }

    #[test]
    fn moves_map_back_to_their_status_whatever_the_kept_columns_hold() {
        use OrderStatus::*;
        for status in [Unpaid, Paid, PartiallyShipped, Shipped, Completed, Cancelled, Closed] {
            let to = codes_for(status).unwrap();
            for (kept_shipping, kept_pay) in [(0, 0), (1, 2), (3, 1)] {
                let order = json!({
                    "order_status": to.order_status,
                    "shipping_status": to.shipping_status.unwrap_or(kept_shipping),
                    "pay_status": to.pay_status.unwrap_or(kept_pay),
                });
                let (mapped, _, _) = status_of(&Node::root(&order, "order")).unwrap();
                assert_eq!(mapped, status, "{order}");
            }
        }
    }
}
