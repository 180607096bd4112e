//! A platform-neutral simulated shop: a catalog and the orders sold from it.
//!
//! The JD, Douyin and ECShop simulators all serve the same kind of shop in different words.
//! [`Shop::generate`] builds it from a seed (so every run sees the same data) with the
//! properties the conformance suite checks: amounts that add up to the fen (goods + shipping
//! − discount = paid, discounts spread over lines exactly), orders spread over a modification
//! window, every lifecycle [`Stage`], and refunds. Each simulator picks its own ids, status
//! codes and field names from it, and its own canonical expectation.

use crate::rng::SimRng;

pub mod after_sale;

pub use after_sale::{
    AfterSale, AfterSaleAction, AfterSaleKind, AfterSaleLine, AfterSaleStatus, Claimable, NewAfterSale, NotAllowed,
    SellerAction,
};

/// Where an order is in its life, in no platform's words; each simulator maps it to its own
/// status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    Unpaid,
    Paid,
    PartlyShipped,
    Shipped,
    Completed,
    Cancelled,
}

impl Stage {
    pub const ALL: [Stage; 6] =
        [Stage::Unpaid, Stage::Paid, Stage::PartlyShipped, Stage::Shipped, Stage::Completed, Stage::Cancelled];

    pub fn is_paid(self) -> bool {
        !matches!(self, Stage::Unpaid | Stage::Cancelled)
    }

    /// The stage an order moves to when a test changes it between pulls.
    pub fn next(self) -> Stage {
        match self {
            Stage::Unpaid => Stage::Paid,
            Stage::Paid => Stage::Shipped,
            Stage::PartlyShipped => Stage::Shipped,
            Stage::Shipped => Stage::Completed,
            Stage::Completed => Stage::Cancelled,
            Stage::Cancelled => Stage::Unpaid,
        }
    }
}

/// A line's refund, in no platform's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refund {
    None,
    Requested,
    Refunded,
}

/// One sellable SKU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sku {
    /// Index of the product in [`Shop::products`].
    pub product: usize,
    /// The platform's SKU number (simulators format it as they like).
    pub sku_no: u64,
    /// The merchant's code (商家编码), the join key with the ERP.
    pub outer_sku_id: String,
    /// e.g. `颜色:红;尺码:XL`.
    pub spec: String,
    /// Fen.
    pub price: i64,
    pub stock: i64,
    pub listed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub product_no: u64,
    pub outer_product_id: String,
    pub title: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receiver {
    pub name: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub town: Option<String>,
    pub address: String,
    pub postcode: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Index into [`Shop::skus`].
    pub sku: usize,
    /// The line's own number (sub-order id), unique in the shop.
    pub line_no: u64,
    pub quantity: i64,
    /// Fen, per unit.
    pub unit_price: i64,
    /// Fen: this line's share of the order's discount.
    pub discount: i64,
    pub refund: Refund,
}

impl Line {
    /// What was paid for the line (fen).
    pub fn line_total(&self) -> i64 {
        self.unit_price * self.quantity - self.discount
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// The order's number, unique in the shop; simulators format it (JD and Douyin ids are
    /// 12 and 19 digits; see [`Shop::generate`]).
    pub order_no: u64,
    pub stage: Stage,
    pub created_ms: i64,
    pub paid_ms: Option<i64>,
    pub updated_ms: i64,
    pub shipping_fee: i64,
    pub buyer_id: String,
    pub buyer_nick: String,
    pub buyer_message: Option<String>,
    pub seller_memo: Option<String>,
    pub receiver: Receiver,
    pub lines: Vec<Line>,
    /// Set by a logistics push: (carrier code, tracking number).
    pub shipment: Option<(String, String)>,
}

impl Order {
    pub fn goods_total(&self) -> i64 {
        self.lines.iter().map(|l| l.unit_price * l.quantity).sum()
    }
    pub fn discount_total(&self) -> i64 {
        self.lines.iter().map(|l| l.discount).sum()
    }
    pub fn paid_total(&self) -> i64 {
        self.goods_total() + self.shipping_fee - self.discount_total()
    }
    /// Any line requested → requested; else any refunded → refunded; else none.
    pub fn refund(&self) -> Refund {
        if self.lines.iter().any(|l| l.refund == Refund::Requested) {
            Refund::Requested
        } else if self.lines.iter().any(|l| l.refund == Refund::Refunded) {
            Refund::Refunded
        } else {
            Refund::None
        }
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct ShopParams {
    pub seed: u64,
    pub orders: usize,
    /// No order is modified after it (UTC ms).
    pub now_ms: i64,
    /// Orders are modified in `[now − span, now]`.
    pub modified_span_ms: i64,
    /// The first order number; numbers grow from it by a seeded stride.
    pub first_order_no: u64,
}

/// The catalog, the orders and their after-sales.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shop {
    pub products: Vec<Product>,
    pub skus: Vec<Sku>,
    pub orders: Vec<Order>,
    /// In the order they were opened; none unless asked for ([`Shop::add_after_sale`]).
    pub after_sales: Vec<AfterSale>,
}

/// Why an after-sale action did not happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterSaleError {
    NotFound(u64),
    NotAllowed(NotAllowed),
}

impl std::fmt::Display for AfterSaleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(id) => write!(f, "after-sale {id} does not exist"),
            Self::NotAllowed(why) => why.fmt(f),
        }
    }
}

const TITLES: &[&str] = &[
    "夏季纯棉短袖T恤男宽松百搭圆领上衣",
    "复方板蓝根颗粒 10g*20袋",
    "不锈钢保温杯大容量316食品级",
    "儿童益生菌冲剂 2g*30袋",
    "无线蓝牙耳机降噪运动款",
    "维生素C泡腾片 4g*20片",
];
const SPECS: &[&str] = &["颜色:红;尺码:M", "颜色:黑;尺码:L", "规格:标准装", "规格:家庭装", "颜色:白;尺码:XL"];
const PLACES: &[(&str, &str, &str)] = &[
    ("广东省", "深圳市", "南山区"),
    ("浙江省", "杭州市", "余杭区"),
    ("北京", "北京市", "朝阳区"),
    ("四川省", "成都市", "武侯区"),
    ("广西壮族自治区", "南宁市", "青秀区"),
];
const NAMES: &[&str] = &["张三", "李四", "王小明", "赵丽", "陈静", "欧阳娜娜"];
const MESSAGES: &[&str] = &["请尽快发货", "不要放快递柜", "周末送货"];

/// The products and SKUs a shop sells, without orders: what several simulated systems share
/// when they must agree on the merchant's SKU codes (a marketplace and the ERP behind it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    pub products: Vec<Product>,
    pub skus: Vec<Sku>,
}

impl Catalog {
    /// `products` products (at least one), two or three SKUs each, from `seed`: the catalogue
    /// [`Shop::generate`] would build for that many products.
    pub fn generate(seed: u64, products: usize) -> Catalog {
        let mut rng = SimRng::new(seed).fork(11);
        generate_catalog(&mut rng, products.max(1))
    }

    /// Every SKU's merchant code, in catalogue order.
    pub fn outer_sku_ids(&self) -> Vec<String> {
        self.skus.iter().map(|s| s.outer_sku_id.clone()).collect()
    }
}

/// The catalogue part of [`Shop::generate`], drawing from the shop's stream.
fn generate_catalog(rng: &mut SimRng, product_count: usize) -> Catalog {
    let mut products = Vec::new();
    let mut skus = Vec::new();
    for i in 0..product_count {
        products.push(Product {
            product_no: 3_500_000_000 + i as u64 * 7_919,
            outer_product_id: format!("SPU-{:04}", i + 1),
            title: TITLES[i % TITLES.len()].to_owned(),
        });
        for k in 0..(2 + rng.below(2) as usize) {
            skus.push(Sku {
                product: i,
                sku_no: 10_000_000_000 + (i * 10 + k) as u64 * 104_729,
                outer_sku_id: format!("SKU-{:04}-{}", i + 1, k + 1),
                spec: SPECS[(i + k) % SPECS.len()].to_owned(),
                price: rng.range(500, 50_000) / 10 * 10 + rng.range(0, 9),
                stock: rng.range(0, 500),
                listed: true,
            });
        }
    }
    Catalog { products, skus }
}

/// One order's lines, amounts, buyer and receiver, drawn from `rng` (the times and stage are
/// the caller's).
fn generate_order(
    rng: &mut SimRng,
    skus: &[Sku],
    order_no: u64,
    stage: Stage,
    (created_ms, paid_ms, updated_ms): (i64, Option<i64>, i64),
) -> Order {
    let mut lines = Vec::new();
    for l in 0..(1 + rng.below(3)) {
        let sku = rng.below(skus.len() as u64) as usize;
        lines.push(Line {
            sku,
            line_no: order_no * 10 + l,
            quantity: rng.range(1, 5),
            unit_price: skus[sku].price,
            discount: 0,
            refund: Refund::None,
        });
    }
    let goods: i64 = lines.iter().map(|l| l.unit_price * l.quantity).sum();
    let discount = if rng.percent(40) { rng.range(1, (goods / 5).max(2)) } else { 0 };
    let weights: Vec<i64> = lines.iter().map(|l| l.unit_price * l.quantity).collect();
    for (line, share) in lines.iter_mut().zip(apportion(discount, &weights)) {
        line.discount = share;
    }
    if stage.is_paid() && rng.percent(10) {
        lines[0].refund = if rng.percent(50) { Refund::Requested } else { Refund::Refunded };
    }
    let (province, city, district) = *rng.pick(PLACES);
    let name = (*rng.pick(NAMES)).to_owned();
    Order {
        order_no,
        stage,
        created_ms,
        paid_ms,
        updated_ms,
        shipping_fee: if rng.percent(60) { 0 } else { rng.range(5, 20) * 100 },
        buyer_id: format!("buyer-{:06}", rng.below(1_000_000)),
        buyer_nick: format!("{}***", name.chars().next().unwrap_or('买')),
        buyer_message: rng.percent(30).then(|| (*rng.pick(MESSAGES)).to_owned()),
        seller_memo: rng.percent(10).then(|| "加急".to_owned()),
        receiver: Receiver {
            name,
            phone: format!("13{:09}", rng.below(1_000_000_000)),
            province: province.to_owned(),
            city: city.to_owned(),
            district: district.to_owned(),
            town: rng.percent(50).then(|| "西丽街道".to_owned()),
            address: format!("科技园路{}号{}栋{}室", rng.range(1, 200), rng.range(1, 30), rng.range(101, 2505)),
            postcode: rng.percent(50).then(|| format!("{:06}", rng.range(100_000, 999_999))),
        },
        lines,
        shipment: None,
    }
}

/// A new order is created this long before it is paid, at most (seconds): a buyer checking out.
const NEW_ORDER_MAX_CHECKOUT_S: i64 = 600;

impl Shop {
    /// Builds a shop of `p.orders` orders; about one product per 20 orders (3..=50), two or
    /// three SKUs each.
    pub fn generate(p: &ShopParams) -> Shop {
        let mut rng = SimRng::new(p.seed).fork(11);
        let catalog = generate_catalog(&mut rng, (p.orders / 20).clamp(3, 50));
        Self::generate_orders(rng, p, catalog)
    }

    /// Like [`Shop::generate`], selling `catalog` instead of a catalogue of its own, so that
    /// several simulators (and the ERP) agree on the merchant's SKU codes.
    pub fn generate_with_catalog(p: &ShopParams, catalog: &Catalog) -> Shop {
        Self::generate_orders(SimRng::new(p.seed).fork(12), p, catalog.clone())
    }

    fn generate_orders(mut rng: SimRng, p: &ShopParams, catalog: Catalog) -> Shop {
        let Catalog { products, skus } = catalog;
        let mut orders = Vec::with_capacity(p.orders);
        let mut order_no = p.first_order_no;
        let span = p.modified_span_ms.max(1);
        for i in 0..p.orders {
            order_no += 1 + rng.below(997);
            // Whole seconds: platforms speak seconds.
            let updated_ms = (p.now_ms - rng.range(0, span)) / 1000 * 1000;
            let created_ms = updated_ms - rng.range(0, 3 * 86_400) * 1000;
            let stage = Stage::ALL[i % Stage::ALL.len()];
            let paid_ms = stage.is_paid().then(|| created_ms + rng.range(1, 600) * 1000).map(|t| t.min(updated_ms));
            orders.push(generate_order(&mut rng, &skus, order_no, stage, (created_ms, paid_ms, updated_ms)));
        }
        Shop { products, skus, orders, after_sales: Vec::new() }
    }

    /// The shop's catalogue.
    pub fn catalog(&self) -> Catalog {
        Catalog { products: self.products.clone(), skus: self.skus.clone() }
    }

    /// A buyer pays a new order now: paid and modified at `now_ms` (whole seconds), created a
    /// little before, no refund, numbered after every order the shop has. Its number.
    pub fn add_paid_order(&mut self, rng: &mut SimRng, now_ms: i64) -> u64 {
        let last = self.orders.iter().map(|o| o.order_no).max().unwrap_or(0);
        let order_no = last + 1 + rng.below(997);
        let paid_ms = now_ms / 1000 * 1000;
        let created_ms = paid_ms - rng.range(1, NEW_ORDER_MAX_CHECKOUT_S) * 1000;
        let mut order = generate_order(rng, &self.skus, order_no, Stage::Paid, (created_ms, Some(paid_ms), paid_ms));
        order.lines.iter_mut().for_each(|l| l.refund = Refund::None);
        self.orders.push(order);
        order_no
    }

    /// The orders modified in `[from, to)`.
    pub fn modified_in(&self, from: i64, to: i64) -> impl Iterator<Item = &Order> {
        self.orders.iter().filter(move |o| from <= o.updated_ms && o.updated_ms < to)
    }

    pub fn order_mut(&mut self, order_no: u64) -> Option<&mut Order> {
        self.orders.iter_mut().find(|o| o.order_no == order_no)
    }

    pub fn sku_by_outer_id(&self, outer_sku_id: &str) -> Option<&Sku> {
        self.skus.iter().find(|s| s.outer_sku_id == outer_sku_id)
    }

    /// Moves the order with the oldest `updated_ms` to its next stage at `now_ms`; its number.
    pub fn change_one(&mut self, now_ms: i64) -> Option<u64> {
        let order = self.orders.iter_mut().min_by_key(|o| (o.updated_ms, o.order_no))?;
        order.stage = order.stage.next();
        if order.stage.is_paid() && order.paid_ms.is_none() {
            order.paid_ms = Some(now_ms / 1000 * 1000);
        }
        // Whole seconds, and strictly later than before.
        order.updated_ms = (now_ms / 1000 * 1000).max(order.updated_ms + 1000);
        Some(order.order_no)
    }
}

impl Shop {
    /// Opens an after-sale of `kind` on order `order_no` at `now_ms`, its lines, amounts and
    /// reason drawn from `rng`; its id. The kind follows the order ([`after_sale::fit_kind`]): a
    /// paid order not shipped gets a refund before shipping (the whole order and its shipping),
    /// a shipped one never does. `None` when the order is unknown or unpaid, or nothing on it
    /// is left to refund. The order's lines show the refund requested, and the order is
    /// modified now.
    pub fn add_after_sale(&mut self, rng: &mut SimRng, order_no: u64, kind: AfterSaleKind, now_ms: i64) -> Option<u64> {
        let order = self.orders.iter().find(|o| o.order_no == order_no)?;
        if !order.stage.is_paid() {
            return None;
        }
        let kind = after_sale::fit_kind(kind, order.stage != Stage::Paid);
        let lines: Vec<Claimable> = order
            .lines
            .iter()
            .map(|l| Claimable {
                line_no: l.line_no,
                sku_no: self.skus[l.sku].sku_no,
                outer_sku_id: self.skus[l.sku].outer_sku_id.clone(),
                quantity: l.quantity,
                paid: l.line_total(),
            })
            .collect();
        let id = after_sale::next_id(&self.after_sales, rng);
        let created_ms = (now_ms / 1000 * 1000).max(order.updated_ms);
        let claimed = |line_no| after_sale::claimed_on(&self.after_sales, line_no);
        let new = NewAfterSale { id, order_no, kind, shipping_fee: order.shipping_fee, created_ms };
        let sale = after_sale::draw_after_sale(rng, new, &lines, claimed)?;
        let at = sale.created_ms;
        self.after_sales.push(sale);
        self.sync_after_sale(id, at);
        Some(id)
    }

    /// Takes `action` on after-sale `id` at `now_ms`; the order's lines follow, and the order
    /// is modified now.
    pub fn act_on_after_sale(
        &mut self,
        id: u64,
        action: &AfterSaleAction,
        now_ms: i64,
    ) -> Result<&AfterSale, AfterSaleError> {
        let i = self.after_sales.iter().position(|a| a.id == id).ok_or(AfterSaleError::NotFound(id))?;
        self.after_sales[i].apply(action, now_ms).map_err(AfterSaleError::NotAllowed)?;
        let at = self.after_sales[i].updated_ms;
        self.sync_after_sale(id, at);
        Ok(&self.after_sales[i])
    }

    /// Moves one open after-sale (picked by `rng`) one natural step
    /// ([`AfterSale::natural_step`]) at `now_ms`; its id.
    pub fn advance_after_sale(&mut self, rng: &mut SimRng, now_ms: i64) -> Option<u64> {
        let open: Vec<usize> =
            (0..self.after_sales.len()).filter(|&i| !self.after_sales[i].status.is_final()).collect();
        let &i = (!open.is_empty()).then(|| rng.pick(&open))?;
        let action = self.after_sales[i].natural_step(rng)?;
        let id = self.after_sales[i].id;
        self.act_on_after_sale(id, &action, now_ms).ok().map(|a| a.id)
    }

    /// Opens an after-sale on a random order at `now_ms`: a paid order not yet shipped (a
    /// refund before shipping, to intercept) when `intercept`, else a shipped or completed one
    /// with a random kind. Its id; `None` when no order fits.
    pub fn open_random_after_sale(&mut self, rng: &mut SimRng, now_ms: i64, intercept: bool) -> Option<u64> {
        let fits = |o: &Order| {
            if intercept { o.stage == Stage::Paid } else { matches!(o.stage, Stage::Shipped | Stage::Completed) }
        };
        let candidates: Vec<u64> = self.orders.iter().filter(|o| fits(o)).map(|o| o.order_no).collect();
        let &order_no = (!candidates.is_empty()).then(|| rng.pick(&candidates))?;
        let kind = *rng.pick(&AfterSaleKind::ALL);
        self.add_after_sale(rng, order_no, kind, now_ms)
    }

    /// `count` after-sales on random paid orders, opened between each order's last change and
    /// `now_ms`, each taken some natural steps further (all before `now_ms`): what a shop holds
    /// at start. Draws only from `rng`.
    pub fn generate_after_sales(&mut self, rng: &mut SimRng, count: usize, now_ms: i64) {
        for _ in 0..count {
            let paid: Vec<u64> = self.orders.iter().filter(|o| o.stage.is_paid()).map(|o| o.order_no).collect();
            if paid.is_empty() {
                return;
            }
            let order_no = *rng.pick(&paid);
            let Some(updated) = self.orders.iter().find(|o| o.order_no == order_no).map(|o| o.updated_ms) else {
                continue;
            };
            let gap_s = ((now_ms - updated) / 1000).max(0);
            let mut at = updated + rng.range(0, gap_s / 2) * 1000;
            let kind = *rng.pick(&AfterSaleKind::ALL);
            let Some(id) = self.add_after_sale(rng, order_no, kind, at) else { continue };
            for _ in 0..rng.below(4) {
                let Some(sale) = self.after_sales.iter().find(|a| a.id == id) else { break };
                let Some(action) = sale.natural_step(rng) else { break };
                at = (at + rng.range(1, ((now_ms - at) / 4000).max(1)) * 1000).min(now_ms);
                if self.act_on_after_sale(id, &action, at).is_err() {
                    break;
                }
            }
        }
    }

    pub fn after_sale(&self, id: u64) -> Option<&AfterSale> {
        self.after_sales.iter().find(|a| a.id == id)
    }

    /// The after-sales changed in `[from, to)`.
    pub fn after_sales_updated_in(&self, from: i64, to: i64) -> impl Iterator<Item = &AfterSale> {
        self.after_sales.iter().filter(move |a| from <= a.updated_ms && a.updated_ms < to)
    }

    /// After a change to after-sale `id` at `at_ms`: the refund of each of its order's lines
    /// (requested while a money after-sale on it is open, refunded once one paid out) and the
    /// order's modification time.
    fn sync_after_sale(&mut self, id: u64, at_ms: i64) {
        let Some(sale) = self.after_sale(id) else { return };
        let order_no = sale.order_no;
        let mut refunds: Vec<(u64, Refund)> = Vec::new();
        if let Some(order) = self.orders.iter().find(|o| o.order_no == order_no) {
            for line in &order.lines {
                let on_line = || {
                    self.after_sales
                        .iter()
                        .filter(|a| a.order_no == order_no && a.kind.refunds_money())
                        .filter(|a| a.lines.iter().any(|l| l.line_no == line.line_no))
                };
                let refund = if on_line().any(|a| !a.status.is_final()) {
                    Refund::Requested
                } else if on_line().any(|a| a.status == AfterSaleStatus::Refunded) {
                    Refund::Refunded
                } else if on_line().next().is_some() {
                    Refund::None
                } else {
                    line.refund
                };
                refunds.push((line.line_no, refund));
            }
        }
        if let Some(order) = self.order_mut(order_no) {
            for (line, (_, refund)) in order.lines.iter_mut().zip(refunds) {
                line.refund = refund;
            }
            // Strictly later, so an incremental pull sees the change.
            order.updated_ms = at_ms.max(order.updated_ms + 1000);
        }
    }
}

/// Splits `amount` over `weights` in proportion, exactly (largest remainder, ties to the
/// first), so the shares always sum to `amount`; negative amounts split the same way.
pub fn apportion(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i64 = weights.iter().sum();
    if weights.is_empty() {
        return Vec::new();
    }
    if total <= 0 {
        let mut v = vec![0; weights.len()];
        v[0] = amount;
        return v;
    }
    let sign = amount.signum();
    let abs = i128::from(amount.abs());
    let total = i128::from(total);
    let mut shares: Vec<i64> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let exact = abs * i128::from(w);
        shares.push((exact / total) as i64);
        remainders.push((exact % total, i));
    }
    let mut left = abs as i64 - shares.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in &remainders {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares.into_iter().map(|s| s * sign).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> Shop {
        Shop::generate(&ShopParams {
            seed: 1,
            orders: 200,
            now_ms: 1_794_326_400_000,
            modified_span_ms: 86_400_000,
            first_order_no: 1_000,
        })
    }

    #[test]
    fn amounts_add_up_and_every_stage_appears() {
        let s = shop();
        assert_eq!(s.orders.len(), 200);
        for o in &s.orders {
            assert_eq!(o.goods_total() + o.shipping_fee - o.discount_total(), o.paid_total());
            assert!(o.lines.iter().all(|l| l.line_total() >= 0 && l.discount >= 0));
            assert!(o.updated_ms % 1000 == 0 && o.updated_ms <= 1_794_326_400_000);
        }
        for stage in Stage::ALL {
            assert!(s.orders.iter().any(|o| o.stage == stage), "{stage:?}");
        }
        assert_eq!(s, shop(), "seeded");
    }

    #[test]
    fn apportion_is_exact() {
        assert_eq!(apportion(10, &[1, 1, 1]).iter().sum::<i64>(), 10);
        assert_eq!(apportion(0, &[5, 5]), vec![0, 0]);
        assert_eq!(apportion(7, &[]), Vec::<i64>::new());
    }

    #[test]
    fn a_shared_catalog_and_new_paid_orders() {
        let catalog = Catalog::generate(9, 4);
        assert_eq!(catalog.products.len(), 4);
        let p = ShopParams {
            seed: 2,
            orders: 30,
            now_ms: 1_794_326_400_000,
            modified_span_ms: 86_400_000,
            first_order_no: 1_000,
        };
        let mut s = Shop::generate_with_catalog(&p, &catalog);
        assert_eq!(s.catalog(), catalog);
        assert!(s.orders.iter().flat_map(|o| &o.lines).all(|l| l.sku < catalog.skus.len()));
        let mut rng = SimRng::new(5);
        let last = s.orders.iter().map(|o| o.order_no).max().unwrap();
        let no = s.add_paid_order(&mut rng, 1_794_326_500_700);
        let o = s.orders.last().unwrap();
        assert!(no > last && o.order_no == no);
        assert_eq!((o.stage, o.paid_ms, o.updated_ms), (Stage::Paid, Some(1_794_326_500_000), 1_794_326_500_000));
        assert!(o.created_ms < o.updated_ms && o.refund() == Refund::None);
        assert_eq!(o.goods_total() + o.shipping_fee - o.discount_total(), o.paid_total());
    }

    #[test]
    fn after_sales_follow_their_orders() {
        let mut s = shop();
        assert!(s.after_sales.is_empty(), "none unless asked for");
        let now = 1_794_326_400_000;
        let mut rng = SimRng::new(8);
        let paid = s.orders.iter().find(|o| o.stage == Stage::Paid).unwrap().order_no;
        let id = s.add_after_sale(&mut rng, paid, AfterSaleKind::Exchange, now + 5_500).unwrap();
        let a = s.after_sale(id).unwrap().clone();
        let o = s.orders.iter().find(|o| o.order_no == paid).unwrap();
        assert_eq!(a.kind, AfterSaleKind::RefundBeforeShipping, "unshipped: an intercept");
        assert_eq!((a.refund_amount, a.shipping_refund), (o.goods_total() - o.discount_total(), o.shipping_fee));
        assert_eq!(o.refund(), Refund::Requested);
        assert_eq!((o.updated_ms, a.created_ms, a.version), (now + 5_000, now + 5_000, 1));
        let shipped = s.orders.iter().find(|o| o.stage == Stage::Shipped).unwrap().order_no;
        let b = s.add_after_sale(&mut rng, shipped, AfterSaleKind::RefundBeforeShipping, now).unwrap();
        assert_eq!(s.after_sale(b).unwrap().kind, AfterSaleKind::RefundAfterShipping);
        let unpaid = s.orders.iter().find(|o| o.stage == Stage::Unpaid).unwrap().order_no;
        assert!(s.add_after_sale(&mut rng, unpaid, AfterSaleKind::Exchange, now).is_none());

        s.act_on_after_sale(id, &AfterSaleAction::Agree, now + 9_000).unwrap();
        let err = s.act_on_after_sale(id, &AfterSaleAction::ConfirmReturn, now + 9_000).unwrap_err();
        assert!(matches!(err, AfterSaleError::NotAllowed(_)), "{err}");
        s.act_on_after_sale(id, &AfterSaleAction::RefundPaid, now + 10_000).unwrap();
        let o = s.orders.iter().find(|o| o.order_no == paid).unwrap();
        assert_eq!((o.refund(), s.after_sale(id).unwrap().version), (Refund::Refunded, 3));
        // Nothing left on that order to refund.
        assert!(s.add_after_sale(&mut rng, paid, AfterSaleKind::RefundBeforeShipping, now).is_none());

        let mut g = shop();
        g.generate_after_sales(&mut SimRng::new(3), 40, now);
        assert!(g.after_sales.len() > 30);
        for a in &g.after_sales {
            let o = g.orders.iter().find(|o| o.order_no == a.order_no).unwrap();
            assert!(a.updated_ms <= now && a.created_ms <= a.updated_ms && o.updated_ms >= a.updated_ms);
            let paid: i64 =
                a.lines.iter().map(|l| o.lines.iter().find(|x| x.line_no == l.line_no).unwrap().line_total()).sum();
            assert!(a.refund_amount <= paid, "{a:?}");
            assert_eq!(a.kind == AfterSaleKind::RefundBeforeShipping, o.stage == Stage::Paid);
        }
        assert!(g.after_sales.iter().any(|a| a.status != AfterSaleStatus::Requested));
    }

    #[test]
    fn a_change_moves_stage_and_time() {
        let mut s = shop();
        let before = s.orders.iter().map(|o| o.updated_ms).min().unwrap();
        let no = s.change_one(1_794_326_500_000).unwrap();
        let o = s.orders.iter().find(|o| o.order_no == no).unwrap();
        assert!(o.updated_ms > before);
    }
}

/// An invoice a simulator accepted for one of its orders (ground truth for end-to-end tests):
/// the fields as the platform's call carried them, each `None` when that platform's call does
/// not carry it (抖店 takes only the order and the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedInvoice {
    /// The order, as the platform numbers it.
    pub order_id: String,
    /// The platform's kind as sent (TOP `invoice_kind` `0`/`1`/`2`).
    pub kind: Option<String>,
    /// 发票抬头.
    pub title: Option<String>,
    /// The buyer's tax id.
    pub tax_id: Option<String>,
    pub invoice_no: Option<String>,
    pub invoice_code: Option<String>,
    /// Tax included, in fen (parsed from the platform's yuan string).
    pub amount_fen: Option<i64>,
    /// `yyyy-MM-dd`, as sent.
    pub issued_on: Option<String>,
    /// The file's URL, when the platform takes one.
    pub file_url: Option<String>,
    /// When the simulator accepted it (its clock, UTC ms).
    pub received_at_ms: i64,
}

/// Whether `s` is a calendar date `yyyy-MM-dd` (digits and dashes, month 1..=12, day 1..=31).
pub fn is_calendar_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok().filter(|_| s.is_char_boundary(0));
    let all_digits = b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    all_digits && matches!(num(5..7), Some(1..=12)) && matches!(num(8..10), Some(1..=31))
}
