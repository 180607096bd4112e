//! Where each (tenant, shop, stream) stands, saved only after what it covers is stored.

use serde::{Deserialize, Serialize};

use super::backend::Tree;
use super::{StoreError, key};
use crate::model::{TimeWindow, Timestamp};

pub(super) const TREE: &str = "cursors";

/// A stream's position: everything modified before `watermark` is stored; `in_window` is a
/// window being paged, with the plugin's cursor for its next page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamCursor {
    pub watermark: Timestamp,
    #[serde(default)]
    pub in_window: Option<(TimeWindow, String)>,
}

/// The cursors tree.
#[derive(Clone)]
pub struct Cursors {
    tree: Tree,
}

impl Cursors {
    pub(super) fn new(tree: Tree) -> Self {
        Self { tree }
    }

    pub fn get(&self, tenant: &str, shop: &str, stream: &str) -> Result<Option<StreamCursor>, StoreError> {
        let k = key(&[tenant, shop, stream])?;
        match self.tree.get(&k)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(|e| StoreError::Corrupt {
                tree: TREE,
                key: format!("{tenant}/{shop}/{stream}"),
                reason: e.to_string(),
            }),
        }
    }

    pub fn put(&self, tenant: &str, shop: &str, stream: &str, cursor: &StreamCursor) -> Result<(), StoreError> {
        let k = key(&[tenant, shop, stream])?;
        let v = serde_json::to_vec(cursor).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.tree.insert(k, v)?;
        Ok(())
    }
}
