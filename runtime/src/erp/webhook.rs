//! Pushing orders to an ERP's webhook.
//!
//! Each delivery is one POST of canonical JSON:
//! `{"type": "order.updated", "tenant": …, "version": n, "idempotency_key": …, "order": {…}}`, or
//! for an after-sale `{"type": "after_sale.updated", …, "intercept": bool, "after_sale": {…}}`
//! with `webhook-id` `<tenant>:after_sale:<platform>:<shop_id>:<after_sale_id>:v<version>`,
//! signed as the
//! [Standard Webhooks](https://www.standardwebhooks.com/) specification says, so an ERP verifies
//! it with any of that specification's libraries:
//! - `webhook-id: <tenant>:<platform>:<shop_id>:<order_id>:v<version>`, also sent as
//!   `Idempotency-Key`: the same for every retry of a version, so an ERP that saw it already can
//!   answer 2xx (or 409) without creating anything twice; being the `webhook-id`, it is signed;
//! - `webhook-timestamp: <unix seconds>`;
//! - `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, one per key,
//!   space-separated: the current secret's, then each of `previous_secrets` while a rotation
//!   is under way. The key is the secret's bytes; a `whsec_<base64>` secret (the
//!   specification's form) is the bytes the base64 stands for.
//!
//! The headers of Wharf's first scheme are kept for one release, for ERPs that verify them:
//! `X-Wharf-Timestamp` (the same seconds) and
//! `X-Wharf-Signature: v1=<lower hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with the
//! current secret's text as the key.
//!
//! A route with `batch` above 1 sends up to that many events per POST, as one
//! `{"type": "batch", "tenant": …, "events": [event, …]}` message ([`Webhook::sign_batch`]);
//! each event keeps its own idempotency key, and a refused batch goes again one event per POST.
//!
//! 2xx and 409 mean delivered; 408, 425, 429 and 5xx, timeouts and refused connections are
//! retried with [`Backoff`]; any other 4xx is the ERP refusing this order for good, and goes to
//! the dead-letter queue with the ERP's answer as the reason.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::Timestamp;
use crate::retry::{Backoff, Verdict};
use crate::store::{AfterSaleKey, Carries, Delivery, OrderKey, Store, StoreError, StoredAfterSale, StoredOrder};

pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// Standard Webhooks' message id: the idempotency key.
pub const ID_HEADER: &str = "webhook-id";
/// Standard Webhooks' timestamp, unix seconds.
pub const STANDARD_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Standard Webhooks' signatures, `v1,<base64>` each, space-separated.
pub const STANDARD_SIGNATURE_HEADER: &str = "webhook-signature";
/// The first scheme's timestamp (kept one release beside the standard headers).
pub const TIMESTAMP_HEADER: &str = "X-Wharf-Timestamp";
/// The first scheme's signature (kept one release beside the standard headers).
pub const SIGNATURE_HEADER: &str = "X-Wharf-Signature";
/// The prefix of a secret in Standard Webhooks' form: the key is the base64 after it.
pub const STANDARD_SECRET_PREFIX: &str = "whsec_";
/// The `type` of an order's POST.
pub const ORDER_EVENT: &str = "order.updated";
/// The `type` of an after-sale's POST.
pub const AFTER_SALE_EVENT: &str = "after_sale.updated";
/// The `type` of a batched POST (a route with `batch` above 1): `{"type": "batch", "tenant": …,
/// "events": [event, …]}`, each event the body a POST of its own would carry, with its own
/// `idempotency_key`.
pub const BATCH_EVENT: &str = "batch";
/// Events one POST may carry at most. A POST answers for all its events at once, and an ERP
/// refusing one of them makes each go again alone: a hundred orders (about 200 KB of JSON)
/// keep a refused batch's resends, and one POST's body, small.
pub const MAX_BATCH: usize = 100;
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
    /// The current secret's text: the first scheme's key.
    secret: Vec<u8>,
    /// Standard Webhooks' keys: the current secret's, then the previous ones'.
    keys: Vec<Vec<u8>>,
    client: reqwest::Client,
    timeout: Duration,
    /// Events per POST: 1 is the first shape, one order per POST.
    batch: usize,
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
    /// Every failed attempt, for `/metrics` (see [`crate::metrics::deliveries`]).
    pub failures: Vec<crate::metrics::FailedDelivery>,
}

/// The idempotency key of `version` of an order.
pub fn idempotency_key(tenant: &str, stored: &StoredOrder) -> String {
    let o = &stored.order;
    format!("{tenant}:{}:{}:{}:v{}", o.platform, o.shop_id, o.order_id, stored.version)
}

/// The after-sale a delivery's key names (its `order_id` holds the after-sale's id).
pub(crate) fn after_sale_key(k: &OrderKey) -> AfterSaleKey {
    AfterSaleKey { platform: k.platform.clone(), shop_id: k.shop_id.clone(), after_sale_id: k.order_id.clone() }
}

/// The HMAC key of a secret under Standard Webhooks: the bytes of a `whsec_<base64>` secret's
/// base64, or the secret's own bytes (so any secret works, and an ERP verifies with
/// `whsec_` + base64 of those bytes).
pub fn standard_key(secret: &[u8]) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    match secret.strip_prefix(STANDARD_SECRET_PREFIX.as_bytes()) {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("starts with `{STANDARD_SECRET_PREFIX}` but the rest is not base64: {e}")),
        None => Ok(secret.to_vec()),
    }
}

/// Standard Webhooks' `v1,<base64>` over `"<id>.<timestamp>.<body>"`.
pub fn standard_signature(key: &[u8], id: &str, timestamp_s: i64, body: &[u8]) -> String {
    use base64::Engine as _;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac takes any key");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// The first scheme's `v1=<hex>` over `"<timestamp>.<body>"`.
pub fn signature(secret: &[u8], timestamp_s: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("hmac takes any key");
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The one HTTP client every tenant's webhook posts through. A client holds its TLS
/// configuration (the platform's root certificates, parsed) and its connection pool: one per
/// tenant cost about a third of a megabyte and a few milliseconds each, which at thousands of
/// tenants was most of the host's memory and start-up time (the `tenants` bench). Requests are
/// stateless and each carries its own URL, signature and timeout, so sharing the client shares
/// nothing between tenants but kept-alive connections to the same ERP host.
fn shared_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("the HTTP client's static configuration is valid")
        })
        .clone()
}

impl Webhook {
    /// A webhook signing with `secret`. A `whsec_` secret whose base64 does not decode is
    /// refused when the configuration is read ([`standard_key`]); here it would sign with its
    /// text.
    pub fn new(url: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        let client = shared_client();
        let secret = secret.into();
        let keys = vec![standard_key(&secret).unwrap_or_else(|_| secret.clone())];
        Self { url: url.into(), secret, keys, client, timeout: DEFAULT_TIMEOUT, batch: 1 }
    }

    /// Also signs with `previous` secrets (after the current one), while an ERP moves to the
    /// new secret: an ERP that still holds an old one verifies with it.
    pub fn with_previous_secrets<S: AsRef<[u8]>>(mut self, previous: impl IntoIterator<Item = S>) -> Self {
        for secret in previous {
            let secret = secret.as_ref();
            self.keys.push(standard_key(secret).unwrap_or_else(|_| secret.to_vec()));
        }
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends up to `events` deliveries per POST ([`BATCH_EVENT`]), clamped to 1..=[`MAX_BATCH`];
    /// 1 sends each alone, in the first shape.
    pub fn with_batch(mut self, events: usize) -> Self {
        self.batch = events.clamp(1, MAX_BATCH);
        self
    }

    /// The request for `stored`, stamped `timestamp_s`.
    pub fn sign(&self, tenant: &str, stored: &StoredOrder, timestamp_s: i64) -> Signed {
        self.signed(&order_event(tenant, stored), timestamp_s)
    }

    /// The request for a stored after-sale, stamped `timestamp_s`: its own event type, and
    /// `intercept` beside the record.
    pub fn sign_after_sale(&self, tenant: &str, stored: &StoredAfterSale, timestamp_s: i64) -> Signed {
        self.signed(&after_sale_event(tenant, stored), timestamp_s)
    }

    /// One POST for several `events` of `tenant`: `{"type": "batch", "tenant", "events": […]}`.
    /// Its `webhook-id` (and `Idempotency-Key`) is `<tenant>:batch:<32 hex>`, a hash of the
    /// events' keys: the same events give the same id; an ERP de-duplicates by each event's
    /// own `idempotency_key`, as a batch may be made up differently when it is sent again.
    pub fn sign_batch<'e>(
        &self,
        tenant: &str,
        events: impl IntoIterator<Item = &'e Event>,
        timestamp_s: i64,
    ) -> Signed {
        use sha2::Digest as _;
        let mut hash = Sha256::new();
        let mut body = Vec::new();
        body.extend_from_slice(br#"{"type":""#);
        body.extend_from_slice(BATCH_EVENT.as_bytes());
        body.extend_from_slice(br#"","tenant":"#);
        serde_json::to_writer(&mut body, tenant).expect("a string serializes");
        body.extend_from_slice(br#","events":["#);
        for (i, event) in events.into_iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&event.body);
            hash.update(event.key.as_bytes());
            hash.update(b"\n");
        }
        body.extend_from_slice(b"]}");
        let key = format!("{tenant}:batch:{}", hex::encode(&hash.finalize()[..16]));
        self.sign_body(key, body, timestamp_s)
    }

    fn signed(&self, event: &Event, timestamp_s: i64) -> Signed {
        self.sign_body(event.key.clone(), event.body.clone(), timestamp_s)
    }

    fn sign_body(&self, key: String, body: Vec<u8>, timestamp_s: i64) -> Signed {
        let signatures: Vec<String> =
            self.keys.iter().map(|k| standard_signature(k, &key, timestamp_s, &body)).collect();
        let headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (ID_HEADER.to_owned(), key.clone()),
            (STANDARD_TIMESTAMP_HEADER.to_owned(), timestamp_s.to_string()),
            (STANDARD_SIGNATURE_HEADER.to_owned(), signatures.join(" ")),
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

/// One delivery's event: its idempotency key and its JSON, the body of a POST of its own or
/// one of a batch's `events`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub key: String,
    pub body: Vec<u8>,
}

/// The event for version `stored` of an order.
pub fn order_event(tenant: &str, stored: &StoredOrder) -> Event {
    let key = idempotency_key(tenant, stored);
    let body = EventBody {
        kind: ORDER_EVENT,
        tenant,
        version: stored.version,
        idempotency_key: &key,
        intercept: None,
        order: Some(&stored.order),
        after_sale: None,
    };
    Event { body: serde_json::to_vec(&body).expect("canonical records serialize"), key }
}

/// The event for a stored after-sale: its own type, and `intercept` beside the record.
pub fn after_sale_event(tenant: &str, stored: &StoredAfterSale) -> Event {
    let a = &stored.after_sale;
    let key = format!("{tenant}:after_sale:{}:{}:{}:v{}", a.platform, a.shop_id, a.after_sale_id, stored.version);
    let body = EventBody {
        kind: AFTER_SALE_EVENT,
        tenant,
        version: stored.version,
        idempotency_key: &key,
        intercept: Some(stored.intercept),
        order: None,
        after_sale: Some(a),
    };
    Event { body: serde_json::to_vec(&body).expect("canonical records serialize"), key }
}

/// The body of a webhook event, written straight from the stored record (building a
/// `serde_json::Value` of the order first cost a copy of every field per delivery).
#[derive(serde::Serialize)]
struct EventBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    tenant: &'a str,
    version: u64,
    idempotency_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    intercept: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    order: Option<&'a crate::model::Order>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_sale: Option<&'a crate::model::AfterSale>,
}

/// Delivers what is due in `store`'s outbox for the webhook route across every tenant, at
/// most `limit`, taken round-robin per tenant (see [`crate::store::Outbox::due_round_robin`]);
/// `route_of(tenant)` gives a tenant's webhook (a delivery whose tenant has none now waits).
pub async fn drain(
    store: &Store,
    route_of: &(dyn Fn(&str) -> Option<Webhook> + Sync),
    backoff: &Backoff,
    now: Timestamp,
    limit: usize,
) -> Result<DrainReport, StoreError> {
    let due = store.outbox().due_round_robin(ROUTE, now.0, limit)?;
    deliver(store, due, route_of, backoff, now, &|| false).await
}

/// Delivers what is due for one tenant through its webhook, at most `limit`, reading only
/// that tenant's range of the outbox; between rounds of concurrent POSTs it ends early once
/// `stopping()`.
pub async fn drain_tenant(
    store: &Store,
    tenant: &str,
    hook: &Webhook,
    backoff: &Backoff,
    now: Timestamp,
    limit: usize,
    stopping: &(dyn Fn() -> bool + Sync),
) -> Result<DrainReport, StoreError> {
    let due = store.outbox().due(tenant, ROUTE, now.0, limit)?;
    let route_of = |t: &str| (t == tenant).then(|| hook.clone());
    deliver(store, due, &route_of, backoff, now, stopping).await
}

async fn deliver(
    store: &Store,
    due: Vec<Delivery>,
    route_of: &(dyn Fn(&str) -> Option<Webhook> + Sync),
    backoff: &Backoff,
    now: Timestamp,
    stopping: &(dyn Fn() -> bool + Sync),
) -> Result<DrainReport, StoreError> {
    let mut report = DrainReport::default();
    // Each delivery still owed, with its tenant's webhook and its event.
    let mut ready: Vec<(Delivery, Webhook, Event)> = Vec::new();
    // The orders owed, read together (on PostgreSQL one round trip, not one each).
    let keys: Vec<_> = due.iter().filter(|d| d.carries == Carries::Order).map(|d| (&*d.tenant, &d.key)).collect();
    let mut orders = store.orders().get_many(&keys)?.into_iter();
    for delivery in due {
        let stored = match delivery.carries {
            Carries::Order => orders.next().flatten(),
            Carries::AfterSale => None,
        };
        let Some(hook) = route_of(&delivery.tenant) else { continue };
        let event = match delivery.carries {
            Carries::Order => {
                stored.filter(|s| s.version == delivery.version).map(|s| order_event(&delivery.tenant, &s))
            }
            Carries::AfterSale => store
                .after_sales()
                .get(&delivery.tenant, &after_sale_key(&delivery.key))?
                .filter(|s| s.version == delivery.version)
                .map(|s| after_sale_event(&delivery.tenant, &s)),
        };
        match event {
            Some(event) => ready.push((delivery, hook, event)),
            // A newer version has its own delivery; this one has nothing left to say.
            None => {
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
    let at = now.0.div_euclid(1000);
    let mut posts = posts(&ready, at);
    // The POSTs wait on the ERP, not on this host: up to `CONCURRENT_POSTS` are in flight,
    // each settled as its answer comes and its place taken by the next at once, so one slow
    // answer holds up only its own place (in chunks, every chunk waited for its slowest POST,
    // and one stuck for seconds held back the whole drain).
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        while in_flight.len() < CONCURRENT_POSTS && !stopping() {
            let Some(post) = posts.pop_front() else { break };
            let hook = ready[post.deliveries[0]].1.clone();
            in_flight.spawn(async move { (post.deliveries, hook.send(post.signed).await) });
        }
        let Some(joined) = in_flight.join_next().await else { break };
        // A request task that panicked leaves its deliveries owed: they are due again as they were.
        let Ok((carried, attempt)) = joined else { continue };
        let settled: Vec<&Delivery> = carried.iter().map(|&i| &ready[i].0).collect();
        match attempt {
            Attempt::Delivered => super::delivered(store, &settled, &mut report)?,
            Attempt::Retry(reason) => {
                super::failed_together(store, &settled, Verdict::Retry(reason), backoff, now, &mut report)?
            }
            // A batch refused may hold one event the ERP cannot take among many it can: each
            // goes again alone, so the refusal lands on that one.
            Attempt::Refused(reason) if carried.len() > 1 => {
                tracing::warn!(tenant = %settled[0].tenant, events = settled.len(), %reason, "the ERP refused a batch; each of its events is sent alone");
                for &i in &carried {
                    let (_, hook, event) = &ready[i];
                    let signed = hook.sign_batch(&settled[0].tenant, [event], at);
                    posts.push_back(Post { deliveries: vec![i], signed });
                }
            }
            Attempt::Refused(reason) => {
                super::failed(store, settled[0], Verdict::Permanent(reason), backoff, now, &mut report)?
            }
        }
    }
    Ok(report)
}

/// One POST to send: the deliveries it carries (indices into the drain's ready list) and its
/// signed request.
struct Post {
    deliveries: Vec<usize>,
    signed: Signed,
}

/// The POSTs for `ready`: each tenant's deliveries, in the order they came due, in runs of its
/// webhook's `batch`; one event per POST, in the first shape, where `batch` is 1.
fn posts(ready: &[(Delivery, Webhook, Event)], at: i64) -> std::collections::VecDeque<Post> {
    let mut by_tenant: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut place: std::collections::HashMap<&str, usize> = Default::default();
    for (i, (delivery, ..)) in ready.iter().enumerate() {
        let at = *place.entry(&delivery.tenant).or_insert_with(|| {
            by_tenant.push((&delivery.tenant, Vec::new()));
            by_tenant.len() - 1
        });
        by_tenant[at].1.push(i);
    }
    let mut posts = std::collections::VecDeque::new();
    for (tenant, owed) in by_tenant {
        let hook = &ready[owed[0]].1;
        for run in owed.chunks(hook.batch) {
            let signed = if hook.batch == 1 {
                hook.signed(&ready[run[0]].2, at)
            } else {
                hook.sign_batch(tenant, run.iter().map(|&i| &ready[i].2), at)
            };
            posts.push_back(Post { deliveries: run.to_vec(), signed });
        }
    }
    posts
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

    /// The specification's published example (standard-webhooks/spec, "Signature scheme").
    #[test]
    fn standard_signature_matches_the_specifications_example() {
        let key = standard_key(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            standard_signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_without_the_prefix_is_its_own_key_and_a_bad_whsec_is_refused() {
        assert_eq!(standard_key(b"plain-secret").unwrap(), b"plain-secret");
        assert!(standard_key(b"whsec_not base64!").unwrap_err().contains("not base64"));
    }

    #[test]
    fn the_body_is_the_documented_event() {
        use crate::model::OrderStatus;
        use crate::store::SyncState;
        let stored = StoredOrder {
            order: crate::store::orders::tests::order("1", OrderStatus::Paid, 1_794_355_200_000),
            version: 3,
            sync: SyncState::Unsynced,
            stored_at: Timestamp(1_794_355_200_000),
        };
        let signed = Webhook::new("http://erp.test/hook", b"s".to_vec()).sign("acme", &stored, 1_800_000_000);
        let documented = serde_json::json!({
            "type": ORDER_EVENT,
            "tenant": "acme",
            "version": 3,
            "idempotency_key": idempotency_key("acme", &stored),
            "order": stored.order,
        });
        let body: serde_json::Value = serde_json::from_slice(&signed.body).unwrap();
        assert_eq!(body, documented);
        let text = String::from_utf8(signed.body).unwrap();
        assert!(text.starts_with(r#"{"type":"order.updated","tenant":"acme","version":3,"#), "{text}");
    }

    #[test]
    fn a_batch_is_its_events_each_with_its_own_key_under_an_id_made_of_theirs() {
        use crate::model::OrderStatus;
        use crate::store::SyncState;
        let stored = |id: &str| StoredOrder {
            order: crate::store::orders::tests::order(id, OrderStatus::Paid, 1_794_355_200_000),
            version: 1,
            sync: SyncState::Unsynced,
            stored_at: Timestamp(1_794_355_200_000),
        };
        let events = [order_event("acme", &stored("1")), order_event("acme", &stored("2"))];
        let hook = Webhook::new("http://erp.test/hook", b"s".to_vec()).with_batch(50);
        let signed = hook.sign_batch("acme", &events, 1_800_000_000);
        let body: serde_json::Value = serde_json::from_slice(&signed.body).unwrap();
        let each = |e: &Event| serde_json::from_slice::<serde_json::Value>(&e.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"type": BATCH_EVENT, "tenant": "acme", "events": [each(&events[0]), each(&events[1])]})
        );
        assert_eq!(body["events"][1]["idempotency_key"], idempotency_key("acme", &stored("2")));
        let id = |s: &Signed| s.headers.iter().find(|(k, _)| k == ID_HEADER).unwrap().1.clone();
        assert!(id(&signed).starts_with("acme:batch:") && id(&signed).len() == "acme:batch:".len() + 32);
        assert_eq!(id(&signed), id(&hook.sign_batch("acme", &events, 1_800_000_001)), "the same events, the same id");
        assert_ne!(id(&signed), id(&hook.sign_batch("acme", &events[..1], 1_800_000_000)));
        assert_eq!(Webhook::new("http://erp.test/hook", b"s".to_vec()).with_batch(1_000).batch, MAX_BATCH);
    }

    #[test]
    fn every_key_signs_during_a_rotation() {
        let hook = Webhook::new("http://erp.invalid/hook", "new-secret").with_previous_secrets(["old-secret"]);
        assert_eq!(hook.keys, [b"new-secret".to_vec(), b"old-secret".to_vec()]);
    }
}
