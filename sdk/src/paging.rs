//! `pull-orders` and `pull-after-sales` over a time window: the walk every marketplace plugin
//! shares.
//!
//! Platforms list orders by modification time in pages (TOP's `increment.get`, JOS's
//! `order.search`, 抖店's `order.searchList`, the ECShop bridge), and after-sales the same way
//! (TOP's `refunds.receive.get`, 抖店's `afterSale.List`, JOS's `refundapply.queryPageList`). They all cap how long one
//! query may span, and they all sort by modification time, so rows shift between pages when
//! orders change while a plugin pages. The walk:
//!
//! - cuts the window into chunks of at most [`Paging::max_chunk_ms`];
//! - asks each chunk page by page with inclusive, whole-second bounds (what platforms take);
//! - shrinks a chunk whose first page says there is more, while it is longer than
//!   [`Paging::min_halving_span_ms`], so nearly every chunk fits one page and cannot shift;
//!   only chunks that short are paged forward. A platform that says how many rows the query
//!   holds ([`ListPage::total`]: JOS, 抖店, the ECShop bridge) has the chunk cut at once to
//!   what should fill [`FILL_PERCENT`] of a page at that density; otherwise it is halved, a
//!   listing call per halving, each of whose rows is thrown away;
//! - keeps the next chunk as long after a page that was at least half full, and lets it grow
//!   back (up to twice the last, capped) after a sparser one, so a steady stream is read in
//!   chunks of about a page instead of alternating a chunk too long with a cut;
//! - skips empty chunks within one call, up to [`Paging::max_listing_calls`] listings, then
//!   returns an empty page with a cursor so a call never runs past its deadline.
//!
//! The position between calls is an opaque cursor `v1:<chunk_start_ms>:<chunk_end_ms>:<page>`.
//! The platform side is the [`Records`] trait: one page of rows, and a row to a record
//! ([`Walked`]: an order or an after-sale). [`walk`] is the one walk; [`pull`] runs it over
//! orders (a [`Listing`]) and [`pull_after_sales`] over after-sales.

use std::collections::HashSet;

use crate::reject::Mapped;
use crate::time;
use crate::types::{AfterSale, AfterSalePage, ConnectorError, Order, OrderPage, Rejected, TimeWindow};

const CURSOR_VERSION: &str = "v1";
const SECOND_MS: i64 = 1_000;
/// A day: the longest span TOP accepts in one query, and a sane cap for the others.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1_000;

/// How a platform pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// The longest span one query may cover.
    pub max_chunk_ms: i64,
    /// A chunk this short (or shorter) is paged forward instead of halved.
    pub min_halving_span_ms: i64,
    /// The number of the first page: 1 on TOP and JOS, 0 on 抖店.
    pub first_page: u32,
    /// Listing requests one call may make before it returns with a cursor.
    pub max_listing_calls: u32,
}

impl Default for Paging {
    /// A day per chunk; a minute before paging forward (one order per second fills about one
    /// page of 60); 64 listings per call: halving a day at one order per second takes about
    /// 11, which leaves room for several such chunks.
    fn default() -> Self {
        Self { max_chunk_ms: DAY_MS, min_halving_span_ms: 60 * SECOND_MS, first_page: 1, max_listing_calls: 64 }
    }
}

/// How full a chunk cut by the platform's total aims to make its page. Orders do not arrive
/// evenly; at 80 % a chunk whose density is a quarter above the average still fits one page,
/// while the chunks stay long enough that a quiet stretch costs few calls.
pub const FILL_PERCENT: i64 = 80;

/// One page of a platform's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage<Row> {
    pub rows: Vec<Row>,
    /// Whether a next page exists (`has_next`, or `page * size < total`).
    pub has_next: bool,
    /// How many rows the whole query holds, when the platform says (it lets a dense chunk be
    /// cut to one page at once instead of halved call by call).
    pub total: Option<u64>,
}

/// A record the walk pulls: it is kept once per page by its platform id.
pub trait Walked {
    /// The record's platform id (`order_id`, `after_sale_id`).
    fn walk_id(&self) -> &str;
}

impl Walked for Order {
    fn walk_id(&self) -> &str {
        &self.order_id
    }
}

impl Walked for AfterSale {
    fn walk_id(&self) -> &str {
        &self.after_sale_id
    }
}

/// One page of any record kind, as [`walk`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub rejected: Vec<Rejected>,
    /// `None` when the window is done.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    fn done() -> Self {
        Self { items: Vec::new(), rejected: Vec::new(), next_cursor: None }
    }
}

impl From<Page<Order>> for OrderPage {
    fn from(page: Page<Order>) -> Self {
        OrderPage { orders: page.items, rejected: page.rejected, next_cursor: page.next_cursor }
    }
}

impl From<Page<AfterSale>> for AfterSalePage {
    fn from(page: Page<AfterSale>) -> Self {
        AfterSalePage { items: page.items, rejected: page.rejected, next_cursor: page.next_cursor }
    }
}

/// The platform side of the walk, for any record kind (orders, after-sales).
pub trait Records {
    /// What one listing row is: a whole record's JSON, or only an id to fetch.
    type Row;
    /// What a row becomes.
    type Record: Walked;

    /// Page `page` of the records modified in `[first_ms, last_ms]` (inclusive, whole seconds,
    /// UTC ms), `page_size` rows at most.
    fn list(
        &mut self,
        first_ms: i64,
        last_ms: i64,
        page: u32,
        page_size: u32,
    ) -> Result<ListPage<Self::Row>, ConnectorError>;

    /// The canonical record of a row (mapping it, or fetching it first), or the row set aside
    /// with its reason ([`crate::reject::settle`] decides which); `Err` stops the call.
    fn record(&mut self, row: Self::Row) -> Result<Mapped<Self::Record>, ConnectorError>;

    /// The rows of a page still to fetch: by default all of them. A listing whose rows carry
    /// their modification time leaves out what the host already stores at that time
    /// ([`crate::stored`]), after the page has counted for the chunk's density.
    fn unstored(&mut self, rows: Vec<Self::Row>) -> Result<Vec<Self::Row>, ConnectorError> {
        Ok(rows)
    }

    /// A debug note for the operator's logs.
    fn note(&mut self, _message: &str, _fields: &[(&str, String)]) {}
}

/// The platform side of the order walk (what [`pull`] takes): [`Records`] of orders, as
/// every `pull-orders` was written before after-sales shared the walk.
pub trait Listing {
    /// What one listing row is: a whole order's JSON, or only an id to fetch.
    type Row;

    /// Page `page` of the orders modified in `[first_ms, last_ms]` (inclusive, whole seconds,
    /// UTC ms), `page_size` rows at most.
    fn list(
        &mut self,
        first_ms: i64,
        last_ms: i64,
        page: u32,
        page_size: u32,
    ) -> Result<ListPage<Self::Row>, ConnectorError>;

    /// The canonical order of a row (mapping it, or fetching it first), or the row set aside
    /// with its reason ([`crate::reject::settle`] decides which); `Err` stops the call.
    fn order(&mut self, row: Self::Row) -> Result<Mapped<Order>, ConnectorError>;

    /// The rows of a page still to fetch: by default all of them. A listing whose rows carry
    /// their modification time leaves out what the host already stores at that time
    /// ([`crate::stored`]), after the page has counted for the chunk's density.
    fn unstored(&mut self, rows: Vec<Self::Row>) -> Result<Vec<Self::Row>, ConnectorError> {
        Ok(rows)
    }

    /// A debug note for the operator's logs.
    fn note(&mut self, _message: &str, _fields: &[(&str, String)]) {}
}

/// Where a pull stands: the chunk `[start, end)` (UTC ms) and the next page to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub start: i64,
    pub end: i64,
    pub page: u32,
}

impl Position {
    /// The first chunk of `window`, or `None` when the window is empty; `from > to` is an
    /// error.
    pub fn first(paging: &Paging, window: &TimeWindow) -> Result<Option<Self>, ConnectorError> {
        if window.from > window.to {
            return Err(ConnectorError::invalid_input(
                "window",
                format!("expected from <= to, got from {} > to {}", window.from, window.to),
            ));
        }
        if window.from == window.to {
            return Ok(None);
        }
        Ok(Some(Self {
            start: window.from,
            end: window.to.min(window.from.saturating_add(paging.max_chunk_ms)),
            page: paging.first_page,
        }))
    }

    /// Reads a cursor written by [`Position::cursor`] for the same `window`.
    pub fn from_cursor(paging: &Paging, cursor: &str, window: &TimeWindow) -> Result<Self, ConnectorError> {
        let bad = |why: &str| {
            ConnectorError::invalid_input(
                "cursor",
                format!(
                    "expected `{CURSOR_VERSION}:<chunk_start_ms>:<chunk_end_ms>:<page>` from a previous page of \
                     window [{}, {}), got {cursor:?}: {why}",
                    window.from, window.to
                ),
            )
        };
        let parts: Vec<&str> = cursor.split(':').collect();
        let [version, start, end, page] = parts.as_slice() else {
            return Err(bad("not four ':'-separated parts"));
        };
        if *version != CURSOR_VERSION {
            return Err(bad("unknown version"));
        }
        let (Ok(start), Ok(end), Ok(page)) = (start.parse::<i64>(), end.parse::<i64>(), page.parse::<u32>()) else {
            return Err(bad("not numbers"));
        };
        if page < paging.first_page {
            return Err(bad(&format!("pages count from {}", paging.first_page)));
        }
        if !(window.from <= start && start < end && end <= window.to) {
            return Err(bad("the chunk is not inside the window"));
        }
        if end - start > paging.max_chunk_ms {
            return Err(bad("the chunk is longer than one query may span"));
        }
        Ok(Self { start, end, page })
    }

    pub fn cursor(&self) -> String {
        format!("{CURSOR_VERSION}:{}:{}:{}", self.start, self.end, self.page)
    }

    pub fn span(&self) -> i64 {
        self.end - self.start
    }

    /// The inclusive whole-second bounds (UTC ms) that cover exactly the orders modified in
    /// `[start, end)` at second precision; `None` when no whole second starts in the chunk.
    pub fn query_bounds(&self) -> Option<(i64, i64)> {
        let first = time::ceil_to_second(self.start)?;
        let last = time::ceil_to_second(self.end)? - SECOND_MS;
        (first <= last).then_some((first, last))
    }

    /// The first half of this chunk (ending on a whole second), when it is longer than
    /// `min_span`.
    pub fn halved(&self, paging: &Paging) -> Option<Self> {
        if self.span() <= paging.min_halving_span_ms {
            return None;
        }
        let middle = time::ceil_to_second(self.start + self.span() / 2)?;
        (middle < self.end).then_some(Self { start: self.start, end: middle, page: paging.first_page })
    }

    /// This chunk cut from its start to what should hold [`FILL_PERCENT`] of `page_size`
    /// rows, `total` being what the whole chunk holds (orders taken as evenly spread), but no
    /// shorter than `min_span` and ending on a whole second; `None` when that is not shorter.
    pub fn cut(&self, paging: &Paging, total: u64, page_size: u32) -> Option<Self> {
        if self.span() <= paging.min_halving_span_ms || total == 0 {
            return None;
        }
        let wanted =
            i128::from(self.span()) * i128::from(page_size) * i128::from(FILL_PERCENT) / (100 * i128::from(total));
        let span = i64::try_from(wanted).unwrap_or(i64::MAX).max(paging.min_halving_span_ms);
        let end = time::ceil_to_second(self.start.saturating_add(span))?;
        (end < self.end).then_some(Self { start: self.start, end, page: paging.first_page })
    }

    pub fn next_page(&self) -> Self {
        Self { page: self.page + 1, ..*self }
    }

    /// The chunk after this one, twice as long (capped) when `grow`, else as long; `None` at
    /// the window's end.
    pub fn next_chunk(&self, paging: &Paging, window: &TimeWindow, grow: bool) -> Option<Self> {
        if self.end >= window.to {
            return None;
        }
        let span = if grow { self.span().saturating_mul(2) } else { self.span() }.min(paging.max_chunk_ms);
        Some(Self { start: self.end, end: window.to.min(self.end.saturating_add(span)), page: paging.first_page })
    }
}

/// A [`Listing`] of orders as the [`Records`] the walk takes.
struct Orders<'a, L>(&'a mut L);

impl<L: Listing> Records for Orders<'_, L> {
    type Row = L::Row;
    type Record = Order;

    fn list(
        &mut self,
        first_ms: i64,
        last_ms: i64,
        page: u32,
        page_size: u32,
    ) -> Result<ListPage<L::Row>, ConnectorError> {
        self.0.list(first_ms, last_ms, page, page_size)
    }

    fn record(&mut self, row: L::Row) -> Result<Mapped<Order>, ConnectorError> {
        self.0.order(row)
    }

    fn unstored(&mut self, rows: Vec<L::Row>) -> Result<Vec<L::Row>, ConnectorError> {
        self.0.unstored(rows)
    }

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        self.0.note(message, fields);
    }
}

/// One page of orders modified in `window`, resuming at `cursor` ([`walk`] over orders).
pub fn pull<L: Listing>(
    paging: &Paging,
    source: &mut L,
    page_size: u32,
    window: &TimeWindow,
    cursor: Option<&str>,
) -> Result<OrderPage, ConnectorError> {
    walk(paging, &mut Orders(source), page_size, window, cursor).map(Into::into)
}

/// One page of after-sales modified in `window`, resuming at `cursor` ([`walk`] over
/// after-sales: the same chunks, cuts and cursor as orders).
pub fn pull_after_sales<R: Records<Record = AfterSale>>(
    paging: &Paging,
    source: &mut R,
    page_size: u32,
    window: &TimeWindow,
    cursor: Option<&str>,
) -> Result<AfterSalePage, ConnectorError> {
    walk(paging, source, page_size, window, cursor).map(Into::into)
}

/// One page of the records modified in `window`, resuming at `cursor`: the walk the module
/// docs describe.
pub fn walk<R: Records>(
    paging: &Paging,
    source: &mut R,
    page_size: u32,
    window: &TimeWindow,
    cursor: Option<&str>,
) -> Result<Page<R::Record>, ConnectorError> {
    let done = Page::done;
    let mut position = match cursor {
        Some(cursor) => Position::from_cursor(paging, cursor, window)?,
        None => match Position::first(paging, window)? {
            Some(first) => first,
            None => return Ok(done()),
        },
    };

    let mut listing_calls = 0;
    loop {
        let Some((first, last)) = position.query_bounds() else {
            match position.next_chunk(paging, window, true) {
                Some(next) => {
                    position = next;
                    continue;
                }
                None => return Ok(done()),
            }
        };
        if listing_calls == paging.max_listing_calls {
            source.note("listing budget of this call spent; continuing next call", &[("cursor", position.cursor())]);
            return Ok(Page { items: Vec::new(), rejected: Vec::new(), next_cursor: Some(position.cursor()) });
        }
        listing_calls += 1;

        let listing = source.list(first, last, position.page, page_size)?;
        if listing.has_next && position.page == paging.first_page {
            let shorter = match listing.total {
                Some(total) => position.cut(paging, total, page_size).or_else(|| position.halved(paging)),
                None => position.halved(paging),
            };
            if let Some(shorter) = shorter {
                let fields = [("from", position.cursor()), ("to", shorter.cursor())];
                source.note("chunk holds more than a page; shortening", &fields);
                position = shorter;
                continue;
            }
        }
        let next = if listing.has_next {
            Some(position.next_page())
        } else {
            // A page at least half full says the stream is about this dense: keep the span.
            let grow = listing.rows.len() < (page_size as usize).div_ceil(2);
            position.next_chunk(paging, window, grow)
        };
        // What the host already stores at its listed time is not fetched again (a re-read
        // overlap); a page left with nothing to fetch moves on like an empty one.
        let rows = if listing.rows.is_empty() { listing.rows } else { source.unstored(listing.rows)? };
        if rows.is_empty() {
            match next {
                Some(next) => {
                    position = next;
                    continue;
                }
                None => return Ok(done()),
            }
        }

        // A record listed twice (it changed while we paged) is kept once; a row that cannot be
        // mapped is set aside and the rest of the page goes on.
        let mut seen = HashSet::new();
        let mut items = Vec::with_capacity(rows.len());
        let mut rejected = Vec::new();
        for row in rows {
            match source.record(row)? {
                Ok(record) => {
                    if seen.insert(record.walk_id().to_owned()) {
                        items.push(record);
                    }
                }
                Err(bad) => {
                    if seen.insert(bad.id.clone()) {
                        rejected.push(bad);
                    }
                }
            }
        }
        return Ok(Page { items, rejected, next_cursor: next.map(|p| p.cursor()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_794_326_400_000; // 2026-11-11 00:00:00 +08:00
    const DAY: i64 = DAY_MS;
    const P: Paging =
        Paging { max_chunk_ms: DAY_MS, min_halving_span_ms: 60_000, first_page: 1, max_listing_calls: 64 };

    fn window(from: i64, to: i64) -> TimeWindow {
        TimeWindow { from, to }
    }

    fn at(start: i64, end: i64, page: u32) -> Position {
        Position { start, end, page }
    }

    #[test]
    fn first_chunks_and_cursors() {
        let w = window(T0, T0 + 3 * DAY);
        let first = Position::first(&P, &w).unwrap().unwrap();
        assert_eq!(first, at(T0, T0 + DAY, 1));
        assert_eq!(Position::from_cursor(&P, &first.cursor(), &w).unwrap(), first);
        assert_eq!(Position::first(&P, &window(T0, T0)).unwrap(), None);
        assert!(Position::first(&P, &window(T0, T0 - 1)).is_err());
        assert_eq!(Position::first(&P, &window(T0, T0 + 5_000)).unwrap().unwrap().end, T0 + 5_000);
        let zero_based = Paging { first_page: 0, ..P };
        assert_eq!(Position::first(&zero_based, &w).unwrap().unwrap().page, 0);
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
            match Position::from_cursor(&P, bad, &w) {
                Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, "cursor", "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn query_bounds_are_inclusive_whole_seconds() {
        assert_eq!(at(T0, T0 + DAY, 1).query_bounds(), Some((T0, T0 + DAY - 1_000)));
        // Sub-second edges: [10.5 s, 11.2 s) holds second 11 only.
        assert_eq!(at(T0 + 10_500, T0 + 11_200, 1).query_bounds(), Some((T0 + 11_000, T0 + 11_000)));
        assert_eq!(at(T0 + 10_100, T0 + 10_900, 1).query_bounds(), None);
    }

    #[test]
    fn halving_and_growth() {
        let w = window(T0, T0 + 3 * DAY);
        let half = at(T0, T0 + DAY, 1).halved(&P).unwrap();
        assert_eq!(half, at(T0, T0 + DAY / 2, 1));
        assert_eq!(at(T0, T0 + 61_000, 1).halved(&P).unwrap().end, T0 + 31_000);
        assert_eq!(at(T0, T0 + 60_000, 1).halved(&P), None);
        assert_eq!(half.next_chunk(&P, &w, true).unwrap(), at(T0 + DAY / 2, T0 + DAY / 2 + DAY, 1));
        let last = at(T0 + 2 * DAY, T0 + 3 * DAY, 4);
        assert_eq!(last.next_chunk(&P, &w, true), None);
        assert_eq!(last.next_page().page, 5);
        assert_eq!(half.next_chunk(&P, &w, false).unwrap(), at(T0 + DAY / 2, T0 + DAY, 1), "as long");
        assert_eq!(
            at(T0 + 2 * DAY, T0 + 2 * DAY + 1_000, 1).next_chunk(&P, &w, true).unwrap().end,
            T0 + 2 * DAY + 3_000
        );
    }

    #[test]
    fn a_chunk_is_cut_to_a_page_by_the_platforms_total() {
        // 1,000 rows in a day, pages of 100: 80 rows' worth is 8 % of the day, 6,912 s.
        assert_eq!(at(T0, T0 + DAY, 1).cut(&P, 1_000, 100), Some(at(T0, T0 + 6_912_000, 1)));
        // Never shorter than the paging-forward span, never not shorter, never on a fraction.
        assert_eq!(at(T0, T0 + DAY, 1).cut(&P, 100_000_000, 100).unwrap().end, T0 + 60_000);
        assert_eq!(at(T0, T0 + DAY, 1).cut(&P, 101, 100), Some(at(T0, T0 + 68_436_000, 1)));
        assert_eq!(at(T0, T0 + DAY, 1).cut(&P, 50, 100), None);
        assert_eq!(at(T0, T0 + 60_000, 1).cut(&P, 1_000, 100), None);
        assert_eq!(at(T0 + 500, T0 + DAY, 1).cut(&P, 1_000, 100).unwrap().end % 1_000, 0);
    }

    /// The figure the cut is for: rows listed per order kept. Orders spread evenly over a day
    /// come out whole either way; with the platform's total the first chunk is cut in one call
    /// instead of halved six times, and every chunk after is about a page (not one too long
    /// and halved, then one twice that, …). Measured here, 5,000 orders in pages of 100:
    /// doubling every chunk and halving took 132 listing calls and listed 11,800 rows; keeping
    /// the span after a full page, 70 and 5,600; with the total as well, 64 and 5,100.
    #[test]
    fn a_total_spares_the_halving_calls_and_the_rows_they_throw_away() {
        let ids: Vec<&'static str> = (0..5_000).map(|i| &*Box::leak(format!("o{i}").into_boxed_str())).collect();
        let rows: Vec<(i64, &'static str)> =
            ids.iter().enumerate().map(|(i, id)| (T0 + (i as i64) * (DAY / 5_000) / 1_000 * 1_000, *id)).collect();
        let w = window(T0, T0 + DAY);
        let mut runs = Vec::new();
        for totals in [false, true] {
            let mut fake = Fake { rows: rows.clone(), queries: Vec::new(), first_page: 1, totals, listed: 0 };
            let mut got = pull_all(&P, &mut fake, 100, &w);
            got.sort();
            got.dedup();
            assert_eq!(got.len(), 5_000, "totals: {totals}");
            runs.push((fake.queries.len(), fake.listed));
        }
        let [(halving_calls, halving_listed), (cut_calls, cut_listed)] = runs[..] else { unreachable!() };
        // The figures BENCHMARKS.md quotes (`-- --nocapture` shows them).
        eprintln!(
            "5,000 orders, pages of 100: halving {halving_calls} calls, {halving_listed} rows listed; by total {cut_calls} calls, {cut_listed} rows listed"
        );
        assert!(cut_calls < halving_calls, "{cut_calls} calls with totals, {halving_calls} halving");
        assert!(cut_listed * 100 <= 5_000 * 125, "{cut_listed} rows listed for 5,000 orders");
        assert!(cut_listed < halving_listed, "{cut_listed} vs {halving_listed}");
    }

    /// A listing over a fixed list of (modified second, id), sorted newest first, as the
    /// platforms answer; records the queries.
    struct Fake {
        rows: Vec<(i64, &'static str)>,
        queries: Vec<(i64, i64, u32)>,
        first_page: u32,
        /// Whether its pages say how many rows the query holds.
        totals: bool,
        /// Rows it answered, in all.
        listed: usize,
    }

    impl Listing for Fake {
        type Row = &'static str;

        fn list(
            &mut self,
            first: i64,
            last: i64,
            page: u32,
            size: u32,
        ) -> Result<ListPage<&'static str>, ConnectorError> {
            self.queries.push((first, last, page));
            let mut hits: Vec<_> = self.rows.iter().filter(|(t, _)| first <= *t && *t <= last).collect();
            hits.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
            let skip = (page - self.first_page) as usize * size as usize;
            let rows: Vec<_> = hits.iter().skip(skip).take(size as usize).map(|(_, id)| *id).collect();
            self.listed += rows.len();
            let total = self.totals.then_some(hits.len() as u64);
            Ok(ListPage { rows, has_next: hits.len() > skip + size as usize, total })
        }

        fn order(&mut self, id: &'static str) -> Result<Mapped<Order>, ConnectorError> {
            let mapped = match id {
                "bad" => Err(ConnectorError::invalid_input("payment", "expected yuan")),
                "down" => Err(ConnectorError::transient("502 from the detail call")),
                _ => Ok(Order { order_id: id.to_owned(), ..blank_order() }),
            };
            crate::reject::settle(id, None, mapped, &[])
        }
    }

    fn blank_order() -> Order {
        use crate::types::{OrderStatus, RefundStatus};
        Order {
            platform: "p".into(),
            shop_id: "s".into(),
            order_id: String::new(),
            status: OrderStatus::Paid,
            platform_status: "x".into(),
            refund_status: RefundStatus::None,
            created_at: 0,
            paid_at: None,
            updated_at: 0,
            currency: "CNY".into(),
            goods_total: 0,
            shipping_fee: 0,
            discount_total: 0,
            paid_total: 0,
            buyer_id: None,
            buyer_nick: None,
            buyer_message: None,
            seller_memo: None,
            receiver: None,
            invoice: None,
            erp_customer_code: None,
            lines: Vec::new(),
        }
    }

    fn pull_all(paging: &Paging, fake: &mut Fake, size: u32, w: &TimeWindow) -> Vec<String> {
        let mut cursor = None;
        let mut ids = Vec::new();
        for _ in 0..1000 {
            let page = pull(paging, fake, size, w, cursor.as_deref()).unwrap();
            ids.extend(page.orders.into_iter().map(|o| o.order_id));
            cursor = page.next_cursor;
            if cursor.is_none() {
                return ids;
            }
        }
        panic!("never finished");
    }

    /// After-sales listed by the same walk: a fake over (modified second, id).
    struct FakeAfterSales(Vec<(i64, &'static str)>);

    impl Records for FakeAfterSales {
        type Row = &'static str;
        type Record = AfterSale;

        fn list(
            &mut self,
            first: i64,
            last: i64,
            page: u32,
            size: u32,
        ) -> Result<ListPage<&'static str>, ConnectorError> {
            let hits: Vec<_> = self.0.iter().filter(|(t, _)| first <= *t && *t <= last).map(|(_, id)| *id).collect();
            let skip = (page - 1) as usize * size as usize;
            let rows = hits.iter().skip(skip).take(size as usize).copied().collect();
            Ok(ListPage { rows, has_next: hits.len() > skip + size as usize, total: Some(hits.len() as u64) })
        }

        fn record(&mut self, id: &'static str) -> Result<Mapped<AfterSale>, ConnectorError> {
            use crate::types::{AfterSaleKind, AfterSaleStatus};
            let mapped = match id {
                "bad" => Err(ConnectorError::invalid_input("refund_fee", "expected yuan")),
                _ => Ok(AfterSale {
                    platform: "p".into(),
                    shop_id: "s".into(),
                    after_sale_id: id.to_owned(),
                    order_id: "o".into(),
                    lines: Vec::new(),
                    kind: AfterSaleKind::RefundAfterShipping,
                    status: AfterSaleStatus::Requested,
                    platform_status: "x".into(),
                    currency: "CNY".into(),
                    refund_amount: 1,
                    shipping_refund: 0,
                    reason: None,
                    return_waybill: None,
                    created_at: 0,
                    updated_at: 0,
                    refund_version: None,
                }),
            };
            crate::reject::settle(id, None, mapped, &[])
        }
    }

    #[test]
    fn after_sales_walk_the_same_way_and_one_bad_one_is_set_aside() {
        let w = window(T0, T0 + 3 * DAY);
        let mut fake = FakeAfterSales(vec![(T0, "r1"), (T0 + 1_000, "bad"), (T0 + 1_000, "r1"), (T0 + 2 * DAY, "r2")]);
        let first = pull_after_sales(&P, &mut fake, 10, &w, None).unwrap();
        assert_eq!(first.items.iter().map(|a| a.after_sale_id.as_str()).collect::<Vec<_>>(), ["r1"], "kept once");
        assert_eq!((first.rejected.len(), first.rejected[0].id.as_str()), (1, "bad"));
        let second = pull_after_sales(&P, &mut fake, 10, &w, first.next_cursor.as_deref()).unwrap();
        assert_eq!(second.items[0].after_sale_id, "r2");
        assert_eq!(second.next_cursor, None);
    }

    #[test]
    fn a_dense_window_comes_out_whole_with_zero_based_pages() {
        let zero_based = Paging { first_page: 0, ..P };
        // 30 orders in the same second: halving cannot help, so that second is paged forward.
        let mut rows: Vec<(i64, &'static str)> = Vec::new();
        let ids: Vec<&'static str> = (0..30).map(|i| &*Box::leak(format!("o{i}").into_boxed_str())).collect();
        for (i, id) in ids.iter().enumerate() {
            rows.push((if i < 20 { T0 + 5_000 } else { T0 + 2 * DAY + (i as i64) * 1_000 }, id));
        }
        let mut fake = Fake { rows, queries: Vec::new(), first_page: 0, totals: false, listed: 0 };
        let w = window(T0, T0 + 3 * DAY);
        let mut got = pull_all(&zero_based, &mut fake, 7, &w);
        got.sort();
        let mut want: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want);
        assert!(fake.queries.iter().any(|q| q.2 == 0) && fake.queries.iter().all(|q| q.0 <= q.1));
    }

    #[test]
    fn a_bad_record_is_set_aside_a_call_error_stops_the_page_and_duplicates_are_kept_once() {
        let w = window(T0, T0 + 10_000);
        let mut fake = Fake {
            rows: vec![(T0, "a"), (T0 + 1_000, "a")],
            queries: Vec::new(),
            first_page: 1,
            totals: false,
            listed: 0,
        };
        let page = pull(&P, &mut fake, 50, &w, None).unwrap();
        assert_eq!(page.orders.len(), 1);
        let rows = vec![(T0, "a"), (T0 + 1_000, "bad"), (T0 + 2_000, "b"), (T0 + 3_000, "bad")];
        let mut fake = Fake { rows, queries: Vec::new(), first_page: 1, totals: false, listed: 0 };
        let page = pull(&P, &mut fake, 50, &w, None).unwrap();
        let mut ids: Vec<_> = page.orders.iter().map(|o| o.order_id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(page.rejected.len(), 1, "{:?}", page.rejected);
        assert_eq!((page.rejected[0].id.as_str(), page.rejected[0].field.as_str()), ("bad", "payment"));
        let mut fake = Fake {
            rows: vec![(T0, "a"), (T0 + 1_000, "down")],
            queries: Vec::new(),
            first_page: 1,
            totals: false,
            listed: 0,
        };
        assert!(matches!(pull(&P, &mut fake, 50, &w, None), Err(ConnectorError::Transient(_))));
    }
}
