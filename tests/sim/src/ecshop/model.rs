//! How the simulator lays a [`Shop`] out in ECShop's tables, and the canonical orders Wharf must
//! make of them.
//!
//! The layout exercises what a real ECShop shop holds:
//! - even-numbered catalog products become one `ecs_goods` row with one `ecs_products` row (货品)
//!   per SKU, whose `product_sn` is the SKU code; odd-numbered ones become one goods per SKU, whose
//!   `goods_sn` is the SKU code;
//! - every lifecycle stage in ECShop's three status columns, with the variants ECShop uses for
//!   it (unconfirmed or confirmed, paying, preparing, split, invalid, returned);
//! - fees and deductions spread over ECShop's columns (`insure_fee`, `tax`, `bonus`,
//!   `integral_money`, `surplus`) so that only the sums add up, as they do in ECShop;
//! - guests (user 0), landline-only receivers, invoices, attribute texts with and without prices.
//!
//! Which variant an order gets depends on its number only, so a seed always gives the same shop.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::harness::{rfc3339, strip_nulls};
use crate::shop::{AfterSale, AfterSaleKind, AfterSaleLine, AfterSaleStatus, Order, Refund, Shop, Stage};

use super::php::Statement;

pub const PLATFORM: &str = "ecshop";
const COUNTRY_ID: i64 = 1;
const COUNTRY: &str = "中国";
const FIRST_GOODS_ID: u64 = 101;
const FIRST_PRODUCT_ID: u64 = 1;
/// ECShop writes Chinese calendar dates into order numbers (`get_order_sn()`: `date('Ymd')`).
const SHANGHAI_OFFSET_SECS: i64 = 8 * 3600;
/// Who ECShop's admin logs as acting, for the seeded action rows.
const SEED_ACTION_USER: &str = "admin";

/// ECShop's status codes (includes/inc_constant.php).
pub mod code {
    pub const OS_UNCONFIRMED: u8 = 0;
    pub const OS_CONFIRMED: u8 = 1;
    pub const OS_CANCELED: u8 = 2;
    pub const OS_INVALID: u8 = 3;
    pub const OS_RETURNED: u8 = 4;
    pub const OS_SPLITED: u8 = 5;
    pub const OS_SPLITING_PART: u8 = 6;
    pub const SS_UNSHIPPED: u8 = 0;
    pub const SS_SHIPPED: u8 = 1;
    pub const SS_RECEIVED: u8 = 2;
    pub const SS_PREPARING: u8 = 3;
    pub const SS_SHIPPED_PART: u8 = 4;
    pub const PS_UNPAYED: u8 = 0;
    pub const PS_PAYING: u8 = 1;
    pub const PS_PAYED: u8 = 2;
}
use code::*;

/// Where one SKU of the shop lives in ECShop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkuPlace {
    pub goods_id: u64,
    /// The goods' own code: the product's code for goods with products, else the SKU code.
    pub goods_sn: String,
    /// The `ecs_products` row, for SKUs of goods with products.
    pub product_id: Option<u64>,
}

/// An `ecs_goods` row.
#[derive(Clone, Debug)]
pub struct GoodsRow {
    pub goods_id: u64,
    pub goods_sn: String,
    pub goods_name: String,
    pub goods_number: i64,
    /// Fen.
    pub shop_price: i64,
    pub is_on_sale: bool,
}

/// An `ecs_products` row.
#[derive(Clone, Debug)]
pub struct ProductRow {
    pub product_id: u64,
    pub goods_id: u64,
    pub product_sn: String,
    pub product_number: i64,
}

/// What ECShop holds of an order beyond the shop's own data: its number, status codes, and the
/// times and waybill those come with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderState {
    pub order_sn: String,
    pub order_status: u8,
    pub shipping_status: u8,
    pub pay_status: u8,
    /// Unix seconds; 0 = not yet.
    pub confirm_time: i64,
    pub shipping_time: i64,
    pub invoice_no: String,
    pub shipping_name: String,
}

/// An order's money in ECShop's columns, in fen. ECShop's identity: goods_amount +
/// shipping_fee + insure_fee + pay_fee + pack_fee + card_fee + tax − discount − bonus −
/// integral_money = money_paid + surplus + order_amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amounts {
    pub goods_amount: i64,
    pub shipping_fee: i64,
    pub insure_fee: i64,
    pub tax: i64,
    pub discount: i64,
    pub bonus: i64,
    pub integral_money: i64,
    pub surplus: i64,
    pub money_paid: i64,
    pub order_amount: i64,
}

/// A back order (`ecs_back_order`, 退货单): what ECShop's admin wrote when it marked an order
/// returned, with one `ecs_back_goods` row per order line (all of it came back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackOrder {
    pub back_id: u64,
    /// Index into `shop.orders`.
    pub order: usize,
    /// Unix seconds: when the order was marked returned.
    pub return_time: i64,
}

/// ECShop numbers back orders from 1 (`auto_increment`).
const FIRST_BACK_ID: u64 = 1;

/// A region: `ecs_region` row.
#[derive(Clone, Debug)]
struct Region {
    id: i64,
    parent: i64,
    name: String,
    level: u8,
}

/// The shop as ECShop holds it.
#[derive(Clone, Debug)]
pub struct Model {
    pub shop: Shop,
    /// Parallel to `shop.skus`.
    pub places: Vec<SkuPlace>,
    pub goods: Vec<GoodsRow>,
    pub products: Vec<ProductRow>,
    /// Parallel to `shop.orders`.
    pub states: Vec<OrderState>,
    /// The back orders, by `back_id`.
    pub backs: Vec<BackOrder>,
    regions: Vec<Region>,
}

/// ECShop's order number: the order's Chinese calendar date and a serial.
fn order_sn(order: &Order) -> String {
    let local = chrono::DateTime::from_timestamp(order.created_ms / 1000 + SHANGHAI_OFFSET_SECS, 0).unwrap_or_default();
    format!("{}{:05}", local.format("%Y%m%d"), order.order_no)
}

/// The status codes the shop's stage takes in ECShop, varied by the order's number.
fn codes(order: &Order) -> (u8, u8, u8) {
    let even = order.order_no.is_multiple_of(2);
    match order.stage {
        Stage::Unpaid => (
            if even { OS_UNCONFIRMED } else { OS_CONFIRMED },
            SS_UNSHIPPED,
            if order.order_no.is_multiple_of(3) { PS_PAYING } else { PS_UNPAYED },
        ),
        Stage::Paid => (OS_CONFIRMED, if even { SS_UNSHIPPED } else { SS_PREPARING }, PS_PAYED),
        Stage::PartlyShipped => (OS_SPLITING_PART, SS_SHIPPED_PART, PS_PAYED),
        Stage::Shipped => (if even { OS_SPLITED } else { OS_CONFIRMED }, SS_SHIPPED, PS_PAYED),
        // A completed order with a refunded line was returned: ECShop's return puts the
        // shipping and pay statuses back to 0.
        Stage::Completed if order.refund() == Refund::Refunded => (OS_RETURNED, SS_UNSHIPPED, PS_UNPAYED),
        Stage::Completed => (if even { OS_SPLITED } else { OS_CONFIRMED }, SS_RECEIVED, PS_PAYED),
        Stage::Cancelled => {
            (if order.order_no.is_multiple_of(3) { OS_INVALID } else { OS_CANCELED }, SS_UNSHIPPED, PS_UNPAYED)
        }
    }
}

/// Whether goods left the warehouse (a returned order's did, before they came back).
fn has_shipped(order_status: u8, shipping_status: u8) -> bool {
    matches!(shipping_status, SS_SHIPPED | SS_RECEIVED | SS_SHIPPED_PART) || order_status == OS_RETURNED
}

/// The canonical status and refund status, as the ECShop mapping contract says (the plugin's
/// table, written here from ECShop's codes independently).
pub fn canonical_status(order_status: u8, shipping_status: u8, pay_status: u8) -> (&'static str, &'static str) {
    match (order_status, shipping_status, pay_status) {
        (OS_CANCELED, _, _) => ("cancelled", "none"),
        (OS_INVALID, _, _) => ("cancelled", "none"),
        (OS_RETURNED, _, _) => ("closed", "refunded"),
        (_, SS_RECEIVED, _) => ("completed", "none"),
        (_, SS_SHIPPED, _) => ("shipped", "none"),
        (_, SS_SHIPPED_PART, _) => ("partially_shipped", "none"),
        (_, _, PS_PAYED) => ("paid", "none"),
        _ => ("unpaid", "none"),
    }
}

/// The shop's sums spread over ECShop's columns.
pub fn amounts(order: &Order, pay_status: u8) -> Amounts {
    let no = order.order_no;
    let fees = order.shipping_fee;
    let insure_fee = if no.is_multiple_of(4) && fees >= 200 { 100 } else { 0 };
    let tax = if no.is_multiple_of(3) && fees - insure_fee >= 300 { 50 } else { 0 };
    let deducted = order.discount_total();
    let bonus = if no.is_multiple_of(2) { deducted / 3 } else { 0 };
    let integral_money = if no.is_multiple_of(5) { deducted / 4 } else { 0 };
    let paid = order.paid_total();
    let surplus = if no.is_multiple_of(7) { paid.min(1_000) } else { 0 };
    let (money_paid, order_amount) = if pay_status == PS_PAYED { (paid - surplus, 0) } else { (0, paid - surplus) };
    Amounts {
        goods_amount: order.goods_total(),
        shipping_fee: fees - insure_fee - tax,
        insure_fee,
        tax,
        discount: deducted - bonus - integral_money,
        bonus,
        integral_money,
        surplus,
        money_paid,
        order_amount,
    }
}

/// Fen as ECShop's decimal(10,2) text.
pub fn yuan(fen: i64) -> String {
    format!("{}{}.{:02}", if fen < 0 { "-" } else { "" }, fen.abs() / 100, fen.abs() % 100)
}

/// `颜色:红;尺码:M` as ECShop writes chosen attributes into ecs_order_goods.goods_attr
/// (`get_goods_attr_info()`: `"%s:%s[%s] \n"`, with `[0]` removed).
fn goods_attr(spec: &str, with_price: bool) -> String {
    spec.split(';')
        .enumerate()
        .map(|(i, part)| if with_price && i == 0 { format!("{part}[10] \n") } else { format!("{part} \n") })
        .collect()
}

/// The registered user behind a buyer id (`buyer-012345` → 12345); every sixth order is a
/// guest's (user 0).
fn user_id(order: &Order) -> i64 {
    if order.order_no.is_multiple_of(6) {
        return 0;
    }
    order.buyer_id.trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0)
}

/// The login name of a registered user: every other user is a company registered under its
/// 统一社会信用代码 (what `push-customers` matches by), the rest are plain buyers.
pub fn user_name(user_id: i64) -> String {
    if user_id % 2 == 0 { credit_code(user_id) } else { format!("buyer{user_id}") }
}

/// An 18-character 统一社会信用代码 of a simulated company.
pub fn credit_code(user_id: i64) -> String {
    format!("91440300MA5F{:06}", user_id % 1_000_000)
}

/// Every third SKU starts with a lot on sale, which a lot sync must replace.
pub fn seeded_lot(sku_no: u64) -> Option<String> {
    sku_no.is_multiple_of(3).then(|| format!("OLD-{sku_no}"))
}

/// Every seventh receiver gave a landline only.
fn landline_only(order: &Order) -> bool {
    order.order_no % 7 == 3
}

/// Every fourth order asks for an invoice.
fn invoice(order: &Order) -> Option<(&'static str, &'static str)> {
    (order.order_no % 4 == 1).then_some(("深圳市某某科技有限公司", "办公用品"))
}

impl Model {
    pub fn new(shop: Shop) -> Self {
        let mut places = vec![None; shop.skus.len()];
        let mut goods = Vec::new();
        let mut products = Vec::new();
        let mut next_goods = FIRST_GOODS_ID;
        let mut next_product = FIRST_PRODUCT_ID;
        for (pi, product) in shop.products.iter().enumerate() {
            let skus: Vec<usize> = (0..shop.skus.len()).filter(|&s| shop.skus[s].product == pi).collect();
            if pi.is_multiple_of(2) {
                let goods_id = next_goods;
                next_goods += 1;
                for &s in &skus {
                    let sku = &shop.skus[s];
                    products.push(ProductRow {
                        product_id: next_product,
                        goods_id,
                        product_sn: sku.outer_sku_id.clone(),
                        product_number: sku.stock,
                    });
                    places[s] = Some(SkuPlace {
                        goods_id,
                        goods_sn: product.outer_product_id.clone(),
                        product_id: Some(next_product),
                    });
                    next_product += 1;
                }
                goods.push(GoodsRow {
                    goods_id,
                    goods_sn: product.outer_product_id.clone(),
                    goods_name: product.title.clone(),
                    goods_number: skus.iter().map(|&s| shop.skus[s].stock).sum(),
                    shop_price: skus.iter().map(|&s| shop.skus[s].price).min().unwrap_or(0),
                    is_on_sale: skus.iter().all(|&s| shop.skus[s].listed),
                });
            } else {
                for &s in &skus {
                    let sku = &shop.skus[s];
                    goods.push(GoodsRow {
                        goods_id: next_goods,
                        goods_sn: sku.outer_sku_id.clone(),
                        goods_name: product.title.clone(),
                        goods_number: sku.stock,
                        shop_price: sku.price,
                        is_on_sale: sku.listed,
                    });
                    places[s] =
                        Some(SkuPlace { goods_id: next_goods, goods_sn: sku.outer_sku_id.clone(), product_id: None });
                    next_goods += 1;
                }
            }
        }
        let places = places.into_iter().map(|p| p.expect("every SKU belongs to a product")).collect();

        let states = shop.orders.iter().map(order_state).collect();

        let mut regions = vec![Region { id: COUNTRY_ID, parent: 0, name: COUNTRY.to_owned(), level: 0 }];
        for order in &shop.orders {
            add_regions(&mut regions, order);
        }
        let mut model = Self { shop, places, goods, products, states, backs: Vec::new(), regions };
        for i in 0..model.shop.orders.len() {
            if model.states[i].order_status == OS_RETURNED {
                let at = model.shop.orders[i].updated_ms / 1000;
                model.add_back(i, at);
            }
        }
        model
    }

    /// Records a back order of order `i`, returned at `return_time` (Unix seconds); its index.
    fn add_back(&mut self, i: usize, return_time: i64) -> usize {
        let back_id = self.backs.last().map_or(FIRST_BACK_ID, |b| b.back_id + 1);
        self.backs.push(BackOrder { back_id, order: i, return_time });
        self.backs.len() - 1
    }

    /// The statements that write back order `b` and its goods, as ECShop's `return` does (a
    /// copy of the delivery: its add and update times, waybill and fee).
    fn back_statements(&self, b: usize) -> Vec<Statement> {
        let back = &self.backs[b];
        let order = &self.shop.orders[back.order];
        let s = &self.states[back.order];
        let delivered = if s.shipping_time > 0 { s.shipping_time.min(back.return_time) } else { back.return_time };
        let a = amounts(order, s.pay_status);
        let back_row = vec![
            json!(back.back_id),
            json!(format!("{}{:05}", back.return_time, back.back_id % 100_000)),
            json!(s.order_sn),
            json!(order.order_no),
            json!(s.invoice_no),
            json!(delivered),
            json!(s.shipping_name),
            json!(user_id(order)),
            json!(SEED_ACTION_USER),
            json!(order.receiver.name),
            json!(order.receiver.address),
            json!(yuan(a.shipping_fee)),
            json!(delivered),
            json!(back.return_time),
        ];
        let goods = order
            .lines
            .iter()
            .map(|line| {
                let sku = &self.shop.skus[line.sku];
                let place = &self.places[line.sku];
                let product_sn = place.product_id.map(|_| sku.outer_sku_id.clone());
                vec![
                    json!(back.back_id),
                    json!(place.goods_id),
                    json!(place.product_id.unwrap_or(0)),
                    json!(product_sn),
                    json!(self.shop.products[sku.product].title),
                    json!(place.goods_sn),
                    json!(line.quantity),
                    json!(goods_attr(&sku.spec, false)),
                ]
            })
            .collect();
        vec![Statement::once(BACK_INSERT, back_row), Statement::many(BACK_GOODS_INSERT, goods)]
    }

    /// The after-sales the shop's back orders are, as Wharf must read them (ground truth):
    /// `return_and_refund`, `refunded` while the order is returned (else `returned`), every
    /// line back with what was paid for it, no shipping refund, created when returned,
    /// updated when the order last changed (its newest action row).
    pub fn after_sales(&self) -> Vec<AfterSale> {
        self.backs
            .iter()
            .map(|back| {
                let order = &self.shop.orders[back.order];
                let lines: Vec<AfterSaleLine> = order
                    .lines
                    .iter()
                    .map(|l| AfterSaleLine {
                        line_no: l.line_no,
                        sku_no: self.shop.skus[l.sku].sku_no,
                        outer_sku_id: self.shop.skus[l.sku].outer_sku_id.clone(),
                        quantity: l.quantity,
                        refund: l.line_total(),
                    })
                    .collect();
                let returned = self.states[back.order].order_status == OS_RETURNED;
                AfterSale {
                    id: back.back_id,
                    order_no: order.order_no,
                    refund_amount: lines.iter().map(|l| l.refund).sum(),
                    lines,
                    kind: AfterSaleKind::ReturnAndRefund,
                    status: if returned { AfterSaleStatus::Refunded } else { AfterSaleStatus::Returned },
                    shipping_refund: 0,
                    reason: String::new(),
                    return_waybill: None,
                    created_ms: back.return_time * 1000,
                    updated_ms: (order.updated_ms / 1000).max(back.return_time) * 1000,
                    version: 1,
                }
            })
            .collect()
    }

    /// ECShop's admin marks a shipped or completed order returned at `now_ms` (the least
    /// recently changed one not returned yet): its codes become returned (4, 0, 0), an action
    /// row is logged and a back order written. Its index and the statements, or `None` when no
    /// order has shipped.
    pub fn return_one(&mut self, now_ms: i64) -> Option<(usize, Vec<Statement>)> {
        let i = (0..self.shop.orders.len())
            .filter(|&i| {
                let o = &self.shop.orders[i];
                matches!(o.stage, Stage::Shipped | Stage::Completed) && self.states[i].order_status != OS_RETURNED
            })
            .min_by_key(|&i| (self.shop.orders[i].updated_ms, self.shop.orders[i].order_no))?;
        let order = &mut self.shop.orders[i];
        order.stage = Stage::Completed;
        order.lines[0].refund = Refund::Refunded;
        order.updated_ms = (now_ms / 1000 * 1000).max(order.updated_ms + 1000);
        let updated = order.updated_ms / 1000;
        let state = &mut self.states[i];
        (state.order_status, state.shipping_status, state.pay_status) = (OS_RETURNED, SS_UNSHIPPED, PS_UNPAYED);
        let mut statements =
            vec![self.order_update(i), Statement::once(ACTION_INSERT, self.action_row(i, updated, "退货"))];
        if !self.backs.iter().any(|b| b.order == i) {
            let b = self.add_back(i, updated);
            statements.extend(self.back_statements(b));
        }
        Some((i, statements))
    }

    /// The UPDATE that writes every column of order `i` the simulator keeps.
    fn order_update(&self, i: usize) -> Statement {
        let mut row = self.order_row(i);
        row.push(json!(self.shop.orders[i].order_no));
        let assignments: Vec<String> = ORDER_COLUMNS[1..].iter().map(|c| format!("{c} = ?")).collect();
        Statement::once(
            format!("UPDATE ecs_order_info SET {} WHERE order_id = ?", assignments.join(", ")),
            row[1..].to_vec(),
        )
    }

    /// A buyer pays a new order at `now_ms`, as ECShop's checkout writes it: the order, its
    /// goods, an action row at the payment time, and the buyer and regions it is the first to
    /// name. Its index and the statements that write it.
    pub fn add_paid_order(&mut self, rng: &mut crate::rng::SimRng, now_ms: i64) -> (usize, Vec<Statement>) {
        let known_users = self.user_ids();
        self.shop.add_paid_order(rng, now_ms);
        let i = self.shop.orders.len() - 1;
        let order = &self.shop.orders[i];
        let known = self.regions.len();
        add_regions(&mut self.regions, order);
        self.states.push(order_state(order));
        let regions: Vec<Vec<Value>> = self.regions[known..]
            .iter()
            .map(|r| vec![json!(r.id), json!(r.parent), json!(r.name), json!(r.level)])
            .collect();
        let mut statements = Vec::new();
        if !regions.is_empty() {
            statements.push(Statement::many(REGION_INSERT, regions));
        }
        let user = user_id(order);
        if user > 0 && known_users.binary_search(&user).is_err() {
            statements.push(Statement::once(
                "INSERT INTO ecs_users (user_id, user_name, email) VALUES (?, ?, ?)",
                vec![json!(user), json!(user_name(user)), json!(format!("{}@example.com", user_name(user)))],
            ));
        }
        statements.push(Statement::once(order_insert(), self.order_row(i)));
        statements.push(Statement::many(LINE_INSERT, self.line_rows(i)));
        statements.push(Statement::once(ACTION_INSERT, self.action_row(i, order.updated_ms / 1000, "已付款")));
        (i, statements)
    }

    /// The ecs_order_goods rows of order `i`.
    fn line_rows(&self, i: usize) -> Vec<Vec<Value>> {
        let order = &self.shop.orders[i];
        let state = &self.states[i];
        order
            .lines
            .iter()
            .map(|line| {
                let sku = &self.shop.skus[line.sku];
                let place = &self.places[line.sku];
                let sent = if has_shipped(state.order_status, state.shipping_status) { line.quantity } else { 0 };
                vec![
                    json!(line.line_no),
                    json!(order.order_no),
                    json!(place.goods_id),
                    json!(self.shop.products[sku.product].title),
                    json!(place.goods_sn),
                    json!(place.product_id.unwrap_or(0)),
                    json!(line.quantity),
                    json!(yuan(line.unit_price * 6 / 5)),
                    json!(yuan(line.unit_price)),
                    json!(goods_attr(&sku.spec, place.product_id.is_some() && line.line_no.is_multiple_of(2))),
                    json!(sent),
                ]
            })
            .collect()
    }

    fn region_id(&self, level: u8, parent: i64, name: &str) -> i64 {
        self.regions.iter().find(|r| r.level == level && r.parent == parent && r.name == name).map_or(0, |r| r.id)
    }

    /// (province, city, district) region ids of an order's receiver.
    fn region_ids(&self, order: &Order) -> (i64, i64, i64) {
        let r = &order.receiver;
        let province = self.region_id(1, COUNTRY_ID, &r.province);
        let city = self.region_id(2, province, &r.city);
        (province, city, self.region_id(3, city, &r.district))
    }

    /// The registered users behind the orders (user_id > 0), once each, by id.
    pub fn user_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.shop.orders.iter().map(user_id).filter(|&u| u > 0).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub fn index_of_sn(&self, order_sn: &str) -> Option<usize> {
        self.states.iter().position(|s| s.order_sn == order_sn)
    }

    /// Everything the database needs, table by table.
    pub fn seed_statements(&self) -> Vec<Statement> {
        let regions =
            self.regions.iter().map(|r| vec![json!(r.id), json!(r.parent), json!(r.name), json!(r.level)]).collect();
        let goods = self
            .goods
            .iter()
            .map(|g| {
                vec![
                    json!(g.goods_id),
                    json!(g.goods_sn),
                    json!(g.goods_name),
                    json!(g.goods_number),
                    json!(yuan(g.shop_price * 6 / 5)),
                    json!(yuan(g.shop_price)),
                    json!(i64::from(g.is_on_sale)),
                ]
            })
            .collect();
        let products = self
            .products
            .iter()
            .map(|p| {
                vec![
                    json!(p.product_id),
                    json!(p.goods_id),
                    json!(format!("{}|{}", p.product_id * 2, p.product_id * 2 + 1)),
                    json!(p.product_sn),
                    json!(p.product_number),
                ]
            })
            .collect();
        let orders = (0..self.shop.orders.len()).map(|i| self.order_row(i)).collect();
        let mut lines = Vec::new();
        let mut actions = Vec::new();
        for (i, order) in self.shop.orders.iter().enumerate() {
            lines.extend(self.line_rows(i));
            // The newest action row carries the order's change time; every third order also
            // has an older one, which must not count.
            if order.order_no.is_multiple_of(3) {
                actions.push(self.action_row(i, order.created_ms / 1000, "下单"));
            }
            actions.push(self.action_row(i, order.updated_ms / 1000, "已处理"));
        }
        let users = self
            .user_ids()
            .into_iter()
            .map(|u| vec![json!(u), json!(user_name(u)), json!(format!("{}@example.com", user_name(u)))])
            .collect();
        let lots = (0..self.shop.skus.len())
            .filter_map(|s| {
                let place = &self.places[s];
                seeded_lot(self.shop.skus[s].sku_no).map(|batch_no| {
                    vec![
                        json!(place.goods_id),
                        json!(place.product_id.unwrap_or(0)),
                        json!(batch_no),
                        json!("2025-01-01"),
                        json!("2027-01-01"),
                        json!(1),
                    ]
                })
            })
            .collect();
        vec![
            Statement::many(REGION_INSERT, regions),
            Statement::many("INSERT INTO ecs_users (user_id, user_name, email) VALUES (?, ?, ?)", users),
            Statement::many(
                "INSERT INTO ecs_wharf_goods_lot (goods_id, product_id, batch_no, produced_on, expires_on, quantity) VALUES (?, ?, ?, ?, ?, ?)",
                lots,
            ),
            Statement::many(
                "INSERT INTO ecs_goods (goods_id, goods_sn, goods_name, goods_number, market_price, shop_price, is_on_sale, goods_desc) VALUES (?, ?, ?, ?, ?, ?, ?, '')",
                goods,
            ),
            Statement::many(
                "INSERT INTO ecs_products (product_id, goods_id, goods_attr, product_sn, product_number) VALUES (?, ?, ?, ?, ?)",
                products,
            ),
            Statement::many(order_insert(), orders),
            Statement::many(LINE_INSERT, lines),
            Statement::many(ACTION_INSERT, actions),
        ]
        .into_iter()
        .chain((0..self.backs.len()).flat_map(|b| self.back_statements(b)))
        .collect()
    }

    fn action_row(&self, i: usize, log_time: i64, note: &str) -> Vec<Value> {
        let s = &self.states[i];
        vec![
            json!(self.shop.orders[i].order_no),
            json!(SEED_ACTION_USER),
            json!(s.order_status),
            json!(s.shipping_status),
            json!(s.pay_status),
            json!(note),
            json!(log_time),
        ]
    }

    /// The values of [`ORDER_COLUMNS`] for order `i`.
    fn order_row(&self, i: usize) -> Vec<Value> {
        let order = &self.shop.orders[i];
        let s = &self.states[i];
        let a = amounts(order, s.pay_status);
        let (province, city, district) = self.region_ids(order);
        let r = &order.receiver;
        let (mobile, tel) = if landline_only(order) { ("", r.phone.as_str()) } else { (r.phone.as_str(), "") };
        let (inv_payee, inv_content) = invoice(order).unwrap_or(("", ""));
        vec![
            json!(order.order_no),
            json!(s.order_sn),
            json!(user_id(order)),
            json!(s.order_status),
            json!(s.shipping_status),
            json!(s.pay_status),
            json!(r.name),
            json!(COUNTRY_ID),
            json!(province),
            json!(city),
            json!(district),
            json!(r.address),
            json!(r.postcode.clone().unwrap_or_default()),
            json!(tel),
            json!(mobile),
            // Held by ECShop, never handed out by the bridge.
            json!(format!("buyer{}@example.com", order.order_no)),
            json!(order.buyer_message.clone().unwrap_or_default()),
            json!(s.shipping_name),
            json!("支付宝"),
            json!(if inv_payee.is_empty() { "" } else { "普通发票" }),
            json!(inv_payee),
            json!(inv_content),
            json!(yuan(a.goods_amount)),
            json!(yuan(a.shipping_fee)),
            json!(yuan(a.insure_fee)),
            json!(yuan(a.tax)),
            json!(yuan(a.discount)),
            json!(yuan(a.bonus)),
            json!(yuan(a.integral_money)),
            json!(yuan(a.surplus)),
            json!(yuan(a.money_paid)),
            json!(yuan(a.order_amount)),
            json!(order.created_ms / 1000),
            json!(s.confirm_time),
            json!(order.paid_ms.map_or(0, |t| t / 1000)),
            json!(s.shipping_time),
            json!(s.invoice_no),
        ]
    }

    /// Moves the least recently changed order to its next stage at `now_ms`, as ECShop's admin
    /// would: new status codes and money, and an action row at the change time. Its index and
    /// the statements that write it.
    pub fn change_one(&mut self, now_ms: i64) -> Option<(usize, Vec<Statement>)> {
        let no = self.shop.change_one(now_ms)?;
        let i = self.shop.orders.iter().position(|o| o.order_no == no)?;
        let order = &self.shop.orders[i];
        let (os, ss, ps) = codes(order);
        let updated = order.updated_ms / 1000;
        let state = &mut self.states[i];
        state.order_status = os;
        state.shipping_status = ss;
        state.pay_status = ps;
        if os != OS_UNCONFIRMED && state.confirm_time == 0 {
            state.confirm_time = updated;
        }
        if has_shipped(os, ss) && state.shipping_time == 0 {
            state.shipping_time = updated;
            state.invoice_no = format!("ST{:010}", order.order_no);
        }
        let update = self.order_update(i);
        let action = Statement::once(ACTION_INSERT, self.action_row(i, updated, "状态变更"));
        let mut statements = vec![update, action];
        // Returned now: ECShop's return writes the back order.
        if os == OS_RETURNED && !self.backs.iter().any(|b| b.order == i) {
            let b = self.add_back(i, updated);
            statements.extend(self.back_statements(b));
        }
        Some((i, statements))
    }

    /// Takes in an order the bridge answered a write with (`{"order": {...}}`: a waybill, a
    /// shipment, an ERP status), so later expectations hold what the database holds.
    pub fn apply_order(&mut self, order: &Value) {
        let Some(i) = order.get("order_sn").and_then(Value::as_str).and_then(|sn| self.index_of_sn(sn)) else {
            return;
        };
        let int = |key: &str| order.get(key).and_then(Value::as_i64).unwrap_or(0);
        let text = |key: &str| order.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let state = &mut self.states[i];
        state.order_status = int("order_status") as u8;
        state.shipping_status = int("shipping_status") as u8;
        state.pay_status = int("pay_status") as u8;
        state.confirm_time = int("confirm_time");
        state.shipping_time = int("shipping_time");
        state.invoice_no = text("invoice_no");
        state.shipping_name = text("shipping_name");
        let (status, _) = canonical_status(state.order_status, state.shipping_status, state.pay_status);
        let shop_order = &mut self.shop.orders[i];
        shop_order.updated_ms = int("updated_at") * 1000;
        if !state.invoice_no.is_empty() {
            shop_order.shipment = Some((state.shipping_name.clone(), state.invoice_no.clone()));
        }
        // The stage drives later changes; keep it while it still gives this status (a returned
        // order is a completed one with refunds, say).
        let (os, ss, ps) = codes(shop_order);
        if canonical_status(os, ss, ps).0 == status {
            return;
        }
        shop_order.stage = match status {
            "unpaid" => Stage::Unpaid,
            "paid" => Stage::Paid,
            "partially_shipped" => Stage::PartlyShipped,
            "shipped" => Stage::Shipped,
            "completed" => Stage::Completed,
            _ => Stage::Cancelled,
        };
    }

    /// The canonical JSON of order `i` for shop `shop_id`, as `wharf plugin call` prints it.
    pub fn expected(&self, i: usize, shop_id: &str) -> Value {
        let order = &self.shop.orders[i];
        let s = &self.states[i];
        let (status, refund) = canonical_status(s.order_status, s.shipping_status, s.pay_status);
        let r = &order.receiver;
        let lines: Vec<Value> = order
            .lines
            .iter()
            .map(|line| {
                let sku = &self.shop.skus[line.sku];
                let place = &self.places[line.sku];
                json!({
                    "line_id": line.line_no.to_string(),
                    "product_id": place.goods_id.to_string(),
                    "sku_id": place.product_id.map(|p| p.to_string()),
                    "outer_product_id": place.goods_sn,
                    "outer_sku_id": sku.outer_sku_id,
                    "title": self.shop.products[sku.product].title,
                    "sku_properties": sku.spec,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "discount": line.discount,
                    "line_total": line.line_total(),
                    "refund_status": refund,
                })
            })
            .collect();
        let user = user_id(order);
        let mut expected = json!({
            "platform": PLATFORM,
            "shop_id": shop_id,
            "order_id": s.order_sn,
            "status": status,
            "platform_status": format!("order_status={};shipping_status={};pay_status={}", s.order_status, s.shipping_status, s.pay_status),
            "refund_status": refund,
            "created_at": rfc3339(order.created_ms / 1000 * 1000),
            "paid_at": order.paid_ms.map(|t| rfc3339(t / 1000 * 1000)),
            "updated_at": rfc3339(order.updated_ms / 1000 * 1000),
            "currency": "CNY",
            "goods_total": order.goods_total(),
            "shipping_fee": order.shipping_fee,
            "discount_total": order.discount_total(),
            "paid_total": order.paid_total(),
            "buyer_id": (user > 0).then(|| user.to_string()),
            "buyer_message": order.buyer_message,
            "receiver": {
                "name": r.name,
                "phone": r.phone,
                "province": r.province,
                "city": r.city,
                "district": r.district,
                "address": r.address,
                "postcode": r.postcode,
                "masked": false,
            },
            "invoice": invoice(order).map(|(title, _)| json!({"kind": "paper", "title": title})),
            "lines": lines,
        });
        strip_nulls(&mut expected);
        expected
    }

    /// Indexes of the orders changed in `[from_ms, to_ms)`, newest first (ties by order id), as
    /// the bridge lists them.
    pub fn changed_in(&self, from_ms: i64, to_ms: i64) -> Vec<usize> {
        let mut found: Vec<usize> = (0..self.shop.orders.len())
            .filter(|&i| (from_ms..to_ms).contains(&self.shop.orders[i].updated_ms))
            .collect();
        found.sort_by_key(|&i| (std::cmp::Reverse(self.shop.orders[i].updated_ms), self.shop.orders[i].order_no));
        found
    }

    /// Orders by stage, for picking push targets.
    pub fn by_stage(&self) -> BTreeMap<&'static str, Vec<usize>> {
        let mut map: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
        for (i, order) in self.shop.orders.iter().enumerate() {
            let name = match order.stage {
                Stage::Unpaid => "unpaid",
                Stage::Paid => "paid",
                Stage::PartlyShipped => "partly_shipped",
                Stage::Shipped => "shipped",
                Stage::Completed => "completed",
                Stage::Cancelled => "cancelled",
            };
            map.entry(name).or_default().push(i);
        }
        map
    }
}

/// The ecs_order_info columns the simulator writes.
const ORDER_COLUMNS: &[&str] = &[
    "order_id",
    "order_sn",
    "user_id",
    "order_status",
    "shipping_status",
    "pay_status",
    "consignee",
    "country",
    "province",
    "city",
    "district",
    "address",
    "zipcode",
    "tel",
    "mobile",
    "email",
    "postscript",
    "shipping_name",
    "pay_name",
    "inv_type",
    "inv_payee",
    "inv_content",
    "goods_amount",
    "shipping_fee",
    "insure_fee",
    "tax",
    "discount",
    "bonus",
    "integral_money",
    "surplus",
    "money_paid",
    "order_amount",
    "add_time",
    "confirm_time",
    "pay_time",
    "shipping_time",
    "invoice_no",
];

const BACK_INSERT: &str = "INSERT INTO ecs_back_order (back_id, delivery_sn, order_sn, order_id, invoice_no, add_time, shipping_name, user_id, action_user, consignee, address, shipping_fee, update_time, return_time) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const BACK_GOODS_INSERT: &str = "INSERT INTO ecs_back_goods (back_id, goods_id, product_id, product_sn, goods_name, goods_sn, is_real, send_number, goods_attr) \
     VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)";
const REGION_INSERT: &str =
    "INSERT INTO ecs_region (region_id, parent_id, region_name, region_type) VALUES (?, ?, ?, ?)";
const LINE_INSERT: &str = "INSERT INTO ecs_order_goods (rec_id, order_id, goods_id, goods_name, goods_sn, product_id, goods_number, market_price, goods_price, goods_attr, send_number) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

fn order_insert() -> String {
    format!(
        "INSERT INTO ecs_order_info ({}) VALUES ({})",
        ORDER_COLUMNS.join(", "),
        vec!["?"; ORDER_COLUMNS.len()].join(", ")
    )
}

/// What ECShop holds of an order as the shop generated it.
fn order_state(order: &Order) -> OrderState {
    let (os, ss, ps) = codes(order);
    let add = order.created_ms / 1000;
    let updated = order.updated_ms / 1000;
    let paid = order.paid_ms.map_or(0, |t| t / 1000);
    let shipped = has_shipped(os, ss);
    OrderState {
        order_sn: order_sn(order),
        order_status: os,
        shipping_status: ss,
        pay_status: ps,
        confirm_time: if os == OS_UNCONFIRMED { 0 } else { (add + 30).min(updated) },
        shipping_time: if shipped { (paid.max(add) + 3_600).min(updated) } else { 0 },
        invoice_no: if shipped { format!("ST{:010}", order.order_no) } else { String::new() },
        shipping_name: "申通快递".to_owned(),
    }
}

/// Adds the regions of `order`'s receiver that `regions` does not hold yet.
fn add_regions(regions: &mut Vec<Region>, order: &Order) {
    let r = &order.receiver;
    let mut parent = COUNTRY_ID;
    for (level, name) in [(1, &r.province), (2, &r.city), (3, &r.district)] {
        parent = match regions.iter().find(|x| x.level == level && x.parent == parent && &x.name == name) {
            Some(found) => found.id,
            None => {
                let id = regions.len() as i64 + 1;
                regions.push(Region { id, parent, name: name.clone(), level });
                id
            }
        };
    }
}

const ACTION_INSERT: &str = "INSERT INTO ecs_order_action (order_id, action_user, order_status, shipping_status, pay_status, action_note, log_time) \
     VALUES (?, ?, ?, ?, ?, ?, ?)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::ShopParams;

    fn model() -> Model {
        Model::new(Shop::generate(&ShopParams {
            seed: 3,
            orders: 120,
            now_ms: 1_795_484_000_000,
            modified_span_ms: 3 * 86_400_000,
            first_order_no: 1_000,
        }))
    }

    #[test]
    fn amounts_keep_ecshops_identity() {
        let m = model();
        for (order, state) in m.shop.orders.iter().zip(&m.states) {
            let a = amounts(order, state.pay_status);
            assert_eq!(
                a.goods_amount + a.shipping_fee + a.insure_fee + a.tax - a.discount - a.bonus - a.integral_money,
                a.money_paid + a.surplus + a.order_amount,
                "{}",
                order.order_no
            );
            assert!(a.shipping_fee >= 0 && a.discount >= 0 && a.order_amount >= 0);
        }
        assert!(m.shop.orders.iter().any(|o| amounts(o, PS_PAYED).insure_fee > 0));
        assert!(m.shop.orders.iter().any(|o| amounts(o, PS_PAYED).bonus > 0));
    }

    #[test]
    fn layout_covers_both_kinds_of_goods_and_every_status_variant() {
        let m = model();
        assert!(m.places.iter().any(|p| p.product_id.is_some()) && m.places.iter().any(|p| p.product_id.is_none()));
        let statuses: std::collections::BTreeSet<&str> =
            m.states.iter().map(|s| canonical_status(s.order_status, s.shipping_status, s.pay_status).0).collect();
        assert_eq!(statuses.len(), 7, "{statuses:?}");
        let sns: std::collections::BTreeSet<&str> = m.states.iter().map(|s| s.order_sn.as_str()).collect();
        assert_eq!(sns.len(), m.states.len(), "order_sn is unique");
        assert!(m.states.iter().all(|s| s.order_sn.len() <= 20));
    }

    #[test]
    fn a_change_moves_status_and_time() {
        let mut m = model();
        let (i, statements) = m.change_one(1_795_484_100_000).unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(m.shop.orders[i].updated_ms, 1_795_484_100_000);
        let e = m.expected(i, "s1");
        assert_eq!(e["updated_at"], "2026-11-24T01:35:00Z");
    }

    #[test]
    fn goods_attr_texts() {
        assert_eq!(goods_attr("颜色:红;尺码:M", true), "颜色:红[10] \n尺码:M \n");
        assert_eq!(goods_attr("规格:标准装", false), "规格:标准装 \n");
        assert_eq!(yuan(19_990), "199.90");
        assert_eq!(yuan(5), "0.05");
    }
}
