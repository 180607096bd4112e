//! The push cases of what the ERP sends beyond stock, price, listing and waybills: lots on
//! sale, new products, customer mappings, shipments with lots and ERP statuses. Each picks
//! targets no other case touches and checks by reading the database back ([`Inspector`]).

use serde_json::json;

use super::inspect::{Inspector, LotRow};
use super::model::{Model, credit_code, seeded_lot};
use crate::harness::{PushCase, rfc3339};

/// An `Err` unless `ok`, saying what was expected and what the database holds.
fn expect(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what()) }
}

fn read<T>(result: anyhow::Result<T>) -> Result<T, String> {
    result.map_err(|e| format!("{e:#}"))
}

/// New products the product case uploads: (erp_product_id, stock, list_when_in_stock).
const NEW_PRODUCTS: &[(&str, u32, bool)] = &[("WHARF-NEW-1", 10, true), ("WHARF-NEW-2", 0, true)];
const NEW_PRODUCT_PRICE: i64 = 1_990;

pub fn cases(model: &Model, inspector: &Inspector, now_ms: i64) -> Vec<PushCase> {
    let mut cases = Vec::new();
    let at = rfc3339(now_ms / 1000 * 1000);

    // Lots: a SKU that has a lot on sale already, which must go.
    if let Some(sku) = model.shop.skus.iter().find(|s| seeded_lot(s.sku_no).is_some()) {
        let sn = sku.outer_sku_id.clone();
        let want = vec![
            LotRow {
                batch_no: format!("B{}-1", sku.sku_no),
                produced_on: Some("2026-01-05".into()),
                expires_on: Some("2028-01-04".into()),
                quantity: 5,
            },
            LotRow { batch_no: format!("B{}-2", sku.sku_no), produced_on: None, expires_on: None, quantity: 3 },
        ];
        let lots: Vec<_> = want
            .iter()
            .map(|l| json!({"batch_no": l.batch_no, "produced_on": l.produced_on, "expires_on": l.expires_on, "quantity": l.quantity}))
            .collect();
        let inspector = inspector.clone();
        cases.push(PushCase {
            operation: "push-lots".into(),
            input: json!([{"outer_sku_id": sn, "lots": lots}]),
            check: Box::new(move || {
                let got = read(inspector.lots_of(&sn))?;
                expect(got == want, || format!("{sn}: expected exactly the lots {want:?}, got {got:?}"))
            }),
        });
    }

    // Products: one listed at once, one held for review (no stock), and the first sent again
    // with a new title, which must update it, not make a second goods.
    let product = |(id, stock, list): (&str, u32, bool), title: &str| {
        json!({
            "erp_product_id": id, "title": title, "approval_no": "国药准字H20003263", "spec": "0.25g*24粒",
            "default_price": NEW_PRODUCT_PRICE, "stock": stock, "list_when_in_stock": list,
        })
    };
    let checked = inspector.clone();
    cases.push(PushCase {
        operation: "push-products".into(),
        input: json!([
            product(NEW_PRODUCTS[0], "阿莫西林胶囊"),
            product(NEW_PRODUCTS[1], "布洛芬缓释胶囊"),
            product(NEW_PRODUCTS[0], "阿莫西林胶囊 0.25g"),
        ]),
        check: Box::new(move || {
            for (i, &(id, stock, list)) in NEW_PRODUCTS.iter().enumerate() {
                let goods = read(checked.goods_by_sn(id))?;
                let [g] = goods.as_slice() else {
                    return Err(format!("goods_sn {id}: expected one goods, got {goods:?}"));
                };
                let title = if i == 0 { "阿莫西林胶囊 0.25g" } else { "布洛芬缓释胶囊" };
                let ok = g.goods_name == title
                    && g.goods_number == i64::from(stock)
                    && g.shop_price == NEW_PRODUCT_PRICE
                    && g.market_price == NEW_PRODUCT_PRICE
                    && g.is_on_sale == i64::from(list && stock > 0)
                    && g.goods_brief.contains("批准文号:国药准字H20003263");
                expect(ok, || format!("goods_sn {id}: expected {title:?} with {stock} in stock, got {g:?}"))?;
            }
            Ok(())
        }),
    });

    // Customers: a company registered under its credit code.
    if let Some(&user) = model.user_ids().iter().find(|u| *u % 2 == 0) {
        let code = format!("C{user:06}");
        let checked = inspector.clone();
        cases.push(PushCase {
            operation: "push-customers".into(),
            input: json!([{"erp_customer_code": code, "name": "深圳市某某医药有限公司", "credit_code": credit_code(user)}]),
            check: Box::new(move || {
                let got = read(checked.customer_mapping(&code))?;
                expect(got.as_ref().is_some_and(|m| m.user_id == user), || format!("{code}: expected user {user}, got {got:?}"))
            }),
        });
    }

    let by_stage = model.by_stage();
    // Shipments: part of a paid order (the first paid one is the logistics case's), with a lot.
    let paid = by_stage.get("paid").cloned().unwrap_or_default();
    let partial = paid.iter().skip(1).find_map(|&i| {
        let order = &model.shop.orders[i];
        let first = order.lines.first()?;
        let same_sku: i64 = order.lines.iter().filter(|l| l.sku == first.sku).map(|l| l.quantity).sum();
        let total: i64 = order.lines.iter().map(|l| l.quantity).sum();
        // Fewer than ordered of the first line's SKU, or all of it when other SKUs remain.
        let quantity = if same_sku < total { same_sku } else { same_sku - 1 };
        (quantity > 0).then_some((i, first.sku, quantity))
    });
    if let Some((i, sku, quantity)) = partial {
        let order_sn = model.states[i].order_sn.clone();
        let sn = model.shop.skus[sku].outer_sku_id.clone();
        let batch_no = format!("LOT-{}", model.shop.orders[i].order_no);
        let checked = inspector.clone();
        cases.push(PushCase {
            operation: "push-shipments".into(),
            input: json!([{"order_id": order_sn, "lines": [
                {"outer_sku_id": sn, "quantity": quantity, "batch_no": batch_no, "produced_on": "2026-03-01", "expires_on": "2028-02-29"},
            ]}]),
            check: Box::new(move || {
                let codes = read(checked.order_codes(&order_sn))?;
                expect(codes.shipping_status == 4, || format!("order {order_sn}: expected partly shipped (4), got {codes:?}"))?;
                let deliveries = read(checked.deliveries_of(&order_sn))?;
                let sent: i64 = deliveries.iter().flat_map(|d| &d.lines).filter(|l| l.sn == sn).map(|l| l.send_number).sum();
                let lots = deliveries.iter().flat_map(|d| &d.lines).all(|l| l.batch_no.as_deref() == Some(batch_no.as_str()));
                expect(deliveries.len() == 1 && sent == quantity && lots, || {
                    format!("order {order_sn}: expected one delivery of {quantity} × {sn} from lot {batch_no}, got {deliveries:?}")
                })
            }),
        });
    }

    // ERP statuses: `signed` completes a shipped order (the simulator's config says so);
    // `picking` only adds a tracking line to another.
    let shipped = by_stage.get("shipped").cloned().unwrap_or_default();
    if let [signed, picking, ..] = shipped[..] {
        let (signed_sn, picking_sn) = (model.states[signed].order_sn.clone(), model.states[picking].order_sn.clone());
        let before = &model.states[picking];
        let kept = (i64::from(before.order_status), i64::from(before.shipping_status), i64::from(before.pay_status));
        let checked = inspector.clone();
        cases.push(PushCase {
            operation: "push-erp-status".into(),
            input: json!([
                {"order_id": signed_sn, "erp_status": "signed", "at": at, "note": "客户已签收"},
                {"order_id": picking_sn, "erp_status": "picking", "at": at, "note": "拣货中"},
            ]),
            check: Box::new(move || {
                let noted = |sn: &str, note: &str| -> Result<(), String> {
                    let actions = read(checked.order_actions(sn))?;
                    expect(actions.iter().any(|a| a.action_note == note && a.action_user == "wharf"), || {
                        format!("order {sn}: expected an action {note:?} by wharf, got {actions:?}")
                    })
                };
                noted(&signed_sn, "signed: 客户已签收")?;
                noted(&picking_sn, "picking: 拣货中")?;
                let codes = read(checked.order_codes(&signed_sn))?;
                expect(codes.shipping_status == 2, || {
                    format!("order {signed_sn}: expected received (2), got {codes:?}")
                })?;
                let codes = read(checked.order_codes(&picking_sn))?;
                let now = (codes.order_status, codes.shipping_status, codes.pay_status);
                expect(now == kept, || format!("order {picking_sn}: a note changed the statuses {kept:?} to {now:?}"))
            }),
        });
    }
    cases
}
