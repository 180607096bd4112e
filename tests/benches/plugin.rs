//! Plugin-call benchmarks (a bench binary; figures go to BENCHMARKS.md).
//!
//! (a) Fresh-instance call overhead: a new store, instantiation from the pool and one trivial
//!     call (`describe`), timed one by one, twice: from the bench's own runtime, as the HTTP API
//!     calls (the call is handed to the sandbox's threads and back), and from the sandbox's
//!     threads, as the sync loops call.
//! (b) Orders mapped per second by the Taobao plugin's pull loop, in wasm through the host, and
//!     the very same Rust code compiled natively, in one run on the sandbox's threads (where the
//!     sync loops call from), over the same recorded TOP answers (recorded once from the
//!     simulator, then replayed, so neither side pays for the network or the simulator).
//!
//! (a') The same with a trivial call: the hostile test plugin's `pull-orders` in mode `ok` (a
//!     small contract-0.1 component; no host calls, an empty page back).
//! (c) One HTTP import's round trip through the host, the network excepted: the same call in
//!     mode `host-calls`, making [`HOST_CALLS`] requests answered at once by a recorded
//!     transport, less the trivial call, per request.
//!
//! Run: `cargo bench -p wharf-tests --bench plugin [-- overhead|trivial|mapping]` (every part
//! when none is named).

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wharf_runtime::capability::credentials::Secrets;
use wharf_runtime::capability::grants::HostGrants;
use wharf_runtime::capability::http;
use wharf_runtime::limits::Limits;
use wharf_runtime::model::{TimeWindow, Timestamp};
use wharf_runtime::{Call, Reply, Sandbox, Shop};
use wharf_sim::taobao::{SimConfig, TaobaoSim};
use wharf_tests::figures::{self, percentile as pct};
use wharf_tests::plugins::plugin_path;

/// Calls timed for (a); enough for a stable median on a noisy 2-core machine.
const OVERHEAD_CALLS: usize = 20_000;
/// Requests each (c) call makes.
const HOST_CALLS: usize = 1_000;
/// Calls timed for (c).
const HOST_CALL_ROUNDS: usize = 200;
/// Orders in the simulated shop for (b).
const ORDERS: usize = 2_000;
/// Timed repetitions of each side of (b); the best is reported.
const MAPPING_ROUNDS: usize = 5;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let parts: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let run = move |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    rt.block_on(async move {
        if run("overhead") {
            overhead().await;
        }
        if run("trivial") {
            trivial_and_host_calls().await;
        }
        if run("mapping") {
            // As the sync loops call plugins: from the sandbox's own threads.
            wharf_runtime::sandbox::runtime().spawn(mapping()).await.unwrap();
        }
    });
}

async fn overhead() {
    let sandbox = Sandbox::new(Limits::default(), Some(wharf_tests::plugins::cache_dir())).unwrap();
    let plugin = sandbox.load_file(&plugin_path("taobao")).await.unwrap();
    let shop = Shop::new("bench", "bench");
    let (api, sync) = both_ways(move || {
        let (plugin, shop) = (plugin.clone(), shop.clone());
        async move { plugin.call(&shop, Call::Describe).await.unwrap() }
    })
    .await;
    report("(a) fresh instance + describe", &api, &sync);
}

/// `call` timed by [`time_each`] twice: from this runtime's thread, as the HTTP API calls a
/// plugin (the call is handed to the sandbox's threads and its answer back), then from the
/// sandbox's own threads, as the sync loops call (no hand-off).
async fn both_ways<F, T>(call: impl FnMut() -> F + Clone + Send + 'static) -> (Vec<Duration>, Vec<Duration>)
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let api = time_each(OVERHEAD_CALLS, call.clone()).await;
    let sync = wharf_runtime::sandbox::runtime().spawn(time_each(OVERHEAD_CALLS, call)).await.unwrap();
    (api, sync)
}

fn report(what: &str, api: &[Duration], sync: &[Duration]) {
    for (samples, from) in [(api, "another runtime (the API)"), (sync, "the sandbox's threads (the sync loops)")] {
        println!(
            "{what}, {OVERHEAD_CALLS} calls from {from}: median {:.1} µs, p90 {:.1} µs, p99 {:.1} µs",
            micros(pct(samples, 0.5)),
            micros(pct(samples, 0.9)),
            micros(pct(samples, 0.99)),
        );
    }
}

/// `call` timed one by one `times` times, after 1,000 untimed warm-up calls; sorted.
async fn time_each<F: Future>(times: usize, mut call: impl FnMut() -> F) -> Vec<Duration> {
    for _ in 0..1_000 {
        std::hint::black_box(call().await);
    }
    let mut samples = Vec::with_capacity(times);
    for _ in 0..times {
        let started = Instant::now();
        let reply = call().await;
        samples.push(started.elapsed());
        std::hint::black_box(reply);
    }
    samples.sort();
    samples
}

async fn trivial_and_host_calls() {
    let responder: http::Responder =
        Arc::new(|_: &http::Request| Ok(http::Response { status: 200, headers: Vec::new(), body: b"ok".to_vec() }));
    let sandbox = Sandbox::with_http(
        Limits::default(),
        Some(wharf_tests::plugins::cache_dir()),
        http::Client::recorded(responder),
    )
    .unwrap();
    let plugin = sandbox.load_file(&plugin_path("hostile")).await.unwrap();
    let shop = |mode: &str| {
        Shop::new("bench", "bench")
            .with_config(BTreeMap::from([
                ("mode".to_owned(), mode.to_owned()),
                ("calls".to_owned(), HOST_CALLS.to_string()),
            ]))
            .with_grants(HostGrants::new(["allowed.test".to_owned()]))
            .with_rate_limiter(wharf_runtime::ratelimit::RateLimiter::new(u32::MAX / 2))
    };
    let (ok, calls) = (shop("ok"), shop("host-calls"));
    let window = TimeWindow { from: Timestamp(0), to: Timestamp(1_000) };
    let (api, sync) = {
        let (plugin, ok) = (plugin.clone(), ok.clone());
        both_ways(move || {
            let (plugin, ok) = (plugin.clone(), ok.clone());
            async move { plugin.call(&ok, Call::PullOrders { window, cursor: None }).await.unwrap() }
        })
        .await
    };
    report("(a') fresh instance + trivial call (hostile `ok`)", &api, &sync);
    let trivial = pct(&api, 0.5);
    let pull = async |shop: &Shop| plugin.call(shop, Call::PullOrders { window, cursor: None }).await;
    let mut rounds = Vec::with_capacity(HOST_CALL_ROUNDS);
    for _ in 0..HOST_CALL_ROUNDS {
        let started = Instant::now();
        let Reply::OrderPage(page) = pull(&calls).await.unwrap() else { unreachable!() };
        rounds.push(started.elapsed());
        assert_eq!(page.next_cursor.as_deref(), Some(HOST_CALLS.to_string().as_str()), "every request answered");
    }
    rounds.sort();
    let per_call = |d: Duration| micros(d.saturating_sub(trivial)) / HOST_CALLS as f64;
    println!(
        "(c) one HTTP import through the host (recorded transport), {HOST_CALL_ROUNDS} calls of {HOST_CALLS}: median {:.2} µs, p90 {:.2} µs per request",
        per_call(pct(&rounds, 0.5)),
        per_call(pct(&rounds, 0.9)),
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// TOP answers keyed by what identifies them, whatever the timestamp and signature.
type Recording = Arc<Mutex<HashMap<String, Vec<u8>>>>;

fn key(method: &str, params: &BTreeMap<String, String>) -> String {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    format!("{method}|{}|{}|{}|{}", get("tid"), get("start_modified"), get("end_modified"), get("page_no"))
}

async fn mapping() {
    let sim = Arc::new(TaobaoSim::start(SimConfig { orders: ORDERS, seed: 99, ..SimConfig::default() }).await.unwrap());
    let recording: Recording = Arc::default();
    let responder: http::Responder = {
        let (sim, recording) = (sim.clone(), recording.clone());
        Arc::new(move |request: &http::Request| {
            let body = String::from_utf8_lossy(&request.body).into_owned();
            let params: BTreeMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
            let key = key(params.get("method").map(String::as_str).unwrap_or(""), &params);
            let mut recording = recording.lock().unwrap();
            let answer = recording.entry(key).or_insert_with(|| sim.handle_raw(&body).1.into_bytes());
            Ok(http::Response { status: 200, headers: Vec::new(), body: answer.clone() })
        })
    };
    let sandbox = Sandbox::with_http(
        Limits::default(),
        Some(wharf_tests::plugins::cache_dir()),
        http::Client::recorded(responder),
    )
    .unwrap();
    let plugin = sandbox.load_file(&plugin_path("taobao")).await.unwrap();
    let cfg = sim.config();
    let shop = Shop::new("bench", "bench")
        .with_config(BTreeMap::from([
            ("endpoint".to_owned(), sim.endpoint()),
            ("app_key".to_owned(), cfg.app_key.clone()),
            ("page_size".to_owned(), "100".to_owned()),
        ]))
        .with_secrets(Secrets::new([
            ("app_secret".to_owned(), cfg.app_secret.clone()),
            ("session".to_owned(), cfg.session.clone()),
        ]))
        .with_grants(HostGrants::new([sim.addr().to_string()]))
        .with_rate_limiter(wharf_runtime::ratelimit::RateLimiter::new(u32::MAX / 2));
    let now = sim.now_ms();
    let window = TimeWindow { from: Timestamp(now - cfg.modified_span_ms - 1000), to: Timestamp(now + 1000) };

    // The wasm side: the plugin's pull loop in the sandbox, host signing and (recorded) HTTP.
    let wasm_pull = || async {
        let mut cursor = None;
        let mut n = 0;
        loop {
            let Reply::OrderPage(page) = plugin.call(&shop, Call::PullOrders { window, cursor }).await.unwrap() else {
                unreachable!()
            };
            n += page.orders.len();
            cursor = page.next_cursor;
            if cursor.is_none() {
                return n;
            }
        }
    };
    assert_eq!(wasm_pull().await, ORDERS, "recording run pulls every order");

    // The native side: the very same pull loop and mapping code, over the same answers.
    let native_pull = || {
        let mut api = NativeApi { recording: recording.lock().unwrap().clone() };
        let window = wharf_sdk::types::TimeWindow { from: window.from.millis(), to: window.to.millis() };
        let mut cursor: Option<String> = None;
        let mut n = 0;
        loop {
            let page =
                wharf_plugin_taobao::pull::pull_orders(&mut api, 100, "bench", &window, cursor.as_deref()).unwrap();
            n += page.orders.len();
            cursor = page.next_cursor;
            if cursor.is_none() {
                return n;
            }
        }
    };
    assert_eq!(native_pull(), ORDERS, "native replay pulls every order");

    let mut best_wasm = Duration::MAX;
    let mut best_native = Duration::MAX;
    for _ in 0..MAPPING_ROUNDS {
        let started = Instant::now();
        assert_eq!(wasm_pull().await, ORDERS);
        best_wasm = best_wasm.min(started.elapsed());
        let started = Instant::now();
        assert_eq!(native_pull(), ORDERS);
        best_native = best_native.min(started.elapsed());
    }
    let wasm_rate = ORDERS as f64 / best_wasm.as_secs_f64();
    let native_rate = ORDERS as f64 / best_native.as_secs_f64();
    println!("(b) Taobao pull + map of {ORDERS} orders (best of {MAPPING_ROUNDS}):");
    println!("    wasm through the host: {wasm_rate:>10.0} orders/s");
    println!("    same code, native:     {native_rate:>10.0} orders/s");
    println!("    ratio wasm / native:   {:>10.2}", wasm_rate / native_rate);

    // The most reading answers without a tree could save (the typed-reading lever):
    // every recorded answer parsed into `serde_json::Value` as the plugin parses it, against
    // parsed and thrown away as it goes (`IgnoredAny`: no tree, no string copied), the floor
    // of any parse, typed or taped. Native: the wasm side cannot time a part of a call.
    let answers: Vec<String> =
        recording.lock().unwrap().values().map(|b| String::from_utf8(b.clone()).unwrap()).collect();
    let (mut tree, mut floor) = (Duration::MAX, Duration::MAX);
    for _ in 0..MAPPING_ROUNDS {
        let started = Instant::now();
        for answer in &answers {
            std::hint::black_box(serde_json::from_str::<Value>(answer).unwrap());
        }
        tree = tree.min(started.elapsed());
        let started = Instant::now();
        for answer in &answers {
            std::hint::black_box(serde_json::from_str::<serde::de::IgnoredAny>(answer).unwrap());
        }
        floor = floor.min(started.elapsed());
    }
    println!(
        "    native, the {} answers parsed: into trees {:.1} ms ({:.0} % of the native pull), without a tree {:.1} ms",
        answers.len(),
        figures::millis(tree),
        100.0 * tree.as_secs_f64() / best_native.as_secs_f64(),
        figures::millis(floor),
    );
}

/// The plugin's `Api` seam answered natively from the recording, exactly as the host's
/// recorded transport answers the wasm side (minus signing and the host call).
struct NativeApi {
    recording: HashMap<String, Vec<u8>>,
}

impl wharf_sdk::api::Api for NativeApi {
    fn call(&mut self, method: &str, params: &Value) -> Result<Value, wharf_sdk::types::ConnectorError> {
        let params: BTreeMap<String, String> = params
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect();
        let body =
            self.recording.get(&key(method, &params)).unwrap_or_else(|| panic!("not recorded: {method} {params:?}"));
        wharf_plugin_taobao::top::parse_envelope(method, body)
    }
}
