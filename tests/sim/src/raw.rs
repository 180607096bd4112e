//! Platform documents a simulator serves exactly as given: the conformance suite's rule cases
//! ([`crate::harness::RuleCase`]) are written as the platform's own order documents, so a
//! plugin is held to the platform's documented field meanings, not to what our generators
//! happen to produce.
//!
//! A simulator keeps them beside its generated shop and lists them by what the platform lists
//! by (the modification time, the creation time, the status), read once from the document
//! by the simulator itself ([`RawOrder`]); the document itself goes out untouched.

use serde_json::Value;

/// One served document and what the simulator's listing needs to know of it.
#[derive(Clone, Debug)]
pub struct RawOrder {
    /// The order's id as the platform writes it (digits).
    pub id: String,
    /// The platform's status value the listing filters by (`"PAUSE"`, `"105"`).
    pub status: String,
    /// UTC ms.
    pub created_ms: i64,
    /// UTC ms.
    pub updated_ms: i64,
    pub doc: Value,
}

impl RawOrder {
    /// The id as a number for sorting beside generated orders (0 when it is not digits).
    pub fn number(&self) -> u64 {
        self.id.parse().unwrap_or(0)
    }
}

/// The text of a JSON string or number at `key` of `doc`.
pub fn text(doc: &Value, key: &str) -> Option<String> {
    match doc.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `text`, or an error naming the missing key.
pub fn required(doc: &Value, key: &str) -> Result<String, String> {
    text(doc, key).ok_or_else(|| format!("a raw order needs `{key}` (a string or number), got {doc}"))
}
