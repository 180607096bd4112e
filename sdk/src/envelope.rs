//! Opening a platform's answer envelope: a one-key JSON object whose key says success or
//! failure.
//!
//! TOP answers `{"<method>_response": {...}}` or `{"error_response": {...}}`; JOS, which grew
//! out of TOP, answers `{"<method>_responce": {...}}` (its spelling) or the same
//! `error_response`. [`open`] tells them apart; an answer that is neither (HTML from a proxy,
//! an empty or cut-off body, JSON without either key) is `transient`, since retrying is safe
//! and the request was not at fault; a success key holding something other than an object is
//! `invalid_input` naming it. Reading what is inside stays the plugin's. Both gateways
//! say how long a throttle lasts in the same words, which [`ban_seconds`] reads.

use serde_json::Value;
use wharf_sdk::api;
use wharf_sdk::error::DEFAULT_RETRY_AFTER_MS;
use wharf_sdk::json::{self, Node};
use wharf_sdk::types::ConnectorError;

/// What an answer held.
#[derive(Debug, Clone, PartialEq)]
pub enum Envelope {
    /// The object under the success key.
    Success(Value),
    /// The value under the error key.
    Error(Value),
}

/// Parses `body` and takes out the object under `success_key`, or the value under
/// `error_key`. Not the envelope at all: `transient`; a success key without an object:
/// `invalid_input` naming `success_key`.
pub fn open(body: &[u8], success_key: &str, error_key: &str) -> Result<Envelope, ConnectorError> {
    let document = json::parse_answer(body, success_key)?;
    let expected = || format!("`{success_key}` or `{error_key}`");
    let Value::Object(mut root) = document else {
        return Err(json::not_the_envelope(success_key, &expected(), &document));
    };
    if let Some(error) = root.remove(error_key) {
        return Ok(Envelope::Error(error));
    }
    match root.remove(success_key) {
        Some(inner @ Value::Object(_)) => Ok(Envelope::Success(inner)),
        Some(other) => Err(ConnectorError::invalid_input(
            success_key,
            format!("expected an object, got {}", json::describe(Some(&other))),
        )),
        None => Err(json::not_the_envelope(success_key, &expected(), &Value::Object(root))),
    }
}

/// The key of the error envelope of TOP and JOS.
pub const ERROR_RESPONSE: &str = "error_response";

/// The inside of the object under `success_key`, or what the error under `error_key` means:
/// `error` gets its code (see [`error_code`]) and the error itself, and answers by the
/// gateway's table. Otherwise as [`open`].
pub fn open_coded(
    body: &[u8],
    success_key: &str,
    error_key: &str,
    error: impl FnOnce(&str, &Node<'_>) -> ConnectorError,
) -> Result<Value, ConnectorError> {
    match open(body, success_key, error_key)? {
        Envelope::Success(inner) => Ok(inner),
        Envelope::Error(value) => {
            let node = Node::root(&value, error_key);
            Err(match error_code(&node) {
                Ok(code) => error(&code, &node),
                Err(no_code) => no_code,
            })
        }
    }
}

/// The `code` of an error envelope as text (`7` and `"7"` alike), or `invalid_input` naming
/// it: an error without a code cannot be told apart from any other.
pub fn error_code(error: &Node<'_>) -> Result<String, ConnectorError> {
    match error.raw("code").and_then(api::param_text) {
        Some(code) => Ok(code),
        None => Err(ConnectorError::invalid_input(
            error.path_of("code"),
            format!("expected an error code, got {}", json::describe(error.value().get("code"))),
        )),
    }
}

/// The text under `key` of an error envelope; empty when absent or not text.
pub fn error_text<'a>(error: &Node<'a>, key: &str) -> &'a str {
    error.raw(key).and_then(Value::as_str).unwrap_or_default()
}

/// How TOP and JOS say how long a throttle lasts: "This ban will last for 12 more seconds".
const BAN_PHRASE: &str = "ban will last for ";

/// N from "… ban will last for N more seconds" (any case), if the text says so.
pub fn ban_seconds(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find(BAN_PHRASE)? + BAN_PHRASE.len();
    let digits: String = lower[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The wait the first of `texts` that names a ban asks for, in ms; without one,
/// [`DEFAULT_RETRY_AFTER_MS`].
pub fn ban_retry_ms(texts: &[&str]) -> u64 {
    texts.iter().find_map(|t| ban_seconds(t)).map_or(DEFAULT_RETRY_AFTER_MS, |s| s.saturating_mul(1_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OK_KEY: &str = "jingdong_pop_order_get_responce";
    const ERR_KEY: &str = ERROR_RESPONSE;

    #[test]
    fn success_and_error_roots() {
        let ok = open(br#"{"jingdong_pop_order_get_responce":{"code":"0"}}"#, OK_KEY, ERR_KEY).unwrap();
        assert_eq!(ok, Envelope::Success(json!({"code": "0"})));
        let err = open(br#"{"error_response":{"code":"19"}}"#, OK_KEY, ERR_KEY).unwrap();
        assert_eq!(err, Envelope::Error(json!({"code": "19"})));
    }

    #[test]
    fn what_is_not_the_envelope_is_transient() {
        for body in
            [&b"<html>502</html>"[..], b"", br#"{"jingdong_pop_order_get_responce":{"co"#, b"[]", br#"{"other":{}}"#]
        {
            match open(body, OK_KEY, ERR_KEY) {
                Err(ConnectorError::Transient(m)) => assert!(m.starts_with(OK_KEY), "{m}"),
                other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
    }

    #[test]
    fn a_success_key_without_an_object_names_it() {
        match open(br#"{"jingdong_pop_order_get_responce":"x"}"#, OK_KEY, ERR_KEY) {
            Err(ConnectorError::InvalidInput(f)) => {
                assert_eq!(f.field, OK_KEY);
                assert!(f.reason.starts_with("expected an object"), "{}", f.reason);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_envelopes_are_mapped_and_their_codes_read() {
        let body = br#"{"error_response":{"code":19,"msg":"bad token"}}"#;
        let e = open_coded(body, OK_KEY, ERR_KEY, |code, e| ConnectorError::platform(code, error_text(e, "msg")));
        assert_eq!(e.unwrap_err(), ConnectorError::platform("19", "bad token"));
        let e = open_coded(br#"{"error_response":{"msg":"?"}}"#, OK_KEY, ERR_KEY, |_, _| unreachable!());
        assert!(matches!(e, Err(ConnectorError::InvalidInput(f)) if f.field == "error_response.code"));
        let ok = open_coded(br#"{"jingdong_pop_order_get_responce":{}}"#, OK_KEY, ERR_KEY, |_, _| unreachable!());
        assert_eq!(ok.unwrap(), json!({}));
        for (error, code) in [(json!({"code": 7}), "7"), (json!({"code": "isv.x"}), "isv.x")] {
            assert_eq!(error_code(&Node::root(&error, ERR_KEY)).unwrap(), code);
        }
        for error in [json!({"msg": "?"}), json!({"code": null})] {
            match error_code(&Node::root(&error, ERR_KEY)) {
                Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, "error_response.code"),
                other => panic!("{other:?}"),
            }
        }
        let error = json!({"msg": "m", "n": 1});
        let node = Node::root(&error, ERR_KEY);
        assert_eq!((error_text(&node, "msg"), error_text(&node, "n"), error_text(&node, "x")), ("m", "", ""));
    }

    #[test]
    fn ban_phrase() {
        assert_eq!(ban_seconds("App Call Limited, This ban will last for 12 more seconds"), Some(12));
        assert_eq!(ban_seconds("this BAN will last for 0 more seconds"), Some(0));
        assert_eq!(ban_seconds("App Call Limited"), None);
        assert_eq!(ban_seconds("ban will last for more seconds"), None);
        assert_eq!(ban_retry_ms(&["限制时间内调用失败次数", "This ban will last for 3 more seconds"]), 3_000);
        assert_eq!(ban_retry_ms(&["App Call Limited"]), DEFAULT_RETRY_AFTER_MS);
    }
}
