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

mod after_sales {
    use super::*;
    use crate::douyin::after_sale::{AFTER_SALE_DETAIL, AFTER_SALE_LIST, AFTER_SALE_OPERATE, aftersale_status};
    use crate::shop::{AfterSaleAction, AfterSaleKind, AfterSaleStatus, Stage};

    fn sim() -> DouyinSim {
        DouyinSim::spawn(DouyinConfig { orders: 60, after_sales: 25, ..DouyinConfig::default() }).unwrap()
    }

    fn list(sim: &DouyinSim, params: Value) -> Value {
        call(sim, AFTER_SALE_LIST, params)
    }

    #[test]
    fn none_unless_asked_for() {
        let plain = DouyinSim::spawn(DouyinConfig { orders: 60, ..DouyinConfig::default() }).unwrap();
        assert!(plain.after_sales().is_empty());
        let with = sim();
        assert_eq!(plain.shop().orders.len(), with.shop().orders.len());
        assert_eq!(plain.shop().skus, with.shop().skus, "the same shop whatever the after-sales");
    }

    #[test]
    fn list_pages_by_update_time_only_when_asked() {
        let sim = sim();
        let truth = sim.after_sales();
        assert!(truth.len() >= 20, "{}", truth.len());
        let from = truth.iter().map(|a| a.created_ms / 1000).min().unwrap();
        let to = truth.iter().map(|a| a.updated_ms / 1000).max().unwrap();
        let all =
            list(&sim, json!({"order_by": "update_time", "start_time": from, "end_time": to, "page": 0, "size": 100}));
        assert_eq!(all["code"], 10000, "{all}");
        assert_eq!(all["data"]["total"], truth.len());
        let first = &all["data"]["items"][0]["aftersale_info"];
        let newest = truth.iter().max_by_key(|a| (a.updated_ms, a.id)).unwrap();
        assert_eq!(first["aftersale_id"], newest.id.to_string());
        assert_eq!(first["update_time"], newest.updated_ms / 1000);
        assert_eq!(first["refund_total_amount"], newest.refund_amount + newest.shipping_refund);
        assert_eq!(first["aftersale_status"], aftersale_status(newest));

        // A window over update time: only the ones changed in it.
        let changed = truth.iter().find(|a| a.updated_ms / 1000 > a.created_ms / 1000 + 1).expect("a changed one");
        let t = changed.updated_ms / 1000;
        let by_update = list(&sim, json!({"order_by": "update_time", "start_time": t, "end_time": t, "size": 100}));
        let ids: Vec<String> = by_update["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["aftersale_info"]["aftersale_id"].as_str().unwrap().to_owned())
            .collect();
        assert!(ids.contains(&changed.id.to_string()));
        // Without order_by the same bounds apply to create time: a plugin that forgets misses it.
        let by_create = list(&sim, json!({"start_time": t, "end_time": t, "size": 100}));
        assert!(!by_create["data"]["items"].to_string().contains(&changed.id.to_string()), "{by_create}");

        // Pages from 0, size at most 100.
        let p1 =
            list(&sim, json!({"order_by": "update_time", "start_time": from, "end_time": to, "page": 1, "size": 10}));
        assert_eq!(p1["data"]["items"][0]["aftersale_info"], all["data"]["items"][10]["aftersale_info"]);
        assert_eq!(p1["data"]["has_more"], truth.len() > 20);
        for bad in [json!({"size": 101}), json!({"size": 0}), json!({"size": 5, "page": -1})] {
            assert_eq!(list(&sim, bad)["code"], codes::INVALID_BUSINESS_PARAMETER);
        }
    }

    #[test]
    fn operate_moves_after_sales_and_refuses_what_the_status_does_not_allow() {
        let sim = DouyinSim::spawn(DouyinConfig { orders: 60, ..DouyinConfig::default() }).unwrap();
        let shop = sim.shop();
        let paid = shop.orders.iter().find(|o| o.stage == Stage::Paid).unwrap();
        let shipped = shop.orders.iter().find(|o| o.stage == Stage::Shipped).unwrap();
        let intercept = sim.add_after_sale(&paid.order_no.to_string(), AfterSaleKind::ReturnAndRefund).unwrap();
        let ret = sim.add_after_sale(&shipped.order_no.to_string(), AfterSaleKind::ReturnAndRefund).unwrap();
        let detail = call(&sim, AFTER_SALE_DETAIL, json!({"after_sale_id": intercept}));
        let info = &detail["data"]["process_info"]["after_sale_info"];
        assert_eq!(
            (info["aftersale_type"].as_i64(), info["aftersale_status"].as_i64()),
            (Some(2), Some(6)),
            "{detail}"
        );
        assert_eq!(info["refund_post_amount"], paid.shipping_fee);
        assert_eq!(info["order_id"], crate::douyin::sku_order_id(paid.lines[0].line_no));
        assert_eq!(detail["data"]["order_info"]["shop_order_id"], paid.order_no.to_string());

        let op = |kind: i64, id: &str, reason: Option<&str>| {
            let mut item = json!({"aftersale_id": id});
            if let Some(r) = reason {
                item["reason"] = json!(r);
            }
            call(&sim, AFTER_SALE_OPERATE, json!({"type": kind, "items": [item]}))
        };
        // Agreeing to a return on a refund-only after-sale, or confirming goods not sent: refused.
        assert_eq!(op(111, &intercept, None)["code"], codes::BUSINESS_FAILED);
        assert_eq!(op(201, &ret, None)["code"], codes::BUSINESS_FAILED);
        assert_eq!(op(112, &ret, None)["code"], codes::INVALID_BUSINESS_PARAMETER, "a refusal needs a reason");
        assert_eq!(op(101, &intercept, None)["code"], 10000);
        assert_eq!(sim.after_sale(&intercept).unwrap().status, AfterSaleStatus::Agreed);
        assert_eq!(op(111, &ret, None)["code"], 10000);
        let ship = AfterSaleAction::BuyerReturns { carrier: "中通快递".into(), tracking_no: "ZT0001".into() };
        sim.act_on_after_sale(&ret, &ship).unwrap();
        let info =
            call(&sim, AFTER_SALE_DETAIL, json!({"after_sale_id": ret}))["data"]["process_info"]["after_sale_info"]
                .clone();
        assert_eq!(
            (info["aftersale_status"].as_i64(), info["return_logistics_code"].as_str()),
            (Some(11), Some("ZT0001"))
        );
        assert_eq!(op(202, &ret, Some("商品已使用"))["code"], 10000);
        let a = sim.after_sale(&ret).unwrap();
        assert_eq!((a.status, a.version), (AfterSaleStatus::Refused, 4));
        assert_eq!(aftersale_status(&a), 29);
        let log = sim.seller_actions();
        assert_eq!(log.len(), 3);
        assert_eq!(log[2].reason.as_deref(), Some("商品已使用"));
        assert_eq!(call(&sim, AFTER_SALE_DETAIL, json!({"after_sale_id": "1"}))["code"], codes::BUSINESS_FAILED);
    }
}

mod batch_decrypt {
    use super::*;
    use crate::douyin::decrypt::{BATCH_DECRYPT, ERR_UNKNOWN_CIPHER};
    use crate::douyin::render::cipher;

    #[test]
    fn at_most_fifty_virtual_numbers_and_per_item_errors() {
        let sim = DouyinSim::spawn(DouyinConfig { orders: 80, ..DouyinConfig::default() }).unwrap();
        let shop = sim.shop();
        let infos: Vec<Value> = shop.orders[..25]
            .iter()
            .flat_map(|o| {
                let id = o.order_no.to_string();
                [
                    json!({"auth_id": id, "cipher_text": cipher(&o.receiver.phone, '$')}),
                    json!({"auth_id": id, "cipher_text": cipher(&o.receiver.name, '#')}),
                ]
            })
            .collect();
        let v = call(&sim, BATCH_DECRYPT, json!({"cipher_infos": infos}));
        let out = v["data"]["decrypt_infos"].as_array().unwrap_or_else(|| panic!("{v}")).clone();
        assert_eq!(out.len(), 50);
        for (pair, o) in out.chunks(2).zip(&shop.orders) {
            let plain = sim.plaintext_receiver(&o.order_no.to_string()).unwrap();
            assert_eq!(pair[0]["decrypt_text"], plain.phone);
            assert_eq!(pair[0]["is_virtual_tel"], plain.virtual_phone);
            if plain.virtual_phone {
                let (a, b) = plain.phone.split_once('-').unwrap();
                assert_eq!((pair[0]["phone_no_a"].as_str(), pair[0]["phone_no_b"].as_str()), (Some(a), Some(b)));
            } else {
                assert_eq!(plain.phone, o.receiver.phone);
            }
            assert_eq!(pair[1]["decrypt_text"], o.receiver.name);
        }
        assert!(out.iter().any(|i| i["is_virtual_tel"] == true), "some virtual numbers");

        let mut too_many = infos.clone();
        too_many.push(infos[0].clone());
        assert_eq!(
            call(&sim, BATCH_DECRYPT, json!({"cipher_infos": too_many}))["code"],
            codes::INVALID_BUSINESS_PARAMETER
        );
        // Another order's ciphertext: that item fails, the other is decrypted.
        let (a, b) = (&shop.orders[0], &shop.orders[1]);
        let mixed = json!({"cipher_infos": [
            {"auth_id": a.order_no.to_string(), "cipher_text": cipher(&b.receiver.address, '#')},
            {"auth_id": a.order_no.to_string(), "cipher_text": cipher(&a.receiver.address, '#')},
        ]});
        let v = call(&sim, BATCH_DECRYPT, mixed);
        assert_eq!(v["data"]["decrypt_infos"][0]["err_no"], ERR_UNKNOWN_CIPHER);
        assert_eq!(v["data"]["decrypt_infos"][1]["decrypt_text"], a.receiver.address);
        let log = sim.decrypt_calls();
        assert_eq!(log.iter().map(|c| c.decrypted()).collect::<Vec<_>>(), [50, 0, 1]);
        assert!(log[1].refused.is_some());
    }
}
