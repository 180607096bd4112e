//! `pull-orders`: walking a time window with `taobao.trades.sold.increment.get`.
//!
//! The walk itself (day-long chunks, halving dense chunks so rows cannot shift while paging,
//! cursors) is the SDK's [`paging`]; this module is the TOP side of it: a listing page of
//! `tid`s (`use_has_next`), and `taobao.trade.fullinfo.get` for each.

use wharf_sdk::api::{Api, text_params};
use wharf_sdk::json::Node;
use wharf_sdk::paging::{self, ListPage, Paging};
use wharf_sdk::reject::{self, Mapped};
use wharf_sdk::stored;
use wharf_sdk::time;
use wharf_sdk::types::{ConnectorError, Order, OrderPage, TimeWindow};

use crate::mapping;
use crate::top;

/// Incremental listing by modification time.
pub const INCREMENT_METHOD: &str = "taobao.trades.sold.increment.get";
/// The listing only needs ids; everything else comes from fullinfo.
const INCREMENT_FIELDS: &str = "tid,modified";

/// TOP: `start_modified`..`end_modified` may span at most one day; pages count from 1. The
/// rest are the SDK's defaults (see [`Paging::default`]).
pub const PAGING: Paging =
    Paging { max_chunk_ms: paging::DAY_MS, min_halving_span_ms: 60 * 1_000, first_page: 1, max_listing_calls: 64 };

/// One page of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub trades: Vec<Listed>,
    pub has_next: bool,
}

/// A listed trade: its `tid`, and its `modified` (UTC ms) when the row carries a readable one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub tid: String,
    pub modified: Option<i64>,
}

/// Reads the inside of `trades_sold_increment_get_response`: `trades.trade[]` (absent when
/// there are none) and `has_next`. A row whose `modified` is missing or unreadable is kept
/// without it: it is then fetched in full, where its trade is mapped or set aside on its own.
pub fn parse_listing(response: &serde_json::Value) -> Result<Listing, ConnectorError> {
    let root = Node::root(response, top::response_key(INCREMENT_METHOD));
    let trades = match root.opt_object("trades")? {
        None => Vec::new(),
        Some(trades) => trades
            .required("trade")?
            .elements()?
            .iter()
            .map(|trade| {
                Ok(Listed { tid: trade.id("tid")?, modified: trade.opt_shanghai_time("modified").ok().flatten() })
            })
            .collect::<Result<Vec<_>, ConnectorError>>()?,
    };
    Ok(Listing { trades, has_next: root.bool("has_next")? })
}

/// Asks one listing page for the inclusive second bounds `[first, last]`.
fn list(api: &mut impl Api, first: i64, last: i64, page_no: u32, page_size: u32) -> Result<Listing, ConnectorError> {
    let response = api.call(
        INCREMENT_METHOD,
        &text_params(&[
            ("fields", INCREMENT_FIELDS.to_owned()),
            ("start_modified", time::ms_to_shanghai(first)),
            ("end_modified", time::ms_to_shanghai(last)),
            ("page_no", page_no.to_string()),
            ("page_size", page_size.to_string()),
            ("use_has_next", "true".to_owned()),
        ]),
    )?;
    parse_listing(&response)
}

/// One trade, in full, mapped.
pub fn get_order(api: &mut impl Api, tid: &str, shop_id: &str) -> Result<Order, ConnectorError> {
    mapping::map_fullinfo(&fetch(api, tid)?, shop_id)
}

/// One trade, in full, as TOP sends it (the inside of its envelope).
fn fetch(api: &mut impl Api, tid: &str) -> Result<serde_json::Value, ConnectorError> {
    if tid.is_empty() || !tid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(
            "order_id",
            format!("expected a Taobao tid (decimal digits), got {tid:?}"),
        ));
    }
    api.call(
        mapping::FULLINFO_METHOD,
        &text_params(&[("tid", tid.to_owned()), ("fields", mapping::TRADE_FIELDS.to_owned())]),
    )
}

/// TOP as a [`paging::Listing`]: rows are `tid`s, each fetched in full.
struct Trades<'a, A> {
    api: &'a mut A,
    shop_id: &'a str,
}

impl<A: Api> paging::Listing for Trades<'_, A> {
    type Row = Listed;

    fn list(
        &mut self,
        first_ms: i64,
        last_ms: i64,
        page: u32,
        page_size: u32,
    ) -> Result<ListPage<Listed>, ConnectorError> {
        let mut listing = list(self.api, first_ms, last_ms, page, page_size)?;
        // A trade listed twice (it changed while we paged) is fetched once.
        let mut seen = std::collections::HashSet::new();
        listing.trades.retain(|row| seen.insert(row.tid.clone()));
        // `use_has_next` spares TOP counting the rows, so no total: dense chunks are halved.
        Ok(ListPage { rows: listing.trades, has_next: listing.has_next, total: None })
    }

    /// A trade the host stores at its listed `modified` is not fetched again: each round
    /// re-reads the last one's overlap, and `fullinfo` calls come out of the shop's quota.
    fn unstored(&mut self, rows: Vec<Listed>) -> Result<Vec<Listed>, ConnectorError> {
        let tids: Vec<String> = rows.iter().map(|row| row.tid.clone()).collect();
        let versions = stored::ask(self.api, &tids)?;
        Ok(stored::changed(rows, |row| row.modified, &versions))
    }

    fn order(&mut self, Listed { tid, .. }: Listed) -> Result<Mapped<Order>, ConnectorError> {
        // A listed tid that is not one, or whose trade is gone, is that trade's problem alone.
        let response = match fetch(self.api, &tid) {
            Ok(response) => response,
            Err(error) => return reject::rejection(&tid, None, error, &[]).map(Err),
        };
        let mapped = mapping::map_fullinfo(&response, self.shop_id);
        reject::settle(&tid, Some(&response), mapped, mapping::RECEIVER_FIELDS)
    }

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        self.api.note(message, fields);
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
    let mut trades = Trades { api, shop_id };
    paging::pull(&PAGING, &mut trades, page_size, window, cursor)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};
    use wharf_sdk::api::Scripted;
    use wharf_sdk::paging::Position;

    const T0: i64 = 1_794_326_400_000; // 2026-11-11 00:00:00 +08:00
    const DAY: i64 = paging::DAY_MS;

    fn window(from: i64, to: i64) -> TimeWindow {
        TimeWindow { from, to }
    }

    fn listing(tids: &[u64], has_next: bool) -> Result<Value, ConnectorError> {
        if tids.is_empty() {
            return Ok(json!({ "has_next": has_next }));
        }
        let trades: Vec<Value> = tids.iter().map(|t| json!({"tid": t, "modified": "2026-11-11 00:00:00"})).collect();
        Ok(json!({ "trades": { "trade": trades }, "has_next": has_next }))
    }

    pub(crate) fn fullinfo(tid: u64) -> Result<Value, ConnectorError> {
        Ok(json!({"trade": {
            "tid": tid, "status": "TRADE_FINISHED", "payment": "10.00", "post_fee": "0.00",
            "total_fee": "10.00", "discount_fee": "0.00", "created": "2026-11-11 00:00:00",
            "modified": "2026-11-11 00:00:01",
            "orders": {"order": [{"oid": tid + 1, "title": "商品", "num": 1, "price": "10.00", "payment": "10.00"}]}
        }}))
    }

    #[test]
    fn listing_parsing() {
        let l = parse_listing(
            &json!({"trades": {"trade": [{"tid": 3912345678901234567u64}, {"tid": "42"}]}, "has_next": true}),
        )
        .unwrap();
        let tids: Vec<&str> = l.trades.iter().map(|t| t.tid.as_str()).collect();
        assert_eq!((tids, l.has_next), (vec!["3912345678901234567", "42"], true));
        assert_eq!(parse_listing(&json!({"has_next": false})).unwrap(), Listing { trades: vec![], has_next: false });
        match parse_listing(&json!({"trades": {"trade": [{"tid": 1}]}})) {
            Err(ConnectorError::InvalidInput(f)) => {
                assert_eq!(f.field, "trades_sold_increment_get_response.has_next")
            }
            other => panic!("{other:?}"),
        }
        match parse_listing(&json!({"trades": {"trade": [{"tid": 1.5}]}, "has_next": false})) {
            Err(ConnectorError::InvalidInput(f)) => {
                assert_eq!(f.field, "trades_sold_increment_get_response.trades.trade[0].tid")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn skips_empty_chunks_and_returns_the_first_orders() {
        let w = window(T0, T0 + 3 * DAY);
        let mut api = Scripted::answering(vec![listing(&[], false), listing(&[7, 8], false), fullinfo(7), fullinfo(8)]);
        let page = pull_orders(&mut api, 50, "shop", &w, None).unwrap();
        assert_eq!(page.orders.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>(), ["7", "8"]);
        assert_eq!(page.orders[0].shop_id, "shop");
        assert_eq!(
            api.methods(),
            [INCREMENT_METHOD, INCREMENT_METHOD, mapping::FULLINFO_METHOD, mapping::FULLINFO_METHOD]
        );
        assert_eq!(api.param(0, "start_modified").as_deref(), Some("2026-11-11 00:00:00"));
        assert_eq!(api.param(0, "end_modified").as_deref(), Some("2026-11-11 23:59:59"));
        assert_eq!(api.param(0, "page_no").as_deref(), Some("1"));
        assert_eq!(api.param(0, "page_size").as_deref(), Some("50"));
        assert_eq!(api.param(0, "use_has_next").as_deref(), Some("true"));
        assert_eq!(api.param(0, "fields").as_deref(), Some("tid,modified"));
        assert_eq!(api.param(1, "start_modified").as_deref(), Some("2026-11-12 00:00:00"));
        assert_eq!(api.param(2, "tid").as_deref(), Some("7"));
        assert_eq!(api.param(2, "fields").as_deref(), Some(mapping::TRADE_FIELDS));
        // The third day is next.
        assert_eq!(page.next_cursor, Some(format!("v1:{}:{}:1", T0 + 2 * DAY, T0 + 3 * DAY)));

        let mut api = Scripted::answering(vec![listing(&[], false)]);
        let page = pull_orders(&mut api, 50, "shop", &w, page.next_cursor.as_deref()).unwrap();
        assert_eq!(page, OrderPage { orders: vec![], rejected: vec![], next_cursor: None });
    }

    #[test]
    fn dense_chunks_halve_then_page_when_short() {
        let w = window(T0, T0 + 100_000);
        let mut api = Scripted::answering(vec![
            listing(&[1], true), // [0, 100 s): halve
            listing(&[1], true), // [0, 50 s): short enough, page forward
            fullinfo(1),
        ]);
        let page = pull_orders(&mut api, 1, "s", &w, None).unwrap();
        assert_eq!(api.param(1, "start_modified").as_deref(), Some("2026-11-11 00:00:00"));
        assert_eq!(api.param(1, "end_modified").as_deref(), Some("2026-11-11 00:00:49"));
        assert_eq!(page.orders.len(), 1);
        assert_eq!(page.next_cursor, Some(format!("v1:{}:{}:2", T0, T0 + 50_000)));

        let mut api = Scripted::answering(vec![listing(&[2], false), fullinfo(2)]);
        let page = pull_orders(&mut api, 1, "s", &w, page.next_cursor.as_deref()).unwrap();
        assert_eq!(api.param(0, "page_no").as_deref(), Some("2"));
        // Next chunk: the rest of the window (it could grow to 100 s, the window ends first).
        assert_eq!(page.next_cursor, Some(format!("v1:{}:{}:1", T0 + 50_000, T0 + 100_000)));
    }

    /// A re-read overlap: what the host stores at its listed `modified` is not fetched again;
    /// what changed since, what it never stored, and a row whose `modified` cannot be read are.
    #[test]
    fn trades_the_host_stores_at_their_listed_time_are_not_fetched_again() {
        let w = window(T0, T0 + 1_000);
        let listed = Ok(json!({ "trades": { "trade": [
            {"tid": 1, "modified": "2026-11-11 00:00:00"},
            {"tid": 2, "modified": "2026-11-11 00:00:00"},
            {"tid": 3, "modified": "2026-11-11 00:00:00"},
            {"tid": 4, "modified": "yesterday"},
        ]}, "has_next": false }));
        let mut api = Scripted::answering(vec![listed.clone(), fullinfo(2), fullinfo(3), fullinfo(4)]);
        api.stored = [("1".to_owned(), T0), ("2".to_owned(), T0 - 1_000), ("4".to_owned(), T0)].into();
        let page = pull_orders(&mut api, 50, "s", &w, None).unwrap();
        assert_eq!(page.orders.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>(), ["2", "3", "4"]);
        assert_eq!(api.methods().iter().filter(|m| **m == mapping::FULLINFO_METHOD).count(), 3);

        // All of a page stored: no fullinfo call at all, and the window is done.
        let mut api = Scripted::answering(vec![listing(&[1, 2], false)]);
        api.stored = [("1".to_owned(), T0), ("2".to_owned(), T0)].into();
        let page = pull_orders(&mut api, 50, "s", &w, None).unwrap();
        assert_eq!(page, OrderPage { orders: vec![], rejected: vec![], next_cursor: None });
        assert_eq!(api.methods(), [INCREMENT_METHOD]);
    }

    #[test]
    fn later_pages_with_has_next_do_not_halve() {
        let w = window(T0, T0 + DAY);
        let cursor = format!("v1:{}:{}:3", T0, T0 + DAY);
        let mut api = Scripted::answering(vec![listing(&[5], true), fullinfo(5)]);
        let page = pull_orders(&mut api, 1, "s", &w, Some(&cursor)).unwrap();
        assert_eq!(page.next_cursor, Some(format!("v1:{}:{}:4", T0, T0 + DAY)));
    }

    #[test]
    fn duplicates_are_fetched_once_and_errors_stop_the_page() {
        let w = window(T0, T0 + 1_000);
        let mut api = Scripted::answering(vec![listing(&[9, 9], false), fullinfo(9)]);
        let page = pull_orders(&mut api, 50, "s", &w, None).unwrap();
        assert_eq!(page.orders.len(), 1);
        assert_eq!(page.next_cursor, None);

        let mut api = Scripted::answering(vec![listing(&[9], false), Err(ConnectorError::transient("timeout"))]);
        assert!(matches!(pull_orders(&mut api, 50, "s", &w, None), Err(ConnectorError::Transient(_))));
    }

    #[test]
    fn listing_budget_returns_a_cursor() {
        let w = window(T0, T0 + 1_000 * DAY);
        let answers = (0..PAGING.max_listing_calls).map(|_| listing(&[], false)).collect();
        let mut api = Scripted::answering(answers);
        let page = pull_orders(&mut api, 50, "s", &w, None).unwrap();
        assert!(page.orders.is_empty());
        let cursor = page.next_cursor.unwrap();
        let resumed = Position::from_cursor(&PAGING, &cursor, &w).unwrap();
        assert_eq!(resumed.start, T0 + i64::from(PAGING.max_listing_calls) * DAY);
    }

    #[test]
    fn get_order_checks_the_tid() {
        let mut api = Scripted::default();
        match get_order(&mut api, "12a", "s") {
            Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, "order_id"),
            other => panic!("{other:?}"),
        }
        assert!(api.calls.is_empty());
    }
}
