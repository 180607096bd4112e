//! The JOS methods the simulator serves: their parameters (from `360buy_param_json`), what
//! they do to the shop, and their `<method>_responce` bodies.
//!
//! Business refusals are not gateway errors: JOS answers them inside the success envelope, in
//! `apiResult` (`{"success":false,"numberCode":…,"chineseErrCode":…,"englishErrCode":…}`) or,
//! for the write methods, in the flat result object (`success`, `errorCode`, …). The number
//! codes used here are the simulator's own; JOS's vary per API.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::Shared;
use super::cache::{Fields, StateSet, state_bit};
use super::render::{self, CARRIERS, SHIPPABLE, order_state};
use crate::serve::lock;
use crate::shop::{Order, Stage};
use crate::taobao::parse_gmt8;

pub const ORDER_SEARCH: &str = "jingdong.pop.order.search";
pub const ORDER_GET: &str = "jingdong.pop.order.get";
pub const UPDATE_SKU_STOCK: &str = "jingdong.stock.write.updateSkuStock";
pub const ORDER_SHIPMENT: &str = "jingdong.pop.order.shipment";

/// Every method the simulator knows; anything else is gateway code 15.
pub const METHODS: &[&str] = &[
    ORDER_SEARCH,
    ORDER_GET,
    UPDATE_SKU_STOCK,
    ORDER_SHIPMENT,
    super::after_sale::REFUND_APPLY_QUERY,
    super::after_sale::REFUND_APPLY_REPLY,
    super::after_sale::ASC_QUERY_LIST,
    super::after_sale::ASC_QUERY_VIEW,
    super::decrypt::OAID_DECRYPT,
    super::decrypt::LOG_UPLOAD,
];

/// `page_size` of `jingdong.pop.order.search`: JOS's bounds and default (UNSURE: its docs
/// say at most 100; the default of 10 is what its console fills in).
pub const MAX_PAGE_SIZE: u64 = 100;
const DEFAULT_PAGE_SIZE: u64 = 10;
/// The longest `start_date`..`end_date` JOS searches by modification time (UNSURE: "单窗口
/// 最多一个月" in integrators' notes; a month is taken as 30 days).
pub const MAX_SEARCH_SPAN_MS: i64 = 30 * 86_400 * 1000;
/// Where each method's answer sits inside `<method>_responce` (`None`: flat in it).
const RESULT_KEYS: &[(&str, Option<&str>)] = &[
    (ORDER_SEARCH, Some("searchorderinfo_result")),
    (ORDER_GET, Some("orderDetailInfo")),
    (UPDATE_SKU_STOCK, None),
    (ORDER_SHIPMENT, Some("sopjosshipment_result")),
];

/// `numberCode` of a successful `apiResult`.
const SUCCESS_CODE: u64 = 10_100_000;
/// The simulator's codes for refusals (made up; see the module docs).
const BAD_PARAM: u64 = 10_100_001;
const NOT_FOUND: u64 = 10_100_002;
const BAD_STATE: u64 = 10_100_003;

/// JD's success envelope key: dots → `_`, case kept, and its own spelling `_responce`.
pub fn response_key(method: &str) -> String {
    format!("{}_responce", method.replace('.', "_"))
}

/// A business refusal.
#[derive(Debug)]
struct Refusal {
    code: u64,
    zh: String,
    en: String,
}

impl Refusal {
    fn param(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self { code: BAD_PARAM, zh: zh.into(), en: en.into() }
    }
}

/// An `apiResult`.
fn api_result(refusal: Option<&Refusal>) -> Value {
    match refusal {
        None => {
            json!({"success": true, "numberCode": SUCCESS_CODE, "chineseErrCode": "成功", "englishErrCode": "success"})
        }
        Some(r) => json!({"success": false, "numberCode": r.code, "chineseErrCode": r.zh, "englishErrCode": r.en}),
    }
}

/// A write method's flat result (`OperatorResult`).
fn operator_result(outcome: Result<(), Refusal>) -> Value {
    match outcome {
        Ok(()) => json!({"success": true, "errorCode": "", "chineseErrCode": "成功", "englishErrCode": "success"}),
        Err(r) => {
            json!({"success": false, "errorCode": r.code.to_string(), "chineseErrCode": r.zh, "englishErrCode": r.en})
        }
    }
}

/// A text parameter: a non-empty string, or a number written out.
fn text(p: &Map<String, Value>, key: &str) -> Option<String> {
    match p.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A non-negative integer parameter, as a JSON integer or a string of digits.
fn uint(p: &Map<String, Value>, key: &str) -> Result<Option<u64>, Refusal> {
    let Some(t) = text(p, key) else { return Ok(None) };
    t.parse().map(Some).map_err(|_| {
        Refusal::param(format!("参数{key}格式错误"), format!("{key} must be a non-negative integer, got {t:?}"))
    })
}

fn required_uint(p: &Map<String, Value>, key: &str) -> Result<u64, Refusal> {
    uint(p, key)?.ok_or_else(|| Refusal::param(format!("缺少参数{key}"), format!("{key} is required")))
}

fn required_text(p: &Map<String, Value>, key: &str) -> Result<String, Refusal> {
    text(p, key).ok_or_else(|| Refusal::param(format!("缺少参数{key}"), format!("{key} is required")))
}

fn time(p: &Map<String, Value>, key: &str) -> Result<i64, Refusal> {
    let t = required_text(p, key)?;
    parse_gmt8(&t).ok_or_else(|| {
        Refusal::param(format!("参数{key}格式错误"), format!("{key} must be yyyy-MM-dd HH:mm:ss, got {t:?}"))
    })
}

fn optional_fields(p: &Map<String, Value>) -> Fields {
    text(p, "optional_fields").map(|f| f.split(',').map(|s| s.trim().to_owned()).collect::<BTreeSet<_>>())
}

/// Stands in an answer's JSON tree for the part already written as text (the `orderInfo`s,
/// from [`super::cache`]), which goes in once the tree is serialized. A NUL cannot come from
/// anything an answer's tree holds around it, so the slot is found only where it was put.
const SLOT: &str = "\u{0}orderInfo text\u{0}";

/// A method's result: a JSON tree, and the text for its [`SLOT`] when it has one.
struct Answer {
    tree: Value,
    slot: Option<String>,
}

impl From<Value> for Answer {
    fn from(tree: Value) -> Self {
        Self { tree, slot: None }
    }
}

/// `body` with its [`SLOT`] (as serialized) replaced by `text`.
fn fill_slot(body: &str, text: &str) -> String {
    let slot = Value::from(SLOT).to_string();
    match body.find(&slot) {
        Some(at) => {
            let mut out = String::with_capacity(body.len() - slot.len() + text.len());
            out.push_str(&body[..at]);
            out.push_str(text);
            out.push_str(&body[at + slot.len()..]);
            out
        }
        None => body.to_owned(),
    }
}

/// Runs `method` (one of [`METHODS`]) and returns the whole success body.
pub(crate) fn run(shared: &Shared, method: &str, params: &Map<String, Value>) -> String {
    if let Some((_, key)) = super::after_sale::RESULT_KEYS.iter().find(|(m, _)| *m == method) {
        let result = super::after_sale::run(shared, method, params);
        return json!({ response_key(method): {"code": "0", *key: result} }).to_string();
    }
    if let Some((_, key)) = super::decrypt::RESULT_KEYS.iter().find(|(m, _)| *m == method) {
        let result = super::decrypt::run(shared, method, params);
        return json!({ response_key(method): {"code": "0", *key: result} }).to_string();
    }
    let Answer { tree: result, slot } = match method {
        ORDER_SEARCH => search(shared, params),
        ORDER_GET => get(shared, params),
        UPDATE_SKU_STOCK => operator_result(update_sku_stock(shared, params)).into(),
        _ => operator_result(shipment(shared, params)).into(),
    };
    let mut inner = Map::new();
    inner.insert("code".into(), json!("0"));
    match RESULT_KEYS.iter().find(|(m, _)| *m == method).and_then(|(_, k)| *k) {
        Some(key) => {
            inner.insert(key.into(), result);
        }
        None => {
            if let Value::Object(flat) = result {
                inner.extend(flat);
            }
        }
    }
    let body = json!({ response_key(method): inner }).to_string();
    match slot {
        Some(text) => fill_slot(&body, &text),
        None => body,
    }
}

/// `jingdong.pop.order.search`: orders in `[start_date, end_date]` (inclusive, by
/// modification time unless `dateType` is 1), in the `order_state`s asked for, sorted by that
/// time (newest first when `sortType` is 1), one page.
fn search(shared: &Shared, p: &Map<String, Value>) -> Answer {
    let refused = |r: Refusal| json!({"apiResult": api_result(Some(&r)), "orderTotal": 0, "orderInfoList": []});
    let query = match SearchQuery::read(p) {
        Ok(q) => q,
        Err(r) => return refused(r).into(),
    };
    let shop = lock(&shared.shop);
    let raw = lock(&shared.raw);
    let mut infos = lock(&shared.order_infos);
    let listing = infos.listing(&shop, query.by_created);
    let from = listing.partition_point(|l| l.time < query.start);
    let to = listing.partition_point(|l| l.time <= query.end);
    let shown = listing[from..to].iter().filter(|l| l.state & query.states != 0);
    // Raw documents are listed beside the shop's orders by the same (time, id), after an order
    // of the same (time, id), in the order they were given.
    let mut raws: Vec<(i64, u64, &Value)> = raw
        .iter()
        .map(|r| (if query.by_created { r.created_ms } else { r.updated_ms }, r))
        .filter(|(t, r)| (query.start..=query.end).contains(t) && state_bit(&r.status) & query.states != 0)
        .map(|(t, r)| (t, r.number(), &r.doc))
        .collect();
    raws.sort_by_key(|(t, no, _)| (*t, *no));
    let total = shown.clone().count() + raws.len();
    let first = usize::try_from((query.page - 1).saturating_mul(query.page_size)).unwrap_or(usize::MAX);
    let shop_rows = shown.map(|l| (l.time, l.order_no, Row::Shop(&shop.orders[l.index])));
    let raw_rows = raws.into_iter().map(|(t, no, doc)| (t, no, Row::Raw(doc)));
    let rows: Box<dyn Iterator<Item = (i64, u64, Row<'_>)> + '_> = if query.newest_first {
        Box::new(merge(shop_rows.rev(), raw_rows.rev(), |s, r| (s.0, s.1) > (r.0, r.1)))
    } else {
        Box::new(merge(shop_rows, raw_rows, |s, r| (s.0, s.1) <= (r.0, r.1)))
    };
    let page: Vec<Row<'_>> = rows.skip(first).take(query.page_size as usize).map(|(_, _, row)| row).collect();

    let mut texts = infos.texts(&shop, &query.fields);
    let mut list = String::from("[");
    for (i, row) in page.into_iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        match row {
            Row::Shop(o) => list.push_str(texts.of(o)),
            Row::Raw(doc) => list.push_str(&doc.to_string()),
        }
    }
    list.push(']');
    Answer {
        tree: json!({"apiResult": api_result(None), "orderTotal": total, "orderInfoList": SLOT}),
        slot: Some(list),
    }
}

/// Two listings, each in order, as one in order (`first(a, b)`: `a` goes before `b`).
fn merge<T>(
    a: impl Iterator<Item = T>,
    b: impl Iterator<Item = T>,
    first: impl Fn(&T, &T) -> bool,
) -> impl Iterator<Item = T> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) => {
            if first(x, y) {
                a.next()
            } else {
                b.next()
            }
        }
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}

/// A listed order: generated, or a raw document served as it is.
enum Row<'a> {
    Shop(&'a Order),
    Raw(&'a Value),
}

struct SearchQuery {
    start: i64,
    end: i64,
    /// Known `orderState`s only (from [`render::ORDER_STATES`]).
    states: StateSet,
    page: u64,
    page_size: u64,
    by_created: bool,
    newest_first: bool,
    fields: Fields,
}

impl SearchQuery {
    fn read(p: &Map<String, Value>) -> Result<Self, Refusal> {
        let start = time(p, "start_date")?;
        let end = time(p, "end_date")?;
        if end < start || end - start > MAX_SEARCH_SPAN_MS {
            return Err(Refusal::param(
                "查询时间范围不合法",
                format!(
                    "start_date..end_date must be ordered and at most {} days apart",
                    MAX_SEARCH_SPAN_MS / 86_400_000
                ),
            ));
        }
        let mut states = 0;
        for state in required_text(p, "order_state")?.split(',').map(str::trim) {
            match state_bit(state) {
                0 => return Err(Refusal::param("订单状态不合法", format!("unknown order_state {state:?}"))),
                bit => states |= bit,
            }
        }
        let page = uint(p, "page")?.unwrap_or(1);
        let page_size = uint(p, "page_size")?.unwrap_or(DEFAULT_PAGE_SIZE);
        if page == 0 || !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(Refusal::param(
                "分页参数不合法",
                format!("page counts from 1; page_size is 1..={MAX_PAGE_SIZE}"),
            ));
        }
        Ok(Self {
            start,
            end,
            states,
            page,
            page_size,
            // JOS: 1 searches by creation time; 0 and anything else by modification time.
            by_created: text(p, "dateType").as_deref() == Some("1"),
            // JOS: 1 sorts newest first; anything else oldest first.
            newest_first: text(p, "sortType").as_deref() == Some("1"),
            fields: optional_fields(p),
        })
    }
}

/// `jingdong.pop.order.get`: one order by `order_id`. An order JOS does not show comes back
/// as a successful `apiResult` without `orderInfo` (UNSURE).
fn get(shared: &Shared, p: &Map<String, Value>) -> Answer {
    let id = match required_uint(p, "order_id") {
        Ok(id) => id,
        Err(r) => return json!({"apiResult": api_result(Some(&r))}).into(),
    };
    if let Some(r) = lock(&shared.raw).iter().find(|r| r.id == id.to_string()) {
        return json!({"apiResult": api_result(None), "orderInfo": r.doc}).into();
    }
    let shop = lock(&shared.shop);
    match shop.orders.iter().find(|o| o.order_no == id && order_state(o).is_some()) {
        Some(o) => {
            let text = lock(&shared.order_infos).texts(&shop, &optional_fields(p)).of(o).to_owned();
            Answer { tree: json!({"apiResult": api_result(None), "orderInfo": SLOT}), slot: Some(text) }
        }
        None => json!({"apiResult": api_result(None)}).into(),
    }
}

/// `jingdong.stock.write.updateSkuStock`: sets a SKU's stock (`skuId`, `stockNum`, optional
/// `storeId`).
fn update_sku_stock(shared: &Shared, p: &Map<String, Value>) -> Result<(), Refusal> {
    let sku_id = required_uint(p, "skuId")?;
    let stock_num = required_uint(p, "stockNum")?;
    let store_id = uint(p, "storeId")?;
    let stock = i64::try_from(stock_num).map_err(|_| Refusal::param("库存数量过大", "stockNum is too large"))?;
    let mut shop = lock(&shared.shop);
    let sku = shop.skus.iter_mut().find(|s| s.sku_no == sku_id).ok_or_else(|| Refusal {
        code: NOT_FOUND,
        zh: "SKU不存在".into(),
        en: format!("sku {sku_id} does not exist"),
    })?;
    sku.stock = stock;
    lock(&shared.stock_writes).push(super::StockWrite { sku_id, stock_num: stock, store_id });
    Ok(())
}

/// `jingdong.pop.order.shipment`: ships an order waiting for it (`orderId`, `logiCoprId` from
/// [`CARRIERS`], `logiNo`).
fn shipment(shared: &Shared, p: &Map<String, Value>) -> Result<(), Refusal> {
    let order_id = required_uint(p, "orderId")?;
    let carrier = required_text(p, "logiCoprId")?;
    let waybill = required_text(p, "logiNo")?;
    if !CARRIERS.iter().any(|(id, _)| *id == carrier) {
        return Err(Refusal::param("物流公司不存在", format!("unknown logiCoprId {carrier:?}")));
    }
    let now = shared.clock.now_ms() / 1000 * 1000;
    let mut shop = lock(&shared.shop);
    let order =
        shop.orders.iter_mut().find(|o| o.order_no == order_id && order_state(o).is_some()).ok_or_else(|| Refusal {
            code: NOT_FOUND,
            zh: "订单不存在".into(),
            en: format!("order {order_id} does not exist"),
        })?;
    let state = order_state(order).unwrap_or_default();
    if !SHIPPABLE.contains(&state) {
        return Err(Refusal {
            code: BAD_STATE,
            zh: "订单状态不允许出库".into(),
            en: format!("order {order_id} is {state}, not waiting for shipment"),
        });
    }
    order.stage = Stage::Shipped;
    order.shipment = Some((carrier, waybill));
    order.updated_ms = now.max(order.updated_ms + 1000);
    Ok(())
}

/// The carrier name of a JD carrier id, for readers of the ground truth.
pub fn carrier_name(logi_copr_id: &str) -> Option<&'static str> {
    render::CARRIERS.iter().find(|(id, _)| *id == logi_copr_id).map(|(_, name)| *name)
}
