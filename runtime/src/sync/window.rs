//! The walk every marketplace stream (orders, after-sales) takes over `updated_at` windows.
//!
//! Each round pulls `[watermark − overlap, now − settle)`: the overlap re-reads the end of the
//! last window, because platforms stamp `modified` before the write is visible to listings
//! (late writes); the store turns re-reads of unchanged records into nothing. Each page is
//! stored before the cursor moves past it, so a crash anywhere repeats at most one page, which
//! the store also absorbs.

use std::time::Duration;

use crate::model::{Rejected, TimeWindow, Timestamp};
use crate::store::quarantine::Source;
use crate::store::{Store, StoreError, StreamCursor};
use crate::{Plugin, Shop};

/// Re-read the last two minutes of the previous window: TOP documents that `modified` can
/// trail visibility by up to a minute under load; two leaves margin.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(120);
/// Leave the last few seconds for the next round, so a second being written is read whole.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(5);
/// How far back the first round of a new shop looks.
pub const DEFAULT_FIRST_LOOKBACK: Duration = Duration::from_secs(3 * 24 * 3600);
/// Pages one round follows before it yields to the other shops.
pub const MAX_PAGES_PER_ROUND: usize = 1_000;

/// Where one shop's stream stands and how its windows are cut.
pub struct Walk<'a> {
    pub shop: &'a Shop,
    pub store: &'a Store,
    /// The name its cursor is saved under (`orders`, `after_sales`).
    pub stream: &'static str,
    pub overlap: Duration,
    pub settle: Duration,
    pub first_lookback: Duration,
    /// Whether the host is stopping: a round ends after the page in flight (its cursor stored,
    /// so the next start resumes there), rather than after up to [`MAX_PAGES_PER_ROUND`].
    pub stopping: &'a (dyn Fn() -> bool + Sync),
}

/// What a round's walk did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Walked {
    pub pages: usize,
    /// Whether it reached the end of its window (else the next round resumes mid-window).
    pub caught_up: bool,
}

impl<'a> Walk<'a> {
    /// Where a round starts: the window a previous round left mid-way, or the next one up to
    /// `now`. Pull the page [`Round::next`] names, store it, then [`Round::stored`].
    pub fn start(&self, now: Timestamp) -> Result<Round<'_, 'a>, StoreError> {
        let (tenant, shop_id) = (self.shop.tenant.as_str(), self.shop.shop_id.as_str());
        let saved = self.store.cursors().get(tenant, shop_id, self.stream)?;
        let (window, cursor, watermark) = match saved {
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
        Ok(Round { walk: self, window, cursor, watermark, walked: Walked::default(), done: false })
    }

    /// Sets `rejected` aside in the quarantine under this walk's stream, naming the version of
    /// `plugin` that could not map it; `true` when it was not there already (the caller logs
    /// it then, in its own words).
    pub fn set_aside(&self, plugin: &Plugin, rejected: &Rejected, now: Timestamp) -> Result<bool, StoreError> {
        let d = plugin.descriptor();
        let source = Source {
            tenant: &self.shop.tenant,
            shop_id: &self.shop.shop_id,
            stream: self.stream,
            plugin: &d.name,
            version: &d.version,
        };
        self.store.quarantine().put(&source, rejected, now)
    }

    fn window_end(&self, now: Timestamp, from: Timestamp) -> Timestamp {
        Timestamp((now.0 - self.settle.as_millis() as i64).max(from.0))
    }
}

/// One round of a walk, page by page.
pub struct Round<'w, 'a> {
    walk: &'w Walk<'a>,
    window: TimeWindow,
    cursor: Option<String>,
    watermark: Timestamp,
    walked: Walked,
    done: bool,
}

impl Round<'_, '_> {
    /// The page to pull next, `None` when the round is over.
    pub fn next(&self) -> Option<(TimeWindow, Option<String>)> {
        (!self.done).then(|| (self.window, self.cursor.clone()))
    }

    /// The page [`Round::next`] named is stored: the cursor moves past it, to `next_cursor`.
    pub fn stored(&mut self, next_cursor: Option<String>) -> Result<(), StoreError> {
        let walk = self.walk;
        self.walked.pages += 1;
        let (window, watermark) = (self.window, self.watermark);
        let next = match &next_cursor {
            Some(c) => StreamCursor { watermark, in_window: Some((window, c.clone())) },
            None => StreamCursor { watermark: window.to.max(watermark), in_window: None },
        };
        walk.store.cursors().put(&walk.shop.tenant, &walk.shop.shop_id, walk.stream, &next)?;
        match next_cursor {
            None => {
                self.walked.caught_up = true;
                self.done = true;
            }
            Some(c) if self.walked.pages < MAX_PAGES_PER_ROUND && !(walk.stopping)() => self.cursor = Some(c),
            Some(_) => self.done = true,
        }
        Ok(())
    }

    pub fn walked(&self) -> Walked {
        self.walked
    }
}
