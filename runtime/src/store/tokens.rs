//! API tokens, stored hashed: operator-wide, or scoped to one tenant.
//!
//! A token is 32 random bytes, shown once when it is made; the store keeps only its SHA-256,
//! so a copy of the data folder does not hand out access.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreError;
use super::backend::Tree;

pub(super) const TREE: &str = "api_tokens";
/// What every token starts with, so one found in a log or a repository is recognisable.
pub const PREFIX: &str = "wharf_";

/// What a token may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", content = "tenant", rename_all = "snake_case")]
pub enum Scope {
    /// Everything, every tenant.
    Operator,
    /// One tenant's data only.
    Tenant(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    name: String,
    scope: Scope,
    /// Granted plaintext receivers (`POST …/receivers/decrypt`); absent in tokens made before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    decrypt: bool,
}

/// What a token is: its name (for audits), its scope and whether it may decrypt receivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub name: String,
    pub scope: Scope,
    pub decrypt: bool,
}

/// The tokens tree.
#[derive(Clone)]
pub struct Tokens {
    tree: Tree,
}

/// The SHA-256 of a token, the only form kept.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    pub(super) fn new(tree: Tree) -> Self {
        Self { tree }
    }

    /// A new token for `scope`, named `name` (for audits); the plain token is returned once.
    pub fn create(&self, name: &str, scope: Scope) -> Result<String, StoreError> {
        self.create_granting(name, scope, false)
    }

    /// As [`Tokens::create`], granted decrypting receivers when `decrypt`.
    pub fn create_granting(&self, name: &str, scope: Scope, decrypt: bool) -> Result<String, StoreError> {
        use chacha20poly1305::aead::rand_core::RngCore as _;
        let mut bytes = [0u8; 32];
        chacha20poly1305::aead::OsRng.fill_bytes(&mut bytes);
        let token = format!("{PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
        let record = serde_json::to_vec(&Record { name: name.to_owned(), scope, decrypt })
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.tree.insert(hash(&token), record)?;
        Ok(token)
    }

    /// The scope of `token`, if it is one this store made.
    pub fn scope(&self, token: &str) -> Result<Option<Scope>, StoreError> {
        Ok(self.holder(token)?.map(|h| h.scope))
    }

    /// What `token` is, if it is one this store made.
    pub fn holder(&self, token: &str) -> Result<Option<Holder>, StoreError> {
        let Some(v) = self.tree.get(hash(token))? else { return Ok(None) };
        let record: Record = serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
            tree: TREE,
            key: "<token hash>".into(),
            reason: e.to_string(),
        })?;
        Ok(Some(Holder { name: record.name, scope: record.scope, decrypt: record.decrypt }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn tokens_are_kept_hashed_and_know_their_scope() {
        let store = Store::temporary().unwrap();
        let t = store.tokens().create("acme-erp", Scope::Tenant("acme".into())).unwrap();
        assert!(t.starts_with(PREFIX));
        assert_eq!(store.tokens().scope(&t).unwrap(), Some(Scope::Tenant("acme".into())));
        assert_eq!(store.tokens().scope("wharf_guess").unwrap(), None);
        let raw: Vec<u8> = store.tokens().tree.iter().next().unwrap().unwrap().0.to_vec();
        assert_eq!(raw, hash(&t), "only the hash is a key");
        assert!(!String::from_utf8_lossy(&store.tokens().tree.iter().next().unwrap().unwrap().1).contains(&t[6..]));
        assert!(!store.tokens().holder(&t).unwrap().unwrap().decrypt, "not granted unless asked");
        let printer = store.tokens().create_granting("labels", Scope::Tenant("acme".into()), true).unwrap();
        let holder = store.tokens().holder(&printer).unwrap().unwrap();
        assert_eq!((holder.name.as_str(), holder.decrypt), ("labels", true));
    }
}
