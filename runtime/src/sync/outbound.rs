//! ERP → marketplace: a shop's queued updates, through its plugin.
//!
//! Each round walks the shop's queues in a fixed order (holds first, so a manual value is on
//! the platform before anything else about that SKU), sends what is due in batches, and reads
//! the plugin's answer item by item: confirmed updates leave the queue, transient failures
//! come back after a backoff, permanent ones are dead-lettered with the platform's reason.
//! A throttled shop stops its round and waits; other shops are not affected.

use std::time::Duration;

use crate::config::CarrierTable;
use crate::model::{ConnectorError, ItemResult, Logistics, Module, Operation, OrderStatus, Timestamp};
use crate::retry::{Backoff, Verdict};
use crate::sandbox::{Call, Reply};
use crate::store::{Gate, OrderKey, Push, Store, StoreError};
use crate::sync::intake::HOLD_QUEUE;
use crate::{Plugin, Shop};

/// Updates one push call carries: the platforms' batch APIs take 20–50 records (the SDK's
/// batching splits further where a platform wants fewer), and a failed call costs one batch.
pub const BATCH: usize = 50;
/// How soon a SKU whose sync is switched off is looked at again.
pub const SKU_OFF_RECHECK: Duration = Duration::from_secs(60);

/// How soon an update is tried again when the platform refused the ids the catalogue gave it
/// (a listing recreated since, say: the next order teaches the new ones). An update that went
/// without ids because none are known does not retry on a clock: it waits, indexed by its
/// SKU, until an order teaches them (see [`crate::store::Pushes::wait_for_ids`]).
pub const UNMAPPED_RECHECK: Duration = Duration::from_secs(60);
/// The fields a plugin names when it needs the platform's own ids of a SKU.
const PLATFORM_IDS: [&str; 2] = ["product_id", "sku_id"];

/// Whether a refusal on `field` is the platform asking for ids the queued record (from an
/// ERP, which knows only the merchant's code) did not carry.
fn unmapped(push: &Push, field: &str) -> bool {
    PLATFORM_IDS.contains(&field) && push.record.get(field).is_none_or(|v| v.is_null())
}

/// The platform ids a record of `operation` has: a listing change names a product, never a
/// platform SKU.
fn carried_ids(operation: Operation) -> &'static [&'static str] {
    if operation == Operation::PushListing { &PLATFORM_IDS[..1] } else { &PLATFORM_IDS }
}

/// Fills in `record` the platform ids (`[product_id, sku_id]`) its kind has and it lacks.
fn fill_ids(operation: Operation, record: &mut serde_json::Value, ids: [Option<String>; 2]) {
    let Some(fields) = record.as_object_mut() else { return };
    for (k, v) in PLATFORM_IDS.into_iter().zip(ids) {
        let given = fields.get(k).is_some_and(|v| !v.is_null());
        if let (true, false, Some(v)) = (carried_ids(operation).contains(&k), given, v) {
            fields.insert(k.into(), v.into());
        }
    }
}

/// One queue of a shop's updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Queue {
    /// Its name in the store (a module's [`Spec::stored`], or [`HOLD_QUEUE`]).
    ///
    /// [`Spec::stored`]: crate::model::modules::Spec::stored
    pub name: &'static str,
    /// The module whose switch pauses it.
    pub module: Module,
    pub operation: Operation,
    /// Whether per-SKU overrides and holds apply (automatic updates of a per-SKU module).
    pub per_sku: bool,
}

/// Every queue, in the order a round serves them: manual stock values (holds) first, then
/// each module of the table that goes out to the shops.
pub fn queues() -> impl Iterator<Item = Queue> {
    let holds = Queue { name: HOLD_QUEUE, module: Module::Stock, operation: Operation::PushStock, per_sku: false };
    let modules = Module::ALL.into_iter().filter_map(|module| {
        let spec = module.spec();
        spec.push.map(|operation| Queue { name: spec.stored, module, operation, per_sku: spec.per_sku })
    });
    std::iter::once(holds).chain(modules)
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub confirmed: usize,
    pub retried: usize,
    pub dead_lettered: usize,
    /// Held back by a SKU override or a manual hold (still queued).
    pub kept_back: usize,
    /// Waiting for the platform's ids of their SKU (still queued).
    pub unmapped: usize,
    /// Tracking numbers not uploaded because the order is shipped (or over) on the platform.
    pub already_shipped: usize,
    /// The platform asked this shop to wait this long.
    pub throttled: Option<Duration>,
}

/// One shop's outbound side.
pub struct Outbound<'a> {
    /// Whether the host is stopping: a round ends after the batch in flight.
    pub stopping: &'a (dyn Fn() -> bool + Sync),
    pub plugin: &'a Plugin,
    pub shop: &'a Shop,
    pub platform: &'a str,
    pub store: &'a Store,
    pub carriers: &'a CarrierTable,
    pub backoff: &'a Backoff,
}

impl Outbound<'_> {
    /// Sends what is due at `now`.
    pub async fn round(&self, now: Timestamp) -> Result<Round, StoreError> {
        let mut round = Round::default();
        let (tenant, shop) = (self.shop.tenant.as_str(), self.shop.shop_id.as_str());
        for Queue { name: queue, module, operation, per_sku } in queues() {
            if !self.store.switches().module_on(tenant, shop, module)? {
                continue; // paused: everything stays queued until the switch is back on
            }
            loop {
                let due = self.store.pushes().due(tenant, shop, queue, now.0, BATCH)?;
                if due.is_empty() {
                    break;
                }
                let full = due.len() == BATCH;
                let mut batch = Vec::with_capacity(due.len());
                for push in due {
                    if per_sku {
                        match self.store.switches().gate(tenant, shop, &push.item, module, now)? {
                            Gate::Send => {}
                            Gate::ModuleOff => unreachable!("the module switch was checked above"),
                            Gate::SkuOff => {
                                let later = now.0 + SKU_OFF_RECHECK.as_millis() as i64;
                                self.store.pushes().retry_later(
                                    &push,
                                    later,
                                    "sync of this SKU is switched off",
                                    false,
                                )?;
                                round.kept_back += 1;
                                continue;
                            }
                            Gate::Held(hold) => {
                                let reason = format!("kept back by a manual hold until {}", hold.until);
                                self.store.pushes().retry_later(&push, hold.until.0, &reason, false)?;
                                round.kept_back += 1;
                                continue;
                            }
                        }
                    }
                    if operation == Operation::PushLogistics {
                        if self.already_shipped(&push)? {
                            // The platform shows it shipped already (a parcel uploaded by
                            // hand, or an earlier number): there is nothing to mark.
                            self.store.pushes().confirm(&push)?;
                            round.already_shipped += 1;
                            continue;
                        }
                        match self.platform_carrier(&push) {
                            Ok(record) => batch.push((push, record)),
                            Err(reason) => {
                                self.store.pushes().dead_letter(&push, &reason, now.0)?;
                                round.dead_lettered += 1;
                            }
                        }
                        continue;
                    }
                    let record = self.with_platform_ids(operation, &push.record)?;
                    batch.push((push, record));
                }
                if !batch.is_empty() {
                    self.send(operation, batch, now, &mut round).await?;
                }
                if round.throttled.is_some() || (self.stopping)() {
                    return Ok(round);
                }
                if !full {
                    break;
                }
            }
        }
        Ok(round)
    }

    /// A SKU-level record as this shop's plugin needs it: when the ERP gave no `product_id`,
    /// the shop's own ids for the SKU code as learned from its orders (see
    /// [`crate::store::Catalog`]), looked up as the update leaves so that a SKU first sold
    /// after the update arrived is still found. Without them the record goes as it is:
    /// platforms that key stock by the merchant's code take it, others refuse it by name.
    /// Only the ids the record's kind has are filled: records are read strictly, and a listing
    /// change names a product, never a platform SKU.
    fn with_platform_ids(
        &self,
        operation: Operation,
        record: &serde_json::Value,
    ) -> Result<serde_json::Value, StoreError> {
        let mut json = record.clone();
        let Some(sku) = json.get("outer_sku_id").and_then(|v| v.as_str()).map(str::to_owned) else { return Ok(json) };
        let given = |json: &serde_json::Value, k: &str| json.get(k).is_some_and(|v| !v.is_null());
        if carried_ids(operation).iter().all(|k| given(&json, k)) {
            return Ok(json);
        }
        if let Some(ids) = self.store.catalog().get(&self.shop.tenant, &self.shop.shop_id, &sku)? {
            fill_ids(operation, &mut json, [ids.product_id, ids.sku_id]);
        }
        Ok(json)
    }

    /// Whether the order a tracking number is for is, as last pulled, past shipping.
    fn already_shipped(&self, push: &Push) -> Result<bool, StoreError> {
        let Some(order_id) = push.record.get("order_id").and_then(|v| v.as_str()) else { return Ok(false) };
        let key = OrderKey {
            platform: self.platform.to_owned(),
            shop_id: self.shop.shop_id.clone(),
            order_id: order_id.to_owned(),
        };
        Ok(self.store.orders().get(&self.shop.tenant, &key)?.is_some_and(|o| {
            matches!(
                o.order.status,
                OrderStatus::Shipped | OrderStatus::Completed | OrderStatus::Cancelled | OrderStatus::Closed
            )
        }))
    }

    /// The logistics record with the tenant's carrier code replaced by the platform's.
    fn platform_carrier(&self, push: &Push) -> Result<serde_json::Value, String> {
        let mut logistics: Logistics =
            serde_json::from_value(push.record.clone()).map_err(|e| format!("not a logistics record: {e}"))?;
        if self.carriers.is_empty() {
            // No table: the ERP already speaks the platforms' codes.
            return Ok(push.record.clone());
        }
        match self.carriers.platform_code(&logistics.carrier_code, self.platform) {
            Some(code) => logistics.carrier_code = code.to_owned(),
            None => {
                return Err(format!(
                    "carrier `{}` has no {} code in tenants.{}.carriers; add it and replay",
                    logistics.carrier_code, self.platform, self.shop.tenant
                ));
            }
        }
        Ok(serde_json::to_value(logistics).expect("logistics records serialize"))
    }

    /// Sends each queued update as `(queued, record as this platform needs it)`; what is
    /// confirmed is the queued form, so the next identical update is recognised as such.
    async fn send(
        &self,
        operation: Operation,
        sending: Vec<(Push, serde_json::Value)>,
        now: Timestamp,
        round: &mut Round,
    ) -> Result<(), StoreError> {
        let (batch, records): (Vec<Push>, Vec<serde_json::Value>) = sending.into_iter().unzip();
        // Which ids each record went with: a refusal for want of ids it did not carry waits
        // for an order to teach them.
        let went_with: Vec<[bool; 2]> =
            records.iter().map(|r| PLATFORM_IDS.map(|k| r.get(k).is_some_and(|v| !v.is_null()))).collect();
        let input = serde_json::Value::Array(records);
        let call = match Call::push(operation, input) {
            Ok(call) => call,
            Err(e) => {
                // A record the store holds no longer parses: a bug or a manual edit.
                for push in &batch {
                    self.store.pushes().dead_letter(push, &format!("unreadable queued record: {e}"), now.0)?;
                    round.dead_lettered += 1;
                }
                return Ok(());
            }
        };
        let results = match self.plugin.call(self.shop, call).await {
            Ok(Reply::Items(results)) if results.len() == batch.len() => results,
            Ok(Reply::Items(results)) => {
                let reason = format!("the plugin answered {} results for {} updates", results.len(), batch.len());
                return self.settle_all(&batch, Verdict::Permanent(reason), now, round);
            }
            Ok(_) => unreachable!("the sandbox checks a push answers item results"),
            Err(e) => return self.settle_all(&batch, Verdict::of_call(&e), now, round),
        };
        for ((push, result), carried) in batch.iter().zip(results).zip(went_with) {
            match result {
                ItemResult::Ok(_) => {
                    self.store.pushes().confirm(push)?;
                    round.confirmed += 1;
                }
                ItemResult::Error(ConnectorError::InvalidInput { field, .. })
                    if unmapped(push, &field) && PLATFORM_IDS.iter().zip(carried).any(|(k, c)| *k == field && !c) =>
                {
                    // The platform needs its own ids and no order has taught them yet: wait
                    // for one (or for the ERP to send them), without counting attempts.
                    let sku = push.record.get("outer_sku_id").and_then(|v| v.as_str()).unwrap_or(&push.item);
                    let reason = format!(
                        "this shop's product id for SKU `{sku}` is not known yet (learned from its orders); waiting"
                    );
                    let recheck = now.0 + UNMAPPED_RECHECK.as_millis() as i64;
                    self.store.pushes().wait_for_ids(push, sku, &reason, recheck)?;
                    round.unmapped += 1;
                }
                ItemResult::Error(ConnectorError::InvalidInput { field, .. }) if unmapped(push, &field) => {
                    // The ids the catalogue gave were refused: an order may teach newer ones.
                    let reason = format!(
                        "the platform refused the product id this shop's orders gave for SKU `{}`; trying again later",
                        push.item
                    );
                    self.store.pushes().retry_later(
                        push,
                        now.0 + UNMAPPED_RECHECK.as_millis() as i64,
                        &reason,
                        false,
                    )?;
                    round.unmapped += 1;
                }
                ItemResult::Error(e) => self.settle(push, Verdict::of_plugin_error(&e), now, round)?,
            }
        }
        Ok(())
    }

    fn settle_all(
        &self,
        batch: &[Push],
        verdict: Verdict,
        now: Timestamp,
        round: &mut Round,
    ) -> Result<(), StoreError> {
        for push in batch {
            self.settle(push, verdict.clone(), now, round)?;
        }
        Ok(())
    }

    fn settle(&self, push: &Push, verdict: Verdict, now: Timestamp, round: &mut Round) -> Result<(), StoreError> {
        match verdict {
            Verdict::Throttled(wait, reason) => {
                self.store.pushes().retry_later(push, now.0 + wait.as_millis() as i64, &reason, false)?;
                round.throttled = Some(round.throttled.map_or(wait, |w| w.max(wait)));
            }
            Verdict::Retry(reason) => match self.backoff.delay(push.attempts + 1, push.id) {
                Some(wait) => {
                    self.store.pushes().retry_later(push, now.0 + wait.as_millis() as i64, &reason, true)?;
                    round.retried += 1;
                }
                None => {
                    let why = format!("gave up after {} attempts; last: {reason}", push.attempts + 1);
                    self.store.pushes().dead_letter(push, &why, now.0)?;
                    round.dead_lettered += 1;
                }
            },
            Verdict::Permanent(reason) => {
                tracing::warn!(tenant = %push.tenant, shop = %push.shop, module = push.module_name(), item = %push.item, reason = %reason, "update dead-lettered");
                self.store.pushes().dead_letter(push, &reason, now.0)?;
                round.dead_lettered += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Records are read strictly when they leave (`Call::push`), so the ids learned from
    /// orders go only where the record's kind has them: a listing change gets its product id,
    /// never a `sku_id` it would be refused for.
    #[test]
    fn learned_ids_fill_only_the_fields_a_record_has() {
        let ids = || [Some("P-1".to_owned()), Some("S-1".to_owned())];
        let mut listing = json!({"outer_sku_id": "A", "listed": true});
        fill_ids(Operation::PushListing, &mut listing, ids());
        assert_eq!(listing, json!({"outer_sku_id": "A", "listed": true, "product_id": "P-1"}));
        assert!(Call::push(Operation::PushListing, json!([listing])).is_ok());
        let mut stock = json!({"outer_sku_id": "A", "quantity": 1, "product_id": null, "version": 3});
        fill_ids(Operation::PushStock, &mut stock, ids());
        assert_eq!((stock["product_id"].as_str(), stock["sku_id"].as_str()), (Some("P-1"), Some("S-1")));
        assert!(Call::push(Operation::PushStock, json!([stock])).is_ok());
        let mut given = json!({"outer_sku_id": "A", "quantity": 1, "product_id": "P-9"});
        fill_ids(Operation::PushStock, &mut given, ids());
        assert_eq!(given["product_id"], "P-9", "what the ERP gave stays");
    }
}
