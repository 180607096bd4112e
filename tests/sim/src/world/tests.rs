use std::time::Duration;

use serde_json::json;

use super::*;
use crate::serve::wall_ms;

fn options(platforms: &[&str]) -> WorldOptions {
    WorldOptions {
        platforms: platforms.iter().map(|p| (*p).to_owned()).collect(),
        orders_per_second: 5.0,
        orders: 12,
        changes_per_second: 2.0,
        stock_changes_per_second: 5.0,
        ship_after_ms: 1_000,
        ..WorldOptions::default()
    }
}

const SO_PATH: &str = "/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder";

/// Creates a sales order of `material` through the gateway, with the CSRF handshake a client
/// does, as the SAP plugin's push would.
fn create_sales_order(sap: &SapSim, po: &str, material: &str) {
    let auth = crate::sap::basic_authorization(&sap.config().user, &sap.config().password);
    let fetch = sap.handle_raw("GET", SO_PATH, "$top=0", &[("authorization", &auth), ("x-csrf-token", "Fetch")], b"");
    assert_eq!(fetch.status, 200, "{}", fetch.body);
    let header =
        |name: &str| fetch.headers.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect::<Vec<_>>();
    let token = header("x-csrf-token").remove(0);
    let cookie = header("set-cookie")
        .iter()
        .map(|c| c.split(';').next().unwrap_or("").to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let body = json!({"SalesOrderType": "OR", "SalesOrganization": "1000", "DistributionChannel": "10", "OrganizationDivision": "00",
           "SoldToParty": "C0001", "PurchaseOrderByCustomer": po, "TransactionCurrency": "CNY",
           "to_Item": {"results": [{"SalesOrderItem": "000010", "Material": material, "RequestedQuantity": "2", "RequestedQuantityUnit": "EA",
                "to_PricingElement": {"results": [{"ConditionType": "PR00", "ConditionRateValue": "12.50", "ConditionCurrency": "CNY"}]}}]}});
    let created = sap.handle_raw(
        "POST",
        SO_PATH,
        "sap-client=100",
        &[("authorization", &auth), ("x-csrf-token", &token), ("cookie", &cookie)],
        body.to_string().as_bytes(),
    );
    assert_eq!(created.status, 201, "{}", created.body);
}

#[test]
fn the_catalogue_is_shared_with_sap() {
    let world = World::start(options(&["taobao", "jd", "douyin"])).unwrap();
    let materials: BTreeSet<String> = world.sap().stock().into_iter().map(|r| r.material).collect();
    let catalog: BTreeSet<String> = world.catalog().outer_sku_ids().into_iter().collect();
    assert!(catalog.is_subset(&materials), "every SKU has stock rows in SAP");
    for trade in world.taobao().unwrap().trades() {
        for line in &trade.orders {
            assert!(catalog.contains(line.outer_sku_id.as_deref().unwrap_or("")), "taobao line {line:?}");
        }
    }
    for item in world.taobao().unwrap().items() {
        assert!(item.skus.iter().all(|s| s.outer_id.as_ref().is_some_and(|o| catalog.contains(o))));
    }
    for shop in [world.jd().unwrap().shop(), world.douyin().unwrap().shop()] {
        assert_eq!(&shop.catalog(), world.catalog());
    }
    let shops = world.shops();
    assert_eq!(shops.iter().map(|s| s.platform.as_str()).collect::<Vec<_>>(), ["taobao", "jd", "douyin"]);
    for shop in &shops {
        assert_eq!(shop.config["page_size"], "50");
        assert!(shop.config["endpoint"].starts_with("http://127.0.0.1:"));
        assert!(!shop.secrets.is_empty() && shop.hosts[0].starts_with("127.0.0.1:"));
    }
    let erp = world.erp();
    assert_eq!((erp.plugin.as_str(), erp.config["page_size"].as_str()), ("sap", "100"));
    assert!(erp.secrets.contains_key("sap_password"));
    let carriers = world.carriers();
    assert_eq!(carriers["SF"]["jd"], "467");
    assert!(!carriers["SF"].contains_key("ecshop"), "only running platforms");
    let seeded: BTreeSet<String> = world.sap().deliveries().into_iter().map(|d| d.means_of_transport).collect();
    assert!(seeded.iter().filter(|c| !c.is_empty()).all(|c| carriers.contains_key(c)), "{seeded:?}");
    assert!(world.skipped().is_empty());
    assert!(World::start(WorldOptions { platforms: vec!["amazon".into()], ..WorldOptions::default() }).is_err());
}

#[test]
fn traffic_makes_orders_stock_and_shipments() {
    let world = World::start(options(&["jd", "douyin", "taobao"])).unwrap();
    let before_stock = world.sap().stock();
    let started = wall_ms();
    create_sales_order(world.sap(), "WORLD-PO-1", &world.catalog().skus[0].outer_sku_id);
    let traffic = world.start_traffic();
    std::thread::sleep(Duration::from_millis(2_300));
    traffic.stop();
    let now = wall_ms();

    let stats = world.stats();
    for platform in ["jd", "douyin", "taobao"] {
        let s = &stats.platforms[platform];
        assert!(s.orders_created >= 8, "{platform}: {s:?}");
        assert!(s.orders_changed >= 2, "{platform}: {s:?}");
    }
    // New orders are listed with updated_at near now.
    for platform in ["jd", "douyin", "taobao"] {
        let m = world.marketplace(platform).unwrap();
        let fresh = m.expected_orders("s1", started / 1000 * 1000, now + 1000);
        // Paid: shippable, or held (JD pauses some paid orders).
        let paid = fresh.iter().filter(|o| o["status"] == "paid" || o["status"] == "held").count();
        assert!(paid >= 8, "{platform}: {} fresh orders, {paid} paid", fresh.len());
        for o in &fresh {
            let updated =
                chrono::DateTime::parse_from_rfc3339(o["updated_at"].as_str().unwrap()).unwrap().timestamp_millis();
            assert!(updated >= started / 1000 * 1000 - 1000 && updated <= now, "{platform}: {o}");
        }
    }
    let jd = world.jd().unwrap().shop();
    let newest = jd.orders.iter().max_by_key(|o| o.order_no).unwrap();
    assert!(
        world
            .jd()
            .unwrap()
            .call(crate::jd::ORDER_GET, &json!({"order_id": newest.order_no.to_string()}))
            .to_string()
            .contains(&newest.order_no.to_string())
    );

    // SAP: stock changed, the pushed order shipped with a known carrier.
    assert!(stats.sap.stock_changes >= 5, "{:?}", stats.sap);
    assert_ne!(world.sap().stock(), before_stock);
    assert_eq!(stats.sap.sales_orders, 1);
    assert_eq!(stats.sap.deliveries, 1);
    let logistics = world.sap().expected_logistics("1000", Some((started - 1000, now + 1000)));
    let ours = logistics.iter().find(|l| l["order_id"] == "WORLD-PO-1").expect("the pushed order shipped");
    assert!(world.carriers().contains_key(ours["carrier_code"].as_str().unwrap()), "{ours}");
    assert!(ours["tracking_no"].as_str().unwrap().len() > 5);
}

#[test]
fn traffic_is_deterministic_per_seed() {
    let run = || {
        let world = World::start(WorldOptions { platforms: vec!["jd".into()], orders: 5, ..options(&[]) }).unwrap();
        let traffic = world.start_traffic();
        std::thread::sleep(Duration::from_millis(1_100));
        traffic.stop();
        let shop = world.jd().unwrap().shop();
        // Order numbers and lines (not times) are the same on every run with the seed.
        let mut orders: Vec<(u64, Vec<(usize, i64)>)> =
            shop.orders.iter().map(|o| (o.order_no, o.lines.iter().map(|l| (l.sku, l.quantity)).collect())).collect();
        orders.sort();
        orders.truncate(5 + 5);
        orders
    };
    assert_eq!(run(), run());
}

#[test]
fn ecshop_takes_new_orders_too() {
    if crate::ecshop::php::check_installed().is_err() {
        let world = World::start(options(&["ecshop", "jd"])).unwrap();
        assert_eq!(world.skipped()[0].0, "ecshop");
        return;
    }
    let world = World::start(options(&["ecshop"])).unwrap();
    let sim = world.ecshop().unwrap();
    let started = wall_ms();
    let mut rng = SimRng::new(1);
    let sn = sim.add_paid_order(&mut rng, started).unwrap();
    let (from, to) = (started / 1000 * 1000, started / 1000 * 1000 + 1000);
    let answer = sim
        .request(&format!("action=orders&since={}&until={}&page=1&page_size=50", from / 1000, to / 1000 - 1), None)
        .unwrap();
    let body = answer.json().unwrap();
    assert!(body.to_string().contains(&sn), "{body}");
    let expected = sim.expected_orders("s1", from, to);
    assert!(
        expected.iter().any(|o| o["order_id"] == sn && (o["status"] == "paid" || o["status"] == "held")),
        "{expected:?}"
    );
    let catalog: BTreeSet<String> = world.catalog().outer_sku_ids().into_iter().collect();
    let shop = sim.shop();
    assert!(shop.orders.iter().flat_map(|o| &o.lines).all(|l| catalog.contains(&shop.skus[l.sku].outer_sku_id)));

    let traffic = world.start_traffic();
    std::thread::sleep(Duration::from_millis(1_100));
    traffic.stop();
    let stats = world.stats();
    assert!(stats.platforms["ecshop"].orders_created >= 4, "{stats:?}");
    assert!(stats.platforms["ecshop"].orders_changed >= 1, "{stats:?}");
}

#[test]
fn traffic_opens_and_advances_after_sales_only_when_asked() {
    let world =
        World::start(WorldOptions { after_sales_per_second: 10.0, ..options(&["jd", "douyin", "taobao"]) }).unwrap();
    let quiet = World::start(options(&["jd"])).unwrap();
    let traffic = world.start_traffic();
    let quiet_traffic = quiet.start_traffic();
    // Until every platform has opened a few (every third an intercept) and advanced some: the
    // ticks' pace depends on the machine's load, so the test waits for counts, not for time.
    let enough =
        |s: &PlatformStats| s.after_sales_opened >= 6 && s.intercepts_opened >= 2 && s.after_sales_advanced >= 2;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !["jd", "douyin", "taobao"].iter().all(|p| enough(&world.stats().platforms[*p])) {
        assert!(std::time::Instant::now() < deadline, "{:?}", world.stats());
        std::thread::sleep(Duration::from_millis(100));
    }
    traffic.stop();
    quiet_traffic.stop();
    let stats = world.stats();
    let jd = world.jd().unwrap().after_sales();
    assert_eq!(jd.len() as u64, stats.platforms["jd"].after_sales_opened);
    assert!(jd.iter().any(|a| a.kind == crate::shop::AfterSaleKind::RefundBeforeShipping));
    assert_eq!(world.taobao().unwrap().refunds().len() as u64, stats.platforms["taobao"].after_sales_opened);
    assert!(world.douyin().unwrap().after_sales().iter().any(|a| a.version > 1));
    assert!(quiet.jd().unwrap().after_sales().is_empty());
    assert_eq!(quiet.stats().platforms["jd"].after_sales_opened, 0);
}
