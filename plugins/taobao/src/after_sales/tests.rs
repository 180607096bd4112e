use super::*;
use serde_json::json;
use wharf_sdk::api::Scripted;

const T0: i64 = 1_794_326_400_000; // 2026-11-11 00:00:00 +08:00

/// A refund as `taobao.refund.get` answers it (the listing lacks the last three).
fn refund(id: u64, status: &str, dispute_type: &str) -> Value {
    json!({
        "refund_id": id, "tid": 3_912_345_678_901_234_567_u64, "oid": 3_912_345_678_901_234_568_u64,
        "total_fee": "200.07", "refund_fee": "199.90", "status": status, "good_status": "BUYER_RECEIVED",
        "has_good_return": false, "company_name": "", "sid": "", "reason": "七天无理由", "desc": "",
        "created": "2026-11-11 00:00:00", "modified": "2026-11-11 00:00:05", "order_status": "WAIT_BUYER_CONFIRM_GOODS",
        "num": 1, "outer_id": "SKU-1",
        "refund_version": 1_731_254_400_123_u64, "refund_phase": "onsale", "dispute_type": dispute_type,
    })
}

fn listed(id: u64, status: &str) -> Value {
    let mut r = refund(id, status, "REFUND");
    let m = r.as_object_mut().unwrap();
    for k in ["refund_version", "refund_phase", "dispute_type"] {
        m.remove(k);
    }
    r
}

fn one(v: Value) -> Result<AfterSale, ConnectorError> {
    map_refund(&Node::root(&v, "refund"), "s1")
}

fn detail(v: Value) -> Result<Value, ConnectorError> {
    Ok(json!({"refund": v}))
}

#[test]
fn kinds_statuses_and_yuan_amounts() {
    for (dispute_type, kind) in [
        ("REFUND_AND_RETURN", AfterSaleKind::ReturnAndRefund),
        ("TMALL_EXCHANGE", AfterSaleKind::Exchange),
        ("TAOBAO_EXCHANGE", AfterSaleKind::Exchange),
        ("REPAIR", AfterSaleKind::Repair),
        ("RESHIPPING", AfterSaleKind::Reissue),
        ("REFUND", AfterSaleKind::RefundAfterShipping),
    ] {
        assert_eq!(one(refund(1, "WAIT_SELLER_AGREE", dispute_type)).unwrap().kind, kind, "{dispute_type}");
    }
    // A plain refund of a sub-order not shipped is before shipping; with goods returned, a return.
    let mut r = refund(1, "WAIT_SELLER_AGREE", "REFUND");
    r["order_status"] = json!("WAIT_SELLER_SEND_GOODS");
    r["good_status"] = json!("BUYER_NOT_RECEIVED");
    assert_eq!(one(r.clone()).unwrap().kind, AfterSaleKind::RefundBeforeShipping);
    r["order_status"] = json!("SELLER_CONSIGNED_PART");
    assert_eq!(one(r.clone()).unwrap().kind, AfterSaleKind::RefundBeforeShipping, "good_status decides");
    r["has_good_return"] = json!(true);
    r.as_object_mut().unwrap().remove("dispute_type");
    assert_eq!(one(r).unwrap().kind, AfterSaleKind::ReturnAndRefund);

    for (status, want) in [
        ("WAIT_SELLER_AGREE", AfterSaleStatus::Requested),
        ("WAIT_BUYER_RETURN_GOODS", AfterSaleStatus::AwaitingReturn),
        ("WAIT_SELLER_CONFIRM_GOODS", AfterSaleStatus::Returned),
        ("SELLER_REFUSE_BUYER", AfterSaleStatus::Refused),
        ("SUCCESS", AfterSaleStatus::Refunded),
        ("CLOSED", AfterSaleStatus::Closed),
    ] {
        let a = one(refund(1, status, "REFUND_AND_RETURN")).unwrap();
        assert_eq!(a.status, want, "{status}");
        assert_eq!(a.platform_status, format!("dispute_type=REFUND_AND_RETURN;status={status}"));
    }
    let a = one(refund(7, "SUCCESS", "REFUND")).unwrap();
    assert_eq!((a.refund_amount, a.shipping_refund, a.currency.as_str()), (19_990, 0, "CNY"));
    assert_eq!((a.order_id.as_str(), a.lines[0].line_id.as_str()), ("3912345678901234567", "3912345678901234568"));
    assert_eq!((a.lines[0].outer_sku_id.as_deref(), a.lines[0].quantity), (Some("SKU-1"), Some(1)));
    assert_eq!((a.refund_version, a.created_at, a.updated_at), (Some(1_731_254_400_123), T0, T0 + 5_000));
    assert_eq!(a.return_waybill, None);

    let mut r = refund(1, "WAIT_SELLER_CONFIRM_GOODS", "REFUND_AND_RETURN");
    r["sid"] = json!("SF100");
    r["company_name"] = json!("顺丰速运");
    let w = one(r).unwrap().return_waybill.unwrap();
    assert_eq!((w.carrier.as_str(), w.tracking_no.as_str()), ("顺丰速运", "SF100"));

    for (field, value, path) in [
        ("refund_fee", json!("300.00"), "refund.refund_fee"),
        ("refund_fee", json!("1.999"), "refund.refund_fee"),
        ("status", json!("NEW"), "refund.status"),
        ("dispute_type", json!("OTHER"), "refund.dispute_type"),
    ] {
        let mut r = refund(1, "WAIT_SELLER_AGREE", "REFUND");
        r[field] = value;
        assert!(matches!(one(r), Err(ConnectorError::InvalidInput(f)) if f.field == path), "{field}");
    }
}

fn page(refunds: Vec<Value>, has_next: bool) -> Result<Value, ConnectorError> {
    if refunds.is_empty() {
        return Ok(json!({"has_next": has_next}));
    }
    Ok(json!({"refunds": {"refund": refunds}, "has_next": has_next}))
}

#[test]
fn lists_with_use_has_next_reads_each_detail_and_sets_a_bad_refund_aside() {
    let mut api = Scripted::answering(vec![
        page(vec![listed(1, "WAIT_SELLER_AGREE"), listed(2, "SUCCESS"), listed(3, "WAIT_SELLER_AGREE")], false),
        detail(refund(1, "WAIT_SELLER_AGREE", "REFUND")),
        Err(ConnectorError::platform("15", "isv.refund-not-exist")),
        detail(refund(3, "WAIT_SELLER_AGREE", "REFUND")),
    ]);
    // The third detail errs as `platform`: that is about the call, so the page stops.
    let window = TimeWindow { from: T0, to: T0 + 10_000 };
    assert!(matches!(pull_after_sales(&mut api, 500, "s1", &window, None), Err(ConnectorError::Platform(_))));
    assert_eq!(api.param(0, "page_size").as_deref(), Some("100"), "capped at TOP's 100");
    assert_eq!(api.param(0, "use_has_next").as_deref(), Some("true"));
    assert_eq!(api.param(0, "start_modified").as_deref(), Some("2026-11-11 00:00:00"));
    assert_eq!(api.param(0, "end_modified").as_deref(), Some("2026-11-11 00:00:09"));
    assert_eq!(api.param(0, "page_no").as_deref(), Some("1"));

    let mut bad = listed(3, "WAIT_SELLER_AGREE");
    bad["refund_fee"] = json!("abc");
    let mut api = Scripted::answering(vec![
        page(vec![listed(1, "WAIT_SELLER_AGREE"), listed(2, "SUCCESS"), bad.clone()], false),
        detail(refund(1, "WAIT_SELLER_AGREE", "REFUND")),
        Err(ConnectorError::not_found("refund 2")),
        detail({
            let mut r = refund(3, "WAIT_SELLER_AGREE", "REFUND");
            r["refund_fee"] = json!("abc");
            r
        }),
    ]);
    let out = pull_after_sales(&mut api, 40, "s1", &window, None).unwrap();
    assert_eq!(out.items.iter().map(|a| a.after_sale_id.as_str()).collect::<Vec<_>>(), ["1"]);
    let rejected: Vec<(&str, &str)> = out.rejected.iter().map(|r| (r.id.as_str(), r.field.as_str())).collect();
    assert_eq!(rejected, [("2", ""), ("3", "refund_fee")]);
    assert_eq!(api.methods(), [REFUNDS_RECEIVE_GET, REFUND_GET, REFUND_GET, REFUND_GET]);
    assert_eq!(api.param(1, "refund_id").as_deref(), Some("1"));
    assert_eq!(out.items[0].refund_version, Some(1_731_254_400_123));
}

#[test]
fn a_listing_that_already_has_the_review_fields_needs_no_detail() {
    let mut api =
        Scripted::answering(vec![page(vec![refund(1, "WAIT_SELLER_AGREE", "REPAIR")], true), page(vec![], false)]);
    let window = TimeWindow { from: T0, to: T0 + 1_000 };
    let first = pull_after_sales(&mut api, 40, "s1", &window, None).unwrap();
    assert_eq!(first.items[0].kind, AfterSaleKind::Repair);
    let second = pull_after_sales(&mut api, 40, "s1", &window, first.next_cursor.as_deref()).unwrap();
    assert!(second.items.is_empty() && second.next_cursor.is_none());
    assert_eq!(api.methods(), [REFUNDS_RECEIVE_GET, REFUNDS_RECEIVE_GET]);
    assert_eq!(api.param(1, "page_no").as_deref(), Some("2"));
}

#[test]
fn get_after_sale() {
    let mut api = Scripted::answering(vec![detail(refund(9, "WAIT_BUYER_RETURN_GOODS", "REFUND_AND_RETURN"))]);
    let a = super::get_after_sale(&mut api, "9", "s1").unwrap();
    assert_eq!((a.after_sale_id.as_str(), a.status), ("9", AfterSaleStatus::AwaitingReturn));
    assert_eq!(api.param(0, "fields").as_deref(), Some(DETAIL_FIELDS));
    assert!(matches!(super::get_after_sale(&mut api, "R9", "s1"), Err(ConnectorError::InvalidInput(_))));
}

fn action(id: &str, decision: AfterSaleDecision, reason: Option<&str>, version: Option<u64>) -> AfterSaleAction {
    AfterSaleAction {
        after_sale_id: id.into(),
        order_id: "3912345678901234567".into(),
        decision,
        reason: reason.map(Into::into),
        refund_version: version,
    }
}

#[test]
fn answers_carry_the_phase_and_version_and_refusals_need_a_reason() {
    let ok = |method: &str| Ok(json!({"is_success": true, "_m": method}));
    let phase = || detail(refund(1, "WAIT_SELLER_AGREE", "REFUND"));
    let mut api = Scripted::answering(vec![
        phase(),
        ok(REFUND_REVIEW),
        phase(),
        ok(REFUND_REVIEW),
        phase(),
        ok(RETURNGOODS_AGREE),
        phase(),
        ok(RETURNGOODS_REFUSE),
        phase(),
        Ok(json!({"is_success": false})),
    ]);
    let results = push_after_sale_actions(
        &mut api,
        vec![
            action("1", AfterSaleDecision::AgreeRefund, None, Some(5)),
            action("2", AfterSaleDecision::RefuseRefund, Some("已发货"), Some(5)),
            action("3", AfterSaleDecision::RefuseRefund, Some(" "), Some(5)),
            action("4", AfterSaleDecision::AgreeReturn, None, Some(6)),
            action("5", AfterSaleDecision::RefuseReturn, Some("商品已损坏"), Some(7)),
            action("6", AfterSaleDecision::ConfirmReturned, None, None),
            action("7", AfterSaleDecision::ConfirmReturned, None, Some(8)),
        ],
    )
    .unwrap();
    assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok() && results[4].is_ok());
    assert!(matches!(&results[2], Err(ConnectorError::InvalidInput(f)) if f.field == "reason"));
    assert!(matches!(&results[5], Err(ConnectorError::InvalidInput(f)) if f.field == "refund_version"));
    assert!(matches!(&results[6], Err(ConnectorError::Platform(_))));
    assert_eq!(
        api.methods(),
        [
            REFUND_GET,
            REFUND_REVIEW,
            REFUND_GET,
            REFUND_REVIEW,
            REFUND_GET,
            RETURNGOODS_AGREE,
            REFUND_GET,
            RETURNGOODS_REFUSE,
            REFUND_GET,
            REFUND_REVIEW
        ]
    );
    let p = |call: usize, key: &str| api.param(call, key);
    assert_eq!(
        (p(1, "result"), p(1, "refund_version"), p(1, "refund_phase")),
        (Some("true".into()), Some("5".into()), Some("onsale".into()))
    );
    assert_eq!((p(3, "result"), p(3, "message")), (Some("false".into()), Some("已发货".into())));
    assert_eq!((p(5, "refund_id"), p(5, "refund_version")), (Some("4".into()), Some("6".into())));
    assert_eq!((p(7, "refuse_message"), p(7, "refund_version")), (Some("商品已损坏".into()), Some("7".into())));
    assert_eq!(p(9, "result").as_deref(), Some("true"), "confirming the goods is the review's agreement");
}
