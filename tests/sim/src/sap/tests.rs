use std::io::{Read, Write};

use serde_json::{Value, json};

use super::*;
use crate::faults::Malform;

fn sim() -> SapSim {
    SapSim::spawn(SapConfig { now_ms: Some(1_748_592_000_000), ..SapConfig::default() }).unwrap()
}

fn auth(sim: &SapSim) -> String {
    basic_authorization(&sim.config().user, &sim.config().password)
}

const SO_PATH: &str = "/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder";
const STOCK_PATH: &str = "/sap/opu/odata/sap/API_MATERIAL_STOCK_SRV/A_MatlStkInAcctMod";
const DELIVERY_PATH: &str = "/sap/opu/odata/sap/API_OUTBOUND_DELIVERY_SRV;v=0002/A_OutbDeliveryHeader";

fn get(sim: &SapSim, path: &str, query: &str) -> Value {
    let a = auth(sim);
    let answer = sim.handle_raw("GET", path, query, &[("authorization", &a)], b"");
    assert_eq!(answer.status, 200, "{}", answer.body);
    serde_json::from_str(&answer.body).unwrap()
}

fn q(pairs: &[(&str, &str)]) -> String {
    crate::taobao::encode_pairs(pairs.iter().copied())
}

fn header<'a>(answer: &'a gateway::Answer, name: &str) -> Vec<&'a str> {
    answer.headers.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
}

/// Fetches a token: `(token, cookie header)`.
fn fetch_token(sim: &SapSim) -> (String, String) {
    let a = auth(sim);
    let answer = sim.handle_raw("GET", SO_PATH, "$top=0", &[("authorization", &a), ("x-csrf-token", "Fetch")], b"");
    assert_eq!(answer.status, 200);
    let token = header(&answer, "x-csrf-token")[0].to_owned();
    let cookies: Vec<&str> = header(&answer, "set-cookie").iter().map(|c| c.split(';').next().unwrap()).collect();
    (token, cookies.join("; "))
}

fn create(sim: &SapSim, body: &Value) -> gateway::Answer {
    let (token, cookie) = fetch_token(sim);
    let a = auth(sim);
    sim.handle_raw(
        "POST",
        SO_PATH,
        "sap-client=100",
        &[("authorization", &a), ("x-csrf-token", &token), ("cookie", &cookie)],
        body.to_string().as_bytes(),
    )
}

fn order_body(po: &str) -> Value {
    json!({"SalesOrderType": "OR", "SalesOrganization": "1000", "DistributionChannel": "10", "OrganizationDivision": "00",
           "SoldToParty": "C0001", "PurchaseOrderByCustomer": po, "TransactionCurrency": "CNY",
           "RequestedDeliveryDate": "/Date(1748563200000)/",
           "to_Item": {"results": [
               {"SalesOrderItem": "000010", "Material": "FG-0001", "RequestedQuantity": "2", "RequestedQuantityUnit": "EA",
                "to_PricingElement": {"results": [{"ConditionType": "PR00", "ConditionRateValue": "12.50", "ConditionCurrency": "CNY"},
                                                  {"ConditionType": "RB00", "ConditionRateValue": "-1.00", "ConditionCurrency": "CNY"}]}}]},
           "to_PricingElement": {"results": [{"ConditionType": "ZFRE", "ConditionRateValue": "8.00", "ConditionCurrency": "CNY"}]}})
}

fn error_code(answer: &gateway::Answer) -> String {
    let v: Value = serde_json::from_str(&answer.body).unwrap();
    v["error"]["code"].as_str().unwrap().to_owned()
}

#[test]
fn logon_needs_basic_auth_and_the_right_client() {
    let sim = sim();
    let answer = sim.handle_raw("GET", SO_PATH, "", &[], b"");
    assert_eq!(answer.status, 401);
    assert!(header(&answer, "www-authenticate")[0].starts_with("Basic realm="));
    let wrong = basic_authorization("WHARF_COMM", "nope");
    assert_eq!(sim.handle_raw("GET", SO_PATH, "", &[("authorization", &wrong)], b"").status, 401);
    let a = auth(&sim);
    assert_eq!(sim.handle_raw("GET", SO_PATH, "sap-client=200", &[("authorization", &a)], b"").status, 401);
    assert_eq!(sim.handle_raw("GET", SO_PATH, "sap-client=100", &[("authorization", &a)], b"").status, 200);
    assert_eq!(sim.handle_raw("GET", "/sap/opu/odata/sap/API_NOPE/A_X", "", &[("authorization", &a)], b"").status, 404);
}

#[test]
fn writes_need_the_sessions_csrf_token() {
    let sim = sim();
    let a = auth(&sim);
    let body = order_body("P-1").to_string();
    let refused = sim.handle_raw("POST", SO_PATH, "", &[("authorization", &a)], body.as_bytes());
    assert_eq!((refused.status, refused.body.as_str()), (403, "CSRF token validation failed"));
    assert_eq!(header(&refused, "x-csrf-token"), ["Required"]);
    let (token, cookie) = fetch_token(&sim);
    assert!(cookie.starts_with("SAP_SESSIONID_S4H_100="), "{cookie}");
    let without_cookie =
        sim.handle_raw("POST", SO_PATH, "", &[("authorization", &a), ("x-csrf-token", &token)], body.as_bytes());
    assert_eq!(without_cookie.status, 403);
    let headers = [("authorization", a.as_str()), ("x-csrf-token", token.as_str()), ("cookie", cookie.as_str())];
    let created = sim.handle_raw("POST", SO_PATH, "", &headers, body.as_bytes());
    assert_eq!(created.status, 201, "{}", created.body);
    // The same session's Fetch answers the same token.
    let again = sim.handle_raw(
        "GET",
        SO_PATH,
        "$top=0",
        &[("authorization", &a), ("x-csrf-token", "Fetch"), ("cookie", &cookie)],
        b"",
    );
    assert_eq!(header(&again, "x-csrf-token"), [token.as_str()]);
    assert!(header(&again, "set-cookie").is_empty());
    sim.expire_csrf_tokens();
    assert_eq!(sim.handle_raw("POST", SO_PATH, "", &headers, order_body("P-2").to_string().as_bytes()).status, 403);
}

#[test]
fn deep_insert_creates_and_refuses_a_second_order_for_one_po() {
    let sim = sim();
    let created = create(&sim, &order_body("3012345678901"));
    assert_eq!(created.status, 201, "{}", created.body);
    let d: Value = serde_json::from_str(&created.body).unwrap();
    let number = d["d"]["SalesOrder"].as_str().unwrap().to_owned();
    assert_eq!(number, "1000006", "after the six seeded orders");
    // Declared `Precision=16 Scale=3`, and served at that scale.
    assert_eq!(d["d"]["TotalNetAmount"], "32.000", "2 × 12.50 − 1.00 + 8.00");
    assert!(header(&created, "location")[0].ends_with("A_SalesOrder('1000006')"));
    let order = sim.sales_order(&number).unwrap();
    assert_eq!((order.items[0].quantity, order.items[0].net(), order.net()), (2_000, 2_400, 3_200));
    assert_eq!(order.requested_delivery_ms, Some(1_748_563_200_000));

    let duplicate = create(&sim, &order_body("3012345678901"));
    assert_eq!((duplicate.status, error_code(&duplicate).as_str()), (400, "V4/115"));
    assert!(duplicate.body.contains("1000006"));
    assert_eq!(sim.sales_orders_for_po("3012345678901").len(), 1);

    let found =
        get(&sim, SO_PATH, &q(&[("$filter", "PurchaseOrderByCustomer eq '3012345678901'"), ("$select", "SalesOrder")]));
    assert_eq!(found["d"]["results"].as_array().unwrap().len(), 1);
    assert_eq!(found["d"]["results"][0]["SalesOrder"], "1000006");
    assert!(found["d"]["results"][0].get("SoldToParty").is_none());
}

/// The plugin keys orders `<shop prefix>-<order id>`: two shops' order `1001` are two sales
/// orders, and what the plugin must pull names them `1001` each.
#[test]
fn keys_naming_the_shop_read_back_as_order_ids() {
    let sim = sim();
    for po in ["TB3CAEFEF1-1001", "EC0E93F273-1001", "PO-4711"] {
        let created = create(&sim, &order_body(po));
        assert_eq!(created.status, 201, "{}", created.body);
    }
    assert_eq!(order_id_of("TB3CAEFEF1-1001"), "1001");
    assert_eq!(order_id_of("TB3CAEFEF1-A-1"), "A-1");
    for other in ["PO-4711", "1001", "tb3caefef1-1001", "TB3CAEFEF1-", "TBX-1"] {
        assert_eq!(order_id_of(other), other);
    }
    assert_eq!(sim.sales_orders_for_order("1001").len(), 2);
    assert_eq!(sim.sales_orders_for_order("PO-4711").len(), 1);
    let ids: Vec<String> = sim
        .expected_erp_statuses("1000", None)
        .iter()
        .map(|s| s["order_id"].as_str().unwrap().to_owned())
        .filter(|id| id == "1001" || id == "PO-4711")
        .collect();
    assert_eq!(ids, ["1001", "1001", "PO-4711"]);
    assert!(sim.set_order_status("1001", ErpStage::Picking).is_err(), "ambiguous");
    sim.set_order_status("EC0E93F273-1001", ErpStage::Picking).unwrap();
    sim.set_order_status("PO-4711", ErpStage::Picking).unwrap();
}

#[test]
fn deep_insert_checks_what_sap_checks() {
    let sim = sim();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut body = order_body("X-1");
        edit(&mut body);
        create(&sim, &body)
    };
    for (edit, code) in [
        (&(|b: &mut Value| b["Bogus"] = json!("x")) as &dyn Fn(&mut Value), "/IWBEP/CM_MGW_RT/020"),
        (&|b: &mut Value| b["to_Item"]["results"][0]["Material"] = json!("NOPE"), "M3/305"),
        (&|b: &mut Value| b["to_Item"]["results"][0]["RequestedQuantityUnit"] = json!("KAR"), "M3/122"),
        (&|b: &mut Value| b["to_Item"]["results"][0]["RequestedQuantity"] = json!("0"), "V1/074"),
        (&|b: &mut Value| b["to_Item"]["results"][0]["RequestedQuantity"] = json!("1.2345"), "/IWBEP/CM_MGW_RT/020"),
        (&|b: &mut Value| b["to_Item"] = json!({"results": []}), "V1/555"),
        (&|b: &mut Value| b["SoldToParty"] = json!("C9999"), "VP/102"),
        (&|b: &mut Value| b["SalesOrganization"] = json!("3000"), "V1/316"),
        (&|b: &mut Value| b["PurchaseOrderByCustomer"] = json!("9".repeat(36)), "/IWBEP/CM_MGW_RT/020"),
        (
            &|b: &mut Value| b["to_PricingElement"]["results"][0]["ConditionRateValue"] = json!("1.234"),
            "/IWBEP/CM_MGW_RT/020",
        ),
        (&|b: &mut Value| b["RequestedDeliveryDate"] = json!("2025-05-30"), "/IWBEP/CM_MGW_RT/020"),
    ] {
        let answer = with(edit);
        assert_eq!((answer.status, error_code(&answer)), (400, code.to_owned()), "{}", answer.body);
    }
    assert!(sim.sales_orders_for_po("X-1").is_empty());
}

#[test]
fn stock_reads_filter_select_order_and_page() {
    let sim = sim();
    let filter = "InventoryStockType eq '01' and InventorySpecialStockType eq '' and Plant eq '1000'";
    let all = get(
        &sim,
        STOCK_PATH,
        &q(&[("$filter", filter), ("$orderby", "Material,Plant,StorageLocation,Batch"), ("$inlinecount", "allpages")]),
    );
    let rows = all["d"]["results"].as_array().unwrap();
    assert_eq!(all["d"]["__count"], rows.len().to_string());
    assert!(
        rows.iter()
            .all(|r| r["InventoryStockType"] == "01" && r["Plant"] == "1000" && r["InventorySpecialStockType"] == "")
    );
    let materials: Vec<&str> = rows.iter().map(|r| r["Material"].as_str().unwrap()).collect();
    assert!(materials.windows(2).all(|w| w[0] <= w[1]));
    // `Edm.Decimal` `Precision=31 Scale=14` in SAP's metadata, served padded to it.
    assert!(
        rows.iter().all(|r| r["MatlWrhsStkQtyInMatlBaseUnit"]
            .as_str()
            .and_then(|q| q.split_once('.'))
            .is_some_and(|(_, decimals)| decimals.len() == 14)),
        "{}",
        rows[0]
    );
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows {
        *sums.entry(r["Material"].as_str().unwrap().to_owned()).or_default() +=
            odata::parse_decimal(r["MatlWrhsStkQtyInMatlBaseUnit"].as_str().unwrap(), 14).unwrap() / 100_000_000_000;
    }
    let expected: BTreeMap<String, i64> = sim
        .expected_stock(Some("1000"))
        .into_iter()
        .map(|v| (v["outer_sku_id"].as_str().unwrap().to_owned(), v["quantity"].as_i64().unwrap() * 1000))
        .collect();
    assert_eq!(sums, expected);
    assert!(
        sim.stock().iter().any(|r| r.stock_type != "01" || !r.special_stock.is_empty()),
        "rows to leave out are seeded"
    );

    let page = get(
        &sim,
        STOCK_PATH,
        &q(&[
            ("$filter", filter),
            ("$select", "Material,MatlWrhsStkQtyInMatlBaseUnit"),
            ("$top", "2"),
            ("$skip", "1"),
            ("$orderby", "Material"),
        ]),
    );
    let page = page["d"]["results"].as_array().unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["Material"], rows[1]["Material"]);
    assert_eq!(page[0].as_object().unwrap().keys().filter(|k| *k != "__metadata").count(), 2);
    let after = get(&sim, STOCK_PATH, &q(&[("$filter", &format!("{filter} and Material gt 'FG-0004'"))]));
    assert!(after["d"]["results"].as_array().unwrap().iter().all(|r| r["Material"].as_str().unwrap() > "FG-0004"));
}

#[test]
fn server_side_paging_links_the_rest() {
    let sim = SapSim::spawn(SapConfig { page_cap: 3, ..SapConfig::default() }).unwrap();
    let first = get(&sim, STOCK_PATH, &q(&[("$orderby", "Material"), ("$inlinecount", "allpages")]));
    let total: usize = first["d"]["__count"].as_str().unwrap().parse().unwrap();
    let mut seen = first["d"]["results"].as_array().unwrap().len();
    let mut next = first["d"]["__next"].as_str().map(str::to_owned);
    assert_eq!(seen, 3);
    while let Some(link) = next {
        let (path, query) = link.split_once('?').unwrap();
        let path = path.split_once("127.0.0.1").map_or(path, |(_, p)| p);
        let path = &path[path.find('/').unwrap()..];
        let page = get(&sim, path, query);
        seen += page["d"]["results"].as_array().unwrap().len();
        next = page["d"]["__next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, total);
}

/// SAP's metadata marks every property of a delivery non-filterable and non-sortable: a
/// Gateway enforcing it refuses them, and deliveries are reached from their sales orders'
/// document flow and read by key.
#[test]
fn deliveries_are_reached_through_sales_orders_and_read_by_key() {
    let sim = sim();
    let a = auth(&sim);
    for (path, query, option) in [
        (
            DELIVERY_PATH,
            q(&[("$filter", "OverallGoodsMovementStatus eq 'C' and SalesOrganization eq '1000'")]),
            "$filter",
        ),
        (DELIVERY_PATH, q(&[("$orderby", "DeliveryDocument")]), "$orderby"),
        (DELIVERY_ITEM_PATH, q(&[("$filter", "ReferenceSDDocument eq '1000000'")]), "$filter"),
    ] {
        let answer = sim.handle_raw("GET", path, &query, &[("authorization", &a)], b"");
        assert_eq!((answer.status, error_code(&answer).as_str()), (400, "/IWBEP/CM_MGW_RT/020"), "{}", answer.body);
        let v: Value = serde_json::from_str(&answer.body).unwrap();
        let message = v["error"]["message"]["value"].as_str().unwrap();
        assert!(message.contains(option) && message.contains("=\"false\""), "{message}");
    }

    let orders = get(
        &sim,
        SO_PATH,
        &q(&[
            ("$filter", "SalesOrganization eq '1000' and PurchaseOrderByCustomer ne ''"),
            (
                "$select",
                "SalesOrder,to_SubsequentProcFlowDoc/SubsequentDocument,to_SubsequentProcFlowDoc/SubsequentDocumentCategory",
            ),
            ("$expand", "to_SubsequentProcFlowDoc"),
            ("$orderby", "SalesOrder"),
        ]),
    );
    let orders = orders["d"]["results"].as_array().unwrap();
    // Seeded: orders 0 to 3; not 4 (sales org 2000) nor 5 (no purchase order number).
    assert_eq!(orders.len(), 4);
    let flow = |o: &Value, category: &str| -> Vec<String> {
        o["to_SubsequentProcFlowDoc"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["SubsequentDocumentCategory"] == category)
            .map(|d| d["SubsequentDocument"].as_str().unwrap().to_owned())
            .collect()
    };
    let deliveries: Vec<String> = orders.iter().flat_map(|o| flow(o, "J")).collect();
    assert_eq!(deliveries.len(), 5, "order 1 shipped twice");
    let movements: usize = orders.iter().map(|o| flow(o, "R").len()).sum();
    assert_eq!(movements, 4, "order 2's goods issue is not posted");

    let (mut issued, mut split) = (0, 0);
    for number in &deliveries {
        let one = get(
            &sim,
            &format!("{DELIVERY_PATH}('{number}')"),
            &q(&[
                ("$expand", "to_DeliveryDocumentItem"),
                (
                    "$select",
                    "DeliveryDocument,OverallGoodsMovementStatus,to_DeliveryDocumentItem/ActualDeliveryQuantity,to_DeliveryDocumentItem/HigherLvlItmOfBatSpltItm",
                ),
            ]),
        );
        let header = &one["d"];
        assert_eq!(header["DeliveryDocument"], number.as_str());
        issued += usize::from(header["OverallGoodsMovementStatus"] == "C");
        let items = header["to_DeliveryDocumentItem"]["results"].as_array().unwrap();
        split += items.iter().filter(|i| i["HigherLvlItmOfBatSpltItm"] != "000000").count();
        assert!(items.iter().all(|i| i["ActualDeliveryQuantity"].as_str().unwrap().ends_with(".000")), "Scale=3");
        assert_eq!(items[0].as_object().unwrap().len(), 3, "metadata + 2 selected");
    }
    assert_eq!((issued, split), (4, 2));
    let missing = sim.handle_raw("GET", &format!("{DELIVERY_PATH}('99999999')"), "", &[("authorization", &a)], b"");
    assert_eq!(missing.status, 404, "{}", missing.body);
    let filtered = sim.handle_raw(
        "GET",
        &format!("{DELIVERY_PATH}('{}')", deliveries[0]),
        &q(&[("$filter", "DeliveryDocument eq '1'")]),
        &[("authorization", &a)],
        b"",
    );
    assert_eq!(filtered.status, 400);

    let shipments = sim.expected_shipments("1000", None);
    let orders: Vec<&str> = shipments.iter().map(|s| s["order_id"].as_str().unwrap()).collect();
    assert_eq!(orders, ["3100000000000", "3100000000001", "3100000000001", "3100000000003"]);
    let logistics = sim.expected_logistics("1000", None);
    assert_eq!(logistics.len(), 3, "order 3 has no tracking number yet");
    let (from, to) = (sim.now_ms() - 86_400_000 * 10, sim.now_ms() - 86_400_000 * 9);
    assert!(sim.expected_shipments("1000", Some((from, to))).is_empty());
}

#[test]
fn shipping_what_was_pushed() {
    let sim = sim();
    let created = create(&sim, &order_body("P-SHIP"));
    let number = serde_json::from_str::<Value>(&created.body).unwrap()["d"]["SalesOrder"].as_str().unwrap().to_owned();
    let line = |q: u32, batches: Vec<(&str, u32)>| ShipLine {
        material: "FG-0001".into(),
        quantity: q,
        batches: batches.into_iter().map(|(b, n)| (b.to_owned(), n)).collect(),
    };
    let first = sim.ship(&number, &[line(1, vec![])], None).unwrap();
    sim.ship(&number, &[line(1, vec![("B1", 1)])], Some(("YT123", "YTO"))).unwrap();
    let third = sim.ship(&number, &[line(3, vec![("B1", 1), ("B2", 2)])], Some(("YT124", "YTO"))).unwrap();
    sim.set_tracking(&first, "YT122", "YTO").unwrap();
    let mine: Vec<Value> =
        sim.expected_shipments("1000", None).into_iter().filter(|s| s["order_id"] == "P-SHIP").collect();
    assert_eq!(mine.len(), 3);
    assert_eq!(
        mine[2]["lines"],
        json!([{"outer_sku_id": "FG-0001", "quantity": 1, "batch_no": "B1"}, {"outer_sku_id": "FG-0001", "quantity": 2, "batch_no": "B2"}])
    );
    let delivery = sim.deliveries().into_iter().find(|d| d.delivery == third).unwrap();
    assert_eq!(delivery.items.len(), 3, "main item and two batch split items");
    let logistics: Vec<Value> =
        sim.expected_logistics("1000", None).into_iter().filter(|l| l["order_id"] == "P-SHIP").collect();
    assert_eq!(
        logistics.iter().map(|l| l["tracking_no"].as_str().unwrap()).collect::<Vec<_>>(),
        ["YT122", "YT123", "YT124"]
    );
    assert!(sim.ship(&number, &[line(2, vec![("B1", 1)])], None).is_err(), "batches must add up");
    assert!(sim.ship("nope", &[], None).is_err());
}

#[test]
fn idocs_are_kept_as_posted() {
    let sim = sim();
    let a = auth(&sim);
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ORDERS05><IDOC BEGIN=\"1\"><EDI_DC40 SEGMENT=\"1\"><IDOCTYP>ORDERS05</IDOCTYP></EDI_DC40></IDOC></ORDERS05>";
    let answer = sim.handle_raw(
        "POST",
        IDOC_PATH,
        "sap-client=100",
        &[("authorization", &a), ("content-type", "application/xml")],
        xml.as_bytes(),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("<DOCNUM>0000000000000001</DOCNUM>"));
    let idocs = sim.idocs();
    assert_eq!((idocs.len(), idocs[0].xml.as_str(), idocs[0].content_type.as_str()), (1, xml, "application/xml"));
    let bad = sim.handle_raw("POST", IDOC_PATH, "", &[("authorization", &a)], b"<INVOIC02/>");
    assert_eq!(bad.status, 400);
    assert_eq!(sim.handle_raw("POST", IDOC_PATH, "", &[], xml.as_bytes()).status, 401);
    assert_eq!(sim.idocs().len(), 1);
}

#[test]
fn faults_in_sap_words() {
    let sim = sim();
    let a = auth(&sim);
    let h = [("authorization", a.as_str())];
    sim.faults().fail_next(1, 503);
    assert_eq!(sim.handle_raw("GET", SO_PATH, "", &h, b"").status, 503);
    sim.faults().throttle(0, 2);
    let throttled = sim.handle_raw("GET", SO_PATH, "", &h, b"");
    assert_eq!((throttled.status, header(&throttled, "retry-after")), (429, vec!["2"]));
    sim.faults().clear();
    sim.faults().revoke_credentials(true);
    assert_eq!(sim.handle_raw("GET", SO_PATH, "", &h, b"").status, 401);
    sim.faults().clear();
    sim.faults().malform_next(1, Malform::field("MatlWrhsStkQtyInMatlBaseUnit", "\"12.5x\""));
    let body = get(&sim, STOCK_PATH, "");
    assert_eq!(body["d"]["results"][0]["MatlWrhsStkQtyInMatlBaseUnit"], "12.5x");

    sim.lose_next_create_answers(1);
    assert_eq!(create(&sim, &order_body("LOST-1")).status, 504);
    assert_eq!(sim.sales_orders_for_po("LOST-1").len(), 1, "created all the same");
    sim.refuse_next_create(SapError::new(400, "V1/154", "Credit limit exceeded"));
    let refused = create(&sim, &order_body("CREDIT-1"));
    assert_eq!((refused.status, error_code(&refused).as_str()), (400, "V1/154"));
    assert!(sim.sales_orders_for_po("CREDIT-1").is_empty());
    assert!(sim.call_count("POST A_SalesOrder") >= 2);
}

#[test]
fn serves_over_http_with_the_path_parameter_and_cookies() {
    let sim = sim();
    let mut stream = std::net::TcpStream::connect(sim.served.addr()).unwrap();
    let request = format!(
        "GET {DELIVERY_PATH}?$top=1&$format=json HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nX-CSRF-Token: Fetch\r\nConnection: close\r\n\r\n",
        sim.grant(),
        auth(&sim)
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(response.matches("set-cookie:").count(), 2, "{response}");
    assert!(response.contains("x-csrf-token:"));
    assert!(response.contains(&format!(
        "\"uri\":\"http://{}/sap/opu/odata/sap/API_OUTBOUND_DELIVERY_SRV;v=0002/A_OutbDeliveryHeader('",
        sim.grant()
    )));
}

#[test]
fn seeded_the_same_for_a_seed() {
    let (a, b) = (sim(), sim());
    assert_eq!(a.stock(), b.stock());
    assert_eq!(a.deliveries(), b.deliveries());
    assert_eq!(a.sample_orders(3, 1), b.sample_orders(3, 1));
    for order in a.sample_orders(5, 7) {
        let lines = order["lines"].as_array().unwrap();
        let sum: i64 = lines.iter().map(|l| l["line_total"].as_i64().unwrap()).sum();
        assert_eq!(sum + order["shipping_fee"].as_i64().unwrap(), order["paid_total"].as_i64().unwrap());
    }
}

const BATCH_PATH: &str = "/sap/opu/odata/sap/API_BATCH_SRV/A_Batch";
const PRICE_PATH: &str = "/sap/opu/odata/sap/API_SLSPRICINGCONDITIONRECORD_SRV/A_SlsPrcgCndnRecdValidity";
const DELIVERY_ITEM_PATH: &str = "/sap/opu/odata/sap/API_OUTBOUND_DELIVERY_SRV;v=0002/A_OutbDeliveryItem";

#[test]
fn batches_and_lots() {
    let sim = sim();
    let all = get(&sim, BATCH_PATH, &q(&[("$orderby", "Material,Batch")]));
    let rows = all["d"]["results"].as_array().unwrap();
    assert_eq!(rows.len(), sim.batches().len());
    let first = &sim.batches()[0];
    let row =
        rows.iter().find(|r| r["Material"] == first.material.as_str() && r["Batch"] == first.batch.as_str()).unwrap();
    let ms = chrono::NaiveDate::parse_from_str(&first.produced_on, "%Y-%m-%d")
        .unwrap()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_millis();
    assert_eq!(row["ManufactureDate"], format!("/Date({ms})/"));

    sim.add_batch(Batch {
        material: "FG-0002".into(),
        batch: "BZERO".into(),
        produced_on: "2025-01-02".into(),
        expires_on: "2027-01-02".into(),
    });
    let lots = sim.expected_lots(None);
    let materials: Vec<&str> = lots.iter().map(|l| l["outer_sku_id"].as_str().unwrap()).collect();
    let mut with_batches: Vec<String> = sim.batches().into_iter().map(|b| b.material).collect();
    with_batches.sort();
    with_batches.dedup();
    assert_eq!(materials, with_batches);
    assert!(lots.iter().all(|l| {
        l["lots"]
            .as_array()
            .unwrap()
            .iter()
            .all(|lot| lot["quantity"].as_u64().unwrap() > 0 && lot["batch_no"] != "BZERO")
    }));
    // Selling out a batch drops it; a material sold out everywhere keeps an empty list.
    for row in sim.stock().into_iter().filter(|r| r.material == "FG-0002" && !r.batch.is_empty()) {
        sim.set_stock(StockRow { quantity: 0, ..row });
    }
    let lots = sim.expected_lots(None);
    let fg2 = lots.iter().find(|l| l["outer_sku_id"] == "FG-0002").unwrap();
    assert_eq!(fg2["lots"], json!([]));
}

#[test]
fn price_records_expand_their_condition_record() {
    let sim = sim();
    let today = "datetime'2025-05-30T00:00:00'";
    let filter = format!(
        "(ConditionType eq 'PR00' or ConditionType eq 'ZSRP') and SalesOrganization eq '1000' and Customer eq '' \
         and ConditionValidityStartDate le {today} and ConditionValidityEndDate ge {today} and Material gt 'FG-0001'"
    );
    let answer = get(
        &sim,
        PRICE_PATH,
        &q(&[
            ("$filter", &filter),
            (
                "$select",
                "Material,ConditionRecord,ConditionType,to_SlsPrcgConditionRecord/ConditionRateValue,to_SlsPrcgConditionRecord/ConditionQuantity",
            ),
            ("$expand", "to_SlsPrcgConditionRecord"),
            ("$orderby", "Material,ConditionRecord"),
            ("$top", "2"),
        ]),
    );
    let rows = answer["d"]["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["Material"], "FG-0002");
    let record = rows[0]["to_SlsPrcgConditionRecord"].as_object().unwrap();
    let keys: Vec<&str> = record.keys().map(String::as_str).filter(|k| *k != "__metadata").collect();
    assert_eq!(keys, ["ConditionQuantity", "ConditionRateValue"]);
    // Declared `Scale=3` and `Scale=0`, served so.
    assert_eq!((&record["ConditionRateValue"], &record["ConditionQuantity"]), (&json!("12.500"), &json!("1")));
    assert!(rows[0].get("SalesOrganization").is_none());

    let expected = sim.expected_prices("1000", "10");
    assert_eq!(expected.len(), 8);
    assert_eq!(
        expected[0],
        json!({"outer_sku_id": "FG-0001", "currency": "CNY", "prices": [
            {"kind": "default", "amount": 1000}, {"kind": "suggested_retail", "amount": 200},
            {"kind": "region_group", "group_id": "GD", "amount": 1030},
            {"kind": "customer_group", "group_id": "02", "amount": 980}]})
    );
    assert_eq!(expected[1]["prices"], json!([{"kind": "default", "amount": 1250}]));
    let mut changed = sim.prices()[0].clone();
    changed.rate = 999;
    sim.set_price(changed);
    assert_eq!(sim.expected_prices("1000", "10")[0]["prices"][0]["amount"], 999);
}

#[test]
fn orders_move_through_erp_statuses() {
    let sim = sim();
    let created = create(&sim, &order_body("P-STATUS"));
    assert_eq!(created.status, 201, "{}", created.body);
    let status = |sim: &SapSim| {
        sim.expected_erp_statuses("1000", None).into_iter().find(|s| s["order_id"] == "P-STATUS").unwrap()
    };
    assert_eq!(status(&sim)["erp_status"], "accepted");
    let seeded: Vec<Value> = sim.expected_erp_statuses("1000", None);
    let seeded: Vec<(&str, &str)> =
        seeded.iter().map(|s| (s["order_id"].as_str().unwrap(), s["erp_status"].as_str().unwrap())).collect();
    assert_eq!(
        seeded,
        [
            ("3100000000000", "shipped"),
            ("3100000000001", "shipped"),
            ("3100000000002", "picking"),
            ("3100000000003", "shipped"),
            ("P-STATUS", "accepted")
        ]
    );
    for (stage, expected) in [
        (ErpStage::OutOfStock, "out_of_stock"),
        (ErpStage::Picking, "picking"),
        (ErpStage::Packed, "packed"),
        (ErpStage::Shipped, "shipped"),
        (ErpStage::Signed, "signed"),
        (ErpStage::Cancelled, "cancelled"),
    ] {
        sim.set_order_status("P-STATUS", stage).unwrap();
        assert_eq!(status(&sim)["erp_status"], expected, "{stage:?}");
    }
    let number = sim.sales_orders_for_po("P-STATUS")[0].sales_order.clone();
    let order = get(
        &sim,
        SO_PATH,
        &q(&[
            (
                "$filter",
                &format!("SalesOrder eq '{number}' and LastChangeDateTime ge datetimeoffset'2025-05-30T00:00:00.000Z'"),
            ),
            (
                "$select",
                "SalesOrder,OverallSDDocumentRejectionSts,OverallTotalDeliveryStatus,LastChangeDateTime,to_Item/ConfdDelivQtyInOrderQtyUnit",
            ),
            ("$expand", "to_Item"),
        ]),
    );
    let row = &order["d"]["results"][0];
    assert_eq!(
        (row["OverallSDDocumentRejectionSts"].as_str(), row["OverallTotalDeliveryStatus"].as_str()),
        (Some("C"), Some("C"))
    );
    assert_eq!(row["to_Item"]["results"][0]["ConfdDelivQtyInOrderQtyUnit"], "0.000");
    let flow = get(
        &sim,
        &format!("{SO_PATH}('{number}')"),
        &q(&[
            (
                "$select",
                "SalesOrder,to_SubsequentProcFlowDoc/SubsequentDocument,to_SubsequentProcFlowDoc/SubsequentDocumentCategory",
            ),
            ("$expand", "to_SubsequentProcFlowDoc"),
        ]),
    );
    let delivery = flow["d"]["to_SubsequentProcFlowDoc"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["SubsequentDocumentCategory"] == "J")
        .and_then(|d| d["SubsequentDocument"].as_str())
        .unwrap()
        .to_owned();
    let header = get(
        &sim,
        &format!("{DELIVERY_PATH}('{delivery}')"),
        &q(&[("$select", "OverallPackingStatus,OverallProofOfDeliveryStatus,OverallGoodsMovementStatus")]),
    );
    assert_eq!(
        header["d"],
        json!({"__metadata": header["d"]["__metadata"], "OverallPackingStatus": "C", "OverallProofOfDeliveryStatus": "C", "OverallGoodsMovementStatus": "C"})
    );
    let now = sim.sales_orders_for_po("P-STATUS")[0].last_change_ms;
    assert!(sim.expected_erp_statuses("1000", Some((now + 1, now + 2))).is_empty());
    assert_eq!(sim.expected_erp_statuses("1000", Some((now, now + 1))).len(), 1);
    assert!(sim.set_order_status("nope", ErpStage::Signed).is_err());
}

/// The plugin through a real host: `WHARF_BIN=/path/to/wharf SAP_WASM=/path/to/sap.wasm
/// cargo test -p wharf-sim sap::tests::plugin_pulls_what_the_sim_expects -- --ignored`.
#[test]
#[ignore = "needs WHARF_BIN and SAP_WASM"]
fn plugin_pulls_what_the_sim_expects() {
    let (Ok(bin), Ok(wasm)) = (std::env::var("WHARF_BIN"), std::env::var("SAP_WASM")) else {
        panic!("set WHARF_BIN and SAP_WASM");
    };
    let sim = SapSim::spawn(SapConfig::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("sap-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, v: Value| {
        let path = dir.join(name);
        std::fs::write(&path, v.to_string()).unwrap();
        path
    };
    let config = write("config.json", serde_json::to_value(sim.plugin_config()).unwrap());
    let secrets = write("secrets.json", serde_json::to_value(sim.plugin_secrets()).unwrap());
    let call = |op: &str, input: Value| -> Value {
        let input = write("input.json", input);
        let out = std::process::Command::new(&bin)
            .args(["plugin", "call", &wasm, op, "--config"])
            .arg(&config)
            .arg("--secrets")
            .arg(&secrets)
            .arg("--input")
            .arg(&input)
            .output()
            .unwrap();
        assert!(out.status.success(), "{op}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let pull = json!({"window": null, "cursor": null});
    assert_eq!(call("pull-lots", pull.clone())["items"], json!(sim.expected_lots(None)));
    assert_eq!(call("pull-prices", pull.clone())["items"], json!(sim.expected_prices("1000", "10")));
    let orders = sim.sample_orders(3, 4_200_000_000_001);
    call("push-orders", json!(orders));
    sim.set_order_status("4200000000001", ErpStage::Signed).unwrap();
    sim.set_order_status("4200000000002", ErpStage::OutOfStock).unwrap();
    sim.set_order_status("4200000000003", ErpStage::Packed).unwrap();
    let statuses = call("pull-erp-status", pull)["items"].clone();
    assert_eq!(statuses, json!(sim.expected_erp_statuses("1000", None)));
    let now = sim.now_ms();
    let window = json!({"window": {"from": crate::harness::rfc3339(now - 60_000), "to": crate::harness::rfc3339(now + 60_000)}, "cursor": null});
    let recent = call("pull-erp-status", window)["items"].clone();
    assert_eq!(recent.as_array().map(Vec::len), Some(3), "{recent}");
    assert_eq!(recent, json!(sim.expected_erp_statuses("1000", Some((now - 60_000, now + 60_000)))));
}

const RETURN_PATH: &str = "/sap/opu/odata/sap/API_CUSTOMER_RETURN_SRV/A_CustomerReturn";
const CREDIT_PATH: &str = "/sap/opu/odata/sap/API_CREDIT_MEMO_REQUEST_SRV/A_CreditMemoRequest";

fn create_at(sim: &SapSim, path: &str, body: &Value) -> gateway::Answer {
    let (token, cookie) = fetch_token(sim);
    let a = auth(sim);
    sim.handle_raw(
        "POST",
        path,
        "sap-client=100",
        &[("authorization", &a), ("x-csrf-token", &token), ("cookie", &cookie)],
        body.to_string().as_bytes(),
    )
}

/// A sales order of 2 × FG-0001 for purchase order `po`; its number.
fn pushed_order(sim: &SapSim, po: &str) -> String {
    let answer = create(sim, &order_body(po));
    assert_eq!(answer.status, 201, "{}", answer.body);
    let v: Value = serde_json::from_str(&answer.body).unwrap();
    v["d"]["SalesOrder"].as_str().unwrap().to_owned()
}

fn return_body(name: &str, po: &str, reference: &str, quantity: &str) -> Value {
    let document_type = if name == "CustomerReturn" { "CBAR" } else { "CR" };
    json!({format!("{name}Type"): document_type, "SalesOrganization": "1000", "DistributionChannel": "10",
           "OrganizationDivision": "00", "SoldToParty": "C0001", "PurchaseOrderByCustomer": po,
           "TransactionCurrency": "CNY", "ReferenceSDDocument": reference, "SDDocumentReason": "101",
           format!("{name}Date"): "/Date(1748563200000)/",
           "to_Item": {"results": [
               {format!("{name}Item"): "000010", "Material": "FG-0001", "RequestedQuantity": quantity, "RequestedQuantityUnit": "EA",
                "ReferenceSDDocument": reference, "ReferenceSDDocumentItem": "000010",
                "to_PricingElement": {"results": [{"ConditionType": "ZRFD", "ConditionRateValue": "5.01", "ConditionCurrency": "CNY"}]}}]},
           "to_PricingElement": {"results": [{"ConditionType": "ZFRE", "ConditionRateValue": "8.00", "ConditionCurrency": "CNY"}]}})
}

#[test]
fn customer_returns_refer_to_a_sales_order_and_are_kept() {
    let sim = sim();
    let order = pushed_order(&sim, "TB3CAEFEF1-O1");
    let answer = create_at(&sim, RETURN_PATH, &return_body("CustomerReturn", "TB3CAEFEF1-R1", &order, "1.000"));
    assert_eq!(answer.status, 201, "{}", answer.body);
    let created: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(created["d"]["CustomerReturn"], FIRST_CUSTOMER_RETURN.to_string());
    assert_eq!(created["d"]["TotalNetAmount"], "13.010", "padded to the declared scale 3");
    let returns = sim.customer_returns();
    assert_eq!(returns.len(), 1);
    let r = &returns[0];
    assert_eq!(
        (r.reference.as_str(), r.document_type.as_str(), r.reason.as_str(), r.net()),
        (order.as_str(), "CBAR", "101", 1_301)
    );
    assert_eq!((r.items[0].reference_item.as_str(), r.items[0].quantity), ("000010", 1_000));
    assert_eq!(sim.refund_documents_for_after_sale("R1"), returns);
    assert!(sim.credit_memo_requests().is_empty());

    // Read back by the key, as the plugin looks it up.
    let found = get(
        &sim,
        RETURN_PATH,
        &q(&[
            ("$filter", "PurchaseOrderByCustomer eq 'TB3CAEFEF1-R1'"),
            ("$select", "CustomerReturn,to_Item/RequestedQuantity"),
            ("$expand", "to_Item"),
            ("$top", "2"),
        ]),
    );
    let rows = found["d"]["results"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["CustomerReturn"], FIRST_CUSTOMER_RETURN.to_string());
    assert_eq!(rows[0]["to_Item"]["results"][0]["RequestedQuantity"], "1.000");

    // A second one for the same purchase order number is refused; so is more than is left.
    let again = create_at(&sim, RETURN_PATH, &return_body("CustomerReturn", "TB3CAEFEF1-R1", &order, "1.000"));
    assert_eq!((again.status, error_code(&again).as_str()), (400, "V4/115"));
    let more = create_at(&sim, RETURN_PATH, &return_body("CustomerReturn", "TB3CAEFEF1-R2", &order, "2.000"));
    assert_eq!((more.status, error_code(&more).as_str()), (400, "V1/306"), "{}", more.body);
    assert_eq!(sim.customer_returns().len(), 1);
}

#[test]
fn returns_and_credit_memo_requests_check_what_sap_checks() {
    let sim = sim();
    let order = pushed_order(&sim, "TB3CAEFEF1-O1");
    let name = "CreditMemoRequest";
    let code = |body: Value| {
        let answer = create_at(&sim, CREDIT_PATH, &body);
        assert_eq!(answer.status, 400, "{}", answer.body);
        error_code(&answer)
    };
    assert_eq!(code(return_body(name, "K1", "9999999", "1")), "V1/302", "no such reference");
    let mut other_customer = return_body(name, "K1", &order, "1");
    other_customer["SoldToParty"] = json!("C0002");
    assert_eq!(code(other_customer), "V1/303");
    let mut other_material = return_body(name, "K1", &order, "1");
    other_material["to_Item"]["results"][0]["Material"] = json!("FG-0002");
    assert_eq!(code(other_material), "V1/305");
    let mut unknown = return_body(name, "K1", &order, "1");
    unknown["to_Item"]["results"][0]["NetAmount"] = json!("1.00");
    assert_eq!(code(unknown), "/IWBEP/CM_MGW_RT/020", "read-only properties are refused");
    let mut returns_type = return_body(name, "K1", &order, "1");
    returns_type["CustomerReturnType"] = json!("CBAR");
    assert_eq!(code(returns_type), "/IWBEP/CM_MGW_RT/020", "a property of the other service");
    assert!(sim.credit_memo_requests().is_empty());

    let answer = create_at(&sim, CREDIT_PATH, &return_body(name, "K1", &order, "2"));
    assert_eq!(answer.status, 201, "{}", answer.body);
    let requests = sim.credit_memo_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].number.clone(), requests[0].document_type.as_str()),
        (FIRST_CREDIT_MEMO_REQUEST.to_string(), "CR")
    );
    assert!(sim.customer_returns().is_empty(), "each service keeps its own documents");
    // Writes need the session's token here too.
    let a = auth(&sim);
    let no_token = sim.handle_raw("POST", CREDIT_PATH, "", &[("authorization", &a)], b"{}");
    assert_eq!(no_token.status, 403);
}

#[test]
fn the_create_faults_apply_to_after_sales_documents() {
    let sim = sim();
    let order = pushed_order(&sim, "TB3CAEFEF1-O1");
    sim.lose_next_create_answers(1);
    let lost = create_at(&sim, RETURN_PATH, &return_body("CustomerReturn", "R1", &order, "1"));
    assert_eq!(lost.status, 504);
    assert_eq!(sim.customer_returns().len(), 1, "created, the answer lost");
    sim.refuse_next_create(SapError::new(400, "V1/154", "Credit limit exceeded"));
    let refused = create_at(&sim, CREDIT_PATH, &return_body("CreditMemoRequest", "R2", &order, "1"));
    assert_eq!((refused.status, error_code(&refused).as_str()), (400, "V1/154"));
    assert!(sim.credit_memo_requests().is_empty());
}
