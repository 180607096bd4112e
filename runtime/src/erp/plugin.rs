//! Delivering orders through an ERP plugin (`push-orders`), from the durable outbox.
//!
//! The plugin answers per order: `created` and `already_exists` both mean the ERP has it (an
//! ERP plugin looks its key up before creating, e.g. SAP's `PurchaseOrderByCustomer`), so a
//! delivery repeated after a crash never creates a second document. Failures are judged by
//! their kind: transient ones retried with backoff, permanent ones dead-lettered with the
//! ERP's reason.
//!
//! An ERP plugin that does not take orders in some status (SAP takes no unpaid or cancelled
//! order) answers `invalid_input` on the field `status`. That is not a fault to replay: the
//! delivery is dropped, the order stays unsynced, and its next version (paid, say) is
//! delivered in turn.

use crate::model::{ConnectorError, OrderPushOutcome, Timestamp};
use crate::retry::{Backoff, Verdict};
use crate::sandbox::{Call, Reply};
use crate::store::{Carries, Delivery, Store, StoreError};
use crate::{Plugin, Shop};

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
        let mut batch = Vec::with_capacity(chunk.len());
        for delivery in chunk {
            if delivery.carries == Carries::AfterSale {
                // Not enqueued on a plugin route today (the engine sends after-sales to the
                // webhook only); one that is, from a later host, waits as a dead letter rather
                // than being dropped.
                let reason = "after-sales are not delivered through an ERP plugin yet; replay once the host does";
                super::failed(store, delivery, Verdict::Permanent(reason.into()), backoff, now, &mut report)?;
                continue;
            }
            match store.orders().get(&delivery.tenant, &delivery.key)? {
                Some(s) if s.version == delivery.version => batch.push((delivery, s)),
                // A newer version has its own delivery; this one has nothing left to say.
                _ => {
                    store.outbox().remove(delivery.id)?;
                    report.superseded += 1;
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let orders = batch.iter().map(|(_, s)| s.order.clone()).collect();
        let results = match plugin.call(shop, Call::PushOrders(orders)).await {
            Ok(Reply::OrderPushes(results)) => results,
            Ok(_) => unreachable!("the sandbox checks push-orders answers order results"),
            Err(e) => {
                let verdict = Verdict::of_call(&e);
                for (delivery, _) in &batch {
                    super::failed(store, delivery, verdict.clone(), backoff, now, &mut report)?;
                }
                if matches!(verdict, Verdict::Throttled(..)) {
                    return Ok(report);
                }
                continue;
            }
        };
        for (delivery, stored) in &batch {
            let outcome = results.iter().find(|r| r.order_id == stored.order.order_id).map(|r| &r.outcome);
            match outcome {
                Some(OrderPushOutcome::Created { .. } | OrderPushOutcome::AlreadyExists { .. }) => {
                    super::delivered(store, delivery, &mut report)?;
                }
                Some(OrderPushOutcome::Failed { error: ConnectorError::InvalidInput { field, .. } })
                    if field == STATUS_FIELD =>
                {
                    store.outbox().remove(delivery.id)?;
                    report.not_taken += 1;
                }
                Some(OrderPushOutcome::Failed { error }) => {
                    super::failed(store, delivery, Verdict::of_plugin_error(error), backoff, now, &mut report)?
                }
                None => {
                    let reason = format!("the plugin's answer has no result for order `{}`", stored.order.order_id);
                    super::failed(store, delivery, Verdict::Retry(reason), backoff, now, &mut report)?
                }
            }
        }
    }
    Ok(report)
}
