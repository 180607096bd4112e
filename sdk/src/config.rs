//! The shop's configuration: the raw `config` import plus checked readers.
//!
//! Errors name the key as `config.<key>` so an operator sees which setting to fix.

pub use crate::marketplace::wharf::connector::config::*;

use std::ops::RangeInclusive;

use crate::credentials;
use crate::types::ConnectorError;

/// The error path of a config key: `config.<key>`.
pub fn field(key: &str) -> String {
    format!("config.{key}")
}

/// A required setting (from the host).
pub fn require(key: &str) -> Result<String, ConnectorError> {
    required(key, get(key))
}

/// Checks that the secret `name` is configured (from the host), without seeing it.
pub fn require_secret(name: &str) -> Result<(), ConnectorError> {
    if credentials::has_secret(name) {
        Ok(())
    } else {
        Err(ConnectorError::invalid_input(field(name), "expected a configured secret, got none"))
    }
}

/// `value` of the required setting `key`; absent or empty is an error.
pub fn required(key: &str, value: Option<String>) -> Result<String, ConnectorError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        Some(_) => Err(ConnectorError::invalid_input(field(key), "expected a value, got an empty string")),
        None => Err(ConnectorError::invalid_input(field(key), "expected a value, got none (required setting)")),
    }
}

/// An integer setting within `range`; absent or empty means `default`.
pub fn u32_in(key: &str, value: Option<&str>, default: u32, range: RangeInclusive<u32>) -> Result<u32, ConnectorError> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    match text.parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConnectorError::invalid_input(
            field(key),
            format!("expected an integer in {}..={}, got {text:?}", range.start(), range.end()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_values() {
        assert_eq!(required("app_key", Some("123".into())).unwrap(), "123");
        for missing in [None, Some(String::new()), Some("  ".into())] {
            match required("app_key", missing) {
                Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, "config.app_key"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn bounded_integers() {
        assert_eq!(u32_in("page_size", None, 50, 1..=100).unwrap(), 50);
        assert_eq!(u32_in("page_size", Some(""), 50, 1..=100).unwrap(), 50);
        assert_eq!(u32_in("page_size", Some("100"), 50, 1..=100).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            match u32_in("page_size", Some(bad), 50, 1..=100) {
                Err(ConnectorError::InvalidInput(f)) => {
                    assert_eq!(f.field, "config.page_size");
                    assert!(f.reason.contains("1..=100") && f.reason.contains(bad), "{}", f.reason);
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
