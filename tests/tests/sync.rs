//! The order stream through the real Taobao plugin and the real sled store: incremental
//! windows with overlap, change detection, the outbox, and resuming after a failure mid-window
//! without losing or doubling anything.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use wharf_runtime::capability::credentials::Secrets;
use wharf_runtime::capability::grants::HostGrants;
use wharf_runtime::limits::Limits;
use wharf_runtime::model::Timestamp;
use wharf_runtime::store::{OrderQuery, Store};
use wharf_runtime::sync::orders::OrderStream;
use wharf_runtime::{Sandbox, Shop};
use wharf_sim::Marketplace;
use wharf_sim::taobao::{FULLINFO_GET, INCREMENT_GET, SimConfig, TaobaoSim};
use wharf_tests::plugins::{cache_dir, plugin_path};

const DAY_MS: i64 = 86_400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_flow_incrementally_change_once_and_resume_after_a_failure() {
    let sim = TaobaoSim::spawn_from_async(SimConfig {
        orders: 150,
        seed: 5,
        modified_span_ms: DAY_MS,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let plugin =
        Sandbox::new(Limits::default(), Some(cache_dir())).unwrap().load_file(&plugin_path("taobao")).await.unwrap();
    let mut config: BTreeMap<String, String> = Marketplace::config(&sim);
    config.insert("page_size".into(), "20".into());
    let store = Store::temporary().unwrap();
    let shop = Shop::new("acme", "tb-1")
        .with_config(config)
        .with_secrets(Secrets::new(sim.secrets()))
        .with_grants(HostGrants::new([sim.grant()]))
        .with_stored(Arc::new(store.clone()));
    let mut stream = OrderStream::new(&plugin, &shop, &store, Some("webhook"));
    stream.first_lookback = Duration::from_millis(2 * DAY_MS as u64);

    // First round: everything modified in the look-back window, once.
    let now = Timestamp(sim.now_ms() + 10_000);
    let first = stream.round(now).await.unwrap();
    let settle = stream.settle.as_millis() as i64;
    let expected = sim.trades_modified_in(now.0 - 2 * DAY_MS, now.0 - settle).len();
    assert!(first.caught_up && first.pages > 1, "{first:?}");
    assert_eq!((first.new, first.changed), (expected, 0), "{first:?}");
    assert_eq!(store.outbox().pending().unwrap().len(), expected);

    // Again: only the overlap is re-read, and nothing in it is news.
    let again = stream.round(Timestamp(now.0 + 1_000)).await.unwrap();
    assert_eq!((again.new, again.changed), (0, 0), "{again:?}");

    // Five orders change at the platform: five new versions, each owed to the ERP once, and
    // only they are fetched in full.
    let changed = sim.change_orders(5);
    let later = Timestamp(sim.now_ms() + 10_000);
    sim.reset_calls();
    let round = stream.round(later).await.unwrap();
    assert_eq!((round.new, round.changed), (0, changed.len()), "{round:?}");
    assert_eq!(store.outbox().pending().unwrap().len(), expected + changed.len());
    assert_eq!(sim.call_count(FULLINFO_GET), changed.len() as u64);

    // The next round's overlap lists those five again, stored at their listed `modified`:
    // none is fetched again (contract 0.4.0's `stored`; each was a `fullinfo` call before).
    sim.reset_calls();
    let overlap = stream.round(Timestamp(later.0 + 1_000)).await.unwrap();
    assert_eq!((overlap.new, overlap.changed), (0, 0), "{overlap:?}");
    assert!(sim.call_count(INCREMENT_GET) >= 1);
    assert_eq!(sim.call_count(FULLINFO_GET), 0, "re-fetched what the host stores: {:?}", sim.calls());

    // The platform throttles in the middle of a window: the round fails after some pages,
    // having saved where it was; the next one resumes there.
    let more = sim.change_orders(40);
    let t = Timestamp(sim.now_ms() + 10_000);
    stream.overlap = Duration::from_secs(24 * 3600); // a long window, many pages
    sim.set_throttle(3, 1);
    let failed = stream.round(t).await;
    assert!(failed.is_err(), "the throttled round must fail, not skip pages");
    sim.clear_throttle();
    let resumed = stream.round(t).await.unwrap();
    assert!(resumed.caught_up);
    let versions: usize = store
        .orders()
        .query("acme", &OrderQuery { any_sync: true, limit: Some(1_000), ..Default::default() })
        .unwrap()
        .orders
        .iter()
        .map(|o| o.version as usize)
        .sum();
    // Every version stored is owed exactly once: no page lost, none counted twice.
    assert_eq!(store.outbox().pending().unwrap().len(), versions);
    let changed_now: Vec<String> = more.iter().map(u64::to_string).collect();
    for id in &changed_now {
        let key =
            wharf_runtime::store::OrderKey { platform: "taobao".into(), shop_id: "tb-1".into(), order_id: id.clone() };
        let stored = store.orders().get("acme", &key).unwrap();
        assert!(stored.is_some_and(|s| s.version >= 2), "order {id} changed at the platform but not in the store");
    }
    tokio::task::spawn_blocking(move || drop(sim)).await.unwrap();
}

/// After-sales from each platform's simulator, in its own shapes and codes, through the real
/// plugin: every one the plugin pulls is stored once with the canonical kind, status and
/// amounts the simulator holds, the refunds before shipping flagged for interception, and a
/// change at the platform is a new version. JD's after-sales are its refund applications and
/// its service orders (returns, exchanges, repairs; ids `asc-…`); ECShop's are its back orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sales_map_from_every_platform_and_flag_interceptions() {
    use wharf_runtime::store::AfterSaleQuery;
    use wharf_runtime::sync::after_sales::{self, AfterSaleStream};
    use wharf_runtime::sync::intake::Update;
    use wharf_runtime::sync::window::{self, Walk};
    use wharf_sim::shop::AfterSaleKind;
    use wharf_sim::world::{World, WorldOptions};

    let platforms = ["taobao", "jd", "douyin", "ecshop"];
    let world = World::start(WorldOptions {
        platforms: platforms.iter().map(|p| (*p).to_owned()).collect(),
        orders: 40,
        ..WorldOptions::default()
    })
    .unwrap();
    // Some interceptions (unshipped orders), some after shipping.
    for _ in 0..3 {
        world.taobao().unwrap().open_random_after_sale(true);
        world.taobao().unwrap().open_random_after_sale(false);
        world.jd().unwrap().open_random_after_sale(true);
        world.jd().unwrap().open_random_after_sale(false);
        world.douyin().unwrap().open_random_after_sale(true);
        world.douyin().unwrap().open_random_after_sale(false);
    }
    // ECShop's after-sales are back orders: an order the admin marked returned.
    let ecshop = world.ecshop().unwrap_or_else(|| panic!("the ECShop simulator needs php: {:?}", world.skipped()));
    for _ in 0..2 {
        ecshop.return_order().unwrap();
    }
    let sandbox = Sandbox::new(Limits::default(), Some(cache_dir())).unwrap();
    let store = Store::temporary().unwrap();
    let never = || false;
    for ws in world.shops() {
        let plugin = sandbox.load_file(&plugin_path(&ws.plugin)).await.unwrap();
        let shop = Shop::new("acme", &ws.shop_id)
            .with_config(ws.config.clone())
            .with_secrets(Secrets::new(ws.secrets.clone()))
            .with_grants(HostGrants::new(ws.hosts.clone()));
        let now = Timestamp(wharf_sim::serve::wall_ms() + 10_000);
        OrderStream::new(&plugin, &shop, &store, None).round(now).await.unwrap();
        let stream = AfterSaleStream {
            plugin: &plugin,
            shop: &shop,
            store: &store,
            route: None,
            walk: Walk {
                shop: &shop,
                store: &store,
                stream: after_sales::STREAM,
                overlap: window::DEFAULT_OVERLAP,
                settle: Duration::ZERO,
                first_lookback: window::DEFAULT_FIRST_LOOKBACK,
                stopping: &never,
            },
            orders: Some(OrderStream::new(&plugin, &shop, &store, None)),
        };
        let round = stream.round(now).await.unwrap_or_else(|e| panic!("{}: {e}", ws.platform));
        assert_eq!(round.quarantined, 0, "{}: {round:?}", ws.platform);

        let truth: Vec<wharf_sim::shop::AfterSale> = match ws.platform.as_str() {
            "taobao" => world.taobao().unwrap().refunds(),
            "jd" => world.jd().unwrap().after_sales(),
            "ecshop" => ecshop.after_sales(),
            _ => world.douyin().unwrap().after_sales(),
        };
        // How the plugin writes each platform's id (JD's service orders are `asc-<serviceId>`).
        let id_of = |t: &wharf_sim::shop::AfterSale| match ws.platform.as_str() {
            "jd" => wharf_sim::jd::after_sale::canonical_id(t),
            _ => t.id.to_string(),
        };
        assert!(truth.len() >= 2, "{}: {truth:?}", ws.platform);
        let query = AfterSaleQuery { shop_id: Some(ws.shop_id.clone()), limit: Some(1000), ..Default::default() };
        let stored = store.after_sales().query("acme", &query).unwrap().after_sales;
        assert_eq!(stored.len(), truth.len(), "{}: stored {stored:#?}\ntruth {truth:#?}", ws.platform);
        assert_eq!(round.new, truth.len(), "{}", ws.platform);
        for t in &truth {
            let s = stored
                .iter()
                .find(|s| s.after_sale.after_sale_id == id_of(t))
                .unwrap_or_else(|| panic!("{}: after-sale {} not stored: {stored:#?}", ws.platform, t.id));
            let a = &s.after_sale;
            let what = format!("{} after-sale {}: {a:?} vs {t:?}", ws.platform, t.id);
            assert_eq!(serde_json::to_value(a.kind).unwrap(), t.kind.as_str(), "{what}");
            assert_eq!(serde_json::to_value(a.status).unwrap(), t.status.as_str(), "{what}");
            assert_eq!(a.refund_amount + a.shipping_refund, t.refund_amount + t.shipping_refund, "{what}");
            assert_eq!(a.currency, "CNY", "{what}");
            if t.kind == AfterSaleKind::RefundBeforeShipping && !t.status.is_final() {
                assert!(s.intercept, "a refund before shipping stops the parcel: {what}");
            }
        }

        // The merchant agrees the first open request, through the queue like any update: the
        // platform records the answer (JD's to its refund applications; ECShop's back orders
        // are returns already made, nothing to answer).
        if ws.platform != "ecshop" {
            let open = stored
                .iter()
                .find(|s| {
                    s.after_sale.status == wharf_runtime::model::AfterSaleStatus::Requested
                        && !s.after_sale.after_sale_id.starts_with("asc-")
                })
                .unwrap_or_else(|| panic!("{}: a request to answer: {stored:#?}", ws.platform));
            let action: wharf_runtime::model::AfterSaleAction = serde_json::from_value(serde_json::json!({
                "after_sale_id": open.after_sale.after_sale_id, "order_id": open.after_sale.order_id,
                "decision": "agree_refund", "refund_version": open.after_sale.refund_version,
            }))
            .unwrap();
            let (queued, sent) =
                submit_and_push(&store, &ws, &plugin, &shop, Update::AfterSaleActions(vec![action]), now).await;
            assert_eq!(queued, 1, "{}", ws.platform);
            assert_eq!((sent.confirmed, sent.dead_lettered), (1, 0), "{}: {sent:?}", ws.platform);
            let actions = match ws.platform.as_str() {
                "taobao" => world.taobao().unwrap().seller_actions(),
                "jd" => world.jd().unwrap().seller_actions(),
                _ => world.douyin().unwrap().seller_actions(),
            };
            let mut answered: Vec<u64> = actions.iter().map(|a| a.after_sale_id).collect();
            answered.dedup();
            let id = open.after_sale.after_sale_id.parse::<u64>().unwrap();
            assert_eq!(answered, [id], "{}: {actions:?}", ws.platform);
        }

        // Douyin's platform moves one on (the merchant agreed, the buyer sent goods back…): the
        // next round stores it as a new version, and nothing else changes.
        if ws.platform == "douyin" {
            let moved = world.douyin().unwrap().advance_after_sale().expect("an open after-sale to advance");
            let key = wharf_runtime::store::AfterSaleKey {
                platform: "douyin".into(),
                shop_id: ws.shop_id.clone(),
                after_sale_id: moved,
            };
            let order_key = wharf_runtime::store::OrderKey {
                platform: "douyin".into(),
                shop_id: ws.shop_id.clone(),
                order_id: store.after_sales().get("acme", &key).unwrap().unwrap().after_sale.order_id,
            };
            let order_before = store.orders().get("acme", &order_key).unwrap().unwrap();
            let later = Timestamp(wharf_sim::serve::wall_ms() + 10_000);
            let again = stream.round(later).await.unwrap();
            // The one agreed above, and the one moved on.
            assert_eq!((again.new, again.changed), (0, 2), "{again:?}");
            assert_eq!(store.after_sales().get("acme", &key).unwrap().unwrap().version, 2);
            // Its order moved with it on the platform (its lines' refund status): the order's
            // new version is stored in the same round, without waiting for the order pull.
            let order_after = store.orders().get("acme", &order_key).unwrap().unwrap();
            assert!(
                order_after.version > order_before.version && order_after.order != order_before.order,
                "the order of a changed after-sale is fetched again: {order_before:?} -> {order_after:?}"
            );
        }
    }
}

/// Invoices the merchant issued go out like every update, through the real plugins to the
/// Taobao and Douyin simulators: queued per order and invoice number, pushed, recorded by the
/// platform in its own terms (Taobao's kind code and yuan amount, Douyin's file URL); one the
/// platform cannot take (an electronic invoice for Taobao, which wants the file's content) is
/// dead-lettered with the plugin's reason, and the rest are not held up by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_reach_the_platforms_and_one_they_cannot_take_is_set_aside() {
    use wharf_runtime::model::InvoiceUpload;
    use wharf_runtime::sync::intake::Update;
    use wharf_sim::world::{World, WorldOptions};

    let world = World::start(WorldOptions {
        platforms: vec!["taobao".into(), "douyin".into()],
        orders: 10,
        ..WorldOptions::default()
    })
    .unwrap();
    let sandbox = Sandbox::new(Limits::default(), Some(cache_dir())).unwrap();
    let store = Store::temporary().unwrap();
    for ws in world.shops() {
        let plugin = sandbox.load_file(&plugin_path(&ws.plugin)).await.unwrap();
        let shop = Shop::new("acme", &ws.shop_id)
            .with_config(ws.config.clone())
            .with_secrets(Secrets::new(ws.secrets.clone()))
            .with_grants(HostGrants::new(ws.hosts.clone()));
        let now = Timestamp(wharf_sim::serve::wall_ms() + 10_000);
        OrderStream::new(&plugin, &shop, &store, None).round(now).await.unwrap();
        let query = OrderQuery { shop_id: Some(ws.shop_id.clone()), limit: Some(2), ..Default::default() };
        let orders: Vec<String> =
            store.orders().query("acme", &query).unwrap().orders.into_iter().map(|o| o.order.order_id).collect();
        assert_eq!(orders.len(), 2, "{}", ws.platform);
        let invoice = |order_id: &str, invoice_no: &str, kind: &str, file_url: Option<&str>| -> InvoiceUpload {
            serde_json::from_value(serde_json::json!({
                "order_id": order_id, "kind": kind, "title": "上海某某科技有限公司", "tax_id": "91310000MA1FL1234X",
                "invoice_no": invoice_no, "invoice_code": "031002000111", "amount": 80008,
                "issued_at": "2026-11-29T16:00:00Z", "file_url": file_url,
            }))
            .unwrap()
        };
        // What each platform takes, then one it cannot.
        let (good, bad) = match ws.platform.as_str() {
            "taobao" => {
                (invoice(&orders[0], "24310001", "paper", None), invoice(&orders[1], "24310002", "electronic", None))
            }
            _ => (
                invoice(&orders[0], "24310001", "electronic", Some("https://erp.example.com/i/24310001.pdf")),
                invoice(&orders[1], "24310002", "paper", None),
            ),
        };
        let invoices = Update::Invoices(vec![good.clone(), bad.clone()]);
        let (queued, sent) = submit_and_push(&store, &ws, &plugin, &shop, invoices, now).await;
        assert_eq!(queued, 2, "{}", ws.platform);
        assert_eq!((sent.confirmed, sent.dead_lettered), (1, 1), "{}: {sent:?}", ws.platform);

        let uploaded = match ws.platform.as_str() {
            "taobao" => world.taobao().unwrap().invoices(),
            _ => world.douyin().unwrap().invoices(),
        };
        assert_eq!(uploaded.len(), 1, "{}: {uploaded:?}", ws.platform);
        let u = &uploaded[0];
        assert_eq!(u.order_id, good.order_id, "{}", ws.platform);
        if ws.platform == "taobao" {
            // TOP's invoice_kind 1 is paper; the amount went as yuan and comes back as fen; the
            // date is the invoice's day in China.
            assert_eq!(u.kind.as_deref(), Some("1"));
            assert_eq!((u.invoice_no.as_deref(), u.amount_fen), (Some("24310001"), Some(80008)));
            assert_eq!(u.issued_on.as_deref(), Some("2026-11-30"));
        } else {
            assert_eq!(u.file_url, good.file_url);
        }
        let letters = store.pushes().dead_letters("acme").unwrap();
        let letter = letters.iter().find(|l| l.push.item.contains("24310002")).unwrap_or_else(|| panic!("{letters:?}"));
        assert!(letter.reason.contains("file"), "{}: the plugin's reason: {letter:?}", ws.platform);
    }
}

/// `update` through the tenant's intake for the world shop `ws` (queued as the API queues it),
/// then one outbound round to its platform through the real plugin: how many were queued, and
/// what the round did.
async fn submit_and_push(
    store: &Store,
    ws: &wharf_sim::world::WorldShop,
    plugin: &wharf_runtime::Plugin,
    shop: &Shop,
    update: wharf_runtime::sync::intake::Update,
    now: Timestamp,
) -> (usize, wharf_runtime::sync::outbound::Round) {
    use wharf_runtime::sync::intake::{Intake, Target};
    let intake = Intake {
        store: store.clone(),
        tenant: "acme".into(),
        shops: vec![Target {
            shop_id: ws.shop_id.clone(),
            platform: ws.platform.clone(),
            operations: plugin.descriptor().operations.clone(),
        }]
        .into(),
    };
    let report = intake.submit(&update, now).unwrap();
    let never = || false;
    let outbound = wharf_runtime::sync::outbound::Outbound {
        stopping: &never,
        plugin,
        shop,
        platform: &ws.platform,
        store,
        carriers: &Default::default(),
        backoff: &Default::default(),
    };
    (report.queued, outbound.round(now).await.unwrap())
}
