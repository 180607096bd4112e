//! `pull-orders`: walking a time window with `taobao.trades.sold.increment.get`.
//!
//! The window is cut into chunks of at most a day (TOP's limit for one query). Each chunk is
//! asked page by page. TOP sorts by `modified`, newest first, so rows shift between pages when
//! trades change during paging; to avoid that, a chunk whose first page says `has_next` is
//! halved (while longer than [`MIN_HALVING_SPAN_MS`]) until it fits one page. Only chunks that
//! short are paged forward. Empty chunks are skipped within one call.
//!
//! The position between calls is the cursor `v1:<chunk_start_ms>:<chunk_end_ms>:<page_no>`.
//! [`Position`] is pure logic; [`pull_orders`] is the loop, over the [`Api`] seam.

use std::collections::HashSet;

use wharf_sdk::json::Node;
use wharf_sdk::time;
use wharf_sdk::types::{ConnectorError, Order, OrderPage, TimeWindow};

use crate::mapping;
use crate::top::{self, Api};

/// Incremental listing by modification time.
pub const INCREMENT_METHOD: &str = "taobao.trades.sold.increment.get";
/// The listing only needs ids; everything else comes from fullinfo.
const INCREMENT_FIELDS: &str = "tid,modified";

/// TOP: `start_modified`..`end_modified` may span at most one day.
pub const MAX_CHUNK_MS: i64 = 24 * 60 * 60 * 1_000;
/// The contract: a chunk this short (or shorter) is paged forward instead of halved.
pub const MIN_HALVING_SPAN_MS: i64 = 60 * 1_000;
/// Listing requests one call may make before it returns an empty page with a cursor, so a
/// long empty or dense window cannot run past the call's deadline. A day at one order per
/// second halves about 11 times; 64 leaves room for several such chunks.
pub const MAX_LISTING_CALLS_PER_PULL: u32 = 64;

const CURSOR_VERSION: &str = "v1";
const SECOND_MS: i64 = 1_000;

/// Where a pull stands: the chunk `[start, end)` (UTC ms) and the next page to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub start: i64,
    pub end: i64,
    pub page_no: u32,
}

impl Position {
    /// The first chunk of `window`, or `None` when the window is empty. `from > to` is an
    /// error.
    pub fn first(window: &TimeWindow) -> Result<Option<Self>, ConnectorError> {
        if window.from > window.to {
            return Err(ConnectorError::invalid_input(
                "window",
                format!(
                    "expected from <= to, got from {} > to {}",
                    window.from, window.to
                ),
            ));
        }
        if window.from == window.to {
            return Ok(None);
        }
        Ok(Some(Self {
            start: window.from,
            end: window.to.min(window.from.saturating_add(MAX_CHUNK_MS)),
            page_no: 1,
        }))
    }

    /// Reads a cursor this plugin wrote for the same `window`.
    pub fn from_cursor(cursor: &str, window: &TimeWindow) -> Result<Self, ConnectorError> {
        let bad = |why: &str| {
            ConnectorError::invalid_input(
                "cursor",
                format!(
                    "expected `{CURSOR_VERSION}:<chunk_start_ms>:<chunk_end_ms>:<page_no>` from a previous \
                     page of window [{}, {}), got {cursor:?}: {why}",
                    window.from, window.to
                ),
            )
        };
        let parts: Vec<&str> = cursor.split(':').collect();
        let [version, start, end, page_no] = parts.as_slice() else {
            return Err(bad("not four ':'-separated parts"));
        };
        if *version != CURSOR_VERSION {
            return Err(bad("unknown version"));
        }
        let (Ok(start), Ok(end), Ok(page_no)) = (
            start.parse::<i64>(),
            end.parse::<i64>(),
            page_no.parse::<u32>(),
        ) else {
            return Err(bad("not numbers"));
        };
        if page_no == 0 {
            return Err(bad("pages count from 1"));
        }
        if !(window.from <= start && start < end && end <= window.to) {
            return Err(bad("the chunk is not inside the window"));
        }
        if end - start > MAX_CHUNK_MS {
            return Err(bad("the chunk is longer than a day"));
        }
        Ok(Self {
            start,
            end,
            page_no,
        })
    }

    pub fn cursor(&self) -> String {
        format!(
            "{CURSOR_VERSION}:{}:{}:{}",
            self.start, self.end, self.page_no
        )
    }

    pub fn span(&self) -> i64 {
        self.end - self.start
    }

    /// The inclusive `start_modified` / `end_modified` (whole seconds, UTC ms) that cover
    /// exactly the trades modified in `[start, end)` at TOP's second precision; `None` when
    /// no whole second starts inside the chunk.
    pub fn query_bounds(&self) -> Option<(i64, i64)> {
        let first = time::ceil_to_second(self.start)?;
        let last = time::ceil_to_second(self.end)? - SECOND_MS;
        (first <= last).then_some((first, last))
    }

    /// The first half of this chunk (ending on a whole second), when it is longer than
    /// [`MIN_HALVING_SPAN_MS`].
    pub fn halved(&self) -> Option<Self> {
        if self.span() <= MIN_HALVING_SPAN_MS {
            return None;
        }
        let middle = time::ceil_to_second(self.start + self.span() / 2)?;
        (middle < self.end).then_some(Self {
            start: self.start,
            end: middle,
            page_no: 1,
        })
    }

    pub fn next_page(&self) -> Self {
        Self {
            page_no: self.page_no + 1,
            ..*self
        }
    }

    /// The chunk after this one, or `None` at the end of the window. It may be twice as long
    /// as this one (up to a day): after a dense stretch forced halving, chunks grow back
    /// instead of crawling through the rest of the window in tiny steps.
    pub fn next_chunk(&self, window: &TimeWindow) -> Option<Self> {
        if self.end >= window.to {
            return None;
        }
        let span = self.span().saturating_mul(2).min(MAX_CHUNK_MS);
        Some(Self {
            start: self.end,
            end: window.to.min(self.end.saturating_add(span)),
            page_no: 1,
        })
    }
}

/// One page of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub tids: Vec<String>,
    pub has_next: bool,
}

/// Reads the inside of `trades_sold_increment_get_response`: `trades.trade[].tid` (absent
/// when there are none) and `has_next`.
pub fn parse_listing(response: &serde_json::Value) -> Result<Listing, ConnectorError> {
    let root = Node::root(response, top::response_key(INCREMENT_METHOD));
    let tids = match root.field("trades") {
        None => Vec::new(),
        Some(trades) => trades
            .required("trade")?
            .elements()?
            .iter()
            .map(|trade| trade.id("tid"))
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(Listing {
        tids,
        has_next: root.bool("has_next")?,
    })
}

/// Asks one listing page for the inclusive second bounds `[first, last]`.
fn list(
    api: &mut impl Api,
    first: i64,
    last: i64,
    page_no: u32,
    page_size: u32,
) -> Result<Listing, ConnectorError> {
    let response = api.call(
        INCREMENT_METHOD,
        &[
            ("fields", INCREMENT_FIELDS.to_owned()),
            ("start_modified", time::ms_to_shanghai(first)),
            ("end_modified", time::ms_to_shanghai(last)),
            ("page_no", page_no.to_string()),
            ("page_size", page_size.to_string()),
            ("use_has_next", "true".to_owned()),
        ],
    )?;
    parse_listing(&response)
}

/// One trade, in full, mapped.
pub fn get_order(api: &mut impl Api, tid: &str, shop_id: &str) -> Result<Order, ConnectorError> {
    if tid.is_empty() || !tid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(
            "order_id",
            format!("expected a Taobao tid (decimal digits), got {tid:?}"),
        ));
    }
    let response = api.call(
        mapping::FULLINFO_METHOD,
        &[
            ("tid", tid.to_owned()),
            ("fields", mapping::TRADE_FIELDS.to_owned()),
        ],
    )?;
    mapping::map_fullinfo(&response, shop_id)
}

/// One page of orders modified in `window`, resuming at `cursor`.
pub fn pull_orders(
    api: &mut impl Api,
    page_size: u32,
    shop_id: &str,
    window: &TimeWindow,
    cursor: Option<&str>,
) -> Result<OrderPage, ConnectorError> {
    let done = || OrderPage {
        orders: Vec::new(),
        next_cursor: None,
    };
    let mut position = match cursor {
        Some(cursor) => Position::from_cursor(cursor, window)?,
        None => match Position::first(window)? {
            Some(first) => first,
            None => return Ok(done()),
        },
    };

    let mut listing_calls = 0;
    loop {
        let Some((first, last)) = position.query_bounds() else {
            match position.next_chunk(window) {
                Some(next) => {
                    position = next;
                    continue;
                }
                None => return Ok(done()),
            }
        };
        if listing_calls == MAX_LISTING_CALLS_PER_PULL {
            api.note(
                "listing budget of this call spent; continuing next call",
                &[("cursor", position.cursor())],
            );
            return Ok(OrderPage {
                orders: Vec::new(),
                next_cursor: Some(position.cursor()),
            });
        }
        listing_calls += 1;

        let listing = list(api, first, last, position.page_no, page_size)?;
        if listing.has_next
            && position.page_no == 1
            && let Some(half) = position.halved()
        {
            api.note(
                "chunk holds more than a page; halving",
                &[("from", position.cursor()), ("to", half.cursor())],
            );
            position = half;
            continue;
        }
        let next = if listing.has_next {
            Some(position.next_page())
        } else {
            position.next_chunk(window)
        };
        if listing.tids.is_empty() {
            match next {
                Some(next) => {
                    position = next;
                    continue;
                }
                None => return Ok(done()),
            }
        }

        // A trade listed twice (it changed while we paged) is fetched once.
        let mut seen = HashSet::new();
        let mut orders = Vec::with_capacity(listing.tids.len());
        for tid in listing.tids.iter().filter(|tid| seen.insert(tid.as_str())) {
            orders.push(get_order(api, tid, shop_id)?);
        }
        return Ok(OrderPage {
            orders,
            next_cursor: next.map(|p| p.cursor()),
        });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::collections::VecDeque;

    /// An [`Api`] answering from a script and recording what was asked.
    #[derive(Default)]
    pub(crate) struct Scripted {
        pub answers: VecDeque<Result<Value, ConnectorError>>,
        pub calls: Vec<(String, Vec<(String, String)>)>,
    }

    impl Scripted {
        pub fn answering(answers: Vec<Result<Value, ConnectorError>>) -> Self {
            Self {
                answers: answers.into(),
                calls: Vec::new(),
            }
        }

        pub fn param(&self, call: usize, key: &str) -> Option<&str> {
            self.calls[call]
                .1
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        }

        pub fn methods(&self) -> Vec<&str> {
            self.calls.iter().map(|(m, _)| m.as_str()).collect()
        }
    }

    impl Api for Scripted {
        fn call(
            &mut self,
            method: &str,
            params: &[(&str, String)],
        ) -> Result<Value, ConnectorError> {
            self.calls.push((
                method.to_owned(),
                params
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            ));
            self.answers
                .pop_front()
                .unwrap_or_else(|| panic!("unscripted call to {method}"))
        }
    }

    const T0: i64 = 1_794_326_400_000; // 2026-11-11 00:00:00 +08:00
    const DAY: i64 = MAX_CHUNK_MS;

    fn window(from: i64, to: i64) -> TimeWindow {
        TimeWindow { from, to }
    }

    fn listing(tids: &[u64], has_next: bool) -> Result<Value, ConnectorError> {
        if tids.is_empty() {
            return Ok(json!({ "has_next": has_next }));
        }
        let trades: Vec<Value> = tids
            .iter()
            .map(|t| json!({"tid": t, "modified": "2026-11-11 00:00:00"}))
            .collect();
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
    fn first_chunks_and_cursors() {
        let w = window(T0, T0 + 3 * DAY);
        let first = Position::first(&w).unwrap().unwrap();
        assert_eq!(
            first,
            Position {
                start: T0,
                end: T0 + DAY,
                page_no: 1
            }
        );
        assert_eq!(Position::from_cursor(&first.cursor(), &w).unwrap(), first);
        assert_eq!(Position::first(&window(T0, T0)).unwrap(), None);
        assert!(Position::first(&window(T0, T0 - 1)).is_err());
        assert_eq!(
            Position::first(&window(T0, T0 + 5_000))
                .unwrap()
                .unwrap()
                .end,
            T0 + 5_000
        );
    }

    #[test]
    fn bad_cursors() {
        let w = window(T0, T0 + 3 * DAY);
        for bad in [
            "",
            "v2:1:2:1",
            "v1:a:b:c",
            &format!("v1:{}:{}:0", T0, T0 + 1000),
            &format!("v1:{}:{}:1", T0 - 1, T0 + 1000),
            &format!("v1:{}:{}:1", T0, T0 + 4 * DAY),
            &format!("v1:{}:{}:1", T0, T0 + DAY + 1),
            &format!("v1:{}:{}:1", T0 + 5, T0 + 5),
            &format!("v1:{}:{}:1:9", T0, T0 + 1000),
        ] {
            match Position::from_cursor(bad, &w) {
                Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, "cursor", "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn query_bounds_are_inclusive_whole_seconds() {
        let p = Position {
            start: T0,
            end: T0 + DAY,
            page_no: 1,
        };
        assert_eq!(p.query_bounds(), Some((T0, T0 + DAY - 1_000)));
        // Sub-second edges: [10.5 s, 11.2 s) holds second 11 only.
        let p = Position {
            start: T0 + 10_500,
            end: T0 + 11_200,
            page_no: 1,
        };
        assert_eq!(p.query_bounds(), Some((T0 + 11_000, T0 + 11_000)));
        let p = Position {
            start: T0 + 10_100,
            end: T0 + 10_900,
            page_no: 1,
        };
        assert_eq!(p.query_bounds(), None);
    }

    #[test]
    fn halving_and_growth() {
        let w = window(T0, T0 + 3 * DAY);
        let p = Position {
            start: T0,
            end: T0 + DAY,
            page_no: 1,
        };
        let half = p.halved().unwrap();
        assert_eq!(
            half,
            Position {
                start: T0,
                end: T0 + DAY / 2,
                page_no: 1
            }
        );
        let short = Position {
            start: T0,
            end: T0 + 61_000,
            page_no: 1,
        };
        assert_eq!(short.halved().unwrap().end, T0 + 31_000);
        assert_eq!(
            Position {
                start: T0,
                end: T0 + 60_000,
                page_no: 1
            }
            .halved(),
            None
        );
        let next = half.next_chunk(&w).unwrap();
        assert_eq!(
            next,
            Position {
                start: T0 + DAY / 2,
                end: T0 + DAY / 2 + DAY,
                page_no: 1
            }
        );
        let last = Position {
            start: T0 + 2 * DAY,
            end: T0 + 3 * DAY,
            page_no: 4,
        };
        assert_eq!(last.next_chunk(&w), None);
        assert_eq!(last.next_page().page_no, 5);
        let near_end = Position {
            start: T0 + 2 * DAY,
            end: T0 + 2 * DAY + 1_000,
            page_no: 1,
        };
        assert_eq!(near_end.next_chunk(&w).unwrap().end, T0 + 2 * DAY + 3_000);
    }

    #[test]
    fn listing_parsing() {
        let l = parse_listing(&json!({"trades": {"trade": [{"tid": 3912345678901234567u64}, {"tid": "42"}]}, "has_next": true})).unwrap();
        assert_eq!(
            l,
            Listing {
                tids: vec!["3912345678901234567".into(), "42".into()],
                has_next: true
            }
        );
        assert_eq!(
            parse_listing(&json!({"has_next": false})).unwrap(),
            Listing {
                tids: vec![],
                has_next: false
            }
        );
        match parse_listing(&json!({"trades": {"trade": [{"tid": 1}]}})) {
            Err(ConnectorError::InvalidInput(f)) => {
                assert_eq!(f.field, "trades_sold_increment_get_response.has_next")
            }
            other => panic!("{other:?}"),
        }
        match parse_listing(&json!({"trades": {"trade": [{"tid": 1.5}]}, "has_next": false})) {
            Err(ConnectorError::InvalidInput(f)) => {
                assert_eq!(
                    f.field,
                    "trades_sold_increment_get_response.trades.trade[0].tid"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn skips_empty_chunks_and_returns_the_first_orders() {
        let w = window(T0, T0 + 3 * DAY);
        let mut api = Scripted::answering(vec![
            listing(&[], false),
            listing(&[7, 8], false),
            fullinfo(7),
            fullinfo(8),
        ]);
        let page = pull_orders(&mut api, 50, "shop", &w, None).unwrap();
        assert_eq!(
            page.orders
                .iter()
                .map(|o| o.order_id.as_str())
                .collect::<Vec<_>>(),
            ["7", "8"]
        );
        assert_eq!(page.orders[0].shop_id, "shop");
        assert_eq!(
            api.methods(),
            [
                INCREMENT_METHOD,
                INCREMENT_METHOD,
                mapping::FULLINFO_METHOD,
                mapping::FULLINFO_METHOD
            ]
        );
        assert_eq!(api.param(0, "start_modified"), Some("2026-11-11 00:00:00"));
        assert_eq!(api.param(0, "end_modified"), Some("2026-11-11 23:59:59"));
        assert_eq!(api.param(0, "page_no"), Some("1"));
        assert_eq!(api.param(0, "page_size"), Some("50"));
        assert_eq!(api.param(0, "use_has_next"), Some("true"));
        assert_eq!(api.param(0, "fields"), Some("tid,modified"));
        assert_eq!(api.param(1, "start_modified"), Some("2026-11-12 00:00:00"));
        assert_eq!(api.param(2, "tid"), Some("7"));
        assert_eq!(api.param(2, "fields"), Some(mapping::TRADE_FIELDS));
        // The third day is next.
        assert_eq!(
            page.next_cursor,
            Some(format!("v1:{}:{}:1", T0 + 2 * DAY, T0 + 3 * DAY))
        );

        let mut api = Scripted::answering(vec![listing(&[], false)]);
        let page = pull_orders(&mut api, 50, "shop", &w, page.next_cursor.as_deref()).unwrap();
        assert_eq!(
            page,
            OrderPage {
                orders: vec![],
                next_cursor: None
            }
        );
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
        assert_eq!(api.param(1, "start_modified"), Some("2026-11-11 00:00:00"));
        assert_eq!(api.param(1, "end_modified"), Some("2026-11-11 00:00:49"));
        assert_eq!(page.orders.len(), 1);
        assert_eq!(
            page.next_cursor,
            Some(format!("v1:{}:{}:2", T0, T0 + 50_000))
        );

        let mut api = Scripted::answering(vec![listing(&[2], false), fullinfo(2)]);
        let page = pull_orders(&mut api, 1, "s", &w, page.next_cursor.as_deref()).unwrap();
        assert_eq!(api.param(0, "page_no"), Some("2"));
        // Next chunk: the rest of the window (it could grow to 100 s, the window ends first).
        assert_eq!(
            page.next_cursor,
            Some(format!("v1:{}:{}:1", T0 + 50_000, T0 + 100_000))
        );
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

        let mut api = Scripted::answering(vec![
            listing(&[9], false),
            Err(ConnectorError::transient("timeout")),
        ]);
        assert!(matches!(
            pull_orders(&mut api, 50, "s", &w, None),
            Err(ConnectorError::Transient(_))
        ));
    }

    #[test]
    fn listing_budget_returns_a_cursor() {
        let w = window(T0, T0 + 1_000 * DAY);
        let answers = (0..MAX_LISTING_CALLS_PER_PULL)
            .map(|_| listing(&[], false))
            .collect();
        let mut api = Scripted::answering(answers);
        let page = pull_orders(&mut api, 50, "s", &w, None).unwrap();
        assert!(page.orders.is_empty());
        let cursor = page.next_cursor.unwrap();
        let resumed = Position::from_cursor(&cursor, &w).unwrap();
        assert_eq!(
            resumed.start,
            T0 + i64::from(MAX_LISTING_CALLS_PER_PULL) * DAY
        );
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
