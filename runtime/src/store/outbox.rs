//! Deliveries owed to ERPs, their retries, and the dead-letter queue.
//!
//! A delivery is enqueued in the same transaction that stores the order version it carries
//! ([`super::Store::record_order`]), so a crash between the two cannot lose it. It leaves the
//! queue only when delivered, superseded by a newer version of its order (that version has
//! its own delivery), or dead-lettered with its reason; a dead letter can be replayed.

use serde::{Deserialize, Serialize};
use sled::Transactional as _;

use super::orders::{self, OrderKey, Upsert};
use super::{Store, StoreError, key};
use crate::model::{Order, Timestamp};

const QUEUE: &str = "outbox";
const DEAD: &str = "dead_letters";

/// One delivery owed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Unique, and grows with enqueue order.
    pub id: u64,
    pub tenant: String,
    /// Which route delivers it (`webhook`, an ERP plugin's name…).
    pub route: String,
    pub key: OrderKey,
    pub version: u64,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this instant (UTC ms).
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub enqueued_ms: i64,
}

/// A delivery given up on, with why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub delivery: Delivery,
    pub reason: String,
    pub at_ms: i64,
}

/// The outbox and dead-letter trees.
#[derive(Clone)]
pub struct Outbox {
    queue: sled::Tree,
    dead: sled::Tree,
}

fn decode<T: for<'de> Deserialize<'de>>(tree: &'static str, k: &[u8], v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt { tree, key: hex::encode(k), reason: e.to_string() })
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

impl Outbox {
    pub(super) fn new(db: &sled::Db) -> Result<Self, StoreError> {
        Ok(Self { queue: db.open_tree(QUEUE)?, dead: db.open_tree(DEAD)? })
    }

    /// Deliveries due at `now_ms`, oldest first, at most `limit`.
    pub fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let mut out = Vec::new();
        for entry in self.queue.iter() {
            let (k, v) = entry?;
            let d: Delivery = decode(QUEUE, &k, &v)?;
            if d.next_attempt_ms <= now_ms {
                out.push(d);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Everything queued (for progress lines and tests).
    pub fn pending(&self) -> Result<Vec<Delivery>, StoreError> {
        self.queue.iter().map(|e| e.map_err(StoreError::from).and_then(|(k, v)| decode(QUEUE, &k, &v))).collect()
    }

    /// Done: delivered, or superseded by a newer version.
    pub fn remove(&self, id: u64) -> Result<(), StoreError> {
        self.queue.remove(id.to_be_bytes())?;
        Ok(())
    }

    /// Another attempt at `next_attempt_ms`, remembering why this one failed.
    pub fn retry_later(&self, delivery: &Delivery, next_attempt_ms: i64, reason: &str) -> Result<(), StoreError> {
        let next = Delivery {
            attempts: delivery.attempts + 1,
            next_attempt_ms,
            last_error: Some(reason.to_owned()),
            ..delivery.clone()
        };
        self.queue.insert(delivery.id.to_be_bytes(), encode(&next)?)?;
        Ok(())
    }

    /// Gives up on `delivery` (moves it to the dead-letter queue, atomically).
    pub fn dead_letter(&self, delivery: &Delivery, reason: &str, at_ms: i64) -> Result<(), StoreError> {
        let letter = DeadLetter {
            delivery: Delivery {
                attempts: delivery.attempts + 1,
                last_error: Some(reason.to_owned()),
                ..delivery.clone()
            },
            reason: reason.to_owned(),
            at_ms,
        };
        let bytes = encode(&letter)?;
        let id = delivery.id.to_be_bytes();
        (&self.queue, &self.dead).transaction(|(q, d)| {
            q.remove(&id)?;
            d.insert(&id, bytes.clone())?;
            Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(())
    }

    /// `tenant`'s dead letters, oldest first.
    pub fn dead_letters(&self, tenant: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let mut out = Vec::new();
        for entry in self.dead.iter() {
            let (k, v) = entry?;
            let letter: DeadLetter = decode(DEAD, &k, &v)?;
            if letter.delivery.tenant == tenant {
                out.push(letter);
            }
        }
        Ok(out)
    }

    /// Puts `tenant`'s dead letter `id` back in the queue, due at `now_ms`, attempts reset.
    /// `false` when there is no such letter for this tenant.
    pub fn replay(&self, tenant: &str, id: u64, now_ms: i64) -> Result<bool, StoreError> {
        let k = id.to_be_bytes();
        let Some(v) = self.dead.get(k)? else { return Ok(false) };
        let letter: DeadLetter = decode(DEAD, &k, &v)?;
        if letter.delivery.tenant != tenant {
            return Ok(false);
        }
        let again = encode(&Delivery { attempts: 0, next_attempt_ms: now_ms, ..letter.delivery })?;
        (&self.queue, &self.dead).transaction(|(q, d)| {
            d.remove(&k)?;
            q.insert(&k, again.clone())?;
            Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(true)
    }

    /// Drops `tenant`'s dead letter `id` for good (the caller audits why). `false` when there
    /// is no such letter for this tenant.
    pub fn discard(&self, tenant: &str, id: u64) -> Result<bool, StoreError> {
        let k = id.to_be_bytes();
        let Some(v) = self.dead.get(k)? else { return Ok(false) };
        let letter: DeadLetter = decode(DEAD, &k, &v)?;
        if letter.delivery.tenant != tenant {
            return Ok(false);
        }
        self.dead.remove(k)?;
        Ok(true)
    }
}

impl Store {
    /// Stores `order` for `tenant` and, when it is new or changed and the tenant's ERP route
    /// delivers (`route`), enqueues its delivery, in one transaction.
    pub fn record_order(
        &self,
        tenant: &str,
        order: &Order,
        now: Timestamp,
        route: Option<&str>,
    ) -> Result<Upsert, StoreError> {
        key(&[tenant])?; // a tenant name the keys can hold
        let (book, outbox) = (self.orders(), self.outbox());
        let outcome = (book.tree(), &outbox.queue).transaction(|(o, q)| {
            let outcome = orders::upsert_in(&book, o, tenant, order, now)?;
            if let (true, Some(route)) = (outcome.is_news(), route) {
                let id = q.generate_id()?;
                let delivery = Delivery {
                    id,
                    tenant: tenant.to_owned(),
                    route: route.to_owned(),
                    key: OrderKey::of(order),
                    version: outcome.version(),
                    attempts: 0,
                    next_attempt_ms: now.0,
                    last_error: None,
                    enqueued_ms: now.0,
                };
                let bytes = encode(&delivery).map_err(sled::transaction::ConflictableTransactionError::Abort)?;
                q.insert(&id.to_be_bytes(), bytes)?;
            }
            Ok(outcome)
        })?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OrderStatus;
    use crate::store::orders::tests::order;

    const T: i64 = 1_794_355_200_000;

    #[test]
    fn each_new_version_is_owed_once_and_dead_letters_replay() {
        let store = Store::temporary().unwrap();
        let o = order("1", OrderStatus::Paid, T);
        store.record_order("acme", &o, Timestamp(T), Some("webhook")).unwrap();
        store.record_order("acme", &o, Timestamp(T + 1), Some("webhook")).unwrap();
        store
            .record_order("acme", &order("1", OrderStatus::Shipped, T + 9), Timestamp(T + 2), Some("webhook"))
            .unwrap();
        store.record_order("acme", &order("2", OrderStatus::Paid, T), Timestamp(T), None).unwrap();
        let due = store.outbox().due(T + 10, 100).unwrap();
        assert_eq!(
            due.iter().map(|d| d.version).collect::<Vec<_>>(),
            [1, 2],
            "unchanged re-reads and pull-routed orders owe nothing"
        );

        let first = &due[0];
        store.outbox().retry_later(first, T + 1_000, "503").unwrap();
        assert_eq!(store.outbox().due(T + 10, 100).unwrap().len(), 1, "not due before its time");
        let again = &store.outbox().due(T + 1_000, 100).unwrap()[0];
        assert_eq!((again.attempts, again.last_error.as_deref()), (1, Some("503")));

        store.outbox().dead_letter(again, "400 Bad Request: unknown SKU", T + 1_001).unwrap();
        assert_eq!(store.outbox().pending().unwrap().len(), 1);
        let letters = store.outbox().dead_letters("acme").unwrap();
        assert_eq!(letters[0].reason, "400 Bad Request: unknown SKU");
        assert!(store.outbox().dead_letters("other").unwrap().is_empty());
        assert!(!store.outbox().replay("other", letters[0].delivery.id, T).unwrap(), "not another tenant's");
        assert!(store.outbox().replay("acme", letters[0].delivery.id, T + 2_000).unwrap());
        assert_eq!(store.outbox().due(T + 2_000, 100).unwrap().len(), 2);
        assert!(store.outbox().dead_letters("acme").unwrap().is_empty());
    }

    #[test]
    fn state_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("wharf-store-{}-{}", std::process::id(), T));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let store = Store::open(&dir).unwrap();
            store.record_order("acme", &order("1", OrderStatus::Paid, T), Timestamp(T), Some("webhook")).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.outbox().pending().unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
