//! Tenants made over the API, as the documents they were made from, sealed: a document holds
//! the shops' credentials, which must not sit in the data folder in the clear.

use serde_json::Value;

use super::StoreError;
use super::backend::Tree;
use super::pii::Sealer;

pub(super) const TREE: &str = "tenant_documents";

/// The tenant documents tree. Key: tenant id; value: the document sealed for that tenant.
#[derive(Clone)]
pub struct TenantBook {
    tree: Tree,
    sealer: Sealer,
}

impl TenantBook {
    pub(super) fn new(tree: Tree, sealer: Sealer) -> Self {
        Self { tree, sealer }
    }

    pub fn put(&self, id: &str, document: &Value) -> Result<(), StoreError> {
        let plain = serde_json::to_vec(document).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.tree.insert(id.as_bytes(), self.sealer.seal(id, id.as_bytes(), &plain).into_bytes())?;
        self.tree.flush()?;
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<Option<Value>, StoreError> {
        let Some(sealed) = self.tree.get(id.as_bytes())? else { return Ok(None) };
        self.open(id, &sealed).map(Some)
    }

    /// Every stored document, by tenant id.
    pub fn all(&self) -> Result<Vec<(String, Value)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.tree.iter() {
            let (k, v) = entry?;
            let id = String::from_utf8_lossy(&k).into_owned();
            out.push((id.clone(), self.open(&id, &v)?));
        }
        Ok(out)
    }

    /// `true` when there was one.
    pub fn remove(&self, id: &str) -> Result<bool, StoreError> {
        let removed = self.tree.remove(id.as_bytes())?.is_some();
        self.tree.flush()?;
        Ok(removed)
    }

    fn open(&self, id: &str, sealed: &[u8]) -> Result<Value, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt { tree: TREE, key: id.to_owned(), reason };
        let plain = self.sealer.open(id, id.as_bytes(), &String::from_utf8_lossy(sealed)).map_err(corrupt)?;
        serde_json::from_slice(&plain).map_err(|e| corrupt(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use serde_json::json;

    #[test]
    fn documents_are_sealed_at_rest_and_read_back_whole() {
        let store = Store::temporary().unwrap();
        let doc = json!({"id": "acme", "shops": [{"credentials": {"session": "top-secret-session"}}]});
        store.tenants().put("acme", &doc).unwrap();
        assert_eq!(store.tenants().get("acme").unwrap(), Some(doc.clone()));
        assert_eq!(store.tenants().all().unwrap(), vec![("acme".to_owned(), doc)]);
        let raw = store.tenants().tree.get("acme").unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("top-secret"));
        assert!(store.tenants().remove("acme").unwrap());
        assert_eq!(store.tenants().get("acme").unwrap(), None);
    }
}
