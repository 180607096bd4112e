//! JD after-sales: refund applications (退款审核单) of orders cancelled before shipping, over
//! `jingdong.pop.afs.soa.refundapply.queryPageList`: `pull-after-sales` and `get-after-sale`.
//!
//! Mapping (canonical-model.md, "Rules every plugin follows", After-sales, JD): a refund
//! application is `refund_before_shipping`; `status` 0 → `requested`, 1, 3, 5 → `agreed`, 2, 4
//! → `refused`, 6, 9 → `refunded` ([`STATUSES`]); `platform_status` = `status=<code>`. The
//! amount `applyRefundSum` is in fen, all of it `refund_amount` (JD does not split shipping
//! out); the whole order is refunded, so there are no lines. `updated_at` is `checkTime` (the
//! last review) when there is one, else `applyTime`.
//!
//! The listing has no update-time filter: an application is found by when it was applied
//! (`applyTimeStart`/`applyTimeEnd`) or last reviewed (`checkTimeStart`/`checkTimeEnd`), and an
//! application nobody reviewed yet has no check time. So the window is walked twice with the
//! SDK's walk ([`Stream`]): applications applied in it, then applications reviewed in it; the
//! cursor says which (`apply|…`, `check|…`). An application applied and reviewed in the same
//! window comes in both, the second time as its latest state. Windows of at most 7 days,
//! pages of at most [`MAX_PAGE_SIZE`], both JD's limits.
//!
//! After-sales service orders (`jingdong.asc.query.list`: returns, exchanges, repairs) are not
//! read: platforms.md names the methods only, and we are not sure enough of their fields and
//! codes to map them. Answers (`refundapply.replyRefund`) are not implemented either, for the
//! same reason.
//!
//! UNSURE, kept here: the field names as integrators know them, an application
//! `{id, orderId, applyTime, checkTime, applyRefundSum, status, reason}` in
//! `queryResult{success, totalCount, result[]}`; `pageIndex` from 1, `pageSize`; times GMT+8
//! `yyyy-MM-dd HH:mm:ss`.

use serde_json::{Value, json};
use wharf_sdk::after_sale;
use wharf_sdk::api::Api;
use wharf_sdk::json::Node;
use wharf_sdk::paging::{self, DAY_MS, ListPage, Paging, Records};
use wharf_sdk::reject::{self, Mapped};
use wharf_sdk::status::lookup;
use wharf_sdk::time;
use wharf_sdk::types::{AfterSale, AfterSaleKind, AfterSalePage, AfterSaleStatus, ConnectorError, TimeWindow};

use crate::jos;
use crate::mapping::{CURRENCY, PLATFORM};

pub const REFUND_APPLY_QUERY: &str = "jingdong.pop.afs.soa.refundapply.queryPageList";
const RESULT: &str = "queryResult";
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
}

impl Stream {
    fn bounds(self) -> (&'static str, &'static str) {
        match self {
            Self::Applied => ("applyTimeStart", "applyTimeEnd"),
            Self::Checked => ("checkTimeStart", "checkTimeEnd"),
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Applied => "apply|",
            Self::Checked => "check|",
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

/// `refundapply.queryPageList` by one of its time windows, as the SDK's walk sees it.
pub struct RefundApplies<'a, A: Api> {
    pub api: &'a mut A,
    pub shop_id: &'a str,
    pub stream: Stream,
}

impl<A: Api> Records for RefundApplies<'_, A> {
    type Row = Mapped<AfterSale>;
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
        let mut params = json!({"pageIndex": page, "pageSize": size});
        params[start] = Value::from(time::ms_to_shanghai(first_ms));
        params[end] = Value::from(time::ms_to_shanghai(last_ms));
        let response = self.api.call(REFUND_APPLY_QUERY, &params)?;
        parse_page(&response, page, size, self.shop_id)
    }

    fn record(&mut self, row: Mapped<AfterSale>) -> Result<Mapped<AfterSale>, ConnectorError> {
        Ok(row)
    }
}

/// One page of refund applications applied or reviewed in `window` (see the module docs).
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
        Some(c) => match (c.strip_prefix(Stream::Applied.prefix()), c.strip_prefix(Stream::Checked.prefix())) {
            (Some(inner), _) => (Stream::Applied, Some(inner)),
            (_, Some(inner)) => (Stream::Checked, Some(inner)),
            _ => {
                return Err(ConnectorError::invalid_input(
                    "cursor",
                    format!("expected `apply|…` or `check|…` from a previous page, got {c:?}"),
                ));
            }
        },
    };
    // `check|` alone starts the second walk.
    let inner = inner.filter(|i| !i.is_empty());
    let mut page = paging::pull_after_sales(&PAGING, &mut RefundApplies { api, shop_id, stream }, size, window, inner)?;
    page.next_cursor = match (page.next_cursor.take(), stream) {
        (Some(next), stream) => Some(format!("{}{next}", stream.prefix())),
        (None, Stream::Applied) if window.from < window.to => Some(Stream::Checked.prefix().to_owned()),
        (None, _) => None,
    };
    Ok(page)
}

/// One refund application by its `id`.
pub fn get_after_sale(api: &mut impl Api, id: &str, shop_id: &str) -> Result<AfterSale, ConnectorError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(
            "after_sale_id",
            format!("expected a JD refund application id (decimal digits), got {id:?}"),
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
        assert_eq!(fourth.next_cursor, None);
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
}
