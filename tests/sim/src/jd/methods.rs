//! The JOS methods the simulator serves: their parameters (from `360buy_param_json`), what
//! they do to the shop, and their `<method>_responce` bodies.
//!
//! Business refusals are not gateway errors: JOS answers them inside the success envelope, in
//! `apiResult` (`{"success":false,"numberCode":…,"chineseErrCode":…,"englishErrCode":…}`) or,
//! for the write methods, in the flat result object (`success`, `errorCode`, …). The number
//! codes used here are the simulator's own; JOS's vary per API.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::Shared;
use super::render::{self, CARRIERS, ORDER_STATES, SHIPPABLE, order_info, order_state};
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

/// Keeps `orderId` and the fields `optional_fields` names, when it names any.
fn select(mut info: Value, fields: Option<&HashSet<String>>) -> Value {
    if let (Some(fields), Value::Object(map)) = (fields, &mut info) {
        map.retain(|k, _| k == "orderId" || fields.contains(k));
    }
    info
}

fn optional_fields(p: &Map<String, Value>) -> Option<HashSet<String>> {
    text(p, "optional_fields").map(|f| f.split(',').map(|s| s.trim().to_owned()).collect())
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
    let result = match method {
        ORDER_SEARCH => search(shared, params),
        ORDER_GET => get(shared, params),
        UPDATE_SKU_STOCK => operator_result(update_sku_stock(shared, params)),
        _ => operator_result(shipment(shared, params)),
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
    json!({ response_key(method): inner }).to_string()
}

/// `jingdong.pop.order.search`: orders in `[start_date, end_date]` (inclusive, by
/// modification time unless `dateType` is 1), in the `order_state`s asked for, sorted by that
/// time (newest first when `sortType` is 1), one page.
fn search(shared: &Shared, p: &Map<String, Value>) -> Value {
    let refused = |r: Refusal| json!({"apiResult": api_result(Some(&r)), "orderTotal": 0, "orderInfoList": []});
    let query = match SearchQuery::read(p) {
        Ok(q) => q,
        Err(r) => return refused(r),
    };
    let shop = lock(&shared.shop);
    let raw = lock(&shared.raw);
    // Generated orders and raw documents, listed alike: (time, id, the row).
    let mut rows: Vec<(i64, u64, Row<'_>)> = shop
        .orders
        .iter()
        .filter(|o| order_state(o).is_some_and(|s| query.states.contains(s)))
        .map(|o| (query.time_of(o), o.order_no, Row::Shop(o)))
        .chain(
            raw.iter()
                .filter(|r| query.states.contains(&r.status))
                .map(|r| (if query.by_created { r.created_ms } else { r.updated_ms }, r.number(), Row::Raw(&r.doc))),
        )
        .filter(|(t, _, _)| (query.start..=query.end).contains(t))
        .collect();
    rows.sort_by_key(|(t, no, _)| (*t, *no));
    if query.newest_first {
        rows.reverse();
    }
    let total = rows.len();
    let first = usize::try_from((query.page - 1).saturating_mul(query.page_size)).unwrap_or(usize::MAX);
    let list: Vec<Value> = rows
        .into_iter()
        .skip(first)
        .take(query.page_size as usize)
        .map(|(_, _, row)| match row {
            Row::Shop(o) => select(order_info(&shop, o, shared.config.order_ids), query.fields.as_ref()),
            Row::Raw(doc) => doc.clone(),
        })
        .collect();
    json!({"apiResult": api_result(None), "orderTotal": total, "orderInfoList": list})
}

/// A listed order: generated, or a raw document served as it is.
enum Row<'a> {
    Shop(&'a Order),
    Raw(&'a Value),
}

struct SearchQuery {
    start: i64,
    end: i64,
    states: HashSet<String>,
    page: u64,
    page_size: u64,
    by_created: bool,
    newest_first: bool,
    fields: Option<HashSet<String>>,
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
        let states: HashSet<String> =
            required_text(p, "order_state")?.split(',').map(|s| s.trim().to_owned()).collect();
        if let Some(bad) = states.iter().find(|s| !ORDER_STATES.iter().any(|(known, _)| known == s)) {
            return Err(Refusal::param("订单状态不合法", format!("unknown order_state {bad:?}")));
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

    fn time_of(&self, o: &Order) -> i64 {
        if self.by_created { o.created_ms } else { o.updated_ms }
    }
}

/// `jingdong.pop.order.get`: one order by `order_id`. An order JOS does not show comes back
/// as a successful `apiResult` without `orderInfo` (UNSURE).
fn get(shared: &Shared, p: &Map<String, Value>) -> Value {
    let id = match required_uint(p, "order_id") {
        Ok(id) => id,
        Err(r) => return json!({"apiResult": api_result(Some(&r))}),
    };
    if let Some(r) = lock(&shared.raw).iter().find(|r| r.id == id.to_string()) {
        return json!({"apiResult": api_result(None), "orderInfo": r.doc});
    }
    let shop = lock(&shared.shop);
    match shop.orders.iter().find(|o| o.order_no == id && order_state(o).is_some()) {
        Some(o) => json!({
            "apiResult": api_result(None),
            "orderInfo": select(order_info(&shop, o, shared.config.order_ids), optional_fields(p).as_ref()),
        }),
        None => json!({"apiResult": api_result(None)}),
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
