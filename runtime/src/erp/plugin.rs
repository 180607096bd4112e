//! Delivering orders (`push-orders`) and after-sales (`push-after-sales`, to an ERP plugin that
//! declares it) through an ERP plugin, from the durable outbox.
//!
//! The plugin answers per order: `created` and `already_exists` both mean the ERP has it (an
//! ERP plugin looks its key up before creating, e.g. SAP's `PurchaseOrderByCustomer`), so a
//! delivery repeated after a crash never creates a second document. Failures are judged by
//! their kind: transient ones retried with backoff, permanent ones dead-lettered with the
//! ERP's reason.
//!
//! An ERP plugin that does not take orders in some status (SAP takes no unpaid or cancelled
//! order, nor an after-sale still `requested`) answers `invalid_input` on the field `status`.
//! That is not a fault to replay: the delivery is dropped, the record stays unsynced, and its
//! next version (paid, agreed) is delivered in turn.

use crate::model::{ConnectorError, OrderPushOutcome, Timestamp};
use crate::retry::{Backoff, Verdict};
use crate::sandbox::{Call, Reply};
use crate::store::{Carries, Delivery, Store, StoreError};
use crate::{Plugin, Shop};

use super::webhook;

pub use super::webhook::DrainReport;

/// Orders one `push-orders` call carries: a failed call costs one batch, and SAP's deep
/// inserts take a few hundred ms each, so 20 keep a call well inside its deadline.
pub const BATCH: usize = 20;
/// The field an ERP plugin names to say "not in this status".
pub const STATUS_FIELD: &str = "status";

/// Delivers what is due for `shop.tenant` on the route named `route`, at most `limit`, one
/// batch after another until `stopping()`.
#[allow(clippy::too_many_arguments)]
pub async fn drain(
    store: &Store,
    route: &str,
    plugin: &Plugin,
    shop: &Shop,
    backoff: &Backoff,
    now: Timestamp,
    limit: usize,
    stopping: &(dyn Fn() -> bool + Sync),
) -> Result<DrainReport, StoreError> {
    let mut report = DrainReport::default();
    let due: Vec<Delivery> = store.outbox().due(&shop.tenant, route, now.0, limit)?;
    if due.is_empty() {
        return Ok(report);
    }
    // Nothing leaves for the ERP before the version it carries is on disk: a crash after the
    // send must not bring back an older version that later changes into another one under the
    // same idempotency key. Every version owed here was stored with its delivery, before this.
    store.durable().await?;
    for chunk in due.chunks(BATCH) {
        if stopping() {
            break;
        }
        // Each delivery still owed, with the id its result names and the record it carries;
        // one call per kind. A delivery whose record moved on has nothing left to say: the
        // newer version has its own.
        let (mut order_ids, mut orders, mut sale_ids, mut sales) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // The chunk's orders, read together (on PostgreSQL one round trip, not one each).
        let keys: Vec<_> = chunk.iter().filter(|d| d.carries == Carries::Order).map(|d| (&*d.tenant, &d.key)).collect();
        let mut stored_orders = store.orders().get_many(&keys)?.into_iter();
        for delivery in chunk {
            let owed = |version: u64| version == delivery.version;
            let still_owed = match delivery.carries {
                Carries::Order => match stored_orders.next().flatten() {
                    Some(s) if owed(s.version) => {
                        order_ids.push((delivery, s.order.order_id.clone()));
                        orders.push(s.order);
                        true
                    }
                    _ => false,
                },
                Carries::AfterSale => {
                    match store.after_sales().get(&delivery.tenant, &webhook::after_sale_key(&delivery.key))? {
                        Some(s) if owed(s.version) => {
                            sale_ids.push((delivery, s.after_sale.after_sale_id.clone()));
                            sales.push(s.after_sale);
                            true
                        }
                        _ => false,
                    }
                }
            };
            if !still_owed {
                store.outbox().remove(delivery.id)?;
                report.superseded += 1;
            }
        }
        for (batch, call) in [(order_ids, Call::PushOrders(orders)), (sale_ids, Call::PushAfterSales(sales))] {
            if batch.is_empty() {
                continue;
            }
            if push(store, plugin, shop, call, &batch, backoff, now, &mut report).await? == Pushed::Throttled {
                return Ok(report);
            }
        }
    }
    Ok(report)
}

/// Whether the ERP asked us to slow down: the drain stops for this round.
#[derive(PartialEq)]
enum Pushed {
    Answered,
    Throttled,
}

/// One `push-orders` or `push-after-sales` call for `batch` (each delivery with the id the
/// plugin's results name it by), and what becomes of each delivery.
#[allow(clippy::too_many_arguments)]
async fn push(
    store: &Store,
    plugin: &Plugin,
    shop: &Shop,
    call: Call,
    batch: &[(&Delivery, String)],
    backoff: &Backoff,
    now: Timestamp,
    report: &mut DrainReport,
) -> Result<Pushed, StoreError> {
    let what = match &call {
        Call::PushAfterSales(_) => "after-sale",
        _ => "order",
    };
    let results = match plugin.call(shop, call).await {
        Ok(Reply::OrderPushes(results)) => results,
        Ok(_) => unreachable!("the sandbox checks a push to the ERP answers order results"),
        Err(e) => {
            let verdict = Verdict::of_call(&e);
            let deliveries: Vec<&Delivery> = batch.iter().map(|(delivery, _)| *delivery).collect();
            super::failed_together(store, &deliveries, verdict.clone(), backoff, now, report)?;
            let throttled = matches!(verdict, Verdict::Throttled(..));
            return Ok(if throttled { Pushed::Throttled } else { Pushed::Answered });
        }
    };
    // What the ERP has is settled together, in one transaction for the orders.
    let mut taken = Vec::new();
    for (delivery, id) in batch {
        match results.iter().find(|r| r.order_id == *id).map(|r| &r.outcome) {
            Some(OrderPushOutcome::Created { .. } | OrderPushOutcome::AlreadyExists { .. }) => taken.push(*delivery),
            Some(OrderPushOutcome::Failed { error: ConnectorError::InvalidInput { field, .. } })
                if field == STATUS_FIELD =>
            {
                store.outbox().remove(delivery.id)?;
                report.not_taken += 1;
            }
            Some(OrderPushOutcome::Failed { error }) => {
                super::failed(store, delivery, Verdict::of_plugin_error(error), backoff, now, report)?
            }
            None => {
                let reason = format!("the plugin's answer has no result for {what} `{id}`");
                super::failed(store, delivery, Verdict::Retry(reason), backoff, now, report)?
            }
        }
    }
    super::delivered(store, &taken, report)?;
    Ok(Pushed::Answered)
}
