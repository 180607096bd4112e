//! Talking to the 抖店 open API, on the SDK's gateway kit: how 抖店 signs, where the
//! parameters go, both answer envelopes, and what their error codes mean.
//!
//! Every call is `POST <endpoint>/<method with dots → slashes>` with the system parameters in
//! the query (`app_key`, `method`, `timestamp` in Unix seconds, `v=2`, `sign_method`, `sign`,
//! `access_token` as the placeholder `{{secret:access_token}}`) and the method's parameters as
//! the JSON body `param_json`: compact, keys sorted, which is also what gets signed. The sign
//! is the host's lowercase hex of `HMAC_SHA256(key = app_secret, app_secret + pattern +
//! app_secret)` (or `MD5` of the same), pattern = the SDK's `douyin_sign_pattern`.
//!
//! Answers come in the current envelope `{"code":10000,"msg","sub_code","sub_msg","data"}`
//! or the older `{"err_no":0,"message","data"}`; [`parse_envelope`] accepts both and turns
//! errors into the [`ConnectorError`] the host retries by ([`ERRORS`], the one table of 抖店
//! codes).

use serde_json::{Map, Value};
use wharf_sdk::credentials::{Digest, HexCase, SignRequest};
use wharf_sdk::error::DEFAULT_RETRY_AFTER_MS;
use wharf_sdk::gateway::{self, ErrorTable, HostGateway, SignedGateway};
use wharf_sdk::http::{Method, Request};
use wharf_sdk::json::{self, Node};
use wharf_sdk::settings::APP_SECRET;
use wharf_sdk::signing::{compact_sorted_json, douyin_sign_pattern, form_urlencode, secret_placeholder};
use wharf_sdk::time;
use wharf_sdk::types::ConnectorError;

/// 抖店's open API host, and the endpoint on it.
pub const HOST: &str = "openapi-fxg.jinritemai.com";
pub const DEFAULT_ENDPOINT: &str = "https://openapi-fxg.jinritemai.com";

/// What an error answer means, by 抖店's codes. UNSURE (platforms.md calls 10000 success
/// UNSURE; the rest follow 抖店's published table of platform codes as open-source SDKs copy
/// it), and kept here alone so it is easy to correct:
/// - 10000 success (`err_no` 0 in the older envelope);
/// - 60000 throttled: wait as long as `sub_msg` (or `msg`) says, `请N秒后重试`, else a
///   second;
/// - 20000 service unavailable, 20001 internal timeout, or any `isp.*` sub-code: transient;
/// - 30001 (permission or shop authorization gone) and the credential sub-codes below: auth;
/// - `isv.idempotent-id-existed`: the request was already applied; answered as a success;
/// - everything else: `platform` with the code and the texts.
pub const ERRORS: ErrorTable = ErrorTable {
    gateway: "抖店",
    throttled: &[60000],
    auth: &[30001],
    auth_sub_codes: &[
        "isv.access-token-expired",
        "isv.access-token-no-existed",
        "isv.access-token-invalid",
        "isv.access-token-missing",
        "isv.signature-invalid",
        "isv.signature-missing",
        "isv.app-id-invalid",
        "isv.app-id-missing",
        "isv.app-id-expired",
        "isv.authorization-type-invalid",
    ],
    transient: &[20000, 20001],
    transient_sub_code_prefix: Some("isp."),
};

/// The codes that are not errors (see [`ERRORS`]).
pub mod codes {
    pub const SUCCESS: i64 = 10000;
    pub const ALREADY_APPLIED_SUB_CODE: &str = "isv.idempotent-id-existed";
    /// How a throttle answer says the wait: the number before this word.
    pub const SECONDS_WORD: &str = "秒";
}

/// 抖店's `sign_method`s and the digest the host computes of `secret + pattern + secret`
/// (lowercase hex; the HMAC keyed by the secret).
const SIGN_METHODS: &[(&str, Digest)] = &[("hmac-sha256", Digest::HmacSha256), ("md5", Digest::Md5)];

/// Signing unless configured: what 抖店's current SDKs use.
pub const DEFAULT_SIGN_METHOD: Digest = Digest::HmacSha256;

/// The `sign_method` value of `digest`.
pub fn sign_method_name(digest: Digest) -> &'static str {
    gateway::sign_method_name::<OpenApi>(digest)
}

/// The host request that signs `pattern` with the app secret.
pub fn sign_request(digest: Digest, pattern: &str) -> SignRequest {
    SignRequest {
        secret: APP_SECRET.to_owned(),
        digest,
        wrap: true,
        hex: HexCase::Lowercase,
        message: pattern.as_bytes().to_vec(),
    }
}

/// Orders per `order.searchList` page unless configured, within 抖店's bounds for `size`.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const PAGE_SIZE_RANGE: std::ops::RangeInclusive<u32> = 1..=100;

/// 抖店's open API, for the SDK's gateway kit.
pub struct OpenApi;

/// The plugin's settings, read from the shop's config; the endpoint has no trailing `/`, so
/// method paths are appended.
pub type Settings = gateway::Settings<OpenApi>;

/// [`wharf_sdk::api::Api`] through the host: signs with the host's secret and sends with its
/// HTTP.
pub type HostApi = HostGateway<OpenApi>;

/// How `param_json` travels.
const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";

impl SignedGateway for OpenApi {
    type SignMethod = Digest;
    type Prepared = Prepared;

    const NAME: &'static str = "抖店";
    const DEFAULT_ENDPOINT: &'static str = DEFAULT_ENDPOINT;
    const DEFAULT_PAGE_SIZE: u32 = DEFAULT_PAGE_SIZE;
    const PAGE_SIZE_RANGE: std::ops::RangeInclusive<u32> = PAGE_SIZE_RANGE;
    const TOKEN_SECRET: &'static str = ACCESS_TOKEN;
    const TOKEN_DESCRIPTION: &'static str = "The shop's access token";
    const SIGN_METHODS: &'static [(&'static str, Digest)] = SIGN_METHODS;
    const DEFAULT_SIGN_METHOD: Digest = DEFAULT_SIGN_METHOD;

    fn endpoint_description() -> String {
        "抖店 open API base URL".to_owned()
    }

    /// Unix seconds.
    fn timestamp(now_ms: i64) -> String {
        time::ms_to_unix_seconds(now_ms).to_string()
    }

    fn prepare(settings: &Settings, method: &str, params: &Value, timestamp: &str) -> (SignRequest, Prepared) {
        let prepared = Prepared::new(settings, method, params, timestamp);
        (sign_request(settings.sign_method, &prepared.pattern), prepared)
    }

    fn request(settings: &Settings, method: &str, timestamp: &str, prepared: Prepared, sign: &str) -> Request {
        Request {
            method: Method::Post,
            url: prepared.url(settings, method, timestamp, sign),
            headers: vec![("Content-Type".to_owned(), JSON_CONTENT_TYPE.to_owned())],
            body: prepared.body.into_bytes(),
            timeout_ms: None,
        }
    }

    fn open(_: &str, body: &[u8]) -> Result<Value, ConnectorError> {
        parse_envelope(body)
    }
}

/// `order.searchList` → `/order/searchList`.
pub fn path_of(method: &str) -> String {
    format!("/{}", method.replace('.', "/"))
}

/// The secret holding the shop's access token; the query carries its placeholder.
pub const ACCESS_TOKEN: &str = "access_token";
/// The `v` system parameter of 抖店's current API.
const API_VERSION: &str = "2";

/// What one call sends: the URL (query with the token placeholder), the signed pattern and
/// the body. `params` must be a JSON object; `timestamp` is Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub pattern: String,
    pub body: String,
}

impl Prepared {
    pub fn new(settings: &Settings, method: &str, params: &Value, timestamp: &str) -> Self {
        let body = compact_sorted_json(params);
        let pattern = douyin_sign_pattern(&settings.app_key, method, &body, timestamp, API_VERSION);
        Self { pattern, body }
    }

    /// The URL once the host has signed the pattern.
    pub fn url(&self, settings: &Settings, method: &str, timestamp: &str, sign: &str) -> String {
        let token = secret_placeholder(ACCESS_TOKEN);
        let query = form_urlencode([
            ("app_key", settings.app_key.as_str()),
            ("method", method),
            ("timestamp", timestamp),
            ("v", API_VERSION),
            ("sign_method", sign_method_name(settings.sign_method)),
            ("sign", sign),
            ("access_token", token.as_str()),
        ]);
        format!("{}{}?{query}", settings.endpoint, path_of(method))
    }
}

/// What an answer that is not 抖店's envelope was expected to have.
const ENVELOPE_KEYS: &str = "an object with `code` (or the older `err_no`)";

/// The `data` of a successful answer (an object; a missing or null `data` is `{}`), or the
/// error the answer means. A body that is neither envelope (HTML from a proxy, an empty or
/// cut-off body, JSON without `code` or `err_no`) is `transient`: the request was not at
/// fault and retrying is safe. An envelope whose `code` or `data` is of the wrong type is
/// `invalid_input` on `response.code` / `response.data`.
pub fn parse_envelope(body: &[u8]) -> Result<Value, ConnectorError> {
    const ROOT: &str = "response";
    let document = json::parse_answer(body, ROOT)?;
    let root = Node::root(&document, ROOT);
    let Value::Object(fields) = &document else {
        return Err(json::not_the_envelope(ROOT, ENVELOPE_KEYS, &document));
    };
    let (code, texts) = if fields.contains_key("code") {
        (root.i64("code")?, [text(fields, "msg"), text(fields, "sub_code"), text(fields, "sub_msg")])
    } else if fields.contains_key("err_no") {
        (root.i64("err_no")?, [text(fields, "message"), String::new(), String::new()])
    } else {
        return Err(json::not_the_envelope(ROOT, ENVELOPE_KEYS, &document));
    };
    let [msg, sub_code, sub_msg] = texts;
    let legacy_success = !fields.contains_key("code") && code == 0;
    if code == codes::SUCCESS || legacy_success || sub_code == codes::ALREADY_APPLIED_SUB_CODE {
        return match fields.get("data") {
            None | Some(Value::Null) => Ok(Value::Object(Map::new())),
            Some(data @ Value::Object(_)) => Ok(data.clone()),
            Some(other) => {
                Err(root.error_at("data", format!("expected an object, got {}", json::describe(Some(other)))).into())
            }
        };
    }
    Err(error_from(code, &msg, &sub_code, &sub_msg))
}

fn text(fields: &Map<String, Value>, key: &str) -> String {
    match fields.get(key) {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    }
}

/// What an error answer means, by [`ERRORS`].
pub fn error_from(code: i64, msg: &str, sub_code: &str, sub_msg: &str) -> ConnectorError {
    let message = [msg, sub_code, sub_msg].iter().filter(|t| !t.is_empty()).copied().collect::<Vec<_>>().join(" / ");
    ERRORS.error(&code.to_string(), sub_code, message, || {
        let wait = wait_seconds(sub_msg).or_else(|| wait_seconds(msg));
        wait.map_or(DEFAULT_RETRY_AFTER_MS, |s| s.saturating_mul(1_000))
    })
}

/// N from "…请N秒后重试": the digits right before the first `秒`.
pub fn wait_seconds(text: &str) -> Option<u64> {
    let before = &text[..text.find(codes::SECONDS_WORD)?];
    let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    before[before.len() - digits..].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wharf_sdk::testing::lookup;
    use wharf_sdk::types::{FieldError, RateLimit};

    /// The settings of a shop that gave only its app key.
    fn settings() -> Settings {
        Settings::from_lookup(|key| (key == "app_key").then(|| "7000000000000000001".to_owned())).unwrap()
    }

    /// The config field a refused set of settings names.
    fn refused(pairs: &[(&str, &str)]) -> String {
        match Settings::from_lookup(lookup(pairs)) {
            Err(ConnectorError::InvalidInput(f)) => f.field,
            other => panic!("{pairs:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn settings_defaults_and_checks() {
        let s = settings();
        assert_eq!(
            (s.endpoint.as_str(), s.app_key.as_str(), s.sign_method, s.page_size),
            (DEFAULT_ENDPOINT, "7000000000000000001", Digest::HmacSha256, DEFAULT_PAGE_SIZE)
        );
        let s = Settings::from_lookup(lookup(&[
            ("app_key", "1"),
            ("sign_method", "md5"),
            ("page_size", "100"),
            ("endpoint", "http://127.0.0.1:9/"),
        ]))
        .unwrap();
        assert_eq!((s.sign_method, s.page_size, s.endpoint.as_str()), (Digest::Md5, 100, "http://127.0.0.1:9"));
        assert_eq!(refused(&[]), "config.app_key");
        assert_eq!(refused(&[("app_key", "1"), ("sign_method", "hmac")]), "config.sign_method");
        assert_eq!(refused(&[("app_key", "1"), ("page_size", "0")]), "config.page_size");
        assert_eq!(refused(&[("app_key", "1"), ("page_size", "101")]), "config.page_size");
        assert_eq!(refused(&[("app_key", "1"), ("endpoint", "ftp://x")]), "config.endpoint");
        assert_eq!((sign_method_name(Digest::HmacSha256), sign_method_name(Digest::Md5)), ("hmac-sha256", "md5"));
    }

    #[test]
    fn requests_sign_the_sorted_compact_body_and_carry_the_token_placeholder() {
        let s = settings();
        let p = Prepared::new(
            &s,
            "order.searchList",
            &json!({"size": 50, "page": 0, "order_by": "update_time"}),
            "1794326400",
        );
        assert_eq!(p.body, r#"{"order_by":"update_time","page":0,"size":50}"#);
        assert_eq!(
            p.pattern,
            r#"app_key7000000000000000001methodorder.searchListparam_json{"order_by":"update_time","page":0,"size":50}timestamp1794326400v2"#
        );
        let url = p.url(&s, "order.searchList", "1794326400", "abc123");
        assert_eq!(
            url,
            "https://openapi-fxg.jinritemai.com/order/searchList?app_key=7000000000000000001&method=order.searchList\
             &timestamp=1794326400&v=2&sign_method=hmac-sha256&sign=abc123&access_token=%7B%7Bsecret%3Aaccess_token%7D%7D"
        );
        let request = sign_request(Digest::HmacSha256, &p.pattern);
        assert!(
            request.wrap && matches!(request.digest, Digest::HmacSha256) && matches!(request.hex, HexCase::Lowercase)
        );
        assert_eq!(request.secret, "app_secret");
        assert!(matches!(sign_request(Digest::Md5, "x").digest, Digest::Md5));
    }

    #[test]
    fn both_envelopes_succeed() {
        let current = br#"{"log_id":"1","code":10000,"msg":"success","sub_code":"","sub_msg":"","data":{"total":3}}"#;
        assert_eq!(parse_envelope(current).unwrap(), json!({"total": 3}));
        assert_eq!(
            parse_envelope(br#"{"err_no":0,"message":"success","data":{"total":4}}"#).unwrap(),
            json!({"total": 4})
        );
        assert_eq!(parse_envelope(br#"{"code":10000,"msg":"success","data":null}"#).unwrap(), json!({}));
    }

    fn error_of(body: &str) -> ConnectorError {
        parse_envelope(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn throttling_waits_as_told() {
        let e = error_of(
            r#"{"code":60000,"msg":"触发限流，请稍后重试","sub_code":"isv.api-flow-limited","sub_msg":"触发限流，请12秒后重试"}"#,
        );
        assert!(matches!(e, ConnectorError::RateLimited(RateLimit { retry_after_ms: 12_000, .. })), "{e:?}");
        let e = error_of(r#"{"code":60000,"msg":"触发限流，请稍后重试","sub_code":"","sub_msg":""}"#);
        assert!(
            matches!(e, ConnectorError::RateLimited(RateLimit { retry_after_ms: DEFAULT_RETRY_AFTER_MS, .. })),
            "{e:?}"
        );
        let e = error_of(r#"{"err_no":60000,"message":"触发限流，请3秒后重试"}"#);
        assert!(matches!(e, ConnectorError::RateLimited(RateLimit { retry_after_ms: 3_000, .. })), "{e:?}");
        assert_eq!(wait_seconds("请在 45秒 后重试"), Some(45));
        assert_eq!(wait_seconds("秒"), None);
        assert_eq!(wait_seconds("no wait"), None);
    }

    #[test]
    fn credentials_transient_and_platform_errors() {
        for sub in ERRORS.auth_sub_codes {
            let e = error_of(&format!(r#"{{"code":40003,"msg":"非法的参数","sub_code":"{sub}","sub_msg":"x"}}"#));
            assert!(matches!(e, ConnectorError::Auth(_)), "{sub}: {e:?}");
        }
        assert!(matches!(error_of(r#"{"code":30001,"msg":"操作权限不足"}"#), ConnectorError::Auth(_)));
        assert!(matches!(error_of(r#"{"code":20000,"msg":"服务不可用"}"#), ConnectorError::Transient(_)));
        assert!(matches!(
            error_of(r#"{"code":50001,"msg":"平台处理失败","sub_code":"isp.service-error:123","sub_msg":"内部错误"}"#),
            ConnectorError::Transient(_)
        ));
        match error_of(r#"{"code":50002,"msg":"业务处理失败","sub_code":"isv.business-failed","sub_msg":"订单不存在"}"#)
        {
            ConnectorError::Platform(p) => {
                assert_eq!(p.code, "50002");
                assert_eq!(p.message, "业务处理失败 / isv.business-failed / 订单不存在");
            }
            other => panic!("{other:?}"),
        }
        // The older envelope has no sub-codes: only the code speaks.
        assert!(matches!(error_of(r#"{"err_no":40003,"message":"access_token已过期"}"#), ConnectorError::Platform(_)));
    }

    #[test]
    fn a_repeated_idempotent_request_is_a_success() {
        let body = r#"{"code":40003,"msg":"非法的参数","sub_code":"isv.idempotent-id-existed","sub_msg":"幂等ID重复","data":{}}"#;
        assert_eq!(parse_envelope(body.as_bytes()).unwrap(), json!({}));
    }

    /// The field an unreadable answer is refused on.
    fn unreadable(body: &str) -> String {
        match error_of(body) {
            ConnectorError::InvalidInput(FieldError { field, reason }) => {
                assert!(reason.starts_with("expected"), "{reason}");
                field
            }
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn answers_that_are_not_the_envelope_are_transient() {
        // The same reading serves pulls (`order.searchList`) and pushes (`sku.syncStock`).
        for body in [
            "<html>502 Bad Gateway</html>",
            "",
            "   ",
            r#"{"code":10000,"msg":"success","data":{"shop_"#,
            "[]",
            r#"{"error":1}"#,
        ] {
            assert!(matches!(error_of(body), ConnectorError::Transient(_)), "{body:?}: {:?}", error_of(body));
        }
    }

    #[test]
    fn unreadable_envelopes_name_the_field() {
        assert_eq!(unreadable(r#"{"code":"x"}"#), "response.code");
        assert_eq!(unreadable(r#"{"code":10000,"data":[1]}"#), "response.data");
    }
}
