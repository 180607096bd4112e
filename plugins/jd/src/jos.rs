//! Talking to JOS's `routerjson` gateway, on the SDK's gateway kit: how JOS signs, where the
//! parameters go, its envelopes, and its table of error codes.
//!
//! Every JOS call carries system params (`method`, `app_key`, `access_token`, `timestamp`,
//! `v`, `sign`) and the method's own params as one JSON string, `360buy_param_json`. As JD's
//! SDKs do, the system params go in the query and `360buy_param_json` in the form body; the
//! signature covers both: sorted `k+v` of all of them, `UPPER_HEX(MD5(secret + s + secret))`,
//! computed by the host (the access token goes out as the placeholder `{{secret:access_token}}`,
//! filled by the host before hashing and sending).
//!
//! The answer is `{"<method with dots as _>_responce": {...}}` (JD's spelling) or
//! `{"error_response": {"code": "12", "zh_desc": …, "en_desc": …}}`; [`ERRORS`] is the one
//! table of what JOS's codes mean to the host. Business refusals come inside the
//! success envelope, in `apiResult` or a flat result object: [`business`] reads them.

use serde_json::Value;
use wharf_sdk::api;
use wharf_sdk::credentials::{Digest, HexCase, SignRequest};
use wharf_sdk::envelope::{self, ERROR_RESPONSE, error_text};
use wharf_sdk::gateway::{self, ErrorTable, HostGateway, SignedGateway};
use wharf_sdk::http::{self, Method, Request};
use wharf_sdk::json::{self, Node};
use wharf_sdk::settings::APP_SECRET;
use wharf_sdk::signing::{self, SortedParams, secret_placeholder};
use wharf_sdk::types::ConnectorError;

/// JOS's production gateway (platforms.md), config key `endpoint`.
pub const DEFAULT_ENDPOINT: &str = "https://api.jd.com/routerjson";
/// Orders per search page unless configured (config key `page_size`).
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// `jingdong.pop.order.search` takes `page_size` 1..=100 (UNSURE: JOS's docs say at most
/// 100).
pub const PAGE_SIZE_RANGE: std::ops::RangeInclusive<u32> = 1..=100;

/// The secret holding the seller's access token; sent as a placeholder.
pub const ACCESS_TOKEN: &str = "access_token";

/// JOS gateway codes and what they mean to the host; a code not listed is `platform`.
/// - "2" is JOS's "App Call Limited" (UNSURE: the most plausible throttle code; its text may
///   say "This ban will last for N more seconds", TOP's wording, which sets the wait);
/// - 12 invalid signature and 19 invalid or expired access token (platforms.md); 17 invalid
///   app key and 18 missing access token (UNSURE codes): credentials the operator must fix.
pub const ERRORS: ErrorTable = ErrorTable {
    gateway: "JOS",
    throttled: &[2],
    auth: &[12, 17, 18, 19],
    auth_sub_codes: &[],
    transient: &[],
    transient_sub_code_prefix: None,
};

/// JOS's `routerjson`, for the SDK's gateway kit.
pub struct Jos;

/// The plugin's settings, read from the shop's config (JOS signs one way only: no
/// `sign_method`).
pub type Settings = gateway::Settings<Jos>;

/// [`wharf_sdk::api::Api`] through the host: signs with the host's secrets and sends with its
/// HTTP.
pub type HostApi = HostGateway<Jos>;

impl SignedGateway for Jos {
    type SignMethod = ();
    type Prepared = SortedParams;

    const NAME: &'static str = "JOS";
    const DEFAULT_ENDPOINT: &'static str = DEFAULT_ENDPOINT;
    const DEFAULT_PAGE_SIZE: u32 = DEFAULT_PAGE_SIZE;
    const PAGE_SIZE_RANGE: std::ops::RangeInclusive<u32> = PAGE_SIZE_RANGE;
    const PAGE_SIZE_DESCRIPTION: &'static str = "Orders per search page";
    const TOKEN_SECRET: &'static str = ACCESS_TOKEN;
    const TOKEN_DESCRIPTION: &'static str = "The seller's JOS access token";
    const SIGN_METHODS: &'static [(&'static str, ())] = &[];
    const DEFAULT_SIGN_METHOD: () = ();

    fn prepare(settings: &Settings, method: &str, params: &Value, timestamp: &str) -> (SignRequest, SortedParams) {
        let all = signed_params(settings, method, params, timestamp);
        (sign_request(&all), all)
    }

    fn request(settings: &Settings, _: &str, _: &str, all: SortedParams, sign: &str) -> Request {
        http_request(settings, &all, sign)
    }

    fn open(method: &str, body: &[u8]) -> Result<Value, ConnectorError> {
        parse_answer(method, body)
    }
}

/// JD's success envelope key: `jingdong.pop.order.search` → `jingdong_pop_order_search_responce`.
pub fn response_key(method: &str) -> String {
    format!("{}_responce", method.replace('.', "_"))
}

/// The protocol version JOS speaks.
const API_VERSION: &str = "2.0";
/// The parameter carrying the method's own parameters as JSON.
pub const PARAM_JSON: &str = "360buy_param_json";

/// Every signed param of a call (all but `sign`): the system params, the access token as a
/// placeholder, and `params` as compact key-sorted JSON.
pub fn signed_params(settings: &Settings, method: &str, params: &Value, timestamp: &str) -> SortedParams {
    let mut all = SortedParams::new();
    all.insert("method", method)
        .insert("app_key", settings.app_key.as_str())
        .insert("access_token", secret_placeholder(ACCESS_TOKEN))
        .insert("timestamp", timestamp)
        .insert("v", API_VERSION)
        .insert(PARAM_JSON, signing::compact_sorted_json(params));
    all
}

/// What the host signs: [`signing::jd_sign_message`] of the params, md5 wrapped in the app
/// secret, upper hex.
pub fn sign_request(params: &SortedParams) -> SignRequest {
    SignRequest {
        secret: APP_SECRET.to_owned(),
        digest: Digest::Md5,
        wrap: true,
        hex: HexCase::Uppercase,
        message: signing::jd_sign_message(params).into_bytes(),
    }
}

/// The HTTP request: system params and `sign` in the query, `360buy_param_json` in the body.
pub fn http_request(settings: &Settings, params: &SortedParams, sign: &str) -> Request {
    let query =
        signing::form_urlencode(params.iter().filter(|(k, _)| *k != PARAM_JSON).chain([(signing::SIGN_PARAM, sign)]));
    let body = signing::form_urlencode([(PARAM_JSON, params.get(PARAM_JSON).unwrap_or_default())]);
    Request {
        method: Method::Post,
        url: format!("{}?{query}", settings.endpoint),
        headers: vec![("Content-Type".to_owned(), http::FORM_CONTENT_TYPE.to_owned())],
        body: body.into_bytes(),
        timeout_ms: None,
    }
}

/// Reads a JOS answer: the inside of `<method>_responce`, or the error `error_response`
/// means.
pub fn parse_answer(method: &str, body: &[u8]) -> Result<Value, ConnectorError> {
    envelope::open_coded(body, &response_key(method), ERROR_RESPONSE, error_from_envelope)
}

/// What an `error_response` means, by [`ERRORS`].
pub fn error_from_envelope(code: &str, error: &Node<'_>) -> ConnectorError {
    let (zh, en) = (error_text(error, "zh_desc"), error_text(error, "en_desc"));
    ERRORS.error(code, "", describe(zh, en), || envelope::ban_retry_ms(&[en, zh]))
}

/// `zh (en)`, or whichever is there.
fn describe(zh: &str, en: &str) -> String {
    match (zh.is_empty(), en.is_empty()) {
        (false, false) => format!("{zh} ({en})"),
        (true, _) => en.to_owned(),
        (false, true) => zh.to_owned(),
    }
}

/// Checks a business result: its `apiResult` when it has one, else the object itself
/// (`success`, and on failure `numberCode` or `errorCode` with `chineseErrCode` /
/// `englishErrCode`). A refusal is `platform` with JOS's code and text; `result` comes back
/// when it succeeded.
pub fn business<'a>(result: Node<'a>) -> Result<Node<'a>, ConnectorError> {
    let status = result.opt_object("apiResult")?.unwrap_or_else(|| result.clone());
    let success = match status.raw("success") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
        other => {
            return Err(status
                .error_at("success", format!("expected true or false, got {}", json::describe(other)))
                .into());
        }
    };
    if success {
        return Ok(result);
    }
    let code = ["numberCode", "errorCode", "resultCode"]
        .iter()
        .find_map(|k| status.raw(k).and_then(api::param_text).filter(|c| !c.is_empty()))
        .unwrap_or_else(|| "business".to_owned());
    let text = |key: &str| status.raw(key).and_then(Value::as_str).unwrap_or_default();
    Err(ConnectorError::platform(code, describe(text("chineseErrCode"), text("englishErrCode"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wharf_sdk::testing::lookup;
    use wharf_sdk::types::{FieldError, PlatformError, RateLimit};

    fn settings() -> Settings {
        Settings::from_lookup(lookup(&[("app_key", "APPKEY")])).unwrap()
    }

    #[test]
    fn settings_defaults_and_checks() {
        let expected = Settings {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            app_key: "APPKEY".to_owned(),
            sign_method: (),
            page_size: DEFAULT_PAGE_SIZE,
        };
        assert_eq!(settings(), expected);
        for (pairs, field) in [
            (vec![], "config.app_key"),
            (vec![("app_key", "k"), ("page_size", "0")], "config.page_size"),
            (vec![("app_key", "k"), ("page_size", "101")], "config.page_size"),
            (vec![("app_key", "k"), ("endpoint", "ftp://x")], "config.endpoint"),
            (vec![("app_key", "k"), ("endpoint", "https://api.jd.com/routerjson?x=1")], "config.endpoint"),
        ] {
            match Settings::from_lookup(lookup(&pairs)) {
                Err(ConnectorError::InvalidInput(FieldError { field: f, .. })) => assert_eq!(f, field),
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
    }

    /// The message is JOS's: sorted `k+v` of system params and the business JSON, with the
    /// access token as a placeholder the host fills.
    #[test]
    fn request_signing_and_layout() {
        let params = json!({"page_size": "50", "order_state": "A,B", "page": "1"});
        let all = signed_params(&settings(), "jingdong.pop.order.search", &params, "2026-11-11 08:00:00");
        let request = sign_request(&all);
        assert!(request.wrap && matches!(request.digest, Digest::Md5) && matches!(request.hex, HexCase::Uppercase));
        assert_eq!(request.secret, "app_secret");
        assert_eq!(
            String::from_utf8(request.message).unwrap(),
            "360buy_param_json{\"order_state\":\"A,B\",\"page\":\"1\",\"page_size\":\"50\"}\
             access_token{{secret:access_token}}app_keyAPPKEYmethodjingdong.pop.order.search\
             timestamp2026-11-11 08:00:00v2.0"
        );
        let http = http_request(&settings(), &all, "ABC123");
        assert_eq!(
            http.url,
            "https://api.jd.com/routerjson?access_token=%7B%7Bsecret%3Aaccess_token%7D%7D&app_key=APPKEY\
             &method=jingdong.pop.order.search&timestamp=2026-11-11+08%3A00%3A00&v=2.0&sign=ABC123"
        );
        assert_eq!(
            String::from_utf8(http.body).unwrap(),
            "360buy_param_json=%7B%22order_state%22%3A%22A%2CB%22%2C%22page%22%3A%221%22%2C%22page_size%22%3A%2250%22%7D"
        );
    }

    #[test]
    fn response_keys_keep_case_and_jds_spelling() {
        assert_eq!(response_key("jingdong.stock.write.updateSkuStock"), "jingdong_stock_write_updateSkuStock_responce");
        let inner =
            parse_answer("jingdong.pop.order.get", br#"{"jingdong_pop_order_get_responce":{"code":"0"}}"#).unwrap();
        assert_eq!(inner, json!({"code": "0"}));
    }

    fn error_of(body: &str) -> ConnectorError {
        parse_answer("jingdong.pop.order.get", body.as_bytes()).unwrap_err()
    }

    #[test]
    fn gateway_errors_mean_what_the_table_says() {
        let e = error_of(
            r#"{"error_response":{"code":"2","zh_desc":"限制时间内调用失败次数","en_desc":"App Call Limited, This ban will last for 4 more seconds"}}"#,
        );
        assert!(matches!(e, ConnectorError::RateLimited(RateLimit { retry_after_ms: 4_000, .. })), "{e:?}");
        let e = error_of(r#"{"error_response":{"code":"2","en_desc":"App Call Limited"}}"#);
        assert!(matches!(e, ConnectorError::RateLimited(RateLimit { retry_after_ms: 1_000, .. })), "{e:?}");
        for code in ["12", "19", "17", "18"] {
            let e = error_of(&format!(
                r#"{{"error_response":{{"code":"{code}","zh_desc":"无效签名","en_desc":"Invalid Signature"}}}}"#
            ));
            assert!(matches!(e, ConnectorError::Auth(_)), "{code}: {e:?}");
        }
        let e = error_of(r#"{"error_response":{"code":19,"en_desc":"Invalid access_token"}}"#);
        assert!(matches!(e, ConnectorError::Auth(_)), "numeric codes too: {e:?}");
        match error_of(r#"{"error_response":{"code":"15","zh_desc":"不存在的方法名","en_desc":"Invalid Method"}}"#)
        {
            ConnectorError::Platform(PlatformError { code, message }) => {
                assert_eq!((code.as_str(), message.as_str()), ("15", "不存在的方法名 (Invalid Method)"));
            }
            other => panic!("{other:?}"),
        }
        match error_of(r#"{"error_response":{"zh_desc":"?"}}"#) {
            ConnectorError::InvalidInput(f) => assert_eq!(f.field, "error_response.code"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn answers_that_are_not_the_envelope_are_transient_for_pulls_and_pushes() {
        for method in
            ["jingdong.pop.order.search", "jingdong.stock.write.updateSkuStock", "jingdong.pop.order.shipment"]
        {
            for body in ["<html>busy</html>", "", r#"{"jingdong_pop_order_search_responce":{"code":"0","#, r#"{"x":1}"#]
            {
                match parse_answer(method, body.as_bytes()) {
                    Err(ConnectorError::Transient(_)) => {}
                    other => panic!("{method} {body:?}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn business_results() {
        let ok = json!({"apiResult": {"success": true, "numberCode": 10100000}, "orderTotal": 1});
        assert!(business(Node::root(&ok, "r")).is_ok());
        let refused = json!({"apiResult": {"success": false, "numberCode": 10100001, "chineseErrCode": "参数错误", "englishErrCode": "bad param"}});
        match business(Node::root(&refused, "r")) {
            Err(ConnectorError::Platform(p)) => {
                assert_eq!((p.code.as_str(), p.message.as_str()), ("10100001", "参数错误 (bad param)"))
            }
            other => panic!("{other:?}"),
        }
        let flat = json!({"success": "false", "errorCode": "E1", "chineseErrCode": "物流公司不存在"});
        match business(Node::root(&flat, "sopjosshipment_result")) {
            Err(ConnectorError::Platform(p)) => {
                assert_eq!((p.code.as_str(), p.message.as_str()), ("E1", "物流公司不存在"))
            }
            other => panic!("{other:?}"),
        }
        assert!(business(Node::root(&json!({"success": true}), "r")).is_ok());
        match business(Node::root(&json!({"code": "0"}), "r")) {
            Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, "r.success"),
            other => panic!("{other:?}"),
        }
    }
}
