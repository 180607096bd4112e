//! The gateway: one path per method, the system parameters in the query, `param_json` as
//! the body; faults first, then the checks 抖店 makes, then the method.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::after_sale;
use super::error::{DyError, success_body};
use super::methods::{self, METHODS, Params as MethodParams};
use super::sign::{SignMethod, sign, sign_pattern, sorted_compact};
use super::{Envelope, Shared};
use crate::faults::Refusal;
use crate::serve::{lock, wall_ms};
use crate::taobao::Params;

/// The `v` system parameter 抖店's current API takes.
pub const API_VERSION: &str = "2";

/// The path of `method`: `order.searchList` → `/order/searchList`.
pub fn path_of(method: &str) -> String {
    format!("/{}", method.replace('.', "/"))
}

/// A gateway answer before it becomes an HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Shared {
    fn log_id(&self) -> String {
        let n = self.log_seq.fetch_add(1, Ordering::Relaxed);
        format!("2026{:010}{n:08X}", self.config.seed % 10_000_000_000)
    }

    fn envelope(&self) -> Envelope {
        *lock(&self.envelope)
    }

    fn error(&self, e: &DyError) -> Reply {
        tracing::debug!(code = e.code, sub_code = %e.sub_code, sub_msg = %e.sub_msg, "douyin sim: error answer");
        Reply { status: 200, body: e.body(self.envelope(), &self.log_id()) }
    }

    /// Handles one request: `path` and `query` of the URL, the body's content type and bytes.
    pub fn handle(&self, path: &str, query: &str, content_type: Option<&str>, body: &[u8]) -> Reply {
        let mut system = Params::default();
        let parsed = system.extend_from_urlencoded(query.as_bytes());
        let method = system.get("method").unwrap_or_default().to_owned();
        *lock(&self.calls).entry(method.clone()).or_default() += 1;

        match lock(&self.faults).before(Instant::now()) {
            Some(Refusal::HttpStatus(status)) => {
                return Reply { status, body: format!("<html><body><h1>{status} Bad Gateway</h1></body></html>") };
            }
            Some(Refusal::Throttled { retry_after_secs }) => return self.error(&DyError::throttled(retry_after_secs)),
            Some(Refusal::Unauthorized) => return self.error(&DyError::token_expired()),
            None => {}
        }
        if let Err(e) = parsed {
            return self.error(&DyError::invalid("isv.parameter-format-invalid", format!("query 无法解析: {}", e.0)));
        }
        let result = param_json(content_type, body)
            .and_then(|(text, params)| self.check(path, &method, &system, &text).map(|()| params))
            .and_then(|params| self.run(&method, &params));
        match result {
            Ok(data) => Reply {
                status: 200,
                body: lock(&self.faults).after(success_body(data, self.envelope(), &self.log_id())),
            },
            Err(e) => self.error(&e),
        }
    }

    /// The system checks, in the order 抖店 reports them.
    fn check(&self, path: &str, method: &str, p: &Params, param_json: &str) -> Result<(), DyError> {
        let cfg = &self.config;
        if method.is_empty() {
            return Err(DyError::missing("isv.method-missing", "method"));
        }
        if !METHODS.contains(&method) {
            return Err(DyError::no_such_api(method));
        }
        if path != path_of(method) {
            return Err(DyError::invalid("isv.method-path-mismatch", format!("路径 {path} 与 method {method} 不符")));
        }
        match p.get("app_key") {
            None => return Err(DyError::missing("isv.app-id-missing", "app_key")),
            Some(k) if k != cfg.app_key => {
                return Err(DyError::invalid("isv.app-id-invalid", format!("app_key {k} 不存在")));
            }
            Some(_) => {}
        }
        if p.get("v") != Some(API_VERSION) {
            return Err(DyError::invalid(
                "isv.version-invalid",
                format!("v 须为 {API_VERSION}，收到 {:?}", p.get("v")),
            ));
        }
        let timestamp = p.get("timestamp").ok_or_else(|| DyError::missing("isv.timestamp-missing", "timestamp"))?;
        let seconds: i64 = timestamp.parse().map_err(|_| {
            DyError::invalid("isv.timestamp-format-error", format!("timestamp 须为 Unix 秒，收到 {timestamp:?}"))
        })?;
        if (seconds * 1000 - wall_ms()).abs() > cfg.timestamp_tolerance_ms {
            return Err(DyError::invalid(
                "isv.timestamp-invalid",
                format!("timestamp {timestamp} 与服务器时间相差过大"),
            ));
        }
        let sign_method = SignMethod::parse(p.get("sign_method")).ok_or_else(|| {
            DyError::invalid("isv.signature-invalid", format!("不支持的 sign_method {:?}", p.get("sign_method")))
        })?;
        let got = p.get("sign").ok_or_else(|| DyError::missing("isv.signature-missing", "sign"))?;
        let pattern = sign_pattern(&cfg.app_key, method, param_json, timestamp);
        if got != sign(sign_method, &cfg.app_secret, &pattern) {
            tracing::debug!(%pattern, %got, "douyin sim: signature mismatch");
            return Err(DyError::invalid("isv.signature-invalid", "签名校验失败"));
        }
        match p.get("access_token") {
            None => Err(DyError::missing("isv.access-token-missing", "access_token")),
            Some(t) if t != cfg.access_token => {
                Err(DyError::invalid("isv.access-token-no-existed", "access_token不存在，请使用最新的access_token访问"))
            }
            Some(_) => Ok(()),
        }
    }

    fn run(&self, method: &str, params: &Map<String, Value>) -> Result<Value, DyError> {
        let p = MethodParams(params);
        let mut shop = lock(&self.shop);
        match method {
            methods::SEARCH_LIST => methods::search_list(&shop, &lock(&self.raw), &p),
            methods::ORDER_DETAIL => methods::order_detail(&shop, &lock(&self.raw), &p),
            methods::SYNC_STOCK => methods::sync_stock(&mut shop, &mut lock(&self.applied), &p),
            methods::LOGISTICS_ADD => methods::logistics_add(&mut shop, &p, self.clock.now_ms()),
            methods::INVOICE_UPLOAD => {
                methods::invoice_upload(&shop, &mut lock(&self.invoices), &p, self.clock.now_ms())
            }
            after_sale::AFTER_SALE_LIST => after_sale::list(&shop, &p),
            super::decrypt::BATCH_DECRYPT => {
                super::decrypt::batch_decrypt(&shop, &mut lock(&self.decrypt_calls), &p, self.clock.now_ms())
            }
            after_sale::AFTER_SALE_DETAIL => after_sale::detail(&shop, &p),
            after_sale::AFTER_SALE_OPERATE => {
                after_sale::operate(&mut shop, &mut lock(&self.seller_actions), &p, self.clock.now_ms())
            }
            other => Err(DyError::no_such_api(other)),
        }
    }
}

/// The `param_json` text and its object: the raw body (`application/json`, what current SDKs
/// send), or the `param_json` field of a form body. An empty body is `{}`. The text must be
/// compact JSON with sorted keys, since that is what gets signed.
fn param_json(content_type: Option<&str>, body: &[u8]) -> Result<(String, Map<String, Value>), DyError> {
    let bad = |why: String| DyError::invalid("isv.parameter-format-invalid", format!("业务参数json解析失败: {why}"));
    let text = if content_type.is_some_and(|t| t.starts_with("application/x-www-form-urlencoded")) {
        let mut form = Params::default();
        form.extend_from_urlencoded(body).map_err(|e| bad(e.0))?;
        form.get("param_json").unwrap_or("{}").to_owned()
    } else if body.is_empty() {
        "{}".to_owned()
    } else {
        String::from_utf8(body.to_vec()).map_err(|_| bad("body 不是 UTF-8".to_owned()))?
    };
    let Value::Object(params) = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))? else {
        return Err(bad("param_json 须为 JSON 对象".to_owned()));
    };
    let canonical = sorted_compact(&Value::Object(params.clone()));
    if canonical != text {
        return Err(bad(format!("param_json 须按 key 排序且不含空白: 应为 {canonical}")));
    }
    Ok((text, params))
}

async fn serve_one(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let reply = shared.handle(uri.path(), uri.query().unwrap_or_default(), content_type, &body);
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json;charset=UTF-8")], reply.body).into_response()
}

/// Every path goes to the one handler, which checks the path against `method`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(serve_one).with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(path_of("order.searchList"), "/order/searchList");
        assert_eq!(path_of("sku.syncStock"), "/sku/syncStock");
    }

    #[test]
    fn param_json_must_be_sorted_and_compact() {
        assert_eq!(param_json(None, b"").unwrap().0, "{}");
        assert!(param_json(Some("application/json"), br#"{"page":0,"size":1}"#).is_ok());
        for bad in [&br#"{"size":1,"page":0}"#[..], br#"{"page": 0}"#, b"[1]", b"{", b"\xff"] {
            let e = param_json(None, bad).unwrap_err();
            assert_eq!(e.sub_code, "isv.parameter-format-invalid", "{:?}", String::from_utf8_lossy(bad));
        }
        let form = param_json(Some("application/x-www-form-urlencoded"), b"param_json=%7B%22page%22%3A0%7D").unwrap();
        assert_eq!(form.1["page"], 0);
    }
}
