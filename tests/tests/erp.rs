//! How orders reach an ERP: the signed webhook push from the durable outbox (retries,
//! dead letters, replay) and the ERP-pull store behaviour, against a real HTTP ERP on
//! loopback.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use wharf_runtime::erp::webhook::{self, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, Webhook};
use wharf_runtime::model::{Order, OrderStatus, Timestamp};
use wharf_runtime::retry::Backoff;
use wharf_runtime::store::{OrderQuery, Store, SyncState};

const SECRET: &[u8] = b"whsec_test";
const T: i64 = 1_794_355_200_000;

fn order(id: &str, status: OrderStatus) -> Order {
    serde_json::from_value(json!({
        "platform": "taobao", "shop_id": "tb1", "order_id": id, "status": status,
        "platform_status": "X", "refund_status": "none", "created_at": "2026-11-11T00:00:00Z",
        "updated_at": "2026-11-11T00:00:05Z", "currency": "CNY", "goods_total": 19990,
        "shipping_fee": 0, "discount_total": 0, "paid_total": 19990, "lines": []
    }))
    .unwrap()
}

/// A test ERP: checks every signature, fails the first `fail_first` requests with 503,
/// refuses orders whose id starts with "bad" with 400 while `refuse_bad`, and records what
/// it accepted by idempotency key.
#[derive(Default)]
struct Erp {
    fail_first: usize,
    refuse_bad: bool,
    requests: usize,
    accepted: BTreeMap<String, Value>,
    keys_seen: Vec<String>,
}

async fn serve(erp: Arc<Mutex<Erp>>) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let erp = erp.clone();
            async move {
                let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let ts: i64 = h(TIMESTAMP_HEADER).parse().unwrap_or(0);
                if h(SIGNATURE_HEADER) != webhook::signature(SECRET, ts, &body) {
                    return (StatusCode::UNAUTHORIZED, "bad signature".to_owned());
                }
                let doc: Value = serde_json::from_slice(&body).unwrap();
                let key = h(IDEMPOTENCY_HEADER);
                assert_eq!(doc["idempotency_key"], key.as_str());
                let mut erp = erp.lock().unwrap();
                erp.requests += 1;
                erp.keys_seen.push(key.clone());
                if erp.requests <= erp.fail_first {
                    return (StatusCode::SERVICE_UNAVAILABLE, "maintenance".to_owned());
                }
                if erp.refuse_bad && doc["order"]["order_id"].as_str().unwrap().starts_with("bad") {
                    return (StatusCode::BAD_REQUEST, "unknown customer".to_owned());
                }
                // Idempotent: a key seen before is acknowledged, not created again.
                erp.accepted.entry(key).or_insert(doc);
                (StatusCode::OK, "ok".to_owned())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

#[tokio::test]
async fn webhook_push_retries_dead_letters_replays_and_never_duplicates() {
    let erp = Arc::new(Mutex::new(Erp { fail_first: 2, refuse_bad: true, ..Default::default() }));
    let hook = Webhook::new(serve(erp.clone()).await, SECRET);
    let routes = move |tenant: &str| (tenant == "acme").then(|| hook.clone());
    let store = Store::temporary().unwrap();
    let backoff = Backoff::default();

    let route = Some(webhook::ROUTE);
    store.record_order("acme", &order("1001", OrderStatus::Paid), Timestamp(T), route).unwrap();
    store.record_order("acme", &order("1002", OrderStatus::Paid), Timestamp(T), route).unwrap();
    store.record_order("acme", &order("bad-1", OrderStatus::Paid), Timestamp(T), route).unwrap();
    // Re-read unchanged: nothing new owed. Changed: a second version, which supersedes the first.
    store.record_order("acme", &order("1001", OrderStatus::Paid), Timestamp(T + 1), route).unwrap();
    store.record_order("acme", &order("1001", OrderStatus::Shipped), Timestamp(T + 2), route).unwrap();

    // The clock jumps past every backoff so the test does not sleep.
    let mut now = T + 10;
    let mut totals = webhook::DrainReport::default();
    for _ in 0..20 {
        let r = webhook::drain(&store, &routes, &backoff, Timestamp(now), 100).await.unwrap();
        totals.delivered += r.delivered;
        totals.retried += r.retried;
        totals.dead_lettered += r.dead_lettered;
        totals.superseded += r.superseded;
        if store.outbox().pending().unwrap().is_empty() {
            break;
        }
        now += 10 * 60 * 1000;
    }
    assert_eq!((totals.delivered, totals.dead_lettered, totals.superseded), (2, 1, 1), "{totals:?}");
    assert!(totals.retried >= 2, "the 503s were retried: {totals:?}");
    {
        let erp = erp.lock().unwrap();
        let keys: Vec<&str> = erp.accepted.keys().map(String::as_str).collect();
        assert_eq!(keys, ["acme:taobao:tb1:1001:v2", "acme:taobao:tb1:1002:v1"]);
        assert_eq!(erp.accepted["acme:taobao:tb1:1001:v2"]["order"]["status"], "shipped");
        // Retries carried the same key: the ERP can tell them apart from new orders.
        assert!(erp.keys_seen.iter().filter(|k| k.ends_with("1002:v1")).count() >= 1);
    }
    // Delivered versions are synced; the refused one waits in the dead-letter queue.
    let unsynced = store.orders().query("acme", &OrderQuery::default()).unwrap();
    assert_eq!(unsynced.orders.iter().map(|o| o.order.order_id.as_str()).collect::<Vec<_>>(), ["bad-1"]);
    let letters = store.outbox().dead_letters("acme").unwrap();
    assert_eq!(letters.len(), 1);
    assert!(letters[0].reason.contains("HTTP 400") && letters[0].reason.contains("unknown customer"), "{}", letters[0].reason);

    // The operator fixes the customer at the ERP and replays.
    erp.lock().unwrap().refuse_bad = false;
    assert!(store.outbox().replay("acme", letters[0].delivery.id, now).unwrap());
    let r = webhook::drain(&store, &routes, &backoff, Timestamp(now), 100).await.unwrap();
    assert_eq!(r.delivered, 1);
    assert!(store.outbox().dead_letters("acme").unwrap().is_empty());
    assert_eq!(erp.lock().unwrap().accepted.len(), 3);

    // Delivering again (a crash after the POST, before the outbox noticed) is harmless: the
    // same idempotency key, acknowledged without a second order.
    let stored = store.orders().get("acme", &wharf_runtime::store::OrderKey { platform: "taobao".into(), shop_id: "tb1".into(), order_id: "1002".into() }).unwrap().unwrap();
    assert_eq!(stored.sync, SyncState::Synced);
    let again = Webhook::new(routes("acme").unwrap().url.clone(), SECRET);
    assert_eq!(again.send(again.sign("acme", &stored, now / 1000)).await, webhook::Attempt::Delivered);
    assert_eq!(erp.lock().unwrap().accepted.len(), 3);
}

#[tokio::test]
async fn a_down_erp_is_retried_until_the_policy_gives_up() {
    let store = Store::temporary().unwrap();
    // Nothing listens on port 9.
    let hook = Webhook::new("http://127.0.0.1:9/hook", SECRET);
    let routes = move |_: &str| Some(hook.clone());
    let backoff = Backoff { max_attempts: 3, ..Backoff::default() };
    store.record_order("acme", &order("1", OrderStatus::Paid), Timestamp(T), Some(webhook::ROUTE)).unwrap();
    let mut now = T;
    for _ in 0..5 {
        webhook::drain(&store, &routes, &backoff, Timestamp(now), 10).await.unwrap();
        now += 60 * 60 * 1000;
    }
    let letters = store.outbox().dead_letters("acme").unwrap();
    assert_eq!(letters.len(), 1, "never dropped: dead-lettered with its reason");
    assert!(letters[0].reason.starts_with("gave up after 3 attempts"), "{}", letters[0].reason);
}
