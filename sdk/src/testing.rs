//! What plugins' native unit tests share (feature `testing`): a shop's config as a list of
//! pairs, and the scripted [`Api`](crate::api::Api) double.
//!
//! Settings are read through a `get` function (`config::get` in the sandbox), so a test gives
//! the same reader a table instead of a host.

use std::collections::BTreeMap;

pub use crate::api::Scripted;

/// A config of these `(key, value)` pairs, answering as `config::get` would; a key given twice
/// takes its last value, so a test can override a base config by appending to it.
pub fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |key| map.get(key).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_like_the_config_and_the_last_value_wins() {
        let get = lookup(&[("app_key", "1"), ("page_size", "10"), ("app_key", "2")]);
        assert_eq!(get("app_key").as_deref(), Some("2"));
        assert_eq!(get("page_size").as_deref(), Some("10"));
        assert_eq!(get("endpoint"), None);
    }
}
