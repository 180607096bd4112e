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
    let tenant = |id: &str| {
        format!(
            "[[tenants.{id}.shops]]\nid = \"tb\"\nplatform = \"taobao\"\nplugin = \"taobao\"\nconfig = {{ {table} }}\n\
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
        assert!(start.elapsed() < Duration::from_secs(30), "orders did not arrive: {} of {}", orders.len(), sim.trades().len());
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
