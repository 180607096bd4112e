//! One tenant starving another (issue 13): the victim tenant's plugin calls per second and the
//! API's `/healthz` latency, alone and beside an attacker tenant whose calls burn CPU to their
//! deadline (hostile mode `loop`) and return 20 MB replies the host lifts and sizes before
//! refusing them (mode `big-output`). The attacker runs twice: under the default CPU budget
//! (`cpu_millis_per_second` = 1000) and with no CPU cap, so what the budget adds to running calls
//! off the API's threads shows apart.
//!
//! The API is the real one (`Api::router`) on this process's own multi-thread runtime, as
//! `wharf serve` runs it; the plugin calls go to the sandbox's threads.
//!
//! Run: `cargo bench -p wharf-tests --bench starve`

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wharf_runtime::api::Api;
use wharf_runtime::config::Quota;
use wharf_runtime::limits::Limits;
use wharf_runtime::model::{TimeWindow, Timestamp};
use wharf_runtime::quota::TenantQuota;
use wharf_runtime::registry::Registry;
use wharf_runtime::store::Store;
use wharf_runtime::sync::scheduler::{Options, Scheduler};
use wharf_runtime::{Call, Plugin, Sandbox, Shop};
use wharf_tests::figures;
use wharf_tests::plugins::{cache_dir, plugin_path};

/// How long each phase runs; long enough for the attacker's CPU budget to run dry and refill
/// several times.
const PHASE: Duration = Duration::from_secs(8);
/// Victim callers, each calling again as soon as its call returns.
const VICTIM_CALLERS: usize = 4;
/// Attacker callers, half in mode `loop`, half in mode `big-output`.
const ATTACKER_CALLERS: usize = 8;
/// How often `/healthz` is asked.
const HEALTH_EVERY: Duration = Duration::from_millis(20);
const OPERATOR: &str = "wharf_operator_bench_token";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    // The default deadline: each `loop` call burns five seconds unless it is paused.
    let sandbox = Sandbox::new(Limits::default(), Some(cache_dir())).unwrap();
    let plugin = sandbox.load_file(&plugin_path("hostile")).await.unwrap();
    let plugins: HashMap<String, Plugin> = [("hostile".to_owned(), plugin.clone())].into_iter().collect();
    let scheduler = Scheduler::with_registry(
        Registry::fixed(sandbox.clone(), &plugins),
        Store::temporary().unwrap(),
        Options { progress_every: None, ..Options::default() },
    );
    let api = Api::new(scheduler.control(), Some(OPERATOR));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api.router()).await.unwrap() });

    println!(
        "{} cores; victim: {VICTIM_CALLERS} callers of mode `ok`; attacker: {ATTACKER_CALLERS} callers of `loop` and \
         `big-output`; {} s per phase",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        PHASE.as_secs()
    );
    phase("victim alone", &plugin, &base, None).await;
    phase("victim + attacker, default CPU budget (1000 ms/s)", &plugin, &base, Some(Quota::default())).await;
    let uncapped = Quota { cpu_millis_per_second: u32::MAX, ..Quota::default() };
    phase("victim + attacker, no CPU cap", &plugin, &base, Some(uncapped)).await;
}

/// A shop of `tenant` calling in `mode`; give it its tenant's quota with `with_quota`.
fn shop(tenant: &str, mode: &str) -> Shop {
    Shop::new(tenant, "s1").with_config(BTreeMap::from([("mode".to_owned(), mode.to_owned())]))
}

fn window() -> Call {
    Call::PullOrders { window: TimeWindow { from: Timestamp(0), to: Timestamp(1000) }, cursor: None }
}

async fn phase(name: &str, plugin: &Plugin, base: &str, attacker: Option<Quota>) {
    let stop = Arc::new(AtomicBool::new(false));
    let attacker_tenant = format!("attacker-{}", attacker.map_or(0, |q| q.cpu_millis_per_second));
    let mut attackers = Vec::new();
    if let Some(quota) = attacker {
        // One quota for the whole tenant, as the scheduler gives it.
        let quota = Arc::new(TenantQuota::new(quota));
        for i in 0..ATTACKER_CALLERS {
            let mode = if i % 2 == 0 { "loop" } else { "big-output" };
            let shop = shop(&attacker_tenant, mode).with_quota(quota.clone());
            let (plugin, stop) = (plugin.clone(), stop.clone());
            attackers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let _ = plugin.call(&shop, window()).await;
                }
            }));
        }
        // Let the attack get going (and the budget run dry) before measuring.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    let health = tokio::spawn({
        let (url, stop) = (format!("{base}/healthz"), stop.clone());
        async move {
            let http = reqwest::Client::new();
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let asked = Instant::now();
                let answer = http.get(&url).send().await.unwrap();
                assert_eq!(answer.status(), 200);
                samples.push(asked.elapsed());
                tokio::time::sleep(HEALTH_EVERY).await;
            }
            samples
        }
    });
    let victims_done = Arc::new(AtomicU64::new(0));
    let victim_stop = Arc::new(AtomicBool::new(false));
    let victim_quota = Arc::new(TenantQuota::new(Quota::default()));
    let victims: Vec<_> = (0..VICTIM_CALLERS)
        .map(|_| {
            let shop = shop("victim", "ok").with_quota(victim_quota.clone());
            let (plugin, done, stop) = (plugin.clone(), victims_done.clone(), victim_stop.clone());
            // One quota for the whole tenant, as the scheduler gives it.
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    plugin.call(&shop, window()).await.expect("the victim's call succeeds");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(PHASE).await;
    let calls = victims_done.load(Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    victim_stop.store(true, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for v in victims {
        v.await.unwrap();
    }
    let mut samples = health.await.unwrap();
    for a in attackers {
        a.abort();
    }
    samples.sort();
    let pct = |p: f64| figures::percentile(&samples, p);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: victim {:.0} calls/s; /healthz ({} asks) median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        calls as f64 / seconds,
        samples.len(),
        ms(pct(0.5)),
        ms(pct(0.99)),
        ms(*samples.last().unwrap()),
    );
    let metrics = plugin.sandbox().metrics();
    let (victim_cpu, victim_waited) = metrics.cpu_of("victim");
    println!(
        "  victim so far: {:.2} s CPU, {:.2} s waited on its CPU budget",
        victim_cpu.as_secs_f64(),
        victim_waited.as_secs_f64()
    );
    if attacker.is_some() {
        let (cpu, waited) = metrics.cpu_of(&attacker_tenant);
        println!(
            "  attacker: {} calls, {:.1} s CPU, {:.1} s waited on its CPU budget",
            metrics.calls_of(&attacker_tenant),
            cpu.as_secs_f64(),
            waited.as_secs_f64(),
        );
    }
}
