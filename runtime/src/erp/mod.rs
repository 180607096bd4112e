//! Routes from Wharf to an ERP.
//!
//! - [`plugin`]: an ERP plugin's `push-orders`, from the durable outbox;
//! - [`webhook`]: Wharf pushes each new or changed order to the ERP's URL, signed, with an
//!   idempotency key, retried with backoff from the durable outbox, dead-lettered when the ERP
//!   refuses it for good.
//! - ERP pull: the ERP asks for orders by sync state and acknowledges them; that is the
//!   store's [`crate::store::OrderBook::query`] / [`crate::store::OrderBook::ack`], served
//!   over HTTP by the API.

pub mod plugin;
pub mod webhook;

use crate::metrics::{FailedDelivery, FailureKind};
use crate::model::Timestamp;
use crate::retry::{Backoff, Verdict};
use crate::store::{Carries, Delivery, Store, StoreError};
use webhook::DrainReport;

/// The ERP has these versions, taken in one answer (a push, or a POST of one event or a
/// batch): each is marked synced and its delivery dropped, the orders' in one transaction
/// ([`Store::orders_delivered`]). For an after-sale the ack comes first: a crash in between
/// re-sends the same version with the same idempotency key, which the ERP answers without
/// creating anything twice. Whatever the ack answers (synced, or stale because a newer version
/// has its own delivery, or gone) the delivery itself is done.
fn delivered(store: &Store, deliveries: &[&Delivery], report: &mut DrainReport) -> Result<(), StoreError> {
    let (orders, sales): (Vec<&Delivery>, Vec<&Delivery>) =
        deliveries.iter().partition(|d| d.carries == Carries::Order);
    if !orders.is_empty() {
        store.orders_delivered(&orders)?;
    }
    for delivery in sales {
        store.after_sales().ack(&delivery.tenant, &webhook::after_sale_key(&delivery.key), delivery.version)?;
        store.outbox().remove(delivery.id)?;
    }
    for delivery in deliveries {
        report.delivered += 1;
        *report.delivered_by_shop.entry(delivery.key.shop_id.clone()).or_default() += 1;
    }
    Ok(())
}

/// Deliveries that failed together, in one answer (a batched POST, a push of many): as
/// [`failed`] each, except that a retry reschedules them all in one transaction and says so in
/// one log line, not one per event.
fn failed_together(
    store: &Store,
    deliveries: &[&Delivery],
    verdict: Verdict,
    backoff: &Backoff,
    now: Timestamp,
    report: &mut DrainReport,
) -> Result<(), StoreError> {
    let (Verdict::Retry(reason), [first, _, ..]) = (&verdict, deliveries) else {
        for delivery in deliveries {
            failed(store, delivery, verdict.clone(), backoff, now, report)?;
        }
        return Ok(());
    };
    let mut retries = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        match backoff.delay(delivery.attempts + 1, delivery.id) {
            Some(wait) => retries.push((*delivery, now.0 + wait.as_millis() as i64)),
            // Out of attempts: dead-lettered alone, with its own line.
            None => give_up(store, delivery, reason, now, report)?,
        }
    }
    if retries.is_empty() {
        return Ok(());
    }
    let (tenant, route, events) = (&first.tenant, &first.route, retries.len());
    tracing::warn!(%tenant, %route, events, %reason, "delivery of a batch to the ERP failed; each of its events retried");
    store.outbox().retry_later_together(&retries, reason)?;
    report.retried += retries.len();
    for (delivery, _) in &retries {
        report.failures.push(failure(delivery, FailureKind::Transient, reason.clone(), now, true));
    }
    Ok(())
}

/// A failed delivery, whatever the route: retried after the backoff (a throttle's wait does
/// not count as an attempt), dead-lettered when the policy gives up or the ERP refused it for
/// good.
fn failed(
    store: &Store,
    delivery: &Delivery,
    verdict: Verdict,
    backoff: &Backoff,
    now: Timestamp,
    report: &mut DrainReport,
) -> Result<(), StoreError> {
    // An operator watching the log sees an ERP outage as it happens, one line per failed
    // attempt, and each dead letter with the order it holds back.
    let (tenant, shop, order, version, route) =
        (&delivery.tenant, &delivery.key.shop_id, &delivery.key.order_id, delivery.version, &delivery.route);
    let attempt = delivery.attempts + 1;
    match verdict {
        Verdict::Throttled(wait, reason) => {
            tracing::warn!(%tenant, %shop, %order, version, %route, ?wait, %reason, "the ERP throttled a delivery; retried after its wait");
            let again = Delivery { attempts: delivery.attempts.saturating_sub(1), ..delivery.clone() };
            store.outbox().retry_later(&again, now.0 + wait.as_millis() as i64, &reason)?;
            report.retried += 1;
            report.failures.push(failure(delivery, FailureKind::Throttled, reason, now, true));
        }
        Verdict::Retry(reason) => match backoff.delay(attempt, delivery.id) {
            Some(wait) => {
                tracing::warn!(%tenant, %shop, %order, version, %route, attempt, ?wait, %reason, "delivery to the ERP failed; retried");
                store.outbox().retry_later(delivery, now.0 + wait.as_millis() as i64, &reason)?;
                report.retried += 1;
                report.failures.push(failure(delivery, FailureKind::Transient, reason, now, true));
            }
            None => give_up(store, delivery, &reason, now, report)?,
        },
        Verdict::Permanent(reason) => {
            tracing::warn!(%tenant, %shop, %order, version, %route, %reason, "the ERP refused a delivery; dead-lettered");
            store.outbox().dead_letter(delivery, &reason, now.0)?;
            report.dead_lettered += 1;
            report.failures.push(failure(delivery, FailureKind::Refused, reason, now, false));
        }
    }
    Ok(())
}

/// A delivery the backoff policy has no attempt left for: dead-lettered, saying how many it had.
fn give_up(
    store: &Store,
    delivery: &Delivery,
    reason: &str,
    now: Timestamp,
    report: &mut DrainReport,
) -> Result<(), StoreError> {
    let (tenant, shop, order, version, route) =
        (&delivery.tenant, &delivery.key.shop_id, &delivery.key.order_id, delivery.version, &delivery.route);
    let why = format!("gave up after {} attempts; last: {reason}", delivery.attempts + 1);
    tracing::warn!(%tenant, %shop, %order, version, %route, reason = %why, "delivery dead-lettered");
    store.outbox().dead_letter(delivery, &why, now.0)?;
    report.dead_lettered += 1;
    report.failures.push(failure(delivery, FailureKind::Transient, reason.to_owned(), now, false));
    Ok(())
}

/// The drain report's entry for a failed delivery.
fn failure(delivery: &Delivery, kind: FailureKind, reason: String, now: Timestamp, retried: bool) -> FailedDelivery {
    FailedDelivery { tenant: delivery.tenant.clone(), route: delivery.route.clone(), kind, reason, at: now.0, retried }
}
