//! The Taobao plugin, built to wasm, pulling and pushing through the real host against the TOP
//! simulator on loopback. Every canonical field is compared with the simulator's ground truth.

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use wharf_runtime::capability::credentials::Secrets;
use wharf_runtime::capability::grants::HostGrants;
use wharf_runtime::limits::Limits;
use wharf_runtime::model::*;
use wharf_runtime::{Call, Failure, Plugin, Reply, Sandbox, Shop};
use wharf_sim::taobao::{Malform, SimConfig, SimTrade, TaobaoSim, canonical_order};
use wharf_tests::plugins::{plugin_path, wharf_bin};

fn expected(t: &SimTrade) -> Value {
    canonical_order(t, SHOP)
}

const SHOP: &str = "tb-shop-1";

async fn load_taobao() -> Plugin {
    let sandbox = Sandbox::new(Limits::default(), Some(wharf_tests::plugins::cache_dir())).expect("sandbox");
    sandbox.load_file(&plugin_path("taobao")).await.expect("taobao plugin loads")
}

fn shop_for(sim: &TaobaoSim, sign_method: &str) -> Shop {
    let cfg = sim.config();
    let config = BTreeMap::from([
        ("endpoint".to_owned(), sim.endpoint()),
        ("app_key".to_owned(), cfg.app_key.clone()),
        ("sign_method".to_owned(), sign_method.to_owned()),
    ]);
    Shop::new("acme", SHOP)
        .with_config(config)
        .with_secrets(Secrets::new([
            ("app_secret".to_owned(), cfg.app_secret.clone()),
            ("session".to_owned(), cfg.session.clone()),
        ]))
        .with_grants(HostGrants::new([sim.addr().to_string()]))
}

/// Pulls a whole window, page by page, as the host's scheduler will.
async fn pull_all(plugin: &Plugin, shop: &Shop, window: TimeWindow) -> Result<Vec<Order>, wharf_runtime::CallError> {
    pull_with_rejected(plugin, shop, window).await.map(|(orders, _)| orders)
}

/// Every page of `window`: the orders, and the trades set aside with their reason.
async fn pull_with_rejected(
    plugin: &Plugin,
    shop: &Shop,
    window: TimeWindow,
) -> Result<(Vec<Order>, Vec<wharf_runtime::model::Rejected>), wharf_runtime::CallError> {
    let mut cursor = None;
    let (mut orders, mut rejected) = (Vec::new(), Vec::new());
    let mut pages = 0;
    loop {
        let Reply::OrderPage(page) = plugin.call(shop, Call::PullOrders { window, cursor: cursor.clone() }).await?
        else {
            panic!("pull-orders must answer a page")
        };
        pages += 1;
        assert!(pages < 10_000, "plugin keeps paging");
        orders.extend(page.orders);
        rejected.extend(page.rejected);
        if page.next_cursor.is_some() {
            assert_ne!(page.next_cursor, cursor, "cursor must advance");
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok((orders, rejected));
        }
    }
}

fn whole_sim_window(sim: &TaobaoSim) -> TimeWindow {
    let now = sim.now_ms();
    TimeWindow { from: Timestamp(now - sim.config().modified_span_ms - 1000), to: Timestamp(now + 1000) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_a_window_and_maps_every_field() {
    let sim = TaobaoSim::start(SimConfig { orders: 240, seed: 11, ..SimConfig::default() }).await.unwrap();
    let plugin = load_taobao().await;
    for sign_method in ["md5", "hmac", "hmac-sha256"] {
        let shop = shop_for(&sim, sign_method);
        let orders = pull_all(&plugin, &shop, whole_sim_window(&sim)).await.expect("pull succeeds");
        let truth = sim.trades();
        assert_eq!(orders.len(), truth.len(), "{sign_method}: every trade once");
        let ids: BTreeSet<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
        assert_eq!(ids.len(), orders.len(), "{sign_method}: no duplicates");
        let by_id: BTreeMap<String, &SimTrade> = truth.iter().map(|t| (t.tid_string(), t)).collect();
        for order in &orders {
            let t = by_id.get(&order.order_id).unwrap_or_else(|| panic!("unknown order {}", order.order_id));
            assert_eq!(serde_json::to_value(order).unwrap(), expected(t), "order {}", order.order_id);
            // Amounts add up to the fen.
            let lines: i64 = order.lines.iter().map(|l| l.unit_price * i64::from(l.quantity)).sum();
            assert_eq!(lines, order.goods_total);
            assert_eq!(order.goods_total + order.shipping_fee - order.discount_total, order.paid_total);
        }
        assert!(orders.iter().any(|o| o.order_id.parse::<u64>().unwrap() > (1u64 << 53)), "ids past 2^53 survive");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_orders_come_back_with_their_new_state() {
    let sim = TaobaoSim::start(SimConfig { orders: 60, seed: 12, ..SimConfig::default() }).await.unwrap();
    let plugin = load_taobao().await;
    let shop = shop_for(&sim, "md5");
    let first_end = sim.now_ms() + 1000;
    let first = pull_all(&plugin, &shop, whole_sim_window(&sim)).await.unwrap();
    assert_eq!(first.len(), 60);

    // TOP times have whole seconds: wait past the next one so the changes land after `first_end`.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let changed = sim.change_orders(5);
    let window = TimeWindow { from: Timestamp(first_end), to: Timestamp(sim.now_ms() + 1000) };
    let second = pull_all(&plugin, &shop, window).await.unwrap();
    let got: BTreeSet<String> = second.iter().map(|o| o.order_id.clone()).collect();
    let want: BTreeSet<String> = changed.iter().map(|t| t.to_string()).collect();
    assert_eq!(got, want, "exactly the changed orders are in the later window");
    for order in &second {
        let t = sim.trade(order.order_id.parse().unwrap()).unwrap();
        assert_eq!(serde_json::to_value(order).unwrap(), expected(&t));
        let before = first.iter().find(|o| o.order_id == order.order_id).unwrap();
        assert!(order.updated_at > before.updated_at);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_order_returns_one_trade() {
    let sim = TaobaoSim::start(SimConfig { orders: 10, seed: 13, ..SimConfig::default() }).await.unwrap();
    let plugin = load_taobao().await;
    let shop = shop_for(&sim, "hmac-sha256");
    let t = &sim.trades()[3];
    let Reply::Order(order) = plugin.call(&shop, Call::GetOrder { order_id: t.tid_string() }).await.unwrap() else {
        panic!("get-order answers an order")
    };
    assert_eq!(serde_json::to_value(&order).unwrap(), expected(t));
}

async fn plugin_error(plugin: &Plugin, shop: &Shop, sim: &TaobaoSim) -> ConnectorError {
    let err = pull_all(plugin, shop, whole_sim_window(sim)).await.expect_err("the pull must fail");
    assert_eq!(err.plugin, "taobao");
    assert_eq!(err.operation, Operation::PullOrders);
    match err.cause {
        Failure::Plugin(e) => e,
        other => panic!("expected a plugin error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_faults_map_to_canonical_errors() {
    let sim = TaobaoSim::start(SimConfig { orders: 30, seed: 14, ..SimConfig::default() }).await.unwrap();
    let plugin = load_taobao().await;
    let shop = shop_for(&sim, "md5");

    sim.set_throttle(0, 12);
    match plugin_error(&plugin, &shop, &sim).await {
        ConnectorError::RateLimited { retry_after_ms, .. } => {
            assert!((11_000..=12_000).contains(&retry_after_ms), "{retry_after_ms}")
        }
        other => panic!("throttling: {other:?}"),
    }
    sim.clear_throttle();

    sim.expire_session();
    assert!(matches!(plugin_error(&plugin, &shop, &sim).await, ConnectorError::Auth { .. }));
    sim.restore_session();

    let wrong_secret = Shop {
        secrets: std::sync::Arc::new(Secrets::new([
            ("app_secret".to_owned(), "not-the-secret".to_owned()),
            ("session".to_owned(), sim.config().session.clone()),
        ])),
        ..shop.clone()
    };
    assert!(matches!(plugin_error(&plugin, &wrong_secret, &sim).await, ConnectorError::Auth { .. }));

    sim.fail_next(1, 503);
    assert!(matches!(plugin_error(&plugin, &shop, &sim).await, ConnectorError::Transient { .. }));

    // One trade with a broken payment: it alone is set aside, by its tid, naming the field;
    // the other 29 come.
    sim.malform_next_for("taobao.trade.fullinfo.get", 1, Malform::bad_payment());
    let (orders, rejected) = pull_with_rejected(&plugin, &shop, whole_sim_window(&sim)).await.unwrap();
    assert_eq!((orders.len(), rejected.len()), (29, 1), "{rejected:?}");
    let bad = &rejected[0];
    assert!(bad.field.contains("payment"), "field {:?} names payment", bad.field);
    assert!(bad.reason.contains("abc"), "reason {:?} says what came", bad.reason);
    assert!(sim.trades().iter().any(|t| t.tid_string() == bad.id), "named by its own tid: {}", bad.id);
    assert!(!orders.iter().any(|o| o.order_id == bad.id));

    // A cut-off body is not the platform's answer: transient (retried), never dead-lettered.
    sim.malform_next(1, Malform::Truncated);
    assert!(matches!(plugin_error(&plugin, &shop, &sim).await, ConnectorError::Transient { .. }));

    // After all that, the same plugin pulls cleanly.
    assert_eq!(pull_all(&plugin, &shop, whole_sim_window(&sim)).await.unwrap().len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_change_the_platform() {
    let sim = TaobaoSim::start(SimConfig { orders: 40, seed: 15, ..SimConfig::default() }).await.unwrap();
    let plugin = load_taobao().await;
    let shop = shop_for(&sim, "hmac");

    let (item, sku) = sim
        .items()
        .into_iter()
        .find_map(|i| i.skus.iter().find(|s| s.outer_id.is_some()).cloned().map(|s| (i, s)))
        .expect("an item with a coded sku");
    let outer = sku.outer_id.clone().unwrap();

    let Reply::Items(results) = plugin
        .call(
            &shop,
            Call::PushStock(vec![
                StockUpdate {
                    outer_sku_id: outer.clone(),
                    product_id: Some(item.num_iid.to_string()),
                    sku_id: Some(sku.sku_id.to_string()),
                    quantity: 777,
                    warehouse: None,
                    version: 1,
                },
                StockUpdate {
                    outer_sku_id: "NO-PRODUCT-ID".into(),
                    product_id: None,
                    sku_id: None,
                    quantity: 1,
                    warehouse: None,
                    version: 1,
                },
            ]),
        )
        .await
        .unwrap()
    else {
        panic!("push-stock answers item results")
    };
    assert!(matches!(results[0], ItemResult::Ok(_)), "{results:?}");
    assert!(
        matches!(&results[1], ItemResult::Error(ConnectorError::InvalidInput { field, .. }) if field.contains("product_id"))
    );
    assert_eq!(sim.sku_stock(item.num_iid, sku.sku_id), Some(777));

    let Reply::Items(results) = plugin
        .call(
            &shop,
            Call::PushPrices(vec![PriceUpdate {
                outer_sku_id: outer.clone(),
                product_id: Some(item.num_iid.to_string()),
                sku_id: Some(sku.sku_id.to_string()),
                currency: "CNY".into(),
                prices: vec![Price { kind: PriceKind::Default, amount: 12_345 }],
            }]),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(matches!(results[0], ItemResult::Ok(_)), "{results:?}");
    assert_eq!(sim.sku_by_outer_id(&outer).unwrap().1.price, 12_345);

    let Reply::Items(results) = plugin
        .call(
            &shop,
            Call::PushListing(vec![ListingChange {
                outer_sku_id: None,
                product_id: Some(item.num_iid.to_string()),
                listed: false,
            }]),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(matches!(results[0], ItemResult::Ok(_)), "{results:?}");
    assert!(!sim.item(item.num_iid).unwrap().listed);
    let Reply::Items(results) = plugin
        .call(
            &shop,
            Call::PushListing(vec![ListingChange {
                outer_sku_id: None,
                product_id: Some(item.num_iid.to_string()),
                listed: true,
            }]),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(matches!(results[0], ItemResult::Ok(_)), "{results:?}");
    assert!(sim.item(item.num_iid).unwrap().listed);

    let trade = sim.trades().into_iter().find(|t| t.status.can_ship()).expect("a trade to ship");
    let Reply::Items(results) = plugin
        .call(
            &shop,
            Call::PushLogistics(vec![Logistics {
                order_id: trade.tid_string(),
                carrier_code: "ZJS".into(),
                tracking_no: "ZJS000123456".into(),
                shipped_at: Timestamp::now(),
            }]),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(matches!(results[0], ItemResult::Ok(_)), "{results:?}");
    let shipment = sim.shipments().into_iter().last().expect("a shipment");
    assert_eq!(shipment.tid, trade.tid);
    assert_eq!(shipment.out_sid, "ZJS000123456");

    // What Taobao cannot do is `unsupported`, never a fake success.
    let err = plugin.call(&shop, Call::PushCustomers(vec![])).await.unwrap_err();
    assert!(
        matches!(err.cause, Failure::Plugin(ConnectorError::Unsupported { ref operation }) if operation == "push-customers")
    );
}

#[test]
fn the_cli_pulls_canonical_orders_from_the_simulator() {
    let sim = TaobaoSim::spawn_blocking_runtime(SimConfig { orders: 120, seed: 16, ..SimConfig::default() }).unwrap();
    let dir = std::env::temp_dir().join(format!("wharf-taobao-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = sim.config();
    let write = |name: &str, v: Value| {
        let p = dir.join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p
    };
    let config =
        write("config.json", json!({"endpoint": sim.endpoint(), "app_key": cfg.app_key, "sign_method": "hmac-sha256"}));
    let secrets = write("secrets.json", json!({"app_secret": cfg.app_secret, "session": cfg.session}));
    let window = whole_sim_window(&sim);
    let input =
        write("window.json", json!({"from": window.from.to_string(), "to": window.to.to_string(), "cursor": null}));

    let pull = || {
        std::process::Command::new(wharf_bin())
            .args(["plugin", "call"])
            .arg(plugin_path("taobao"))
            .arg("pull-orders")
            // The simulator is on loopback: granted by its address, as an operator would.
            .arg("--allow-host")
            .arg(sim.addr().to_string())
            .arg("--config")
            .arg(&config)
            .arg("--secrets")
            .arg(&secrets)
            .arg("--input")
            .arg(&input)
            .arg("--shop")
            .arg(SHOP)
            .arg("--cache-dir")
            .arg(wharf_tests::plugins::cache_dir())
            .output()
            .unwrap()
    };
    let out = pull();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "wharf failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    // Ids past 2^53 are JSON strings, digit for digit.
    let big = sim.trades().into_iter().map(|t| t.tid).find(|tid| *tid > 1 << 53).expect("a big tid");
    assert!(stdout.contains(&format!("\"order_id\": \"{big}\"")), "big id printed exactly");
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed["next_cursor"], Value::Null);
    let orders = printed["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 120);
    for order in orders {
        let t = sim.trade(order["order_id"].as_str().unwrap().parse().unwrap()).unwrap();
        assert_eq!(order, &expected(&t));
    }

    // A platform error is JSON on stderr with exit code 1.
    sim.expire_session();
    let out = pull();
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&out.stderr).expect("stderr is one JSON object");
    assert_eq!(err["error"], "plugin_error");
    assert_eq!(err["plugin"], "taobao");
    assert_eq!(err["plugin_error"]["kind"], "auth");
}
