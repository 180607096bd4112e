use super::*;
use serde_json::Value;
use wharf_sdk::api::Scripted;

const T0: i64 = 1_794_326_400_000;

/// A listed after-sale as 抖店 answers it: `{aftersale_info, order_info}`.
fn item(id: u64, kind: u32, status: u32, refund_status: u32, second: i64) -> Value {
    json!({
        "aftersale_info": {
            "aftersale_id": id.to_string(), "order_id": "6920000000000000002",
            "aftersale_type": kind, "aftersale_status": status, "refund_status": refund_status,
            "refund_amount": 900, "refund_total_amount": 1000, "refund_post_amount": 100,
            "return_logistics_code": "", "return_logistics_company_name": "",
            "reason": "不想要了", "aftersale_num": 1,
            "create_time": second - 60, "update_time": second,
        },
        "order_info": {
            "shop_order_id": "6920000000000000001",
            "related_order_info": [{"sku_order_id": "6920000000000000002", "sku_id": 11, "out_sku_id": "SKU-1",
                "aftersale_item_num": 1, "item_num": 2, "pay_amount": 1800, "refund_amount": 900}],
        },
    })
}

fn list(items: Vec<Value>, total: usize, has_more: bool) -> Result<Value, ConnectorError> {
    Ok(json!({"items": items, "page": 0, "size": 2, "total": total, "has_more": has_more}))
}

fn one(v: Value) -> Result<AfterSale, ConnectorError> {
    let n = Node::root(&v, "");
    map_after_sale(&n.object("aftersale_info")?, n.opt_object("order_info")?.as_ref(), "s1")
}

#[test]
fn kinds_and_statuses_map_as_the_canonical_model_says() {
    let kinds = [
        (0, AfterSaleKind::ReturnAndRefund),
        (1, AfterSaleKind::RefundAfterShipping),
        (2, AfterSaleKind::RefundBeforeShipping),
        (3, AfterSaleKind::Exchange),
        (6, AfterSaleKind::PriceProtection),
        (7, AfterSaleKind::Reissue),
        (8, AfterSaleKind::Repair),
    ];
    for (code, kind) in kinds {
        assert_eq!(one(item(1, code, 6, 1, T0 / 1000)).unwrap().kind, kind, "{code}");
    }
    use AfterSaleStatus::*;
    let statuses = [
        (6, 1, Requested),
        (7, 1, AwaitingReturn),
        (11, 1, Returned),
        (12, 3, Refunded),
        (12, 2, Agreed),
        (14, 3, Refunded),
        (14, 0, Agreed),
        (13, 2, Agreed),
        (27, 4, Refused),
        (29, 4, Refused),
        (28, 4, Closed),
    ];
    for (status, refund, want) in statuses {
        let a = one(item(1, 0, status, refund, T0 / 1000)).unwrap();
        assert_eq!(a.status, want, "{status}/{refund}");
        assert_eq!(a.platform_status, format!("aftersale_type=0;aftersale_status={status};refund_status={refund}"));
    }
    for (field, bad) in [("aftersale_type", 4), ("aftersale_status", 99)] {
        let mut v = item(1, 0, 6, 1, T0 / 1000);
        v["aftersale_info"][field] = json!(bad);
        match one(v) {
            Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, format!("aftersale_info.{field}")),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn amounts_lines_order_and_waybill() {
    let mut v = item(7_100_000_000_000_000_001, 0, 11, 1, T0 / 1000);
    v["aftersale_info"]["return_logistics_code"] = json!("ZT123");
    v["aftersale_info"]["return_logistics_company_name"] = json!("中通快递");
    let a = one(v).unwrap();
    assert_eq!((a.after_sale_id.as_str(), a.order_id.as_str()), ("7100000000000000001", "6920000000000000001"));
    assert_eq!((a.refund_amount, a.shipping_refund, a.currency.as_str()), (900, 100, "CNY"));
    assert_eq!(a.lines.len(), 1);
    assert_eq!(
        (a.lines[0].line_id.as_str(), a.lines[0].outer_sku_id.as_deref(), a.lines[0].quantity),
        ("6920000000000000002", Some("SKU-1"), Some(1))
    );
    let w = a.return_waybill.unwrap();
    assert_eq!((w.carrier.as_str(), w.tracking_no.as_str()), ("中通快递", "ZT123"));
    assert_eq!((a.created_at, a.updated_at), (T0 - 60_000, T0));
    assert_eq!((a.reason.as_deref(), a.refund_version), (Some("不想要了"), None));

    // Without related SKU orders, the after-sale's own SKU order is the line.
    let mut v = item(1, 2, 6, 1, T0 / 1000);
    v["order_info"] = json!({"shop_order_id": "69"});
    let a = one(v).unwrap();
    assert_eq!((a.lines[0].line_id.as_str(), a.lines[0].quantity), ("6920000000000000002", Some(1)));

    // More goods refunded than paid for the lines, or shipping above the total: bad records.
    let mut v = item(1, 1, 6, 1, T0 / 1000);
    v["aftersale_info"]["refund_total_amount"] = json!(2_000);
    v["aftersale_info"]["refund_post_amount"] = json!(100);
    assert!(matches!(one(v), Err(ConnectorError::InvalidInput(f)) if f.field == "aftersale_info.refund_total_amount"));
    let mut v = item(1, 1, 6, 1, T0 / 1000);
    v["aftersale_info"]["refund_post_amount"] = json!(1_001);
    assert!(matches!(one(v), Err(ConnectorError::InvalidInput(f)) if f.field == "aftersale_info.refund_post_amount"));
}

#[test]
fn lists_by_update_time_from_page_zero_with_at_most_a_hundred_rows() {
    let s = T0 / 1000;
    let mut api = Scripted::answering(vec![list(vec![item(1, 0, 6, 1, s + 5), item(2, 1, 12, 3, s + 1)], 2, false)]);
    let window = TimeWindow { from: T0, to: T0 + 10_000 };
    let page = pull_after_sales(&mut api, 500, "s1", &window, None).unwrap();
    assert_eq!(page.items.iter().map(|a| a.after_sale_id.as_str()).collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(page.next_cursor, None);
    assert_eq!(api.methods(), [AFTER_SALE_LIST]);
    let asked = &api.calls[0].1;
    assert_eq!((asked["start_time"].as_i64(), asked["end_time"].as_i64()), (Some(s), Some(s + 9)));
    assert_eq!((asked["page"].as_u64(), asked["size"].as_u64()), (Some(0), Some(u64::from(MAX_PAGE_SIZE))));
    assert_eq!(asked["order_by"], json!(["update_time desc"]));
}

#[test]
fn a_dense_second_is_paged_forward_and_one_bad_after_sale_never_fails_its_page() {
    let s = T0 / 1000;
    let mut bad = item(3, 0, 6, 1, s);
    bad["aftersale_info"]["refund_total_amount"] = json!("abc");
    bad["order_info"]["post_receiver"] = json!("张三");
    let mut api = Scripted::answering(vec![
        list(vec![item(1, 0, 6, 1, s), bad], 3, true),
        list(vec![item(2, 0, 6, 1, s)], 3, false),
    ]);
    let window = TimeWindow { from: T0, to: T0 + 1_000 };
    let first = pull_after_sales(&mut api, 2, "s1", &window, None).unwrap();
    assert_eq!(first.items.len(), 1);
    assert_eq!(
        (first.rejected[0].id.as_str(), first.rejected[0].field.as_str()),
        ("3", "aftersale_info.refund_total_amount")
    );
    assert!(!first.rejected[0].excerpt.as_deref().unwrap().contains("张三"));
    let second = pull_after_sales(&mut api, 2, "s1", &window, first.next_cursor.as_deref()).unwrap();
    assert_eq!(second.items[0].after_sale_id, "2");
    assert_eq!(api.param(1, "page").as_deref(), Some("1"));
    let mut api = Scripted::answering(vec![Err(ConnectorError::rate_limited(1_000, "限流"))]);
    assert!(matches!(pull_after_sales(&mut api, 2, "s1", &window, None), Err(ConnectorError::RateLimited(_))));
}

#[test]
fn get_after_sale_reads_the_detail() {
    let v = item(7, 3, 13, 0, T0 / 1000);
    let detail = json!({"process_info": {"after_sale_info": v["aftersale_info"]}, "order_info": v["order_info"]});
    let mut api = Scripted::answering(vec![Ok(detail)]);
    let a = get_after_sale(&mut api, "7", "s1").unwrap();
    assert_eq!((a.kind, a.status, a.shop_id.as_str()), (AfterSaleKind::Exchange, AfterSaleStatus::Agreed, "s1"));
    assert_eq!((api.methods(), api.param(0, "after_sale_id")), (vec![AFTER_SALE_DETAIL], Some("7".to_owned())));
    assert!(
        matches!(get_after_sale(&mut api, "7x", "s1"), Err(ConnectorError::InvalidInput(f)) if f.field == "after_sale_id")
    );
}

fn action(id: &str, decision: AfterSaleDecision, reason: Option<&str>) -> AfterSaleAction {
    AfterSaleAction {
        after_sale_id: id.into(),
        order_id: "6920000000000000001".into(),
        decision,
        reason: reason.map(Into::into),
        refund_version: None,
    }
}

#[test]
fn answers_go_one_per_operate_and_a_refusal_needs_a_reason() {
    let done = || Ok(json!({"items": [{"aftersale_id": "1", "status_code": 0, "status_msg": "success"}]}));
    let mut api = Scripted::answering(vec![
        done(),
        done(),
        done(),
        Ok(json!({"items": [{"aftersale_id": "5", "status_code": 50002, "status_msg": "状态不允许"}]})),
    ]);
    let results = push_after_sale_actions(
        &mut api,
        vec![
            action("1", AfterSaleDecision::AgreeRefund, None),
            action("2", AfterSaleDecision::RefuseReturn, Some("商品已使用")),
            action("3", AfterSaleDecision::RefuseRefund, None),
            action("4", AfterSaleDecision::ConfirmReturned, None),
            action("5", AfterSaleDecision::AgreeReturn, None),
        ],
    )
    .unwrap();
    assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok());
    assert!(matches!(&results[2], Err(ConnectorError::InvalidInput(f)) if f.field == "reason"));
    assert!(matches!(&results[4], Err(ConnectorError::Platform(e)) if e.code == "50002"));
    assert_eq!(api.methods(), [AFTER_SALE_OPERATE; 4]);
    assert_eq!(api.calls[0].1, json!({"type": 101, "items": [{"aftersale_id": "1"}]}));
    assert_eq!(api.calls[1].1, json!({"type": 112, "items": [{"aftersale_id": "2", "reason": "商品已使用"}]}));
    assert_eq!((api.calls[2].1["type"].as_u64(), api.calls[3].1["type"].as_u64()), (Some(201), Some(111)));
}
