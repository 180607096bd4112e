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
        totals.failures.extend(r.failures);
        if store.outbox().pending().unwrap().is_empty() {
            break;
        }
        now += 10 * 60 * 1000;
    }
    assert_eq!((totals.delivered, totals.dead_lettered, totals.superseded), (2, 1, 1), "{totals:?}");
    assert!(totals.retried >= 2, "the 503s were retried: {totals:?}");
    // Every failed attempt reaches `/metrics`: the 503s as transient and retried, the refusal
    // as refused and dead-lettered, and the route keeps its last error (which one settles last
    // depends on the concurrent POSTs).
    let deliveries = Arc::new(wharf_runtime::metrics::Deliveries::default());
    deliveries.record(&totals.failures);
    let text = wharf_runtime::metrics::render(Default::default(), Default::default(), deliveries);
    let retried = totals.retried;
    for line in [
        format!("wharf_deliveries_failed_total{{tenant=\"acme\",route=\"webhook\",kind=\"transient\"}} {retried}\n"),
        "wharf_deliveries_failed_total{tenant=\"acme\",route=\"webhook\",kind=\"refused\"} 1\n".into(),
        format!("wharf_deliveries_retried_total{{tenant=\"acme\",route=\"webhook\"}} {retried}\n"),
        "wharf_deliveries_dead_lettered_total{tenant=\"acme\",route=\"webhook\"} 1\n".into(),
        "wharf_erp_last_error_info{tenant=\"acme\",route=\"webhook\",kind=\"".into(),
    ] {
        assert!(text.contains(&line), "{line} in\n{text}");
    }
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
    assert!(
        letters[0].reason.contains("HTTP 400") && letters[0].reason.contains("unknown customer"),
        "{}",
        letters[0].reason
    );

    // The operator fixes the customer at the ERP and replays.
    erp.lock().unwrap().refuse_bad = false;
    assert!(store.outbox().replay("acme", letters[0].delivery.id, now).unwrap());
    let r = webhook::drain(&store, &routes, &backoff, Timestamp(now), 100).await.unwrap();
    assert_eq!(r.delivered, 1);
    assert!(store.outbox().dead_letters("acme").unwrap().is_empty());
    assert_eq!(erp.lock().unwrap().accepted.len(), 3);

    // Delivering again (a crash after the POST, before the outbox noticed) is harmless: the
    // same idempotency key, acknowledged without a second order.
    let stored = store
        .orders()
        .get(
            "acme",
            &wharf_runtime::store::OrderKey {
                platform: "taobao".into(),
                shop_id: "tb1".into(),
                order_id: "1002".into(),
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(stored.sync, SyncState::Synced);
    let again = Webhook::new(routes("acme").unwrap().url.clone(), SECRET);
    assert_eq!(again.send(again.sign("acme", &stored, now / 1000)).await, webhook::Attempt::Delivered);
    assert_eq!(erp.lock().unwrap().accepted.len(), 3);
}

#[tokio::test]
async fn a_down_erp_is_retried_until_the_policy_gives_up() {
    // What the host logs meanwhile, at WARN: every failed attempt and the dead letter.
    let log = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let log = log.clone();
        move || LogSink(log.clone())
    };
    let subscriber =
        tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_max_level(tracing::Level::WARN);
    let _logging = tracing::subscriber::set_default(subscriber.finish());
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
    let log = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    let warned = |what: &str| log.lines().filter(|l| l.contains(" WARN ") && l.contains(what)).count();
    assert_eq!(warned("delivery to the ERP failed; retried"), 2, "{log}");
    assert_eq!(warned("delivery dead-lettered"), 1, "{log}");
    assert!(log.contains("tenant=acme") && log.contains("shop=tb1") && log.contains("order=1"), "{log}");
}

/// A `tracing` writer into a shared buffer.
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// --- SAP through the real plugin ---------------------------------------------------------

mod sap {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::Value;
    use wharf_runtime::capability::credentials::Secrets;
    use wharf_runtime::capability::grants::HostGrants;
    use wharf_runtime::limits::Limits;
    use wharf_runtime::model::{
        Order, OrderPushOutcome, OrderPushResult, OrderStatus, PullRequest, TimeWindow, Timestamp,
    };
    use wharf_runtime::{Call, Plugin, Reply, Sandbox, Shop};
    use wharf_sim::Marketplace;
    use wharf_sim::sap::{SapConfig, SapSim};
    use wharf_sim::taobao::{SimConfig, TaobaoSim};
    use wharf_tests::plugins::{cache_dir, plugin_path};

    async fn load(name: &str) -> Plugin {
        let sandbox = Sandbox::new(Limits::default(), Some(cache_dir())).unwrap();
        sandbox.load_file(&plugin_path(name)).await.unwrap()
    }

    fn shop(id: &str, config: BTreeMap<String, String>, secrets: BTreeMap<String, String>, grant: String) -> Shop {
        Shop::new("acme", id)
            .with_config(config)
            .with_secrets(Secrets::new(secrets))
            .with_grants(HostGrants::new([grant]))
    }

    /// Paid orders from the Taobao simulator, through the Taobao plugin, whose lines all carry
    /// a merchant SKU code (what SAP's `Material` is).
    async fn taobao_orders() -> Vec<Order> {
        let tb = TaobaoSim::spawn_from_async(SimConfig { orders: 80, seed: 41, ..SimConfig::default() }).await.unwrap();
        let plugin = load("taobao").await;
        let shop = shop("tb-1", Marketplace::config(&tb), tb.secrets(), tb.grant());
        let (from, to) = tb.window();
        let mut cursor = None;
        let mut orders = Vec::new();
        loop {
            let window = TimeWindow { from: Timestamp(from), to: Timestamp(to) };
            let Reply::OrderPage(page) = plugin.call(&shop, Call::PullOrders { window, cursor }).await.unwrap() else {
                panic!()
            };
            orders.extend(page.orders);
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        tokio::task::spawn_blocking(move || drop(tb)).await.unwrap();
        orders.retain(|o| {
            matches!(
                o.status,
                OrderStatus::Paid | OrderStatus::Shipped | OrderStatus::Completed | OrderStatus::PartiallyShipped
            ) && o.lines.iter().all(|l| l.outer_sku_id.is_some())
        });
        assert!(orders.len() >= 10, "the Taobao simulator gave only {} paid orders", orders.len());
        orders
    }

    fn outcomes(reply: Reply) -> Vec<OrderPushResult> {
        match reply {
            Reply::OrderPushes(r) => r,
            other => panic!("expected order push results, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn taobao_orders_arrive_in_sap_once_even_when_sent_twice() {
        let orders = taobao_orders().await;
        let materials: BTreeSet<String> =
            orders.iter().flat_map(|o| o.lines.iter().filter_map(|l| l.outer_sku_id.clone())).collect();
        let sap =
            SapSim::spawn(SapConfig { materials: materials.into_iter().collect(), ..SapConfig::default() }).unwrap();
        let plugin = load("sap").await;
        let shop = shop("sap", sap.plugin_config(), sap.plugin_secrets(), sap.grant());

        let first = outcomes(plugin.call(&shop, Call::PushOrders(orders.clone())).await.unwrap());
        assert_eq!(first.len(), orders.len());
        let mut refs = BTreeMap::new();
        for r in &first {
            match &r.outcome {
                OrderPushOutcome::Created { erp_ref } => refs.insert(r.order_id.clone(), erp_ref.clone()),
                other => panic!("order {}: {other:?}", r.order_id),
            };
        }
        // Sent again (a retry after a crash, say): nothing new is created.
        let second = outcomes(plugin.call(&shop, Call::PushOrders(orders.clone())).await.unwrap());
        for r in &second {
            match &r.outcome {
                OrderPushOutcome::AlreadyExists { erp_ref } => assert_eq!(Some(erp_ref), refs.get(&r.order_id)),
                other => panic!("order {} the second time: {other:?}", r.order_id),
            }
        }
        let ours: BTreeSet<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
        let created = sap
            .sales_orders()
            .into_iter()
            .filter(|so| ours.contains(wharf_sim::sap::order_id_of(&so.purchase_order)))
            .count();
        assert_eq!(created, orders.len(), "one sales order per platform order (the simulator has its own besides)");

        for o in &orders {
            let so = sap.sales_orders_for_order(&o.order_id);
            assert_eq!(so.len(), 1, "order {}", o.order_id);
            let so = &so[0];
            assert_eq!(Some(&so.sales_order), refs.get(&o.order_id));
            assert_eq!(
                (
                    so.order_type.as_str(),
                    so.sales_org.as_str(),
                    so.distribution_channel.as_str(),
                    so.division.as_str(),
                    so.sold_to.as_str()
                ),
                ("OR", "1000", "10", "00", "C0001"),
            );
            assert_eq!(so.currency, "CNY");
            let lines: Vec<(String, i64)> =
                o.lines.iter().map(|l| (l.outer_sku_id.clone().unwrap(), i64::from(l.quantity) * 1000)).collect();
            let items: Vec<(String, i64)> = so
                .items
                .iter()
                .filter(|i| i.material != wharf_sim::sap::FREIGHT_MATERIAL)
                .map(|i| (i.material.clone(), i.quantity))
                .collect();
            assert_eq!(items, lines, "order {}: materials and quantities", o.order_id);
            assert!(so.items.iter().all(|i| i.unit == "EA"));
            assert_eq!(so.items[0].item, "000010");
            assert_eq!(so.net(), o.paid_total, "order {}: SAP's net value is what the buyer paid", o.order_id);
            let paid_day = o.paid_at.unwrap_or(o.created_at).0;
            assert!(
                so.requested_delivery_ms.is_some_and(|d| (d - paid_day).abs() < 86_400_000),
                "order {}",
                o.order_id
            );
        }

        // IDoc mode: ORDERS05 XML that parses and says the same.
        let idoc_shop = self::shop("sap-idoc", sap.idoc_plugin_config(), sap.plugin_secrets(), sap.grant());
        let some: Vec<Order> = orders.iter().take(3).cloned().collect();
        let results = outcomes(plugin.call(&idoc_shop, Call::PushOrders(some.clone())).await.unwrap());
        assert!(results.iter().all(|r| matches!(r.outcome, OrderPushOutcome::Created { .. })), "{results:?}");
        let idocs = sap.idocs();
        assert_eq!(idocs.len(), 3);
        for (idoc, order) in idocs.iter().zip(&some) {
            let doc = roxmltree::Document::parse(&idoc.xml).expect("well-formed XML");
            let text = |parent: roxmltree::Node, tag: &str| {
                parent.children().find(|n| n.has_tag_name(tag)).and_then(|n| n.text()).unwrap_or_default().to_owned()
            };
            let segment = |tag: &str| doc.descendants().filter(move |n| n.has_tag_name(tag)).collect::<Vec<_>>();
            let dc = segment("EDI_DC40");
            assert_eq!(dc.len(), 1);
            assert_eq!((text(dc[0], "IDOCTYP"), text(dc[0], "MESTYP")), ("ORDERS05".into(), "ORDERS".into()));
            assert_eq!(text(dc[0], "CREDAT").len(), 8, "YYYYMMDD");
            assert_eq!(text(segment("E1EDK01")[0], "CURCY"), "CNY");
            let po = segment("E1EDK02").into_iter().find(|n| text(*n, "QUALF") == "001").expect("E1EDK02 QUALF 001");
            // The customer PO is the key naming the shop: `<prefix>-<order id>`.
            let belnr = text(po, "BELNR");
            assert_eq!(
                (wharf_sim::sap::order_id_of(&belnr), belnr.len() > order.order_id.len()),
                (order.order_id.as_str(), true)
            );
            let partners: BTreeSet<String> = segment("E1EDKA1").into_iter().map(|n| text(n, "PARVW")).collect();
            assert!(partners.contains("AG") && partners.contains("WE"), "{partners:?}");
            let items = segment("E1EDP01");
            assert_eq!(items.len(), order.lines.len());
            for (item, line) in items.iter().zip(&order.lines) {
                let e1edp19 = item.children().find(|n| n.has_tag_name("E1EDP19")).expect("E1EDP19 inside E1EDP01");
                assert_eq!(
                    (text(e1edp19, "QUALF"), text(e1edp19, "IDTNR")),
                    ("002".into(), line.outer_sku_id.clone().unwrap())
                );
                assert_eq!(text(*item, "MENGE").parse::<f64>().unwrap(), f64::from(line.quantity));
            }
        }
        tokio::task::spawn_blocking(move || drop(sap)).await.unwrap();
    }

    /// Pulls every page of an ERP pull as canonical JSON.
    async fn pull_all(plugin: &Plugin, shop: &Shop, make: fn(PullRequest) -> Call) -> Vec<Value> {
        let mut cursor = None;
        let mut items = Vec::new();
        loop {
            let reply = plugin.call(shop, make(PullRequest { window: None, cursor })).await.unwrap();
            let mut page = serde_json::to_value(&reply).unwrap();
            items.extend(page["items"].as_array_mut().map(std::mem::take).unwrap_or_default());
            cursor = page["next_cursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                return items;
            }
        }
    }

    fn strip(mut v: Vec<Value>, drop: &str) -> Vec<Value> {
        for item in &mut v {
            wharf_sim::harness::strip_nulls(item);
            if let Some(map) = item.as_object_mut() {
                map.remove(drop);
            }
        }
        v
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stock_shipments_and_logistics_come_out_canonical() {
        let sap = SapSim::spawn(SapConfig::default()).unwrap();
        let plugin = load("sap").await;
        let shop = shop("sap", sap.plugin_config(), sap.plugin_secrets(), sap.grant());

        let stock = pull_all(&plugin, &shop, Call::PullStock).await;
        assert!(!stock.is_empty());
        // `version` is the pull's own time; everything else is SAP's.
        assert_eq!(strip(stock, "version"), strip(sap.expected_stock(None), "version"));

        let shipments = pull_all(&plugin, &shop, Call::PullShipments).await;
        assert_eq!(strip(shipments.clone(), ""), strip(sap.expected_shipments("1000", None), ""));
        assert!(
            shipments
                .iter()
                .any(|s| s["lines"].as_array().is_some_and(|l| l.iter().any(|l| l.get("batch_no").is_some()))),
            "lots flow back"
        );

        let logistics = pull_all(&plugin, &shop, Call::PullLogistics).await;
        assert!(!logistics.is_empty());
        assert_eq!(strip(logistics, ""), strip(sap.expected_logistics("1000", None), ""));
        tokio::task::spawn_blocking(move || drop(sap)).await.unwrap();
    }

    /// `wharf plugin call target/plugins/sap.wasm push-orders --input orders.json` prints one
    /// result per order: created, then already_exists when sent again.
    #[test]
    fn the_cli_pushes_orders_and_says_what_became_of_each() {
        let sap = SapSim::spawn(SapConfig::default()).unwrap();
        let dir = wharf_tests::plugins::plugin_dir().join("../cli-sap-test");
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, v: Value| {
            let p = dir.join(name);
            std::fs::write(&p, v.to_string()).unwrap();
            p
        };
        let config = write("config.json", serde_json::to_value(sap.plugin_config()).unwrap());
        let secrets = write("secrets.json", serde_json::to_value(sap.plugin_secrets()).unwrap());
        let orders = write("orders.json", Value::Array(sap.sample_orders(3, 7_700_000_000_000_000_001)));
        let push = || {
            let out = std::process::Command::new(wharf_tests::plugins::wharf_bin())
                .args(["plugin", "call"])
                .arg(plugin_path("sap"))
                // The simulator is on loopback: granted by its address, as an operator would.
                .args(["push-orders", "--allow-host", &sap.grant(), "--config"])
                .arg(&config)
                .arg("--secrets")
                .arg(&secrets)
                .arg("--input")
                .arg(&orders)
                .env("WHARF_CACHE_DIR", cache_dir())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let results: Value = serde_json::from_slice(&out.stdout).unwrap();
            results
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["order_id"].as_str().unwrap().to_owned(),
                        r["outcome"].as_str().unwrap().to_owned(),
                        r["erp_ref"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let first = push();
        assert_eq!(first.len(), 3);
        assert!(first.iter().all(|(_, outcome, _)| outcome == "created"), "{first:?}");
        let second = push();
        for ((id1, _, ref1), (id2, outcome, ref2)) in first.iter().zip(&second) {
            assert_eq!((id1, ref1), (id2, ref2));
            assert_eq!(outcome, "already_exists");
        }
        drop(sap);
    }
}

/// Deliveries carry Standard Webhooks' headers, verified here by the specification's own
/// library; during a key rotation an ERP holding either secret verifies them; the
/// idempotency key is the signed `webhook-id`.
#[tokio::test]
async fn deliveries_verify_with_the_standard_webhooks_library_during_a_key_rotation() {
    const NEW: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const OLD: &str = "an older secret, not in whsec form";
    let hook = Webhook::new("http://erp.invalid/hook", NEW).with_previous_secrets([OLD]);
    let store = Store::temporary().unwrap();
    store.record_order("acme", &order("1001", OrderStatus::Paid), Timestamp(T), Some(webhook::ROUTE)).unwrap();
    let stored = store.orders().query("acme", &OrderQuery::default()).unwrap().orders.remove(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let signed = hook.sign("acme", &stored, now);
    let mut headers = axum::http::HeaderMap::new();
    for (k, v) in &signed.headers {
        headers.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    // The ERP that has the new secret, as the library takes it.
    standardwebhooks::Webhook::new(NEW).unwrap().verify(&signed.body, &headers).unwrap();
    // The ERP that still has the old one: `whsec_` + base64 of its bytes, as the README says.
    use base64::Engine as _;
    let old = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(OLD));
    standardwebhooks::Webhook::new(&old).unwrap().verify(&signed.body, &headers).unwrap();
    // Any other secret fails, and so does a changed body or id.
    let stranger = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode("stranger"));
    assert!(standardwebhooks::Webhook::new(&stranger).unwrap().verify(&signed.body, &headers).is_err());
    let mut tampered = signed.body.clone();
    tampered.push(b' ');
    assert!(standardwebhooks::Webhook::new(NEW).unwrap().verify(&tampered, &headers).is_err());
    let key = webhook::idempotency_key("acme", &stored);
    assert_eq!(headers[webhook::ID_HEADER], key.as_str());
    assert_eq!(headers[IDEMPOTENCY_HEADER], key.as_str());
    headers.insert(webhook::ID_HEADER, "acme:taobao:tb1:1001:v99".parse().unwrap());
    assert!(standardwebhooks::Webhook::new(NEW).unwrap().verify(&signed.body, &headers).is_err());
    // The first scheme's headers are still there for one release.
    assert_eq!(headers[SIGNATURE_HEADER], webhook::signature(NEW.as_bytes(), now, &signed.body).as_str());
}

fn after_sale(id: &str, status: &str, updated: &str) -> wharf_runtime::model::AfterSale {
    serde_json::from_value(json!({
        "platform": "douyin", "shop_id": "dy1", "after_sale_id": id, "order_id": "O1",
        "lines": [{"line_id": "O1-1", "quantity": 1}], "kind": "refund_before_shipping",
        "status": status, "platform_status": "aftersale_status=6", "currency": "CNY",
        "refund_amount": 1990, "shipping_refund": 0, "created_at": "2026-11-11T00:00:00Z",
        "updated_at": updated,
    }))
    .unwrap()
}

/// After-sales go through the same signed webhook as orders, with their own event type, key
/// and `intercept` flag; a delivered version is synced, a superseded one is not sent, and the
/// ERP's query no longer lists what it has.
#[tokio::test]
async fn after_sales_reach_the_webhook_flagged_and_each_version_once() {
    use wharf_runtime::store::{AfterSaleQuery, Carries};
    let erp = Arc::new(Mutex::new(Erp::default()));
    let hook = Webhook::new(serve(erp.clone()).await, SECRET);
    let routes = move |tenant: &str| (tenant == "acme").then(|| hook.clone());
    let store = Store::temporary().unwrap();
    let backoff = Backoff::default();
    let route = Some(webhook::ROUTE);

    store
        .record_after_sale("acme", &after_sale("R1", "requested", "2026-11-11T00:00:05Z"), true, Timestamp(T), route)
        .unwrap();
    // Agreed before the first drain: version 2 supersedes version 1, which is never sent.
    let agreed = after_sale("R1", "agreed", "2026-11-11T00:01:00Z");
    store.record_after_sale("acme", &agreed, true, Timestamp(T + 1), route).unwrap();
    store.record_after_sale("acme", &agreed, true, Timestamp(T + 2), route).unwrap();
    let pending = store.outbox().pending().unwrap();
    assert!(pending.iter().all(|d| d.carries == Carries::AfterSale && d.key.order_id == "R1"), "{pending:?}");
    let r = webhook::drain(&store, &routes, &backoff, Timestamp(T + 10), 100).await.unwrap();
    assert_eq!((r.delivered, r.superseded), (1, 1), "{r:?}");

    let erp = erp.lock().unwrap();
    assert_eq!(erp.accepted.len(), 1);
    let (key, doc) = erp.accepted.iter().next().unwrap();
    assert_eq!(key, "acme:after_sale:douyin:dy1:R1:v2");
    assert_eq!((doc["type"].as_str(), doc["intercept"].as_bool()), (Some("after_sale.updated"), Some(true)));
    assert_eq!((doc["after_sale"]["status"].as_str(), doc["version"].as_u64()), (Some("agreed"), Some(2)));
    assert!(store.outbox().pending().unwrap().is_empty());
    let unsynced = store.after_sales().query("acme", &AfterSaleQuery::default()).unwrap();
    assert!(unsynced.after_sales.is_empty(), "delivered means synced: {unsynced:?}");
}

/// A route with `batch` POSTs up to that many events at once, orders and after-sales alike,
/// each event keeping its idempotency key. A batch the ERP refuses goes again event by event,
/// so only the order the ERP cannot take is dead-lettered; the rest are delivered and synced.
#[tokio::test]
async fn a_batched_route_posts_many_events_at_once_and_a_refused_batch_goes_again_one_by_one() {
    use wharf_tests::webhook_erp::WebhookErp;
    let erp = WebhookErp::start(SECRET).await.unwrap();
    erp.state().refuse_prefix = Some("bad".into());
    let hook = Webhook::new(erp.url.clone(), SECRET).with_batch(10);
    let routes = move |tenant: &str| (tenant == "acme").then(|| hook.clone());
    let store = Store::temporary().unwrap();
    let route = Some(webhook::ROUTE);
    // Now, not T: the ERP's Standard Webhooks library refuses a timestamp minutes off its clock.
    let t = Timestamp::now().0;
    // 24 orders, the refused one among them (ids in the order they come due), and an after-sale.
    let mut page: Vec<Order> = (0..23).map(|i| order(&format!("{}", 2000 + i), OrderStatus::Paid)).collect();
    page.push(order("bad-1", OrderStatus::Paid));
    assert!(store.record_orders("acme", &page, Timestamp(t), route).iter().all(Result::is_ok));
    let sale = after_sale("R1", "agreed", "2026-11-11T00:01:00Z");
    store.record_after_sale("acme", &sale, false, Timestamp(t + 1), route).unwrap();

    let r = webhook::drain(&store, &routes, &Backoff::default(), Timestamp(t + 10), 100).await.unwrap();
    assert_eq!((r.delivered, r.dead_lettered, r.retried), (24, 1, 0), "{r:?}");
    {
        let state = erp.state();
        // 25 events in runs of 10: 10, 10, then 5 holding bad-1, refused and sent again alone.
        assert_eq!((state.batches, state.requests), (3 + 5, 3 + 5));
        assert_eq!((state.bad_signatures, state.conflicts.len()), (0, 0));
        assert_eq!(state.accepted.len(), 24);
        assert!(state.accepted.contains_key("acme:taobao:tb1:2022:v1"));
        assert_eq!(state.accepted["acme:after_sale:douyin:dy1:R1:v1"]["type"], "after_sale.updated");
    }
    let letters = store.outbox().dead_letters("acme").unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].delivery.key.order_id, "bad-1");
    assert!(letters[0].reason.contains("HTTP 400: unknown customer"), "{}", letters[0].reason);
    let unsynced = store.orders().query("acme", &OrderQuery::default()).unwrap();
    assert_eq!(unsynced.orders.iter().map(|o| o.order.order_id.as_str()).collect::<Vec<_>>(), ["bad-1"]);
    assert!(store.outbox().due("acme", webhook::ROUTE, t + 10, 100).unwrap().is_empty());

    // The ERP took a batch but its answer was lost: the same events come again, each under
    // its key, and nothing is created twice.
    let stored: Vec<_> = (0..3)
        .map(|i| {
            let key = wharf_runtime::store::OrderKey::of(&page[i]);
            webhook::order_event("acme", &store.orders().get("acme", &key).unwrap().unwrap())
        })
        .collect();
    let again = Webhook::new(erp.url.clone(), SECRET);
    assert_eq!(again.send(again.sign_batch("acme", &stored, t / 1000)).await, webhook::Attempt::Delivered);
    {
        let state = erp.state();
        assert_eq!((state.accepted.len(), state.conflicts.len()), (24, 0));
    }

    // The ERP is down: a batch answered 503 is retried whole, every event rescheduled (in one
    // transaction) with its attempt counted and the reason kept; once the ERP is back they
    // arrive, each once.
    erp.state().down = true;
    let more: Vec<Order> = (0..3).map(|i| order(&format!("{}", 3000 + i), OrderStatus::Paid)).collect();
    assert!(store.record_orders("acme", &more, Timestamp(t + 20), route).iter().all(Result::is_ok));
    let r = webhook::drain(&store, &routes, &Backoff::default(), Timestamp(t + 30), 100).await.unwrap();
    assert_eq!((r.delivered, r.dead_lettered, r.retried, r.failures.len()), (0, 0, 3, 3), "{r:?}");
    assert_eq!(erp.state().requests, 3 + 5 + 1 + 1, "one POST for the three");
    let owed = store.outbox().due("acme", webhook::ROUTE, i64::MAX, 100).unwrap();
    assert_eq!(owed.len(), 3);
    assert!(owed.iter().all(|d| d.attempts == 1 && d.next_attempt_ms > t + 30), "{owed:?}");
    assert!(owed.iter().all(|d| d.last_error.as_deref().is_some_and(|e| e.contains("503"))), "{owed:?}");
    erp.state().down = false;
    let later = owed.iter().map(|d| d.next_attempt_ms).max().unwrap();
    let r = webhook::drain(&store, &routes, &Backoff::default(), Timestamp(later), 100).await.unwrap();
    assert_eq!((r.delivered, r.retried), (3, 0), "{r:?}");
    let state = erp.state();
    assert_eq!((state.accepted.len(), state.conflicts.len()), (27, 0));
}
