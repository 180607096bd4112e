//! Hot-swap and start-up benchmarks (issue 6; a bench binary; figures go to BENCHMARKS.md).
//!
//! 1. Swap under load: [`WORKERS`] tasks call the real Taobao plugin (`get-order`, one
//!    `trade.fullinfo.get` on the simulator over loopback) back to back through the plugin
//!    registry, as the scheduler's loops do, first for [`RUN`] with no swap (the baseline), then
//!    for [`RUN`] while the active version flips between two real builds every [`SWAP_EVERY`].
//!    Reported: calls, failed calls, p50/p99/max latency of each phase (after an unreported
//!    warm-up phase).
//! 2. Start-up with five cached plugins: a registry holding the five plugins of `plugins/`,
//!    opened again (compiled components from the cache, then `describe`) — in-process, and as
//!    a whole `wharf serve` process from spawn until `/readyz` answers.
//!
//! Run: `cargo bench -p wharf-tests --bench swap`

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wharf_runtime::capability::credentials::Secrets;
use wharf_runtime::capability::grants::HostGrants;
use wharf_runtime::limits::Limits;
use wharf_runtime::ratelimit::RateLimiter;
use wharf_runtime::registry::{Candidate, Policy, Registry, Source};
use wharf_runtime::store::Store;
use wharf_runtime::{Call, Sandbox, Shop};
use wharf_sim::Marketplace;
use wharf_sim::taobao::{SimConfig, TaobaoSim};
use wharf_tests::figures::percentile;
use wharf_tests::plugins::{cache_dir, plugin_dir, plugin_path, wharf_bin};

/// Calls in flight at once during both phases.
const WORKERS: usize = 8;
/// Length of each phase.
const RUN: Duration = Duration::from_secs(10);
/// How often the active version flips during the swap phase.
const SWAP_EVERY: Duration = Duration::from_millis(100);
/// The plugins of `plugins/`.
const PLUGINS: [&str; 5] = ["taobao", "jd", "douyin", "ecshop", "sap"];
/// Start-ups timed per kind.
const STARTS: usize = 5;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        swap_under_load().await;
        start_up().await;
    });
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn fresh_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wharf-bench-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn admit(registry: &Registry, wasm: &Path, activate: bool) -> String {
    let bytes = std::fs::read(wasm).unwrap();
    let hosts: Vec<String> = ["eco.taobao.com", "gw.api.taobao.com", "gw.api.tbsandbox.com"].map(String::from).to_vec();
    let candidate = Candidate { wasm: &bytes, signature: None, source: Source::Folder, grant: &hosts, activate };
    registry.admit(candidate).await.unwrap().version
}

async fn swap_under_load() {
    let sim = TaobaoSim::spawn_from_async(SimConfig { orders: 200, seed: 5, ..SimConfig::default() }).await.unwrap();
    let config: BTreeMap<String, String> = Marketplace::config(&sim);
    let secrets: BTreeMap<String, String> = Marketplace::secrets(&sim);
    let tids: Arc<Vec<String>> = Arc::new(sim.trades().iter().map(|t| t.tid.to_string()).collect());
    let grants = HostGrants::new([Marketplace::grant(&sim)]);
    // The shop's own request budget toward the platform is not what is measured here.
    let limiter = RateLimiter::new(1_000_000);
    let shop = Shop::new("bench", "tb")
        .with_config(config)
        .with_secrets(Secrets::new(secrets))
        .with_grants(grants)
        .with_rate_limiter(limiter);

    let dir = fresh_dir("swap");
    let store = Store::open(&dir).unwrap();
    let sandbox = Sandbox::new(Limits::default(), Some(cache_dir())).unwrap();
    let registry = Registry::open(sandbox, store, &dir, Policy::default()).await.unwrap();
    let v1 = admit(&registry, &plugin_path("taobao"), true).await;
    let v2 = admit(&registry, &plugin_dir().join("next").join("taobao.wasm"), false).await;

    println!("## Hot swap under load");
    println!(
        "{WORKERS} concurrent get-order calls (Taobao plugin, simulator on loopback), {} s per phase",
        RUN.as_secs()
    );
    // A first, unreported phase warms the simulator, the connection pool and the instance pool.
    for (swapping, report) in [(false, false), (false, true), (true, true)] {
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for w in 0..WORKERS {
            let (registry, shop, tids, stop) = (registry.clone(), shop.clone(), tids.clone(), stop.clone());
            workers.push(tokio::spawn(async move {
                let (mut latencies, mut failed, mut i) = (Vec::new(), Vec::new(), w);
                while !stop.load(Ordering::Relaxed) {
                    let plugin = registry.plugin("taobao", "bench").expect("a version serves");
                    let started = Instant::now();
                    let outcome = plugin.call(&shop, Call::GetOrder { order_id: tids[i % tids.len()].clone() }).await;
                    latencies.push(started.elapsed());
                    if let Err(e) = outcome {
                        failed.push(e.to_string());
                    }
                    i += WORKERS;
                }
                (latencies, failed)
            }));
        }
        let started = Instant::now();
        let mut swaps = 0;
        while started.elapsed() < RUN {
            tokio::time::sleep(if swapping { SWAP_EVERY } else { RUN }).await;
            if swapping {
                let to = if swaps % 2 == 0 { &v2 } else { &v1 };
                registry.activate("taobao", to).await.unwrap();
                swaps += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let (mut latencies, mut failed) = (Vec::new(), Vec::new());
        for w in workers {
            let (l, f) = w.await.unwrap();
            latencies.extend(l);
            failed.extend(f);
        }
        latencies.sort();
        if !report {
            continue;
        }
        let phase = if swapping {
            format!("swapping every {} ms ({swaps} swaps)", SWAP_EVERY.as_millis())
        } else {
            "no swap (baseline)".into()
        };
        println!(
            "- {phase}: {} calls, {} failed, p50 {}, p99 {}, max {}",
            latencies.len(),
            failed.len(),
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.99)),
            ms(percentile(&latencies, 1.0)),
        );
        for f in failed.iter().take(3) {
            println!("  failed: {f}");
        }
    }
}

async fn start_up() {
    let dir = fresh_dir("startup");
    let cache = dir.join("cache");
    {
        let store = Store::open(&dir).unwrap();
        let sandbox = Sandbox::new(Limits::default(), Some(cache.clone())).unwrap();
        let registry = Registry::open(sandbox, store.clone(), &dir, Policy::default()).await.unwrap();
        for name in PLUGINS {
            let bytes = std::fs::read(plugin_path(name)).unwrap();
            let candidate =
                Candidate { wasm: &bytes, signature: None, source: Source::Folder, grant: &[], activate: true };
            registry.admit(candidate).await.unwrap();
        }
        store.flush().unwrap();
    }
    println!("\n## Start-up with {} cached plugins", PLUGINS.len());
    let mut opens = Vec::new();
    for _ in 0..STARTS {
        let store = Store::open(&dir).unwrap();
        let started = Instant::now();
        let sandbox = Sandbox::new(Limits::default(), Some(cache.clone())).unwrap();
        let registry = Registry::open(sandbox, store, &dir, Policy::default()).await.unwrap();
        opens.push(started.elapsed());
        assert_eq!(registry.names().len(), PLUGINS.len());
    }
    opens.sort();
    println!(
        "- in-process, engine + registry open (5 components from the cache, 5 describes): median {}, max {} ({STARTS} runs)",
        ms(opens[STARTS / 2]),
        ms(opens[STARTS - 1])
    );
    {
        let store = Store::open(&dir).unwrap();
        let cold = dir.join("cold-cache");
        let started = Instant::now();
        let sandbox = Sandbox::new(Limits::default(), Some(cold)).unwrap();
        Registry::open(sandbox, store, &dir, Policy::default()).await.unwrap();
        println!("- in-process, the same with an empty cache (every component compiled): {}", ms(started.elapsed()));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let config = dir.join("wharf.toml");
    std::fs::write(
        &config,
        format!("data_dir = \".\"\nplugin_dir = \"empty\"\nlisten = \"127.0.0.1:{port}\"\nallow_empty = true\n"),
    )
    .unwrap();
    let http = reqwest::Client::new();
    let mut readies = Vec::new();
    for _ in 0..STARTS {
        let started = Instant::now();
        let mut child = std::process::Command::new(wharf_bin())
            .args([
                "--cache-dir",
                cache.to_str().unwrap(),
                "serve",
                "--config",
                config.to_str().unwrap(),
                "--progress-every",
                "off",
            ])
            .env("WHARF_OPERATOR_TOKEN", "wharf_bench_operator")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        loop {
            if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/readyz")).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "wharf serve did not get ready");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        readies.push(started.elapsed());
        let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
    }
    readies.sort();
    println!(
        "- `wharf serve` process, spawn to /readyz 200: median {}, max {} ({STARTS} runs)",
        ms(readies[STARTS / 2]),
        ms(readies[STARTS - 1])
    );
}
