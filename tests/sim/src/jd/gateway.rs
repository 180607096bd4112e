//! The `/routerjson` gateway: system parameters, faults, then the business method.
//!
//! Checks run in JOS's order as far as it is known: the front end (HTTP failures), method and
//! app key, throttling, timestamp, version, signature, access token, then
//! `360buy_param_json`. Parameters may come in the query, the urlencoded body, or both (the
//! query's value wins when a name is in both, as it comes first).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use chrono::DateTime;
use serde_json::{Map, Value};

use super::error::{JosError, codes};
use super::methods::{self, METHODS};
use super::{JdConfig, Shared};
use crate::faults::Refusal;
use crate::serve::{lock, wall_ms};
use crate::taobao::{Params, SignMethod, encode_pairs, parse_gmt8, sign};

/// Where JOS serves (platforms.md: `https://api.jd.com/routerjson`).
pub const ROUTER_PATH: &str = "/routerjson";
/// The only protocol version JOS speaks.
pub const API_VERSION: &str = "2.0";
/// The parameter carrying the method's own parameters as one JSON string (itself signed).
pub const PARAM_JSON: &str = "360buy_param_json";

/// Newer JOS SDKs stamp `yyyy-MM-dd HH:mm:ss.SSSZ` (`2026-11-11 08:00:00.000+0800`); older ones
/// the TOP layout without millis or zone (GMT+8).
const MILLIS_ZONE_LAYOUT: &str = "%Y-%m-%d %H:%M:%S%.3f%z";

/// The HTTP status of every answer from the gateway itself, refusals included (JOS puts
/// errors in the body); anything else comes from the front end, with an HTML page.
pub const GATEWAY_STATUS: u16 = 200;

/// A request `timestamp` in either layout JOS takes, as UTC ms.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    parse_gmt8(s).or_else(|| DateTime::parse_from_str(s, MILLIS_ZONE_LAYOUT).ok().map(|t| t.timestamp_millis()))
}

/// The query string (system params, signed) and urlencoded body (`360buy_param_json`) a
/// correct client sends.
pub fn signed_request(config: &JdConfig, method: &str, params: &Value, timestamp: &str) -> (String, String) {
    // serde_json's map is ordered by key, so this is the compact, key-sorted form JOS signs.
    let param_json = params.to_string();
    let mut system = vec![
        ("method", method),
        ("app_key", config.app_key.as_str()),
        ("access_token", config.access_token.as_str()),
        ("timestamp", timestamp),
        ("v", API_VERSION),
    ];
    let signature =
        sign(system.iter().copied().chain([(PARAM_JSON, param_json.as_str())]), &config.app_secret, SignMethod::Md5);
    system.push(("sign", &signature));
    (encode_pairs(system), encode_pairs([(PARAM_JSON, param_json.as_str())]))
}

impl Shared {
    /// Handles one request: `query` is the URL's query string, `body` the urlencoded body.
    /// Answers `(HTTP status, body)`: JSON from the gateway, HTML from the front end.
    pub fn handle(&self, query: Option<&str>, body: &[u8]) -> (u16, String) {
        let mut params = Params::default();
        let parsed = params
            .extend_from_urlencoded(query.unwrap_or_default().as_bytes())
            .and_then(|()| params.extend_from_urlencoded(body));
        let method = params.get("method").unwrap_or_default().to_owned();
        *lock(&self.calls).entry(method.clone()).or_default() += 1;

        let refusal = lock(&self.faults).before(Instant::now());
        if let Some(Refusal::HttpStatus(status)) = refusal {
            return (status, format!("<html><body><h1>{status}</h1><p>api.jd.com is busy</p></body></html>"));
        }
        let outcome = parsed
            .map_err(|e| JosError::new(codes::INVALID_PARAM_JSON, "参数编码错误", e.0))
            .and_then(|()| self.check(&method, &params, refusal.as_ref()));
        match outcome {
            Ok(business) => {
                let body = methods::run(self, &method, &business);
                (GATEWAY_STATUS, lock(&self.faults).after(body))
            }
            Err(e) => {
                tracing::debug!(code = e.code, en = %e.en_desc, "jd sim: error response");
                (GATEWAY_STATUS, e.to_json())
            }
        }
    }

    /// The system checks; the business params when they pass.
    fn check(&self, method: &str, p: &Params, refusal: Option<&Refusal>) -> Result<Map<String, Value>, JosError> {
        let cfg = &self.config;
        if method.is_empty() {
            return Err(JosError::new(codes::MISSING_METHOD, "缺少方法名参数", "Missing Method"));
        }
        match p.get("app_key") {
            None => return Err(JosError::new(codes::MISSING_APP_KEY, "缺少AppKey参数", "Missing App Key")),
            Some(k) if k != cfg.app_key => {
                return Err(JosError::new(codes::INVALID_APP_KEY, "无效的AppKey", "Invalid App Key"));
            }
            Some(_) => {}
        }
        if !METHODS.contains(&method) {
            return Err(JosError::new(codes::INVALID_METHOD, "不存在的方法名", "Invalid Method"));
        }
        if let Some(Refusal::Throttled { retry_after_secs }) = refusal {
            return Err(JosError::throttled(*retry_after_secs));
        }
        let ts = p
            .get("timestamp")
            .ok_or_else(|| JosError::new(codes::MISSING_TIMESTAMP, "缺少时间戳参数", "Missing Timestamp"))?;
        let invalid_ts = |why: String| {
            JosError::new(codes::INVALID_TIMESTAMP, "非法的时间戳参数", format!("Invalid Timestamp: {why}"))
        };
        let ts_ms = parse_timestamp(ts).ok_or_else(|| {
            invalid_ts(format!("expected yyyy-MM-dd HH:mm:ss or yyyy-MM-dd HH:mm:ss.SSSZ (GMT+8), got {ts:?}"))
        })?;
        let skew = (ts_ms - wall_ms()).abs();
        if skew > cfg.timestamp_tolerance_ms {
            return Err(invalid_ts(format!("{ts} is {} s away from server time", skew / 1000)));
        }
        match p.get("v") {
            None => return Err(JosError::new(codes::MISSING_VERSION, "缺少版本参数", "Missing Version")),
            Some(API_VERSION) => {}
            Some(_) => return Err(JosError::new(codes::UNSUPPORTED_VERSION, "不支持的版本号", "Unsupported Version")),
        }
        let given = p
            .get("sign")
            .ok_or_else(|| JosError::new(codes::MISSING_SIGNATURE, "缺少签名参数", "Missing Signature"))?;
        if given != sign(p.iter(), &cfg.app_secret, SignMethod::Md5) {
            return Err(JosError::new(codes::INVALID_SIGNATURE, "无效签名", "Invalid Signature"));
        }
        match p.get("access_token") {
            None => {
                return Err(JosError::new(codes::MISSING_ACCESS_TOKEN, "缺少access_token参数", "Missing access_token"));
            }
            Some(t) if t != cfg.access_token || matches!(refusal, Some(Refusal::Unauthorized)) => {
                return Err(JosError::token_expired());
            }
            Some(_) => {}
        }
        match p.get(PARAM_JSON).map(serde_json::from_str::<Value>) {
            None => Ok(Map::new()),
            Some(Ok(Value::Object(map))) => Ok(map),
            Some(_) => Err(JosError::new(
                codes::INVALID_PARAM_JSON,
                "360buy_param_json格式错误",
                "360buy_param_json must be a JSON object",
            )),
        }
    }
}

async fn routerjson(State(shared): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    let (status, text) = shared.handle(uri.query(), &body);
    let content_type =
        if status == GATEWAY_STATUS { "application/json;charset=utf-8" } else { "text/html;charset=utf-8" };
    (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), [(header::CONTENT_TYPE, content_type)], text)
        .into_response()
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().route(ROUTER_PATH, any(routerjson)).with_state(shared)
}
