//! Plugin logs and stdio, into `tracing` with tenant, shop and plugin fields.
//!
//! What a plugin writes is untrusted text going into the host's own log, so three things hold
//! whatever it writes: every control character is escaped (a newline cannot start a forged
//! line for another tenant, an ANSI escape cannot repaint a terminal), each line is cut to
//! [`MAX_MESSAGE_BYTES`], and each shop has a budget of lines and bytes per second
//! ([`LogBudget`]); what is over it is dropped and counted, never queued.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

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
/// Most fields kept from one log call; a connector's structured fields are a handful.
pub const MAX_FIELDS: usize = 32;
/// Lines per second one shop's plugin may log, sustained: a busy connector logs a few lines
/// per page it pulls, and pages come at most a few per second per shop.
pub const LOG_LINES_PER_SECOND: f64 = 20.0;
/// Lines a shop may log at once above the sustained rate (one verbose call's worth).
pub const LOG_LINE_BURST: f64 = 200.0;
/// Bytes per second one shop's plugin may log, sustained: 20 lines of about 800 bytes. At this
/// rate a thousand shops write under 1.5 TB a day only if every one floods without pause.
pub const LOG_BYTES_PER_SECOND: f64 = 16.0 * 1024.0;
/// Bytes a shop may log at once above the sustained rate: eight lines at the cap.
pub const LOG_BYTE_BURST: f64 = 64.0 * 1024.0;

/// One shop's log budget: token buckets of lines and bytes, shared by every call of the shop.
#[derive(Debug)]
pub struct LogBudget {
    buckets: Mutex<Buckets>,
    dropped: AtomicU64,
}

#[derive(Debug)]
struct Buckets {
    lines: f64,
    bytes: f64,
    at: Instant,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget {
            buckets: Mutex::new(Buckets { lines: LOG_LINE_BURST, bytes: LOG_BYTE_BURST, at: Instant::now() }),
            dropped: AtomicU64::new(0),
        }
    }
}

impl LogBudget {
    /// Takes one line of `bytes`; `false` (and counted as dropped) when the shop is over budget.
    pub fn take(&self, bytes: usize) -> bool {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(b.at).as_secs_f64();
        b.at = now;
        b.lines = (b.lines + elapsed * LOG_LINES_PER_SECOND).min(LOG_LINE_BURST);
        b.bytes = (b.bytes + elapsed * LOG_BYTES_PER_SECOND).min(LOG_BYTE_BURST);
        let bytes = bytes as f64;
        if b.lines >= 1.0 && b.bytes >= bytes {
            b.lines -= 1.0;
            b.bytes -= bytes;
            true
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    /// Lines dropped over budget since the shop started.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Logs one plugin line if the shop's budget allows; `false` when it was dropped.
pub fn emit(shop: &Shop, plugin: &str, level: Level, message: &str, fields: &[(String, String)]) -> bool {
    let message = printable(message, MAX_MESSAGE_BYTES);
    let fields = if fields.is_empty() {
        String::new()
    } else {
        let mut joined: Vec<String> = fields
            .iter()
            .take(MAX_FIELDS)
            .map(|(k, v)| format!("{}={}", printable(k, MAX_MESSAGE_BYTES), printable(v, MAX_MESSAGE_BYTES)))
            .collect();
        if fields.len() > MAX_FIELDS {
            joined.push(format!("…[{} fields cut]", fields.len() - MAX_FIELDS));
        }
        printable(&joined.join(" "), MAX_MESSAGE_BYTES)
    };
    if !shop.log_budget.take(message.len() + fields.len()) {
        return false;
    }
    let (tenant, shop_id) = (shop.tenant.as_str(), shop.shop_id.as_str());
    match level {
        Level::Trace => tracing::trace!(target: "wharf::plugin", tenant, shop = shop_id, plugin, %fields, "{message}"),
        Level::Debug => tracing::debug!(target: "wharf::plugin", tenant, shop = shop_id, plugin, %fields, "{message}"),
        Level::Info => tracing::info!(target: "wharf::plugin", tenant, shop = shop_id, plugin, %fields, "{message}"),
        Level::Warn => tracing::warn!(target: "wharf::plugin", tenant, shop = shop_id, plugin, %fields, "{message}"),
        Level::Error => tracing::error!(target: "wharf::plugin", tenant, shop = shop_id, plugin, %fields, "{message}"),
    }
    true
}

/// What a plugin wrote to stdout / stderr during a call, one event per line, within the shop's
/// budget; answers how many lines were dropped.
pub fn emit_stdio(shop: &Shop, plugin: &str, stream: &str, bytes: &[u8]) -> u64 {
    let mut dropped = 0;
    for line in String::from_utf8_lossy(bytes).lines().filter(|l| !l.trim().is_empty()) {
        let line = printable(line, MAX_MESSAGE_BYTES);
        if !shop.log_budget.take(line.len()) {
            dropped += 1;
            continue;
        }
        tracing::info!(target: "wharf::plugin", tenant = %shop.tenant, shop = %shop.shop_id, plugin, stream, "{line}");
    }
    dropped
}

/// `s` cut to about `max` bytes with every control character escaped (`\n`, `\u{1b}`), as well
/// as the line and paragraph separators and the bidirectional overrides that reorder a
/// terminal's text: what a plugin writes can never span or fake a line of the host's log.
pub fn printable(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    let mut cut_at = None;
    for (i, c) in s.char_indices() {
        let escaped =
            c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        let before = out.len();
        if escaped {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        if out.len() > max {
            out.truncate(before);
            cut_at = Some(i);
            break;
        }
    }
    if let Some(i) = cut_at {
        out.push_str(&format!("…[{} bytes cut]", s.len() - i));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_forge_lines_or_repaint() {
        let forged = "ok\n2026-11-11T00:00:00Z  INFO wharf::plugin: tenant=victim paid\r\u{1b}[2J\u{0}\u{2028}";
        let out = printable(forged, MAX_MESSAGE_BYTES);
        assert!(!out.chars().any(|c| c.is_control() || c == '\u{2028}'), "{out:?}");
        assert!(out.starts_with("ok\\n2026"), "{out}");
        assert!(out.contains("\\u{1b}[2J"), "{out}");
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let out = printable(&"界".repeat(10_000), 100);
        assert!(out.starts_with(&"界".repeat(33)) && out.ends_with("bytes cut]"), "{out}");
        assert!(out.len() < 130);
        let out = printable(&"\n".repeat(10_000), 100);
        assert!(out.len() < 130 && out.contains("cut"), "escapes count toward the cap: {out}");
    }

    #[test]
    fn a_flood_is_limited_per_shop_and_counted() {
        let shop = Shop::new("t", "s");
        let kept = (0..10_000).filter(|i| emit(&shop, "p", Level::Info, &format!("line {i}"), &[])).count();
        assert!(kept as f64 <= LOG_LINE_BURST + 5.0, "kept {kept}");
        assert_eq!(shop.log_budget.dropped(), 10_000 - kept as u64);
        // Another shop has its own budget.
        assert!(emit(&Shop::new("t", "other"), "p", Level::Info, "hello", &[]));
        // Bytes are limited too: a few lines at the cap use the byte burst up.
        let big = Shop::new("t", "big");
        let long = "x".repeat(MAX_MESSAGE_BYTES);
        let kept = (0..100).filter(|_| emit(&big, "p", Level::Info, &long, &[])).count();
        assert!(kept as f64 <= LOG_BYTE_BURST / MAX_MESSAGE_BYTES as f64 + 1.0, "kept {kept}");
    }
}
