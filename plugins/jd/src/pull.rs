//! `pull-orders` over `jingdong.pop.order.search`, and `get-order` over
//! `jingdong.pop.order.get`.
//!
//! The walk over the window (chunks, dense ones cut to a page by `orderTotal` so rows cannot
//! shift while paging, cursors) is the SDK's [`paging`]; this module is the JOS side: one
//! search page, by modification time, every order state, with whole `orderInfo`s (no second
//! call per order), and `page × page_size < orderTotal` for "there is more".
//!
//! Rows are mapped as soon as a page arrives, even a page the walk then drops to cut its
//! chunk: a broken answer is reported where it came (those rows come again in the smaller
//! chunks anyway, so nothing is lost but a little mapping).

use serde_json::{Value, json};
use wharf_sdk::api::Api;
use wharf_sdk::json::Node;
use wharf_sdk::paging::{self, ListPage, Paging};
use wharf_sdk::reject::Mapped;
use wharf_sdk::time;
use wharf_sdk::types::{ConnectorError, Order, OrderPage, TimeWindow};

use crate::jos;
use crate::mapping::{self, ORDER_FIELDS};

pub const SEARCH_METHOD: &str = "jingdong.pop.order.search";
pub const GET_METHOD: &str = "jingdong.pop.order.get";
/// Where each answer sits inside its `_responce`.
const SEARCH_RESULT: &str = "searchorderinfo_result";
const GET_RESULT: &str = "orderDetailInfo";

/// `dateType` of a search by modification time. UNSURE: JOS documents 0 as modification
/// time (and the default), 1 as creation time.
const DATE_TYPE_MODIFIED: &str = "0";
/// `sortType` 1: newest first (JOS's default is oldest first).
const SORT_NEWEST_FIRST: &str = "1";

/// JOS accepts up to a month per search by modification time; a week per chunk keeps the
/// halving of a dense chunk short while a quiet shop still needs few calls. Pages count
/// from 1; the rest are the SDK's defaults.
pub const PAGING: Paging =
    Paging { max_chunk_ms: 7 * paging::DAY_MS, min_halving_span_ms: 60 * 1_000, first_page: 1, max_listing_calls: 64 };

/// Every order state, comma-separated: a pull wants all of them, and JOS requires the list.
pub fn all_states() -> String {
    mapping::ORDER_STATES.iter().map(|(state, _)| *state).collect::<Vec<_>>().join(",")
}

/// One search page, each order mapped or set aside, and whether more pages follow.
pub fn parse_search(
    response: &Value,
    page: u32,
    page_size: u32,
    shop_id: &str,
) -> Result<ListPage<Mapped<Order>>, ConnectorError> {
    let root = Node::root(response, jos::response_key(SEARCH_METHOD));
    let result = jos::business(root.required(SEARCH_RESULT)?)?;
    let total = result.i64("orderTotal")?;
    let rows = match result.opt_array("orderInfoList")? {
        None => Vec::new(),
        Some(list) => {
            list.elements()?.iter().map(|info| mapping::settle_order(info, shop_id)).collect::<Result<_, _>>()?
        }
    };
    let has_next = i64::from(page).saturating_mul(i64::from(page_size)) < total;
    Ok(ListPage { rows, has_next, total: u64::try_from(total).ok() })
}

/// JOS as a [`paging::Listing`]: pages of whole orders for one shop.
struct Search<'a, A> {
    api: &'a mut A,
    shop_id: String,
}

impl<A: Api> paging::Listing for Search<'_, A> {
    type Row = Mapped<Order>;

    fn list(
        &mut self,
        first_ms: i64,
        last_ms: i64,
        page: u32,
        page_size: u32,
    ) -> Result<ListPage<Mapped<Order>>, ConnectorError> {
        let params = json!({
            "start_date": time::ms_to_shanghai(first_ms),
            "end_date": time::ms_to_shanghai(last_ms),
            "order_state": all_states(),
            "optional_fields": ORDER_FIELDS,
            "page": page.to_string(),
            "page_size": page_size.to_string(),
            "dateType": DATE_TYPE_MODIFIED,
            "sortType": SORT_NEWEST_FIRST,
        });
        parse_search(&self.api.call(SEARCH_METHOD, &params)?, page, page_size, &self.shop_id)
    }

    fn order(&mut self, order: Mapped<Order>) -> Result<Mapped<Order>, ConnectorError> {
        Ok(order)
    }

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        self.api.note(message, fields)
    }
}

/// One page of orders modified in `window`, resuming at `cursor`.
pub fn pull_orders(
    api: &mut impl Api,
    page_size: u32,
    shop_id: &str,
    window: &TimeWindow,
    cursor: Option<&str>,
) -> Result<OrderPage, ConnectorError> {
    paging::pull(&PAGING, &mut Search { api, shop_id: shop_id.to_owned() }, page_size, window, cursor)
}

/// One order by its JD id; `not_found` when JOS does not show it.
pub fn get_order(api: &mut impl Api, order_id: &str, shop_id: &str) -> Result<Order, ConnectorError> {
    if order_id.is_empty() || !order_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(
            "order_id",
            format!("expected a JD order id (decimal digits), got {order_id:?}"),
        ));
    }
    let response = api.call(GET_METHOD, &json!({"order_id": order_id, "optional_fields": ORDER_FIELDS}))?;
    let root = Node::root(&response, jos::response_key(GET_METHOD));
    let result = jos::business(root.required(GET_RESULT)?)?;
    match result.opt_object("orderInfo")? {
        Some(info) => mapping::map_order(&info, shop_id),
        None => Err(ConnectorError::not_found(format!("JD order {order_id}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::api::Scripted;
    use wharf_sdk::types::OrderStatus;

    const T0: i64 = 1_794_326_400_000; // 2026-11-11 00:00:00 +08:00

    fn info(id: u64, modified: &str) -> Value {
        json!({
            "orderId": id, "orderState": "FINISHED_L",
            "orderTotalPrice": "10.00", "freightPrice": "0.00", "orderPayment": "10.00", "balanceUsed": "0.00",
            "orderStartTime": "2026-11-10 00:00:00", "paymentConfirmTime": "2026-11-10 00:00:01", "modified": modified,
            "itemInfoList": [{"skuId": "1", "skuName": "x", "jdPrice": "5.00", "itemTotal": "2"}],
        })
    }

    fn page(total: u64, infos: Vec<Value>) -> Result<Value, ConnectorError> {
        Ok(json!({"code": "0", "searchorderinfo_result": {
            "apiResult": {"success": true, "numberCode": 10100000}, "orderTotal": total, "orderInfoList": infos,
        }}))
    }

    #[test]
    fn a_pull_asks_by_modified_time_for_every_state_and_maps_rows() {
        let mut api = Scripted::answering(vec![page(
            2,
            vec![info(9_007_199_254_740_993, "2026-11-11 00:30:00"), info(7, "2026-11-11 00:10:00")],
        )]);
        let window = TimeWindow { from: T0, to: T0 + 3_600_000 };
        let out = pull_orders(&mut api, 50, "s1", &window, None).unwrap();
        assert_eq!(out.next_cursor, None);
        assert_eq!(out.orders.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>(), ["9007199254740993", "7"]);
        assert_eq!(out.orders[0].status, OrderStatus::Completed);
        assert_eq!(api.methods(), [SEARCH_METHOD]);
        assert_eq!(api.param(0, "start_date").as_deref(), Some("2026-11-11 00:00:00"));
        assert_eq!(api.param(0, "end_date").as_deref(), Some("2026-11-11 00:59:59"));
        assert_eq!(api.param(0, "dateType").as_deref(), Some("0"));
        assert_eq!(api.param(0, "page").as_deref(), Some("1"));
        assert_eq!(api.param(0, "page_size").as_deref(), Some("50"));
        assert_eq!(api.param(0, "order_state").unwrap().split(',').count(), mapping::ORDER_STATES.len());
        assert!(api.param(0, "optional_fields").unwrap().contains("itemInfoList"));
    }

    #[test]
    fn more_than_a_page_cuts_the_chunk_by_the_total() {
        let mut api = Scripted::answering(vec![
            page(3, vec![info(1, "2026-11-11 00:30:00")]),
            page(1, vec![info(1, "2026-11-11 00:20:00")]),
        ]);
        let window = TimeWindow { from: T0, to: T0 + 3_600_000 };
        let out = pull_orders(&mut api, 1, "s1", &window, None).unwrap();
        // 3 in an hour, pages of 1: cut at once to what should hold 80 % of a page, 16 minutes.
        assert_eq!(api.param(1, "end_date").as_deref(), Some("2026-11-11 00:15:59"));
        assert_eq!(out.orders.len(), 1);
        assert!(out.next_cursor.is_some());
    }

    #[test]
    fn a_refused_search_is_the_platforms_error_and_a_bad_row_is_set_aside_by_its_id() {
        let refused = json!({"code": "0", "searchorderinfo_result": {
            "apiResult": {"success": false, "numberCode": 10100001, "chineseErrCode": "参数错误"}, "orderTotal": 0, "orderInfoList": []}});
        let window = TimeWindow { from: T0, to: T0 + 1_000 };
        let e = pull_orders(&mut Scripted::answering(vec![Ok(refused)]), 50, "s1", &window, None).unwrap_err();
        assert!(matches!(&e, ConnectorError::Platform(p) if p.code == "10100001"), "{e:?}");

        let mut bad = info(5, "2026-11-11 00:00:00");
        bad["orderPayment"] = json!("12.3.4");
        let good = info(6, "2026-11-11 00:00:00");
        let page =
            pull_orders(&mut Scripted::answering(vec![page(2, vec![bad, good])]), 50, "s1", &window, None).unwrap();
        assert_eq!(page.orders.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>(), ["6"]);
        assert_eq!((page.rejected[0].id.as_str(), page.rejected[0].field.as_str()), ("5", "orderPayment"));
    }

    #[test]
    fn get_order_finds_maps_or_says_not_found() {
        let found = json!({"code": "0", "orderDetailInfo": {"apiResult": {"success": true}, "orderInfo": info(42, "2026-11-11 00:00:00")}});
        let missing = json!({"code": "0", "orderDetailInfo": {"apiResult": {"success": true}}});
        let mut api = Scripted::answering(vec![Ok(found), Ok(missing)]);
        assert_eq!(get_order(&mut api, "42", "s1").unwrap().order_id, "42");
        assert_eq!(api.param(0, "order_id").as_deref(), Some("42"));
        assert!(matches!(get_order(&mut api, "43", "s1"), Err(ConnectorError::NotFound(_))));
        assert!(
            matches!(get_order(&mut api, "4x", "s1"), Err(ConnectorError::InvalidInput(f)) if f.field == "order_id")
        );
    }
}
