//! End-to-end sync benchmarks (issue 5; a bench binary; figures go to BENCHMARKS.md).
//!
//! The engine exactly as `wharf serve` runs it ([`Scheduler`]), against JD simulators on
//! loopback (JOS's `order.search` returns whole orders, so there is no detail call per order),
//! the real JD plugin in wasm, a real store and the test webhook ERP. The store is sled on
//! disk, or PostgreSQL: a throwaway server on this machine ([`wharf_sim::postgres`], its test
//! settings: 16MB of shared buffers, fsync on) that the bench starts once, with a database of
//! its own per run. On PostgreSQL the engine can run as several nodes: schedulers each with its
//! own handle on the database and its own node id, as the `wharf serve`s of a cluster, sharing
//! the shops and the deliveries through leases (first come, first served; a line after each
//! run says how they split). The nodes share this process and its cores, so more than one shows
//! what the leases and the shared database cost, not what another machine would add.
//!
//! 1. Throughput, one shop: a shop holding [`ORDERS`] orders modified in the last hour; orders
//!    per second from `run` until the ERP has every one, and, in a second run with the ERP
//!    pulling (no deliveries at all), until the store holds every one (pull + map + store).
//! 2. The same with [`SHOPS`] shops (one simulator each) sharing the same total.
//! 3. Latency: with the engine caught up, orders change on the simulator at [`CHANGE_RATE`]
//!    for [`CHANGE_FOR`]; from each change to the ERP accepting that order's new version.
//! 4. Interception (`intercept`): the same, with buyers requesting refunds on paid orders not
//!    yet shipped (JD's refund applications); from each request to the ERP accepting the
//!    after-sale flagged `intercept`, the warehouse's cue to stop the parcel.
//! 5. The overlap's cost in platform calls (`overlap`), on a Taobao simulator, whose listing
//!    carries only ids and `modified`, so each trade is fetched with a `fullinfo` call of its
//!    own out of the shop's call quota: one shop caught up, then a round a second with
//!    [`OVERLAP_CHANGES`] trades changed before each; the `fullinfo` calls, with the host
//!    answering the plugin's `stored` question (contract 0.4.0) and with a shop it keeps
//!    nothing for (every listed trade fetched, as every round was before 0.4.0). The rounds
//!    run one [`OrderStream`] (what the scheduler's orders loop runs) on a temporary store.
//!
//! Run (after `--`: the parts to run, any of `one`, `many`, `latency`, `intercept`, `overlap`, all of them when none is
//! named; `--store sled|postgres`, sled by default; `--nodes N`, 1 by default, more only on
//! PostgreSQL):
//!
//! - `cargo bench -p wharf-tests --bench sync`: every part on sled;
//! - `cargo bench -p wharf-tests --bench sync -- --store postgres`: on PostgreSQL, one node;
//! - `cargo bench -p wharf-tests --bench sync -- --store postgres --nodes 2`: two nodes;
//! - `cargo bench -p wharf-tests --bench sync -- latency --store postgres --nodes 2`: one part;
//! - `cargo bench -p wharf-tests --bench sync -- many --shops 1000`: the many-shop part with
//!   1,000 shops of 20 orders (100 by default);
//! - `cargo bench -p wharf-tests --bench sync -- many --concurrent-calls 8`: the bench tenant
//!   with `quota.concurrent_calls = 8` (the product's default otherwise);
//! - `cargo bench -p wharf-tests --bench sync -- one many --batch 100`: the ERP's webhook takes
//!   up to 100 events per POST (one, the product's default, otherwise).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wharf_runtime::capability::credentials::Secrets;
use wharf_runtime::capability::grants::HostGrants;
use wharf_runtime::config::Config;
use wharf_runtime::erp::webhook;
use wharf_runtime::limits::Limits;
use wharf_runtime::model::Timestamp;
use wharf_runtime::retry::Backoff;
use wharf_runtime::store::{Store, StreamCursor};
use wharf_runtime::sync::orders::{OrderStream, STREAM};
use wharf_runtime::sync::scheduler::{Options, Progress, Scheduler};
use wharf_runtime::{Plugin, Sandbox, Shop};
use wharf_sim::Marketplace;
use wharf_sim::jd::{JdConfig, JdSim, render};
use wharf_sim::serve::wall_ms;
use wharf_sim::taobao::{FULLINFO_GET, INCREMENT_GET, SimConfig as TaobaoConfig, TaobaoSim};
use wharf_tests::bench_store::{Args, Backend, BenchStore, STORE_FLAG, Stores};
use wharf_tests::figures;
use wharf_tests::plugins::{cache_dir, plugin_path};
use wharf_tests::webhook_erp::WebhookErp;

const TENANT: &str = "bench";
const SECRET: &str = "whsec_YmVuY2gtc2VjcmV0LWtleQ==";
/// Orders visible in the one-shop run, and in all shops together in the many-shop run.
const ORDERS: usize = 20_000;
/// Shops of the many-shop run, each with its own simulator, unless [`SHOPS_FLAG`] says.
const SHOPS: usize = 100;
/// The flag setting how many shops the many-shop run has (`--shops 1000`).
const SHOPS_FLAG: &str = "--shops";
/// The flag setting the bench tenant's `quota.concurrent_calls` (the product's default when
/// absent): how many of its plugin calls run at once.
const CONCURRENT_CALLS_FLAG: &str = "--concurrent-calls";
/// The flag setting the bench tenant's webhook `batch`, events per POST (1, the product's
/// default, when absent).
const BATCH_FLAG: &str = "--batch";
/// JOS's largest page (the JD plugin's range is 1..=100).
const PAGE_SIZE: &str = "100";
/// The throughput runs' orders are modified within this span before the simulator's start.
const MODIFIED_SPAN_MS: i64 = 3_600_000;
/// The throughput shops are generated this long ago, so the first round's window (which ends
/// `settle` before now) already holds every order.
const GENERATED_AGO_MS: i64 = 5_000;
/// The delivery and outbound loops' tick: the low end of what the issue suggests (the
/// default is 200 ms).
const TICK: Duration = Duration::from_millis(20);
/// Orders windows end this far behind now.
const SETTLE: Duration = Duration::from_secs(1);
/// How often the bench looks at the store and the ERP while timing.
const POLL: Duration = Duration::from_millis(5);
/// A run that has not finished by then is reported as such.
const RUN_LIMIT: Duration = Duration::from_secs(300);
/// Orders in the latency run's shop: more than the changes, so no order changes twice.
const LATENCY_ORDERS: usize = 3_000;
/// Changes per second on the simulator during the latency run, and for how long.
const CHANGE_RATE: u32 = 50;
const CHANGE_FOR: Duration = Duration::from_secs(20);
/// The flag setting how many nodes (schedulers on one PostgreSQL database) run the engine.
const NODES_FLAG: &str = "--nodes";
/// Rounds of the overlap part, a second apart (the latency part's schedule), and trades
/// changed before each: over 30 s the 2-minute overlap comes to hold about 90 changed trades,
/// what a live Taobao shop re-fetched every round (issue 18).
const OVERLAP_ROUNDS: usize = 30;
const OVERLAP_CHANGES: usize = 3;
/// Trades in the overlap part's shop: enough that few change twice.
const OVERLAP_ORDERS: usize = 2_000;
/// The parts, in the order they run.
const PARTS: [&str; 5] = ["one", "many", "latency", "intercept", "overlap"];

/// What every run uses: the plugins, where its store is made, and how many nodes run it.
struct Bench {
    plugins: HashMap<String, Plugin>,
    stores: Stores,
    nodes: usize,
    /// The bench tenant's `quota.concurrent_calls`, when [`CONCURRENT_CALLS_FLAG`] sets it.
    concurrent_calls: Option<u32>,
    /// The bench tenant's webhook `batch` ([`BATCH_FLAG`]).
    batch: usize,
}

fn main() {
    let args = Args::parse(&[STORE_FLAG, NODES_FLAG, SHOPS_FLAG, CONCURRENT_CALLS_FLAG, BATCH_FLAG]);
    for name in args.names() {
        assert!(PARTS.contains(&name.as_str()), "no part {name:?}: the parts are {PARTS:?}");
    }
    let backend = args.backend();
    let nodes = args.count(NODES_FLAG, 1..=64).unwrap_or(1);
    assert!(nodes == 1 || backend == Backend::Postgres, "{NODES_FLAG} {nodes} needs {STORE_FLAG} postgres");
    let shops = args.count(SHOPS_FLAG, 1..=ORDERS).unwrap_or(SHOPS);
    let concurrent_calls = args.count(CONCURRENT_CALLS_FLAG, 1..=u32::MAX as usize).map(|n| n as u32);
    let batch = args.count(BATCH_FLAG, 1..=webhook::MAX_BATCH).unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let sandbox = Sandbox::new(Limits::default(), Some(cache_dir())).unwrap();
        let jd = sandbox.load_file(&plugin_path("jd")).await.unwrap();
        let taobao = sandbox.load_file(&plugin_path("taobao")).await.unwrap();
        let plugins: HashMap<String, Plugin> = [("jd".to_owned(), jd), ("taobao".to_owned(), taobao)].into();
        let stores = Stores::start(backend, "sync").await;
        println!(
            "machine: {} cores; tick {TICK:?}, settle {SETTLE:?}, JD page size {PAGE_SIZE}, {}, {nodes} node{}, {} calls at once, {batch} event{} per POST",
            cores(),
            stores.describe(),
            if nodes == 1 { "" } else { "s" },
            concurrent_calls.unwrap_or(wharf_runtime::config::model::DEFAULT_QUOTA_CONCURRENT_CALLS),
            if batch == 1 { "" } else { "s" },
        );
        let bench = Bench { plugins, stores, nodes, concurrent_calls, batch };

        if args.wanted("one") {
            let one = spawn_shops(1, ORDERS).await;
            throughput(&bench, &one, "1 shop").await;
        }
        if args.wanted("many") {
            let many = spawn_shops(shops, ORDERS / shops).await;
            throughput(&bench, &many, &format!("{shops} shops")).await;
        }
        if args.wanted("latency") {
            latency(&bench, Change::Order).await;
        }
        if args.wanted("intercept") {
            latency(&bench, Change::Intercept).await;
        }
        if args.wanted("overlap") {
            overlap(&bench.plugins["taobao"]).await;
        }
    });
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `shops` JD simulators of `visible` orders each, modified over the last hour.
async fn spawn_shops(shops: usize, visible: usize) -> Vec<JdSim> {
    tokio::task::spawn_blocking(move || {
        let generated_at = wall_ms() - GENERATED_AGO_MS;
        (0..shops)
            .map(|i| {
                // JOS shows paid orders only; the generator makes every sixth order (index
                // 0, 6, 12…) one awaiting payment, so 6/5 as many show `visible`.
                let orders = visible.div_ceil(5) * 6;
                let sim = JdSim::spawn(JdConfig {
                    orders,
                    seed: 5_000 + i as u64,
                    now_ms: Some(generated_at),
                    modified_span_ms: MODIFIED_SPAN_MS,
                    ..JdConfig::default()
                })
                .unwrap();
                assert_eq!(shown(&sim), visible.div_ceil(5) * 5, "orders JOS shows");
                sim
            })
            .collect()
    })
    .await
    .unwrap()
}

/// Orders JOS shows (paid ones).
fn shown(sim: &JdSim) -> usize {
    sim.shop().orders.iter().filter(|o| render::order_state(o).is_some()).count()
}

/// A configuration of one tenant with a shop per simulator, each granted its simulator's
/// loopback address (the plugin declares only JOS's own host); `erp_url` `None`: the ERP pulls.
/// The bench tenant: `sims`' shops, delivering to `erp_url` (or pulled), orders every second and
/// after-sales every second too when `after_sales` (off otherwise: the throughput runs measure
/// orders alone).
fn config(bench: &Bench, sims: &[JdSim], erp_url: Option<&str>, after_sales: bool) -> Config {
    let mut toml = String::new();
    for (i, sim) in sims.iter().enumerate() {
        toml.push_str(&format!(
            "[[tenants.{TENANT}.shops]]\nid = \"{}\"\nplatform = \"jd\"\nplugin = \"jd\"\n\
             config = {{ endpoint = {:?}, app_key = {:?}, page_size = \"{PAGE_SIZE}\" }}\n\
             grants = [{:?}]\n\
             credentials = {{ app_secret = \"env:JD_SECRET\", access_token = \"env:JD_TOKEN\" }}\n\n",
            shop_id(i),
            sim.endpoint(),
            sim.config().app_key,
            sim.addr().to_string(),
        ));
    }
    match erp_url {
        Some(url) => {
            let batch = bench.batch;
            toml.push_str(&format!(
                "[tenants.{TENANT}.webhook]\nurl = {url:?}\nsecret = \"env:HOOK_SECRET\"\nbatch = {batch}\n\n"
            ))
        }
        None => toml.push_str(&format!("[tenants.{TENANT}.pull]\n\n")),
    }
    let after_sales = if after_sales { "1s" } else { "off" };
    toml.push_str(&format!("[tenants.{TENANT}.schedule]\norders = \"1s\"\nafter_sales = \"{after_sales}\"\n"));
    if let Some(n) = bench.concurrent_calls {
        toml.push_str(&format!("[tenants.{TENANT}.quota]\nconcurrent_calls = {n}\n"));
    }
    let jd = &sims[0].config();
    let env: BTreeMap<&str, String> = [
        ("JD_SECRET", jd.app_secret.clone()),
        ("JD_TOKEN", jd.access_token.clone()),
        ("HOOK_SECRET", SECRET.to_owned()),
    ]
    .into();
    Config::from_toml_str(&toml, &std::env::temp_dir(), &["jd"], &|k| env.get(k).cloned())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn options() -> Options {
    let fast = Backoff { base: Duration::from_millis(50), max_delay: Duration::from_millis(400), ..Backoff::default() };
    Options { tick: TICK, backoff: fast, progress_every: None, settle: SETTLE }
}

/// The engine's nodes, set up on one store (each its own handle on it) and not running yet.
/// All are set up before any runs, so they take the leases in a race among them all rather
/// than the first taking every one.
async fn set_up(bench: &Bench, store: &BenchStore, config: &Config) -> (Vec<Scheduler>, Nodes) {
    let mut schedulers = Vec::with_capacity(bench.nodes);
    for node in 0..bench.nodes {
        let handle = if node == 0 { store.store.clone() } else { store.open_node().await };
        schedulers.push(Scheduler::new(config, &bench.plugins, handle, options()).await.unwrap());
    }
    let nodes = Nodes(schedulers.iter().map(|s| (s.store().clone(), s.progress())).collect());
    (schedulers, nodes)
}

/// Each node's handle on the store and its progress, for figures over them all.
struct Nodes(Vec<(Store, Progress)>);

impl Nodes {
    /// Any node's handle: they share the store.
    fn store(&self) -> &Store {
        &self.0[0].0
    }

    /// Order versions each node stored.
    fn pulled(&self) -> Vec<usize> {
        self.0
            .iter()
            .map(|(store, progress)| progress.snapshot(store).unwrap().iter().map(|p| p.pulled).sum())
            .collect()
    }

    /// With more nodes than one, how the work went between them: per node, the shops it
    /// stored orders of, the orders it stored and the deliveries it made.
    fn report_split(&self) {
        if self.0.len() == 1 {
            return;
        }
        let split: Vec<String> = self
            .0
            .iter()
            .enumerate()
            .map(|(node, (store, progress))| {
                let shops = progress.snapshot(store).unwrap();
                format!(
                    "node {} pulled {} shop(s), stored {}, delivered {}",
                    node + 1,
                    shops.iter().filter(|p| p.pulled > 0).count(),
                    shops.iter().map(|p| p.pulled).sum::<usize>(),
                    shops.iter().map(|p| p.delivered).sum::<usize>(),
                )
            })
            .collect();
        println!("    {}", split.join("; "));
    }

    /// Errors the loops noted, by message, with how many shops (on any node) last saw each.
    fn report_errors(&self) {
        let mut errors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (store, progress) in &self.0 {
            for p in progress.snapshot(store).unwrap() {
                if let Some(e) = p.last_error {
                    errors.entry(e).or_default().insert(p.shop);
                }
            }
        }
        for (error, shops) in errors {
            println!("    last error of {} shop(s): {error}", shops.len());
        }
    }
}

/// Every node running in the background until stopped.
struct Running(Vec<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)>);

fn start(schedulers: Vec<Scheduler>) -> Running {
    Running(
        schedulers
            .into_iter()
            .map(|scheduler| {
                let (stop, rx) = tokio::sync::oneshot::channel::<()>();
                let handle = tokio::spawn(async move {
                    scheduler
                        .run(async move {
                            let _ = rx.await;
                        })
                        .await
                        .unwrap()
                });
                (stop, handle)
            })
            .collect(),
    )
}

impl Running {
    /// Stops every node at once (one stopping before the others would hand its leases over).
    async fn stop(self) {
        let mut handles = Vec::new();
        for (stop, handle) in self.0 {
            let _ = stop.send(());
            handles.push(handle);
        }
        for handle in handles {
            tokio::time::timeout(Duration::from_secs(60), handle).await.expect("the scheduler stops").unwrap();
        }
    }
}

/// Shops seen in a state they never leave (every order stored; first round over), so that
/// polling asks the store about the others only: on PostgreSQL each look is a query, and
/// asking about all of [`SHOPS`] every [`POLL`] would load the machine being measured.
struct Seen(Vec<bool>);

impl Seen {
    fn new(shops: usize) -> Self {
        Seen(vec![false; shops])
    }

    /// Whether every shop has been seen so; `now(i)` tells whether shop `i` is so now, asked in
    /// order about the shops not seen yet, up to the first that is not.
    fn all(&mut self, mut now: impl FnMut(usize) -> bool) -> bool {
        self.0.iter_mut().enumerate().all(|(i, seen)| {
            *seen = *seen || now(i);
            *seen
        })
    }
}

/// Whether the store holds every order of shop `i`, whose newest order is `newest`. Each
/// page is stored before the stream's cursor moves past it, and the walk goes through the
/// window chunk by chunk from its start, so once the shop's cursor is past its newest order
/// (or its first round is done) all its orders are stored. This reads the plugin's cursor,
/// `v1:<chunk_start_ms>:…` (the SDK's [`wharf_sdk::paging`] format, opaque to the host),
/// because the engine's own counters move only when a round ends, and a round goes on through
/// the empty rest of its window.
fn all_stored(store: &Store, i: usize, newest: i64) -> bool {
    match store.cursors().get(TENANT, &shop_id(i), STREAM) {
        Ok(Some(StreamCursor { in_window: None, .. })) => true,
        Ok(Some(StreamCursor { in_window: Some((_, cursor)), .. })) => {
            cursor.split(':').nth(1).and_then(|start| start.parse::<i64>().ok()).is_some_and(|start| start > newest)
        }
        _ => false,
    }
}

/// Whether shop `i`'s first round has reached the end of its window.
fn round_done(store: &Store, i: usize) -> bool {
    matches!(store.cursors().get(TENANT, &shop_id(i), STREAM), Ok(Some(StreamCursor { in_window: None, .. })))
}

fn shop_id(i: usize) -> String {
    format!("jd-{i:03}")
}

/// The newest modification time among the orders JOS shows.
fn newest(sim: &JdSim) -> i64 {
    sim.shop().orders.iter().filter(|o| render::order_state(o).is_some()).map(|o| o.updated_ms).max().unwrap_or(0)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn searches(sims: &[JdSim]) -> u64 {
    sims.iter().map(|s| s.call_count(wharf_sim::jd::ORDER_SEARCH)).sum()
}

async fn throughput(bench: &Bench, sims: &[JdSim], label: &str) {
    let total: usize = sims.iter().map(shown).sum();
    let per_shop = total / sims.len();
    let newest_ms: Vec<i64> = sims.iter().map(newest).collect();
    println!("\nThroughput, {label}: {per_shop} orders per shop, {total} in all, modified over the last hour");

    // Pull + map + store alone: the ERP pulls, so nothing is owed and nothing delivered.
    let disk = bench.stores.open(&format!("pull-{}", sims.len())).await;
    let (schedulers, nodes) = set_up(bench, &disk, &config(bench, sims, None, false)).await;
    let (mut all_in, mut rounds) = (Seen::new(sims.len()), Seen::new(sims.len()));
    let searches_before = searches(sims);
    let started = Instant::now();
    let running = start(schedulers);
    let mut stored: Option<(Duration, u64)> = None;
    loop {
        let now = started.elapsed();
        if stored.is_none() && all_in.all(|i| all_stored(nodes.store(), i, newest_ms[i])) {
            stored = Some((now, searches(sims) - searches_before));
        }
        if (stored.is_some() && rounds.all(|i| round_done(nodes.store(), i))) || now > RUN_LIMIT {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let rounds_in = started.elapsed();
    running.stop().await;
    let (stored_in, searched) = stored.expect("every order stored within the run limit");
    assert_eq!(nodes.pulled().iter().sum::<usize>(), total, "the pull-only run stores every order");
    println!(
        "  pull + map in wasm + store (ERP pulls, no deliveries): {total} orders stored in {:.2} s = {:>6.0} orders/s \
         ({searched} JOS searches by then, {:.0} orders per search; every shop's first round over after {:.2} s)",
        stored_in.as_secs_f64(),
        rate(total, stored_in),
        total as f64 / searched as f64,
        rounds_in.as_secs_f64(),
    );
    nodes.report_split();
    nodes.report_errors();
    drop((nodes, disk));

    // End to end: pull → map → store with its delivery → POST to the webhook ERP.
    let erp = WebhookErp::start(SECRET.as_bytes()).await.unwrap();
    let disk = bench.stores.open(&format!("e2e-{}", sims.len())).await;
    let (schedulers, nodes) = set_up(bench, &disk, &config(bench, sims, Some(&erp.url), false)).await;
    let mut all_in = Seen::new(sims.len());
    let started = Instant::now();
    let running = start(schedulers);
    let mut stored: Option<(Duration, usize)> = None;
    let mut first_delivery: Option<Duration> = None;
    loop {
        let delivered = erp.state().accepted.len();
        let now = started.elapsed();
        if first_delivery.is_none() && delivered > 0 {
            first_delivery = Some(now);
        }
        if stored.is_none() && all_in.all(|i| all_stored(nodes.store(), i, newest_ms[i])) {
            stored = Some((now, delivered));
        }
        if (delivered >= total && stored.is_some()) || now > RUN_LIMIT {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let delivered_in = started.elapsed();
    running.stop().await;
    let (stored_in, delivered_then) = stored.expect("every order stored within the run limit");
    {
        let state = erp.state();
        assert_eq!(state.bad_signatures, 0);
        assert_eq!(state.created.len(), total, "each order delivered once");
    }
    println!(
        "  end to end (pull → map → store + outbox → POST to the ERP): {total} orders at the ERP in {:.2} s = {:>6.0} orders/s",
        delivered_in.as_secs_f64(),
        rate(total, delivered_in),
    );
    println!(
        "    store held all after {:.2} s ({:.0} orders/s with deliveries going on alongside); first delivery after {:.0} ms, \
         {delivered_then} delivered by the time all were stored, the last {} at {:.0} orders/s",
        stored_in.as_secs_f64(),
        rate(total, stored_in),
        first_delivery.unwrap_or_default().as_secs_f64() * 1e3,
        total - delivered_then,
        rate(total - delivered_then, delivered_in.saturating_sub(stored_in)),
    );
    nodes.report_split();
    nodes.report_errors();
    drop((nodes, disk));
}

/// What a latency run changes on the simulator, and how the ERP's keys name what it changed.
#[derive(Clone, Copy, PartialEq)]
enum Change {
    /// An order modified (its status moves on): the ERP's `order` deliveries.
    Order,
    /// A refund requested on a paid order not yet shipped (JD's refund application): the
    /// ERP's `after_sale` deliveries, which must carry `intercept`.
    Intercept,
}

async fn latency(bench: &Bench, change: Change) {
    let sim = tokio::task::spawn_blocking(|| {
        JdSim::spawn(JdConfig {
            orders: LATENCY_ORDERS,
            seed: 77,
            modified_span_ms: MODIFIED_SPAN_MS,
            ..JdConfig::default()
        })
        .unwrap()
    })
    .await
    .unwrap();
    let visible = shown(&sim);
    let erp = WebhookErp::start(SECRET.as_bytes()).await.unwrap();
    let disk = bench.stores.open("latency").await;
    let sims = std::slice::from_ref(&sim);
    // After-sales run only for the interception part: in the order part they would share the
    // shop's JOS rate limit with the orders being timed (three listings a round at 1 s).
    let after_sales = change == Change::Intercept;
    let (schedulers, nodes) = set_up(bench, &disk, &config(bench, sims, Some(&erp.url), after_sales)).await;
    let running = start(schedulers);
    let started = Instant::now();
    let orders_in = |state: &wharf_tests::webhook_erp::ErpState| state.latest_versions().len();
    while orders_in(&erp.state()) < visible && started.elapsed() < RUN_LIMIT {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(orders_in(&erp.state()), visible, "caught up before changing anything");
    // A little idle time so the measurement starts in the steady state (rounds re-reading
    // the overlap, nothing new).
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Changes at a steady rate; each stamps the order (or the refund) now, in whole seconds
    // as JOS does.
    let mut changes: Vec<(String, Instant)> = Vec::new();
    let mut every = tokio::time::interval(Duration::from_secs(1) / CHANGE_RATE);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let changing = Instant::now();
    while changing.elapsed() < CHANGE_FOR {
        every.tick().await;
        let at = Instant::now();
        let changed = match change {
            Change::Order => sim.change_one(),
            Change::Intercept => sim.open_random_after_sale(true).map(|id| id.to_string()),
        };
        if let Some(id) = changed {
            changes.push((id, at));
        }
    }
    // Every change reaches the ERP as a version it had not seen, after the change; an
    // interception flagged so.
    // Keys are `<tenant>:<platform>:<shop>:<order>:v<n>` for orders and
    // `<tenant>:after_sale:<platform>:<shop>:<id>:v<n>` for after-sales.
    let id_at = match change {
        Change::Order => 3,
        Change::Intercept => 4,
    };
    let arrival = |state: &wharf_tests::webhook_erp::ErpState, id: &str, at: Instant| -> Option<Instant> {
        state
            .arrived
            .iter()
            .filter(|(key, when)| {
                let parts: Vec<&str> = key.split(':').collect();
                **when >= at
                    && (parts.get(1) == Some(&"after_sale")) == (change == Change::Intercept)
                    && parts.get(id_at) == Some(&id)
                    && (change == Change::Order || state.accepted[*key]["intercept"] == true)
            })
            .map(|(_, when)| *when)
            .min()
    };
    let waiting = Instant::now();
    loop {
        let arrived = {
            let state = erp.state();
            changes.iter().filter(|(id, at)| arrival(&state, id, *at).is_some()).count()
        };
        if arrived == changes.len() || waiting.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.stop().await;
    let state = erp.state();
    let mut samples: Vec<Duration> =
        changes.iter().filter_map(|(id, at)| arrival(&state, id, *at).map(|t| t - *at)).collect();
    let missing = changes.len() - samples.len();
    assert!(!samples.is_empty(), "nothing arrived of {} changes", changes.len());
    samples.sort();
    let pct = |p: f64| figures::millis(figures::percentile(&samples, p));
    let what = match change {
        Change::Order => "change on the simulator → new version accepted by the ERP",
        Change::Intercept => {
            "refund requested before shipping on the simulator → after-sale accepted by the ERP flagged intercept"
        }
    };
    println!(
        "\nLatency, 1 shop of {visible} orders, orders{} every 1s, settle {SETTLE:?}, tick {TICK:?}: \
         {} changes at {CHANGE_RATE}/s for {CHANGE_FOR:?}, {what}",
        if after_sales { " and after-sales" } else { "" },
        changes.len()
    );
    println!(
        "  p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms, min {:.0} ms{}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        samples.last().unwrap().as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3,
        if missing > 0 { format!(" ({missing} changes never arrived)") } else { String::new() }
    );
    nodes.report_split();
    nodes.report_errors();
    drop((nodes, disk));
}

/// Part 5: TOP `fullinfo` calls of a round a second, without and with the `stored` answer.
async fn overlap(plugin: &Plugin) {
    for stored in [false, true] {
        let sim = TaobaoSim::spawn_from_async(TaobaoConfig {
            orders: OVERLAP_ORDERS,
            seed: 21,
            modified_span_ms: MODIFIED_SPAN_MS,
            ..TaobaoConfig::default()
        })
        .await
        .unwrap();
        let store = Store::temporary().unwrap();
        let mut shop = Shop::new(TENANT, "tb")
            .with_config(Marketplace::config(&sim))
            .with_secrets(Secrets::new(Marketplace::secrets(&sim)))
            .with_grants(HostGrants::new([Marketplace::grant(&sim)]));
        if stored {
            shop = shop.with_stored(Arc::new(store.clone()));
        }
        let mut stream = OrderStream::new(plugin, &shop, &store, None);
        stream.settle = SETTLE;
        stream.first_lookback = Duration::from_millis(2 * MODIFIED_SPAN_MS as u64);
        stream.round(Timestamp(sim.now_ms())).await.unwrap();
        sim.reset_calls();
        let (mut changed, mut per_round) = (0, Vec::new());
        for _ in 0..OVERLAP_ROUNDS {
            changed += sim.change_orders(OVERLAP_CHANGES).len();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let before = sim.call_count(FULLINFO_GET);
            let round = stream.round(Timestamp(sim.now_ms())).await.unwrap();
            assert!(round.caught_up, "{round:?}");
            per_round.push(sim.call_count(FULLINFO_GET) - before);
        }
        let fetched: u64 = per_round.iter().sum();
        println!(
            "overlap, {}: {changed} trades changed over {OVERLAP_ROUNDS} rounds a second apart; {fetched} fullinfo calls ({:.1} per changed trade), {} in the last round; {} listing calls",
            if stored { "the host answers `stored` (0.4.0)" } else { "nothing stored answered (before 0.4.0)" },
            fetched as f64 / changed.max(1) as f64,
            per_round.last().copied().unwrap_or(0),
            sim.call_count(INCREMENT_GET),
        );
        tokio::task::spawn_blocking(move || drop(sim)).await.unwrap();
    }
}
