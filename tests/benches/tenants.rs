//! Idle tenants on one node (issue 18; a bench binary; figures go to BENCHMARKS.md).
//!
//! One `wharf serve` per count of tenants, 0 first (what the process costs with nobody on it).
//! Each tenant has one Taobao shop on the simulator, which holds no orders (the shop has nothing
//! to do but look), and a webhook ERP, on the default schedules. For each count: how long from
//! spawn until `/readyz` answers; resident memory once every shop's first round is over (no
//! `pull-orders` call for [`QUIET`]), and per tenant above the empty process; CPU while idling,
//! averaged over one whole orders schedule (30 s), so it holds every shop's scheduled rounds
//! (looking costs a call each) and none of the first rounds; and the API reading one tenant's
//! orders, tenants picked at random, as the operator.
//!
//! Run: `cargo build --release --bin wharf && cargo bench -p wharf-tests --bench tenants
//! [-- N...]` (the counts; 0, 1,000 and 10,000 by default).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use wharf_sim::Marketplace;
use wharf_sim::taobao::{SimConfig, TaobaoSim};
use wharf_tests::figures::percentile;
use wharf_tests::process::{ServeProcess, cpu_time, free_port, metric_sum};
use wharf_tests::webhook_erp::WebhookErp;

/// The counts of tenants run when none is named.
const COUNTS: [usize; 3] = [0, 1_000, 10_000];
/// How long serve gets to answer `/readyz`, and its shops to finish their first rounds.
const START_LIMIT: Duration = Duration::from_secs(600);
/// How long no `pull-orders` call may start for the first rounds to count as over: the first
/// rounds start together, and the next rounds come a whole schedule later.
const QUIET: Duration = Duration::from_secs(2);
/// How long the process is left alone before its memory is read.
const SETTLE: Duration = Duration::from_secs(5);
/// API requests timed per count.
const API_REQUESTS: usize = 200;
const OPERATOR: &str = "wharf_tenants_bench_operator";
const SECRET: &str = "whsec_YmVuY2gtc2VjcmV0LWtleQ==";

fn config(port: u16, sim: &TaobaoSim, erp: &str, tenants: usize) -> String {
    let q = |s: &str| format!("{s:?}");
    let mut toml = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nplugin_dir = {}\nsecrets_file = \"secrets.toml\"\n\
         grant_plugin_dir_hosts = true\nlog_format = \"json\"\nallow_empty = true\n\n",
        q(&wharf_tests::plugins::plugin_dir().display().to_string())
    );
    let shop_config: Vec<String> =
        Marketplace::config(sim).iter().map(|(k, v)| format!("{} = {}", q(k), q(v))).collect();
    let shop_config = shop_config.join(", ");
    let grant = q(&Marketplace::grant(sim));
    for t in 0..tenants {
        let _ = writeln!(
            toml,
            "[[tenants.t{t:05}.shops]]\nid = \"tb\"\nplatform = \"taobao\"\nplugin = \"taobao\"\nconfig = {{ {shop_config} }}\n\
             credentials = {{ app_secret = \"file:app_secret\", session = \"file:session\" }}\ngrants = [{grant}]\n\
             [tenants.t{t:05}.webhook]\nurl = {}\nsecret = \"file:hook_secret\"\n",
            q(erp)
        );
    }
    toml
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

struct Figures {
    ready: Duration,
    first_rounds: Duration,
    rss: u64,
    idle_cpu: f64,
    api: Vec<Duration>,
}

async fn run(tenants: usize, sim: &TaobaoSim, erp: &str, root: &std::path::Path) -> Figures {
    let dir = root.join(tenants.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    std::fs::write(dir.join("wharf.toml"), config(port, sim, erp, tenants)).unwrap();
    let secrets = format!(
        "app_secret = {:?}\nsession = {:?}\nhook_secret = {SECRET:?}\n",
        sim.config().app_secret,
        sim.config().session
    );
    std::fs::write(dir.join("secrets.toml"), secrets).unwrap();
    let started = Instant::now();
    let serve = ServeProcess::spawn(&dir.join("wharf.toml"), &dir.join("serve.log"), OPERATOR, 200);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    loop {
        let ok = http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        assert!(started.elapsed() < START_LIMIT, "serve not ready in {START_LIMIT:?}; see {}", dir.display());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ready = started.elapsed();
    // Over once every shop has called, and no call has started for `QUIET` since.
    let (mut calls, mut changed) = (0.0, Instant::now());
    let first_rounds = loop {
        let metrics = http.get(format!("{base}/metrics")).bearer_auth(OPERATOR).send().await.unwrap();
        let metrics = metrics.text().await.unwrap();
        let now = metric_sum(&metrics, "wharf_plugin_calls_total", &["operation=\"pull-orders\""]);
        if now != calls {
            (calls, changed) = (now, Instant::now());
        } else if calls >= tenants as f64 && changed.elapsed() >= QUIET {
            break changed.duration_since(started);
        }
        assert!(started.elapsed() < START_LIMIT, "{calls} calls of {tenants} first rounds in {START_LIMIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(SETTLE).await;
    let rss = serve.rss_bytes().unwrap_or(0);
    let (cpu, wall) = (cpu_time(serve.pid()), Instant::now());
    let schedule = wharf_runtime::model::Module::Orders.default_interval().every().expect("orders run by default");
    tokio::time::sleep(schedule).await;
    let idle_cpu = (cpu_time(serve.pid()) - cpu).as_secs_f64() / wall.elapsed().as_secs_f64();
    let mut api = Vec::new();
    if tenants > 0 {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..API_REQUESTS {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let t = seed as usize % tenants;
            let asked = Instant::now();
            let answer = http
                .get(format!("{base}/v1/tenants/t{t:05}/orders?limit=10"))
                .bearer_auth(OPERATOR)
                .send()
                .await
                .unwrap();
            assert!(answer.status().is_success(), "{}", answer.status());
            answer.bytes().await.unwrap();
            api.push(asked.elapsed());
        }
        api.sort();
    }
    serve.stop(Duration::from_secs(60));
    Figures { ready, first_rounds, rss, idle_cpu, api }
}

fn main() {
    let counts: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let counts = if counts.is_empty() { COUNTS.to_vec() } else { counts };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let sim = TaobaoSim::start(SimConfig { orders: 0, seed: 7, ..SimConfig::default() }).await.unwrap();
        let erp = WebhookErp::start(SECRET.as_bytes()).await.unwrap();
        let root = std::env::temp_dir().join(format!("wharf-tenants-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut empty_rss = None;
        for tenants in counts {
            let f = run(tenants, &sim, &erp.url, &root).await;
            let mib = f.rss as f64 / (1 << 20) as f64;
            let per_tenant = match empty_rss {
                Some(empty) if tenants > 0 => format!(
                    ", {:.1} KiB per tenant above the empty process",
                    (f.rss.saturating_sub(empty)) as f64 / 1024.0 / tenants as f64
                ),
                _ => String::new(),
            };
            if tenants == 0 {
                empty_rss = Some(f.rss);
            }
            println!(
                "{tenants} tenants: ready in {}, first rounds over in {}; RSS {mib:.1} MiB{per_tenant}; idle CPU {:.1}% of one core",
                ms(f.ready),
                ms(f.first_rounds),
                f.idle_cpu * 100.0
            );
            if !f.api.is_empty() {
                println!(
                    "    GET /v1/tenants/{{t}}/orders, {} random tenants one after another: p50 {}, p99 {}, max {}",
                    f.api.len(),
                    ms(percentile(&f.api, 0.5)),
                    ms(percentile(&f.api, 0.99)),
                    ms(*f.api.last().unwrap())
                );
            }
        }
        let _ = std::fs::remove_dir_all(&root);
    });
}
