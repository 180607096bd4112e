//! After-sales with a version and an ERP sync state, as orders have ([`super::orders`]): a
//! pull stores every after-sale it sees, a change makes a new version the ERP is owed until it
//! acknowledges that very version, and what the ERP pulls is a range read of the unsynced
//! index.
//!
//! An after-sale carries `intercept`: open, on an order the host holds as not yet shipped
//! (`paid`, `held`), or a refund the platform itself calls before-shipping. A warehouse reads
//! it to stop the parcel (拦截); it is decided when the after-sale is stored, from the order
//! as stored then.

use serde::{Deserialize, Serialize};

use super::backend::Transactional as _;
use super::backend::TxError::Abort;
use super::backend::{Tree, TxError, TxTree};
use super::orders::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, SyncState, Upsert, decode_cursor, encode_cursor};
use super::usage::{Usage, delta};
use super::{StoreError, key};
use crate::model::{AfterSale, AfterSaleKind, AfterSaleStatus, OrderStatus, Timestamp};

pub(super) const TREE: &str = "after_sales";
/// Index: the key of every after-sale whose current version the ERP has not acknowledged.
pub(super) const UNSYNCED: &str = "after_sales_unsynced";

/// An after-sale as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredAfterSale {
    pub after_sale: AfterSale,
    /// Stop the parcel: the after-sale is open and its order has not shipped.
    pub intercept: bool,
    /// 1 for the first sighting, +1 for every change.
    pub version: u64,
    pub sync: SyncState,
    /// When this version was stored.
    pub stored_at: Timestamp,
}

/// Whether an after-sale asks the warehouse to stop its order's parcel: it is open, and the
/// platform calls it a refund before shipping or the order (as the host holds it) has not
/// shipped.
pub fn intercept(after_sale: &AfterSale, order_status: Option<OrderStatus>) -> bool {
    after_sale.status.is_open()
        && (after_sale.kind == AfterSaleKind::RefundBeforeShipping
            || matches!(order_status, Some(OrderStatus::Paid | OrderStatus::Held)))
}

/// Which after-sale: unique per tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AfterSaleKey {
    pub platform: String,
    pub shop_id: String,
    pub after_sale_id: String,
}

impl AfterSaleKey {
    pub fn of(a: &AfterSale) -> Self {
        Self { platform: a.platform.clone(), shop_id: a.shop_id.clone(), after_sale_id: a.after_sale_id.clone() }
    }
}

/// What the ERP asks for (all filters optional; `sync` defaults to unsynced): the query
/// parameters of `GET …/after-sales`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AfterSaleQuery {
    /// ERP sync state (default unsynced)
    #[serde(default)]
    pub sync: Option<SyncState>,
    /// Both sync states (overrides sync)
    #[serde(default)]
    pub any_sync: bool,
    /// updated_at at or after this instant
    #[serde(default)]
    pub updated_from: Option<Timestamp>,
    /// updated_at before this instant
    #[serde(default)]
    pub updated_to: Option<Timestamp>,
    /// Canonical after-sale status
    #[serde(default)]
    pub status: Option<AfterSaleStatus>,
    /// Only those that ask to stop the parcel (true) or only the others (false)
    #[serde(default)]
    pub intercept: Option<bool>,
    /// e.g. douyin
    #[serde(default)]
    pub platform: Option<String>,
    /// The shop's id in the tenant
    #[serde(default)]
    pub shop_id: Option<String>,
    /// The platform's order id
    #[serde(default)]
    pub order_id: Option<String>,
    /// After-sales per page; a value out of the range is refused (400), not capped
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000, default = json!(DEFAULT_PAGE_SIZE))]
    pub limit: Option<usize>,
    /// A previous page's next_cursor
    #[serde(default)]
    pub cursor: Option<String>,
}

impl AfterSaleQuery {
    fn matches(&self, s: &StoredAfterSale) -> bool {
        let a = &s.after_sale;
        let sync_ok = self.any_sync || s.sync == self.sync.unwrap_or(SyncState::Unsynced);
        sync_ok
            && self.updated_from.is_none_or(|f| a.updated_at >= f)
            && self.updated_to.is_none_or(|t| a.updated_at < t)
            && self.status.is_none_or(|st| a.status == st)
            && self.intercept.is_none_or(|i| s.intercept == i)
            && self.platform.as_ref().is_none_or(|p| *p == a.platform)
            && self.shop_id.as_ref().is_none_or(|x| *x == a.shop_id)
            && self.order_id.as_ref().is_none_or(|id| *id == a.order_id)
    }
}

/// One page of a query, in key order (platform, shop, after-sale id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AfterSaleQueryPage {
    pub after_sales: Vec<StoredAfterSale>,
    pub next_cursor: Option<String>,
}

/// The after-sales tree and its unsynced index.
#[derive(Clone)]
pub struct AfterSaleBook {
    tree: Tree,
    unsynced: Tree,
    usage: Usage,
    logged: super::LoggedOnce,
}

impl AfterSaleBook {
    pub(super) fn new(tree: Tree, unsynced: Tree, usage: Usage) -> Self {
        Self { tree, unsynced, usage, logged: Default::default() }
    }

    fn key(tenant: &str, k: &AfterSaleKey) -> Result<Vec<u8>, StoreError> {
        key(&[tenant, &k.platform, &k.shop_id, &k.after_sale_id])
    }

    fn decode(key: &[u8], bytes: &[u8]) -> Result<StoredAfterSale, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            tree: TREE,
            key: String::from_utf8_lossy(key).replace('\0', "/"),
            reason: e.to_string(),
        })
    }

    /// Stores `after_sale` for `tenant` with its `intercept` flag: new, a new version when
    /// anything changed, or nothing. Refused over the tenant's stored quota, like orders. (The
    /// engine stores through [`super::Store::record_after_sale`], which enqueues the delivery
    /// it owes in the same transaction.)
    pub fn upsert(
        &self,
        tenant: &str,
        after_sale: &AfterSale,
        intercept: bool,
        now: Timestamp,
    ) -> Result<Upsert, StoreError> {
        let room = self.usage.room(tenant)?;
        let (outcome, change) = (&self.tree, &self.unsynced)
            .transaction(|(t, u)| self.upsert_in(t, u, tenant, after_sale, intercept, now, &room))?;
        self.usage.add(tenant, change)?;
        Ok(outcome)
    }

    pub(super) fn tree(&self) -> &Tree {
        &self.tree
    }

    pub(super) fn unsynced_tree(&self) -> &Tree {
        &self.unsynced
    }

    /// [`AfterSaleBook::upsert`] inside a transaction, with the change in the tenant's stored
    /// bytes. `room` is [`Usage::room`], asked before the transaction.
    #[expect(clippy::too_many_arguments, reason = "the transaction's trees beside what upsert takes")]
    pub(super) fn upsert_in(
        &self,
        t: &TxTree<'_>,
        u: &TxTree<'_>,
        tenant: &str,
        after_sale: &AfterSale,
        intercept: bool,
        now: Timestamp,
        room: &Result<(), (u64, u64)>,
    ) -> Result<(Upsert, i64), TxError> {
        let k = Self::key(tenant, &AfterSaleKey::of(after_sale)).map_err(Abort)?;
        let (outcome, version) = match t.get(&k)? {
            None => (Upsert::New { version: 1 }, 1),
            Some(bytes) => {
                // An unreadable record heals with this sighting, as a new version.
                let old = Self::decode(&k, &bytes).ok();
                let version = old.as_ref().map_or(0, |o| o.version);
                if old.is_some_and(|o| o.after_sale == *after_sale && o.intercept == intercept) {
                    return Ok((Upsert::Unchanged { version }, 0));
                }
                (Upsert::Changed { version: version + 1 }, version + 1)
            }
        };
        if let Err((stored_bytes, quota_bytes)) = *room {
            return Err(Abort(StoreError::OverQuota { tenant: tenant.to_owned(), stored_bytes, quota_bytes }));
        }
        let stored = StoredAfterSale {
            after_sale: after_sale.clone(),
            intercept,
            version,
            sync: SyncState::Unsynced,
            stored_at: now,
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| Abort(StoreError::Invalid(e.to_string())))?;
        u.insert(&k[..], Vec::<u8>::new())?;
        let old = t.insert(&k[..], &bytes[..])?;
        Ok((outcome, delta(&k, old.as_deref(), Some(&bytes))))
    }

    pub fn get(&self, tenant: &str, k: &AfterSaleKey) -> Result<Option<StoredAfterSale>, StoreError> {
        let key = Self::key(tenant, k)?;
        self.tree.get(&key)?.map(|b| Self::decode(&key, &b)).transpose()
    }

    /// One page of `tenant`'s after-sales matching `query`. A record that cannot be read is
    /// skipped and logged, never in the way of the rest.
    pub fn query(&self, tenant: &str, query: &AfterSaleQuery) -> Result<AfterSaleQueryPage, StoreError> {
        let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
        let prefix = key(&[tenant, ""])?;
        let mut start = prefix.clone();
        if let Some(c) = &query.cursor {
            start.extend_from_slice(&decode_cursor(c)?);
            start.push(0); // strictly after
        }
        let by_index = !query.any_sync && query.sync.unwrap_or(SyncState::Unsynced) == SyncState::Unsynced;
        let tree = if by_index { &self.unsynced } else { &self.tree };
        let mut after_sales: Vec<StoredAfterSale> = Vec::new();
        for entry in tree.range(start..) {
            let (k, v) = entry?;
            if !k.starts_with(&prefix) {
                break;
            }
            let v = if by_index {
                match self.tree.get(&k)? {
                    Some(v) => v,
                    None => continue,
                }
            } else {
                v
            };
            let stored = match Self::decode(&k, &v) {
                Ok(stored) => stored,
                Err(e) => {
                    if self.logged.first(&k) {
                        tracing::error!(error = %e, "a stored after-sale cannot be read; it is skipped");
                    }
                    continue;
                }
            };
            if !query.matches(&stored) {
                continue;
            }
            if after_sales.len() == limit {
                let last = &after_sales[limit - 1].after_sale;
                let cursor = encode_cursor([&last.platform, &last.shop_id, &last.after_sale_id]);
                return Ok(AfterSaleQueryPage { after_sales, next_cursor: Some(cursor) });
            }
            after_sales.push(stored);
        }
        Ok(AfterSaleQueryPage { after_sales, next_cursor: None })
    }

    /// Marks `version` of the after-sale synced, if it is still the current one.
    pub fn ack(&self, tenant: &str, k: &AfterSaleKey, version: u64) -> Result<super::AckOutcome, StoreError> {
        use super::AckOutcome;
        let key = Self::key(tenant, k)?;
        let (outcome, change) = (&self.tree, &self.unsynced).transaction(|(t, u)| {
            let Some(current) = t.get(&key)? else { return Ok((AckOutcome::NotFound, 0)) };
            let Ok(mut stored) = Self::decode(&key, &current) else { return Ok((AckOutcome::Unreadable, 0)) };
            if stored.version != version {
                return Ok((AckOutcome::Stale { current: stored.version }, 0));
            }
            if stored.sync == SyncState::Synced {
                return Ok((AckOutcome::Synced, 0));
            }
            stored.sync = SyncState::Synced;
            let bytes = serde_json::to_vec(&stored).map_err(|e| Abort(StoreError::Invalid(e.to_string())))?;
            let change = delta(&key, Some(&current), Some(&bytes));
            t.insert(&key[..], bytes)?;
            u.discard(&key[..])?;
            Ok((AckOutcome::Synced, change))
        })?;
        if change != 0 {
            self.usage.add(tenant, change)?;
        }
        Ok(outcome)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::{AckOutcome, Store};

    pub(crate) fn after_sale(id: &str, status: &str, updated: &str) -> AfterSale {
        serde_json::from_value(serde_json::json!({
            "platform": "douyin", "shop_id": "s1", "after_sale_id": id, "order_id": "O1",
            "lines": [{"line_id": "O1-1", "quantity": 1}], "kind": "refund_after_shipping",
            "status": status, "platform_status": "aftersale_status=6", "currency": "CNY",
            "refund_amount": 1990, "shipping_refund": 0, "created_at": "2026-11-11T00:00:00Z",
            "updated_at": updated,
        }))
        .unwrap()
    }

    #[test]
    fn a_change_is_a_new_version_owed_until_acknowledged() {
        let store = Store::temporary().unwrap();
        let book = store.after_sales();
        let now = Timestamp(1);
        let a = after_sale("R1", "requested", "2026-11-11T00:00:00Z");
        assert_eq!(book.upsert("acme", &a, true, now).unwrap(), Upsert::New { version: 1 });
        assert_eq!(book.upsert("acme", &a, true, now).unwrap(), Upsert::Unchanged { version: 1 });
        let k = AfterSaleKey::of(&a);
        let page = book.query("acme", &AfterSaleQuery { intercept: Some(true), ..Default::default() }).unwrap();
        assert_eq!(page.after_sales.len(), 1);
        assert!(
            book.query("acme", &AfterSaleQuery { intercept: Some(false), ..Default::default() })
                .unwrap()
                .after_sales
                .is_empty()
        );

        // Agreed meanwhile: a new version; acknowledging the old one leaves it unsynced.
        let agreed = after_sale("R1", "agreed", "2026-11-11T00:05:00Z");
        assert_eq!(book.upsert("acme", &agreed, true, now).unwrap(), Upsert::Changed { version: 2 });
        assert_eq!(book.ack("acme", &k, 1).unwrap(), AckOutcome::Stale { current: 2 });
        assert_eq!(book.ack("acme", &k, 2).unwrap(), AckOutcome::Synced);
        assert!(book.query("acme", &AfterSaleQuery::default()).unwrap().after_sales.is_empty());
        let all = book.query("acme", &AfterSaleQuery { any_sync: true, ..Default::default() }).unwrap();
        assert_eq!(all.after_sales[0].version, 2);
        assert!(
            book.query("other", &AfterSaleQuery { any_sync: true, ..Default::default() })
                .unwrap()
                .after_sales
                .is_empty()
        );
    }

    #[test]
    fn pages_follow_the_cursor() {
        let store = Store::temporary().unwrap();
        let book = store.after_sales();
        for id in ["R1", "R2", "R3"] {
            book.upsert("acme", &after_sale(id, "requested", "2026-11-11T00:00:00Z"), false, Timestamp(1)).unwrap();
        }
        let first = book.query("acme", &AfterSaleQuery { limit: Some(2), ..Default::default() }).unwrap();
        assert_eq!(first.after_sales.len(), 2);
        let rest = book
            .query("acme", &AfterSaleQuery { limit: Some(2), cursor: first.next_cursor, ..Default::default() })
            .unwrap();
        let ids: Vec<&str> = rest.after_sales.iter().map(|s| s.after_sale.after_sale_id.as_str()).collect();
        assert_eq!((ids, rest.next_cursor), (vec!["R3"], None));
    }

    #[test]
    fn intercept_is_an_open_after_sale_on_an_order_not_shipped() {
        let mut a = after_sale("R1", "requested", "2026-11-11T00:00:00Z");
        assert!(intercept(&a, Some(OrderStatus::Paid)));
        assert!(intercept(&a, Some(OrderStatus::Held)));
        assert!(!intercept(&a, Some(OrderStatus::Shipped)));
        assert!(!intercept(&a, None), "an order the host has not seen: the platform's kind decides");
        a.kind = AfterSaleKind::RefundBeforeShipping;
        assert!(intercept(&a, None));
        a.status = AfterSaleStatus::Closed;
        assert!(!intercept(&a, Some(OrderStatus::Paid)), "withdrawn: nothing to stop");
    }
}
