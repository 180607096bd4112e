//! The seeded generator of the simulated shop: an item catalog and the trades sold from it.
//!
//! Everything derives from the seed, `now` and the counts, so a test can rely on the data
//! being the same on every run. The shapes follow what TOP returns today: masked buyers and
//! receivers with an `oaid`, 19-digit `tid`/`oid` (some above `i64::MAX`), yuan amounts with
//! fen precision, and every trade and refund status.

use std::collections::HashSet;

use super::model::{RefundStatus, SimInvoice, SimItem, SimOrder, SimReceiver, SimSku, SimTrade, TradeStatus};
use crate::rng::SimRng;
use crate::shop::Catalog;
pub use crate::shop::apportion;

const SECOND_MS: i64 = 1000;
const DAY_S: i64 = 86_400;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenParams {
    pub seed: u64,
    pub orders: usize,
    pub items: usize,
    /// The generator's "now": no trade is modified after it.
    pub now_ms: i64,
    /// `modified` values fall in `[now − span, now]`.
    pub modified_span_ms: i64,
}

pub struct Generated {
    pub items: Vec<SimItem>,
    pub trades: Vec<SimTrade>,
}

/// A property of a product with its values, e.g. 颜色分类 with 白色/黑色.
struct Prop {
    name: &'static str,
    /// TOP's property id; 1627207 (颜色分类) and 20509 (尺码) are the platform's well-known
    /// ones, the rest are made up.
    pid: u32,
    values: &'static [&'static str],
}

struct Template {
    title: &'static str,
    props: &'static [Prop],
    /// Base price range in yuan.
    yuan: (i64, i64),
}

const COLOR: u32 = 1_627_207;
const SIZE: u32 = 20_509;

const TEMPLATES: &[Template] = &[
    Template {
        title: "夏季纯棉短袖T恤男宽松百搭圆领上衣",
        props: &[
            Prop { name: "颜色分类", pid: COLOR, values: &["白色", "黑色", "藏青色", "灰色"] },
            Prop { name: "尺码", pid: SIZE, values: &["M", "L", "XL", "XXL"] },
        ],
        yuan: (39, 129),
    },
    Template {
        title: "加厚珊瑚绒睡衣女冬季家居服套装",
        props: &[
            Prop { name: "颜色分类", pid: COLOR, values: &["粉色", "浅紫", "米白"] },
            Prop { name: "尺码", pid: SIZE, values: &["M", "L", "XL"] },
        ],
        yuan: (69, 199),
    },
    Template {
        title: "适用iPhone15手机壳透明防摔硅胶保护套",
        props: &[
            Prop { name: "颜色分类", pid: COLOR, values: &["透明", "磨砂黑", "天蓝"] },
            Prop {
                name: "适用型号", pid: 39_141_784, values: &["iPhone 15", "iPhone 15 Pro", "iPhone 15 Pro Max"]
            },
        ],
        yuan: (9, 39),
    },
    Template {
        title: "每日坚果混合果仁零食大礼包",
        props: &[
            Prop { name: "口味", pid: 122_216_343, values: &["原味", "混合装"] },
            Prop { name: "净含量", pid: 122_216_345, values: &["750g", "1.5kg"] },
        ],
        yuan: (49, 159),
    },
    Template { title: "云南古树普洱茶熟茶饼357g", props: &[], yuan: (88, 688) },
    Template {
        title: "无线蓝牙耳机半入耳式降噪运动跑步",
        props: &[Prop { name: "颜色分类", pid: COLOR, values: &["白色", "黑色"] }],
        yuan: (99, 399),
    },
    Template {
        title: "不锈钢保温杯男女大容量便携水杯",
        props: &[
            Prop { name: "颜色分类", pid: COLOR, values: &["雾霾蓝", "奶白", "樱花粉"] },
            Prop { name: "容量", pid: 122_276_380, values: &["500ml", "750ml"] },
        ],
        yuan: (29, 99),
    },
    Template { title: "儿童绘本3-6岁幼儿启蒙早教故事书全10册", props: &[], yuan: (19, 89) },
    Template {
        title: "补水保湿面膜女玻尿酸贴片式",
        props: &[Prop { name: "规格", pid: 122_508_275, values: &["10片", "20片", "30片"] }],
        yuan: (39, 159),
    },
    Template {
        title: "家用抽纸整箱实惠装原木纸巾餐巾纸",
        props: &[Prop { name: "规格", pid: 122_508_275, values: &["24包", "36包"] }],
        yuan: (29, 69),
    },
    Template {
        title: "运动鞋男透气网面跑步鞋轻便休闲鞋",
        props: &[
            Prop { name: "颜色分类", pid: COLOR, values: &["黑白", "全黑", "灰蓝"] },
            Prop { name: "鞋码", pid: 20_549, values: &["40", "41", "42", "43", "44"] },
        ],
        yuan: (129, 459),
    },
    Template {
        title: "LED护眼台灯学生宿舍充电阅读灯",
        props: &[
            Prop { name: "颜色分类", pid: COLOR, values: &["白色", "粉色"] },
            Prop { name: "款式", pid: 122_216_608, values: &["充电款", "插电款"] },
        ],
        yuan: (39, 169),
    },
    Template { title: "东北五常大米新米10斤装", props: &[], yuan: (59, 129) },
    Template {
        title: "北欧陶瓷餐具套装家用碗碟筷组合",
        props: &[Prop { name: "套餐", pid: 122_216_347, values: &["4人食", "6人食", "10人食"] }],
        yuan: (89, 399),
    },
];

const TITLE_PREFIXES: &[&str] = &["", "", "2024新款", "【官方旗舰店】", "包邮 ", "爆款"];

/// Relative weights of [`TradeStatus::ALL`] after the first twelve trades (which take each
/// status once so small shops still cover them all).
const STATUS_WEIGHTS: [u32; 12] = [1, 8, 1, 1, 25, 3, 2, 20, 4, 25, 5, 5];

/// Line counts 1..=4.
const LINE_COUNT_WEIGHTS: [u32; 4] = [55, 25, 12, 8];
/// Quantities 1..=4.
const QUANTITY_WEIGHTS: [u32; 4] = [70, 20, 7, 3];

const POST_FEES: &[i64] = &[500, 600, 800, 1000, 1200, 1500, 2000];
const COUPONS: &[i64] = &[300, 500, 1000, 2000, 3000];

/// (province as `receiver_state`, [(city, [district], zip)]).
type Region = (&'static str, &'static [(&'static str, &'static [&'static str], &'static str)]);
const REGIONS: &[Region] = &[
    ("浙江省", &[("杭州市", &["西湖区", "余杭区", "滨江区"], "310000"), ("宁波市", &["鄞州区", "海曙区"], "315000")]),
    (
        "广东省",
        &[("广州市", &["天河区", "越秀区", "番禺区"], "510000"), ("深圳市", &["南山区", "福田区", "宝安区"], "518000")],
    ),
    ("江苏省", &[("南京市", &["玄武区", "鼓楼区"], "210000"), ("苏州市", &["姑苏区", "吴中区"], "215000")]),
    ("北京", &[("北京市", &["朝阳区", "海淀区", "东城区"], "100000")]),
    ("上海", &[("上海市", &["浦东新区", "徐汇区", "静安区"], "200000")]),
    ("四川省", &[("成都市", &["武侯区", "锦江区", "成华区"], "610000")]),
    ("湖北省", &[("武汉市", &["洪山区", "江汉区"], "430000")]),
    ("山东省", &[("青岛市", &["市南区", "崂山区"], "266000"), ("济南市", &["历下区"], "250000")]),
    ("福建省", &[("厦门市", &["思明区", "湖里区"], "361000")]),
    ("河南省", &[("郑州市", &["金水区", "二七区"], "450000")]),
];
const TOWNS: &[&str] = &["城东街道", "城西街道", "南苑街道", "新华街道", "东湖街道", "文新街道"];
const STREETS: &[&str] = &["文三路", "学院路", "人民路", "解放路", "中山北路", "建设大道", "天目山路"];
const ESTATES: &[&str] = &["阳光花园", "翠苑一区", "金色家园", "幸福里", "绿城桂花园"];
const SURNAMES: &[&str] = &["张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "欧阳", "诸葛"];
const GIVEN_NAMES: &[&str] = &["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军"];
const MOBILE_PREFIXES: &[&str] = &["138", "139", "136", "150", "158", "186", "188", "177", "199", "135"];
const AREA_CODES: &[&str] = &["0571", "020", "025", "010", "021", "028"];
const CN_NICKS: &[&str] = &["快乐的小猫咪", "阳光男孩", "追风少年", "爱吃鱼的喵", "小小宝贝", "一路向北", "南方姑娘"];
const COMPANIES: &[&str] =
    &["杭州云帆科技有限公司", "上海明远贸易有限公司", "深圳市前海星辰网络科技有限公司", "北京东方宏业商贸有限公司"];
const BUYER_MESSAGES: &[&str] = &[
    "请尽快发货，谢谢！",
    "不要放快递柜，打电话联系",
    "送人的，请不要放发票和价格单",
    "备注:\"加急\"\n周末也可以送\\到付不要",
    "颜色发白色的",
];
const SELLER_MEMOS: &[&str] = &["已备注赠品一份", "老客户，优先发货", "改地址：见旺旺聊天记录", "缺货，等通知"];

/// base64url-like alphabet of `buyer_open_uid`.
const OPEN_UID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const OAID_LEN: usize = 70;

/// Draws ids that are unique across everything generated.
struct Ids {
    used: HashSet<u64>,
}

impl Ids {
    fn draw(&mut self, rng: &mut SimRng, lo: u64, span: u64) -> u64 {
        loop {
            let id = lo + rng.below(span);
            if self.used.insert(id) {
                return id;
            }
        }
    }

    /// A 19-digit id like today's `tid`/`oid`; about 8 % exceed `i64::MAX`.
    fn trade_id(&mut self, rng: &mut SimRng) -> u64 {
        const LO: u64 = 1_000_000_000_000_000_000;
        self.draw(rng, LO, 10 * LO - LO)
    }
}

pub fn generate(p: &GenParams) -> Generated {
    let root = SimRng::new(p.seed);
    let mut ids = Ids { used: HashSet::new() };
    let now_s = p.now_ms.div_euclid(SECOND_MS);
    let items = gen_items(&mut root.fork(1), &mut ids, p.items, now_s, p.modified_span_ms);
    let mut rng = root.fork(2);
    let span_s = (p.modified_span_ms / SECOND_MS).max(1);
    let trades = (0..p.orders).map(|i| gen_trade(&mut rng, &mut ids, &items, i, now_s, span_s)).collect();
    Generated { items, trades }
}

fn gen_items(rng: &mut SimRng, ids: &mut Ids, count: usize, now_s: i64, span_ms: i64) -> Vec<SimItem> {
    (0..count)
        .map(|i| {
            let t = &TEMPLATES[i % TEMPLATES.len()];
            let num_iid = ids.draw(rng, 500_000_000_000, 300_000_000_000);
            let outer_id = (!rng.percent(5)).then(|| format!("WH{:05}", i + 1));
            let base = rng.range(t.yuan.0, t.yuan.1) * 100 + *rng.pick(&[0, 0, 90, 90, 99, 50, 80]);
            let combos = combinations(t.props);
            let skus: Vec<SimSku> = combos
                .iter()
                .enumerate()
                .map(|(j, combo)| {
                    let last = combo.last().map_or(0, |&(_, v)| v as i64);
                    SimSku {
                        sku_id: ids.draw(rng, 4_000_000_000_000, 1_000_000_000_000),
                        properties: combo
                            .iter()
                            .map(|&(p, v)| format!("{}:{}", t.props[p].pid, value_id(t.props[p].pid, v)))
                            .collect::<Vec<_>>()
                            .join(";"),
                        properties_name: properties_name(t.props, combo),
                        outer_id: outer_id.as_ref().map(|o| format!("{o}-{:02}", j + 1)),
                        price: base + last * (base / 1000) * 100,
                        quantity: if rng.percent(15) { 0 } else { rng.range(1, 500) },
                    }
                })
                .collect();
            let (price, num) = if skus.is_empty() {
                (base, rng.range(0, 999))
            } else {
                (skus.iter().map(|s| s.price).min().unwrap_or(base), skus.iter().map(|s| s.quantity).sum())
            };
            SimItem {
                num_iid,
                title: format!("{}{}", rng.pick(TITLE_PREFIXES), t.title),
                outer_id,
                price,
                num,
                listed: rng.percent(90),
                skus,
                modified_ms: (now_s - rng.range(0, (span_ms / SECOND_MS).max(1) * 10)) * SECOND_MS,
            }
        })
        .collect()
}

/// Every combination of one value per property, as (property index, value index) pairs.
fn combinations(props: &[Prop]) -> Vec<Vec<(usize, usize)>> {
    if props.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<Vec<(usize, usize)>> = vec![Vec::new()];
    for (pi, prop) in props.iter().enumerate() {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                (0..prop.values.len()).map(move |vi| {
                    let mut c = prefix.clone();
                    c.push((pi, vi));
                    c
                })
            })
            .collect();
    }
    out
}

/// A made-up but stable value id for a property value.
fn value_id(pid: u32, value_index: usize) -> u64 {
    u64::from(pid % 10_000) * 1000 + 28_300 + value_index as u64
}

fn properties_name(props: &[Prop], combo: &[(usize, usize)]) -> String {
    combo.iter().map(|&(p, v)| format!("{}:{}", props[p].name, props[p].values[v])).collect::<Vec<_>>().join(";")
}

/// The refund statuses that need a shipped trade (the buyer returns goods).
fn needs_goods_out(r: RefundStatus) -> bool {
    matches!(r, RefundStatus::WaitBuyerReturnGoods | RefundStatus::WaitSellerConfirmGoods)
}

fn gen_trade(rng: &mut SimRng, ids: &mut Ids, items: &[SimItem], index: usize, now_s: i64, span_s: i64) -> SimTrade {
    // The first trades cover every status, then the six non-trivial refund statuses on a
    // shipped trade; the rest follow the weights.
    let refund_slot = index.checked_sub(TradeStatus::ALL.len()).filter(|&k| k + 1 < RefundStatus::ALL.len());
    let status = match (TradeStatus::ALL.get(index), refund_slot) {
        (Some(&s), _) => s,
        (None, Some(_)) => TradeStatus::WaitBuyerConfirmGoods,
        (None, None) => TradeStatus::ALL[rng.weighted(&STATUS_WEIGHTS)],
    };
    let forced_refund = refund_slot.map(|k| RefundStatus::ALL[k + 1]);
    gen_trade_as(rng, ids, items, status, forced_refund, now_s, span_s)
}

/// The catalogue items of a shop that sells `catalog` (shared with other simulators): one
/// item per product, `num_iid` the product's number, one SKU per SKU with the merchant's code
/// as `outer_id` and its spec as `properties_name`.
pub fn items_from_catalog(catalog: &Catalog, now_ms: i64) -> Vec<SimItem> {
    catalog
        .products
        .iter()
        .enumerate()
        .map(|(p, product)| {
            let skus: Vec<SimSku> = catalog
                .skus
                .iter()
                .filter(|s| s.product == p)
                .enumerate()
                .map(|(j, s)| SimSku {
                    sku_id: s.sku_no,
                    // Made-up property and value ids, stable per position.
                    properties: format!("{}:{}", 122_216_000 + p as u64, value_id(COLOR, j)),
                    properties_name: s.spec.clone(),
                    outer_id: Some(s.outer_sku_id.clone()),
                    price: s.price,
                    quantity: s.stock,
                })
                .collect();
            SimItem {
                num_iid: product.product_no,
                title: product.title.clone(),
                outer_id: Some(product.outer_product_id.clone()),
                price: skus.iter().map(|s| s.price).min().unwrap_or(0),
                num: skus.iter().map(|s| s.quantity).sum(),
                listed: catalog.skus.iter().filter(|s| s.product == p).all(|s| s.listed),
                skus,
                modified_ms: now_ms.div_euclid(SECOND_MS) * SECOND_MS,
            }
        })
        .collect()
}

/// Trades sold from `items` (see [`items_from_catalog`]), as [`generate`] makes them.
pub fn generate_selling(p: &GenParams, items: Vec<SimItem>) -> Generated {
    let mut ids = Ids {
        used: items.iter().flat_map(|i| std::iter::once(i.num_iid).chain(i.skus.iter().map(|s| s.sku_id))).collect(),
    };
    let mut rng = SimRng::new(p.seed).fork(4);
    let now_s = p.now_ms.div_euclid(SECOND_MS);
    let span_s = (p.modified_span_ms / SECOND_MS).max(1);
    let trades = (0..p.orders).map(|i| gen_trade(&mut rng, &mut ids, &items, i, now_s, span_s)).collect();
    Generated { items, trades }
}

/// A buyer pays a new trade at `now_ms`: `WAIT_SELLER_SEND_GOODS`, created a little before,
/// paid and modified at `now_ms` (whole seconds), no refund; `taken` ids are not reused.
pub fn new_paid_trade(
    rng: &mut SimRng,
    items: &[SimItem],
    taken: impl IntoIterator<Item = u64>,
    now_ms: i64,
) -> SimTrade {
    let mut ids = Ids { used: taken.into_iter().collect() };
    let now_s = now_ms.div_euclid(SECOND_MS);
    let status = TradeStatus::WaitSellerSendGoods;
    let mut t = gen_trade_as(rng, &mut ids, items, status, None, now_s, 1);
    for l in &mut t.orders {
        l.status = status;
        l.refund_status = Some(RefundStatus::NoRefund);
    }
    t.modified_ms = now_s * SECOND_MS;
    t.pay_time_ms = Some(t.modified_ms);
    t.created_ms = t.modified_ms - rng.range(1, 600) * SECOND_MS;
    t.consign_time_ms = None;
    t.end_time_ms = None;
    t
}

fn gen_trade_as(
    rng: &mut SimRng,
    ids: &mut Ids,
    items: &[SimItem],
    status: TradeStatus,
    forced_refund: Option<RefundStatus>,
    now_s: i64,
    span_s: i64,
) -> SimTrade {
    let mut line_count = rng.weighted(&LINE_COUNT_WEIGHTS) + 1;
    if status == TradeStatus::SellerConsignedPart || forced_refund.is_some() {
        line_count = line_count.max(2);
    }
    let tid = ids.trade_id(rng);

    // Lines: distinct (item, sku) picks.
    let mut picks: Vec<(usize, Option<usize>)> = Vec::with_capacity(line_count);
    while picks.len() < line_count {
        let item = rng.below(items.len() as u64) as usize;
        let sku = (!items[item].skus.is_empty()).then(|| rng.below(items[item].skus.len() as u64) as usize);
        if !picks.contains(&(item, sku)) || picks.len() >= items.len() {
            picks.push((item, sku));
        }
    }

    let legacy = rng.percent(15);
    let mut lines: Vec<SimOrder> = picks
        .iter()
        .map(|&(i, s)| {
            let item = &items[i];
            let sku = s.map(|s| &item.skus[s]);
            let num = rng.weighted(&QUANTITY_WEIGHTS) as i64 + 1;
            let price = sku.map_or(item.price, |s| s.price);
            let total_fee = price * num;
            let discount_fee = if rng.percent(25) { total_fee * rng.range(5, 20) / 100 } else { 0 };
            SimOrder {
                oid: 0,
                num_iid: item.num_iid,
                sku_id: sku.map(|s| s.sku_id),
                outer_iid: item.outer_id.clone(),
                outer_sku_id: sku.and_then(|s| s.outer_id.clone()),
                title: item.title.clone(),
                sku_properties_name: sku.map(|s| s.properties_name.clone()),
                num,
                price,
                total_fee,
                discount_fee,
                adjust_fee: 0,
                payment: 0,
                divide_order_fee: None,
                status,
                refund_status: None,
            }
        })
        .collect();
    if lines.len() == 1 {
        // TOP gives a single-line trade's sub-order the trade's own id.
        lines[0].oid = tid;
    } else {
        for l in &mut lines {
            l.oid = ids.trade_id(rng);
        }
    }

    let weights: Vec<i64> = lines.iter().map(|l| l.total_fee - l.discount_fee).collect();
    let net: i64 = weights.iter().sum();
    let coupon = if !legacy && rng.percent(30) {
        let c = *rng.pick(COUPONS);
        if c * 2 <= net { c } else { 0 }
    } else {
        0
    };
    let roll = rng.below(100);
    let adjust = if roll < 80 || net - coupon < 100 {
        0
    } else if roll < 95 {
        -rng.range(1, (net - coupon) / 10)
    } else {
        rng.range(1, 500)
    };
    let adjust_shares = apportion(adjust, &weights);
    let coupon_shares = apportion(coupon, &weights);
    for ((l, a), c) in lines.iter_mut().zip(&adjust_shares).zip(&coupon_shares) {
        l.adjust_fee = *a;
        l.payment = l.total_fee - l.discount_fee + a;
        l.divide_order_fee = (!legacy).then_some(l.payment - c);
    }

    assign_line_statuses(rng, &mut lines, status, forced_refund);

    let total_fee: i64 = lines.iter().map(|l| l.total_fee).sum();
    let discount_fee = lines.iter().map(|l| l.discount_fee).sum::<i64>() + coupon;
    let post_fee = if rng.percent(70) { 0 } else { *rng.pick(POST_FEES) };
    let payment = total_fee + post_fee - discount_fee + adjust;

    // Times, in whole seconds: created ≤ pay ≤ consign ≤ end ≤ modified ≤ now.
    let modified_s = now_s - rng.below(span_s as u64) as i64;
    let age_s = match status {
        s if !s.is_paid() && s != TradeStatus::TradeClosedByTaobao => rng.range(0, 1800),
        TradeStatus::TradeClosedByTaobao => rng.range(900, DAY_S),
        TradeStatus::WaitSellerSendGoods | TradeStatus::PaidForbidConsign => rng.range(60, 3 * DAY_S),
        TradeStatus::TradeFinished | TradeStatus::TradeClosed => rng.range(3 * DAY_S, 20 * DAY_S),
        _ => rng.range(DAY_S, 10 * DAY_S),
    };
    let created_s = modified_s - age_s;
    let pay_s = status.is_paid().then(|| created_s + rng.range(5, 1800).min(age_s / 4));
    let consign_s = match (status.is_consigned(), pay_s) {
        (true, Some(pay)) => Some(pay + (modified_s - pay) * rng.range(20, 60) / 100),
        _ => None,
    };
    let end_s = status.is_final().then_some(modified_s);
    let ms = |s: i64| s * SECOND_MS;

    let (receiver, oaid) = gen_receiver(rng);
    let shipping_type = if receiver.is_none() { "virtual" } else { "express" };
    SimTrade {
        tid,
        status,
        trade_type: "fixed",
        buyer_nick: gen_nick(rng),
        buyer_open_uid: format!("AA{}", rng.string_from(OPEN_UID_ALPHABET, 22)),
        oaid,
        total_fee,
        post_fee,
        discount_fee,
        adjust_fee: adjust,
        payment,
        receiver,
        created_ms: ms(created_s),
        modified_ms: ms(modified_s),
        pay_time_ms: pay_s.map(ms),
        consign_time_ms: consign_s.map(ms),
        end_time_ms: end_s.map(ms),
        buyer_message: rng.percent(25).then(|| rng.pick(BUYER_MESSAGES).to_string()),
        seller_memo: rng.percent(15).then(|| rng.pick(SELLER_MEMOS).to_string()),
        shipping_type,
        invoice: rng.percent(20).then(|| gen_invoice(rng)),
        orders: lines,
    }
}

fn assign_line_statuses(
    rng: &mut SimRng,
    lines: &mut [SimOrder],
    status: TradeStatus,
    forced_refund: Option<RefundStatus>,
) {
    let no_refund = |rng: &mut SimRng| (!rng.percent(10)).then_some(RefundStatus::NoRefund);
    for l in lines.iter_mut() {
        l.status = status;
        l.refund_status = no_refund(rng);
    }
    match status {
        TradeStatus::SellerConsignedPart => {
            for (i, l) in lines.iter_mut().enumerate() {
                l.status = if i == 0 { TradeStatus::WaitBuyerConfirmGoods } else { TradeStatus::WaitSellerSendGoods };
            }
        }
        TradeStatus::TradeClosed => {
            // Paid, then fully refunded.
            for l in lines.iter_mut() {
                l.refund_status = Some(RefundStatus::Success);
            }
        }
        _ => {}
    }
    let refundable = status.is_paid() && status != TradeStatus::TradeClosed;
    let refund = match forced_refund {
        Some(r) => Some(r),
        None if refundable && rng.percent(10) => {
            let options = &RefundStatus::ALL[1..];
            let r = *rng.pick(options);
            if needs_goods_out(r) && !status.is_consigned() { Some(RefundStatus::WaitSellerAgree) } else { Some(r) }
        }
        None => None,
    };
    if let Some(r) = refund {
        // A refunded single-line trade would be TRADE_CLOSED; keep single lines open.
        let r = if r == RefundStatus::Success && lines.len() == 1 { RefundStatus::Closed } else { r };
        let i = rng.below(lines.len() as u64) as usize;
        lines[i].refund_status = Some(r);
        if r == RefundStatus::Success {
            lines[i].status = TradeStatus::TradeClosed;
        }
    }
}

fn mask_middle(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        [] => String::new(),
        [only] => format!("{only}**"),
        [first, .., last] => format!("{first}**{last}"),
    }
}

fn gen_nick(rng: &mut SimRng) -> String {
    let plain = if rng.percent(50) {
        format!("tb{}", rng.range(10_000_000, 999_999_999))
    } else {
        rng.pick(CN_NICKS).to_string()
    };
    mask_middle(&plain)
}

/// A receiver and its `oaid`: mostly masked with an oaid, a few plain (older trades), a few
/// absent (virtual goods).
fn gen_receiver(rng: &mut SimRng) -> (Option<SimReceiver>, Option<String>) {
    let roll = rng.below(100);
    if roll < 2 {
        return (None, None);
    }
    let masked = roll >= 5;
    let (state, cities) = *rng.pick(REGIONS);
    let (city, districts, zip) = *rng.pick(cities);
    let district = rng.pick(districts).to_string();
    let surname = rng.pick(SURNAMES);
    let digits4 = format!("{:04}", rng.below(10_000));
    let name = if masked { format!("{surname}*") } else { format!("{surname}{}", rng.pick(GIVEN_NAMES)) };
    let has_mobile = !rng.percent(5);
    let has_phone = !has_mobile || rng.percent(10);
    let mobile = has_mobile.then(|| {
        let prefix = rng.pick(MOBILE_PREFIXES);
        if masked { format!("{prefix}****{digits4}") } else { format!("{prefix}{:04}{digits4}", rng.below(10_000)) }
    });
    let phone = has_phone.then(|| {
        let area = rng.pick(AREA_CODES);
        if masked { format!("{area}-****{digits4}") } else { format!("{area}-{:04}{digits4}", rng.below(10_000)) }
    });
    let street = rng.pick(STREETS);
    let estate = rng.pick(ESTATES);
    let address = if masked {
        format!("{street}**号{estate}*幢***室")
    } else {
        format!("{street}{}号{estate}{}幢{}室", rng.range(1, 999), rng.range(1, 30), rng.range(101, 2808))
    };
    let receiver = SimReceiver {
        name,
        mobile,
        phone,
        state: state.to_string(),
        city: city.to_string(),
        district,
        town: rng.percent(70).then(|| rng.pick(TOWNS).to_string()),
        address,
        zip: rng.percent(80).then(|| zip.to_string()),
    };
    let oaid = masked.then(|| rng.string_from(ALNUM, OAID_LEN));
    (Some(receiver), oaid)
}

fn gen_invoice(rng: &mut SimRng) -> SimInvoice {
    let kind = ["1", "2", "3"][rng.weighted(&[60, 25, 15])];
    let name = if kind != "3" && rng.percent(50) { "个人".to_string() } else { rng.pick(COMPANIES).to_string() };
    // UNSURE: TOP documents `invoice_type` as free text; these are plausible labels.
    let label = match kind {
        "1" => "电子发票",
        "2" => "纸质发票",
        _ => "增值税专用发票",
    };
    SimInvoice { kind, name, invoice_type: rng.percent(70).then(|| label.to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(orders: usize) -> GenParams {
        GenParams { seed: 7, orders, items: 40, now_ms: 1_700_000_000_000, modified_span_ms: 3 * DAY_S * SECOND_MS }
    }

    #[test]
    fn deterministic_per_seed() {
        let a = generate(&params(50));
        let b = generate(&params(50));
        assert_eq!(a.trades, b.trades);
        assert_eq!(a.items, b.items);
        let c = generate(&GenParams { seed: 8, ..params(50) });
        assert_ne!(a.trades, c.trades);
    }

    #[test]
    fn money_identities_hold() {
        let g = generate(&params(3000));
        for t in &g.trades {
            t.check_money().unwrap();
            assert!(t.payment >= 0 && t.orders.iter().all(|o| o.line_total() >= 0));
        }
        assert!(g.trades.iter().any(|t| t.adjust_fee < 0));
        assert!(g.trades.iter().any(|t| t.adjust_fee > 0));
        assert!(g.trades.iter().any(|t| t.orders.iter().any(|o| o.divide_order_fee.is_none())));
        assert!(
            g.trades.iter().any(|t| { t.orders.iter().any(|o| o.divide_order_fee.is_some_and(|d| d != o.payment)) })
        );
    }

    #[test]
    fn covers_statuses_ids_and_optional_fields() {
        let g = generate(&params(200));
        for s in TradeStatus::ALL {
            assert!(g.trades.iter().any(|t| t.status == s), "{s:?}");
        }
        for r in RefundStatus::ALL {
            assert!(g.trades.iter().flat_map(|t| &t.orders).any(|o| o.refund_status == Some(r)), "{r:?}");
        }
        assert!(g.trades.iter().flat_map(|t| &t.orders).any(|o| o.refund_status.is_none()));
        assert!(g.trades.iter().all(|t| t.tid > 1 << 53 && t.tid.to_string().len() == 19));
        assert!(g.trades.iter().any(|t| t.tid > i64::MAX as u64));
        assert!(g.trades.iter().any(|t| t.invoice.is_some()));
        assert!(g.trades.iter().any(|t| t.buyer_message.is_some()));
        assert!(g.trades.iter().any(|t| t.pay_time_ms.is_none()));
        assert!(g.trades.iter().any(|t| t.orders.len() == 4));
        let mut tids: Vec<u64> = g.trades.iter().map(|t| t.tid).collect();
        tids.sort_unstable();
        tids.dedup();
        assert_eq!(tids.len(), g.trades.len());
    }

    #[test]
    fn times_are_ordered_and_in_range() {
        let p = params(500);
        let g = generate(&p);
        for t in &g.trades {
            assert!(t.modified_ms <= p.now_ms && t.modified_ms >= p.now_ms - p.modified_span_ms - 1000);
            assert_eq!(t.modified_ms % 1000, 0);
            let chain = [Some(t.created_ms), t.pay_time_ms, t.consign_time_ms, t.end_time_ms, Some(t.modified_ms)];
            let present: Vec<i64> = chain.into_iter().flatten().collect();
            assert!(present.windows(2).all(|w| w[0] <= w[1]), "tid {}: {present:?}", t.tid);
            assert_eq!(t.pay_time_ms.is_some(), t.status.is_paid());
        }
    }

    #[test]
    fn apportion_is_exact() {
        assert_eq!(apportion(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(apportion(-100, &[1, 1, 1]), vec![-34, -33, -33]);
        assert_eq!(apportion(7, &[0, 10]), vec![0, 7]);
        assert_eq!(apportion(5, &[]), Vec::<i64>::new());
    }

    #[test]
    fn masking() {
        assert_eq!(mask_middle("tb12345671"), "t**1");
        assert_eq!(mask_middle("快乐的小猫咪"), "快**咪");
    }
}
