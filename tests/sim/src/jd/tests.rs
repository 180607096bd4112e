use serde_json::{Value, json};

use super::error::codes;
use super::gateway::{PARAM_JSON, parse_timestamp, signed_request};
use super::render::{self, mask_mobile, order_state};
use super::*;
use crate::faults::Malform;
use crate::harness::Marketplace;
use crate::shop::Stage;
use crate::taobao::{SignMethod, encode_pairs, gmt8, sign};

/// 2026-11-11 00:00:00 +08:00.
const NOW: i64 = 1_794_326_400_000;

fn sim() -> JdSim {
    JdSim::spawn(JdConfig { orders: 120, now_ms: Some(NOW), ..JdConfig::default() }).unwrap()
}

fn search(sim: &JdSim, from_ms: i64, to_ms: i64, page: u32, page_size: u32) -> Value {
    let answer = sim.call(
        ORDER_SEARCH,
        &json!({
            "start_date": gmt8(from_ms), "end_date": gmt8(to_ms),
            "order_state": render::ORDER_STATES.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(","),
            "page": page.to_string(), "page_size": page_size.to_string(), "sortType": "1", "dateType": "0",
        }),
    );
    answer["jingdong_pop_order_search_responce"]["searchorderinfo_result"].clone()
}

fn error_code(answer: &Value) -> &str {
    answer["error_response"]["code"].as_str().unwrap_or_else(|| panic!("not an error: {answer}"))
}

#[test]
fn a_correctly_signed_request_passes_and_every_system_check_refuses_in_jos_words() {
    let sim = sim();
    let ok = sim.call(ORDER_GET, &json!({"order_id": "1"}));
    assert_eq!(ok["jingdong_pop_order_get_responce"]["code"], "0", "{ok}");

    let cfg = sim.config().clone();
    let params = json!({"order_id": "1"});
    let ts = gmt8(crate::serve::wall_ms());
    let (query, body) = signed_request(&cfg, ORDER_GET, &params, &ts);
    let refused = |query: &str, body: &str| -> String {
        let (status, text) = sim.handle_raw(query, body);
        assert_eq!(status, 200);
        serde_json::from_str::<Value>(&text).unwrap()["error_response"]["code"].as_str().unwrap().to_owned()
    };
    let tampered = query.replacen("sign=", "sign=0", 1);
    assert_eq!(refused(&tampered, &body), codes::INVALID_SIGNATURE);
    // The business JSON is signed too.
    assert_eq!(refused(&query, &encode_pairs([(PARAM_JSON, "{\"order_id\":\"2\"}")])), codes::INVALID_SIGNATURE);
    let wrong_token = JdConfig { access_token: "other".into(), ..cfg.clone() };
    let (q, b) = signed_request(&wrong_token, ORDER_GET, &params, &ts);
    assert_eq!(refused(&q, &b), codes::INVALID_ACCESS_TOKEN);
    let wrong_key = JdConfig { app_key: "other".into(), ..cfg.clone() };
    let (q, b) = signed_request(&wrong_key, ORDER_GET, &params, &ts);
    assert_eq!(refused(&q, &b), codes::INVALID_APP_KEY);
    let (q, b) = signed_request(&cfg, "jingdong.nope", &params, &ts);
    assert_eq!(refused(&q, &b), codes::INVALID_METHOD);
    let (q, b) = signed_request(&cfg, ORDER_GET, &params, &gmt8(crate::serve::wall_ms() - 7 * 60_000));
    assert_eq!(refused(&q, &b), codes::INVALID_TIMESTAMP);
    assert_eq!(refused(&query.replace("v=2.0", "v=1.0"), &body), codes::UNSUPPORTED_VERSION);
}

#[test]
fn the_signature_is_tops_md5_over_system_params_and_param_json() {
    // Built by hand: sorted `k+v` of everything but `sign`, wrapped in the secret.
    let cfg = JdConfig::default();
    let (query, _) = signed_request(&cfg, ORDER_GET, &json!({"order_id": "42"}), "2026-11-11 08:00:00");
    let message = format!(
        "360buy_param_json{{\"order_id\":\"42\"}}access_token{}app_key{}method{ORDER_GET}timestamp2026-11-11 08:00:00v2.0",
        cfg.access_token, cfg.app_key
    );
    let digest = md5::Md5::digest(format!("{0}{message}{0}", cfg.app_secret).as_bytes());
    use md5::Digest as _;
    assert!(query.ends_with(&format!("sign={}", hex::encode_upper(digest))), "{query}");
    assert_eq!(
        sign([("b", "2"), ("a", "1"), ("c", "")], "s", SignMethod::Md5),
        hex::encode_upper(md5::Md5::digest(b"sa1b2s")),
        "empty values are not signed"
    );
}

#[test]
fn both_timestamp_layouts_are_accepted() {
    let eight_am = NOW + 8 * 3_600_000;
    assert_eq!(parse_timestamp("2026-11-11 08:00:00"), Some(eight_am));
    assert_eq!(parse_timestamp("2026-11-11 08:00:00.250+0800"), Some(eight_am + 250));
    assert_eq!(parse_timestamp("2026-11-11 00:00:00.000+0000"), Some(eight_am));
    assert_eq!(parse_timestamp("2026-11-11T08:00:00"), None);
    let sim = sim();
    let ts = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    let (q, b) = signed_request(
        sim.config(),
        ORDER_GET,
        &json!({"order_id": "1"}),
        &ts.format("%Y-%m-%d %H:%M:%S%.3f%z").to_string(),
    );
    let (_, text) = sim.handle_raw(&q, &b);
    assert!(text.contains("orderDetailInfo"), "{text}");
}

#[test]
fn search_pages_by_modified_time_newest_first_with_a_total() {
    let sim = sim();
    let (from, to) = Marketplace::window(&sim);
    let shop = sim.shop();
    let visible: Vec<&Order> = shop.orders.iter().filter(|o| order_state(o).is_some()).collect();
    assert!(visible.len() < shop.orders.len(), "orders awaiting payment are hidden");

    let first = search(&sim, from, to, 1, 30);
    assert_eq!(first["apiResult"]["success"], true, "{first}");
    assert_eq!(first["orderTotal"], visible.len());
    let mut seen = Vec::new();
    for page in 1.. {
        let result = search(&sim, from, to, page, 30);
        let list = result["orderInfoList"].as_array().unwrap().clone();
        if list.is_empty() {
            break;
        }
        seen.extend(list);
    }
    assert_eq!(seen.len(), visible.len());
    let times: Vec<i64> =
        seen.iter().map(|o| crate::taobao::parse_gmt8(o["modified"].as_str().unwrap()).unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // Bounds are inclusive, at second precision.
    let t = visible[0].updated_ms;
    let exact = search(&sim, t, t, 1, 100);
    let ids: Vec<u64> =
        exact["orderInfoList"].as_array().unwrap().iter().map(|o| o["orderId"].as_u64().unwrap()).collect();
    assert!(ids.contains(&visible[0].order_no), "{exact}");
    assert!(search(&sim, t - 86_400_000 * 31, t, 1, 10)["apiResult"]["success"] == false, "a month at most");
    assert!(search(&sim, from, to, 1, 101)["apiResult"]["success"] == false, "page_size 1..=100");
}

#[test]
fn order_info_speaks_jos() {
    let sim = sim();
    let shop = sim.shop();
    let o = shop.orders.iter().find(|o| o.order_no > (1 << 53) && order_state(o).is_some()).unwrap();
    let answer = sim.call(ORDER_GET, &json!({"order_id": o.order_no.to_string()}));
    let text = answer.to_string();
    assert!(text.contains(&format!("\"orderId\":{}", o.order_no)), "a bare number beyond 2^53: {text}");
    let info = &answer["jingdong_pop_order_get_responce"]["orderDetailInfo"]["orderInfo"];
    assert_eq!(info["itemInfoList"][0]["itemTotal"], o.lines[0].quantity.to_string());
    let paid = crate::taobao::parse_yuan(info["orderPayment"].as_str().unwrap()).unwrap()
        + crate::taobao::parse_yuan(info["balanceUsed"].as_str().unwrap()).unwrap();
    assert_eq!(paid, o.paid_total());
    let c = &info["consigneeInfo"];
    assert_eq!(c["mobile"], mask_mobile(&o.receiver.phone));
    assert_eq!(mask_mobile("13612345675"), "136*******5");
    assert!(!text.contains(&o.receiver.name) && !text.contains(&o.receiver.address), "no plaintext on the wire");

    // optional_fields keeps what is asked for (and the id).
    let some =
        sim.call(ORDER_GET, &json!({"order_id": o.order_no.to_string(), "optional_fields": "orderState,modified"}));
    let keys: Vec<&String> =
        some["jingdong_pop_order_get_responce"]["orderDetailInfo"]["orderInfo"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["modified", "orderId", "orderState"]);
    // Strings on request.
    let strings =
        JdSim::spawn(JdConfig { orders: 10, now_ms: Some(NOW), order_ids: OrderIds::Strings, ..JdConfig::default() })
            .unwrap();
    let o = strings.shop().orders.into_iter().find(|o| order_state(o).is_some()).unwrap();
    let answer = strings.call(ORDER_GET, &json!({"order_id": o.order_no}));
    assert_eq!(
        answer["jingdong_pop_order_get_responce"]["orderDetailInfo"]["orderInfo"]["orderId"],
        o.order_no.to_string()
    );
    // An order JOS does not show has no orderInfo.
    let hidden = shop.orders.iter().find(|o| order_state(o).is_none()).unwrap();
    let answer = sim.call(ORDER_GET, &json!({"order_id": hidden.order_no.to_string()}));
    assert!(answer["jingdong_pop_order_get_responce"]["orderDetailInfo"].get("orderInfo").is_none(), "{answer}");
}

#[test]
fn faults_are_answered_in_jos_words() {
    let sim = sim();
    let get = |sim: &JdSim| sim.call(ORDER_GET, &json!({"order_id": "1"}));
    sim.faults().throttle(1, 5);
    assert!(get(&sim).get("jingdong_pop_order_get_responce").is_some());
    let throttled = get(&sim);
    assert_eq!(error_code(&throttled), codes::CALL_LIMITED);
    assert!(
        throttled["error_response"]["en_desc"].as_str().unwrap().contains("ban will last for 5 more seconds"),
        "{throttled}"
    );
    sim.faults().clear();

    sim.faults().revoke_credentials(true);
    assert_eq!(error_code(&get(&sim)), codes::INVALID_ACCESS_TOKEN);
    sim.faults().clear();

    sim.faults().fail_next(1, 503);
    let (q, b) = sim.signed_request(ORDER_GET, &json!({"order_id": "1"}));
    assert_eq!(sim.handle_raw(&q, &b).0, 503);

    assert_eq!(Marketplace::malform_next_order(&sim), "orderPayment");
    let (from, to) = Marketplace::window(&sim);
    let broken = search(&sim, from, to, 1, 5);
    assert_eq!(broken["orderInfoList"][0]["orderPayment"], "12.3.4");
    assert_eq!(search(&sim, from, to, 1, 5)["orderInfoList"][0]["orderPayment"], "12.3.4", "until cleared");
    sim.faults().clear();
    assert_ne!(search(&sim, from, to, 1, 5)["orderInfoList"][0]["orderPayment"], "12.3.4");
    sim.faults().malform_next(1, Malform::Truncated);
    assert!(matches!(get(&sim), Value::String(_)), "not JSON any more");
}

#[test]
fn writes_change_the_shop_and_refuse_in_their_result() {
    let sim = sim();
    let sku = sim.shop().skus[1].clone();
    let ok = sim.call(UPDATE_SKU_STOCK, &json!({"skuId": sku.sku_no, "stockNum": 321, "storeId": 7}));
    assert_eq!(
        ok,
        json!({"jingdong_stock_write_updateSkuStock_responce": {"code": "0", "success": true, "errorCode": "", "chineseErrCode": "成功", "englishErrCode": "success"}})
    );
    assert_eq!(sim.sku(sku.sku_no).unwrap().stock, 321);
    assert_eq!(sim.stock_writes(), [StockWrite { sku_id: sku.sku_no, stock_num: 321, store_id: Some(7) }]);
    let missing = sim.call(UPDATE_SKU_STOCK, &json!({"skuId": 1, "stockNum": 1}));
    assert_eq!(missing["jingdong_stock_write_updateSkuStock_responce"]["success"], false);

    let order = sim.shop().orders.into_iter().find(|o| order_state(o) == Some(render::WAIT_SELLER_STOCK_OUT)).unwrap();
    let ship = |carrier: &str| {
        sim.call(ORDER_SHIPMENT, &json!({"orderId": order.order_no, "logiCoprId": carrier, "logiNo": "SF1"}))
            ["jingdong_pop_order_shipment_responce"]["sopjosshipment_result"]
            .clone()
    };
    let unknown = ship("9999");
    assert_eq!(unknown["success"], false);
    assert_eq!(unknown["chineseErrCode"], "物流公司不存在");
    assert_eq!(ship("467")["success"], true);
    let shipped = sim.order(&order.order_no.to_string()).unwrap();
    assert_eq!(shipped.shipment, Some(("467".to_owned(), "SF1".to_owned())));
    assert!(shipped.updated_ms > order.updated_ms);
    assert_eq!(ship("467")["success"], false, "already shipped");
}

#[test]
fn marketplace_face_is_truthful() {
    let sim = sim();
    assert_eq!(Marketplace::platform(&sim), "jd");
    assert!(Marketplace::has_big_ids(&sim));
    let (from, to) = Marketplace::window(&sim);
    let expected = Marketplace::expected_orders(&sim, "s1", from, to);
    assert_eq!(expected.len(), search(&sim, from, to, 1, 10)["orderTotal"].as_u64().unwrap() as usize);
    for o in &expected {
        let goods = o["goods_total"].as_i64().unwrap();
        let shipping = o["shipping_fee"].as_i64().unwrap();
        let discount = o["discount_total"].as_i64().unwrap();
        assert_eq!(goods + shipping - discount, o["paid_total"].as_i64().unwrap(), "{o}");
        let lines = o["lines"].as_array().unwrap();
        let line_sum: i64 = lines.iter().map(|l| l["line_total"].as_i64().unwrap()).sum();
        assert_eq!(line_sum, goods - discount);
        assert_eq!(o["receiver"]["masked"], true);
        assert!(o.get("paid_at").is_some() || o["status"] == "cancelled", "{o}");
    }
    assert!(expected.iter().any(|o| o["order_id"].as_str().unwrap().parse::<u64>().unwrap() > 1 << 53));
    for status in ["paid", "shipped", "completed", "cancelled"] {
        assert!(expected.iter().any(|o| o["status"] == status), "{status}");
    }
    assert!(expected.iter().any(|o| o.get("invoice").is_some()));

    let changed = Marketplace::change_order(&sim);
    let after = Marketplace::expected_orders(&sim, "s1", from, Marketplace::window(&sim).1);
    assert!(after.iter().any(|o| o["order_id"] == changed), "the change stays visible");

    let cases = Marketplace::push_cases(&sim);
    assert_eq!(cases.iter().map(|c| c.operation.as_str()).collect::<Vec<_>>(), ["push-stock", "push-logistics"]);
    for case in &cases {
        assert!((case.check)().is_err(), "{} not done yet", case.operation);
    }
    let stock = &cases[0].input[0];
    sim.call(UPDATE_SKU_STOCK, &json!({"skuId": stock["sku_id"], "stockNum": stock["quantity"]}));
    let logistics = &cases[1].input[0];
    sim.call(ORDER_SHIPMENT, &json!({"orderId": logistics["order_id"], "logiCoprId": logistics["carrier_code"], "logiNo": logistics["tracking_no"]}));
    for case in &cases {
        (case.check)().unwrap();
    }
}

#[test]
fn raw_orders_are_listed_as_given_in_their_window_and_state_until_cleared() {
    let sim = sim();
    let cases = Marketplace::rule_cases(&sim);
    let case = cases.iter().find(|c| c.rule == "one bad record").unwrap();
    Marketplace::serve_raw(&sim, &case.raw).unwrap();
    let (from, to) = case.window;
    let listed = search(&sim, from, to, 1, 20);
    assert_eq!(listed["orderTotal"], case.raw.len(), "{listed}");
    // Newest first, each document exactly as given.
    let mut want = case.raw.clone();
    want.reverse();
    assert_eq!(listed["orderInfoList"], Value::Array(want));
    let id = case.raw[0]["orderId"].to_string();
    let got = sim.call(ORDER_GET, &json!({"order_id": id}));
    assert_eq!(got["jingdong_pop_order_get_responce"]["orderDetailInfo"]["orderInfo"], case.raw[0]);
    Marketplace::clear_raw(&sim);
    assert_eq!(search(&sim, from, to, 1, 20)["orderTotal"], 0);
}

mod after_sales {
    use super::*;
    use crate::jd::after_sale::{
        ASC_QUERY_LIST, ASC_QUERY_VIEW, REFUND_APPLY_QUERY, REFUND_APPLY_REPLY, customer_expect, refund_apply_status,
    };
    use crate::shop::{AfterSaleAction, AfterSaleKind, AfterSaleStatus, Stage};

    fn result(answer: &Value, method: &str, key: &str) -> Value {
        answer[response_key(method)][key].clone()
    }

    #[test]
    fn refund_applications_page_by_window_and_audit() {
        let sim =
            JdSim::spawn(JdConfig { orders: 120, now_ms: Some(NOW), after_sales: 40, ..JdConfig::default() }).unwrap();
        let truth = sim.after_sales();
        let applies: Vec<_> = truth.iter().filter(|a| a.kind == AfterSaleKind::RefundBeforeShipping).collect();
        assert!(!applies.is_empty() && applies.len() < truth.len());
        let query = |params: Value| result(&sim.call(REFUND_APPLY_QUERY, &params), REFUND_APPLY_QUERY, "queryResult");
        let window = json!({"applyTimeStart": gmt8(NOW - 6 * 86_400_000), "applyTimeEnd": gmt8(NOW), "pageIndex": 1, "pageSize": 50});
        let all = query(window.clone());
        assert_eq!(all["success"], true, "{all}");
        let in_window = applies.iter().filter(|a| a.created_ms >= NOW - 6 * 86_400_000).count();
        assert_eq!(all["totalCount"], in_window);
        let row = &all["result"][0];
        let a = applies.iter().find(|a| row["id"] == a.id).unwrap();
        assert_eq!(row["applyRefundSum"], a.refund_amount + a.shipping_refund, "fen");
        assert_eq!(row["orderId"], a.order_no.to_string());
        // Windows of more than 7 days, pages of more than 50, and no window at all: refused.
        let eight_days = json!({"applyTimeStart": gmt8(NOW - 8 * 86_400_000), "applyTimeEnd": gmt8(NOW)});
        assert_eq!(query(eight_days)["success"], false);
        let mut big = window.clone();
        big["pageSize"] = json!(51);
        assert_eq!(query(big)["success"], false);
        assert_eq!(query(json!({"pageIndex": 1}))["success"], false);

        // Audit: a new application on a paid order, approved, then refused again as stale.
        let paid = sim
            .shop()
            .orders
            .into_iter()
            .find(|o| o.stage == Stage::Paid && o.refund() == crate::shop::Refund::None)
            .unwrap();
        let id = sim.add_after_sale(&paid.order_no.to_string(), AfterSaleKind::Exchange).unwrap();
        assert_eq!(render::order_state(&sim.order(&paid.order_no.to_string()).unwrap()), Some("LOCKED"), "intercepted");
        let reply = |params: Value| result(&sim.call(REFUND_APPLY_REPLY, &params), REFUND_APPLY_REPLY, "replyResult");
        assert_eq!(reply(json!({"id": id, "status": "2"}))["success"], false, "a rejection needs a remark");
        assert_eq!(reply(json!({"id": id, "status": "1"}))["success"], false, "an approval too");
        let reject_type_on_approval = json!({"id": id, "status": "1", "remark": "同意", "rejectType": 5});
        assert_eq!(reply(reject_type_on_approval)["success"], false);
        assert_eq!(reply(json!({"id": id, "status": "2", "remark": "x", "rejectType": 7}))["success"], false);
        assert_eq!(reply(json!({"id": id, "status": "9", "remark": "x"}))["success"], false, "not served");
        assert!(sim.seller_actions().is_empty(), "nothing refused was recorded");
        assert_eq!(reply(json!({"id": id, "status": "1", "checkUserName": "sim", "remark": "同意"}))["success"], true);
        assert_eq!(sim.seller_actions()[0].reason.as_deref(), Some("同意"));
        assert_eq!(sim.after_sale(id).unwrap().status, AfterSaleStatus::Agreed);
        assert_eq!(reply(json!({"id": id, "status": "1", "remark": "同意"}))["success"], false, "already reviewed");
        sim.act_on_after_sale(id, &AfterSaleAction::RefundPaid).unwrap();
        let one = query(json!({"id": id}));
        assert_eq!(one["result"][0]["status"], 9, "closed and refunded: {one}");
        assert_eq!(refund_apply_status(&sim.after_sale(id).unwrap(), Some(Stage::Shipped)), 6);
        // By check time: found once someone acted on it.
        let checked =
            query(json!({"checkTimeStart": gmt8(sim.now_ms() - 60_000), "checkTimeEnd": gmt8(sim.now_ms() + 60_000)}));
        assert!(checked["result"].as_array().unwrap().iter().any(|r| r["id"] == id), "{checked}");
        assert_eq!(sim.seller_actions().len(), 1);
    }

    #[test]
    fn service_orders_list_and_view() {
        let sim = JdSim::spawn(JdConfig { orders: 120, now_ms: Some(NOW), ..JdConfig::default() }).unwrap();
        assert!(sim.after_sales().is_empty(), "none unless asked for");
        let shipped = sim.shop().orders.into_iter().find(|o| o.stage == Stage::Shipped).unwrap();
        let id = sim.add_after_sale(&shipped.order_no.to_string(), AfterSaleKind::ReturnAndRefund).unwrap();
        assert_eq!(crate::jd::after_sale::canonical_id(&sim.after_sale(id).unwrap()), format!("asc-{id}"));
        let list = |params: Value| result(&sim.call(ASC_QUERY_LIST, &params), ASC_QUERY_LIST, "pageResult");
        let now = sim.now_ms();
        let page = list(
            json!({"updateTimeBegin": gmt8(now - 3_600_000), "updateTimeEnd": gmt8(now + 60_000), "pageNumber": 1, "pageSize": 50}),
        );
        assert_eq!(page["totalCount"], 1, "{page}");
        assert_eq!(page["data"][0]["serviceId"], id);
        assert_eq!(page["data"][0]["customerExpect"], customer_expect(AfterSaleKind::ReturnAndRefund));
        assert_eq!(
            list(json!({"updateTimeBegin": gmt8(now - 8 * 86_400_000), "updateTimeEnd": gmt8(now)}))["success"],
            false
        );
        sim.act_on_after_sale(id, &AfterSaleAction::Agree).unwrap();
        let ship = AfterSaleAction::BuyerReturns { carrier: "顺丰速运".into(), tracking_no: "SF0001".into() };
        sim.act_on_after_sale(id, &ship).unwrap();
        let view = result(&sim.call(ASC_QUERY_VIEW, &json!({"serviceId": id})), ASC_QUERY_VIEW, "result");
        assert_eq!(
            (view["data"]["serviceStatus"].as_u64(), view["data"]["expressCode"].as_str()),
            (Some(10003), Some("SF0001"))
        );
        assert_eq!(
            result(&sim.call(ASC_QUERY_VIEW, &json!({"serviceId": 1})), ASC_QUERY_VIEW, "result")["success"],
            false
        );
    }
}

mod oaid_decrypt {
    use super::*;
    use crate::jd::decrypt::{LOG_UPLOAD, OAID_DECRYPT};

    #[test]
    fn decrypts_are_answered_and_each_must_be_logged_back() {
        let sim = sim();
        let shop = sim.shop();
        let orders: Vec<&Order> = shop.orders.iter().filter(|o| order_state(o).is_some()).take(20).collect();
        let infos: Vec<Value> =
            orders.iter().map(|o| json!({"orderId": o.order_no.to_string(), "oaid": render::oaid(o)})).collect();
        let decrypt = |scene: &str, infos: &[Value]| {
            let v = sim
                .call(OAID_DECRYPT, &json!({"getReceiverInfoListReqVO": {"scenesType": scene, "orderInfos": infos}}));
            v["jingdong_jos_order_oaid_decrypt_responce"]["returnType"].clone()
        };
        let r = decrypt("1001", &infos);
        assert_eq!(r["success"], true, "{r}");
        for (got, o) in r["data"].as_array().unwrap().iter().zip(&orders) {
            let plain = sim.plaintext_receiver(&o.order_no.to_string()).unwrap();
            assert_eq!(
                (got["customerName"].as_str(), got["consMobilePhone"].as_str()),
                (Some(o.receiver.name.as_str()), Some(plain.phone.as_str()))
            );
            assert_eq!(got["isVirtualNumber"], plain.virtual_phone);
        }
        assert_eq!(decrypt("9999", &infos[..1])["success"], false, "a scene code is required");
        let mut wrong = infos[0].clone();
        wrong["oaid"] = json!("NOPE");
        assert_eq!(decrypt("1001", &[wrong])["success"], false);
        let mut too_many = infos.clone();
        too_many.push(infos[0].clone());
        assert_eq!(decrypt("1001", &too_many)["success"], false);

        assert_eq!(sim.decrypts_not_logged().len(), 20, "nothing logged yet");
        let upload = |ids: Vec<String>| {
            let v = sim.call(
                LOG_UPLOAD,
                &json!({"orderIds": ids, "operation": "decrypt", "userAccount": "wharf", "userIp": "127.0.0.1"}),
            );
            v["jingdong_security_orderinfo_log_upload_responce"]["uploadResult"]["success"].clone()
        };
        let ids: Vec<String> = orders.iter().map(|o| o.order_no.to_string()).collect();
        assert_eq!(upload(ids[..19].to_vec()), true);
        assert_eq!(sim.decrypts_not_logged(), vec![ids[19].clone()]);
        assert_eq!(upload(vec![ids[19].clone()]), true);
        assert!(sim.decrypts_not_logged().is_empty());
        assert_eq!(upload(vec![]), false);
        let calls = sim.decrypt_calls();
        assert_eq!(calls.iter().map(|c| c.decrypted()).collect::<Vec<_>>(), [20, 0, 0, 0]);
        assert_eq!(calls[0].scene.as_deref(), Some("1001"));
        assert_eq!(sim.log_uploads().len(), 2);
    }
}

/// `orderInfo` of order `order_no` rendered afresh from the shop as it is now, with only
/// `orderId` and `fields` when given: what the cached texts must equal.
fn rendered_now(sim: &JdSim, order_no: u64, fields: Option<&[&str]>) -> Value {
    let shop = sim.shop();
    let o = shop.orders.iter().find(|o| o.order_no == order_no).unwrap();
    let mut info = render::order_info(&shop, o, sim.config().order_ids);
    if let (Some(fields), Value::Object(map)) = (fields, &mut info) {
        map.retain(|k, _| k == "orderId" || fields.contains(&k.as_str()));
    }
    info
}

/// The `orderInfo` a search over the whole window lists for `order_no`, with `fields`.
fn listed(sim: &JdSim, order_no: u64, fields: Option<&[&str]>) -> Value {
    let (from, to) = Marketplace::window(sim);
    let mut params = json!({
        "start_date": gmt8(from), "end_date": gmt8(to),
        "order_state": render::ORDER_STATES.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(","),
        "page": "1", "page_size": "100",
    });
    if let Some(fields) = fields {
        params["optional_fields"] = json!(fields.join(","));
    }
    for page in 1.. {
        params["page"] = json!(page.to_string());
        let answer = sim.call(ORDER_SEARCH, &params);
        let list = answer["jingdong_pop_order_search_responce"]["searchorderinfo_result"]["orderInfoList"]
            .as_array()
            .unwrap()
            .clone();
        assert!(!list.is_empty(), "order {order_no} is not listed");
        if let Some(info) = list.into_iter().find(|i| i["orderId"] == json!(order_no)) {
            return info;
        }
    }
    unreachable!()
}

fn got(sim: &JdSim, order_no: u64, fields: Option<&[&str]>) -> Value {
    let mut params = json!({"order_id": order_no.to_string()});
    if let Some(fields) = fields {
        params["optional_fields"] = json!(fields.join(","));
    }
    sim.call(ORDER_GET, &params)["jingdong_pop_order_get_responce"]["orderDetailInfo"]["orderInfo"].clone()
}

#[test]
fn an_order_changed_after_its_text_was_cached_is_answered_with_its_new_values() {
    let sim = sim();
    let plugin: &[&str] = &["orderState", "modified", "venderRemark", "itemInfoList", "logisticsId", "waybill"];
    let shop = sim.shop();
    let paid = shop.orders.iter().find(|o| order_state(o) == Some(render::WAIT_SELLER_STOCK_OUT)).unwrap().order_no;
    let to_refund = shop.orders.iter().filter(|o| o.stage == Stage::Paid).map(|o| o.order_no).find(|&no| no != paid);
    let to_refund = to_refund.unwrap();
    // Texts for every field (rendered at start) and for a selection (cut on first use).
    for fields in [None, Some(plugin)] {
        assert_eq!(listed(&sim, paid, fields), rendered_now(&sim, paid, fields));
        assert_eq!(got(&sim, to_refund, fields), rendered_now(&sim, to_refund, fields));
    }
    let before = listed(&sim, paid, Some(plugin));

    // Shipped through the gateway: a new state, modified time and waybill.
    let ship = json!({"orderId": paid, "logiCoprId": "467", "logiNo": "SF9"});
    assert_eq!(
        sim.call(ORDER_SHIPMENT, &ship)["jingdong_pop_order_shipment_responce"]["sopjosshipment_result"]["success"],
        true
    );
    let after = listed(&sim, paid, Some(plugin));
    assert_eq!(after["orderState"], "WAIT_GOODS_RECEIVE_CONFIRM");
    assert_eq!(after["waybill"], "SF9");
    assert_ne!(after["modified"], before["modified"]);
    assert_eq!(after, rendered_now(&sim, paid, Some(plugin)));
    assert_eq!(got(&sim, paid, None), rendered_now(&sim, paid, None));

    // A refund requested (an after-sale): the order is locked.
    sim.add_after_sale(&to_refund.to_string(), AfterSaleKind::RefundBeforeShipping).unwrap();
    assert_eq!(got(&sim, to_refund, Some(plugin))["orderState"], "LOCKED");
    assert_eq!(listed(&sim, to_refund, None), rendered_now(&sim, to_refund, None));

    // Changed in place, the modified time untouched, and a SKU's product renamed.
    {
        let mut shop = lock(&sim.shared.shop);
        shop.order_mut(paid).unwrap().seller_memo = Some("改地址".to_owned());
        let product = shop.skus[shop.orders.iter().find(|o| o.order_no == paid).unwrap().lines[0].sku].product;
        shop.products[product].title = "改名的商品".to_owned();
    }
    let changed = listed(&sim, paid, Some(plugin));
    assert_eq!(changed["venderRemark"], "改地址");
    assert!(changed["itemInfoList"][0]["skuName"].as_str().unwrap().starts_with("改名的商品"), "{changed}");
    assert_eq!(changed, rendered_now(&sim, paid, Some(plugin)));

    // Moved on by the knob: the oldest order, now listed first when sorted oldest last.
    let moved: u64 = sim.change_one().unwrap().parse().unwrap();
    assert_eq!(listed(&sim, moved, None), rendered_now(&sim, moved, None));
    let (from, to) = Marketplace::window(&sim);
    assert_eq!(search(&sim, from, to, 1, 1)["orderInfoList"][0], rendered_now(&sim, moved, None));
}

#[test]
fn a_fields_selection_answers_only_those_fields_from_texts_rendered_for_every_field() {
    let sim = sim();
    let (from, to) = Marketplace::window(&sim);
    let full = search(&sim, from, to, 1, 20);
    let first = full["orderInfoList"][0]["orderId"].as_u64().unwrap();
    assert!(full["orderInfoList"][0].as_object().unwrap().len() > 20, "every field: {full}");

    let asked: &[&str] = &["orderState", "consigneeInfo", "nonsense"];
    let some = listed(&sim, first, Some(asked));
    let keys: Vec<&String> = some.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["consigneeInfo", "orderId", "orderState"]);
    assert_eq!(some, rendered_now(&sim, first, Some(asked)));
    assert_eq!(got(&sim, first, Some(asked)), some);
    // Every field again, after the selection.
    assert_eq!(listed(&sim, first, None), full["orderInfoList"][0]);

    // More selections than are kept at once: each still answers its own fields.
    for n in 0..cache::MAX_SELECTIONS * 2 {
        let fields = ["orderState", "modified", "pin", "freightPrice", "orderRemark", "waybill", "balanceUsed"];
        let fields = &fields[..n % fields.len() + 1];
        let stamp = format!("x{n}");
        let mut asked: Vec<&str> = fields.to_vec();
        asked.push(&stamp);
        assert_eq!(got(&sim, first, Some(&asked)), rendered_now(&sim, first, Some(&asked)), "{asked:?}");
    }
}
