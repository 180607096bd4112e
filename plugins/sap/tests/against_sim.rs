//! The plugin's logic run natively against the SAP simulator: each request the plugin sends
//! is handed to [`SapSim::handle_raw`] (no wasm, no sockets), with the Basic auth the host
//! would fill in. What the simulator holds afterwards is SAP's ground truth.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wharf_plugin_sap::settings::Settings;
use wharf_plugin_sap::transport::Transport;
use wharf_plugin_sap::{delivery, erp_status, idoc, lots, prices, sales_order, stock};
use wharf_sdk::http::{Method, Request, Response};
use wharf_sdk::types::{
    ConnectorError, ErpStatusCode, Order, OrderLine, OrderPushOutcome, OrderStatus, PriceKind, PullRequest,
    RefundStatus, TimeWindow,
};
use wharf_sim::harness::{rfc3339, strip_nulls};
use wharf_sim::sap::{ErpStage, SapConfig, SapSim, ShipLine, basic_authorization};

/// 2025-05-30 08:00:00 UTC.
const NOW: i64 = 1_748_592_000_000;

/// Sends through the simulator's gateway, as the host would through HTTP.
struct SimTransport<'a> {
    sim: &'a SapSim,
}

impl Transport for SimTransport<'_> {
    fn send(&mut self, request: &Request) -> Result<Response, ConnectorError> {
        let after_scheme = request.url.split_once("://").map_or("", |(_, rest)| rest);
        let path_and_query = after_scheme.find('/').map_or("/", |slash| &after_scheme[slash..]);
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let method = match request.method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        };
        let config = self.sim.config();
        let auth = basic_authorization(&config.user, &config.password);
        let mut headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        headers.push(("authorization", &auth));
        let answer = self.sim.handle_raw(method, path, query, &headers, &request.body);
        Ok(Response { status: answer.status, headers: answer.headers, body: answer.body.into_bytes() })
    }
}

fn sim() -> SapSim {
    SapSim::spawn(SapConfig { now_ms: Some(NOW), ..SapConfig::default() }).unwrap()
}

fn settings(config: BTreeMap<String, String>, extra: &[(&str, &str)]) -> Settings {
    let mut config = config;
    for (k, v) in extra {
        config.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_lookup(|k| config.get(k).cloned()).unwrap()
}

/// A paid order of two units of `FG-0001` at 12.50, from `platform`'s shop `shop_id`.
fn order(platform: &str, shop_id: &str, order_id: &str) -> Order {
    Order {
        platform: platform.into(),
        shop_id: shop_id.into(),
        order_id: order_id.into(),
        status: OrderStatus::Paid,
        platform_status: "paid".into(),
        refund_status: RefundStatus::None,
        created_at: NOW - 3_600_000,
        paid_at: Some(NOW - 3_000_000),
        updated_at: NOW - 3_000_000,
        currency: "CNY".into(),
        goods_total: 2_500,
        shipping_fee: 0,
        discount_total: 0,
        paid_total: 2_500,
        buyer_id: None,
        buyer_nick: None,
        buyer_message: None,
        seller_memo: None,
        receiver: None,
        invoice: None,
        erp_customer_code: None,
        lines: vec![OrderLine {
            line_id: format!("{order_id}-1"),
            product_id: None,
            sku_id: None,
            outer_product_id: None,
            outer_sku_id: Some("FG-0001".into()),
            title: "板蓝根颗粒".into(),
            sku_properties: None,
            quantity: 2,
            unit_price: 1_250,
            discount: 0,
            line_total: 2_500,
            batch_no: None,
            refund_status: RefundStatus::None,
        }],
    }
}

fn erp_ref(outcome: &OrderPushOutcome) -> (&'static str, String) {
    match outcome {
        OrderPushOutcome::Created(r) => ("created", r.clone()),
        OrderPushOutcome::AlreadyExists(r) => ("already_exists", r.clone()),
        OrderPushOutcome::Failed(e) => panic!("failed: {e:?}"),
    }
}

/// The issue's case: an ECShop order whose id equals a Taobao order's is its own sales order,
/// created once, however often each is sent.
#[test]
fn two_shops_with_one_order_id_get_a_sales_order_each_once_even_sent_twice() {
    let sim = sim();
    let s = settings(sim.plugin_config(), &[]);
    let orders = || vec![order("taobao", "tb-1", "1001"), order("ecshop", "main", "1001")];
    let mut t = SimTransport { sim: &sim };
    let first: Vec<_> =
        sales_order::push_orders(&mut t, &s, orders()).unwrap().iter().map(|r| erp_ref(&r.outcome)).collect();
    assert_eq!((first[0].0, first[1].0), ("created", "created"));
    assert_ne!(first[0].1, first[1].1, "two sales orders");

    // A retry of both, and each alone again: nothing new.
    for batch in [orders(), vec![orders().remove(1)], vec![orders().remove(0)]] {
        let again = sales_order::push_orders(&mut t, &s, batch.clone()).unwrap();
        for (result, sent) in again.iter().zip(&batch) {
            let index = usize::from(sent.platform == "ecshop");
            assert_eq!(erp_ref(&result.outcome), ("already_exists", first[index].1.clone()));
        }
    }
    let in_sap = sim.sales_orders_for_order("1001");
    assert_eq!(in_sap.len(), 2, "one sales order per shop");
    let mut keys: Vec<&str> = in_sap.iter().map(|o| o.purchase_order.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["EC0E93F273-1001", "TB3CAEFEF1-1001"]);
    for o in &in_sap {
        assert_eq!(sim.sales_orders_for_po(&o.purchase_order).len(), 1);
    }

    // A third shop with a prefix the operator set: its order 1001 is its own sales order too.
    let s = settings(sim.plugin_config(), &[("po_prefix_by_shop", r#"{"jd:j1": "JD1"}"#)]);
    let third = sales_order::push_orders(&mut t, &s, vec![order("jd", "j1", "1001")]).unwrap();
    assert_eq!(erp_ref(&third[0].outcome).0, "created");
    assert_eq!(sim.sales_orders_for_po("JD1-1001").len(), 1);
    assert_eq!(sim.sales_orders_for_order("1001").len(), 2, "the others unchanged");
}

#[test]
fn idocs_carry_the_key_naming_the_shop() {
    let sim = sim();
    let s = settings(sim.idoc_plugin_config(), &[]);
    let mut t = SimTransport { sim: &sim };
    let results =
        idoc::push_orders(&mut t, &s, vec![order("taobao", "tb-1", "1001"), order("ecshop", "main", "1001")], NOW)
            .unwrap();
    assert!(results.iter().all(|r| erp_ref(&r.outcome).0 == "created"));
    let idocs = sim.idocs();
    assert_eq!(idocs.len(), 2);
    for (idoc, key) in idocs.iter().zip(["TB3CAEFEF1-1001", "EC0E93F273-1001"]) {
        assert_eq!(
            idoc.xml.matches(&format!("<BELNR>{key}</BELNR>")).count(),
            2,
            "E1EDK01 and E1EDK02 BELNR: {}",
            idoc.xml
        );
    }
}

/// Every page of a pull, from no cursor to the last.
fn all_pages<P>(
    mut pull: impl FnMut(&PullRequest) -> Result<P, ConnectorError>,
    window: Option<TimeWindow>,
    mut take: impl FnMut(P) -> Option<String>,
) {
    let mut cursor = None;
    for _ in 0..100 {
        let request = PullRequest { window, cursor: cursor.clone() };
        match take(pull(&request).unwrap()) {
            None => return,
            Some(next) => cursor = Some(next),
        }
    }
    panic!("more than 100 pages");
}

fn lines_json(lines: &[wharf_sdk::types::ShipmentLine]) -> Value {
    lines
        .iter()
        .map(|l| {
            json!({"outer_sku_id": l.outer_sku_id, "quantity": l.quantity, "batch_no": l.batch_no,
                        "produced_on": l.produced_on, "expires_on": l.expires_on})
        })
        .collect()
}

fn stripped(mut v: Vec<Value>) -> Vec<Value> {
    v.iter_mut().for_each(strip_nulls);
    v
}

fn erp_status_name(code: ErpStatusCode) -> &'static str {
    match code {
        ErpStatusCode::Accepted => "accepted",
        ErpStatusCode::Picking => "picking",
        ErpStatusCode::Packed => "packed",
        ErpStatusCode::OutOfStock => "out_of_stock",
        ErpStatusCode::Shipped => "shipped",
        ErpStatusCode::Signed => "signed",
        ErpStatusCode::Cancelled => "cancelled",
    }
}

/// Everything the plugin pulls, against a simulator that refuses `$filter` and `$orderby` on
/// what SAP's metadata marks non-filterable or non-sortable and pads every `Edm.Decimal` to
/// its declared scale: what comes out is what the simulator says SAP holds, and the two
/// shops' orders `1001` come back as two orders `1001`.
#[test]
fn every_pull_comes_out_as_the_simulator_expects() {
    let sim = sim();
    let s = settings(sim.plugin_config(), &[]);
    let mut t = SimTransport { sim: &sim };
    let pushed = sales_order::push_orders(
        &mut t,
        &s,
        vec![order("taobao", "tb-1", "1001"), order("ecshop", "main", "1001"), order("taobao", "tb-1", "1002")],
    )
    .unwrap();
    assert!(pushed.iter().all(|r| erp_ref(&r.outcome).0 == "created"));
    let number = |key: &str| sim.sales_orders_for_po(key)[0].sales_order.clone();
    let line = |batches: Vec<(&str, u32)>| ShipLine {
        material: "FG-0001".into(),
        quantity: 2,
        batches: batches.into_iter().map(|(b, q)| (b.to_owned(), q)).collect(),
    };
    sim.ship(&number("TB3CAEFEF1-1001"), &[line(vec![])], Some(("SF100", "SF"))).unwrap();
    sim.ship(&number("EC0E93F273-1001"), &[line(vec![("B1", 1), ("B2", 1)])], Some(("YT200", "YTO"))).unwrap();
    sim.set_order_status("TB3CAEFEF1-1002", ErpStage::Packed).unwrap();

    for window in [None, Some(TimeWindow { from: NOW - 60_000, to: NOW + 60_000 })] {
        let range = window.map(|w| (w.from, w.to));
        let mut shipments = Vec::new();
        all_pages(
            |r| delivery::pull_shipments(&mut t, &s, r),
            window,
            |page| {
                shipments
                    .extend(page.items.iter().map(|d| json!({"order_id": d.order_id, "lines": lines_json(&d.lines)})));
                page.next_cursor
            },
        );
        assert_eq!(stripped(shipments.clone()), stripped(sim.expected_shipments("1000", range)));
        let ours: Vec<&Value> = shipments.iter().filter(|s| s["order_id"] == "1001").collect();
        assert_eq!(ours.len(), 2, "each shop's order 1001 shipped: {shipments:?}");

        let mut logistics = Vec::new();
        all_pages(
            |r| delivery::pull_logistics(&mut t, &s, r),
            window,
            |page| {
                logistics.extend(page.items.iter().map(|l| {
                    json!({"order_id": l.order_id, "carrier_code": l.carrier_code,
                    "tracking_no": l.tracking_no, "shipped_at": rfc3339(l.shipped_at)})
                }));
                page.next_cursor
            },
        );
        assert_eq!(logistics, sim.expected_logistics("1000", range));

        let mut statuses = Vec::new();
        all_pages(
            |r| erp_status::pull_erp_status(&mut t, &s, r),
            window,
            |page| {
                statuses.extend(page.items.iter().map(|e| {
                    json!({"order_id": e.order_id,
                    "erp_status": erp_status_name(e.erp_status), "at": rfc3339(e.at), "note": e.note})
                }));
                page.next_cursor
            },
        );
        assert_eq!(statuses, sim.expected_erp_statuses("1000", range));
        let mine: Vec<(&str, &str)> = statuses
            .iter()
            .filter(|s| s["order_id"] == "1001" || s["order_id"] == "1002")
            .map(|s| (s["order_id"].as_str().unwrap(), s["erp_status"].as_str().unwrap()))
            .collect();
        assert_eq!(mine, [("1001", "shipped"), ("1001", "shipped"), ("1002", "packed")]);
    }
    assert!(
        sim.expected_shipments("1000", None).len()
            > sim.expected_shipments("1000", Some((NOW - 60_000, NOW + 60_000))).len(),
        "the window leaves the seeded orders out"
    );

    let mut stock = Vec::new();
    all_pages(
        |r| stock::pull_stock(&mut t, &s, r, NOW),
        None,
        |page| {
            stock.extend(
                page.items
                    .iter()
                    .map(|u| json!({"outer_sku_id": u.outer_sku_id, "quantity": u.quantity, "warehouse": u.warehouse})),
            );
            page.next_cursor
        },
    );
    assert!(!stock.is_empty());
    assert_eq!(stripped(stock), sim.expected_stock(None));

    let mut lot_syncs = Vec::new();
    all_pages(
        |r| lots::pull_lots(&mut t, &s, r),
        None,
        |page| {
            lot_syncs.extend(page.items.iter().map(|l| {
                let lots: Vec<Value> = l
                    .lots
                    .iter()
                    .map(|lot| {
                        json!({"batch_no": lot.batch_no, "produced_on": lot.produced_on,
                    "expires_on": lot.expires_on, "quantity": lot.quantity})
                    })
                    .collect();
                json!({"outer_sku_id": l.outer_sku_id, "lots": stripped(lots)})
            }));
            page.next_cursor
        },
    );
    assert!(!lot_syncs.is_empty());
    assert_eq!(lot_syncs, sim.expected_lots(None));

    let mut price_updates = Vec::new();
    all_pages(
        |r| prices::pull_prices(&mut t, &s, r, NOW),
        None,
        |page| {
            price_updates.extend(page.items.iter().map(|u| {
                let prices: Vec<Value> = u
                    .prices
                    .iter()
                    .map(|p| match &p.kind {
                        PriceKind::Default => json!({"kind": "default", "amount": p.amount}),
                        PriceKind::SuggestedRetail => {
                            json!({"kind": "suggested_retail", "amount": p.amount})
                        }
                        PriceKind::RegionGroup(g) => {
                            json!({"kind": "region_group", "group_id": g, "amount": p.amount})
                        }
                        PriceKind::CustomerGroup(g) => {
                            json!({"kind": "customer_group", "group_id": g, "amount": p.amount})
                        }
                    })
                    .collect();
                json!({"outer_sku_id": u.outer_sku_id, "currency": u.currency, "prices": prices})
            }));
            page.next_cursor
        },
    );
    assert!(!price_updates.is_empty());
    assert_eq!(price_updates, sim.expected_prices("1000", "10"));
}
