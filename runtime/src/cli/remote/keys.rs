//! The local key tools for signed plugins: `wharf plugin keygen` and `wharf plugin sign`.

use std::io::Write as _;
use std::path::Path;

use serde_json::{Value, json};
use wharf_runtime::registry::signature::{self, SignatureError};

use super::client::*;
use super::routes::*;

pub(super) fn key_error(e: SignatureError, file: Option<&Path>) -> RemoteError {
    match (e, file) {
        (SignatureError::Randomness(m), _) => RemoteError::Host(m),
        (e, Some(file)) => RemoteError::Usage(format!("{}: {e}", file.display())),
        (e, None) => RemoteError::Usage(e.to_string()),
    }
}

/// `wharf plugin keygen`.
pub(super) fn keygen(out: Option<&Path>) -> Result<Value, RemoteError> {
    let pair = signature::generate().map_err(|e| key_error(e, None))?;
    let Some(prefix) = out else {
        return Ok(json!({"secret": pair.secret, "public": pair.public, "key_id": pair.key_id}));
    };
    let (secret_file, public_file) = (with_suffix(prefix, ".key"), with_suffix(prefix, ".pub"));
    for file in [&secret_file, &public_file] {
        if file.exists() {
            return Err(RemoteError::Usage(format!("{} exists; not overwriting a key", file.display())));
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = |options: &std::fs::OpenOptions, file: &Path, text: &str| {
        options
            .open(file)
            .and_then(|mut f| writeln!(f, "{text}"))
            .map_err(|e| RemoteError::Usage(format!("cannot write {}: {e}", file.display())))
    };
    write(&options, &secret_file, &pair.secret)?;
    let mut public_options = std::fs::OpenOptions::new();
    public_options.write(true).create_new(true);
    write(&public_options, &public_file, &pair.public)?;
    Ok(json!({"public": pair.public, "key_id": pair.key_id, "secret_file": secret_file, "public_file": public_file}))
}

/// `wharf plugin sign`.
pub(super) fn sign(file: &Path, key: &Path, out: Option<&Path>) -> Result<Value, RemoteError> {
    let secret = String::from_utf8(read(key, "--key")?)
        .map_err(|_| RemoteError::Usage(format!("--key {} is not base64 text", key.display())))?;
    let wasm = read(file, "plugin")?;
    let signature = signature::sign(&secret, &wasm).map_err(|e| key_error(e, Some(key)))?;
    let public = signature::public_key(&secret).map_err(|e| key_error(e, Some(key)))?;
    let key_id = signature::key_id(&public).map_err(|e| key_error(e, Some(key)))?;
    let out = out.map_or_else(|| with_suffix(file, ".sig"), Path::to_path_buf);
    std::fs::write(&out, format!("{signature}\n"))
        .map_err(|e| RemoteError::Usage(format!("cannot write {}: {e}", out.display())))?;
    Ok(json!({"signature": signature, "key_id": key_id, "written": out}))
}
