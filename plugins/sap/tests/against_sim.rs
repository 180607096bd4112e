//! The plugin's logic run natively against the SAP simulator: each request the plugin sends
//! is handed to [`SapSim::handle_raw`] (no wasm, no sockets), with the Basic auth the host
//! would fill in. What the simulator holds afterwards is SAP's ground truth.

use std::collections::BTreeMap;

use wharf_plugin_sap::settings::Settings;
use wharf_plugin_sap::transport::Transport;
use wharf_plugin_sap::{idoc, sales_order};
use wharf_sdk::http::{Method, Request, Response};
use wharf_sdk::types::{
    ConnectorError, Order, OrderLine, OrderPushOutcome, OrderStatus, RefundStatus,
};
use wharf_sim::sap::{SapConfig, SapSim, basic_authorization};

/// 2025-05-30 08:00:00 UTC.
const NOW: i64 = 1_748_592_000_000;

/// Sends through the simulator's gateway, as the host would through HTTP.
struct SimTransport<'a> {
    sim: &'a SapSim,
}

impl Transport for SimTransport<'_> {
    fn send(&mut self, request: &Request) -> Result<Response, ConnectorError> {
        let after_scheme = request.url.split_once("://").map_or("", |(_, rest)| rest);
        let path_and_query = after_scheme
            .find('/')
            .map_or("/", |slash| &after_scheme[slash..]);
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
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
        let answer = self
            .sim
            .handle_raw(method, path, query, &headers, &request.body);
        Ok(Response {
            status: answer.status,
            headers: answer.headers,
            body: answer.body.into_bytes(),
        })
    }
}

fn sim() -> SapSim {
    SapSim::spawn(SapConfig {
        now_ms: Some(NOW),
        ..SapConfig::default()
    })
    .unwrap()
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
    let orders = || {
        vec![
            order("taobao", "tb-1", "1001"),
            order("ecshop", "main", "1001"),
        ]
    };
    let mut t = SimTransport { sim: &sim };
    let first: Vec<_> = sales_order::push_orders(&mut t, &s, orders())
        .unwrap()
        .iter()
        .map(|r| erp_ref(&r.outcome))
        .collect();
    assert_eq!((first[0].0, first[1].0), ("created", "created"));
    assert_ne!(first[0].1, first[1].1, "two sales orders");

    // A retry of both, and each alone again: nothing new.
    for batch in [orders(), vec![orders().remove(1)], vec![orders().remove(0)]] {
        let again = sales_order::push_orders(&mut t, &s, batch.clone()).unwrap();
        for (result, sent) in again.iter().zip(&batch) {
            let index = usize::from(sent.platform == "ecshop");
            assert_eq!(
                erp_ref(&result.outcome),
                ("already_exists", first[index].1.clone())
            );
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
    let s = settings(
        sim.plugin_config(),
        &[("po_prefix_by_shop", r#"{"jd:j1": "JD1"}"#)],
    );
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
    let results = idoc::push_orders(
        &mut t,
        &s,
        vec![
            order("taobao", "tb-1", "1001"),
            order("ecshop", "main", "1001"),
        ],
        NOW,
    )
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
