//! After-sales, marketplace → store: the same walk over `updated_at` windows as orders
//! ([`super::window`]), for plugins of contract 0.3 and later that pull them.
//!
//! Each after-sale is stored with its `intercept` flag, read off the order as the store holds
//! it then (see [`crate::store::after_sales::intercept`]), with the webhook delivery it owes
//! when the tenant's route is a webhook; an ERP that pulls reads them (`GET …/after-sales`) and
//! acknowledges each version. One that cannot be mapped is set aside in the
//! quarantine under the stream `after_sales`, naming its id, field and reason; the rest flow.

use crate::model::{AfterSale, Rejected, Timestamp};
use crate::sandbox::{Call, Reply};
use crate::store::after_sales::intercept;
use crate::store::{OrderKey, Store, StoreError, Upsert};
use crate::{Plugin, Shop};

use super::orders::{OrderStream, Round, SyncError};
use super::window::Walk;

/// The stream name cursors and quarantine entries are kept under.
pub const STREAM: &str = crate::store::quarantine::AFTER_SALES;

/// One shop's after-sale stream.
pub struct AfterSaleStream<'a> {
    pub plugin: &'a Plugin,
    pub shop: &'a Shop,
    pub store: &'a Store,
    /// The tenant's ERP route that deliveries are owed to: the webhook's name, an ERP plugin
    /// that takes after-sales, or `None` (the ERP pulls them).
    pub route: Option<&'a str>,
    /// The windows it walks (the order stream's settings, under [`STREAM`]).
    pub walk: Walk<'a>,
    /// The shop's order stream, to fetch again the orders whose after-sales changed (their
    /// refund status moves with them); `None` leaves them to the next order pull.
    pub orders: Option<OrderStream<'a>>,
}

impl AfterSaleStream<'_> {
    /// Whether `plugin` pulls after-sales at all (contract 0.3 and a descriptor that says so).
    pub fn supported(plugin: &Plugin) -> bool {
        plugin.descriptor().operations.contains(&crate::model::Operation::PullAfterSales)
    }

    /// Pulls the after-sales changed up to `now` (or resumes the window a previous round left).
    pub async fn round(&self, now: Timestamp) -> Result<Round, SyncError> {
        let mut round = Round::default();
        let mut changed_orders = std::collections::BTreeSet::new();
        let mut pages = self.walk.start(now)?;
        while let Some((window, cursor)) = pages.next() {
            let reply = self.plugin.call(self.shop, Call::PullAfterSales { window, cursor }).await?;
            let Reply::AfterSales(page) = reply else {
                unreachable!("the sandbox checks pull-after-sales answers an after-sale page")
            };
            for a in &page.items {
                if self.record(a, now, &mut round)? {
                    changed_orders.insert(a.order_id.clone());
                }
            }
            for rejected in &page.rejected {
                self.set_aside(rejected, now, &mut round)?;
            }
            pages.stored(page.next_cursor)?;
        }
        let walked = pages.walked();
        (round.pages, round.caught_up) = (walked.pages, walked.caught_up);
        // The after-sales are stored: an order that cannot be fetched now is not a failed
        // round; its next pull brings it.
        if let Some(orders) = &self.orders {
            for order_id in changed_orders {
                if let Err(e) = orders.refresh(&order_id, now).await {
                    tracing::warn!(
                        tenant = %self.shop.tenant, shop = %self.shop.shop_id, order = %order_id, error = %e,
                        "fetching the order of a changed after-sale failed; its next pull brings it"
                    );
                }
            }
        }
        Ok(round)
    }

    /// Stores one after-sale; whether it was news (new, or a new version).
    fn record(&self, a: &AfterSale, now: Timestamp, round: &mut Round) -> Result<bool, StoreError> {
        let tenant = self.shop.tenant.as_str();
        let order = OrderKey { platform: a.platform.clone(), shop_id: a.shop_id.clone(), order_id: a.order_id.clone() };
        let order_status = self.store.orders().get(tenant, &order)?.map(|o| o.order.status);
        let stop = intercept(a, order_status);
        let recorded = self.store.record_after_sale(tenant, a, stop, now, self.route)?;
        round.released += usize::from(recorded.released);
        match recorded.upsert {
            Upsert::New { .. } => round.new += 1,
            Upsert::Changed { .. } => round.changed += 1,
            Upsert::Unchanged { .. } => {
                round.unchanged += 1;
                return Ok(false);
            }
        }
        if stop {
            tracing::info!(
                tenant, shop = %self.shop.shop_id, order = %a.order_id, after_sale = %a.after_sale_id,
                kind = ?a.kind, status = ?a.status,
                "after-sale on an order not yet shipped: flagged for the warehouse to stop the parcel"
            );
        }
        Ok(true)
    }

    fn set_aside(&self, rejected: &Rejected, now: Timestamp, round: &mut Round) -> Result<(), StoreError> {
        if self.walk.set_aside(self.plugin, rejected, now)? {
            round.quarantined += 1;
            let d = self.plugin.descriptor();
            tracing::warn!(
                tenant = %self.shop.tenant, shop = %self.shop.shop_id, plugin = %d.name, version = %d.version,
                after_sale = %rejected.id, field = %rejected.field, reason = %rejected.reason,
                "after-sale set aside in quarantine"
            );
        }
        Ok(())
    }
}
