//! JD's after-sales over the shop's [`AfterSale`]s: refund applications of orders not shipped
//! (`jingdong.pop.afs.soa.refundapply.*`) and after-sales service orders
//! (`jingdong.asc.query.*`) for everything else.
//!
//! From platforms.md: `refundapply.queryPageList` lists refunds of cancelled (unshipped)
//! orders, an application window of at most 7 days, pages of at most 50, amounts in fen, and
//! `status` 0 not reviewed, 1 approved, 2 rejected, 3/4 finance approved/rejected, 5 approved by
//! hand, 6 intercepted and refunded, 9 closed and refunded ([`refund_apply_status`]).
//!
//! UNSURE, and kept here alone (platforms.md gives only the method names): the field names are
//! JD's as integrators know them — a refund application `{id, orderId, buyerId, buyerName,
//! applyTime, checkTime, applyRefundSum, status, reason, checkUserName, checkRemark}` in
//! `queryResult{success, totalCount, result[]}`; the windows `applyTimeStart`/`applyTimeEnd`
//! and `checkTimeStart`/`checkTimeEnd` (GMT+8 `yyyy-MM-dd HH:mm:ss`; `checkTime` is when the
//! seller or JD last acted, so an application nobody reviewed yet is found by its apply time
//! only); `pageIndex` from 1, `pageSize`. The audit `jingdong.pop.afs.soa.refundapply.replyRefund`
//! takes `id`, `status` (1 approve, 2 reject, 6 approve with JD intercepting the parcel; JD's 9
//! forced close and 10 logistics follow-up are not served), `checkUserName`, `remark` (required
//! for every status but 9, as JD's SDKs document it, so an approval carries one too),
//! `rejectType` (1..=6, with a rejection only; optional here) and `outWareStatus` (1 out of the
//! warehouse, 2 not; optional) and answers `replyResult{success, errorCode, errorMessage}`. A service order
//! (`jingdong.asc.query.list` by `updateTimeBegin`/`updateTimeEnd` or
//! `applyTimeBegin`/`applyTimeEnd`, ≤ 7 days, `pageNumber` from 1, `pageSize` ≤ 50, answering
//! `pageResult{success, totalCount, pageNumber, pageSize, data[]}`; `jingdong.asc.query.view`
//! by `serviceId` answering `result{success, data}`) is `{serviceId, orderId, customerExpect,
//! serviceStatus, serviceStatusName, skuId, outerSkuId, skuName, serviceCount, refundAmount,
//! freightRefund, applyReason, expressCompany, expressCode, applyTime, updateTime}` with the
//! codes of [`customer_expect`] and [`service_status`]. No action on service orders is served:
//! we are not sure enough of JD's audit methods for them (they move by traffic and knobs).

use serde_json::{Map, Value, json};

use super::Shared;
use super::render::sku_name;
use crate::serve::lock;
use crate::shop::{AfterSale, AfterSaleAction, AfterSaleKind, AfterSaleStatus, SellerAction, Shop, Stage};
use crate::taobao::{gmt8, parse_gmt8};

pub const REFUND_APPLY_QUERY: &str = "jingdong.pop.afs.soa.refundapply.queryPageList";
pub const REFUND_APPLY_REPLY: &str = "jingdong.pop.afs.soa.refundapply.replyRefund";
pub const ASC_QUERY_LIST: &str = "jingdong.asc.query.list";
pub const ASC_QUERY_VIEW: &str = "jingdong.asc.query.view";
pub const METHODS: &[&str] = &[REFUND_APPLY_QUERY, REFUND_APPLY_REPLY, ASC_QUERY_LIST, ASC_QUERY_VIEW];
/// Where each answer sits in `<method>_responce`.
pub const RESULT_KEYS: &[(&str, &str)] = &[
    (REFUND_APPLY_QUERY, "queryResult"),
    (REFUND_APPLY_REPLY, "replyResult"),
    (ASC_QUERY_LIST, "pageResult"),
    (ASC_QUERY_VIEW, "result"),
];
/// Pages of at most 50 (platforms.md for refund applications; taken for service orders too).
pub const MAX_PAGE_SIZE: u64 = 50;
/// A window of at most 7 days (platforms.md).
pub const MAX_WINDOW_MS: i64 = 7 * 86_400 * 1000;
/// Made-up refusal codes (JD's vary per API).
const BAD_PARAM: &str = "AFS_PARAM_ERROR";
const NOT_FOUND: &str = "AFS_NOT_FOUND";
const BAD_STATE: &str = "AFS_STATUS_NOT_ALLOWED";

/// Whether an after-sale is a refund application (refund before shipping) rather than a
/// service order.
pub fn is_refund_apply(a: &AfterSale) -> bool {
    a.kind == AfterSaleKind::RefundBeforeShipping
}

/// The `after_sale_id` the JD plugin gives `a` (what a stored after-sale is compared by): a
/// refund application's own `id`, a service order's `asc-<serviceId>`.
pub fn canonical_id(a: &AfterSale) -> String {
    if is_refund_apply(a) { a.id.to_string() } else { format!("asc-{}", a.id) }
}

/// A refund application's `status`: 0 requested, 1 approved (refund under way), 2 rejected;
/// refunded is 9 ("closed and refunded"), or 6 ("intercepted and refunded") when the order had
/// left meanwhile. A withdrawn application has no documented code: 4 (the money did not go).
pub fn refund_apply_status(a: &AfterSale, order_stage: Option<Stage>) -> u32 {
    match a.status {
        AfterSaleStatus::Requested => 0,
        AfterSaleStatus::Agreed => 1,
        AfterSaleStatus::Refused => 2,
        AfterSaleStatus::Refunded if order_stage.is_some_and(|s| s != Stage::Paid) => 6,
        AfterSaleStatus::Refunded => 9,
        AfterSaleStatus::AwaitingReturn | AfterSaleStatus::Returned | AfterSaleStatus::Closed => 4,
    }
}

/// `customerExpect` (UNSURE): 10 return, 20 exchange, 30 repair, 50 refund only, 60 price
/// protection, 80 reissue.
pub fn customer_expect(kind: AfterSaleKind) -> u32 {
    match kind {
        AfterSaleKind::ReturnAndRefund => 10,
        AfterSaleKind::Exchange => 20,
        AfterSaleKind::Repair => 30,
        AfterSaleKind::RefundAfterShipping | AfterSaleKind::RefundBeforeShipping => 50,
        AfterSaleKind::PriceProtection => 60,
        AfterSaleKind::Reissue => 80,
    }
}

/// `serviceStatus` and its name (UNSURE).
pub fn service_status(a: &AfterSale) -> (u32, &'static str) {
    match a.status {
        AfterSaleStatus::Requested => (10001, "待审核"),
        AfterSaleStatus::AwaitingReturn => (10002, "待客户寄回"),
        AfterSaleStatus::Returned => (10003, "待收货"),
        AfterSaleStatus::Refused => (10004, "审核不通过"),
        AfterSaleStatus::Agreed => (10005, "处理中"),
        AfterSaleStatus::Refunded => (10010, "完成"),
        AfterSaleStatus::Closed if a.succeeded() => (10010, "完成"),
        AfterSaleStatus::Closed => (10011, "取消"),
    }
}

/// When the seller or JD last acted on it (`checkTime`); `None` while nobody has.
pub fn check_time(a: &AfterSale) -> Option<i64> {
    (a.status != AfterSaleStatus::Requested).then_some(a.updated_ms)
}

fn refund_apply(shop: &Shop, a: &AfterSale) -> Value {
    let order = shop.orders.iter().find(|o| o.order_no == a.order_no);
    json!({
        "id": a.id,
        "orderId": a.order_no.to_string(),
        "buyerId": order.map(|o| o.buyer_id.clone()).unwrap_or_default(),
        "buyerName": order.map(|o| o.buyer_nick.clone()).unwrap_or_default(),
        "applyTime": gmt8(a.created_ms),
        "checkTime": check_time(a).map(gmt8).unwrap_or_default(),
        "applyRefundSum": a.refund_total(),
        "status": refund_apply_status(a, order.map(|o| o.stage)),
        "reason": a.reason,
    })
}

fn service_order(shop: &Shop, a: &AfterSale) -> Value {
    let line = a.lines.first();
    let sku = line.and_then(|l| shop.skus.iter().position(|s| s.sku_no == l.sku_no));
    let (company, code) = a.return_waybill.clone().unwrap_or_default();
    let (status, name) = service_status(a);
    json!({
        "serviceId": a.id,
        "orderId": a.order_no.to_string(),
        "customerExpect": customer_expect(a.kind),
        "serviceStatus": status,
        "serviceStatusName": name,
        "skuId": line.map_or(0, |l| l.sku_no),
        "outerSkuId": line.map(|l| l.outer_sku_id.clone()).unwrap_or_default(),
        "skuName": sku.map(|s| sku_name(shop, s)).unwrap_or_default(),
        "serviceCount": a.lines.iter().map(|l| l.quantity).sum::<i64>(),
        "refundAmount": a.refund_amount,
        "freightRefund": a.shipping_refund,
        "applyReason": a.reason,
        "expressCompany": company,
        "expressCode": code,
        "applyTime": gmt8(a.created_ms),
        "updateTime": gmt8(a.updated_ms),
    })
}

/// A refusal inside the result object.
fn refused(code: &str, message: impl Into<String>) -> Value {
    json!({"success": false, "errorCode": code, "errorMessage": message.into()})
}

fn text(p: &Map<String, Value>, key: &str) -> Option<String> {
    match p.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn uint(p: &Map<String, Value>, key: &str) -> Result<Option<u64>, Value> {
    text(p, key)
        .map(|t| t.parse().map_err(|_| refused(BAD_PARAM, format!("{key} must be a non-negative integer, got {t:?}"))))
        .transpose()
}

/// An optional window `[start, end]` from two GMT+8 times, at most [`MAX_WINDOW_MS`] long.
fn window(p: &Map<String, Value>, start: &str, end: &str) -> Result<Option<(i64, i64)>, Value> {
    let time = |key: &str| -> Result<Option<i64>, Value> {
        text(p, key)
            .map(|t| {
                parse_gmt8(&t)
                    .ok_or_else(|| refused(BAD_PARAM, format!("{key} must be yyyy-MM-dd HH:mm:ss, got {t:?}")))
            })
            .transpose()
    };
    match (time(start)?, time(end)?) {
        (None, None) => Ok(None),
        (Some(s), Some(e)) if s <= e && e - s <= MAX_WINDOW_MS => Ok(Some((s, e))),
        (Some(_), Some(_)) => {
            Err(refused(BAD_PARAM, format!("{start}..{end} must be ordered and at most 7 days apart")))
        }
        _ => Err(refused(BAD_PARAM, format!("{start} and {end} go together"))),
    }
}

/// `(page, page_size)` from `page_key` (from 1) and `pageSize` (1..=50).
fn paging(p: &Map<String, Value>, page_key: &str) -> Result<(u64, u64), Value> {
    let page = uint(p, page_key)?.unwrap_or(1);
    let size = uint(p, "pageSize")?.unwrap_or(10);
    if page == 0 || !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(refused(BAD_PARAM, format!("{page_key} counts from 1; pageSize is 1..={MAX_PAGE_SIZE}")));
    }
    Ok((page, size))
}

fn page_of(mut rows: Vec<&AfterSale>, page: u64, size: u64) -> (usize, Vec<&AfterSale>) {
    rows.sort_by_key(|a| std::cmp::Reverse((a.updated_ms, a.id)));
    let total = rows.len();
    let first = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    (total, rows.into_iter().skip(first).take(size as usize).collect())
}

/// Runs one of [`METHODS`]; the object under its result key.
pub(crate) fn run(shared: &Shared, method: &str, p: &Map<String, Value>) -> Value {
    let outcome = match method {
        REFUND_APPLY_QUERY => refund_apply_query(&lock(&shared.shop), p),
        REFUND_APPLY_REPLY => reply_refund(shared, p),
        ASC_QUERY_LIST => asc_list(&lock(&shared.shop), p),
        _ => asc_view(&lock(&shared.shop), p),
    };
    outcome.unwrap_or_else(|refusal| refusal)
}

/// `jingdong.pop.afs.soa.refundapply.queryPageList`: refund applications applied (or checked)
/// in the window, newest change first; optionally by `status`, `id` or `orderId`. A window is
/// required, unless `id` or `orderId` names what to find.
fn refund_apply_query(shop: &Shop, p: &Map<String, Value>) -> Result<Value, Value> {
    let applied = window(p, "applyTimeStart", "applyTimeEnd")?;
    let checked = window(p, "checkTimeStart", "checkTimeEnd")?;
    let id = uint(p, "id")?;
    let order = text(p, "orderId");
    if applied.is_none() && checked.is_none() && id.is_none() && order.is_none() {
        return Err(refused(BAD_PARAM, "applyTimeStart/applyTimeEnd or checkTimeStart/checkTimeEnd is required"));
    }
    let status = uint(p, "status")?;
    let (page, size) = paging(p, "pageIndex")?;
    let stage = |a: &AfterSale| shop.orders.iter().find(|o| o.order_no == a.order_no).map(|o| o.stage);
    let rows: Vec<&AfterSale> = shop
        .after_sales
        .iter()
        .filter(|a| is_refund_apply(a))
        .filter(|a| applied.is_none_or(|(s, e)| (s..=e).contains(&a.created_ms)))
        .filter(|a| checked.is_none_or(|(s, e)| check_time(a).is_some_and(|t| (s..=e).contains(&t))))
        .filter(|a| id.is_none_or(|id| a.id == id))
        .filter(|a| order.as_deref().is_none_or(|o| a.order_no.to_string() == o))
        .filter(|a| status.is_none_or(|s| u64::from(refund_apply_status(a, stage(a))) == s))
        .collect();
    let (total, rows) = page_of(rows, page, size);
    let result: Vec<Value> = rows.into_iter().map(|a| refund_apply(shop, a)).collect();
    Ok(json!({"success": true, "totalCount": total, "result": result}))
}

/// `jingdong.pop.afs.soa.refundapply.replyRefund`: approves (`status` 1) or rejects (2, with a
/// `remark`) an application not reviewed yet.
fn reply_refund(shared: &Shared, p: &Map<String, Value>) -> Result<Value, Value> {
    let id = uint(p, "id")?.ok_or_else(|| refused(BAD_PARAM, "id is required"))?;
    let action = match text(p, "status").as_deref() {
        Some("1" | "6") => AfterSaleAction::Agree,
        Some("2") => AfterSaleAction::Refuse,
        other => {
            return Err(refused(BAD_PARAM, format!("status must be 1 or 6 (approve) or 2 (reject), got {other:?}")));
        }
    };
    let remark = text(p, "remark");
    if remark.is_none() {
        return Err(refused(BAD_PARAM, "remark is required (for every status but 9, a forced close)"));
    }
    match uint(p, "rejectType")? {
        Some(_) if action != AfterSaleAction::Refuse => {
            return Err(refused(BAD_PARAM, "rejectType goes with a rejection (status 2) only"));
        }
        Some(t) if !(1..=6).contains(&t) => {
            return Err(refused(BAD_PARAM, format!("rejectType must be 1..=6, got {t}")));
        }
        _ => {}
    }
    if let Some(o) = uint(p, "outWareStatus")?
        && !(1..=2).contains(&o)
    {
        return Err(refused(BAD_PARAM, format!("outWareStatus must be 1 or 2, got {o}")));
    }
    let now = shared.clock.now_ms();
    let mut shop = lock(&shared.shop);
    let a = shop
        .after_sales
        .iter()
        .find(|a| a.id == id && is_refund_apply(a))
        .ok_or_else(|| refused(NOT_FOUND, format!("refund application {id} does not exist")))?;
    if a.status != AfterSaleStatus::Requested {
        let stage = shop.orders.iter().find(|o| o.order_no == a.order_no).map(|o| o.stage);
        return Err(refused(
            BAD_STATE,
            format!(
                "refund application {id} is {} (status {}), not awaiting review",
                a.status.as_str(),
                refund_apply_status(a, stage)
            ),
        ));
    }
    shop.act_on_after_sale(id, &action, now).map_err(|e| refused(BAD_STATE, e.to_string()))?;
    lock(&shared.seller_actions).push(SellerAction { after_sale_id: id, action, reason: remark, at_ms: now });
    Ok(json!({"success": true, "errorCode": "", "errorMessage": ""}))
}

/// `jingdong.asc.query.list`: service orders updated (or applied) in the window, newest change
/// first; optionally by `orderId`.
fn asc_list(shop: &Shop, p: &Map<String, Value>) -> Result<Value, Value> {
    let updated = window(p, "updateTimeBegin", "updateTimeEnd")?;
    let applied = window(p, "applyTimeBegin", "applyTimeEnd")?;
    let order = text(p, "orderId");
    if updated.is_none() && applied.is_none() && order.is_none() {
        return Err(refused(BAD_PARAM, "updateTimeBegin/updateTimeEnd or applyTimeBegin/applyTimeEnd is required"));
    }
    let (page, size) = paging(p, "pageNumber")?;
    let rows: Vec<&AfterSale> = shop
        .after_sales
        .iter()
        .filter(|a| !is_refund_apply(a))
        .filter(|a| updated.is_none_or(|(s, e)| (s..=e).contains(&a.updated_ms)))
        .filter(|a| applied.is_none_or(|(s, e)| (s..=e).contains(&a.created_ms)))
        .filter(|a| order.as_deref().is_none_or(|o| a.order_no.to_string() == o))
        .collect();
    let (total, rows) = page_of(rows, page, size);
    let data: Vec<Value> = rows.into_iter().map(|a| service_order(shop, a)).collect();
    Ok(json!({"success": true, "totalCount": total, "pageNumber": page, "pageSize": size, "data": data}))
}

/// `jingdong.asc.query.view`: one service order by `serviceId`.
fn asc_view(shop: &Shop, p: &Map<String, Value>) -> Result<Value, Value> {
    let id = uint(p, "serviceId")?.ok_or_else(|| refused(BAD_PARAM, "serviceId is required"))?;
    let a = shop
        .after_sales
        .iter()
        .find(|a| a.id == id && !is_refund_apply(a))
        .ok_or_else(|| refused(NOT_FOUND, format!("service order {id} does not exist")))?;
    Ok(json!({"success": true, "data": service_order(shop, a)}))
}
