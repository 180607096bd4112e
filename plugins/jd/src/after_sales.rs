//! JD after-sales, from two sources in one `pull-after-sales` walk, and the merchant's answers
//! to refund applications.
//!
//! **Refund applications** (退款审核单, `jingdong.pop.afs.soa.refundapply.queryPageList`): refunds
//! of orders cancelled before shipping. Mapping (canonical-model.md, "Rules every plugin
//! follows", After-sales, JD): `refund_before_shipping`; `status` 0 → `requested`, 1, 3, 5 →
//! `agreed`, 2, 4 → `refused`, 6, 9 → `refunded` ([`STATUSES`]); `platform_status` =
//! `status=<code>`. The amount `applyRefundSum` is in fen, all of it `refund_amount` (JD does
//! not split shipping out); the whole order is refunded, so there are no lines. `updated_at` is
//! `checkTime` (the last review) when there is one, else `applyTime`. `after_sale_id` = the
//! application's `id`, bare digits.
//!
//! The listing has no update-time filter: an application is found by when it was applied
//! (`applyTimeStart`/`applyTimeEnd`) or last reviewed (`checkTimeStart`/`checkTimeEnd`), and an
//! application nobody reviewed yet has no check time. So the window is walked twice with the
//! SDK's walk ([`Stream`]): applications applied in it, then applications reviewed in it. An
//! application applied and reviewed in the same window comes in both, the second time as its
//! latest state. Windows of at most 7 days, pages of at most [`MAX_PAGE_SIZE`], JD's limits.
//!
//! **After-sales service orders** (服务单, `jingdong.asc.query.list` / `jingdong.asc.query.view`):
//! returns, exchanges, repairs… of shipped orders, walked a third time, by update time
//! (`updateTimeBegin`/`updateTimeEnd`, `pageNumber` from 1). `after_sale_id` =
//! `asc-<serviceId>`: the prefix keeps a service order apart from a refund application, whose
//! ids JD numbers on its own. Kind by `customerExpect` ([`SERVICE_KINDS`]: 10 return →
//! `return_and_refund`, 20 exchange, 30 repair, 50 refund only → `refund_after_shipping`, 60
//! price protection, 80 reissue); status by `serviceStatus` ([`SERVICE_STATUSES`]: 10001 to
//! review → `requested`, 10002 awaiting the buyer's parcel → `awaiting_return`, 10003 parcel on
//! its way back → `returned`, 10004 refused, 10005 in progress → `agreed`, 10010 done →
//! `refunded` for the kinds that refund money, else `closed`, 10011 cancelled → `closed`);
//! `platform_status` = `customerExpect=…;serviceStatus=…`. `refundAmount` (fen) is
//! `refund_amount`, `freightRefund` (fen) `shipping_refund`; `applyReason` the reason;
//! `expressCompany` + `expressCode` the buyer's return parcel; `applyTime` / `updateTime`
//! (GMT+8) created and updated. The service order names its SKU (`skuId`, `outerSkuId`) and
//! `serviceCount`, not the order line: JOS has no sub-order ids (lines are `<orderId>-<n>`), so
//! the order is fetched (`jingdong.pop.order.get`, once per order in a page) and the line is
//! the first one of that SKU; an order without it sets the service order aside.
//!
//! The cursor says which walk it is in: `apply|…`, then `check|…`, then `asc|…`.
//!
//! **Answers** (`push-after-sale-actions`): a refund application is answered with
//! `jingdong.pop.afs.soa.refundapply.replyRefund` (`id`, `status` 1 approve / 2 reject,
//! `checkUserName`, `remark`, and with a rejection `rejectType` 5 "other"): `agree_refund`
//! approves, `refuse_refund` rejects with the reason as remark; the return decisions do not
//! apply to an application (`invalid_input`). Service orders are not answered
//! (`unsupported` per item): JD audits them with other methods we could not confirm.
//!
//! UNSURE, kept here: the field names as integrators know them, an application
//! `{id, orderId, applyTime, checkTime, applyRefundSum, status, reason}` in
//! `queryResult{success, totalCount, result[]}`; `pageIndex` from 1, `pageSize`; times GMT+8
//! `yyyy-MM-dd HH:mm:ss`. A service order `{serviceId, orderId, customerExpect, serviceStatus,
//! skuId, outerSkuId, serviceCount, refundAmount, freightRefund, applyReason, expressCompany,
//! expressCode, applyTime, updateTime}` in `pageResult{success, totalCount, data[]}` (a view in
//! `result{success, data}`), and the codes of [`SERVICE_KINDS`] and [`SERVICE_STATUSES`]; JD's
//! SDKs also send `buId`, `operatePin` and `operateNick` with `asc.query.*`, which we do not
//! know and do not send. `replyRefund`'s parameters are as JD's SDKs declare them (its
//! `remark` is required for every status but 9, a forced close, so an approval carries one
//! too: the action's reason, else [`AGREE_REMARK`]); `rejectType` 5 and `checkUserName`
//! [`CHECK_USER`] are our choices; its answer `replyResult{success, errorCode, errorMessage}`.

use serde_json::{Value, json};
use std::collections::HashMap;
use wharf_sdk::after_sale;
use wharf_sdk::api::Api;
use wharf_sdk::json::Node;
use wharf_sdk::paging::{self, DAY_MS, ListPage, Paging, Records};
use wharf_sdk::reject::{self, Mapped};

use wharf_sdk::batch;
use wharf_sdk::status::lookup;
use wharf_sdk::time;
use wharf_sdk::types::{
    AfterSale, AfterSaleAction, AfterSaleDecision, AfterSaleKind, AfterSaleLine, AfterSalePage, AfterSaleStatus,
    ConnectorError, ItemResult, Order, PushAck, ReturnWaybill, TimeWindow,
};

use crate::jos;
use crate::mapping::{CURRENCY, PLATFORM};
use crate::pull;

pub const REFUND_APPLY_QUERY: &str = "jingdong.pop.afs.soa.refundapply.queryPageList";
pub const REFUND_APPLY_REPLY: &str = "jingdong.pop.afs.soa.refundapply.replyRefund";
pub const ASC_QUERY_LIST: &str = "jingdong.asc.query.list";
pub const ASC_QUERY_VIEW: &str = "jingdong.asc.query.view";
const RESULT: &str = "queryResult";
/// Where `replyRefund`, `asc.query.list` and `asc.query.view` answer.
const REPLY_RESULT: &str = "replyResult";
const ASC_LIST_RESULT: &str = "pageResult";
const ASC_VIEW_RESULT: &str = "result";
/// The prefix of a service order's `after_sale_id`.
pub const SERVICE_PREFIX: &str = "asc-";
/// Who reviews, as `replyRefund`'s `checkUserName` says (UNSURE: any name JD accepts).
pub const CHECK_USER: &str = "wharf";
/// `replyRefund`'s remark of an approval that came without a reason (JD wants one).
pub const AGREE_REMARK: &str = "同意退款";
/// `rejectType` 5: other.
const REJECT_OTHER: u32 = 5;
/// JD's largest page of refund applications.
pub const MAX_PAGE_SIZE: u32 = 50;

/// JD: a query window of at most 7 days; pages from 1.
pub const PAGING: Paging =
    Paging { max_chunk_ms: 7 * DAY_MS, min_halving_span_ms: 60 * 1_000, first_page: 1, max_listing_calls: 64 };

/// `status` → status.
pub const STATUSES: &[(&str, AfterSaleStatus)] = &[
    ("0", AfterSaleStatus::Requested),
    ("1", AfterSaleStatus::Agreed),
    ("2", AfterSaleStatus::Refused),
    ("3", AfterSaleStatus::Agreed),
    ("4", AfterSaleStatus::Refused),
    ("5", AfterSaleStatus::Agreed),
    ("6", AfterSaleStatus::Refunded),
    ("9", AfterSaleStatus::Refunded),
];

/// `customerExpect` → kind.
pub const SERVICE_KINDS: &[(&str, AfterSaleKind)] = &[
    ("10", AfterSaleKind::ReturnAndRefund),
    ("20", AfterSaleKind::Exchange),
    ("30", AfterSaleKind::Repair),
    ("50", AfterSaleKind::RefundAfterShipping),
    ("60", AfterSaleKind::PriceProtection),
    ("80", AfterSaleKind::Reissue),
];

/// `serviceStatus` → status; 10010 (done) is `refunded` only for kinds that refund money.
pub const SERVICE_STATUSES: &[(&str, AfterSaleStatus)] = &[
    ("10001", AfterSaleStatus::Requested),
    ("10002", AfterSaleStatus::AwaitingReturn),
    ("10003", AfterSaleStatus::Returned),
    ("10004", AfterSaleStatus::Refused),
    ("10005", AfterSaleStatus::Agreed),
    ("10010", AfterSaleStatus::Refunded),
    ("10011", AfterSaleStatus::Closed),
];

/// What JD may put of the buyer in an application, masked in a rejection's excerpt.
pub const PRIVATE_KEYS: &[&str] = &["buyerName", "buyerId"];

/// One refund application → the canonical after-sale.
pub fn map_refund_apply(r: &Node<'_>, shop_id: &str) -> Result<AfterSale, ConnectorError> {
    let status_code = r.id("status")?;
    let created_at = r.shanghai_time("applyTime")?;
    let checked_at = r.opt_shanghai_time("checkTime")?;
    Ok(AfterSale {
        platform: PLATFORM.to_owned(),
        shop_id: shop_id.to_owned(),
        after_sale_id: r.id("id")?,
        order_id: r.id("orderId")?,
        lines: Vec::new(),
        kind: AfterSaleKind::RefundBeforeShipping,
        status: lookup(STATUSES, &status_code, &r.path_of("status"))?,
        platform_status: after_sale::platform_status(&[("status", Some(status_code))]),
        currency: CURRENCY.to_owned(),
        refund_amount: r.fen("applyRefundSum")?,
        shipping_refund: 0,
        reason: r.opt_str("reason")?,
        return_waybill: None,
        created_at,
        updated_at: checked_at.unwrap_or(created_at).max(created_at),
        refund_version: None,
    })
}

/// Which time a walk filters refund applications by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// `applyTimeStart` / `applyTimeEnd`: new applications.
    Applied,
    /// `checkTimeStart` / `checkTimeEnd`: applications reviewed (changed) since.
    Checked,
    /// Service orders by `updateTimeBegin` / `updateTimeEnd`.
    Service,
}

impl Stream {
    fn bounds(self) -> (&'static str, &'static str) {
        match self {
            Self::Applied => ("applyTimeStart", "applyTimeEnd"),
            Self::Checked => ("checkTimeStart", "checkTimeEnd"),
            Self::Service => ("updateTimeBegin", "updateTimeEnd"),
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Applied => "apply|",
            Self::Checked => "check|",
            Self::Service => "asc|",
        }
    }

    /// The walk after this one.
    fn next(self) -> Option<Self> {
        match self {
            Self::Applied => Some(Self::Checked),
            Self::Checked => Some(Self::Service),
            Self::Service => None,
        }
    }
}

/// One page of the query answer: each application mapped or set aside, and the total.
fn parse_page(
    response: &Value,
    page: u32,
    size: u32,
    shop_id: &str,
) -> Result<ListPage<Mapped<AfterSale>>, ConnectorError> {
    let root = Node::root(response, jos::response_key(REFUND_APPLY_QUERY));
    let result = jos::business(root.required(RESULT)?)?;
    let total = if result.has("totalCount") { result.i64("totalCount")? } else { 0 };
    let rows = match result.opt_array("result")? {
        Some(list) => list
            .elements()?
            .iter()
            .map(|n| {
                let raw = n.value();
                let id = reject::record_id(n, "id");
                reject::settle(&id, Some(raw), map_refund_apply(&Node::root(raw, ""), shop_id), PRIVATE_KEYS)
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(ListPage { rows, has_next: i64::from(page) * i64::from(size) < total, total: u64::try_from(total).ok() })
}

/// One service order → the canonical after-sale, its line found in `order` (the order it
/// belongs to, as `get-order` maps it).
pub fn map_service_order(r: &Node<'_>, order: &Order, shop_id: &str) -> Result<AfterSale, ConnectorError> {
    let expect = r.id("customerExpect")?;
    let kind = lookup(SERVICE_KINDS, &expect, &r.path_of("customerExpect"))?;
    let status_code = r.id("serviceStatus")?;
    let mut status = lookup(SERVICE_STATUSES, &status_code, &r.path_of("serviceStatus"))?;
    let refunds_money = matches!(
        kind,
        AfterSaleKind::ReturnAndRefund | AfterSaleKind::RefundAfterShipping | AfterSaleKind::PriceProtection
    );
    if status == AfterSaleStatus::Refunded && !refunds_money {
        status = AfterSaleStatus::Closed;
    }
    let order_id = r.id("orderId")?;
    if order_id != order.order_id {
        return Err(r.error_at("orderId", format!("expected order {}, got {order_id}", order.order_id)).into());
    }
    let sku = r.id("skuId")?;
    let line = order.lines.iter().find(|l| l.sku_id.as_deref() == Some(sku.as_str())).ok_or_else(|| {
        ConnectorError::from(r.error_at("skuId", format!("order {order_id} has no line of SKU {sku}")))
    })?;
    let count = r.u32("serviceCount")?;
    let company = r.opt_str("expressCompany")?;
    let tracking = r.opt_str("expressCode")?;
    let created_at = r.shanghai_time("applyTime")?;
    Ok(AfterSale {
        platform: PLATFORM.to_owned(),
        shop_id: shop_id.to_owned(),
        after_sale_id: format!("{SERVICE_PREFIX}{}", r.id("serviceId")?),
        order_id,
        lines: vec![AfterSaleLine {
            line_id: line.line_id.clone(),
            outer_sku_id: r.opt_str("outerSkuId")?.or_else(|| line.outer_sku_id.clone()),
            quantity: (count > 0).then_some(count),
        }],
        kind,
        status,
        platform_status: after_sale::platform_status(&[
            ("customerExpect", Some(expect)),
            ("serviceStatus", Some(status_code)),
        ]),
        currency: CURRENCY.to_owned(),
        refund_amount: r.fen("refundAmount")?,
        shipping_refund: r.opt_fen("freightRefund")?.unwrap_or(0),
        reason: r.opt_str("applyReason")?,
        return_waybill: match (company, tracking) {
            (Some(carrier), Some(tracking_no)) => Some(ReturnWaybill { carrier, tracking_no }),
            _ => None,
        },
        created_at,
        updated_at: r.shanghai_time("updateTime")?.max(created_at),
        refund_version: None,
    })
}

/// The orders service orders belong to, fetched once per order within a call.
#[derive(Default)]
pub struct Orders(HashMap<String, Order>);

impl Orders {
    fn get(&mut self, api: &mut impl Api, order_id: &str, shop_id: &str) -> Result<&Order, ConnectorError> {
        if !self.0.contains_key(order_id) {
            let order = pull::get_order(api, order_id, shop_id)?;
            self.0.insert(order_id.to_owned(), order);
        }
        Ok(&self.0[order_id])
    }
}

/// One service order as listed or viewed: mapped (its order fetched), or set aside.
fn settle_service_order(
    api: &mut impl Api,
    orders: &mut Orders,
    raw: &Value,
    shop_id: &str,
) -> Result<Mapped<AfterSale>, ConnectorError> {
    let node = Node::root(raw, "");
    let id = format!("{SERVICE_PREFIX}{}", reject::record_id(&node, "serviceId"));
    let mapped = match node.id("orderId") {
        Ok(order_id) => match orders.get(api, &order_id, shop_id) {
            Ok(order) => map_service_order(&node, order, shop_id),
            Err(e) => Err(e),
        },
        Err(e) => Err(e.into()),
    };
    reject::settle(&id, Some(raw), mapped, PRIVATE_KEYS)
}

/// One page of a listing: refund applications mapped as listed, service orders as raw rows
/// (mapped in [`Records::record`], which fetches their orders).
pub enum Row {
    Mapped(Box<Mapped<AfterSale>>),
    Service(Value),
}

/// The three walks over JD's listings, as the SDK's walk sees them.
pub struct JdAfterSales<'a, A: Api> {
    pub api: &'a mut A,
    pub shop_id: &'a str,
    pub stream: Stream,
    pub orders: Orders,
}

impl<A: Api> Records for JdAfterSales<'_, A> {
    type Row = Row;
    type Record = AfterSale;

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        self.api.note(message, fields);
    }

    fn list(
        &mut self,
        first_ms: i64,
        last_ms: i64,
        page: u32,
        size: u32,
    ) -> Result<ListPage<Self::Row>, ConnectorError> {
        let (start, end) = self.stream.bounds();
        let (method, page_key) = match self.stream {
            Stream::Service => (ASC_QUERY_LIST, "pageNumber"),
            _ => (REFUND_APPLY_QUERY, "pageIndex"),
        };
        let mut params = json!({"pageSize": size});
        params[page_key] = Value::from(page);
        params[start] = Value::from(time::ms_to_shanghai(first_ms));
        params[end] = Value::from(time::ms_to_shanghai(last_ms));
        let response = self.api.call(method, &params)?;
        if self.stream != Stream::Service {
            let page = parse_page(&response, page, size, self.shop_id)?;
            return Ok(ListPage {
                rows: page.rows.into_iter().map(|r| Row::Mapped(Box::new(r))).collect(),
                has_next: page.has_next,
                total: page.total,
            });
        }
        let root = Node::root(&response, jos::response_key(ASC_QUERY_LIST));
        let result = jos::business(root.required(ASC_LIST_RESULT)?)?;
        let total = if result.has("totalCount") { result.i64("totalCount")? } else { 0 };
        let rows = match result.opt_array("data")? {
            Some(list) => list.elements()?.iter().map(|n| Row::Service(n.value().clone())).collect(),
            None => Vec::new(),
        };
        Ok(ListPage { rows, has_next: i64::from(page) * i64::from(size) < total, total: u64::try_from(total).ok() })
    }

    fn record(&mut self, row: Row) -> Result<Mapped<AfterSale>, ConnectorError> {
        match row {
            Row::Mapped(mapped) => Ok(*mapped),
            Row::Service(raw) => settle_service_order(self.api, &mut self.orders, &raw, self.shop_id),
        }
    }
}

/// One page of refund applications applied or reviewed in `window`, then of service orders
/// updated in it (see the module docs).
pub fn pull_after_sales(
    api: &mut impl Api,
    page_size: u32,
    shop_id: &str,
    window: &TimeWindow,
    cursor: Option<&str>,
) -> Result<AfterSalePage, ConnectorError> {
    let size = page_size.clamp(1, MAX_PAGE_SIZE);
    let (stream, inner) = match cursor {
        None => (Stream::Applied, None),
        Some(c) => match [Stream::Applied, Stream::Checked, Stream::Service]
            .into_iter()
            .find_map(|s| c.strip_prefix(s.prefix()).map(|inner| (s, inner)))
        {
            Some((stream, inner)) => (stream, Some(inner)),
            None => {
                return Err(ConnectorError::invalid_input(
                    "cursor",
                    format!("expected `apply|…`, `check|…` or `asc|…` from a previous page, got {c:?}"),
                ));
            }
        },
    };
    // `check|` or `asc|` alone starts that walk.
    let inner = inner.filter(|i| !i.is_empty());
    let mut records = JdAfterSales { api, shop_id, stream, orders: Orders::default() };
    let mut page = paging::pull_after_sales(&PAGING, &mut records, size, window, inner)?;
    page.next_cursor = match (page.next_cursor.take(), stream.next()) {
        (Some(next), _) => Some(format!("{}{next}", stream.prefix())),
        (None, Some(following)) if window.from < window.to => Some(following.prefix().to_owned()),
        (None, _) => None,
    };
    Ok(page)
}

/// One after-sale by its id: a refund application (digits) or a service order
/// (`asc-<serviceId>`).
pub fn get_after_sale(api: &mut impl Api, id: &str, shop_id: &str) -> Result<AfterSale, ConnectorError> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(service_id) = id.strip_prefix(SERVICE_PREFIX).filter(|s| digits(s)) {
        let response = api.call(ASC_QUERY_VIEW, &json!({ "serviceId": service_id }))?;
        let root = Node::root(&response, jos::response_key(ASC_QUERY_VIEW));
        let result = jos::business(root.required(ASC_VIEW_RESULT)?)?;
        let data = result.object("data")?;
        let order = pull::get_order(api, &data.id("orderId")?, shop_id)?;
        return map_service_order(&data, &order, shop_id);
    }
    if !digits(id) {
        return Err(ConnectorError::invalid_input(
            "after_sale_id",
            format!(
                "expected a JD refund application id (decimal digits) or a service order's asc-<serviceId>, got {id:?}"
            ),
        ));
    }
    let response = api.call(REFUND_APPLY_QUERY, &json!({"id": id, "pageIndex": 1, "pageSize": 1}))?;
    let page = parse_page(&response, 1, 1, shop_id)?;
    match page.rows.into_iter().next() {
        Some(Ok(a)) => Ok(a),
        Some(Err(rejected)) => Err(ConnectorError::invalid_input(rejected.field, rejected.reason)),
        None => Err(ConnectorError::not_found(format!("JD refund application {id}"))),
    }
}

/// The `replyRefund` params of one answer to a refund application.
pub fn reply_params(action: &AfterSaleAction) -> Result<Value, ConnectorError> {
    let id = &action.after_sale_id;
    if id.starts_with(SERVICE_PREFIX) {
        return Err(ConnectorError::Unsupported(format!(
            "push-after-sale-actions on JD service order {id}: only refund applications are answered"
        )));
    }
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(
            "after_sale_id",
            format!("expected a JD refund application id (decimal digits), got {id:?}"),
        ));
    }
    let reason = after_sale::reason(action)?;
    match action.decision {
        AfterSaleDecision::AgreeRefund => Ok(json!({
            "id": id, "status": 1, "checkUserName": CHECK_USER,
            "remark": reason.unwrap_or_else(|| AGREE_REMARK.to_owned()),
        })),
        AfterSaleDecision::RefuseRefund => Ok(json!({
            "id": id, "status": 2, "checkUserName": CHECK_USER, "remark": reason, "rejectType": REJECT_OTHER,
        })),
        other => Err(ConnectorError::invalid_input(
            "decision",
            format!(
                "{} does not apply to JD refund application {id} (a refund of an order not shipped): agree_refund or refuse_refund",
                after_sale::decision_name(other)
            ),
        )),
    }
}

/// The merchant's answers, one `replyRefund` per answer (an answer's error is its own).
pub fn push_after_sale_actions(
    api: &mut impl Api,
    actions: Vec<AfterSaleAction>,
) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(actions, |action| {
        let params = reply_params(&action)?;
        let response = api.call(REFUND_APPLY_REPLY, &params)?;
        let root = Node::root(&response, jos::response_key(REFUND_APPLY_REPLY));
        jos::business(root.required(REPLY_RESULT)?)?;
        Ok(PushAck { platform_ref: Some(action.after_sale_id) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::api::Scripted;

    const T0: i64 = 1_794_326_400_000; // 2026-11-11 00:00:00 +08:00

    fn apply(id: u64, status: u32, check: &str) -> Value {
        json!({"id": id, "orderId": "300000000001", "buyerId": "pin", "buyerName": "张三", "applyTime": "2026-11-11 00:00:00",
            "checkTime": check, "applyRefundSum": 19_990, "status": status, "reason": "不想要了"})
    }

    fn answer(rows: Vec<Value>, total: usize) -> Result<Value, ConnectorError> {
        Ok(json!({"queryResult": {"success": true, "totalCount": total, "result": rows}}))
    }

    #[test]
    fn statuses_amounts_and_times() {
        for (code, want) in [
            (0, AfterSaleStatus::Requested),
            (1, AfterSaleStatus::Agreed),
            (2, AfterSaleStatus::Refused),
            (3, AfterSaleStatus::Agreed),
            (4, AfterSaleStatus::Refused),
            (5, AfterSaleStatus::Agreed),
            (6, AfterSaleStatus::Refunded),
            (9, AfterSaleStatus::Refunded),
        ] {
            let v = apply(1, code, "");
            let a = map_refund_apply(&Node::root(&v, ""), "s1").unwrap();
            assert_eq!((a.status, a.kind), (want, AfterSaleKind::RefundBeforeShipping), "{code}");
            assert_eq!(a.platform_status, format!("status={code}"));
        }
        let v = apply(7, 1, "2026-11-11 00:10:00");
        let a = map_refund_apply(&Node::root(&v, ""), "s1").unwrap();
        assert_eq!((a.refund_amount, a.shipping_refund, a.currency.as_str()), (19_990, 0, "CNY"));
        assert_eq!((a.created_at, a.updated_at, a.order_id.as_str()), (T0, T0 + 600_000, "300000000001"));
        assert!(a.lines.is_empty());
        let mut v = apply(7, 7, "");
        assert!(
            matches!(map_refund_apply(&Node::root(&v, ""), "s1"), Err(ConnectorError::InvalidInput(f)) if f.field == "status")
        );
        v["status"] = json!(0);
        v["applyRefundSum"] = json!("199.90");
        assert!(map_refund_apply(&Node::root(&v, ""), "s1").is_err(), "fen are integers");
    }

    #[test]
    fn walks_applied_then_checked_in_weeks_and_pages_of_fifty() {
        let mut bad = apply(2, 0, "");
        bad["applyRefundSum"] = json!(-1);
        let mut api = Scripted::answering(vec![
            answer(vec![apply(1, 0, ""), bad], 2),
            answer(vec![], 0),
            answer(vec![apply(1, 1, "2026-11-12 00:00:00")], 1),
            answer(vec![], 0),
        ]);
        let window = TimeWindow { from: T0, to: T0 + 10 * DAY_MS };
        let first = pull_after_sales(&mut api, 100, "s1", &window, None).unwrap();
        assert_eq!((first.items.len(), first.rejected.len(), first.rejected[0].id.as_str()), (1, 1, "2"));
        assert!(!first.rejected[0].excerpt.as_deref().unwrap().contains("张三"));
        assert_eq!(api.param(0, "pageSize").as_deref(), Some("50"));
        assert_eq!(api.param(0, "pageIndex").as_deref(), Some("1"));
        assert_eq!(api.param(0, "applyTimeStart").as_deref(), Some("2026-11-11 00:00:00"));
        assert_eq!(api.param(0, "applyTimeEnd").as_deref(), Some("2026-11-17 23:59:59"), "7 days at most");
        let cursor = first.next_cursor.unwrap();
        assert!(cursor.starts_with("apply|v1:"), "{cursor}");
        let second = pull_after_sales(&mut api, 100, "s1", &window, Some(&cursor)).unwrap();
        assert!(second.items.is_empty());
        assert_eq!(second.next_cursor.as_deref(), Some("check|"));
        let third = pull_after_sales(&mut api, 100, "s1", &window, Some("check|")).unwrap();
        assert_eq!(third.items[0].status, AfterSaleStatus::Agreed);
        assert_eq!(api.param(2, "checkTimeStart").as_deref(), Some("2026-11-11 00:00:00"));
        let fourth = pull_after_sales(&mut api, 100, "s1", &window, third.next_cursor.as_deref()).unwrap();
        assert_eq!(fourth.next_cursor.as_deref(), Some("asc|"), "service orders come third");
        assert!(pull_after_sales(&mut api, 100, "s1", &window, Some("v1:1:2:1")).is_err());
    }

    #[test]
    fn get_after_sale_by_id() {
        let mut api = Scripted::answering(vec![answer(vec![apply(5, 6, "2026-11-11 01:00:00")], 1), answer(vec![], 0)]);
        assert_eq!(get_after_sale(&mut api, "5", "s1").unwrap().status, AfterSaleStatus::Refunded);
        assert_eq!(api.param(0, "id").as_deref(), Some("5"));
        assert!(matches!(get_after_sale(&mut api, "6", "s1"), Err(ConnectorError::NotFound(_))));
        let mut api =
            Scripted::answering(vec![Ok(json!({"queryResult": {"success": false, "errorCode": "AFS_PARAM_ERROR"}}))]);
        assert!(
            matches!(get_after_sale(&mut api, "5", "s1"), Err(ConnectorError::Platform(e)) if e.code == "AFS_PARAM_ERROR")
        );
    }

    fn service(id: u64, expect: u32, status: u32) -> Value {
        json!({"serviceId": id, "orderId": 9007199254740993_u64, "customerExpect": expect, "serviceStatus": status,
            "serviceStatusName": "待审核", "skuId": 10000209458_u64, "outerSkuId": "", "skuName": "杯子", "serviceCount": 1,
            "refundAmount": 4_500, "freightRefund": 0, "applyReason": "质量问题", "expressCompany": "中通快递",
            "expressCode": "ZT000000000001", "applyTime": "2026-11-11 00:00:00", "updateTime": "2026-11-11 00:10:00"})
    }

    fn order_answer() -> Result<Value, ConnectorError> {
        Ok(json!({"orderDetailInfo": {"apiResult": {"success": true}, "orderInfo": crate::mapping::tests::info()}}))
    }

    fn asc_list(rows: Vec<Value>, total: usize) -> Result<Value, ConnectorError> {
        Ok(json!({"pageResult": {"success": true, "totalCount": total, "data": rows}}))
    }

    #[test]
    fn service_orders_kinds_statuses_and_lines() {
        let order = pull::get_order(&mut Scripted::answering(vec![order_answer()]), "9007199254740993", "s1").unwrap();
        let map = |v: &Value| map_service_order(&Node::root(v, ""), &order, "s1");
        let a = map(&service(77, 10, 10003)).unwrap();
        assert_eq!(a.after_sale_id, "asc-77");
        assert_eq!((a.kind, a.status), (AfterSaleKind::ReturnAndRefund, AfterSaleStatus::Returned));
        assert_eq!(a.platform_status, "customerExpect=10;serviceStatus=10003");
        assert_eq!(a.lines[0].line_id, "9007199254740993-2", "the line of the SKU");
        assert_eq!((a.lines[0].outer_sku_id.as_deref(), a.lines[0].quantity), (None, Some(1)));
        assert_eq!((a.refund_amount, a.shipping_refund, a.reason.as_deref()), (4_500, 0, Some("质量问题")));
        assert_eq!(a.return_waybill.as_ref().map(|w| w.tracking_no.as_str()), Some("ZT000000000001"));
        assert_eq!((a.created_at, a.updated_at), (T0, T0 + 600_000));
        for (expect, kind) in [
            (20, AfterSaleKind::Exchange),
            (30, AfterSaleKind::Repair),
            (50, AfterSaleKind::RefundAfterShipping),
            (60, AfterSaleKind::PriceProtection),
            (80, AfterSaleKind::Reissue),
        ] {
            assert_eq!(map(&service(1, expect, 10001)).unwrap().kind, kind);
        }
        // Done: money back for the kinds that refund, else over.
        assert_eq!(map(&service(1, 10, 10010)).unwrap().status, AfterSaleStatus::Refunded);
        assert_eq!(map(&service(1, 20, 10010)).unwrap().status, AfterSaleStatus::Closed);
        for (code, status) in [
            (10002, AfterSaleStatus::AwaitingReturn),
            (10004, AfterSaleStatus::Refused),
            (10005, AfterSaleStatus::Agreed),
            (10011, AfterSaleStatus::Closed),
        ] {
            assert_eq!(map(&service(1, 10, code)).unwrap().status, status);
        }
        let mut v = service(1, 10, 10001);
        v["expressCode"] = json!("");
        assert_eq!(map(&v).unwrap().return_waybill, None);
        v["skuId"] = json!(5);
        assert!(matches!(map(&v), Err(ConnectorError::InvalidInput(f)) if f.field == "skuId"));
        assert!(
            matches!(map(&service(1, 99, 10001)), Err(ConnectorError::InvalidInput(f)) if f.field == "customerExpect")
        );
        assert!(matches!(map(&service(1, 10, 1)), Err(ConnectorError::InvalidInput(f)) if f.field == "serviceStatus"));
    }

    #[test]
    fn service_orders_walk_third_by_update_time_with_their_orders_fetched_once() {
        let mut bad = service(79, 10, 10001);
        bad["refundAmount"] = json!("45.00");
        let mut api = Scripted::answering(vec![
            asc_list(vec![service(77, 10, 10002), service(78, 20, 10001), bad], 3),
            order_answer(),
        ]);
        let window = TimeWindow { from: T0, to: T0 + DAY_MS };
        let page = pull_after_sales(&mut api, 100, "s1", &window, Some("asc|")).unwrap();
        assert_eq!(page.items.iter().map(|a| a.after_sale_id.as_str()).collect::<Vec<_>>(), ["asc-77", "asc-78"]);
        assert_eq!((page.rejected[0].id.as_str(), page.rejected[0].field.as_str()), ("asc-79", "refundAmount"));
        assert_eq!(page.next_cursor, None, "the last walk");
        assert_eq!(api.methods(), [ASC_QUERY_LIST, pull::GET_METHOD]);
        assert_eq!(api.param(0, "updateTimeBegin").as_deref(), Some("2026-11-11 00:00:00"));
        assert_eq!(api.param(0, "updateTimeEnd").as_deref(), Some("2026-11-11 23:59:59"));
        assert_eq!(
            (api.param(0, "pageNumber").as_deref(), api.param(0, "pageSize").as_deref()),
            (Some("1"), Some("50"))
        );
        // A page of the walk keeps its prefix.
        let mut api = Scripted::answering(vec![asc_list(vec![service(80, 10, 10001)], 120), order_answer()]);
        let window = TimeWindow { from: T0, to: T0 + 1_000 };
        let page = pull_after_sales(&mut api, 1, "s1", &window, Some("asc|")).unwrap();
        assert_eq!(page.next_cursor, Some(format!("asc|v1:{T0}:{}:2", T0 + 1_000)));
        assert!(pull_after_sales(&mut Scripted::default(), 50, "s1", &window, Some("svc|v1:1:2:1")).is_err());
    }

    #[test]
    fn get_finds_either_source() {
        let view = Ok(json!({"result": {"success": true, "data": service(77, 10, 10010)}}));
        let mut api = Scripted::answering(vec![view, order_answer()]);
        let a = get_after_sale(&mut api, "asc-77", "s1").unwrap();
        assert_eq!((a.after_sale_id.as_str(), a.status), ("asc-77", AfterSaleStatus::Refunded));
        assert_eq!(api.param(0, "serviceId").as_deref(), Some("77"));
        let missing = Ok(json!({"result": {"success": false, "errorCode": "AFS_NOT_FOUND"}}));
        let mut api = Scripted::answering(vec![missing]);
        assert!(
            matches!(get_after_sale(&mut api, "asc-78", "s1"), Err(ConnectorError::Platform(e)) if e.code == "AFS_NOT_FOUND")
        );
        // The order it belongs to is gone: not found, as JD says.
        let view = Ok(json!({"result": {"success": true, "data": service(77, 10, 10010)}}));
        let no_order = Ok(json!({"orderDetailInfo": {"apiResult": {"success": true}}}));
        let mut api = Scripted::answering(vec![view, no_order]);
        assert!(matches!(get_after_sale(&mut api, "asc-77", "s1"), Err(ConnectorError::NotFound(_))));
        for bad in ["asc-", "asc-x", "ASC-1", "x"] {
            assert!(
                matches!(get_after_sale(&mut Scripted::default(), bad, "s1"), Err(ConnectorError::InvalidInput(_))),
                "{bad}"
            );
        }
    }

    fn action(id: &str, decision: AfterSaleDecision, reason: Option<&str>) -> AfterSaleAction {
        AfterSaleAction {
            after_sale_id: id.into(),
            order_id: "300000000001".into(),
            decision,
            reason: reason.map(Into::into),
            refund_version: None,
        }
    }

    #[test]
    fn answers_to_refund_applications() {
        let ok = || Ok(json!({"replyResult": {"success": true}}));
        let refused = Ok(
            json!({"replyResult": {"success": false, "errorCode": "AFS_STATUS_NOT_ALLOWED", "errorMessage": "已审核"}}),
        );
        let mut api = Scripted::answering(vec![ok(), ok(), refused]);
        let results = push_after_sale_actions(
            &mut api,
            vec![
                action("5", AfterSaleDecision::AgreeRefund, None),
                action("6", AfterSaleDecision::RefuseRefund, Some(" 已发货 ")),
                action("7", AfterSaleDecision::AgreeRefund, Some("好")),
                action("8", AfterSaleDecision::RefuseRefund, None),
                action("9", AfterSaleDecision::AgreeReturn, None),
                action("asc-10", AfterSaleDecision::AgreeRefund, None),
            ],
        )
        .unwrap();
        assert_eq!(api.methods(), [REFUND_APPLY_REPLY; 3]);
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("5"));
        assert_eq!(api.calls[0].1, json!({"id": "5", "status": 1, "checkUserName": "wharf", "remark": "同意退款"}));
        assert_eq!(
            api.calls[1].1,
            json!({"id": "6", "status": 2, "checkUserName": "wharf", "remark": "已发货", "rejectType": 5})
        );
        assert!(matches!(&results[2], Err(ConnectorError::Platform(e)) if e.code == "AFS_STATUS_NOT_ALLOWED"));
        assert!(matches!(&results[3], Err(ConnectorError::InvalidInput(f)) if f.field == "reason"));
        assert!(matches!(&results[4], Err(ConnectorError::InvalidInput(f)) if f.field == "decision"));
        assert!(matches!(&results[5], Err(ConnectorError::Unsupported(_))));
        // Credentials refused: the whole call fails.
        let mut api = Scripted::answering(vec![Err(ConnectorError::auth("token expired"))]);
        assert!(push_after_sale_actions(&mut api, vec![action("5", AfterSaleDecision::AgreeRefund, None)]).is_err());
    }
}
