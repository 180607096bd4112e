//! How values look on TOP's wire: yuan strings, GMT+8 wall-clock timestamps, JSON text.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDateTime};

/// TOP's wall clock is China Standard Time, UTC+8, with no DST (platforms.md).
pub const GMT8_OFFSET_MS: i64 = 8 * 3600 * 1000;

/// The one timestamp layout TOP uses, `yyyy-MM-dd HH:mm:ss`.
const TIMESTAMP_LAYOUT: &str = "%Y-%m-%d %H:%M:%S";

/// Fen to a yuan string with two decimals: `20007` → `"200.07"`, `-5` → `"-0.05"`.
pub fn yuan(fen: i64) -> String {
    let mut s = String::with_capacity(12);
    write_yuan(&mut s, fen);
    s
}

pub fn write_yuan(out: &mut String, fen: i64) {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    let _ = write!(out, "{sign}{}.{:02}", abs / 100, abs % 100);
}

/// Parses a yuan amount with at most two decimals (`"12"`, `"12.5"`, `"12.50"`) into fen.
/// Returns `None` for anything else, including signs, exponents and a third decimal.
pub fn parse_yuan(s: &str) -> Option<i64> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 2 {
        return None;
    }
    if s.ends_with('.') {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac_fen: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac_fen)
}

/// UTC milliseconds to TOP's GMT+8 `yyyy-MM-dd HH:mm:ss` (milliseconds dropped).
pub fn gmt8(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms + GMT8_OFFSET_MS) {
        Some(t) => t.naive_utc().format(TIMESTAMP_LAYOUT).to_string(),
        // Only for instants hundreds of thousands of years away; never generated.
        None => format!("<out of range: {ms} ms>"),
    }
}

/// Parses TOP's GMT+8 `yyyy-MM-dd HH:mm:ss` into UTC milliseconds; exactly that layout.
pub fn parse_gmt8(s: &str) -> Option<i64> {
    if s.len() != "yyyy-MM-dd HH:mm:ss".len() {
        return None;
    }
    let t = NaiveDateTime::parse_from_str(s, TIMESTAMP_LAYOUT).ok()?;
    Some(t.and_utc().timestamp_millis() - GMT8_OFFSET_MS)
}

/// Appends `s` as a JSON string literal.
pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes one JSON object's members, putting the commas in.
pub struct Obj<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Obj<'a> {
    pub fn open(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, empty: true }
    }

    /// Starts a member and returns the buffer to write its value into.
    pub fn key(&mut self, name: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }

    pub fn str(&mut self, name: &str, value: &str) {
        write_json_str(self.key(name), value);
    }

    pub fn raw(&mut self, name: &str, json: &str) {
        self.key(name).push_str(json);
    }

    pub fn num(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.key(name), "{value}");
    }

    pub fn bool(&mut self, name: &str, value: bool) {
        self.key(name).push_str(if value { "true" } else { "false" });
    }

    pub fn yuan(&mut self, name: &str, fen: i64) {
        let out = self.key(name);
        out.push('"');
        write_yuan(out, fen);
        out.push('"');
    }

    pub fn time(&mut self, name: &str, ms: i64) {
        let t = gmt8(ms);
        self.str(name, &t);
    }

    pub fn close(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_round_trips() {
        assert_eq!(yuan(20007), "200.07");
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(-5), "-0.05");
        assert_eq!(yuan(-1250), "-12.50");
        assert_eq!(parse_yuan("200.07"), Some(20007));
        assert_eq!(parse_yuan("12.5"), Some(1250));
        assert_eq!(parse_yuan("12"), Some(1200));
        for bad in ["", "1.234", "-1.00", "1e2", "abc", ".5", "5.", "1,00"] {
            assert_eq!(parse_yuan(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn gmt8_round_trips() {
        // 2016-01-01 12:00:00 GMT+8 is 04:00:00 UTC.
        let ms = 1_451_620_800_000;
        assert_eq!(gmt8(ms), "2016-01-01 12:00:00");
        assert_eq!(parse_gmt8("2016-01-01 12:00:00"), Some(ms));
        assert_eq!(parse_gmt8("2016-01-01T12:00:00"), None);
        assert_eq!(parse_gmt8("2016-1-1 12:00:00"), None);
        assert_eq!(parse_gmt8("2016-01-01 12:00:00.000"), None);
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        write_json_str(&mut s, "备注:\"加急\"\n\\x\u{1}");
        assert_eq!(s, r#""备注:\"加急\"\n\\x\u0001""#);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v, "备注:\"加急\"\n\\x\u{1}");
    }
}
