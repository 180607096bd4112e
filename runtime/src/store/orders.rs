//! Canonical orders with a version and an ERP sync state.
//!
//! A pull stores every order it sees; [`OrderBook::upsert`] decides whether it is new,
//! changed (a new version: any field differs, e.g. its status) or an unchanged re-read (no new
//! version, nothing owed to the ERP). A new version is `unsynced` until the ERP acknowledges
//! that very version, so an order that changes after the ERP took it becomes `unsynced`
//! again, and an acknowledgement of an older version does not hide the newer one (seed 002
//! §1.4.1, the ERP-pull route).

use serde::{Deserialize, Serialize};

use super::backend::Transactional as _;
use super::backend::Tree;

use super::pii::Sealer;
use super::usage::{Usage, delta};
use super::{StoreError, key};
use crate::model::{Order, OrderStatus, Timestamp};

pub(super) const TREE: &str = "orders";
/// Index: the key of every order whose current version the ERP has not acknowledged (and of
/// every unreadable record, so an unsynced listing still counts it), kept in the same
/// transaction as the order: what the ERP pulls is a range read of it, however many orders
/// are synced.
pub(super) const UNSYNCED: &str = "orders_unsynced";
/// Every version of each order as it was stored, the latest [`KEPT_VERSIONS`] of them: what
/// an operator reads to see how an order changed (paid, a refund requested, shipped).
pub(super) const VERSIONS: &str = "order_versions";
/// Versions kept per order. An order changes a handful of times in its life (paid, shipped,
/// a refund, completed); twenty keeps all of them for nearly every order while bounding what
/// a platform that rewrites one order every minute can make the store hold.
pub const KEPT_VERSIONS: u64 = 20;
/// Orders one query page returns unless asked for fewer; the most it returns.
pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1_000;

/// Whether the ERP has the current version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    Unsynced,
    Synced,
}

/// An order as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredOrder {
    pub order: Order,
    /// 1 for the first sighting, +1 for every change.
    pub version: u64,
    pub sync: SyncState,
    /// When this version was stored.
    pub stored_at: Timestamp,
}

/// Which order: unique per tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderKey {
    pub platform: String,
    pub shop_id: String,
    pub order_id: String,
}

impl OrderKey {
    pub fn of(order: &Order) -> Self {
        Self { platform: order.platform.clone(), shop_id: order.shop_id.clone(), order_id: order.order_id.clone() }
    }
}

/// What an upsert did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upsert {
    New { version: u64 },
    Changed { version: u64 },
    Unchanged { version: u64 },
}

impl Upsert {
    pub fn version(self) -> u64 {
        match self {
            Upsert::New { version } | Upsert::Changed { version } | Upsert::Unchanged { version } => version,
        }
    }

    /// Whether the ERP is owed this version.
    pub fn is_news(self) -> bool {
        !matches!(self, Upsert::Unchanged { .. })
    }
}

/// What the ERP asks for (all filters optional; `sync` defaults to unsynced). Its fields are
/// the query parameters of `GET …/orders` and `GET …/orders.xlsx`, as the document says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// ERP sync state (default unsynced)
    // `None`: unsynced. Use `any_sync` for both.
    #[serde(default)]
    pub sync: Option<SyncState>,
    /// Both sync states (overrides sync)
    #[serde(default)]
    pub any_sync: bool,
    /// updated_at at or after this instant
    // `updated_at` in `[updated_from, updated_to)`.
    #[serde(default)]
    pub updated_from: Option<Timestamp>,
    /// updated_at before this instant
    #[serde(default)]
    pub updated_to: Option<Timestamp>,
    /// Canonical order status
    #[serde(default)]
    pub status: Option<OrderStatus>,
    /// e.g. taobao
    #[serde(default)]
    pub platform: Option<String>,
    /// The shop's id in the tenant
    #[serde(default)]
    pub shop_id: Option<String>,
    /// The platform's order id
    #[serde(default)]
    pub order_id: Option<String>,
    /// Orders per page; a value out of the range is refused (400), not capped
    // Default `DEFAULT_PAGE_SIZE`, at most `MAX_PAGE_SIZE`: the API refuses others with 400; the
    // store clamps what an in-process caller asks. The document's range is a literal (the
    // macro takes no constant); a test holds it to these.
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000, default = json!(DEFAULT_PAGE_SIZE))]
    pub limit: Option<usize>,
    /// A previous page's next_cursor
    #[serde(default)]
    pub cursor: Option<String>,
}

impl OrderQuery {
    fn matches(&self, o: &StoredOrder) -> bool {
        let sync_ok = self.any_sync || o.sync == self.sync.unwrap_or(SyncState::Unsynced);
        sync_ok
            && self.updated_from.is_none_or(|f| o.order.updated_at >= f)
            && self.updated_to.is_none_or(|t| o.order.updated_at < t)
            && self.status.is_none_or(|s| o.order.status == s)
            && self.platform.as_ref().is_none_or(|p| *p == o.order.platform)
            && self.shop_id.as_ref().is_none_or(|s| *s == o.order.shop_id)
            && self.order_id.as_ref().is_none_or(|id| *id == o.order.order_id)
    }
}

/// One page of a query, in key order (platform, shop, order id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderQueryPage {
    pub orders: Vec<StoredOrder>,
    pub next_cursor: Option<String>,
    /// Stored records on the way that could not be read and were skipped (`GET
    /// …/orders/unreadable` lists them; `OrderBook::unreadable`); absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreadable: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A stored order record the host cannot read back (written by an older host that let a bad
/// value in, or damaged): it is skipped by every reader, and an operator lists and removes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Unreadable {
    pub platform: String,
    pub shop_id: String,
    pub order_id: String,
    /// Why it cannot be read.
    pub reason: String,
    /// Its size as stored.
    pub bytes: usize,
}

/// What acknowledging one order did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum AckOutcome {
    /// Now synced (or already was, at this version).
    Synced,
    /// The order changed since the ERP read it: it stays unsynced at `current`.
    Stale {
        current: u64,
    },
    NotFound,
    /// The stored record cannot be read (`GET …/orders/unreadable` lists it; `OrderBook::unreadable`).
    Unreadable,
}

/// The orders tree.
#[derive(Clone)]
pub struct OrderBook {
    tree: Tree,
    unsynced: Tree,
    versions: Tree,
    sealer: Sealer,
    usage: Usage,
    logged: super::LoggedOnce,
}

/// An order as written: the receiver sealed (see [`super::pii`]), everything else as is.
#[derive(Serialize, Deserialize)]
struct OnDisk {
    #[serde(flatten)]
    stored: StoredOrder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed_receiver: Option<String>,
}

impl OrderBook {
    pub(super) fn new(tree: Tree, unsynced: Tree, versions: Tree, sealer: Sealer, usage: Usage) -> Self {
        Self { tree, unsynced, versions, sealer, usage, logged: Default::default() }
    }

    /// The versions of order `k` kept ([`KEPT_VERSIONS`]), oldest first, the current one last.
    pub fn versions(&self, tenant: &str, k: &OrderKey) -> Result<Vec<StoredOrder>, StoreError> {
        let prefix = key(&[tenant, &k.platform, &k.shop_id, &k.order_id, ""])?;
        let mut out = Vec::new();
        for entry in self.versions.scan_prefix(&prefix) {
            let (key, bytes) = entry?;
            out.push(self.decode(&key, &bytes)?);
        }
        Ok(out)
    }

    fn version_key(tenant: &str, k: &OrderKey, version: u64) -> Result<Vec<u8>, StoreError> {
        // Zero-padded so the keys sort by version.
        key(&[tenant, &k.platform, &k.shop_id, &k.order_id, &format!("{version:020}")])
    }

    /// Builds the unsynced index again from the orders (a store written before it existed,
    /// see [`super::Store::open`]).
    pub(super) fn rebuild_index(&self) -> Result<(), StoreError> {
        self.unsynced.clear()?;
        for entry in self.tree.iter() {
            let (k, v) = entry?;
            if self.decode(&k, &v).map_or(true, |o| o.sync == SyncState::Unsynced) {
                self.unsynced.insert(k, Vec::<u8>::new())?;
            }
        }
        Ok(())
    }

    /// Reads a stored record; an unreadable one is logged (once) and is `None`, so it affects
    /// only itself: listings, acks and sync rounds go on without it.
    fn read(&self, key: &[u8], bytes: &[u8]) -> Option<StoredOrder> {
        match self.decode(key, bytes) {
            Ok(stored) => Some(stored),
            Err(e) => {
                if self.logged.first(key) {
                    tracing::error!(
                        error = %e,
                        "a stored order cannot be read; it is skipped (list it with GET /v1/tenants/{{tenant}}/orders/unreadable, remove it with DELETE)"
                    );
                }
                None
            }
        }
    }

    /// Every stored record of `tenant` that cannot be read, with why.
    pub fn unreadable(&self, tenant: &str) -> Result<Vec<Unreadable>, StoreError> {
        let prefix = key(&[tenant, ""])?;
        let mut out = Vec::new();
        for entry in self.tree.scan_prefix(&prefix) {
            let (k, v) = entry?;
            if let Err(e) = self.decode(&k, &v) {
                let parts: Vec<String> =
                    k.split(|b| *b == 0).skip(1).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
                let [platform, shop_id, order_id] = <[String; 3]>::try_from(parts).unwrap_or_default();
                let reason = match e {
                    StoreError::Corrupt { reason, .. } => reason,
                    other => other.to_string(),
                };
                out.push(Unreadable { platform, shop_id, order_id, reason, bytes: v.len() });
            }
        }
        Ok(out)
    }

    /// Removes the record of `k` if it cannot be read; `false` when there is none or it reads
    /// fine (a readable order is never removed this way).
    pub fn remove_unreadable(&self, tenant: &str, k: &OrderKey) -> Result<bool, StoreError> {
        let key = Self::key(tenant, k)?;
        let Some(current) = self.tree.get(&key)? else { return Ok(false) };
        if self.decode(&key, &current).is_ok() {
            return Ok(false);
        }
        let change = delta(&key, Some(&current), None);
        let removed = (&self.tree, &self.unsynced).transaction(|(t, u)| {
            if t.get(&key)?.as_ref() != Some(&current) {
                return Ok(false);
            }
            t.remove(&key[..])?;
            u.discard(&key[..])?;
            Ok::<_, super::backend::TxError>(true)
        })?;
        if removed {
            self.usage.add(tenant, change)?;
        }
        Ok(removed)
    }

    fn encode(&self, key: &[u8], stored: &StoredOrder) -> Result<Vec<u8>, StoreError> {
        let mut stored = stored.clone();
        let sealed_receiver = match stored.order.receiver.take() {
            None => None,
            Some(receiver) => {
                let plain = serde_json::to_vec(&receiver).map_err(|e| StoreError::Invalid(e.to_string()))?;
                Some(self.sealer.seal(tenant_of(key), key, &plain))
            }
        };
        serde_json::to_vec(&OnDisk { stored, sealed_receiver }).map_err(|e| StoreError::Invalid(e.to_string()))
    }

    pub(super) fn key(tenant: &str, k: &OrderKey) -> Result<Vec<u8>, StoreError> {
        key(&[tenant, &k.platform, &k.shop_id, &k.order_id])
    }

    fn decode(&self, key: &[u8], bytes: &[u8]) -> Result<StoredOrder, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            tree: TREE,
            key: String::from_utf8_lossy(key).replace('\0', "/"),
            reason,
        };
        let OnDisk { mut stored, sealed_receiver } =
            serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if let Some(sealed) = sealed_receiver {
            let plain =
                self.sealer.open(tenant_of(key), key, &sealed).map_err(|e| corrupt(format!("receiver: {e}")))?;
            stored.order.receiver =
                Some(serde_json::from_slice(&plain).map_err(|e| corrupt(format!("receiver: {e}")))?);
        }
        Ok(stored)
    }

    /// Stores `order` for `tenant`: new, a new version when anything changed, or nothing.
    /// A new or changed order of a tenant at its stored quota is refused
    /// ([`StoreError::OverQuota`]).
    pub fn upsert(&self, tenant: &str, order: &Order, now: Timestamp) -> Result<Upsert, StoreError> {
        let room = self.usage.room(tenant)?;
        let (outcome, change) = (&self.tree, &self.unsynced, &self.versions)
            .transaction(|(tx, u, v)| upsert_in(self, tx, u, v, tenant, order, now, &room))?;
        self.usage.add(tenant, change)?;
        Ok(outcome)
    }

    pub(super) fn tree(&self) -> &Tree {
        &self.tree
    }

    pub(super) fn versions_tree(&self) -> &Tree {
        &self.versions
    }

    pub(super) fn unsynced_tree(&self) -> &Tree {
        &self.unsynced
    }

    pub fn get(&self, tenant: &str, k: &OrderKey) -> Result<Option<StoredOrder>, StoreError> {
        let key = Self::key(tenant, k)?;
        Ok(self.tree.get(&key)?.and_then(|b| self.read(&key, &b)))
    }

    /// [`OrderBook::get`] for several `(tenant, key)`s, in their order: on PostgreSQL one round
    /// trip for them all (a drain of deliveries read each order alone, and those round trips
    /// bounded delivering there; BENCHMARKS.md, issue 18).
    pub fn get_many(&self, keys: &[(&str, &OrderKey)]) -> Result<Vec<Option<StoredOrder>>, StoreError> {
        let keys = keys.iter().map(|(tenant, k)| Self::key(tenant, k)).collect::<Result<Vec<_>, _>>()?;
        let values = self.tree.get_many(&keys.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
        Ok(keys.iter().zip(values).map(|(key, value)| value.and_then(|b| self.read(key, &b))).collect())
    }

    /// One page of `tenant`'s orders matching `query`.
    pub fn query(&self, tenant: &str, query: &OrderQuery) -> Result<OrderQueryPage, StoreError> {
        let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
        let prefix = key(&[tenant, ""])?;
        let start = match &query.cursor {
            None => prefix.clone(),
            Some(c) => {
                let after = decode_cursor(c)?;
                let mut k = prefix.clone();
                k.extend_from_slice(&after);
                k.push(0); // strictly after
                k
            }
        };
        let mut orders = Vec::new();
        let mut unreadable = 0;
        // Unsynced (what the ERP pulls, the default): the index holds the same keys, so the
        // cursor and the order are the same as the whole tree's.
        let by_index = !query.any_sync && query.sync.unwrap_or(SyncState::Unsynced) == SyncState::Unsynced;
        let tree = if by_index { &self.unsynced } else { &self.tree };
        for entry in tree.range(start..) {
            let (k, v) = entry?;
            if !k.starts_with(&prefix) {
                break;
            }
            let v = match by_index {
                false => v,
                true => match self.tree.get(&k)? {
                    Some(v) => v,
                    None => continue,
                },
            };
            let Some(stored) = self.read(&k, &v) else {
                unreadable += 1;
                continue;
            };
            if !query.matches(&stored) {
                continue;
            }
            if orders.len() == limit {
                let last = &orders.last().map(|o: &StoredOrder| OrderKey::of(&o.order)).expect("limit >= 1");
                return Ok(OrderQueryPage {
                    orders,
                    next_cursor: Some(encode_cursor([&last.platform, &last.shop_id, &last.order_id])),
                    unreadable,
                });
            }
            orders.push(stored);
        }
        Ok(OrderQueryPage { orders, next_cursor: None, unreadable })
    }

    /// Marks `version` of the order synced, if it is still the current one. Only the record's
    /// version and sync state are read (see [`acked`]): the order is neither decoded nor its
    /// receiver unsealed and sealed again, which made an acknowledgement cost more than the
    /// delivery it acknowledges (BENCHMARKS.md, issue 18). A record whose order cannot be read
    /// is acknowledged all the same when those two can; `unreadable` still lists it.
    pub fn ack(&self, tenant: &str, k: &OrderKey, version: u64) -> Result<AckOutcome, StoreError> {
        let key = Self::key(tenant, k)?;
        let (outcome, change) = (&self.tree, &self.unsynced).transaction(|(t, u)| self.ack_in(t, u, &key, version))?;
        if change != 0 {
            self.usage.add(tenant, change)?;
        }
        Ok(outcome)
    }

    /// [`OrderBook::ack`] inside a transaction (so a delivery can leave the outbox in the same
    /// one), with the change in the tenant's stored bytes it makes.
    pub(super) fn ack_in(
        &self,
        t: &super::backend::TxTree<'_>,
        u: &super::backend::TxTree<'_>,
        key: &[u8],
        version: u64,
    ) -> Result<(AckOutcome, i64), super::backend::TxError> {
        let Some(current) = t.get(key)? else { return Ok((AckOutcome::NotFound, 0)) };
        let bytes = match acked(&current, version) {
            Ok(Acked::Now(bytes)) => bytes,
            Ok(Acked::Not(outcome)) => return Ok((outcome, 0)),
            Err(_) => {
                // Logged (once per record) with why, as every reader does.
                let _ = self.read(key, &current);
                return Ok((AckOutcome::Unreadable, 0));
            }
        };
        let change = delta(key, Some(&current), Some(&bytes));
        t.insert(key, bytes)?;
        u.discard(key)?;
        Ok((AckOutcome::Synced, change))
    }
}

/// What acknowledging a stored record comes to.
enum Acked {
    /// The record's new bytes, its `sync` now `synced`.
    Now(Vec<u8>),
    /// Nothing to write: the version is not the stored one, or it is synced already.
    Not(AckOutcome),
}

/// The stored record `bytes` acknowledged at `version`: its top-level fields are split without
/// decoding them, `version` and `sync` read, and `sync` alone replaced; the order and the
/// sealed receiver are written back byte for byte.
fn acked(bytes: &[u8], version: u64) -> Result<Acked, serde_json::Error> {
    use serde::de::Error as _;
    use serde_json::value::RawValue;
    let synced = serde_json::value::to_raw_value(&SyncState::Synced)?;
    let mut fields: std::collections::BTreeMap<String, &RawValue> = serde_json::from_slice(bytes)?;
    let field = |name: &'static str| fields.get(name).ok_or_else(|| serde_json::Error::missing_field(name));
    let stored: u64 = serde_json::from_str(field("version")?.get())?;
    if stored != version {
        return Ok(Acked::Not(AckOutcome::Stale { current: stored }));
    }
    if serde_json::from_str::<SyncState>(field("sync")?.get())? == SyncState::Synced {
        return Ok(Acked::Not(AckOutcome::Synced));
    }
    fields.insert("sync".to_owned(), &synced);
    serde_json::to_vec(&fields).map(Acked::Now)
}

/// [`OrderBook::upsert`] inside a transaction (so a caller can enqueue the delivery it owes in
/// the same one), with the change in the tenant's stored bytes it makes. `room` is
/// [`Usage::room`], asked before the transaction (sled's transactions hold a process-wide lock
/// that a plain read inside one would wait on forever).
#[allow(clippy::too_many_arguments)]
pub(super) fn upsert_in(
    book: &OrderBook,
    tx: &super::backend::TxTree<'_>,
    unsynced: &super::backend::TxTree<'_>,
    versions: &super::backend::TxTree<'_>,
    tenant: &str,
    order: &Order,
    now: Timestamp,
    room: &Result<(), (u64, u64)>,
) -> Result<(Upsert, i64), super::backend::TxError> {
    use super::backend::TxError::Abort;
    let k = OrderBook::key(tenant, &OrderKey::of(order)).map_err(Abort)?;
    let (outcome, next) = match tx.get(&k)? {
        None => (
            Upsert::New { version: 1 },
            StoredOrder { order: order.clone(), version: 1, sync: SyncState::Unsynced, stored_at: now },
        ),
        Some(bytes) => {
            // An unreadable record is replaced by the order as it comes now, as a new version
            // (after the old one's number when that much can be read): one bad record heals
            // with the next good sighting instead of failing every round of its shop.
            let (old, version) = match book.read(&k, &bytes) {
                Some(stored) => (Some(stored.order), stored.version),
                None => (
                    None,
                    serde_json::from_slice::<serde_json::Value>(&bytes)
                        .ok()
                        .and_then(|v| v["version"].as_u64())
                        .unwrap_or(0),
                ),
            };
            if old.as_ref() == Some(order) {
                return Ok((Upsert::Unchanged { version }, 0));
            }
            let version = version + 1;
            (
                Upsert::Changed { version },
                StoredOrder { order: order.clone(), version, sync: SyncState::Unsynced, stored_at: now },
            )
        }
    };
    if let Err((stored_bytes, quota_bytes)) = *room {
        return Err(Abort(StoreError::OverQuota { tenant: tenant.to_owned(), stored_bytes, quota_bytes }));
    }
    let bytes = book.encode(&k, &next).map_err(Abort)?;
    unsynced.insert(&k[..], Vec::<u8>::new())?;
    let old = tx.insert(&k[..], &bytes[..])?;
    let mut change = delta(&k, old.as_deref(), Some(&bytes));
    // The version's copy in the history, and the oldest one past what is kept dropped.
    let order_key = OrderKey::of(order);
    let vk = OrderBook::version_key(tenant, &order_key, next.version).map_err(Abort)?;
    let copy = book.encode(&vk, &next).map_err(Abort)?;
    let replaced = versions.insert(&vk[..], &copy[..])?;
    change += delta(&vk, replaced.as_deref(), Some(&copy));
    if let Some(gone) = next.version.checked_sub(KEPT_VERSIONS).filter(|v| *v > 0) {
        let gk = OrderBook::version_key(tenant, &order_key, gone).map_err(Abort)?;
        let removed = versions.remove(&gk[..])?;
        change += delta(&gk, removed.as_deref(), None);
    }
    Ok((outcome, change))
}

/// The tenant a store key belongs to: its first part.
fn tenant_of(key: &[u8]) -> &str {
    let end = key.iter().position(|b| *b == 0).unwrap_or(key.len());
    std::str::from_utf8(&key[..end]).unwrap_or_default()
}

/// The cursor is the last key's parts after the tenant, hex-encoded (opaque, URL-safe); the
/// after-sales book pages the same way.
pub(super) fn encode_cursor(parts: [&str; 3]) -> String {
    hex::encode(parts.join("\0"))
}

pub(super) fn decode_cursor(c: &str) -> Result<Vec<u8>, StoreError> {
    hex::decode(c).map_err(|_| StoreError::Invalid(format!("cursor {c:?} is not one this store wrote")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::Store;

    pub(crate) fn order(id: &str, status: OrderStatus, updated: i64) -> Order {
        serde_json::from_value(serde_json::json!({
            "platform": "taobao", "shop_id": "s1", "order_id": id, "status": status,
            "platform_status": "X", "refund_status": "none", "created_at": "2026-11-11T00:00:00Z",
            "updated_at": Timestamp(updated).to_string(), "currency": "CNY", "goods_total": 100,
            "shipping_fee": 0, "discount_total": 0, "paid_total": 100, "lines": []
        }))
        .unwrap()
    }

    const T: i64 = 1_794_355_200_000;

    #[test]
    fn an_ack_changes_the_sync_state_alone_and_leaves_the_receiver_sealed() {
        let store = Store::temporary().unwrap();
        let mut o = order("7", OrderStatus::Paid, T);
        o.receiver = Some(serde_json::from_value(serde_json::json!({"name": "王五", "masked": false})).unwrap());
        store.orders().upsert("acme", &o, Timestamp(T)).unwrap();
        let k = OrderKey::of(&o);
        let before = store.orders().get("acme", &k).unwrap().unwrap();
        assert_eq!(store.orders().ack("acme", &k, 1).unwrap(), AckOutcome::Synced);
        let after = store.orders().get("acme", &k).unwrap().unwrap();
        assert_eq!(after, StoredOrder { sync: SyncState::Synced, ..before }, "everything else read back as it was");
        assert_eq!(after.order.receiver, o.receiver);
        let raw = store.orders().tree().get(OrderBook::key("acme", &k).unwrap()).unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("王五"), "still sealed at rest");
        assert!(store.orders().query("acme", &OrderQuery::default()).unwrap().orders.is_empty(), "no longer owed");
    }

    #[test]
    fn many_orders_are_read_together_in_the_order_asked_a_missing_one_is_none_and_one_asked_twice_is_read_twice() {
        let store = Store::temporary().unwrap();
        let (one, two) = (order("1", OrderStatus::Paid, T), order("2", OrderStatus::Shipped, T));
        store.orders().upsert("acme", &one, Timestamp(T)).unwrap();
        store.orders().upsert("globex", &two, Timestamp(T)).unwrap();
        let (k1, k2) = (OrderKey::of(&one), OrderKey::of(&two));
        // Asked twice (two versions of one order owed in one drain): read for both.
        let read = store.orders().get_many(&[("globex", &k2), ("acme", &k2), ("acme", &k1), ("acme", &k1)]).unwrap();
        let got: Vec<_> = read.iter().map(|s| s.as_ref().map(|s| s.order.status)).collect();
        assert_eq!(got, [Some(OrderStatus::Shipped), None, Some(OrderStatus::Paid), Some(OrderStatus::Paid)]);
        assert_eq!(read[2].as_ref(), store.orders().get("acme", &k1).unwrap().as_ref());
        assert!(store.orders().get_many(&[]).unwrap().is_empty());
    }

    #[test]
    fn every_version_is_kept_up_to_the_bound_and_sealed_like_the_order() {
        let store = Store::temporary().unwrap();
        let mut o = order("9", OrderStatus::Paid, T);
        o.receiver = Some(serde_json::from_value(serde_json::json!({"name": "李四", "masked": false})).unwrap());
        store.orders().upsert("acme", &o, Timestamp(T)).unwrap();
        store.orders().upsert("acme", &o, Timestamp(T + 1)).unwrap(); // unchanged: no version
        let shipped = Order { status: OrderStatus::Shipped, updated_at: Timestamp(T + 5), ..o.clone() };
        store.orders().upsert("acme", &shipped, Timestamp(T + 5)).unwrap();
        let k = OrderKey::of(&o);
        let versions = store.orders().versions("acme", &k).unwrap();
        let seen: Vec<(u64, OrderStatus)> = versions.iter().map(|v| (v.version, v.order.status)).collect();
        assert_eq!(seen, [(1, OrderStatus::Paid), (2, OrderStatus::Shipped)]);
        assert_eq!(versions[0].order.receiver, o.receiver, "read back whole");
        let raw: Vec<u8> = store.orders().versions.iter().next().unwrap().unwrap().1.to_vec();
        assert!(!String::from_utf8_lossy(&raw).contains("李四"), "sealed at rest");
        // Another order whose id starts the same is not mixed in.
        store.orders().upsert("acme", &order("90", OrderStatus::Paid, T), Timestamp(T)).unwrap();
        assert_eq!(store.orders().versions("acme", &k).unwrap().len(), 2);
        // Past the bound, the oldest go.
        for i in 0..(KEPT_VERSIONS as i64 + 3) {
            let o = Order { updated_at: Timestamp(T + 10 + i), ..shipped.clone() };
            store.orders().upsert("acme", &o, Timestamp(T + 10 + i)).unwrap();
        }
        let versions = store.orders().versions("acme", &k).unwrap();
        assert_eq!(versions.len() as u64, KEPT_VERSIONS);
        assert_eq!(versions.last().unwrap().version, store.orders().get("acme", &k).unwrap().unwrap().version);
    }

    #[test]
    fn receivers_are_sealed_at_rest_and_read_back_whole() {
        let store = Store::temporary().unwrap();
        let mut o = order("7", OrderStatus::Paid, T);
        o.receiver = Some(serde_json::from_value(serde_json::json!({
            "name": "张三", "phone": "13800138000", "province": "浙江省", "address": "文一西路 969 号", "masked": false
        })).unwrap());
        store.orders().upsert("acme", &o, Timestamp(T)).unwrap();
        let raw: Vec<u8> = store.orders().tree().iter().next().unwrap().unwrap().1.to_vec();
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains("13800138000") && !text.contains("张三") && !text.contains("文一西路"), "{text}");
        assert!(text.contains("sealed_receiver"), "{text}");
        let back = store.orders().get("acme", &OrderKey::of(&o)).unwrap().unwrap();
        assert_eq!(back.order, o, "read back whole");
        assert_eq!(
            store.orders().upsert("acme", &o, Timestamp(T + 1)).unwrap(),
            Upsert::Unchanged { version: 1 },
            "compared in the clear"
        );
    }

    #[test]
    fn upsert_detects_new_changed_and_unchanged() {
        let store = Store::temporary().unwrap();
        let book = store.orders();
        let o = order("1", OrderStatus::Paid, T);
        assert_eq!(book.upsert("acme", &o, Timestamp(T)).unwrap(), Upsert::New { version: 1 });
        assert_eq!(book.upsert("acme", &o, Timestamp(T + 1)).unwrap(), Upsert::Unchanged { version: 1 });
        let shipped = order("1", OrderStatus::Shipped, T + 5);
        assert_eq!(book.upsert("acme", &shipped, Timestamp(T + 2)).unwrap(), Upsert::Changed { version: 2 });
        // Another tenant's order with the same ids is another order.
        assert_eq!(book.upsert("other", &o, Timestamp(T)).unwrap(), Upsert::New { version: 1 });
    }

    #[test]
    fn erp_pull_pages_acks_and_sees_later_changes_again() {
        let store = Store::temporary().unwrap();
        let book = store.orders();
        for i in 0..5 {
            book.upsert("acme", &order(&format!("10{i}"), OrderStatus::Paid, T + i), Timestamp(T)).unwrap();
        }
        book.upsert("evil", &order("999", OrderStatus::Paid, T), Timestamp(T)).unwrap();
        let q = OrderQuery { limit: Some(2), ..Default::default() };
        let p1 = book.query("acme", &q).unwrap();
        assert_eq!(p1.orders.len(), 2);
        let p2 = book.query("acme", &OrderQuery { cursor: p1.next_cursor.clone(), ..q.clone() }).unwrap();
        let p3 = book.query("acme", &OrderQuery { cursor: p2.next_cursor.clone(), ..q.clone() }).unwrap();
        assert_eq!(p3.next_cursor, None);
        let all: Vec<String> = [p1, p2, p3].into_iter().flat_map(|p| p.orders).map(|o| o.order.order_id).collect();
        assert_eq!(all, ["100", "101", "102", "103", "104"], "no other tenant's order");

        let k = OrderKey { platform: "taobao".into(), shop_id: "s1".into(), order_id: "101".into() };
        assert_eq!(book.ack("acme", &k, 1).unwrap(), AckOutcome::Synced);
        assert_eq!(book.ack("acme", &k, 1).unwrap(), AckOutcome::Synced, "acks are idempotent");
        assert_eq!(book.query("acme", &OrderQuery::default()).unwrap().orders.len(), 4);
        // Changed after the ERP took it: unsynced again; the old ack no longer applies.
        book.upsert("acme", &order("101", OrderStatus::Shipped, T + 60), Timestamp(T + 60)).unwrap();
        assert_eq!(book.ack("acme", &k, 1).unwrap(), AckOutcome::Stale { current: 2 });
        let by_id = book.query("acme", &OrderQuery { order_id: Some("101".into()), ..Default::default() }).unwrap();
        assert_eq!((by_id.orders[0].version, by_id.orders[0].sync), (2, SyncState::Unsynced));
        assert_eq!(book.ack("evil", &k, 2).unwrap(), AckOutcome::NotFound, "tenants cannot ack each other's orders");

        let shipped = OrderQuery { status: Some(OrderStatus::Shipped), any_sync: true, ..Default::default() };
        assert_eq!(book.query("acme", &shipped).unwrap().orders.len(), 1);
        let window = OrderQuery {
            updated_from: Some(Timestamp(T + 3)),
            updated_to: Some(Timestamp(T + 5)),
            any_sync: true,
            ..Default::default()
        };
        let ids: Vec<String> =
            book.query("acme", &window).unwrap().orders.into_iter().map(|o| o.order.order_id).collect();
        assert_eq!(ids, ["103", "104"]);
    }

    #[test]
    fn an_unreadable_record_affects_only_itself() {
        let store = Store::temporary().unwrap();
        let book = store.orders();
        book.upsert("acme", &order("1", OrderStatus::Paid, T), Timestamp(T)).unwrap();
        book.upsert("acme", &order("3", OrderStatus::Paid, T), Timestamp(T)).unwrap();
        // What an older host wrote for an order updated in year 10000: its reader refuses it.
        let mut bad = serde_json::to_value(StoredOrder {
            order: order("2", OrderStatus::Paid, T),
            version: 4,
            sync: SyncState::Unsynced,
            stored_at: Timestamp(T),
        })
        .unwrap();
        bad["order"]["updated_at"] = serde_json::json!("+10000-01-01T00:00:00Z");
        let k2 = OrderKey { platform: "taobao".into(), shop_id: "s1".into(), order_id: "2".into() };
        book.tree().insert(OrderBook::key("acme", &k2).unwrap(), serde_json::to_vec(&bad).unwrap()).unwrap();

        let page = book.query("acme", &OrderQuery { any_sync: true, ..Default::default() }).unwrap();
        let ids: Vec<&str> = page.orders.iter().map(|o| o.order.order_id.as_str()).collect();
        assert_eq!((ids, page.unreadable), (vec!["1", "3"], 1), "listed without it, and counted");
        assert_eq!(book.get("acme", &k2).unwrap(), None);
        // Its version and sync state can be read: acknowledged, and still listed as unreadable.
        assert_eq!(book.ack("acme", &k2, 4).unwrap(), AckOutcome::Synced);
        assert_eq!(book.ack("acme", &k2, 4).unwrap(), AckOutcome::Synced);
        assert_eq!(book.ack("acme", &k2, 3).unwrap(), AckOutcome::Stale { current: 4 });
        let k9 = OrderKey { platform: "taobao".into(), shop_id: "s1".into(), order_id: "9".into() };
        book.tree().insert(OrderBook::key("acme", &k9).unwrap(), b"{not json".to_vec()).unwrap();
        assert_eq!(book.ack("acme", &k9, 1).unwrap(), AckOutcome::Unreadable);
        book.tree().remove(OrderBook::key("acme", &k9).unwrap()).unwrap();
        let listed = book.unreadable("acme").unwrap();
        assert_eq!((listed.len(), listed[0].order_id.as_str()), (1, "2"));
        assert!(listed[0].reason.contains("10000") || listed[0].reason.contains("RFC 3339"), "{}", listed[0].reason);

        let k1 = OrderKey { platform: "taobao".into(), shop_id: "s1".into(), order_id: "1".into() };
        assert!(!book.remove_unreadable("acme", &k1).unwrap(), "a readable order is not removed this way");
        assert!(book.remove_unreadable("acme", &k2).unwrap());
        assert!(book.unreadable("acme").unwrap().is_empty());

        // Written again, and a new sighting replaces it as the next version.
        book.tree().insert(OrderBook::key("acme", &k2).unwrap(), serde_json::to_vec(&bad).unwrap()).unwrap();
        assert_eq!(
            book.upsert("acme", &order("2", OrderStatus::Shipped, T), Timestamp(T)).unwrap(),
            Upsert::Changed { version: 5 }
        );
        assert_eq!(book.get("acme", &k2).unwrap().unwrap().version, 5);
    }

    #[test]
    fn the_unsynced_index_follows_upserts_acks_and_removals() {
        let store = Store::temporary().unwrap();
        let book = store.orders();
        for i in 0..3 {
            book.upsert("acme", &order(&i.to_string(), OrderStatus::Paid, T), Timestamp(T)).unwrap();
        }
        book.upsert("other", &order("0", OrderStatus::Paid, T), Timestamp(T)).unwrap();
        let k0 = OrderKey { platform: "taobao".into(), shop_id: "s1".into(), order_id: "0".into() };
        book.ack("acme", &k0, 1).unwrap();
        assert_eq!(book.unsynced_tree().len().unwrap(), 3);
        let ids = |q: &OrderQuery| -> Vec<String> {
            book.query("acme", q).unwrap().orders.into_iter().map(|o| o.order.order_id).collect()
        };
        assert_eq!(ids(&OrderQuery::default()), ["1", "2"]);
        assert_eq!(ids(&OrderQuery { sync: Some(SyncState::Synced), ..Default::default() }), ["0"]);
        book.upsert("acme", &order("0", OrderStatus::Shipped, T + 1), Timestamp(T + 1)).unwrap();
        assert_eq!(ids(&OrderQuery::default()), ["0", "1", "2"], "changed after the ack: unsynced again");
        book.upsert("acme", &order("0", OrderStatus::Shipped, T + 1), Timestamp(T + 2)).unwrap();
        assert_eq!(book.unsynced_tree().len().unwrap(), 4, "an unchanged re-read changes nothing");
        book.tree().insert(OrderBook::key("acme", &k0).unwrap(), b"not json".to_vec()).unwrap();
        assert_eq!(book.query("acme", &OrderQuery::default()).unwrap().unreadable, 1);
        assert!(book.remove_unreadable("acme", &k0).unwrap());
        assert_eq!(book.unsynced_tree().len().unwrap(), 3);
        assert_eq!(book.query("acme", &OrderQuery::default()).unwrap().unreadable, 0);
    }

    #[test]
    fn bad_cursors_and_keys_are_errors() {
        let store = Store::temporary().unwrap();
        assert!(store.orders().query("acme", &OrderQuery { cursor: Some("zz".into()), ..Default::default() }).is_err());
        assert!(store.orders().upsert("a\0b", &order("1", OrderStatus::Paid, T), Timestamp(T)).is_err());
    }
}
