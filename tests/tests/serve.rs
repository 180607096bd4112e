//! The sync engine as `wharf serve` runs it: every loop on tokio against real plugins, real
//! simulators on loopback, a real sled store and a real webhook ERP.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::{Duration, Instant};

use wharf_runtime::config::Config;
use wharf_runtime::limits::Limits;
use wharf_runtime::model::{Logistics, StockUpdate, Timestamp};
use wharf_runtime::retry::Backoff;
use wharf_runtime::store::{Hold, OrderQuery, Store};
use wharf_runtime::sync::intake::Update;
use wharf_runtime::sync::scheduler::{Control, Options, Scheduler};
use wharf_runtime::{Plugin, Sandbox};
use wharf_sim::Marketplace;
use wharf_sim::taobao::{FULLINFO_GET, SimConfig, TaobaoSim, TradeStatus};
use wharf_tests::plugins::{cache_dir, plugin_path};
use wharf_tests::process::{ServeProcess, cpu_time};
use wharf_tests::webhook_erp::WebhookErp;

const SECRET: &str = "whsec_c2VydmUtdGVzdC1zZWNyZXQ=";

/// Polls `check` until it holds or `within` passes; the failure names `what`.
async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "timed out after {within:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn load(names: &[&str]) -> HashMap<String, Plugin> {
    let sandbox = Sandbox::new(Limits::default(), Some(cache_dir())).unwrap();
    let mut out = HashMap::new();
    for name in names {
        out.insert(name.to_string(), sandbox.load_file(&plugin_path(name)).await.unwrap());
    }
    out
}

/// Starts the scheduler in the background; the returned sender stops it.
fn run(scheduler: Scheduler) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = rx.await;
    };
    let handle = tokio::spawn(async move { scheduler.run(stop).await.unwrap() });
    (tx, handle)
}

fn taobao_toml(sim: &TaobaoSim, erp_url: &str) -> String {
    let config: BTreeMap<String, String> = Marketplace::config(sim);
    let table: Vec<String> = config.iter().map(|(k, v)| format!("{k} = {v:?}")).collect();
    format!(
        r#"
[[tenants.acme.shops]]
id = "tb"
platform = "taobao"
plugin = "taobao"
config = {{ {config} }}
credentials = {{ app_secret = "env:TB_SECRET", session = "env:TB_SESSION" }}
grants = [{grant:?}]

[tenants.acme.webhook]
url = "{erp_url}"
secret = "env:HOOK_SECRET"

[tenants.acme.schedule]
orders = "1s"

[tenants.acme.carriers.SF]
taobao = "SF"
"#,
        config = table.join(", "),
        grant = Marketplace::grant(sim)
    )
}

fn load_config(toml: &str, sim: &TaobaoSim) -> Config {
    let secrets: BTreeMap<String, String> = Marketplace::secrets(sim);
    let env: BTreeMap<&str, String> = [
        ("TB_SECRET", secrets["app_secret"].clone()),
        ("TB_SESSION", secrets["session"].clone()),
        ("HOOK_SECRET", SECRET.to_owned()),
    ]
    .into_iter()
    .collect();
    let dir = std::env::temp_dir();
    Config::from_toml_str(toml, &dir, &["taobao", "jd", "douyin", "ecshop", "sap"], &|k| env.get(k).cloned())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn stock(sku: &str, quantity: u32) -> Update {
    Update::Stock(vec![StockUpdate {
        outer_sku_id: sku.into(),
        product_id: None,
        sku_id: None,
        quantity,
        warehouse: None,
        version: 0,
    }])
}

fn submit(submitter: &Control, update: Update) {
    let report = submitter.intake("acme").unwrap().submit(&update, Timestamp::now()).unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
}

async fn until<F: Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_secs(60), f).await.expect("step timed out");
}

/// Orders reach the ERP once per version through an outage; stock, holds, switches,
/// throttling, dead letters and logistics flow back to the shop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_flow_out_and_updates_flow_back_with_switches_holds_and_faults() {
    let sim = TaobaoSim::spawn_from_async(SimConfig {
        orders: 60,
        seed: 9,
        modified_span_ms: 3_600_000,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let erp = WebhookErp::start(SECRET.as_bytes()).await.unwrap();
    let config = load_config(&taobao_toml(&sim, &erp.url), &sim);
    let store = Store::temporary().unwrap();
    // Quick retries, and enough of them that an outage of the whole test dead-letters nothing.
    let fast = Backoff {
        base: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
        max_attempts: 1_000,
        ..Backoff::default()
    };
    let options =
        Options { tick: Duration::from_millis(50), backoff: fast, progress_every: None, ..Options::default() };
    let scheduler = Scheduler::new(&config, &load(&["taobao"]).await, store.clone(), options).await.unwrap();
    let submitter = scheduler.control();
    let progress = scheduler.progress();
    let (stop, handle) = run(scheduler);

    // Every order reaches the ERP, once per version.
    let expected = sim.trades().len();
    until(eventually("every order at the ERP", Duration::from_secs(45), || {
        erp.state().latest_versions().len() == expected
    }))
    .await;

    // The ERP goes down; orders change meanwhile; nothing is lost and nothing doubles.
    erp.state().down = true;
    let changed = sim.change_orders(5);
    let stored_version = |tid: &u64| {
        let key = |o: &wharf_runtime::store::StoredOrder| o.order.order_id == tid.to_string();
        let all = store
            .orders()
            .query("acme", &OrderQuery { any_sync: true, limit: Some(1000), ..Default::default() })
            .unwrap();
        all.orders.iter().find(|o| key(o)).map_or(0, |o| o.version)
    };
    until(eventually("the changes are stored and owed", Duration::from_secs(30), || {
        changed.iter().all(|tid| stored_version(tid) >= 2)
    }))
    .await;
    // Every round since (one a second) re-reads those five in its overlap; the host stores
    // each at its listed `modified`, so none is fetched in full again (contract 0.4.0).
    let fetched = sim.call_count(FULLINFO_GET);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sim.call_count(FULLINFO_GET), fetched, "trades fetched again though stored: {:?}", sim.calls());
    erp.state().down = false;
    until(eventually("the changes reach the ERP after the outage", Duration::from_secs(30), || {
        store.outbox().pending().unwrap().is_empty()
    }))
    .await;
    {
        let state = erp.state();
        assert_eq!(state.bad_signatures, 0);
        let versions: usize = state.latest_versions().values().map(|v| *v as usize).sum();
        assert_eq!(state.created.len(), versions, "each version created exactly once");
        for tid in &changed {
            let stored = store
                .orders()
                .query("acme", &OrderQuery { any_sync: true, order_id: Some(tid.to_string()), ..Default::default() })
                .unwrap();
            assert!(
                state.latest_versions()[&tid.to_string()] >= 2,
                "order {tid} changed: stored {:?}; dead letters {:?}; changed {changed:?}",
                stored.orders.iter().map(|o| (o.version, o.order.updated_at)).collect::<Vec<_>>(),
                store.outbox().dead_letters("acme").unwrap().len()
            );
        }
    }

    // A SKU the shop sold, by its merchant code only: the host knows the platform's ids.
    let line = store
        .orders()
        .query("acme", &OrderQuery { any_sync: true, limit: Some(1000), ..Default::default() })
        .unwrap()
        .orders
        .into_iter()
        .flat_map(|o| o.order.lines)
        .find(|l| l.outer_sku_id.is_some() && l.sku_id.is_some())
        .expect("a line with a merchant SKU code");
    let sku = line.outer_sku_id.clone().unwrap();
    let (num_iid, sku_id): (u64, u64) =
        (line.product_id.unwrap().parse().unwrap(), line.sku_id.unwrap().parse().unwrap());
    let on_shop = || sim.sku_stock(num_iid, sku_id);

    submit(&submitter, stock(&sku, 41));
    until(eventually("stock 41 on the shop", Duration::from_secs(20), || on_shop() == Some(41))).await;

    // A manual hold wins until released; automatic stock waits, then flows.
    let intake = || submitter.intake("acme").unwrap();
    let hold = Hold { quantity: 500, until: Timestamp(Timestamp::now().0 + 3_600_000), note: Some("promotion".into()) };
    intake().hold(&sku, &hold, "operator", Timestamp::now()).unwrap();
    until(eventually("the held 500 on the shop", Duration::from_secs(20), || on_shop() == Some(500))).await;
    submit(&submitter, stock(&sku, 42));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(on_shop(), Some(500), "automatic stock is kept back during the hold");
    intake().release(&sku, "operator", Timestamp::now()).unwrap();
    until(eventually("stock 42 after the release", Duration::from_secs(20), || on_shop() == Some(42))).await;

    // The shop's stock switch off: updates wait; on: the latest flows.
    intake().switch_module("tb", wharf_runtime::model::Module::Stock, false, "operator", Timestamp::now()).unwrap();
    submit(&submitter, stock(&sku, 43));
    submit(&submitter, stock(&sku, 44));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(on_shop(), Some(42), "paused");
    assert_eq!(store.pushes().pending_count("acme", "tb").unwrap(), 1, "kept, once, the latest");
    intake().switch_module("tb", wharf_runtime::model::Module::Stock, true, "operator", Timestamp::now()).unwrap();
    until(eventually("stock 44 after the switch is back on", Duration::from_secs(20), || on_shop() == Some(44))).await;

    // The SKU's own override.
    intake().switch_sku(&sku, wharf_runtime::model::Module::Stock, false, "operator", Timestamp::now()).unwrap();
    submit(&submitter, stock(&sku, 45));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(on_shop(), Some(44), "SKU override off");
    intake().switch_sku(&sku, wharf_runtime::model::Module::Stock, true, "operator", Timestamp::now()).unwrap();
    until(eventually("stock 45 after the override", Duration::from_secs(20), || on_shop() == Some(45))).await;

    // The platform throttles: the shop waits out the ban, then the update lands.
    sim.set_throttle(0, 1);
    submit(&submitter, stock(&sku, 46));
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.clear_throttle();
    until(eventually("stock 46 after the throttle", Duration::from_secs(20), || on_shop() == Some(46))).await;

    // An older version never overwrites a newer one.
    let old = Update::Stock(vec![StockUpdate {
        outer_sku_id: sku.clone(),
        product_id: None,
        sku_id: None,
        quantity: 1,
        warehouse: None,
        version: 1,
    }]);
    let report = intake().submit(&old, Timestamp::now()).unwrap();
    assert_eq!((report.stale, report.queued), (1, 0), "{report:?}");

    // A SKU the shop never sold has no platform ids yet: the update waits for them, neither
    // lost nor dead-lettered.
    submit(&submitter, stock("NO-SUCH-SKU", 3));
    until(eventually("the unmapped SKU waiting", Duration::from_secs(20), || {
        store.pushes().pending("acme", "tb").unwrap().iter().any(|p| {
            p.item == "NO-SUCH-SKU"
                && p.last_error.as_deref().is_some_and(|e| e.contains("not known yet"))
                && p.waiting_for_sku.as_deref() == Some("NO-SUCH-SKU")
        })
    }))
    .await;

    // The platform refuses an update for good (an item it does not have): parked with the
    // platform's reason, and replayable.
    let refused = Update::Stock(vec![StockUpdate {
        outer_sku_id: "GONE-1".into(),
        product_id: Some("999999999".into()),
        sku_id: None,
        quantity: 3,
        warehouse: None,
        version: 0,
    }]);
    submit(&submitter, refused);
    until(eventually("the refused update dead-lettered", Duration::from_secs(20), || {
        !store.pushes().dead_letters("acme").unwrap().is_empty()
    }))
    .await;
    let letter = store.pushes().dead_letters("acme").unwrap().remove(0);
    assert_eq!(letter.push.item, "GONE-1");
    assert!(!letter.reason.is_empty());
    assert!(store.pushes().replay("acme", letter.push.id, Timestamp::now().0).unwrap());
    assert!(store.pushes().dead_letters("acme").unwrap().is_empty(), "replayed");

    // Logistics: the ERP's carrier code through the tenant's table; the order ships.
    let tid =
        sim.trades().into_iter().find(|t| t.status == TradeStatus::WaitSellerSendGoods).expect("a paid order").tid;
    let logistics = Logistics {
        order_id: tid.to_string(),
        carrier_code: "SF".into(),
        tracking_no: "SF1234567890".into(),
        shipped_at: Timestamp::now(),
    };
    submit(&submitter, Update::Logistics(vec![logistics]));
    until(eventually("the shipment on the shop", Duration::from_secs(20), || {
        let letters = store.pushes().dead_letters("acme").unwrap();
        assert!(letters.iter().all(|l| l.push.module != "logistics"), "{letters:?}");
        sim.shipments().iter().any(|s| s.tid == tid && s.out_sid == "SF1234567890" && s.company_code == "SF")
    }))
    .await;

    // The platform holds the shipment a moment before the loop records the push as done.
    let counted = |shops: &[wharf_runtime::sync::scheduler::ShopProgress]| {
        shops.iter().any(|p| p.shop == "tb" && p.pulled >= expected && p.delivered >= expected && p.pushed >= 7)
    };
    let within = Instant::now() + Duration::from_secs(10);
    let mut shops = progress.snapshot(&store).unwrap();
    while !counted(&shops) && Instant::now() < within {
        tokio::time::sleep(Duration::from_millis(50)).await;
        shops = progress.snapshot(&store).unwrap();
    }
    assert!(counted(&shops), "{shops:?}");
    assert!(store.audit().recent("acme", 100).unwrap().len() >= 6, "switches and holds are audited");

    // A graceful stop: loops finish their step, the store is flushed.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), handle).await.expect("stops promptly").unwrap();
}

/// How often the test kills `wharf serve`, and the longest it lets one live.
const KILLS: usize = 6;
const MAX_LIFE_MS: u64 = 2_500;
/// How long the clean run's serve may take to stop after SIGTERM: its loops finish their step
/// and the store is flushed, in well under a second; past this it is killed and the test fails.
const GRACEFUL_STOP: Duration = Duration::from_secs(60);

fn spawn_serve(config: &std::path::Path, log: &std::path::Path) -> ServeProcess {
    ServeProcess::spawn(config, log, "wharf_kill9_operator", 50)
}

/// kill -9 at random moments under live traffic, then one clean run: every order the ERP
/// takes is in it exactly once, every order is stored in its latest state, and the shops'
/// stock equals the ERP's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_any_moment_loses_nothing_and_doubles_nothing() {
    use wharf_sim::world::{World, WorldOptions};
    let options = WorldOptions {
        platforms: vec!["taobao".into(), "jd".into()],
        orders_per_second: 4.0,
        orders: 30,
        seed: 11,
        ..WorldOptions::default()
    };
    let world = tokio::task::spawn_blocking(move || World::start(options)).await.unwrap().unwrap();
    let dir = std::env::temp_dir().join(format!("wharf-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (config_path, secrets_path, log) = (dir.join("wharf.toml"), dir.join("secrets.toml"), dir.join("serve.log"));
    let files = world.wharf_config("acme", &dir.join("data"), &wharf_tests::plugins::plugin_dir(), &secrets_path, "1s");
    std::fs::write(&config_path, &files.toml).unwrap();
    std::fs::write(&secrets_path, &files.secrets).unwrap();

    // Under traffic, a serve that is killed -9 after a random time, again and again.
    let traffic = world.start_traffic();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..KILLS {
        let mut serve = spawn_serve(&config_path, &log);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(300 + seed % MAX_LIFE_MS)).await;
        assert!(serve.alive(), "serve died on its own; see {}", log.display());
        drop(serve); // SIGKILL
    }
    traffic.stop();

    // One clean run until everything has settled, then a graceful stop.
    let serve = spawn_serve(&config_path, &log);
    let sap = world.sap();
    let now = || Timestamp::now().0;
    let fulfillable = ["paid", "partially_shipped", "shipped", "completed"];
    let orders = |w: &World| -> Vec<(String, String)> {
        w.shops()
            .iter()
            .flat_map(|s| {
                w.marketplace(&s.platform)
                    .unwrap()
                    .expected_orders(&s.shop_id, 0, now() + 3_600_000)
                    .into_iter()
                    .map(|o| (o["order_id"].as_str().unwrap().to_owned(), o["status"].as_str().unwrap().to_owned()))
            })
            .collect()
    };
    let settled = || {
        orders(&world)
            .iter()
            .filter(|(_, status)| fulfillable.contains(&status.as_str()))
            .all(|(id, _)| sap.sales_orders_for_order(id).len() == 1)
    };
    until(eventually("every fulfillable order in SAP", Duration::from_secs(60), settled)).await;
    // Let stock and logistics catch up with the last ERP changes (pulled every second).
    tokio::time::sleep(Duration::from_secs(4)).await;
    let status = tokio::task::spawn_blocking(move || serve.stop(GRACEFUL_STOP)).await.unwrap();
    assert!(status.is_some_and(|s| s.success()), "a graceful stop exits 0 ({status:?}); see {}", log.display());

    // Nothing doubled: no purchase order has two sales orders.
    let mut per_po: BTreeMap<String, usize> = BTreeMap::new();
    for so in sap.sales_orders() {
        *per_po.entry(so.purchase_order.clone()).or_default() += 1;
    }
    let doubled: Vec<_> = per_po.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "orders created twice in the ERP: {doubled:?}");

    // Nothing lost: every order is stored, in its latest status.
    let store = Store::open(&dir.join("data")).unwrap();
    let all = orders(&world);
    for (id, status) in &all {
        let shop = world.shops().into_iter().find(|s| {
            store
                .orders()
                .get(
                    "acme",
                    &wharf_runtime::store::OrderKey {
                        platform: s.platform.clone(),
                        shop_id: s.shop_id.clone(),
                        order_id: id.clone(),
                    },
                )
                .unwrap()
                .is_some_and(|o| o.order.status.name() == status)
        });
        assert!(shop.is_some(), "order {id} ({status}) is not stored in its latest state");
    }
    assert!(all.len() >= 60, "traffic made orders: {}", all.len());

    // Stock: every SKU the Taobao shop has sold shows SAP's figure; no update was lost or
    // applied out of order, whatever moment the kills hit.
    let taobao = world.taobao().unwrap();
    let mut checked = 0;
    for row in sap.expected_stock(None) {
        let sku = row["outer_sku_id"].as_str().unwrap();
        if store.catalog().get("acme", "taobao-demo", sku).unwrap().is_none() {
            continue;
        }
        let (_, on_shop) = taobao.sku_by_outer_id(sku).unwrap();
        assert_eq!(on_shop.quantity, row["quantity"].as_i64().unwrap(), "stock of {sku}");
        checked += 1;
    }
    assert!(checked > 0, "no SKU to check");
    eprintln!("kill -9 test: {} orders, {} sales orders, {checked} SKUs checked", all.len(), sap.sales_orders().len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `wharf sandbox`, as the README runs it: orders reach the simulated SAP and updates come
/// back to every shop within seconds, and it says where its data lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_shows_orders_flowing_within_seconds() {
    let dir = std::env::temp_dir().join(format!("wharf-sandbox-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Read as it prints, to time the view: `--for` is how long traffic flows after startup.
    let (output, took) = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || {
            use std::io::Read as _;
            let mut child = std::process::Command::new(wharf_tests::plugins::wharf_bin())
                .args(["--cache-dir", cache_dir().to_str().unwrap(), "sandbox", "--for", "10s", "--view-every", "5s"])
                .args(["--platforms", "taobao,jd,douyin", "--dir", dir.to_str().unwrap()])
                .args(["--plugin-dir", wharf_tests::plugins::plugin_dir().to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut text = String::new();
            let mut line = String::new();
            while std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0 && !line.starts_with("Ready in") {
                text.push_str(&line);
                line.clear();
            }
            let ready = std::time::Instant::now();
            text.push_str(&line);
            stdout.read_to_string(&mut text).unwrap();
            let status = child.wait().unwrap();
            let took = ready.elapsed();
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            ((status, text, stderr), took)
        }
    })
    .await
    .unwrap();
    let (status, stdout, stderr) = output;
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("Data:          {}", dir.join("data").display())), "{stdout}");
    assert!(stdout.contains("Ctrl-C"), "says how to stop: {stdout}");
    // `--for 10s` is ten seconds of traffic once it is ready, plus at most the two seconds its
    // calls in flight get to finish.
    assert!(took < Duration::from_secs(13), "--for 10s ran {took:?} after startup");
    // It says where its configuration and secrets are, and how to serve them by hand.
    assert!(stdout.contains(&format!("Configuration: {}", dir.join("wharf.toml").display())), "{stdout}");
    assert!(stdout.contains(&format!("Secrets:       {}", dir.join("secrets.toml").display())), "{stdout}");
    assert!(dir.join("secrets.toml").is_file(), "the secrets file it names exists");
    assert!(stdout.contains("WHARF_OPERATOR_TOKEN=$(openssl rand -hex 32) "), "{stdout}");
    // A legend, once, before the first table; Wharf's figures and the simulators' apart.
    assert_eq!(stdout.matches("Wharf's figures (left)").count(), 1, "{stdout}");
    assert!(stdout.find("Wharf's figures (left)") < stdout.find("pulled  delivered"), "{stdout}");
    assert!(stdout.contains("── Wharf ──") && stdout.contains("── the simulators ──"), "{stdout}");
    // The last view: every shop pulled, delivered and got updates back.
    let last = stdout.rsplit("shop ").next().unwrap();
    for shop in ["taobao-demo", "jd-demo", "douyin-demo"] {
        let line = last.lines().find(|l| l.starts_with(shop)).unwrap_or_else(|| panic!("no line for {shop}: {stdout}"));
        let n: Vec<u64> = line.split_whitespace().skip(1).map(|f| f.parse().unwrap()).collect();
        let (pulled, delivered, pushed) = (n[0], n[1], n[2]);
        assert!(pulled > 0 && delivered > 0 && pushed > 0, "{shop}: {line}\n{stdout}");
    }
    assert!(stdout.contains("sales orders from Wharf"), "{stdout}");
    assert!(stdout.contains("agreed by the demo merchant"), "after-sales are answered: {stdout}");
    // The console's address and a token to sign in with.
    let console = stdout.lines().find(|l| l.starts_with("Console:")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(console.contains("/console (sign in with the demo tenant's token wharf_"), "{console}");
    // The totals row sums the shops.
    let total = last.lines().find(|l| l.starts_with("all shops")).unwrap_or_else(|| panic!("no totals: {stdout}"));
    let delivered: u64 = total.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!(delivered > 0, "{total}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The engine as `wharf serve` runs it for the world's tenant `acme`: its one `platform` shop,
/// SAP as the ERP, every module each second; running, and caught up (every paid order is one
/// sales order in SAP).
struct OnSap {
    dir: std::path::PathBuf,
    store: Store,
    control: Control,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
    /// The paid orders, each in SAP.
    paid: Vec<String>,
}

async fn on_sap(world: &wharf_sim::world::World, platform: &str, name: &str) -> OnSap {
    let dir = std::env::temp_dir().join(format!("wharf-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let secrets = dir.join("secrets.toml");
    let files = world.wharf_config("acme", &dir.join("data"), &wharf_tests::plugins::plugin_dir(), &secrets, "1s");
    std::fs::write(&secrets, &files.secrets).unwrap();
    let plugins = [platform, "sap"];
    let config = Config::from_toml_str(&files.toml, &dir, &plugins, &|_| None).unwrap_or_else(|e| panic!("{e}"));
    let store = Store::temporary().unwrap();
    let options = Options {
        tick: Duration::from_millis(50),
        progress_every: None,
        settle: Duration::from_secs(1),
        ..Options::default()
    };
    let scheduler = Scheduler::new(&config, &load(&plugins).await, store.clone(), options).await.unwrap();
    let control = scheduler.control();
    let (stop, handle) = run(scheduler);
    let sap = world.sap();
    let shop_id = world.shops()[0].shop_id.clone();
    let paid: Vec<String> = world
        .marketplace(platform)
        .unwrap()
        .expected_orders(&shop_id, 0, Timestamp::now().0 + 60_000)
        .into_iter()
        .filter(|o| o["status"] == "paid")
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!paid.is_empty());
    until(eventually("paid orders in SAP", Duration::from_secs(30), || {
        paid.iter().all(|id| sap.sales_orders_for_order(id).len() == 1)
    }))
    .await;
    OnSap { dir, store, control, stop, handle, paid }
}

/// Every module, both ways, between a simulated SAP and the real ECShop bridge: orders to SAP;
/// stock, lots, prices, tracking numbers, shipment details and ERP statuses pulled from SAP and
/// pushed to the shop; products, customer codes and listing changes through the in-process
/// intake the API will call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_module_flows_between_sap_and_ecshop() {
    use wharf_runtime::model::{CustomerMapping, ListingChange, Product};
    use wharf_sim::sap::ErpStage;
    use wharf_sim::world::{World, WorldOptions};
    let options = WorldOptions { platforms: vec!["ecshop".into()], orders: 20, seed: 5, ..WorldOptions::default() };
    let world = tokio::task::spawn_blocking(move || World::start(options)).await.unwrap().unwrap();
    let Some(shop) = world.ecshop() else {
        panic!("the ECShop simulator needs php with pdo_sqlite (tests/setup installs it): {:?}", world.skipped());
    };
    let OnSap { dir, store, control: submitter, stop, handle, paid } = on_sap(&world, "ecshop", "modules").await;
    let sap = world.sap();
    let db = shop.inspector();

    // The warehouse ships one whole order, with a tracking number: logistics and the shipment
    // detail reach the shop; then proof of delivery: the ERP status completes the order.
    let traffic = world.start_traffic();
    let shipped = paid[0].clone();
    until(eventually("the order shipped with its lines in the shop", Duration::from_secs(30), || {
        !db.deliveries_of(&shipped).unwrap().is_empty() && db.order_codes(&shipped).unwrap().shipping_status != 0
    }))
    .await;
    traffic.stop();
    sap.set_order_status(&shipped, ErpStage::Signed).unwrap();
    until(eventually("the signed status in the shop", Duration::from_secs(30), || {
        db.order_actions(&shipped).unwrap().iter().any(|a| a.action_note.starts_with("signed"))
    }))
    .await;

    // Stock, lots and prices pulled from SAP reach the shop (goods-level codes).
    until(eventually("SAP's stock, lots and prices in the shop", Duration::from_secs(40), || {
        let stock_ok = sap.expected_stock(None).iter().all(|row| {
            let sn = row["outer_sku_id"].as_str().unwrap();
            db.goods_by_sn(sn).unwrap().iter().all(|g| g.goods_number == row["quantity"].as_i64().unwrap())
        });
        let lots_ok = sap.expected_lots(None).iter().all(|lot| {
            let sn = lot["outer_sku_id"].as_str().unwrap();
            let mut want: Vec<(String, i64)> = lot["lots"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| (l["batch_no"].as_str().unwrap().to_owned(), l["quantity"].as_i64().unwrap()))
                .collect();
            let mut have: Vec<(String, i64)> =
                db.lots_of(sn).unwrap().into_iter().map(|l| (l.batch_no, l.quantity)).collect();
            want.sort();
            have.sort();
            db.goods_by_sn(sn).unwrap().is_empty() || want == have
        });
        let prices_ok = sap.expected_prices("1000", "10").iter().all(|p| {
            let sn = p["outer_sku_id"].as_str().unwrap();
            let default = p["prices"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["kind"] == "default")
                .map(|k| k["amount"].as_i64().unwrap());
            db.goods_by_sn(sn).unwrap().iter().all(|g| Some(g.shop_price) == default || default.is_none())
        });
        stock_ok && lots_ok && prices_ok
    }))
    .await;

    // Products, customer codes and listing changes, as the API will submit them.
    let intake = submitter.intake("acme").unwrap();
    let product: Product = serde_json::from_value(serde_json::json!({
        "erp_product_id": "FG-NEW-1", "title": "Vitamin C 100 tablets", "barcode": "6901234567892",
        "default_price": 2990, "stock": 12, "list_when_in_stock": true
    }))
    .unwrap();
    let report = intake.submit(&Update::Products(vec![product]), Timestamp::now()).unwrap();
    assert_eq!(report.queued, 1, "{report:?}");
    // A buyer the shop has (its user id, as the orders carry it), mapped to an ERP customer.
    let buyer = store
        .orders()
        .query("acme", &OrderQuery { any_sync: true, limit: Some(1000), ..Default::default() })
        .unwrap()
        .orders
        .into_iter()
        .find_map(|o| o.order.buyer_id)
        .expect("a buyer");
    let customer = CustomerMapping {
        erp_customer_code: "C-7001".into(),
        name: "Acme Pharmacy".into(),
        credit_code: None,
        platform_customer_id: Some(buyer),
    };
    intake.submit(&Update::Customers(vec![customer]), Timestamp::now()).unwrap();
    until(eventually("the product listed and the customer mapped", Duration::from_secs(20), || {
        db.goods_by_sn("FG-NEW-1").unwrap().first().is_some_and(|g| g.is_on_sale == 1 && g.goods_number == 12)
            && db.customer_mapping("C-7001").unwrap().is_some()
    }))
    .await;
    let delist = ListingChange { outer_sku_id: Some("FG-NEW-1".into()), product_id: None, listed: false };
    intake.submit(&Update::Listing(vec![delist]), Timestamp::now()).unwrap();
    until(eventually("the product delisted", Duration::from_secs(20), || {
        db.goods_by_sn("FG-NEW-1").unwrap().first().is_some_and(|g| g.is_on_sale == 0)
    }))
    .await;

    let letters = store.pushes().dead_letters("acme").unwrap();
    assert!(
        letters.iter().all(|l| l.push.module == "price" && l.reason.contains("per goods")),
        "only the prices ECShop keeps per goods are refused: {letters:?}"
    );
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), handle).await.expect("stops promptly").unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// After-sales on the SAP route: a refund requested before shipping waits (SAP gets a
/// document only once the merchant agrees); the merchant's answer goes to the platform, the
/// platform's next version reaches SAP as one credit memo request referring to the order's
/// sales order, and it stays one however often the engine runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sales_reach_sap_once_agreed_as_one_document_each() {
    use wharf_runtime::model::{AfterSaleAction, AfterSaleStatus};
    use wharf_runtime::store::AfterSaleQuery;
    use wharf_sim::world::{World, WorldOptions};
    let options = WorldOptions { platforms: vec!["taobao".into()], orders: 20, seed: 9, ..WorldOptions::default() };
    let world = tokio::task::spawn_blocking(move || World::start(options)).await.unwrap().unwrap();
    let OnSap { dir, store, control, stop, handle, .. } = on_sap(&world, "taobao", "after-sales-sap").await;
    let sap = world.sap();

    // The buyer asks a refund before the parcel leaves: Wharf flags it, SAP gets nothing yet.
    let id = world.taobao().unwrap().open_random_after_sale(true).expect("a paid order to refund").to_string();
    let stored = |status: Option<AfterSaleStatus>| {
        let query = AfterSaleQuery { any_sync: true, limit: Some(1000), ..Default::default() };
        let all = store.after_sales().query("acme", &query).unwrap().after_sales;
        all.into_iter().find(|a| a.after_sale.after_sale_id == id && status.is_none_or(|s| a.after_sale.status == s))
    };
    until(eventually("the request in Wharf, flagged", Duration::from_secs(20), || {
        stored(Some(AfterSaleStatus::Requested)).is_some_and(|a| a.intercept)
    }))
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(sap.refund_documents_for_after_sale(&id).is_empty(), "nothing in SAP before the merchant agrees");

    // The merchant agrees; the platform refunds; SAP gets one credit memo request.
    let request = stored(None).unwrap().after_sale;
    let agree: AfterSaleAction = serde_json::from_value(serde_json::json!({
        "after_sale_id": id, "order_id": request.order_id, "decision": "agree_refund",
        "refund_version": request.refund_version,
    }))
    .unwrap();
    let report = control.intake("acme").unwrap().submit(&Update::AfterSaleActions(vec![agree]), Timestamp::now());
    assert_eq!(report.unwrap().queued, 1);
    until(eventually("one credit memo request in SAP", Duration::from_secs(30), || {
        sap.refund_documents_for_after_sale(&id).len() == 1
    }))
    .await;
    let document = sap.refund_documents_for_after_sale(&id).remove(0);
    assert!(sap.credit_memo_requests().iter().any(|d| d.number == document.number), "{document:?}");
    let sales_order = sap.sales_orders_for_order(&request.order_id).remove(0);
    assert_eq!(document.reference, sales_order.sales_order, "{document:?}");
    until(eventually("the after-sale synced", Duration::from_secs(10), || {
        stored(None).is_some_and(|a| a.sync == wharf_runtime::store::SyncState::Synced)
    }))
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sap.refund_documents_for_after_sale(&id).len(), 1, "never a second document");
    assert!(store.outbox().dead_letters("acme").unwrap().is_empty(), "nothing dead-lettered");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), handle).await.expect("stops promptly").unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The packages of `wharf`'s build with their features, as `cargo tree` resolves `args` in the
/// workspace's root: one `name version|features` line per build of a package (host builds, for
/// proc-macros and build scripts, are lines of their own).
fn resolved(format: &str, args: &[&str]) -> std::collections::BTreeSet<String> {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(workspace)
        .args(["tree", "--locked", "--offline", "-f", format, "--prefix", "none"])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches(" (*)").to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The README's two commands: `tests/run` (what `.ci/run` runs) and the demo, `cargo run --bin
/// wharf -- sandbox` from the root. The demo resolves the host's dependencies with exactly the
/// features the test command built them with, so after the tests it compiles no wasmtime
/// again (`cargo run -p wharf-runtime` does: without the plugins among the selected packages,
/// wasmtime's proc-macro gets `anyhow` and `indexmap` with fewer features, and wasmtime with it).
#[test]
fn the_readme_commands_set_up_everything_and_the_demo_reuses_the_test_build() {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let read = |p: &str| std::fs::read_to_string(workspace.join(p)).unwrap();
    let readme = read("README.md");
    assert!(readme.contains("\ncargo run --bin wharf -- sandbox\n"), "the README's demo command");
    assert!(readme.contains("\ntests/run\n"), "the README's test command");
    assert!(read(".ci/run").lines().any(|l| l.trim() == "exec tests/run"), "CI runs the README's test command");
    let run = read("tests/run");
    assert!(run.contains("tests/setup") && run.contains("cargo test --locked"), "{run}");
    assert!(run.contains("cargo fmt --all --check") && run.contains("-- -D warnings"), "fmt and clippy hold: {run}");
    assert!(read("Cargo.toml").contains("[workspace.lints"), "the lints clippy holds the code to");
    let setup = read("tests/setup");
    for package in ["php-cli", "php-sqlite3", "mariadb-server", "php-mysql", "postgresql", "wasm32-wasip2", "clippy"] {
        assert!(setup.contains(package), "tests/setup installs {package}");
    }

    // Every build of a package `wharf` depends on, as the demo resolves it, is one the test
    // command resolved the same way.
    let host: std::collections::BTreeSet<String> = resolved("{p}", &["-p", "wharf-runtime", "-e", "normal,build"]);
    let of_host = |lines: std::collections::BTreeSet<String>| -> std::collections::BTreeSet<String> {
        lines.into_iter().filter(|l| host.contains(l.split('|').next().unwrap())).collect()
    };
    let demo = of_host(resolved("{p}|{f}", &["-e", "normal,build"]));
    let tests = of_host(resolved("{p}|{f}", &["--workspace", "-e", "normal,build,dev"]));
    let differ: Vec<_> = demo.symmetric_difference(&tests).collect();
    assert!(differ.is_empty(), "the demo would build these with other features than the tests did: {differ:#?}");

    // The production build (the runtime alone) links no simulator; the demo has them.
    assert!(!host.iter().any(|p| p.starts_with("wharf-sim ")), "the production build links the simulators: {host:#?}");
    let runtime = demo.iter().find(|l| l.starts_with("wharf-runtime ")).expect("the demo builds the runtime");
    assert!(runtime.split('|').nth(1).is_some_and(|f| f.split(',').any(|f| f == "simulators")), "{runtime}");
}

/// Updates a first import leaves waiting for platform ids: as many as an ERP's whole stock list.
const WAITING_BACKLOG: usize = 100_000;

/// `wharf serve` as the backlog test runs it, with the simulator's credentials in its env.
fn spawn_backlog_serve(config: &std::path::Path, log: &std::path::Path, sim: &TaobaoSim) -> std::process::Child {
    let secrets: BTreeMap<String, String> = Marketplace::secrets(sim);
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    std::process::Command::new(wharf_tests::plugins::wharf_bin())
        .args(["--cache-dir", cache_dir().to_str().unwrap(), "serve", "--config", config.to_str().unwrap()])
        .env("WHARF_LOG", "info")
        .env("WHARF_OPERATOR_TOKEN", "wharf_backlog_operator")
        .env("TB_SECRET", &secrets["app_secret"])
        .env("TB_SESSION", &secrets["session"])
        .env("HOOK_SECRET", SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("wharf serve starts")
}

/// The share of one core `pid` uses over a few seconds.
async fn idle_cpu(pid: u32) -> f64 {
    let (cpu, wall) = (cpu_time(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(5)).await;
    (cpu_time(pid) - cpu).as_secs_f64() / wall.elapsed().as_secs_f64()
}

/// SIGTERM, then how long `child` took to exit (it must exit 0).
async fn stop_serve(mut child: std::process::Child, log: &std::path::Path) -> Duration {
    let stopping = Instant::now();
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(status.success(), "a graceful stop exits 0 ({status}); see {}", log.display());
    stopping.elapsed()
}

/// 100,000 queued stock updates for SKUs no order has shown (waiting for the platform's ids):
/// `wharf serve` idles as it does without them, another tenant's orders flow, an order that
/// shows a waiting SKU sends its stock at once, the waiting updates list and purge over the
/// API, and SIGTERM stops it at once. Prints the figures
/// BENCHMARKS.md quotes (bounds are generous: the machine is shared).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_waiting_for_platform_ids_costs_nothing_and_stops_at_once() {
    use wharf_runtime::store::{NewPush, WaitingFilter};
    let sim = TaobaoSim::spawn_from_async(SimConfig {
        orders: 20,
        seed: 21,
        modified_span_ms: 3_600_000,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (erp_acme, erp_beta) =
        (WebhookErp::start(SECRET.as_bytes()).await.unwrap(), WebhookErp::start(SECRET.as_bytes()).await.unwrap());
    let dir = std::env::temp_dir().join(format!("wharf-backlog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (data, log) = (dir.join("data"), dir.join("serve.log"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let toml = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = {:?}\nplugin_dir = {:?}\ngrant_plugin_dir_hosts = true\n{}\n{}",
        data.display().to_string(),
        wharf_tests::plugins::plugin_dir().display().to_string(),
        taobao_toml(&sim, &erp_acme.url),
        taobao_toml(&sim, &erp_beta.url).replace("tenants.acme", "tenants.beta"),
    );
    let config = dir.join("wharf.toml");
    std::fs::write(&config, toml).unwrap();

    // First without a backlog: what idling costs anyway (two tenants pulling every second).
    let child = spawn_backlog_serve(&config, &log, &sim);
    let expected = sim.trades().len();
    until(eventually("every order at both ERPs", Duration::from_secs(60), || {
        erp_beta.state().latest_versions().len() == expected && erp_acme.state().latest_versions().len() == expected
    }))
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = idle_cpu(child.id()).await;
    let baseline_stop = stop_serve(child, &log).await;
    eprintln!(
        "backlog: no backlog: idle CPU {:.1}% of one core, SIGTERM to exit {} ms",
        baseline * 100.0,
        baseline_stop.as_millis()
    );

    // The backlog, straight through the store: queued, sent once, refused for want of ids.
    // Besides SKUs the shop does not have, the shop's own SKUs no order has shown yet.
    let sold: std::collections::BTreeSet<String> =
        sim.trades().iter().flat_map(|t| t.orders.iter().filter_map(|o| o.outer_sku_id.clone())).collect();
    let unsold: Vec<String> = sim
        .items()
        .iter()
        .flat_map(|i| i.skus.iter().filter_map(|s| s.outer_id.clone()))
        .filter(|s| !sold.contains(s))
        .collect();
    assert!(!unsold.is_empty(), "every SKU of the simulator is sold already");
    let started = Instant::now();
    let seeded = tokio::task::spawn_blocking({
        let (data, unsold) = (data.clone(), unsold.clone());
        move || {
            let store = Store::open(&data).unwrap();
            let pushes = store.pushes();
            let skus = (0..WAITING_BACKLOG).map(|i| format!("NEW-{i:06}")).chain(unsold);
            for sku in skus {
                let record = serde_json::json!({"outer_sku_id": sku, "quantity": 777, "version": 1});
                let new = NewPush { tenant: "acme", shop: "tb", module: "stock", item: &sku, record, version: Some(1) };
                pushes.offer(new, 0).unwrap();
            }
            loop {
                let due = pushes.due("acme", "tb", "stock", 0, 1_000).unwrap();
                if due.is_empty() {
                    break;
                }
                for push in due {
                    let sku = push.item.clone();
                    pushes.wait_for_ids(&push, &sku, "the platform needs its product id", i64::MAX).unwrap();
                }
            }
            store.flush().unwrap();
            pushes.pending_count("acme", "tb").unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(seeded, WAITING_BACKLOG + unsold.len());
    eprintln!("backlog: {WAITING_BACKLOG} waiting updates stored in {:.1} s", started.elapsed().as_secs_f64());

    // With the backlog: orders that change meanwhile reach both tenants' ERPs.
    let child = spawn_backlog_serve(&config, &log, &sim);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let changed = sim.change_orders(5);
    let reached = |erp: &WebhookErp| {
        let versions = erp.state().latest_versions();
        changed.iter().all(|tid| versions.get(&tid.to_string()).is_some_and(|v| *v >= 2))
    };
    until(eventually("the changed orders at both ERPs", Duration::from_secs(60), || {
        reached(&erp_beta) && reached(&erp_acme)
    }))
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let share = idle_cpu(child.id()).await;
    eprintln!("backlog: {WAITING_BACKLOG} waiting updates: idle CPU {:.1}% of one core", share * 100.0);
    assert!(share < 0.25, "idling with a backlog costs {:.0}% of a core; see {}", share * 100.0, log.display());

    // A buyer orders one of the shop's waiting SKUs: the order teaches its ids, and its stock
    // goes out at once.
    let mut rng = wharf_sim::rng::SimRng::new(14);
    let mut taught = None;
    for _ in 0..500 {
        let tid = sim.add_paid_trade(&mut rng, sim.now_ms());
        let trade = sim.trades().into_iter().find(|t| t.tid == tid).unwrap();
        taught = trade.orders.iter().filter_map(|o| o.outer_sku_id.clone()).find(|s| unsold.contains(s));
        if taught.is_some() {
            break;
        }
    }
    let taught = taught.expect("a new order shows a waiting SKU");
    until(eventually("the woken SKU's stock on the shop", Duration::from_secs(60), || {
        sim.sku_by_outer_id(&taught).is_some_and(|(_, sku)| sku.quantity == 777)
    }))
    .await;

    // Listed a page at a time, purged by SKU.
    let http = reqwest::Client::new();
    let api = format!("http://127.0.0.1:{port}/v1/tenants/acme/updates/waiting");
    let auth = "Bearer wharf_backlog_operator";
    let text = http.get(format!("{api}?limit=10")).header("authorization", auth).send().await.unwrap().text().await;
    let page: serde_json::Value = serde_json::from_str(&text.unwrap()).unwrap();
    assert_eq!(page["updates"].as_array().unwrap().len(), 10, "{page}");
    assert_eq!(page["updates"][0]["waiting_for_sku"], "NEW-000000");
    assert!(page["next_cursor"].is_string(), "{page}");
    let purge = |body: serde_json::Value| {
        let request = http
            .post(format!("{api}/purge"))
            .header("authorization", auth)
            .header("content-type", "application/json")
            .body(body.to_string());
        async move { request.send().await.unwrap() }
    };
    let answer = purge(serde_json::json!({"shop": "tb", "sku": "NEW-000007", "reason": "discontinued"})).await;
    assert_eq!(answer.status(), 200);
    let answer: serde_json::Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(answer["purged"], 1, "{answer}");
    let refused = purge(serde_json::json!({"reason": "everything?"})).await;
    assert_eq!(refused.status(), 400, "a purge names what, or says all");

    // SIGTERM with the backlog: a prompt, clean stop.
    let stop = stop_serve(child, &log).await;
    eprintln!("backlog: {} waiting updates: SIGTERM to exit {} ms", WAITING_BACKLOG - 1, stop.as_millis());
    assert!(stop < Duration::from_secs(5), "stopping took {stop:?}; see {}", log.display());

    // The rest purged at once, and nothing else was touched.
    let store = Store::open(&data).unwrap();
    let started = Instant::now();
    let purged = store.pushes().purge_waiting("acme", &WaitingFilter::default()).unwrap();
    eprintln!("backlog: purged {purged} waiting updates in {} ms", started.elapsed().as_millis());
    assert!(purged >= WAITING_BACKLOG - 1, "{purged}");
    assert_eq!(store.pushes().pending_count("acme", "tb").unwrap(), 0);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
