//! The plugin registry's records: per plugin name, its versions, which one is active, pins and
//! grants. The wasm itself lives in files beside the store (see `registry`); this tree is what
//! says which of them serve.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

pub(super) const TREE: &str = "plugins";

/// The plugins tree. Key: plugin name; value: the registry's record as JSON.
#[derive(Clone)]
pub struct PluginBook {
    tree: sled::Tree,
}

impl PluginBook {
    pub(super) fn new(tree: sled::Tree) -> Self {
        Self { tree }
    }

    /// Writes `record` and flushes: an activation must survive a crash right after it answers.
    pub fn put<T: Serialize>(&self, name: &str, record: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.tree.insert(name.as_bytes(), bytes)?;
        self.tree.flush()?;
        Ok(())
    }

    pub fn all<T: DeserializeOwned>(&self) -> Result<Vec<(String, T)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.tree.iter() {
            let (k, v) = entry?;
            let name = String::from_utf8_lossy(&k).into_owned();
            let record = serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                tree: TREE,
                key: name.clone(),
                reason: e.to_string(),
            })?;
            out.push((name, record));
        }
        Ok(out)
    }
}
