//! Canonical orders with a version and an ERP sync state.
//!
//! A pull stores every order it sees; [`OrderBook::upsert`] decides whether it is new,
//! changed (a new version: any field differs, e.g. its status) or an unchanged re-read (no new
//! version, nothing owed to the ERP). A new version is `unsynced` until the ERP acknowledges
//! that very version, so an order that changes after the ERP took it becomes `unsynced`
//! again, and an acknowledgement of an older version does not hide the newer one (seed 002
//! §1.4.1, the ERP-pull route).

use serde::{Deserialize, Serialize};

use super::pii::Sealer;
use super::{StoreError, key};
use crate::model::{Order, OrderStatus, Timestamp};

pub(super) const TREE: &str = "orders";
/// Orders one query page returns unless asked for fewer; the most it returns.
pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1_000;

/// Whether the ERP has the current version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    Unsynced,
    Synced,
}

/// An order as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOrder {
    pub order: Order,
    /// 1 for the first sighting, +1 for every change.
    pub version: u64,
    pub sync: SyncState,
    /// When this version was stored.
    pub stored_at: Timestamp,
}

/// Which order: unique per tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

/// What the ERP asks for (all filters optional; `sync` defaults to unsynced).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderQuery {
    /// `None`: unsynced. Use [`OrderQuery::any_sync`] for both.
    #[serde(default)]
    pub sync: Option<SyncState>,
    #[serde(default)]
    pub any_sync: bool,
    /// `updated_at` in `[updated_from, updated_to)`.
    #[serde(default)]
    pub updated_from: Option<Timestamp>,
    #[serde(default)]
    pub updated_to: Option<Timestamp>,
    #[serde(default)]
    pub status: Option<OrderStatus>,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub shop_id: Option<String>,
    #[serde(default)]
    pub order_id: Option<String>,
    /// Rows per page (default [`DEFAULT_PAGE_SIZE`], at most [`MAX_PAGE_SIZE`]).
    #[serde(default)]
    pub limit: Option<usize>,
    /// From a previous page's `next_cursor`.
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderQueryPage {
    pub orders: Vec<StoredOrder>,
    pub next_cursor: Option<String>,
}

/// What acknowledging one order did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum AckOutcome {
    /// Now synced (or already was, at this version).
    Synced,
    /// The order changed since the ERP read it: it stays unsynced at `current`.
    Stale { current: u64 },
    NotFound,
}

/// The orders tree.
#[derive(Clone)]
pub struct OrderBook {
    tree: sled::Tree,
    sealer: Sealer,
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
    pub(super) fn new(tree: sled::Tree, sealer: Sealer) -> Self {
        Self { tree, sealer }
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

    fn key(tenant: &str, k: &OrderKey) -> Result<Vec<u8>, StoreError> {
        key(&[tenant, &k.platform, &k.shop_id, &k.order_id])
    }

    fn decode(&self, key: &[u8], bytes: &[u8]) -> Result<StoredOrder, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt { tree: TREE, key: String::from_utf8_lossy(key).replace('\0', "/"), reason };
        let OnDisk { mut stored, sealed_receiver } = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if let Some(sealed) = sealed_receiver {
            let plain = self.sealer.open(tenant_of(key), key, &sealed).map_err(|e| corrupt(format!("receiver: {e}")))?;
            stored.order.receiver = Some(serde_json::from_slice(&plain).map_err(|e| corrupt(format!("receiver: {e}")))?);
        }
        Ok(stored)
    }

    /// Stores `order` for `tenant`: new, a new version when anything changed, or nothing.
    pub fn upsert(&self, tenant: &str, order: &Order, now: Timestamp) -> Result<Upsert, StoreError> {
        Ok(self.tree.transaction(|tx| upsert_in(self, tx, tenant, order, now))?)
    }

    pub(super) fn tree(&self) -> &sled::Tree {
        &self.tree
    }

    pub fn get(&self, tenant: &str, k: &OrderKey) -> Result<Option<StoredOrder>, StoreError> {
        let key = Self::key(tenant, k)?;
        self.tree.get(&key)?.map(|b| self.decode(&key, &b)).transpose()
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
        for entry in self.tree.range(start..) {
            let (k, v) = entry?;
            if !k.starts_with(&prefix) {
                break;
            }
            let stored = self.decode(&k, &v)?;
            if !query.matches(&stored) {
                continue;
            }
            if orders.len() == limit {
                let last = &orders.last().map(|o: &StoredOrder| OrderKey::of(&o.order)).expect("limit >= 1");
                return Ok(OrderQueryPage { orders, next_cursor: Some(encode_cursor(last)) });
            }
            orders.push(stored);
        }
        Ok(OrderQueryPage { orders, next_cursor: None })
    }

    /// Marks `version` of the order synced, if it is still the current one.
    pub fn ack(&self, tenant: &str, k: &OrderKey, version: u64) -> Result<AckOutcome, StoreError> {
        let key = Self::key(tenant, k)?;
        loop {
            let Some(current) = self.tree.get(&key)? else { return Ok(AckOutcome::NotFound) };
            let mut stored = self.decode(&key, &current)?;
            if stored.version != version {
                return Ok(AckOutcome::Stale { current: stored.version });
            }
            if stored.sync == SyncState::Synced {
                return Ok(AckOutcome::Synced);
            }
            stored.sync = SyncState::Synced;
            let bytes = self.encode(&key, &stored)?;
            if self.tree.compare_and_swap(&key, Some(current), Some(bytes))?.is_ok() {
                return Ok(AckOutcome::Synced);
            }
        }
    }
}

/// [`OrderBook::upsert`] inside a transaction (so a caller can enqueue the delivery it owes in
/// the same one).
pub(super) fn upsert_in(
    book: &OrderBook,
    tx: &sled::transaction::TransactionalTree,
    tenant: &str,
    order: &Order,
    now: Timestamp,
) -> Result<Upsert, sled::transaction::ConflictableTransactionError<StoreError>> {
    use sled::transaction::ConflictableTransactionError::Abort;
    let k = OrderBook::key(tenant, &OrderKey::of(order)).map_err(Abort)?;
    let (outcome, next) = match tx.get(&k)? {
        None => (Upsert::New { version: 1 }, StoredOrder { order: order.clone(), version: 1, sync: SyncState::Unsynced, stored_at: now }),
        Some(bytes) => {
            let stored = book.decode(&k, &bytes).map_err(Abort)?;
            if stored.order == *order {
                return Ok(Upsert::Unchanged { version: stored.version });
            }
            let version = stored.version + 1;
            (Upsert::Changed { version }, StoredOrder { order: order.clone(), version, sync: SyncState::Unsynced, stored_at: now })
        }
    };
    let bytes = book.encode(&k, &next).map_err(Abort)?;
    tx.insert(k, bytes)?;
    Ok(outcome)
}

/// The tenant a store key belongs to: its first part.
fn tenant_of(key: &[u8]) -> &str {
    let end = key.iter().position(|b| *b == 0).unwrap_or(key.len());
    std::str::from_utf8(&key[..end]).unwrap_or_default()
}

/// The cursor is the last key's parts after the tenant, hex-encoded (opaque, URL-safe).
fn encode_cursor(k: &OrderKey) -> String {
    hex::encode([k.platform.as_str(), &k.shop_id, &k.order_id].join("\0"))
}

fn decode_cursor(c: &str) -> Result<Vec<u8>, StoreError> {
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
        assert_eq!(store.orders().upsert("acme", &o, Timestamp(T + 1)).unwrap(), Upsert::Unchanged { version: 1 }, "compared in the clear");
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
        let window = OrderQuery { updated_from: Some(Timestamp(T + 3)), updated_to: Some(Timestamp(T + 5)), any_sync: true, ..Default::default() };
        let ids: Vec<String> = book.query("acme", &window).unwrap().orders.into_iter().map(|o| o.order.order_id).collect();
        assert_eq!(ids, ["103", "104"]);
    }

    #[test]
    fn bad_cursors_and_keys_are_errors() {
        let store = Store::temporary().unwrap();
        assert!(store.orders().query("acme", &OrderQuery { cursor: Some("zz".into()), ..Default::default() }).is_err());
        assert!(store.orders().upsert("a\0b", &order("1", OrderStatus::Paid, T), Timestamp(T)).is_err());
    }
}
