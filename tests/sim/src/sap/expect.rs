//! What the SAP plugin must pull from the simulator, computed from the typed state (not from
//! the wire), as the canonical JSON `wharf plugin call` prints.
//!
//! The contract encoded here: stock is own unrestricted stock (type `01`, no special stock)
//! summed per material (over plants, or in one plant); shipments are goods-issued deliveries
//! of the tenant's sales organisation whose sales orders carry a purchase order number, one
//! detail per delivery and order, batch split main items left out; logistics are those with a
//! tracking number and carrier (`BillOfLading`, `MeansOfTransport`), shipped at goods issue;
//! a window selects deliveries whose `LastChangeDate` (a day in the SAP zone) falls on a day
//! the window touches.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::State;
use super::model::Delivery;
use crate::harness::{rfc3339, strip_nulls};

/// Canonical stock updates without `version` (the plugin stamps its own clock), by material.
pub(crate) fn stock(state: &State, plant: Option<&str>) -> Vec<Value> {
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for row in &state.stock {
        if row.stock_type == "01"
            && row.special_stock.is_empty()
            && plant.is_none_or(|p| p == row.plant)
        {
            *sums.entry(&row.material).or_default() += row.quantity;
        }
    }
    sums.into_iter()
        .map(|(material, thousandths)| {
            let mut v = json!({"outer_sku_id": material, "quantity": thousandths.max(0) / 1000, "warehouse": plant});
            strip_nulls(&mut v);
            v
        })
        .collect()
}

fn day(ms: i64, offset: i32) -> i64 {
    (ms + i64::from(offset) * 60_000).div_euclid(86_400_000)
}

/// A platform order id and the indexes of its items in a delivery.
type OrderItems = (String, Vec<usize>);

/// Deliveries a pull must report, in delivery order, with each order's items.
fn reported<'a>(
    state: &'a State,
    sales_org: &str,
    window: Option<(i64, i64)>,
    offset: i32,
) -> Vec<(&'a Delivery, Vec<OrderItems>)> {
    let mut out = Vec::new();
    let mut deliveries: Vec<&Delivery> = state.deliveries.iter().collect();
    deliveries.sort_by(|a, b| a.delivery.cmp(&b.delivery));
    for d in deliveries {
        if d.goods_issued_ms.is_none() || d.sales_org != sales_org {
            continue;
        }
        if let Some((from, to)) = window {
            let changed = day(d.last_change_ms, offset);
            if changed < day(from, offset) || changed > day(to - 1, offset) {
                continue;
            }
        }
        let mut orders: Vec<OrderItems> = Vec::new();
        for (n, item) in d.items.iter().enumerate() {
            let is_split_main = d.items.iter().any(|i| i.batch_split_of == item.item);
            let po = state
                .sales_orders
                .iter()
                .find(|o| o.sales_order == item.sales_order)
                .map(|o| o.purchase_order.as_str())
                .unwrap_or_default();
            if is_split_main || item.quantity == 0 || po.is_empty() {
                continue;
            }
            match orders.iter_mut().find(|(o, _)| o == po) {
                Some((_, items)) => items.push(n),
                None => orders.push((po.to_owned(), vec![n])),
            }
        }
        if !orders.is_empty() {
            out.push((d, orders));
        }
    }
    out
}

/// Canonical shipment details.
pub(crate) fn shipments(
    state: &State,
    sales_org: &str,
    window: Option<(i64, i64)>,
    offset: i32,
) -> Vec<Value> {
    let mut out = Vec::new();
    for (d, orders) in reported(state, sales_org, window, offset) {
        for (order_id, items) in orders {
            let lines: Vec<Value> = items
                .into_iter()
                .map(|n| {
                    let item = &d.items[n];
                    let batch = state.batches.iter().find(|b| {
                        !item.batch.is_empty()
                            && b.material == item.material
                            && b.batch == item.batch
                    });
                    let mut v = json!({
                        "outer_sku_id": item.material,
                        "quantity": item.quantity / 1000,
                        "batch_no": (!item.batch.is_empty()).then_some(&item.batch),
                        "produced_on": batch.map(|b| &b.produced_on),
                        "expires_on": batch.map(|b| &b.expires_on),
                    });
                    strip_nulls(&mut v);
                    v
                })
                .collect();
            out.push(json!({"order_id": order_id, "lines": lines}));
        }
    }
    out
}

/// Canonical logistics.
pub(crate) fn logistics(
    state: &State,
    sales_org: &str,
    window: Option<(i64, i64)>,
    offset: i32,
) -> Vec<Value> {
    let mut out = Vec::new();
    for (d, orders) in reported(state, sales_org, window, offset) {
        let (Some(shipped), false, false) = (
            d.goods_issued_ms,
            d.bill_of_lading.is_empty(),
            d.means_of_transport.is_empty(),
        ) else {
            continue;
        };
        for (order_id, _) in orders {
            out.push(json!({"order_id": order_id, "carrier_code": d.means_of_transport, "tracking_no": d.bill_of_lading, "shipped_at": rfc3339(shipped)}));
        }
    }
    out
}
