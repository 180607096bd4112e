//! `pull-orders` and `get-order` through the bridge.
//!
//! The bridge lists whole orders (not only ids) changed in an inclusive range of Unix seconds,
//! newest first, with a `total`; the SDK's [`paging::pull`] walks the window over it, cutting
//! chunks that hold more than a page to one by that total, so rows cannot shift while it pages.

use serde_json::json;
use wharf_sdk::api::Api;
use wharf_sdk::json::Node;
use wharf_sdk::paging::{self, DAY_MS, ListPage, Listing, Paging};
use wharf_sdk::reject::Mapped;
use wharf_sdk::time;
use wharf_sdk::types::{ConnectorError, Order, OrderPage, TimeWindow};

use crate::mapping;

pub const ORDERS: &str = "orders";
pub const ORDER: &str = "order";

/// How the walk pages the bridge. The bridge takes any span; a day per query keeps one
/// answer's candidate scan small on shops without the optional time indexes (bridge
/// README.md), and a day of a busy ECShop shop still fits a few pages. A minute is paged
/// forward instead of halved, as on the other platforms.
pub const PAGING: Paging =
    Paging { max_chunk_ms: DAY_MS, min_halving_span_ms: 60_000, first_page: 1, max_listing_calls: 64 };

/// `order_sn` is at most 20 characters (`ecs_order_info.order_sn varchar(20)`).
const MAX_ORDER_SN_CHARS: usize = 20;

/// The bridge as the SDK's walk sees it.
pub struct Bridge<'a, A: Api> {
    pub api: &'a mut A,
    pub shop_id: &'a str,
}

/// Rows are mapped as soon as they are listed, even those of a page the walk then discards to
/// halve its chunk: a broken order is set aside whichever page it comes in, never skipped.
impl<A: Api> Listing for Bridge<'_, A> {
    type Row = Mapped<Order>;

    fn list(&mut self, first: i64, last: i64, page: u32, size: u32) -> Result<ListPage<Mapped<Order>>, ConnectorError> {
        // The bridge's bounds are whole Unix seconds, both inclusive, like the walk's.
        let (since, until) = (time::ms_to_unix_seconds(first), time::ms_to_unix_seconds(last));
        let params = json!({ "since": since, "until": until, "page": page, "page_size": size });
        let answer = self.api.call(ORDERS, &params)?;
        let root = Node::root(&answer, "");
        let total = root.i64("total")?;
        let rows = root
            .required(ORDERS)?
            .elements()?
            .iter()
            .map(|node| mapping::settle_order(node, self.shop_id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListPage { has_next: i64::from(page) * i64::from(size) < total, rows, total: u64::try_from(total).ok() })
    }

    fn order(&mut self, order: Mapped<Order>) -> Result<Mapped<Order>, ConnectorError> {
        Ok(order)
    }

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        self.api.note(message, fields);
    }
}

impl<A: Api> Bridge<'_, A> {
    /// One page of the orders changed in `window`, resuming at `cursor`.
    pub fn pull(
        &mut self,
        page_size: u32,
        window: &TimeWindow,
        cursor: Option<&str>,
    ) -> Result<OrderPage, ConnectorError> {
        paging::pull(&PAGING, self, page_size, window, cursor)
    }
}

/// One order by its `order_sn`.
pub fn get_order(api: &mut impl Api, order_id: &str, shop_id: &str) -> Result<Order, ConnectorError> {
    if order_id.trim().is_empty() || order_id.chars().count() > MAX_ORDER_SN_CHARS {
        return Err(ConnectorError::invalid_input(
            "order_id",
            format!("expected an ECShop order_sn (1 to {MAX_ORDER_SN_CHARS} characters), got {order_id:?}"),
        ));
    }
    let answer = api.call(ORDER, &json!({ "order_sn": order_id }))?;
    mapping::map_order(&Node::root(&answer, "").required(ORDER)?, shop_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::tests::order_json;
    use serde_json::Value;
    use wharf_sdk::api::Scripted;

    const T0: i64 = 1_795_392_000_000; // 2026-11-24 00:00:00 UTC

    fn order(sn: &str, updated_at: i64) -> Value {
        let mut o = order_json();
        o["order_sn"] = json!(sn);
        o["updated_at"] = json!(updated_at);
        o
    }

    fn pull(
        api: &mut Scripted,
        page_size: u32,
        window: &TimeWindow,
        cursor: Option<&str>,
    ) -> Result<OrderPage, ConnectorError> {
        Bridge { api, shop_id: "s1" }.pull(page_size, window, cursor)
    }

    fn listing(total: u64, orders: Vec<Value>) -> Result<Value, ConnectorError> {
        Ok(json!({"since": 0, "until": 0, "page": 1, "page_size": 2, "total": total, "orders": orders}))
    }

    #[test]
    fn asks_inclusive_seconds_and_pages_by_total() {
        // Three orders in one second: halving cannot split them, so that second is paged.
        let mut api = Scripted::answering(vec![
            listing(3, vec![order("A", 1_795_392_010), order("B", 1_795_392_010)]),
            listing(3, vec![order("C", 1_795_392_010)]),
        ]);
        let window = TimeWindow { from: T0 + 10_000, to: T0 + 11_000 };
        let first = pull(&mut api, 2, &window, None).unwrap();
        assert_eq!(first.orders.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(first.orders[0].shop_id, "s1");
        let cursor = first.next_cursor.expect("a second page");
        let second = pull(&mut api, 2, &window, Some(&cursor)).unwrap();
        assert_eq!(second.orders[0].order_id, "C");
        assert_eq!(second.next_cursor, None);

        assert_eq!(api.methods(), ["orders", "orders"]);
        assert_eq!(api.param(0, "since").as_deref(), Some("1795392010"));
        assert_eq!(api.param(0, "until").as_deref(), Some("1795392010"));
        assert_eq!((api.param(0, "page").as_deref(), api.param(1, "page").as_deref()), (Some("1"), Some("2")));
        assert_eq!(api.param(0, "page_size").as_deref(), Some("2"));
    }

    #[test]
    fn a_full_chunk_is_cut_by_the_total_before_it_is_paged() {
        let mut api =
            Scripted::answering(vec![listing(5, vec![order("A", 1), order("B", 1)]), listing(1, vec![order("A", 1)])]);
        let window = TimeWindow { from: T0, to: T0 + DAY_MS };
        let page = pull(&mut api, 2, &window, None).unwrap();
        assert_eq!(page.orders.len(), 1);
        // 5 in a day, pages of 2: the chunk is cut to what should hold 80 % of a page, 32 % of
        // the day (27,648 s), in one call.
        assert_eq!(api.param(1, "until").as_deref(), Some((T0 / 1000 + 27_647).to_string().as_str()));
    }

    #[test]
    fn a_broken_row_is_set_aside_by_its_order_sn_and_a_broken_listing_fails() {
        let mut broken = order("A", 1);
        broken["goods_amount"] = json!("abc");
        let mut api = Scripted::answering(vec![listing(2, vec![order("B", 1), broken])]);
        let window = TimeWindow { from: T0, to: T0 + 1_000 };
        let page = pull(&mut api, 50, &window, None).unwrap();
        assert_eq!(page.orders.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>(), ["B"]);
        assert_eq!((page.rejected[0].id.as_str(), page.rejected[0].field.as_str()), ("A", "goods_amount"));
        let mut api = Scripted::answering(vec![Ok(json!({"orders": []}))]);
        match pull(&mut api, 50, &window, None) {
            Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, "total"),
            other => panic!("{other:?}"),
        }
        let mut api = Scripted::answering(vec![Err(ConnectorError::auth("wrong token"))]);
        assert!(matches!(pull(&mut api, 50, &window, None), Err(ConnectorError::Auth(_))));
    }

    #[test]
    fn one_order_by_sn() {
        let mut api = Scripted::answering(vec![Ok(json!({"order": order("2026112401234", 1_795_400_200)}))]);
        let o = get_order(&mut api, "2026112401234", "s1").unwrap();
        assert_eq!(o.order_id, "2026112401234");
        assert_eq!(api.param(0, "order_sn").as_deref(), Some("2026112401234"));
        let mut api = Scripted::answering(vec![Ok(json!({}))]);
        match get_order(&mut api, "1", "s1") {
            Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, "order"),
            other => panic!("{other:?}"),
        }
        for bad in ["", "123456789012345678901"] {
            assert!(
                matches!(get_order(&mut Scripted::default(), bad, "s1"), Err(ConnectorError::InvalidInput(_))),
                "{bad:?}"
            );
        }
    }
}
