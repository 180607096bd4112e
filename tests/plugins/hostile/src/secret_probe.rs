//! Mode `secret-bytes`: every way a plugin could get at a secret's bytes, then a scan of the
//! whole linear memory for them.
//!
//! The test tells the plugin what to look for as `needle_xor`: the hex of the secret's bytes
//! each XOR [`NEEDLE_XOR_KEY`]. The plugin compares memory XOR the key against that, so the plain
//! secret is never written into memory by the probe itself: finding it means the host leaked it.

#[cfg(target_arch = "wasm32")]
use std::hint::black_box;

use crate::wharf::connector::types::{ConnectorError, OrderPage};

/// The secret the probe hunts, declared as a secret config key in `describe`.
pub const SECRET_NAME: &str = "app_secret";

/// What each byte of the needle is XORed with.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "the scan is wasm only"))]
const NEEDLE_XOR_KEY: u8 = 0x5A;

/// Mode `secret-bytes`: answers an empty page whose cursor reports what each attempt got, as
/// `found=<bool>;config=<some|none>;sign=<ok:N|err:…>;echo_status=<status|err:…>;
/// echo_placeholder=<bool>;memory_bytes=N`.
#[cfg(target_arch = "wasm32")]
pub fn hunt_secret() -> Result<OrderPage, ConnectorError> {
    use crate::wharf::connector::{config, credentials, http};

    /// Timeout asked for the echo request; the echo server answers at once.
    const ECHO_TIMEOUT_MS: u32 = 5_000;
    let placeholder = format!("{{{{secret:{SECRET_NAME}}}}}");

    let needle = decode_needle(&crate::required_config("needle_xor", "hex of the secret's bytes each XOR 0x5A")?)?;
    let echo_url = crate::required_config("echo_url", "the URL of the test's echo server")?;

    // Everything fetched stays alive until the scan is done, so a leak is still in memory.
    let from_config = config::get(SECRET_NAME);
    let signed = credentials::sign(&credentials::SignRequest {
        secret: SECRET_NAME.to_owned(),
        digest: credentials::Digest::Md5,
        wrap: true,
        hex: credentials::HexCase::Lowercase,
        message: placeholder.as_bytes().to_vec(),
    });
    let separator = if echo_url.contains('?') { '&' } else { '?' };
    let echoed = http::send(&http::Request {
        method: http::Method::Post,
        url: format!("{echo_url}{separator}probe={placeholder}"),
        headers: vec![
            ("x-wharf-probe".to_owned(), placeholder.clone()),
            ("content-type".to_owned(), "text/plain".to_owned()),
        ],
        body: format!("probe={placeholder}").into_bytes(),
        timeout_ms: Some(ECHO_TIMEOUT_MS),
    });

    let memory_bytes = memory::size_bytes();
    let found = memory::contains_xored(&needle);

    let config_report = if black_box(&from_config).is_some() { "some" } else { "none" };
    let sign_report = match black_box(&signed) {
        Ok(digest) => format!("ok:{}", digest.len()),
        Err(error) => format!("err:{error:?}"),
    };
    let (echo_status, echo_placeholder) = match black_box(&echoed) {
        Ok(response) => (response.status.to_string(), contains(&response.body, placeholder.as_bytes())),
        Err(error) => (format!("err:{error:?}"), false),
    };
    Ok(OrderPage {
        orders: Vec::new(),
        next_cursor: Some(format!(
            "found={found};config={config_report};sign={sign_report};echo_status={echo_status};\
             echo_placeholder={echo_placeholder};memory_bytes={memory_bytes}"
        )),
    })
}

/// Natively there is no linear memory to scan.
#[cfg(not(target_arch = "wasm32"))]
pub fn hunt_secret() -> Result<OrderPage, ConnectorError> {
    Err(crate::platform_error("secret-bytes", "wasm only".to_owned()))
}

/// Decodes the hex needle, keeping its bytes XORed.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "the scan is wasm only"))]
fn decode_needle(hex: &str) -> Result<Vec<u8>, ConnectorError> {
    let invalid = |reason: &str| crate::invalid_input("needle_xor", format!("expected {reason}"));
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return Err(invalid(&format!("a non-empty even number of hex digits, got {} digits", hex.len())));
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).map_err(|_| invalid("ASCII hex digits"))?;
            u8::from_str_radix(text, 16).map_err(|_| invalid(&format!("hex digits, got `{text}`")))
        })
        .collect()
}

#[cfg(target_arch = "wasm32")]
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// The scan of this instance's own linear memory.
#[cfg(target_arch = "wasm32")]
mod memory {
    use super::NEEDLE_XOR_KEY;

    /// Bytes in one wasm page.
    const WASM_PAGE_BYTES: usize = 65_536;

    /// The current size of memory 0.
    pub fn size_bytes() -> usize {
        core::arch::wasm32::memory_size(0) * WASM_PAGE_BYTES
    }

    /// Whether any run of bytes in memory, each XOR the key, equals `needle`.
    ///
    /// Starts at address 1 (0 is the null pointer); every byte is read volatile so the reads
    /// happen as written, and the XOR only ever lives in a wasm local, never in memory.
    pub fn contains_xored(needle: &[u8]) -> bool {
        let end = size_bytes();
        let Some(last_start) = end.checked_sub(needle.len()) else {
            return false;
        };
        (1..=last_start).any(|start| {
            needle.iter().enumerate().all(|(offset, &want)| {
                let address = core::ptr::with_exposed_provenance::<u8>(start + offset);
                // SAFETY: `address` is inside memory 0 (below `memory_size * page`), which is
                // always mapped and readable in wasm; reading any of it cannot fault.
                let byte = unsafe { core::ptr::read_volatile(address) };
                byte ^ NEEDLE_XOR_KEY == want
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_needle_decodes_without_unxoring() {
        assert_eq!(decode_needle("3b1A00ff").unwrap(), vec![0x3b, 0x1a, 0x00, 0xff]);
    }

    #[test]
    fn a_bad_needle_names_the_field() {
        for bad in ["", "abc", "zz", "éé", "aéb"] {
            match decode_needle(bad) {
                Err(ConnectorError::InvalidInput(error)) => assert_eq!(error.field, "needle_xor"),
                other => panic!("{bad:?}: expected invalid-input, got {other:?}"),
            }
        }
    }
}
