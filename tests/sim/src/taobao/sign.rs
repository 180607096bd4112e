//! TOP request signatures (platforms.md, "Signing").

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

/// The `sign_method` values TOP accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignMethod {
    /// `UPPER_HEX(MD5(secret + s + secret))`.
    Md5,
    /// `UPPER_HEX(HMAC_MD5(key = secret, s))`.
    Hmac,
    /// `UPPER_HEX(HMAC_SHA256(key = secret, s))`.
    HmacSha256,
}

impl SignMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "md5" => Some(Self::Md5),
            "hmac" => Some(Self::Hmac),
            "hmac-sha256" => Some(Self::HmacSha256),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Hmac => "hmac",
            Self::HmacSha256 => "hmac-sha256",
        }
    }
}

/// The message TOP signs: every param but `sign` with a non-empty value, sorted by key bytes,
/// concatenated as `k1v1k2v2…`.
pub fn sign_message<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = params.into_iter().filter(|(k, v)| *k != "sign" && !v.is_empty()).collect();
    pairs.sort_unstable();
    let mut s = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len()).sum());
    for (k, v) in pairs {
        s.push_str(k);
        s.push_str(v);
    }
    s
}

/// The `sign` value for `params` (which may include `sign` itself; it is skipped).
pub fn sign<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>, secret: &str, method: SignMethod) -> String {
    let message = sign_message(params);
    let digest = match method {
        SignMethod::Md5 => {
            let mut h = Md5::new();
            h.update(secret.as_bytes());
            h.update(message.as_bytes());
            h.update(secret.as_bytes());
            h.finalize().to_vec()
        }
        SignMethod::Hmac => {
            // HMAC accepts keys of any length; new_from_slice cannot fail for it.
            let mut m = <Hmac<Md5>>::new_from_slice(secret.as_bytes())
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
            m.update(message.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        SignMethod::HmacSha256 => {
            let mut m = <Hmac<Sha256>>::new_from_slice(secret.as_bytes())
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
            m.update(message.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
    };
    hex::encode_upper(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The public SDK vector quoted in platforms.md.
    const VECTOR: [(&str, &str); 8] = [
        ("method", "taobao.item.seller.get"),
        ("app_key", "12345678"),
        ("session", "test"),
        ("timestamp", "2016-01-01 12:00:00"),
        ("format", "json"),
        ("v", "2.0"),
        ("sign_method", "md5"),
        ("fields", "num_iid,title,nick,price,num"),
    ];

    fn vector_params() -> Vec<(&'static str, &'static str)> {
        let mut p = VECTOR.to_vec();
        p.push(("num_iid", "11223344"));
        p
    }

    #[test]
    fn md5_matches_published_vector() {
        assert_eq!(sign(vector_params(), "helloworld", SignMethod::Md5), "66987CB115214E59E6EC978214934FB8");
    }

    #[test]
    fn sign_and_empty_values_are_skipped() {
        let mut p = vector_params();
        p.push(("sign", "whatever"));
        p.push(("simplify", ""));
        assert_eq!(sign(p, "helloworld", SignMethod::Md5), "66987CB115214E59E6EC978214934FB8");
    }

    #[test]
    fn hmac_variants_differ_and_are_upper_hex() {
        let a = sign(vector_params(), "helloworld", SignMethod::Hmac);
        let b = sign(vector_params(), "helloworld", SignMethod::HmacSha256);
        assert_eq!(a.len(), 32);
        assert_eq!(b.len(), 64);
        assert!(a.chars().chain(b.chars()).all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        // HMAC-MD5 of the message with key "helloworld", computed independently.
        let mut m = <Hmac<Md5>>::new_from_slice(b"helloworld").unwrap();
        m.update(sign_message(vector_params()).as_bytes());
        assert_eq!(a, hex::encode_upper(m.finalize().into_bytes()));
    }
}
