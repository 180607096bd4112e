//! The seam between a plugin's logic and the host: one platform call.
//!
//! A plugin's pulls and pushes are written against [`Api`], so the same code runs inside the
//! sandbox (an implementation that signs and sends through the host) and natively in unit
//! tests (the [`Scripted`] double, feature `testing`). What a "method" and "params" mean is
//! the platform's: TOP's `method` + form params, JOS's method + `360buy_param_json`, 抖店's
//! method + `param_json`, a bridge's action + query.

use serde_json::Value;

use crate::log::{self, Level};
use crate::types::ConnectorError;

/// One platform call.
pub trait Api {
    /// Calls `method` with `params` (a JSON object of the method's own parameters) and returns
    /// the inside of the platform's success envelope, or the error the answer means.
    fn call(&mut self, method: &str, params: &Value) -> Result<Value, ConnectorError>;

    /// A debug note for the operator's logs.
    fn note(&mut self, _message: &str, _fields: &[(&str, String)]) {}

    /// The `updated-at` of the newest version the host stores of each of `order_ids` (this
    /// shop's), or `None` ([`crate::stored`]). By default nothing is known, so everything listed
    /// is fetched.
    fn stored_order_versions(&mut self, order_ids: &[String]) -> Result<Vec<Option<i64>>, ConnectorError> {
        Ok(vec![None; order_ids.len()])
    }
}

/// Logs `message` with `fields` at debug level through the host (what [`Api::note`] does in
/// the sandbox).
pub fn host_note(message: &str, fields: &[(&str, String)]) {
    let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    log::log(Level::Debug, message, &fields);
}

/// Params given as text pairs (what form- and query-based platforms send), as the JSON
/// object [`Api::call`] takes.
pub fn text_params(pairs: &[(&str, String)]) -> Value {
    Value::Object(pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::String(v.clone()))).collect())
}

/// A parameter's value as the string a form or query carries: strings as they are, numbers
/// and booleans as JSON writes them. `null` is absent (`None`); arrays and objects are JSON.
pub fn param_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(any(test, feature = "testing"))]
pub use scripted::Scripted;

#[cfg(any(test, feature = "testing"))]
mod scripted {
    use std::collections::VecDeque;

    use serde_json::Value;

    use super::Api;
    use crate::types::ConnectorError;

    /// An [`Api`] answering from a script, in order, and recording what was asked.
    ///
    /// # Panics
    ///
    /// On a call beyond the script: the test forgot an answer, and should say so loudly.
    #[derive(Default)]
    pub struct Scripted {
        pub answers: VecDeque<Result<Value, ConnectorError>>,
        /// (method, params) of every call, in order.
        pub calls: Vec<(String, Value)>,
        /// What the host stores: order id → `updated-at` (what `stored_order_versions` answers).
        pub stored: std::collections::HashMap<String, i64>,
    }

    impl Scripted {
        pub fn answering(answers: Vec<Result<Value, ConnectorError>>) -> Self {
            Self { answers: answers.into(), ..Self::default() }
        }

        /// Parameter `key` of call number `call`, as text.
        pub fn param(&self, call: usize, key: &str) -> Option<String> {
            self.calls[call].1.get(key).and_then(super::param_text)
        }

        pub fn methods(&self) -> Vec<&str> {
            self.calls.iter().map(|(m, _)| m.as_str()).collect()
        }
    }

    impl Api for Scripted {
        fn call(&mut self, method: &str, params: &Value) -> Result<Value, ConnectorError> {
            self.calls.push((method.to_owned(), params.clone()));
            self.answers.pop_front().unwrap_or_else(|| panic!("unscripted call to {method}"))
        }

        fn stored_order_versions(&mut self, order_ids: &[String]) -> Result<Vec<Option<i64>>, ConnectorError> {
            Ok(order_ids.iter().map(|id| self.stored.get(id).copied()).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn param_text_writes_scalars_plainly() {
        assert_eq!(param_text(&json!("a b")), Some("a b".to_owned()));
        assert_eq!(param_text(&json!(12)), Some("12".to_owned()));
        assert_eq!(param_text(&json!(true)), Some("true".to_owned()));
        assert_eq!(param_text(&Value::Null), None);
        assert_eq!(param_text(&json!([1, 2])), Some("[1,2]".to_owned()));
    }

    #[test]
    fn scripted_records_and_answers_in_order() {
        let mut api = Scripted::answering(vec![Ok(json!({"n": 1})), Err(ConnectorError::transient("x"))]);
        assert_eq!(api.call("a", &json!({"k": 7})).unwrap(), json!({"n": 1}));
        assert!(api.call("b", &json!({})).is_err());
        assert_eq!(api.methods(), ["a", "b"]);
        assert_eq!(api.param(0, "k").as_deref(), Some("7"));
    }
}
