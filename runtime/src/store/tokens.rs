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

/// A token as listed: never the token itself, only what names it. `id` is the first hex
/// digits of its hash, enough to tell a tenant's tokens apart and to revoke one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub decrypt: bool,
}

/// Hex digits of a token's hash its listed id shows (48 bits: a collision among one tenant's
/// tokens would take millions of them).
const ID_HEX: usize = 12;

/// The listed id of a token whose hash is `hash`.
fn id_of(hash: &[u8]) -> String {
    hex::encode(hash).chars().take(ID_HEX).collect()
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

    /// The id [`Tokens::list`] shows for `token`.
    pub fn id(token: &str) -> String {
        id_of(&hash(token))
    }

    /// `tenant`'s tokens, by id.
    pub fn list(&self, tenant: &str) -> Result<Vec<TokenInfo>, StoreError> {
        let mut out = Vec::new();
        for entry in self.tree.iter() {
            let (k, v) = entry?;
            let record = Self::decode(&v)?;
            if record.scope == Scope::Tenant(tenant.to_owned()) {
                out.push(TokenInfo { id: id_of(&k), name: record.name, decrypt: record.decrypt });
            }
        }
        out.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(out)
    }

    /// Revokes `tenant`'s token listed as `id`: it stops working at once. What it was, or
    /// `None` when the tenant has no such token.
    pub fn revoke(&self, tenant: &str, id: &str) -> Result<Option<TokenInfo>, StoreError> {
        for entry in self.tree.iter() {
            let (k, v) = entry?;
            let record = Self::decode(&v)?;
            if record.scope == Scope::Tenant(tenant.to_owned()) && id_of(&k) == id {
                self.tree.remove(&k)?;
                return Ok(Some(TokenInfo { id: id.to_owned(), name: record.name, decrypt: record.decrypt }));
            }
        }
        Ok(None)
    }

    fn decode(v: &[u8]) -> Result<Record, StoreError> {
        serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
            tree: TREE,
            key: "<token hash>".into(),
            reason: e.to_string(),
        })
    }

    /// The scope of `token`, if it is one this store made.
    pub fn scope(&self, token: &str) -> Result<Option<Scope>, StoreError> {
        Ok(self.holder(token)?.map(|h| h.scope))
    }

    /// What `token` is, if it is one this store made.
    pub fn holder(&self, token: &str) -> Result<Option<Holder>, StoreError> {
        let Some(v) = self.tree.get(hash(token))? else { return Ok(None) };
        let record = Self::decode(&v)?;
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

        // Listed by id and name, never the token; revoked, it stops working at once.
        let other = store.tokens().create("beta-erp", Scope::Tenant("beta".into())).unwrap();
        let listed = store.tokens().list("acme").unwrap();
        let ids: Vec<(&str, &str)> = listed.iter().map(|t| (t.name.as_str(), t.id.as_str())).collect();
        let (t_id, printer_id) = (Tokens::id(&t), Tokens::id(&printer));
        assert_eq!(ids, [("acme-erp", t_id.as_str()), ("labels", printer_id.as_str())]);
        assert_eq!(store.tokens().revoke("beta", &t_id).unwrap(), None, "not another tenant's");
        assert_eq!(store.tokens().revoke("acme", &t_id).unwrap().map(|i| i.name), Some("acme-erp".into()));
        assert_eq!(store.tokens().holder(&t).unwrap(), None);
        assert_eq!(store.tokens().revoke("acme", &t_id).unwrap(), None);
        assert!(store.tokens().holder(&other).unwrap().is_some());
    }
}
