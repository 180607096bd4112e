//! Talking to the Wharf bridge on the merchant's ECShop site (`bridge/wharf-bridge.php`).
//!
//! The bridge is one URL with `?action=`: reads are GETs with query parameters, writes are
//! POSTs of one JSON object. Every request carries `X-Wharf-Token: {{secret:bridge_token}}`,
//! which the host fills in. Answers are JSON; failures come with an HTTP status that says what
//! happened and, from the bridge itself, `{"error": {"code", "message", "field"?}}`.
//! [`answer`] turns both into what [`Api::call`] returns; [`Settings`] is the [`Api`] itself.

use serde_json::Value;
use wharf_sdk::api::{self, Api};
use wharf_sdk::config;
use wharf_sdk::error::{self as sdk_error};
use wharf_sdk::http::{self, Method, Request};
use wharf_sdk::json;
use wharf_sdk::settings;
use wharf_sdk::signing::{form_urlencode, secret_placeholder};
use wharf_sdk::types::ConnectorError;

/// Orders per page unless configured.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The bridge's own bounds for `page_size` (WHARF_MAX_PAGE_SIZE in the script).
pub const PAGE_SIZE_RANGE: std::ops::RangeInclusive<u32> = 1..=100;

/// How an endpoint looks, for messages about a bad one.
const EXAMPLE_ENDPOINT: &str = "https://shop.example.com/wharf-bridge.php";
/// The secret holding the bridge's token; sent as a placeholder only.
pub const TOKEN_SECRET: &str = "bridge_token";
/// The header the bridge reads its token from.
pub const TOKEN_HEADER: &str = "X-Wharf-Token";

/// The bridge's actions that change the shop: sent as POSTs with a JSON body.
pub const WRITES: &[&str] =
    &["stock", "price", "listing", "ship", "lots", "product", "customer", "shipment", "erp_status"];
/// The bridge's error code for a bridge that cannot work until its config is fixed; retrying
/// does not help, so it is not `transient` like other 5xx.
const NOT_CONFIGURED: &str = "not_configured";

/// The plugin's settings, read from the shop's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub endpoint: String,
    pub page_size: u32,
}

impl Settings {
    /// Reads and checks the settings through `get` (the host's `config::get`, or a map in
    /// tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConnectorError> {
        // Required: every merchant's bridge is somewhere else, so there is no default.
        let endpoint = config::required(settings::ENDPOINT, get(settings::ENDPOINT))?;
        let endpoint = settings::endpoint(Some(&endpoint), EXAMPLE_ENDPOINT)?;
        let page_size = config::u32_in(
            settings::PAGE_SIZE,
            get(settings::PAGE_SIZE).as_deref(),
            DEFAULT_PAGE_SIZE,
            PAGE_SIZE_RANGE,
        )?;
        Ok(Self { endpoint, page_size })
    }

    /// The URL of `action`, with `query` (already encoded) after it.
    pub fn url(&self, action: &str, query: &str) -> String {
        let action = form_urlencode([("action", action)]);
        match query {
            "" => format!("{}?{action}", self.endpoint),
            query => format!("{}?{action}&{query}", self.endpoint),
        }
    }
}

/// The HTTP request of one bridge call: GET with `params` in the query for reads, POST with
/// `params` as the JSON body for [`WRITES`].
pub fn request(settings: &Settings, action: &str, params: &Value) -> Request {
    let mut headers = vec![
        (TOKEN_HEADER.to_owned(), secret_placeholder(TOKEN_SECRET)),
        ("Accept".to_owned(), "application/json".to_owned()),
    ];
    if WRITES.contains(&action) {
        headers.push(("Content-Type".to_owned(), "application/json; charset=utf-8".to_owned()));
        return Request {
            method: Method::Post,
            url: settings.url(action, ""),
            headers,
            body: params.to_string().into_bytes(),
            timeout_ms: None,
        };
    }
    let pairs: Vec<(String, String)> = params
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| api::param_text(v).map(|v| (k.clone(), v)))
        .collect();
    let query = form_urlencode(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Request { method: Method::Get, url: settings.url(action, &query), headers, body: Vec::new(), timeout_ms: None }
}

/// What the bridge answered to `action`: the JSON object of a 2xx, or the error its status and
/// body mean. A 2xx that is not a JSON object (a proxy's HTML page, an empty or cut-off body)
/// is not the bridge's answer: `transient`, retried, never dead-lettered.
pub fn answer(action: &str, status: u16, headers: &[(String, String)], body: &[u8]) -> Result<Value, ConnectorError> {
    if (200..300).contains(&status) {
        return match json::parse_answer(body, action)? {
            object @ Value::Object(_) => Ok(object),
            other => Err(json::not_the_envelope(action, "a JSON object", &other)),
        };
    }
    // The bridge's own refusals carry {"error": {...}}; a front end's (nginx, a CDN) do not.
    let error =
        serde_json::from_slice::<Value>(body).ok().and_then(|v| v.get("error").cloned()).filter(Value::is_object);
    let Some(error) = error else {
        return Err(sdk_error::from_http_status(status, headers, body)
            .unwrap_or_else(|| ConnectorError::transient(format!("HTTP {status}"))));
    };
    let text = |key: &str| error.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (code, message) = (text("code"), text("message"));
    Err(match status {
        400 => ConnectorError::invalid_input(
            Some(text("field")).filter(|f| !f.is_empty()).unwrap_or_else(|| action.to_owned()),
            message,
        ),
        401 | 403 => ConnectorError::auth(format!("the ECShop bridge refused the token: {message}")),
        404 => ConnectorError::not_found(message),
        409 => ConnectorError::platform(code, message),
        500 if code == NOT_CONFIGURED => ConnectorError::platform(code, message),
        _ => sdk_error::from_http_status(status, headers, format!("{code}: {message}").as_bytes())
            .unwrap_or_else(|| ConnectorError::platform(code, message)),
    })
}

impl Settings {
    /// The calling shop's settings, once the token secret is known to exist (unseen).
    pub fn from_host() -> Result<Self, ConnectorError> {
        let settings = Self::from_lookup(config::get)?;
        config::require_secret(TOKEN_SECRET)?;
        Ok(settings)
    }
}

/// The bridge these settings name, reached through the host's HTTP (which fills the token in).
impl Api for Settings {
    fn call(&mut self, action: &str, params: &Value) -> Result<Value, ConnectorError> {
        let response = http::fetch(&request(self, action, params))?;
        answer(action, response.status, &response.headers, &response.body)
    }

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        api::host_note(message, fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wharf_sdk::testing::lookup;
    use wharf_sdk::types::{FieldError, PlatformError, RateLimit};

    fn settings() -> Settings {
        Settings { endpoint: "https://shop.example.com/wharf-bridge.php".into(), page_size: 50 }
    }

    #[test]
    fn settings_need_an_endpoint() {
        let s = Settings::from_lookup(lookup(&[("endpoint", " https://shop.example.com/wharf-bridge.php ")])).unwrap();
        assert_eq!(s, settings());
        assert_eq!(
            Settings::from_lookup(lookup(&[("endpoint", "http://x/b.php"), ("page_size", "100")])).unwrap().page_size,
            100
        );
        let refused = |pairs: &[(&str, &str)]| match Settings::from_lookup(lookup(pairs)) {
            Err(ConnectorError::InvalidInput(f)) => f.field,
            other => panic!("{pairs:?}: {other:?}"),
        };
        assert_eq!(refused(&[]), "config.endpoint");
        assert_eq!(refused(&[("endpoint", "ftp://x/b.php")]), "config.endpoint");
        assert_eq!(refused(&[("endpoint", "https://x/b.php#frag")]), "config.endpoint");
        assert_eq!(refused(&[("endpoint", "https://x/b.php?a=1")]), "config.endpoint");
        assert_eq!(refused(&[("endpoint", "https://x/b.php"), ("page_size", "101")]), "config.page_size");
        assert_eq!(refused(&[("endpoint", "https://x/b.php"), ("page_size", "0")]), "config.page_size");
    }

    #[test]
    fn reads_are_gets_with_the_token_placeholder() {
        let r = request(&settings(), "orders", &json!({"since": 1, "until": 2, "page": 1, "page_size": 50}));
        assert_eq!(r.method, Method::Get);
        assert_eq!(
            r.url,
            "https://shop.example.com/wharf-bridge.php?action=orders&page=1&page_size=50&since=1&until=2"
        );
        assert!(r.headers.contains(&("X-Wharf-Token".to_owned(), "{{secret:bridge_token}}".to_owned())));
        assert!(r.body.is_empty());
        let r = request(&settings(), "order", &json!({"order_sn": "2026 11&1"}));
        assert_eq!(r.url, "https://shop.example.com/wharf-bridge.php?action=order&order_sn=2026+11%261");
    }

    #[test]
    fn writes_are_json_posts() {
        let r = request(&settings(), "stock", &json!({"sn": "SKU-1", "quantity": 5}));
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "https://shop.example.com/wharf-bridge.php?action=stock");
        assert_eq!(serde_json::from_slice::<Value>(&r.body).unwrap(), json!({"sn": "SKU-1", "quantity": 5}));
        assert!(r.headers.iter().any(|(k, v)| k == "Content-Type" && v.starts_with("application/json")));
    }

    fn bridge_error(code: &str, message: &str, field: Option<&str>) -> Vec<u8> {
        let mut error = json!({"code": code, "message": message});
        if let Some(field) = field {
            error["field"] = json!(field);
        }
        json!({"error": error}).to_string().into_bytes()
    }

    #[test]
    fn answers_and_what_failures_mean() {
        assert_eq!(answer("ping", 200, &[], br#"{"bridge":"wharf-ecshop"}"#).unwrap()["bridge"], "wharf-ecshop");
        // What is not the bridge's answer is transient, for reads and writes alike.
        for action in ["orders", "order", "stock", "ship"] {
            for body in [&b"{\"total\": 3, \"ord"[..], b"[1]", b"", b"<html><body>Maintenance</body></html>"] {
                let err = answer(action, 200, &[], body).unwrap_err();
                assert!(matches!(&err, ConnectorError::Transient(m) if m.starts_with(action)), "{action}: {err:?}");
            }
        }

        type Case = (u16, Vec<(String, String)>, Vec<u8>, fn(&ConnectorError) -> bool);
        let cases: Vec<Case> = vec![
            (
                401,
                vec![],
                bridge_error("unauthorized", "wrong X-Wharf-Token", None),
                |e| matches!(e, ConnectorError::Auth(m) if m.contains("wrong X-Wharf-Token")),
            ),
            (
                400,
                vec![],
                bridge_error("invalid_input", "expected 0..65535", Some("quantity")),
                |e| matches!(e, ConnectorError::InvalidInput(FieldError { field, reason }) if field == "quantity" && reason.contains("65535")),
            ),
            (404, vec![], bridge_error("not_found", "no order", None), |e| matches!(e, ConnectorError::NotFound(_))),
            (
                409,
                vec![],
                bridge_error("has_products", "send their product_sn", None),
                |e| matches!(e, ConnectorError::Platform(PlatformError { code, .. }) if code == "has_products"),
            ),
            (500, vec![], bridge_error("not_configured", "token too short", None), |e| {
                matches!(e, ConnectorError::Platform(_))
            }),
            (
                500,
                vec![],
                bridge_error("database_error", "gone away", None),
                |e| matches!(e, ConnectorError::Transient(m) if m.contains("gone away")),
            ),
            (503, vec![], bridge_error("database_unavailable", "cannot connect", None), |e| {
                matches!(e, ConnectorError::Transient(_))
            }),
            (502, vec![], b"<html>bad gateway</html>".to_vec(), |e| matches!(e, ConnectorError::Transient(_))),
            (429, vec![("Retry-After".into(), "7".into())], b"<html>429</html>".to_vec(), |e| {
                matches!(e, ConnectorError::RateLimited(RateLimit { retry_after_ms: 7_000, .. }))
            }),
            (401, vec![], b"denied".to_vec(), |e| matches!(e, ConnectorError::Auth(_))),
            (405, vec![], bridge_error("method_not_allowed", "takes POST", None), |e| {
                matches!(e, ConnectorError::Platform(_))
            }),
        ];
        for (status, headers, body, expected) in cases {
            let err = answer("stock", status, &headers, &body).unwrap_err();
            assert!(expected(&err), "HTTP {status}: {err:?}");
        }
    }
}
