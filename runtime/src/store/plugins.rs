//! The plugin registry's records: per plugin name, its versions, which one is active, pins and
//! grants. The wasm itself lives in files beside the store (see `registry`); this tree is what
//! says which of them serve. On a store shared by several nodes the wasm is kept here too, by
//! its sha256, so a version uploaded to one node loads on every other.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use super::backend::Tree;

pub(super) const TREE: &str = "plugins";
/// The wasm of admitted versions by sha256 (shared stores only).
pub(super) const BLOBS: &str = "plugin_blobs";

/// The plugins tree. Key: plugin name; value: the registry's record as JSON.
#[derive(Clone)]
pub struct PluginBook {
    tree: Tree,
    blobs: Tree,
}

impl PluginBook {
    pub(super) fn new(tree: Tree, blobs: Tree) -> Self {
        Self { tree, blobs }
    }

    /// Keeps `wasm` under its `sha256` (content-addressed: the same bytes are one entry).
    pub fn put_blob(&self, sha256: &str, wasm: &[u8]) -> Result<(), StoreError> {
        if self.blobs.get(sha256)?.is_none() {
            self.blobs.insert(sha256, wasm)?;
        }
        Ok(())
    }

    pub fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.blobs.get(sha256)?.map(|b| b.to_vec()))
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
