//! ERP → host: an ERP plugin's pulls, one stream per module, into the [`super::intake`].
//!
//! Each round asks for `[watermark − overlap, now)` and follows the plugin's cursor; each page
//! is queued for the shops before the cursor moves past it, so a crash repeats at most one
//! page, and the queue turns repeats into nothing (what a platform already has is not sent
//! again). ERPs that answer with a full snapshot (stock lists) ignore the window; that costs
//! one read per round and no pushes when nothing changed.

use std::time::Duration;

use crate::model::{Module, Operation, PullRequest, TimeWindow, Timestamp};
use crate::sandbox::{Call, Reply};
use crate::store::quarantine::Source;
use crate::store::{Store, StreamCursor};
use crate::sync::intake::{Intake, Rejected, Update};
use crate::sync::orders::SyncError;
use crate::{Plugin, Shop};

/// The ERP's streams are saved under this shop id (no marketplace shop may take it: shop ids
/// are lowercase names, and this one has a colon).
pub const ERP_STREAMS: &str = "erp:";
/// Re-read the last two minutes, as for orders: an ERP's change stamps can trail commits.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(120);
/// How far back the first round looks.
pub const DEFAULT_FIRST_LOOKBACK: Duration = Duration::from_secs(3 * 24 * 3600);
/// Pages one round follows before yielding.
pub const MAX_PAGES_PER_ROUND: usize = 1_000;

/// Every module the ERP is pulled for, with its pull: the table's modules that have one.
pub fn feeds() -> impl Iterator<Item = (Module, Operation)> {
    Module::ALL.into_iter().filter_map(|m| m.spec().pull.map(|pull| (m, pull)))
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub pages: usize,
    pub records: usize,
    pub queued: usize,
    pub rejected: Vec<Rejected>,
    pub caught_up: bool,
}

/// One ERP pull stream of one tenant.
pub struct Feed<'a> {
    pub plugin: &'a Plugin,
    /// The ERP as the plugin's calls see it (tenant, config, secrets, grants).
    pub erp: &'a Shop,
    pub store: &'a Store,
    pub intake: &'a Intake,
    pub module: Module,
    pub overlap: Duration,
    pub first_lookback: Duration,
    /// Whether the host is stopping: a round ends after the page in flight (see
    /// [`super::orders::OrderStream::stopping`]).
    pub stopping: &'a (dyn Fn() -> bool + Sync),
}

impl Feed<'_> {
    pub async fn round(&self, now: Timestamp) -> Result<Round, SyncError> {
        let tenant = self.erp.tenant.as_str();
        let stream = self.module.stored();
        let (window, mut cursor, watermark) = match self.store.cursors().get(tenant, ERP_STREAMS, stream)? {
            Some(StreamCursor { watermark, in_window: Some((window, cursor)) }) => (window, Some(cursor), watermark),
            Some(StreamCursor { watermark, in_window: None }) => {
                let from = Timestamp(watermark.0 - self.overlap.as_millis() as i64);
                (TimeWindow { from, to: now.max(from) }, None, watermark)
            }
            None => {
                let from = Timestamp(now.0 - self.first_lookback.as_millis() as i64);
                (TimeWindow { from, to: now }, None, from)
            }
        };
        let mut round = Round::default();
        loop {
            let pull = self.module.spec().pull.expect("a feed's module is pulled from the ERP");
            let call = Call::pull(pull, PullRequest { window: Some(window), cursor: cursor.clone() })
                .expect("a module's pull is a pull");
            let (update, rejected, next_cursor) = match self.plugin.call(self.erp, call).await? {
                Reply::Stock(p) => (Update::Stock(p.items), p.rejected, p.next_cursor),
                Reply::Prices(p) => (Update::Prices(p.items), p.rejected, p.next_cursor),
                Reply::Lots(p) => (Update::Lots(p.items), p.rejected, p.next_cursor),
                Reply::Products(p) => (Update::Products(p.items), p.rejected, p.next_cursor),
                Reply::Customers(p) => (Update::Customers(p.items), p.rejected, p.next_cursor),
                Reply::Logistics(p) => (Update::Logistics(p.items), p.rejected, p.next_cursor),
                Reply::Shipments(p) => (Update::Shipments(p.items), p.rejected, p.next_cursor),
                Reply::ErpStatuses(p) => (Update::ErpStatus(p.items), p.rejected, p.next_cursor),
                Reply::Invoices(p) => (Update::Invoices(p.items), p.rejected, p.next_cursor),
                _ => unreachable!("the sandbox checks a pull answers its page"),
            };
            // A record the ERP plugin could not map waits in quarantine; the rest goes on.
            let d = self.plugin.descriptor();
            let source = Source { tenant, shop_id: &self.erp.shop_id, stream, plugin: &d.name, version: &d.version };
            for r in &rejected {
                if self.store.quarantine().put(&source, r, now)? {
                    tracing::warn!(tenant, module = self.module.name(), record = %r.id, field = %r.field, reason = %r.reason, "ERP record set aside in quarantine");
                }
            }
            round.pages += 1;
            round.records += update.len();
            let report = self.intake.submit(&update, now)?;
            round.queued += report.queued;
            round.rejected.extend(report.rejected);
            // Only now that the page is queued does the cursor move past it.
            let next = match &next_cursor {
                Some(c) => StreamCursor { watermark, in_window: Some((window, c.clone())) },
                None => StreamCursor { watermark: window.to.max(watermark), in_window: None },
            };
            self.store.cursors().put(tenant, ERP_STREAMS, stream, &next)?;
            match next_cursor {
                None => {
                    round.caught_up = true;
                    return Ok(round);
                }
                Some(c) if round.pages < MAX_PAGES_PER_ROUND && Some(&c) != cursor.as_ref() && !(self.stopping)() => {
                    cursor = Some(c)
                }
                Some(_) => return Ok(round),
            }
        }
    }
}
