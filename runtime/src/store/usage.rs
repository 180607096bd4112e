//! What each tenant stores, in bytes, and its quota (`quota.stored_mib`).
//!
//! Counted as it is written, never by scanning: every write of a tenant's orders, deliveries
//! owed and given up on, queued, confirmed and dead updates, and quarantined records adds the
//! change in key and value bytes it made (sled's insert and remove hand back what they
//! replaced, transactions included). The figures live in their own tree, so they survive a
//! restart; a store written before they existed is counted once when it is opened.
//!
//! Only intake is refused over the quota ([`Usage::admit`]): new and changed orders, updates
//! and imports, newly quarantined records. Everything that drains a tenant (deliveries taken,
//! updates confirmed, dead letters discarded) goes on, so a tenant over its quota gets back
//! under it by catching up. Per-tenant settings, tokens, cursors, switches, the catalog of
//! platform ids and the audit log are not counted: they grow with what the operator does, not
//! with what a shop or an ERP sends.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::StoreError;
use super::backend::{Db, Tree};

pub(super) const TREE: &str = "stored_bytes";

/// Set in the tree once every tenant's figure has been counted (a store from before the
/// figures existed is counted once, when opened).
const COUNTED: &[u8] = b"\xffcounted";

/// The trees whose entries count, with how to find an entry's tenant: the key's first part,
/// or (for trees keyed by id) the `tenant` field of the value, at the path given.
pub(super) const COUNTED_TREES: [(&str, Owner); 9] = [
    (super::orders::TREE, Owner::Key),
    (super::orders::VERSIONS, Owner::Key),
    (super::outbox::QUEUE, Owner::Value(&["tenant"])),
    (super::outbox::DEAD, Owner::Value(&["delivery", "tenant"])),
    (super::pushes::QUEUE, Owner::Key),
    (super::pushes::SENT, Owner::Key),
    (super::pushes::DEAD, Owner::Value(&["push", "tenant"])),
    (super::pushes::REFUSED, Owner::Key),
    (super::quarantine::TREE, Owner::Key),
];

/// Where an entry's tenant is written.
#[derive(Clone, Copy)]
pub(super) enum Owner {
    Key,
    Value(&'static [&'static str]),
}

/// The change in stored bytes of `key` going from `old` to `new` (`None`: absent).
pub(super) fn delta(key: &[u8], old: Option<&[u8]>, new: Option<&[u8]>) -> i64 {
    let size = |v: Option<&[u8]>| v.map_or(0, |v| (key.len() + v.len()) as i64);
    size(new) - size(old)
}

/// The quotas of the tenants running, in bytes: set from the configuration, so a database the
/// store reopens (after a failed write) keeps them.
pub(super) type Quotas = Arc<RwLock<HashMap<String, u64>>>;

/// Each tenant's stored bytes, and the quotas of the tenants running.
#[derive(Clone)]
pub struct Usage {
    tree: Tree,
    quotas: Quotas,
}

impl Usage {
    pub(super) fn open(db: &Db, quotas: Quotas) -> Result<Self, StoreError> {
        let usage = Usage { tree: db.open_tree(TREE)?, quotas };
        if usage.tree.get(COUNTED)?.is_none() {
            usage.recount(db)?;
        }
        Ok(usage)
    }

    /// Every tenant's figure counted from scratch, replacing what the tree held.
    pub(super) fn recount(&self, db: &Db) -> Result<(), StoreError> {
        let counted = count(db)?;
        self.tree.clear()?;
        for (tenant, bytes) in counted {
            self.tree.insert(tenant.as_bytes(), &bytes.to_be_bytes())?;
        }
        self.tree.insert(COUNTED, &[1])?;
        Ok(())
    }

    /// Adds `change` to `tenant`'s figure (never below zero).
    pub(super) fn add(&self, tenant: &str, change: i64) -> Result<(), StoreError> {
        if change == 0 {
            return Ok(());
        }
        self.tree.update_and_fetch(tenant.as_bytes(), |old| {
            let old = old.and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_be_bytes);
            Some(old.saturating_add_signed(change).to_be_bytes().to_vec())
        })?;
        Ok(())
    }

    /// Adds each `(tenant, change)`, summed per tenant first: a transaction that settled many
    /// records of few tenants updates each tenant's figure once.
    pub(super) fn add_each<'t>(&self, changes: impl IntoIterator<Item = (&'t str, i64)>) -> Result<(), StoreError> {
        let mut by_tenant: std::collections::BTreeMap<&str, i64> = Default::default();
        for (tenant, change) in changes {
            *by_tenant.entry(tenant).or_default() += change;
        }
        by_tenant.into_iter().try_for_each(|(tenant, change)| self.add(tenant, change))
    }

    /// What `tenant` stores now, in bytes.
    pub fn bytes(&self, tenant: &str) -> Result<u64, StoreError> {
        Ok(self
            .tree
            .get(tenant.as_bytes())?
            .and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// Sets `tenant`'s quota in bytes (when it starts or changes); `None` forgets it (a tenant
    /// no longer running takes no intake anyway).
    pub fn set_quota(&self, tenant: &str, bytes: Option<u64>) {
        let mut quotas = self.quotas.write().unwrap_or_else(|p| p.into_inner());
        match bytes {
            Some(b) => quotas.insert(tenant.to_owned(), b),
            None => quotas.remove(tenant),
        };
    }

    pub fn quota(&self, tenant: &str) -> Option<u64> {
        self.quotas.read().unwrap_or_else(|p| p.into_inner()).get(tenant).copied()
    }

    /// [`Usage::admit`] as a value to carry into a transaction: `Err((stored, quota))` when
    /// the tenant is at its quota.
    pub(super) fn room(&self, tenant: &str) -> Result<Result<(), (u64, u64)>, StoreError> {
        match self.admit(tenant) {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::OverQuota { stored_bytes, quota_bytes, .. }) => Ok(Err((stored_bytes, quota_bytes))),
            Err(e) => Err(e),
        }
    }

    /// May `tenant` take in more? Refused once its figure has reached its quota: a write
    /// admitted just under it may pass it by its own size (one order, one update call).
    pub fn admit(&self, tenant: &str) -> Result<(), StoreError> {
        let Some(quota) = self.quota(tenant) else { return Ok(()) };
        let stored = self.bytes(tenant)?;
        if stored >= quota {
            return Err(StoreError::OverQuota { tenant: tenant.to_owned(), stored_bytes: stored, quota_bytes: quota });
        }
        Ok(())
    }
}

/// Every tenant's stored bytes, by scanning the counted trees.
fn count(db: &Db) -> Result<HashMap<String, u64>, StoreError> {
    let mut out: HashMap<String, u64> = HashMap::new();
    for (name, owner) in COUNTED_TREES {
        let tree = db.open_tree(name)?;
        for entry in tree.iter() {
            let (k, v) = entry?;
            let tenant = match owner {
                Owner::Key => {
                    let end = k.iter().position(|b| *b == 0).unwrap_or(k.len());
                    String::from_utf8_lossy(&k[..end]).into_owned()
                }
                Owner::Value(path) => {
                    let value: serde_json::Value = serde_json::from_slice(&v).unwrap_or_default();
                    let tenant = path.iter().fold(&value, |v, p| &v[*p]);
                    tenant.as_str().unwrap_or_default().to_owned()
                }
            };
            *out.entry(tenant).or_default() += (k.len() + v.len()) as u64;
        }
    }
    Ok(out)
}

type TxResult<T> = Result<T, super::backend::TxError>;

/// `tx.insert` of `value` at `key`, answering the change in stored bytes it made.
pub(super) fn tx_insert(tx: &super::backend::TxTree<'_>, key: &[u8], value: &[u8]) -> TxResult<i64> {
    let old = tx.insert(key, value)?;
    Ok(delta(key, old.as_deref(), Some(value)))
}

/// `tx.remove` of `key`, answering the change in stored bytes it made.
pub(super) fn tx_remove(tx: &super::backend::TxTree<'_>, key: &[u8]) -> TxResult<i64> {
    let old = tx.remove(key)?;
    Ok(delta(key, old.as_deref(), None))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{OrderStatus, Rejected, Timestamp};
    use crate::store::orders::tests::order;
    use crate::store::quarantine::Source;
    use crate::store::{NewPush, OrderKey, Store};

    fn stock(tenant: &'static str, item: &'static str, quantity: u32, version: u64) -> NewPush<'static> {
        NewPush {
            tenant,
            shop: "tb",
            module: "stock",
            item,
            record: json!({"outer_sku_id": item, "quantity": quantity}),
            version: Some(version),
        }
    }

    /// Every kind of write, and after each the figures kept as they went equal a count from
    /// scratch: nothing is missed, nothing counted twice, one tenant's writes never another's.
    #[test]
    fn figures_kept_as_written_equal_a_count_from_scratch() {
        let store = Store::temporary().unwrap();
        let agrees = |when: &str| {
            let scratch = count(&store.db()).unwrap();
            for tenant in ["acme", "beta"] {
                let kept = store.usage().bytes(tenant).unwrap();
                assert_eq!(kept, scratch.get(tenant).copied().unwrap_or(0), "{tenant} after {when}");
            }
        };
        let now = Timestamp(1_000);
        for (tenant, id) in [("acme", "1"), ("acme", "2"), ("beta", "3")] {
            store.record_order(tenant, &order(id, OrderStatus::Paid, 10), now, Some("webhook")).unwrap();
        }
        store.record_order("acme", &order("1", OrderStatus::Shipped, 20), now, Some("webhook")).unwrap();
        store.record_order("acme", &order("1", OrderStatus::Shipped, 20), now, Some("webhook")).unwrap();
        agrees("orders and deliveries");
        assert!(store.usage().bytes("acme").unwrap() > store.usage().bytes("beta").unwrap());

        let acme = store.outbox().pending().unwrap().into_iter().filter(|d| d.tenant == "acme").collect::<Vec<_>>();
        store.outbox().retry_later(&acme[0], 5_000, "busy").unwrap();
        store.outbox().dead_letter(&acme[1], "gone", 6_000).unwrap();
        store.outbox().remove(acme[2].id).unwrap();
        agrees("retries, dead letters, removals");
        store.outbox().replay("acme", acme[1].id, 7_000).unwrap();
        store.outbox().dead_letter(&acme[1], "gone again", 8_000).unwrap();
        store.outbox().discard("acme", acme[1].id).unwrap();
        let k = OrderKey::of(&order("1", OrderStatus::Shipped, 20));
        let version = store.orders().get("acme", &k).unwrap().unwrap().version;
        store.orders().ack("acme", &k, version).unwrap();
        agrees("replays, discards, acks");

        for (i, item) in ["A", "B", "C"].into_iter().enumerate() {
            store.pushes().offer(stock("acme", item, 1, 1 + i as u64), 0).unwrap();
        }
        store.pushes().offer(stock("beta", "A", 1, 1), 0).unwrap();
        store.pushes().offer(stock("acme", "A", 2, 9), 0).unwrap();
        let due = store.pushes().due("acme", "tb", "stock", 0, 10).unwrap();
        store.pushes().confirm(&due[0]).unwrap();
        store.pushes().retry_later(&due[1], 100, "throttled", false).unwrap();
        store.pushes().dead_letter(&due[2], "refused", 200).unwrap();
        store.pushes().offer(stock("acme", "A", 2, 10), 0).unwrap();
        store.pushes().wake("acme", "tb", "stock", "B", 0).unwrap();
        store.pushes().offer_confirmed_again("acme", "tb", "stock", "A", 0).unwrap();
        agrees("pushes");
        let dead = store.pushes().dead_letters("acme").unwrap();
        store.pushes().replay("acme", dead[0].push.id, 300).unwrap();
        let again = store.pushes().due("acme", "tb", "stock", 300, 10).unwrap();
        let c = again.iter().find(|p| p.item == "C").unwrap();
        store.pushes().dead_letter(c, "refused again", 400).unwrap();
        let dead = store.pushes().dead_letters("acme").unwrap();
        store.pushes().discard("acme", dead[0].push.id).unwrap();
        agrees("push replays and discards");

        let from = Source { tenant: "acme", shop_id: "tb", stream: "orders", plugin: "taobao", version: "1.0.0" };
        let rejected = Rejected { id: "9".into(), field: "paid_at".into(), reason: "bad".into(), excerpt: None };
        store.quarantine().put(&from, &rejected, now).unwrap();
        store.quarantine().put(&from, &rejected, now).unwrap();
        store.quarantine().retry("acme", "tb", "orders", "9").unwrap();
        agrees("quarantine");
        store.quarantine().remove("acme", "tb", "orders", "9").unwrap();
        agrees("quarantine removal");
        // An order set aside, then stored: it leaves the quarantine in the order's transaction.
        let from = Source { shop_id: "s1", ..from };
        store.quarantine().put(&from, &rejected, now).unwrap();
        let recorded = store.record_orders("acme", &[order("9", OrderStatus::Paid, 10)], now, None);
        assert!(recorded[0].as_ref().unwrap().released);
        agrees("quarantine released by storing");
    }

    #[test]
    fn intake_is_refused_at_the_quota_and_draining_is_not() {
        let store = Store::temporary().unwrap();
        store.usage().set_quota("acme", Some(1));
        store.record_order("acme", &order("1", OrderStatus::Paid, 10), Timestamp(0), Some("webhook")).unwrap();
        let err = store.record_order("acme", &order("2", OrderStatus::Paid, 10), Timestamp(0), None).unwrap_err();
        assert!(matches!(err, StoreError::OverQuota { ref tenant, quota_bytes: 1, .. } if tenant == "acme"), "{err}");
        assert!(err.to_string().contains("quota.stored_mib"), "{err}");
        // Seen again unchanged is no intake; another tenant has room.
        store.record_order("acme", &order("1", OrderStatus::Paid, 10), Timestamp(0), Some("webhook")).unwrap();
        store.record_order("beta", &order("2", OrderStatus::Paid, 10), Timestamp(0), None).unwrap();
        // Draining goes on, and frees room.
        let delivery = store.outbox().pending().unwrap().remove(0);
        store.outbox().remove(delivery.id).unwrap();
        store.usage().set_quota("acme", Some(store.usage().bytes("acme").unwrap() + 1));
        store.record_order("acme", &order("2", OrderStatus::Paid, 10), Timestamp(0), None).unwrap();
        store.usage().set_quota("acme", None);
        store.usage().admit("acme").unwrap();
    }

    #[test]
    fn a_store_written_before_the_figures_is_counted_when_opened() {
        let dir = std::env::temp_dir().join(format!("wharf-usage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let store = Store::open(&dir).unwrap();
            store.record_order("acme", &order("1", OrderStatus::Paid, 10), Timestamp(0), Some("webhook")).unwrap();
            // As an older host left it: orders, no figures.
            let tree = store.db().open_tree(TREE).unwrap();
            tree.clear().unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.usage().bytes("acme").unwrap(), count(&store.db()).unwrap()["acme"]);
        assert!(store.usage().bytes("acme").unwrap() > 0);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
