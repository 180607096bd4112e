//! The settings most connectors share, under the same names everywhere: where the platform
//! answers (`endpoint`), which app calls (`app_key`, and the secret `app_secret`), how
//! requests are signed (`sign_method`) and how many rows a listing page holds (`page_size`).

use crate::config;
use crate::types::ConnectorError;

pub const ENDPOINT: &str = "endpoint";
pub const APP_KEY: &str = "app_key";
pub const APP_SECRET: &str = "app_secret";
pub const SIGN_METHOD: &str = "sign_method";
pub const PAGE_SIZE: &str = "page_size";

/// The `endpoint` setting: `default` when absent or blank, else an `http(s)://` base URL
/// without a query or fragment. A trailing `/` is dropped, so paths can be appended.
pub fn endpoint(value: Option<&str>, default: &str) -> Result<String, ConnectorError> {
    let url = value.map(str::trim).filter(|v| !v.is_empty()).unwrap_or(default);
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.trim_end_matches('/').is_empty() && !rest.contains(['?', '#']) => {
            Ok(url.trim_end_matches('/').to_owned())
        }
        _ => Err(ConnectorError::invalid_input(
            config::field(ENDPOINT),
            format!("expected an http(s) base URL without a query, like {default:?}, got {url:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = "https://openapi.example.com";

    #[test]
    fn defaults_and_trailing_slashes() {
        assert_eq!(endpoint(None, DEFAULT).unwrap(), DEFAULT);
        assert_eq!(endpoint(Some("  "), DEFAULT).unwrap(), DEFAULT);
        assert_eq!(endpoint(Some("http://127.0.0.1:9/"), DEFAULT).unwrap(), "http://127.0.0.1:9");
        assert_eq!(
            endpoint(Some("https://eco.taobao.com/router/rest"), DEFAULT).unwrap(),
            "https://eco.taobao.com/router/rest"
        );
    }

    #[test]
    fn refusals_name_the_setting() {
        for bad in ["ftp://x", "https://", "https:///", "https://x/?a=1", "https://x/#top", "x.example.com"] {
            match endpoint(Some(bad), DEFAULT) {
                Err(ConnectorError::InvalidInput(f)) => {
                    assert_eq!(f.field, "config.endpoint");
                    assert!(f.reason.contains(bad), "{}", f.reason);
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
