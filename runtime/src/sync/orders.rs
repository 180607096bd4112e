//! Orders, marketplace → store: incremental pulls by `updated_at` windows.
//!
//! Each round pulls `[watermark − overlap, now − settle)`: the overlap re-reads the end of the
//! last window, because platforms stamp `modified` before the write is visible to listings
//! (late writes); the store turns re-reads of unchanged orders into nothing. Each page is
//! stored (with the delivery it owes the ERP, in one transaction) before the cursor moves
//! past it, so a crash anywhere repeats at most one page, which the store also absorbs.

use std::time::Duration;

use crate::error::CallError;
use crate::model::{TimeWindow, Timestamp};
use crate::sandbox::{Call, Reply};
use crate::store::{Store, StoreError, StreamCursor, Upsert};
use crate::{Plugin, Shop};

/// The stream name cursors are saved under.
pub const STREAM: &str = "orders";
/// Re-read the last two minutes of the previous window: TOP documents that `modified` can
/// trail visibility by up to a minute under load; two leaves margin.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(120);
/// Leave the last few seconds for the next round, so a second being written is read whole.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(5);
/// How far back the first round of a new shop looks.
pub const DEFAULT_FIRST_LOOKBACK: Duration = Duration::from_secs(3 * 24 * 3600);
/// Pages one round follows before it yields to the other shops.
pub const MAX_PAGES_PER_ROUND: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub pages: usize,
    pub new: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// Whether the round reached the end of its window (else the next one resumes mid-window).
    pub caught_up: bool,
}

/// One shop's order stream.
pub struct OrderStream<'a> {
    pub plugin: &'a Plugin,
    pub shop: &'a Shop,
    pub store: &'a Store,
    /// The tenant's ERP route that deliveries are owed to (`None`: the ERP pulls).
    pub route: Option<&'a str>,
    pub overlap: Duration,
    pub settle: Duration,
    pub first_lookback: Duration,
}

impl<'a> OrderStream<'a> {
    pub fn new(plugin: &'a Plugin, shop: &'a Shop, store: &'a Store, route: Option<&'a str>) -> Self {
        Self {
            plugin,
            shop,
            store,
            route,
            overlap: DEFAULT_OVERLAP,
            settle: DEFAULT_SETTLE,
            first_lookback: DEFAULT_FIRST_LOOKBACK,
        }
    }

    /// Pulls what changed up to `now` (or resumes the window a previous round left).
    pub async fn round(&self, now: Timestamp) -> Result<Round, SyncError> {
        let (tenant, shop_id) = (self.shop.tenant.as_str(), self.shop.shop_id.as_str());
        let saved = self.store.cursors().get(tenant, shop_id, STREAM)?;
        let (window, mut cursor, watermark) = match saved {
            Some(StreamCursor { watermark, in_window: Some((window, cursor)) }) => (window, Some(cursor), watermark),
            Some(StreamCursor { watermark, in_window: None }) => {
                let from = Timestamp(watermark.0 - self.overlap.as_millis() as i64);
                (TimeWindow { from, to: self.window_end(now, from) }, None, watermark)
            }
            None => {
                let from = Timestamp(now.0 - self.first_lookback.as_millis() as i64);
                (TimeWindow { from, to: self.window_end(now, from) }, None, from)
            }
        };
        let mut round = Round::default();
        loop {
            let reply = self.plugin.call(self.shop, Call::PullOrders { window, cursor: cursor.clone() }).await?;
            let Reply::OrderPage(page) = reply else {
                unreachable!("the sandbox checks pull-orders answers an order page")
            };
            round.pages += 1;
            for order in &page.orders {
                match self.store.record_order(tenant, order, now, self.route)? {
                    Upsert::New { .. } => round.new += 1,
                    Upsert::Changed { .. } => round.changed += 1,
                    Upsert::Unchanged { .. } => {
                        round.unchanged += 1;
                        continue;
                    }
                }
                self.store.catalog().learn(tenant, order)?;
            }
            // Only now that the page is stored does the cursor move past it.
            let next = match &page.next_cursor {
                Some(c) => StreamCursor { watermark, in_window: Some((window, c.clone())) },
                None => StreamCursor { watermark: window.to.max(watermark), in_window: None },
            };
            self.store.cursors().put(tenant, shop_id, STREAM, &next)?;
            match page.next_cursor {
                None => {
                    round.caught_up = true;
                    return Ok(round);
                }
                Some(c) if round.pages < MAX_PAGES_PER_ROUND => cursor = Some(c),
                Some(_) => return Ok(round),
            }
        }
    }

    fn window_end(&self, now: Timestamp, from: Timestamp) -> Timestamp {
        Timestamp((now.0 - self.settle.as_millis() as i64).max(from.0))
    }
}
