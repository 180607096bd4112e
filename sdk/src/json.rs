//! Reading platform JSON into canonical values, with errors that point at the field.
//!
//! A [`Node`] is a JSON value plus its path from the response root
//! (`trade.orders.order[2]`); the getters read one field of an object node and on failure
//! return a [`FieldError`] naming `trade.orders.order[2].price` and saying what was expected
//! and what came. Ids are read exactly: serde_json keeps integers as `u64`/`i64`, and an id
//! that only fits a float (> 2^64, or with a fraction) is rejected rather than rounded.
//!
//! Optional getters treat an absent field, `null` and `""` alike as "the platform does not
//! have it" (`None`): the canonical model never carries empty strings for missing values. A
//! value of the wrong type is never "absent": an object or array where a scalar came (or the
//! reverse), or a getter asked of a node that is not an object, is an error naming the field.
//!
//! What the canonical model forbids is refused here too, once for every plugin: negative
//! amounts where none are allowed ([`Node::amount`], [`Node::fen`]), zero quantities
//! ([`Node::quantity`]), an order without lines ([`Node::nonempty_array`]), and JSON floats
//! where a platform sends decimal strings or integer fen (a float has already lost the literal:
//! `1e5` and `100000.0` read the same).

use serde_json::Value;

use crate::money;
use crate::time;
use crate::types::{ConnectorError, FieldError};

/// Longest excerpt of an offending value quoted in an error.
const MAX_QUOTED_CHARS: usize = 60;

/// A JSON value and where it sits in the document.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    /// The root of a document (or of the part a mapping starts from), named `name` in paths.
    pub fn root(value: &'a Value, name: impl Into<String>) -> Self {
        Self { value, path: name.into() }
    }

    pub fn value(&self) -> &'a Value {
        self.value
    }

    /// Where this node is, e.g. `trade.orders.order[2]`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path of `key` under this node.
    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }

    /// An error about this node itself.
    pub fn error(&self, reason: impl Into<String>) -> FieldError {
        FieldError { field: self.path.clone(), reason: reason.into() }
    }

    /// An error about `key` under this node.
    pub fn error_at(&self, key: &str, reason: impl Into<String>) -> FieldError {
        FieldError { field: self.path_of(key), reason: reason.into() }
    }

    /// The raw value of `key` when this node is an object and `key` is present and not null.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        match self.value.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// The value of `key`, absent and `null` as `None`; an error when this node is not an
    /// object, since then no field of it can be read (`consigneeInfo: "abc"`).
    pub fn get(&self, key: &str) -> Result<Option<&'a Value>, FieldError> {
        match self.value {
            Value::Object(map) => Ok(map.get(key).filter(|v| !v.is_null())),
            other => {
                Err(self.error(format!("expected an object (to read `{key}` from), got {}", describe(Some(other)))))
            }
        }
    }

    /// The object at `key`; absent, null and `""` are `None`, any other non-object an error.
    pub fn opt_object(&self, key: &str) -> Result<Option<Node<'a>>, FieldError> {
        self.opt_of_kind(key, Value::is_object, "an object")
    }

    /// The object at `key`; anything else (absent included) is an error.
    pub fn object(&self, key: &str) -> Result<Node<'a>, FieldError> {
        self.opt_object(key)?
            .ok_or_else(|| self.error_at(key, format!("expected an object, got {}", describe(self.value.get(key)))))
    }

    /// The array at `key`; absent, null and `""` are `None`, any other non-array an error.
    pub fn opt_array(&self, key: &str) -> Result<Option<Node<'a>>, FieldError> {
        self.opt_of_kind(key, Value::is_array, "an array")
    }

    /// The elements of the array at `key`, of which there must be at least one (an order's
    /// lines): absent, empty or not an array is an error naming `key`.
    pub fn nonempty_array(&self, key: &str) -> Result<Vec<Node<'a>>, FieldError> {
        let elements = match self.opt_array(key)? {
            Some(array) => array.elements()?,
            None => Vec::new(),
        };
        if elements.is_empty() {
            return Err(
                self.error_at(key, format!("expected at least one element, got {}", describe(self.value.get(key))))
            );
        }
        Ok(elements)
    }

    fn opt_of_kind(
        &self,
        key: &str,
        is_kind: fn(&Value) -> bool,
        expected: &str,
    ) -> Result<Option<Node<'a>>, FieldError> {
        match self.get(key)? {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(value) if is_kind(value) => Ok(Some(Node { value, path: self.path_of(key) })),
            Some(other) => Err(self.error_at(key, format!("expected {expected}, got {}", describe(Some(other))))),
        }
    }

    /// Whether `key` is present with a value other than `null` or `""`.
    pub fn has(&self, key: &str) -> bool {
        match self.raw(key) {
            None => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        }
    }

    /// The child at `key` of whatever type, if present and not null. To read an object or an
    /// array, use [`Node::opt_object`] / [`Node::opt_array`] instead: they refuse a scalar where
    /// the object or array should be, which this reads as a node whose fields are all absent.
    pub fn field(&self, key: &str) -> Option<Node<'a>> {
        self.raw(key).map(|value| Node { value, path: self.path_of(key) })
    }

    /// The child at `key`; absent or null is an error.
    pub fn required(&self, key: &str) -> Result<Node<'a>, FieldError> {
        self.field(key)
            .ok_or_else(|| self.error_at(key, format!("expected a value, got {}", describe(self.value.get(key)))))
    }

    /// The elements of this node, which must be an array, as nodes `path[i]`.
    pub fn elements(&self) -> Result<Vec<Node<'a>>, FieldError> {
        match self.value {
            Value::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, value)| Node { value, path: format!("{}[{i}]", self.path) })
                .collect()),
            other => Err(self.error(format!("expected an array, got {}", describe(Some(other))))),
        }
    }

    /// A required string (may be empty).
    pub fn str(&self, key: &str) -> Result<String, FieldError> {
        let value = self.present(key, "a string")?;
        as_str(value).map(str::to_owned).map_err(|reason| self.error_at(key, reason))
    }

    /// An optional string; absent, null and `""` are `None`.
    pub fn opt_str(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.get(key)? {
            None => Ok(None),
            Some(value) => match as_str(value) {
                Ok("") => Ok(None),
                Ok(s) => Ok(Some(s.to_owned())),
                Err(reason) => Err(self.error_at(key, reason)),
            },
        }
    }

    /// A required id: a JSON integer (read exactly) or a non-empty string.
    pub fn id(&self, key: &str) -> Result<String, FieldError> {
        let value = self.present(key, "an id (integer or string)")?;
        as_id(value).map_err(|reason| self.error_at(key, reason))
    }

    /// An optional id; absent, null and `""` are `None`.
    pub fn opt_id(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.get(key)? {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(value) => as_id(value).map(Some).map_err(|reason| self.error_at(key, reason)),
        }
    }

    /// A required amount in yuan (a decimal string or a JSON number), as fen.
    pub fn money(&self, key: &str) -> Result<i64, FieldError> {
        let value = self.present(key, "a yuan amount like \"199.90\"")?;
        as_yuan(value).map_err(|reason| self.error_at(key, reason))
    }

    /// An optional amount in yuan, as fen; absent, null and `""` are `None`.
    pub fn opt_money(&self, key: &str) -> Result<Option<i64>, FieldError> {
        match self.get(key)? {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(value) => as_yuan(value).map(Some).map_err(|reason| self.error_at(key, reason)),
        }
    }

    /// A required amount in yuan that cannot be negative (a price, a paid total, a fee, a
    /// discount), as fen.
    pub fn amount(&self, key: &str) -> Result<i64, FieldError> {
        let fen = self.money(key)?;
        self.not_negative(key, fen)
    }

    /// An optional amount in yuan that cannot be negative, as fen.
    pub fn opt_amount(&self, key: &str) -> Result<Option<i64>, FieldError> {
        self.opt_money(key)?.map(|fen| self.not_negative(key, fen)).transpose()
    }

    /// A required amount in integer fen that cannot be negative: a JSON integer or a string of
    /// digits (抖店's amounts). Floats and exponents are refused.
    pub fn fen(&self, key: &str) -> Result<i64, FieldError> {
        let value = self.present(key, "an amount in integer fen")?;
        let fen = as_i64(value).map_err(|reason| self.error_at(key, format!("{reason} (an amount in integer fen)")))?;
        self.not_negative(key, fen)
    }

    /// An optional amount in integer fen that cannot be negative; absent, null and `""` are
    /// `None`.
    pub fn opt_fen(&self, key: &str) -> Result<Option<i64>, FieldError> {
        if !self.has(key) {
            self.get(key)?;
            return Ok(None);
        }
        self.fen(key).map(Some)
    }

    /// A required quantity of goods: a whole number of at least 1 that fits `u32`.
    pub fn quantity(&self, key: &str) -> Result<u32, FieldError> {
        match self.u32(key)? {
            0 => Err(self.error_at(key, "expected a quantity of at least 1, got 0")),
            n => Ok(n),
        }
    }

    fn not_negative(&self, key: &str, fen: i64) -> Result<i64, FieldError> {
        if fen < 0 {
            return Err(self.error_at(key, format!("expected an amount of at least 0, got {fen} fen")));
        }
        Ok(fen)
    }

    /// A required `yyyy-MM-dd HH:mm:ss` Asia/Shanghai time, as UTC ms.
    pub fn shanghai_time(&self, key: &str) -> Result<i64, FieldError> {
        let value = self.present(key, "a time `yyyy-MM-dd HH:mm:ss`")?;
        as_shanghai_time(value).map_err(|reason| self.error_at(key, reason))
    }

    /// An optional Asia/Shanghai time, as UTC ms; absent, null and `""` are `None`.
    pub fn opt_shanghai_time(&self, key: &str) -> Result<Option<i64>, FieldError> {
        match self.get(key)? {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(value) => as_shanghai_time(value).map(Some).map_err(|reason| self.error_at(key, reason)),
        }
    }

    /// A required Unix time in whole seconds (a JSON integer or a string of digits), as UTC
    /// ms. Negative seconds are refused: no platform sends a time before 1970, so one is a
    /// corrupted value, not an instant.
    pub fn unix_seconds(&self, key: &str) -> Result<i64, FieldError> {
        let seconds = self.i64(key)?;
        if seconds < 0 {
            return Err(self.error_at(key, format!("expected Unix seconds (at least 0), got {seconds}")));
        }
        time::unix_seconds_to_ms(seconds)
            .map_err(|e| self.error_at(key, format!("expected Unix seconds, got {seconds}: {e}")))
    }

    /// A required count that fits `u32`: a JSON integer or a string of digits.
    pub fn u32(&self, key: &str) -> Result<u32, FieldError> {
        let value = self.present(key, "a non-negative integer")?;
        as_u32(value).map_err(|reason| self.error_at(key, reason))
    }

    /// A required integer: a JSON integer or a string of digits with an optional `-`.
    pub fn i64(&self, key: &str) -> Result<i64, FieldError> {
        let value = self.present(key, "an integer")?;
        as_i64(value).map_err(|reason| self.error_at(key, reason))
    }

    /// A required boolean (`true` / `false` only).
    pub fn bool(&self, key: &str) -> Result<bool, FieldError> {
        let value = self.present(key, "a boolean")?;
        value.as_bool().ok_or_else(|| self.error_at(key, format!("expected a boolean, got {}", describe(Some(value)))))
    }

    /// An optional boolean.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, FieldError> {
        match self.get(key)? {
            None => Ok(None),
            Some(_) => self.bool(key).map(Some),
        }
    }

    fn present(&self, key: &str, expected: &str) -> Result<&'a Value, FieldError> {
        self.get(key)?
            .ok_or_else(|| self.error_at(key, format!("expected {expected}, got {}", describe(self.value.get(key)))))
    }
}

/// A string value, or why not.
pub fn as_str(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| format!("expected a string, got {}", describe(Some(value))))
}

/// An id from a JSON integer (exact, never through `f64`) or a non-empty string.
pub fn as_id(value: &Value) -> Result<String, String> {
    match value {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(u.to_string())
            } else if let Some(i) = n.as_i64() {
                Ok(i.to_string())
            } else {
                // serde_json only makes a float of a literal with a fraction or exponent, or
                // an integer beyond 64 bits: either way the exact id is already lost.
                Err(format!(
                    "expected an integer id (or an id string), got {}: a float cannot carry an id exactly",
                    describe(Some(value))
                ))
            }
        }
        // No platform's id holds control characters; one that does is corrupt (and a NUL or a
        // line break would travel on into ERP keys and IDoc XML).
        Value::String(s) if s.chars().any(char::is_control) => {
            Err(format!("expected an id without control characters, got {}", describe(Some(value))))
        }
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        other => Err(format!("expected an id (integer or non-empty string), got {}", describe(Some(other)))),
    }
}

/// Yuan from a decimal string or a JSON number, as fen, exactly.
pub fn as_yuan(value: &Value) -> Result<i64, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        // Platforms send yuan as decimal strings. A JSON integer is exact; a JSON float is not
        // what any of them sends and has lost its literal (`1e5` reads as `100000.0`), so it
        // is refused rather than guessed at.
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Value::Number(n) => {
            return Err(format!("expected a yuan amount as a decimal string like \"199.90\", got the JSON float {n}"));
        }
        other => {
            return Err(format!("expected a yuan amount like \"199.90\", got {}", describe(Some(other))));
        }
    };
    money::parse_yuan(&text).map_err(|e| e.to_string())
}

/// An Asia/Shanghai `yyyy-MM-dd HH:mm:ss` string, as UTC ms.
pub fn as_shanghai_time(value: &Value) -> Result<i64, String> {
    let text =
        as_str(value).map_err(|_| format!("expected a time `yyyy-MM-dd HH:mm:ss`, got {}", describe(Some(value))))?;
    time::shanghai_to_ms(text).map_err(|e| e.to_string())
}

/// A `u32` from a JSON integer or a string of ASCII digits.
pub fn as_u32(value: &Value) -> Result<u32, String> {
    let expected = || format!("expected a non-negative integer up to {}, got {}", u32::MAX, describe(Some(value)));
    match value {
        Value::Number(n) => n.as_u64().and_then(|u| u32::try_from(u).ok()).ok_or_else(expected),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().map_err(|_| expected()),
        _ => Err(expected()),
    }
}

/// An `i64` from a JSON integer or a string of ASCII digits with an optional leading `-`.
pub fn as_i64(value: &Value) -> Result<i64, String> {
    let expected = || format!("expected a 64-bit integer, got {}", describe(Some(value)));
    match value {
        Value::Number(n) => n.as_i64().ok_or_else(expected),
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(expected());
            }
            s.parse().map_err(|_| expected())
        }
        _ => Err(expected()),
    }
}

/// A short description of what came, for error messages: `nothing (absent)`, `null`,
/// `number 1.5`, `string "abc"`, `an object`, `an array of 3`.
pub fn describe(value: Option<&Value>) -> String {
    match value {
        None => "nothing (the field is absent)".to_owned(),
        Some(Value::Null) => "null".to_owned(),
        Some(Value::Bool(b)) => format!("boolean {b}"),
        Some(Value::Number(n)) => format!("number {n}"),
        Some(Value::String(s)) => {
            if s.chars().count() > MAX_QUOTED_CHARS {
                let head: String = s.chars().take(MAX_QUOTED_CHARS).collect();
                format!("string {head:?}…")
            } else {
                format!("string {s:?}")
            }
        }
        Some(Value::Array(items)) => format!("an array of {}", items.len()),
        Some(Value::Object(_)) => "an object".to_owned(),
    }
}

/// Parses a response body as JSON; on failure the error names `field` (usually the response
/// root) and quotes where parsing stopped.
pub fn parse_body(body: &[u8], field: &str) -> Result<Value, FieldError> {
    serde_json::from_slice(body).map_err(|e| FieldError {
        field: field.to_owned(),
        reason: format!("expected a JSON document, got {} bytes that fail to parse: {e}", body.len()),
    })
}

/// Parses a platform's answer body as JSON. A body that is not JSON at all (an HTML page from
/// a proxy under status 200, an empty body, a body cut off in transit) says nothing about the
/// request: it is `transient`, so the host retries, rather than `invalid_input`, which the
/// host dead-letters. `what` names the call in the message.
pub fn parse_answer(body: &[u8], what: &str) -> Result<Value, ConnectorError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ConnectorError::transient(format!(
            "{what}: the answer has an empty body, not the platform's JSON"
        )));
    }
    // One pass of UTF-8 validation over the whole body, then parsing text, is cheaper than the
    // string-by-string validation of parsing bytes (5 % of the Taobao plugin's time in wasm,
    // BENCHMARKS.md, issue 18). A body that is not UTF-8 is parsed as bytes, so that the error
    // says where it went wrong, as before.
    let parsed = match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    };
    parsed.map_err(|e| {
        let kind = if e.is_eof() { "a JSON document cut off" } else { "not JSON" };
        ConnectorError::transient(format!(
            "{what}: the answer is {kind} ({} bytes, {e}): {}",
            body.len(),
            crate::error::body_excerpt(&body[..body.len().min(120)])
        ))
    })
}

/// The error for an answer that parsed but is not the platform's envelope at all (an object
/// with none of its keys, an array): `transient`, like an unparsable one ([`parse_answer`]).
pub fn not_the_envelope(what: &str, expected: &str, got: &Value) -> ConnectorError {
    let got = match got {
        Value::Object(map) => {
            format!("an object with the keys {:?}", map.keys().map(String::as_str).collect::<Vec<_>>())
        }
        other => describe(Some(other)),
    };
    ConnectorError::transient(format!("{what}: expected the platform's envelope ({expected}), got {got}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        serde_json::from_str(
            r#"{"trade":{"tid":4611686018427387905,"oid":18446744073709551615,"neg":-42,
                "sid":"123","float_id":1.5,"huge_id":123456789012345678901234,
                "payment":"200.07","num_payment":199.9,"int_payment":12,
                "bad_money":"1.234","created":"2024-01-01 08:00:00","title":"中文","empty":"",
                "nul":null,"num":"3","n":2,"flag":true,
                "orders":{"order":[{"price":"1.00"},{"price":"x"}]}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn ids_are_exact() {
        let v = doc();
        let trade = Node::root(&v["trade"], "trade");
        assert_eq!(trade.id("tid").unwrap(), "4611686018427387905");
        assert_eq!(trade.id("oid").unwrap(), "18446744073709551615");
        assert_eq!(trade.id("neg").unwrap(), "-42");
        assert_eq!(trade.id("sid").unwrap(), "123");
        assert_eq!(trade.opt_id("empty").unwrap(), None);
        assert_eq!(trade.opt_id("nul").unwrap(), None);
        assert_eq!(trade.opt_id("missing").unwrap(), None);
        let err = trade.id("float_id").unwrap_err();
        assert_eq!(err.field, "trade.float_id");
        assert!(err.reason.contains("integer id") && err.reason.contains("1.5"), "{}", err.reason);
        // An integer literal beyond u64 becomes a float in serde_json, which ids refuse.
        let err = trade.id("huge_id").unwrap_err();
        assert!(err.reason.contains("float"), "{}", err.reason);
        let err = trade.id("missing").unwrap_err();
        assert_eq!(err.field, "trade.missing");
        assert!(err.reason.contains("absent"), "{}", err.reason);
        assert!(trade.id("flag").is_err());
        let v = json!({"nul": "12\u{0}", "nl": "12\n", "cn": "订单-1"});
        let n = Node::root(&v, "o");
        assert!(n.id("nul").unwrap_err().reason.contains("control characters"));
        assert!(n.opt_id("nl").is_err());
        assert_eq!(n.id("cn").unwrap(), "订单-1");
    }

    #[test]
    fn strings_money_times_counts() {
        let v = doc();
        let trade = Node::root(&v["trade"], "trade");
        assert_eq!(trade.str("title").unwrap(), "中文");
        assert_eq!(trade.str("empty").unwrap(), "");
        assert_eq!(trade.opt_str("empty").unwrap(), None);
        assert_eq!(trade.opt_str("title").unwrap().as_deref(), Some("中文"));
        assert_eq!(trade.opt_str("n").unwrap_err().field, "trade.n");
        assert_eq!(trade.money("payment").unwrap(), 20007);
        let err = trade.money("num_payment").unwrap_err();
        assert!(err.reason.contains("JSON float"), "{}", err.reason);
        assert_eq!(trade.money("int_payment").unwrap(), 1200);
        assert_eq!(trade.opt_money("missing").unwrap(), None);
        let err = trade.money("bad_money").unwrap_err();
        assert_eq!(err.field, "trade.bad_money");
        assert!(err.reason.contains("at most 2 decimals"), "{}", err.reason);
        assert_eq!(trade.shanghai_time("created").unwrap(), 1_704_067_200_000);
        assert_eq!(trade.opt_shanghai_time("nul").unwrap(), None);
        assert!(trade.shanghai_time("title").unwrap_err().reason.contains("yyyy-MM-dd HH:mm:ss"));
        assert_eq!(trade.u32("num").unwrap(), 3);
        assert_eq!(trade.u32("n").unwrap(), 2);
        assert!(trade.u32("neg").is_err());
        assert_eq!(trade.i64("neg").unwrap(), -42);
        assert!(trade.bool("flag").unwrap());
        assert_eq!(trade.opt_bool("missing").unwrap(), None);
        assert!(trade.bool("n").is_err());
        assert!(trade.has("title") && !trade.has("empty") && !trade.has("nul") && !trade.has("missing"));
        assert!(trade.has("n"));
    }

    #[test]
    fn paths_through_wrapped_lists() {
        let v = doc();
        let trade = Node::root(&v["trade"], "trade");
        let lines = trade.required("orders").unwrap().required("order").unwrap().elements().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].path(), "trade.orders.order[1]");
        assert_eq!(lines[0].money("price").unwrap(), 100);
        let err = lines[1].money("price").unwrap_err();
        assert_eq!(err.field, "trade.orders.order[1].price");
        assert!(err.reason.contains("\"x\""), "{}", err.reason);
        let err = trade.required("title").unwrap().elements().unwrap_err();
        assert_eq!(err.field, "trade.title");
        assert!(err.reason.contains("expected an array, got string \"中文\""), "{}", err.reason);
        assert_eq!(trade.required("nope").unwrap_err().field, "trade.nope");
    }

    #[test]
    fn describes_long_strings_briefly() {
        let long = "x".repeat(500);
        let text = describe(Some(&json!(long)));
        assert!(text.len() < 80 && text.ends_with('…'), "{text}");
    }

    #[test]
    fn wrong_types_are_errors_never_absent() {
        let v = json!({"consigneeInfo": "abc", "invoiceEasyInfo": 12345, "list": {"a": 1},
            "empty": "", "nul": null, "obj": {"k": "v"}, "lines": [], "one": [{}]});
        let n = Node::root(&v, "orderInfo");
        let e = n.opt_object("consigneeInfo").unwrap_err();
        assert_eq!(e.field, "orderInfo.consigneeInfo");
        assert!(e.reason.contains("expected an object, got string \"abc\""), "{}", e.reason);
        assert_eq!(n.opt_object("invoiceEasyInfo").unwrap_err().field, "orderInfo.invoiceEasyInfo");
        assert!(n.opt_object("empty").unwrap().is_none() && n.opt_object("nul").unwrap().is_none());
        assert!(n.opt_object("missing").unwrap().is_none());
        assert_eq!(n.opt_object("obj").unwrap().unwrap().path(), "orderInfo.obj");
        assert_eq!(n.object("missing").unwrap_err().field, "orderInfo.missing");
        assert_eq!(n.opt_array("list").unwrap_err().field, "orderInfo.list");
        assert_eq!(n.nonempty_array("lines").unwrap_err().field, "orderInfo.lines");
        assert_eq!(n.nonempty_array("missing").unwrap_err().field, "orderInfo.missing");
        assert_eq!(n.nonempty_array("one").unwrap().len(), 1);
        // A getter asked of a scalar names the scalar.
        let scalar = Node::root(&v["consigneeInfo"], "orderInfo.consigneeInfo");
        for e in
            [scalar.opt_str("fullname").unwrap_err(), scalar.opt_id("x").unwrap_err(), scalar.str("x").unwrap_err()]
        {
            assert_eq!(e.field, "orderInfo.consigneeInfo");
            assert!(e.reason.contains("expected an object"), "{}", e.reason);
        }
    }

    #[test]
    fn what_the_model_forbids_is_refused() {
        let v = json!({"neg": "-797.49", "zero": "0.00", "exp": "1e5", "float_exp": 1e5,
            "fen": 100, "neg_fen": -1, "float_fen": 100.0, "str_fen": "250", "exp_fen": "1e5",
            "q0": 0, "q": "3"});
        let n = Node::root(&v, "o");
        assert_eq!(n.money("neg").unwrap(), -79_749);
        let e = n.amount("neg").unwrap_err();
        assert_eq!(e.field, "o.neg");
        assert!(e.reason.contains("at least 0"), "{}", e.reason);
        assert_eq!(n.amount("zero").unwrap(), 0);
        assert_eq!(n.opt_amount("missing").unwrap(), None);
        assert!(n.opt_amount("neg").is_err());
        assert_eq!(n.money("exp").unwrap_err().field, "o.exp");
        assert_eq!(n.money("float_exp").unwrap_err().field, "o.float_exp");
        assert_eq!(n.fen("fen").unwrap(), 100);
        assert_eq!(n.fen("str_fen").unwrap(), 250);
        for bad in ["neg_fen", "float_fen", "exp_fen", "missing"] {
            assert_eq!(n.fen(bad).unwrap_err().field, format!("o.{bad}"));
        }
        assert_eq!(n.opt_fen("missing").unwrap(), None);
        assert!(n.opt_fen("neg_fen").is_err());
        assert_eq!(n.quantity("q").unwrap(), 3);
        let t = json!({"t": 1794326405, "s": "1794326405", "neg": -1, "float": 1.5e9});
        let t = Node::root(&t, "o");
        assert_eq!(t.unix_seconds("t").unwrap(), 1_794_326_405_000);
        assert_eq!(t.unix_seconds("s").unwrap(), 1_794_326_405_000);
        for bad in ["neg", "float", "missing"] {
            assert_eq!(t.unix_seconds(bad).unwrap_err().field, format!("o.{bad}"));
        }
        assert!(n.quantity("q0").unwrap_err().reason.contains("at least 1"));
    }

    #[test]
    fn answers_that_are_not_json_are_transient() {
        for body in [&b"<html>502 Bad Gateway</html>"[..], b"", b"  \n", b"{\"code\":10000,\"da"] {
            match parse_answer(body, "order.searchList") {
                Err(ConnectorError::Transient(m)) => {
                    assert!(m.starts_with("order.searchList"), "{m}")
                }
                other => panic!("{body:?}: {other:?}"),
            }
        }
        assert_eq!(parse_answer(b"{}", "x").unwrap(), json!({}));
        // Text is read as text, escapes and all; bytes that are not UTF-8 are refused, saying
        // where.
        assert_eq!(parse_answer("{\"收货人\":\"张\\u4e09\"}".as_bytes(), "x").unwrap(), json!({"收货人": "张三"}));
        match parse_answer(b"{\"name\":\"\xff\"}", "x") {
            Err(ConnectorError::Transient(m)) => assert!(m.contains("invalid unicode") && m.contains("column"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            not_the_envelope("x", "`code`", &json!({"error": 1})),
            ConnectorError::Transient(m) if m.contains("[\"error\"]")
        ));
    }

    #[test]
    fn unparsable_body() {
        let err = parse_body(b"<html>", "response").unwrap_err();
        assert_eq!(err.field, "response");
        assert!(err.reason.contains("expected a JSON document"), "{}", err.reason);
    }
}
