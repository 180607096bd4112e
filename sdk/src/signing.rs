//! Building the messages platforms sign, and asking the host to sign them.
//!
//! Plugins never hold secrets: they build the exact bytes to sign (with `{{secret:NAME}}`
//! placeholders where a secret value is part of the message) and the host hashes them with
//! the named secret. Everything here except [`sign`] is pure, so it is tested natively against
//! the platforms' published vectors.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::credentials::{self, Digest, HexCase, SignRequest};
use crate::types::ConnectorError;

/// Request parameters sorted by key in byte order, as TOP and JD sign them.
///
/// A `BTreeMap<String, _>` orders keys by their UTF-8 bytes, which is exactly the platforms'
/// "sort by key" (ASCII keys in practice).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SortedParams(BTreeMap<String, String>);

impl SortedParams {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` (replacing an earlier value).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.0.insert(key.into(), value.into());
        self
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// Pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `k1v1k2v2…` in key order, leaving out `exclude` (the `sign` param itself) and, when
    /// `skip_empty`, keys whose value is empty (TOP does not sign empty values).
    pub fn concat(&self, exclude: &[&str], skip_empty: bool) -> String {
        let mut out = String::new();
        for (k, v) in self.iter() {
            if exclude.contains(&k) || (skip_empty && v.is_empty()) {
                continue;
            }
            out.push_str(k);
            out.push_str(v);
        }
        out
    }

    /// `k1=v1&k2=v2…` in key order, form-urlencoded (see [`form_urlencode`]).
    pub fn form_urlencoded(&self) -> String {
        form_urlencode(self.iter())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for SortedParams {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

/// The parameter that carries the signature; it is never part of the signed message.
pub const SIGN_PARAM: &str = "sign";

/// The TOP (Taobao Open Platform) `sign_method`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopSignMethod {
    /// `UPPER_HEX(MD5(secret + s + secret))`.
    Md5,
    /// `UPPER_HEX(HMAC_MD5(key = secret, s))`.
    Hmac,
    /// `UPPER_HEX(HMAC_SHA256(key = secret, s))`.
    HmacSha256,
}

impl TopSignMethod {
    /// Parses the `sign_method` value; the error says what was expected.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "md5" => Ok(Self::Md5),
            "hmac" => Ok(Self::Hmac),
            "hmac-sha256" => Ok(Self::HmacSha256),
            other => Err(format!("expected one of \"md5\", \"hmac\", \"hmac-sha256\", got {other:?}")),
        }
    }

    /// The value of the `sign_method` request parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Hmac => "hmac",
            Self::HmacSha256 => "hmac-sha256",
        }
    }

    /// The host request that signs `params` (all of them except `sign`, empty values skipped)
    /// with the secret named `secret`.
    pub fn sign_request(self, secret: &str, params: &SortedParams) -> SignRequest {
        let (digest, wrap) = match self {
            Self::Md5 => (Digest::Md5, true),
            Self::Hmac => (Digest::HmacMd5, false),
            Self::HmacSha256 => (Digest::HmacSha256, false),
        };
        SignRequest {
            secret: secret.to_owned(),
            digest,
            wrap,
            hex: HexCase::Uppercase,
            message: top_sign_message(params).into_bytes(),
        }
    }
}

/// TOP's string to sign: every param except `sign`, empty values skipped, `k1v1k2v2…`.
pub fn top_sign_message(params: &SortedParams) -> String {
    params.concat(&[SIGN_PARAM], true)
}

/// JD JOS's string to sign: system params plus `360buy_param_json`, sorted, `k1v1k2v2…`.
/// Empty values are skipped as in TOP (JD's SDKs leave out unset params).
pub fn jd_sign_message(params: &SortedParams) -> String {
    params.concat(&[SIGN_PARAM], true)
}

/// Douyin's pattern to sign:
/// `"app_key"+app_key+"method"+method+"param_json"+param_json+"timestamp"+ts+"v"+v`.
/// The host wraps it in the secret (`wrap = true`) and hashes it.
pub fn douyin_sign_pattern(app_key: &str, method: &str, param_json: &str, timestamp: &str, version: &str) -> String {
    format!("app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v{version}")
}

/// JSON with object keys sorted by byte order at every level, no whitespace, and no HTML
/// escaping (`<`, `>`, `&` and non-ASCII text stay literal), as Douyin's `param_json` and
/// JD's `360buy_param_json` are signed.
///
/// Written out by hand rather than trusting `serde_json::to_string`, whose key order depends
/// on a crate feature (`preserve_order`) that any crate in the build may switch on.
pub fn compact_sorted_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value);
    out
}

fn write_json(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json(out, v);
            }
            out.push('}');
        }
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if c < '\u{20}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `application/x-www-form-urlencoded` of the pairs, in the given order.
///
/// Letters, digits and `-._*` stay, space becomes `+`, every other byte is `%XX` (upper hex) of
/// its UTF-8. A `{{secret:NAME}}` placeholder is encoded like any text; the host recognises the
/// encoded form (`%7B%7Bsecret%3ANAME%7D%7D`) and fills in the form-encoded value, so a secret
/// with `&`, `+` or `=` in it cannot break the form.
pub fn form_urlencode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_component(&mut out, k);
        out.push('=');
        encode_long_value(&mut out, v);
    }
    out
}

/// Values at least this long are remembered encoded. TOP's `fields` list (about 1 KiB, every
/// comma escaped) rides on each of a page's hundred `fullinfo` calls unchanged; encoding it
/// anew each time was a tenth of the Taobao plugin's time in wasm (BENCHMARKS.md, issue 18,
/// stop 33). Shorter values (times, ids, page numbers) change from call to call.
const REMEMBERED_VALUE_BYTES: usize = 256;

thread_local! {
    /// The last long value encoded, and its encoding. One per instance: an instance lives for
    /// one call.
    static LAST_LONG_VALUE: std::cell::RefCell<(String, String)> = const { std::cell::RefCell::new((String::new(), String::new())) };
}

/// [`encode_component`], remembering the last long value's encoding.
fn encode_long_value(out: &mut String, value: &str) {
    if value.len() < REMEMBERED_VALUE_BYTES {
        return encode_component(out, value);
    }
    LAST_LONG_VALUE.with_borrow_mut(|(last, encoded)| {
        if last != value {
            last.clear();
            last.push_str(value);
            encoded.clear();
            encode_component(encoded, value);
        }
        out.push_str(encoded);
    });
}

/// The opening of a secret placeholder, `{{secret:NAME}}`.
pub const PLACEHOLDER_OPEN: &str = "{{secret:";
const PLACEHOLDER_CLOSE: &str = "}}";

/// `{{secret:NAME}}`: where the host puts the value of secret `NAME`.
pub fn secret_placeholder(name: &str) -> String {
    format!("{PLACEHOLDER_OPEN}{name}{PLACEHOLDER_CLOSE}")
}

/// `%00%01…%FF`: a byte's percent-encoding is the three characters at three times its value.
const PERCENT: &str = {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    const TABLE: [u8; 768] = {
        let mut table = [0; 768];
        let mut b = 0;
        while b < 256 {
            table[3 * b] = b'%';
            table[3 * b + 1] = HEX[b >> 4];
            table[3 * b + 2] = HEX[b & 0x0f];
            b += 1;
        }
        table
    };
    match std::str::from_utf8(&TABLE) {
        Ok(text) => text,
        Err(_) => panic!("the percent table is ASCII"),
    }
};

/// Appends `s` form-encoded. Runs of bytes that stay are copied whole and an escape is one
/// copy from [`PERCENT`]: a TOP request carries its `fields` list (60-odd names, each comma
/// escaped) on every call, and this was 6 % of the Taobao plugin's time in wasm pushing byte by
/// byte (BENCHMARKS.md, issue 18, stop 32) and 8 % pushing each escape as three characters
/// (stop 33).
fn encode_component(out: &mut String, s: &str) {
    let stays = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*');
    out.reserve(s.len());
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        if stays(b) {
            continue;
        }
        // A non-empty `run..i` holds ASCII only, and an ASCII byte is never followed by a
        // continuation byte: both ends are character boundaries.
        if run < i {
            out.push_str(&s[run..i]);
        }
        if b == b' ' {
            out.push('+');
        } else {
            let at = 3 * usize::from(b);
            out.push_str(&PERCENT[at..at + 3]);
        }
        run = i + 1;
    }
    if run < s.len() {
        out.push_str(&s[run..]);
    }
}

/// Asks the host to sign; the secret stays in the host. An unknown secret is a configuration
/// problem (`invalid_input` on `config.<name>`).
pub fn sign(request: &SignRequest) -> Result<String, ConnectorError> {
    credentials::sign(request).map_err(crate::error::from_credential_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use md5::{Digest as _, Md5};
    use serde_json::json;

    /// The public TOP SDK test's parameters (see `plugins/platforms.md`).
    fn top_vector_params() -> SortedParams {
        [
            ("method", "taobao.item.seller.get"),
            ("app_key", "12345678"),
            ("session", "test"),
            ("timestamp", "2016-01-01 12:00:00"),
            ("format", "json"),
            ("v", "2.0"),
            ("sign_method", "md5"),
            ("fields", "num_iid,title,nick,price,num"),
            ("num_iid", "11223344"),
        ]
        .into_iter()
        .collect()
    }

    /// What the host does for `wrap = true` md5, here only to check our message.
    fn host_md5_wrapped(secret: &str, message: &[u8]) -> String {
        let mut hasher = Md5::new();
        hasher.update(secret.as_bytes());
        hasher.update(message);
        hasher.update(secret.as_bytes());
        hex::encode_upper(hasher.finalize())
    }

    #[test]
    fn top_md5_matches_published_vector() {
        let request = TopSignMethod::Md5.sign_request("app_secret", &top_vector_params());
        assert_eq!(request.secret, "app_secret");
        assert!(request.wrap);
        assert!(matches!(request.digest, Digest::Md5));
        assert!(matches!(request.hex, HexCase::Uppercase));
        assert_eq!(
            String::from_utf8(request.message.clone()).unwrap(),
            "app_key12345678fieldsnum_iid,title,nick,price,numformatjsonmethodtaobao.item.seller.get\
             num_iid11223344sessiontestsign_methodmd5timestamp2016-01-01 12:00:00v2.0"
        );
        assert_eq!(host_md5_wrapped("helloworld", &request.message), "66987CB115214E59E6EC978214934FB8");
    }

    #[test]
    fn top_message_skips_sign_and_empty_values() {
        let mut params = top_vector_params();
        params.insert("sign", "XYZ").insert("simplify", "");
        let request = TopSignMethod::Md5.sign_request("app_secret", &params);
        assert_eq!(host_md5_wrapped("helloworld", &request.message), "66987CB115214E59E6EC978214934FB8");
    }

    #[test]
    fn top_hmac_methods_do_not_wrap() {
        let params = top_vector_params();
        let hmac = TopSignMethod::Hmac.sign_request("app_secret", &params);
        assert!(!hmac.wrap && matches!(hmac.digest, Digest::HmacMd5));
        let sha = TopSignMethod::HmacSha256.sign_request("app_secret", &params);
        assert!(!sha.wrap && matches!(sha.digest, Digest::HmacSha256));
        // The message is the same for every method; the host keys the HMAC with the secret.
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"helloworld").unwrap();
        mac.update(&sha.message);
        assert_eq!(hex::encode_upper(mac.finalize().into_bytes()).len(), 64);
        assert_eq!(hmac.message, sha.message);
    }

    #[test]
    fn sign_method_parsing() {
        for m in [TopSignMethod::Md5, TopSignMethod::Hmac, TopSignMethod::HmacSha256] {
            assert_eq!(TopSignMethod::parse(m.as_str()), Ok(m));
        }
        let err = TopSignMethod::parse("sha1").unwrap_err();
        assert!(err.contains("\"md5\"") && err.contains("\"sha1\""), "{err}");
    }

    #[test]
    fn douyin_pattern() {
        assert_eq!(
            douyin_sign_pattern("123", "order.searchList", "{\"page\":0}", "1700000000", "2"),
            "app_key123methodorder.searchListparam_json{\"page\":0}timestamp1700000000v2"
        );
    }

    #[test]
    fn compact_sorted_json_sorts_keys_everywhere_and_keeps_text() {
        let value = json!({
            "size": 20,
            "page": 0,
            "b": {"z": [1, {"y": true, "x": null}], "a": "<a&b> 中文 \"q\"\n"},
            "big": 18446744073709551615u64,
        });
        assert_eq!(
            compact_sorted_json(&value),
            "{\"b\":{\"a\":\"<a&b> 中文 \\\"q\\\"\\n\",\"z\":[1,{\"x\":null,\"y\":true}]},\
             \"big\":18446744073709551615,\"page\":0,\"size\":20}"
        );
        assert_eq!(compact_sorted_json(&json!("\u{1}")), "\"\\u0001\"");
    }

    #[test]
    fn form_encoding_encodes_placeholders_for_the_host() {
        let mut params = SortedParams::new();
        params
            .insert("timestamp", "2016-01-01 12:00:00")
            .insert("session", secret_placeholder("session"))
            .insert("fields", "tid,modified")
            .insert("q", "中 a+b&c=d~{x}");
        assert_eq!(
            params.form_urlencoded(),
            "fields=tid%2Cmodified&q=%E4%B8%AD+a%2Bb%26c%3Dd%7E%7Bx%7D\
             &session=%7B%7Bsecret%3Asession%7D%7D&timestamp=2016-01-01+12%3A00%3A00"
        );
        assert_eq!(
            form_urlencode([("k", "a{{secret:x}}b{{secret:y"), ("e", "")]),
            "k=a%7B%7Bsecret%3Ax%7D%7Db%7B%7Bsecret%3Ay&e="
        );
        // Characters of several bytes at either end and side by side, runs that stay between.
        assert_eq!(
            form_urlencode([("中文", "a中"), ("b", "文b中文c")]),
            "%E4%B8%AD%E6%96%87=a%E4%B8%AD&b=%E6%96%87b%E4%B8%AD%E6%96%87c"
        );
        // Every byte: kept, `+`, or `%XY` in capitals, as RFC 1866's form encoding writes it.
        for b in 0u8..=0x7f {
            let text = char::from(b).to_string();
            let expected = match b {
                b' ' => "+".to_owned(),
                b'-' | b'.' | b'_' | b'*' => text.clone(),
                _ if b.is_ascii_alphanumeric() => text.clone(),
                _ => format!("%{b:02X}"),
            };
            assert_eq!(form_urlencode([("k", text.as_str())]), format!("k={expected}"), "byte {b:#04x}");
        }
        assert_eq!(form_urlencode([("k", "\u{10ffff}")]), "k=%F4%8F%BF%BF");
        // A long value is encoded the same whether it is new or the last one again.
        let (long, other) = ("a,b ".repeat(REMEMBERED_VALUE_BYTES), "c&".repeat(REMEMBERED_VALUE_BYTES));
        let (long_encoded, other_encoded) =
            ("a%2Cb+".repeat(REMEMBERED_VALUE_BYTES), "c%26".repeat(REMEMBERED_VALUE_BYTES));
        for (value, encoded) in
            [(&long, &long_encoded), (&long, &long_encoded), (&other, &other_encoded), (&long, &long_encoded)]
        {
            assert_eq!(form_urlencode([("f", value.as_str()), ("g", "x")]), format!("f={encoded}&g=x"));
        }
    }
}
