//! Secrets stay in the host. A plugin names a secret; the host signs with it, or substitutes it
//! for a `{{secret:NAME}}` placeholder in an outgoing request, and scrubs it out of whatever
//! comes back. The plugin only ever holds names and digests.
//!
//! Placeholders are recognised raw (`{{secret:NAME}}`) and percent-encoded
//! (`%7B%7Bsecret%3ANAME%7D%7D`), so a plugin may form-encode a request as usual: an encoded
//! placeholder is filled with the encoded value. HTTP Basic credentials (SAP, bridges behind a
//! web server) are two secrets joined and base64-encoded, which a plugin cannot do without
//! seeing them: `{{secret-basic:USER,PASSWORD}}` is filled with `base64(user:password)`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;

/// Named secret values of one shop. `Debug` never shows values.
#[derive(Clone, Default)]
pub struct Secrets {
    values: BTreeMap<String, Vec<u8>>,
    /// What [`Secrets::scrub`] looks for and writes instead, computed once: every HTTP answer
    /// is scrubbed.
    scrubs: Vec<Scrub>,
}

/// One secret's forms as they may come back (raw, and percent-encoded when that differs),
/// and the placeholder that replaces them.
#[derive(Clone)]
struct Scrub {
    forms: Vec<Vec<u8>>,
    placeholder: Vec<u8>,
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

impl Secrets {
    pub fn new(values: impl IntoIterator<Item = (String, String)>) -> Self {
        let values: BTreeMap<String, Vec<u8>> = values.into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
        let scrubs = values
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| {
                let encoded: Vec<u8> = url::form_urlencoded::byte_serialize(value).flat_map(str::bytes).collect();
                let mut forms = vec![value.clone()];
                if encoded != *value {
                    forms.push(encoded);
                }
                Scrub { forms, placeholder: [RAW_OPEN, name.as_bytes(), RAW_CLOSE].concat() }
            })
            .collect();
        Secrets { values, scrubs }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    fn value(&self, name: &str) -> Result<&[u8], CredentialError> {
        self.values
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| CredentialError::UnknownSecret(name.to_owned()))
    }

    /// Replaces every placeholder in `input` by the secret it names.
    pub fn fill(&self, input: &[u8]) -> Result<Vec<u8>, CredentialError> {
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
            if found.is_none()
                && let Some(start) = at.checked_sub(RAW_WORD_AT).filter(|s| *s >= copied)
                && let Some((user, password, len)) = basic_at(input, start)
            {
                out.extend_from_slice(&input[copied..start]);
                let credentials = [self.value(&user)?, b":", self.value(&password)?].concat();
                out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(credentials).as_bytes());
                copied = start + len;
                continue;
            }
            let Some((start, name, len, encoded)) = found else { continue };
            out.extend_from_slice(&input[copied..start]);
            let value = self.value(&name)?;
            if encoded {
                out.extend(url::form_urlencoded::byte_serialize(value).flat_map(str::bytes));
            } else {
                out.extend_from_slice(value);
            }
            copied = start + len;
        }
        out.extend_from_slice(&input[copied..]);
        Ok(out)
    }

    /// `fill` for text (URLs, header values).
    pub fn fill_str(&self, input: &str) -> Result<String, CredentialError> {
        let filled = self.fill(input.as_bytes())?;
        String::from_utf8(filled)
            .map_err(|_| CredentialError::InvalidRequest("a secret used in text is not UTF-8".into()))
    }

    /// Replaces any secret value (raw or percent-encoded) found in `input` by its placeholder,
    /// so a platform that echoes a request back cannot hand a secret to the plugin.
    pub fn scrub(&self, input: Vec<u8>) -> Vec<u8> {
        let mut data = input;
        for scrub in &self.scrubs {
            for form in &scrub.forms {
                if let Some(replaced) = replace_all(&data, form, &scrub.placeholder) {
                    data = replaced;
                }
            }
        }
        data
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

/// A placeholder starting at `at`: its secret name and byte length.
fn placeholder_at(
    input: &[u8],
    at: usize,
    open: &[u8],
    close: &[u8],
    ignore_case: bool,
) -> Option<(String, usize)> {
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
    (valid(user) && valid(password)).then(|| (user.to_owned(), password.to_owned(), BASIC_OPEN.len() + end + RAW_CLOSE.len()))
}

/// `haystack` with every `needle` replaced by `with`; `None` when there is none (no copy).
fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Option<Vec<u8>> {
    let mut hits = memchr::memmem::find_iter(haystack, needle).peekable();
    hits.peek()?;
    let mut out = Vec::with_capacity(haystack.len());
    let mut copied = 0;
    for at in hits {
        if at < copied {
            continue;
        }
        out.extend_from_slice(&haystack[copied..at]);
        out.extend_from_slice(with);
        copied = at + needle.len();
    }
    out.extend_from_slice(&haystack[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_placeholders_fill_base64_of_user_colon_password() {
        let s = Secrets::new([("sap_user".into(), "WHARF".into()), ("sap_password".into(), "Pa:ss word".into())]);
        let filled = s.fill_str("Basic {{secret-basic:sap_user,sap_password}}").unwrap();
        assert_eq!(filled, format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("WHARF:Pa:ss word")));
        assert!(matches!(s.fill_str("{{secret-basic:sap_user,nope}}"), Err(CredentialError::UnknownSecret(n)) if n == "nope"));
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
}
