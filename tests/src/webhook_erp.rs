//! A test ERP that takes Wharf's signed webhook pushes on loopback: it checks every
//! signature (Standard Webhooks' with the specification's own library, and the first scheme's),
//! can be down, refuse orders or kill the sender on demand, and keeps what it accepted by
//! idempotency key, so a test can tell a resend (same key, nothing created) from a duplicate,
//! and a key that came back with other content.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use wharf_runtime::erp::webhook::{self, ID_HEADER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// What the ERP saw and how it behaves.
#[derive(Default)]
pub struct ErpState {
    /// Answer 503 to everything.
    pub down: bool,
    /// Answer 400 to orders whose id starts with this.
    pub refuse_prefix: Option<String>,
    pub requests: usize,
    pub bad_signatures: usize,
    /// Accepted documents by idempotency key (a resend of a key creates nothing).
    pub accepted: BTreeMap<String, Value>,
    /// Keys in the order they were first accepted.
    pub created: Vec<String>,
    /// When each key was first accepted: what a latency measurement ends on.
    pub arrived: BTreeMap<String, Instant>,
    /// Keys sent again with another order than the one first accepted under them: what an ERP
    /// that de-duplicates on the key would get wrong for good.
    pub conflicts: Vec<String>,
    /// A process to SIGKILL the moment an order delivery arrives (once; then cleared): the
    /// sender dies after the ERP has the order and before it hears the answer.
    pub kill_on_delivery: Option<u32>,
    /// POSTs that carried a batch of events.
    pub batches: usize,
}

impl ErpState {
    /// Takes one event under its own idempotency key: a resend creates nothing, and a key come
    /// back with other content is a conflict.
    fn accept(&mut self, event: Value) {
        let key = event["idempotency_key"].as_str().unwrap_or_default().to_owned();
        let content = |d: &Value| (d["order"].clone(), d["after_sale"].clone(), d["intercept"].clone());
        if self.accepted.get(&key).is_some_and(|first| content(first) != content(&event)) {
            self.conflicts.push(key.clone());
        }
        if !self.accepted.contains_key(&key) {
            self.arrived.insert(key.clone(), Instant::now());
            self.created.push(key.clone());
            self.accepted.insert(key, event);
        }
    }

    /// The highest version of each order accepted, by order id.
    pub fn latest_versions(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for doc in self.accepted.values().filter(|doc| doc.get("order").is_some()) {
            let id = doc["order"]["order_id"].as_str().unwrap_or_default().to_owned();
            let v = doc["version"].as_u64().unwrap_or(0);
            let e = out.entry(id).or_insert(0);
            *e = (*e).max(v);
        }
        out
    }
}

/// The running ERP.
pub struct WebhookErp {
    pub url: String,
    state: Arc<Mutex<ErpState>>,
}

impl WebhookErp {
    /// Listens on 127.0.0.1 (an ephemeral port) in the current tokio runtime.
    pub async fn start(secret: &[u8]) -> anyhow::Result<Self> {
        let state = Arc::new(Mutex::new(ErpState::default()));
        let secret = secret.to_vec();
        // What an ERP does with the library: `whsec_` + base64 of the secret's bytes.
        let verifier = Arc::new(
            standardwebhooks::Webhook::from_bytes(webhook::standard_key(&secret).map_err(anyhow::Error::msg)?)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        let shared = state.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (state, secret, verifier) = (shared.clone(), secret.clone(), verifier.clone());
                async move {
                    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    let ts: i64 = h(TIMESTAMP_HEADER).parse().unwrap_or(0);
                    let mut erp = state.lock().unwrap_or_else(|p| p.into_inner());
                    erp.requests += 1;
                    if h(SIGNATURE_HEADER) != webhook::signature(&secret, ts, &body)
                        || verifier.verify(&body, &headers).is_err()
                        || h(ID_HEADER) != h(IDEMPOTENCY_HEADER)
                    {
                        erp.bad_signatures += 1;
                        return (StatusCode::UNAUTHORIZED, "bad signature".to_owned());
                    }
                    if erp.down {
                        return (StatusCode::SERVICE_UNAVAILABLE, "maintenance".to_owned());
                    }
                    let Ok(doc) = serde_json::from_slice::<Value>(&body) else {
                        return (StatusCode::BAD_REQUEST, "not JSON".to_owned());
                    };
                    let key = h(IDEMPOTENCY_HEADER);
                    if doc["idempotency_key"].as_str().is_some_and(|k| k != key) {
                        return (StatusCode::BAD_REQUEST, "idempotency key differs from the header".to_owned());
                    }
                    // A batch is taken whole or refused whole, as an ERP importing it in one
                    // transaction would: each event is accepted under its own key.
                    let events = match doc["type"].as_str() {
                        Some(webhook::BATCH_EVENT) => {
                            erp.batches += 1;
                            doc["events"].as_array().cloned().unwrap_or_default()
                        }
                        _ if doc["idempotency_key"].is_null() => {
                            return (StatusCode::BAD_REQUEST, "no idempotency key".to_owned());
                        }
                        _ => vec![doc],
                    };
                    for event in &events {
                        let id = event["order"]["order_id"].as_str().unwrap_or_default();
                        if erp.refuse_prefix.as_deref().is_some_and(|p| id.starts_with(p)) {
                            return (StatusCode::BAD_REQUEST, "unknown customer".to_owned());
                        }
                        if event["idempotency_key"].as_str().is_none() {
                            return (StatusCode::BAD_REQUEST, "an event without its idempotency key".to_owned());
                        }
                    }
                    if !events.is_empty()
                        && let Some(pid) = erp.kill_on_delivery.take()
                    {
                        let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                    }
                    for event in events {
                        erp.accept(event);
                    }
                    (StatusCode::OK, "ok".to_owned())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(WebhookErp { url: format!("http://{addr}/hook"), state })
    }

    pub fn state(&self) -> MutexGuard<'_, ErpState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
