//! The shop's configuration as the plugin sees it: non-secret values, then declared defaults.

use crate::model::Descriptor;
use crate::shop::Shop;

/// The value of `key` for the plugin, `None` for secrets whatever the shop holds.
pub fn get(shop: &Shop, descriptor: Option<&Descriptor>, key: &str) -> Option<String> {
    let declared = descriptor.and_then(|d| d.config_keys.iter().find(|k| k.name == key));
    if declared.is_some_and(|k| k.secret) || shop.secrets.contains(key) {
        return None;
    }
    shop.config.get(key).cloned().or_else(|| declared.and_then(|k| k.default_value.clone()))
}
