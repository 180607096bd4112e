//! The HTTP API over real HTTP: tokens and tenant isolation, the ERP pulling and
//! acknowledging orders, and pushing stock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wharf_runtime::Sandbox;
use wharf_runtime::api::Api;
use wharf_runtime::config::Config;
use wharf_runtime::limits::Limits;
use wharf_runtime::store::Store;
use wharf_runtime::sync::scheduler::{Options, Scheduler};
use wharf_sim::Marketplace;
use wharf_sim::taobao::{SimConfig, TaobaoSim};
use wharf_tests::plugins::{cache_dir, plugin_path};

const OPERATOR: &str = "wharf_operator_test_token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_erp_pulls_acks_and_pushes_and_tenants_are_isolated() {
    let sim = TaobaoSim::spawn_from_async(SimConfig {
        orders: 30,
        seed: 3,
        modified_span_ms: 3_600_000,
        ..SimConfig::default()
    })
    .await
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
    let config =
        Config::from_toml_str(&toml, &std::env::temp_dir(), &["taobao"], &env).unwrap_or_else(|e| panic!("{e}"));
    let plugin =
        Sandbox::new(Limits::default(), Some(cache_dir())).unwrap().load_file(&plugin_path("taobao")).await.unwrap();
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
            let (status, body) = call(
                Method::POST,
                &format!("/v1/tenants/{t}/tokens"),
                Some(OPERATOR),
                Some(json!({"name": format!("{t}-erp")})),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            body["token"].as_str().unwrap().to_owned()
        }
    };
    let (acme, beta) = (token("acme").await, token("beta").await);
    let (status, _) = call(Method::POST, "/v1/tenants/acme/tokens", Some(&acme), Some(json!({"name": "x"}))).await;
    assert_eq!(status, 403);
    // Tokens are listed by id and name (never the token); a revoked one stops working at once,
    // and a tenant token can neither list nor revoke.
    let (_, made) = call(Method::POST, "/v1/tenants/acme/tokens", Some(OPERATOR), Some(json!({"name": "spare"}))).await;
    let (spare, spare_id) = (made["token"].as_str().unwrap().to_owned(), made["id"].as_str().unwrap().to_owned());
    let (status, listed) = call(Method::GET, "/v1/tenants/acme/tokens", Some(OPERATOR), None).await;
    assert_eq!(status, 200, "{listed}");
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["acme-erp", "spare"], "{listed}");
    assert!(!listed.to_string().contains(&spare[6..]), "never the token itself: {listed}");
    let (status, _) = call(Method::GET, "/v1/tenants/acme/tokens", Some(&acme), None).await;
    assert_eq!(status, 403);
    let (status, _) = call(Method::GET, "/v1/tenants/acme/usage", Some(&spare), None).await;
    assert_eq!(status, 200, "the spare works");
    let path = format!("/v1/tenants/acme/tokens/{spare_id}");
    let (status, _) = call(Method::DELETE, &path, Some(OPERATOR), None).await;
    assert_eq!(status, 204);
    let (status, _) = call(Method::GET, "/v1/tenants/acme/usage", Some(&spare), None).await;
    assert_eq!(status, 401, "a revoked token stops working at once");
    let (status, _) = call(Method::GET, "/v1/tenants/acme/usage", Some(&acme), None).await;
    assert_eq!(status, 200, "the other token still works");

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
    let (status, outcome) =
        call(Method::POST, "/v1/tenants/acme/orders/ack", Some(&acme), Some(Value::Array(acks))).await;
    assert_eq!(status, 200, "{outcome}");
    assert!(outcome.as_array().unwrap().iter().all(|o| o["outcome"] == "synced"), "{outcome}");
    let (_, left) = call(Method::GET, "/v1/tenants/acme/orders", Some(&acme), None).await;
    assert_eq!(left["orders"].as_array().unwrap().len(), 0, "all synced");

    // Stock pushed by the ERP over HTTP reaches the shop.
    let line = all
        .iter()
        .flat_map(|o| o["order"]["lines"].as_array().unwrap().clone())
        .find(|l| l["sku_id"].is_string())
        .unwrap();
    let (num_iid, sku_id): (u64, u64) =
        (line["product_id"].as_str().unwrap().parse().unwrap(), line["sku_id"].as_str().unwrap().parse().unwrap());
    let sku = line["outer_sku_id"].as_str().unwrap();
    let (status, report) = call(
        Method::POST,
        "/v1/tenants/acme/updates/stock",
        Some(&acme),
        Some(json!([{"outer_sku_id": sku, "quantity": 77}])),
    )
    .await;
    assert_eq!((status, report["queued"].as_u64()), (200, Some(1)), "{report}");
    let start = Instant::now();
    while sim.sku_stock(num_iid, sku_id) != Some(77) {
        assert!(start.elapsed() < Duration::from_secs(20), "stock never reached the shop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, bad) =
        call(Method::POST, "/v1/tenants/acme/updates/stock", Some(&acme), Some(json!([{"quantity": 1}]))).await;
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
    let response = http.get(format!("{base}/metrics")).bearer_auth(OPERATOR).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let metrics = response.text().await.unwrap();
    assert_strict_exposition(&metrics);
    assert!(metrics.contains("wharf_orders_pulled_total{tenant=\"acme\",shop=\"tb\"}"), "{metrics}");
    assert!(metrics.contains("# TYPE wharf_queue_depth gauge"), "{metrics}");
    assert!(metrics.contains("wharf_plugin_call_seconds_bucket{tenant=\"acme\",plugin=\"taobao\",version=\"0.1.0\",operation=\"pull-orders\",le=\"+Inf\"}"), "{metrics}");
    assert_eq!(call(Method::GET, "/metrics", Some(&acme), None).await.0, 403);

    stop.send(()).unwrap();
    engine.await.unwrap().unwrap();
}

/// During an ERP outage `/metrics` is not silent: every failed delivery is counted per tenant,
/// route and kind, the retries too, and the route keeps the ERP's last error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erp_outage_is_counted_per_route_in_metrics() {
    let sim = TaobaoSim::spawn_from_async(SimConfig { orders: 3, seed: 7, ..SimConfig::default() }).await.unwrap();
    // The ERP is down: every delivery is answered 503.
    let erp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let erp_url = format!("http://{}/orders", erp.local_addr().unwrap());
    let down = axum::Router::new()
        .fallback(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down for maintenance") });
    tokio::spawn(async move { axum::serve(erp, down).await.unwrap() });
    let config: BTreeMap<String, String> = Marketplace::config(&sim);
    let table = config.iter().map(|(k, v)| format!("{k} = {v:?}")).collect::<Vec<_>>().join(", ");
    let grant = Marketplace::grant(&sim);
    let toml = format!(
        "[[tenants.acme.shops]]\nid = \"tb\"\nplatform = \"taobao\"\nplugin = \"taobao\"\nconfig = {{ {table} }}\n\
         grants = [{grant:?}]\ncredentials = {{ app_secret = \"env:S\", session = \"env:T\" }}\n\
         [tenants.acme.webhook]\nurl = \"{erp_url}\"\nsecret = \"env:HOOK\"\n[tenants.acme.schedule]\norders = \"1s\"\n"
    );
    let secrets: BTreeMap<String, String> = Marketplace::secrets(&sim);
    let env = |k: &str| match k {
        "S" => Some(secrets["app_secret"].clone()),
        "T" => Some(secrets["session"].clone()),
        "HOOK" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()),
        _ => None,
    };
    let (base, stop, engine) = serve_config(&toml, &env).await;
    let http = reqwest::Client::new();
    let failed = "wharf_deliveries_failed_total{tenant=\"acme\",route=\"webhook\",kind=\"transient\"} ";
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        let text =
            http.get(format!("{base}/metrics")).bearer_auth(OPERATOR).send().await.unwrap().text().await.unwrap();
        if text.lines().any(|l| l.starts_with(failed)) {
            break text;
        }
        assert!(Instant::now() < deadline, "no failed delivery counted in\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_strict_exposition(&metrics);
    let retried = "wharf_deliveries_retried_total{tenant=\"acme\",route=\"webhook\"} ";
    assert!(metrics.lines().any(|l| l.starts_with(retried) && !l.ends_with(" 0")), "{metrics}");
    assert!(
        metrics.lines().any(|l| l
            .starts_with("wharf_erp_last_error_info{tenant=\"acme\",route=\"webhook\",kind=\"transient\",reason=\"")
            && l.contains("503")),
        "{metrics}"
    );
    assert!(
        metrics.contains("wharf_erp_last_error_timestamp_seconds{tenant=\"acme\",route=\"webhook\"} "),
        "{metrics}"
    );
    stop.send(()).unwrap();
    engine.await.unwrap();
}

/// `/metrics` read strictly, as a scraper would: every sample belongs to a family declared
/// once, with HELP and TYPE, before it, and a family's samples come together. The same check
/// refuses what the hand-written text once sent (two families declared back to back, then
/// interleaved).
fn assert_strict_exposition(text: &str) {
    strict_exposition(text).unwrap_or_else(|e| panic!("{e} in\n{text}"));
    let declared = |name: &str| text.lines().filter(|l| l.starts_with(&format!("# TYPE {name} "))).count();
    for name in [
        "wharf_orders_pulled_total",
        "wharf_queue_depth",
        "wharf_quarantined_by_field",
        "wharf_tenant_calls_in_flight",
        "wharf_tenant_quota_concurrent_calls",
        "wharf_tenant_quota_cpu_millis_per_second",
        "wharf_plugin_calls_total",
        "wharf_plugin_call_errors_total",
        "wharf_shop_call_errors_total",
        "wharf_plugin_call_seconds",
        "wharf_tenant_cpu_seconds_total",
        "wharf_deliveries_failed_total",
        "wharf_deliveries_retried_total",
        "wharf_deliveries_dead_lettered_total",
        "wharf_erp_last_error_info",
        "wharf_erp_last_error_timestamp_seconds",
    ] {
        assert_eq!(declared(name), 1, "{name} declared once in\n{text}");
    }
    let interleaved = "# HELP a_in_flight A.\n# TYPE a_in_flight gauge\n# HELP a_quota B.\n# TYPE a_quota gauge\n\
                       a_in_flight{tenant=\"x\"} 1\na_quota{tenant=\"x\"} 2\na_in_flight{tenant=\"y\"} 1\n";
    assert!(strict_exposition(interleaved).is_err(), "the check is strict about families");
}

/// The Prometheus text format's rules on families (exposition_formats.md, "Grouping and
/// sorting"): `Err` names the first line that breaks one.
fn strict_exposition(text: &str) -> Result<(), String> {
    const TYPES: [&str; 5] = ["counter", "gauge", "histogram", "summary", "untyped"];
    const SUFFIXES: [&str; 6] = ["", "_total", "_bucket", "_sum", "_count", "_created"];
    let mut help = std::collections::BTreeSet::new();
    let mut typed = std::collections::BTreeSet::new();
    let mut finished = std::collections::BTreeSet::new();
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l)) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("#"), Some("HELP"), Some(name)) => {
                if !help.insert(name.to_owned()) {
                    return Err(format!("line {n}: a second HELP for {name}"));
                }
            }
            (Some("#"), Some("TYPE"), Some(name)) => {
                let kind = words.next().unwrap_or_default();
                if !TYPES.contains(&kind) {
                    return Err(format!("line {n}: {name} has TYPE {kind:?}"));
                }
                if !typed.insert(name.to_owned()) {
                    return Err(format!("line {n}: a second TYPE for {name}"));
                }
            }
            (Some("#"), ..) | (None, ..) => {}
            (Some(sample), ..) => {
                let name = sample.split('{').next().unwrap_or(sample);
                let family = SUFFIXES
                    .iter()
                    .filter_map(|s| name.strip_suffix(s))
                    .find(|f| typed.contains(*f))
                    .ok_or_else(|| format!("line {n}: {name} has no TYPE before it"))?
                    .to_owned();
                if !help.contains(&family) {
                    return Err(format!("line {n}: {family} has no HELP before it"));
                }
                if current.as_deref() != Some(family.as_str()) {
                    if finished.contains(&family) {
                        return Err(format!("line {n}: {family}'s samples are not together"));
                    }
                    finished.extend(current.replace(family));
                }
                let value = line.rsplit(' ').next().unwrap_or_default();
                if value.parse::<f64>().is_err() && !["+Inf", "-Inf", "NaN"].contains(&value) {
                    return Err(format!("line {n}: {value:?} is not a sample value"));
                }
            }
        }
    }
    Ok(())
}

/// An API server over a scheduler for `toml`'s tenants (their tenants as config tenants), with
/// the Taobao plugin; answers `(base URL, stop sender, engine)`.
async fn serve_config(
    toml: &str,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let config = Config::from_toml_str(toml, &std::env::temp_dir(), &["taobao"], env).unwrap_or_else(|e| panic!("{e}"));
    let plugin =
        Sandbox::new(Limits::default(), Some(cache_dir())).unwrap().load_file(&plugin_path("taobao")).await.unwrap();
    let plugins = [("taobao".to_owned(), plugin)].into_iter().collect();
    let options = Options { tick: Duration::from_millis(50), progress_every: None, ..Options::default() };
    let scheduler = Scheduler::new(&config, &plugins, Store::temporary().unwrap(), options).await.unwrap();
    let api = Api::new(scheduler.control(), Some(OPERATOR)).with_config_tenants(config.tenants.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api.router()).await.unwrap() });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = tokio::spawn(async move {
        scheduler
            .run(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    (base, stop, engine)
}

async fn call(base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}")).bearer_auth(OPERATOR);
    if let Some(b) = body {
        request = request.header("content-type", "application/json").body(serde_json::to_vec(&b).unwrap());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null))
}

/// `tenant show` of a tenant declared in the configuration file is the whole tenant (route,
/// schedule, carriers, ERP-status table, quota), in the shape `POST /v1/tenants` takes: posted
/// back under another id with its credentials, it makes the same tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_tenant_is_shown_whole_and_can_be_posted_back() {
    use reqwest::Method;
    let sim = TaobaoSim::spawn_from_async(SimConfig { orders: 5, seed: 5, ..SimConfig::default() }).await.unwrap();
    let config: BTreeMap<String, String> = Marketplace::config(&sim);
    let table = config.iter().map(|(k, v)| format!("{k} = {v:?}")).collect::<Vec<_>>().join(", ");
    let toml = format!(
        "[[tenants.acme.shops]]\nid = \"tb\"\nplatform = \"taobao\"\nplugin = \"taobao\"\nconfig = {{ {table} }}\n\
         credentials = {{ app_secret = \"env:S\", session = \"env:T\" }}\n[tenants.acme.pull]\n\
         [tenants.acme.schedule]\norders = \"1s\"\nstock = \"2m\"\n\
         [tenants.acme.carriers.SF]\ntaobao = \"SF\"\n[tenants.acme.erp_status]\npicking = \"note\"\nshipped = \"move:shipped\"\n\
         [tenants.acme.quota]\ncalls_per_second = 40\n"
    );
    let secrets: BTreeMap<String, String> = Marketplace::secrets(&sim);
    let env = |k: &str| match k {
        "S" => Some(secrets["app_secret"].clone()),
        "T" => Some(secrets["session"].clone()),
        _ => None,
    };
    let (base, stop, engine) = serve_config(&toml, &env).await;

    let (status, shown) = call(&base, Method::GET, "/v1/tenants/acme", None).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["origin"], "config");
    assert_eq!(shown["pull"], json!({}), "the route: {shown}");
    assert_eq!(
        (shown["schedule"]["orders"].as_str(), shown["schedule"]["stock"].as_str()),
        (Some("1s"), Some("2m")),
        "{shown}"
    );
    assert_eq!(shown["schedule"]["prices"], "5m", "defaults are shown too: {shown}");
    assert_eq!(shown["carriers"], json!({"SF": {"taobao": "SF"}}), "{shown}");
    assert_eq!(shown["erp_status"]["shipped"], "move:shipped", "{shown}");
    assert_eq!(shown["quota"]["calls_per_second"], 40, "{shown}");
    assert_eq!(shown["shops"][0]["credentials"], json!(["app_secret", "session"]), "never a secret: {shown}");
    assert!(!shown.to_string().contains(&secrets["app_secret"]), "{shown}");

    // Posted back under another id, with its credentials, it makes the same tenant.
    let mut doc = shown.clone();
    doc["id"] = json!("acme2");
    doc["shops"][0]["credentials"] = json!(secrets);
    let (status, made) = call(&base, Method::POST, "/v1/tenants", Some(doc)).await;
    assert_eq!(status, 201, "{made}");
    let (_, again) = call(&base, Method::GET, "/v1/tenants/acme2", None).await;
    for key in ["shops", "pull", "schedule", "carriers", "erp_status", "quota"] {
        assert_eq!(again[key], shown[key], "{key}: {again} vs {shown}");
    }
    stop.send(()).unwrap();
    engine.await.unwrap();
}

/// A shop whose credentials the platform refuses is `auth_failed` with the platform's words in
/// the API and in `/metrics`, waits longer and longer instead of retrying every round, and
/// pulls again at once when its credentials are updated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_shop_says_so_and_resumes_at_once_when_its_credentials_are_fixed() {
    use reqwest::Method;
    let sim = TaobaoSim::spawn_from_async(SimConfig {
        orders: 8,
        seed: 8,
        modified_span_ms: 3_600_000,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (base, stop, engine) = serve_config("", &|_: &str| None).await;
    let secrets: BTreeMap<String, String> = Marketplace::secrets(&sim);
    let mut wrong = secrets.clone();
    wrong.insert("session".into(), "a-session-the-platform-never-issued".into());
    // A long schedule: only the credential update can explain a pull within seconds.
    let shop = |credentials: &BTreeMap<String, String>| {
        json!({"id": "tb", "platform": "taobao", "plugin": "taobao", "config": Marketplace::config(&sim), "credentials": credentials,
               "grants": [Marketplace::grant(&sim)]})
    };
    let doc = json!({"id": "acme", "pull": {}, "schedule": {"orders": "1m"}, "shops": [shop(&wrong)]});
    let (status, body) = call(&base, Method::POST, "/v1/tenants", Some(doc)).await;
    assert_eq!(status, 201, "{body}");

    let start = Instant::now();
    let refused = loop {
        let (status, progress) = call(&base, Method::GET, "/v1/tenants/acme/progress", None).await;
        assert_eq!(status, 200, "{progress}");
        let p = progress["shops"].as_array().unwrap().iter().find(|p| p["shop"] == "tb").cloned();
        if let Some(p) = p.filter(|p| p["state"] == "auth_failed") {
            break p;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "never auth_failed: {progress}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(refused["auth_error"].as_str().is_some_and(|m| !m.is_empty()), "the platform's words: {refused}");
    assert!(refused["auth_failed_since"].is_string() && refused["next_try"].is_string(), "{refused}");
    let metrics = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("wharf_shop_auth_failed{tenant=\"acme\",shop=\"tb\"} 1"), "{metrics}");

    // Fixed credentials: the shop pulls at once, not at its next (minute-long, doubling) try.
    let fixed = Instant::now();
    let (status, body) = call(&base, Method::PUT, "/v1/tenants/acme/shops/tb", Some(shop(&secrets))).await;
    assert_eq!(status, 200, "{body}");
    loop {
        let (_, progress) = call(&base, Method::GET, "/v1/tenants/acme/progress", None).await;
        let p = &progress["shops"][0];
        if p["state"] == "ok" && p["pulled"].as_u64().unwrap_or(0) > 0 {
            assert!(p["auth_error"].is_null(), "{p}");
            break;
        }
        assert!(fixed.elapsed() < Duration::from_secs(15), "not resumed at once: {progress}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("wharf_shop_auth_failed{tenant=\"acme\",shop=\"tb\"} 0"), "{metrics}");
    stop.send(()).unwrap();
    engine.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_order_leaves_the_tenant_answering() {
    use wharf_runtime::model::{Order, Timestamp};
    // A shop whose plugin answers an order updated in year 10000 on every round.
    let toml = "[[tenants.acme.shops]]\nid = \"s1\"\nplatform = \"hostile\"\nplugin = \"hostile\"\nconfig = { mode = \"poison-instant\" }\n\
                [tenants.acme.pull]\n[tenants.acme.schedule]\norders = \"1s\"\n";
    let config = Config::from_toml_str(toml, &std::env::temp_dir(), &["hostile"], &|_: &str| None)
        .unwrap_or_else(|e| panic!("{e}"));
    let plugin =
        Sandbox::new(Limits::default(), Some(cache_dir())).unwrap().load_file(&plugin_path("hostile")).await.unwrap();
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
    let ids: Vec<&str> =
        page["orders"].as_array().unwrap().iter().map(|o| o["order"]["order_id"].as_str().unwrap()).collect();
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

/// An update over the record limit is refused whole with 413 in the one JSON error shape, naming
/// the limit, and nothing of it is queued; one at the limit's side is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_over_the_record_limit_is_413_naming_the_limit() {
    use reqwest::Method;
    use wharf_runtime::api::erp::MAX_RECORDS_PER_UPDATE;
    let sim = TaobaoSim::spawn_from_async(SimConfig { orders: 2, ..SimConfig::default() }).await.unwrap();
    let (base, stop, engine) = serve_config("", &|_: &str| None).await;
    let shop = json!({"id": "tb", "platform": "taobao", "plugin": "taobao", "config": Marketplace::config(&sim),
                      "credentials": Marketplace::secrets(&sim), "grants": [Marketplace::grant(&sim)]});
    let (status, body) =
        call(&base, Method::POST, "/v1/tenants", Some(json!({"id": "acme", "pull": {}, "shops": [shop]}))).await;
    assert_eq!(status, 201, "{body}");
    let stock =
        |n: usize| Value::Array((0..n).map(|i| json!({"outer_sku_id": format!("SKU-{i}"), "quantity": 1})).collect());

    let (status, refused) =
        call(&base, Method::POST, "/v1/tenants/acme/updates/stock", Some(stock(MAX_RECORDS_PER_UPDATE + 1))).await;
    assert_eq!(status, 413, "{refused}");
    assert_eq!(refused["error"], "too_large", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains(&MAX_RECORDS_PER_UPDATE.to_string()), "{refused}");

    let (status, report) = call(&base, Method::POST, "/v1/tenants/acme/updates/stock", Some(stock(3))).await;
    assert_eq!(status, 200, "{report}");
    stop.send(()).unwrap();
    engine.await.unwrap();
}

/// A tenant whose plugin burns CPU to its deadline and returns oversized replies on six shops
/// waits on its own CPU budget (`cpu_millis_per_second`): the other tenant's calls keep
/// completing without waiting, and the API of the same process keeps answering throughout. The
/// test's runtime has one thread, which serves the API: no plugin runs on it.
#[tokio::test(flavor = "current_thread")]
async fn a_tenant_over_its_cpu_budget_waits_alone_and_the_api_keeps_answering() {
    use reqwest::Method;
    let shop = |tenant: &str, i: usize, mode: &str| {
        format!(
            "[[tenants.{tenant}.shops]]\nid = \"s{i}\"\nplatform = \"hostile\"\nplugin = \"hostile\"\n\
             config = {{ mode = \"{mode}\" }}\n"
        )
    };
    let mut toml = String::new();
    for i in 0..6 {
        toml += &shop("attacker", i, if i % 2 == 0 { "loop" } else { "big-output" });
    }
    toml += "[tenants.attacker.pull]\n[tenants.attacker.schedule]\norders = \"1s\"\n\
             [tenants.attacker.quota]\ncpu_millis_per_second = 200\n";
    for i in 0..2 {
        toml += &shop("victim", i, "ok");
    }
    toml += "[tenants.victim.pull]\n[tenants.victim.schedule]\norders = \"1s\"\n";
    let config = Config::from_toml_str(&toml, &std::env::temp_dir(), &["hostile"], &|_: &str| None)
        .unwrap_or_else(|e| panic!("{e}"));
    // A one-second deadline: each `loop` call burns a second of CPU, unless it is paused.
    let limits = Limits { deadline: Duration::from_secs(1), ..Limits::default() };
    let plugin = Sandbox::new(limits, Some(cache_dir())).unwrap().load_file(&plugin_path("hostile")).await.unwrap();
    let plugins = [("hostile".to_owned(), plugin.clone())].into_iter().collect();
    let options = Options { tick: Duration::from_millis(50), progress_every: None, ..Options::default() };
    let scheduler = Scheduler::new(&config, &plugins, Store::temporary().unwrap(), options).await.unwrap();
    let api = Api::new(scheduler.control(), Some(OPERATOR)).with_config_tenants(config.tenants.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api.router()).await.unwrap() });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = tokio::spawn(scheduler.run(async move {
        let _ = stopped.await;
    }));
    let usage = async |tenant: &str| call(&base, Method::GET, &format!("/v1/tenants/{tenant}/usage"), None).await.1;
    let (_, shown) = call(&base, Method::GET, "/v1/tenants/attacker", None).await;
    assert_eq!(shown["quota"]["cpu_millis_per_second"], 200, "{shown}");

    // Until the attacker has waited on its CPU budget and made a dozen calls, `/healthz`
    // answers every time it is asked (a liveness bound, not a timing), and the victim's calls
    // keep landing.
    let http = reqwest::Client::new();
    let victim_before = usage("victim").await["calls_total"].as_u64().unwrap();
    let started = Instant::now();
    let (mut checks, mut slowest) = (0, Duration::ZERO);
    loop {
        let asked = Instant::now();
        let health = tokio::time::timeout(Duration::from_secs(10), http.get(format!("{base}/healthz")).send()).await;
        let answered = health.expect("/healthz answers within 10 s while the attacker runs").unwrap();
        assert_eq!(answered.status(), 200);
        (checks, slowest) = (checks + 1, slowest.max(asked.elapsed()));
        let attacker = usage("attacker").await;
        if attacker["cpu_wait_seconds_total"].as_f64().unwrap() > 0.0 && attacker["calls_total"].as_u64().unwrap() >= 12
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the attacker never waited on its budget: {attacker}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eventually_victim_calls(&base, victim_before + 2).await;

    let (attacker, victim) = (usage("attacker").await, usage("victim").await);
    assert!(attacker["cpu_seconds_total"].as_f64().unwrap() > 0.0, "{attacker}");
    assert!(victim["cpu_seconds_total"].as_f64().unwrap() > 0.0, "{victim}");
    assert_eq!(victim["cpu_wait_seconds_total"], 0.0, "the victim never waited on its CPU budget: {victim}");
    let metrics = http.get(format!("{base}/metrics")).bearer_auth(OPERATOR).send().await.unwrap().text().await.unwrap();
    assert!(
        !metrics.lines().any(|l| l.starts_with("wharf_plugin_call_errors_total{tenant=\"victim\"")),
        "no victim call failed:\n{metrics}"
    );
    let waited = metrics
        .lines()
        .find_map(|l| l.strip_prefix("wharf_tenant_cpu_wait_seconds_total{tenant=\"attacker\"} "))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(waited.is_some_and(|w| w > 0.0), "the attacker's wait is a metric:\n{metrics}");
    assert!(metrics.contains("wharf_tenant_cpu_seconds_total{tenant=\"victim\"}"), "{metrics}");
    assert!(metrics.contains("wharf_tenant_quota_cpu_millis_per_second{tenant=\"attacker\"} 200"), "{metrics}");
    eprintln!("/healthz answered {checks} times, slowest in {slowest:?}; attacker {attacker}, victim {victim}");

    stop.send(()).unwrap();
    engine.await.unwrap().unwrap();
}

/// Waits (up to a generous minute) until the victim tenant has made `calls` plugin calls.
async fn eventually_victim_calls(base: &str, calls: u64) {
    let started = Instant::now();
    loop {
        let (_, usage) = call(base, reqwest::Method::GET, "/v1/tenants/victim/usage", None).await;
        if usage["calls_total"].as_u64().unwrap() >= calls {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the victim's calls stopped: {usage}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A tenant `id` with one Taobao shop on `sim`, made over the API with `quota`.
async fn make_tenant(base: &str, sim: &TaobaoSim, id: &str, quota: Value) {
    let shop = json!({"id": "tb", "platform": "taobao", "plugin": "taobao", "config": Marketplace::config(sim),
                      "credentials": Marketplace::secrets(sim), "grants": [Marketplace::grant(sim)]});
    let doc = json!({"id": id, "pull": {}, "shops": [shop], "quota": quota});
    let (status, body) = call(base, reqwest::Method::POST, "/v1/tenants", Some(doc)).await;
    assert_eq!(status, 201, "{body}");
}

/// `body` posted as a workbook to `path`: (status, JSON answer).
async fn post_xlsx(base: &str, path: &str, body: Vec<u8>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(OPERATOR)
        .header("content-type", wharf_runtime::api::erp::XLSX)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null))
}

/// A stock workbook with `rows` data rows (`SKU-i`, 1), as a spreadsheet program writes it.
fn stock_workbook(rows: u32) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "outer_sku_id").unwrap();
    sheet.write_string(0, 1, "quantity").unwrap();
    for row in 1..=rows {
        sheet.write_string(row, 0, format!("SKU-{row}")).unwrap();
        sheet.write_number(row, 1, 1.0).unwrap();
    }
    book.save_to_buffer().unwrap()
}

/// `xlsx` with its shared strings part rewritten: the same strings, then `extra` more of
/// `<si><t>x</t></si>`. Deflated, a few hundred kilobytes hold millions: a zip bomb.
fn with_extra_shared_strings(xlsx: &[u8], extra: usize) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut shared = String::new();
    for i in 0..archive.len() {
        let mut part = archive.by_index(i).unwrap();
        if part.name_raw() == b"xl/sharedStrings.xml" {
            part.read_to_string(&mut shared).unwrap();
            continue;
        }
        out.raw_copy_file(part).unwrap();
    }
    let end = shared.rfind("</sst>").expect("a shared strings part");
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    out.start_file("xl/sharedStrings.xml", options).unwrap();
    out.write_all(&shared.as_bytes()[..end]).unwrap();
    let chunk = "<si><t>x</t></si>".repeat(10_000);
    for _ in 0..extra / 10_000 {
        out.write_all(chunk.as_bytes()).unwrap();
    }
    out.write_all(b"</sst>").unwrap();
    out.finish().unwrap().into_inner()
}

/// Imports are bounded: a small zip bomb of shared strings is refused with 413 naming the
/// bound before anything unpacks it whole, and so is a sheet over the row limit; `/healthz`
/// answers while the host reads them; a normal workbook (the same file without the bomb) is
/// applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_past_a_bound_are_413_naming_it_and_a_normal_one_is_applied() {
    use wharf_runtime::sheet::{MAX_ROWS, MAX_SHARED_STRINGS};
    let sim = TaobaoSim::spawn_from_async(SimConfig { orders: 2, ..SimConfig::default() }).await.unwrap();
    let (base, stop, engine) = serve_config("", &|_: &str| None).await;
    make_tenant(&base, &sim, "acme", json!({})).await;
    let path = "/v1/tenants/acme/imports/stock";

    let bomb = with_extra_shared_strings(&stock_workbook(2), MAX_SHARED_STRINGS as usize + 10_000);
    assert!(bomb.len() < 1 << 20, "a small file: {} bytes", bomb.len());
    let health = async {
        let (status, _) = call(&base, reqwest::Method::GET, "/healthz", None).await;
        status
    };
    let ((status, refused), health) = tokio::join!(post_xlsx(&base, path, bomb), health);
    assert_eq!(health, 200);
    assert_eq!(status, 413, "{refused}");
    assert_eq!(refused["error"], "too_large", "{refused}");
    assert_eq!(refused["limit"], "shared_strings", "{refused}");
    assert_eq!(refused["max"], json!(MAX_SHARED_STRINGS), "{refused}");
    assert!(refused["message"].as_str().unwrap().contains(&MAX_SHARED_STRINGS.to_string()), "{refused}");

    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "outer_sku_id").unwrap();
    sheet.write_string(0, 1, "quantity").unwrap();
    sheet.write_string(MAX_ROWS as u32 + 1, 0, "one too many").unwrap();
    let (status, refused) = post_xlsx(&base, path, book.save_to_buffer().unwrap()).await;
    assert_eq!(status, 413, "{refused}");
    assert_eq!(
        (&refused["error"], &refused["limit"], &refused["max"]),
        (&json!("too_large"), &json!("rows"), &json!(MAX_ROWS))
    );

    let (status, applied) = post_xlsx(&base, path, with_extra_shared_strings(&stock_workbook(2), 0)).await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["applied"], json!(true), "{applied}");
    assert_eq!(applied["rows"].as_array().map(Vec::len), Some(2), "{applied}");
    stop.send(()).unwrap();
    engine.await.unwrap();
}

/// A body over the API's limit is answered 413 in the JSON error shape naming the limit, and
/// the client hears it: announced with Content-Length (refused before any handler runs) or sent
/// chunked (refused at the first byte over), the rest is read and thrown away before the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_a_413_the_client_hears() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wharf_runtime::api::MAX_BODY_BYTES;
    let sim = TaobaoSim::spawn_from_async(SimConfig { orders: 2, ..SimConfig::default() }).await.unwrap();
    let (base, stop, engine) = serve_config("", &|_: &str| None).await;
    make_tenant(&base, &sim, "acme", json!({})).await;
    let named = |body: &Value| {
        assert_eq!(body["error"], "too_large", "{body}");
        assert_eq!(body["limit"], "body_bytes", "{body}");
        assert_eq!(body["max"], json!(MAX_BODY_BYTES), "{body}");
        assert!(body["message"].as_str().unwrap().contains(&(MAX_BODY_BYTES >> 20).to_string()), "{body}");
    };

    // With Content-Length, as reqwest sends a body it holds: it writes it all, then reads.
    let (status, refused) = post_xlsx(&base, "/v1/tenants/acme/imports/stock", vec![b'x'; MAX_BODY_BYTES + 1]).await;
    assert_eq!(status, 413, "{refused}");
    named(&refused);
    // A JSON route too.
    let huge = vec![b' '; MAX_BODY_BYTES + 1];
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/tenants/acme/updates/stock"))
        .bearer_auth(OPERATOR)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    named(&serde_json::from_slice(&response.bytes().await.unwrap()).unwrap());

    // Chunked, without a length: written whole in 1 MiB chunks, then the answer read.
    let addr = base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/tenants/acme/imports/stock HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {OPERATOR}\r\n\
         Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let chunks = MAX_BODY_BYTES / chunk.len() + 2;
    let mut wrote = 0;
    for _ in 0..chunks {
        tcp.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.unwrap();
        tcp.write_all(&chunk).await.unwrap();
        tcp.write_all(b"\r\n").await.unwrap();
        wrote += chunk.len();
    }
    tcp.write_all(b"0\r\n\r\n").await.unwrap();
    assert!(wrote > MAX_BODY_BYTES);
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.to_ascii_lowercase().contains("connection: close"), "{head}");
    named(&serde_json::from_str(body).unwrap());

    // The host goes on answering.
    let (status, _) = call(&base, reqwest::Method::GET, "/v1/tenants/acme", None).await;
    assert_eq!(status, 200);
    stop.send(()).unwrap();
    engine.await.unwrap();
}

/// A tenant at its stored quota has new updates refused with 507 naming the quota, its shops'
/// progress says `over_quota`, `/metrics` shows its stored bytes, and another tenant is not
/// touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_stored_quota_is_refused_intake_and_others_are_not() {
    use reqwest::Method;
    let sim = TaobaoSim::spawn_from_async(SimConfig { orders: 2, ..SimConfig::default() }).await.unwrap();
    let (base, stop, engine) = serve_config("", &|_: &str| None).await;
    make_tenant(&base, &sim, "acme", json!({"stored_mib": 1})).await;
    make_tenant(&base, &sim, "beta", json!({})).await;
    let stock = |n: usize, tag: &str| {
        Value::Array((0..n).map(|i| json!({"outer_sku_id": format!("{tag}-SKU-{i:05}"), "quantity": 1})).collect())
    };

    // Taken whole while under the quota (10,000 queued updates are well over a MiB)…
    let (status, report) =
        call(&base, Method::POST, "/v1/tenants/acme/updates/stock", Some(stock(10_000, "big"))).await;
    assert_eq!(status, 200, "{report}");
    let (_, usage) = call(&base, Method::GET, "/v1/tenants/acme/usage", None).await;
    let stored = usage["stored_bytes"].as_u64().unwrap();
    assert!(stored > 1 << 20, "{usage}");
    assert_eq!(usage["quota"]["stored_mib"], json!(1), "{usage}");

    // …then refused, even one record, naming the quota.
    let (status, refused) = call(&base, Method::POST, "/v1/tenants/acme/updates/stock", Some(stock(1, "more"))).await;
    assert_eq!(status, 507, "{refused}");
    assert_eq!(refused["error"], "over_quota", "{refused}");
    assert_eq!((&refused["limit"], &refused["max"]), (&json!("stored_mib"), &json!(1)), "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("quota.stored_mib"), "{refused}");
    let (status, refused) =
        post_xlsx(&base, "/v1/tenants/acme/imports/stock", with_extra_shared_strings(&stock_workbook(1), 0)).await;
    assert_eq!((status, &refused["error"]), (507, &json!("over_quota")), "{refused}");

    let (_, progress) = call(&base, Method::GET, "/v1/tenants/acme/progress", None).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut progress = progress;
    while progress["shops"].as_array().is_none_or(Vec::is_empty) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        progress = call(&base, Method::GET, "/v1/tenants/acme/progress", None).await.1;
    }
    assert_eq!(progress["shops"][0]["state"], "over_quota", "{progress}");

    let response = reqwest::Client::new().get(format!("{base}/metrics")).bearer_auth(OPERATOR).send().await.unwrap();
    let metrics = response.text().await.unwrap();
    let figure = |tenant: &str| -> u64 {
        let prefix = format!("wharf_tenant_stored_bytes{{tenant=\"{tenant}\"}} ");
        let line = metrics.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{metrics}"));
        line[prefix.len()..].parse().unwrap()
    };
    assert!(figure("acme") > 1 << 20, "{metrics}");
    assert!(metrics.contains("wharf_tenant_quota_stored_bytes{tenant=\"acme\"} 1048576"), "{metrics}");

    // The other tenant is not touched.
    let (status, report) = call(&base, Method::POST, "/v1/tenants/beta/updates/stock", Some(stock(10, "beta"))).await;
    assert_eq!(status, 200, "{report}");
    let (_, usage) = call(&base, Method::GET, "/v1/tenants/beta/usage", None).await;
    assert!(usage["stored_bytes"].as_u64().unwrap() < stored, "{usage}");
    stop.send(()).unwrap();
    engine.await.unwrap();
}

/// `method path` with `body` sent as `content_type` (none when `None`): (status, the answer's
/// `Content-Type`, `Allow`, the answer as JSON or `Null`).
async fn raw(
    base: &str,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, String, String, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}")).bearer_auth(OPERATOR);
    if let Some(t) = content_type {
        request = request.header("content-type", t);
    }
    if !body.is_empty() {
        request = request.body(body.to_vec());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (media, allow) = (header("content-type"), header("allow"));
    let bytes = response.bytes().await.unwrap();
    (status, media, allow, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Input is strict, and every refusal is the one JSON error shape: an unknown field in a body
/// (an update record, a typed body, a tenant document) is 400 naming it and the fields there
/// are, where nothing of it is queued; an unknown query parameter is 400 naming it and the
/// accepted ones; a `limit` out of 1–1000 is 400 stating the range, not clamped; a path or
/// query value that does not parse is 400 naming it; a JSON body sent as another media type is
/// 415; an unknown route or method is JSON too. What GET shows (a hold as the switches list
/// it) can be sent back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_input_is_refused_in_the_one_json_error_shape() {
    use reqwest::Method;
    let sim = TaobaoSim::spawn_from_async(SimConfig { orders: 2, ..SimConfig::default() }).await.unwrap();
    let (base, stop, engine) = serve_config("", &|_: &str| None).await;
    make_tenant(&base, &sim, "acme", json!({})).await;
    let json = Some("application/json");
    #[track_caller]
    fn refused(answer: &(u16, String, String, Value), status: u16, error: &str) {
        let (got, media, _, body) = answer;
        assert_eq!(*got, status, "{body}");
        assert!(media.starts_with("application/json"), "{status}: {media}: {body}");
        assert_eq!(body["error"], error, "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }

    // An unknown field of an update record: refused whole, naming it, its record and the
    // fields a stock record has; nothing is queued.
    let stock = json!([{"outer_sku_id": "A", "quantity": 1}, {"outer_sku_id": "B", "quantiy": 5}]);
    let answer =
        raw(&base, Method::POST, "/v1/tenants/acme/updates/stock", json, &serde_json::to_vec(&stock).unwrap()).await;
    refused(&answer, 400, "invalid_input");
    let (_, _, _, body) = &answer;
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("unknown field `quantiy`") && message.contains("`quantity`"), "{body}");
    assert_eq!(body["field"], "[1].quantiy", "{body}");
    let (status, report) =
        call(&base, Method::POST, "/v1/tenants/acme/updates/stock", Some(json!({"outer_sku_id": "A", "quantity": 1})))
            .await;
    assert_eq!((status, report["queued"].as_u64()), (200, Some(1)), "A was not queued by the refused call: {report}");
    // A price's fields too (its kind is read with them).
    let prices = json!({"outer_sku_id": "A", "prices": [{"kind": "default", "amount": 100, "amout": 1}]});
    let answer =
        raw(&base, Method::POST, "/v1/tenants/acme/updates/prices", json, &serde_json::to_vec(&prices).unwrap()).await;
    refused(&answer, 400, "invalid_input");
    assert!(answer.3["message"].as_str().unwrap().contains("unknown field `amout`"), "{}", answer.3);

    // A typed body and a tenant document.
    let answer = raw(&base, Method::POST, "/v1/tenants/acme/tokens", json, br#"{"name": "erp", "scope": "all"}"#).await;
    refused(&answer, 400, "invalid_input");
    assert!(answer.3["message"].as_str().unwrap().contains("unknown field `scope`, expected `name`"), "{}", answer.3);
    let (status, shown) = call(&base, Method::GET, "/v1/tenants/acme", None).await;
    assert_eq!(status, 200, "{shown}");
    let mut doc = shown.clone();
    doc["id"] = json!("acme2");
    doc["shops"][0]["credentials"] = json!(Marketplace::secrets(&sim));
    doc["shops"][0]["enabeld"] = json!(true);
    let answer = raw(&base, Method::POST, "/v1/tenants", json, &serde_json::to_vec(&doc).unwrap()).await;
    refused(&answer, 400, "invalid_input");
    assert!(answer.3["problems"].to_string().contains("unknown field `enabeld`"), "{}", answer.3);

    // A hold as the switches list shows it (with its `sku`) goes back as it is.
    let until = "2099-01-01T00:00:00Z";
    let (status, held) =
        call(&base, Method::PUT, "/v1/tenants/acme/holds/A", Some(json!({"quantity": 5, "until": until}))).await;
    assert_eq!(status, 200, "{held}");
    let (_, switches) = call(&base, Method::GET, "/v1/tenants/acme/switches", None).await;
    let listed = switches["holds"][0].clone();
    assert_eq!(listed["sku"], "A", "{switches}");
    let (status, again) = call(&base, Method::PUT, "/v1/tenants/acme/holds/A", Some(listed.clone())).await;
    assert_eq!(status, 200, "{again}");
    let (status, other) = call(&base, Method::PUT, "/v1/tenants/acme/holds/B", Some(listed)).await;
    assert_eq!(status, 400, "another SKU than the path's: {other}");

    // Query parameters: unknown ones named with the accepted ones, on every route.
    let answer = raw(&base, Method::GET, "/v1/tenants/acme/orders?from=2026-01-01T00:00:00Z", None, b"").await;
    refused(&answer, 400, "invalid_input");
    assert_eq!(answer.3["unknown"], json!(["from"]), "{}", answer.3);
    assert!(answer.3["accepted"].as_array().unwrap().contains(&json!("updated_from")), "{}", answer.3);
    let answer = raw(&base, Method::GET, "/v1/tenants?verbose=1", None, b"").await;
    refused(&answer, 400, "invalid_input");
    assert_eq!(answer.3["accepted"], json!([]), "{}", answer.3);

    // A limit out of its range is refused, stating it; its bounds are taken.
    for path in [
        "/v1/tenants/acme/orders?limit=5000",
        "/v1/tenants/acme/orders?limit=0",
        "/v1/tenants/acme/updates/waiting?limit=1001",
    ] {
        let answer = raw(&base, Method::GET, path, None, b"").await;
        refused(&answer, 400, "invalid_input");
        assert_eq!(
            (answer.3["field"].as_str(), answer.3["min"].as_u64(), answer.3["max"].as_u64()),
            (Some("limit"), Some(1), Some(1000)),
            "{path}: {}",
            answer.3
        );
        assert!(answer.3["message"].as_str().unwrap().contains("1 to 1000"), "{}", answer.3);
    }
    for path in [
        "/v1/tenants/acme/orders?limit=1000",
        "/v1/tenants/acme/orders?limit=1",
        "/v1/tenants/acme/updates/waiting?limit=1000",
    ] {
        assert_eq!(raw(&base, Method::GET, path, None, b"").await.0, 200, "{path}");
    }

    // Values that do not parse, in the query and in the path.
    for path in [
        "/v1/tenants/acme/orders?limit=ten",
        "/v1/tenants/acme/orders?updated_from=yesterday",
        "/v1/tenants/acme/orders?status=lost",
    ] {
        let answer = raw(&base, Method::GET, path, None, b"").await;
        refused(&answer, 400, "invalid_input");
        assert!(answer.3["message"].as_str().unwrap().starts_with("query: "), "{path}: {}", answer.3);
    }
    let answer = raw(&base, Method::POST, "/v1/tenants/acme/dead-letters/pushes/abc/replay", None, b"").await;
    refused(&answer, 400, "invalid_input");
    assert_eq!(answer.3["field"], "id", "{}", answer.3);

    // A body to a route that takes none is refused, not ignored.
    let answer =
        raw(&base, Method::POST, "/v1/tenants/acme/dead-letters/pushes/1/replay", json, b"{\"all\": true}").await;
    refused(&answer, 400, "invalid_input");
    assert!(answer.3["message"].as_str().unwrap().contains("takes no body"), "{}", answer.3);

    // Bodies: another media type is 415, a body that is not JSON 400.
    let answer = raw(&base, Method::POST, "/v1/tenants/acme/tokens", Some("text/plain"), br#"{"name": "erp"}"#).await;
    refused(&answer, 415, "unsupported_media_type");
    let answer = raw(&base, Method::POST, "/v1/tenants/acme/tokens", None, br#"{"name": "erp"}"#).await;
    refused(&answer, 415, "unsupported_media_type");
    let answer =
        raw(&base, Method::POST, "/v1/tenants/acme/dead-letters/replay", Some("text/plain"), b"queue=pushes").await;
    refused(&answer, 415, "unsupported_media_type");
    let answer = raw(&base, Method::POST, "/v1/tenants/acme/tokens", json, br#"{"name": "erp""#).await;
    refused(&answer, 400, "invalid_input");
    assert!(answer.3["message"].as_str().unwrap().starts_with("the body is not JSON"), "{}", answer.3);
    // A body that may be left out still may.
    let (status, replayed) = call(&base, Method::POST, "/v1/tenants/acme/dead-letters/replay", None).await;
    assert_eq!(status, 200, "{replayed}");

    // No such route, no such method: JSON as well.
    let answer = raw(&base, Method::GET, "/v1/tenants/acme/order", None, b"").await;
    refused(&answer, 404, "not_found");
    let answer = raw(&base, Method::PATCH, "/v1/tenants/acme", json, b"{}").await;
    refused(&answer, 405, "method_not_allowed");
    assert!(answer.2.contains("GET"), "the Allow header is kept: {:?}", answer.2);

    stop.send(()).unwrap();
    engine.await.unwrap();
}

/// One name per module everywhere: the switches, the updates and the spreadsheets answer to the
/// module table's names, list them back the same way, and read a former name (`price`,
/// `batches`, `erp-status`) for one release with `Deprecation` and a `Warning` naming the
/// current one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_have_one_name_and_former_names_are_flagged() {
    use reqwest::Method;
    let sim = TaobaoSim::spawn_from_async(SimConfig { orders: 1, ..SimConfig::default() }).await.unwrap();
    let (base, stop, engine) = serve_config("", &|_: &str| None).await;
    make_tenant(&base, &sim, "acme", json!({})).await;
    let send = |method: Method, path: &str, body: Value| {
        let request = reqwest::Client::new()
            .request(method, format!("{base}{path}"))
            .bearer_auth(OPERATOR)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap());
        async move {
            let response = request.send().await.unwrap();
            let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
            let (status, deprecation, warning) = (response.status().as_u16(), header("deprecation"), header("warning"));
            let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
            (status, deprecation, warning, body)
        }
    };
    let on = json!({"on": false});

    let (status, deprecation, _, body) = send(Method::PUT, "/v1/tenants/acme/shops/tb/modules/lots", on.clone()).await;
    assert_eq!((status, deprecation, &body["module"]), (200, None, &json!("lots")), "{body}");
    let (status, deprecation, warning, body) =
        send(Method::PUT, "/v1/tenants/acme/shops/tb/modules/price", on.clone()).await;
    assert_eq!((status, deprecation.as_deref(), &body["module"]), (200, Some("true"), &json!("prices")), "{body}");
    assert!(warning.is_some_and(|w| w.starts_with("299 ") && w.contains("write `prices`")));
    let (status, _, warning, body) = send(Method::PUT, "/v1/tenants/acme/skus/A/price", on.clone()).await;
    assert_eq!((status, &body["kind"]), (200, &json!("prices")), "{body}");
    assert!(warning.is_some());
    let (status, _, _, body) = send(Method::PUT, "/v1/tenants/acme/skus/A/lots", on.clone()).await;
    assert_eq!(status, 404, "lots are not switched per SKU: {body}");
    assert!(body["message"].as_str().unwrap().contains("(stock, prices, listing)"), "{body}");

    // Listed back by the current names only.
    let (_, switches) = call(&base, Method::GET, "/v1/tenants/acme/switches", None).await;
    let modules: Vec<&str> =
        switches["modules_off"].as_array().unwrap().iter().map(|m| m["module"].as_str().unwrap()).collect();
    assert_eq!(modules, ["lots", "prices"], "{switches}");
    assert_eq!(switches["skus_off"], json!([{"sku": "A", "kind": "prices"}]), "{switches}");

    // Updates: `erp_status` as the table spells it; the first release's `erp-status` still read.
    let status_update = json!([]);
    let (status, deprecation, _, body) =
        send(Method::POST, "/v1/tenants/acme/updates/erp_status", status_update.clone()).await;
    assert_eq!((status, deprecation), (200, None), "{body}");
    let (status, deprecation, _, body) = send(Method::POST, "/v1/tenants/acme/updates/erp-status", status_update).await;
    assert_eq!((status, deprecation.as_deref()), (200, Some("true")), "{body}");
    let (status, _, _, body) = send(Method::POST, "/v1/tenants/acme/updates/orders", json!([])).await;
    assert_eq!(status, 404, "orders come from the platforms: {body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("stock, prices, lots, listing, products, customers, logistics, shipments, erp_status"),
        "{body}"
    );

    stop.send(()).unwrap();
    engine.await.unwrap();
}

/// Real answers against `/openapi.json`: for requests that succeed and requests that fail, on
/// every operation the document lists, the status is one the operation documents and a JSON
/// answer validates against the documented schema (a structural check: types, `required`,
/// `additionalProperties`, enums, `$ref`, `allOf`/`anyOf`/`oneOf`, ranges, instants).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_is_as_the_document_says() {
    use reqwest::Method;
    let sim = TaobaoSim::spawn_from_async(SimConfig { orders: 3, ..SimConfig::default() }).await.unwrap();
    let (base, stop, engine) = serve_config("", &|_: &str| None).await;
    make_tenant(&base, &sim, "acme", json!({})).await;
    let (_, _, _, doc) = raw(&base, Method::GET, "/openapi.json", None, b"").await;
    let contract = Contract::new(doc);
    let json = Some("application/json");
    let send = |method: Method, path: &str, body: Option<Value>| {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        let (base, path, contract) = (&base, path.to_owned(), &contract);
        async move {
            let content_type = if bytes.is_empty() { None } else { json };
            let (status, media, _, answer) = raw(base, method.clone(), &path, content_type, &bytes).await;
            contract.check(&method, &path, status, &media, &answer);
            (status, answer)
        }
    };
    let bytes = |method: Method, path: &str, content_type: &str, body: Vec<u8>| {
        let (base, path, contract, content_type) = (&base, path.to_owned(), &contract, content_type.to_owned());
        async move {
            let (status, media, _, answer) = raw(base, method.clone(), &path, Some(&content_type), &body).await;
            contract.check(&method, &path, status, &media, &answer);
            status
        }
    };

    // Orders arrive, then every operation answers, as it succeeds and as it fails.
    let t = "/v1/tenants/acme";
    let orders = eventually_orders(&base, 3).await;
    let order = &orders[0];
    let ack = json!([{"platform": order["order"]["platform"], "shop_id": order["order"]["shop_id"],
                      "order_id": order["order"]["order_id"], "version": order["version"]}]);
    let sku = order["order"]["lines"][0]["outer_sku_id"].as_str().unwrap().to_owned();
    // Receivers: the operator's token is not granted decrypt; a tenant token granted it is.
    let decrypt = format!("{t}/receivers/decrypt");
    let asked = json!({"orders": [{"shop_id": order["order"]["shop_id"], "order_id": order["order"]["order_id"]}],
                       "purpose": "waybill", "reason": "print run 1"});
    let (status, answer) = send(Method::POST, &decrypt, Some(asked.clone())).await;
    assert_eq!(status, 403, "{answer}");
    let (_, granted) =
        send(Method::POST, &format!("{t}/tokens"), Some(json!({"name": "labels", "decrypt": true}))).await;
    let (status, answer) = call_with(&base, granted["token"].as_str(), Method::POST, &decrypt, &asked).await;
    contract.check(&Method::POST, &decrypt, status, "application/json", &answer);
    assert_eq!(status, 200, "{answer}");
    assert!(answer[0]["receiver"]["name"].is_string(), "{answer}");
    let versions = format!(
        "{t}/orders/{}/{}/{}/versions",
        order["order"]["platform"].as_str().unwrap(),
        order["order"]["shop_id"].as_str().unwrap(),
        order["order"]["order_id"].as_str().unwrap()
    );
    let shop = json!({"id": "tb", "platform": "taobao", "plugin": "taobao", "config": Marketplace::config(&sim),
                      "grants": [Marketplace::grant(&sim)]});
    let cases: Vec<(Method, String, Option<Value>, u16)> = vec![
        (Method::GET, versions, None, 200),
        (Method::GET, "/healthz".into(), None, 200),
        (Method::GET, "/readyz".into(), None, 200),
        (Method::GET, "/openapi.json".into(), None, 200),
        (Method::GET, "/metrics".into(), None, 200),
        (Method::GET, "/v1/tenants".into(), None, 200),
        (Method::GET, t.into(), None, 200),
        (Method::GET, format!("{t}/shops"), None, 200),
        (Method::GET, format!("{t}/shops/tb"), None, 200),
        (Method::GET, format!("{t}/shops/nope"), None, 404),
        (Method::PUT, format!("{t}/shops/tb"), Some(shop.clone()), 200),
        (Method::POST, format!("{t}/shops"), Some(shop), 409),
        (Method::DELETE, format!("{t}/shops/nope"), None, 404),
        (
            Method::POST,
            "/v1/tenants".into(),
            Some(json!({"id": "beta", "pull": {}, "shops": [], "quota": {"memry_mib": 1}})),
            400,
        ),
        (Method::PUT, "/v1/tenants/nope".into(), Some(json!({"id": "nope", "pull": {}})), 404),
        (Method::DELETE, "/v1/tenants/nope".into(), None, 404),
        (Method::POST, format!("{t}/tokens"), Some(json!({"name": "erp"})), 201),
        (Method::GET, format!("{t}/tokens"), None, 200),
        (Method::GET, "/v1/whoami".into(), None, 200),
        (Method::DELETE, format!("{t}/tokens/000000000000"), None, 404),
        (Method::GET, format!("{t}/usage"), None, 200),
        (Method::GET, format!("{t}/progress"), None, 200),
        (Method::GET, format!("{t}/orders?limit=2&any_sync=true"), None, 200),
        (Method::GET, format!("{t}/orders?limit=0"), None, 400),
        (Method::GET, format!("{t}/orders?from=2026-01-01"), None, 400),
        (Method::GET, format!("{t}/orders.xlsx"), None, 200),
        (Method::GET, format!("{t}/orders/taobao/tb/none/versions"), None, 404),
        (Method::POST, format!("{t}/orders/ack"), Some(ack), 200),
        (Method::POST, format!("{t}/orders/ack"), Some(json!([{"platform": "taobao"}])), 400),
        (Method::GET, format!("{t}/audit?limit=10"), None, 200),
        (Method::GET, format!("{t}/audit?limit=0"), None, 400),
        (Method::GET, format!("{t}/after-sales?any_sync=true&intercept=true"), None, 200),
        (Method::GET, format!("{t}/after-sales?limit=0"), None, 400),
        (Method::GET, format!("{t}/after-sales.xlsx?intercept=true"), None, 200),
        (Method::GET, format!("{t}/after-sales.xlsx?intercep=true"), None, 400),
        (
            Method::POST,
            format!("{t}/updates/invoices"),
            Some(
                json!([{"order_id": "T1", "kind": "electronic", "title": "张三", "invoice_no": "24312000000012345678",
                "amount": 12800, "issued_at": "2026-11-30T00:00:00Z"}]),
            ),
            200,
        ),
        (
            Method::POST,
            format!("{t}/after-sales/ack"),
            Some(json!([{"platform": "taobao", "shop_id": "tb", "after_sale_id": "none", "version": 1}])),
            200,
        ),
        (Method::POST, format!("{t}/after-sales/ack"), Some(json!([{"platform": "taobao"}])), 400),
        (Method::POST, format!("{t}/updates/stock"), Some(json!([{"outer_sku_id": sku, "quantity": 5}])), 200),
        (
            Method::POST,
            format!("{t}/updates/prices"),
            Some(json!({"outer_sku_id": sku, "prices": [{"kind": "default", "amount": 990}]})),
            200,
        ),
        (Method::POST, format!("{t}/updates/stock"), Some(json!({"outer_sku_id": sku, "quantiy": 5})), 400),
        (Method::POST, format!("{t}/updates/nonsense"), Some(json!([])), 404),
        (Method::GET, format!("{t}/updates/waiting?limit=10"), None, 200),
        (Method::POST, format!("{t}/updates/waiting/purge"), Some(json!({"all": true, "reason": "test"})), 200),
        (Method::POST, format!("{t}/updates/waiting/purge"), Some(json!({"reason": "test"})), 400),
        (Method::GET, format!("{t}/imports/stock/template.xlsx"), None, 200),
        (Method::GET, format!("{t}/imports/stock/template.xlsx?lang=en"), None, 200),
        (Method::GET, format!("{t}/imports/stock/template.xlsx?lang=fr"), None, 400),
        (Method::GET, format!("{t}/imports/nonsense/template.xlsx"), None, 404),
        (Method::GET, format!("{t}/switches"), None, 200),
        (Method::PUT, format!("{t}/shops/tb/modules/stock"), Some(json!({"on": false})), 200),
        (Method::PUT, format!("{t}/shops/tb/modules/stock"), Some(json!({"on": true})), 200),
        (Method::PUT, format!("{t}/shops/tb/modules/nonsense"), Some(json!({"on": true})), 404),
        (Method::PUT, format!("{t}/skus/{sku}/price"), Some(json!({"on": false})), 200),
        (
            Method::PUT,
            format!("{t}/holds/{sku}"),
            Some(json!({"quantity": 3, "until": "2099-01-01T00:00:00Z", "note": "launch"})),
            200,
        ),
        (Method::GET, format!("{t}/switches"), None, 200),
        (Method::DELETE, format!("{t}/holds/{sku}"), None, 204),
        (Method::GET, format!("{t}/dead-letters"), None, 200),
        (Method::POST, format!("{t}/dead-letters/replay"), None, 200),
        (Method::POST, format!("{t}/dead-letters/replay"), Some(json!({"queue": "pushes"})), 200),
        (Method::POST, format!("{t}/dead-letters/pushes/999/replay"), None, 404),
        (Method::POST, format!("{t}/dead-letters/pushes/abc/replay"), None, 400),
        (Method::POST, format!("{t}/dead-letters/deliveries/999/discard"), Some(json!({"reason": "test"})), 404),
        (Method::GET, format!("{t}/quarantine?shop=tb"), None, 200),
        (Method::POST, format!("{t}/quarantine/tb/orders/1/retry"), None, 404),
        (Method::POST, format!("{t}/quarantine/tb/stock/1/retry"), None, 409),
        (Method::POST, format!("{t}/quarantine/tb/orders/1/discard"), Some(json!({"reason": "test"})), 404),
        (Method::GET, format!("{t}/orders/unreadable"), None, 200),
        (Method::POST, format!("{t}/orders/unreadable/taobao/tb/1/discard"), Some(json!({"reason": "test"})), 404),
        (Method::GET, "/v1/plugins".into(), None, 200),
        (Method::GET, "/v1/plugins/nope".into(), None, 404),
        (Method::GET, "/v1/plugins/nope/versions".into(), None, 404),
        (Method::POST, "/v1/plugins/nope/activate".into(), Some(json!({"version": "1.0.0"})), 404),
        (Method::POST, "/v1/plugins/nope/activate".into(), Some(json!({})), 400),
        (Method::POST, "/v1/plugins/nope/rollback".into(), None, 404),
        (Method::PUT, "/v1/plugins/nope/pins/acme".into(), Some(json!({"version": "1.0.0"})), 404),
        (Method::DELETE, "/v1/plugins/nope/pins/acme".into(), None, 404),
        (Method::PUT, "/v1/plugins/nope/grants".into(), Some(json!({"hosts": []})), 404),
        (Method::DELETE, t.into(), None, 204),
        (Method::GET, t.into(), None, 404),
    ];
    for (method, path, body, expected) in cases {
        let (status, answer) = send(method.clone(), &path, body).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
    }
    // Bodies that are not JSON: a plugin that is not one, a workbook that is not one, JSON sent
    // as text.
    let status = bytes(Method::POST, "/v1/plugins", "application/wasm", b"\0asm not a component".to_vec()).await;
    assert_eq!(status, 422);
    make_tenant(&base, &sim, "acme", json!({})).await;
    assert_eq!(
        bytes(Method::POST, &format!("{t}/imports/stock"), wharf_runtime::api::erp::XLSX, b"PK".to_vec()).await,
        400
    );
    assert_eq!(
        bytes(Method::POST, &format!("{t}/imports/stock"), wharf_runtime::api::erp::XLSX, stock_workbook(2)).await,
        200
    );
    assert_eq!(bytes(Method::POST, &format!("{t}/orders/ack"), "text/plain", b"[]".to_vec()).await, 415);
    assert_eq!(bytes(Method::PUT, &format!("{t}/shops/tb"), "application/json", b"{".to_vec()).await, 400);
    // Without a token, and a tenant token on an operator route.
    let (status, answer) = call_as(&base, None, Method::GET, &format!("{t}/orders")).await;
    contract.check(&Method::GET, &format!("{t}/orders"), status, "application/json", &answer);
    assert_eq!(status, 401);
    let (_, token) = send(Method::POST, &format!("{t}/tokens"), Some(json!({"name": "erp"}))).await;
    let (status, answer) = call_as(&base, token["token"].as_str(), Method::GET, "/v1/plugins").await;
    contract.check(&Method::GET, "/v1/plugins", status, "application/json", &answer);
    assert_eq!(status, 403);

    // The check bites: answers of another shape are refused.
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    assert!(contract.validate(&schema("Error"), &json!({"message": "no kind"}), "").is_err());
    let mut wrong = orders[0].clone();
    wrong["order"]["status"] = json!("sent");
    assert!(contract.validate(&schema("StoredOrder"), &orders[0], "").is_ok());
    assert!(contract.validate(&schema("StoredOrder"), &wrong, "").is_err());
    wrong["order"]["status"] = orders[0]["order"]["status"].clone();
    wrong["order"]["updated_at"] = json!(1_794_355_200_000_i64);
    assert!(contract.validate(&schema("StoredOrder"), &wrong, "").is_err());
    assert!(
        contract
            .validate(&schema("HoldBody"), &json!({"quantity": 1, "until": "2099-01-01T00:00:00Z", "x": 1}), "")
            .is_err()
    );

    let missed = contract.unchecked();
    assert!(missed.is_empty(), "operations no request reached: {missed:?}");
    stop.send(()).unwrap();
    engine.await.unwrap();
}

/// The tenant's orders once `n` have arrived (any sync state).
async fn eventually_orders(base: &str, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let (_, page) = call(base, reqwest::Method::GET, "/v1/tenants/acme/orders?any_sync=true", None).await;
        let orders = page["orders"].as_array().cloned().unwrap_or_default();
        if orders.len() >= n {
            return orders;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "orders did not arrive: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A GET as `token` (none: no Authorization header).
async fn call_with(base: &str, token: Option<&str>, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap());
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null))
}

async fn call_as(base: &str, token: Option<&str>, method: reqwest::Method, path: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null))
}

/// The served document, and what real answers were checked against it.
struct Contract {
    doc: Value,
    checked: std::sync::Mutex<std::collections::BTreeSet<(String, String)>>,
}

impl Contract {
    fn new(doc: Value) -> Self {
        assert_eq!(doc["openapi"], "3.1.0", "{doc}");
        Contract { doc, checked: Default::default() }
    }

    /// The documented path `path` (a concrete one, with any query) is served by, and the
    /// operation: the template whose fixed segments match, the most specific first.
    fn operation(&self, method: &reqwest::Method, path: &str) -> (String, &Value) {
        let path = path.split('?').next().unwrap();
        let segments: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, &String)> = None;
        for template in self.doc["paths"].as_object().unwrap().keys() {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let fits = parts.iter().zip(&segments).all(|(p, s)| p == s || (p.starts_with('{') && p.ends_with('}')));
            let fixed = parts.iter().filter(|p| !p.starts_with('{')).count();
            if fits && best.is_none_or(|(f, _)| fixed > f) {
                best = Some((fixed, template));
            }
        }
        let (_, template) = best.unwrap_or_else(|| panic!("{method} {path}: no documented path"));
        let method = method.as_str().to_ascii_lowercase();
        let op = &self.doc["paths"][template][&method];
        assert!(op.is_object(), "{method} {template}: not documented");
        (template.clone(), op)
    }

    /// Panics unless `status` is documented for the operation and a JSON answer is of the
    /// documented schema.
    #[track_caller]
    fn check(&self, method: &reqwest::Method, path: &str, status: u16, media: &str, answer: &Value) {
        let (template, op) = self.operation(method, path);
        self.checked.lock().unwrap().insert((method.as_str().to_ascii_lowercase(), template.clone()));
        let response = op["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| panic!("{method} {path} ({template}): {status} is not documented: {answer}"));
        let response = self.resolve(response);
        let content = response["content"].as_object().cloned().unwrap_or_default();
        if !media.starts_with("application/json") {
            assert!(
                content.keys().any(|m| media.starts_with(m.as_str())) || (content.is_empty() && status == 204),
                "{method} {path} {status}: answered {media:?}, documented {:?}",
                content.keys().collect::<Vec<_>>()
            );
            return;
        }
        let schema = &content
            .get("application/json")
            .unwrap_or_else(|| panic!("{method} {path} {status}: answered JSON, documented {:?}", content.keys()))["schema"];
        if let Err(e) = self.validate(schema, answer, "") {
            panic!("{method} {path} ({template}) {status}: {e}\n{answer:#}");
        }
    }

    /// The documented operations no checked answer came from.
    fn unchecked(&self) -> Vec<(String, String)> {
        let checked = self.checked.lock().unwrap();
        let mut missed = Vec::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if !checked.contains(&(method.clone(), path.clone())) {
                    missed.push((method.clone(), path.clone()));
                }
            }
        }
        missed
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let target =
                    self.doc.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("{r} does not resolve"));
                self.resolve(target)
            }
            None => value,
        }
    }

    /// `value` against `schema`; `Err` says where and what.
    fn validate(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        let fail = |what: String| Err(format!("at `{at}`: {what}: {value}"));
        if let Some(all) = schema["allOf"].as_array() {
            for part in all {
                self.validate(part, value, at)?;
            }
        }
        if let Some(any) = schema["anyOf"].as_array()
            && !any.iter().any(|s| self.validate(s, value, at).is_ok())
        {
            return fail("matches none of anyOf".into());
        }
        if let Some(one) = schema["oneOf"].as_array() {
            let matching = one.iter().filter(|s| self.validate(s, value, at).is_ok()).count();
            if matching != 1 {
                let why: Vec<String> = one.iter().filter_map(|s| self.validate(s, value, at).err()).collect();
                return fail(format!("matches {matching} of oneOf ({why:?})"));
            }
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let is = |t: &str| match t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => false,
        };
        if !types.is_empty() && !types.iter().any(|t| is(t)) {
            return fail(format!("not of type {types:?}"));
        }
        if let Some(values) = schema["enum"].as_array()
            && !values.contains(value)
        {
            return fail(format!("not one of {values:?}"));
        }
        if let Some(n) = value.as_f64() {
            if schema["minimum"].as_f64().is_some_and(|min| n < min) {
                return fail(format!("under the minimum {}", schema["minimum"]));
            }
            if schema["maximum"].as_f64().is_some_and(|max| n > max) {
                return fail(format!("over the maximum {}", schema["maximum"]));
            }
        }
        if let Some(text) = value.as_str() {
            if schema["format"] == "date-time" && wharf_runtime::model::Timestamp::parse_rfc3339(text).is_err() {
                return fail("not an RFC 3339 instant".into());
            }
            if schema["minLength"].as_u64().is_some_and(|min| (text.chars().count() as u64) < min) {
                return fail("too short".into());
            }
        }
        if let Some(items) = value.as_array()
            && let Some(item) = schema.get("items")
        {
            for (i, v) in items.iter().enumerate() {
                self.validate(item, v, &format!("{at}[{i}]"))?;
            }
        }
        if let Some(object) = value.as_object() {
            for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    return fail(format!("lacks the required `{name}`"));
                }
            }
            let properties = schema["properties"].as_object();
            for (name, v) in object {
                let here = format!("{at}.{name}");
                if let Some(names) = schema.get("propertyNames") {
                    self.validate(names, &Value::String(name.clone()), &here)?;
                }
                match (properties.and_then(|p| p.get(name)), schema.get("additionalProperties")) {
                    (Some(property), _) => self.validate(property, v, &here)?,
                    (None, Some(Value::Bool(false))) => return fail(format!("has `{name}`, which is not documented")),
                    (None, Some(extra)) if extra.is_object() => self.validate(extra, v, &here)?,
                    (None, _) => {}
                }
            }
        }
        Ok(())
    }
}
