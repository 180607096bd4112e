use super::*;
use serde_json::json;

/// A realistic shop order: 19-digit ids as strings (one child id a number), ciphertexts and
/// masks, two lines (one refunded), a discount and shipping.
fn fixture() -> Value {
    let mut order = json!({
        "order_id": "6920001234567890123",
        "order_level": 2,
        "order_status": 2,
        "order_status_desc": "备货中",
        "main_status": 2,
        "create_time": 1794326405,
        "update_time": 1794326520,
        "pay_time": 1794326460,
        "order_amount": 20007,
        "pay_amount": 20007,
        "post_amount": 1000,
        "promotion_amount": 983,
        "doudian_open_id": "1@#abcDEF==",
        "encrypt_post_receiver": "##AAAA*BBBB#1##",
        "encrypt_post_tel": "$$CCCC*DDDD$1$$",
        "post_addr": {
            "province": {"id": "33", "name": "浙江省"},
            "city": {"id": "3301", "name": "杭州市"},
            "town": {"id": "330106", "name": "西湖区"},
            "street": {"id": "", "name": ""},
            "detail": "",
            "encrypt_detail": "##EEEE*FFFF#1##"
        },
        "mask_post_receiver": "张*",
        "mask_post_tel": "138****5678",
        "buyer_words": "请尽快发货",
        "seller_words": "",
        "sku_order_list": [
            {
                "order_id": "6920001234567890124",
                "product_id": "3556789012345678901",
                "product_name": "纯棉T恤 夏季新款",
                "out_product_id": "FG-001",
                "sku_id": 1768123456789u64,
                "out_sku_id": "FG-001-RED-XL",
                "code": "FG-001-RED-XL",
                "spec": [{"name": "颜色", "value": "红"}, {"name": "尺码", "value": "XL"}],
                "item_num": 2,
                "origin_amount": 5995,
                "sum_amount": 11990,
                "pay_amount": 11357,
                "promotion_amount": 633,
                "after_sale_info": {"refund_status": 0}
            },
            {
                "order_id": 6920001234567890125u64,
                "product_id": 3556789012345678902u64,
                "product_name": "帆布袋",
                "code": "BAG-1",
                "item_num": 1,
                "origin_amount": 8000,
                "pay_amount": 7650,
                "after_sale_info": {"refund_status": 3}
            }
        ]
    });
    // The masked address is the plain one with a masked detail and no ciphertext.
    let mut masked = order["post_addr"].clone();
    masked.as_object_mut().unwrap().remove("encrypt_detail");
    masked["detail"] = json!("文三路****");
    order["mask_post_addr"] = masked;
    order
}

fn with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = fixture();
    edit(&mut v);
    v
}

fn map(v: &Value) -> Result<Order, ConnectorError> {
    map_shop_order(v, "data.shop_order_list[0]", "s1")
}

fn field_of(r: Result<Order, ConnectorError>) -> (String, String) {
    match r {
        Err(ConnectorError::InvalidInput(FieldError { field, reason })) => (field, reason),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_whole_order() {
    let o = map(&fixture()).unwrap();
    assert_eq!((o.platform.as_str(), o.shop_id.as_str(), o.order_id.as_str()), ("douyin", "s1", "6920001234567890123"));
    assert_eq!((o.status, o.platform_status.as_str()), (OrderStatus::Paid, "2"));
    assert_eq!(o.refund_status, RefundStatus::Refunded);
    assert_eq!(
        (o.created_at, o.paid_at, o.updated_at),
        (1_794_326_405_000, Some(1_794_326_460_000), 1_794_326_520_000)
    );
    assert_eq!((o.goods_total, o.shipping_fee, o.discount_total, o.paid_total), (19990, 1000, 983, 20007));
    assert_eq!(o.goods_total + o.shipping_fee - o.discount_total, o.paid_total);
    assert_eq!(o.currency, "CNY");
    assert_eq!((o.buyer_id.as_deref(), o.buyer_nick.as_deref()), (Some("1@#abcDEF=="), None));
    assert_eq!((o.buyer_message.as_deref(), o.seller_memo.as_deref()), (Some("请尽快发货"), None));
    assert!(o.invoice.is_none());

    let r = o.receiver.unwrap();
    assert_eq!((r.name.as_deref(), r.phone.as_deref()), (Some("张*"), Some("138****5678")));
    assert_eq!(
        (r.province.as_deref(), r.city.as_deref(), r.district.as_deref()),
        (Some("浙江省"), Some("杭州市"), Some("西湖区"))
    );
    assert_eq!((r.town, r.address.as_deref(), r.postcode), (None, Some("文三路****"), None));
    assert!(r.masked);
    let reference: Value = serde_json::from_str(r.privacy_ref.as_deref().unwrap()).unwrap();
    assert_eq!(reference, json!({"name": "##AAAA*BBBB#1##", "phone": "$$CCCC*DDDD$1$$", "address": "##EEEE*FFFF#1##"}));

    let [a, b] = o.lines.as_slice() else { panic!("two lines") };
    assert_eq!(a.line_id, "6920001234567890124");
    assert_eq!((a.product_id.as_deref(), a.sku_id.as_deref()), (Some("3556789012345678901"), Some("1768123456789")));
    assert_eq!((a.outer_product_id.as_deref(), a.outer_sku_id.as_deref()), (Some("FG-001"), Some("FG-001-RED-XL")));
    assert_eq!((a.title.as_str(), a.sku_properties.as_deref()), ("纯棉T恤 夏季新款", Some("颜色:红;尺码:XL")));
    assert_eq!((a.quantity, a.unit_price, a.discount, a.line_total), (2, 5995, 633, 11357));
    assert_eq!((a.refund_status, a.batch_no.as_deref()), (RefundStatus::None, None));
    assert_eq!((b.line_id.as_str(), b.product_id.as_deref()), ("6920001234567890125", Some("3556789012345678902")));
    assert_eq!(
        (b.outer_sku_id.as_deref(), b.sku_id.as_deref(), b.sku_properties.as_deref()),
        (Some("BAG-1"), None, None)
    );
    assert_eq!((b.unit_price, b.discount, b.refund_status), (8000, 350, RefundStatus::Refunded));
}

#[test]
fn statuses_from_order_status_and_refunds_from_main_status() {
    for (order_status, main_status, want, platform_status) in [
        (1, 1, OrderStatus::Unpaid, "1"),
        (1, 103, OrderStatus::Unpaid, "order_status=1;main_status=103"),
        (105, 105, OrderStatus::Paid, "105"),
        (101, 101, OrderStatus::PartiallyShipped, "101"),
        (3, 3, OrderStatus::Shipped, "3"),
        (5, 5, OrderStatus::Completed, "5"),
        (4, 4, OrderStatus::Cancelled, "4"),
        // Refunded in full before shipping: ended before anything shipped.
        (4, 21, OrderStatus::Cancelled, "order_status=4;main_status=21"),
        // After shipping or receipt: ended after goods left, without completing.
        (4, 22, OrderStatus::Closed, "order_status=4;main_status=22"),
        (4, 39, OrderStatus::Closed, "order_status=4;main_status=39"),
    ] {
        let o = map(&with(|v| {
            v["order_status"] = json!(order_status);
            v["main_status"] = json!(main_status.to_string());
        }))
        .unwrap();
        assert_eq!((o.status, o.platform_status.as_str()), (want, platform_status), "{order_status}/{main_status}");
    }
    let o = map(&with(|v| {
        v["order_status"] = json!("105");
        v.as_object_mut().unwrap().remove("main_status");
    }))
    .unwrap();
    assert_eq!((o.status, o.platform_status.as_str()), (OrderStatus::Paid, "105"));
    let (field, reason) = field_of(map(&with(|v| v["order_status"] = json!(9))));
    assert_eq!(field, "data.shop_order_list[0].order_status");
    assert!(reason.contains("105") && reason.contains("\"9\""), "{reason}");
    assert_eq!(field_of(map(&with(|v| v["main_status"] = json!(77)))).0, "data.shop_order_list[0].main_status");
    let without_main = with(|v| {
        v.as_object_mut().unwrap().remove("main_status");
    });
    assert_eq!(map(&without_main).unwrap().status, OrderStatus::Paid);
}

#[test]
fn line_refunds_roll_up() {
    let o = map(&with(|v| v["sku_order_list"][0]["after_sale_info"]["refund_status"] = json!("1"))).unwrap();
    assert_eq!((o.lines[0].refund_status, o.refund_status), (RefundStatus::Requested, RefundStatus::Requested));
    let o = map(&with(|v| {
        v["sku_order_list"][1]["after_sale_info"] = json!({"refund_status": 4});
    }))
    .unwrap();
    assert_eq!(o.refund_status, RefundStatus::None);
    let o = map(&with(|v| {
        v["sku_order_list"][1].as_object_mut().unwrap().remove("after_sale_info");
    }))
    .unwrap();
    assert_eq!(o.lines[1].refund_status, RefundStatus::None);
    let (field, _) = field_of(map(&with(|v| v["sku_order_list"][1]["after_sale_info"]["refund_status"] = json!(9))));
    assert_eq!(field, "data.shop_order_list[0].sku_order_list[1].after_sale_info.refund_status");
}

#[test]
fn unpaid_orders_have_no_paid_at() {
    for pay_time in [json!(0), json!(null), json!("")] {
        let o = map(&with(|v| {
            v["order_status"] = json!(1);
            v["main_status"] = json!(1);
            v["pay_time"] = pay_time.clone();
        }))
        .unwrap();
        assert_eq!(o.paid_at, None, "{pay_time}");
    }
}

#[test]
fn broken_fields_are_named() {
    let (field, reason) = field_of(map(&with(|v| v["pay_amount"] = json!("12.5元"))));
    assert_eq!(field, "data.shop_order_list[0].pay_amount");
    assert!(reason.starts_with("expected") && reason.contains("fen"), "{reason}");
    for (edit, want) in [
        (
            Box::new(|v: &mut Value| v["sku_order_list"][0]["origin_amount"] = json!(5996)) as Box<dyn Fn(&mut Value)>,
            "data.shop_order_list[0].sku_order_list[0].sum_amount",
        ),
        (
            Box::new(|v: &mut Value| v["sku_order_list"][0]["item_num"] = json!(0)),
            "data.shop_order_list[0].sku_order_list[0].item_num",
        ),
        (
            Box::new(|v: &mut Value| v["sku_order_list"][1]["pay_amount"] = json!(8001)),
            "data.shop_order_list[0].sku_order_list[1].pay_amount",
        ),
        (
            Box::new(|v: &mut Value| v["sku_order_list"][1]["origin_amount"] = json!(-8000)),
            "data.shop_order_list[0].sku_order_list[1].origin_amount",
        ),
        (
            Box::new(|v: &mut Value| v["sku_order_list"][1]["origin_amount"] = json!(8000.0)),
            "data.shop_order_list[0].sku_order_list[1].origin_amount",
        ),
        (Box::new(|v: &mut Value| v["pay_amount"] = json!(-20007)), "data.shop_order_list[0].pay_amount"),
        (Box::new(|v: &mut Value| v["sku_order_list"] = json!([])), "data.shop_order_list[0].sku_order_list"),
        (Box::new(|v: &mut Value| v["post_addr"] = json!("abc")), "data.shop_order_list[0].post_addr"),
        (
            Box::new(|v: &mut Value| v["sku_order_list"][0]["after_sale_info"] = json!(3)),
            "data.shop_order_list[0].sku_order_list[0].after_sale_info",
        ),
        (
            Box::new(|v: &mut Value| v["sku_order_list"][1]["order_id"] = json!(1.5)),
            "data.shop_order_list[0].sku_order_list[1].order_id",
        ),
        (Box::new(|v: &mut Value| v["create_time"] = json!("2026-11-11")), "data.shop_order_list[0].create_time"),
        (Box::new(|v: &mut Value| v["sku_order_list"] = json!({})), "data.shop_order_list[0].sku_order_list"),
        (
            Box::new(|v: &mut Value| v["sku_order_list"][0]["spec"] = json!([{"name": "颜色"}])),
            "data.shop_order_list[0].sku_order_list[0].spec[0].value",
        ),
        (Box::new(|v: &mut Value| v["post_amount"] = json!(i64::MAX)), "data.shop_order_list[0].pay_amount"),
        // Paid more than goods and shipping, or other than the lines plus shipping.
        (Box::new(|v: &mut Value| v["pay_amount"] = json!(30000)), "data.shop_order_list[0].pay_amount"),
        (Box::new(|v: &mut Value| v["pay_amount"] = json!(0)), "data.shop_order_list[0].pay_amount"),
        (Box::new(|v: &mut Value| v["create_time"] = json!(-1)), "data.shop_order_list[0].create_time"),
        (Box::new(|v: &mut Value| v["update_time"] = json!(0)), "data.shop_order_list[0].update_time"),
        (Box::new(|v: &mut Value| v["order_id"] = json!("6920001234567890123\n")), "data.shop_order_list[0].order_id"),
    ] {
        assert_eq!(field_of(map(&with(|v| edit(v)))).0, want);
    }
    assert_eq!(field_of(map(&json!([1]))).0, "data.shop_order_list[0]");
}

#[test]
fn receivers_without_ciphertexts_or_at_all() {
    let o = map(&with(|v| {
        let m = v.as_object_mut().unwrap();
        for k in ["encrypt_post_receiver", "encrypt_post_tel", "post_addr"] {
            m.remove(k);
        }
    }))
    .unwrap();
    let r = o.receiver.unwrap();
    assert!(r.masked && r.privacy_ref.is_none(), "masked values still say masked");
    let o = map(&with(|v| {
        let m = v.as_object_mut().unwrap();
        for k in [
            "encrypt_post_receiver",
            "encrypt_post_tel",
            "post_addr",
            "mask_post_receiver",
            "mask_post_tel",
            "mask_post_addr",
        ] {
            m.remove(k);
        }
    }))
    .unwrap();
    assert!(o.receiver.is_none());
    let only_tel = map(&with(|v| {
        let m = v.as_object_mut().unwrap();
        m.remove("encrypt_post_receiver");
        m.remove("post_addr");
    }))
    .unwrap();
    assert_eq!(only_tel.receiver.unwrap().privacy_ref.as_deref(), Some(r#"{"phone":"$$CCCC*DDDD$1$$"}"#));
}

#[test]
fn line_money_reads_each_figure_from_its_field() {
    // 抖店's documented meanings: origin_amount the unit price, sum_amount = origin × num,
    // pay_amount what the buyer paid for the line.
    let o = map(&fixture()).unwrap();
    for l in &o.lines {
        assert_eq!(l.unit_price * i64::from(l.quantity) - l.discount, l.line_total);
        assert!(l.discount >= 0);
    }
    // Without sum_amount, the gross is origin_amount × item_num.
    let o = map(&with(|v| {
        v["sku_order_list"][0].as_object_mut().unwrap().remove("sum_amount");
    }))
    .unwrap();
    assert_eq!((o.lines[0].unit_price, o.lines[0].discount, o.lines[0].line_total), (5995, 633, 11357));
    // A unit price that does not divide the line's payment is fine: nothing is divided.
    let o = map(&with(|v| {
        let l = &mut v["sku_order_list"][0];
        l["item_num"] = json!(3);
        l["sum_amount"] = json!(17985);
        l["pay_amount"] = json!(17000);
        // The order's payment is its lines' plus shipping.
        v["pay_amount"] = json!(17000 + 7650 + 1000);
    }))
    .unwrap();
    assert_eq!((o.lines[0].quantity, o.lines[0].unit_price, o.lines[0].discount), (3, 5995, 985));
    // A gift: unit price 0, paid 0.
    let o = map(&with(|v| {
        let l = &mut v["sku_order_list"][1];
        l["origin_amount"] = json!(0);
        l["pay_amount"] = json!(0);
        v["pay_amount"] = json!(11357 + 1000);
    }))
    .unwrap();
    assert_eq!((o.lines[1].unit_price, o.lines[1].discount, o.lines[1].line_total), (0, 0, 0));
}

#[test]
fn an_inconsistent_line_rejects_its_order_with_a_path_inside_it() {
    let bad = with(|v| v["sku_order_list"][1]["sum_amount"] = json!(9000));
    let node = wharf_sdk::json::Node::root(&bad, "data.shop_order_list[4]");
    let rejected = settle_shop_order(&node, "s1").unwrap().unwrap_err();
    assert_eq!(
        (rejected.id.as_str(), rejected.field.as_str()),
        ("6920001234567890123", "sku_order_list[1].sum_amount")
    );
    assert!(rejected.reason.contains("8000 × 1"), "{}", rejected.reason);
    let excerpt = rejected.excerpt.unwrap();
    assert!(!excerpt.contains("##AAAA"), "{excerpt}");
}

#[test]
fn ciphertexts_are_never_shown() {
    // A display field that arrives encrypted is withheld and its ciphertext kept.
    let o = map(&with(|v| {
        v["mask_post_receiver"] = json!("##ZZZZ*YYYY#1##");
        v.as_object_mut().unwrap().remove("encrypt_post_receiver");
        v["mask_post_addr"]["detail"] = json!("");
        v["post_addr"]["detail"] = json!("##DDDD*DDDD#1##");
    }))
    .unwrap();
    let r = o.receiver.unwrap();
    assert_eq!((r.name.as_deref(), r.address.as_deref()), (None, None));
    assert!(r.masked && !wharf_sdk::privacy::shows_a_ciphertext(&r));
    let reference: Value = serde_json::from_str(r.privacy_ref.as_deref().unwrap()).unwrap();
    assert_eq!(reference["name"], "##ZZZZ*YYYY#1##");
    assert_eq!(reference["address"], "##EEEE*FFFF#1##");
}
