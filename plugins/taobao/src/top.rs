//! Talking to the Taobao Open Platform (TOP) router: settings, signed requests, envelopes.
//!
//! Every TOP call is a form POST to one endpoint with system params (`method`, `app_key`,
//! `session`, `timestamp`, `v`, `format`, `sign_method`, `sign`) plus the method's own. The
//! answer is `{"<method>_response": {...}}` or `{"error_response": {...}}`; [`parse_envelope`]
//! turns the latter into the [`ConnectorError`] the host retries by.

use serde_json::Value;
use wharf_sdk::api::{self, Api};
use wharf_sdk::config;
use wharf_sdk::envelope::{self, Envelope};
use wharf_sdk::http::{self, Method, Request};
use wharf_sdk::json::{self, Node};
use wharf_sdk::signing::{self, SortedParams, TopSignMethod, secret_placeholder};
use wharf_sdk::time;
use wharf_sdk::types::ConnectorError;

/// TOP's production gateway.
pub const DEFAULT_ENDPOINT: &str = "https://eco.taobao.com/router/rest";
/// Rows per listing page unless configured; TOP allows 1..=100 (its own default is 40).
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// TOP's documented bounds for `page_size`.
pub const PAGE_SIZE_RANGE: std::ops::RangeInclusive<u32> = 1..=100;
/// The signing method unless configured.
pub const DEFAULT_SIGN_METHOD: TopSignMethod = TopSignMethod::Md5;

/// The secret that keys (hmac) or wraps (md5) the signature.
pub const APP_SECRET: &str = "app_secret";
/// The secret holding the seller's session token; sent as a placeholder.
pub const SESSION: &str = "session";

/// Config keys.
pub const ENDPOINT_KEY: &str = "endpoint";
pub const APP_KEY_KEY: &str = "app_key";
pub const SIGN_METHOD_KEY: &str = "sign_method";
pub const PAGE_SIZE_KEY: &str = "page_size";

/// TOP's API version and answer format.
const API_VERSION: &str = "2.0";
const FORMAT: &str = "json";

/// The key of the error envelope.
pub const ERROR_RESPONSE: &str = "error_response";

/// Code 7, "App Call Limited".
const CODE_CALL_LIMITED: i64 = 7;
/// Code 10, "Service Currently Unavailable".
const CODE_SERVICE_UNAVAILABLE: i64 = 10;
/// Invalid signature (25), missing/invalid session (26/27), missing/invalid app key (28/29),
/// invalid access token (44): credentials the operator must fix.
const AUTH_CODES: [i64; 6] = [25, 26, 27, 28, 29, 44];
/// `sub_code`s of platform-side failures (`isp.*`), usually gone on retry.
const PLATFORM_SIDE_SUB_CODE_PREFIX: &str = "isp.";

/// The plugin's settings, read from the shop's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub endpoint: String,
    pub app_key: String,
    pub sign_method: TopSignMethod,
    pub page_size: u32,
}

impl Settings {
    /// Reads and checks the settings through `get` (the host's `config::get`, or a map in
    /// tests). Absent values take the documented defaults.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConnectorError> {
        let endpoint =
            get(ENDPOINT_KEY).filter(|e| !e.trim().is_empty()).unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(ConnectorError::invalid_input(
                config::field(ENDPOINT_KEY),
                format!("expected an http(s) URL like {DEFAULT_ENDPOINT:?}, got {endpoint:?}"),
            ));
        }
        let app_key = config::required(APP_KEY_KEY, get(APP_KEY_KEY))?;
        let sign_method = match get(SIGN_METHOD_KEY).filter(|m| !m.trim().is_empty()) {
            None => DEFAULT_SIGN_METHOD,
            Some(m) => TopSignMethod::parse(m.trim())
                .map_err(|reason| ConnectorError::invalid_input(config::field(SIGN_METHOD_KEY), reason))?,
        };
        let page_size =
            config::u32_in(PAGE_SIZE_KEY, get(PAGE_SIZE_KEY).as_deref(), DEFAULT_PAGE_SIZE, PAGE_SIZE_RANGE)?;
        Ok(Self { endpoint, app_key, sign_method, page_size })
    }
}

/// All params of a request except `sign`: system params (session as a placeholder) plus the
/// method's own.
pub fn request_params(settings: &Settings, method: &str, params: &Value, timestamp: &str) -> SortedParams {
    let mut all = SortedParams::new();
    if let Value::Object(params) = params {
        for (k, v) in params {
            if let Some(text) = api::param_text(v) {
                all.insert(k.as_str(), text);
            }
        }
    }
    all.insert("method", method)
        .insert("app_key", settings.app_key.as_str())
        .insert("session", secret_placeholder(SESSION))
        .insert("timestamp", timestamp)
        .insert("v", API_VERSION)
        .insert("format", FORMAT)
        .insert("sign_method", settings.sign_method.as_str());
    all
}

/// The success root of `method`: `taobao.trade.fullinfo.get` → `trade_fullinfo_get_response`.
pub fn response_key(method: &str) -> String {
    let bare = method.strip_prefix("taobao.").unwrap_or(method);
    format!("{}_response", bare.replace('.', "_"))
}

/// Reads a TOP answer: the inside of `<method>_response`, or the error `error_response`
/// means. A body that is not such an envelope is `invalid_input` on the response key.
pub fn parse_envelope(method: &str, body: &[u8]) -> Result<Value, ConnectorError> {
    match envelope::open(body, &response_key(method), ERROR_RESPONSE)? {
        Envelope::Success(inner) => Ok(inner),
        Envelope::Error(error) => Err(error_from_envelope(&error)),
    }
}

/// What an `error_response` means (see the module docs and the mapping contract).
pub fn error_from_envelope(error: &Value) -> ConnectorError {
    let node = Node::root(error, ERROR_RESPONSE);
    let code_value = match node.raw("code") {
        Some(v) => v,
        None => {
            return ConnectorError::invalid_input(
                node.path_of("code"),
                format!("expected an error code, got {}", json::describe(error.get("code"))),
            );
        }
    };
    let code = json::as_i64(code_value).ok();
    let code_text = match code_value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = |key: &str| node.raw(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (msg, sub_code, sub_msg) = (text("msg"), text("sub_code"), text("sub_msg"));
    let message = describe_error(&msg, &sub_code, &sub_msg);

    match code {
        Some(CODE_CALL_LIMITED) => ConnectorError::rate_limited(envelope::ban_retry_ms(&[&msg, &sub_msg]), message),
        Some(c) if AUTH_CODES.contains(&c) => ConnectorError::auth(format!("TOP error {c}: {message}")),
        Some(CODE_SERVICE_UNAVAILABLE) => ConnectorError::transient(format!("TOP error 10: {message}")),
        _ if sub_code.starts_with(PLATFORM_SIDE_SUB_CODE_PREFIX) => {
            ConnectorError::transient(format!("TOP error {code_text}: {message}"))
        }
        _ => ConnectorError::platform(code_text, message),
    }
}

/// `msg`, then `(sub_code: sub_msg)` when present.
fn describe_error(msg: &str, sub_code: &str, sub_msg: &str) -> String {
    match (sub_code.is_empty(), sub_msg.is_empty()) {
        (true, true) => msg.to_owned(),
        (false, true) => format!("{msg} ({sub_code})"),
        (true, false) => format!("{msg} ({sub_msg})"),
        (false, false) => format!("{msg} ({sub_code}: {sub_msg})"),
    }
}

/// [`Api`] through the host: signs with the host's secrets and sends with its HTTP.
pub struct HostApi {
    settings: Settings,
}

impl HostApi {
    /// Reads the settings and checks the secrets exist (without seeing them).
    pub fn from_host() -> Result<Self, ConnectorError> {
        let settings = Settings::from_lookup(config::get)?;
        config::require_secret(APP_SECRET)?;
        config::require_secret(SESSION)?;
        Ok(Self { settings })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

impl Api for HostApi {
    fn call(&mut self, method: &str, params: &Value) -> Result<Value, ConnectorError> {
        let timestamp = time::ms_to_shanghai(time::now_ms());
        let mut all = request_params(&self.settings, method, params, &timestamp);
        let sign = signing::sign(&self.settings.sign_method.sign_request(APP_SECRET, &all))?;
        all.insert(signing::SIGN_PARAM, sign);
        let request = Request {
            method: Method::Post,
            url: self.settings.endpoint.clone(),
            headers: vec![("Content-Type".to_owned(), http::FORM_CONTENT_TYPE.to_owned())],
            body: all.form_urlencoded().into_bytes(),
            timeout_ms: None,
        };
        let body = http::success_body(http::fetch(&request)?)?;
        parse_envelope(method, &body)
    }

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        api::host_note(message, fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use wharf_sdk::types::{FieldError, PlatformError, RateLimit};

    fn settings() -> Settings {
        Settings {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            app_key: "12345678".to_owned(),
            sign_method: TopSignMethod::Md5,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn settings_defaults_and_checks() {
        let s = Settings::from_lookup(lookup(&[("app_key", "12345678")])).unwrap();
        assert_eq!(s, settings());
        let s = Settings::from_lookup(lookup(&[
            ("app_key", "1"),
            ("sign_method", "hmac-sha256"),
            ("page_size", "100"),
            ("endpoint", "https://gw.api.tbsandbox.com/router/rest"),
        ]))
        .unwrap();
        assert_eq!(s.sign_method, TopSignMethod::HmacSha256);
        assert_eq!(s.page_size, 100);
        for (pairs, field) in [
            (vec![], "config.app_key"),
            (vec![("app_key", "1"), ("sign_method", "sha1")], "config.sign_method"),
            (vec![("app_key", "1"), ("page_size", "0")], "config.page_size"),
            (vec![("app_key", "1"), ("page_size", "101")], "config.page_size"),
            (vec![("app_key", "1"), ("endpoint", "ftp://x")], "config.endpoint"),
        ] {
            match Settings::from_lookup(lookup(&pairs)) {
                Err(ConnectorError::InvalidInput(FieldError { field: f, .. })) => {
                    assert_eq!(f, field)
                }
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
    }

    /// The message the host signs is the published TOP vector's, once the host fills the
    /// session placeholder.
    #[test]
    fn request_message_matches_top_vector() {
        let params = request_params(
            &settings(),
            "taobao.item.seller.get",
            &api::text_params(&[
                ("fields", "num_iid,title,nick,price,num".to_owned()),
                ("num_iid", "11223344".to_owned()),
            ]),
            "2016-01-01 12:00:00",
        );
        let request = TopSignMethod::Md5.sign_request(APP_SECRET, &params);
        let message = String::from_utf8(request.message).unwrap();
        assert!(message.contains("session{{secret:session}}"), "{message}");
        assert_eq!(
            message.replace("{{secret:session}}", "test"),
            signing::top_sign_message(&{
                let mut p = params.clone();
                p.insert("session", "test");
                p
            })
        );
        assert_eq!(
            message.replace("{{secret:session}}", "test"),
            "app_key12345678fieldsnum_iid,title,nick,price,numformatjsonmethodtaobao.item.seller.get\
             num_iid11223344sessiontestsign_methodmd5timestamp2016-01-01 12:00:00v2.0"
        );
        assert!(
            params.form_urlencoded().contains("session=%7B%7Bsecret%3Asession%7D%7D"),
            "the form carries the encoded placeholder, which the host fills encoded"
        );
    }

    #[test]
    fn response_keys() {
        assert_eq!(response_key("taobao.trade.fullinfo.get"), "trade_fullinfo_get_response");
        assert_eq!(response_key("taobao.trades.sold.increment.get"), "trades_sold_increment_get_response");
    }

    #[test]
    fn success_envelope() {
        let inner = parse_envelope(
            "taobao.item.seller.get",
            br#"{"item_seller_get_response":{"item":{"num_iid":11223344,"num":5}}}"#,
        )
        .unwrap();
        assert_eq!(inner["item"]["num"], 5);
    }

    fn error_of(body: &str) -> ConnectorError {
        parse_envelope("taobao.trade.fullinfo.get", body.as_bytes()).unwrap_err()
    }

    #[test]
    fn call_limited_waits_as_told() {
        let e = error_of(
            r#"{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This ban will last for 12 more seconds"}}"#,
        );
        assert!(matches!(e, ConnectorError::RateLimited(RateLimit { retry_after_ms: 12_000, .. })), "{e:?}");
        let e = error_of(
            r#"{"error_response":{"code":7,"msg":"App Call Limited, This ban will last for 3 more seconds"}}"#,
        );
        assert!(matches!(e, ConnectorError::RateLimited(RateLimit { retry_after_ms: 3_000, .. })), "{e:?}");
        let e = error_of(r#"{"error_response":{"code":"7","msg":"App Call Limited"}}"#);
        assert!(
            matches!(
                e,
                ConnectorError::RateLimited(RateLimit { retry_after_ms: wharf_sdk::error::DEFAULT_RETRY_AFTER_MS, .. })
            ),
            "{e:?}"
        );
    }

    #[test]
    fn auth_codes() {
        for code in AUTH_CODES {
            let e = error_of(&format!(r#"{{"error_response":{{"code":{code},"msg":"Invalid session"}}}}"#));
            assert!(matches!(e, ConnectorError::Auth(_)), "{code}: {e:?}");
        }
    }

    #[test]
    fn transient_and_platform_errors() {
        let e = error_of(r#"{"error_response":{"code":10,"msg":"Service Currently Unavailable"}}"#);
        assert!(matches!(e, ConnectorError::Transient(_)), "{e:?}");
        let e = error_of(
            r#"{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.remote-service-timeout","sub_msg":"超时"}}"#,
        );
        assert!(matches!(e, ConnectorError::Transient(_)), "{e:?}");
        let e = error_of(
            r#"{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isv.trade-not-exist","sub_msg":"交易不存在","request_id":"abc"}}"#,
        );
        match e {
            ConnectorError::Platform(PlatformError { code, message }) => {
                assert_eq!(code, "15");
                assert_eq!(message, "Remote service error (isv.trade-not-exist: 交易不存在)");
            }
            other => panic!("{other:?}"),
        }
        let e = error_of(r#"{"error_response":{"code":41,"msg":"Invalid Arguments"}}"#);
        assert!(
            matches!(&e, ConnectorError::Platform(p) if p.code == "41" && p.message == "Invalid Arguments"),
            "{e:?}"
        );
    }

    #[test]
    fn answers_that_are_not_the_envelope_are_transient_for_pulls_and_pushes() {
        for method in [
            "taobao.trade.fullinfo.get",
            "taobao.trades.sold.increment.get",
            "taobao.item.quantity.update",
            "taobao.logistics.offline.send",
        ] {
            for body in [
                "<html>502</html>",
                "",
                "[]",
                r#"{"other_response":{}}"#,
                r#"{"item_quantity_update_response":{"item":{"num_iid":1"#,
            ] {
                match parse_envelope(method, body.as_bytes()) {
                    Err(ConnectorError::Transient(_)) => {}
                    other => panic!("{method} {body:?}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn malformed_envelopes_are_invalid_input() {
        for (body, field) in [
            (r#"{"trade_fullinfo_get_response":"x"}"#, "trade_fullinfo_get_response"),
            (r#"{"error_response":{"msg":"no code"}}"#, "error_response.code"),
        ] {
            match error_of(body) {
                ConnectorError::InvalidInput(FieldError { field: f, reason }) => {
                    assert_eq!(f, field, "{body}");
                    assert!(reason.starts_with("expected"), "{reason}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }
}
