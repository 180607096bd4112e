//! The simulator against the real bridge, over HTTP through the proxy, on SQLite and on
//! MariaDB: every case runs on both (`sqlite::…` and `mariadb::…`). Needs php with pdo_sqlite
//! and pdo_mysql, and Debian's mariadb-server (`.ci/run` installs them); without them the
//! cases fail, saying what to install.

use super::model::yuan;
use super::*;

fn sim(backend: Backend, orders: usize) -> EcshopSim {
    EcshopSim::start(EcshopConfig { orders, seed: 7, backend, ..EcshopConfig::default() })
        .unwrap_or_else(|e| panic!("starting the ECShop simulator on {}: {e:#}", backend.name()))
}

/// Each case, once per backend: `sqlite::<case>` and `mariadb::<case>`.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $case() {
                super::$case(super::Backend::Sqlite);
            })*
        }
        mod mariadb {
            $(#[test]
            fn $case() {
                super::$case(super::Backend::MariaDb);
            })*
        }
    };
}

on_both_backends!(
    the_bridge_serves_what_the_model_expects,
    a_changed_order_moves_for_the_bridge_too,
    faults_come_from_the_front_end_and_the_bridge,
    push_checks_read_the_database_back,
    the_marketplace_face,
    shipments_in_parts_and_erp_status_moves,
    texts_fit_ecshops_columns,
    back_orders_are_the_after_sales_the_model_expects,
);

fn orders_query(from_ms: i64, to_ms: i64, page: u32, page_size: u32) -> String {
    // The bridge's bounds are inclusive seconds: [from, to) → [from, to − 1 s].
    format!("action=orders&since={}&until={}&page={page}&page_size={page_size}", from_ms / 1000, to_ms / 1000 - 1)
}

fn the_bridge_serves_what_the_model_expects(backend: Backend) {
    let sim = sim(backend, 40);
    let (from, to) = sim.window();
    let expected = sim.expected_orders("s1", from, to);
    assert_eq!(expected.len(), 40);

    let answer = sim.request(&orders_query(from, to, 1, 100), None).unwrap();
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let body = answer.json().unwrap();
    assert_eq!(body["total"], 40);
    let orders = body["orders"].as_array().unwrap();
    let model = sim.model();
    for (order, want) in orders.iter().zip(&expected) {
        assert_eq!(order["order_sn"], want["order_id"], "same order, newest first");
        let i = model.index_of_sn(order["order_sn"].as_str().unwrap()).unwrap();
        let shop_order = &model.shop.orders[i];
        assert_eq!(order["updated_at"].as_i64().unwrap() * 1000, shop_order.updated_ms, "change time = newest action");
        assert_eq!(order["goods_amount"], yuan(shop_order.goods_total()));
        assert_eq!(order["goods"].as_array().unwrap().len(), shop_order.lines.len());
        assert_eq!(order["province_name"], shop_order.receiver.province.as_str());
        assert_eq!(order["order_status"], model.states[i].order_status);
        assert!(order.get("email").is_none(), "the bridge keeps e-mail addresses in the shop");
    }

    // Paging: two pages of 25 hold the same orders in the same order.
    let page = |n| {
        sim.request(&orders_query(from, to, n, 25), None).unwrap().json().unwrap()["orders"].as_array().unwrap().clone()
    };
    let paged: Vec<Value> = page(1).into_iter().chain(page(2)).collect();
    assert_eq!(
        paged.iter().map(|o| o["order_sn"].clone()).collect::<Vec<_>>(),
        orders.iter().map(|o| o["order_sn"].clone()).collect::<Vec<_>>()
    );

    // A narrow window holds exactly the orders whose change time falls in it.
    let middle = model.shop.orders[0].updated_ms;
    let narrow = sim.request(&orders_query(middle, middle + 1000, 1, 100), None).unwrap().json().unwrap();
    assert_eq!(narrow["total"].as_u64().unwrap() as usize, sim.expected_orders("s1", middle, middle + 1000).len());
}

fn a_changed_order_moves_for_the_bridge_too(backend: Backend) {
    let sim = sim(backend, 20);
    let before = sim.model();
    let sn = sim.change_order();
    let after = sim.model();
    let i = after.index_of_sn(&sn).unwrap();
    assert!(after.shop.orders[i].updated_ms > before.shop.orders[i].updated_ms);
    assert_ne!(after.states[i], before.states[i]);

    let order = sim.request(&format!("action=order&order_sn={sn}"), None).unwrap().json().unwrap();
    let order = &order["order"];
    assert_eq!(order["updated_at"].as_i64().unwrap() * 1000, after.shop.orders[i].updated_ms);
    assert_eq!(order["order_status"], after.states[i].order_status);
    assert_eq!(order["pay_status"], after.states[i].pay_status);
    let (from, to) = sim.window();
    let expected = sim.expected_orders("s1", after.shop.orders[i].updated_ms, to);
    assert_eq!(expected.len(), 1);
    assert_eq!(expected[0]["order_id"], sn);
    assert!(from < after.shop.orders[i].updated_ms);
}

fn faults_come_from_the_front_end_and_the_bridge(backend: Backend) {
    let sim = sim(backend, 5);
    let ping = || sim.request("action=ping", None).unwrap();
    assert_eq!(ping().status, 200);

    sim.throttle(1, 7);
    assert_eq!(ping().status, 200);
    let throttled = ping();
    assert_eq!((throttled.status, throttled.header("retry-after")), (429, Some("7")));
    sim.clear_faults();

    sim.fail_next(1, 503);
    let failed = ping();
    assert_eq!(failed.status, 503);
    assert!(String::from_utf8_lossy(&failed.body).contains("nginx"));
    assert_eq!(ping().status, 200);

    sim.revoke_credentials();
    let refused = ping();
    assert_eq!(refused.status, 401, "the bridge itself refuses");
    assert_eq!(refused.json().unwrap()["error"]["code"], "unauthorized");
    sim.clear_faults();
    assert_eq!(ping().status, 200);

    let key = sim.malform_next_order();
    assert_eq!(ping().status, 200, "a body without orders stays whole");
    let (from, to) = sim.window();
    let broken = sim.request(&orders_query(from, to, 1, 5), None).unwrap().json().unwrap();
    assert_eq!(broken["orders"][0][key.as_str()], "abc");
    let again = sim.request(&orders_query(from, to, 1, 5), None).unwrap().json().unwrap();
    assert_eq!(again["orders"][0][key.as_str()], "abc", "every listing until the faults are cleared");
    sim.clear_faults();
    let whole = sim.request(&orders_query(from, to, 1, 5), None).unwrap().json().unwrap();
    assert!(whole["orders"][0][key.as_str()].as_str().unwrap().contains('.'));
}

/// Writes what each push case asks for straight to the bridge (as the plugin would) and
/// checks the case sees it; a case must fail before.
fn push_checks_read_the_database_back(backend: Backend) {
    let sim = sim(backend, 30);
    let cases = sim.push_cases();
    let operations: Vec<&str> = cases.iter().map(|c| c.operation.as_str()).collect();
    assert_eq!(
        operations,
        [
            "push-stock",
            "push-prices",
            "push-listing",
            "push-logistics",
            "push-lots",
            "push-products",
            "push-customers",
            "push-shipments",
            "push-erp-status"
        ]
    );
    for case in &cases {
        assert!((case.check)().is_err(), "{} passes before the push", case.operation);
        for item in case.input.as_array().unwrap() {
            let (action, body) = match case.operation.as_str() {
                "push-stock" => ("stock", json!({"sn": item["outer_sku_id"], "quantity": item["quantity"]})),
                "push-prices" => (
                    "price",
                    json!({"sn": item["outer_sku_id"], "shop_price": yuan(item["prices"][0]["amount"].as_i64().unwrap())}),
                ),
                "push-listing" => match item.get("product_id") {
                    Some(id) => (
                        "listing",
                        json!({"goods_id": id.as_str().unwrap().parse::<u64>().unwrap(), "on_sale": item["listed"]}),
                    ),
                    None => ("listing", json!({"sn": item["outer_sku_id"], "on_sale": item["listed"]})),
                },
                "push-logistics" => (
                    "ship",
                    json!({"order_sn": item["order_id"], "invoice_no": item["tracking_no"], "shipping_name": item["carrier_code"]}),
                ),
                other => bridge_body(other, item),
            };
            let answer = sim.request(&format!("action={action}"), Some(&body)).unwrap();
            assert_eq!(answer.status, 200, "{action}: {}", String::from_utf8_lossy(&answer.body));
        }
        (case.check)().unwrap_or_else(|e| panic!("{}: {e}", case.operation));
    }

    // The proxy saw the shipment: the order is expected shipped, changed now.
    let sn = cases[3].input[0]["order_id"].as_str().unwrap().to_owned();
    let (from, to) = sim.window();
    let shipped: Vec<Value> =
        sim.expected_orders("s1", from, to).into_iter().filter(|o| o["order_id"] == sn.as_str()).collect();
    assert_eq!(shipped[0]["status"], "shipped");
    assert_eq!(shipped[0]["platform_status"], "order_status=1;shipping_status=1;pay_status=2");
    let bridge = sim.request(&format!("action=order&order_sn={sn}"), None).unwrap().json().unwrap();
    assert_eq!(shipped[0]["updated_at"], rfc3339(bridge["order"]["updated_at"].as_i64().unwrap() * 1000));
}

/// The bridge body the plugin sends for one item of the newer pushes (written here from the
/// bridge's API, independently of the plugin).
fn bridge_body(operation: &str, item: &Value) -> (&'static str, Value) {
    match operation {
        "push-lots" => ("lots", json!({"sn": item["outer_sku_id"], "lots": item["lots"]})),
        "push-products" => {
            let price = yuan(item["default_price"].as_i64().unwrap());
            let stock = item["stock"].as_u64().unwrap();
            let brief =
                format!("批准文号:{};规格:{}", item["approval_no"].as_str().unwrap(), item["spec"].as_str().unwrap());
            (
                "product",
                json!({
                    "goods_sn": item["erp_product_id"], "goods_name": item["title"], "shop_price": price, "market_price": price,
                    "goods_number": stock, "is_on_sale": item["list_when_in_stock"] == true && stock > 0, "cat_id": 0,
                    "goods_brief": brief,
                }),
            )
        }
        "push-customers" => ("customer", item.clone()),
        "push-shipments" => {
            let lines: Vec<Value> = item["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    let mut l = l.clone();
                    let sn = l.as_object_mut().unwrap().remove("outer_sku_id").unwrap();
                    l["sn"] = sn;
                    l
                })
                .collect();
            ("shipment", json!({"order_sn": item["order_id"], "lines": lines}))
        }
        "push-erp-status" => {
            let at = chrono::DateTime::parse_from_rfc3339(item["at"].as_str().unwrap()).unwrap().timestamp();
            // The simulator's config: `signed` completes the order (order_status 1, received).
            let to = if item["erp_status"] == "signed" {
                json!({"order_status": 1, "shipping_status": 2, "pay_status": null})
            } else {
                Value::Null
            };
            (
                "erp_status",
                json!({"order_sn": item["order_id"], "erp_status": item["erp_status"], "at": at, "note": item["note"], "move": to}),
            )
        }
        other => panic!("no bridge body for {other}"),
    }
}

fn the_marketplace_face(backend: Backend) {
    let sim = sim(backend, 3);
    assert_eq!(sim.platform(), "ecshop");
    assert_eq!(sim.config()["endpoint"], sim.endpoint());
    assert!(sim.endpoint().ends_with("/wharf-bridge.php"));
    assert_eq!(sim.secrets()[TOKEN_SECRET].len(), 32);
    assert_eq!(sim.grant(), sim.addr().to_string());
    assert_eq!(sim.backend(), backend);
    let dir = sim.dir().to_owned();
    let mariadb_dir = sim.mariadb().map(|m| m.dir().to_owned());
    match backend {
        Backend::Sqlite => assert!(dir.join("ecshop.db").exists()),
        Backend::MariaDb => {
            assert!(mariadb_dir.as_ref().is_some_and(|d| d.join("data").exists()));
            // The bridge logs in as its own user with the README's grants, over the socket.
            let ping = sim.request("action=ping", None).unwrap().json().unwrap();
            assert_eq!(ping["driver"], "mysql", "{ping}");
        }
    }
    drop(sim);
    assert!(!dir.exists(), "the files go with the simulator");
    assert!(mariadb_dir.is_none_or(|d| !d.exists()), "MariaDB's files go with the simulator");
}

/// A shipment in two parts: partly shipped with the first, shipped with the rest, each part
/// a delivery order; an ERP status move then shows in the expected orders.
fn shipments_in_parts_and_erp_status_moves(backend: Backend) {
    let sim = sim(backend, 30);
    let model = sim.model();
    let i = model.by_stage()["paid"].iter().copied().find(|&i| model.shop.orders[i].lines.len() >= 2).unwrap();
    let sn = model.states[i].order_sn.clone();
    let line = |l: &crate::shop::Line| json!({"sn": model.shop.skus[l.sku].outer_sku_id, "quantity": l.quantity, "batch_no": "L1"});
    let (first, rest) = model.shop.orders[i].lines.split_first().unwrap();
    let post = |action: &str, body: Value| {
        let answer = sim.request(&format!("action={action}"), Some(&body)).unwrap();
        (answer.status, answer.json().unwrap())
    };
    let (status, body) = post("shipment", json!({"order_sn": sn, "lines": [line(first)]}));
    assert_eq!((status, body["complete"].clone()), (200, json!(false)), "{body}");
    assert_eq!(sim.inspector().order_codes(&sn).unwrap().shipping_status, 4);
    let rest: Vec<Value> = rest.iter().map(line).collect();
    let (status, body) = post("shipment", json!({"order_sn": sn, "lines": rest}));
    assert_eq!((status, body["complete"].clone()), (200, json!(true)), "{body}");
    let deliveries = sim.inspector().deliveries_of(&sn).unwrap();
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().flat_map(|d| &d.lines).all(|l| l.batch_no.as_deref() == Some("L1")));
    assert!(sim.inspector().sent_of(&sn).unwrap().iter().all(|(ordered, sent)| ordered == sent));
    let (status, body) = post("shipment", json!({"order_sn": sn, "lines": [line(first)]}));
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("over_shipped")), "{body}");
    let (from, to) = sim.window();
    let expected = |sn: &str| sim.expected_orders("s1", from, to).into_iter().find(|o| o["order_id"] == sn).unwrap();
    assert_eq!(expected(&sn)["status"], "shipped");

    // The ERP signs for it: completed.
    let at = sim.now_ms() / 1000;
    let move_to = json!({"order_status": 1, "shipping_status": 2, "pay_status": null});
    let (status, body) =
        post("erp_status", json!({"order_sn": sn, "erp_status": "signed", "at": at, "note": "ok", "move": move_to}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(expected(&sn)["status"], "completed");
    let last = sim.inspector().order_actions(&sn).unwrap().pop().unwrap();
    assert_eq!((last.action_note.as_str(), last.shipping_status, last.log_time), ("signed: ok", 2, at));

    // A lot sync replaces; a product is sent twice but stays one goods.
    let sku = &model.shop.skus[first.sku].outer_sku_id;
    for batches in [vec!["A", "B"], vec!["C"]] {
        let lots: Vec<Value> = batches.iter().map(|b| json!({"batch_no": b, "quantity": 1})).collect();
        assert_eq!(post("lots", json!({"sn": sku, "lots": lots})).0, 200);
    }
    let lots = sim.inspector().lots_of(sku).unwrap();
    assert_eq!(lots.iter().map(|l| l.batch_no.as_str()).collect::<Vec<_>>(), ["C"]);
    let product = json!({"goods_sn": "P-9", "goods_name": "x", "shop_price": "1.00", "market_price": "1.00", "goods_number": 0, "is_on_sale": false, "cat_id": 0});
    let (_, created) = post("product", product.clone());
    let (_, again) = post("product", product);
    assert_eq!(
        (created["created"].clone(), again["created"].clone(), again["goods_id"].clone()),
        (json!(true), json!(false), created["goods_id"].clone())
    );
    assert_eq!(sim.inspector().goods_by_sn("P-9").unwrap().len(), 1);
}

/// What fits SQLite but not ECShop's MySQL columns: the bridge cuts what it composes or copies
/// to the column, and refuses what it cannot store, alike on both backends.
fn texts_fit_ecshops_columns(backend: Backend) {
    let sim = sim(backend, 30);
    let model = sim.model();
    let paid = &model.by_stage()["paid"];
    let (shipped, delivered) = (&model.states[paid[0]].order_sn, &model.states[paid[1]].order_sn);
    let post = |action: &str, body: Value| {
        let answer = sim.request(&format!("action={action}"), Some(&body)).unwrap();
        (answer.status, answer.json().unwrap())
    };
    let chars = |sql: &str, sn: &str| {
        let rows = sim.database().query(sql, vec![json!(sn)]).unwrap();
        rows[0].values().next().unwrap().as_str().unwrap().chars().count()
    };

    // A waybill note of 19 + 120 + 1 + 255 characters; the action note holds 255.
    let (status, body) =
        post("ship", json!({"order_sn": shipped, "invoice_no": "单".repeat(255), "shipping_name": "快".repeat(120)}));
    assert_eq!(status, 200, "{body}");
    let note = "SELECT a.action_note FROM ecs_order_action a JOIN ecs_order_info o ON o.order_id = a.order_id \
                WHERE o.order_sn = ? ORDER BY a.action_id DESC LIMIT 1";
    assert_eq!(chars(note, shipped), 255);

    // An order's address fills its varchar(255); the delivery order's is varchar(250).
    let address = "路".repeat(255);
    let update = "UPDATE ecs_order_info SET address = ? WHERE order_sn = ?";
    sim.database().run(None, &[php::Statement::once(update, vec![json!(address), json!(delivered)])]).unwrap();
    let first = &model.shop.orders[paid[1]].lines[0];
    let line = json!({"sn": model.shop.skus[first.sku].outer_sku_id, "quantity": 1});
    let (status, body) = post("shipment", json!({"order_sn": delivered, "lines": [line]}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["order"]["address"], address.as_str());
    assert_eq!(chars("SELECT address FROM ecs_delivery_order WHERE order_sn = ?", delivered), 250);

    // Four-byte characters: ECShop's utf8 tables cannot hold them.
    let product = json!({"goods_sn": "P-1", "goods_name": "维生素C 💊", "shop_price": "1.00", "market_price": "1.00", "goods_number": 0, "is_on_sale": false, "cat_id": 0});
    let (status, body) = post("product", product);
    assert_eq!((status, body["error"]["field"].clone()), (400, json!("goods_name")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("U+1F48A"), "{body}");
    assert!(sim.inspector().goods_by_sn("P-1").unwrap().is_empty());

    // A time beyond ECShop's int(11) unsigned log_time.
    let late = json!({"order_sn": shipped, "erp_status": "picking", "at": 4_294_967_296_i64});
    let (status, body) = post("erp_status", late);
    assert_eq!((status, body["error"]["field"].clone()), (400, json!("at")), "{body}");
}

fn back_orders_are_the_after_sales_the_model_expects(backend: Backend) {
    let sim = sim(backend, 60);
    let seeded = sim.after_sales().len();
    let first = sim.return_order().unwrap().expect("a shipped order to return");
    let second = sim.return_order().unwrap().expect("another");
    let truth = sim.after_sales();
    assert_eq!(truth.len(), seeded + 2);
    assert!(truth.iter().any(|a| a.id == first) && truth.iter().any(|a| a.id == second));
    let model = sim.model();
    for a in &truth {
        let i = model.shop.orders.iter().position(|o| o.order_no == a.order_no).unwrap();
        assert_eq!(a.refund_amount, model.shop.orders[i].lines.iter().map(|l| l.line_total()).sum::<i64>());
        assert_eq!(a.status, crate::shop::AfterSaleStatus::Refunded, "returned orders stay returned here");
    }

    let (from, to) = sim.window();
    let query = format!("action=back_orders&since={}&until={}&page=1&page_size=100", from / 1000, to / 1000 - 1);
    let answer = sim.request(&query, None).unwrap();
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let body = answer.json().unwrap();
    assert_eq!(body["total"], truth.len());
    let backs = body["back_orders"].as_array().unwrap();
    for back in backs {
        let t = truth.iter().find(|a| back["back_id"] == a.id).unwrap_or_else(|| panic!("{back}"));
        let i = model.shop.orders.iter().position(|o| o.order_no == t.order_no).unwrap();
        assert_eq!(back["order_sn"], model.states[i].order_sn.as_str());
        assert_eq!(back["order"]["order_sn"], model.states[i].order_sn.as_str(), "the whole order comes along");
        assert_eq!(back["order"]["order_status"], 4);
        assert_eq!(back["updated_at"].as_i64().unwrap() * 1000, t.updated_ms, "changed when the order last was");
        assert_eq!(back["return_time"].as_i64().unwrap() * 1000, t.created_ms);
        let goods = back["goods"].as_array().unwrap();
        assert_eq!(goods.len(), t.lines.len());
        for (g, l) in goods.iter().zip(&t.lines) {
            assert_eq!(g["send_number"], l.quantity);
        }
        assert!(back.get("consignee").is_none(), "the back order's receiver copy stays in the shop");
    }
    // Newest change first.
    let times: Vec<i64> = backs.iter().map(|b| b["updated_at"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    // The returns just made, and nothing older, in a window starting at the first one.
    let newest = truth.iter().find(|a| a.id == first).unwrap().updated_ms;
    let query = format!("action=back_orders&since={}&until={}", newest / 1000, to / 1000 - 1);
    let recent = sim.request(&query, None).unwrap().json().unwrap();
    let mut ids: Vec<u64> =
        recent["back_orders"].as_array().unwrap().iter().map(|b| b["back_id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [first, second]);

    let one = sim.request(&format!("action=back_order&back_id={first}"), None).unwrap();
    assert_eq!(one.status, 200);
    assert_eq!(one.json().unwrap()["back_order"]["back_id"], first);
    let missing = sim.request("action=back_order&back_id=999999", None).unwrap();
    assert_eq!((missing.status, missing.json().unwrap()["error"]["code"].clone()), (404, json!("not_found")));
    let bad = sim.request("action=back_order&back_id=x", None).unwrap();
    assert_eq!((bad.status, bad.json().unwrap()["error"]["field"].clone()), (400, json!("back_id")));
    assert!(sim.writes().is_empty(), "reads are not writes: {:?}", sim.writes());
}
