//! Pushing orders to an ERP's webhook.
//!
//! Each delivery is one POST of canonical JSON:
//! `{"tenant": …, "version": n, "idempotency_key": …, "order": {…}}` with headers
//! - `Idempotency-Key: <tenant>:<platform>:<shop_id>:<order_id>:v<version>`: the same for every
//!   retry of a version, so an ERP that saw it already can answer 2xx (or 409) without
//!   creating anything twice;
//! - `X-Wharf-Timestamp: <unix seconds>` and
//!   `X-Wharf-Signature: v1=<lower hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: the ERP
//!   recomputes it with the shared secret and rejects stale timestamps, so a replayed or
//!   forged request is refused.
//!
//! 2xx and 409 mean delivered; 408, 425, 429 and 5xx, timeouts and refused connections are
//! retried with [`Backoff`]; any other 4xx is the ERP refusing this order for good, and goes to
//! the dead-letter queue with the ERP's answer as the reason.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::Timestamp;
use crate::retry::{Backoff, Verdict};
use crate::store::{Delivery, Store, StoreError, StoredOrder};

pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
pub const TIMESTAMP_HEADER: &str = "X-Wharf-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Wharf-Signature";
/// The route name deliveries carry in the outbox.
pub const ROUTE: &str = "webhook";
/// How long one POST may take before it counts as failed (and is retried).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// POSTs in flight at once per drain: deliveries wait on the ERP's round trip (about half a
/// millisecond on loopback, tens over the internet), so a few dozen keep the link busy
/// without flooding an ERP that answers slowly.
pub const CONCURRENT_POSTS: usize = 32;
/// How much of an ERP's refusal is kept as the dead letter's reason.
const REASON_BYTES: usize = 512;

/// A tenant's ERP webhook.
#[derive(Clone)]
pub struct Webhook {
    pub url: String,
    secret: Vec<u8>,
    client: reqwest::Client,
    timeout: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("url", &self.url).finish_non_exhaustive()
    }
}

/// A request ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    Retry(String),
    Refused(String),
}

/// What one [`drain`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub delivered: usize,
    /// `delivered`, by the shop the orders came from (for progress lines).
    pub delivered_by_shop: std::collections::BTreeMap<String, usize>,
    pub retried: usize,
    pub dead_lettered: usize,
    pub superseded: usize,
    /// Versions the ERP does not take in their status (see [`super::plugin`]).
    pub not_taken: usize,
}

/// The idempotency key of `version` of an order.
pub fn idempotency_key(tenant: &str, stored: &StoredOrder) -> String {
    let o = &stored.order;
    format!("{tenant}:{}:{}:{}:v{}", o.platform, o.shop_id, o.order_id, stored.version)
}

/// `v1=<hex>` over `"<timestamp>.<body>"`.
pub fn signature(secret: &[u8], timestamp_s: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("hmac takes any key");
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

impl Webhook {
    pub fn new(url: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client's static configuration is valid");
        Self { url: url.into(), secret: secret.into(), client, timeout: DEFAULT_TIMEOUT }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The request for `stored`, stamped `timestamp_s`.
    pub fn sign(&self, tenant: &str, stored: &StoredOrder, timestamp_s: i64) -> Signed {
        let key = idempotency_key(tenant, stored);
        let body = serde_json::to_vec(&serde_json::json!({
            "tenant": tenant,
            "version": stored.version,
            "idempotency_key": key,
            "order": stored.order,
        }))
        .expect("canonical orders serialize");
        let headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (IDEMPOTENCY_HEADER.to_owned(), key),
            (TIMESTAMP_HEADER.to_owned(), timestamp_s.to_string()),
            (SIGNATURE_HEADER.to_owned(), signature(&self.secret, timestamp_s, &body)),
        ];
        Signed { headers, body }
    }

    /// One POST.
    pub async fn send(&self, signed: Signed) -> Attempt {
        let mut request = self.client.post(&self.url).timeout(self.timeout).body(signed.body);
        for (k, v) in signed.headers {
            request = request.header(k, v);
        }
        match request.send().await {
            Err(e) if e.is_timeout() => Attempt::Retry(format!("no answer within {:?}", self.timeout)),
            Err(e) => Attempt::Retry(format!("unreachable: {e}")),
            Ok(response) => {
                let status = response.status().as_u16();
                if (200..300).contains(&status) || status == 409 {
                    return Attempt::Delivered;
                }
                let body = response.bytes().await.unwrap_or_default();
                let text = String::from_utf8_lossy(&body[..body.len().min(REASON_BYTES)]).into_owned();
                let reason = format!("HTTP {status}: {text}");
                if matches!(status, 408 | 425 | 429) || status >= 500 {
                    Attempt::Retry(reason)
                } else {
                    Attempt::Refused(reason)
                }
            }
        }
    }
}

/// Delivers what is due in `store`'s outbox for the webhook route, at most `limit`;
/// `route_of(tenant)` gives a tenant's webhook (a delivery whose tenant has none now waits).
pub async fn drain(
    store: &Store,
    route_of: &(dyn Fn(&str) -> Option<Webhook> + Sync),
    backoff: &Backoff,
    now: Timestamp,
    limit: usize,
) -> Result<DrainReport, StoreError> {
    let mut report = DrainReport::default();
    let mut ready = Vec::new();
    for delivery in store.outbox().due(now.0, limit)? {
        if delivery.route != ROUTE {
            continue;
        }
        let Some(hook) = route_of(&delivery.tenant) else { continue };
        match store.orders().get(&delivery.tenant, &delivery.key)? {
            Some(s) if s.version == delivery.version => {
                let signed = hook.sign(&delivery.tenant, &s, now.0.div_euclid(1000));
                ready.push((delivery, hook, signed));
            }
            // A newer version has its own delivery; this one has nothing left to say.
            Some(_) | None => {
                store.outbox().remove(delivery.id)?;
                report.superseded += 1;
            }
        }
    }
    if ready.is_empty() {
        return Ok(report);
    }
    // Nothing leaves for the ERP before the version it carries is on disk (one key, one
    // content: see `super::plugin::drain`).
    store.durable().await?;
    // The POSTs wait on the ERP, not on this host: several are in flight at once, and each
    // is settled as its answer comes.
    for chunk in ready.chunks(CONCURRENT_POSTS) {
        let mut posts = tokio::task::JoinSet::new();
        for (i, (_, hook, signed)) in chunk.iter().enumerate() {
            let (hook, signed) = (hook.clone(), signed.clone());
            posts.spawn(async move { (i, hook.send(signed).await) });
        }
        while let Some(joined) = posts.join_next().await {
            let (i, attempt) =
                joined.unwrap_or_else(|e| (usize::MAX, Attempt::Retry(format!("the request task failed: {e}"))));
            let Some((delivery, _, _)) = chunk.get(i) else { continue };
            settle_attempt(store, delivery, attempt, backoff, now, &mut report)?;
        }
    }
    Ok(report)
}

fn settle_attempt(
    store: &Store,
    delivery: &Delivery,
    attempt: Attempt,
    backoff: &Backoff,
    now: Timestamp,
    report: &mut DrainReport,
) -> Result<(), StoreError> {
    match attempt {
        Attempt::Delivered => super::delivered(store, delivery, report),
        Attempt::Retry(reason) => super::failed(store, delivery, Verdict::Retry(reason), backoff, now, report),
        Attempt::Refused(reason) => super::failed(store, delivery, Verdict::Permanent(reason), backoff, now, report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published shape: anyone can recompute it from the secret, timestamp and body.
    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        let sig = signature(b"whsec", 1_794_355_200, b"{}");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"whsec").unwrap();
        mac.update(b"1794355200.{}");
        assert_eq!(sig, format!("v1={}", hex::encode(mac.finalize().into_bytes())));
    }
}
