//! ECShop after-sales: back orders (退货单, `ecs_back_order` with its `ecs_back_goods`), read
//! through the bridge (`action=back_orders`, `action=back_order`): `pull-after-sales` and
//! `get-after-sale`.
//!
//! ECShop 2.7 has no refund or return requests a buyer files and a merchant answers: its admin
//! marks an order returned (admin/order.php, operation `return`), which in one go puts the
//! order in `order_status` 4 (returned; shipping and pay status back to 0), refunds it (the
//! `money_paid` through `order_refund`, the balance spent and points back to the buyer) and
//! copies each delivery order still out into a back order with its goods. So a back order is
//! a return already taken back and refunded. Mapping (canonical-model.md, After-sales, ECShop):
//!
//! - `after_sale_id` = `back_id`; `order_id` = the order's `order_sn` (as for orders); kind
//!   `return_and_refund`, always;
//! - status `refunded` while the order is `order_status` 4 (returned); if the admin moved the
//!   order on since (ECShop lets a returned order be confirmed again), `returned`: the goods
//!   came back, and the order no longer says it was refunded. `platform_status` =
//!   `back_status=<ecs_back_order.status>;order_status=<the order's>`;
//! - lines: each back goods row is matched to the order's lines by goods and product (a back
//!   goods row has no `rec_id` of the order line; rows of the same goods take the order's lines
//!   in `rec_id` order), `line_id` = that line's `rec_id`, `outer_sku_id` = `product_sn`, else
//!   `goods_sn`, `quantity` = `send_number`;
//! - amounts: ECShop keeps no refunded amount on a back order (the return refunds order-level
//!   `money_paid` and `surplus` and sets both to 0), so `refund_amount` is what was paid for
//!   the goods that came back: each line's `line_total` (its goods less its share of the
//!   order's discounts, as `pull-orders` maps it), in proportion when fewer units came back
//!   than were bought. `shipping_refund` is 0: the back order's `shipping_fee` is the
//!   delivery's fee copied, not a refund, and ECShop does not say whether shipping went back;
//! - no `reason` (ECShop asks none: the admin's note goes to the order's action log) and no
//!   `return_waybill` (the back order's `invoice_no` is the outbound delivery's waybill, not
//!   the buyer's parcel back);
//! - `created_at` = `return_time` (0 in rows older ECShop versions wrote: then `add_time`);
//!   `updated_at` = the bridge's `updated_at`: the latest of the back order's times and its
//!   order's action rows (a later status of the order changes the after-sale's status);
//! - no `refund_version`.
//!
//! Merchant answers (`push-after-sale-actions`) are unsupported: nothing in ECShop waits for an
//! answer (a back order exists only once the return is done), and the bridge writes none.

use serde_json::json;
use wharf_sdk::after_sale;
use wharf_sdk::api::Api;
use wharf_sdk::json::Node;
use wharf_sdk::paging::{self, ListPage, Records};
use wharf_sdk::reject::{self, Mapped};
use wharf_sdk::time;
use wharf_sdk::types::{
    AfterSale, AfterSaleKind, AfterSaleLine, AfterSalePage, AfterSaleStatus, ConnectorError, Order, TimeWindow,
};

use crate::mapping::{self, CURRENCY, PLATFORM, RECEIVER_KEYS};
use crate::pull::PAGING;

pub const BACK_ORDERS: &str = "back_orders";
pub const BACK_ORDER: &str = "back_order";
/// `order_status` 4: returned.
const OS_RETURNED: i64 = 4;
/// `ecs_back_order.back_id` is mediumint(8) unsigned.
const MAX_BACK_ID: u64 = 16_777_215;

/// One back order of the bridge (`back_orders[i]`, `back_order`) → the canonical after-sale.
pub fn map_back_order(back: &Node, shop_id: &str) -> Result<AfterSale, ConnectorError> {
    let back_id = back.id("back_id")?;
    let order_node = back.object("order")?;
    let order = mapping::map_order(&order_node, shop_id)?;
    let order_status = order_node.i64("order_status")?;
    let status = if order_status == OS_RETURNED { AfterSaleStatus::Refunded } else { AfterSaleStatus::Returned };
    let (lines, refund_amount) = lines(back, &order)?;
    let return_time = back.unix_seconds("return_time")?;
    let created_at = if return_time > 0 { return_time } else { back.unix_seconds("add_time")? };
    let updated_at = back.unix_seconds("updated_at")?.max(created_at);
    Ok(AfterSale {
        platform: PLATFORM.to_owned(),
        shop_id: shop_id.to_owned(),
        after_sale_id: back_id,
        order_id: order.order_id.clone(),
        lines,
        kind: AfterSaleKind::ReturnAndRefund,
        status,
        platform_status: after_sale::platform_status(&[
            ("back_status", Some(back.i64("status")?.to_string())),
            ("order_status", Some(order_status.to_string())),
        ]),
        currency: CURRENCY.to_owned(),
        refund_amount,
        shipping_refund: 0,
        reason: None,
        return_waybill: None,
        created_at,
        updated_at,
        refund_version: None,
    })
}

/// The back goods as lines of `order`, and what was paid for them (fen).
fn lines(back: &Node, order: &Order) -> Result<(Vec<AfterSaleLine>, i64), ConnectorError> {
    // Units of each order line not yet matched to a back goods row.
    let mut left: Vec<u32> = order.lines.iter().map(|l| l.quantity).collect();
    let mut taken: Vec<u32> = vec![0; order.lines.len()];
    for goods in back.nonempty_array("goods")? {
        let goods_id = goods.id("goods_id")?;
        let product_id = goods.id("product_id")?;
        let sku = (product_id != "0").then_some(product_id.as_str());
        let mut wanted = goods.u32("send_number")?;
        for (i, line) in order.lines.iter().enumerate() {
            if wanted == 0 {
                break;
            }
            if line.product_id.as_deref() == Some(goods_id.as_str()) && line.sku_id.as_deref() == sku && left[i] > 0 {
                let take = wanted.min(left[i]);
                left[i] -= take;
                taken[i] += take;
                wanted -= take;
            }
        }
        if wanted > 0 {
            return Err(goods
                .error_at(
                    "send_number",
                    format!(
                        "{wanted} more unit(s) of goods {goods_id} (product {product_id}) came back than order {} holds",
                        order.order_id
                    ),
                )
                .into());
        }
    }
    let mut lines = Vec::new();
    let mut refund = 0i64;
    for (line, &units) in order.lines.iter().zip(&taken) {
        if units == 0 {
            continue;
        }
        refund += if units >= line.quantity {
            line.line_total
        } else {
            line.line_total * i64::from(units) / i64::from(line.quantity.max(1))
        };
        lines.push(AfterSaleLine {
            line_id: line.line_id.clone(),
            outer_sku_id: line.outer_sku_id.clone(),
            quantity: Some(units),
        });
    }
    Ok((lines, refund))
}

/// One listed back order, mapped, or set aside by its `back_id` (receiver data masked).
pub fn settle_back_order(back: &Node, shop_id: &str) -> Result<Mapped<AfterSale>, ConnectorError> {
    let id = reject::record_id(back, "back_id");
    reject::settle(&id, Some(back.value()), map_back_order(&Node::root(back.value(), ""), shop_id), RECEIVER_KEYS)
}

/// `action=back_orders` as the SDK's walk sees it: whole back orders, mapped as listed.
pub struct BackOrders<'a, A: Api> {
    pub api: &'a mut A,
    pub shop_id: &'a str,
}

impl<A: Api> Records for BackOrders<'_, A> {
    type Row = Mapped<AfterSale>;
    type Record = AfterSale;

    fn list(&mut self, first: i64, last: i64, page: u32, size: u32) -> Result<ListPage<Self::Row>, ConnectorError> {
        let (since, until) = (time::ms_to_unix_seconds(first), time::ms_to_unix_seconds(last));
        let params = json!({ "since": since, "until": until, "page": page, "page_size": size });
        let answer = self.api.call(BACK_ORDERS, &params)?;
        let root = Node::root(&answer, "");
        let total = root.i64("total")?;
        let rows = root
            .required(BACK_ORDERS)?
            .elements()?
            .iter()
            .map(|node| settle_back_order(node, self.shop_id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListPage { has_next: i64::from(page) * i64::from(size) < total, rows, total: u64::try_from(total).ok() })
    }

    fn record(&mut self, row: Mapped<AfterSale>) -> Result<Mapped<AfterSale>, ConnectorError> {
        Ok(row)
    }

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        self.api.note(message, fields);
    }
}

/// One page of the back orders changed in `window`, resuming at `cursor` (the orders' walk:
/// the same chunks and cursor).
pub fn pull_after_sales(
    api: &mut impl Api,
    page_size: u32,
    shop_id: &str,
    window: &TimeWindow,
    cursor: Option<&str>,
) -> Result<AfterSalePage, ConnectorError> {
    paging::pull_after_sales(&PAGING, &mut BackOrders { api, shop_id }, page_size, window, cursor)
}

/// One back order by its `back_id`.
pub fn get_after_sale(api: &mut impl Api, id: &str, shop_id: &str) -> Result<AfterSale, ConnectorError> {
    match id.parse::<u64>() {
        Ok(n) if (1..=MAX_BACK_ID).contains(&n) && id.bytes().all(|b| b.is_ascii_digit()) => {}
        _ => {
            return Err(ConnectorError::invalid_input(
                "after_sale_id",
                format!("expected an ECShop back_id (1 to {MAX_BACK_ID}), got {id:?}"),
            ));
        }
    }
    let answer = api.call(BACK_ORDER, &json!({ "back_id": id }))?;
    map_back_order(&Node::root(&answer, "").required(BACK_ORDER)?, shop_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::tests::order_json;
    use serde_json::Value;
    use wharf_sdk::api::Scripted;
    use wharf_sdk::paging::DAY_MS;

    const T0: i64 = 1_795_392_000_000; // 2026-11-24 00:00:00 UTC

    /// A back order of the fixture order, all of its goods back.
    fn back(back_id: u64, order_status: i64) -> Value {
        let mut order = order_json();
        order["order_status"] = json!(order_status);
        let goods: Vec<Value> = order["goods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                json!({"rec_id": 1, "goods_id": g["goods_id"], "product_id": g["product_id"], "send_number": g["goods_number"],
                    "goods_sn": g["goods_sn"], "product_sn": g["product_sn"], "goods_name": g["goods_name"], "goods_attr": "", "is_real": 1})
            })
            .collect();
        json!({"back_id": back_id, "order_id": order["order_id"], "order_sn": order["order_sn"], "status": 0,
            "delivery_sn": "20261124000001", "invoice_no": "SF100", "shipping_name": "顺丰", "action_user": "admin",
            "shipping_fee": "10.00", "insure_fee": "0.00",
            "add_time": 1_795_392_000, "update_time": 1_795_392_000, "return_time": 1_795_392_600, "updated_at": 1_795_392_700,
            "goods": goods, "order": order})
    }

    fn paid_for_goods(order: &Value) -> i64 {
        mapping::map_order(&Node::root(order, ""), "s1").unwrap().lines.iter().map(|l| l.line_total).sum()
    }

    #[test]
    fn a_back_order_is_a_refunded_return_of_what_came_back() {
        let v = back(7, 4);
        let a = map_back_order(&Node::root(&v, ""), "s1").unwrap();
        assert_eq!((a.kind, a.status), (AfterSaleKind::ReturnAndRefund, AfterSaleStatus::Refunded));
        assert_eq!((a.after_sale_id.as_str(), a.order_id.as_str()), ("7", v["order_sn"].as_str().unwrap()));
        assert_eq!(a.platform_status, "back_status=0;order_status=4");
        assert_eq!((a.refund_amount, a.shipping_refund), (paid_for_goods(&v["order"]), 0));
        assert_eq!((a.created_at, a.updated_at), (T0 + 600_000, T0 + 700_000));
        assert_eq!((a.reason.as_ref(), a.return_waybill.as_ref(), a.refund_version), (None, None, None));
        let order = mapping::map_order(&Node::root(&v["order"], ""), "s1").unwrap();
        assert_eq!(a.lines.len(), order.lines.len());
        for (l, o) in a.lines.iter().zip(&order.lines) {
            assert_eq!((&l.line_id, &l.outer_sku_id, l.quantity), (&o.line_id, &o.outer_sku_id, Some(o.quantity)));
        }
        // Moved on from returned: the goods are back, the refund no longer on record.
        let v = back(7, 1);
        assert_eq!(map_back_order(&Node::root(&v, ""), "s1").unwrap().status, AfterSaleStatus::Returned);
    }

    #[test]
    fn part_of_a_line_back_is_its_share_and_more_than_bought_is_refused() {
        let mut v = back(7, 4);
        let order = mapping::map_order(&Node::root(&v["order"], ""), "s1").unwrap();
        let first = &order.lines[0];
        assert!(first.quantity >= 2, "the fixture's first line has several units");
        v["goods"] = json!([{ "goods_id": v["order"]["goods"][0]["goods_id"], "product_id": v["order"]["goods"][0]["product_id"], "send_number": 1 }]);
        let a = map_back_order(&Node::root(&v, ""), "s1").unwrap();
        assert_eq!(a.lines.len(), 1);
        assert_eq!(a.lines[0].quantity, Some(1));
        assert_eq!(a.refund_amount, first.line_total / i64::from(first.quantity));
        v["goods"][0]["send_number"] = json!(first.quantity + 100);
        match map_back_order(&Node::root(&v, ""), "s1") {
            Err(ConnectorError::InvalidInput(f)) => assert!(f.field.ends_with("send_number"), "{}", f.field),
            other => panic!("{other:?}"),
        }
        v["goods"][0]["send_number"] = json!(1);
        v["goods"][0]["goods_id"] = json!(999_999);
        assert!(map_back_order(&Node::root(&v, ""), "s1").is_err(), "goods the order does not hold");
    }

    fn listing(total: u64, backs: Vec<Value>) -> Result<Value, ConnectorError> {
        Ok(json!({"since": 0, "until": 0, "page": 1, "page_size": 50, "total": total, "back_orders": backs}))
    }

    #[test]
    fn pulls_by_change_time_and_sets_a_broken_one_aside() {
        let mut broken = back(8, 4);
        broken["order"]["consignee"] = json!("张三");
        broken["order"]["goods_amount"] = json!("abc");
        let mut api = Scripted::answering(vec![listing(2, vec![back(7, 4), broken])]);
        let window = TimeWindow { from: T0, to: T0 + DAY_MS };
        let page = pull_after_sales(&mut api, 50, "s1", &window, None).unwrap();
        assert_eq!(page.items.iter().map(|a| a.after_sale_id.as_str()).collect::<Vec<_>>(), ["7"]);
        assert_eq!(page.rejected[0].id, "8");
        assert!(page.rejected[0].field.ends_with("goods_amount"), "{}", page.rejected[0].field);
        assert!(!page.rejected[0].excerpt.as_deref().unwrap().contains("张三"));
        assert_eq!(page.next_cursor, None);
        assert_eq!(api.methods(), ["back_orders"]);
        assert_eq!(api.param(0, "since").as_deref(), Some("1795392000"));
        assert_eq!(api.param(0, "until").as_deref(), Some("1795478399"));
        let mut api = Scripted::answering(vec![Ok(json!({"back_orders": []}))]);
        assert!(matches!(pull_after_sales(&mut api, 50, "s1", &window, None), Err(ConnectorError::InvalidInput(_))));
    }

    #[test]
    fn one_back_order_by_id() {
        let mut api = Scripted::answering(vec![Ok(json!({"back_order": back(7, 4)}))]);
        assert_eq!(get_after_sale(&mut api, "7", "s1").unwrap().after_sale_id, "7");
        assert_eq!(api.methods(), ["back_order"]);
        assert_eq!(api.param(0, "back_id").as_deref(), Some("7"));
        let mut api = Scripted::answering(vec![Err(ConnectorError::not_found("no back order with back_id 9"))]);
        assert!(matches!(get_after_sale(&mut api, "9", "s1"), Err(ConnectorError::NotFound(_))));
        for bad in ["", "0", "-1", "+5", "16777216", "x"] {
            assert!(
                matches!(get_after_sale(&mut Scripted::default(), bad, "s1"), Err(ConnectorError::InvalidInput(_))),
                "{bad:?}"
            );
        }
    }
}
