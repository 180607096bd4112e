//! The simulator over real HTTP, with a minimal HTTP/1.1 client (no client library needed).

use std::collections::HashSet;
use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

/// 2023-11-14 22:13:20 UTC; a fixed "now" keeps generated data identical across runs.
const NOW: i64 = 1_700_000_000_000;
const DAY_MS: i64 = 86_400_000;

fn config(orders: usize) -> SimConfig {
    SimConfig { orders, seed: 11, now_ms: Some(NOW), ..SimConfig::default() }
}

/// POSTs `body` to the gateway; returns (status, body).
async fn post(addr: SocketAddr, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /router/rest HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded;charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
}

async fn call(sim: &TaobaoSim, method: &str, params: &[(&str, &str)]) -> Value {
    let (status, body) = post(sim.addr(), &sim.signed_body(method, params, SignMethod::Md5)).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn error_code(v: &Value) -> Option<(i64, String)> {
    let e = v.get("error_response")?;
    Some((e["code"].as_i64().unwrap(), e["sub_code"].as_str().unwrap_or_default().to_string()))
}

/// The params of a hand-built request, to tamper with before signing.
fn system_params(sim: &TaobaoSim, method: &str, timestamp: &str) -> Vec<(String, String)> {
    let c = sim.config();
    [
        ("method", method),
        ("app_key", &c.app_key),
        ("session", &c.session),
        ("timestamp", timestamp),
        ("v", "2.0"),
        ("format", "json"),
        ("sign_method", "md5"),
        ("fields", "num_iid,num"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn signed(params: &[(String, String)], secret: &str) -> String {
    let view: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = sign(view.iter().copied(), secret, SignMethod::Md5);
    let mut all = view.clone();
    all.push(("sign", &s));
    encode_pairs(all)
}

#[tokio::test]
async fn all_sign_methods_are_accepted() {
    let sim = TaobaoSim::start(config(20)).await.unwrap();
    let num_iid = sim.items()[0].num_iid.to_string();
    for m in [SignMethod::Md5, SignMethod::Hmac, SignMethod::HmacSha256] {
        let body = sim.signed_body(ITEM_SELLER_GET, &[("fields", "num_iid,num"), ("num_iid", &num_iid)], m);
        let (status, text) = post(sim.addr(), &body).await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["item_seller_get_response"]["item"]["num_iid"].to_string(), num_iid, "{m:?}: {text}");
    }
}

#[tokio::test]
async fn system_parameter_errors() {
    let sim = TaobaoSim::start(config(5)).await.unwrap();
    let secret = sim.config().app_secret.clone();
    let now = gmt8(wall_ms());
    let base = system_params(&sim, ITEM_SELLER_GET, &now);
    let send = |params: Vec<(String, String)>, secret: String| {
        let addr = sim.addr();
        async move {
            let (_, body) = post(addr, &signed(&params, &secret)).await;
            error_code(&serde_json::from_str(&body).unwrap())
        }
    };
    let with = |k: &str, v: &str| {
        let mut p = base.clone();
        p.retain(|(name, _)| name != k);
        if !v.is_empty() {
            p.push((k.to_string(), v.to_string()));
        }
        p
    };
    assert_eq!(send(base.clone(), "wrong".into()).await.map(|e| e.0), Some(25));
    assert_eq!(send(with("timestamp", "2016-01-01 12:00:00"), secret.clone()).await.map(|e| e.0), Some(31));
    assert_eq!(send(with("timestamp", "2016/01/01"), secret.clone()).await.map(|e| e.0), Some(31));
    assert_eq!(send(with("timestamp", ""), secret.clone()).await.map(|e| e.0), Some(30));
    assert_eq!(send(with("session", "other"), secret.clone()).await, Some((27, "invalid-sessionkey".into())));
    assert_eq!(send(with("session", ""), secret.clone()).await.map(|e| e.0), Some(26));
    assert_eq!(send(with("app_key", "999"), secret.clone()).await.map(|e| e.0), Some(29));
    assert_eq!(send(with("method", "taobao.nope"), secret.clone()).await.map(|e| e.0), Some(22));
    assert_eq!(send(with("v", "1.0"), secret.clone()).await.map(|e| e.0), Some(34));
    assert_eq!(send(with("format", "xml"), secret.clone()).await.map(|e| e.0), Some(23));
    assert_eq!(send(with("sign_method", "sha1"), secret.clone()).await.map(|e| e.0), Some(25));
    // Business parameter missing after a valid signature.
    assert_eq!(send(base.clone(), secret.clone()).await, Some((40, "isv.missing-parameter".into())));

    sim.expire_session();
    let v = call(&sim, ITEM_SELLER_GET, &[("fields", "num"), ("num_iid", "1")]).await;
    assert_eq!(error_code(&v), Some((27, "session-expired".into())));
    assert!(v["error_response"]["request_id"].is_string());
    sim.restore_session();
    let v = call(&sim, ITEM_SELLER_GET, &[("fields", "num"), ("num_iid", "1")]).await;
    assert_eq!(error_code(&v), Some((15, "isv.item-not-exist".into())));
}

#[tokio::test]
async fn query_string_params_are_accepted() {
    let sim = TaobaoSim::start(config(5)).await.unwrap();
    let num_iid = sim.items()[0].num_iid.to_string();
    let body = sim.signed_body(ITEM_SELLER_GET, &[("fields", "num"), ("num_iid", &num_iid)], SignMethod::Md5);
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    let req = format!("GET /router/rest?{body} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.contains("item_seller_get_response"), "{out}");
}

/// Pages through a window like the plugin does and checks it matches the ground truth.
#[tokio::test]
async fn increment_paging_matches_ground_truth() {
    let sim = TaobaoSim::start(config(400)).await.unwrap();
    let (from, to) = (NOW - DAY_MS, NOW);
    let expected: Vec<u64> = sim.trades_modified_in(from, to).iter().map(|t| t.tid).collect();
    assert!(expected.len() > 50, "{}", expected.len());
    let (start, end) = (gmt8(from), gmt8(to - 1000));
    let mut got = Vec::new();
    for page in 1.. {
        let page = page.to_string();
        let v = call(
            &sim,
            INCREMENT_GET,
            &[
                ("fields", "tid,modified"),
                ("start_modified", &start),
                ("end_modified", &end),
                ("page_no", &page),
                ("page_size", "17"),
                ("use_has_next", "true"),
            ],
        )
        .await;
        let r = &v["trades_sold_increment_get_response"];
        assert!(r.get("total_results").is_none());
        for t in r["trades"]["trade"].as_array().unwrap() {
            assert_eq!(t.as_object().unwrap().len(), 2, "only the requested fields: {t}");
            got.push(t["tid"].as_u64().unwrap());
        }
        if !r["has_next"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(got, expected);
    let modified: Vec<i64> = got.iter().map(|tid| sim.trade(*tid).unwrap().modified_ms).collect();
    assert!(modified.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // total_results without use_has_next.
    let v = call(&sim, INCREMENT_GET, &[("fields", "tid"), ("start_modified", &start), ("end_modified", &end)]).await;
    let r = &v["trades_sold_increment_get_response"];
    assert_eq!(r["total_results"].as_u64(), Some(expected.len() as u64));
    assert_eq!(r["trades"]["trade"].as_array().unwrap().len(), 40, "default page size");

    // An empty window has no `trades` key.
    let (s2, e2) = (gmt8(NOW + DAY_MS), gmt8(NOW + DAY_MS + 1000));
    let v = call(
        &sim,
        INCREMENT_GET,
        &[("fields", "tid"), ("start_modified", &s2), ("end_modified", &e2), ("use_has_next", "true")],
    )
    .await;
    assert_eq!(v, serde_json::json!({"trades_sold_increment_get_response": {"has_next": false}}));

    // Argument checks.
    let too_long = gmt8(to - 1000 - DAY_MS - 1000);
    let v =
        call(&sim, INCREMENT_GET, &[("fields", "tid"), ("start_modified", &too_long), ("end_modified", &end)]).await;
    assert_eq!(error_code(&v), Some((41, "isv.invalid-parameter".into())));
    let v = call(
        &sim,
        INCREMENT_GET,
        &[("fields", "tid"), ("start_modified", &start), ("end_modified", &end), ("page_size", "101")],
    )
    .await;
    assert_eq!(error_code(&v).map(|e| e.0), Some(41));
    let v = call(&sim, INCREMENT_GET, &[("fields", "tid"), ("start_modified", &start)]).await;
    assert_eq!(error_code(&v).map(|e| e.0), Some(40));
}

#[tokio::test]
async fn fullinfo_matches_ground_truth() {
    let sim = TaobaoSim::start(config(60)).await.unwrap();
    let fields = "tid,status,type,buyer_nick,buyer_open_uid,oaid,payment,post_fee,total_fee,discount_fee,adjust_fee,\
        receiver_name,receiver_mobile,receiver_phone,receiver_state,receiver_city,receiver_district,receiver_town,\
        receiver_address,receiver_zip,created,modified,pay_time,seller_memo,buyer_message,invoice_kind,invoice_name,orders";
    for t in sim.trades() {
        let tid = t.tid.to_string();
        let v = call(&sim, FULLINFO_GET, &[("tid", &tid), ("fields", fields)]).await;
        let w = &v["trade_fullinfo_get_response"]["trade"];
        assert_eq!(w["tid"].as_u64(), Some(t.tid));
        assert_eq!(w["status"], t.status.as_str());
        assert_eq!(parse_yuan(w["payment"].as_str().unwrap()), Some(t.payment));
        assert_eq!(w["adjust_fee"], yuan(t.adjust_fee));
        assert_eq!(parse_gmt8(w["modified"].as_str().unwrap()), Some(t.modified_ms));
        assert_eq!(w["pay_time"].as_str().and_then(parse_gmt8), t.pay_time_ms);
        assert_eq!(w["invoice_kind"].as_str(), t.invoice.as_ref().map(|i| i.kind));
        assert_eq!(w["buyer_message"].as_str(), t.buyer_message.as_deref());
        let lines = w["orders"]["order"].as_array().unwrap();
        assert_eq!(lines.len(), t.orders.len());
        for (l, o) in lines.iter().zip(&t.orders) {
            assert_eq!(l["oid"].as_u64(), Some(o.oid));
            assert_eq!(l["sku_id"].as_u64(), o.sku_id);
            assert_eq!(l["refund_status"].as_str(), o.refund_status.map(RefundStatus::as_str));
            assert_eq!(l["divide_order_fee"].as_str().map(|s| parse_yuan(s).unwrap()), o.divide_order_fee);
        }
    }
    let v = call(&sim, FULLINFO_GET, &[("tid", "1234567890123456789"), ("fields", "tid")]).await;
    assert_eq!(error_code(&v), Some((15, "isv.trade-not-exist".into())));
}

#[tokio::test]
async fn ids_can_be_strings() {
    let sim = TaobaoSim::start(SimConfig { ids_as_strings: true, ..config(3) }).await.unwrap();
    let t = &sim.trades()[0];
    let tid = t.tid.to_string();
    let v = call(&sim, FULLINFO_GET, &[("tid", &tid), ("fields", "tid,orders")]).await;
    assert_eq!(v["trade_fullinfo_get_response"]["trade"]["tid"], tid);
    assert_eq!(v["trade_fullinfo_get_response"]["trade"]["orders"]["order"][0]["oid"], t.orders[0].oid.to_string());
}

#[tokio::test]
async fn throttle_fail_and_injected_errors() {
    let sim = TaobaoSim::start(config(5)).await.unwrap();
    let num_iid = sim.items()[0].num_iid.to_string();
    let params = [("fields", "num"), ("num_iid", num_iid.as_str())];
    sim.set_throttle(3, 12);
    for _ in 0..3 {
        assert!(error_code(&call(&sim, ITEM_SELLER_GET, &params).await).is_none());
    }
    let v = call(&sim, ITEM_SELLER_GET, &params).await;
    let e = &v["error_response"];
    assert_eq!(e["code"], 7);
    assert_eq!(e["msg"], "App Call Limited");
    assert_eq!(e["sub_code"], "accesscontrol.limited-by-app-access-count");
    assert_eq!(e["sub_msg"], "This ban will last for 12 more seconds");
    sim.clear_throttle();
    assert!(error_code(&call(&sim, ITEM_SELLER_GET, &params).await).is_none());

    sim.fail_next(2, 503);
    let body = sim.signed_body(ITEM_SELLER_GET, &params, SignMethod::Md5);
    assert_eq!(post(sim.addr(), &body).await.0, 503);
    assert_eq!(post(sim.addr(), &body).await.0, 503);
    assert_eq!(post(sim.addr(), &body).await.0, 200);

    sim.error_next(1, TopError::unavailable());
    assert_eq!(error_code(&call(&sim, ITEM_SELLER_GET, &params).await), Some((10, "isp.unknown-error".into())));
    assert!(error_code(&call(&sim, ITEM_SELLER_GET, &params).await).is_none());

    assert_eq!(sim.call_count(ITEM_SELLER_GET), 10);
    assert_eq!(sim.total_calls(), 10);
    sim.reset_calls();
    assert!(sim.calls().is_empty());
}

#[tokio::test]
async fn malformed_bodies() {
    let sim = TaobaoSim::start(config(10)).await.unwrap();
    let t = &sim.trades()[0];
    let tid = t.tid.to_string();
    let day = (gmt8(NOW - DAY_MS + 1000), gmt8(NOW));
    sim.malform_next(1, Malform::bad_payment());
    // The increment call asks only for tid,modified: the payment knob waits for fullinfo.
    let v =
        call(&sim, INCREMENT_GET, &[("fields", "tid,modified"), ("start_modified", &day.0), ("end_modified", &day.1)])
            .await;
    assert!(v["trades_sold_increment_get_response"]["trades"].is_object());
    let v = call(&sim, FULLINFO_GET, &[("tid", &tid), ("fields", "tid,payment")]).await;
    assert_eq!(v["trade_fullinfo_get_response"]["trade"]["payment"], "abc");
    let v = call(&sim, FULLINFO_GET, &[("tid", &tid), ("fields", "tid,payment")]).await;
    assert_eq!(parse_yuan(v["trade_fullinfo_get_response"]["trade"]["payment"].as_str().unwrap()), Some(t.payment));

    sim.malform_next_for(FULLINFO_GET, 1, Malform::Truncated);
    let body = sim.signed_body(FULLINFO_GET, &[("tid", &tid), ("fields", "tid,payment,orders")], SignMethod::Md5);
    let (status, text) = post(sim.addr(), &body).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    assert!(text.starts_with("{\"trade_fullinfo_get_response\""));
    let (_, text) = post(sim.addr(), &body).await;
    assert!(serde_json::from_str::<Value>(&text).is_ok());
}

#[tokio::test]
async fn changed_orders_show_up_in_the_next_pull() {
    let sim = TaobaoSim::start(config(100)).await.unwrap();
    let before = sim.trades();
    let changed = sim.change_orders(5);
    assert_eq!(changed.len(), 5);
    let now = sim.now_ms();
    let (start, end) = (gmt8(now - 60_000), gmt8(now));
    let v = call(
        &sim,
        INCREMENT_GET,
        &[("fields", "tid,status"), ("start_modified", &start), ("end_modified", &end), ("page_size", "100")],
    )
    .await;
    let got: HashSet<u64> = v["trades_sold_increment_get_response"]["trades"]["trade"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tid"].as_u64().unwrap())
        .collect();
    for tid in &changed {
        assert!(got.contains(tid));
        let old = before.iter().find(|t| t.tid == *tid).unwrap();
        assert_ne!(sim.trade(*tid).unwrap().status, old.status);
    }
}

#[tokio::test]
async fn pushes_mutate_the_catalog_and_trades() {
    let sim = TaobaoSim::start(config(60)).await.unwrap();
    let item = sim.items().into_iter().find(|i| i.skus.len() > 1 && i.outer_id.is_some()).unwrap();
    let num_iid = item.num_iid.to_string();
    let sku = &item.skus[1];
    let outer = sku.outer_id.clone().unwrap();

    // Stock by outer_id, full.
    let v =
        call(&sim, QUANTITY_UPDATE, &[("num_iid", &num_iid), ("outer_id", &outer), ("quantity", "77"), ("type", "1")])
            .await;
    let r = &v["item_quantity_update_response"]["item"];
    assert_eq!(r["num_iid"].as_u64(), Some(item.num_iid));
    assert_eq!(sim.sku_stock(item.num_iid, sku.sku_id), Some(77));
    assert_eq!(r["num"].as_i64(), Some(sim.item(item.num_iid).unwrap().num));
    // By sku_id, delta.
    let sku_id = sku.sku_id.to_string();
    call(&sim, QUANTITY_UPDATE, &[("num_iid", &num_iid), ("sku_id", &sku_id), ("quantity", "-7"), ("type", "2")]).await;
    assert_eq!(sim.sku_stock(item.num_iid, sku.sku_id), Some(70));
    let v = call(&sim, QUANTITY_UPDATE, &[("num_iid", &num_iid), ("outer_id", "NOPE"), ("quantity", "1")]).await;
    assert_eq!(error_code(&v), Some((15, "isv.sku-not-exist".into())));

    // Price.
    let v = call(&sim, SKU_PRICE_UPDATE, &[("num_iid", &num_iid), ("outer_id", &outer), ("price", "12.30")]).await;
    assert_eq!(v["item_sku_price_update_response"]["sku"]["price"], "12.30");
    assert_eq!(sim.sku_by_outer_id(&outer).unwrap().1.price, 1230);
    let v = call(&sim, SKU_PRICE_UPDATE, &[("num_iid", &num_iid), ("outer_id", &outer), ("price", "12.345")]).await;
    assert_eq!(error_code(&v).map(|e| e.0), Some(41));

    // Listing.
    call(&sim, UPDATE_DELISTING, &[("num_iid", &num_iid)]).await;
    assert!(!sim.item(item.num_iid).unwrap().listed);
    let v = call(&sim, ITEM_SELLER_GET, &[("num_iid", &num_iid), ("fields", "num_iid,num,approve_status")]).await;
    assert_eq!(v["item_seller_get_response"]["item"]["approve_status"], "instock");
    let v = call(&sim, UPDATE_LISTING, &[("num_iid", &num_iid), ("num", "5")]).await;
    assert_eq!(v["item_update_listing_response"]["item"]["num_iid"].as_u64(), Some(item.num_iid));
    assert!(sim.item(item.num_iid).unwrap().listed);

    // Logistics.
    let t = sim.trades().into_iter().find(|t| t.status == TradeStatus::WaitSellerSendGoods).unwrap();
    let tid = t.tid.to_string();
    let v =
        call(&sim, LOGISTICS_OFFLINE_SEND, &[("tid", &tid), ("out_sid", "SF1234567890"), ("company_code", "SF")]).await;
    assert_eq!(v, serde_json::json!({"logistics_offline_send_response": {"shipping": {"is_success": true}}}));
    let after = sim.trade(t.tid).unwrap();
    assert_eq!(after.status, TradeStatus::WaitBuyerConfirmGoods);
    assert!(after.modified_ms >= t.modified_ms);
    assert_eq!(sim.shipments()[0].out_sid, "SF1234567890");
    let v = call(&sim, LOGISTICS_OFFLINE_SEND, &[("tid", &tid), ("out_sid", "SF1"), ("company_code", "SF")]).await;
    assert_eq!(error_code(&v).map(|e| e.0), Some(15));
}

/// CLI tests have no runtime of their own.
#[test]
fn runs_on_its_own_runtime_from_a_plain_thread() {
    let sim = TaobaoSim::spawn_blocking_runtime(config(10)).unwrap();
    let num_iid = sim.items()[0].num_iid.to_string();
    let body = sim.signed_body(ITEM_SELLER_GET, &[("fields", "num_iid"), ("num_iid", &num_iid)], SignMethod::Hmac);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (status, text) = rt.block_on(post(sim.addr(), &body));
    assert_eq!(status, 200, "{text}");
    let addr = sim.addr();
    drop(sim);
    assert!(std::net::TcpStream::connect(addr).is_err(), "the port is closed after drop");
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let sim = TaobaoSim::start(config(1)).await.unwrap();
    let addr = sim.addr();
    assert!(sim.endpoint().ends_with("/router/rest"));
    sim.shutdown().await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[test]
fn config_is_validated() {
    let err = build_shared(SimConfig { items: Some(0), ..SimConfig::default() }).err().unwrap();
    assert!(err.to_string().contains("SimConfig.items"), "{err}");
    let err = build_shared(SimConfig { app_secret: String::new(), ..SimConfig::default() }).err().unwrap();
    assert!(err.to_string().contains("app_secret"), "{err}");
}

/// Serving speed without HTTP: the benchmark needs thousands of orders a second.
#[test]
fn serves_thousands_of_fullinfo_calls_per_second() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sim = rt.block_on(TaobaoSim::start(config(2000))).unwrap();
    let bodies: Vec<String> = sim
        .trades()
        .iter()
        .map(|t| {
            sim.signed_body(
                FULLINFO_GET,
                &[("tid", &t.tid.to_string()), ("fields", "tid,status,payment,orders,receiver_name,modified")],
                SignMethod::Md5,
            )
        })
        .collect();
    let started = std::time::Instant::now();
    for b in &bodies {
        let (status, body) = sim.handle_raw(b);
        assert_eq!(status, 200);
        assert!(body.starts_with("{\"trade_fullinfo_get_response\""), "{body}");
    }
    let per_sec = bodies.len() as f64 / started.elapsed().as_secs_f64();
    eprintln!("taobao sim: {per_sec:.0} fullinfo calls/s without HTTP");
    // Generous: debug builds on a shared 2-core machine still do tens of thousands.
    assert!(per_sec > 2000.0, "{per_sec}");
}

/// Raw trades (the conformance rule cases) are listed by their `modified`, newest first, with
/// only the fields asked for, and `fullinfo` answers them as given, until cleared.
#[tokio::test]
async fn raw_trades_are_listed_and_answered_as_given_until_cleared() {
    use crate::harness::Marketplace;
    let sim = TaobaoSim::start(config(40)).await.unwrap();
    let cases = Marketplace::rule_cases(&sim);
    let case = cases.iter().find(|c| c.rule == "one bad record").unwrap();
    Marketplace::serve_raw(&sim, &case.raw).unwrap();
    let (start, end) = (gmt8(case.window.0), gmt8(case.window.1));
    let list = |page: &'static str| {
        let (sim, start, end) = (&sim, start.clone(), end.clone());
        async move {
            let v = call(
                sim,
                INCREMENT_GET,
                &[
                    ("fields", "tid,modified"),
                    ("start_modified", &start),
                    ("end_modified", &end),
                    ("page_no", page),
                    ("page_size", "2"),
                    ("use_has_next", "true"),
                ],
            )
            .await;
            v["trades_sold_increment_get_response"].clone()
        }
    };
    let first = list("1").await;
    assert_eq!(first["has_next"], true, "{first}");
    let tids: Vec<Value> = first["trades"]["trade"].as_array().unwrap().iter().map(|t| t["tid"].clone()).collect();
    assert_eq!(tids, [case.raw[2]["tid"].clone(), case.raw[1]["tid"].clone()], "newest first");
    assert_eq!(first["trades"]["trade"][0], json!({"tid": case.raw[2]["tid"], "modified": case.raw[2]["modified"]}));
    let second = list("2").await;
    assert_eq!(
        (second["has_next"].clone(), second["trades"]["trade"][0]["tid"].clone()),
        (json!(false), case.raw[0]["tid"].clone())
    );

    let tid = case.raw[1]["tid"].to_string();
    let full = call(&sim, FULLINFO_GET, &[("fields", "tid,status,orders"), ("tid", &tid)]).await;
    let want = json!({"tid": case.raw[1]["tid"], "status": case.raw[1]["status"], "orders": case.raw[1]["orders"]});
    assert_eq!(full["trade_fullinfo_get_response"]["trade"], want);

    Marketplace::clear_raw(&sim);
    assert!(list("1").await.get("trades").is_none());
}

mod refunds {
    use super::*;
    use crate::shop::{AfterSaleAction, AfterSaleKind, AfterSaleStatus};
    use crate::taobao::refunds::{
        REFUND_GET, REFUND_REVIEW, REFUNDS_RECEIVE_GET, RETURNGOODS_AGREE, RETURNGOODS_REFUSE, SUB_CODE_STALE_VERSION,
        SUB_CODE_STATUS_NOT_ALLOWED,
    };

    const FIELDS: &str = "refund_id,tid,oid,total_fee,refund_fee,status,good_status,has_good_return,company_name,sid,reason,desc,created,modified";

    #[tokio::test]
    async fn none_unless_asked_for_and_the_trades_are_the_same() {
        let plain = TaobaoSim::start(config(80)).await.unwrap();
        let with = TaobaoSim::start(SimConfig { after_sales: 30, ..config(80) }).await.unwrap();
        assert!(plain.refunds().is_empty());
        assert!(with.refunds().len() >= 20, "{}", with.refunds().len());
        let tids = |s: &TaobaoSim| s.trades().iter().map(|t| t.tid).collect::<HashSet<_>>();
        assert_eq!(tids(&plain), tids(&with));
        for r in with.refunds() {
            let t = with.trade(r.order_no).unwrap();
            let line = t.orders.iter().find(|o| o.oid == r.lines[0].line_no).unwrap();
            assert!(r.refund_amount <= line.line_total(), "{r:?}");
            assert_eq!(line.refund_status, Some(crate::taobao::refunds::top_status(&r)));
            assert!(t.modified_ms >= r.updated_ms && r.updated_ms <= NOW);
        }
    }

    #[tokio::test]
    async fn receive_get_pages_by_modified_with_tops_limits() {
        let sim = TaobaoSim::start(SimConfig { after_sales: 30, ..config(80) }).await.unwrap();
        let truth = sim.refunds();
        let (from, to) = (gmt8(NOW - 30 * DAY_MS), gmt8(NOW));
        let page = |no: &'static str, size: &'static str| {
            vec![
                ("fields", FIELDS),
                ("start_modified", from.as_str()),
                ("end_modified", to.as_str()),
                ("page_no", no),
                ("page_size", size),
            ]
        };
        let v = call(&sim, REFUNDS_RECEIVE_GET, &page("1", "100")).await;
        let inner = &v["refunds_receive_get_response"];
        assert_eq!(inner["total_results"], truth.len(), "{v}");
        let list = inner["refunds"]["refund"].as_array().unwrap();
        let newest = truth.iter().max_by_key(|a| (a.updated_ms, a.id)).unwrap();
        assert_eq!(list[0]["refund_id"].as_u64(), Some(newest.id));
        assert_eq!(list[0]["refund_fee"], yuan(newest.refund_amount + newest.shipping_refund), "yuan strings");
        assert_eq!(list[0]["modified"], gmt8(newest.updated_ms));
        assert!(list[0].get("refund_version").is_none(), "refund.get adds it");
        assert_eq!(
            error_code(&call(&sim, REFUNDS_RECEIVE_GET, &page("1", "101")).await),
            Some((41, "isv.invalid-parameter".into()))
        );
        let mut with_next = page("2", "10");
        with_next.push(("use_has_next", "true"));
        let v = call(&sim, REFUNDS_RECEIVE_GET, &with_next).await;
        assert_eq!(v["refunds_receive_get_response"]["has_next"], truth.len() > 20, "{v}");
        assert!(v["refunds_receive_get_response"].get("total_results").is_none());
        // A window over modified time: only what changed in it.
        let t = gmt8(newest.updated_ms);
        let v =
            call(&sim, REFUNDS_RECEIVE_GET, &[("fields", FIELDS), ("start_modified", &t), ("end_modified", &t)]).await;
        let ids: Vec<u64> = v["refunds_receive_get_response"]["refunds"]["refund"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["refund_id"].as_u64().unwrap())
            .collect();
        let expected: Vec<u64> =
            truth.iter().filter(|a| a.updated_ms / 1000 == newest.updated_ms / 1000).map(|a| a.id).collect();
        assert_eq!(ids.len(), expected.len());
    }

    async fn get(sim: &TaobaoSim, id: u64) -> Value {
        let fields = format!("{FIELDS},refund_version,refund_phase,dispute_type");
        call(sim, REFUND_GET, &[("refund_id", &id.to_string()), ("fields", &fields)]).await["refund_get_response"]["refund"]
            .clone()
    }

    #[tokio::test]
    async fn actions_need_the_current_version_and_a_status_that_allows_them() {
        let sim = TaobaoSim::start(config(80)).await.unwrap();
        let shipped = sim
            .trades()
            .into_iter()
            .find(|t| {
                t.status == TradeStatus::WaitBuyerConfirmGoods
                    && t.orders.iter().all(|o| o.refund_status == Some(RefundStatus::NoRefund))
            })
            .unwrap();
        let id = sim.add_after_sale(shipped.tid, AfterSaleKind::ReturnAndRefund).unwrap();
        let sid = id.to_string();
        let r = get(&sim, id).await;
        assert_eq!(
            (r["status"].as_str(), r["dispute_type"].as_str(), r["refund_version"].as_u64()),
            (Some("WAIT_SELLER_AGREE"), Some("REFUND_AND_RETURN"), Some(1)),
            "{r}"
        );
        assert_eq!((r["refund_phase"].as_str(), r["has_good_return"].as_bool()), (Some("onsale"), Some(true)));
        let review = |version: &str, result: &str| {
            let (sid, version, result) = (sid.clone(), version.to_owned(), result.to_owned());
            let sim = &sim;
            async move {
                call(
                    sim,
                    REFUND_REVIEW,
                    &[
                        ("refund_id", &sid),
                        ("operator", "sim"),
                        ("refund_phase", "onsale"),
                        ("refund_version", &version),
                        ("result", &result),
                        ("message", "no"),
                    ],
                )
                .await
            }
        };
        // A return must be agreed as a return first; the review refuses to pay it.
        assert_eq!(error_code(&review("1", "true").await), Some((15, SUB_CODE_STATUS_NOT_ALLOWED.into())));
        let agreed = call(&sim, RETURNGOODS_AGREE, &[("refund_id", &sid), ("refund_version", "1")]).await;
        assert_eq!(agreed["rp_returngoods_agree_response"]["is_success"], true, "{agreed}");
        assert_eq!(get(&sim, id).await["status"], "WAIT_BUYER_RETURN_GOODS");
        // Refusing goods not yet back: not allowed.
        assert_eq!(
            error_code(&call(&sim, RETURNGOODS_REFUSE, &[("refund_id", &sid)]).await),
            Some((15, SUB_CODE_STATUS_NOT_ALLOWED.into()))
        );
        let ship = AfterSaleAction::BuyerReturns { carrier: "圆通速递".into(), tracking_no: "YT0001".into() };
        sim.act_on_after_sale(id, &ship).unwrap();
        let r = get(&sim, id).await;
        assert_eq!(
            (r["status"].as_str(), r["sid"].as_str(), r["good_status"].as_str()),
            (Some("WAIT_SELLER_CONFIRM_GOODS"), Some("YT0001"), Some("BUYER_RETURNED_GOODS"))
        );
        // The version seen before the buyer shipped is stale now.
        assert_eq!(error_code(&review("2", "true").await), Some((15, SUB_CODE_STALE_VERSION.into())));
        let ok = review("3", "true").await;
        assert_eq!(ok["rp_refund_review_response"]["is_success"], true, "{ok}");
        let done = sim.refund(id).unwrap();
        assert_eq!((done.status, done.version), (AfterSaleStatus::Refunded, 4));
        let line = sim.trade(shipped.tid).unwrap().orders.into_iter().find(|o| o.oid == done.lines[0].line_no).unwrap();
        assert_eq!(line.refund_status, Some(RefundStatus::Success));
        assert_eq!(sim.seller_actions().len(), 2);

        // An unshipped trade gets a refund before shipping, paid on agreement.
        let waiting = sim
            .trades()
            .into_iter()
            .find(|t| {
                t.status == TradeStatus::WaitSellerSendGoods
                    && t.orders.iter().all(|o| o.refund_status == Some(RefundStatus::NoRefund))
            })
            .unwrap();
        let rid = sim.add_after_sale(waiting.tid, AfterSaleKind::Exchange).unwrap();
        assert_eq!(sim.refund(rid).unwrap().kind, AfterSaleKind::RefundBeforeShipping);
        let rid_s = rid.to_string();
        let v = call(
            &sim,
            REFUND_REVIEW,
            &[
                ("refund_id", &rid_s),
                ("operator", "sim"),
                ("refund_phase", "onsale"),
                ("refund_version", "1"),
                ("result", "true"),
            ],
        )
        .await;
        assert_eq!(v["rp_refund_review_response"]["is_success"], true, "{v}");
        assert_eq!(sim.refund(rid).unwrap().status, AfterSaleStatus::Refunded);
    }
}

mod oaid_decrypt {
    use super::*;
    use crate::taobao::decrypt::OAID_DECRYPT;

    fn query(trades: &[SimTrade], scene: &str) -> String {
        let list: Vec<Value> =
            trades.iter().map(|t| json!({"oaid": t.oaid, "tid": t.tid.to_string(), "scene": scene})).collect();
        Value::Array(list).to_string()
    }

    #[tokio::test]
    async fn at_most_twenty_with_a_scene_code_and_some_virtual_numbers() {
        let sim = TaobaoSim::start(config(120)).await.unwrap();
        let masked: Vec<SimTrade> =
            sim.trades().into_iter().filter(|t| t.oaid.is_some() && t.receiver.is_some()).collect();
        assert!(masked.len() > 40);
        let v = call(&sim, OAID_DECRYPT, &[("query_list", &query(&masked[..20], "1001"))]).await;
        let got = v["top_oaid_decrypt_response"]["receiver_list"]["receiver"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .clone();
        assert_eq!(got.len(), 20);
        for (r, t) in got.iter().zip(&masked) {
            let plain = sim.plaintext_receiver(t.tid).unwrap();
            assert_eq!(
                (r["name"].as_str(), r["mobile"].as_str()),
                (Some(plain.name.as_str()), Some(plain.phone.as_str()))
            );
            assert!(!plain.name.contains('*') && !plain.address.contains('*'), "{plain:?}");
            assert_eq!(r["address_detail"], plain.address);
        }
        let some_virtual =
            masked.iter().filter_map(|t| sim.plaintext_receiver(t.tid)).filter(|p| p.virtual_phone).count();
        assert!(some_virtual > 0);
        assert!(got.iter().any(|r| r["mobile"].as_str().unwrap().contains('-')), "a virtual number among twenty");

        assert_eq!(
            error_code(&call(&sim, OAID_DECRYPT, &[("query_list", &query(&masked[..21], "1001"))]).await).map(|e| e.0),
            Some(41)
        );
        assert_eq!(
            error_code(&call(&sim, OAID_DECRYPT, &[("query_list", &query(&masked[..1], "3001"))]).await).map(|e| e.0),
            Some(41)
        );
        let mut other = masked[0].clone();
        other.tid = masked[1].tid;
        let e = error_code(&call(&sim, OAID_DECRYPT, &[("query_list", &query(&[other], "2001"))]).await);
        assert_eq!(e, Some((15, crate::taobao::decrypt::SUB_CODE_DECRYPT_FAILED.into())));
        let log = sim.decrypt_calls();
        assert_eq!(log.len(), 4);
        assert_eq!((log[0].decrypted(), log[0].scene.as_deref()), (20, Some("1001")));
        assert!(log[1..].iter().all(|c| c.decrypted() == 0 && c.refused.is_some()));
    }
}

mod invoices {
    use super::*;

    #[tokio::test]
    async fn uploads_are_checked_and_recorded() {
        let sim = TaobaoSim::start(config(20)).await.unwrap();
        let tid = sim.trades()[0].tid.to_string();
        let paper = |no: &'static str| {
            vec![
                ("source", "upload"),
                ("platform_code", "TB"),
                ("invoice_type", "blue"),
                ("invoice_kind", "1"),
                ("business_type", "0"),
                ("payer_name", "张三"),
                ("invoice_no", no),
                ("invoice_code", "111100000001"),
                ("invoice_amount", "800.08"),
                ("invoice_date", "2024-06-01"),
            ]
        };
        let method = "alibaba.einvoice.core.inv.upload";
        let mut ok = paper("00004349");
        ok.push(("platform_tid", &tid));
        let v = call(&sim, method, &ok).await;
        assert_eq!(v["alibaba_einvoice_core_inv_upload_response"]["is_success"], true, "{v}");
        let got = sim.invoices();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].order_id.as_str(), got[0].amount_fen), (tid.as_str(), Some(80008)));
        assert_eq!(got[0].invoice_no.as_deref(), Some("00004349"));
        assert_eq!(got[0].issued_on.as_deref(), Some("2024-06-01"));

        // The same number again, an unknown trade, a bad amount, a company without tax id, an
        // electronic invoice without its file: refused, nothing recorded.
        let v = call(&sim, method, &ok).await;
        assert_eq!(error_code(&v), Some((15, "isv.invoice-duplicate".into())), "{v}");
        let mut unknown = paper("1");
        unknown.push(("platform_tid", "1"));
        assert_eq!(error_code(&call(&sim, method, &unknown).await), Some((15, "isv.trade-not-exist".into())));
        for (key, value, code) in [
            ("invoice_amount", "800.1", 41),
            ("invoice_amount", "-1.00", 41),
            ("invoice_date", "2024-06-01 10:00:00", 41),
            ("business_type", "1", 40),
            ("invoice_kind", "0", 40),
        ] {
            let mut p: Vec<(&str, &str)> = paper("2").into_iter().filter(|(k, _)| *k != key).collect();
            p.push((key, value));
            p.push(("platform_tid", &tid));
            let v = call(&sim, method, &p).await;
            assert_eq!(error_code(&v).map(|e| e.0), Some(code), "{key}={value}: {v}");
        }
        assert_eq!(sim.invoices().len(), 1);
    }
}
