//! What the SAP plugin must pull from the simulator, computed from the typed state (not from
//! the wire), as the canonical JSON `wharf plugin call` prints.
//!
//! Orders are named by their platform order id: a `PurchaseOrderByCustomer` the plugin wrote
//! as `<shop prefix>-<order id>` stands for the order id ([`order_id_of`]).
//!
//! The contract encoded here: stock is own unrestricted stock (type `01`, no special stock)
//! summed per material (over plants, or in one plant); shipments are, per sales order of the
//! tenant's sales organisation that carries a purchase order number and changed in the window
//! (`LastChangeDateTime` in `[from, to)`: the plugin reaches deliveries only through their
//! sales orders), its goods-issued deliveries of that sales organisation, one detail per order
//! and delivery, batch split main items left out; logistics are those with a tracking number
//! and carrier (`BillOfLading`, `MeansOfTransport`), shipped at goods issue. Lots are, per material with batch master data, its batches with own
//! unrestricted stock > 0 (summed over plants and storage locations), with the batch's dates;
//! prices are the valid (today in the SAP zone), undeleted, not customer-specific records of
//! the configured condition types in the tenant's sales area, per material; ERP statuses are
//! one per pushed sales order changed in the window, the strongest its evidence shows.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::State;
use super::model::{Delivery, PRICE_LIST_CONDITION_TYPES, delivery_status, order_id_of};
use crate::harness::{rfc3339, strip_nulls};

/// Canonical stock updates without `version` (the plugin stamps its own clock), by material.
pub(crate) fn stock(state: &State, plant: Option<&str>) -> Vec<Value> {
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for row in &state.stock {
        if row.stock_type == "01" && row.special_stock.is_empty() && plant.is_none_or(|p| p == row.plant) {
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

/// A platform order id and the indexes of its items in a delivery.
type OrderItems = (String, Vec<usize>);

/// Deliveries a pull must report: per sales order of `sales_org` with a purchase order
/// number, changed in `window` (`LastChangeDateTime` in `[from, to)`), in sales order order,
/// its goods-issued deliveries of `sales_org` in delivery order, each with the items that
/// ship that order (batch split main items and empty items left out).
fn reported<'a>(state: &'a State, sales_org: &str, window: Option<(i64, i64)>) -> Vec<(&'a Delivery, OrderItems)> {
    let mut orders: Vec<_> = state
        .sales_orders
        .iter()
        .filter(|o| {
            o.sales_org == sales_org
                && !o.purchase_order.is_empty()
                && window.is_none_or(|(from, to)| (from..to).contains(&o.last_change_ms))
        })
        .collect();
    orders.sort_by(|a, b| a.sales_order.cmp(&b.sales_order));
    let mut deliveries: Vec<&Delivery> = state.deliveries.iter().collect();
    deliveries.sort_by(|a, b| a.delivery.cmp(&b.delivery));
    let mut out = Vec::new();
    for o in orders {
        for d in &deliveries {
            if d.goods_issued_ms.is_none() || d.sales_org != sales_org {
                continue;
            }
            let items: Vec<usize> = d
                .items
                .iter()
                .enumerate()
                .filter(|(_, item)| {
                    let is_split_main = d.items.iter().any(|i| i.batch_split_of == item.item);
                    item.sales_order == o.sales_order && !is_split_main && item.quantity != 0
                })
                .map(|(n, _)| n)
                .collect();
            if !items.is_empty() {
                out.push((*d, (order_id_of(&o.purchase_order).to_owned(), items)));
            }
        }
    }
    out
}

/// Canonical shipment details.
pub(crate) fn shipments(state: &State, sales_org: &str, window: Option<(i64, i64)>) -> Vec<Value> {
    let mut out = Vec::new();
    for (d, (order_id, items)) in reported(state, sales_org, window) {
        {
            let lines: Vec<Value> = items
                .into_iter()
                .map(|n| {
                    let item = &d.items[n];
                    let batch = state
                        .batches
                        .iter()
                        .find(|b| !item.batch.is_empty() && b.material == item.material && b.batch == item.batch);
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
pub(crate) fn logistics(state: &State, sales_org: &str, window: Option<(i64, i64)>) -> Vec<Value> {
    let mut out = Vec::new();
    for (d, (order_id, _)) in reported(state, sales_org, window) {
        let (Some(shipped), false, false) =
            (d.goods_issued_ms, d.bill_of_lading.is_empty(), d.means_of_transport.is_empty())
        else {
            continue;
        };
        out.push(json!({"order_id": order_id, "carrier_code": d.means_of_transport, "tracking_no": d.bill_of_lading, "shipped_at": rfc3339(shipped)}));
    }
    out
}

/// Canonical lot syncs, by material.
pub(crate) fn lots(state: &State, plant: Option<&str>) -> Vec<Value> {
    let mut materials: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for b in &state.batches {
        materials.entry(&b.material).or_default();
    }
    for row in &state.stock {
        if row.stock_type == "01"
            && row.special_stock.is_empty()
            && !row.batch.is_empty()
            && plant.is_none_or(|p| p == row.plant)
            && let Some(batches) = materials.get_mut(row.material.as_str())
        {
            *batches.entry(&row.batch).or_default() += row.quantity;
        }
    }
    materials
        .into_iter()
        .map(|(material, batches)| {
            let lots: Vec<Value> = batches
                .into_iter()
                .filter(|(_, q)| *q >= 1000)
                .map(|(batch, q)| {
                    let master = state.batches.iter().find(|b| b.material == material && b.batch == batch);
                    let mut v = json!({"batch_no": batch, "produced_on": master.map(|b| &b.produced_on),
                                       "expires_on": master.map(|b| &b.expires_on), "quantity": q / 1000});
                    strip_nulls(&mut v);
                    v
                })
                .collect();
            json!({"outer_sku_id": material, "lots": lots})
        })
        .collect()
}

/// Canonical price updates, by material.
pub(crate) fn prices(
    state: &State,
    sales_org: &str,
    distribution_channel: &str,
    now_ms: i64,
    offset: i32,
) -> Vec<Value> {
    let today = chrono::DateTime::from_timestamp_millis(now_ms + i64::from(offset) * 60_000)
        .map(|t| t.date_naive().to_string())
        .unwrap_or_default();
    let mut records: Vec<_> = state
        .prices
        .iter()
        .filter(|p| {
            PRICE_LIST_CONDITION_TYPES.contains(&p.condition_type.as_str())
                && p.sales_org == sales_org
                && p.distribution_channel == distribution_channel
                && p.customer.is_empty()
                && !p.material.is_empty()
                && !p.deleted
                && p.valid_from <= today
                && p.valid_to >= today
        })
        .collect();
    records.sort_by(|a, b| (&a.material, &a.record).cmp(&(&b.material, &b.record)));
    let mut out: Vec<Value> = Vec::new();
    for p in records {
        let mut price = match p.condition_type.as_str() {
            "PR00" => json!({"kind": "default"}),
            "ZSRP" => json!({"kind": "suggested_retail"}),
            "ZRGP" => json!({"kind": "region_group", "group_id": p.region}),
            _ => json!({"kind": "customer_group", "group_id": p.customer_price_group}),
        };
        price["amount"] = json!(p.rate * 1000 / p.per);
        match out.last_mut() {
            Some(last) if last["outer_sku_id"] == p.material.as_str() => {
                if let Some(list) = last["prices"].as_array_mut() {
                    list.push(price);
                }
            }
            _ => out.push(json!({"outer_sku_id": p.material, "currency": p.currency, "prices": [price]})),
        }
    }
    out
}

/// Canonical ERP statuses, by sales order.
pub(crate) fn erp_statuses(state: &State, sales_org: &str, window: Option<(i64, i64)>) -> Vec<Value> {
    let mut orders: Vec<_> = state
        .sales_orders
        .iter()
        .filter(|o| {
            o.sales_org == sales_org
                && !o.purchase_order.is_empty()
                && window.is_none_or(|(from, to)| (from..to).contains(&o.last_change_ms))
        })
        .collect();
    orders.sort_by(|a, b| a.sales_order.cmp(&b.sales_order));
    orders
        .into_iter()
        .map(|o| {
            let label = format!("sales order {}", o.sales_order);
            let mut deliveries: Vec<&Delivery> = state
                .deliveries
                .iter()
                .filter(|d| d.items.iter().any(|i| i.sales_order == o.sales_order))
                .collect();
            deliveries.sort_by(|a, b| a.delivery.cmp(&b.delivery));
            let on_delivery = |test: &dyn Fn(&Delivery) -> bool, what: &str| {
                deliveries
                    .iter()
                    .find(|d| test(d))
                    .map(|d| format!("delivery {}: {what}", d.delivery))
            };
            let total = delivery_status(o, &state.deliveries);
            let short = o.items.iter().find(|i| i.confirmed < i.quantity);
            let (status, note) = if o.rejected {
                ("cancelled", format!("{label}: OverallSDDocumentRejectionSts C"))
            } else if let Some(n) = on_delivery(&|d| d.pod == "C", "OverallProofOfDeliveryStatus C") {
                ("signed", n)
            } else if let Some(n) = on_delivery(&|d| d.goods_issued_ms.is_some(), "OverallGoodsMovementStatus C") {
                ("shipped", n)
            } else if let Some(n) = on_delivery(&|d| d.packing == "C", "OverallPackingStatus C") {
                ("packed", n)
            } else if let Some(d) = deliveries.first() {
                let picking = ["C", "B", "A"].into_iter().find(|p| deliveries.iter().any(|d| d.picking == *p));
                let d = picking.and_then(|p| deliveries.iter().find(|d| d.picking == p)).unwrap_or(d);
                ("picking", format!("delivery {}: OverallPickingStatus {}", d.delivery, d.picking))
            } else if total != "A" {
                ("picking", format!("{label}: OverallTotalDeliveryStatus {total}"))
            } else if let Some(item) = short {
                ("out_of_stock", format!("{label} item {}: ConfdDelivQtyInOrderQtyUnit less than requested", item.item))
            } else {
                ("accepted", format!("{label}: created"))
            };
            json!({"order_id": order_id_of(&o.purchase_order), "erp_status": status, "at": rfc3339(o.last_change_ms), "note": note})
        })
        .collect()
}
