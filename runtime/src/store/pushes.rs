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
//!
//! Every read the loops make is a range read of an index kept in the same transaction as the
//! queue: a shop's due updates by due time, and updates waiting for the platform's ids of
//! their SKU by (tenant, shop, SKU). A waiting update is in no due index at all, so a first
//! import of 100,000 SKUs no order has shown yet costs nothing per round; an order that
//! teaches the catalogue a SKU's ids makes that SKU's updates due ([`Pushes::wake_sku`]).

use super::backend::Transactional as _;
use super::backend::TxError::Abort;
use super::backend::TxTree;
use super::backend::{Db, Tree};
use crate::model::Module;
use serde::{Deserialize, Serialize};

use super::usage::{Usage, delta, tx_insert, tx_remove};
use super::{StoreError, key};

pub(super) const QUEUE: &str = "pushes";
pub(super) const SENT: &str = "pushes_sent";
pub(super) const DEAD: &str = "pushes_dead";
/// What the platform refused for good, per item: the same content offered again (an ERP's
/// next snapshot) is not queued to be refused again; a replay or a different value is.
pub(super) const REFUSED: &str = "pushes_refused";
/// Index: `tenant \0 shop \0 module \0 due_be id_be` → the queue key, for every queued
/// update that is not waiting for ids.
pub(super) const DUE: &str = "pushes_due";
/// Index: `tenant \0 shop \0 sku \0 id_be` → the queue key, for updates waiting for the
/// platform's ids of `sku`.
pub(super) const WAITING: &str = "pushes_waiting";
/// Index: `tenant \0 id_be` → nothing, for every dead push (the dead tree is keyed by id).
pub(super) const DEAD_BY_TENANT: &str = "pushes_dead_by_tenant";
/// `tenant \0 shop` → how many updates are queued for the shop (u64, big-endian), so progress
/// lines and metrics read one key instead of counting a backlog.
pub(super) const COUNTS: &str = "pushes_counts";

/// Waiting updates one page lists unless asked for fewer; the most it lists.
pub const DEFAULT_WAITING_PAGE: usize = 100;
pub const MAX_WAITING_PAGE: usize = 1_000;
/// Updates one purge transaction removes: big enough that 100,000 go in a second or two,
/// small enough that one transaction never holds the store for long.
const PURGE_CHUNK: usize = 500;

/// One update owed to one shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// Unique, and grows with every offer; a retry or confirmation applies only to the entry
    /// it was read as (a newer offer under the same item has a new id).
    pub id: u64,
    pub tenant: String,
    pub shop: String,
    /// The queue it waits in: a module (`stock`, `prices`, …), or `hold` for a manual stock
    /// value, which has its own place so an automatic update cannot replace it. In memory the
    /// module's stored name (`Spec::stored`); in JSON, the store's and the API's, its current
    /// name (`Push::module_name`); either is read back.
    #[serde(with = "crate::model::modules::stored_name")]
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
    /// The SKU whose platform ids this update waits for: the platform refused it for want of
    /// them and no order has taught them yet. It is not due until one does (or the operator
    /// purges it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_sku: Option<String>,
}

impl Push {
    /// The name operators know its queue by: the module's current name, or `hold`.
    pub fn module_name(&self) -> &str {
        Module::from_stored(&self.module).map_or(&self.module, |m| m.name())
    }
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

/// Which waiting updates a listing or a purge is about (all of the tenant's by default).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingFilter {
    #[serde(default)]
    pub shop: Option<String>,
    #[serde(default)]
    pub sku: Option<String>,
}

/// One page of waiting updates, by shop, SKU and age.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingPage {
    pub updates: Vec<Push>,
    pub next_cursor: Option<String>,
}

/// The pushes trees.
#[derive(Clone)]
pub struct Pushes {
    queue: Tree,
    sent: Tree,
    dead: Tree,
    refused: Tree,
    due: Tree,
    waiting: Tree,
    dead_by_tenant: Tree,
    counts: Tree,
    /// The catalogue, read (never written) so a newer update for a SKU still unknown keeps
    /// waiting instead of being refused once more.
    catalog: Tree,
    usage: Usage,
    wakeups: super::Wakeups,
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

type TxResult<T> = Result<T, super::backend::TxError>;

/// `record` without its `version`, for "is this what the platform already has".
fn content(record: &serde_json::Value) -> serde_json::Value {
    let mut r = record.clone();
    if let Some(o) = r.as_object_mut() {
        o.remove("version");
    }
    r
}

/// `parts` joined with NUL, and a NUL after: the prefix of every longer key under them.
fn prefix(parts: &[&str]) -> Result<Vec<u8>, StoreError> {
    let mut p = key(parts)?;
    p.push(0);
    Ok(p)
}

/// A due time as bytes that sort as the times do (negative ones first).
pub(super) fn time_be(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// The range of keys under `prefix` whose next 8 bytes are a time at or before `now_ms`.
pub(super) fn due_range(prefix: &[u8], now_ms: i64) -> (Vec<u8>, Vec<u8>) {
    let mut end = prefix.to_vec();
    end.extend_from_slice(&time_be(now_ms));
    end.extend_from_slice(&[0xff; 9]);
    (prefix.to_vec(), end)
}

/// Whether a record names the platform's own ids already (then there is nothing to wait for).
fn carries_ids(record: &serde_json::Value) -> bool {
    ["product_id", "sku_id"].iter().any(|k| record.get(k).is_some_and(|v| !v.is_null()))
}

/// Where `push` sits in the indexes: its due key, or its waiting key.
fn index_key(push: &Push) -> Result<(bool, Vec<u8>), StoreError> {
    match &push.waiting_for_sku {
        Some(sku) => {
            let mut k = prefix(&[&push.tenant, &push.shop, sku])?;
            k.extend_from_slice(&push.id.to_be_bytes());
            Ok((false, k))
        }
        None => {
            let mut k = prefix(&[&push.tenant, &push.shop, &push.module])?;
            k.extend_from_slice(&time_be(push.next_attempt_ms));
            k.extend_from_slice(&push.id.to_be_bytes());
            Ok((true, k))
        }
    }
}

/// The queue, its two indexes and its counts, inside one transaction: every change to the
/// queue goes through [`Queue::put`] and [`Queue::remove`], so none can drift from it.
struct Queue<'a> {
    q: &'a TxTree<'a>,
    due: &'a TxTree<'a>,
    waiting: &'a TxTree<'a>,
    counts: &'a TxTree<'a>,
}

fn count_of(v: Option<&[u8]>) -> u64 {
    v.and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_be_bytes)
}

impl Queue<'_> {
    /// One more (`up`) or one fewer update queued for `push`'s shop.
    fn count(&self, push: &Push, up: bool) -> TxResult<()> {
        let k = key(&[&push.tenant, &push.shop]).map_err(Abort)?;
        let n = count_of(self.counts.get(&k)?.as_deref());
        let n = if up { n + 1 } else { n.saturating_sub(1) };
        if n == 0 {
            self.counts.remove(k)?;
        } else {
            self.counts.insert(k, &n.to_be_bytes())?;
        }
        Ok(())
    }

    fn get(&self, k: &[u8]) -> TxResult<Option<Push>> {
        self.q.get(k)?.map(|v| decode(QUEUE, k, &v)).transpose().map_err(Abort)
    }

    fn unindex(&self, old: &Push) -> TxResult<()> {
        let (due, ik) = index_key(old).map_err(Abort)?;
        if due {
            self.due.discard(ik)?
        } else {
            self.waiting.discard(ik)?
        };
        Ok(())
    }

    /// Queues `push` under `k` (replacing what was there); the change in stored bytes.
    fn put(&self, k: &[u8], push: &Push) -> TxResult<i64> {
        match self.get(k)? {
            Some(old) => self.unindex(&old)?,
            None => self.count(push, true)?,
        }
        let change = tx_insert(self.q, k, &encode(push).map_err(Abort)?)?;
        let (due, ik) = index_key(push).map_err(Abort)?;
        if due {
            self.due.insert(ik, k)?
        } else {
            self.waiting.insert(ik, k)?
        };
        Ok(change)
    }

    /// Takes the update under `k` off the queue: what was there, and the change in stored bytes.
    fn remove(&self, k: &[u8]) -> TxResult<(Option<Push>, i64)> {
        let old = self.get(k)?;
        let mut change = 0;
        if let Some(old) = &old {
            self.unindex(old)?;
            self.count(old, false)?;
            change = tx_remove(self.q, k)?;
        }
        Ok((old, change))
    }

    /// Whether the entry under `k` is still the one read as `id`.
    fn current(&self, k: &[u8], id: u64) -> TxResult<Option<Push>> {
        Ok(self.get(k)?.filter(|p| p.id == id))
    }
}

impl Pushes {
    pub(super) fn new(db: &Db, usage: Usage, wakeups: super::Wakeups) -> Result<Self, StoreError> {
        Ok(Self {
            queue: db.open_tree(QUEUE)?,
            sent: db.open_tree(SENT)?,
            dead: db.open_tree(DEAD)?,
            refused: db.open_tree(REFUSED)?,
            due: db.open_tree(DUE)?,
            waiting: db.open_tree(WAITING)?,
            dead_by_tenant: db.open_tree(DEAD_BY_TENANT)?,
            counts: db.open_tree(COUNTS)?,
            catalog: db.open_tree(super::catalog::TREE)?,
            usage,
            wakeups,
        })
    }

    /// Builds the indexes again from the queue and the dead letters (a store written before
    /// they existed, see [`super::Store::open`]).
    pub(super) fn rebuild_indexes(&self) -> Result<(), StoreError> {
        self.due.clear()?;
        self.waiting.clear()?;
        self.dead_by_tenant.clear()?;
        self.counts.clear()?;
        let mut counts: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
        for entry in self.queue.iter() {
            let (k, v) = entry?;
            let push: Push = decode(QUEUE, &k, &v)?;
            let (due, ik) = index_key(&push)?;
            if due {
                self.due.insert(ik, k)?
            } else {
                self.waiting.insert(ik, k)?
            };
            *counts.entry(key(&[&push.tenant, &push.shop])?).or_default() += 1;
        }
        for (k, n) in counts {
            self.counts.insert(k, &n.to_be_bytes())?;
        }
        for entry in self.dead.iter() {
            let (k, v) = entry?;
            let letter: DeadPush = decode(DEAD, &k, &v)?;
            self.dead_by_tenant.insert(Self::dead_index_key(&letter.push.tenant, &k)?, Vec::<u8>::new())?;
        }
        Ok(())
    }

    fn item_key(tenant: &str, shop: &str, module: &str, item: &str) -> Result<Vec<u8>, StoreError> {
        key(&[tenant, shop, module, item])
    }

    fn dead_index_key(tenant: &str, id_be: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut k = prefix(&[tenant])?;
        k.extend_from_slice(id_be);
        Ok(k)
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
        let trees = (&self.queue, &self.sent, &self.due, &self.waiting, &self.counts, &self.catalog);
        let (outcome, change) =
            trees.transaction(|(q, s, due, waiting, counts, catalog)| -> TxResult<(Offer, i64)> {
                let queue = Queue { q, due, waiting, counts };
                let sent: Option<Sent> = s.get(&k)?.map(|v| decode(SENT, &k, &v)).transpose().map_err(Abort)?;
                let queued = queue.get(&k)?;
                if let Some(v) = new.version {
                    let newest = sent.as_ref().map(|s| s.version).max(queued.as_ref().map(|p| p.version));
                    if newest.is_some_and(|n| v <= n) {
                        return Ok((Offer::Stale, 0));
                    }
                }
                if let Some(confirmed) = sent.filter(|s| content(&s.record) == wanted) {
                    // The platform has this already; a different value still queued is outdated.
                    let mut change = queue.remove(&k)?.1;
                    if let Some(v) = new.version {
                        let bumped = Sent { version: v, record: confirmed.record };
                        change += tx_insert(s, &k, &encode(&bumped).map_err(Abort)?)?;
                    }
                    return Ok((Offer::Unchanged, change));
                }
                // A newer value for a SKU still unknown waits as the one it replaces did, unless
                // it carries the ids itself or the catalogue has learned some since.
                let (mut waiting_for_sku, mut last_error) = (None, None);
                if let Some(Push { waiting_for_sku: Some(sku), last_error: why, .. }) = queued
                    && !carries_ids(&new.record)
                    && catalog.get(key(&[new.tenant, new.shop, &sku]).map_err(Abort)?)?.is_none()
                {
                    (waiting_for_sku, last_error) = (Some(sku), why);
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
                    last_error,
                    enqueued_ms: now_ms,
                    waiting_for_sku,
                };
                let change = queue.put(&k, &push)?;
                Ok((Offer::Queued, change))
            })?;
        self.usage.add(new.tenant, change)?;
        if outcome == Offer::Queued {
            self.wakeups.wake_shop(new.tenant, new.shop);
        }
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
        let (again, change) = (&self.queue, &self.sent, &self.due, &self.waiting, &self.counts).transaction(
            |(q, s, due, waiting, counts)| -> TxResult<(bool, i64)> {
                let queue = Queue { q, due, waiting, counts };
                let Some(sent) = s.get(&k)? else { return Ok((false, 0)) };
                if q.get(&k)?.is_some() {
                    return Ok((false, 0));
                }
                let sent: Sent = decode(SENT, &k, &sent).map_err(Abort)?;
                // Forget the confirmation so the same content is not "unchanged" any more.
                let mut change = tx_remove(s, &k)?;
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
                    waiting_for_sku: None,
                };
                change += queue.put(&k, &push)?;
                Ok((true, change))
            },
        )?;
        self.usage.add(tenant, change)?;
        if again {
            self.wakeups.wake_shop(tenant, shop);
        }
        Ok(again)
    }

    /// Makes a queued update due at `now_ms` (a hold released, an override back on), without
    /// counting an attempt; `false` when nothing is queued for the item. An update waiting
    /// for its SKU's ids keeps waiting: nothing about them changed.
    pub fn wake(&self, tenant: &str, shop: &str, module: &str, item: &str, now_ms: i64) -> Result<bool, StoreError> {
        let k = Self::item_key(tenant, shop, module, item)?;
        let (woke, change) = (&self.queue, &self.due, &self.waiting, &self.counts).transaction(
            |(q, due, waiting, counts)| -> TxResult<(bool, i64)> {
                let queue = Queue { q, due, waiting, counts };
                let Some(push) = queue.get(&k)? else { return Ok((false, 0)) };
                let mut change = 0;
                if push.next_attempt_ms > now_ms && push.waiting_for_sku.is_none() {
                    change = queue.put(&k, &Push { next_attempt_ms: now_ms, ..push })?;
                }
                Ok((true, change))
            },
        )?;
        self.usage.add(tenant, change)?;
        if woke {
            self.wakeups.wake_shop(tenant, shop);
        }
        Ok(woke)
    }

    /// Up to `limit` of a shop's `module` updates due at `now_ms`, oldest due first: a range
    /// read of the due index, whatever else waits.
    pub fn due(
        &self,
        tenant: &str,
        shop: &str,
        module: &str,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<Push>, StoreError> {
        let (start, end) = due_range(&prefix(&[tenant, shop, module])?, now_ms);
        let mut out = Vec::new();
        for entry in self.due.range(start..end) {
            if out.len() == limit {
                break;
            }
            let (_, k) = entry?;
            if let Some(v) = self.queue.get(&k)? {
                out.push(decode(QUEUE, &k, &v)?);
            }
        }
        Ok(out)
    }

    /// Everything queued for a shop (every module), for progress lines and tests.
    pub fn pending(&self, tenant: &str, shop: &str) -> Result<Vec<Push>, StoreError> {
        self.queue.scan_prefix(prefix(&[tenant, shop])?).map(|e| e.and_then(|(k, v)| decode(QUEUE, &k, &v))).collect()
    }

    /// How many updates wait for a shop (due, later, or for ids): one read, whatever the
    /// backlog.
    pub fn pending_count(&self, tenant: &str, shop: &str) -> Result<usize, StoreError> {
        Ok(count_of(self.counts.get(key(&[tenant, shop])?)?.as_deref()) as usize)
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
        let change = (&self.queue, &self.sent, &self.due, &self.waiting, &self.counts).transaction(
            |(q, s, due, waiting, counts)| -> TxResult<i64> {
                let queue = Queue { q, due, waiting, counts };
                let mut change = 0;
                if queue.current(&k, push.id)?.is_some() {
                    change += queue.remove(&k)?.1;
                }
                let newer_confirmed = match s.get(&k)? {
                    Some(v) => decode::<Sent>(SENT, &k, &v).map_err(Abort)?.version > push.version,
                    None => false,
                };
                if !newer_confirmed {
                    change += tx_insert(s, &k, &sent)?;
                }
                Ok(change)
            },
        )?;
        self.usage.add(&push.tenant, change)?;
        Ok(())
    }

    /// Another attempt at `next_attempt_ms` (unless a newer update replaced this one);
    /// `counts` is false for waits that are not the update's fault (the platform throttling).
    pub fn retry_later(&self, push: &Push, next_attempt_ms: i64, reason: &str, counts: bool) -> Result<(), StoreError> {
        let k = Self::item_key(&push.tenant, &push.shop, &push.module, &push.item)?;
        let next = Push {
            attempts: push.attempts + u32::from(counts),
            next_attempt_ms,
            last_error: Some(reason.to_owned()),
            ..push.clone()
        };
        let change = (&self.queue, &self.due, &self.waiting, &self.counts).transaction(
            |(q, due, waiting, counts)| -> TxResult<i64> {
                let queue = Queue { q, due, waiting, counts };
                Ok(if queue.current(&k, push.id)?.is_some() { queue.put(&k, &next)? } else { 0 })
            },
        )?;
        self.usage.add(&push.tenant, change)?;
        Ok(())
    }

    /// Sets `push` aside until an order teaches the catalogue the platform's ids of `sku`
    /// (see [`Pushes::wake_sku`]), without counting an attempt; unless a newer update replaced
    /// it meanwhile. When the catalogue knows ids for the SKU already (learned while this one
    /// was on the wire, or not all the platform needs), no order is awaited: it is tried
    /// again at `recheck_ms` instead.
    pub fn wait_for_ids(&self, push: &Push, sku: &str, reason: &str, recheck_ms: i64) -> Result<(), StoreError> {
        let k = Self::item_key(&push.tenant, &push.shop, &push.module, &push.item)?;
        let ck = key(&[&push.tenant, &push.shop, sku])?;
        let waiting_for =
            Push { waiting_for_sku: Some(sku.to_owned()), last_error: Some(reason.to_owned()), ..push.clone() };
        let later = Push { next_attempt_ms: recheck_ms, last_error: Some(reason.to_owned()), ..push.clone() };
        let change = (&self.queue, &self.due, &self.waiting, &self.counts, &self.catalog).transaction(
            |(q, due, waiting, counts, catalog)| -> TxResult<i64> {
                let queue = Queue { q, due, waiting, counts };
                if queue.current(&k, push.id)?.is_none() {
                    return Ok(0);
                }
                queue.put(&k, if catalog.get(&ck)?.is_none() { &waiting_for } else { &later })
            },
        )?;
        self.usage.add(&push.tenant, change)?;
        Ok(())
    }

    /// Makes every update of a shop that waits for the ids of `sku` due again (due since it
    /// was queued, so it goes before younger ones): an order just taught them. How many.
    pub fn wake_sku(&self, tenant: &str, shop: &str, sku: &str) -> Result<usize, StoreError> {
        let mut woken = 0;
        for entry in self.waiting.scan_prefix(prefix(&[tenant, shop, sku])?) {
            let (_, k) = entry?;
            let (n, change) = (&self.queue, &self.due, &self.waiting, &self.counts).transaction(
                |(q, due, waiting, counts)| -> TxResult<(usize, i64)> {
                    let queue = Queue { q, due, waiting, counts };
                    let Some(push) = queue.get(&k)?.filter(|p| p.waiting_for_sku.is_some()) else { return Ok((0, 0)) };
                    let next_attempt_ms = push.enqueued_ms;
                    Ok((1, queue.put(&k, &Push { waiting_for_sku: None, next_attempt_ms, ..push })?))
                },
            )?;
            self.usage.add(tenant, change)?;
            woken += n;
        }
        if woken > 0 {
            self.wakeups.wake_shop(tenant, shop);
        }
        Ok(woken)
    }

    /// The index range a filter covers, and the SKU to match when only a SKU is given (the
    /// index is by shop first).
    fn waiting_prefix<'f>(tenant: &str, filter: &'f WaitingFilter) -> Result<(Vec<u8>, Option<&'f str>), StoreError> {
        Ok(match (&filter.shop, &filter.sku) {
            (Some(shop), Some(sku)) => (prefix(&[tenant, shop, sku])?, None),
            (Some(shop), None) => (prefix(&[tenant, shop])?, None),
            (None, sku) => (prefix(&[tenant])?, sku.as_deref()),
        })
    }

    /// Whether waiting index key `ik` (under `tenant \0`) is for `sku`.
    fn sku_is(ik: &[u8], tenant_prefix: usize, sku: Option<&str>) -> bool {
        let Some(sku) = sku else { return true };
        let rest = &ik[tenant_prefix.min(ik.len())..];
        rest.split(|b| *b == 0).nth(1) == Some(sku.as_bytes())
    }

    /// One page of `tenant`'s updates waiting for platform ids matching `filter`, by shop, SKU
    /// and age; `cursor` from the previous page's `next_cursor`.
    pub fn waiting(
        &self,
        tenant: &str,
        filter: &WaitingFilter,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<WaitingPage, StoreError> {
        let limit = limit.unwrap_or(DEFAULT_WAITING_PAGE).clamp(1, MAX_WAITING_PAGE);
        let (scope, sku) = Self::waiting_prefix(tenant, filter)?;
        let tenant_len = prefix(&[tenant])?.len();
        let start = match cursor {
            None => scope.clone(),
            Some(c) => {
                let mut after = hex::decode(c)
                    .ok()
                    .filter(|a| a.starts_with(&scope))
                    .ok_or_else(|| StoreError::Invalid(format!("cursor {c:?} is not one this listing wrote")))?;
                after.push(0); // strictly after
                after
            }
        };
        let mut updates = Vec::new();
        let mut last = None;
        for entry in self.waiting.range(start..) {
            let (ik, k) = entry?;
            if !ik.starts_with(&scope) {
                break;
            }
            if !Self::sku_is(&ik, tenant_len, sku) {
                continue;
            }
            if updates.len() == limit {
                return Ok(WaitingPage { updates, next_cursor: last.map(hex::encode) });
            }
            if let Some(v) = self.queue.get(&k)? {
                updates.push(decode(QUEUE, &k, &v)?);
                last = Some(ik);
            }
        }
        Ok(WaitingPage { updates, next_cursor: None })
    }

    /// Drops `tenant`'s updates waiting for platform ids matching `filter` for good (the ERP's
    /// next value for such a SKU queues again). How many.
    pub fn purge_waiting(&self, tenant: &str, filter: &WaitingFilter) -> Result<usize, StoreError> {
        let (scope, sku) = Self::waiting_prefix(tenant, filter)?;
        let tenant_len = prefix(&[tenant])?.len();
        let mut purged = 0;
        loop {
            let mut chunk = Vec::with_capacity(PURGE_CHUNK);
            for entry in self.waiting.scan_prefix(&scope) {
                let (ik, k) = entry?;
                if Self::sku_is(&ik, tenant_len, sku) {
                    chunk.push(k);
                    if chunk.len() == PURGE_CHUNK {
                        break;
                    }
                }
            }
            if chunk.is_empty() {
                return Ok(purged);
            }
            let (n, change) = (&self.queue, &self.due, &self.waiting, &self.counts).transaction(
                |(q, due, waiting, counts)| -> TxResult<(usize, i64)> {
                    let queue = Queue { q, due, waiting, counts };
                    let (mut n, mut change) = (0, 0);
                    for k in &chunk {
                        if queue.get(k)?.is_some_and(|p| p.waiting_for_sku.is_some()) {
                            change += queue.remove(k)?.1;
                            n += 1;
                        }
                    }
                    Ok((n, change))
                },
            )?;
            self.usage.add(tenant, change)?;
            purged += n;
        }
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
        let dk = push.id.to_be_bytes();
        let tk = Self::dead_index_key(&push.tenant, &dk)?;
        let trees =
            (&self.queue, &self.due, &self.waiting, &self.counts, &self.dead, &self.refused, &self.dead_by_tenant);
        let change = trees.transaction(|(q, due, waiting, counts, d, r, t)| -> TxResult<i64> {
            let queue = Queue { q, due, waiting, counts };
            let mut change = 0;
            if queue.current(&k, push.id)?.is_some() {
                change += queue.remove(&k)?.1;
                change += tx_insert(d, &dk, &letter)?;
                t.insert(tk.clone(), Vec::<u8>::new())?;
                change += tx_insert(r, &k, &refused)?;
            }
            Ok(change)
        })?;
        self.usage.add(&push.tenant, change)?;
        Ok(())
    }

    /// `tenant`'s dead pushes, oldest first: a range read of the tenant's index.
    pub fn dead_letters(&self, tenant: &str) -> Result<Vec<DeadPush>, StoreError> {
        let p = prefix(&[tenant])?;
        let mut out = Vec::new();
        for entry in self.dead_by_tenant.scan_prefix(&p) {
            let (ik, _) = entry?;
            let dk = &ik[p.len()..];
            if let Some(v) = self.dead.get(dk)? {
                out.push(decode(DEAD, dk, &v)?);
            }
        }
        Ok(out)
    }

    fn letter_of(&self, tenant: &str, id: u64) -> Result<Option<DeadPush>, StoreError> {
        let dk = id.to_be_bytes();
        let Some(v) = self.dead.get(dk)? else { return Ok(None) };
        let letter: DeadPush = decode(DEAD, &dk, &v)?;
        Ok((letter.push.tenant == tenant).then_some(letter))
    }

    /// Puts `tenant`'s dead push `id` back in its queue, due at `now_ms`, attempts reset; when
    /// a newer update for the same item is queued or was confirmed since, that one wins and
    /// the letter is dropped.
    /// `false` when there is no such letter for this tenant.
    pub fn replay(&self, tenant: &str, id: u64, now_ms: i64) -> Result<bool, StoreError> {
        let Some(letter) = self.letter_of(tenant, id)? else { return Ok(false) };
        let dk = id.to_be_bytes();
        let tk = Self::dead_index_key(tenant, &dk)?;
        let p = &letter.push;
        let k = Self::item_key(&p.tenant, &p.shop, &p.module, &p.item)?;
        let trees = (
            &self.queue,
            &self.due,
            &self.waiting,
            &self.counts,
            &self.dead,
            &self.refused,
            &self.sent,
            &self.dead_by_tenant,
        );
        let change = trees.transaction(|(q, due, waiting, counts, d, r, s, t)| -> TxResult<i64> {
            let queue = Queue { q, due, waiting, counts };
            let mut change = tx_remove(d, &dk)?;
            t.discard(&tk)?;
            change += tx_remove(r, &k)?;
            let superseded = match s.get(&k)? {
                Some(v) => decode::<Sent>(SENT, &k, &v).map_err(Abort)?.version >= letter.push.version,
                None => false,
            };
            if q.get(&k)?.is_none() && !superseded {
                let id = q.generate_id()?;
                let again = Push {
                    id,
                    attempts: 0,
                    next_attempt_ms: now_ms,
                    last_error: None,
                    waiting_for_sku: None,
                    ..letter.push.clone()
                };
                change += queue.put(&k, &again)?;
            }
            Ok(change)
        })?;
        self.usage.add(tenant, change)?;
        self.wakeups.wake_shop(tenant, &letter.push.shop);
        Ok(true)
    }

    /// Entries in the due index, the waiting index and the dead letters' tenant index: every
    /// queued update is in exactly one of the first two.
    #[cfg(test)]
    pub(crate) fn index_sizes(&self) -> (usize, usize, usize) {
        let counted: u64 = self.counts.iter().values().map(|v| count_of(v.ok().as_deref())).sum();
        assert_eq!(counted as usize, self.queue.len().unwrap(), "the counts add up to the queue");
        (self.due.len().unwrap(), self.waiting.len().unwrap(), self.dead_by_tenant.len().unwrap())
    }

    /// Drops `tenant`'s dead push `id` for good; `false` when there is none.
    pub fn discard(&self, tenant: &str, id: u64) -> Result<bool, StoreError> {
        if self.letter_of(tenant, id)?.is_none() {
            return Ok(false);
        }
        let dk = id.to_be_bytes();
        let tk = Self::dead_index_key(tenant, &dk)?;
        let gone = (&self.dead, &self.dead_by_tenant).transaction(|(d, t)| {
            let gone = d.remove(&dk[..])?;
            t.discard(&tk)?;
            Ok::<_, super::backend::TxError>(gone)
        })?;
        self.usage.add(tenant, delta(&dk, gone.as_deref(), None))?;
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
    fn a_queue_is_keyed_by_its_stored_name_and_shown_by_its_current_one() {
        let store = Store::temporary().unwrap();
        let p = store.pushes();
        let new = NewPush { module: "price", item: "A", version: None, ..stock("A", 1, 0) };
        assert_eq!(p.offer(new, 10).unwrap(), Offer::Queued);
        let due = p.due("acme", "tb", "price", 10, 10).unwrap();
        assert_eq!((due[0].module.as_str(), due[0].module_name()), ("price", "prices"));
        let json = serde_json::to_value(&due[0]).unwrap();
        assert_eq!(json["module"], "prices");
        assert_eq!(serde_json::from_value::<Push>(json).unwrap(), due[0], "read back into the stored name");
        let mut first_release = serde_json::to_value(&due[0]).unwrap();
        first_release["module"] = json!("price");
        assert_eq!(serde_json::from_value::<Push>(first_release).unwrap(), due[0]);
        let hold = Push { module: "hold".into(), ..due[0].clone() };
        assert_eq!(serde_json::to_value(&hold).unwrap()["module"], "hold");
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

    fn stock_for<'a>(tenant: &'a str, shop: &'a str, sku: &'a str, version: u64) -> NewPush<'a> {
        NewPush { tenant, shop, ..stock(sku, 1, version) }
    }

    /// An order of `shop` whose one line shows the platform's ids of `sku`.
    fn order_showing(shop: &str, sku: &str) -> crate::model::Order {
        let mut o = crate::store::orders::tests::order("9", crate::model::OrderStatus::Paid, 0);
        o.shop_id = shop.to_owned();
        o.lines.push(
            serde_json::from_value(json!({
                "line_id": "1", "product_id": format!("P-{sku}"), "sku_id": format!("S-{sku}"), "outer_sku_id": sku,
                "title": "t", "quantity": 1, "unit_price": 1, "discount": 0, "line_total": 1, "refund_status": "none"
            }))
            .unwrap(),
        );
        o
    }

    #[test]
    fn due_reads_are_in_due_order_per_tenant_and_shop() {
        let store = Store::temporary().unwrap();
        let p = store.pushes();
        for (sku, at) in [("C", 30), ("A", 10), ("B", 20)] {
            p.offer(stock(sku, 1, 1), at).unwrap();
        }
        p.offer(stock_for("other", "tb", "Z", 1), 0).unwrap();
        p.offer(stock_for("acme", "jd", "Y", 1), 0).unwrap();
        let items =
            |now| p.due("acme", "tb", "stock", now, 10).unwrap().into_iter().map(|p| p.item).collect::<Vec<_>>();
        assert_eq!(items(30), ["A", "B", "C"], "oldest due first, no other tenant's or shop's");
        assert_eq!(items(15), ["A"], "not before its time");
        assert_eq!(p.due("acme", "tb", "stock", 30, 2).unwrap().len(), 2, "at most the limit");
        let a = p.due("acme", "tb", "stock", 30, 1).unwrap().remove(0);
        p.retry_later(&a, 25, "503", true).unwrap();
        assert_eq!(items(30), ["B", "A", "C"], "moved to its new due time");
        assert_eq!(items(i64::MAX), ["B", "A", "C"]);
        assert_eq!(p.due("other", "tb", "stock", 30, 10).unwrap().len(), 1);
        assert!(p.due("acme", "tb", "price", 30, 10).unwrap().is_empty(), "per module");
        assert!(p.offer(stock_for("a\0b", "tb", "A", 1), 0).is_err(), "no NUL in a key part");
    }

    #[test]
    fn the_indexes_follow_every_change() {
        let store = Store::temporary().unwrap();
        let held = store.pushes();
        let p: &Pushes = &held;
        let queued = |p: &Pushes| p.queue.len().unwrap();
        p.offer(stock("A", 1, 1), 0).unwrap();
        p.offer(stock("A", 2, 2), 0).unwrap(); // replaces
        p.offer(stock("B", 1, 1), 0).unwrap();
        assert_eq!((queued(p), p.index_sizes()), (2, (2, 0, 0)));
        let due = p.due("acme", "tb", "stock", 0, 10).unwrap();
        p.confirm(&due[0]).unwrap();
        assert_eq!((queued(p), p.index_sizes()), (1, (1, 0, 0)));
        p.wait_for_ids(&due[1], "B", "no ids", i64::MAX).unwrap();
        assert_eq!((queued(p), p.index_sizes()), (1, (0, 1, 0)));
        let waiting = p.waiting("acme", &WaitingFilter::default(), None, None).unwrap().updates.remove(0);
        p.dead_letter(&waiting, "gone", 5).unwrap();
        assert_eq!((queued(p), p.index_sizes()), (0, (0, 0, 1)));
        let id = p.dead_letters("acme").unwrap()[0].push.id;
        assert!(p.replay("acme", id, 6).unwrap());
        assert_eq!((queued(p), p.index_sizes()), (1, (1, 0, 0)), "replayed: due, not waiting");
        let again = p.due("acme", "tb", "stock", 6, 10).unwrap().remove(0);
        p.dead_letter(&again, "gone", 7).unwrap();
        let id = p.dead_letters("acme").unwrap()[0].push.id;
        assert!(p.discard("acme", id).unwrap());
        assert_eq!((queued(p), p.index_sizes()), (0, (0, 0, 0)));
        p.offer(stock("C", 1, 1), 0).unwrap();
        p.confirm(&p.due("acme", "tb", "stock", 0, 10).unwrap()[0]).unwrap();
        assert!(p.offer_confirmed_again("acme", "tb", "stock", "C", 9).unwrap());
        assert!(p.wake("acme", "tb", "stock", "C", 9).unwrap());
        assert_eq!((queued(p), p.index_sizes()), (1, (1, 0, 0)));
    }

    #[test]
    fn updates_waiting_for_ids_are_never_due_until_an_order_teaches_them() {
        let store = Store::temporary().unwrap();
        let p = store.pushes();
        for sku in ["A", "B"] {
            p.offer(stock(sku, 1, 1), 0).unwrap();
        }
        p.offer(stock_for("acme", "jd", "A", 1), 0).unwrap();
        for push in
            p.due("acme", "tb", "stock", 0, 10).unwrap().into_iter().chain(p.due("acme", "jd", "stock", 0, 10).unwrap())
        {
            let sku = push.item.clone();
            p.wait_for_ids(&push, &sku, "no ids", i64::MAX).unwrap();
        }
        assert!(p.due("acme", "tb", "stock", i64::MAX, 10).unwrap().is_empty(), "waiting is never due");
        assert_eq!(p.pending_count("acme", "tb").unwrap(), 2, "still owed");
        assert_eq!(p.offer(stock("A", 5, 2), 3).unwrap(), Offer::Queued);
        let a =
            p.waiting("acme", &WaitingFilter { shop: Some("tb".into()), sku: Some("A".into()) }, None, None).unwrap();
        assert_eq!(
            (a.updates.len(), a.updates[0].record["quantity"].as_u64(), a.updates[0].waiting_for_sku.as_deref()),
            (1, Some(5), Some("A")),
            "a newer value for a SKU still unknown waits in its place"
        );
        assert_eq!(a.updates[0].last_error.as_deref(), Some("no ids"), "with the reason it waits");
        let mut with_ids = stock("B", 6, 2);
        with_ids.record["product_id"] = json!("P-B");
        p.offer(with_ids, 3).unwrap();
        assert_eq!(p.due("acme", "tb", "stock", 3, 10).unwrap().len(), 1, "one that carries ids is due");

        // An order of shop tb shows A: tb's A is due again, from when it was queued; jd's waits.
        store.catalog().learn("acme", &order_showing("tb", "A")).unwrap();
        let due = p.due("acme", "tb", "stock", 3, 10).unwrap();
        assert_eq!(due.iter().map(|p| p.item.as_str()).collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(due[0].next_attempt_ms, 3);
        assert_eq!(p.waiting("acme", &WaitingFilter::default(), None, None).unwrap().updates.len(), 1);
        assert_eq!(p.offer(stock("A", 7, 3), 4).unwrap(), Offer::Queued);
        p.wait_for_ids(&due[0], "A", "no ids", i64::MAX).unwrap();
        assert_eq!(p.due("acme", "tb", "stock", 4, 10).unwrap().len(), 2, "a replaced update does not wait");
        let newest = p.due("acme", "tb", "stock", 4, 10).unwrap().into_iter().find(|p| p.item == "A").unwrap();
        p.wait_for_ids(&newest, "A", "no ids", 60).unwrap();
        let due = |now| p.due("acme", "tb", "stock", now, 10).unwrap().into_iter().map(|p| p.item).collect::<Vec<_>>();
        assert_eq!(
            (due(4), due(60)),
            (vec!["B".to_owned()], vec!["B".to_owned(), "A".to_owned()]),
            "the catalogue knows A: tried again later, not set aside"
        );
    }

    #[test]
    fn waiting_updates_list_in_pages_and_purge_by_shop_sku_or_all() {
        let store = Store::temporary().unwrap();
        let p = store.pushes();
        let skus: Vec<String> = (0..25).map(|i| format!("SKU-{i:02}")).collect();
        for shop in ["tb", "jd"] {
            for sku in &skus {
                p.offer(stock_for("acme", shop, sku, 1), 0).unwrap();
            }
            for push in p.due("acme", shop, "stock", 0, 100).unwrap() {
                let sku = push.item.clone();
                p.wait_for_ids(&push, &sku, "no ids", i64::MAX).unwrap();
            }
        }
        p.offer(stock_for("other", "tb", "SKU-00", 1), 0).unwrap();
        let other = p.due("other", "tb", "stock", 0, 10).unwrap().remove(0);
        p.wait_for_ids(&other, "SKU-00", "no ids", i64::MAX).unwrap();

        let all = WaitingFilter::default();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = p.waiting("acme", &all, Some(20), cursor.as_deref()).unwrap();
            seen.extend(page.updates.into_iter().map(|u| (u.shop, u.item)));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen.len(), 50, "every page, no other tenant's");
        assert_eq!(seen.iter().collect::<std::collections::BTreeSet<_>>().len(), 50, "none twice");
        assert!(p.waiting("acme", &all, None, Some("zz")).is_err(), "a cursor this listing did not write");
        let by_sku = WaitingFilter { shop: None, sku: Some("SKU-03".into()) };
        assert_eq!(p.waiting("acme", &by_sku, None, None).unwrap().updates.len(), 2, "in every shop");

        assert_eq!(p.purge_waiting("acme", &by_sku).unwrap(), 2);
        assert_eq!(p.purge_waiting("acme", &WaitingFilter { shop: Some("jd".into()), sku: None }).unwrap(), 24);
        assert_eq!(p.purge_waiting("acme", &all).unwrap(), 24);
        assert_eq!((p.pending_count("acme", "tb").unwrap(), p.pending_count("acme", "jd").unwrap()), (0, 0));
        assert_eq!(p.waiting("other", &all, None, None).unwrap().updates.len(), 1, "another tenant's stays");
        assert_eq!(p.index_sizes(), (0, 1, 0));
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
