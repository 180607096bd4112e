//! Talking to the Taobao Open Platform (TOP) router, on the SDK's gateway kit: how TOP signs,
//! where the parameters go, its envelopes, and its table of error codes.
//!
//! Every TOP call is a form POST to one endpoint with system params (`method`, `app_key`,
//! `session`, `timestamp`, `v`, `format`, `sign_method`, `sign`) plus the method's own. The
//! answer is `{"<method>_response": {...}}` or `{"error_response": {...}}`; [`parse_envelope`]
//! turns the latter into the [`ConnectorError`] the host retries by ([`ERRORS`]).

use serde_json::Value;
use wharf_sdk::api;
use wharf_sdk::credentials::SignRequest;
use wharf_sdk::envelope::{self, ERROR_RESPONSE, error_text};
use wharf_sdk::gateway::{self, ErrorTable, HostGateway, SignedGateway};
use wharf_sdk::http::{self, Method, Request};
use wharf_sdk::json::Node;
use wharf_sdk::settings::APP_SECRET;
use wharf_sdk::signing::{self, SortedParams, TopSignMethod, secret_placeholder};
use wharf_sdk::types::ConnectorError;

/// TOP's production gateway.
pub const DEFAULT_ENDPOINT: &str = "https://eco.taobao.com/router/rest";
/// Rows per listing page unless configured; TOP allows 1..=100 (its own default is 40).
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// TOP's documented bounds for `page_size`.
pub const PAGE_SIZE_RANGE: std::ops::RangeInclusive<u32> = 1..=100;
/// The signing method unless configured.
pub const DEFAULT_SIGN_METHOD: TopSignMethod = TopSignMethod::Md5;

/// The secret holding the seller's session token; sent as a placeholder.
pub const SESSION: &str = "session";

/// TOP's API version and answer format.
const API_VERSION: &str = "2.0";
const FORMAT: &str = "json";

/// What TOP's codes mean to the host:
/// - 7, "App Call Limited": throttled, for as long as the ban phrase says;
/// - invalid signature (25), missing/invalid session (26/27), missing/invalid app key (28/29),
///   invalid access token (44): credentials the operator must fix;
/// - 10, "Service Currently Unavailable", and `sub_code`s of platform-side failures (`isp.*`):
///   usually gone on retry.
pub const ERRORS: ErrorTable = ErrorTable {
    gateway: "TOP",
    throttled: &[7],
    auth: &[25, 26, 27, 28, 29, 44],
    auth_sub_codes: &[],
    transient: &[10],
    transient_sub_code_prefix: Some("isp."),
};

/// The TOP router, for the SDK's gateway kit.
pub struct Top;

/// The plugin's settings, read from the shop's config.
pub type Settings = gateway::Settings<Top>;

/// [`wharf_sdk::api::Api`] through the host: signs with the host's secrets and sends with its
/// HTTP.
pub type HostApi = HostGateway<Top>;

impl SignedGateway for Top {
    type SignMethod = TopSignMethod;
    type Prepared = SortedParams;

    const NAME: &'static str = "TOP";
    const DEFAULT_ENDPOINT: &'static str = DEFAULT_ENDPOINT;
    const DEFAULT_PAGE_SIZE: u32 = DEFAULT_PAGE_SIZE;
    const PAGE_SIZE_RANGE: std::ops::RangeInclusive<u32> = PAGE_SIZE_RANGE;
    const PAGE_SIZE_DESCRIPTION: &'static str = "Trades per listing page";
    const TOKEN_SECRET: &'static str = SESSION;
    const TOKEN_DESCRIPTION: &'static str = "Seller session key (access token)";
    const SIGN_METHODS: &'static [(&'static str, TopSignMethod)] =
        &[("md5", TopSignMethod::Md5), ("hmac", TopSignMethod::Hmac), ("hmac-sha256", TopSignMethod::HmacSha256)];
    const DEFAULT_SIGN_METHOD: TopSignMethod = DEFAULT_SIGN_METHOD;

    fn prepare(settings: &Settings, method: &str, params: &Value, timestamp: &str) -> (SignRequest, SortedParams) {
        let all = request_params(settings, method, params, timestamp);
        (settings.sign_method.sign_request(APP_SECRET, &all), all)
    }

    /// Every param, `sign` included, in the form body.
    fn request(settings: &Settings, _: &str, _: &str, mut all: SortedParams, sign: &str) -> Request {
        all.insert(signing::SIGN_PARAM, sign);
        Request {
            method: Method::Post,
            url: settings.endpoint.clone(),
            headers: vec![("Content-Type".to_owned(), http::FORM_CONTENT_TYPE.to_owned())],
            body: all.form_urlencoded().into_bytes(),
            timeout_ms: None,
        }
    }

    fn open(method: &str, body: &[u8]) -> Result<Value, ConnectorError> {
        parse_envelope(method, body)
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
/// means. A body that is not such an envelope is `transient`.
pub fn parse_envelope(method: &str, body: &[u8]) -> Result<Value, ConnectorError> {
    envelope::open_coded(body, &response_key(method), ERROR_RESPONSE, error_from_envelope)
}

/// What an `error_response` means, by [`ERRORS`].
pub fn error_from_envelope(code: &str, error: &Node<'_>) -> ConnectorError {
    let (msg, sub_code, sub_msg) =
        (error_text(error, "msg"), error_text(error, "sub_code"), error_text(error, "sub_msg"));
    ERRORS.error(code, sub_code, describe_error(msg, sub_code, sub_msg), || envelope::ban_retry_ms(&[msg, sub_msg]))
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

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::testing::lookup;
    use wharf_sdk::types::{FieldError, PlatformError, RateLimit};

    fn settings() -> Settings {
        Settings {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            app_key: "12345678".to_owned(),
            sign_method: TopSignMethod::Md5,
            page_size: DEFAULT_PAGE_SIZE,
        }
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
        for &code in ERRORS.auth {
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
