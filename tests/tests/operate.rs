//! A running host operated the way an operator does it: the real `wharf serve` over HTTP,
//! driven with the `wharf` CLI and plain requests. Plugins are uploaded and hot-swapped under
//! load, tenants and shops are made over the API, orders flow to an ERP that pulls and acks,
//! stock goes out by API and by spreadsheet, a noisy tenant stays inside its quota, and one
//! tenant's token is refused everywhere another tenant's data lives. A plugin built against
//! contract 0.1.0 runs beside 0.2.0 ones, and an order no plugin version could map waits in
//! quarantine until the operator activates a version that maps it, then flows once. What was
//! answered stored, and what an ERP was sent, outlives a kill -9.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use wharf_sim::Marketplace;
use wharf_sim::taobao::{SimConfig, TaobaoSim};
use wharf_tests::plugins::{cache_dir, plugin_dir, plugin_path, wharf_bin};
use wharf_tests::process::{ServeProcess, free_port, metric_sum};

const OPERATOR: &str = "wharf_operator_e2e_token";
/// Hosts the Taobao plugin declares; the operator grants them on upload.
const TAOBAO_HOSTS: [&str; 3] = ["eco.taobao.com", "gw.api.taobao.com", "gw.api.tbsandbox.com"];

/// `wharf serve` as a child process (killed when dropped) and where its API is.
struct Serve {
    process: ServeProcess,
    base: String,
}

impl Serve {
    /// A host whose tenants are all made over the API: its file says so (`allow_empty`).
    fn start(dir: &Path) -> Serve {
        Serve::start_node(dir, "serve", &Store::Sled)
    }

    /// Host `node` (its file `<node>.toml`, its log `<node>.log`) on the store `store`, with
    /// the data folder `dir/data` (on PostgreSQL, shared by every node: the master key and the
    /// plugins' files).
    fn start_node(dir: &Path, node: &str, store: &Store) -> Serve {
        let port = free_port();
        std::fs::create_dir_all(dir.join("plugins")).unwrap();
        let config = dir.join(format!("{node}.toml"));
        let store_line = match store {
            Store::Sled => String::new(),
            Store::Postgres(url) => format!("store = \"{url}\"\n"),
        };
        std::fs::write(
            &config,
            format!(
                "data_dir = \"data\"\nplugin_dir = \"plugins\"\nlisten = \"127.0.0.1:{port}\"\nlog_format = \"json\"\n\
                 allow_empty = true\n{store_line}"
            ),
        )
        .unwrap();
        let process = ServeProcess::spawn(&config, &dir.join(format!("{node}.log")), OPERATOR, 20);
        Serve { process, base: format!("http://127.0.0.1:{port}") }
    }

    fn log(&self) -> String {
        self.process.log()
    }

    /// Runs `wharf <args>` against this server with `token`: (exit code, stdout as JSON, stderr).
    fn cli(&self, token: &str, args: &[&str]) -> (i32, Value, String) {
        let out = Command::new(wharf_bin())
            .args(args)
            .env("WHARF_SERVER", &self.base)
            .env("WHARF_TOKEN", token)
            .output()
            .expect("the wharf CLI runs");
        let stdout = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code().unwrap_or(-1), stdout, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request.header("content-type", "application/json").body(serde_json::to_vec(&b).unwrap());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn metrics(&self) -> String {
        let response =
            reqwest::Client::new().get(format!("{}/metrics", self.base)).bearer_auth(OPERATOR).send().await.unwrap();
        response.text().await.unwrap()
    }
}

async fn eventually<T>(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A tenant document with `shops` shops on the simulator, the ERP pulling, and `quota`.
fn tenant_doc(id: &str, sim: &TaobaoSim, shops: usize, quota: Value) -> Value {
    let config: BTreeMap<String, String> = Marketplace::config(sim);
    let secrets: BTreeMap<String, String> = Marketplace::secrets(sim);
    let shops: Vec<Value> = (1..=shops)
        .map(|i| json!({"id": format!("tb{i}"), "platform": "taobao", "plugin": "taobao", "config": config, "credentials": secrets, "grants": [Marketplace::grant(sim)]}))
        .collect();
    json!({"id": id, "shops": shops, "pull": {}, "schedule": {"orders": "1s"}, "quota": quota})
}

/// A stock workbook: header row, then (outer_sku_id, quantity) rows.
fn stock_sheet(path: &Path, rows: &[(&str, &str)]) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "outer_sku_id").unwrap();
    sheet.write_string(0, 1, "quantity").unwrap();
    for (i, (sku, quantity)) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, *sku).unwrap();
        match quantity.parse::<f64>() {
            Ok(n) => sheet.write_number(row, 1, n).unwrap(),
            Err(_) => sheet.write_string(row, 1, *quantity).unwrap(),
        };
    }
    book.save(path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_host_is_operated_over_http() {
    let sim = TaobaoSim::spawn_from_async(SimConfig {
        orders: 20,
        seed: 11,
        modified_span_ms: 3_600_000,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("wharf-operate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let serve = Serve::start(&dir);
    ready(&serve, Duration::from_secs(20)).await;
    let (taobao, next) = (plugin_path("taobao"), plugin_dir().join("next").join("taobao.wasm"));
    let (taobao, next) = (taobao.to_str().unwrap(), next.to_str().unwrap());

    // Upload: a plugin whose hosts are not granted is refused, then admitted with them.
    let (code, _, err) = serve.cli(OPERATOR, &["plugin", "upload", taobao]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("422") && err.contains("eco.taobao.com"), "{err}");
    let mut upload = vec!["plugin", "upload", taobao];
    for host in TAOBAO_HOSTS {
        upload.extend(["--grant", host]);
    }
    let (code, admitted, err) = serve.cli(OPERATOR, &upload);
    assert_eq!(code, 0, "{err}");
    assert_eq!((admitted["name"].as_str(), admitted["active"].as_bool()), (Some("taobao"), Some(true)), "{admitted}");
    let v1 = admitted["version"].as_str().unwrap().to_owned();
    let (code, second, err) = serve.cli(OPERATOR, &["plugin", "upload", next]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(second["active"], json!(false), "a later version waits to be activated: {second}");
    let v2 = second["version"].as_str().unwrap().to_owned();
    assert_ne!(v1, v2);

    // Tenants and shops over the API: acme (one shop), and beta, a noisy tenant held to a
    // small quota (four shops). Credentials go in and never come back out.
    std::fs::write(dir.join("acme.json"), tenant_doc("acme", &sim, 1, json!({})).to_string()).unwrap();
    let (code, acme_doc, err) =
        serve.cli(OPERATOR, &["tenant", "create", "--file", dir.join("acme.json").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let secret = Marketplace::secrets(&sim)["app_secret"].clone();
    assert!(!acme_doc.to_string().contains(&secret), "credentials are write-only: {acme_doc}");
    assert_eq!(acme_doc["shops"][0]["credentials"], json!(["app_secret", "session"]));
    let beta_doc = tenant_doc("beta", &sim, 4, json!({"calls_per_second": 4, "concurrent_calls": 1}));
    let (status, body) = serve.call(Method::POST, "/v1/tenants", Some(OPERATOR), Some(beta_doc)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = serve
        .call(
            Method::POST,
            "/v1/tenants",
            Some(OPERATOR),
            Some(json!({"id": "bad", "shops": [{"id": "x", "platform": "taobao", "plugin": "jdd"}]})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("tenants.bad.shops[0].plugin: no plugin named \"jdd\""),
        "{body}"
    );
    let (code, acme, err) = serve.cli(OPERATOR, &["token", "create", "acme", "--name", "acme-erp"]);
    assert_eq!(code, 0, "{err}");
    let acme = acme["token"].as_str().unwrap().to_owned();
    let (_, beta, _) = serve.cli(OPERATOR, &["token", "create", "beta", "--name", "beta-erp"]);
    let beta = beta["token"].as_str().unwrap().to_owned();

    // Orders flow; the ERP pulls them and acknowledges them.
    let orders = eventually("acme's orders reach the store", Duration::from_secs(30), async || {
        let (_, page) = serve.call(Method::GET, "/v1/tenants/acme/orders?limit=1000", Some(&acme), None).await;
        let orders = page["orders"].as_array()?.clone();
        (orders.len() == sim.trades().len()).then_some(orders)
    })
    .await;
    let acks: Vec<Value> = orders
        .iter()
        .map(|o| json!({"platform": o["order"]["platform"], "shop_id": o["order"]["shop_id"], "order_id": o["order"]["order_id"], "version": o["version"]}))
        .collect();
    std::fs::write(dir.join("acks.json"), Value::Array(acks).to_string()).unwrap();
    let (code, outcome, err) = serve.cli(&acme, &["ack", "acme", "--file", dir.join("acks.json").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(outcome.as_array().unwrap().iter().all(|o| o["outcome"] == "synced"), "{outcome}");
    let (_, left) = serve.call(Method::GET, "/v1/tenants/acme/orders", Some(&acme), None).await;
    assert_eq!(left["orders"].as_array().unwrap().len(), 0);

    // Stock by API, then by spreadsheet (a sheet with a bad row applies nothing).
    let mut skus: Vec<(String, u64, u64)> = orders
        .iter()
        .flat_map(|o| o["order"]["lines"].as_array().unwrap().clone())
        .filter_map(|l| {
            Some((
                l["outer_sku_id"].as_str()?.to_owned(),
                l["product_id"].as_str()?.parse().ok()?,
                l["sku_id"].as_str()?.parse().ok()?,
            ))
        })
        .collect();
    skus.sort();
    skus.dedup_by(|a, b| a.0 == b.0);
    assert!(skus.len() >= 3, "{skus:?}");
    let stock_is = |i: usize, n: i64| {
        let (_, num_iid, sku_id) = &skus[i];
        sim.sku_stock(*num_iid, *sku_id) == Some(n)
    };
    let (status, report) = serve
        .call(
            Method::POST,
            "/v1/tenants/acme/updates/stock",
            Some(&acme),
            Some(json!({"outer_sku_id": skus[0].0, "quantity": 41})),
        )
        .await;
    assert_eq!((status, report["queued"].as_u64()), (200, Some(1)), "{report}");
    eventually("stock by API reaches the shop", Duration::from_secs(20), async || stock_is(0, 41).then_some(())).await;
    let sheet = dir.join("stock.xlsx");
    stock_sheet(&sheet, &[(&skus[1].0, "42"), (&skus[2].0, "-3")]);
    let (code, report, err) = serve.cli(&acme, &["import", "acme", "stock", sheet.to_str().unwrap()]);
    assert_eq!(code, 1, "{report} {err}");
    assert_eq!(report["applied"], json!(false), "{report} {err}");
    let bad = report["rows"].as_array().unwrap().iter().find(|r| r["accepted"] == json!(false)).cloned().unwrap();
    assert_eq!(bad["row"], json!(3), "{report}");
    assert!(bad["column"].as_str().unwrap().contains("quantity"), "{report}");
    stock_sheet(&sheet, &[(&skus[1].0, "42"), (&skus[2].0, "43")]);
    let (code, report, err) = serve.cli(&acme, &["import", "acme", "stock", sheet.to_str().unwrap()]);
    assert_eq!(code, 0, "{report} {err}");
    assert_eq!(report["applied"], json!(true), "{report}");
    eventually("stock by spreadsheet reaches the shop", Duration::from_secs(20), async || {
        (stock_is(1, 42) && stock_is(2, 43)).then_some(())
    })
    .await;
    let export = dir.join("orders.xlsx");
    let (code, _, err) =
        serve.cli(&acme, &["export", "orders", "acme", "--sync", "any", "--out", export.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read(&export).unwrap().starts_with(b"PK"), "an .xlsx is a zip");

    // Hot swap under load: stock for acme flows all along while the operator swaps versions
    // back and forth; not one call fails, and the last figure of every SKU lands.
    let load = {
        let (base, acme, skus) = (serve.base.clone(), acme.clone(), skus.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut last = BTreeMap::new();
            let start = Instant::now();
            let mut n = 100;
            while start.elapsed() < Duration::from_secs(6) {
                n += 1;
                let batch: Vec<Value> =
                    skus.iter().map(|(sku, ..)| json!({"outer_sku_id": sku, "quantity": n})).collect();
                let r = http
                    .post(format!("{base}/v1/tenants/acme/updates/stock"))
                    .bearer_auth(&acme)
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&batch).unwrap())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                for (sku, ..) in &skus {
                    last.insert(sku.clone(), n);
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            last
        })
    };
    let before = serve.metrics().await;
    for round in 0..10 {
        let (status, body) = if round % 2 == 0 {
            serve.call(Method::POST, "/v1/plugins/taobao/activate", Some(OPERATOR), Some(json!({"version": v2}))).await
        } else {
            serve.call(Method::POST, "/v1/plugins/taobao/rollback", Some(OPERATOR), None).await
        };
        assert_eq!(status, 200, "{body}");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let last = load.await.unwrap();
    let start = Instant::now();
    while !skus.iter().enumerate().all(|(i, (sku, ..))| stock_is(i, last[sku])) {
        if start.elapsed() > Duration::from_secs(20) {
            let (_, letters) = serve.call(Method::GET, "/v1/tenants/acme/dead-letters", Some(&acme), None).await;
            let errors: Vec<String> =
                serve.metrics().await.lines().filter(|l| l.contains("errors_total{")).map(String::from).collect();
            let shop: Vec<(String, Option<i64>, i64)> = skus
                .iter()
                .map(|(sku, num_iid, sku_id)| (sku.clone(), sim.sku_stock(*num_iid, *sku_id), last[sku]))
                .collect();
            panic!(
                "the last figures did not all land: {shop:?}\ndead letters: {letters}\nerrors: {errors:#?}\n{}",
                serve.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = serve.metrics().await;
    assert_eq!(
        metric_sum(&after, "wharf_plugin_call_errors_total", &["tenant=\"acme\""]),
        0.0,
        "no failed call:\n{after}"
    );
    for version in [&v1, &v2] {
        let label = format!("version=\"{version}\"");
        let calls =
            metric_sum(&after, "wharf_plugin_calls_total", &["tenant=\"acme\"", &label, "operation=\"push-stock\""])
                - metric_sum(
                    &before,
                    "wharf_plugin_calls_total",
                    &["tenant=\"acme\"", &label, "operation=\"push-stock\""],
                );
        assert!(calls > 0.0, "version {version} served pushes during the swaps:\n{after}");
    }
    let (_, letters) = serve.call(Method::GET, "/v1/tenants/acme/dead-letters", Some(&acme), None).await;
    assert_eq!(letters["pushes"].as_array().unwrap().len(), 0, "{letters}");
    // Ten swaps end where they began (rollback is the same swap); a canary pins beta to v2.
    let (code, shown, err) = serve.cli(OPERATOR, &["plugin", "show", "taobao"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        (shown["active"].as_str(), shown["previous"].as_str()),
        (Some(v1.as_str()), Some(v2.as_str())),
        "{shown}"
    );
    let (code, _, err) = serve.cli(OPERATOR, &["plugin", "pin", "taobao", "beta", &v2]);
    assert_eq!(code, 0, "{err}");
    let (_, versions, _) = serve.cli(OPERATOR, &["plugin", "versions", "taobao"]);
    assert_eq!(versions.as_array().unwrap().len(), 2, "{versions}");

    // The noisy tenant: beta floods its four shops with stock; it stays within 4 calls/s and
    // one call at a time, while acme's update lands at once and never waits on a quota.
    let flood: Vec<Value> = (0..200).map(|i| json!({"outer_sku_id": format!("NOISE-{i}"), "quantity": i})).collect();
    let (status, _) =
        serve.call(Method::POST, "/v1/tenants/beta/updates/stock", Some(&beta), Some(Value::Array(flood))).await;
    assert_eq!(status, 200);
    let usage = async |t: &str, token: &str| {
        serve.call(Method::GET, &format!("/v1/tenants/{t}/usage"), Some(token), None).await.1
    };
    let beta_before = usage("beta", &beta).await["calls_total"].as_f64().unwrap();
    let window = Instant::now();
    let (status, _) = serve
        .call(
            Method::POST,
            "/v1/tenants/acme/updates/stock",
            Some(&acme),
            Some(json!([{"outer_sku_id": skus[0].0, "quantity": 7}])),
        )
        .await;
    assert_eq!(status, 200);
    eventually("acme's stock lands while beta floods", Duration::from_secs(3), async || stock_is(0, 7).then_some(()))
        .await;
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(window.elapsed())).await;
    let beta_calls = usage("beta", &beta).await["calls_total"].as_f64().unwrap() - beta_before;
    let seconds = window.elapsed().as_secs_f64();
    assert!(
        beta_calls <= 4.0 * seconds + 4.0 + 1.0,
        "beta made {beta_calls} calls in {seconds:.1}s against a quota of 4/s"
    );
    let metrics = serve.metrics().await;
    assert!(
        metric_sum(&metrics, "wharf_tenant_quota_wait_seconds_total", &["tenant=\"beta\""]) > 0.5,
        "beta waited on its quota:\n{metrics}"
    );
    assert!(
        metric_sum(&metrics, "wharf_tenant_quota_wait_seconds_total", &["tenant=\"acme\""]) < 0.5,
        "acme did not:\n{metrics}"
    );

    // Beta's flood named SKUs its shops never sold: refused once for want of the platform's
    // ids, each waits by shop and SKU (never retried on a clock), listed and purged (audited).
    let flooded = 200 * 4;
    let all_waiting = eventually("beta's flood waiting for platform ids", Duration::from_secs(30), async || {
        let (_, page) = serve.call(Method::GET, "/v1/tenants/beta/updates/waiting?limit=1000", Some(&beta), None).await;
        (page["updates"].as_array().map_or(0, Vec::len) == flooded).then_some(page)
    })
    .await;
    assert!(all_waiting["next_cursor"].is_null(), "one page of 1,000 holds them");
    let (code, page, err) = serve.cli(&beta, &["waiting", "list", "beta", "--sku", "NOISE-7"]);
    assert_eq!(code, 0, "{err}");
    let shops: Vec<&str> = page["updates"].as_array().unwrap().iter().map(|u| u["shop"].as_str().unwrap()).collect();
    assert_eq!(shops, ["tb1", "tb2", "tb3", "tb4"], "{page}");
    assert_eq!(page["updates"][0]["waiting_for_sku"], "NOISE-7", "{page}");
    let (code, page, err) = serve.cli(&beta, &["waiting", "list", "beta", "--shop", "tb2", "--limit", "150"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(page["updates"].as_array().unwrap().len(), 150, "{page}");
    let cursor = page["next_cursor"].as_str().expect("a next page").to_owned();
    let (_, rest, _) = serve.cli(&beta, &["waiting", "list", "beta", "--shop", "tb2", "--cursor", &cursor]);
    assert_eq!(rest["updates"].as_array().unwrap().len(), 50, "{rest}");
    let (code, purged, err) = serve.cli(&beta, &["waiting", "purge", "beta", "--sku", "NOISE-7", "--reason", "gone"]);
    assert_eq!((code, &purged["purged"]), (0, &json!(4)), "{err}");
    let (code, purged, err) = serve.cli(&beta, &["waiting", "purge", "beta", "--all", "--reason", "a test flood"]);
    assert_eq!((code, &purged["purged"]), (0, &json!(flooded - 4)), "{err}");
    let (_, page) = serve.call(Method::GET, "/v1/tenants/beta/updates/waiting", Some(&beta), None).await;
    assert_eq!(page["updates"], json!([]), "{page}");

    // Beta's token is refused everywhere acme's data lives (404, as if acme did not exist),
    // and on every operator route (403); no token at all gets 401.
    let acme_routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/v1/tenants/acme".into(), None),
        (Method::PUT, "/v1/tenants/acme".into(), Some(json!({"id": "acme"}))),
        (Method::DELETE, "/v1/tenants/acme".into(), None),
        (Method::GET, "/v1/tenants/acme/shops".into(), None),
        (Method::POST, "/v1/tenants/acme/shops".into(), Some(json!({"id": "x"}))),
        (Method::GET, "/v1/tenants/acme/shops/tb1".into(), None),
        (Method::PUT, "/v1/tenants/acme/shops/tb1".into(), Some(json!({}))),
        (Method::DELETE, "/v1/tenants/acme/shops/tb1".into(), None),
        (Method::GET, "/v1/tenants/acme/usage".into(), None),
        (Method::GET, "/v1/tenants/acme/orders".into(), None),
        (Method::GET, "/v1/tenants/acme/orders.xlsx".into(), None),
        (Method::POST, "/v1/tenants/acme/orders/ack".into(), Some(json!([]))),
        (
            Method::POST,
            "/v1/tenants/acme/updates/stock".into(),
            Some(json!([{"outer_sku_id": skus[0].0, "quantity": 1}])),
        ),
        (Method::POST, "/v1/tenants/acme/imports/stock".into(), None),
        (Method::GET, "/v1/tenants/acme/imports/stock/template.xlsx".into(), None),
        (Method::GET, "/v1/tenants/acme/switches".into(), None),
        (Method::PUT, "/v1/tenants/acme/shops/tb1/modules/stock".into(), Some(json!({"on": false}))),
        (Method::PUT, format!("/v1/tenants/acme/skus/{}/stock", skus[0].0), Some(json!({"on": false}))),
        (
            Method::PUT,
            format!("/v1/tenants/acme/holds/{}", skus[0].0),
            Some(json!({"quantity": 1, "until": "2099-01-01T00:00:00Z"})),
        ),
        (Method::DELETE, format!("/v1/tenants/acme/holds/{}", skus[0].0), None),
        (Method::GET, "/v1/tenants/acme/dead-letters".into(), None),
        (Method::POST, "/v1/tenants/acme/dead-letters/replay".into(), None),
        (Method::POST, "/v1/tenants/acme/dead-letters/pushes/1/replay".into(), None),
        (Method::POST, "/v1/tenants/acme/dead-letters/pushes/1/discard".into(), Some(json!({"reason": "x"}))),
        (Method::GET, "/v1/tenants/acme/updates/waiting".into(), None),
        (Method::POST, "/v1/tenants/acme/updates/waiting/purge".into(), Some(json!({"all": true, "reason": "x"}))),
        (Method::POST, "/v1/tenants/acme/tokens".into(), Some(json!({"name": "x"}))),
    ];
    for (method, path, body) in &acme_routes {
        let (status, answer) = serve.call(method.clone(), path, Some(&beta), body.clone()).await;
        assert!(status == 404 || status == 403, "{method} {path} with beta's token: {status} {answer}");
        let (status, _) = serve.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(status, 401, "{method} {path} without a token");
    }
    let operator_routes: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/metrics", None),
        (Method::GET, "/v1/plugins", None),
        (Method::POST, "/v1/plugins", None),
        (Method::GET, "/v1/plugins/taobao", None),
        (Method::GET, "/v1/plugins/taobao/versions", None),
        (Method::POST, "/v1/plugins/taobao/activate", Some(json!({"version": v2}))),
        (Method::POST, "/v1/plugins/taobao/rollback", None),
        (Method::PUT, "/v1/plugins/taobao/pins/beta", Some(json!({"version": v1}))),
        (Method::DELETE, "/v1/plugins/taobao/pins/beta", None),
        (Method::PUT, "/v1/plugins/taobao/grants", Some(json!({"hosts": []}))),
        (Method::POST, "/v1/tenants", Some(json!({"id": "mallory"}))),
        (Method::PUT, "/v1/tenants/beta", Some(json!({"id": "beta"}))),
        (Method::DELETE, "/v1/tenants/beta", None),
        (Method::POST, "/v1/tenants/beta/tokens", Some(json!({"name": "x"}))),
    ];
    for (method, path, body) in &operator_routes {
        let (status, answer) = serve.call(method.clone(), path, Some(&beta), body.clone()).await;
        assert_eq!(status, 403, "{method} {path} with beta's token: {answer}");
    }
    let (status, list) = serve.call(Method::GET, "/v1/tenants", Some(&beta), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        list.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect::<Vec<_>>(),
        ["beta"],
        "{list}"
    );
    assert!(stock_is(0, 7), "beta's refused requests changed nothing of acme's");
    let (_, shown, _) = serve.cli(OPERATOR, &["plugin", "show", "taobao"]);
    assert_eq!(shown["active"].as_str(), Some(v1.as_str()), "beta's refused activation changed nothing");

    // Global flags go anywhere: before the command as well as after it.
    let out = Command::new(wharf_bin())
        .args(["--server", &serve.base, "--token", &acme, "tenant", "show", "acme"])
        .env_remove("WHARF_SERVER")
        .env_remove("WHARF_TOKEN")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["id"], "acme", "{shown}");

    // `hold set` answers with the hold (as `switch list` shows it) and what it queued.
    let (code, hold, err) =
        serve.cli(&acme, &["hold", "set", "acme", &skus[1].0, "--quantity", "3", "--for", "1h", "--note", "live"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        (hold["sku"].as_str(), hold["quantity"].as_u64(), hold["note"].as_str()),
        (Some(skus[1].0.as_str()), Some(3), Some("live")),
        "{hold}"
    );
    assert!(hold["until"].as_str().is_some_and(|t| t.ends_with('Z')), "an RFC 3339 instant: {hold}");
    assert!(hold["queued"]["queued"].is_u64(), "{hold}");
    let (_, switches, _) = serve.cli(&acme, &["switch", "list", "acme"]);
    let listed = switches["holds"].as_array().unwrap().iter().find(|h| h["sku"] == hold["sku"]).cloned().unwrap();
    for key in ["sku", "quantity", "until", "note"] {
        assert_eq!(listed[key], hold[key], "{key}: {listed} vs {hold}");
    }
    let (code, _, err) = serve.cli(&acme, &["hold", "release", "acme", &skus[1].0]);
    assert_eq!(code, 0, "{err}");
    // Replays answer a count and the ids, for one letter as for all; instants are RFC 3339.
    let (code, replayed, err) = serve.cli(&acme, &["dlq", "replay", "acme", "--all"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(replayed, json!({"replayed": 0, "deliveries": [], "pushes": []}));
    let (_, progress, _) = serve.cli(&acme, &["progress", "acme"]);
    assert_eq!(progress["shops"][0]["state"], "ok", "{progress}");

    // A body that does not parse is refused in the API's own words.
    let (status, body) = serve.call(Method::POST, "/v1/plugins/taobao/activate", Some(OPERATOR), Some(json!({}))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_input")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("version"), "{body}");

    // The whole API is described.
    let (_, doc) = serve.call(Method::GET, "/openapi.json", None, None).await;
    assert!(doc["paths"]["/v1/plugins"]["post"].is_object(), "{doc}");

    // A tenant made over the API survives a restart, as does the plugin registry.
    drop(serve);
    let serve = Serve::start(&dir);
    eventually("restarted wharf serve answers /readyz", Duration::from_secs(20), async || {
        let r = reqwest::get(format!("{}/readyz", serve.base)).await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    eventually("the tenant made over the API runs again", Duration::from_secs(20), async || {
        let (status, t) = serve.call(Method::GET, "/v1/tenants/acme", Some(&acme), None).await;
        (status == 200).then_some(t)
    })
    .await;
    let (_, shown, _) = serve.cli(OPERATOR, &["plugin", "show", "taobao"]);
    assert_eq!(shown["pins"]["beta"].as_str(), Some(v2.as_str()), "{shown}\n{}", serve.log());
}

/// `wasm` with a custom section appended: the same plugin, other bytes.
/// Contract 0.1.0 and 0.4.0 plugins side by side in one `wharf serve`; a window with one
/// poisoned order: every other order reaches the ERP, the poisoned one waits in quarantine with
/// its reason (API, CLI, metrics), and flows, once, after the fixed version is activated. The
/// 0.4.0 shop's after-sales reach the ERP's query flagged for interception (refunds before
/// shipping) and are acknowledged version by version; the 0.1.0 shop has none and its orders
/// flow as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_order_waits_in_quarantine_and_flows_once_a_fixed_version_serves() {
    let dir = plugin_dir().join("../operate-quarantine");
    let _ = std::fs::remove_dir_all(&dir);
    let serve = Serve::start(&dir);
    ready(&serve, Duration::from_secs(20)).await;
    for plugin in [plugin_path("legacy"), plugin_path("fixture")] {
        let (code, admitted, err) = serve.cli(OPERATOR, &["plugin", "upload", plugin.to_str().unwrap()]);
        assert_eq!((code, admitted["active"].as_bool()), (0, Some(true)), "{err} {admitted}");
    }
    let (_, legacy) = serve.call(Method::GET, "/v1/plugins/legacy", Some(OPERATOR), None).await;
    assert_eq!(legacy["descriptor"]["wit_version"], "0.1.0", "{legacy}");
    let (_, fixture) = serve.call(Method::GET, "/v1/plugins/fixture", Some(OPERATOR), None).await;
    assert_eq!(fixture["descriptor"]["wit_version"], "0.4.0", "{fixture}");

    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let at_ms = (now_ms - 60_000).to_string();
    let doc = json!({"id": "mixed", "pull": {}, "schedule": {"orders": "1s", "after_sales": "1s"}, "shops": [
        {"id": "old", "platform": "legacy", "plugin": "legacy", "config": {"orders": "3", "at_ms": at_ms}},
        {"id": "fx", "platform": "fixture", "plugin": "fixture",
         "config": {"orders": "5", "poison": "3", "at_ms": at_ms, "after_sales": "2"}},
    ]});
    let (status, body) = serve.call(Method::POST, "/v1/tenants", Some(OPERATOR), Some(doc)).await;
    assert_eq!(status, 201, "{body}");
    let (_, token, _) = serve.cli(OPERATOR, &["token", "create", "mixed", "--name", "erp"]);
    let token = token["token"].as_str().unwrap().to_owned();
    let order_ids = async || -> Vec<String> {
        let (_, page) = serve.call(Method::GET, "/v1/tenants/mixed/orders?limit=1000", Some(&token), None).await;
        let mut ids: Vec<String> = page["orders"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| o["order"]["order_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };

    // Every order but the poisoned one reaches the ERP, from both contracts' plugins.
    eventually("the 0.1.0 shop's and the good 0.2.0 orders reach the ERP", Duration::from_secs(30), async || {
        (order_ids().await == ["F1", "F2", "F4", "F5", "L1", "L2", "L3"]).then_some(())
    })
    .await;
    // After-sales: the ERP reads them flagged, acknowledges one, and reads the other alone.
    let after_sales = async |query: &str| -> Value {
        let path = format!("/v1/tenants/mixed/after-sales{query}");
        serve.call(Method::GET, &path, Some(&token), None).await.1
    };
    let page = eventually("the fixture shop's after-sales reach the ERP", Duration::from_secs(30), async || {
        let page = after_sales("?intercept=true").await;
        (page["after_sales"].as_array().map(Vec::len) == Some(2)).then_some(page)
    })
    .await;
    let first = &page["after_sales"][0];
    assert_eq!(
        (first["after_sale"]["after_sale_id"].as_str(), first["after_sale"]["order_id"].as_str()),
        (Some("A1"), Some("F1")),
        "{page}"
    );
    assert_eq!((first["intercept"].as_bool(), first["version"].as_u64()), (Some(true), Some(1)), "{page}");
    assert_eq!(first["after_sale"]["kind"], "refund_before_shipping");
    let ack = json!([{"platform": "fixture", "shop_id": "fx", "after_sale_id": "A1", "version": 1}]);
    let (status, acked) = serve.call(Method::POST, "/v1/tenants/mixed/after-sales/ack", Some(&token), Some(ack)).await;
    assert_eq!((status, acked[0]["outcome"].as_str()), (200, Some("synced")), "{acked}");
    let left: Vec<Value> = after_sales("").await["after_sales"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["after_sale"]["after_sale_id"].clone())
        .collect();
    assert_eq!(left, [json!("A2")]);
    let (status, refused) = serve.call(Method::GET, "/v1/tenants/mixed/after-sales?limit=0", Some(&token), None).await;
    assert_eq!(status, 400, "{refused}");

    let (_, q) = serve.call(Method::GET, "/v1/tenants/mixed/quarantine", Some(&token), None).await;
    let records = q["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{q}");
    let poisoned = &records[0];
    assert_eq!(
        (poisoned["shop_id"].as_str(), poisoned["stream"].as_str(), poisoned["id"].as_str()),
        (Some("fx"), Some("orders"), Some("F3"))
    );
    assert_eq!(poisoned["field"], "price", "{poisoned}");
    assert!(poisoned["reason"].as_str().unwrap().contains("1,990.00"), "the reason says what came: {poisoned}");
    assert_eq!(poisoned["plugin"], "fixture");
    let excerpt = poisoned["excerpt"].as_str().unwrap();
    assert!(excerpt.contains("\"id\":\"F3\"") && !excerpt.contains("张三"), "receiver data is masked: {excerpt}");
    let (code, listed, err) = serve.cli(&token, &["quarantine", "list", "mixed", "--shop", "fx"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(listed["records"][0]["id"], "F3", "{listed}");
    let metrics = serve.metrics().await;
    assert_eq!(metric_sum(&metrics, "wharf_quarantined", &["tenant=\"mixed\"", "shop=\"fx\""]), 1.0, "{metrics}");
    assert_eq!(
        metric_sum(&metrics, "wharf_quarantined_by_field", &["shop=\"fx\"", "field=\"price\""]),
        1.0,
        "{metrics}"
    );
    let (status, _) = serve
        .call(
            Method::POST,
            "/v1/tenants/mixed/quarantine/fx/orders/F9/discard",
            Some(&token),
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) =
        serve.call(Method::POST, "/v1/tenants/mixed/quarantine/fx/stock/F3/retry", Some(&token), None).await;
    assert_eq!(status, 409, "only orders are fetched one by one");

    // The fixed version: uploaded, activated; the next round fetches F3 again and it flows.
    let next = plugin_dir().join("next").join("fixture.wasm");
    let (code, second, err) = serve.cli(OPERATOR, &["plugin", "upload", next.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let version = second["version"].as_str().unwrap().to_owned();
    let (code, _, err) = serve.cli(OPERATOR, &["plugin", "activate", "fixture", &version]);
    assert_eq!(code, 0, "{err}");
    eventually("the poisoned order flows once the fixed version serves", Duration::from_secs(30), async || {
        (order_ids().await == ["F1", "F2", "F3", "F4", "F5", "L1", "L2", "L3"]).then_some(())
    })
    .await;
    let (_, q) = serve.call(Method::GET, "/v1/tenants/mixed/quarantine", Some(&token), None).await;
    assert_eq!(q["records"], json!([]), "{q}");
    // Once: a few more rounds change nothing, and F3 is at its first version.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, page) =
        serve.call(Method::GET, "/v1/tenants/mixed/orders?limit=1000&order_id=F3", Some(&token), None).await;
    let f3: Vec<&Value> =
        page["orders"].as_array().unwrap().iter().filter(|o| o["order"]["order_id"] == "F3").collect();
    assert_eq!(f3.len(), 1, "{page}");
    assert_eq!(
        (f3[0]["version"].as_u64(), f3[0]["order"]["lines"][0]["unit_price"].as_i64()),
        (Some(1), Some(199_000))
    );
    assert!(serve.log().contains("order set aside in quarantine"), "the host logs the rejection");
}

fn with_custom_section(wasm: &[u8]) -> Vec<u8> {
    let (name, payload) = (b"note", b"rebuilt");
    let mut out = wasm.to_vec();
    out.push(0); // custom section id
    out.push((1 + name.len() + payload.len()) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(payload);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_validates_swaps_pins_and_remembers() {
    use wharf_runtime::registry::{
        Candidate, FolderWatch, Policy, Registry, RegistryError, Source, TrustedKeys, signature,
    };
    use wharf_runtime::store::Store;
    use wharf_runtime::{Sandbox, limits::Limits};

    let dir = std::env::temp_dir().join(format!("wharf-registry-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let v1_wasm = std::fs::read(plugin_path("taobao")).unwrap();
    let v2_wasm = std::fs::read(plugin_dir().join("next").join("taobao.wasm")).unwrap();
    let keys = signature::generate().unwrap();
    let policy = Policy {
        require_signed: true,
        trusted: TrustedKeys::parse(std::slice::from_ref(&keys.public)).unwrap(),
        ..Policy::default()
    };
    let hosts: Vec<String> = TAOBAO_HOSTS.map(String::from).to_vec();
    let upload = |wasm: &'static [u8], signature: Option<&'static str>, activate| Candidate {
        wasm,
        signature,
        source: Source::Upload,
        grant: &[],
        activate,
    };
    let leak = |v: Vec<u8>| -> &'static [u8] { Box::leak(v.into_boxed_slice()) };
    let (v1_wasm, v2_wasm) = (leak(v1_wasm), leak(v2_wasm));
    let sign =
        |wasm: &[u8]| -> &'static str { Box::leak(signature::sign(&keys.secret, wasm).unwrap().into_boxed_str()) };

    let store = Store::open(&dir).unwrap();
    let sandbox = Sandbox::new(Limits::default(), Some(cache_dir())).unwrap();
    let registry = Registry::open(sandbox.clone(), store.clone(), &dir, policy.clone()).await.unwrap();
    let rejected = |r: Result<_, RegistryError>| match r {
        Err(RegistryError::Rejected(why)) => why,
        other => panic!("expected a rejection, got {:?}", other.map(|a: wharf_runtime::registry::Admitted| a.version)),
    };
    // Validation: signatures when required, a real component, granted hosts.
    assert!(rejected(registry.admit(upload(v1_wasm, None, true)).await).contains("requires signed plugins"));
    let other = signature::generate().unwrap();
    let forged: &'static str = Box::leak(signature::sign(&other.secret, v1_wasm).unwrap().into_boxed_str());
    assert!(rejected(registry.admit(upload(v1_wasm, Some(forged), true)).await).contains("signature"));
    let junk = leak(b"\0asm not really".to_vec());
    assert!(rejected(registry.admit(upload(junk, Some(sign(junk)), true)).await).contains("component"));
    assert!(rejected(registry.admit(upload(v1_wasm, Some(sign(v1_wasm)), true)).await).contains("not granted"));
    let granted = |wasm, activate| Candidate {
        wasm,
        signature: Some(sign(wasm)),
        source: Source::Upload,
        grant: &hosts,
        activate,
    };
    let first = registry.admit(granted(v1_wasm, false)).await.unwrap();
    assert!(first.active && !first.known, "a name's first version serves at once");
    assert!(registry.versions("taobao").unwrap()[0].signed_by.as_deref() == Some(keys.key_id.as_str()));
    assert!(registry.admit(granted(v1_wasm, false)).await.unwrap().known, "the same bytes again change nothing");
    let rebuilt = leak(with_custom_section(v1_wasm));
    match registry.admit(granted(rebuilt, false)).await {
        Err(RegistryError::Conflict(why)) => assert!(why.contains("new version"), "{why}"),
        other => panic!("same version, other bytes: {:?}", other.map(|a| a.sha256)),
    }
    let second = registry.admit(granted(v2_wasm, false)).await.unwrap();
    assert!(!second.active);
    let (v1, v2) = (first.version, second.version);

    // Activation, roll back and pins are lookups: what serves changes for the next call.
    let serving = |tenant: &str| registry.plugin("taobao", tenant).unwrap().descriptor().version.clone();
    assert_eq!(serving("acme"), v1);
    let in_flight = registry.plugin("taobao", "acme").unwrap();
    assert_eq!(registry.activate("taobao", &v2).await.unwrap(), (v2.clone(), Some(v1.clone())));
    assert_eq!(
        (serving("acme"), in_flight.descriptor().version.clone()),
        (v2.clone(), v1.clone()),
        "a held handle keeps its version"
    );
    assert_eq!(registry.rollback("taobao").await.unwrap(), (v1.clone(), Some(v2.clone())));
    registry.pin("taobao", "canary", &v2).await.unwrap();
    assert_eq!((serving("acme"), serving("canary")), (v1.clone(), v2.clone()));
    assert!(matches!(registry.activate("taobao", "9.9.9").await, Err(RegistryError::NotFound(_))));
    assert!(
        matches!(registry.set_grants("taobao", vec![]).await, Err(RegistryError::Conflict(_))),
        "a serving version needs its hosts"
    );

    // A restart serves what served before, pins included.
    drop(registry);
    drop(store);
    let store = Store::open(&dir).unwrap();
    let registry = Registry::open(sandbox.clone(), store.clone(), &dir, policy).await.unwrap();
    let serving = |tenant: &str| registry.plugin("taobao", tenant).unwrap().descriptor().version.clone();
    assert_eq!((serving("acme"), serving("canary")), (v1.clone(), v2.clone()));

    // The watched folder: a dropped file (signed beside it) is admitted and serves.
    let folder = dir.join("drop");
    std::fs::create_dir_all(&folder).unwrap();
    let mut watch = FolderWatch::new(&folder);
    assert!(watch.scan(&registry, false).await.is_empty());
    registry.unpin("taobao", "canary").await.unwrap();
    std::fs::write(folder.join("taobao-next.wasm"), v2_wasm).unwrap();
    std::fs::write(folder.join("taobao-next.wasm.sig"), sign(v2_wasm)).unwrap();
    let found = watch.scan(&registry, true).await;
    assert!(found.is_empty(), "a file is taken once it looked the same twice");
    let found = watch.scan(&registry, true).await;
    assert_eq!(found.len(), 1);
    assert!(found[0].1.as_ref().unwrap().active);
    assert_eq!(serving("acme"), v2);
    assert!(watch.scan(&registry, true).await.is_empty(), "an unchanged file is not taken again");

    // A new plugin dropped into the folder grants itself nothing: it is kept, serves nothing,
    // and serves once the operator grants the hosts it declares.
    let hostile = std::fs::read(plugin_path("hostile")).unwrap();
    std::fs::write(folder.join("hostile.wasm"), &hostile).unwrap();
    std::fs::write(folder.join("hostile.wasm.sig"), sign(&hostile)).unwrap();
    let found = watch.scan(&registry, false).await;
    let admitted = found[0].1.as_ref().unwrap();
    assert!(!admitted.active, "{admitted:?}");
    assert_eq!(admitted.awaiting_grant, ["allowed.test"]);
    assert!(registry.plugin("hostile", "acme").is_none(), "it serves nothing");
    assert!(registry.grants("hostile").is_empty(), "and was granted nothing");
    let (summary, _) = registry.show("hostile").unwrap();
    assert_eq!((summary.active.as_str(), summary.awaiting_grant.as_deref()), ("", Some(admitted.version.as_str())));
    assert!(
        matches!(registry.activate("hostile", &admitted.version).await, Err(RegistryError::Conflict(_))),
        "not before the grant"
    );
    registry.set_grants("hostile", vec!["allowed.test".into()]).await.unwrap();
    assert_eq!(
        registry.plugin("hostile", "acme").unwrap().descriptor().version,
        admitted.version,
        "granted, it serves"
    );
    assert_eq!(registry.show("hostile").unwrap().0.awaiting_grant, None);
}

/// `wharf serve` answering on `dir` (started by [`Serve::start`]): waits up to `within` for
/// `/readyz`.
async fn ready(serve: &Serve, within: Duration) {
    eventually("wharf serve answers /readyz", within, async || {
        let r = reqwest::get(format!("{}/readyz", serve.base)).await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
}

/// Starts `wharf serve` on `dir` and waits until it is ready.
async fn restart(dir: &Path) -> Serve {
    restart_on(dir, &Store::Sled).await
}

/// Starts `wharf serve` on `dir` with its state in `store`, and waits until it is ready.
async fn restart_on(dir: &Path, store: &Store) -> Serve {
    let serve = Serve::start_node(dir, "serve", store);
    ready(&serve, Duration::from_secs(60)).await;
    serve
}

/// Where a test's hosts keep their state.
enum Store {
    Sled,
    Postgres(String),
}

/// A PostgreSQL server of the test's own, with an empty database `wharf` on it.
async fn postgres() -> (wharf_sim::postgres::Postgres, Store) {
    let server = tokio::task::spawn_blocking(wharf_sim::postgres::Postgres::start).await.unwrap().unwrap();
    let url = server.url();
    (server, Store::Postgres(url))
}

/// Uploads the Taobao plugin (`wasm`) with the hosts it declares granted; its version.
fn upload_taobao(serve: &Serve, wasm: &Path) -> String {
    let mut upload = vec!["plugin", "upload", wasm.to_str().unwrap()];
    for host in TAOBAO_HOSTS {
        upload.extend(["--grant", host]);
    }
    let (code, admitted, err) = serve.cli(OPERATOR, &upload);
    assert_eq!(code, 0, "{err}");
    admitted["version"].as_str().unwrap().to_owned()
}

async fn simulator(orders: usize) -> TaobaoSim {
    TaobaoSim::spawn_from_async(SimConfig { orders, seed: 14, modified_span_ms: 3_600_000, ..SimConfig::default() })
        .await
        .unwrap()
}

/// What the API answered 200 (201) is on disk: a SIGKILL sent the moment the answer arrives
/// loses none of it. Switches, tokens and queued stock, each followed by a kill -9 and a
/// restart on the same data folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_sigkill_right_after_the_answer() {
    acknowledged_writes_survive_a_sigkill(&Store::Sled, "sled").await;
}

/// The same on PostgreSQL: every commit is durable when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_acknowledged_writes_survive_a_sigkill_right_after_the_answer() {
    let (_server, store) = postgres().await;
    acknowledged_writes_survive_a_sigkill(&store, "pg").await;
}

async fn acknowledged_writes_survive_a_sigkill(store: &Store, name: &str) {
    let restart = async |dir: &Path| restart_on(dir, store).await;
    let sim = simulator(5).await;
    let dir = std::env::temp_dir().join(format!("wharf-durable-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut serve = restart(&dir).await;
    upload_taobao(&serve, &plugin_path("taobao"));
    let (status, body) =
        serve.call(Method::POST, "/v1/tenants", Some(OPERATOR), Some(tenant_doc("acme", &sim, 1, json!({})))).await;
    assert_eq!(status, 201, "{body}");
    const ROUNDS: usize = 3;
    let mut tokens = Vec::new();
    for round in 0..ROUNDS {
        let path = format!("/v1/tenants/acme/skus/SW-{round}/stock");
        let (status, body) = serve.call(Method::PUT, &path, Some(OPERATOR), Some(json!({"on": false}))).await;
        assert_eq!(status, 200, "{body}");
        drop(serve); // SIGKILL, the moment the answer is in
        serve = restart(&dir).await;

        let name = format!("erp-{round}");
        let (status, body) =
            serve.call(Method::POST, "/v1/tenants/acme/tokens", Some(OPERATOR), Some(json!({"name": name}))).await;
        assert_eq!(status, 201, "{body}");
        tokens.push(body["token"].as_str().unwrap().to_owned());
        drop(serve);
        serve = restart(&dir).await;

        let stock = json!([{"outer_sku_id": format!("ST-{round}"), "quantity": 7, "version": 1_000 + round}]);
        let (status, body) =
            serve.call(Method::POST, "/v1/tenants/acme/updates/stock", Some(OPERATOR), Some(stock)).await;
        assert_eq!((status, &body["queued"]), (200, &json!(1)), "{body}");
        drop(serve);
        serve = restart(&dir).await;
    }
    let (status, switches) = serve.call(Method::GET, "/v1/tenants/acme/switches", Some(OPERATOR), None).await;
    assert_eq!(status, 200);
    for (round, token) in tokens.iter().enumerate() {
        assert!(switches.to_string().contains(&format!("\"SW-{round}\"")), "switch {round} kept: {switches}");
        let (status, body) = serve.call(Method::GET, "/v1/tenants/acme/switches", Some(token), None).await;
        assert_eq!(status, 200, "token {round} kept: {body}");
        let stock = json!([{"outer_sku_id": format!("ST-{round}"), "quantity": 7, "version": 1_000 + round}]);
        let (status, body) =
            serve.call(Method::POST, "/v1/tenants/acme/updates/stock", Some(OPERATOR), Some(stock)).await;
        assert_eq!(
            (status, &body["queued"]),
            (200, &json!(0)),
            "stock update {round} kept (sent again, nothing new): {body}"
        );
    }
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One idempotency key, one content: SIGKILL the host the moment the ERP has received a
/// delivery (before the host hears the answer), change orders while it is down, restart it,
/// several times over. The ERP never gets a key again with another order under it, and ends
/// holding every order in its latest state. Here the webhook takes batches of up to 3 events
/// (the route's `batch`, set through the API): a batch sent again after the kill may be made up
/// of other events, each under its own key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_right_after_a_delivery_never_gives_one_key_two_contents() {
    a_sigkill_after_a_delivery(&Store::Sled, "sled", json!({"batch": 3})).await;
}

/// The same on PostgreSQL, one event per POST (the route's default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_a_sigkill_right_after_a_delivery_never_gives_one_key_two_contents() {
    let (_server, store) = postgres().await;
    a_sigkill_after_a_delivery(&store, "pg", json!({})).await;
}

const HOOK_SECRET: &str = "wharf-e2e-hook-secret-0123456789";

/// `route` is added to the tenant's webhook route.
async fn a_sigkill_after_a_delivery(store: &Store, name: &str, route: Value) {
    const ROUNDS: usize = 4;
    const ORDERS: usize = 8;
    let restart = async |dir: &Path| restart_on(dir, store).await;
    let sim = simulator(ORDERS).await;
    let erp = wharf_tests::webhook_erp::WebhookErp::start(HOOK_SECRET.as_bytes()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("wharf-one-key-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut serve = restart(&dir).await;
    upload_taobao(&serve, &plugin_path("taobao"));
    let mut doc = tenant_doc("acme", &sim, 1, json!({}));
    doc.as_object_mut().unwrap().remove("pull");
    doc["webhook"] = json!({"url": erp.url, "secret": HOOK_SECRET});
    doc["webhook"].as_object_mut().unwrap().extend(route.as_object().unwrap().clone());
    let (status, body) = serve.call(Method::POST, "/v1/tenants", Some(OPERATOR), Some(doc)).await;
    assert_eq!(status, 201, "{body}");
    for round in 0..ROUNDS {
        erp.state().kill_on_delivery = Some(serve.process.pid());
        if round > 0 {
            sim.change_orders(3);
        }
        eventually("a delivery reaches the ERP and the host is killed", Duration::from_secs(60), async || {
            (!serve.process.alive()).then_some(())
        })
        .await;
        // Every order moves on while the host is down, the one just delivered with them.
        sim.change_orders(ORDERS);
        serve = restart(&dir).await;
    }
    let expected = latest_on_platform(&sim, &["tb1"]);
    erp_ends_with(&erp, &expected, Duration::from_secs(60)).await;
    assert_eq!(erp.state().bad_signatures, 0);
    let batched = route.get("batch").is_some();
    assert_eq!(erp.state().batches > 0, batched, "batches only where the route asks for them");
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

/// On PostgreSQL, a database that goes away turns `/readyz` 503 (nothing can be answered
/// stored while it is gone), and the host keeps running rather than exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_a_database_that_goes_away_turns_readyz_503() {
    let (mut server, store) = postgres().await;
    let dir = std::env::temp_dir().join(format!("wharf-pg-away-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut serve = restart_on(&dir, &store).await;
    tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
    eventually("/readyz turns 503 once the database is gone", Duration::from_secs(30), async || {
        let r = reqwest::get(format!("{}/readyz", serve.base)).await.ok()?;
        (r.status() == 503).then_some(())
    })
    .await;
    assert!(serve.process.alive(), "the host runs on: {}", serve.log());
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Three `wharf serve` nodes on one PostgreSQL database, live traffic on the simulator, and one
/// node killed with SIGKILL ten times at random moments and started again: no order lost, no
/// idempotency key with two contents at the ERP, every order there in its latest version, and
/// every shop's lease held by exactly one live node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_three_loses_nothing_when_nodes_are_killed_at_random() {
    const NODES: usize = 3;
    const SHOPS: usize = 3;
    const ORDERS: usize = 10;
    const KILLS: usize = 10;
    let (server, store) = postgres().await;
    let Store::Postgres(url) = &store else { unreachable!("postgres() gives a PostgreSQL store") };
    let sim = simulator(ORDERS).await;
    let erp = wharf_tests::webhook_erp::WebhookErp::start(HOOK_SECRET.as_bytes()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("wharf-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let node = |i: usize| format!("node{i}");
    let start = async |i: usize| {
        let serve = Serve::start_node(&dir, &node(i), &store);
        ready(&serve, Duration::from_secs(60)).await;
        serve
    };
    let mut nodes = vec![start(0).await];
    upload_taobao(&nodes[0], &plugin_path("taobao"));
    let mut doc = tenant_doc("acme", &sim, SHOPS, json!({}));
    doc.as_object_mut().unwrap().remove("pull");
    doc["webhook"] = json!({"url": erp.url, "secret": HOOK_SECRET});
    let (status, body) = nodes[0].call(Method::POST, "/v1/tenants", Some(OPERATOR), Some(doc)).await;
    assert_eq!(status, 201, "{body}");
    for i in 1..NODES {
        nodes.push(start(i).await);
    }

    // What one node's API changes, the others serve: a version activated on node 0 is the
    // active one on node 2 too, and a tenant made on node 1 runs on the others (node 1 is
    // killed once the tenant's orders flow, so the node that takes them over learned of the
    // tenant from the store).
    let next = upload_taobao(&nodes[0], &plugin_dir().join("next").join("taobao.wasm"));
    let (status, body) = nodes[0]
        .call(Method::POST, "/v1/plugins/taobao/activate", Some(OPERATOR), Some(json!({"version": next})))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("node 2 serves the version activated on node 0", Duration::from_secs(30), async || {
        let (_, body) = nodes[2].call(Method::GET, "/v1/plugins/taobao", Some(OPERATOR), None).await;
        (body["active"] == json!(next)).then_some(())
    })
    .await;
    let beta_sim = simulator(4).await;
    let beta_erp = wharf_tests::webhook_erp::WebhookErp::start(HOOK_SECRET.as_bytes()).await.unwrap();
    let mut beta = tenant_doc("beta", &beta_sim, 1, json!({}));
    beta.as_object_mut().unwrap().remove("pull");
    beta["webhook"] = json!({"url": beta_erp.url, "secret": HOOK_SECRET});
    let (status, body) = nodes[1].call(Method::POST, "/v1/tenants", Some(OPERATOR), Some(beta)).await;
    assert_eq!(status, 201, "{body}");
    eventually("the new tenant's orders flow", Duration::from_secs(60), async || {
        (!beta_erp.state().accepted.is_empty()).then_some(())
    })
    .await;
    drop(std::mem::replace(&mut nodes[1], Serve::start_node(&dir, &node(1), &store)));
    ready(&nodes[1], Duration::from_secs(60)).await;
    beta_sim.change_orders(4);

    // Random moments, repeatable from the seed printed on failure.
    let mut seed = u64::from(std::process::id()) | 1;
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    // Every other kill takes the node that runs the most shops, so their work moves.
    let db = wharf_runtime::store::backend::postgres::Db::open(url).unwrap();
    let mut ids: Vec<Option<String>> = vec![None; NODES];
    for kill in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(200 + next(4_000))).await;
        if kill % 2 == 0 {
            sim.change_orders(3);
        }
        for (i, n) in nodes.iter().enumerate() {
            ids[i] = node_id(&n.log());
        }
        let leases = db.leases().unwrap();
        let holder = (0..NODES).max_by_key(|i| leases.iter().filter(|l| l.3 && Some(&l.1) == ids[*i].as_ref()).count());
        let victim = match holder {
            Some(h) if kill % 2 == 0 => h,
            _ => next(NODES as u64) as usize,
        };
        eprintln!("kill {kill}: node{victim}");
        drop(std::mem::replace(&mut nodes[victim], Serve::start_node(&dir, &node(victim), &store)));
        ready(&nodes[victim], Duration::from_secs(60)).await;
    }
    sim.change_orders(ORDERS);
    let shops: Vec<String> = (1..=SHOPS).map(|i| format!("tb{i}")).collect();
    let shops: Vec<&str> = shops.iter().map(String::as_str).collect();
    // A killed node's leases expire after LEASE_TTL (15 s) before another node resumes them.
    erp_ends_with(&erp, &latest_on_platform(&sim, &shops), Duration::from_secs(120)).await;
    assert_eq!(erp.state().bad_signatures, 0);
    erp_ends_with(&beta_erp, &latest_on_platform(&beta_sim, &["tb1"]), Duration::from_secs(60)).await;

    // Each live node's id is on its last "serving" line; every shop's lease is live and one
    // of theirs.
    let live: Vec<String> = nodes.iter().map(|n| node_id(&n.log()).expect("each node logged its id")).collect();
    let leases = db.leases().unwrap();
    eprintln!("live nodes {live:?}; leases (name, owner, token, live): {leases:#?}");
    for i in 1..=SHOPS {
        let name = format!("shop/acme/tb{i}");
        let lease = leases.iter().find(|l| l.0 == name).unwrap_or_else(|| panic!("no lease {name}: {leases:?}"));
        assert!(lease.3 && live.contains(&lease.1), "{name} is held by a live node ({live:?}): {lease:?}");
    }
    drop(nodes);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each order's `updated_at` on the platform, by (shop, order id), for `shops` all on `sim`.
fn latest_on_platform(sim: &TaobaoSim, shops: &[&str]) -> BTreeMap<(String, String), Value> {
    let trades = sim.trades();
    let mut out = BTreeMap::new();
    for shop in shops {
        for t in &trades {
            let at = wharf_sim::taobao::canonical_order(t, shop)["updated_at"].clone();
            out.insert(((*shop).to_owned(), t.tid_string()), at);
        }
    }
    out
}

/// Waits until `erp` holds every order of `expected` in that state (the `updated_at` of the
/// highest version it accepted), failing at once if a key ever came back with other content.
async fn erp_ends_with(
    erp: &wharf_tests::webhook_erp::WebhookErp,
    expected: &BTreeMap<(String, String), Value>,
    limit: Duration,
) {
    let latest = |erp: &wharf_tests::webhook_erp::ErpState| {
        let mut out: BTreeMap<(String, String), (u64, Value)> = BTreeMap::new();
        for doc in erp.accepted.values() {
            let order = &doc["order"];
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            let key = (text(&order["shop_id"]), text(&order["order_id"]));
            let version = doc["version"].as_u64().unwrap_or(0);
            if out.get(&key).is_none_or(|(v, _)| *v < version) {
                out.insert(key, (version, order["updated_at"].clone()));
            }
        }
        out.into_iter().map(|(k, (_, at))| (k, at)).collect::<BTreeMap<_, _>>()
    };
    eventually("the ERP holds every order in its latest state", limit, async || {
        let erp = erp.state();
        assert!(erp.conflicts.is_empty(), "keys that came back with another order: {:?}", erp.conflicts);
        (latest(&erp) == *expected).then_some(())
    })
    .await;
}

/// The id a node's log gives on its last "serving" line (a restarted node has a new one).
fn node_id(log: &str) -> Option<String> {
    let line: Value = serde_json::from_str(log.lines().rev().find(|l| l.contains("\"serving\""))?).ok()?;
    line["fields"]["node"].as_str().or(line["node"].as_str()).map(str::to_owned)
}

/// What served before a restart serves after it: a version activated over the API, and a
/// roll back, both outlive a kill -9, even with other versions' files in the plugin folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_versions_survive_restarts_as_they_were() {
    let dir = std::env::temp_dir().join(format!("wharf-versions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (taobao, next) = (plugin_path("taobao"), plugin_dir().join("next").join("taobao.wasm"));
    let mut serve = restart(&dir).await;
    let v1 = upload_taobao(&serve, &taobao);
    let v2 = upload_taobao(&serve, &next);
    // The folder holds the first version, as it did when the host was set up.
    std::fs::copy(&taobao, dir.join("plugins").join("taobao.wasm")).unwrap();
    let active = async |serve: &Serve| {
        let (status, body) = serve.call(Method::GET, "/v1/plugins/taobao", Some(OPERATOR), None).await;
        assert_eq!(status, 200, "{body}");
        body["active"].as_str().map(str::to_owned)
    };
    let (status, body) =
        serve.call(Method::POST, "/v1/plugins/taobao/activate", Some(OPERATOR), Some(json!({"version": v2}))).await;
    assert_eq!(status, 200, "{body}");
    drop(serve);
    serve = restart(&dir).await;
    assert_eq!(active(&serve).await.as_deref(), Some(v2.as_str()), "the activated version serves after a restart");

    // Now the folder holds the second version too; a roll back outlives a restart all the same.
    std::fs::copy(&next, dir.join("plugins").join("taobao-next.wasm")).unwrap();
    let (status, body) = serve.call(Method::POST, "/v1/plugins/taobao/rollback", Some(OPERATOR), None).await;
    assert_eq!(status, 200, "{body}");
    drop(serve);
    serve = restart(&dir).await;
    assert_eq!(active(&serve).await.as_deref(), Some(v1.as_str()), "the rolled-back-to version serves after a restart");
    drop(serve);
    serve = restart(&dir).await;
    assert_eq!(active(&serve).await.as_deref(), Some(v1.as_str()), "and after the next one");
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", at.to_str().unwrap()])
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "this test fills a small tmpfs and needs to mount one (run it as root, or where mount -t tmpfs is \
             allowed): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").args(["-l", self.0.to_str().unwrap()]).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Fills the file system of `path` with `path` itself, until it takes no more.
fn fill(path: &Path) {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 << 10];
    while file.write_all(&chunk).and_then(|()| file.sync_all()).is_ok() {}
}

/// A full data folder: writes are refused (503, nothing acknowledged that is not kept) and
/// `/readyz` answers 503 with the reason; once space returns the host takes writes again by
/// itself, and nothing acknowledged before is lost. A stop while the disk is full exits 0 and
/// says its last flush failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_turns_readyz_503_and_the_host_resumes_by_itself_once_space_returns() {
    let sim = simulator(20).await;
    let dir = std::env::temp_dir().join(format!("wharf-full-disk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let _tmpfs = Tmpfs::mount(&data, "16m");
    let mut serve = restart(&dir).await;
    upload_taobao(&serve, &plugin_path("taobao"));
    let (status, body) =
        serve.call(Method::POST, "/v1/tenants", Some(OPERATOR), Some(tenant_doc("acme", &sim, 1, json!({})))).await;
    assert_eq!(status, 201, "{body}");
    let orders = async |serve: &Serve| {
        let (status, body) = serve.call(Method::GET, "/v1/tenants/acme/orders?limit=100", Some(OPERATOR), None).await;
        (status == 200).then(|| body["orders"].as_array().map_or(0, Vec::len))
    };
    eventually("the shop's 20 orders are stored", Duration::from_secs(60), async || {
        (orders(&serve).await == Some(20)).then_some(())
    })
    .await;
    let switch = async |serve: &Serve, sku: &str| {
        let path = format!("/v1/tenants/acme/skus/{sku}/stock");
        serve.call(Method::PUT, &path, Some(OPERATOR), Some(json!({"on": false}))).await
    };
    assert_eq!(switch(&serve, "BEFORE").await.0, 200);

    let filler = data.join("filler");
    fill(&filler);
    let mut refused = 0;
    let why = eventually("writes refused and /readyz 503", Duration::from_secs(60), async || {
        let (status, body) = switch(&serve, &format!("FULL-{refused}")).await;
        if status != 200 {
            assert_eq!(status, 503, "{body}");
            refused += 1;
        }
        let r = reqwest::get(format!("{}/readyz", serve.base)).await.ok()?;
        let (code, text) = (r.status(), r.text().await.unwrap_or_default());
        (refused > 0 && code == 503).then_some(text)
    })
    .await;
    assert!(why.contains("store cannot write"), "{why}");

    std::fs::remove_file(&filler).unwrap();
    eventually("the host takes writes again", Duration::from_secs(60), async || {
        let r = reqwest::get(format!("{}/readyz", serve.base)).await.ok()?;
        (r.status() == 200 && switch(&serve, "AFTER").await.0 == 200).then_some(())
    })
    .await;
    let kept = async |serve: &Serve| {
        let (_, switches) = serve.call(Method::GET, "/v1/tenants/acme/switches", Some(OPERATOR), None).await;
        let text = switches.to_string();
        assert!(text.contains("\"BEFORE\"") && text.contains("\"AFTER\""), "{text}");
        assert_eq!(orders(serve).await, Some(20), "every stored order is still there");
    };
    kept(&serve).await;

    // Full again, then a stop: it goes well (exit 0) and says what it could not flush. sled
    // writes into log segments the disk gave it before for a while: big updates use them up.
    fill(&filler);
    let mut batch = 0;
    eventually("/readyz 503 again", Duration::from_secs(60), async || {
        batch += 1;
        let stock: Vec<Value> =
            (0..2_000).map(|i| json!({"outer_sku_id": format!("FILL-{batch}-{i}"), "quantity": 1})).collect();
        let _ = serve.call(Method::POST, "/v1/tenants/acme/updates/stock", Some(OPERATOR), Some(json!(stock))).await;
        let r = reqwest::get(format!("{}/readyz", serve.base)).await.ok()?;
        (r.status() == 503).then_some(())
    })
    .await;
    // Reads of a database whose writes failed answer (an error, say), never spin: /metrics
    // counts queues.
    let metrics =
        tokio::time::timeout(Duration::from_secs(60), serve.call(Method::GET, "/metrics", Some(OPERATOR), None));
    assert!(metrics.await.is_ok(), "/metrics answers while the store cannot write");
    let exit = serve.process.terminate(Duration::from_secs(60)).expect("serve exits on SIGTERM");
    assert_eq!(exit.code(), Some(0), "{}", serve.log());
    assert!(serve.log().contains("the last flush failed"), "{}", serve.log());
    std::fs::remove_file(&filler).unwrap();
    drop(serve);
    let serve = restart(&dir).await;
    kept(&serve).await;
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A host with nothing to run does not start: an empty file, or one with no tenant, over a
/// store holding none made over the API, is refused (exit 2) with the cause and both fixes, and
/// nothing is made on disk for it. `allow_empty = true` says the operator means it (every
/// other test here starts that way); a tenant-less file over a store that holds tenants made
/// over the API is a host that serves them, and starts as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_with_nothing_to_run_is_refused_unless_its_file_allows_it() {
    let dir = std::env::temp_dir().join(format!("wharf-empty-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    let globals = |port: u16| {
        format!("data_dir = \"data\"\nplugin_dir = \"plugins\"\nlisten = \"127.0.0.1:{port}\"\nlog_format = \"json\"\n")
    };
    for (name, text) in [("empty.toml", String::new()), ("globals.toml", globals(free_port()))] {
        let config = dir.join(name);
        std::fs::write(&config, text).unwrap();
        let log = dir.join(format!("{name}.log"));
        let mut serve = ServeProcess::spawn(&config, &log, OPERATOR, 50);
        let start = Instant::now();
        while serve.alive() {
            assert!(start.elapsed() < Duration::from_secs(30), "{name}: wharf serve started with nothing to run");
            std::thread::sleep(Duration::from_millis(50));
        }
        let status = serve.terminate(Duration::from_secs(5)).expect("it has exited");
        let said = serve.log();
        assert_eq!(status.code(), Some(2), "{name}: {said}");
        for words in ["declares no tenant", "would serve nothing", "[tenants.<id>]", "allow_empty = true"] {
            assert!(said.contains(words), "{name}: {words:?} in {said}");
        }
        assert!(!dir.join("data").exists(), "{name}: a data folder was made for a host that did not start");
    }

    // The store holds a tenant made over the API: the same tenant-less file serves it.
    {
        let store = wharf_runtime::store::Store::open(&dir.join("data")).unwrap();
        let doc = json!({"id": "acme", "pull": {}, "shops": [{"id": "tb", "platform": "taobao", "plugin": "taobao"}]});
        store.tenants().put("acme", &doc).unwrap();
        store.flush().unwrap();
    }
    let port = free_port();
    let config = dir.join("globals.toml");
    std::fs::write(&config, globals(port)).unwrap();
    let mut serve = ServeProcess::spawn(&config, &dir.join("stored.log"), OPERATOR, 50);
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(serve.alive(), "it stopped: {}", serve.log());
        assert!(start.elapsed() < Duration::from_secs(60), "not ready: {}", serve.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = serve.terminate(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "{status:?}: {}", serve.log());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Receivers decrypted for waybills through `wharf serve`, from the Taobao, JD and Douyin
/// simulators through the real plugins: only a token granted decrypt gets them, they are the
/// platforms' plaintext (virtual numbers split), JD's access log is uploaded for every one,
/// each use is audited with the token, orders and reason; and afterwards not one plaintext
/// name, phone or address is in the data folder, the log or an orders export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decrypted_receivers_go_to_the_caller_only_and_every_use_is_audited() {
    use wharf_sim::world::{World, WorldOptions};
    let world = World::start(WorldOptions {
        platforms: ["taobao", "jd", "douyin"].map(str::to_owned).to_vec(),
        orders: 8,
        ..WorldOptions::default()
    })
    .unwrap();
    let dir = plugin_dir().join("../operate-decrypt");
    let _ = std::fs::remove_dir_all(&dir);
    let serve = Serve::start(&dir);
    ready(&serve, Duration::from_secs(20)).await;
    let sandbox = wharf_runtime::Sandbox::new(Default::default(), Some(cache_dir())).unwrap();
    let mut shops = Vec::new();
    for ws in world.shops() {
        // The operator grants the hosts the plugin declares.
        let path = plugin_path(&ws.plugin);
        let declared = sandbox.load_file(&path).await.unwrap().descriptor().http_hosts.clone();
        let mut upload = vec!["plugin", "upload", path.to_str().unwrap()];
        for host in &declared {
            upload.extend(["--grant", host.as_str()]);
        }
        let (code, _, err) = serve.cli(OPERATOR, &upload);
        assert_eq!(code, 0, "{err}");
        shops.push(json!({"id": ws.shop_id, "platform": ws.platform, "plugin": ws.plugin, "config": ws.config,
                          "credentials": ws.secrets, "grants": ws.hosts}));
    }
    let doc = json!({"id": "labels", "pull": {}, "schedule": {"orders": "1s"}, "shops": shops});
    let (status, body) = serve.call(Method::POST, "/v1/tenants", Some(OPERATOR), Some(doc)).await;
    assert_eq!(status, 201, "{body}");
    let orders = eventually("every shop's orders are stored", Duration::from_secs(60), async || {
        let (_, page) =
            serve.call(Method::GET, "/v1/tenants/labels/orders?any_sync=true&limit=1000", Some(OPERATOR), None).await;
        let orders = page["orders"].as_array().cloned().unwrap_or_default();
        let shops: std::collections::BTreeSet<&str> =
            orders.iter().filter_map(|o| o["order"]["shop_id"].as_str()).collect();
        (orders.len() >= 18 && shops.len() == 3).then_some(orders.clone())
    })
    .await;

    let refs: Vec<Value> =
        orders.iter().map(|o| json!({"shop_id": o["order"]["shop_id"], "order_id": o["order"]["order_id"]})).collect();
    let asked = json!({"orders": refs, "purpose": "waybill", "reason": "print run 42"});
    let (_, erp, _) = serve.cli(OPERATOR, &["token", "create", "labels", "--name", "erp"]);
    let (status, _) = serve
        .call(Method::POST, "/v1/tenants/labels/receivers/decrypt", erp["token"].as_str(), Some(asked.clone()))
        .await;
    assert_eq!(status, 403, "a token not granted decrypt");
    let (code, printer, err) = serve.cli(OPERATOR, &["token", "create", "labels", "--name", "printer", "--decrypt"]);
    assert_eq!(code, 0, "{err}");
    let printer = printer["token"].as_str().unwrap().to_owned();
    let (status, answers) =
        serve.call(Method::POST, "/v1/tenants/labels/receivers/decrypt", Some(&printer), Some(asked.clone())).await;
    assert_eq!(status, 200, "{answers}");

    let mut secrets = Vec::new();
    for a in answers.as_array().unwrap() {
        let (shop, order) = (a["shop_id"].as_str().unwrap(), a["order_id"].as_str().unwrap());
        let truth = match shop {
            "taobao-demo" => world.taobao().unwrap().plaintext_receiver(order.parse().unwrap()),
            "jd-demo" => world.jd().unwrap().plaintext_receiver(order),
            _ => world.douyin().unwrap().plaintext_receiver(order),
        };
        let Some(truth) = truth else {
            // An order the platform sent without a receiver reference: nothing to decrypt.
            assert_eq!(a["error"]["kind"], "not_found", "{shop} {order}: {a}");
            continue;
        };
        let r = &a["receiver"];
        assert_eq!(r["name"], truth.name.as_str(), "{shop} {order}: {a}");
        let phone = match r["phone_extension"].as_str() {
            Some(ext) => format!("{}-{ext}", r["phone"].as_str().unwrap()),
            None => r["phone"].as_str().unwrap().to_owned(),
        };
        assert_eq!(phone, truth.phone, "{shop} {order}: {a}");
        assert!(r["address"].as_str().unwrap().contains(&truth.address), "{shop} {order}: {a}");
        // What a leak scan looks for: names, whole numbers and addresses (an extension's few
        // digits alone would be found anywhere).
        secrets.extend(truth.secrets().into_iter().filter(|s| s.len() >= 6));
    }
    assert!(world.jd().unwrap().decrypts_not_logged().is_empty(), "JD hears of every decrypt");

    // Audited: who, which orders, why; and not the plaintext (the scan below reads it too).
    let (_, audit) = serve.call(Method::GET, "/v1/tenants/labels/audit", Some(&printer), None).await;
    let entries = audit["entries"].as_array().unwrap();
    let decrypted: Vec<&Value> = entries.iter().filter(|e| e["action"] == "receivers_decrypted").collect();
    assert_eq!(decrypted.len(), 1, "{audit}");
    let detail = &decrypted[0]["detail"];
    assert_eq!((detail["token"].as_str(), detail["reason"].as_str()), (Some("printer"), Some("print run 42")));
    assert_eq!(detail["orders"].as_array().unwrap().len(), orders.len(), "{detail}");
    assert!(entries.iter().any(|e| e["action"] == "token_granted_decrypt"), "{audit}");
    // The same from the CLI, for one order; the audit says so too.
    let jd_order = orders.iter().find(|o| o["order"]["shop_id"] == "jd-demo").unwrap()["order"]["order_id"].clone();
    let jd_order = jd_order.as_str().unwrap();
    let args = ["receivers", "labels", "--shop", "jd-demo", "--order", jd_order, "--reason", "reprint"];
    let (code, one, err) = serve.cli(&printer, &args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        one[0]["receiver"]["name"].as_str(),
        world.jd().unwrap().plaintext_receiver(jd_order).map(|r| r.name).as_deref()
    );
    let (code, audit_cli, err) = serve.cli(&printer, &["audit", "labels", "--limit", "5"]);
    assert_eq!(code, 0, "{err}");
    let last = audit_cli["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["action"].as_str(), last["detail"]["reason"].as_str()),
        (Some("receivers_decrypted"), Some("reprint"))
    );
    let export = reqwest::Client::new()
        .get(format!("{}/v1/tenants/labels/orders.xlsx?any_sync=true", serve.base))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    let export = export.bytes().await.unwrap().to_vec();
    let audit_text = format!("{audit}{audit_cli}").into_bytes();
    let mut scanned: Vec<(String, Vec<u8>)> =
        vec![("the log".into(), serve.log().into_bytes()), ("the audit".into(), audit_text)];
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(export)).unwrap();
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut part, &mut bytes).unwrap();
        scanned.push((format!("the export part {i}"), bytes));
    }
    drop(serve); // the store's files are complete once it stops
    for entry in walk(&dir.join("data")) {
        scanned.push((entry.display().to_string(), std::fs::read(&entry).unwrap_or_default()));
    }
    for (what, bytes) in &scanned {
        for s in &secrets {
            assert!(!contains(bytes, s.as_bytes()), "{s:?} is in {what}");
        }
    }
    assert!(secrets.len() >= 18 * 2, "the scan looked for something: {}", secrets.len());
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The console in a real browser (Debian's headless Chromium over WebDriver) against a running
/// `wharf serve` with a simulated Taobao shop: a tenant signs in with its token and sees its
/// orders arrive, switches stock off for one SKU and sees the next stock update held, sets a
/// hold and releases it, imports a stock sheet with one bad row and sees that row's reason,
/// replays a dead letter; the operator uploads a plugin version, activates it and rolls back;
/// and the tenant's token cannot reach another tenant's pages. A screenshot of each page is
/// written under `target/console-screenshots/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_a_browser_for_a_tenant_and_the_operator() {
    use wharf_tests::browser::Browser;
    let sim = TaobaoSim::spawn_from_async(SimConfig { orders: 12, seed: 17, ..SimConfig::default() }).await.unwrap();
    let dir = plugin_dir().join("../console-test");
    let _ = std::fs::remove_dir_all(&dir);
    let serve = Serve::start(&dir);
    ready(&serve, Duration::from_secs(20)).await;
    let taobao = plugin_path("taobao");
    let mut upload = vec!["plugin", "upload", taobao.to_str().unwrap()];
    for host in TAOBAO_HOSTS {
        upload.extend(["--grant", host]);
    }
    let (code, admitted, err) = serve.cli(OPERATOR, &upload);
    assert_eq!(code, 0, "{err}");
    let v1 = admitted["version"].as_str().unwrap().to_owned();
    let mut acme = tenant_doc("acme", &sim, 1, json!({}));
    // Every update goes out each second, so the page sees what the engine did.
    acme["schedule"] = json!({"orders": "1s", "stock": "1s", "invoices": "1s"});
    let (status, body) = serve.call(Method::POST, "/v1/tenants", Some(OPERATOR), Some(acme)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) =
        serve.call(Method::POST, "/v1/tenants", Some(OPERATOR), Some(tenant_doc("beta", &sim, 1, json!({})))).await;
    assert_eq!(status, 201, "{body}");
    let (_, made, _) = serve.cli(OPERATOR, &["token", "create", "acme", "--name", "merchant"]);
    let token = made["token"].as_str().unwrap().to_owned();
    let orders = eventually("orders stored", Duration::from_secs(30), async || {
        let (_, page) = serve.call(Method::GET, "/v1/tenants/acme/orders?any_sync=true", Some(&token), None).await;
        let orders = page["orders"].as_array().cloned().unwrap_or_default();
        (orders.len() >= 10).then_some(orders)
    })
    .await;

    let shots = plugin_dir().join("../console-screenshots");
    let browser = Browser::start(&shots).await.unwrap();
    let console = format!("{}/console", serve.base);

    // Sign in as the tenant: its orders, and one's detail with the receiver masked.
    browser.goto(&console).await.unwrap();
    browser.screenshot("01-sign-in").await.unwrap();
    browser.type_into("#token", &token).await.unwrap();
    browser.click("#sign-in button[type=submit]").await.unwrap();
    let first = orders[0]["order"]["order_id"].as_str().unwrap().to_owned();
    browser.wait_text("#app", "the orders page", |t| t.contains(&first)).await.unwrap();
    assert!(browser.text("#who").await.unwrap().contains("tenant acme"));
    browser.screenshot("02-orders").await.unwrap();
    browser.click("#app tbody tr.clickable").await.unwrap();
    browser
        .wait_text("#order-detail", "an order's detail and its versions", |t| {
            t.contains("Receiver (masked)") && t.contains("Every version")
        })
        .await
        .unwrap();
    browser.screenshot("03-order-detail").await.unwrap();

    // Stock off for one SKU: the next stock update for it is held, not sent.
    // A SKU the shop has sold (its platform ids are known from the orders).
    let (sku, num_iid, sku_id): (String, u64, u64) = orders
        .iter()
        .flat_map(|o| o["order"]["lines"].as_array().unwrap().clone())
        .find_map(|l| {
            Some((
                l["outer_sku_id"].as_str()?.to_owned(),
                l["product_id"].as_str()?.parse().ok()?,
                l["sku_id"].as_str()?.parse().ok()?,
            ))
        })
        .expect("a SKU");
    browser.goto(&format!("{console}#/switches")).await.unwrap();
    browser.type_into("#sku-form input[name=sku]", &sku).await.unwrap();
    browser.choose("#sku-form select[name=kind]", "stock").await.unwrap();
    browser.click("#sku-form button[type=submit]").await.unwrap();
    browser.wait_text("#app", "the SKU switched off", |t| t.contains(&format!("{sku} stock Switch on"))).await.unwrap();
    let (_, report) = serve
        .call(
            Method::POST,
            "/v1/tenants/acme/updates/stock",
            Some(&token),
            Some(json!([{"outer_sku_id": sku, "quantity": 3}])),
        )
        .await;
    let (_, switches) = serve.call(Method::GET, "/v1/tenants/acme/switches", Some(&token), None).await;
    assert_eq!(switches["skus_off"][0]["sku"], sku.as_str(), "{switches}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_ne!(sim.sku_stock(num_iid, sku_id), Some(3), "held while the SKU is off: {report}");
    // A hold by hand, with its remaining time, then released.
    browser.type_into("#hold-form input[name=sku]", &sku).await.unwrap();
    browser.type_into("#hold-form input[name=quantity]", "7").await.unwrap();
    browser.click("#hold-form button[type=submit]").await.unwrap();
    browser.wait_text("#app", "the hold listed", |t| t.contains("left")).await.unwrap();
    browser.screenshot("04-switches-and-hold").await.unwrap();
    browser.click(&format!("button[data-release=\"{sku}\"]")).await.unwrap();
    eventually("the hold released", Duration::from_secs(10), async || {
        let (_, s) = serve.call(Method::GET, "/v1/tenants/acme/switches", Some(&token), None).await;
        s["holds"].as_array().is_some_and(Vec::is_empty).then_some(())
    })
    .await;

    // A stock sheet with one bad row: that row's column and reason, nothing applied.
    browser.goto(&format!("{console}#/imports")).await.unwrap();
    let sheet = browser.file("stock.xlsx", b"").unwrap();
    stock_sheet(&sheet, &[(&sku, "5"), ("SKU-X", "-3")]);
    browser.choose("#import-form select[name=kind]", "stock").await.unwrap();
    browser.type_into("#import-file", sheet.to_str().unwrap()).await.unwrap();
    browser.click("#import-form button[type=submit]").await.unwrap();
    let summary = browser.wait_text("#import-summary", "the import's report", |t| !t.is_empty()).await.unwrap();
    assert!(summary.contains("1 of 2 rows refused"), "{summary}");
    let report = browser.text("#import-report").await.unwrap();
    assert!(report.contains("quantity"), "the bad row's column and reason: {report}");
    browser.screenshot("05-import-report").await.unwrap();

    // By hand: delist a SKU (the listing queue answers for it).
    browser.goto(&format!("{console}#/by-hand")).await.unwrap();
    browser.type_into("#listing-form textarea[name=skus]", &sku).await.unwrap();
    browser.choose("#listing-form select[name=listed]", "false").await.unwrap();
    browser.click("#listing-form button[type=submit]").await.unwrap();
    let said =
        browser.wait_text("#by-hand-report", "the listing's report", |t| t.starts_with("listing:")).await.unwrap();
    assert!(said.contains("1 queued") || said.contains("not taken"), "{said}");
    browser.screenshot("05b-by-hand").await.unwrap();

    // A dead letter (Taobao takes no electronic invoice without its file), replayed.
    let invoice = json!([{"order_id": first, "kind": "electronic", "title": "张三", "invoice_no": "24310009",
                          "amount": 100, "issued_at": "2026-11-30T00:00:00Z"}]);
    let (status, body) =
        serve.call(Method::POST, "/v1/tenants/acme/updates/invoices", Some(&token), Some(invoice)).await;
    assert_eq!(status, 200, "{body}");
    let letter = eventually("the invoice dead-lettered", Duration::from_secs(20), async || {
        let (_, letters) = serve.call(Method::GET, "/v1/tenants/acme/dead-letters", Some(&token), None).await;
        letters["pushes"].as_array().and_then(|p| p.first().cloned())
    })
    .await;
    browser.goto(&format!("{console}#/dead-letters")).await.unwrap();
    browser.wait_text("#app", "the dead letter and its reason", |t| t.contains("24310009")).await.unwrap();
    browser.screenshot("06-dead-letters").await.unwrap();
    browser.click(&format!("button[data-replay=\"pushes/{}\"]", letter["push"]["id"])).await.unwrap();
    browser.wait_text("#toast", "the replay", |t| t.contains("Replayed")).await.unwrap();
    let audit = serve.call(Method::GET, "/v1/tenants/acme/audit?limit=100", Some(&token), None).await.1;
    assert!(audit.to_string().contains("replay"), "the replay is audited: {audit}");

    // The tenant's token cannot reach another tenant's pages: the API says not found.
    browser.goto(&format!("{console}#/live")).await.unwrap();
    browser.wait_text("#live", "the live view", |t| t.contains("Pulled")).await.unwrap();
    browser.screenshot("07-live").await.unwrap();
    browser.execute("sessionStorage.setItem('wharf.tenant', 'beta'); return true;", vec![]).await.unwrap();
    let beta = browser
        .execute(
            "return fetch('/v1/tenants/beta/orders', {headers: {Authorization: 'Bearer ' + arguments[0]}}).then(r => r.status);",
            vec![json!(token)],
        )
        .await
        .unwrap();
    assert_eq!(beta, json!(404), "another tenant's data is not found for this token");

    // The operator: upload a version (other bytes), activate it, roll back.
    browser.click("#sign-out").await.unwrap();
    browser.type_into("#token", OPERATOR).await.unwrap();
    browser.click("#sign-in button[type=submit]").await.unwrap();
    browser.wait_text("#app", "the tenants page", |t| t.contains("beta")).await.unwrap();
    browser.screenshot("08-tenants").await.unwrap();
    browser.goto(&format!("{console}#/plugins")).await.unwrap();
    // The next build of the plugin (the tests build it with a later version number).
    let next = std::fs::read(plugin_dir().join("next").join("taobao.wasm")).unwrap();
    let v2_file = browser.file("taobao-next.wasm", &next).unwrap();
    browser.type_into("#plugin-file", v2_file.to_str().unwrap()).await.unwrap();
    browser.click("#plugin-form button[type=submit]").await.unwrap();
    // Validating a new component compiles it: seconds, more on a busy machine.
    let v2 = eventually("the second version admitted", Duration::from_secs(120), async || {
        let (_, p) = serve.call(Method::GET, "/v1/plugins/taobao", Some(OPERATOR), None).await;
        let versions: Vec<String> =
            p["versions"].as_array()?.iter().filter_map(|v| v.as_str().map(String::from)).collect();
        versions.into_iter().find(|v| *v != v1)
    })
    .await;
    browser.goto(&format!("{console}#/tokens")).await.unwrap();
    browser.goto(&format!("{console}#/plugins")).await.unwrap();
    browser.choose("select[data-version=taobao]", &v2).await.unwrap();
    browser.click("button[data-activate=taobao]").await.unwrap();
    browser.wait_text("strong[data-active=taobao]", "v2 active", |t| t == v2).await.unwrap();
    browser.screenshot("09-plugins").await.unwrap();
    browser.click("button[data-rollback=taobao]").await.unwrap();
    browser.wait_text("strong[data-active=taobao]", "rolled back to v1", |t| t == v1).await.unwrap();
    browser.goto(&format!("{console}#/tokens")).await.unwrap();
    browser.wait_text("#app", "the tokens page", |t| t.contains("merchant")).await.unwrap();
    browser.screenshot("10-tokens").await.unwrap();
    drop(browser);
    let _ = std::fs::remove_dir_all(&dir);
}
