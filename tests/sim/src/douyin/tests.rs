//! The gateway end to end: signed requests through [`DouyinSim::handle_raw`], and one over
//! real HTTP.

use std::io::{Read, Write};

use serde_json::{Value, json};

use super::*;
use crate::harness::Marketplace;

fn sim() -> DouyinSim {
    DouyinSim::spawn(DouyinConfig { orders: 60, ..DouyinConfig::default() }).unwrap()
}

fn call(sim: &DouyinSim, method: &str, params: Value) -> Value {
    let (query, body) = sim.signed_request(method, &params, SignMethod::HmacSha256);
    let (status, body) = sim.handle_raw(&path_of(method), &query, body.as_bytes());
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn all_window(sim: &DouyinSim) -> Value {
    let (from, to) = sim.window();
    json!({"update_time_start": from / 1000, "update_time_end": to / 1000, "page": 0, "size": 100})
}

#[test]
fn signed_requests_in_both_sign_methods_are_answered() {
    let sim = sim();
    let v = call(&sim, SEARCH_LIST, all_window(&sim));
    assert_eq!((v["code"].as_i64(), v["msg"].as_str()), (Some(10000), Some("success")));
    assert_eq!(v["data"]["total"], 60);
    assert!(v["log_id"].is_string());
    let (query, body) = sim.signed_request(SEARCH_LIST, &all_window(&sim), SignMethod::Md5);
    assert!(query.contains("sign_method=md5"));
    let (_, answer) = sim.handle_raw(&path_of(SEARCH_LIST), &query, body.as_bytes());
    assert!(answer.contains("\"code\":10000"), "{answer}");
    assert_eq!(sim.call_count(SEARCH_LIST), 2);
}

fn error_of(answer: &str) -> (i64, String) {
    let v: Value = serde_json::from_str(answer).unwrap();
    (v["code"].as_i64().unwrap(), v["sub_code"].as_str().unwrap().to_owned())
}

#[test]
fn the_system_checks_refuse_in_douyins_codes() {
    let sim = sim();
    let params = json!({"size": 1});
    let (query, body) = sim.signed_request(SEARCH_LIST, &params, SignMethod::HmacSha256);
    let path = path_of(SEARCH_LIST);
    let run = |q: &str, b: &str, p: &str| error_of(&sim.handle_raw(p, q, b.as_bytes()).1);

    let tampered = query.replace("sign=", "sign=0");
    assert_eq!(run(&tampered, &body, &path), (40003, "isv.signature-invalid".into()));
    assert_eq!(run(&query, r#"{"size":2}"#, &path), (40003, "isv.signature-invalid".into()));
    assert_eq!(run(&query, r#"{ "size":1}"#, &path), (40003, "isv.parameter-format-invalid".into()));
    assert_eq!(run(&query, &body, "/order/orderDetail"), (40003, "isv.method-path-mismatch".into()));
    let wrong_token = query.replace("access_token=dy-sim-access-token", "access_token=other");
    assert_eq!(run(&wrong_token, &body, &path), (40003, "isv.access-token-no-existed".into()));
    let no_token = query.replace("&access_token=dy-sim-access-token", "");
    assert_eq!(run(&no_token, &body, &path), (40001, "isv.access-token-missing".into()));
    let wrong_key = query.replace("app_key=7000000000000000001", "app_key=1");
    assert_eq!(run(&wrong_key, &body, &path), (40003, "isv.app-id-invalid".into()));
    let stale = {
        let ts = (wall_ms() / 1000 - 3600).to_string();
        let pattern = sign_pattern(&sim.config().app_key, SEARCH_LIST, &body, &ts);
        let s = sign(SignMethod::HmacSha256, &sim.config().app_secret, &pattern);
        format!(
            "app_key=7000000000000000001&method=order.searchList&timestamp={ts}&v=2&sign_method=hmac-sha256&sign={s}&access_token=dy-sim-access-token"
        )
    };
    assert_eq!(run(&stale, &body, &path), (40003, "isv.timestamp-invalid".into()));
    let (q, b) = sim.signed_request("order.nope", &params, SignMethod::HmacSha256);
    assert_eq!(run(&q, &b, "/order/nope"), (70000, "isp.api-service-off".into()));
}

#[test]
fn faults_are_answered_in_douyins_words() {
    let sim = sim();
    sim.faults().fail_next(1, 503);
    let (query, body) = sim.signed_request(SEARCH_LIST, &json!({"size": 1}), SignMethod::HmacSha256);
    assert_eq!(sim.handle_raw(&path_of(SEARCH_LIST), &query, body.as_bytes()).0, 503);

    sim.throttle(1, 7);
    assert_eq!(call(&sim, SEARCH_LIST, json!({"size": 1}))["code"], 10000);
    let refused = call(&sim, SEARCH_LIST, json!({"size": 1}));
    assert_eq!(refused["code"], 60000);
    assert!(refused["sub_msg"].as_str().unwrap().contains("7秒"), "{refused}");
    sim.clear_faults();

    sim.revoke_credentials();
    assert_eq!(call(&sim, SEARCH_LIST, json!({"size": 1}))["sub_code"], "isv.access-token-expired");
    sim.clear_faults();

    assert_eq!(sim.malform_next_order(), "pay_amount");
    let broken = call(&sim, SEARCH_LIST, json!({"size": 2}));
    assert!(broken["data"]["shop_order_list"][0]["pay_amount"].is_string(), "{broken}");
    assert!(broken["data"]["shop_order_list"][1]["pay_amount"].is_i64());
}

#[test]
fn the_legacy_envelope_on_request() {
    let sim = sim();
    sim.set_envelope(Envelope::Legacy);
    let v = call(&sim, SEARCH_LIST, json!({"size": 3}));
    assert_eq!((v["err_no"].as_i64(), v["message"].as_str()), (Some(0), Some("success")));
    assert_eq!(v["data"]["shop_order_list"].as_array().unwrap().len(), 3);
    assert!(v.get("code").is_none());
}

#[test]
fn harness_face_and_pushes() {
    let sim = sim();
    assert_eq!(sim.platform(), "douyin");
    let (from, to) = sim.window();
    let expected = sim.expected_orders("s1", from, to);
    assert_eq!(expected.len(), 60);
    let listed = call(&sim, SEARCH_LIST, all_window(&sim));
    let ids: Vec<&str> =
        listed["data"]["shop_order_list"].as_array().unwrap().iter().map(|o| o["order_id"].as_str().unwrap()).collect();
    let want: Vec<&str> = expected.iter().map(|o| o["order_id"].as_str().unwrap()).collect();
    assert_eq!(ids, want, "newest updated first, like the listing");
    assert!(Marketplace::config(&sim).contains_key("endpoint") && sim.secrets().contains_key("access_token"));

    let cases = sim.push_cases();
    assert_eq!(cases.iter().map(|c| c.operation.as_str()).collect::<Vec<_>>(), ["push-stock", "push-logistics"]);
    for case in &cases {
        assert!((case.check)().is_err(), "{} holds before the push", case.operation);
    }
    // Push them the way the plugin does.
    let stock = &cases[0].input[0];
    let ok = call(
        &sim,
        SYNC_STOCK,
        json!({"out_sku_id": stock["outer_sku_id"], "stock_num": stock["quantity"], "incremental": false, "idempotent_id": "x-41"}),
    );
    assert_eq!(ok["code"], 10000);
    let again = call(
        &sim,
        SYNC_STOCK,
        json!({"out_sku_id": stock["outer_sku_id"], "stock_num": 1, "incremental": false, "idempotent_id": "x-41"}),
    );
    assert_eq!(again["sub_code"], "isv.idempotent-id-existed");
    (cases[0].check)().unwrap();
    let ship = &cases[1].input[0];
    let shipped = call(
        &sim,
        LOGISTICS_ADD,
        json!({"order_id": ship["order_id"], "company_code": ship["carrier_code"], "logistics_code": ship["tracking_no"]}),
    );
    assert_eq!(shipped["code"], 10000, "{shipped}");
    (cases[1].check)().unwrap();

    let changed = sim.change_order();
    let (from, to) = sim.window();
    assert!(sim.expected_orders("s1", from, to).iter().any(|o| o["order_id"] == changed.as_str()));
}

#[test]
fn over_real_http() {
    let sim = sim();
    let (query, body) = sim.signed_request(
        ORDER_DETAIL,
        &json!({"shop_order_id": order_id(sim.shop().orders[0].order_no)}),
        SignMethod::HmacSha256,
    );
    let addr = sim.grant();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST /order/orderDetail?{query} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        addr,
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"shop_order_detail\"") && answer.contains("\"code\":10000"), "{answer}");
}

#[test]
fn raw_shop_orders_are_listed_as_given_in_their_window_until_cleared() {
    let sim = sim();
    let cases = Marketplace::rule_cases(&sim);
    let case = cases.iter().find(|c| c.rule == "one bad record").unwrap();
    Marketplace::serve_raw(&sim, &case.raw).unwrap();
    let (from, to) = case.window;
    let page = |from: i64, to: i64| {
        call(
            &sim,
            SEARCH_LIST,
            json!({"update_time_start": from / 1000, "update_time_end": to / 1000, "page": 0, "size": 20}),
        )
    };
    let listed = page(from, to);
    let mut want = case.raw.clone();
    want.reverse();
    assert_eq!(listed["data"]["shop_order_list"], Value::Array(want), "{listed}");
    let id = case.raw[0]["order_id"].clone();
    let detail = call(&sim, ORDER_DETAIL, json!({"shop_order_id": id}));
    assert_eq!(detail["data"]["shop_order_detail"], case.raw[0]);
    Marketplace::clear_raw(&sim);
    assert_eq!(page(from, to)["data"]["total"], 0);
}
