//! Secrets stay in the host. A plugin names a secret; the host signs with it, or substitutes it
//! for a `{{secret:NAME}}` placeholder in an outgoing request, and scrubs it out of whatever
//! comes back. The plugin only ever holds names and digests.
//!
//! Placeholders are recognised raw (`{{secret:NAME}}`) and percent-encoded
//! (`%7B%7Bsecret%3ANAME%7D%7D`), so a plugin may form-encode a request as usual: an encoded
//! placeholder is filled with the encoded value. HTTP Basic credentials (SAP, bridges behind a
//! web server) are two secrets joined and base64-encoded, which a plugin cannot do without
//! seeing them: `{{secret-basic:USER,PASSWORD}}` is filled with `base64(user:password)`.
//!
//! Filling is bounded ([`MAX_PLACEHOLDERS`], [`MAX_FILLED_BYTES`]): a plugin cannot make the
//! host build gigabytes out of a few bytes of placeholders. Scrubbing ([`Secrets::scrub`])
//! replaces, in one pass, every form of a secret the host itself may have put on the wire or a
//! platform may plausibly echo: raw, form- and percent-encoded (both hex cases), base64 (the
//! secret, and `user:password` of every Basic pair), JSON-escaped (`\/`, `\uXXXX`). A secret
//! shorter than [`MIN_SECRET_CHARS`] is refused at configuration and never filled, so scrubbing
//! never has to replace a value short enough to occur by chance in an order id.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Most placeholders one request (its URL, headers and body together) or one signed message
/// may hold. Real plugins fill one to three (Taobao's session, SAP's Basic header, JD's access
/// token); 64 leaves room for batch APIs that repeat a token per sub-request, and bounds what
/// filling can add to 64 times the longest secret.
pub const MAX_PLACEHOLDERS: usize = 64;

/// Largest request (URL, headers and body together) or signed message once its secrets are
/// filled. Platform API requests are form or JSON documents of kilobytes, and a page of bulk
/// pushes stays under a MiB; 16 MiB is the bound answers get too
/// ([`crate::limits::DEFAULT_HTTP_RESPONSE_BYTES`]). Without it, 28 MiB of placeholders for a
/// 1,720-character credential made the host allocate 4 GB in one call.
pub const MAX_FILLED_BYTES: usize = 16 << 20;

/// Shortest secret value accepted, in characters. Every answer is scrubbed of every secret, so
/// a value short enough to occur by chance (a 4-digit PIN inside an order id) would corrupt
/// data, and scrubbing it only where it is "really" the secret is impossible. Eight is the
/// usual floor for passwords (NIST SP 800-63B) and below every platform credential Wharf
/// knows (app secrets are 32 hex digits, tokens longer); a value this short is refused where
/// it is configured and is never filled into a request.
pub const MIN_SECRET_CHARS: usize = 8;

/// Named secret values of one shop. `Debug` never shows values.
#[derive(Clone, Default)]
pub struct Secrets {
    values: BTreeMap<String, Vec<u8>>,
    /// What [`Secrets::scrub`] looks for, computed once: every HTTP answer is scrubbed.
    scrubber: Option<Scrubber>,
}

/// Every form of every secret, searched for in one pass, and the placeholder each is replaced by.
#[derive(Clone)]
struct Scrubber {
    forms: AhoCorasick,
    placeholders: Vec<Vec<u8>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digest {
    Md5,
    HmacMd5,
    HmacSha256,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HexCase {
    Upper,
    Lower,
}

/// A signing request, as the plugin makes it.
#[derive(Clone, Debug)]
pub struct SignRequest {
    pub secret: String,
    pub digest: Digest,
    /// Hash `secret + message + secret`.
    pub wrap: bool,
    pub hex: HexCase,
    pub message: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("no secret named `{0}` is configured for this shop")]
    UnknownSecret(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("more than {limit} secret placeholders in one request or signed message")]
    TooManyPlaceholders { limit: usize },
    #[error("the request or signed message would be larger than {limit} bytes once its secrets are filled")]
    TooLarge { limit: usize },
    #[error("secret `{name}` is shorter than {min} characters; it is never sent (configure a longer one)")]
    TooShort { name: String, min: usize },
}

/// The word every placeholder form contains, searched for first.
const PLACEHOLDER_WORD: &[u8] = b"secret";
const RAW_OPEN: &[u8] = b"{{secret:";
/// Where the word stands in each opening.
const RAW_WORD_AT: usize = 2;
const ENC_WORD_AT: usize = 6;
const RAW_CLOSE: &[u8] = b"}}";
const BASIC_OPEN: &[u8] = b"{{secret-basic:";
const ENC_OPEN: &[u8] = b"%7B%7Bsecret%3A";
const ENC_CLOSE: &[u8] = b"%7D%7D";

/// Longest secret name a placeholder may carry; longer is a malformed placeholder.
const MAX_NAME_LEN: usize = 64;

/// Secrets of a shop beyond which Basic pairs are not precomputed for scrubbing (each ordered
/// pair is a pattern). Shops hold two to four secrets; a plugin filling a Basic pair of a
/// shop with more still has both halves scrubbed one by one.
const MAX_BASIC_PAIR_SECRETS: usize = 16;

/// Whether `value` is long enough to be filled and scrubbed ([`MIN_SECRET_CHARS`]).
pub fn long_enough(value: &str) -> bool {
    value.chars().count() >= MIN_SECRET_CHARS
}

/// What one request has filled so far, across its URL, headers and body: the placeholders
/// count towards [`MAX_PLACEHOLDERS`] and the bytes towards [`MAX_FILLED_BYTES`] together, and
/// the names filled are what the host checks against the request's host.
#[derive(Debug, Default)]
pub struct Filled {
    placeholders: usize,
    bytes: usize,
    /// Every secret name filled in, Basic pairs included.
    pub names: BTreeSet<String>,
}

impl Secrets {
    pub fn new(values: impl IntoIterator<Item = (String, String)>) -> Self {
        let values: BTreeMap<String, Vec<u8>> = values.into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
        let scrubber = Scrubber::new(&values);
        Secrets { values, scrubber }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    fn value(&self, name: &str) -> Result<&[u8], CredentialError> {
        self.values.get(name).map(Vec::as_slice).ok_or_else(|| CredentialError::UnknownSecret(name.to_owned()))
    }

    /// A value to be filled into a request: configured, and long enough to be scrubbed.
    fn fillable(&self, name: &str) -> Result<&[u8], CredentialError> {
        let value = self.value(name)?;
        if !long_enough(&String::from_utf8_lossy(value)) {
            return Err(CredentialError::TooShort { name: name.to_owned(), min: MIN_SECRET_CHARS });
        }
        Ok(value)
    }

    /// Replaces every placeholder in `input` by the secret it names, within the limits of one
    /// request of its own.
    pub fn fill(&self, input: &[u8]) -> Result<Vec<u8>, CredentialError> {
        self.fill_within(input, &mut Filled::default())
    }

    /// Replaces every placeholder in `input` by the secret it names, counting towards the
    /// limits of the request `filled` keeps track of.
    pub fn fill_within(&self, input: &[u8], filled: &mut Filled) -> Result<Vec<u8>, CredentialError> {
        let too_large = CredentialError::TooLarge { limit: MAX_FILLED_BYTES };
        if filled.bytes.saturating_add(input.len()) > MAX_FILLED_BYTES {
            return Err(too_large);
        }
        // Every placeholder, raw or encoded, contains the word; most bodies contain none, and
        // the search is vectorised, so a request without secrets costs one copy.
        let mut out = Vec::with_capacity(input.len());
        let mut copied = 0;
        for at in memchr::memmem::find_iter(input, PLACEHOLDER_WORD) {
            let raw = at.checked_sub(RAW_WORD_AT);
            let enc = at.checked_sub(ENC_WORD_AT);
            let found = [(raw, RAW_OPEN, RAW_CLOSE, false), (enc, ENC_OPEN, ENC_CLOSE, true)]
                .into_iter()
                .filter_map(|(start, open, close, encoded)| {
                    let start = start.filter(|s| *s >= copied)?;
                    placeholder_at(input, start, open, close, encoded).map(|(name, len)| (start, name, len, encoded))
                })
                .next();
            let basic = match found {
                None => at
                    .checked_sub(RAW_WORD_AT)
                    .filter(|s| *s >= copied)
                    .and_then(|s| basic_at(input, s).map(|b| (s, b))),
                Some(_) => None,
            };
            if found.is_none() && basic.is_none() {
                continue;
            }
            filled.placeholders += 1;
            if filled.placeholders > MAX_PLACEHOLDERS {
                return Err(CredentialError::TooManyPlaceholders { limit: MAX_PLACEHOLDERS });
            }
            let (start, len) = if let Some((start, (user, password, len))) = basic {
                out.extend_from_slice(&input[copied..start]);
                let credentials = [self.fillable(&user)?, b":", self.fillable(&password)?].concat();
                out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(credentials).as_bytes());
                filled.names.extend([user, password]);
                (start, len)
            } else {
                let Some((start, name, len, encoded)) = found else { continue };
                out.extend_from_slice(&input[copied..start]);
                let value = self.fillable(&name)?;
                if encoded {
                    out.extend(url::form_urlencoded::byte_serialize(value).flat_map(str::bytes));
                } else {
                    out.extend_from_slice(value);
                }
                filled.names.insert(name);
                (start, len)
            };
            copied = start + len;
            // What is built so far plus what is left to copy: refused before it is built.
            if filled.bytes + out.len() + (input.len() - copied) > MAX_FILLED_BYTES {
                return Err(too_large);
            }
        }
        out.extend_from_slice(&input[copied..]);
        filled.bytes += out.len();
        Ok(out)
    }

    /// `fill` for text (URLs, header values).
    pub fn fill_str(&self, input: &str) -> Result<String, CredentialError> {
        self.fill_str_within(input, &mut Filled::default())
    }

    /// `fill_within` for text (URLs, header values).
    pub fn fill_str_within(&self, input: &str, filled: &mut Filled) -> Result<String, CredentialError> {
        let out = self.fill_within(input.as_bytes(), filled)?;
        String::from_utf8(out).map_err(|_| CredentialError::InvalidRequest("a secret used in text is not UTF-8".into()))
    }

    /// Replaces every form of every secret found in `input` (see the module's documentation)
    /// by its placeholder, so a platform that echoes a request back cannot hand a secret to
    /// the plugin. One pass over `input`, whatever the number of secrets.
    pub fn scrub(&self, input: Vec<u8>) -> Vec<u8> {
        match &self.scrubber {
            Some(scrubber) if scrubber.forms.is_match(&input) => {
                scrubber.forms.replace_all_bytes(&input, &scrubber.placeholders)
            }
            _ => input,
        }
    }

    /// `scrub` for text (log lines, header names and values).
    pub fn scrub_str(&self, input: &str) -> String {
        // Forms are whole UTF-8 sequences and placeholders ASCII, so the result is UTF-8.
        String::from_utf8(self.scrub(input.as_bytes().to_vec()))
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Signs a message (placeholders filled first) with the named secret.
    pub fn sign(&self, request: &SignRequest) -> Result<String, CredentialError> {
        let key = self.value(&request.secret)?;
        let message = self.fill(&request.message)?;
        let wrapped;
        let message = if request.wrap {
            wrapped = [key, &message, key].concat();
            &wrapped
        } else {
            &message
        };
        let digest: Vec<u8> = match request.digest {
            Digest::Md5 if !request.wrap => {
                return Err(CredentialError::InvalidRequest(
                    "md5 signing must wrap the message with the secret (wrap = true); a plain md5 \
                     would not involve the secret"
                        .into(),
                ));
            }
            Digest::Md5 => Md5::digest(message).to_vec(),
            Digest::HmacMd5 => {
                let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).expect("hmac takes any key");
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
            Digest::HmacSha256 => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac takes any key");
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
        };
        Ok(match request.hex {
            HexCase::Upper => hex::encode_upper(digest),
            HexCase::Lower => hex::encode(digest),
        })
    }
}

impl Scrubber {
    /// The forms of every secret long enough to fill, and of every ordered pair as Basic
    /// credentials; `None` when there is nothing to look for.
    fn new(values: &BTreeMap<String, Vec<u8>>) -> Option<Scrubber> {
        let usable: Vec<(&String, &[u8])> = values
            .iter()
            .filter(|(_, v)| long_enough(&String::from_utf8_lossy(v)))
            .map(|(k, v)| (k, v.as_slice()))
            .collect();
        // Longest match wins; a form shared by two secrets keeps the first placeholder.
        let mut patterns: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for (name, value) in &usable {
            let placeholder = [RAW_OPEN, name.as_bytes(), RAW_CLOSE].concat();
            let mut bases = vec![value.to_vec()];
            bases.extend(base64_forms(value));
            for form in bases.iter().flat_map(|b| encoded_forms(b)) {
                patterns.entry(form).or_insert_with(|| placeholder.clone());
            }
        }
        if usable.len() <= MAX_BASIC_PAIR_SECRETS {
            for (user, user_value) in &usable {
                for (password, password_value) in &usable {
                    let placeholder = [BASIC_OPEN, user.as_bytes(), b",", password.as_bytes(), RAW_CLOSE].concat();
                    let joined = [*user_value, b":", *password_value].concat();
                    for form in base64_forms(&joined).iter().flat_map(|b| encoded_forms(b)) {
                        patterns.entry(form).or_insert_with(|| placeholder.clone());
                    }
                }
            }
        }
        if patterns.is_empty() {
            return None;
        }
        let (forms, placeholders): (Vec<Vec<u8>>, Vec<Vec<u8>>) = patterns.into_iter().unzip();
        // A contiguous NFA, not the DFA the builder may pick: building a DFA of long,
        // repetitive patterns (a 16 KiB token) takes tens of seconds; the NFA takes
        // milliseconds and scans 16 MiB in about as long, thanks to its prefilter.
        let forms = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&forms)
            .expect("a few thousand literal patterns build");
        Some(Scrubber { forms, placeholders })
    }
}

/// Base64 of `value` in the alphabets and paddings in use (standard, as Basic credentials are
/// filled, and URL-safe; padded and not).
fn base64_forms(value: &[u8]) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD.encode(value), STANDARD_NO_PAD.encode(value), URL_SAFE.encode(value), URL_SAFE_NO_PAD.encode(value)]
        .into_iter()
        .map(String::into_bytes)
        .collect()
}

/// `value` as it reads raw, percent-encoded (form, RFC 3986, JavaScript's
/// `encodeURIComponent`, and the URL parser's query and path sets, each in both hex cases)
/// and JSON-escaped (every combination of [`json_escape`]'s options, in both hex cases).
fn encoded_forms(value: &[u8]) -> BTreeSet<Vec<u8>> {
    let mut forms = BTreeSet::from([value.to_vec()]);
    let form: Vec<u8> = url::form_urlencoded::byte_serialize(value).flat_map(str::bytes).collect();
    let rfc3986 = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    let component = |b: u8| rfc3986(b) || b"!*'()".contains(&b);
    // What the URL parser makes of a value filled raw into a query or a path (WHATWG sets).
    let query = |b: u8| b > 0x20 && b < 0x7F && !b"\"#<>'".contains(&b);
    let path = |b: u8| query(b) && !b"?`{}".contains(&b) || b == b'\'';
    let sets = [form, percent(value, rfc3986), percent(value, component), percent(value, query), percent(value, path)];
    for encoded in sets {
        forms.insert(lowercase_escapes(&encoded, b'%', 2));
        forms.insert(encoded);
    }
    if let Ok(text) = std::str::from_utf8(value) {
        for slash in [false, true] {
            for non_ascii in [false, true] {
                for html in [false, true] {
                    let escaped = json_escape(text, slash, non_ascii, html);
                    forms.insert(lowercase_escapes(&escaped, b'u', 4));
                    forms.insert(escaped);
                }
            }
        }
    }
    forms
}

/// Percent-encodes every byte `keep` does not keep, with uppercase hex digits.
fn percent(value: &[u8], keep: impl Fn(u8) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value {
        if keep(b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// The same text with the `digits` hex digits after every `marker` in lowercase (`%2F` → `%2f`,
/// `\u00E9` → `\u00e9`).
fn lowercase_escapes(value: &[u8], marker: u8, digits: usize) -> Vec<u8> {
    let mut out = value.to_vec();
    let mut i = 0;
    while i < out.len() {
        let is_escape = out[i] == marker && (marker != b'u' || (i > 0 && out[i - 1] == b'\\'));
        if is_escape && out.len() >= i + 1 + digits && out[i + 1..i + 1 + digits].iter().all(u8::is_ascii_hexdigit) {
            out[i + 1..i + 1 + digits].make_ascii_lowercase();
            i += 1 + digits;
        } else {
            i += 1;
        }
    }
    out
}

/// `text` as the inside of a JSON string: quotes, backslashes and control characters escaped
/// as every encoder does; `/` as `\/` when `slash` (PHP's default); non-ASCII as `\uXXXX`
/// (UTF-16, surrogate pairs beyond the BMP) when `non_ascii` (PHP's and Python's defaults);
/// `<`, `>`, `&` and `'` as `\uXXXX` when `html` (Go's and .NET's defaults). Hex digits are
/// uppercase here; [`lowercase_escapes`] makes the other case.
fn json_escape(text: &str, slash: bool, non_ascii: bool, html: bool) -> Vec<u8> {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '/' if slash => out.push_str("\\/"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if (non_ascii && !c.is_ascii()) || (html && "<>&'".contains(c)) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{:04X}", unit));
                }
            }
            c => out.push(c),
        }
    }
    out.into_bytes()
}

/// A placeholder starting at `at`: its secret name and byte length.
fn placeholder_at(input: &[u8], at: usize, open: &[u8], close: &[u8], ignore_case: bool) -> Option<(String, usize)> {
    let rest = &input[at..];
    if rest.len() < open.len() {
        return None;
    }
    let matches = |a: &[u8], b: &[u8]| if ignore_case { a.eq_ignore_ascii_case(b) } else { a == b };
    if !matches(&rest[..open.len()], open) {
        return None;
    }
    let after = &rest[open.len()..];
    let name_len = after
        .iter()
        .take(MAX_NAME_LEN + 1)
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-' || *b == b'.'))?;
    if name_len == 0 || name_len > MAX_NAME_LEN {
        return None;
    }
    let tail = &after[name_len..];
    if tail.len() < close.len() || !matches(&tail[..close.len()], close) {
        return None;
    }
    let name = String::from_utf8(after[..name_len].to_vec()).ok()?;
    Some((name, open.len() + name_len + close.len()))
}

/// A `{{secret-basic:USER,PASSWORD}}` placeholder starting at `at`: both names and its length.
fn basic_at(input: &[u8], at: usize) -> Option<(String, String, usize)> {
    let rest = input.get(at..)?;
    let after = rest.strip_prefix(BASIC_OPEN)?;
    let end = memchr::memmem::find(&after[..after.len().min(2 * MAX_NAME_LEN + 1 + RAW_CLOSE.len())], RAW_CLOSE)?;
    let inner = std::str::from_utf8(&after[..end]).ok()?;
    let (user, password) = inner.split_once(',')?;
    let valid = |n: &str| {
        !n.is_empty() && n.len() <= MAX_NAME_LEN && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    };
    (valid(user) && valid(password))
        .then(|| (user.to_owned(), password.to_owned(), BASIC_OPEN.len() + end + RAW_CLOSE.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_placeholders_fill_base64_of_user_colon_password() {
        let s = Secrets::new([("sap_user".into(), "WHARF_COMM".into()), ("sap_password".into(), "Pa:ss word".into())]);
        let filled = s.fill_str("Basic {{secret-basic:sap_user,sap_password}}").unwrap();
        assert_eq!(
            filled,
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("WHARF_COMM:Pa:ss word"))
        );
        assert!(matches!(s.fill_str("{{secret-basic:sap_user,nope}}"),
                Err(CredentialError::UnknownSecret(n)) if n == "nope"));
        // Not a placeholder: left as it is.
        assert_eq!(s.fill_str("{{secret-basic:sap_user}}").unwrap(), "{{secret-basic:sap_user}}");
    }

    fn secrets() -> Secrets {
        Secrets::new([("app_secret".into(), "helloworld".into()), ("session".into(), "s e/cret".into())])
    }

    #[test]
    fn taobao_published_vector() {
        // platforms.md: the public TOP SDK test vector.
        let mut params = [
            ("method", "taobao.item.seller.get"),
            ("app_key", "12345678"),
            ("session", "test"),
            ("timestamp", "2016-01-01 12:00:00"),
            ("format", "json"),
            ("v", "2.0"),
            ("sign_method", "md5"),
            ("fields", "num_iid,title,nick,price,num"),
            ("num_iid", "11223344"),
        ];
        params.sort();
        let message: String = params.iter().map(|(k, v)| format!("{k}{v}")).collect();
        let request = SignRequest {
            secret: "app_secret".into(),
            digest: Digest::Md5,
            wrap: true,
            hex: HexCase::Upper,
            message: message.into_bytes(),
        };
        assert_eq!(secrets().sign(&request).unwrap(), "66987CB115214E59E6EC978214934FB8");
    }

    #[test]
    fn placeholders_fill_raw_and_encoded() {
        let s = secrets();
        assert_eq!(s.fill_str("a={{secret:session}}&b").unwrap(), "a=s e/cret&b");
        assert_eq!(s.fill_str("a=%7B%7Bsecret%3Asession%7D%7D&b").unwrap(), "a=s+e%2Fcret&b");
        assert_eq!(s.fill_str("{{secret:nope}}"), Err(CredentialError::UnknownSecret("nope".into())));
        // Not placeholders: left alone.
        assert_eq!(s.fill_str("{{secret:}} {{secret:x").unwrap(), "{{secret:}} {{secret:x");
    }

    #[test]
    fn scrub_hides_echoed_secrets() {
        let s = secrets();
        let echoed = b"got helloworld and s+e%2Fcret".to_vec();
        assert_eq!(s.scrub(echoed), b"got {{secret:app_secret}} and {{secret:session}}".to_vec());
    }

    #[test]
    fn signing_schemes() {
        let s = secrets();
        let sign = |digest, wrap, hex| {
            s.sign(&SignRequest { secret: "app_secret".into(), digest, wrap, hex, message: b"abc".to_vec() })
        };
        assert!(sign(Digest::Md5, false, HexCase::Upper).is_err());
        let h = sign(Digest::HmacSha256, false, HexCase::Lower).unwrap();
        assert_eq!(h.len(), 64);
        assert_eq!(h, h.to_lowercase());
        assert_eq!(sign(Digest::HmacMd5, false, HexCase::Upper).unwrap().len(), 32);
        assert_ne!(sign(Digest::HmacSha256, true, HexCase::Lower).unwrap(), h);
        assert!(format!("{s:?}").contains("app_secret") && !format!("{s:?}").contains("helloworld"));
    }

    #[test]
    fn placeholder_count_is_capped_per_request() {
        let s = secrets();
        let one = "{{secret:app_secret}}";
        assert!(s.fill_str(&one.repeat(MAX_PLACEHOLDERS)).is_ok());
        assert_eq!(
            s.fill_str(&one.repeat(MAX_PLACEHOLDERS + 1)),
            Err(CredentialError::TooManyPlaceholders { limit: MAX_PLACEHOLDERS })
        );
        // The count is shared by the parts of one request.
        let mut filled = Filled::default();
        s.fill_str_within(&one.repeat(MAX_PLACEHOLDERS / 2), &mut filled).unwrap();
        s.fill_str_within(&one.repeat(MAX_PLACEHOLDERS / 2), &mut filled).unwrap();
        assert!(matches!(s.fill_str_within(one, &mut filled), Err(CredentialError::TooManyPlaceholders { .. })));
        assert_eq!(filled.names, BTreeSet::from(["app_secret".to_owned()]));
    }

    #[test]
    fn filled_size_is_capped_before_it_is_built() {
        // The attack of issue 13: 28 MiB of placeholders for a long credential.
        let long = "x".repeat(1_720);
        let s = Secrets::new([("token".to_owned(), long.clone())]);
        let attack = "{{secret:token}}".repeat((28 << 20) / 16);
        let started = std::time::Instant::now();
        assert_eq!(s.fill(attack.as_bytes()), Err(CredentialError::TooLarge { limit: MAX_FILLED_BYTES }));
        // Under the size cap, the count cap stops it after 64 fills.
        let attack = "{{secret:token}}".repeat((1 << 20) / 16);
        assert!(matches!(s.fill(attack.as_bytes()), Err(CredentialError::TooManyPlaceholders { .. })));
        let sign = SignRequest {
            secret: "token".into(),
            digest: Digest::HmacSha256,
            wrap: false,
            hex: HexCase::Lower,
            message: attack.into_bytes(),
        };
        assert!(matches!(s.sign(&sign), Err(CredentialError::TooManyPlaceholders { .. })));
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "refused without doing the work");
        // Few placeholders that would fill past the cap are refused too.
        let big = Secrets::new([("big".to_owned(), "y".repeat(64 << 10))]);
        let input = format!("{}{}", "a".repeat(15 << 20), "{{secret:big}}".repeat(30));
        assert_eq!(big.fill(input.as_bytes()), Err(CredentialError::TooLarge { limit: MAX_FILLED_BYTES }));
    }

    #[test]
    fn short_secrets_are_never_filled_nor_scrubbed() {
        let s = Secrets::new([("pin".to_owned(), "4711".to_owned())]);
        assert_eq!(
            s.fill_str("{{secret:pin}}"),
            Err(CredentialError::TooShort { name: "pin".into(), min: MIN_SECRET_CHARS })
        );
        // An order id that merely contains the value is not corrupted.
        assert_eq!(s.scrub(b"{\"order_id\":\"A-47110815\"}".to_vec()), b"{\"order_id\":\"A-47110815\"}".to_vec());
        assert!(
            !long_enough("1234567")
                && long_enough("12345678")
                && long_enough("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}")
        );
    }

    #[test]
    fn every_form_the_host_produces_is_scrubbed() {
        use base64::engine::general_purpose::STANDARD;
        let secret = "p\u{e4}ss/w+rd \"x\"<&>";
        let user = "WHARF_COMM";
        let s = Secrets::new([("password".to_owned(), secret.to_owned()), ("user".to_owned(), user.to_owned())]);
        let json = serde_json::to_string(secret).unwrap();
        let json = &json[1..json.len() - 1];
        let php = json.replace('/', "\\/").replace('\u{e4}', "\\u00e4");
        let python = json.replace('\u{e4}', "\\u00e4");
        let go = json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026");
        let dotnet =
            json.replace('\u{e4}', "\\u00E4").replace('<', "\\u003C").replace('>', "\\u003E").replace('&', "\\u0026");
        let forms: Vec<String> = vec![
            secret.to_owned(),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
            percent(secret.as_bytes(), |b| b.is_ascii_alphanumeric()).into_iter().map(char::from).collect(),
            String::from_utf8(lowercase_escapes(
                &percent(secret.as_bytes(), |b| b.is_ascii_alphanumeric() || b == b'.'),
                b'%',
                2,
            ))
            .unwrap(),
            STANDARD.encode(secret),
            STANDARD.encode(format!("{user}:{secret}")),
            json.to_owned(),
            php,
            python,
            go,
            dotnet,
        ];
        for form in &forms {
            let scrubbed = String::from_utf8(s.scrub(format!("a {form} b").into_bytes())).unwrap();
            assert!(!scrubbed.contains(form.as_str()), "{form:?} survived: {scrubbed}");
            assert!(scrubbed.starts_with("a {{secret") && scrubbed.ends_with("}} b"), "{form:?} → {scrubbed}");
        }
        let basic =
            String::from_utf8(s.scrub(format!("Basic {}", STANDARD.encode(format!("{user}:{secret}"))).into_bytes()))
                .unwrap();
        assert_eq!(basic, "Basic {{secret-basic:user,password}}");
        assert_eq!(s.scrub_str(&format!("log {user}")), "log {{secret:user}}");
    }
}
