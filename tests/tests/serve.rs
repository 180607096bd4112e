//! The sync engine as `wharf serve` runs it: every loop on tokio against real plugins, real
//! simulators on loopback, a real sled store and a real webhook ERP.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::{Duration, Instant};

use wharf_runtime::config::Config;
use wharf_runtime::limits::Limits;
use wharf_runtime::model::{Logistics, StockUpdate, Timestamp};
use wharf_runtime::retry::Backoff;
use wharf_runtime::store::{Hold, OrderQuery, SkuSync, Store};
use wharf_runtime::sync::intake::Update;
use wharf_runtime::sync::scheduler::{Options, Scheduler, Submitter};
use wharf_runtime::{Plugin, Sandbox};
use wharf_sim::Marketplace;
use wharf_sim::taobao::{SimConfig, TaobaoSim, TradeStatus};
use wharf_tests::plugins::{cache_dir, plugin_path};
use wharf_tests::webhook_erp::WebhookErp;

const SECRET: &str = "whsec_serve_test";

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

[tenants.acme.webhook]
url = "{erp_url}"
secret = "env:HOOK_SECRET"

[tenants.acme.schedule]
orders = "1s"

[tenants.acme.carriers.SF]
taobao = "SF"
"#,
        config = table.join(", ")
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
    Update::Stock(vec![StockUpdate { outer_sku_id: sku.into(), product_id: None, sku_id: None, quantity, warehouse: None, version: 0 }])
}

fn submit(submitter: &Submitter, update: Update) {
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
    let sim = tokio::task::spawn_blocking(|| {
        TaobaoSim::spawn_blocking_runtime(SimConfig { orders: 60, seed: 9, modified_span_ms: 3_600_000, ..SimConfig::default() })
    })
    .await
    .unwrap()
    .unwrap();
    let erp = WebhookErp::start(SECRET.as_bytes()).await.unwrap();
    let config = load_config(&taobao_toml(&sim, &erp.url), &sim);
    let store = Store::temporary().unwrap();
    let fast = Backoff { base: Duration::from_millis(50), max_delay: Duration::from_millis(400), ..Backoff::default() };
    let options = Options { tick: Duration::from_millis(50), backoff: fast, progress_every: None, ..Options::default() };
    let scheduler = Scheduler::new(&config, &load(&["taobao"]).await, store.clone(), options).unwrap();
    let submitter = scheduler.submitter();
    let progress = scheduler.progress();
    let (stop, handle) = run(scheduler);

    // Every order reaches the ERP, once per version.
    let expected = sim.trades().len();
    until(eventually("every order at the ERP", Duration::from_secs(45), || erp.state().latest_versions().len() == expected)).await;

    // The ERP goes down; orders change meanwhile; nothing is lost and nothing doubles.
    erp.state().down = true;
    let changed = sim.change_orders(5);
    until(eventually("the changes are stored and owed", Duration::from_secs(30), || {
        store.outbox().pending().unwrap().len() >= changed.len()
    }))
    .await;
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
            assert!(state.latest_versions()[&tid.to_string()] >= 2, "order {tid} changed");
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
    let (num_iid, sku_id): (u64, u64) = (line.product_id.unwrap().parse().unwrap(), line.sku_id.unwrap().parse().unwrap());
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
    intake().switch_module("tb", "stock", false, "operator", Timestamp::now()).unwrap();
    submit(&submitter, stock(&sku, 43));
    submit(&submitter, stock(&sku, 44));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(on_shop(), Some(42), "paused");
    assert_eq!(store.pushes().pending_count("acme", "tb").unwrap(), 1, "kept, once, the latest");
    intake().switch_module("tb", "stock", true, "operator", Timestamp::now()).unwrap();
    until(eventually("stock 44 after the switch is back on", Duration::from_secs(20), || on_shop() == Some(44))).await;

    // The SKU's own override.
    intake().switch_sku(&sku, SkuSync::Stock, false, "operator", Timestamp::now()).unwrap();
    submit(&submitter, stock(&sku, 45));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(on_shop(), Some(44), "SKU override off");
    intake().switch_sku(&sku, SkuSync::Stock, true, "operator", Timestamp::now()).unwrap();
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

    // A SKU the shop never sold has no platform ids: the plugin refuses it, and the refusal
    // is parked with its reason, replayable.
    submit(&submitter, stock("NO-SUCH-SKU", 3));
    until(eventually("the unknown SKU dead-lettered", Duration::from_secs(20), || {
        !store.pushes().dead_letters("acme").unwrap().is_empty()
    }))
    .await;
    let letter = store.pushes().dead_letters("acme").unwrap().remove(0);
    assert!(letter.reason.contains("product_id"), "{}", letter.reason);
    assert!(store.pushes().replay("acme", letter.push.id, Timestamp::now().0).unwrap());

    // Logistics: the ERP's carrier code through the tenant's table; the order ships.
    let tid = sim.trades().into_iter().find(|t| t.status == TradeStatus::WaitSellerSendGoods).expect("a paid order").tid;
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

    let shops = progress.snapshot(&store).unwrap();
    assert!(shops.iter().any(|p| p.shop == "tb" && p.pulled >= expected && p.delivered >= expected && p.pushed >= 7), "{shops:?}");
    assert!(store.audit().recent("acme", 100).unwrap().len() >= 6, "switches and holds are audited");

    // A graceful stop: loops finish their step, the store is flushed.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), handle).await.expect("stops promptly").unwrap();
}
