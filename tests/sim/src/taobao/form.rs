//! Request parameters: `application/x-www-form-urlencoded` body and query string.

/// Decoded request parameters in arrival order (query first, then body).
#[derive(Clone, Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

/// Why a parameter string could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormError(pub String);

impl Params {
    /// Adds the pairs of one urlencoded string (`a=1&b=%E4%B8%AD+x`).
    pub fn extend_from_urlencoded(&mut self, raw: &[u8]) -> Result<(), FormError> {
        for part in raw.split(|&b| b == b'&') {
            if part.is_empty() {
                continue;
            }
            let (k, v) = match part.iter().position(|&b| b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &[][..]),
            };
            self.pairs.push((decode(k)?, decode(v)?));
        }
        Ok(())
    }

    /// The first value of `name`, treating an empty value as absent (TOP skips empty values
    /// when signing and treats them as not given).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_value);
                let lo = raw.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => {
                        return Err(FormError(format!(
                            "bad percent escape at byte {i} of {:?}",
                            String::from_utf8_lossy(raw)
                        )));
                    }
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError(format!("not UTF-8: {:?}", String::from_utf8_lossy(raw))))
}

/// Encodes one value for a urlencoded body (RFC 3986 unreserved characters kept).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Encodes pairs as a urlencoded body.
pub fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs.into_iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_percent_and_utf8() {
        let mut p = Params::default();
        p.extend_from_urlencoded(b"a=1&b=%E4%B8%AD+x&c=&d&timestamp=2016-01-01%2012:00:00").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("中 x"));
        assert_eq!(p.get("c"), None);
        assert_eq!(p.get("d"), None);
        assert_eq!(p.get("timestamp"), Some("2016-01-01 12:00:00"));
    }

    #[test]
    fn rejects_bad_escapes() {
        let mut p = Params::default();
        assert!(p.extend_from_urlencoded(b"a=%zz").is_err());
        assert!(p.extend_from_urlencoded(b"a=%E4").is_err());
        assert!(p.extend_from_urlencoded(b"a=%4").is_err());
    }

    #[test]
    fn round_trips() {
        let body = encode_pairs([("fields", "tid,modified"), ("t", "2016-01-01 12:00:00"), ("s", "{{x}}")]);
        let mut p = Params::default();
        p.extend_from_urlencoded(body.as_bytes()).unwrap();
        assert_eq!(p.get("fields"), Some("tid,modified"));
        assert_eq!(p.get("t"), Some("2016-01-01 12:00:00"));
        assert_eq!(p.get("s"), Some("{{x}}"));
    }
}
