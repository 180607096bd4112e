//! The `/router/rest` gateway: system parameters (app key, timestamp, version, format,
//! signature, session), the fault knobs, then the business method.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use super::SimConfig;
use super::error::TopError;
use super::form::Params;
use super::knobs::{Claimed, Knobs, Malform};
use super::methods::{self, Call, METHODS};
use super::render::IdStyle;
use super::sign::{SignMethod, sign, sign_message};
use super::state::State;
use super::wire::parse_gmt8;

/// The gateway path TOP serves (platforms.md).
pub const REST_PATH: &str = "/router/rest";

/// The simulator's clock: starts at the configured "now" and runs at wall speed.
#[derive(Clone, Copy, Debug)]
pub struct SimClock {
    base_ms: i64,
    started: Instant,
}

impl SimClock {
    pub fn new(base_ms: i64) -> Self {
        Self { base_ms, started: Instant::now() }
    }

    pub fn now_ms(&self) -> i64 {
        self.base_ms + self.started.elapsed().as_millis() as i64
    }
}

pub fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Locks ignoring poison: a panicking test thread must not take the simulator down with it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything the server and the test-facing handle share.
pub struct Shared {
    pub config: SimConfig,
    pub clock: SimClock,
    pub state: RwLock<State>,
    pub knobs: Mutex<Knobs>,
    pub calls: Mutex<HashMap<String, u64>>,
    request_seq: AtomicU64,
    ids: IdStyle,
}

/// A gateway answer before it becomes an HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    fn json(body: String) -> Self {
        Self { status: 200, content_type: "application/json;charset=UTF-8", body }
    }
}

impl Shared {
    pub fn new(config: SimConfig, clock: SimClock, state: State) -> Self {
        let ids = IdStyle { as_strings: config.ids_as_strings };
        Self {
            config,
            clock,
            state: RwLock::new(state),
            knobs: Mutex::new(Knobs::default()),
            calls: Mutex::new(HashMap::new()),
            request_seq: AtomicU64::new(1),
            ids,
        }
    }

    fn request_id(&self) -> String {
        let n = self.request_seq.fetch_add(1, Ordering::Relaxed);
        format!("{:x}{n:06x}", self.config.seed & 0xffff_ffff)
    }

    fn error(&self, e: &TopError) -> Reply {
        tracing::debug!(code = e.code, sub_code = ?e.sub_code, sub_msg = ?e.sub_msg, "taobao sim: error response");
        Reply::json(e.to_json(&self.request_id()))
    }

    /// Handles one request: `query` is the URL's query string, `body` the urlencoded body.
    pub fn handle(&self, query: Option<&str>, body: &[u8]) -> Reply {
        let mut params = Params::default();
        let parsed = params
            .extend_from_urlencoded(query.unwrap_or_default().as_bytes())
            .and_then(|()| params.extend_from_urlencoded(body));
        let method = params.get("method").unwrap_or_default().to_string();
        *lock(&self.calls).entry(method.clone()).or_default() += 1;

        if let Some(status) = lock(&self.knobs).take_http_failure() {
            return Reply {
                status,
                content_type: "text/html;charset=UTF-8",
                body: format!("<html><body><h1>{status} Service Temporarily Unavailable</h1></body></html>"),
            };
        }
        if let Err(e) = parsed {
            return self.error(&TopError::new(47, "Invalid encoding").with_sub("isv.invalid-encoding", e.0));
        }
        if let Err(e) = self.check_system(&method, &params) {
            return self.error(&e);
        }
        if let Some(e) = lock(&self.knobs).take_injected_error() {
            return self.error(&e);
        }
        self.run(&method, &params)
    }

    fn check_system(&self, method: &str, p: &Params) -> Result<(), TopError> {
        let cfg = &self.config;
        if method.is_empty() {
            return Err(TopError::new(21, "Missing Method"));
        }
        match p.get("app_key") {
            None => return Err(TopError::new(28, "Missing App Key")),
            Some(k) if k != cfg.app_key => {
                return Err(TopError::new(29, "Invalid App Key")
                    .with_sub("isv.appkey-not-exists", format!("app_key {k} is unknown")));
            }
            Some(_) => {}
        }
        if !METHODS.contains(&method) {
            return Err(
                TopError::new(22, "Invalid Method").with_sub("isv.method-not-exist", format!("no method {method}"))
            );
        }
        lock(&self.knobs).check_throttle(Instant::now())?;
        let ts = p.get("timestamp").ok_or_else(|| TopError::new(30, "Missing Timestamp"))?;
        let ts_ms = parse_gmt8(ts).ok_or_else(|| {
            TopError::new(31, "Invalid Timestamp")
                .with_sub("isv.invalid-timestamp", format!("timestamp must be yyyy-MM-dd HH:mm:ss (GMT+8), got {ts:?}"))
        })?;
        let skew = (ts_ms - wall_ms()).abs();
        if skew > cfg.timestamp_tolerance_ms {
            return Err(TopError::new(31, "Invalid Timestamp").with_sub(
                "isv.invalid-timestamp",
                format!("timestamp {ts} is {} s away from server time", skew / 1000),
            ));
        }
        match p.get("v") {
            None => return Err(TopError::new(32, "Missing Version")),
            Some("2.0") => {}
            Some(v) => {
                return Err(TopError::new(34, "Unsupported Version")
                    .with_sub("isv.invalid-version", format!("v {v:?}; only 2.0")));
            }
        }
        match p.get("format") {
            Some("json") => {}
            other => {
                // TOP answers XML when format is absent; the simulator only speaks JSON.
                return Err(TopError::new(23, "Invalid Format")
                    .with_sub("isv.invalid-format", format!("format must be json, got {other:?}")));
            }
        }
        // TOP's default sign method is md5.
        let sign_method_text = p.get("sign_method").unwrap_or("md5");
        let sign_method = SignMethod::parse(sign_method_text).ok_or_else(|| {
            TopError::new(25, "Invalid Signature")
                .with_sub("isv.invalid-signature", format!("unsupported sign_method {sign_method_text:?}"))
        })?;
        let got = p.get("sign").ok_or_else(|| TopError::new(24, "Missing Signature"))?;
        let expected = sign(p.iter(), &cfg.app_secret, sign_method);
        if !got.eq_ignore_ascii_case(&expected) {
            tracing::debug!(message = %sign_message(p.iter()), %expected, %got, "taobao sim: signature mismatch");
            return Err(TopError::new(25, "Invalid Signature")
                .with_sub("isv.invalid-signature", "the signature does not match"));
        }
        match p.get("session") {
            None => Err(TopError::new(26, "Missing Session")),
            Some(s) if s != cfg.session => {
                Err(TopError::new(27, "Invalid session").with_sub("invalid-sessionkey", "SessionKey非法"))
            }
            Some(_) if lock(&self.knobs).session_expired => {
                Err(TopError::new(27, "Invalid session").with_sub("session-expired", "SessionKey已过期"))
            }
            Some(_) => Ok(()),
        }
    }

    fn run(&self, method: &str, params: &Params) -> Reply {
        let carries_trades = methods::carries_trades(method);
        let claim = lock(&self.knobs).claim_malform(method, carries_trades);
        let (mut patch, truncate) = match claim.as_ref().map(|c| &c.what) {
            Some(Claimed::Field(p)) => (Some(p.clone()), false),
            Some(Claimed::Truncated) => (None, true),
            None => (None, false),
        };
        let had_patch = patch.is_some();
        let now_ms = self.clock.now_ms();
        let result = {
            let call = Call { params, now_ms, ids: self.ids, patch: &mut patch };
            if methods::mutates(method) {
                let mut st = self.state.write().unwrap_or_else(PoisonError::into_inner);
                methods::write(method, &mut st, call)
            } else {
                let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
                methods::read(method, &st, call)
            }
        };
        // A malformation an error response or a response without the field did not use
        // goes back for the next one.
        if let Some(c) = claim {
            let unused = match (patch, truncate && result.is_err()) {
                (Some(p), _) if had_patch => Some(Malform::TradeField { field: p.field, raw_json: p.raw_json }),
                (_, true) => Some(Malform::Truncated),
                _ => None,
            };
            if let Some(kind) = unused {
                lock(&self.knobs).unclaim(c.method, c.index, kind);
            }
        }
        match result {
            Ok(mut body) => {
                if truncate {
                    let mut cut = body.len() / 2;
                    while !body.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    body.truncate(cut);
                }
                Reply::json(body)
            }
            Err(e) => self.error(&e),
        }
    }
}

async fn rest(AxumState(shared): AxumState<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    let reply = shared.handle(uri.query(), &body);
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, reply.content_type)], reply.body).into_response()
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().route(REST_PATH, any(rest)).with_state(shared)
}
