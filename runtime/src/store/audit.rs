//! What operators and ERPs changed, and when: switches, holds, replays, discards.
//!
//! Append-only; one entry per change, keyed by tenant then a growing id, so a tenant's
//! history reads in order and never shows another tenant's.

use serde::{Deserialize, Serialize};

use super::backend::{Db, Tree};
use super::{StoreError, key};
use crate::model::Timestamp;

pub(super) const TREE: &str = "audit";

/// One change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub at: Timestamp,
    /// Who asked: `operator`, `erp`, a token's name…
    pub actor: String,
    /// What, e.g. `switch.module`, `hold.set`, `dead_letter.replay`.
    pub action: String,
    /// What changed, by action (a switch's module and state, a decrypt's token, orders and
    /// reason…).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// The audit tree.
#[derive(Clone)]
pub struct Audit {
    db: Db,
    tree: Tree,
}

impl Audit {
    pub(super) fn new(db: &Db) -> Result<Self, StoreError> {
        Ok(Self { db: db.clone(), tree: db.open_tree(TREE)? })
    }

    pub fn record(&self, tenant: &str, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut k = key(&[tenant, ""])?;
        k.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
        let v = serde_json::to_vec(entry).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.tree.insert(k, v)?;
        Ok(())
    }

    /// `tenant`'s entries, oldest first, the last `limit` of them.
    pub fn recent(&self, tenant: &str, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let prefix = key(&[tenant, ""])?;
        let mut out: Vec<AuditEntry> = self
            .tree
            .scan_prefix(&prefix)
            .rev()
            .take(limit)
            .map(|e| {
                let (k, v) = e?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    tree: TREE,
                    key: hex::encode(k),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        out.reverse();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn entries_read_in_order_per_tenant() {
        let store = Store::temporary().unwrap();
        let entry = |action: &str| AuditEntry {
            at: Timestamp(1),
            actor: "operator".into(),
            action: action.into(),
            detail: serde_json::json!({}),
        };
        store.audit().record("acme", &entry("switch.module")).unwrap();
        store.audit().record("beta", &entry("hold.set")).unwrap();
        store.audit().record("acme", &entry("hold.set")).unwrap();
        let acme: Vec<String> = store.audit().recent("acme", 10).unwrap().into_iter().map(|e| e.action).collect();
        assert_eq!(acme, ["switch.module", "hold.set"]);
        assert_eq!(store.audit().recent("acme", 1).unwrap()[0].action, "hold.set");
        assert_eq!(store.audit().recent("beta", 10).unwrap().len(), 1);
    }
}
