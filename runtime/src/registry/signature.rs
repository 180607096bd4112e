//! Who signed a plugin: ed25519 signatures over the `.wasm` bytes, checked against the keys an
//! operator trusts.
//!
//! Signing lets an operator accept only plugins built by people they trust, whoever uploads
//! them. The format is deliberately plain so a signature can be made and checked with any
//! ed25519 tool, not only `wharf plugin sign`:
//!
//! - Every key and signature is **standard base64 text** (RFC 4648 alphabet, with `=` padding).
//!   Surrounding whitespace (a file's trailing newline) is ignored.
//! - A **secret key** is the 32-byte ed25519 seed (RFC 8032 §5.1.5), as `wharf plugin keygen`
//!   writes to `PREFIX.key`.
//! - A **public key** is the 32-byte compressed point (RFC 8032 §5.1.5), as in `PREFIX.pub` and
//!   in the trusted keys of the config.
//! - A **signature** is the 64-byte ed25519 signature (RFC 8032 §5.1.6) of the raw `.wasm` file
//!   bytes, nothing hashed or wrapped first. It travels in `FILE.wasm.sig` and in the
//!   `X-Wharf-Signature` header of an upload.
//! - A **key id** is the first 16 hex characters (8 bytes) of sha256 of the 32 public key bytes:
//!   short enough to show in listings, long enough that an operator's handful of keys never
//!   collide.
//!
//! Verification is strict (`verify_strict`): malleable signatures and weak (small-order) keys are
//! refused, so one plugin has exactly one valid signature per key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore as _;
use ed25519_dalek::{
    PUBLIC_KEY_LENGTH, SECRET_KEY_LENGTH, SIGNATURE_LENGTH, Signature, Signer as _, SigningKey, VerifyingKey,
};
use sha2::{Digest as _, Sha256};

/// Hex characters of a key id: 8 bytes of sha256, plenty to tell an operator's keys apart.
pub const KEY_ID_HEX_CHARS: usize = 16;

/// Why a key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// `what` (a trusted key, the signature, a secret key…) is not in the format the module doc
    /// describes.
    #[error("{what}: {reason}")]
    Malformed { what: String, reason: String },
    /// The signature is well formed but none of the trusted keys made it over these bytes
    /// (wrong key, or the wasm was changed after signing).
    #[error(
        "no trusted key verifies this signature over these wasm bytes (tried {tried} key{}); \
         it was made with another key or the file changed after signing",
        if *tried == 1 { "" } else { "s" }
    )]
    NotTrusted { tried: usize },
    /// There is nothing to check a signature against.
    #[error("no trusted keys are configured, so no signature can be checked")]
    NoTrustedKeys,
    /// The operating system gave no randomness for a new key.
    #[error("cannot get randomness from the operating system for a new key: {0}")]
    Randomness(String),
}

/// A fresh key pair, every part base64 as the module doc describes.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The 32-byte seed: keep it secret (`PREFIX.key`).
    pub secret: String,
    /// The 32-byte public key: give it to operators to trust (`PREFIX.pub`).
    pub public: String,
    /// [`key_id`] of `public`.
    pub key_id: String,
}

impl std::fmt::Debug for KeyPair {
    /// Leaves the secret out, so a key pair in a log or a panic message leaks nothing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair").field("public", &self.public).field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// The public keys whose signatures an operator accepts.
#[derive(Clone, Debug, Default)]
pub struct TrustedKeys {
    /// (key id, key), without repeats, in the order configured.
    keys: Vec<(String, VerifyingKey)>,
}

impl TrustedKeys {
    /// Reads base64 public keys as they appear in the config; the error names the first bad
    /// entry by position (1-based) and says what is wrong with it. The same key listed twice
    /// counts once.
    pub fn parse(entries: &[String]) -> Result<Self, SignatureError> {
        let mut keys: Vec<(String, VerifyingKey)> = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let what = format!("trusted key {} of {}", i + 1, entries.len());
            let key = verifying_key(entry, &what)?;
            if key.is_weak() {
                return Err(malformed(&what, "a weak (small-order) ed25519 key cannot be trusted".to_owned()));
            }
            let id = id_of(&key);
            if !keys.iter().any(|(known, _)| *known == id) {
                keys.push((id, key));
            }
        }
        Ok(TrustedKeys { keys })
    }

    /// The key id of the trusted key that signed `wasm`, given its base64 signature.
    pub fn verify(&self, wasm: &[u8], signature_b64: &str) -> Result<String, SignatureError> {
        let signature = signature(signature_b64)?;
        if self.keys.is_empty() {
            return Err(SignatureError::NoTrustedKeys);
        }
        self.keys
            .iter()
            .find(|(_, key)| key.verify_strict(wasm, &signature).is_ok())
            .map(|(id, _)| id.clone())
            .ok_or(SignatureError::NotTrusted { tried: self.keys.len() })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many distinct keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key ids, in the order configured.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }
}

/// A new key pair from the operating system's randomness.
pub fn generate() -> Result<KeyPair, SignatureError> {
    let mut seed = [0u8; SECRET_KEY_LENGTH];
    OsRng.try_fill_bytes(&mut seed).map_err(|e| SignatureError::Randomness(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let public = key.verifying_key();
    Ok(KeyPair {
        secret: BASE64.encode(key.as_bytes()),
        public: BASE64.encode(public.as_bytes()),
        key_id: id_of(&public),
    })
}

/// The base64 signature of `wasm` with the base64 secret key (seed).
pub fn sign(secret_b64: &str, wasm: &[u8]) -> Result<String, SignatureError> {
    let key = signing_key(secret_b64)?;
    Ok(BASE64.encode(key.sign(wasm).to_bytes()))
}

/// The base64 public key of a base64 secret key (seed).
pub fn public_key(secret_b64: &str) -> Result<String, SignatureError> {
    Ok(BASE64.encode(signing_key(secret_b64)?.verifying_key().as_bytes()))
}

/// The key id of a base64 public key.
pub fn key_id(public_b64: &str) -> Result<String, SignatureError> {
    Ok(id_of(&verifying_key(public_b64, "public key")?))
}

fn id_of(key: &VerifyingKey) -> String {
    let mut id = hex::encode(Sha256::digest(key.as_bytes()));
    id.truncate(KEY_ID_HEX_CHARS);
    id
}

fn malformed(what: &str, reason: String) -> SignatureError {
    SignatureError::Malformed { what: what.to_owned(), reason }
}

/// Base64 text of exactly `N` bytes.
fn decode<const N: usize>(text: &str, what: &str, holds: &str) -> Result<[u8; N], SignatureError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(malformed(what, format!("empty; expected standard base64 of {holds} ({N} bytes)")));
    }
    let bytes = BASE64
        .decode(text)
        .map_err(|e| malformed(what, format!("not standard base64 (A-Z a-z 0-9 + / with = padding): {e}")))?;
    let len = bytes.len();
    bytes.try_into().map_err(|_| malformed(what, format!("expected {holds} of {N} bytes, got {len} bytes")))
}

fn verifying_key(text: &str, what: &str) -> Result<VerifyingKey, SignatureError> {
    let bytes = decode::<PUBLIC_KEY_LENGTH>(text, what, "an ed25519 public key")?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| malformed(what, "not an ed25519 public key (not a point on the curve)".to_owned()))
}

fn signing_key(text: &str) -> Result<SigningKey, SignatureError> {
    let mut seed = decode::<SECRET_KEY_LENGTH>(text, "secret key", "an ed25519 seed")?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    Ok(key)
}

fn signature(text: &str) -> Result<Signature, SignatureError> {
    Ok(Signature::from_bytes(&decode::<SIGNATURE_LENGTH>(text, "signature", "an ed25519 signature")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WASM: &[u8] = b"\0asm\x0d\0\x01\0 pretend component bytes";

    fn trust(keys: &[&KeyPair]) -> TrustedKeys {
        TrustedKeys::parse(&keys.iter().map(|k| k.public.clone()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn signed_by_a_trusted_key_verifies_to_its_id() {
        let pair = generate().unwrap();
        let other = generate().unwrap();
        let signature = sign(&pair.secret, WASM).unwrap();
        assert_eq!(BASE64.decode(&signature).unwrap().len(), SIGNATURE_LENGTH);
        let trusted = trust(&[&other, &pair]);
        assert_eq!(trusted.verify(WASM, &signature).unwrap(), pair.key_id);
        assert_eq!(trusted.verify(WASM, &format!("{signature}\n")).unwrap(), pair.key_id, "a file's newline");
        assert_eq!(key_id(&pair.public).unwrap(), pair.key_id);
        assert_eq!(public_key(&pair.secret).unwrap(), pair.public);
        assert_eq!(pair.key_id.len(), KEY_ID_HEX_CHARS);
        assert!(pair.key_id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(!format!("{pair:?}").contains(&pair.secret), "Debug leaves the secret out");
    }

    #[test]
    fn changed_wasm_or_signature_fails() {
        let pair = generate().unwrap();
        let signature = sign(&pair.secret, WASM).unwrap();
        let trusted = trust(&[&pair]);
        let mut tampered = WASM.to_vec();
        tampered[10] ^= 1;
        assert_eq!(trusted.verify(&tampered, &signature), Err(SignatureError::NotTrusted { tried: 1 }));
        let mut bytes = BASE64.decode(&signature).unwrap();
        bytes[3] ^= 0x80;
        assert_eq!(trusted.verify(WASM, &BASE64.encode(bytes)), Err(SignatureError::NotTrusted { tried: 1 }));
    }

    #[test]
    fn untrusted_key_fails_saying_how_many_were_tried() {
        let (signer, a, b) = (generate().unwrap(), generate().unwrap(), generate().unwrap());
        let signature = sign(&signer.secret, WASM).unwrap();
        let err = trust(&[&a, &b, &a]).verify(WASM, &signature).unwrap_err();
        assert_eq!(err, SignatureError::NotTrusted { tried: 2 }, "a repeated key counts once");
        assert!(err.to_string().contains("tried 2 keys"), "{err}");
        assert_eq!(TrustedKeys::parse(&[]).unwrap().verify(WASM, &signature), Err(SignatureError::NoTrustedKeys));
        assert!(TrustedKeys::parse(&[]).unwrap().is_empty());
    }

    /// RFC 8032 §7.1 TEST 1: our base64 forms are the standard bytes, nothing more.
    #[test]
    fn rfc8032_test_vector() {
        let b64 = |h: &str| BASE64.encode(hex::decode(h).unwrap());
        let secret = b64("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let public = b64("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let expected = b64(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        );
        assert_eq!(public_key(&secret).unwrap(), public);
        assert_eq!(sign(&secret, b"").unwrap(), expected);
        let trusted = TrustedKeys::parse(std::slice::from_ref(&public)).unwrap();
        assert_eq!(trusted.verify(b"", &expected).unwrap(), key_id(&public).unwrap());
    }

    #[test]
    fn malformed_input_says_which_and_what_was_expected() {
        let good = generate().unwrap().public;
        let reason = |e: SignatureError| match e {
            SignatureError::Malformed { what, reason } => format!("{what}: {reason}"),
            other => panic!("expected Malformed, got {other:?}"),
        };

        let e = reason(TrustedKeys::parse(&[good.clone(), "not base64!".into()]).unwrap_err());
        assert!(e.starts_with("trusted key 2 of 2: not standard base64"), "{e}");
        let e = reason(TrustedKeys::parse(&[BASE64.encode([7u8; 31])]).unwrap_err());
        assert_eq!(e, "trusted key 1 of 1: expected an ed25519 public key of 32 bytes, got 31 bytes");
        let e = reason(TrustedKeys::parse(&[" ".into()]).unwrap_err());
        assert!(e.contains("empty; expected standard base64"), "{e}");
        // The identity point is a valid encoding but a small-order key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let e = reason(TrustedKeys::parse(&[BASE64.encode(identity)]).unwrap_err());
        assert!(e.contains("weak"), "{e}");

        let trusted = TrustedKeys::parse(&[good]).unwrap();
        let e = reason(trusted.verify(WASM, &BASE64.encode([1u8; 63])).unwrap_err());
        assert_eq!(e, "signature: expected an ed25519 signature of 64 bytes, got 63 bytes");
        let e = reason(trusted.verify(WASM, "@@@@").unwrap_err());
        assert!(e.starts_with("signature: not standard base64"), "{e}");

        let e = reason(sign(&BASE64.encode([1u8; 64]), WASM).unwrap_err());
        assert_eq!(e, "secret key: expected an ed25519 seed of 32 bytes, got 64 bytes");
        let e = reason(key_id("AAAA").unwrap_err());
        assert_eq!(e, "public key: expected an ed25519 public key of 32 bytes, got 3 bytes");
    }
}
