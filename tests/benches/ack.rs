//! API acknowledgement benchmarks (issue 14; a bench binary; figures go to BENCHMARKS.md).
//!
//! The API as `wharf serve` answers it (the engine running beside it), over loopback HTTP,
//! with its store on sled on disk or on PostgreSQL (a throwaway server on this machine that the
//! bench starts, [`wharf_sim::postgres`], with a database of its own): how long a write takes
//! from request to answer, and how many writes a second the host acknowledges, one client at a
//! time and [`CLIENTS`] at once.
//!
//! 1. `switch`: `PUT /v1/tenants/bench/skus/{sku}/stock` one after another ([`SEQUENTIAL`]).
//! 2. `stock`: `POST /v1/tenants/bench/updates/stock`, one record each, one after another.
//! 3. `stock ×N`: the same from [`CLIENTS`] clients at once for [`CONCURRENT_FOR`].
//!
//! Run (after `--`: `--store sled|postgres`, sled by default):
//!
//! - `cargo bench -p wharf-tests --bench ack`: on sled;
//! - `cargo bench -p wharf-tests --bench ack -- --store postgres`: on PostgreSQL.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use wharf_runtime::Sandbox;
use wharf_runtime::api::Api;
use wharf_runtime::config::Config;
use wharf_runtime::limits::Limits;
use wharf_runtime::sync::scheduler::{Options, Scheduler};
use wharf_sim::Marketplace;
use wharf_sim::taobao::{SimConfig, TaobaoSim};
use wharf_tests::bench_store::{Args, STORE_FLAG, Stores};
use wharf_tests::figures;
use wharf_tests::plugins::{cache_dir, plugin_path};

const OPERATOR: &str = "wharf_bench_operator";
/// Writes timed one after another, per kind.
const SEQUENTIAL: usize = 500;
/// Clients writing at once in the concurrent part: an ERP's worker pool, or a few ERPs.
const CLIENTS: usize = 32;
/// How long the concurrent part runs.
const CONCURRENT_FOR: Duration = Duration::from_secs(10);

fn main() {
    let args = Args::parse(&[STORE_FLAG]);
    assert!(args.names().is_empty(), "the ack bench has no parts to pick, only {STORE_FLAG}: {:?}", args.names());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let sim = TaobaoSim::spawn_from_async(SimConfig { orders: 1, seed: 14, ..SimConfig::default() }).await.unwrap();
        let config = config(&sim);
        let plugin = Sandbox::new(Limits::default(), Some(cache_dir()))
            .unwrap()
            .load_file(&plugin_path("taobao"))
            .await
            .unwrap();
        let plugins = [("taobao".to_owned(), plugin)].into_iter().collect();
        let stores = Stores::start(args.backend(), "ack").await;
        let store = stores.open("api").await;
        let options = Options { progress_every: None, ..Options::default() };
        let scheduler = Scheduler::new(&config, &plugins, store.store.clone(), options).await.unwrap();
        let api = Api::new(scheduler.control(), Some(OPERATOR));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, api.router()).await.unwrap() });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let engine = tokio::spawn(scheduler.run(async move {
            let _ = stopped.await;
        }));
        println!("machine: {} cores; store: {} ({})", cores(), stores.describe(), store.location());
        let http = reqwest::Client::new();

        let switch = |i: usize| {
            http.put(format!("{base}/v1/tenants/bench/skus/SW-{i}/stock"))
                .bearer_auth(OPERATOR)
                .header("content-type", "application/json")
                .body(json!({"on": i.is_multiple_of(2)}).to_string())
        };
        report("switch, 1 client", &sequential(|i| switch(i).send()).await);
        let stock = |i: usize| {
            http.post(format!("{base}/v1/tenants/bench/updates/stock"))
                .bearer_auth(OPERATOR)
                .header("content-type", "application/json")
                .body(json!([{"outer_sku_id": format!("SKU-{}", i % 1_000), "quantity": i % 997}]).to_string())
        };
        report("stock, 1 client", &sequential(|i| stock(i).send()).await);

        let started = Instant::now();
        let mut clients = tokio::task::JoinSet::new();
        for c in 0..CLIENTS {
            let (http, base) = (http.clone(), base.clone());
            clients.spawn(async move {
                let mut took = Vec::new();
                let mut i = c * 1_000_000;
                while started.elapsed() < CONCURRENT_FOR {
                    let request = http
                        .post(format!("{base}/v1/tenants/bench/updates/stock"))
                        .bearer_auth(OPERATOR)
                        .header("content-type", "application/json")
                        .body(json!([{"outer_sku_id": format!("SKU-{}", i % 1_000), "quantity": i % 997}]).to_string());
                    let t = Instant::now();
                    let status = request.send().await.unwrap().status();
                    assert!(status.is_success(), "{status}");
                    took.push(t.elapsed());
                    i += 1;
                }
                took
            });
        }
        let mut all = Vec::new();
        while let Some(took) = clients.join_next().await {
            all.extend(took.unwrap());
        }
        report(&format!("stock, {CLIENTS} clients"), &Timed { took: all, wall: started.elapsed() });

        let _ = stop.send(());
        engine.await.unwrap().unwrap();
    });
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One tenant with one Taobao shop (pulled hourly, so the engine stays out of the way) and
/// the ERP pulling.
fn config(sim: &TaobaoSim) -> Config {
    let shop_config: BTreeMap<String, String> = Marketplace::config(sim);
    let table = shop_config.iter().map(|(k, v)| format!("{k} = {v:?}")).collect::<Vec<_>>().join(", ");
    let toml = format!(
        "[[tenants.bench.shops]]\nid = \"tb\"\nplatform = \"taobao\"\nplugin = \"taobao\"\nconfig = {{ {table} }}\n\
         grants = [{:?}]\ncredentials = {{ app_secret = \"env:S\", session = \"env:T\" }}\n\
         [tenants.bench.pull]\n[tenants.bench.schedule]\norders = \"1h\"\n",
        Marketplace::grant(sim)
    );
    let secrets: BTreeMap<String, String> = Marketplace::secrets(sim);
    let env = |k: &str| match k {
        "S" => Some(secrets["app_secret"].clone()),
        "T" => Some(secrets["session"].clone()),
        _ => None,
    };
    Config::from_toml_str(&toml, &std::env::temp_dir(), &["taobao"], &env).unwrap_or_else(|e| panic!("{e}"))
}

/// Latencies of the writes, and the wall time they took together.
struct Timed {
    took: Vec<Duration>,
    wall: Duration,
}

async fn sequential<F, R>(mut request: F) -> Timed
where
    F: FnMut(usize) -> R,
    R: std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let started = Instant::now();
    let mut took = Vec::with_capacity(SEQUENTIAL);
    for i in 0..SEQUENTIAL {
        let t = Instant::now();
        let status = request(i).await.unwrap().status();
        assert!(status.is_success(), "{status}");
        took.push(t.elapsed());
    }
    Timed { took, wall: started.elapsed() }
}

fn report(what: &str, timed: &Timed) {
    let mut sorted = timed.took.clone();
    sorted.sort();
    let at = |p: f64| figures::percentile(&sorted, p);
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!(
        "{what}: {} writes acknowledged in {:.2} s = {:.0}/s; latency p50 {}, p99 {}, max {}",
        sorted.len(),
        timed.wall.as_secs_f64(),
        sorted.len() as f64 / timed.wall.as_secs_f64(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0)),
    );
}
