//! `pull-orders` over `order.searchList`, and `get-order` over `order.orderDetail`.
//!
//! The walk over the window is the SDK's ([`wharf_sdk::paging::pull`]): chunks of at most a day, asked
//! by `update_time_start` / `update_time_end` (inclusive Unix seconds) from page 0, newest
//! updated first, a chunk that holds more than a page cut to one by the listing's `total`. 抖店's listing carries whole
//! shop orders, so each row is mapped as it comes, without a detail call.

use serde_json::json;
use wharf_sdk::api::Api;
use wharf_sdk::json::Node;
use wharf_sdk::paging::{DAY_MS, ListPage, Listing, Paging};
use wharf_sdk::reject::Mapped;
use wharf_sdk::time;
use wharf_sdk::types::{ConnectorError, Order};

use crate::mapping;

pub const SEARCH_LIST: &str = "order.searchList";
pub const ORDER_DETAIL: &str = "order.orderDetail";

/// 抖店's paging: pages from 0. A day per query: 抖店 documents no longer span we rely on,
/// and a day keeps each query's result small. A minute before paging forward, and 64
/// listings per call, as the SDK's defaults explain.
pub const PAGING: Paging =
    Paging { max_chunk_ms: DAY_MS, min_halving_span_ms: 60 * 1_000, first_page: 0, max_listing_calls: 64 };

/// `order.searchList` as the SDK's walk sees it.
pub struct SearchList<'a, A: Api> {
    pub api: &'a mut A,
    pub shop_id: &'a str,
}

impl<A: Api> Listing for SearchList<'_, A> {
    /// Rows are mapped as they are listed, also on a page the walk then drops to halve its
    /// chunk: whatever 抖店 sends is checked, and a broken order is set aside at once.
    type Row = Mapped<Order>;

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        self.api.note(message, fields);
    }

    fn list(
        &mut self,
        first_ms: i64,
        last_ms: i64,
        page: u32,
        page_size: u32,
    ) -> Result<ListPage<Mapped<Order>>, ConnectorError> {
        let params = json!({
            "update_time_start": time::ms_to_unix_seconds(first_ms),
            "update_time_end": time::ms_to_unix_seconds(last_ms),
            "order_by": "update_time",
            "order_asc": false,
            "page": page,
            "size": page_size,
        });
        let data = self.api.call(SEARCH_LIST, &params)?;
        let root = Node::root(&data, "data");
        // An empty page may come without the list at all.
        let rows = match root.opt_array("shop_order_list")? {
            Some(list) => list.elements()?,
            None => Vec::new(),
        };
        let total = if root.has("total") { root.i64("total")? } else { 0 };
        let seen = (i64::from(page) + 1) * i64::from(page_size);
        Ok(ListPage {
            rows: rows.iter().map(|n| mapping::settle_shop_order(n, self.shop_id)).collect::<Result<_, _>>()?,
            has_next: seen < total,
            total: u64::try_from(total).ok(),
        })
    }

    fn order(&mut self, listed: Mapped<Order>) -> Result<Mapped<Order>, ConnectorError> {
        Ok(listed)
    }
}

/// One order by its parent id.
pub fn get_order(api: &mut impl Api, order_id: &str, shop_id: &str) -> Result<Order, ConnectorError> {
    if order_id.is_empty() || !order_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(
            "order_id",
            format!("expected a 抖店 order id (decimal digits), got {order_id:?}"),
        ));
    }
    let data = api.call(ORDER_DETAIL, &json!({"shop_order_id": order_id}))?;
    let detail = Node::root(&data, "data").required("shop_order_detail")?;
    mapping::map_shop_order(detail.value(), detail.path(), shop_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use wharf_sdk::api::Scripted;
    use wharf_sdk::paging;
    use wharf_sdk::types::{OrderPage, TimeWindow};

    /// `pull-orders` of shop `s1` as the plugin runs it.
    fn pull(
        api: &mut Scripted,
        size: u32,
        window: &TimeWindow,
        cursor: Option<&str>,
    ) -> Result<OrderPage, ConnectorError> {
        paging::pull(&PAGING, &mut SearchList { api, shop_id: "s1" }, size, window, cursor)
    }

    const T0: i64 = 1_794_326_400_000;

    /// A minimal valid shop order updated at `second`.
    fn order(id: u64, second: i64) -> Value {
        json!({
            "order_id": id.to_string(), "order_status": 2, "main_status": 2,
            "create_time": second - 60, "update_time": second, "pay_time": second - 30,
            "pay_amount": 100, "post_amount": 0,
            "sku_order_list": [{"order_id": (id + 1).to_string(), "product_name": "x", "item_num": 1, "origin_amount": 100, "pay_amount": 100}],
        })
    }

    fn page(orders: Vec<Value>, total: usize) -> Result<Value, ConnectorError> {
        Ok(json!({"page": 0, "size": 2, "total": total, "shop_order_list": orders}))
    }

    #[test]
    fn lists_by_update_time_from_page_zero_and_maps_rows() {
        let s = T0 / 1000;
        let mut api = Scripted::answering(vec![page(
            vec![order(6_920_000_000_000_000_001, s + 5), order(6_920_000_000_000_000_003, s + 1)],
            2,
        )]);
        let window = TimeWindow { from: T0, to: T0 + 10_000 };
        let result = pull(&mut api, 2, &window, None).unwrap();
        assert_eq!(result.orders.len(), 2);
        assert_eq!(result.orders[0].order_id, "6920000000000000001");
        assert_eq!(result.next_cursor, None);
        assert_eq!(api.methods(), [SEARCH_LIST]);
        let asked = &api.calls[0].1;
        assert_eq!(asked["update_time_start"], s);
        assert_eq!(asked["update_time_end"], s + 9);
        assert_eq!((asked["page"].as_u64(), asked["size"].as_u64()), (Some(0), Some(2)));
        assert_eq!((asked["order_by"].as_str(), asked["order_asc"].as_bool()), (Some("update_time"), Some(false)));
    }

    #[test]
    fn a_dense_minute_is_paged_forward_from_zero() {
        let s = T0 / 1000;
        let mut api = Scripted::answering(vec![page(vec![order(10, s), order(20, s)], 3), page(vec![order(30, s)], 3)]);
        let window = TimeWindow { from: T0, to: T0 + 1_000 };
        let first = pull(&mut api, 2, &window, None).unwrap();
        assert_eq!(first.orders.len(), 2);
        let cursor = first.next_cursor.expect("a second page");
        let second = pull(&mut api, 2, &window, Some(&cursor)).unwrap();
        assert_eq!(second.orders[0].order_id, "30");
        assert_eq!(api.param(1, "page").as_deref(), Some("1"));
    }

    #[test]
    fn empty_pages_and_errors() {
        let mut api = Scripted::answering(vec![Ok(json!({"page": 0, "size": 50, "total": 0}))]);
        let window = TimeWindow { from: T0, to: T0 + 1_000 };
        assert!(pull(&mut api, 50, &window, None).unwrap().orders.is_empty());
        let mut broken = order(10, T0 / 1000);
        broken["pay_amount"] = json!("abc");
        let mut api = Scripted::answering(vec![page(vec![order(20, T0 / 1000), broken], 2)]);
        // The broken order is set aside with its own id and a path inside it; the other flows.
        let page = pull(&mut api, 50, &window, None).unwrap();
        assert_eq!(page.orders.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>(), ["20"]);
        assert_eq!((page.rejected[0].id.as_str(), page.rejected[0].field.as_str()), ("10", "pay_amount"));
        let mut api = Scripted::answering(vec![Err(ConnectorError::auth("expired"))]);
        assert!(matches!(pull(&mut api, 50, &window, None), Err(ConnectorError::Auth(_))));
    }

    #[test]
    fn a_page_with_one_inconsistent_line_yields_every_other_order_and_one_rejection() {
        let s = T0 / 1000;
        // Real 抖店 lines: origin_amount the unit price, sum_amount = origin × num.
        let good = |id: u64| {
            let mut o = order(id, s);
            o["sku_order_list"] = json!([{"order_id": (id + 1).to_string(), "product_name": "x", "item_num": 3,
                "origin_amount": 333, "sum_amount": 999, "pay_amount": 900}]);
            o["pay_amount"] = json!(900);
            o
        };
        let mut bad = good(30);
        bad["sku_order_list"][0]["sum_amount"] = json!(1000);
        let mut api = Scripted::answering(vec![page(vec![good(10), bad, good(50)], 3)]);
        let window = TimeWindow { from: T0, to: T0 + 1_000 };
        let page = pull(&mut api, 50, &window, None).unwrap();
        let ids: Vec<&str> = page.orders.iter().map(|o| o.order_id.as_str()).collect();
        assert_eq!(ids, ["10", "50"]);
        assert_eq!(page.orders[0].lines[0].unit_price, 333);
        assert_eq!(page.orders[0].lines[0].discount, 99);
        assert_eq!(page.rejected.len(), 1);
        assert_eq!(
            (page.rejected[0].id.as_str(), page.rejected[0].field.as_str()),
            ("30", "sku_order_list[0].sum_amount")
        );
    }

    #[test]
    fn get_order_reads_the_detail() {
        let mut api =
            Scripted::answering(vec![Ok(json!({"shop_order_detail": order(6_920_000_000_000_000_001, T0 / 1000)}))]);
        let o = get_order(&mut api, "6920000000000000001", "s1").unwrap();
        assert_eq!((o.order_id.as_str(), o.shop_id.as_str()), ("6920000000000000001", "s1"));
        assert_eq!(api.param(0, "shop_order_id").as_deref(), Some("6920000000000000001"));
        assert!(
            matches!(get_order(&mut api, "12a", "s1"), Err(ConnectorError::InvalidInput(f)) if f.field == "order_id")
        );
        let mut api = Scripted::answering(vec![Ok(json!({}))]);
        assert!(
            matches!(get_order(&mut api, "1", "s1"), Err(ConnectorError::InvalidInput(f)) if f.field == "data.shop_order_detail")
        );
    }
}
