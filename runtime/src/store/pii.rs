//! Receivers' personal data, sealed at rest with a key per tenant.
//!
//! The store never holds a receiver's name, phone or address in the clear: each order's
//! receiver is sealed with XChaCha20-Poly1305 under a key derived from the host's master key
//! and the tenant (HMAC-SHA256), bound to the order's own store key as associated data, so a
//! sealed receiver cannot be read under another tenant or moved onto another order. Reads
//! through the store's interface open it again; the API decides what to show masked.
//!
//! The master key lives beside the data (`pii.key`, created on first open, readable by its
//! owner only): back it up with the data, since without it the receivers cannot be read.

use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::StoreError;

/// The master key's file in the data folder.
pub const KEY_FILE: &str = "pii.key";
/// What a sealed value starts with: the scheme's version, so another can come later.
const PREFIX: &str = "v1:";
/// XChaCha20's nonce: 24 bytes, random per seal.
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// Seals and opens receivers.
#[derive(Clone)]
pub struct Sealer {
    master: [u8; KEY_LEN],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// The master key of the store in `dir`, created (random, mode 0600) if there is none.
    pub fn in_dir(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(KEY_FILE);
        let io = |e: std::io::Error| StoreError::Invalid(format!("master key {}: {e}", path.display()));
        match std::fs::read(&path) {
            Ok(bytes) => {
                let master: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                    StoreError::Invalid(format!(
                        "master key {} holds {} bytes, expected {KEY_LEN}",
                        path.display(),
                        bytes.len()
                    ))
                })?;
                Ok(Sealer { master })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let sealer = Sealer::random();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                use std::io::Write as _;
                let mut file = options.open(&path).map_err(io)?;
                file.write_all(&sealer.master).and_then(|()| file.sync_all()).map_err(io)?;
                Ok(sealer)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// What identifies the key without giving it away (an HMAC of a fixed label under it),
    /// so nodes sharing a database can check they share the key.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.master).expect("hmac takes any key");
        mac.update(b"wharf master key fingerprint v1");
        mac.finalize().into_bytes().into()
    }

    /// A fresh random key (temporary stores).
    pub fn random() -> Self {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        Sealer { master: key.into() }
    }

    fn cipher(&self, tenant: &str) -> XChaCha20Poly1305 {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.master).expect("hmac takes any key");
        mac.update(b"wharf pii v1\0");
        mac.update(tenant.as_bytes());
        XChaCha20Poly1305::new(&mac.finalize().into_bytes())
    }

    /// `plain` sealed for `tenant`, bound to `context` (the record's store key).
    pub fn seal(&self, tenant: &str, context: &[u8], plain: &[u8]) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed =
            self.cipher(tenant).encrypt(&nonce, Payload { msg: plain, aad: context }).expect("sealing cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(out))
    }

    /// Opens what [`Sealer::seal`] made for the same tenant and context.
    pub fn open(&self, tenant: &str, context: &[u8], sealed: &str) -> Result<Vec<u8>, String> {
        let body = sealed.strip_prefix(PREFIX).ok_or("not a sealed value this store wrote")?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(body).map_err(|e| e.to_string())?;
        if bytes.len() < NONCE_LEN {
            return Err("sealed value too short".into());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        self.cipher(tenant)
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: context })
            .map_err(|_| "cannot open: wrong key, tenant or record".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_tenant_and_record() {
        let s = Sealer::random();
        let sealed = s.seal("acme", b"order-1", b"Zhang San, 138...");
        assert!(!sealed.contains("Zhang"));
        assert_eq!(s.open("acme", b"order-1", &sealed).unwrap(), b"Zhang San, 138...");
        assert!(s.open("beta", b"order-1", &sealed).is_err(), "another tenant's key");
        assert!(s.open("acme", b"order-2", &sealed).is_err(), "moved onto another record");
        assert!(Sealer::random().open("acme", b"order-1", &sealed).is_err(), "another master key");
        assert_ne!(s.seal("acme", b"order-1", b"x"), s.seal("acme", b"order-1", b"x"), "fresh nonces");
    }

    #[test]
    fn the_master_key_is_created_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("wharf-pii-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join(KEY_FILE));
        let first = Sealer::in_dir(&dir).unwrap();
        let sealed = first.seal("acme", b"k", b"secret");
        let again = Sealer::in_dir(&dir).unwrap();
        assert_eq!(again.open("acme", b"k", &sealed).unwrap(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "owner only");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
