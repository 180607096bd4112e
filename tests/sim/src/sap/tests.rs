use std::io::{Read, Write};

use serde_json::{Value, json};

use super::*;
use crate::faults::Malform;

fn sim() -> SapSim {
    SapSim::spawn(SapConfig {
        now_ms: Some(1_748_592_000_000),
        ..SapConfig::default()
    })
    .unwrap()
}

fn auth(sim: &SapSim) -> String {
    basic_authorization(&sim.config().user, &sim.config().password)
}

const SO_PATH: &str = "/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder";
const STOCK_PATH: &str = "/sap/opu/odata/sap/API_MATERIAL_STOCK_SRV/A_MatlStkInAcctMod";
const DELIVERY_PATH: &str =
    "/sap/opu/odata/sap/API_OUTBOUND_DELIVERY_SRV;v=0002/A_OutbDeliveryHeader";

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
    answer
        .headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Fetches a token: `(token, cookie header)`.
fn fetch_token(sim: &SapSim) -> (String, String) {
    let a = auth(sim);
    let answer = sim.handle_raw(
        "GET",
        SO_PATH,
        "$top=0",
        &[("authorization", &a), ("x-csrf-token", "Fetch")],
        b"",
    );
    assert_eq!(answer.status, 200);
    let token = header(&answer, "x-csrf-token")[0].to_owned();
    let cookies: Vec<&str> = header(&answer, "set-cookie")
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();
    (token, cookies.join("; "))
}

fn create(sim: &SapSim, body: &Value) -> gateway::Answer {
    let (token, cookie) = fetch_token(sim);
    let a = auth(sim);
    sim.handle_raw(
        "POST",
        SO_PATH,
        "sap-client=100",
        &[
            ("authorization", &a),
            ("x-csrf-token", &token),
            ("cookie", &cookie),
        ],
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
    assert_eq!(
        sim.handle_raw("GET", SO_PATH, "", &[("authorization", &wrong)], b"")
            .status,
        401
    );
    let a = auth(&sim);
    assert_eq!(
        sim.handle_raw(
            "GET",
            SO_PATH,
            "sap-client=200",
            &[("authorization", &a)],
            b""
        )
        .status,
        401
    );
    assert_eq!(
        sim.handle_raw(
            "GET",
            SO_PATH,
            "sap-client=100",
            &[("authorization", &a)],
            b""
        )
        .status,
        200
    );
    assert_eq!(
        sim.handle_raw(
            "GET",
            "/sap/opu/odata/sap/API_NOPE/A_X",
            "",
            &[("authorization", &a)],
            b""
        )
        .status,
        404
    );
}

#[test]
fn writes_need_the_sessions_csrf_token() {
    let sim = sim();
    let a = auth(&sim);
    let body = order_body("P-1").to_string();
    let refused = sim.handle_raw(
        "POST",
        SO_PATH,
        "",
        &[("authorization", &a)],
        body.as_bytes(),
    );
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (403, "CSRF token validation failed")
    );
    assert_eq!(header(&refused, "x-csrf-token"), ["Required"]);
    let (token, cookie) = fetch_token(&sim);
    assert!(cookie.starts_with("SAP_SESSIONID_S4H_100="), "{cookie}");
    let without_cookie = sim.handle_raw(
        "POST",
        SO_PATH,
        "",
        &[("authorization", &a), ("x-csrf-token", &token)],
        body.as_bytes(),
    );
    assert_eq!(without_cookie.status, 403);
    let headers = [
        ("authorization", a.as_str()),
        ("x-csrf-token", token.as_str()),
        ("cookie", cookie.as_str()),
    ];
    let created = sim.handle_raw("POST", SO_PATH, "", &headers, body.as_bytes());
    assert_eq!(created.status, 201, "{}", created.body);
    // The same session's Fetch answers the same token.
    let again = sim.handle_raw(
        "GET",
        SO_PATH,
        "$top=0",
        &[
            ("authorization", &a),
            ("x-csrf-token", "Fetch"),
            ("cookie", &cookie),
        ],
        b"",
    );
    assert_eq!(header(&again, "x-csrf-token"), [token.as_str()]);
    assert!(header(&again, "set-cookie").is_empty());
    sim.expire_csrf_tokens();
    assert_eq!(
        sim.handle_raw(
            "POST",
            SO_PATH,
            "",
            &headers,
            order_body("P-2").to_string().as_bytes()
        )
        .status,
        403
    );
}

#[test]
fn deep_insert_creates_and_refuses_a_second_order_for_one_po() {
    let sim = sim();
    let created = create(&sim, &order_body("3012345678901"));
    assert_eq!(created.status, 201, "{}", created.body);
    let d: Value = serde_json::from_str(&created.body).unwrap();
    let number = d["d"]["SalesOrder"].as_str().unwrap().to_owned();
    assert_eq!(number, "1000006", "after the six seeded orders");
    assert_eq!(d["d"]["TotalNetAmount"], "32.00", "2 × 12.50 − 1.00 + 8.00");
    assert!(header(&created, "location")[0].ends_with("A_SalesOrder('1000006')"));
    let order = sim.sales_order(&number).unwrap();
    assert_eq!(
        (order.items[0].quantity, order.items[0].net(), order.net()),
        (2_000, 2_400, 3_200)
    );
    assert_eq!(order.requested_delivery_ms, Some(1_748_563_200_000));

    let duplicate = create(&sim, &order_body("3012345678901"));
    assert_eq!(
        (duplicate.status, error_code(&duplicate).as_str()),
        (400, "V4/115")
    );
    assert!(duplicate.body.contains("1000006"));
    assert_eq!(sim.sales_orders_for_po("3012345678901").len(), 1);

    let found = get(
        &sim,
        SO_PATH,
        &q(&[
            ("$filter", "PurchaseOrderByCustomer eq '3012345678901'"),
            ("$select", "SalesOrder"),
        ]),
    );
    assert_eq!(found["d"]["results"].as_array().unwrap().len(), 1);
    assert_eq!(found["d"]["results"][0]["SalesOrder"], "1000006");
    assert!(found["d"]["results"][0].get("SoldToParty").is_none());
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
        (
            &(|b: &mut Value| b["Bogus"] = json!("x")) as &dyn Fn(&mut Value),
            "/IWBEP/CM_MGW_RT/020",
        ),
        (
            &|b: &mut Value| b["to_Item"]["results"][0]["Material"] = json!("NOPE"),
            "M3/305",
        ),
        (
            &|b: &mut Value| b["to_Item"]["results"][0]["RequestedQuantityUnit"] = json!("KAR"),
            "M3/122",
        ),
        (
            &|b: &mut Value| b["to_Item"]["results"][0]["RequestedQuantity"] = json!("0"),
            "V1/074",
        ),
        (
            &|b: &mut Value| b["to_Item"]["results"][0]["RequestedQuantity"] = json!("1.2345"),
            "/IWBEP/CM_MGW_RT/020",
        ),
        (
            &|b: &mut Value| b["to_Item"] = json!({"results": []}),
            "V1/555",
        ),
        (&|b: &mut Value| b["SoldToParty"] = json!("C9999"), "VP/102"),
        (
            &|b: &mut Value| b["SalesOrganization"] = json!("3000"),
            "V1/316",
        ),
        (
            &|b: &mut Value| b["PurchaseOrderByCustomer"] = json!("9".repeat(36)),
            "/IWBEP/CM_MGW_RT/020",
        ),
        (
            &|b: &mut Value| {
                b["to_PricingElement"]["results"][0]["ConditionRateValue"] = json!("1.234")
            },
            "/IWBEP/CM_MGW_RT/020",
        ),
        (
            &|b: &mut Value| b["RequestedDeliveryDate"] = json!("2025-05-30"),
            "/IWBEP/CM_MGW_RT/020",
        ),
    ] {
        let answer = with(edit);
        assert_eq!(
            (answer.status, error_code(&answer)),
            (400, code.to_owned()),
            "{}",
            answer.body
        );
    }
    assert!(sim.sales_orders_for_po("X-1").is_empty());
}

#[test]
fn stock_reads_filter_select_order_and_page() {
    let sim = sim();
    let filter =
        "InventoryStockType eq '01' and InventorySpecialStockType eq '' and Plant eq '1000'";
    let all = get(
        &sim,
        STOCK_PATH,
        &q(&[
            ("$filter", filter),
            ("$orderby", "Material,Plant,StorageLocation,Batch"),
            ("$inlinecount", "allpages"),
        ]),
    );
    let rows = all["d"]["results"].as_array().unwrap();
    assert_eq!(all["d"]["__count"], rows.len().to_string());
    assert!(rows.iter().all(|r| r["InventoryStockType"] == "01"
        && r["Plant"] == "1000"
        && r["InventorySpecialStockType"] == ""));
    let materials: Vec<&str> = rows
        .iter()
        .map(|r| r["Material"].as_str().unwrap())
        .collect();
    assert!(materials.windows(2).all(|w| w[0] <= w[1]));
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows {
        *sums
            .entry(r["Material"].as_str().unwrap().to_owned())
            .or_default() +=
            odata::parse_decimal(r["MatlWrhsStkQtyInMatlBaseUnit"].as_str().unwrap(), 3).unwrap();
    }
    let expected: BTreeMap<String, i64> = sim
        .expected_stock(Some("1000"))
        .into_iter()
        .map(|v| {
            (
                v["outer_sku_id"].as_str().unwrap().to_owned(),
                v["quantity"].as_i64().unwrap() * 1000,
            )
        })
        .collect();
    assert_eq!(sums, expected);
    assert!(
        sim.stock()
            .iter()
            .any(|r| r.stock_type != "01" || !r.special_stock.is_empty()),
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
    assert_eq!(
        page[0]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "__metadata")
            .count(),
        2
    );
    let after = get(
        &sim,
        STOCK_PATH,
        &q(&[("$filter", &format!("{filter} and Material gt 'FG-0004'"))]),
    );
    assert!(
        after["d"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["Material"].as_str().unwrap() > "FG-0004")
    );
}

#[test]
fn server_side_paging_links_the_rest() {
    let sim = SapSim::spawn(SapConfig {
        page_cap: 3,
        ..SapConfig::default()
    })
    .unwrap();
    let first = get(
        &sim,
        STOCK_PATH,
        &q(&[("$orderby", "Material"), ("$inlinecount", "allpages")]),
    );
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

#[test]
fn deliveries_expand_items_and_tie_to_sales_orders() {
    let sim = sim();
    let answer = get(
        &sim,
        DELIVERY_PATH,
        &q(&[
            (
                "$filter",
                "OverallGoodsMovementStatus eq 'C' and SalesOrganization eq '1000'",
            ),
            ("$expand", "to_DeliveryDocumentItem"),
            (
                "$select",
                "DeliveryDocument,BillOfLading,to_DeliveryDocumentItem/Material,to_DeliveryDocumentItem/ReferenceSDDocument,to_DeliveryDocumentItem/HigherLvlItmOfBatSpltItm",
            ),
            ("$orderby", "DeliveryDocument"),
            ("$inlinecount", "allpages"),
        ]),
    );
    let rows = answer["d"]["results"].as_array().unwrap();
    // Seeded: order 0 (1), order 1 (2), order 3 (1), order 5 (1); not 2 (no goods issue) nor 4 (sales org 2000).
    assert_eq!(rows.len(), 5);
    let split = rows
        .iter()
        .flat_map(|r| r["to_DeliveryDocumentItem"]["results"].as_array().unwrap())
        .filter(|i| i["HigherLvlItmOfBatSpltItm"] != "000000")
        .count();
    assert_eq!(split, 2);
    assert_eq!(
        rows[0]["to_DeliveryDocumentItem"]["results"][0]
            .as_object()
            .unwrap()
            .len(),
        4,
        "metadata + 3 selected"
    );

    let shipments = sim.expected_shipments("1000", None);
    let orders: Vec<&str> = shipments
        .iter()
        .map(|s| s["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        orders,
        [
            "3100000000000",
            "3100000000001",
            "3100000000001",
            "3100000000003"
        ]
    );
    let logistics = sim.expected_logistics("1000", None);
    assert_eq!(logistics.len(), 3, "order 3 has no tracking number yet");
    let (from, to) = (
        sim.now_ms() - 86_400_000 * 10,
        sim.now_ms() - 86_400_000 * 9,
    );
    assert!(sim.expected_shipments("1000", Some((from, to))).is_empty());
}

#[test]
fn shipping_what_was_pushed() {
    let sim = sim();
    let created = create(&sim, &order_body("P-SHIP"));
    let number = serde_json::from_str::<Value>(&created.body).unwrap()["d"]["SalesOrder"]
        .as_str()
        .unwrap()
        .to_owned();
    let line = |q: u32, batches: Vec<(&str, u32)>| ShipLine {
        material: "FG-0001".into(),
        quantity: q,
        batches: batches
            .into_iter()
            .map(|(b, n)| (b.to_owned(), n))
            .collect(),
    };
    let first = sim.ship(&number, &[line(1, vec![])], None).unwrap();
    sim.ship(&number, &[line(1, vec![("B1", 1)])], Some(("YT123", "YTO")))
        .unwrap();
    let third = sim
        .ship(
            &number,
            &[line(3, vec![("B1", 1), ("B2", 2)])],
            Some(("YT124", "YTO")),
        )
        .unwrap();
    sim.set_tracking(&first, "YT122", "YTO").unwrap();
    let mine: Vec<Value> = sim
        .expected_shipments("1000", None)
        .into_iter()
        .filter(|s| s["order_id"] == "P-SHIP")
        .collect();
    assert_eq!(mine.len(), 3);
    assert_eq!(
        mine[2]["lines"],
        json!([{"outer_sku_id": "FG-0001", "quantity": 1, "batch_no": "B1"}, {"outer_sku_id": "FG-0001", "quantity": 2, "batch_no": "B2"}])
    );
    let delivery = sim
        .deliveries()
        .into_iter()
        .find(|d| d.delivery == third)
        .unwrap();
    assert_eq!(
        delivery.items.len(),
        3,
        "main item and two batch split items"
    );
    let logistics: Vec<Value> = sim
        .expected_logistics("1000", None)
        .into_iter()
        .filter(|l| l["order_id"] == "P-SHIP")
        .collect();
    assert_eq!(
        logistics
            .iter()
            .map(|l| l["tracking_no"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["YT122", "YT123", "YT124"]
    );
    assert!(
        sim.ship(&number, &[line(2, vec![("B1", 1)])], None)
            .is_err(),
        "batches must add up"
    );
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
    assert_eq!(
        (
            idocs.len(),
            idocs[0].xml.as_str(),
            idocs[0].content_type.as_str()
        ),
        (1, xml, "application/xml")
    );
    let bad = sim.handle_raw(
        "POST",
        IDOC_PATH,
        "",
        &[("authorization", &a)],
        b"<INVOIC02/>",
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        sim.handle_raw("POST", IDOC_PATH, "", &[], xml.as_bytes())
            .status,
        401
    );
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
    assert_eq!(
        (throttled.status, header(&throttled, "retry-after")),
        (429, vec!["2"])
    );
    sim.faults().clear();
    sim.faults().revoke_credentials(true);
    assert_eq!(sim.handle_raw("GET", SO_PATH, "", &h, b"").status, 401);
    sim.faults().clear();
    sim.faults().malform_next(
        1,
        Malform::field("MatlWrhsStkQtyInMatlBaseUnit", "\"12.5x\""),
    );
    let body = get(&sim, STOCK_PATH, "");
    assert_eq!(
        body["d"]["results"][0]["MatlWrhsStkQtyInMatlBaseUnit"],
        "12.5x"
    );

    sim.lose_next_create_answers(1);
    assert_eq!(create(&sim, &order_body("LOST-1")).status, 504);
    assert_eq!(
        sim.sales_orders_for_po("LOST-1").len(),
        1,
        "created all the same"
    );
    sim.refuse_next_create(SapError::new(400, "V1/154", "Credit limit exceeded"));
    let refused = create(&sim, &order_body("CREDIT-1"));
    assert_eq!(
        (refused.status, error_code(&refused).as_str()),
        (400, "V1/154")
    );
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
    assert!(response.contains(&format!("\"uri\":\"http://{}/sap/opu/odata/sap/API_OUTBOUND_DELIVERY_SRV;v=0002/A_OutbDeliveryHeader('", sim.grant())));
}

#[test]
fn seeded_the_same_for_a_seed() {
    let (a, b) = (sim(), sim());
    assert_eq!(a.stock(), b.stock());
    assert_eq!(a.deliveries(), b.deliveries());
    assert_eq!(a.sample_orders(3, 1), b.sample_orders(3, 1));
    for order in a.sample_orders(5, 7) {
        let lines = order["lines"].as_array().unwrap();
        let sum: i64 = lines
            .iter()
            .map(|l| l["line_total"].as_i64().unwrap())
            .sum();
        assert_eq!(
            sum + order["shipping_fee"].as_i64().unwrap(),
            order["paid_total"].as_i64().unwrap()
        );
    }
}
