//! One bad record is one bad record: turning a record's mapping error into a
//! [`Rejected`] entry of its page, so the rest of the page (and the window behind it) flows.
//!
//! A rejection carries the record's own platform id (stable from one round to the next; an
//! index into a page is not), the field and reason of the error, and an excerpt of the record
//! as the platform sent it, for the operator who looks at the quarantine. Receiver data never
//! goes into an excerpt: the plugin names its platform's private keys and their string values
//! are masked wherever they sit in the record.
//!
//! Only errors about the record itself reject it: `invalid_input` (a field that is missing,
//! of the wrong type or out of range) and `not_found` (a listed record whose detail is gone).
//! Every other error (auth, throttling, the platform down or answering garbage) is about the
//! call, and stops it, so the host retries the whole page.

use serde_json::Value;

use crate::json::{Node, as_id};
use crate::mask::MASK;
use crate::types::{ConnectorError, Rejected};

/// Longest excerpt a plugin sends, in characters: enough to see the record's shape and the
/// offending field on one screen; the host caps what it stores again.
pub const MAX_EXCERPT_CHARS: usize = 2_000;

/// What became of one record: mapped, or set aside with its reason.
pub type Mapped<T> = Result<T, Rejected>;

/// Settles the mapping of one record: `Ok(Ok(record))` when it mapped, `Ok(Err(rejected))`
/// when the record itself is bad, `Err` when the call cannot go on.
///
/// `id` is the record's platform id (or the best description of it when the id itself is
/// unreadable); `raw` the record as the platform sent it; `private` the platform's keys whose
/// values are receiver data (masked in the excerpt, at any depth).
pub fn settle<T>(
    id: &str,
    raw: Option<&Value>,
    mapped: Result<T, ConnectorError>,
    private: &[&str],
) -> Result<Mapped<T>, ConnectorError> {
    match mapped {
        Ok(record) => Ok(Ok(record)),
        Err(error) => rejection(id, raw, error, private).map(Err),
    }
}

/// The id of the record at `node`, read from its `key`; when that is unreadable, the record's
/// place in the answer, which is all there is to name it by.
pub fn record_id(node: &Node, key: &str) -> String {
    match node.raw(key).map(as_id) {
        Some(Ok(id)) => id,
        _ => format!("{} (no readable {key})", node.path()),
    }
}

/// The rejection of the record `id` for `error`, or `error` back when it is about the call.
pub fn rejection(
    id: &str,
    raw: Option<&Value>,
    error: ConnectorError,
    private: &[&str],
) -> Result<Rejected, ConnectorError> {
    let (field, reason) = match error {
        ConnectorError::InvalidInput(e) => (e.field, e.reason),
        ConnectorError::NotFound(what) => (String::new(), format!("not found on the platform: {what}")),
        other => return Err(other),
    };
    Ok(Rejected { id: id.to_owned(), field, reason, excerpt: raw.map(|raw| excerpt(raw, private)) })
}

/// `raw` as compact JSON with the string values of `private` keys masked, cut to
/// [`MAX_EXCERPT_CHARS`] (with `…` when cut).
pub fn excerpt(raw: &Value, private: &[&str]) -> String {
    let mut value = raw.clone();
    mask_private(&mut value, private);
    let text = value.to_string();
    match text.char_indices().nth(MAX_EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Replaces every character of the non-empty string values under `private` keys with the mask
/// character; numbers under those keys (phones sent as numbers) become a masked string too.
fn mask_private(value: &mut Value, private: &[&str]) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if private.contains(&key.as_str()) {
                    mask_leaves(child);
                } else {
                    mask_private(child, private);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| mask_private(item, private)),
        _ => {}
    }
}

fn mask_leaves(value: &mut Value) {
    match value {
        Value::String(s) if !s.is_empty() => *s = std::iter::repeat_n(MASK, s.chars().count().min(8)).collect(),
        Value::Number(n) => *value = Value::String(std::iter::repeat_n(MASK, n.to_string().len().min(8)).collect()),
        Value::Object(map) => map.values_mut().for_each(mask_leaves),
        Value::Array(items) => items.iter_mut().for_each(mask_leaves),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_field_error_rejects_the_record_with_its_id_and_a_masked_excerpt() {
        let raw = json!({"order_id": "69", "post_receiver": "张三", "post_addr": {"detail": "文三路100号", "province": {"name": "浙江省"}}, "post_tel": 13812345678_u64});
        let error = ConnectorError::invalid_input("sku_order_list[0].sum_amount", "expected 200, got 100");
        let rejected = rejection("69", Some(&raw), error, &["post_receiver", "post_addr", "post_tel"]).unwrap();
        assert_eq!((rejected.id.as_str(), rejected.field.as_str()), ("69", "sku_order_list[0].sum_amount"));
        let excerpt = rejected.excerpt.unwrap();
        assert!(excerpt.contains("\"order_id\":\"69\""), "{excerpt}");
        for private in ["张三", "文三路", "浙江", "13812345678"] {
            assert!(!excerpt.contains(private), "{private} leaked: {excerpt}");
        }
    }

    #[test]
    fn errors_about_the_call_stop_it() {
        for error in [ConnectorError::Auth("expired".into()), ConnectorError::Transient("502".into())] {
            assert_eq!(rejection("1", None, error.clone(), &[]), Err(error));
        }
        let mapped: Result<Mapped<u32>, _> = settle("1", None, Ok(7), &[]);
        assert_eq!(mapped, Ok(Ok(7)));
    }

    #[test]
    fn a_record_is_named_by_its_id_or_else_by_its_place() {
        let page = json!([{"orderId": 3_000_000_000_000_000_001_u64}, {"orderId": 1.5}]);
        let rows = Node::root(&page, "orderInfoList").elements().unwrap();
        assert_eq!(record_id(&rows[0], "orderId"), "3000000000000000001");
        assert_eq!(record_id(&rows[1], "orderId"), "orderInfoList[1] (no readable orderId)");
    }

    #[test]
    fn long_records_are_cut() {
        let raw = json!({"memo": "备".repeat(3 * MAX_EXCERPT_CHARS)});
        let excerpt = excerpt(&raw, &[]);
        assert_eq!(excerpt.chars().count(), MAX_EXCERPT_CHARS + 1);
        assert!(excerpt.ends_with('…'));
    }
}
