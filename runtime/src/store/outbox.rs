//! Deliveries owed to ERPs, their retries, and the dead-letter queue.
//!
//! A delivery is enqueued in the same transaction that stores the order version it carries
//! ([`super::Store::record_order`]), so a crash between the two cannot lose it. It leaves the
//! queue only when delivered, superseded by a newer version of its order (that version has
//! its own delivery), or dead-lettered with its reason; a dead letter can be replayed.
//!
//! Deliveries are keyed by id; what the loops read goes through indexes kept in the same
//! transactions: `tenant \0 route \0 due_be id_be` for what is due (each tenant's loop reads
//! its own range, so another tenant's backlog is never in its way), and `tenant \0 id_be` for
//! the dead letters.

use super::backend::Transactional as _;
use super::backend::TxError::Abort;
use super::backend::TxTree;
use super::backend::{Db, Tree};
use serde::{Deserialize, Serialize};

use super::orders::{self, AckOutcome, OrderBook, OrderKey, Upsert};
use super::pushes::{due_range, time_be};
use super::quarantine::{self, Quarantine};
use super::usage::{Usage, delta};
use super::{Store, StoreError, key};
use crate::model::{AfterSale, Order, Timestamp};

pub(super) const QUEUE: &str = "outbox";
pub(super) const DEAD: &str = "dead_letters";
/// Index: `tenant \0 route \0 due_be id_be` → the order's shop, for every queued delivery
/// (so what a shop is owed is counted without reading the deliveries).
pub(super) const DUE: &str = "outbox_due";
/// Index: `tenant \0 id_be` → nothing, for every dead letter.
pub(super) const DEAD_BY_TENANT: &str = "dead_letters_by_tenant";

/// Deliveries a tenant takes in its turn of a drain over several tenants
/// ([`Outbox::due_round_robin`]): one ERP plugin batch's worth of webhook POSTs, so a tenant
/// with a backlog of thousands waits its turn like one with a handful.
pub const TURN: usize = 20;

/// One delivery owed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Unique, and grows with enqueue order.
    pub id: u64,
    pub tenant: String,
    /// Which route delivers it (`webhook`, an ERP plugin's name…).
    pub route: String,
    /// What it carries: an order version, or an after-sale version.
    #[serde(default, skip_serializing_if = "Carries::is_order")]
    pub carries: Carries,
    /// The record's platform, shop and id: an order id, or an after-sale id when it
    /// [`Carries::AfterSale`].
    pub key: OrderKey,
    pub version: u64,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this instant (UTC ms).
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub enqueued_ms: i64,
}

/// What a delivery carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Carries {
    #[default]
    Order,
    AfterSale,
}

impl Carries {
    fn is_order(&self) -> bool {
        *self == Carries::Order
    }
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
    queue: Tree,
    dead: Tree,
    due: Tree,
    dead_by_tenant: Tree,
    usage: Usage,
    wakeups: super::Wakeups,
}

fn decode<T: for<'de> Deserialize<'de>>(tree: &'static str, k: &[u8], v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt { tree, key: hex::encode(k), reason: e.to_string() })
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

type TxResult<T> = Result<T, super::backend::TxError>;

/// `tenant \0 route \0`: where a tenant's deliveries on a route sit in the due index.
fn route_prefix(tenant: &str, route: &str) -> Result<Vec<u8>, StoreError> {
    let mut p = key(&[tenant, route])?;
    p.push(0);
    Ok(p)
}

fn due_key(d: &Delivery) -> Result<Vec<u8>, StoreError> {
    let mut k = route_prefix(&d.tenant, &d.route)?;
    k.extend_from_slice(&time_be(d.next_attempt_ms));
    k.extend_from_slice(&d.id.to_be_bytes());
    Ok(k)
}

/// The queue's keys of `deliveries` (their ids, big-endian), for a transaction to prefetch.
fn id_keys<'d>(deliveries: impl Iterator<Item = &'d Delivery>) -> Vec<[u8; 8]> {
    deliveries.map(|d| d.id.to_be_bytes()).collect()
}

fn dead_key(tenant: &str, id: u64) -> Result<Vec<u8>, StoreError> {
    let mut k = key(&[tenant])?;
    k.push(0);
    k.extend_from_slice(&id.to_be_bytes());
    Ok(k)
}

/// What a new version owes, and to which route.
struct Owed<'a> {
    tenant: &'a str,
    route: &'a str,
    carries: Carries,
    key: OrderKey,
}

/// The queue and its due index inside one transaction. Writes answer the change they made in
/// the tenant's stored bytes ([`delta`]; the index is not counted).
struct Queue<'a> {
    q: &'a TxTree<'a>,
    due: &'a TxTree<'a>,
}

impl Queue<'_> {
    fn put(&self, d: &Delivery) -> TxResult<i64> {
        let k = d.id.to_be_bytes();
        let bytes = encode(d).map_err(Abort)?;
        let old = self.q.insert(k, &bytes[..])?;
        if let Some(old) = &old {
            let old: Delivery = decode(QUEUE, &k, old).map_err(Abort)?;
            self.due.discard(due_key(&old).map_err(Abort)?)?;
        }
        self.due.insert(due_key(d).map_err(Abort)?, d.key.shop_id.as_bytes())?;
        Ok(delta(&k, old.as_deref(), Some(&bytes)))
    }

    /// A first delivery of `version` of what `owed` names, due at once.
    fn owe(&self, owed: Owed<'_>, version: u64, now: Timestamp) -> TxResult<i64> {
        let delivery = Delivery {
            id: self.q.generate_id()?,
            tenant: owed.tenant.to_owned(),
            route: owed.route.to_owned(),
            carries: owed.carries,
            key: owed.key,
            version,
            attempts: 0,
            next_attempt_ms: now.0,
            last_error: None,
            enqueued_ms: now.0,
        };
        self.put(&delivery)
    }

    fn remove(&self, id: u64) -> TxResult<(Option<Delivery>, i64)> {
        let k = id.to_be_bytes();
        let Some(old) = self.q.remove(k)? else { return Ok((None, 0)) };
        let d: Delivery = decode(QUEUE, &k, &old).map_err(Abort)?;
        self.due.discard(due_key(&d).map_err(Abort)?)?;
        Ok((Some(d), delta(&k, Some(&old), None)))
    }
}

impl Outbox {
    pub(super) fn new(db: &Db, usage: Usage, wakeups: super::Wakeups) -> Result<Self, StoreError> {
        Ok(Self {
            queue: db.open_tree(QUEUE)?,
            dead: db.open_tree(DEAD)?,
            due: db.open_tree(DUE)?,
            dead_by_tenant: db.open_tree(DEAD_BY_TENANT)?,
            usage,
            wakeups,
        })
    }

    /// Builds the indexes again from the queue and the dead letters (a store written before
    /// they existed, see [`super::Store::open`]).
    pub(super) fn rebuild_indexes(&self) -> Result<(), StoreError> {
        self.due.clear()?;
        self.dead_by_tenant.clear()?;
        for entry in self.queue.iter() {
            let (k, v) = entry?;
            let d: Delivery = decode(QUEUE, &k, &v)?;
            self.due.insert(due_key(&d)?, d.key.shop_id.as_bytes())?;
        }
        for entry in self.dead.iter() {
            let (k, v) = entry?;
            let letter: DeadLetter = decode(DEAD, &k, &v)?;
            self.dead_by_tenant.insert(dead_key(&letter.delivery.tenant, letter.delivery.id)?, Vec::<u8>::new())?;
        }
        Ok(())
    }

    /// `tenant`'s deliveries on `route` due at `now_ms`, oldest due first, at most `limit`: a
    /// range read of the tenant's due index.
    pub fn due(&self, tenant: &str, route: &str, now_ms: i64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let (start, end) = due_range(&route_prefix(tenant, route)?, now_ms);
        let mut out = Vec::new();
        for entry in self.due.range(start..end).keys() {
            if out.len() == limit {
                break;
            }
            let ik = entry?;
            let Some(id) = ik.len().checked_sub(8).and_then(|at| <[u8; 8]>::try_from(&ik[at..]).ok()) else { continue };
            if let Some(v) = self.queue.get(id)? {
                out.push(decode(QUEUE, &id, &v)?);
            }
        }
        Ok(out)
    }

    /// The tenants with deliveries queued (due or not), from the due index: one read per
    /// tenant, however many each has.
    pub fn tenants(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        while let Some(entry) = self.due.range(from.clone()..).keys().next() {
            let k = entry?;
            let end = k.iter().position(|b| *b == 0).unwrap_or(k.len());
            let tenant = String::from_utf8_lossy(&k[..end]).into_owned();
            from = k[..end].to_vec();
            from.push(1); // past every `tenant \0 …`
            out.push(tenant);
        }
        Ok(out)
    }

    /// Deliveries on `route` due at `now_ms` across every tenant, at most `limit`, taken in
    /// turns of [`TURN`] per tenant, round-robin: one tenant's backlog cannot push another's
    /// deliveries out of a drain.
    pub fn due_round_robin(&self, route: &str, now_ms: i64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let mut queues: Vec<std::collections::VecDeque<Delivery>> = Vec::new();
        for tenant in self.tenants()? {
            let due = self.due(&tenant, route, now_ms, limit)?;
            if !due.is_empty() {
                queues.push(due.into());
            }
        }
        let mut out = Vec::new();
        while out.len() < limit && queues.iter().any(|q| !q.is_empty()) {
            for q in &mut queues {
                let take = TURN.min(q.len()).min(limit - out.len());
                out.extend(q.drain(..take));
            }
        }
        Ok(out)
    }

    /// Everything queued (for progress lines and tests).
    pub fn pending(&self) -> Result<Vec<Delivery>, StoreError> {
        self.queue.iter().map(|e| e.and_then(|(k, v)| decode(QUEUE, &k, &v))).collect()
    }

    /// How many deliveries are queued for `tenant`, due or not, per shop: a range read of its
    /// index, nothing decoded.
    pub fn pending_by_shop(&self, tenant: &str) -> Result<std::collections::HashMap<String, usize>, StoreError> {
        let mut p = key(&[tenant])?;
        p.push(0);
        let mut out = std::collections::HashMap::new();
        for entry in self.due.scan_prefix(&p).values() {
            *out.entry(String::from_utf8_lossy(&entry?).into_owned()).or_default() += 1;
        }
        Ok(out)
    }

    /// Done: delivered, or superseded by a newer version.
    pub fn remove(&self, id: u64) -> Result<(), StoreError> {
        let gone = (&self.queue, &self.due).transaction(|(q, due)| Queue { q, due }.remove(id))?;
        if let (Some(d), change) = gone {
            self.usage.add(&d.tenant, change)?;
        }
        Ok(())
    }

    /// Another attempt at `next_attempt_ms`, remembering why this one failed.
    pub fn retry_later(&self, delivery: &Delivery, next_attempt_ms: i64, reason: &str) -> Result<(), StoreError> {
        self.retry_later_together(&[(delivery, next_attempt_ms)], reason)
    }

    /// [`Outbox::retry_later`] for deliveries that failed together (the events of one batched
    /// POST), each at its own time, in one transaction: a batch of 100 refused with a 503 was
    /// 100 commits.
    pub fn retry_later_together(&self, retries: &[(&Delivery, i64)], reason: &str) -> Result<(), StoreError> {
        let next: Vec<Delivery> = retries
            .iter()
            .map(|(delivery, next_attempt_ms)| Delivery {
                attempts: delivery.attempts + 1,
                next_attempt_ms: *next_attempt_ms,
                last_error: Some(reason.to_owned()),
                ..(*delivery).clone()
            })
            .collect();
        let ids = id_keys(next.iter());
        let ids: Vec<&[u8]> = ids.iter().map(<[u8; 8]>::as_slice).collect();
        let changes = (&self.queue, &self.due).transaction(|(q, due)| {
            q.prefetch(&ids)?;
            next.iter().map(|d| Queue { q, due }.put(d)).collect::<TxResult<Vec<i64>>>()
        })?;
        self.usage.add_each(next.iter().map(|d| d.tenant.as_str()).zip(changes))
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
        let tk = dead_key(&delivery.tenant, delivery.id)?;
        let change = (&self.queue, &self.due, &self.dead, &self.dead_by_tenant).transaction(
            |(q, due, d, t)| -> TxResult<i64> {
                let (_, gone) = Queue { q, due }.remove(delivery.id)?;
                let replaced = d.insert(id, bytes.clone())?;
                t.insert(tk.clone(), Vec::<u8>::new())?;
                Ok(gone + delta(&id, replaced.as_deref(), Some(&bytes)))
            },
        )?;
        self.usage.add(&delivery.tenant, change)?;
        Ok(())
    }

    /// `tenant`'s dead letters, oldest first: a range read of the tenant's index.
    pub fn dead_letters(&self, tenant: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let mut p = key(&[tenant])?;
        p.push(0);
        let mut out = Vec::new();
        for entry in self.dead_by_tenant.scan_prefix(&p).keys() {
            let ik = entry?;
            let dk = &ik[p.len()..];
            if let Some(v) = self.dead.get(dk)? {
                out.push(decode(DEAD, dk, &v)?);
            }
        }
        Ok(out)
    }

    fn letter_of(&self, tenant: &str, id: u64) -> Result<Option<DeadLetter>, StoreError> {
        let k = id.to_be_bytes();
        let Some(v) = self.dead.get(k)? else { return Ok(None) };
        let letter: DeadLetter = decode(DEAD, &k, &v)?;
        Ok((letter.delivery.tenant == tenant).then_some(letter))
    }

    /// Puts `tenant`'s dead letter `id` back in the queue, due at `now_ms`, attempts reset.
    /// `false` when there is no such letter for this tenant.
    pub fn replay(&self, tenant: &str, id: u64, now_ms: i64) -> Result<bool, StoreError> {
        let Some(letter) = self.letter_of(tenant, id)? else { return Ok(false) };
        let k = id.to_be_bytes();
        let tk = dead_key(tenant, id)?;
        let again = Delivery { attempts: 0, next_attempt_ms: now_ms, ..letter.delivery };
        let change = (&self.queue, &self.due, &self.dead, &self.dead_by_tenant).transaction(
            |(q, due, d, t)| -> TxResult<i64> {
                let gone = d.remove(k)?;
                t.discard(&tk)?;
                Ok(delta(&k, gone.as_deref(), None) + Queue { q, due }.put(&again)?)
            },
        )?;
        self.usage.add(tenant, change)?;
        self.wakeups.wake_deliveries(tenant);
        Ok(true)
    }

    /// Drops `tenant`'s dead letter `id` for good (the caller audits why). `false` when there
    /// is no such letter for this tenant.
    pub fn discard(&self, tenant: &str, id: u64) -> Result<bool, StoreError> {
        if self.letter_of(tenant, id)?.is_none() {
            return Ok(false);
        }
        let k = id.to_be_bytes();
        let tk = dead_key(tenant, id)?;
        let gone =
            (&self.dead, &self.dead_by_tenant).transaction(|(d, t)| -> TxResult<Option<super::backend::Bytes>> {
                let gone = d.remove(k)?;
                t.discard(&tk)?;
                Ok(gone)
            })?;
        self.usage.add(tenant, delta(&k, gone.as_deref(), None))?;
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
        let recorded = self.record_together(tenant, std::slice::from_ref(order), now, route)?;
        Ok(recorded[0].upsert)
    }

    /// [`Store::record_order`] for a page of `orders`, in one transaction: a page costs one
    /// commit (on PostgreSQL one round trip and one WAL flush) instead of one per order, and on
    /// sled one transaction's set-up and commit instead of a hundred (a quarter of the sandbox
    /// threads' time in the 100-shop sync bench went to them; BENCHMARKS.md, issue 18). When the
    /// page's transaction fails (an order past the tenant's quota, a key the store cannot hold,
    /// the disk), each order is recorded alone, so a bad record gets its own error and the
    /// others are stored as before. The quota is looked at once for the page, as it is once
    /// per order alone: a tenant just under its quota stores the page whole.
    pub fn record_orders(
        &self,
        tenant: &str,
        orders: &[Order],
        now: Timestamp,
        route: Option<&str>,
    ) -> Vec<Result<Recorded, StoreError>> {
        match self.record_together(tenant, orders, now, route) {
            Ok(recorded) => recorded.into_iter().map(Ok).collect(),
            Err(_) => orders
                .iter()
                .map(|order| Ok(self.record_together(tenant, std::slice::from_ref(order), now, route)?[0]))
                .collect(),
        }
    }

    /// Stores `orders`, enqueues the deliveries they owe and takes those that were set aside
    /// out of the quarantine, all in one transaction, or none.
    fn record_together(
        &self,
        tenant: &str,
        orders: &[Order],
        now: Timestamp,
        route: Option<&str>,
    ) -> Result<Vec<Recorded>, StoreError> {
        key(&[tenant])?; // a tenant name the keys can hold
        if let Some(route) = route {
            key(&[route])?;
        }
        let (book, outbox, quarantine, usage) = (self.orders(), self.outbox(), self.quarantine(), self.usage());
        let room = usage.room(tenant)?;
        let trees =
            (book.tree(), book.unsynced_tree(), book.versions_tree(), &outbox.queue, &outbox.due, quarantine.tree());
        let keys =
            orders.iter().map(|order| OrderBook::key(tenant, &OrderKey::of(order))).collect::<Result<Vec<_>, _>>()?;
        let held = orders
            .iter()
            .map(|order| Quarantine::entry_key(tenant, &order.shop_id, quarantine::ORDERS, &order.order_id))
            .collect::<Result<Vec<_>, _>>()?;
        let (keys, held_keys): (Vec<&[u8]>, Vec<&[u8]>) =
            (keys.iter().map(Vec::as_slice).collect(), held.iter().map(Vec::as_slice).collect());
        let (recorded, change) = trees.transaction(|(o, u, v, q, due, h)| {
            o.prefetch(&keys)?;
            u.prefetch(&keys)?;
            h.prefetch(&held_keys)?;
            let mut recorded = Vec::with_capacity(orders.len());
            let mut change = 0;
            for (order, held) in orders.iter().zip(&held) {
                let (upsert, changed) = orders::upsert_in(&book, o, u, v, tenant, order, now, &room)?;
                change += changed;
                if let (true, Some(route)) = (upsert.is_news(), route) {
                    let owed = Owed { tenant, route, carries: Carries::Order, key: OrderKey::of(order) };
                    change += Queue { q, due }.owe(owed, upsert.version(), now)?;
                }
                let released = quarantine::release_in(h, held)?;
                change += released.unwrap_or(0);
                recorded.push(Recorded { upsert, released: released.is_some() });
            }
            Ok((recorded, change))
        })?;
        usage.add(tenant, change)?;
        if route.is_some() && recorded.iter().any(|r| r.upsert.is_news()) {
            self.wakeups().wake_deliveries(tenant);
        }
        Ok(recorded)
    }
}

/// What storing a record did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub upsert: Upsert,
    /// It had been set aside in quarantine, and left it as it was stored.
    pub released: bool,
}

impl Store {
    /// The ERP took `deliveries` of orders in one answer: each version is marked synced (when
    /// it is still the current one) and its delivery leaves the queue, all in one transaction.
    /// They were two transactions per order, and their commits were most of what settling a
    /// delivery cost (BENCHMARKS.md, issue 18); now a batched POST costs one commit.
    pub fn orders_delivered(&self, deliveries: &[&Delivery]) -> Result<Vec<AckOutcome>, StoreError> {
        let (book, outbox, usage) = (self.orders(), self.outbox(), self.usage());
        let keys = deliveries.iter().map(|d| OrderBook::key(&d.tenant, &d.key)).collect::<Result<Vec<_>, _>>()?;
        let trees = (book.tree(), book.unsynced_tree(), &outbox.queue, &outbox.due);
        let ids = id_keys(deliveries.iter().copied());
        let (order_keys, ids): (Vec<&[u8]>, Vec<&[u8]>) =
            (keys.iter().map(Vec::as_slice).collect(), ids.iter().map(<[u8; 8]>::as_slice).collect());
        let settled = trees.transaction(|(t, u, q, due)| {
            t.prefetch(&order_keys)?;
            q.prefetch(&ids)?;
            let mut settled = Vec::with_capacity(deliveries.len());
            for (delivery, key) in deliveries.iter().zip(&keys) {
                let (outcome, acked) = book.ack_in(t, u, key, delivery.version)?;
                let (_, removed) = Queue { q, due }.remove(delivery.id)?;
                settled.push((outcome, acked + removed));
            }
            Ok(settled)
        })?;
        usage.add_each(deliveries.iter().map(|d| d.tenant.as_str()).zip(settled.iter().map(|(_, delta)| *delta)))?;
        Ok(settled.into_iter().map(|(outcome, _)| outcome).collect())
    }
}

impl Store {
    /// Stores `after_sale` with its `intercept` flag for `tenant` and, when it is new or
    /// changed and the tenant's ERP route delivers (`route`), enqueues its delivery, in one
    /// transaction, as [`Store::record_order`] does for orders; one that was set aside in
    /// quarantine leaves it in that transaction too.
    pub fn record_after_sale(
        &self,
        tenant: &str,
        after_sale: &AfterSale,
        intercept: bool,
        now: Timestamp,
        route: Option<&str>,
    ) -> Result<Recorded, StoreError> {
        key(&[tenant])?;
        if let Some(route) = route {
            key(&[route])?;
        }
        let (book, outbox, quarantine, usage) = (self.after_sales(), self.outbox(), self.quarantine(), self.usage());
        let room = usage.room(tenant)?;
        let held =
            Quarantine::entry_key(tenant, &after_sale.shop_id, quarantine::AFTER_SALES, &after_sale.after_sale_id)?;
        let trees = (book.tree(), book.unsynced_tree(), &outbox.queue, &outbox.due, quarantine.tree());
        let (recorded, change) = trees.transaction(|(a, u, q, due, h)| {
            let (upsert, mut change) = book.upsert_in(a, u, tenant, after_sale, intercept, now, &room)?;
            if let (true, Some(route)) = (upsert.is_news(), route) {
                let key = OrderKey {
                    platform: after_sale.platform.clone(),
                    shop_id: after_sale.shop_id.clone(),
                    order_id: after_sale.after_sale_id.clone(),
                };
                let owed = Owed { tenant, route, carries: Carries::AfterSale, key };
                change += Queue { q, due }.owe(owed, upsert.version(), now)?;
            }
            let released = quarantine::release_in(h, &held)?;
            change += released.unwrap_or(0);
            Ok((Recorded { upsert, released: released.is_some() }, change))
        })?;
        usage.add(tenant, change)?;
        if recorded.upsert.is_news() && route.is_some() {
            self.wakeups().wake_deliveries(tenant);
        }
        Ok(recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OrderStatus;
    use crate::store::orders::tests::order;

    const T: i64 = 1_794_355_200_000;

    #[test]
    fn a_page_is_recorded_in_one_go_and_a_bad_order_in_it_fails_alone() {
        let store = Store::temporary().unwrap();
        let page: Vec<Order> = (1..=3).map(|i| order(&i.to_string(), OrderStatus::Paid, T)).collect();
        let outcomes = store.record_orders("acme", &page, Timestamp(T), Some("webhook"));
        assert!(
            outcomes.iter().all(|o| matches!(o, Ok(Recorded { upsert: Upsert::New { version: 1 }, .. }))),
            "{outcomes:?}"
        );
        assert_eq!(store.outbox().due("acme", "webhook", T, 100).unwrap().len(), 3, "one delivery owed each");

        // The same page again, one order changed and one the store cannot key: the others are
        // stored all the same, each with its own outcome.
        let mut again = page.clone();
        again[1].status = OrderStatus::Shipped;
        again[2].order_id = "bad\0id".into();
        let outcomes = store.record_orders("acme", &again, Timestamp(T + 1), Some("webhook"));
        assert!(matches!(outcomes[0], Ok(Recorded { upsert: Upsert::Unchanged { .. }, .. })), "{outcomes:?}");
        assert!(matches!(outcomes[1], Ok(Recorded { upsert: Upsert::Changed { version: 2 }, .. })), "{outcomes:?}");
        assert!(matches!(outcomes[2], Err(StoreError::Invalid(_))), "{outcomes:?}");
        assert_eq!(store.outbox().due("acme", "webhook", T + 1, 100).unwrap().len(), 4, "the change owes one more");
    }

    #[test]
    fn a_delivered_order_is_synced_and_leaves_the_queue_together() {
        let store = Store::temporary().unwrap();
        store.record_order("acme", &order("1", OrderStatus::Paid, T), Timestamp(T), Some("webhook")).unwrap();
        let due = store.outbox().due("acme", "webhook", T, 100).unwrap();
        let owed = store.usage().bytes("acme").unwrap();
        assert_eq!(store.orders_delivered(&[&due[0]]).unwrap()[0], AckOutcome::Synced);
        assert!(store.outbox().due("acme", "webhook", T, 100).unwrap().is_empty());
        assert!(store.outbox().pending().unwrap().is_empty());
        let k = OrderKey::of(&order("1", OrderStatus::Paid, T));
        assert_eq!(store.orders().get("acme", &k).unwrap().unwrap().sync, orders::SyncState::Synced);
        assert!(store.usage().bytes("acme").unwrap() < owed, "the delivery's bytes are given back");
        // Delivered again (a crash before the answer was settled): the same outcome, nothing left to remove.
        assert_eq!(store.orders_delivered(&[&due[0]]).unwrap()[0], AckOutcome::Synced);
    }

    #[test]
    fn an_order_set_aside_leaves_the_quarantine_as_it_is_stored_and_not_before() {
        use crate::model::Rejected;
        use crate::store::quarantine::Source;

        let store = Store::temporary().unwrap();
        let page: Vec<Order> = (1..=3).map(|i| order(&i.to_string(), OrderStatus::Paid, T)).collect();
        let from = Source { tenant: "acme", shop_id: "s1", stream: quarantine::ORDERS, plugin: "taobao", version: "1" };
        let rejected = Rejected { id: "2".into(), field: "paid_at".into(), reason: "bad".into(), excerpt: None };
        store.quarantine().put(&from, &rejected, Timestamp(T)).unwrap();
        let held = || store.quarantine().get("acme", "s1", quarantine::ORDERS, "2").unwrap();

        // Not stored (the tenant is at its quota): it stays where it is remembered.
        store.usage().set_quota("acme", Some(1));
        let refused = store.record_orders("acme", &page[1..2], Timestamp(T), None);
        assert!(matches!(refused[0], Err(StoreError::OverQuota { .. })), "{refused:?}");
        assert!(held().is_some());

        store.usage().set_quota("acme", None);
        let recorded = store.record_orders("acme", &page, Timestamp(T), Some("webhook"));
        let released: Vec<bool> = recorded.iter().map(|r| r.as_ref().unwrap().released).collect();
        assert_eq!(released, [false, true, false]);
        assert!(held().is_none());
        let again = store.record_orders("acme", &page, Timestamp(T), Some("webhook"));
        assert!(again.iter().all(|r| !r.as_ref().unwrap().released), "{again:?}");

        // An after-sale likewise, in its own stream.
        let sale = crate::store::after_sales::tests::after_sale("R1", "requested", "2026-11-11T00:00:00Z");
        let from = Source { stream: quarantine::AFTER_SALES, ..from };
        let rejected = Rejected { id: "R1".into(), ..rejected };
        store.quarantine().put(&from, &rejected, Timestamp(T)).unwrap();
        assert!(store.record_after_sale("acme", &sale, false, Timestamp(T), None).unwrap().released);
        assert!(store.quarantine().get("acme", "s1", quarantine::AFTER_SALES, "R1").unwrap().is_none());
    }

    #[test]
    fn a_batch_delivered_together_is_synced_and_leaves_the_queue_in_one_go() {
        let store = Store::temporary().unwrap();
        let page: Vec<_> = (1..=3).map(|i| order(&i.to_string(), OrderStatus::Paid, T)).collect();
        store.record_orders("acme", &page, Timestamp(T), Some("webhook"));
        store.record_order("globex", &order("9", OrderStatus::Paid, T), Timestamp(T), Some("webhook")).unwrap();
        let mut due = store.outbox().due("acme", "webhook", T, 100).unwrap();
        due.extend(store.outbox().due("globex", "webhook", T, 100).unwrap());
        // The first order changed since: its delivery is settled, its new version stays owed.
        store
            .record_order("acme", &order("1", OrderStatus::Shipped, T + 5), Timestamp(T + 5), Some("webhook"))
            .unwrap();
        let left = store.outbox().due("acme", "webhook", T + 5, 100).unwrap();
        let newer = left.iter().find(|d| d.key.order_id == "1" && d.version != due[0].version).unwrap().clone();
        let outcomes = store.orders_delivered(&due.iter().collect::<Vec<_>>()).unwrap();
        let stale = AckOutcome::Stale { current: newer.version };
        assert_eq!(outcomes, [stale, AckOutcome::Synced, AckOutcome::Synced, AckOutcome::Synced]);
        assert_eq!(store.outbox().pending().unwrap(), [newer], "only the newer version is owed");
        for (tenant, id) in [("acme", "2"), ("acme", "3"), ("globex", "9")] {
            let k = OrderKey::of(&order(id, OrderStatus::Paid, T));
            assert_eq!(
                store.orders().get(tenant, &k).unwrap().unwrap().sync,
                orders::SyncState::Synced,
                "{tenant} {id}"
            );
        }
    }

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
        let due = store.outbox().due("acme", "webhook", T + 10, 100).unwrap();
        assert_eq!(
            due.iter().map(|d| d.version).collect::<Vec<_>>(),
            [1, 2],
            "unchanged re-reads and pull-routed orders owe nothing"
        );

        let first = &due[0];
        store.outbox().retry_later(first, T + 1_000, "503").unwrap();
        assert_eq!(store.outbox().due("acme", "webhook", T + 10, 100).unwrap().len(), 1, "not due before its time");
        let due = store.outbox().due("acme", "webhook", T + 1_000, 100).unwrap();
        assert_eq!(due.last().map(|d| d.id), Some(first.id), "due last: its new time is the latest");
        let again = due.last().unwrap();
        assert_eq!((again.attempts, again.last_error.as_deref()), (1, Some("503")));

        store.outbox().dead_letter(again, "400 Bad Request: unknown SKU", T + 1_001).unwrap();
        assert_eq!(store.outbox().pending().unwrap().len(), 1);
        let letters = store.outbox().dead_letters("acme").unwrap();
        assert_eq!(letters[0].reason, "400 Bad Request: unknown SKU");
        assert!(store.outbox().dead_letters("other").unwrap().is_empty());
        assert!(!store.outbox().replay("other", letters[0].delivery.id, T).unwrap(), "not another tenant's");
        assert!(store.outbox().replay("acme", letters[0].delivery.id, T + 2_000).unwrap());
        assert_eq!(store.outbox().due("acme", "webhook", T + 2_000, 100).unwrap().len(), 2);
        assert!(store.outbox().dead_letters("acme").unwrap().is_empty());
    }

    #[test]
    fn each_tenant_reads_its_own_due_range_and_a_drain_over_all_takes_turns() {
        let store = Store::temporary().unwrap();
        for i in 0..100 {
            store
                .record_order("big", &order(&i.to_string(), OrderStatus::Paid, T), Timestamp(T), Some("webhook"))
                .unwrap();
        }
        for i in 0..3 {
            let o = order(&i.to_string(), OrderStatus::Paid, T);
            store.record_order("small", &o, Timestamp(T + 5), Some("webhook")).unwrap();
        }
        store.record_order("small", &order("9", OrderStatus::Paid, T), Timestamp(T), Some("erp-sap")).unwrap();
        let outbox = store.outbox();
        assert_eq!(outbox.due("small", "webhook", T + 5, 100).unwrap().len(), 3, "its own, on its route");
        assert!(outbox.due("small", "webhook", T, 100).unwrap().is_empty(), "not before its time");
        assert_eq!(outbox.due("small", "erp-sap", T, 100).unwrap().len(), 1);
        assert_eq!(outbox.tenants().unwrap(), ["big", "small"]);
        let drain = outbox.due_round_robin("webhook", T + 5, 2 * TURN).unwrap();
        let small = drain.iter().filter(|d| d.tenant == "small").count();
        assert_eq!((drain.len(), small), (2 * TURN, 3), "the small tenant is not behind the big one's backlog");

        // The index follows retries, removals, dead letters and replays.
        let first = outbox.due("big", "webhook", T, 1).unwrap().remove(0);
        outbox.retry_later(&first, T + 50, "503").unwrap();
        assert_eq!(outbox.due("big", "webhook", T + 49, 1000).unwrap().len(), 99);
        assert_eq!(outbox.due("big", "webhook", T + 50, 1000).unwrap().last().map(|d| d.id), Some(first.id));
        outbox.remove(first.id).unwrap();
        let second = outbox.due("big", "webhook", T, 1).unwrap().remove(0);
        outbox.dead_letter(&second, "400", T).unwrap();
        assert_eq!(outbox.due("big", "webhook", T + 50, 1000).unwrap().len(), 98);
        assert_eq!((outbox.dead_letters("big").unwrap().len(), outbox.dead_letters("small").unwrap().len()), (1, 0));
        assert!(outbox.replay("big", second.id, T).unwrap());
        assert_eq!(outbox.due("big", "webhook", T + 50, 1000).unwrap().len(), 99);
        assert_eq!(outbox.pending_by_shop("small").unwrap(), [("s1".to_owned(), 4)].into_iter().collect());
        assert_eq!(outbox.due.len().unwrap(), outbox.queue.len().unwrap(), "one index entry per delivery");
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
