//! Updates owed to marketplaces (ERP → marketplace), their retries, and their dead letters.
//!
//! One entry per (tenant, shop, module, item): a newer update for the same item replaces the
//! queued one instead of queueing behind it, so a shop that was paused or down receives the
//! latest state once, not a replay of every intermediate value. An update is stored here
//! before whoever sent it is acknowledged, and leaves only when the platform confirmed it,
//! when a newer update replaced it, or when it is dead-lettered with its reason.
//!
//! Stock carries a per-SKU version that only grows: an update older than the one queued or
//! the one last confirmed for the same shop is stale and never sent, whatever order updates
//! arrive in (canonical model, "stock update"). Other modules are ordered by arrival.
//!
//! The last confirmed record of each item is kept, so a snapshot that repeats what the
//! platform already has (an ERP's full stock list every minute) queues nothing.

use serde::{Deserialize, Serialize};
use sled::Transactional as _;
use sled::transaction::ConflictableTransactionError::Abort;

use super::{StoreError, key};

const QUEUE: &str = "pushes";
const SENT: &str = "pushes_sent";
const DEAD: &str = "pushes_dead";
/// What the platform refused for good, per item: the same content offered again (an ERP's
/// next snapshot) is not queued to be refused again; a replay or a different value is.
const REFUSED: &str = "pushes_refused";

/// One update owed to one shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// Unique, and grows with every offer; a retry or confirmation applies only to the entry
    /// it was read as (a newer offer under the same item has a new id).
    pub id: u64,
    pub tenant: String,
    pub shop: String,
    /// The queue it waits in: a module name (`stock`, `price`, …), or `hold` for a manual
    /// stock value, which has its own place so an automatic update cannot replace it.
    pub module: String,
    /// The item within the module: an `outer_sku_id`, an order id, a product id…
    pub item: String,
    /// The canonical record, as JSON.
    pub record: serde_json::Value,
    /// Stock: the SKU's version; other modules: the id.
    pub version: u64,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub enqueued_ms: i64,
}

/// A push given up on, with why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadPush {
    pub push: Push,
    pub reason: String,
    pub at_ms: i64,
}

/// What the platform last confirmed for an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub version: u64,
    pub record: serde_json::Value,
}

/// What an offer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    Queued,
    /// Older than (or as old as) the version queued or confirmed: dropped.
    Stale,
    /// The platform already has exactly this: nothing to send.
    Unchanged,
    /// The platform refused exactly this for good; it waits in the dead letters.
    Refused,
}

/// A new update, before the store gives it an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPush<'a> {
    pub tenant: &'a str,
    pub shop: &'a str,
    pub module: &'a str,
    pub item: &'a str,
    pub record: serde_json::Value,
    /// `Some` for versioned records (stock); `None` orders by arrival.
    pub version: Option<u64>,
}

/// The pushes trees.
#[derive(Clone)]
pub struct Pushes {
    queue: sled::Tree,
    sent: sled::Tree,
    dead: sled::Tree,
    refused: sled::Tree,
}

fn decode<T: for<'de> Deserialize<'de>>(tree: &'static str, k: &[u8], v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        tree,
        key: String::from_utf8_lossy(k).replace('\0', "/"),
        reason: e.to_string(),
    })
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

type TxResult<T> = Result<T, sled::transaction::ConflictableTransactionError<StoreError>>;

/// `record` without its `version`, for "is this what the platform already has".
fn content(record: &serde_json::Value) -> serde_json::Value {
    let mut r = record.clone();
    if let Some(o) = r.as_object_mut() {
        o.remove("version");
    }
    r
}

impl Pushes {
    pub(super) fn new(db: &sled::Db) -> Result<Self, StoreError> {
        Ok(Self {
            queue: db.open_tree(QUEUE)?,
            sent: db.open_tree(SENT)?,
            dead: db.open_tree(DEAD)?,
            refused: db.open_tree(REFUSED)?,
        })
    }

    fn item_key(tenant: &str, shop: &str, module: &str, item: &str) -> Result<Vec<u8>, StoreError> {
        key(&[tenant, shop, module, item])
    }

    /// Queues `new` unless it is stale or already confirmed as is; `now_ms` is when it is due.
    pub fn offer(&self, new: NewPush<'_>, now_ms: i64) -> Result<Offer, StoreError> {
        let k = Self::item_key(new.tenant, new.shop, new.module, new.item)?;
        let wanted = content(&new.record);
        if self
            .refused
            .get(&k)?
            .is_some_and(|v| serde_json::from_slice::<serde_json::Value>(&v).ok().as_ref() == Some(&wanted))
        {
            return Ok(Offer::Refused);
        }
        let outcome = (&self.queue, &self.sent).transaction(|(q, s)| -> TxResult<Offer> {
            let sent: Option<Sent> = s.get(&k)?.map(|v| decode(SENT, &k, &v)).transpose().map_err(Abort)?;
            let queued: Option<Push> = q.get(&k)?.map(|v| decode(QUEUE, &k, &v)).transpose().map_err(Abort)?;
            if let Some(v) = new.version {
                let newest = sent.as_ref().map(|s| s.version).max(queued.as_ref().map(|p| p.version));
                if newest.is_some_and(|n| v <= n) {
                    return Ok(Offer::Stale);
                }
            }
            if let Some(confirmed) = sent.filter(|s| content(&s.record) == wanted) {
                // The platform has this already; a different value still queued is outdated.
                q.remove(&k[..])?;
                if let Some(v) = new.version {
                    let bumped = Sent { version: v, record: confirmed.record };
                    s.insert(&k[..], encode(&bumped).map_err(Abort)?)?;
                }
                return Ok(Offer::Unchanged);
            }
            let id = q.generate_id()?;
            let push = Push {
                id,
                tenant: new.tenant.to_owned(),
                shop: new.shop.to_owned(),
                module: new.module.to_owned(),
                item: new.item.to_owned(),
                record: new.record.clone(),
                version: new.version.unwrap_or(id),
                attempts: 0,
                next_attempt_ms: now_ms,
                last_error: None,
                enqueued_ms: now_ms,
            };
            q.insert(&k[..], encode(&push).map_err(Abort)?)?;
            Ok(Offer::Queued)
        })?;
        Ok(outcome)
    }

    /// Queues again what the platform last confirmed for an item (when a manual hold starts,
    /// so the automatic value returns when the hold ends), unless something newer is queued.
    pub fn offer_confirmed_again(
        &self,
        tenant: &str,
        shop: &str,
        module: &str,
        item: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let k = Self::item_key(tenant, shop, module, item)?;
        let again = (&self.queue, &self.sent).transaction(|(q, s)| -> TxResult<bool> {
            let Some(sent) = s.get(&k)? else { return Ok(false) };
            if q.get(&k)?.is_some() {
                return Ok(false);
            }
            let sent: Sent = decode(SENT, &k, &sent).map_err(Abort)?;
            // Forget the confirmation so the same content is not "unchanged" any more.
            s.remove(&k[..])?;
            let id = q.generate_id()?;
            let push = Push {
                id,
                tenant: tenant.to_owned(),
                shop: shop.to_owned(),
                module: module.to_owned(),
                item: item.to_owned(),
                record: sent.record,
                version: sent.version,
                attempts: 0,
                next_attempt_ms: now_ms,
                last_error: None,
                enqueued_ms: now_ms,
            };
            q.insert(&k[..], encode(&push).map_err(Abort)?)?;
            Ok(true)
        })?;
        Ok(again)
    }

    /// Makes a queued update due at `now_ms` (a hold released, an override back on), without
    /// counting an attempt; `false` when nothing is queued for the item.
    pub fn wake(&self, tenant: &str, shop: &str, module: &str, item: &str, now_ms: i64) -> Result<bool, StoreError> {
        let k = Self::item_key(tenant, shop, module, item)?;
        let woke = self.queue.transaction(|q| -> TxResult<bool> {
            let Some(v) = q.get(&k)? else { return Ok(false) };
            let push: Push = decode(QUEUE, &k, &v).map_err(Abort)?;
            if push.next_attempt_ms > now_ms {
                q.insert(&k[..], encode(&Push { next_attempt_ms: now_ms, ..push }).map_err(Abort)?)?;
            }
            Ok(true)
        })?;
        Ok(woke)
    }

    /// Up to `limit` of a shop's `module` updates due at `now_ms`, in item order.
    pub fn due(
        &self,
        tenant: &str,
        shop: &str,
        module: &str,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<Push>, StoreError> {
        let mut prefix = key(&[tenant, shop, module])?;
        prefix.push(0);
        let mut out = Vec::new();
        for entry in self.queue.scan_prefix(&prefix) {
            let (k, v) = entry?;
            let push: Push = decode(QUEUE, &k, &v)?;
            if push.next_attempt_ms <= now_ms {
                out.push(push);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Everything queued for a shop (every module), for progress lines and tests.
    pub fn pending(&self, tenant: &str, shop: &str) -> Result<Vec<Push>, StoreError> {
        let mut prefix = key(&[tenant, shop])?;
        prefix.push(0);
        self.queue
            .scan_prefix(&prefix)
            .map(|e| e.map_err(StoreError::from).and_then(|(k, v)| decode(QUEUE, &k, &v)))
            .collect()
    }

    /// How many updates wait for a shop.
    pub fn pending_count(&self, tenant: &str, shop: &str) -> Result<usize, StoreError> {
        let mut prefix = key(&[tenant, shop])?;
        prefix.push(0);
        // Stop at the first error: a database whose writes failed answers an error on every
        // step of a scan, never the end, so `count()` would spin for good.
        let mut n = 0;
        for entry in self.queue.scan_prefix(&prefix) {
            entry?;
            n += 1;
        }
        Ok(n)
    }

    /// What the platform last confirmed for an item.
    pub fn confirmed(&self, tenant: &str, shop: &str, module: &str, item: &str) -> Result<Option<Sent>, StoreError> {
        let k = Self::item_key(tenant, shop, module, item)?;
        self.sent.get(&k)?.map(|v| decode(SENT, &k, &v)).transpose()
    }

    /// The platform confirmed `push`: remember it, and drop it from the queue unless a newer
    /// update replaced it meanwhile (that one is still owed).
    pub fn confirm(&self, push: &Push) -> Result<(), StoreError> {
        let k = Self::item_key(&push.tenant, &push.shop, &push.module, &push.item)?;
        let sent = encode(&Sent { version: push.version, record: push.record.clone() })?;
        (&self.queue, &self.sent).transaction(|(q, s)| -> TxResult<()> {
            if Self::current(q, &k, push.id)? {
                q.remove(&k[..])?;
            }
            let newer_confirmed = match s.get(&k)? {
                Some(v) => decode::<Sent>(SENT, &k, &v).map_err(Abort)?.version > push.version,
                None => false,
            };
            if !newer_confirmed {
                s.insert(&k[..], sent.clone())?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn current(q: &sled::transaction::TransactionalTree, k: &[u8], id: u64) -> TxResult<bool> {
        Ok(match q.get(k)? {
            Some(v) => decode::<Push>(QUEUE, k, &v).map_err(Abort)?.id == id,
            None => false,
        })
    }

    /// Another attempt at `next_attempt_ms` (unless a newer update replaced this one);
    /// `counts` is false for waits that are not the update's fault (the platform throttling).
    pub fn retry_later(&self, push: &Push, next_attempt_ms: i64, reason: &str, counts: bool) -> Result<(), StoreError> {
        let k = Self::item_key(&push.tenant, &push.shop, &push.module, &push.item)?;
        let next = encode(&Push {
            attempts: push.attempts + u32::from(counts),
            next_attempt_ms,
            last_error: Some(reason.to_owned()),
            ..push.clone()
        })?;
        self.queue.transaction(|q| -> TxResult<()> {
            if Self::current(q, &k, push.id)? {
                q.insert(&k[..], next.clone())?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Gives up on `push` (moves it to the dead letters, atomically) unless a newer update
    /// replaced it meanwhile, in which case that one is tried instead.
    pub fn dead_letter(&self, push: &Push, reason: &str, at_ms: i64) -> Result<(), StoreError> {
        let k = Self::item_key(&push.tenant, &push.shop, &push.module, &push.item)?;
        let letter = encode(&DeadPush {
            push: Push { attempts: push.attempts + 1, last_error: Some(reason.to_owned()), ..push.clone() },
            reason: reason.to_owned(),
            at_ms,
        })?;
        let refused = encode(&content(&push.record))?;
        (&self.queue, &self.dead, &self.refused).transaction(|(q, d, r)| -> TxResult<()> {
            if Self::current(q, &k, push.id)? {
                q.remove(&k[..])?;
                d.insert(&push.id.to_be_bytes(), letter.clone())?;
                r.insert(&k[..], refused.clone())?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// `tenant`'s dead pushes, oldest first.
    pub fn dead_letters(&self, tenant: &str) -> Result<Vec<DeadPush>, StoreError> {
        let mut out = Vec::new();
        for entry in self.dead.iter() {
            let (k, v) = entry?;
            let letter: DeadPush = decode(DEAD, &k, &v)?;
            if letter.push.tenant == tenant {
                out.push(letter);
            }
        }
        Ok(out)
    }

    /// Puts `tenant`'s dead push `id` back in its queue, due at `now_ms`, attempts reset; when
    /// a newer update for the same item is queued or was confirmed since, that one wins and
    /// the letter is dropped.
    /// `false` when there is no such letter for this tenant.
    pub fn replay(&self, tenant: &str, id: u64, now_ms: i64) -> Result<bool, StoreError> {
        let dk = id.to_be_bytes();
        let Some(v) = self.dead.get(dk)? else { return Ok(false) };
        let letter: DeadPush = decode(DEAD, &dk, &v)?;
        if letter.push.tenant != tenant {
            return Ok(false);
        }
        let p = &letter.push;
        let k = Self::item_key(&p.tenant, &p.shop, &p.module, &p.item)?;
        (&self.queue, &self.dead, &self.refused, &self.sent).transaction(|(q, d, r, s)| -> TxResult<()> {
            d.remove(&dk[..])?;
            r.remove(&k[..])?;
            let superseded = match s.get(&k)? {
                Some(v) => decode::<Sent>(SENT, &k, &v).map_err(Abort)?.version >= letter.push.version,
                None => false,
            };
            if q.get(&k)?.is_none() && !superseded {
                let id = q.generate_id()?;
                let again = Push { id, attempts: 0, next_attempt_ms: now_ms, last_error: None, ..letter.push.clone() };
                q.insert(&k[..], encode(&again).map_err(Abort)?)?;
            }
            Ok(())
        })?;
        Ok(true)
    }

    /// Drops `tenant`'s dead push `id` for good; `false` when there is none.
    pub fn discard(&self, tenant: &str, id: u64) -> Result<bool, StoreError> {
        let dk = id.to_be_bytes();
        let Some(v) = self.dead.get(dk)? else { return Ok(false) };
        let letter: DeadPush = decode(DEAD, &dk, &v)?;
        if letter.push.tenant != tenant {
            return Ok(false);
        }
        self.dead.remove(dk)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use serde_json::json;

    fn stock<'a>(sku: &'a str, quantity: u32, version: u64) -> NewPush<'a> {
        NewPush {
            tenant: "acme",
            shop: "tb",
            module: "stock",
            item: sku,
            record: json!({"outer_sku_id": sku, "quantity": quantity, "version": version}),
            version: Some(version),
        }
    }

    #[test]
    fn the_newest_version_replaces_the_queued_one_and_older_ones_are_stale() {
        let store = Store::temporary().unwrap();
        let p = store.pushes();
        assert_eq!(p.offer(stock("A", 5, 2), 0).unwrap(), Offer::Queued);
        assert_eq!(p.offer(stock("A", 9, 1), 0).unwrap(), Offer::Stale, "older than queued");
        assert_eq!(p.offer(stock("A", 7, 3), 0).unwrap(), Offer::Queued);
        let due = p.due("acme", "tb", "stock", 0, 10).unwrap();
        assert_eq!(due.len(), 1, "one entry per SKU");
        assert_eq!(due[0].record["quantity"], 7);
        p.confirm(&due[0]).unwrap();
        assert!(p.due("acme", "tb", "stock", 0, 10).unwrap().is_empty());
        assert_eq!(p.offer(stock("A", 1, 2), 0).unwrap(), Offer::Stale, "older than confirmed");
        assert_eq!(p.offer(stock("A", 7, 4), 0).unwrap(), Offer::Unchanged, "the platform has 7");
        assert_eq!(p.offer(stock("A", 6, 4), 0).unwrap(), Offer::Stale, "the unchanged offer still moved the version");
        assert_eq!(p.offer(stock("B", 1, 1), 0).unwrap(), Offer::Queued, "per SKU");
    }

    #[test]
    fn a_confirmation_of_a_replaced_update_keeps_the_newer_one_owed() {
        let store = Store::temporary().unwrap();
        let p = store.pushes();
        p.offer(stock("A", 5, 1), 0).unwrap();
        let sent = p.due("acme", "tb", "stock", 0, 10).unwrap().remove(0);
        p.offer(stock("A", 6, 2), 0).unwrap(); // arrives while the first is on the wire
        p.confirm(&sent).unwrap();
        let owed = p.due("acme", "tb", "stock", 0, 10).unwrap();
        assert_eq!(owed.len(), 1);
        assert_eq!(owed[0].record["quantity"], 6);
        p.retry_later(&sent, 100, "late retry of the old one", true).unwrap();
        assert_eq!(
            p.due("acme", "tb", "stock", 0, 10).unwrap()[0].attempts,
            0,
            "the old one's retry does not touch the new one"
        );
    }

    #[test]
    fn dead_letters_replay_and_discard_per_tenant() {
        let store = Store::temporary().unwrap();
        let p = store.pushes();
        p.offer(stock("A", 5, 1), 0).unwrap();
        let push = p.due("acme", "tb", "stock", 0, 10).unwrap().remove(0);
        p.retry_later(&push, 50, "HTTP 503", true).unwrap();
        assert!(p.due("acme", "tb", "stock", 10, 10).unwrap().is_empty(), "not due before its time");
        let push = p.due("acme", "tb", "stock", 50, 10).unwrap().remove(0);
        assert_eq!(push.attempts, 1);
        p.dead_letter(&push, "invalid_input at quantity", 60).unwrap();
        assert_eq!(p.pending_count("acme", "tb").unwrap(), 0);
        assert_eq!(p.offer(stock("A", 5, 9), 61).unwrap(), Offer::Refused, "the same content is not refused twice");
        let letters = p.dead_letters("acme").unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].reason, "invalid_input at quantity");
        assert!(p.dead_letters("other").unwrap().is_empty());
        assert!(!p.replay("other", push.id, 70).unwrap(), "another tenant cannot replay it");
        assert!(p.replay("acme", push.id, 70).unwrap());
        let again = p.due("acme", "tb", "stock", 70, 10).unwrap();
        assert_eq!((again.len(), again[0].attempts), (1, 0));
        p.dead_letter(&again[0], "still wrong", 80).unwrap();
        let id = p.dead_letters("acme").unwrap()[0].push.id;
        assert!(p.discard("acme", id).unwrap());
        assert!(p.dead_letters("acme").unwrap().is_empty());
    }

    #[test]
    fn unversioned_modules_queue_by_arrival_and_skip_what_was_confirmed() {
        let store = Store::temporary().unwrap();
        let p = store.pushes();
        let logistics = |no: &str| NewPush {
            tenant: "acme",
            shop: "tb",
            module: "logistics",
            item: "T1",
            record: json!({"order_id": "T1", "tracking_no": no}),
            version: None,
        };
        assert_eq!(p.offer(logistics("SF1"), 0).unwrap(), Offer::Queued);
        let push = p.due("acme", "tb", "logistics", 0, 10).unwrap().remove(0);
        p.confirm(&push).unwrap();
        assert_eq!(p.offer(logistics("SF1"), 0).unwrap(), Offer::Unchanged, "a re-read is not sent twice");
        assert_eq!(p.offer(logistics("SF2"), 0).unwrap(), Offer::Queued, "a correction is");
    }

    #[test]
    fn a_confirmed_value_can_be_owed_again() {
        let store = Store::temporary().unwrap();
        let p = store.pushes();
        p.offer(stock("A", 5, 1), 0).unwrap();
        let push = p.due("acme", "tb", "stock", 0, 10).unwrap().remove(0);
        p.confirm(&push).unwrap();
        assert!(p.offer_confirmed_again("acme", "tb", "stock", "A", 5).unwrap());
        let owed = p.due("acme", "tb", "stock", 5, 10).unwrap();
        assert_eq!((owed[0].record["quantity"].as_u64(), owed[0].version), (Some(5), 1));
        assert!(!p.offer_confirmed_again("acme", "tb", "stock", "A", 5).unwrap(), "already owed");
    }
}
