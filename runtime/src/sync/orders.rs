//! Orders, marketplace → store: incremental pulls by `updated_at` windows ([`super::window`]).
//! Each page is stored with the delivery it owes the ERP, in one transaction, before the
//! cursor moves past it.
//!
//! An order the plugin could not map comes back in the page's `rejected` and goes to the
//! quarantine with its reason; the cursor moves on. Each round first fetches again
//! (`get-order`) the quarantined orders the serving plugin version has not tried: activating
//! a fixed version, or an operator's retry, lets them flow, once.

use std::time::Duration;

use crate::error::{CallError, Failure};
use crate::model::{ConnectorError, Operation, Order, Rejected, Timestamp};
use crate::sandbox::{Call, Reply};
use crate::store::{Store, StoreError, Upsert};

use super::window::Walk;
use crate::{Plugin, Shop};

/// The stream name cursors are saved under.
pub const STREAM: &str = crate::store::quarantine::ORDERS;
pub use super::window::{DEFAULT_FIRST_LOOKBACK, DEFAULT_OVERLAP, DEFAULT_SETTLE, MAX_PAGES_PER_ROUND};

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
    /// Orders set aside this round (first seen; seen again are not counted).
    pub quarantined: usize,
    /// Quarantined orders that mapped this round and flowed.
    pub released: usize,
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
    /// Whether the host is stopping: a round ends after the page in flight (its cursor stored,
    /// so the next start resumes there), rather than after up to [`MAX_PAGES_PER_ROUND`].
    pub stopping: &'a (dyn Fn() -> bool + Sync),
}

/// For a stream nobody stops.
fn never() -> bool {
    false
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
            stopping: &never,
        }
    }

    /// Pulls what changed up to `now` (or resumes the window a previous round left).
    pub async fn round(&self, now: Timestamp) -> Result<Round, SyncError> {
        let mut round = Round::default();
        self.retry_quarantined(now, &mut round).await?;
        let walk = self.walk(STREAM);
        let mut pages = walk.start(now)?;
        while let Some((window, cursor)) = pages.next() {
            let reply = self.plugin.call(self.shop, Call::PullOrders { window, cursor }).await?;
            let Reply::OrderPage(page) = reply else {
                unreachable!("the sandbox checks pull-orders answers an order page")
            };
            self.record_page(&page.orders, now, &mut round)?;
            for rejected in &page.rejected {
                self.set_aside(rejected, now, &mut round)?;
            }
            pages.stored(page.next_cursor)?;
        }
        let walked = pages.walked();
        round.pages = walked.pages;
        round.caught_up = walked.caught_up;
        Ok(round)
    }

    /// This stream's windows, saved under `stream`.
    pub(super) fn walk(&self, stream: &'static str) -> Walk<'_> {
        Walk {
            shop: self.shop,
            store: self.store,
            stream,
            overlap: self.overlap,
            settle: self.settle,
            first_lookback: self.first_lookback,
            stopping: self.stopping,
        }
    }

    /// Stores one mapped order; an order that was in quarantine leaves it.
    fn record(&self, order: &Order, now: Timestamp, round: &mut Round) -> Result<(), StoreError> {
        self.record_page(std::slice::from_ref(order), now, round)
    }

    /// Stores a page of mapped orders in one transaction ([`Store::record_orders`]); an order
    /// that was in quarantine leaves it in that transaction.
    fn record_page(&self, orders: &[Order], now: Timestamp, round: &mut Round) -> Result<(), StoreError> {
        let tenant = self.shop.tenant.as_str();
        let recorded = self.store.record_orders(tenant, orders, now, self.route);
        for (order, recorded) in orders.iter().zip(recorded) {
            let recorded = recorded?;
            round.released += usize::from(recorded.released);
            match recorded.upsert {
                Upsert::New { .. } => round.new += 1,
                Upsert::Changed { .. } => round.changed += 1,
                Upsert::Unchanged { .. } => {
                    round.unchanged += 1;
                    continue;
                }
            }
            self.store.catalog().learn(tenant, order)?;
        }
        Ok(())
    }

    /// Fetches `order_id` again (`get-order`) and stores it if it changed: an after-sale moves
    /// its order's refund status, and the ERP should see the order's new version with the
    /// after-sale rather than at the next window that lists it. A plugin without `get-order`
    /// leaves it to that window.
    pub async fn refresh(&self, order_id: &str, now: Timestamp) -> Result<(), SyncError> {
        if !self.plugin.descriptor().operations.contains(&Operation::GetOrder) {
            return Ok(());
        }
        let mut round = Round::default();
        match self.plugin.call(self.shop, Call::GetOrder { order_id: order_id.to_owned() }).await? {
            Reply::Order(order) if order.order_id == order_id => self.record(&order, now, &mut round)?,
            Reply::Order(order) => {
                tracing::warn!(
                    tenant = %self.shop.tenant, shop = %self.shop.shop_id, order = %order_id, answered = %order.order_id,
                    "get-order answered another order; the order waits for its next pull"
                );
            }
            _ => unreachable!("the sandbox checks get-order answers an order"),
        }
        Ok(())
    }

    fn set_aside(&self, rejected: &Rejected, now: Timestamp, round: &mut Round) -> Result<(), StoreError> {
        if self.walk(STREAM).set_aside(self.plugin, rejected, now)? {
            round.quarantined += 1;
            let d = self.plugin.descriptor();
            tracing::warn!(
                tenant = %self.shop.tenant, shop = %self.shop.shop_id, plugin = %d.name, version = %d.version,
                order = %rejected.id, field = %rejected.field, reason = %rejected.reason,
                "order set aside in quarantine"
            );
        }
        Ok(())
    }

    /// Fetches again the quarantined orders the serving version has not tried: one that maps
    /// now is stored and leaves the quarantine; one still refused stays, marked as tried by
    /// this version. A call error (the platform down) leaves the rest for the next round.
    async fn retry_quarantined(&self, now: Timestamp, round: &mut Round) -> Result<(), SyncError> {
        let d = self.plugin.descriptor();
        let (tenant, shop_id) = (self.shop.tenant.as_str(), self.shop.shop_id.as_str());
        for entry in self.store.quarantine().untried(tenant, shop_id, STREAM, &d.version)? {
            let rejected = match self.plugin.call(self.shop, Call::GetOrder { order_id: entry.id.clone() }).await {
                Ok(Reply::Order(order)) if order.order_id == entry.id => {
                    self.record(&order, now, round)?;
                    continue;
                }
                Ok(Reply::Order(order)) => Rejected {
                    id: entry.id.clone(),
                    field: "order_id".into(),
                    reason: format!("get-order {} answered order {}", entry.id, order.order_id),
                    excerpt: entry.excerpt.clone(),
                },
                Ok(_) => unreachable!("the sandbox checks get-order answers an order"),
                // The host refused the order at the boundary: it stays aside, with that reason.
                Err(CallError { cause: Failure::InvalidRecord(refused), .. }) => Rejected {
                    id: entry.id.clone(),
                    field: refused.field.clone(),
                    reason: refused.problem.clone(),
                    excerpt: entry.excerpt.clone(),
                },
                Err(e) => match e.connector_error() {
                    Some(ConnectorError::InvalidInput { field, reason }) => Rejected {
                        id: entry.id.clone(),
                        field: field.clone(),
                        reason: reason.clone(),
                        excerpt: entry.excerpt.clone(),
                    },
                    Some(ConnectorError::NotFound { message }) => Rejected {
                        id: entry.id.clone(),
                        field: String::new(),
                        reason: format!("not found on the platform: {message}"),
                        excerpt: entry.excerpt.clone(),
                    },
                    // A plugin without get-order leaves it to the next pull that lists it.
                    Some(ConnectorError::Unsupported { .. }) => Rejected {
                        id: entry.id.clone(),
                        field: entry.field.clone(),
                        reason: entry.reason.clone(),
                        excerpt: entry.excerpt.clone(),
                    },
                    _ => return Err(e.into()),
                },
            };
            self.set_aside(&rejected, now, round)?;
        }
        Ok(())
    }
}
