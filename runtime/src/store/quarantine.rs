//! Records a plugin could not map, set aside with their reason (contract 0.2's `rejected`).
//!
//! One bad record is one bad record: the page it came in, its window and its shop go on, and
//! the record waits here until it maps. A record is keyed by tenant, shop, stream (`orders`,
//! or an ERP feed such as `stock`) and its own platform id, so a record rejected again in the
//! next round (the overlap re-reads it) is one entry seen twice, not two entries.
//!
//! It leaves in three ways: it arrives mapped (the platform fixed its data, or a plugin version
//! that reads it is serving: see [`Quarantined::tried_by`]), an operator discards it (audited),
//! or its tenant is removed.

use serde::{Deserialize, Serialize};

use super::backend::{Tree, TxResult, TxTree};
use super::usage::{Usage, delta};
use super::{StoreError, key};
use crate::model::{Rejected, Timestamp};

pub(super) const TREE: &str = "quarantine";

/// The stream of marketplace orders, and of after-sales: a record of either leaves the
/// quarantine in the transaction that stores it ([`release_in`]).
pub const ORDERS: &str = "orders";
pub const AFTER_SALES: &str = "after_sales";

/// Longest excerpt kept, in bytes: plugins cut theirs to 2,000 characters; a hostile plugin's
/// longer one is cut here (on a character boundary) so it cannot fill the store.
pub const MAX_EXCERPT_BYTES: usize = 8 * 1024;
/// Longest reason or field kept, in bytes, for the same reason.
pub const MAX_TEXT_BYTES: usize = 1024;

/// One record set aside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quarantined {
    pub tenant: String,
    pub shop_id: String,
    /// `orders`, or the ERP feed's module: its stored name in memory, its current name in JSON
    /// (`model::modules::stored_name`).
    #[serde(with = "crate::model::modules::stored_name")]
    pub stream: String,
    /// The record's own platform id.
    pub id: String,
    pub field: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    /// The plugin and version that rejected it last.
    pub plugin: String,
    /// The version that last tried the record; `None` asks the next round to fetch it again
    /// (an operator's retry). A serving version other than this one fetches it again too.
    pub tried_by: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Rounds that rejected it.
    pub times: u64,
}

/// Where a rejection came from.
pub struct Source<'a> {
    pub tenant: &'a str,
    pub shop_id: &'a str,
    pub stream: &'a str,
    pub plugin: &'a str,
    pub version: &'a str,
}

/// The quarantine tree.
#[derive(Clone)]
pub struct Quarantine {
    tree: Tree,
    usage: Usage,
}

impl Quarantine {
    pub(super) fn new(tree: Tree, usage: Usage) -> Self {
        Self { tree, usage }
    }

    /// Sets `rejected` aside (or sees it again), and says whether it is new. A new record of a
    /// tenant at its stored quota is refused ([`StoreError::OverQuota`]).
    pub fn put(&self, from: &Source<'_>, rejected: &Rejected, now: Timestamp) -> Result<bool, StoreError> {
        let k = Self::entry_key(from.tenant, from.shop_id, from.stream, &rejected.id)?;
        let old = self.decode(&k, self.tree.get(&k)?)?;
        if old.is_none() {
            self.usage.admit(from.tenant)?;
        }
        let entry = Quarantined {
            tenant: from.tenant.to_owned(),
            shop_id: from.shop_id.to_owned(),
            stream: from.stream.to_owned(),
            id: rejected.id.clone(),
            field: cut(&rejected.field, MAX_TEXT_BYTES),
            reason: cut(&rejected.reason, MAX_TEXT_BYTES),
            excerpt: rejected.excerpt.as_deref().map(|e| cut(e, MAX_EXCERPT_BYTES)),
            plugin: from.plugin.to_owned(),
            tried_by: Some(from.version.to_owned()),
            first_seen: old.as_ref().map_or(now, |o| o.first_seen),
            last_seen: now,
            times: old.as_ref().map_or(0, |o| o.times) + 1,
        };
        let bytes = encode(&entry)?;
        let replaced = self.tree.insert(&k, &bytes[..])?;
        self.usage.add(from.tenant, delta(&k, replaced.as_deref(), Some(&bytes)))?;
        Ok(old.is_none())
    }

    /// Takes the record out (it mapped, or was discarded); the entry it was, if any.
    pub fn remove(
        &self,
        tenant: &str,
        shop_id: &str,
        stream: &str,
        id: &str,
    ) -> Result<Option<Quarantined>, StoreError> {
        let k = Self::entry_key(tenant, shop_id, stream, id)?;
        let old = self.tree.remove(&k)?;
        if let Some(old) = &old {
            self.usage.add(tenant, delta(&k, Some(old), None))?;
        }
        self.decode(&k, old)
    }

    pub(super) fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The key of record `id`'s entry.
    pub(super) fn entry_key(tenant: &str, shop_id: &str, stream: &str, id: &str) -> Result<Vec<u8>, StoreError> {
        key(&[tenant, shop_id, stream, id])
    }

    pub fn get(&self, tenant: &str, shop_id: &str, stream: &str, id: &str) -> Result<Option<Quarantined>, StoreError> {
        let k = Self::entry_key(tenant, shop_id, stream, id)?;
        self.decode(&k, self.tree.get(&k)?)
    }

    /// Asks the next round to fetch the record again, whichever version serves.
    pub fn retry(&self, tenant: &str, shop_id: &str, stream: &str, id: &str) -> Result<bool, StoreError> {
        let k = Self::entry_key(tenant, shop_id, stream, id)?;
        let Some(mut entry) = self.decode(&k, self.tree.get(&k)?)? else { return Ok(false) };
        entry.tried_by = None;
        let bytes = encode(&entry)?;
        let replaced = self.tree.insert(&k, &bytes[..])?;
        self.usage.add(tenant, delta(&k, replaced.as_deref(), Some(&bytes)))?;
        Ok(true)
    }

    /// Every record of `tenant` (of one shop when given), in key order.
    pub fn list(&self, tenant: &str, shop_id: Option<&str>) -> Result<Vec<Quarantined>, StoreError> {
        let mut prefix = match shop_id {
            Some(shop_id) => key(&[tenant, shop_id])?,
            None => key(&[tenant])?,
        };
        prefix.push(0);
        self.tree
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv?;
                Ok(self.decode(&k, Some(v))?.expect("a value was read"))
            })
            .collect()
    }

    /// The records of one shop's stream that `version` has not tried yet.
    pub fn untried(
        &self,
        tenant: &str,
        shop_id: &str,
        stream: &str,
        version: &str,
    ) -> Result<Vec<Quarantined>, StoreError> {
        let mut prefix = key(&[tenant, shop_id, stream])?;
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.tree.scan_prefix(&prefix) {
            let (k, v) = kv?;
            if let Some(entry) = self.decode(&k, Some(v))?
                && entry.tried_by.as_deref() != Some(version)
            {
                out.push(entry);
            }
        }
        Ok(out)
    }

    fn decode(&self, k: &[u8], v: Option<super::backend::Bytes>) -> Result<Option<Quarantined>, StoreError> {
        v.map(|v| {
            serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                tree: TREE,
                key: String::from_utf8_lossy(k).replace('\0', "/"),
                reason: e.to_string(),
            })
        })
        .transpose()
    }
}

fn encode(entry: &Quarantined) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(entry).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Takes the entry at `key` (see [`Quarantine::entry_key`]) out inside the transaction that
/// stores its record, so that the record is stored and released together: released first and
/// stored after, a crash between lost a record only the quarantine remembered (one fetched
/// again by id). The change in its tenant's bytes, or `None` when the record was not there.
pub(super) fn release_in(entries: &TxTree<'_>, key: &[u8]) -> TxResult<Option<i64>> {
    // Read once; an absent entry is not written at all (no delete sent for it).
    let Some(old) = entries.get(key)? else { return Ok(None) };
    entries.discard(key)?;
    Ok(Some(delta(key, Some(&old), None)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn rejected(id: &str, reason: &str) -> Rejected {
        Rejected { id: id.into(), field: "pay_amount".into(), reason: reason.into(), excerpt: Some("{…}".into()) }
    }

    fn source<'a>(tenant: &'a str, shop: &'a str, version: &'a str) -> Source<'a> {
        Source { tenant, shop_id: shop, stream: "orders", plugin: "douyin", version }
    }

    #[test]
    fn a_record_is_one_entry_seen_again_retried_by_new_versions_and_removed_once() {
        let store = Store::temporary().unwrap();
        let q = store.quarantine();
        assert!(q.put(&source("acme", "dy", "1.0.0"), &rejected("69", "bad"), Timestamp(1)).unwrap());
        assert!(!q.put(&source("acme", "dy", "1.0.0"), &rejected("69", "still bad"), Timestamp(2)).unwrap());
        q.put(&source("acme", "dy2", "1.0.0"), &rejected("70", "bad"), Timestamp(2)).unwrap();
        q.put(&source("acme2", "dy", "1.0.0"), &rejected("71", "bad"), Timestamp(2)).unwrap();
        let all = q.list("acme", None).unwrap();
        assert_eq!(all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["69", "70"], "another tenant's never shows");
        assert_eq!((all[0].times, all[0].first_seen, all[0].reason.as_str()), (2, Timestamp(1), "still bad"));
        assert_eq!(q.list("acme", Some("dy")).unwrap().len(), 1);

        assert!(q.untried("acme", "dy", "orders", "1.0.0").unwrap().is_empty());
        assert_eq!(q.untried("acme", "dy", "orders", "1.1.0").unwrap().len(), 1, "a new version tries it");
        assert!(q.retry("acme", "dy", "orders", "69").unwrap());
        assert_eq!(
            q.untried("acme", "dy", "orders", "1.0.0").unwrap().len(),
            1,
            "an operator's retry asks any version"
        );

        assert!(q.remove("acme", "dy", "orders", "69").unwrap().is_some());
        assert!(q.remove("acme", "dy", "orders", "69").unwrap().is_none());
    }

    #[test]
    fn a_hostile_plugins_texts_are_cut() {
        let store = Store::temporary().unwrap();
        let mut r = rejected("1", &"原".repeat(MAX_TEXT_BYTES));
        r.excerpt = Some("x".repeat(10 * MAX_EXCERPT_BYTES));
        store.quarantine().put(&source("acme", "dy", "1"), &r, Timestamp(1)).unwrap();
        let e = store.quarantine().get("acme", "dy", "orders", "1").unwrap().unwrap();
        assert!(e.reason.len() <= MAX_TEXT_BYTES + '…'.len_utf8() && e.reason.ends_with('…'));
        assert!(e.excerpt.unwrap().len() <= MAX_EXCERPT_BYTES + '…'.len_utf8());
    }
}
