//! Plugin logs and stdio, into `tracing` with tenant, shop and plugin fields.

use crate::shop::Shop;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Longest message kept from one plugin log call; the rest is cut with a marker, so a plugin
/// cannot flood the host's logs through one line.
pub const MAX_MESSAGE_BYTES: usize = 8 << 10;

pub fn emit(shop: &Shop, plugin: &str, level: Level, message: &str, fields: &[(String, String)]) {
    let message = truncate(message, MAX_MESSAGE_BYTES);
    let fields = if fields.is_empty() {
        String::new()
    } else {
        let joined: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        truncate(&joined.join(" "), MAX_MESSAGE_BYTES).into_owned()
    };
    let (tenant, shop_id) = (shop.tenant.as_str(), shop.shop_id.as_str());
    match level {
        Level::Trace => tracing::trace!(target: "wharf::plugin", tenant, shop = shop_id, plugin, %fields, "{message}"),
        Level::Debug => tracing::debug!(target: "wharf::plugin", tenant, shop = shop_id, plugin, %fields, "{message}"),
        Level::Info => tracing::info!(target: "wharf::plugin", tenant, shop = shop_id, plugin, %fields, "{message}"),
        Level::Warn => tracing::warn!(target: "wharf::plugin", tenant, shop = shop_id, plugin, %fields, "{message}"),
        Level::Error => tracing::error!(target: "wharf::plugin", tenant, shop = shop_id, plugin, %fields, "{message}"),
    }
}

/// What a plugin wrote to stdout / stderr during a call, one event per line.
pub fn emit_stdio(shop: &Shop, plugin: &str, stream: &str, bytes: &[u8]) {
    for line in String::from_utf8_lossy(bytes).lines().filter(|l| !l.trim().is_empty()) {
        let line = truncate(line, MAX_MESSAGE_BYTES);
        tracing::info!(target: "wharf::plugin", tenant = %shop.tenant, shop = %shop.shop_id, plugin, stream, "{line}");
    }
}

fn truncate(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[{} bytes cut]", &s[..end], s.len() - end).into()
}
