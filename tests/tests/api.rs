//! The HTTP API over real HTTP: tokens and tenant isolation, the ERP pulling and
//! acknowledging orders, and pushing stock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wharf_runtime::api::Api;
use wharf_runtime::config::Config;
use wharf_runtime::limits::Limits;
use wharf_runtime::store::Store;
use wharf_runtime::sync::scheduler::{Options, Scheduler};
use wharf_runtime::Sandbox;
use wharf_sim::Marketplace;
use wharf_sim::taobao::{SimConfig, TaobaoSim};
use wharf_tests::plugins::{cache_dir, plugin_path};

const OPERATOR: &str = "wharf_operator_test_token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_erp_pulls_acks_and_pushes_and_tenants_are_isolated() {
    let sim = tokio::task::spawn_blocking(|| {
        TaobaoSim::spawn_blocking_runtime(SimConfig { orders: 30, seed: 3, modified_span_ms: 3_600_000, ..SimConfig::default() })
    })
    .await
    .unwrap()
    .unwrap();
    let config: BTreeMap<String, String> = Marketplace::config(&sim);
    let table = config.iter().map(|(k, v)| format!("{k} = {v:?}")).collect::<Vec<_>>().join(", ");
    // The simulator is on loopback: the operator grants its address to the shop.
    let grant = Marketplace::grant(&sim);
    let tenant = |id: &str| {
        format!(
            "[[tenants.{id}.shops]]\nid = \"tb\"\nplatform = \"taobao\"\nplugin = \"taobao\"\nconfig = {{ {table} }}\ngrants = [{grant:?}]\n\
             credentials = {{ app_secret = \"env:S\", session = \"env:T\" }}\n[tenants.{id}.pull]\n[tenants.{id}.schedule]\norders = \"1s\"\n"
        )
    };
    let secrets: BTreeMap<String, String> = Marketplace::secrets(&sim);
    let env = |k: &str| match k {
        "S" => Some(secrets["app_secret"].clone()),
        "T" => Some(secrets["session"].clone()),
        _ => None,
    };
    let toml = format!("{}\n{}", tenant("acme"), tenant("beta"));
    let config = Config::from_toml_str(&toml, &std::env::temp_dir(), &["taobao"], &env).unwrap_or_else(|e| panic!("{e}"));
    let plugin = Sandbox::new(Limits::default(), Some(cache_dir())).unwrap().load_file(&plugin_path("taobao")).await.unwrap();
    let plugins = [("taobao".to_owned(), plugin)].into_iter().collect();
    let store = Store::temporary().unwrap();
    let options = Options { tick: Duration::from_millis(50), progress_every: None, ..Options::default() };
    let scheduler = Scheduler::new(&config, &plugins, store.clone(), options).await.unwrap();
    let api = Api::new(scheduler.control(), Some(OPERATOR));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api.router()).await.unwrap() });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = tokio::spawn(scheduler.run(async move {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>| {
        let mut request = http.request(method, format!("{base}{path}"));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request.header("content-type", "application/json").body(serde_json::to_vec(&b).unwrap());
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let bytes = response.bytes().await.unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };
    use reqwest::Method;
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(http.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);
    assert_eq!(call(Method::GET, "/v1/tenants/acme/orders", None, None).await.0, 401);
    assert_eq!(call(Method::GET, "/v1/tenants/acme/orders", Some("wharf_guess"), None).await.0, 401);

    // The operator makes one token per tenant; a tenant token cannot make tokens.
    let token = |t: &str| {
        let call = &call;
        let t = t.to_owned();
        async move {
            let (status, body) =
                call(Method::POST, &format!("/v1/tenants/{t}/tokens"), Some(OPERATOR), Some(json!({"name": format!("{t}-erp")}))).await;
            assert_eq!(status, 201, "{body}");
            body["token"].as_str().unwrap().to_owned()
        }
    };
    let (acme, beta) = (token("acme").await, token("beta").await);
    let (status, _) = call(Method::POST, "/v1/tenants/acme/tokens", Some(&acme), Some(json!({"name": "x"}))).await;
    assert_eq!(status, 403);

    // The ERP pulls unsynced orders, page by page, and acknowledges them.
    let start = Instant::now();
    let all = loop {
        let (status, page) = call(Method::GET, "/v1/tenants/acme/orders?limit=1000", Some(&acme), None).await;
        assert_eq!(status, 200, "{page}");
        let orders = page["orders"].as_array().unwrap().clone();
        if orders.len() == sim.trades().len() {
            break orders;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let (_, q) = call(Method::GET, "/v1/tenants/acme/quarantine", Some(&acme), None).await;
            panic!("orders did not arrive: {} of {}; quarantine: {q}", orders.len(), sim.trades().len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (status, page) = call(Method::GET, "/v1/tenants/acme/orders?limit=7", Some(&acme), None).await;
    assert_eq!((status, page["orders"].as_array().unwrap().len()), (200, 7));
    assert!(page["next_cursor"].is_string());
    let acks: Vec<Value> = all
        .iter()
        .map(|o| {
            let order = &o["order"];
            json!({"platform": order["platform"], "shop_id": order["shop_id"], "order_id": order["order_id"], "version": o["version"]})
        })
        .collect();
    let (status, outcome) = call(Method::POST, "/v1/tenants/acme/orders/ack", Some(&acme), Some(Value::Array(acks))).await;
    assert_eq!(status, 200, "{outcome}");
    assert!(outcome.as_array().unwrap().iter().all(|o| o["outcome"] == "synced"), "{outcome}");
    let (_, left) = call(Method::GET, "/v1/tenants/acme/orders", Some(&acme), None).await;
    assert_eq!(left["orders"].as_array().unwrap().len(), 0, "all synced");

    // Stock pushed by the ERP over HTTP reaches the shop.
    let line = all.iter().flat_map(|o| o["order"]["lines"].as_array().unwrap().clone()).find(|l| l["sku_id"].is_string()).unwrap();
    let (num_iid, sku_id): (u64, u64) = (line["product_id"].as_str().unwrap().parse().unwrap(), line["sku_id"].as_str().unwrap().parse().unwrap());
    let sku = line["outer_sku_id"].as_str().unwrap();
    let (status, report) =
        call(Method::POST, "/v1/tenants/acme/updates/stock", Some(&acme), Some(json!([{"outer_sku_id": sku, "quantity": 77}]))).await;
    assert_eq!((status, report["queued"].as_u64()), (200, Some(1)), "{report}");
    let start = Instant::now();
    while sim.sku_stock(num_iid, sku_id) != Some(77) {
        assert!(start.elapsed() < Duration::from_secs(20), "stock never reached the shop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, bad) = call(Method::POST, "/v1/tenants/acme/updates/stock", Some(&acme), Some(json!([{"quantity": 1}]))).await;
    assert_eq!(status, 400, "{bad}");
    assert!(bad["message"].as_str().unwrap().contains("outer_sku_id"), "{bad}");
    let (status, letters) = call(Method::GET, "/v1/tenants/acme/dead-letters", Some(&acme), None).await;
    assert_eq!(status, 200);
    assert!(letters["pushes"].is_array() && letters["deliveries"].is_array());

    // Another tenant's token sees none of it: every route answers 404, as for no tenant.
    for (method, path, body) in [
        (Method::GET, "/v1/tenants/acme/orders", None),
        (Method::POST, "/v1/tenants/acme/orders/ack", Some(json!([]))),
        (Method::POST, "/v1/tenants/acme/updates/stock", Some(json!([{"outer_sku_id": sku, "quantity": 1}]))),
        (Method::GET, "/v1/tenants/acme/dead-letters", None),
        (Method::POST, "/v1/tenants/acme/dead-letters/pushes/1/replay", None),
    ] {
        let (status, body) = call(method, path, Some(&beta), body).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, _) = call(Method::GET, "/v1/tenants/beta/orders", Some(&beta), None).await;
    assert_eq!(status, 200, "its own tenant");
    assert_eq!(sim.sku_stock(num_iid, sku_id), Some(77), "beta's refused push changed nothing");

    // The API describes itself; the operator (only) reads the figures.
    let (status, doc) = call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(doc["paths"]["/v1/tenants/{tenant}/orders"]["get"].is_object(), "{doc}");
    let metrics = http.get(format!("{base}/metrics")).bearer_auth(OPERATOR).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("wharf_orders_pulled_total{tenant=\"acme\",shop=\"tb\"}"), "{metrics}");
    assert!(metrics.contains("# TYPE wharf_queue_depth gauge"), "{metrics}");
    assert!(metrics.contains("wharf_plugin_call_seconds_bucket{tenant=\"acme\",plugin=\"taobao\",version=\"0.1.0\",operation=\"pull-orders\",le=\"+Inf\"}"), "{metrics}");
    assert_eq!(call(Method::GET, "/metrics", Some(&acme), None).await.0, 403);

    stop.send(()).unwrap();
    engine.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_order_leaves_the_tenant_answering() {
    use wharf_runtime::model::{Order, Timestamp};
    // A shop whose plugin answers an order updated in year 10000 on every round.
    let toml = "[[tenants.acme.shops]]\nid = \"s1\"\nplatform = \"hostile\"\nplugin = \"hostile\"\nconfig = { mode = \"poison-instant\" }\n\
                [tenants.acme.pull]\n[tenants.acme.schedule]\norders = \"1s\"\n";
    let config = Config::from_toml_str(toml, &std::env::temp_dir(), &["hostile"], &|_: &str| None).unwrap_or_else(|e| panic!("{e}"));
    let plugin = Sandbox::new(Limits::default(), Some(cache_dir())).unwrap().load_file(&plugin_path("hostile")).await.unwrap();
    let plugins = [("hostile".to_owned(), plugin.clone())].into_iter().collect();
    let store = Store::temporary().unwrap();
    // What an older host let in: one good order and one it cannot read back.
    let order = |id: &str, updated_at: i64| -> Order {
        serde_json::from_value(json!({
            "platform": "hostile", "shop_id": "s1", "order_id": id, "status": "paid", "platform_status": "PAID",
            "refund_status": "none", "created_at": "2026-11-11T00:00:00Z", "updated_at": Timestamp(updated_at).to_string(),
            "currency": "CNY", "goods_total": 100, "shipping_fee": 0, "discount_total": 0, "paid_total": 100, "lines": []
        }))
        .unwrap()
    };
    let mut year_10000 = order("bad", 0);
    year_10000.updated_at = Timestamp(253_402_300_800_000);
    store.orders().upsert("acme", &order("good", 1_794_355_200_000), Timestamp::now()).unwrap();
    store.orders().upsert("acme", &year_10000, Timestamp::now()).unwrap();

    let options = Options { tick: Duration::from_millis(50), progress_every: None, ..Options::default() };
    let scheduler = Scheduler::new(&config, &plugins, store.clone(), options).await.unwrap();
    let api = Api::new(scheduler.control(), Some(OPERATOR));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api.router()).await.unwrap() });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = tokio::spawn(scheduler.run(async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let get = |path: String| {
        let request = http.get(format!("{base}{path}")).bearer_auth(OPERATOR);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, serde_json::from_slice::<Value>(&response.bytes().await.unwrap()).unwrap_or(Value::Null))
        }
    };

    // The shop's rounds fail on the poisoned page (typed, naming the field); the listing answers.
    let start = Instant::now();
    while plugin.sandbox().metrics().calls_of("acme") == 0 && scheduler_calls(&base, &http).await == 0 {
        assert!(start.elapsed() < Duration::from_secs(20), "the shop never pulled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (status, page) = get("/v1/tenants/acme/orders?any_sync=true".into()).await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["orders"].as_array().unwrap().iter().map(|o| o["order"]["order_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["good"], "{page}");
    assert_eq!(page["unreadable"], 1, "{page}");

    // The unreadable record is listed, and removed by the operator.
    let (status, listed) = get("/v1/tenants/acme/orders/unreadable".into()).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["records"][0]["order_id"], "bad", "{listed}");
    let discard = |reason: &str| {
        http.post(format!("{base}/v1/tenants/acme/orders/unreadable/hostile/s1/bad/discard"))
            .bearer_auth(OPERATOR)
            .header("content-type", "application/json")
            .body(json!({"reason": reason}).to_string())
            .send()
    };
    assert_eq!(discard("").await.unwrap().status(), 400, "a reason is required");
    assert_eq!(discard("written by an older host in year 10000").await.unwrap().status(), 200);
    assert_eq!(discard("again").await.unwrap().status(), 404);
    let (status, page) = get("/v1/tenants/acme/orders?any_sync=true".into()).await;
    assert_eq!((status, page.get("unreadable")), (200, None), "{page}");
    let metrics = http.get(format!("{base}/metrics")).bearer_auth(OPERATOR).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("kind=\"invalid_record\""), "the poisoned pulls failed as invalid records: {metrics}");

    stop.send(()).unwrap();
    engine.await.unwrap().unwrap();
}

/// Plugin calls the host has recorded, from `/metrics`.
async fn scheduler_calls(base: &str, http: &reqwest::Client) -> u64 {
    let text = http.get(format!("{base}/metrics")).bearer_auth(OPERATOR).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("wharf_plugin_calls_total{tenant=\"acme\"") && l.contains("pull-orders"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}
